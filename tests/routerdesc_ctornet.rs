//! Router descriptors and microdescriptors against a stock C tor 0.4.9 directory authority
//! (the `ctornet` harness: 1 authority and 2 relays, one of them an exit, on loopback).
//!
//! - Every descriptor the authority serves (`/tor/server/all`) verifies with our parser, and
//!   the microdescriptor we make from it (`microdesc_text`, so also `policy::summarize` for
//!   the exit's `p` line) is byte for byte the one the authority made: its digest is the
//!   consensus `m` value and `/tor/micro/d/` serves the same text.
//! - Our descriptor, built for the keys of our relay runtime (listening on its ORPort), is
//!   accepted by the authority (`POST /tor/` answers 200), which serves it back at
//!   `/tor/server/fp/<fingerprint>` unchanged, tests the ORPort, and lists the relay Running
//!   and Valid in a later consensus with the microdescriptor we compute for it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, SystemTime};

use common::ctornet::CTorNet;
use common::ctornet_io::{http_get, split_http_response};
use oniongate::config::{merge, parse_torrc, Daemon, DaemonConfig as _, RelayConfig};
use oniongate::config::{PolicyAction, PolicyAddr, PolicyRule};
use oniongate::dir::doc::microdesc::{microdesc_text, Microdesc};
use oniongate::dir::doc::routerdesc::{
    build_descriptor, platform_string, split_descriptors, Bandwidth, DescriptorParams,
    RouterDescriptor,
};
use oniongate::keys::KeyPolicy;
use oniongate::rt::relay::{Relay, RelayOptions};
use oniongate::rt::relay_keys::RelayKeyDir;

const T: Duration = Duration::from_secs(10);

fn now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn get(addr: SocketAddr, path: &str) -> String {
    let (status, body) = http_get(addr, path, T).unwrap();
    assert_eq!(status, 200, "GET {path}");
    String::from_utf8(body).unwrap()
}

fn post(addr: SocketAddr, path: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect_timeout(&addr, T).unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let head = String::from_utf8_lossy(&raw[..raw.len().min(200)]).to_string();
    let (status, _) = split_http_response(&raw).unwrap();
    (status, head)
}

/// The `m` digest of each router in a microdesc consensus, by `r`-line identity (base64).
fn md_digests(consensus: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut id = None;
    for line in consensus.lines() {
        if let Some(r) = line.strip_prefix("r ") {
            id = r.split(' ').nth(1).map(str::to_string);
        } else if let (Some(m), Some(i)) = (line.strip_prefix("m "), id.take()) {
            out.push((i, m.to_string()));
        }
    }
    out
}

fn our_params(now: u64) -> DescriptorParams {
    DescriptorParams {
        nickname: "OnionGateRD".into(),
        ipv4: "127.0.0.1".parse().unwrap(),
        or_port: common::ctor::free_port(),
        dir_port: 0,
        ipv6_or: None,
        platform: platform_string(env!("CARGO_PKG_VERSION")),
        published: now,
        uptime: 0,
        bandwidth: Bandwidth {
            average: 1 << 30,
            burst: 1 << 30,
            observed: 1 << 20,
        },
        contact: Some("oniongate routerdesc test".into()),
        // Exercises C tor's family canonicalisation in the microdescriptor: nicknames
        // lower-cased, `$HEX~nick` reduced to `$HEX`, duplicates dropped, own id added.
        family: vec![
            "ZedFriend".into(),
            "$0123456789abcdef0123456789abcdef01234567~Other".into(),
            "$0123456789ABCDEF0123456789ABCDEF01234567".into(),
            "zedfriend".into(),
        ],
        exit_policy: vec![
            PolicyRule {
                action: PolicyAction::Accept,
                addr: PolicyAddr::AnyV4,
                port_lo: 443,
                port_hi: 443,
            },
            // IPv6 exits to 443 and 8000-8080: an `ipv6-policy` line, and a `p6` line.
            PolicyRule {
                action: PolicyAction::Accept,
                addr: PolicyAddr::AnyV6,
                port_lo: 443,
                port_hi: 443,
            },
            PolicyRule {
                action: PolicyAction::Accept,
                addr: PolicyAddr::AnyV6,
                port_lo: 8000,
                port_hi: 8080,
            },
            PolicyRule {
                action: PolicyAction::Reject,
                addr: PolicyAddr::Any,
                port_lo: 1,
                port_hi: 65535,
            },
        ],
        tunnelled_dir_server: true,
        hidden_service_dir: true,
    }
}

