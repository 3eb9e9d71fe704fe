#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddrV6};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use rand::rngs::StdRng;
use rand::SeedableRng;
use sha1::Sha1;
use sha2::{Digest as _, Sha256};

use super::*;
use crate::config::{PolicyAction, PolicyAddr};
use crate::dir::doc::token::{b64_nopad, DocError, DocWriter};
use crate::keys::{KeyPolicy, RelayKeys};

const T0: u64 = 1_800_000_000;

pub(crate) fn keys() -> &'static RelayKeys {
    static K: OnceLock<RelayKeys> = OnceLock::new();
    K.get_or_init(|| {
        let policy = KeyPolicy {
            tls_key_bits: 1024,
            ..KeyPolicy::default()
        };
        let mut rng = StdRng::seed_from_u64(7);
        RelayKeys::generate(
            "Oniontest",
            policy,
            SystemTime::UNIX_EPOCH + Duration::from_secs(T0),
            &mut rng,
        )
        .unwrap()
    })
}

fn rule(action: PolicyAction, addr: PolicyAddr, lo: u16, hi: u16) -> PolicyRule {
    PolicyRule {
        action,
        addr,
        port_lo: lo,
        port_hi: hi,
    }
}

pub(crate) fn params() -> DescriptorParams {
    DescriptorParams {
        nickname: "Oniontest".into(),
        ipv4: Ipv4Addr::new(203, 0, 113, 5),
        or_port: 9001,
        dir_port: 0,
        ipv6_or: Some(SocketAddrV6::new(
            Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1),
            9001,
            0,
            0,
        )),
        platform: platform_string("0.3.0"),
        published: T0 + 10,
        uptime: 3600,
        bandwidth: Bandwidth {
            average: 1 << 30,
            burst: 1 << 30,
            observed: 123_456,
        },
        contact: Some("ops at example dot org".into()),
        family: vec![
            "$0123456789ABCDEF0123456789ABCDEF01234567".into(),
            "Friend".into(),
        ],
        exit_policy: vec![
            rule(PolicyAction::Reject, PolicyAddr::Private, 1, 65535),
            rule(PolicyAction::Accept, PolicyAddr::Any, 80, 80),
            rule(PolicyAction::Accept, PolicyAddr::Any, 443, 443),
            rule(PolicyAction::Reject, PolicyAddr::Any, 1, 65535),
        ],
        tunnelled_dir_server: true,
        hidden_service_dir: true,
    }
}

fn built() -> String {
    build_descriptor(keys(), &params()).unwrap()
}

/// Re-signs a (modified) descriptor body with the test keys: `body` is the text up to and
/// not including `router-sig-ed25519`.
fn resign(body: &str) -> String {
    let k = keys();
    let mut w = DocWriter::new();
    w.raw(body).raw("router-sig-ed25519 ");
    let d = Sha256::new()
        .chain_update(ED_SIG_PREFIX)
        .chain_update(w.as_str().as_bytes())
        .finalize();
    let sig = k.signing_key().sign(&d);
    w.raw(&b64_nopad(&sig.to_bytes()))
        .raw("\nrouter-signature\n");
    let rsa = k
        .identity_key()
        .sign(&Sha1::digest(w.as_str().as_bytes()))
        .unwrap();
    w.object("SIGNATURE", &rsa);
    w.finish()
}

fn body_of(text: &str) -> &str {
    &text[..text.find("router-sig-ed25519 ").unwrap()]
}

fn refused(text: &str, now: u64, want: &str) {
    match RouterDescriptor::parse(text, now) {
        Ok(_) => panic!("accepted, expected refusal containing {want:?}"),
        Err(e) => assert!(
            e.to_string().contains(want),
            "error {e:?} does not mention {want:?}"
        ),
    }
}

