//! `DirAuthority` lines: `[NICKNAME] [FLAGS...] IPV4:DIRPORT FINGERPRINT`.
//!
//! Follows C tor's `parse_dir_authority_line` (`src/app/config/config.c`): an optional legal
//! nickname, then flags until a word starting with a digit, then the address and the relay
//! fingerprint (40 hex digits, possibly split by spaces). Flags: `orport=N`, `v3ident=HEX40`,
//! `ipv6=[ADDR]:PORT`, `weight=N`, `bridge`, and the obsolete `no-v2`, `hs`, `no-hs`.
//!
//! Stricter than tor, on purpose: unknown flags and bad `orport=`/`v3ident=` values are errors
//! (tor only warns), `orport=` is required (our clients reach authorities over their ORPort),
//! and `v3ident=` is required unless the authority is a `bridge` authority. Per-purpose
//! `upload=`/`download=`/`vote=` ports are refused.

use std::net::{Ipv4Addr, SocketAddr};

use super::value::{parse_nickname, parse_port, VResult};
use crate::ids::RsaIdentity;

/// One directory authority.
#[derive(Clone, Debug, PartialEq)]
pub struct DirAuthority {
    /// Its nickname, if given.
    pub nickname: Option<String>,
    /// Its ORPort.
    pub or_port: u16,
    /// SHA-1 of its v3 authority identity key (`v3ident=`); `None` only for bridge authorities.
    pub v3ident: Option<RsaIdentity>,
    /// Its IPv6 ORPort (`ipv6=`).
    pub ipv6: Option<SocketAddr>,
    /// `bridge`: a bridge authority.
    pub bridge: bool,
    /// `weight=`: relative weight for choosing it (default 1.0).
    pub weight: f64,
    /// IPv4 address.
    pub addr: Ipv4Addr,
    /// Directory port.
    pub dir_port: u16,
    /// Its relay identity fingerprint.
    pub fingerprint: RsaIdentity,
}

