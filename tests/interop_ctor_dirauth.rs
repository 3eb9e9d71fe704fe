//! Mixed network, C tor as the directory (issue 4): our relays join a network whose only
//! authority is a stock C tor 0.4.9 dirauth, next to C tor relays and clients.
//!
//! One network for every check (a C tor network costs ~15 s of CI time):
//! - 1 C tor authority, 2 C tor relays (one an exit that may reach loopback);
//! - 3 of our relays (`rt::relay::Relay::start_with`, configured from torrc text through
//!   the config loader), which publish their descriptors to the C tor authority
//!   themselves (`rt::publish`); one is an exit (`ExitPolicy accept 127.0.0.1:*` then
//!   ports 80 and 443, so its microdescriptor summary is not reject-all), voted Exit with
//!   `TestingDirAuthVoteExit`; one runs its directory cache (`rt::dircache`) behind a
//!   recorder.
//!
//! Checks:
//! 1. the C tor authority lists each of our relays Running and Valid (the exit also Exit,
//!    the cache also V2Dir);
//! 2. a C tor client fetches a page from a loopback HTTP server on paths (control port
//!    `EXTENDCIRCUIT` + `ATTACHSTREAM`) with our relay as guard, as middle, as exit, and on
//!    a path of ours only;
//! 3. a second C tor client with `EntryNodes <our cache relay>` and `UseEntryGuards 1`
//!    bootstraps to 100% with our relay as its directory guard: our relay answered its
//!    microdescriptor requests over BEGIN_DIR (and, as the consensus moves every 10 s, a
//!    consensus request), and the client fetches a page through its own choice of path.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::ctor::TempDir;
use common::ctornet::{CTorNet, HttpServer, Role};
use common::ctornet_io::socks5_http_get;
use common::interop::{runtime, OurRelay, Served};
use oniongate::dir::serve::DirRequest;

const PAGE: &[u8] = b"hello through a mixed network\n";

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Fetches the page through `client` on `path`, checks the answer, returns the time taken.
fn fetch_via(net: &CTorNet, client: &str, path: &[String], port: u16) -> Duration {
    let t = Instant::now();
    let path: Vec<&str> = path.iter().map(String::as_str).collect();
    let (status, body) = net
        .node(client)
        .unwrap()
        .socks_get_via(&path, port, "/", secs(60))
        .unwrap_or_else(|e| panic!("fetch via {path:?}: {e}"));
    assert_eq!((status, body.as_slice()), (200, PAGE), "via {path:?}");
    t.elapsed()
}

