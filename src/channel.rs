//! Channels: the link handshake between two Tor nodes over TLS (tor-spec §4 "Negotiating and
//! initializing channels"; tor-wire-brief §2).
//!
//! Sans-IO: the handshake state machines ([`LinkInitiator`], [`LinkResponder`]) take
//! decoded cells (with their exact wire bytes, for the transcript digests), the TLS facts
//! the runtime knows ([`TlsFacts`]: the peer certificate, the RFC 5705 exporter) and `now`,
//! and return cells to send and, at the end, a [`ChannelReady`] naming the verified peer.
//! The runtime (`rt`) owns the TLS socket and the decoding buffer.
//!
//! - [`certs`]: checking a CERTS cell as C tor does, in both directions;
//! - [`auth`]: the AUTH0003 authenticator (build and verify);
//! - [`handshake`]: what both state machines share (results, errors, cell rules);
//! - [`initiator`], [`responder`]: the state machines.
//!
//! Deliberately not here: the channel task after the handshake (circuit maps, queues).

pub mod auth;
pub mod certs;
pub mod handshake;
pub mod identity;
pub mod initiator;
pub mod responder;
#[doc(hidden)]
pub mod testing;

pub use certs::{CertifiedPeer, CertsError};
pub use handshake::{
    ChannelReady, ExpectedPeer, HandshakeError, OutCell, PeerIdentity, Progress, TlsFacts,
    LINK_VERSIONS,
};
pub use identity::LinkIdentity;
pub use initiator::{InitiatorConfig, InitiatorRole, LinkInitiator};
pub use responder::{LinkResponder, ResponderConfig};
