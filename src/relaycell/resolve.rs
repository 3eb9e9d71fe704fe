//! Remote hostname lookup: RESOLVE and RESOLVED (tor-spec §6.4).

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use bytes::Bytes;

use super::cmd::RelayCmd;
use super::msg::Body;
use crate::wire::{DecodeError, EncodeError, Reader, Writer};

/// RESOLVE: look up a hostname, or (reverse lookup) an `in-addr.arpa` / `ip6.arpa` name
/// (tor-spec §6.4). Wire form: the name, then NUL.
///
/// Decoding takes the bytes up to the first NUL; like C tor (`connection_exit_begin_resolve`),
/// it also accepts a body with no NUL, taking all of it. ASCII only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolve {
    /// The name to look up.
    pub query: String,
}

impl Resolve {
    /// A forward lookup of `hostname`.
    pub fn new(hostname: impl Into<String>) -> Self {
        Resolve {
            query: hostname.into(),
        }
    }

    /// A reverse lookup of `addr`: `d.c.b.a.in-addr.arpa`, or the nibble form under
    /// `ip6.arpa` for IPv6.
    pub fn reverse(addr: IpAddr) -> Self {
        let mut q = String::new();
        match addr {
            IpAddr::V4(a) => {
                for o in a.octets().iter().rev() {
                    let _ = write!(q, "{o}.");
                }
                q.push_str("in-addr.arpa");
            }
            IpAddr::V6(a) => {
                for o in a.octets().iter().rev() {
                    let _ = write!(q, "{:x}.{:x}.", o & 0x0f, o >> 4);
                }
                q.push_str("ip6.arpa");
            }
        }
        Resolve { query: q }
    }
}

impl Body for Resolve {
    const CMD: RelayCmd = RelayCmd::RESOLVE;

    fn decode_body(body: &Bytes) -> Result<Self, DecodeError> {
        let name = match body.iter().position(|&b| b == 0) {
            Some(i) => body.get(..i).unwrap_or_default(),
            None => &body[..],
        };
        if !name.is_ascii() {
            return Err(DecodeError::invalid("RESOLVE name", "not ASCII"));
        }
        let query = String::from_utf8(name.to_vec())
            .map_err(|_| DecodeError::invalid("RESOLVE name", "not ASCII"))?;
        Ok(Resolve { query })
    }

    fn encode_body<W: Writer + ?Sized>(&self, w: &mut W) -> Result<(), EncodeError> {
        if !self.query.is_ascii() || self.query.contains('\0') {
            return Err(EncodeError::Unrepresentable {
                what: "RESOLVE name",
                why: "must be ASCII without NUL",
            });
        }
        w.write_all(self.query.as_bytes());
        w.write_u8(0);
        Ok(())
    }
}

/// One answer of a RESOLVED message (tor-spec §6.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolvedVal {
    /// Type 0x00: a hostname (not NUL-terminated on the wire; never empty).
    Hostname(Vec<u8>),
    /// Type 0x04: an IPv4 address.
    Ipv4(Ipv4Addr),
    /// Type 0x06: an IPv6 address.
    Ipv6(Ipv6Addr),
    /// Type 0xF0: a transient error; the value is meaningless text (kept for round trips).
    TransientError(Vec<u8>),
    /// Type 0xF1: a non-transient error; the value is meaningless text.
    NontransientError(Vec<u8>),
    /// Any other type, kept verbatim.
    Unrecognized {
        /// The answer type.
        ty: u8,
        /// The value.
        value: Vec<u8>,
    },
}

/// Answer types (C tor `or.h` `RESOLVED_TYPE_*`).
const T_HOSTNAME: u8 = 0x00;
const T_IPV4: u8 = 0x04;
const T_IPV6: u8 = 0x06;
const T_ERR_TRANSIENT: u8 = 0xF0;
const T_ERR: u8 = 0xF1;

impl ResolvedVal {
    fn ty(&self) -> u8 {
        match self {
            ResolvedVal::Hostname(_) => T_HOSTNAME,
            ResolvedVal::Ipv4(_) => T_IPV4,
            ResolvedVal::Ipv6(_) => T_IPV6,
            ResolvedVal::TransientError(_) => T_ERR_TRANSIENT,
            ResolvedVal::NontransientError(_) => T_ERR,
            ResolvedVal::Unrecognized { ty, .. } => *ty,
        }
    }

