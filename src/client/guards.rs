//! Entry guards (guard-spec, simplified; C tor `entrynodes.c`).
//!
//! The guard manager keeps a *sample* of guards (guard-spec §4.2 SAMPLED_GUARDS), chosen by
//! guard-weighted bandwidth from the relays that may be guards (Guard, Stable, Fast, Valid,
//! V2Dir; not MiddleOnly). It grows the sample until it holds
//! `guard-min-filtered-sample-size` (20) usable guards, within
//! `max(min, min(guard-max-sample-size 60, guard-max-sample-threshold-percent 20 % of the
//! guards))`. The *primary* guards (§4.6, `guard-n-primary-guards` 3 or `NumPrimaryGuards`)
//! are the confirmed guards in confirmation order, then earlier primaries still usable, then
//! the sample in order. A circuit gets (§4.9) the first usable primary guard (one of the
//! first `NumEntryGuards` / `guard-n-primary-guards-to-use`, 1, at random), else the first
//! non-pending confirmed guard, else the first usable sampled guard. A guard that fails is
//! unreachable until its retry time (§4.7: primary every 10 min for 6 h, 90 min until 4
//! days, 4 h until 7 days, then 9 h; others 1 h, 4 h, 18 h, 36 h); the first success
//! confirms it (§4.8). Each new NetDir re-filters the sample (§4.5); guards unlisted for
//! `guard-remove-unlisted-guards-after-days` (20) are dropped, as are unconfirmed guards
//! sampled more than `guard-lifetime-days` (120) ago and confirmed ones also confirmed
//! more than `guard-confirmed-min-lifetime-days` (60) ago.
//!
//! With `UseEntryGuards 0` the manager keeps no state and picks a guard-weighted relay
//! with the Guard flag for each circuit.
//!
//! Simplified against C tor: a circuit through a non-primary guard is usable at once
//! (no "wait for a better guard" state), there is no "internet likely down" logic, no
//! bridges, no path-bias counts, and no randomisation of `confirmed_on`.
//!
//! Persistence: [`GuardState::to_text`] / [`GuardState::from_text`] (format in
//! [`state`]'s docs). Time is a `u64` of Unix seconds passed in.

mod state;

pub use state::{Guard, GuardState};

use crate::dir::flags::RelayFlags;
use crate::ids::RsaIdentity;

use super::netdir::{NetDir, RelayInfo};

/// Errors of guard selection and of the state text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuardError {
    /// No sampled guard (and no relay that could be sampled) is usable for this circuit.
    #[error("no usable guard outside the path's families")]
    NoUsableGuard,
    /// A line of the state text is malformed.
    #[error("guard state line {line}: {reason}")]
    BadState {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

/// The torrc options that touch guards (C tor `UseEntryGuards`, `NumEntryGuards`,
/// `NumPrimaryGuards`, `NumDirectoryGuards`); 0 means "use the consensus parameter".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuardConfig {
    /// `UseEntryGuards` (default 1).
    pub use_entry_guards: bool,
    /// `NumEntryGuards`: how many primary guards a circuit chooses among.
    pub num_entry_guards: u32,
    /// `NumPrimaryGuards`: how many primary guards to keep.
    pub num_primary_guards: u32,
    /// `NumDirectoryGuards`: how many primary guards a directory fetch chooses among.
    pub num_directory_guards: u32,
}

impl Default for GuardConfig {
    fn default() -> Self {
        GuardConfig {
            use_entry_guards: true,
            num_entry_guards: 0,
            num_primary_guards: 0,
            num_directory_guards: 0,
        }
    }
}

const DAY: u64 = 86_400;

/// The guard parameters in force: consensus parameters (C tor names, defaults and ranges)
/// with torrc overrides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuardParams {
    /// Primary guards to keep.
    pub n_primary: usize,
    /// Primary guards a circuit chooses among.
    pub n_primary_to_use: usize,
    /// Primary guards a directory fetch chooses among.
    pub n_primary_dir_to_use: usize,
    /// `guard-max-sample-threshold-percent`.
    pub max_sample_threshold_percent: u32,
    /// `guard-max-sample-size`.
    pub max_sample_size: usize,
    /// `guard-min-filtered-sample-size`.
    pub min_filtered_sample_size: usize,
    /// `guard-remove-unlisted-guards-after-days`, in seconds.
    pub remove_unlisted_after: u64,
    /// `guard-lifetime-days`, in seconds.
    pub lifetime: u64,
    /// `guard-confirmed-min-lifetime-days`, in seconds.
    pub confirmed_min_lifetime: u64,
}

fn as_usize(v: i32) -> usize {
    usize::try_from(v).unwrap_or(1)
}

fn days(v: i32) -> u64 {
    u64::try_from(v).unwrap_or(1) * DAY
}

