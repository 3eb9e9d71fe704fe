//! A relay's keys and identity (tor-spec §1.1 "Keys and names", cert-spec §2; tor-wire-brief
//! §2.3, §3, §10.2), as C tor 0.4.9 makes, stores and rotates them (`router.c`,
//! `routerkeys.c`).
//!
//! [`RelayKeys`] holds:
//! - the RSA-1024 identity (`secret_id_key`), whose SHA-1 is the relay's fingerprint;
//! - the Ed25519 master identity, kept as C tor's 64-byte expanded secret key;
//! - the Ed25519 medium-term signing key and its type-4 certificate (30 days by default,
//!   C tor's `SigningKeyLifetime`), renewed a day before it expires;
//! - in memory only, as C tor does: the RSA→Ed25519 cross-certificate (type 7, six months,
//!   renewed a month ahead); the RSA-2048 TLS link key with its X.509 certificates (CERTS
//!   types 1, 2) and type-5 certificate, remade every two hours as C tor's
//!   `rotate_x509_certificate_callback` does; the link-authentication key and its type-6
//!   certificate (two days, renewed three hours ahead);
//! - the ntor onion key (x25519) and the TAP onion key (RSA-1024, still published in
//!   descriptors but never used in a handshake), rotated every 28 days by default
//!   (consensus `onion-key-rotation-days`), the previous ones kept for a grace period of 7
//!   days (`onion-key-grace-period-days`) after the rotation.
//!
//! Everything is sans-IO: time and randomness are parameters. Loading takes the files' contents
//! ([`StoredKeys`]) and gives back the writes to make ([`FileOp`]); rotation is a pure decision
//! ([`RelayKeys::rotate`], [`RelayKeys::next_rotation`]). The file layer is `rt::relay_keys`.
//!
//! Deliberately not here: descriptors (they read the keys from here), encrypted or offline
//! master keys (`OfflineMasterKey`, `--keygen`), and the family key.

mod ed;
mod files;
mod load;
mod rotate;
#[cfg(test)]
mod tests;

use std::time::{Duration, SystemTime};

use ed25519_dalek::SigningKey;
use rsa::RsaPrivateKey;

pub use ed::ExpandedKeypair;
pub use files::{fingerprint_ed25519_file, fingerprint_file, FileOp, KeyFile, StoredKeys};
pub use rotate::RotationReport;

use crate::cert::CertError;
use crate::channel::LinkIdentity;
use crate::crypto::keyfile::KeyFileError;
use crate::crypto::ll::X25519Secret;
use crate::crypto::ntor::NtorSecretKey;
use crate::crypto::ntor_v3::NtorV3SecretKey;
use crate::crypto::rsa::{RsaError, RsaKeypair};
use crate::crypto::x509::{LinkCertificates, X509Error};
use crate::ids::{Ed25519Identity, RsaIdentity};

const DAY: u64 = 24 * 3600;
const HOUR: u64 = 3600;

