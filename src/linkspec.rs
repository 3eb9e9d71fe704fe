//! Link specifiers: how EXTEND2 (and, later, onion-service messages) name the next relay
//! (tor-spec §5.1.2 "EXTEND and EXTENDED cells").
//!
//! One specifier is `LSTYPE u8 · LSLEN u8 · LSPEC[LSLEN]`; a list is `NSPEC u8` followed by
//! NSPEC specifiers. The four known types have fixed lengths, and a wrong length for a known
//! type is an error. Unknown types are kept verbatim, so they survive a decode/encode round
//! trip (nodes "MUST ignore unrecognized specifiers").
//!
//! Deliberately not here: the rules a relay applies to a whole list before extending (a legacy
//! id is required, no duplicate identities, at least one address, first address of each family
//! wins; tor-spec §5.1.2 and C tor `onion.c`). Those belong to the code that handles EXTEND2.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};

use crate::ids::{Ed25519Identity, RsaIdentity};
use crate::wire::{DecodeError, EncodeError, Readable, Reader, Writeable, Writer};

crate::open_enum! {
    /// The `LSTYPE` of a link specifier (tor-spec §5.1.2).
    pub struct LinkSpecType(u8) {
        /// TLS-over-TCP, IPv4: 4-byte address and 2-byte ORPort.
        IPV4 = 0x00,
        /// TLS-over-TCP, IPv6: 16-byte address and 2-byte ORPort.
        IPV6 = 0x01,
        /// Legacy identity: the 20-byte SHA-1 RSA identity fingerprint.
        LEGACY_ID = 0x02,
        /// Ed25519 identity: the 32-byte Ed25519 identity key.
        ED25519_ID = 0x03,
    }
}

impl LinkSpecType {
    /// The body length a known type must have, or `None` for an unknown type.
    pub fn fixed_len(self) -> Option<usize> {
        match self {
            LinkSpecType::IPV4 => Some(6),
            LinkSpecType::IPV6 => Some(18),
            LinkSpecType::LEGACY_ID => Some(20),
            LinkSpecType::ED25519_ID => Some(32),
            _ => None,
        }
    }
}

/// One link specifier (tor-spec §5.1.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LinkSpec {
    /// An IPv4 ORPort. (Type 0x00.)
    Ipv4(SocketAddrV4),
    /// An IPv6 ORPort. (Type 0x01.) The wire form has no flow info or scope id: they are
    /// ignored when encoding and zero when decoding.
    Ipv6(SocketAddrV6),
    /// The relay's legacy RSA identity fingerprint. (Type 0x02.)
    LegacyId(RsaIdentity),
    /// The relay's Ed25519 identity. (Type 0x03.)
    Ed25519Id(Ed25519Identity),
    /// A specifier of a type we do not know, kept verbatim.
    Unrecognized {
        /// Its type; never one of the four known types.
        lstype: LinkSpecType,
        /// Its body (at most 255 bytes).
        body: Vec<u8>,
    },
}

impl LinkSpec {
    /// This specifier's `LSTYPE`.
    pub fn lstype(&self) -> LinkSpecType {
        match self {
            LinkSpec::Ipv4(_) => LinkSpecType::IPV4,
            LinkSpec::Ipv6(_) => LinkSpecType::IPV6,
            LinkSpec::LegacyId(_) => LinkSpecType::LEGACY_ID,
            LinkSpec::Ed25519Id(_) => LinkSpecType::ED25519_ID,
            LinkSpec::Unrecognized { lstype, .. } => *lstype,
        }
    }

    /// Where this specifier goes in the order tor-spec §5.1.2 recommends for sending:
    /// `[00], [02], [03], [01]`, then unknown types by number.
    pub fn send_order(&self) -> u16 {
        match self {
            LinkSpec::Ipv4(_) => 0,
            LinkSpec::LegacyId(_) => 1,
            LinkSpec::Ed25519Id(_) => 2,
            LinkSpec::Ipv6(_) => 3,
            LinkSpec::Unrecognized { lstype, .. } => 4 + u16::from(lstype.0),
        }
    }

