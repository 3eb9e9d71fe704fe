//! The relay's directory side: what BEGIN_DIR and the DirPorts serve (the configured
//! [`super::RelayOptions::dir_source`], or a [`DirCache`] mirroring the `DirAuthority`
//! lines), the DirPort listeners, and descriptor publication ([`crate::rt::publish`]).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use tokio::net::TcpListener;

use super::{bind_listener, RelayError, RelayOptions, Shared};
use crate::config::RelayConfig;
use crate::dir::serve::DirSource;
use crate::ids::RsaIdentity;
use crate::keys::RelayKeys;
use crate::rt::dircache::{CacheAuthority, DirCache};
use crate::rt::dirclient::FetchOptions;
use crate::rt::{dirserve, publish};

/// The directory pieces decided at start.
pub(super) struct DirSetup {
    pub(super) authorities: Vec<CacheAuthority>,
    pub(super) cache: Option<Arc<DirCache>>,
    pub(super) source: Option<Arc<dyn DirSource>>,
    pub(super) listeners: Vec<TcpListener>,
    pub(super) addrs: Vec<SocketAddr>,
}

/// Chooses the source and binds the DirPorts (only with a source: C tor needs `DirCache 1`
/// for a DirPort too).
pub(super) fn setup(config: &RelayConfig, opts: &RelayOptions) -> Result<DirSetup, RelayError> {
    let authorities = CacheAuthority::from_config(&config.common.dir_authorities);
    let mut cache = None;
    let mut source = opts.dir_source.clone().filter(|_| config.dir_cache);
    if source.is_none() && config.dir_cache && opts.auto_dir_cache && !authorities.is_empty() {
        let c = DirCache::new(
            authorities.clone(),
            config.common.data_directory.clone(),
            FetchOptions::default(),
        );
        source = Some(c.clone() as Arc<dyn DirSource>);
        cache = Some(c);
    }
    let mut listeners = Vec::new();
    for p in config.dir_ports.iter().filter(|p| !p.flags.no_listen) {
        let Some(addr) = p.addr.socket_addr(IpAddr::V4(Ipv4Addr::UNSPECIFIED)) else {
            continue;
        };
        if source.is_none() {
            tracing::warn!(%addr, "DirPort configured without DirCache or a directory source; not listening");
            continue;
        }
        match bind_listener(addr) {
            Ok(l) => listeners.push(l),
            Err(source) if addr.is_ipv6() => {
                tracing::warn!(%addr, error = %source, "cannot listen; skipping this DirPort");
            }
            Err(source) => return Err(RelayError::Bind { addr, source }),
        }
    }
    let addrs = listeners
        .iter()
        .filter_map(|l| l.local_addr().ok())
        .collect();
    Ok(DirSetup {
        authorities,
        cache,
        source,
        listeners,
        addrs,
    })
}

/// Starts the cache's fetch loop, the publisher and the DirPort servers.
pub(super) fn spawn(
    dirs: DirSetup,
    config: &RelayConfig,
    shared: &Arc<Shared>,
    keys: &Arc<Mutex<RelayKeys>>,
    or_addrs: &[SocketAddr],
    rsa_id: RsaIdentity,
) {
    if let Some(c) = &dirs.cache {
        shared.spawn(c.clone().run());
    }
    if config.publish_server_descriptor.v3 && shared.opts.publish && !dirs.authorities.is_empty() {
        let dir_port = dirs.addrs.first().map_or(0, SocketAddr::port);
        match publish::descriptor_params(config, or_addrs, dir_port, dirs.source.is_some()) {
            Ok(params) => {
                let targets = dirs
                    .authorities
                    .iter()
                    .map(|a| publish::UploadTarget {
                        nickname: a.nickname.clone(),
                        dir_addr: a.dir_addr,
                    })
                    .collect();
                let pcfg = publish::PublishConfig {
                    targets,
                    params,
                    started: SystemTime::now(),
                    check_interval: publish::CHECK_INTERVAL,
                    force_interval: publish::FORCE_REGENERATE_INTERVAL,
                    fetch: FetchOptions::default(),
                    on_built: dirs.cache.clone().map(|c| {
                        Arc::new(move |d: &str| c.set_own_descriptor(rsa_id, d)) as publish::OnBuilt
                    }),
                };
                shared.spawn(publish::run(keys.clone(), pcfg));
            }
            Err(e) => tracing::warn!(error = %e, "not publishing a descriptor"),
        }
    }
    if let Some(src) = dirs.source {
        for l in dirs.listeners {
            shared.spawn(dirserve::run_dirport(
                l,
                src.clone(),
                dirserve::ServeOptions::default(),
            ));
        }
    }
}
