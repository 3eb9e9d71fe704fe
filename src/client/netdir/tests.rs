//! Tests of the directory view and weighted choice.

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::SeedableRng;

use super::testutil::*;
use super::*;

#[test]
fn lookups_and_usable() {
    let mut down = relay(3, "Fast Valid", 10);
    down.ed_id = None;
    let nd = netdir(
        vec![
            relay(1, MID, 10),
            relay(2, GUARD, 10),
            down,
            relay(1, EXIT, 5),
        ],
        "",
        false,
    );
    assert_eq!(nd.relays().len(), 3, "duplicate identity dropped");
    assert_eq!(nd.usable().count(), 2);
    let r2 = relay(2, GUARD, 10);
    assert_eq!(
        nd.by_rsa_id(&r2.rsa_id).map(|r| r.nickname.as_str()),
        Some("r2")
    );
    assert_eq!(
        nd.by_ed_id(&r2.ed_id.unwrap()).map(|r| r.nickname.as_str()),
        Some("r2")
    );
    assert_eq!(
        nd.by_rsa_id(&relay(1, MID, 0).rsa_id).map(|r| r.bandwidth),
        Some(10)
    );
    assert!(nd.by_rsa_id(&relay(9, MID, 0).rsa_id).is_none());
}

#[test]
fn params_default_and_clamp() {
    let mut p = BTreeMap::new();
    p.insert("bwweightscale".to_string(), 0);
    p.insert("guard-n-primary-guards".to_string(), 500);
    let nd = NetDir::new(vec![], BTreeMap::new(), p, false);
    assert_eq!(nd.weight_scale(), 1, "clamped to the minimum");
    assert_eq!(nd.param("guard-n-primary-guards", 3, 1, 100), 100);
    assert_eq!(nd.param("absent", 7, 1, 10), 7);
    let nd = NetDir::new(vec![], BTreeMap::new(), BTreeMap::new(), false);
    assert_eq!(nd.weight_scale(), 10000);
}

#[test]
fn weights_per_class_and_role() {
    let nd = netdir(vec![], LIVE_LIKE, false);
    let g = relay(1, GUARD, 100);
    let m = relay(2, MID, 100);
    let e = relay(3, EXIT, 100);
    let d = relay(4, "Exit Fast Guard Running Stable Valid V2Dir", 100);
    let mut bad = relay(5, EXIT, 100);
    bad.flags.insert(RelayFlags::BAD_EXIT);
    let bw = 100_000.0;
    let w = |r: &RelayInfo, role| nd.weighted_bandwidth(r, role) / bw;
    assert!((w(&g, WeightRole::Guard) - 0.5857).abs() < 1e-9);
    assert_eq!(
        w(&e, WeightRole::Guard),
        0.0,
        "plain exits are never guards (We = 0)"
    );
    assert_eq!(w(&d, WeightRole::Guard), 0.0, "Wgd = 0");
    assert!((w(&g, WeightRole::Middle) - 0.4143).abs() < 1e-9);
    assert_eq!(w(&e, WeightRole::Middle), 0.0);
    assert_eq!(w(&m, WeightRole::Middle), 1.0);
    assert_eq!(w(&d, WeightRole::Exit), 1.0);
    // A BadExit is weighted as what it is without the Exit flag.
    assert_eq!(w(&bad, WeightRole::Middle), 1.0);
    // Directory position: Wbg for guards, Wbe = 0 for exits.
    assert!((w(&g, WeightRole::Dir) - 0.4143).abs() < 1e-9);
    assert_eq!(w(&e, WeightRole::Dir), 0.0);
    // Non-directory relays skip the W?b factor; with Wmb < scale directories weigh less.
    let nd2 = netdir(vec![], &LIVE_LIKE.replace("Wmb=10000", "Wmb=5000"), false);
    let mut m_nodir = m.clone();
    m_nodir.flags.remove(RelayFlags::V2DIR);
    assert_eq!(nd2.weighted_bandwidth(&m, WeightRole::Middle) / bw, 0.5);
    assert_eq!(
        nd2.weighted_bandwidth(&m_nodir, WeightRole::Middle) / bw,
        1.0
    );
}

