//! Channel-cell framing: [`ChanCell`] and the sans-IO [`ChannelCodec`] (tor-spec §3; brief
//! §1.1, §2.4).
//!
//! Formats, with link protocol ≥ 4 (`link_version = Some(v)`):
//!
//! - fixed-length: `CircID u32` · `Command u8` · `Body[509]` (514 bytes, body zero-padded);
//! - variable-length (VERSIONS and commands ≥ 128): `CircID u32` · `Command u8` ·
//!   `Length u16` · `Body[Length]`.
//!
//! Before negotiation (`link_version = None`) only variable-length cells may be framed, with
//! a 2-byte circuit id (`CircID u16` · `Command u8` · `Length u16`): this is how VERSIONS is
//! always sent, and how C tor reads VPADDING/AUTHORIZE before VERSIONS. C tor closes the
//! connection on a fixed-length cell at that point; so does a channel using this codec.
//!
//! The codec is incremental: [`ChannelCodec::decode`] returns `Ok(None)` until a whole cell is
//! buffered, then splits that cell off the buffer; a RELAY body is the split-off tail of the
//! received bytes, uniquely owned and mutable, so forwarding decrypts it in place. [`ChannelCodec::decode_raw`] also returns the cell's exact bytes,
//! which the link handshake hashes (SLOG/CLOG, brief §2.4).
//!
//! Deliberately not here: link protocols 1–3 after negotiation (2-byte ids on every cell),
//! TLS, and which cells a channel accepts in which state.

use bytes::{Bytes, BytesMut};

use super::error::CellError;
use super::msg::AnyChanMsg;
use super::{
    ChanCmd, CircId, CELL_BODY_LEN, FIXED_CELL_LEN, MIN_LINK_VERSION, VAR_HEADER_LEN,
    VAR_HEADER_LEN_NARROW,
};
use super::{Relay, RelayEarly};
use crate::wire::{EncodeError, Reader};

/// A channel cell: a circuit id and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChanCell {
    /// The circuit id (0 for channel-level messages).
    pub circ_id: CircId,
    /// The message.
    pub msg: AnyChanMsg,
}

impl ChanCell {
    /// A cell with a circuit id and a message.
    pub fn new(circ_id: CircId, msg: impl Into<AnyChanMsg>) -> Self {
        ChanCell {
            circ_id,
            msg: msg.into(),
        }
    }

    /// A channel-level cell (circuit id 0).
    pub fn channel(msg: impl Into<AnyChanMsg>) -> Self {
        Self::new(CircId::ZERO, msg)
    }
}

/// Encodes and decodes channel cells for one channel (sans-IO).
#[derive(Debug, Clone)]
pub struct ChannelCodec {
    link_version: Option<u16>,
    max_var_body: usize,
}

impl Default for ChannelCodec {
    fn default() -> Self {
        Self::unnegotiated()
    }
}

impl ChannelCodec {
    /// The default bound on variable-length bodies: what the 16-bit length allows.
    pub const DEFAULT_MAX_VAR_BODY: usize = u16::MAX as usize;

    /// A codec for a link version (`None`: not negotiated yet; 2-byte VERSIONS framing).
    /// Fails for versions below 4.
    pub fn new(link_version: Option<u16>) -> Result<Self, CellError> {
        let mut c = Self::unnegotiated();
        if let Some(v) = link_version {
            c.set_link_version(v)?;
        }
        Ok(c)
    }

    /// A codec for the start of a channel, before VERSIONS has been exchanged.
    pub fn unnegotiated() -> Self {
        ChannelCodec {
            link_version: None,
            max_var_body: Self::DEFAULT_MAX_VAR_BODY,
        }
    }

    /// Switches to the negotiated link version (4-byte circuit ids from now on).
    pub fn set_link_version(&mut self, v: u16) -> Result<(), CellError> {
        if v < MIN_LINK_VERSION {
            return Err(CellError::UnsupportedLinkVersion(v));
        }
        self.link_version = Some(v);
        Ok(())
    }

