//! Cross-check with Arti (tor-netdoc 0.47): the authority certificates we generate and the
//! consensuses (both flavours) we build and sign parse in Arti, and Arti verifies their
//! signatures with our certificates; a consensus signed by too few authorities fails there
//! too.

#![allow(clippy::unwrap_used)]

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV6};

use oniongate::dir::doc::authcert::AuthorityKeys;
use oniongate::dir::doc::consensus::{
    sign_consensus, ConsensusBuilder, DirSource, Flavor, RouterStatus, SharedRandom,
};
use oniongate::dir::flags::{PortSummary, RelayFlags};
use oniongate::ids::RsaIdentity;
use rand::SeedableRng;
use tor_checkable::{ExternallySigned as _, SelfSigned as _, TimeBound as _};
use tor_netdoc::doc::authcert::AuthCert as ArtiCert;
use tor_netdoc::doc::netstatus::{MdConsensus, PlainConsensus};

const T0: u64 = 1_760_000_000;
const PROTOS: &str = "Cons=1-2 Desc=1-2 DirCache=2 FlowCtrl=1-2 HSDir=2 HSIntro=4-5 HSRend=1-2 Link=4-5 LinkAuth=3 Microdesc=1-2 Relay=2-4";

/// Three authorities with full-size keys (generated once: RSA-3072 takes a while).
fn authorities() -> &'static [AuthorityKeys] {
    static AUTHS: std::sync::OnceLock<Vec<AuthorityKeys>> = std::sync::OnceLock::new();
    AUTHS.get_or_init(|| {
        let mut rng = rand::rngs::StdRng::seed_from_u64(0xa27);
        (0..3)
            .map(|_| AuthorityKeys::generate(&mut rng, T0 - 86_400, 86_400 * 365, None).unwrap())
            .collect()
    })
}

fn builder(flavor: Flavor, auths: &[AuthorityKeys]) -> ConsensusBuilder {
    let mut b = ConsensusBuilder::new(flavor, T0, T0 + 3600, T0 + 3 * 3600);
    b.known_flags = [
        "Authority",
        "Exit",
        "Fast",
        "Guard",
        "HSDir",
        "Running",
        "Stable",
        "V2Dir",
        "Valid",
    ]
    .map(String::from)
    .to_vec();
    b.recommended_client_protocols = PROTOS.into();
    b.recommended_relay_protocols = PROTOS.into();
    b.required_client_protocols = "Cons=2 Desc=2 Link=4 Microdesc=2 Relay=2".into();
    b.required_relay_protocols = "Cons=2 Desc=2 Link=4 Microdesc=2 Relay=2".into();
    b.params.insert("cc_alg".into(), 2);
    b.shared_rand_previous = Some(SharedRandom {
        reveals: 3,
        value: [1; 32],
    });
    b.shared_rand_current = Some(SharedRandom {
        reveals: 3,
        value: [2; 32],
    });
    for (i, a) in auths.iter().enumerate() {
        b.sources.push(DirSource {
            nickname: format!("auth{i}"),
            identity: a.v3ident(),
            hostname: "127.0.0.1".into(),
            address: Ipv4Addr::LOCALHOST,
            dir_port: 7000 + i as u16,
            or_port: 5000 + i as u16,
            contact: "auth@test.invalid".into(),
            vote_digest: [i as u8 + 1; 20],
        });
    }
    for i in 0..6u8 {
        let mut flags = RelayFlags::RUNNING
            .union(RelayFlags::VALID)
            .union(RelayFlags::FAST)
            .union(RelayFlags::V2DIR);
        if i % 2 == 0 {
            flags.insert(RelayFlags::GUARD.union(RelayFlags::STABLE));
        }
        if i == 5 {
            flags.insert(RelayFlags::EXIT);
        }
        b.routers.push(RouterStatus {
            nickname: format!("relay{i}"),
            rsa_id: RsaIdentity([i * 37 + 3; 20]),
            desc_digest: Some([i + 9; 20]),
            published: T0 - 600,
            ipv4: Ipv4Addr::new(127, 0, 0, 1),
            or_port: 9000 + u16::from(i),
            dir_port: 0,
            ipv6_or: (i == 2).then(|| SocketAddrV6::new("::1".parse().unwrap(), 9100, 0, 0)),
            flags,
            version: Some("Tor 0.4.9.11".into()),
            protocols: Some(PROTOS.into()),
            bandwidth: Some(100 * u32::from(i) + 1),
            unmeasured: true,
            md_digest: Some([i + 100; 32]),
            port_summary: Some(if i == 5 {
                PortSummary::parse("accept", "80,443").unwrap()
            } else {
                PortSummary::reject_all()
            }),
        });
    }
    for (k, v) in [("Wbd", 0), ("Wgg", 5000), ("Wmg", 5000), ("Wee", 10000)] {
        b.bandwidth_weights.insert(k.into(), v);
    }
    b
}

