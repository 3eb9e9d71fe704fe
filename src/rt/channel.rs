//! Opening channels: TLS, then the sans-IO link handshake ([`crate::channel`]) driven over
//! the TLS stream, ending with a verified peer and a cell reader/writer pair for the
//! channel's task.
//!
//! The driver makes no protocol decision: it writes the bytes the state machine hands it,
//! feeds it every received cell with its exact wire bytes, answers its questions about TLS
//! (the peer certificate, the AUTH0003 exporter) from the live rustls connection, and sets
//! the codec's link version once the state machine has negotiated one. The whole handshake
//! runs under one deadline; a peer that fails any check is refused with the state machine's
//! reason.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rand::rngs::StdRng;
use rand::SeedableRng;
use rustls::ConnectionCommon;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::TcpStream;

use super::cellio::{CellIoError, CellReader, CellWriter};
use super::tls;
use crate::cell::{ChanCell, ChannelCodec};
use crate::channel::{
    ChannelReady, HandshakeError, InitiatorConfig, LinkInitiator, LinkResponder, OutCell, Progress,
    ResponderConfig, TlsFacts,
};

/// How long a whole link handshake (TCP, TLS and Tor) may take by default.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a channel could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ChannelOpenError {
    /// TCP or TLS failed.
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
    /// The TLS configuration could not be made.
    #[error("{0}")]
    Tls(#[from] tls::TlsError),
    /// Reading or writing cells failed.
    #[error("{0}")]
    Cells(#[from] CellIoError),
    /// The peer failed the link handshake.
    #[error("link handshake: {0}")]
    Handshake(#[from] HandshakeError),
    /// The peer closed the connection before the handshake finished.
    #[error("peer closed the connection during the link handshake")]
    Closed,
    /// The handshake took longer than allowed.
    #[error("link handshake timed out")]
    Timeout,
}

/// An open channel: who the peer is, and the two halves of the stream as cell I/O.
#[derive(Debug)]
pub struct OpenChannel<S> {
    /// The verified handshake result.
    pub ready: ChannelReady,
    /// Cells from the peer.
    pub reader: CellReader<ReadHalf<S>>,
    /// Cells to the peer.
    pub writer: CellWriter<WriteHalf<S>>,
    /// The peer's address.
    pub peer_addr: SocketAddr,
}

/// The TLS facts of a live rustls connection.
struct RustlsFacts<'a, D>(&'a ConnectionCommon<D>);

impl<D> TlsFacts for RustlsFacts<'_, D> {
    fn peer_certificate(&self) -> Option<Vec<u8>> {
        tls::peer_cert_der(self.0).ok()
    }

    fn export_auth0003(&self, context: &[u8; 32]) -> Option<[u8; 32]> {
        tls::auth0003_exporter(self.0, context).ok()
    }
}

/// Gives the driver access to the rustls connection state behind a tokio-rustls stream.
pub trait TlsConnection {
    /// The connection's TLS facts.
    fn with_facts<T>(&self, f: impl FnOnce(&dyn TlsFacts) -> T) -> T;
}

impl<IO> TlsConnection for tokio_rustls::client::TlsStream<IO> {
    fn with_facts<T>(&self, f: impl FnOnce(&dyn TlsFacts) -> T) -> T {
        f(&RustlsFacts(self.get_ref().1))
    }
}

impl<IO> TlsConnection for tokio_rustls::server::TlsStream<IO> {
    fn with_facts<T>(&self, f: impl FnOnce(&dyn TlsFacts) -> T) -> T {
        f(&RustlsFacts(self.get_ref().1))
    }
}

/// One step of either handshake state machine.
trait Handshake: Sized {
    fn step(
        self,
        cell: ChanCell,
        raw: &[u8],
        tls: &dyn TlsFacts,
        now: SystemTime,
        rng: &mut StdRng,
    ) -> Result<Progress<Self>, HandshakeError>;
    fn negotiated(&self) -> Option<u16>;
}

impl Handshake for LinkInitiator {
    fn step(
        self,
        cell: ChanCell,
        raw: &[u8],
        tls: &dyn TlsFacts,
        now: SystemTime,
        rng: &mut StdRng,
    ) -> Result<Progress<Self>, HandshakeError> {
        self.handle(cell, raw, tls, now, rng)
    }
    fn negotiated(&self) -> Option<u16> {
        self.link_version()
    }
}

impl Handshake for LinkResponder {
    fn step(
        self,
        cell: ChanCell,
        raw: &[u8],
        tls: &dyn TlsFacts,
        now: SystemTime,
        rng: &mut StdRng,
    ) -> Result<Progress<Self>, HandshakeError> {
        self.handle(cell, raw, tls, now, rng)
    }
    fn negotiated(&self) -> Option<u16> {
        self.link_version()
    }
}

