//! ERC-4337 v0.7 user operations: the RPC (unpacked) form, the packed onchain form, and the hash.

use alloy::primitives::{Address, B256, Bytes, U256, keccak256};
use alloy::sol_types::SolValue;
use serde::{Deserialize, Serialize};

pub use crate::entry_point::PackedUserOperation;

/// The factory that deploys a counterfactual sender, and the calldata it is called with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FactoryInit {
    /// Factory contract called by the SenderCreator.
    pub factory: Address,
    /// Calldata for the factory.
    pub factory_data: Bytes,
}

/// The paymaster of an operation with its gas limits and data.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PaymasterInit {
    /// Paymaster contract.
    pub paymaster: Address,
    /// Gas limit of `validatePaymasterUserOp`.
    pub verification_gas_limit: u128,
    /// Gas limit of `postOp`.
    pub post_op_gas_limit: u128,
    /// Data handed to the paymaster.
    pub data: Bytes,
}

/// A v0.7 user operation in its RPC form (ERC-7769): factory and paymaster are all-or-nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "wire::UserOperationWire", into = "wire::UserOperationWire")]
pub struct UserOperation {
    /// The account.
    pub sender: Address,
    /// `key (192 bits) << 64 | sequence (64 bits)`.
    pub nonce: U256,
    /// Deployment of a counterfactual sender.
    pub factory: Option<FactoryInit>,
    /// Calldata the EntryPoint sends to the account.
    pub call_data: Bytes,
    /// Gas limit of the execution call.
    pub call_gas_limit: u128,
    /// Gas limit of creation plus account validation.
    pub verification_gas_limit: u128,
    /// Gas paid for the bundler's overhead (calldata, bookkeeping).
    pub pre_verification_gas: U256,
    /// EIP-1559 fee cap.
    pub max_fee_per_gas: u128,
    /// EIP-1559 priority fee.
    pub max_priority_fee_per_gas: u128,
    /// Paymaster sponsoring the operation.
    pub paymaster: Option<PaymasterInit>,
    /// Account signature (not part of the hash).
    pub signature: Bytes,
}

/// Concatenates two 128-bit values into one word, `high ‖ low`.
pub fn pack_u128_pair(high: u128, low: u128) -> B256 {
    let mut word = [0u8; 32];
    word[..16].copy_from_slice(&high.to_be_bytes());
    word[16..].copy_from_slice(&low.to_be_bytes());
    B256::from(word)
}

/// Splits a word into its `(high, low)` 128-bit halves.
pub fn unpack_u128_pair(word: B256) -> (u128, u128) {
    let mut high = [0u8; 16];
    let mut low = [0u8; 16];
    high.copy_from_slice(&word[..16]);
    low.copy_from_slice(&word[16..]);
    (u128::from_be_bytes(high), u128::from_be_bytes(low))
}

impl UserOperation {
    /// `factory ‖ factoryData`, or empty.
    pub fn init_code(&self) -> Bytes {
        match &self.factory {
            Some(f) => [f.factory.as_slice(), f.factory_data.as_ref()].concat().into(),
            None => Bytes::new(),
        }
    }

    /// `paymaster ‖ verificationGasLimit ‖ postOpGasLimit ‖ data`, or empty.
    pub fn paymaster_and_data(&self) -> Bytes {
        match &self.paymaster {
            Some(p) => [
                p.paymaster.as_slice(),
                &p.verification_gas_limit.to_be_bytes(),
                &p.post_op_gas_limit.to_be_bytes(),
                p.data.as_ref(),
            ]
            .concat()
            .into(),
            None => Bytes::new(),
        }
    }

    /// The packed form the EntryPoint receives.
    pub fn pack(&self) -> PackedUserOperation {
        PackedUserOperation {
            sender: self.sender,
            nonce: self.nonce,
            initCode: self.init_code(),
            callData: self.call_data.clone(),
            accountGasLimits: pack_u128_pair(self.verification_gas_limit, self.call_gas_limit),
            preVerificationGas: self.pre_verification_gas,
            gasFees: pack_u128_pair(self.max_priority_fee_per_gas, self.max_fee_per_gas),
            paymasterAndData: self.paymaster_and_data(),
            signature: self.signature.clone(),
        }
    }

