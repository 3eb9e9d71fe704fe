//! Key blinding, blinded signing keys, credential and subcredential (rend-spec-v3 §2.1
//! "Deriving blinded keys and subcredentials" and appendix A.2 "Tor's key derivation
//! scheme"; C tor `build_blinded_key_param`, `ed25519_donna_blind_*`,
//! `hs_get_subcredential`).
//!
//! - `h = SHA3-256("Derive temporary signing key" 0x00 | A | BASEPOINT_STR | N)` with
//!   `N = "key-blind" | INT_8(period_num) | INT_8(period_length)`. The NUL after the
//!   string constant is hashed (C tor hashes `sizeof` of a char array); the optional
//!   secret between `A` and the basepoint string is never used by tor.
//! - `h` is clamped like an X25519 scalar, then reduced mod ℓ; `A' = h·A`.
//! - The identity secret key is the 64-byte *expanded* key `(a, RH)`; the blinded one is
//!   `a' = h·a mod ℓ`, `RH' = SHA-512("Derive temporary signing key hash input" | RH)[..32]`,
//!   and signs as plain Ed25519 with `(a', RH', A')` (ed25519-dalek `hazmat::raw_sign`).
//! - `N_hs_cred = SHA3-256("credential" | A)`,
//!   `N_hs_subcred = SHA3-256("subcredential" | N_hs_cred | A')`.
//!
//! Deliberately not here: the HSDir ring indices, descriptor certificates and encryption.

use std::fmt;

use curve25519_dalek::constants::ED25519_BASEPOINT_TABLE;
use curve25519_dalek::edwards::CompressedEdwardsY;
use curve25519_dalek::scalar::{clamp_integer, Scalar};
use ed25519_dalek::hazmat::{raw_sign, ExpandedSecretKey};
use ed25519_dalek::{Signature, Verifier as _, VerifyingKey};
use rand_core::{CryptoRng, RngCore};
use sha2::Sha512;
use sha3::{Digest, Sha3_256};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::address::HsId;
use super::time::TimePeriod;

/// `BLIND_STRING` including its trailing NUL.
pub const BLIND_STRING: &[u8] = b"Derive temporary signing key\0";
/// `RH_BLIND_STRING` (no NUL: C tor hashes `strlen` of it).
pub const RH_BLIND_STRING: &[u8] = b"Derive temporary signing key hash input";
/// The Ed25519 basepoint as the decimal string hashed into `h`.
pub const ED25519_BASEPOINT_STR: &[u8] = b"(15112221349535400772501151409588531511454012693041857206046113283949847762202, 46316835694926478169428394003475163141307993866256225615783033603165251855960)";
/// Prefix of the blinding nonce `N`.
const KEYBLIND_NONCE_PREFIX: &[u8] = b"key-blind";

/// Why blinding or key handling failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BlindError {
    /// The public key bytes are not a point on the curve.
    #[error("public key is not a valid ed25519 point")]
    InvalidPoint,
    /// The secret key's public key is not a valid onion-service identity (its scalar is
    /// zero mod ℓ).
    #[error("secret key has no valid public key")]
    DegenerateSecret,
}

/// The blinding parameter `h` for `pubkey` in period `period_num` of length
/// `period_length_minutes` (before clamping; C tor `build_blinded_key_param`).
pub fn blinding_param(pubkey: &[u8; 32], period_num: u64, period_length_minutes: u64) -> [u8; 32] {
    Sha3_256::new()
        .chain_update(BLIND_STRING)
        .chain_update(pubkey)
        .chain_update(ED25519_BASEPOINT_STR)
        .chain_update(KEYBLIND_NONCE_PREFIX)
        .chain_update(period_num.to_be_bytes())
        .chain_update(period_length_minutes.to_be_bytes())
        .finalize()
        .into()
}

/// [`blinding_param`] for an identity in a time period.
pub fn blinding_param_for(id: &HsId, period: &TimePeriod) -> [u8; 32] {
    blinding_param(id.as_bytes(), period.num, u64::from(period.length_minutes))
}

/// The clamped blinding factor as a scalar mod ℓ.
fn blinding_factor(h: &[u8; 32]) -> Zeroizing<Scalar> {
    Zeroizing::new(Scalar::from_bytes_mod_order(clamp_integer(*h)))
}

/// A blinded public key `A'` (`KP_hs_blind_id`): the key under which a service's descriptor
/// is stored and signed in one time period.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlindedPublicKey(pub [u8; 32]);

impl BlindedPublicKey {
    /// The 32 key bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Verifies an Ed25519 signature made with the blinded secret key (RFC 8032, as
    /// ed25519-dalek's `verify`).
    pub fn verify(&self, msg: &[u8], sig: &[u8; 64]) -> bool {
        match VerifyingKey::from_bytes(&self.0) {
            Ok(vk) => vk.verify(msg, &Signature::from_bytes(sig)).is_ok(),
            Err(_) => false,
        }
    }
}

