//! The server side of the SOCKS handshake as a state machine over a caller-held buffer
//! (RFC 1928 §3–§4, RFC 1929 §2, SOCKS4/4a, torspec socks-extensions §1.1–§4).
//!
//! The caller appends what it reads to a buffer and calls [`Handshake::handle`] on it; each
//! call looks at one message at the front. A truncated message gives [`Step::NeedMore`] and
//! nothing is consumed, so bytes may arrive in any split. Every length is bounded by the
//! wire format (a SOCKS5 message is at most 513 bytes) or by [`SOCKS4_MAX_MESSAGE`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::{
    is_valid_hostname, parse_ip_literal, Auth, Command, ReplyCode, SocksError, SocksRequest,
    SocksVersion, TargetAddr,
};

/// The most bytes a SOCKS4/4a request may take before we give up (C tor's
/// `MAX_SOCKS_MESSAGE_LEN`, 512).
pub const SOCKS4_MAX_MESSAGE: usize = 512;

/// What we answer an HTTP request on the SOCKS port with (C tor does the same, with its own
/// page: socks-extensions §4). Our text.
pub const HTTP_NOT_A_PROXY: &str = "HTTP/1.0 501 Tor is not an HTTP Proxy\r\n\
Content-Type: text/html; charset=utf-8\r\n\
Connection: close\r\n\
\r\n\
<!DOCTYPE html>\n\
<html><head><title>This is a SOCKS proxy, not an HTTP proxy</title></head>\n\
<body><h1>This is a SOCKS proxy, not an HTTP proxy</h1>\n\
<p>Your program sent an HTTP request to a port that speaks SOCKS (SOCKS4a or SOCKS5).\n\
Configure it to use this port as a SOCKS5 proxy, with remote (proxy-side) DNS\n\
resolution, instead of as an HTTP proxy.</p>\n\
</body></html>\n";

/// SOCKS5 method "no authentication required".
const METHOD_NO_AUTH: u8 = 0x00;
/// SOCKS5 method "username/password".
const METHOD_USER_PASS: u8 = 0x02;
/// SOCKS5 "no acceptable methods".
const METHOD_NONE: u8 = 0xFF;

/// What to do after [`Handshake::handle`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The message at the front is incomplete: read more and call again.
    NeedMore,
    /// A message was handled: drop `consumed` bytes, send `reply`, and call again (the buffer
    /// may already hold the next message).
    Continue {
        /// Bytes of the buffer used.
        consumed: usize,
        /// What to send the client.
        reply: Vec<u8>,
    },
    /// The request is complete: drop `consumed` bytes (what follows is optimistic data for
    /// the stream) and act on the request, then answer with one of its `reply_*` methods.
    Finished {
        /// Bytes of the buffer used.
        consumed: usize,
        /// The request.
        request: SocksRequest,
    },
}

/// A failed handshake: send `reply` (possibly empty), then close.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// What to send before closing (a SOCKS error reply, the HTTP page, or nothing).
    pub reply: Vec<u8>,
    /// Why.
    pub error: SocksError,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Nothing yet.
    Start,
    /// SOCKS5, username/password chosen: the subnegotiation comes next.
    UserPass,
    /// SOCKS5, method chosen (and credentials given if any): the request comes next.
    Request { auth: Auth, got_auth: bool },
    /// Finished or rejected.
    Done,
}

/// A SOCKS server handshake in progress (see the module doc for the buffer contract).
#[derive(Debug, Clone)]
pub struct Handshake {
    state: State,
}

impl Default for Handshake {
    fn default() -> Self {
        Self::new()
    }
}

/// Either a complete value and the bytes it took, or "need more", or a rejection.
type Parsed<T> = Result<Option<(T, usize)>, Rejection>;

fn reject(reply: Vec<u8>, error: SocksError) -> Rejection {
    Rejection { reply, error }
}

fn reject5(code: ReplyCode, error: SocksError) -> Rejection {
    reject(error_reply5(code), error)
}

fn reject4(error: SocksError) -> Rejection {
    reject(reply4(false, Ipv4Addr::UNSPECIFIED, 0), error)
}

/// A SOCKS5 reply with `code` and an all-zero IPv4 bound address (C tor's error replies).
pub(super) fn error_reply5(code: ReplyCode) -> Vec<u8> {
    reply5(code, SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)))
}

