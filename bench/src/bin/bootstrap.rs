//! Issue 4's client benchmark: bootstrap time (start to 100%) and circuit build time (p50,
//! p95 over 100 circuits) of our client against a stock C tor client, on the same private
//! network in the same run; prints both and the ratios (ours / C tor).
//!
//! The network comes from `tests/common/ctornet.rs`: by default 1 C tor authority and 5 C
//! tor relays (2 exits) on loopback; with `--authority ours` the authority is ours (the
//! `oniongate-relay` authority runtime, in this process) and the C tor relays and both
//! clients trust only it. Each client starts from an empty data directory once
//! the network has a consensus listing every relay and the relays cache every
//! microdescriptor, so bootstrap time is the client's own (process start to
//! `Bootstrapped 100%`), not the network's.
//!
//! Both clients are measured in one run, interleaved so that machine load falls on both
//! alike: `--bootstraps` rounds (default 3; the median is reported), each starting a fresh
//! C tor client process and a fresh `TorClient`, both on empty data directories (the order
//! alternates per round, the previous client of each kind is stopped first); then, with
//! the last client of each kind running, `--circuits` circuits (default 100) each, built
//! one at a time alternating C tor and ours; p50 and p95 (nearest rank) are reported.
//!
//! What each number measures:
//! - C tor bootstrap: from spawning the `tor` process to `Bootstrapped 100%` in its notice
//!   log (polled every 20 ms), so it includes process start and torrc parsing. The "by its
//!   log" line is the median time between its own `Bootstrapped 0%` and `Bootstrapped
//!   100%` log lines (`LogTimeGranularity 1`), without process start. Most of C tor's
//!   2 s on loopback is waiting for its once-a-second housekeeping ticks (its log shows
//!   the first directory fetch about 1 s after `Bootstrapped 0%`, and the first circuit
//!   about 1 s after `Bootstrapped 75%`); its work in between takes about 0.2 s.
//! - Our bootstrap: from calling `TorClient::start` (configuration already parsed, tokio
//!   runtime already running, in this process) to `TorClientHandle::bootstrapped`.
//! - C tor circuit: `EXTENDCIRCUIT 0` (no path: tor picks a general 3-hop path) on its
//!   control port, timed from sending the command to the `650 CIRC <id> BUILT` event, so
//!   it includes path selection and two control-port round trips; each circuit is then
//!   closed with `CLOSECIRCUIT`, and one that is not 3 hops counts as failed.
//! - Our circuit: `TorClientHandle::build_circuit_timed` (a fresh 3-hop exit circuit,
//!   never reused, closed afterwards), timed around the call, so it includes path
//!   selection; the "inner" line is the circuit manager's own timing (first-hop channel
//!   to the last hop's EXTENDED2, without path selection).
//!
//! What differs: C tor runs as its own process with the harness's client settings
//! (`LearnCircuitBuildTimeout 0`, `PathsNeededToBuildCircuits 0.25`); ours runs in this
//! process on a 2-worker tokio runtime with `PathsNeededToBuildCircuits 0.25` (it has no
//! `LearnCircuitBuildTimeout` option). Both keep their guard channels open across
//! circuits, both use entry guards, both keep building preemptive circuits in the
//! background while the other is measured. C tor 0.4.9 may use ntor v3 towards exits
//! (congestion-control negotiation), ours uses ntor for every hop.
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

use std::path::Path;
use std::time::{Duration, Instant};

use ctor::TempDir;
use ctornet::{CTorNet, Role};
use oniongate::config::{merge, parse_torrc, ClientConfig, Daemon, DaemonConfig};
use oniongate::rt::tor_client::{TorClient, TorClientHandle};

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
    /// C tor only: `Bootstrapped 0%` to `Bootstrapped 100%` by its log timestamps (without
    /// process start and torrc parsing), one per bootstrap run.
    bootstraps_in_log: Vec<Duration>,
    /// Build times of the circuits that were built.
    circuits: Vec<Duration>,
    /// Our client only: the build time the circuit manager itself measured (first hop's
    /// channel lookup to the last hop's CREATED/EXTENDED), without path selection.
    circuits_inner: Vec<Duration>,
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
            // Our authority (the `oniongate-relay` runtime with `AuthoritativeDirectory 1`),
            // on a runtime that lives as long as the program, and stock C tor relays and
            // clients that trust only it.
            let (line, dirport) = start_our_authority()?;
            let net = CTorNet::builder()
                .authorities(0)
                .dir_authority(&line)
                .consensus_from(dirport)
                .relays(o.relays)
                .exits(o.exits)
                .try_start()
                .map_err(|e| e.0)?;
            net.prepare_for_clients(Duration::from_secs(90))
                .map_err(|e| e.0)?;
            Ok(net)
        }
    }
}

