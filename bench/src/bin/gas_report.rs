//! `gas-report`: what one user operation costs on Keyward's account contracts (issue 3).
//!
//! For each scenario this starts a fresh embedded chain (`Mav2::embedded()`: EntryPoint v0.7,
//! account implementations, modules and a staked factory), prepares the account, sends a bundle of
//! exactly one user operation straight to `EntryPoint.handleOps` from the bundler key, and prints
//! the transaction's `gasUsed` and the `actualGasUsed` of its `UserOperationEvent`. The
//! runtime-creation row is a plain transaction calling the factory instead.
//!
//! Figures do not depend on the build profile. The table is Markdown, ready for `docs/gas.md`;
//! `bench/README.md` ("Gas report") says what is measured and how.

// Each benchmark binary is a crate of its own that sees every dependency of the package.
#![allow(unused_crate_dependencies)]

use alloy::primitives::{Address, Bytes, U256};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use anyhow::{Context, Result, bail, ensure};
use keyward_contracts::bindings::{AccountFactory, TestToken};
use keyward_primitives::UserOperation;
use keyward_testkit::mav2::{ETH, Mav2, Outcome, Session, SmaAccount, execute};
use serde_json::json;

/// The only reference figure `/work/shared/spec/account-formats.md` gives (§12, table of account
/// variants: SemiModularAccountBytecode, "≈98k gas runtime deployment").
const MAV2_RUNTIME_DEPLOYMENT: &str = "≈98k (account-formats §12)";
/// Printed where the spec has no reference figure.
const NO_REFERENCE: &str = "—";

/// Native value moved by the transfer scenarios (wei).
const NATIVE_AMOUNT: u128 = ETH / 1000;
/// Token units moved by the ERC-20 scenarios.
const TOKEN_AMOUNT: u64 = 1_000;
/// Session lifetime: the expiry (TimeRange hook) is this far after the chain's clock.
const SESSION_LIFETIME_SEC: u64 = 3_600;

/// One printed row.
struct Row {
    scenario: String,
    /// Which op of its nonce key this was (first = the EntryPoint's nonce slot goes 0 → 1).
    which_op: String,
    /// The sender's EntryPoint deposit before the op: empty means the prefund payment writes a
    /// zero slot.
    deposit: &'static str,
    tx_gas: u64,
    /// `None` for plain transactions (no user operation).
    op_gas: Option<U256>,
    reference: &'static str,
}

fn eth(n: u128) -> U256 {
    U256::from(n * ETH)
}

fn hex(v: U256) -> String {
    format!("{v:#x}")
}

fn addr(a: Address) -> String {
    format!("{a:#x}")
}

fn transfer(to: Address, amount: u64) -> Bytes {
    TestToken::transferCall { to, amount: U256::from(amount) }.abi_encode().into()
}

fn ordinal(sequence: u64) -> String {
    match sequence + 1 {
        1 => "1st (cold: nonce slot 0→1)".into(),
        2 => "2nd (nonce slot 1→2)".into(),
        3 => "3rd (nonce slot 2→3)".into(),
        n => format!("{n}th (nonce slot {}→{n})", n - 1),
    }
}

/// Sends a bundle of the signed `op` alone and makes a row of it; records, before sending, which
/// op of its nonce key it is and whether the sender's EntryPoint deposit was empty.
async fn measure(m: &Mav2, scenario: &str, op: UserOperation) -> Result<Row> {
    let sequence: u64 = (op.nonce & U256::from(u64::MAX)).to();
    let deposit = if m.h.deposit_of(op.sender).await.is_zero() { "empty" } else { "non-empty" };
    let receipt = match m.send(op).await {
        Outcome::Success(r) => r,
        Outcome::Reverted(_, data) => bail!("{scenario}: execution reverted ({data})"),
        Outcome::Rejected(e) => bail!("{scenario}: rejected in validation ({e:?})"),
    };
    let (op_gas, tx_gas) = m.gas_of(&receipt);
    Ok(Row {
        scenario: scenario.into(),
        which_op: ordinal(sequence),
        deposit,
        tx_gas,
        op_gas: Some(op_gas),
        reference: NO_REFERENCE,
    })
}

/// A signed owner op running `call` (with initCode while the account is counterfactual).
async fn owner_op(m: &Mav2, a: &SmaAccount, call: Bytes) -> UserOperation {
    let mut op = m.owner_op(a, call).await;
    m.sign_owner(a, &mut op);
    op
}

/// A signed session op running the account call `inner` (regular nonce key).
async fn session_op(m: &Mav2, a: &SmaAccount, s: &Session, inner: &[u8]) -> UserOperation {
    let mut op = m.session_op(a, s, inner).await;
    m.sign_session(s, &mut op);
    op
}

/// A fresh chain with everything deployed, whose bundle beneficiary already exists (otherwise the
/// first bundle of every chain would pay 25,000 gas for creating the beneficiary's account, and
/// only that one).
async fn fresh() -> Mav2 {
    let m = Mav2::embedded().await;
    m.fund(m.beneficiary, U256::from(1)).await;
    m
}

