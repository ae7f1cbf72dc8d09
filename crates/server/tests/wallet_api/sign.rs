//! ERC-1271 through the API: the owner signs what `wallet_prepareSign` returns, and the account's
//! `isValidSignature` accepts what `wallet_formatSign` makes of it — deployed, or ERC-6492-wrapped
//! while counterfactual (then accepted once deployed).

use alloy::primitives::{Address, B256, Bytes, eip191_hash_message};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolValue;
use keyward_api::wallet::{
    FormatSignParams, PersonalSignData, PrepareSignParams, SigEnvelope, SigType, SignableRequest, WalletApiClient,
};
use keyward_primitives::mav2::abi::IModularAccount;
use keyward_wallet::sign::ERC6492_MAGIC;

use crate::env::Env;

async fn sign_via_api(env: &Env, account: Address, owner: &PrivateKeySigner, message: &str) -> Bytes {
    let chain_id = u32::try_from(env.chain_id).unwrap().into();
    let prepared = env
        .client
        .prepare_sign(PrepareSignParams {
            from: account,
            chain_id,
            signature_request: SignableRequest::PersonalSign { data: PersonalSignData::Text(message.into()) },
            capabilities: None,
        })
        .await
        .unwrap();
    let digest = prepared.signature_request.digest().unwrap();
    let sig = owner.sign_hash_sync(&digest).unwrap();
    let formatted = env
        .client
        .format_sign(FormatSignParams {
            from: account,
            chain_id,
            signature: SigEnvelope { ty: SigType::Ecdsa, data: SigEnvelope::secp256k1(&sig).data },
            capabilities: None,
        })
        .await
        .unwrap();
    formatted.signature
}

async fn is_valid(env: &Env, account: Address, hash: B256, signature: Bytes) -> bool {
    let r = env.h.read(account, IModularAccount::isValidSignatureCall { hash, signature }).await;
    matches!(r, Ok(v) if v.0 == [0x16, 0x26, 0xba, 0x7e])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_signatures_pass_is_valid_signature() {
    let env = Env::new().await;
    let owner = PrivateKeySigner::random();
    let r = env.request_account(owner.address()).await;
    let account = r.account_address;
    let hash = eip191_hash_message("hello");

    // Counterfactual: ERC-6492 (factory, factoryData, inner signature) ‖ magic.
    let wrapped = sign_via_api(&env, account, &owner, "hello").await;
    assert_eq!(&wrapped[wrapped.len() - 32..], ERC6492_MAGIC.as_slice());
    let (factory, factory_data, inner) =
        <(Address, Bytes, Bytes)>::abi_decode_params(&wrapped[..wrapped.len() - 32]).unwrap();
    assert_eq!(factory, env.deployment.factory);
    assert_eq!(factory_data, r.counterfactual_info.unwrap().factory_data);
    // Deploy it as a verifier would (the factory data), then the inner signature verifies.
    let tx = alloy::rpc::types::TransactionRequest::default().to(factory).input(factory_data.into());
    assert!(env.h.send_tx(&env.h.keys[0], tx).await.unwrap().status());
    assert!(is_valid(&env, account, hash, inner.clone()).await);

    // Deployed: the plain 1271 signature, accepted; for another message it is not.
    let direct = sign_via_api(&env, account, &owner, "hello").await;
    assert_eq!(direct, inner, "the same bytes once deployed");
    assert!(is_valid(&env, account, hash, direct.clone()).await);
    assert!(!is_valid(&env, account, eip191_hash_message("bye"), direct).await);
    // Signed by someone else: rejected by the account.
    let forged = sign_via_api(&env, account, &PrivateKeySigner::random(), "hello").await;
    assert!(!is_valid(&env, account, hash, forged).await);
}
