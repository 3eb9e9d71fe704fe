//! Router descriptors and microdescriptors from other implementations (Arti's tor-netdoc
//! test data, a stock C tor 0.4.9.11 relay's own descriptor), checked with our parser; and
//! ours checked with Arti's parser (tor-netdoc 0.47).

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use oniongate::config::{PolicyAction, PolicyAddr, PolicyRule};
use oniongate::dir::doc::microdesc::{microdesc_text, Microdesc};
use oniongate::dir::doc::policy::summarize;
use oniongate::dir::doc::routerdesc::{
    build_descriptor, platform_string, Bandwidth, DescriptorParams, RouterDescriptor,
};
use oniongate::dir::doc::token::parse_time_str;
use oniongate::keys::{KeyPolicy, RelayKeys};
use rand::rngs::StdRng;
use rand::SeedableRng;
use sha2::{Digest as _, Sha256};
use tor_checkable::{SelfSigned as _, TimeBound as _};

/// Reads a document vector: a `#` header naming the source, a blank line, the document.
fn doc(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors/netdoc")
        .join(name);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let mut rest = text.as_str();
    assert!(rest.starts_with("# Source:"), "{name} has no source header");
    while rest.starts_with('#') {
        rest = &rest[rest.find('\n').unwrap() + 1..];
    }
    rest.strip_prefix('\n')
        .unwrap_or_else(|| panic!("{name}: no blank line after the header"))
        .to_string()
}

fn published(text: &str) -> u64 {
    let line = text.lines().find(|l| l.starts_with("published ")).unwrap();
    parse_time_str(&line["published ".len()..]).unwrap()
}

#[test]
fn arti_router_descriptors_verify() {
    let d1 = doc("arti_routerdesc1.txt");
    let r1 = RouterDescriptor::parse(&d1, published(&d1)).unwrap();
    assert_eq!(r1.nickname, "Akka");
    assert_eq!(r1.or_port, 443);
    assert_eq!(
        r1.rsa_id.to_hex(),
        "56927E61B51E6F363FB55498150A6DDFCF7077F2"
    );
    assert_eq!(
        r1.ed_id.to_base64(),
        "CVTjf1oeaL616hH+1+UvYZ8OgkwF3z7UMITvJzm5r7A"
    );
    assert_eq!(r1.ipv6_or.unwrap().to_string(), "[2a01:4f9:2a:2145::2]:443");
    assert_eq!(
        r1.platform.as_deref(),
        Some("Tor 0.4.8.0-alpha-dev on Linux")
    );
    assert_eq!(r1.bandwidth.observed, 61_224_922);
    assert!(r1.tap_onion_key.is_some());
    // The microdescriptor an authority would make has the same keys.
    let md = Microdesc::parse_many(&microdesc_text(&r1)).unwrap();
    assert_eq!(md[0].ntor_onion_key, r1.ntor_onion_key);
    assert_eq!(md[0].ipv4_policy, summarize(&r1.exit_policy));

    // 0.4.9 chutney relay without a TAP key.
    let d2 = doc("arti_routerdesc2.txt");
    let r2 = RouterDescriptor::parse(&d2, published(&d2)).unwrap();
    assert_eq!(r2.nickname, "test001a");
    assert_eq!(r2.dir_port, 7001);
    assert!(r2.tap_onion_key.is_none());

    // With family-cert items (tolerated, not checked).
    let d3 = doc("arti_routerdesc3.txt");
    let r3 = RouterDescriptor::parse(&d3, published(&d3)).unwrap();
    assert_eq!(r3.nickname, "Fred");

    // Each is refused once its identity certificate has expired.
    for (d, r) in [(&d1, &r1), (&d2, &r2), (&d3, &r3)] {
        let e = RouterDescriptor::parse(d, r.cert_expiry + 3600).unwrap_err();
        assert!(e.to_string().contains("expired"), "{e}");
    }
}