/// A recipient that already exists (1 wei), so native transfers pay no new-account surcharge.
async fn existing_recipient(m: &Mav2) -> Address {
    let to = PrivateKeySigner::random().address();
    m.fund(to, U256::from(1)).await;
    to
}

/// A `TestToken` holding 1,000,000 units for `a` and 1 unit for a fresh recipient (so every
/// measured transfer writes non-zero → non-zero balance slots).
async fn token_for(m: &Mav2, a: &SmaAccount) -> Result<(Address, Address)> {
    let token = m.token(a.address, U256::from(1_000_000u64)).await;
    let to = PrivateKeySigner::random().address();
    let r = m.h.transact(token, TestToken::mintCall { to, amount: U256::from(1) }, U256::ZERO).await;
    ensure!(r.status(), "minting to the recipient reverted");
    Ok((token, to))
}

/// Native-transfer session (Wallet-API permission JSON): NativeTokenLimit execution hook (0.1 ETH)
/// + allowlist (contract-access to `to`); the expiry given at compile time adds the TimeRange hook.
fn native_session_permissions(to: Address) -> serde_json::Value {
    json!([{"type": "native-token-transfer", "data": {"allowance": hex(eth(1) / U256::from(10))}},
           {"type": "contract-access", "data": {"address": addr(to)}}])
}

/// ERC-20 session: allowlist (token: transfer/approve) + ERC-20 spend limit (100,000 units); the
/// expiry adds the TimeRange hook.
fn erc20_session_permissions(token: Address) -> serde_json::Value {
    json!([{"type": "erc20-token-transfer", "data": {"address": addr(token), "allowance": hex(U256::from(100_000u64))}}])
}

/// Compiles `perms` with an expiry (hence a TimeRange hook) and installs it by an owner op (not
/// measured).
async fn installed_session(m: &Mav2, a: &SmaAccount, entity: u32, perms: serde_json::Value) -> Session {
    let expiry = m.now().await + SESSION_LIFETIME_SEC;
    m.session(a, entity, perms, expiry).await
}

async fn creation_by_user_op() -> Result<Vec<Row>> {
    let m = fresh().await;
    let a = m.counterfactual_account(eth(1)).await;
    // A trivial call: execute(fresh address, 0, "") — the op's only effect is the deployment.
    let op = owner_op(&m, &a, execute(PrivateKeySigner::random().address(), U256::ZERO, Bytes::new())).await;
    ensure!(op.factory.is_some(), "the op carries initCode");
    let row = measure(&m, "Account creation by user op (initCode; owner op, no-op call)", op).await?;
    ensure!(m.deployed(a.address).await, "initCode deployed the account");
    Ok(vec![row])
}

async fn creation_at_runtime() -> Result<Vec<Row>> {
    let m = fresh().await;
    let a = m.counterfactual_account(U256::ZERO).await;
    let call = AccountFactory::createSemiModularAccountCall { owner_: a.owner.address(), salt: a.init.salt };
    let r = m.h.transact(m.factory, call, U256::ZERO).await;
    ensure!(r.status(), "createSemiModularAccount reverted");
    ensure!(m.deployed(a.address).await, "account deployed at the predicted address");
    Ok(vec![Row {
        scenario: "Account creation at runtime (plain tx: AccountFactory.createSemiModularAccount; tx gasUsed)".into(),
        which_op: "— (no user op)".into(),
        deposit: "—",
        tx_gas: r.gas_used,
        op_gas: None,
        reference: MAV2_RUNTIME_DEPLOYMENT,
    }])
}

async fn owner_native() -> Result<Vec<Row>> {
    let m = fresh().await;
    let a = m.account(eth(1)).await;
    let to = existing_recipient(&m).await;
    let name = "Owner native transfer (deployed account)";
    let mut rows = Vec::new();
    for _ in 0..2 {
        let op = owner_op(&m, &a, execute(to, U256::from(NATIVE_AMOUNT), Bytes::new())).await;
        rows.push(measure(&m, name, op).await?);
    }
    ensure!(m.balance(to).await == U256::from(2 * NATIVE_AMOUNT + 1), "recipient received both transfers");
    Ok(rows)
}

async fn owner_erc20() -> Result<Vec<Row>> {
    let m = fresh().await;
    let a = m.account(eth(1)).await;
    let (token, to) = token_for(&m, &a).await?;
    let name = "Owner ERC-20 transfer (TestToken, deployed account)";
    let mut rows = Vec::new();
    for _ in 0..2 {
        let op = owner_op(&m, &a, execute(token, U256::ZERO, transfer(to, TOKEN_AMOUNT))).await;
        rows.push(measure(&m, name, op).await?);
    }
    ensure!(m.token_balance(token, to).await == U256::from(2 * TOKEN_AMOUNT + 1), "recipient received both transfers");
    Ok(rows)
}

