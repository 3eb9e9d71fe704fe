//! Our link handshake against stock C tor 0.4.9 relays on loopback (tor-spec §4;
//! tor-wire-brief §2, §13).
//!
//! - **Client role**: our initiator checks a C tor relay's CERTS (types 1, 2, 4, 5, 7, with
//!   type 5 bound to the TLS certificate) and reaches `ChannelReady` with the ids read from
//!   the relay's key files; a wrong expected id is refused.
//! - **Relay role**: our initiator authenticates with AUTH0003. C tor logs, at info level,
//!   "Got good NETINFO cell ...; OR connection is now open ... Its ID digest is <hex>": the
//!   digest is all zeros for an unauthenticated client and our RSA id once AUTHENTICATE
//!   verified (`channel_tls_process_netinfo_cell`; the id is set by
//!   `channel_tls_process_authenticate_cell`). A forged AUTHENTICATE makes it log "Received a
//!   bad AUTHENTICATE cell ... Ed25519 signature wasn't valid" and close.
//! - **Responder**: a C tor relay, asked over a circuit to EXTEND2 to us, opens a channel to
//!   our responder as an authenticating relay. Our responder checks its CERTS (2, 4, 6, 7;
//!   C tor adds type 3) and its AUTHENTICATE, reports its ids, and then C tor sends CREATE2,
//!   which it does only once it accepted our CERTS.

#![allow(clippy::unwrap_used)]

mod common;
#[path = "channel_support/driver.rs"]
mod driver;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use oniongate::cell::{AnyChanMsg, ChanCell, CircId, CreateFast, HandshakeType, Relay, RelayEarly};
use oniongate::channel::testing::generate_link_identity;
use oniongate::channel::{
    ExpectedPeer, HandshakeError, InitiatorConfig, InitiatorRole, LinkIdentity, PeerIdentity,
    ResponderConfig,
};
use oniongate::crypto::fast;
use oniongate::crypto::tor1::{OriginCrypto, OriginLayer};
use oniongate::ids::{Ed25519Identity, RsaIdentity};
use oniongate::linkspec::LinkSpec;
use oniongate::relaycell::{encode_v0, AnyRelayMsg, Extend2};
use oniongate::rt::tls;
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use tokio::net::{TcpListener, TcpStream};

use common::ctor::CTorRelay;
use driver::{run_initiator, run_responder, DriveError};

type ClientTls = tokio_rustls::client::TlsStream<TcpStream>;

async fn connect(addr: SocketAddr) -> ClientTls {
    let mut rng = StdRng::from_entropy();
    let tcp = TcpStream::connect(addr).await.unwrap();
    tokio_rustls::TlsConnector::from(tls::client_config().unwrap())
        .connect(tls::random_server_name(&mut rng).unwrap(), tcp)
        .await
        .unwrap()
}

fn expected(relay: &CTorRelay) -> ExpectedPeer {
    ExpectedPeer {
        rsa_id: RsaIdentity(relay.rsa_id),
        ed_id: Some(Ed25519Identity(relay.ed_id)),
    }
}

fn client_cfg(relay: &CTorRelay, expected: Option<ExpectedPeer>) -> InitiatorConfig {
    InitiatorConfig {
        role: InitiatorRole::Client,
        expected,
        peer_addr: relay.or_addr.ip(),
        my_addrs: vec![],
    }
}

fn identity() -> (Arc<LinkIdentity>, Vec<u8>, rsa::RsaPrivateKey) {
    let mut rng = StdRng::from_entropy();
    let (id, cert, key) = generate_link_identity(&mut rng, SystemTime::now()).unwrap();
    (Arc::new(id), cert, key)
}

