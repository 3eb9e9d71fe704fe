//! The directory-authority keys of `oniongate-relay` (tor(1) "DIRECTORY AUTHORITY SERVER
//! OPTIONS" and the `Testing*` options of test networks), kept as given: `None` means "the
//! default", which depends on `TestingTorNetwork` (C tor `src/app/config/testnet.inc`), so
//! the authority resolves them with [`DirAuthOptions::timing`] and
//! [`DirAuthOptions::flag_options`].

use super::keys::{Key, KeySpec};
use super::value::{parse_bool, VResult};
use super::{ConfigError, Entry};
use crate::dirauth::accept::AcceptOptions;
use crate::dirauth::flags::FlagOptions;
use crate::dirauth::routerset::RouterSet;
use crate::dirauth::schedule::Timing;

/// The authority's options as configured.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DirAuthOptions {
    /// `V3AuthVotingInterval`, seconds.
    pub voting_interval: Option<u64>,
    /// `V3AuthVoteDelay`.
    pub vote_delay: Option<u64>,
    /// `V3AuthDistDelay`.
    pub dist_delay: Option<u64>,
    /// `V3AuthNIntervalsValid`.
    pub n_intervals_valid: Option<u64>,
    /// `TestingV3AuthInitialVotingInterval`.
    pub initial_voting_interval: Option<u64>,
    /// `TestingV3AuthInitialVoteDelay`.
    pub initial_vote_delay: Option<u64>,
    /// `TestingV3AuthInitialDistDelay`.
    pub initial_dist_delay: Option<u64>,
    /// `TestingV3AuthVotingStartOffset`.
    pub voting_start_offset: Option<u64>,
    /// `TestingDirAuthVoteExit`.
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
    /// `AuthDirVoteGuard`.
    pub auth_vote_guard: RouterSet,
    /// `AuthDirMaxServersPerAddr` (default 2; 0 in test networks: no limit).
    pub max_servers_per_addr: Option<u64>,
    /// `MinUptimeHidServDirectoryV2`.
    pub min_uptime_hsdir: Option<u64>,
    /// `TestingAuthDirTimeToLearnReachability`.
    pub time_to_learn_reachability: Option<u64>,
    /// `AuthDirTestReachability` (default 1).
    pub test_reachability: Option<bool>,
    /// `AuthDirPinKeys` (default 1).
    pub pin_keys: Option<bool>,
    /// `DirAllowPrivateAddresses` / `AuthDirAllowPrivateAddresses`-like switch (default: only
    /// in test networks).
    pub allow_private: Option<bool>,
    /// `ConsensusParams`: `K=V` pairs added to the consensus `params` line.
    pub consensus_params: Vec<(String, i32)>,
}

/// An interval: a number with an optional unit (tor's INTERVAL: seconds by default;
/// `sec[onds]`, `min[utes]`, `hour[s]`, `day[s]`, `week[s]`).
pub(crate) fn parse_interval(v: &str) -> VResult<u64> {
    let mut w = v.split_ascii_whitespace();
    let n: u64 = w
        .next()
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("{v:?} is not an interval (NUM [seconds|minutes|hours|days])"))?;
    let unit = w.next().unwrap_or("seconds").to_ascii_lowercase();
    if w.next().is_some() {
        return Err("extra words after the unit".into());
    }
    let mult = match unit.as_str() {
        "s" | "sec" | "secs" | "second" | "seconds" => 1,
        "min" | "mins" | "minute" | "minutes" => 60,
        "hour" | "hours" => 3600,
        "day" | "days" => 86_400,
        "week" | "weeks" => 604_800,
        _ => return Err(format!("unknown time unit {unit:?}")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| "interval too large".into())
}

fn parse_count(v: &str) -> VResult<u64> {
    v.parse().map_err(|_| format!("{v:?} is not a number"))
}

fn parse_params(v: &str) -> VResult<Vec<(String, i32)>> {
    v.split_ascii_whitespace()
        .map(|kv| {
            let (k, n) = kv
                .split_once('=')
                .ok_or_else(|| format!("{kv:?} is not KEY=VALUE"))?;
            let n: i32 = n
                .parse()
                .map_err(|_| format!("{n:?} is not a 32-bit integer"))?;
            Ok((k.to_string(), n))
        })
        .collect()
}

