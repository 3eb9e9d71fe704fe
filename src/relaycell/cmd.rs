//! Relay commands (tor-spec §6.1 "Relay cells"; C tor 0.4.9 `or.h`; rend-spec-v3 for 32–40;
//! proposal 324 for XOFF/XON; proposal 339 for 16–18; proposal 329 for conflux 19–22) and
//! our datagram extension's two commands (`docs/datagram-spec.md`).

crate::open_enum! {
    /// The command byte of a relay message.
    ///
    /// An open set: unknown commands are representable, survive a round trip, and print as
    /// their number (`RelayCmd(249)`).
    pub struct RelayCmd(u8) {
        /// Open a stream to a host and port (tor-spec §6.2).
        BEGIN = 1,
        /// Stream data (tor-spec §6.2).
        DATA = 2,
        /// Close a stream (tor-spec §6.3).
        END = 3,
        /// Reply to BEGIN / BEGIN_DIR: the stream is open (tor-spec §6.2).
        CONNECTED = 4,
        /// Flow-control acknowledgement, circuit- or stream-level (tor-spec §7.3–7.4).
        SENDME = 5,
        /// Obsolete TAP-only extend request (tor-spec §5.1.2).
        EXTEND = 6,
        /// Obsolete reply to EXTEND (tor-spec §5.1.2).
        EXTENDED = 7,
        /// Tear down the circuit beyond this hop (tor-spec §5.4).
        TRUNCATE = 8,
        /// The circuit was torn down beyond the sending hop (tor-spec §5.4).
        TRUNCATED = 9,
        /// Long-range padding, ignored by its receiver (tor-spec §6.2).
        DROP = 10,
        /// DNS lookup (tor-spec §6.4).
        RESOLVE = 11,
        /// Answer to RESOLVE (tor-spec §6.4).
        RESOLVED = 12,
        /// Open a stream to the relay's directory service (tor-spec §6.2.1).
        BEGIN_DIR = 13,
        /// Extend the circuit by one hop (tor-spec §5.1.2).
        EXTEND2 = 14,
        /// Reply to EXTEND2 (tor-spec §5.1.2).
        EXTENDED2 = 15,
        /// Proposal 339: open a UDP stream at an exit (reserved; not in C tor 0.4.9).
        CONNECT_UDP = 16,
        /// Proposal 339: reply to CONNECT_UDP.
        CONNECTED_UDP = 17,
        /// Proposal 339: a UDP datagram on a CONNECT_UDP stream. Not our extension's
        /// [`RelayCmd::DATAGRAM`].
        UDP_DATAGRAM = 18,
        /// Conflux: link circuits (proposal 329).
        CONFLUX_LINK = 19,
        /// Conflux: circuits linked.
        CONFLUX_LINKED = 20,
        /// Conflux: acknowledge LINKED.
        CONFLUX_LINKED_ACK = 21,
        /// Conflux: switch legs.
        CONFLUX_SWITCH = 22,
        /// Onion service → introduction point (rend-spec-v3 §3.1.1).
        ESTABLISH_INTRO = 32,
        /// Client → rendezvous point (rend-spec-v3 §3.4.1).
        ESTABLISH_RENDEZVOUS = 33,
        /// Client → introduction point (rend-spec-v3 §3.2.1).
        INTRODUCE1 = 34,
        /// Introduction point → onion service (rend-spec-v3 §3.2.1).
        INTRODUCE2 = 35,
        /// Onion service → rendezvous point (rend-spec-v3 §3.4.2).
        RENDEZVOUS1 = 36,
        /// Rendezvous point → client (rend-spec-v3 §3.4.2).
        RENDEZVOUS2 = 37,
        /// Introduction point → onion service: ESTABLISH_INTRO accepted (rend-spec-v3 §3.1.3).
        INTRO_ESTABLISHED = 38,
        /// Rendezvous point → client: ESTABLISH_RENDEZVOUS accepted (rend-spec-v3 §3.4.1).
        RENDEZVOUS_ESTABLISHED = 39,
        /// Introduction point → client: answer to INTRODUCE1 (rend-spec-v3 §3.2.2).
        INTRODUCE_ACK = 40,
        /// Circuit padding negotiation (padding-spec §3).
        PADDING_NEGOTIATE = 41,
        /// Reply to PADDING_NEGOTIATE (padding-spec §3).
        PADDING_NEGOTIATED = 42,
        /// Stream flow control: stop sending (proposal 324 §4).
        XOFF = 43,
        /// Stream flow control: resume, with a rate hint (proposal 324 §4).
        XON = 44,
        /// Our extension: a whole datagram, or the last piece of a fragmented one
        /// (`docs/datagram-spec.md`). Unofficial number: keep it in this one place.
        DATAGRAM = 0xD0,
        /// Our extension: a non-final piece of a fragmented datagram
        /// (`docs/datagram-spec.md`). Unofficial number: keep it in this one place.
        DATAGRAM_FRAG = 0xD1,
    }
}