    fn value(&self) -> Vec<u8> {
        match self {
            ResolvedVal::Hostname(v)
            | ResolvedVal::TransientError(v)
            | ResolvedVal::NontransientError(v)
            | ResolvedVal::Unrecognized { value: v, .. } => v.clone(),
            ResolvedVal::Ipv4(a) => a.octets().to_vec(),
            ResolvedVal::Ipv6(a) => a.octets().to_vec(),
        }
    }

    /// True for either error type.
    pub fn is_error(&self) -> bool {
        matches!(
            self,
            ResolvedVal::TransientError(_) | ResolvedVal::NontransientError(_)
        )
    }
}

/// RESOLVED: the answers to a RESOLVE (tor-spec §6.4). Each answer is
/// `TYPE u8 · LEN u8 · VALUE[LEN] · TTL u32`; the body is nothing but answers.
///
/// Like C tor's `resolved_cell_parse`, a hostname answer must not be empty and address
/// answers must have their exact lengths; unlike it, unknown answer types are kept.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Resolved {
    /// The answers with their TTLs in seconds, in wire order.
    pub answers: Vec<(ResolvedVal, u32)>,
}

impl Body for Resolved {
    const CMD: RelayCmd = RelayCmd::RESOLVED;

    fn decode_body(body: &Bytes) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let mut answers = Vec::new();
        while !r.is_empty() {
            let ty = r.take_u8("RESOLVED answer type")?;
            let v = r.take_u8_prefixed("RESOLVED answer")?;
            let val =
                match ty {
                    T_HOSTNAME if v.is_empty() => {
                        return Err(DecodeError::invalid("RESOLVED answer", "empty hostname"))
                    }
                    T_HOSTNAME => ResolvedVal::Hostname(v.to_vec()),
                    T_IPV4 => {
                        ResolvedVal::Ipv4(Ipv4Addr::from(<[u8; 4]>::try_from(v).map_err(|_| {
                            DecodeError::invalid("RESOLVED answer", "IPv4 answer not 4 bytes")
                        })?))
                    }
                    T_IPV6 => ResolvedVal::Ipv6(Ipv6Addr::from(<[u8; 16]>::try_from(v).map_err(
                        |_| DecodeError::invalid("RESOLVED answer", "IPv6 answer not 16 bytes"),
                    )?)),
                    T_ERR_TRANSIENT => ResolvedVal::TransientError(v.to_vec()),
                    T_ERR => ResolvedVal::NontransientError(v.to_vec()),
                    _ => ResolvedVal::Unrecognized {
                        ty,
                        value: v.to_vec(),
                    },
                };
            let ttl = r.take_u32("RESOLVED TTL")?;
            answers.push((val, ttl));
        }
        Ok(Resolved { answers })
    }

    fn encode_body<W: Writer + ?Sized>(&self, w: &mut W) -> Result<(), EncodeError> {
        for (val, ttl) in &self.answers {
            let ty = val.ty();
            let value = val.value();
            let bad_len = match val {
                ResolvedVal::Hostname(v) => v.is_empty(),
                ResolvedVal::Unrecognized { ty, .. } => {
                    matches!(*ty, T_HOSTNAME | T_IPV4 | T_IPV6 | T_ERR_TRANSIENT | T_ERR)
                }
                _ => false,
            };
            if bad_len {
                return Err(EncodeError::Unrepresentable {
                    what: "RESOLVED answer",
                    why: "empty hostname, or unrecognized answer with a known type",
                });
            }
            w.write_u8(ty);
            w.write_u8_prefixed("RESOLVED answer", &value)?;
            w.write_u32(*ttl);
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reverse_names() {
        assert_eq!(
            Resolve::reverse("127.0.0.1".parse().unwrap()).query,
            "1.0.0.127.in-addr.arpa"
        );
        assert_eq!(
            Resolve::reverse("2001::".parse().unwrap()).query,
            "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.2.ip6.arpa"
        );
    }
}
