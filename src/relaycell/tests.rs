//! Property tests: round trips for every encode/decode pair, and "never panics" on garbage,
//! truncated and oversized input for every parser. (Cross-checks against Arti are in
//! `tests/arti_relaymsg.rs`; vectors in `tests/relaymsg_vectors.rs`.)

#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, SocketAddrV4, SocketAddrV6};

use bytes::Bytes;
use proptest::prelude::*;

use super::*;
use crate::cell::HandshakeType;
use crate::ids::{Ed25519Identity, RsaIdentity};
use crate::linkspec::{self, LinkSpec, LinkSpecType};
use crate::wire::{Readable, Reader, Writeable};

/// Every command we know, a few unknown ones, and our two.
fn any_cmd() -> impl Strategy<Value = RelayCmd> {
    prop_oneof![
        (1u8..=22).prop_map(RelayCmd),
        (32u8..=44).prop_map(RelayCmd),
        Just(RelayCmd::DATAGRAM),
        Just(RelayCmd::DATAGRAM_FRAG),
        any::<u8>().prop_map(RelayCmd),
    ]
}

fn linkspec() -> impl Strategy<Value = LinkSpec> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>())
            .prop_map(|(a, p)| LinkSpec::Ipv4(SocketAddrV4::new(a.into(), p))),
        (any::<[u8; 16]>(), any::<u16>()).prop_map(|(a, p)| LinkSpec::Ipv6(SocketAddrV6::new(
            a.into(),
            p,
            0,
            0
        ))),
        any::<[u8; 20]>().prop_map(|a| LinkSpec::LegacyId(RsaIdentity(a))),
        any::<[u8; 32]>().prop_map(|a| LinkSpec::Ed25519Id(Ed25519Identity(a))),
        (4u8..=255, proptest::collection::vec(any::<u8>(), 0..=255)).prop_map(|(t, body)| {
            LinkSpec::Unrecognized {
                lstype: LinkSpecType(t),
                body,
            }
        }),
    ]
}

fn ipaddr() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 4]>()
            .prop_filter("not 0.0.0.0", |a| *a != [0; 4])
            .prop_map(|a| IpAddr::V4(a.into())),
        any::<[u8; 16]>().prop_map(|a| IpAddr::V6(a.into())),
    ]
}

fn bytes(max: usize) -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(any::<u8>(), 0..=max).prop_map(Bytes::from)
}

