//! Cross-check of our relay messages, v0 relay cells and link specifiers against Arti's
//! `tor-cell` / `tor-linkspec` 0.47 (an independent implementation; dev-dependency only).
//!
//! For random parameters of every message type we build our message and Arti's, and check:
//! both encode to the same bytes; our decoder reads Arti's bytes back to our message; Arti's
//! decoder reads our bytes, and what it sees (through its accessors) matches the parameters.
//! Whole 509-byte bodies are compared too, with an RNG that yields 0xf0 on both sides.
//! Messages we keep opaque (onion-service, conflux, UDP) are built with Arti and must survive
//! our decode/encode byte for byte.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::num::NonZero;

use bytes::Bytes;
use proptest::prelude::*;

use oniongate::cell::HandshakeType as OgHtype;
use oniongate::ids::{Ed25519Identity as OgEd, RsaIdentity as OgRsa};
use oniongate::linkspec::{LinkSpec as OgLs, LinkSpecType as OgLsType};
use oniongate::relaycell as og;
use oniongate::wire::{Readable, Writeable};

use tor_bytes::Writer as _;
use tor_cell::chancell::msg::{DestroyReason, HandshakeType as ArtiHtype};
use tor_cell::relaycell::msg as am;
use tor_cell::relaycell::{AnyRelayMsgOuter, RelayCellFormat, RelayMsg as _, StreamId};
use tor_linkspec::{LinkSpec as ArtiLs, LinkSpecType as ArtiLsType};

// ---------------------------------------------------------------- helpers

fn arti_encode(m: am::AnyRelayMsg) -> Vec<u8> {
    let mut v = Vec::new();
    m.encode_onto(&mut v).expect("arti encode");
    v
}

fn arti_decode(cmd: u8, b: &[u8]) -> am::AnyRelayMsg {
    let mut r = tor_bytes::Reader::from_slice(b);
    am::AnyRelayMsg::decode_from_reader(cmd.into(), &mut r)
        .unwrap_or_else(|e| panic!("arti cannot decode cmd {cmd} {}: {e}", hex::encode(b)))
}

fn our_decode(cmd: u8, b: &[u8]) -> og::AnyRelayMsg {
    og::AnyRelayMsg::decode_slice(og::RelayCmd(cmd), b)
        .unwrap_or_else(|e| panic!("we cannot decode cmd {cmd} {}: {e}", hex::encode(b)))
}

/// Same bytes both ways, and each side decodes the other's bytes. Returns Arti's decoding
/// of our bytes for field checks.
fn both(ours: og::AnyRelayMsg, arti: am::AnyRelayMsg) -> am::AnyRelayMsg {
    let cmd = ours.cmd().0;
    assert_eq!(u8::from(arti.cmd()), cmd, "command numbers");
    let ob = ours.encode_to_vec().expect("our encode");
    let ab = arti_encode(arti);
    assert_eq!(hex::encode(&ob), hex::encode(&ab), "encodings differ");
    assert_eq!(our_decode(cmd, &ab), ours, "we decode Arti's bytes");
    let a2 = arti_decode(cmd, &ob);
    assert_eq!(
        arti_encode(arti_decode(cmd, &ob)),
        ob,
        "Arti re-encodes our bytes"
    );
    a2
}

/// A message Arti builds and we keep opaque: our decode/encode must preserve the bytes.
fn opaque(arti: am::AnyRelayMsg) {
    let cmd = u8::from(arti.cmd());
    let ab = arti_encode(arti);
    let ours = our_decode(cmd, &ab);
    assert_eq!(ours.cmd().0, cmd);
    assert_eq!(ours.encode_to_vec().unwrap(), ab);
}

/// An RNG yielding 0xf0 (as Arti's own `test_relaycell.rs`), for rand 0.10 (Arti) ...
struct ArtiF0;
impl rand010::TryRng for ArtiF0 {
    type Error = std::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(0xf0f0_f0f0)
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Ok(0xf0f0_f0f0_f0f0_f0f0)
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), Self::Error> {
        dest.fill(0xf0);
        Ok(())
    }
}
impl rand010::TryCryptoRng for ArtiF0 {}

