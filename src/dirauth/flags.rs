//! Flag assignment (dir-spec §3.4.2; C tor `voteflags.c`, `dirserv_compute_performance_
//! thresholds` and `dirauth_set_routerstatus_from_routerinfo`).
//!
//! Input: one [`RelayRecord`] per accepted descriptor (the facts the authority needs from the
//! descriptor, and its [`History`] of reachability tests); output: each relay's
//! [`RelayFlags`] and consensus bandwidth. Thresholds are computed over the "active" relays
//! as C tor does: Stable from the median uptime (or 30 days), Fast from the 1/8th-lowest
//! bandwidth (clamped to [4 kB/s, 100 kB/s] outside test networks), Guard from the
//! 3/4-fraction bandwidth, the 1/8th time-known and the median weighted fractional uptime.
//!
//! Simplifications, documented: the history keeps plain (not exponentially decayed)
//! time-known and fractional-uptime figures, and mean time between failures is never "enough
//! data" (as for an authority younger than 4 days, where C tor also uses uptime for Stable).
//! Bandwidths are only self-advertised (no bandwidth authority), so the consensus marks them
//! `Unmeasured=1`.

use std::net::Ipv4Addr;

use super::routerset::RouterSet;
use crate::config::{PolicyAction, PolicyAddr, PolicyRule};
use crate::dir::flags::RelayFlags;
use crate::ids::RsaIdentity;

/// A relay must have been reached within this long to be Running (C tor `REACHABLE_TIMEOUT`).
pub const REACHABLE_TIMEOUT: u64 = 45 * 60;
/// Descriptors older than this are not "active" (C tor `ROUTER_MAX_AGE_TO_PUBLISH`).
pub const ROUTER_MAX_AGE_TO_PUBLISH: u64 = 24 * 3600;
/// Descriptors older than this get StaleDesc (C tor `DESC_IS_STALE_INTERVAL`).
pub const DESC_IS_STALE_INTERVAL: u64 = 18 * 3600;
/// Largest believable self-advertised bandwidth, bytes/s.
pub const MAX_BELIEVABLE_BANDWIDTH: u64 = 10_000_000;

/// The authority's options that bear on flags (C tor `dirauth_options.inc` defaults via
/// [`FlagOptions::default_net`], `TestingTorNetwork 1` ones via [`FlagOptions::testing`]).
#[derive(Clone, Debug, PartialEq)]
pub struct FlagOptions {
    /// `TestingTorNetwork`.
    pub testing: bool,
    /// `MinUptimeHidServDirectoryV2`, seconds.
    pub min_uptime_hsdir: u64,
    /// `AuthDirVoteStableGuaranteeMinUptime`.
    pub stable_guarantee_uptime: u64,
    /// `AuthDirVoteGuardGuaranteeTimeKnown`.
    pub guard_guarantee_tk: u64,
    /// `AuthDirVoteGuardGuaranteeWFU`.
    pub guard_guarantee_wfu: f64,
    /// `AuthDirVoteGuardBwThresholdFraction`.
    pub guard_bw_fraction: f64,
    /// `AuthDirFastGuarantee`, bytes/s.
    pub fast_guarantee: u64,
    /// `AuthDirGuardBWGuarantee`, bytes/s.
    pub guard_bw_guarantee: u64,
    /// `TestingMinFastFlagThreshold`, bytes/s.
    pub testing_min_fast: u64,
    /// `TestingMinExitFlagThreshold`, bytes/s.
    pub testing_min_exit: u64,
    /// `TestingAuthDirTimeToLearnReachability`, seconds.
    pub time_to_learn_reachability: u64,
    /// `TestingDirAuthVoteExit` (only in test networks).
    pub vote_exit: RouterSet,
    /// `TestingDirAuthVoteExitIsStrict`.
    pub vote_exit_strict: bool,
    /// `TestingDirAuthVoteGuard`.
    pub vote_guard: RouterSet,
    /// `TestingDirAuthVoteGuardIsStrict`.
    pub vote_guard_strict: bool,
    /// `TestingDirAuthVoteHSDir`.
    pub vote_hsdir: RouterSet,
    /// `TestingDirAuthVoteHSDirIsStrict`.
    pub vote_hsdir_strict: bool,
    /// `AuthDirVoteGuard` (outside test networks).
    pub auth_vote_guard: RouterSet,
}