impl fmt::Debug for BlindedPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlindedPublicKey({})", hex::encode(self.0))
    }
}

/// `A' = clamp(h)·A` for arbitrary key bytes and an arbitrary `h` (C tor
/// `ed25519_public_blind`).
pub fn blind_public_key_with_param(
    pubkey: &[u8; 32],
    h: &[u8; 32],
) -> Result<BlindedPublicKey, BlindError> {
    let a = CompressedEdwardsY(*pubkey)
        .decompress()
        .ok_or(BlindError::InvalidPoint)?;
    Ok(BlindedPublicKey(
        (*blinding_factor(h) * a).compress().to_bytes(),
    ))
}

/// The blinded public key of `id` in `period`.
pub fn blind_public_key(id: &HsId, period: &TimePeriod) -> Result<BlindedPublicKey, BlindError> {
    blind_public_key_with_param(id.as_bytes(), &blinding_param_for(id, period))
}

/// `N_hs_cred = SHA3-256("credential" | A)`.
pub fn credential(id: &HsId) -> Zeroizing<[u8; 32]> {
    Zeroizing::new(
        Sha3_256::new()
            .chain_update(b"credential")
            .chain_update(id.as_bytes())
            .finalize()
            .into(),
    )
}

/// The subcredential `N_hs_subcred` of a service in one period: it keys the descriptor
/// encryption and the hs-ntor handshake.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct Subcredential([u8; 32]);

impl Subcredential {
    /// `SHA3-256("subcredential" | N_hs_cred | A')`.
    pub fn new(id: &HsId, blinded: &BlindedPublicKey) -> Self {
        let cred = credential(id);
        Subcredential(
            Sha3_256::new()
                .chain_update(b"subcredential")
                .chain_update(cred.as_ref())
                .chain_update(blinded.as_bytes())
                .finalize()
                .into(),
        )
    }

    /// Wraps known subcredential bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Subcredential(bytes)
    }

    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for Subcredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Subcredential(..)")
    }
}

/// A service's identity secret key (`KS_hs_id`) in C tor's expanded form: the clamped
/// scalar `a` (as stored, not reduced) followed by the 32-byte nonce prefix `RH`. Vanity
/// address tools produce keys in this form with no seed behind them.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct IdentitySecretKey {
    expanded: [u8; 64],
}

impl IdentitySecretKey {
    /// Wraps the 64 bytes `a | RH` as stored in `hs_ed25519_secret_key`.
    pub fn from_expanded_bytes(expanded: [u8; 64]) -> Self {
        IdentitySecretKey { expanded }
    }

    /// Expands a 32-byte Ed25519 seed as RFC 8032 does (`SHA-512`, clamp the first half).
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        let mut h = Zeroizing::new([0u8; 64]);
        h.copy_from_slice(&Sha512::digest(seed));
        let mut a = [0u8; 32];
        a.copy_from_slice(&h[..32]);
        let a = Zeroizing::new(clamp_integer(a));
        h[..32].copy_from_slice(a.as_ref());
        Self::from_expanded_bytes(*h)
    }

    /// A fresh random key (a random seed, expanded).
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        let mut seed = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(seed.as_mut());
        Self::from_seed(&seed)
    }

    /// The 64 expanded bytes `a | RH`, as stored.
    pub fn to_expanded_bytes(&self) -> Zeroizing<[u8; 64]> {
        Zeroizing::new(self.expanded)
    }

    fn dalek(&self) -> ExpandedSecretKey {
        let mut a = Zeroizing::new([0u8; 32]);
        a.copy_from_slice(&self.expanded[..32]);
        let mut hash_prefix = [0u8; 32];
        hash_prefix.copy_from_slice(&self.expanded[32..]);
        // Reduce, don't clamp: C tor's expand256_modm. (`ExpandedSecretKey::from_bytes`
        // would clamp, which is wrong for keys that were not made by clamping.)
        ExpandedSecretKey {
            scalar: Scalar::from_bytes_mod_order(*a),
            hash_prefix,
        }
    }

    /// The public identity key `A = a·B`, checked as an onion address key would be.
    pub fn public_key(&self) -> Result<HsId, BlindError> {
        let a = (ED25519_BASEPOINT_TABLE * &self.dalek().scalar).compress();
        HsId::from_bytes(a.to_bytes()).map_err(|_| BlindError::DegenerateSecret)
    }

    /// An Ed25519 signature with the identity key.
    pub fn sign(&self, msg: &[u8]) -> Result<[u8; 64], BlindError> {
        let esk = self.dalek();
        let vk = VerifyingKey::from(&esk);
        Ok(raw_sign::<Sha512>(&esk, msg, &vk).to_bytes())
    }

    /// The blinded keypair for `period`.
    pub fn blind(&self, period: &TimePeriod) -> Result<BlindedKeypair, BlindError> {
        let id = self.public_key()?;
        Ok(self.blind_with_param(&blinding_param_for(&id, period)))
    }

    /// The blinded keypair for an arbitrary parameter `h` (C tor `ed25519_keypair_blind`).
    pub fn blind_with_param(&self, h: &[u8; 32]) -> BlindedKeypair {
        let esk = self.dalek();
        let factor = blinding_factor(h);
        let mut rh = Zeroizing::new([0u8; 64]);
        rh.copy_from_slice(
            &Sha512::new()
                .chain_update(RH_BLIND_STRING)
                .chain_update(esk.hash_prefix)
                .finalize(),
        );
        let mut hash_prefix = [0u8; 32];
        hash_prefix.copy_from_slice(&rh[..32]);
        let secret = ExpandedSecretKey {
            scalar: esk.scalar * *factor,
            hash_prefix,
        };
        let public = VerifyingKey::from(&secret);
        BlindedKeypair { secret, public }
    }
}

