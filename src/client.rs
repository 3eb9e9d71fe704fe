//! Circuits and streams at the origin: the client side of tor-spec §5 ("Circuit
//! management"), §6 ("Application connections and stream management") and §7 ("Flow
//! control"), sans-IO.
//!
//! An [`OriginCircuit`] is built hop by hop: the first hop with CREATE2 (ntor or ntor-v3) or
//! CREATE_FAST, each further hop with EXTEND2 sent in RELAY_EARLY to the current last hop
//! (link specifiers in the order `[00] [02] [03] [01]`, at most 8 RELAY_EARLY cells per
//! circuit). ntor-v3 hops get an empty extension list: we never request congestion control
//! (tor-wire-brief §8.2), so every hop runs the classic windows with SENDME v1.
//!
//! The runtime owns the channel. It hands every cell that arrives for the circuit to
//! [`OriginCircuit::handle_cell`], calls [`OriginCircuit::handle_timeout`] when
//! [`OriginCircuit::next_timeout`] passes, and after each call drains
//! [`OriginCircuit::poll_cell`] (cells to send, in order) and [`OriginCircuit::poll_event`]
//! (what happened: hops added, streams connected, data, ends, closure). Randomness comes from
//! the caller's RNG; no clock is read.
//!
//! Rules enforced (C tor 0.4.9 behaviour where the spec is loose):
//! - an incoming relay cell no hop recognises, an inbound RELAY_EARLY, a bad or unexpected
//!   SENDME, a malformed control message, CONNECTED on an open stream, EXTENDED2 with nothing
//!   pending: the circuit is closed with DESTROY(PROTOCOL);
//! - DESTROY closes the circuit; TRUNCATED closes it too (as C tor's `circuit_truncated`,
//!   which "just gives up"), sending DESTROY;
//! - circuit windows per hop (1000/100, only DATA counts): a v1 SENDME with the recorded tag
//!   goes out as soon as a deliver window falls to 900; packaging stops at package window 0;
//!   incoming SENDME tags are checked against the tags recorded when we sent (`crypto::sendme`);
//! - stream windows (500/50): stream SENDMEs go out when the deliver window falls to 450
//!   unless the runtime paused reading; DATA cells (≤ 498 bytes, proposal-289 padding) are
//!   packaged only while both windows allow.
//! - a stream we END stays *half-closed* until the exit's END: its id is not reused, and
//!   cells that were already in flight for it are dropped quietly (C tor `half_edge`).
//!
//! Deliberately not here: sockets and timers (the runtime), path selection and directory
//! information (stage 3), onion-service circuits (stage 4: their messages are passed up as
//! [`CircEvent::Message`]), congestion control (proposal 324), TRUNCATE, conflux, and
//! circuit padding.

mod circuit;
pub mod dirmgr;
mod error;
mod event;
pub mod guards;
mod handshake;
pub mod netdir;
pub mod path;
mod stream;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod testnet;
#[cfg(test)]
mod tests;

pub use circuit::{OriginCircuit, DEFAULT_HOP_TIMEOUT, MAX_RELAY_EARLY};
pub use error::{ClientError, ProtocolViolation};
pub use event::{CircEvent, CloseReason};
pub use stream::{StreamId, StreamKind};

use std::net::{IpAddr, SocketAddr, SocketAddrV4, SocketAddrV6};

use crate::crypto::ll::X25519Public;
use crate::ids::{Ed25519Identity, RsaIdentity};
use crate::linkspec::LinkSpec;

/// Which public-key circuit handshake to run with a hop (tor-wire-brief §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeKind {
    /// ntor (HTYPE 2), keyed by the RSA identity and the ntor onion key.
    Ntor,
    /// ntor-v3 (HTYPE 3), keyed by the Ed25519 identity and the ntor onion key; sent with an
    /// empty extension list.
    NtorV3,
}

/// A relay to add to a circuit: where it is, who it is, and how to handshake with it.
#[derive(Clone, PartialEq, Eq)]
pub struct HopTarget {
    /// Its ORPorts. The first IPv4 and the first IPv6 address go into EXTEND2; at least one
    /// is needed to extend (the first hop's address is the runtime's business).
    pub addrs: Vec<SocketAddr>,
    /// Its RSA identity fingerprint (always sent as the legacy-id link specifier).
    pub rsa_id: RsaIdentity,
    /// Its Ed25519 identity, if known (required for ntor-v3; sent in EXTEND2 when known).
    pub ed_id: Option<Ed25519Identity>,
    /// Its current ntor onion key.
    pub ntor_key: X25519Public,
    /// The handshake to use.
    pub handshake: HandshakeKind,
}

impl std::fmt::Debug for HopTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Addresses are scrubbed as SafeLogging would; identities are public.
        f.debug_struct("HopTarget")
            .field("n_addrs", &self.addrs.len())
            .field("rsa_id", &self.rsa_id)
            .field("ed_id", &self.ed_id)
            .field("handshake", &self.handshake)
            .finish_non_exhaustive()
    }
}

impl HopTarget {
    /// The link specifiers EXTEND2 carries for this relay, in the order tor-spec §5.1.2
    /// recommends: IPv4 `[00]`, legacy id `[02]`, Ed25519 id `[03]`, IPv6 `[01]`.
    pub fn link_specs(&self) -> Result<Vec<LinkSpec>, ClientError> {
        let v4 = self.addrs.iter().find_map(|a| match a.ip() {
            IpAddr::V4(ip) => Some(LinkSpec::Ipv4(SocketAddrV4::new(ip, a.port()))),
            IpAddr::V6(_) => None,
        });
        let v6 = self.addrs.iter().find_map(|a| match a.ip() {
            IpAddr::V6(ip) => Some(LinkSpec::Ipv6(SocketAddrV6::new(ip, a.port(), 0, 0))),
            IpAddr::V4(_) => None,
        });
        if v4.is_none() && v6.is_none() {
            return Err(ClientError::NoAddress);
        }
        let mut specs = Vec::with_capacity(4);
        specs.extend(v4);
        specs.push(LinkSpec::LegacyId(self.rsa_id));
        specs.extend(self.ed_id.map(LinkSpec::Ed25519Id));
        specs.extend(v6);
        Ok(specs)
    }
}