/// ... and for rand_core 0.6 (ours).
struct OurF0;
impl rand_core::RngCore for OurF0 {
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

/// Whole-cell check: our v0 body equals Arti's for the same message and stream, and each
/// side decodes the other's body.
fn cells(sid: u16, ours: og::AnyRelayMsg, arti: am::AnyRelayMsg) {
    let our_body = og::encode_v0(sid, &ours, &mut OurF0).expect("our cell");
    let arti_body = AnyRelayMsgOuter::new(StreamId::new(sid), arti)
        .encode(RelayCellFormat::V0, &mut ArtiF0)
        .expect("arti cell");
    assert_eq!(
        hex::encode(our_body.0),
        hex::encode(&arti_body[..]),
        "cell bodies"
    );
    let (s, m) = og::decode_v0(&og::RelayCellBody(*arti_body)).expect("we decode Arti's cell");
    assert_eq!((s, &m), (sid, &ours));
    let a = AnyRelayMsgOuter::decode_singleton(RelayCellFormat::V0, Box::new(our_body.0))
        .expect("Arti decodes our cell");
    assert_eq!(StreamId::get_or_zero(a.stream_id()), sid);
    assert_eq!(u8::from(a.cmd()), ours.cmd().0);
}

// ---------------------------------------------------------------- strategies

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9]{1,20}(\\.[a-z0-9-]{1,20}){0,4}",
        any::<[u8; 4]>().prop_map(|a| Ipv4Addr::from(a).to_string()),
        any::<[u8; 16]>().prop_map(|a| Ipv6Addr::from(a).to_string()),
        Just(String::new()),
        "[a-z2-7]{56}\\.onion",
    ]
}

fn ipaddr() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 4]>()
            .prop_filter("0.0.0.0 marks IPv6 in CONNECTED", |a| *a != [0; 4])
            .prop_map(|a| IpAddr::V4(a.into())),
        any::<[u8; 16]>().prop_map(|a| IpAddr::V6(a.into())),
    ]
}

fn bytes_1_498() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 1..=498)
}

#[derive(Debug, Clone)]
enum LsParam {
    V4([u8; 4], u16),
    V6([u8; 16], u16),
    Rsa([u8; 20]),
    Ed([u8; 32]),
    Other(u8, Vec<u8>),
}

fn ls_param() -> impl Strategy<Value = LsParam> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>()).prop_map(|(a, p)| LsParam::V4(a, p)),
        (any::<[u8; 16]>(), any::<u16>()).prop_map(|(a, p)| LsParam::V6(a, p)),
        any::<[u8; 20]>().prop_map(LsParam::Rsa),
        any::<[u8; 32]>().prop_map(LsParam::Ed),
        (4u8..=255, proptest::collection::vec(any::<u8>(), 0..40))
            .prop_map(|(t, b)| LsParam::Other(t, b)),
    ]
}

fn our_ls(p: &LsParam) -> OgLs {
    match p {
        LsParam::V4(a, port) => OgLs::Ipv4(SocketAddrV4::new((*a).into(), *port)),
        LsParam::V6(a, port) => OgLs::Ipv6(SocketAddrV6::new((*a).into(), *port, 0, 0)),
        LsParam::Rsa(id) => OgLs::LegacyId(OgRsa(*id)),
        LsParam::Ed(id) => OgLs::Ed25519Id(OgEd(*id)),
        LsParam::Other(t, b) => OgLs::Unrecognized {
            lstype: OgLsType(*t),
            body: b.clone(),
        },
    }
}

fn arti_ls(p: &LsParam) -> ArtiLs {
    match p {
        LsParam::V4(a, port) => ArtiLs::OrPort(IpAddr::V4((*a).into()), *port),
        LsParam::V6(a, port) => ArtiLs::OrPort(IpAddr::V6((*a).into()), *port),
        LsParam::Rsa(id) => ArtiLs::RsaId((*id).into()),
        LsParam::Ed(id) => ArtiLs::Ed25519Id(tor_llcrypto::pk::ed25519::Ed25519Identity::new(*id)),
        LsParam::Other(t, b) => ArtiLs::Unrecognized(ArtiLsType::from(*t), b.clone()),
    }
}

// ---------------------------------------------------------------- fixed checks

