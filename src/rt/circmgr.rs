//! The circuit manager: builds, keeps and hands out client circuits (tor-spec §5, C tor's
//! `circuituse.c` / `circuitbuild.c` / `circuitstats.c` behaviour, simplified).
//!
//! - **Paths** come from a [`PathSource`] (the client's directory and guard manager, or a
//!   fixed list in tests): guard, middle, exit for exit circuits; one relay for one-hop
//!   directory circuits.
//! - **Builds** run under a per-circuit timeout ([`BuildTimeouts`]): C tor's initial 60 s
//!   until 100 builds were observed, then twice the 80th percentile of the last 1000 build
//!   times, clamped to 2–60 s. (C tor fits a Pareto curve and keeps timed-out circuits open
//!   to measure them; we keep the raw quantile and give it a ×2 margin instead, because a
//!   timed-out build here is abandoned, not measured.) A failed build is retried with a new
//!   path, up to [`CircMgrConfig::build_attempts`] times; whether the first hop (the guard)
//!   answered is reported back with [`PathSource::note_first_hop`].
//! - **Reuse and isolation**: a circuit is *clean* until its first stream; it then belongs to
//!   that stream's isolation key, and only streams with an equal key use it afterwards. A
//!   dirty circuit takes no new streams once it has been dirty for
//!   [`CircMgrConfig::max_dirtiness`] (C tor `MaxCircuitDirtiness`, 10 minutes); it is then
//!   dropped from the table and ends when its last stream does.
//! - **Preemptive circuits** ([`CircMgr::maintain`], as C tor's
//!   `circuit_predict_and_launch_new`): for every port used in the last hour (port 80 at
//!   start, as C tor's `predicted_ports_init`), keep at least 2 clean circuits whose exit
//!   allows it, at most 14 clean circuits in all (`MIN_CIRCUITS_HANDLING_STREAM`,
//!   `MAX_UNUSED_OPEN_CIRCUITS`).
//! - **Directory circuits** are one hop, keyed with CREATE_FAST as C tor does
//!   ([`CircMgr::dir_circuit`]).
//! - **Streams**: [`CircMgr::connect`] (BEGIN; one retry on a new circuit when the exit
//!   refuses by policy or the circuit dies), [`CircMgr::resolve`] and [`CircMgr::resolve_ptr`] (RELAY_RESOLVE;
//!   `rt::client::Circuit::resolve_ptr` was added for the latter).
//!
//! Deliberately not here: onion-service circuits, conflux, circuit padding, and
//! `LearnCircuitBuildTimeout`'s network-liveness tracking.

use std::collections::{HashMap, VecDeque};
use std::fmt::Debug;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::client::HopTarget;
use crate::ids::RsaIdentity;
use crate::relaycell::EndReason;
use crate::rt::client::{
    self, BuildOptions, ChannelPool, Circuit, DataStream, FirstHop, DEFAULT_BUILD_TIMEOUT,
};

/// A circuit-manager failure.
#[derive(Debug, thiserror::Error)]
pub enum CircMgrError {
    /// The path source has no path (no directory yet, or no relay fits).
    #[error("no path: {0}")]
    NoPath(String),
    /// Every build attempt failed; the last error.
    #[error("circuit build failed after {attempts} attempts: {last}")]
    BuildFailed {
        /// Attempts made.
        attempts: usize,
        /// The last attempt's error.
        last: client::Error,
    },
    /// The stream or resolve failed (END reasons are in [`client::Error::StreamEnded`]).
    #[error("stream: {0}")]
    Stream(client::Error),
    /// The manager was shut down.
    #[error("circuit manager is shut down")]
    ShutDown,
}

impl CircMgrError {
    /// The exit's END reason, if the stream was refused or ended by the exit.
    pub fn end_reason(&self) -> Option<EndReason> {
        match self {
            CircMgrError::Stream(e) => e.end_reason(),
            _ => None,
        }
    }
}

