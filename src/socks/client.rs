//! The client side of the SOCKS messages (RFC 1928, RFC 1929, SOCKS4a): encoders for what a
//! client sends and a parser for the server's final SOCKS5 reply. Used by tests, the fuzz
//! target and tools; the server never needs them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::{Command, ReplyCode, TargetAddr};

/// A SOCKS5 greeting offering `methods`.
pub fn greeting(methods: &[u8]) -> Vec<u8> {
    let mut v = vec![5, methods.len().min(255) as u8];
    v.extend(methods.iter().take(255));
    v
}

/// An RFC 1929 username/password message (fields cut at 255 bytes).
pub fn userpass(username: &[u8], password: &[u8]) -> Vec<u8> {
    let u = username.get(..username.len().min(255)).unwrap_or_default();
    let p = password.get(..password.len().min(255)).unwrap_or_default();
    let mut v = vec![1, u.len() as u8];
    v.extend_from_slice(u);
    v.push(p.len() as u8);
    v.extend_from_slice(p);
    v
}

/// A SOCKS5 request (a hostname is cut at 255 bytes).
pub fn request5(command: Command, target: &TargetAddr) -> Vec<u8> {
    let mut v = vec![5, command.byte(), 0];
    match target {
        TargetAddr::Ip(SocketAddr::V4(a)) => {
            v.push(1);
            v.extend_from_slice(&a.ip().octets());
        }
        TargetAddr::Ip(SocketAddr::V6(a)) => {
            v.push(4);
            v.extend_from_slice(&a.ip().octets());
        }
        TargetAddr::Domain(d, _) => {
            let d = d.as_bytes().get(..d.len().min(255)).unwrap_or_default();
            v.push(3);
            v.push(d.len() as u8);
            v.extend_from_slice(d);
        }
    }
    v.extend_from_slice(&target.port().to_be_bytes());
    v
}

/// A SOCKS4 (IPv4 target) or SOCKS4a (hostname target) request; `None` for an IPv6 target.
pub fn request4(command: Command, target: &TargetAddr, user: &[u8]) -> Option<Vec<u8>> {
    let mut v = vec![4, command.byte()];
    v.extend_from_slice(&target.port().to_be_bytes());
    let host = match target {
        TargetAddr::Ip(SocketAddr::V4(a)) => {
            v.extend_from_slice(&a.ip().octets());
            None
        }
        TargetAddr::Ip(SocketAddr::V6(_)) => return None,
        TargetAddr::Domain(d, _) => {
            v.extend_from_slice(&[0, 0, 0, 1]);
            Some(d)
        }
    };
    v.extend_from_slice(user);
    v.push(0);
    if let Some(h) = host {
        v.extend_from_slice(h.as_bytes());
        v.push(0);
    }
    Some(v)
}

/// What a SOCKS5 server's final reply says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply5 {
    /// REP.
    pub code: ReplyCode,
    /// BND.ADDR and BND.PORT.
    pub bind: TargetAddr,
}

/// Parses a SOCKS5 final reply: `Ok(None)` if incomplete, else the reply and its length;
/// `Err(())` if malformed.
#[allow(clippy::result_unit_err)]
pub fn parse_reply5(buf: &[u8]) -> Result<Option<(Reply5, usize)>, ()> {
    let Some(&[ver, rep, rsv, atyp]) = buf.get(..4) else {
        return Ok(None);
    };
    if ver != 5 || rsv != 0 {
        return Err(());
    }
    let (host, at): (Result<IpAddr, String>, usize) = match atyp {
        1 => match buf.get(4..8) {
            Some(&[a, b, c, d]) => (Ok(Ipv4Addr::new(a, b, c, d).into()), 8),
            _ => return Ok(None),
        },
        4 => match buf.get(4..20).and_then(|a| <[u8; 16]>::try_from(a).ok()) {
            Some(a) => (Ok(Ipv6Addr::from(a).into()), 20),
            None => return Ok(None),
        },
        3 => {
            let Some(&len) = buf.get(4) else {
                return Ok(None);
            };
            let end = 5 + usize::from(len);
            match buf.get(5..end) {
                Some(n) => (Err(String::from_utf8_lossy(n).into_owned()), end),
                None => return Ok(None),
            }
        }
        _ => return Err(()),
    };
    let Some(&[p0, p1]) = buf.get(at..at + 2) else {
        return Ok(None);
    };
    let port = u16::from_be_bytes([p0, p1]);
    let bind = match host {
        Ok(ip) => TargetAddr::Ip(SocketAddr::new(ip, port)),
        Err(name) => TargetAddr::Domain(name, port),
    };
    Ok(Some((
        Reply5 {
            code: ReplyCode(rep),
            bind,
        },
        at + 2,
    )))
}