    /// The negotiated link version, if any.
    pub fn link_version(&self) -> Option<u16> {
        self.link_version
    }

    /// Bounds the body of variable-length cells we accept (at most 65535), so that a peer
    /// cannot make us buffer more than we choose. A longer announced length fails as soon as
    /// the header has arrived.
    pub fn with_max_var_body(mut self, max: usize) -> Self {
        self.max_var_body = max.min(Self::DEFAULT_MAX_VAR_BODY);
        self
    }

    /// The bound on variable-length bodies.
    pub fn max_var_body(&self) -> usize {
        self.max_var_body
    }

    /// Length of the circuit-id field in the current framing.
    fn circ_id_len(&self) -> usize {
        if self.link_version.is_some() {
            4
        } else {
            2
        }
    }

    /// The length of the first cell in `buf`, once its header is there; `Ok(None)` if more
    /// bytes are needed to tell. Fails on a header the framing refuses.
    pub fn frame_len(&self, buf: &[u8]) -> Result<Option<usize>, CellError> {
        let idl = self.circ_id_len();
        let Some(&cmd) = buf.get(idl) else {
            return Ok(None);
        };
        let cmd = ChanCmd(cmd);
        if !cmd.is_var_len() {
            if self.link_version.is_none() {
                return Err(CellError::FixedCellBeforeNegotiation { cmd });
            }
            return Ok(Some(FIXED_CELL_LEN));
        }
        let (Some(&hi), Some(&lo)) = (buf.get(idl + 1), buf.get(idl + 2)) else {
            return Ok(None);
        };
        let len = u16::from_be_bytes([hi, lo]) as usize;
        if len > self.max_var_body {
            return Err(CellError::VarCellTooLong {
                cmd,
                len,
                max: self.max_var_body,
            });
        }
        Ok(Some(idl + 3 + len))
    }

    /// Decodes one cell from the front of `src`, removing it. `Ok(None)` (and `src`
    /// untouched) until the whole cell has arrived.
    ///
    /// On a framing error nothing is removed (the channel closes). On a circuit-id or body
    /// error the cell has been removed, so a channel whose [`CellError::disposition`] is to
    /// drop the cell or destroy the circuit can go on decoding.
    ///
    /// A RELAY or RELAY_EARLY body comes out as a uniquely owned `BytesMut` split off `src`
    /// (no copy), so it can be decrypted in place and forwarded as is.
    pub fn decode(&self, src: &mut BytesMut) -> Result<Option<ChanCell>, CellError> {
        let Some(len) = self.frame_len(src)? else {
            return Ok(None);
        };
        if src.len() < len {
            return Ok(None);
        }
        if let Some(fast) = self.decode_relay_fast(src, len) {
            return fast.map(Some);
        }
        Ok(self.decode_raw(src)?.map(|(cell, _)| cell))
    }

