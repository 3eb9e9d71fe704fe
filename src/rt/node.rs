//! One relay node, as `oniongate-relay` runs it: everything a relay daemon starts, gathered
//! in one function so that the daemon (`relay/src/main.rs`) and the local test network
//! ([`super::testnet`]) start a node the same way.
//!
//! What a node runs, by configuration (tor(1) "SERVER OPTIONS", "DIRECTORY AUTHORITY SERVER
//! OPTIONS"):
//! - always the relay itself ([`super::relay::Relay::start_with`]: ORPorts, circuits, exits,
//!   key rotation);
//! - with `AuthoritativeDirectory 1` + `V3AuthoritativeDirectory 1`: the directory authority
//!   ([`super::dirauth::start_authority`]: upload handling, reachability tests, the
//!   voting schedule) as the relay's directory source, and the authority's own descriptor;
//! - otherwise, with `DirCache 1` and `DirAuthority` lines: the directory-cache mirror
//!   ([`super::dircache`]) as the relay's directory source, and with
//!   `PublishServerDescriptor` on, the descriptor publisher ([`super::publish`]); the relay
//!   runtime starts both itself ([`super::relay::RelayOptions::auto_dir_cache`],
//!   [`super::relay::RelayOptions::publish`]).
//!
//! Not here: command-line handling and logging ([`super::daemon_main`]), signals (the
//! caller's), and the authority key command (`--keygen-authority`, in
//! [`super::dirauth::keygen_authority`]).

use std::net::SocketAddr;
use std::sync::Arc;

use super::dirauth::{start_authority, AuthorityHandle, AuthorityService};
use super::relay::{Relay, RelayHandle, RelayOptions};
use crate::config::RelayConfig;

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// A combination of options this implementation does not run.
    #[error("configuration: {0}")]
    Config(String),
    /// The relay runtime failed to start.
    #[error(transparent)]
    Relay(#[from] super::relay::RelayError),
    /// The directory authority failed to start (keys missing, ports, ...).
    #[error("directory authority: {0}")]
    Authority(String),
}

/// A running relay node (tor(1) "SERVER OPTIONS"): the relay, and the directory authority
/// when configured.
#[derive(Debug)]
pub struct RelayNode {
    relay: RelayHandle,
    authority: Option<AuthorityHandle>,
}

impl RelayNode {
    /// Starts everything `config` asks for (see the module documentation). Must be called
    /// inside a tokio runtime.
    pub async fn start(config: RelayConfig) -> Result<RelayNode, NodeError> {
        RelayNode::start_with(config, RelayOptions::default()).await
    }

    /// [`RelayNode::start`] with runtime options (tests: queue sizes, key lifetimes).
    pub async fn start_with(
        config: RelayConfig,
        opts: RelayOptions,
    ) -> Result<RelayNode, NodeError> {
        match (
            config.authoritative_directory,
            config.v3_authoritative_directory,
        ) {
            (true, true) => {
                // The authority first (it refuses without its keys), then the relay serving
                // it. The authority lists its own descriptor directly (and rebuilds it), so
                // the relay does not also upload one to itself.
                let auth = start_authority(&config)
                    .await
                    .map_err(|e| NodeError::Authority(e.to_string()))?;
                let mut opts = opts;
                opts.dir_source = Some(auth.source());
                opts.publish = false;
                if opts.extend_allow_private.is_none() {
                    opts.extend_allow_private = Some(config.common.testing_tor_network);
                }
                match Relay::start_with(config, opts).await {
                    Ok(relay) => {
                        tracing::info!("directory authority running");
                        Ok(RelayNode {
                            relay,
                            authority: Some(auth),
                        })
                    }
                    Err(e) => {
                        auth.stop();
                        Err(e.into())
                    }
                }
            }
            (true, false) => Err(NodeError::Config(
                "AuthoritativeDirectory 1 needs V3AuthoritativeDirectory 1 (v3 is the only kind of authority)"
                    .into(),
            )),
            (false, true) => Err(NodeError::Config(
                "V3AuthoritativeDirectory 1 needs AuthoritativeDirectory 1".into(),
            )),
            (false, false) => {
                let relay = Relay::start_with(config, opts).await?;
                Ok(RelayNode {
                    relay,
                    authority: None,
                })
            }
        }
    }

    /// The relay.
    pub fn relay(&self) -> &RelayHandle {
        &self.relay
    }

    /// The directory authority, when this node is one.
    pub fn authority(&self) -> Option<&Arc<AuthorityService>> {
        self.authority.as_ref().map(AuthorityHandle::service)
    }

    /// The bound ORPort addresses.
    pub fn or_addrs(&self) -> &[SocketAddr] {
        self.relay.or_addrs()
    }

    /// The bound DirPort addresses (empty without a directory source).
    pub fn dir_addrs(&self) -> &[SocketAddr] {
        self.relay.dir_addrs()
    }

    /// Stops the authority (if any) and the relay with its directory tasks; returns how
    /// many tasks did not stop in time.
    pub async fn shutdown(self) -> usize {
        if let Some(a) = &self.authority {
            a.stop();
        }
        self.relay.shutdown().await
    }
}
