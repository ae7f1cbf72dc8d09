//! Errors of the store: opening and migrating, the mempool, the bundles table. A failed statement
//! is a [`DbError`] (the driver's error kept as its source), which every repository's error wraps.

use alloy::primitives::{Address, B256};

/// A statement that failed in the database, or a row it returned that does not decode.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The statement (or the connection) failed.
    #[error("database error: {0}")]
    Statement(#[source] sqlx::Error),
    /// A returned row does not decode (wrong format in a column).
    #[error("corrupt row: {0}")]
    Decode(#[source] sqlx::Error),
}

impl From<sqlx::Error> for DbError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::ColumnDecode { .. } | sqlx::Error::ColumnNotFound(_) | sqlx::Error::Decode(_) => {
                Self::Decode(e)
            }
            other => Self::Statement(other),
        }
    }
}

/// `From<sqlx::Error>` for an error wrapping [`DbError`] (as its `Db` variant), so `?` on a
/// statement's result converts in one step; the classification is [`DbError`]'s.
macro_rules! wraps_db_error {
    ($($error:ty),+) => {$(
        impl From<sqlx::Error> for $error {
            fn from(e: sqlx::Error) -> Self {
                Self::Db(DbError::from(e))
            }
        }
    )+};
}
pub(crate) use wraps_db_error;

/// Errors of opening a store and of the non-mempool repositories (bundles).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL is malformed or names an unsupported backend.
    #[error("invalid database URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given, with any password masked.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// Connecting to the database (or creating the SQLite file) failed.
    #[error("cannot open database {url:?}: {reason}")]
    Open {
        /// The URL, with any password masked.
        url: String,
        /// The driver's message.
        reason: String,
    },
    /// The embedded migrations could not be applied.
    #[error("database migration failed: {0}")]
    Migrate(String),
    /// A statement failed, or a row it returned does not decode.
    #[error(transparent)]
    Db(#[from] DbError),
    /// A stored row cannot be decoded (wrong format in a column).
    #[error("corrupt row in the store: {0}")]
    Corrupt(String),
    /// A value cannot be stored (out of the column's range).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The row to update does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The write's role lease passed to another holder: this replica may write nothing for it.
    #[error("the lease of role {0} is held by another replica now")]
    LeaseLost(String),
    /// Committed writes could not be made durable (the fsync of the SQLite WAL failed).
    #[error("the store could not sync its writes to disk: {0}")]
    Sync(String),
}

/// Errors of the mempool repository.
#[derive(Debug, thiserror::Error)]
pub enum MempoolError {
    /// A replacement for a pending op with the same sender and nonce does not pay enough more.
    #[error(
        "replacement underpriced: needs maxFeePerGas >= {needed_max_fee} and \
         maxPriorityFeePerGas >= {needed_priority_fee} (old fees + 10%)"
    )]
    Underpriced {
        /// The lowest accepted maxFeePerGas.
        needed_max_fee: u128,
        /// The lowest accepted maxPriorityFeePerGas.
        needed_priority_fee: u128,
    },
    /// The sender already has as many unfinished ops as allowed.
    #[error("sender {sender} already has {cap} pending or submitted user operations (the limit)")]
    SenderCap {
        /// The sender at its limit.
        sender: Address,
        /// The limit.
        cap: usize,
    },
    /// No op with this hash for this chain and EntryPoint.
    #[error("user operation {hash} not found")]
    NotFound {
        /// The userOpHash looked up.
        hash: B256,
    },
    /// The op is in a status from which the requested change is not allowed.
    #[error("user operation {hash} is {from}, cannot become {to}")]
    InvalidTransition {
        /// The userOpHash.
        hash: B256,
        /// Its current status.
        from: String,
        /// The requested status.
        to: String,
    },
    /// A value cannot be stored (out of the column's range).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A statement failed, or a row it returned does not decode.
    #[error(transparent)]
    Db(#[from] DbError),
    /// A stored row cannot be decoded (wrong format in a column).
    #[error("corrupt row in the mempool: {0}")]
    Corrupt(String),
    /// The write's role lease passed to another holder: this replica may write nothing for it.
    #[error("the lease of role {0} is held by another replica now")]
    LeaseLost(String),
}

wraps_db_error!(StoreError, MempoolError);

/// A column value that failed to decode or a Rust value that does not fit its column.
#[derive(Debug)]
pub(crate) enum CodecError {
    /// A stored value has the wrong format.
    Corrupt(String),
    /// A value to store is out of range.
    Input(String),
}

impl From<CodecError> for MempoolError {
    fn from(e: CodecError) -> Self {
        match e {
            CodecError::Corrupt(m) => MempoolError::Corrupt(m),
            CodecError::Input(m) => MempoolError::InvalidInput(m),
        }
    }
}

impl From<CodecError> for StoreError {
    fn from(e: CodecError) -> Self {
        match e {
            CodecError::Corrupt(m) => StoreError::Corrupt(m),
            CodecError::Input(m) => StoreError::InvalidInput(m),
        }
    }
}