impl FlagOptions {
    /// C tor's defaults.
    pub fn default_net() -> FlagOptions {
        FlagOptions {
            testing: false,
            min_uptime_hsdir: 96 * 3600,
            stable_guarantee_uptime: 30 * 86_400,
            guard_guarantee_tk: 8 * 86_400,
            guard_guarantee_wfu: 0.98,
            guard_bw_fraction: 0.75,
            fast_guarantee: 100 * 1000,
            guard_bw_guarantee: 2_000_000,
            testing_min_fast: 0,
            testing_min_exit: 0,
            time_to_learn_reachability: 30 * 60,
            vote_exit: RouterSet::empty(),
            vote_exit_strict: false,
            vote_guard: RouterSet::empty(),
            vote_guard_strict: false,
            vote_hsdir: RouterSet::empty(),
            vote_hsdir_strict: false,
            auth_vote_guard: RouterSet::empty(),
        }
    }

    /// With `TestingTorNetwork 1`'s defaults.
    pub fn testing() -> FlagOptions {
        FlagOptions {
            testing: true,
            min_uptime_hsdir: 0,
            time_to_learn_reachability: 0,
            ..FlagOptions::default_net()
        }
    }
}

/// The authority's reachability history of one relay (a plain stand-in for C tor's `rephist`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct History {
    /// When the authority first learned of the relay.
    pub first_seen: u64,
    /// Last successful reachability test.
    pub last_reachable: Option<u64>,
    /// Start of the current run of successful tests (None while considered down).
    pub up_since: Option<u64>,
    /// Seconds the relay was observed up, closed runs only.
    pub up_total: u64,
    /// Last test, successful or not.
    pub last_tested: Option<u64>,
}

impl History {
    /// A relay first seen at `now`.
    pub fn new(now: u64) -> History {
        History {
            first_seen: now,
            ..History::default()
        }
    }

    /// Records a successful test.
    pub fn note_reachable(&mut self, now: u64) {
        self.last_tested = Some(now);
        self.last_reachable = Some(now);
        if self.up_since.is_none() {
            self.up_since = Some(now);
        }
    }

    /// Records a failed test.
    pub fn note_unreachable(&mut self, now: u64) {
        self.last_tested = Some(now);
        if let Some(s) = self.up_since.take() {
            let end = self.last_reachable.unwrap_or(s).max(s).min(now);
            self.up_total += end - s;
        }
    }

    /// Time known (weighted in C tor; plain here).
    pub fn time_known(&self, now: u64) -> u64 {
        now.saturating_sub(self.first_seen)
    }

    /// Fractional uptime since first seen (1.0 for a relay known for no time yet).
    pub fn wfu(&self, now: u64) -> f64 {
        let known = self.time_known(now);
        if known == 0 {
            return if self.up_since.is_some() { 1.0 } else { 0.0 };
        }
        let open = self.up_since.map(|s| now.saturating_sub(s)).unwrap_or(0);
        ((self.up_total + open) as f64 / known as f64).min(1.0)
    }
}

/// What the flag rules need about one relay.
#[derive(Clone, Debug, PartialEq)]
pub struct RelayRecord {
    /// RSA identity.
    pub rsa_id: RsaIdentity,
    /// Nickname.
    pub nickname: String,
    /// IPv4 address.
    pub ipv4: Ipv4Addr,
    /// Descriptor `published`.
    pub published: u64,
    /// Descriptor `uptime` (0 when absent).
    pub uptime: u64,
    /// `bandwidth` average (rate), bytes/s.
    pub bandwidth_rate: u64,
    /// `bandwidth` observed (capacity), bytes/s.
    pub bandwidth_observed: u64,
    /// Its IPv4 exit policy, in order.
    pub exit_policy: Vec<PolicyRule>,
    /// `tunnelled-dir-server`.
    pub tunnelled_dir_server: bool,
    /// `hidden-service-dir`.
    pub hidden_service_dir: bool,
    /// It is a configured authority (`DirAuthority` fingerprint).
    pub is_authority: bool,
    /// It is this authority's own relay (always Running).
    pub is_me: bool,
    /// Reachability history.
    pub history: History,
}

