//! The two onion-key cross-certifications of a relay descriptor (dir-spec §2.1.1, appendix
//! C; wire brief §10.2), which prove the relay holds the private halves of its onion keys.
//!
//! - `ntor-onion-key-crosscert <bit>`: an Ed25519 certificate of type 0A certifying the
//!   relay's Ed25519 identity, signed by an Ed25519 key *derived from the curve25519 ntor
//!   onion key*: scalar = the clamped curve25519 secret, nonce prefix =
//!   `SHA512(secret | "Derive high part of ed25519 key from curve25519 key\0")[0..32]`.
//!   Verifiers get that key from the public curve25519 key by the Montgomery→Edwards map
//!   `y = (u−1)/(u+1)` plus the sign bit published next to the certificate.
//! - `onion-key-crosscert` (object `CROSSCERT`): a prefixless PKCS#1 v1.5 signature by the
//!   RSA TAP onion key over the 52 bytes `SHA1(DER(RSA identity)) | KP_relayid_ed` (not
//!   hashed again). C tor checks that the recovered data is at least 52 bytes and starts
//!   with them.
//!
//! Never sign anything else with the derived key: the construction is only for this.

use std::time::SystemTime;

use curve25519_dalek::montgomery::MontgomeryPoint;
use curve25519_dalek::scalar::clamp_integer;
use ed25519_dalek::hazmat::ExpandedSecretKey;
use ed25519_dalek::VerifyingKey;
use sha2::{Digest as _, Sha512};
use zeroize::Zeroizing;

use super::builder::Ed25519CertBuilder;
use super::ed25519::{Ed25519Cert, VerifiedEd25519Cert};
use super::{CertError, CertType};
use crate::crypto::ll::{ct_eq, X25519Public, X25519Secret};
use crate::crypto::rsa::{RsaKeypair, RsaPublic};
use crate::ids::{Ed25519Identity, RsaIdentity};

/// The string hashed after the curve25519 secret to make the nonce prefix (with its NUL).
const DERIVE_STRING: &[u8] = b"Derive high part of ed25519 key from curve25519 key\0";

/// The Ed25519 signing key derived from a curve25519 ntor onion key.
pub struct NtorCrosscertKey {
    secret: ExpandedSecretKey,
    public: VerifyingKey,
    sign_bit: u8,
}

impl NtorCrosscertKey {
    /// Derives the key from the curve25519 secret, as C tor's
    /// `ed25519_keypair_from_curve25519_keypair` (the secret is clamped first, so the
    /// result depends only on the effective x25519 key).
    pub fn derive(onion_secret: &X25519Secret) -> Result<Self, CertError> {
        let clamped = Zeroizing::new(clamp_integer(onion_secret.to_bytes()));
        let mut expanded = Zeroizing::new([0u8; 64]);
        expanded[..32].copy_from_slice(&clamped[..]);
        let h = Zeroizing::new(<[u8; 64]>::from(
            Sha512::new()
                .chain_update(&clamped[..])
                .chain_update(DERIVE_STRING)
                .finalize(),
        ));
        expanded[32..].copy_from_slice(&h[..32]);
        let secret = ExpandedSecretKey::from_bytes(&expanded);
        let public = VerifyingKey::from(&secret);
        let sign_bit = public.as_bytes()[31] >> 7;
        // As C tor asserts: the public conversion must give the same key.
        let check = ed25519_from_curve25519_public(&X25519Public::from(onion_secret), sign_bit)?;
        if check != public {
            return Err(CertError::InvalidPublicKey);
        }
        Ok(NtorCrosscertKey {
            secret,
            public,
            sign_bit,
        })
    }

    /// The derived Ed25519 public key.
    pub fn public(&self) -> &VerifyingKey {
        &self.public
    }

    /// The sign bit published as `ntor-onion-key-crosscert <bit>` (0 or 1).
    pub fn sign_bit(&self) -> u8 {
        self.sign_bit
    }

    /// The expanded secret key (for [`Ed25519CertBuilder::sign_expanded`]).
    pub fn expanded_secret(&self) -> &ExpandedSecretKey {
        &self.secret
    }
}

impl std::fmt::Debug for NtorCrosscertKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NtorCrosscertKey")
            .field("public", &self.public)
            .field("sign_bit", &self.sign_bit)
            .finish_non_exhaustive()
    }
}

/// The Ed25519 public key for a curve25519 public key and a sign bit (0 or 1), as C tor's
/// `ed25519_public_key_from_curve25519_public_key`. Fails if the sign bit is not 0 or 1 or
/// the result is not a valid Ed25519 point.
pub fn ed25519_from_curve25519_public(
    public: &X25519Public,
    sign_bit: u8,
) -> Result<VerifyingKey, CertError> {
    if sign_bit > 1 {
        return Err(CertError::InvalidPublicKey);
    }
    let ed = MontgomeryPoint(public.to_bytes())
        .to_edwards(sign_bit)
        .ok_or(CertError::InvalidPublicKey)?;
    VerifyingKey::from_bytes(ed.compress().as_bytes()).map_err(|_| CertError::InvalidPublicKey)
}

