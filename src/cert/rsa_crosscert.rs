//! The RSA→Ed25519 cross-certificate (cert-spec §2.3; CERTS cell type 7): the relay's
//! RSA-1024 identity vouches for its Ed25519 identity.
//!
//! Wire layout: `ED25519_KEY [32] · EXPIRATION u32 (hours) · SIGLEN u8 · SIGNATURE[SIGLEN]`.
//! The signature is prefixless PKCS#1 v1.5 by the RSA identity over
//! `SHA256("Tor TLS RSA/Ed25519 cross-certificate" | ED25519_KEY | EXPIRATION)`.
//! Checking follows C tor's `rsa_ed25519_crosscert_check`: exact length, the recovered
//! data must be at least 32 bytes and start with that digest, and the certificate is
//! valid through its expiration instant.

use std::time::SystemTime;

use sha2::{Digest as _, Sha256};

use super::{expiry_hours_ceil, is_expired, time_from_expiry_hours, CertError};
use crate::crypto::ll::ct_eq;
use crate::crypto::rsa::{RsaKeypair, RsaPublic};
use crate::ids::Ed25519Identity;
use crate::wire::{EncodeError, Reader, Writer};

/// The personalization string hashed before the signed fields.
pub const RSA_CROSSCERT_PREFIX: &[u8] = b"Tor TLS RSA/Ed25519 cross-certificate";

/// A decoded RSA→Ed25519 cross-certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsaCrosscert {
    ed25519_key: Ed25519Identity,
    expiry_hours: u32,
    signature: Vec<u8>,
}

/// `SHA256(prefix | key | expiration)`: the value the RSA signature covers.
fn crosscert_digest(key: &Ed25519Identity, expiry_hours: u32) -> [u8; 32] {
    Sha256::new()
        .chain_update(RSA_CROSSCERT_PREFIX)
        .chain_update(key.0)
        .chain_update(expiry_hours.to_be_bytes())
        .finalize()
        .into()
}

impl RsaCrosscert {
    /// Decodes a cross-certificate that must occupy all of `bytes`.
    pub fn decode(bytes: &[u8]) -> Result<UncheckedRsaCrosscert, CertError> {
        let mut r = Reader::new(bytes);
        let ed25519_key = Ed25519Identity(r.take_array::<32>("crosscert ed25519 key")?);
        let expiry_hours = r.take_u32("crosscert expiration")?;
        let signature = r.take_u8_prefixed("crosscert signature")?.to_vec();
        r.expect_exhausted("RSA->Ed25519 crosscert")?;
        Ok(UncheckedRsaCrosscert(RsaCrosscert {
            ed25519_key,
            expiry_hours,
            signature,
        }))
    }

    /// Makes and encodes a cross-certificate: `identity` certifies `ed25519_key` until at
    /// least `expiry` (rounded up to the hour).
    pub fn sign(
        identity: &RsaKeypair,
        ed25519_key: &Ed25519Identity,
        expiry: SystemTime,
    ) -> Result<Vec<u8>, CertError> {
        let expiry_hours = expiry_hours_ceil(expiry)?;
        let signature = identity.sign(&crosscert_digest(ed25519_key, expiry_hours))?;
        let cc = RsaCrosscert {
            ed25519_key: *ed25519_key,
            expiry_hours,
            signature,
        };
        Ok(cc.encode()?)
    }

    /// The wire encoding.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        let mut v = Vec::with_capacity(37 + self.signature.len());
        v.write_all(&self.ed25519_key.0);
        v.write_u32(self.expiry_hours);
        v.write_u8_prefixed("crosscert signature", &self.signature)?;
        Ok(v)
    }

    /// The certified Ed25519 identity.
    pub fn ed25519_key(&self) -> &Ed25519Identity {
        &self.ed25519_key
    }

    /// EXPIRATION_DATE in hours since the epoch.
    pub fn expiry_hours(&self) -> u32 {
        self.expiry_hours
    }

    /// The instant after which the certificate is expired.
    pub fn expiry(&self) -> SystemTime {
        time_from_expiry_hours(self.expiry_hours)
    }

    /// The RSA signature bytes.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// The SHA-256 digest the signature must cover.
    pub fn digest(&self) -> [u8; 32] {
        crosscert_digest(&self.ed25519_key, self.expiry_hours)
    }
}

