//! The voting schedule (dir-spec §1.4 and §3.4.1; C tor `voting_schedule.c`,
//! `voting_sched_get_start_of_interval_after` and `dirvote_get_preferred_voting_intervals`).
//!
//! Valid-after times are aligned on multiples of the interval counted from midnight UTC (an
//! interval never crosses midnight, and a last interval shorter than half is merged into the
//! previous one), shifted by `TestingV3AuthVotingStartOffset`. Before the authority has a live
//! consensus, C tor aligns on `TestingV3AuthInitialVotingInterval`; afterwards on the live
//! consensus' interval. Each consensus has fresh-until = valid-after + `V3AuthVotingInterval`
//! and valid-until = valid-after + `V3AuthNIntervalsValid` (3) × `V3AuthVotingInterval`.
//!
//! A lone authority computes its consensus when voting would start (valid-after minus both
//! delays) and publishes it at valid-after.

/// Timing options (C tor's defaults, or those of `TestingTorNetwork 1`: see [`Timing::testing`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// `V3AuthVotingInterval`, seconds.
    pub interval: u64,
    /// `V3AuthVoteDelay`.
    pub vote_delay: u64,
    /// `V3AuthDistDelay`.
    pub dist_delay: u64,
    /// `V3AuthNIntervalsValid`.
    pub n_intervals_valid: u64,
    /// `TestingV3AuthInitialVotingInterval`.
    pub initial_interval: u64,
    /// `TestingV3AuthInitialVoteDelay`.
    pub initial_vote_delay: u64,
    /// `TestingV3AuthInitialDistDelay`.
    pub initial_dist_delay: u64,
    /// `TestingV3AuthVotingStartOffset`.
    pub start_offset: u64,
}

impl Timing {
    /// C tor's defaults for the public network.
    pub fn default_net() -> Timing {
        Timing {
            interval: 3600,
            vote_delay: 300,
            dist_delay: 300,
            n_intervals_valid: 3,
            initial_interval: 1800,
            initial_vote_delay: 300,
            initial_dist_delay: 300,
            start_offset: 0,
        }
    }

    /// C tor's `TestingTorNetwork 1` defaults (`src/app/config/testnet.inc`).
    pub fn testing() -> Timing {
        Timing {
            interval: 300,
            vote_delay: 20,
            dist_delay: 20,
            n_intervals_valid: 3,
            initial_interval: 150,
            initial_vote_delay: 20,
            initial_dist_delay: 20,
            start_offset: 0,
        }
    }

    /// The times of a consensus with this valid-after.
    pub fn lifetime(&self, valid_after: u64) -> Lifetime {
        let interval = self.interval.max(1);
        Lifetime {
            valid_after,
            fresh_until: valid_after + interval,
            valid_until: valid_after + interval * self.n_intervals_valid.max(1),
            vote_delay: self.vote_delay,
            dist_delay: self.dist_delay,
        }
    }

    /// The next valid-after strictly after `now`: aligned on the initial interval when there
    /// is no live consensus (`live_interval` `None`), else on the live consensus' interval.
    pub fn next_valid_after(&self, now: u64, live_interval: Option<u64>) -> u64 {
        let interval = live_interval.unwrap_or(self.initial_interval);
        start_of_interval_after(now, interval, self.start_offset)
    }

    /// When to build the consensus for `valid_after`: voting starts `vote + dist` delays
    /// earlier (C tor halves both to a quarter interval each when they exceed half of it).
    pub fn build_time(&self, valid_after: u64, live_interval: Option<u64>) -> u64 {
        let (interval, mut vd, mut dd) = match live_interval {
            Some(i) => (i, self.vote_delay, self.dist_delay),
            None => (
                self.initial_interval,
                self.initial_vote_delay,
                self.initial_dist_delay,
            ),
        };
        if vd + dd > interval / 2 {
            vd = interval / 4;
            dd = interval / 4;
        }
        valid_after.saturating_sub(vd + dd)
    }
}

