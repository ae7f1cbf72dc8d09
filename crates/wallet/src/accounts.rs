//! `wallet_requestAccount` and `wallet_listAccounts`: counterfactual semi-modular accounts per
//! signer (stable UUID v4 ids, salts, `createAdditional`), 7702 accounts, paging.

use alloy::primitives::{Address, U256};
use alloy::rpc::types::TransactionRequest;
use alloy::sol_types::SolCall;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keyward_api::wallet::{
    AccountSummary, AccountType, CounterfactualInfo, CreationHint, FactoryType, ListAccountsMeta, ListAccountsParams,
    ListAccountsResult, RequestAccountParams, RequestAccountResult, UuidV4,
};
use keyward_primitives::mav2::abi::IAccountFactory;
use keyward_primitives::mav2::factory::SemiModularAccountInit;
use keyward_primitives::unix_now;
use keyward_store::wallet::{AccountKind, AccountRecord};

use crate::error::{WalletError, WalletResult};
use crate::service::Wallet;

/// Default page size of `wallet_listAccounts`.
const DEFAULT_PAGE: u32 = 100;

/// A fresh random UUID v4.
pub(crate) fn new_uuid() -> UuidV4 {
    UuidV4::from_random_bytes(uuid::Uuid::new_v4().into_bytes())
}

/// A stored account id as the wire's UUID v4 (a row that is not one is corrupt).
fn stored_uuid(id: &str) -> WalletResult<UuidV4> {
    id.parse().map_err(|e| WalletError::Internal(format!("stored account id: {e}")))
}

/// `base64url("created_at:id")`: where the next page starts.
fn encode_cursor(rec: &AccountRecord) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}:{}", rec.created_at, rec.id))
}

fn decode_cursor(cursor: &str) -> WalletResult<(u64, String)> {
    let bad = || WalletError::params(format!("after: {cursor:?} is not a cursor this server issued"));
    let raw = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let (ts, id) = text.split_once(':').ok_or_else(bad)?;
    Ok((ts.parse().map_err(|_| bad())?, id.to_string()))
}

impl Wallet {
    /// The counterfactual address of the semi-modular account of (`owner`, `salt`), from the factory.
    pub async fn sma_address(&self, owner: Address, salt: U256) -> WalletResult<Address> {
        let call = IAccountFactory::getAddressSemiModularCall { owner, salt };
        let tx = TransactionRequest::default().to(self.config.deployment.factory).input(call.abi_encode().into());
        let out = self.chain.call(tx, None).await?;
        IAccountFactory::getAddressSemiModularCall::abi_decode_returns(&out)
            .map_err(|e| WalletError::Internal(format!("decoding getAddressSemiModular: {e}")))
    }

    /// The factory call that deploys the account of (`owner`, `salt`).
    pub(crate) fn sma_init(&self, owner: Address, salt: U256) -> SemiModularAccountInit {
        SemiModularAccountInit { factory: self.config.deployment.factory, owner, salt }
    }

    /// The answer for `rec`; `counterfactualInfo` only when asked for (`includeCounterfactualInfo`).
    fn answer(&self, rec: &AccountRecord, with_info: bool) -> WalletResult<RequestAccountResult> {
        let id = stored_uuid(&rec.id)?;
        Ok(match rec.kind {
            AccountKind::SmaB => {
                let init = self.sma_init(rec.signer, rec.salt);
                RequestAccountResult {
                    account_address: rec.address,
                    id,
                    counterfactual_info: with_info.then(|| CounterfactualInfo {
                        factory_type: FactoryType::MaV2SmaB,
                        factory_address: init.factory,
                        factory_data: init.factory_data(),
                    }),
                    delegation: None,
                }
            }
            AccountKind::Eip7702 => RequestAccountResult {
                account_address: rec.address,
                id,
                counterfactual_info: None,
                delegation: Some(self.config.deployment.sma_7702_impl),
            },
        })
    }

    /// `wallet_requestAccount`.
    pub async fn request_account(&self, params: RequestAccountParams) -> WalletResult<RequestAccountResult> {
        match params {
            RequestAccountParams::ByAccount { account_address, include_counterfactual_info } => {
                let rec = self.store.account_by_address(account_address).await?.ok_or_else(|| {
                    WalletError::params(format!("account {account_address} is not known to this server"))
                })?;
                self.answer(&rec, include_counterfactual_info == Some(true))
            }
            RequestAccountParams::BySigner { signer_address, id, creation_hint, include_counterfactual_info } => {
                let hint = creation_hint.unwrap_or_default();
                let rec = self.account_for_signer(signer_address, id, &hint).await?;
                self.answer(&rec, include_counterfactual_info == Some(true))
            }
        }
    }

