//! Link-handshake channel messages: VERSIONS, CERTS, AUTH_CHALLENGE, AUTHENTICATE, NETINFO
//! and AUTHORIZE (tor-spec §4 "Negotiating and initializing channels"; brief §2.3–§2.5).
//!
//! Parsing follows C tor 0.4.9 (`channeltls.c` and the trunnel definitions
//! `link_handshake.trunnel`, `netinfo.trunnel`):
//!
//! - VERSIONS with an odd body length is refused (C tor closes the connection).
//! - CERTS, AUTH_CHALLENGE, AUTHENTICATE: trailing bytes after the declared fields are
//!   ignored; a second certificate of a type C tor understands (1–7) is refused.
//! - NETINFO: an address of type 4 or 6 with the wrong length makes the whole cell invalid
//!   (the trunnel parser fails); other address types are skipped in the `MYADDR` list, but an
//!   unknown type in `OTHERADDR` is refused, as C tor closes the connection for it
//!   (`tor_addr_from_netinfo_addr` fails). Trailing bytes are ignored.
//!
//! Deliberately not here: what the certificates contain (`crate::cert`), the AUTH0003
//! authenticator's fields and signature, and the handshake state machine.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use bytes::Bytes;

use super::msg::ChanMsgBody;
use super::ChanCmd;
use crate::wire::{DecodeError, EncodeError, Reader, Writer};

/// VERSIONS: the link protocol versions a party supports (tor-spec §4.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Versions {
    /// The versions, in the order sent.
    pub versions: Vec<u16>,
}

impl Versions {
    /// The highest version present both here and in `ours`.
    pub fn best_shared(&self, ours: &[u16]) -> Option<u16> {
        self.versions
            .iter()
            .copied()
            .filter(|v| ours.contains(v))
            .max()
    }
}

impl ChanMsgBody for Versions {
    const CMD: ChanCmd = ChanCmd::VERSIONS;
    fn decode_body(body: &[u8]) -> Result<Self, DecodeError> {
        if !body.len().is_multiple_of(2) {
            return Err(DecodeError::invalid("VERSIONS", "odd body length"));
        }
        let mut r = Reader::new(body);
        let mut versions = Vec::with_capacity(body.len() / 2);
        while !r.is_empty() {
            versions.push(r.take_u16("VERSIONS version")?);
        }
        Ok(Versions { versions })
    }
    fn encode_body<W: Writer + ?Sized>(&self, w: &mut W) -> Result<(), EncodeError> {
        if self.versions.len() > (u16::MAX / 2) as usize {
            return Err(EncodeError::TooLong {
                what: "VERSIONS list",
                len: self.versions.len(),
                max: (u16::MAX / 2) as usize,
            });
        }
        for v in &self.versions {
            w.write_u16(*v);
        }
        Ok(())
    }
}

crate::open_enum! {
    /// The type of one certificate in a CERTS cell (tor-spec §4.2; brief §2.3).
    pub struct CertType(u8) {
        /// TLS link certificate signed by the RSA-1024 identity (X.509).
        TLS_LINK = 1,
        /// Self-signed RSA-1024 identity certificate (X.509).
        RSA_ID = 2,
        /// RSA-1024 AUTHENTICATE link certificate (X.509; obsolete).
        RSA_AUTH = 3,
        /// Ed25519 signing key certified by the Ed25519 identity.
        ED_ID_SIGN = 4,
        /// TLS certificate digest certified by the signing key.
        ED_SIGN_LINK = 5,
        /// Ed25519 link-authentication key certified by the signing key.
        ED_SIGN_AUTH = 6,
        /// RSA → Ed25519 identity cross-certificate.
        RSA_ED_CROSSCERT = 7,
    }
}

/// One certificate of a CERTS cell: its type and its undecoded body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertEntry {
    /// The certificate type.
    pub cert_type: CertType,
    /// The encoded certificate.
    pub body: Vec<u8>,
}

/// CERTS: `N u8`, then N × `{CertType u8, CertLen u16, Cert}` (tor-spec §4.2; brief §2.3).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Certs {
    /// The certificates, in the order sent.
    pub certs: Vec<CertEntry>,
}

impl Certs {
    /// The body of the certificate of type `t`, if present.
    pub fn get(&self, t: CertType) -> Option<&[u8]> {
        self.certs
            .iter()
            .find(|c| c.cert_type == t)
            .map(|c| c.body.as_slice())
    }

    /// Fails if a type C tor understands (1–7) appears twice.
    fn check_duplicates(&self) -> Result<(), &'static str> {
        let mut seen = [false; 8];
        for c in &self.certs {
            if let Some(slot) = seen.get_mut(c.cert_type.0 as usize) {
                if c.cert_type.0 != 0 {
                    if *slot {
                        return Err("duplicate certificate type");
                    }
                    *slot = true;
                }
            }
        }
        Ok(())
    }
}

