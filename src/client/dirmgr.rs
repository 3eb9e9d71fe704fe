//! The client's directory manager, sans-IO: what a C tor client does to get and keep
//! directory information (dir-spec §5 "Client operation", C tor `networkstatus.c`,
//! `microdesc.c`, `routerlist.c`, `dirclient.c`, `nodelist.c`).
//!
//! [`DirMgr`] decides; the runtime fetches. Each call to [`DirMgr::poll_fetches`] returns
//! the requests to make now ([`Fetch`]: which server, which path); the runtime fetches them
//! (BEGIN_DIR on a one-hop circuit) and hands the body or the failure to
//! [`DirMgr::handle_response`]. Time is always a parameter (Unix seconds).
//!
//! - **Sources**: before a consensus is known, a random configured authority
//!   ([`authorities`]); afterwards, a random relay with the V2Dir flag (a directory cache),
//!   falling back to the authorities. A failed source is avoided for a while.
//! - **Consensus** (microdesc flavour): fetched when there is none, or at a random time in
//!   C tor's client window (`update_consensus_networkstatus_fetch_time_impl`: from
//!   fresh-until + ¾ of the fresh interval, within ⅞ of what is left before valid-until).
//!   A newer consensus replaces the current one only once it verifies
//!   ([`Consensus::verify`]: more than half of the authorities).
//! - **Certificates**: a consensus signed by authorities whose signing certificate is
//!   missing makes a `/tor/keys/fp/<fp>+<fp>` fetch; the consensus waits meanwhile.
//! - **Microdescriptors**: those the consensus lists and we lack, fetched
//!   `/tor/micro/d/<b64>-<b64>...` split as C tor's `launch_descriptor_downloads` does
//!   (at least 3 requests, at least 32 and at most 500 per request when tunnelled).
//! - **Enough directory info** (C tor `compute_frac_paths_available`): the bandwidth
//!   fractions of guards, of all usable relays and of exits that have microdescriptors,
//!   multiplied, reach `min_paths_for_circs_pct` (default 60 %). With no exits at all the
//!   exit fraction counts as 1. Bandwidth is the consensus weight, not the position-weighted
//!   bandwidth C tor uses (a simplification).
//! - **Cache**: [`DirMgr::load_cache`] takes the cached files' contents at start (each is
//!   re-parsed and the consensus re-verified); [`DirMgr::take_cache_writes`] hands out files
//!   to write (atomically, by the runtime) after new verified data arrived. A bad fetch is
//!   dropped before it touches anything, so it never replaces good cached data.
//! - **Progress**: [`DirMgr::progress`] as C tor's bootstrap phases 0–75 (the runtime adds
//!   the connection and circuit phases with [`DirMgr::note_phase`]).
//!
//! Not here: fallback directories, bridges, the ns-flavour consensus, consensus diffs.

mod authorities;
mod convert;
mod phase;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;

use rand::seq::SliceRandom;
use rand::Rng;

pub use authorities::{authorities, default_authorities, AuthorityInfo, DEFAULT_AUTHORITY_LINES};
pub use convert::{netdir_from, paths_fraction, relay_info};
pub use phase::{BootstrapPhase, Progress};

use crate::dir::doc::authcert::AuthCert;
use crate::dir::doc::consensus::{Consensus, Flavor};
use crate::dir::doc::microdesc::Microdesc;
use crate::dir::doc::token::b64_nopad;
use crate::ids::RsaIdentity;

/// Why a directory document was refused.
#[derive(Debug, thiserror::Error)]
pub enum DirMgrError {
    /// No request with this id is outstanding.
    #[error("unknown request id {0}")]
    UnknownRequest(u64),
    /// The fetch failed (network, HTTP status).
    #[error("fetch failed: {0}")]
    Fetch(String),
    /// The document did not parse.
    #[error("bad document: {0}")]
    Parse(#[from] crate::dir::doc::token::DocError),
    /// The consensus is not what we asked for or older than ours.
    #[error("consensus refused: {0}")]
    Refused(String),
}

/// Cached files in the data directory, by C tor's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CacheFile {
    /// `cached-microdesc-consensus`.
    Consensus,
    /// `cached-certs`.
    Certs,
    /// `cached-microdescs`.
    Microdescs,
}

impl CacheFile {
    /// The file name.
    pub fn name(self) -> &'static str {
        match self {
            CacheFile::Consensus => "cached-microdesc-consensus",
            CacheFile::Certs => "cached-certs",
            CacheFile::Microdescs => "cached-microdescs",
        }
    }
}