    async fn account_for_signer(
        &self,
        signer: Address,
        id: Option<UuidV4>,
        hint: &CreationHint,
    ) -> WalletResult<AccountRecord> {
        if signer == Address::ZERO {
            return Err(WalletError::params("signerAddress must not be the zero address"));
        }
        let kind = match hint.account_type {
            None | Some(AccountType::SmaB) => AccountKind::SmaB,
            Some(AccountType::Eip7702) => AccountKind::Eip7702,
            Some(other) => {
                let name =
                    serde_json::to_value(other).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
                return Err(WalletError::params(format!(
                    "creationHint.accountType {name:?} is not supported: this server creates \"sma-b\" and \"7702\" accounts"
                )));
            }
        };
        if hint.initial_owners.is_some() {
            return Err(WalletError::params("creationHint.initialOwners: multi-owner accounts are not supported"));
        }
        if kind == AccountKind::Eip7702 && (hint.salt.is_some() || hint.create_additional.is_some()) {
            return Err(WalletError::params(
                "a 7702 account is the signer itself: salt and createAdditional do not apply",
            ));
        }
        // An existing id wins (the creation hint is ignored for existing accounts).
        if let Some(id) = &id
            && let Some(rec) = self.store.account_by_id(&id.key()).await?
        {
            if rec.signer != signer {
                return Err(WalletError::params(format!("account id {id} belongs to another signer")));
            }
            return Ok(rec);
        }
        let salt = match (kind, hint.salt, hint.create_additional.is_some(), id.is_some()) {
            (AccountKind::Eip7702, ..) => U256::ZERO,
            (_, Some(salt), ..) => salt.0,
            // A new id or createAdditional: a new account at the first unused salt.
            (_, None, true, _) | (_, None, _, true) => self.next_free_salt(signer).await?,
            // Otherwise the signer's first account (salt 0 if it has none).
            (_, None, false, false) => {
                let existing = self.store.accounts_of_signer(signer, None, 1).await?;
                if let Some(rec) = existing.into_iter().find(|r| r.kind == AccountKind::SmaB) {
                    return Ok(rec);
                }
                U256::ZERO
            }
        };
        let address = match kind {
            AccountKind::SmaB => self.sma_address(signer, salt).await?,
            AccountKind::Eip7702 => signer,
        };
        let rec = AccountRecord {
            id: id.unwrap_or_else(new_uuid).key(),
            signer,
            address,
            salt,
            kind,
            created_at: unix_now(),
        };
        let stored = self.store.insert_account(&rec).await?;
        if stored.signer != signer {
            return Err(WalletError::params(format!("account {address} belongs to another signer")));
        }
        Ok(stored)
    }

    /// The lowest salt none of the signer's accounts uses.
    async fn next_free_salt(&self, signer: Address) -> WalletResult<U256> {
        let mut used = Vec::new();
        let mut after: Option<(u64, String)> = None;
        loop {
            let page =
                self.store.accounts_of_signer(signer, after.as_ref().map(|(t, i)| (*t, i.as_str())), 500).await?;
            let Some(last) = page.last() else { break };
            after = Some((last.created_at, last.id.clone()));
            used.extend(page.iter().filter(|r| r.kind == AccountKind::SmaB).map(|r| r.salt));
        }
        let mut salt = U256::ZERO;
        while used.contains(&salt) {
            salt += U256::from(1);
        }
        Ok(salt)
    }

    /// `wallet_listAccounts`.
    pub async fn list_accounts(&self, params: ListAccountsParams) -> WalletResult<ListAccountsResult> {
        let limit = params.limit.unwrap_or(DEFAULT_PAGE);
        let after = params.after.as_ref().map(|c| decode_cursor(c.as_str())).transpose()?;
        let page = self
            .store
            .accounts_of_signer(params.signer_address, after.as_ref().map(|(t, i)| (*t, i.as_str())), limit + 1)
            .await?;
        let total = self.store.count_accounts_of_signer(params.signer_address).await?;
        let more = page.len() > limit as usize;
        let shown = &page[..page.len().min(limit as usize)];
        let next = if more { shown.last().map(encode_cursor) } else { None };
        Ok(ListAccountsResult {
            accounts: shown
                .iter()
                .map(|r| Ok(AccountSummary { account_address: r.address, id: stored_uuid(&r.id)? }))
                .collect::<WalletResult<_>>()?,
            meta: ListAccountsMeta {
                total_count: total,
                after: next
                    .map(|c| c.parse())
                    .transpose()
                    .map_err(|e| WalletError::Internal(format!("cursor: {e}")))?,
            },
        })
    }
}
