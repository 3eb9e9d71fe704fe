//! Circuit-level and flow-control messages: SENDME (tor-spec §7.3–7.4; the body as in C tor's
//! `sendme_cell.trunnel`), EXTEND2 / EXTENDED2 (tor-spec §5.1.2), TRUNCATE / TRUNCATED
//! (tor-spec §5.4), DROP (tor-spec §6.2), XOFF / XON (proposal 324 §4.1).
//!
//! Bytes after the fields a message defines are ignored, as C tor's trunnel parsers do.

use bytes::Bytes;

use super::cmd::RelayCmd;
use super::msg::Body;
use crate::cell::HandshakeType;
use crate::linkspec::{self, LinkSpec};
use crate::wire::{DecodeError, EncodeError, Reader, Writer};

/// The authentication tag of a v1 SENDME: the relay-crypto digest of the cell it acknowledges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SendmeTag {
    /// 20 bytes: tor1 relay crypto (and its onion-service SHA3 variant, truncated).
    Tor1([u8; 20]),
    /// 16 bytes: CGO relay crypto (proposal 359). Accepted, never produced by us.
    Cgo([u8; 16]),
}

impl SendmeTag {
    /// The tag bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            SendmeTag::Tor1(t) => t,
            SendmeTag::Cgo(t) => t,
        }
    }
}

/// SENDME (tor-spec §7.3–7.4). Wire form: empty, or `VERSION u8 · DATA_LEN u16 · DATA`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sendme {
    /// Empty body: a stream-level SENDME, or a legacy (v0) circuit-level one.
    Empty,
    /// An explicit version-0 body; its data is meaningless and kept only for round trips.
    V0 {
        /// The ignored data.
        data: Bytes,
    },
    /// An authenticated version-1 SENDME (what we always send at circuit level).
    V1 {
        /// The tag.
        tag: SendmeTag,
    },
    /// A version this implementation does not know, kept verbatim. (C tor refuses these and
    /// closes the circuit; the caller decides.)
    Unknown {
        /// The version byte.
        version: u8,
        /// The data.
        data: Bytes,
    },
}

impl Sendme {
    /// A v1 SENDME with a 20-byte tor1 tag.
    pub fn v1(tag: [u8; 20]) -> Self {
        Sendme::V1 {
            tag: SendmeTag::Tor1(tag),
        }
    }
}

impl Body for Sendme {
    const CMD: RelayCmd = RelayCmd::SENDME;

    fn decode_body(body: &Bytes) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        if r.is_empty() {
            return Ok(Sendme::Empty);
        }
        let version = r.take_u8("SENDME version")?;
        let data = r.take_u16_prefixed("SENDME data")?;
        Ok(match version {
            0 => Sendme::V0 {
                data: Bytes::copy_from_slice(data),
            },
            1 => {
                let tag = if let Ok(t) = <[u8; 20]>::try_from(data) {
                    SendmeTag::Tor1(t)
                } else if let Ok(t) = <[u8; 16]>::try_from(data) {
                    SendmeTag::Cgo(t)
                } else {
                    return Err(DecodeError::invalid(
                        "SENDME v1 tag",
                        "DATA_LEN is neither 20 nor 16",
                    ));
                };
                Sendme::V1 { tag }
            }
            v => Sendme::Unknown {
                version: v,
                data: Bytes::copy_from_slice(data),
            },
        })
    }

    fn encode_body<W: Writer + ?Sized>(&self, w: &mut W) -> Result<(), EncodeError> {
        match self {
            Sendme::Empty => {}
            Sendme::V0 { data } => {
                w.write_u8(0);
                w.write_u16_prefixed("SENDME data", data)?;
            }
            Sendme::V1 { tag } => {
                w.write_u8(1);
                w.write_u16_prefixed("SENDME data", tag.as_bytes())?;
            }
            Sendme::Unknown { version, data } => {
                if *version <= 1 {
                    return Err(EncodeError::Unrepresentable {
                        what: "SENDME",
                        why: "unknown-version SENDME with a known version",
                    });
                }
                w.write_u8(*version);
                w.write_u16_prefixed("SENDME data", data)?;
            }
        }
        Ok(())
    }
}

/// EXTEND2: extend the circuit to the relay the link specifiers name (tor-spec §5.1.2).
/// Wire form `NSPEC · specs · HTYPE u16 · HLEN u16 · HDATA`.
///
/// The list rules a relay enforces (legacy id required, …) are not checked here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extend2 {
    /// Where and who the next hop is.
    pub linkspecs: Vec<LinkSpec>,
    /// The circuit handshake type for the CREATE2 cell.
    pub htype: HandshakeType,
    /// The client handshake data for the CREATE2 cell.
    pub hdata: Bytes,
}

impl Body for Extend2 {
    const CMD: RelayCmd = RelayCmd::EXTEND2;

