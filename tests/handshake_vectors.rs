//! Official and cross-implementation test vectors for the KDFs and circuit handshakes
//! (`tests/vectors/kdf_*.txt`, `ntor.txt`, `ntor_v3.txt`, `create_fast.txt`; each file
//! names its source), checked byte for byte, plus property tests of the handshakes.

#![allow(clippy::unwrap_used)]

mod common;

use oniongate::crypto::kdf::{hkdf_sha256, kdf_tor, shake256};
use oniongate::crypto::ll::{X25519Public, X25519Secret};
use oniongate::crypto::{fast, ntor, ntor_v3};
use oniongate::ids::{Ed25519Identity, RsaIdentity};

/// A hex key, or its `<key>_text` twin holding text.
fn bytes(r: &common::Record, key: &str) -> Vec<u8> {
    match r.get(&format!("{key}_text")) {
        Some(t) => t.as_bytes().to_vec(),
        None => r.hex(key),
    }
}

#[test]
fn kdf_tor_vectors() {
    let recs = common::load("kdf_tor.txt");
    assert_eq!(recs.len(), 3);
    for r in recs {
        let okm = r.hex("okm");
        let got = kdf_tor(r.str("input").as_bytes(), okm.len()).unwrap();
        assert_eq!(&got[..], &okm[..], "{}", r.at());
    }
}

#[test]
fn hkdf_sha256_vectors() {
    let recs = common::load("kdf_hkdf_sha256.txt");
    assert_eq!(recs.len(), 5);
    for r in recs {
        let okm = r.hex("okm");
        let got = hkdf_sha256(
            &bytes(&r, "salt"),
            &bytes(&r, "ikm"),
            &bytes(&r, "info"),
            okm.len(),
        )
        .unwrap();
        assert_eq!(&got[..], &okm[..], "{}", r.at());
    }
}

#[test]
fn shake256_vectors() {
    let recs = common::load("kdf_shake256.txt");
    assert_eq!(recs.len(), 4);
    for r in recs {
        let out = r.hex("output");
        assert_eq!(
            &shake256(&r.hex("input"), out.len())[..],
            &out[..],
            "{}",
            r.at()
        );
    }
}

#[test]
fn ntor_vectors() {
    let arti = common::load("ntor.txt");
    let c_tor_ref = common::load("ntor_ref_py.txt");
    assert_eq!((arti.len(), c_tor_ref.len()), (1, 3));
    for r in arti.into_iter().chain(c_tor_ref) {
        let b = X25519Secret::from(r.hex_array::<32>("b"));
        let x = X25519Secret::from(r.hex_array::<32>("x"));
        let y = X25519Secret::from(r.hex_array::<32>("y"));
        let big_b = X25519Public::from(r.hex_array::<32>("B"));
        assert_eq!(X25519Public::from(&b), big_b, "{}", r.at());
        assert_eq!(X25519Public::from(&x).as_bytes(), &r.hex_array("X"));
        assert_eq!(X25519Public::from(&y).as_bytes(), &r.hex_array("Y"));
        let id = RsaIdentity(r.hex_array("id"));
        let keys = r.hex("keys");

        let (state, onion_skin) = ntor::client1_with_keys(x, &id, &big_b);
        assert_eq!(
            &onion_skin[..],
            &r.hex("client_handshake")[..],
            "{}",
            r.at()
        );

        let relay = [ntor::NtorSecretKey::new(id, b)];
        let (reply, s_kg) = ntor::server_with_keys(y, &relay, &onion_skin).unwrap();
        assert_eq!(&reply[..], &r.hex("server_handshake")[..], "{}", r.at());

        let c_kg = ntor::client2(state, &reply).unwrap();
        assert_eq!(&c_kg.expand(keys.len()).unwrap()[..], &keys[..]);
        let s = s_kg.into_relay_keys().unwrap();
        assert_eq!(&s.tor1()[..], &keys[..72], "{}", r.at());
        if keys.len() == 92 {
            assert_eq!(&s.kh()[..], &keys[72..], "{}", r.at());
        }
    }
}

