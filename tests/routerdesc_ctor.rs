//! Live interop with stock C tor 0.4.9: a C tor relay's own descriptor, fetched over
//! BEGIN_DIR (`/tor/server/authority`) on a one-hop CREATE_FAST circuit, parses and verifies
//! with our parser (both signatures, the cert chain, both crosscerts), names the keys the
//! relay has on disk, and lists its items in the order our builder uses. The capture stored
//! in `tests/vectors/netdoc/ctor_0.4.9.11_relay.txt` is checked the same way offline.
//!
//! Set `ONIONGATE_CAPTURE_DIR` to write the fetched descriptors there (how the stored vector
//! was made).

#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use common::ctor::{CTorOptions, CTorRelay};
use oniongate::client::{HandshakeKind, HopTarget};
use oniongate::crypto::ll::X25519Public;
use oniongate::dir::doc::microdesc::{microdesc_text, Microdesc};
use oniongate::dir::doc::policy::summarize;
use oniongate::dir::doc::routerdesc::{
    build_descriptor, platform_string, Bandwidth, DescriptorParams, RouterDescriptor,
};
use oniongate::dir::doc::token::{parse_time_str, tokenize};
use oniongate::ids::{Ed25519Identity, RsaIdentity};
use oniongate::keys::{KeyPolicy, RelayKeys};
use oniongate::rt::client::{BuildOptions, ChannelPool, Circuit, FirstHop};
use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn target(relay: &CTorRelay) -> HopTarget {
    HopTarget {
        addrs: vec![relay.or_addr],
        rsa_id: RsaIdentity(relay.rsa_id),
        ed_id: Some(Ed25519Identity(relay.ed_id)),
        ntor_key: X25519Public::from(relay.ntor_key),
        handshake: HandshakeKind::Ntor,
    }
}

/// Fetches `path` from the relay's directory cache over BEGIN_DIR; returns the status line
/// and the body.
async fn fetch(relay: &CTorRelay, path: &str) -> (String, String) {
    let pool = ChannelPool::new();
    let t = target(relay);
    let chan = pool.get_or_connect(&t).await.unwrap();
    let circ = Circuit::build_with(
        &chan,
        std::slice::from_ref(&t),
        BuildOptions {
            first_hop: FirstHop::CreateFast,
            ..BuildOptions::default()
        },
    )
    .await
    .unwrap();
    let mut s = circ.begin_dir().await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut answer))
        .await
        .expect("answer within 30 s")
        .unwrap();
    let answer = String::from_utf8(answer).expect("a UTF-8 answer");
    let (head, body) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
    (
        head.lines().next().unwrap_or("").to_string(),
        body.to_string(),
    )
}

