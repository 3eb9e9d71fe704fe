//! Mixed network, C tor as the directory (issue 4): our relays join a network whose
//! authorities are stock C tor 0.4.9 dirauths, next to C tor relays and clients.
//!
//! One network for every check (a C tor network costs ~15 s of CI time):
//! - 3 C tor authorities (so our relays upload to each, and consensuses carry 3
//!   signatures), 2 C tor relays (one an exit that may reach loopback);
//! - 3 of our relays (`rt::node::RelayNode`, as the daemon starts them, configured from
//!   torrc text through the config loader), which publish their descriptors to the C tor
//!   authorities themselves (`rt::publish`); one is an exit (`ExitPolicy accept 127.0.0.1:*` then
//!   ports 80 and 443, so its microdescriptor summary is not reject-all), voted Exit with
//!   `TestingDirAuthVoteExit`; one runs its directory cache (`rt::dircache`) behind a
//!   recorder.
//!
//! Checks:
//! 1. the C tor authorities list each of our relays Running and Valid (the exit also Exit,
//!    the cache also V2Dir, Stable and Guard), and the exit's microdescriptor, as the
//!    authority made it, has `p accept 80,443` and no `p6` (as C tor without `IPv6Exit`);
//! 2. a C tor client with `EntryNodes <our cache relay>`, `UseEntryGuards 1` and our relay
//!    as its only `FallbackDir` bootstraps to 100% from our relay alone: before it
//!    bootstrapped, our relay (which has no DirPort, so over BEGIN_DIR) answered its
//!    requests for the microdesc consensus, the authority certificates and the
//!    microdescriptors; it then fetches a page on a path of its choice;
//! 3. another C tor client fetches a page from a loopback HTTP server on paths (control
//!    port `EXTENDCIRCUIT` + `ATTACHSTREAM`) with our relay as guard, as middle, as exit,
//!    and on a path of ours only.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::ctor::TempDir;
use common::ctornet::{CTorNet, HttpServer, Role};
use common::ctornet_io::http_get;
use common::interop::{init_logs, runtime, OurRelay, Served};
use oniongate::dir::doc::consensus::Flavor;
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

/// Which requests count.
type Want = fn(&DirRequest) -> bool;

