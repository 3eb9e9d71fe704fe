//! The link handshake replayed on cells captured from stock C tor 0.4.9.11
//! (`tests/vectors/chanmsg_ctor049.txt`: its VERSIONS, CERTS, AUTH_CHALLENGE and NETINFO as
//! a responder). C tor presents its type-1 certificate as the TLS certificate (brief §13),
//! so that is the peer certificate here, and the capture's NETINFO time is "now".

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, SystemTime};

use bytes::BytesMut;
use oniongate::cell::handshake::CertType;
use oniongate::cell::{AnyChanMsg, ChanCell, ChannelCodec};
use oniongate::channel::certs::{verify_responder_certs, CertsError};
use oniongate::channel::{
    InitiatorConfig, InitiatorRole, LinkInitiator, PeerIdentity, Progress, TlsFacts,
};
use oniongate::crypto::x509::ParsedCert;
use rand::rngs::StdRng;
use rand::SeedableRng;

struct Tls(Vec<u8>);

impl TlsFacts for Tls {
    fn peer_certificate(&self) -> Option<Vec<u8>> {
        Some(self.0.clone())
    }
    fn export_auth0003(&self, _: &[u8; 32]) -> Option<[u8; 32]> {
        None
    }
}

/// The captured cell named `name`, as received bytes (fixed cells padded to 514).
fn raw(name: &str) -> Vec<u8> {
    let recs = common::load("chanmsg_ctor049.txt");
    let r = recs.iter().find(|r| r.str("name") == name).unwrap();
    let mut b = r.hex("cell");
    if r.get("pad") == Some("yes") {
        b.resize(514, 0);
    }
    b
}

fn decode(link: Option<u16>, bytes: &[u8]) -> (ChanCell, Vec<u8>) {
    let mut buf = BytesMut::from(bytes);
    let (c, r) = ChannelCodec::new(link)
        .unwrap()
        .decode_raw(&mut buf)
        .unwrap()
        .unwrap();
    assert!(buf.is_empty());
    (c, r.to_vec())
}

fn capture_time() -> SystemTime {
    let (c, _) = decode(Some(5), &raw("ctor_netinfo"));
    let AnyChanMsg::Netinfo(n) = c.msg else {
        panic!()
    };
    SystemTime::UNIX_EPOCH + Duration::from_secs(u64::from(n.timestamp))
}

#[test]
fn c_tor_certs_verify() {
    let (c, _) = decode(Some(5), &raw("ctor_certs"));
    let AnyChanMsg::Certs(certs) = c.msg else {
        panic!()
    };
    let tls = certs.get(CertType::TLS_LINK).unwrap().to_vec();
    let now = capture_time();
    let peer = verify_responder_certs(&certs, &tls, now).unwrap();
    let id = ParsedCert::parse(certs.get(CertType::RSA_ID).unwrap()).unwrap();
    let key = oniongate::crypto::rsa::RsaPublic::from_rsa(id.rsa_key().unwrap());
    assert_eq!(peer.rsa_id, key.fingerprint());
    assert_eq!(peer.rsa_identity.bits(), 1024);
    assert!(peer.link_auth_key.is_none());
    // C tor's type 5 lives two days.
    let later = now + Duration::from_secs(3 * 86400);
    assert!(matches!(
        verify_responder_certs(&certs, &tls, later),
        Err(CertsError::Ed25519 {
            cert_type: CertType::ED_SIGN_LINK,
            ..
        })
    ));
    // Another TLS certificate is refused.
    let mut other = tls.clone();
    other[100] ^= 1;
    assert_eq!(
        verify_responder_certs(&certs, &other, now),
        Err(CertsError::TlsCertMismatch)
    );
}

#[test]
fn client_initiator_completes_on_c_tor_cells() {
    let (c, _) = decode(Some(5), &raw("ctor_certs"));
    let AnyChanMsg::Certs(certs) = c.msg else {
        panic!()
    };
    let tls = Tls(certs.get(CertType::TLS_LINK).unwrap().to_vec());
    let now = capture_time();
    let mut rng = StdRng::seed_from_u64(1);
    let (mut st, first) = LinkInitiator::start(InitiatorConfig {
        role: InitiatorRole::Client,
        expected: None,
        peer_addr: "127.0.0.1".parse().unwrap(),
        my_addrs: vec![],
    })
    .unwrap();
    assert_eq!(first[0].bytes, raw("client_versions"));
    let script = [
        ("ctor_versions", None),
        ("ctor_certs", Some(5)),
        ("ctor_auth_challenge", Some(5)),
    ];
    let mut sent = Vec::new();
    for (name, link) in script {
        let (cell, r) = decode(link, &raw(name));
        match st.handle(cell, &r, &tls, now, &mut rng).unwrap() {
            Progress::Continue { state, send } => {
                sent.extend(send);
                st = state;
            }
            Progress::Ready { .. } => panic!("too early"),
        }
    }
    // Our client NETINFO is byte for byte the one C tor accepted in the capture.
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].bytes, raw("client_netinfo"));
    let (cell, r) = decode(Some(5), &raw("ctor_netinfo"));
    let Progress::Ready { ready, .. } = st.handle(cell, &r, &tls, now, &mut rng).unwrap() else {
        panic!("NETINFO ends the handshake")
    };
    assert!(matches!(ready.peer, PeerIdentity::Relay(_)));
    assert_eq!(ready.link_version, 5);
}
