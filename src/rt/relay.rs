//! The relay daemon's runtime: keys, the ORPort listener, channels, and one reactor task
//! running the sans-IO circuit layer ([`crate::circuit::RelayCircuits`]) over all channels.
//!
//! Tasks (all stop on [`RelayHandle::shutdown`]):
//!
//! - an accept loop per ORPort: each connection runs the responder's link handshake under a
//!   deadline ([`super::channel::accept`]), then becomes a channel;
//! - per channel, a reader task feeding cells to the reactor and a writer task draining a
//!   **bounded** queue; when the reactor finds a channel's queue full it closes that channel
//!   (logged), so the reactor never blocks and no queue grows without bound;
//! - the reactor (`reactor`), which executes every [`crate::circuit::Action`]: cells to
//!   channel queues, handshakes to a worker pool (`spawn_blocking` behind a semaphore),
//!   EXTEND2 to the channel manager (reuse a channel whose RSA and Ed25519 ids match, or
//!   open one as a relay), exit streams to per-stream tasks (`exit`);
//! - key rotation: sleeps until the keys' next rotation, rotates, and swaps the TLS
//!   configuration, link identity and onion keys used from then on.
//!
//! - directory: with `DirCache 1` and [`RelayOptions::dir_source`], BEGIN_DIR streams
//!   are answered from the source (`exit::run_dir_stream`, [`super::dirserve`]) and each
//!   `DirPort` gets a listener ([`super::dirserve::run_dirport`]); otherwise BEGIN_DIR gets
//!   END NOTDIRECTORY.
//!
//! Deliberately not here: descriptor publication ([`super::publish`]), DoS heuristics
//! beyond the circuit layer's caps and the queue bounds.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rand::rngs::OsRng;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::Instrument;

use super::relay_keys::{RelayKeyDir, RelayKeysError};
use super::tls;
use crate::channel::LinkIdentity;
use crate::circuit::{CircuitConfig, ExitPolicy, OnionKeys};
use crate::config::RelayConfig;
use crate::crypto::ll::X25519Public;
use crate::dir::serve::DirSource;
use crate::ids::{Ed25519Identity, RsaIdentity};
use crate::keys::{KeyPolicy, RelayKeys};

mod chan;
mod dir;
mod exit;
mod reactor;

pub use reactor::RelayStats;

/// Why the relay could not start.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The configuration lacks something the relay needs.
    #[error("configuration: {0}")]
    Config(String),
    /// Keys could not be loaded or created.
    #[error("{0}")]
    Keys(#[from] RelayKeysError),
    /// The TLS configuration could not be built.
    #[error("{0}")]
    Tls(#[from] tls::TlsError),
    /// A socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// A task failed.
    #[error("internal: {0}")]
    Internal(String),
}

/// Runtime knobs that are not torrc options (tests and benchmarks set them).
#[derive(Clone)]
pub struct RelayOptions {
    /// Cells a channel's outgoing queue holds before the channel is closed.
    pub channel_queue_cells: usize,
    /// Deadline for a whole link handshake (TCP, TLS and Tor).
    pub handshake_timeout: Duration,
    /// Handshakes (ntor, ntor-v3) run at once on the worker pool.
    pub handshake_workers: usize,
    /// EXTEND2 to private addresses; `None`: allowed iff `TestingTorNetwork 1`.
    pub extend_allow_private: Option<bool>,
    /// Exit policy override (`None`: from the configuration).
    pub exit_policy: Option<ExitPolicy>,
    /// Key lifetimes.
    pub key_policy: KeyPolicy,
    /// What BEGIN_DIR streams and DirPorts serve. With `DirCache 1` and a source, the
    /// relay answers BEGIN_DIR from it and listens on its `DirPort`s; without one, BEGIN_DIR
    /// gets END NOTDIRECTORY and no DirPort is opened.
    pub dir_source: Option<Arc<dyn DirSource>>,
    /// Without `dir_source`, with `DirCache 1` and `DirAuthority` lines: run a
    /// [`super::dircache::DirCache`] mirroring the authorities and serve from it.
    pub auto_dir_cache: bool,
    /// With `PublishServerDescriptor` on and `DirAuthority` lines, upload our descriptor
    /// ([`super::publish`]).
    pub publish: bool,
}

impl std::fmt::Debug for RelayOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayOptions")
            .field("channel_queue_cells", &self.channel_queue_cells)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("handshake_workers", &self.handshake_workers)
            .field("extend_allow_private", &self.extend_allow_private)
            .field("exit_policy", &self.exit_policy)
            .field("key_policy", &self.key_policy)
            .field("dir_source", &self.dir_source.is_some())
            .field("auto_dir_cache", &self.auto_dir_cache)
            .field("publish", &self.publish)
            .finish()
    }
}

