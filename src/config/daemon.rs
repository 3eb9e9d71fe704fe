//! The typed configuration of each daemon, validated once from merged entries, and [`merge`],
//! which applies tor's rules for combining the torrc with the command line.
//!
//! Validation order: every key is looked up (unknown keys fail first, in file order), then
//! each value is parsed, then keys that depend on each other are checked.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use super::dirauth::{parse_dir_authority, DirAuthority};
use super::keys::{Daemon, Key, KeySpec};
use super::policy::{parse_exit_policy, PolicyRule};
use super::ports::{
    parse_listen, parse_or_port, parse_service_port, parse_service_type, parse_socks_port,
    parse_udp_forward, ListenAddr, OrPortConfig, ServicePort, ServiceType, SocksPortConfig,
    UdpForward,
};
use super::value::{
    parse_address, parse_auto_bool, parse_bool, parse_log, parse_nickname, parse_path,
    parse_publish, parse_safe_logging, AutoBool, LogSpec, PublishDescriptor, VResult,
};
use super::{ConfigError, Entry, Location, Op};
use crate::safelog::SafeLogging;

fn resolve(daemon: Daemon, e: &Entry) -> Result<&'static KeySpec, ConfigError> {
    daemon
        .lookup(&e.key)
        .ok_or_else(|| ConfigError::UnknownKey {
            location: e.location.clone(),
            key: e.key.clone(),
            suggestion: daemon.suggest(&e.key),
        })
}

/// Combines sources, lowest priority first (the torrc, then the command line), with tor's
/// rules: in each source, the first `Key value` line of a key (or of the onion-service key
/// group) replaces the lines of lower sources, `+Key value` appends to them, `/Key` clears
/// them. Every key is checked against `daemon`'s table, so an unknown key fails here, even in
/// a `/Key` line. The result holds only [`Op::Set`] entries.
pub fn merge(daemon: Daemon, sources: &[&[Entry]]) -> Result<Vec<Entry>, ConfigError> {
    let mut out: Vec<(&'static str, Entry)> = Vec::new();
    for source in sources {
        let mut seen: HashSet<&'static str> = HashSet::new();
        for e in source.iter() {
            let group = resolve(daemon, e)?.group();
            let first = seen.insert(group);
            match e.op {
                Op::Clear => out.retain(|(g, _)| *g != group),
                Op::Set | Op::Append => {
                    if first && e.op == Op::Set {
                        out.retain(|(g, _)| *g != group);
                    }
                    let mut e = e.clone();
                    e.op = Op::Set;
                    out.push((group, e));
                }
            }
        }
    }
    Ok(out.into_iter().map(|(_, e)| e).collect())
}

/// A daemon's validated configuration.
pub trait DaemonConfig: Sized {
    /// Which daemon's key table applies.
    const DAEMON: Daemon;
    /// Validates merged entries (see [`merge`]); `+`/`/` operations are ignored.
    fn from_entries(entries: &[Entry]) -> Result<Self, ConfigError>;
    /// The part every daemon shares.
    fn common(&self) -> &CommonConfig;
}

/// Keys every daemon accepts.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct CommonConfig {
    /// `DataDirectory`.
    pub data_directory: Option<PathBuf>,
    /// `Log` lines, in order; empty means tor's default, [`LogSpec::default_spec`].
    pub logs: Vec<LogSpec>,
    /// `SafeLogging` (default 1).
    pub safe_logging: SafeLogging,
    /// `Nickname`.
    pub nickname: Option<String>,
    /// `ContactInfo`.
    pub contact_info: Option<String>,
    /// `TestingTorNetwork`.
    pub testing_tor_network: bool,
    /// `DirAuthority` lines; empty means the public network's authorities.
    pub dir_authorities: Vec<DirAuthority>,
}

/// Walks entries for one daemon: key lookup, once-only checks, value errors with location.
struct Walk {
    daemon: Daemon,
    seen: HashMap<&'static str, Location>,
}

impl Walk {
    fn new(daemon: Daemon) -> Self {
        Walk {
            daemon,
            seen: HashMap::new(),
        }
    }

    /// Looks the key up and enforces "at most once" for non-repeatable keys.
    fn spec(&mut self, e: &Entry) -> Result<&'static KeySpec, ConfigError> {
        let spec = resolve(self.daemon, e)?;
        if !spec.repeat {
            if let Some(first) = self.seen.get(spec.name) {
                return Err(ConfigError::Repeated {
                    location: e.location.clone(),
                    key: spec.name,
                    first: first.clone(),
                });
            }
            self.seen.insert(spec.name, e.location.clone());
        }
        Ok(spec)
    }

    fn location_of(&self, key: &str) -> Option<&Location> {
        self.seen.get(key)
    }
}

