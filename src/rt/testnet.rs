//! A whole Tor network on loopback, in one process: one directory authority, a few relays
//! (some of them exits allowed to reach loopback) and a client with a SOCKS port. This is
//! what `oniongate-testnet` (the README's first command) and the "own network" test run.
//!
//! Every node is started from a real torrc file written under a base directory (its own
//! `DataDirectory`, free loopback ports) and loaded through the normal configuration loader,
//! so the files work with `oniongate-relay -f` / `oniongate-client -f` (and mostly with
//! stock `tor -f`) by hand. The authority uses C tor's test-network settings
//! (`TestingTorNetwork 1`, fast voting as chutney's networks use; our authority also makes
//! early consensuses when its listing changes). Exits accept `127.0.0.0/8` first and then
//! tor's default exit policy, so that their microdescriptor policy summary is not
//! reject-all (a loopback-only policy summarizes to `reject 1-65535`, dir-spec §3.8.2).
//!
//! Not here: C tor nodes (tests/common/ctornet.rs runs those), several authorities.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

use super::dirauth::keygen_authority;
use super::node::{NodeError, RelayNode};
use super::tor_client::{TorClient, TorClientError, TorClientHandle};
use crate::config::cli::Invocation;
use crate::config::{ClientConfig, ConfigError, Daemon, DaemonConfig, RelayConfig};
use crate::dir::doc::consensus::{Consensus, Flavor};
use crate::dir::flags::RelayFlags;

/// C tor's default exit policy after the configured rules (tor(1) `ExitPolicy`), as chutney
/// exits fall through to it.
const DEFAULT_EXIT_TAIL: &str = "reject *:25,reject *:119,reject *:135-139,reject *:445,\
reject *:563,reject *:1214,reject *:4661-4666,reject *:6346-6429,reject *:6699,\
reject *:6881-6999,accept *:*";

/// The page the optional loopback HTTP server answers every request with.
pub const HTTP_BODY: &[u8] = b"Hello from the Oniongate local test network!\n";

/// What to start.
#[derive(Clone, Debug)]
pub struct LocalNetOptions {
    /// Base directory for torrcs and data directories; `None`: a fresh temporary one,
    /// removed at shutdown.
    pub dir: Option<PathBuf>,
    /// Relays besides the authority (default 4).
    pub relays: usize,
    /// How many of them are exits (default 2).
    pub exits: usize,
    /// The client's SOCKS port on 127.0.0.1 (0: a free one).
    pub socks_port: u16,
    /// Start a loopback HTTP server on this port (0: a free one) answering [`HTTP_BODY`].
    pub http_port: Option<u16>,
    /// The authority's voting interval, seconds (`V3AuthVotingInterval`).
    pub voting_interval: u32,
}

impl Default for LocalNetOptions {
    fn default() -> Self {
        LocalNetOptions {
            dir: None,
            relays: 4,
            exits: 2,
            socks_port: 0,
            http_port: None,
            voting_interval: 20,
        }
    }
}

