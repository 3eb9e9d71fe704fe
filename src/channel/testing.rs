//! Test fixtures: a complete, valid relay link identity made from fresh keys.
//!
//! The relay key manager (`keys`) builds the persistent version from the key files; this is
//! for tests and fuzzing only.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ed25519_dalek::SigningKey;
use rand_core::{CryptoRng, RngCore};
use rsa::RsaPrivateKey;

use super::LinkIdentity;
use crate::cert::{CertKeyType, CertType, Ed25519CertBuilder, RsaCrosscert};
use crate::crypto::rsa::RsaKeypair;
use crate::crypto::x509::LinkCertificates;
use crate::ids::Ed25519Identity;

const DAY: Duration = Duration::from_secs(24 * 3600);

/// Builds a relay identity valid at `now`, as C tor shapes it: RSA-1024 identity, Ed25519
/// identity, signing key (type 4, 30 days), RSA-2048 TLS key and certificate (types 1 and
/// 2), type 5 over the TLS certificate's digest (2 days), link-authentication key (type 6,
/// 2 days), and the RSA → Ed25519 cross-certificate (type 7, 180 days).
///
/// Returns the identity, the TLS certificate (DER, also in `cert_tls_link`) and the TLS key.
#[doc(hidden)]
pub fn generate_link_identity<R: RngCore + CryptoRng>(
    rng: &mut R,
    now: SystemTime,
) -> Result<(LinkIdentity, Vec<u8>, RsaPrivateKey), String> {
    let rsa = RsaKeypair::generate(rng).map_err(|e| e.to_string())?;
    let link = LinkCertificates::generate(rng, rsa.as_rsa(), now).map_err(|e| e.to_string())?;
    let ed_id_key = SigningKey::generate(rng);
    let ed_identity = Ed25519Identity(ed_id_key.verifying_key().to_bytes());
    let signing = SigningKey::generate(rng);
    let auth_key = SigningKey::generate(rng);
    let e = |e: crate::cert::CertError| e.to_string();
    let cert_id_signing = Ed25519CertBuilder::new(
        CertType::IDENTITY_V_SIGNING,
        Ed25519Identity(signing.verifying_key().to_bytes()),
    )
    .expiration(now + 30 * DAY)
    .map_err(e)?
    .include_signing_key(true)
    .sign(&ed_id_key)
    .map_err(e)?;
    let cert_signing_tls =
        Ed25519CertBuilder::new(CertType::SIGNING_V_TLS_CERT, Ed25519Identity([0; 32]))
            .certified_key(CertKeyType::SHA256_OF_X509, link.link_cert_digest())
            .expiration(now + 2 * DAY)
            .map_err(e)?
            .sign(&signing)
            .map_err(e)?;
    let cert_signing_auth = Ed25519CertBuilder::new(
        CertType::SIGNING_V_LINK_AUTH,
        Ed25519Identity(auth_key.verifying_key().to_bytes()),
    )
    .expiration(now + 2 * DAY)
    .map_err(e)?
    .sign(&signing)
    .map_err(e)?;
    let cert_rsa_ed_cross = RsaCrosscert::sign(&rsa, &ed_identity, now + 180 * DAY).map_err(e)?;
    let tls_cert = link.link_cert_der.clone();
    Ok((
        LinkIdentity {
            rsa_identity: rsa.public(),
            ed_identity,
            cert_tls_link: link.link_cert_der,
            cert_rsa_identity: link.identity_cert_der,
            cert_id_signing,
            cert_signing_tls,
            cert_signing_auth,
            cert_rsa_ed_cross,
            auth_key,
        },
        tls_cert,
        link.link_key,
    ))
}

/// [`generate_link_identity`] with the identity in an `Arc`, as the state machines take it.
#[doc(hidden)]
pub fn generate_shared_link_identity<R: RngCore + CryptoRng>(
    rng: &mut R,
    now: SystemTime,
) -> Result<(Arc<LinkIdentity>, Vec<u8>, RsaPrivateKey), String> {
    let (id, c, k) = generate_link_identity(rng, now)?;
    Ok((Arc::new(id), c, k))
}
