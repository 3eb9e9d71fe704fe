//! [`CTorNetBuilder`]: what a [`CTorNet`] is made of, and the launch sequence (keys in
//! parallel, authorities, relays, first vote moved once every descriptor is in, client).

use std::fs;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::ctor::{free_port, TempDir};
use super::ctornet::{CTorNet, VOTE_DELAY, VOTING_INTERVAL};
use super::ctornet_io::{NetError, NetResult};
use super::ctornet_node::{gen_keys, Node, Ports, Role};

/// Configures a [`CTorNet`]; see [`CTorNet::builder`].
#[derive(Debug, Clone)]
pub struct CTorNetBuilder {
    pub(super) authorities: usize,
    pub(super) relays: usize,
    pub(super) exits: usize,
    pub(super) client: bool,
    pub(super) extra: Vec<(Option<Role>, String)>,
    pub(super) dir_authorities: Vec<String>,
    pub(super) exit_policy: Vec<String>,
    pub(super) consensus_params: Option<String>,
    pub(super) consensus_from: Option<SocketAddr>,
    pub(super) info_logs: bool,
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

    /// An extra torrc line for every process of `role` (`Role::Relay` is the non-exit
    /// relays only). Extra lines come after the harness's own: a single-value option given
    /// again replaces the harness's value, a list option (e.g. `ExitPolicy`) is extended.
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

    pub(super) fn lines_for(&self, role: Role) -> impl Iterator<Item = &String> {
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
            net.prepare_for_clients(Duration::from_secs(u64::from(VOTING_INTERVAL) * 12))
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

pub(super) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The torrc line that puts a valid-after boundary (so a consensus) at `boundary`; the
/// vote is cast `2 * VOTE_DELAY` seconds before.
pub(super) fn voting_offset_line(boundary: u64) -> String {
    format!(
        "TestingV3AuthVotingStartOffset {}",
        boundary % u64::from(VOTING_INTERVAL)
    )
}
