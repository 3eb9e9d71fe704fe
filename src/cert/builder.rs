//! Building and signing Ed25519 certificates (cert-spec §2.1), as C tor's
//! `tor_cert_create_raw` does: version 1, expiration rounded up to the hour, the
//! signed-with-ed25519-key extension first when asked for, then any other extensions.
//!
//! Signing works with an ordinary `ed25519_dalek::SigningKey`, or with an expanded secret
//! key (`ExpandedSecretKey`, via `hazmat::raw_sign`), which onion services need for type 08
//! (the blinded key has no seed) and relays for type 0A (a key derived from curve25519).

use std::time::SystemTime;

use ed25519_dalek::hazmat::{raw_sign, ExpandedSecretKey};
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use sha2::Sha512;

use super::ed25519::{CertExt, Ed25519Cert};
use super::{expiry_hours_ceil, CertError, CertKeyType, CertType};
use crate::ids::Ed25519Identity;

/// Builds an [`Ed25519Cert`] and signs it.
#[derive(Debug, Clone)]
pub struct Ed25519CertBuilder {
    cert_type: CertType,
    expiry_hours: u32,
    key_type: CertKeyType,
    certified_key: [u8; 32],
    include_signer: bool,
    extra: Vec<CertExt>,
}

impl Ed25519CertBuilder {
    /// A builder for a certificate of `cert_type` certifying the Ed25519 key `certified`,
    /// expiring at hour 0 until [`expiration`](Self::expiration) is set.
    pub fn new(cert_type: CertType, certified: Ed25519Identity) -> Self {
        Ed25519CertBuilder {
            cert_type,
            expiry_hours: 0,
            key_type: CertKeyType::ED25519_KEY,
            certified_key: certified.0,
            include_signer: false,
            extra: Vec::new(),
        }
    }

    /// Certifies something other than an Ed25519 key (e.g. type 03, the SHA-256 of a TLS
    /// certificate, for type 05).
    pub fn certified_key(mut self, key_type: CertKeyType, key: [u8; 32]) -> Self {
        self.key_type = key_type;
        self.certified_key = key;
        self
    }

    /// Expires no earlier than `t` (rounded up to the next hour, as C tor does).
    pub fn expiration(mut self, t: SystemTime) -> Result<Self, CertError> {
        self.expiry_hours = expiry_hours_ceil(t)?;
        Ok(self)
    }

    /// Sets EXPIRATION_DATE directly, in hours since the epoch.
    pub fn expiry_hours(mut self, hours: u32) -> Self {
        self.expiry_hours = hours;
        self
    }

    /// Whether to include the signed-with-ed25519-key extension (C tor: required for types
    /// 04, 08, 09, 0B, 0C; absent from 05, 06, 0A).
    pub fn include_signing_key(mut self, yes: bool) -> Self {
        self.include_signer = yes;
        self
    }

    /// Adds another extension after the signing-key one (tests and future extensions).
    pub fn extension(mut self, ext: CertExt) -> Self {
        self.extra.push(ext);
        self
    }

    /// The unsigned certificate for `signer`, with an all-zero signature.
    fn unsigned(&self, signer: &VerifyingKey) -> Ed25519Cert {
        let mut extensions = Vec::with_capacity(self.extra.len() + 1);
        if self.include_signer {
            extensions.push(CertExt::SignedWithEd25519 {
                flags: 0,
                key: Ed25519Identity(signer.to_bytes()),
            });
        }
        extensions.extend(self.extra.iter().cloned());
        Ed25519Cert {
            cert_type: self.cert_type,
            expiry_hours: self.expiry_hours,
            key_type: self.key_type,
            certified_key: self.certified_key,
            extensions,
            signature: [0; 64],
        }
    }

    /// Encodes and signs with `key`; returns the certificate's bytes.
    pub fn sign(&self, key: &SigningKey) -> Result<Vec<u8>, CertError> {
        let mut cert = self.unsigned(&key.verifying_key());
        let mut body = Vec::new();
        cert.write_signed_part(&mut body)?;
        cert.signature = key.sign(&body).to_bytes();
        Ok(cert.encode()?)
    }