#[test]
fn missing_or_oversized_weights() {
    // No weights at all: plain bandwidth in every role.
    let nd = netdir(vec![], "", false);
    for role in [
        WeightRole::Guard,
        WeightRole::Middle,
        WeightRole::Exit,
        WeightRole::Dir,
    ] {
        assert_eq!(
            nd.weighted_bandwidth(&relay(3, EXIT, 7), role),
            7000.0,
            "{role:?}"
        );
    }
    // One weight missing: plain bandwidth for the roles that need it only.
    let nd = netdir(vec![], &LIVE_LIKE.replace("Wgg=5857", ""), false);
    assert_eq!(
        nd.weighted_bandwidth(&relay(3, EXIT, 7), WeightRole::Guard),
        7000.0
    );
    assert_eq!(
        nd.weighted_bandwidth(&relay(3, EXIT, 7), WeightRole::Middle),
        0.0
    );
    // A weight above the scale is capped to it.
    let nd = netdir(vec![], &LIVE_LIKE.replace("Wmm=10000", "Wmm=99999"), false);
    assert_eq!(
        nd.weighted_bandwidth(&relay(1, MID, 1), WeightRole::Middle),
        1000.0
    );
    // Huge bandwidths saturate as C tor's kb_to_bytes.
    assert_eq!(
        relay(1, MID, u32::MAX).bandwidth_bytes(),
        f64::from(i32::MAX)
    );
}

/// Chooses `n` times among every usable relay and compares with the weighted shares.
fn check_frequencies(nd: &NetDir, role: WeightRole, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let cands: Vec<&RelayInfo> = nd.usable().collect();
    let ws: Vec<f64> = cands
        .iter()
        .map(|r| nd.weighted_bandwidth(r, role))
        .collect();
    let total: f64 = ws.iter().sum();
    let expected: Vec<f64> = ws.iter().map(|w| w / total).collect();
    let mut counts = vec![0u64; cands.len()];
    for _ in 0..40_000 {
        let r = nd.pick_weighted(&mut rng, &cands, role).unwrap();
        let i = cands.iter().position(|c| c.rsa_id == r.rsa_id).unwrap();
        counts[i] += 1;
    }
    for (c, p) in counts.iter().zip(&expected) {
        if *p == 0.0 {
            assert_eq!(*c, 0, "{role:?}: a zero-weight relay was chosen");
        }
    }
    let df = expected.iter().filter(|&&p| p > 0.0).count() - 1;
    let chi = chi_square(&counts, &expected);
    assert!(
        chi < chi_square_limit(df),
        "{role:?}: chi-square {chi} with {df} df"
    );
}

#[test]
fn weighted_choice_frequencies() {
    let nd = mixed(5, LIVE_LIKE, false);
    for (i, role) in [
        WeightRole::Guard,
        WeightRole::Middle,
        WeightRole::Exit,
        WeightRole::Dir,
        WeightRole::Unweighted,
    ]
    .into_iter()
    .enumerate()
    {
        check_frequencies(&nd, role, 7 + i as u64);
    }
    // Without weights: proportional to bandwidth.
    check_frequencies(&mixed(4, "", false), WeightRole::Guard, 99);
}

#[test]
fn all_zero_weights_choose_uniformly() {
    let nd = netdir(
        (1..=8).map(|i| relay(i, MID, 0)).collect(),
        LIVE_LIKE,
        false,
    );
    let cands: Vec<&RelayInfo> = nd.usable().collect();
    let mut rng = StdRng::seed_from_u64(1);
    let mut counts = vec![0u64; 8];
    for _ in 0..16_000 {
        let r = nd
            .pick_weighted(&mut rng, &cands, WeightRole::Middle)
            .unwrap();
        counts[cands.iter().position(|c| c.rsa_id == r.rsa_id).unwrap()] += 1;
    }
    assert!(chi_square(&counts, &[0.125; 8]) < chi_square_limit(7));
    assert!(nd
        .pick_weighted(&mut rng, &[], WeightRole::Middle)
        .is_none());
}

#[test]
fn hop_target_falls_back_to_ntor_without_ed() {
    let mut r = relay(1, MID, 1);
    assert_eq!(
        r.hop_target(HandshakeKind::NtorV3).handshake,
        HandshakeKind::NtorV3
    );
    r.ed_id = None;
    let h = r.hop_target(HandshakeKind::NtorV3);
    assert_eq!(h.handshake, HandshakeKind::Ntor);
    assert_eq!(h.rsa_id, r.rsa_id);
    assert!(h.link_specs().is_ok());
}
