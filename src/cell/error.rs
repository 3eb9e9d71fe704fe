//! Errors of the channel-cell layer, and what a channel does about each one.
//!
//! [`CellError`] separates malformed input (a body that does not parse), protocol violations
//! that are visible at the framing layer (wrong circuit id, a cell too long for our limit, a
//! fixed-length cell before the link version is known) and local errors (asking us to encode
//! something the wire cannot carry). [`CellError::disposition`] is the one mapping from an
//! error to the channel's reaction, modelled on what C tor 0.4.9 does (`channeltls.c`,
//! `command.c`).
//!
//! Deliberately not here: errors of the channel state machine (a valid cell at the wrong
//! time) and of handshake verification.

use super::{ChanCmd, CircId, DestroyReason};
use crate::wire::{DecodeError, EncodeError};

/// An error decoding or encoding a channel cell.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CellError {
    /// The body of a cell did not parse as its command requires.
    #[error("malformed {cmd} cell on circuit {circ_id}: {source}")]
    Malformed {
        /// The cell's command.
        cmd: ChanCmd,
        /// The cell's circuit id.
        circ_id: CircId,
        /// What was wrong.
        #[source]
        source: DecodeError,
    },
    /// The circuit id breaks the command's rule (zero for circuit cells, non-zero for
    /// channel cells).
    #[error("{cmd} cell with invalid circuit id {circ_id}")]
    BadCircId {
        /// The cell's command.
        cmd: ChanCmd,
        /// The offending circuit id.
        circ_id: CircId,
    },
    /// A variable-length cell announced a body longer than this codec accepts.
    #[error("variable-length {cmd} cell of {len} bytes exceeds the limit of {max}")]
    VarCellTooLong {
        /// The cell's command.
        cmd: ChanCmd,
        /// The announced body length.
        len: usize,
        /// This codec's limit.
        max: usize,
    },
    /// A fixed-length cell arrived before the link version was negotiated (only VERSIONS
    /// and other variable-length cells may come first; C tor closes the connection).
    #[error("fixed-length {cmd} cell before link version negotiation")]
    FixedCellBeforeNegotiation {
        /// The cell's command.
        cmd: ChanCmd,
    },
    /// A link protocol version we cannot frame cells for (below 4).
    #[error("unsupported link protocol version {0}")]
    UnsupportedLinkVersion(u16),
    /// We were asked to encode something the wire cannot carry (a local error).
    #[error("cannot encode {cmd} cell: {source}")]
    Encode {
        /// The cell's command.
        cmd: ChanCmd,
        /// What was wrong.
        #[source]
        source: EncodeError,
    },
}

/// What a channel does in response to a [`CellError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Close the whole channel (connection).
    CloseChannel,
    /// Tear down one circuit: send DESTROY with this reason, keep the channel.
    DestroyCircuit {
        /// The circuit to destroy.
        circ_id: CircId,
        /// The DESTROY reason to send.
        reason: DestroyReason,
    },
    /// Drop the cell and carry on (C tor ignores these, sometimes with a log line).
    DropCell,
    /// A local error: nothing goes on the wire; the caller's request fails.
    Local,
}

impl CellError {
    /// What a channel does about this error, following C tor 0.4.9:
    ///
    /// - an unparseable CREATE*/CREATED* body destroys that circuit with reason PROTOCOL
    ///   (`command.c`: "Bogus/unrecognized create cell", "Unparseable created cell");
    /// - a malformed PADDING_NEGOTIATE is dropped (`channeltls.c`: "dropping");
    /// - a circuit cell on circuit id 0 is dropped (C tor ignores CREATE* with id 0, and a
    ///   RELAY/DESTROY for an unknown circuit); padding with a non-zero id is dropped;
    /// - every other malformed or misframed cell closes the channel (CERTS, AUTH_*, VERSIONS,
    ///   NETINFO parse failures all end in `connection_or_close_for_error`);
    /// - encode errors and bad link versions are local.
    pub fn disposition(&self) -> Disposition {
        match self {
            CellError::Malformed { cmd, circ_id, .. } => {
                if cmd.is_circuit_cmd() && !circ_id.is_zero() {
                    Disposition::DestroyCircuit {
                        circ_id: *circ_id,
                        reason: DestroyReason::PROTOCOL,
                    }
                } else if *cmd == ChanCmd::PADDING_NEGOTIATE {
                    Disposition::DropCell
                } else {
                    Disposition::CloseChannel
                }
            }
            CellError::BadCircId { cmd, .. } => {
                if cmd.is_circuit_cmd() || *cmd == ChanCmd::PADDING || *cmd == ChanCmd::VPADDING {
                    Disposition::DropCell
                } else {
                    Disposition::CloseChannel
                }
            }
            CellError::VarCellTooLong { .. } | CellError::FixedCellBeforeNegotiation { .. } => {
                Disposition::CloseChannel
            }
            CellError::UnsupportedLinkVersion(_) | CellError::Encode { .. } => Disposition::Local,
        }
    }

    /// True if this error is about bytes a peer sent (as opposed to a local error).
    pub fn is_peer_error(&self) -> bool {
        self.disposition() != Disposition::Local
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn malformed(cmd: ChanCmd, id: u32) -> CellError {
        CellError::Malformed {
            cmd,
            circ_id: CircId(id),
            source: DecodeError::invalid("x", "y"),
        }
    }

    #[test]
    fn dispositions() {
        assert_eq!(
            malformed(ChanCmd::CREATE2, 9).disposition(),
            Disposition::DestroyCircuit {
                circ_id: CircId(9),
                reason: DestroyReason::PROTOCOL
            }
        );
        assert_eq!(
            malformed(ChanCmd::CERTS, 0).disposition(),
            Disposition::CloseChannel
        );
        assert_eq!(
            malformed(ChanCmd::PADDING_NEGOTIATE, 0).disposition(),
            Disposition::DropCell
        );
        let bad = CellError::BadCircId {
            cmd: ChanCmd::CREATE_FAST,
            circ_id: CircId(0),
        };
        assert_eq!(bad.disposition(), Disposition::DropCell);
        let bad = CellError::BadCircId {
            cmd: ChanCmd::AUTH_CHALLENGE,
            circ_id: CircId(1),
        };
        assert_eq!(bad.disposition(), Disposition::CloseChannel);
        assert!(!CellError::UnsupportedLinkVersion(3).is_peer_error());
    }
}
