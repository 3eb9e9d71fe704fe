//! Exit policies as directory documents carry them: the `accept`/`reject` lines of a router
//! descriptor (dir-spec §2.1.3, "exit-pattern") and the port summaries of consensuses and
//! microdescriptors (dir-spec §3.8.2 "policy summary", the `p`/`p6` lines; C tor's
//! `policy_summarize`).
//!
//! [`summarize`] follows C tor's algorithm exactly: starting from "every port rejected", an
//! `accept` of *every* address for a port range accepts those ports unless, by then, more
//! than 2^25 IPv4 addresses (two /8s' worth) were rejected for them; `reject` items count the
//! addresses they cover, except those exactly matching one of C tor's private networks.
//! Accepts of anything smaller than all addresses are ignored. The shorter of the accept and
//! reject port lists wins (ties: accept), truncated at a comma to fit 1000 bytes.
//!
//! What a rule's `*` means depends on where it is written: in a descriptor `accept *:80` is
//! IPv4 only ([`parse_desc_rule`] gives [`PolicyAddr::AnyV4`]), in a torrc it is both
//! families ([`PolicyAddr::Any`]). Not here: evaluating a policy against a destination (the
//! exit's job) and expanding `private` for a relay's own addresses (the config's).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::config::{PolicyAction, PolicyAddr, PolicyRule};
use crate::dir::flags::PortSummary;

/// C tor's `MAX_EXITPOLICY_SUMMARY_LEN`: the longest `p` line argument text.
pub const MAX_SUMMARY_LEN: usize = 1000;

/// C tor's `private_nets`: a `reject` of exactly one of these is left out of summaries.
const PRIVATE_V4: [([u8; 4], u8); 6] = [
    ([0, 0, 0, 0], 8),
    ([169, 254, 0, 0], 16),
    ([127, 0, 0, 0], 8),
    ([192, 168, 0, 0], 16),
    ([10, 0, 0, 0], 8),
    ([172, 16, 0, 0], 12),
];

/// The IPv6 half of C tor's `private_nets`.
const PRIVATE_V6: [(u16, u8); 6] = [
    (0x0000, 8),
    (0xfc00, 7),
    (0xfe80, 10),
    (0xfec0, 10),
    (0xff00, 8),
    (0x0000, 127),
];

/// The private networks as policy addresses (what `private` expands to, without the relay's
/// own addresses), IPv4 first, in C tor's order.
pub fn private_nets() -> Vec<PolicyAddr> {
    let v4 = PRIVATE_V4.iter().map(|&(a, prefix)| PolicyAddr::Net {
        addr: IpAddr::V4(Ipv4Addr::from(a)),
        prefix,
    });
    let v6 = PRIVATE_V6.iter().map(|&(hi, prefix)| PolicyAddr::Net {
        addr: IpAddr::V6(Ipv6Addr::new(hi, 0, 0, 0, 0, 0, 0, 0)),
        prefix,
    });
    v4.chain(v6).collect()
}

/// Which address family a summary is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    V4,
    V6,
}

/// One rule as C tor holds it after expanding `*` and `private`: a family, a prefix length
/// and whether it is exactly one of the private networks.
struct Entry {
    family: Family,
    maskbits: u8,
    private: bool,
}

fn entries(addr: &PolicyAddr) -> Vec<Entry> {
    let e = |family, maskbits, private| Entry {
        family,
        maskbits,
        private,
    };
    match *addr {
        PolicyAddr::Any => vec![e(Family::V4, 0, false), e(Family::V6, 0, false)],
        PolicyAddr::AnyV4 => vec![e(Family::V4, 0, false)],
        PolicyAddr::AnyV6 => vec![e(Family::V6, 0, false)],
        PolicyAddr::Private => private_nets()
            .iter()
            .flat_map(entries)
            .map(|mut x| {
                x.private = true;
                x
            })
            .collect(),
        PolicyAddr::Net {
            addr: IpAddr::V4(a),
            prefix,
        } => {
            let private = PRIVATE_V4
                .iter()
                .any(|&(n, p)| p == prefix && Ipv4Addr::from(n) == a);
            vec![e(Family::V4, prefix, private)]
        }
        PolicyAddr::Net {
            addr: IpAddr::V6(a),
            prefix,
        } => {
            let private = PRIVATE_V6
                .iter()
                .any(|&(n, p)| p == prefix && Ipv6Addr::new(n, 0, 0, 0, 0, 0, 0, 0) == a);
            vec![e(Family::V6, prefix, private)]
        }
    }
}

