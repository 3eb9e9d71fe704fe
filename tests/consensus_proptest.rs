//! Property tests for authority certificates and consensuses: random consensuses survive
//! build → sign → parse → verify with every field intact; the parsers never panic on
//! garbage or on mutated valid documents.

#![allow(clippy::unwrap_used)]

use std::net::{Ipv4Addr, SocketAddrV6};
use std::sync::OnceLock;

use oniongate::dir::doc::authcert::{generate_rsa, AuthCert, AuthorityKeys};
use oniongate::dir::doc::consensus::{
    sign_consensus, Consensus, ConsensusBuilder, DirSource, Flavor, RouterStatus, SharedRandom,
    DUMMY_PUBLISHED,
};
use oniongate::dir::flags::{PortSummary, RelayFlags};
use oniongate::ids::RsaIdentity;
use proptest::prelude::*;
use rand::SeedableRng;

const T0: u64 = 1_700_000_000;

fn auths() -> &'static [AuthorityKeys] {
    static A: OnceLock<Vec<AuthorityKeys>> = OnceLock::new();
    A.get_or_init(|| {
        let mut rng = rand::rngs::StdRng::seed_from_u64(99);
        (0..3)
            .map(|_| {
                let id = generate_rsa(&mut rng, 1024).unwrap();
                let sk = generate_rsa(&mut rng, 1024).unwrap();
                AuthorityKeys::certify(id, sk, T0 - 1000, 4_000_000_000 - T0, None).unwrap()
            })
            .collect()
    })
}

fn words() -> impl Strategy<Value = String> {
    proptest::collection::vec("[A-Za-z0-9=.,-]{1,8}", 1..4).prop_map(|w| w.join(" "))
}

fn router() -> impl Strategy<Value = RouterStatus> {
    (
        (
            "[A-Za-z0-9]{1,19}",
            any::<[u8; 20]>(),
            any::<[u8; 20]>(),
            0u64..4_000_000_000,
            any::<u32>(),
            any::<u16>(),
            any::<u16>(),
            proptest::option::of((any::<u128>(), any::<u16>())),
        ),
        (
            any::<u16>(),
            proptest::option::of(words()),
            proptest::option::of(words()),
            proptest::option::of(any::<u32>()),
            any::<bool>(),
            proptest::option::of(any::<[u8; 32]>()),
            proptest::option::of((any::<bool>(), 1u16..30000, 0u16..100)),
        ),
    )
        .prop_map(|(a, b)| {
            let (nick, id, dd, published, ip, orp, dirp, v6) = a;
            let (flags, version, protocols, bandwidth, unmeasured, md, ps) = b;
            RouterStatus {
                nickname: nick,
                rsa_id: RsaIdentity(id),
                desc_digest: Some(dd),
                published,
                ipv4: Ipv4Addr::from(ip),
                or_port: orp,
                dir_port: dirp,
                ipv6_or: v6.map(|(a, p)| SocketAddrV6::new(a.into(), p, 0, 0)),
                flags: RelayFlags::from_names(
                    RelayFlags::ALL
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| flags & (1 << i) != 0)
                        .map(|(_, (_, n))| *n),
                ),
                version,
                protocols,
                bandwidth,
                unmeasured: unmeasured && bandwidth.is_some(),
                md_digest: md,
                port_summary: ps.map(|(accept, lo, len)| PortSummary {
                    accept,
                    ranges: vec![(lo, lo + len)],
                }),
            }
        })
}

fn builder() -> impl Strategy<Value = ConsensusBuilder> {
    (
        (
            any::<bool>(),
            28u32..40,
            1_000_000_000u64..3_000_000_000,
            0u64..10_000,
            0u64..10_000,
            (any::<u16>(), any::<u16>()),
            proptest::collection::vec("[0-9a-z.-]{1,10}", 0..4),
            proptest::collection::vec("[0-9a-z.-]{1,10}", 0..4),
        ),
        (
            proptest::collection::vec(words(), 4),
            proptest::collection::btree_map("[A-Za-z_]{1,10}", any::<i32>(), 0..5),
            proptest::option::of((any::<u32>(), any::<[u8; 32]>())),
            proptest::option::of((any::<u32>(), any::<[u8; 32]>())),
            proptest::collection::vec(router(), 0..12),
            proptest::collection::btree_map("W[a-z]{2}", any::<i32>(), 0..5),
            proptest::collection::vec("[a-z@. ]{0,12}", 3),
        ),
    )
        .prop_map(|(a, b)| {
            let (md, method, va, fresh, until, vd, cv, sv) = a;
            let (protos, params, srp, src, routers, weights, contacts) = b;
            let mut bld = ConsensusBuilder::new(
                if md { Flavor::Microdesc } else { Flavor::Ns },
                va,
                va + fresh,
                va + fresh + until,
            );
            bld.method = method;
            bld.voting_delay = (u32::from(vd.0), u32::from(vd.1));
            bld.client_versions = cv;
            bld.server_versions = sv;
            bld.known_flags = RelayFlags::ALL.iter().map(|(_, n)| n.to_string()).collect();
            bld.recommended_client_protocols = protos[0].clone();
            bld.recommended_relay_protocols = protos[1].clone();
            bld.required_client_protocols = protos[2].clone();
            bld.required_relay_protocols = protos[3].clone();
            bld.params = params;
            let sr = |x: Option<(u32, [u8; 32])>| {
                x.map(|(reveals, value)| SharedRandom { reveals, value })
            };
            bld.shared_rand_previous = sr(srp);
            bld.shared_rand_current = sr(src);
            for (i, a) in auths().iter().enumerate() {
                let contact: Vec<&str> = contacts[i].split(' ').filter(|w| !w.is_empty()).collect();
                bld.sources.push(DirSource {
                    nickname: format!("auth{i}"),
                    identity: a.v3ident(),
                    hostname: format!("host{i}.example"),
                    address: Ipv4Addr::new(10, 0, 0, i as u8),
                    dir_port: 80,
                    or_port: 443,
                    contact: contact.join(" "),
                    vote_digest: [i as u8; 20],
                });
            }
            let mut seen = std::collections::BTreeSet::new();
            bld.routers = routers
                .into_iter()
                .filter(|r| seen.insert(r.rsa_id))
                .collect();
            bld.bandwidth_weights = weights;
            bld
        })
}

