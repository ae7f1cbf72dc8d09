//! The wallet service's requests and answers as domain values: alloy primitives, plain integers,
//! and enums that leave out the states a request cannot be in. The Wallet API's JSON, and the
//! conversions to and from it, live in `keyward-server`.

mod accounts;
mod calls;
mod sessions;
mod sign;
mod status;

pub use accounts::{AccountInfo, AccountPage, AccountRequest, AccountSetup, ListAccounts, NewAccount};
pub use calls::{
    Call, DelegationRequest, GasOverride, GasOverrides, GasPayment, PrepareCalls, Prepared, PreparedCalls, PreparedOp,
    SendPrepared, Sent, SignatureScheme, SignedDelegation, UserOpSignature,
};
pub use sessions::{CreateSession, CreatedSession};
pub use sign::{Capabilities, FormatSign, PrepareSign};
pub use status::{CallId, CallStatus};
