//! Private networks of stock C tor processes on loopback, for tests and benchmarks:
//! 1–3 directory authorities, relays (some of them exits that may reach loopback) and
//! optional clients with a SocksPort and a ControlPort.
//!
//! ```ignore
//! let net = CTorNet::builder().authorities(1).relays(3).exits(1).client(true).start();
//! net.wait_for_consensus(4, Duration::from_secs(40)).unwrap();
//! net.client_bootstrapped(Duration::from_secs(40)).unwrap();
//! ```
//!
//! How the network is made fast (the settings of `shared/tools/ctor-testnet`, rewritten):
//! every torrc has `TestingTorNetwork 1` and `AssumeReachable 1`; the authorities vote Guard
//! and HSDir on every relay (`TestingDirAuthVoteGuard *`, `TestingDirAuthVoteHSDir *`) and
//! Exit on the exits; nobody parses GeoIP files. The voting interval is 10 s (tor's minimum
//! under TestingTorNetwork) with 2 s vote and distribution delays. Authority keys come from
//! a cache shared by all runs (RSA-3072 generation is slow; see `ctornet_node.rs`), relay
//! identities are made before the relays start. Once every descriptor is at the
//! authorities, the first vote is moved to 2 s later if it is not already due (new
//! `TestingV3AuthVotingStartOffset`, SIGHUP): the first consensus lists every relay, about
//! 6 s after the relays publish. Clients are started only after that consensus exists and
//! the relays cache every microdescriptor (a client started earlier backs off for 10–20 s
//! after its first 404s). [`CTorNet::timeline`] shows where the time went.
//!
//! Files: this one (the network, waiting and fetching helpers), `ctornet_build.rs` (the
//! builder and the launch sequence), `ctornet_node.rs` (one process, key generation),
//! `ctornet_io.rs` (control port, SOCKS5, HTTP, consensus parsing). Benchmarks include all
//! four and `ctor.rs` with `#[path]`.
//!
//! Exits: `ExitPolicy accept 127.0.0.1:*` alone summarizes to `reject 1-65535` in the
//! microdescriptor, and microdescriptor clients (C tor, Arti, ours) then never pick the
//! relay as an exit. So exits accept loopback first and then fall through to tor's default
//! exit policy (what chutney does); the harness only ever asks them for 127.0.0.1. The
//! policy lines are configurable with [`CTorNetBuilder::exit_policy`].
//!
//! Every process has its own directory under one [`TempDir`], its own free ports, logs at
//! notice level to `<dir>/notice.log` (stdout and stderr to `<dir>/stdout.log`), and is
//! killed when the [`CTorNet`] is dropped. Each torrc names this test process as
//! `__OwningControllerProcess`, so tor exits by itself (within ~15 s) even if the test
//! process is killed with SIGKILL. When a [`CTorNet`] is dropped during a panic, the tail
//! of every notice log is printed to stderr.
//!
//! Mixed networks:
//! - our relays or client with C tor authorities: put [`CTorNet::dir_authority_lines`] in
//!   our `RelayConfig`/`ClientConfig` as they are; [`CTorNet::wait_for_relay`] waits until
//!   the consensus lists one of ours with given flags.
//! - C tor relays and clients with our authority: give its line with
//!   [`CTorNetBuilder::dir_authority`] (with `authorities(0)` for no C tor authority at
//!   all, which skips the vote moving), [`CTorNetBuilder::consensus_from`] to name the
//!   DirPort to poll, then [`CTorNet::prepare_for_clients`] and [`CTorNet::add_client`].
//!   (Tried with a C tor authority of another `CTorNet` standing in for ours.)

use std::fs;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::ctor::{free_port, tor_binary, TempDir};
use super::ctornet_build::{unix_now, voting_offset_line};
use super::ctornet_io::{http_get, socks5_http_get};
use super::ctornet_node::{set_private, Ports, TAIL_LINES};
// Re-exported: tests use `common::ctornet::*` (each test crate uses a different part).
#[allow(unused_imports)]
pub use super::ctornet_build::CTorNetBuilder;
#[allow(unused_imports)]
pub use super::ctornet_io::{
    BuiltCircuit, ConsensusInfo, ConsensusRouter, Control, HttpServer, NetError, NetResult,
};
#[allow(unused_imports)]
pub use super::ctornet_node::{Node, Role};

