//! The authority's own relay: it runs as an ordinary `rt::relay` with the authority as its
//! directory source, and its descriptor is handed to the authority directly and rebuilt
//! every [`REPUBLISH`] (well within the onion-key grace period after a rotation, and
//! before C tor's 18-hour StaleDesc), so the authority lists itself with the Authority flag.
//!
//! The descriptor's exit policy: `reject *:*` unless `ExitRelay 1` with an `ExitPolicy`,
//! then C tor's private-address rejects (with `ExitPolicyRejectPrivate 1`), the configured
//! rules and a final `reject *:*`.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rand::rngs::OsRng;

use super::keygen::{advertised_ipv4, load_authority_keys};
use super::service::{unix_now, AuthorityService};
use super::source::AuthoritySource;
use super::{authority_config, service_options};
use crate::config::{AutoBool, PolicyAction, PolicyAddr, PolicyRule, RelayConfig};
use crate::dir::doc::routerdesc::{build_descriptor, platform_string, Bandwidth, DescriptorParams};
use crate::dir::doc::token::DocError;
use crate::dir::serve::DirSource;
use crate::keys::{KeyPolicy, RelayKeys};
use crate::rt::relay::{Relay, RelayHandle, RelayOptions};
use crate::rt::relay_keys::RelayKeyDir;
use crate::rt::DaemonError;

/// The longest the authority keeps its own descriptor before rebuilding it.
pub const REPUBLISH: Duration = Duration::from_secs(3600);

/// Advertised bandwidth of the authority's relay (bytes/s): 1 MB/s, observed 500 kB/s.
const BANDWIDTH: Bandwidth = Bandwidth {
    average: 1_000_000,
    burst: 2_000_000,
    observed: 500_000,
};

fn rule(action: PolicyAction, addr: PolicyAddr) -> PolicyRule {
    PolicyRule {
        action,
        addr,
        port_lo: 1,
        port_hi: 65535,
    }
}

/// The descriptor's IPv4 exit policy.
pub fn descriptor_policy(config: &RelayConfig, my_ip: Ipv4Addr) -> Vec<PolicyRule> {
    let mut out = Vec::new();
    if config.exit_relay == AutoBool::Yes && !config.exit_policy.is_empty() {
        if config.exit_policy_reject_private {
            for (a, p) in [
                ([0, 0, 0, 0], 8),
                ([169, 254, 0, 0], 16),
                ([127, 0, 0, 0], 8),
                ([192, 168, 0, 0], 16),
                ([10, 0, 0, 0], 8),
                ([172, 16, 0, 0], 12),
            ] {
                out.push(rule(
                    PolicyAction::Reject,
                    PolicyAddr::Net {
                        addr: IpAddr::from(a),
                        prefix: p,
                    },
                ));
            }
            out.push(rule(
                PolicyAction::Reject,
                PolicyAddr::Net {
                    addr: IpAddr::V4(my_ip),
                    prefix: 32,
                },
            ));
        }
        out.extend(
            config
                .exit_policy
                .iter()
                .filter(|r| !matches!(r.addr, PolicyAddr::AnyV6 | PolicyAddr::Private))
                .filter(|r| {
                    !matches!(
                        r.addr,
                        PolicyAddr::Net {
                            addr: IpAddr::V6(_),
                            ..
                        }
                    )
                })
                .copied(),
        );
    }
    out.push(rule(PolicyAction::Reject, PolicyAddr::AnyV4));
    out
}

/// Builds the authority relay's descriptor.
pub fn own_descriptor(
    config: &RelayConfig,
    keys: &RelayKeys,
    ip: Ipv4Addr,
    or_port: u16,
    dir_port: u16,
    uptime: u64,
) -> Result<String, DocError> {
    let p = DescriptorParams {
        nickname: config
            .common
            .nickname
            .clone()
            .unwrap_or_else(|| "Unnamed".into()),
        ipv4: ip,
        or_port,
        dir_port,
        ipv6_or: None,
        platform: platform_string(crate::VERSION),
        published: unix_now(),
        uptime,
        bandwidth: BANDWIDTH,
        contact: config.common.contact_info.clone(),
        family: Vec::new(),
        exit_policy: descriptor_policy(config, ip),
        tunnelled_dir_server: true,
        hidden_service_dir: true,
    };
    build_descriptor(keys, &p)
}

/// A running authority service (without its relay): pass [`AuthorityHandle::source`] as the
/// relay's `RelayOptions::dir_source`.
#[derive(Debug, Clone)]
pub struct AuthorityHandle {
    service: Arc<AuthorityService>,
}