/// A cross-certificate whose signature has not been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UncheckedRsaCrosscert(RsaCrosscert);

impl UncheckedRsaCrosscert {
    /// The fields, before checking.
    pub fn peek(&self) -> &RsaCrosscert {
        &self.0
    }

    /// Checks the signature under the RSA identity key `rsa_identity` (the type-2 cert's
    /// key): the recovered data must start with the digest, as in C tor.
    pub fn check_signature(
        self,
        rsa_identity: &RsaPublic,
    ) -> Result<SigCheckedRsaCrosscert, CertError> {
        let recovered = rsa_identity
            .recover(&self.0.signature)
            .map_err(|_| CertError::BadSignature)?;
        let digest = self.0.digest();
        match recovered.get(..digest.len()) {
            Some(prefix) if ct_eq(prefix, &digest) => Ok(SigCheckedRsaCrosscert(self.0)),
            _ => Err(CertError::BadSignature),
        }
    }
}

impl UncheckedRsaCrosscert {
    /// Everything C tor's `rsa_ed25519_crosscert_check` does in one call: the certified key
    /// must be `ed25519_identity` ([`CertError::KeyMismatch`]), the certificate unexpired at
    /// `now`, and the signature good under `rsa_identity`.
    pub fn check(
        self,
        rsa_identity: &RsaPublic,
        ed25519_identity: &Ed25519Identity,
        now: SystemTime,
    ) -> Result<RsaCrosscert, CertError> {
        if self.0.ed25519_key != *ed25519_identity {
            return Err(CertError::KeyMismatch);
        }
        self.check_signature(rsa_identity)?.check_valid_at(now)
    }
}

/// A cross-certificate with a good signature, not yet checked for expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigCheckedRsaCrosscert(RsaCrosscert);

impl SigCheckedRsaCrosscert {
    /// The fields.
    pub fn peek(&self) -> &RsaCrosscert {
        &self.0
    }

    /// Checks that the certificate has not expired at `now`; returns the verified cert.
    pub fn check_valid_at(self, now: SystemTime) -> Result<RsaCrosscert, CertError> {
        if is_expired(self.0.expiry_hours, now) {
            return Err(CertError::Expired {
                expiry_hours: self.0.expiry_hours,
            });
        }
        Ok(self.0)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn sign_decode_check() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(99);
        let id = RsaKeypair::generate(&mut rng).unwrap();
        let ed = Ed25519Identity([0x11; 32]);
        let t = time_from_expiry_hours(470_000);
        let bytes = RsaCrosscert::sign(&id, &ed, t).unwrap();
        assert_eq!(bytes.len(), 32 + 4 + 1 + 128);
        let cc = RsaCrosscert::decode(&bytes).unwrap();
        assert_eq!(cc.peek().encode().unwrap(), bytes);
        assert_eq!(cc.peek().expiry_hours(), 470_000);
        let ok = cc
            .clone()
            .check_signature(&id.public())
            .unwrap()
            .check_valid_at(t)
            .unwrap();
        assert_eq!(ok.ed25519_key(), &ed);
        let other = RsaKeypair::generate(&mut rng).unwrap();
        assert_eq!(
            cc.clone().check_signature(&other.public()),
            Err(CertError::BadSignature)
        );
        assert!(matches!(
            cc.check_signature(&id.public())
                .unwrap()
                .check_valid_at(time_from_expiry_hours(470_001)),
            Err(CertError::Expired { .. })
        ));
        for n in 0..bytes.len() {
            assert!(RsaCrosscert::decode(&bytes[..n]).is_err());
        }
        let dec = || RsaCrosscert::decode(&bytes).unwrap();
        assert!(dec().check(&id.public(), &ed, t).is_ok());
        assert_eq!(
            dec().check(&id.public(), &Ed25519Identity([0x12; 32]), t),
            Err(CertError::KeyMismatch)
        );
    }
}
