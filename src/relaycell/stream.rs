//! Stream messages: BEGIN, DATA, END, CONNECTED, BEGIN_DIR (tor-spec §6.2, §6.2.1, §6.3).
//!
//! Decoders accept what C tor 0.4.9 accepts (its `begin_cell_parse`, `connected_cell_parse`
//! and END handling) where that is harmless, and ignore bytes after the fields a message
//! defines, as C tor does; encoders write only the canonical form. RESOLVE/RESOLVED are in
//! [`super::resolve`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use bytes::Bytes;

use super::cmd::RelayCmd;
use super::framing::MAX_DATA_LEN;
use super::msg::Body;
use crate::wire::{DecodeError, EncodeError, Reader, Writer};

/// The flags word of a BEGIN message (tor-spec §6.2). Bit 1 is the least significant bit.
/// Unknown bits are kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct BeginFlags(pub u32);

impl BeginFlags {
    /// No flags: what C tor omits from the wire.
    pub const NONE: BeginFlags = BeginFlags(0);
    /// Bit 1: we can use IPv6 addresses.
    pub const IPV6_OKAY: BeginFlags = BeginFlags(0x01);
    /// Bit 2: we do not want IPv4 addresses.
    pub const IPV4_NOT_OKAY: BeginFlags = BeginFlags(0x02);
    /// Bit 3: prefer IPv6 when both are available.
    pub const IPV6_PREFERRED: BeginFlags = BeginFlags(0x04);
    /// Bit 4, **our extension**: open a datagram stream (`docs/datagram-spec.md`). Only sent
    /// on rendezvous circuits to our own onion services.
    pub const DATAGRAM: BeginFlags = BeginFlags(0x08);

    /// True if every bit of `other` is set.
    pub fn contains(self, other: BeginFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// True if no bit is set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl std::ops::BitOr for BeginFlags {
    type Output = BeginFlags;
    fn bitor(self, rhs: BeginFlags) -> BeginFlags {
        BeginFlags(self.0 | rhs.0)
    }
}

impl std::ops::BitOrAssign for BeginFlags {
    fn bitor_assign(&mut self, rhs: BeginFlags) {
        self.0 |= rhs.0;
    }
}

/// BEGIN: open a stream to `host:port` (tor-spec §6.2).
///
/// Wire form `ADDRPORT NUL [FLAGS u32]`, where ADDRPORT is `host:port`, `[ipv6]:port`, or, to
/// an onion service, `:port` with an empty host (C tor `connection_ap_handshake_send_begin`).
/// FLAGS is omitted when zero, as C tor does; on decode, fewer than four bytes after the NUL
/// mean "no flags", and anything after the flags is ignored (C tor `begin_cell_parse`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Begin {
    /// The host: a hostname, a dotted-quad IPv4 address, an IPv6 address *without*
    /// brackets, or empty for an onion service. ASCII only.
    pub host: String,
    /// The port, 1–65535.
    pub port: u16,
    /// The flags.
    pub flags: BeginFlags,
}

impl Begin {
    /// A BEGIN to `host:port` with `flags`.
    pub fn new(host: impl Into<String>, port: u16, flags: BeginFlags) -> Self {
        Begin {
            host: host.into(),
            port,
            flags,
        }
    }

    /// A BEGIN to an onion service's virtual `port` (empty host), as C tor sends it.
    pub fn onion_service(port: u16, flags: BeginFlags) -> Self {
        Begin::new("", port, flags)
    }
}

/// Parses a decimal port: ASCII digits only, 1–65535.
fn parse_port(s: &[u8]) -> Result<u16, DecodeError> {
    const WHAT: &str = "BEGIN port";
    if s.is_empty() || s.len() > 5 || !s.iter().all(u8::is_ascii_digit) {
        return Err(DecodeError::invalid(WHAT, "not a decimal number"));
    }
    let v = s.iter().fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
    match u16::try_from(v) {
        Ok(p) if p != 0 => Ok(p),
        _ => Err(DecodeError::invalid(WHAT, "out of range 1-65535")),
    }
}

impl Body for Begin {
    const CMD: RelayCmd = RelayCmd::BEGIN;