#[test]
fn arti_bad_router_descriptors_are_refused() {
    for name in [
        "bad-cc-sign",
        "bad-ed-sk-in-cert",
        "bad-ipv6policy",
        "bad-sig-order",
        "bad-start1",
        "bad-start2",
        "mismatched-ed-sk-in-cert",
        "mismatched-fp",
        "no-ed-id-key-in-cert",
        "no-ed-sk",
        "non-ed-sk-in-cert",
    ] {
        let d = doc(&format!("arti_bad-routerdesc_{name}.txt"));
        let now = published(&d);
        let e = RouterDescriptor::parse(&d, now).expect_err(name);
        eprintln!("{name}: {e}");
        assert!(!e.to_string().is_empty());
    }
}

#[test]
fn arti_microdescriptors_parse_with_the_same_digests() {
    for (name, n) in [
        ("arti_microdesc1.txt", 1),
        ("arti_microdesc2.txt", 4),
        ("arti_microdesc3.txt", 1),
        ("arti_microdesc4.txt", 2),
    ] {
        let text = doc(name);
        let ours = Microdesc::parse_many(&text).unwrap();
        assert_eq!(ours.len(), n, "{name}");
        let arti: Vec<_> = tor_netdoc::doc::microdesc::MicrodescReader::new(
            &text,
            &tor_netdoc::AllowAnnotations::AnnotationsAllowed,
        )
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
        assert_eq!(arti.len(), n);
        for (o, a) in ours.iter().zip(&arti) {
            assert_eq!(&o.digest, a.md().digest(), "{name}");
            assert_eq!(o.ntor_onion_key.as_bytes(), a.md().ntor_key().as_bytes());
        }
    }
    // Arti's own expectations for microdesc2 (its test `parse_multiple`).
    let mds = Microdesc::parse_many(&doc("arti_microdesc2.txt")).unwrap();
    assert_eq!(
        hex::encode(mds[0].digest),
        "38c71329a87098cb341c46c9c62bd646622b4445f7eb985a0e6adb23a22ccf4f"
    );
    assert_eq!(
        hex::encode(mds[0].ntor_onion_key.as_bytes()),
        "5e895d65304a3a1894616660143f7af5757fe08bc18045c7855ee8debb9e6c47"
    );
    assert!(mds[0].ipv4_policy.allows(993) && !mds[0].ipv4_policy.allows(25));
    let p6 = mds[0].ipv6_policy.as_ref().unwrap();
    assert!(p6.allows(993) && !p6.allows(25));
    assert_eq!(
        hex::encode(mds[0].ed_id.unwrap().0),
        "2d85fdc88e6c1bcfb46897fca1dba6d1354f93261d68a79e0b5bc170dd923084"
    );
    let four = Microdesc::parse_many(&doc("arti_microdesc4.txt")).unwrap();
    assert!(four[0].family_ids.is_empty());
    assert_eq!(four[1].family_ids.len(), 2);
}

#[test]
fn arti_bad_microdescriptors_are_refused() {
    // Arti refuses `wrong-id` (an `id explodo` line and no `id ed25519`); C tor's
    // `microdesc_parse_fields` ignores id lines of unknown types and does not require one,
    // and so do we.
    let wrong_id = Microdesc::parse_many(&doc("arti_bad-mds_wrong-id.txt")).unwrap();
    assert!(wrong_id[0].ed_id.is_none());
    for name in ["bogus-policy", "non-ascii-policy", "wrong-start"] {
        let d = doc(&format!("arti_bad-mds_{name}.txt"));
        let e = Microdesc::parse_many(&d).expect_err(name);
        eprintln!("{name}: {e}");
    }
}

fn fresh(now: u64, seed: u64) -> RelayKeys {
    let policy = KeyPolicy {
        tls_key_bits: 1024,
        ..KeyPolicy::default()
    };
    let mut rng = StdRng::seed_from_u64(seed);
    RelayKeys::generate(
        "Crosscheck",
        policy,
        SystemTime::UNIX_EPOCH + Duration::from_secs(now),
        &mut rng,
    )
    .unwrap()
}

