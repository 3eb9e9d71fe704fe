//! Issue 4's client benchmark: bootstrap time (start to 100%) and circuit build time (p50,
//! p95 over 100 circuits) of our client against a stock C tor client, on the same private
//! network in the same run; prints both and the ratios (ours / C tor).
//!
//! The network comes from `tests/common/ctornet.rs`: by default 1 C tor authority and 5 C
//! tor relays (2 exits) on loopback. Each client starts from an empty data directory once
//! the network has a consensus listing every relay and the relays cache every
//! microdescriptor, so bootstrap time is the client's own (process start to
//! `Bootstrapped 100%`), not the network's.
//!
//! C tor client: started `--bootstraps` times (default 3, median reported); its circuits
//! are built one at a time through its control port (`EXTENDCIRCUIT 0` with no path, timed
//! from sending the command to the `650 CIRC <id> BUILT` event; each circuit is then
//! closed). The C tor client runs with the harness's client settings
//! (`LearnCircuitBuildTimeout 0`, `PathsNeededToBuildCircuits 0.25`).
//!
//! Our client: [`measure_ours`] is the place where `rt::tor_client` plugs in; until that
//! unit is merged, this program says that ours is not measured and prints no ratios.
//!
//! `cargo run --release -p oniongate-bench --bin bootstrap -- [--circuits N]
//! [--bootstraps K] [--relays N] [--exits N] [--authority ctor|ours]` (needs `tor` and
//! `tor-gencert`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../../tests/common/ctor.rs"]
#[allow(dead_code, clippy::unwrap_used, clippy::expect_used)]
mod ctor;
#[path = "../../../tests/common/ctornet.rs"]
#[allow(dead_code)]
mod ctornet;
#[path = "../../../tests/common/ctornet_build.rs"]
#[allow(dead_code)]
mod ctornet_build;
#[path = "../../../tests/common/ctornet_io.rs"]
#[allow(dead_code)]
mod ctornet_io;
#[path = "../../../tests/common/ctornet_node.rs"]
#[allow(dead_code)]
mod ctornet_node;

use std::time::{Duration, Instant};

use ctornet::{CTorNet, Role};

/// Command-line settings.
#[derive(Debug, Clone)]
struct Opts {
    circuits: usize,
    bootstraps: usize,
    relays: usize,
    exits: usize,
    authority: AuthorityKind,
}

/// Whose directory authority the network uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AuthorityKind {
    /// One stock C tor authority (from the harness).
    CTor,
    /// Our authority (`rt::dirauth`); C tor relays are given its `DirAuthority` line.
    Ours,
}

/// The clients compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientKind {
    CTor,
    Ours,
}

impl ClientKind {
    fn name(self) -> &'static str {
        match self {
            ClientKind::CTor => "C tor 0.4.9 client",
            ClientKind::Ours => "our client",
        }
    }
}

/// What one client kind measured.
#[derive(Debug, Clone)]
struct Figures {
    /// Start to 100%, one per bootstrap run.
    bootstraps: Vec<Duration>,
    /// Build times of the circuits that were built.
    circuits: Vec<Duration>,
    /// Circuits that failed (not in `circuits`).
    failed: usize,
}

fn parse_opts() -> Result<Opts, String> {
    let mut o = Opts {
        circuits: 100,
        bootstraps: 3,
        relays: 5,
        exits: 2,
        authority: AuthorityKind::CTor,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--circuits" => o.circuits = val()?.parse().map_err(|e| format!("{a}: {e}"))?,
            "--bootstraps" => o.bootstraps = val()?.parse().map_err(|e| format!("{a}: {e}"))?,
            "--relays" => o.relays = val()?.parse().map_err(|e| format!("{a}: {e}"))?,
            "--exits" => o.exits = val()?.parse().map_err(|e| format!("{a}: {e}"))?,
            "--authority" => {
                o.authority = match val()?.as_str() {
                    "ctor" => AuthorityKind::CTor,
                    "ours" => AuthorityKind::Ours,
                    v => return Err(format!("--authority ctor|ours, not {v}")),
                }
            }
            _ => return Err(format!("unknown argument {a}")),
        }
    }
    if o.bootstraps == 0 || o.exits == 0 || o.exits > o.relays {
        return Err("need --bootstraps >= 1 and 1 <= --exits <= --relays".into());
    }
    Ok(o)
}

/// Starts the network both clients use, up to a full consensus and relays that cache
/// every microdescriptor.
fn start_network(o: &Opts) -> Result<CTorNet, String> {
    match o.authority {
        AuthorityKind::CTor => {
            let net = CTorNet::builder()
                .authorities(1)
                .relays(o.relays)
                .exits(o.exits)
                .try_start()
                .map_err(|e| e.0)?;
            net.prepare_for_clients(Duration::from_secs(60))
                .map_err(|e| e.0)?;
            Ok(net)
        }
        AuthorityKind::Ours => {
            // Hook for a network whose authority is ours, once `rt::dirauth` is merged:
            // start our authority on loopback (kept alive beside the network), then
            //   CTorNet::builder().authorities(0).relays(o.relays).exits(o.exits)
            //       .dir_authority(&our_line).consensus_from(our_dirport).try_start()
            // and `prepare_for_clients` as above. Both clients then take their
            // DirAuthority line from `our_line` instead of `net.dir_authority_lines()`.
            Err("--authority ours: our directory authority (rt::dirauth) is not wired into this benchmark yet".into())
        }
    }
}

