//! Channel-message and channel-cell vectors (`tests/vectors/chanmsg.txt`,
//! `tests/vectors/chanmsg_cells.txt`): decode, check the typed fields the vector names,
//! re-encode, compare bytes.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::IpAddr;

use bytes::BytesMut;
use common::Record;
use oniongate::cell::{
    AnyChanMsg, CellError, ChanCmd, ChannelCodec, CircId, PaddingCommand, CELL_BODY_LEN,
    FIXED_CELL_LEN,
};

fn num(r: &Record, k: &str) -> u64 {
    r.str(k)
        .parse()
        .unwrap_or_else(|e| panic!("{}: {k}: {e}", r.at()))
}

fn list<T: std::str::FromStr>(r: &Record, k: &str) -> Vec<T>
where
    T::Err: std::fmt::Debug,
{
    r.str(k)
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect()
}

fn pad_fixed(cmd: ChanCmd, mut v: Vec<u8>) -> Vec<u8> {
    if !cmd.is_var_len() {
        assert!(v.len() <= CELL_BODY_LEN);
        v.resize(CELL_BODY_LEN, 0);
    }
    v
}

/// Checks the typed keys present in `r` against `m`; returns the keys it checked.
fn check_fields(r: &Record, m: &AnyChanMsg) -> Vec<&'static str> {
    let at = r.at();
    let mut used = vec![];
    let mut has = |k: &'static str| {
        let p = r.get(k).is_some();
        if p {
            used.push(k);
        }
        p
    };
    match m {
        AnyChanMsg::Versions(v) => {
            if has("versions") {
                assert_eq!(v.versions, list::<u16>(r, "versions"), "{at}");
            }
        }
        AnyChanMsg::Certs(c) => {
            if has("cert_types") {
                let t: Vec<u8> = c.certs.iter().map(|c| c.cert_type.0).collect();
                assert_eq!(t, list::<u8>(r, "cert_types"), "{at}");
            }
            if has("cert_lens") {
                let l: Vec<usize> = c.certs.iter().map(|c| c.body.len()).collect();
                assert_eq!(l, list::<usize>(r, "cert_lens"), "{at}");
            }
        }
        AnyChanMsg::AuthChallenge(a) => {
            if has("challenge") {
                assert_eq!(a.challenge.to_vec(), r.hex("challenge"), "{at}");
            }
            if has("methods") {
                assert_eq!(a.methods, list::<u16>(r, "methods"), "{at}");
            }
        }
        AnyChanMsg::Authenticate(a) => {
            if has("auth_type") {
                assert_eq!(u64::from(a.auth_type), num(r, "auth_type"), "{at}");
            }
            if has("auth") {
                assert_eq!(a.auth, r.hex("auth"), "{at}");
            }
        }
        AnyChanMsg::Netinfo(n) => {
            if has("timestamp") {
                assert_eq!(u64::from(n.timestamp), num(r, "timestamp"), "{at}");
            }
            if has("other_addr") {
                let a: IpAddr = r.str("other_addr").parse().unwrap();
                assert_eq!(n.other_addr, a, "{at}");
            }
            if has("my_addrs") {
                assert_eq!(n.my_addrs, list::<IpAddr>(r, "my_addrs"), "{at}");
            }
        }
        AnyChanMsg::Create2(c) => {
            if has("htype") {
                assert_eq!(u64::from(c.htype.0), num(r, "htype"), "{at}");
            }
            if has("hdata") {
                assert_eq!(c.hdata, r.hex("hdata"), "{at}");
            }
        }
        AnyChanMsg::Created2(c) => {
            if has("hdata") {
                assert_eq!(c.hdata, r.hex("hdata"), "{at}");
            }
        }
        AnyChanMsg::Create(c) => {
            if has("onionskin") {
                assert_eq!(c.onionskin.to_vec(), r.hex("onionskin"), "{at}");
            }
        }
        AnyChanMsg::Created(c) => {
            if has("reply") {
                assert_eq!(c.reply.to_vec(), r.hex("reply"), "{at}");
            }
        }
        AnyChanMsg::CreateFast(c) => {
            if has("x") {
                assert_eq!(c.x.to_vec(), r.hex("x"), "{at}");
            }
        }
        AnyChanMsg::CreatedFast(c) => {
            if has("y") {
                assert_eq!(c.y.to_vec(), r.hex("y"), "{at}");
            }
            if has("kh") {
                assert_eq!(c.kh.to_vec(), r.hex("kh"), "{at}");
            }
        }
        AnyChanMsg::Destroy(d) => {
            if has("reason") {
                assert_eq!(u64::from(d.reason.0), num(r, "reason"), "{at}");
            }
        }
        AnyChanMsg::Relay(x) | AnyChanMsg::RelayEarly(oniongate::cell::RelayEarly(x)) => {
            assert_eq!(x.body().len(), CELL_BODY_LEN);
            if has("relay_body") {
                let want = r.hex("relay_body");
                assert_eq!(&x.body()[..want.len()], &want[..], "{at}");
                assert!(x.body()[want.len()..].iter().all(|&b| b == 0), "{at}");
            }
        }
        AnyChanMsg::Vpadding(v) => {
            if has("vpadding_len") {
                assert_eq!(u64::from(v.len), num(r, "vpadding_len"), "{at}");
            }
        }
        AnyChanMsg::PaddingNegotiate(p) => {
            if has("pn_command") {
                let c = match r.str("pn_command") {
                    "start" => PaddingCommand::Start,
                    "stop" => PaddingCommand::Stop,
                    o => panic!("{at}: pn_command {o}"),
                };
                assert_eq!(p.command, c, "{at}");
            }
            if has("ito_low_ms") {
                assert_eq!(u64::from(p.ito_low_ms), num(r, "ito_low_ms"), "{at}");
            }
            if has("ito_high_ms") {
                assert_eq!(u64::from(p.ito_high_ms), num(r, "ito_high_ms"), "{at}");
            }
        }
        AnyChanMsg::Authorize(a) => {
            if has("authorize_body") {
                assert_eq!(a.body.to_vec(), r.hex("authorize_body"), "{at}");
            }
        }
        AnyChanMsg::Unrecognized(u) => {
            if has("unknown_body") {
                let want = r.hex("unknown_body");
                assert_eq!(&u.body()[..want.len()], &want[..], "{at}");
            }
        }
        AnyChanMsg::Padding(_) => {}
    }
    used
}

