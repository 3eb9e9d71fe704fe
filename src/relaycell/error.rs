//! Errors from relay-cell framing and relay-message decoding, and what each one puts on the
//! wire (tor-spec §5.4 DESTROY reasons, §6.3 END reasons).

use super::cmd::RelayCmd;
use super::stream::EndReason;
use crate::wire::{DecodeError, EncodeError};

/// DESTROY / TRUNCATED reason "PROTOCOL" (tor-spec §5.4): a Tor protocol violation.
pub const DESTROY_REASON_PROTOCOL: u8 = 1;
/// DESTROY / TRUNCATED reason "INTERNAL" (tor-spec §5.4): an internal error.
pub const DESTROY_REASON_INTERNAL: u8 = 2;

/// Why a relay cell body or relay message could not be decoded or encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelayMsgError {
    // ---- malformed input
    /// The relay header's Length field is larger than the 498 bytes a v0 body can hold (or,
    /// from `RelayCellBody::try_from`, a body is not 509 bytes long).
    #[error("relay cell length {len} exceeds {max}")]
    BadLength {
        /// The Length field.
        len: u16,
        /// The largest allowed value.
        max: usize,
    },
    /// The message body does not parse as its command says.
    #[error("malformed {cmd} message: {source}")]
    Malformed {
        /// The relay command.
        cmd: RelayCmd,
        /// What was wrong.
        #[source]
        source: DecodeError,
    },

    // ---- protocol violations (well-formed, but not allowed)
    /// A stream message arrived with StreamID 0.
    #[error("{cmd} message with stream id 0")]
    ZeroStreamId {
        /// The relay command.
        cmd: RelayCmd,
    },
    /// A circuit-level control message arrived with a non-zero StreamID.
    #[error("{cmd} control message with non-zero stream id {stream_id}")]
    UnexpectedStreamId {
        /// The relay command.
        cmd: RelayCmd,
        /// The StreamID it carried.
        stream_id: u16,
    },

    // ---- local errors (our own bug or misuse)
    /// A message could not be encoded.
    #[error("cannot encode {cmd} message: {source}")]
    Encode {
        /// The relay command.
        cmd: RelayCmd,
        /// What was wrong.
        #[source]
        source: EncodeError,
    },
}

impl RelayMsgError {
    /// True if the peer sent bytes that do not parse.
    pub fn is_malformed(&self) -> bool {
        matches!(
            self,
            RelayMsgError::BadLength { .. } | RelayMsgError::Malformed { .. }
        )
    }

    /// True if the peer sent a well-formed message that the protocol does not allow.
    pub fn is_protocol_violation(&self) -> bool {
        matches!(
            self,
            RelayMsgError::ZeroStreamId { .. } | RelayMsgError::UnexpectedStreamId { .. }
        )
    }

    /// True if the error is ours (an encode failure), not the peer's.
    pub fn is_local(&self) -> bool {
        matches!(self, RelayMsgError::Encode { .. })
    }

    /// The relay command involved, when one is known.
    pub fn cmd(&self) -> Option<RelayCmd> {
        match self {
            RelayMsgError::BadLength { .. } => None,
            RelayMsgError::Malformed { cmd, .. }
            | RelayMsgError::ZeroStreamId { cmd }
            | RelayMsgError::UnexpectedStreamId { cmd, .. }
            | RelayMsgError::Encode { cmd, .. } => Some(*cmd),
        }
    }

    /// True if the error concerns one stream only, so that ending the stream (END with
    /// [`Self::end_reason`]) is enough: a malformed message of a stream command on a
    /// non-zero stream. Every other peer error closes the circuit (DESTROY / TRUNCATE with
    /// [`Self::destroy_reason`]), as C tor does for bad lengths, bad SENDMEs, bad EXTEND2s.
    ///
    /// Stream-id violations are *dropped* by C tor (logged at protocol-warning level); a
    /// caller that wants C tor's behaviour drops them and keeps the circuit.
    pub fn is_stream_scoped(&self) -> bool {
        match self {
            RelayMsgError::Malformed { cmd, .. } => cmd.needs_stream_id(),
            _ => false,
        }
    }

    /// The END reason to send on the stream for this error (tor-spec §6.3): TORPROTOCOL for
    /// anything the peer did wrong, INTERNAL for our own failures.
    pub fn end_reason(&self) -> EndReason {
        if self.is_local() {
            EndReason::INTERNAL
        } else {
            EndReason::TORPROTOCOL
        }
    }

    /// The DESTROY reason to send when closing the circuit for this error (tor-spec §5.4):
    /// PROTOCOL (1) for anything the peer did wrong, INTERNAL (2) for our own failures.
    pub fn destroy_reason(&self) -> u8 {
        if self.is_local() {
            DESTROY_REASON_INTERNAL
        } else {
            DESTROY_REASON_PROTOCOL
        }
    }
}
