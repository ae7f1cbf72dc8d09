//! `wallet_prepareCalls` and `wallet_sendPreparedCalls` (wallet-api.md §3.4, §3.5, §4): calls, user
//! operations as the API shows them, prepared variants, and their signed forms.

use alloy::eips::eip7702::Authorization;
use alloy::primitives::{Address, B256, Bytes, U256};
use keyward_primitives::{FactoryInit, PaymasterInit, UserOperation};
use serde::{Deserialize, Serialize};

use super::capabilities::{PrepareCallsCapabilities, SendCallsCapabilities};
use super::hex::{HexBigInt, HexNumber, strict, strict_opt, strict_vec, with_field_path};
use super::signature::{SigEnvelope, SignatureRequest};
use super::typed_data::TypedData;

/// One call: `{ to, data?, value? }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Call {
    /// Target.
    #[serde(serialize_with = "super::checksum", deserialize_with = "strict")]
    pub to: Address,
    /// Calldata (absent = empty).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "strict_opt")]
    pub data: Option<Bytes>,
    /// Value in wei (absent = 0).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::some")]
    pub value: Option<HexBigInt>,
}

/// Why a wire user operation does not fit the EntryPoint's field widths.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserOpFieldError {
    /// A gas or fee field above 128 bits.
    #[error("{0} does not fit 128 bits")]
    TooLarge(&'static str),
    /// `factoryData` without `factory`.
    #[error("factoryData given without factory")]
    FactoryDataWithoutFactory,
    /// Paymaster fields without `paymaster`.
    #[error("paymaster fields given without paymaster")]
    PaymasterFieldsWithoutPaymaster,
}

/// An unsigned EntryPoint v0.7 user operation as the API returns it (no `signature`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserOpV07 {
    /// The account.
    #[serde(serialize_with = "super::checksum", deserialize_with = "strict")]
    pub sender: Address,
    /// `key ‖ sequence`.
    pub nonce: HexBigInt,
    /// Factory, only while the account is undeployed.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "strict_opt",
        serialize_with = "super::checksum_opt"
    )]
    pub factory: Option<Address>,
    /// Factory calldata, with `factory`.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "strict_opt")]
    pub factory_data: Option<Bytes>,
    /// Account calldata.
    #[serde(deserialize_with = "strict")]
    pub call_data: Bytes,
    /// Execution gas limit.
    pub call_gas_limit: HexBigInt,
    /// Validation gas limit.
    pub verification_gas_limit: HexBigInt,
    /// Bundler overhead.
    pub pre_verification_gas: HexBigInt,
    /// Fee cap.
    pub max_fee_per_gas: HexBigInt,
    /// Priority fee.
    pub max_priority_fee_per_gas: HexBigInt,
    /// Paymaster.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "strict_opt",
        serialize_with = "super::checksum_opt"
    )]
    pub paymaster: Option<Address>,
    /// Paymaster data.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "strict_opt")]
    pub paymaster_data: Option<Bytes>,
    /// Paymaster validation gas limit.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::some")]
    pub paymaster_verification_gas_limit: Option<HexBigInt>,
    /// Paymaster postOp gas limit.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::some")]
    pub paymaster_post_op_gas_limit: Option<HexBigInt>,
}

impl UserOpV07 {
    /// The wire form of an operation (its signature dropped).
    pub fn from_user_operation(op: &UserOperation) -> Self {
        Self {
            sender: op.sender,
            nonce: op.nonce.into(),
            factory: op.factory.as_ref().map(|f| f.factory),
            factory_data: op.factory.as_ref().map(|f| f.factory_data.clone()),
            call_data: op.call_data.clone(),
            call_gas_limit: op.call_gas_limit.into(),
            verification_gas_limit: op.verification_gas_limit.into(),
            pre_verification_gas: op.pre_verification_gas.into(),
            max_fee_per_gas: op.max_fee_per_gas.into(),
            max_priority_fee_per_gas: op.max_priority_fee_per_gas.into(),
            paymaster: op.paymaster.as_ref().map(|p| p.paymaster),
            paymaster_data: op.paymaster.as_ref().map(|p| p.data.clone()),
            paymaster_verification_gas_limit: op.paymaster.as_ref().map(|p| p.verification_gas_limit.into()),
            paymaster_post_op_gas_limit: op.paymaster.as_ref().map(|p| p.post_op_gas_limit.into()),
        }
    }

