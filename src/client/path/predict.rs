//! Predicted exit ports for preemptive circuits (path-spec §2.1.1 "Clients build circuits
//! preemptively"; C tor `rep_hist_note_used_port`, `rep_hist_get_predicted_ports`,
//! `rep_hist_note_used_internal`).
//!
//! A port counts as predicted for a window (one hour by default) after a stream last used
//! it; port 80 is predicted from the start, as C tor notes it when it starts. Internal
//! (onion-service) circuits are predicted likewise. Times are seconds passed in.

use std::collections::BTreeMap;

use super::{needs_stable_for_port, ExitUsage};

/// How long a used port stays predicted, in seconds (C tor's predicted-ports relevance
/// window of one hour).
pub const DEFAULT_PREDICTION_WINDOW: u64 = 3600;

/// The ports (and internal circuits) that preemptive circuits should serve.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PredictedPorts {
    window: u64,
    ports: BTreeMap<u16, u64>,
    /// Last time an internal circuit was wanted, and whether it needed Stable / Fast.
    internal: Option<(u64, bool, bool)>,
}

impl PredictedPorts {
    /// A predictor started at `now`, with port 80 predicted.
    pub fn new(now: u64) -> PredictedPorts {
        Self::with_window(now, DEFAULT_PREDICTION_WINDOW)
    }

    /// As [`PredictedPorts::new`] with another window (seconds).
    pub fn with_window(now: u64, window: u64) -> PredictedPorts {
        let mut p = PredictedPorts {
            window,
            ports: BTreeMap::new(),
            internal: None,
        };
        p.note_used(80, now);
        p
    }

    /// Notes that a stream to `port` was opened at `now`.
    pub fn note_used(&mut self, port: u16, now: u64) {
        if port == 0 {
            return;
        }
        let e = self.ports.entry(port).or_insert(now);
        *e = (*e).max(now);
    }

    /// Notes that an internal circuit was wanted at `now`.
    pub fn note_internal(&mut self, now: u64, needs_stable: bool, needs_capacity: bool) {
        self.internal = Some((now, needs_stable, needs_capacity));
    }

    fn live(&self, t: u64, now: u64) -> bool {
        now < t.saturating_add(self.window)
    }

    /// The ports used within the window before `now`, ascending.
    pub fn predicted(&self, now: u64) -> Vec<u16> {
        self.ports
            .iter()
            .filter(|(_, &t)| self.live(t, now))
            .map(|(&p, _)| p)
            .collect()
    }

    /// Whether any predicted port needs Stable relays.
    pub fn needs_stable(&self, now: u64) -> bool {
        self.predicted(now).into_iter().any(needs_stable_for_port)
    }

    /// What an exit for a preemptive circuit should serve: every predicted port (exits
    /// allowing the most of them are preferred), Stable if any is long-lived. `None` when
    /// no port is predicted.
    pub fn exit_usage(&self, now: u64) -> Option<ExitUsage> {
        let ports = self.predicted(now);
        if ports.is_empty() {
            return None;
        }
        let needs_stable = ports.iter().any(|&p| needs_stable_for_port(p));
        Some(ExitUsage {
            ports,
            needs_stable,
        })
    }

    /// If an internal circuit is predicted: whether it needs Stable and Fast relays.
    pub fn internal(&self, now: u64) -> Option<(bool, bool)> {
        self.internal
            .filter(|&(t, _, _)| self.live(t, now))
            .map(|(_, s, c)| (s, c))
    }

    /// Forgets ports and internal predictions older than the window.
    pub fn expire(&mut self, now: u64) {
        let window = self.window;
        self.ports.retain(|_, t| now < t.saturating_add(window));
        if self.internal(now).is_none() {
            self.internal = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_80_at_start_then_expiry() {
        let mut p = PredictedPorts::new(1000);
        assert_eq!(p.predicted(1000), vec![80]);
        p.note_used(22, 2000);
        p.note_used(443, 2500);
        assert_eq!(p.predicted(2600), vec![22, 80, 443]);
        assert!(p.needs_stable(2600));
        let u = p.exit_usage(2600).unwrap();
        assert_eq!((u.ports, u.needs_stable), (vec![22, 80, 443], true));
        assert_eq!(p.predicted(1000 + 3600), vec![22, 443]);
        p.expire(2000 + 3600);
        assert_eq!(p.predicted(2000 + 3600), vec![443]);
        assert!(!p.needs_stable(2000 + 3600));
        assert_eq!(p.predicted(10_000), Vec::<u16>::new());
        assert_eq!(p.exit_usage(10_000), None);
        // Reuse refreshes.
        p.note_used(80, 9000);
        assert_eq!(p.predicted(10_000), vec![80]);
    }

    #[test]
    fn internal_prediction() {
        let mut p = PredictedPorts::new(0);
        assert_eq!(p.internal(0), None);
        p.note_internal(100, true, false);
        assert_eq!(p.internal(200), Some((true, false)));
        assert_eq!(p.internal(3700), None);
        p.expire(3700);
        assert_eq!(p, {
            let mut q = PredictedPorts::new(0);
            q.expire(3700);
            q
        });
    }
}