    /// The RELAY/RELAY_EARLY fast path of [`decode`](Self::decode): `None` if the first
    /// (complete, `len`-byte) cell in `src` is something else.
    fn decode_relay_fast(
        &self,
        src: &mut BytesMut,
        len: usize,
    ) -> Option<Result<ChanCell, CellError>> {
        use bytes::Buf;
        // Only fixed 4-byte-id framing carries relay cells.
        self.link_version?;
        let hdr: [u8; 5] = src.get(..5)?.try_into().ok()?;
        let cmd = ChanCmd(hdr[4]);
        if cmd != ChanCmd::RELAY && cmd != ChanCmd::RELAY_EARLY {
            return None;
        }
        let circ_id = CircId(u32::from_be_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]));
        let mut frame = src.split_to(len);
        frame.advance(5);
        if !cmd.accepts_circ_id(circ_id) {
            return Some(Err(CellError::BadCircId { cmd, circ_id }));
        }
        let relay = match Relay::from_bytes_mut(frame) {
            Ok(r) => r,
            Err(_) => {
                return Some(Err(CellError::Malformed {
                    cmd,
                    circ_id,
                    source: crate::wire::DecodeError::Truncated {
                        what: "RELAY body",
                        needed: CELL_BODY_LEN,
                    },
                }))
            }
        };
        let msg = if cmd == ChanCmd::RELAY {
            AnyChanMsg::Relay(relay)
        } else {
            AnyChanMsg::RelayEarly(RelayEarly(relay))
        };
        Some(Ok(ChanCell { circ_id, msg }))
    }

    /// Like [`decode`](Self::decode), and also returns the cell's bytes exactly as received
    /// (header included, the full 514 bytes of a fixed cell), for handshake digests.
    ///
    /// The exact bytes share the frame's allocation, so a RELAY body decoded here is copied
    /// once to become mutable; the link handshake never sees RELAY cells, and the data path
    /// uses [`decode`](Self::decode).
    pub fn decode_raw(&self, src: &mut BytesMut) -> Result<Option<(ChanCell, Bytes)>, CellError> {
        let Some(len) = self.frame_len(src)? else {
            return Ok(None);
        };
        if src.len() < len {
            return Ok(None);
        }
        let raw = src.split_to(len).freeze();
        // `frame_len` saw the whole header, so these reads cannot fail; they are checked
        // anyway rather than trusted.
        let truncated = |source| CellError::Malformed {
            cmd: ChanCmd::PADDING,
            circ_id: CircId::ZERO,
            source,
        };
        let mut hdr = Reader::new(&raw);
        let circ_id = CircId(if self.link_version.is_some() {
            hdr.take_u32("cell CircID").map_err(truncated)?
        } else {
            u32::from(hdr.take_u16("cell CircID").map_err(truncated)?)
        });
        let cmd = ChanCmd(hdr.take_u8("cell command").map_err(truncated)?);
        if cmd.is_var_len() {
            hdr.take_u16("cell length").map_err(truncated)?;
        }
        let body = raw.slice(hdr.consumed()..);
        if !cmd.accepts_circ_id(circ_id) {
            return Err(CellError::BadCircId { cmd, circ_id });
        }
        let msg = AnyChanMsg::decode(cmd, body).map_err(|source| CellError::Malformed {
            cmd,
            circ_id,
            source,
        })?;
        Ok(Some((ChanCell { circ_id, msg }, raw)))
    }

    /// Appends the encoding of `cell` to `dst`. On error `dst` is left as it was.
    pub fn encode(&self, cell: &ChanCell, dst: &mut BytesMut) -> Result<(), CellError> {
        let start = dst.len();
        let r = self.encode_inner(cell, dst);
        if r.is_err() {
            dst.truncate(start);
        }
        r
    }

    /// The encoding of `cell` as a new vector.
    pub fn encode_to_vec(&self, cell: &ChanCell) -> Result<Vec<u8>, CellError> {
        let mut b = BytesMut::new();
        self.encode(cell, &mut b)?;
        Ok(b.to_vec())
    }

    /// Encodes without restoring `dst` on error.
    fn encode_inner(&self, cell: &ChanCell, dst: &mut BytesMut) -> Result<(), CellError> {
        use crate::wire::Writer;
        let cmd = cell.msg.cmd();
        let enc_err = |source| CellError::Encode { cmd, source };
        if !cmd.accepts_circ_id(cell.circ_id) {
            return Err(enc_err(EncodeError::Unrepresentable {
                what: "circuit id",
                why: "not allowed for this command",
            }));
        }
        match self.link_version {
            Some(_) => dst.write_u32(cell.circ_id.0),
            None => {
                if !cmd.is_var_len() {
                    return Err(enc_err(EncodeError::Unrepresentable {
                        what: "fixed-length cell",
                        why: "link version not negotiated yet",
                    }));
                }
                let id = u16::try_from(cell.circ_id.0).map_err(|_| {
                    enc_err(EncodeError::Unrepresentable {
                        what: "circuit id",
                        why: "does not fit 2 bytes",
                    })
                })?;
                dst.write_u16(id);
            }
        }
        dst.write_u8(cmd.0);
        if cmd.is_var_len() {
            let len_at = dst.len();
            dst.write_u16(0);
            cell.msg.encode_body(dst).map_err(enc_err)?;
            let len = dst.len() - len_at - 2;
            let len16 = u16::try_from(len).map_err(|_| {
                enc_err(EncodeError::TooLong {
                    what: "variable-length cell body",
                    len,
                    max: u16::MAX as usize,
                })
            })?;
            dst.patch(len_at, &len16.to_be_bytes());
        } else {
            let body_at = dst.len();
            cell.msg.encode_body(dst).map_err(enc_err)?;
            let len = dst.len() - body_at;
            if len > CELL_BODY_LEN {
                return Err(enc_err(EncodeError::TooLong {
                    what: "fixed-length cell body",
                    len,
                    max: CELL_BODY_LEN,
                }));
            }
            dst.write_zeros(CELL_BODY_LEN - len);
        }
        Ok(())
    }
}

