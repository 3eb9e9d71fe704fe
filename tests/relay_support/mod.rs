//! Helpers for the relay runtime tests: our relays on loopback, a client channel over
//! `rt::channel::connect` (client role) driving a sans-IO `client::OriginCircuit`, and a TCP
//! echo server for exit streams.

#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use oniongate::cell::CircId;
use oniongate::channel::ExpectedPeer;
use oniongate::client::{CircEvent, HandshakeKind, HopTarget, OriginCircuit};
use oniongate::config::{merge, parse_torrc, Daemon, DaemonConfig, RelayConfig};
use oniongate::crypto::ll::X25519Public;
use oniongate::ids::{Ed25519Identity, RsaIdentity};
use oniongate::relaycell::{BeginFlags, EndReason};
use oniongate::rt::relay::{Relay, RelayHandle, RelayOptions};
use rand::rngs::StdRng;

use crate::common::ctor::TempDir;

/// Who a hop is, independent of the handshake used with it.
#[derive(Debug, Clone)]
pub struct Hop {
    pub addr: SocketAddr,
    pub rsa_id: RsaIdentity,
    pub ed_id: Ed25519Identity,
    pub ntor_key: X25519Public,
}

impl Hop {
    pub fn ours(r: &RelayHandle) -> Hop {
        Hop {
            addr: r.or_addrs()[0],
            rsa_id: r.rsa_id(),
            ed_id: r.ed_id(),
            ntor_key: r.ntor_onion_key(),
        }
    }

    pub fn target(&self, handshake: HandshakeKind) -> HopTarget {
        HopTarget {
            addrs: vec![self.addr],
            rsa_id: self.rsa_id,
            ed_id: Some(self.ed_id),
            ntor_key: self.ntor_key,
            handshake,
        }
    }
}

/// Our relay on loopback: an exit accepting 127.0.0.1, extends to loopback allowed.
pub async fn start_relay(dir: &TempDir, name: &str) -> RelayHandle {
    start_relay_with(dir, name, RelayOptions::default()).await
}

pub fn relay_config(dir: &TempDir, name: &str) -> RelayConfig {
    let text = format!(
        "Nickname {name}\nORPort 127.0.0.1:auto\nDataDirectory {}\nExitRelay 1\n\
         ExitPolicyRejectPrivate 0\nExitPolicy accept 127.0.0.1:*\nExitPolicy reject *:*\n",
        dir.path().join(name).display()
    );
    let entries = parse_torrc(&text, "test").unwrap();
    let merged = merge(Daemon::Relay, &[&entries]).unwrap();
    RelayConfig::from_entries(&merged).unwrap()
}

pub async fn start_relay_with(dir: &TempDir, name: &str, mut opts: RelayOptions) -> RelayHandle {
    opts.extend_allow_private = Some(true);
    Relay::start_with(relay_config(dir, name), opts)
        .await
        .unwrap()
}

/// Builds a circuit through `hops` with these handshakes.
pub async fn build(
    link: &mut Link,
    circ_id: CircId,
    hops: &[Hop],
    kinds: &[HandshakeKind],
    rng: &mut StdRng,
) -> OriginCircuit {
    let mut circ =
        OriginCircuit::create(circ_id, &hops[0].target(kinds[0]), Instant::now(), rng).unwrap();
    for (i, hop) in hops.iter().enumerate() {
        if i > 0 {
            circ.extend(&hop.target(kinds[i]), Instant::now(), rng)
                .unwrap();
        }
        match link.next_event(&mut circ, rng).await {
            CircEvent::HopAdded { hops } => assert_eq!(hops, i + 1),
            other => panic!("hop {i}: expected HopAdded, got {other:?}"),
        }
    }
    circ
}

/// Opens a stream to `addr`; retries while the exit answers EXITPOLICY (C tor, before it
/// has its own descriptor).
pub async fn open_stream(
    link: &mut Link,
    circ: &mut OriginCircuit,
    addr: SocketAddr,
    rng: &mut StdRng,
) -> u16 {
    for _ in 0..60 {
        let stream = circ
            .begin(&addr.ip().to_string(), addr.port(), BeginFlags::NONE, rng)
            .unwrap();
        match link.next_event(circ, rng).await {
            CircEvent::Connected { stream: s, addr: a } => {
                assert_eq!(s, stream);
                assert_eq!(a.map(|(ip, _)| ip), Some(addr.ip()));
                return stream;
            }
            CircEvent::Ended {
                stream: s,
                reason: EndReason::EXITPOLICY,
            } => {
                assert_eq!(s, stream);
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            other => panic!("expected CONNECTED, got {other:?}"),
        }
    }
    panic!("the exit never accepted a stream");
}

pub const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

// Not every test binary that includes this module uses all of these.
#[allow(unused_imports)]
pub use crate::common::link::{echo_bulk, echo_server, end_and_check, Link};

/// A client channel to our relay `first`, its identities checked.
pub async fn open_link(first: &Hop) -> Link {
    Link::open(
        first.addr,
        Some(ExpectedPeer {
            rsa_id: first.rsa_id,
            ed_id: Some(first.ed_id),
        }),
    )
    .await
}
