//! Cross-checks of our circuit handshakes against an independent side.
//!
//! Arti 0.47 keeps its handshakes (`tor-proto` `crypto::handshake::{ntor, ntor_v3, fast}`)
//! crate-private: `crypto` is a private module, and neither the `bench`, `testing` nor
//! `experimental` features re-export them (only `ShakeKeyGenerator` leaks, as
//! `bench_utils::KGen`, with a crate-private `expand`). Its relay-side
//! `CreateRequestHandler::handle_create` is `pub(crate)` too, and driving a client circuit
//! needs a real channel. So, as the brief allows, this file:
//!
//! 1. re-derives ntor, ntor-v3 and CREATE_FAST from the spec formulas, written flat and
//!    independently of `src/crypto`, on Arti's primitives (`tor-llcrypto`'s curve25519
//!    wrapper and its SHA-1/SHA-256/SHA3-256/SHAKE-256 re-exports; HKDF via full
//!    extract-then-expand rather than our expand-from-KEY_SEED), anchors that reference
//!    to the official vectors (including proposal 332's intermediate values), and runs
//!    both roles against our code for random keys and messages;
//! 2. checks the ntor-v3 extension encoding against Arti's own `tor-cell`
//!    `CircRequestExt`/`CircResponseExt` encoder and decoder, both ways.

#![allow(clippy::unwrap_used)]

mod common;

use digest::{Digest, ExtendableOutput, Update, XofReader};
use hmac::{Hmac, Mac};
use proptest::prelude::*;
use tor_llcrypto::d::{Sha1, Sha256, Sha3_256, Shake256};
use tor_llcrypto::pk::curve25519;

use oniongate::crypto::ll::{X25519Public, X25519Secret};
use oniongate::crypto::ntor_v3::ext::{Direction, NtorV3Extension, NtorV3Extensions};
use oniongate::crypto::{fast, ntor, ntor_v3};
use oniongate::ids::{Ed25519Identity, RsaIdentity};

// ---------------------------------------------------------------- reference primitives

fn public(sk: &[u8; 32]) -> [u8; 32] {
    let s = curve25519::StaticSecret::from(*sk);
    *curve25519::PublicKey::from(&s).as_bytes()
}

