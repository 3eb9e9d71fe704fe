//! Relay cell format v0: the 509-byte body of a RELAY / RELAY_EARLY cell (tor-spec §6.1).
//!
//! ```text
//! 0  command     u8
//! 1  recognized  u16   0 in plaintext
//! 3  stream id   u16   0 for circuit-level messages
//! 5  digest      [4]   filled in by the crypto layer
//! 9  length      u16   ≤ 498
//! 11 data        [length]
//!    padding     rest: 4 zero bytes, then random bytes (proposal 289)
//! ```
//!
//! Encoding leaves `recognized` and `digest` zero for the crypto layer
//! ([`crate::crypto::tor1`]); decoding is for a body that layer has already recognized, and
//! does not look at either field. Relay cell format v1 (proposal 359, CGO) is not here.

use bytes::Bytes;
use rand_core::RngCore;

use super::cmd::{RelayCmd, StreamIdRule};
use super::error::RelayMsgError;
use super::msg::AnyRelayMsg;
use crate::wire::Writer;

/// Length of a relay cell body (the payload of a fixed-length RELAY cell).
pub const RELAY_BODY_LEN: usize = 509;
/// Length of the v0 relay header.
pub const RELAY_HEADER_LEN: usize = 11;
/// Most data bytes a v0 relay cell can carry.
pub const MAX_DATA_LEN: usize = RELAY_BODY_LEN - RELAY_HEADER_LEN;
/// Zero bytes written before the random padding (proposal 289).
pub const PADDING_ZERO_PREFIX: usize = 4;

/// Offset of the digest field; the crypto layer fills these 4 bytes.
pub const DIGEST_OFFSET: usize = 5;
/// Offset of the recognized field.
pub const RECOGNIZED_OFFSET: usize = 1;

/// A plaintext relay cell body, format v0.
#[derive(Clone, PartialEq, Eq)]
pub struct RelayCellBody(pub [u8; RELAY_BODY_LEN]);

impl std::fmt::Debug for RelayCellBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayCellBody")
            .field("command", &self.command())
            .field("stream_id", &self.stream_id())
            .field("length", &self.length())
            .finish_non_exhaustive()
    }
}

impl Default for RelayCellBody {
    fn default() -> Self {
        RelayCellBody([0; RELAY_BODY_LEN])
    }
}

impl TryFrom<&[u8]> for RelayCellBody {
    type Error = RelayMsgError;

    /// Copies a 509-byte slice; any other length is [`RelayMsgError::BadLength`] with the
    /// slice length (saturated to `u16::MAX`) as `len`.
    fn try_from(b: &[u8]) -> Result<Self, Self::Error> {
        let arr: [u8; RELAY_BODY_LEN] = b.try_into().map_err(|_| RelayMsgError::BadLength {
            len: u16::try_from(b.len()).unwrap_or(u16::MAX),
            max: RELAY_BODY_LEN,
        })?;
        Ok(RelayCellBody(arr))
    }
}

impl RelayCellBody {
    /// The command byte.
    pub fn command(&self) -> RelayCmd {
        RelayCmd(self.0[0])
    }

    /// The `recognized` field.
    pub fn recognized(&self) -> u16 {
        u16::from_be_bytes([self.0[1], self.0[2]])
    }

    /// The StreamID field.
    pub fn stream_id(&self) -> u16 {
        u16::from_be_bytes([self.0[3], self.0[4]])
    }

    /// The digest field.
    pub fn digest(&self) -> [u8; 4] {
        [self.0[5], self.0[6], self.0[7], self.0[8]]
    }

    /// The Length field, unchecked.
    pub fn length(&self) -> u16 {
        u16::from_be_bytes([self.0[9], self.0[10]])
    }

    /// The data bytes, after checking Length ≤ 498.
    pub fn data(&self) -> Result<&[u8], RelayMsgError> {
        let len = self.length();
        let end = RELAY_HEADER_LEN + usize::from(len);
        self.0
            .get(RELAY_HEADER_LEN..end)
            .ok_or(RelayMsgError::BadLength {
                len,
                max: MAX_DATA_LEN,
            })
    }
}

/// Checks `stream_id` against what `cmd` requires.
pub fn check_stream_id(cmd: RelayCmd, stream_id: u16) -> Result<(), RelayMsgError> {
    match cmd.stream_id_rule() {
        StreamIdRule::MustBeZero if stream_id != 0 => {
            Err(RelayMsgError::UnexpectedStreamId { cmd, stream_id })
        }
        StreamIdRule::MustBeNonZero if stream_id == 0 => Err(RelayMsgError::ZeroStreamId { cmd }),
        _ => Ok(()),
    }
}

/// Encodes `msg` on stream `stream_id` into a v0 relay cell body, padded as proposal 289
/// says: 4 zero bytes after the data, then bytes from `rng`. `recognized` and `digest` are
/// left zero.
pub fn encode_v0<R: RngCore + ?Sized>(
    stream_id: u16,
    msg: &AnyRelayMsg,
    rng: &mut R,
) -> Result<RelayCellBody, RelayMsgError> {
    let cmd = msg.cmd();
    check_stream_id(cmd, stream_id)?;
    let mut data = Vec::with_capacity(MAX_DATA_LEN);
    msg.encode_body(&mut data)?;
    if data.len() > MAX_DATA_LEN {
        return Err(RelayMsgError::Encode {
            cmd,
            source: crate::wire::EncodeError::TooLong {
                what: "relay message",
                len: data.len(),
                max: MAX_DATA_LEN,
            },
        });
    }
    let mut w: Vec<u8> = Vec::with_capacity(RELAY_BODY_LEN);
    w.write_u8(cmd.0);
    w.write_u16(0); // recognized
    w.write_u16(stream_id);
    w.write_zeros(4); // digest
    w.write_u16(data.len() as u16); // ≤ 498, checked above
    w.write_all(&data);
    let zeros = PADDING_ZERO_PREFIX.min(RELAY_BODY_LEN - w.len());
    w.write_zeros(zeros);
    let mut body = RelayCellBody::default();
    let (head, tail) = body.0.split_at_mut(w.len());
    head.copy_from_slice(&w);
    rng.fill_bytes(tail);
    Ok(body)
}

/// Decodes a v0 relay cell body that the crypto layer has recognized into
/// `(stream_id, message)`. Checks the Length field and the StreamID rules of the command.
pub fn decode_v0(body: &RelayCellBody) -> Result<(u16, AnyRelayMsg), RelayMsgError> {
    let cmd = body.command();
    let stream_id = body.stream_id();
    let data = body.data()?;
    check_stream_id(cmd, stream_id)?;
    let msg = AnyRelayMsg::decode(cmd, &Bytes::copy_from_slice(data))?;
    Ok((stream_id, msg))
}
