//! The key acceptance test of stage 3's authority: our directory authority (in-process, the
//! `oniongate-relay` runtime with `AuthoritativeDirectory 1`) as the only authority of a
//! network of stock C tor relays plus one of our exit relays, and a stock C tor client that
//! bootstraps to 100% from it and fetches a page through the network, once on a path tor
//! picks and once on a path ending at our exit.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use common::ctor::{free_port, TempDir};
use common::ctornet::{CTorNet, HttpServer};
use oniongate::config::{merge, parse_torrc, Daemon, DaemonConfig, RelayConfig};
use oniongate::rt::dirauth::{keygen_authority, start_authority_relay};
use oniongate::rt::relay::{Relay, RelayOptions};

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
    // One of our exits, publishing to our authority by itself (`rt::publish`).
    let exit_data = dir.path().join("ogexit");
    let exit_cfg = config(&format!(
        "Nickname ogexit\nAddress 127.0.0.1\nORPort 127.0.0.1:auto\nDataDirectory {}\n\
         TestingTorNetwork 1\nDirCache 1\nAssumeReachable 1\nExitRelay 1\n\
         ExitPolicyRejectPrivate 0\nExitPolicy accept 127.0.0.1:*\n\
         ExitPolicy accept *:80,accept *:443\n{line}\n",
        exit_data.display()
    ));
    let our_exit = Relay::start_with(exit_cfg, RelayOptions::default())
        .await
        .unwrap();
    let our_exit_fp = our_exit.rsa_id().to_hex();
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
    let exit_fp = our_exit_fp.clone();
    let (net_back, took) = tokio::task::spawn_blocking(move || {
        net.wait_for_relay(
            &exit_fp,
            &["Running", "Valid", "Exit"],
            Duration::from_secs(90),
        )
        .unwrap();
        net.prepare_for_clients(Duration::from_secs(90)).unwrap();
        let c = net.fetch_consensus().unwrap();
        assert!(c.routers.len() >= 5, "{:?}", c.routers.len());
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
    let (picked, via_ours) = tokio::task::spawn_blocking(move || {
        let picked = net.socks_get(port, "/", Duration::from_secs(60));
        let fp = |name: &str| format!("${}", net.node(name).unwrap().fingerprint().unwrap());
        let path = [fp("relay0"), fp("relay1"), format!("${our_exit_fp}")];
        let path: Vec<&str> = path.iter().map(String::as_str).collect();
        let via_ours = net
            .client()
            .socks_get_via(&path, port, "/", Duration::from_secs(60));
        drop(net);
        (picked, via_ours)
    })
    .await
    .unwrap();
    let picked = picked.unwrap();
    assert_eq!(picked.0, 200);
    let via_ours = via_ours.unwrap_or_else(|e| panic!("fetch through our exit: {e:?}"));
    assert_eq!(via_ours.0, 200);
    assert_eq!(via_ours.1, b"hello through our authority's network");
    our_exit.shutdown().await;
    auth.shutdown().await;
}