/// One port range of the summary being built.
#[derive(Clone, Copy)]
struct Item {
    lo: u16,
    hi: u16,
    rejects: u64,
    accepted: bool,
}

/// Splits the items so that `lo` starts one and `hi` ends one; returns the index of the
/// item starting at `lo`.
fn split(items: &mut Vec<Item>, lo: u16, hi: u16) -> usize {
    let mut i = items.iter().position(|it| it.hi >= lo).unwrap_or(0);
    if let Some(&it) = items.get(i) {
        if it.lo != lo {
            if let Some(old) = items.get_mut(i) {
                old.hi = lo - 1;
            }
            items.insert(i + 1, Item { lo, ..it });
            i += 1;
        }
    }
    let start = i;
    let mut j = start;
    while items.get(j).is_some_and(|it| it.hi < hi) {
        j += 1;
    }
    if let Some(&it) = items.get(j) {
        if it.hi != hi {
            if let Some(old) = items.get_mut(j) {
                old.hi = hi;
            }
            items.insert(j + 1, Item { lo: hi + 1, ..it });
        }
    }
    start
}

/// The dir-spec §3.8.2 summary of the IPv4 part of `rules` (C tor's
/// `policy_summarize(.., AF_INET)`), as in consensus and microdescriptor `p` lines.
pub fn summarize(rules: &[PolicyRule]) -> PortSummary {
    summarize_family(rules, Family::V4)
}

/// The summary of the IPv6 part of `rules` (C tor's `policy_summarize(.., AF_INET6)`): the
/// `ipv6-policy` a relay publishes.
pub fn summarize_v6(rules: &[PolicyRule]) -> PortSummary {
    summarize_family(rules, Family::V6)
}

fn summarize_family(rules: &[PolicyRule], family: Family) -> PortSummary {
    // Rejections of more than this many addresses (IPv4: two /8s; IPv6: counted in /64s, one
    // /16) reject the port in the summary.
    let (bits, scale, cutoff): (u32, u32, u64) = match family {
        Family::V4 => (32, 0, 1 << 25),
        Family::V6 => (128, 64, 1 << 48),
    };
    let mut items = vec![Item {
        lo: 1,
        hi: 65535,
        rejects: 0,
        accepted: false,
    }];
    for rule in rules {
        // Port 0 never appears in a summary.
        let (lo, hi) = (rule.port_lo.max(1), rule.port_hi);
        if lo > hi {
            continue;
        }
        for e in entries(&rule.addr)
            .into_iter()
            .filter(|e| e.family == family)
        {
            match rule.action {
                PolicyAction::Accept => {
                    if e.maskbits != 0 {
                        continue;
                    }
                    let mut i = split(&mut items, lo, hi);
                    while let Some(it) = items.get_mut(i).filter(|it| it.hi <= hi) {
                        if !it.accepted && it.rejects <= cutoff {
                            it.accepted = true;
                        }
                        i += 1;
                    }
                }
                PolicyAction::Reject => {
                    if e.private {
                        continue;
                    }
                    let mask = u32::from(e.maskbits);
                    if mask > bits - scale {
                        // Too small to ever count (IPv6 longer than /64).
                        continue;
                    }
                    let shift = bits - scale - mask;
                    let count = if shift >= 64 { u64::MAX } else { 1u64 << shift };
                    let mut i = split(&mut items, lo, hi);
                    while let Some(it) = items.get_mut(i).filter(|it| it.hi <= hi) {
                        it.rejects = it.rejects.saturating_add(count);
                        i += 1;
                    }
                }
            }
        }
    }
    // Merge neighbours with the same verdict into accept and reject lists.
    let mut accepts: Vec<(u16, u16)> = Vec::new();
    let mut rejects: Vec<(u16, u16)> = Vec::new();
    for it in &items {
        let list = if it.accepted {
            &mut accepts
        } else {
            &mut rejects
        };
        match list.last_mut() {
            Some(last) if u32::from(last.1) + 1 == u32::from(it.lo) => last.1 = it.hi,
            _ => list.push((it.lo, it.hi)),
        }
    }
    if accepts.is_empty() {
        return PortSummary::reject_all();
    }
    if rejects.is_empty() {
        return PortSummary {
            accept: true,
            ranges: vec![(1, 65535)],
        };
    }
    let a_len = list_len(&accepts);
    let r_len = list_len(&rejects);
    let limit = MAX_SUMMARY_LEN - "accept".len() - 1;
    if a_len > limit && r_len > limit {
        // Both too long: the accept list, cut at the last comma that fits.
        let mut kept = Vec::new();
        let mut len = 0usize;
        for r in accepts {
            let add = range_len(r) + usize::from(!kept.is_empty());
            // C tor cuts at the last comma at or before byte `limit` of the joined list:
            // an entry stays if the comma after it is there.
            if len + add > limit {
                break;
            }
            len += add;
            kept.push(r);
        }
        return PortSummary {
            accept: true,
            ranges: kept,
        };
    }
    if r_len < a_len {
        PortSummary {
            accept: false,
            ranges: rejects,
        }
    } else {
        PortSummary {
            accept: true,
            ranges: accepts,
        }
    }
}