impl ChanMsgBody for Certs {
    const CMD: ChanCmd = ChanCmd::CERTS;
    fn decode_body(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let n = r.take_u8("CERTS N")?;
        let mut certs = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let cert_type = CertType(r.take_u8("CERTS CertType")?);
            let body = r.take_u16_prefixed("CERTS Cert")?.to_vec();
            certs.push(CertEntry { cert_type, body });
        }
        let out = Certs { certs };
        out.check_duplicates()
            .map_err(|why| DecodeError::invalid("CERTS", why))?;
        Ok(out)
    }
    fn encode_body<W: Writer + ?Sized>(&self, w: &mut W) -> Result<(), EncodeError> {
        let n = u8::try_from(self.certs.len()).map_err(|_| EncodeError::TooLong {
            what: "CERTS list",
            len: self.certs.len(),
            max: u8::MAX as usize,
        })?;
        self.check_duplicates()
            .map_err(|why| EncodeError::Unrepresentable { what: "CERTS", why })?;
        w.write_u8(n);
        for c in &self.certs {
            w.write_u8(c.cert_type.0);
            w.write_u16_prefixed("CERTS Cert", &c.body)?;
        }
        Ok(())
    }
}

/// AUTH_CHALLENGE: `Challenge[32]` · `N_Methods u16` · `Methods u16[N]` (tor-spec §4.3;
/// brief §2.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthChallenge {
    /// The random challenge.
    pub challenge: [u8; 32],
    /// The authentication methods the responder accepts (C tor 0.4.9: only 3).
    pub methods: Vec<u16>,
}

impl ChanMsgBody for AuthChallenge {
    const CMD: ChanCmd = ChanCmd::AUTH_CHALLENGE;
    fn decode_body(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let challenge = r.take_array("AUTH_CHALLENGE challenge")?;
        let n = r.take_u16("AUTH_CHALLENGE N_Methods")? as usize;
        // Check the length before allocating.
        let mut m = Reader::new(r.take(n * 2, "AUTH_CHALLENGE methods")?);
        let mut methods = Vec::with_capacity(n);
        while !m.is_empty() {
            methods.push(m.take_u16("AUTH_CHALLENGE method")?);
        }
        Ok(AuthChallenge { challenge, methods })
    }
    fn encode_body<W: Writer + ?Sized>(&self, w: &mut W) -> Result<(), EncodeError> {
        let n = u16::try_from(self.methods.len()).map_err(|_| EncodeError::TooLong {
            what: "AUTH_CHALLENGE methods",
            len: self.methods.len(),
            max: u16::MAX as usize,
        })?;
        w.write_all(&self.challenge);
        w.write_u16(n);
        for m in &self.methods {
            w.write_u16(*m);
        }
        Ok(())
    }
}

/// AUTHENTICATE: `AuthType u16` · `AuthLen u16` · `Authentication[AuthLen]` (tor-spec §4.4;
/// brief §2.4). The authenticator is kept opaque here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticate {
    /// The authentication method (3 = Ed25519-SHA256-RFC5705).
    pub auth_type: u16,
    /// The authenticator (352 bytes for method 3).
    pub auth: Vec<u8>,
}

impl ChanMsgBody for Authenticate {
    const CMD: ChanCmd = ChanCmd::AUTHENTICATE;
    fn decode_body(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let auth_type = r.take_u16("AUTHENTICATE AuthType")?;
        let auth = r.take_u16_prefixed("AUTHENTICATE Authentication")?.to_vec();
        Ok(Authenticate { auth_type, auth })
    }
    fn encode_body<W: Writer + ?Sized>(&self, w: &mut W) -> Result<(), EncodeError> {
        w.write_u16(self.auth_type);
        w.write_u16_prefixed("AUTHENTICATE Authentication", &self.auth)
    }
}

/// NETINFO address type for IPv4.
const ATYPE_IPV4: u8 = 4;
/// NETINFO address type for IPv6.
const ATYPE_IPV6: u8 = 6;

/// NETINFO: `TIME u32` · `OTHERADDR` · `NMYADDR u8` · `MYADDR`×N, each address
/// `{ATYPE u8, ALEN u8, AVAL}` (tor-spec §4.5; brief §2.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Netinfo {
    /// Seconds since the epoch when sent (0 from clients).
    pub timestamp: u32,
    /// The sender's view of the receiver's address (`0.0.0.0` if unknown).
    pub other_addr: IpAddr,
    /// The sender's own addresses (empty from clients). Unknown types are skipped on decode.
    pub my_addrs: Vec<IpAddr>,
}

impl Netinfo {
    /// The NETINFO a client sends: time 0, the relay's address, no addresses of its own.
    pub fn from_client(other_addr: IpAddr) -> Self {
        Netinfo {
            timestamp: 0,
            other_addr,
            my_addrs: Vec::new(),
        }
    }
}

