//! The Ed25519 certificate (cert-spec §2.1): decoding, encoding, and the three checking
//! stages (unchecked → signature checked → verified at a time).
//!
//! Wire layout: `VERSION u8 = 1 · CERT_TYPE u8 · EXPIRATION u32 (hours) · CERT_KEY_TYPE u8 ·
//! CERTIFIED_KEY [32] · N_EXTENSIONS u8 · N × {len u16, type u8, flags u8, data[len]} ·
//! SIGNATURE [64]`, the signature covering every preceding byte with no prefix.

use std::time::SystemTime;

use ed25519_dalek::{Signature, Verifier as _, VerifyingKey};

use super::{armor, EXT_FLAG_AFFECTS_VALIDATION};
use super::{is_expired, time_from_expiry_hours, CertError, CertKeyType, CertType, ExtType};
use crate::ids::Ed25519Identity;
use crate::wire::{DecodeError, EncodeError, Reader, Writer};

/// PEM label of certificates in descriptors.
pub const PEM_LABEL: &str = "ED25519 CERT";

/// Length of an Ed25519 signature.
const SIG_LEN: usize = 64;

/// One certificate extension, kept exactly as it was on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertExt {
    /// Type 04, signed-with-ed25519-key (cert-spec §2.2.1): the key that signed the cert.
    SignedWithEd25519 {
        /// The ExtFlags byte (C tor writes 0 and ignores it).
        flags: u8,
        /// The signing public key.
        key: Ed25519Identity,
    },
    /// An extension this implementation does not understand, without AFFECTS_VALIDATION.
    Unrecognized {
        /// The ExtType byte.
        ext_type: ExtType,
        /// The ExtFlags byte.
        flags: u8,
        /// The ExtData bytes.
        data: Vec<u8>,
    },
}

/// What CERTIFIED_KEY holds, with key type 01 read as cert-spec A.4 says: "infer the actual
/// key type from the CERT_TYPE field" (so 01 in a type 05 certificate is an X.509 digest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertifiedKey {
    /// An Ed25519 public key.
    Ed25519(Ed25519Identity),
    /// SHA-256 of an RSA public key.
    RsaSha256([u8; 32]),
    /// SHA-256 of a DER X.509 certificate.
    X509Sha256([u8; 32]),
    /// A key type this implementation does not know.
    Unrecognized(CertKeyType, [u8; 32]),
}

impl CertifiedKey {
    /// The effective key type.
    pub fn key_type(&self) -> CertKeyType {
        match self {
            CertifiedKey::Ed25519(_) => CertKeyType::ED25519_KEY,
            CertifiedKey::RsaSha256(_) => CertKeyType::SHA256_OF_RSA,
            CertifiedKey::X509Sha256(_) => CertKeyType::SHA256_OF_X509,
            CertifiedKey::Unrecognized(t, _) => *t,
        }
    }
}

/// A decoded Ed25519 certificate. Every field is kept, so encoding gives back the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ed25519Cert {
    pub(super) cert_type: CertType,
    pub(super) expiry_hours: u32,
    pub(super) key_type: CertKeyType,
    pub(super) certified_key: [u8; 32],
    pub(super) extensions: Vec<CertExt>,
    pub(super) signature: [u8; SIG_LEN],
}

