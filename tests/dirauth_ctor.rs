//! The key acceptance test of stage 3's authority: our directory authority (in-process, the
//! `oniongate-relay` runtime with `AuthoritativeDirectory 1`) as the only authority of a
//! network of stock C tor relays, and a stock C tor client that bootstraps to 100% from it
//! and fetches a page through the network.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use common::ctor::{free_port, TempDir};
use common::ctornet::{CTorNet, HttpServer};
use oniongate::config::{merge, parse_torrc, Daemon, DaemonConfig, RelayConfig};
use oniongate::rt::dirauth::{keygen_authority, start_authority_relay};
use oniongate::rt::relay::RelayOptions;

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
    let auth = start_authority_relay(cfg, RelayOptions::default())
        .await
        .unwrap();
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
    let port = http.addr.port();
    let body = tokio::task::spawn_blocking(move || {
        let r = net.socks_get(port, "/", Duration::from_secs(60));
        drop(net);
        r
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(body.0, 200);
    auth.shutdown().await;
}