/// One line per request: status, then the request in short.
fn describe(served: &[Served]) -> String {
    served
        .iter()
        .map(|s| {
            let what = match &s.request {
                DirRequest::Micro(d) => format!("microdescriptors ({})", d.len()),
                DirRequest::Consensus {
                    flavor, diff_from, ..
                } => format!("consensus {flavor:?} (diff from {} known)", diff_from.len()),
                other => format!("{other:?}").chars().take(120).collect(),
            };
            format!("  {} {what}", s.status)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The `m` digest of the router `nickname` in a microdesc consensus.
fn md_of(consensus: &str, nickname: &str) -> Option<String> {
    let mut mine = false;
    for line in consensus.lines() {
        if let Some(r) = line.strip_prefix("r ") {
            mine = r.split(' ').next() == Some(nickname);
        } else if let (true, Some(m)) = (mine, line.strip_prefix("m ")) {
            return Some(m.trim().to_string());
        }
    }
    None
}

#[test]
fn our_relays_in_a_ctor_dirauth_network() {
    init_logs();
    let t0 = Instant::now();
    let page = HttpServer::start(PAGE.to_vec());
    let net = CTorNet::builder()
        .authorities(3)
        .relays(2)
        .exits(1)
        .client(false)
        // Replaces the harness's line (which names exit0 only).
        .torrc(Role::Authority, "TestingDirAuthVoteExit exit0,ogExit")
        // Stable for every relay: C tor clients take guards only among Stable relays
        // (`node_is_possible_guard`), and the authorities give Stable to the half of the
        // relays with the longest uptime, which in a network seconds old is a coin toss
        // for ours.
        .torrc(Role::Authority, "AuthDirVoteStableGuaranteeMinUptime 0")
        .torrc(Role::Authority, "AuthDirVoteStableGuaranteeMTBF 0")
        .start();
    let auth_lines = net.dir_authority_lines();
    let c_started = t0.elapsed();
    let port = page.addr.port();

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

    // Started right after the C tor relays' descriptors reached the authorities: ours often
    // make the first consensus too.
    net.wait_for_consensus(5, secs(60)).unwrap();

    // 1. Listed by the C tor authorities.
    let wants: [(&OurRelay, &[&str]); 3] = [
        (&guard, &["Running", "Valid", "V2Dir", "Stable", "Guard"]),
        (&middle, &["Running", "Valid"]),
        (&exit, &["Running", "Valid", "Exit"]),
    ];
    let mut consensus = None;
    for (r, flags) in wants {
        let c = net
            .wait_for_relay(&r.fingerprint, flags, secs(90))
            .unwrap_or_else(|e| {
                panic!(
                    "{} ({}) not listed {flags:?}: {e}",
                    r.nickname, r.fingerprint
                )
            });
        eprintln!("listed: {:?}", c.router(&r.fingerprint).unwrap());
        consensus = Some(c);
    }
    let consensus = consensus.unwrap();
    for r in [&guard, &middle, &exit] {
        let listed = consensus.router(&r.fingerprint).unwrap();
        assert_eq!(listed.nickname, r.nickname);
    }
    let listed = t0.elapsed();
    net.mark("ours listed");

    // The exit's microdescriptor, as a C tor authority made it, is not reject-all (and,
    // as C tor's would be, IPv4 only).
    let auth = net.authorities().next().unwrap().dir_addr().unwrap();
    let md = md_of(&consensus.text, &exit.nickname)
        .and_then(|m| http_get(auth, &format!("/tor/micro/d/{m}"), secs(10)).ok())
        .map(|(_, body)| String::from_utf8_lossy(&body).into_owned())
        .unwrap_or_default();
    assert!(
        md.contains("\np accept 80,443\n"),
        "ogExit microdesc: {md:?}"
    );
    // No IPv6Exit: C tor with this torrc publishes no `ipv6-policy` (`*` means `*4`), so
    // the authority's microdescriptor has no `p6` line.
    assert!(!md.contains("\np6 "), "ogExit microdesc: {md:?}");

    // Clients start once the C tor relays cache every microdescriptor (ours included).
    net.prepare_for_clients(secs(60)).unwrap();
    let mut net = net;

    // 2. Our relay as the only directory of a C tor client: its fallback directory (for
    // the first consensus and the certificates; the authorities are not fallbacks with
    // `DirAuthorityFallbackRate 0`, and asked only after 30 s) and its directory guard
    // (microdescriptors). Started alone, so that every request our cache answers until it
    // bootstraps is its own. Our relay has no DirPort: it serves over BEGIN_DIR only.
    assert!(guard.node.dir_addrs().is_empty());
    let recorder = guard.recorder.as_ref().unwrap();
    recorder.wait_ready(8, secs(60)).unwrap();
    net.mark("our cache ready");
    let entry = format!("EntryNodes {}", guard.path_id());
    let fallback = format!(
        "FallbackDir 127.0.0.1 orport={} id={}",
        guard.node.or_addrs()[0].port(),
        guard.fingerprint
    );
    net.add_client(&[
        entry.as_str(),
        "UseEntryGuards 1",
        fallback.as_str(),
        "DirAuthorityFallbackRate 0",
        "ClientBootstrapConsensusAuthorityDownloadInitialDelay 30",
    ])
    .unwrap();
    let boot0 = net.client_bootstrapped(secs(60)).unwrap();
    let at_boot = recorder.served();
    let answered = |want: Want| at_boot.iter().any(|s| want(&s.request) && s.status == 200);
    let wanted: [(&str, Want); 3] = [
        (
            "the consensus",
            |r| matches!(r, DirRequest::Consensus { flavor, .. } if *flavor == Flavor::Microdesc),
        ),
        ("authority certificates", |r| {
            matches!(
                r,
                DirRequest::KeysFp(_) | DirRequest::KeysFpSk(_) | DirRequest::KeysAll
            )
        }),
        ("microdescriptors", |r| matches!(r, DirRequest::Micro(_))),
    ];
    for (what, want) in wanted {
        assert!(
            answered(want),
            "client0 bootstrapped without {what} from our relay; it served:\n{}\n{}",
            describe(&at_boot),
            net.client().log_tail(30)
        );
    }
    eprintln!(
        "our cache served before client0 bootstrapped:\n{}",
        describe(&at_boot)
    );
    let (status, body) = net.socks_get(port, "/", secs(60)).unwrap();
    assert_eq!((status, body.as_slice()), (200, PAGE), "client0, own path");

    // 3. A C tor client through our relays in every position.
    net.add_client(&[]).unwrap();
    let boot1 = net
        .node("client1")
        .unwrap()
        .wait_bootstrapped(secs(60))
        .unwrap();
    let c = |name: &str| format!("${}", net.node(name).unwrap().fingerprint().unwrap());
    let paths: [(&str, Vec<String>); 4] = [
        ("our guard", vec![guard.path_id(), c("relay0"), c("exit0")]),
        (
            "our middle",
            vec![c("relay0"), middle.path_id(), c("exit0")],
        ),
        ("our exit", vec![c("relay0"), c("exit0"), exit.path_id()]),
        (
            "ours only",
            vec![guard.path_id(), middle.path_id(), exit.path_id()],
        ),
    ];
    for (what, path) in &paths {
        let took = fetch_via(&net, "client1", path, port);
        eprintln!("{what}: page fetched in {took:.1?}");
    }
    assert!(page.served() >= 5);
    net.mark("fetched via our guard, middle, exit");

    eprintln!(
        "interop: C tor network {c_started:.1?}, ours listed at {listed:.1?}, clients \
         bootstrapped in {boot0:.1?} / {boot1:.1?}, all done in {:.1?}\n{}",
        t0.elapsed(),
        net.timeline()
    );
    for r in [guard, middle, exit] {
        rt.block_on(r.node.shutdown());
    }
}