    /// The operation with `signature`; an error names a field that does not fit.
    pub fn to_user_operation(&self, signature: Bytes) -> Result<UserOperation, UserOpFieldError> {
        fn small(name: &'static str, v: HexBigInt) -> Result<u128, UserOpFieldError> {
            u128::try_from(v.0).map_err(|_| UserOpFieldError::TooLarge(name))
        }
        if self.factory.is_none() && self.factory_data.as_ref().is_some_and(|d| !d.is_empty()) {
            return Err(UserOpFieldError::FactoryDataWithoutFactory);
        }
        let paymaster = match self.paymaster {
            Some(paymaster) => Some(PaymasterInit {
                paymaster,
                verification_gas_limit: small(
                    "paymasterVerificationGasLimit",
                    self.paymaster_verification_gas_limit.unwrap_or_default(),
                )?,
                post_op_gas_limit: small(
                    "paymasterPostOpGasLimit",
                    self.paymaster_post_op_gas_limit.unwrap_or_default(),
                )?,
                data: self.paymaster_data.clone().unwrap_or_default(),
            }),
            None if self.paymaster_data.as_ref().is_some_and(|d| !d.is_empty())
                || self.paymaster_verification_gas_limit.is_some()
                || self.paymaster_post_op_gas_limit.is_some() =>
            {
                return Err(UserOpFieldError::PaymasterFieldsWithoutPaymaster);
            }
            None => None,
        };
        Ok(UserOperation {
            sender: self.sender,
            nonce: self.nonce.0,
            factory: self
                .factory
                .map(|factory| FactoryInit { factory, factory_data: self.factory_data.clone().unwrap_or_default() }),
            call_data: self.call_data.clone(),
            call_gas_limit: small("callGasLimit", self.call_gas_limit)?,
            verification_gas_limit: small("verificationGasLimit", self.verification_gas_limit)?,
            pre_verification_gas: self.pre_verification_gas.0,
            max_fee_per_gas: small("maxFeePerGas", self.max_fee_per_gas)?,
            max_priority_fee_per_gas: small("maxPriorityFeePerGas", self.max_priority_fee_per_gas)?,
            paymaster,
            signature,
        })
    }
}

/// An unsigned EntryPoint v0.6 user operation (all fields required; `"0x"` when absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserOpV06 {
    /// The account.
    #[serde(serialize_with = "super::checksum", deserialize_with = "strict")]
    pub sender: Address,
    /// Nonce.
    pub nonce: HexBigInt,
    /// Factory ‖ calldata, or `0x`.
    #[serde(deserialize_with = "strict")]
    pub init_code: Bytes,
    /// Account calldata.
    #[serde(deserialize_with = "strict")]
    pub call_data: Bytes,
    /// Execution gas limit.
    pub call_gas_limit: HexBigInt,
    /// Validation gas limit.
    pub verification_gas_limit: HexBigInt,
    /// Bundler overhead.
    pub pre_verification_gas: HexBigInt,
    /// Fee cap.
    pub max_fee_per_gas: HexBigInt,
    /// Priority fee.
    pub max_priority_fee_per_gas: HexBigInt,
    /// Paymaster ‖ data, or `0x`.
    #[serde(deserialize_with = "strict")]
    pub paymaster_and_data: Bytes,
}

/// Who pays for gas (required on user operations; the SDK never reads it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FeePayment {
    /// Paid by a paymaster policy.
    pub sponsored: bool,
    /// Token used for gas (zero address = native).
    #[serde(serialize_with = "super::checksum", deserialize_with = "strict")]
    pub token_address: Address,
    /// Most charged, in that token.
    pub max_amount: HexBigInt,
}

/// `{ address, nonce }` of an EIP-7702 authorization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationData {
    /// Delegation target (zero = undelegate).
    #[serde(serialize_with = "super::checksum", deserialize_with = "strict")]
    pub address: Address,
    /// The EOA's transaction nonce.
    pub nonce: HexNumber,
}

impl AuthorizationData {
    /// The unsigned EIP-7702 authorization on `chain_id`.
    pub fn authorization(&self, chain_id: HexNumber) -> Authorization {
        Authorization { chain_id: U256::from(chain_id.0), address: self.address, nonce: self.nonce.0 as u64 }
    }
}