/// Waits up to 10 s for `needle` in the relay's info log.
async fn wait_for_log(relay: &CTorRelay, needle: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if relay.info_log().contains(needle) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_and_relay_initiator_against_c_tor() {
    let relay = CTorRelay::start("link", &Default::default());

    // Client role, full CERTS check, expected ids from the key files.
    let tls = connect(relay.or_addr).await;
    let (ready, _link) = run_initiator(tls, client_cfg(&relay, Some(expected(&relay))))
        .await
        .unwrap_or_else(|e| panic!("{e:?}; C tor log:\n{}", relay.info_log()));
    let PeerIdentity::Relay(peer) = &ready.peer else {
        panic!("a responder is a relay")
    };
    assert_eq!(peer.rsa_id, RsaIdentity(relay.rsa_id));
    assert_eq!(peer.ed_identity, Ed25519Identity(relay.ed_id));
    assert_eq!(ready.link_version, 5);
    // C tor tells us our address (its MYADDR list is empty until it has a descriptor).
    assert_eq!(ready.peer_netinfo.other_addr, relay.or_addr.ip());
    assert!(
        wait_for_log(&relay, &format!("Its ID digest is {}", "0".repeat(40))).await,
        "C tor saw an unauthenticated client"
    );

    // A wrong expected Ed25519 id is refused.
    let tls = connect(relay.or_addr).await;
    let mut wrong = expected(&relay);
    wrong.ed_id = Some(Ed25519Identity([7; 32]));
    match run_initiator(tls, client_cfg(&relay, Some(wrong))).await {
        Err(DriveError::Handshake(HandshakeError::IdentityMismatch {
            what: "Ed25519", ..
        })) => {}
        other => panic!("expected an Ed25519 mismatch, got {:?}", other.map(|r| r.0)),
    }

    // Relay role: C tor verifies our CERTS and AUTHENTICATE and records our RSA id.
    let (id, _, _) = identity();
    let tls = connect(relay.or_addr).await;
    let cfg = InitiatorConfig {
        role: InitiatorRole::Relay(id.clone()),
        expected: Some(expected(&relay)),
        peer_addr: relay.or_addr.ip(),
        my_addrs: vec!["127.0.0.1".parse().unwrap()],
    };
    let (ready, _link) = run_initiator(tls, cfg).await.unwrap();
    assert!(matches!(ready.peer, PeerIdentity::Relay(_)));
    let ours = id.rsa_id().to_hex().to_uppercase();
    assert!(
        wait_for_log(&relay, &format!("Its ID digest is {ours}")).await,
        "C tor did not authenticate us as {ours}; log:\n{}",
        relay.info_log()
    );
    assert!(relay
        .info_log()
        .contains("Got some good RSA and Ed25519 certificates"));

    // A forged AUTHENTICATE (signed by a key that type 6 does not certify) is refused.
    let mut forged = (*id).clone();
    forged.auth_key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
    let tls = connect(relay.or_addr).await;
    let cfg = InitiatorConfig {
        role: InitiatorRole::Relay(Arc::new(forged)),
        expected: Some(expected(&relay)),
        peer_addr: relay.or_addr.ip(),
        my_addrs: vec![],
    };
    let (_, mut link) = run_initiator(tls, cfg).await.unwrap();
    assert!(
        wait_for_log(&relay, "Ed25519 signature wasn't valid").await,
        "C tor accepted a forged AUTHENTICATE; log:\n{}",
        relay.info_log()
    );
    assert!(link.recv().await.is_err(), "C tor closes the channel");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_tor_relay_authenticates_to_our_responder() {
    let relay = CTorRelay::start("ext", &Default::default());
    let (id, cert, key) = identity();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let our_addr = listener.local_addr().unwrap();

    // Our responder: accept one channel, run the handshake, then wait for C tor's CREATE2.
    let server_cfg = tls::server_config(&cert, &key).unwrap();
    let rid = id.clone();
    let server = tokio::spawn(async move {
        let (tcp, peer) = listener.accept().await.unwrap();
        let tls = tokio_rustls::TlsAcceptor::from(server_cfg)
            .accept(tcp)
            .await
            .unwrap();
        let cfg = ResponderConfig {
            identity: rid,
            peer_addr: peer.ip(),
            my_addrs: vec![our_addr.ip()],
        };
        let (ready, mut link) = run_responder(tls, cfg).await.unwrap();
        let next = link.recv().await.unwrap();
        (ready, next)
    });

    // A one-hop circuit to the C tor relay, then EXTEND2 to us.
    let tls = connect(relay.or_addr).await;
    let (_, mut link) = run_initiator(tls, client_cfg(&relay, Some(expected(&relay))))
        .await
        .unwrap();
    let mut rng = StdRng::from_entropy();
    let circ = CircId(0x8000_0001);
    let (state, x) = fast::client1(&mut rng);
    link.send(ChanCell::new(circ, CreateFast { x }))
        .await
        .unwrap();
    let AnyChanMsg::CreatedFast(reply) = link.recv().await.unwrap().msg else {
        panic!("expected CREATED_FAST");
    };
    let mut yk = Vec::from(reply.y);
    yk.extend_from_slice(&reply.kh);
    let keys = fast::client2(state, &yk)
        .unwrap()
        .into_relay_keys()
        .unwrap();
    let mut crypto = OriginCrypto::new();
    crypto.push(OriginLayer::tor1(keys.tor1()));
    let mut hdata = vec![0u8; 84];
    rng.fill_bytes(&mut hdata);
    let SocketAddr::V4(v4) = our_addr else {
        unreachable!()
    };
    let ext = Extend2 {
        linkspecs: vec![
            LinkSpec::Ipv4(v4),
            LinkSpec::LegacyId(id.rsa_id()),
            LinkSpec::Ed25519Id(id.ed_identity),
        ],
        htype: HandshakeType::NTOR,
        hdata: hdata.into(),
    };
    let mut body = encode_v0(0, &AnyRelayMsg::Extend2(ext), &mut rng).unwrap();
    crypto.encrypt_forward(&mut body.0, 0).unwrap();
    link.send(ChanCell::new(circ, RelayEarly(Relay::from_array(body.0))))
        .await
        .unwrap();

    let (ready, next) = tokio::time::timeout(Duration::from_secs(30), server)
        .await
        .unwrap_or_else(|_| {
            panic!(
                "C tor never completed a channel to us; log:\n{}",
                relay.info_log()
            )
        })
        .unwrap();
    let PeerIdentity::Relay(peer) = &ready.peer else {
        panic!("C tor authenticated as a relay")
    };
    assert_eq!(peer.rsa_id, RsaIdentity(relay.rsa_id));
    assert_eq!(peer.ed_identity, Ed25519Identity(relay.ed_id));
    assert_eq!(ready.link_version, 5);
    assert!(
        matches!(next.msg, AnyChanMsg::Create2(_)),
        "C tor sends our CREATE2 on: {:?}",
        next.msg
    );
}
