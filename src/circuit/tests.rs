//! Unit tests for the circuit layer: one relay driven cell by cell (the three-relay network
//! is in `tests/circuit_net.rs`).

#![allow(clippy::unwrap_used)]

use std::net::{Ipv4Addr, SocketAddrV4};

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::*;
use crate::cell::{CreateFast, Relay, RelayEarly};
use crate::crypto::fast;
use crate::crypto::tor1::OriginHop;
use crate::linkspec::LinkSpec;
use crate::relaycell::{self, Extend2};

const RSA: RsaIdentity = RsaIdentity([1; 20]);
const ED: Ed25519Identity = Ed25519Identity([2; 32]);
const PEER_RSA: RsaIdentity = RsaIdentity([3; 20]);
const PEER_ED: Ed25519Identity = Ed25519Identity([4; 32]);
const P: ChanId = ChanId(1);
const N: ChanId = ChanId(2);

fn relay() -> (RelayCircuits, StdRng) {
    let mut cfg = CircuitConfig::new(RSA, ED);
    cfg.extend_allow_private = true;
    let mut r = RelayCircuits::new(cfg);
    r.add_channel(
        P,
        ChannelInfo {
            we_initiated: false,
            peer_rsa: Some(PEER_RSA),
            peer_ed: Some(PEER_ED),
        },
    );
    (r, StdRng::seed_from_u64(1))
}

/// Opens a CREATE_FAST circuit on `P`; returns the client's hop state.
fn open_fast(
    r: &mut RelayCircuits,
    rng: &mut StdRng,
    id: CircId,
) -> OriginHop<crate::crypto::tor1::Tor1> {
    let (st, x) = fast::client1(rng);
    r.handle_cell(P, ChanCell::new(id, CreateFast { x }), rng);
    let Some(Action::Handshake(job)) = r.poll_action() else {
        panic!("no job")
    };
    assert!(job.is_cheap());
    let keys = OnionKeys {
        ntor: vec![],
        ntor_v3: vec![],
    };
    r.complete(job.run(&keys, rng));
    let Some(Action::Send { cell, .. }) = r.poll_action() else {
        panic!("no reply")
    };
    let AnyChanMsg::CreatedFast(c) = cell.msg else {
        panic!("not CREATED_FAST")
    };
    let mut reply = c.y.to_vec();
    reply.extend_from_slice(&c.kh);
    let keys = fast::client2(st, &reply)
        .unwrap()
        .into_relay_keys()
        .unwrap();
    OriginHop::new(keys.tor1())
}

fn relay_cell(
    hop: &mut OriginHop<crate::crypto::tor1::Tor1>,
    rng: &mut StdRng,
    sid: u16,
    msg: relaycell::AnyRelayMsg,
) -> Relay {
    let mut body = relaycell::encode_v0(sid, &msg, rng).unwrap();
    hop.originate_forward(&mut body.0);
    Relay::from_array(body.0)
}