/// What is wrong with one key file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileProblem {
    /// Not C tor's tagged key-file format for this key (header, tag or length).
    #[error("{0}")]
    Format(#[from] KeyFileError),
    /// A PEM key file that is not text.
    #[error("not a text (PEM) file")]
    NotText,
    /// The RSA key does not parse or has the wrong size.
    #[error("{0}")]
    Rsa(#[from] RsaError),
    /// The certificate does not parse or does not verify.
    #[error("{0}")]
    Cert(#[from] CertError),
    /// The file disagrees with another key file.
    #[error("{0}")]
    Mismatch(&'static str),
    /// The file is missing while others that depend on it exist.
    #[error("missing: {0}")]
    Missing(&'static str),
}

/// Why the relay keys could not be loaded, made or rotated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeysError {
    /// A key file is corrupt, of the wrong format, or inconsistent with the others. It is
    /// never replaced silently: the operator must look at it.
    #[error("{file}: {problem}")]
    BadFile {
        /// The file.
        file: KeyFile,
        /// What is wrong.
        problem: FileProblem,
    },
    /// RSA key generation or signing failed.
    #[error("RSA: {0}")]
    Rsa(RsaError),
    /// An Ed25519 certificate could not be made.
    #[error("certificate: {0}")]
    Cert(CertError),
    /// The TLS link certificates could not be made.
    #[error("TLS link certificate: {0}")]
    X509(X509Error),
    /// The nickname cannot go in a `fingerprint` file.
    #[error("invalid nickname {0:?}")]
    BadNickname(String),
}

/// Lifetimes and rotation margins; the defaults are C tor 0.4.9's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPolicy {
    /// Lifetime of a new signing-key certificate (`SigningKeyLifetime`, 30 days).
    pub signing_key_lifetime: Duration,
    /// Make a new signing key this long before the certificate expires
    /// (`TestingSigningKeySlop`, 1 day).
    pub signing_key_slop: Duration,
    /// Lifetime of the link-authentication key's type-6 certificate
    /// (`TestingAuthKeyLifetime`, 2 days).
    pub auth_key_lifetime: Duration,
    /// Renew the authentication key this long before expiry (`TestingAuthKeySlop`, 3 h).
    pub auth_key_slop: Duration,
    /// Lifetime of the type-5 (signing key → TLS certificate) certificate
    /// (`TestingLinkCertLifetime`, 2 days).
    pub link_cert_lifetime: Duration,
    /// Renew the type-5 certificate this long before expiry (`TestingLinkKeySlop`, 3 h).
    pub link_cert_slop: Duration,
    /// How often the TLS link key and its certificates are remade
    /// (`MAX_SSL_KEY_LIFETIME_INTERNAL`, 2 hours).
    pub tls_key_lifetime: Duration,
    /// Size of the TLS link key (2048 bits, as C tor; rustls with ring refuses smaller RSA
    /// keys, so only tests of the sans-IO core should lower it).
    pub tls_key_bits: usize,
    /// Lifetime of the RSA→Ed25519 cross-certificate (about six months).
    pub rsa_crosscert_lifetime: Duration,
    /// Renew the cross-certificate this long before expiry (30 days).
    pub rsa_crosscert_slop: Duration,
    /// Onion keys rotate this long after they were made (consensus
    /// `onion-key-rotation-days`, 28 days).
    pub onion_key_lifetime: Duration,
    /// The previous onion keys stay valid this long after a rotation (consensus
    /// `onion-key-grace-period-days`, 7 days).
    pub onion_key_grace: Duration,
}

impl Default for KeyPolicy {
    fn default() -> Self {
        KeyPolicy {
            signing_key_lifetime: Duration::from_secs(30 * DAY),
            signing_key_slop: Duration::from_secs(DAY),
            auth_key_lifetime: Duration::from_secs(2 * DAY),
            auth_key_slop: Duration::from_secs(3 * HOUR),
            link_cert_lifetime: Duration::from_secs(2 * DAY),
            link_cert_slop: Duration::from_secs(3 * HOUR),
            tls_key_lifetime: Duration::from_secs(2 * HOUR),
            tls_key_bits: 2048,
            rsa_crosscert_lifetime: Duration::from_secs(6 * 30 * DAY),
            rsa_crosscert_slop: Duration::from_secs(30 * DAY),
            onion_key_lifetime: Duration::from_secs(28 * DAY),
            onion_key_grace: Duration::from_secs(7 * DAY),
        }
    }
}

impl KeyPolicy {
    /// Applies the consensus parameters `onion-key-rotation-days` (clamped to 1..=90, as C
    /// tor's `get_onion_key_lifetime`) and `onion-key-grace-period-days` (clamped to
    /// 1..=rotation days, as `get_onion_key_grace_period`); `None` means the default
    /// (28 and 7 days).
    pub fn with_consensus_params(
        mut self,
        rotation_days: Option<i32>,
        grace_days: Option<i32>,
    ) -> Self {
        let rot = rotation_days.unwrap_or(28).clamp(1, 90);
        let grace = grace_days.unwrap_or(7).clamp(1, rot);
        self.onion_key_lifetime = Duration::from_secs(rot as u64 * DAY);
        self.onion_key_grace = Duration::from_secs(grace as u64 * DAY);
        self
    }
}

/// The TLS link key and the certificates that go with it.
struct LinkKeys {
    certs: LinkCertificates,
    made_at: SystemTime,
    /// Type 5: signing key → SHA-256 of the TLS certificate.
    cert_signing_tls: Vec<u8>,
    expiry: SystemTime,
}

/// The link-authentication key and its type-6 certificate.
struct AuthKey {
    key: SigningKey,
    cert: Vec<u8>,
    expiry: SystemTime,
}

/// The onion keys: current, and previous during the grace period.
struct OnionKeys {
    ntor: X25519Secret,
    tap: RsaKeypair,
    set_at: SystemTime,
    prev_ntor: Option<X25519Secret>,
    prev_tap: Option<RsaKeypair>,
}

/// All of a relay's keys. Secrets are zeroized on drop; `Debug` shows only public ids.
pub struct RelayKeys {
    nickname: String,
    policy: KeyPolicy,
    identity: RsaKeypair,
    master: ExpandedKeypair,
    signing: ExpandedKeypair,
    signing_cert: Vec<u8>,
    signing_cert_expiry: SystemTime,
    rsa_crosscert: Vec<u8>,
    rsa_crosscert_expiry: SystemTime,
    link: LinkKeys,
    auth: AuthKey,
    onion: OnionKeys,
}

impl RelayKeys {
    /// The RSA identity fingerprint.
    pub fn rsa_id(&self) -> RsaIdentity {
        self.identity.public().fingerprint()
    }

    /// The Ed25519 master identity.
    pub fn ed_id(&self) -> Ed25519Identity {
        self.master.public()
    }

    /// The nickname written in the `fingerprint` files.
    pub fn nickname(&self) -> &str {
        &self.nickname
    }

    /// The policy in force.
    pub fn policy(&self) -> &KeyPolicy {
        &self.policy
    }

    /// Replaces the policy (e.g. after a consensus changed the onion-key parameters); the
    /// next [`RelayKeys::rotate`] applies it.
    pub fn set_policy(&mut self, policy: KeyPolicy) {
        self.policy = policy;
    }

    /// The RSA-1024 identity key (signs descriptors and the type-7 cross-certificate).
    pub fn identity_key(&self) -> &RsaKeypair {
        &self.identity
    }

    /// The Ed25519 signing key (signs descriptors' `router-sig-ed25519`).
    pub fn signing_key(&self) -> &ExpandedKeypair {
        &self.signing
    }

    /// The type-4 certificate (master identity → signing key), as encoded.
    pub fn signing_cert(&self) -> &[u8] {
        &self.signing_cert
    }

    /// When the type-4 certificate expires.
    pub fn signing_cert_expiry(&self) -> SystemTime {
        self.signing_cert_expiry
    }

    /// The current ntor onion key's secret (for the descriptor's crosscert).
    pub fn ntor_onion_secret(&self) -> &X25519Secret {
        &self.onion.ntor
    }

    /// The current TAP onion key (published in descriptors, never used).
    pub fn tap_onion_key(&self) -> &RsaKeypair {
        &self.onion.tap
    }

    /// The previous TAP onion key, while in its grace period.
    pub fn previous_tap_onion_key(&self) -> Option<&RsaKeypair> {
        self.onion.prev_tap.as_ref()
    }

    /// When the current onion keys were made or rotated.
    pub fn onion_key_set_at(&self) -> SystemTime {
        self.onion.set_at
    }

    /// The ntor keys a CREATE2 may use: current first, then the previous one until the
    /// [`RelayKeys::rotate`] that ends its grace period.
    pub fn ntor_keys(&self) -> Vec<NtorSecretKey> {
        let id = self.rsa_id();
        std::iter::once(&self.onion.ntor)
            .chain(self.onion.prev_ntor.as_ref())
            .map(|s| NtorSecretKey::new(id, s.clone()))
            .collect()
    }

    /// The ntor-v3 keys (same onion keys, under the Ed25519 identity), current first.
    pub fn ntor_v3_keys(&self) -> Vec<NtorV3SecretKey> {
        let id = self.ed_id();
        std::iter::once(&self.onion.ntor)
            .chain(self.onion.prev_ntor.as_ref())
            .map(|s| NtorV3SecretKey::new(id, s.clone()))
            .collect()
    }

    /// The TLS certificate (DER) for `rt::tls::server_config`; also CERTS type 1.
    pub fn tls_cert_der(&self) -> &[u8] {
        &self.link.certs.link_cert_der
    }

    /// The TLS link key for `rt::tls::server_config`.
    pub fn tls_key(&self) -> &RsaPrivateKey {
        &self.link.certs.link_key
    }

    /// Everything the link handshake presents and signs with.
    pub fn link_identity(&self) -> LinkIdentity {
        LinkIdentity {
            rsa_identity: self.identity.public(),
            ed_identity: self.master.public(),
            cert_tls_link: self.link.certs.link_cert_der.clone(),
            cert_rsa_identity: self.link.certs.identity_cert_der.clone(),
            cert_id_signing: self.signing_cert.clone(),
            cert_signing_tls: self.link.cert_signing_tls.clone(),
            cert_signing_auth: self.auth.cert.clone(),
            cert_rsa_ed_cross: self.rsa_crosscert.clone(),
            auth_key: self.auth.key.clone(),
        }
    }
}

impl std::fmt::Debug for RelayKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayKeys")
            .field("nickname", &self.nickname)
            .field("rsa_id", &self.rsa_id())
            .field("ed_id", &self.ed_id())
            .field("signing_key", &self.signing.public())
            .field("has_previous_onion_key", &self.onion.prev_ntor.is_some())
            .finish_non_exhaustive()
    }
}