fn dh(sk: &[u8; 32], pk: &[u8; 32]) -> [u8; 32] {
    let s = curve25519::StaticSecret::from(*sk);
    *s.diffie_hellman(&curve25519::PublicKey::from(*pk))
        .as_bytes()
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn encap(s: &[u8]) -> Vec<u8> {
    cat(&[&(s.len() as u64).to_be_bytes(), s])
}

// ---------------------------------------------------------------- reference ntor

mod ref_ntor {
    use super::*;
    const PROTOID: &[u8] = b"ntor-curve25519-sha256-1";

    fn tweak(suffix: &str) -> Vec<u8> {
        cat(&[PROTOID, suffix.as_bytes()])
    }

    fn hmac(key: &[u8], msg: &[u8]) -> [u8; 32] {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap();
        Mac::update(&mut m, msg);
        m.finalize().into_bytes().into()
    }

    /// Returns (AUTH, 92 bytes of key material).
    fn core(
        dh1: &[u8; 32],
        dh2: &[u8; 32],
        id: &[u8; 20],
        b: &[u8; 32],
        x: &[u8; 32],
        y: &[u8; 32],
    ) -> ([u8; 32], Vec<u8>) {
        let si = cat(&[dh1, dh2, id, b, x, y, PROTOID]);
        let verify = hmac(&tweak(":verify"), &si);
        let ai = cat(&[&verify, id, b, y, x, PROTOID, b"Server"]);
        let auth = hmac(&tweak(":mac"), &ai);
        let hk = hkdf::Hkdf::<Sha256>::new(Some(&tweak(":key_extract")), &si);
        let mut keys = vec![0u8; 92];
        hk.expand(&tweak(":key_expand"), &mut keys).unwrap();
        (auth, keys)
    }

    pub fn client1(x: &[u8; 32], id: &[u8; 20], b: &[u8; 32]) -> Vec<u8> {
        cat(&[id, b, &public(x)])
    }

    pub fn server(
        y: &[u8; 32],
        bsk: &[u8; 32],
        id: &[u8; 20],
        skin: &[u8],
    ) -> Option<(Vec<u8>, Vec<u8>)> {
        let b = public(bsk);
        if skin.len() != 84 || skin[..20] != id[..] || skin[20..52] != b[..] {
            return None;
        }
        let x: [u8; 32] = skin[52..84].try_into().unwrap();
        let big_y = public(y);
        let (auth, keys) = core(&dh(y, &x), &dh(bsk, &x), id, &b, &x, &big_y);
        Some((cat(&[&big_y, &auth]), keys))
    }

    pub fn client2(x: &[u8; 32], id: &[u8; 20], b: &[u8; 32], reply: &[u8]) -> Option<Vec<u8>> {
        let y: [u8; 32] = reply.get(..32)?.try_into().ok()?;
        let (auth, keys) = core(&dh(x, &y), &dh(x, b), id, b, &public(x), &y);
        (reply.get(32..64)? == auth).then_some(keys)
    }
}

// ---------------------------------------------------------------- reference ntor-v3

mod ref_ntor3 {
    use super::*;
    const PROTOID: &[u8] = b"ntor3-curve25519-sha3_256-1";

    fn t(suffix: &str) -> Vec<u8> {
        cat(&[PROTOID, b":", suffix.as_bytes()])
    }

    fn hash(tweak: &str, s: &[u8]) -> [u8; 32] {
        Sha3_256::digest(cat(&[&encap(&t(tweak)), s])).into()
    }

    fn kdf(tweak: &str, s: &[u8], n: usize) -> Vec<u8> {
        let mut x = Shake256::default();
        x.update(&encap(&t(tweak)));
        x.update(s);
        let mut out = vec![0u8; n];
        x.finalize_xof().read(&mut out);
        out
    }

    fn aes256ctr(k: &[u8], m: &[u8]) -> Vec<u8> {
        use cipher::{KeyIvInit, StreamCipher};
        let mut out = m.to_vec();
        let mut c = ctr::Ctr128BE::<aes::Aes256>::new(k.into(), &[0u8; 16].into());
        c.apply_keystream(&mut out);
        out
    }

    /// Intermediate values, named as in proposal 332 §X.2.
    #[derive(Default, Debug)]
    pub struct Trace {
        pub enc_k1: Vec<u8>,
        pub mac_k1: Vec<u8>,
        pub msg_mac: Vec<u8>,
        pub key_seed: Vec<u8>,
        pub verify: Vec<u8>,
        pub enc_key: Vec<u8>,
        pub auth: Vec<u8>,
    }

    fn phase1(
        bx: &[u8; 32],
        id: &[u8; 32],
        x: &[u8; 32],
        b: &[u8; 32],
        ver: &[u8],
        c: &[u8],
        tr: &mut Trace,
    ) -> (Vec<u8>, [u8; 32]) {
        let keys = kdf(
            "kdf_phase1",
            &cat(&[bx, id, x, b, PROTOID, &encap(ver)]),
            64,
        );
        tr.enc_k1 = keys[..32].to_vec();
        tr.mac_k1 = keys[32..].to_vec();
        // MAC(k, msg, t) = SHA3-256(ENCAP(t) | ENCAP(k) | msg)  (C tor / Arti; the
        // proposal's one-line formula has a typo).
        let mac: [u8; 32] = Sha3_256::digest(cat(&[
            &encap(&t("msg_mac")),
            &encap(&keys[32..]),
            id,
            b,
            x,
            c,
        ]))
        .into();
        tr.msg_mac = mac.to_vec();
        (keys[..32].to_vec(), mac)
    }

    /// Returns the reply message's ENC_KEY-derived parts: (AUTH, SMc-independent key
    /// stream of `n` bytes after ENC_KEY).
    #[allow(clippy::too_many_arguments)]
    fn phase2(
        xy: &[u8; 32],
        xb: &[u8; 32],
        id: &[u8; 32],
        b: &[u8; 32],
        x: &[u8; 32],
        y: &[u8; 32],
        ver: &[u8],
        mac: &[u8; 32],
        smc: &[u8],
        n: usize,
        tr: &mut Trace,
    ) -> ([u8; 32], Vec<u8>, Vec<u8>) {
        let si = cat(&[xy, xb, id, b, x, y, PROTOID, &encap(ver)]);
        let key_seed = hash("key_seed", &si);
        let verify = hash("verify", &si);
        let stream = kdf("kdf_final", &key_seed, 32 + n);
        let auth = hash(
            "auth_final",
            &cat(&[&verify, id, b, y, x, mac, &encap(smc), PROTOID, b"Server"]),
        );
        tr.key_seed = key_seed.to_vec();
        tr.verify = verify.to_vec();
        tr.enc_key = stream[..32].to_vec();
        tr.auth = auth.to_vec();
        (auth, stream[..32].to_vec(), stream[32..].to_vec())
    }

    pub fn client1(
        x: &[u8; 32],
        id: &[u8; 32],
        b: &[u8; 32],
        ver: &[u8],
        cm: &[u8],
        tr: &mut Trace,
    ) -> Vec<u8> {
        let big_x = public(x);
        // ENC_K1 depends only on the DH and public values, not on C.
        let (enc_k1, _) = phase1(&dh(x, b), id, &big_x, b, ver, &[], tr);
        let c = aes256ctr(&enc_k1, cm);
        let (_, mac) = phase1(&dh(x, b), id, &big_x, b, ver, &c, tr);
        cat(&[id, b, &big_x, &c, &mac])
    }

    /// Relay: returns (CM, reply, key stream of `n` bytes).
    #[allow(clippy::too_many_arguments)]
    pub fn server(
        y: &[u8; 32],
        bsk: &[u8; 32],
        id: &[u8; 32],
        ver: &[u8],
        skin: &[u8],
        sm: &[u8],
        n: usize,
        tr: &mut Trace,
    ) -> Option<(Vec<u8>, Vec<u8>, Vec<u8>)> {
        let b = public(bsk);
        if skin.len() < 128 || skin[..32] != id[..] || skin[32..64] != b[..] {
            return None;
        }
        let x: [u8; 32] = skin[64..96].try_into().unwrap();
        let c = &skin[96..skin.len() - 32];
        let xb = dh(bsk, &x);
        let (enc_k1, mac) = phase1(&xb, id, &x, &b, ver, c, tr);
        if skin[skin.len() - 32..] != mac[..] {
            return None;
        }
        let cm = aes256ctr(&enc_k1, c);
        let big_y = public(y);
        let xy = dh(y, &x);
        // ENC_KEY does not depend on SMc; AUTH does.
        let (_, enc_key, _) = phase2(&xy, &xb, id, &b, &x, &big_y, ver, &mac, &[], 0, tr);
        let smc = aes256ctr(&enc_key, sm);
        let (auth, _, keys) = phase2(&xy, &xb, id, &b, &x, &big_y, ver, &mac, &smc, n, tr);
        Some((cm, cat(&[&big_y, &auth, &smc]), keys))
    }

    /// Client: returns (SM, key stream of `n` bytes).
    #[allow(clippy::too_many_arguments)]
    pub fn client2(
        x: &[u8; 32],
        id: &[u8; 32],
        b: &[u8; 32],
        ver: &[u8],
        skin: &[u8],
        reply: &[u8],
        n: usize,
        tr: &mut Trace,
    ) -> Option<(Vec<u8>, Vec<u8>)> {
        let y: [u8; 32] = reply.get(..32)?.try_into().ok()?;
        let mac: [u8; 32] = skin[skin.len() - 32..].try_into().ok()?;
        let smc = reply.get(64..)?;
        let (auth, enc_key, keys) = phase2(
            &dh(x, &y),
            &dh(x, b),
            id,
            b,
            &public(x),
            &y,
            ver,
            &mac,
            smc,
            n,
            tr,
        );
        (reply.get(32..64)? == auth).then(|| (aes256ctr(&enc_key, smc), keys))
    }
}

// ---------------------------------------------------------------- reference KDF-TOR

fn ref_kdf_tor(k0: &[u8], n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..=255u8 {
        if out.len() >= n {
            break;
        }
        out.extend_from_slice(&Sha1::digest(cat(&[k0, &[i]])));
    }
    out.truncate(n);
    out
}

// ---------------------------------------------------------------- the reference vs vectors

#[test]
fn reference_matches_ntor_vector() {
    for r in common::load("ntor.txt")
        .into_iter()
        .chain(common::load("ntor_ref_py.txt"))
    {
        let (b, x, y) = (r.hex_array("b"), r.hex_array("x"), r.hex_array("y"));
        let id: [u8; 20] = r.hex_array("id");
        let big_b = public(&b);
        let skin = ref_ntor::client1(&x, &id, &big_b);
        assert_eq!(skin, r.hex("client_handshake"));
        let (reply, skeys) = ref_ntor::server(&y, &b, &id, &skin).unwrap();
        assert_eq!(reply, r.hex("server_handshake"));
        let ckeys = ref_ntor::client2(&x, &id, &big_b, &reply).unwrap();
        assert_eq!(ckeys, skeys);
        let keys = r.hex("keys");
        assert_eq!(&ckeys[..keys.len()], &keys[..]);
    }
}

#[test]
fn reference_matches_ntor_v3_vector() {
    for r in common::load("ntor_v3.txt")
        .into_iter()
        .chain(common::load("ntor_v3_ref_py.txt"))
    {
        let (b, x, y) = (r.hex_array("b"), r.hex_array("x"), r.hex_array("y"));
        let id: [u8; 32] = r.hex_array("ID");
        let (cm, sm, ver) = (r.hex("CM"), r.hex("SM"), r.hex("VER"));
        let big_b = public(&b);
        let mut tc = ref_ntor3::Trace::default();
        let skin = ref_ntor3::client1(&x, &id, &big_b, &ver, &cm, &mut tc);
        assert_eq!(skin, r.hex("client_handshake"));
        assert_eq!(tc.enc_k1, r.hex("ENC_K1"));
        assert_eq!(tc.mac_k1, r.hex("MAC_K1"));
        assert_eq!(tc.msg_mac, r.hex("msg_mac"));
        let mut ts = ref_ntor3::Trace::default();
        let (got_cm, reply, skeys) =
            ref_ntor3::server(&y, &b, &id, &ver, &skin, &sm, 256, &mut ts).unwrap();
        assert_eq!(got_cm, cm);
        assert_eq!(reply, r.hex("server_handshake"));
        assert_eq!(ts.key_seed, r.hex("key_seed"));
        assert_eq!(ts.verify, r.hex("verify"));
        assert_eq!(ts.enc_key, r.hex("ENC_KEY"));
        assert_eq!(ts.auth, r.hex("AUTH"));
        assert_eq!(skeys, r.hex("KEYSTREAM"));
        let (got_sm, ckeys) =
            ref_ntor3::client2(&x, &id, &big_b, &ver, &skin, &reply, 256, &mut tc).unwrap();
        assert_eq!(got_sm, sm);
        assert_eq!(ckeys, skeys);
    }
}

#[test]
fn reference_matches_create_fast_vector() {
    for r in common::load("create_fast.txt") {
        let x = r.hex("X");
        let reply = r.hex("reply");
        let k = ref_kdf_tor(&cat(&[&x, &reply[..20]]), 120);
        assert_eq!(&k[..20], &reply[20..]);
        assert_eq!(&k[20..], &r.hex("keys")[..]);
    }
}

// ---------------------------------------------------------------- both roles, random keys

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn ntor_interop(b in any::<[u8; 32]>(), x in any::<[u8; 32]>(), y in any::<[u8; 32]>(),
                    id in any::<[u8; 20]>()) {
        let big_b = public(&b);
        let rid = RsaIdentity(id);

        // Our client, reference relay.
        let (st, skin) = ntor::client1_with_keys(X25519Secret::from(x), &rid, &X25519Public::from(big_b));
        let (reply, ref_keys) = ref_ntor::server(&y, &b, &id, &skin).unwrap();
        let ours = ntor::client2(st, &reply).unwrap().expand(92).unwrap();
        prop_assert_eq!(&ours[..], &ref_keys[..]);

        // Reference client, our relay.
        let skin = ref_ntor::client1(&x, &id, &big_b);
        let keys = [ntor::NtorSecretKey::new(rid, X25519Secret::from(b))];
        let (reply, kg) = ntor::server_with_keys(X25519Secret::from(y), &keys, &skin).unwrap();
        let ref_keys = ref_ntor::client2(&x, &id, &big_b, &reply).unwrap();
        let rk = kg.into_relay_keys().unwrap();
        prop_assert_eq!(&rk.tor1()[..], &ref_keys[..72]);
        prop_assert_eq!(&rk.kh()[..], &ref_keys[72..]);
    }

    #[test]
    fn ntor_v3_interop(b in any::<[u8; 32]>(), x in any::<[u8; 32]>(), y in any::<[u8; 32]>(),
                       id in any::<[u8; 32]>(),
                       cm in proptest::collection::vec(any::<u8>(), 0..200),
                       sm in proptest::collection::vec(any::<u8>(), 0..200)) {
        let ver = ntor_v3::CIRCUIT_EXTEND_VERIFICATION;
        let big_b = public(&b);
        let pk = ntor_v3::NtorV3PublicKey {
            id: Ed25519Identity(id),
            onion_key: X25519Public::from(big_b),
        };
        let mut tr = ref_ntor3::Trace::default();

        // Our client, reference relay.
        let (st, skin) = ntor_v3::client1_with_keys(X25519Secret::from(x), &pk, ver, &cm).unwrap();
        let (got_cm, reply, ref_keys) =
            ref_ntor3::server(&y, &b, &id, ver, &skin, &sm, 92, &mut tr).unwrap();
        prop_assert_eq!(&got_cm, &cm);
        let (got_sm, kg) = ntor_v3::client2(st, &reply).unwrap();
        prop_assert_eq!(&got_sm[..], &sm[..]);
        prop_assert_eq!(&kg.expand(92).unwrap()[..], &ref_keys[..]);

        // Reference client, our relay.
        let skin = ref_ntor3::client1(&x, &id, &big_b, ver, &cm, &mut tr);
        let keys = [ntor_v3::NtorV3SecretKey::new(Ed25519Identity(id), X25519Secret::from(b))];
        let (st, got_cm) = ntor_v3::server_part1(&keys, ver, &skin).unwrap();
        prop_assert_eq!(&got_cm[..], &cm[..]);
        let (reply, kg) = ntor_v3::server_part2_with_keys(X25519Secret::from(y), st, &sm).unwrap();
        let (got_sm, ref_keys) =
            ref_ntor3::client2(&x, &id, &big_b, ver, &skin, &reply, 92, &mut tr).unwrap();
        prop_assert_eq!(&got_sm, &sm);
        let rk = kg.into_relay_keys().unwrap();
        prop_assert_eq!(&rk.tor1()[..], &ref_keys[..72]);
        prop_assert_eq!(&rk.kh()[..], &ref_keys[72..]);
    }

    #[test]
    fn create_fast_interop(x in any::<[u8; 20]>(), y in any::<[u8; 20]>()) {
        let k = ref_kdf_tor(&cat(&[&x, &y]), 92);
        let (reply, kg) = fast::server_with_keys(y, &x).unwrap();
        prop_assert_eq!(&reply[20..], &k[..20]);
        let rk = kg.into_relay_keys().unwrap();
        prop_assert_eq!(&rk.kh()[..], &k[..20]);
        prop_assert_eq!(&rk.tor1()[..], &k[20..]);
        let (st, _) = fast::client1_with_keys(x);
        let ck = fast::client2(st, &reply).unwrap().expand(92).unwrap();
        prop_assert_eq!(&ck[..], &k[..]);
    }
}

