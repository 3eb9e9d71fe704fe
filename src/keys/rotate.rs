//! Making the short- and medium-term keys, and deciding when to remake them (C tor
//! `load_ed_keys`, `generate_ed_link_cert`, `rotate_onion_key`, `expire_old_onion_keys`,
//! `rotate_x509_certificate_callback`).
//!
//! A key is renewed once `now` reaches its renewal instant (expiry minus its margin), and
//! [`RelayKeys::next_rotation`] is the earliest such instant, so a caller that sleeps until
//! then and calls [`RelayKeys::rotate`] always makes progress.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ed25519_dalek::SigningKey;
use rand_core::{CryptoRng, RngCore};
use rsa::{BigUint, RsaPrivateKey};

use super::ed::ExpandedKeypair;
use super::files::{self, FileOp, KeyFile};
use super::{AuthKey, KeyPolicy, KeysError, LinkKeys, RelayKeys};
use crate::cert::{
    expiry_hours_ceil, time_from_expiry_hours, CertKeyType, CertType, Ed25519CertBuilder,
    RsaCrosscert,
};
use crate::crypto::keyfile;
use crate::crypto::ll::X25519Secret;
use crate::crypto::rsa::{RsaKeypair, PUBLIC_EXPONENT};
use crate::crypto::x509::LinkCertificates;
use crate::ids::Ed25519Identity;

/// What one call to [`RelayKeys::rotate`] changed, so the caller can re-write files
/// ([`RelayKeys::file_ops`]), rebuild its TLS configuration and link identity, and
/// re-publish its descriptor.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RotationReport {
    /// A new signing key and type-4 certificate (files; descriptor; link identity).
    pub signing_key: bool,
    /// A new RSA→Ed25519 cross-certificate (link identity).
    pub rsa_crosscert: bool,
    /// A new TLS link key, X.509 certificates and type-5 certificate (TLS config; link
    /// identity).
    pub tls_link: bool,
    /// A new link-authentication key and type-6 certificate (link identity).
    pub auth_key: bool,
    /// New onion keys; the old ones became the previous ones (files; descriptor; the
    /// ntor key list).
    pub onion_keys_rotated: bool,
    /// The previous onion keys' grace period ended and they were dropped (files; the
    /// ntor key list).
    pub previous_onion_keys_dropped: bool,
}

impl RotationReport {
    /// True if anything changed.
    pub fn any(&self) -> bool {
        self.files_changed() || self.link_identity_changed()
    }

    /// True if key files must be written or removed.
    pub fn files_changed(&self) -> bool {
        self.signing_key || self.onion_keys_rotated || self.previous_onion_keys_dropped
    }

    /// True if the CERTS cell contents changed ([`RelayKeys::link_identity`]).
    pub fn link_identity_changed(&self) -> bool {
        self.signing_key || self.rsa_crosscert || self.tls_link || self.auth_key
    }

    /// True if the TLS server configuration must be rebuilt.
    pub fn tls_changed(&self) -> bool {
        self.tls_link
    }

    /// True if the server descriptor must be rebuilt and re-published.
    pub fn descriptor_changed(&self) -> bool {
        self.signing_key || self.onion_keys_rotated
    }

    /// True if the set of ntor keys accepted in CREATE2 changed.
    pub fn onion_keys_changed(&self) -> bool {
        self.onion_keys_rotated || self.previous_onion_keys_dropped
    }
}

/// `t - d`, or the epoch.
fn before(t: SystemTime, d: Duration) -> SystemTime {
    t.checked_sub(d).unwrap_or(UNIX_EPOCH)
}

/// The instant a certificate expiring no earlier than `t` actually expires (whole hours).
fn rounded_expiry(t: SystemTime) -> Result<SystemTime, KeysError> {
    Ok(time_from_expiry_hours(
        expiry_hours_ceil(t).map_err(KeysError::Cert)?,
    ))
}

/// A new x25519 onion key, clamped as C tor stores it.
pub(super) fn new_ntor_key<R: RngCore + CryptoRng>(rng: &mut R) -> X25519Secret {
    let mut b = zeroize::Zeroizing::new([0u8; 32]);
    rng.fill_bytes(&mut b[..]);
    b[0] &= 248;
    b[31] &= 127;
    b[31] |= 64;
    X25519Secret::from(*b)
}

/// A new RSA-1024 key (identity or TAP onion key).
pub(super) fn new_rsa1024<R: RngCore + CryptoRng>(rng: &mut R) -> Result<RsaKeypair, KeysError> {
    RsaKeypair::generate(rng).map_err(KeysError::Rsa)
}

