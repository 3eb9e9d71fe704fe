//! Relay-cell crypto against stored vectors, byte for byte, in both directions and both
//! roles (origin and relay):
//!
//! - `tor1_cell_crypt.txt`: C tor's ciphertexts (via Arti's `testdata/cell_crypt.rs`) for a
//!   client sending to hop 3 of a 3-hop circuit. Checked as origin (our encryption equals
//!   them) and as relays (hops 1 and 2 pass them on, hop 3 recognises them with the right
//!   plaintext and tag). The backward direction is checked against the same C tor bytes by
//!   keying every hop with its material's directions swapped (`Db | Df | Kb | Kf`, C tor's
//!   `reverse`): hop 3 then originates with the Df/Kf the vector used and hops 2, 1 add
//!   the Kf layers, so the backward wire bytes must equal the vector.
//! - `tor1_backward_arti.txt`: backward cells (hop 3 → client) produced by Arti's relay
//!   layers with the unswapped keys.
//! - `hs_relay_crypto_arti.txt`: the onion-service virtual hop (AES-256-CTR, SHA3-256),
//!   generated with Arti; checked as client and as service in both directions.

mod common;

use digest::{ExtendableOutput, Update, XofReader};
use oniongate::crypto::tor1::{
    HsRole, OriginCrypto, OriginLayer, RelayCellBody, RelayCrypto, Tor1, Tor1RelayCrypto, BODY_LEN,
};

/// The three hops' key material and the SHAKE seed of `tor1_cell_crypt.txt`.
struct Tor1Setup {
    keys: [[u8; 72]; 3],
    seed: Vec<u8>,
    n_cells: usize,
}

/// A listed cell: its number, its wire body, and (Arti files only) its SENDME tag.
type ListedCell = (usize, Vec<u8>, Option<[u8; 20]>);

fn tor1_setup(file: &str) -> (Tor1Setup, Vec<ListedCell>) {
    let recs = common::load(file);
    let setup = &recs[0];
    assert_eq!(setup.str("name"), "setup", "{}", setup.at());
    let keys = [
        setup.hex_array::<72>("k1"),
        setup.hex_array::<72>("k2"),
        setup.hex_array::<72>("k3"),
    ];
    let s = Tor1Setup {
        keys,
        seed: setup.hex("shake_seed"),
        n_cells: setup.str("n_cells").parse().expect("n_cells"),
    };
    assert_eq!(setup.str("target_hop"), "3");
    let cells = recs[1..]
        .iter()
        .map(|r| {
            let n: usize = r.str("cell").parse().expect("cell number");
            let ct = r.hex("ciphertext");
            assert_eq!(ct.len(), BODY_LEN, "{}", r.at());
            let tag = r.get("tag").map(|_| r.hex_array::<20>("tag"));
            (n, ct, tag)
        })
        .collect();
    (s, cells)
}

/// The plaintext bodies of the tor1 vectors, in order (see the file header).
fn tor1_plaintexts(seed: &[u8], n: usize) -> Vec<RelayCellBody> {
    let mut xof = sha3::Shake256::default();
    xof.update(seed);
    let mut reader = xof.finalize_xof();
    (0..n)
        .map(|_| {
            let mut b = [0u8; BODY_LEN];
            b[0] = 2;
            b[4] = 1;
            b[9] = 1;
            b[10] = 242;
            reader.read(&mut b[11..]);
            b
        })
        .collect()
}

fn swapped(km: &[u8; 72]) -> [u8; 72] {
    let mut out = [0u8; 72];
    out[..20].copy_from_slice(&km[20..40]);
    out[20..40].copy_from_slice(&km[..20]);
    out[40..56].copy_from_slice(&km[56..72]);
    out[56..72].copy_from_slice(&km[40..56]);
    out
}

/// Asserts that a recognised body equals the plaintext outside the digest field, and that
/// the digest field holds the tag's first 4 bytes.
fn assert_plain(got: &RelayCellBody, plain: &RelayCellBody, tag: &[u8; 20], what: &str) {
    assert_eq!(got[..5], plain[..5], "{what}: header");
    assert_eq!(got[9..], plain[9..], "{what}: data");
    assert_eq!(got[5..9], tag[..4], "{what}: digest field");
}

