//! Channels: the link handshake between two Tor nodes over TLS (tor-spec §4 "Negotiating and
//! initializing channels"; tor-wire-brief §2).
//!
//! Sans-IO: the handshake state machines take decoded cells (with their exact wire bytes, for
//! the transcript digests), the peer's TLS certificate, the TLS exporter value and `now`, and
//! return cells to send and, at the end, the verified peer identity. The runtime
//! (`rt`) owns the TLS socket.

pub mod identity;
pub use identity::LinkIdentity;