fn describe(served: &[Served]) -> String {
    served
        .iter()
        .map(|s| format!("{} {:?}", s.status, s.request))
        .map(|s| s.chars().take(160).collect::<String>())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn our_relays_in_a_ctor_dirauth_network() {
    let t0 = Instant::now();
    let page = HttpServer::start(PAGE.to_vec());
    let net = CTorNet::builder()
        .authorities(1)
        .relays(2)
        .exits(1)
        .client(false)
        // Replaces the harness's line (which names exit0 only).
        .torrc(Role::Authority, "TestingDirAuthVoteExit exit0,ogExit")
        .start();
    let auth_lines = net.dir_authority_lines();
    net.wait_for_consensus(3, secs(60)).unwrap();
    let c_started = t0.elapsed();

    let rt = runtime();
    let dir = TempDir::new("interop-ctor-dirauth");
    let guard = OurRelay::start(&rt, &dir, "ogGuard", &auth_lines, &[], true);
    let middle = OurRelay::start(&rt, &dir, "ogMiddle", &auth_lines, &[], false);
    let exit = OurRelay::start(
        &rt,
        &dir,
        "ogExit",
        &auth_lines,
        &[
            "ExitRelay 1",
            "ExitPolicyRejectPrivate 0",
            "ExitPolicy accept 127.0.0.1:*",
            "ExitPolicy accept *:80,accept *:443",
        ],
        false,
    );

    // 1. Listed by the C tor authority.
    let wants: [(&OurRelay, &[&str]); 3] = [
        (&guard, &["Running", "Valid", "V2Dir"]),
        (&middle, &["Running", "Valid"]),
        (&exit, &["Running", "Valid", "Exit"]),
    ];
    let mut consensus = None;
    for (r, flags) in wants {
        let c = net
            .wait_for_relay(&r.fingerprint, flags, secs(90))
            .unwrap_or_else(|e| panic!("{} ({}) not listed {flags:?}: {e}", r.nickname, r.fingerprint));
        eprintln!("listed: {:?}", c.router(&r.fingerprint).unwrap());
        consensus = Some(c);
    }
    let consensus = consensus.unwrap();
    for r in [&guard, &middle, &exit] {
        let listed = consensus.router(&r.fingerprint).unwrap();
        assert_eq!(listed.nickname, r.nickname);
    }
    let listed = t0.elapsed();

    // Clients start once the C tor relays cache every microdescriptor (ours included).
    net.prepare_for_clients(secs(60)).unwrap();
    let mut net = net;
    net.add_client(&[]).unwrap();
    let entry = format!("EntryNodes {}", guard.path_id());
    net.add_client(&[entry.as_str(), "UseEntryGuards 1"]).unwrap();
    let boot0 = net.client_bootstrapped(secs(60)).unwrap();
    let boot1 = net
        .node("client1")
        .unwrap()
        .wait_bootstrapped(secs(60))
        .unwrap();

    // 2. A C tor client through our relays in every position.
    let c = |name: &str| format!("${}", net.node(name).unwrap().fingerprint().unwrap());
    let port = page.addr.port();
    let paths: [(&str, Vec<String>); 4] = [
        ("our guard", vec![guard.path_id(), c("relay0"), c("exit0")]),
        ("our middle", vec![c("relay0"), middle.path_id(), c("exit0")]),
        ("our exit", vec![c("relay0"), c("exit0"), exit.path_id()]),
        (
            "ours only",
            vec![guard.path_id(), middle.path_id(), exit.path_id()],
        ),
    ];
    for (what, path) in &paths {
        let took = fetch_via(&net, "client0", path, port);
        eprintln!("{what}: page fetched in {took:.1?}");
    }
    assert!(page.served() >= 4);

    // 3. Our relay as the directory guard of a C tor client.
    let recorder = guard.recorder.as_ref().unwrap();
    let micro_ok = |s: &[Served]| {
        s.iter()
            .any(|s| matches!(s.request, DirRequest::Micro(_)) && s.status == 200)
    };
    let served = recorder.served();
    assert!(
        micro_ok(&served),
        "client1 bootstrapped without microdescriptors from our relay; it served:\n{}\n{}",
        describe(&served),
        net.node("client1").unwrap().log_tail(30)
    );
    let socks1 = net.node("client1").unwrap().socks_addr().unwrap();
    let deadline = Instant::now() + secs(60);
    let (status, body) = loop {
        match socks5_http_get(socks1, "127.0.0.1", port, "/", secs(20)) {
            Ok(r) => break r,
            Err(e) if Instant::now() > deadline => panic!("client1 fetch: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(500)),
        }
    };
    assert_eq!((status, body.as_slice()), (200, PAGE));
    // The consensus moves every 10 s: client1 fetches the next one from its dir guard.
    let deadline = Instant::now() + secs(60);
    let consensus_ok = |s: &[Served]| {
        s.iter()
            .any(|s| matches!(s.request, DirRequest::Consensus { .. }) && s.status == 200)
    };
    while !consensus_ok(&recorder.served()) {
        assert!(
            Instant::now() < deadline,
            "no consensus fetched from our relay; it served:\n{}\n{}",
            describe(&recorder.served()),
            net.node("client1").unwrap().log_tail(30)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!(
        "our directory cache served:\n{}",
        describe(&recorder.served())
    );

    eprintln!(
        "interop: C tor network {c_started:.1?}, ours listed at {listed:.1?}, clients \
         bootstrapped in {boot0:.1?} / {boot1:.1?}, all done in {:.1?}\n{}",
        t0.elapsed(),
        net.timeline()
    );
    for r in [guard, middle, exit] {
        rt.block_on(r.handle.shutdown());
    }
}