/// A prepared v0.7 user operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreparedUserOpV07 {
    /// The operation.
    pub data: UserOpV07,
    /// Chain.
    pub chain_id: HexNumber,
    /// What the signer signs (absent only for estimation).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::some")]
    pub signature_request: Option<SignatureRequest>,
    /// Who pays.
    pub fee_payment: FeePayment,
}

/// A prepared v0.6 user operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreparedUserOpV06 {
    /// The operation.
    pub data: UserOpV06,
    /// Chain.
    pub chain_id: HexNumber,
    /// What the signer signs.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::some")]
    pub signature_request: Option<SignatureRequest>,
    /// Who pays.
    pub fee_payment: FeePayment,
}

/// A prepared EIP-7702 authorization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreparedAuthorization {
    /// Target and nonce.
    pub data: AuthorizationData,
    /// Chain.
    pub chain_id: HexNumber,
    /// `{ type: "eip7702Auth", rawPayload }`.
    pub signature_request: SignatureRequest,
}

/// An item of a prepared `array`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum PreparedCallItem {
    /// v0.7 user operation.
    #[serde(rename = "user-operation-v070")]
    UserOperationV070(PreparedUserOpV07),
    /// v0.6 user operation.
    #[serde(rename = "user-operation-v060")]
    UserOperationV060(PreparedUserOpV06),
    /// EIP-7702 authorization.
    #[serde(rename = "authorization")]
    Authorization(PreparedAuthorization),
}

/// The ERC-20 permit step (§4.6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymasterPermit {
    /// The prepare request to resend with `paymasterPermitSignature`.
    pub modified_request: Box<PrepareCallsParams>,
    /// The permit typed data.
    pub data: TypedData,
    /// `eth_signTypedData_v4` of the permit.
    pub signature_request: SignatureRequest,
}

/// What `wallet_prepareCalls` returns, by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum PreparedCalls {
    /// v0.7 user operation.
    #[serde(rename = "user-operation-v070")]
    UserOperationV070(PreparedUserOpV07),
    /// v0.6 user operation.
    #[serde(rename = "user-operation-v060")]
    UserOperationV060(PreparedUserOpV06),
    /// Authorization only.
    #[serde(rename = "authorization")]
    Authorization(PreparedAuthorization),
    /// Several items, e.g. `[authorization, user-operation-v070]`.
    #[serde(rename = "array")]
    Array {
        /// The items.
        data: Vec<PreparedCallItem>,
    },
    /// ERC-20 permit needed first.
    #[serde(rename = "paymaster-permit")]
    PaymasterPermit(PaymasterPermit),
}

/// `details.data` of a user operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserOperationDetails {
    /// The userOpHash.
    #[serde(deserialize_with = "strict")]
    pub hash: B256,
    /// The calls it makes (required in prepareCalls answers).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::some")]
    pub calls: Option<Vec<Call>>,
}

/// `details` of `wallet_prepareCalls`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum PrepareDetails {
    /// The user operation's hash and calls.
    #[serde(rename = "user-operation")]
    UserOperation {
        /// Hash and calls.
        data: UserOperationDetails,
    },
}

/// `wallet_prepareCalls` params.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", remote = "Self")]
pub struct PrepareCallsParams {
    /// The calls (absent or empty for undelegation).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::some")]
    pub calls: Option<Vec<Call>>,
    /// The executing account (an EOA = 7702 mode).
    #[serde(serialize_with = "super::checksum", deserialize_with = "strict")]
    pub from: Address,
    /// Chain.
    pub chain_id: HexNumber,
    /// Capabilities.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::some")]
    pub capabilities: Option<PrepareCallsCapabilities>,
    /// The permit signature of the second round of §4.6.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::some")]
    pub paymaster_permit_signature: Option<SigEnvelope>,
}

impl Serialize for PrepareCallsParams {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        PrepareCallsParams::serialize(self, s)
    }
}

impl<'de> Deserialize<'de> for PrepareCallsParams {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        with_field_path(d, |v| PrepareCallsParams::deserialize(v))
    }
}

/// `wallet_prepareCalls` result: the prepared calls plus `details`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrepareCallsResult {
    /// The prepared calls.
    #[serde(flatten)]
    pub prepared: PreparedCalls,
    /// Hash and calls of the user operation.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::some")]
    pub details: Option<PrepareDetails>,
}

