//! What an [`super::OriginCircuit`] reports to the runtime: [`CircEvent`], and why a
//! circuit closed ([`CloseReason`]).

use std::net::IpAddr;

use bytes::Bytes;

use super::stream::StreamId;
use super::{ClientError, ProtocolViolation};
use crate::cell::DestroyReason;
use crate::relaycell::{AnyRelayMsg, EndReason, ResolvedVal};

/// Something the runtime needs to know or act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CircEvent {
    /// A hop completed its handshake; the circuit now has `hops` hops and is open for
    /// streams and further extends.
    HopAdded {
        /// Hops on the circuit now.
        hops: usize,
    },
    /// A stream opened by `begin` / `begin_dir` is connected.
    Connected {
        /// The stream.
        stream: StreamId,
        /// The address the exit connected to, with its TTL, if it said.
        addr: Option<(IpAddr, u32)>,
    },
    /// Bytes arrived on a stream.
    Data {
        /// The stream.
        stream: StreamId,
        /// The bytes (1–498).
        data: Bytes,
    },
    /// The far end closed a stream (END), or refused to open it. The stream is gone.
    Ended {
        /// The stream.
        stream: StreamId,
        /// The END reason.
        reason: EndReason,
    },
    /// The answer to `resolve`. The stream is gone.
    Resolved {
        /// The stream the RESOLVE went on.
        stream: StreamId,
        /// The answers with their TTLs.
        answers: Vec<(ResolvedVal, u32)>,
    },
    /// A stream whose `write` was cut short (or refused) by a window may write again.
    Writable {
        /// The stream.
        stream: StreamId,
    },
    /// A relay message the circuit does not handle itself (onion-service messages, DATAGRAM,
    /// and anything else relays may send), passed up as it came.
    Message {
        /// The hop that sent it.
        hop: usize,
        /// Its stream id (0 for circuit-level messages).
        stream_id: u16,
        /// The message.
        msg: AnyRelayMsg,
    },
    /// The circuit is closed; every stream on it is gone. The last event.
    Closed(CloseReason),
}

/// Why a circuit closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// We closed it ([`super::OriginCircuit::close`]).
    Local,
    /// The first hop sent DESTROY.
    Destroyed(DestroyReason),
    /// A hop sent TRUNCATED (the circuit beyond it broke, or an extend failed).
    Truncated {
        /// The hop that sent it.
        hop: usize,
        /// Its DESTROY-style reason byte.
        reason: u8,
    },
    /// A relay broke the protocol.
    Protocol(ProtocolViolation),
    /// A hop's handshake took too long.
    Timeout,
    /// We could not produce a cell we had to send (a bug).
    Internal(ClientError),
}