    fn decode_body(body: &Bytes) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let addrport = r
            .take_until_nul("BEGIN address")
            .map_err(|_| DecodeError::invalid("BEGIN address", "no terminating NUL"))?;
        let (host, port) = if let Some(rest) = addrport.strip_prefix(b"[") {
            let close = rest
                .iter()
                .position(|&b| b == b']')
                .ok_or(DecodeError::invalid("BEGIN address", "unclosed '['"))?;
            let (h, after) = rest.split_at(close);
            // `after` starts with ']'.
            match after.get(1..).and_then(|a| a.strip_prefix(b":")) {
                Some(p) => (h, p),
                None => return Err(DecodeError::invalid("BEGIN address", "missing port")),
            }
        } else {
            let colon = addrport
                .iter()
                .rposition(|&b| b == b':')
                .ok_or(DecodeError::invalid("BEGIN address", "missing port"))?;
            let (h, p) = addrport.split_at(colon);
            if h.contains(&b':') {
                return Err(DecodeError::invalid(
                    "BEGIN address",
                    "IPv6 address without brackets",
                ));
            }
            (h, p.get(1..).unwrap_or_default())
        };
        if !host.is_ascii() || host.contains(&b'[') || host.contains(&b']') {
            return Err(DecodeError::invalid("BEGIN address", "not an ASCII host"));
        }
        let host = String::from_utf8(host.to_vec())
            .map_err(|_| DecodeError::invalid("BEGIN address", "not an ASCII host"))?;
        let port = parse_port(port)?;
        let flags = if r.remaining() >= 4 {
            BeginFlags(r.take_u32("BEGIN flags")?)
        } else {
            BeginFlags::NONE
        };
        Ok(Begin { host, port, flags })
    }

    fn encode_body<W: Writer + ?Sized>(&self, w: &mut W) -> Result<(), EncodeError> {
        const WHAT: &str = "BEGIN address";
        if !self.host.is_ascii() || self.host.bytes().any(|b| b == 0 || b == b'[' || b == b']') {
            return Err(EncodeError::Unrepresentable {
                what: WHAT,
                why: "host must be ASCII without NUL or brackets",
            });
        }
        if self.port == 0 {
            return Err(EncodeError::Unrepresentable {
                what: WHAT,
                why: "port 0",
            });
        }
        if self.host.contains(':') {
            w.write_u8(b'[');
            w.write_all(self.host.as_bytes());
            w.write_u8(b']');
        } else {
            w.write_all(self.host.as_bytes());
        }
        w.write_all(format!(":{}", self.port).as_bytes());
        w.write_u8(0);
        if !self.flags.is_empty() {
            w.write_u32(self.flags.0);
        }
        Ok(())
    }
}

/// DATA: stream bytes (tor-spec §6.2). Never empty; at most 498 bytes in relay cell format v0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Data {
    body: Bytes,
}

impl Data {
    /// Wraps `body`, which must hold 1–498 bytes.
    pub fn new(body: impl Into<Bytes>) -> Result<Self, EncodeError> {
        let body = body.into();
        if body.is_empty() {
            return Err(EncodeError::Unrepresentable {
                what: "DATA",
                why: "empty DATA message",
            });
        }
        if body.len() > MAX_DATA_LEN {
            return Err(EncodeError::TooLong {
                what: "DATA",
                len: body.len(),
                max: MAX_DATA_LEN,
            });
        }
        Ok(Data { body })
    }

    /// The payload.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The payload, by value.
    pub fn into_body(self) -> Bytes {
        self.body
    }
}

impl Body for Data {
    const CMD: RelayCmd = RelayCmd::DATA;

    fn decode_body(body: &Bytes) -> Result<Self, DecodeError> {
        if body.is_empty() {
            return Err(DecodeError::invalid("DATA", "empty DATA message"));
        }
        if body.len() > MAX_DATA_LEN {
            return Err(DecodeError::invalid("DATA", "longer than 498 bytes"));
        }
        Ok(Data { body: body.clone() })
    }

    fn encode_body<W: Writer + ?Sized>(&self, w: &mut W) -> Result<(), EncodeError> {
        w.write_all(&self.body);
        Ok(())
    }
}

crate::open_enum! {
    /// Why a stream is closing: the reason byte of END (tor-spec §6.3). Receivers must
    /// accept values not listed.
    pub struct EndReason(u8) {
        /// Catch-all; the only reason a stream's originator should send.
        MISC = 1,
        /// Could not look up the hostname.
        RESOLVEFAILED = 2,
        /// The remote host refused the connection.
        CONNECTREFUSED = 3,
        /// The exit policy refuses the host or port (END may carry the address and a TTL).
        EXITPOLICY = 4,
        /// The circuit is being destroyed.
        DESTROY = 5,
        /// The connection was closed normally (also: an onion service's unknown port).
        DONE = 6,
        /// Connection timed out.
        TIMEOUT = 7,
        /// Routing error while contacting the destination.
        NOROUTE = 8,
        /// The relay is hibernating.
        HIBERNATING = 9,
        /// Internal error at the relay.
        INTERNAL = 10,
        /// The relay has no resources for this request.
        RESOURCELIMIT = 11,
        /// The connection was reset.
        CONNRESET = 12,
        /// Tor protocol violation.
        TORPROTOCOL = 13,
        /// BEGIN_DIR sent to a relay that is not a directory.
        NOTDIRECTORY = 14,
    }
}

/// END: close a stream (tor-spec §6.3).
///
/// Wire form `REASON u8`, plus, for EXITPOLICY only, `ADDR[4 or 16] · TTL u32`. On decode an
/// empty body is MISC, an EXITPOLICY address of the wrong length is ignored, and a missing TTL
/// is 0xFFFFFFFF (all as tor-spec §6.3 says); other trailing bytes are ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct End {
    /// The reason.
    pub reason: EndReason,
    /// For EXITPOLICY: the address the exit refused, and for how many seconds the client
    /// may cache that. Must be `None` for other reasons.
    pub exit_policy_addr: Option<(IpAddr, u32)>,
}