/// Why the network could not start or did not come up.
#[derive(Debug, thiserror::Error)]
pub enum TestnetError {
    /// Files or ports.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A torrc we wrote did not load.
    #[error("{path}: {source}")]
    Config {
        /// The torrc.
        path: PathBuf,
        /// Why.
        source: Box<ConfigError>,
    },
    /// `exits` is larger than `relays`, or similar.
    #[error("options: {0}")]
    Options(String),
    /// The authority keys could not be made.
    #[error("authority keys: {0}")]
    Keygen(String),
    /// A relay node failed to start.
    #[error("node {name}: {source}")]
    Node {
        /// The node's nickname.
        name: String,
        /// Why.
        source: NodeError,
    },
    /// The client failed to start.
    #[error("client: {0}")]
    Client(#[from] TorClientError),
    /// Something did not happen in time.
    #[error("timed out waiting for {0}")]
    Timeout(String),
}

/// One relay node of the network and its torrc.
#[derive(Debug)]
pub struct NetNode {
    /// Nickname.
    pub name: String,
    /// The torrc it was loaded from.
    pub torrc: PathBuf,
    /// Whether it is configured as an exit.
    pub exit: bool,
    /// The running node.
    pub node: RelayNode,
}

/// A running local network.
#[derive(Debug)]
pub struct LocalNet {
    base: PathBuf,
    remove_base: bool,
    dir_authority_line: String,
    authority: NetNode,
    relays: Vec<NetNode>,
    client: TorClientHandle,
    client_torrc: PathBuf,
    socks: SocketAddr,
    http: Option<(SocketAddr, watch::Sender<bool>)>,
}

/// A free loopback port (the listener is kept until all ports are chosen, so the ports
/// are distinct).
fn reserve_port(held: &mut Vec<std::net::TcpListener>) -> std::io::Result<u16> {
    let l = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    let port = l.local_addr()?.port();
    held.push(l);
    Ok(port)
}

fn load<C: DaemonConfig>(daemon: Daemon, path: &Path) -> Result<C, TestnetError> {
    Invocation {
        daemon,
        torrc: Some(path.to_path_buf()),
        overrides: Vec::new(),
    }
    .load::<C>()
    .map_err(|source| TestnetError::Config {
        path: path.to_path_buf(),
        source: Box::new(source),
    })
}

fn write_private_dir(p: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(p)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// The lines every relay node's torrc starts with.
fn relay_torrc(role: &str, name: &str, data: &Path, or_port: u16) -> String {
    format!(
        "# Oniongate local test network: {role}\n\
         Nickname {name}\n\
         DataDirectory {}\n\
         Address 127.0.0.1\n\
         ORPort 127.0.0.1:{or_port}\n\
         ContactInfo oniongate-testnet\n\
         TestingTorNetwork 1\n\
         AssumeReachable 1\n",
        data.display()
    )
}

impl LocalNet {
    /// Writes the torrcs, generates the authority keys, starts the authority, the relays and
    /// the client (after the authority's consensus lists every relay Running and Valid and
    /// the exits Exit, so the client's first consensus is complete). Use
    /// [`LocalNet::wait_bootstrapped`] next.
    pub async fn start(opts: LocalNetOptions) -> Result<LocalNet, TestnetError> {
        if opts.exits > opts.relays || opts.relays < 2 {
            return Err(TestnetError::Options(format!(
                "need at least 2 relays and no more exits than relays (relays {}, exits {})",
                opts.relays, opts.exits
            )));
        }
        let (base, remove_base) = match &opts.dir {
            Some(d) => (d.clone(), false),
            None => {
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.subsec_nanos());
                let d = std::env::temp_dir().join(format!(
                    "oniongate-testnet-{}-{nanos:08x}",
                    std::process::id()
                ));
                (d, true)
            }
        };
        write_private_dir(&base)?;
        let mut held = Vec::new();
        let (auth_or, auth_dir) = (reserve_port(&mut held)?, reserve_port(&mut held)?);
        let relay_ports = (0..opts.relays)
            .map(|_| reserve_port(&mut held))
            .collect::<Result<Vec<_>, _>>()?;
        let socks_port = match opts.socks_port {
            0 => reserve_port(&mut held)?,
            p => p,
        };
        drop(held);
        let names: Vec<String> = (0..opts.relays)
            .map(|i| {
                if i < opts.exits {
                    format!("exit{}", i + 1)
                } else {
                    format!("relay{}", i + 1 - opts.exits)
                }
            })
            .collect();

        // The authority: keys first (through the daemon's own key command), then its line.
        let auth_path = base.join("auth.torrc");
        let mut auth_text = relay_torrc("directory authority", "auth", &base.join("auth"), auth_or);
        let iv = opts.voting_interval.max(10);
        let delay = (iv / 5).max(2);
        let exit_names = names[..opts.exits].join(",");
        let _ = write!(
            auth_text,
            "DirPort 127.0.0.1:{auth_dir}\n\
             AuthoritativeDirectory 1\n\
             V3AuthoritativeDirectory 1\n\
             ExitRelay 0\n\
             ExitPolicy reject *:*\n\
             V3AuthVotingInterval {iv}\n\
             V3AuthVoteDelay {delay}\n\
             V3AuthDistDelay {delay}\n\
             TestingV3AuthInitialVotingInterval {iv}\n\
             TestingV3AuthInitialVoteDelay {delay}\n\
             TestingV3AuthInitialDistDelay {delay}\n\
             TestingDirAuthVoteGuard *\n\
             TestingDirAuthVoteHSDir *\n"
        );
        if !exit_names.is_empty() {
            let _ = writeln!(auth_text, "TestingDirAuthVoteExit {exit_names}");
        }
        // The key command runs on the torrc without the test-network lines (they need the
        // DirAuthority line, which needs the keys); the final file replaces it.
        let pre_text: String = auth_text
            .lines()
            .filter(|l| {
                l.starts_with('#')
                    || [
                        "Nickname",
                        "DataDirectory",
                        "Address",
                        "ORPort",
                        "DirPort",
                        "ContactInfo",
                    ]
                    .iter()
                    .any(|k| l.starts_with(&format!("{k} ")))
            })
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(&auth_path, pre_text)?;
        let pre: RelayConfig = load(Daemon::Relay, &auth_path)?;
        let line = tokio::task::spawn_blocking(move || keygen_authority(&pre))
            .await
            .map_err(|e| TestnetError::Keygen(e.to_string()))?
            .map_err(|e| TestnetError::Keygen(e.to_string()))?;
        tracing::info!("authority keys ready: {line}");
        let _ = writeln!(auth_text, "{line}");
        std::fs::write(&auth_path, &auth_text)?;
        let auth_cfg: RelayConfig = load(Daemon::Relay, &auth_path)?;
        let node = RelayNode::start(auth_cfg)
            .await
            .map_err(|source| TestnetError::Node {
                name: "auth".into(),
                source,
            })?;
        let authority = NetNode {
            name: "auth".into(),
            torrc: auth_path,
            exit: false,
            node,
        };
        tracing::info!("authority started (DirPort 127.0.0.1:{auth_dir})");

        let mut relays = Vec::new();
        for (i, (name, port)) in names.iter().zip(&relay_ports).enumerate() {
            let exit = i < opts.exits;
            let path = base.join(format!("{name}.torrc"));
            let role = if exit { "exit relay" } else { "relay" };
            let mut text = relay_torrc(role, name, &base.join(name), *port);
            if exit {
                let _ = write!(
                    text,
                    "ExitRelay 1\nExitPolicyRejectPrivate 0\n\
                     ExitPolicy accept 127.0.0.0/8:*\nExitPolicy {DEFAULT_EXIT_TAIL}\n"
                );
            } else {
                text.push_str("ExitRelay 0\nExitPolicy reject *:*\n");
            }
            let _ = writeln!(text, "{line}");
            std::fs::write(&path, &text)?;
            let cfg: RelayConfig = load(Daemon::Relay, &path)?;
            let node = RelayNode::start(cfg)
                .await
                .map_err(|source| TestnetError::Node {
                    name: name.clone(),
                    source,
                })?;
            tracing::info!("{role} {name} started (ORPort 127.0.0.1:{port})");
            relays.push(NetNode {
                name: name.clone(),
                torrc: path,
                exit,
                node,
            });
        }

        let http = match opts.http_port {
            Some(p) => Some(start_http(p).await?),
            None => None,
        };

        let mut net_partial = Partial {
            authority: Some(authority),
            relays,
            http,
        };
        let consensus_wait = Duration::from_secs(u64::from(iv) * 6);
        if let Err(e) = net_partial.wait_listed(consensus_wait).await {
            net_partial.stop().await;
            return Err(e);
        }
        tracing::info!("the consensus lists every relay; starting the client");

        let client_torrc = base.join("client.torrc");
        let text = format!(
            "# Oniongate local test network: client\n\
             DataDirectory {}\n\
             SocksPort 127.0.0.1:{socks_port}\n\
             TestingTorNetwork 1\n\
             {line}\n",
            base.join("client").display()
        );
        std::fs::write(&client_torrc, text)?;
        let started = async {
            let ccfg: ClientConfig = load(Daemon::Client, &client_torrc)?;
            let ports = ccfg.socks_ports.clone();
            let client = TorClient::start(ccfg).await?;
            match client.serve_socks(&ports).await {
                Ok(addrs) => Ok((client, addrs)),
                Err(e) => {
                    client.shutdown().await;
                    Err(TestnetError::Client(e))
                }
            }
        }
        .await;
        let (client, addrs) = match started {
            Ok(x) => x,
            Err(e) => {
                net_partial.stop().await;
                return Err(e);
            }
        };
        let socks = addrs
            .first()
            .copied()
            .unwrap_or_else(|| SocketAddr::from((Ipv4Addr::LOCALHOST, socks_port)));
        let Partial {
            authority,
            relays,
            http,
        } = net_partial;
        let Some(authority) = authority else {
            return Err(TestnetError::Options("authority vanished".into()));
        };
        Ok(LocalNet {
            base,
            remove_base,
            dir_authority_line: line,
            authority,
            relays,
            client,
            client_torrc,
            socks,
            http,
        })
    }

    /// Waits until the client has bootstrapped (100 %).
    pub async fn wait_bootstrapped(&self, timeout: Duration) -> Result<Duration, TestnetError> {
        let t0 = Instant::now();
        tokio::time::timeout(timeout, self.client.bootstrapped())
            .await
            .map_err(|_| {
                let p = *self.client.progress().borrow();
                TestnetError::Timeout(format!("the client to bootstrap (at {p:?})"))
            })?;
        Ok(t0.elapsed())
    }

    /// The client's SOCKS address.
    pub fn socks_addr(&self) -> SocketAddr {
        self.socks
    }

    /// The `DirAuthority` line of the network's authority (for other torrcs).
    pub fn dir_authority_line(&self) -> &str {
        &self.dir_authority_line
    }

    /// The loopback HTTP server's address, when one was asked for.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http.as_ref().map(|(a, _)| *a)
    }