/// A signed v0.7 user operation (the prepared `data` echoed back).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignedUserOpV07 {
    /// The operation as prepared.
    pub data: UserOpV07,
    /// Chain.
    pub chain_id: HexNumber,
    /// The signer's raw signature.
    pub signature: SigEnvelope,
}

/// A signed v0.6 user operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignedUserOpV06 {
    /// The operation as prepared.
    pub data: UserOpV06,
    /// Chain.
    pub chain_id: HexNumber,
    /// The signer's raw signature.
    pub signature: SigEnvelope,
}

/// A signed EIP-7702 authorization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignedAuthorization {
    /// Target and nonce.
    pub data: AuthorizationData,
    /// Chain.
    pub chain_id: HexNumber,
    /// The EOA's signature (v = 27/28 from the SDK).
    pub signature: SigEnvelope,
}

/// An item of a signed `array`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum SignedCallItem {
    /// v0.7 user operation.
    #[serde(rename = "user-operation-v070")]
    UserOperationV070(SignedUserOpV07),
    /// v0.6 user operation.
    #[serde(rename = "user-operation-v060")]
    UserOperationV060(SignedUserOpV06),
    /// EIP-7702 authorization.
    #[serde(rename = "authorization")]
    Authorization(SignedAuthorization),
}

/// Signed prepared calls, by `type` (an `array` has no top-level `chainId`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum SignedCalls {
    /// v0.7 user operation.
    #[serde(rename = "user-operation-v070")]
    UserOperationV070(SignedUserOpV07),
    /// v0.6 user operation.
    #[serde(rename = "user-operation-v060")]
    UserOperationV060(SignedUserOpV06),
    /// Authorization only.
    #[serde(rename = "authorization")]
    Authorization(SignedAuthorization),
    /// Several items.
    #[serde(rename = "array")]
    Array {
        /// The items.
        data: Vec<SignedCallItem>,
    },
}

/// `wallet_sendPreparedCalls` params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", remote = "Self")]
pub struct SendPreparedCallsParams {
    /// The signed calls.
    #[serde(flatten)]
    pub calls: SignedCalls,
    /// `permissions` and `paymasterService` as used at prepare time.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::some")]
    pub capabilities: Option<SendCallsCapabilities>,
    /// Swap-flow call id.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "strict_opt")]
    pub call_id: Option<Bytes>,
}

impl Serialize for SendPreparedCallsParams {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        SendPreparedCallsParams::serialize(self, s)
    }
}

impl<'de> Deserialize<'de> for SendPreparedCallsParams {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        with_field_path(d, |v| SendPreparedCallsParams::deserialize(v))
    }
}

/// `details` of `wallet_sendPreparedCalls`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum SendDetails {
    /// A user operation was submitted.
    #[serde(rename = "user-operation")]
    UserOperation {
        /// Hash (and calls).
        data: UserOperationDetails,
    },
    /// Only an authorization was submitted.
    #[serde(rename = "delegation")]
    Delegation,
}

/// `wallet_sendPreparedCalls` result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendPreparedCallsResult {
    /// Call id for `wallet_getCallsStatus`.
    #[serde(deserialize_with = "strict")]
    pub id: Bytes,
    /// Deprecated: `[id]`.
    #[serde(deserialize_with = "strict_vec")]
    pub prepared_call_ids: Vec<Bytes>,
    /// What was submitted.
    pub details: SendDetails,
}

/// The recommended call id: `chainId (32 bytes BE) ‖ 32-byte hash` (never the EIP-5792 marker).
pub fn call_id(chain_id: u64, hash: B256) -> Bytes {
    let mut out = [0u8; 64];
    out[24..32].copy_from_slice(&chain_id.to_be_bytes());
    out[32..].copy_from_slice(hash.as_slice());
    Bytes::copy_from_slice(&out)
}

/// Splits a 64-byte call id into chain id and hash.
pub fn parse_call_id(id: &[u8]) -> Option<(u64, B256)> {
    if id.len() != 64 || id[..24].iter().any(|b| *b != 0) {
        return None;
    }
    let chain = u64::from_be_bytes(id[24..32].try_into().ok()?);
    Some((chain, B256::from_slice(&id[32..])))
}