/// What a command requires of the StreamID field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamIdRule {
    /// A circuit-level control message: the StreamID must be 0.
    MustBeZero,
    /// A stream message: the StreamID must not be 0.
    MustBeNonZero,
    /// Either (SENDME: circuit-level with 0, stream-level otherwise).
    Either,
    /// Unknown command: nothing can be said.
    Unknown,
}

impl RelayCmd {
    /// What this command requires of the StreamID field (tor-spec §6.1 table; C tor
    /// `connection_edge_process_relay_cell`).
    pub fn stream_id_rule(self) -> StreamIdRule {
        match self {
            RelayCmd::BEGIN
            | RelayCmd::DATA
            | RelayCmd::END
            | RelayCmd::CONNECTED
            | RelayCmd::RESOLVE
            | RelayCmd::RESOLVED
            | RelayCmd::BEGIN_DIR
            | RelayCmd::CONNECT_UDP
            | RelayCmd::CONNECTED_UDP
            | RelayCmd::UDP_DATAGRAM
            | RelayCmd::XOFF
            | RelayCmd::XON
            | RelayCmd::DATAGRAM
            | RelayCmd::DATAGRAM_FRAG => StreamIdRule::MustBeNonZero,
            RelayCmd::EXTEND
            | RelayCmd::EXTENDED
            | RelayCmd::TRUNCATE
            | RelayCmd::TRUNCATED
            | RelayCmd::DROP
            | RelayCmd::EXTEND2
            | RelayCmd::EXTENDED2
            | RelayCmd::CONFLUX_LINK
            | RelayCmd::CONFLUX_LINKED
            | RelayCmd::CONFLUX_LINKED_ACK
            | RelayCmd::CONFLUX_SWITCH
            | RelayCmd::ESTABLISH_INTRO
            | RelayCmd::ESTABLISH_RENDEZVOUS
            | RelayCmd::INTRODUCE1
            | RelayCmd::INTRODUCE2
            | RelayCmd::RENDEZVOUS1
            | RelayCmd::RENDEZVOUS2
            | RelayCmd::INTRO_ESTABLISHED
            | RelayCmd::RENDEZVOUS_ESTABLISHED
            | RelayCmd::INTRODUCE_ACK
            | RelayCmd::PADDING_NEGOTIATE
            | RelayCmd::PADDING_NEGOTIATED => StreamIdRule::MustBeZero,
            RelayCmd::SENDME => StreamIdRule::Either,
            _ => StreamIdRule::Unknown,
        }
    }

    /// True for a circuit-level control message, whose StreamID must be 0.
    pub fn is_control(self) -> bool {
        self.stream_id_rule() == StreamIdRule::MustBeZero
    }

    /// True for a message that belongs to a stream, whose StreamID must not be 0.
    pub fn needs_stream_id(self) -> bool {
        self.stream_id_rule() == StreamIdRule::MustBeNonZero
    }

    /// True if `stream_id` is allowed with this command (unknown commands allow any).
    pub fn accepts_stream_id(self, stream_id: u16) -> bool {
        match self.stream_id_rule() {
            StreamIdRule::MustBeZero => stream_id == 0,
            StreamIdRule::MustBeNonZero => stream_id != 0,
            StreamIdRule::Either | StreamIdRule::Unknown => true,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_rules() {
        assert_eq!(RelayCmd::XOFF.0, 43);
        assert_eq!(RelayCmd::XON.0, 44);
        assert_eq!(RelayCmd::DATAGRAM.0, 0xD0);
        assert_eq!(RelayCmd::DATAGRAM_FRAG.0, 0xD1);
        assert!(RelayCmd::EXTEND2.is_control());
        assert!(RelayCmd::DATA.needs_stream_id());
        assert!(RelayCmd::DATAGRAM.needs_stream_id());
        assert!(!RelayCmd::SENDME.is_control() && !RelayCmd::SENDME.needs_stream_id());
        assert!(RelayCmd(249).accepts_stream_id(0) && RelayCmd(249).accepts_stream_id(7));
        assert_eq!(format!("{}", RelayCmd(249)), "RelayCmd(249)");
        for n in (1..=22).chain(32..=44) {
            assert!(RelayCmd(n).is_known(), "{n}");
            assert_ne!(RelayCmd(n).stream_id_rule(), StreamIdRule::Unknown, "{n}");
        }
        assert!(!RelayCmd(23).is_known() && !RelayCmd(45).is_known());
    }
}