/// A new signing key and its type-4 certificate (with the signed-with-key extension).
pub(super) fn new_signing<R: RngCore + CryptoRng>(
    master: &ExpandedKeypair,
    policy: &KeyPolicy,
    now: SystemTime,
    rng: &mut R,
) -> Result<(ExpandedKeypair, Vec<u8>, SystemTime), KeysError> {
    let signing = ExpandedKeypair::generate(rng);
    let expiry = rounded_expiry(now + policy.signing_key_lifetime)?;
    let cert = master
        .sign_cert(
            &Ed25519CertBuilder::new(CertType::IDENTITY_V_SIGNING, signing.public())
                .expiration(expiry)
                .map_err(KeysError::Cert)?
                .include_signing_key(true),
        )
        .map_err(KeysError::Cert)?;
    Ok((signing, cert, expiry))
}

/// A new RSA→Ed25519 cross-certificate.
pub(super) fn new_crosscert(
    identity: &RsaKeypair,
    master: &Ed25519Identity,
    policy: &KeyPolicy,
    now: SystemTime,
) -> Result<(Vec<u8>, SystemTime), KeysError> {
    let expiry = rounded_expiry(now + policy.rsa_crosscert_lifetime)?;
    let cert = RsaCrosscert::sign(identity, master, expiry).map_err(KeysError::Cert)?;
    Ok((cert, expiry))
}

/// A new TLS link key, its X.509 certificates, and the type-5 certificate.
pub(super) fn new_link<R: RngCore + CryptoRng>(
    identity: &RsaKeypair,
    signing: &ExpandedKeypair,
    policy: &KeyPolicy,
    now: SystemTime,
    rng: &mut R,
) -> Result<LinkKeys, KeysError> {
    let link_key =
        RsaPrivateKey::new_with_exp(rng, policy.tls_key_bits, &BigUint::from(PUBLIC_EXPONENT))
            .map_err(|_| KeysError::Rsa(crate::crypto::rsa::RsaError::Internal("TLS key")))?;
    let certs = LinkCertificates::with_link_key(rng, identity.as_rsa(), link_key, now)
        .map_err(KeysError::X509)?;
    let expiry = rounded_expiry(now + policy.link_cert_lifetime)?;
    let cert_signing_tls = signing
        .sign_cert(
            &Ed25519CertBuilder::new(CertType::SIGNING_V_TLS_CERT, Ed25519Identity([0; 32]))
                .certified_key(CertKeyType::SHA256_OF_X509, certs.link_cert_digest())
                .expiration(expiry)
                .map_err(KeysError::Cert)?,
        )
        .map_err(KeysError::Cert)?;
    Ok(LinkKeys {
        certs,
        made_at: now,
        cert_signing_tls,
        expiry,
    })
}

/// A new link-authentication key and its type-6 certificate.
pub(super) fn new_auth<R: RngCore + CryptoRng>(
    signing: &ExpandedKeypair,
    policy: &KeyPolicy,
    now: SystemTime,
    rng: &mut R,
) -> Result<AuthKey, KeysError> {
    let key = SigningKey::generate(rng);
    let expiry = rounded_expiry(now + policy.auth_key_lifetime)?;
    let cert = signing
        .sign_cert(
            &Ed25519CertBuilder::new(
                CertType::SIGNING_V_LINK_AUTH,
                Ed25519Identity(key.verifying_key().to_bytes()),
            )
            .expiration(expiry)
            .map_err(KeysError::Cert)?,
        )
        .map_err(KeysError::Cert)?;
    Ok(AuthKey { key, cert, expiry })
}

impl RelayKeys {
    /// Renews whatever is due at `now`: the signing key (a day before its certificate
    /// expires), the cross-certificate, the TLS link key (every two hours) and type-5
    /// certificate, the authentication key, the onion keys (after their lifetime; the
    /// current ones become the previous ones), and drops the previous onion keys once
    /// their grace period is over.
    pub fn rotate<R: RngCore + CryptoRng>(
        &mut self,
        now: SystemTime,
        rng: &mut R,
    ) -> Result<RotationReport, KeysError> {
        let mut r = RotationReport::default();
        let p = self.policy.clone();
        if now >= before(self.signing_cert_expiry, p.signing_key_slop) {
            let (signing, cert, expiry) = new_signing(&self.master, &p, now, rng)?;
            self.signing = signing;
            self.signing_cert = cert;
            self.signing_cert_expiry = expiry;
            r.signing_key = true;
        }
        if now >= before(self.rsa_crosscert_expiry, p.rsa_crosscert_slop) {
            let (cert, expiry) = new_crosscert(&self.identity, &self.master.public(), &p, now)?;
            self.rsa_crosscert = cert;
            self.rsa_crosscert_expiry = expiry;
            r.rsa_crosscert = true;
        }
        if r.signing_key
            || now >= self.link.made_at + p.tls_key_lifetime
            || now >= before(self.link.expiry, p.link_cert_slop)
        {
            self.link = new_link(&self.identity, &self.signing, &p, now, rng)?;
            r.tls_link = true;
        }
        if r.signing_key || now >= before(self.auth.expiry, p.auth_key_slop) {
            self.auth = new_auth(&self.signing, &p, now, rng)?;
            r.auth_key = true;
        }
        if now >= self.onion.set_at + p.onion_key_lifetime {
            let tap = new_rsa1024(rng)?;
            let ntor = new_ntor_key(rng);
            self.onion.prev_tap = Some(std::mem::replace(&mut self.onion.tap, tap));
            self.onion.prev_ntor = Some(std::mem::replace(&mut self.onion.ntor, ntor));
            self.onion.set_at = now;
            r.onion_keys_rotated = true;
        } else if (self.onion.prev_ntor.is_some() || self.onion.prev_tap.is_some())
            && now >= self.onion.set_at + p.onion_key_grace
        {
            self.onion.prev_ntor = None;
            self.onion.prev_tap = None;
            r.previous_onion_keys_dropped = true;
        }
        Ok(r)
    }

