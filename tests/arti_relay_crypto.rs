//! Cross-check of our relay-cell crypto against Arti's (tor-proto 0.47, feature `bench`,
//! which makes its `tor1::CryptStatePair` layers public), with random keys and cells:
//! our origin ↔ Arti's relays and Arti's origin ↔ our relays, both directions, for tor1
//! (AES-128-CTR/SHA-1) and the onion-service variant (AES-256-CTR/SHA3-256); SENDME tags
//! must be equal.
//!
//! It also (re)generates the Arti-made vector files. `cargo test --test arti_relay_crypto`
//! checks that the stored files are exactly what Arti produces now; with
//! `ONIONGATE_WRITE_VECTORS=1` and `-- --ignored write_vector_files` it rewrites them.
//!
//! Arti's onion-service responder uses its *relay* layers for the virtual hop (it wraps
//! them as client layers), which is the same as C tor's `reverse` initialisation; so Arti's
//! relay layer stands in for the service and Arti's client layer for the client.

#![allow(clippy::unwrap_used)]

use digest::{ExtendableOutput, Update, XofReader};
use rand::{rngs::StdRng, Rng, RngCore, SeedableRng};
use tor_cell::chancell::ChanCmd;
use tor_proto::bench_utils::{
    tor1::CryptStatePair, ClientLayer, CryptInit, InboundClientCrypt, InboundClientLayer,
    InboundRelayLayer, OutboundClientCrypt, OutboundClientLayer, OutboundRelayLayer,
    RelayCellBody as ArtiBody, RelayLayer,
};

use oniongate::crypto::tor1::{
    HsRole, HsV3, OriginCrypto, OriginLayer, RelayCellBody, RelayCrypto, Tor1, BODY_LEN,
};

type ArtiTor1 = CryptStatePair<tor_llcrypto::cipher::aes::Aes128Ctr, tor_llcrypto::d::Sha1>;
type ArtiHs = CryptStatePair<tor_llcrypto::cipher::aes::Aes256Ctr, tor_llcrypto::d::Sha3_256>;

const CMD: ChanCmd = ChanCmd::RELAY;

/// Arti's seed is our key material followed by a 20-byte circuit-binding key (unused by
/// the cell crypto).
fn arti_seed(km: &[u8]) -> Vec<u8> {
    let mut s = km.to_vec();
    s.extend_from_slice(&[0u8; 20]);
    s
}

fn arti_body(b: &RelayCellBody) -> ArtiBody {
    ArtiBody::from(Box::new(*b))
}

fn ours(b: &ArtiBody) -> RelayCellBody {
    b.as_ref().try_into().unwrap()
}

fn random_body(rng: &mut StdRng) -> RelayCellBody {
    let mut b = [0u8; BODY_LEN];
    rng.fill_bytes(&mut b);
    b[1] = 0;
    b[2] = 0;
    b[5..9].fill(0);
    b
}

fn random_km<const N: usize>(rng: &mut StdRng) -> [u8; N] {
    let mut k = [0u8; N];
    rng.fill_bytes(&mut k);
    k
}

