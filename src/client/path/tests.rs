//! Tests of path selection on synthetic directories.

use std::collections::HashSet;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::*;
use crate::client::guards::{GuardConfig, GuardState};
use crate::client::netdir::testutil::*;
use crate::dir::flags::PortSummary;

fn no_guards() -> GuardMgr {
    GuardMgr::new(
        GuardConfig {
            use_entry_guards: false,
            ..GuardConfig::default()
        },
        GuardState::default(),
    )
}

fn guards() -> GuardMgr {
    GuardMgr::new(GuardConfig::default(), GuardState::default())
}

fn policy(accept: bool, ranges: &[(u16, u16)]) -> PortSummary {
    PortSummary {
        accept,
        ranges: ranges.to_vec(),
    }
}

/// Every pair of hops is unrelated, hop roles respected.
fn check_path(nd: &NetDir, p: &Path, exit_port: Option<u16>) {
    assert_eq!(p.hops.len(), 3);
    for (i, a) in p.hops.iter().enumerate() {
        for b in p.hops.iter().skip(i + 1) {
            assert!(!related(nd, a, b), "{a:?} and {b:?} share a path");
        }
    }
    let [g, m, e] = [&p.hops[0], &p.hops[1], &p.hops[2]];
    assert!(g.has(RelayFlags::GUARD) && !g.has(RelayFlags::MIDDLE_ONLY));
    assert!(m.is_usable() && m.has(RelayFlags::FAST));
    assert!(!e.has(RelayFlags::MIDDLE_ONLY));
    if let Some(port) = exit_port {
        assert!(e.allows_port(port) && !e.has(RelayFlags::BAD_EXIT));
    }
}

#[test]
fn exit_port_matching() {
    let mut a = relay(1, EXIT, 100);
    a.ipv4_policy = policy(true, &[(80, 80), (443, 443)]);
    let mut b = relay(2, EXIT, 100);
    b.ipv4_policy = policy(true, &[(22, 22)]);
    let mut c = relay(3, EXIT, 100);
    c.ipv4_policy = policy(true, &[(80, 80), (5000, 6000)]);
    let nd = netdir(
        vec![
            a.clone(),
            b.clone(),
            c.clone(),
            relay(4, GUARD, 100),
            relay(5, MID, 100),
        ],
        LIVE_LIKE,
        false,
    );
    let mut rng = StdRng::seed_from_u64(3);
    let e = choose_exit(&nd, &mut rng, &ExitUsage::port(25));
    assert_eq!(e, Err(PathError::NoExitForPort(25)));
    assert_eq!(e.unwrap_err().to_string(), "no exit allows port 25");
    for _ in 0..50 {
        assert_eq!(
            choose_exit(&nd, &mut rng, &ExitUsage::port(22))
                .unwrap()
                .rsa_id,
            b.rsa_id
        );
        let two = ExitUsage {
            ports: vec![80, 443],
            needs_stable: false,
        };
        assert_eq!(
            choose_exit(&nd, &mut rng, &two).unwrap().rsa_id,
            a.rsa_id,
            "most ports wins"
        );
        let e80 = choose_exit(&nd, &mut rng, &ExitUsage::port(80))
            .unwrap()
            .rsa_id;
        assert!(e80 == a.rsa_id || e80 == c.rsa_id);
    }
    // A whole path for 22 (long-lived: Stable everywhere).
    assert!(ExitUsage::port(22).needs_stable && !ExitUsage::port(80).needs_stable);
    let p = exit_path(&nd, &mut rng, &mut no_guards(), 0, &ExitUsage::port(22)).unwrap();
    check_path(&nd, &p, Some(22));
    assert!(p.hops.iter().all(|r| r.has(RelayFlags::STABLE)));
}

#[test]
fn stable_required_for_long_lived_ports() {
    let mut e = relay(1, "Exit Fast Running Valid V2Dir", 100);
    e.ipv4_policy = policy(false, &[]);
    let nd = netdir(
        vec![e, relay(2, GUARD, 100), relay(3, MID, 100)],
        LIVE_LIKE,
        false,
    );
    let mut rng = StdRng::seed_from_u64(1);
    assert_eq!(
        choose_exit(&nd, &mut rng, &ExitUsage::port(22)),
        Err(PathError::NoExitForPort(22))
    );
    assert!(choose_exit(&nd, &mut rng, &ExitUsage::port(80)).is_ok());
}

