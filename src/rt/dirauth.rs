//! The directory authority at run time (`AuthoritativeDirectory 1` +
//! `V3AuthoritativeDirectory 1` on `oniongate-relay`): the [`service::AuthorityService`]
//! (uploads, reachability tests, consensus schedule, persistence), its
//! [`source::AuthoritySource`] for the relay's DirPort and BEGIN_DIR streams, and the
//! `--keygen-authority` command ([`keygen`]). The decisions are in [`crate::dirauth`].

pub mod keygen;
pub mod own;
pub mod service;
pub mod source;

use std::net::Ipv4Addr;

pub use keygen::{keygen_authority, load_authority_keys, KeygenError};
pub use own::{
    own_descriptor, start_authority, start_authority_relay, AuthorityHandle, AuthorityRelay,
};
pub use service::{AuthorityService, Published, ServiceOptions};
pub use source::AuthoritySource;

use crate::config::RelayConfig;
use crate::dirauth::state::AuthorityConfig;
use crate::ids::RsaIdentity;

/// The authority's configuration from the relay's: `my_rsa_id` is the relay's identity,
/// `or_port`/`dir_port` the ports it advertises.
pub fn authority_config(
    config: &RelayConfig,
    my_rsa_id: RsaIdentity,
    or_port: u16,
    dir_port: u16,
) -> AuthorityConfig {
    let testing = config.common.testing_tor_network;
    let d = &config.dirauth;
    let mut authority_ids: Vec<RsaIdentity> = config
        .common
        .dir_authorities
        .iter()
        .map(|a| a.fingerprint)
        .collect();
    if !authority_ids.contains(&my_rsa_id) {
        authority_ids.push(my_rsa_id);
    }
    AuthorityConfig {
        nickname: config
            .common
            .nickname
            .clone()
            .unwrap_or_else(|| "Unnamed".into()),
        my_rsa_id,
        address: keygen::advertised_ipv4(config).unwrap_or(Ipv4Addr::LOCALHOST),
        dir_port,
        or_port,
        contact: config.common.contact_info.clone().unwrap_or_default(),
        authority_ids,
        testing,
        flags: d.flag_options(testing),
        accept: d.accept_options(testing),
        timing: d.timing(testing),
        max_per_addr: d.max_per_addr(testing),
        params: d.consensus_params.clone(),
    }
}

/// The service options from the configuration.
pub fn service_options(config: &RelayConfig) -> ServiceOptions {
    let mut o = ServiceOptions::for_network(config.common.testing_tor_network);
    o.test_reachability = config.dirauth.test_reachability.unwrap_or(true);
    o
}
