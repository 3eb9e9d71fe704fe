//! Guard sample maintenance and guard choice (guard-spec §4.5 "Updating the sample",
//! §4.6 "Selecting the primary guards", §4.7 "Retrying", §4.9 "Selecting guards for
//! circuits"; C tor `sampled_guards_update_from_consensus`, `entry_guards_expand_sample`,
//! `entry_guards_update_primary`, `select_entry_guard_for_circuit`).

use std::collections::HashSet;

use rand::Rng;

use crate::client::netdir::{NetDir, RelayInfo, WeightRole};
use crate::client::path::related;
use crate::dir::flags::RelayFlags;
use crate::ids::RsaIdentity;

use super::{is_possible_guard, retry_delay, Guard, GuardError, GuardMgr, GuardParams};

/// The relay behind a sampled guard if the guard is usable now (listed as a possible
/// guard and Running).
fn live_relay<'a>(netdir: &'a NetDir, g: &Guard) -> Option<&'a RelayInfo> {
    netdir
        .by_rsa_id(&g.rsa_id)
        .filter(|r| is_possible_guard(r) && r.is_usable())
}

/// Marks a failing guard "maybe reachable" once its retry time has come.
fn consider_retry(g: &mut Guard, now: u64, primary: bool) {
    if g.reachable == Some(false) {
        let since = g.failing_since.unwrap_or(now);
        let last = g.last_tried.unwrap_or(since);
        if now >= last.saturating_add(retry_delay(since, now, primary)) {
            g.reachable = None;
        }
    }
}

impl GuardMgr {
    /// Brings the sample up to date with `netdir` at `now`: listed/unlisted marks, removal
    /// of expired guards, growth of the sample, and the primary guards. Selection calls it;
    /// call it also when a new consensus arrives.
    pub fn update<R: Rng + ?Sized>(&mut self, netdir: &NetDir, rng: &mut R, now: u64) {
        if !self.config.use_entry_guards {
            return;
        }
        let params = GuardParams::new(netdir, &self.config);
        for g in &mut self.state.guards {
            match netdir.by_rsa_id(&g.rsa_id).filter(|r| is_possible_guard(r)) {
                Some(r) => {
                    g.unlisted_since = None;
                    if r.ed_id.is_some() {
                        g.ed_id = r.ed_id;
                    }
                }
                None => {
                    g.unlisted_since.get_or_insert(now);
                }
            }
        }
        self.state.guards.retain(|g| !expired(g, &params, now));
        let kept: HashSet<RsaIdentity> = self.state.guards.iter().map(|g| g.rsa_id).collect();
        self.primary.retain(|id| kept.contains(id));
        self.expand_sample(netdir, rng, now, &params);
        self.update_primary(netdir, &params);
    }

    fn usable_filtered_count(&self, netdir: &NetDir) -> usize {
        self.state
            .guards
            .iter()
            .filter(|g| g.reachable != Some(false) && live_relay(netdir, g).is_some())
            .count()
    }

    fn expand_sample<R: Rng + ?Sized>(
        &mut self,
        netdir: &NetDir,
        rng: &mut R,
        now: u64,
        params: &GuardParams,
    ) {
        let n_guards = netdir.usable().filter(|r| is_possible_guard(r)).count();
        let max = params.max_sample(n_guards);
        let mut sampled: HashSet<RsaIdentity> =
            self.state.guards.iter().map(|g| g.rsa_id).collect();
        let mut usable = self.usable_filtered_count(netdir);
        while usable < params.min_filtered_sample_size && self.state.guards.len() < max {
            let eligible: Vec<&RelayInfo> = netdir
                .usable()
                .filter(|r| is_possible_guard(r) && !sampled.contains(&r.rsa_id))
                .collect();
            let Some(r) = netdir.pick_weighted(rng, &eligible, WeightRole::Guard) else {
                break;
            };
            // C tor sets the sampled date back at random by up to a tenth of the lifetime.
            let back = rng.gen_range(0..=params.lifetime / 10);
            self.state.guards.push(Guard::new(
                r.rsa_id,
                r.ed_id,
                &r.nickname,
                now.saturating_sub(back),
            ));
            sampled.insert(r.rsa_id);
            usable += 1;
        }
    }

    fn update_primary(&mut self, netdir: &NetDir, params: &GuardParams) {
        let n = params.n_primary;
        let filtered = |g: &Guard| live_relay(netdir, g).is_some();
        let mut new: Vec<RsaIdentity> = Vec::with_capacity(n);
        for id in self.state.confirmed() {
            if new.len() >= n {
                break;
            }
            if self.state.get(&id).is_some_and(filtered) {
                new.push(id);
            }
        }
        for id in &self.primary {
            if new.len() < n && !new.contains(id) && self.state.get(id).is_some_and(filtered) {
                new.push(*id);
            }
        }
        for g in &self.state.guards {
            if new.len() >= n {
                break;
            }
            if g.confirmed_idx.is_none()
                && !new.contains(&g.rsa_id)
                && g.reachable != Some(false)
                && filtered(g)
            {
                new.push(g.rsa_id);
            }
        }
        for g in &mut self.state.guards {
            g.primary_idx = new
                .iter()
                .position(|id| *id == g.rsa_id)
                .and_then(|i| u32::try_from(i).ok());
        }
        self.primary = new;
    }