/// Where the circuit manager gets its paths (implemented over the network directory and
/// the guard manager; tests use fixed relays).
pub trait PathSource: Send + Sync + 'static {
    /// A path for exit traffic: guard, middle(s), exit; the exit allows `port` if given.
    fn exit_path(&self, port: Option<u16>) -> Result<Vec<HopTarget>, String>;
    /// Whether this exit's policy (summary) allows `port`.
    fn exit_allows(&self, exit: &RsaIdentity, port: u16) -> bool;
    /// A relay for a one-hop directory circuit.
    fn dir_hop(&self) -> Result<HopTarget, String>;
    /// Whether a build through `guard` got past the first hop (guard bookkeeping).
    fn note_first_hop(&self, guard: &RsaIdentity, ok: bool);
}

/// Circuit-manager settings (C tor option names in the field docs).
#[derive(Debug, Clone)]
pub struct CircMgrConfig {
    /// `MaxCircuitDirtiness`: how long a used circuit takes new streams (600 s).
    pub max_dirtiness: Duration,
    /// Clean circuits wanted per predicted port (C tor `MIN_CIRCUITS_HANDLING_STREAM`, 2).
    pub clean_per_port: usize,
    /// At most this many clean circuits (C tor `MAX_UNUSED_OPEN_CIRCUITS`, 14).
    pub max_clean: usize,
    /// How long a used port stays predicted (`PredictedPortsRelevanceTime`, 1 hour).
    pub predicted_port_lifetime: Duration,
    /// Paths tried per circuit request.
    pub build_attempts: usize,
    /// How the first hop of exit circuits is keyed.
    pub first_hop: FirstHop,
}

impl Default for CircMgrConfig {
    fn default() -> Self {
        CircMgrConfig {
            max_dirtiness: Duration::from_secs(600),
            clean_per_port: 2,
            max_clean: 14,
            predicted_port_lifetime: Duration::from_secs(3600),
            build_attempts: 3,
            first_hop: FirstHop::Create2,
        }
    }
}

/// Learned circuit build timeout (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct BuildTimeouts {
    times: VecDeque<Duration>,
}

impl BuildTimeouts {
    /// C tor `CBT_NCIRCUITS_TO_OBSERVE`.
    pub const KEEP: usize = 1000;
    /// C tor `CBT_DEFAULT_MIN_CIRCUITS_TO_OBSERVE`.
    pub const MIN_OBSERVED: usize = 100;
    /// Lower clamp.
    pub const MIN: Duration = Duration::from_secs(2);

    /// Records a successful build's duration.
    pub fn record(&mut self, d: Duration) {
        if self.times.len() == Self::KEEP {
            self.times.pop_front();
        }
        self.times.push_back(d);
    }

    /// Builds observed (up to [`Self::KEEP`]).
    pub fn observed(&self) -> usize {
        self.times.len()
    }

    /// The timeout for the next build.
    pub fn timeout(&self) -> Duration {
        if self.times.len() < Self::MIN_OBSERVED {
            return DEFAULT_BUILD_TIMEOUT;
        }
        let mut v: Vec<Duration> = self.times.iter().copied().collect();
        v.sort();
        let idx = (v.len() * 80 / 100).min(v.len() - 1);
        let p80 = v.get(idx).copied().unwrap_or(DEFAULT_BUILD_TIMEOUT);
        (p80 * 2).clamp(Self::MIN, DEFAULT_BUILD_TIMEOUT)
    }
}

struct Entry<K> {
    circ: Circuit,
    exit: RsaIdentity,
    /// `None` while clean.
    owner: Option<K>,
    dirty_since: Option<Instant>,
    /// Ports this circuit's exit refused (EXITPOLICY) despite its summary.
    refused: Vec<u16>,
}

struct State<K> {
    circs: Vec<Entry<K>>,
    dir: Option<Circuit>,
    predicted: HashMap<u16, Instant>,
    launching: usize,
    shut: bool,
}

