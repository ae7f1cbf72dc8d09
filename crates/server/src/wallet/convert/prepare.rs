//! `wallet_prepareCalls`.

use alloy::primitives::Address;
use keyward_api::wallet::{
    AuthorizationData, Delegation, Eip7702AuthCapability, FeePayment, GasParam, GasParamsOverride, PaymasterService,
    PrepareCallsParams, PrepareCallsResult, PrepareDetails, PreparedAuthorization, PreparedCallItem,
    PreparedCalls as WirePrepared, PreparedUserOpV07, SignatureRequest, UserOpV07, UserOperationDetails,
};
use keyward_wallet::types::{
    DelegationRequest, GasOverride, GasOverrides, GasPayment, PrepareCalls, Prepared, PreparedCalls, PreparedOp,
    SignatureScheme,
};
use keyward_wallet::{WalletError, WalletResult};

use super::{call, hex_number, wire_call};

/// The calls to prepare; refuses the capabilities this server does not support.
pub(in crate::wallet) fn request(p: PrepareCallsParams) -> WalletResult<PrepareCalls> {
    let caps = p.capabilities.unwrap_or_default();
    if p.paymaster_permit_signature.is_some() {
        return Err(WalletError::UnsupportedCapability(
            "paymasterPermitSignature: ERC-20 gas payment is not supported by this server".into(),
        ));
    }
    if caps.state_override.is_some() {
        return Err(WalletError::UnsupportedCapability("stateOverride is not supported by this server".into()));
    }
    if caps.experimental_data_suffix.is_some() {
        return Err(WalletError::UnsupportedCapability(
            "experimental_dataSuffix is not supported by this server".into(),
        ));
    }
    Ok(PrepareCalls {
        from: p.from,
        chain_id: p.chain_id.into(),
        calls: p.calls.unwrap_or_default().into_iter().map(call).collect(),
        permissions_context: caps.permissions.map(|c| c.context()),
        gas_payment: gas_payment(caps.paymaster_service.as_ref())?,
        gas_overrides: caps.gas_params_override.as_ref().map(overrides),
        delegation: caps.eip7702_auth.map(delegation),
        nonce_key: caps.nonce_override.map(|n| n.nonce_key.0),
    })
}

/// Who pays, by the `paymasterService` capability: `onlyEstimation` estimates only, a policy
/// sponsors (ERC-20 gas payment is refused).
pub(super) fn gas_payment(pm: Option<&PaymasterService>) -> WalletResult<GasPayment> {
    let Some(pm) = pm else { return Ok(GasPayment::Account) };
    if pm.only_estimation == Some(true) {
        return Ok(GasPayment::EstimateOnly);
    }
    if pm.erc20.is_some() {
        return Err(WalletError::UnsupportedCapability(
            "paymasterService.erc20: ERC-20 gas payment is not supported by this server".into(),
        ));
    }
    let first = pm
        .policies()
        .into_iter()
        .next()
        .ok_or_else(|| WalletError::params("paymasterService needs policyId or policyIds"))?;
    Ok(GasPayment::Sponsored { policy_id: first.as_str().to_string() })
}

fn overrides(o: &GasParamsOverride) -> GasOverrides {
    let one = |p: &Option<GasParam>| {
        p.as_ref().map(|p| match p {
            GasParam::Absolute(v) => GasOverride::Absolute(v.0),
            GasParam::Multiplier { multiplier } => GasOverride::Multiplier(*multiplier),
        })
    };
    GasOverrides {
        pre_verification_gas: one(&o.pre_verification_gas),
        verification_gas_limit: one(&o.verification_gas_limit),
        call_gas_limit: one(&o.call_gas_limit),
        paymaster_verification_gas_limit: one(&o.paymaster_verification_gas_limit),
        paymaster_post_op_gas_limit: one(&o.paymaster_post_op_gas_limit),
        max_fee_per_gas: one(&o.max_fee_per_gas),
        max_priority_fee_per_gas: one(&o.max_priority_fee_per_gas),
    }
}

fn delegation(c: Eip7702AuthCapability) -> DelegationRequest {
    match c {
        Eip7702AuthCapability::Default => DelegationRequest::default(),
        Eip7702AuthCapability::Explicit { account, delegation } => {
            DelegationRequest { account, undelegate: delegation == Delegation::Undelegate }
        }
    }
}

/// The wire form of a prepared operation (signature requested unless it is an estimate).
fn user_op(op: &PreparedOp, chain_id: keyward_api::wallet::HexNumber) -> PreparedUserOpV07 {
    PreparedUserOpV07 {
        data: UserOpV07::from_user_operation(&op.op),
        chain_id,
        signature_request: op.needs_signature.then(|| match op.scheme {
            SignatureScheme::Secp256k1 => SignatureRequest::personal_sign_raw(op.hash),
            SignatureScheme::P256 => SignatureRequest::p256(op.hash),
        }),
        fee_payment: FeePayment {
            sponsored: op.op.paymaster.is_some(),
            token_address: Address::ZERO,
            max_amount: op.op.required_prefund().into(),
        },
    }
}

/// The `wallet_prepareCalls` answer: the operation, or `[authorization, operation]`.
pub(in crate::wallet) fn prepared(p: Prepared) -> WalletResult<PrepareCallsResult> {
    let chain_id = hex_number(p.chain_id)?;
    let hash = p.prepared.op().hash;
    let prepared = match &p.prepared {
        PreparedCalls::UserOperation(op) => WirePrepared::UserOperationV070(user_op(op, chain_id)),
        PreparedCalls::Delegation { authorization, op } => WirePrepared::Array {
            data: vec![
                PreparedCallItem::Authorization(PreparedAuthorization {
                    data: AuthorizationData { address: authorization.address, nonce: hex_number(authorization.nonce)? },
                    chain_id,
                    signature_request: SignatureRequest::Eip7702Auth { raw_payload: authorization.signature_hash() },
                }),
                PreparedCallItem::UserOperationV070(user_op(op, chain_id)),
            ],
        },
    };
    let calls = p.calls.into_iter().map(wire_call).collect();
    Ok(PrepareCallsResult {
        prepared,
        details: Some(PrepareDetails::UserOperation { data: UserOperationDetails { hash, calls: Some(calls) } }),
    })
}
