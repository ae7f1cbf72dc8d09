//! `wallet_prepareCalls` and `wallet_sendPreparedCalls` as domain values.

use alloy::eips::eip7702::Authorization;
use alloy::primitives::{Address, B256, Bytes, Signature, U256};
use keyward_primitives::UserOperation;

use super::CallId;

/// One call, as the client gave it (an absent `data` is empty, an absent `value` is 0; both are
/// kept absent so the call is answered back as it came).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// Target.
    pub to: Address,
    /// Calldata.
    pub data: Option<Bytes>,
    /// Value in wei.
    pub value: Option<U256>,
}

impl Call {
    /// The calldata (empty when absent).
    pub fn data(&self) -> Bytes {
        self.data.clone().unwrap_or_default()
    }

    /// The value (0 when absent).
    pub fn value(&self) -> U256 {
        self.value.unwrap_or_default()
    }
}

/// Who pays for an operation's gas.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum GasPayment {
    /// The account itself.
    #[default]
    Account,
    /// Nobody: the prepare only estimates (nothing is sponsored, leased or remembered, and no
    /// signature is requested).
    EstimateOnly,
    /// A gas policy of the configured sponsor.
    Sponsored {
        /// The policy (a UUID v4).
        policy_id: String,
    },
}

/// One gas value override: an absolute value or a multiplier of the estimate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GasOverride {
    /// This value.
    Absolute(U256),
    /// The estimate times this factor.
    Multiplier(f64),
}

/// Overrides of the estimated gas values and fees.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct GasOverrides {
    /// `preVerificationGas`.
    pub pre_verification_gas: Option<GasOverride>,
    /// `verificationGasLimit`.
    pub verification_gas_limit: Option<GasOverride>,
    /// `callGasLimit`.
    pub call_gas_limit: Option<GasOverride>,
    /// `paymasterVerificationGasLimit`.
    pub paymaster_verification_gas_limit: Option<GasOverride>,
    /// `paymasterPostOpGasLimit`.
    pub paymaster_post_op_gas_limit: Option<GasOverride>,
    /// `maxFeePerGas`.
    pub max_fee_per_gas: Option<GasOverride>,
    /// `maxPriorityFeePerGas`.
    pub max_priority_fee_per_gas: Option<GasOverride>,
}

/// An explicit request to delegate an EOA (EIP-7702).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DelegationRequest {
    /// The EOA named (it must be `from`).
    pub account: Option<Address>,
    /// Whether it asks to undelegate (delegate to the zero address).
    pub undelegate: bool,
}

/// Calls to prepare as one user operation.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PrepareCalls {
    /// The executing account (an EOA acts as its own 7702 account).
    pub from: Address,
    /// The chain asked for.
    pub chain_id: u64,
    /// The calls (none: the op only deploys or delegates the account).
    pub calls: Vec<Call>,
    /// The permissions context of the session key that acts, if one does.
    pub permissions_context: Option<Bytes>,
    /// Who pays for gas.
    pub gas_payment: GasPayment,
    /// Overrides of the estimate.
    pub gas_overrides: Option<GasOverrides>,
    /// An explicit delegation request.
    pub delegation: Option<DelegationRequest>,
    /// The nonce key to use as given.
    pub nonce_key: Option<U256>,
}

/// A prepared user operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedOp {
    /// The operation, unsigned.
    pub op: UserOperation,
    /// Its userOpHash.
    pub hash: B256,
    /// Whether a signature is requested (not for an estimate).
    pub needs_signature: bool,
    /// How the signer signs the userOpHash.
    pub scheme: SignatureScheme,
}

/// How a user operation's signer signs its userOpHash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureScheme {
    /// A secp256k1 key: `personal_sign` (EIP-191) of the hash's 32 raw bytes.
    Secp256k1,
    /// A P-256 session key (passkey): ECDSA with SHA-256 of the hash's 32 bytes, as WebCrypto signs.
    P256,
}

/// A user operation's signature as the client sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserOpSignature {
    /// secp256k1 ECDSA over the EIP-191 digest of the userOpHash.
    Secp256k1(Signature),
    /// P-256 ECDSA(SHA-256) of the userOpHash: `r ‖ s` (64 bytes) or DER, as sent (not yet checked).
    P256(Bytes),
}

/// What the signer signs: a user operation, or an EIP-7702 authorization and the operation that
/// it delegates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreparedCalls {
    /// One user operation.
    UserOperation(PreparedOp),
    /// The authorization that delegates the EOA, and the operation that carries it.
    Delegation {
        /// The unsigned authorization.
        authorization: Authorization,
        /// The operation.
        op: PreparedOp,
    },
}

impl PreparedCalls {
    /// The user operation.
    pub fn op(&self) -> &PreparedOp {
        match self {
            Self::UserOperation(op) | Self::Delegation { op, .. } => op,
        }
    }
}

/// The answer to a prepare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// The chain served.
    pub chain_id: u64,
    /// What to sign.
    pub prepared: PreparedCalls,
    /// The calls the operation makes.
    pub calls: Vec<Call>,
}

/// A signed EIP-7702 authorization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedDelegation {
    /// Its chain.
    pub chain_id: u64,
    /// The delegation target.
    pub address: Address,
    /// The EOA's transaction nonce.
    pub nonce: u64,
    /// The EOA's signature.
    pub signature: Signature,
}

/// A prepared operation, signed, to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendPrepared {
    /// The operation's chain.
    pub chain_id: u64,
    /// The operation as prepared (no signature).
    pub op: UserOperation,
    /// The signer's signature over the userOpHash.
    pub signature: UserOpSignature,
    /// The signed authorization, for an operation that delegates the EOA.
    pub authorization: Option<SignedDelegation>,
    /// Whether the client says the operation is sponsored.
    pub sponsored: bool,
}

/// The answer to a send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The call id.
    pub id: CallId,
    /// The calls the operation makes.
    pub calls: Vec<Call>,
}