    /// The base directory.
    pub fn dir(&self) -> &Path {
        &self.base
    }

    /// The authority node.
    pub fn authority(&self) -> &NetNode {
        &self.authority
    }

    /// The relays (exits first).
    pub fn relays(&self) -> &[NetNode] {
        &self.relays
    }

    /// The client.
    pub fn client(&self) -> &TorClientHandle {
        &self.client
    }

    /// Every torrc, `(role, path)`, authority first and client last.
    pub fn torrcs(&self) -> Vec<(String, PathBuf)> {
        std::iter::once(&self.authority)
            .chain(&self.relays)
            .map(|n| (n.name.clone(), n.torrc.clone()))
            .chain(std::iter::once((
                "client".to_string(),
                self.client_torrc.clone(),
            )))
            .collect()
    }

    /// The authority's current microdesc consensus, parsed.
    pub fn consensus(&self) -> Option<Consensus> {
        current_consensus(&self.authority)
    }

    /// Stops the client, the relays, the authority and the HTTP server; removes the base
    /// directory if it was a temporary one.
    pub async fn shutdown(self) {
        self.client.shutdown().await;
        let mut p = Partial {
            authority: Some(self.authority),
            relays: self.relays,
            http: self.http,
        };
        p.stop().await;
        if self.remove_base {
            if let Err(e) = std::fs::remove_dir_all(&self.base) {
                tracing::warn!("cannot remove {}: {e}", self.base.display());
            }
        }
    }
}

