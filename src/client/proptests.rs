//! Property tests of the origin circuit against the fake relay path: random backward cells
//! never panic, and windows stay within their bounds under random interleavings.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;

use super::tests::{build, open_stream, pump, rng, CIRC};
use super::*;
use crate::cell::{ChanCell, Relay};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Random backward cells — raw garbage, or well-encrypted bodies with random commands,
    /// stream ids and lengths from a random hop — never panic, and the windows stay within
    /// their bounds whatever happens.
    #[test]
    fn random_backward_cells_never_panic(
        cells in proptest::collection::vec(
            (any::<bool>(), 0usize..3, any::<u8>(), 0u16..4, 0u16..600, any::<[u8; 32]>()),
            1..60,
        ),
    ) {
        let mut rng = rng();
        let (mut circ, mut path) = build(&[HandshakeKind::Ntor; 3], false, &mut rng);
        let s = open_stream(&mut circ, &mut path, &mut rng);
        circ.write(s, &[9u8; 2000], &mut rng).unwrap();
        pump(&mut circ, &mut path, &mut rng);
        for (garbage, hop, cmd, sid_pick, len, fill) in cells {
            let mut body = [0u8; 509];
            for (i, b) in body.iter_mut().enumerate() {
                *b = fill[i % 32] ^ (i as u8);
            }
            if garbage || circ.is_closed() || path.n_hops() == 0 {
                circ.handle_cell(ChanCell::new(CIRC, Relay::from_array(body)), &mut rng);
            } else {
                let sid = [0, s, s.wrapping_add(1), 77][usize::from(sid_pick)];
                body[0] = cmd;
                body[3..5].copy_from_slice(&sid.to_be_bytes());
                body[9..11].copy_from_slice(&len.to_be_bytes());
                path.send_raw(hop, body);
                while let Some(c) = path.out.pop_front() {
                    circ.handle_cell(c, &mut rng);
                }
            }
            while circ.poll_event().is_some() {}
            while circ.poll_cell().is_some() {}
            for h in 0..circ.n_hops() {
                let (p, d) = circ.hop_windows(h).unwrap();
                prop_assert!(p <= 1000 && d <= 1000);
            }
            if let Some((p, d)) = circ.stream_windows(s) {
                prop_assert!(p <= 500 && d <= 500);
            }
        }
    }
}

/// One step of the random-interleaving proptest.
#[derive(Debug, Clone)]
enum Step {
    /// Write this many bytes on stream 0 or 1.
    Write(usize, usize),
    /// Move up to this many cells client → relays.
    Forward(usize),
    /// Move up to this many cells relays → client.
    Backward(usize),
    /// Pause or resume reads on a stream.
    Pause(usize, bool),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0usize..2, 1usize..40_000).prop_map(|(s, n)| Step::Write(s, n)),
        (1usize..300).prop_map(Step::Forward),
        (1usize..300).prop_map(Step::Backward),
        (0usize..2, any::<bool>()).prop_map(|(s, p)| Step::Pause(s, p)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    /// Random interleavings of writes, partial delivery both ways and read pauses on two
    /// echo streams: the fake relays check every SENDME tag and window the client must
    /// respect, the client's windows stay within bounds, and all bytes come back in order.
    #[test]
    fn random_interleavings_keep_windows(steps in proptest::collection::vec(step(), 1..80)) {
        let mut rng = rng();
        let (mut circ, mut path) = build(&[HandshakeKind::Ntor, HandshakeKind::NtorV3], false, &mut rng);
        let ids = [open_stream(&mut circ, &mut path, &mut rng), open_stream(&mut circ, &mut path, &mut rng)];
        let mut sent: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
        let mut back: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
        let mut counter = 0u8;
        let drain = |circ: &mut OriginCircuit, back: &mut [Vec<u8>; 2]| -> Result<(), TestCaseError> {
            while let Some(e) = circ.poll_event() {
                match e {
                    CircEvent::Data { stream, data } => {
                        let i = ids.iter().position(|s| *s == stream).unwrap();
                        back[i].extend_from_slice(&data);
                    }
                    CircEvent::Writable { .. } => {}
                    other => prop_assert!(false, "unexpected {:?}", other),
                }
            }
            Ok(())
        };
        for st in steps {
            match st {
                Step::Write(i, n) => {
                    let data: Vec<u8> = (0..n).map(|_| { counter = counter.wrapping_add(1); counter }).collect();
                    let took = circ.write(ids[i], &data, &mut rng).unwrap();
                    prop_assert_eq!(took < n, !circ.can_write(ids[i]));
                    sent[i].extend_from_slice(&data[..took]);
                }
                Step::Forward(k) => {
                    for _ in 0..k {
                        match circ.poll_cell() {
                            Some(c) => path.handle(c),
                            None => break,
                        }
                    }
                }
                Step::Backward(k) => {
                    for _ in 0..k {
                        match path.out.pop_front() {
                            Some(c) => circ.handle_cell(c, &mut rng),
                            None => break,
                        }
                    }
                }
                Step::Pause(i, p) => circ.pause_reads(ids[i], p, &mut rng).unwrap(),
            }
            drain(&mut circ, &mut back)?;
            prop_assert!(!circ.is_closed());
            for h in 0..2 {
                let (p, d) = circ.hop_windows(h).unwrap();
                prop_assert!(p <= 1000 && (900..=1000).contains(&d));
            }
            for s in ids {
                let (p, d) = circ.stream_windows(s).unwrap();
                prop_assert!(p <= 500 && d <= 500);
            }
        }
        // Drain everything (reads resumed) and compare.
        for s in ids {
            circ.pause_reads(s, false, &mut rng).unwrap();
        }
        pump(&mut circ, &mut path, &mut rng).into_iter().for_each(|e| {
            if let CircEvent::Data { stream, data } = e {
                let i = ids.iter().position(|s| *s == stream).unwrap();
                back[i].extend_from_slice(&data);
            }
        });
        for i in 0..2 {
            prop_assert_eq!(path.received.get(&ids[i]).cloned().unwrap_or_default(), sent[i].clone());
            prop_assert!(back[i] == sent[i]);
        }
    }
}
