//! Publishing the relay's server descriptor to the directory authorities (dir-spec §2.1,
//! §4.1; C tor's `router.c` and `relay_periodic.c`).
//!
//! As C tor: the descriptor is built from the configuration and the current keys
//! ([`crate::dir::doc::routerdesc::build_descriptor`]) and POSTed to `/tor/` on every
//! authority's DirPort (C tor relays upload over a direct DirPort connection when the
//! authority has one: `directory_post_to_dirservers`, `DIRIND_DIRECT_CONN`), with an
//! `X-Desc-Gen-Reason` header. The check runs every 60 s (`CHECK_DESCRIPTOR_INTERVAL`); a
//! new descriptor is uploaded when its content changes (keys rotated, address, ports) and
//! at least every 18 hours (`FORCE_REGENERATE_DESCRIPTOR_INTERVAL`). Failed uploads are
//! retried per authority with exponential backoff. Results are logged at notice level like
//! tor ("Uploaded descriptor to ..." or the authority's rejection reason).
//!
//! Bandwidth: we do not measure throughput yet, so `observed` is a configured floor (C
//! tor's authorities give a relay with observed 0 no weight). Not here: extra-info
//! documents, bridge descriptors, reachability self-tests.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV6};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::config::{AutoBool, PolicyAction, PolicyAddr, PolicyRule, RelayConfig};
use crate::dir::doc::routerdesc::{build_descriptor, platform_string, Bandwidth, DescriptorParams};
use crate::dir::http::Request;
use crate::keys::RelayKeys;
use crate::rt::dirclient::{self, DirClientError, FetchOptions};

/// C tor's `FORCE_REGENERATE_DESCRIPTOR_INTERVAL`.
pub const FORCE_REGENERATE_INTERVAL: Duration = Duration::from_secs(18 * 60 * 60);
/// C tor's `CHECK_DESCRIPTOR_INTERVAL`.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(60);
/// C tor's default `BandwidthRate` and `BandwidthBurst` (1 GByte/s).
pub const DEFAULT_RATE: u64 = 1 << 30;
/// The observed bandwidth we report while we do not measure it (bytes/s).
pub const DEFAULT_OBSERVED_FLOOR: u64 = 1 << 20;

/// Why a descriptor could not be built.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// No IPv4 address to advertise (no `Address`, ORPort bound to a wildcard).
    #[error("no IPv4 address to advertise: set Address or bind ORPort to an address")]
    NoAddress,
    /// The descriptor builder refused the parameters.
    #[error("cannot build descriptor: {0}")]
    Build(String),
}

/// One authority to upload to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadTarget {
    /// Its nickname (for logs).
    pub nickname: String,
    /// Its DirPort.
    pub dir_addr: SocketAddr,
}

/// Called with each new descriptor (e.g. to serve it at `/tor/server/authority`).
pub type OnBuilt = Arc<dyn Fn(&str) + Send + Sync>;

/// What the publisher needs besides the keys.
#[derive(Clone)]
pub struct PublishConfig {
    /// Authorities to upload to.
    pub targets: Vec<UploadTarget>,
    /// Descriptor parameters; `published` and `uptime` are refreshed at each build.
    pub params: DescriptorParams,
    /// When the relay started (for `uptime`).
    pub started: SystemTime,
    /// How often to check whether to upload.
    pub check_interval: Duration,
    /// Upload a fresh descriptor at least this often.
    pub force_interval: Duration,
    /// Per-request limits.
    pub fetch: FetchOptions,
    /// Called with each descriptor built.
    pub on_built: Option<OnBuilt>,
}

impl std::fmt::Debug for PublishConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublishConfig")
            .field("targets", &self.targets)
            .field("params", &self.params)
            .field("check_interval", &self.check_interval)
            .field("force_interval", &self.force_interval)
            .finish_non_exhaustive()
    }
}

/// The expanded exit policy a descriptor publishes (C tor's `policies_parse_exit_policy`
/// in our semantics): `reject *:*` for a non-exit; otherwise `reject private:*` and our own
/// addresses first when `ExitPolicyRejectPrivate` is on, then the configured rules, then
/// `reject *:*` (we do not append C tor's default port list: our default is no exit).
/// `accept *` rules become `accept *4` (no IPv6 exits, as C tor without `IPv6Exit 1`).
pub fn expanded_exit_policy(config: &RelayConfig, my_addrs: &[IpAddr]) -> Vec<PolicyRule> {
    let reject_all = PolicyRule {
        action: PolicyAction::Reject,
        addr: PolicyAddr::Any,
        port_lo: 1,
        port_hi: 65535,
    };
    if config.exit_relay == AutoBool::No || config.exit_policy.is_empty() {
        return vec![reject_all];
    }
    let mut rules = Vec::new();
    if config.exit_policy_reject_private {
        rules.push(PolicyRule {
            addr: PolicyAddr::Private,
            ..reject_all
        });
        for a in my_addrs {
            let prefix = if a.is_ipv4() { 32 } else { 128 };
            rules.push(PolicyRule {
                addr: PolicyAddr::Net { addr: *a, prefix },
                ..reject_all
            });
        }
    }
    // We have no IPv6Exit option: like C tor with IPv6Exit off, an `accept *` rule only
    // opens IPv4, so the descriptor carries no ipv6-policy line.
    rules.extend(config.exit_policy.iter().map(|r| match (r.action, r.addr) {
        (PolicyAction::Accept, PolicyAddr::Any) => PolicyRule {
            addr: PolicyAddr::AnyV4,
            ..*r
        },
        _ => *r,
    }));
    rules.push(reject_all);
    rules
}

