//! `wallet_requestAccount` and `wallet_listAccounts`.

use keyward_api::wallet::{
    AccountSummary, AccountType, CounterfactualInfo, CreationHint, FactoryType, ListAccountsMeta, ListAccountsParams,
    ListAccountsResult, RequestAccountParams, RequestAccountResult, UuidV4,
};
use keyward_wallet::types::{AccountInfo, AccountPage, AccountRequest, AccountSetup, ListAccounts, NewAccount};
use keyward_wallet::{WalletError, WalletResult};
use uuid::Uuid;

/// The account a request asks for; refuses the creation hints this server cannot follow.
pub(in crate::wallet) fn request(p: RequestAccountParams) -> WalletResult<AccountRequest> {
    Ok(match p {
        RequestAccountParams::ByAccount { account_address, include_counterfactual_info } => AccountRequest::ByAddress {
            address: account_address,
            counterfactual_info: include_counterfactual_info == Some(true),
        },
        RequestAccountParams::BySigner { signer_address, id, creation_hint, include_counterfactual_info } => {
            AccountRequest::BySigner {
                signer: signer_address,
                id: id.map(|id| uuid(&id)).transpose()?,
                new_account: new_account(&creation_hint.unwrap_or_default())?,
                counterfactual_info: include_counterfactual_info == Some(true),
            }
        }
    })
}

fn uuid(id: &UuidV4) -> WalletResult<Uuid> {
    Uuid::parse_str(id.as_str()).map_err(|e| WalletError::params(format!("id: {e}")))
}

/// What a creation hint asks to create: a semi-modular account or the signer's 7702 account.
fn new_account(hint: &CreationHint) -> WalletResult<NewAccount> {
    let eip7702 = match hint.account_type {
        None | Some(AccountType::SmaB) => false,
        Some(AccountType::Eip7702) => true,
        Some(other) => {
            let name = serde_json::to_value(other).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
            return Err(WalletError::params(format!(
                "creationHint.accountType {name:?} is not supported: this server creates \"sma-b\" and \"7702\" accounts"
            )));
        }
    };
    if hint.initial_owners.is_some() {
        return Err(WalletError::params("creationHint.initialOwners: multi-owner accounts are not supported"));
    }
    if !eip7702 {
        return Ok(NewAccount::Sma { salt: hint.salt.map(|s| s.0), additional: hint.create_additional.is_some() });
    }
    if hint.salt.is_some() || hint.create_additional.is_some() {
        return Err(WalletError::params("a 7702 account is the signer itself: salt and createAdditional do not apply"));
    }
    Ok(NewAccount::Eip7702)
}

/// An account id as the wire's UUID v4 (a stored id that is not one is corrupt).
fn wire_uuid(id: &Uuid) -> WalletResult<UuidV4> {
    id.hyphenated().to_string().parse().map_err(|e| WalletError::Internal(format!("stored account id: {e}")))
}

/// The `wallet_requestAccount` answer.
pub(in crate::wallet) fn info(a: AccountInfo) -> WalletResult<RequestAccountResult> {
    let id = wire_uuid(&a.id)?;
    Ok(match a.setup {
        AccountSetup::Sma { counterfactual } => RequestAccountResult {
            account_address: a.address,
            id,
            counterfactual_info: counterfactual.map(|f| CounterfactualInfo {
                factory_type: FactoryType::MaV2SmaB,
                factory_address: f.factory,
                factory_data: f.factory_data,
            }),
            delegation: None,
        },
        AccountSetup::Eip7702 { delegation } => RequestAccountResult {
            account_address: a.address,
            id,
            counterfactual_info: None,
            delegation: Some(delegation),
        },
    })
}

/// The page a `wallet_listAccounts` asks for.
pub(in crate::wallet) fn list(p: ListAccountsParams) -> ListAccounts {
    ListAccounts { signer: p.signer_address, limit: p.limit, after: p.after.map(|c| c.as_str().to_string()) }
}

/// The `wallet_listAccounts` answer.
pub(in crate::wallet) fn page(p: AccountPage) -> WalletResult<ListAccountsResult> {
    Ok(ListAccountsResult {
        accounts: p
            .accounts
            .iter()
            .map(|(address, id)| Ok(AccountSummary { account_address: *address, id: wire_uuid(id)? }))
            .collect::<WalletResult<_>>()?,
        meta: ListAccountsMeta {
            total_count: p.total,
            after: p.next.map(|c| c.parse()).transpose().map_err(|e| WalletError::Internal(format!("cursor: {e}")))?,
        },
    })
}