/// What parsing the built document must give back.
fn expected(b: &ConsensusBuilder) -> ConsensusBuilder {
    let mut e = b.clone();
    e.sources.sort_by_key(|s| s.identity);
    e.routers.sort_by_key(|r| r.rsa_id);
    let md = b.flavor == Flavor::Microdesc;
    e.routers.retain(|r| !md || r.md_digest.is_some());
    for r in &mut e.routers {
        if md {
            r.desc_digest = None;
            r.port_summary = None;
            if b.method >= 33 {
                r.published = DUMMY_PUBLISHED;
            }
        } else {
            r.md_digest = None;
        }
    }
    e
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn build_sign_parse_verify(b in builder()) {
        let certs: Vec<AuthCert> = auths().iter().map(|a| a.cert().clone()).collect();
        let ids: Vec<RsaIdentity> = certs.iter().map(|c| c.fingerprint).collect();
        let mut text = b.build_unsigned();
        for a in &auths()[..2] {
            text = sign_consensus(&text, a).unwrap();
        }
        let c = Consensus::parse(&text).unwrap();
        prop_assert_eq!(ConsensusBuilder::from_consensus(&c), expected(&b));
        c.verify(&ids, &certs, b.valid_after).unwrap();
        prop_assert!(c.verify(&ids, &certs[..1], b.valid_after).is_err());
        // Rebuilding gives the same text.
        let again = ConsensusBuilder::from_consensus(&c).build_unsigned();
        prop_assert_eq!(&text[..again.len()], again.as_str());
    }

    #[test]
    fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let s = String::from_utf8_lossy(&data);
        let _ = Consensus::parse(&s);
        let _ = AuthCert::parse(&s);
        let _ = AuthCert::parse_many(&s);
        let _ = sign_consensus(&s, &auths()[0]);
    }

    #[test]
    fn mutated_documents_never_panic(
        b in builder(),
        cuts in proptest::collection::vec((any::<prop::sample::Index>(), 0usize..40, "[ -~\n]{0,20}"), 1..4),
    ) {
        let certs: Vec<AuthCert> = auths().iter().map(|a| a.cert().clone()).collect();
        let ids: Vec<RsaIdentity> = certs.iter().map(|c| c.fingerprint).collect();
        let mut text = sign_consensus(&b.build_unsigned(), &auths()[0]).unwrap();
        let mut cert = auths()[1].cert_text().to_string();
        for (at, del, ins) in &cuts {
            for t in [&mut text, &mut cert] {
                let mut i = at.index(t.len().max(1));
                while !t.is_char_boundary(i) { i -= 1; }
                let mut j = (i + del).min(t.len());
                while !t.is_char_boundary(j) { j -= 1; }
                t.replace_range(i..j.max(i), ins);
            }
        }
        if let Ok(c) = Consensus::parse(&text) {
            let _ = c.verify(&ids, &certs, T0);
            // As the fuzz target: what parses, rebuilds to the same fields.
            let mut want = ConsensusBuilder::from_consensus(&c);
            want.sources.sort_by_key(|s| s.identity);
            for r in &mut want.routers {
                if c.flavor == Flavor::Microdesc {
                    r.port_summary = None;
                    if c.method >= 33 {
                        r.published = DUMMY_PUBLISHED;
                    }
                }
                if r.bandwidth.is_none() {
                    r.unmeasured = false;
                }
            }
            let rebuilt = format!("{}{}", want.build_unsigned(), &text[text.find("directory-signature").unwrap_or(0)..]);
            if let Ok(again) = Consensus::parse(&rebuilt) {
                prop_assert_eq!(ConsensusBuilder::from_consensus(&again), want);
            } else {
                prop_assert!(false, "rebuilt text does not parse: {:?}", Consensus::parse(&rebuilt).err());
            }
        }
        let _ = AuthCert::parse(&cert);
    }
}
