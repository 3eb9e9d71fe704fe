//! [`TorClient`]: the Tor client runtime — bootstrap (directory fetches, cache, progress
//! logged as C tor's `Bootstrapped N% (tag): summary` notices), circuits
//! ([`crate::rt::circmgr`]), streams, and the SOCKS side ([`SocksHandler`]).
//!
//! Tasks: the directory task (`dirtask`: [`crate::client::dirmgr::DirMgr`]'s fetches over
//! one-hop BEGIN_DIR circuits), the circuit task (once the directory is good enough: the
//! first 3-hop circuit, reported as phases 80–100, then preemptive circuits every second),
//! and one task per SOCKS listener ([`TorClientHandle::serve_socks`]).
//!
//! State on disk (in `DataDirectory`, when configured): `cached-microdesc-consensus`,
//! `cached-certs`, `cached-microdescs` (loaded and re-verified at start, rewritten
//! atomically after new verified data) and `state` (guards). Without a `DataDirectory`
//! nothing is cached (C tor would use `~/.tor`).
//!
//! Phases 5–20 are reported around the first one-hop circuit and 80–95 just before the
//! first exit circuit's build (the circuit layer does not report its handshake steps), so
//! those lines come in bursts rather than spread over the work as in C tor.
//!
//! Not here: onion services (`.onion` requests answer `OnionUnsupported`), UDP forwards
//! (a later stage), the control port.

mod dirtask;
mod paths;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::client::dirmgr::{
    authorities, BootstrapPhase, CacheFile, DirMgr, DirMgrConfig, Progress,
};
use crate::client::guards::GuardConfig;
use crate::config::{ClientConfig, SocksPortConfig};
use crate::rt::circmgr::{CircMgr, CircMgrConfig, CircMgrError};
use crate::rt::client::{self as rtclient, ChannelPool};
use crate::rt::socks::{
    BoxFuture, ConnectRequest, ResolveRequest, SocksFailure, SocksHandler, SocksOptions,
    SocksStream,
};
use crate::socks::{IsolationKey, TargetAddr};

