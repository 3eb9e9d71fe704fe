//! Byte-level readers and writers shared by every wire format in the crate.
//!
//! Every Tor wire type is decoded through a [`Reader`] (a bounds-checked cursor over
//! `&[u8]` that can never panic) and encoded through a [`Writer`] (implemented for
//! `Vec<u8>` and `bytes::BytesMut`). All integers on the Tor wire are big-endian
//! (tor-spec §0.2 "Notation"), so the helpers here are too.
//!
//! Deliberately not here: anything that knows about a particular cell or message.

use bytes::BytesMut;

/// Why some bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input ended before a field was complete.
    #[error("truncated: needed {needed} more byte(s) for {what}")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// How many more bytes would have been needed.
        needed: usize,
    },
    /// Bytes were left over where the format says the object ends.
    #[error("{count} unexpected trailing byte(s) after {what}")]
    ExtraBytes {
        /// What was being read.
        what: &'static str,
        /// How many bytes were left.
        count: usize,
    },
    /// A field had a value the format does not allow.
    #[error("invalid {what}: {why}")]
    Invalid {
        /// The field or object.
        what: &'static str,
        /// What was wrong with it.
        why: &'static str,
    },
}

impl DecodeError {
    /// Shorthand for [`DecodeError::Invalid`].
    pub fn invalid(what: &'static str, why: &'static str) -> Self {
        DecodeError::Invalid { what, why }
    }
}

/// Why a value could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// A field or body is longer than its length prefix or container allows.
    #[error("{what} is too long: {len} bytes, at most {max} allowed")]
    TooLong {
        /// What overflowed.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The largest length the format allows.
        max: usize,
    },
    /// The value cannot be represented on the wire.
    #[error("cannot encode {what}: {why}")]
    Unrepresentable {
        /// What could not be encoded.
        what: &'static str,
        /// Why.
        why: &'static str,
    },
}

/// A bounds-checked cursor over a byte slice.
///
/// Every `take_*` method either returns the requested bytes and advances, or returns
/// [`DecodeError::Truncated`] and leaves the cursor where it was.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader positioned at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Bytes not yet consumed.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Bytes consumed so far.
    pub fn consumed(&self) -> usize {
        self.pos
    }

    /// True if every byte has been consumed.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The unconsumed bytes, without consuming them.
    pub fn peek_rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    /// Fails with [`DecodeError::ExtraBytes`] unless every byte has been consumed.
    pub fn expect_exhausted(&self, what: &'static str) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(DecodeError::ExtraBytes { what, count }),
        }
    }

    /// Takes exactly `n` bytes.
    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if n > self.remaining() {
            return Err(DecodeError::Truncated {
                what,
                needed: n - self.remaining(),
            });
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// Takes every remaining byte.
    pub fn take_rest(&mut self) -> &'a [u8] {
        let out = &self.buf[self.pos..];
        self.pos = self.buf.len();
        out
    }

    /// Takes a fixed-size array.
    pub fn take_array<const N: usize>(
        &mut self,
        what: &'static str,
    ) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    /// Takes one byte.
    pub fn take_u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.take_array::<1>(what)?[0])
    }

    /// Takes a big-endian u16.
    pub fn take_u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.take_array(what)?))
    }

    /// Takes a big-endian u32.
    pub fn take_u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.take_array(what)?))
    }

    /// Takes a big-endian u64.
    pub fn take_u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.take_array(what)?))
    }

    /// Takes a field prefixed by a one-byte length.
    pub fn take_u8_prefixed(&mut self, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let save = self.pos;
        let len = self.take_u8(what)? as usize;
        self.take(len, what).inspect_err(|_| self.pos = save)
    }

    /// Takes a field prefixed by a two-byte big-endian length.
    pub fn take_u16_prefixed(&mut self, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let save = self.pos;
        let len = self.take_u16(what)? as usize;
        self.take(len, what).inspect_err(|_| self.pos = save)
    }

    /// Takes bytes up to (not including) the first NUL, and consumes the NUL.
    pub fn take_until_nul(&mut self, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let rest = self.peek_rest();
        match rest.iter().position(|&b| b == 0) {
            Some(i) => {
                self.pos += i + 1;
                Ok(&rest[..i])
            }
            None => Err(DecodeError::Truncated { what, needed: 1 }),
        }
    }
}

/// Somewhere to encode bytes to.
pub trait Writer {
    /// Appends bytes.
    fn write_all(&mut self, bytes: &[u8]);
    /// Bytes written so far.
    fn len_written(&self) -> usize;
    /// Overwrites bytes already written, at `offset` from the start.
    ///
    /// Used to back-patch length fields. Callers only pass ranges they wrote.
    fn patch(&mut self, offset: usize, bytes: &[u8]);

    /// Appends one byte.
    fn write_u8(&mut self, v: u8) {
        self.write_all(&[v]);
    }
    /// Appends a big-endian u16.
    fn write_u16(&mut self, v: u16) {
        self.write_all(&v.to_be_bytes());
    }
    /// Appends a big-endian u32.
    fn write_u32(&mut self, v: u32) {
        self.write_all(&v.to_be_bytes());
    }
    /// Appends a big-endian u64.
    fn write_u64(&mut self, v: u64) {
        self.write_all(&v.to_be_bytes());
    }
    /// Appends `n` zero bytes.
    fn write_zeros(&mut self, n: usize) {
        const Z: [u8; 64] = [0; 64];
        let mut left = n;
        while left > 0 {
            let k = left.min(Z.len());
            self.write_all(&Z[..k]);
            left -= k;
        }
    }
    /// Appends `bytes` after a one-byte length.
    fn write_u8_prefixed(&mut self, what: &'static str, bytes: &[u8]) -> Result<(), EncodeError> {
        let len = u8::try_from(bytes.len()).map_err(|_| EncodeError::TooLong {
            what,
            len: bytes.len(),
            max: u8::MAX as usize,
        })?;
        self.write_u8(len);
        self.write_all(bytes);
        Ok(())
    }
    /// Appends `bytes` after a two-byte length.
    fn write_u16_prefixed(&mut self, what: &'static str, bytes: &[u8]) -> Result<(), EncodeError> {
        let len = u16::try_from(bytes.len()).map_err(|_| EncodeError::TooLong {
            what,
            len: bytes.len(),
            max: u16::MAX as usize,
        })?;
        self.write_u16(len);
        self.write_all(bytes);
        Ok(())
    }
}