impl End {
    /// An END with `reason` and no address.
    pub fn new(reason: EndReason) -> Self {
        End {
            reason,
            exit_policy_addr: None,
        }
    }

    /// An EXITPOLICY END naming the refused address and a TTL.
    pub fn exit_policy(addr: IpAddr, ttl: u32) -> Self {
        End {
            reason: EndReason::EXITPOLICY,
            exit_policy_addr: Some((addr, ttl)),
        }
    }
}

impl Body for End {
    const CMD: RelayCmd = RelayCmd::END;

    fn decode_body(body: &Bytes) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        if r.is_empty() {
            return Ok(End::new(EndReason::MISC));
        }
        let reason = EndReason(r.take_u8("END reason")?);
        if reason != EndReason::EXITPOLICY {
            return Ok(End::new(reason));
        }
        let addr = match r.remaining() {
            4 | 8 => IpAddr::V4(Ipv4Addr::from(r.take_array::<4>("END address")?)),
            16 | 20 => IpAddr::V6(Ipv6Addr::from(r.take_array::<16>("END address")?)),
            _ => return Ok(End::new(reason)),
        };
        let ttl = if r.remaining() == 4 {
            r.take_u32("END TTL")?
        } else {
            u32::MAX
        };
        Ok(End::exit_policy(addr, ttl))
    }

    fn encode_body<W: Writer + ?Sized>(&self, w: &mut W) -> Result<(), EncodeError> {
        w.write_u8(self.reason.0);
        match (self.reason, self.exit_policy_addr) {
            (_, None) => {}
            (EndReason::EXITPOLICY, Some((addr, ttl))) => {
                match addr {
                    IpAddr::V4(a) => w.write_all(&a.octets()),
                    IpAddr::V6(a) => w.write_all(&a.octets()),
                }
                w.write_u32(ttl);
            }
            (_, Some(_)) => {
                return Err(EncodeError::Unrepresentable {
                    what: "END",
                    why: "only EXITPOLICY carries an address",
                })
            }
        }
        Ok(())
    }
}

/// CONNECTED: the stream is open (tor-spec §6.2).
///
/// Wire form: empty (onion services, BEGIN_DIR), `IPv4[4] · TTL u32`, or
/// `0.0.0.0 · 06 · IPv6[16] · TTL u32`. Bytes after the TTL are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Connected {
    /// The address connected to and its TTL in seconds, if given.
    pub addr: Option<(IpAddr, u32)>,
}

impl Connected {
    /// An empty CONNECTED, as onion services and directory streams send it.
    pub fn empty() -> Self {
        Connected { addr: None }
    }

    /// A CONNECTED naming the address connected to.
    pub fn with_addr(addr: IpAddr, ttl: u32) -> Self {
        Connected {
            addr: Some((addr, ttl)),
        }
    }
}

impl Body for Connected {
    const CMD: RelayCmd = RelayCmd::CONNECTED;

    fn decode_body(body: &Bytes) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        if r.is_empty() {
            return Ok(Connected::empty());
        }
        let v4 = r.take_array::<4>("CONNECTED address")?;
        let addr = if v4 == [0; 4] {
            if r.take_u8("CONNECTED address type")? != 6 {
                return Err(DecodeError::invalid(
                    "CONNECTED address type",
                    "not 6 (IPv6)",
                ));
            }
            IpAddr::V6(Ipv6Addr::from(r.take_array::<16>("CONNECTED address")?))
        } else {
            IpAddr::V4(Ipv4Addr::from(v4))
        };
        let ttl = r.take_u32("CONNECTED TTL")?;
        Ok(Connected::with_addr(addr, ttl))
    }

    fn encode_body<W: Writer + ?Sized>(&self, w: &mut W) -> Result<(), EncodeError> {
        match self.addr {
            None => {}
            Some((IpAddr::V4(a), ttl)) => {
                if a.is_unspecified() {
                    return Err(EncodeError::Unrepresentable {
                        what: "CONNECTED",
                        why: "0.0.0.0 is the IPv6 marker",
                    });
                }
                w.write_all(&a.octets());
                w.write_u32(ttl);
            }
            Some((IpAddr::V6(a), ttl)) => {
                w.write_u32(0);
                w.write_u8(6);
                w.write_all(&a.octets());
                w.write_u32(ttl);
            }
        }
        Ok(())
    }
}

/// BEGIN_DIR: open a stream to the relay's directory service (tor-spec §6.2.1). The body is
/// empty; relays must ignore it, and so does the decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BeginDir;

impl Body for BeginDir {
    const CMD: RelayCmd = RelayCmd::BEGIN_DIR;

    fn decode_body(_body: &Bytes) -> Result<Self, DecodeError> {
        Ok(BeginDir)
    }

    fn encode_body<W: Writer + ?Sized>(&self, _w: &mut W) -> Result<(), EncodeError> {
        Ok(())
    }
}
