//! Tor's certificates: Ed25519 certificates (cert-spec §2.1), the RSA→Ed25519
//! cross-certificate of the CERTS cell (cert-spec §2.3, CERTS type 7), and the two
//! onion-key cross-certifications of relay descriptors (dir-spec §2.1.1
//! `ntor-onion-key-crosscert`, `onion-key-crosscert`; dir-spec appendix C).
//!
//! Checking follows Arti's "checkable" split, each step consuming the previous value:
//! [`Ed25519Cert::decode`] gives an [`UncheckedEd25519Cert`] whose fields can be looked at;
//! [`UncheckedEd25519Cert::check_signature`] gives a [`SigCheckedEd25519Cert`];
//! [`SigCheckedEd25519Cert::check_valid_at`] gives a [`VerifiedEd25519Cert`]. Building goes
//! through [`Ed25519CertBuilder`]. Decoding is as strict as C tor's `tor_cert_parse`: exact
//! length, version 1, a signed-with-key extension of exactly 32 bytes and at most one of
//! them, and no unknown extension flagged AFFECTS_VALIDATION.
//!
//! Times are parameters (sans-IO): nothing here reads the clock. A certificate is valid up
//! to and including its expiration instant, as in C tor (`now > expires` is expired).
//!
//! Deliberately not here: X.509 certificates (CERTS types 1–3), the CERTS cell itself,
//! and which certificate chains a channel or a descriptor requires (their owners decide).

pub mod armor;
mod builder;
mod ed25519;
mod onion_crosscert;
mod rsa_crosscert;

use std::time::{Duration, SystemTime};

pub use builder::Ed25519CertBuilder;
pub use ed25519::{
    CertExt, CertifiedKey, Ed25519Cert, SigCheckedEd25519Cert, UncheckedEd25519Cert,
    VerifiedEd25519Cert, PEM_LABEL as ED25519_CERT_PEM_LABEL,
};
pub use onion_crosscert::{
    check_ntor_onion_key_crosscert, check_tap_onion_key_crosscert, ed25519_from_curve25519_public,
    make_ntor_onion_key_crosscert, make_tap_onion_key_crosscert, NtorCrosscertKey,
};
pub use rsa_crosscert::{
    RsaCrosscert, SigCheckedRsaCrosscert, UncheckedRsaCrosscert, RSA_CROSSCERT_PREFIX,
};

use crate::crypto::rsa::RsaError;
use crate::wire::{DecodeError, EncodeError};

crate::open_enum! {
    /// The CERT_TYPE field (cert-spec appendix A.1; also the CERTS cell's type numbers).
    pub struct CertType(u8) {
        /// CERTS type 1: TLS link certificate signed by the RSA identity (X.509).
        TLS_LINK_X509 = 0x01,
        /// CERTS type 2: self-signed RSA identity certificate (X.509).
        RSA_ID_X509 = 0x02,
        /// CERTS type 3: RSA link-authentication certificate (X.509, obsolete).
        LINK_AUTH_X509 = 0x03,
        /// Ed25519 identity → signing key (CERTS type 4, descriptor `identity-ed25519`).
        IDENTITY_V_SIGNING = 0x04,
        /// Signing key → SHA-256 of the TLS certificate (CERTS type 5).
        SIGNING_V_TLS_CERT = 0x05,
        /// Signing key → link-authentication key (CERTS type 6).
        SIGNING_V_LINK_AUTH = 0x06,
        /// RSA identity → Ed25519 identity cross-certificate (CERTS type 7, own format).
        RSA_ID_V_IDENTITY = 0x07,
        /// Onion service: blinded key → descriptor signing key.
        HS_BLINDED_ID_V_SIGNING = 0x08,
        /// Onion service: descriptor signing key → introduction point auth key.
        HS_IP_V_SIGNING = 0x09,
        /// ntor onion key → relay Ed25519 identity (`ntor-onion-key-crosscert`).
        NTOR_CC_IDENTITY = 0x0A,
        /// Onion service: descriptor signing key → intro point encryption key (ed25519 form).
        HS_IP_CC_SIGNING = 0x0B,
        /// Family key → relay identity (proposal 321, `family-cert`).
        FAMILY_V_IDENTITY = 0x0C,
    }
}

crate::open_enum! {
    /// The CERT_KEY_TYPE field (cert-spec appendix A.4).
    pub struct CertKeyType(u8) {
        /// An Ed25519 public key. Tor before 0.4.5.1-alpha wrote this for every type.
        ED25519_KEY = 0x01,
        /// SHA-256 of an RSA key (unused).
        SHA256_OF_RSA = 0x02,
        /// SHA-256 of a DER X.509 certificate (type 05 certificates).
        SHA256_OF_X509 = 0x03,
    }
}