// ---------------------------------------------------------------- extensions vs tor-cell

#[test]
fn extensions_match_arti_tor_cell() {
    use tor_cell::relaycell::extend::{CcResponse, CircRequestExt, CircResponseExt};

    // Client messages: CC request, SUBPROTO Relay=6, and an unknown type, as we encode
    // them; Arti decodes and re-encodes them to the same bytes.
    let cm = NtorV3Extensions(vec![
        NtorV3Extension::CcRequest,
        NtorV3Extension::SubprotoRequest(vec![
            ntor_v3::ext::SubprotoCap {
                protocol_id: 0,
                capability: 5,
            },
            ntor_v3::ext::SubprotoCap::RELAY_CGO,
        ]),
        NtorV3Extension::Unknown {
            ext_type: ntor_v3::ext::NtorV3ExtType(77),
            body: vec![1, 2, 3],
        },
    ])
    .encode()
    .unwrap();
    let arti = CircRequestExt::decode(&cm).unwrap();
    assert_eq!(arti.len(), 3);
    assert!(matches!(arti[0], CircRequestExt::CcRequest(_)));
    assert!(matches!(arti[1], CircRequestExt::SubprotocolRequest(_)));
    let mut again = Vec::new();
    CircRequestExt::write_many_onto(&arti, &mut again).unwrap();
    assert_eq!(again, cm);

    // What Arti's client sends for "CC please" decodes as such here.
    let mut arti_cm = Vec::new();
    CircRequestExt::write_many_onto(
        &[CircRequestExt::CcRequest(Default::default())],
        &mut arti_cm,
    )
    .unwrap();
    let ours = NtorV3Extensions::decode(&arti_cm, Direction::ClientToRelay).unwrap();
    assert!(ours.cc_requested());
    assert_eq!(ours.encode().unwrap(), arti_cm);

    // Server messages: our CC response and Arti's agree both ways; our "declined" reply
    // is an empty list to Arti.
    let sm = NtorV3Extensions(vec![NtorV3Extension::CcResponse { sendme_inc: 31 }])
        .encode()
        .unwrap();
    let arti = CircResponseExt::decode(&sm).unwrap();
    assert!(matches!(&arti[..], [CircResponseExt::CcResponse(r)] if r.sendme_inc() == 31));
    let mut arti_sm = Vec::new();
    CircResponseExt::write_many_onto(
        &[CircResponseExt::CcResponse(CcResponse::new(30))],
        &mut arti_sm,
    )
    .unwrap();
    let ours = NtorV3Extensions::decode(&arti_sm, Direction::RelayToClient).unwrap();
    assert_eq!(ours.cc_response(), Some(30));
    let declined = ntor_v3::ext::relay_reply_declining_cc(&arti_cm, &[]).unwrap();
    assert!(CircResponseExt::decode(&declined).unwrap().is_empty());
}