#[test]
fn ntor_v3_vectors() {
    let prop332 = common::load("ntor_v3.txt");
    let c_tor_ref = common::load("ntor_v3_ref_py.txt");
    assert_eq!((prop332.len(), c_tor_ref.len()), (1, 3));
    for r in prop332.into_iter().chain(c_tor_ref) {
        let b = X25519Secret::from(r.hex_array::<32>("b"));
        let x = X25519Secret::from(r.hex_array::<32>("x"));
        let y = X25519Secret::from(r.hex_array::<32>("y"));
        assert_eq!(X25519Public::from(&b).as_bytes(), &r.hex_array("B"));
        assert_eq!(X25519Public::from(&x).as_bytes(), &r.hex_array("X"));
        assert_eq!(X25519Public::from(&y).as_bytes(), &r.hex_array("Y"));
        let id = Ed25519Identity(r.hex_array("ID"));
        let (cm, sm, ver) = (r.hex("CM"), r.hex("SM"), r.hex("VER"));
        let relay = ntor_v3::NtorV3SecretKey::new(id, b);
        let pk = relay.public();

        let (state, onion_skin) = ntor_v3::client1_with_keys(x, &pk, &ver, &cm).unwrap();
        let expect_skin = r.hex("client_handshake");
        assert_eq!(onion_skin, expect_skin, "{}", r.at());
        assert_eq!(&onion_skin[onion_skin.len() - 32..], &r.hex("msg_mac")[..]);

        let (s_state, got_cm) = ntor_v3::server_part1(&[relay], &ver, &onion_skin).unwrap();
        assert_eq!(&got_cm[..], &cm[..]);
        let (reply, s_kg) = ntor_v3::server_part2_with_keys(y, s_state, &sm).unwrap();
        assert_eq!(reply, r.hex("server_handshake"), "{}", r.at());
        assert_eq!(&reply[32..64], &r.hex("AUTH")[..]);

        let (got_sm, c_kg) = ntor_v3::client2(state, &reply).unwrap();
        assert_eq!(&got_sm[..], &sm[..]);
        let ks = r.hex("KEYSTREAM");
        assert_eq!(ks.len(), 256);
        assert_eq!(&c_kg.expand(256).unwrap()[..], &ks[..], "{}", r.at());
        let s = s_kg.into_relay_keys().unwrap();
        assert_eq!(&s.tor1()[..], &ks[..72]);
        assert_eq!(&s.kh()[..], &ks[72..92]);
    }
}

/// The extension messages in the C tor reference vectors, and our relay's policy on them.
#[test]
fn ntor_v3_vector_extensions() {
    use ntor_v3::ext::{relay_reply_declining_cc, Direction, ExtError, NtorV3Extensions};
    use ntor_v3::ext::{NtorV3Extension, SubprotoCap};
    let recs = common::load("ntor_v3_ref_py.txt");
    let mut seen = 0;
    for r in &recs {
        assert_eq!(r.hex("VER"), ntor_v3::CIRCUIT_EXTEND_VERIFICATION);
        let cm = NtorV3Extensions::decode(&r.hex("CM"), Direction::ClientToRelay).unwrap();
        let sm = NtorV3Extensions::decode(&r.hex("SM"), Direction::RelayToClient).unwrap();
        assert_eq!(cm.encode().unwrap(), r.hex("CM"));
        assert_eq!(sm.encode().unwrap(), r.hex("SM"));
        let policy = relay_reply_declining_cc(&r.hex("CM"), &[]);
        match cm.0.as_slice() {
            [] => {
                assert_eq!(policy.unwrap(), vec![0]);
                seen |= 1;
            }
            [NtorV3Extension::CcRequest] => {
                assert_eq!(sm.cc_response(), Some(31));
                assert_eq!(policy.unwrap(), vec![0]);
                seen |= 2;
            }
            [NtorV3Extension::CcRequest, NtorV3Extension::SubprotoRequest(caps)] => {
                assert_eq!(caps, &[SubprotoCap::RELAY_CGO]);
                assert_eq!(
                    policy.unwrap_err(),
                    ExtError::UnsupportedSubprotocol(SubprotoCap::RELAY_CGO)
                );
                seen |= 4;
            }
            other => panic!("{}: unexpected CM {other:?}", r.at()),
        }
    }
    assert_eq!(seen, 7);
}

#[test]
fn create_fast_vectors() {
    let recs = common::load("create_fast.txt");
    assert_eq!(recs.len(), 2);
    for r in recs {
        let x = r.hex_array::<20>("X");
        let reply_expect = r.hex_array::<40>("reply");
        let keys = r.hex("keys");
        let mut y = [0u8; 20];
        y.copy_from_slice(&reply_expect[..20]);

        let (state, msg) = fast::client1_with_keys(x);
        assert_eq!(msg, x);
        let (reply, s_kg) = fast::server_with_keys(y, &msg).unwrap();
        assert_eq!(reply, reply_expect, "{}", r.at());
        let c_kg = fast::client2(state, &reply).unwrap();

        // The raw KDF-TOR stream starts with KH; Arti's vector starts after it.
        let raw = c_kg.expand(20 + keys.len()).unwrap();
        assert_eq!(&raw[..20], &reply[20..], "{}", r.at());
        assert_eq!(&raw[20..], &keys[..], "{}", r.at());
        let s = s_kg.into_relay_keys().unwrap();
        assert_eq!(&s.tor1()[..], &keys[..72], "{}", r.at());
        assert_eq!(&s.kh()[..], &reply[20..], "{}", r.at());
    }
}

