//! `wallet_requestAccount` and `wallet_listAccounts`: counterfactual semi-modular accounts per
//! signer (stable UUID v4 ids, salts, `createAdditional`), 7702 accounts, paging.

use alloy::primitives::{Address, U256};
use alloy::rpc::types::TransactionRequest;
use alloy::sol_types::SolCall;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keyward_primitives::FactoryInit;
use keyward_primitives::mav2::abi::IAccountFactory;
use keyward_primitives::mav2::factory::SemiModularAccountInit;
use keyward_primitives::unix_now;
use keyward_store::wallet::{AccountKind, AccountRecord};
use uuid::Uuid;

use crate::error::{WalletError, WalletResult};
use crate::service::Wallet;
use crate::types::{AccountInfo, AccountPage, AccountRequest, AccountSetup, ListAccounts, NewAccount};

/// Default page size of `wallet_listAccounts`.
const DEFAULT_PAGE: u32 = 100;

/// A stored account id as a UUID (a row that is not one is corrupt).
fn stored_uuid(id: &str) -> WalletResult<Uuid> {
    Uuid::parse_str(id).map_err(|e| WalletError::Internal(format!("stored account id: {e}")))
}

/// The stored form of an account id: its lowercase hyphenated text.
fn id_key(id: &Uuid) -> String {
    id.hyphenated().to_string()
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

    /// The answer for `rec`; the factory call only when asked for (`counterfactual_info`).
    fn answer(&self, rec: &AccountRecord, counterfactual_info: bool) -> WalletResult<AccountInfo> {
        let id = stored_uuid(&rec.id)?;
        let setup = match rec.kind {
            AccountKind::SmaB => AccountSetup::Sma {
                counterfactual: counterfactual_info.then(|| {
                    let init = self.sma_init(rec.signer, rec.salt);
                    FactoryInit { factory: init.factory, factory_data: init.factory_data() }
                }),
            },
            AccountKind::Eip7702 => AccountSetup::Eip7702 { delegation: self.config.deployment.sma_7702_impl },
        };
        Ok(AccountInfo { address: rec.address, id, setup })
    }

    /// `wallet_requestAccount`.
    pub async fn request_account(&self, request: AccountRequest) -> WalletResult<AccountInfo> {
        match request {
            AccountRequest::ByAddress { address, counterfactual_info } => {
                let rec = self
                    .store
                    .account_by_address(address)
                    .await?
                    .ok_or_else(|| WalletError::params(format!("account {address} is not known to this server")))?;
                self.answer(&rec, counterfactual_info)
            }
            AccountRequest::BySigner { signer, id, new_account, counterfactual_info } => {
                let rec = self.account_for_signer(signer, id, new_account).await?;
                self.answer(&rec, counterfactual_info)
            }
        }
    }

    async fn account_for_signer(
        &self,
        signer: Address,
        id: Option<Uuid>,
        new_account: NewAccount,
    ) -> WalletResult<AccountRecord> {
        if signer == Address::ZERO {
            return Err(WalletError::params("signerAddress must not be the zero address"));
        }
        let (kind, hint_salt, additional) = match new_account {
            NewAccount::Sma { salt, additional } => (AccountKind::SmaB, salt, additional),
            NewAccount::Eip7702 => (AccountKind::Eip7702, None, false),
        };
        // An existing id wins (the creation hint is ignored for existing accounts).
        if let Some(id) = &id
            && let Some(rec) = self.store.account_by_id(&id_key(id)).await?
        {
            if rec.signer != signer {
                return Err(WalletError::params(format!("account id {id} belongs to another signer")));
            }
            return Ok(rec);
        }
        let salt = match (kind, hint_salt, additional, id.is_some()) {
            (AccountKind::Eip7702, ..) => U256::ZERO,
            (_, Some(salt), ..) => salt,
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
            id: id_key(&id.unwrap_or_else(Uuid::new_v4)),
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
    pub async fn list_accounts(&self, request: ListAccounts) -> WalletResult<AccountPage> {
        let limit = request.limit.unwrap_or(DEFAULT_PAGE);
        let after = request.after.as_deref().map(decode_cursor).transpose()?;
        let page = self
            .store
            .accounts_of_signer(request.signer, after.as_ref().map(|(t, i)| (*t, i.as_str())), limit + 1)
            .await?;
        let total = self.store.count_accounts_of_signer(request.signer).await?;
        let more = page.len() > limit as usize;
        let shown = &page[..page.len().min(limit as usize)];
        Ok(AccountPage {
            accounts: shown.iter().map(|r| Ok((r.address, stored_uuid(&r.id)?))).collect::<WalletResult<_>>()?,
            total,
            next: if more { shown.last().map(encode_cursor) } else { None },
        })
    }
}