#[test]
fn builds_in_ctor_order_and_parses_back() {
    let text = built();
    let kws: Vec<&str> = crate::dir::doc::token::tokenize(&text)
        .unwrap()
        .iter()
        .map(|i| i.keyword)
        .collect();
    assert_eq!(
        kws,
        [
            "router",
            "identity-ed25519",
            "master-key-ed25519",
            "or-address",
            "platform",
            "proto",
            "published",
            "fingerprint",
            "uptime",
            "bandwidth",
            "onion-key",
            "signing-key",
            "onion-key-crosscert",
            "ntor-onion-key-crosscert",
            "family",
            "hidden-service-dir",
            "contact",
            "ntor-onion-key",
            "reject",
            "reject",
            "reject",
            "reject",
            "reject",
            "reject",
            "accept",
            "accept",
            "reject",
            "ipv6-policy",
            "tunnelled-dir-server",
            "router-sig-ed25519",
            "router-signature",
        ]
    );
    assert!(text.contains("\nreject 10.0.0.0/8:*\n"));
    assert!(text.contains("\naccept *:80\naccept *:443\nreject *:*\nipv6-policy accept 80,443\n"));
    assert!(text.starts_with("router Oniontest 203.0.113.5 9001 0 0\n"));
    let d = RouterDescriptor::parse(&text, T0 + 60).unwrap();
    let k = keys();
    assert_eq!(d.nickname, "Oniontest");
    assert_eq!(d.rsa_id, k.rsa_id());
    assert_eq!(d.ed_id, k.ed_id());
    assert_eq!(d.signing_key, k.signing_key().public());
    assert_eq!(d.platform.as_deref(), Some("Oniongate 0.3.0"));
    assert_eq!(d.protocols, PROTOCOLS);
    assert_eq!(d.published, T0 + 10);
    assert_eq!(d.uptime, Some(3600));
    assert_eq!(d.bandwidth, params().bandwidth);
    assert_eq!(d.ipv6_or, params().ipv6_or);
    assert_eq!(d.family, params().family);
    assert_eq!(d.contact.as_deref(), Some("ops at example dot org"));
    assert!(d.tunnelled_dir_server && d.hidden_service_dir);
    assert_eq!(
        d.ntor_onion_key,
        crate::crypto::ll::X25519Public::from(k.ntor_onion_secret())
    );
    assert_eq!(d.tap_onion_key, Some(k.tap_onion_key().public()));
    assert_eq!(d.exit_policy.len(), 9);
    assert_eq!(d.exit_policy[6].addr, PolicyAddr::AnyV4);
    assert_eq!(d.ipv6_policy.as_ref().unwrap().to_string(), "accept 80,443");
    let end = text.find("router-signature\n").unwrap() + "router-signature\n".len();
    assert_eq!(
        d.digest,
        <[u8; 20]>::from(Sha1::digest(&text.as_bytes()[..end]))
    );
    assert_eq!(
        crate::dir::doc::policy::summarize(&d.exit_policy).to_string(),
        "accept 80,443"
    );
    // Splitting a concatenation gives both back.
    let two = format!("{text}{text}");
    let parts = split_descriptors(&two);
    assert_eq!(parts, [text.as_str(), text.as_str()]);
    // Resigning the same body is the identity (deterministic signatures).
    assert_eq!(resign(body_of(&text)), text);
}

#[test]
fn minimal_params_give_a_non_exit() {
    let mut p = params();
    p.exit_policy.clear();
    p.family.clear();
    p.contact = None;
    p.ipv6_or = None;
    p.tunnelled_dir_server = false;
    p.hidden_service_dir = false;
    let text = build_descriptor(keys(), &p).unwrap();
    assert!(text.contains("\nreject *:*\nrouter-sig-ed25519 "));
    let d = RouterDescriptor::parse(&text, T0).unwrap();
    assert!(d.family.is_empty() && d.contact.is_none() && d.ipv6_policy.is_none());
    assert!(!d.tunnelled_dir_server && !d.hidden_service_dir);
    for bad in ["", "bad nick", "abcdefghijklmnopqrst"] {
        let mut p = params();
        p.nickname = bad.into();
        assert!(build_descriptor(keys(), &p).is_err());
    }
    let mut p = params();
    p.contact = Some("two\nlines".into());
    assert!(build_descriptor(keys(), &p).is_err());
}

