//! Low-level primitives shared by several handshakes: x25519 with the all-zero check,
//! constant-time comparison, and the digest/cipher type names used across the crate.
//!
//! Deliberately not here: anything protocol-specific.

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

pub use x25519_dalek::{PublicKey as X25519Public, StaticSecret as X25519Secret};

/// AES-128 in counter mode with a 128-bit big-endian counter (Tor's "AES-CTR").
pub type Aes128Ctr = ctr::Ctr128BE<aes::Aes128>;
/// AES-256 in counter mode with a 128-bit big-endian counter.
pub type Aes256Ctr = ctr::Ctr128BE<aes::Aes256>;

/// A Diffie-Hellman output was all zeros: the peer's key has small order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("x25519 shared secret is all zeros (peer key of small order)")]
pub struct NonContributory;

/// X25519 that refuses the all-zero output, as every Tor handshake must
/// (tor-spec §5.1.4 "ntor", proposal 332).
pub fn x25519(
    secret: &X25519Secret,
    public: &X25519Public,
) -> Result<Zeroizing<[u8; 32]>, NonContributory> {
    let shared = secret.diffie_hellman(public);
    if !shared.was_contributory() {
        return Err(NonContributory);
    }
    Ok(Zeroizing::new(*shared.as_bytes()))
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_point_is_refused() {
        let s = X25519Secret::from([7u8; 32]);
        let zero = X25519Public::from([0u8; 32]);
        assert_eq!(x25519(&s, &zero), Err(NonContributory));
        let good = X25519Public::from(&X25519Secret::from([9u8; 32]));
        assert!(x25519(&s, &good).is_ok());
    }

    #[test]
    fn ct_eq_works() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }
}