impl RelayRecord {
    /// Uptime estimated at `now` (C tor `real_uptime`).
    pub fn real_uptime(&self, now: u64) -> u64 {
        self.uptime + now.saturating_sub(self.published)
    }

    /// Self-advertised bandwidth, capped (C tor `router_get_advertised_bandwidth_capped`), in
    /// kilobytes/s: the consensus `w Bandwidth=` value.
    pub fn bandwidth_kb(&self) -> u32 {
        let b = self
            .bandwidth_rate
            .min(self.bandwidth_observed)
            .min(MAX_BELIEVABLE_BANDWIDTH);
        u32::try_from(b / 1000).unwrap_or(u32::MAX)
    }

    /// Reached within [`REACHABLE_TIMEOUT`] (or is the authority itself).
    pub fn is_running(&self, now: u64) -> bool {
        self.is_me
            || self
                .history
                .last_reachable
                .is_some_and(|t| now < t + REACHABLE_TIMEOUT)
    }

    fn is_exit(&self, testing: bool) -> bool {
        !rejects_all(&self.exit_policy) && is_general_exit(&self.exit_policy, testing)
    }

    /// C tor `router_is_active`: fresh enough descriptor, running (valid is implied), and
    /// some bandwidth (not required in test networks without `TestingMinExitFlagThreshold`).
    fn is_active(&self, now: u64, opts: &FlagOptions) -> bool {
        if self.published + ROUTER_MAX_AGE_TO_PUBLISH < now || !self.is_running(now) {
            return false;
        }
        let capacity = self.bandwidth_observed > 0;
        capacity || (opts.testing && opts.testing_min_exit == 0)
    }
}

fn v4_net(addr: &PolicyAddr) -> Option<(u32, u8)> {
    match addr {
        PolicyAddr::Any | PolicyAddr::AnyV4 => Some((0, 0)),
        PolicyAddr::Net {
            addr: std::net::IpAddr::V4(a),
            prefix,
        } => Some((u32::from(*a), (*prefix).min(32))),
        _ => None,
    }
}

fn is_private_slash8(i: u32) -> bool {
    // tor_addr_is_internal for x.0.0.0: 0/8, 10/8, 127/8 (172.16/12 and 192.168/16 are not
    // whole /8s, and 169.254/16 neither).
    matches!(i, 0 | 10 | 127)
}

/// C tor `exit_policy_is_general_exit_helper`: some accept of a /8 or wider for `port`
/// before a reject covers that /8. Private /8s count only in test networks
/// (`DirAllowPrivateAddresses`).
fn general_exit_port(policy: &[PolicyRule], port: u16, testing: bool) -> bool {
    let mut rejected = [false; 256];
    for p in policy {
        let Some((ip, bits)) = v4_net(&p.addr) else {
            continue;
        };
        if p.port_lo > port || p.port_hi < port {
            continue;
        }
        let mask: u32 = if bits == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(bits))
        };
        let lo = (mask & ip) >> 24;
        let hi = (!((mask & ip) ^ mask)) >> 24;
        for i in lo..=hi {
            let idx = i as usize;
            if rejected.get(idx).copied().unwrap_or(true) {
                continue;
            }
            if is_private_slash8(i) && !testing {
                continue;
            }
            match p.action {
                PolicyAction::Accept => {
                    if bits > 8 {
                        continue;
                    }
                    return true;
                }
                PolicyAction::Reject => {
                    if let Some(r) = rejected.get_mut(idx) {
                        *r = true;
                    }
                }
            }
        }
    }
    false
}

/// Whether the policy allows ports 80 and 443 to at least one /8 each (C tor
/// `exit_policy_is_general_exit`).
pub fn is_general_exit(policy: &[PolicyRule], testing: bool) -> bool {
    general_exit_port(policy, 80, testing) && general_exit_port(policy, 443, testing)
}