/// Attaches the location, key and expected syntax to a value parser's error.
fn val<T>(spec: &KeySpec, e: &Entry, r: VResult<T>) -> Result<T, ConfigError> {
    r.map_err(|reason| ConfigError::BadValue {
        location: e.location.clone(),
        key: spec.name,
        value: e.value.clone(),
        reason,
        hint: Some(format!("{} {}", spec.name, spec.syntax)),
    })
}

impl CommonConfig {
    /// Applies a common key; `Ok(false)` if `spec` is not a common key.
    fn apply(&mut self, spec: &KeySpec, e: &Entry) -> Result<bool, ConfigError> {
        let v = e.value.as_str();
        match spec.key {
            Key::DataDirectory => self.data_directory = Some(val(spec, e, parse_path(v))?),
            Key::Log => self.logs.push(val(spec, e, parse_log(v))?),
            Key::SafeLogging => self.safe_logging = val(spec, e, parse_safe_logging(v))?,
            Key::Nickname => self.nickname = Some(val(spec, e, parse_nickname(v))?),
            Key::ContactInfo => self.contact_info = Some(v.to_string()),
            Key::TestingTorNetwork => self.testing_tor_network = val(spec, e, parse_bool(v))?,
            Key::DirAuthority => self
                .dir_authorities
                .push(val(spec, e, parse_dir_authority(v))?),
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Checks between common keys (tor refuses TestingTorNetwork with the default authorities).
    fn check(&self, walk: &Walk) -> Result<(), ConfigError> {
        if let (true, true, Some(loc)) = (
            self.testing_tor_network,
            self.dir_authorities.is_empty(),
            walk.location_of("TestingTorNetwork"),
        ) {
            return Err(ConfigError::Inconsistent {
                location: loc.clone(),
                key: "TestingTorNetwork",
                problem: "needs DirAuthority lines naming the private network's authorities".into(),
            });
        }
        Ok(())
    }
}

/// `oniongate-relay`'s configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct RelayConfig {
    /// Common keys.
    pub common: CommonConfig,
    /// `ORPort` lines.
    pub or_ports: Vec<OrPortConfig>,
    /// `Address` lines.
    pub addresses: Vec<String>,
    /// `ExitRelay` (default auto).
    pub exit_relay: AutoBool,
    /// `ExitPolicy` items, all lines concatenated in order.
    pub exit_policy: Vec<PolicyRule>,
    /// `PublishServerDescriptor` (default v3).
    pub publish_server_descriptor: PublishDescriptor,
    /// `DirPort` lines.
    pub dir_ports: Vec<OrPortConfig>,
    /// `DirCache` (default 1).
    pub dir_cache: bool,
    /// `AuthoritativeDirectory`.
    pub authoritative_directory: bool,
    /// `V3AuthoritativeDirectory`.
    pub v3_authoritative_directory: bool,
    /// `AssumeReachable`.
    pub assume_reachable: bool,
    /// `ExitPolicyRejectPrivate` (default 1).
    pub exit_policy_reject_private: bool,
    // --- directory authority (unit dirauth)
    /// The directory-authority keys (`V3Auth*`, `TestingDirAuthVote*`, ...).
    pub dirauth: super::dirauth_opts::DirAuthOptions,
}

impl DaemonConfig for RelayConfig {
    const DAEMON: Daemon = Daemon::Relay;