impl AuthorityHandle {
    /// The directory source to serve on the relay's DirPort and BEGIN_DIR streams.
    pub fn source(&self) -> Arc<dyn DirSource> {
        Arc::new(AuthoritySource(self.service.clone()))
    }

    /// The service (consensuses, uploads, ...).
    pub fn service(&self) -> &Arc<AuthorityService> {
        &self.service
    }

    /// Stops the service and its descriptor task.
    pub fn stop(&self) {
        self.service.stop();
    }
}

/// A running authority: its relay and its service.
#[derive(Debug)]
pub struct AuthorityRelay {
    /// The relay.
    pub relay: RelayHandle,
    /// The authority.
    pub service: Arc<AuthorityService>,
}

impl AuthorityRelay {
    /// Stops both; returns the relay's count of tasks that did not stop.
    pub async fn shutdown(self) -> usize {
        self.service.stop();
        self.relay.shutdown().await
    }
}

fn load_keys(config: &RelayConfig) -> Result<RelayKeys, DaemonError> {
    let data = config
        .common
        .data_directory
        .clone()
        .ok_or("an authority needs a DataDirectory")?;
    let nick = config
        .common
        .nickname
        .clone()
        .unwrap_or_else(|| "Unnamed".into());
    Ok(RelayKeyDir::open(data)?.load_or_create(
        &nick,
        KeyPolicy::default(),
        SystemTime::now(),
        &mut OsRng,
    )?)
}

/// Starts the authority of a relay configured with `AuthoritativeDirectory 1`: refuses
/// without the authority keys (naming `--keygen-authority`), starts the service (schedule,
/// reachability tests, persistence), and gives it the relay's own descriptor, rebuilt every
/// [`REPUBLISH`]. Start the relay afterwards with [`AuthorityHandle::source`] as its
/// directory source.
pub async fn start_authority(config: &RelayConfig) -> Result<AuthorityHandle, DaemonError> {
    let keys = Arc::new(load_authority_keys(config)?);
    let cfg2 = config.clone();
    let relay_keys = tokio::task::spawn_blocking(move || load_keys(&cfg2)).await??;
    let ip = advertised_ipv4(config).ok_or("an authority needs an IPv4 Address")?;
    let port_of = |ports: &[crate::config::OrPortConfig]| {
        ports.iter().find_map(|p| match p.addr {
            crate::config::ListenAddr::Port { port, .. } if !p.flags.no_advertise => Some(port),
            _ => None,
        })
    };
    let or_port = port_of(&config.or_ports).ok_or("an authority needs a numeric ORPort")?;
    let dir_port = port_of(&config.dir_ports).unwrap_or(0);
    let service = AuthorityService::start(
        authority_config(config, relay_keys.rsa_id(), or_port, dir_port),
        keys,
        config.common.data_directory.clone(),
        service_options(config),
    )?;
    let started = unix_now();
    let desc = own_descriptor(config, &relay_keys, ip, or_port, dir_port, 0)?;
    let r = service.add_own(&desc);
    if r.status != 200 {
        service.stop();
        return Err(format!("the authority refused its own descriptor: {}", r.message).into());
    }
    let svc = service.clone();
    let config = config.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = svc.wait_stopped() => return,
                _ = tokio::time::sleep(REPUBLISH) => {}
            }
            let cfg = config.clone();
            let built = tokio::task::spawn_blocking(move || {
                let k = load_keys(&cfg)?;
                Ok::<_, DaemonError>(own_descriptor(
                    &cfg,
                    &k,
                    ip,
                    or_port,
                    dir_port,
                    unix_now().saturating_sub(started),
                )?)
            })
            .await;
            match built {
                Ok(Ok(d)) => {
                    svc.add_own(&d);
                }
                Ok(Err(e)) => tracing::warn!(error = %e, "cannot rebuild own descriptor"),
                Err(e) => tracing::warn!(error = %e, "descriptor task failed"),
            }
        }
    });
    Ok(AuthorityHandle { service })
}

/// Starts `oniongate-relay` in authority mode: [`start_authority`], then the relay serving
/// it on its DirPort and BEGIN_DIR streams.
pub async fn start_authority_relay(
    config: RelayConfig,
    mut opts: RelayOptions,
) -> Result<AuthorityRelay, DaemonError> {
    let auth = start_authority(&config).await?;
    opts.dir_source = Some(auth.source());
    if opts.extend_allow_private.is_none() {
        opts.extend_allow_private = Some(config.common.testing_tor_network);
    }
    match Relay::start_with(config, opts).await {
        Ok(relay) => Ok(AuthorityRelay {
            relay,
            service: auth.service.clone(),
        }),
        Err(e) => {
            auth.stop();
            Err(e.into())
        }
    }
}