/// Bootstraps a fresh C tor client `o.bootstraps` times, then builds `o.circuits`
/// circuits one at a time on the last one.
fn measure_ctor(net: &mut CTorNet, o: &Opts) -> Result<Figures, String> {
    let mut bootstraps = Vec::new();
    let mut last = String::new();
    for i in 0..o.bootstraps {
        if i > 0 {
            net.stop_node(&last);
        }
        let client = net.add_client(&[]).map_err(|e| e.0)?;
        let took = client
            .wait_bootstrapped(Duration::from_secs(120))
            .map_err(|e| e.0)?;
        eprintln!(
            "  {}: bootstrapped in {:.2} s",
            client.name,
            took.as_secs_f64()
        );
        last = client.name.clone();
        bootstraps.push(took);
    }
    let client = net.node(&last).ok_or("client vanished")?;
    let mut ctl = client.control().map_err(|e| e.0)?;
    let mut circuits = Vec::new();
    let mut failed = 0;
    while circuits.len() < o.circuits {
        if failed > o.circuits {
            return Err(format!("{failed} circuits failed"));
        }
        match ctl.build_circuit(&[], Duration::from_secs(60)) {
            Ok(c) => {
                circuits.push(c.took);
                let _ = ctl.command(&format!("CLOSECIRCUIT {}", c.id));
            }
            Err(e) => {
                eprintln!("  circuit failed: {e}");
                failed += 1;
            }
        }
    }
    Ok(Figures {
        bootstraps,
        circuits,
        failed,
    })
}

/// Our client (`rt::tor_client`) on the same network: the integrator's hook.
///
/// To do once `rt::tor_client` is merged: build a `ClientConfig` with `TestingTorNetwork 1`,
/// a fresh `DataDirectory` per run, a `SocksPort` on a free loopback port and the lines of
/// `net.dir_authority_lines()`; start the client on a tokio runtime and time start to its
/// 100% bootstrap (o.bootstraps runs, fresh data directory each); then build `o.circuits`
/// 3-hop exit circuits one at a time through its circuit manager, timing each build, and
/// return the same [`Figures`] as [`measure_ctor`].
fn measure_ours(_net: &mut CTorNet, _o: &Opts) -> Result<Figures, String> {
    Err("not measured yet: our client (rt::tor_client) is not merged into this benchmark".into())
}

/// Nearest-rank percentile of sorted durations, in milliseconds.
fn pct_ms(sorted: &[Duration], p: usize) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p * sorted.len()).div_ceil(100).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1000.0
}

/// (bootstrap median s, circuit p50 ms, circuit p95 ms).
fn summary(f: &Figures) -> (f64, f64, f64) {
    let mut b = f.bootstraps.clone();
    b.sort();
    let mut c = f.circuits.clone();
    c.sort();
    (pct_ms(&b, 50) / 1000.0, pct_ms(&c, 50), pct_ms(&c, 95))
}

fn main() {
    let o = match parse_opts() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("bootstrap: {e}");
            std::process::exit(2);
        }
    };
    let t0 = Instant::now();
    let mut net = match start_network(&o) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("bootstrap: network did not start: {e}");
            std::process::exit(1);
        }
    };
    println!(
        "network: {} authority ({:?}), {} relays ({} exits), ready in {:.1} s",
        net.authorities().count(),
        o.authority,
        net.role(Role::Relay).count() + net.role(Role::Exit).count(),
        o.exits,
        t0.elapsed().as_secs_f64()
    );
    eprint!("network timeline:\n{}", net.timeline());
    let mut results: Vec<(ClientKind, Result<Figures, String>)> = Vec::new();
    for kind in [ClientKind::CTor, ClientKind::Ours] {
        eprintln!("measuring {}...", kind.name());
        let r = match kind {
            ClientKind::CTor => measure_ctor(&mut net, &o),
            ClientKind::Ours => measure_ours(&mut net, &o),
        };
        results.push((kind, r));
    }
    println!(
        "{:<22} {:>16} {:>16} {:>16} {:>8}",
        "client", "bootstrap p50 s", "circuit p50 ms", "circuit p95 ms", "failed"
    );
    let mut sums = Vec::new();
    for (kind, r) in &results {
        match r {
            Ok(f) => {
                let (b, p50, p95) = summary(f);
                println!(
                    "{:<22} {:>16.2} {:>16.1} {:>16.1} {:>8}   ({} bootstraps, {} circuits)",
                    kind.name(),
                    b,
                    p50,
                    p95,
                    f.failed,
                    f.bootstraps.len(),
                    f.circuits.len()
                );
                sums.push((*kind, (b, p50, p95)));
            }
            Err(e) => println!("{:<22} {e}", kind.name()),
        }
    }
    let get = |k| sums.iter().find(|(kind, _)| *kind == k).map(|(_, s)| *s);
    match (get(ClientKind::Ours), get(ClientKind::CTor)) {
        (Some(ours), Some(ctor)) => println!(
            "ratios ours / C tor: bootstrap {:.2}, circuit p50 {:.2}, circuit p95 {:.2}",
            ours.0 / ctor.0,
            ours.1 / ctor.1,
            ours.2 / ctor.2
        ),
        _ => println!("ratios ours / C tor: not available (both clients must be measured)"),
    }
    if results
        .iter()
        .any(|(k, r)| *k == ClientKind::CTor && r.is_err())
    {
        eprintln!("{}", net.logs_tail(20));
        std::process::exit(1);
    }
}
