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
//! every torrc has `TestingTorNetwork 1`, `AssumeReachable 1` and the authorities vote Guard
//! and HSDir on every relay (`TestingDirAuthVoteGuard *`, `TestingDirAuthVoteHSDir *`) and
//! Exit on the exits. The voting interval is 10 s (tor's minimum under TestingTorNetwork)
//! and `TestingV3AuthVotingStartOffset` is chosen so that the first vote is cast a few
//! seconds after launch, once the relays have uploaded their descriptors: the first
//! consensus, about 9 s after launch, lists every relay. Clients are started only after
//! that consensus exists and the relays cache every microdescriptor (a client started
//! earlier backs off for 10–20 s after its first 404s).
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
//! Networks whose authority is ours: give our authority's line with
//! [`CTorNetBuilder::dir_authority`] (and `authorities(0)` for a network with no C tor
//! authority), and [`CTorNetBuilder::consensus_from`] to name the DirPort to poll.

use std::fs;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::ctor::{free_port, tor_binary, TempDir};
use super::ctornet_io::{http_get, socks5_http_get};
// Re-exported for tests that use only this module (each test crate uses a different part).
#[allow(unused_imports)]
pub use super::ctornet_io::{Control, HttpServer, NetError, NetResult};

/// Seconds between votes: tor's minimum under `TestingTorNetwork` (it must divide 1800).
pub const VOTING_INTERVAL: u32 = 10;
/// `V3AuthVoteDelay` and `V3AuthDistDelay`: tor's minimum under `TestingTorNetwork`.
const VOTE_DELAY: u64 = 2;
/// Lines of each notice log shown on failure.
const TAIL_LINES: usize = 25;

/// What a process is in the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A v3 directory authority (also a relay, never an exit).
    Authority,
    /// A relay that is not an exit.
    Relay,
    /// A relay that is an exit allowed to reach loopback.
    Exit,
    /// A client with a SocksPort and a ControlPort.
    Client,
}

/// Configures a [`CTorNet`]; see [`CTorNet::builder`].
#[derive(Debug, Clone)]
pub struct CTorNetBuilder {
    authorities: usize,
    relays: usize,
    exits: usize,
    client: bool,
    extra: Vec<(Option<Role>, String)>,
    dir_authorities: Vec<String>,
    exit_policy: Vec<String>,
    consensus_params: Option<String>,
    consensus_from: Option<SocketAddr>,
    info_logs: bool,
}

impl CTorNetBuilder {
    /// Number of C tor authorities (1–3; 0 only with [`CTorNetBuilder::dir_authority`]).
    pub fn authorities(mut self, n: usize) -> Self {
        self.authorities = n;
        self
    }

    /// Number of non-authority relays, exits included.
    pub fn relays(mut self, n: usize) -> Self {
        self.relays = n;
        self
    }

    /// How many of the relays are exits.
    pub fn exits(mut self, n: usize) -> Self {
        self.exits = n;
        self
    }

    /// Start a client (SocksPort, ControlPort) once the network has a full consensus.
    pub fn client(mut self, on: bool) -> Self {
        self.client = on;
        self
    }

    /// An extra torrc line for every process of `role`.
    pub fn torrc(mut self, role: Role, line: &str) -> Self {
        self.extra.push((Some(role), line.to_string()));
        self
    }

    /// An extra torrc line for every process.
    pub fn torrc_all(mut self, line: &str) -> Self {
        self.extra.push((None, line.to_string()));
        self
    }

    /// An extra `DirAuthority` line (with or without the leading keyword) in every torrc,
    /// e.g. our own authority's.
    pub fn dir_authority(mut self, line: &str) -> Self {
        let l = line.trim();
        let l = l.strip_prefix("DirAuthority ").unwrap_or(l).trim();
        self.dir_authorities.push(format!("DirAuthority {l}"));
        self
    }

    /// The exits' `ExitPolicy` values, in order (default: `accept 127.0.0.1:*`, then tor's
    /// default policy since no `reject *:*` ends the list).
    pub fn exit_policy(mut self, lines: &[&str]) -> Self {
        self.exit_policy = lines.iter().map(|l| l.to_string()).collect();
        self
    }