/// Messages of every type we can build, within one cell.
fn msg() -> impl Strategy<Value = AnyRelayMsg> {
    prop_oneof![
        ("[a-z0-9.:-]{0,40}", 1u16.., any::<u32>()).prop_map(|(h, p, f)| Begin::new(
            h.replace(':', ""),
            p,
            BeginFlags(f)
        )
        .into()),
        ("[0-9a-f:]{2,39}", 1u16..).prop_map(|(h, p)| Begin::new(h, p, BeginFlags::NONE).into()),
        proptest::collection::vec(any::<u8>(), 1..=498).prop_map(|b| Data::new(b).unwrap().into()),
        (any::<u8>(), ipaddr(), any::<u32>()).prop_map(|(r, a, t)| if r == 4 {
            End::exit_policy(a, t).into()
        } else {
            End::new(EndReason(r)).into()
        }),
        proptest::option::of((ipaddr(), any::<u32>())).prop_map(|addr| Connected { addr }.into()),
        prop_oneof![
            Just(Sendme::Empty),
            bytes(100).prop_map(|data| Sendme::V0 { data }),
            any::<[u8; 20]>().prop_map(Sendme::v1),
            any::<[u8; 16]>().prop_map(|t| Sendme::V1 {
                tag: SendmeTag::Cgo(t)
            }),
            (2u8.., bytes(100)).prop_map(|(version, data)| Sendme::Unknown { version, data }),
        ]
        .prop_map(AnyRelayMsg::from),
        (
            proptest::collection::vec(linkspec(), 0..4),
            any::<u16>(),
            bytes(150)
        )
            .prop_map(|(linkspecs, h, hdata)| Extend2 {
                linkspecs,
                htype: HandshakeType(h),
                hdata
            }
            .into()),
        bytes(496).prop_map(|hdata| Extended2 { hdata }.into()),
        Just(Truncate.into()),
        any::<u8>().prop_map(|reason| Truncated { reason }.into()),
        Just(Drop.into()),
        Just(BeginDir.into()),
        "[a-zA-Z0-9.-]{0,200}".prop_map(|q| Resolve::new(q).into()),
        ipaddr().prop_map(|a| Resolve::reverse(a).into()),
        proptest::collection::vec(
            (
                prop_oneof![
                    "[a-z.]{1,30}".prop_map(|h| ResolvedVal::Hostname(h.into_bytes())),
                    any::<[u8; 4]>().prop_map(|a| ResolvedVal::Ipv4(a.into())),
                    any::<[u8; 16]>().prop_map(|a| ResolvedVal::Ipv6(a.into())),
                    proptest::collection::vec(any::<u8>(), 0..20)
                        .prop_map(ResolvedVal::TransientError),
                    proptest::collection::vec(any::<u8>(), 0..20)
                        .prop_map(ResolvedVal::NontransientError),
                    (7u8..0xf0, proptest::collection::vec(any::<u8>(), 0..20))
                        .prop_map(|(ty, value)| ResolvedVal::Unrecognized { ty, value }),
                ],
                any::<u32>()
            ),
            0..8
        )
        .prop_map(|answers| Resolved { answers }.into()),
        any::<[u8; 20]>().prop_map(|cookie| EstablishRendezvous { cookie }.into()),
        any::<[u8; 64]>().prop_map(|handshake_info| Rendezvous2 { handshake_info }.into()),
        bytes(498).prop_map(|b| EstablishIntro::new(b).into()),
        bytes(498).prop_map(|b| Introduce1::new(b).into()),
        bytes(498).prop_map(|b| Introduce2::new(b).into()),
        bytes(498).prop_map(|b| Rendezvous1::new(b).into()),
        bytes(50).prop_map(|b| IntroEstablished::new(b).into()),
        bytes(50).prop_map(|b| RendezvousEstablished::new(b).into()),
        bytes(50).prop_map(|b| IntroduceAck::new(b).into()),
        bytes(100).prop_map(|b| Extend::new(b).into()),
        bytes(100).prop_map(|b| Extended::new(b).into()),
        bytes(100).prop_map(|b| ConnectUdp::new(b).into()),
        bytes(100).prop_map(|b| ConnectedUdp::new(b).into()),
        bytes(100).prop_map(|b| UdpDatagram::new(b).into()),
        bytes(100).prop_map(|b| ConfluxLink::new(b).into()),
        bytes(100).prop_map(|b| ConfluxLinked::new(b).into()),
        bytes(100).prop_map(|b| ConfluxLinkedAck::new(b).into()),
        bytes(100).prop_map(|b| ConfluxSwitch::new(b).into()),
        bytes(100).prop_map(|b| PaddingNegotiate::new(b).into()),
        bytes(100).prop_map(|b| PaddingNegotiated::new(b).into()),
        Just(Xoff.into()),
        any::<u32>().prop_map(|kbps_ewma| Xon { kbps_ewma }.into()),
        bytes(498).prop_map(|b| Datagram::new(b).unwrap().into()),
        proptest::collection::vec(any::<u8>(), 1..=498)
            .prop_map(|b| DatagramFrag::new(b).unwrap().into()),
        (
            prop_oneof![23u8..=31, 45u8..=0xcf, 0xd2u8..=255],
            bytes(498)
        )
            .prop_map(|(c, body)| Unrecognized {
                cmd: RelayCmd(c),
                body
            }
            .into()),
    ]
}

