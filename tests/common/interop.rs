//! Our relays (`rt::relay`) in a network of stock C tor processes (`ctornet`): started
//! in-process from torrc text through the normal config loader, publishing to the C tor
//! authorities named by the network's `DirAuthority` lines, optionally with a directory
//! cache that records every request it answers.
//!
//! ```ignore
//! let net = CTorNet::builder().start();
//! let rt = runtime();
//! let r = OurRelay::start(&rt, &dir, "ogGuard", &net.dir_authority_lines(), &[], false);
//! net.wait_for_relay(&r.fingerprint, &["Running", "Valid"], t).unwrap();
//! ```

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use oniongate::config::{merge, parse_torrc, Daemon, DaemonConfig as _, RelayConfig};
use oniongate::dir::doc::consensus::Flavor;
use oniongate::dir::serve::{DirAnswer, DirRequest, DirSource};
use oniongate::rt::dircache::{CacheAuthority, DirCache};
use oniongate::rt::dirclient::FetchOptions;
use oniongate::rt::node::RelayNode;
use oniongate::rt::relay::RelayOptions;

use super::ctor::TempDir;

/// Sends our relays' logs (`oniongate=info`, or `RUST_LOG`) to the test's captured output,
/// printed when the test fails: the publisher logs the authority's answer to each upload.
pub fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("oniongate=info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

/// A multi-threaded tokio runtime (2 workers) for our relays; the test thread stays free
/// to block on the C tor helpers.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// The torrc of one of our relays in a C tor test network: loopback ORPort, `Address
/// 127.0.0.1`, `TestingTorNetwork 1`, `DirCache 1`, `AssumeReachable 1`, no exit unless
/// `extra` says so, the network's `DirAuthority` lines.
pub fn relay_torrc(data: &Path, nickname: &str, auth_lines: &[String], extra: &[&str]) -> String {
    let mut t = vec![
        format!("Nickname {nickname}"),
        format!("DataDirectory {}", data.display()),
        "ORPort 127.0.0.1:auto".to_string(),
        "Address 127.0.0.1".into(),
        "TestingTorNetwork 1".into(),
        "DirCache 1".into(),
        "AssumeReachable 1".into(),
        "ContactInfo interop@example.invalid".into(),
    ];
    if !extra.iter().any(|l| l.starts_with("ExitRelay")) {
        t.push("ExitRelay 0".into());
    }
    t.extend(extra.iter().map(|l| l.to_string()));
    t.extend(auth_lines.iter().cloned());
    t.join("\n") + "\n"
}

/// Parses a relay torrc with the daemon's config loader.
pub fn relay_config(text: &str) -> RelayConfig {
    let entries = parse_torrc(text, "interop torrc").unwrap_or_else(|e| panic!("{e}\n{text}"));
    let merged = merge(Daemon::Relay, &[&entries]).unwrap_or_else(|e| panic!("{e}\n{text}"));
    RelayConfig::from_entries(&merged).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// A request our directory cache answered: what was asked and the status sent.
#[derive(Debug, Clone)]
pub struct Served {
    /// The parsed request.
    pub request: DirRequest,
    /// 200 for a document, else the short response's code.
    pub status: u16,
}

/// The relay's [`DirCache`] behind a recorder of every request it answers (BEGIN_DIR and
/// DirPort alike).
pub struct RecordingCache {
    /// The cache itself (its fetch loop runs on the relay's runtime).
    pub cache: Arc<DirCache>,
    served: Mutex<Vec<Served>>,
}

impl RecordingCache {
    /// Every request answered so far, in order.
    pub fn served(&self) -> Vec<Served> {
        self.served.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Waits (blocking the calling thread; the cache runs on the relay's runtime) until
    /// the cache holds a microdesc consensus listing at least `min_routers` routers and
    /// every microdescriptor it names. A cache started before the authority had a
    /// consensus backs off (5 s, 10 s, ...): a client asking meanwhile gets 404s and backs
    /// off in turn.
    pub fn wait_ready(&self, min_routers: usize, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            let routers = self
                .cache
                .consensus(Flavor::Microdesc)
                .map_or(0, |c| c.consensus.routers.len());
            let missing = self.cache.missing_microdescs().len();
            if routers >= min_routers && missing == 0 {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "our directory cache not ready within {timeout:?}: consensus with \
                     {routers} routers, {missing} microdescriptors missing"
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl DirSource for RecordingCache {
    fn get(&self, req: &DirRequest) -> DirAnswer {
        let answer = self.cache.get(req);
        let status = match &answer {
            DirAnswer::Document(_) => 200,
            DirAnswer::Status { code, .. } => *code,
        };
        if let Ok(mut s) = self.served.lock() {
            s.push(Served {
                request: req.clone(),
                status,
            });
        }
        answer
    }

    fn upload(&self, body: &[u8]) -> DirAnswer {
        self.cache.upload(body)
    }
}

/// One of our relays, running on a runtime the test owns.
pub struct OurRelay {
    /// Its nickname.
    pub nickname: String,
    /// Its RSA identity fingerprint, 40 upper-case hex digits.
    pub fingerprint: String,
    /// The running relay node (as the daemon runs it).
    pub node: RelayNode,
    /// The recording directory cache, if it was started with one.
    pub recorder: Option<Arc<RecordingCache>>,
}

impl OurRelay {
    /// Starts a relay configured by [`relay_torrc`] in `dir/<nickname>` the way the daemon
    /// does ([`RelayNode::start`]). With `record`, its directory cache (the same
    /// [`DirCache`] the relay would run by itself with `DirCache 1`) is wrapped in a
    /// [`RecordingCache`] ([`RelayNode::start_with`] and `RelayOptions::dir_source`);
    /// otherwise the relay runs its own. Either way the relay publishes its descriptor to
    /// the authorities itself.
    pub fn start(
        rt: &tokio::runtime::Runtime,
        dir: &TempDir,
        nickname: &str,
        auth_lines: &[String],
        extra: &[&str],
        record: bool,
    ) -> OurRelay {
        let data = dir.path().join(nickname);
        let config = relay_config(&relay_torrc(&data, nickname, auth_lines, extra));
        let mut recorder = None;
        let started = if record {
            let cache = DirCache::new(
                CacheAuthority::from_config(&config.common.dir_authorities),
                config.common.data_directory.clone(),
                FetchOptions::default(),
            );
            rt.spawn(cache.clone().run());
            let r = Arc::new(RecordingCache {
                cache,
                served: Mutex::new(Vec::new()),
            });
            let opts = RelayOptions {
                dir_source: Some(r.clone() as Arc<dyn DirSource>),
                ..RelayOptions::default()
            };
            recorder = Some(r);
            rt.block_on(RelayNode::start_with(config, opts))
        } else {
            rt.block_on(RelayNode::start(config))
        };
        let node = started.unwrap_or_else(|e| panic!("our relay {nickname} did not start: {e}"));
        OurRelay {
            nickname: nickname.to_string(),
            fingerprint: node.relay().rsa_id().to_hex(),
            node,
            recorder,
        }
    }

    /// `$FINGERPRINT`, as C tor's control port takes it in paths.
    pub fn path_id(&self) -> String {
        format!("${}", self.fingerprint)
    }
}
