//! An in-memory Tor network of three `RelayCircuits` and a hand-rolled client, wired by a
//! harness that shuttles cells (through the real channel codec) and executes the relays'
//! actions: handshake jobs, channel look-ups for EXTEND2, TCP connects to in-memory sockets.
//!
//! Covers: 3-hop circuits with ntor, ntor-v3, CREATE_FAST and mixes; an exit stream moving
//! 10 MiB each way intact with circuit and stream SENDMEs; DESTROY from the middle tearing
//! down both ends; and bad input closing exactly one circuit with a reason.

#![allow(clippy::unwrap_used)]

include!("circuit_support/harness.rs");

#[test]
fn build_three_hop_circuits() {
    for kinds in [
        [Kind::Ntor, Kind::Ntor, Kind::Ntor],
        [Kind::NtorV3, Kind::NtorV3, Kind::NtorV3],
        [Kind::Fast, Kind::NtorV3, Kind::Ntor],
        [Kind::Ntor, Kind::Ntor, Kind::NtorV3],
    ] {
        let mut net = three_relays();
        let mut c = Client::new();
        c.build(&mut net, &kinds);
        assert_eq!(
            net.nodes.iter().map(|n| n.rc.n_circuits()).sum::<usize>(),
            3
        );
        assert_eq!(net.handshakes_run, 3);
        // DROP to the last hop is ignored; the circuit stays.
        c.send(&mut net, 2, 0, oniongate::relaycell::Drop.into(), false);
        net.pump();
        assert!(c.recv(&mut net).is_empty() && c.destroyed.is_none());
        assert_eq!(net.nodes[2].rc.n_circuits(), 1);
    }
}

fn open_stream(net: &mut Net, c: &mut Client) -> StreamRef {
    c.send(
        net,
        2,
        7,
        Begin::new("127.0.0.1", 80, BeginFlags::NONE).into(),
        false,
    );
    net.pump();
    let got = c.recv(net);
    assert!(
        matches!(got.as_slice(), [(2, 7, AnyRelayMsg::Connected(_))]),
        "{got:?}"
    );
    *net.socks.keys().next().unwrap()
}

#[test]
fn ten_mib_each_way() {
    const SIZE: usize = 10 * 1024 * 1024;
    let mut net = three_relays();
    let mut up = vec![0u8; SIZE];
    let mut down = vec![0u8; SIZE];
    net.rng.fill_bytes(&mut up);
    net.rng.fill_bytes(&mut down);
    net.server_payload = down.clone();
    let mut c = Client::new();
    c.build(&mut net, &[Kind::Ntor, Kind::NtorV3, Kind::Ntor]);
    let s = open_stream(&mut net, &mut c);
    let mut off = 0;
    for _round in 0..100_000 {
        while off < SIZE && c.send_win.can_send() && c.s_send.window() > 0 {
            let end = (off + 498).min(SIZE);
            let d = Data::new(up[off..end].to_vec()).unwrap();
            c.s_send.data_sent().unwrap();
            c.send(&mut net, 2, 7, d.into(), false);
            off = end;
        }
        net.pump();
        let got = c.recv(&mut net);
        assert!(got.is_empty(), "{got:?}");
        assert!(c.destroyed.is_none());
        if off == SIZE && c.down.len() == SIZE && net.socks[&s].rx.len() == SIZE {
            break;
        }
    }
    assert!(net.socks[&s].rx == up, "upload intact");
    assert!(c.down == down, "download intact");
    // END from the client closes the socket; a late DATA on that stream is dropped quietly.
    c.send(&mut net, 2, 7, End::new(EndReason::DONE).into(), false);
    c.send(
        &mut net,
        2,
        7,
        Data::new(&b"late"[..]).unwrap().into(),
        false,
    );
    net.pump();
    assert!(net.socks[&s].closed);
    assert!(c.recv(&mut net).is_empty() && c.destroyed.is_none());
    assert_eq!(net.nodes[2].rc.n_streams(s.circ), 0);
}

