//! Unit tests of the origin circuit against the fake relay path of [`super::testnet`]: hop
//! building, window and state rules, closing rules, half-closed streams. The proptests are
//! in [`super::proptests`].

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};

use super::testnet::{FakePath, FakeRelay};
use super::*;
use crate::cell::{AnyChanMsg, ChanCell, CircId, Destroy, DestroyReason, Relay, RelayEarly};
use crate::relaycell::{
    AnyRelayMsg, BeginFlags, Connected, Data, Drop, End, EndReason, Extended2, Sendme, Truncated,
};

pub(super) const CIRC: CircId = CircId(0x8000_0042);

pub(super) fn rng() -> StdRng {
    StdRng::seed_from_u64(7)
}

/// Moves cells both ways until nothing moves; returns the events.
pub(super) fn pump(
    circ: &mut OriginCircuit,
    path: &mut FakePath,
    rng: &mut StdRng,
) -> Vec<CircEvent> {
    let mut events = Vec::new();
    loop {
        let mut moved = false;
        while let Some(c) = circ.poll_cell() {
            path.handle(c);
            moved = true;
        }
        while let Some(c) = path.out.pop_front() {
            circ.handle_cell(c, rng);
            moved = true;
        }
        while let Some(e) = circ.poll_event() {
            events.push(e);
        }
        if !moved {
            return events;
        }
    }
}

fn relays(n: u8) -> Vec<FakeRelay> {
    (1..=n).map(FakeRelay::new).collect()
}

/// Builds a circuit of `kinds.len()` hops (`fast` first hop optional).
pub(super) fn build(
    kinds: &[HandshakeKind],
    fast: bool,
    rng: &mut StdRng,
) -> (OriginCircuit, FakePath) {
    let rs = relays(kinds.len() as u8);
    let targets: Vec<HopTarget> = rs.iter().zip(kinds).map(|(r, k)| r.target(*k)).collect();
    let mut path = FakePath::new(CIRC, rs);
    let now = Instant::now();
    let mut circ = if fast {
        OriginCircuit::create_fast(CIRC, now, rng)
    } else {
        OriginCircuit::create(CIRC, &targets[0], now, rng).unwrap()
    };
    for (i, t) in targets.iter().enumerate() {
        if i > 0 {
            assert!(circ.is_ready());
            circ.extend(t, now, rng).unwrap();
            assert_eq!(circ.extend(t, now, rng), Err(ClientError::HandshakePending));
        }
        let ev = pump(&mut circ, &mut path, rng);
        assert_eq!(ev, vec![CircEvent::HopAdded { hops: i + 1 }]);
    }
    (circ, path)
}

pub(super) fn open_stream(circ: &mut OriginCircuit, path: &mut FakePath, rng: &mut StdRng) -> u16 {
    let s = circ
        .begin("example.com", 80, BeginFlags::NONE, rng)
        .unwrap();
    assert!(!circ.can_write(s));
    let ev = pump(circ, path, rng);
    assert!(
        matches!(ev[..], [CircEvent::Connected { stream, .. }] if stream == s),
        "{ev:?}"
    );
    s
}

#[test]
fn builds_with_every_handshake_mix() {
    use HandshakeKind::{Ntor, NtorV3};
    let mut rng = rng();
    for (kinds, fast) in [
        (vec![Ntor, Ntor, Ntor], false),
        (vec![NtorV3, NtorV3, NtorV3], false),
        (vec![NtorV3, Ntor, NtorV3], false),
        (vec![Ntor, NtorV3, Ntor], true),
    ] {
        let (circ, path) = build(&kinds, fast, &mut rng);
        assert_eq!(circ.n_hops(), 3);
        assert_eq!(path.early_seen, 2);
        assert_eq!(circ.relay_early_left(), MAX_RELAY_EARLY - 2);
    }
}