crate::open_enum! {
    /// Certificate extension types (cert-spec appendix A.2).
    pub struct ExtType(u8) {
        /// The key that signed the certificate (cert-spec §2.2.1).
        SIGNED_WITH_ED25519_KEY = 0x04,
    }
}

/// Extension flag: a reader that does not understand the extension must reject the cert.
pub const EXT_FLAG_AFFECTS_VALIDATION: u8 = 0x01;

/// Seconds per hour: certificate expirations count hours since the Unix epoch.
const SEC_PER_HOUR: u64 = 3600;

/// Why a certificate could not be decoded, built, or accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    /// The bytes are not a well-formed certificate.
    #[error("malformed certificate: {0}")]
    Malformed(#[from] DecodeError),
    /// The VERSION byte is not 1.
    #[error("unsupported certificate version {0}")]
    UnsupportedVersion(u8),
    /// An extension we do not understand carries the AFFECTS_VALIDATION flag.
    #[error("unrecognized certificate extension {0} flagged AFFECTS_VALIDATION")]
    UnrecognizedCriticalExtension(ExtType),
    /// No signing key was given and the certificate does not include one.
    #[error("certificate has no signed-with-ed25519-key extension and no key was given")]
    MissingSigningKey,
    /// The given signing key differs from the one in the certificate (or one expected).
    #[error("certificate key does not match the expected key")]
    KeyMismatch,
    /// A public key in or for the certificate is not a valid Ed25519 point.
    #[error("invalid Ed25519 public key")]
    InvalidPublicKey,
    /// The signature does not verify.
    #[error("bad certificate signature")]
    BadSignature,
    /// The certificate's expiration is before the time it was checked at.
    #[error("certificate expired (expiration {expiry_hours} hours after the epoch)")]
    Expired {
        /// The EXPIRATION field.
        expiry_hours: u32,
    },
    /// The certificate is of another type than the caller needs.
    #[error("wrong certificate type: expected {expected}, got {got}")]
    WrongCertType {
        /// The type that was needed.
        expected: CertType,
        /// The type found.
        got: CertType,
    },
    /// The certified key is of another kind than the caller needs.
    #[error("wrong certified key type: expected {expected}, got {got}")]
    WrongKeyType {
        /// The key type that was needed.
        expected: CertKeyType,
        /// The (effective) key type found.
        got: CertKeyType,
    },
    /// An expiration time cannot be represented (before 1970 or after year 10136).
    #[error("expiration time not representable in hours since the epoch")]
    BadExpiration,
    /// A field is too long to encode.
    #[error("cannot encode certificate: {0}")]
    Encode(#[from] EncodeError),
    /// An RSA key or signature operation failed.
    #[error("RSA: {0}")]
    Rsa(#[from] RsaError),
}

/// The instant `hours` hours after the Unix epoch (how certificates store expirations).
pub fn time_from_expiry_hours(hours: u32) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(u64::from(hours) * SEC_PER_HOUR)
}

/// Hours since the epoch, rounded **up** as C tor does (`CEIL_DIV(t, 3600)`; a fraction of
/// a second also rounds up), so a certificate never expires before `t`.
pub fn expiry_hours_ceil(t: SystemTime) -> Result<u32, CertError> {
    let d = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_err(|_| CertError::BadExpiration)?;
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    u32::try_from(secs.div_ceil(SEC_PER_HOUR)).map_err(|_| CertError::BadExpiration)
}

/// True if a certificate expiring at `expiry_hours` has expired at `now`.
fn is_expired(expiry_hours: u32, now: SystemTime) -> bool {
    now > time_from_expiry_hours(expiry_hours)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn expiry_rounds_up() {
        let h = |s: u64| expiry_hours_ceil(SystemTime::UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(h(0), Ok(0));
        assert_eq!(h(1), Ok(1));
        assert_eq!(h(3600), Ok(1));
        assert_eq!(h(3601), Ok(2));
        let t = SystemTime::UNIX_EPOCH + Duration::new(3600, 1);
        assert_eq!(expiry_hours_ceil(t), Ok(2));
        assert_eq!(
            time_from_expiry_hours(2),
            SystemTime::UNIX_EPOCH + Duration::from_secs(7200)
        );
        assert!(expiry_hours_ceil(SystemTime::UNIX_EPOCH - Duration::from_secs(1)).is_err());
        assert!(!is_expired(2, time_from_expiry_hours(2)));
        assert!(is_expired(
            2,
            time_from_expiry_hours(2) + Duration::from_nanos(1)
        ));
    }

    #[test]
    fn names() {
        assert_eq!(CertType(0x0a).name(), Some("NTOR_CC_IDENTITY"));
        assert_eq!(format!("{}", CertType(0x42)), "CertType(66)");
        assert_eq!(CertKeyType::SHA256_OF_X509.0, 3);
    }
}
