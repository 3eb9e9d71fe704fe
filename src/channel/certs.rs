//! Checking a peer's CERTS cell (tor-spec §4.2 "CERTS cells"; tor-wire-brief §2.3), as C tor
//! 0.4.9 does it (`channel_tls_process_certs_cell`, `or_handshake_certs_ed25519_ok` in
//! `torcert.c`).
//!
//! - From a **responder** (we initiated): type 4 (identity → signing key, with the
//!   signed-with-ed25519-key extension, self-signed), type 5 (signing key → SHA-256 of the
//!   TLS certificate the peer presented), type 2 (self-signed RSA identity certificate, an
//!   RSA key of exactly 1024 bits, valid with C tor's slop) and type 7 (RSA → Ed25519
//!   cross-certificate naming the same Ed25519 identity, signed by the type-2 key). No
//!   Ed25519 certificate or cross-certificate may have expired.
//! - From an **initiator** (we responded): the same, with type 6 (signing key →
//!   link-authentication key) in place of type 5. The peer is not authenticated until its
//!   AUTHENTICATE verifies (`super::auth`).
//!
//! A second certificate of a type 1–7 is refused (C tor closes the connection for it). A
//! certificate that cannot be decoded is an error only if it is one we need: C tor skips
//! undecodable certificates and then fails on the missing one. Type 1 and 3 are ignored, as
//! C tor ignores them once Ed25519 certificates are present; C tor's RSA-only path (no type
//! 4) is deliberately not implemented: a CERTS cell without type 4 is refused.

use std::time::{Duration, SystemTime};

use ed25519_dalek::VerifyingKey;
use sha2::{Digest as _, Sha256};

use crate::cell::handshake::{CertType, Certs};
use crate::cert::{self, CertError, Ed25519Cert, RsaCrosscert};
use crate::crypto::ll::ct_eq;
use crate::crypto::rsa::{RsaPublic, IDENTITY_KEY_BITS};
use crate::crypto::x509::{ParsedCert, X509Error};
use crate::ids::{Ed25519Identity, RsaIdentity};

/// How far in the future an X.509 certificate's start may be (C tor `TOR_X509_FUTURE_SLOP`,
/// applied to notBefore).
pub const X509_FUTURE_SLOP: Duration = Duration::from_secs(30 * 24 * 3600);
/// How long ago an X.509 certificate's end may be (C tor `TOR_X509_PAST_SLOP`, applied to
/// notAfter).
pub const X509_PAST_SLOP: Duration = Duration::from_secs(2 * 24 * 3600);

/// Why a CERTS cell was refused. The `Display` text is meant for a log line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertsError {
    /// A certificate type we need is absent.
    #[error("CERTS: no certificate of type {0}")]
    Missing(CertType),
    /// A certificate type appears twice.
    #[error("CERTS: duplicate certificate of type {0}")]
    Duplicate(CertType),
    /// An Ed25519 certificate (types 4–6) failed to decode or check.
    #[error("CERTS: type {cert_type} certificate refused: {source}")]
    Ed25519 {
        /// Which CERTS slot.
        cert_type: CertType,
        /// What was wrong.
        #[source]
        source: CertError,
    },
    /// The type-4 certificate does not include its signing (identity) key.
    #[error("CERTS: type 4 certificate has no signed-with-ed25519-key extension")]
    NoIdentityKey,
    /// The certificate's own CERT_TYPE field disagrees with its CERTS slot.
    #[error("CERTS: certificate in slot {slot} has CERT_TYPE {found}")]
    WrongInnerType {
        /// The CERTS slot.
        slot: CertType,
        /// The CERT_TYPE field.
        found: cert::CertType,
    },
    /// The type-5 certificate does not certify the TLS certificate the peer presented.
    #[error("CERTS: type 5 certificate does not match the TLS certificate")]
    TlsCertMismatch,
    /// The TLS layer gave no peer certificate.
    #[error("CERTS: no TLS peer certificate to check type 5 against")]
    NoTlsCert,
    /// The type-2 certificate failed to parse or check.
    #[error("CERTS: RSA identity certificate refused: {0}")]
    RsaIdCert(#[source] X509Error),
    /// The RSA identity key is not 1024 bits.
    #[error("CERTS: RSA identity key has {0} bits, not 1024")]
    RsaIdSize(usize),
    /// The type-7 cross-certificate failed to decode or check.
    #[error("CERTS: RSA->Ed25519 cross-certificate refused: {0}")]
    Crosscert(#[source] CertError),
}

/// A peer's identity as proven by its CERTS cell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertifiedPeer {
    /// The RSA-1024 identity key.
    pub rsa_identity: RsaPublic,
    /// SHA-1 of the identity key (the legacy relay id).
    pub rsa_id: RsaIdentity,
    /// SHA-256 of the identity key's DER (AUTH0003 CID/SID).
    pub rsa_id_sha256: [u8; 32],
    /// The Ed25519 master identity.
    pub ed_identity: Ed25519Identity,
    /// For an initiator: the link-authentication key certified by type 6, which must sign
    /// its AUTHENTICATE. `None` for a responder.
    pub link_auth_key: Option<VerifyingKey>,
}

/// Which side sent the CERTS cell.
#[derive(Clone, Copy)]
enum Sender<'a> {
    /// A responder, with the DER of the TLS certificate it presented.
    Responder(&'a [u8]),
    /// An initiator.
    Initiator,
}

