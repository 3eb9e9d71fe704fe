//! Ed25519 keypairs kept as C tor keeps them: the 64-byte *expanded* secret key
//! (`a || RH`, where `a` is the clamped scalar and `RH` the nonce prefix), which is what the
//! `ed25519_master_id_secret_key` and `ed25519_signing_secret_key` files hold. There is no
//! seed to go back to, so signing goes through `ed25519_dalek::hazmat::raw_sign`.
//!
//! The raw 64 bytes are kept (zeroized on drop) so that writing a key back gives the same
//! file, byte for byte, even though the signing scalar is reduced modulo the group order.

use ed25519_dalek::hazmat::{raw_sign, ExpandedSecretKey};
use ed25519_dalek::{Signature, VerifyingKey};
use rand_core::{CryptoRng, RngCore};
use sha2::{Digest as _, Sha512};
use zeroize::Zeroizing;

use crate::cert::{CertError, Ed25519CertBuilder};
use crate::ids::Ed25519Identity;

/// An Ed25519 keypair held as an expanded secret key (C tor's on-disk form).
pub struct ExpandedKeypair {
    raw: Zeroizing<[u8; 64]>,
    secret: ExpandedSecretKey,
    public: VerifyingKey,
}

impl ExpandedKeypair {
    /// A new key, made as C tor does: a random 32-byte seed, SHA-512, the first half
    /// clamped. Only the expanded form is kept.
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        let mut seed = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(&mut seed[..]);
        let mut raw = Zeroizing::new([0u8; 64]);
        raw.copy_from_slice(&Sha512::digest(&seed[..]));
        raw[0] &= 248;
        raw[31] &= 63;
        raw[31] |= 64;
        Self::from_bytes(&raw)
    }

    /// The keypair for an expanded secret key as stored in a key file.
    pub fn from_bytes(raw: &[u8; 64]) -> Self {
        let secret = ExpandedSecretKey::from_bytes(raw);
        let public = VerifyingKey::from(&secret);
        ExpandedKeypair {
            raw: Zeroizing::new(*raw),
            secret,
            public,
        }
    }

    /// The expanded secret key as stored in a key file (zeroized on drop).
    pub fn to_bytes(&self) -> Zeroizing<[u8; 64]> {
        Zeroizing::new(*self.raw)
    }

    /// The public key.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.public
    }

    /// The public key as an identity.
    pub fn public(&self) -> Ed25519Identity {
        Ed25519Identity(self.public.to_bytes())
    }

    /// Signs `msg` (no prefix added).
    pub fn sign(&self, msg: &[u8]) -> Signature {
        raw_sign::<Sha512>(&self.secret, msg, &self.public)
    }

    /// Signs a certificate with this key.
    pub fn sign_cert(&self, builder: &Ed25519CertBuilder) -> Result<Vec<u8>, CertError> {
        builder.sign_expanded(&self.secret, &self.public)
    }
}

impl Clone for ExpandedKeypair {
    fn clone(&self) -> Self {
        Self::from_bytes(&self.raw)
    }
}

impl std::fmt::Debug for ExpandedKeypair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ExpandedKeypair(public {})", self.public())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use ed25519_dalek::{SigningKey, Verifier as _};
    use rand::SeedableRng;

    #[test]
    fn same_key_as_from_seed_and_round_trips() {
        // An expanded key made from a seed signs exactly as the seed's SigningKey does.
        let seed = [42u8; 32];
        let mut raw = [0u8; 64];
        raw.copy_from_slice(&Sha512::digest(seed));
        raw[0] &= 248;
        raw[31] &= 63;
        raw[31] |= 64;
        let k = ExpandedKeypair::from_bytes(&raw);
        let sk = SigningKey::from_bytes(&seed);
        assert_eq!(k.verifying_key(), &sk.verifying_key());
        use ed25519_dalek::Signer as _;
        assert_eq!(k.sign(b"msg"), sk.sign(b"msg"));
        assert_eq!(*k.to_bytes(), raw);
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let g = ExpandedKeypair::generate(&mut rng);
        g.verifying_key()
            .verify(b"x", &g.sign(b"x"))
            .expect("verifies");
        assert!(format!("{g:?}").starts_with("ExpandedKeypair(public "));
        assert_eq!(g.clone().public(), g.public());
    }
}
