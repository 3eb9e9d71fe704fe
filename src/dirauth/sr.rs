//! The shared-random protocol of a single authority (srv-spec; proposal 250; C tor
//! `shared_random.c`, `shared_random_state.c`).
//!
//! A protocol run is 24 voting rounds: 12 in the commit phase, then 12 in the reveal phase;
//! the round of a valid-after time `va` is `(va / interval) % 24`, so with the public
//! network's 1-hour interval a run is a UTC day, and with a test network's 5 minutes it is 2
//! hours. At the first round of each run the authority rotates the current SRV into the
//! previous one and computes a new current SRV from the reveals of the run that ended:
//!
//! ```text
//! REVEAL = base64(INT_8(timestamp) | RN)            (RN: 32 random bytes)
//! COMMIT = base64(INT_8(timestamp) | SHA3-256(REVEAL))
//! HASHED_REVEALS = SHA3-256(ID_a | REVEAL_a | ID_b | REVEAL_b | ...)   (ID: upper-case hex
//!                  RSA fingerprint; sorted by SHA3-256(REVEAL))
//! SRV = SHA3-256("shared-random" | INT_8(reveal_count) | INT_4(1) | HASHED_REVEALS |
//!                previous SRV, or 32 zero bytes)
//! ```
//!
//! A lone authority only ever has its own commit, made in the first commit round it sees
//! (the run's first round, or its boot round when it starts during a commit phase). When it
//! boots during a reveal phase it has no commit, and at the next run C tor still computes an
//! SRV, over zero reveals. The consensus carries the state's values as
//! `shared-rand-previous-value` / `shared-rand-current-value` (a lone authority's vote is the
//! majority, and `AuthDirNumSRVAgreements` defaults to 2/3 of one = 0).
//!
//! Not here: commits and reveals of other authorities (votes), the `shared-rand-commit` vote
//! lines.

use base64::Engine as _;
use sha3::{Digest, Sha3_256};
use zeroize::Zeroize;

use super::DirAuthError;
use crate::ids::RsaIdentity;

/// Rounds per phase.
pub const N_ROUNDS: u64 = 12;
/// Phases per run.
pub const N_PHASES: u64 = 2;
/// Protocol version in the SRV formula.
pub const PROTO_VERSION: u32 = 1;

/// A protocol phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Commit phase (the first 12 rounds of a run).
    Commit,
    /// Reveal phase.
    Reveal,
}

/// The phase of the round starting at `valid_after` (C tor `get_sr_protocol_phase`).
pub fn phase_of(valid_after: u64, interval: u64) -> Phase {
    if (valid_after / interval.max(1)) % (N_ROUNDS * N_PHASES) < N_ROUNDS {
        Phase::Commit
    } else {
        Phase::Reveal
    }
}

/// A shared random value with the number of reveals it was computed from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Srv {
    /// Number of reveals.
    pub reveals: u64,
    /// The value.
    pub value: [u8; 32],
}

impl Srv {
    /// The value in base64 with padding, as consensuses carry it.
    pub fn value_b64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.value)
    }
}

/// One authority's commitment for a run.
#[derive(Clone, PartialEq, Eq)]
pub struct Commit {
    /// The authority's v3 identity.
    pub identity: RsaIdentity,
    /// Commit (and reveal) timestamp: the valid-after of the round it was made in.
    pub timestamp: u64,
    /// The secret random number.
    pub random: [u8; 32],
}

impl Drop for Commit {
    fn drop(&mut self) {
        self.random.zeroize();
    }
}

impl std::fmt::Debug for Commit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Commit")
            .field("identity", &self.identity)
            .field("timestamp", &self.timestamp)
            .finish_non_exhaustive()
    }
}

impl Commit {
    /// `REVEAL`: base64 (padded) of the timestamp and the random number.
    pub fn encoded_reveal(&self) -> String {
        let mut buf = [0u8; 40];
        buf[..8].copy_from_slice(&self.timestamp.to_be_bytes());
        buf[8..].copy_from_slice(&self.random);
        let s = base64::engine::general_purpose::STANDARD.encode(buf);
        buf.zeroize();
        s
    }

    /// SHA3-256 of `REVEAL`.
    pub fn hashed_reveal(&self) -> [u8; 32] {
        Sha3_256::digest(self.encoded_reveal().as_bytes()).into()
    }

    /// `COMMIT`: base64 of the timestamp and the hashed reveal.
    pub fn encoded_commit(&self) -> String {
        let mut buf = [0u8; 40];
        buf[..8].copy_from_slice(&self.timestamp.to_be_bytes());
        buf[8..].copy_from_slice(&self.hashed_reveal());
        base64::engine::general_purpose::STANDARD.encode(buf)
    }
}