/// Starts our directory authority on loopback for `--authority ours` and returns its
/// `DirAuthority` line and DirPort. Its runtime and data directory are leaked on purpose:
/// they must outlive the measurement, and the process exits afterwards.
fn start_our_authority() -> Result<(String, std::net::SocketAddr), String> {
    use oniongate::config::RelayConfig;
    use oniongate::rt::dirauth::{keygen_authority, start_authority_relay};
    use oniongate::rt::relay::RelayOptions;
    let relay_config = |text: &str| -> Result<RelayConfig, String> {
        let entries = parse_torrc(text, "bench authority").map_err(|e| e.to_string())?;
        let merged = merge(Daemon::Relay, &[&entries]).map_err(|e| e.to_string())?;
        RelayConfig::from_entries(&merged).map_err(|e| e.to_string())
    };
    let dir: &'static TempDir = Box::leak(Box::new(TempDir::new("bench-our-authority")));
    let (or_port, dir_port) = (ctor::free_port(), ctor::free_port());
    let base = format!(
        "Nickname ourauth\nAddress 127.0.0.1\nORPort 127.0.0.1:{or_port}\n\
         DirPort 127.0.0.1:{dir_port}\nDataDirectory {}\nAuthoritativeDirectory 1\n\
         V3AuthoritativeDirectory 1\nExitPolicy reject *:*\nContactInfo bench\n",
        dir.path().join("auth").display()
    );
    let line = keygen_authority(&relay_config(&base)?).map_err(|e| e.to_string())?;
    let config = relay_config(&format!(
        "{base}TestingTorNetwork 1\n{line}\nTestingDirAuthVoteGuard *\n\
         TestingDirAuthVoteHSDir *\nV3AuthVotingInterval 10\nV3AuthVoteDelay 2\n\
         V3AuthDistDelay 2\n"
    ))?;
    let rt: &'static tokio::runtime::Runtime = Box::leak(Box::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?,
    ));
    let auth = rt
        .block_on(start_authority_relay(config, RelayOptions::default()))
        .map_err(|e| format!("our authority did not start: {e}"))?;
    std::mem::forget(auth);
    Ok((line, std::net::SocketAddr::from(([127, 0, 0, 1], dir_port))))
}

/// One client's running figures; `Err` once it failed (then it is not measured further).
type Tally = Result<Figures, String>;

fn new_tally() -> Tally {
    Ok(Figures {
        bootstraps: Vec::new(),
        bootstraps_in_log: Vec::new(),
        circuits: Vec::new(),
        circuits_inner: Vec::new(),
        failed: 0,
    })
}

/// Starts a fresh C tor client (stopping the previous one, `prev`) and waits for its
/// `Bootstrapped 100%`; returns its node name, process spawn to 100%, and 0% to 100% as
/// its own log timestamps say (millisecond granularity).
fn ctor_bootstrap(
    net: &mut CTorNet,
    prev: Option<&str>,
) -> Result<(String, Duration, Option<Duration>), String> {
    if let Some(p) = prev {
        net.stop_node(p);
    }
    let client = net.add_client(&["LogTimeGranularity 1"]).map_err(|e| e.0)?;
    let took = client
        .wait_bootstrapped(Duration::from_secs(120))
        .map_err(|e| e.0)?;
    let log = client.notice_log();
    let at = |what: &str| log.lines().find(|l| l.contains(what)).and_then(log_time);
    let in_log = match (at("Bootstrapped 0%"), at("Bootstrapped 100%")) {
        (Some(a), Some(b)) if b >= a => Some(Duration::from_secs_f64(b - a)),
        _ => None,
    };
    Ok((client.name.clone(), took, in_log))
}

/// The time of day, in seconds, of a C tor log line (`Nov 21 13:04:00.123 [notice] ...`).
fn log_time(line: &str) -> Option<f64> {
    let t = line.split_whitespace().nth(2)?;
    let mut f = t.split(':');
    let h: f64 = f.next()?.parse().ok()?;
    let m: f64 = f.next()?.parse().ok()?;
    let s: f64 = f.next()?.parse().ok()?;
    Some(h * 3600.0 + m * 60.0 + s)
}