#[test]
fn tor1_our_origin_to_arti_relays_and_back() {
    let mut rng = StdRng::seed_from_u64(0x7031);
    let keys: Vec<[u8; 72]> = (0..3).map(|_| random_km(&mut rng)).collect();
    let mut origin = OriginCrypto::new();
    let mut fwd = Vec::new();
    let mut back = Vec::new();
    for k in &keys {
        origin.push(OriginLayer::tor1(k));
        let (f, b, _) = ArtiTor1::initialize(&arti_seed(k))
            .unwrap()
            .split_relay_layer();
        fwd.push(f);
        back.push(b);
    }
    for i in 0..300 {
        let hop = rng.gen_range(0..3usize);
        let plain = random_body(&mut rng);
        // Forward: ours encrypts, Arti's relays decrypt.
        let mut body = plain;
        let tag = origin.encrypt_forward(&mut body, hop).unwrap();
        let mut a = arti_body(&body);
        for (r, layer) in fwd.iter_mut().enumerate() {
            let got = layer.decrypt_outbound(CMD, &mut a);
            if r < hop {
                assert!(
                    got.is_none(),
                    "cell {i}: hop {r} recognised a cell for {hop}"
                );
            } else {
                assert_eq!(got.unwrap().as_ref(), tag.as_bytes(), "cell {i}");
                break;
            }
        }
        let got = ours(&a);
        assert_eq!(got[9..], plain[9..]);
        assert_eq!(got[..5], plain[..5]);

        // Backward: Arti's relay `hop` originates, nearer ones add layers, ours decrypts.
        let plain = random_body(&mut rng);
        let mut a = arti_body(&plain);
        let atag = back[hop].originate(CMD, &mut a);
        for r in (0..hop).rev() {
            back[r].encrypt_inbound(CMD, &mut a);
        }
        let mut body = ours(&a);
        let rec = origin.decrypt_backward(&mut body).unwrap();
        assert_eq!(rec.hop, hop);
        assert_eq!(rec.tag.as_bytes().as_slice(), atag.as_ref());
        assert_eq!(body[9..], plain[9..]);
    }
}

#[test]
fn tor1_arti_origin_to_our_relays_and_back() {
    let mut rng = StdRng::seed_from_u64(0x7032);
    let keys: Vec<[u8; 72]> = (0..3).map(|_| random_km(&mut rng)).collect();
    let mut cc_out = OutboundClientCrypt::new();
    let mut cc_in = InboundClientCrypt::new();
    let mut relays: Vec<RelayCrypto<Tor1>> = Vec::new();
    for k in &keys {
        cc_out.add_layer_from_pair(ArtiTor1::initialize(&arti_seed(k)).unwrap());
        cc_in.add_layer_from_pair(ArtiTor1::initialize(&arti_seed(k)).unwrap());
        relays.push(RelayCrypto::new(k));
    }
    for i in 0..300 {
        let hop = rng.gen_range(0..3u8);
        let plain = random_body(&mut rng);
        let mut a = arti_body(&plain);
        let atag = cc_out.encrypt(CMD, &mut a, hop.into()).unwrap();
        let mut body = ours(&a);
        for (r, relay) in relays.iter_mut().enumerate() {
            match relay.decrypt_forward(&mut body) {
                None => assert!(r < usize::from(hop), "cell {i} unrecognised at {r}"),
                Some(tag) => {
                    assert_eq!(r, usize::from(hop), "cell {i}");
                    assert_eq!(tag.as_bytes().as_slice(), atag.as_ref());
                    break;
                }
            }
        }
        assert_eq!(body[9..], plain[9..]);

        let plain = random_body(&mut rng);
        let mut body = plain;
        let tag = relays[usize::from(hop)].originate_backward(&mut body);
        for r in (0..usize::from(hop)).rev() {
            relays[r].encrypt_backward(&mut body);
        }
        let mut a = arti_body(&body);
        let (h, atag) = cc_in.decrypt(CMD, &mut a).unwrap();
        assert_eq!(u8::from(h), hop);
        assert_eq!(atag.as_ref(), tag.as_bytes().as_slice());
        assert_eq!(ours(&a)[9..], plain[9..]);
    }
}

