#![allow(clippy::unwrap_used)]

use std::net::{Ipv4Addr, SocketAddrV6};

use rand::SeedableRng;

use super::*;
use crate::dir::doc::authcert::{generate_rsa, AuthorityKeys};
use crate::dir::doc::token::DocError;

const T0: u64 = 1_700_000_000;

fn auth(seed: u64) -> AuthorityKeys {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let id = generate_rsa(&mut rng, 1024).unwrap();
    let sk = generate_rsa(&mut rng, 1024).unwrap();
    AuthorityKeys::certify(id, sk, T0 - 3600, 86_400 * 30, None).unwrap()
}

fn builder(flavor: Flavor, auths: &[&AuthorityKeys]) -> ConsensusBuilder {
    let mut b = ConsensusBuilder::new(flavor, T0, T0 + 3600, T0 + 3 * 3600);
    b.known_flags = [
        "Exit", "Fast", "Guard", "Running", "Stable", "V2Dir", "Valid",
    ]
    .map(String::from)
    .to_vec();
    b.recommended_client_protocols = "Cons=2 Desc=2 Link=4 Microdesc=2 Relay=2".into();
    b.params.insert("circwindow".into(), 1000);
    b.params.insert("neg".into(), -5);
    b.shared_rand_current = Some(SharedRandom {
        reveals: 3,
        value: [7; 32],
    });
    for (i, a) in auths.iter().enumerate() {
        b.sources.push(DirSource {
            nickname: format!("auth{i}"),
            identity: a.v3ident(),
            hostname: "127.0.0.1".into(),
            address: Ipv4Addr::LOCALHOST,
            dir_port: 7000 + i as u16,
            or_port: 5000 + i as u16,
            contact: format!("auth{i}@test.test"),
            vote_digest: [i as u8; 20],
        });
    }
    for i in 0..5u8 {
        b.routers.push(RouterStatus {
            nickname: format!("relay{i}"),
            rsa_id: crate::ids::RsaIdentity([200 - i * 20; 20]),
            desc_digest: Some([i; 20]),
            published: T0 - 100,
            ipv4: Ipv4Addr::new(10, 0, 0, i),
            or_port: 9001,
            dir_port: 0,
            ipv6_or: (i == 1).then(|| SocketAddrV6::new("::1".parse().unwrap(), 9002, 0, 0)),
            flags: RelayFlags::RUNNING.union(RelayFlags::VALID),
            version: Some("Tor 0.4.9.11".into()),
            protocols: Some("Cons=1-2 Link=4-5".into()),
            bandwidth: Some(20 + u32::from(i)),
            unmeasured: i % 2 == 0,
            md_digest: (i != 4).then_some([i + 1; 32]),
            port_summary: Some(PortSummary::reject_all()),
        });
    }
    b.bandwidth_weights.insert("Wbd".into(), 0);
    b.bandwidth_weights.insert("Wgg".into(), 10000);
    b
}

use crate::dir::flags::{PortSummary, RelayFlags};

