//! X.509 certificates for channel TLS and the CERTS cell's RSA certificates (tor-spec §4.2
//! "CERTS cells", types 1 and 2; tor-wire-brief §2.1, §2.3).
//!
//! C tor presents a TLS certificate for an RSA-2048 link key, signed (SHA-256 with RSA) by
//! the relay's RSA-1024 identity key, and a self-signed certificate of the identity key. Both
//! are plain X.509 v3 certificates without extensions, with a random 64-bit serial number,
//! `CN=www.<random>.net` / `CN=www.<random>.com` names, and a validity period that starts on
//! a day boundary part-way through the lifetime, so that the start time says little about
//! when the key was made. We build the same shape.
//!
//! The checks a CERTS verifier needs are here too: the subject key of a certificate, its
//! validity window, and an RSA signature check against an issuer key.
//!
//! Deliberately not here: TLS itself (`rt::tls`), and the Ed25519 certificates (`cert`).

use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand_core::{CryptoRng, RngCore};
use rsa::pkcs1::{DecodeRsaPublicKey, EncodeRsaPublicKey};
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Sign, RsaPrivateKey, RsaPublicKey};
use sha2::{Digest, Sha256};
use x509_cert::der::asn1::{BitString, UtcTime};
use x509_cert::der::{Any, Decode, Encode};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{AlgorithmIdentifierOwned, ObjectIdentifier, SubjectPublicKeyInfoOwned};
use x509_cert::time::{Time, Validity};
use x509_cert::{Certificate, TbsCertificate, Version};

/// `sha256WithRSAEncryption` (RFC 4055).
const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
/// `rsaEncryption` (RFC 3279).
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// How long a new certificate is valid for: a year, as C tor's identity certificate.
pub const DEFAULT_CERT_LIFETIME: Duration = Duration::from_secs(365 * 24 * 3600);

/// Why an X.509 certificate could not be made or accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum X509Error {
    /// The bytes are not a DER X.509 certificate.
    #[error("malformed X.509 certificate: {0}")]
    Malformed(String),
    /// The subject key is not RSA.
    #[error("certificate key is not an RSA key")]
    NotRsa,
    /// The signature does not verify under the issuer key given.
    #[error("certificate signature does not verify")]
    BadSignature,
    /// The signature algorithm is not sha256WithRSAEncryption (or sha1WithRSA for old certs).
    #[error("unsupported certificate signature algorithm {0}")]
    UnsupportedAlgorithm(String),
    /// The current time is outside the validity window (with the allowed slop).
    #[error("certificate is not valid at this time")]
    Expired,
    /// A certificate could not be built.
    #[error("cannot build certificate: {0}")]
    Build(String),
}

fn malformed(e: impl std::fmt::Display) -> X509Error {
    X509Error::Malformed(e.to_string())
}

/// A random host name of C tor's shape: `www.` + 8–20 base32 characters + the suffix.
pub fn random_hostname<R: RngCore + CryptoRng>(rng: &mut R, suffix: &str) -> String {
    let len = 8 + (rng.next_u32() % 13) as usize;
    let mut raw = vec![0u8; len];
    rng.fill_bytes(&mut raw);
    let mut s = data_encoding::BASE32_NOPAD
        .encode(&raw)
        .to_ascii_lowercase();
    s.truncate(len);
    format!("www.{s}{suffix}")
}

/// Picks a validity window as C tor does: the certificate lasts `lifetime`, starts on a day
/// boundary, and `now` falls part-way through it with at least a day left.
pub fn pick_validity<R: RngCore + CryptoRng>(
    rng: &mut R,
    now: SystemTime,
    lifetime: Duration,
) -> (SystemTime, SystemTime) {
    const DAY: u64 = 24 * 3600;
    let now_s = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let life = lifetime.as_secs();
    let earliest = if life <= 2 * DAY {
        now_s.saturating_sub(1)
    } else {
        (now_s + 2 * DAY).saturating_sub(life)
    };
    let span = now_s.saturating_sub(earliest) + 1;
    let start = earliest + rng.next_u64() % span;
    let start = start - start % DAY;
    let start_t = UNIX_EPOCH + Duration::from_secs(start);
    (start_t, start_t + lifetime)
}