#[test]
fn datagram_flag_is_tolerated_by_arti() {
    // Arti truncates unknown BEGIN flags, but still reads host and port: a stock
    // implementation that ignores our flag sees a plain BEGIN.
    let ours = og::Begin::onion_service(5060, og::BeginFlags::DATAGRAM);
    let b = og::Body::encode_to_vec(&ours).unwrap();
    assert_eq!(b, b":5060\0\x00\x00\x00\x08");
    match arti_decode(1, &b) {
        am::AnyRelayMsg::Begin(a) => {
            assert_eq!(a.addr(), b"");
            assert_eq!(a.port(), 5060);
            assert_eq!(a.flags().bits(), 0);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn unrecognized_and_our_datagrams_are_unrecognized_in_arti() {
    for (cmd, body) in [
        (0xD0u8, &b"dgram"[..]),
        (0xD1, b"frag"),
        (249, b"arbitrary bytes"),
    ] {
        let ours = our_decode(cmd, body);
        let arti = arti_decode(cmd, body);
        assert!(matches!(arti, am::AnyRelayMsg::Unrecognized(_)), "{arti:?}");
        assert_eq!(arti_encode(arti), ours.encode_to_vec().unwrap());
    }
    let u = am::Unrecognized::new(249.into(), &b"arbitrary bytes"[..]);
    both(
        og::Unrecognized {
            cmd: og::RelayCmd(249),
            body: Bytes::from_static(b"arbitrary bytes"),
        }
        .into(),
        u.into(),
    );
}

#[test]
fn empty_bodied_messages() {
    both(
        og::BeginDir.into(),
        am::AnyRelayMsg::BeginDir(Default::default()),
    );
    both(og::Drop.into(), am::AnyRelayMsg::Drop(Default::default()));
    both(
        og::Truncate.into(),
        am::AnyRelayMsg::Truncate(Default::default()),
    );
    both(og::Sendme::Empty.into(), am::Sendme::new_empty().into());
    both(
        og::Connected::empty().into(),
        am::Connected::new_empty().into(),
    );
    both(
        og::Xoff.into(),
        tor_cell::relaycell::flow_ctrl::Xoff::new(
            tor_cell::relaycell::flow_ctrl::FlowCtrlVersion::V0,
        )
        .into(),
    );
    cells(
        7,
        og::BeginDir.into(),
        am::AnyRelayMsg::BeginDir(Default::default()),
    );
    cells(
        0,
        og::Drop.into(),
        am::AnyRelayMsg::Drop(Default::default()),
    );
}

#[test]
fn onion_service_messages_arti_built() {
    use tor_cell::relaycell::hs;
    opaque(
        hs::Introduce1::new(hs::AuthKeyType::ED25519_SHA3_256, vec![7; 32], vec![9; 200]).into(),
    );
    opaque(hs::IntroEstablished::new().into());
    opaque(hs::IntroduceAck::new(hs::IntroduceAckStatus::SUCCESS).into());
    opaque(hs::IntroduceAck::new(hs::IntroduceAckStatus::NOT_RECOGNIZED).into());
    opaque(am::AnyRelayMsg::RendezvousEstablished(Default::default()));
    opaque(hs::Rendezvous1::new(tor_hscrypto::RendCookie::from([3; 20]), vec![5u8; 64]).into());
    opaque(am::ConfluxSwitch::new(1234).into());
    opaque(
        tor_cell::relaycell::udp::ConnectUdp::new("example.com", 53, 0)
            .unwrap()
            .into(),
    );
}

// ---------------------------------------------------------------- proptests

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn begin(h in host(), port in 1u16.., flags in 0u32..8, sid in 1u16..) {
        let ours = og::Begin::new(h.clone(), port, og::BeginFlags(flags));
        let arti = am::Begin::new(&h, port, flags).unwrap();
        let a = both(ours.clone().into(), arti.clone().into());
        match a {
            am::AnyRelayMsg::Begin(a) => {
                prop_assert_eq!(a.addr(), h.as_bytes());
                prop_assert_eq!(a.port(), port);
                prop_assert_eq!(a.flags().bits(), flags);
            }
            other => prop_assert!(false, "{:?}", other),
        }
        cells(sid, ours.into(), arti.into());
    }

    #[test]
    fn data(body in bytes_1_498(), sid in 1u16..) {
        let ours = og::Data::new(body.clone()).unwrap();
        let arti = am::Data::new(&body).unwrap();
        match both(ours.clone().into(), arti.clone().into()) {
            am::AnyRelayMsg::Data(a) => prop_assert_eq!(a.as_ref(), &body[..]),
            other => prop_assert!(false, "{:?}", other),
        }
        cells(sid, ours.into(), arti.into());
    }

    #[test]
    fn end(reason in any::<u8>(), addr in ipaddr(), ttl in any::<u32>(), policy in any::<bool>()) {
        let (ours, arti) = if policy {
            (og::End::exit_policy(addr, ttl), am::End::new_exitpolicy(addr, ttl))
        } else {
            prop_assume!(reason != 4);
            (og::End::new(og::EndReason(reason)), am::End::new_with_reason(reason.into()))
        };
        match both(ours.clone().into(), arti.into()) {
            am::AnyRelayMsg::End(a) => prop_assert_eq!(u8::from(a.reason()), ours.reason.0),
            other => prop_assert!(false, "{:?}", other),
        }
    }

    #[test]
    fn connected(addr in ipaddr(), ttl in any::<u32>(), sid in 1u16..) {
        let ours = og::Connected::with_addr(addr, ttl);
        let arti = am::Connected::new_with_addr(addr, ttl);
        both(ours.clone().into(), arti.clone().into());
        cells(sid, ours.into(), arti.into());
    }

    #[test]
    fn sendme(tag in any::<[u8; 20]>(), sid in any::<u16>()) {
        let ours = og::Sendme::v1(tag);
        match both(ours.clone().into(), am::Sendme::new_tag(tag).into()) {
            am::AnyRelayMsg::Sendme(a) => {
                let t = a.into_sendme_tag().unwrap();
                prop_assert_eq!(t.as_ref(), &tag[..]);
            }
            other => prop_assert!(false, "{:?}", other),
        }
        cells(sid, ours.into(), am::Sendme::new_tag(tag).into());
    }

    #[test]
    fn sendme_cgo_tag(tag in any::<[u8; 16]>()) {
        // Arti has no public constructor for a 16-byte SENDME; check decoding both ways.
        let ours = og::Sendme::V1 { tag: og::SendmeTag::Cgo(tag) };
        let b = og::Body::encode_to_vec(&ours).unwrap();
        match arti_decode(5, &b) {
            am::AnyRelayMsg::Sendme(a) => {
                let t = a.into_sendme_tag().unwrap();
                prop_assert_eq!(t.as_ref(), &tag[..]);
            }
            other => prop_assert!(false, "{:?}", other),
        }
    }

    #[test]
    fn extend2(specs in proptest::collection::vec(ls_param(), 0..6),
               htype in any::<u16>(),
               hdata in proptest::collection::vec(any::<u8>(), 0..200)) {
        let ours = og::Extend2 {
            linkspecs: specs.iter().map(our_ls).collect(),
            htype: OgHtype(htype),
            hdata: Bytes::from(hdata.clone()),
        };
        let arti = am::Extend2::new(
            specs.iter().map(|s| arti_ls(s).encode().unwrap()).collect(),
            ArtiHtype::from(htype),
            hdata.clone(),
        );
        let total = og::Body::encode_to_vec(&ours).unwrap().len();
        match both(ours.clone().into(), arti.clone().into()) {
            am::AnyRelayMsg::Extend2(a) => {
                prop_assert_eq!(u16::from(a.handshake_type()), htype);
                prop_assert_eq!(a.handshake(), &hdata[..]);
                let parsed: Vec<ArtiLs> = a.linkspecs().iter().map(|l| l.parse().unwrap()).collect();
                let want: Vec<ArtiLs> = specs.iter().map(arti_ls).collect();
                prop_assert_eq!(parsed, want);
            }
            other => prop_assert!(false, "{:?}", other),
        }
        if total <= og::MAX_DATA_LEN {
            cells(0, ours.into(), arti.into());
        }
    }

    #[test]
    fn extended2(hdata in proptest::collection::vec(any::<u8>(), 0..496)) {
        let ours = og::Extended2 { hdata: Bytes::from(hdata.clone()) };
        let arti = am::Extended2::new(hdata);
        both(ours.clone().into(), arti.clone().into());
        cells(0, ours.into(), arti.into());
    }

    #[test]
    fn truncated(reason in any::<u8>()) {
        let ours = og::Truncated { reason };
        match both(ours.into(), am::Truncated::new(DestroyReason::from(reason)).into()) {
            am::AnyRelayMsg::Truncated(a) => prop_assert_eq!(u8::from(a.reason()), reason),
            other => prop_assert!(false, "{:?}", other),
        }
    }

    #[test]
    fn resolve(name in "[a-z0-9.-]{0,100}", addr in ipaddr(), rev in any::<bool>()) {
        let (ours, arti) = if rev {
            (og::Resolve::reverse(addr), am::Resolve::new_reverse(&addr))
        } else {
            (og::Resolve::new(name.clone()), am::Resolve::new(&name))
        };
        match both(ours.clone().into(), arti.into()) {
            am::AnyRelayMsg::Resolve(a) => prop_assert_eq!(a.query(), ours.query.as_bytes()),
            other => prop_assert!(false, "{:?}", other),
        }
    }

    #[test]
    fn resolved(answers in proptest::collection::vec(
        (0u8..6, ipaddr(), "[a-z.]{1,40}", 7u8..0xf0, proptest::collection::vec(any::<u8>(), 0..30), any::<u32>()),
        0..8))
    {
        let mut ours = og::Resolved::default();
        let mut arti = am::Resolved::new_empty();
        for (kind, ip, name, uty, uval, ttl) in &answers {
            let (o, a) = match kind {
                0 | 1 => match ip {
                    IpAddr::V4(v) => (og::ResolvedVal::Ipv4(*v), am::ResolvedVal::Ip(*ip)),
                    IpAddr::V6(v) => (og::ResolvedVal::Ipv6(*v), am::ResolvedVal::Ip(*ip)),
                },
                2 => (og::ResolvedVal::Hostname(name.as_bytes().to_vec()),
                      am::ResolvedVal::Hostname(name.as_bytes().to_vec())),
                3 => (og::ResolvedVal::TransientError(vec![]), am::ResolvedVal::TransientError),
                4 => (og::ResolvedVal::NontransientError(vec![]), am::ResolvedVal::NontransientError),
                _ => (og::ResolvedVal::Unrecognized { ty: *uty, value: uval.clone() },
                      am::ResolvedVal::Unrecognized(*uty, uval.clone())),
            };
            ours.answers.push((o, *ttl));
            arti.add_answer(a, *ttl);
        }
        prop_assume!(og::Body::encode_to_vec(&ours).unwrap().len() <= og::MAX_DATA_LEN);
        match both(ours.clone().into(), arti.into()) {
            am::AnyRelayMsg::Resolved(a) => {
                let got = a.into_answers();
                prop_assert_eq!(got.len(), ours.answers.len());
                for ((a, attl), (o, ottl)) in got.iter().zip(&ours.answers) {
                    prop_assert_eq!(attl, ottl);
                    let same = match (a, o) {
                        (am::ResolvedVal::Ip(IpAddr::V4(x)), og::ResolvedVal::Ipv4(y)) => x == y,
                        (am::ResolvedVal::Ip(IpAddr::V6(x)), og::ResolvedVal::Ipv6(y)) => x == y,
                        (am::ResolvedVal::Hostname(x), og::ResolvedVal::Hostname(y)) => x == y,
                        (am::ResolvedVal::TransientError, og::ResolvedVal::TransientError(_)) => true,
                        (am::ResolvedVal::NontransientError, og::ResolvedVal::NontransientError(_)) => true,
                        (am::ResolvedVal::Unrecognized(t, v), og::ResolvedVal::Unrecognized { ty, value }) => t == ty && v == value,
                        _ => false,
                    };
                    prop_assert!(same, "{:?} vs {:?}", a, o);
                }
            }
            other => prop_assert!(false, "{:?}", other),
        }
    }

    #[test]
    fn xon(kbps in any::<u32>(), sid in 1u16..) {
        use tor_cell::relaycell::flow_ctrl::{FlowCtrlVersion, XonKBpsEwma};
        let rate = match NonZero::new(kbps) {
            Some(n) => XonKBpsEwma::Limited(n),
            None => XonKBpsEwma::Unlimited,
        };
        let arti = tor_cell::relaycell::flow_ctrl::Xon::new(FlowCtrlVersion::V0, rate);
        let ours = og::Xon { kbps_ewma: kbps };
        both(ours.into(), arti.clone().into());
        cells(sid, ours.into(), arti.into());
    }

    #[test]
    fn establish_rendezvous_and_rendezvous2(cookie in any::<[u8; 20]>(), info in any::<[u8; 64]>()) {
        use tor_cell::relaycell::hs;
        both(og::EstablishRendezvous { cookie }.into(),
             hs::EstablishRendezvous::new(tor_hscrypto::RendCookie::from(cookie)).into());
        match both(og::Rendezvous2 { handshake_info: info }.into(), hs::Rendezvous2::new(info.to_vec()).into()) {
            am::AnyRelayMsg::Rendezvous2(a) => prop_assert_eq!(a.handshake_info(), &info[..]),
            other => prop_assert!(false, "{:?}", other),
        }
        cells(0, og::EstablishRendezvous { cookie }.into(),
              hs::EstablishRendezvous::new(tor_hscrypto::RendCookie::from(cookie)).into());
    }

    #[test]
    fn linkspecs(p in ls_param()) {
        let ours = our_ls(&p);
        let arti = arti_ls(&p);
        let ob = ours.to_vec().unwrap();
        let mut ab = Vec::new();
        ab.write(&arti).unwrap();
        prop_assert_eq!(&ob, &ab);
        prop_assert_eq!(OgLs::decode_exact(&ab, "ls").unwrap(), ours);
        let back: ArtiLs = tor_bytes::Reader::from_slice(&ob).extract().unwrap();
        prop_assert_eq!(back, arti);
    }

    #[test]
    fn linkspec_garbage_agrees(b in proptest::collection::vec(any::<u8>(), 0..40)) {
        // On arbitrary bytes, both implementations accept or refuse alike, and agree on
        // what they accept.
        let ours = OgLs::decode_exact(&b, "ls");
        let mut r = tor_bytes::Reader::from_slice(&b);
        let arti: Result<ArtiLs, _> = r.extract().and_then(|v| r.should_be_exhausted().map(|_| v));
        prop_assert_eq!(ours.is_ok(), arti.is_ok(), "{}", hex::encode(&b));
        if let (Ok(o), Ok(a)) = (ours, arti) {
            let mut ab = Vec::new();
            ab.write(&a).unwrap();
            prop_assert_eq!(o.to_vec().unwrap(), ab);
        }
    }

    #[test]
    fn arbitrary_bodies_agree_where_both_parse(cmd in prop_oneof![1u8..=15, 43u8..=44, Just(33u8), Just(37u8)],
                                               body in proptest::collection::vec(any::<u8>(), 0..60)) {
        // Wherever both decoders accept a body, they re-encode it to the same bytes.
        let ours = og::AnyRelayMsg::decode_slice(og::RelayCmd(cmd), &body);
        let mut r = tor_bytes::Reader::from_slice(&body);
        let arti = am::AnyRelayMsg::decode_from_reader(cmd.into(), &mut r);
        if let (Ok(o), Ok(a)) = (ours, arti) {
            let ob = o.encode_to_vec();
            let ab = { let mut v = Vec::new(); a.encode_onto(&mut v).map(|_| v) };
            if let (Ok(ob), Ok(ab)) = (ob, ab) {
                prop_assert_eq!(hex::encode(ob), hex::encode(ab), "cmd {} body {}", cmd, hex::encode(&body));
            }
        }
    }
}

#[test]
fn socketaddr_helpers_agree() {
    // A v4 ORPort built from a SocketAddr, the way Arti's own EXTEND2 test builds it.
    let sa: SocketAddr = "127.0.0.1:5000".parse().unwrap();
    let mut ab = Vec::new();
    ab.write(&ArtiLs::from(sa)).unwrap();
    let ours = OgLs::Ipv4("127.0.0.1:5000".parse().unwrap());
    assert_eq!(ours.to_vec().unwrap(), ab);
}
