//! Relay-cell crypto throughput, in cells per CPU-second, measured in one run on one machine:
//!
//! - (a) a forwarding hop: one AES-128-CTR layer per cell, plus the digest check on cells
//!   whose `recognized` field decrypts to zero. The traffic is what a guard or middle relay
//!   sees: no cell is for this hop (random bodies, so about 1 in 65,536 reaches the digest
//!   check and fails it). For contrast, (a′) an exit whose every cell is for it.
//! - (b) an origin sending to hop 3 of a 3-hop circuit: one SHA-1 running digest, three
//!   AES-128-CTR layers.
//! - the raw primitives on 509-byte bodies: AES-128-CTR keystream, and SHA-1 (absorb the
//!   body into a running state, then finalise a copy, which is the per-cell digest work).
//!
//! Printed: each figure in cells per CPU-second and MB/s (of 509-byte bodies), the ratios
//! (a)/(raw AES) and (b)/(ideal), where ideal = 1 / (3·t_AES + t_SHA-1) per cell.
//!
//! CPU time is this thread's, read from `/proc/thread-self/schedstat` (nanoseconds); if
//! that is missing, `/proc/self/stat` utime+stime (clock ticks, coarse); failing both,
//! wall-clock time, which the output then says. Single-threaded.
//!
//! `cargo run --release -p oniongate-bench --bin relay_crypto` runs about 0.4 s per figure; set
//! `RELAY_CRYPTO_BENCH_SECS` (e.g. `3`) for longer runs. Keys and data are fixed, so every
//! run computes the same bytes.

use std::hint::black_box;
use std::time::Instant;

use cipher::{KeyIvInit, StreamCipher};
use digest::Digest;
use oniongate::crypto::ll::Aes128Ctr;
use oniongate::crypto::tor1::{
    OriginCrypto, OriginLayer, RelayCellBody, Tor1RelayCrypto, BODY_LEN, TOR1_KEY_MATERIAL_LEN,
};

/// How CPU time is read.
#[derive(Clone, Copy, PartialEq)]
enum Clock {
    /// `/proc/thread-self/schedstat`, ns.
    Schedstat,
    /// `/proc/self/stat` utime + stime, clock ticks (assumed 100 Hz).
    ProcStat,
    /// `Instant`, wall time.
    Wall,
}

impl Clock {
    fn detect() -> Clock {
        if read_schedstat().is_some() {
            Clock::Schedstat
        } else if read_proc_stat().is_some() {
            Clock::ProcStat
        } else {
            Clock::Wall
        }
    }

    fn name(self) -> &'static str {
        match self {
            Clock::Schedstat => "thread CPU time (/proc/thread-self/schedstat, ns)",
            Clock::ProcStat => "process CPU time (/proc/self/stat utime+stime, 10 ms ticks)",
            Clock::Wall => {
                "WALL-CLOCK time (no /proc CPU clock found): figures are per wall-second"
            }
        }
    }

    /// Seconds on this clock since an arbitrary origin.
    fn now(self, origin: Instant) -> f64 {
        match self {
            Clock::Schedstat => read_schedstat().unwrap_or(0) as f64 / 1e9,
            Clock::ProcStat => read_proc_stat().unwrap_or(0) as f64 / 100.0,
            Clock::Wall => origin.elapsed().as_secs_f64(),
        }
    }
}

fn read_schedstat() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

fn read_proc_stat() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown (no /proc/cpuinfo)".into())
}

/// Deterministic filler (xorshift64*), so every run computes the same bytes.
fn fill(buf: &mut [u8], mut state: u64) {
    for chunk in buf.chunks_mut(8) {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let v = state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes();
        chunk.copy_from_slice(&v[..chunk.len()]);
    }
}

fn key_material(n: u64) -> [u8; TOR1_KEY_MATERIAL_LEN] {
    let mut k = [0u8; TOR1_KEY_MATERIAL_LEN];
    fill(&mut k, 0x5EED_0000 + n);
    k
}

/// Cells kept in flight per batch (about 2 MB).
const BATCH: usize = 4096;

struct Measurement {
    name: &'static str,
    cells: u64,
    secs: f64,
}

impl Measurement {
    fn rate(&self) -> f64 {
        self.cells as f64 / self.secs
    }
    fn secs_per_cell(&self) -> f64 {
        self.secs / self.cells as f64
    }
}

/// Runs `batch` (which processes `BATCH` cells) until `target` seconds of the clock pass.
fn measure(
    name: &'static str,
    clock: Clock,
    origin: Instant,
    target: f64,
    mut batch: impl FnMut(),
) -> Measurement {
    // Warm up (caches, CPU frequency).
    batch();
    let t0 = clock.now(origin);
    let mut cells = 0u64;
    let mut t1 = t0;
    while t1 - t0 < target || cells == 0 {
        batch();
        cells += BATCH as u64;
        t1 = clock.now(origin);
    }
    Measurement {
        name,
        cells,
        secs: (t1 - t0).max(1e-9),
    }
}