fn current_consensus(auth: &NetNode) -> Option<Consensus> {
    let text = auth.node.authority()?.consensus(Flavor::Microdesc)?;
    Consensus::parse(&text).ok()
}

/// The nodes started so far (stopped on an error).
struct Partial {
    authority: Option<NetNode>,
    relays: Vec<NetNode>,
    http: Option<(SocketAddr, watch::Sender<bool>)>,
}

impl Partial {
    /// Waits until the authority's consensus lists every node Running and Valid, and the
    /// exits with Exit.
    async fn wait_listed(&self, timeout: Duration) -> Result<(), TestnetError> {
        let Some(auth) = &self.authority else {
            return Ok(());
        };
        let deadline = Instant::now() + timeout;
        let mut last = String::from("no consensus yet");
        loop {
            if let Some(c) = current_consensus(auth) {
                match missing(&c, auth, &self.relays) {
                    None => return Ok(()),
                    Some(m) => last = m,
                }
            }
            if Instant::now() >= deadline {
                return Err(TestnetError::Timeout(format!(
                    "the consensus to list every relay ({last})"
                )));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    async fn stop(&mut self) {
        if let Some((_, tx)) = self.http.take() {
            let _ = tx.send(true);
        }
        for n in self.relays.drain(..) {
            let left = n.node.shutdown().await;
            if left > 0 {
                tracing::warn!("{}: {left} tasks did not stop in time", n.name);
            }
        }
        if let Some(a) = self.authority.take() {
            a.node.shutdown().await;
        }
    }
}

/// What the consensus still lacks, or `None` when it lists everyone as wanted.
fn missing(c: &Consensus, auth: &NetNode, relays: &[NetNode]) -> Option<String> {
    let need = RelayFlags::RUNNING.union(RelayFlags::VALID);
    for n in std::iter::once(auth).chain(relays) {
        let id = n.node.relay().rsa_id();
        let Some(r) = c.routers.iter().find(|r| r.rsa_id == id) else {
            return Some(format!("{} not listed", n.name));
        };
        if !r.flags.contains(need) {
            return Some(format!("{} lacks Running/Valid", n.name));
        }
        if n.exit && !r.flags.contains(RelayFlags::EXIT) {
            return Some(format!("{} lacks Exit", n.name));
        }
    }
    None
}

/// Starts the loopback HTTP server; port 0 picks a free one.
async fn start_http(port: u16) -> std::io::Result<(SocketAddr, watch::Sender<bool>)> {
    let l = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
    let addr = l.local_addr()?;
    let (tx, mut rx) = watch::channel(false);
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = rx.changed() => return,
                a = l.accept() => {
                    if let Ok((s, _)) = a {
                        tokio::spawn(answer_http(s));
                    }
                }
            }
        }
    });
    Ok((addr, tx))
}

/// Reads a request head (up to 16 KiB, 10 s) and answers [`HTTP_BODY`].
async fn answer_http(mut s: tokio::net::TcpStream) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    let read = async {
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
            }
        }
    };
    if tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .is_err()
    {
        return;
    }
    let head = format!(
        "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        HTTP_BODY.len()
    );
    let _ = s.write_all(head.as_bytes()).await;
    let _ = s.write_all(HTTP_BODY).await;
    let _ = s.shutdown().await;
}
