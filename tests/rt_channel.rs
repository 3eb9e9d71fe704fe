//! The runtime's channel driver (`rt::channel`): TLS plus the sans-IO link handshake, in
//! both roles, between our own endpoints and against a live stock C tor 0.4.9 relay; the
//! opened channel then carries a circuit handshake over its split reader and writer.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::SystemTime;

use oniongate::cell::{AnyChanMsg, ChanCell, CircId, CreateFast};
use oniongate::channel::{
    ExpectedPeer, InitiatorConfig, InitiatorRole, PeerIdentity, ResponderConfig,
};
use oniongate::crypto::fast;
use oniongate::ids::{Ed25519Identity, RsaIdentity};
use oniongate::rt::channel::{accept, connect, OpenChannel, HANDSHAKE_TIMEOUT};
use oniongate::rt::tls;
use rand::SeedableRng;
use tokio::io::{AsyncRead, AsyncWrite};

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// A CREATE_FAST round trip on an open channel (as the initiator).
async fn create_fast_works<S: AsyncRead + AsyncWrite>(ch: &mut OpenChannel<S>) {
    let mut rng = rand::rngs::StdRng::from_entropy();
    let (state, x) = fast::client1(&mut rng);
    let circ = CircId(0x8000_0042);
    ch.writer
        .queue(&ChanCell::new(circ, CreateFast { x }))
        .unwrap();
    ch.writer.flush().await.unwrap();
    loop {
        let (cell, _) = ch.reader.read_cell().await.unwrap().unwrap();
        match cell.msg {
            AnyChanMsg::Padding(_) | AnyChanMsg::Vpadding(_) => continue,
            AnyChanMsg::CreatedFast(r) => {
                assert_eq!(cell.circ_id, circ);
                let mut yk = r.y.to_vec();
                yk.extend_from_slice(&r.kh);
                fast::client2(state, &yk).unwrap();
                return;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

fn relay_ids(ready: &oniongate::channel::ChannelReady) -> (RsaIdentity, Ed25519Identity) {
    match &ready.peer {
        PeerIdentity::Relay(p) => (p.rsa_id, p.ed_identity),
        PeerIdentity::Client => panic!("peer did not authenticate"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_initiator_and_responder_agree_in_both_roles() {
    let mut rng = rand::rngs::StdRng::from_entropy();
    let now = SystemTime::now();
    let (server_id, cert, key) =
        oniongate::channel::testing::generate_link_identity(&mut rng, now).unwrap();
    let (client_id, _, _) =
        oniongate::channel::testing::generate_link_identity(&mut rng, now).unwrap();
    let (server_id, client_id) = (Arc::new(server_id), Arc::new(client_id));
    let tls_cfg = tls::server_config(&cert, &key).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let expected = ExpectedPeer {
        rsa_id: server_id.rsa_id(),
        ed_id: Some(server_id.ed_identity),
    };
    for relay_role in [false, true] {
        let role = if relay_role {
            InitiatorRole::Relay(client_id.clone())
        } else {
            InitiatorRole::Client
        };
        let responder = async {
            let (tcp, _) = listener.accept().await.unwrap();
            let cfg = ResponderConfig {
                identity: server_id.clone(),
                peer_addr: LOOPBACK,
                my_addrs: vec![LOOPBACK],
            };
            accept(tcp, tls_cfg.clone(), cfg, HANDSHAKE_TIMEOUT).await
        };
        let initiator = connect(
            addr,
            InitiatorConfig {
                role,
                expected: Some(expected),
                peer_addr: LOOPBACK,
                my_addrs: if relay_role { vec![LOOPBACK] } else { vec![] },
            },
            HANDSHAKE_TIMEOUT,
        );
        let (server_side, client_side) = tokio::join!(responder, initiator);
        let (mut server_side, mut client_side) = (server_side.unwrap(), client_side.unwrap());
        assert_eq!(
            relay_ids(&client_side.ready),
            (server_id.rsa_id(), server_id.ed_identity)
        );
        if relay_role {
            assert_eq!(
                relay_ids(&server_side.ready),
                (client_id.rsa_id(), client_id.ed_identity)
            );
        } else {
            assert!(matches!(server_side.ready.peer, PeerIdentity::Client));
        }
        // The opened channel carries cells both ways: a CREATE_FAST answered by hand.
        let serve = async {
            let (cell, _) = server_side.reader.read_cell().await.unwrap().unwrap();
            let AnyChanMsg::CreateFast(req) = cell.msg else {
                panic!("expected CREATE_FAST, got {:?}", cell.msg);
            };
            let mut rng = rand::rngs::StdRng::from_entropy();
            let (reply, _) = fast::server(&mut rng, &req.x).unwrap();
            let mut y = [0u8; 20];
            let mut kh = [0u8; 20];
            y.copy_from_slice(&reply[..20]);
            kh.copy_from_slice(&reply[20..]);
            let created = oniongate::cell::CreatedFast { y, kh };
            server_side
                .writer
                .queue(&ChanCell::new(cell.circ_id, created))
                .unwrap();
            server_side.writer.flush().await.unwrap();
        };
        tokio::join!(serve, create_fast_works(&mut client_side));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_tor_relay_accepts_our_channels_in_both_roles() {
    let relay = common::ctor::CTorRelay::start("rtchan", &Default::default());
    let expected = ExpectedPeer {
        rsa_id: RsaIdentity(relay.rsa_id),
        ed_id: Some(Ed25519Identity(relay.ed_id)),
    };
    let mut rng = rand::rngs::StdRng::from_entropy();
    let (our_id, _, _) =
        oniongate::channel::testing::generate_link_identity(&mut rng, SystemTime::now()).unwrap();
    let our_id = Arc::new(our_id);
    for role in [InitiatorRole::Client, InitiatorRole::Relay(our_id.clone())] {
        let relay_role = matches!(role, InitiatorRole::Relay(_));
        let cfg = InitiatorConfig {
            role,
            expected: Some(expected),
            peer_addr: relay.or_addr.ip(),
            my_addrs: if relay_role { vec![LOOPBACK] } else { vec![] },
        };
        let mut ch = connect(relay.or_addr, cfg, HANDSHAKE_TIMEOUT)
            .await
            .unwrap_or_else(|e| panic!("{e}; C tor log:\n{}", relay.info_log()));
        assert_eq!(
            relay_ids(&ch.ready),
            (RsaIdentity(relay.rsa_id), Ed25519Identity(relay.ed_id))
        );
        create_fast_works(&mut ch).await;
    }
    // A wrong expected identity is refused.
    let wrong = InitiatorConfig {
        role: InitiatorRole::Client,
        expected: Some(ExpectedPeer {
            rsa_id: RsaIdentity([7; 20]),
            ed_id: None,
        }),
        peer_addr: relay.or_addr.ip(),
        my_addrs: vec![],
    };
    assert!(connect(relay.or_addr, wrong, HANDSHAKE_TIMEOUT)
        .await
        .is_err());
}