/// Whether the policy rejects everything (C tor `router_exit_policy_rejects_all`, as the
/// descriptor parser sets it: no accept rule before a `reject *:*`).
pub fn rejects_all(policy: &[PolicyRule]) -> bool {
    for p in policy {
        match p.action {
            PolicyAction::Accept => return false,
            PolicyAction::Reject => {
                if matches!(p.addr, PolicyAddr::Any | PolicyAddr::AnyV4)
                    && p.port_lo <= 1
                    && p.port_hi == 65535
                {
                    return true;
                }
            }
        }
    }
    true
}

/// The computed thresholds (C tor's "Cutoffs" log line).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Thresholds {
    /// Stable: uptime at least this (or the guarantee).
    pub stable_uptime: u64,
    /// Fast: bandwidth at least this, kB/s.
    pub fast_kb: u32,
    /// Guard bandwidth counting exits, kB/s.
    pub guard_bw_inc_exits_kb: u32,
    /// Guard bandwidth excluding exits, kB/s.
    pub guard_bw_exc_exits_kb: u32,
    /// Guard time-known, seconds.
    pub guard_tk: u64,
    /// Guard fractional uptime.
    pub guard_wfu: f64,
}

fn nth<T: Copy + Ord>(v: &mut [T], n: usize) -> Option<T> {
    v.sort_unstable();
    v.get(n.min(v.len().saturating_sub(1))).copied()
}

fn median_f(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get((v.len().saturating_sub(1)) / 2)
        .copied()
        .unwrap_or(0.0)
}

/// Computes the thresholds over the active relays (C tor
/// `dirserv_compute_performance_thresholds`).
pub fn compute_thresholds(relays: &[RelayRecord], now: u64, opts: &FlagOptions) -> Thresholds {
    let min_bw_kb: u32 = if opts.testing {
        u32::try_from(opts.testing_min_exit / 1000).unwrap_or(u32::MAX)
    } else {
        4
    };
    let active: Vec<&RelayRecord> = relays
        .iter()
        .filter(|r| r.is_active(now, opts) && r.bandwidth_kb() >= min_bw_kb)
        .collect();
    let mut th = Thresholds::default();
    let n = active.len();
    if n > 0 {
        let mut uptimes: Vec<u64> = active.iter().map(|r| r.real_uptime(now)).collect();
        // C tor's median_uint32: element (n-1)/2 of the sorted list.
        th.stable_uptime = nth(&mut uptimes, (n - 1) / 2).unwrap_or(0);
        let mut bws: Vec<u32> = active.iter().map(|r| r.bandwidth_kb()).collect();
        th.fast_kb = nth(&mut bws, n / 8).unwrap_or(0);
        // RELAY_REQUIRED_MIN_BANDWIDTH / 2000 = 38.
        if th.fast_kb < 75 * 1024 / 2000 {
            th.fast_kb = bws.get(n / 4).copied().unwrap_or(0);
        }
        let gnth = (n as f64 * opts.guard_bw_fraction) as usize;
        th.guard_bw_inc_exits_kb = nth(&mut bws, gnth).unwrap_or(0);
        let mut tks: Vec<u64> = active.iter().map(|r| r.history.time_known(now)).collect();
        th.guard_tk = nth(&mut tks, n / 8).unwrap_or(0);
    }
    th.guard_tk = th.guard_tk.min(opts.guard_guarantee_tk);
    let min_fast_kb: u32 = if opts.testing {
        u32::try_from(opts.testing_min_fast / 1000).unwrap_or(u32::MAX)
    } else {
        4
    };
    th.fast_kb = th.fast_kb.max(min_fast_kb);
    if opts.fast_guarantee > 0 {
        let g = u32::try_from(opts.fast_guarantee / 1000).unwrap_or(u32::MAX);
        th.fast_kb = th.fast_kb.min(g);
    }
    let mut wfus: Vec<f64> = active
        .iter()
        .filter(|r| r.history.time_known(now) >= th.guard_tk)
        .map(|r| r.history.wfu(now))
        .collect();
    if !wfus.is_empty() {
        th.guard_wfu = median_f(&mut wfus);
    }
    th.guard_wfu = th.guard_wfu.min(opts.guard_guarantee_wfu);
    let mut nonexit: Vec<u32> = active
        .iter()
        .filter(|r| !r.is_exit(opts.testing))
        .map(|r| r.bandwidth_kb())
        .collect();
    if !nonexit.is_empty() {
        let gnth = (nonexit.len() as f64 * opts.guard_bw_fraction) as usize;
        th.guard_bw_exc_exits_kb = nth(&mut nonexit, gnth).unwrap_or(0);
    }
    th
}

