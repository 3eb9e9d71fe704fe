//! Test fixtures: a complete, valid relay link identity made from fresh keys.
//!
//! A thin wrapper over the relay key manager ([`crate::keys::RelayKeys`]), so tests use
//! exactly the certificates a running relay presents. For tests and fuzzing only.

use std::sync::Arc;
use std::time::SystemTime;

use rand_core::{CryptoRng, RngCore};
use rsa::RsaPrivateKey;

use super::LinkIdentity;
use crate::keys::{KeyPolicy, RelayKeys};

/// Builds a relay identity valid at `now`, as C tor shapes it (see [`RelayKeys`]): RSA-1024
/// identity, Ed25519 identity, signing key (type 4), RSA-2048 TLS key and certificate
/// (types 1 and 2), type 5 over the TLS certificate's digest, link-authentication key
/// (type 6), and the RSA → Ed25519 cross-certificate (type 7).
///
/// Returns the identity, the TLS certificate (DER, also in `cert_tls_link`) and the TLS key.
#[doc(hidden)]
pub fn generate_link_identity<R: RngCore + CryptoRng>(
    rng: &mut R,
    now: SystemTime,
) -> Result<(LinkIdentity, Vec<u8>, RsaPrivateKey), String> {
    let keys = RelayKeys::generate("fixture", KeyPolicy::default(), now, rng)
        .map_err(|e| e.to_string())?;
    Ok((
        keys.link_identity(),
        keys.tls_cert_der().to_vec(),
        keys.tls_key().clone(),
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
