//! v3 onion addresses and the identity key they carry (rend-spec-v3 §6 "Encoding onion
//! addresses", §2.2.7 "Client-side validation of onion addresses").
//!
//! `address = base32(PUBKEY[32] | CHECKSUM[2] | VERSION[1]) + ".onion"`, 56 lower-case
//! characters before the suffix, with `CHECKSUM = SHA3-256(".onion checksum" | PUBKEY |
//! VERSION)[..2]` and `VERSION = 3`.
//!
//! Parsing follows C tor (`parse_extended_hostname`, `hs_address_is_valid`): either case is
//! accepted, the `.onion` suffix is optional, and a hostname `sub.<address>.onion` names the
//! service `<address>.onion` (the subdomain is ignored, as DNS would). The key must be a
//! canonical encoding of a curve point other than the identity, with no torsion component
//! (C tor `ed25519_validate_pubkey`), so that one service has exactly one address.
//!
//! `Display` shows the full address; code that logs it scrubs it through the crate's
//! safe-logging helpers. `Debug` shows only the last three characters, like Arti's redacted
//! form, so an address never leaks through `{:?}` by accident.
//!
//! Deliberately not here: v2 addresses (gone from C tor 0.4.6), `.exit` names.

use std::fmt;
use std::str::FromStr;

use curve25519_dalek::edwards::CompressedEdwardsY;
use curve25519_dalek::traits::IsIdentity as _;
use sha3::{Digest, Sha3_256};

/// The address version this crate speaks (rend-spec-v3 §6).
pub const ONION_VERSION: u8 = 3;
/// The suffix of every onion hostname.
pub const ONION_SUFFIX: &str = ".onion";
/// Length of the base32 part of a v3 address.
pub const ADDRESS_BASE32_LEN: usize = 56;
/// Length of the binary address `PUBKEY | CHECKSUM | VERSION`.
pub const ADDRESS_BINARY_LEN: usize = 35;
/// The string hashed before the key when computing the checksum.
const CHECKSUM_PREFIX: &[u8] = b".onion checksum";

/// Why a string is not a valid v3 onion address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// The address part is not 56 bytes long.
    #[error("onion address part is {0} bytes long, expected 56")]
    BadLength(usize),
    /// The address part has a character outside the base32 alphabet.
    #[error("onion address is not valid base32")]
    BadBase32,
    /// The version byte is not 3.
    #[error("unsupported onion address version {0}")]
    WrongVersion(u8),
    /// The checksum does not match the key.
    #[error("onion address checksum mismatch")]
    BadChecksum,
    /// The key is not a canonical encoding of a point on the curve.
    #[error("onion address key is not a valid ed25519 point")]
    InvalidPoint,
    /// The key is the identity element, or has a torsion component.
    #[error("onion address key has a torsion component or is the identity")]
    TorsionComponent,
    /// A hostname with a subdomain part had an empty label before the address
    /// (`.<address>.onion`), which C tor rejects.
    #[error("onion hostname has an empty subdomain")]
    EmptySubdomain,
    /// A hostname did not end in `.onion` (only [`HsId::parse_hostname`] requires it).
    #[error("hostname does not end in .onion")]
    NotOnion,
}

/// The identity of a v3 onion service: its validated Ed25519 identity public key
/// (`KP_hs_id`, rend-spec-v3 §1.9), the key an onion address encodes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HsId([u8; 32]);

impl HsId {
    /// Checks that `key` is a usable identity key (canonical point, not the identity, no
    /// torsion component) and wraps it.
    pub fn from_bytes(key: [u8; 32]) -> Result<Self, AddressError> {
        validate_point(&key)?;
        Ok(HsId(key))
    }

    /// The 32 key bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The two checksum bytes of this key's address.
    pub fn checksum(&self) -> [u8; 2] {
        checksum(&self.0, ONION_VERSION)
    }