#[test]
fn hs_virtual_hop_both_ends_against_arti() {
    let mut rng = StdRng::seed_from_u64(0x7033);
    for _ in 0..4 {
        let km: [u8; 128] = random_km(&mut rng);
        // Our client ↔ Arti's service (relay layers).
        let mut client = OriginCrypto::new();
        client.push(OriginLayer::hs(&km, HsRole::Client));
        let (mut s_in, mut s_out, _) = ArtiHs::initialize(&arti_seed(&km))
            .unwrap()
            .split_relay_layer();
        // Our service ↔ Arti's client.
        let mut service = OriginCrypto::new();
        service.push(OriginLayer::hs(&km, HsRole::Service));
        let (mut c_out, mut c_in, _) = ArtiHs::initialize(&arti_seed(&km))
            .unwrap()
            .split_client_layer();
        // And our relay-role state against Arti's client too.
        let mut relay_role = RelayCrypto::<HsV3>::new(&km);
        let (mut c2_out, mut c2_in, _) = ArtiHs::initialize(&arti_seed(&km))
            .unwrap()
            .split_client_layer();

        for _ in 0..50 {
            let plain = random_body(&mut rng);
            // client → service
            let mut b = plain;
            let tag = client.encrypt_forward(&mut b, 0).unwrap();
            let mut a = arti_body(&b);
            let atag = s_in.decrypt_outbound(CMD, &mut a).unwrap();
            assert_eq!(atag.as_ref(), tag.as_bytes().as_slice());
            assert_eq!(ours(&a)[9..], plain[9..]);

            let mut a = arti_body(&plain);
            let atag = c_out.originate_for(CMD, &mut a);
            let mut b = ours(&a);
            let rec = service.decrypt_backward(&mut b).unwrap();
            assert_eq!(rec.tag.as_bytes().as_slice(), atag.as_ref());
            assert_eq!(b[9..], plain[9..]);

            let mut a = arti_body(&plain);
            let atag = c2_out.originate_for(CMD, &mut a);
            let mut b = ours(&a);
            let tag = relay_role.decrypt_forward(&mut b).unwrap();
            assert_eq!(tag.as_bytes().as_slice(), atag.as_ref());

            // service → client
            let plain = random_body(&mut rng);
            let mut a = arti_body(&plain);
            let atag = s_out.originate(CMD, &mut a);
            let mut b = ours(&a);
            let rec = client.decrypt_backward(&mut b).unwrap();
            assert_eq!(rec.tag.as_bytes().as_slice(), atag.as_ref());
            assert_eq!(b[9..], plain[9..]);

            let mut b = plain;
            let tag = service.encrypt_forward(&mut b, 0).unwrap();
            let mut a = arti_body(&b);
            let atag = c_in.decrypt_inbound(CMD, &mut a).unwrap();
            assert_eq!(atag.as_ref(), tag.as_bytes().as_slice());

            let mut b = plain;
            let tag = relay_role.originate_backward(&mut b);
            let mut a = arti_body(&b);
            let atag = c2_in.decrypt_inbound(CMD, &mut a).unwrap();
            assert_eq!(atag.as_ref(), tag.as_bytes().as_slice());
        }
    }
}

// ---------------------------------------------------------------------------------------
// Vector files made with Arti.

fn hex_lines(key: &str, bytes: &[u8]) -> String {
    let h = hex::encode(bytes);
    let mut out = format!("{key}: ");
    for (i, chunk) in h.as_bytes().chunks(96).enumerate() {
        if i > 0 {
            out.push_str("\n  ");
        }
        out.push_str(std::str::from_utf8(chunk).unwrap());
    }
    out.push('\n');
    out
}

fn shake(seed: &[u8], n: usize) -> Vec<u8> {
    let mut xof = sha3::Shake256::default();
    xof.update(seed);
    let mut out = vec![0u8; n];
    xof.finalize_xof().read(&mut out);
    out
}

const HS_KEY_SEED: &[u8] = b"oniongate hs relay crypto vector: key material";
const HS_CELL_SEED: &[u8] = b"oniongate hs relay crypto vector: cell bodies";
const HS_CELLS_PER_DIRECTION: usize = 10;