/// A directory server to fetch from: ORPort for a one-hop BEGIN_DIR circuit (CREATE_FAST,
/// so no onion key is needed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirServer {
    /// Its relay identity.
    pub rsa_id: RsaIdentity,
    /// Its ORPort.
    pub or_addr: SocketAddr,
}

/// What a fetch is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchKind {
    /// The microdesc consensus.
    Consensus,
    /// Authority certificates by v3 identity.
    Certs(Vec<RsaIdentity>),
    /// Microdescriptors by SHA-256 digest.
    Microdescs(Vec<[u8; 32]>),
}

/// One request for the runtime to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetch {
    /// Its id, for [`DirMgr::handle_response`].
    pub id: u64,
    /// Where.
    pub server: DirServer,
    /// The HTTP path (dir-spec §4 / §5 URLs).
    pub path: String,
    /// What for.
    pub kind: FetchKind,
}

/// Directory-manager settings.
#[derive(Debug, Clone)]
pub struct DirMgrConfig {
    /// The v3 authorities trusted.
    pub authorities: Vec<AuthorityInfo>,
    /// `TestingTorNetwork`.
    pub testing: bool,
    /// `PathsNeededToBuildCircuits` (overrides the consensus parameter).
    pub paths_needed: Option<f64>,
}

/// C tor `MIN_DL_PER_REQUEST`.
pub const MIN_DL_PER_REQUEST: usize = 32;
/// C tor `MIN_REQUESTS`.
pub const MIN_REQUESTS: usize = 3;
/// C tor `max_dl_per_request` for tunnelled (BEGIN_DIR) fetches.
pub const MAX_DL_PER_REQUEST: usize = 500;

/// The directory manager (see the module docs).
#[derive(Debug)]
pub struct DirMgr {
    cfg: DirMgrConfig,
    consensus: Option<Consensus>,
    /// A newer consensus that parsed and waits for certificates.
    pending: Option<Consensus>,
    certs: Vec<AuthCert>,
    mds: HashMap<[u8; 32], Microdesc>,
    in_flight: HashMap<u64, Fetch>,
    next_id: u64,
    /// When to fetch the next consensus while ours is usable.
    next_consensus_at: Option<u64>,
    /// No new consensus fetch before this (after failures).
    consensus_retry_at: u64,
    consensus_failures: u32,
    /// Microdescs that failed recently: not asked again before the time.
    md_retry: HashMap<[u8; 32], u64>,
    /// Sources that failed recently: avoided until the time.
    bad_sources: HashMap<RsaIdentity, u64>,
    dirty: HashSet<CacheFile>,
    phase: BootstrapPhase,
    /// Phases passed since [`DirMgr::take_progress`] was last called.
    passed: Vec<Progress>,
    /// The highest percentage [`DirMgr::take_progress`] handed out.
    reported: u8,
}

impl DirMgr {
    /// A manager with nothing yet.
    pub fn new(cfg: DirMgrConfig) -> DirMgr {
        DirMgr {
            cfg,
            consensus: None,
            pending: None,
            certs: Vec::new(),
            mds: HashMap::new(),
            in_flight: HashMap::new(),
            next_id: 1,
            next_consensus_at: None,
            consensus_retry_at: 0,
            consensus_failures: 0,
            md_retry: HashMap::new(),
            bad_sources: HashMap::new(),
            dirty: HashSet::new(),
            phase: BootstrapPhase::Starting,
            passed: Vec::new(),
            reported: 0,
        }
    }

    fn v3idents(&self) -> Vec<RsaIdentity> {
        self.cfg.authorities.iter().map(|a| a.v3ident).collect()
    }

    /// Loads cached documents (each may be missing or bad: bad ones are ignored). A cached
    /// consensus is used only if it verifies at `now` with the known certificates.
    /// Returns whether a consensus was loaded.
    pub fn load_cache<R: Rng>(
        &mut self,
        consensus: Option<&str>,
        certs: Option<&str>,
        microdescs: Option<&str>,
        now: u64,
        rng: &mut R,
    ) -> bool {
        if let Some(t) = certs {
            if let Ok(cs) = AuthCert::parse_many(t) {
                self.add_certs(cs, now);
            }
        }
        if let Some(t) = microdescs {
            if let Ok(ms) = Microdesc::parse_many(t) {
                self.mds.extend(ms.into_iter().map(|m| (m.digest, m)));
            }
        }
        self.dirty.clear();
        let Some(t) = consensus else {
            return false;
        };
        let Ok(c) = Consensus::parse(t) else {
            return false;
        };
        if c.flavor != Flavor::Microdesc || c.verify(&self.v3idents(), &self.certs, now).is_err() {
            return false;
        }
        self.install(c, now, rng);
        self.dirty.clear();
        self.prune_mds();
        self.advance(BootstrapPhase::LoadingDescriptors);
        true
    }

