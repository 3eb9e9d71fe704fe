//! Checking a consensus's signatures and freshness (dir-spec §3.4.1 "directory-signature";
//! C tor `networkstatus_check_consensus_signature`, `networkstatus_consensus_reasonably_live`).
//!
//! An authority counts once if one of its signatures verifies: the certificate used must
//! have the signature's identity and signing-key digest, be in force at `now`, and the
//! signature (prefixless PKCS#1, prefix comparison as C tor's `check_signature_token`) must
//! recover the digest of the signed range. The consensus is accepted when more than half
//! of the configured authorities count.

use sha1::{Digest as _, Sha1};
use sha2::Sha256;

use super::Consensus;
use crate::dir::doc::authcert::{check_prefix_sig, AuthCert};
use crate::dir::doc::token::DocError;
use crate::ids::RsaIdentity;

/// C tor's `REASONABLY_LIVE_TIME`: a client uses a consensus up to 24 hours after its
/// `valid-until` (and from 24 hours before its `valid-after`) if it has nothing newer.
pub const REASONABLY_LIVE_SECS: u64 = 24 * 60 * 60;

const SIG_KEYWORD: &str = "directory-signature ";

/// The signed range: from the start through the space after the first
/// `directory-signature`.
pub(crate) fn signed_part(text: &str) -> Option<&str> {
    let pos = text.find("\ndirectory-signature ")?;
    text.get(..pos + 1 + SIG_KEYWORD.len())
}

impl Consensus {
    /// Checks that signatures from more than half of `authorities` (their `v3ident`s)
    /// verify with the matching `certs` (which must be in force at `now`), and that `now` is
    /// not after `valid-until`.
    pub fn verify(
        &self,
        authorities: &[RsaIdentity],
        certs: &[AuthCert],
        now: u64,
    ) -> Result<(), DocError> {
        if now > self.valid_until {
            return Err(DocError::Invalid(format!(
                "consensus expired: valid-until {} is before now ({})",
                crate::dir::doc::token::format_time(self.valid_until),
                crate::dir::doc::token::format_time(now)
            )));
        }
        self.verify_signatures(authorities, certs, now)
    }

    /// As [`Consensus::verify`], but with C tor's "reasonably live" window: accepted from
    /// [`REASONABLY_LIVE_SECS`] before `valid-after` to as long after `valid-until` (what a
    /// C tor client accepts when it has nothing better).
    pub fn verify_reasonably_live(
        &self,
        authorities: &[RsaIdentity],
        certs: &[AuthCert],
        now: u64,
    ) -> Result<(), DocError> {
        if now > self.valid_until.saturating_add(REASONABLY_LIVE_SECS)
            || now.saturating_add(REASONABLY_LIVE_SECS) < self.valid_after
        {
            return Err(DocError::Invalid(
                "consensus is not reasonably live (more than 24 hours outside its validity)".into(),
            ));
        }
        self.verify_signatures(authorities, certs, now)
    }

    /// Only the signature rule of [`Consensus::verify`] (certificates must still be in
    /// force at `now`).
    pub fn verify_signatures(
        &self,
        authorities: &[RsaIdentity],
        certs: &[AuthCert],
        now: u64,
    ) -> Result<(), DocError> {
        let mut auths: Vec<RsaIdentity> = authorities.to_vec();
        auths.sort_unstable();
        auths.dedup();
        if auths.is_empty() {
            return Err(DocError::Signature("no authorities configured".into()));
        }
        let signed = signed_part(&self.text)
            .ok_or(DocError::Missing("directory-signature"))?
            .as_bytes();
        let sha1: [u8; 20] = Sha1::digest(signed).into();
        let sha256: [u8; 32] = Sha256::digest(signed).into();
        let mut good = 0usize;
        let mut problems: Vec<String> = Vec::new();
        for auth in &auths {
            let sigs: Vec<_> = self
                .signatures
                .iter()
                .filter(|s| s.identity == *auth)
                .collect();
            if sigs.is_empty() {
                continue;
            }
            let ok = sigs.iter().any(|s| {
                let digest: &[u8] = if s.sha256 { &sha256 } else { &sha1 };
                let Some(cert) = certs.iter().find(|c| {
                    c.fingerprint == s.identity && c.signing_key_digest() == s.signing_key_digest
                }) else {
                    problems.push(format!(
                        "no certificate for {} with signing key {}",
                        auth.to_hex(),
                        s.signing_key_digest.to_hex()
                    ));
                    return false;
                };
                if now > cert.expires {
                    problems.push(format!("certificate of {} expired", auth.to_hex()));
                    return false;
                }
                if check_prefix_sig(&cert.signing_key, digest, &s.signature) {
                    true
                } else {
                    problems.push(format!("bad signature by {}", auth.to_hex()));
                    false
                }
            });
            if ok {
                good += 1;
            }
        }
        if 2 * good > auths.len() {
            Ok(())
        } else {
            let mut why = format!(
                "only {good} of {} authorities signed validly (need more than half)",
                auths.len()
            );
            if !problems.is_empty() {
                why.push_str(": ");
                why.push_str(&problems.join("; "));
            }
            Err(DocError::Signature(why))
        }
    }
}