async fn write_out<S: AsyncWrite + Unpin>(
    stream: &mut S,
    cells: &[OutCell],
) -> std::io::Result<()> {
    for c in cells {
        stream.write_all(&c.bytes).await?;
    }
    stream.flush().await
}

/// Runs a handshake state machine over `stream` until it is ready.
async fn drive<S, H>(
    stream: S,
    mut state: H,
    first: Vec<OutCell>,
    peer_addr: SocketAddr,
) -> Result<OpenChannel<S>, ChannelOpenError>
where
    S: AsyncRead + AsyncWrite + TlsConnection + Unpin,
    H: Handshake,
{
    let mut rng = StdRng::from_entropy();
    let mut reader = CellReader::new(stream, ChannelCodec::unnegotiated());
    write_out(reader.get_mut(), &first).await?;
    loop {
        let (cell, raw) = reader.read_cell().await?.ok_or(ChannelOpenError::Closed)?;
        let now = SystemTime::now();
        let progress = {
            let stream = reader.get_ref();
            stream.with_facts(|facts| state.step(cell, &raw, facts, now, &mut rng))?
        };
        match progress {
            Progress::Continue { state: next, send } => {
                if let (Some(v), None) = (next.negotiated(), reader.codec_mut().link_version()) {
                    reader
                        .codec_mut()
                        .set_link_version(v)
                        .map_err(CellIoError::from)?;
                }
                write_out(reader.get_mut(), &send).await?;
                state = next;
            }
            Progress::Ready { ready, send } => {
                write_out(reader.get_mut(), &send).await?;
                let codec =
                    ChannelCodec::new(Some(ready.link_version)).map_err(CellIoError::from)?;
                let (stream, buffered) = reader.into_parts();
                let (r, w) = tokio::io::split(stream);
                return Ok(OpenChannel {
                    ready,
                    reader: CellReader::with_buffer(r, codec.clone(), buffered),
                    writer: CellWriter::new(w, codec),
                    peer_addr,
                });
            }
        }
    }
}

/// Runs the initiator's link handshake over an already established TLS stream (for callers
/// that make their own TLS connection; [`connect`] does TCP and TLS too).
pub async fn initiate<S>(
    stream: S,
    cfg: InitiatorConfig,
    peer_addr: SocketAddr,
) -> Result<OpenChannel<S>, ChannelOpenError>
where
    S: AsyncRead + AsyncWrite + TlsConnection + Unpin,
{
    let (state, first) = LinkInitiator::start(cfg)?;
    drive(stream, state, first, peer_addr).await
}

/// Runs the responder's link handshake over an already accepted TLS stream (for callers
/// that do their own TLS accept; [`accept`] does it too).
pub async fn respond<S>(
    stream: S,
    cfg: ResponderConfig,
    peer_addr: SocketAddr,
) -> Result<OpenChannel<S>, ChannelOpenError>
where
    S: AsyncRead + AsyncWrite + TlsConnection + Unpin,
{
    drive(stream, LinkResponder::new(cfg), Vec::new(), peer_addr).await
}

/// Connects to a relay at `addr` and runs the initiator's handshake.
pub async fn connect(
    addr: SocketAddr,
    cfg: InitiatorConfig,
    timeout: Duration,
) -> Result<OpenChannel<tokio_rustls::client::TlsStream<TcpStream>>, ChannelOpenError> {
    let work = async {
        let tcp = TcpStream::connect(addr).await?;
        tcp.set_nodelay(true)?;
        let mut rng = StdRng::from_entropy();
        let connector = tokio_rustls::TlsConnector::from(tls::client_config()?);
        let stream = connector
            .connect(tls::random_server_name(&mut rng)?, tcp)
            .await?;
        initiate(stream, cfg, addr).await
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| ChannelOpenError::Timeout)?
}

/// Runs the responder's TLS and link handshake on an accepted connection.
pub async fn accept(
    tcp: TcpStream,
    acceptor: Arc<rustls::ServerConfig>,
    cfg: ResponderConfig,
    timeout: Duration,
) -> Result<OpenChannel<tokio_rustls::server::TlsStream<TcpStream>>, ChannelOpenError> {
    let peer_addr = tcp.peer_addr()?;
    let work = async {
        tcp.set_nodelay(true)?;
        let stream = tokio_rustls::TlsAcceptor::from(acceptor)
            .accept(tcp)
            .await?;
        respond(stream, cfg, peer_addr).await
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| ChannelOpenError::Timeout)?
}
