use super::*;

/// A test-only reader of `accept|reject ADDR[/BITS]:PORT[-PORT]` items, comma separated.
fn parse_exit_policy(s: &str) -> Result<Vec<PolicyRule>, ()> {
    s.split(',')
        .map(|item| {
            let (act, rest) = item.trim().split_once(' ').ok_or(())?;
            let action = if act == "accept" {
                PolicyAction::Accept
            } else {
                PolicyAction::Reject
            };
            let (a, ports) = rest.rsplit_once(':').ok_or(())?;
            let addr = if a == "*" {
                PolicyAddr::Any
            } else {
                let (ip, bits) = a.split_once('/').unwrap_or((a, "32"));
                PolicyAddr::Net {
                    addr: ip.parse().map_err(|_| ())?,
                    prefix: bits.parse().map_err(|_| ())?,
                }
            };
            let (lo, hi) = if ports == "*" {
                (1, 65535)
            } else {
                let (l, h) = ports.split_once('-').unwrap_or((ports, ports));
                (l.parse().map_err(|_| ())?, h.parse().map_err(|_| ())?)
            };
            Ok(PolicyRule {
                action,
                addr,
                port_lo: lo,
                port_hi: hi,
            })
        })
        .collect()
}

const NOW: u64 = 1_795_219_200;

fn rec(n: u8, bw: u64, uptime: u64, exit: bool) -> RelayRecord {
    let policy = if exit { "accept *:*" } else { "reject *:*" };
    let mut h = History::new(NOW - 100);
    h.note_reachable(NOW - 50);
    h.note_reachable(NOW - 5);
    RelayRecord {
        rsa_id: RsaIdentity([n; 20]),
        nickname: format!("relay{n}"),
        ipv4: Ipv4Addr::new(127, 0, 0, 1),
        published: NOW - 60,
        uptime,
        bandwidth_rate: bw,
        bandwidth_observed: bw,
        exit_policy: parse_exit_policy(policy).unwrap(),
        tunnelled_dir_server: true,
        hidden_service_dir: true,
        is_authority: false,
        is_me: false,
        history: h,
    }
}

#[test]
fn general_exit_rules() {
    let p = |s: &str| parse_exit_policy(s).unwrap();
    assert!(is_general_exit(&p("accept *:*"), false));
    assert!(!is_general_exit(&p("accept *:80,reject *:*"), false));
    assert!(is_general_exit(
        &p("accept *:80,accept *:443,reject *:*"),
        false
    ));
    // Narrower than /8: not general.
    assert!(!is_general_exit(
        &p("accept 1.2.0.0/16:*,reject *:*"),
        false
    ));
    assert!(is_general_exit(&p("accept 1.0.0.0/8:*,reject *:*"), false));
    // 127/8 counts only in test networks.
    assert!(!is_general_exit(
        &p("accept 127.0.0.0/8:*,reject *:*"),
        false
    ));
    assert!(is_general_exit(&p("accept 127.0.0.0/8:*,reject *:*"), true));
    // A reject of every /8 first.
    assert!(!is_general_exit(&p("reject *:80,accept *:*"), false));
    assert!(rejects_all(&p("reject *:*")));
    assert!(!rejects_all(&p("reject 1.2.3.4:*,accept *:22,reject *:*")));
}

#[test]
fn thresholds_worked() {
    // Nine active relays, bandwidths 10..90 kB/s, uptimes 100..900 s.
    let rs: Vec<RelayRecord> = (1..=9u8)
        .map(|i| rec(i, u64::from(i) * 10_000, u64::from(i) * 100, i > 6))
        .collect();
    let th = compute_thresholds(&rs, NOW, &FlagOptions::default_net());
    // Median uptime: sorted real uptimes (uptime + 60) element 4 -> 560.
    assert_eq!(th.stable_uptime, 560);
    // Fast: element 9/8 = 1 -> 20 kB/s < 38, so element 9/4 = 2 -> 30.
    assert_eq!(th.fast_kb, 30);
    // Guard incl. exits: element (int)(9 * 0.75) = 6 -> 70; excl. exits (6 relays, 10..60):
    // element 4 -> 50.
    assert_eq!(th.guard_bw_inc_exits_kb, 70);
    assert_eq!(th.guard_bw_exc_exits_kb, 50);
    assert_eq!(th.guard_tk, 100);
    let f = assign(&rs[4], &th, NOW, 10_000, &FlagOptions::default_net());
    // relay5: 50 kB/s, uptime 560: Fast, Stable, Guard bandwidth ok (>= min(70, 50)).
    assert_eq!(f.to_string(), "Fast Guard Running Stable V2Dir Valid");
    let f = assign(&rs[0], &th, NOW, 10_000, &FlagOptions::default_net());
    assert_eq!(f.to_string(), "Running V2Dir Valid");
    let f = assign(&rs[8], &th, NOW, 10_000, &FlagOptions::default_net());
    assert_eq!(f.to_string(), "Exit Fast Guard Running Stable V2Dir Valid");
}

