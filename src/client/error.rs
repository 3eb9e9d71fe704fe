//! Errors of the origin-side circuit: misuse by the caller ([`ClientError`], returned from
//! the call) and protocol violations by the relays ([`ProtocolViolation`], which close the
//! circuit with DESTROY(PROTOCOL) and are reported in [`super::CloseReason`]).

use crate::cell::ChanCmd;
use crate::crypto::sendme::SendmeError;
use crate::relaycell::{RelayCmd, RelayMsgError};

/// A call on an [`super::OriginCircuit`] that could not be carried out. Nothing was sent and
/// the circuit is unchanged (except for [`ClientError::Encode`], which is our own bug).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The circuit is closed.
    #[error("circuit is closed")]
    Closed,
    /// The circuit is still waiting for a CREATED2 / EXTENDED2.
    #[error("circuit has a handshake in progress")]
    HandshakePending,
    /// The circuit has no hop yet.
    #[error("circuit has no hops yet")]
    NoHops,
    /// There is no hop with this number.
    #[error("no hop {0} on this circuit")]
    NoSuchHop(usize),
    /// All 8 RELAY_EARLY cells of the circuit are spent (tor-spec §5.6).
    #[error("RELAY_EARLY budget spent: cannot extend further")]
    RelayEarlyExhausted,
    /// The target has no IPv4 or IPv6 address to put in EXTEND2.
    #[error("extend target has no address")]
    NoAddress,
    /// ntor-v3 needs the target's Ed25519 identity.
    #[error("ntor-v3 needs the relay's Ed25519 identity")]
    NoEd25519Id,
    /// The target's ntor key is not usable (small-order point).
    #[error("relay's ntor onion key is unusable")]
    BadOnionKey,
    /// No such stream (never opened, or already closed).
    #[error("no stream {0}")]
    NoSuchStream(u16),
    /// The stream is not open for this operation (not yet CONNECTED, or not a data stream).
    #[error("stream {0} is not open")]
    StreamNotOpen(u16),
    /// Every stream id is in use.
    #[error("no free stream id on this circuit")]
    StreamIdsExhausted,
    /// The circuit manages this command itself (DATA via `write`, SENDME, EXTEND2 via
    /// `extend`, BEGIN/BEGIN_DIR/RESOLVE/END via the stream calls).
    #[error("{0} is sent by the circuit itself; use the dedicated call")]
    ManagedCommand(RelayCmd),
    /// A message could not be encoded (our own bug or an unrepresentable argument).
    #[error("cannot encode relay message: {0}")]
    Encode(#[from] RelayMsgError),
}

/// Something a relay did that the protocol forbids; the circuit is closed for it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolViolation {
    /// A backward relay cell was recognised by no hop.
    #[error("relay cell recognised by no hop")]
    UnrecognizedCell,
    /// A RELAY_EARLY cell came towards the origin.
    #[error("inbound RELAY_EARLY")]
    InboundRelayEarly,
    /// A channel cell that makes no sense on an origin circuit in its state.
    #[error("unexpected {0} cell")]
    UnexpectedCell(ChanCmd),
    /// A relay message that makes no sense here (EXTENDED2 with nothing pending,
    /// CONNECTED on an open stream, a command relays never send, …).
    #[error("unexpected {cmd} relay message from hop {hop}")]
    UnexpectedMessage {
        /// The command.
        cmd: RelayCmd,
        /// The hop it came from.
        hop: usize,
    },
    /// A relay message that does not parse (or breaks the stream-id rules).
    #[error("bad relay message: {0}")]
    BadMessage(RelayMsgError),
    /// A SENDME or DATA cell broke the window rules.
    #[error("flow control: {0}")]
    FlowControl(#[from] SendmeError),
    /// A SENDME of a version or tag length we do not accept.
    #[error("SENDME of unacceptable version or tag")]
    BadSendme,
    /// The CREATED2 / CREATED_FAST / EXTENDED2 reply did not complete the handshake.
    #[error("circuit handshake failed: {0}")]
    Handshake(String),
}