#[test]
fn tor1_forward_origin_matches_c_tor() {
    let (s, cells) = tor1_setup("tor1_cell_crypt.txt");
    let plains = tor1_plaintexts(&s.seed, s.n_cells);
    let mut origin = OriginCrypto::new();
    for k in &s.keys {
        origin.push(OriginLayer::tor1(k));
    }
    let mut checked = 0;
    for (n, plain) in plains.iter().enumerate() {
        let mut body = *plain;
        origin.encrypt_forward(&mut body, 2).expect("hop 3 exists");
        if let Some((_, ct, _)) = cells.iter().find(|(c, _, _)| *c == n) {
            assert_eq!(&body[..], &ct[..], "cell {n}");
            checked += 1;
        }
    }
    assert_eq!(checked, cells.len());
    assert_eq!(checked, 8);
}

#[test]
fn tor1_forward_relays_accept_c_tor_cells() {
    let (s, cells) = tor1_setup("tor1_cell_crypt.txt");
    let plains = tor1_plaintexts(&s.seed, s.n_cells);
    // Our origin supplies the wire bytes of the cells the vector does not list.
    let mut origin = OriginCrypto::new();
    for k in &s.keys {
        origin.push(OriginLayer::tor1(k));
    }
    let mut relays: Vec<Tor1RelayCrypto> = s.keys.iter().map(RelayCrypto::new).collect();
    for (n, plain) in plains.iter().enumerate() {
        let mut body = *plain;
        let sent_tag = origin.encrypt_forward(&mut body, 2).expect("hop 3");
        if let Some((_, ct, _)) = cells.iter().find(|(c, _, _)| *c == n) {
            body.copy_from_slice(ct);
        }
        assert_eq!(
            relays[0].decrypt_forward(&mut body),
            None,
            "cell {n} at hop 1"
        );
        assert_eq!(
            relays[1].decrypt_forward(&mut body),
            None,
            "cell {n} at hop 2"
        );
        let tag = relays[2]
            .decrypt_forward(&mut body)
            .unwrap_or_else(|| panic!("cell {n} not recognised at hop 3"));
        assert_eq!(tag, sent_tag);
        assert_plain(&body, plain, tag.as_bytes(), &format!("cell {n}"));
    }
}

#[test]
fn tor1_backward_via_reversed_keys_matches_c_tor() {
    let (s, cells) = tor1_setup("tor1_cell_crypt.txt");
    let plains = tor1_plaintexts(&s.seed, s.n_cells);
    let rev: Vec<[u8; 72]> = s.keys.iter().map(swapped).collect();
    let mut relays: Vec<Tor1RelayCrypto> = rev.iter().map(RelayCrypto::new).collect();
    let mut origin = OriginCrypto::new();
    for k in &rev {
        origin.push(OriginLayer::tor1(k));
    }
    let mut checked = 0;
    for (n, plain) in plains.iter().enumerate() {
        let mut body = *plain;
        let tag = relays[2].originate_backward(&mut body);
        relays[1].encrypt_backward(&mut body);
        relays[0].encrypt_backward(&mut body);
        if let Some((_, ct, _)) = cells.iter().find(|(c, _, _)| *c == n) {
            assert_eq!(&body[..], &ct[..], "cell {n}");
            checked += 1;
        }
        let got = origin.decrypt_backward(&mut body).expect("recognised");
        assert_eq!(got.hop, 2, "cell {n}");
        assert_eq!(got.tag, tag);
        assert_plain(&body, plain, tag.as_bytes(), &format!("cell {n}"));
    }
    assert_eq!(checked, 8);
}

#[test]
fn tor1_backward_matches_arti() {
    let (s, cells) = tor1_setup("tor1_backward_arti.txt");
    let plains = tor1_plaintexts(&s.seed, s.n_cells);
    let mut relays: Vec<Tor1RelayCrypto> = s.keys.iter().map(RelayCrypto::new).collect();
    let mut origin = OriginCrypto::new();
    for k in &s.keys {
        origin.push(OriginLayer::tor1(k));
    }
    let mut checked = 0;
    for (n, plain) in plains.iter().enumerate() {
        let mut body = *plain;
        let tag = relays[2].originate_backward(&mut body);
        relays[1].encrypt_backward(&mut body);
        relays[0].encrypt_backward(&mut body);
        let listed = cells.iter().find(|(c, _, _)| *c == n);
        if let Some((_, ct, want_tag)) = listed {
            assert_eq!(&body[..], &ct[..], "cell {n}");
            assert_eq!(Some(*tag.as_bytes()), *want_tag, "cell {n} tag");
            checked += 1;
        }
        let got = origin.decrypt_backward(&mut body).expect("recognised");
        assert_eq!(got.hop, 2);
        assert_eq!(got.tag, tag);
        assert_plain(&body, plain, tag.as_bytes(), &format!("cell {n}"));
    }
    assert_eq!(checked, cells.len());
}