    /// The v0.7 userOpHash for `entry_point` on `chain_id` (EntryPoint `getUserOpHash`).
    pub fn hash(&self, entry_point: Address, chain_id: u64) -> B256 {
        self.pack().hash(entry_point, chain_id)
    }

    /// The largest amount the operation may be charged: `(VGL + CGL + pmVGL + pmPostOp + PVG) × maxFee`.
    pub fn required_prefund(&self) -> U256 {
        let paymaster_gas = self
            .paymaster
            .as_ref()
            .map(|p| U256::from(p.verification_gas_limit) + U256::from(p.post_op_gas_limit))
            .unwrap_or_default();
        let gas = U256::from(self.verification_gas_limit)
            + U256::from(self.call_gas_limit)
            + paymaster_gas
            + self.pre_verification_gas;
        gas.saturating_mul(U256::from(self.max_fee_per_gas))
    }
}

impl PackedUserOperation {
    /// The v0.7 userOpHash: `keccak256(abi.encode(keccak256(packed fields), entryPoint, chainId))`.
    pub fn hash(&self, entry_point: Address, chain_id: u64) -> B256 {
        let inner = keccak256(
            (
                self.sender,
                self.nonce,
                keccak256(&self.initCode),
                keccak256(&self.callData),
                self.accountGasLimits,
                self.preVerificationGas,
                self.gasFees,
                keccak256(&self.paymasterAndData),
            )
                .abi_encode(),
        );
        keccak256((inner, entry_point, U256::from(chain_id)).abi_encode())
    }
}

/// Why a packed operation cannot be read back into the RPC form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnpackError {
    /// `initCode` is non-empty but shorter than a factory address.
    #[error("initCode is {0} bytes; a non-empty initCode starts with a 20-byte factory")]
    ShortInitCode(usize),
    /// `paymasterAndData` is non-empty but shorter than 52 bytes.
    #[error("paymasterAndData is {0} bytes; a non-empty one holds at least 52 (address and two gas limits)")]
    ShortPaymasterAndData(usize),
}

impl TryFrom<PackedUserOperation> for UserOperation {
    type Error = UnpackError;

    fn try_from(p: PackedUserOperation) -> Result<Self, Self::Error> {
        let factory = match p.initCode.len() {
            0 => None,
            n if n < 20 => return Err(UnpackError::ShortInitCode(n)),
            _ => Some(FactoryInit {
                factory: Address::from_slice(&p.initCode[..20]),
                factory_data: p.initCode.slice(20..),
            }),
        };
        let paymaster = match p.paymasterAndData.len() {
            0 => None,
            n if n < 52 => return Err(UnpackError::ShortPaymasterAndData(n)),
            _ => {
                let d = &p.paymasterAndData;
                let (v, post) = unpack_u128_pair(B256::from_slice(&d[20..52]));
                Some(PaymasterInit {
                    paymaster: Address::from_slice(&d[..20]),
                    verification_gas_limit: v,
                    post_op_gas_limit: post,
                    data: d.slice(52..),
                })
            }
        };
        let (verification_gas_limit, call_gas_limit) = unpack_u128_pair(p.accountGasLimits);
        let (max_priority_fee_per_gas, max_fee_per_gas) = unpack_u128_pair(p.gasFees);
        Ok(Self {
            sender: p.sender,
            nonce: p.nonce,
            factory,
            call_data: p.callData,
            call_gas_limit,
            verification_gas_limit,
            pre_verification_gas: p.preVerificationGas,
            max_fee_per_gas,
            max_priority_fee_per_gas,
            paymaster,
            signature: p.signature,
        })
    }
}

