//! Relay messages whose command we name but whose body we do not parse (yet): the obsolete
//! EXTEND/EXTENDED (tor-spec §5.1.2), proposal 339's UDP messages (16–18), conflux (19–22,
//! proposal 329), circuit-padding negotiation (41/42, padding-spec §3), the onion-service
//! messages of rend-spec-v3 §3 other than ESTABLISH_RENDEZVOUS and RENDEZVOUS2, and
//! commands we do not know at all ([`Unrecognized`]).
//!
//! Every body here is kept verbatim, so it re-encodes to the same bytes.

use bytes::Bytes;

use super::cmd::RelayCmd;
use super::msg::Body;
use crate::wire::{DecodeError, EncodeError, Writer};

/// Declares a message type with a fixed command and an opaque body.
macro_rules! opaque_msg {
    ($( $(#[$meta:meta])* $name:ident = $cmd:ident; )*) => {
        $(
            $(#[$meta])*
            ///
            /// The body is kept as opaque bytes.
            #[derive(Debug, Clone, PartialEq, Eq, Default)]
            pub struct $name {
                /// The message body, verbatim.
                pub body: Bytes,
            }

            impl $name {
                /// Wraps a body.
                pub fn new(body: impl Into<Bytes>) -> Self {
                    $name { body: body.into() }
                }
            }

            impl Body for $name {
                const CMD: RelayCmd = RelayCmd::$cmd;

                fn decode_body(body: &Bytes) -> Result<Self, DecodeError> {
                    Ok($name { body: body.clone() })
                }

                fn encode_body<W: Writer + ?Sized>(&self, w: &mut W) -> Result<(), EncodeError> {
                    w.write_all(&self.body);
                    Ok(())
                }
            }
        )*
    };
}

opaque_msg! {
    /// EXTEND (6): the obsolete TAP-only extend request (tor-spec §5.1.2).
    Extend = EXTEND;
    /// EXTENDED (7): the obsolete reply to EXTEND (tor-spec §5.1.2).
    Extended = EXTENDED;
    /// CONNECT_UDP (16, proposal 339).
    ConnectUdp = CONNECT_UDP;
    /// CONNECTED_UDP (17, proposal 339).
    ConnectedUdp = CONNECTED_UDP;
    /// DATAGRAM (18, proposal 339): not our extension's DATAGRAM (0xD0).
    UdpDatagram = UDP_DATAGRAM;
    /// CONFLUX_LINK (19, proposal 329).
    ConfluxLink = CONFLUX_LINK;
    /// CONFLUX_LINKED (20, proposal 329).
    ConfluxLinked = CONFLUX_LINKED;
    /// CONFLUX_LINKED_ACK (21, proposal 329).
    ConfluxLinkedAck = CONFLUX_LINKED_ACK;
    /// CONFLUX_SWITCH (22, proposal 329).
    ConfluxSwitch = CONFLUX_SWITCH;
    /// ESTABLISH_INTRO (32, rend-spec-v3 §3.1.1).
    EstablishIntro = ESTABLISH_INTRO;
    /// INTRODUCE1 (34, rend-spec-v3 §3.2.1).
    Introduce1 = INTRODUCE1;
    /// INTRODUCE2 (35, rend-spec-v3 §3.2.1): INTRODUCE1 as relayed by the introduction point.
    Introduce2 = INTRODUCE2;
    /// RENDEZVOUS1 (36, rend-spec-v3 §3.4.2): `COOKIE[20] · HANDSHAKE_INFO`; relays with
    /// HSRend=2 accept any length, so it stays opaque.
    Rendezvous1 = RENDEZVOUS1;
    /// INTRO_ESTABLISHED (38, rend-spec-v3 §3.1.3).
    IntroEstablished = INTRO_ESTABLISHED;
    /// RENDEZVOUS_ESTABLISHED (39, rend-spec-v3 §3.4.1): empty as C tor sends it.
    RendezvousEstablished = RENDEZVOUS_ESTABLISHED;
    /// INTRODUCE_ACK (40, rend-spec-v3 §3.2.2).
    IntroduceAck = INTRODUCE_ACK;
    /// PADDING_NEGOTIATE (41, padding-spec §3).
    PaddingNegotiate = PADDING_NEGOTIATE;
    /// PADDING_NEGOTIATED (42, padding-spec §3).
    PaddingNegotiated = PADDING_NEGOTIATED;
}

/// ESTABLISH_RENDEZVOUS (33): the client asks the rendezvous point to wait for a service
/// (rend-spec-v3 §3.4.1). Wire form `COOKIE[20]`; extra bytes are ignored (as the spec says).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EstablishRendezvous {
    /// The rendezvous cookie.
    pub cookie: [u8; 20],
}

impl Body for EstablishRendezvous {
    const CMD: RelayCmd = RelayCmd::ESTABLISH_RENDEZVOUS;

    fn decode_body(body: &Bytes) -> Result<Self, DecodeError> {
        let mut r = crate::wire::Reader::new(body);
        Ok(EstablishRendezvous {
            cookie: r.take_array("rendezvous cookie")?,
        })
    }

    fn encode_body<W: Writer + ?Sized>(&self, w: &mut W) -> Result<(), EncodeError> {
        w.write_all(&self.cookie);
        Ok(())
    }
}

/// RENDEZVOUS2 (37): the rendezvous point hands the service's handshake reply to the client
/// (rend-spec-v3 §3.4.2). Wire form `HANDSHAKE_INFO[64]` (`Y[32] · AUTH[32]`); extra bytes
/// are ignored, as C tor's trunnel parser does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rendezvous2 {
    /// The hs-ntor server handshake: the service's public key Y, then AUTH_INPUT_MAC.
    pub handshake_info: [u8; 64],
}

impl Body for Rendezvous2 {
    const CMD: RelayCmd = RelayCmd::RENDEZVOUS2;

    fn decode_body(body: &Bytes) -> Result<Self, DecodeError> {
        let mut r = crate::wire::Reader::new(body);
        Ok(Rendezvous2 {
            handshake_info: r.take_array("RENDEZVOUS2 HANDSHAKE_INFO")?,
        })
    }

    fn encode_body<W: Writer + ?Sized>(&self, w: &mut W) -> Result<(), EncodeError> {
        w.write_all(&self.handshake_info);
        Ok(())
    }
}

/// A message with a command this implementation does not know. It decodes, re-encodes to
/// the same bytes, and logs as its number (tor-spec §6.1: a recognized cell with an unknown
/// command is dropped, but still counts for digests and windows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unrecognized {
    /// The command.
    pub cmd: RelayCmd,
    /// The body, verbatim.
    pub body: Bytes,
}