/// One direction's records of the HS vector file.
struct HsCell {
    at: String,
    plain: RelayCellBody,
    cipher: RelayCellBody,
    tag: [u8; 20],
}

fn hs_vectors() -> ([u8; 128], Vec<HsCell>, Vec<HsCell>) {
    let recs = common::load("hs_relay_crypto_arti.txt");
    assert_eq!(recs[0].str("name"), "setup");
    let km = recs[0].hex_array::<128>("key_material");
    let (mut fwd, mut back) = (Vec::new(), Vec::new());
    for r in &recs[1..] {
        let cell = HsCell {
            at: r.at(),
            plain: r.hex_array::<BODY_LEN>("plaintext"),
            cipher: r.hex_array::<BODY_LEN>("ciphertext"),
            tag: r.hex_array::<20>("tag"),
        };
        match r.str("direction") {
            "forward" => fwd.push(cell),
            "backward" => back.push(cell),
            d => panic!("{}: direction {d:?}", r.at()),
        }
    }
    assert!(fwd.len() >= 8 && back.len() >= 8);
    (km, fwd, back)
}

#[test]
fn hs_virtual_hop_matches_arti() {
    let (km, fwd, back) = hs_vectors();
    // Client side (sends forward, receives backward) and service side (the reverse).
    let mut client = OriginCrypto::new();
    client.push(OriginLayer::hs(&km, HsRole::Client));
    let mut service = OriginCrypto::new();
    service.push(OriginLayer::hs(&km, HsRole::Service));
    // The service side is also what a relay-role state computes for the same keys.
    let mut as_relay = RelayCrypto::<oniongate::crypto::tor1::HsV3>::new(&km);

    for c in &fwd {
        let mut body = c.plain;
        let tag = client.encrypt_forward(&mut body, 0).expect("hop");
        assert_eq!(body, c.cipher, "{}: client encryption", c.at);
        assert_eq!(tag.as_bytes(), &c.tag, "{}: client tag", c.at);
        let mut rx = c.cipher;
        let got = service
            .decrypt_backward(&mut rx)
            .expect("service recognises");
        assert_eq!((got.hop, got.tag.as_bytes()), (0, &c.tag), "{}", c.at);
        assert_plain(&rx, &c.plain, &c.tag, &c.at);
        let mut rx = c.cipher;
        let t = as_relay
            .decrypt_forward(&mut rx)
            .expect("relay role recognises");
        assert_eq!(t.as_bytes(), &c.tag, "{}", c.at);
    }
    for c in &back {
        let mut body = c.plain;
        let tag = service.encrypt_forward(&mut body, 0).expect("hop");
        assert_eq!(body, c.cipher, "{}: service encryption", c.at);
        assert_eq!(tag.as_bytes(), &c.tag, "{}: service tag", c.at);
        let mut rx = c.cipher;
        let got = client.decrypt_backward(&mut rx).expect("client recognises");
        assert_eq!((got.hop, got.tag.as_bytes()), (0, &c.tag), "{}", c.at);
        assert_plain(&rx, &c.plain, &c.tag, &c.at);
        let mut tx = c.plain;
        let t = as_relay.originate_backward(&mut tx);
        assert_eq!(tx, c.cipher, "{}: relay-role origination", c.at);
        assert_eq!(t.as_bytes(), &c.tag);
    }
}

#[test]
fn tampered_vector_cell_is_refused() {
    let (s, cells) = tor1_setup("tor1_cell_crypt.txt");
    let (_, ct, _) = &cells[0];
    assert_eq!(cells[0].0, 0);
    for pos in [0usize, 3, 5, 8, 100, BODY_LEN - 1] {
        let mut relays: Vec<RelayCrypto<Tor1>> = s.keys.iter().map(RelayCrypto::new).collect();
        let mut body: RelayCellBody = ct.as_slice().try_into().expect("509");
        body[pos] ^= 0x01;
        assert_eq!(relays[0].decrypt_forward(&mut body), None);
        assert_eq!(relays[1].decrypt_forward(&mut body), None);
        assert_eq!(relays[2].decrypt_forward(&mut body), None, "flip at {pos}");
    }
}
