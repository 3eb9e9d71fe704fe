//! Self-test of the C tor network harness (`tests/common/ctornet.rs`): 1 authority and 3
//! relays (1 exit) of stock C tor reach a consensus listing every relay Running and Valid,
//! a C tor client bootstraps to 100% and fetches a page from a loopback HTTP server
//! through its SOCKS5 port (so through a 3-hop circuit and the exit), once on a path the
//! client picks and once on a path given by fingerprints (control port `EXTENDCIRCUIT` and
//! `ATTACHSTREAM`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::ctornet::{CTorNet, HttpServer, Role};

#[test]
fn ctor_network_consensus_bootstrap_and_socks_fetch() {
    let t0 = Instant::now();
    let page = HttpServer::start(b"hello from loopback\n".to_vec());
    let net = CTorNet::builder()
        .authorities(1)
        .relays(3)
        .exits(1)
        .client(true)
        .start();
    let started = t0.elapsed();

    // The DirAuthority lines parse as our config's DirAuthority values.
    let lines = net.dir_authority_lines();
    assert_eq!(lines.len(), 1);
    assert!(
        lines[0].starts_with("DirAuthority auth0 orport="),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains(" v3ident="), "{}", lines[0]);

    // Every relay (and the authority) is listed Running and Valid; the exit has Exit.
    let consensus = net.wait_for_consensus(4, Duration::from_secs(30)).unwrap();
    for node in net.authorities().chain(net.relays()) {
        let fp = node.fingerprint().unwrap();
        assert!(
            consensus.has_flags(&fp, &["Running", "Valid"]),
            "{} ({fp}) not Running+Valid: {:?}",
            node.name,
            consensus.router(&fp)
        );
    }
    let exit = net.role(Role::Exit).next().unwrap();
    assert!(exit.ed25519_id().is_some() && exit.ntor_key().is_some());
    net.wait_for_relay(
        &exit.fingerprint().unwrap(),
        &["Exit", "Running"],
        Duration::from_secs(5),
    )
    .unwrap();

    let boot = net.client_bootstrapped(Duration::from_secs(60)).unwrap();
    let (status, body) = net
        .socks_get(page.addr.port(), "/", Duration::from_secs(30))
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(body, b"hello from loopback\n");
    assert!(page.served() >= 1);

    // The same through a path we choose (every relay, exit last), by fingerprint.
    let path: Vec<String> = ["relay1", "relay0", "exit0"]
        .iter()
        .map(|n| format!("${}", net.node(n).unwrap().fingerprint().unwrap()))
        .collect();
    let path: Vec<&str> = path.iter().map(String::as_str).collect();
    let (status, body) = net
        .client()
        .socks_get_via(&path, page.addr.port(), "/", Duration::from_secs(30))
        .unwrap();
    assert_eq!(
        (status, body.as_slice()),
        (200, &b"hello from loopback\n"[..])
    );
    eprintln!(
        "ctornet self-test: network started in {started:.1?}, client bootstrapped {boot:.1?} after its start, all done in {:.1?}",
        t0.elapsed()
    );
}
