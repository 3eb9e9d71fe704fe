//! Channel cells and channel messages (tor-spec §3 "Cell packet format", §4 "Negotiating and
//! initializing channels", §5.1 "CREATE and CREATED cells", §5.4 "Tearing down circuits",
//! §7.2 "Link padding" / PADDING_NEGOTIATE).
//!
//! Layout of this module:
//!
//! - here: the command space ([`ChanCmd`]), circuit ids ([`CircId`]) and the cell-size constants;
//! - [`msg`]: [`AnyChanMsg`], one variant per channel message, decoded from and encoded to a
//!   cell *body*; the message types themselves live in [`handshake`] (link handshake messages),
//!   [`circuit`] (CREATE*/CREATED*/RELAY*/DESTROY) and [`padding`];
//! - [`codec`]: [`ChanCell`] framing for link protocols 4 and 5 (and the 2-byte-circ-id framing
//!   used before the link version is negotiated), as a sans-IO [`ChannelCodec`];
//! - [`error`]: [`CellError`] and what a channel does about each error ([`Disposition`]).
//!
//! Parsing follows C tor 0.4.9 (`channeltls.c`, `onion.c`, trunnel `link_handshake`,
//! `netinfo`, `channelpadding_negotiation`), including where it is stricter or looser than the
//! spec text; each message documents the places where that matters.
//!
//! Deliberately not here: relay cells and their crypto (`crate::relaycell`), the contents of
//! certificates in a CERTS cell (`crate::cert`), the channel state machine (which messages
//! are allowed when), and link protocols below 4 (2-byte circuit ids after negotiation).

pub mod circuit;
pub mod codec;
pub mod error;
pub mod handshake;
pub mod htype;
pub mod msg;
pub mod padding;

pub use circuit::{
    Create, Create2, CreateFast, Created, Created2, CreatedFast, Destroy, DestroyReason, Relay,
    RelayEarly,
};
pub use codec::{ChanCell, ChannelCodec};
pub use error::{CellError, Disposition};
pub use handshake::{
    AuthChallenge, Authenticate, Authorize, CertEntry, CertType, Certs, Netinfo, Versions,
};
pub use htype::HandshakeType;
pub use msg::{AnyChanMsg, ChanMsgBody, Unrecognized};
pub use padding::{Padding, PaddingCommand, PaddingNegotiate, Vpadding};

/// Length of the body of a fixed-length cell (`CELL_BODY_LEN`, formerly `PAYLOAD_LEN`).
pub const CELL_BODY_LEN: usize = 509;
/// Length of a whole fixed-length cell with 4-byte circuit ids (link protocol ≥ 4).
pub const FIXED_CELL_LEN: usize = 514;
/// Length of a variable-length cell header with 4-byte circuit ids.
pub const VAR_HEADER_LEN: usize = 7;
/// Length of a variable-length cell header with 2-byte circuit ids (VERSIONS before
/// negotiation).
pub const VAR_HEADER_LEN_NARROW: usize = 5;
/// The lowest link protocol this crate frames cells for (4-byte circuit ids).
pub const MIN_LINK_VERSION: u16 = 4;
/// The link protocol versions we implement, lowest first (brief §1.3: send `VERSIONS [4, 5]`).
pub const LINK_VERSIONS: [u16; 2] = [4, 5];

crate::open_enum! {
    /// The command byte of a channel cell (tor-spec §3; brief §1.2).
    ///
    /// Commands 7 and ≥ 128 are variable-length; every other command is fixed-length.
    pub struct ChanCmd(u8) {
        /// Link padding; dropped on receipt.
        PADDING = 0,
        /// TAP circuit creation (obsolete; refused by C tor 0.4.9 relays).
        CREATE = 1,
        /// TAP circuit creation reply (obsolete).
        CREATED = 2,
        /// A relay cell.
        RELAY = 3,
        /// Tear down a circuit.
        DESTROY = 4,
        /// Create a circuit without public-key crypto (first hop only).
        CREATE_FAST = 5,
        /// Reply to CREATE_FAST.
        CREATED_FAST = 6,
        /// Link version negotiation (variable-length despite its number).
        VERSIONS = 7,
        /// Time and addresses; ends each side's link handshake.
        NETINFO = 8,
        /// A relay cell that may carry EXTEND/EXTEND2 (limited per circuit).
        RELAY_EARLY = 9,
        /// Create a circuit (current format).
        CREATE2 = 10,
        /// Reply to CREATE2.
        CREATED2 = 11,
        /// Channel padding negotiation (link protocol ≥ 5).
        PADDING_NEGOTIATE = 12,
        /// Variable-length padding.
        VPADDING = 128,
        /// Certificates for the link handshake.
        CERTS = 129,
        /// Responder's authentication challenge.
        AUTH_CHALLENGE = 130,
        /// Initiator's authentication.
        AUTHENTICATE = 131,
        /// Reserved; never used.
        AUTHORIZE = 132,
    }
}

/// What a command requires of the circuit id of its cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CircIdRule {
    /// The cell concerns the whole channel: its circuit id must be 0.
    MustBeZero,
    /// The cell concerns one circuit: its circuit id must not be 0.
    MustBeNonZero,
    /// No rule (unknown and reserved commands).
    Any,
}

impl ChanCmd {
    /// True if cells with this command use the variable-length format (tor-spec §3: VERSIONS,
    /// and every command ≥ 128, for link protocols ≥ 3 and before negotiation).
    pub fn is_var_len(self) -> bool {
        self == ChanCmd::VERSIONS || self.0 >= 128
    }