#[test]
fn link_specs_in_recommended_order() {
    let mut t = FakeRelay::new(1).target(HandshakeKind::Ntor);
    t.addrs = vec![
        "[::1]:9001".parse().unwrap(),
        "10.1.2.3:9001".parse().unwrap(),
    ];
    let specs = t.link_specs().unwrap();
    let types: Vec<u8> = specs.iter().map(|s| s.lstype().0).collect();
    assert_eq!(types, [0, 2, 3, 1]);
    t.addrs.clear();
    assert_eq!(t.link_specs(), Err(ClientError::NoAddress));
    t.ed_id = None;
    t.handshake = HandshakeKind::NtorV3;
    assert!(matches!(
        OriginCircuit::create(CIRC, &t, Instant::now(), &mut rng()),
        Err(ClientError::NoEd25519Id)
    ));
}

#[test]
fn relay_early_budget_is_eight() {
    let mut rng = rng();
    let rs = relays(10);
    let targets: Vec<HopTarget> = rs.iter().map(|r| r.target(HandshakeKind::Ntor)).collect();
    let mut path = FakePath::new(CIRC, rs);
    let mut circ = OriginCircuit::create(CIRC, &targets[0], Instant::now(), &mut rng).unwrap();
    pump(&mut circ, &mut path, &mut rng);
    for t in &targets[1..9] {
        circ.extend(t, Instant::now(), &mut rng).unwrap();
        pump(&mut circ, &mut path, &mut rng);
    }
    assert_eq!(circ.n_hops(), 9);
    assert_eq!(path.early_seen, 8);
    assert_eq!(
        circ.extend(&targets[9], Instant::now(), &mut rng),
        Err(ClientError::RelayEarlyExhausted)
    );
}

#[test]
fn bulk_echo_exercises_both_windows() {
    let mut rng = rng();
    let (mut circ, mut path) = build(&[HandshakeKind::Ntor; 3], false, &mut rng);
    let s = open_stream(&mut circ, &mut path, &mut rng);
    let mut data = vec![0u8; 3 << 20];
    rng.fill_bytes(&mut data);
    let (mut sent, mut back) = (0, Vec::new());
    while back.len() < data.len() {
        if sent < data.len() && circ.can_write(s) {
            sent += circ.write(s, &data[sent..], &mut rng).unwrap();
        }
        for e in pump(&mut circ, &mut path, &mut rng) {
            match e {
                CircEvent::Data { stream, data } => {
                    assert_eq!(stream, s);
                    back.extend_from_slice(&data);
                }
                CircEvent::Writable { stream } => assert_eq!(stream, s),
                other => panic!("{other:?}"),
            }
        }
        for hop in 0..3 {
            let (p, d) = circ.hop_windows(hop).unwrap();
            assert!(p <= 1000 && (900..=1000).contains(&d));
        }
        let (p, d) = circ.stream_windows(s).unwrap();
        assert!(p <= 500 && d <= 500);
    }
    assert_eq!(path.received[&s], data);
    assert!(back == data);
    circ.end(s, &mut rng).unwrap();
    pump(&mut circ, &mut path, &mut rng);
    assert_eq!(path.ended, vec![s]);
}

#[test]
fn stream_window_stops_packaging_at_500() {
    let mut rng = rng();
    let (mut circ, mut path) = build(&[HandshakeKind::Ntor], false, &mut rng);
    path.echo = false;
    path.stream_sendmes = false;
    let s = open_stream(&mut circ, &mut path, &mut rng);
    let big = vec![7u8; 600 * 498];
    let n = circ.write(s, &big, &mut rng).unwrap();
    assert_eq!(n, 500 * 498);
    assert!(!circ.can_write(s));
    assert_eq!(circ.write(s, &big[n..], &mut rng).unwrap(), 0);
    assert_eq!(circ.stream_windows(s).unwrap().0, 0);
    pump(&mut circ, &mut path, &mut rng);
    // One stream SENDME from the exit reopens it by 50 cells.
    path.grant_stream_sendme(s);
    let ev = pump(&mut circ, &mut path, &mut rng);
    assert_eq!(ev, vec![CircEvent::Writable { stream: s }]);
    assert_eq!(circ.write(s, &big[n..], &mut rng).unwrap(), 50 * 498);
    // A SENDME that would raise the window above 500 kills the circuit.
    for _ in 0..11 {
        path.send_from(0, s, &Sendme::Empty.into());
    }
    let ev = pump(&mut circ, &mut path, &mut rng);
    assert!(matches!(
        ev.last(),
        Some(CircEvent::Closed(CloseReason::Protocol(
            ProtocolViolation::FlowControl(_)
        )))
    ));
}

