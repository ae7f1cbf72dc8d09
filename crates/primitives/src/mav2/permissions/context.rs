//! `permissions.context` of the Wallet API (wallet-api.md §5.3): versions 0x00 (remote deferred),
//! 0x01 (local deferred) and 0x02 (a key installed already).

use alloy::primitives::Bytes;

/// `permissions.context` of the Wallet API (wallet-api.md §5.3).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PermissionsContext {
    /// `0x00 ‖ sessionId (16) ‖ ownerSignature`: remote mode, the server keeps the session.
    RemoteDeferred {
        /// Server-chosen session id.
        session_id: [u8; 16],
        /// The owner's raw signature over the DeferredAction (65 bytes for ECDSA).
        owner_signature: Bytes,
    },
    /// `0x01 ‖ encoded deferred action`: local mode.
    LocalDeferred(Bytes),
    /// `0x02 ‖ isGlobal (1) ‖ entityId (4)`: a key installed on-chain already.
    NonDeferred {
        /// Whether the validation is global.
        is_global: bool,
        /// The validation's entity id.
        entity_id: u32,
    },
}

/// Errors decoding `permissions.context`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ContextError {
    /// Empty context.
    #[error("permissions context is empty")]
    Empty,
    /// Unknown version byte.
    #[error("permissions context version 0x{0:02x} is unknown (0x00, 0x01, 0x02)")]
    UnknownVersion(u8),
    /// Wrong length for the version.
    #[error("permissions context version 0x{version:02x} has {got} bytes after the version, expected {expected}")]
    BadLength {
        /// Version byte.
        version: u8,
        /// Bytes found.
        got: usize,
        /// What the version requires.
        expected: &'static str,
    },
    /// The `isGlobal` byte of version 0x02 is neither 0 nor 1.
    #[error("permissions context isGlobal byte 0x{0:02x} is neither 0x00 nor 0x01")]
    BadGlobalFlag(u8),
}

impl PermissionsContext {
    /// The wire bytes.
    pub fn encode(&self) -> Bytes {
        let mut out = Vec::new();
        match self {
            Self::RemoteDeferred { session_id, owner_signature } => {
                out.push(0x00);
                out.extend_from_slice(session_id);
                out.extend_from_slice(owner_signature);
            }
            Self::LocalDeferred(data) => {
                out.push(0x01);
                out.extend_from_slice(data);
            }
            Self::NonDeferred { is_global, entity_id } => {
                out.push(0x02);
                out.push(*is_global as u8);
                out.extend_from_slice(&entity_id.to_be_bytes());
            }
        }
        out.into()
    }

    /// Reads the wire bytes.
    pub fn decode(data: &[u8]) -> Result<Self, ContextError> {
        let (&version, rest) = data.split_first().ok_or(ContextError::Empty)?;
        match version {
            0x00 => {
                if rest.len() <= 16 {
                    return Err(ContextError::BadLength { version, got: rest.len(), expected: "16 + signature" });
                }
                let mut session_id = [0u8; 16];
                session_id.copy_from_slice(&rest[..16]);
                Ok(Self::RemoteDeferred { session_id, owner_signature: Bytes::copy_from_slice(&rest[16..]) })
            }
            0x01 => {
                if rest.is_empty() {
                    return Err(ContextError::BadLength { version, got: 0, expected: "at least 1" });
                }
                Ok(Self::LocalDeferred(Bytes::copy_from_slice(rest)))
            }
            0x02 => {
                if rest.len() != 5 {
                    return Err(ContextError::BadLength { version, got: rest.len(), expected: "5" });
                }
                let is_global = match rest[0] {
                    0 => false,
                    1 => true,
                    b => return Err(ContextError::BadGlobalFlag(b)),
                };
                Ok(Self::NonDeferred { is_global, entity_id: u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]) })
            }
            v => Err(ContextError::UnknownVersion(v)),
        }
    }
}