#[test]
fn destroy_in_the_middle_tears_down_both_ends() {
    let mut net = three_relays();
    let mut c = Client::new();
    c.build(&mut net, &[Kind::Ntor, Kind::Ntor, Kind::Ntor]);
    let s = open_stream(&mut net, &mut c);
    // The middle relay's runtime closes the circuit (say, its queue overflowed).
    let mid = net.nodes[1].rc.circuits()[0];
    net.nodes[1]
        .rc
        .close_circuit(mid, DestroyReason::RESOURCELIMIT);
    net.pump();
    c.recv(&mut net);
    // Relay 1 sent DESTROY(RESOURCELIMIT) both ways; relay 0 passes it on as DESTROYED
    // (reasons are not propagated: tor-spec §5.4, C tor `command_process_destroy_cell`).
    assert_eq!(c.destroyed, Some(DestroyReason::DESTROYED));
    assert!(net.nodes.iter().all(|n| n.rc.n_circuits() == 0));
    assert!(net.socks[&s].closed, "exit socket closed");
}

/// Two 3-hop circuits; `bad` misbehaves on the first, which relay `at` must close with
/// `reason` (the others pass it on as DESTROYED), while the second keeps working.
fn exactly_one_closed(at: usize, reason: DestroyReason, bad: impl FnOnce(&mut Net, &mut Client)) {
    let mut net = three_relays();
    let mut c1 = Client::with_id(0x8000_0001);
    let mut c2 = Client::with_id(0x8000_0002);
    c1.build(&mut net, &[Kind::Ntor, Kind::Ntor, Kind::Ntor]);
    c2.build(&mut net, &[Kind::NtorV3, Kind::Ntor, Kind::NtorV3]);
    bad(&mut net, &mut c1);
    net.pump();
    // Route the inbox to the right client.
    let cells: Vec<_> = net.inbox.drain(..).collect();
    for cell in cells {
        net.inbox.push_back(cell.clone());
        if cell.circ_id == c1.id {
            c1.recv(&mut net);
        } else {
            c2.recv(&mut net);
        }
    }
    assert_eq!(
        net.destroys.first(),
        Some(&(at, reason)),
        "{:?}",
        net.destroys
    );
    let seen = if at == 0 {
        reason
    } else {
        DestroyReason::DESTROYED
    };
    assert_eq!(c1.destroyed, Some(seen));
    assert_eq!(c2.destroyed, None);
    assert_eq!(
        net.nodes.iter().map(|n| n.rc.n_circuits()).sum::<usize>(),
        3
    );
    c2.send(&mut net, 2, 0, oniongate::relaycell::Drop.into(), false);
    net.pump();
    c2.recv(&mut net);
    assert_eq!(c2.destroyed, None);
}

#[test]
fn malformed_relay_message_closes_one_circuit() {
    exactly_one_closed(2, DestroyReason::PROTOCOL, |net, c| {
        // A relay header claiming 499 data bytes.
        let mut body = encode_v0(0, &oniongate::relaycell::Drop.into(), &mut c.rng).unwrap();
        body.0[9..11].copy_from_slice(&499u16.to_be_bytes());
        c.crypto.encrypt_forward(&mut body.0, 2).unwrap();
        net.client_send(ChanCell::new(c.id, Relay::from_array(body.0)));
    });
}

#[test]
fn extend2_in_relay_closes_one_circuit() {
    exactly_one_closed(2, DestroyReason::PROTOCOL, |net, c| {
        let n = &net.nodes[0];
        let ext = Extend2 {
            linkspecs: vec![LinkSpec::Ipv4(n.addr), LinkSpec::LegacyId(n.rsa)],
            htype: HandshakeType::NTOR,
            hdata: vec![0u8; 84].into(),
        };
        c.send(net, 2, 0, ext.into(), false);
    });
}

#[test]
fn ninth_relay_early_closes_one_circuit() {
    exactly_one_closed(0, DestroyReason::PROTOCOL, |net, c| {
        // Building used two RELAY_EARLY cells at relay 0; six more are fine, the 9th is not.
        for _ in 0..6 {
            c.send(net, 2, 0, oniongate::relaycell::Drop.into(), true);
        }
        net.pump();
        assert_eq!(net.nodes[0].rc.n_circuits(), 2);
        c.send(net, 2, 0, oniongate::relaycell::Drop.into(), true);
    });
}

#[test]
fn unrecognized_cell_at_last_hop_closes_one_circuit() {
    exactly_one_closed(2, DestroyReason::PROTOCOL, |net, c| {
        let mut body = encode_v0(0, &oniongate::relaycell::Drop.into(), &mut c.rng).unwrap();
        c.crypto.encrypt_forward(&mut body.0, 2).unwrap();
        body.0[100] ^= 1; // the last hop's digest check now fails
        net.client_send(ChanCell::new(c.id, Relay::from_array(body.0)));
    });
}