/// Seconds between votes: tor's minimum under `TestingTorNetwork` (it must divide 1800).
pub const VOTING_INTERVAL: u32 = 10;
/// `V3AuthVoteDelay` and `V3AuthDistDelay`: tor's minimum under `TestingTorNetwork`.
pub(super) const VOTE_DELAY: u64 = 2;

/// A running private network of C tor processes; everything is killed on drop.
pub struct CTorNet {
    // Declared before `dir`: processes die before their directories are removed.
    pub(super) nodes: Vec<Node>,
    pub(super) dir: TempDir,
    pub(super) auth_lines: Vec<String>,
    pub(super) all_auth_lines: Vec<String>,
    pub(super) builder: CTorNetBuilder,
    pub(super) exit_names: Vec<String>,
    pub(super) consensus_from: Option<SocketAddr>,
    pub(super) clients: usize,
    pub(super) timeline: Mutex<Vec<(String, Instant)>>,
}

impl CTorNet {
    /// A builder: 1 authority, 3 relays of which 1 exit, no client.
    pub fn builder() -> CTorNetBuilder {
        CTorNetBuilder {
            authorities: 1,
            relays: 3,
            exits: 1,
            client: false,
            extra: Vec::new(),
            dir_authorities: Vec::new(),
            exit_policy: vec!["accept 127.0.0.1:*".into()],
            consensus_params: None,
            consensus_from: None,
            info_logs: std::env::var_os("CTORNET_INFO_LOGS").is_some(),
        }
    }

    /// The C tor authorities' `DirAuthority` lines, in torrc syntax with the keyword
    /// (`DirAuthority auth0 orport=P no-v2 v3ident=HEX 127.0.0.1:DIRPORT FP`), usable as
    /// they are in our `ClientConfig`/`RelayConfig`. Lines added with
    /// [`CTorNetBuilder::dir_authority`] are not included.
    pub fn dir_authority_lines(&self) -> Vec<String> {
        self.auth_lines.clone()
    }

    /// The directory holding every process's directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Every process, in start order.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The processes of one role.
    pub fn role(&self, role: Role) -> impl Iterator<Item = &Node> {
        self.nodes.iter().filter(move |n| n.role == role)
    }

    /// The C tor authorities.
    pub fn authorities(&self) -> impl Iterator<Item = &Node> {
        self.role(Role::Authority)
    }

    /// The non-authority relays, exits included.
    pub fn relays(&self) -> impl Iterator<Item = &Node> {
        self.nodes
            .iter()
            .filter(|n| matches!(n.role, Role::Relay | Role::Exit))
    }

    /// The process named `name`.
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// Stops (kills) the process named `name` and forgets it; its directory stays until
    /// the network is dropped. Returns whether there was such a process.
    pub fn stop_node(&mut self, name: &str) -> bool {
        let before = self.nodes.len();
        self.nodes.retain(|n| n.name != name);
        self.nodes.len() != before
    }

    /// The first client; panics if there is none.
    pub fn client(&self) -> &Node {
        self.role(Role::Client)
            .next()
            .expect("the network has no client")
    }

    /// The DirPort polled for the consensus.
    pub fn consensus_addr(&self) -> Option<SocketAddr> {
        self.consensus_from
    }

    /// Records a milestone in [`CTorNet::timeline`].
    pub fn mark(&self, what: &str) {
        if let Ok(mut t) = self.timeline.lock() {
            t.push((what.to_string(), Instant::now()));
        }
    }

    /// The milestones so far (start, keys, routers listening, descriptors at the
    /// authorities, vote moved, full consensus, clientN launched, and any [`CTorNet::mark`]),
    /// as `label +seconds` from the start, one per line.
    pub fn timeline(&self) -> String {
        let t = self.timeline.lock().map(|t| t.clone()).unwrap_or_default();
        let t0 = t.first().map_or_else(Instant::now, |(_, i)| *i);
        t.iter()
            .map(|(what, at)| format!("{what} +{:.2}s\n", at.duration_since(t0).as_secs_f64()))
            .collect()
    }