impl Default for RelayOptions {
    fn default() -> Self {
        RelayOptions {
            channel_queue_cells: 4096,
            handshake_timeout: super::channel::HANDSHAKE_TIMEOUT,
            handshake_workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            extend_allow_private: None,
            exit_policy: None,
            key_policy: KeyPolicy::default(),
            dir_source: None,
            auto_dir_cache: true,
            publish: true,
        }
    }
}

/// What changes at a key rotation: swapped under a lock, read when a channel or handshake
/// starts.
pub(crate) struct Current {
    pub(crate) ntor_public: X25519Public,
    pub(crate) tls: Arc<rustls::ServerConfig>,
    pub(crate) link: Arc<LinkIdentity>,
    pub(crate) onion: Arc<OnionKeys>,
}

impl Current {
    fn from_keys(keys: &RelayKeys) -> Result<Current, RelayError> {
        Ok(Current {
            ntor_public: X25519Public::from(keys.ntor_onion_secret()),
            tls: tls::server_config(keys.tls_cert_der(), keys.tls_key())?,
            link: Arc::new(keys.link_identity()),
            onion: Arc::new(OnionKeys {
                ntor: keys.ntor_keys(),
                ntor_v3: keys.ntor_v3_keys(),
            }),
        })
    }
}

/// State every task shares.
pub(crate) struct Shared {
    pub(crate) current: Arc<RwLock<Arc<Current>>>,
    pub(crate) opts: RelayOptions,
    pub(crate) my_addrs: Vec<IpAddr>,
    /// What BEGIN_DIR streams are answered from (`None`: END NOTDIRECTORY).
    pub(crate) dir_source: Option<Arc<dyn DirSource>>,
    pub(crate) shutdown: watch::Receiver<bool>,
    /// One clone per live task; shutdown waits for the count to fall back to one.
    pub(crate) tasks: Arc<()>,
}

impl Shared {
    pub(crate) fn current(&self) -> Arc<Current> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Spawns a task that stops at shutdown and is counted until it ends.
    pub(crate) fn spawn<F>(&self, fut: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let token = self.tasks.clone();
        let mut stop = self.shutdown.clone();
        tokio::spawn(async move {
            let _token = token;
            tokio::select! {
                _ = fut => {}
                _ = stop.wait_for(|s| *s) => {}
            }
        });
    }
}

/// A running relay.
pub struct RelayHandle {
    addrs: Vec<SocketAddr>,
    dir_addrs: Vec<SocketAddr>,
    rsa_id: RsaIdentity,
    ed_id: Ed25519Identity,
    ntor_onion_key: X25519Public,
    stop: watch::Sender<bool>,
    tasks: Arc<()>,
    current: Arc<RwLock<Arc<Current>>>,
    events: tokio::sync::mpsc::Sender<reactor::Event>,
}

impl std::fmt::Debug for RelayHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayHandle")
            .field("addrs", &self.addrs)
            .field("rsa_id", &self.rsa_id)
            .finish_non_exhaustive()
    }
}

impl RelayHandle {
    /// The bound ORPort addresses.
    pub fn or_addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// The bound DirPort addresses (none without `DirCache 1` and a directory source).
    pub fn dir_addrs(&self) -> &[SocketAddr] {
        &self.dir_addrs
    }

