//! Our client-side handshakes and relay crypto against a live stock C tor 0.4.9 relay.
//!
//! For each circuit handshake (ntor, ntor-v3, CREATE_FAST) this opens a one-hop circuit to a
//! C tor relay on loopback, checks the relay's reply with our handshake code, keys our tor1
//! relay crypto from the result, opens a BEGIN_DIR stream and fetches the relay's own
//! descriptor over it. A wrong key, digest or keystream anywhere makes C tor destroy the
//! circuit or makes our digest check fail, so a whole descriptor coming back (naming the
//! relay's fingerprint) proves the handshake outputs and tor1 agree with C tor byte for byte,
//! in both directions.
//!
//! The channel is a full client channel (`rt::channel::connect`, certificates checked against
//! the relay's identities).

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used)]

mod common;

use common::link::Link;

use std::time::Duration;

use oniongate::cell::{AnyChanMsg, ChanCell, CircId, Create2, CreateFast, HandshakeType, Relay};
use oniongate::crypto::kdf::KeyGenerator;
use oniongate::crypto::ll::X25519Public;
use oniongate::crypto::tor1::{OriginCrypto, OriginLayer};
use oniongate::crypto::{fast, ntor, ntor_v3};
use oniongate::ids::{Ed25519Identity, RsaIdentity};
use oniongate::relaycell::{decode_v0, encode_v0, AnyRelayMsg, BeginDir, Data, RelayCellBody};
use rand::SeedableRng;

/// Sends a relay message to hop 0 and returns the relay's answers on stream 1 until END,
/// as the concatenated DATA payloads.
async fn begin_dir_fetch(
    link: &mut Link,
    circ: CircId,
    crypto: &mut OriginCrypto,
    path: &str,
) -> Vec<u8> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let mut send = |link_msg: AnyRelayMsg, crypto: &mut OriginCrypto| {
        let mut body = encode_v0(1, &link_msg, &mut rng).unwrap();
        crypto.encrypt_forward(&mut body.0, 0).unwrap();
        ChanCell::new(circ, Relay::from_array(body.0))
    };
    let cell = send(AnyRelayMsg::BeginDir(BeginDir), crypto);
    link.send(cell).await;
    let request = format!("GET {path} HTTP/1.0\r\n\r\n");
    let cell = send(
        AnyRelayMsg::Data(Data::new(request.into_bytes()).unwrap()),
        crypto,
    );
    link.send(cell).await;
    let mut out = Vec::new();
    loop {
        let cell = link.recv().await;
        assert_eq!(cell.circ_id, circ);
        let AnyChanMsg::Relay(relay) = cell.msg else {
            panic!("expected RELAY, got {:?}", cell.msg);
        };
        let mut body = RelayCellBody::default();
        body.0.copy_from_slice(relay.body());
        let rec = crypto
            .decrypt_backward(&mut body.0)
            .expect("our tor1 digest recognises C tor's cell");
        assert_eq!(rec.hop, 0);
        let (stream, msg) = decode_v0(&body).unwrap();
        match msg {
            AnyRelayMsg::Connected(_) => assert_eq!(stream, 1),
            AnyRelayMsg::Data(d) => out.extend_from_slice(d.body()),
            AnyRelayMsg::End(_) => return out,
            other => panic!("unexpected relay message {other:?}"),
        }
    }
}

async fn check_circuit(link: &mut Link, circ: CircId, keys: KeyGenerator, fp: &[u8; 20]) {
    let keys = keys.into_relay_keys().unwrap();
    let mut crypto = OriginCrypto::new();
    crypto.push(OriginLayer::tor1(keys.tor1()));
    // The relay builds its descriptor shortly after start; retry on a new stream while it
    // answers 404.
    for _ in 0..20 {
        let reply = begin_dir_fetch(link, circ, &mut crypto, "/tor/server/authority").await;
        let text = String::from_utf8_lossy(&reply);
        if text.starts_with("HTTP/1.0 404") {
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        }
        assert!(text.starts_with("HTTP/1.0 200"), "{text}");
        let hex = hex::encode_upper(fp);
        let spaced: Vec<String> = hex
            .as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        assert!(
            text.contains(&format!("fingerprint {}", spaced.join(" "))),
            "descriptor names the relay's fingerprint:\n{text}"
        );
        return;
    }
    panic!("the relay never served its descriptor");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshakes_and_tor1_agree_with_c_tor() {
    let relay = common::ctor::CTorRelay::start("circ", &Default::default());
    let expected = oniongate::channel::ExpectedPeer {
        rsa_id: RsaIdentity(relay.rsa_id),
        ed_id: Some(Ed25519Identity(relay.ed_id)),
    };
    let mut link = Link::open(relay.or_addr, Some(expected)).await;
    let mut rng = rand::rngs::StdRng::from_entropy();
    let onion_key = X25519Public::from(relay.ntor_key);

    // ntor (CREATE2 type 2).
    let circ = CircId(0x8000_0001);
    let (state, hdata) = ntor::client1(&mut rng, &RsaIdentity(relay.rsa_id), &onion_key);
    link.send(ChanCell::new(
        circ,
        Create2 {
            htype: HandshakeType::NTOR,
            hdata: hdata.to_vec(),
        },
    ))
    .await;
    let AnyChanMsg::Created2(reply) = link.recv().await.msg else {
        panic!(
            "expected CREATED2 for ntor; C tor log:\n{}",
            relay.info_log()
        );
    };
    let keys = ntor::client2(state, &reply.hdata).expect("C tor's ntor AUTH verifies");
    check_circuit(&mut link, circ, keys, &relay.rsa_id).await;

    // ntor-v3 (CREATE2 type 3), with an empty extension list as C tor clients send.
    let circ = CircId(0x8000_0002);
    let relay_key = ntor_v3::NtorV3PublicKey {
        id: Ed25519Identity(relay.ed_id),
        onion_key,
    };
    let (state, hdata) = ntor_v3::client1(
        &mut rng,
        &relay_key,
        ntor_v3::CIRCUIT_EXTEND_VERIFICATION,
        &[0],
    )
    .unwrap();
    link.send(ChanCell::new(
        circ,
        Create2 {
            htype: HandshakeType::NTOR_V3,
            hdata: hdata.to_vec(),
        },
    ))
    .await;
    let AnyChanMsg::Created2(reply) = link.recv().await.msg else {
        panic!(
            "expected CREATED2 for ntor-v3; C tor log:\n{}",
            relay.info_log()
        );
    };
    let (server_msg, keys) =
        ntor_v3::client2(state, &reply.hdata).expect("C tor's ntor-v3 AUTH verifies");
    assert_eq!(&server_msg[..], &[0], "no extensions asked, none answered");
    check_circuit(&mut link, circ, keys, &relay.rsa_id).await;

    // CREATE_FAST.
    let circ = CircId(0x8000_0003);
    let (state, x) = fast::client1(&mut rng);
    link.send(ChanCell::new(circ, CreateFast { x })).await;
    let AnyChanMsg::CreatedFast(reply) = link.recv().await.msg else {
        panic!("expected CREATED_FAST; C tor log:\n{}", relay.info_log());
    };
    let mut yk = Vec::from(reply.y);
    yk.extend_from_slice(&reply.kh);
    let keys = fast::client2(state, &yk).expect("C tor's KH verifies");
    check_circuit(&mut link, circ, keys, &relay.rsa_id).await;
}
