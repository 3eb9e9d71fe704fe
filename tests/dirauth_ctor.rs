//! The key acceptance test of stage 3's authority: our directory authority (in-process, the
//! `oniongate-relay` runtime with `AuthoritativeDirectory 1`) as the only authority of a
//! network of stock C tor relays, and a stock C tor client that bootstraps to 100% from it
//! and fetches a page through the network.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::ctor::{free_port, TempDir};
use common::ctornet::{CTorNet, HttpServer};
use oniongate::config::{merge, parse_torrc, Daemon, DaemonConfig, RelayConfig};
use oniongate::dir::doc::routerdesc::{build_descriptor, Bandwidth, DescriptorParams};
use oniongate::dir::serve::DirSource;
use oniongate::keys::KeyPolicy;
use oniongate::rt::dirauth::{
    authority_config, keygen_authority, load_authority_keys, service_options, AuthorityService,
    AuthoritySource,
};
use oniongate::rt::relay::{Relay, RelayOptions};
use oniongate::rt::relay_keys::RelayKeyDir;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn config(text: &str) -> RelayConfig {
    let entries = parse_torrc(text, "test").unwrap();
    let merged = merge(Daemon::Relay, &[&entries]).unwrap();
    RelayConfig::from_entries(&merged).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctor_relays_and_client_bootstrap_from_our_authority() {
    let dir = TempDir::new("dirauth-ctor");
    let data = dir.path().join("auth");
    let (or_port, dir_port) = (free_port(), free_port());
    let base = format!(
        "Nickname ourauth\nAddress 127.0.0.1\nORPort 127.0.0.1:{or_port}\n\
         DirPort 127.0.0.1:{dir_port}\nDataDirectory {}\nAuthoritativeDirectory 1\n\
         V3AuthoritativeDirectory 1\nExitPolicy reject *:*\nContactInfo test\n",
        data.display()
    );
    let line = keygen_authority(&config(&base)).unwrap();
    let cfg = config(&format!(
        "{base}TestingTorNetwork 1\n{line}\nTestingDirAuthVoteGuard *\nTestingDirAuthVoteHSDir *\n\
         V3AuthVotingInterval 20\nV3AuthVoteDelay 2\nV3AuthDistDelay 2\n"
    ));
    let keys = Arc::new(load_authority_keys(&cfg).unwrap());
    let relay_keys = RelayKeyDir::open(&data)
        .unwrap()
        .load_or_create(
            "ourauth",
            KeyPolicy::default(),
            SystemTime::now(),
            &mut rand::rngs::OsRng,
        )
        .unwrap();
    let svc = AuthorityService::start(
        authority_config(&cfg, relay_keys.rsa_id(), or_port, dir_port),
        keys.clone(),
        cfg.common.data_directory.clone(),
        service_options(&cfg),
    )
    .unwrap();
    let source: Arc<dyn DirSource> = Arc::new(AuthoritySource(svc.clone()));
    let opts = RelayOptions {
        dir_source: Some(source),
        extend_allow_private: Some(true),
        ..RelayOptions::default()
    };
    let relay = Relay::start_with(cfg.clone(), opts).await.unwrap();
    // Our relay's own descriptor, given to the authority directly.
    let own = build_descriptor(
        &relay_keys,
        &DescriptorParams {
            nickname: "ourauth".into(),
            ipv4: Ipv4Addr::LOCALHOST,
            or_port,
            dir_port,
            ipv6_or: None,
            platform: format!("Oniongate {} on Linux", oniongate::VERSION),
            published: now() - 1,
            uptime: 0,
            bandwidth: Bandwidth {
                average: 1 << 20,
                burst: 1 << 21,
                observed: 1 << 19,
            },
            contact: Some("test".into()),
            family: Vec::new(),
            exit_policy: vec![oniongate::config::PolicyRule {
                action: oniongate::config::PolicyAction::Reject,
                addr: oniongate::config::PolicyAddr::Any,
                port_lo: 1,
                port_hi: 65535,
            }],
            tunnelled_dir_server: true,
            hidden_service_dir: true,
        },
    )
    .unwrap();
    assert_eq!(svc.add_own(&own).status, 200, "own descriptor");

    let dirport = SocketAddr::from((Ipv4Addr::LOCALHOST, dir_port));
    let line2 = line.clone();
    let mut net = tokio::task::spawn_blocking(move || {
        CTorNet::builder()
            .authorities(0)
            .dir_authority(&line2)
            .consensus_from(dirport)
            .relays(3)
            .exits(1)
            .start()
    })
    .await
    .unwrap();
    let (net_back, took) = tokio::task::spawn_blocking(move || {
        net.prepare_for_clients(Duration::from_secs(90)).unwrap();
        let c = net.fetch_consensus().unwrap();
        assert!(c.routers.len() >= 4, "{:?}", c.routers.len());
        net.add_client(&[]).unwrap();
        let took = net.client_bootstrapped(Duration::from_secs(90)).unwrap();
        (net, took)
    })
    .await
    .unwrap();
    net = net_back;
    eprintln!("C tor client bootstrapped in {took:?} from our authority");
    let http = HttpServer::start(b"hello through our authority's network".to_vec());
    let port = http.port();
    let body = tokio::task::spawn_blocking(move || {
        let r = net.socks_get(port, "/", Duration::from_secs(60));
        drop(net);
        r
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(body.0, 200);
    svc.stop();
    relay.shutdown().await;
}