mod wire {
    //! The flat JSON shape of ERC-7769, converted to and from the typed form.
    use super::*;

    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub(super) struct UserOperationWire {
        sender: Address,
        nonce: U256,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        factory: Option<Address>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        factory_data: Option<Bytes>,
        call_data: Bytes,
        #[serde(with = "alloy::serde::quantity")]
        call_gas_limit: u128,
        #[serde(with = "alloy::serde::quantity")]
        verification_gas_limit: u128,
        pre_verification_gas: U256,
        #[serde(with = "alloy::serde::quantity")]
        max_fee_per_gas: u128,
        #[serde(with = "alloy::serde::quantity")]
        max_priority_fee_per_gas: u128,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        paymaster: Option<Address>,
        #[serde(default, skip_serializing_if = "Option::is_none", with = "alloy::serde::quantity::opt")]
        paymaster_verification_gas_limit: Option<u128>,
        #[serde(default, skip_serializing_if = "Option::is_none", with = "alloy::serde::quantity::opt")]
        paymaster_post_op_gas_limit: Option<u128>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        paymaster_data: Option<Bytes>,
        #[serde(default)]
        signature: Bytes,
    }

    impl TryFrom<UserOperationWire> for UserOperation {
        type Error = String;

        fn try_from(w: UserOperationWire) -> Result<Self, String> {
            let factory = match (w.factory, w.factory_data) {
                (Some(factory), data) => Some(FactoryInit { factory, factory_data: data.unwrap_or_default() }),
                (None, None) => None,
                (None, Some(d)) if d.is_empty() => None,
                (None, Some(_)) => return Err("factoryData given without factory".into()),
            };
            let paymaster = match (
                w.paymaster,
                w.paymaster_verification_gas_limit,
                w.paymaster_post_op_gas_limit,
                w.paymaster_data,
            ) {
                (None, None, None, None) => None,
                (Some(paymaster), Some(v), Some(post), data) => Some(PaymasterInit {
                    paymaster,
                    verification_gas_limit: v,
                    post_op_gas_limit: post,
                    data: data.unwrap_or_default(),
                }),
                _ => {
                    return Err("paymaster, paymasterVerificationGasLimit and paymasterPostOpGasLimit \
                                go together: give all of them or none"
                        .into());
                }
            };
            Ok(UserOperation {
                sender: w.sender,
                nonce: w.nonce,
                factory,
                call_data: w.call_data,
                call_gas_limit: w.call_gas_limit,
                verification_gas_limit: w.verification_gas_limit,
                pre_verification_gas: w.pre_verification_gas,
                max_fee_per_gas: w.max_fee_per_gas,
                max_priority_fee_per_gas: w.max_priority_fee_per_gas,
                paymaster,
                signature: w.signature,
            })
        }
    }

    impl From<UserOperation> for UserOperationWire {
        fn from(op: UserOperation) -> Self {
            let (factory, factory_data) = match op.factory {
                Some(f) => (Some(f.factory), Some(f.factory_data)),
                None => (None, None),
            };
            let (paymaster, pvgl, ppogl, pdata) = match op.paymaster {
                Some(p) => (Some(p.paymaster), Some(p.verification_gas_limit), Some(p.post_op_gas_limit), Some(p.data)),
                None => (None, None, None, None),
            };
            Self {
                sender: op.sender,
                nonce: op.nonce,
                factory,
                factory_data,
                call_data: op.call_data,
                call_gas_limit: op.call_gas_limit,
                verification_gas_limit: op.verification_gas_limit,
                pre_verification_gas: op.pre_verification_gas,
                max_fee_per_gas: op.max_fee_per_gas,
                max_priority_fee_per_gas: op.max_priority_fee_per_gas,
                paymaster,
                paymaster_verification_gas_limit: pvgl,
                paymaster_post_op_gas_limit: ppogl,
                paymaster_data: pdata,
                signature: op.signature,
            }
        }
    }
}