/// A SOCKS5 reply `VER REP RSV ATYP BND.ADDR BND.PORT` with an address.
pub(super) fn reply5(code: ReplyCode, bind: SocketAddr) -> Vec<u8> {
    let mut v = vec![5, code.0, 0];
    match bind.ip() {
        IpAddr::V4(a) => {
            v.push(1);
            v.extend_from_slice(&a.octets());
        }
        IpAddr::V6(a) => {
            v.push(4);
            v.extend_from_slice(&a.octets());
        }
    }
    v.extend_from_slice(&bind.port().to_be_bytes());
    v
}

/// A SOCKS4 reply `VN=0 CD DSTPORT DSTIP` (90 granted, 91 rejected).
pub(super) fn reply4(granted: bool, addr: Ipv4Addr, port: u16) -> Vec<u8> {
    let mut v = vec![0, if granted { 90 } else { 91 }];
    v.extend_from_slice(&port.to_be_bytes());
    v.extend_from_slice(&addr.octets());
    v
}

/// Bytes `[at, at+n)` of `buf`, or `None` if not all there yet.
fn take(buf: &[u8], at: usize, n: usize) -> Option<&[u8]> {
    buf.get(at..at.checked_add(n)?)
}

fn byte(buf: &[u8], at: usize) -> Option<u8> {
    buf.get(at).copied()
}

impl Handshake {
    /// A handshake waiting for the client's first message.
    pub fn new() -> Self {
        Handshake {
            state: State::Start,
        }
    }

    /// True once the handshake has finished or been rejected.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Handles the message at the front of `buf` (everything received and not yet consumed).
    pub fn handle(&mut self, buf: &[u8]) -> Result<Step, Rejection> {
        let r = self.handle_inner(buf);
        if matches!(r, Err(_) | Ok(Step::Finished { .. })) {
            self.state = State::Done;
        }
        r
    }

    fn handle_inner(&mut self, buf: &[u8]) -> Result<Step, Rejection> {
        if self.state == State::Done {
            return Err(reject(Vec::new(), SocksError::Finished));
        }
        let Some(first) = byte(buf, 0) else {
            return Ok(Step::NeedMore);
        };
        match std::mem::replace(&mut self.state, State::Done) {
            State::Done => Err(reject(Vec::new(), SocksError::Finished)),
            State::Start => match first {
                5 => self.greeting(buf),
                4 => {
                    let r = finish(parse_socks4(buf));
                    if matches!(r, Ok(Step::NeedMore)) {
                        self.state = State::Start;
                    }
                    r
                }
                b'G' | b'H' | b'P' | b'C' => Err(reject(
                    HTTP_NOT_A_PROXY.as_bytes().to_vec(),
                    SocksError::HttpRequest,
                )),
                v => Err(reject(Vec::new(), SocksError::BadVersion(v))),
            },
            State::UserPass => self.userpass(buf, State::UserPass),
            State::Request {
                auth,
                got_auth: false,
            } if first == 1 => {
                // socks-extensions §1.1: a username/password message is accepted even when
                // "no auth" was chosen.
                self.userpass(
                    buf,
                    State::Request {
                        auth,
                        got_auth: false,
                    },
                )
            }
            State::Request { auth, got_auth } => {
                let r = parse_request5(buf, auth.clone());
                if matches!(r, Ok(None)) {
                    self.state = State::Request { auth, got_auth };
                }
                finish(r)
            }
        }
    }

    fn greeting(&mut self, buf: &[u8]) -> Result<Step, Rejection> {
        let Some(n) = byte(buf, 1) else {
            self.state = State::Start;
            return Ok(Step::NeedMore);
        };
        if n == 0 {
            return Err(reject(Vec::new(), SocksError::NoMethods));
        }
        let Some(methods) = take(buf, 2, n.into()) else {
            self.state = State::Start;
            return Ok(Step::NeedMore);
        };
        // C tor prefers username/password when offered (no PreferSOCKSNoAuth here).
        let method = if methods.contains(&METHOD_USER_PASS) {
            self.state = State::UserPass;
            METHOD_USER_PASS
        } else if methods.contains(&METHOD_NO_AUTH) {
            self.state = State::Request {
                auth: Auth::None,
                got_auth: false,
            };
            METHOD_NO_AUTH
        } else {
            return Err(reject(vec![5, METHOD_NONE], SocksError::NoAcceptableMethod));
        };
        Ok(Step::Continue {
            consumed: 2 + usize::from(n),
            reply: vec![5, method],
        })
    }

