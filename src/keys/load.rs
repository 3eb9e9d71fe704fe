//! Load-or-create (C tor `init_keys`, `load_ed_keys`, `ed_key_init_from_file`): a missing key
//! is made; a present one is loaded and checked against the others; a corrupt,
//! wrong-format or inconsistent file is an error naming it, never replaced. After loading,
//! one [`RelayKeys::rotate`] brings everything up to date (an expired or nearly expired
//! signing certificate gets a new signing key certified by the master key; overdue onion
//! keys rotate; a previous onion key past its grace period is dropped).

use std::time::SystemTime;

use rand_core::{CryptoRng, RngCore};

use super::ed::ExpandedKeypair;
use super::files::{self, FileOp, KeyFile, StoredKeys};
use super::rotate::{new_auth, new_crosscert, new_link, new_ntor_key, new_rsa1024, new_signing};
use super::{FileProblem, KeyPolicy, KeysError, OnionKeys, RelayKeys};
use crate::cert::{CertType, Ed25519Cert};
use crate::crypto::keyfile;

fn bad(file: KeyFile, problem: FileProblem) -> KeysError {
    KeysError::BadFile { file, problem }
}

/// C tor's nickname rule: 1 to 19 ASCII letters and digits.
fn check_nickname(nickname: &str) -> Result<(), KeysError> {
    if (1..=19).contains(&nickname.len()) && nickname.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err(KeysError::BadNickname(nickname.to_string()))
    }
}

/// Loads and checks the signing key and its certificate against `master`.
fn load_signing(
    secret: &[u8],
    cert_file: &[u8],
    master: &ExpandedKeypair,
) -> Result<(ExpandedKeypair, Vec<u8>, SystemTime), KeysError> {
    let signing = files::decode_ed_secret(
        KeyFile::SigningSecret,
        keyfile::ED25519_SECRET_TYPE4,
        secret,
    )?;
    let f = KeyFile::SigningCert;
    let body = keyfile::decode_any_len(keyfile::ED25519_CERT_TYPE4, cert_file)
        .map_err(|e| bad(f, e.into()))?;
    let unchecked = Ed25519Cert::decode(body).map_err(|e| bad(f, e.into()))?;
    unchecked
        .peek()
        .expect_type(CertType::IDENTITY_V_SIGNING)
        .map_err(|e| bad(f, e.into()))?;
    if unchecked.peek().included_signing_key() != Some(master.public()) {
        return Err(bad(
            f,
            FileProblem::Mismatch("the certificate is not signed by the master identity key"),
        ));
    }
    let cert = unchecked
        .check_signature(Some(master.verifying_key()))
        .map_err(|e| bad(f, e.into()))?
        .dangerously_assume_timely()
        .into_cert();
    if cert.certified_ed25519().map_err(|e| bad(f, e.into()))? != signing.public() {
        return Err(bad(
            f,
            FileProblem::Mismatch(
                "the certificate is for another key than ed25519_signing_secret_key",
            ),
        ));
    }
    Ok((signing, body.to_vec(), cert.expiry()))
}

impl RelayKeys {
    /// Makes a complete new set of keys (a fresh DataDirectory).
    pub fn generate<R: RngCore + CryptoRng>(
        nickname: &str,
        policy: KeyPolicy,
        now: SystemTime,
        rng: &mut R,
    ) -> Result<RelayKeys, KeysError> {
        Self::load_or_create(&StoredKeys::new(), nickname, policy, now, rng).map(|(k, _)| k)
    }

