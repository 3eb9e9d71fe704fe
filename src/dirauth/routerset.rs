//! Router sets as C tor's `routerset.c` reads them in options such as
//! `TestingDirAuthVoteGuard` (tor(1) "node lists"): comma-separated entries, each `*` (every
//! relay), a fingerprint (`$` optional, 40 hex digits, an `=nick`/`~nick` suffix ignored), a
//! nickname (case-insensitive), or an IPv4 address with an optional `/bits` prefix length.
//!
//! Not supported: country codes (`{cc}`) and IPv6 address patterns; they are refused when
//! parsing instead of being silently ignored.

use std::net::Ipv4Addr;

use crate::ids::RsaIdentity;

/// One entry of a router set.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Entry {
    All,
    Fingerprint(RsaIdentity),
    Nickname(String),
    Net(Ipv4Addr, u8),
}

/// A set of relays named by fingerprint, nickname or address.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RouterSet {
    entries: Vec<Entry>,
}

impl RouterSet {
    /// The empty set.
    pub fn empty() -> RouterSet {
        RouterSet::default()
    }

    /// Parses a comma (and/or space) separated list. Errors name the bad entry.
    pub fn parse(s: &str) -> Result<RouterSet, String> {
        let mut entries = Vec::new();
        for w in s.split([',', ' ', '\t']).filter(|w| !w.is_empty()) {
            entries.push(parse_entry(w).ok_or_else(|| format!("bad router set entry {w:?}"))?);
        }
        Ok(RouterSet { entries })
    }

    /// Whether the set has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether the relay with this identity, nickname and address is in the set.
    pub fn contains(&self, id: &RsaIdentity, nickname: &str, addr: Ipv4Addr) -> bool {
        self.entries.iter().any(|e| match e {
            Entry::All => true,
            Entry::Fingerprint(f) => f == id,
            Entry::Nickname(n) => n.eq_ignore_ascii_case(nickname),
            Entry::Net(net, bits) => {
                let mask = if *bits == 0 {
                    0
                } else {
                    u32::MAX << (32 - u32::from(*bits))
                };
                u32::from(*net) & mask == u32::from(addr) & mask
            }
        })
    }
}

fn parse_entry(w: &str) -> Option<Entry> {
    if w == "*" {
        return Some(Entry::All);
    }
    let fp = w.strip_prefix('$').unwrap_or(w);
    let fp = fp.split(['=', '~']).next().unwrap_or(fp);
    if fp.len() == 40 {
        if let Some(id) = RsaIdentity::from_hex(fp) {
            return Some(Entry::Fingerprint(id));
        }
    }
    if w.starts_with('$') {
        return None;
    }
    let (a, bits) = match w.split_once('/') {
        Some((a, b)) => (a, b.parse::<u8>().ok().filter(|b| *b <= 32)?),
        None => (w, 32),
    };
    if let Ok(ip) = a.parse::<Ipv4Addr>() {
        return Some(Entry::Net(ip, bits));
    }
    if (1..=19).contains(&w.len()) && w.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Some(Entry::Nickname(w.to_string()));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries() {
        let id = RsaIdentity([0xAB; 20]);
        let ip: Ipv4Addr = "10.1.2.3".parse().unwrap();
        let all = RouterSet::parse("*").unwrap();
        assert!(all.contains(&id, "x", ip));
        let s = RouterSet::parse(&format!("${}=foo, Alice 10.1.0.0/16", "AB".repeat(20))).unwrap();
        assert!(s.contains(&id, "bob", "1.1.1.1".parse().unwrap()));
        assert!(s.contains(&RsaIdentity([0; 20]), "ALICE", "1.1.1.1".parse().unwrap()));
        assert!(s.contains(&RsaIdentity([0; 20]), "z", ip));
        assert!(!s.contains(&RsaIdentity([0; 20]), "z", "10.2.0.1".parse().unwrap()));
        assert!(RouterSet::parse("").unwrap().is_empty());
        assert!(RouterSet::parse("{us}").is_err());
        assert!(RouterSet::parse("$12").is_err());
        assert!(RouterSet::parse("1.2.3.4/40").is_err());
    }
}
