//! The wallet service for one chain: its parts and the lookups every method shares (chain check,
//! account resolution, nonces, fees).

use std::sync::Arc;

use alloy::primitives::aliases::U192;
use alloy::primitives::{Address, Bytes, U256};
use alloy::rpc::types::TransactionRequest;
use alloy::sol_types::SolCall;
use keyward_bundler::pool::{NextSequence, OperationPool};
use keyward_chain::Chain;
use keyward_contracts::Deployment;
use keyward_primitives::entry_point::IEntryPoint;
use keyward_store::Store;
use keyward_store::wallet::{AccountKind, AccountRecord};

use crate::config::WalletConfig;
use crate::error::{WalletError, WalletResult};

/// An account `from` resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolvedAccount {
    /// A semi-modular account handed out by `wallet_requestAccount`.
    Sma {
        /// The account.
        address: Address,
        /// Its owner.
        owner: Address,
        /// The factory salt.
        salt: U256,
    },
    /// An EOA that is (or will be) delegated to the 7702 implementation; it owns itself.
    Eip7702 {
        /// The EOA.
        address: Address,
    },
}

impl ResolvedAccount {
    /// The account address.
    pub fn address(&self) -> Address {
        match self {
            Self::Sma { address, .. } | Self::Eip7702 { address } => *address,
        }
    }

    /// The key that signs as the owner.
    pub fn owner(&self) -> Address {
        match self {
            Self::Sma { owner, .. } => *owner,
            Self::Eip7702 { address } => *address,
        }
    }
}

/// The Wallet API service of one chain: accounts, sessions, prepare / send / status, signing.
pub struct Wallet {
    pub(crate) chain: Arc<dyn Chain>,
    pub(crate) chain_id: u64,
    pub(crate) store: Store,
    pub(crate) pool: Arc<dyn OperationPool>,
    pub(crate) config: WalletConfig,
    pub(crate) calls: crate::calls::CallCache,
    pub(crate) grants: crate::sessions::GrantCache,
    /// Stored accounts by address (a stored account row never changes).
    pub(crate) accounts: crate::memo::Memo<Address, ResolvedAccount>,
    /// Stored sessions by id, once their first operation is recorded (a session row then never
    /// changes; see [`Wallet::session`]).
    pub(crate) sessions: crate::memo::Memo<[u8; 16], keyward_store::wallet::SessionRecord>,
    /// Operations this process prepared, by userOpHash, until their call is recorded (the send
    /// reads its prepared row from here; another replica's prepare from the store).
    pub(crate) prepared: crate::memo::Memo<alloy::primitives::B256, keyward_store::wallet::PreparedRecord>,
}

impl std::fmt::Debug for Wallet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wallet").field("chain_id", &self.chain_id).finish()
    }
}

impl Wallet {
    /// A wallet on `chain`, keeping its records in `store`, submitting operations to `pool`.
    pub async fn new(
        chain: Arc<dyn Chain>,
        store: Store,
        pool: Arc<dyn OperationPool>,
        config: WalletConfig,
    ) -> WalletResult<Arc<Self>> {
        let chain_id = chain.chain_id().await?;
        if config.deployment.entry_point != pool.entry_point() {
            return Err(WalletError::Internal(format!(
                "the wallet's EntryPoint {} is not the bundler's {}",
                config.deployment.entry_point,
                pool.entry_point()
            )));
        }
        Ok(Arc::new(Self {
            store,
            chain,
            chain_id,
            pool,
            config,
            calls: crate::memo::Memo::new(crate::calls::CACHED_CALLS),
            grants: crate::memo::Memo::new(crate::sessions::REMEMBERED_GRANTS),
            accounts: crate::memo::Memo::new(REMEMBERED_ACCOUNTS),
            sessions: crate::memo::Memo::new(crate::sessions::REMEMBERED_SESSIONS),
            prepared: crate::memo::Memo::new(REMEMBERED_PREPARED),
        }))
    }

    /// Refuses an EIP-7702 delegation on a chain whose account stack has no 7702 implementation
    /// deployed (Alchemy's MAv2 stack on a chain without `SemiModularAccount7702`).
    pub(crate) async fn require_7702_implementation(&self) -> WalletResult<()> {
        let implementation = self.config.deployment.sma_7702_impl;
        if self.chain.code(implementation).await?.is_empty() {
            return Err(WalletError::Rejected(format!(
                "chain {} has no EIP-7702 account implementation (no code at {implementation}): an EOA cannot be \
                 delegated here; use a smart account (wallet_requestAccount with a signerAddress)",
                self.chain_id
            )));
        }
        Ok(())
    }