    /// Encodes and signs with an expanded secret key whose public key is `public` (blinded
    /// onion-service keys, keys derived from curve25519). `public` must match `key`, or the
    /// signature will not verify.
    pub fn sign_expanded(
        &self,
        key: &ExpandedSecretKey,
        public: &VerifyingKey,
    ) -> Result<Vec<u8>, CertError> {
        let mut cert = self.unsigned(public);
        let mut body = Vec::new();
        cert.write_signed_part(&mut body)?;
        cert.signature = raw_sign::<Sha512>(key, &body, public).to_bytes();
        Ok(cert.encode()?)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::cert::time_from_expiry_hours;
    use crate::cert::ExtType;

    #[test]
    fn build_and_verify() {
        let signer = SigningKey::from_bytes(&[3; 32]);
        let subject = SigningKey::from_bytes(&[4; 32]).verifying_key();
        let bytes = Ed25519CertBuilder::new(
            CertType::IDENTITY_V_SIGNING,
            Ed25519Identity(subject.to_bytes()),
        )
        .expiry_hours(500_000)
        .include_signing_key(true)
        .extension(CertExt::Unrecognized {
            ext_type: ExtType(0x42),
            flags: 0,
            data: vec![1, 2, 3],
        })
        .sign(&signer)
        .unwrap();
        let c = Ed25519Cert::decode(&bytes).unwrap();
        assert_eq!(c.encode().unwrap(), bytes);
        assert_eq!(c.peek().extensions().len(), 2);
        let v = c
            .check_signature(Some(&signer.verifying_key()))
            .unwrap()
            .check_valid_at(time_from_expiry_hours(500_000))
            .unwrap();
        assert_eq!(v.certified_verifying_key().unwrap(), subject);
        // Expanded signing gives the same signature for the same key.
        let esk = ExpandedSecretKey::from(signer.as_bytes());
        let b2 = Ed25519CertBuilder::new(
            CertType::IDENTITY_V_SIGNING,
            Ed25519Identity(subject.to_bytes()),
        )
        .expiry_hours(500_000)
        .include_signing_key(true)
        .extension(CertExt::Unrecognized {
            ext_type: ExtType(0x42),
            flags: 0,
            data: vec![1, 2, 3],
        })
        .sign_expanded(&esk, &signer.verifying_key())
        .unwrap();
        assert_eq!(b2, bytes);
    }

    #[test]
    fn wrong_key_and_expiry() {
        let signer = SigningKey::from_bytes(&[5; 32]);
        let other = SigningKey::from_bytes(&[6; 32]).verifying_key();
        let bytes =
            Ed25519CertBuilder::new(CertType::SIGNING_V_LINK_AUTH, Ed25519Identity([9; 32]))
                .expiry_hours(10)
                .sign(&signer)
                .unwrap();
        let c = || Ed25519Cert::decode(&bytes).unwrap();
        assert_eq!(c().check_signature(None), Err(CertError::MissingSigningKey));
        assert_eq!(
            c().check_signature(Some(&other)),
            Err(CertError::BadSignature)
        );
        let checked = c().check_signature(Some(&signer.verifying_key())).unwrap();
        assert_eq!(
            checked.check_valid_at(time_from_expiry_hours(11)),
            Err(CertError::Expired { expiry_hours: 10 })
        );
        // With the extension, a different given key is a mismatch before any signature check.
        let with = Ed25519CertBuilder::new(CertType::SIGNING_V_LINK_AUTH, Ed25519Identity([9; 32]))
            .include_signing_key(true)
            .sign(&signer)
            .unwrap();
        assert_eq!(
            Ed25519Cert::decode(&with)
                .unwrap()
                .check_signature(Some(&other)),
            Err(CertError::KeyMismatch)
        );
    }
}