pub(crate) fn parse_dir_authority(v: &str) -> VResult<DirAuthority> {
    let mut words: Vec<&str> = v.split_ascii_whitespace().collect();
    words.reverse(); // pop from the front
    let mut nickname = None;
    if let Some(first) = words.last().copied() {
        if !first.starts_with(|c: char| c.is_ascii_digit()) && parse_nickname(first).is_ok() {
            nickname = Some(first.to_string());
            words.pop();
        }
    }
    let (mut or_port, mut v3ident, mut ipv6, mut bridge, mut weight) =
        (None, None, None, false, 1.0);
    while let Some(flag) = words.last().copied() {
        if flag.starts_with(|c: char| c.is_ascii_digit()) {
            break;
        }
        words.pop();
        let lower = flag.to_ascii_lowercase();
        let (name, arg) = lower.split_once('=').unwrap_or((lower.as_str(), ""));
        let orig_arg = flag.get(name.len() + 1..).unwrap_or("");
        match name {
            "orport" => or_port = Some(parse_port(arg, false)?),
            "v3ident" => {
                v3ident = Some(RsaIdentity::from_hex(arg).ok_or("v3ident= needs 40 hex digits")?)
            }
            "ipv6" => {
                let sa: SocketAddr = orig_arg
                    .parse()
                    .map_err(|_| format!("bad ipv6= address {orig_arg:?} (use [ADDR]:PORT)"))?;
                if !sa.is_ipv6() || sa.port() == 0 {
                    return Err(format!("bad ipv6= address {orig_arg:?} (use [ADDR]:PORT)"));
                }
                ipv6 = Some(sa);
            }
            "weight" => {
                weight = arg
                    .parse::<f64>()
                    .ok()
                    .filter(|w| w.is_finite() && *w >= 0.0)
                    .ok_or_else(|| format!("bad weight {arg:?}"))?;
            }
            "bridge" if arg.is_empty() => bridge = true,
            "no-v2" | "hs" | "no-hs" if arg.is_empty() => {}
            "upload" | "download" | "vote" => {
                return Err(format!("{name}= ports are not supported"));
            }
            _ => return Err(format!("unknown flag {flag:?} (or a bad nickname)")),
        }
    }
    let addrport = words.pop().ok_or("missing IPV4:DIRPORT and FINGERPRINT")?;
    let (ip, port) = addrport
        .split_once(':')
        .ok_or_else(|| format!("{addrport:?} is not IPV4:DIRPORT"))?;
    let addr: Ipv4Addr = ip
        .parse()
        .map_err(|_| format!("{ip:?} is not an IPv4 address"))?;
    let dir_port = parse_port(port, false)?;
    words.reverse();
    let fp: String = words.concat();
    if fp.is_empty() {
        return Err("missing FINGERPRINT (40 hex digits)".into());
    }
    let fingerprint = RsaIdentity::from_hex(&fp).ok_or("FINGERPRINT must be 40 hex digits")?;
    let or_port = or_port.ok_or("orport=N is required (clients connect to the ORPort)")?;
    if v3ident.is_none() && !bridge {
        return Err("v3ident=HEX40 is required for a v3 directory authority".into());
    }
    Ok(DirAuthority {
        nickname,
        or_port,
        v3ident,
        ipv6,
        bridge,
        weight,
        addr,
        dir_port,
        fingerprint,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const FP: &str = "0123456789ABCDEF0123456789ABCDEF01234567";
    const V3: &str = "89ABCDEF0123456789ABCDEF0123456789ABCDEF";

    #[test]
    fn chutney_style_line() {
        let line = format!("test000a orport=5000 no-v2 v3ident={V3} 127.0.0.1:7000 {FP}");
        let a = parse_dir_authority(&line).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.nickname.as_deref(), Some("test000a"));
        assert_eq!((a.or_port, a.dir_port), (5000, 7000));
        assert_eq!(a.addr, Ipv4Addr::LOCALHOST);
        assert_eq!(a.fingerprint.to_hex(), FP);
        assert_eq!(a.v3ident.map(|v| v.to_hex()), Some(V3.to_string()));
    }

    #[test]
    fn spaced_fingerprint_and_ipv6() {
        let spaced = "0123 4567 89AB CDEF 0123 4567 89AB CDEF 0123 4567";
        let line = format!(
            "orport=443 v3ident={V3} ipv6=[2001:db8::1]:443 weight=2 192.0.2.1:80 {spaced}"
        );
        let a = parse_dir_authority(&line).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.nickname, None);
        assert_eq!(
            a.fingerprint.to_hex(),
            "0123456789ABCDEF0123456789ABCDEF01234567"
        );
        assert_eq!(
            a.ipv6.map(|s| s.to_string()),
            Some("[2001:db8::1]:443".into())
        );
        assert_eq!(a.weight, 2.0);
    }

    #[test]
    fn errors() {
        for bad in [
            String::new(),
            format!("n orport=1 v3ident={V3} 127.0.0.1:7000"),
            format!("n orport=1 v3ident={V3} 127.0.0.1 {FP}"),
            format!("n orport=1 v3ident={V3} 127.0.0.1:0 {FP}"),
            format!("n orport=1 v3ident={V3} 1.2.3:7 {FP}"),
            format!("n orport=1 v3ident={V3} 127.0.0.1:7000 {FP}00"),
            format!("n orport=0 v3ident={V3} 127.0.0.1:7000 {FP}"),
            format!("n orport=1 v3ident=XYZ 127.0.0.1:7000 {FP}"),
            format!("n v3ident={V3} 127.0.0.1:7000 {FP}"),
            format!("n orport=1 127.0.0.1:7000 {FP}"),
            format!("n orport=1 v3ident={V3} fast 127.0.0.1:7000 {FP}"),
            format!("n orport=1 v3ident={V3} upload=9 127.0.0.1:7000 {FP}"),
            format!("n orport=1 v3ident={V3} ipv6=1.2.3.4:5 127.0.0.1:7000 {FP}"),
            format!("bad-nick orport=1 v3ident={V3} 127.0.0.1:7000 {FP}"),
        ] {
            assert!(parse_dir_authority(&bad).is_err(), "{bad:?}");
        }
        assert!(parse_dir_authority(&format!("b orport=1 bridge 127.0.0.1:7000 {FP}")).is_ok());
    }
}