    /// The chain id served.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The store (accounts, sessions, prepared and sent calls).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The account stack's addresses.
    pub fn deployment(&self) -> &Deployment {
        &self.config.deployment
    }

    /// Refuses a chain id other than the one served (5710).
    pub(crate) fn check_chain(&self, requested: u64) -> WalletResult<()> {
        if requested != self.chain_id {
            return Err(WalletError::UnsupportedChain { requested, served: vec![self.chain_id] });
        }
        Ok(())
    }

    /// `EntryPoint.getNonce(sender, key)`: the next full nonce of a 192-bit key.
    pub(crate) async fn ep_nonce(&self, sender: Address, key: U256) -> WalletResult<U256> {
        let call = IEntryPoint::getNonceCall { sender, key: U192::from(key) };
        let tx = TransactionRequest::default().to(self.config.deployment.entry_point).input(call.abi_encode().into());
        let out = self.chain.call(tx, None).await?;
        IEntryPoint::getNonceCall::abi_decode_returns(&out)
            .map_err(|e| WalletError::Internal(format!("decoding getNonce: {e}")))
    }

    /// The sequence the next operation of (`sender`, `key`) gets: after the onchain one and after
    /// every operation of that key still waiting in the pool.
    pub(crate) async fn next_sequence(&self, sender: Address, key: U256) -> WalletResult<NextSequence> {
        self.pool.next_sequence(sender, key).await.map_err(WalletError::from)
    }

    /// `eth_call` of `call` on `to`, decoded; `None` when the call reverts or returns nothing usable.
    pub(crate) async fn read<C: SolCall>(&self, to: Address, call: C) -> WalletResult<Option<C::Return>> {
        let tx = TransactionRequest::default().to(to).input(call.abi_encode().into());
        match self.chain.call(tx, None).await {
            Ok(out) => Ok(C::abi_decode_returns(&out).ok()),
            Err(keyward_chain::ChainError::Reverted { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Code of `address`.
    pub(crate) async fn code(&self, address: Address) -> WalletResult<Bytes> {
        Ok(self.chain.code(address).await?)
    }

    /// The 7702 delegate of `address`, if its code is a delegation designator.
    pub(crate) async fn delegate_of(&self, address: Address) -> WalletResult<Option<Address>> {
        let code = self.code(address).await?;
        Ok(keyward_primitives::eip7702::delegate_of(&code))
    }

    /// What `from` is: an account this server handed out, or else an EOA acting as its own 7702
    /// account. A contract that is neither is refused.
    pub(crate) async fn resolve_account(&self, from: Address) -> WalletResult<ResolvedAccount> {
        if let Some(account) = self.accounts.get(&from) {
            return Ok(account);
        }
        if let Some(rec) = self.store.account_by_address(from).await? {
            let account = account_of(&rec);
            self.accounts.put(from, account.clone());
            return Ok(account);
        }
        let code = self.code(from).await?;
        if !code.is_empty() && !keyward_primitives::eip7702::is_designator(&code) {
            return Err(WalletError::params(format!(
                "account {from} is a contract this server did not create (request it with wallet_requestAccount)"
            )));
        }
        Ok(ResolvedAccount::Eip7702 { address: from })
    }
}

/// Stored accounts kept in memory by address.
const REMEMBERED_ACCOUNTS: std::num::NonZeroUsize = std::num::NonZeroUsize::new(4096).unwrap();

/// Prepared operations remembered until sent (more than the calls in flight at once).
const REMEMBERED_PREPARED: std::num::NonZeroUsize = std::num::NonZeroUsize::new(8192).unwrap();

/// The resolved form of a stored account.
pub(crate) fn account_of(rec: &AccountRecord) -> ResolvedAccount {
    match rec.kind {
        AccountKind::SmaB => ResolvedAccount::Sma { address: rec.address, owner: rec.signer, salt: rec.salt },
        AccountKind::Eip7702 => ResolvedAccount::Eip7702 { address: rec.address },
    }
}
