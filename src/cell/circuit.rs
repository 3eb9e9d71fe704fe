//! Circuit-level channel messages: CREATE*, CREATED*, RELAY, RELAY_EARLY and DESTROY
//! (tor-spec §5.1 "CREATE and CREATED cells", §5.1.5 CREATE_FAST, §5.4 "Tearing down
//! circuits"; brief §4.1, §4.4).
//!
//! These are all fixed-length cells. Lengths are checked as C tor 0.4.9 checks them
//! (`onion.c`: `parse_create2_payload`, `created_cell_parse`, `check_created_cell`).
//! Which handshake types a relay accepts is a circuit-layer decision, not a parsing one: C tor
//! refuses TAP, CREATE2 with HTYPE 1 (its CREATE_FAST marker) and unknown types, and so
//! should the circuit layer, with DESTROY reason PROTOCOL.
//!
//! Deliberately not here: handshake cryptography (`crate::crypto`), relay-cell contents
//! (`crate::relaycell`).

use bytes::{Bytes, BytesMut};

use super::msg::ChanMsgBody;
use super::{ChanCmd, HandshakeType, CELL_BODY_LEN};
use crate::wire::{DecodeError, EncodeError, Reader, Writer};

/// Length of a TAP onionskin in CREATE (`TAP_ONIONSKIN_CHALLENGE_LEN`).
pub const TAP_ONIONSKIN_LEN: usize = 186;
/// Length of a TAP reply in CREATED (`TAP_ONIONSKIN_REPLY_LEN`).
pub const TAP_REPLY_LEN: usize = 148;
/// Largest HDATA of a CREATE2 (`CELL_PAYLOAD_SIZE - 4`).
pub const CREATE2_MAX_HDATA: usize = CELL_BODY_LEN - 4;
/// Largest HDATA of a CREATED2 that C tor accepts (`RELAY_PAYLOAD_SIZE - 2`, so that it fits
/// an EXTENDED2; `check_created_cell`).
pub const CREATED2_MAX_HDATA: usize = 496;

/// CREATE: a TAP handshake (tor-spec §5.1). Obsolete: decoded only so it can be refused.
///
/// The body is kept opaque, including C tor's `"ntorNTORntorNTOR"` legacy marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Create {
    /// The 186-byte onionskin.
    pub onionskin: [u8; TAP_ONIONSKIN_LEN],
}

impl ChanMsgBody for Create {
    const CMD: ChanCmd = ChanCmd::CREATE;
    fn decode_body(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        Ok(Create {
            onionskin: r.take_array("CREATE onionskin")?,
        })
    }
    fn encode_body<W: Writer + ?Sized>(&self, w: &mut W) -> Result<(), EncodeError> {
        w.write_all(&self.onionskin);
        Ok(())
    }
}

/// CREATED: a TAP handshake reply (tor-spec §5.1). Obsolete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// The 148-byte reply.
    pub reply: [u8; TAP_REPLY_LEN],
}

impl ChanMsgBody for Created {
    const CMD: ChanCmd = ChanCmd::CREATED;
    fn decode_body(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        Ok(Created {
            reply: r.take_array("CREATED reply")?,
        })
    }
    fn encode_body<W: Writer + ?Sized>(&self, w: &mut W) -> Result<(), EncodeError> {
        w.write_all(&self.reply);
        Ok(())
    }
}

/// CREATE_FAST: `X[20]` (tor-spec §5.1.5; brief §4.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateFast {
    /// The client's random `X`.
    pub x: [u8; 20],
}

impl ChanMsgBody for CreateFast {
    const CMD: ChanCmd = ChanCmd::CREATE_FAST;
    fn decode_body(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        Ok(CreateFast {
            x: r.take_array("CREATE_FAST X")?,
        })
    }
    fn encode_body<W: Writer + ?Sized>(&self, w: &mut W) -> Result<(), EncodeError> {
        w.write_all(&self.x);
        Ok(())
    }
}

/// CREATED_FAST: `Y[20]` · `KH[20]` (tor-spec §5.1.5; brief §4.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedFast {
    /// The relay's random `Y`.
    pub y: [u8; 20],
    /// The key-derivation check `KH`.
    pub kh: [u8; 20],
}

impl ChanMsgBody for CreatedFast {
    const CMD: ChanCmd = ChanCmd::CREATED_FAST;
    fn decode_body(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        Ok(CreatedFast {
            y: r.take_array("CREATED_FAST Y")?,
            kh: r.take_array("CREATED_FAST KH")?,
        })
    }
    fn encode_body<W: Writer + ?Sized>(&self, w: &mut W) -> Result<(), EncodeError> {
        w.write_all(&self.y);
        w.write_all(&self.kh);
        Ok(())
    }
}

/// CREATE2: `HTYPE u16` · `HLEN u16` · `HDATA[HLEN]` (tor-spec §5.1; brief §4.1).
///
/// `HLEN` may be at most 505 (what fits a cell); the rest of the body is padding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Create2 {
    /// Which handshake `hdata` holds.
    pub htype: HandshakeType,
    /// The client's handshake message (84 bytes for ntor).
    pub hdata: Vec<u8>,
}