/// The HS vector file, as Arti computes it.
fn hs_vector_text() -> String {
    let km = shake(HS_KEY_SEED, 128);
    let (mut fwd, _, _) = ArtiHs::initialize(&arti_seed(&km))
        .unwrap()
        .split_client_layer();
    let (_, mut back, _) = ArtiHs::initialize(&arti_seed(&km))
        .unwrap()
        .split_relay_layer();
    let data = shake(HS_CELL_SEED, 2 * HS_CELLS_PER_DIRECTION * 498);
    let mut chunks = data.chunks(498);
    let mut out = String::from(
        "# Source: generated with Arti (crate tor-proto 0.47.0, feature `bench`), by
#   tests/arti_relay_crypto.rs in this repository (fn hs_vector_text; rewrite with
#   ONIONGATE_WRITE_VECTORS=1 cargo test --test arti_relay_crypto -- --ignored write_vector_files).
# No official static vector for the onion-service relay crypto is known (C tor's
#   test_relaycrypt.c and test_hs_*.c, and Arti's tests, only round-trip it), so this is a
#   cross-implementation vector, not a C tor one.
# Algorithm: tor1 relay crypto instantiated with AES-256-CTR (zero IV) and SHA3-256, as for
#   the rendezvous virtual hop (rend-spec-v3 §4.2). Arti type:
#   tor1::CryptStatePair<tor_llcrypto::cipher::aes::Aes256Ctr, tor_llcrypto::d::Sha3_256>,
#   seeded with key_material followed by 20 zero bytes (Arti's circuit-binding key, unused
#   by the cell crypto).
# key_material = the first 128 bytes of SHAKE256(\"oniongate hs relay crypto vector: key material\"),
#   split Df[32] | Db[32] | Kf[32] | Kb[32].
# Cells: plaintext bodies are DATA cells: 02 | 0000 (recognized) | 0001 (stream) |
#   00000000 (digest) | 01f2 (length 498) | 498 bytes taken in order from
#   SHAKE256(\"oniongate hs relay crypto vector: cell bodies\"): forward cells first, then
#   backward ones. Each direction's cells are processed in order (continuous keystream and
#   running digest); the two directions are independent.
# direction forward = client to service: Arti's client layer `originate_for` (Df/Kf).
# direction backward = service to client: Arti's relay layer `originate` (Db/Kb), which is
#   what Arti's onion service uses (same as C tor's reverse=1 service-side hop).
# ciphertext = the body on the wire; tag = the SENDME v1 tag Arti returned (first 20 bytes
#   of the SHA3-256 running digest).

name: setup
",
    );
    out.push_str(&hex_lines("key_material", &km));
    out.push('\n');
    for (dir, n) in [("forward", 0), ("backward", 1)] {
        for i in 0..HS_CELLS_PER_DIRECTION {
            let mut plain = [0u8; BODY_LEN];
            plain[0] = 2;
            plain[4] = 1;
            plain[9] = 1;
            plain[10] = 242;
            plain[11..].copy_from_slice(chunks.next().unwrap());
            let mut a = arti_body(&plain);
            let tag = if n == 0 {
                fwd.originate_for(CMD, &mut a)
            } else {
                back.originate(CMD, &mut a)
            };
            out.push_str(&format!("name: {dir} {i}\ndirection: {dir}\n"));
            out.push_str(&hex_lines("plaintext", &plain));
            out.push_str(&hex_lines("ciphertext", a.as_ref()));
            out.push_str(&hex_lines("tag", tag.as_ref()));
            out.push('\n');
        }
    }
    out
}