fn range_len((lo, hi): (u16, u16)) -> usize {
    if lo == hi {
        lo.to_string().len()
    } else {
        lo.to_string().len() + 1 + hi.to_string().len()
    }
}

fn list_len(list: &[(u16, u16)]) -> usize {
    list.iter().map(|&r| range_len(r)).sum::<usize>() + list.len().saturating_sub(1)
}

/// Why a descriptor policy line could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// Not `accept`, `reject`, `accept6` or `reject6`.
    #[error("unknown policy keyword {0:?}")]
    Keyword(String),
    /// The pattern was malformed.
    #[error("bad exit pattern {pattern:?}: {why}")]
    Pattern {
        /// The pattern as written.
        pattern: String,
        /// What was wrong.
        why: &'static str,
    },
}

/// Parses one exit-policy item of a router descriptor (`accept 1.2.3.0/24:80-88`, dir-spec
/// §2.1.3): `keyword` is `accept`/`reject` (IPv4 rules, where `*` means every IPv4 address)
/// or `accept6`/`reject6` (IPv6, `*` meaning every IPv6 address); `pattern` is
/// `ADDR[/MASK][:PORT[-PORT]]` with `*` for all ports; masks may be dotted for IPv4.
pub fn parse_desc_rule(keyword: &str, pattern: &str) -> Result<PolicyRule, PolicyError> {
    let (action, v6) = match keyword {
        "accept" => (PolicyAction::Accept, false),
        "reject" => (PolicyAction::Reject, false),
        "accept6" => (PolicyAction::Accept, true),
        "reject6" => (PolicyAction::Reject, true),
        k => return Err(PolicyError::Keyword(k.to_string())),
    };
    let bad = |why| PolicyError::Pattern {
        pattern: pattern.to_string(),
        why,
    };
    // Split off the ports at the last ':' outside brackets.
    let (addr_mask, ports) = match pattern.rfind(':') {
        Some(i) if !pattern.get(i..).is_some_and(|s| s.contains(']')) => (
            pattern.get(..i).ok_or_else(|| bad("bad split"))?,
            pattern.get(i + 1..).ok_or_else(|| bad("bad split"))?,
        ),
        _ => return Err(bad("missing :PORT")),
    };
    let (port_lo, port_hi) = parse_ports(ports).ok_or_else(|| bad("bad port range"))?;
    let (addr_text, mask) = match addr_mask.split_once('/') {
        Some((a, m)) => (a, Some(m)),
        None => (addr_mask, None),
    };
    let addr = if addr_text == "*" {
        if mask.is_some() {
            return Err(bad("* takes no mask"));
        }
        if v6 {
            PolicyAddr::AnyV6
        } else {
            PolicyAddr::AnyV4
        }
    } else if addr_text == "private" {
        if mask.is_some() {
            return Err(bad("private takes no mask"));
        }
        PolicyAddr::Private
    } else if let Some(inner) = addr_text
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
    {
        let a: Ipv6Addr = inner.parse().map_err(|_| bad("bad IPv6 address"))?;
        let prefix = match mask {
            None => 128,
            Some(m) => parse_prefix(m, 128).ok_or_else(|| bad("bad IPv6 mask"))?,
        };
        PolicyAddr::Net {
            addr: IpAddr::V6(a),
            prefix,
        }
    } else {
        if v6 {
            return Err(bad("IPv4 address in an IPv6 rule"));
        }
        let a: Ipv4Addr = addr_text.parse().map_err(|_| bad("bad IPv4 address"))?;
        let prefix = match mask {
            None => 32,
            Some(m) => match parse_prefix(m, 32) {
                Some(p) => p,
                None => {
                    let bits = u32::from(m.parse::<Ipv4Addr>().map_err(|_| bad("bad mask"))?);
                    if bits.leading_ones() + bits.trailing_zeros() != 32 {
                        return Err(bad("mask is not contiguous"));
                    }
                    u8::try_from(bits.leading_ones()).map_err(|_| bad("bad mask"))?
                }
            },
        };
        PolicyAddr::Net {
            addr: IpAddr::V4(a),
            prefix,
        }
    };
    Ok(PolicyRule {
        action,
        addr,
        port_lo,
        port_hi,
    })
}

