#![allow(dead_code)] // Each test file uses a different part.

//! Runs our link-handshake state machines over a TLS stream the test made itself, through
//! the runtime's own driver (`rt::channel::{initiate, respond}`), and gives the test a
//! cell-level handle afterwards.

use std::net::SocketAddr;
use std::time::Duration;

use oniongate::cell::{AnyChanMsg, ChanCell};
use oniongate::channel::{ChannelReady, HandshakeError, InitiatorConfig, ResponderConfig};
use oniongate::rt::cellio::{CellReader, CellWriter};
use oniongate::rt::channel::{initiate, respond, ChannelOpenError, TlsConnection};
use tokio::io::{AsyncRead, AsyncWrite, ReadHalf, WriteHalf};

/// Why a driven handshake or a later cell exchange stopped.
#[derive(Debug)]
pub enum DriveError {
    /// The state machine refused something.
    Handshake(HandshakeError),
    /// The peer closed or the socket failed.
    Io(String),
}

impl From<ChannelOpenError> for DriveError {
    fn from(e: ChannelOpenError) -> Self {
        match e {
            ChannelOpenError::Handshake(h) => DriveError::Handshake(h),
            other => DriveError::Io(other.to_string()),
        }
    }
}

/// A channel after the handshake.
pub struct Link<S> {
    reader: CellReader<ReadHalf<S>>,
    writer: CellWriter<WriteHalf<S>>,
}

impl<S: AsyncRead + AsyncWrite> Link<S> {
    /// Sends one cell.
    pub async fn send(&mut self, cell: ChanCell) -> Result<(), DriveError> {
        self.writer
            .queue(&cell)
            .map_err(|e| DriveError::Io(e.to_string()))?;
        self.writer
            .flush()
            .await
            .map_err(|e| DriveError::Io(e.to_string()))
    }

    /// The next cell that is not padding (20 s timeout; a close is an error).
    pub async fn recv(&mut self) -> Result<ChanCell, DriveError> {
        loop {
            let next = tokio::time::timeout(Duration::from_secs(20), self.reader.read_cell())
                .await
                .map_err(|_| DriveError::Io("timed out".into()))?
                .map_err(|e| DriveError::Io(e.to_string()))?;
            let (cell, _) =
                next.ok_or_else(|| DriveError::Io("peer closed the connection".into()))?;
            if !matches!(cell.msg, AnyChanMsg::Padding(_) | AnyChanMsg::Vpadding(_)) {
                return Ok(cell);
            }
        }
    }
}

/// The driver does not know the peer's socket address (the state machines take theirs
/// from their configs); `OpenChannel` records this placeholder.
fn unknown_peer() -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], 0))
}

/// Runs our initiator over `io` until the handshake is over.
pub async fn run_initiator<S>(
    io: S,
    cfg: InitiatorConfig,
) -> Result<(ChannelReady, Link<S>), DriveError>
where
    S: AsyncRead + AsyncWrite + TlsConnection + Unpin,
{
    let ch = initiate(io, cfg, unknown_peer()).await?;
    Ok((
        ch.ready,
        Link {
            reader: ch.reader,
            writer: ch.writer,
        },
    ))
}

/// Runs our responder over `io` until the handshake is over.
pub async fn run_responder<S>(
    io: S,
    cfg: ResponderConfig,
) -> Result<(ChannelReady, Link<S>), DriveError>
where
    S: AsyncRead + AsyncWrite + TlsConnection + Unpin,
{
    let ch = respond(io, cfg, unknown_peer()).await?;
    Ok((
        ch.ready,
        Link {
            reader: ch.reader,
            writer: ch.writer,
        },
    ))
}
