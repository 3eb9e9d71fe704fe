//! Tests of the guard manager.

use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::*;
use crate::client::netdir::testutil::*;
use crate::client::netdir::NetDir;
use crate::ids::Ed25519Identity;

const T0: u64 = 1_700_000_000;
const MIN: u64 = 60;

fn guard_net(n: u16) -> NetDir {
    let mut v: Vec<_> = (1..=n)
        .map(|i| relay(i, GUARD, 100 + u32::from(i)))
        .collect();
    v.push(relay(n + 1, MID, 100));
    v.push(relay(n + 2, EXIT, 100));
    netdir(v, LIVE_LIKE, false)
}

fn mgr() -> GuardMgr {
    GuardMgr::new(GuardConfig::default(), GuardState::default())
}

fn pick(m: &mut GuardMgr, nd: &NetDir, rng: &mut StdRng, now: u64) -> RsaIdentity {
    let (r, managed) = m.select(nd, rng, now, &[], false).unwrap();
    assert!(managed);
    r.rsa_id
}

#[test]
fn sample_sizes() {
    let mut rng = StdRng::seed_from_u64(1);
    // Many guards: the sample stops at 20 usable ones (min filtered sample).
    let nd = guard_net(200);
    let mut m = mgr();
    m.update(&nd, &mut rng, T0);
    assert_eq!(m.state().guards.len(), 20);
    assert_eq!(m.primary().len(), 3);
    // Few guards: all of them.
    let nd = guard_net(5);
    let mut m = mgr();
    m.update(&nd, &mut rng, T0);
    assert_eq!(m.state().guards.len(), 5);
    // Max sample: 20 % of the guards, at most 60, at least 20.
    let p = GuardParams::new(&nd, &GuardConfig::default());
    assert_eq!(
        (p.max_sample(50), p.max_sample(200), p.max_sample(1000)),
        (20, 40, 60)
    );
    // Sampled dates are set back by at most a tenth of the lifetime.
    for g in &m.state().guards {
        assert!(g.sampled_on <= T0 && g.sampled_on >= T0 - 12 * DAY);
    }
    // Not-guard relays are never sampled; MiddleOnly guards neither.
    let mut mo = relay(1, GUARD, 100);
    mo.flags.insert(RelayFlags::MIDDLE_ONLY);
    let nd = netdir(
        vec![
            mo,
            relay(2, MID, 100),
            relay(3, "Fast Guard Running Valid V2Dir", 100),
        ],
        "",
        false,
    );
    let mut m = mgr();
    m.update(&nd, &mut rng, T0);
    assert!(m.state().guards.is_empty(), "{:?}", m.state());
}

#[test]
fn params_and_config_overrides() {
    let nd = guard_net(3);
    let p = GuardParams::new(&nd, &GuardConfig::default());
    assert_eq!(
        (p.n_primary, p.n_primary_to_use, p.n_primary_dir_to_use),
        (3, 1, 3)
    );
    assert_eq!(p.remove_unlisted_after, 20 * DAY);
    let c = GuardConfig {
        num_primary_guards: 5,
        num_entry_guards: 2,
        ..GuardConfig::default()
    };
    let p = GuardParams::new(&nd, &c);
    assert_eq!((p.n_primary, p.n_primary_to_use), (5, 2));
    let mut params = std::collections::BTreeMap::new();
    params.insert("guard-n-primary-guards".to_string(), 0);
    params.insert("guard-lifetime-days".to_string(), 30);
    let nd = NetDir::new(vec![], Default::default(), params, false);
    let p = GuardParams::new(&nd, &GuardConfig::default());
    assert_eq!((p.n_primary, p.lifetime), (1, 30 * DAY));
}

#[test]
fn retry_schedule() {
    let h = 3600;
    assert_eq!(retry_delay(T0, T0, true), 10 * MIN);
    assert_eq!(retry_delay(T0, T0 + 6 * h, true), 10 * MIN);
    assert_eq!(retry_delay(T0, T0 + 6 * h + 1, true), 90 * MIN);
    assert_eq!(retry_delay(T0, T0 + 5 * DAY, true), 4 * h);
    assert_eq!(retry_delay(T0, T0 + 8 * DAY, true), 9 * h);
    assert_eq!(retry_delay(T0, T0, false), h);
    assert_eq!(retry_delay(T0, T0 + DAY, false), 4 * h);
    assert_eq!(retry_delay(T0, T0 + 6 * DAY, false), 18 * h);
    assert_eq!(retry_delay(T0, T0 + 30 * DAY, false), 36 * h);
    assert_eq!(retry_delay(T0 + 10, T0, true), 10 * MIN, "clock going back");
}

