//! The persistent guard sample and its text form (guard-spec §4.1 "the guard state", in a
//! line format of our own, close to C tor's `Guard` lines in its `state` file).
//!
//! # Format
//!
//! One line per sampled guard, in sample order:
//!
//! ```text
//! Guard rsa_id=<40 hex> sampled_on=<unix secs> [nickname=<name>] [ed_id=<base64>]
//!       [unlisted_since=<unix secs>] [confirmed_on=<unix secs> confirmed_idx=<n>]
//!       [primary_idx=<n>]
//! ```
//!
//! (all on one line, fields separated by single spaces, in any order). `confirmed_idx` is
//! the guard's position in the confirmed list, `primary_idx` its position among the primary
//! guards when saved (so the primary order survives restarts). Lines that do not start
//! with `Guard ` (blank lines, `#` comments, other state of the caller) are ignored, as are
//! unknown `key=value` fields. Reachability is not saved: after a restart every guard is
//! "maybe reachable", as in C tor.

use std::collections::HashSet;
use std::fmt::Write as _;

use crate::ids::{Ed25519Identity, RsaIdentity};

use super::GuardError;

/// One sampled guard (guard-spec §4.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Guard {
    /// Its RSA identity.
    pub rsa_id: RsaIdentity,
    /// Its Ed25519 identity, when known.
    pub ed_id: Option<Ed25519Identity>,
    /// Its nickname when sampled (informational).
    pub nickname: String,
    /// When it was added to the sample (possibly set back at random, as C tor).
    pub sampled_on: u64,
    /// Since when it is not listed as a possible guard, if it is not.
    pub unlisted_since: Option<u64>,
    /// When a circuit through it first succeeded.
    pub confirmed_on: Option<u64>,
    /// Its position in the confirmed list.
    pub confirmed_idx: Option<u32>,
    /// Its position among the primary guards when the state was saved.
    pub primary_idx: Option<u32>,
    /// Reachability: `Some(true)` yes, `Some(false)` no, `None` maybe (not saved).
    pub reachable: Option<bool>,
    /// Since when it has been failing (not saved).
    pub failing_since: Option<u64>,
    /// When it was last tried (not saved).
    pub last_tried: Option<u64>,
    /// Whether a circuit through it (as a non-primary guard) is being built (not saved).
    pub pending: bool,
}

impl Guard {
    /// A guard sampled at `sampled_on`.
    pub fn new(
        rsa_id: RsaIdentity,
        ed_id: Option<Ed25519Identity>,
        nickname: &str,
        sampled_on: u64,
    ) -> Guard {
        Guard {
            rsa_id,
            ed_id,
            nickname: nickname.to_string(),
            sampled_on,
            unlisted_since: None,
            confirmed_on: None,
            confirmed_idx: None,
            primary_idx: None,
            reachable: None,
            failing_since: None,
            last_tried: None,
            pending: false,
        }
    }
}

/// The sampled guards, in sample order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GuardState {
    /// The sample.
    pub guards: Vec<Guard>,
}

