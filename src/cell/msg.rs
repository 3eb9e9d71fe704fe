//! [`AnyChanMsg`]: every channel message, decoded from and encoded to a cell body
//! (tor-spec §3, §4, §5).
//!
//! A *body* here is what follows the cell header: the 509 bytes of a fixed-length cell, or the
//! `Length` bytes of a variable-length one. Decoding a fixed-length body ignores the padding
//! after the fields its message needs; encoding writes only the fields (the codec pads).
//!
//! Deliberately not here: framing (circuit id, command byte, length: see `codec`).

use bytes::Bytes;

use super::circuit::{
    Create, Create2, CreateFast, Created, Created2, CreatedFast, Destroy, Relay, RelayEarly,
};
use super::handshake::{AuthChallenge, Authenticate, Authorize, Certs, Netinfo, Versions};
use super::padding::{Padding, PaddingNegotiate, Vpadding};
use super::{ChanCmd, CELL_BODY_LEN};
use crate::wire::{DecodeError, EncodeError, Writer};

/// A channel message type with a fixed command.
pub trait ChanMsgBody: Sized {
    /// The command of this message.
    const CMD: ChanCmd;

    /// Decodes the message from a cell body (a fixed cell's 509 bytes, or a variable cell's
    /// body). Never panics.
    fn decode_body(body: &[u8]) -> Result<Self, DecodeError>;

    /// Appends the message's fields (no padding, no header).
    fn encode_body<W: Writer + ?Sized>(&self, w: &mut W) -> Result<(), EncodeError>;
}

/// A cell whose command this implementation does not know. Kept whole so that it
/// re-encodes to the same bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unrecognized {
    cmd: ChanCmd,
    body: Bytes,
}

impl Unrecognized {
    /// A message with an unknown command. Fails if `cmd` is a known command, or if the body
    /// is too long for the cell format the command implies.
    pub fn new(cmd: ChanCmd, body: Bytes) -> Result<Self, EncodeError> {
        if cmd.is_known() {
            return Err(EncodeError::Unrepresentable {
                what: "Unrecognized message",
                why: "command is a known command",
            });
        }
        let max = if cmd.is_var_len() {
            u16::MAX as usize
        } else {
            CELL_BODY_LEN
        };
        if body.len() > max {
            return Err(EncodeError::TooLong {
                what: "unrecognized cell body",
                len: body.len(),
                max,
            });
        }
        Ok(Unrecognized {
            cmd,
            body: pad_fixed_body(cmd, body),
        })
    }

    /// The command.
    pub fn cmd(&self) -> ChanCmd {
        self.cmd
    }

    /// The body as received (all 509 bytes of a fixed-length cell, zero-padded if it was
    /// built or decoded from fewer).
    pub fn body(&self) -> &Bytes {
        &self.body
    }
}

/// Pads the body of a fixed-length command to 509 bytes (copying only if it is shorter),
/// so that an unrecognized fixed-length message always holds a whole cell body.
fn pad_fixed_body(cmd: ChanCmd, body: Bytes) -> Bytes {
    if cmd.is_var_len() || body.len() >= CELL_BODY_LEN {
        return body;
    }
    let mut v = Vec::with_capacity(CELL_BODY_LEN);
    v.extend_from_slice(&body);
    v.resize(CELL_BODY_LEN, 0);
    Bytes::from(v)
}

/// Any channel message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)] // Each variant holds the message type of the same name.
pub enum AnyChanMsg {
    Padding(Padding),
    Create(Create),
    Created(Created),
    Relay(Relay),
    Destroy(Destroy),
    CreateFast(CreateFast),
    CreatedFast(CreatedFast),
    Versions(Versions),
    Netinfo(Netinfo),
    RelayEarly(RelayEarly),
    Create2(Create2),
    Created2(Created2),
    PaddingNegotiate(PaddingNegotiate),
    Vpadding(Vpadding),
    Certs(Certs),
    AuthChallenge(AuthChallenge),
    Authenticate(Authenticate),
    Authorize(Authorize),
    /// A command this implementation does not know.
    Unrecognized(Unrecognized),
}

/// Applies `$e` to the message inside any known variant; `$u` binds the Unrecognized one.
macro_rules! dispatch {
    ($self:expr, $m:ident => $e:expr, $u:ident => $ue:expr) => {
        match $self {
            AnyChanMsg::Padding($m) => $e,
            AnyChanMsg::Create($m) => $e,
            AnyChanMsg::Created($m) => $e,
            AnyChanMsg::Relay($m) => $e,
            AnyChanMsg::Destroy($m) => $e,
            AnyChanMsg::CreateFast($m) => $e,
            AnyChanMsg::CreatedFast($m) => $e,
            AnyChanMsg::Versions($m) => $e,
            AnyChanMsg::Netinfo($m) => $e,
            AnyChanMsg::RelayEarly($m) => $e,
            AnyChanMsg::Create2($m) => $e,
            AnyChanMsg::Created2($m) => $e,
            AnyChanMsg::PaddingNegotiate($m) => $e,
            AnyChanMsg::Vpadding($m) => $e,
            AnyChanMsg::Certs($m) => $e,
            AnyChanMsg::AuthChallenge($m) => $e,
            AnyChanMsg::Authenticate($m) => $e,
            AnyChanMsg::Authorize($m) => $e,
            AnyChanMsg::Unrecognized($u) => $ue,
        }
    };
}