    /// Loads the keys in `stored`, makes the missing ones, and brings them up to date at
    /// `now`. Returns the keys and the file writes and removals to make (missing files,
    /// renewed keys, `fingerprint` files whose contents differ).
    pub fn load_or_create<R: RngCore + CryptoRng>(
        stored: &StoredKeys,
        nickname: &str,
        policy: KeyPolicy,
        now: SystemTime,
        rng: &mut R,
    ) -> Result<(RelayKeys, Vec<FileOp>), KeysError> {
        check_nickname(nickname)?;
        let mut write: Vec<KeyFile> = Vec::new();

        let identity = match stored.get(KeyFile::SecretIdKey) {
            Some(b) => files::decode_rsa(KeyFile::SecretIdKey, b)?,
            None => {
                write.push(KeyFile::SecretIdKey);
                new_rsa1024(rng)?
            }
        };

        let master = match (
            stored.get(KeyFile::MasterIdSecret),
            stored.get(KeyFile::MasterIdPublic),
        ) {
            (Some(s), public) => {
                let m = files::decode_ed_secret(
                    KeyFile::MasterIdSecret,
                    keyfile::ED25519_SECRET_TYPE0,
                    s,
                )?;
                match public {
                    Some(p) => {
                        if files::decode_ed_public(KeyFile::MasterIdPublic, p)? != m.public() {
                            return Err(bad(
                                KeyFile::MasterIdPublic,
                                FileProblem::Mismatch(
                                    "does not match ed25519_master_id_secret_key",
                                ),
                            ));
                        }
                    }
                    None => write.push(KeyFile::MasterIdPublic),
                }
                m
            }
            (None, Some(_)) => {
                return Err(bad(
                    KeyFile::MasterIdSecret,
                    FileProblem::Missing(
                        "the master public key exists but not its secret key \
                         (offline master keys are not supported)",
                    ),
                ))
            }
            (None, None) => {
                if stored.get(KeyFile::SigningSecret).is_some()
                    || stored.get(KeyFile::SigningCert).is_some()
                {
                    return Err(bad(
                        KeyFile::MasterIdSecret,
                        FileProblem::Missing(
                            "a signing key exists, so a new master identity key would not match it",
                        ),
                    ));
                }
                write.extend([KeyFile::MasterIdSecret, KeyFile::MasterIdPublic]);
                ExpandedKeypair::generate(rng)
            }
        };

        let (signing, signing_cert, signing_cert_expiry) = match (
            stored.get(KeyFile::SigningSecret),
            stored.get(KeyFile::SigningCert),
        ) {
            (Some(s), Some(c)) => load_signing(s, c, &master)?,
            _ => {
                // Either half missing: a new pair, as C tor does.
                write.extend([KeyFile::SigningSecret, KeyFile::SigningCert]);
                new_signing(&master, &policy, now, rng)?
            }
        };

        let (rsa_crosscert, rsa_crosscert_expiry) =
            new_crosscert(&identity, &master.public(), &policy, now)?;
        let link = new_link(&identity, &signing, &policy, now, rng)?;
        let auth = new_auth(&signing, &policy, now, rng)?;

        let (ntor, mut set_at) = match stored.get(KeyFile::NtorOnion) {
            Some(b) => (
                files::decode_ntor(KeyFile::NtorOnion, b)?,
                stored.onion_key_set_at.filter(|t| *t <= now).unwrap_or(now),
            ),
            None => {
                write.push(KeyFile::NtorOnion);
                (new_ntor_key(rng), now)
            }
        };
        let tap = match stored.get(KeyFile::TapOnion) {
            Some(b) => files::decode_rsa(KeyFile::TapOnion, b)?,
            None => {
                write.push(KeyFile::TapOnion);
                set_at = now;
                new_rsa1024(rng)?
            }
        };
        let prev_ntor = stored
            .get(KeyFile::NtorOnionOld)
            .map(|b| files::decode_ntor(KeyFile::NtorOnionOld, b))
            .transpose()?;
        let prev_tap = stored
            .get(KeyFile::TapOnionOld)
            .map(|b| files::decode_rsa(KeyFile::TapOnionOld, b))
            .transpose()?;

        let mut keys = RelayKeys {
            nickname: nickname.to_string(),
            policy,
            identity,
            master,
            signing,
            signing_cert,
            signing_cert_expiry,
            rsa_crosscert,
            rsa_crosscert_expiry,
            link,
            auth,
            onion: OnionKeys {
                ntor,
                tap,
                set_at,
                prev_ntor,
                prev_tap,
            },
        };

        let report = keys.rotate(now, rng)?;
        let mut ops = Vec::new();
        for f in write {
            ops.push(keys.file_op(f)?);
        }
        ops.extend(keys.file_ops(&report)?);
        for f in [KeyFile::Fingerprint, KeyFile::FingerprintEd25519] {
            let op = keys.file_op(f)?;
            if let FileOp::Write(_, contents) = &op {
                if stored.get(f) != Some(&contents[..]) {
                    ops.push(op);
                }
            }
        }
        Ok((keys, ops))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn nicknames() {
        assert!(check_nickname("Unnamed").is_ok());
        assert!(check_nickname("a1234567890123456789").is_err());
        assert!(check_nickname("has space").is_err());
        assert!(check_nickname("").is_err());
    }
}