fn nickname_ok(s: &str) -> bool {
    !s.is_empty() && s.len() <= 19 && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

impl GuardState {
    /// The guard with this identity.
    pub fn get(&self, id: &RsaIdentity) -> Option<&Guard> {
        self.guards.iter().find(|g| g.rsa_id == *id)
    }

    pub(super) fn get_mut(&mut self, id: &RsaIdentity) -> Option<&mut Guard> {
        self.guards.iter_mut().find(|g| g.rsa_id == *id)
    }

    /// The next free confirmed index.
    pub(super) fn next_confirmed_idx(&self) -> u32 {
        self.guards
            .iter()
            .filter_map(|g| g.confirmed_idx)
            .max()
            .map_or(0, |m| m.saturating_add(1))
    }

    /// The confirmed guards' identities in confirmation order.
    pub fn confirmed(&self) -> Vec<RsaIdentity> {
        let mut c: Vec<(u32, RsaIdentity)> = self
            .guards
            .iter()
            .filter_map(|g| g.confirmed_idx.map(|i| (i, g.rsa_id)))
            .collect();
        c.sort();
        c.into_iter().map(|(_, id)| id).collect()
    }

    /// The primary guards recorded at the last save, in order.
    pub(super) fn saved_primary(&self) -> Vec<RsaIdentity> {
        let mut p: Vec<(u32, RsaIdentity)> = self
            .guards
            .iter()
            .filter_map(|g| g.primary_idx.map(|i| (i, g.rsa_id)))
            .collect();
        p.sort();
        p.into_iter().map(|(_, id)| id).collect()
    }

    /// The text form (see the module docs).
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        for g in &self.guards {
            let _ = write!(
                s,
                "Guard rsa_id={} sampled_on={}",
                g.rsa_id.to_hex(),
                g.sampled_on
            );
            if nickname_ok(&g.nickname) {
                let _ = write!(s, " nickname={}", g.nickname);
            }
            if let Some(ed) = g.ed_id {
                let _ = write!(s, " ed_id={}", ed.to_base64());
            }
            if let Some(t) = g.unlisted_since {
                let _ = write!(s, " unlisted_since={t}");
            }
            if let (Some(t), Some(i)) = (g.confirmed_on, g.confirmed_idx) {
                let _ = write!(s, " confirmed_on={t} confirmed_idx={i}");
            }
            if let Some(i) = g.primary_idx {
                let _ = write!(s, " primary_idx={i}");
            }
            s.push('\n');
        }
        s
    }

    /// Parses the text form. Malformed `Guard` lines and duplicate identities are errors.
    pub fn from_text(text: &str) -> Result<GuardState, GuardError> {
        let mut guards = Vec::new();
        let mut seen = HashSet::new();
        for (n, line) in text.lines().enumerate() {
            let mut words = line.split(' ');
            if words.next() != Some("Guard") {
                continue;
            }
            let bad = |reason: &str| GuardError::BadState {
                line: n + 1,
                reason: reason.to_string(),
            };
            let num = |v: &str| v.parse::<u64>().map_err(|_| bad("bad number"));
            let mut rsa = None;
            let mut sampled = None;
            let mut g = Guard::new(RsaIdentity([0; 20]), None, "", 0);
            let mut confirmed_on = None;
            let mut confirmed_idx = None;
            for w in words.filter(|w| !w.is_empty()) {
                let Some((k, v)) = w.split_once('=') else {
                    return Err(bad("field without '='"));
                };
                match k {
                    "rsa_id" => {
                        rsa = Some(RsaIdentity::from_hex(v).ok_or_else(|| bad("bad rsa_id"))?)
                    }
                    "sampled_on" => sampled = Some(num(v)?),
                    "nickname" => g.nickname = v.to_string(),
                    "ed_id" => {
                        g.ed_id =
                            Some(Ed25519Identity::from_base64(v).ok_or_else(|| bad("bad ed_id"))?)
                    }
                    "unlisted_since" => g.unlisted_since = Some(num(v)?),
                    "confirmed_on" => confirmed_on = Some(num(v)?),
                    "confirmed_idx" => {
                        confirmed_idx = Some(u32::try_from(num(v)?).map_err(|_| bad("bad index"))?)
                    }
                    "primary_idx" => {
                        g.primary_idx = Some(u32::try_from(num(v)?).map_err(|_| bad("bad index"))?)
                    }
                    _ => {}
                }
            }
            g.rsa_id = rsa.ok_or_else(|| bad("missing rsa_id"))?;
            g.sampled_on = sampled.ok_or_else(|| bad("missing sampled_on"))?;
            match (confirmed_on, confirmed_idx) {
                (Some(t), Some(i)) => {
                    g.confirmed_on = Some(t);
                    g.confirmed_idx = Some(i);
                }
                (None, None) => {}
                _ => return Err(bad("confirmed_on and confirmed_idx go together")),
            }
            if !seen.insert(g.rsa_id) {
                return Err(bad("duplicate guard"));
            }
            guards.push(g);
        }
        Ok(GuardState { guards })
    }
}
