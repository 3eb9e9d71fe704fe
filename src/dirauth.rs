//! The directory authority of a private network (dir-spec §3; C tor's `src/feature/dirauth/`):
//! the sans-IO decisions a lone v3 authority makes. The runtime that accepts uploads, tests
//! reachability and publishes consensuses on schedule is `rt::dirauth`.
//!
//! - [`flags`]: which status flags each relay gets (dir-spec §3.4.2, C tor `voteflags.c`),
//!   from descriptor facts and the authority's reachability history ([`flags::History`]).
//! - [`weights`]: the `bandwidth-weights` line (dir-spec §3.8.3, method ≥ 14 / "v10").
//! - [`sr`]: the shared-random commit/reveal state and SRV computation of a single authority
//!   (srv-spec, C tor `shared_random*.c`).
//! - [`schedule`]: valid-after/fresh-until/valid-until times (C tor `voting_schedule.c`).
//! - [`accept`]: the checks an uploaded descriptor must pass (C tor `process_descs.c`), with
//!   C tor's rejection messages.
//! - [`routerset`]: fingerprint/nickname lists such as `TestingDirAuthVoteGuard *`.
//!
//! Not here: votes exchanged between several authorities (a lone authority's consensus is
//! built from its own opinion), bandwidth-authority measurements, guardfraction, bridges.

pub mod accept;
pub mod flags;
pub mod routerset;
pub mod schedule;
pub mod sr;
pub mod state;
pub mod weights;

/// Errors of the authority's sans-IO parts.
#[derive(Debug, thiserror::Error)]
pub enum DirAuthError {
    /// A persisted state file (shared-random state, pinned keys) could not be read.
    #[error("bad {what} state: {reason}")]
    BadState {
        /// Which state.
        what: &'static str,
        /// Why.
        reason: String,
    },
}