fn name(cn: &str) -> Result<Name, X509Error> {
    Name::from_str(&format!("CN={cn}")).map_err(|e| X509Error::Build(e.to_string()))
}

fn utc(t: SystemTime) -> Result<Time, X509Error> {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    UtcTime::from_unix_duration(d)
        .map(Time::UtcTime)
        .map_err(|e| X509Error::Build(e.to_string()))
}

fn rsa_spki(key: &RsaPublicKey) -> Result<SubjectPublicKeyInfoOwned, X509Error> {
    let der = key
        .to_pkcs1_der()
        .map_err(|e| X509Error::Build(e.to_string()))?;
    Ok(SubjectPublicKeyInfoOwned {
        algorithm: AlgorithmIdentifierOwned {
            oid: RSA_ENCRYPTION,
            parameters: Some(Any::null()),
        },
        subject_public_key: BitString::from_bytes(der.as_bytes())
            .map_err(|e| X509Error::Build(e.to_string()))?,
    })
}

/// What a new certificate should say.
#[derive(Debug, Clone)]
pub struct CertParams {
    /// The subject's common name.
    pub subject_cn: String,
    /// The issuer's common name (equal to the subject's for a self-signed certificate).
    pub issuer_cn: String,
    /// Start of validity.
    pub not_before: SystemTime,
    /// End of validity.
    pub not_after: SystemTime,
}

/// Builds and signs a certificate for `subject_key`, signed by `issuer_key` with
/// sha256WithRSAEncryption. Returns the DER encoding.
pub fn build_cert<R: RngCore + CryptoRng>(
    rng: &mut R,
    params: &CertParams,
    subject_key: &RsaPublicKey,
    issuer_key: &RsaPrivateKey,
) -> Result<Vec<u8>, X509Error> {
    let mut serial = [0u8; 8];
    rng.fill_bytes(&mut serial);
    // A DER INTEGER is signed: keep the serial positive and non-zero.
    serial[0] &= 0x7f;
    serial[0] |= 0x01;
    let sig_alg = AlgorithmIdentifierOwned {
        oid: SHA256_WITH_RSA,
        parameters: Some(Any::null()),
    };
    let tbs = TbsCertificate {
        version: Version::V3,
        serial_number: SerialNumber::new(&serial).map_err(|e| X509Error::Build(e.to_string()))?,
        signature: sig_alg.clone(),
        issuer: name(&params.issuer_cn)?,
        validity: Validity {
            not_before: utc(params.not_before)?,
            not_after: utc(params.not_after)?,
        },
        subject: name(&params.subject_cn)?,
        subject_public_key_info: rsa_spki(subject_key)?,
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: None,
    };
    let tbs_der = tbs.to_der().map_err(|e| X509Error::Build(e.to_string()))?;
    let digest = Sha256::digest(&tbs_der);
    let sig = issuer_key
        .sign(Pkcs1v15Sign::new::<Sha256>(), &digest)
        .map_err(|e| X509Error::Build(e.to_string()))?;
    let cert = Certificate {
        tbs_certificate: tbs,
        signature_algorithm: sig_alg,
        signature: BitString::from_bytes(&sig).map_err(|e| X509Error::Build(e.to_string()))?,
    };
    cert.to_der().map_err(|e| X509Error::Build(e.to_string()))
}

/// A parsed X.509 certificate with the fields Tor looks at.
#[derive(Debug, Clone)]
pub struct ParsedCert {
    cert: Certificate,
    tbs_der: Vec<u8>,
}