impl GuardParams {
    /// The parameters from `netdir`'s consensus and `config`.
    pub fn new(netdir: &NetDir, config: &GuardConfig) -> GuardParams {
        let p = |n: &str, d: i32, lo: i32, hi: i32| netdir.param(n, d, lo, hi);
        let pick = |configured: u32, n: &str, d: i32| {
            if configured >= 1 {
                configured as usize
            } else {
                as_usize(p(n, d, 1, i32::MAX))
            }
        };
        GuardParams {
            n_primary: pick(config.num_primary_guards, "guard-n-primary-guards", 3),
            n_primary_to_use: pick(config.num_entry_guards, "guard-n-primary-guards-to-use", 1),
            n_primary_dir_to_use: pick(
                config.num_directory_guards,
                "guard-n-primary-dir-guards-to-use",
                3,
            ),
            max_sample_threshold_percent: p("guard-max-sample-threshold-percent", 20, 1, 100)
                .unsigned_abs(),
            max_sample_size: as_usize(p("guard-max-sample-size", 60, 1, i32::MAX)),
            min_filtered_sample_size: as_usize(p(
                "guard-min-filtered-sample-size",
                20,
                1,
                i32::MAX,
            )),
            remove_unlisted_after: days(p("guard-remove-unlisted-guards-after-days", 20, 1, 3650)),
            lifetime: days(p("guard-lifetime-days", 120, 1, 3650)),
            confirmed_min_lifetime: days(p("guard-confirmed-min-lifetime-days", 60, 1, 3650)),
        }
    }

    /// The largest sample for a network with `n_guards` possible guards (C tor
    /// `get_max_sample_size`).
    pub fn max_sample(&self, n_guards: usize) -> usize {
        let by_pct = n_guards * self.max_sample_threshold_percent as usize / 100;
        by_pct
            .min(self.max_sample_size)
            .max(self.min_filtered_sample_size)
    }
}

/// How long to wait before retrying a guard that has been failing since `failing_since`
/// (guard-spec §4.7; C tor `get_retry_schedule`).
pub fn retry_delay(failing_since: u64, now: u64, primary: bool) -> u64 {
    const H: u64 = 3600;
    let t = now.saturating_sub(failing_since);
    let (p, np) = if t <= 6 * H {
        (10 * 60, H)
    } else if t <= 4 * DAY {
        (90 * 60, 4 * H)
    } else if t <= 7 * DAY {
        (4 * H, 18 * H)
    } else {
        (9 * H, 36 * H)
    };
    if primary {
        p
    } else {
        np
    }
}

/// Whether `r` may be sampled as a guard (C tor `node_is_possible_guard`; MiddleOnly
/// excluded as well).
pub fn is_possible_guard(r: &RelayInfo) -> bool {
    r.flags.contains(
        RelayFlags::GUARD
            .union(RelayFlags::STABLE)
            .union(RelayFlags::FAST)
            .union(RelayFlags::VALID)
            .union(RelayFlags::V2DIR),
    ) && !r.has(RelayFlags::MIDDLE_ONLY)
}

/// The guard manager: the persistent sample plus the reachability of each guard.
#[derive(Clone, Debug)]
pub struct GuardMgr {
    config: GuardConfig,
    state: GuardState,
    /// Primary guards, in order.
    primary: Vec<RsaIdentity>,
}

mod select;

impl GuardMgr {
    /// A manager starting from `state` (empty for a new client).
    pub fn new(config: GuardConfig, state: GuardState) -> GuardMgr {
        let primary = state.saved_primary();
        GuardMgr {
            config,
            state,
            primary,
        }
    }

    /// The state to persist (call [`GuardState::to_text`] on it after changes).
    pub fn state(&self) -> &GuardState {
        &self.state
    }

    /// The configuration.
    pub fn config(&self) -> &GuardConfig {
        &self.config
    }

    /// The primary guards, in order.
    pub fn primary(&self) -> &[RsaIdentity] {
        &self.primary
    }

    /// Notes that a circuit through guard `id` was built: the guard is reachable and, the
    /// first time, confirmed.
    pub fn note_success(&mut self, id: &RsaIdentity, now: u64) {
        let next = self.state.next_confirmed_idx();
        if let Some(g) = self.state.get_mut(id) {
            g.reachable = Some(true);
            g.failing_since = None;
            g.pending = false;
            if g.confirmed_idx.is_none() {
                g.confirmed_idx = Some(next);
                g.confirmed_on = Some(now);
            }
        }
    }

    /// Notes that connecting to guard `id` or building a circuit through it failed at
    /// `now`: it is unreachable until its retry time.
    pub fn note_failure(&mut self, id: &RsaIdentity, now: u64) {
        if let Some(g) = self.state.get_mut(id) {
            g.reachable = Some(false);
            g.pending = false;
            g.last_tried = Some(now);
            if g.failing_since.is_none() {
                g.failing_since = Some(now);
            }
        }
    }
}

#[cfg(test)]
mod tests;