#[test]
fn md_round_trip_and_majority() {
    let a = [auth(1), auth(2), auth(3)];
    let ids: Vec<_> = a.iter().map(|k| k.v3ident()).collect();
    let certs: Vec<_> = a.iter().map(|k| k.cert().clone()).collect();
    let b = builder(Flavor::Microdesc, &[&a[0], &a[1], &a[2]]);
    let unsigned = b.build_unsigned();
    assert!(unsigned.starts_with(
        "network-status-version 3 microdesc\nvote-status consensus\nconsensus-method 35\n"
    ));
    assert!(unsigned.contains("\nclient-versions \n"));
    assert!(unsigned.contains(" 2038-01-01 00:00:00 10.0.0.1 9001 0\na [::1]:9002\nm "));
    assert!(!unsigned.contains("relay4"), "no md digest, no entry");
    assert!(unsigned.ends_with("directory-footer\nbandwidth-weights Wbd=0 Wgg=10000\n"));

    let one = sign_consensus(&unsigned, &a[0]).unwrap();
    let c1 = Consensus::parse(&one).unwrap();
    assert!(matches!(
        c1.verify(&ids, &certs, T0 + 10),
        Err(DocError::Signature(_))
    ));
    let two = sign_consensus(&one, &a[2]).unwrap();
    let three = sign_consensus(&two, &a[1]).unwrap();
    for text in [&two, &three] {
        let c = Consensus::parse(text).unwrap();
        c.verify(&ids, &certs, T0 + 10).unwrap();
        assert!(c.signatures.iter().all(|s| s.sha256));
        let mut sorted = c.signatures.clone();
        sorted.sort_by_key(|s| s.identity);
        assert_eq!(sorted, c.signatures);
    }
    let c = Consensus::parse(&three).unwrap();
    assert_eq!(c.flavor, Flavor::Microdesc);
    assert_eq!(c.method, 35);
    assert_eq!(c.routers.len(), 4);
    assert_eq!(c.params.get("neg"), Some(&-5));
    assert_eq!(c.shared_rand_current.as_ref().unwrap().value, [7; 32]);
    assert_eq!(c.sources.len(), 3);
    assert!(c.routers.windows(2).all(|w| w[0].rsa_id < w[1].rsa_id));
    let r1 = c.routers.iter().find(|r| r.nickname == "relay1").unwrap();
    assert_eq!(r1.md_digest, Some([2; 32]));
    assert_eq!(r1.published, DUMMY_PUBLISHED);
    assert_eq!(r1.ipv6_or.unwrap().port(), 9002);
    assert_eq!(r1.bandwidth, Some(21));
    assert!(!r1.unmeasured && r1.desc_digest.is_none() && r1.port_summary.is_none());
    // Re-signing by the same authority replaces its signature.
    let again = sign_consensus(&three, &a[1]).unwrap();
    assert_eq!(again, three);
    // Expired.
    assert!(matches!(
        c.verify(&ids, &certs, T0 + 3 * 3600 + 1),
        Err(DocError::Invalid(_))
    ));
    c.verify_reasonably_live(&ids, &certs, T0 + 3 * 3600 + 1)
        .unwrap();
    // 1 of 3 with an unknown fourth authority's signature.
    let x = auth(4);
    let mixed = sign_consensus(&one, &x).unwrap();
    let mut certs4 = certs.clone();
    certs4.push(x.cert().clone());
    assert!(Consensus::parse(&mixed)
        .unwrap()
        .verify(&ids, &certs4, T0)
        .is_err());
    // No cert for the signers.
    assert!(Consensus::parse(&three)
        .unwrap()
        .verify(&ids, &certs[..1], T0)
        .is_err());
}

#[test]
fn ns_flavor_uses_sha1_and_digests() {
    let a = [auth(1), auth(2)];
    let ids: Vec<_> = a.iter().map(|k| k.v3ident()).collect();
    let certs: Vec<_> = a.iter().map(|k| k.cert().clone()).collect();
    let b = builder(Flavor::Ns, &[&a[0], &a[1]]);
    let text = sign_consensus(&sign_consensus(&b.build_unsigned(), &a[0]).unwrap(), &a[1]).unwrap();
    assert!(text.contains("\np reject 1-65535\n"));
    assert!(!text.contains("\nm "));
    assert!(!text.contains("directory-signature sha256"));
    let c = Consensus::parse(&text).unwrap();
    c.verify(&ids, &certs, T0).unwrap();
    assert_eq!(c.routers.len(), 5);
    let r0 = c.routers.iter().find(|r| r.nickname == "relay0").unwrap();
    assert_eq!(r0.desc_digest, Some([0; 20]));
    assert_eq!(r0.published, T0 - 100);
    assert!(r0.unmeasured);
    assert_eq!(r0.port_summary, Some(PortSummary::reject_all()));
    // Only one of two is not more than half.
    assert!(c.verify(&ids, &certs[..1], T0).is_err());
}

#[test]
fn tampering_and_garbage_are_refused() {
    let a = [auth(1), auth(2), auth(3)];
    let ids: Vec<_> = a.iter().map(|k| k.v3ident()).collect();
    let certs: Vec<_> = a.iter().map(|k| k.cert().clone()).collect();
    let b = builder(Flavor::Microdesc, &[&a[0], &a[1], &a[2]]);
    let mut text = b.build_unsigned();
    for k in &a {
        text = sign_consensus(&text, k).unwrap();
    }
    Consensus::parse(&text)
        .unwrap()
        .verify(&ids, &certs, T0)
        .unwrap();
    // Changed body: every signature fails.
    let bad = text.replace("Bandwidth=21", "Bandwidth=99");
    let e = Consensus::parse(&bad)
        .unwrap()
        .verify(&ids, &certs, T0)
        .unwrap_err();
    assert!(e.to_string().contains("only 0 of 3"), "{e}");
    // Signature by another signing key under the same identity: no matching cert.
    for bad in [
        "",
        "garbage\n",
        &text[..text.len() / 2],
        &text[..text.find("directory-signature").unwrap()],
        &text.replace("vote-status consensus", "vote-status vote"),
        &text.replace("valid-until", "valid-untol"),
        &text.replace(
            "network-status-version 3 microdesc",
            "network-status-version 4",
        ),
        &text.replacen("\nm ", "\nx ", 1),
        &format!("{text}r x\n"),
    ] {
        assert!(Consensus::parse(bad).is_err(), "{:?}", bad.get(..80));
    }
    // Routers out of order.
    let r0 = text.find("\nr ").unwrap() + 1;
    let r1 = r0 + text[r0 + 1..].find("\nr ").unwrap() + 2;
    let r2 = r1 + text[r1 + 1..].find("\nr ").unwrap() + 1;
    let swapped = format!(
        "{}{}{}{}",
        &text[..r0],
        &text[r1..r2],
        &text[r0..r1],
        &text[r2..]
    );
    assert!(Consensus::parse(&swapped).is_err());
}