#[test]
fn bad_exit_and_middle_only() {
    let mut bad = relay(1, EXIT, 1000);
    bad.flags.insert(RelayFlags::BAD_EXIT);
    let mut mo = relay(
        2,
        "Exit Fast Guard MiddleOnly Running Stable Valid V2Dir",
        1000,
    );
    mo.ipv4_policy = policy(false, &[]);
    let nd = netdir(vec![bad.clone(), mo.clone()], "", false);
    let mut rng = StdRng::seed_from_u64(2);
    assert_eq!(
        choose_exit(&nd, &mut rng, &ExitUsage::port(80)),
        Err(PathError::NoExitForPort(80))
    );
    assert_eq!(
        choose_exit(&nd, &mut rng, &ExitUsage::default()),
        Err(PathError::NoExit)
    );
    // With more relays: the MiddleOnly relay appears only in the middle.
    let nd = netdir(
        vec![
            bad,
            mo.clone(),
            relay(3, EXIT, 100),
            relay(4, GUARD, 100),
            relay(5, GUARD, 100),
        ],
        "",
        false,
    );
    let mut seen_mo_middle = false;
    for _ in 0..300 {
        let p = exit_path(&nd, &mut rng, &mut no_guards(), 0, &ExitUsage::port(80)).unwrap();
        check_path(&nd, &p, Some(80));
        assert_eq!(p.hops[2].nickname, "r3");
        seen_mo_middle |= p.hops[1].rsa_id == mo.rsa_id;
        assert_ne!(p.hops[0].rsa_id, mo.rsa_id);
    }
    assert!(seen_mo_middle);
}

#[test]
fn family_rules() {
    let mut g = relay(1, GUARD, 100);
    let mut m = relay(2, MID, 100);
    let e = relay(3, EXIT, 100);
    let m2 = relay(4, MID, 1);
    let nd_of = |g: &RelayInfo, m: &RelayInfo| {
        netdir(vec![g.clone(), m.clone(), e.clone(), m2.clone()], "", false)
    };
    // One-sided declaration: not a family.
    g.family = vec![format!("${}", m.rsa_id.to_hex())];
    assert!(!related(&nd_of(&g, &m), &g, &m));
    // Mutual, by fingerprint (with a name suffix) and by nickname (any case).
    m.family = vec![format!("${}~r1", g.rsa_id.to_hex().to_lowercase())];
    assert!(related(&nd_of(&g, &m), &g, &m));
    m.family = vec!["R1".to_string()];
    assert!(related(&nd_of(&g, &m), &g, &m));
    let nd = nd_of(&g, &m);
    let mut rng = StdRng::seed_from_u64(4);
    for _ in 0..200 {
        let p = exit_path(&nd, &mut rng, &mut no_guards(), 0, &ExitUsage::port(80)).unwrap();
        check_path(&nd, &p, Some(80));
        assert_eq!(
            p.hops[1].rsa_id, m2.rsa_id,
            "the family member is never the middle"
        );
    }
    // Family ids: shared means family, no mutual listing needed.
    let mut a = relay(5, MID, 1);
    let mut b = relay(6, MID, 1);
    a.family = vec!["ed25519:AAAA".into()];
    b.family = vec!["ed25519:AAAA".into(), "r5x".into()];
    let nd = nd_of(&g, &m);
    assert!(related(&nd, &a, &b));
    b.family = vec!["ed25519:BBBB".into()];
    assert!(!related(&nd, &a, &b));
    // Families stay enforced on testing networks.
    m.family = vec!["r1".into()];
    assert!(related(&netdir(vec![], "", true), &g, &m));
}

fn at(mut r: RelayInfo, v4: [u8; 4], v6: Option<Ipv6Addr>) -> RelayInfo {
    r.addrs = vec![SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(v4), 9001))];
    if let Some(v6) = v6 {
        r.addrs
            .push(SocketAddr::V6(SocketAddrV6::new(v6, 9001, 0, 0)));
    }
    r
}

