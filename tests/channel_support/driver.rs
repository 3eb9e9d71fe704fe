#![allow(dead_code)] // Each test file uses a different part.

//! A small tokio driver that runs our link-handshake state machines over a TLS stream, for
//! the interop tests (the real channel task belongs to the runtime).

use std::time::{Duration, SystemTime};

use bytes::BytesMut;
use oniongate::cell::{ChanCell, ChannelCodec};
use oniongate::channel::{
    ChannelReady, HandshakeError, InitiatorConfig, LinkInitiator, LinkResponder, OutCell, Progress,
    ResponderConfig, TlsFacts,
};
use oniongate::rt::tls;
use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The TLS facts of a rustls connection.
pub struct Facts<'a, D>(pub &'a rustls::ConnectionCommon<D>);

impl<D> TlsFacts for Facts<'_, D> {
    fn peer_certificate(&self) -> Option<Vec<u8>> {
        tls::peer_cert_der(self.0).ok()
    }
    fn export_auth0003(&self, context: &[u8; 32]) -> Option<[u8; 32]> {
        tls::auth0003_exporter(self.0, context).ok()
    }
}

/// A TLS stream whose connection state we can read.
pub trait TlsIo: AsyncRead + AsyncWrite + Unpin {
    /// Runs `f` with this stream's TLS facts.
    fn with_facts<T>(&self, f: impl FnOnce(&dyn TlsFacts) -> T) -> T;
}

impl<IO: AsyncRead + AsyncWrite + Unpin> TlsIo for tokio_rustls::client::TlsStream<IO> {
    fn with_facts<T>(&self, f: impl FnOnce(&dyn TlsFacts) -> T) -> T {
        f(&Facts(self.get_ref().1))
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> TlsIo for tokio_rustls::server::TlsStream<IO> {
    fn with_facts<T>(&self, f: impl FnOnce(&dyn TlsFacts) -> T) -> T {
        f(&Facts(self.get_ref().1))
    }
}

/// Why a driven handshake stopped.
#[derive(Debug)]
pub enum DriveError {
    /// The state machine refused something.
    Handshake(HandshakeError),
    /// The peer closed or the socket failed.
    Io(String),
}

/// A channel after the handshake: the stream, its codec and unread bytes.
pub struct Link<S> {
    /// The TLS stream.
    pub io: S,
    /// The codec at the negotiated version.
    pub codec: ChannelCodec,
    /// Bytes read but not decoded yet.
    pub buf: BytesMut,
}

impl<S: TlsIo> Link<S> {
    /// Sends one cell.
    pub async fn send(&mut self, cell: ChanCell) -> Result<(), DriveError> {
        let bytes = self
            .codec
            .encode_to_vec(&cell)
            .map_err(|e| DriveError::Io(e.to_string()))?;
        self.io
            .write_all(&bytes)
            .await
            .map_err(|e| DriveError::Io(e.to_string()))?;
        self.io
            .flush()
            .await
            .map_err(|e| DriveError::Io(e.to_string()))
    }

    /// The next cell and its bytes (20 s timeout).
    pub async fn recv_raw(&mut self) -> Result<(ChanCell, Vec<u8>), DriveError> {
        loop {
            match self.codec.decode_raw(&mut self.buf) {
                Ok(Some((c, raw))) => return Ok((c, raw.to_vec())),
                Ok(None) => {}
                Err(e) => return Err(DriveError::Io(format!("codec: {e}"))),
            }
            let mut chunk = [0u8; 8192];
            let n = tokio::time::timeout(Duration::from_secs(20), self.io.read(&mut chunk))
                .await
                .map_err(|_| DriveError::Io("timed out".into()))?
                .map_err(|e| DriveError::Io(e.to_string()))?;
            if n == 0 {
                return Err(DriveError::Io("peer closed the connection".into()));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// The next cell that is not padding.
    pub async fn recv(&mut self) -> Result<ChanCell, DriveError> {
        loop {
            let (c, _) = self.recv_raw().await?;
            use oniongate::cell::AnyChanMsg;
            if !matches!(c.msg, AnyChanMsg::Padding(_) | AnyChanMsg::Vpadding(_)) {
                return Ok(c);
            }
        }
    }

    async fn write_cells(&mut self, cells: &[OutCell]) -> Result<(), DriveError> {
        for c in cells {
            self.io
                .write_all(&c.bytes)
                .await
                .map_err(|e| DriveError::Io(e.to_string()))?;
        }
        self.io
            .flush()
            .await
            .map_err(|e| DriveError::Io(e.to_string()))
    }
}

/// Runs our initiator over `io` until the handshake is over.
pub async fn run_initiator<S: TlsIo>(
    io: S,
    cfg: InitiatorConfig,
) -> Result<(ChannelReady, Link<S>), DriveError> {
    let mut rng = StdRng::from_entropy();
    let mut link = Link {
        io,
        codec: ChannelCodec::unnegotiated(),
        buf: BytesMut::new(),
    };
    let (mut st, first) = LinkInitiator::start(cfg).map_err(DriveError::Handshake)?;
    link.write_cells(&first).await?;
    loop {
        let (cell, raw) = link.recv_raw().await?;
        let p = link
            .io
            .with_facts(|f| st.handle(cell, &raw, f, SystemTime::now(), &mut rng))
            .map_err(DriveError::Handshake)?;
        match p {
            Progress::Continue { state, send } => {
                if let Some(v) = state.link_version() {
                    link.codec
                        .set_link_version(v)
                        .map_err(|e| DriveError::Io(e.to_string()))?;
                }
                link.write_cells(&send).await?;
                st = state;
            }
            Progress::Ready { ready, send } => {
                link.write_cells(&send).await?;
                return Ok((ready, link));
            }
        }
    }
}

/// Runs our responder over `io` until the handshake is over.
pub async fn run_responder<S: TlsIo>(
    io: S,
    cfg: ResponderConfig,
) -> Result<(ChannelReady, Link<S>), DriveError> {
    let mut rng = StdRng::from_entropy();
    let mut link = Link {
        io,
        codec: ChannelCodec::unnegotiated(),
        buf: BytesMut::new(),
    };
    let mut st = LinkResponder::new(cfg);
    loop {
        let (cell, raw) = link.recv_raw().await?;
        let p = link
            .io
            .with_facts(|f| st.handle(cell, &raw, f, SystemTime::now(), &mut rng))
            .map_err(DriveError::Handshake)?;
        match p {
            Progress::Continue { state, send } => {
                if let Some(v) = state.link_version() {
                    link.codec
                        .set_link_version(v)
                        .map_err(|e| DriveError::Io(e.to_string()))?;
                }
                link.write_cells(&send).await?;
                st = state;
            }
            Progress::Ready { ready, send } => {
                link.write_cells(&send).await?;
                return Ok((ready, link));
            }
        }
    }
}