    /// The relay's RSA identity (its fingerprint).
    pub fn rsa_id(&self) -> RsaIdentity {
        self.rsa_id
    }

    /// The relay's Ed25519 identity.
    pub fn ed_id(&self) -> Ed25519Identity {
        self.ed_id
    }

    /// The ntor onion public key the relay had at start.
    pub fn ntor_onion_key(&self) -> X25519Public {
        self.ntor_onion_key
    }

    /// The current ntor onion public key (changes at an onion-key rotation).
    pub fn current_ntor_onion_key(&self) -> X25519Public {
        match self.current.read() {
            Ok(g) => g.ntor_public,
            Err(p) => p.into_inner().ntor_public,
        }
    }

    /// Counts of channels, circuits and streams (`None` if the reactor has stopped).
    pub async fn stats(&self) -> Option<RelayStats> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.events.send(reactor::Event::Stats(tx)).await.ok()?;
        rx.await.ok()
    }

    /// Closes every circuit at this relay with `reason` (DESTROY goes both ways).
    pub async fn close_all_circuits(&self, reason: crate::cell::DestroyReason) {
        let _ = self.events.send(reactor::Event::CloseAll(reason)).await;
    }

    /// Tasks still running (including none of the caller's).
    pub fn live_tasks(&self) -> usize {
        Arc::strong_count(&self.tasks) - 1
    }

    /// Stops every task and waits (up to 10 s) until all have ended; returns how many were
    /// still running then (0 on a clean stop).
    pub async fn shutdown(self) -> usize {
        let _ = self.stop.send(true);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while Arc::strong_count(&self.tasks) > 1 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let left = Arc::strong_count(&self.tasks) - 1;
        if left > 0 {
            tracing::warn!(left, "tasks still running after shutdown");
        }
        left
    }
}

/// The relay runtime.
#[derive(Debug)]
pub struct Relay;

impl Relay {
    /// Starts a relay from its configuration (must be called inside a tokio runtime).
    pub async fn start(config: RelayConfig) -> Result<RelayHandle, RelayError> {
        Self::start_with(config, RelayOptions::default()).await
    }

