//! The SOCKS server protocol, sans-IO: SOCKS5 (RFC 1928) with username/password
//! authentication (RFC 1929), SOCKS4 and SOCKS4a, and Tor's extensions (torspec
//! `socks-extensions.txt`: RESOLVE 0xF0, RESOLVE_PTR 0xF1, extended error codes of prop304).
//!
//! - [`Handshake`] parses what a SOCKS client sends, incrementally (bytes may arrive one at a
//!   time), and says what to answer; it ends with a [`SocksRequest`] or a [`Rejection`].
//! - [`SocksRequest`]'s `reply_*` methods encode the final answer (success, error, resolved
//!   addresses or name) in the client's SOCKS version.
//! - [`ReplyCode`] and [`SocksFailure`] map why a request failed (a relay END reason, no
//!   circuit, a timeout, an onion-service error) to the SOCKS5 REP byte as C tor's
//!   `stream_end_reason_to_socks5_response` (core/or/reasons.c) does.
//! - [`IsolationKey`] is what a stream's circuit must match, from the `SocksPort` flags.
//! - [`client`] encodes client messages and parses server replies (for tests, fuzzing and
//!   tools).
//!
//! Behaviour follows C tor's `proto_socks.c` (0.4.9) except where noted on the item.
//! Not here: sockets and timeouts (`rt::socks`), UDP ASSOCIATE relaying (stage 5: the request
//! is parsed and answered "command not supported"), BIND, GSSAPI, `SafeSocks`.

mod handshake;
mod isolation;
mod reply;

pub mod client;

#[cfg(test)]
mod tests;

use std::fmt;
use std::net::{IpAddr, SocketAddr};

pub use handshake::{Handshake, Rejection, Step, HTTP_NOT_A_PROXY, SOCKS4_MAX_MESSAGE};
pub use isolation::{IsolationKey, SessionId};
pub use reply::{end_reason_to_reply, unspecified_like, HsError, ReplyCode, SocksFailure};

use crate::safelog::client_sensitive;

/// Errors from the SOCKS handshake. They never carry the destination or the credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SocksError {
    /// The first byte is not 4, 5 or a username/password subnegotiation.
    #[error("SOCKS version {0} not recognized")]
    BadVersion(u8),
    /// The client spoke HTTP to the SOCKS port.
    #[error("an HTTP request on the SOCKS port (this port is not an HTTP proxy)")]
    HttpRequest,
    /// A SOCKS5 greeting offering no method.
    #[error("SOCKS5 greeting offers no authentication method")]
    NoMethods,
    /// A SOCKS5 greeting offering neither "no auth" nor username/password.
    #[error("SOCKS5 greeting offers neither no-auth nor username/password")]
    NoAcceptableMethod,
    /// A username/password message whose version byte is not 1.
    #[error("bad username/password subnegotiation version {0}")]
    BadAuthVersion(u8),
    /// A SOCKS5 request whose version byte is not 5.
    #[error("bad SOCKS5 request version {0}")]
    BadRequestVersion(u8),
    /// A SOCKS5 request whose reserved byte is not 0.
    #[error("SOCKS5 request reserved byte is {0}, not 0")]
    BadReserved(u8),
    /// A SOCKS5 address type other than 1, 3 and 4.
    #[error("SOCKS5 address type {0} not supported")]
    BadAddressType(u8),
    /// A command we do not implement (BIND, or unknown).
    #[error("SOCKS{version} command {command:#04x} not supported")]
    UnsupportedCommand {
        /// 4 or 5.
        version: u8,
        /// The command byte.
        command: u8,
    },
    /// The destination hostname is not a valid hostname or address (C tor's
    /// `string_is_valid_dest`).
    #[error("malformed destination hostname")]
    BadHostname,
    /// RESOLVE_PTR with something other than an IP address.
    #[error("RESOLVE_PTR needs an IP address")]
    PtrNotAnAddress,
    /// SOCKS4 with port 0 (other than RESOLVE) or address 0.0.0.0.
    #[error("SOCKS4 request with port or address zero")]
    Socks4Zero,
    /// A SOCKS4 message longer than [`SOCKS4_MAX_MESSAGE`] bytes.
    #[error("SOCKS4 request too long")]
    TooLong,
    /// Input after the handshake had already ended.
    #[error("handshake already finished")]
    Finished,
}

/// The SOCKS version a client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SocksVersion {
    /// SOCKS4, or SOCKS4a when the address is 0.0.0.x.
    V4,
    /// SOCKS5.
    V5,
}

impl SocksVersion {
    /// The version byte.
    pub fn byte(self) -> u8 {
        match self {
            SocksVersion::V4 => 4,
            SocksVersion::V5 => 5,
        }
    }
}