impl DirAuthOptions {
    /// Applies one of this file's keys; `Ok(false)` for another key.
    pub(crate) fn apply(&mut self, spec: &KeySpec, e: &Entry) -> Result<bool, ConfigError> {
        let v = e.value.as_str();
        let val = |r: VResult<()>| {
            r.map_err(|reason| ConfigError::BadValue {
                location: e.location.clone(),
                key: spec.name,
                value: e.value.clone(),
                reason,
                hint: Some(format!("{} {}", spec.name, spec.syntax)),
            })
        };
        let iv = |slot: &mut Option<u64>| val(parse_interval(v).map(|x| *slot = Some(x)));
        let set = |slot: &mut RouterSet| val(RouterSet::parse(v).map(|x| *slot = x));
        let flag = |slot: &mut bool| val(parse_bool(v).map(|x| *slot = x));
        let oflag = |slot: &mut Option<bool>| val(parse_bool(v).map(|x| *slot = Some(x)));
        match spec.key {
            Key::V3AuthVotingInterval => iv(&mut self.voting_interval)?,
            Key::V3AuthVoteDelay => iv(&mut self.vote_delay)?,
            Key::V3AuthDistDelay => iv(&mut self.dist_delay)?,
            Key::V3AuthNIntervalsValid => {
                val(parse_count(v).map(|x| self.n_intervals_valid = Some(x)))?
            }
            Key::TestingV3AuthInitialVotingInterval => iv(&mut self.initial_voting_interval)?,
            Key::TestingV3AuthInitialVoteDelay => iv(&mut self.initial_vote_delay)?,
            Key::TestingV3AuthInitialDistDelay => iv(&mut self.initial_dist_delay)?,
            Key::TestingV3AuthVotingStartOffset => iv(&mut self.voting_start_offset)?,
            Key::TestingDirAuthVoteExit => set(&mut self.vote_exit)?,
            Key::TestingDirAuthVoteExitIsStrict => flag(&mut self.vote_exit_strict)?,
            Key::TestingDirAuthVoteGuard => set(&mut self.vote_guard)?,
            Key::TestingDirAuthVoteGuardIsStrict => flag(&mut self.vote_guard_strict)?,
            Key::TestingDirAuthVoteHSDir => set(&mut self.vote_hsdir)?,
            Key::TestingDirAuthVoteHSDirIsStrict => flag(&mut self.vote_hsdir_strict)?,
            Key::AuthDirVoteGuard => set(&mut self.auth_vote_guard)?,
            Key::AuthDirMaxServersPerAddr => {
                val(parse_count(v).map(|x| self.max_servers_per_addr = Some(x)))?
            }
            Key::MinUptimeHidServDirectoryV2 => iv(&mut self.min_uptime_hsdir)?,
            Key::TestingAuthDirTimeToLearnReachability => iv(&mut self.time_to_learn_reachability)?,
            Key::AuthDirTestReachability => oflag(&mut self.test_reachability)?,
            Key::AuthDirPinKeys => oflag(&mut self.pin_keys)?,
            Key::DirAllowPrivateAddresses => oflag(&mut self.allow_private)?,
            Key::ConsensusParams => val(parse_params(v).map(|x| self.consensus_params.extend(x)))?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The voting schedule, with `TestingTorNetwork`'s defaults when `testing`.
    pub fn timing(&self, testing: bool) -> Timing {
        let d = if testing {
            Timing::testing()
        } else {
            Timing::default_net()
        };
        Timing {
            interval: self.voting_interval.unwrap_or(d.interval),
            vote_delay: self.vote_delay.unwrap_or(d.vote_delay),
            dist_delay: self.dist_delay.unwrap_or(d.dist_delay),
            n_intervals_valid: self.n_intervals_valid.unwrap_or(d.n_intervals_valid),
            initial_interval: self.initial_voting_interval.unwrap_or(d.initial_interval),
            initial_vote_delay: self.initial_vote_delay.unwrap_or(d.initial_vote_delay),
            initial_dist_delay: self.initial_dist_delay.unwrap_or(d.initial_dist_delay),
            start_offset: self.voting_start_offset.unwrap_or(d.start_offset),
        }
    }

    /// The flag options, with `TestingTorNetwork`'s defaults when `testing`.
    pub fn flag_options(&self, testing: bool) -> FlagOptions {
        let d = if testing {
            FlagOptions::testing()
        } else {
            FlagOptions::default_net()
        };
        FlagOptions {
            min_uptime_hsdir: self.min_uptime_hsdir.unwrap_or(d.min_uptime_hsdir),
            time_to_learn_reachability: self
                .time_to_learn_reachability
                .unwrap_or(d.time_to_learn_reachability),
            vote_exit: self.vote_exit.clone(),
            vote_exit_strict: self.vote_exit_strict,
            vote_guard: self.vote_guard.clone(),
            vote_guard_strict: self.vote_guard_strict,
            vote_hsdir: self.vote_hsdir.clone(),
            vote_hsdir_strict: self.vote_hsdir_strict,
            auth_vote_guard: self.auth_vote_guard.clone(),
            ..d
        }
    }

    /// The upload checks' options.
    pub fn accept_options(&self, testing: bool) -> AcceptOptions {
        AcceptOptions {
            allow_private: self.allow_private.unwrap_or(testing),
            pin_keys: self.pin_keys.unwrap_or(true),
        }
    }

    /// `AuthDirMaxServersPerAddr` resolved (0: no limit).
    pub fn max_per_addr(&self, testing: bool) -> usize {
        let d = if testing { 0 } else { 2 };
        usize::try_from(self.max_servers_per_addr.unwrap_or(d)).unwrap_or(usize::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("20"), Ok(20));
        assert_eq!(parse_interval("5 minutes"), Ok(300));
        assert_eq!(parse_interval("2 Hours"), Ok(7200));
        assert!(parse_interval("x").is_err());
        assert!(parse_interval("5 fortnights").is_err());
    }

    #[test]
    fn testnet_defaults() {
        let o = DirAuthOptions::default();
        assert_eq!(o.timing(true).interval, 300);
        assert_eq!(o.timing(false).interval, 3600);
        assert_eq!(o.flag_options(true).min_uptime_hsdir, 0);
        assert_eq!(o.max_per_addr(true), 0);
        assert!(o.accept_options(true).allow_private);
        assert!(!o.accept_options(false).allow_private);
        assert_eq!(
            parse_params("a=1 b=-2"),
            Ok(vec![("a".into(), 1), ("b".into(), -2)])
        );
    }
}