/// The tor1 backward vector file, as Arti computes it (keys and cells as in
/// `tor1_cell_crypt.txt`).
fn tor1_backward_vector_text() -> String {
    let text = std::fs::read_to_string(vector_path("tor1_cell_crypt.txt")).unwrap();
    // Reuse the setup record of the C tor file verbatim.
    let setup_start = text.find("name: setup").unwrap();
    let setup_end = setup_start + text[setup_start..].find("\n\n").unwrap();
    let setup = &text[setup_start..setup_end];
    let field = |k: &str| -> Vec<u8> {
        let start = setup.find(&format!("\n{k}: ")).unwrap() + k.len() + 3;
        let mut h = String::new();
        for (i, line) in setup[start..].lines().enumerate() {
            if i > 0 && !line.starts_with(' ') {
                break;
            }
            h.push_str(line.trim());
        }
        hex::decode(h).unwrap()
    };
    let keys = [field("k1"), field("k2"), field("k3")];
    let seed = field("shake_seed");
    let mut back: Vec<_> = keys
        .iter()
        .map(|k| {
            ArtiTor1::initialize(&arti_seed(k))
                .unwrap()
                .split_relay_layer()
                .1
        })
        .collect();
    let listed = [0usize, 1, 2, 10, 20, 30, 40, 50];
    let mut out = String::from(
        "# Source: generated with Arti (crate tor-proto 0.47.0, feature `bench`), by
#   tests/arti_relay_crypto.rs in this repository (fn tor1_backward_vector_text; rewrite with
#   ONIONGATE_WRITE_VECTORS=1 cargo test --test arti_relay_crypto -- --ignored write_vector_files).
# The backward companion of tor1_cell_crypt.txt (whose C tor ciphertexts are forward only):
#   same three hops' key material (Df | Db | Kf | Kb, first 72 bytes of Arti's/C tor's test
#   strings), same 51 SHAKE256-generated DATA bodies (see that file's header). Here each
#   cell is originated by hop 3 towards the client: Arti's tor1 relay layer `originate`
#   (Db/Kb of hop 3), then `encrypt_inbound` by hop 2 and hop 1 (their Kb). The records
#   give the wire body and the SENDME tag (SHA-1 running digest after the cell) for some
#   cells; every cell must be processed in order.
# Arti type: tor1::CryptStatePair<tor_llcrypto::cipher::aes::Aes128Ctr, tor_llcrypto::d::Sha1>,
#   seeded with the key material followed by 20 zero bytes (circuit binding, unused).

",
    );
    out.push_str(setup);
    out.push_str("\n\n");
    let mut xof = sha3::Shake256::default();
    xof.update(&seed);
    let mut reader = xof.finalize_xof();
    for n in 0..51 {
        let mut plain = [0u8; BODY_LEN];
        plain[0] = 2;
        plain[4] = 1;
        plain[9] = 1;
        plain[10] = 242;
        reader.read(&mut plain[11..]);
        let mut a = arti_body(&plain);
        let tag = back[2].originate(CMD, &mut a);
        back[1].encrypt_inbound(CMD, &mut a);
        back[0].encrypt_inbound(CMD, &mut a);
        if listed.contains(&n) {
            out.push_str(&format!("name: cell {n}\ncell: {n}\n"));
            out.push_str(&hex_lines("ciphertext", a.as_ref()));
            out.push_str(&hex_lines("tag", tag.as_ref()));
            out.push('\n');
        }
    }
    out
}

fn vector_path(name: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("vectors")
        .join(name)
}

#[test]
fn stored_vectors_are_what_arti_produces() {
    for (name, text) in [
        ("hs_relay_crypto_arti.txt", hs_vector_text()),
        ("tor1_backward_arti.txt", tor1_backward_vector_text()),
    ] {
        let stored = std::fs::read_to_string(vector_path(name)).unwrap();
        assert!(stored == text, "{name} differs from Arti's output");
    }
}

#[test]
#[ignore = "rewrites tests/vectors/*_arti.txt; run with ONIONGATE_WRITE_VECTORS=1"]
fn write_vector_files() {
    if std::env::var_os("ONIONGATE_WRITE_VECTORS").is_none() {
        eprintln!("set ONIONGATE_WRITE_VECTORS=1 to rewrite the files");
        return;
    }
    std::fs::write(vector_path("hs_relay_crypto_arti.txt"), hs_vector_text()).unwrap();
    std::fs::write(
        vector_path("tor1_backward_arti.txt"),
        tor1_backward_vector_text(),
    )
    .unwrap();
}