#[test]
fn every_mutation_is_refused_with_a_reason() {
    let text = built();
    let now = T0 + 60;
    let body = body_of(&text).to_string();

    // Signatures.
    let ed_at = text.find("router-sig-ed25519 ").unwrap() + 20;
    let mut t = text.clone().into_bytes();
    t[ed_at] = if t[ed_at] == b'A' { b'B' } else { b'A' };
    refused(std::str::from_utf8(&t).unwrap(), now, "router-sig-ed25519");
    let rsa_at = text.find("-----BEGIN SIGNATURE-----\n").unwrap() + 30;
    let mut t = text.clone().into_bytes();
    t[rsa_at] = if t[rsa_at] == b'A' { b'B' } else { b'A' };
    refused(std::str::from_utf8(&t).unwrap(), now, "router-signature");
    // A body change without resigning.
    refused(
        &text.replacen("uptime 3600", "uptime 3601", 1),
        now,
        "router-sig-ed25519",
    );

    // Resigned bodies that break one rule each.
    let other_ntor = b64_nopad(
        crate::crypto::ll::X25519Public::from(&crate::crypto::ll::X25519Secret::from([9u8; 32]))
            .as_bytes(),
    );
    let ntor_line = body
        .lines()
        .find(|l| l.starts_with("ntor-onion-key "))
        .unwrap();
    let swapped = body.replacen(ntor_line, &format!("ntor-onion-key {other_ntor}"), 1);
    refused(&resign(&swapped), now, "ntor-onion-key-crosscert");
    let fp_line = body
        .lines()
        .find(|l| l.starts_with("fingerprint "))
        .unwrap();
    let wrong_fp = body.replacen(
        fp_line,
        "fingerprint 0000 0000 0000 0000 0000 0000 0000 0000 0000 0000",
        1,
    );
    refused(&resign(&wrong_fp), now, "fingerprint");
    let a = body.find("onion-key-crosscert\n").unwrap();
    let b = body.find("ntor-onion-key-crosscert ").unwrap();
    let no_tap_cc = format!("{}{}", &body[..a], &body[b..]);
    refused(&resign(&no_tap_cc), now, "onion-key-crosscert");
    let dup = body.replacen("uptime 3600\n", "uptime 3600\nuptime 3600\n", 1);
    refused(&resign(&dup), now, "uptime");
    let dup_bw = body.replacen("bandwidth ", "bandwidth 1 1 1\nbandwidth ", 1);
    refused(&resign(&dup_bw), now, "bandwidth");
    let proto_line = format!("proto {PROTOCOLS}\n");
    refused(&resign(&body.replacen(&proto_line, "", 1)), now, "proto");
    let ncc = body.replacen(
        "ntor-onion-key-crosscert 0\n",
        "ntor-onion-key-crosscert 0 0\n",
        1,
    );
    let ncc = ncc.replacen(
        "ntor-onion-key-crosscert 1\n",
        "ntor-onion-key-crosscert 1 1\n",
        1,
    );
    refused(&resign(&ncc), now, "ntor-onion-key-crosscert");
    let no_ntor = body.replacen(&format!("{ntor_line}\n"), "", 1);
    refused(&resign(&no_ntor), now, "ntor-onion-key");
    let mk_line = body
        .lines()
        .find(|l| l.starts_with("master-key-ed25519 "))
        .unwrap();
    let wrong_mk = body.replacen(mk_line, &format!("master-key-ed25519 {other_ntor}"), 1);
    refused(&resign(&wrong_mk), now, "master-key-ed25519");
    // identity-ed25519 not second.
    let id_start = body.find("identity-ed25519\n").unwrap();
    let id_end = body.find("master-key-ed25519").unwrap();
    let moved = format!(
        "{}{}{}",
        &body[..id_start],
        &body[id_end..],
        &body[id_start..id_end]
    );
    refused(&resign(&moved), now, "identity-ed25519");
    // Trailing text after the signature, or items after it.
    refused(&format!("{text}foo x\n"), now, "last item");
    // Bad items.
    refused(
        &resign(&body.replacen("bandwidth 1073741824", "bandwidth x", 1)),
        now,
        "bandwidth",
    );
    refused(
        &resign(&body.replacen("9001 0 0\n", "9001 0\n", 1)),
        now,
        "router",
    );
    refused(
        &resign(&body.replacen("accept *:80\n", "accept *:80x\n", 1)),
        now,
        "accept",
    );
    refused(
        &resign(&body.replacen("ipv6-policy accept", "ipv6-policy allow", 1)),
        now,
        "ipv6-policy",
    );

    // Times: the identity certificate expires (KeyPolicy default: 30 days); the ntor
    // crosscert 28 days after publication.
    let expiry = keys()
        .signing_cert_expiry()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(RouterDescriptor::parse(&text, expiry.min(T0 + 27 * 86400)).is_ok());
    refused(&text, expiry + 3600, "expired");

    // Garbage and size.
    refused("", now, "");
    refused("router x\n", now, "");
    refused(&"x".repeat(MAX_DESCRIPTOR_SIZE + 1), now, "limit");
    let padded = resign(&body.replacen(
        "contact ",
        &format!("contact {}", "y".repeat(MAX_DESCRIPTOR_SIZE)),
        1,
    ));
    refused(&padded, now, "limit");
}

#[test]
fn unknown_items_and_tapless_are_tolerated() {
    let text = built();
    let body = body_of(&text);
    let extra = body.replacen("uptime 3600\n", "uptime 3600\nsome-new-item with args\n", 1);
    assert!(RouterDescriptor::parse(&resign(&extra), T0).is_ok());
    // Desc=3/4 style: no onion-key and no onion-key-crosscert.
    let a = body.find("onion-key\n").unwrap();
    let b = body.find("signing-key\n").unwrap();
    let c = body.find("onion-key-crosscert\n").unwrap();
    let d = body.find("ntor-onion-key-crosscert ").unwrap();
    let tapless = format!("{}{}{}", &body[..a], &body[b..c], &body[d..]);
    let parsed = RouterDescriptor::parse(&resign(&tapless), T0).unwrap();
    assert!(parsed.tap_onion_key.is_none());
    // `opt` prefixes are dropped.
    let opt = body.replacen("uptime 3600\n", "opt uptime 3600\n", 1);
    assert_eq!(
        RouterDescriptor::parse(&resign(&opt), T0).unwrap().uptime,
        Some(3600)
    );
}

