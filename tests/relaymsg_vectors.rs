//! Relay-message and relay-cell test vectors: `tests/vectors/relaymsg.txt` (message bodies),
//! `tests/vectors/relaymsg_cells.txt` (whole 509-byte v0 bodies) and
//! `tests/vectors/linkspec.txt` (link specifiers). Sources are named in each file's header.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use bytes::Bytes;
use oniongate::linkspec::{self, LinkSpec};
use oniongate::relaycell::{
    decode_v0, encode_v0, AnyRelayMsg, RelayCellBody, RelayCmd, RelayMsgError, RELAY_BODY_LEN,
};
use oniongate::wire::{Readable, Reader, Writeable};

/// With `RELAYMSG_DUMP=1`, print each record's decoded form instead of only checking it
/// (used once to fill in `debug:` keys, which were then reviewed by hand).
fn dumping() -> bool {
    std::env::var_os("RELAYMSG_DUMP").is_some()
}

#[test]
fn relay_message_vectors() {
    let recs = common::load("relaymsg.txt");
    let mut n_ok = 0;
    let mut n_err = 0;
    for r in &recs {
        let cmd = RelayCmd(r.str("cmd").parse().expect("cmd"));
        let body = r.hex("body");
        let res = AnyRelayMsg::decode(cmd, &Bytes::from(body.clone()));
        if let Some(e) = r.get("error") {
            let err = res.expect_err(&format!("{}: {} should fail", r.at(), r.str("name")));
            assert_eq!(e, "malformed", "{}", r.at());
            assert!(err.is_malformed(), "{}: {err:?}", r.at());
            n_err += 1;
            continue;
        }
        let msg = res.unwrap_or_else(|e| panic!("{}: {}: {e}", r.at(), r.str("name")));
        assert_eq!(msg.cmd(), cmd, "{}", r.at());
        if dumping() {
            println!("DUMP\t{}\t{}\t{:?}", r.file, r.str("name"), msg);
        } else {
            let want = r.str("debug");
            assert_eq!(format!("{msg:?}"), want, "{}: typed fields", r.at());
        }
        let enc = msg.encode_to_vec().unwrap();
        let want = match r.get("reencoded") {
            Some(_) => r.hex("reencoded"),
            None => body.clone(),
        };
        assert_eq!(
            hex::encode(&enc),
            hex::encode(&want),
            "{}: re-encoding",
            r.at()
        );
        // The canonical encoding decodes to the same message.
        assert_eq!(
            AnyRelayMsg::decode_slice(cmd, &enc).unwrap(),
            msg,
            "{}",
            r.at()
        );
        n_ok += 1;
    }
    assert!(n_ok > 100 && n_err > 40, "{n_ok} ok, {n_err} errors");
}

/// An RNG that fills with 0xf0, as Arti's `test_relaycell.rs` uses, so padding is known.
struct F0Rng;
impl rand_core::RngCore for F0Rng {
    fn next_u32(&mut self) -> u32 {
        0xf0f0_f0f0
    }
    fn next_u64(&mut self) -> u64 {
        0xf0f0_f0f0_f0f0_f0f0
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        dest.fill(0xf0);
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        dest.fill(0xf0);
        Ok(())
    }
}

fn cell_body(r: &common::Record, key: &str) -> RelayCellBody {
    let mut v = r.hex(key);
    // Arti's vectors give the start of a body; the rest is 0xf0 padding.
    assert!(v.len() <= RELAY_BODY_LEN, "{}", r.at());
    v.resize(RELAY_BODY_LEN, 0xf0);
    RelayCellBody(v.try_into().unwrap())
}

#[test]
fn relay_cell_vectors() {
    for r in common::load("relaymsg_cells.txt") {
        let body = cell_body(&r, "body");
        let res = decode_v0(&body);
        if let Some(e) = r.get("error") {
            let err = res.expect_err(&r.at());
            let ok = match e {
                "bad-length" => matches!(err, RelayMsgError::BadLength { .. }),
                "zero-stream-id" => matches!(err, RelayMsgError::ZeroStreamId { .. }),
                "unexpected-stream-id" => matches!(err, RelayMsgError::UnexpectedStreamId { .. }),
                "malformed" => matches!(err, RelayMsgError::Malformed { .. }),
                _ => panic!("{}: unknown error kind {e}", r.at()),
            };
            assert!(ok, "{}: got {err:?}, want {e}", r.at());
            assert!(err.is_malformed() || err.is_protocol_violation());
            continue;
        }
        let (sid, msg) = res.unwrap_or_else(|e| panic!("{}: {e}", r.at()));
        let want_sid = u16::from_str_radix(r.str("stream_id"), 16).unwrap();
        assert_eq!(sid, want_sid, "{}", r.at());
        if dumping() {
            println!("DUMP\t{}\t{}\t{:?}", r.file, r.str("name"), msg);
        } else {
            assert_eq!(format!("{msg:?}"), r.str("debug"), "{}", r.at());
        }
        // Our encoding: recognized and digest zero, 4 zero bytes, then the RNG's bytes.
        let enc = encode_v0(sid, &msg, &mut F0Rng).unwrap();
        let want = cell_body(&r, "encoded");
        assert_eq!(
            hex::encode(enc.0),
            hex::encode(want.0),
            "{}: encoding",
            r.at()
        );
        assert_eq!(decode_v0(&enc).unwrap(), (sid, msg), "{}", r.at());
    }
}

#[test]
fn linkspec_vectors() {
    for r in common::load("linkspec.txt") {
        let bytes = r.hex("spec");
        let is_list = r.get("list").is_some();
        let decoded: Result<Vec<LinkSpec>, _> = if is_list {
            let mut rd = Reader::new(&bytes);
            linkspec::take_list(&mut rd).and_then(|l| rd.expect_exhausted("list").map(|_| l))
        } else {
            LinkSpec::decode_exact(&bytes, "link specifier").map(|s| vec![s])
        };
        if r.get("error").is_some() {
            assert!(decoded.is_err(), "{}: should fail", r.at());
            continue;
        }
        let specs = decoded.unwrap_or_else(|e| panic!("{}: {e}", r.at()));
        if dumping() {
            println!("DUMP\t{}\t{}\t{:?}", r.file, r.str("name"), specs);
            continue;
        }
        assert_eq!(format!("{specs:?}"), r.str("debug"), "{}", r.at());
        let enc = if is_list {
            let mut w = Vec::new();
            linkspec::write_list(&mut w, &specs).unwrap();
            w
        } else {
            specs[0].to_vec().unwrap()
        };
        assert_eq!(hex::encode(enc), hex::encode(&bytes), "{}", r.at());
    }
}
