//! Our extension's datagram messages, DATAGRAM (0xD0) and DATAGRAM_FRAG (0xD1), on datagram
//! streams between our client and our onion service. The normative text is
//! `docs/datagram-spec.md`; this module is its wire format only.
//!
//! Both bodies are the datagram bytes and nothing else: circuits are reliable and ordered,
//! and a sender never interleaves two datagrams on one stream, so a datagram is the
//! concatenation of the DATAGRAM_FRAG bodies since the last DATAGRAM, followed by the next
//! DATAGRAM's body. Reassembly, limits and counting live elsewhere.

use bytes::Bytes;

use super::cmd::RelayCmd;
use super::framing::MAX_DATA_LEN;
use super::msg::Body;
use crate::wire::{DecodeError, EncodeError, Writer};

fn check_len(what: &'static str, len: usize) -> Result<(), EncodeError> {
    if len > MAX_DATA_LEN {
        return Err(EncodeError::TooLong {
            what,
            len,
            max: MAX_DATA_LEN,
        });
    }
    Ok(())
}

/// DATAGRAM (0xD0): a whole datagram, or the last piece of a fragmented one. May be empty
/// (a zero-length datagram, or an empty last piece). At most 498 bytes in format v0.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Datagram {
    data: Bytes,
}

impl Datagram {
    /// Wraps at most 498 bytes.
    pub fn new(data: impl Into<Bytes>) -> Result<Self, EncodeError> {
        let data = data.into();
        check_len("DATAGRAM", data.len())?;
        Ok(Datagram { data })
    }

    /// The bytes.
    pub fn data(&self) -> &Bytes {
        &self.data
    }

    /// The bytes, by value.
    pub fn into_data(self) -> Bytes {
        self.data
    }
}

impl Body for Datagram {
    const CMD: RelayCmd = RelayCmd::DATAGRAM;

    fn decode_body(body: &Bytes) -> Result<Self, DecodeError> {
        if body.len() > MAX_DATA_LEN {
            return Err(DecodeError::invalid("DATAGRAM", "longer than 498 bytes"));
        }
        Ok(Datagram { data: body.clone() })
    }

    fn encode_body<W: Writer + ?Sized>(&self, w: &mut W) -> Result<(), EncodeError> {
        w.write_all(&self.data);
        Ok(())
    }
}

/// DATAGRAM_FRAG (0xD1): a non-final piece of a datagram. Never empty; at most 498 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatagramFrag {
    data: Bytes,
}

impl DatagramFrag {
    /// Wraps 1–498 bytes.
    pub fn new(data: impl Into<Bytes>) -> Result<Self, EncodeError> {
        let data = data.into();
        if data.is_empty() {
            return Err(EncodeError::Unrepresentable {
                what: "DATAGRAM_FRAG",
                why: "a fragment must not be empty",
            });
        }
        check_len("DATAGRAM_FRAG", data.len())?;
        Ok(DatagramFrag { data })
    }

    /// The bytes.
    pub fn data(&self) -> &Bytes {
        &self.data
    }

    /// The bytes, by value.
    pub fn into_data(self) -> Bytes {
        self.data
    }
}

impl Body for DatagramFrag {
    const CMD: RelayCmd = RelayCmd::DATAGRAM_FRAG;

    fn decode_body(body: &Bytes) -> Result<Self, DecodeError> {
        if body.is_empty() {
            return Err(DecodeError::invalid("DATAGRAM_FRAG", "empty fragment"));
        }
        if body.len() > MAX_DATA_LEN {
            return Err(DecodeError::invalid(
                "DATAGRAM_FRAG",
                "longer than 498 bytes",
            ));
        }
        Ok(DatagramFrag { data: body.clone() })
    }

    fn encode_body<W: Writer + ?Sized>(&self, w: &mut W) -> Result<(), EncodeError> {
        w.write_all(&self.data);
        Ok(())
    }
}

/// Cuts a datagram into the messages that carry it: zero or more DATAGRAM_FRAG pieces of
/// `piece` bytes, then one DATAGRAM with the rest (1 to `piece` bytes, or empty for an empty
/// datagram). `piece` is clamped to 1..=498.
pub fn split(datagram: &Bytes, piece: usize) -> (Vec<DatagramFrag>, Datagram) {
    let piece = piece.clamp(1, MAX_DATA_LEN);
    let mut frags = Vec::new();
    let mut rest = datagram.clone();
    while rest.len() > piece {
        let head = rest.split_to(piece);
        frags.push(DatagramFrag { data: head });
    }
    (frags, Datagram { data: rest })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn split_sizes() {
        let d = Bytes::from(vec![7u8; 1200]);
        let (f, last) = split(&d, MAX_DATA_LEN);
        assert_eq!(f.len(), 2);
        assert_eq!(last.data().len(), 1200 - 2 * 498);
        let (f, last) = split(&Bytes::from(vec![1u8; 996]), MAX_DATA_LEN);
        assert_eq!((f.len(), last.data().len()), (1, 498));
        let (f, last) = split(&Bytes::new(), MAX_DATA_LEN);
        assert!(f.is_empty() && last.data().is_empty());
        assert!(DatagramFrag::new(Bytes::new()).is_err());
        assert!(Datagram::new(vec![0u8; 499]).is_err());
    }
}