#[test]
fn primary_first_failure_and_retry() {
    let mut rng = StdRng::seed_from_u64(2);
    let nd = guard_net(30);
    let mut m = mgr();
    let first = pick(&mut m, &nd, &mut rng, T0);
    let prim = m.primary().to_vec();
    assert_eq!(first, prim[0], "NumEntryGuards 1: always the first primary");
    for _ in 0..10 {
        assert_eq!(pick(&mut m, &nd, &mut rng, T0), prim[0]);
    }
    // The first primary fails: the second is used until the retry time (10 min).
    m.note_failure(&prim[0], T0);
    assert_eq!(pick(&mut m, &nd, &mut rng, T0 + 1), prim[1]);
    m.note_failure(&prim[1], T0 + 1);
    m.note_failure(&prim[2], T0 + 1);
    // All primaries down: a non-primary sampled guard, in sample order.
    let next = pick(&mut m, &nd, &mut rng, T0 + 2);
    assert!(!prim.contains(&next));
    assert_eq!(
        m.state()
            .guards
            .iter()
            .find(|g| !prim.contains(&g.rsa_id))
            .unwrap()
            .rsa_id,
        next
    );
    assert!(m.state().get(&next).unwrap().pending);
    assert_eq!(
        pick(&mut m, &nd, &mut rng, T0 + 600 + 1),
        prim[0],
        "retried after 10 min"
    );
    // It keeps failing for days: the retry interval grows.
    m.note_failure(&prim[0], T0 + 10 * DAY);
    let (r, _) = m
        .select(&nd, &mut rng, T0 + 10 * DAY + 30 * MIN, &[], false)
        .unwrap();
    assert_ne!(r.rsa_id, prim[0]);
    assert_eq!(
        pick(&mut m, &nd, &mut rng, T0 + 10 * DAY + 9 * 3600),
        prim[0]
    );
}

#[test]
fn everything_down_marks_all_maybe() {
    let mut rng = StdRng::seed_from_u64(3);
    let nd = guard_net(3);
    let mut m = mgr();
    m.update(&nd, &mut rng, T0);
    for g in m.state().guards.clone() {
        m.note_failure(&g.rsa_id, T0);
    }
    let r = pick(&mut m, &nd, &mut rng, T0 + 1);
    assert_eq!(r, m.primary()[0]);
}

#[test]
fn confirmation_makes_primary() {
    let mut rng = StdRng::seed_from_u64(4);
    let nd = guard_net(40);
    let mut m = mgr();
    m.update(&nd, &mut rng, T0);
    let prim = m.primary().to_vec();
    for p in &prim {
        m.note_failure(p, T0);
    }
    let other = pick(&mut m, &nd, &mut rng, T0);
    m.note_success(&other, T0 + 5);
    let g = m.state().get(&other).unwrap();
    assert_eq!(
        (g.confirmed_idx, g.confirmed_on, g.reachable),
        (Some(0), Some(T0 + 5), Some(true))
    );
    // Confirmed guards come first among primaries at the next update.
    m.update(&nd, &mut rng, T0 + 6);
    assert_eq!(m.primary()[0], other);
    assert_eq!(&m.primary()[1..], &prim[..2]);
    // A second success does not change the confirmation.
    m.note_success(&other, T0 + 100);
    assert_eq!(m.state().get(&other).unwrap().confirmed_on, Some(T0 + 5));
    m.note_success(&prim[0], T0 + 100);
    assert_eq!(m.state().confirmed(), vec![other, prim[0]]);
}

#[test]
fn restriction_skips_related_guards() {
    let mut rng = StdRng::seed_from_u64(5);
    let nd = guard_net(10);
    let mut m = mgr();
    m.update(&nd, &mut rng, T0);
    let prim = m.primary().to_vec();
    let p0 = nd.by_rsa_id(&prim[0]).unwrap().clone();
    for _ in 0..10 {
        let (r, _) = m.select(&nd, &mut rng, T0, &[&p0], false).unwrap();
        assert_eq!(r.rsa_id, prim[1]);
    }
}