async fn session_native() -> Result<Vec<Row>> {
    let m = fresh().await;
    let a = m.account(eth(1)).await;
    let to = existing_recipient(&m).await;
    let s = installed_session(&m, &a, 7, native_session_permissions(to)).await;
    let name = "Session-key native transfer (time range + allowlist + native spend limit)";
    let mut rows = Vec::new();
    for _ in 0..2 {
        let op = session_op(&m, &a, &s, &execute(to, U256::from(NATIVE_AMOUNT), Bytes::new())).await;
        rows.push(measure(&m, name, op).await?);
    }
    ensure!(m.balance(to).await == U256::from(2 * NATIVE_AMOUNT + 1), "recipient received both transfers");
    Ok(rows)
}

async fn session_erc20() -> Result<Vec<Row>> {
    let m = fresh().await;
    let a = m.account(eth(1)).await;
    let (token, to) = token_for(&m, &a).await?;
    let s = installed_session(&m, &a, 11, erc20_session_permissions(token)).await;
    let name = "Session-key ERC-20 transfer (time range + allowlist + ERC-20 spend limit)";
    let mut rows = Vec::new();
    for _ in 0..2 {
        let op = session_op(&m, &a, &s, &execute(token, U256::ZERO, transfer(to, TOKEN_AMOUNT))).await;
        rows.push(measure(&m, name, op).await?);
    }
    ensure!(m.token_balance(token, to).await == U256::from(2 * TOKEN_AMOUNT + 1), "recipient received both transfers");
    Ok(rows)
}

/// The session's first op carries the owner-signed install (deferred action) and does a native
/// transfer; `counterfactual` also makes it deploy the account (initCode) in the same op.
async fn deferred(counterfactual: bool) -> Result<Vec<Row>> {
    let m = fresh().await;
    let a = if counterfactual { m.counterfactual_account(eth(1)).await } else { m.account(eth(1)).await };
    let to = existing_recipient(&m).await;
    let expiry = m.now().await + SESSION_LIFETIME_SEC;
    let s = m.compile(&a, 5, native_session_permissions(to), expiry).await;
    let name = if counterfactual {
        "Deferred install + use + account creation in one op (initCode; native session as above, native transfer)"
    } else {
        "Deferred install + use in one op (deployed account; native session as above, native transfer)"
    };
    let op = m.deferred_session_op(&a, &s, &execute(to, U256::from(NATIVE_AMOUNT), Bytes::new())).await;
    ensure!(op.factory.is_some() == counterfactual, "initCode only for the counterfactual account");
    let mut rows = vec![measure(&m, name, op).await?];
    if !counterfactual {
        // The session's later ops carry no deferred action, hence use its regular nonce key (the
        // deferred bit is part of the key): a key used here for the first time.
        let then = "↳ same session's next ops (no deferred action, regular nonce key, native transfer)";
        for _ in 0..2 {
            let op = session_op(&m, &a, &s, &execute(to, U256::from(NATIVE_AMOUNT), Bytes::new())).await;
            rows.push(measure(&m, then, op).await?);
        }
        ensure!(m.balance(to).await == U256::from(3 * NATIVE_AMOUNT + 1), "recipient received the transfers");
    }
    Ok(rows)
}

fn print(rows: &[Row]) {
    println!(
        "| scenario | op of its nonce key | sender's EntryPoint deposit before | handleOps gasUsed | actualGasUsed (UserOperationEvent) | MAv2 reference |"
    );
    println!("|---|---|---|---:|---:|---|");
    for r in rows {
        let op_gas = r.op_gas.map_or_else(|| "—".to_string(), |g| g.to_string());
        println!("| {} | {} | {} | {} | {} | {} |", r.scenario, r.which_op, r.deposit, r.tx_gas, op_gas, r.reference);
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let profile = if cfg!(debug_assertions) { "debug" } else { "release" };
    println!("# Keyward gas report (issue 3)");
    println!();
    println!(
        "Embedded chain, EntryPoint v0.7, SemiModularAccountBytecode accounts from AccountFactory; one \
         user operation per handleOps bundle, sent by the bundler key; a fresh chain per scenario; \
         build profile: {profile} (gas figures do not depend on it)."
    );
    println!();
    let mut rows = Vec::new();
    rows.extend(creation_by_user_op().await.context("creation by user op")?);
    rows.extend(creation_at_runtime().await.context("creation at runtime")?);
    rows.extend(owner_native().await.context("owner native transfer")?);
    rows.extend(owner_erc20().await.context("owner ERC-20 transfer")?);
    rows.extend(session_native().await.context("session native transfer")?);
    rows.extend(session_erc20().await.context("session ERC-20 transfer")?);
    rows.extend(deferred(false).await.context("deferred install")?);
    rows.extend(deferred(true).await.context("deferred install with initCode")?);
    print(&rows);
    Ok(())
}