    /// The requests to make now. (The runtime reports the `requesting_*` phases once
    /// their connection is up, as C tor does: see [`DirMgr::note_phase`].)
    pub fn poll_fetches<R: Rng>(&mut self, now: u64, rng: &mut R) -> Vec<Fetch> {
        let mut out = Vec::new();
        let fetching = |k: &dyn Fn(&FetchKind) -> bool, m: &HashMap<u64, Fetch>| {
            m.values().any(|f| k(&f.kind))
        };
        let live = self
            .consensus
            .as_ref()
            .is_some_and(|c| now <= c.valid_until);
        let want_consensus = self.pending.is_none()
            && now >= self.consensus_retry_at
            && (!live || self.next_consensus_at.is_some_and(|t| now >= t))
            && !fetching(&|k| *k == FetchKind::Consensus, &self.in_flight);
        if want_consensus {
            if let Some(f) = self.make_fetch(
                FetchKind::Consensus,
                "/tor/status-vote/current/consensus-microdesc".into(),
                now,
                rng,
            ) {
                out.push(f);
            }
        }
        // Certificates the waiting consensus needs.
        let missing = self.missing_certs(now);
        if !missing.is_empty() && !fetching(&|k| matches!(k, FetchKind::Certs(_)), &self.in_flight)
        {
            let fps: Vec<String> = missing.iter().map(|id| hex::encode_upper(id.0)).collect();
            let path = format!("/tor/keys/fp/{}", fps.join("+"));
            if let Some(f) = self.make_fetch(FetchKind::Certs(missing), path, now, rng) {
                out.push(f);
            }
        }
        // Microdescriptors.
        let wanted = self.missing_mds(now);
        if !wanted.is_empty() {
            let n = wanted.len();
            let per = n.div_ceil(MIN_REQUESTS).clamp(
                MIN_DL_PER_REQUEST.min(MAX_DL_PER_REQUEST),
                MAX_DL_PER_REQUEST,
            );
            for chunk in wanted.chunks(per) {
                let list: Vec<String> = chunk.iter().map(|d| b64_nopad(d)).collect();
                let path = format!("/tor/micro/d/{}", list.join("-"));
                if let Some(f) =
                    self.make_fetch(FetchKind::Microdescs(chunk.to_vec()), path, now, rng)
                {
                    out.push(f);
                }
            }
        }
        out
    }

    fn make_fetch<R: Rng>(
        &mut self,
        kind: FetchKind,
        path: String,
        now: u64,
        rng: &mut R,
    ) -> Option<Fetch> {
        let server = self.pick_source(&kind, now, rng)?;
        let f = Fetch {
            id: self.next_id,
            server,
            path,
            kind,
        };
        self.next_id += 1;
        self.in_flight.insert(f.id, f.clone());
        Some(f)
    }

    /// A cache from the consensus (V2Dir, Running, Valid) for microdescriptors and later
    /// consensuses, or an authority; sources that failed recently are avoided while others
    /// remain. Certificates come from authorities until a consensus is in use.
    fn pick_source<R: Rng>(&self, kind: &FetchKind, now: u64, rng: &mut R) -> Option<DirServer> {
        use crate::dir::flags::RelayFlags;
        let ok = |id: &RsaIdentity| self.bad_sources.get(id).is_none_or(|t| now >= *t);
        let mut caches: Vec<DirServer> = Vec::new();
        if let (Some(c), false) = (&self.consensus, self.consensus_expired(now)) {
            let need = RelayFlags::V2DIR
                .union(RelayFlags::RUNNING)
                .union(RelayFlags::VALID);
            caches = c
                .routers
                .iter()
                .filter(|r| r.flags.contains(need) && r.or_port != 0)
                .map(|r| DirServer {
                    rsa_id: r.rsa_id,
                    or_addr: SocketAddr::from((r.ipv4, r.or_port)),
                })
                .collect();
        }
        let auths: Vec<DirServer> = self
            .cfg
            .authorities
            .iter()
            .map(|a| DirServer {
                rsa_id: a.rsa_id,
                or_addr: a.or_addr,
            })
            .collect();
        let _ = kind;
        let pools = [caches, auths];
        for pool in &pools {
            let good: Vec<&DirServer> = pool.iter().filter(|s| ok(&s.rsa_id)).collect();
            if let Some(s) = good.choose(rng) {
                return Some((*s).clone());
            }
        }
        pools
            .iter()
            .flatten()
            .collect::<Vec<_>>()
            .choose(rng)
            .map(|s| (*s).clone())
    }