#[test]
fn unlisted_guards_expire() {
    let mut rng = StdRng::seed_from_u64(6);
    let nd = guard_net(5);
    let mut m = mgr();
    m.update(&nd, &mut rng, T0);
    let gone = m.primary()[0];
    let without: Vec<_> = nd
        .relays()
        .iter()
        .filter(|r| r.rsa_id != gone)
        .cloned()
        .collect();
    let nd2 = NetDir::new(without, nd.weights().clone(), Default::default(), false);
    let r = pick(&mut m, &nd2, &mut rng, T0 + 10);
    assert_ne!(r, gone);
    assert_eq!(m.state().get(&gone).unwrap().unlisted_since, Some(T0 + 10));
    assert!(!m.primary().contains(&gone));
    // Listed again before 20 days: kept, and primary again (sample order).
    m.update(&nd, &mut rng, T0 + 19 * DAY);
    assert_eq!(m.state().get(&gone).unwrap().unlisted_since, None);
    // Unlisted for 20 days: removed.
    m.update(&nd2, &mut rng, T0 + 20 * DAY);
    m.update(&nd2, &mut rng, T0 + 40 * DAY);
    assert!(m.state().get(&gone).is_some(), "exactly 20 days: not yet");
    m.update(&nd2, &mut rng, T0 + 40 * DAY + 1);
    assert!(m.state().get(&gone).is_none());
}

#[test]
fn lifetime_expiry() {
    let mut rng = StdRng::seed_from_u64(7);
    let nd = guard_net(4);
    let mut m = mgr();
    m.update(&nd, &mut rng, T0);
    let ids: Vec<_> = m.state().guards.iter().map(|g| g.rsa_id).collect();
    m.note_success(&ids[0], T0);
    // 121 days on: unconfirmed guards are resampled (new sampled_on), the confirmed one
    // stays (confirmed 121 days ago > 60, so it goes too at that point).
    m.update(&nd, &mut rng, T0 + 100 * DAY);
    assert!(m.state().guards.iter().all(|g| g.sampled_on <= T0));
    m.update(&nd, &mut rng, T0 + 121 * DAY);
    assert!(
        m.state().guards.iter().all(|g| g.sampled_on > T0),
        "every guard resampled"
    );
    assert!(m
        .state()
        .get(&ids[0])
        .is_some_and(|g| g.confirmed_idx.is_none()));
}

#[test]
fn persistence_round_trip_and_stable_primaries() {
    let mut rng = StdRng::seed_from_u64(8);
    let nd = guard_net(60);
    let mut m = mgr();
    let _ = pick(&mut m, &nd, &mut rng, T0);
    let prim = m.primary().to_vec();
    m.note_success(&prim[2], T0 + 1);
    m.update(&nd, &mut rng, T0 + 2);
    let text = m.state().to_text();
    assert!(
        text.lines().all(|l| l.starts_with("Guard rsa_id=")),
        "{text}"
    );
    let loaded = GuardState::from_text(&format!("# saved\n\nOtherState 1\n{text}")).unwrap();
    assert_eq!(loaded.to_text(), text);
    assert_eq!(loaded.guards.len(), m.state().guards.len());
    // After a restart: same primaries in the same order, same choice.
    let mut m2 = GuardMgr::new(GuardConfig::default(), loaded);
    assert_eq!(m2.primary(), m.primary());
    let a = pick(&mut m, &nd, &mut rng, T0 + 3);
    let b = pick(&mut m2, &nd, &mut rng, T0 + 3);
    assert_eq!(a, b);
    assert_eq!(m2.primary(), m.primary());
}