    fn decode_body(body: &Bytes) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let linkspecs = linkspec::take_list(&mut r)?;
        let htype = HandshakeType(r.take_u16("EXTEND2 HTYPE")?);
        let hdata = Bytes::copy_from_slice(r.take_u16_prefixed("EXTEND2 HDATA")?);
        Ok(Extend2 {
            linkspecs,
            htype,
            hdata,
        })
    }

    fn encode_body<W: Writer + ?Sized>(&self, w: &mut W) -> Result<(), EncodeError> {
        linkspec::write_list(w, &self.linkspecs)?;
        w.write_u16(self.htype.0);
        w.write_u16_prefixed("EXTEND2 HDATA", &self.hdata)
    }
}

/// EXTENDED2: the new hop's CREATED2 reply, relayed back (tor-spec §5.1.2).
/// Wire form `HLEN u16 · HDATA`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extended2 {
    /// The server handshake data.
    pub hdata: Bytes,
}

impl Body for Extended2 {
    const CMD: RelayCmd = RelayCmd::EXTENDED2;

    fn decode_body(body: &Bytes) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let hdata = Bytes::copy_from_slice(r.take_u16_prefixed("EXTENDED2 HDATA")?);
        Ok(Extended2 { hdata })
    }

    fn encode_body<W: Writer + ?Sized>(&self, w: &mut W) -> Result<(), EncodeError> {
        w.write_u16_prefixed("EXTENDED2 HDATA", &self.hdata)
    }
}

/// TRUNCATE: tear down the circuit beyond the receiving hop (tor-spec §5.4). Empty body;
/// any body is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Truncate;

impl Body for Truncate {
    const CMD: RelayCmd = RelayCmd::TRUNCATE;

    fn decode_body(_body: &Bytes) -> Result<Self, DecodeError> {
        Ok(Truncate)
    }

    fn encode_body<W: Writer + ?Sized>(&self, _w: &mut W) -> Result<(), EncodeError> {
        Ok(())
    }
}

/// TRUNCATED: the circuit beyond the sending hop is gone (tor-spec §5.4). Wire form: one
/// byte, a DESTROY reason code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Truncated {
    /// The DESTROY reason (tor-spec §5.4).
    pub reason: u8,
}

impl Body for Truncated {
    const CMD: RelayCmd = RelayCmd::TRUNCATED;

    fn decode_body(body: &Bytes) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        Ok(Truncated {
            reason: r.take_u8("TRUNCATED reason")?,
        })
    }

    fn encode_body<W: Writer + ?Sized>(&self, w: &mut W) -> Result<(), EncodeError> {
        w.write_u8(self.reason);
        Ok(())
    }
}

/// DROP: long-range padding; its receiver drops it (tor-spec §6.2). C tor sends it empty;
/// any body is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Drop;

impl Body for Drop {
    const CMD: RelayCmd = RelayCmd::DROP;

    fn decode_body(_body: &Bytes) -> Result<Self, DecodeError> {
        Ok(Drop)
    }

    fn encode_body<W: Writer + ?Sized>(&self, _w: &mut W) -> Result<(), EncodeError> {
        Ok(())
    }
}

/// The only flow-control message version (proposal 324; C tor `flow_control_cells.trunnel`
/// accepts only 0).
pub const FLOW_CTRL_VERSION: u8 = 0;

fn take_flow_version(r: &mut Reader<'_>, what: &'static str) -> Result<u8, DecodeError> {
    let v = r.take_u8(what)?;
    if v != FLOW_CTRL_VERSION {
        return Err(DecodeError::invalid(what, "unsupported version (only 0)"));
    }
    Ok(v)
}

/// XOFF: stop sending on this stream (proposal 324 §4.1). Wire form `VERSION u8` (0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Xoff;

impl Body for Xoff {
    const CMD: RelayCmd = RelayCmd::XOFF;

    fn decode_body(body: &Bytes) -> Result<Self, DecodeError> {
        take_flow_version(&mut Reader::new(body), "XOFF version")?;
        Ok(Xoff)
    }

    fn encode_body<W: Writer + ?Sized>(&self, w: &mut W) -> Result<(), EncodeError> {
        w.write_u8(FLOW_CTRL_VERSION);
        Ok(())
    }
}

/// XON: resume sending on this stream (proposal 324 §4.1).
/// Wire form `VERSION u8` (0) `· KBPS_EWMA u32`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Xon {
    /// The receiver's drain rate in kilobytes per second (EWMA); 0 means "unlimited".
    pub kbps_ewma: u32,
}

impl Body for Xon {
    const CMD: RelayCmd = RelayCmd::XON;

    fn decode_body(body: &Bytes) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        take_flow_version(&mut r, "XON version")?;
        Ok(Xon {
            kbps_ewma: r.take_u32("XON kbps_ewma")?,
        })
    }

    fn encode_body<W: Writer + ?Sized>(&self, w: &mut W) -> Result<(), EncodeError> {
        w.write_u8(FLOW_CTRL_VERSION);
        w.write_u32(self.kbps_ewma);
        Ok(())
    }
}