impl ParsedCert {
    /// Parses a DER certificate. Never panics.
    pub fn parse(der: &[u8]) -> Result<Self, X509Error> {
        let cert = Certificate::from_der(der).map_err(malformed)?;
        let tbs_der = cert.tbs_certificate.to_der().map_err(malformed)?;
        Ok(ParsedCert { cert, tbs_der })
    }

    /// The subject's RSA public key.
    pub fn rsa_key(&self) -> Result<RsaPublicKey, X509Error> {
        let spki = &self.cert.tbs_certificate.subject_public_key_info;
        if spki.algorithm.oid != RSA_ENCRYPTION {
            return Err(X509Error::NotRsa);
        }
        let raw = spki
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| malformed("subject key is not a whole number of bytes"))?;
        RsaPublicKey::from_pkcs1_der(raw).map_err(malformed)
    }

    /// The validity window.
    pub fn validity(&self) -> (SystemTime, SystemTime) {
        let v = &self.cert.tbs_certificate.validity;
        (v.not_before.to_system_time(), v.not_after.to_system_time())
    }

    /// Checks that `now` is inside the validity window, allowing `before_start` of slop
    /// before notBefore and `after_end` after notAfter. For the CERTS identity certificate
    /// C tor allows 30 days and 2 days respectively (`or_handshake_certs_rsa_ok`).
    pub fn check_valid_at(
        &self,
        now: SystemTime,
        before_start: Duration,
        after_end: Duration,
    ) -> Result<(), X509Error> {
        let (start, end) = self.validity();
        if now + before_start < start || now > end + after_end {
            return Err(X509Error::Expired);
        }
        Ok(())
    }

    /// Checks the certificate's signature under `issuer`.
    pub fn check_signature(&self, issuer: &RsaPublicKey) -> Result<(), X509Error> {
        let alg = &self.cert.signature_algorithm.oid;
        let sig = self
            .cert
            .signature
            .as_bytes()
            .ok_or(X509Error::BadSignature)?;
        if *alg != SHA256_WITH_RSA {
            return Err(X509Error::UnsupportedAlgorithm(alg.to_string()));
        }
        let digest = Sha256::digest(&self.tbs_der);
        issuer
            .verify(Pkcs1v15Sign::new::<Sha256>(), &digest, sig)
            .map_err(|_| X509Error::BadSignature)
    }

    /// The RSA modulus size of the subject key in bits.
    pub fn rsa_bits(&self) -> Result<usize, X509Error> {
        Ok(self.rsa_key()?.n().bits())
    }
}

/// A relay's TLS link key and the certificates C tor presents with it.
pub struct LinkCertificates {
    /// The RSA-2048 TLS key (its certificate is [`Self::link_cert_der`]).
    pub link_key: RsaPrivateKey,
    /// The TLS certificate: link key signed by the identity key (CERTS type 1).
    pub link_cert_der: Vec<u8>,
    /// The identity key's self-signed certificate (CERTS type 2).
    pub identity_cert_der: Vec<u8>,
}

impl std::fmt::Debug for LinkCertificates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkCertificates")
            .field("link_cert_der", &self.link_cert_der.len())
            .field("identity_cert_der", &self.identity_cert_der.len())
            .finish_non_exhaustive()
    }
}

impl LinkCertificates {
    /// Makes a new RSA-2048 link key and both certificates, valid from about `now`.
    pub fn generate<R: RngCore + CryptoRng>(
        rng: &mut R,
        identity: &RsaPrivateKey,
        now: SystemTime,
    ) -> Result<Self, X509Error> {
        let link_key =
            RsaPrivateKey::new(rng, 2048).map_err(|e| X509Error::Build(e.to_string()))?;
        Self::with_link_key(rng, identity, link_key, now)
    }