impl Ed25519Cert {
    /// Decodes a certificate that must occupy all of `bytes`.
    pub fn decode(bytes: &[u8]) -> Result<UncheckedEd25519Cert, CertError> {
        let mut r = Reader::new(bytes);
        let version = r.take_u8("cert version")?;
        if version != 1 {
            return Err(CertError::UnsupportedVersion(version));
        }
        let cert_type = CertType(r.take_u8("cert type")?);
        let expiry_hours = r.take_u32("cert expiration")?;
        let key_type = CertKeyType(r.take_u8("cert key type")?);
        let certified_key = r.take_array::<32>("certified key")?;
        let n_ext = r.take_u8("cert extension count")?;
        let mut extensions = Vec::with_capacity(usize::from(n_ext));
        let mut have_signer = false;
        for _ in 0..n_ext {
            let len = usize::from(r.take_u16("cert extension length")?);
            let ext_type = ExtType(r.take_u8("cert extension type")?);
            let flags = r.take_u8("cert extension flags")?;
            let data = r.take(len, "cert extension data")?;
            if ext_type == ExtType::SIGNED_WITH_ED25519_KEY {
                let key: [u8; 32] = data.try_into().map_err(|_| {
                    DecodeError::invalid("signed-with-ed25519-key extension", "length is not 32")
                })?;
                if have_signer {
                    return Err(DecodeError::invalid(
                        "signed-with-ed25519-key extension",
                        "appears twice",
                    )
                    .into());
                }
                have_signer = true;
                extensions.push(CertExt::SignedWithEd25519 {
                    flags,
                    key: Ed25519Identity(key),
                });
            } else if flags & EXT_FLAG_AFFECTS_VALIDATION != 0 {
                return Err(CertError::UnrecognizedCriticalExtension(ext_type));
            } else {
                extensions.push(CertExt::Unrecognized {
                    ext_type,
                    flags,
                    data: data.to_vec(),
                });
            }
        }
        let signed_len = r.consumed();
        let signature = r.take_array::<SIG_LEN>("cert signature")?;
        r.expect_exhausted("Ed25519 certificate")?;
        let signed = bytes
            .get(..signed_len)
            .ok_or(DecodeError::invalid("certificate", "length"))?
            .to_vec();
        Ok(UncheckedEd25519Cert {
            cert: Ed25519Cert {
                cert_type,
                expiry_hours,
                key_type,
                certified_key,
                extensions,
                signature,
            },
            signed,
        })
    }

    /// Decodes a `-----BEGIN ED25519 CERT-----` object from a descriptor.
    pub fn decode_pem(text: &str) -> Result<UncheckedEd25519Cert, CertError> {
        let bytes = armor::decode(PEM_LABEL, text)
            .map_err(|_| DecodeError::invalid("ED25519 CERT object", "bad armor"))?;
        Self::decode(&bytes)
    }

    /// Appends everything but the signature: the bytes the signature covers.
    pub(super) fn write_signed_part<W: Writer + ?Sized>(
        &self,
        w: &mut W,
    ) -> Result<(), EncodeError> {
        w.write_u8(1);
        w.write_u8(self.cert_type.0);
        w.write_u32(self.expiry_hours);
        w.write_u8(self.key_type.0);
        w.write_all(&self.certified_key);
        let n = u8::try_from(self.extensions.len()).map_err(|_| EncodeError::TooLong {
            what: "certificate extensions",
            len: self.extensions.len(),
            max: 255,
        })?;
        w.write_u8(n);
        for ext in &self.extensions {
            match ext {
                CertExt::SignedWithEd25519 { flags, key } => {
                    w.write_u16(32);
                    w.write_u8(ExtType::SIGNED_WITH_ED25519_KEY.0);
                    w.write_u8(*flags);
                    w.write_all(&key.0);
                }
                CertExt::Unrecognized {
                    ext_type,
                    flags,
                    data,
                } => {
                    let len = u16::try_from(data.len()).map_err(|_| EncodeError::TooLong {
                        what: "certificate extension",
                        len: data.len(),
                        max: usize::from(u16::MAX),
                    })?;
                    w.write_u16(len);
                    w.write_u8(ext_type.0);
                    w.write_u8(*flags);
                    w.write_all(data);
                }
            }
        }
        Ok(())
    }