fn destroyed(r: &mut RelayCircuits) -> Vec<(ChanId, DestroyReason)> {
    r.drain_actions()
        .into_iter()
        .filter_map(|a| match a {
            Action::Send { chan, cell } => match cell.msg {
                AnyChanMsg::Destroy(d) => Some((chan, d.reason)),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

fn extend2(specs: Vec<LinkSpec>) -> Extend2 {
    Extend2 {
        linkspecs: specs,
        htype: HandshakeType::NTOR,
        hdata: Bytes::from(vec![0u8; 84]),
    }
}

#[test]
fn extend2_validation_rules() {
    let cfg = {
        let mut c = CircuitConfig::new(RSA, ED);
        c.extend_allow_private = false;
        c
    };
    let prev = ChannelInfo {
        we_initiated: false,
        peer_rsa: Some(PEER_RSA),
        peer_ed: Some(PEER_ED),
    };
    let t = RsaIdentity([7; 20]);
    let v4 = LinkSpec::Ipv4(SocketAddrV4::new(Ipv4Addr::new(8, 8, 8, 8), 443));
    let ok = extend2(vec![v4.clone(), LinkSpec::LegacyId(t)]);
    let (target, c2) = extend::validate(&ok, &cfg, &prev).unwrap();
    assert_eq!(target.rsa_id, t);
    assert_eq!(c2.hdata.len(), 84);
    let refused = |e: Extend2| extend::validate(&e, &cfg, &prev).unwrap_err().0;
    // No legacy id, all-zero legacy id, duplicate ids.
    assert_eq!(refused(extend2(vec![v4.clone()])), DestroyReason::PROTOCOL);
    assert_eq!(
        refused(extend2(vec![
            v4.clone(),
            LinkSpec::LegacyId(RsaIdentity([0; 20]))
        ])),
        DestroyReason::PROTOCOL
    );
    assert_eq!(
        refused(extend2(vec![
            v4.clone(),
            LinkSpec::LegacyId(t),
            LinkSpec::LegacyId(t)
        ])),
        DestroyReason::PROTOCOL
    );
    assert_eq!(
        refused(extend2(vec![
            v4.clone(),
            LinkSpec::LegacyId(t),
            LinkSpec::Ed25519Id(ED),
            LinkSpec::Ed25519Id(ED)
        ])),
        DestroyReason::PROTOCOL
    );
    // No address; a private one without ExtendAllowPrivateAddresses; port 0.
    assert_eq!(
        refused(extend2(vec![LinkSpec::LegacyId(t)])),
        DestroyReason::PROTOCOL
    );
    let lo = LinkSpec::Ipv4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 9001));
    assert_eq!(
        refused(extend2(vec![lo, LinkSpec::LegacyId(t)])),
        DestroyReason::PROTOCOL
    );
    let p0 = LinkSpec::Ipv4(SocketAddrV4::new(Ipv4Addr::new(8, 8, 8, 8), 0));
    assert_eq!(
        refused(extend2(vec![p0, LinkSpec::LegacyId(t)])),
        DestroyReason::PROTOCOL
    );
    // Back to the previous hop, by either id; to ourselves.
    assert_eq!(
        refused(extend2(vec![v4.clone(), LinkSpec::LegacyId(PEER_RSA)])),
        DestroyReason::PROTOCOL
    );
    assert_eq!(
        refused(extend2(vec![
            v4.clone(),
            LinkSpec::LegacyId(t),
            LinkSpec::Ed25519Id(PEER_ED)
        ])),
        DestroyReason::PROTOCOL
    );
    assert_eq!(
        refused(extend2(vec![v4.clone(), LinkSpec::LegacyId(RSA)])),
        DestroyReason::CONNECTFAILED
    );
    // CREATE_FAST's type and a short ntor skin.
    let mut e = extend2(vec![v4.clone(), LinkSpec::LegacyId(t)]);
    e.htype = HandshakeType::RESERVED;
    assert_eq!(refused(e), DestroyReason::PROTOCOL);
    let mut e = extend2(vec![v4.clone(), LinkSpec::LegacyId(t)]);
    e.hdata = Bytes::from(vec![0u8; 83]);
    assert_eq!(refused(e), DestroyReason::PROTOCOL);
    // Unknown specifiers are ignored; only the first IPv4 counts.
    let e = extend2(vec![
        LinkSpec::Unrecognized {
            lstype: crate::linkspec::LinkSpecType(9),
            body: vec![1, 2],
        },
        v4,
        LinkSpec::Ipv4(SocketAddrV4::new(Ipv4Addr::new(9, 9, 9, 9), 1)),
        LinkSpec::LegacyId(t),
    ]);
    let (target, _) = extend::validate(&e, &cfg, &prev).unwrap();
    assert_eq!(target.ipv4.unwrap().ip(), &Ipv4Addr::new(8, 8, 8, 8));
}

#[test]
fn extend_and_inbound_relay_early() {
    let (mut r, mut rng) = relay();
    let id = CircId(0x8000_0001);
    let mut hop = open_fast(&mut r, &mut rng, id);
    let t = RsaIdentity([7; 20]);
    let v4 = LinkSpec::Ipv4(SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 2), 9001));
    let cell = relay_cell(
        &mut hop,
        &mut rng,
        0,
        extend2(vec![v4, LinkSpec::LegacyId(t)]).into(),
    );
    r.handle_cell(P, ChanCell::new(id, RelayEarly(cell)), &mut rng);
    let Some(Action::Extend { circ, target }) = r.poll_action() else {
        panic!("no extend")
    };
    assert_eq!(target.rsa_id, t);
    r.add_channel(
        N,
        ChannelInfo {
            we_initiated: true,
            peer_rsa: Some(t),
            peer_ed: None,
        },
    );
    r.extend_ready(circ, N, &mut rng);
    let Some(Action::Send { chan: N, cell }) = r.poll_action() else {
        panic!("no CREATE2")
    };
    assert!(cell.circ_id.has_high_bit(), "we initiated this channel");
    assert_eq!(r.circuit_for(N, cell.circ_id), Some(circ));
    // A forward cell for the next hop goes on unchanged in command (RELAY_EARLY stays).
    let mut body = [5u8; 509];
    hop.encrypt_forward(&mut body);
    r.handle_cell(
        P,
        ChanCell::new(id, RelayEarly(Relay::from_array(body))),
        &mut rng,
    );
    let Some(Action::Send { chan: N, cell: fwd }) = r.poll_action() else {
        panic!("not forwarded")
    };
    assert!(matches!(fwd.msg, AnyChanMsg::RelayEarly(_)));
    // An inbound RELAY_EARLY closes the circuit both ways.
    r.handle_cell(
        N,
        ChanCell::new(cell.circ_id, RelayEarly(Relay::from_array([0; 509]))),
        &mut rng,
    );
    let mut d = destroyed(&mut r);
    d.sort();
    assert_eq!(
        d,
        vec![(P, DestroyReason::PROTOCOL), (N, DestroyReason::PROTOCOL)]
    );
    assert_eq!(r.n_circuits(), 0);
    assert_eq!(r.n_circuits_on(P), 0);
}