    /// The earliest instant at which [`RelayKeys::rotate`] will change something.
    pub fn next_rotation(&self) -> SystemTime {
        let p = &self.policy;
        let mut t = [
            before(self.signing_cert_expiry, p.signing_key_slop),
            before(self.rsa_crosscert_expiry, p.rsa_crosscert_slop),
            self.link.made_at + p.tls_key_lifetime,
            before(self.link.expiry, p.link_cert_slop),
            before(self.auth.expiry, p.auth_key_slop),
            self.onion.set_at + p.onion_key_lifetime,
        ]
        .into_iter()
        .min()
        .unwrap_or(UNIX_EPOCH);
        if self.onion.prev_ntor.is_some() || self.onion.prev_tap.is_some() {
            t = t.min(self.onion.set_at + p.onion_key_grace);
        }
        t
    }

    /// The file writes and removals that make the DataDirectory match a rotation.
    pub fn file_ops(&self, report: &RotationReport) -> Result<Vec<FileOp>, KeysError> {
        let mut which = Vec::new();
        if report.signing_key {
            which.extend([KeyFile::SigningSecret, KeyFile::SigningCert]);
        }
        if report.onion_keys_rotated {
            which.extend([
                KeyFile::NtorOnionOld,
                KeyFile::NtorOnion,
                KeyFile::TapOnionOld,
                KeyFile::TapOnion,
            ]);
        }
        if report.previous_onion_keys_dropped {
            which.extend([KeyFile::NtorOnionOld, KeyFile::TapOnionOld]);
        }
        which.into_iter().map(|f| self.file_op(f)).collect()
    }

    /// The operation that makes `file` hold the current contents: a write, or a removal
    /// for a previous onion key that no longer exists.
    pub fn file_op(&self, file: KeyFile) -> Result<FileOp, KeysError> {
        let z = |v: Vec<u8>| zeroize::Zeroizing::new(v);
        let contents = match file {
            KeyFile::SecretIdKey => files::encode_rsa(&self.identity)?,
            KeyFile::MasterIdSecret => {
                files::encode_ed_secret(keyfile::ED25519_SECRET_TYPE0, &self.master)
            }
            KeyFile::MasterIdPublic => z(keyfile::encode(
                keyfile::ED25519_PUBLIC_TYPE0,
                &self.master.public().0,
            )),
            KeyFile::SigningSecret => {
                files::encode_ed_secret(keyfile::ED25519_SECRET_TYPE4, &self.signing)
            }
            KeyFile::SigningCert => z(keyfile::encode(
                keyfile::ED25519_CERT_TYPE4,
                &self.signing_cert,
            )),
            KeyFile::NtorOnion => files::encode_ntor(&self.onion.ntor),
            KeyFile::NtorOnionOld => match &self.onion.prev_ntor {
                Some(k) => files::encode_ntor(k),
                None => return Ok(FileOp::Remove(file)),
            },
            KeyFile::TapOnion => files::encode_rsa(&self.onion.tap)?,
            KeyFile::TapOnionOld => match &self.onion.prev_tap {
                Some(k) => files::encode_rsa(k)?,
                None => return Ok(FileOp::Remove(file)),
            },
            KeyFile::Fingerprint => {
                z(files::fingerprint_file(&self.nickname, &self.rsa_id()).into_bytes())
            }
            KeyFile::FingerprintEd25519 => {
                z(files::fingerprint_ed25519_file(&self.nickname, &self.ed_id()).into_bytes())
            }
        };
        Ok(FileOp::Write(file, contents))
    }
}