    /// RFC 1929: `VER=1 ULEN UNAME PLEN PASSWD`; any credentials succeed.
    /// `prev` is the state to stay in while the message is incomplete.
    fn userpass(&mut self, buf: &[u8], prev: State) -> Result<Step, Rejection> {
        let need_more = |s: &mut Self| {
            s.state = prev;
            Ok(Step::NeedMore)
        };
        let Some(ver) = byte(buf, 0) else {
            return need_more(self);
        };
        if ver != 1 {
            // As C tor: a SOCKS5 general-failure reply (its first two bytes read as a failed
            // RFC 1929 status too).
            return Err(reject5(
                ReplyCode::GENERAL_FAILURE,
                SocksError::BadAuthVersion(ver),
            ));
        }
        let Some(ulen) = byte(buf, 1) else {
            return need_more(self);
        };
        let ulen = usize::from(ulen);
        let (Some(user), Some(plen)) = (take(buf, 2, ulen), byte(buf, 2 + ulen)) else {
            return need_more(self);
        };
        let plen = usize::from(plen);
        let Some(pass) = take(buf, 3 + ulen, plen) else {
            return need_more(self);
        };
        self.state = State::Request {
            auth: Auth::UserPass {
                username: user.to_vec(),
                password: pass.to_vec(),
            },
            got_auth: true,
        };
        Ok(Step::Continue {
            consumed: 3 + ulen + plen,
            reply: vec![1, 0],
        })
    }
}

fn finish(r: Parsed<SocksRequest>) -> Result<Step, Rejection> {
    Ok(match r? {
        None => Step::NeedMore,
        Some((request, consumed)) => Step::Finished { consumed, request },
    })
}

/// A hostname field: an address literal becomes an IP target; otherwise it must be valid.
fn host_target(name: &[u8], port: u16) -> Option<TargetAddr> {
    let name = std::str::from_utf8(name).ok()?;
    if let Some(ip) = parse_ip_literal(name) {
        return Some(TargetAddr::Ip(SocketAddr::new(ip, port)));
    }
    is_valid_hostname(name).then(|| TargetAddr::Domain(name.to_owned(), port))
}

/// RFC 1928 §4: `VER CMD RSV ATYP DST.ADDR DST.PORT`.
fn parse_request5(buf: &[u8], auth: Auth) -> Parsed<SocksRequest> {
    let Some(&[ver, cmd, rsv, atyp]) = take(buf, 0, 4) else {
        return Ok(None);
    };
    if ver != 5 {
        return Err(reject5(
            ReplyCode::GENERAL_FAILURE,
            SocksError::BadRequestVersion(ver),
        ));
    }
    if rsv != 0 {
        return Err(reject5(
            ReplyCode::GENERAL_FAILURE,
            SocksError::BadReserved(rsv),
        ));
    }
    // Deviation: C tor answers an unknown command (other than BIND/ASSOCIATE) and an unknown
    // ATYP with 0x01, its trunnel parser failing first; RFC 1928 has 0x07 and 0x08.
    let command = match cmd {
        1 => Command::Connect,
        3 => Command::UdpAssociate,
        0xF0 => Command::Resolve,
        0xF1 => Command::ResolvePtr,
        c => {
            return Err(reject5(
                ReplyCode::COMMAND_NOT_SUPPORTED,
                SocksError::UnsupportedCommand {
                    version: 5,
                    command: c,
                },
            ))
        }
    };
    let (addr, at): (Result<IpAddr, &[u8]>, usize) = match atyp {
        1 => match take(buf, 4, 4) {
            Some(&[a, b, c, d]) => (Ok(IpAddr::V4(Ipv4Addr::new(a, b, c, d))), 8),
            _ => return Ok(None),
        },
        4 => match take(buf, 4, 16).and_then(|a| <[u8; 16]>::try_from(a).ok()) {
            None => return Ok(None),
            Some(a) => (Ok(IpAddr::V6(Ipv6Addr::from(a))), 20),
        },
        3 => {
            let Some(len) = byte(buf, 4) else {
                return Ok(None);
            };
            let len = usize::from(len);
            match take(buf, 5, len) {
                None => return Ok(None),
                Some(name) => (Err(name), 5 + len),
            }
        }
        t => {
            return Err(reject5(
                ReplyCode::ADDRESS_TYPE_NOT_SUPPORTED,
                SocksError::BadAddressType(t),
            ))
        }
    };
    let Some(&[p0, p1]) = take(buf, at, 2) else {
        return Ok(None);
    };
    let port = u16::from_be_bytes([p0, p1]);
    let target = match addr {
        Ok(ip) => TargetAddr::Ip(SocketAddr::new(ip, port)),
        // PySocks sends ASSOCIATE with the hostname "0": not checked for ASSOCIATE.
        Err(name) if command == Command::UdpAssociate => {
            match std::str::from_utf8(name).ok().and_then(|n| {
                parse_ip_literal(n)
                    .map(|ip| TargetAddr::Ip(SocketAddr::new(ip, port)))
                    .or_else(|| Some(TargetAddr::Domain(n.to_owned(), port)))
            }) {
                Some(t) => t,
                None => TargetAddr::Ip(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port))),
            }
        }
        Err(name) => match host_target(name, port) {
            Some(t) => t,
            None if command == Command::ResolvePtr => {
                return Err(reject5(
                    ReplyCode::ADDRESS_TYPE_NOT_SUPPORTED,
                    SocksError::PtrNotAnAddress,
                ))
            }
            None => return Err(reject5(ReplyCode::GENERAL_FAILURE, SocksError::BadHostname)),
        },
    };
    if command == Command::ResolvePtr && !matches!(target, TargetAddr::Ip(_)) {
        return Err(reject5(
            ReplyCode::ADDRESS_TYPE_NOT_SUPPORTED,
            SocksError::PtrNotAnAddress,
        ));
    }
    let request = SocksRequest {
        version: SocksVersion::V5,
        command,
        target,
        auth,
    };
    Ok(Some((request, at + 2)))
}

