//! Fetching for [`super::DirCache`]: which URLs, when, and one refresh round.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;

use super::{now_unix, DirCache, RefreshReport, MD_BATCH};
use crate::dir::doc::consensus::Flavor;
use crate::dir::doc::token::b64_nopad;
use crate::ids::RsaIdentity;
use crate::rt::dirclient;

/// The consensus URL C tor's `directory_get_consensus_url` builds: the flavor, then the
/// sorted 3-byte hex prefixes of the authorities, then `.z`.
pub fn consensus_url(flavor: Flavor, authorities: &[RsaIdentity]) -> String {
    let mut ids: Vec<String> = authorities
        .iter()
        .map(|a| a.to_hex().chars().take(6).collect())
        .collect();
    ids.sort();
    let fl = match flavor {
        Flavor::Ns => "",
        Flavor::Microdesc => "-microdesc",
    };
    format!("/tor/status-vote/current/consensus{fl}/{}.z", ids.join("+"))
}

/// When a cache fetches the next consensus (C tor's
/// `update_consensus_networkstatus_fetch_time_impl` for caches): `rand01` in [0, 1).
pub fn next_fetch_time(valid_after: u64, fresh_until: u64, valid_until: u64, rand01: f64) -> u64 {
    let interval = fresh_until.saturating_sub(valid_after);
    let slop = (interval / 16).clamp(1, 120);
    let mut start = fresh_until + slop;
    let dl = (interval / 2).max(1);
    if start + dl >= valid_until {
        start = valid_until.saturating_sub(dl + 1);
    }
    // Truncation is intended: a whole number of seconds.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let off = (dl as f64 * rand01.clamp(0.0, 1.0)) as u64;
    start + off.min(dl.saturating_sub(1))
}

impl DirCache {
    async fn get_any(&self, path: &str) -> Result<Vec<u8>, String> {
        let mut order = self.authorities.clone();
        {
            use rand::seq::SliceRandom;
            order.shuffle(&mut rand::thread_rng());
        }
        let mut last = String::from("no authority with a DirPort");
        for a in &order {
            match dirclient::fetch_tcp(a.dir_addr, path, &self.fetch).await {
                Ok(b) => return Ok(b),
                Err(e) => {
                    last = format!("{} ({}): {e}", a.nickname, a.dir_addr);
                }
            }
        }
        Err(last)
    }

    /// One round: certificates, both consensuses, missing microdescriptors; then saves.
    pub async fn refresh(&self) -> RefreshReport {
        let mut rep = RefreshReport::default();
        let now = now_unix();
        let fps: Vec<String> = self.v3idents().iter().map(RsaIdentity::to_hex).collect();
        match self
            .get_any(&format!("/tor/keys/fp/{}.z", fps.join("+")))
            .await
        {
            Ok(b) => {
                if let Err(e) = self.add_certs(&String::from_utf8_lossy(&b), now) {
                    rep.errors.push(format!("certificates: {e}"));
                }
            }
            Err(e) => rep.errors.push(format!("certificates: {e}")),
        }
        rep.certs = self.read().certs.len();
        for f in [Flavor::Microdesc, Flavor::Ns] {
            let url = consensus_url(f, &self.v3idents());
            match self.get_any(&url).await {
                Ok(b) => match self.add_consensus(&String::from_utf8_lossy(&b), now) {
                    Ok(Some(f)) => rep.new_consensus.push(f),
                    Ok(None) => {}
                    Err(e) => rep
                        .errors
                        .push(format!("{} consensus rejected: {e}", f.name())),
                },
                Err(e) => rep.errors.push(format!("{} consensus: {e}", f.name())),
            }
        }
        self.prune_microdescs();
        let missing = self.missing_microdescs();
        for batch in missing.chunks(MD_BATCH) {
            let list: Vec<String> = batch.iter().map(|d| b64_nopad(d)).collect();
            match self
                .get_any(&format!("/tor/micro/d/{}.z", list.join("-")))
                .await
            {
                Ok(b) => match self.add_microdescs(&String::from_utf8_lossy(&b)) {
                    Ok(n) => rep.new_microdescs += n,
                    Err(e) => rep.errors.push(format!("microdescriptors: {e}")),
                },
                Err(e) => rep.errors.push(format!("microdescriptors: {e}")),
            }
        }
        if let Err(e) = self.save() {
            rep.errors.push(format!("saving the cache: {e}"));
        }
        rep
    }

    /// Fetches forever on C tor's cache schedule (until dropped).
    pub async fn run(self: Arc<Self>) {
        let mut backoff = Duration::from_secs(5);
        loop {
            let rep = self.refresh().await;
            for e in &rep.errors {
                if e.contains("rejected") {
                    tracing::warn!("directory cache: {e}");
                } else {
                    tracing::debug!("directory cache: {e}");
                }
            }
            if !rep.new_consensus.is_empty() || rep.new_microdescs > 0 {
                tracing::debug!(
                    certs = rep.certs,
                    new = ?rep.new_consensus,
                    microdescs = self.n_microdescs(),
                    "directory cache updated"
                );
            }
            let now = now_unix();
            let complete = self.consensus(Flavor::Microdesc).is_some()
                && self.consensus(Flavor::Ns).is_some()
                && self.missing_microdescs().is_empty();
            let wait = match self.consensus(Flavor::Microdesc) {
                Some(c) if complete && c.consensus.valid_until > now => {
                    backoff = Duration::from_secs(5);
                    let k = &c.consensus;
                    let at = next_fetch_time(
                        k.valid_after,
                        k.fresh_until,
                        k.valid_until,
                        rand::thread_rng().gen(),
                    );
                    Duration::from_secs(at.saturating_sub(now).max(1))
                }
                _ => {
                    let w = backoff;
                    backoff = (backoff * 2).min(Duration::from_secs(60));
                    w
                }
            };
            tokio::time::sleep(wait).await;
        }
    }
}