impl ChanMsgBody for Create2 {
    const CMD: ChanCmd = ChanCmd::CREATE2;
    fn decode_body(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let htype = HandshakeType(r.take_u16("CREATE2 HTYPE")?);
        let hdata = r.take_u16_prefixed("CREATE2 HDATA")?;
        if hdata.len() > CREATE2_MAX_HDATA {
            return Err(DecodeError::invalid("CREATE2 HLEN", "exceeds 505"));
        }
        Ok(Create2 {
            htype,
            hdata: hdata.to_vec(),
        })
    }
    fn encode_body<W: Writer + ?Sized>(&self, w: &mut W) -> Result<(), EncodeError> {
        if self.hdata.len() > CREATE2_MAX_HDATA {
            return Err(EncodeError::TooLong {
                what: "CREATE2 HDATA",
                len: self.hdata.len(),
                max: CREATE2_MAX_HDATA,
            });
        }
        w.write_u16(self.htype.0);
        w.write_u16_prefixed("CREATE2 HDATA", &self.hdata)
    }
}

/// CREATED2: `HLEN u16` · `HDATA[HLEN]` (tor-spec §5.1; brief §4.1).
///
/// C tor refuses `HLEN` above 496 (so the reply fits an EXTENDED2); so do we, on decode and
/// encode (`CREATED2_MAX_HDATA`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created2 {
    /// The relay's handshake reply (64 bytes for ntor).
    pub hdata: Vec<u8>,
}

impl ChanMsgBody for Created2 {
    const CMD: ChanCmd = ChanCmd::CREATED2;
    fn decode_body(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let hdata = r.take_u16_prefixed("CREATED2 HDATA")?;
        if hdata.len() > CREATED2_MAX_HDATA {
            return Err(DecodeError::invalid(
                "CREATED2 HLEN",
                "exceeds 496 (C tor check_created_cell)",
            ));
        }
        Ok(Created2 {
            hdata: hdata.to_vec(),
        })
    }
    fn encode_body<W: Writer + ?Sized>(&self, w: &mut W) -> Result<(), EncodeError> {
        if self.hdata.len() > CREATED2_MAX_HDATA {
            return Err(EncodeError::TooLong {
                what: "CREATED2 HDATA",
                len: self.hdata.len(),
                max: CREATED2_MAX_HDATA,
            });
        }
        w.write_u16_prefixed("CREATED2 HDATA", &self.hdata)
    }
}

crate::open_enum! {
    /// The reason byte of a DESTROY cell (tor-spec §5.4; brief §1.2).
    ///
    /// Implementations should send NONE to avoid side channels; C tor propagates others.
    pub struct DestroyReason(u8) {
        /// No reason given.
        NONE = 0,
        /// Tor protocol violation.
        PROTOCOL = 1,
        /// Internal error.
        INTERNAL = 2,
        /// A client sent a TRUNCATE command.
        REQUESTED = 3,
        /// Not currently operating; trying to save bandwidth.
        HIBERNATING = 4,
        /// Out of memory, sockets, or circuit ids.
        RESOURCELIMIT = 5,
        /// Unable to reach relay.
        CONNECTFAILED = 6,
        /// Connected to relay, but its OR identity was not as expected.
        OR_IDENTITY = 7,
        /// The OR connection carrying this circuit died.
        CHANNEL_CLOSED = 8,
        /// The circuit has expired for being dirty or old.
        FINISHED = 9,
        /// Circuit construction took too long.
        TIMEOUT = 10,
        /// The circuit was destroyed without a client TRUNCATE.
        DESTROYED = 11,
        /// Request for unknown onion service.
        NOSUCHSERVICE = 12,
    }
}

/// DESTROY: one reason byte (tor-spec §5.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Destroy {
    /// Why the circuit is being torn down.
    pub reason: DestroyReason,
}

impl ChanMsgBody for Destroy {
    const CMD: ChanCmd = ChanCmd::DESTROY;
    fn decode_body(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        Ok(Destroy {
            reason: DestroyReason(r.take_u8("DESTROY reason")?),
        })
    }
    fn encode_body<W: Writer + ?Sized>(&self, w: &mut W) -> Result<(), EncodeError> {
        w.write_u8(self.reason.0);
        Ok(())
    }
}

/// RELAY: the 509-byte (encrypted) relay cell body (tor-spec §6.1).
///
/// Held as a uniquely owned `BytesMut`: a cell framed by [`ChannelCodec::decode`] gets its
/// body split off the read buffer (a disjoint view of the same allocation), so a relay can
/// decrypt it in place and hand it to the next channel's writer without copying.
///
/// [`ChannelCodec::decode`]: crate::cell::ChannelCodec::decode
#[derive(Clone, PartialEq, Eq)]
pub struct Relay {
    body: BytesMut,
}