/// Polls until the relay serves its descriptor (it builds it shortly after start).
async fn own_descriptor(relay: &CTorRelay) -> String {
    for _ in 0..30 {
        let (status, body) = fetch(relay, "/tor/server/authority").await;
        if status.starts_with("HTTP/1.0 200") {
            return body;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    panic!("C tor never served /tor/server/authority");
}

fn keywords(text: &str) -> Vec<String> {
    let text = format!("{}\n", text.trim_end_matches('\n'));
    let mut v: Vec<String> = tokenize(&text)
        .unwrap()
        .iter()
        .map(|i| i.keyword.to_string())
        .collect();
    v.dedup();
    v
}

/// Whether `a` and `b` list their common keywords in the same order.
fn same_relative_order(a: &[String], b: &[String]) -> bool {
    let common_a: Vec<&String> = a.iter().filter(|k| b.contains(k)).collect();
    let common_b: Vec<&String> = b.iter().filter(|k| a.contains(k)).collect();
    common_a == common_b
}

fn check_ctor_descriptor(text: &str, at: u64) -> RouterDescriptor {
    let d = RouterDescriptor::parse(text, at).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert!(d.platform.as_deref().unwrap().starts_with("Tor 0.4.9"));
    assert!(d.tap_onion_key.is_some(), "0.4.9 still publishes a TAP key");
    // The microdescriptor an authority would make from it parses (ours and Arti's) with one
    // digest.
    let md = microdesc_text(&d);
    let ours = &Microdesc::parse_many(&md).unwrap()[0];
    let arti = tor_netdoc::doc::microdesc::MicrodescAndHash::parse(&md).unwrap();
    assert_eq!(arti.digest(), &ours.digest);
    assert_eq!(ours.ipv4_policy, summarize(&d.exit_policy));
    d
}

fn our_descriptor(at: u64, exit: bool) -> String {
    let mut rng = StdRng::seed_from_u64(5);
    let keys = RelayKeys::generate(
        "Ours",
        KeyPolicy {
            tls_key_bits: 1024,
            ..KeyPolicy::default()
        },
        SystemTime::UNIX_EPOCH + Duration::from_secs(at),
        &mut rng,
    )
    .unwrap();
    let exit_policy = if exit {
        vec!["accept 127.0.0.1:*".parse_rule(), "reject *:*".parse_rule()]
    } else {
        vec![]
    };
    build_descriptor(
        &keys,
        &DescriptorParams {
            nickname: "Ours".into(),
            ipv4: "127.0.0.1".parse().unwrap(),
            or_port: 9001,
            dir_port: 0,
            ipv6_or: None,
            platform: platform_string("0.0.0"),
            published: at,
            uptime: 0,
            bandwidth: Bandwidth {
                average: 1,
                burst: 1,
                observed: 1,
            },
            contact: Some("x".into()),
            family: vec![],
            exit_policy,
            tunnelled_dir_server: true,
            hidden_service_dir: true,
        },
    )
    .unwrap()
}

trait ParseRule {
    fn parse_rule(&self) -> oniongate::config::PolicyRule;
}

impl ParseRule for &str {
    fn parse_rule(&self) -> oniongate::config::PolicyRule {
        let (kw, pat) = self.split_once(' ').unwrap();
        oniongate::dir::doc::policy::parse_desc_rule(kw, pat).unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctor_relay_descriptors_verify() {
    let exit_opts = CTorOptions {
        exit_policy: Some(vec!["accept 127.0.0.1:*".into(), "reject *:*".into()]),
        extra: vec![],
    };
    let (plain, exit) = std::thread::scope(|s| {
        let a = s.spawn(|| CTorRelay::start("rdplain", &CTorOptions::default()));
        let b = s.spawn(|| CTorRelay::start("rdexit", &exit_opts));
        (a.join().unwrap(), b.join().unwrap())
    });
    for (relay, is_exit) in [(&plain, false), (&exit, true)] {
        let text = own_descriptor(relay).await;
        if let Some(dir) = std::env::var_os("ONIONGATE_CAPTURE_DIR") {
            let p = PathBuf::from(dir).join(format!("{}.txt", relay.nickname));
            std::fs::write(&p, &text).unwrap();
        }
        let d = check_ctor_descriptor(&text, now());
        assert_eq!(d.nickname, relay.nickname);
        assert_eq!(d.rsa_id.0, relay.rsa_id);
        assert_eq!(d.ed_id.0, relay.ed_id);
        assert_eq!(d.ntor_onion_key.as_bytes(), &relay.ntor_key);
        assert_eq!(d.or_port, relay.or_addr.port());
        assert_eq!(d.contact.as_deref(), Some("oniongate-test@example.invalid"));
        let p = summarize(&d.exit_policy).to_string();
        if is_exit {
            // 127.0.0.1/32 is far too small to be summarised as an exit.
            assert_eq!(p, "reject 1-65535", "{text}");
            assert!(text.contains("\naccept 127.0.0.1:*\n"));
        } else {
            assert_eq!(p, "reject 1-65535");
        }
        // Same item order as ours for every item both have.
        let ours = keywords(&our_descriptor(now(), is_exit));
        let theirs = keywords(&text);
        assert!(
            same_relative_order(&ours, &theirs),
            "ours {ours:?}\nC tor {theirs:?}"
        );
        eprintln!("{}: C tor items {theirs:?}", relay.nickname);
    }
}

#[test]
fn stored_ctor_capture_verifies() {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors/netdoc/ctor_0.4.9.11_relay.txt");
    let file = std::fs::read_to_string(&p).unwrap();
    let mut rest = file.as_str();
    assert!(rest.starts_with("# Source:"));
    while rest.starts_with('#') {
        rest = &rest[rest.find('\n').unwrap() + 1..];
    }
    let text = rest.strip_prefix('\n').unwrap();
    let published = parse_time_str(
        &text.lines().find(|l| l.starts_with("published ")).unwrap()["published ".len()..],
    )
    .unwrap();
    let d = check_ctor_descriptor(text, published);
    assert!(same_relative_order(
        &keywords(&our_descriptor(published, false)),
        &keywords(text)
    ));
    // Arti verifies it too.
    use tor_checkable::{SelfSigned as _, TimeBound as _};
    let arti = tor_netdoc::doc::routerdesc::RouterDesc::parse(text)
        .unwrap()
        .check_signature()
        .unwrap()
        .if_valid_at(&(SystemTime::UNIX_EPOCH + Duration::from_secs(published)))
        .unwrap();
    assert_eq!(arti.rsa_identity().as_bytes(), &d.rsa_id.0);
    // A year later its certificates have expired.
    assert!(RouterDescriptor::parse(text, published + 365 * 86400).is_err());
}
