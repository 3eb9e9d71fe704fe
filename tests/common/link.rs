//! A client channel for tests that speak cells directly: `rt::channel::connect` in the client
//! role (full certificate checks, expected identities), then plain send/receive of cells.

use std::net::SocketAddr;
use std::time::Duration;

use oniongate::cell::{AnyChanMsg, ChanCell};
use oniongate::channel::{ExpectedPeer, InitiatorConfig, InitiatorRole};
use oniongate::rt::cellio::{CellReader, CellWriter};
use oniongate::rt::channel::{connect, HANDSHAKE_TIMEOUT};
use tokio::io::{ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// An open client channel.
pub struct Link {
    reader: CellReader<ReadHalf<TlsStream<TcpStream>>>,
    writer: CellWriter<WriteHalf<TlsStream<TcpStream>>>,
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

    /// The next cell that is not padding (panics after 20 s of silence or on close).
    pub async fn recv(&mut self) -> ChanCell {
        loop {
            let next = tokio::time::timeout(Duration::from_secs(20), self.reader.read_cell())
                .await
                .expect("the relay answers within 20 s")
                .expect("a valid cell")
                .expect("the relay keeps the channel open");
            if !matches!(next.0.msg, AnyChanMsg::Padding(_) | AnyChanMsg::Vpadding(_)) {
                return next.0;
            }
        }
    }
}