impl Writer for Vec<u8> {
    fn write_all(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
    fn len_written(&self) -> usize {
        self.len()
    }
    fn patch(&mut self, offset: usize, bytes: &[u8]) {
        self[offset..offset + bytes.len()].copy_from_slice(bytes);
    }
}

impl Writer for BytesMut {
    fn write_all(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
    fn len_written(&self) -> usize {
        self.len()
    }
    fn patch(&mut self, offset: usize, bytes: &[u8]) {
        self[offset..offset + bytes.len()].copy_from_slice(bytes);
    }
}

/// A wire type that can be decoded from a [`Reader`].
pub trait Readable: Sized {
    /// Decodes one value, consuming exactly its bytes.
    fn take_from(r: &mut Reader<'_>) -> Result<Self, DecodeError>;

    /// Decodes one value that must occupy all of `bytes`.
    fn decode_exact(bytes: &[u8], what: &'static str) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let v = Self::take_from(&mut r)?;
        r.expect_exhausted(what)?;
        Ok(v)
    }
}

/// A wire type that can be encoded onto a [`Writer`].
pub trait Writeable {
    /// Appends the encoding of `self`.
    fn write_onto<W: Writer + ?Sized>(&self, w: &mut W) -> Result<(), EncodeError>;

    /// The encoding of `self` as a new vector.
    fn to_vec(&self) -> Result<Vec<u8>, EncodeError> {
        let mut v = Vec::new();
        self.write_onto(&mut v)?;
        Ok(v)
    }
}

/// Declares an open integer "command" or "type" newtype with named constants.
///
/// Unknown values are representable, survive a round trip and print as their number,
/// which is how Tor's command spaces must be handled (tor-spec §3, §6.1).
#[macro_export]
macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident($repr:ty) {
            $( $(#[$cmeta:meta])* $cname:ident = $val:expr ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis struct $name(pub $repr);

        impl $name {
            $( $(#[$cmeta])* pub const $cname: $name = $name($val); )*

            /// The spec's name for this value, if it has one.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $( v if v == $val => Some(stringify!($cname)), )*
                    _ => None,
                }
            }

            /// True if this value has a name in this implementation.
            pub fn is_known(self) -> bool {
                self.name().is_some()
            }
        }

        impl From<$repr> for $name {
            fn from(v: $repr) -> Self {
                $name(v)
            }
        }

        impl From<$name> for $repr {
            fn from(v: $name) -> Self {
                v.0
            }
        }

        impl ::core::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                match self.name() {
                    Some(n) => write!(f, "{}", n),
                    None => write!(f, "{}({})", stringify!($name), self.0),
                }
            }
        }

        impl ::core::fmt::Display for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                ::core::fmt::Debug::fmt(self, f)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_takes_and_reports_truncation() {
        let mut r = Reader::new(&[1, 2, 3, 4, 5]);
        assert_eq!(r.take_u16("a").unwrap(), 0x0102);
        assert_eq!(r.take_u8("b").unwrap(), 3);
        let err = r.take_u32("c").unwrap_err();
        assert_eq!(
            err,
            DecodeError::Truncated {
                what: "c",
                needed: 2
            }
        );
        // A failed take consumes nothing.
        assert_eq!(r.remaining(), 2);
        assert_eq!(r.take_rest(), &[4, 5]);
        assert!(r.expect_exhausted("x").is_ok());
    }

    #[test]
    fn prefixed_fields_round_trip() {
        let mut w = Vec::new();
        w.write_u8_prefixed("f", b"abc").unwrap();
        w.write_u16_prefixed("g", &[9; 300]).unwrap();
        let mut r = Reader::new(&w);
        assert_eq!(r.take_u8_prefixed("f").unwrap(), b"abc");
        assert_eq!(r.take_u16_prefixed("g").unwrap().len(), 300);
        assert!(r.is_empty());
        assert!(Vec::new().write_u8_prefixed("f", &[0; 256]).is_err());
    }

    #[test]
    fn prefixed_truncation_rewinds() {
        let mut r = Reader::new(&[5, 1, 2]);
        assert!(r.take_u8_prefixed("f").is_err());
        assert_eq!(r.consumed(), 0);
    }

    #[test]
    fn nul_terminated() {
        let mut r = Reader::new(b"abc\0de");
        assert_eq!(r.take_until_nul("s").unwrap(), b"abc");
        assert_eq!(r.peek_rest(), b"de");
        assert!(r.take_until_nul("s").is_err());
    }

    open_enum! {
        /// test
        pub struct TestCmd(u8) {
            /// one
            ONE = 1,
            /// two
            TWO = 2,
        }
    }

    #[test]
    fn open_enum_keeps_unknown_values() {
        assert_eq!(format!("{:?}", TestCmd::ONE), "ONE");
        assert_eq!(format!("{}", TestCmd(77)), "TestCmd(77)");
        assert!(!TestCmd(77).is_known());
        assert_eq!(u8::from(TestCmd(77)), 77);
    }
}