/// SOCKS4/4a: `VN=4 CD DSTPORT DSTIP USERID NUL [HOSTNAME NUL]` (4a when DSTIP is 0.0.0.x,
/// x ≠ 0). Commands CONNECT and Tor's RESOLVE, as C tor.
fn parse_socks4(buf: &[u8]) -> Parsed<SocksRequest> {
    let nul_after = |from: usize| -> Result<Option<usize>, Rejection> {
        let window = buf.get(from..).unwrap_or_default();
        match window.iter().position(|&b| b == 0) {
            Some(i) if from + i < SOCKS4_MAX_MESSAGE => Ok(Some(from + i)),
            Some(_) => Err(reject4(SocksError::TooLong)),
            None if buf.len() >= SOCKS4_MAX_MESSAGE => Err(reject4(SocksError::TooLong)),
            None => Ok(None),
        }
    };
    let Some(&[_, cmd, p0, p1, a, b, c, d]) = take(buf, 0, 8) else {
        return Ok(None);
    };
    let port = u16::from_be_bytes([p0, p1]);
    let ip = Ipv4Addr::new(a, b, c, d);
    let Some(user_end) = nul_after(8)? else {
        return Ok(None);
    };
    let user = buf.get(8..user_end).unwrap_or_default();
    let is_4a = [a, b, c] == [0, 0, 0] && d != 0;
    let (target, end) = if is_4a {
        let Some(host_end) = nul_after(user_end + 1)? else {
            return Ok(None);
        };
        let name = buf.get(user_end + 1..host_end).unwrap_or_default();
        match host_target(name, port) {
            Some(t) => (t, host_end + 1),
            None => return Err(reject4(SocksError::BadHostname)),
        }
    } else {
        (TargetAddr::Ip(SocketAddr::from((ip, port))), user_end + 1)
    };
    let command = match cmd {
        1 => Command::Connect,
        0xF0 => Command::Resolve,
        c => {
            return Err(reject4(SocksError::UnsupportedCommand {
                version: 4,
                command: c,
            }))
        }
    };
    if (port == 0 && command != Command::Resolve) || ip.is_unspecified() {
        return Err(reject4(SocksError::Socks4Zero));
    }
    let auth = if user.is_empty() {
        Auth::None
    } else {
        Auth::Socks4(user.to_vec())
    };
    let request = SocksRequest {
        version: SocksVersion::V4,
        command,
        target,
        auth,
    };
    Ok(Some((request, end)))
}