fn parse_prefix(m: &str, max: u8) -> Option<u8> {
    if m.is_empty() || m.len() > 3 || !m.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    m.parse::<u8>().ok().filter(|&p| p <= max)
}

fn parse_ports(p: &str) -> Option<(u16, u16)> {
    let num = |s: &str| -> Option<u16> {
        if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    if p == "*" {
        return Some((1, 65535));
    }
    let (lo, hi) = match p.split_once('-') {
        Some((a, b)) => (num(a)?, num(b)?),
        None => {
            let x = num(p)?;
            (x, x)
        }
    };
    (lo <= hi && hi != 0).then_some((lo, hi))
}

/// Formats a rule as a router descriptor line's arguments would (C tor's
/// `policy_write_item(.., format_for_desc)`): `None` for rules a descriptor's IPv4 policy
/// leaves out (IPv6-only rules, which go to `ipv6-policy`). `Private` becomes its IPv4
/// networks, so one rule may give several lines.
pub fn desc_lines(rule: &PolicyRule) -> Vec<String> {
    let action = match rule.action {
        PolicyAction::Accept => "accept",
        PolicyAction::Reject => "reject",
    };
    let ports = match (rule.port_lo, rule.port_hi) {
        (0 | 1, 65535) => "*".to_string(),
        (lo, hi) if lo == hi => lo.to_string(),
        (lo, hi) => format!("{lo}-{hi}"),
    };
    let addrs: Vec<String> = match rule.addr {
        PolicyAddr::Any | PolicyAddr::AnyV4 => vec!["*".into()],
        PolicyAddr::AnyV6
        | PolicyAddr::Net {
            addr: IpAddr::V6(_),
            ..
        } => vec![],
        PolicyAddr::Private => PRIVATE_V4
            .iter()
            .map(|&(a, p)| format!("{}/{p}", Ipv4Addr::from(a)))
            .collect(),
        PolicyAddr::Net {
            addr: IpAddr::V4(_),
            prefix: 0,
        } => vec!["*".into()],
        PolicyAddr::Net {
            addr: IpAddr::V4(a),
            prefix: 32,
        } => vec![a.to_string()],
        PolicyAddr::Net {
            addr: IpAddr::V4(a),
            prefix,
        } => vec![format!("{a}/{prefix}")],
    };
    addrs
        .into_iter()
        .map(|a| format!("{action} {a}:{ports}"))
        .collect()
}

/// Whether `rule` rejects every IPv4 address on every port (a descriptor policy's end).
pub fn is_reject_all_v4(rule: &PolicyRule) -> bool {
    rule.action == PolicyAction::Reject
        && matches!(
            rule.addr,
            PolicyAddr::Any
                | PolicyAddr::AnyV4
                | PolicyAddr::Net {
                    addr: IpAddr::V4(_),
                    prefix: 0
                }
        )
        && rule.port_lo <= 1
        && rule.port_hi == 65535
}

#[cfg(test)]
mod tests;
