//! Our relay runtime (`rt::relay`) in mixed circuits with stock C tor 0.4.9 relays on
//! loopback: [ours, C tor, ours] (C tor extends to our relay, our exit serves the stream) and
//! [C tor, ours, C tor] (our relay extends to C tor, C tor's exit serves the stream), each
//! carrying an exit stream to a TCP echo server end to end, with ntor and ntor-v3 hops.

#![allow(clippy::unwrap_used)]

mod common;
mod relay_support;

use common::ctor::{CTorOptions, CTorRelay, TempDir};
use oniongate::cell::CircId;
use oniongate::client::HandshakeKind::{Ntor, NtorV3};
use oniongate::crypto::ll::X25519Public;
use oniongate::ids::{Ed25519Identity, RsaIdentity};
use rand::rngs::StdRng;
use rand::SeedableRng;
use relay_support::*;

fn ctor_hop(r: &CTorRelay) -> Hop {
    Hop {
        addr: r.or_addr,
        rsa_id: RsaIdentity(r.rsa_id),
        ed_id: Ed25519Identity(r.ed_id),
        ntor_key: X25519Public::from(r.ntor_key),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ours_c_tor_ours() {
    let dir = TempDir::new("relay-ctor");
    let cmid = tokio::task::spawn_blocking(|| CTorRelay::start("cmid", &CTorOptions::default()))
        .await
        .unwrap();
    let r1 = start_relay(&dir, "ours1").await;
    let r3 = start_relay(&dir, "ours3").await;
    let hops = [Hop::ours(&r1), ctor_hop(&cmid), Hop::ours(&r3)];
    let (echo, mut closed) = echo_server().await;
    let mut rng = StdRng::from_entropy();
    let mut link = open_link(&hops[0]).await;
    for (i, kinds) in [[Ntor, Ntor, Ntor], [NtorV3, NtorV3, NtorV3]]
        .iter()
        .enumerate()
    {
        let mut circ = build(
            &mut link,
            CircId(0x8000_0010 + i as u32),
            &hops,
            kinds,
            &mut rng,
        )
        .await;
        let s = open_stream(&mut link, &mut circ, echo, &mut rng).await;
        echo_bulk(&mut link, &mut circ, s, 1 << 20, &mut rng).await;
        end_and_check(&mut link, &mut circ, s, &mut closed, 1 << 20, &mut rng).await;
    }
    assert_eq!(r1.shutdown().await, 0);
    assert_eq!(r3.shutdown().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_tor_ours_c_tor() {
    let dir = TempDir::new("relay-ctor");
    let exit_opts = CTorOptions {
        exit_policy: Some(vec!["accept 127.0.0.1:*".into(), "reject *:*".into()]),
        extra: vec!["RefuseUnknownExits 0".into()],
    };
    let (cguard, cexit) = tokio::task::spawn_blocking(move || {
        std::thread::scope(|s| {
            let g = s.spawn(|| CTorRelay::start("cguard", &CTorOptions::default()));
            let e = s.spawn(|| CTorRelay::start("cexit", &exit_opts));
            (g.join().unwrap(), e.join().unwrap())
        })
    })
    .await
    .unwrap();
    let r2 = start_relay(&dir, "ours2").await;
    let hops = [ctor_hop(&cguard), Hop::ours(&r2), ctor_hop(&cexit)];
    let (echo, mut closed) = echo_server().await;
    let mut rng = StdRng::from_entropy();
    let mut link = open_link(&hops[0]).await;
    for (i, kinds) in [[Ntor, Ntor, Ntor], [NtorV3, NtorV3, NtorV3]]
        .iter()
        .enumerate()
    {
        let mut circ = build(
            &mut link,
            CircId(0x8000_0020 + i as u32),
            &hops,
            kinds,
            &mut rng,
        )
        .await;
        let s = open_stream(&mut link, &mut circ, echo, &mut rng).await;
        echo_bulk(&mut link, &mut circ, s, 1 << 20, &mut rng).await;
        end_and_check(&mut link, &mut circ, s, &mut closed, 1 << 20, &mut rng).await;
    }
    assert_eq!(r2.shutdown().await, 0);
}
