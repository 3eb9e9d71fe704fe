//! Cells per CPU-second that one relay forwards as a middle hop: ours vs stock C tor in the
//! same position, with the same load, in the same run.
//!
//! Setup on loopback: our guard and our exit (child processes), and a middle that is first
//! our relay (a child process), then a C tor relay. A client in this process opens
//! `RELAY_FORWARD_CIRCS` (default 4) 3-hop ntor circuits [guard, middle, exit], each on its
//! own client channel, and pushes `RELAY_FORWARD_MIB` (default 32) MiB each way through an
//! exit stream to a TCP echo server on every circuit at once. Cells forwarded by the middle
//! = the circuit cells the client sent and received during the transfer (DATA and SENDMEs,
//! both directions: each crosses the middle once). The middle's CPU time (user + system,
//! all threads) comes from `/proc/PID/stat` before and after the transfer.
//!
//! Printed: for each middle, cells, CPU seconds, cells per CPU-second, wall seconds, and the
//! ratio ours / C tor. Everything shares the machine's cores, so wall time says little;
//! CPU time is per process.
//!
//! `cargo run --release -p oniongate-bench --bin relay_forward` (needs `tor` installed).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../../tests/common/ctor.rs"]
#[allow(dead_code, clippy::unwrap_used, clippy::expect_used)]
mod ctor;
#[path = "../relay_support.rs"]
mod support;

use std::time::Instant;

use oniongate::cell::CircId;
use rand::rngs::StdRng;
use rand::SeedableRng;
use support::{cpu_seconds, echo_server, open_link, Hop, OurRelay};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Figures {
    cells: u64,
    cpu: f64,
    wall: f64,
}

async fn run_load(hops: [Hop; 3], middle_pid: u32, circs: usize, bytes: usize) -> Figures {
    let echo = echo_server().await;
    // Build every circuit and open its stream first, then measure only the transfer.
    let mut ready = Vec::new();
    for i in 0..circs {
        let mut rng = StdRng::seed_from_u64(i as u64);
        let mut link = open_link(&hops[0]).await;
        let mut circ = link.build(CircId(0x8000_0001), &hops, &mut rng).await;
        let s = link.open_stream(&mut circ, echo, &mut rng).await;
        link.sent = 0;
        link.received = 0;
        ready.push((link, circ, s, rng));
    }
    let cpu0 = cpu_seconds(middle_pid);
    let t0 = Instant::now();
    let tasks: Vec<_> = ready
        .into_iter()
        .map(|(mut link, mut circ, s, mut rng)| {
            tokio::spawn(async move {
                link.echo(&mut circ, s, bytes, &mut rng).await;
                link.sent + link.received
            })
        })
        .collect();
    let mut cells = 0;
    for t in tasks {
        cells += t.await.unwrap();
    }
    Figures {
        cells,
        cpu: cpu_seconds(middle_pid) - cpu0,
        wall: t0.elapsed().as_secs_f64(),
    }
}

fn print(name: &str, f: &Figures) -> f64 {
    let rate = f.cells as f64 / f.cpu.max(1e-9);
    println!(
        "{name:<8} {:>10} cells  {:>7.2} CPU-s  {:>10.0} cells/CPU-s  ({:.1} s wall)",
        f.cells, f.cpu, rate, f.wall
    );
    rate
}

fn main() {
    support::maybe_run_relay_child();
    let circs = env_usize("RELAY_FORWARD_CIRCS", 4);
    let mib = env_usize("RELAY_FORWARD_MIB", 32);
    let bytes = mib << 20;
    println!("relay_forward: {circs} circuits x {mib} MiB each way through the middle hop");
    let guard = OurRelay::start("bguard");
    let exit = OurRelay::start("bexit");
    let ours = OurRelay::start("bmiddle");
    let ctor = ctor::CTorRelay::start("bmid", &ctor::CTorOptions::default());
    let rt = oniongate::rt::runtime().unwrap();
    let a = rt.block_on(run_load(
        [guard.hop.clone(), ours.hop.clone(), exit.hop.clone()],
        ours.pid(),
        circs,
        bytes,
    ));
    let b = rt.block_on(run_load(
        [guard.hop.clone(), Hop::of_ctor(&ctor), exit.hop.clone()],
        ctor.pid(),
        circs,
        bytes,
    ));
    let ra = print("ours", &a);
    let rb = print("C tor", &b);
    println!("ratio ours / C tor (cells per CPU-second): {:.2}", ra / rb);
}
