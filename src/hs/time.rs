//! Onion-service time periods (rend-spec-v3 §2.2.1 "Dividing time into periods"), computed
//! exactly as C tor does (`hs_get_time_period_num`, `get_time_period_length`,
//! `hs_get_start_time_of_next_time_period`).
//!
//! - The period length is the consensus parameter `hsdir_interval`, in minutes (default
//!   1440, clamped to 5..=14400 as `networkstatus_get_param` does; see
//!   [`HSDIR_INTERVAL_MIN`]).
//! - The rotation offset is one shared-random phase: `12 × voting_interval` seconds, where
//!   `voting_interval = fresh-until − valid-after` of the live consensus (12 h on the
//!   public network).
//! - `period_num = (t/60 − offset/60) / length` in integer minutes, where `t` is the
//!   **valid-after of the live consensus**, not the wall clock; period `N` starts at
//!   `N × length × 60 + offset` seconds.
//! - On a network run with `TestingTorNetwork 1`, C tor ignores `hsdir_interval` and uses
//!   one shared-random protocol run: `24 × voting_interval / 60` minutes. Our nodes must do
//!   the same on such networks, or they compute other blinded keys than stock tor.
//!
//! Deliberately not here: which period and SRV to use for upload and fetch (the HSDir
//! ring), and reading the consensus: callers pass the numbers in.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Default of the `hsdir_interval` consensus parameter, in minutes.
pub const HSDIR_INTERVAL_DEFAULT: u32 = 1440;
/// Smallest `hsdir_interval` accepted, in minutes. C tor 0.4.9.3-alpha "reduced the minimum
/// value of hsdir_interval to match recent tor-spec change" (Debian 0.4.9.11 changelog) and
/// Arti bounds the parameter to 5..=14400; older trees and rend-spec-v3 §2.2.1 say 30.
pub const HSDIR_INTERVAL_MIN: u32 = 5;
/// Largest `hsdir_interval` C tor accepts (`HS_TIME_PERIOD_LENGTH_MAX`), in minutes.
pub const HSDIR_INTERVAL_MAX: u32 = 14400;
/// Voting rounds in one shared-random phase (`SHARED_RANDOM_N_ROUNDS`).
pub const SR_ROUNDS_PER_PHASE: u32 = 12;
/// Phases in one shared-random protocol run (`SHARED_RANDOM_N_PHASES`).
pub const SR_PHASES: u32 = 2;

/// Why a time period could not be computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TimePeriodError {
    /// The voting interval is zero, or too long to be a consensus interval.
    #[error("invalid voting interval: {0} seconds")]
    BadVotingInterval(u64),
    /// The period length is zero minutes.
    #[error("time period length must be at least one minute")]
    ZeroLength,
    /// The time is before the rotation offset after the epoch, or a period boundary is
    /// not representable.
    #[error("time is out of the range of time periods")]
    OutOfRange,
}

/// The schedule of time periods on one network: period length and rotation offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimePeriodParams {
    length_minutes: u32,
    rotation_offset_secs: u32,
}

impl TimePeriodParams {
    /// The schedule as C tor derives it from the live consensus.
    ///
    /// `voting_interval` is the consensus `fresh-until − valid-after`; `hsdir_interval` is
    /// the consensus parameter if present (clamped to its range); `testing_tor_network`
    /// selects C tor's `TestingTorNetwork` rule, which ignores `hsdir_interval`.
    pub fn from_consensus(
        voting_interval: Duration,
        hsdir_interval: Option<i32>,
        testing_tor_network: bool,
    ) -> Result<Self, TimePeriodError> {
        let vi = voting_interval.as_secs();
        let vi32 = u32::try_from(vi)
            .ok()
            .filter(|v| *v > 0 && *v <= i32::MAX as u32 / (SR_ROUNDS_PER_PHASE * SR_PHASES))
            .ok_or(TimePeriodError::BadVotingInterval(vi))?;
        let rotation_offset_secs = SR_ROUNDS_PER_PHASE * vi32;
        let length_minutes = if testing_tor_network {
            SR_ROUNDS_PER_PHASE * SR_PHASES * vi32 / 60
        } else {
            clamp_hsdir_interval(hsdir_interval)
        };
        Self::from_parts(length_minutes, rotation_offset_secs)
    }