#[test]
fn wrong_signing_key_and_expired_certs_are_refused() {
    let a = [auth(1), auth(2), auth(3)];
    let ids: Vec<_> = a.iter().map(|k| k.v3ident()).collect();
    let certs: Vec<_> = a.iter().map(|k| k.cert().clone()).collect();
    let unsigned = builder(Flavor::Microdesc, &[&a[0], &a[1], &a[2]]).build_unsigned();
    // Authority 0 recertifies its identity with a new signing key the verifier has no
    // certificate for.
    let mut rng = rand::rngs::StdRng::seed_from_u64(50);
    let new_sk = generate_rsa(&mut rng, 1024).unwrap();
    let id0 = a[0].identity_key().unwrap().clone();
    let a0b = AuthorityKeys::certify(id0.clone(), new_sk.clone(), T0 - 3600, 86_400, None).unwrap();
    let text = sign_consensus(&sign_consensus(&unsigned, &a0b).unwrap(), &a[1]).unwrap();
    let c = Consensus::parse(&text).unwrap();
    let e = c.verify(&ids, &certs, T0).unwrap_err().to_string();
    assert!(
        e.contains("only 1 of 3") && e.contains("no certificate"),
        "{e}"
    );
    // With the new certificate too, it verifies.
    let mut more = certs.clone();
    more.push(a0b.cert().clone());
    c.verify(&ids, &more, T0).unwrap();
    // Claiming the old signing key while signing with the new one: a bad signature.
    let forged = text.replace(
        &a0b.cert().signing_key_digest().to_hex(),
        &a[0].cert().signing_key_digest().to_hex(),
    );
    let e = Consensus::parse(&forged)
        .unwrap()
        .verify(&ids, &certs, T0)
        .unwrap_err()
        .to_string();
    assert!(e.contains("bad signature"), "{e}");
    // A certificate that expired before `now` does not count.
    let short = AuthorityKeys::certify(id0, new_sk, T0 - 3600, 3600 + 10, None).unwrap();
    let text = sign_consensus(&sign_consensus(&unsigned, &short).unwrap(), &a[1]).unwrap();
    let c = Consensus::parse(&text).unwrap();
    let certs2 = vec![
        short.cert().clone(),
        a[1].cert().clone(),
        a[2].cert().clone(),
    ];
    c.verify(&ids, &certs2, T0).unwrap();
    let e = c.verify(&ids, &certs2, T0 + 100).unwrap_err().to_string();
    assert!(e.contains("expired"), "{e}");
    // No authorities configured, or signatures only by strangers.
    assert!(c.verify(&[], &certs2, T0).is_err());
    let stranger = auth(9);
    assert!(c.verify(&[stranger.v3ident()], &certs2, T0).is_err());
}

#[test]
fn caps_are_enforced() {
    let big = format!(
        "network-status-version 3\n{}",
        "x\n".repeat(MAX_CONSENSUS_BYTES / 2 + 1)
    );
    let e = Consensus::parse(&big).unwrap_err();
    assert!(e.to_string().contains("bytes"), "{e}");
    assert_eq!(MAX_ROUTERS, 100_000);
}

#[test]
fn router_cap_is_enforced() {
    let a = auth(1);
    let text = sign_consensus(&builder(Flavor::Ns, &[&a]).build_unsigned(), &a).unwrap();
    assert_eq!(parse::parse_capped(&text, 5).unwrap().routers.len(), 5);
    let e = parse::parse_capped(&text, 4).unwrap_err();
    assert!(e.to_string().contains("more than 4 routers"), "{e}");
}