/// The times written in a consensus header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lifetime {
    /// `valid-after`.
    pub valid_after: u64,
    /// `fresh-until`.
    pub fresh_until: u64,
    /// `valid-until`.
    pub valid_until: u64,
    /// `voting-delay` first argument.
    pub vote_delay: u64,
    /// `voting-delay` second argument.
    pub dist_delay: u64,
}

/// C tor's `voting_sched_get_start_of_interval_after`: the start of the next `interval`-long
/// slot after `now`, slots counted from midnight UTC, plus `offset`.
pub fn start_of_interval_after(now: u64, interval: u64, offset: u64) -> u64 {
    let interval = interval.max(1);
    let midnight_today = now - now % 86_400;
    let midnight_tomorrow = midnight_today + 86_400;
    let mut next = midnight_today + ((now - midnight_today) / interval + 1) * interval;
    if next > midnight_tomorrow {
        next = midnight_tomorrow;
    }
    if next + interval / 2 > midnight_tomorrow {
        next = midnight_tomorrow;
    }
    next += offset;
    if next >= interval && next - interval > now {
        next -= interval;
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-11-21 00:00:00 UTC
    const MIDNIGHT: u64 = 1_795_219_200;

    #[test]
    fn midnight_constant() {
        assert_eq!(MIDNIGHT % 86_400, 0);
    }

    #[test]
    fn aligned() {
        assert_eq!(
            start_of_interval_after(MIDNIGHT + 10, 300, 0),
            MIDNIGHT + 300
        );
        assert_eq!(
            start_of_interval_after(MIDNIGHT + 300, 300, 0),
            MIDNIGHT + 600
        );
        assert_eq!(
            start_of_interval_after(MIDNIGHT + 299, 300, 0),
            MIDNIGHT + 300
        );
        assert_eq!(
            start_of_interval_after(MIDNIGHT + 10, 150, 0),
            MIDNIGHT + 150
        );
        // Offset 30: next slot start + 30, pulled back if a whole interval ahead.
        assert_eq!(
            start_of_interval_after(MIDNIGHT + 10, 300, 30),
            MIDNIGHT + 30
        );
        assert_eq!(
            start_of_interval_after(MIDNIGHT + 40, 300, 30),
            MIDNIGHT + 330
        );
    }

    #[test]
    fn never_crosses_midnight() {
        // 7-hour interval: slots 0, 7, 14, 21 h; 21 h + 3.5 h > 24 h, so the next is
        // midnight, then pulled back one interval as it lies more than one ahead (C tor's
        // arithmetic exactly): 17 h.
        let h = 3600;
        assert_eq!(
            start_of_interval_after(MIDNIGHT + 15 * h, 7 * h, 0),
            MIDNIGHT + 17 * h
        );
        assert_eq!(
            start_of_interval_after(MIDNIGHT + 18 * h, 7 * h, 0),
            MIDNIGHT + 24 * h
        );
        assert_eq!(
            start_of_interval_after(MIDNIGHT + 8 * h, 7 * h, 0),
            MIDNIGHT + 14 * h
        );
    }

    #[test]
    fn lifetime_and_build() {
        let t = Timing::testing();
        let l = t.lifetime(MIDNIGHT);
        assert_eq!(l.fresh_until, MIDNIGHT + 300);
        assert_eq!(l.valid_until, MIDNIGHT + 900);
        assert_eq!(t.next_valid_after(MIDNIGHT + 1, None), MIDNIGHT + 150);
        assert_eq!(t.next_valid_after(MIDNIGHT + 1, Some(300)), MIDNIGHT + 300);
        assert_eq!(t.build_time(MIDNIGHT + 300, Some(300)), MIDNIGHT + 260);
        // 20+20 > 30/2: both become 30/4 = 7.
        let mut short = t;
        short.initial_interval = 30;
        assert_eq!(short.build_time(MIDNIGHT + 30, None), MIDNIGHT + 16);
    }

    proptest::proptest! {
        #[test]
        fn next_is_after_now(now in 1_000_000u64..4_000_000_000, iv in 10u64..100_000) {
            let n = start_of_interval_after(now, iv, 0);
            proptest::prop_assert!(n > now);
            proptest::prop_assert!(n - now <= iv + iv / 2 + 1);
        }
    }
}
