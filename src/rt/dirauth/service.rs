//! The running authority: the shared [`Authority`] state behind a lock, the reachability
//! tester, the consensus schedule, and persistence in `DataDirectory/dirauth/`.
//!
//! Schedule: consensuses are made at aligned valid-after times (see
//! [`crate::dirauth::schedule`]). Before the first one, and (in test networks only) while the
//! set of listed relays keeps changing, a consensus is made as soon as every known relay has
//! been tested and the listing differs from the published one, at most every
//! [`ServiceOptions::min_gap`]: a private network is usable seconds after its relays start
//! instead of at the next 5-minute boundary. C tor would wait for its schedule.
//!
//! Reachability: each relay is tested when its descriptor is added and then every
//! [`ServiceOptions::retest`] (C tor tests 1/128 of the relays every 10 s, so each every
//! ~21 min; a relay must have been reached within 45 min to be Running): a TLS connection to
//! its ORPort and a link handshake that proves both its RSA and Ed25519 identities.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::RngCore;
use tokio::sync::{watch, Notify};

use crate::channel::{ExpectedPeer, InitiatorConfig, InitiatorRole};
use crate::dir::doc::authcert::AuthorityKeys;
use crate::dir::doc::consensus::Flavor;
use crate::dir::doc::routerdesc::{split_descriptors, RouterDescriptor};
use crate::dir::flags::RelayFlags;
use crate::dirauth::accept::KeyPins;
use crate::dirauth::sr::SrState;
use crate::dirauth::state::{Authority, AuthorityConfig, UploadReply};
use crate::ids::{Ed25519Identity, RsaIdentity};
use crate::rt::keystore::PrivateDir;

/// Runtime knobs.
#[derive(Clone, Debug)]
pub struct ServiceOptions {
    /// Full reachability retest period.
    pub retest: Duration,
    /// Handshake timeout of a test.
    pub test_timeout: Duration,
    /// Smallest gap between two early (unscheduled) consensuses.
    pub min_gap: Duration,
    /// Make early consensuses when the listing changes (test networks).
    pub early: bool,
    /// `AuthDirTestReachability` (when off, every relay counts as reachable).
    pub test_reachability: bool,
}

impl ServiceOptions {
    /// Defaults: in test networks retest every 20 s and republish on change; otherwise
    /// C tor's ~21-minute cycle and the schedule only.
    pub fn for_network(testing: bool) -> ServiceOptions {
        ServiceOptions {
            retest: Duration::from_secs(if testing { 20 } else { 1280 }),
            test_timeout: Duration::from_secs(10),
            min_gap: Duration::from_secs(2),
            early: testing,
            test_reachability: true,
        }
    }
}

/// A published consensus pair.
#[derive(Clone, Debug)]
pub struct Published {
    /// Valid-after.
    pub valid_after: u64,
    /// Fresh-until minus valid-after.
    pub interval: u64,
    /// `consensus-microdesc` text.
    pub microdesc: Arc<String>,
    /// `consensus` text.
    pub ns: Arc<String>,
    /// What it lists: relay, microdescriptor digest, flags.
    listing: Vec<(RsaIdentity, [u8; 32], RelayFlags)>,
}

struct Inner {
    auth: Authority,
    current: Option<Published>,
}

/// The authority service.
pub struct AuthorityService {
    inner: Mutex<Inner>,
    keys: Arc<AuthorityKeys>,
    dir: Option<PrivateDir>,
    opts: ServiceOptions,
    kick: Notify,
    stop: watch::Sender<bool>,
}

impl std::fmt::Debug for AuthorityService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorityService").finish_non_exhaustive()
    }
}

/// Seconds since the epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

const DESCRIPTORS: &str = "cached-descriptors";
const PINS: &str = "key-pinning";
const SR_STATE: &str = "sr-state";

impl AuthorityService {
    /// Creates the service, reloading state from `data_dir/dirauth/` (if given), and starts
    /// its tasks on the current tokio runtime.
    pub fn start(
        cfg: AuthorityConfig,
        keys: Arc<AuthorityKeys>,
        data_dir: Option<PathBuf>,
        opts: ServiceOptions,
    ) -> std::io::Result<Arc<AuthorityService>> {
        let now = unix_now();
        let mut auth = Authority::new(cfg, now);
        let dir = match data_dir {
            Some(d) => Some(PrivateDir::open(d)?.subdir("dirauth")?),
            None => None,
        };
        if let Some(dir) = &dir {
            load_state(dir, &mut auth, now);
        }
        let (stop, _) = watch::channel(false);
        let svc = Arc::new(AuthorityService {
            inner: Mutex::new(Inner {
                auth,
                current: None,
            }),
            keys,
            dir,
            opts,
            kick: Notify::new(),
            stop,
        });
        tokio::spawn(svc.clone().stop_on(Self::reachability_loop));
        tokio::spawn(svc.clone().stop_on(Self::schedule_loop));
        Ok(svc)
    }