    /// The certificate's wire encoding (identical to the bytes it was decoded from).
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        let mut v = Vec::with_capacity(104 + 36 * self.extensions.len());
        self.write_signed_part(&mut v)?;
        v.write_all(&self.signature);
        Ok(v)
    }

    /// The encoding in `-----BEGIN ED25519 CERT-----` armor, as in descriptors.
    pub fn encode_pem(&self) -> Result<String, EncodeError> {
        Ok(armor::encode(PEM_LABEL, &self.encode()?))
    }

    /// CERT_TYPE.
    pub fn cert_type(&self) -> CertType {
        self.cert_type
    }

    /// EXPIRATION_DATE, in hours since the epoch.
    pub fn expiry_hours(&self) -> u32 {
        self.expiry_hours
    }

    /// The instant after which the certificate is expired.
    pub fn expiry(&self) -> SystemTime {
        time_from_expiry_hours(self.expiry_hours)
    }

    /// CERT_KEY_TYPE exactly as on the wire.
    pub fn raw_key_type(&self) -> CertKeyType {
        self.key_type
    }

    /// CERTIFIED_KEY exactly as on the wire.
    pub fn raw_certified_key(&self) -> &[u8; 32] {
        &self.certified_key
    }

    /// The certified key, with key type 01 interpreted from the certificate type.
    pub fn certified_key(&self) -> CertifiedKey {
        let k = self.certified_key;
        let effective = match (self.key_type, self.cert_type) {
            (CertKeyType::ED25519_KEY, CertType::SIGNING_V_TLS_CERT) => CertKeyType::SHA256_OF_X509,
            (t, _) => t,
        };
        match effective {
            CertKeyType::ED25519_KEY => CertifiedKey::Ed25519(Ed25519Identity(k)),
            CertKeyType::SHA256_OF_RSA => CertifiedKey::RsaSha256(k),
            CertKeyType::SHA256_OF_X509 => CertifiedKey::X509Sha256(k),
            t => CertifiedKey::Unrecognized(t, k),
        }
    }

    /// The certified Ed25519 key, or [`CertError::WrongKeyType`].
    pub fn certified_ed25519(&self) -> Result<Ed25519Identity, CertError> {
        match self.certified_key() {
            CertifiedKey::Ed25519(k) => Ok(k),
            other => Err(CertError::WrongKeyType {
                expected: CertKeyType::ED25519_KEY,
                got: other.key_type(),
            }),
        }
    }

    /// The certified SHA-256 of an X.509 certificate, or [`CertError::WrongKeyType`].
    pub fn certified_x509_digest(&self) -> Result<[u8; 32], CertError> {
        match self.certified_key() {
            CertifiedKey::X509Sha256(k) => Ok(k),
            other => Err(CertError::WrongKeyType {
                expected: CertKeyType::SHA256_OF_X509,
                got: other.key_type(),
            }),
        }
    }

    /// The key in the signed-with-ed25519-key extension, if there is one.
    pub fn included_signing_key(&self) -> Option<Ed25519Identity> {
        self.extensions.iter().find_map(|e| match e {
            CertExt::SignedWithEd25519 { key, .. } => Some(*key),
            CertExt::Unrecognized { .. } => None,
        })
    }

    /// All extensions, in wire order.
    pub fn extensions(&self) -> &[CertExt] {
        &self.extensions
    }

    /// SIGNATURE.
    pub fn signature(&self) -> &[u8; SIG_LEN] {
        &self.signature
    }

    /// Fails with [`CertError::WrongCertType`] unless the type is `expected`.
    pub fn expect_type(&self, expected: CertType) -> Result<(), CertError> {
        if self.cert_type == expected {
            Ok(())
        } else {
            Err(CertError::WrongCertType {
                expected,
                got: self.cert_type,
            })
        }
    }
}

/// A decoded certificate whose signature has not been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UncheckedEd25519Cert {
    cert: Ed25519Cert,
    signed: Vec<u8>,
}

impl UncheckedEd25519Cert {
    /// The fields, for looking at before checking (e.g. to pick the signing key).
    pub fn peek(&self) -> &Ed25519Cert {
        &self.cert
    }

    /// The wire encoding.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        self.cert.encode()
    }

    /// Checks the signature.
    ///
    /// The key used is `signing_key` if given, else the certificate's signed-with-key
    /// extension ([`CertError::MissingSigningKey`] if neither). If both are present they
    /// must be equal ([`CertError::KeyMismatch`]).
    pub fn check_signature(
        self,
        signing_key: Option<&VerifyingKey>,
    ) -> Result<SigCheckedEd25519Cert, CertError> {
        let included = self.cert.included_signing_key();
        let key = match (signing_key, included) {
            (Some(given), Some(inc)) if given.as_bytes() != &inc.0 => {
                return Err(CertError::KeyMismatch)
            }
            (Some(given), _) => *given,
            (None, Some(inc)) => {
                VerifyingKey::from_bytes(&inc.0).map_err(|_| CertError::InvalidPublicKey)?
            }
            (None, None) => return Err(CertError::MissingSigningKey),
        };
        let sig = Signature::from_bytes(&self.cert.signature);
        key.verify(&self.signed, &sig)
            .map_err(|_| CertError::BadSignature)?;
        Ok(SigCheckedEd25519Cert {
            cert: self.cert,
            signing_key: key,
        })
    }
}