    /// Sorts specifiers into the recommended sending order (stable for equal types).
    pub fn sort_for_sending(specs: &mut [LinkSpec]) {
        specs.sort_by_key(LinkSpec::send_order);
    }

    /// Decodes a specifier's body given its type. `body` must be exactly `LSLEN` bytes.
    pub fn from_type_and_body(lstype: LinkSpecType, body: &[u8]) -> Result<Self, DecodeError> {
        if let Some(want) = lstype.fixed_len() {
            if body.len() != want {
                return Err(DecodeError::invalid(
                    "link specifier",
                    "wrong length for a known link specifier type",
                ));
            }
        }
        let mut r = Reader::new(body);
        let spec = match lstype {
            LinkSpecType::IPV4 => {
                let ip = Ipv4Addr::from(r.take_array::<4>("IPv4 address")?);
                let port = r.take_u16("IPv4 ORPort")?;
                LinkSpec::Ipv4(SocketAddrV4::new(ip, port))
            }
            LinkSpecType::IPV6 => {
                let ip = Ipv6Addr::from(r.take_array::<16>("IPv6 address")?);
                let port = r.take_u16("IPv6 ORPort")?;
                LinkSpec::Ipv6(SocketAddrV6::new(ip, port, 0, 0))
            }
            LinkSpecType::LEGACY_ID => LinkSpec::LegacyId(RsaIdentity(r.take_array("legacy id")?)),
            LinkSpecType::ED25519_ID => {
                LinkSpec::Ed25519Id(Ed25519Identity(r.take_array("Ed25519 id")?))
            }
            _ => LinkSpec::Unrecognized {
                lstype,
                body: r.take_rest().to_vec(),
            },
        };
        r.expect_exhausted("link specifier")?;
        Ok(spec)
    }

    /// Appends this specifier's body (without type and length).
    fn write_body<W: Writer + ?Sized>(&self, w: &mut W) -> Result<(), EncodeError> {
        match self {
            LinkSpec::Ipv4(sa) => {
                w.write_all(&sa.ip().octets());
                w.write_u16(sa.port());
            }
            LinkSpec::Ipv6(sa) => {
                w.write_all(&sa.ip().octets());
                w.write_u16(sa.port());
            }
            LinkSpec::LegacyId(id) => w.write_all(&id.0),
            LinkSpec::Ed25519Id(id) => w.write_all(&id.0),
            LinkSpec::Unrecognized { body, .. } => w.write_all(body),
        }
        Ok(())
    }

    /// The encoded length of this specifier, including type and length bytes.
    pub fn encoded_len(&self) -> usize {
        2 + match self {
            LinkSpec::Ipv4(_) => 6,
            LinkSpec::Ipv6(_) => 18,
            LinkSpec::LegacyId(_) => 20,
            LinkSpec::Ed25519Id(_) => 32,
            LinkSpec::Unrecognized { body, .. } => body.len(),
        }
    }
}

impl Readable for LinkSpec {
    fn take_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let save = r.clone();
        let lstype = LinkSpecType(r.take_u8("link specifier type")?);
        let body = match r.take_u8_prefixed("link specifier") {
            Ok(b) => b,
            Err(e) => {
                *r = save;
                return Err(e);
            }
        };
        LinkSpec::from_type_and_body(lstype, body).inspect_err(|_| *r = save)
    }
}

impl Writeable for LinkSpec {
    fn write_onto<W: Writer + ?Sized>(&self, w: &mut W) -> Result<(), EncodeError> {
        if let LinkSpec::Unrecognized { lstype, body } = self {
            if lstype.is_known() {
                return Err(EncodeError::Unrepresentable {
                    what: "link specifier",
                    why: "an unrecognized specifier cannot use a known type",
                });
            }
            if body.len() > u8::MAX as usize {
                return Err(EncodeError::TooLong {
                    what: "link specifier",
                    len: body.len(),
                    max: u8::MAX as usize,
                });
            }
        }
        w.write_u8(self.lstype().0);
        // Cannot overflow: checked above for unknown types, fixed for known ones.
        w.write_u8((self.encoded_len() - 2) as u8);
        self.write_body(w)
    }
}