    /// Starts a relay with explicit runtime options.
    pub async fn start_with(
        config: RelayConfig,
        opts: RelayOptions,
    ) -> Result<RelayHandle, RelayError> {
        let data_dir = config
            .common
            .data_directory
            .clone()
            .ok_or_else(|| RelayError::Config("a relay needs a DataDirectory".into()))?;
        let nickname = config
            .common
            .nickname
            .clone()
            .unwrap_or_else(|| "Unnamed".into());
        let policy = opts.key_policy.clone();
        let (dir, keys) = tokio::task::spawn_blocking(move || {
            let dir = RelayKeyDir::open(data_dir)?;
            let keys = dir.load_or_create(&nickname, policy, SystemTime::now(), &mut OsRng)?;
            Ok::<_, RelayKeysError>((dir, keys))
        })
        .await
        .map_err(|e| RelayError::Internal(e.to_string()))??;
        let current = Current::from_keys(&keys)?;

        let mut listeners = Vec::new();
        for p in &config.or_ports {
            if p.flags.no_listen {
                continue;
            }
            let Some(addr) = p.addr.socket_addr(IpAddr::V4(Ipv4Addr::UNSPECIFIED)) else {
                continue;
            };
            match bind_listener(addr) {
                Ok(l) => listeners.push(l),
                Err(source) if !listeners.is_empty() || addr.is_ipv6() => {
                    tracing::warn!(%addr, error = %source, "cannot listen; skipping this ORPort");
                }
                Err(source) => return Err(RelayError::Bind { addr, source }),
            }
        }
        if listeners.is_empty() {
            return Err(RelayError::Config("no ORPort to listen on".into()));
        }
        let addrs: Vec<SocketAddr> = listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect();
        let mut my_addrs: Vec<IpAddr> = config
            .addresses
            .iter()
            .filter_map(|a| a.parse::<IpAddr>().ok())
            .collect();
        for a in &addrs {
            if !a.ip().is_unspecified() && !my_addrs.contains(&a.ip()) {
                my_addrs.push(a.ip());
            }
        }

        let mut ccfg = CircuitConfig::new(keys.rsa_id(), keys.ed_id());
        ccfg.extend_allow_private = opts
            .extend_allow_private
            .unwrap_or(config.common.testing_tor_network);
        ccfg.exit_policy = opts
            .exit_policy
            .clone()
            .unwrap_or_else(|| ExitPolicy::from_config(&config));
        let dirs = dir::setup(&config, &opts)?;
        ccfg.dir_cache = dirs.source.is_some();
        let dir_addrs = dirs.addrs.clone();

        let (stop, shutdown) = watch::channel(false);
        let tasks = Arc::new(());
        let current = Arc::new(RwLock::new(Arc::new(current)));
        let shared = Arc::new(Shared {
            current: current.clone(),
            opts,
            my_addrs,
            dir_source: dirs.source.clone(),
            shutdown,
            tasks: tasks.clone(),
        });
        let events = reactor::spawn(shared.clone(), ccfg);
        let handle = RelayHandle {
            addrs: addrs.clone(),
            dir_addrs: dir_addrs.clone(),
            rsa_id: keys.rsa_id(),
            ed_id: keys.ed_id(),
            ntor_onion_key: X25519Public::from(keys.ntor_onion_secret()),
            stop,
            tasks,
            current,
            events: events.clone(),
        };
        tracing::info!(
            fingerprint = %keys.rsa_id().to_hex(),
            ?addrs,
            "relay listening"
        );

        for l in listeners {
            let (shared2, events2) = (shared.clone(), events.clone());
            shared.spawn(chan::accept_loop(l, shared2, events2));
        }
        let keys = Arc::new(std::sync::Mutex::new(keys));
        dir::spawn(dirs, &config, &shared, &keys, &addrs, handle.rsa_id);
        let shared2 = shared.clone();
        shared.spawn(rotation_loop(dir, keys, shared2));
        Ok(handle)
    }
}

/// Binds an ORPort: SO_REUSEADDR (a restarted relay gets its port back at once) and, as C
/// tor does, IPV6_V6ONLY on IPv6 sockets (so `[::]:9001` and `0.0.0.0:9001` can coexist).
fn bind_listener(addr: SocketAddr) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    s.set_reuse_address(true)?;
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    s.listen(1024)?;
    TcpListener::from_std(s.into())
}

/// Sleeps until the next rotation, rotates, and swaps what changed.
async fn rotation_loop(
    dir: RelayKeyDir,
    keys: Arc<std::sync::Mutex<RelayKeys>>,
    shared: Arc<Shared>,
) {
    loop {
        let next = match keys.lock() {
            Ok(k) => k.next_rotation(),
            Err(_) => return,
        };
        let wait = next
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO)
            .clamp(Duration::from_secs(1), Duration::from_secs(3600));
        tokio::time::sleep(wait).await;
        let (dir2, keys2) = (dir.clone(), keys.clone());
        let res = tokio::task::spawn_blocking(move || {
            let mut k = keys2
                .lock()
                .map_err(|_| RelayError::Internal("key lock poisoned".into()))?;
            let report = dir2.rotate(&mut k, SystemTime::now(), &mut OsRng)?;
            let cur = if report.any() {
                Some(Current::from_keys(&k)?)
            } else {
                None
            };
            Ok::<_, RelayError>(cur)
        })
        .await;
        match res {
            Ok(Ok(Some(cur))) => {
                tracing::debug!("keys rotated; new channels and handshakes use them");
                if let Ok(mut g) = shared.current.write() {
                    *g = Arc::new(cur);
                }
            }
            Ok(Ok(None)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "key rotation failed; retrying later"),
            Err(e) => tracing::warn!(error = %e, "key rotation task failed"),
        }
    }
}

/// Wraps a future in a tracing span.
pub(crate) fn in_span<F: std::future::Future>(
    span: tracing::Span,
    fut: F,
) -> tracing::instrument::Instrumented<F> {
    fut.instrument(span)
}