    /// Stops the service's tasks.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }

    /// Resolves once [`AuthorityService::stop`] was called.
    pub async fn wait_stopped(&self) {
        let mut rx = self.stop.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }

    async fn stop_on<F, Fut>(self: Arc<Self>, f: F)
    where
        F: FnOnce(Arc<Self>) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let mut rx = self.stop.subscribe();
        tokio::select! {
            _ = f(self.clone()) => {}
            _ = rx.wait_for(|s| *s) => {}
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// The authority keys.
    pub fn keys(&self) -> &AuthorityKeys {
        &self.keys
    }

    /// Handles an upload (`POST /tor/`).
    pub fn upload(&self, body: &[u8]) -> UploadReply {
        let now = unix_now();
        let reply = {
            let mut g = self.lock();
            let r = g.auth.upload(body, now);
            if !r.added.is_empty() {
                self.persist(&g.auth);
            }
            r
        };
        if reply.status == 200 {
            tracing::info!(added = reply.added.len(), "descriptor upload accepted");
        } else {
            tracing::info!(reason = %reply.message, "descriptor upload rejected");
        }
        if !reply.added.is_empty() {
            self.kick.notify_one();
        }
        reply
    }

    /// Adds this authority's own descriptor directly (no upload round trip).
    pub fn add_own(&self, text: &str) -> UploadReply {
        self.upload(text.as_bytes())
    }

    /// The current consensus of a flavour.
    pub fn consensus(&self, flavor: Flavor) -> Option<Arc<String>> {
        let g = self.lock();
        g.current.as_ref().map(|c| match flavor {
            Flavor::Microdesc => c.microdesc.clone(),
            Flavor::Ns => c.ns.clone(),
        })
    }

    /// The current consensus pair.
    pub fn published(&self) -> Option<Published> {
        self.lock().current.clone()
    }

    /// Microdescriptors by digest, concatenated (unknown digests skipped).
    pub fn microdescs(&self, digests: &[[u8; 32]]) -> String {
        let g = self.lock();
        digests
            .iter()
            .filter_map(|d| g.auth.microdescs.get(d))
            .map(String::as_str)
            .collect()
    }

    /// Every known descriptor.
    pub fn server_all(&self) -> String {
        self.lock().auth.descriptors_text()
    }

    /// Descriptors by relay identity.
    pub fn server_fp(&self, ids: &[RsaIdentity]) -> String {
        let g = self.lock();
        ids.iter()
            .filter_map(|id| g.auth.relays.get(id))
            .map(|k| k.desc.text.as_str())
            .collect()
    }

    /// Descriptors by descriptor digest.
    pub fn server_d(&self, digests: &[[u8; 20]]) -> String {
        let g = self.lock();
        g.auth
            .relays
            .values()
            .filter(|k| digests.contains(&k.desc.digest))
            .map(|k| k.desc.text.as_str())
            .collect()
    }

    /// This authority's own descriptor.
    pub fn server_authority(&self) -> Option<String> {
        let g = self.lock();
        let me = g.auth.cfg.my_rsa_id;
        g.auth.relays.get(&me).map(|k| k.desc.text.clone())
    }

    /// Writes the descriptors, pins and shared-random state.
    fn persist(&self, auth: &Authority) {
        let Some(dir) = &self.dir else { return };
        let files = [
            (DESCRIPTORS, auth.descriptors_text()),
            (PINS, auth.pins.to_text()),
            (SR_STATE, auth.sr.to_text()),
        ];
        for (name, text) in files {
            if let Err(e) = dir.write(name, text.as_bytes()) {
                tracing::warn!(file = name, error = %e, "cannot save authority state");
            }
        }
    }

    async fn reachability_loop(self: Arc<Self>) {
        let mut last_full = tokio::time::Instant::now();
        let mut tested: BTreeMap<RsaIdentity, (Ed25519Identity, SocketAddr)> = BTreeMap::new();
        loop {
            let due_full = last_full.elapsed() >= self.opts.retest;
            let targets = self.lock().auth.reachability_targets();
            let mut batch = Vec::new();
            for (id, ed, addr) in targets {
                // New or changed relays at once; all of them every `retest`.
                if due_full || tested.get(&id) != Some(&(ed, addr)) {
                    tested.insert(id, (ed, addr));
                    batch.push((id, ed, addr));
                }
            }
            if due_full {
                last_full = tokio::time::Instant::now();
            }
            let test = self.opts.test_reachability;
            let tests = batch.into_iter().map(|(id, ed, addr)| {
                let timeout = self.opts.test_timeout;
                async move {
                    if !test {
                        return (id, true);
                    }
                    let cfg = InitiatorConfig {
                        role: InitiatorRole::Client,
                        expected: Some(ExpectedPeer {
                            rsa_id: id,
                            ed_id: Some(ed),
                        }),
                        peer_addr: addr.ip(),
                        my_addrs: Vec::new(),
                    };
                    let ok = crate::rt::channel::connect(addr, cfg, timeout).await;
                    if let Err(e) = &ok {
                        tracing::info!(relay = %id.to_hex(), error = %e, "reachability test failed");
                    }
                    (id, ok.is_ok())
                }
            });
            let results = futures_join_all(tests).await;
            if !results.is_empty() {
                let now = unix_now();
                let mut g = self.lock();
                for (id, ok) in results {
                    g.auth.note_reachability(&id, ok, now);
                }
                drop(g);
                self.kick.notify_one();
            }
            tokio::select! {
                _ = self.kick.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    /// Makes and publishes a consensus for `valid_after`.
    fn make(&self, valid_after: u64) {
        let now = unix_now();
        let mut random = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut random);
        let mut g = self.lock();
        g.auth.expire(now);
        let listing = listing(&g.auth, now);
        match g.auth.make_consensus(valid_after, now, &self.keys, random) {
            Ok(m) => {
                tracing::info!(listed = m.listed, valid_after, "published a consensus");
                g.current = Some(Published {
                    valid_after,
                    interval: g.auth.cfg.timing.interval,
                    microdesc: Arc::new(m.microdesc),
                    ns: Arc::new(m.ns),
                    listing,
                });
                self.persist(&g.auth);
            }
            Err(e) => tracing::warn!(error = %e, "cannot make a consensus"),
        }
    }

    async fn schedule_loop(self: Arc<Self>) {
        let mut last_early: Option<tokio::time::Instant> = None;
        loop {
            let now = unix_now();
            let (current, early_due) = {
                let g = self.lock();
                let cur = g.current.as_ref().map(|c| (c.valid_after, c.interval));
                let ready = !g.auth.relays.is_empty() && g.auth.all_tested();
                let changed =
                    ready && g.current.as_ref().map(|c| &c.listing) != Some(&listing(&g.auth, now));
                let early_ok = g.current.is_none() || self.opts.early;
                (
                    cur,
                    changed && early_ok && !listing(&g.auth, now).is_empty(),
                )
            };
            let gap_ok = last_early.is_none_or(|t| t.elapsed() >= self.opts.min_gap);
            if early_due && gap_ok {
                let va = current.map_or(now, |(va, _)| now.max(va + 1));
                self.make(va);
                last_early = Some(tokio::time::Instant::now());
                continue;
            }
            if let Some((va, interval)) = current {
                let timing = self.lock().auth.cfg.timing;
                let mut next = timing.next_valid_after(va, Some(interval));
                if next + interval <= now {
                    next = timing.next_valid_after(now, Some(interval));
                }
                if now >= next {
                    self.make(next);
                    continue;
                }
            }
            tokio::select! {
                _ = self.kick.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }
}

/// What a consensus made now would list.
fn listing(auth: &Authority, now: u64) -> Vec<(RsaIdentity, [u8; 32], RelayFlags)> {
    auth.statuses(now)
        .into_iter()
        .map(|(rs, k)| (rs.rsa_id, k.md_digest, rs.flags))
        .collect()
}

/// Runs futures concurrently and collects their outputs in order.
async fn futures_join_all<F: std::future::Future + Send + 'static>(
    futs: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futs.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        if let Ok(v) = h.await {
            out.push(v);
        }
    }
    out
}

/// Reloads descriptors (those still valid at `now`), pins and shared-random state.
fn load_state(dir: &PrivateDir, auth: &mut Authority, now: u64) {
    let read = |name: &str| -> Option<String> {
        dir.read(name)
            .ok()
            .flatten()
            .and_then(|b| String::from_utf8(b.to_vec()).ok())
    };
    if let Some(t) = read(PINS) {
        match KeyPins::from_text(&t) {
            Ok(p) => auth.pins = p,
            Err(e) => tracing::warn!(error = %e, "ignoring key-pinning file"),
        }
    }
    if let Some(t) = read(SR_STATE) {
        match SrState::from_text(&t) {
            Ok(s) => auth.sr = s,
            Err(e) => tracing::warn!(error = %e, "ignoring shared-random state"),
        }
    }
    if let Some(t) = read(DESCRIPTORS) {
        let mut n = 0;
        for piece in split_descriptors(&t) {
            if let Ok(d) = RouterDescriptor::parse(piece, now) {
                auth.insert(d, now);
                n += 1;
            }
        }
        tracing::info!(descriptors = n, "reloaded accepted descriptors");
    }
}