/// Decodes an `NSPEC`-prefixed list of link specifiers.
pub fn take_list(r: &mut Reader<'_>) -> Result<Vec<LinkSpec>, DecodeError> {
    let n = r.take_u8("NSPEC")?;
    let mut out = Vec::with_capacity(usize::from(n));
    for _ in 0..n {
        out.push(LinkSpec::take_from(r)?);
    }
    Ok(out)
}

/// Encodes an `NSPEC`-prefixed list of link specifiers (at most 255).
pub fn write_list<W: Writer + ?Sized>(w: &mut W, specs: &[LinkSpec]) -> Result<(), EncodeError> {
    let n = u8::try_from(specs.len()).map_err(|_| EncodeError::TooLong {
        what: "link specifier list",
        len: specs.len(),
        max: u8::MAX as usize,
    })?;
    w.write_u8(n);
    for s in specs {
        s.write_onto(w)?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn rt(spec: &LinkSpec, hex_str: &str) {
        let bytes = hex::decode(hex_str).unwrap();
        assert_eq!(spec.to_vec().unwrap(), bytes);
        assert_eq!(&LinkSpec::decode_exact(&bytes, "ls").unwrap(), spec);
    }

    #[test]
    fn known_types_round_trip() {
        rt(
            &LinkSpec::Ipv4("18.244.0.1:61681".parse().unwrap()),
            "000612f40001f0f1",
        );
        rt(
            &LinkSpec::Ipv6("[2002::f0:c51e]:4370".parse().unwrap()),
            "011220020000000000000000000000f0c51e1112",
        );
        rt(
            &LinkSpec::LegacyId(RsaIdentity(*b"anthropomorphization")),
            "0214616e7468726f706f6d6f727068697a6174696f6e",
        );
        rt(
            &LinkSpec::Ed25519Id(Ed25519Identity(*b"brownshoesdontmakeit/brownshoesd")),
            "032062726f776e73686f6573646f6e746d616b6569742f62726f776e73686f657364",
        );
        rt(
            &LinkSpec::Unrecognized {
                lstype: LinkSpecType(0xf0),
                body: b"upupdowndownleftrightleftrightba".to_vec(),
            },
            "f02075707570646f776e646f776e6c65667472696768746c65667472696768746261",
        );
    }

    #[test]
    fn wrong_lengths_are_errors() {
        let cases = [
            "000712f40001f0f1ff".to_string(),
            "000512f40001f0".to_string(),
            format!("0113{}", "78".repeat(19)),
            format!("0111{}", "78".repeat(17)),
            format!("0213{}", "61".repeat(19)),
            format!("0321{}", "62".repeat(33)),
            "0006 12f4".to_string(),
        ];
        for h in cases {
            let b = hex::decode(h.replace(' ', "")).unwrap();
            assert!(LinkSpec::decode_exact(&b, "ls").is_err(), "{h}");
        }
    }

    #[test]
    fn unrecognized_with_known_type_refused() {
        let s = LinkSpec::Unrecognized {
            lstype: LinkSpecType::IPV4,
            body: vec![0; 6],
        };
        assert!(s.to_vec().is_err());
    }

    #[test]
    fn list_and_order() {
        let mut v = vec![
            LinkSpec::Ipv6("[::1]:9".parse().unwrap()),
            LinkSpec::Ed25519Id(Ed25519Identity([3; 32])),
            LinkSpec::LegacyId(RsaIdentity([2; 20])),
            LinkSpec::Ipv4("1.2.3.4:5".parse().unwrap()),
        ];
        LinkSpec::sort_for_sending(&mut v);
        let types: Vec<u8> = v.iter().map(|s| s.lstype().0).collect();
        assert_eq!(types, [0, 2, 3, 1]);
        let mut w = Vec::new();
        write_list(&mut w, &v).unwrap();
        let mut r = Reader::new(&w);
        assert_eq!(take_list(&mut r).unwrap(), v);
        assert!(r.is_empty());
        // Running out of space in the specifiers (C tor test_cfmt_extend_cells).
        let mut p = vec![0u8; 498];
        p[..3].copy_from_slice(&[5, 0x0a, 0xff]);
        assert!(take_list(&mut Reader::new(&p)).is_err());
    }
}
