//! Three of our relays (`rt::relay`) in one process, on loopback, with a client built from
//! `client::OriginCircuit` over `rt::channel::connect`: 3-hop circuits with ntor, ntor-v3
//! and mixed handshakes; an exit stream to a TCP echo server carrying 10 MiB each way; a
//! DESTROY from the middle tearing down both ends; and, at the runtime level, a garbage TLS
//! peer and a CREATE2 flood on one channel while a second channel keeps working.

#![allow(clippy::unwrap_used)]

mod common;
mod relay_support;

use std::time::Duration;

use common::ctor::TempDir;
use oniongate::cell::{AnyChanMsg, ChanCell, CircId, Create2, DestroyReason, HandshakeType};
use oniongate::client::{CircEvent, CloseReason, HandshakeKind};
use oniongate::rt::relay::RelayHandle;
use rand::rngs::StdRng;
use rand::SeedableRng;
use relay_support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use HandshakeKind::{Ntor, NtorV3};

async fn three(dir: &TempDir) -> (RelayHandle, RelayHandle, RelayHandle) {
    let a = start_relay(dir, "r1").await;
    let b = start_relay(dir, "r2").await;
    let c = start_relay(dir, "r3").await;
    (a, b, c)
}

async fn wait_for(
    relay: &RelayHandle,
    what: &str,
    ok: impl Fn(oniongate::rt::relay::RelayStats) -> bool,
) {
    for _ in 0..200 {
        if ok(relay.stats().await.unwrap()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{what}: {:?}", relay.stats().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hop_circuits_and_ten_mib_each_way() {
    let dir = TempDir::new("relay-net");
    let (r1, r2, r3) = three(&dir).await;
    let hops = [Hop::ours(&r1), Hop::ours(&r2), Hop::ours(&r3)];
    let (echo, mut closed) = echo_server().await;
    let mut rng = StdRng::from_entropy();
    let mut link = open_link(&hops[0]).await;
    let cases: [(&[HandshakeKind; 3], usize); 3] = [
        (&[Ntor, Ntor, Ntor], 10 << 20),
        (&[NtorV3, NtorV3, NtorV3], 10 << 20),
        (&[NtorV3, Ntor, NtorV3], 10 << 20),
    ];
    for (i, (kinds, size)) in cases.into_iter().enumerate() {
        let id = CircId(0x8000_0100 + i as u32);
        let mut circ = build(&mut link, id, &hops, kinds, &mut rng).await;
        let s = open_stream(&mut link, &mut circ, echo, &mut rng).await;
        echo_bulk(&mut link, &mut circ, s, size, &mut rng).await;
        end_and_check(&mut link, &mut circ, s, &mut closed, size as u64, &mut rng).await;
    }
    // One channel from the client; r1→r2 and r2→r3 reused by every circuit.
    assert_eq!(r1.stats().await.unwrap().channels, 2);
    assert_eq!(r2.stats().await.unwrap().channels, 2);
    assert_eq!(r3.stats().await.unwrap().channels, 1);
    assert_eq!(r3.stats().await.unwrap().circuits, 3);
    for r in [r1, r2, r3] {
        assert_eq!(r.shutdown().await, 0, "every task stopped");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destroy_from_the_middle_tears_down_both_ends() {
    let dir = TempDir::new("relay-net");
    let (r1, r2, r3) = three(&dir).await;
    let hops = [Hop::ours(&r1), Hop::ours(&r2), Hop::ours(&r3)];
    let (echo, mut closed) = echo_server().await;
    let mut rng = StdRng::from_entropy();
    let mut link = open_link(&hops[0]).await;
    let mut circ = build(
        &mut link,
        CircId(0x8000_0001),
        &hops,
        &[Ntor, NtorV3, Ntor],
        &mut rng,
    )
    .await;
    let s = open_stream(&mut link, &mut circ, echo, &mut rng).await;
    echo_bulk(&mut link, &mut circ, s, 100_000, &mut rng).await;
    r2.close_all_circuits(DestroyReason::RESOURCELIMIT).await;
    match link.next_event(&mut circ, &mut rng).await {
        // Reasons are not passed on: the guard says DESTROYED.
        CircEvent::Closed(CloseReason::Destroyed(r)) => assert_eq!(r, DestroyReason::DESTROYED),
        other => panic!("expected DESTROY, got {other:?}"),
    }
    let echoed = tokio::time::timeout(Duration::from_secs(20), closed.recv())
        .await
        .expect("the exit closed its TCP connection")
        .unwrap();
    assert_eq!(echoed, 100_000);
    for r in [&r1, &r2, &r3] {
        wait_for(r, "circuits gone", |s| s.circuits == 0 && s.streams == 0).await;
    }
    for r in [r1, r2, r3] {
        assert_eq!(r.shutdown().await, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_peer_and_create2_flood_do_not_stop_other_channels() {
    let dir = TempDir::new("relay-net");
    let (r1, r2, r3) = three(&dir).await;
    let hops = [Hop::ours(&r1), Hop::ours(&r2), Hop::ours(&r3)];
    let mut rng = StdRng::from_entropy();

    // Garbage instead of a TLS ClientHello: the relay drops that connection.
    let mut junk = tokio::net::TcpStream::connect(hops[0].addr).await.unwrap();
    junk.write_all(&[0x16, 0x03, 0x01, 0xff, 0xff, 1, 2, 3, 4, 5, 6, 7, 8])
        .await
        .unwrap();
    junk.write_all(&[0x55; 4096]).await.unwrap();
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(10), junk.read(&mut buf))
        .await
        .expect("the relay closes a garbage connection");
    assert!(matches!(n, Ok(_) | Err(_)));

    // A CREATE2 flood (garbage ntor onion skins) on one channel.
    let mut flood = open_link(&hops[0]).await;
    for i in 0..5000u32 {
        let cell = ChanCell::new(
            CircId(0x8000_0000 | (i + 1)),
            Create2 {
                htype: HandshakeType::NTOR,
                hdata: vec![(i % 251) as u8; 84],
            },
        );
        flood.writer.queue(&cell).unwrap();
    }
    flood.writer.flush().await.unwrap();

    // Meanwhile a second channel builds a circuit and moves data.
    let (echo, mut closed) = echo_server().await;
    let mut link = open_link(&hops[0]).await;
    let mut circ = build(
        &mut link,
        CircId(0x8000_0001),
        &hops,
        &[Ntor, Ntor, NtorV3],
        &mut rng,
    )
    .await;
    let s = open_stream(&mut link, &mut circ, echo, &mut rng).await;
    echo_bulk(&mut link, &mut circ, s, 200_000, &mut rng).await;
    end_and_check(&mut link, &mut circ, s, &mut closed, 200_000, &mut rng).await;

    // The flood got answers (DESTROY for bad skins or the caps), never a stall.
    let mut answered = 0;
    while answered < 100 {
        match flood.try_recv().await {
            Some(c) => {
                assert!(matches!(c.msg, AnyChanMsg::Destroy(_)), "{:?}", c.msg);
                answered += 1;
            }
            None => break,
        }
    }
    assert!(answered > 0);
    for r in [r1, r2, r3] {
        assert_eq!(r.shutdown().await, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_does_not_read_is_cut_off() {
    use oniongate::cell::CreateFast;
    use oniongate::rt::relay::RelayOptions;
    let dir = TempDir::new("relay-net");
    let opts = RelayOptions {
        channel_queue_cells: 256,
        ..RelayOptions::default()
    };
    let r1 = start_relay_with(&dir, "slow", opts).await;
    let hop = Hop::ours(&r1);
    // CREATE_FAST after CREATE_FAST, never reading: each one is answered (CREATED_FAST, then
    // DESTROY once over the per-channel cap), until the TCP buffers and then the bounded
    // queue are full and the relay closes the channel.
    let mut slow = open_link(&hop).await;
    wait_for(&r1, "the channel is registered", |s| s.channels == 1).await;
    let writer = tokio::spawn(async move {
        for i in 1..=200_000u32 {
            let cell = ChanCell::new(CircId(0x8000_0000 | i), CreateFast { x: [7; 20] });
            slow.writer.queue(&cell).unwrap();
            if i % 256 == 0 && slow.writer.flush().await.is_err() {
                return (i, slow);
            }
        }
        (200_000, slow)
    });
    wait_for(&r1, "the non-reading channel is closed", |s| {
        s.channels == 0
    })
    .await;
    // A new channel works.
    let mut rng = StdRng::from_entropy();
    let mut link = open_link(&hop).await;
    let mut circ = oniongate::client::OriginCircuit::create(
        CircId(0x8000_0001),
        &hop.target(Ntor),
        std::time::Instant::now(),
        &mut rng,
    )
    .unwrap();
    assert!(matches!(
        link.next_event(&mut circ, &mut rng).await,
        CircEvent::HopAdded { hops: 1 }
    ));
    writer.abort();
    assert_eq!(r1.shutdown().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_circuits_share_relay_channels() {
    let dir = TempDir::new("relay-net");
    let (r1, r2, r3) = three(&dir).await;
    let hops = [Hop::ours(&r1), Hop::ours(&r2), Hop::ours(&r3)];
    let (echo, _closed) = echo_server().await;
    let tasks: Vec<_> = (0..4u32)
        .map(|i| {
            let hops = hops.clone();
            tokio::spawn(async move {
                let mut rng = StdRng::from_entropy();
                let mut link = open_link(&hops[0]).await;
                let kinds = if i % 2 == 0 {
                    [Ntor, Ntor, Ntor]
                } else {
                    [NtorV3, NtorV3, NtorV3]
                };
                let mut circ = build(&mut link, CircId(0x8000_0001), &hops, &kinds, &mut rng).await;
                let s = open_stream(&mut link, &mut circ, echo, &mut rng).await;
                echo_bulk(&mut link, &mut circ, s, 3 << 20, &mut rng).await;
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    // The client channels are gone (dropped with their tasks), and with them every circuit;
    // one channel stays on each relay-to-relay link, shared by all four circuits.
    wait_for(&r1, "guard", |s| s.channels == 1 && s.circuits == 0).await;
    wait_for(&r2, "middle", |s| s.channels == 2 && s.circuits == 0).await;
    wait_for(&r3, "exit", |s| {
        s.channels == 1 && s.circuits == 0 && s.streams == 0
    })
    .await;
    for r in [r1, r2, r3] {
        assert_eq!(r.shutdown().await, 0);
    }
}

/// A circuit of one hop through `link` to `hop` with `key` as its ntor onion key.
async fn one_hop(
    link: &mut Link,
    id: u32,
    hop: &Hop,
    key: oniongate::crypto::ll::X25519Public,
) -> CircEvent {
    let mut rng = StdRng::from_entropy();
    let mut h = hop.clone();
    h.ntor_key = key;
    let mut circ = oniongate::client::OriginCircuit::create(
        CircId(0x8000_0000 | id),
        &h.target(Ntor),
        std::time::Instant::now(),
        &mut rng,
    )
    .unwrap();
    link.next_event(&mut circ, &mut rng).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_rotate_while_running() {
    use oniongate::rt::relay::RelayOptions;
    let dir = TempDir::new("relay-net");
    let mut opts = RelayOptions::default();
    opts.key_policy.tls_key_lifetime = Duration::from_secs(2);
    opts.key_policy.onion_key_lifetime = Duration::from_secs(3);
    let r = start_relay_with(&dir, "rot", opts).await;
    let hop = Hop::ours(&r);
    let old_key = r.ntor_onion_key();
    let mut before = open_link(&hop).await;
    assert!(matches!(
        one_hop(&mut before, 1, &hop, old_key).await,
        CircEvent::HopAdded { hops: 1 }
    ));
    // Wait for the TLS link key and the onion key to rotate.
    let start = std::time::Instant::now();
    while r.current_ntor_onion_key() == old_key {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "onion key never rotated"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let new_key = r.current_ntor_onion_key();
    // A channel opened after the rotation (new TLS certificate and link certs) works, with
    // the new onion key and, during the grace period, the previous one.
    let mut after = open_link(&hop).await;
    assert!(matches!(
        one_hop(&mut after, 1, &hop, new_key).await,
        CircEvent::HopAdded { hops: 1 }
    ));
    assert!(matches!(
        one_hop(&mut after, 2, &hop, old_key).await,
        CircEvent::HopAdded { hops: 1 }
    ));
    // The channel opened before the rotation goes on working.
    assert!(matches!(
        one_hop(&mut before, 2, &hop, new_key).await,
        CircEvent::HopAdded { hops: 1 }
    ));
    // The rotated keys are on disk: a restart loads the same identity and the new onion key.
    assert_eq!(r.shutdown().await, 0);
    let r2 = start_relay(&dir, "rot").await;
    assert_eq!(r2.rsa_id(), hop.rsa_id);
    assert_eq!(r2.ntor_onion_key(), new_key);
    assert_eq!(r2.shutdown().await, 0);
}