fn main() {
    let target: f64 = std::env::var("RELAY_CRYPTO_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.4);
    let clock = Clock::detect();
    let origin = Instant::now();
    println!("relay_crypto benchmark (single thread)");
    println!("  CPU:   {}", cpu_model());
    println!("  clock: {}", clock.name());
    println!("  {target} s per figure (RELAY_CRYPTO_BENCH_SECS), {BATCH} cells per batch");
    println!();

    let mut cells: Vec<RelayCellBody> = vec![[0u8; BODY_LEN]; BATCH];
    for (i, c) in cells.iter_mut().enumerate() {
        fill(c, 0xCE11_0000 + i as u64);
    }

    // Raw AES-128-CTR over 509-byte bodies (one continuous keystream, as on a circuit).
    let mut aes = Aes128Ctr::new(&[7u8; 16].into(), &[0u8; 16].into());
    let raw_aes = measure("raw AES-128-CTR, 509 B", clock, origin, target, || {
        for c in cells.iter_mut() {
            aes.apply_keystream(black_box(c));
        }
    });

    // Raw SHA-1: absorb 509 bytes into a running state, finalise a copy.
    let mut sha = sha1::Sha1::new();
    sha.update([9u8; 20]);
    let mut sink = 0u8;
    let raw_sha = measure("raw SHA-1, 509 B + finalize", clock, origin, target, || {
        for c in cells.iter() {
            sha.update(black_box(&c[..]));
            sink ^= sha.clone().finalize()[0];
        }
    });
    let mut sha_u = sha1::Sha1::new();
    let raw_sha_update = measure(
        "raw SHA-1, 509 B update only",
        clock,
        origin,
        target,
        || {
            for c in cells.iter() {
                sha_u.update(black_box(&c[..]));
            }
        },
    );
    black_box(sink);
    black_box(sha_u.finalize());

    // (a) Forwarding hop: no cell is for us.
    let mut middle = Tor1RelayCrypto::new(&key_material(2));
    let mut recognised = 0u64;
    let fwd = measure(
        "(a) forwarding hop (no cell for us)",
        clock,
        origin,
        target,
        || {
            for c in cells.iter_mut() {
                if middle.decrypt_forward(black_box(c)).is_some() {
                    recognised += 1;
                }
            }
        },
    );
    assert_eq!(recognised, 0, "a random cell was recognised");

    // (a′) Exit: every cell is for us. Such cells can only come from an origin in step
    // with the exit, so time origin+exit together and subtract the origin's one-hop cost.
    let exit_km = key_material(3);
    let mut one_hop = OriginCrypto::new();
    one_hop.push(OriginLayer::tor1(&exit_km));
    let mut exit = Tor1RelayCrypto::new(&exit_km);
    let mut plain: Vec<RelayCellBody> = cells.clone();
    for c in plain.iter_mut() {
        c[1] = 0;
        c[2] = 0;
    }
    let mut work = plain.clone();
    let origin_1hop = measure("origin, 1 hop (for a′)", clock, origin, target, || {
        for (w, p) in work.iter_mut().zip(plain.iter()) {
            *w = *p;
            black_box(one_hop.encrypt_forward(w, 0).ok());
        }
    });
    let mut one_hop = OriginCrypto::new();
    one_hop.push(OriginLayer::tor1(&exit_km));
    let mut missed = 0u64;
    let origin_and_exit = measure("origin 1 hop + exit", clock, origin, target, || {
        for (w, p) in work.iter_mut().zip(plain.iter()) {
            *w = *p;
            let _ = one_hop.encrypt_forward(w, 0);
            if exit.decrypt_forward(w).is_none() {
                missed += 1;
            }
        }
    });
    assert_eq!(missed, 0, "exit failed to recognise a cell");
    let exit_secs = (origin_and_exit.secs_per_cell() - origin_1hop.secs_per_cell()).max(1e-12);
    let exit = Measurement {
        name: "(a′) exit (every cell for us)",
        cells: 1_000_000,
        secs: exit_secs * 1e6,
    };

    // (b) Origin encrypting for hop 3 of 3.
    let mut client = OriginCrypto::new();
    for n in 0..3 {
        client.push(OriginLayer::tor1(&key_material(10 + n)));
    }
    let origin3 = measure("(b) origin, 3 hops", clock, origin, target, || {
        for c in cells.iter_mut() {
            black_box(client.encrypt_forward(c, 2).ok());
        }
    });

    let mb = |m: &Measurement| m.rate() * BODY_LEN as f64 / 1e6;
    println!(
        "{:<40} {:>16} {:>10} {:>10}",
        "", "cells/CPU-s", "MB/s", "ns/cell"
    );
    for m in [
        &raw_aes,
        &raw_sha,
        &raw_sha_update,
        &fwd,
        &exit,
        &origin_1hop,
        &origin3,
    ] {
        println!(
            "{:<40} {:>16.0} {:>10.1} {:>10.1}",
            m.name,
            m.rate(),
            mb(m),
            m.secs_per_cell() * 1e9
        );
    }
    let ideal_b = 1.0 / (3.0 * raw_aes.secs_per_cell() + raw_sha.secs_per_cell());
    println!();
    println!(
        "(a) / raw AES                      = {:.3}",
        fwd.rate() / raw_aes.rate()
    );
    println!(
        "(b) / (3×AES + SHA-1) ideal        = {:.3}   (ideal {:.0} cells/s)",
        origin3.rate() / ideal_b,
        ideal_b
    );
    println!("(MB/s counts whole 509-byte bodies; at most 498 bytes of each are payload.)");
    println!("(a′) is (origin 1 hop + exit) minus (origin 1 hop), per cell.");
}