    /// The 35-byte binary address `PUBKEY | CHECKSUM | VERSION`.
    pub fn to_binary(&self) -> [u8; ADDRESS_BINARY_LEN] {
        let mut out = [0u8; ADDRESS_BINARY_LEN];
        let (key, rest) = out.split_at_mut(32);
        key.copy_from_slice(&self.0);
        let [c0, c1] = self.checksum();
        rest.copy_from_slice(&[c0, c1, ONION_VERSION]);
        out
    }

    /// The 56 lower-case base32 characters of the address, without `.onion`.
    pub fn to_base32(&self) -> String {
        data_encoding::BASE32_NOPAD
            .encode(&self.to_binary())
            .to_ascii_lowercase()
    }

    /// The full address, `<56 characters>.onion`.
    pub fn to_onion_address(&self) -> String {
        let mut s = self.to_base32();
        s.push_str(ONION_SUFFIX);
        s
    }

    /// Parses the 56-character base32 part alone (either case, no suffix, no subdomain).
    pub fn from_base32(label: &str) -> Result<Self, AddressError> {
        let binary = decode_base32_label(label)?;
        Self::from_binary(&binary)
    }

    /// Parses a 35-byte binary address, checking version, checksum and key.
    pub fn from_binary(binary: &[u8; ADDRESS_BINARY_LEN]) -> Result<Self, AddressError> {
        let (key, checksum_got, version) = split_binary(binary);
        if version != ONION_VERSION {
            return Err(AddressError::WrongVersion(version));
        }
        if checksum(&key, version) != checksum_got {
            return Err(AddressError::BadChecksum);
        }
        Self::from_bytes(key)
    }

    /// Parses an onion hostname as C tor's `parse_extended_hostname` does: the name must end
    /// in `.onion` (either case); anything before the address label is a subdomain, returned
    /// as is. `sub.<address>.onion` → `(id, Some("sub"))`.
    pub fn parse_hostname(host: &str) -> Result<(HsId, Option<&str>), AddressError> {
        let rest = strip_suffix_ignore_case(host, ONION_SUFFIX).ok_or(AddressError::NotOnion)?;
        let (sub, label) = match rest.rsplit_once('.') {
            Some(("", _)) => return Err(AddressError::EmptySubdomain),
            Some((sub, label)) => (Some(sub), label),
            None => (None, rest),
        };
        Ok((HsId::from_base32(label)?, sub))
    }

    /// A `Display` form that shows only the last three characters of the address
    /// (`[…]sid.onion`); they carry 7 bits of the key.
    pub fn redacted(&self) -> Redacted<'_> {
        Redacted(self)
    }
}

impl fmt::Display for HsId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base32())?;
        f.write_str(ONION_SUFFIX)
    }
}

impl fmt::Debug for HsId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HsId({})", self.redacted())
    }
}

/// Parses `<address>`, `<address>.onion` or `sub.<address>.onion` (either case).
impl FromStr for HsId {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, AddressError> {
        if strip_suffix_ignore_case(s, ONION_SUFFIX).is_some() {
            HsId::parse_hostname(s).map(|(id, _)| id)
        } else {
            HsId::from_base32(s)
        }
    }
}

impl TryFrom<[u8; 32]> for HsId {
    type Error = AddressError;

    fn try_from(key: [u8; 32]) -> Result<Self, AddressError> {
        HsId::from_bytes(key)
    }
}

/// The redacted display form of an [`HsId`]; see [`HsId::redacted`].
pub struct Redacted<'a>(&'a HsId);

impl fmt::Display for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b32 = self.0.to_base32();
        let tail = b32.get(ADDRESS_BASE32_LEN - 3..).unwrap_or("");
        write!(f, "[…]{tail}{ONION_SUFFIX}")
    }
}