fn sign_all(text: String, auths: &[&AuthorityKeys]) -> String {
    auths
        .iter()
        .fold(text, |t, a| sign_consensus(&t, a).unwrap())
}

fn arti_certs(auths: &[AuthorityKeys]) -> Vec<ArtiCert> {
    auths
        .iter()
        .map(|a| {
            let c = ArtiCert::parse(a.cert_text())
                .unwrap()
                .check_signature()
                .unwrap()
                .dangerously_assume_timely();
            assert_eq!(c.id_fingerprint().as_bytes(), &a.v3ident().0);
            c
        })
        .collect()
}

#[test]
fn arti_accepts_our_certs_and_md_consensus() {
    let auths = authorities();
    let certs = arti_certs(auths);
    let text = sign_all(
        builder(Flavor::Microdesc, auths).build_unsigned(),
        &[&auths[0], &auths[1], &auths[2]],
    );
    let (_, _, unchecked) = MdConsensus::parse(&text).unwrap();
    let c = unchecked
        .dangerously_assume_timely()
        .set_n_authorities(3)
        .check_signature(&certs)
        .unwrap();
    assert_eq!(c.relays().len(), 6);
    let r2 = c
        .relays()
        .iter()
        .find(|r| r.nickname() == "relay2")
        .unwrap();
    assert_eq!(r2.md_digest(), &[102u8; 32]);
    assert_eq!(r2.rsa_identity().as_bytes(), &[2 * 37 + 3; 20]);
    let want6: SocketAddr = "[::1]:9100".parse().unwrap();
    assert!(r2.addrs().any(|a| a == want6));
    assert!(r2.protovers().supports_subver("Relay", 4));

    // Signed by only one of three: Arti refuses it too.
    let one = sign_all(
        builder(Flavor::Microdesc, auths).build_unsigned(),
        &[&auths[1]],
    );
    let (_, _, unchecked) = MdConsensus::parse(&one).unwrap();
    assert!(unchecked
        .dangerously_assume_timely()
        .set_n_authorities(3)
        .check_signature(&certs)
        .is_err());
    // A changed byte after signing: Arti's signature check fails.
    let tampered = text.replace("Bandwidth=101", "Bandwidth=102");
    let (_, _, unchecked) = MdConsensus::parse(&tampered).unwrap();
    assert!(unchecked
        .dangerously_assume_timely()
        .set_n_authorities(3)
        .check_signature(&certs)
        .is_err());
}

#[test]
fn arti_accepts_our_ns_consensus() {
    let auths = authorities();
    let certs = arti_certs(auths);
    let text = sign_all(
        builder(Flavor::Ns, auths).build_unsigned(),
        &[&auths[2], &auths[0]],
    );
    let (_, _, unchecked) = PlainConsensus::parse(&text).unwrap();
    let c = unchecked
        .dangerously_assume_timely()
        .set_n_authorities(3)
        .check_signature(&certs)
        .unwrap();
    assert_eq!(c.relays().len(), 6);
}