/// Takes one NETINFO address: `Ok(Some)` for IPv4/IPv6, `Ok(None)` for another type, an
/// error for a truncated address or an IPv4/IPv6 address of the wrong length.
fn take_netinfo_addr(r: &mut Reader<'_>) -> Result<Option<IpAddr>, DecodeError> {
    let atype = r.take_u8("NETINFO ATYPE")?;
    let aval = r.take_u8_prefixed("NETINFO AVAL")?;
    match atype {
        ATYPE_IPV4 => {
            let a: [u8; 4] = aval
                .try_into()
                .map_err(|_| DecodeError::invalid("NETINFO IPv4 address", "ALEN is not 4"))?;
            Ok(Some(IpAddr::V4(Ipv4Addr::from(a))))
        }
        ATYPE_IPV6 => {
            let a: [u8; 16] = aval
                .try_into()
                .map_err(|_| DecodeError::invalid("NETINFO IPv6 address", "ALEN is not 16"))?;
            Ok(Some(IpAddr::V6(Ipv6Addr::from(a))))
        }
        _ => Ok(None),
    }
}

/// Appends one NETINFO address.
fn write_netinfo_addr<W: Writer + ?Sized>(w: &mut W, a: &IpAddr) {
    match a {
        IpAddr::V4(v4) => {
            w.write_u8(ATYPE_IPV4);
            w.write_u8(4);
            w.write_all(&v4.octets());
        }
        IpAddr::V6(v6) => {
            w.write_u8(ATYPE_IPV6);
            w.write_u8(16);
            w.write_all(&v6.octets());
        }
    }
}

impl ChanMsgBody for Netinfo {
    const CMD: ChanCmd = ChanCmd::NETINFO;
    fn decode_body(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let timestamp = r.take_u32("NETINFO TIME")?;
        let other_addr = take_netinfo_addr(&mut r)?.ok_or(DecodeError::invalid(
            "NETINFO OTHERADDR",
            "not an IPv4 or IPv6 address",
        ))?;
        let n = r.take_u8("NETINFO NMYADDR")?;
        let mut my_addrs = Vec::with_capacity(n as usize);
        for _ in 0..n {
            if let Some(a) = take_netinfo_addr(&mut r)? {
                my_addrs.push(a);
            }
        }
        Ok(Netinfo {
            timestamp,
            other_addr,
            my_addrs,
        })
    }
    fn encode_body<W: Writer + ?Sized>(&self, w: &mut W) -> Result<(), EncodeError> {
        let n = u8::try_from(self.my_addrs.len()).map_err(|_| EncodeError::TooLong {
            what: "NETINFO MYADDR list",
            len: self.my_addrs.len(),
            max: u8::MAX as usize,
        })?;
        w.write_u32(self.timestamp);
        write_netinfo_addr(w, &self.other_addr);
        w.write_u8(n);
        for a in &self.my_addrs {
            write_netinfo_addr(w, a);
        }
        Ok(())
    }
}

/// AUTHORIZE: reserved, never used; C tor ignores it. Kept opaque.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Authorize {
    /// The body as received.
    pub body: Bytes,
}

impl ChanMsgBody for Authorize {
    const CMD: ChanCmd = ChanCmd::AUTHORIZE;
    fn decode_body(body: &[u8]) -> Result<Self, DecodeError> {
        Ok(Authorize {
            body: Bytes::copy_from_slice(body),
        })
    }
    fn encode_body<W: Writer + ?Sized>(&self, w: &mut W) -> Result<(), EncodeError> {
        w.write_all(&self.body);
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn versions_odd_length_refused() {
        assert!(Versions::decode_body(&[0, 4, 0]).is_err());
        let v = Versions::decode_body(&[0, 4, 0, 5]).unwrap();
        assert_eq!(v.best_shared(&[3, 4, 5]), Some(5));
        assert_eq!(v.best_shared(&[3]), None);
    }

    #[test]
    fn certs_duplicates() {
        // Two type-4 certificates: refused (C tor "Duplicate Ed25519 certificate").
        let dup = [2, 4, 0, 1, 0xaa, 4, 0, 1, 0xbb];
        assert!(Certs::decode_body(&dup).is_err());
        // Two certificates of an unknown type: kept, as C tor skips them.
        let unk = [2, 9, 0, 1, 0xaa, 9, 0, 1, 0xbb, 0xff];
        let c = Certs::decode_body(&unk).unwrap();
        assert_eq!(c.certs.len(), 2);
        assert_eq!(c.get(CertType(9)), Some(&[0xaa][..]));
        // C tor test_link_handshake "truncated_2" / "truncated_3".
        assert!(Certs::decode_body(&[1, 1, 0, 5]).is_err());
        assert!(Certs::decode_body(b"\x01\x01\x00\x05abc").is_err());
        // "It had no body".
        assert!(Certs::decode_body(&[]).is_err());
    }

    #[test]
    fn netinfo_address_rules() {
        // OTHERADDR of an unknown type: refused.
        assert!(Netinfo::decode_body(&[0, 0, 0, 0, 9, 0, 0]).is_err());
        // MYADDR of an unknown type: skipped.
        let n = Netinfo::decode_body(&[0, 0, 0, 1, 4, 4, 1, 2, 3, 4, 1, 9, 1, 0xff]).unwrap();
        assert_eq!(n.timestamp, 1);
        assert!(n.my_addrs.is_empty());
        // IPv4 with ALEN 6: refused.
        assert!(Netinfo::decode_body(&[0, 0, 0, 0, 4, 6, 1, 2, 3, 4, 5, 6, 0]).is_err());
    }
}