/// Decodes a base32 address label without checking its contents: the 35-byte binary
/// address. For tools that want to show why an address is bad; [`HsId::from_base32`] is
/// what everything else uses.
pub fn decode_base32_label(label: &str) -> Result<[u8; ADDRESS_BINARY_LEN], AddressError> {
    let bytes = label.as_bytes();
    if bytes.len() != ADDRESS_BASE32_LEN {
        return Err(AddressError::BadLength(bytes.len()));
    }
    let mut upper = [0u8; ADDRESS_BASE32_LEN];
    for (u, b) in upper.iter_mut().zip(bytes) {
        *u = b.to_ascii_uppercase();
    }
    let mut out = [0u8; ADDRESS_BINARY_LEN];
    // 56 characters are exactly 35 bytes: no padding and no spare trailing bits.
    match data_encoding::BASE32_NOPAD.decode_mut(&upper, &mut out) {
        Ok(ADDRESS_BINARY_LEN) => Ok(out),
        _ => Err(AddressError::BadBase32),
    }
}

/// `SHA3-256(".onion checksum" | PUBKEY | VERSION)[..2]`.
pub fn checksum(key: &[u8; 32], version: u8) -> [u8; 2] {
    let d = Sha3_256::new()
        .chain_update(CHECKSUM_PREFIX)
        .chain_update(key)
        .chain_update([version])
        .finalize();
    [d[0], d[1]]
}

/// Checks what C tor's `ed25519_validate_pubkey` checks, and canonicity: the bytes decode
/// to a curve point, re-encode to the same bytes, are not the identity, and `ℓ·A` is the
/// identity (no torsion component).
pub fn validate_point(key: &[u8; 32]) -> Result<(), AddressError> {
    let point = CompressedEdwardsY(*key)
        .decompress()
        .ok_or(AddressError::InvalidPoint)?;
    if point.compress().as_bytes() != key {
        return Err(AddressError::InvalidPoint);
    }
    if point.is_identity() || !point.is_torsion_free() {
        return Err(AddressError::TorsionComponent);
    }
    Ok(())
}

fn split_binary(b: &[u8; ADDRESS_BINARY_LEN]) -> ([u8; 32], [u8; 2], u8) {
    let mut key = [0u8; 32];
    key.copy_from_slice(&b[..32]);
    (key, [b[32], b[33]], b[34])
}