#[test]
fn chanmsg_body_vectors() {
    let recs = common::load("chanmsg.txt");
    let (mut ok, mut err) = (0, 0);
    for r in &recs {
        let at = format!("{} ({})", r.at(), r.str("name"));
        let _ = r.str("source");
        let cmd = ChanCmd(num(r, "cmd") as u8);
        let body = pad_fixed(cmd, r.hex("body"));
        let res = AnyChanMsg::decode_slice(cmd, &body);
        let mut known = vec!["name", "source", "cmd", "body", "expect", "reencode"];
        match r.get("expect").unwrap_or("ok") {
            "err" => {
                assert!(res.is_err(), "{at}: decoded {res:?}");
                err += 1;
                // Every key must be one we understand even for error records.
                for k in r.keys() {
                    assert!(known.contains(&k), "{at}: unexpected key {k}");
                }
                continue;
            }
            "ok" => {}
            o => panic!("{at}: expect {o}"),
        }
        let m = res.unwrap_or_else(|e| panic!("{at}: {e}"));
        assert_eq!(m.cmd(), cmd, "{at}");
        known.extend(check_fields(r, &m));
        for k in r.keys() {
            assert!(known.contains(&k), "{at}: key {k} not checked for {cmd}");
        }
        let enc = pad_fixed(cmd, m.body_to_vec().unwrap());
        let want = match r.get("reencode") {
            Some(_) => pad_fixed(cmd, r.hex("reencode")),
            None => body.clone(),
        };
        assert_eq!(hex::encode(&enc), hex::encode(&want), "{at}: re-encoding");
        // Re-decoding our own encoding gives the same message.
        assert_eq!(AnyChanMsg::decode_slice(cmd, &enc).unwrap(), m, "{at}");
        ok += 1;
    }
    eprintln!("chanmsg.txt: {ok} decoded and re-encoded, {err} refused");
    assert!(ok >= 40 && err >= 10);
}