    fn from_entries(entries: &[Entry]) -> Result<Self, ConfigError> {
        let mut walk = Walk::new(Self::DAEMON);
        let mut c = RelayConfig {
            common: CommonConfig::default(),
            or_ports: Vec::new(),
            addresses: Vec::new(),
            exit_relay: AutoBool::Auto,
            exit_policy: Vec::new(),
            publish_server_descriptor: PublishDescriptor::default(),
            dir_ports: Vec::new(),
            dir_cache: true,
            authoritative_directory: false,
            v3_authoritative_directory: false,
            assume_reachable: false,
            exit_policy_reject_private: true,
            dirauth: Default::default(),
        };
        for e in entries {
            let spec = walk.spec(e)?;
            if c.common.apply(spec, e)? {
                continue;
            }
            // --- directory authority (unit dirauth)
            if c.dirauth.apply(spec, e)? {
                continue;
            }
            let v = e.value.as_str();
            match spec.key {
                Key::OrPort => c.or_ports.push(val(spec, e, parse_or_port(v))?),
                Key::Address => c.addresses.push(val(spec, e, parse_address(v))?),
                Key::ExitRelay => c.exit_relay = val(spec, e, parse_auto_bool(v))?,
                Key::ExitPolicy => c.exit_policy.extend(val(spec, e, parse_exit_policy(v))?),
                Key::PublishServerDescriptor => {
                    c.publish_server_descriptor = val(spec, e, parse_publish(v))?
                }
                Key::DirPort => c.dir_ports.push(val(spec, e, parse_or_port(v))?),
                Key::DirCache => c.dir_cache = val(spec, e, parse_bool(v))?,
                Key::AuthoritativeDirectory => {
                    c.authoritative_directory = val(spec, e, parse_bool(v))?
                }
                Key::V3AuthoritativeDirectory => {
                    c.v3_authoritative_directory = val(spec, e, parse_bool(v))?
                }
                Key::AssumeReachable => c.assume_reachable = val(spec, e, parse_bool(v))?,
                Key::ExitPolicyRejectPrivate => {
                    c.exit_policy_reject_private = val(spec, e, parse_bool(v))?
                }
                Key::RelaySocksPort => {
                    let no_socks = parse_listen(v, true).ok() == Some(ListenAddr::Disabled);
                    val(
                        spec,
                        e,
                        if no_socks {
                            Ok(())
                        } else {
                            Err("a relay has no SOCKS port; only SocksPort 0 is accepted (run oniongate-client for SOCKS)".into())
                        },
                    )?
                }
                _ => unreachable_key(spec, e)?,
            }
        }
        c.common.check(&walk)?;
        let auth = |k: &'static str, problem: &str| {
            walk.location_of(k).map(|loc| ConfigError::Inconsistent {
                location: loc.clone(),
                key: k,
                problem: problem.into(),
            })
        };
        if c.authoritative_directory && !c.v3_authoritative_directory {
            if let Some(e) = auth(
                "AuthoritativeDirectory",
                "an authority must also set V3AuthoritativeDirectory 1",
            ) {
                return Err(e);
            }
        }
        if c.v3_authoritative_directory && !c.authoritative_directory {
            if let Some(e) = auth(
                "V3AuthoritativeDirectory",
                "needs AuthoritativeDirectory 1 as well",
            ) {
                return Err(e);
            }
        }
        Ok(c)
    }

    fn common(&self) -> &CommonConfig {
        &self.common
    }
}

/// A key the table gives this daemon but its validator does not handle: a bug in this module,
/// reported instead of panicking.
fn unreachable_key(spec: &KeySpec, e: &Entry) -> Result<(), ConfigError> {
    Err(ConfigError::Inconsistent {
        location: e.location.clone(),
        key: spec.name,
        problem: "internal error: key has no validator".into(),
    })
}

/// `oniongate-client`'s configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientConfig {
    /// Common keys.
    pub common: CommonConfig,
    /// `SocksPort` lines; empty means tor's default, 127.0.0.1:9050.
    pub socks_ports: Vec<SocksPortConfig>,
    /// `UDPForward` lines.
    pub udp_forwards: Vec<UdpForward>,
    /// `UseEntryGuards` (default 1).
    pub use_entry_guards: bool,
    // --- client unit (circuit manager, directory manager, guards)
    /// `MaxCircuitDirtiness` in seconds (default 600).
    pub max_circuit_dirtiness: u64,
    /// `PathsNeededToBuildCircuits` (0.25–0.95); `None` (or `-1`): the consensus
    /// parameter `min_paths_for_circs_pct`, default 0.6.
    pub paths_needed: Option<f64>,
    /// `NumEntryGuards`; 0: the consensus parameter.
    pub num_entry_guards: u32,
}

impl DaemonConfig for ClientConfig {
    const DAEMON: Daemon = Daemon::Client;

    fn from_entries(entries: &[Entry]) -> Result<Self, ConfigError> {
        let mut walk = Walk::new(Self::DAEMON);
        let mut c = ClientConfig {
            common: CommonConfig::default(),
            socks_ports: Vec::new(),
            udp_forwards: Vec::new(),
            use_entry_guards: true,
            max_circuit_dirtiness: 600,
            paths_needed: None,
            num_entry_guards: 0,
        };
        let mut locals: HashMap<std::net::SocketAddr, Location> = HashMap::new();
        for e in entries {
            let spec = walk.spec(e)?;
            if c.common.apply(spec, e)? {
                continue;
            }
            let v = e.value.as_str();
            match spec.key {
                Key::SocksPort => c.socks_ports.push(val(spec, e, parse_socks_port(v))?),
                Key::UdpForward => {
                    let f = val(spec, e, parse_udp_forward(v))?;
                    if let Some(first) = locals.insert(f.local, e.location.clone()) {
                        return Err(ConfigError::Inconsistent {
                            location: e.location.clone(),
                            key: spec.name,
                            problem: format!(
                                "local address {} already forwarded at {first}",
                                f.local
                            ),
                        });
                    }
                    c.udp_forwards.push(f);
                }
                Key::UseEntryGuards => c.use_entry_guards = val(spec, e, parse_bool(v))?,
                // --- client unit
                Key::MaxCircuitDirtiness => {
                    c.max_circuit_dirtiness = val(spec, e, super::dirauth_opts::parse_interval(v))?
                }
                Key::PathsNeededToBuildCircuits => {
                    c.paths_needed = val(spec, e, parse_paths_needed(v))?
                }
                Key::NumEntryGuards => {
                    c.num_entry_guards = val(
                        spec,
                        e,
                        v.parse().map_err(|_| format!("{v:?} is not a number")),
                    )?
                }
                _ => unreachable_key(spec, e)?,
            }
        }
        c.common.check(&walk)?;
        Ok(c)
    }