#[test]
fn channel_close_and_late_results() {
    let (mut r, mut rng) = relay();
    let id = CircId(0x8000_0001);
    let (_, x) = fast::client1(&mut rng);
    r.handle_cell(P, ChanCell::new(id, CreateFast { x }), &mut rng);
    let Some(Action::Handshake(job)) = r.poll_action() else {
        panic!()
    };
    assert_eq!(r.n_pending_on(P), 1);
    r.channel_closed(P);
    assert_eq!(r.n_circuits(), 0);
    // The job finishes after the circuit went away: nothing happens.
    let keys = OnionKeys {
        ntor: vec![],
        ntor_v3: vec![],
    };
    r.complete(job.run(&keys, &mut rng));
    assert!(r.poll_action().is_none());
}

#[test]
fn destroy_from_p_side_goes_on_as_destroyed() {
    let (mut r, mut rng) = relay();
    let id = CircId(0x8000_0001);
    let mut hop = open_fast(&mut r, &mut rng, id);
    let t = RsaIdentity([7; 20]);
    let v4 = LinkSpec::Ipv4(SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 2), 9001));
    let cell = relay_cell(
        &mut hop,
        &mut rng,
        0,
        extend2(vec![v4, LinkSpec::LegacyId(t)]).into(),
    );
    r.handle_cell(P, ChanCell::new(id, RelayEarly(cell)), &mut rng);
    let Some(Action::Extend { circ, .. }) = r.poll_action() else {
        panic!()
    };
    r.add_channel(
        N,
        ChannelInfo {
            we_initiated: true,
            peer_rsa: Some(t),
            peer_ed: None,
        },
    );
    r.extend_ready(circ, N, &mut rng);
    r.drain_actions();
    r.handle_cell(
        P,
        ChanCell::new(
            id,
            Destroy {
                reason: DestroyReason::FINISHED,
            },
        ),
        &mut rng,
    );
    assert_eq!(destroyed(&mut r), vec![(N, DestroyReason::DESTROYED)]);
    // The n-side channel closing later finds nothing.
    r.channel_closed(N);
    assert!(r.poll_action().is_none());
}

#[test]
fn extend_to_a_channel_of_another_relay() {
    let (mut r, mut rng) = relay();
    let id = CircId(0x8000_0001);
    let mut hop = open_fast(&mut r, &mut rng, id);
    let t = RsaIdentity([7; 20]);
    let v4 = LinkSpec::Ipv4(SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 2), 9001));
    let cell = relay_cell(
        &mut hop,
        &mut rng,
        0,
        extend2(vec![v4, LinkSpec::LegacyId(t), LinkSpec::Ed25519Id(ED_T)]).into(),
    );
    r.handle_cell(P, ChanCell::new(id, RelayEarly(cell)), &mut rng);
    let Some(Action::Extend { circ, .. }) = r.poll_action() else {
        panic!()
    };
    r.add_channel(
        N,
        ChannelInfo {
            we_initiated: true,
            peer_rsa: Some(t),
            peer_ed: Some(Ed25519Identity([8; 32])),
        },
    );
    r.extend_ready(circ, N, &mut rng);
    assert_eq!(destroyed(&mut r), vec![(P, DestroyReason::OR_IDENTITY)]);
}

const ED_T: Ed25519Identity = Ed25519Identity([6; 32]);