#[test]
fn testing_network_relaxations() {
    let rs: Vec<RelayRecord> = (1..=3u8).map(|i| rec(i, 50_000, 0, i == 3)).collect();
    let mut o = FlagOptions::testing();
    let th = compute_thresholds(&rs, NOW, &o);
    // All uptimes 60: Stable for all; fast threshold 50; HSDir needs no uptime.
    let f = assign(&rs[0], &th, NOW, 5, &o);
    assert_eq!(f.to_string(), "Fast Guard HSDir Running Stable V2Dir Valid");
    // TestingDirAuthVoteExit relay1 and strict guards to relay2 only.
    o.vote_exit = RouterSet::parse("relay1").unwrap();
    o.vote_guard = RouterSet::parse(&rs[1].rsa_id.to_hex()).unwrap();
    o.vote_guard_strict = true;
    let f = assign(&rs[0], &th, NOW, 5, &o);
    assert!(f.contains(RelayFlags::EXIT) && !f.contains(RelayFlags::GUARD));
    assert!(assign(&rs[1], &th, NOW, 5, &o).contains(RelayFlags::GUARD));
    // `TestingDirAuthVoteHSDir *` with IsStrict keeps everybody.
    o.vote_hsdir = RouterSet::parse("*").unwrap();
    o.vote_hsdir_strict = true;
    let mut slow = rs[2].clone();
    slow.bandwidth_observed = 0;
    assert!(assign(&slow, &th, NOW, 5, &o).contains(RelayFlags::HSDIR));
}

#[test]
fn running_stale_and_authority() {
    let mut r = rec(1, 50_000, 0, false);
    let o = FlagOptions::testing();
    let th = compute_thresholds(std::slice::from_ref(&r), NOW, &o);
    assert!(assign(&r, &th, NOW, 0, &o).contains(RelayFlags::RUNNING));
    // Not reached for 45 min: not Running, and no longer active.
    assert!(!assign(&r, &th, NOW + REACHABLE_TIMEOUT, 0, &o).contains(RelayFlags::RUNNING));
    r.published = NOW - DESC_IS_STALE_INTERVAL - 1;
    assert!(assign(&r, &th, NOW, 0, &o).contains(RelayFlags::STALE_DESC));
    r.is_authority = true;
    r.is_me = true;
    r.history = History::new(NOW);
    assert!(assign(&r, &th, NOW, 0, &o).contains(RelayFlags::AUTHORITY.union(RelayFlags::RUNNING)));
    // Outside test networks Running waits for TestingAuthDirTimeToLearnReachability.
    let d = FlagOptions::default_net();
    assert!(!assign(&r, &th, NOW, 60, &d).contains(RelayFlags::RUNNING));
}

#[test]
fn history_figures() {
    let mut h = History::new(1000);
    h.note_reachable(1000);
    h.note_reachable(1500);
    h.note_unreachable(2000);
    assert_eq!(h.up_total, 500);
    assert_eq!(h.wfu(2000), 0.5);
    h.note_reachable(2000);
    assert_eq!(h.wfu(3000), 0.75);
    assert_eq!(h.time_known(3000), 2000);
}

proptest::proptest! {
    #[test]
    fn always_valid(bws in proptest::collection::vec(0u64..20_000_000, 1..20), up in 0u64..10_000_000) {
        let rs: Vec<RelayRecord> = bws.iter().enumerate()
            .map(|(i, b)| rec(i as u8, *b, up, i % 2 == 0)).collect();
        let o = FlagOptions::default_net();
        let th = compute_thresholds(&rs, NOW, &o);
        for r in &rs {
            let f = assign(r, &th, NOW, 100_000, &o);
            proptest::prop_assert!(f.contains(RelayFlags::VALID.union(RelayFlags::RUNNING)));
            if f.contains(RelayFlags::GUARD) || f.contains(RelayFlags::HSDIR) {
                proptest::prop_assert!(f.contains(RelayFlags::FAST.union(RelayFlags::STABLE)));
            }
        }
    }
}