    /// The public network's schedule: 1440-minute periods, 12-hour offset (one-hour votes).
    pub fn public_network_default() -> Self {
        TimePeriodParams {
            length_minutes: HSDIR_INTERVAL_DEFAULT,
            rotation_offset_secs: SR_ROUNDS_PER_PHASE * 3600,
        }
    }

    /// A schedule from its two numbers.
    pub fn from_parts(
        length_minutes: u32,
        rotation_offset_secs: u32,
    ) -> Result<Self, TimePeriodError> {
        if length_minutes == 0 {
            return Err(TimePeriodError::ZeroLength);
        }
        Ok(TimePeriodParams {
            length_minutes,
            rotation_offset_secs,
        })
    }

    /// Period length in minutes (the `period_length` hashed into blinding and ring indices).
    pub fn length_minutes(&self) -> u32 {
        self.length_minutes
    }

    /// The rotation offset in seconds (`12 × voting_interval`).
    pub fn rotation_offset_secs(&self) -> u32 {
        self.rotation_offset_secs
    }

    /// The period that contains `valid_after`, which must be the valid-after time of the
    /// live consensus (C tor `hs_get_time_period_num`).
    pub fn period_at(&self, valid_after: SystemTime) -> Result<TimePeriod, TimePeriodError> {
        let secs = valid_after
            .duration_since(UNIX_EPOCH)
            .map_err(|_| TimePeriodError::OutOfRange)?
            .as_secs();
        let minutes = (secs / 60)
            .checked_sub(u64::from(self.rotation_offset_secs / 60))
            .ok_or(TimePeriodError::OutOfRange)?;
        Ok(self.period(minutes / u64::from(self.length_minutes)))
    }

    /// Period number `num` of this schedule.
    pub fn period(&self, num: u64) -> TimePeriod {
        TimePeriod {
            num,
            length_minutes: self.length_minutes,
            rotation_offset_secs: self.rotation_offset_secs,
        }
    }
}

/// `networkstatus_get_param(.., "hsdir_interval", 1440, 5, 14400)`: absent gives the default,
/// out-of-range values are clamped.
pub fn clamp_hsdir_interval(param: Option<i32>) -> u32 {
    match param {
        None => HSDIR_INTERVAL_DEFAULT,
        Some(v) => {
            let v =
                i64::from(v).clamp(i64::from(HSDIR_INTERVAL_MIN), i64::from(HSDIR_INTERVAL_MAX));
            u32::try_from(v).unwrap_or(HSDIR_INTERVAL_DEFAULT)
        }
    }
}

/// One time period: its number, its length in minutes, and the schedule's rotation offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimePeriod {
    /// The period number (`INT_8(period_num)` in the blinding nonce).
    pub num: u64,
    /// The period length in minutes (`INT_8(period_length)`).
    pub length_minutes: u32,
    /// The schedule's rotation offset in seconds; only used for start and end times.
    pub rotation_offset_secs: u32,
}

impl TimePeriod {
    /// Seconds since the epoch at which this period starts: `num × length × 60 + offset`.
    pub fn start_secs(&self) -> Option<u64> {
        self.num
            .checked_mul(u64::from(self.length_minutes))?
            .checked_mul(60)?
            .checked_add(u64::from(self.rotation_offset_secs))
    }

    /// When this period starts.
    pub fn start(&self) -> Result<SystemTime, TimePeriodError> {
        self.start_secs()
            .and_then(|s| UNIX_EPOCH.checked_add(Duration::from_secs(s)))
            .ok_or(TimePeriodError::OutOfRange)
    }

    /// When this period ends (the start of the next one; C tor
    /// `hs_get_start_time_of_next_time_period`).
    pub fn end(&self) -> Result<SystemTime, TimePeriodError> {
        self.next().ok_or(TimePeriodError::OutOfRange)?.start()
    }

    /// True if `t` is in `[start, end)`.
    pub fn contains(&self, t: SystemTime) -> bool {
        match (self.start(), self.end()) {
            (Ok(s), Ok(e)) => s <= t && t < e,
            _ => false,
        }
    }

    /// The following period, if its number is representable.
    pub fn next(&self) -> Option<TimePeriod> {
        Some(TimePeriod {
            num: self.num.checked_add(1)?,
            ..*self
        })
    }