mod props {
    use super::*;
    use oniongate::crypto::ntor_v3::ext::{
        Direction, NtorV3ExtType, NtorV3Extension, NtorV3Extensions, SubprotoCap,
    };
    use proptest::prelude::*;

    fn secret() -> impl Strategy<Value = [u8; 32]> {
        any::<[u8; 32]>()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn ntor_agrees_and_rejects_bit_flips(
            b in secret(), x in secret(), y in secret(), id in any::<[u8; 20]>(),
            bit in 0usize..(64 * 8),
        ) {
            let relay = ntor::NtorSecretKey::new(RsaIdentity(id), X25519Secret::from(b));
            let pk = relay.public();
            let keys = [relay];
            let (st, skin) = ntor::client1_with_keys(X25519Secret::from(x), &pk.id, &pk.onion_key);
            let (reply, s_kg) = ntor::server_with_keys(X25519Secret::from(y), &keys, &skin).unwrap();
            let c = ntor::client2(st, &reply).unwrap().into_relay_keys().unwrap();
            let s = s_kg.into_relay_keys().unwrap();
            prop_assert_eq!(c.tor1(), s.tor1());
            prop_assert_eq!(c.kh(), s.kh());

            let (st, _) = ntor::client1_with_keys(X25519Secret::from(x), &pk.id, &pk.onion_key);
            let mut bad = reply;
            bad[bit / 8] ^= 1 << (bit % 8);
            prop_assert!(ntor::client2(st, &bad).is_err());
        }

        #[test]
        fn ntor_v3_agrees_and_rejects_bit_flips(
            b in secret(), x in secret(), y in secret(), id in any::<[u8; 32]>(),
            ver in proptest::collection::vec(any::<u8>(), 0..32),
            cm in proptest::collection::vec(any::<u8>(), 0..300),
            sm in proptest::collection::vec(any::<u8>(), 0..300),
            bit in any::<proptest::sample::Index>(),
            cbit in any::<proptest::sample::Index>(),
        ) {
            let relay = ntor_v3::NtorV3SecretKey::new(Ed25519Identity(id), X25519Secret::from(b));
            let pk = relay.public();
            let keys = [relay];
            let (st, skin) =
                ntor_v3::client1_with_keys(X25519Secret::from(x), &pk, &ver, &cm).unwrap();
            let (s_st, got_cm) = ntor_v3::server_part1(&keys, &ver, &skin).unwrap();
            prop_assert_eq!(&got_cm[..], &cm[..]);
            let (reply, s_kg) =
                ntor_v3::server_part2_with_keys(X25519Secret::from(y), s_st, &sm).unwrap();
            let (got_sm, c_kg) = ntor_v3::client2(st, &reply).unwrap();
            prop_assert_eq!(&got_sm[..], &sm[..]);
            let c = c_kg.into_relay_keys().unwrap();
            let s = s_kg.into_relay_keys().unwrap();
            prop_assert_eq!(c.tor1(), s.tor1());
            prop_assert_eq!(c.kh(), s.kh());

            // Any single-bit change in the relay's reply is rejected.
            let (st, _) =
                ntor_v3::client1_with_keys(X25519Secret::from(x), &pk, &ver, &cm).unwrap();
            let mut bad = reply.clone();
            let i = bit.index(bad.len() * 8);
            bad[i / 8] ^= 1 << (i % 8);
            prop_assert!(ntor_v3::client2(st, &bad).is_err());

            // Any single-bit change in the client's onion skin is rejected too.
            let mut bad = skin.clone();
            let i = cbit.index(bad.len() * 8);
            bad[i / 8] ^= 1 << (i % 8);
            prop_assert!(ntor_v3::server_part1(&keys, &ver, &bad).is_err());
        }

        #[test]
        fn fast_agrees_and_rejects_bit_flips(
            x in any::<[u8; 20]>(), y in any::<[u8; 20]>(), bit in 0usize..(40 * 8),
        ) {
            let (st, msg) = fast::client1_with_keys(x);
            let (reply, s_kg) = fast::server_with_keys(y, &msg).unwrap();
            let c = fast::client2(st, &reply).unwrap().into_relay_keys().unwrap();
            let s = s_kg.into_relay_keys().unwrap();
            prop_assert_eq!(c.tor1(), s.tor1());
            prop_assert_eq!(c.kh(), s.kh());
            let (st, _) = fast::client1_with_keys(x);
            let mut bad = reply;
            bad[bit / 8] ^= 1 << (bit % 8);
            prop_assert!(fast::client2(st, &bad).is_err());
        }

        #[test]
        fn garbage_never_panics(
            data in proptest::collection::vec(any::<u8>(), 0..400),
            b in secret(), x in secret(), y in secret(),
        ) {
            // Relay side: garbage and every truncation of a valid onion skin.
            let relay = ntor::NtorSecretKey::new(RsaIdentity([1; 20]), X25519Secret::from(b));
            let pk = relay.public();
            let keys = [relay];
            let _ = ntor::server_with_keys(X25519Secret::from(y), &keys, &data);
            let (_, skin) = ntor::client1_with_keys(X25519Secret::from(x), &pk.id, &pk.onion_key);
            for n in 0..skin.len() {
                prop_assert!(ntor::server_with_keys(X25519Secret::from(y), &keys, &skin[..n]).is_err());
            }
            let (st, _) = ntor::client1_with_keys(X25519Secret::from(x), &pk.id, &pk.onion_key);
            let _ = ntor::client2(st, &data);

            let relay3 = ntor_v3::NtorV3SecretKey::new(Ed25519Identity([2; 32]), X25519Secret::from(b));
            let pk3 = relay3.public();
            let keys3 = [relay3];
            let _ = ntor_v3::server_part1(&keys3, b"v", &data);
            let (_, skin) = ntor_v3::client1_with_keys(X25519Secret::from(x), &pk3, b"v", b"cm").unwrap();
            for n in 0..skin.len() {
                prop_assert!(ntor_v3::server_part1(&keys3, b"v", &skin[..n]).is_err());
            }
            let (st, _) = ntor_v3::client1_with_keys(X25519Secret::from(x), &pk3, b"v", b"").unwrap();
            let _ = ntor_v3::client2(st, &data);

            let _ = fast::server_with_keys([0; 20], &data);
            let (st, _) = fast::client1_with_keys([0; 20]);
            let _ = fast::client2(st, &data);

            let _ = NtorV3Extensions::decode(&data, Direction::ClientToRelay);
            let _ = NtorV3Extensions::decode(&data, Direction::RelayToClient);
            let _ = ntor_v3::ext::relay_reply_declining_cc(&data, &[]);
        }

        #[test]
        fn extensions_round_trip(
            exts in proptest::collection::vec(ext_strategy(), 0..8),
            to_relay in any::<bool>(),
        ) {
            let dir = if to_relay { Direction::ClientToRelay } else { Direction::RelayToClient };
            // Keep only the typed variants defined for this direction.
            let exts: Vec<_> = exts.into_iter().filter(|e| match (e, dir) {
                (NtorV3Extension::CcResponse { .. }, Direction::ClientToRelay) => false,
                (NtorV3Extension::CcRequest | NtorV3Extension::SubprotoRequest(_),
                    Direction::RelayToClient) => false,
                (NtorV3Extension::Unknown { ext_type, .. }, _) => !(1..=3).contains(&ext_type.0),
                _ => true,
            }).collect();
            let list = NtorV3Extensions(exts);
            let bytes = list.encode().unwrap();
            prop_assert_eq!(NtorV3Extensions::decode(&bytes, dir).unwrap(), list);
        }
    }

    fn ext_strategy() -> impl Strategy<Value = NtorV3Extension> {
        prop_oneof![
            Just(NtorV3Extension::CcRequest),
            any::<u8>().prop_map(|sendme_inc| NtorV3Extension::CcResponse { sendme_inc }),
            proptest::collection::btree_set(any::<(u8, u8)>(), 0..10).prop_map(|s| {
                NtorV3Extension::SubprotoRequest(
                    s.into_iter()
                        .map(|(protocol_id, capability)| SubprotoCap {
                            protocol_id,
                            capability,
                        })
                        .collect(),
                )
            }),
            (any::<u8>(), proptest::collection::vec(any::<u8>(), 0..255)).prop_map(|(t, body)| {
                NtorV3Extension::Unknown {
                    ext_type: NtorV3ExtType(t),
                    body,
                }
            }),
        ]
    }
}