    /// `ConsensusParams` the C tor authorities vote (default: none).
    pub fn consensus_params(mut self, params: &str) -> Self {
        self.consensus_params = Some(params.to_string());
        self
    }

    /// The DirPort the waiting helpers poll for the consensus (default: the first C tor
    /// authority's).
    pub fn consensus_from(mut self, addr: SocketAddr) -> Self {
        self.consensus_from = Some(addr);
        self
    }

    /// Also log at info level to `<dir>/info.log` (for debugging; the default is on when
    /// the environment variable `CTORNET_INFO_LOGS` is set).
    pub fn info_logs(mut self, on: bool) -> Self {
        self.info_logs = on;
        self
    }

    /// Starts the network; panics (with every log tail) if it cannot. Returns once every
    /// authority and relay listens and, with a client, once the client is launched.
    pub fn start(self) -> CTorNet {
        self.try_start()
            .unwrap_or_else(|e| panic!("C tor network did not start: {e:?}"))
    }

    /// Like [`CTorNetBuilder::start`], returning the error. A process that exits at
    /// startup (e.g. a port taken meanwhile) makes it try again with fresh ports, twice.
    pub fn try_start(self) -> NetResult<CTorNet> {
        if self.authorities > 3 || (self.authorities == 0 && self.dir_authorities.is_empty()) {
            return Err(NetError(
                "authorities must be 1-3 (or 0 with dir_authority lines)".into(),
            ));
        }
        if self.exits > self.relays {
            return Err(NetError("more exits than relays".into()));
        }
        let mut last = String::new();
        for _ in 0..3 {
            match self.launch() {
                Ok(net) => return Ok(net),
                Err(Launch::Retry(e)) => last = e,
                Err(Launch::Fatal(e)) => return Err(NetError(e)),
            }
        }
        Err(NetError(last))
    }

    fn lines_for(&self, role: Role) -> impl Iterator<Item = &String> {
        self.extra
            .iter()
            .filter(move |(r, _)| r.is_none() || *r == Some(role))
            .map(|(_, l)| l)
    }