/// What the client asks for (RFC 1928 §4 CMD; socks-extensions §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    /// CONNECT (1): a TCP stream to the target.
    Connect,
    /// Tor's RESOLVE (0xF0): look the hostname up at an exit.
    Resolve,
    /// Tor's RESOLVE_PTR (0xF1, SOCKS5 only): reverse lookup of an address.
    ResolvePtr,
    /// UDP ASSOCIATE (3, SOCKS5 only). Parsed; answered "command not supported" until
    /// stage 5. Its target is where the client will send from, often all zeros.
    UdpAssociate,
}

impl Command {
    /// The command byte.
    pub fn byte(self) -> u8 {
        match self {
            Command::Connect => 1,
            Command::UdpAssociate => 3,
            Command::Resolve => 0xF0,
            Command::ResolvePtr => 0xF1,
        }
    }
}

/// A request's destination (RFC 1928 §5 DST.ADDR/DST.PORT).
///
/// A hostname that is an IPv4 or IPv6 literal (also `[v6]`) is given as [`TargetAddr::Ip`],
/// so the handler never needs to parse one. `Display` prints `host:port` unscrubbed: wrap it
/// in `safelog::client_sensitive` before logging.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TargetAddr {
    /// An IP address and port.
    Ip(SocketAddr),
    /// A hostname (ASCII, 1–255 bytes, checked as C tor's `string_is_valid_dest`) and port.
    Domain(String, u16),
}

impl TargetAddr {
    /// The port.
    pub fn port(&self) -> u16 {
        match self {
            TargetAddr::Ip(a) => a.port(),
            TargetAddr::Domain(_, p) => *p,
        }
    }

    /// The host part as text (an address without brackets, or the hostname).
    pub fn host(&self) -> String {
        match self {
            TargetAddr::Ip(a) => a.ip().to_string(),
            TargetAddr::Domain(d, _) => d.clone(),
        }
    }

    /// True for a hostname under `.onion` (with or without a trailing dot, any case).
    pub fn is_onion(&self) -> bool {
        match self {
            TargetAddr::Ip(_) => false,
            TargetAddr::Domain(d, _) => {
                let d = d.strip_suffix('.').unwrap_or(d);
                d.len() > 6 && d.is_char_boundary(d.len() - 6) && {
                    let (_, tail) = d.split_at(d.len() - 6);
                    tail.eq_ignore_ascii_case(".onion")
                }
            }
        }
    }
}

impl fmt::Display for TargetAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetAddr::Ip(a) => write!(f, "{a}"),
            TargetAddr::Domain(d, p) => write!(f, "{d}:{p}"),
        }
    }
}

/// The credentials a client gave. Tor accepts any and uses them only for stream isolation
/// (tor(1) `IsolateSOCKSAuth`). `Debug` never shows them.
#[derive(Clone, PartialEq, Eq, Hash, Default, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
pub enum Auth {
    /// No credentials.
    #[default]
    None,
    /// A SOCKS4 USERID (non-empty).
    Socks4(Vec<u8>),
    /// An RFC 1929 username and password (either may be empty, as C tor allows).
    UserPass {
        /// UNAME.
        username: Vec<u8>,
        /// PASSWD.
        password: Vec<u8>,
    },
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Auth::None => "Auth::None",
            Auth::Socks4(_) => "Auth::Socks4(..)",
            Auth::UserPass { .. } => "Auth::UserPass(..)",
        })
    }
}

/// A complete, valid SOCKS request: what [`Handshake`] ends with.
#[derive(Clone, PartialEq, Eq)]
pub struct SocksRequest {
    /// The client's SOCKS version (replies use it).
    pub version: SocksVersion,
    /// What to do.
    pub command: Command,
    /// Where.
    pub target: TargetAddr,
    /// The credentials, for isolation.
    pub auth: Auth,
}

impl fmt::Debug for SocksRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SocksRequest")
            .field("version", &self.version)
            .field("command", &self.command)
            .field("target", &client_sensitive(&self.target))
            .field("auth", &self.auth)
            .finish()
    }
}

/// A hostname as C tor's `string_is_valid_dest` accepts it, when it is not an address:
/// dot-separated non-empty labels of ASCII letters, digits, `-` and `_`, no label starting
/// with `-` or `_`, one trailing dot allowed.
pub fn is_valid_hostname(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    !name.is_empty()
        && name.split('.').all(|l| {
            !l.is_empty()
                && !l.starts_with(['-', '_'])
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// An address literal in a hostname field (`1.2.3.4`, `::1`, `[::1]`), as C tor reads one.
pub fn parse_ip_literal(name: &str) -> Option<IpAddr> {
    let inner = name
        .strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .unwrap_or(name);
    inner.parse().ok()
}