impl fmt::Debug for IdentitySecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdentitySecretKey(..)")
    }
}

/// A blinded signing keypair (`KS_hs_blind_id`, `KP_hs_blind_id`) for one time period.
pub struct BlindedKeypair {
    secret: ExpandedSecretKey,
    public: VerifyingKey,
}

impl BlindedKeypair {
    /// The blinded public key `A'`.
    pub fn public_key(&self) -> BlindedPublicKey {
        BlindedPublicKey(self.public.to_bytes())
    }

    /// The 64 bytes `a' | RH'` as C tor lays them out (`a'` reduced mod ℓ).
    pub fn to_expanded_bytes(&self) -> Zeroizing<[u8; 64]> {
        let mut out = Zeroizing::new([0u8; 64]);
        out[..32].copy_from_slice(self.secret.scalar.as_bytes());
        out[32..].copy_from_slice(&self.secret.hash_prefix);
        out
    }

    /// An Ed25519 signature of `msg` by the blinded key.
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        raw_sign::<Sha512>(&self.secret, msg, &self.public).to_bytes()
    }
}

impl fmt::Debug for BlindedKeypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlindedKeypair({:?}, ..)", self.public_key())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::hs::time::TimePeriodParams;

    #[test]
    fn blind_round_trip() {
        let mut rng = rand::thread_rng();
        let sk = IdentitySecretKey::generate(&mut rng);
        let id = sk.public_key().unwrap();
        let period = TimePeriodParams::public_network_default().period(20_000);
        let kp = sk.blind(&period).unwrap();
        let pk = blind_public_key(&id, &period).unwrap();
        assert_eq!(kp.public_key(), pk);
        let sig = kp.sign(b"msg");
        assert!(pk.verify(b"msg", &sig));
        assert!(!pk.verify(b"msh", &sig));
        assert_eq!(
            Subcredential::new(&id, &pk),
            Subcredential::new(&id, &kp.public_key())
        );
        assert_eq!(format!("{sk:?}"), "IdentitySecretKey(..)");
        // A seed-derived key signs like a standard Ed25519 key.
        let seed = [7u8; 32];
        let std_key = ed25519_dalek::SigningKey::from_bytes(&seed);
        let ours = IdentitySecretKey::from_seed(&seed);
        assert_eq!(
            ours.public_key().unwrap().as_bytes(),
            std_key.verifying_key().as_bytes()
        );
        use ed25519_dalek::Signer as _;
        assert_eq!(ours.sign(b"x").unwrap(), std_key.sign(b"x").to_bytes());
    }

    #[test]
    fn bad_inputs() {
        // x = 0 with y = 2 is not on the curve.
        let mut off = [0u8; 32];
        off[0] = 2;
        assert_eq!(
            blind_public_key_with_param(&off, &[1; 32]),
            Err(BlindError::InvalidPoint)
        );
        let zero = IdentitySecretKey::from_expanded_bytes([0; 64]);
        assert_eq!(zero.public_key(), Err(BlindError::DegenerateSecret));
    }

    mod prop {
        use super::*;
        use crate::hs::time::TimePeriodParams;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(32))]
            #[test]
            fn secret_and_public_blinding_agree(seed: [u8; 32], num in any::<u64>(), len in 1u32..20000,
                                                msg in proptest::collection::vec(any::<u8>(), 0..100)) {
                let sk = IdentitySecretKey::from_seed(&seed);
                let id = sk.public_key().unwrap();
                let period = TimePeriodParams::from_parts(len, 43200).unwrap().period(num);
                let kp = sk.blind(&period).unwrap();
                let pk = blind_public_key(&id, &period).unwrap();
                prop_assert_eq!(kp.public_key(), pk);
                prop_assert!(pk.verify(&msg, &kp.sign(&msg)));
                prop_assert!(pk != BlindedPublicKey(*id.as_bytes()));
            }

            #[test]
            fn raw_blinding_never_panics(key: [u8; 32], h: [u8; 32]) {
                let _ = blind_public_key_with_param(&key, &h);
            }
        }
    }
}