/// A client runtime failure.
#[derive(Debug, thiserror::Error)]
pub enum TorClientError {
    /// The data directory could not be created or read.
    #[error("data directory: {0}")]
    DataDir(std::io::Error),
    /// No v3 directory authority is configured.
    #[error("no v3 directory authority configured")]
    NoAuthorities,
    /// A SOCKS listener could not be opened.
    #[error("SOCKS listener: {0}")]
    Socks(std::io::Error),
    /// A directory fetch failed.
    #[error("directory fetch: {0}")]
    Directory(String),
    /// A circuit could not be built.
    #[error("{0}")]
    Circuit(#[from] CircMgrError),
}

/// State shared by the client's tasks.
pub(crate) struct Shared {
    dirmgr: Mutex<DirMgr>,
    circmgr: CircMgr<IsolationKey>,
    paths: Arc<paths::NetPaths>,
    progress: watch::Sender<Progress>,
    data_dir: Option<PathBuf>,
    shutdown: watch::Sender<bool>,
    /// Consensus fetches started (for tests of the cache).
    consensus_fetches: std::sync::atomic::AtomicU64,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Writes `bytes` to `path` through a temporary file and a rename (readers see the old or
/// the new contents, never a mix).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// The Tor client.
#[derive(Debug)]
pub struct TorClient;

impl TorClient {
    /// Starts the client: loads the cache, starts bootstrapping and the circuit manager.
    /// SOCKS listeners are opened with [`TorClientHandle::serve_socks`].
    pub async fn start(config: ClientConfig) -> Result<TorClientHandle, TorClientError> {
        let auths = authorities(&config.common.dir_authorities);
        if auths.is_empty() {
            return Err(TorClientError::NoAuthorities);
        }
        let data_dir = config.common.data_directory.clone();
        if let Some(d) = &data_dir {
            std::fs::create_dir_all(d).map_err(TorClientError::DataDir)?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700))
                    .map_err(TorClientError::DataDir)?;
            }
        }
        let mut dm = DirMgr::new(DirMgrConfig {
            authorities: auths,
            testing: config.common.testing_tor_network,
            paths_needed: config.paths_needed,
        });
        let start = Progress {
            phase: BootstrapPhase::Starting,
            percent: 0,
        };
        tracing::info!("{}", start.log_line());
        if let Some(d) = &data_dir {
            let read = |f: CacheFile| std::fs::read_to_string(d.join(f.name())).ok();
            let loaded = dm.load_cache(
                read(CacheFile::Consensus).as_deref(),
                read(CacheFile::Certs).as_deref(),
                read(CacheFile::Microdescs).as_deref(),
                unix_now(),
                &mut StdRng::from_entropy(),
            );
            if loaded {
                tracing::info!(
                    "Loaded a cached consensus and {} microdescriptors",
                    dm.n_microdescs()
                );
            }
        }
        let guard_cfg = GuardConfig {
            use_entry_guards: config.use_entry_guards,
            num_entry_guards: config.num_entry_guards,
            ..GuardConfig::default()
        };
        let paths = Arc::new(paths::NetPaths::new(
            guard_cfg,
            data_dir.as_ref().map(|d| d.join("state")),
        ));
        if dm.have_enough_dir_info(unix_now()) {
            if let Some(nd) = dm.netdir() {
                paths.set_netdir(nd);
            }
        }
        let circ_cfg = CircMgrConfig {
            max_dirtiness: Duration::from_secs(config.max_circuit_dirtiness),
            ..CircMgrConfig::default()
        };
        let circmgr = CircMgr::new(ChannelPool::new(), paths.clone(), circ_cfg);
        let (progress, _) = watch::channel(start);
        let (shutdown, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            dirmgr: Mutex::new(dm),
            circmgr,
            paths,
            progress,
            data_dir,
            shutdown,
            consensus_fetches: Default::default(),
        });
        let tasks = vec![
            tokio::spawn(dirtask::run(shared.clone(), shared.shutdown.subscribe())),
            tokio::spawn(circuit_task(shared.clone())),
        ];
        Ok(TorClientHandle {
            shared,
            tasks: Mutex::new(tasks),
        })
    }
}

