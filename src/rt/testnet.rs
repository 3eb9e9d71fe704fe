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

mod http;
mod torrc;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use http::start_http;
pub use http::HTTP_BODY;
pub use torrc::fresh_temp_dir;
use torrc::{authority_torrc, load, node_torrc, pre_keygen, reserve_port, write_private_dir};

use super::dirauth::keygen_authority;
use super::node::{NodeError, RelayNode};
use super::tor_client::{TorClient, TorClientError, TorClientHandle};
use crate::config::{ClientConfig, ConfigError, Daemon, RelayConfig};
use crate::dir::doc::consensus::{Consensus, Flavor};
use crate::dir::flags::RelayFlags;

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
            None => (fresh_temp_dir(), true),
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
        let iv = opts.voting_interval.max(10);
        let auth_text = authority_torrc(&base, auth_or, auth_dir, iv, &names[..opts.exits]);
        let pre_text = pre_keygen(&auth_text);
        std::fs::write(&auth_path, pre_text)?;
        let pre: RelayConfig = load(Daemon::Relay, &auth_path)?;
        let line = tokio::task::spawn_blocking(move || keygen_authority(&pre))
            .await
            .map_err(|e| TestnetError::Keygen(e.to_string()))?
            .map_err(|e| TestnetError::Keygen(e.to_string()))?;
        tracing::info!("authority keys ready: {line}");
        std::fs::write(&auth_path, format!("{auth_text}{line}\n"))?;
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

        // From here on, a failure stops what was started.
        let mut net_partial = Partial {
            authority: Some(authority),
            relays: Vec::new(),
            http: None,
        };
        let more = async {
            for (i, (name, port)) in names.iter().zip(&relay_ports).enumerate() {
                let exit = i < opts.exits;
                let path = base.join(format!("{name}.torrc"));
                let role = if exit { "exit relay" } else { "relay" };
                let text = format!(
                    "{}{line}\n",
                    node_torrc(role, name, &base.join(name), *port, exit)
                );
                std::fs::write(&path, &text)?;
                let cfg: RelayConfig = load(Daemon::Relay, &path)?;
                let node = RelayNode::start(cfg)
                    .await
                    .map_err(|source| TestnetError::Node {
                        name: name.clone(),
                        source,
                    })?;
                tracing::info!("{role} {name} started (ORPort 127.0.0.1:{port})");
                net_partial.relays.push(NetNode {
                    name: name.clone(),
                    torrc: path,
                    exit,
                    node,
                });
            }
            if let Some(p) = opts.http_port {
                net_partial.http = Some(start_http(p).await?);
            }
            Ok::<_, TestnetError>(())
        }
        .await;
        if let Err(e) = more {
            net_partial.stop().await;
            return Err(e);
        }
        let consensus_wait = Duration::from_secs(u64::from(iv) * 6);
        if let Err(e) = net_partial.wait_listed(consensus_wait).await {
            net_partial.stop().await;
            return Err(e);
        }
        tracing::info!("the consensus lists every relay; starting the client");

        let client_torrc = base.join("client.torrc");
        let text = torrc::client_torrc(&base.join("client"), socks_port, &line);
        let started = async {
            std::fs::write(&client_torrc, text)?;
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