    /// Like [`Self::generate`] with a given link key.
    pub fn with_link_key<R: RngCore + CryptoRng>(
        rng: &mut R,
        identity: &RsaPrivateKey,
        link_key: RsaPrivateKey,
        now: SystemTime,
    ) -> Result<Self, X509Error> {
        let issuer_cn = random_hostname(rng, ".com");
        let subject_cn = random_hostname(rng, ".net");
        let (nb, na) = pick_validity(rng, now, DEFAULT_CERT_LIFETIME);
        let link_cert_der = build_cert(
            rng,
            &CertParams {
                subject_cn,
                issuer_cn: issuer_cn.clone(),
                not_before: nb,
                not_after: na,
            },
            &link_key.to_public_key(),
            identity,
        )?;
        let (nb, na) = pick_validity(rng, now, DEFAULT_CERT_LIFETIME);
        let identity_cert_der = build_cert(
            rng,
            &CertParams {
                subject_cn: issuer_cn.clone(),
                issuer_cn,
                not_before: nb,
                not_after: na,
            },
            &identity.to_public_key(),
            identity,
        )?;
        Ok(LinkCertificates {
            link_key,
            link_cert_der,
            identity_cert_der,
        })
    }

    /// SHA-256 of the TLS certificate: what a CERTS type 5 certificate certifies.
    pub fn link_cert_digest(&self) -> [u8; 32] {
        Sha256::digest(&self.link_cert_der).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn rng() -> rand::rngs::StdRng {
        rand::rngs::StdRng::seed_from_u64(7)
    }

    #[test]
    fn validity_is_day_aligned_and_covers_now() {
        let mut r = rng();
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        for _ in 0..100 {
            let (s, e) = pick_validity(&mut r, now, DEFAULT_CERT_LIFETIME);
            let ss = s.duration_since(UNIX_EPOCH).unwrap().as_secs();
            assert_eq!(ss % 86400, 0);
            assert!(s <= now);
            assert!(e >= now + Duration::from_secs(86400));
            assert_eq!(e.duration_since(s).unwrap(), DEFAULT_CERT_LIFETIME);
        }
    }

    #[test]
    fn hostnames_have_c_tor_shape() {
        let mut r = rng();
        let h = random_hostname(&mut r, ".net");
        assert!(h.starts_with("www.") && h.ends_with(".net"));
        assert!(h.len() >= 4 + 8 + 4 && h.len() <= 4 + 20 + 4);
    }

    #[test]
    fn link_certificates_verify_and_parse() {
        let mut r = rng();
        let identity = RsaPrivateKey::new(&mut r, 1024).unwrap();
        let link = RsaPrivateKey::new(&mut r, 1024).unwrap(); // small for test speed
        let now = SystemTime::now();
        let lc = LinkCertificates::with_link_key(&mut r, &identity, link.clone(), now).unwrap();

        let tls = ParsedCert::parse(&lc.link_cert_der).unwrap();
        assert_eq!(tls.rsa_key().unwrap(), link.to_public_key());
        tls.check_signature(&identity.to_public_key()).unwrap();
        assert_eq!(
            tls.check_signature(&link.to_public_key()),
            Err(X509Error::BadSignature)
        );
        tls.check_valid_at(now, Duration::ZERO, Duration::ZERO)
            .unwrap();

        let id = ParsedCert::parse(&lc.identity_cert_der).unwrap();
        assert_eq!(id.rsa_key().unwrap(), identity.to_public_key());
        assert_eq!(id.rsa_bits().unwrap(), 1024);
        id.check_signature(&identity.to_public_key()).unwrap();
        let far = now + Duration::from_secs(3 * 365 * 86400);
        assert_eq!(
            id.check_valid_at(far, Duration::ZERO, Duration::ZERO),
            Err(X509Error::Expired)
        );
    }

    #[test]
    fn garbage_is_refused_without_panic() {
        assert!(ParsedCert::parse(b"").is_err());
        assert!(ParsedCert::parse(&[0x30, 0x82, 0xff, 0xff, 0]).is_err());
        let mut r = rng();
        for len in 0..200 {
            let mut v = vec![0u8; len];
            r.fill_bytes(&mut v);
            let _ = ParsedCert::parse(&v);
        }
    }
}
