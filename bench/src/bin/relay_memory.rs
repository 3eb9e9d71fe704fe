//! Resident memory per idle channel and per idle circuit at a relay: ours beside stock C tor,
//! same load, same run.
//!
//! For each relay (ours as a child process, then C tor): open one warm-up client channel
//! with one circuit, read the relay's resident set size (VmRSS, `/proc/PID/status`); open
//! `RELAY_MEMORY_CHANNELS` (default 500) more idle client channels and read it again; then
//! create `RELAY_MEMORY_CIRCUITS` (default 10,000) circuits spread over 10 of those channels
//! (CREATE_FAST: the same per-circuit state as ntor without the public-key work; every
//! CREATED_FAST is awaited), let them sit idle, and read it a third time.
//!
//! Printed: RSS at each step, bytes per idle channel, bytes per idle circuit. Allocator
//! behaviour makes these approximate (a few percent between runs).
//!
//! `cargo run --release -p oniongate-bench --bin relay_memory` (needs `tor` installed).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../../tests/common/ctor.rs"]
#[allow(dead_code, clippy::unwrap_used, clippy::expect_used)]
mod ctor;
#[path = "../relay_support.rs"]
mod support;

use std::time::Duration;

use oniongate::cell::{AnyChanMsg, ChanCell, CircId, CreateFast};
use rand::rngs::StdRng;
use rand::SeedableRng;
use support::{open_link, rss_bytes, Hop, OurRelay};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Figures {
    rss0: u64,
    rss1: u64,
    rss2: u64,
}

async fn settle() {
    tokio::time::sleep(Duration::from_millis(1500)).await;
}

async fn measure(hop: Hop, pid: u32, n_chan: usize, n_circ: usize) -> Figures {
    let mut rng = StdRng::seed_from_u64(1);
    // Warm-up: one channel, one full circuit handshake.
    let mut warm = open_link(&hop).await;
    let mut c = oniongate::client::OriginCircuit::create(
        CircId(0x8000_0001),
        &hop.target(oniongate::client::HandshakeKind::Ntor),
        std::time::Instant::now(),
        &mut rng,
    )
    .unwrap();
    warm.next_event(&mut c, &mut rng).await;
    settle().await;
    let rss0 = rss_bytes(pid);

    let mut links = Vec::with_capacity(n_chan);
    let mut set = tokio::task::JoinSet::new();
    let mut launched = 0;
    while links.len() < n_chan {
        while launched < n_chan && set.len() < 16 {
            let h = hop.clone();
            set.spawn(async move { open_link(&h).await });
            launched += 1;
        }
        links.push(set.join_next().await.unwrap().unwrap());
    }
    settle().await;
    let rss1 = rss_bytes(pid);

    let per = n_circ.div_ceil(10);
    let mut made = 0;
    for link in links.iter_mut().take(10) {
        let k = per.min(n_circ - made);
        for i in 0..k {
            let cell = ChanCell::new(
                CircId(0x8000_0000 | (i as u32 + 1)),
                CreateFast { x: [9; 20] },
            );
            link.send(&cell).await;
        }
        link.writer.flush().await.unwrap();
        for _ in 0..k {
            let cell = link.recv().await;
            assert!(
                matches!(cell.msg, AnyChanMsg::CreatedFast(_)),
                "expected CREATED_FAST, got {:?}",
                cell.msg
            );
        }
        made += k;
    }
    settle().await;
    let rss2 = rss_bytes(pid);
    drop(links);
    drop(warm);
    Figures { rss0, rss1, rss2 }
}

fn print(name: &str, f: &Figures, n_chan: usize, n_circ: usize) {
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    println!(
        "{name:<6} RSS {:>7.1} MiB -> {:>7.1} MiB with {n_chan} channels -> {:>7.1} MiB with {n_circ} circuits",
        mib(f.rss0),
        mib(f.rss1),
        mib(f.rss2)
    );
    println!(
        "{name:<6} {:>8.0} bytes per idle channel, {:>6.0} bytes per idle circuit",
        f.rss1.saturating_sub(f.rss0) as f64 / n_chan as f64,
        f.rss2.saturating_sub(f.rss1) as f64 / n_circ as f64
    );
}

fn main() {
    support::maybe_run_relay_child();
    let n_chan = env_usize("RELAY_MEMORY_CHANNELS", 500);
    let n_circ = env_usize("RELAY_MEMORY_CIRCUITS", 10_000);
    println!("relay_memory: {n_chan} idle channels, {n_circ} idle circuits");
    let rt = oniongate::rt::runtime().unwrap();
    let ours = OurRelay::start("mem");
    let a = rt.block_on(measure(ours.hop.clone(), ours.pid(), n_chan, n_circ));
    drop(ours);
    let ctor = ctor::CTorRelay::start("mem", &ctor::CTorOptions::default());
    let b = rt.block_on(measure(Hop::of_ctor(&ctor), ctor.pid(), n_chan, n_circ));
    print("ours", &a, n_chan, n_circ);
    print("C tor", &b, n_chan, n_circ);
}