    /// Chooses the first hop of a circuit whose other hops include `exclude` (the guard
    /// must not be related to them). Returns the relay and whether it is a managed guard
    /// (to report with `note_success` / `note_failure`). `needs_stable` matters only with
    /// `UseEntryGuards 0` (sampled guards are always Stable).
    pub fn select<R: Rng + ?Sized>(
        &mut self,
        netdir: &NetDir,
        rng: &mut R,
        now: u64,
        exclude: &[&RelayInfo],
        needs_stable: bool,
    ) -> Result<(RelayInfo, bool), GuardError> {
        if !self.config.use_entry_guards {
            let candidates: Vec<&RelayInfo> = netdir
                .usable()
                .filter(|r| {
                    r.has(RelayFlags::GUARD)
                        && r.has(RelayFlags::FAST)
                        && (!needs_stable || r.has(RelayFlags::STABLE))
                        && !r.has(RelayFlags::MIDDLE_ONLY)
                        && !exclude.iter().any(|o| related(netdir, r, o))
                })
                .collect();
            return netdir
                .pick_weighted(rng, &candidates, WeightRole::Guard)
                .map(|r| (r.clone(), false))
                .ok_or(GuardError::NoUsableGuard);
        }
        self.update(netdir, rng, now);
        if let Some(r) = self.try_select(netdir, rng, now, exclude) {
            return Ok((r, true));
        }
        // Nothing reachable: as C tor, mark every guard "maybe" and try once more.
        for g in &mut self.state.guards {
            if g.reachable == Some(false) {
                g.reachable = None;
            }
        }
        self.update(netdir, rng, now);
        self.try_select(netdir, rng, now, exclude)
            .map(|r| (r, true))
            .ok_or(GuardError::NoUsableGuard)
    }

    fn try_select<R: Rng + ?Sized>(
        &mut self,
        netdir: &NetDir,
        rng: &mut R,
        now: u64,
        exclude: &[&RelayInfo],
    ) -> Option<RelayInfo> {
        let params = GuardParams::new(netdir, &self.config);
        let ok = |r: &RelayInfo| !exclude.iter().any(|o| related(netdir, r, o));
        // 1. The first usable primary guards.
        let mut usable: Vec<RsaIdentity> = Vec::new();
        let mut considered = 0;
        for id in self.primary.clone() {
            let Some(g) = self.state.get_mut(&id) else {
                continue;
            };
            consider_retry(g, now, true);
            let Some(r) = live_relay(netdir, g) else {
                continue;
            };
            if !ok(r) {
                considered += 1;
            } else if g.reachable != Some(false) {
                usable.push(id);
                considered += 1;
            }
            if considered >= params.n_primary_to_use && !usable.is_empty() {
                break;
            }
        }
        if !usable.is_empty() {
            let id = usable[rng.gen_range(0..usable.len())];
            return self.take(netdir, &id, now, false);
        }
        // 2. The first non-pending confirmed guard; 3. the first sampled guard.
        let confirmed = self.state.confirmed();
        let sample: Vec<RsaIdentity> = self.state.guards.iter().map(|g| g.rsa_id).collect();
        for id in confirmed.iter().chain(sample.iter()) {
            if self.primary.contains(id) {
                continue;
            }
            let Some(g) = self.state.get_mut(id) else {
                continue;
            };
            consider_retry(g, now, false);
            if g.pending || g.reachable == Some(false) {
                continue;
            }
            if live_relay(netdir, g).is_some_and(ok) {
                return self.take(netdir, id, now, true);
            }
        }
        None
    }

    fn take(
        &mut self,
        netdir: &NetDir,
        id: &RsaIdentity,
        now: u64,
        pending: bool,
    ) -> Option<RelayInfo> {
        let g = self.state.get_mut(id)?;
        g.last_tried = Some(now);
        g.pending |= pending;
        live_relay(netdir, g).cloned()
    }

    /// Chooses a directory guard: one of the first `n_primary_dir_to_use` usable primary
    /// guards at random. `None` with `UseEntryGuards 0` or when none is usable (fetch
    /// from any cache then).
    pub fn select_dir_guard<R: Rng + ?Sized>(
        &mut self,
        netdir: &NetDir,
        rng: &mut R,
        now: u64,
    ) -> Option<RelayInfo> {
        if !self.config.use_entry_guards {
            return None;
        }
        self.update(netdir, rng, now);
        let params = GuardParams::new(netdir, &self.config);
        let mut usable = Vec::new();
        for id in self.primary.clone() {
            let Some(g) = self.state.get_mut(&id) else {
                continue;
            };
            consider_retry(g, now, true);
            if g.reachable != Some(false)
                && live_relay(netdir, g).is_some_and(|r| r.has(RelayFlags::V2DIR))
            {
                usable.push(id);
            }
            if usable.len() >= params.n_primary_dir_to_use {
                break;
            }
        }
        if usable.is_empty() {
            return None;
        }
        let id = usable[rng.gen_range(0..usable.len())];
        self.take(netdir, &id, now, false)
    }
}

/// Whether a guard leaves the sample (guard-spec §4.5; C tor
/// `sampled_guards_prune_obsolete_entries`): unlisted too long, or sampled more than the
/// lifetime ago and not confirmed (or confirmed more than the confirmed lifetime ago).
fn expired(g: &Guard, p: &GuardParams, now: u64) -> bool {
    if let Some(t) = g.unlisted_since {
        if now > t.saturating_add(p.remove_unlisted_after) {
            return true;
        }
    }
    if g.sampled_on.saturating_add(p.lifetime) < now {
        return match g.confirmed_on {
            None => true,
            Some(c) => c.saturating_add(p.confirmed_min_lifetime) < now,
        };
    }
    false
}