/// Checks a responder's CERTS cell as a C tor initiator does (types 2, 4, 5, 7).
/// `peer_tls_cert` is the DER certificate the responder presented in TLS.
pub fn verify_responder_certs(
    certs: &Certs,
    peer_tls_cert: &[u8],
    now: SystemTime,
) -> Result<CertifiedPeer, CertsError> {
    verify(certs, Sender::Responder(peer_tls_cert), now)
}

/// Checks an initiator's CERTS cell as a C tor responder does (types 2, 4, 6, 7). The
/// result's `link_auth_key` is the key that must sign AUTHENTICATE.
pub fn verify_initiator_certs(certs: &Certs, now: SystemTime) -> Result<CertifiedPeer, CertsError> {
    verify(certs, Sender::Initiator, now)
}

/// Fails on a duplicate of any type 1–7.
fn check_duplicates(certs: &Certs) -> Result<(), CertsError> {
    let mut seen = [false; 8];
    for c in &certs.certs {
        if let Some(slot) = seen.get_mut(usize::from(c.cert_type.0)) {
            if c.cert_type.0 != 0 {
                if *slot {
                    return Err(CertsError::Duplicate(c.cert_type));
                }
                *slot = true;
            }
        }
    }
    Ok(())
}

fn need(certs: &Certs, t: CertType) -> Result<&[u8], CertsError> {
    certs.get(t).ok_or(CertsError::Missing(t))
}

/// Decodes the Ed25519 certificate in `slot`, checks its CERT_TYPE, its signature (by
/// `signer`, or its included key) and its expiry.
fn check_ed(
    certs: &Certs,
    slot: CertType,
    signer: Option<&VerifyingKey>,
    now: SystemTime,
) -> Result<cert::VerifiedEd25519Cert, CertsError> {
    let ed_err = |source| CertsError::Ed25519 {
        cert_type: slot,
        source,
    };
    let c = Ed25519Cert::decode(need(certs, slot)?).map_err(ed_err)?;
    let found = c.peek().cert_type();
    if found.0 != slot.0 {
        return Err(CertsError::WrongInnerType { slot, found });
    }
    if slot == CertType::ED_ID_SIGN && c.peek().included_signing_key().is_none() {
        return Err(CertsError::NoIdentityKey);
    }
    c.check_signature(signer)
        .map_err(ed_err)?
        .check_valid_at(now)
        .map_err(ed_err)
}

fn verify(certs: &Certs, sender: Sender<'_>, now: SystemTime) -> Result<CertifiedPeer, CertsError> {
    check_duplicates(certs)?;

    // Type 4: identity → signing key, self-signed by the included identity key.
    let id_sign = check_ed(certs, CertType::ED_ID_SIGN, None, now)?;
    let ed_identity = Ed25519Identity(id_sign.signing_key().to_bytes());
    let signing_key =
        VerifyingKey::from_bytes(id_sign.cert().raw_certified_key()).map_err(|_| {
            CertsError::Ed25519 {
                cert_type: CertType::ED_ID_SIGN,
                source: CertError::InvalidPublicKey,
            }
        })?;

    // Type 5 (responder) or 6 (initiator), signed by the signing key.
    let link_auth_key = match sender {
        Sender::Responder(tls_cert) => {
            let c = check_ed(certs, CertType::ED_SIGN_LINK, Some(&signing_key), now)?;
            if tls_cert.is_empty() {
                return Err(CertsError::NoTlsCert);
            }
            let digest: [u8; 32] = Sha256::digest(tls_cert).into();
            // C tor compares the 32 certified bytes whatever the key-type byte says.
            if !ct_eq(&digest, c.cert().raw_certified_key()) {
                return Err(CertsError::TlsCertMismatch);
            }
            None
        }
        Sender::Initiator => {
            let c = check_ed(certs, CertType::ED_SIGN_AUTH, Some(&signing_key), now)?;
            let k = VerifyingKey::from_bytes(c.cert().raw_certified_key()).map_err(|_| {
                CertsError::Ed25519 {
                    cert_type: CertType::ED_SIGN_AUTH,
                    source: CertError::InvalidPublicKey,
                }
            })?;
            Some(k)
        }
    };

    // Type 2: self-signed RSA-1024 identity, valid with C tor's slop.
    let id_cert =
        ParsedCert::parse(need(certs, CertType::RSA_ID)?).map_err(CertsError::RsaIdCert)?;
    let rsa_key = id_cert.rsa_key().map_err(CertsError::RsaIdCert)?;
    let rsa_identity = RsaPublic::from_rsa(rsa_key);
    if rsa_identity.bits() != IDENTITY_KEY_BITS {
        return Err(CertsError::RsaIdSize(rsa_identity.bits()));
    }
    id_cert
        .check_signature(rsa_identity.as_rsa())
        .map_err(CertsError::RsaIdCert)?;
    // `ParsedCert::check_valid_at(now, a, b)` fails if `now + a < notBefore` or
    // `now > notAfter + b`: C tor allows notBefore up to 30 days ahead and notAfter up to
    // 2 days behind (`tor_x509_check_cert_lifetime_internal`).
    id_cert
        .check_valid_at(now, X509_FUTURE_SLOP, X509_PAST_SLOP)
        .map_err(CertsError::RsaIdCert)?;

    // Type 7: the RSA identity vouches for the same Ed25519 identity.
    RsaCrosscert::decode(need(certs, CertType::RSA_ED_CROSSCERT)?)
        .and_then(|cc| cc.check(&rsa_identity, &ed_identity, now))
        .map_err(CertsError::Crosscert)?;

    Ok(CertifiedPeer {
        rsa_id: rsa_identity.fingerprint(),
        rsa_id_sha256: rsa_identity.sha256_digest(),
        rsa_identity,
        ed_identity,
        link_auth_key,
    })
}
