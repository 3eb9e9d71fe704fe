//! Exit-policy evaluation: may this relay open a stream to `addr:port`? (tor(1)
//! "ExitPolicy", "ExitPolicyRejectPrivate"; dir-spec §2.1.3 item semantics; C tor
//! `policies.c` first-match rule.)
//!
//! Rules are the typed `accept`/`reject` items of [`crate::config::PolicyRule`], checked in
//! order; the first that matches decides. Differences from C tor, deliberate:
//!
//! - the default is **not an exit**: an empty policy, or `ExitRelay 0`, rejects everything,
//!   and no rule matching also rejects (C tor appends its default port list; we do not);
//! - a **private target** (loopback, RFC 1918, link-local, unique-local, unspecified,
//!   CGNAT) is refused unless a rule naming it explicitly (an address/prefix that covers it,
//!   or `private`) accepts it; `*`, `*4`, `*6` never accept one. With
//!   `ExitPolicyRejectPrivate 1` (the default) private targets are refused outright.
//!
//! Deliberately not here: our own public addresses in `private` (the runtime knows them),
//! the IPv6-exit switch, and summarising a policy for descriptors.

use std::net::IpAddr;

use crate::config::{AutoBool, PolicyAction, PolicyAddr, PolicyRule, RelayConfig};

/// A relay's exit policy, ready to evaluate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExitPolicy {
    rules: Vec<PolicyRule>,
    reject_private: bool,
}

/// The outcome of evaluating a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitDecision {
    /// Open the stream.
    Accept,
    /// Refuse it with END EXITPOLICY.
    Reject,
}

impl ExitPolicy {
    /// Not an exit.
    pub fn reject_all() -> Self {
        ExitPolicy::default()
    }

    /// A policy from rules; `reject_private` as `ExitPolicyRejectPrivate`.
    pub fn new(rules: Vec<PolicyRule>, reject_private: bool) -> Self {
        ExitPolicy {
            rules,
            reject_private,
        }
    }

    /// The policy a relay configuration asks for: not an exit unless `ExitRelay` is not 0
    /// and `ExitPolicy` lines are given.
    pub fn from_config(c: &RelayConfig) -> Self {
        if c.exit_relay == AutoBool::No {
            return Self::reject_all();
        }
        Self::new(c.exit_policy.clone(), c.exit_policy_reject_private)
    }

    /// True if no destination at all is accepted (C tor `policy_is_reject_star`): the rules
    /// accept nothing before a catch-all reject, or there are none.
    pub fn is_reject_star(&self) -> bool {
        !self.rules.iter().any(|r| r.action == PolicyAction::Accept)
    }

    /// Decides for a destination.
    pub fn decide(&self, addr: IpAddr, port: u16) -> ExitDecision {
        let private = is_private(addr);
        if private && self.reject_private {
            return ExitDecision::Reject;
        }
        for r in &self.rules {
            if !(r.port_lo..=r.port_hi).contains(&port) || !addr_matches(r.addr, addr) {
                continue;
            }
            let explicit = !matches!(
                r.addr,
                PolicyAddr::Any | PolicyAddr::AnyV4 | PolicyAddr::AnyV6
            );
            return match r.action {
                PolicyAction::Accept if !private || explicit => ExitDecision::Accept,
                _ => ExitDecision::Reject,
            };
        }
        ExitDecision::Reject
    }
}

fn addr_matches(pat: PolicyAddr, addr: IpAddr) -> bool {
    match pat {
        PolicyAddr::Any => true,
        PolicyAddr::AnyV4 => addr.is_ipv4(),
        PolicyAddr::AnyV6 => addr.is_ipv6(),
        PolicyAddr::Private => is_private(addr),
        PolicyAddr::Net { addr: net, prefix } => in_prefix(net, prefix, addr),
    }
}

