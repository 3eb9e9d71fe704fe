//! A client channel for tests that speak cells directly: `rt::channel::connect` in the client
//! role (full certificate checks, expected identities), then plain send/receive of cells, and
//! the helpers that drive a `client::OriginCircuit` over it.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use oniongate::cell::{AnyChanMsg, ChanCell};
use oniongate::channel::{ExpectedPeer, InitiatorConfig, InitiatorRole};
use oniongate::client::{CircEvent, OriginCircuit};
use oniongate::rt::cellio::{CellReader, CellWriter};
use oniongate::rt::channel::{connect, HANDSHAKE_TIMEOUT};
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use sha2::{Digest, Sha256};
use tokio::io::{ReadHalf, WriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::client::TlsStream;

/// An open client channel.
pub struct Link {
    /// Cells from the relay (for tests that need the raw reader).
    pub reader: CellReader<ReadHalf<TlsStream<TcpStream>>>,
    /// Cells to the relay (for tests that need to see write errors).
    pub writer: CellWriter<WriteHalf<TlsStream<TcpStream>>>,
}

impl Link {
    /// Opens a client channel to the relay at `addr`, checking its identities if given.
    pub async fn open(addr: SocketAddr, expected: Option<ExpectedPeer>) -> Link {
        let cfg = InitiatorConfig {
            role: InitiatorRole::Client,
            expected,
            peer_addr: addr.ip(),
            my_addrs: vec![],
        };
        let ch = connect(addr, cfg, HANDSHAKE_TIMEOUT)
            .await
            .unwrap_or_else(|e| panic!("channel to {addr}: {e}"));
        Link {
            reader: ch.reader,
            writer: ch.writer,
        }
    }

    /// Queues cells without writing them.
    pub fn queue(&mut self, cell: &ChanCell) {
        self.writer.queue(cell).expect("encodable cell");
    }

    /// Writes everything queued.
    pub async fn flush(&mut self) {
        self.writer.flush().await.expect("write to the relay");
    }

    /// Sends one cell now.
    pub async fn send(&mut self, cell: ChanCell) {
        self.queue(&cell);
        self.flush().await;
    }

    /// The next cell that is not padding; `None` if the relay closed the channel (panics after
    /// 30 s of silence).
    pub async fn try_recv(&mut self) -> Option<ChanCell> {
        loop {
            let next = tokio::time::timeout(Duration::from_secs(30), self.reader.read_cell())
                .await
                .expect("the relay answers within 30 s");
            let (cell, _) = next.ok()??;
            if !matches!(cell.msg, AnyChanMsg::Padding(_) | AnyChanMsg::Vpadding(_)) {
                return Some(cell);
            }
        }
    }

    /// The next cell that is not padding (panics on close).
    pub async fn recv(&mut self) -> ChanCell {
        self.try_recv()
            .await
            .expect("the relay keeps the channel open")
    }

    /// Sends every cell the circuit has queued, in one write.
    pub async fn flush_circ(&mut self, circ: &mut OriginCircuit) {
        let mut any = false;
        while let Some(cell) = circ.poll_cell() {
            self.queue(&cell);
            any = true;
        }
        if any {
            self.flush().await;
        }
    }

    /// Flushes, then feeds cells to the circuit until it reports an event.
    pub async fn next_event(&mut self, circ: &mut OriginCircuit, rng: &mut StdRng) -> CircEvent {
        loop {
            self.flush_circ(circ).await;
            if let Some(e) = circ.poll_event() {
                return e;
            }
            let cell = self.recv().await;
            circ.handle_cell(cell, rng);
        }
    }
}

/// Writes `len` pseudo-random bytes on `stream` and reads the echo back concurrently, within
/// the windows (checked after every cell); checks the SHA-256 of both directions.
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
    let last_hop = circ.n_hops() - 1;
    let (mut sent, mut got) = (0usize, 0usize);
    while got < len {
        if sent < len && circ.can_write(stream) {
            // Hand over up to 64 KiB at a time, as a runtime reading a socket would.
            let end = (sent + 65536).min(len);
            sent += circ
                .write(stream, &data[sent..end], rng)
                .expect("a writable stream takes data");
            link.flush_circ(circ).await;
            continue;
        }
        link.flush_circ(circ).await;
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
        let (pkg, dlv) = circ.hop_windows(last_hop).expect("the last hop exists");
        assert!(pkg <= 1000 && dlv <= 1000 && dlv > 0);
    }
    assert_eq!(got, len);
    assert_eq!(received.finalize(), sent_digest, "echoed bytes match");
}

/// A TCP echo server on loopback; each connection reports the bytes it echoed when it closes.
pub async fn echo_server() -> (SocketAddr, mpsc::UnboundedReceiver<u64>) {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("local address");
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

/// Ends `stream`, checks that the echo server saw the connection close after `n` bytes, and
/// that the stream takes no more data.
pub async fn end_and_check(
    link: &mut Link,
    circ: &mut OriginCircuit,
    stream: u16,
    closed: &mut mpsc::UnboundedReceiver<u64>,
    n: u64,
    rng: &mut StdRng,
) {
    circ.end(stream, rng).expect("an open stream can be ended");
    link.flush_circ(circ).await;
    let echoed = tokio::time::timeout(Duration::from_secs(20), closed.recv())
        .await
        .expect("the exit closes the TCP connection after our END")
        .expect("the echo server reports");
    assert_eq!(echoed, n);
    assert!(!circ.can_write(stream));
    assert!(circ.write(stream, b"x", rng).is_err());
}
