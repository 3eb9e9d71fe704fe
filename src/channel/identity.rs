//! What a relay presents and proves in the link handshake: its certificates and the key that
//! signs AUTHENTICATE (tor-spec §4.2 "CERTS cells", §4.4 "AUTHENTICATE cells").
//!
//! The relay key manager (`keys`) builds a [`LinkIdentity`] from the relay's long-term keys and
//! rotates it; the handshake code only reads it.

use ed25519_dalek::SigningKey;

use crate::crypto::rsa::RsaPublic;
use crate::ids::{Ed25519Identity, RsaIdentity};

/// A relay's link-handshake identity: every certificate a CERTS cell may carry, as encoded,
/// and the Ed25519 link-authentication key.
#[derive(Clone)]
pub struct LinkIdentity {
    /// The RSA-1024 identity public key.
    pub rsa_identity: RsaPublic,
    /// The Ed25519 master identity (`KP_relayid_ed`).
    pub ed_identity: Ed25519Identity,
    /// CERTS type 1: the TLS certificate (X.509 DER), signed by the RSA identity. It is also
    /// the certificate the TLS layer presents.
    pub cert_tls_link: Vec<u8>,
    /// CERTS type 2: the RSA identity's self-signed certificate (X.509 DER).
    pub cert_rsa_identity: Vec<u8>,
    /// CERTS type 4: identity → signing key (cert-spec, with extension 4).
    pub cert_id_signing: Vec<u8>,
    /// CERTS type 5: signing key → SHA-256 of the TLS certificate (sent by responders).
    pub cert_signing_tls: Vec<u8>,
    /// CERTS type 6: signing key → link-authentication key (sent by authenticating initiators).
    pub cert_signing_auth: Vec<u8>,
    /// CERTS type 7: RSA identity → Ed25519 identity cross-certificate.
    pub cert_rsa_ed_cross: Vec<u8>,
    /// The link-authentication key certified by type 6 (`KS_link_ed`), which signs AUTHENTICATE.
    pub auth_key: SigningKey,
}

impl LinkIdentity {
    /// The relay's legacy identity (SHA-1 of the RSA identity key).
    pub fn rsa_id(&self) -> RsaIdentity {
        self.rsa_identity.fingerprint()
    }

    /// SHA-256 of the RSA identity key's DER: the CID/SID fields of AUTH0003, and the TLS
    /// exporter context.
    pub fn rsa_id_sha256(&self) -> [u8; 32] {
        self.rsa_identity.sha256_digest()
    }
}

impl std::fmt::Debug for LinkIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkIdentity")
            .field("rsa_id", &self.rsa_id())
            .field("ed_identity", &self.ed_identity)
            .finish_non_exhaustive()
    }
}