/// The SRV formula over `commits` (all with reveals) and the previous SRV.
pub fn compute_srv(commits: &[&Commit], previous: Option<&Srv>) -> Srv {
    let mut sorted: Vec<&&Commit> = commits.iter().collect();
    sorted.sort_by_key(|c| c.hashed_reveal());
    let mut reveals = String::new();
    for c in &sorted {
        reveals.push_str(&c.identity.to_hex().to_ascii_uppercase());
        reveals.push_str(&c.encoded_reveal());
    }
    let hashed: [u8; 32] = Sha3_256::digest(reveals.as_bytes()).into();
    reveals.zeroize();
    let n = sorted.len() as u64;
    let mut h = Sha3_256::new();
    h.update(b"shared-random");
    h.update(n.to_be_bytes());
    h.update(PROTO_VERSION.to_be_bytes());
    h.update(hashed);
    h.update(previous.map(|p| p.value).unwrap_or([0; 32]));
    Srv {
        reveals: n,
        value: h.finalize().into(),
    }
}

/// A lone authority's shared-random state (C tor `sr_state_t`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SrState {
    /// Phase of the last round the state was updated for.
    pub phase: Phase,
    /// Valid-after of that round (0: never updated).
    pub valid_after: u64,
    /// Our commit for the current run, if any.
    pub commit: Option<Commit>,
    /// Previous SRV.
    pub previous: Option<Srv>,
    /// Current SRV.
    pub current: Option<Srv>,
}

impl SrState {
    /// A new state at boot time `now` (C tor `state_new`: the phase of `now`'s slot).
    pub fn new(now: u64, interval: u64) -> SrState {
        SrState {
            phase: phase_of(now, interval),
            valid_after: 0,
            commit: None,
            previous: None,
            current: None,
        }
    }

    /// Prepares the state for the round starting at `valid_after` (C tor `sr_state_update`);
    /// `random` is used if a new commit is made. Calls for a round not after the last one
    /// are ignored.
    pub fn update(
        &mut self,
        valid_after: u64,
        interval: u64,
        identity: RsaIdentity,
        random: [u8; 32],
    ) {
        if valid_after <= self.valid_after {
            return;
        }
        let next = phase_of(valid_after, interval);
        let commit = || Commit {
            identity,
            timestamp: valid_after,
            random,
        };
        if next != self.phase {
            if next == Phase::Commit {
                // New protocol run.
                if self.phase == Phase::Reveal {
                    self.previous = self.current.take();
                    let commits: Vec<&Commit> = self.commit.iter().collect();
                    self.current = Some(compute_srv(&commits, self.previous.as_ref()));
                }
                self.commit = Some(commit());
            }
            self.phase = next;
        } else if self.phase == Phase::Commit && self.commit.is_none() {
            self.commit = Some(commit());
        }
        self.valid_after = valid_after;
    }

    /// Serializes the state (contains the secret random number: write it 0600).
    pub fn to_text(&self) -> String {
        let mut s = String::from("Version 1\n");
        let phase = match self.phase {
            Phase::Commit => "commit",
            Phase::Reveal => "reveal",
        };
        s.push_str(&format!("Phase {phase}\nValidAfter {}\n", self.valid_after));
        if let Some(c) = &self.commit {
            s.push_str(&format!(
                "Commit {} {} {}\n",
                c.identity.to_hex(),
                c.timestamp,
                hex::encode(c.random)
            ));
        }
        for (k, v) in [("Previous", &self.previous), ("Current", &self.current)] {
            if let Some(v) = v {
                s.push_str(&format!("{k} {} {}\n", v.reveals, v.value_b64()));
            }
        }
        s
    }