/// The flags this authority votes for one relay at `now`, given thresholds from
/// [`compute_thresholds`]; `authority_uptime` is how long the authority has been running
/// (Running is not voted before `TestingAuthDirTimeToLearnReachability`, as C tor leaves it
/// out of `known-flags`).
pub fn assign(
    r: &RelayRecord,
    th: &Thresholds,
    now: u64,
    authority_uptime: u64,
    opts: &FlagOptions,
) -> RelayFlags {
    let mut f = RelayFlags::VALID;
    let running = r.is_running(now);
    if running && authority_uptime >= opts.time_to_learn_reachability {
        f.insert(RelayFlags::RUNNING);
    }
    if r.is_authority {
        f.insert(RelayFlags::AUTHORITY);
    }
    let uptime = r.real_uptime(now);
    let stable = uptime >= th.stable_uptime || uptime >= opts.stable_guarantee_uptime;
    let bw = r.bandwidth_kb();
    let fast = bw >= th.fast_kb;
    if stable {
        f.insert(RelayFlags::STABLE);
    }
    if fast {
        f.insert(RelayFlags::FAST);
    }
    let mut exit = r.is_exit(opts.testing);
    // HSDir: C tor uses min(rephist uptime, real uptime) once it has run for
    // MinUptimeHidServDirectoryV2 * 1.1; before that the relay's own claim.
    let hs_uptime = if authority_uptime as f64 > opts.min_uptime_hsdir as f64 * 1.1 {
        let seen_up = r
            .history
            .up_since
            .map(|s| now.saturating_sub(s))
            .unwrap_or(0);
        seen_up.min(uptime)
    } else {
        uptime
    };
    let mut hsdir = r.hidden_service_dir
        && r.tunnelled_dir_server
        && stable
        && fast
        && hs_uptime >= opts.min_uptime_hsdir
        && r.is_active(now, opts);
    let guard_bw_ok = (opts.guard_bw_guarantee > 0
        && u64::from(bw) >= opts.guard_bw_guarantee / 1000)
        || bw >= th.guard_bw_inc_exits_kb.min(th.guard_bw_exc_exits_kb);
    let mut guard = fast
        && stable
        && r.tunnelled_dir_server
        && guard_bw_ok
        && r.history.wfu(now) >= th.guard_wfu
        && r.history.time_known(now) >= th.guard_tk;
    if r.tunnelled_dir_server {
        f.insert(RelayFlags::V2DIR);
    }
    if r.published + DESC_IS_STALE_INTERVAL < now {
        f.insert(RelayFlags::STALE_DESC);
    }
    let (id, nick, ip) = (&r.rsa_id, r.nickname.as_str(), r.ipv4);
    if opts.testing {
        if opts.vote_exit.contains(id, nick, ip) {
            exit = true;
        } else if opts.vote_exit_strict {
            exit = false;
        }
        if opts.vote_guard.contains(id, nick, ip) {
            guard = true;
        } else if opts.vote_guard_strict {
            guard = false;
        }
        if opts.vote_hsdir.contains(id, nick, ip) {
            hsdir = true;
        } else if opts.vote_hsdir_strict {
            hsdir = false;
        }
    } else if opts.auth_vote_guard.contains(id, nick, ip) {
        guard = true;
    }
    if exit {
        f.insert(RelayFlags::EXIT);
    }
    if guard {
        f.insert(RelayFlags::GUARD);
    }
    if hsdir {
        f.insert(RelayFlags::HSDIR);
    }
    f
}

#[cfg(test)]
#[path = "flags_tests.rs"]
mod tests;