    fn consensus_expired(&self, now: u64) -> bool {
        self.consensus.as_ref().is_none_or(|c| now > c.valid_until)
    }

    /// The v3 identities whose signing certificate the waiting consensus lacks.
    fn missing_certs(&self, now: u64) -> Vec<RsaIdentity> {
        let Some(p) = &self.pending else {
            return Vec::new();
        };
        let auths = self.v3idents();
        let mut out: Vec<RsaIdentity> = p
            .signatures
            .iter()
            .filter(|s| auths.contains(&s.identity))
            .filter(|s| {
                !self.certs.iter().any(|c| {
                    c.fingerprint == s.identity
                        && c.signing_key_digest() == s.signing_key_digest
                        && c.expires >= now
                })
            })
            .map(|s| s.identity)
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Microdesc digests the consensus lists that we lack, are not being fetched, and did
    /// not fail recently.
    fn missing_mds(&self, now: u64) -> Vec<[u8; 32]> {
        let Some(c) = &self.consensus else {
            return Vec::new();
        };
        let asked: HashSet<[u8; 32]> = self
            .in_flight
            .values()
            .filter_map(|f| match &f.kind {
                FetchKind::Microdescs(d) => Some(d.iter().copied()),
                _ => None,
            })
            .flatten()
            .collect();
        let mut seen = HashSet::new();
        c.routers
            .iter()
            .filter_map(|r| r.md_digest)
            .filter(|d| !self.mds.contains_key(d) && !asked.contains(d))
            .filter(|d| self.md_retry.get(d).is_none_or(|t| now >= *t))
            .filter(|d| seen.insert(*d))
            .collect()
    }

    /// Takes the answer to request `id`: the body, or why the fetch failed.
    pub fn handle_response<R: Rng>(
        &mut self,
        id: u64,
        result: Result<&[u8], String>,
        now: u64,
        rng: &mut R,
    ) -> Result<(), DirMgrError> {
        let f = self
            .in_flight
            .remove(&id)
            .ok_or(DirMgrError::UnknownRequest(id))?;
        let res = match result {
            Ok(body) => self.take_body(&f, body, now, rng),
            Err(e) => Err(DirMgrError::Fetch(e)),
        };
        if res.is_err() {
            // Avoid the source for a minute (C tor's download schedules back off further).
            let wait = if self.cfg.testing { 5 } else { 60 };
            self.bad_sources.insert(f.server.rsa_id, now + wait);
            match &f.kind {
                FetchKind::Consensus => {
                    self.consensus_failures += 1;
                    let backoff = 1u64 << self.consensus_failures.min(6);
                    self.consensus_retry_at = now + backoff.min(60);
                }
                FetchKind::Certs(_) => {}
                FetchKind::Microdescs(d) => {
                    for x in d {
                        self.md_retry.insert(*x, now + wait);
                    }
                }
            }
        }
        res
    }

    fn take_body<R: Rng>(
        &mut self,
        f: &Fetch,
        body: &[u8],
        now: u64,
        rng: &mut R,
    ) -> Result<(), DirMgrError> {
        let text = std::str::from_utf8(body)
            .map_err(|_| DirMgrError::Refused("document is not UTF-8".into()))?;
        match &f.kind {
            FetchKind::Consensus => {
                self.advance(BootstrapPhase::LoadingStatus);
                let c = Consensus::parse(text)?;
                if c.flavor != Flavor::Microdesc {
                    return Err(DirMgrError::Refused("not a microdesc consensus".into()));
                }
                if let Some(cur) = &self.consensus {
                    if c.valid_after <= cur.valid_after {
                        return Err(DirMgrError::Refused("not newer than ours".into()));
                    }
                }
                if now > c.valid_until {
                    return Err(DirMgrError::Refused("expired".into()));
                }
                self.consensus_failures = 0;
                self.pending = Some(c);
                self.try_pending(now, false, rng)
            }
            FetchKind::Certs(_) => {
                let certs = AuthCert::parse_many(text)?;
                self.add_certs(certs, now);
                self.try_pending(now, true, rng)
            }
            FetchKind::Microdescs(asked) => {
                let asked: HashSet<&[u8; 32]> = asked.iter().collect();
                let got = Microdesc::parse_many(text)?;
                let mut n = 0;
                for m in got {
                    if asked.contains(&m.digest) {
                        self.mds.insert(m.digest, m);
                        n += 1;
                    }
                }
                if n > 0 {
                    self.dirty.insert(CacheFile::Microdescs);
                }
                // What was asked and not answered: try elsewhere later.
                if let FetchKind::Microdescs(d) = &f.kind {
                    for x in d.iter().filter(|x| !self.mds.contains_key(*x)) {
                        self.md_retry
                            .insert(*x, now + if self.cfg.testing { 5 } else { 60 });
                    }
                }
                self.advance(BootstrapPhase::LoadingDescriptors);
                Ok(())
            }
        }
    }

    /// Keeps certificates of our authorities that are still in force (newest per signing key).
    fn add_certs(&mut self, certs: Vec<AuthCert>, now: u64) {
        let auths = self.v3idents();
        for c in certs {
            if !auths.contains(&c.fingerprint) || c.expires < now {
                continue;
            }
            let dup = self.certs.iter().any(|x| {
                x.fingerprint == c.fingerprint && x.signing_key_digest() == c.signing_key_digest()
            });
            if !dup {
                self.certs.push(c);
                self.dirty.insert(CacheFile::Certs);
            }
        }
        self.certs.retain(|c| c.expires >= now);
    }

    /// Verifies the waiting consensus: at once if no certificate it needs is missing,
    /// otherwise after a certificate fetch answered (with what we then hold: C tor accepts
    /// a consensus once more than half of the authorities' signatures check out).
    fn try_pending<R: Rng>(
        &mut self,
        now: u64,
        after_certs: bool,
        rng: &mut R,
    ) -> Result<(), DirMgrError> {
        if self.pending.is_none() {
            return Ok(());
        }
        if !after_certs && !self.missing_certs(now).is_empty() {
            self.advance(BootstrapPhase::LoadingKeys);
            return Ok(());
        }
        let Some(p) = self.pending.take() else {
            return Ok(());
        };
        match p.verify(&self.v3idents(), &self.certs, now) {
            Ok(()) => {
                self.install(p, now, rng);
                Ok(())
            }
            Err(e) => {
                self.consensus_failures += 1;
                self.consensus_retry_at = now + (1u64 << self.consensus_failures.min(6)).min(60);
                Err(DirMgrError::Refused(format!("does not verify: {e}")))
            }
        }
    }

    fn install<R: Rng>(&mut self, c: Consensus, now: u64, rng: &mut R) {
        self.next_consensus_at = Some(next_fetch_time(&c, now, rng));
        self.consensus = Some(c);
        self.dirty.insert(CacheFile::Consensus);
        self.prune_mds();
    }

    /// Drops microdescriptors the consensus no longer lists.
    fn prune_mds(&mut self) {
        if let Some(c) = &self.consensus {
            let listed: HashSet<[u8; 32]> = c.routers.iter().filter_map(|r| r.md_digest).collect();
            let before = self.mds.len();
            self.mds.retain(|d, _| listed.contains(d));
            if self.mds.len() != before {
                self.dirty.insert(CacheFile::Microdescs);
            }
        }
    }

    /// The verified consensus in use.
    pub fn consensus(&self) -> Option<&Consensus> {
        self.consensus.as_ref()
    }

    /// Microdescriptors held.
    pub fn n_microdescs(&self) -> usize {
        self.mds.len()
    }

    /// Requests outstanding.
    pub fn n_in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// The fraction of paths buildable with the microdescriptors held (see module docs).
    pub fn paths_fraction(&self) -> f64 {
        self.consensus
            .as_ref()
            .map_or(0.0, |c| paths_fraction(c, &self.mds))
    }

    /// `PathsNeededToBuildCircuits` if configured, else `min_paths_for_circs_pct` (C tor
    /// default 60, clamped 25–95), as a fraction.
    pub fn paths_needed(&self) -> f64 {
        if let Some(f) = self.cfg.paths_needed {
            return f.clamp(0.25, 0.95);
        }
        let pct = self
            .consensus
            .as_ref()
            .and_then(|c| c.params.get("min_paths_for_circs_pct").copied())
            .unwrap_or(60)
            .clamp(25, 95);
        f64::from(pct) / 100.0
    }

    /// C tor's `router_have_minimum_dir_info`: a live consensus and enough of the paths.
    pub fn have_enough_dir_info(&self, now: u64) -> bool {
        !self.consensus_expired(now) && self.paths_fraction() >= self.paths_needed()
    }

    /// The network directory built from the consensus and the microdescriptors held.
    pub fn netdir(&self) -> Option<crate::client::netdir::NetDir> {
        self.consensus
            .as_ref()
            .map(|c| netdir_from(c, &self.mds, self.cfg.testing))
    }

    /// Raises the bootstrap phase (it never goes down).
    pub fn note_phase(&mut self, phase: BootstrapPhase) {
        self.advance(phase);
    }

    fn advance(&mut self, phase: BootstrapPhase) {
        if phase > self.phase {
            self.phase = phase;
            self.passed.push(Progress {
                phase,
                percent: phase.percent(),
            });
        }
    }

    /// Where bootstrap stands at `now`. While descriptors load the percentage moves from 50
    /// towards 75 with the paths fraction, as C tor's `count_loading_descriptors_progress`.
    pub fn progress(&mut self, now: u64) -> Progress {
        if self.phase < BootstrapPhase::EnoughDirinfo && self.have_enough_dir_info(now) {
            self.advance(BootstrapPhase::EnoughDirinfo);
        }
        let mut percent = self.phase.percent();
        if self.phase == BootstrapPhase::LoadingDescriptors {
            let frac = (self.paths_fraction() / self.paths_needed()).clamp(0.0, 1.0);
            let span = f64::from(BootstrapPhase::EnoughDirinfo.percent() - percent - 1);
            percent += (frac * span) as u8;
        }
        Progress {
            phase: self.phase,
            percent,
        }
    }

    /// Every phase passed since the last call, in order, then the current progress if it
    /// moved within its phase (descriptors loading): what C tor logs, one line each.
    pub fn take_progress(&mut self, now: u64) -> Vec<Progress> {
        let cur = self.progress(now);
        let mut out = std::mem::take(&mut self.passed);
        out.push(cur);
        let mut last = self.reported;
        out.retain(|p| {
            let new = p.percent > last;
            last = last.max(p.percent);
            new
        });
        self.reported = last;
        out
    }

    /// The next time something is due without a response arriving (consensus refetch,
    /// retries), if any.
    pub fn next_wakeup(&self, now: u64) -> Option<u64> {
        let mut t: Vec<u64> = Vec::new();
        t.extend(self.next_consensus_at);
        if self.consensus_expired(now) {
            t.push(self.consensus_retry_at.max(now));
        }
        t.extend(self.md_retry.values().copied().filter(|x| *x > now));
        t.into_iter().min()
    }

    /// Cache files whose contents changed, with their new contents.
    pub fn take_cache_writes(&mut self) -> Vec<(CacheFile, String)> {
        let mut out = Vec::new();
        for f in std::mem::take(&mut self.dirty) {
            let text = match f {
                CacheFile::Consensus => match &self.consensus {
                    Some(c) => c.text.clone(),
                    None => continue,
                },
                CacheFile::Certs => self.certs.iter().map(|c| c.text.as_str()).collect(),
                CacheFile::Microdescs => {
                    let mut v: Vec<&Microdesc> = self.mds.values().collect();
                    v.sort_by_key(|m| m.digest);
                    v.iter().map(|m| m.text.as_str()).collect()
                }
            };
            out.push((f, text));
        }
        out.sort_by_key(|(f, _)| f.name());
        out
    }
}

/// When a client fetches the consensus after `c` (C tor
/// `update_consensus_networkstatus_fetch_time_impl`, ordinary client).
pub fn next_fetch_time<R: Rng>(c: &Consensus, now: u64, rng: &mut R) -> u64 {
    if !(c.valid_after <= now && now <= c.valid_until) {
        return now;
    }
    let interval = c.fresh_until.saturating_sub(c.valid_after);
    let mut start = c.fresh_until + interval * 3 / 4;
    let mut dl = (c.valid_until.saturating_sub(start) * 7 / 8).max(1);
    if start + dl >= c.valid_until {
        dl = dl
            .min(c.valid_until.saturating_sub(c.fresh_until) / 2)
            .max(1);
        start = c.valid_until.saturating_sub(dl + 1);
    }
    start + rng.gen_range(0..dl)
}
