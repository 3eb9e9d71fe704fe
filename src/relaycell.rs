//! Relay cells (format v0) and every relay message (tor-spec §6 "Application connections and
//! stream management", §5.1.2 EXTEND2, §7.3–7.4 SENDME; rend-spec-v3 §3 for commands 32–40;
//! proposal 324 for XOFF/XON), plus our datagram extension's DATAGRAM / DATAGRAM_FRAG
//! (`docs/datagram-spec.md`).
//!
//! - [`RelayCmd`]: the open command space, and which commands need or forbid a stream id;
//! - [`RelayCellBody`], [`encode_v0`], [`decode_v0`]: the 509-byte v0 framing with
//!   proposal-289 padding;
//! - one type per message ([`Begin`], [`Data`], [`End`], …) implementing [`Body`], and
//!   [`AnyRelayMsg`], which dispatches on the command;
//! - [`RelayMsgError`], separating malformed input from protocol violations, with the END /
//!   DESTROY reason each error puts on the wire.
//!
//! Decoders never panic, accept what C tor 0.4.9 accepts where that is harmless (trailing
//! bytes after a message's fields are ignored, as C tor's parsers do), and encoders write the
//! canonical form C tor writes.
//!
//! Deliberately not here: relay crypto (recognized/digest; [`crate::crypto::tor1`]), relay
//! cell format v1 (proposal 359), stream and circuit state machines, the rules for a whole
//! link-specifier list, the inner structure of onion-service messages (bodies are opaque for
//! now), and datagram reassembly.

mod circuit;
mod cmd;
mod datagram;
mod error;
mod framing;
mod msg;
mod opaque;
mod resolve;
mod stream;

pub use circuit::{
    Drop, Extend2, Extended2, Sendme, SendmeTag, Truncate, Truncated, Xoff, Xon, FLOW_CTRL_VERSION,
};
pub use cmd::{RelayCmd, StreamIdRule};
pub use datagram::{split as split_datagram, Datagram, DatagramFrag};
pub use error::{RelayMsgError, DESTROY_REASON_INTERNAL, DESTROY_REASON_PROTOCOL};
pub use framing::{
    check_stream_id, decode_v0, encode_v0, RelayCellBody, DIGEST_OFFSET, MAX_DATA_LEN,
    PADDING_ZERO_PREFIX, RECOGNIZED_OFFSET, RELAY_BODY_LEN, RELAY_HEADER_LEN,
};
pub use msg::{AnyRelayMsg, Body};
pub use opaque::{
    ConfluxLink, ConfluxLinked, ConfluxLinkedAck, ConfluxSwitch, ConnectUdp, ConnectedUdp,
    EstablishIntro, EstablishRendezvous, Extend, Extended, IntroEstablished, Introduce1,
    Introduce2, IntroduceAck, PaddingNegotiate, PaddingNegotiated, Rendezvous1, Rendezvous2,
    RendezvousEstablished, UdpDatagram, Unrecognized,
};
pub use resolve::{Resolve, Resolved, ResolvedVal};
pub use stream::{Begin, BeginDir, BeginFlags, Connected, Data, End, EndReason};

#[cfg(test)]
mod tests;