    /// The last lines of every process's notice log.
    pub fn logs_tail(&self, n: usize) -> String {
        self.nodes.iter().map(|node| node.log_tail(n)).collect()
    }

    fn fail<T>(&self, msg: String) -> NetResult<T> {
        Err(NetError(format!("{msg}\n{}", self.logs_tail(TAIL_LINES))))
    }

    fn common_torrc(&self, nd: &Path, name: &str) -> Vec<String> {
        let mut t = vec![
            "TestingTorNetwork 1".to_string(),
            format!("DataDirectory {}", nd.display()),
            format!("Nickname {name}"),
            format!("Log notice file {}", nd.join("notice.log").display()),
            "SafeLogging 0".into(),
            "ShutdownWaitLength 0".into(),
            "ContactInfo ctornet@example.invalid".into(),
            "UseDefaultFallbackDirs 0".into(),
            // Parsing the GeoIP files takes seconds per process on a busy machine.
            format!("GeoIPFile {}", self.dir.path().join("empty").display()),
            format!("GeoIPv6File {}", self.dir.path().join("empty").display()),
            "AssumeReachable 1".into(),
            "LearnCircuitBuildTimeout 0".into(),
            "TestingDirAuthVoteGuard *".into(),
            "TestingDirAuthVoteHSDir *".into(),
            format!("__OwningControllerProcess {}", std::process::id()),
        ];
        if !self.exit_names.is_empty() {
            t.push(format!(
                "TestingDirAuthVoteExit {}",
                self.exit_names.join(",")
            ));
        }
        if self.builder.info_logs {
            t.push(format!("Log info file {}", nd.join("info.log").display()));
        }
        t.extend(self.all_auth_lines.iter().cloned());
        t
    }