/// Once the directory is good enough: the first circuit (bootstrap 80–100), then
/// preemptive circuits every second.
async fn circuit_task(shared: Arc<Shared>) {
    let mut stop = shared.shutdown.subscribe();
    let wait_dir = async {
        while !shared.paths.has_netdir() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::select! {
        () = wait_dir => {}
        _ = stop.wait_for(|s| *s) => return,
    }
    dirtask::report(&shared);
    for p in [
        BootstrapPhase::ApConn,
        BootstrapPhase::ApConnDone,
        BootstrapPhase::ApHandshake,
        BootstrapPhase::ApHandshakeDone,
        BootstrapPhase::CircuitCreate,
    ] {
        dirtask::phase(&shared, p);
    }
    loop {
        let built = tokio::select! {
            r = shared.circmgr.build_circuit_timed(None) => r,
            _ = stop.wait_for(|s| *s) => return,
        };
        match built {
            Ok((circ, took)) => {
                tracing::debug!("first circuit built in {took:?}");
                circ.close();
                break;
            }
            Err(e) => {
                tracing::info!("Failed to build the first circuit: {e}; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
    dirtask::phase(&shared, BootstrapPhase::Done);
    tokio::select! {
        () = shared.circmgr.clone().maintain_loop() => {}
        _ = stop.wait_for(|s| *s) => {}
    }
}

/// A running client (dropping it does not stop it: call [`TorClientHandle::shutdown`]).
pub struct TorClientHandle {
    shared: Arc<Shared>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for TorClientHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TorClientHandle")
            .field("progress", &*self.shared.progress.borrow())
            .finish_non_exhaustive()
    }
}

impl TorClientHandle {
    /// The bootstrap progress, updated as it moves.
    pub fn progress(&self) -> watch::Receiver<Progress> {
        self.shared.progress.subscribe()
    }

    /// Waits until bootstrap reaches 100 %.
    pub async fn bootstrapped(&self) {
        let mut rx = self.progress();
        let _ = rx.wait_for(|p| p.percent >= 100).await;
    }

    /// The circuit manager.
    pub fn circuits(&self) -> &CircMgr<IsolationKey> {
        &self.shared.circmgr
    }

    /// Builds one exit circuit on a fresh path and returns how long the build took (for
    /// benchmarks); the circuit is closed.
    pub async fn build_circuit_timed(&self) -> Result<Duration, TorClientError> {
        let (circ, took) = self.shared.circmgr.build_circuit_timed(None).await?;
        circ.close();
        Ok(took)
    }

    /// Whether a consensus is loaded, and its valid-after time.
    pub fn consensus_valid_after(&self) -> Option<u64> {
        lock(&self.shared.dirmgr).consensus().map(|c| c.valid_after)
    }

    /// Fetches a directory document (`/tor/...`) over a one-hop BEGIN_DIR circuit to a
    /// directory guard, as the directory task does once bootstrapped.
    pub async fn fetch_directory(&self, path: &str) -> Result<Vec<u8>, TorClientError> {
        let circ = self.shared.circmgr.dir_circuit().await?;
        let opts = crate::rt::dirclient::FetchOptions {
            timeout: Duration::from_secs(60),
            ..Default::default()
        };
        crate::rt::dirclient::fetch_begin_dir(&circ, path, &opts)
            .await
            .map_err(|e| TorClientError::Directory(e.to_string()))
    }

    /// Consensus fetches started since the client started.
    pub fn consensus_fetches(&self) -> u64 {
        self.shared
            .consensus_fetches
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The SOCKS handler of this client.
    pub fn socks_handler(&self) -> Arc<dyn SocksHandler> {
        Arc::new(ClientSocks(self.shared.clone()))
    }

    /// Opens the SOCKS listeners (`SocksPort` lines; none: 127.0.0.1:9050) and serves them
    /// until shutdown. Returns the addresses bound.
    pub async fn serve_socks(
        &self,
        ports: &[SocksPortConfig],
    ) -> Result<Vec<SocketAddr>, TorClientError> {
        let default;
        let ports = if ports.is_empty() {
            default = [SocksPortConfig {
                addr: crate::config::ListenAddr::Port {
                    addr: None,
                    port: 9050,
                },
                isolate_client_addr: true,
                isolate_socks_auth: true,
                isolate_client_protocol: true,
                isolate_dest_port: false,
                isolate_dest_addr: false,
                keep_alive_isolate_socks_auth: false,
                session_group: None,
                extended_errors: false,
                onion_traffic_only: false,
            }];
            &default[..]
        } else {
            ports
        };
        let mut out = Vec::new();
        for (i, p) in ports.iter().enumerate() {
            if p.addr == crate::config::ListenAddr::Disabled {
                continue;
            }
            let l = crate::rt::socks::bind(p)
                .await
                .map_err(TorClientError::Socks)?;
            out.push(l.local_addr().map_err(TorClientError::Socks)?);
            let opts = SocksOptions::new(*p, i as u32);
            let h = self.socks_handler();
            let stop = self.shared.shutdown.subscribe();
            let t = tokio::spawn(async move {
                if let Err(e) = crate::rt::socks::serve(l, h, opts, stop).await {
                    tracing::warn!("SOCKS listener failed: {e}");
                }
            });
            lock(&self.tasks).push(t);
        }
        Ok(out)
    }

    /// Stops every task, closes circuits and channels.
    pub async fn shutdown(&self) {
        self.shared.shutdown.send_replace(true);
        self.shared.circmgr.shutdown().await;
        let tasks: Vec<JoinHandle<()>> = std::mem::take(&mut *lock(&self.tasks));
        for t in tasks {
            if tokio::time::timeout(Duration::from_secs(5), t)
                .await
                .is_err()
            {
                tracing::debug!("a client task did not stop in time");
            }
        }
    }
}

/// The [`SocksHandler`] over the circuit manager.
struct ClientSocks(Arc<Shared>);

/// The SOCKS failure for a circuit-manager error (END reasons pass through).
fn failure(e: &CircMgrError) -> SocksFailure {
    match e {
        CircMgrError::Stream(rtclient::Error::StreamEnded(r)) => SocksFailure::End(*r),
        CircMgrError::Stream(rtclient::Error::StreamTimeout) => SocksFailure::Timeout,
        CircMgrError::Stream(rtclient::Error::ResolveFailed) => SocksFailure::ResolveFailed,
        CircMgrError::NoPath(_) | CircMgrError::BuildFailed { .. } => SocksFailure::CantAttach,
        CircMgrError::Stream(_) => SocksFailure::CantAttach,
        CircMgrError::ShutDown => SocksFailure::Internal,
    }
}

impl ClientSocks {
    /// Waits for bootstrap (streams wait for it in C tor too).
    async fn ready(&self) {
        let mut rx = self.0.progress.subscribe();
        let _ = rx.wait_for(|p| p.percent >= 100).await;
    }
}

impl SocksHandler for ClientSocks {
    fn connect(&self, req: ConnectRequest) -> BoxFuture<'_, Result<SocksStream, SocksFailure>> {
        Box::pin(async move {
            if req.target.is_onion() {
                return Err(SocksFailure::OnionUnsupported);
            }
            self.ready().await;
            let host = req.target.host();
            let port = req.target.port();
            match self.0.circmgr.connect(&host, port, &req.isolation).await {
                Ok(s) => Ok(Box::new(s) as SocksStream),
                Err(e) => {
                    tracing::info!("stream to port {port} failed: {e}");
                    Err(failure(&e))
                }
            }
        })
    }

    fn resolve(
        &self,
        req: ResolveRequest,
    ) -> BoxFuture<'_, Result<Vec<std::net::IpAddr>, SocksFailure>> {
        Box::pin(async move {
            if req.target.is_onion() {
                return Err(SocksFailure::OnionUnsupported);
            }
            self.ready().await;
            let host = req.target.host();
            self.0
                .circmgr
                .resolve(&host, &req.isolation)
                .await
                .map_err(|e| failure(&e))
        })
    }

    fn resolve_ptr(&self, req: ResolveRequest) -> BoxFuture<'_, Result<String, SocksFailure>> {
        Box::pin(async move {
            let TargetAddr::Ip(addr) = req.target else {
                return Err(SocksFailure::ResolveFailed);
            };
            self.ready().await;
            let names = self
                .0
                .circmgr
                .resolve_ptr(addr.ip(), &req.isolation)
                .await
                .map_err(|e| failure(&e))?;
            names.into_iter().next().ok_or(SocksFailure::ResolveFailed)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relaycell::EndReason;

    #[test]
    fn socks_failures_keep_end_reasons() {
        let end = |r| CircMgrError::Stream(rtclient::Error::StreamEnded(r));
        assert_eq!(
            failure(&end(EndReason::CONNECTREFUSED)),
            SocksFailure::End(EndReason::CONNECTREFUSED)
        );
        assert_eq!(
            failure(&end(EndReason::EXITPOLICY)),
            SocksFailure::End(EndReason::EXITPOLICY)
        );
        assert_eq!(
            failure(&CircMgrError::Stream(rtclient::Error::StreamTimeout)),
            SocksFailure::Timeout
        );
        assert_eq!(
            failure(&CircMgrError::Stream(rtclient::Error::ResolveFailed)),
            SocksFailure::ResolveFailed
        );
        assert_eq!(
            failure(&CircMgrError::NoPath("none".into())),
            SocksFailure::CantAttach
        );
        assert_eq!(failure(&CircMgrError::ShutDown), SocksFailure::Internal);
    }

    #[test]
    fn atomic_write_replaces_the_file() {
        let dir = std::env::temp_dir().join(format!("og-atomic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("cached-certs");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert!(!p.with_extension("tmp").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
