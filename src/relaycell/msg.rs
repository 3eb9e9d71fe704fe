//! The [`Body`] trait every relay message type implements, and [`AnyRelayMsg`], the enum of
//! every relay message, dispatching on the command (tor-spec §6.1).

use bytes::Bytes;

use super::circuit::{Drop, Extend2, Extended2, Sendme, Truncate, Truncated, Xoff, Xon};
use super::cmd::RelayCmd;
use super::datagram::{Datagram, DatagramFrag};
use super::error::RelayMsgError;
use super::opaque::{
    ConfluxLink, ConfluxLinked, ConfluxLinkedAck, ConfluxSwitch, ConnectUdp, ConnectedUdp,
    EstablishIntro, EstablishRendezvous, Extend, Extended, IntroEstablished, Introduce1,
    Introduce2, IntroduceAck, PaddingNegotiate, PaddingNegotiated, Rendezvous1, Rendezvous2,
    RendezvousEstablished, UdpDatagram, Unrecognized,
};
use super::resolve::{Resolve, Resolved};
use super::stream::{Begin, BeginDir, Connected, Data, End};
use crate::wire::{DecodeError, EncodeError, Writer};

/// A relay message body with a fixed command.
pub trait Body: Sized {
    /// The command this body goes with.
    const CMD: RelayCmd;

    /// Decodes the body (exactly the `Length` bytes of the relay cell's data).
    fn decode_body(body: &Bytes) -> Result<Self, DecodeError>;

    /// Appends the encoded body.
    fn encode_body<W: Writer + ?Sized>(&self, w: &mut W) -> Result<(), EncodeError>;

    /// Decodes from a byte slice (copies it into a [`Bytes`]).
    fn decode_slice(body: &[u8]) -> Result<Self, DecodeError> {
        Self::decode_body(&Bytes::copy_from_slice(body))
    }

    /// The encoded body as a new vector.
    fn encode_to_vec(&self) -> Result<Vec<u8>, EncodeError> {
        let mut v = Vec::new();
        self.encode_body(&mut v)?;
        Ok(v)
    }
}