#[test]
fn circuit_window_stops_packaging_at_1000() {
    let mut rng = rng();
    let (mut circ, mut path) = build(
        &[HandshakeKind::Ntor, HandshakeKind::NtorV3],
        false,
        &mut rng,
    );
    path.echo = false;
    let streams: Vec<u16> = (0..3)
        .map(|_| open_stream(&mut circ, &mut path, &mut rng))
        .collect();
    let big = vec![1u8; 500 * 498];
    let total: usize = streams
        .iter()
        .map(|s| circ.write(*s, &big, &mut rng).unwrap())
        .sum();
    assert_eq!(total, 1000 * 498);
    assert!(streams.iter().all(|s| !circ.can_write(*s)));
    assert_eq!(circ.hop_windows(1).unwrap().0, 0);
    // The exit's circuit SENDMEs (tags checked by us) reopen the circuit window.
    let ev = pump(&mut circ, &mut path, &mut rng);
    assert_eq!(circ.hop_windows(1).unwrap().0, 1000);
    let woken: Vec<u16> = ev
        .iter()
        .filter_map(|e| match e {
            CircEvent::Writable { stream } => Some(*stream),
            _ => None,
        })
        .collect();
    assert_eq!(woken.len(), 3, "{ev:?}");
}

#[test]
fn deliver_windows_send_sendmes_and_pause_holds_them() {
    let mut rng = rng();
    let (mut circ, mut path) = build(&[HandshakeKind::Ntor, HandshakeKind::Ntor], false, &mut rng);
    let s = open_stream(&mut circ, &mut path, &mut rng);
    circ.pause_reads(s, true, &mut rng).unwrap();
    for i in 0..100u32 {
        path.send_from(1, s, &Data::new(i.to_be_bytes().to_vec()).unwrap().into());
    }
    while let Some(c) = path.out.pop_front() {
        circ.handle_cell(c, &mut rng);
    }
    // One circuit SENDME v1 (the fake path checks its tag), no stream SENDMEs yet.
    let mut sendmes = 0;
    while let Some(c) = circ.poll_cell() {
        sendmes += 1;
        path.handle(c);
    }
    assert_eq!(sendmes, 1);
    assert_eq!(circ.hop_windows(1).unwrap().1, 1000);
    assert_eq!(circ.stream_windows(s).unwrap().1, 400);
    circ.pause_reads(s, false, &mut rng).unwrap();
    assert_eq!(circ.queued_cells(), 2);
    assert_eq!(circ.stream_windows(s).unwrap().1, 500);
    let n = std::iter::from_fn(|| circ.poll_event())
        .filter(|e| matches!(e, CircEvent::Data { .. }))
        .count();
    assert_eq!(n, 100);
}

fn closed_with(circ: &mut OriginCircuit) -> (CloseReason, Vec<ChanCell>) {
    let mut reason = None;
    while let Some(e) = circ.poll_event() {
        if let CircEvent::Closed(r) = e {
            reason = Some(r);
        }
    }
    let cells = std::iter::from_fn(|| circ.poll_cell()).collect();
    (reason.expect("circuit closed"), cells)
}

fn destroy(reason: DestroyReason) -> ChanCell {
    ChanCell::new(CIRC, Destroy { reason })
}

#[test]
fn bad_sendme_tag_closes() {
    let mut rng = rng();
    let (mut circ, mut path) = build(&[HandshakeKind::Ntor], false, &mut rng);
    path.echo = false;
    let s = open_stream(&mut circ, &mut path, &mut rng);
    circ.write(s, &vec![0u8; 100 * 498], &mut rng).unwrap();
    while circ.poll_cell().is_some() {}
    path.send_from(0, 0, &Sendme::v1([0xAA; 20]).into());
    circ.handle_cell(path.out.pop_front().unwrap(), &mut rng);
    let (reason, cells) = closed_with(&mut circ);
    assert!(matches!(
        reason,
        CloseReason::Protocol(ProtocolViolation::FlowControl(_))
    ));
    assert_eq!(cells, vec![destroy(DestroyReason::PROTOCOL)]);
    assert!(circ.is_closed());
    assert_eq!(circ.write(s, b"x", &mut rng), Err(ClientError::Closed));
}