#[test]
fn private_v6_rules_stay_out_of_the_ipv4_lines() {
    let mut p = params();
    p.exit_policy.insert(
        0,
        rule(
            PolicyAction::Accept,
            PolicyAddr::Net {
                addr: IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0)),
                prefix: 32,
            },
            22,
            22,
        ),
    );
    let text = build_descriptor(keys(), &p).unwrap();
    assert!(!text.contains("2001:db8::/32") && !text.contains(":22\n"));
    assert!(RouterDescriptor::parse(&text, T0).is_ok());
}

proptest::proptest! {
    #[test]
    fn parse_never_panics(s in "(router|identity-ed25519|accept|reject|onion-key|ntor-onion-key|-----BEGIN A-----|-----END A-----|AAAA|[ a-z0-9*:\\-\n]){0,60}") {
        let _ = RouterDescriptor::parse(&s, T0);
        let _ = split_descriptors(&s);
    }

    #[test]
    fn mutated_descriptors_never_panic(pos in 0usize..4000, byte in proptest::num::u8::ANY) {
        let mut t = built().into_bytes();
        let i = pos % t.len();
        t[i] = byte;
        if let Ok(s) = std::str::from_utf8(&t) {
            let r = RouterDescriptor::parse(s, T0);
            // A changed byte never leaves a descriptor that verifies, except a change that
            // is invisible to the signed text (none exist) or the same byte.
            if s != built() {
                proptest::prop_assert!(r.is_err());
            }
        }
    }
}

#[test]
fn errors_are_doc_errors() {
    let e = RouterDescriptor::parse("router a 1.2.3.4 1 0 0\n", T0).unwrap_err();
    assert!(matches!(e, DocError::Missing(_)));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
    #[test]
    fn random_params_round_trip(
        nick in "[A-Za-z0-9]{1,19}",
        ip in proptest::num::u32::ANY,
        or_port in 1u16..,
        dir_port in proptest::num::u16::ANY,
        bw in (proptest::num::u32::ANY, proptest::num::u32::ANY, proptest::num::u32::ANY),
        uptime in proptest::num::u32::ANY,
        ports in proptest::collection::vec((1u16.., 0u16..300, proptest::bool::ANY), 0..12),
        fam in proptest::collection::vec("[A-Za-z0-9]{1,19}", 0..4),
        flags in (proptest::bool::ANY, proptest::bool::ANY),
    ) {
        let mut p = params();
        p.nickname = nick;
        p.ipv4 = Ipv4Addr::from(ip);
        p.or_port = or_port;
        p.dir_port = dir_port;
        p.bandwidth = Bandwidth { average: bw.0.into(), burst: bw.1.into(), observed: bw.2.into() };
        p.uptime = uptime.into();
        p.family = fam;
        p.tunnelled_dir_server = flags.0;
        p.hidden_service_dir = flags.1;
        p.exit_policy = ports
            .iter()
            .map(|&(lo, span, acc)| {
                let hi = lo.saturating_add(span);
                let action = if acc { PolicyAction::Accept } else { PolicyAction::Reject };
                rule(action, PolicyAddr::Any, lo, hi)
            })
            .collect();
        let text = build_descriptor(keys(), &p).unwrap();
        let d = RouterDescriptor::parse(&text, T0).unwrap();
        proptest::prop_assert_eq!(&d.nickname, &p.nickname);
        proptest::prop_assert_eq!(d.ipv4, p.ipv4);
        proptest::prop_assert_eq!((d.or_port, d.dir_port), (p.or_port, p.dir_port));
        proptest::prop_assert_eq!(d.bandwidth, p.bandwidth);
        proptest::prop_assert_eq!(d.uptime, Some(p.uptime));
        proptest::prop_assert_eq!(&d.family, &p.family);
        proptest::prop_assert_eq!(d.tunnelled_dir_server, p.tunnelled_dir_server);
        proptest::prop_assert_eq!(d.hidden_service_dir, p.hidden_service_dir);
        // The parsed IPv4 policy summarises as the one we built from.
        let ours = crate::dir::doc::policy::summarize(&p.exit_policy);
        proptest::prop_assert_eq!(crate::dir::doc::policy::summarize(&d.exit_policy), ours);
        let v6 = crate::dir::doc::policy::summarize_v6(&p.exit_policy);
        proptest::prop_assert_eq!(d.ipv6_policy.unwrap_or_else(PortSummary::reject_all), v6);
    }
}
