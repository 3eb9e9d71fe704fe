//! `ExitPolicy` values: comma-separated `accept|reject|accept6|reject6 ADDR[/MASK][:PORTS]`
//! items (tor(1) "ExitPolicy"; the same item grammar as dir-spec §2.1.3 "accept/reject").
//!
//! `ADDR` is `*`, `*4`, `*6`, `private`, an IPv4 address or a bracketed IPv6 address; `MASK` is
//! a prefix length (or, for IPv4, a dotted mask); `PORTS` is `*`, `N` or `N-M` (all ports when
//! omitted). Evaluating a policy against a destination is a later stage's job; here it is only
//! parsed and checked. Unlike tor, an `accept6`/`reject6` item with an IPv4 address is an
//! error, not a warning.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use super::value::{parse_port, VResult};

/// Accept or reject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyAction {
    /// `accept`.
    Accept,
    /// `reject`.
    Reject,
}

/// The address part of a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyAddr {
    /// `*`: every IPv4 and IPv6 address.
    Any,
    /// `*4`.
    AnyV4,
    /// `*6`.
    AnyV6,
    /// `private`: tor's private, link-local and loopback ranges, and the relay's own addresses.
    Private,
    /// An address with a prefix length.
    Net {
        /// The address as written.
        addr: IpAddr,
        /// Prefix length (32 or 128 when no mask was given).
        prefix: u8,
    },
}

/// One accept/reject item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PolicyRule {
    /// Accept or reject.
    pub action: PolicyAction,
    /// Which addresses.
    pub addr: PolicyAddr,
    /// Lowest port of the range.
    pub port_lo: u16,
    /// Highest port of the range (inclusive).
    pub port_hi: u16,
}

impl fmt::Display for PolicyRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let action = match self.action {
            PolicyAction::Accept => "accept",
            PolicyAction::Reject => "reject",
        };
        f.write_str(action)?;
        match self.addr {
            PolicyAddr::Any => f.write_str(" *")?,
            PolicyAddr::AnyV4 => f.write_str(" *4")?,
            PolicyAddr::AnyV6 => f.write_str(" *6")?,
            PolicyAddr::Private => f.write_str(" private")?,
            PolicyAddr::Net {
                addr: IpAddr::V4(a),
                prefix,
            } => {
                write!(f, " {a}")?;
                if prefix != 32 {
                    write!(f, "/{prefix}")?;
                }
            }
            PolicyAddr::Net {
                addr: IpAddr::V6(a),
                prefix,
            } => {
                write!(f, " [{a}]")?;
                if prefix != 128 {
                    write!(f, "/{prefix}")?;
                }
            }
        }
        match (self.port_lo, self.port_hi) {
            (1, 65535) => f.write_str(":*"),
            (lo, hi) if lo == hi => write!(f, ":{lo}"),
            (lo, hi) => write!(f, ":{lo}-{hi}"),
        }
    }
}

/// Parses one `ExitPolicy` value (one or more comma-separated items; blank items are skipped,
/// as tor does).
pub(crate) fn parse_exit_policy(v: &str) -> VResult<Vec<PolicyRule>> {
    let rules = v
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| parse_item(item).map_err(|e| format!("in {item:?}: {e}")))
        .collect::<VResult<Vec<_>>>()?;
    if rules.is_empty() {
        return Err("no accept/reject items".into());
    }
    Ok(rules)
}

fn parse_item(item: &str) -> VResult<PolicyRule> {
    let (word, pattern) = item
        .split_once(|c: char| c.is_ascii_whitespace())
        .ok_or("expected accept|reject ADDR[/MASK][:PORTS]")?;
    let (action, v6_only) = match word.to_ascii_lowercase().as_str() {
        "accept" => (PolicyAction::Accept, false),
        "reject" => (PolicyAction::Reject, false),
        "accept6" => (PolicyAction::Accept, true),
        "reject6" => (PolicyAction::Reject, true),
        _ => {
            return Err(format!(
                "{word:?} is not accept, reject, accept6 or reject6"
            ))
        }
    };
    let pattern = pattern.trim();
    let (addr_text, mask, ports) = split_pattern(pattern)?;
    let mut addr = parse_addr(addr_text, mask)?;
    if v6_only {
        addr = match addr {
            PolicyAddr::Any => PolicyAddr::AnyV6,
            PolicyAddr::AnyV4
            | PolicyAddr::Net {
                addr: IpAddr::V4(_),
                ..
            } => {
                return Err(format!(
                    "{word} applies to IPv6 only, not to an IPv4 pattern"
                ))
            }
            a => a,
        };
    }
    let (port_lo, port_hi) = match ports {
        None | Some("*") => (1, 65535),
        Some(p) => match p.split_once('-') {
            Some((lo, hi)) => (parse_port(lo, false)?, parse_port(hi, false)?),
            None => {
                let p = parse_port(p, false)?;
                (p, p)
            }
        },
    };
    if port_lo > port_hi {
        return Err(format!("empty port range {port_lo}-{port_hi}"));
    }
    Ok(PolicyRule {
        action,
        addr,
        port_lo,
        port_hi,
    })
}