fn in_prefix(net: IpAddr, prefix: u8, addr: IpAddr) -> bool {
    match (net, addr) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let p = u32::from(prefix.min(32));
            let mask = if p == 0 { 0 } else { u32::MAX << (32 - p) };
            u32::from(n) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let p = u32::from(prefix.min(128));
            let mask = if p == 0 { 0 } else { u128::MAX << (128 - p) };
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

/// Tor's "internal" addresses (C tor `tor_addr_is_internal`): loopback, RFC 1918,
/// link-local, CGNAT (100.64/10), unspecified, IPv6 unique-local and site-local, and
/// IPv4-mapped forms of those.
pub fn is_private(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(a) => {
            let o = a.octets();
            a.is_loopback()
                || a.is_private()
                || a.is_link_local()
                || a.is_unspecified()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
        }
        IpAddr::V6(a) => {
            if let Some(v4) = a.to_ipv4_mapped() {
                return is_private(IpAddr::V4(v4));
            }
            let s = a.segments();
            a.is_loopback()
                || a.is_unspecified()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] & 0xffc0) == 0xfec0
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn rule(action: PolicyAction, addr: PolicyAddr, lo: u16, hi: u16) -> PolicyRule {
        PolicyRule {
            action,
            addr,
            port_lo: lo,
            port_hi: hi,
        }
    }

    #[test]
    fn default_is_not_an_exit() {
        let p = ExitPolicy::default();
        assert!(p.is_reject_star());
        assert_eq!(
            p.decide("8.8.8.8".parse().unwrap(), 80),
            ExitDecision::Reject
        );
    }

    #[test]
    fn first_match_and_ports() {
        let p = ExitPolicy::new(
            vec![
                rule(PolicyAction::Reject, PolicyAddr::Any, 25, 25),
                rule(PolicyAction::Accept, PolicyAddr::Any, 1, 65535),
            ],
            true,
        );
        assert!(!p.is_reject_star());
        assert_eq!(
            p.decide("8.8.8.8".parse().unwrap(), 80),
            ExitDecision::Accept
        );
        assert_eq!(
            p.decide("8.8.8.8".parse().unwrap(), 25),
            ExitDecision::Reject
        );
        assert_eq!(p.decide("::1".parse().unwrap(), 80), ExitDecision::Reject);
    }

    #[test]
    fn loopback_needs_an_explicit_rule() {
        let wild = ExitPolicy::new(
            vec![rule(PolicyAction::Accept, PolicyAddr::Any, 1, 65535)],
            false,
        );
        assert_eq!(
            wild.decide("127.0.0.1".parse().unwrap(), 80),
            ExitDecision::Reject
        );
        assert_eq!(
            wild.decide("10.1.2.3".parse().unwrap(), 80),
            ExitDecision::Reject
        );
        let explicit = ExitPolicy::new(
            vec![rule(
                PolicyAction::Accept,
                PolicyAddr::Net {
                    addr: "127.0.0.0".parse().unwrap(),
                    prefix: 8,
                },
                1,
                65535,
            )],
            false,
        );
        assert_eq!(
            explicit.decide("127.0.0.1".parse().unwrap(), 80),
            ExitDecision::Accept
        );
        assert_eq!(
            explicit.decide("8.8.8.8".parse().unwrap(), 80),
            ExitDecision::Reject
        );
        let private = ExitPolicy::new(
            vec![rule(PolicyAction::Accept, PolicyAddr::Private, 80, 80)],
            false,
        );
        assert_eq!(
            private.decide("::1".parse().unwrap(), 80),
            ExitDecision::Accept
        );
        assert_eq!(
            private.decide("::1".parse().unwrap(), 81),
            ExitDecision::Reject
        );
        // ExitPolicyRejectPrivate wins over an explicit accept.
        let rp = ExitPolicy::new(explicit.rules.clone(), true);
        assert_eq!(
            rp.decide("127.0.0.1".parse().unwrap(), 80),
            ExitDecision::Reject
        );
    }

    #[test]
    fn private_ranges() {
        for a in [
            "127.1.2.3",
            "10.0.0.1",
            "192.168.1.1",
            "172.16.0.1",
            "169.254.1.1",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_private(a.parse().unwrap()), "{a}");
        }
        for a in ["8.8.8.8", "100.128.0.1", "2001:db8::1", "172.32.0.1"] {
            assert!(!is_private(a.parse().unwrap()), "{a}");
        }
    }
}