    /// The preceding period, unless this is period 0.
    pub fn prev(&self) -> Option<TimePeriod> {
        Some(TimePeriod {
            num: self.num.checked_sub(1)?,
            ..*self
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn spec_example() {
        // rend-spec-v3 §2.2.1: 2016-04-13 11:15:01 UTC = 1460546101.
        let p = TimePeriodParams::public_network_default()
            .period_at(at(1_460_546_101))
            .unwrap();
        assert_eq!(p.num, 16903);
        assert_eq!(p.start_secs(), Some(16903 * 1440 * 60 + 12 * 3600));
        assert_eq!(p.start().unwrap(), at(1_460_462_400)); // 2016-04-12 12:00 UTC
        assert_eq!(p.end().unwrap(), at(1_460_548_800)); // 2016-04-13 12:00 UTC
        assert!(p.contains(at(1_460_546_101)));
        assert!(!p.contains(at(1_460_548_800)));
    }

    #[test]
    fn consensus_params() {
        let hour = Duration::from_secs(3600);
        let p = TimePeriodParams::from_consensus(hour, None, false).unwrap();
        assert_eq!(p, TimePeriodParams::public_network_default());
        let p = TimePeriodParams::from_consensus(hour, Some(1), false).unwrap();
        assert_eq!(p.length_minutes(), HSDIR_INTERVAL_MIN);
        let p = TimePeriodParams::from_consensus(hour, Some(i32::MAX), false).unwrap();
        assert_eq!(p.length_minutes(), HSDIR_INTERVAL_MAX);
        let p = TimePeriodParams::from_consensus(hour, Some(-5), false).unwrap();
        assert_eq!(p.length_minutes(), HSDIR_INTERVAL_MIN);
        // TestingTorNetwork with V3AuthVotingInterval 5 min: 120-minute periods, 60-min offset.
        let five = Duration::from_secs(300);
        let p = TimePeriodParams::from_consensus(five, Some(1440), true).unwrap();
        assert_eq!((p.length_minutes(), p.rotation_offset_secs()), (120, 3600));
        assert_eq!(
            TimePeriodParams::from_consensus(Duration::ZERO, None, false),
            Err(TimePeriodError::BadVotingInterval(0))
        );
        // A two-second voting interval gives a zero-minute testing period.
        assert_eq!(
            TimePeriodParams::from_consensus(Duration::from_secs(2), None, true),
            Err(TimePeriodError::ZeroLength)
        );
    }

    #[test]
    fn edges() {
        let p = TimePeriodParams::public_network_default();
        assert_eq!(p.period_at(at(0)), Err(TimePeriodError::OutOfRange));
        assert_eq!(p.period_at(at(12 * 3600)).unwrap().num, 0);
        assert!(p.period(0).prev().is_none());
        assert!(p.period(u64::MAX).next().is_none());
        assert_eq!(p.period(u64::MAX).start(), Err(TimePeriodError::OutOfRange));
        assert!(!p.period(u64::MAX).contains(at(0)));
    }

    mod prop {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn period_contains_its_time(vi5 in 1u64..2000, len in 1u32..20000, t in 0u64..u64::from(u32::MAX) * 4, testing: bool) {
                // With the voting interval a multiple of 5 s the offset is whole minutes,
                // and the period computed for t contains t.
                let p = TimePeriodParams::from_consensus(Duration::from_secs(5 * vi5), Some(len as i32), testing).unwrap();
                match p.period_at(at(t)) {
                    Ok(tp) => {
                        prop_assert!(tp.contains(at(t)));
                        prop_assert_eq!(p.period_at(tp.start().unwrap()), Ok(tp));
                        prop_assert_eq!(p.period_at(tp.end().unwrap()), Ok(tp.next().unwrap()));
                    }
                    Err(e) => prop_assert!(t < u64::from(p.rotation_offset_secs()) && e == TimePeriodError::OutOfRange),
                }
            }

            #[test]
            fn never_panics(vi in any::<u64>(), hsdir in proptest::option::of(any::<i32>()), testing: bool, t in any::<u64>(), n in any::<u64>()) {
                if let Ok(p) = TimePeriodParams::from_consensus(Duration::from_secs(vi), hsdir, testing) {
                    if let Some(when) = UNIX_EPOCH.checked_add(Duration::from_secs(t)) {
                        let _ = p.period_at(when);
                    }
                    let tp = p.period(n);
                    let _ = (tp.start(), tp.end(), tp.next(), tp.prev(), tp.contains(at(0)));
                }
            }
        }
    }
}
