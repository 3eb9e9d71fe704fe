//! Padding messages: PADDING, VPADDING and PADDING_NEGOTIATE (tor-spec §3, §7.2;
//! padding-spec §2.2; brief §1.3).
//!
//! PADDING and VPADDING carry nothing: their content is discarded on decode and sent as
//! zeros. PADDING_NEGOTIATE is parsed as C tor's trunnel `channelpadding_negotiate`:
//! version must be 0 and the command START (2) or STOP (1); anything else is malformed,
//! and C tor drops such a cell without closing the channel.
//!
//! Deliberately not here: when to send padding (a channel-layer policy).

use super::msg::ChanMsgBody;
use super::ChanCmd;
use crate::wire::{DecodeError, EncodeError, Reader, Writer};

/// PADDING: a fixed-length cell to be dropped on receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Padding;

impl ChanMsgBody for Padding {
    const CMD: ChanCmd = ChanCmd::PADDING;
    fn decode_body(_body: &[u8]) -> Result<Self, DecodeError> {
        Ok(Padding)
    }
    fn encode_body<W: Writer + ?Sized>(&self, _w: &mut W) -> Result<(), EncodeError> {
        Ok(())
    }
}

/// VPADDING: variable-length padding of `len` bytes, dropped on receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Vpadding {
    /// The body length.
    pub len: u16,
}

impl ChanMsgBody for Vpadding {
    const CMD: ChanCmd = ChanCmd::VPADDING;
    fn decode_body(body: &[u8]) -> Result<Self, DecodeError> {
        let len = u16::try_from(body.len())
            .map_err(|_| DecodeError::invalid("VPADDING", "longer than 65535 bytes"))?;
        Ok(Vpadding { len })
    }
    fn encode_body<W: Writer + ?Sized>(&self, w: &mut W) -> Result<(), EncodeError> {
        w.write_zeros(self.len as usize);
        Ok(())
    }
}

/// The command of a PADDING_NEGOTIATE message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaddingCommand {
    /// Stop sending padding (1).
    Stop,
    /// Start sending padding with the given timeouts (2).
    Start,
}

impl PaddingCommand {
    /// The wire value.
    pub fn to_u8(self) -> u8 {
        match self {
            PaddingCommand::Stop => 1,
            PaddingCommand::Start => 2,
        }
    }
}

/// PADDING_NEGOTIATE: `version u8 = 0` · `command u8` · `ito_low_ms u16` · `ito_high_ms u16`
/// (tor-spec §7.2; padding-spec §2.2). Link protocol ≥ 5; C tor drops it on v4 channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaddingNegotiate {
    /// Start or stop.
    pub command: PaddingCommand,
    /// Requested low inter-packet timeout, milliseconds (0: consensus default).
    pub ito_low_ms: u16,
    /// Requested high inter-packet timeout, milliseconds (0: consensus default).
    pub ito_high_ms: u16,
}

impl PaddingNegotiate {
    /// The only version defined.
    pub const VERSION: u8 = 0;

    /// A STOP message (timeouts 0).
    pub fn stop() -> Self {
        PaddingNegotiate {
            command: PaddingCommand::Stop,
            ito_low_ms: 0,
            ito_high_ms: 0,
        }
    }

    /// A START message with the given timeouts.
    pub fn start(ito_low_ms: u16, ito_high_ms: u16) -> Self {
        PaddingNegotiate {
            command: PaddingCommand::Start,
            ito_low_ms,
            ito_high_ms,
        }
    }
}

impl ChanMsgBody for PaddingNegotiate {
    const CMD: ChanCmd = ChanCmd::PADDING_NEGOTIATE;
    fn decode_body(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        if r.take_u8("PADDING_NEGOTIATE version")? != Self::VERSION {
            return Err(DecodeError::invalid("PADDING_NEGOTIATE version", "not 0"));
        }
        let command = match r.take_u8("PADDING_NEGOTIATE command")? {
            1 => PaddingCommand::Stop,
            2 => PaddingCommand::Start,
            _ => {
                return Err(DecodeError::invalid(
                    "PADDING_NEGOTIATE command",
                    "neither START nor STOP",
                ))
            }
        };
        Ok(PaddingNegotiate {
            command,
            ito_low_ms: r.take_u16("PADDING_NEGOTIATE ito_low_ms")?,
            ito_high_ms: r.take_u16("PADDING_NEGOTIATE ito_high_ms")?,
        })
    }
    fn encode_body<W: Writer + ?Sized>(&self, w: &mut W) -> Result<(), EncodeError> {
        w.write_u8(Self::VERSION);
        w.write_u8(self.command.to_u8());
        w.write_u16(self.ito_low_ms);
        w.write_u16(self.ito_high_ms);
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn padding_negotiate() {
        let m = PaddingNegotiate::decode_body(&[0, 2, 1, 0, 2, 0]).unwrap();
        assert_eq!(m, PaddingNegotiate::start(256, 512));
        assert!(PaddingNegotiate::decode_body(&[0x90, 3, 3]).is_err());
        assert!(PaddingNegotiate::decode_body(&[0, 3, 0, 0, 0, 0]).is_err());
        assert!(PaddingNegotiate::decode_body(&[0, 1, 0]).is_err());
    }
}