#[test]
fn subnet_rules_and_testing_relaxation() {
    let g = at(relay(1, GUARD, 100), [192, 0, 1, 1], None);
    let m = at(relay(2, MID, 100), [192, 0, 200, 9], None);
    let e = at(relay(3, EXIT, 100), [198, 51, 100, 1], None);
    let nd = netdir(vec![g.clone(), m.clone(), e.clone()], "", false);
    assert!(same_subnet(&g, &m) && !same_subnet(&g, &e));
    let mut rng = StdRng::seed_from_u64(5);
    let err = exit_path(&nd, &mut rng, &mut no_guards(), 0, &ExitUsage::port(80)).unwrap_err();
    assert_eq!(err, PathError::NoMiddle);
    // A testing network allows it.
    let nd = netdir(vec![g.clone(), m.clone(), e.clone()], "", true);
    let p = exit_path(&nd, &mut rng, &mut no_guards(), 0, &ExitUsage::port(80)).unwrap();
    assert_eq!(
        p.hops
            .iter()
            .map(|r| r.nickname.as_str())
            .collect::<Vec<_>>(),
        ["r1", "r2", "r3"]
    );
    // IPv6 /32.
    let v6a: Ipv6Addr = "2001:db8:1::1".parse().unwrap();
    let v6b: Ipv6Addr = "2001:db8:ffff::2".parse().unwrap();
    let v6c: Ipv6Addr = "2001:db9::1".parse().unwrap();
    let a = at(relay(4, MID, 1), [1, 1, 1, 1], Some(v6a));
    let b = at(relay(5, MID, 1), [2, 2, 2, 2], Some(v6b));
    let c = at(relay(6, MID, 1), [3, 3, 3, 3], Some(v6c));
    assert!(same_subnet(&a, &b) && !same_subnet(&a, &c));
}

#[test]
fn no_relay_twice_and_errors() {
    let mut rng = StdRng::seed_from_u64(6);
    // One relay that is everything: it cannot fill three hops.
    let all = relay(1, "Exit Fast Guard Running Stable Valid V2Dir", 100);
    let nd = netdir(vec![all], "", true);
    let err = exit_path(&nd, &mut rng, &mut no_guards(), 0, &ExitUsage::port(80)).unwrap_err();
    assert!(matches!(err, PathError::NoGuard(_)), "{err:?}");
    // No guard at all.
    let nd = netdir(vec![relay(1, EXIT, 1), relay(2, MID, 1)], "", false);
    let err = exit_path(&nd, &mut rng, &mut guards(), 0, &ExitUsage::port(80)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "no usable guard: no usable guard outside the path's families"
    );
    // No exit at all.
    let nd = netdir(vec![relay(1, GUARD, 1), relay(2, MID, 1)], "", false);
    assert_eq!(
        exit_path(&nd, &mut rng, &mut guards(), 0, &ExitUsage::port(80)),
        Err(PathError::NoExitForPort(80))
    );
    // Empty directory: nothing at all.
    let nd = netdir(vec![], "", false);
    assert_eq!(dir_relay(&nd, &mut rng), Err(PathError::NoDirectory));
    assert_eq!(
        internal_path(&nd, &mut rng, &mut guards(), 0, None, false),
        Err(PathError::NoLastHop)
    );
}

#[test]
fn internal_paths() {
    let nd = mixed(4, LIVE_LIKE, false);
    let mut rng = StdRng::seed_from_u64(7);
    let mut gm = guards();
    for _ in 0..100 {
        let p = internal_path(&nd, &mut rng, &mut gm, 1000, None, true).unwrap();
        check_path(&nd, &p, None);
        assert!(p.managed_guard);
        assert!(p.hops.iter().all(|r| r.has(RelayFlags::STABLE)));
    }
    let target = nd.relays()[5].clone();
    let p = internal_path(&nd, &mut rng, &mut gm, 1000, Some(&target), false).unwrap();
    assert_eq!(p.last(), Some(&target));
    check_path(&nd, &p, None);
}

