//! `rt::circmgr` over three of our relays in one process (`rt::relay`, loopback, exits
//! accepting 127.0.0.1) with a fixed path source: isolation (one circuit per key, reused by
//! that key only), clean preemptive circuits for predicted ports handed to the first key
//! that asks, the dirtiness limit, retry with another path when the guard is unreachable
//! (and the guard failure reported), exit-policy refusals retried on a circuit whose exit
//! allows the port, streams carrying data, RESOLVE of an address literal, one-hop CREATE_FAST
//! directory circuits, the build-time measurement, and shutdown.

#![allow(clippy::unwrap_used)]

mod common;
mod relay_support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::ctor::TempDir;
use oniongate::client::{HandshakeKind, HopTarget};
use oniongate::ids::RsaIdentity;
use oniongate::rt::circmgr::{CircMgr, CircMgrConfig, CircMgrError, PathSource};
use oniongate::rt::client::ChannelPool;
use oniongate::rt::relay::RelayHandle;
use relay_support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Paths from a fixed list; an optional dead guard first; counts guard reports.
struct Fixed {
    hops: Vec<HopTarget>,
    /// Paths to hand out with a dead first hop before the good one.
    dead_first: AtomicUsize,
    guard_ok: AtomicUsize,
    guard_bad: AtomicUsize,
    /// Ports no exit allows.
    refused: Mutex<Vec<u16>>,
}

impl Fixed {
    fn new(relays: &[&RelayHandle]) -> Arc<Fixed> {
        Arc::new(Fixed {
            hops: relays
                .iter()
                .map(|r| Hop::ours(r).target(HandshakeKind::Ntor))
                .collect(),
            dead_first: AtomicUsize::new(0),
            guard_ok: AtomicUsize::new(0),
            guard_bad: AtomicUsize::new(0),
            refused: Mutex::new(Vec::new()),
        })
    }
}

impl PathSource for Fixed {
    fn exit_path(&self, _port: Option<u16>) -> Result<Vec<HopTarget>, String> {
        let mut p = self.hops.clone();
        if self
            .dead_first
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            // A closed loopback port.
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let dead = l.local_addr().unwrap();
            drop(l);
            p[0].addrs = vec![dead];
            p[0].rsa_id = RsaIdentity([0xdd; 20]);
            p[0].ed_id = None;
        }
        Ok(p)
    }
    fn exit_allows(&self, _exit: &RsaIdentity, port: u16) -> bool {
        !self.refused.lock().unwrap().contains(&port)
    }
    fn dir_hop(&self) -> Result<HopTarget, String> {
        Ok(self.hops[0].clone())
    }
    fn note_first_hop(&self, _guard: &RsaIdentity, ok: bool) {
        if ok { &self.guard_ok } else { &self.guard_bad }.fetch_add(1, Ordering::SeqCst);
    }
}

async fn three(dir: &TempDir) -> (RelayHandle, RelayHandle, RelayHandle) {
    let a = start_relay(dir, "c1").await;
    let b = start_relay(dir, "c2").await;
    let c = start_relay(dir, "c3").await;
    (a, b, c)
}

fn mgr(paths: Arc<Fixed>, cfg: CircMgrConfig) -> CircMgr<u32> {
    CircMgr::new(ChannelPool::new(), paths, cfg)
}