/// Declares [`AnyRelayMsg`] with one variant per fixed-command message type.
macro_rules! any_relay_msg {
    ($( $(#[$meta:meta])* $variant:ident($ty:ty), )*) => {
        /// Any relay message (tor-spec §6.1), one variant per command.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum AnyRelayMsg {
            $( $(#[$meta])* $variant($ty), )*
            /// A command we do not know.
            Unrecognized(Unrecognized),
        }

        impl AnyRelayMsg {
            /// The message's command.
            pub fn cmd(&self) -> RelayCmd {
                match self {
                    $( AnyRelayMsg::$variant(_) => <$ty as Body>::CMD, )*
                    AnyRelayMsg::Unrecognized(u) => u.cmd,
                }
            }

            /// Decodes the body of a message with command `cmd`. Unknown commands decode
            /// as [`AnyRelayMsg::Unrecognized`].
            pub fn decode(cmd: RelayCmd, body: &Bytes) -> Result<Self, RelayMsgError> {
                let wrap = |source| RelayMsgError::Malformed { cmd, source };
                Ok(match cmd {
                    $( <$ty as Body>::CMD => {
                        AnyRelayMsg::$variant(<$ty as Body>::decode_body(body).map_err(wrap)?)
                    } )*
                    _ => {
                        tracing::debug!(cmd = %cmd, len = body.len(), "unrecognized relay command");
                        AnyRelayMsg::Unrecognized(Unrecognized { cmd, body: body.clone() })
                    }
                })
            }

            /// Appends the encoded body (without the relay header).
            pub fn encode_body<W: Writer + ?Sized>(&self, w: &mut W) -> Result<(), RelayMsgError> {
                let cmd = self.cmd();
                let res = match self {
                    $( AnyRelayMsg::$variant(m) => m.encode_body(w), )*
                    AnyRelayMsg::Unrecognized(u) => {
                        if u.cmd.is_known() {
                            Err(EncodeError::Unrepresentable {
                                what: "unrecognized relay message",
                                why: "its command is a known one",
                            })
                        } else {
                            w.write_all(&u.body);
                            Ok(())
                        }
                    }
                };
                res.map_err(|source| RelayMsgError::Encode { cmd, source })
            }
        }

        $(
            impl From<$ty> for AnyRelayMsg {
                fn from(m: $ty) -> Self {
                    AnyRelayMsg::$variant(m)
                }
            }
        )*
    };
}

any_relay_msg! {
    /// BEGIN (1).
    Begin(Begin),
    /// DATA (2).
    Data(Data),
    /// END (3).
    End(End),
    /// CONNECTED (4).
    Connected(Connected),
    /// SENDME (5).
    Sendme(Sendme),
    /// EXTEND (6), obsolete; opaque.
    Extend(Extend),
    /// EXTENDED (7), obsolete; opaque.
    Extended(Extended),
    /// TRUNCATE (8).
    Truncate(Truncate),
    /// TRUNCATED (9).
    Truncated(Truncated),
    /// DROP (10).
    Drop(Drop),
    /// RESOLVE (11).
    Resolve(Resolve),
    /// RESOLVED (12).
    Resolved(Resolved),
    /// BEGIN_DIR (13).
    BeginDir(BeginDir),
    /// EXTEND2 (14).
    Extend2(Extend2),
    /// EXTENDED2 (15).
    Extended2(Extended2),
    /// CONNECT_UDP (16); opaque.
    ConnectUdp(ConnectUdp),
    /// CONNECTED_UDP (17); opaque.
    ConnectedUdp(ConnectedUdp),
    /// Proposal 339 DATAGRAM (18); opaque.
    UdpDatagram(UdpDatagram),
    /// CONFLUX_LINK (19); opaque.
    ConfluxLink(ConfluxLink),
    /// CONFLUX_LINKED (20); opaque.
    ConfluxLinked(ConfluxLinked),
    /// CONFLUX_LINKED_ACK (21); opaque.
    ConfluxLinkedAck(ConfluxLinkedAck),
    /// CONFLUX_SWITCH (22); opaque.
    ConfluxSwitch(ConfluxSwitch),
    /// ESTABLISH_INTRO (32); opaque.
    EstablishIntro(EstablishIntro),
    /// ESTABLISH_RENDEZVOUS (33).
    EstablishRendezvous(EstablishRendezvous),
    /// INTRODUCE1 (34); opaque.
    Introduce1(Introduce1),
    /// INTRODUCE2 (35); opaque.
    Introduce2(Introduce2),
    /// RENDEZVOUS1 (36); opaque.
    Rendezvous1(Rendezvous1),
    /// RENDEZVOUS2 (37).
    Rendezvous2(Rendezvous2),
    /// INTRO_ESTABLISHED (38); opaque.
    IntroEstablished(IntroEstablished),
    /// RENDEZVOUS_ESTABLISHED (39); opaque.
    RendezvousEstablished(RendezvousEstablished),
    /// INTRODUCE_ACK (40); opaque.
    IntroduceAck(IntroduceAck),
    /// PADDING_NEGOTIATE (41); opaque.
    PaddingNegotiate(PaddingNegotiate),
    /// PADDING_NEGOTIATED (42); opaque.
    PaddingNegotiated(PaddingNegotiated),
    /// XOFF (43).
    Xoff(Xoff),
    /// XON (44).
    Xon(Xon),
    /// Our DATAGRAM (0xD0).
    Datagram(Datagram),
    /// Our DATAGRAM_FRAG (0xD1).
    DatagramFrag(DatagramFrag),
}

impl From<Unrecognized> for AnyRelayMsg {
    fn from(m: Unrecognized) -> Self {
        AnyRelayMsg::Unrecognized(m)
    }
}

impl AnyRelayMsg {
    /// Decodes from a byte slice (copies it into a [`Bytes`]).
    pub fn decode_slice(cmd: RelayCmd, body: &[u8]) -> Result<Self, RelayMsgError> {
        AnyRelayMsg::decode(cmd, &Bytes::copy_from_slice(body))
    }

    /// The encoded body as a new vector.
    pub fn encode_to_vec(&self) -> Result<Vec<u8>, RelayMsgError> {
        let mut v = Vec::new();
        self.encode_body(&mut v)?;
        Ok(v)
    }
}
