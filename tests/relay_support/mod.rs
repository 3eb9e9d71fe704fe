//! Helpers for the relay runtime tests: our relays on loopback, a client channel over
//! `rt::channel::connect` (client role) driving a sans-IO `client::OriginCircuit`, and a TCP
//! echo server for exit streams.

#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use oniongate::cell::{AnyChanMsg, ChanCell, CircId};
use oniongate::channel::{ExpectedPeer, InitiatorConfig, InitiatorRole};
use oniongate::client::{CircEvent, HandshakeKind, HopTarget, OriginCircuit};
use oniongate::config::{merge, parse_torrc, Daemon, DaemonConfig, RelayConfig};
use oniongate::crypto::ll::X25519Public;
use oniongate::ids::{Ed25519Identity, RsaIdentity};
use oniongate::relaycell::{BeginFlags, EndReason};
use oniongate::rt::cellio::{CellReader, CellWriter};
use oniongate::rt::channel::connect;
use oniongate::rt::relay::{Relay, RelayHandle, RelayOptions};
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use sha2::{Digest, Sha256};
use tokio::io::{ReadHalf, WriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::client::TlsStream;

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

/// A client channel: our initiator in the client role.
pub struct Link {
    pub reader: CellReader<ReadHalf<TlsStream<TcpStream>>>,
    pub writer: CellWriter<WriteHalf<TlsStream<TcpStream>>>,
}

impl Link {
    pub async fn open(first: &Hop) -> Link {
        let cfg = InitiatorConfig {
            role: InitiatorRole::Client,
            expected: Some(ExpectedPeer {
                rsa_id: first.rsa_id,
                ed_id: Some(first.ed_id),
            }),
            peer_addr: first.addr.ip(),
            my_addrs: vec![],
        };
        let ch = connect(first.addr, cfg, Duration::from_secs(30))
            .await
            .unwrap();
        Link {
            reader: ch.reader,
            writer: ch.writer,
        }
    }

    pub async fn flush(&mut self, circ: &mut OriginCircuit) {
        while let Some(cell) = circ.poll_cell() {
            self.writer.queue(&cell).unwrap();
        }
        self.writer.flush().await.unwrap();
    }

    pub async fn send(&mut self, cell: ChanCell) {
        self.writer.queue(&cell).unwrap();
        self.writer.flush().await.unwrap();
    }

    /// The next cell that is not padding; `None` if the relay closed the channel.
    pub async fn try_recv(&mut self) -> Option<ChanCell> {
        loop {
            let r = tokio::time::timeout(Duration::from_secs(30), self.reader.read_cell())
                .await
                .expect("the relay answers within 30 s");
            let (cell, _) = r.ok()??;
            if matches!(cell.msg, AnyChanMsg::Padding(_) | AnyChanMsg::Vpadding(_)) {
                continue;
            }
            return Some(cell);
        }
    }

    pub async fn recv(&mut self) -> ChanCell {
        self.try_recv().await.expect("the relay closed the channel")
    }

    pub async fn next_event(&mut self, circ: &mut OriginCircuit, rng: &mut StdRng) -> CircEvent {
        loop {
            self.flush(circ).await;
            if let Some(e) = circ.poll_event() {
                return e;
            }
            let cell = self.recv().await;
            circ.handle_cell(cell, rng);
        }
    }
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

/// A TCP echo server; each connection reports the bytes it echoed when it closes.
pub async fn echo_server() -> (SocketAddr, mpsc::UnboundedReceiver<u64>) {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let tx = tx.clone();
            tokio::spawn(async move {
                let (mut r, mut w) = sock.split();
                let n = tokio::io::copy(&mut r, &mut w).await.unwrap_or(0);
                let _ = tx.send(n);
            });
        }
    });
    (addr, rx)
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

/// Writes `len` pseudo-random bytes through the echo and reads them back; checks SHA-256.
pub async fn echo_bulk(
    link: &mut Link,
    circ: &mut OriginCircuit,
    stream: u16,
    len: usize,
    rng: &mut StdRng,
) {
    let mut data = vec![0u8; len];
    StdRng::seed_from_u64(len as u64).fill_bytes(&mut data);
    let sent_digest = Sha256::digest(&data);
    let mut received = Sha256::new();
    let (mut sent, mut got) = (0usize, 0usize);
    while got < len {
        if sent < len && circ.can_write(stream) {
            let end = (sent + 65536).min(len);
            sent += circ.write(stream, &data[sent..end], rng).unwrap();
            link.flush(circ).await;
            continue;
        }
        link.flush(circ).await;
        let cell = link.recv().await;
        circ.handle_cell(cell, rng);
        while let Some(e) = circ.poll_event() {
            match e {
                CircEvent::Data { stream: s, data } => {
                    assert_eq!(s, stream);
                    got += data.len();
                    received.update(&data);
                }
                CircEvent::Writable { stream: s } => assert_eq!(s, stream),
                other => panic!("unexpected event during transfer: {other:?}"),
            }
        }
    }
    assert_eq!(got, len);
    assert_eq!(received.finalize(), sent_digest, "echoed bytes match");
}

/// Ends `stream` and checks the echo server saw the connection close after `n` bytes.
pub async fn end_and_check(
    link: &mut Link,
    circ: &mut OriginCircuit,
    stream: u16,
    closed: &mut mpsc::UnboundedReceiver<u64>,
    n: u64,
    rng: &mut StdRng,
) {
    circ.end(stream, rng).unwrap();
    link.flush(circ).await;
    let echoed = tokio::time::timeout(Duration::from_secs(20), closed.recv())
        .await
        .expect("the exit closes the TCP connection after our END")
        .unwrap();
    assert_eq!(echoed, n);
}

pub const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