    /// Parses [`SrState::to_text`]'s output.
    pub fn from_text(text: &str) -> Result<SrState, DirAuthError> {
        let bad = |r: &str| DirAuthError::BadState {
            what: "shared-random",
            reason: r.to_string(),
        };
        let mut st = SrState {
            phase: Phase::Commit,
            valid_after: 0,
            commit: None,
            previous: None,
            current: None,
        };
        let mut version = false;
        for line in text.lines() {
            let w: Vec<&str> = line.split_ascii_whitespace().collect();
            match w.as_slice() {
                [] => {}
                ["Version", "1"] => version = true,
                ["Phase", "commit"] => st.phase = Phase::Commit,
                ["Phase", "reveal"] => st.phase = Phase::Reveal,
                ["ValidAfter", t] => st.valid_after = t.parse().map_err(|_| bad("ValidAfter"))?,
                ["Commit", id, ts, rn] => {
                    let identity = RsaIdentity::from_hex(id).ok_or_else(|| bad("Commit id"))?;
                    let timestamp = ts.parse().map_err(|_| bad("Commit time"))?;
                    let mut random = [0u8; 32];
                    hex::decode_to_slice(rn, &mut random).map_err(|_| bad("Commit value"))?;
                    st.commit = Some(Commit {
                        identity,
                        timestamp,
                        random,
                    });
                }
                [k @ ("Previous" | "Current"), n, v] => {
                    let reveals = n.parse().map_err(|_| bad("SRV count"))?;
                    let value: [u8; 32] = base64::engine::general_purpose::STANDARD
                        .decode(v)
                        .ok()
                        .and_then(|v| v.try_into().ok())
                        .ok_or_else(|| bad("SRV value"))?;
                    let srv = Some(Srv { reveals, value });
                    if *k == "Previous" {
                        st.previous = srv;
                    } else {
                        st.current = srv;
                    }
                }
                _ => return Err(bad("unknown line")),
            }
        }
        if !version {
            return Err(bad("no Version 1 line"));
        }
        Ok(st)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: u64 = 1_795_219_200; // a midnight UTC

    #[test]
    fn phases() {
        assert_eq!(phase_of(DAY, 3600), Phase::Commit);
        assert_eq!(phase_of(DAY + 11 * 3600, 3600), Phase::Commit);
        assert_eq!(phase_of(DAY + 12 * 3600, 3600), Phase::Reveal);
        assert_eq!(phase_of(DAY + 23 * 3600, 3600), Phase::Reveal);
        // 5-minute rounds: a 2-hour run, aligned on the epoch.
        assert_eq!(phase_of(DAY + 60 * 60, 300), Phase::Reveal);
        assert_eq!(phase_of(DAY + 120 * 60, 300), Phase::Commit);
    }

    #[test]
    fn srv_formula_by_hand() {
        let c = Commit {
            identity: RsaIdentity([0x11; 20]),
            timestamp: 0x0102,
            random: [7; 32],
        };
        let srv = compute_srv(&[&c], None);
        let mut reveal_buf = vec![0u8; 6];
        reveal_buf.extend([1, 2]);
        reveal_buf.extend([7u8; 32]);
        let reveal = base64::engine::general_purpose::STANDARD.encode(&reveal_buf);
        assert_eq!(reveal, c.encoded_reveal());
        assert_eq!(reveal.len(), 56);
        let hashed = Sha3_256::digest(format!("{}{}", "11".repeat(20), reveal).as_bytes());
        let mut msg = b"shared-random".to_vec();
        msg.extend(1u64.to_be_bytes());
        msg.extend(1u32.to_be_bytes());
        msg.extend(hashed);
        msg.extend([0u8; 32]);
        assert_eq!(srv.value, <[u8; 32]>::from(Sha3_256::digest(&msg)));
        assert_eq!(srv.reveals, 1);
        // No reveals: still a value, over SHA3-256("").
        let none = compute_srv(&[], Some(&srv));
        let mut msg = b"shared-random".to_vec();
        msg.extend(0u64.to_be_bytes());
        msg.extend(1u32.to_be_bytes());
        msg.extend(Sha3_256::digest(b""));
        msg.extend(srv.value);
        assert_eq!(none.value, <[u8; 32]>::from(Sha3_256::digest(&msg)));
        assert_eq!(none.reveals, 0);
    }

    #[test]
    fn lone_authority_run() {
        let id = RsaIdentity([0x22; 20]);
        let iv = 300;
        let run = 24 * iv;
        // Boot in the middle of a commit phase.
        let start = DAY + 3 * iv;
        let mut st = SrState::new(start - 10, iv);
        st.update(start, iv, id, [1; 32]);
        assert!(st.commit.is_some());
        assert_eq!(st.current, None);
        let c1 = st.commit.clone().unwrap();
        assert_eq!(c1.timestamp, start);
        for r in 4..24 {
            st.update(DAY + r * iv, iv, id, [9; 32]);
        }
        assert_eq!(st.phase, Phase::Reveal);
        assert_eq!(st.commit.as_ref().unwrap().random, [1; 32]);
        st.update(DAY + run, iv, id, [2; 32]);
        let cur = st.current.unwrap();
        assert_eq!(cur, compute_srv(&[&c1], None));
        assert_eq!(st.previous, None);
        assert_eq!(st.commit.as_ref().unwrap().random, [2; 32]);
        let c2 = st.commit.clone().unwrap();
        for r in 25..48 {
            st.update(DAY + r * iv, iv, id, [8; 32]);
        }
        st.update(DAY + 2 * run, iv, id, [3; 32]);
        assert_eq!(st.previous, Some(cur));
        assert_eq!(st.current, Some(compute_srv(&[&c2], Some(&cur))));
        // Idempotent per round; persisted and restored.
        let before = st.clone();
        st.update(DAY + 2 * run, iv, id, [4; 32]);
        assert_eq!(st, before);
        assert_eq!(SrState::from_text(&st.to_text()).unwrap(), st);
    }

    #[test]
    fn boot_in_reveal_phase() {
        let id = RsaIdentity([0x33; 20]);
        let iv = 3600;
        let mut st = SrState::new(DAY + 13 * iv, iv);
        st.update(DAY + 14 * iv, iv, id, [1; 32]);
        assert!(st.commit.is_none());
        st.update(DAY + 24 * iv, iv, id, [2; 32]);
        assert_eq!(st.current.unwrap().reveals, 0);
    }

    #[test]
    fn bad_state_text() {
        assert!(SrState::from_text("").is_err());
        assert!(SrState::from_text("Version 1\nCommit zz 1 00\n").is_err());
        assert!(SrState::from_text("Version 1\nCurrent 1 AAAA\n").is_err());
    }

    proptest::proptest! {
        #[test]
        fn state_text_never_panics(s in "\\PC{0,200}") {
            let _ = SrState::from_text(&s);
        }
    }
}