#[test]
fn unknown_relay_command_is_dropped_as_c_tor_does() {
    let mut net = three_relays();
    let mut c = Client::new();
    c.build(&mut net, &[Kind::Ntor, Kind::Ntor, Kind::Ntor]);
    let m =
        oniongate::relaycell::AnyRelayMsg::decode_slice(oniongate::relaycell::RelayCmd(99), b"x")
            .unwrap();
    c.send(&mut net, 2, 0, m, false);
    net.pump();
    assert!(c.recv(&mut net).is_empty());
    assert_eq!(c.destroyed, None);
    assert_eq!(net.nodes[2].rc.n_circuits(), 1);
}

#[test]
fn extend_back_to_previous_hop_and_mismatched_identity() {
    // Back to the previous hop: relay 1 asked to extend to relay 0.
    exactly_one_closed(1, DestroyReason::PROTOCOL, |net, c| {
        // Truncate at relay 1 first so that it may extend again.
        c.send(net, 1, 0, oniongate::relaycell::Truncate.into(), false);
        net.pump();
        let got = c.recv(net);
        assert!(
            matches!(got.as_slice(), [(1, 0, AnyRelayMsg::Truncated(t))] if t.reason == 3),
            "{got:?}"
        );
        // TRUNCATE passed the client's reason byte (0: the body is empty) to relay 2.
        assert_eq!(
            net.destroys.drain(..).collect::<Vec<_>>(),
            vec![(1, DestroyReason::NONE)]
        );
        assert_eq!(net.nodes[2].rc.n_circuits(), 1);
        let n = &net.nodes[0];
        let ext = Extend2 {
            linkspecs: vec![LinkSpec::Ipv4(n.addr), LinkSpec::LegacyId(n.rsa)],
            htype: HandshakeType::NTOR,
            hdata: vec![0u8; 84].into(),
        };
        c.send(net, 1, 0, ext.into(), true);
    });
    // An Ed25519 id that the channel's peer does not have.
    let mut net = three_relays();
    let mut c = Client::new();
    c.build(&mut net, &[Kind::Ntor, Kind::Ntor]);
    let n = &net.nodes[2];
    let (ht, hdata, _p) = c.onion_skin(&net.nodes[2], Kind::Ntor);
    let ext = Extend2 {
        linkspecs: vec![
            LinkSpec::Ipv4(n.addr),
            LinkSpec::LegacyId(n.rsa),
            LinkSpec::Ed25519Id(Ed25519Identity([9; 32])),
        ],
        htype: ht,
        hdata: hdata.into(),
    };
    c.send(&mut net, 1, 0, ext.into(), true);
    net.pump();
    c.recv(&mut net);
    assert_eq!(c.destroyed, Some(DestroyReason::DESTROYED));
    assert!(net.nodes.iter().all(|n| n.rc.n_circuits() == 0));
}

