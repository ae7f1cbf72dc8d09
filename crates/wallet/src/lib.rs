//! The Wallet API service (wallet-api.md): accounts, sessions, prepare/send/status, signing helpers.
#![warn(missing_docs)]