#[test]
fn unrecognised_and_early_cells_close() {
    let mut rng = rng();
    let (mut circ, _path) = build(&[HandshakeKind::Ntor; 2], false, &mut rng);
    circ.handle_cell(ChanCell::new(CIRC, Relay::from_array([5u8; 509])), &mut rng);
    let (reason, cells) = closed_with(&mut circ);
    assert_eq!(
        reason,
        CloseReason::Protocol(ProtocolViolation::UnrecognizedCell)
    );
    assert_eq!(cells, vec![destroy(DestroyReason::PROTOCOL)]);

    let (mut circ, _path) = build(&[HandshakeKind::Ntor], false, &mut rng);
    let early = RelayEarly(Relay::from_array([0u8; 509]));
    circ.handle_cell(ChanCell::new(CIRC, early), &mut rng);
    let (reason, _) = closed_with(&mut circ);
    assert_eq!(
        reason,
        CloseReason::Protocol(ProtocolViolation::InboundRelayEarly)
    );
}

#[test]
fn destroy_and_truncated_close() {
    let mut rng = rng();
    let (mut circ, _path) = build(&[HandshakeKind::Ntor], false, &mut rng);
    circ.handle_cell(destroy(DestroyReason::FINISHED), &mut rng);
    let (reason, cells) = closed_with(&mut circ);
    assert_eq!(reason, CloseReason::Destroyed(DestroyReason::FINISHED));
    assert!(cells.is_empty(), "no DESTROY answers a DESTROY");

    let (mut circ, mut path) = build(&[HandshakeKind::Ntor; 2], false, &mut rng);
    path.send_from(0, 0, &Truncated { reason: 6 }.into());
    circ.handle_cell(path.out.pop_front().unwrap(), &mut rng);
    let (reason, cells) = closed_with(&mut circ);
    assert_eq!(reason, CloseReason::Truncated { hop: 0, reason: 6 });
    assert_eq!(cells, vec![destroy(DestroyReason::NONE)]);
    // Nothing happens after close.
    circ.handle_cell(destroy(DestroyReason::NONE), &mut rng);
    assert!(circ.poll_event().is_none());
}

#[test]
fn unexpected_messages_close() {
    let mut rng = rng();
    let (mut circ, mut path) = build(&[HandshakeKind::Ntor], false, &mut rng);
    path.send_from(
        0,
        0,
        &Extended2 {
            hdata: vec![0; 64].into(),
        }
        .into(),
    );
    circ.handle_cell(path.out.pop_front().unwrap(), &mut rng);
    assert!(matches!(
        closed_with(&mut circ).0,
        CloseReason::Protocol(ProtocolViolation::UnexpectedMessage { .. })
    ));

    let (mut circ, mut path) = build(&[HandshakeKind::Ntor], false, &mut rng);
    let s = open_stream(&mut circ, &mut path, &mut rng);
    path.send_from(0, s, &Connected::empty().into());
    circ.handle_cell(path.out.pop_front().unwrap(), &mut rng);
    assert!(matches!(
        closed_with(&mut circ).0,
        CloseReason::Protocol(ProtocolViolation::UnexpectedMessage { .. })
    ));
}