struct Inner<K> {
    pool: ChannelPool,
    paths: Arc<dyn PathSource>,
    cfg: CircMgrConfig,
    state: Mutex<State<K>>,
    cbt: Mutex<BuildTimeouts>,
}

/// The circuit manager (cheap to clone). `K` is the stream isolation key: circuits are
/// never shared between streams with different keys.
pub struct CircMgr<K> {
    inner: Arc<Inner<K>>,
}

impl<K> Clone for CircMgr<K> {
    fn clone(&self) -> Self {
        CircMgr {
            inner: self.inner.clone(),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl<K: Clone + Eq + Hash + Debug + Send + Sync + 'static> CircMgr<K> {
    /// A manager over `pool` taking paths from `paths`.
    pub fn new(pool: ChannelPool, paths: Arc<dyn PathSource>, cfg: CircMgrConfig) -> Self {
        let mut predicted = HashMap::new();
        predicted.insert(80, Instant::now());
        CircMgr {
            inner: Arc::new(Inner {
                pool,
                paths,
                cfg,
                state: Mutex::new(State {
                    circs: Vec::new(),
                    dir: None,
                    predicted,
                    launching: 0,
                    shut: false,
                }),
                cbt: Mutex::new(BuildTimeouts::default()),
            }),
        }
    }

    /// The channel pool.
    pub fn pool(&self) -> &ChannelPool {
        &self.inner.pool
    }

    /// The current build timeout.
    pub fn build_timeout(&self) -> Duration {
        lock(&self.inner.cbt).timeout()
    }

    /// Builds one circuit on a fresh path (not kept, not counted as clean) and measures how
    /// long the build took; for benchmarks.
    pub async fn build_circuit_timed(
        &self,
        port: Option<u16>,
    ) -> Result<(Circuit, Duration), CircMgrError> {
        let b = self.build_exit(port).await?;
        Ok((b.circ, b.took))
    }

    /// An exit circuit for a stream to `port` (`None`: any exit, e.g. for RESOLVE) owned by
    /// `key`: an open one this key already uses, else a clean one (which becomes the
    /// key's), else a new one.
    pub async fn exit_circuit(&self, port: Option<u16>, key: &K) -> Result<Circuit, CircMgrError> {
        let now = Instant::now();
        if let Some(port) = port {
            lock(&self.inner.state).predicted.insert(port, now);
        }
        if let Some(c) = self.take_existing(port, key, now)? {
            return Ok(c);
        }
        let Built { circ, exit, .. } = self.build_exit(port).await?;
        let mut st = lock(&self.inner.state);
        if st.shut {
            circ.close();
            return Err(CircMgrError::ShutDown);
        }
        st.circs.push(Entry {
            circ: circ.clone(),
            exit,
            owner: Some(key.clone()),
            dirty_since: Some(now),
            refused: Vec::new(),
        });
        Ok(circ)
    }

    /// Opens an exit stream to `host:port` for `key`. If the exit refuses by policy, or the
    /// circuit dies under the request, tries once more on another circuit.
    pub async fn connect(
        &self,
        host: &str,
        port: u16,
        key: &K,
    ) -> Result<DataStream, CircMgrError> {
        let mut last = None;
        for _ in 0..2 {
            let circ = self.exit_circuit(Some(port), key).await?;
            match circ.begin(host, port).await {
                Ok(s) => return Ok(s),
                Err(e) => {
                    let retry = match &e {
                        client::Error::StreamEnded(EndReason::EXITPOLICY) => {
                            self.note_refused(&circ, port);
                            true
                        }
                        client::Error::Closed(_) | client::Error::StreamTimeout => {
                            self.forget(&circ);
                            true
                        }
                        _ => false,
                    };
                    if !retry {
                        return Err(CircMgrError::Stream(e));
                    }
                    last = Some(e);
                }
            }
        }
        Err(CircMgrError::Stream(
            last.unwrap_or(client::Error::StreamTimeout),
        ))
    }

    /// Resolves `host` at an exit (RELAY_RESOLVE) for `key`.
    pub async fn resolve(&self, host: &str, key: &K) -> Result<Vec<IpAddr>, CircMgrError> {
        let circ = self.exit_circuit(None, key).await?;
        circ.resolve(host).await.map_err(|e| {
            if matches!(e, client::Error::Closed(_)) {
                self.forget(&circ);
            }
            CircMgrError::Stream(e)
        })
    }

    /// Reverse-resolves `addr` at an exit (RELAY_RESOLVE of its `in-addr.arpa` name).
    pub async fn resolve_ptr(&self, addr: IpAddr, key: &K) -> Result<Vec<String>, CircMgrError> {
        let circ = self.exit_circuit(None, key).await?;
        circ.resolve_ptr(addr).await.map_err(|e| {
            if matches!(e, client::Error::Closed(_)) {
                self.forget(&circ);
            }
            CircMgrError::Stream(e)
        })
    }

    /// A one-hop directory circuit (CREATE_FAST) to the path source's directory relay,
    /// reused while open.
    pub async fn dir_circuit(&self) -> Result<Circuit, CircMgrError> {
        if let Some(c) = lock(&self.inner.state).dir.clone() {
            if c.closed_reason().is_none() {
                return Ok(c);
            }
        }
        let hop = self.inner.paths.dir_hop().map_err(CircMgrError::NoPath)?;
        let circ = self.one_hop(&hop).await?;
        lock(&self.inner.state).dir = Some(circ.clone());
        Ok(circ)
    }

    /// A new one-hop circuit to `hop` with CREATE_FAST (directory fetches from a given
    /// authority or cache). Not kept.
    pub async fn one_hop(&self, hop: &HopTarget) -> Result<Circuit, CircMgrError> {
        let opts = BuildOptions {
            first_hop: FirstHop::CreateFast,
            timeout: self.build_timeout(),
        };
        let res = async {
            let chan = self.inner.pool.get_or_connect(hop).await?;
            Circuit::build_with(&chan, std::slice::from_ref(hop), opts).await
        }
        .await;
        res.map_err(|last| CircMgrError::BuildFailed { attempts: 1, last })
    }

    /// Preemptive circuits: launches builds until every predicted port has enough clean
    /// circuits (or the clean limit is reached). Call periodically (C tor: every second).
    /// Returns how many builds were launched.
    pub fn maintain(&self) -> usize {
        let now = Instant::now();
        let want = {
            let mut st = lock(&self.inner.state);
            if st.shut {
                return 0;
            }
            self.expire(&mut st, now);
            let life = self.inner.cfg.predicted_port_lifetime;
            st.predicted.retain(|_, t| now.duration_since(*t) < life);
            let clean: Vec<(RsaIdentity, Vec<u16>)> = st
                .circs
                .iter()
                .filter(|e| e.owner.is_none())
                .map(|e| (e.exit, e.refused.clone()))
                .collect();
            let room = self
                .inner
                .cfg
                .max_clean
                .saturating_sub(clean.len() + st.launching);
            let mut ports: Vec<u16> = st.predicted.keys().copied().collect();
            ports.sort_unstable();
            let mut needy = Vec::new();
            for p in ports {
                let have = clean
                    .iter()
                    .filter(|(x, refused)| {
                        !refused.contains(&p) && self.inner.paths.exit_allows(x, p)
                    })
                    .count();
                // Circuits being built serve any port their exit allows; counted for all.
                let short = self
                    .inner
                    .cfg
                    .clean_per_port
                    .saturating_sub(have + st.launching);
                needy.extend(std::iter::repeat_n(p, short));
            }
            needy.truncate(room);
            st.launching += needy.len();
            needy
        };
        for port in &want {
            let me = self.clone();
            let port = *port;
            tokio::spawn(async move {
                let res = me.build_exit(Some(port)).await;
                let mut st = lock(&me.inner.state);
                st.launching = st.launching.saturating_sub(1);
                if let Ok(Built { circ, exit, .. }) = res {
                    if st.shut {
                        circ.close();
                        return;
                    }
                    st.circs.push(Entry {
                        circ,
                        exit,
                        owner: None,
                        dirty_since: None,
                        refused: Vec::new(),
                    });
                }
            });
        }
        want.len()
    }

    /// Runs [`CircMgr::maintain`] every second until shut down.
    pub async fn maintain_loop(self) {
        while !lock(&self.inner.state).shut {
            self.maintain();
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// (clean, dirty) open circuits in the table.
    pub fn counts(&self) -> (usize, usize) {
        let st = lock(&self.inner.state);
        let open = st.circs.iter().filter(|e| e.circ.closed_reason().is_none());
        let (clean, dirty): (Vec<_>, Vec<_>) = open.partition(|e| e.owner.is_none());
        (clean.len(), dirty.len())
    }

    /// Closes every circuit and channel; later requests fail with [`CircMgrError::ShutDown`].
    pub async fn shutdown(&self) {
        let circs: Vec<Circuit> = {
            let mut st = lock(&self.inner.state);
            st.shut = true;
            let mut v: Vec<Circuit> = st.circs.drain(..).map(|e| e.circ).collect();
            v.extend(st.dir.take());
            v
        };
        for c in circs {
            c.close();
        }
        self.inner.pool.close_all().await;
    }

    /// Makes the circuit with this id (on its channel) stop taking new streams.
    fn forget(&self, circ: &Circuit) {
        let mut st = lock(&self.inner.state);
        st.circs.retain(|e| !same(&e.circ, circ));
    }

    fn note_refused(&self, circ: &Circuit, port: u16) {
        let mut st = lock(&self.inner.state);
        for e in st.circs.iter_mut().filter(|e| same(&e.circ, circ)) {
            e.refused.push(port);
        }
    }

    /// Drops closed circuits and those dirty for too long.
    fn expire(&self, st: &mut State<K>, now: Instant) {
        let max = self.inner.cfg.max_dirtiness;
        st.circs.retain(|e| {
            e.circ.closed_reason().is_none()
                && e.dirty_since.is_none_or(|t| now.duration_since(t) < max)
        });
    }

    fn take_existing(
        &self,
        port: Option<u16>,
        key: &K,
        now: Instant,
    ) -> Result<Option<Circuit>, CircMgrError> {
        let mut st = lock(&self.inner.state);
        if st.shut {
            return Err(CircMgrError::ShutDown);
        }
        self.expire(&mut st, now);
        let paths = &self.inner.paths;
        let fits = |e: &Entry<K>| match port {
            Some(p) => !e.refused.contains(&p) && paths.exit_allows(&e.exit, p),
            None => true,
        };
        // Prefer a circuit this key already owns, then a clean one.
        let pos = st
            .circs
            .iter()
            .position(|e| e.owner.as_ref() == Some(key) && fits(e))
            .or_else(|| st.circs.iter().position(|e| e.owner.is_none() && fits(e)));
        Ok(pos.and_then(|i| st.circs.get_mut(i)).map(|e| {
            if e.owner.is_none() {
                e.owner = Some(key.clone());
                e.dirty_since = Some(now);
            }
            e.circ.clone()
        }))
    }

    /// Builds an exit circuit on fresh paths, retrying: the circuit, its build time and
    /// its exit.
    async fn build_exit(&self, port: Option<u16>) -> Result<Built, CircMgrError> {
        let attempts = self.inner.cfg.build_attempts.max(1);
        let mut last = None;
        for _ in 0..attempts {
            if lock(&self.inner.state).shut {
                return Err(CircMgrError::ShutDown);
            }
            let path = self
                .inner
                .paths
                .exit_path(port)
                .map_err(CircMgrError::NoPath)?;
            let (Some(guard), Some(exit)) = (path.first(), path.last()) else {
                return Err(CircMgrError::NoPath("empty path".into()));
            };
            let timeout = self.build_timeout();
            let opts = BuildOptions {
                first_hop: self.inner.cfg.first_hop,
                timeout,
            };
            let start = Instant::now();
            // The first hop on its own, so that a guard failure is told apart from a
            // failure further out; then the rest under what remains of the timeout.
            let first = async {
                let chan = self.inner.pool.get_or_connect(guard).await?;
                Circuit::build_with(&chan, std::slice::from_ref(guard), opts).await
            };
            let circ = match tokio::time::timeout(timeout, first).await {
                Ok(Ok(c)) => c,
                Ok(Err(e)) => {
                    self.inner.paths.note_first_hop(&guard.rsa_id, false);
                    tracing::debug!("circuit build: first hop failed: {e}");
                    last = Some(e);
                    continue;
                }
                Err(_) => {
                    self.inner.paths.note_first_hop(&guard.rsa_id, false);
                    last = Some(client::Error::BuildTimeout);
                    continue;
                }
            };
            self.inner.paths.note_first_hop(&guard.rsa_id, true);
            let rest = async {
                for hop in path.iter().skip(1) {
                    circ.extend(hop).await?;
                }
                Ok::<(), client::Error>(())
            };
            let left = timeout.saturating_sub(start.elapsed());
            match tokio::time::timeout(left, rest).await {
                Ok(Ok(())) => {
                    let took = start.elapsed();
                    lock(&self.inner.cbt).record(took);
                    return Ok(Built {
                        circ,
                        took,
                        exit: exit.rsa_id,
                    });
                }
                Ok(Err(e)) => {
                    circ.close();
                    tracing::debug!("circuit build failed: {e}");
                    last = Some(e);
                }
                Err(_) => {
                    circ.close();
                    tracing::debug!("circuit build timed out after {timeout:?}");
                    last = Some(client::Error::BuildTimeout);
                }
            }
        }
        Err(CircMgrError::BuildFailed {
            attempts,
            last: last.unwrap_or(client::Error::NoHops),
        })
    }
}

/// A built exit circuit.
struct Built {
    circ: Circuit,
    took: Duration,
    exit: RsaIdentity,
}

/// The same circuit: same id on a channel to the same peer.
fn same(a: &Circuit, b: &Circuit) -> bool {
    a.circ_id() == b.circ_id() && a.channel().peer_addr() == b.channel().peer_addr()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_timeout_is_60s_until_learned_then_twice_p80_clamped() {
        let mut t = BuildTimeouts::default();
        assert_eq!(t.timeout(), Duration::from_secs(60));
        for i in 0..99u64 {
            t.record(Duration::from_millis(100 + i));
        }
        assert_eq!(
            t.timeout(),
            Duration::from_secs(60),
            "99 builds are not enough"
        );
        // 100 builds of 1..=100 × 100 ms: p80 is the 81st smallest, 8.1 s; ×2.
        let mut t = BuildTimeouts::default();
        for i in 1..=100u64 {
            t.record(Duration::from_millis(100 * i));
        }
        assert_eq!(t.timeout(), Duration::from_millis(16_200));
        // Fast network: clamped at 2 s. Slow: at 60 s.
        let mut fast = BuildTimeouts::default();
        let mut slow = BuildTimeouts::default();
        for _ in 0..200 {
            fast.record(Duration::from_millis(5));
            slow.record(Duration::from_secs(50));
        }
        assert_eq!(fast.timeout(), BuildTimeouts::MIN);
        assert_eq!(slow.timeout(), Duration::from_secs(60));
        // Only the last 1000 count.
        for _ in 0..1000 {
            slow.record(Duration::from_millis(5));
        }
        assert_eq!(slow.observed(), 1000);
        assert_eq!(slow.timeout(), BuildTimeouts::MIN);
    }
}