    /// The circuit-id rule for this command (brief §1.2).
    pub fn circ_id_rule(self) -> CircIdRule {
        match self {
            ChanCmd::PADDING
            | ChanCmd::VERSIONS
            | ChanCmd::NETINFO
            | ChanCmd::PADDING_NEGOTIATE
            | ChanCmd::VPADDING
            | ChanCmd::CERTS
            | ChanCmd::AUTH_CHALLENGE
            | ChanCmd::AUTHENTICATE => CircIdRule::MustBeZero,
            ChanCmd::CREATE
            | ChanCmd::CREATED
            | ChanCmd::RELAY
            | ChanCmd::DESTROY
            | ChanCmd::CREATE_FAST
            | ChanCmd::CREATED_FAST
            | ChanCmd::RELAY_EARLY
            | ChanCmd::CREATE2
            | ChanCmd::CREATED2 => CircIdRule::MustBeNonZero,
            _ => CircIdRule::Any,
        }
    }

    /// True if `circ_id` is allowed on a cell with this command.
    pub fn accepts_circ_id(self, circ_id: CircId) -> bool {
        match self.circ_id_rule() {
            CircIdRule::MustBeZero => circ_id.is_zero(),
            CircIdRule::MustBeNonZero => !circ_id.is_zero(),
            CircIdRule::Any => true,
        }
    }

    /// True if this command concerns a single circuit (its cells carry a non-zero circuit id).
    pub fn is_circuit_cmd(self) -> bool {
        self.circ_id_rule() == CircIdRule::MustBeNonZero
    }
}

/// A channel-local circuit identifier (tor-spec §3, §5.1.1; 4 bytes for link protocol ≥ 4).
///
/// Zero is reserved for cells that concern the whole channel. On circuits it creates, the
/// party that *initiated the TLS connection* sets the most significant bit; the responder
/// clears it (tor-spec §5.1.1, link protocol ≥ 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct CircId(pub u32);

impl CircId {
    /// The reserved id of channel-level cells.
    pub const ZERO: CircId = CircId(0);
    /// The bit set by the TLS initiator on circuits it creates.
    pub const HIGH_BIT: u32 = 0x8000_0000;

    /// True for the reserved id 0.
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// True if the most significant bit is set.
    pub fn has_high_bit(self) -> bool {
        self.0 & Self::HIGH_BIT != 0
    }

    /// True if a party may create a circuit with this id: non-zero, with the high bit set
    /// exactly when the creator initiated the TLS connection (C tor answers a violation with
    /// DESTROY reason PROTOCOL, brief §13).
    pub fn valid_for_creator(self, creator_initiated_tls: bool) -> bool {
        !self.is_zero() && self.has_high_bit() == creator_initiated_tls
    }

    /// Builds a circuit id for a new circuit from random bits, setting or clearing the high
    /// bit according to who initiated the TLS connection. Returns `None` if the result would
    /// be the reserved 0 (the caller draws again).
    pub fn from_random(bits: u32, we_initiated_tls: bool) -> Option<CircId> {
        let v = if we_initiated_tls {
            bits | Self::HIGH_BIT
        } else {
            bits & !Self::HIGH_BIT
        };
        (v != 0).then_some(CircId(v))
    }
}

impl From<u32> for CircId {
    fn from(v: u32) -> Self {
        CircId(v)
    }
}

impl From<CircId> for u32 {
    fn from(v: CircId) -> u32 {
        v.0
    }
}

impl std::fmt::Display for CircId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#010x}", self.0)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn var_len_commands() {
        assert!(ChanCmd::VERSIONS.is_var_len());
        assert!(ChanCmd::VPADDING.is_var_len());
        assert!(ChanCmd(255).is_var_len());
        assert!(!ChanCmd::NETINFO.is_var_len());
        assert!(!ChanCmd(127).is_var_len());
        assert!(!ChanCmd::PADDING_NEGOTIATE.is_var_len());
    }

    #[test]
    fn circ_id_rules() {
        assert!(ChanCmd::RELAY.accepts_circ_id(CircId(5)));
        assert!(!ChanCmd::RELAY.accepts_circ_id(CircId::ZERO));
        assert!(ChanCmd::NETINFO.accepts_circ_id(CircId::ZERO));
        assert!(!ChanCmd::CERTS.accepts_circ_id(CircId(1)));
        assert!(ChanCmd::AUTHORIZE.accepts_circ_id(CircId(1)));
        assert!(ChanCmd(200).accepts_circ_id(CircId(1)));
        assert!(ChanCmd::CREATE2.is_circuit_cmd());
        assert!(!ChanCmd::VPADDING.is_circuit_cmd());
    }

    #[test]
    fn msb_rule() {
        assert_eq!(CircId::from_random(5, true), Some(CircId(0x8000_0005)));
        assert_eq!(CircId::from_random(0x8000_0005, false), Some(CircId(5)));
        assert_eq!(CircId::from_random(0x8000_0000, false), None);
        assert!(CircId(0x8000_0000).valid_for_creator(true));
        assert!(!CircId(0x8000_0000).valid_for_creator(false));
        assert!(CircId(7).valid_for_creator(false));
        assert!(!CircId(0).valid_for_creator(false));
        assert_eq!(CircId(0x8000_0001).to_string(), "0x80000001");
    }
}