    fn launch(&self) -> Result<CTorNet, Launch> {
        let t0 = Instant::now();
        let dir = TempDir::new("ctornet");
        let empty = dir.path().join("empty");
        fs::write(&empty, "").map_err(|e| Launch::Fatal(e.to_string()))?;
        // Every name, role and port, then every key in parallel: RSA-3072 generation of
        // the authority identities is the slow part; relay identities are made here too,
        // so that the relays start (and publish) sooner.
        let mut plan: Vec<(String, Role, Ports)> = (0..self.authorities)
            .map(|i| {
                let p = Ports {
                    or: Some(free_port()),
                    dir: Some(free_port()),
                    socks: None,
                    control: None,
                };
                (format!("auth{i}"), Role::Authority, p)
            })
            .collect();
        for j in 0..self.relays {
            let p = Ports {
                or: Some(free_port()),
                dir: None,
                socks: None,
                control: None,
            };
            if j < self.exits {
                plan.push((format!("exit{j}"), Role::Exit, p));
            } else {
                plan.push((format!("relay{}", j - self.exits), Role::Relay, p));
            }
        }
        let keys: Vec<Result<Option<String>, String>> = std::thread::scope(|s| {
            let handles: Vec<_> = plan
                .iter()
                .map(|(name, role, p)| {
                    let nd = dir.path().join(name);
                    let empty = &empty;
                    s.spawn(move || gen_keys(&nd, name, *role, *p, empty))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err("key thread panicked".into()))
                })
                .collect()
        });
        let mut auth_lines = Vec::new();
        for k in keys {
            auth_lines.extend(k.map_err(Launch::Fatal)?);
        }
        let all_auth_lines: Vec<String> = auth_lines
            .iter()
            .chain(&self.dir_authorities)
            .cloned()
            .collect();
        let exit_names: Vec<String> = (0..self.exits).map(|i| format!("exit{i}")).collect();
        let mut net = CTorNet {
            nodes: Vec::new(),
            dir,
            auth_lines,
            all_auth_lines,
            builder: self.clone(),
            exit_names,
            consensus_from: self.consensus_from,
            clients: 0,
            timeline: Mutex::new(vec![("start".into(), t0)]),
        };
        net.mark("keys");
        // The first scheduled vote: 6 s from now (the consensus 4 s later). If the relays'
        // descriptors are not all in by then, `sync_first_vote` moves it.
        let first_boundary = unix_now() + u64::from(VOTING_INTERVAL);
        for (name, role, ports) in &plan {
            let mut t = vec![
                "SocksPort 0".to_string(),
                "Address 127.0.0.1".into(),
                format!("ORPort 127.0.0.1:{}", ports.or.unwrap_or_default()),
            ];
            match role {
                Role::Authority => {
                    t.extend([
                        format!("DirPort 127.0.0.1:{}", ports.dir.unwrap_or_default()),
                        "AuthoritativeDirectory 1".into(),
                        "V3AuthoritativeDirectory 1".into(),
                        "ExitPolicy reject *:*".into(),
                        format!("TestingV3AuthInitialVotingInterval {VOTING_INTERVAL}"),
                        format!("TestingV3AuthInitialVoteDelay {VOTE_DELAY}"),
                        format!("TestingV3AuthInitialDistDelay {VOTE_DELAY}"),
                        format!("V3AuthVotingInterval {VOTING_INTERVAL}"),
                        format!("V3AuthVoteDelay {VOTE_DELAY}"),
                        format!("V3AuthDistDelay {VOTE_DELAY}"),
                        voting_offset_line(first_boundary),
                    ]);
                    if let Some(p) = &self.consensus_params {
                        t.push(format!("ConsensusParams {p}"));
                    }
                }
                Role::Exit => {
                    t.extend([
                        "DirCache 1".into(),
                        "ExitRelay 1".into(),
                        "ExitPolicyRejectPrivate 0".into(),
                        "ExitPolicyRejectLocalInterfaces 0".into(),
                    ]);
                    t.extend(self.exit_policy.iter().map(|p| format!("ExitPolicy {p}")));
                }
                _ => t.extend([
                    "DirCache 1".into(),
                    "ExitRelay 0".into(),
                    "ExitPolicy reject *:*".into(),
                ]),
            }
            net.spawn(name, *role, *ports, t).map_err(Launch::Retry)?;
            if *role == Role::Authority && net.authorities().count() == self.authorities {
                // Relays upload their descriptors at once: let the DirPorts open first.
                net.wait_listening(Role::Authority).map_err(Launch::Retry)?;
            }
        }
        net.wait_listening(Role::Relay).map_err(Launch::Retry)?;
        net.wait_listening(Role::Exit).map_err(Launch::Retry)?;
        if net.consensus_from.is_none() {
            let first = net.authorities().next().and_then(Node::dir_addr);
            net.consensus_from = first;
        }
        net.mark("routers listening");
        net.sync_first_vote(first_boundary)
            .map_err(|e| Launch::Fatal(e.0))?;
        if self.client {
            net.prepare_for_clients(Duration::from_secs(u64::from(VOTING_INTERVAL) * 3 + 20))
                .map_err(|e| Launch::Fatal(e.0))?;
            net.add_client(&[]).map_err(|e| Launch::Retry(e.0))?;
        }
        Ok(net)
    }
}