/// The IPv4 address to advertise: the first IPv4 `Address`, else a non-wildcard IPv4
/// ORPort address.
pub fn advertised_ipv4(config: &RelayConfig, or_addrs: &[SocketAddr]) -> Option<Ipv4Addr> {
    config
        .addresses
        .iter()
        .filter_map(|a| a.parse::<Ipv4Addr>().ok())
        .chain(or_addrs.iter().filter_map(|a| match a.ip() {
            IpAddr::V4(v) if !v.is_unspecified() => Some(v),
            _ => None,
        }))
        .next()
}

/// Descriptor parameters from the configuration and the bound ports.
pub fn descriptor_params(
    config: &RelayConfig,
    or_addrs: &[SocketAddr],
    dir_port: u16,
    tunnelled_dir_server: bool,
) -> Result<DescriptorParams, PublishError> {
    let ipv4 = advertised_ipv4(config, or_addrs).ok_or(PublishError::NoAddress)?;
    let or_port = or_addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(or_addrs.first())
        .map_or(0, SocketAddr::port);
    let ipv6_or = or_addrs.iter().find_map(|a| match a {
        SocketAddr::V6(v) if !v.ip().is_unspecified() => {
            Some(SocketAddrV6::new(*v.ip(), v.port(), 0, 0))
        }
        _ => None,
    });
    let my_addrs: Vec<IpAddr> = std::iter::once(IpAddr::V4(ipv4))
        .chain(ipv6_or.map(|a| IpAddr::V6(*a.ip())))
        .collect();
    Ok(DescriptorParams {
        nickname: config
            .common
            .nickname
            .clone()
            .unwrap_or_else(|| "Unnamed".into()),
        ipv4,
        or_port,
        dir_port,
        ipv6_or,
        platform: platform_string(env!("CARGO_PKG_VERSION")),
        published: 0,
        uptime: 0,
        bandwidth: Bandwidth {
            average: DEFAULT_RATE,
            burst: DEFAULT_RATE,
            observed: DEFAULT_OBSERVED_FLOOR,
        },
        contact: config.common.contact_info.clone(),
        family: Vec::new(),
        exit_policy: expanded_exit_policy(config, &my_addrs),
        tunnelled_dir_server,
        hidden_service_dir: false,
    })
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// What, when it changes, calls for a new descriptor: the parameters (without times) and
/// the keys that go into it.
fn change_key(keys: &RelayKeys, p: &DescriptorParams) -> String {
    let mut q = p.clone();
    q.published = 0;
    q.uptime = 0;
    format!(
        "{q:?}|{}|{:?}",
        hex::encode(keys.signing_cert()),
        keys.onion_key_set_at()
    )
}

/// Uploads `desc` to one authority; the authority's message on success.
pub async fn upload_one(
    desc: &str,
    target: &UploadTarget,
    reason: &str,
    opts: &FetchOptions,
) -> Result<String, DirClientError> {
    let mut req = Request::post(
        "/tor/",
        &target.dir_addr.to_string(),
        desc.as_bytes().to_vec(),
    );
    req.headers
        .push(("X-Desc-Gen-Reason".into(), reason.to_owned()));
    let tcp = tokio::time::timeout(
        opts.timeout,
        tokio::net::TcpStream::connect(target.dir_addr),
    )
    .await
    .map_err(|_| DirClientError::Timeout)??;
    let resp = dirclient::request(tcp, &req, opts).await?;
    if resp.status == 200 {
        Ok(resp.reason)
    } else {
        Err(DirClientError::Status {
            code: resp.status,
            reason: resp.reason,
        })
    }
}

/// Per-authority upload state.
struct TargetState {
    /// The change key of the descriptor this authority accepted, if any.
    accepted: Option<String>,
    /// When the next attempt may happen (backoff).
    next_try: SystemTime,
    backoff: Duration,
}

/// Runs the publisher until dropped: builds, uploads, re-uploads on change or every
/// `force_interval`, with per-authority backoff.
pub async fn run(keys: Arc<Mutex<RelayKeys>>, cfg: PublishConfig) {
    let mut states: Vec<TargetState> = cfg
        .targets
        .iter()
        .map(|_| TargetState {
            accepted: None,
            next_try: SystemTime::UNIX_EPOCH,
            backoff: Duration::from_secs(5),
        })
        .collect();
    let mut built_at = SystemTime::UNIX_EPOCH;
    let mut current: Option<(String, String)> = None; // (change key, descriptor)
    let mut reason = "initial descriptor";
    loop {
        let now = SystemTime::now();
        let mut params = cfg.params.clone();
        params.published = unix(now);
        params.uptime = now.duration_since(cfg.started).map_or(0, |d| d.as_secs());
        let built = match keys.lock() {
            Ok(k) => {
                let key = change_key(&k, &params);
                let stale =
                    now.duration_since(built_at).unwrap_or(Duration::ZERO) >= cfg.force_interval;
                match &current {
                    Some((old, _)) if *old == key && !stale => None,
                    _ => {
                        if current.is_some() {
                            reason = if stale {
                                "time for new descriptor"
                            } else {
                                "config or keys changed"
                            };
                        }
                        Some(build_descriptor(&k, &params).map(|d| (key, d)))
                    }
                }
            }
            Err(_) => return,
        };
        match built {
            Some(Ok(c)) => {
                if let Some(f) = &cfg.on_built {
                    f(&c.1);
                }
                built_at = now;
                current = Some(c);
                for s in &mut states {
                    s.next_try = now;
                    s.backoff = Duration::from_secs(5);
                }
            }
            Some(Err(e)) => tracing::warn!(error = %e, "cannot build our descriptor"),
            None => {}
        }
        if let Some((key, desc)) = &current {
            for (t, s) in cfg.targets.iter().zip(states.iter_mut()) {
                if s.accepted.as_ref() == Some(key) || SystemTime::now() < s.next_try {
                    continue;
                }
                match upload_one(desc, t, reason, &cfg.fetch).await {
                    Ok(msg) => {
                        tracing::info!(
                            "Uploaded descriptor to directory authority {} ({}): {msg}",
                            t.nickname,
                            t.dir_addr
                        );
                        s.accepted = Some(key.clone());
                    }
                    Err(e) => {
                        tracing::warn!(
                            "Descriptor upload to directory authority {} ({}) failed: {e}; retrying in {:?}",
                            t.nickname,
                            t.dir_addr,
                            s.backoff
                        );
                        s.next_try = SystemTime::now() + s.backoff;
                        s.backoff = (s.backoff * 2).min(Duration::from_secs(600));
                    }
                }
            }
        }
        let next_retry = states
            .iter()
            .filter(|s| {
                current
                    .as_ref()
                    .is_some_and(|(k, _)| s.accepted.as_ref() != Some(k))
            })
            .map(|s| {
                s.next_try
                    .duration_since(SystemTime::now())
                    .unwrap_or(Duration::ZERO)
            })
            .min()
            .unwrap_or(cfg.check_interval);
        tokio::time::sleep(next_retry.clamp(Duration::from_millis(200), cfg.check_interval)).await;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::{merge, parse_torrc, Daemon, DaemonConfig};

    fn config(extra: &str) -> RelayConfig {
        let text = format!("Nickname t\nORPort 127.0.0.1:9001\n{extra}");
        let entries = parse_torrc(&text, "t").unwrap();
        RelayConfig::from_entries(&merge(Daemon::Relay, &[&entries]).unwrap()).unwrap()
    }

    #[test]
    fn exit_policy_expansion() {
        let me = [IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))];
        let non_exit = expanded_exit_policy(&config(""), &me);
        assert_eq!(non_exit.len(), 1);
        assert_eq!(non_exit[0].to_string(), "reject *:*");
        let c = config("ExitRelay 1\nExitPolicy accept *:80\n");
        let rules: Vec<String> = expanded_exit_policy(&c, &me)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            rules,
            [
                "reject private:*",
                "reject 192.0.2.1:*",
                "accept *4:80",
                "reject *:*"
            ]
        );
        // No IPv6 exit: the summary of the IPv6 rules is reject-all, so no ipv6-policy.
        let v6 = crate::dir::doc::policy::summarize_v6(&expanded_exit_policy(&c, &me));
        assert!(v6.allows_none(), "{v6}");
        let c = config("ExitRelay 1\nExitPolicyRejectPrivate 0\nExitPolicy accept *:80\n");
        assert_eq!(expanded_exit_policy(&c, &me).len(), 2);
        let c = config("ExitRelay 0\nExitPolicy accept *:80\n");
        assert_eq!(expanded_exit_policy(&c, &me).len(), 1);
    }

    #[test]
    fn params_from_config() {
        let or: Vec<SocketAddr> = vec!["127.0.0.1:9001".parse().unwrap()];
        let p = descriptor_params(&config("ContactInfo me"), &or, 9030, true).unwrap();
        assert_eq!(
            (p.ipv4, p.or_port, p.dir_port),
            (Ipv4Addr::LOCALHOST, 9001, 9030)
        );
        assert_eq!(p.contact.as_deref(), Some("me"));
        assert!(p.tunnelled_dir_server && p.bandwidth.observed > 0);
        let p = descriptor_params(&config("Address 198.51.100.7"), &or, 0, false).unwrap();
        assert_eq!(p.ipv4, Ipv4Addr::new(198, 51, 100, 7));
        let wild: Vec<SocketAddr> = vec!["0.0.0.0:9001".parse().unwrap()];
        assert!(matches!(
            descriptor_params(&config(""), &wild, 0, false),
            Err(PublishError::NoAddress)
        ));
    }
}