#[test]
fn forwarding_does_not_copy_a_unique_buffer() {
    let (mut r, mut rng) = relay();
    let id = CircId(0x8000_0001);
    let hop = open_fast(&mut r, &mut rng, id);
    drop(hop);
    let circ = r.circuits()[0];
    let t = RsaIdentity([7; 20]);
    r.add_channel(
        N,
        ChannelInfo {
            we_initiated: true,
            peer_rsa: Some(t),
            peer_ed: None,
        },
    );
    // Attach an n-side by hand through the public path.
    if let Some(c) = r.circs.get_mut(&(P, id)) {
        c.n = table::NSide::Open {
            chan: N,
            id: CircId(0x8000_0009),
        };
    }
    r.nside.insert((N, CircId(0x8000_0009)), (P, id));
    let buf = Bytes::from(vec![0x55u8; 509]);
    let ptr = buf.as_ptr();
    r.handle_cell(
        N,
        ChanCell::new(CircId(0x8000_0009), Relay::from_bytes(buf).unwrap()),
        &mut rng,
    );
    let Some(Action::Send { chan: P, cell }) = r.poll_action() else {
        panic!()
    };
    let AnyChanMsg::Relay(out) = cell.msg else {
        panic!()
    };
    assert_eq!(out.body().as_ptr(), ptr, "encrypted in place, same buffer");
    assert!(r.is_live(circ));

    // Bodies straight out of the codec, split off one larger read buffer (two cells and the
    // start of a third), are forwarded in place both ways: no copy anywhere.
    let codec = crate::cell::ChannelCodec::new(Some(5)).unwrap();
    let mut wire = bytes::BytesMut::new();
    let back = ChanCell::new(CircId(0x8000_0009), Relay::from_array([0x55; 509]));
    let fwd = ChanCell::new(id, Relay::from_array([0x66; 509]));
    codec.encode(&back, &mut wire).unwrap();
    codec.encode(&fwd, &mut wire).unwrap();
    wire.extend_from_slice(&[0x80, 0, 0, 1, 3, 0, 0]);
    let base = wire.as_ptr();
    let from_n = codec.decode(&mut wire).unwrap().unwrap();
    let from_p = codec.decode(&mut wire).unwrap().unwrap();
    assert_eq!(wire.len(), 7, "the partial third cell stays buffered");
    r.handle_cell(N, from_n, &mut rng);
    let Some(Action::Send { chan: P, cell }) = r.poll_action() else {
        panic!()
    };
    let AnyChanMsg::Relay(out) = cell.msg else {
        panic!()
    };
    assert_eq!(
        out.body().as_ptr(),
        base.wrapping_add(5),
        "backward: in place"
    );
    assert_ne!(out.body(), &[0x55; 509][..], "and encrypted");
    r.handle_cell(P, from_p, &mut rng);
    let Some(Action::Send { chan: N, cell }) = r.poll_action() else {
        panic!()
    };
    assert_eq!(cell.circ_id, CircId(0x8000_0009));
    let AnyChanMsg::Relay(out) = cell.msg else {
        panic!()
    };
    assert_eq!(
        out.body().as_ptr(),
        base.wrapping_add(514 + 5),
        "forward: in place"
    );
    assert_ne!(out.body(), &[0x66; 509][..], "and decrypted");
    assert!(r.is_live(circ));
}

#[test]
fn fuzz_driver_reaches_the_recognised_path() {
    // CREATE_FAST on the client channel, run the job, then a BEGIN to 127.0.0.1:80
    // encrypted with our hop: the exit policy accepts private targets, so a Connect follows.
    // Channel 1's peer is a relay, so BEGIN is allowed there.
    let mut data = vec![0u8, 0xC1, 6, 0xC1, 2, 0xC1];
    let target = b"127.0.0.1:80\0";
    let mut cell = vec![1u8, 0, 0, 0, 5, 0, 0, 0, 0, 0, target.len() as u8];
    cell.extend_from_slice(target);
    cell.resize(509, 0);
    data.extend_from_slice(&cell);
    let stats = fuzzing::run(&data);
    assert!(stats.max_circuits >= 1);
    assert!(stats.stream_actions >= 1, "{stats:?}");
}

#[test]
fn jobs_and_state_can_cross_threads() {
    fn send<T: Send + 'static>() {}
    send::<HandshakeJob>();
    send::<HandshakeResult>();
    send::<RelayCircuits>();
    send::<Action>();
    fn sync<T: Sync>() {}
    sync::<OnionKeys>();
}