/// Runs a framed-cell vector file; returns how many cells decoded.
fn run_cell_vectors(file: &str) -> usize {
    let recs = common::load(file);
    let mut decoded = 0;
    for r in &recs {
        let at = format!("{} ({})", r.at(), r.str("name"));
        let _ = r.str("source");
        let codec = match r.str("link") {
            "none" => ChannelCodec::unnegotiated(),
            v => ChannelCodec::new(Some(v.parse().unwrap())).unwrap(),
        };
        let mut input = r.hex("cell");
        match r.get("pad") {
            None => {}
            Some("yes") => input.resize(FIXED_CELL_LEN, 0),
            Some(b) => input.resize(FIXED_CELL_LEN, u8::from_str_radix(b, 16).unwrap()),
        }
        let mut buf = BytesMut::from(&input[..]);
        let consumed = r
            .get("consumed")
            .map(|_| num(r, "consumed") as usize)
            .unwrap_or(input.len());
        let res = codec.decode_raw(&mut buf);
        let expect = r.str("expect");
        let mut known = vec![
            "name", "source", "link", "cell", "pad", "expect", "consumed", "circ_id", "cmd",
            "reencode",
        ];
        match (expect, &res) {
            ("incomplete", Ok(None)) => {
                assert_eq!(buf.len(), input.len(), "{at}");
                continue;
            }
            ("err_circid", Err(CellError::BadCircId { .. }))
            | ("err_fixed_before_negotiation", Err(CellError::FixedCellBeforeNegotiation { .. }))
            | ("err_malformed", Err(CellError::Malformed { .. })) => {
                assert_eq!(input.len() - buf.len(), consumed, "{at}: consumed");
                continue;
            }
            ("ok", Ok(Some(_))) => {}
            _ => panic!("{at}: expected {expect}, got {res:?}"),
        }
        let (cell, raw) = res.unwrap().unwrap();
        assert_eq!(raw.len(), consumed, "{at}: consumed");
        assert_eq!(&raw[..], &input[..consumed], "{at}: raw bytes");
        assert_eq!(input.len() - buf.len(), consumed, "{at}");
        let id = u32::from_str_radix(r.str("circ_id"), 16).unwrap();
        assert_eq!(cell.circ_id, CircId(id), "{at}");
        assert_eq!(u64::from(cell.msg.cmd().0), num(r, "cmd"), "{at}");
        known.extend(check_fields(r, &cell.msg));
        for k in r.keys() {
            assert!(known.contains(&k), "{at}: key {k} not checked");
        }
        if r.get("reencode") != Some("no") {
            let enc = codec.encode_to_vec(&cell).unwrap();
            assert_eq!(
                hex::encode(&enc),
                hex::encode(&raw[..]),
                "{at}: re-encoding"
            );
        }
        decoded += 1;
    }
    decoded
}

#[test]
fn chanmsg_cell_vectors() {
    assert!(run_cell_vectors("chanmsg_cells.txt") >= 12);
}

#[test]
fn chanmsg_ctor049_captures() {
    assert_eq!(run_cell_vectors("chanmsg_ctor049.txt"), 12);
}

#[test]
fn ctor049_stream_decodes_incrementally() {
    // Everything C tor sent after VERSIONS, as one stream fed in odd-sized chunks.
    let recs = common::load("chanmsg_ctor049.txt");
    let mut stream = Vec::new();
    let mut want = Vec::new();
    for r in recs
        .iter()
        .filter(|r| r.str("name").starts_with("ctor_") && r.str("link") == "5")
    {
        let mut c = r.hex("cell");
        if r.get("pad").is_some() {
            c.resize(FIXED_CELL_LEN, 0);
        }
        stream.extend_from_slice(&c);
        want.push(num(r, "cmd"));
    }
    let codec = ChannelCodec::new(Some(5)).unwrap();
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    for chunk in stream.chunks(97) {
        buf.extend_from_slice(chunk);
        while let Some(cell) = codec.decode(&mut buf).unwrap() {
            got.push(u64::from(cell.msg.cmd().0));
        }
    }
    assert!(buf.is_empty());
    assert_eq!(got, want);
}