#[test]
fn create2_flood_over_the_cap() {
    let mut net = Net::new(1, |_, c| {
        c.max_pending_handshakes_per_channel = 4;
        c.max_circuits_per_channel = 6;
    });
    let mut c = Client::new();
    let node_rsa = net.nodes[0].rsa;
    let node_onion = net.nodes[0].onion;
    for i in 0..20u32 {
        let (_, m) = ntor::client1(&mut c.rng, &node_rsa, &node_onion);
        net.client_send(ChanCell::new(
            CircId(0x8000_0100 + i),
            Create2 {
                htype: HandshakeType::NTOR,
                hdata: m.to_vec(),
            },
        ));
    }
    // Deliver every cell before any handshake job runs.
    while let Some((Peer::Relay(i, ch), cell)) = net.queue.pop_front() {
        net.nodes[i].rc.handle_cell(ch, cell, &mut net.rng);
    }
    assert_eq!(net.nodes[0].rc.n_pending_on(CLIENT_CHAN), 4);
    net.pump();
    let mut created = 0;
    let mut refused = 0;
    for cell in net.inbox.drain(..) {
        match cell.msg {
            AnyChanMsg::Created2(_) => created += 1,
            AnyChanMsg::Destroy(d) => {
                assert_eq!(d.reason, DestroyReason::RESOURCELIMIT);
                refused += 1
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!((created, refused), (4, 16));
    // More CREATE2s: two more fit under the circuit cap, then RESOURCELIMIT again.
    for i in 20..24u32 {
        let (_, m) = ntor::client1(&mut c.rng, &node_rsa, &node_onion);
        net.client_send(ChanCell::new(
            CircId(0x8000_0100 + i),
            Create2 {
                htype: HandshakeType::NTOR,
                hdata: m.to_vec(),
            },
        ));
        net.pump();
    }
    assert_eq!(net.nodes[0].rc.n_circuits_on(CLIENT_CHAN), 6);
    assert_eq!(net.nodes[0].rc.n_pending_on(CLIENT_CHAN), 0);
}

#[test]
fn circuit_id_rules() {
    let mut net = Net::new(1, |_, _| {});
    let mut c = Client::new();
    let (rsa, onion) = (net.nodes[0].rsa, net.nodes[0].onion);
    // Wrong half: the client initiated TLS, so its ids must have the high bit.
    let (_, m) = ntor::client1(&mut c.rng, &rsa, &onion);
    net.client_send(ChanCell::new(
        CircId(5),
        Create2 {
            htype: HandshakeType::NTOR,
            hdata: m.to_vec(),
        },
    ));
    net.pump();
    assert!(
        matches!(net.inbox.pop_front().unwrap().msg, AnyChanMsg::Destroy(d) if d.reason == DestroyReason::PROTOCOL)
    );
    // TAP and unknown types: DESTROY(PROTOCOL).
    for ht in [HandshakeType::TAP, HandshakeType(7)] {
        net.client_send(ChanCell::new(
            CircId(0x8000_0005),
            Create2 {
                htype: ht,
                hdata: vec![0; 84],
            },
        ));
        net.pump();
        assert!(
            matches!(net.inbox.pop_front().unwrap().msg, AnyChanMsg::Destroy(d) if d.reason == DestroyReason::PROTOCOL)
        );
    }
    // Reused live id: ignored.
    c.build(&mut net, &[Kind::Ntor]);
    let (_, m) = ntor::client1(&mut c.rng, &rsa, &onion);
    net.client_send(ChanCell::new(
        c.id,
        Create2 {
            htype: HandshakeType::NTOR,
            hdata: m.to_vec(),
        },
    ));
    net.pump();
    assert!(net.inbox.is_empty());
    assert_eq!(net.nodes[0].rc.n_circuits(), 1);
    // Id 0 (the codec refuses it on the wire; the circuit layer ignores it too).
    net.nodes[0].rc.handle_cell(
        CLIENT_CHAN,
        ChanCell::new(CircId(0), CreateFast { x: [1; 20] }),
        &mut net.rng,
    );
    assert!(net.nodes[0].rc.poll_action().is_none());
    // A relay cell while the handshake is pending closes that circuit.
    let (_, m) = ntor::client1(&mut c.rng, &rsa, &onion);
    net.client_send(ChanCell::new(
        CircId(0x8000_0077),
        Create2 {
            htype: HandshakeType::NTOR,
            hdata: m.to_vec(),
        },
    ));
    net.client_send(ChanCell::new(
        CircId(0x8000_0077),
        Relay::from_array([0; 509]),
    ));
    net.pump();
    assert!(
        matches!(net.inbox.pop_front().unwrap().msg, AnyChanMsg::Destroy(d) if d.reason == DestroyReason::PROTOCOL)
    );
    assert!(net.inbox.is_empty(), "no CREATED2 for a closed circuit");
    assert_eq!(net.nodes[0].rc.n_circuits(), 1);
}

#[test]
fn exit_refusals() {
    // Relay 1 is not an exit; relay 2 accepts only 127/8 explicitly.
    let mut net = three_relays();
    let mut c = Client::new();
    c.build(&mut net, &[Kind::Ntor, Kind::Ntor]);
    c.send(
        &mut net,
        1,
        3,
        Begin::new("127.0.0.1", 80, BeginFlags::NONE).into(),
        false,
    );
    c.send(
        &mut net,
        1,
        4,
        Begin::new("example.com", 80, BeginFlags::NONE).into(),
        false,
    );
    net.pump();
    let got = c.recv(&mut net);
    assert!(
        matches!(&got[0], (1, 3, AnyRelayMsg::End(e)) if e.reason == EndReason::EXITPOLICY && e.exit_policy_addr.is_some()),
        "{got:?}"
    );
    assert!(
        matches!(&got[1], (1, 4, AnyRelayMsg::End(e)) if e.reason == EndReason::RESOLVEFAILED),
        "{got:?}"
    );
    // BEGIN_DIR works on any hop of a dir cache.
    c.send(&mut net, 1, 5, oniongate::relaycell::BeginDir.into(), false);
    net.pump();
    assert!(matches!(
        c.recv(&mut net).as_slice(),
        [(1, 5, AnyRelayMsg::Connected(_))]
    ));

    // At the exit: a public address is outside the policy; loopback by name works.
    let mut net = three_relays();
    let mut c = Client::new();
    c.build(&mut net, &[Kind::Ntor, Kind::Ntor, Kind::Ntor]);
    c.send(
        &mut net,
        2,
        3,
        Begin::new("8.8.8.8", 53, BeginFlags::NONE).into(),
        false,
    );
    c.send(
        &mut net,
        2,
        4,
        Begin::new("localhost", 80, BeginFlags::NONE).into(),
        false,
    );
    net.pump();
    let got = c.recv(&mut net);
    assert!(
        matches!(&got[0], (2, 3, AnyRelayMsg::End(e)) if e.reason == EndReason::EXITPOLICY),
        "{got:?}"
    );
    assert!(
        matches!(&got[1], (2, 4, AnyRelayMsg::Connected(_))),
        "{got:?}"
    );

    // A one-hop circuit from a client may not exit (C tor: no single-hop proxies).
    let mut net = Net::new(1, |_, c| c.exit_policy = exit_policy_loopback());
    let mut c = Client::new();
    c.build(&mut net, &[Kind::Fast]);
    c.send(
        &mut net,
        0,
        3,
        Begin::new("127.0.0.1", 80, BeginFlags::NONE).into(),
        false,
    );
    net.pump();
    assert!(
        matches!(c.recv(&mut net).as_slice(), [(0, 3, AnyRelayMsg::End(e))] if e.reason == EndReason::TORPROTOCOL)
    );
    assert_eq!(c.destroyed, None);
}

#[test]
fn wildcard_policy_does_not_open_loopback() {
    let mut net = Net::new(3, |i, c| {
        if i == 2 {
            c.exit_policy = ExitPolicy::new(
                vec![PolicyRule {
                    action: PolicyAction::Accept,
                    addr: PolicyAddr::Any,
                    port_lo: 1,
                    port_hi: 65535,
                }],
                false,
            );
        }
    });
    let mut c = Client::new();
    c.build(&mut net, &[Kind::Ntor, Kind::Ntor, Kind::Ntor]);
    c.send(
        &mut net,
        2,
        3,
        Begin::new("127.0.0.1", 80, BeginFlags::NONE).into(),
        false,
    );
    net.pump();
    assert!(
        matches!(c.recv(&mut net).as_slice(), [(2, 3, AnyRelayMsg::End(e))] if e.reason == EndReason::EXITPOLICY)
    );
}

#[test]
fn wrong_sendme_tag_closes_one_circuit() {
    exactly_one_closed(2, DestroyReason::PROTOCOL, |net, c| {
        // 150 DATA cells from the exit: it records the tag of the 100th.
        net.server_payload = vec![7u8; 150 * 498];
        c.send(
            net,
            2,
            9,
            Begin::new("127.0.0.1", 80, BeginFlags::NONE).into(),
            false,
        );
        net.pump();
        c.send(net, 2, 0, Sendme::v1([0xAB; 20]).into(), false);
    });
}

#[test]
fn resolve_begin_dir_and_not_a_dir_cache() {
    let mut net = Net::new(3, |i, c| {
        if i == 2 {
            c.exit_policy = exit_policy_loopback();
            c.dir_cache = false;
        }
    });
    let mut c = Client::new();
    c.build(&mut net, &[Kind::Ntor, Kind::Ntor, Kind::Ntor]);
    c.send(
        &mut net,
        2,
        3,
        oniongate::relaycell::Resolve::new("localhost").into(),
        false,
    );
    c.send(&mut net, 2, 4, oniongate::relaycell::BeginDir.into(), false);
    net.pump();
    let mut got = c.recv(&mut net);
    got.sort_by_key(|g| g.1);
    assert!(
        matches!(&got[0], (2, 3, AnyRelayMsg::Resolved(r)) if r.answers.len() == 1),
        "{got:?}"
    );
    assert!(
        matches!(&got[1], (2, 4, AnyRelayMsg::End(e)) if e.reason == EndReason::NOTDIRECTORY),
        "{got:?}"
    );
    assert_eq!(c.destroyed, None);
}