/// A certificate whose signature verified, not yet checked for expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigCheckedEd25519Cert {
    cert: Ed25519Cert,
    signing_key: VerifyingKey,
}

impl SigCheckedEd25519Cert {
    /// The fields.
    pub fn peek(&self) -> &Ed25519Cert {
        &self.cert
    }

    /// Checks that the certificate has not expired at `now` (valid through its expiration).
    pub fn check_valid_at(self, now: SystemTime) -> Result<VerifiedEd25519Cert, CertError> {
        if is_expired(self.cert.expiry_hours, now) {
            return Err(CertError::Expired {
                expiry_hours: self.cert.expiry_hours,
            });
        }
        Ok(VerifiedEd25519Cert {
            cert: self.cert,
            signing_key: self.signing_key,
        })
    }

    /// Skips the time check (for callers that check expiry elsewhere, e.g. a descriptor's
    /// overall lifetime).
    pub fn dangerously_assume_timely(self) -> VerifiedEd25519Cert {
        VerifiedEd25519Cert {
            cert: self.cert,
            signing_key: self.signing_key,
        }
    }
}

/// A well-signed certificate that had not expired when checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedEd25519Cert {
    cert: Ed25519Cert,
    signing_key: VerifyingKey,
}

impl VerifiedEd25519Cert {
    /// The fields.
    pub fn cert(&self) -> &Ed25519Cert {
        &self.cert
    }

    /// The key whose signature verified.
    pub fn signing_key(&self) -> &VerifyingKey {
        &self.signing_key
    }

    /// The fields, by value.
    pub fn into_cert(self) -> Ed25519Cert {
        self.cert
    }

    /// The certified Ed25519 key as a verifying key, or an error if the certificate does
    /// not certify an Ed25519 key or the point is invalid.
    pub fn certified_verifying_key(&self) -> Result<VerifyingKey, CertError> {
        let k = self.cert.certified_ed25519()?;
        VerifyingKey::from_bytes(&k.0).map_err(|_| CertError::InvalidPublicKey)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    // CERTS type 4 from a chutney network (Arti tor-cert tests/testvec_certs.rs).
    const TYPE4: &str = "01040006CC2A01\
        F82294B866A31F01FC5D0DA8572850A9B929545C3266558D7D2316E3B74172B0\
        01002004 00\
        DCB604DB2034B00FD16986D4ADB9D16B21CB4E4457A33DEC0F538903683E96E9\
        FF1A5203FA27F86EF7528D89A0845D2520166E340754FFEA2AAE0F612B7CE5DA\
        094A0236CDAC45034B0B6842C18E7F6B51B93A3CF7E60663B8AD061C30A62602";

    fn type4() -> Vec<u8> {
        hex::decode(TYPE4.replace(' ', "")).unwrap()
    }

    #[test]
    fn decode_check_reencode() {
        let bytes = type4();
        let c = Ed25519Cert::decode(&bytes).unwrap();
        assert_eq!(c.encode().unwrap(), bytes);
        assert_eq!(c.peek().cert_type(), CertType::IDENTITY_V_SIGNING);
        let v = c
            .check_signature(None)
            .unwrap()
            .check_valid_at(time_from_expiry_hours(0x0006CC2A))
            .unwrap();
        assert_eq!(v.signing_key().as_bytes()[0], 0xDC);
    }

    #[test]
    fn every_truncation_fails_cleanly() {
        let bytes = type4();
        for n in 0..bytes.len() {
            assert!(Ed25519Cert::decode(&bytes[..n]).is_err());
        }
        let mut long = bytes.clone();
        long.push(0);
        assert!(matches!(
            Ed25519Cert::decode(&long),
            Err(CertError::Malformed(DecodeError::ExtraBytes { .. }))
        ));
    }

    #[test]
    fn tampering_is_detected() {
        let mut bytes = type4();
        bytes[3] ^= 1;
        let c = Ed25519Cert::decode(&bytes).unwrap();
        assert_eq!(c.check_signature(None), Err(CertError::BadSignature));
    }
}