fn params(now: u64) -> DescriptorParams {
    DescriptorParams {
        nickname: "Crosscheck".into(),
        ipv4: "198.51.100.7".parse().unwrap(),
        or_port: 443,
        dir_port: 80,
        ipv6_or: Some("[2001:db8::7]:443".parse().unwrap()),
        platform: platform_string("0.1.0"),
        published: now,
        uptime: 100,
        bandwidth: Bandwidth {
            average: 10_000_000,
            burst: 20_000_000,
            observed: 5_000_000,
        },
        contact: Some("someone <at> example".into()),
        family: vec!["$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into()],
        exit_policy: vec![
            PolicyRule {
                action: PolicyAction::Reject,
                addr: PolicyAddr::Private,
                port_lo: 1,
                port_hi: 65535,
            },
            PolicyRule {
                action: PolicyAction::Accept,
                addr: PolicyAddr::Any,
                port_lo: 443,
                port_hi: 443,
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
fn arti_accepts_and_verifies_our_descriptor_and_microdescriptor() {
    let now = 1_780_000_000;
    for seed in 0..3 {
        let keys = fresh(now, seed);
        let text = build_descriptor(&keys, &params(now)).unwrap();
        let ours = RouterDescriptor::parse(&text, now + 1).unwrap();
        let arti = tor_netdoc::doc::routerdesc::RouterDesc::parse(&text)
            .unwrap()
            .check_signature()
            .unwrap()
            .if_valid_at(&(SystemTime::UNIX_EPOCH + Duration::from_secs(now + 1)))
            .unwrap();
        assert_eq!(arti.rsa_identity().as_bytes(), &ours.rsa_id.0);
        assert_eq!(arti.ed_identity().as_bytes(), &ours.ed_id.0);
        assert_eq!(
            arti.ntor_onion_key().as_bytes(),
            ours.ntor_onion_key.as_bytes()
        );
        assert_eq!(
            arti.published(),
            SystemTime::UNIX_EPOCH + Duration::from_secs(now)
        );
        assert_eq!(arti.protocols().to_string(), ours.protocols);
        let ports: Vec<String> = arti.or_ports().map(|a| a.to_string()).collect();
        assert_eq!(ports, ["198.51.100.7:443", "[2001:db8::7]:443"]);

        let md = microdesc_text(&ours);
        let arti_md = tor_netdoc::doc::microdesc::MicrodescAndHash::parse(&md).unwrap();
        let our_md = &Microdesc::parse_many(&md).unwrap()[0];
        assert_eq!(arti_md.digest(), &our_md.digest);
        assert_eq!(
            our_md.digest,
            <[u8; 32]>::from(Sha256::digest(md.as_bytes()))
        );
        assert!(arti_md.ipv4_policy().allows_port(443) && !arti_md.ipv4_policy().allows_port(80));
        assert_eq!(arti_md.ed25519_id().as_bytes(), &ours.ed_id.0);
    }
}

#[test]
fn ctor_authority_microdescriptors_match_their_consensus() {
    // tests/vectors/ctor049 (see its README): every microdescriptor a C tor 0.4.9.11
    // network served, and the microdesc consensus (method 35) that lists them.
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/ctor049");
    let mds = std::fs::read_to_string(root.join("microdescs.txt")).unwrap();
    let consensus = std::fs::read_to_string(root.join("consensus-microdesc.txt")).unwrap();
    let parsed = Microdesc::parse_many(&mds).unwrap();
    let mut listed: Vec<&str> = consensus
        .lines()
        .filter_map(|l| l.strip_prefix("m "))
        .collect();
    let mut ours: Vec<String> = parsed.iter().map(Microdesc::digest_b64).collect();
    listed.sort_unstable();
    ours.sort_unstable();
    assert_eq!(ours, listed);
    assert_eq!(
        parsed.iter().map(|m| m.text.as_str()).collect::<String>(),
        mds
    );
    for md in &parsed {
        assert!(md.tap_onion_key.is_some() && md.ed_id.is_some());
    }
    assert!(parsed.iter().any(|m| !m.ipv4_policy.allows_none()));
}