#[test]
fn ends_and_half_closed_streams() {
    let mut rng = rng();
    let (mut circ, mut path) = build(&[HandshakeKind::Ntor], false, &mut rng);
    path.echo = false;
    // Remote END.
    let a = open_stream(&mut circ, &mut path, &mut rng);
    path.send_from(0, a, &End::new(EndReason::DONE).into());
    let ev = pump(&mut circ, &mut path, &mut rng);
    assert_eq!(
        ev,
        vec![CircEvent::Ended {
            stream: a,
            reason: EndReason::DONE
        }]
    );
    assert_eq!(circ.end(a, &mut rng), Err(ClientError::NoSuchStream(a)));
    // Local END: late cells for the stream are dropped quietly, the circuit lives on.
    let b = open_stream(&mut circ, &mut path, &mut rng);
    circ.end(b, &mut rng).unwrap();
    pump(&mut circ, &mut path, &mut rng);
    path.send_from(0, b, &Data::new(&b"late"[..]).unwrap().into());
    path.send_from(0, b, &Sendme::Empty.into());
    path.send_from(0, b, &End::new(EndReason::DONE).into());
    path.send_from(0, 0, &Drop.into());
    assert!(pump(&mut circ, &mut path, &mut rng).is_empty());
    assert!(circ.is_ready());
    // DATA before CONNECTED ends that stream only.
    let c = circ.begin("x", 1, BeginFlags::NONE, &mut rng).unwrap();
    while circ.poll_cell().is_some() {}
    path.send_from(0, c, &Data::new(&b"early"[..]).unwrap().into());
    circ.handle_cell(path.out.pop_front().unwrap(), &mut rng);
    let ev: Vec<_> = std::iter::from_fn(|| circ.poll_event()).collect();
    assert_eq!(
        ev,
        vec![CircEvent::Ended {
            stream: c,
            reason: EndReason::TORPROTOCOL
        }]
    );
    assert!(circ.is_ready());
}

#[test]
fn resolve_and_begin_dir() {
    let mut rng = rng();
    let (mut circ, mut path) = build(&[HandshakeKind::NtorV3], false, &mut rng);
    let r = circ.resolve("example.com", &mut rng).unwrap();
    let ev = pump(&mut circ, &mut path, &mut rng);
    assert!(
        matches!(&ev[..], [CircEvent::Resolved { stream, answers }] if *stream == r && answers.len() == 1)
    );
    let d = circ.begin_dir(&mut rng).unwrap();
    let ev = pump(&mut circ, &mut path, &mut rng);
    assert!(matches!(ev[..], [CircEvent::Connected { stream, .. }] if stream == d));
    assert!(circ.can_write(d));
}

#[test]
fn misuse_is_refused() {
    let mut rng = rng();
    let t = FakeRelay::new(1).target(HandshakeKind::Ntor);
    let now = Instant::now();
    let mut circ = OriginCircuit::create(CIRC, &t, now, &mut rng).unwrap();
    assert_eq!(
        circ.begin("a", 1, BeginFlags::NONE, &mut rng),
        Err(ClientError::HandshakePending)
    );
    assert_eq!(circ.next_timeout(), Some(now + Duration::from_secs(60)));
    circ.handle_timeout(now + Duration::from_secs(59));
    assert!(!circ.is_closed());
    circ.handle_timeout(now + Duration::from_secs(60));
    let (reason, cells) = closed_with(&mut circ);
    assert_eq!(reason, CloseReason::Timeout);
    assert!(matches!(
        cells.last().map(|c| &c.msg),
        Some(AnyChanMsg::Destroy(_))
    ));

    let (mut circ, _path) = build(&[HandshakeKind::Ntor], false, &mut rng);
    let data: AnyRelayMsg = Data::new(&b"x"[..]).unwrap().into();
    assert_eq!(
        circ.send(0, 1, &data, &mut rng),
        Err(ClientError::ManagedCommand(data.cmd()))
    );
    assert_eq!(
        circ.send(1, 0, &Drop.into(), &mut rng),
        Err(ClientError::NoSuchHop(1))
    );
    circ.send(0, 0, &Drop.into(), &mut rng).unwrap();
    assert_eq!(
        circ.write(9, b"x", &mut rng),
        Err(ClientError::NoSuchStream(9))
    );
    // CREATED2 on an open circuit is a violation.
    circ.handle_cell(
        ChanCell::new(CIRC, crate::cell::Created2 { hdata: vec![0; 64] }),
        &mut rng,
    );
    assert!(matches!(
        closed_with(&mut circ).0,
        CloseReason::Protocol(ProtocolViolation::UnexpectedCell(_))
    ));
}

#[test]
fn circuit_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<OriginCircuit>();
    assert_send::<CircEvent>();
}