    fn common(&self) -> &CommonConfig {
        &self.common
    }
}

/// One onion-service block (`HiddenServiceDir` and the keys after it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OnionServiceConfig {
    /// `HiddenServiceDir`: where its keys and hostname live.
    pub dir: PathBuf,
    /// `HiddenServiceType` (default stream).
    pub kind: ServiceType,
    /// `HiddenServicePort` lines (at least one).
    pub ports: Vec<ServicePort>,
    /// Where the block starts.
    pub location: Location,
}

/// `oniongate-service`'s configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceConfig {
    /// Common keys.
    pub common: CommonConfig,
    /// The onion services, in file order.
    pub services: Vec<OnionServiceConfig>,
}

impl DaemonConfig for ServiceConfig {
    const DAEMON: Daemon = Daemon::Service;

    fn from_entries(entries: &[Entry]) -> Result<Self, ConfigError> {
        let mut walk = Walk::new(Self::DAEMON);
        let mut c = ServiceConfig {
            common: CommonConfig::default(),
            services: Vec::new(),
        };
        // Once-per-block keys: where each was set in the current block.
        let mut block_seen: HashMap<&'static str, Location> = HashMap::new();
        for e in entries {
            let spec = walk.spec(e)?;
            if c.common.apply(spec, e)? {
                continue;
            }
            let v = e.value.as_str();
            if spec.key == Key::HiddenServiceDir {
                let dir = val(spec, e, parse_path(v))?;
                if let Some(prev) = c.services.iter().find(|s| s.dir == dir) {
                    return Err(ConfigError::Inconsistent {
                        location: e.location.clone(),
                        key: spec.name,
                        problem: format!(
                            "directory already used by the service at {}",
                            prev.location
                        ),
                    });
                }
                check_has_ports(c.services.last())?;
                c.services.push(OnionServiceConfig {
                    dir,
                    kind: ServiceType::Stream,
                    ports: Vec::new(),
                    location: e.location.clone(),
                });
                block_seen.clear();
                continue;
            }
            let Some(svc) = c.services.last_mut() else {
                return Err(ConfigError::OutsideServiceBlock {
                    location: e.location.clone(),
                    key: spec.name,
                });
            };
            if matches!(spec.key, Key::HiddenServiceType | Key::HiddenServiceVersion) {
                if let Some(first) = block_seen.insert(spec.name, e.location.clone()) {
                    return Err(ConfigError::Repeated {
                        location: e.location.clone(),
                        key: spec.name,
                        first,
                    });
                }
            }
            match spec.key {
                Key::HiddenServicePort => svc.ports.push(val(spec, e, parse_service_port(v))?),
                Key::HiddenServiceType => svc.kind = val(spec, e, parse_service_type(v))?,
                Key::HiddenServiceVersion => val(
                    spec,
                    e,
                    if v == "3" {
                        Ok(())
                    } else {
                        Err("only version 3 onion services exist now".into())
                    },
                )?,
                _ => unreachable_key(spec, e)?,
            }
        }
        check_has_ports(c.services.last())?;
        c.common.check(&walk)?;
        Ok(c)
    }

    fn common(&self) -> &CommonConfig {
        &self.common
    }
}

fn check_has_ports(svc: Option<&OnionServiceConfig>) -> Result<(), ConfigError> {
    match svc {
        Some(s) if s.ports.is_empty() => Err(ConfigError::Inconsistent {
            location: s.location.clone(),
            key: "HiddenServiceDir",
            problem: "this onion service has no HiddenServicePort line".into(),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
#[path = "daemon_tests.rs"]
mod tests;

/// `PathsNeededToBuildCircuits`: `-1` (use the consensus) or a fraction, which tor clamps
/// to 0.25–0.95.
fn parse_paths_needed(v: &str) -> VResult<Option<f64>> {
    let x: f64 = v.parse().map_err(|_| format!("{v:?} is not a number"))?;
    if x < 0.0 {
        return Ok(None);
    }
    Ok(Some(x.clamp(0.25, 0.95)))
}