/// Returns the command of a message type (used by `dispatch!`).
fn cmd_of<M: ChanMsgBody>(_: &M) -> ChanCmd {
    M::CMD
}

impl AnyChanMsg {
    /// The command of this message.
    pub fn cmd(&self) -> ChanCmd {
        dispatch!(self, m => cmd_of(m), u => u.cmd)
    }

    /// Decodes a message from the body of a cell with command `cmd`.
    ///
    /// RELAY, RELAY_EARLY, AUTHORIZE and unknown commands keep their bytes as slices of
    /// `body` (no copy). Never panics.
    pub fn decode(cmd: ChanCmd, body: Bytes) -> Result<Self, DecodeError> {
        Ok(match cmd {
            ChanCmd::PADDING => AnyChanMsg::Padding(Padding::decode_body(&body)?),
            ChanCmd::CREATE => AnyChanMsg::Create(Create::decode_body(&body)?),
            ChanCmd::CREATED => AnyChanMsg::Created(Created::decode_body(&body)?),
            ChanCmd::RELAY => AnyChanMsg::Relay(Relay::decode_bytes(body)?),
            ChanCmd::DESTROY => AnyChanMsg::Destroy(Destroy::decode_body(&body)?),
            ChanCmd::CREATE_FAST => AnyChanMsg::CreateFast(CreateFast::decode_body(&body)?),
            ChanCmd::CREATED_FAST => AnyChanMsg::CreatedFast(CreatedFast::decode_body(&body)?),
            ChanCmd::VERSIONS => AnyChanMsg::Versions(Versions::decode_body(&body)?),
            ChanCmd::NETINFO => AnyChanMsg::Netinfo(Netinfo::decode_body(&body)?),
            ChanCmd::RELAY_EARLY => AnyChanMsg::RelayEarly(RelayEarly(Relay::decode_bytes(body)?)),
            ChanCmd::CREATE2 => AnyChanMsg::Create2(Create2::decode_body(&body)?),
            ChanCmd::CREATED2 => AnyChanMsg::Created2(Created2::decode_body(&body)?),
            ChanCmd::PADDING_NEGOTIATE => {
                AnyChanMsg::PaddingNegotiate(PaddingNegotiate::decode_body(&body)?)
            }
            ChanCmd::VPADDING => AnyChanMsg::Vpadding(Vpadding::decode_body(&body)?),
            ChanCmd::CERTS => AnyChanMsg::Certs(Certs::decode_body(&body)?),
            ChanCmd::AUTH_CHALLENGE => {
                AnyChanMsg::AuthChallenge(AuthChallenge::decode_body(&body)?)
            }
            ChanCmd::AUTHENTICATE => AnyChanMsg::Authenticate(Authenticate::decode_body(&body)?),
            ChanCmd::AUTHORIZE => AnyChanMsg::Authorize(Authorize { body }),
            _ => {
                let max = if cmd.is_var_len() {
                    u16::MAX as usize
                } else {
                    CELL_BODY_LEN
                };
                if body.len() > max {
                    return Err(DecodeError::invalid(
                        "unrecognized cell body",
                        "longer than its cell format allows",
                    ));
                }
                AnyChanMsg::Unrecognized(Unrecognized {
                    cmd,
                    body: pad_fixed_body(cmd, body),
                })
            }
        })
    }

    /// Decodes a message from a borrowed body (copies the bytes RELAY and opaque messages
    /// keep). Never panics.
    pub fn decode_slice(cmd: ChanCmd, body: &[u8]) -> Result<Self, DecodeError> {
        Self::decode(cmd, Bytes::copy_from_slice(body))
    }

    /// Appends the message's body fields (no header, no padding).
    pub fn encode_body<W: Writer + ?Sized>(&self, w: &mut W) -> Result<(), EncodeError> {
        dispatch!(self, m => m.encode_body(w), u => {
            if u.cmd.is_known() {
                return Err(EncodeError::Unrepresentable {
                    what: "Unrecognized message",
                    why: "command is a known command",
                });
            }
            w.write_all(&u.body);
            Ok(())
        })
    }

    /// The message's body fields as a new vector.
    pub fn body_to_vec(&self) -> Result<Vec<u8>, EncodeError> {
        let mut v = Vec::new();
        self.encode_body(&mut v)?;
        Ok(v)
    }
}

macro_rules! impl_from {
    ($($t:ident),*) => {
        $(impl From<$t> for AnyChanMsg {
            fn from(m: $t) -> Self {
                AnyChanMsg::$t(m)
            }
        })*
    };
}

impl_from!(
    Padding,
    Create,
    Created,
    Relay,
    Destroy,
    CreateFast,
    CreatedFast,
    Versions,
    Netinfo,
    RelayEarly,
    Create2,
    Created2,
    PaddingNegotiate,
    Vpadding,
    Certs,
    AuthChallenge,
    Authenticate,
    Authorize,
    Unrecognized
);

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn unknown_commands_round_trip() {
        let body = Bytes::from_static(b"hello");
        let m = AnyChanMsg::decode(ChanCmd(200), body.clone()).unwrap();
        assert_eq!(m.cmd(), ChanCmd(200));
        assert_eq!(m.body_to_vec().unwrap(), b"hello");
        assert!(Unrecognized::new(ChanCmd::RELAY, body.clone()).is_err());
        assert!(Unrecognized::new(ChanCmd(50), Bytes::from(vec![0; 510])).is_err());
        assert!(Unrecognized::new(ChanCmd(250), Bytes::from(vec![0; 510])).is_ok());
    }
}