async fn echo_once(mgr: &CircMgr<u32>, echo: SocketAddr, key: u32) {
    let mut s = mgr
        .connect(&echo.ip().to_string(), echo.port(), &key)
        .await
        .unwrap();
    s.write_all(b"hello through the manager").await.unwrap();
    let mut buf = [0u8; 25];
    s.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"hello through the manager");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn isolation_reuse_preemptive_and_dirtiness() {
    let dir = TempDir::new("client-circmgr");
    let (r1, r2, r3) = three(&dir).await;
    let paths = Fixed::new(&[&r1, &r2, &r3]);
    let cfg = CircMgrConfig {
        max_dirtiness: Duration::from_secs(3),
        ..CircMgrConfig::default()
    };
    let mgr = mgr(paths.clone(), cfg);
    let (echo, _closed) = echo_server().await;

    // Port 80 is predicted at start: two clean circuits, and no more on the next call.
    assert_eq!(mgr.maintain(), 2);
    assert_eq!(mgr.maintain(), 0, "builds in flight count");
    for _ in 0..200 {
        if mgr.counts().0 == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(mgr.counts(), (2, 0));

    // Key 1 takes a clean circuit; key 2 the other; key 1 again reuses its own.
    let a = mgr.exit_circuit(Some(80), &1).await.unwrap();
    let b = mgr.exit_circuit(Some(80), &2).await.unwrap();
    assert_ne!(a.circ_id(), b.circ_id());
    let a2 = mgr.exit_circuit(Some(443), &1).await.unwrap();
    assert_eq!(a.circ_id(), a2.circ_id(), "same key, same circuit");
    assert_eq!(mgr.counts(), (0, 2));
    // Key 3 finds no clean circuit: a new one is built for it.
    let c = mgr.exit_circuit(Some(80), &3).await.unwrap();
    assert!(c.circ_id() != a.circ_id() && c.circ_id() != b.circ_id());
    assert_eq!(c.n_hops(), 3);

    // Streams carry data, on the key's circuit.
    echo_once(&mgr, echo, 1).await;
    assert_eq!(mgr.counts().1, 3, "no new circuit for a key that has one");

    // RESOLVE of an address literal answers the address.
    let addrs = mgr.resolve("127.0.0.1", &1).await.unwrap();
    assert_eq!(addrs, vec![std::net::IpAddr::from([127, 0, 0, 1])]);

    // Past MaxCircuitDirtiness, key 1 gets a fresh circuit.
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let a3 = mgr.exit_circuit(Some(80), &1).await.unwrap();
    assert_ne!(a3.circ_id(), a.circ_id());

    assert_eq!(paths.guard_bad.load(Ordering::SeqCst), 0);
    assert!(paths.guard_ok.load(Ordering::SeqCst) >= 4);

    // The build-time measurement.
    let (circ, took) = mgr.build_circuit_timed(Some(80)).await.unwrap();
    assert_eq!(circ.n_hops(), 3);
    assert!(took > Duration::ZERO && took < Duration::from_secs(30));

    mgr.shutdown().await;
    assert!(matches!(
        mgr.exit_circuit(Some(80), &1).await,
        Err(CircMgrError::ShutDown)
    ));
    for r in [r1, r2, r3] {
        r.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_dir_circuits_and_refusals() {
    let dir = TempDir::new("client-circmgr");
    let (r1, r2, r3) = three(&dir).await;
    let paths = Fixed::new(&[&r1, &r2, &r3]);
    let mgr = mgr(paths.clone(), CircMgrConfig::default());

    // An unreachable guard: reported, and the next path is tried.
    paths.dead_first.store(2, Ordering::SeqCst);
    let circ = mgr.exit_circuit(Some(80), &7).await.unwrap();
    assert_eq!(circ.n_hops(), 3);
    assert_eq!(paths.guard_bad.load(Ordering::SeqCst), 2);
    assert_eq!(paths.guard_ok.load(Ordering::SeqCst), 1);

    // Three dead guards in a row: the request fails with the last error.
    paths.dead_first.store(3, Ordering::SeqCst);
    match mgr.build_circuit_timed(Some(80)).await {
        Err(CircMgrError::BuildFailed { attempts: 3, .. }) => {}
        other => panic!("expected BuildFailed, got {:?}", other.map(|_| ())),
    }

    // The exit's policy refuses port 9 (it only allows 127.0.0.1): the END reason surfaces.
    let err = mgr.connect("192.0.2.1", 9, &7).await.unwrap_err();
    assert_eq!(
        err.end_reason(),
        Some(oniongate::relaycell::EndReason::EXITPOLICY),
        "{err}"
    );

    // One-hop directory circuit with CREATE_FAST, reused while open.
    let d = mgr.dir_circuit().await.unwrap();
    assert_eq!(d.n_hops(), 1);
    let d2 = mgr.dir_circuit().await.unwrap();
    assert_eq!(d.circ_id(), d2.circ_id());
    mgr.shutdown().await;
    for r in [r1, r2, r3] {
        r.shutdown().await;
    }
}
