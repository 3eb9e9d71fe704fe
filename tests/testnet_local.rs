//! "Our own network" (issue 4): the local test network of `oniongate-testnet`
//! ([`oniongate::rt::testnet::LocalNet`], the launcher's library half) in-process: our
//! directory authority, four of our relays (two exits allowed to reach loopback) and our
//! client, all started from the torrc files the launcher writes. The consensus lists every
//! relay Running and Valid and the exits Exit; the client bootstraps from our authority and
//! fetches a page from a loopback HTTP server through our exit with a SOCKS5 CONNECT; the
//! torrcs load again through the normal config loader; shutdown frees the SOCKS port and
//! removes the temporary directory.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::ctornet_io::socks5_http_get;
use oniongate::config::cli::Invocation;
use oniongate::config::{ClientConfig, Daemon, RelayConfig};
use oniongate::dir::flags::RelayFlags;
use oniongate::rt::testnet::{LocalNet, LocalNetOptions, HTTP_BODY};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_network_bootstraps_and_carries_a_fetch() {
    let t0 = Instant::now();
    let net = LocalNet::start(LocalNetOptions {
        http_port: Some(0),
        ..LocalNetOptions::default()
    })
    .await
    .unwrap();
    let listed = t0.elapsed();
    let took = net
        .wait_bootstrapped(Duration::from_secs(60))
        .await
        .unwrap();
    eprintln!(
        "consensus complete after {listed:?}; client bootstrapped {took:?} later (total {:?})",
        t0.elapsed()
    );

    // The consensus: every relay Running + Valid, the exits Exit, the authority Authority.
    let c = net.consensus().unwrap();
    assert_eq!(
        c.routers.len(),
        1 + net.relays().len(),
        "{:?}",
        c.routers.len()
    );
    let running_valid = RelayFlags::RUNNING.union(RelayFlags::VALID);
    for n in std::iter::once(net.authority()).chain(net.relays()) {
        let r = c
            .routers
            .iter()
            .find(|r| r.rsa_id == n.node.relay().rsa_id())
            .unwrap_or_else(|| panic!("{} not in the consensus", n.name));
        assert!(r.flags.contains(running_valid), "{}: {:?}", n.name, r.flags);
        assert_eq!(r.flags.contains(RelayFlags::EXIT), n.exit, "{}", n.name);
    }
    assert_eq!(net.relays().iter().filter(|n| n.exit).count(), 2);
    let auth_rs = c
        .routers
        .iter()
        .find(|r| r.rsa_id == net.authority().node.relay().rsa_id())
        .unwrap();
    assert!(auth_rs.flags.contains(RelayFlags::AUTHORITY));

    // The torrcs are real: each loads again, and names our authority.
    let line = net.dir_authority_line().to_string();
    assert!(line.starts_with("DirAuthority auth orport="), "{line}");
    let torrcs = net.torrcs();
    assert_eq!(torrcs.len(), 2 + net.relays().len());
    for (name, path) in &torrcs {
        let text = std::fs::read_to_string(path).unwrap();
        assert!(text.contains(&line), "{name}: no DirAuthority line");
        let inv = Invocation {
            daemon: if name == "client" {
                Daemon::Client
            } else {
                Daemon::Relay
            },
            torrc: Some(path.clone()),
            overrides: Vec::new(),
        };
        if name == "client" {
            let cfg: ClientConfig = inv.load().unwrap();
            assert_eq!(cfg.socks_ports.len(), 1);
        } else {
            let cfg: RelayConfig = inv.load().unwrap();
            assert!(cfg.common.testing_tor_network, "{name}");
            assert_eq!(cfg.common.dir_authorities.len(), 1, "{name}");
        }
    }

    // A page from a loopback HTTP server, through our exit, over SOCKS5 CONNECT.
    let socks = net.socks_addr();
    let http = net.http_addr().unwrap();
    let got = tokio::task::spawn_blocking(move || {
        let mut last = None;
        for _ in 0..5 {
            match socks5_http_get(
                socks,
                "127.0.0.1",
                http.port(),
                "/",
                Duration::from_secs(20),
            ) {
                Ok(r) => return r,
                Err(e) => {
                    last = Some(e);
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
        }
        panic!("no page through the network: {last:?}");
    })
    .await
    .unwrap();
    assert_eq!(got.0, 200);
    assert_eq!(got.1, HTTP_BODY);

    // Shutdown leaves nothing behind: the SOCKS port is free, the temp dir is gone.
    let dir = net.dir().to_path_buf();
    net.shutdown().await;
    assert!(!dir.exists(), "{} left behind", dir.display());
    std::net::TcpListener::bind(socks).unwrap();
    eprintln!("whole test {:?}", t0.elapsed());
}