/// Makes the `ntor-onion-key-crosscert` certificate (type 0A, no signing-key extension,
/// as C tor) certifying `relay_identity`; returns its bytes and the sign bit.
pub fn make_ntor_onion_key_crosscert(
    onion_secret: &X25519Secret,
    relay_identity: &Ed25519Identity,
    expiry: SystemTime,
) -> Result<(Vec<u8>, u8), CertError> {
    let key = NtorCrosscertKey::derive(onion_secret)?;
    let bytes = Ed25519CertBuilder::new(CertType::NTOR_CC_IDENTITY, *relay_identity)
        .expiration(expiry)?
        .sign_expanded(&key.secret, &key.public)?;
    Ok((bytes, key.sign_bit))
}

/// Checks an `ntor-onion-key-crosscert`: type 0A, signed by the key derived from
/// `onion_public` and `sign_bit`, certifying `relay_identity`, unexpired at `now`.
pub fn check_ntor_onion_key_crosscert(
    cert: &[u8],
    onion_public: &X25519Public,
    sign_bit: u8,
    relay_identity: &Ed25519Identity,
    now: SystemTime,
) -> Result<VerifiedEd25519Cert, CertError> {
    let unchecked = Ed25519Cert::decode(cert)?;
    unchecked.peek().expect_type(CertType::NTOR_CC_IDENTITY)?;
    let key = ed25519_from_curve25519_public(onion_public, sign_bit)?;
    let verified = unchecked.check_signature(Some(&key))?.check_valid_at(now)?;
    if verified.cert().certified_ed25519()? != *relay_identity {
        return Err(CertError::KeyMismatch);
    }
    Ok(verified)
}

/// The 52 bytes the TAP crosscert signs.
fn tap_signed_data(rsa_identity: &RsaIdentity, ed_identity: &Ed25519Identity) -> [u8; 52] {
    let mut d = [0u8; 52];
    d[..20].copy_from_slice(&rsa_identity.0);
    d[20..].copy_from_slice(&ed_identity.0);
    d
}

/// Makes the `onion-key-crosscert` signature with the TAP onion key (the body of the
/// `CROSSCERT` object).
pub fn make_tap_onion_key_crosscert(
    tap_key: &RsaKeypair,
    rsa_identity: &RsaIdentity,
    ed_identity: &Ed25519Identity,
) -> Result<Vec<u8>, CertError> {
    Ok(tap_key.sign(&tap_signed_data(rsa_identity, ed_identity))?)
}

/// Checks an `onion-key-crosscert` signature under the TAP onion key, as C tor's
/// `check_tap_onion_key_crosscert`.
pub fn check_tap_onion_key_crosscert(
    signature: &[u8],
    tap_public: &RsaPublic,
    rsa_identity: &RsaIdentity,
    ed_identity: &Ed25519Identity,
) -> Result<(), CertError> {
    let recovered = tap_public
        .recover(signature)
        .map_err(|_| CertError::BadSignature)?;
    let want = tap_signed_data(rsa_identity, ed_identity);
    match recovered.get(..want.len()) {
        Some(prefix) if ct_eq(prefix, &want) => Ok(()),
        _ => Err(CertError::BadSignature),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::cert::time_from_expiry_hours;

    #[test]
    fn ntor_crosscert_round_trip() {
        for seed in 0u8..8 {
            let secret = X25519Secret::from([seed.wrapping_mul(37).wrapping_add(1); 32]);
            let id = Ed25519Identity([seed; 32]);
            let t = time_from_expiry_hours(480_000);
            let (bytes, bit) = make_ntor_onion_key_crosscert(&secret, &id, t).unwrap();
            let public = X25519Public::from(&secret);
            let v = check_ntor_onion_key_crosscert(&bytes, &public, bit, &id, t).unwrap();
            assert_eq!(v.cert().cert_type(), CertType::NTOR_CC_IDENTITY);
            assert!(v.cert().included_signing_key().is_none());
            // Wrong sign bit or identity fails.
            assert!(check_ntor_onion_key_crosscert(&bytes, &public, bit ^ 1, &id, t).is_err());
            assert_eq!(
                check_ntor_onion_key_crosscert(
                    &bytes,
                    &public,
                    bit,
                    &Ed25519Identity([0xee; 32]),
                    t
                ),
                Err(CertError::KeyMismatch)
            );
            assert!(check_ntor_onion_key_crosscert(&bytes, &public, 2, &id, t).is_err());
        }
    }
}