    pub(super) fn spawn(
        &mut self,
        name: &str,
        role: Role,
        ports: Ports,
        lines: Vec<String>,
    ) -> Result<(), String> {
        let nd = self.dir.path().join(name);
        fs::create_dir_all(&nd).map_err(|e| e.to_string())?;
        set_private(&nd);
        let mut torrc = self.common_torrc(&nd, name);
        torrc.extend(lines);
        torrc.extend(self.builder.lines_for(role).cloned());
        let torrc_path = nd.join("torrc");
        fs::write(&torrc_path, torrc.join("\n") + "\n").map_err(|e| e.to_string())?;
        let out = fs::File::create(nd.join("stdout.log")).map_err(|e| e.to_string())?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new(tor_binary())
            .arg("-f")
            .arg(&torrc_path)
            .arg("--defaults-torrc")
            .arg(self.dir.path().join("empty"))
            .args(["--RunAsDaemon", "0"])
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("spawn tor for {name}: {e}"))?;
        self.nodes.push(Node {
            name: name.to_string(),
            role,
            dir: nd,
            started: Instant::now(),
            child,
            ports,
        });
        Ok(())
    }

    /// Waits until every process of `role` listens on its ports (and relays have their
    /// fingerprint file).
    pub(super) fn wait_listening(&mut self, role: Role) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(90);
        for i in 0..self.nodes.len() {
            if self.nodes[i].role != role {
                continue;
            }
            loop {
                let running = self.nodes[i].is_running();
                let node = &self.nodes[i];
                if !running {
                    return Err(format!(
                        "{} exited at startup\n{}",
                        node.name,
                        self.logs_tail(TAIL_LINES)
                    ));
                }
                let p = node.ports;
                let up = [p.or, p.dir, p.socks, p.control]
                    .into_iter()
                    .flatten()
                    .all(|port| {
                        let a = SocketAddr::from(([127, 0, 0, 1], port));
                        TcpStream::connect_timeout(&a, Duration::from_millis(200)).is_ok()
                    });
                if up && (role == Role::Client || node.fingerprint().is_some()) {
                    break;
                }
                if Instant::now() > deadline {
                    return Err(format!(
                        "{} did not open its ports\n{}",
                        node.name,
                        self.logs_tail(TAIL_LINES)
                    ));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Ok(())
    }

    /// Makes the first consensus list every router: waits (≤ 30 s) until each C tor
    /// authority has every router's descriptor (`/tor/server/all`); if the first scheduled
    /// vote (for `first_boundary`) has passed or is about to, moves the schedule so that the
    /// authorities vote 2 s from now (a new `TestingV3AuthVotingStartOffset` and SIGHUP,
    /// which makes tor recompute its voting schedule).
    pub(super) fn sync_first_vote(&self, first_boundary: u64) -> NetResult<()> {
        let want = self.authorities().count() + self.relays().count();
        let auths: Vec<SocketAddr> = self.authorities().filter_map(Node::dir_addr).collect();
        if auths.is_empty() {
            return Ok(());
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let least = auths
                .iter()
                .map(|a| {
                    http_get(*a, "/tor/server/all", Duration::from_secs(5)).map_or(
                        0,
                        |(_, body)| {
                            String::from_utf8_lossy(&body)
                                .lines()
                                .filter(|l| l.starts_with("router "))
                                .count()
                        },
                    )
                })
                .min()
                .unwrap_or(0);
            if least >= want {
                break;
            }
            if Instant::now() > deadline {
                return Ok(()); // the regular schedule will pick them up
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.mark("descriptors at the authorities");
        let now = unix_now();
        if now + 1 + 2 * VOTE_DELAY < first_boundary {
            return Ok(());
        }
        let line = voting_offset_line(now + 2 + 2 * VOTE_DELAY);
        for a in self.authorities() {
            let torrc = a.dir.join("torrc");
            let text = fs::read_to_string(&torrc)?;
            let text: Vec<String> = text
                .lines()
                .map(|l| {
                    if l.starts_with("TestingV3AuthVotingStartOffset ") {
                        line.clone()
                    } else {
                        l.to_string()
                    }
                })
                .collect();
            fs::write(&torrc, text.join("\n") + "\n")?;
            a.hup();
        }
        self.mark("vote moved");
        Ok(())
    }

    /// Waits for a consensus listing every C tor authority and relay, sends SIGHUP to the
    /// relays (they back off after 404s before the first consensus) and waits (≤ 10 s) until
    /// each caches the microdescriptor of every router in that consensus (ours too, if
    /// listed): a client started then bootstraps at once. Call it again after our routers
    /// joined (see [`CTorNet::wait_for_relay`]) before starting a client that must use them.
    pub fn prepare_for_clients(&self, timeout: Duration) -> NetResult<()> {
        let c_routers = self.authorities().count() + self.relays().count();
        let consensus = self.wait_for_consensus(c_routers, timeout)?;
        let want = consensus.routers.len();
        self.mark("full consensus");
        for r in self.relays() {
            r.hup();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let least = self
                .relays()
                .map(|r| cached_microdescs(&r.dir))
                .min()
                .unwrap_or(want);
            if least >= want {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }

    /// Starts one more client (SocksPort and ControlPort on loopback, no control
    /// authentication) with extra torrc lines; returns once its ports listen. Its
    /// [`Node::started`] is the spawn time.
    pub fn add_client(&mut self, extra: &[&str]) -> NetResult<&Node> {
        let name = format!("client{}", self.clients);
        self.clients += 1;
        let (socks, control) = (free_port(), free_port());
        let mut t = vec![
            format!("SocksPort 127.0.0.1:{socks}"),
            format!("ControlPort 127.0.0.1:{control}"),
            "CookieAuthentication 0".into(),
            "PathsNeededToBuildCircuits 0.25".into(),
        ];
        t.extend(extra.iter().map(|l| l.to_string()));
        let ports = Ports {
            or: None,
            dir: None,
            socks: Some(socks),
            control: Some(control),
        };
        self.spawn(&name, Role::Client, ports, t)
            .map_err(NetError)?;
        self.mark(&format!("{name} launched"));
        self.wait_listening(Role::Client).map_err(NetError)?;
        Ok(self.nodes.last().expect("just pushed"))
    }

    /// Fetches the current microdescriptor consensus from the consensus DirPort.
    pub fn fetch_consensus(&self) -> NetResult<ConsensusInfo> {
        let addr = self
            .consensus_from
            .ok_or_else(|| NetError("no DirPort to fetch the consensus from".into()))?;
        let (status, body) = http_get(
            addr,
            "/tor/status-vote/current/consensus-microdesc",
            Duration::from_secs(10),
        )?;
        if status != 200 {
            return Err(NetError(format!("consensus fetch: HTTP {status}")));
        }
        Ok(ConsensusInfo::parse(&String::from_utf8_lossy(&body)))
    }

    /// Waits until the consensus lists at least `min_routers` routers (`r` lines;
    /// authorities count too).
    pub fn wait_for_consensus(
        &self,
        min_routers: usize,
        timeout: Duration,
    ) -> NetResult<ConsensusInfo> {
        self.wait_consensus_until(timeout, &format!("{min_routers} routers"), |c| {
            c.routers.len() >= min_routers
        })
    }

    /// Waits until the consensus lists the router `fingerprint` (hex) with every flag in
    /// `flags` (e.g. `["Running", "Valid"]`).
    pub fn wait_for_relay(
        &self,
        fingerprint: &str,
        flags: &[&str],
        timeout: Duration,
    ) -> NetResult<ConsensusInfo> {
        self.wait_consensus_until(timeout, &format!("{fingerprint} with {flags:?}"), |c| {
            c.has_flags(fingerprint, flags)
        })
    }

    fn wait_consensus_until(
        &self,
        timeout: Duration,
        what: &str,
        ok: impl Fn(&ConsensusInfo) -> bool,
    ) -> NetResult<ConsensusInfo> {
        let deadline = Instant::now() + timeout;
        loop {
            let last = match self.fetch_consensus() {
                Ok(c) if ok(&c) => return Ok(c),
                Ok(c) => format!(
                    "last consensus: {:?}",
                    c.routers
                        .iter()
                        .map(|r| (&r.nickname, &r.flags))
                        .collect::<Vec<_>>()
                ),
                Err(e) => e.0,
            };
            if Instant::now() > deadline {
                return self.fail(format!(
                    "no consensus with {what} within {timeout:?} ({last})"
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Waits until the first client has bootstrapped to 100% (from its notice log; the
    /// control port is checked too); returns the time since it was spawned.
    pub fn client_bootstrapped(&self, timeout: Duration) -> NetResult<Duration> {
        let c = self.client();
        let took = c.wait_bootstrapped(timeout).or_else(|e| self.fail(e.0))?;
        let phase = c.bootstrap_phase()?;
        if !phase.contains("PROGRESS=100") {
            return self.fail(format!("log says bootstrapped, control port says {phase}"));
        }
        Ok(took)
    }

    /// Fetches `http://127.0.0.1:port/path` through the first client's SocksPort,
    /// retrying for up to `timeout` (exits refuse streams for a moment after start).
    pub fn socks_get(&self, port: u16, path: &str, timeout: Duration) -> NetResult<(u16, Vec<u8>)> {
        let socks = self
            .client()
            .socks_addr()
            .expect("clients have a SocksPort");
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_secs(1));
            match socks5_http_get(
                socks,
                "127.0.0.1",
                port,
                path,
                left.min(Duration::from_secs(20)),
            ) {
                Ok(r) => return Ok(r),
                Err(e) if Instant::now() > deadline => {
                    return self.fail(format!("fetch through SOCKS5 failed: {e}"))
                }
                Err(_) => std::thread::sleep(Duration::from_millis(500)),
            }
        }
    }
}

/// How many microdescriptors a relay has cached (its `ntor-onion-key` lines).
fn cached_microdescs(dir: &Path) -> usize {
    ["cached-microdescs", "cached-microdescs.new"]
        .iter()
        .map(|f| {
            fs::read_to_string(dir.join(f))
                .unwrap_or_default()
                .lines()
                .filter(|l| l.starts_with("ntor-onion-key"))
                .count()
        })
        .sum()
}

impl Drop for CTorNet {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "C tor network in {} at the panic:\n{}",
                self.dir.path().display(),
                self.logs_tail(TAIL_LINES)
            );
        }
        // Clients first, then relays, then authorities.
        while let Some(n) = self.nodes.pop() {
            drop(n);
        }
    }
}