/// Our client's configuration: the network's `DirAuthority` lines, `TestingTorNetwork 1`,
/// no SOCKS port, `PathsNeededToBuildCircuits 0.25` (as the harness gives the C tor
/// client) and an empty `DataDirectory` of its own.
fn ours_config(net: &CTorNet, data_dir: &Path) -> Result<ClientConfig, String> {
    let mut text = format!(
        "DataDirectory {}\nTestingTorNetwork 1\nSocksPort 0\nPathsNeededToBuildCircuits 0.25\n",
        data_dir.display()
    );
    // Every authority the C tor processes trust: the harness's own, and ours (`--authority
    // ours`), which `dir_authority_lines` does not list.
    for l in &net.all_auth_lines {
        text.push_str(l);
        text.push('\n');
    }
    let entries = parse_torrc(&text, "bench").map_err(|e| e.to_string())?;
    let merged = merge(Daemon::Client, &[&entries]).map_err(|e| e.to_string())?;
    ClientConfig::from_entries(&merged).map_err(|e| e.to_string())
}

/// Starts our client on an empty data directory (shutting the previous one, `prev`, down
/// first) and waits for 100 %; returns it and the time from `TorClient::start` to 100 %.
async fn ours_bootstrap(
    config: ClientConfig,
    prev: Option<TorClientHandle>,
) -> Result<(TorClientHandle, Duration), String> {
    if let Some(p) = prev {
        p.shutdown().await;
    }
    let t = Instant::now();
    let client = TorClient::start(config).await.map_err(|e| e.to_string())?;
    if tokio::time::timeout(Duration::from_secs(120), client.bootstrapped())
        .await
        .is_err()
    {
        let p = *client.progress().borrow();
        client.shutdown().await;
        return Err(format!("no bootstrap within 120 s (at {p:?})"));
    }
    Ok((client, t.elapsed()))
}

/// Records one circuit result in `tally`; too many failures turn it into an error.
fn note_circuit(tally: &mut Tally, r: Result<(Duration, Option<Duration>), String>, o: &Opts) {
    let Ok(f) = tally else { return };
    match r {
        Ok((outer, inner)) => {
            f.circuits.push(outer);
            f.circuits_inner.extend(inner);
        }
        Err(e) => {
            eprintln!("  circuit failed: {e}");
            f.failed += 1;
            if f.failed > o.circuits {
                *tally = Err(format!("{} circuits failed (last: {e})", o.circuits + 1));
            }
        }
    }
}