/// Helpers for the link handshake, which must hash cells exactly as sent (brief §2.4).
pub mod raw {
    use super::*;
    use crate::cell::Versions;

    /// Our VERSIONS cell as sent before negotiation: `CircID u16 = 0` · `7` · `Length u16` ·
    /// versions. These exact bytes go into the handshake digest.
    pub fn versions_cell(versions: &[u16]) -> Result<Vec<u8>, CellError> {
        ChannelCodec::unnegotiated().encode_to_vec(&ChanCell::channel(Versions {
            versions: versions.to_vec(),
        }))
    }

    /// The header length of a variable-length cell in a framing (`None`: before
    /// negotiation).
    pub fn var_header_len(link_version: Option<u16>) -> usize {
        if link_version.is_some() {
            VAR_HEADER_LEN
        } else {
            VAR_HEADER_LEN_NARROW
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::cell::{Netinfo, Padding, Relay, RelayEarly, Versions};

    #[test]
    fn versions_narrow_framing() {
        let raw = raw::versions_cell(&[4, 5]).unwrap();
        assert_eq!(raw, [0, 0, 7, 0, 4, 0, 4, 0, 5]);
        let codec = ChannelCodec::unnegotiated();
        let mut buf = BytesMut::from(&raw[..4]);
        assert_eq!(codec.decode(&mut buf).unwrap(), None);
        buf.extend_from_slice(&raw[4..]);
        buf.extend_from_slice(b"xy");
        let (cell, bytes) = codec.decode_raw(&mut buf).unwrap().unwrap();
        assert_eq!(&bytes[..], &raw[..]);
        assert_eq!(buf.as_ref(), b"xy");
        assert_eq!(
            cell.msg,
            AnyChanMsg::Versions(Versions {
                versions: vec![4, 5]
            })
        );
    }

    #[test]
    fn fixed_before_negotiation() {
        let codec = ChannelCodec::unnegotiated();
        let mut buf = BytesMut::from(&[0u8, 0, 8][..]);
        assert!(matches!(
            codec.decode(&mut buf),
            Err(CellError::FixedCellBeforeNegotiation { .. })
        ));
        let cell = ChanCell::channel(Padding);
        assert!(codec.encode_to_vec(&cell).is_err());
    }

    #[test]
    fn fixed_cells_and_zero_copy() {
        let codec = ChannelCodec::new(Some(5)).unwrap();
        let relay = Relay::from_array([9; CELL_BODY_LEN]);
        let cell = ChanCell::new(CircId(0x8000_0001), relay);
        let mut buf = BytesMut::new();
        codec.encode(&cell, &mut buf).unwrap();
        codec
            .encode(
                &ChanCell::channel(Netinfo::from_client([127, 0, 0, 1].into())),
                &mut buf,
            )
            .unwrap();
        assert_eq!(buf.len(), 2 * FIXED_CELL_LEN);
        let base = buf.as_ptr();
        let got = codec.decode(&mut buf).unwrap().unwrap();
        assert_eq!(got, cell);
        let AnyChanMsg::Relay(r) = &got.msg else {
            panic!("not relay")
        };
        // The body points into the original buffer: no copy.
        assert_eq!(r.body().as_ptr(), base.wrapping_add(5));
        assert!(codec.decode(&mut buf).unwrap().is_some());
        assert!(buf.is_empty());
    }

    #[test]
    fn relay_bodies_are_split_off_not_copied() {
        let codec = ChannelCodec::new(Some(4)).unwrap();
        let a = ChanCell::new(CircId(0x8000_0001), Relay::from_array([1; CELL_BODY_LEN]));
        let b = ChanCell::new(CircId(2), RelayEarly(Relay::from_array([2; CELL_BODY_LEN])));
        let mut buf = BytesMut::new();
        codec.encode(&a, &mut buf).unwrap();
        codec.encode(&b, &mut buf).unwrap();
        buf.extend_from_slice(&[0, 0]);
        let base = buf.as_ptr();
        let mut copy = buf.clone();
        let got_a = codec.decode(&mut buf).unwrap().unwrap();
        let got_b = codec.decode(&mut buf).unwrap().unwrap();
        assert_eq!((&got_a, &got_b), (&a, &b));
        let AnyChanMsg::RelayEarly(RelayEarly(rb)) = got_b.msg else {
            panic!("not relay_early")
        };
        // Uniquely owned and mutable where it was read.
        let mut body = rb.into_body_mut();
        assert_eq!(body.as_ptr(), base.wrapping_add(FIXED_CELL_LEN + 5));
        body[0] ^= 1;
        assert_eq!(buf.as_ref(), &[0, 0]);
        // decode_raw still gives the exact bytes of a relay cell.
        let (cell, raw) = codec.decode_raw(&mut copy).unwrap().unwrap();
        assert_eq!(cell, a);
        assert_eq!(raw, codec.encode_to_vec(&a).unwrap());
        // A relay cell with circuit id 0 is refused and consumed on the fast path too.
        let mut bad = BytesMut::from(&[0u8, 0, 0, 0, 3][..]);
        bad.resize(FIXED_CELL_LEN, 0);
        assert!(matches!(
            codec.decode(&mut bad),
            Err(CellError::BadCircId { .. })
        ));
        assert!(bad.is_empty());
    }

    #[test]
    fn circ_id_checked() {
        let codec = ChannelCodec::new(Some(4)).unwrap();
        let mut buf = BytesMut::from(&[0u8, 0, 0, 0, 3][..]);
        buf.resize(FIXED_CELL_LEN, 0);
        assert!(matches!(
            codec.decode(&mut buf),
            Err(CellError::BadCircId { .. })
        ));
        // The bad cell was consumed.
        assert!(buf.is_empty());
        let bad = ChanCell::new(CircId(1), Padding);
        let mut out = BytesMut::from(&b"keep"[..]);
        assert!(codec.encode(&bad, &mut out).is_err());
        assert_eq!(out.as_ref(), b"keep");
    }

    #[test]
    fn var_body_bound() {
        let codec = ChannelCodec::new(Some(4)).unwrap().with_max_var_body(100);
        let mut buf = BytesMut::from(&[0u8, 0, 0, 0, 128, 0, 101][..]);
        assert!(matches!(
            codec.decode(&mut buf),
            Err(CellError::VarCellTooLong { len: 101, .. })
        ));
        let mut buf = BytesMut::from(&[0u8, 0, 0, 0, 128, 0, 100][..]);
        assert_eq!(codec.decode(&mut buf).unwrap(), None);
        assert!(ChannelCodec::new(Some(3)).is_err());
    }
}