/// `ADDR[/MASK][:PORTS]` → (ADDR, MASK, PORTS).
fn split_pattern(p: &str) -> VResult<(&str, Option<&str>, Option<&str>)> {
    let (addr, rest) = if p.starts_with('[') {
        let end = p.find(']').ok_or("unclosed '[' in IPv6 address")?;
        (p.get(..=end).unwrap_or(p), p.get(end + 1..).unwrap_or(""))
    } else {
        let end = p.find(['/', ':']).unwrap_or(p.len());
        (p.get(..end).unwrap_or(p), p.get(end..).unwrap_or(""))
    };
    let (mask, ports) = match rest.strip_prefix('/') {
        Some(r) => match r.split_once(':') {
            Some((m, ports)) => (Some(m), Some(ports)),
            None => (Some(r), None),
        },
        None if rest.is_empty() => (None, None),
        None => match rest.strip_prefix(':') {
            Some(ports) => (None, Some(ports)),
            None => return Err(format!("unexpected {rest:?} after the address")),
        },
    };
    Ok((addr, mask, ports))
}

fn parse_addr(a: &str, mask: Option<&str>) -> VResult<PolicyAddr> {
    let special = match a.to_ascii_lowercase().as_str() {
        "*" => Some(PolicyAddr::Any),
        "*4" => Some(PolicyAddr::AnyV4),
        "*6" => Some(PolicyAddr::AnyV6),
        "private" => Some(PolicyAddr::Private),
        _ => None,
    };
    if let Some(s) = special {
        return match mask {
            None => Ok(s),
            Some(_) => Err(format!("{a} takes no mask")),
        };
    }
    let addr: IpAddr = if let Some(v6) = a.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
        IpAddr::V6(
            v6.parse()
                .map_err(|_| format!("{v6:?} is not an IPv6 address"))?,
        )
    } else if a.contains(':') {
        return Err("put an IPv6 address in brackets: [ADDR]".into());
    } else {
        IpAddr::V4(
            a.parse()
                .map_err(|_| format!("{a:?} is not an IP address or *"))?,
        )
    };
    let max: u8 = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match mask {
        None => max,
        Some(m) if !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()) => {
            match m.parse::<u8>() {
                Ok(n) if n <= max => n,
                _ => return Err(format!("mask /{m} is longer than {max} bits")),
            }
        }
        Some(m) if addr.is_ipv4() => {
            let bits = u32::from(
                m.parse::<Ipv4Addr>()
                    .map_err(|_| format!("bad mask {m:?}"))?,
            );
            if bits.leading_ones() + bits.trailing_zeros() != 32 {
                return Err(format!("mask {m} is not contiguous"));
            }
            u8::try_from(bits.leading_ones()).map_err(|_| format!("bad mask {m:?}"))?
        }
        Some(m) => return Err(format!("bad mask {m:?}")),
    };
    Ok(PolicyAddr::Net { addr, prefix })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn one(s: &str) -> PolicyRule {
        match parse_exit_policy(s).as_deref() {
            Ok([r]) => *r,
            other => panic!("{s:?}: {other:?}"),
        }
    }

    #[test]
    fn items() {
        let r = one("accept *:80");
        assert_eq!(
            (r.action, r.addr, r.port_lo, r.port_hi),
            (PolicyAction::Accept, PolicyAddr::Any, 80, 80)
        );
        let r = one("reject 10.0.0.0/8:1-1024");
        assert_eq!(
            r.addr,
            PolicyAddr::Net {
                addr: "10.0.0.0"
                    .parse()
                    .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
                prefix: 8
            }
        );
        assert_eq!((r.port_lo, r.port_hi), (1, 1024));
        assert_eq!(
            one("reject 192.168.0.0/255.255.0.0:*").addr,
            one("reject 192.168.0.0/16").addr
        );
        assert_eq!(
            one("reject6 [fc00::]/7:*").to_string(),
            "reject [fc00::]/7:*"
        );
        assert_eq!(one("accept6 *:443").addr, PolicyAddr::AnyV6);
        assert_eq!(one("REJECT private:*").addr, PolicyAddr::Private);
        assert_eq!(one("accept *4:53").to_string(), "accept *4:53");
        assert_eq!(one("accept 1.2.3.4").to_string(), "accept 1.2.3.4:*");
    }

    #[test]
    fn lists() {
        let rules = parse_exit_policy("accept *:80, accept *:443,reject *:*,").unwrap_or_default();
        let shown: Vec<String> = rules.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["accept *:80", "accept *:443", "reject *:*"]);
    }

    #[test]
    fn errors() {
        for bad in [
            "",
            ",",
            "allow *:80",
            "accept",
            "accept *:0",
            "accept *:80-22",
            "accept *:65536",
            "accept 1.2.3:80",
            "accept ::1:80",
            "accept [::1:80",
            "accept 1.2.3.4/33:80",
            "accept 1.2.3.4/255.0.255.0:80",
            "accept */8:80",
            "accept6 1.2.3.4:80",
            "accept6 *4:80",
            "accept *:http",
            "accept *x80",
        ] {
            assert!(parse_exit_policy(bad).is_err(), "{bad:?}");
        }
    }
}