#[test]
fn dir_paths() {
    let mut rng = StdRng::seed_from_u64(8);
    // Only V2Dir relays serve; without any, an authority.
    let mut plain = relay(1, "Fast Running Valid", 100);
    plain.flags.remove(RelayFlags::V2DIR);
    let auth = relay(2, "Authority Running Valid", 0);
    let mut auth_nodir = auth.clone();
    auth_nodir.flags.remove(RelayFlags::V2DIR);
    let nd = netdir(vec![plain.clone(), auth_nodir], LIVE_LIKE, false);
    assert_eq!(dir_relay(&nd, &mut rng).unwrap().nickname, "r2");
    let cache = relay(3, MID, 100);
    let nd = netdir(vec![plain, auth, cache], LIVE_LIKE, false);
    for _ in 0..20 {
        assert_eq!(dir_relay(&nd, &mut rng).unwrap().nickname, "r3");
    }
    let p = dir_path(&nd, &mut rng, &mut no_guards(), 0).unwrap();
    assert_eq!(p.hops.len(), 1);
    assert!(!p.managed_guard);
    // With guards: a directory guard.
    let nd = mixed(3, LIVE_LIKE, false);
    let mut gm = guards();
    let p = dir_path(&nd, &mut rng, &mut gm, 0).unwrap();
    assert!(p.managed_guard);
    assert!(gm.primary().contains(&p.hops[0].rsa_id));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Random networks: every path found obeys every rule; failures are only "no path"
    /// errors.
    #[test]
    fn random_networks_obey_the_rules(
        kinds in proptest::collection::vec((0u8..6, 0u32..5000, 0u8..4, any::<bool>()), 3..30),
        fam in proptest::collection::vec((0usize..30, 0usize..30), 0..10),
        port in prop_oneof![Just(80u16), Just(22u16), Just(25u16), 1u16..2000],
        testing in any::<bool>(),
        seed in any::<u64>(),
        use_guards in any::<bool>(),
    ) {
        let mut rs: Vec<RelayInfo> = kinds
            .iter()
            .enumerate()
            .map(|(i, &(k, bw, net, stable))| {
                let flags = ["Fast Running Valid", "Fast Guard Running Valid V2Dir",
                    "Exit Fast Running Valid", "Exit Fast Guard Running Valid V2Dir",
                    "BadExit Exit Fast Running Valid", "Fast MiddleOnly Running Valid"][k as usize];
                let mut r = at(relay(i as u16 + 1, flags, bw), [10, net, i as u8, 1], None);
                if stable { r.flags.insert(RelayFlags::STABLE); }
                if k == 2 && bw % 3 == 0 { r.ipv4_policy = policy(true, &[(80, 80), (443, 443)]); }
                r
            })
            .collect();
        for &(a, b) in &fam {
            if a < rs.len() && b < rs.len() && a != b {
                let (na, nb) = (rs[a].nickname.clone(), format!("${}", rs[b].rsa_id.to_hex()));
                rs[a].family.push(nb);
                rs[b].family.push(na);
            }
        }
        let nd = netdir(rs, LIVE_LIKE, testing);
        let mut rng = StdRng::seed_from_u64(seed);
        let mut gm = if use_guards { guards() } else { no_guards() };
        for _ in 0..5 {
            match exit_path(&nd, &mut rng, &mut gm, 1000, &ExitUsage::port(port)) {
                Ok(p) => {
                    check_path(&nd, &p, Some(port));
                    let ids: HashSet<_> = p.hops.iter().map(|r| r.rsa_id).collect();
                    prop_assert_eq!(ids.len(), 3);
                    if needs_stable_for_port(port) {
                        prop_assert!(p.hops.iter().all(|r| r.has(RelayFlags::STABLE)));
                    }
                    if use_guards {
                        prop_assert!(gm.state().get(&p.hops[0].rsa_id).is_some());
                    }
                }
                Err(PathError::NoExitForPort(p)) => prop_assert_eq!(p, port),
                Err(PathError::NoGuard(_) | PathError::NoMiddle) => {}
                Err(e) => prop_assert!(false, "unexpected {e:?}"),
            }
        }
    }
}
