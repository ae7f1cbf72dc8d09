//! The EVM's `ecrecover` precompile, remembered: one signed operation is recovered by every EVM run
//! that validates it — the admission's traced simulation, the bundle's simulation, the block that
//! includes it — with the same input each time. revm's crypto provider is process-wide, so
//! [`install`] puts a [`RecoverMemo`] in front of the default implementation once, for the embedded
//! chain and the RPC chain's local simulations alike; [`recover_address`] reads the same memo, so a
//! signature the server checks before submitting it (the wallet checks a session key's) is not
//! recovered again by the admission's validation. Recovery is a pure function of its input:
//! remembering it changes no result and no gas (the precompile charges before calling it).

use std::fmt;
use std::num::NonZeroUsize;
use std::sync::Mutex;

use alloy::primitives::Address;
use lru::LruCache;
use revm::precompile::{Crypto, DefaultCrypto, PrecompileHalt};

/// Recoveries remembered (about 130 bytes each).
const REMEMBERED: NonZeroUsize = NonZeroUsize::new(8192).unwrap();

/// The input of one recovery: signature (r ‖ s), recovery id, message hash.
type RecoverInput = ([u8; 64], u8, [u8; 32]);

/// revm's default crypto with `secp256k1_ecrecover` remembered (success or failure alike).
pub struct RecoverMemo {
    memo: Mutex<LruCache<RecoverInput, Option<[u8; 32]>>>,
}

impl Default for RecoverMemo {
    fn default() -> Self {
        Self { memo: Mutex::new(LruCache::new(REMEMBERED)) }
    }
}

impl fmt::Debug for RecoverMemo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecoverMemo").finish_non_exhaustive()
    }
}

impl RecoverMemo {
    /// How many recoveries are remembered now.
    pub fn remembered(&self) -> usize {
        self.memo.lock().map(|m| m.len()).unwrap_or(0)
    }
}

impl Crypto for RecoverMemo {
    fn secp256k1_ecrecover(&self, sig: &[u8; 64], recid: u8, msg: &[u8; 32]) -> Result<[u8; 32], PrecompileHalt> {
        let key = (*sig, recid, *msg);
        let known = self.memo.lock().ok().and_then(|mut m| m.get(&key).copied());
        let recovered = match known {
            Some(recovered) => recovered,
            None => {
                let recovered = DefaultCrypto.secp256k1_ecrecover(sig, recid, msg).ok();
                if let Ok(mut m) = self.memo.lock() {
                    m.put(key, recovered);
                }
                recovered
            }
        };
        recovered.ok_or(PrecompileHalt::Secp256k1RecoverFailed)
    }
}

/// The process's memo: revm's provider once [`install`]ed, and [`recover_address`].
static SHARED: std::sync::LazyLock<RecoverMemo> = std::sync::LazyLock::new(RecoverMemo::default);

/// revm's crypto provider reading [`SHARED`].
#[derive(Debug)]
struct SharedMemo;

impl Crypto for SharedMemo {
    fn secp256k1_ecrecover(&self, sig: &[u8; 64], recid: u8, msg: &[u8; 32]) -> Result<[u8; 32], PrecompileHalt> {
        SHARED.secp256k1_ecrecover(sig, recid, msg)
    }
}

/// Installs the process's [`RecoverMemo`] as revm's crypto provider, once per process (later calls,
/// or a provider installed before, leave it as it is).
pub fn install() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if !revm::install_crypto(SharedMemo) {
            tracing::debug!("revm's crypto provider was installed before: ecrecover is not remembered");
        }
    });
}

/// The address that signed the prehashed `msg` with `signature`, recovered through the process's
/// memo: a server that checks a signature before submitting the operation carrying it (the wallet
/// checks a session key's) spares the EVM's `ecrecover` of the same input its own recovery.
pub fn recover_address(msg: &alloy::primitives::B256, signature: &alloy::primitives::Signature) -> Option<Address> {
    let rs: [u8; 64] = signature.as_bytes()[..64].try_into().ok()?;
    let recovered = SHARED.secp256k1_ecrecover(&rs, u8::from(signature.v()), &msg.0).ok()?;
    Some(Address::from_slice(&recovered[12..]))
}

#[cfg(test)]
mod tests {
    use alloy::primitives::{B256, keccak256};
    use alloy::signers::SignerSync;
    use alloy::signers::local::PrivateKeySigner;

    use super::*;

    /// The memo answers what revm's default answers, for a good signature and a bad one, the second
    /// time from memory.
    #[test]
    fn remembers_what_the_default_recovers() {
        let key = PrivateKeySigner::random();
        let msg = keccak256(b"an operation");
        let sig = key.sign_hash_sync(&msg).unwrap();
        let rs: [u8; 64] = sig.as_bytes()[..64].try_into().unwrap();
        let recid = u8::from(sig.v());
        let memo = RecoverMemo::default();
        let expected = DefaultCrypto.secp256k1_ecrecover(&rs, recid, &msg.0).unwrap();
        assert_eq!(&expected[12..], key.address().as_slice());
        assert_eq!(memo.secp256k1_ecrecover(&rs, recid, &msg.0).unwrap(), expected);
        assert_eq!(memo.remembered(), 1);
        assert_eq!(memo.secp256k1_ecrecover(&rs, recid, &msg.0).unwrap(), expected);
        assert_eq!(memo.remembered(), 1, "the second recovery came from memory");

        let other = B256::repeat_byte(7);
        assert_eq!(
            memo.secp256k1_ecrecover(&rs, recid, &other.0).ok(),
            DefaultCrypto.secp256k1_ecrecover(&rs, recid, &other.0).ok(),
            "another message recovers another address (or none), not the remembered one"
        );
        let zero = [0u8; 64];
        assert!(memo.secp256k1_ecrecover(&zero, 0, &msg.0).is_err());
        assert!(memo.secp256k1_ecrecover(&zero, 0, &msg.0).is_err(), "a failure is remembered as a failure");
        assert_eq!(memo.remembered(), 3);
    }

    /// `recover_address` recovers what alloy recovers, and leaves it where the EVM's precompile
    /// finds it.
    #[test]
    fn a_recovery_outside_the_evm_is_remembered_for_it() {
        let key = PrivateKeySigner::random();
        let msg = keccak256(b"a session key's operation");
        let sig = key.sign_hash_sync(&msg).unwrap();
        assert_eq!(recover_address(&msg, &sig), Some(key.address()));
        assert_eq!(recover_address(&msg, &sig), sig.recover_address_from_prehash(&msg).ok());
        let rs: [u8; 64] = sig.as_bytes()[..64].try_into().unwrap();
        let input = (rs, u8::from(sig.v()), msg.0);
        assert!(SHARED.memo.lock().unwrap().contains(&input), "the provider will answer from the memo");
        let evm = SharedMemo.secp256k1_ecrecover(&rs, u8::from(sig.v()), &msg.0).unwrap();
        assert_eq!(&evm[12..], key.address().as_slice());
    }
}