/// Measures both clients, interleaved: bootstrap rounds alternate which client goes first
/// (each round a fresh C tor process and a fresh `TorClient`, both on empty data
/// directories); then, with the last client of each kind still running, circuits are built
/// one at a time, alternating C tor and ours, until each has `o.circuits`.
fn measure(net: &mut CTorNet, o: &Opts) -> (Tally, Tally) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let tmp = TempDir::new("bench-bootstrap");
    let (mut ct, mut ot) = (new_tally(), new_tally());
    let mut ctor_last: Option<String> = None;
    let mut ours_last: Option<TorClientHandle> = None;
    for i in 0..o.bootstraps {
        for kind in if i.is_multiple_of(2) {
            [ClientKind::CTor, ClientKind::Ours]
        } else {
            [ClientKind::Ours, ClientKind::CTor]
        } {
            match kind {
                ClientKind::CTor if ct.is_ok() => match ctor_bootstrap(net, ctor_last.as_deref()) {
                    Ok((name, took, in_log)) => {
                        eprintln!(
                            "  C tor {name}: bootstrapped in {:.2} s ({:?} by its log)",
                            took.as_secs_f64(),
                            in_log
                        );
                        ctor_last = Some(name);
                        if let Ok(f) = &mut ct {
                            f.bootstraps.push(took);
                            f.bootstraps_in_log.extend(in_log);
                        }
                    }
                    Err(e) => ct = Err(format!("bootstrap: {e}")),
                },
                ClientKind::Ours if ot.is_ok() => {
                    let r = ours_config(net, &tmp.path().join(format!("ours{i}")))
                        .map(|c| rt.block_on(ours_bootstrap(c, ours_last.take())));
                    match r.and_then(|r| r) {
                        Ok((client, took)) => {
                            eprintln!("  ours{i}: bootstrapped in {:.2} s", took.as_secs_f64());
                            ours_last = Some(client);
                            if let Ok(f) = &mut ot {
                                f.bootstraps.push(took);
                            }
                        }
                        Err(e) => ot = Err(format!("bootstrap: {e}")),
                    }
                }
                _ => {}
            }
        }
    }
    let mut ctl = match ctor_last
        .as_deref()
        .map(|n| net.node(n).map(|c| c.control()))
    {
        Some(Some(Ok(c))) => Some(c),
        Some(Some(Err(e))) => {
            ct = Err(format!("control port: {}", e.0));
            None
        }
        _ => None,
    };
    let done = |t: &Tally| t.as_ref().map_or(true, |f| f.circuits.len() >= o.circuits);
    let mut i = 0usize;
    while !(done(&ct) && done(&ot)) {
        let ctor_first = i.is_multiple_of(2);
        i += 1;
        for kind in if ctor_first {
            [ClientKind::CTor, ClientKind::Ours]
        } else {
            [ClientKind::Ours, ClientKind::CTor]
        } {
            match kind {
                ClientKind::CTor if !done(&ct) => {
                    let Some(c) = ctl.as_mut() else { continue };
                    let r = c
                        .build_circuit(&[], Duration::from_secs(60))
                        .map_err(|e| e.0)
                        .and_then(|b| {
                            let _ = c.command(&format!("CLOSECIRCUIT {}", b.id));
                            let hops = b.path.split(',').count();
                            if hops == 3 {
                                Ok((b.took, None))
                            } else {
                                Err(format!("circuit of {hops} hops: {}", b.path))
                            }
                        });
                    note_circuit(&mut ct, r, o);
                }
                ClientKind::Ours if !done(&ot) => {
                    let Some(client) = ours_last.as_ref() else {
                        continue;
                    };
                    let r = rt.block_on(async {
                        let t = Instant::now();
                        match tokio::time::timeout(
                            Duration::from_secs(60),
                            client.build_circuit_timed(),
                        )
                        .await
                        {
                            Ok(Ok(inner)) => Ok((t.elapsed(), Some(inner))),
                            Ok(Err(e)) => Err(e.to_string()),
                            Err(_) => Err("no circuit within 60 s".into()),
                        }
                    });
                    note_circuit(&mut ot, r, o);
                }
                _ => {}
            }
        }
    }
    if let Some(c) = ours_last {
        rt.block_on(c.shutdown());
    }
    rt.shutdown_timeout(Duration::from_secs(5));
    (ct, ot)
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

/// `/proc/loadavg`'s first three fields and the number of CPUs.
fn loadavg() -> String {
    let l = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let l: Vec<&str> = l.split_whitespace().take(3).collect();
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("loadavg {} (1/5/15 min), {cpus} CPUs", l.join(" "))
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
        match o.authority {
            AuthorityKind::CTor => net.authorities().count(),
            AuthorityKind::Ours => 1,
        },
        o.authority,
        net.role(Role::Relay).count() + net.role(Role::Exit).count(),
        o.exits,
        t0.elapsed().as_secs_f64()
    );
    eprint!("network timeline:\n{}", net.timeline());
    println!("load before: {}", loadavg());
    eprintln!("measuring both clients, interleaved...");
    let (ct, ot) = measure(&mut net, &o);
    println!("load after:  {}", loadavg());
    let results = [(ClientKind::CTor, ct), (ClientKind::Ours, ot)];
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
                if !f.bootstraps_in_log.is_empty() {
                    let mut b = f.bootstraps_in_log.clone();
                    b.sort();
                    println!(
                        "{:<22} {:>16.2}   (its log's Bootstrapped 0% to 100%: no process start)",
                        "  C tor, by its log",
                        pct_ms(&b, 50) / 1000.0
                    );
                }
                if !f.circuits_inner.is_empty() {
                    let mut c = f.circuits_inner.clone();
                    c.sort();
                    println!(
                        "{:<22} {:>16} {:>16.1} {:>16.1}   (build only, as the circuit manager times it)",
                        "  our client, inner",
                        "",
                        pct_ms(&c, 50),
                        pct_ms(&c, 95)
                    );
                }
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
