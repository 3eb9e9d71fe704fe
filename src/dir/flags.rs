//! Router status flags (dir-spec §3.4.1 "known-flags", the `s` line) and exit-policy port
//! summaries (dir-spec §3.8.2, the `p`/`p6` lines of consensuses and microdescriptors).
//!
//! Both are shared by the documents that carry them, the authority that assigns them and
//! the client's path selection that reads them.

use std::fmt;

/// A set of router status flags.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct RelayFlags(u32);

macro_rules! flags {
    ($($(#[$m:meta])* $name:ident = $bit:expr, $text:literal;)*) => {
        impl RelayFlags {
            $($(#[$m])* pub const $name: RelayFlags = RelayFlags(1 << $bit);)*

            /// Every flag with its consensus spelling, in the sorted order consensuses list
            /// them.
            pub const ALL: &'static [(RelayFlags, &'static str)] = &[$((RelayFlags::$name, $text)),*];
        }
    };
}

flags! {
    /// An authority.
    AUTHORITY = 0, "Authority";
    /// Not suitable as an exit.
    BAD_EXIT = 1, "BadExit";
    /// Allows exits to more than a minimal set of ports.
    EXIT = 2, "Exit";
    /// Fast enough for general use.
    FAST = 3, "Fast";
    /// Suitable as an entry guard.
    GUARD = 4, "Guard";
    /// An onion-service directory.
    HSDIR = 5, "HSDir";
    /// Only to be used in the middle position.
    MIDDLE_ONLY = 6, "MiddleOnly";
    /// Its Ed25519 key was not agreed on.
    NO_ED_CONSENSUS = 7, "NoEdConsensus";
    /// Reachable now.
    RUNNING = 8, "Running";
    /// Suitable for long-lived circuits.
    STABLE = 9, "Stable";
    /// Its descriptor is old.
    STALE_DESC = 10, "StaleDesc";
    /// Sybil.
    SYBIL = 11, "Sybil";
    /// Serves directory information over BEGIN_DIR.
    V2DIR = 12, "V2Dir";
    /// Validated.
    VALID = 13, "Valid";
}

impl RelayFlags {
    /// No flags.
    pub const NONE: RelayFlags = RelayFlags(0);

    /// Whether every flag in `other` is set.
    pub fn contains(self, other: RelayFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Sets the flags in `other`.
    pub fn insert(&mut self, other: RelayFlags) {
        self.0 |= other.0;
    }

    /// Clears the flags in `other`.
    pub fn remove(&mut self, other: RelayFlags) {
        self.0 &= !other.0;
    }

    /// The union.
    pub fn union(self, other: RelayFlags) -> RelayFlags {
        RelayFlags(self.0 | other.0)
    }

    /// The flag with this consensus spelling, if known.
    pub fn from_name(name: &str) -> Option<RelayFlags> {
        Self::ALL.iter().find(|(_, n)| *n == name).map(|(f, _)| *f)
    }

    /// Parses the arguments of an `s` line. Unknown flags are ignored (dir-spec: clients
    /// must ignore flags they do not know).
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> RelayFlags {
        let mut f = RelayFlags::NONE;
        for n in names {
            if let Some(x) = Self::from_name(n) {
                f.insert(x);
            }
        }
        f
    }

    /// The set flags' names, in sorted (consensus) order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Self::ALL
            .iter()
            .filter(move |(f, _)| self.contains(*f))
            .map(|(_, n)| *n)
    }
}

impl fmt::Display for RelayFlags {
    /// The `s` line arguments: names separated by single spaces.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for n in self.names() {
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            f.write_str(n)?;
        }
        Ok(())
    }
}

impl fmt::Debug for RelayFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RelayFlags({self})")
    }
}

/// An exit-policy summary: `accept 80,443,6660-6669` or `reject 1-65535`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PortSummary {
    /// `accept` (the ranges are the ports allowed) or `reject` (the ranges are refused,
    /// everything else allowed).
    pub accept: bool,
    /// Sorted, non-overlapping inclusive ranges.
    pub ranges: Vec<(u16, u16)>,
}

impl PortSummary {
    /// The summary of a relay that exits nowhere (`reject 1-65535`).
    pub fn reject_all() -> PortSummary {
        PortSummary {
            accept: false,
            ranges: vec![(1, 65535)],
        }
    }

    /// Whether a connection to `port` at a typical address is allowed.
    pub fn allows(&self, port: u16) -> bool {
        let listed = self.ranges.iter().any(|&(lo, hi)| lo <= port && port <= hi);
        listed == self.accept
    }

    /// Whether no port at all is allowed.
    pub fn allows_none(&self) -> bool {
        if self.accept {
            self.ranges.is_empty()
        } else {
            self.ranges.first() == Some(&(1, 65535))
        }
    }

    /// Parses the two arguments of a `p` line (`accept`/`reject`, the port list).
    pub fn parse(action: &str, list: &str) -> Option<PortSummary> {
        let accept = match action {
            "accept" => true,
            "reject" => false,
            _ => return None,
        };
        let mut ranges: Vec<(u16, u16)> = Vec::new();
        for part in list.split(',') {
            let (lo, hi) = match part.split_once('-') {
                Some((a, b)) => (a.parse().ok()?, b.parse().ok()?),
                None => {
                    let p: u16 = part.parse().ok()?;
                    (p, p)
                }
            };
            if lo == 0 || lo > hi {
                return None;
            }
            if let Some(&(_, prev_hi)) = ranges.last() {
                if lo <= prev_hi {
                    return None;
                }
            }
            ranges.push((lo, hi));
        }
        Some(PortSummary { accept, ranges })
    }
}

impl fmt::Display for PortSummary {
    /// `accept 80,443` / `reject 1-65535` (the arguments of a `p` line).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.accept { "accept " } else { "reject " })?;
        for (i, &(lo, hi)) in self.ranges.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            if lo == hi {
                write!(f, "{lo}")?;
            } else {
                write!(f, "{lo}-{hi}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_round_trip_in_sorted_order() {
        let f = RelayFlags::from_names("Valid Running Fast Unknown Exit".split(' '));
        assert_eq!(f.to_string(), "Exit Fast Running Valid");
        assert!(f.contains(RelayFlags::RUNNING.union(RelayFlags::VALID)));
        assert!(!f.contains(RelayFlags::GUARD));
        let names: Vec<&str> = RelayFlags::ALL.iter().map(|(_, n)| *n).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted);
    }

    #[test]
    fn port_summaries() {
        let p = PortSummary::parse("accept", "22,80,443,6660-6669").unwrap();
        assert!(p.allows(80) && p.allows(6665) && !p.allows(81));
        assert_eq!(p.to_string(), "accept 22,80,443,6660-6669");
        let r = PortSummary::parse("reject", "1-65535").unwrap();
        assert!(r.allows_none() && !r.allows(80));
        assert_eq!(r, PortSummary::reject_all());
        let r2 = PortSummary::parse("reject", "25,119").unwrap();
        assert!(r2.allows(80) && !r2.allows(25));
        for bad in [
            ("accept", "0"),
            ("allow", "1"),
            ("accept", "5-4"),
            ("accept", "80,22"),
            ("accept", ""),
        ] {
            assert!(PortSummary::parse(bad.0, bad.1).is_none(), "{bad:?}");
        }
    }
}