/// A stream id acceptable for `cmd`.
fn sid_for(cmd: RelayCmd, raw: u16) -> u16 {
    match cmd.stream_id_rule() {
        StreamIdRule::MustBeZero => 0,
        StreamIdRule::MustBeNonZero => raw.max(1),
        _ => raw,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn message_round_trip(m in msg()) {
        let b = m.encode_to_vec().unwrap();
        prop_assert_eq!(AnyRelayMsg::decode_slice(m.cmd(), &b).unwrap(), m);
    }

    #[test]
    fn cell_round_trip(m in msg(), raw in any::<u16>(), seed in any::<u64>()) {
        let b = m.encode_to_vec().unwrap();
        prop_assume!(b.len() <= MAX_DATA_LEN);
        let sid = sid_for(m.cmd(), raw);
        let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(seed);
        let body = encode_v0(sid, &m, &mut rng).unwrap();
        prop_assert_eq!(body.recognized(), 0);
        prop_assert_eq!(body.digest(), [0; 4]);
        prop_assert_eq!(usize::from(body.length()), b.len());
        let pad_start = RELAY_HEADER_LEN + b.len();
        let zeros = PADDING_ZERO_PREFIX.min(RELAY_BODY_LEN - pad_start);
        prop_assert!(body.0[pad_start..pad_start + zeros].iter().all(|&x| x == 0));
        prop_assert_eq!(decode_v0(&body).unwrap(), (sid, m));
    }

    #[test]
    fn wrong_stream_ids_are_refused(m in msg(), raw in 1u16..) {
        let cmd = m.cmd();
        let mut rng = rand::rngs::OsRng;
        match cmd.stream_id_rule() {
            StreamIdRule::MustBeZero => {
                let e = encode_v0(raw, &m, &mut rng).unwrap_err();
                prop_assert!(matches!(e, RelayMsgError::UnexpectedStreamId { .. }), "{:?}", e);
                prop_assert!(e.is_protocol_violation());
            }
            StreamIdRule::MustBeNonZero => {
                let e = encode_v0(0, &m, &mut rng).unwrap_err();
                prop_assert!(matches!(e, RelayMsgError::ZeroStreamId { .. }), "{:?}", e);
            }
            _ => {}
        }
    }

    #[test]
    fn garbage_bodies_never_panic(cmd in any_cmd(), body in proptest::collection::vec(any::<u8>(), 0..700)) {
        // Decode anything; what decodes re-encodes, and re-decodes to the same message.
        if let Ok(m) = AnyRelayMsg::decode_slice(cmd, &body) {
            prop_assert_eq!(m.cmd(), cmd);
            let b = m.encode_to_vec().unwrap();
            prop_assert_eq!(AnyRelayMsg::decode_slice(cmd, &b).unwrap(), m);
        }
    }

    #[test]
    fn truncated_encodings_never_panic(m in msg(), cut in any::<prop::sample::Index>()) {
        let b = m.encode_to_vec().unwrap();
        let n = cut.index(b.len() + 1);
        let _ = AnyRelayMsg::decode_slice(m.cmd(), &b[..n]);
        let mut longer = b.clone();
        longer.extend_from_slice(&[0xAB; 40]);
        let _ = AnyRelayMsg::decode_slice(m.cmd(), &longer);
    }

    #[test]
    fn garbage_cells_never_panic(body in proptest::collection::vec(any::<u8>(), RELAY_BODY_LEN..=RELAY_BODY_LEN)) {
        let body = RelayCellBody(body.try_into().unwrap());
        if let Ok((sid, m)) = decode_v0(&body) {
            let enc = encode_v0(sid, &m, &mut rand::rngs::OsRng).unwrap();
            prop_assert_eq!(decode_v0(&enc).unwrap(), (sid, m));
        }
    }

    #[test]
    fn linkspec_list_round_trip(specs in proptest::collection::vec(linkspec(), 0..10)) {
        let mut w = Vec::new();
        linkspec::write_list(&mut w, &specs).unwrap();
        let mut r = Reader::new(&w);
        prop_assert_eq!(linkspec::take_list(&mut r).unwrap(), specs);
        prop_assert!(r.is_empty());
    }

    #[test]
    fn linkspec_garbage_never_panics(b in proptest::collection::vec(any::<u8>(), 0..600)) {
        let mut r = Reader::new(&b);
        if let Ok(l) = linkspec::take_list(&mut r) {
            let mut w = Vec::new();
            linkspec::write_list(&mut w, &l).unwrap();
            prop_assert_eq!(&w[..], &b[..r.consumed()]);
        }
        if let Ok(s) = LinkSpec::decode_exact(&b, "ls") {
            prop_assert_eq!(s.to_vec().unwrap(), b);
        }
    }
}

#[test]
fn oversized_messages_refused() {
    let e = encode_v0(
        0,
        &Extended2 {
            hdata: Bytes::from(vec![0; 497]),
        }
        .into(),
        &mut rand::rngs::OsRng,
    )
    .unwrap_err();
    assert!(e.is_local());
    assert_eq!(e.destroy_reason(), DESTROY_REASON_INTERNAL);
    assert!(Data::new(vec![0; 499]).is_err());
    assert!(AnyRelayMsg::decode_slice(RelayCmd::DATA, &[0; 499]).is_err());
    assert!(AnyRelayMsg::decode_slice(RelayCmd::DATAGRAM, &[0; 499]).is_err());
    let mut body = RelayCellBody::default();
    body.0[0] = 2;
    body.0[4] = 1;
    body.0[9..11].copy_from_slice(&499u16.to_be_bytes());
    let e = decode_v0(&body).unwrap_err();
    assert!(matches!(e, RelayMsgError::BadLength { len: 499, .. }));
    assert!(e.is_malformed() && !e.is_stream_scoped());
    assert_eq!(e.destroy_reason(), DESTROY_REASON_PROTOCOL);
}

#[test]
fn error_scopes_and_reasons() {
    let e = AnyRelayMsg::decode_slice(RelayCmd::BEGIN, b"nope").unwrap_err();
    assert!(e.is_malformed() && e.is_stream_scoped());
    assert_eq!(e.end_reason(), EndReason::TORPROTOCOL);
    let e = AnyRelayMsg::decode_slice(RelayCmd::SENDME, &[1, 0, 3, 1, 2, 3]).unwrap_err();
    assert!(e.is_malformed() && !e.is_stream_scoped());
    let e = check_stream_id(RelayCmd::EXTEND2, 9).unwrap_err();
    assert!(e.is_protocol_violation() && !e.is_malformed());
    assert_eq!(e.cmd(), Some(RelayCmd::EXTEND2));
    // Unrecognized messages cannot claim a known command.
    let u: AnyRelayMsg = Unrecognized {
        cmd: RelayCmd::DATA,
        body: Bytes::new(),
    }
    .into();
    assert!(u.encode_to_vec().is_err());
}

#[test]
fn padding_is_zeros_then_rng() {
    let m: AnyRelayMsg = Data::new(&b"hi"[..]).unwrap().into();
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(7);
    let body = encode_v0(1, &m, &mut rng).unwrap();
    assert_eq!(&body.0[11..13], b"hi");
    assert_eq!(&body.0[13..17], &[0; 4]);
    // 492 random bytes are not all zero.
    assert!(body.0[17..].iter().any(|&b| b != 0));
}

#[test]
fn body_from_slice() {
    assert!(RelayCellBody::try_from(&[0u8; 508][..]).is_err());
    assert!(RelayCellBody::try_from(&[0u8; 510][..]).is_err());
    let b = RelayCellBody::try_from(&[0u8; RELAY_BODY_LEN][..]).unwrap();
    assert_eq!(b, RelayCellBody::default());
}