enum Launch {
    Retry(String),
    Fatal(String),
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The torrc line that puts a valid-after boundary (so a consensus) at `boundary`; the
/// vote is cast `2 * VOTE_DELAY` seconds before.
fn voting_offset_line(boundary: u64) -> String {
    format!(
        "TestingV3AuthVotingStartOffset {}",
        boundary % u64::from(VOTING_INTERVAL)
    )
}

/// Makes the keys of one router before it starts: an authority's with
/// [`gen_authority`] (returns its `DirAuthority` line), a relay's identity with
/// `tor --list-fingerprint`.
fn gen_keys(
    nd: &Path,
    name: &str,
    role: Role,
    p: Ports,
    empty: &Path,
) -> Result<Option<String>, String> {
    fs::create_dir_all(nd).map_err(|e| e.to_string())?;
    set_private(nd);
    let or = p.or.unwrap_or_default();
    match role {
        Role::Authority => {
            let index = name.trim_start_matches("auth").parse().unwrap_or(0);
            gen_authority(nd, name, index, or, p.dir.unwrap_or_default(), empty).map(Some)
        }
        _ => list_fingerprint(nd, name, or, empty).map(|()| None),
    }
}

/// `tor --list-fingerprint`: makes the RSA and Ed25519 identity keys in `nd/keys` and the
/// `fingerprint` file.
fn list_fingerprint(nd: &Path, name: &str, or: u16, empty: &Path) -> Result<(), String> {
    let out = Command::new(tor_binary())
        .arg("--ignore-missing-torrc")
        .arg("-f")
        .arg(empty)
        .arg("--defaults-torrc")
        .arg(empty)
        .args(["--quiet", "--list-fingerprint", "--DataDirectory"])
        .arg(nd)
        .args(["--ORPort", &format!("127.0.0.1:{or}"), "--Nickname", name])
        .output()
        .map_err(|e| format!("spawn tor --list-fingerprint: {e}"))?;
    if !out.status.success() || read_fingerprint(nd).is_none() {
        return Err(format!(
            "tor --list-fingerprint failed for {name}: {}",
            String::from_utf8_lossy(&out.stdout)
        ));
    }
    Ok(())
}

/// The three files tor-gencert makes, as C tor reads them from `DataDirectory/keys`.
const AUTH_KEY_FILES: [&str; 3] = [
    "authority_identity_key",
    "authority_signing_key",
    "authority_certificate",
];

/// Runs `tor-gencert --create-identity-key` (12-month certificate, empty passphrase)
/// writing the three key files into `keys`; with `dir_addr`, the certificate names it.
fn tor_gencert(keys: &Path, dir_addr: Option<String>) -> Result<(), String> {
    let gencert = ["/usr/bin/tor-gencert", "/usr/local/bin/tor-gencert"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .ok_or("tor-gencert is not installed (Debian package `tor`)")?;
    let mut cmd = Command::new(gencert);
    cmd.arg("--create-identity-key").args(["-m", "12"]);
    if let Some(a) = dir_addr {
        cmd.args(["-a", &a]);
    }
    for (flag, file) in ["-i", "-s", "-c"].into_iter().zip(AUTH_KEY_FILES) {
        cmd.arg(flag).arg(keys.join(file));
    }
    let mut child = cmd
        .args(["--passphrase-fd", "0"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawn tor-gencert: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write;
        let _ = stdin.write_all(b"\n");
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "tor-gencert failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

/// Authority keys of the `index`th authority from a cache shared by every network of
/// every test run (`$TMPDIR/oniongate-ctornet-authkeys/auth<index>`), made on first use
/// and again when older than 180 days. RSA-3072 generation takes seconds on a busy
/// machine; authority identities need not differ between isolated networks. Cached
/// certificates carry no `dir-address` (C tor would take the authority's address from
/// it). `CTORNET_FRESH_KEYS=1` makes fresh keys for every network instead.
fn cached_authority_keys(index: usize, keys: &Path) -> Result<(), String> {
    let root = std::env::temp_dir().join("oniongate-ctornet-authkeys");
    let slot = root.join(format!("auth{index}"));
    let fresh = fs::metadata(slot.join(AUTH_KEY_FILES[2]))
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age < Duration::from_secs(180 * 86400));
    if !fresh {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = root.join(format!("new-{}-{n}", std::process::id()));
        fs::create_dir_all(&tmp).map_err(|e| e.to_string())?;
        tor_gencert(&tmp, None)?;
        let _ = fs::remove_dir_all(&slot);
        // Another process may have won the race: then its keys are used.
        if fs::rename(&tmp, &slot).is_err() {
            let _ = fs::remove_dir_all(&tmp);
        }
    }
    for f in AUTH_KEY_FILES {
        fs::copy(slot.join(f), keys.join(f)).map_err(|e| format!("copy cached {f}: {e}"))?;
    }
    Ok(())
}

/// Makes an authority's keys in `nd/keys` (tor-gencert, through the cache of
/// [`cached_authority_keys`]) and its relay identity (`tor --list-fingerprint`); returns
/// its `DirAuthority` line.
fn gen_authority(
    nd: &Path,
    name: &str,
    index: usize,
    or: u16,
    dp: u16,
    empty: &Path,
) -> Result<String, String> {
    let keys = nd.join("keys");
    fs::create_dir_all(&keys).map_err(|e| e.to_string())?;
    if std::env::var_os("CTORNET_FRESH_KEYS").is_some() {
        tor_gencert(&keys, Some(format!("127.0.0.1:{dp}")))?;
    } else {
        cached_authority_keys(index, &keys)?;
    }
    list_fingerprint(nd, name, or, empty)?;
    let cert = fs::read_to_string(keys.join("authority_certificate")).map_err(|e| e.to_string())?;
    let v3ident = cert
        .lines()
        .find_map(|l| l.strip_prefix("fingerprint "))
        .ok_or("no fingerprint in authority_certificate")?
        .trim()
        .to_string();
    let fp = read_fingerprint(nd).ok_or("no fingerprint file")?;
    Ok(format!(
        "DirAuthority {name} orport={or} no-v2 v3ident={v3ident} 127.0.0.1:{dp} {fp}"
    ))
}

fn set_private(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = fs::set_permissions(p, fs::Permissions::from_mode(0o700));
}

fn read_fingerprint(nd: &Path) -> Option<String> {
    let s = fs::read_to_string(nd.join("fingerprint")).ok()?;
    let fp = s.split_whitespace().nth(1)?.to_ascii_uppercase();
    (fp.len() == 40).then_some(fp)
}

#[derive(Debug, Clone, Copy)]
struct Ports {
    or: Option<u16>,
    dir: Option<u16>,
    socks: Option<u16>,
    control: Option<u16>,
}

/// One running tor process of the network.
#[derive(Debug)]
pub struct Node {
    /// Its nickname (`auth0`, `relay0`, `exit0`, `client0`, ...), also its directory name.
    pub name: String,
    /// What it is.
    pub role: Role,
    /// Its DataDirectory (also holds torrc, notice.log, stdout.log).
    pub dir: PathBuf,
    /// When it was spawned.
    pub started: Instant,
    child: Child,
    ports: Ports,
}

fn loopback(port: Option<u16>) -> Option<SocketAddr> {
    port.map(|p| SocketAddr::from(([127, 0, 0, 1], p)))
}

impl Node {
    /// Its ORPort (authorities and relays).
    pub fn or_addr(&self) -> Option<SocketAddr> {
        loopback(self.ports.or)
    }

    /// Its DirPort (authorities).
    pub fn dir_addr(&self) -> Option<SocketAddr> {
        loopback(self.ports.dir)
    }

    /// Its SocksPort (clients).
    pub fn socks_addr(&self) -> Option<SocketAddr> {
        loopback(self.ports.socks)
    }

    /// Its ControlPort (clients; no authentication).
    pub fn control_addr(&self) -> Option<SocketAddr> {
        loopback(self.ports.control)
    }

    /// Its RSA identity fingerprint, 40 upper-case hex digits (None for clients).
    pub fn fingerprint(&self) -> Option<String> {
        read_fingerprint(&self.dir)
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its notice log so far.
    pub fn notice_log(&self) -> String {
        fs::read_to_string(self.dir.join("notice.log")).unwrap_or_default()
    }

    /// The last `n` lines of its notice log (and of stdout.log, where tor reports torrc
    /// errors before its log is open).
    pub fn log_tail(&self, n: usize) -> String {
        let mut out = String::new();
        for f in ["stdout.log", "notice.log"] {
            let s = fs::read_to_string(self.dir.join(f)).unwrap_or_default();
            let lines: Vec<&str> = s.lines().collect();
            let tail = &lines[lines.len().saturating_sub(n)..];
            if !tail.is_empty() {
                out += &format!(
                    "---- {} {f} (last {} lines)\n{}\n",
                    self.name,
                    tail.len(),
                    tail.join("\n")
                );
            }
        }
        out
    }

    /// Sends SIGHUP (tor then retries its directory downloads at once).
    pub fn hup(&self) {
        let _ = Command::new("kill")
            .args(["-HUP", &self.pid().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    /// Whether the process still runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits until its notice log says `Bootstrapped 100%`; returns the time since spawn.
    pub fn wait_bootstrapped(&self, timeout: Duration) -> NetResult<Duration> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.notice_log().contains("Bootstrapped 100%") {
                return Ok(self.started.elapsed());
            }
            if Instant::now() > deadline {
                return Err(NetError(format!(
                    "{} did not bootstrap within {timeout:?}\n{}",
                    self.name,
                    self.log_tail(TAIL_LINES)
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A control-port connection (clients only).
    pub fn control(&self) -> NetResult<Control> {
        let addr = self
            .control_addr()
            .ok_or_else(|| NetError(format!("{} has no ControlPort", self.name)))?;
        Control::connect(addr, Duration::from_secs(10))
    }

    /// `GETINFO status/bootstrap-phase` through the control port.
    pub fn bootstrap_phase(&self) -> NetResult<String> {
        self.control()?.getinfo("status/bootstrap-phase")
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One router of a consensus: its `r` line's nickname and identity and its `s` flags.
#[derive(Debug, Clone)]
pub struct ConsensusRouter {
    /// Nickname.
    pub nickname: String,
    /// RSA identity fingerprint, 40 upper-case hex digits.
    pub fingerprint: String,
    /// Flags of the `s` line.
    pub flags: Vec<String>,
}

/// A microdescriptor consensus as fetched, with its routers picked out.
#[derive(Debug, Clone)]
pub struct ConsensusInfo {
    /// Its routers in order.
    pub routers: Vec<ConsensusRouter>,
    /// The document.
    pub text: String,
}

impl ConsensusInfo {
    /// Picks the `r` and `s` lines out of a consensus document.
    pub fn parse(text: &str) -> ConsensusInfo {
        let mut routers: Vec<ConsensusRouter> = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("r ") {
                let mut f = rest.split(' ');
                let nickname = f.next().unwrap_or_default().to_string();
                let fingerprint = f.next().and_then(b64_to_hex).unwrap_or_default();
                routers.push(ConsensusRouter {
                    nickname,
                    fingerprint,
                    flags: Vec::new(),
                });
            } else if let (Some(rest), Some(r)) = (line.strip_prefix("s "), routers.last_mut()) {
                r.flags = rest.split(' ').map(str::to_string).collect();
            }
        }
        ConsensusInfo {
            routers,
            text: text.to_string(),
        }
    }

    /// The router with this fingerprint (hex, any case).
    pub fn router(&self, fingerprint: &str) -> Option<&ConsensusRouter> {
        self.routers
            .iter()
            .find(|r| r.fingerprint.eq_ignore_ascii_case(fingerprint))
    }

    /// Whether the router with this fingerprint is listed with every flag of `flags`.
    pub fn has_flags(&self, fingerprint: &str, flags: &[&str]) -> bool {
        self.router(fingerprint)
            .is_some_and(|r| flags.iter().all(|f| r.flags.iter().any(|g| g == f)))
    }
}

/// Unpadded base64 (as in `r` lines) to upper-case hex.
fn b64_to_hex(s: &str) -> Option<String> {
    let mut bits: u32 = 0;
    let mut n = 0;
    let mut out = String::new();
    for c in s.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(v);
        n += 6;
        if n >= 8 {
            n -= 8;
            out += &format!("{:02X}", (bits >> n) & 0xff);
        }
    }
    Some(out)
}

/// A running private network of C tor processes; everything is killed on drop.
pub struct CTorNet {
    // Declared before `dir`: processes die before their directories are removed.
    nodes: Vec<Node>,
    dir: TempDir,
    auth_lines: Vec<String>,
    all_auth_lines: Vec<String>,
    builder: CTorNetBuilder,
    exit_names: Vec<String>,
    consensus_from: Option<SocketAddr>,
    clients: usize,
    timeline: Mutex<Vec<(String, Instant)>>,
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

    fn spawn(
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
    fn wait_listening(&mut self, role: Role) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(60);
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
    fn sync_first_vote(&self, first_boundary: u64) -> NetResult<()> {
        let want = self.authorities().count() + self.relays().count();
        let auths: Vec<SocketAddr> = self.authorities().filter_map(Node::dir_addr).collect();
        if auths.is_empty() {
            return Ok(());
        }
        let deadline = Instant::now() + Duration::from_secs(30);
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

    /// Waits for a consensus listing every authority and relay, sends SIGHUP to the relays
    /// (they back off after 404s before the first consensus) and waits (≤ 10 s) until each
    /// caches every microdescriptor: a client started then bootstraps at once.
    pub fn prepare_for_clients(&self, timeout: Duration) -> NetResult<()> {
        let want = self.authorities().count() + self.relays().count();
        self.wait_for_consensus(want, timeout)?;
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