fn strip_suffix_ignore_case<'a>(s: &'a str, suffix: &str) -> Option<&'a str> {
    let cut = s.len().checked_sub(suffix.len())?;
    let (head, tail) = (s.get(..cut)?, s.get(cut..)?);
    tail.eq_ignore_ascii_case(suffix).then_some(head)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const HEX: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
    const B32: &str = "25njqamcweflpvkl73j4szahhihoc4xt3ktcgjnpaingr5yhkenl5sid";

    fn id() -> HsId {
        let mut k = [0u8; 32];
        hex::decode_to_slice(HEX, &mut k).unwrap();
        HsId::from_bytes(k).unwrap()
    }

    #[test]
    fn build_and_parse() {
        let id = id();
        assert_eq!(id.to_base32(), B32);
        assert_eq!(id.to_string(), format!("{B32}.onion"));
        for s in [
            B32.to_string(),
            format!("{B32}.onion"),
            format!("{}.ONION", B32.to_uppercase()),
            format!("www.{B32}.onion"),
            format!("a.b.{B32}.Onion"),
        ] {
            assert_eq!(s.parse::<HsId>(), Ok(id), "{s}");
        }
        assert_eq!(
            HsId::parse_hostname(&format!("www.{B32}.onion")),
            Ok((id, Some("www")))
        );
        assert_eq!(format!("{id:?}"), "HsId([…]sid.onion)");
    }

    #[test]
    fn errors() {
        use AddressError as E;
        let edit = |i: usize, c: char| {
            let mut s = B32.to_string();
            s.replace_range(i..i + 1, &c.to_string());
            s
        };
        assert_eq!("blah".parse::<HsId>(), Err(E::BadLength(4)));
        assert_eq!(
            format!("{}?", &B32[..55]).parse::<HsId>(),
            Err(E::BadBase32)
        );
        assert_eq!(edit(55, 'e').parse::<HsId>(), Err(E::WrongVersion(4)));
        assert_eq!(edit(53, 'x').parse::<HsId>(), Err(E::BadChecksum));
        assert_eq!(
            HsId::parse_hostname(&format!(".{B32}.onion")),
            Err(E::EmptySubdomain)
        );
        assert_eq!(HsId::parse_hostname(B32), Err(E::NotOnion));
        assert_eq!("é".repeat(28).parse::<HsId>(), Err(E::BadBase32));
        assert_eq!("".parse::<HsId>(), Err(E::BadLength(0)));
        assert_eq!(".onion".parse::<HsId>(), Err(E::BadLength(0)));
    }

    #[test]
    fn bad_points() {
        use AddressError as E;
        // The identity element.
        let mut ident = [0u8; 32];
        ident[0] = 1;
        assert_eq!(HsId::from_bytes(ident), Err(E::TorsionComponent));
        // A point of order 2: (0, -1).
        let mut minus_one = [0xffu8; 32];
        minus_one[0] = 0xec;
        minus_one[31] = 0x7f;
        assert_eq!(HsId::from_bytes(minus_one), Err(E::TorsionComponent));
        // A good key plus a point of order 8 has a torsion component.
        let good = CompressedEdwardsY(*id().as_bytes()).decompress().unwrap();
        let t8 = curve25519_dalek::constants::EIGHT_TORSION[1];
        let bad = (good + t8).compress().to_bytes();
        assert_eq!(HsId::from_bytes(bad), Err(E::TorsionComponent));
        // Non-canonical: y = p + 1 encodes the identity's y non-canonically.
        let mut noncanon = [0xffu8; 32];
        noncanon[0] = 0xee;
        noncanon[31] = 0x7f;
        assert_eq!(HsId::from_bytes(noncanon), Err(E::InvalidPoint));
    }

    mod prop {
        use super::*;
        use crate::hs::blind::IdentitySecretKey;
        use proptest::prelude::*;

        fn any_id() -> impl Strategy<Value = HsId> {
            any::<[u8; 32]>()
                .prop_map(|seed| IdentitySecretKey::from_seed(&seed).public_key().unwrap())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(48))]
            #[test]
            fn round_trip(id in any_id(), sub in "[a-z0-9-]{1,10}(\\.[a-z0-9-]{1,10}){0,2}") {
                let s = id.to_string();
                prop_assert_eq!(s.len(), 62);
                prop_assert_eq!(s.parse::<HsId>(), Ok(id));
                prop_assert_eq!(s.to_uppercase().parse::<HsId>(), Ok(id));
                prop_assert_eq!(id.to_base32().parse::<HsId>(), Ok(id));
                prop_assert_eq!(HsId::from_binary(&id.to_binary()), Ok(id));
                let host = format!("{sub}.{s}");
                prop_assert_eq!(HsId::parse_hostname(&host), Ok((id, Some(sub.as_str()))));
            }

            #[test]
            fn never_panics(s in ".{0,80}") {
                if let Ok(id) = s.parse::<HsId>() {
                    prop_assert_eq!(id.to_string().parse::<HsId>(), Ok(id));
                }
                let _ = HsId::parse_hostname(&s);
            }

            #[test]
            fn never_panics_near_valid(s in "[a-z2-7A-Z0-9?.]{50,62}(\\.onion)?") {
                if let Ok(id) = s.parse::<HsId>() {
                    prop_assert_eq!(id.to_string().parse::<HsId>(), Ok(id));
                }
            }

            #[test]
            fn arbitrary_keys(key in any::<[u8; 32]>(), bin in any::<[u8; 35]>()) {
                if let Ok(id) = HsId::from_bytes(key) {
                    prop_assert_eq!(id.to_string().parse::<HsId>(), Ok(id));
                }
                let _ = HsId::from_binary(&bin);
            }
        }
    }
}