#[test]
fn ctor_authority_agrees_and_accepts_ours() {
    let net = CTorNet::builder().authorities(1).relays(2).exits(1).start();
    let consensus = net.wait_for_consensus(3, Duration::from_secs(60)).unwrap();
    let auth = net.authorities().next().unwrap().dir_addr().unwrap();

    // Their descriptors, and the microdescriptors the authority made from them.
    let all = get(auth, "/tor/server/all");
    let descs: Vec<RouterDescriptor> = split_descriptors(&all)
        .into_iter()
        .map(|d| RouterDescriptor::parse(d, now()).unwrap_or_else(|e| panic!("{e}\n{d}")))
        .collect();
    assert_eq!(descs.len(), 3, "the authority and two relays (one an exit)");
    let digests = md_digests(&consensus.text);
    let mut exits_seen = 0;
    for d in &descs {
        let id = oniongate::dir::doc::token::b64_nopad(&d.rsa_id.0);
        let (_, m) = digests
            .iter()
            .find(|(i, _)| *i == id)
            .unwrap_or_else(|| panic!("{} not in the consensus", d.nickname));
        let ours = microdesc_text(d);
        let theirs = get(auth, &format!("/tor/micro/d/{m}"));
        assert_eq!(ours, theirs, "microdescriptor of {}", d.nickname);
        let md = &Microdesc::parse_many(&theirs).unwrap()[0];
        assert_eq!(&md.digest_b64(), m);
        if !md.ipv4_policy.allows_none() {
            exits_seen += 1;
            eprintln!("{}: p {}", d.nickname, md.ipv4_policy);
        }
    }
    assert_eq!(exits_seen, 1, "the exit's `p` line matched ours");

    // Ours: our relay runtime listens on the ORPort (so the authority's reachability test
    // passes), we build its descriptor from the keys it loaded and upload it.
    let dir = common::ctor::TempDir::new("rd-ours");
    let data = dir.path().join("data");
    let text = format!(
        "Nickname OnionGateRD\nORPort 127.0.0.1:auto\nDataDirectory {}\nExitRelay 0\n",
        data.display()
    );
    let entries = parse_torrc(&text, "test").unwrap();
    let config = RelayConfig::from_entries(&merge(Daemon::Relay, &[&entries]).unwrap()).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let relay = rt
        .block_on(Relay::start_with(
            config,
            RelayOptions {
                extend_allow_private: Some(true),
                ..RelayOptions::default()
            },
        ))
        .unwrap();
    let keys = RelayKeyDir::open(&data)
        .unwrap()
        .load_or_create(
            "OnionGateRD",
            KeyPolicy::default(),
            SystemTime::now(),
            &mut rand::rngs::OsRng,
        )
        .unwrap();
    assert_eq!(keys.rsa_id(), relay.rsa_id());
    let mut params = our_params(now());
    params.or_port = relay.or_addrs()[0].port();
    let text = build_descriptor(&keys, &params).unwrap();
    let (status, head) = post(auth, "/tor/", &text);
    assert_eq!(
        status,
        200,
        "upload answered {head:?}\n{}",
        net.logs_tail(20)
    );
    let fp = keys.rsa_id().to_hex();
    let back = get(auth, &format!("/tor/server/fp/{fp}"));
    assert_eq!(back.trim_end_matches('\n'), text.trim_end_matches('\n'));
    let mine = RouterDescriptor::parse(&back, now()).unwrap();
    let md = microdesc_text(&mine);
    assert!(
        md.contains("\np accept 443\np6 accept 443,8000-8080\n"),
        "{md}"
    );
    assert!(
        md.contains("\nfamily $0123456789ABCDEF0123456789ABCDEF01234567 $"),
        "{md}"
    );
    assert!(md.contains(" zedfriend\n"), "{md}");

    // Listed Running and Valid in a later consensus, with the microdescriptor we compute.
    let c = net
        .wait_for_relay(&fp, &["Running", "Valid"], Duration::from_secs(90))
        .unwrap();
    let id = oniongate::dir::doc::token::b64_nopad(&keys.rsa_id().0);
    let (_, m) = md_digests(&c.text)
        .into_iter()
        .find(|(i, _)| *i == id)
        .expect("our relay has an m line");
    assert_eq!(m, Microdesc::parse_many(&md).unwrap()[0].digest_b64());
    assert_eq!(get(auth, &format!("/tor/micro/d/{m}")), md);
    eprintln!("our relay listed: {:?}", c.router(&fp));
    rt.block_on(relay.shutdown());
}