impl Relay {
    /// A relay message from exactly 509 bytes (no copy when `body` is the only reference).
    pub fn from_bytes(body: Bytes) -> Result<Self, EncodeError> {
        Self::from_bytes_mut(BytesMut::from(body))
    }

    /// A relay message from exactly 509 uniquely owned bytes (never copies).
    pub fn from_bytes_mut(body: BytesMut) -> Result<Self, EncodeError> {
        if body.len() != CELL_BODY_LEN {
            return Err(EncodeError::Unrepresentable {
                what: "RELAY body",
                why: "must be exactly 509 bytes",
            });
        }
        Ok(Relay { body })
    }

    /// A relay message from a 509-byte array.
    pub fn from_array(body: [u8; CELL_BODY_LEN]) -> Self {
        Relay {
            body: BytesMut::from(&body[..]),
        }
    }

    /// Decodes from a received body: takes its first 509 bytes (copying only if `body` is
    /// shared).
    pub fn decode_bytes(body: Bytes) -> Result<Self, DecodeError> {
        if body.len() < CELL_BODY_LEN {
            return Err(DecodeError::Truncated {
                what: "RELAY body",
                needed: CELL_BODY_LEN - body.len(),
            });
        }
        let mut m = BytesMut::from(body);
        m.truncate(CELL_BODY_LEN);
        Ok(Relay { body: m })
    }

    /// The 509-byte body.
    pub fn body(&self) -> &BytesMut {
        &self.body
    }

    /// The 509-byte body, mutable (to encrypt or decrypt in place).
    pub fn body_mut(&mut self) -> &mut [u8] {
        &mut self.body
    }

    /// The 509-byte body, by value, frozen (no copy).
    pub fn into_body(self) -> Bytes {
        self.body.freeze()
    }

    /// The 509-byte body, by value, still uniquely owned and mutable (no copy).
    pub fn into_body_mut(self) -> BytesMut {
        self.body
    }
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Relay bodies are ciphertext: print only their length.
        f.debug_struct("Relay")
            .field("len", &self.body.len())
            .finish()
    }
}

impl ChanMsgBody for Relay {
    const CMD: ChanCmd = ChanCmd::RELAY;
    fn decode_body(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        Ok(Relay {
            body: BytesMut::from(r.take(CELL_BODY_LEN, "RELAY body")?),
        })
    }
    fn encode_body<W: Writer + ?Sized>(&self, w: &mut W) -> Result<(), EncodeError> {
        w.write_all(&self.body);
        Ok(())
    }
}

/// RELAY_EARLY: a relay cell body counted against the circuit's RELAY_EARLY budget
/// (tor-spec §5.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayEarly(pub Relay);

impl ChanMsgBody for RelayEarly {
    const CMD: ChanCmd = ChanCmd::RELAY_EARLY;
    fn decode_body(body: &[u8]) -> Result<Self, DecodeError> {
        Relay::decode_body(body).map(RelayEarly)
    }
    fn encode_body<W: Writer + ?Sized>(&self, w: &mut W) -> Result<(), EncodeError> {
        self.0.encode_body(w)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn create2_lengths() {
        // C tor test_cfmt_create_cells: TAP with 512 bytes is refused.
        let mut body = vec![0u8; CELL_BODY_LEN];
        body[..4].copy_from_slice(&[0, 0, 2, 0]);
        assert!(Create2::decode_body(&body).is_err());
        body[..4].copy_from_slice(&[0, 2, 1, 0xf9]); // 505
        assert_eq!(Create2::decode_body(&body).unwrap().hdata.len(), 505);
        body[..4].copy_from_slice(&[0, 2, 1, 0xfa]); // 506
        assert!(Create2::decode_body(&body).is_err());
    }

    #[test]
    fn created2_lengths() {
        // C tor test_cfmt_created_cells: 496 is the maximum.
        let mut body = vec![0u8; CELL_BODY_LEN];
        body[..2].copy_from_slice(&[1, 0xf0]);
        assert_eq!(Created2::decode_body(&body).unwrap().hdata.len(), 496);
        body[..2].copy_from_slice(&[1, 0xf1]);
        assert!(Created2::decode_body(&body).is_err());
        let big = Created2 {
            hdata: vec![0; 497],
        };
        assert!(big.encode_body(&mut Vec::new()).is_err());
    }

    #[test]
    fn relay_zero_copy() {
        let buf = Bytes::from(vec![7u8; 600]);
        let tail = buf.slice(10..);
        let ptr = tail.as_ptr();
        drop(buf);
        // `tail` is now the only reference: reclaimed without a copy.
        let r = Relay::decode_bytes(tail).unwrap();
        assert_eq!(r.body().len(), CELL_BODY_LEN);
        assert_eq!(r.body().as_ptr(), ptr);
        let buf = Bytes::from(vec![7u8; 600]);
        assert!(Relay::decode_bytes(buf.slice(..508)).is_err());
        assert!(Relay::from_bytes(buf.slice(..508)).is_err());
    }
}
