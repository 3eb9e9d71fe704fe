#![allow(clippy::unwrap_used)]

use super::*;

/// Parses torrc-style policy items as C tor's test helper feeds them: `*` means both
/// families, a missing port part means all ports, `reject6` addresses may lack brackets.
fn torrc_policy(s: &str) -> Vec<PolicyRule> {
    s.split(',')
        .map(|item| {
            let (kw, pat) = item.split_once(' ').unwrap();
            let six = kw.ends_with('6');
            let mut pat = pat.to_string();
            if six && !pat.starts_with('[') && pat != "*" && !pat.starts_with("*:") {
                let (a, m) = pat.split_once('/').unwrap();
                pat = format!("[{a}]/{m}");
            }
            let has_port = if let Some(i) = pat.rfind(']') {
                pat[i..].contains(':')
            } else {
                pat.contains(':')
            };
            if !has_port {
                pat.push_str(":*");
            }
            let mut r = parse_desc_rule(kw, &pat).unwrap();
            if r.addr == PolicyAddr::AnyV4 {
                r.addr = PolicyAddr::Any;
            }
            r
        })
        .collect()
}

fn expand(policy: &str) -> String {
    if let Some(n) = policy.strip_prefix("@ODD1-") {
        let n: u16 = n.parse().unwrap();
        let mut v: Vec<String> = (1..=n)
            .step_by(2)
            .map(|p| format!("accept *:{p}"))
            .collect();
        v.push("reject *:*".into());
        v.join(",")
    } else if policy == "@TRUNC" {
        let mut v: Vec<String> = (1..2000)
            .step_by(2)
            .map(|p| format!("reject *:{p}"))
            .collect();
        v.push("accept *:*".into());
        v.join(",")
    } else {
        policy.to_string()
    }
}

#[test]
fn ctor_summary_vectors() {
    let text = include_str!("../../../../tests/vectors/policy_summaries.txt");
    let mut n = 0;
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let mut parts = line.split('\t');
        let (policy, v4, v6) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        let rules = torrc_policy(&expand(policy));
        assert_eq!(summarize(&rules).to_string(), v4, "IPv4 of {policy}");
        assert_eq!(summarize_v6(&rules).to_string(), v6, "IPv6 of {policy}");
        // The summary is a valid `p` line that reads back the same.
        let (a, l) = v4.split_once(' ').unwrap();
        assert_eq!(PortSummary::parse(a, l).unwrap().to_string(), v4);
        n += 1;
    }
    assert_eq!(n, 20);
}

#[test]
fn descriptor_rules_parse_and_format() {
    for (kw, pat, line) in [
        ("accept", "*:80", "accept *:80"),
        ("reject", "*:*", "reject *:*"),
        ("reject", "10.0.0.0/8:*", "reject 10.0.0.0/8:*"),
        (
            "reject",
            "10.0.0.0/255.0.0.0:1-1024",
            "reject 10.0.0.0/8:1-1024",
        ),
        ("accept", "1.2.3.4:443", "accept 1.2.3.4:443"),
        ("accept", "0.0.0.0/0:22", "accept *:22"),
    ] {
        let r = parse_desc_rule(kw, pat).unwrap();
        assert_eq!(desc_lines(&r), [line], "{kw} {pat}");
    }
    let r = parse_desc_rule("accept6", "[2001:db8::]/32:80").unwrap();
    assert!(desc_lines(&r).is_empty());
    assert!(is_reject_all_v4(&parse_desc_rule("reject", "*:*").unwrap()));
    assert!(!is_reject_all_v4(
        &parse_desc_rule("reject", "*:1-100").unwrap()
    ));
    let private = PolicyRule {
        action: PolicyAction::Reject,
        addr: PolicyAddr::Private,
        port_lo: 1,
        port_hi: 65535,
    };
    assert_eq!(desc_lines(&private).len(), 6);
    for bad in [
        ("allow", "*:80"),
        ("accept", "*"),
        ("accept", "*:0"),
        ("accept", "*:80-22"),
        ("accept", "*:65536"),
        ("accept", "1.2.3:80"),
        ("accept", "1.2.3.4/33:80"),
        ("accept", "1.2.3.4/255.0.255.0:80"),
        ("accept", "*/8:80"),
        ("accept6", "1.2.3.4:80"),
        ("accept", "[::1:80"),
        ("accept", "*:http"),
    ] {
        assert!(parse_desc_rule(bad.0, bad.1).is_err(), "{bad:?}");
    }
}

#[test]
fn private_rules_do_not_count() {
    let mut rules = torrc_policy("accept *:80,reject *:*");
    rules.insert(
        0,
        PolicyRule {
            action: PolicyAction::Reject,
            addr: PolicyAddr::Private,
            port_lo: 1,
            port_hi: 65535,
        },
    );
    assert_eq!(summarize(&rules).to_string(), "accept 80");
    assert_eq!(summarize_v6(&rules).to_string(), "accept 80");
    assert_eq!(summarize(&[]).to_string(), "reject 1-65535");
}

proptest::proptest! {
    #[test]
    fn summaries_never_panic_and_parse_back(
        spec in proptest::collection::vec((proptest::bool::ANY, 0u8..=32, 0u16..=65535, 0u16..=65535, 0u8..3), 0..40)
    ) {
        let rules: Vec<PolicyRule> = spec.iter().map(|&(acc, mask, a, b, kind)| PolicyRule {
            action: if acc { PolicyAction::Accept } else { PolicyAction::Reject },
            addr: match kind {
                0 => PolicyAddr::Any,
                1 => PolicyAddr::Net { addr: IpAddr::V4(Ipv4Addr::new(9, 0, 0, 0)), prefix: mask },
                _ => PolicyAddr::Net { addr: IpAddr::V6(Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0)), prefix: mask * 4 },
            },
            port_lo: a.min(b),
            port_hi: a.max(b),
        }).collect();
        for s in [summarize(&rules), summarize_v6(&rules)] {
            let text = s.to_string();
            proptest::prop_assert!(text.len() <= MAX_SUMMARY_LEN);
            let (a, l) = text.split_once(' ').unwrap();
            proptest::prop_assert_eq!(PortSummary::parse(a, l), Some(s));
        }
    }
}
