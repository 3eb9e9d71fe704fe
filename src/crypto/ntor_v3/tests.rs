//! Unit tests of the ntor-v3 handshake, including proposal 332 §X.2's intermediate values.

#![allow(clippy::unwrap_used)]

use super::*;
use rand::rngs::OsRng;

fn relay() -> NtorV3SecretKey {
    NtorV3SecretKey::new(
        Ed25519Identity([9; 32]),
        X25519Secret::random_from_rng(OsRng),
    )
}

fn h32(s: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).unwrap();
    out
}

/// The intermediate values of proposal 332 §X.2 (the full vector is checked in
/// `tests/handshake_vectors.rs`).
#[test]
fn proposal_332_intermediates() {
    let b = X25519Secret::from(h32(
        "4051daa5921cfa2a1c27b08451324919538e79e788a81b38cbed097a5dff454a",
    ));
    let x = X25519Secret::from(h32(
        "b825a3719147bcbe5fb1d0b0fcb9c09e51948048e2e3283d2ab7b45b5ef38b49",
    ));
    let y = X25519Secret::from(h32(
        "4865a5b7689dafd978f529291c7171bc159be076b92186405d13220b80e2a053",
    ));
    let id = Ed25519Identity(h32(
        "9fad2af287ef942632833d21f946c6260c33fae6172b60006e86e4a6911753a2",
    ));
    let (big_b, big_x, big_y) = (
        X25519Public::from(&b),
        X25519Public::from(&x),
        X25519Public::from(&y),
    );
    let ver = b"xyzzy";
    let bx = x25519(&x, &big_b).unwrap();
    let (enc_k1, mac_k1) = phase1(&bx, &id, &big_x, &big_b, ver);
    assert_eq!(
        hex::encode(&enc_k1[..]),
        "4cd166e93f1c60a29f8fb9ec40ea0fc878930c27800594593e1c4d0f3b5fbd02"
    );
    assert_eq!(
        hex::encode(&mac_k1[..]),
        "f5b69e85fdd26e1b0bdbbc8128e32d8123040255f11f744af3cc98fc13613cda"
    );
    let mut c = b"hello world".to_vec();
    enc(&enc_k1, &mut c);
    let mac = msg_mac(&mac_k1, &id, &big_b, &big_x, &c);
    assert_eq!(
        hex::encode(mac),
        "9e044d53565f04d82bbb3bebed3d06cea65db8be9c72b68cd461942088502f67"
    );
    let xy = x25519(&y, &big_x).unwrap();
    let t = Transcript {
        id: &id,
        b: &big_b,
        x: &big_x,
        y: &big_y,
        msg_mac: &mac,
        ver,
    };
    let s = seeds(&xy, &bx, &t);
    assert_eq!(
        hex::encode(&s.keygen_input[s.keygen_input.len() - 32..]),
        "b9a092741098e1f5b8ab37ce74399dd57522c974d7ae4626283a1077b9273255"
    );
    assert_eq!(
        hex::encode(&s.verify[..]),
        "1dc09fb249738a79f1bc3a545eee8c415f27213894a760bb4df58862e414799a"
    );
    assert_eq!(
        hex::encode(&s.enc_key[..]),
        "cab8a93eef62246a83536c4384f331ec26061b66098c61421b6cae81f4f57c56"
    );
}

#[test]
fn round_trip_with_messages() {
    let k = relay();
    let pk = k.public();
    let ver = CIRCUIT_EXTEND_VERIFICATION;
    let (st, msg) = client1(&mut OsRng, &pk, ver, b"client says").unwrap();
    let (reply, skg) = server(&mut OsRng, &[relay(), k], ver, &msg, |cm| {
        assert_eq!(cm, b"client says");
        Some(b"relay answers".to_vec())
    })
    .unwrap();
    let (sm, ckg) = client2(st, &reply).unwrap();
    assert_eq!(&sm[..], b"relay answers");
    let (c, s) = (
        ckg.into_relay_keys().unwrap(),
        skg.into_relay_keys().unwrap(),
    );
    assert_eq!(c.tor1(), s.tor1());
    assert_eq!(c.kh(), s.kh());
}

#[test]
fn failures() {
    let k = relay();
    let pk = k.public();
    let keys = [k];
    let ver = b"v";
    let (_, msg) = client1(&mut OsRng, &pk, ver, b"").unwrap();
    assert_eq!(msg.len(), CLIENT_OVERHEAD);
    assert!(matches!(
        server_part1(&keys, ver, &msg[..127]),
        Err(NtorV3Error::WrongLength { got: 127, .. })
    ));
    assert_eq!(
        server_part1(&keys, b"w", &msg).unwrap_err(),
        NtorV3Error::BadMsgMac
    );
    let mut bad = msg.clone();
    bad[0] ^= 1;
    assert_eq!(
        server_part1(&keys, ver, &bad).unwrap_err(),
        NtorV3Error::UnknownRelayId
    );
    let mut bad = msg.clone();
    bad[32] ^= 1;
    assert_eq!(
        server_part1(&keys, ver, &bad).unwrap_err(),
        NtorV3Error::UnknownKeyId
    );
    let mut bad = msg.clone();
    bad[64..96].copy_from_slice(&[0; 32]);
    assert_eq!(
        server_part1(&keys, ver, &bad).unwrap_err(),
        NtorV3Error::NonContributory
    );
    assert_eq!(
        server(&mut OsRng, &keys, ver, &msg, |_| None).unwrap_err(),
        NtorV3Error::MessageRefused
    );
    let (st, msg) = client1(&mut OsRng, &pk, ver, b"hi").unwrap();
    let (mut reply, _) = server(&mut OsRng, &keys, ver, &msg, |_| Some(vec![1])).unwrap();
    reply[64] ^= 1;
    assert_eq!(client2(st, &reply).unwrap_err(), NtorV3Error::BadAuth);
}