#[test]
fn state_text_errors() {
    for (bad, why) in [
        ("Guard sampled_on=5", "missing rsa_id"),
        ("Guard rsa_id=00 sampled_on=5", "bad rsa_id"),
        (
            "Guard rsa_id=0000000000000000000000000000000000000000",
            "missing sampled_on",
        ),
        (
            "Guard rsa_id=0000000000000000000000000000000000000000 sampled_on=x",
            "bad number",
        ),
        (
            "Guard rsa_id=0000000000000000000000000000000000000000 sampled_on=1 confirmed_idx=1",
            "go together",
        ),
        (
            "Guard rsa_id=0000000000000000000000000000000000000000 sampled_on=1 junk",
            "without '='",
        ),
        (
            "Guard rsa_id=0000000000000000000000000000000000000000 sampled_on=1\n\
             Guard rsa_id=0000000000000000000000000000000000000000 sampled_on=2",
            "duplicate",
        ),
    ] {
        let e = GuardState::from_text(bad).unwrap_err();
        assert!(e.to_string().contains(why), "{bad}: {e}");
    }
    let ok = GuardState::from_text(
        "Guard rsa_id=0000000000000000000000000000000000000000 sampled_on=1 future=3\n",
    )
    .unwrap();
    assert_eq!(ok.guards.len(), 1);
}

#[test]
fn use_entry_guards_0() {
    let mut rng = StdRng::seed_from_u64(9);
    let nd = guard_net(10);
    let mut m = GuardMgr::new(
        GuardConfig {
            use_entry_guards: false,
            ..GuardConfig::default()
        },
        GuardState::default(),
    );
    let mut seen = std::collections::HashSet::new();
    for _ in 0..200 {
        let (r, managed) = m.select(&nd, &mut rng, T0, &[], false).unwrap();
        assert!(!managed && r.has(RelayFlags::GUARD));
        seen.insert(r.rsa_id);
    }
    assert!(seen.len() > 5, "a fresh weighted choice each time");
    assert!(m.state().guards.is_empty());
    assert!(m.select_dir_guard(&nd, &mut rng, T0).is_none());
}

proptest! {
    #[test]
    fn state_text_round_trip(
        gs in proptest::collection::vec(
            (any::<[u8; 20]>(), proptest::option::of(any::<[u8; 32]>()), "[a-zA-Z0-9]{1,19}",
             any::<u64>(), proptest::option::of(any::<u64>()),
             proptest::option::of((any::<u64>(), any::<u32>())), proptest::option::of(any::<u32>())),
            0..8)
    ) {
        let mut st = GuardState::default();
        for (rsa, ed, nick, s, u, c, p) in gs {
            if st.get(&RsaIdentity(rsa)).is_some() { continue; }
            let mut g = Guard::new(RsaIdentity(rsa), ed.map(Ed25519Identity), &nick, s);
            g.unlisted_since = u;
            g.confirmed_on = c.map(|x| x.0);
            g.confirmed_idx = c.map(|x| x.1);
            g.primary_idx = p;
            st.guards.push(g);
        }
        let back = GuardState::from_text(&st.to_text()).unwrap();
        prop_assert_eq!(back, st);
    }

    #[test]
    fn state_text_never_panics(s in "\\PC*") {
        let _ = GuardState::from_text(&s);
        let _ = GuardState::from_text(&format!("Guard {s}"));
    }
}

#[test]
fn sampling_follows_guard_weights() {
    // Ten guards with bandwidths 101..110 plus two Guard+Exit relays (Wgd = 0 in LIVE_LIKE:
    // never sampled first... unless nothing else is left).
    let mut v: Vec<_> = (1..=10)
        .map(|i| relay(i, GUARD, 100 * u32::from(i)))
        .collect();
    v.push(relay(
        11,
        "Exit Fast Guard Running Stable Valid V2Dir",
        5000,
    ));
    let nd = netdir(v, LIVE_LIKE, false);
    let mut counts = [0u64; 11];
    for seed in 0..3000 {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut m = mgr();
        m.update(&nd, &mut rng, T0);
        let first = m.state().guards[0].rsa_id;
        counts[nd.relays().iter().position(|r| r.rsa_id == first).unwrap()] += 1;
        // The sample holds all 11, the zero-weight one last.
        assert_eq!(m.state().guards.len(), 11);
        assert_eq!(m.state().guards[10].rsa_id, nd.relays()[10].rsa_id);
    }
    assert_eq!(counts[10], 0);
    let total: f64 = (1..=10).map(f64::from).sum();
    let expected: Vec<f64> = (1..=10)
        .map(|i| f64::from(i) / total)
        .chain([0.0])
        .collect();
    let chi = chi_square(&counts, &expected);
    assert!(chi < chi_square_limit(9), "chi-square {chi}");
}
