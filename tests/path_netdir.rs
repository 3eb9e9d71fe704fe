//! Path selection on directories built from real directory data: the bandwidth-weights
//! lines C tor's authority computes (tests/vectors/path_bw_weights_ctor.txt), and the
//! router entries of a chutney test network's microdesc consensus
//! (tests/vectors/path_mdconsensus_chutney.txt).

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, HashSet};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use oniongate::client::guards::{GuardConfig, GuardMgr, GuardState};
use oniongate::client::netdir::{NetDir, RelayInfo, WeightRole};
use oniongate::client::path::{dir_relay, exit_path, ExitUsage, PathError};
use oniongate::crypto::ll::X25519Public;
use oniongate::dir::flags::{PortSummary, RelayFlags};
use oniongate::ids::RsaIdentity;
use rand::rngs::StdRng;
use rand::SeedableRng;

fn weights(line: &str) -> BTreeMap<String, i32> {
    line.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.parse().unwrap()))
        .collect()
}

fn relay(n: u8, flags: &str, bw: u32) -> RelayInfo {
    let flags = RelayFlags::from_names(flags.split_whitespace());
    RelayInfo {
        nickname: format!("n{n}"),
        rsa_id: RsaIdentity([n; 20]),
        ed_id: None,
        addrs: vec![SocketAddr::V4(SocketAddrV4::new(
            Ipv4Addr::new(10, n, 0, 1),
            9001,
        ))],
        ntor_key: X25519Public::from([n; 32]),
        flags,
        bandwidth: bw,
        family: vec![],
        ipv4_policy: if flags.contains(RelayFlags::EXIT) {
            PortSummary::parse("accept", "1-65535").unwrap()
        } else {
            PortSummary::reject_all()
        },
        ipv6_policy: None,
        protocols: None,
    }
}

/// The weights C tor computes balance the network as dir-spec §3.8.3 intends: every
/// class's bandwidth is fully shared among the positions it can take, and in the balanced
/// case the three positions get equal bandwidth. Our weighted choice follows the weights.
#[test]
fn ctor_bandwidth_weights() {
    for rec in common::load("path_bw_weights_ctor.txt") {
        let at = rec.at();
        let num = |k: &str| rec.str(k).parse::<u32>().unwrap();
        let (g, m, e, d) = (num("G"), num("M"), num("E"), num("D"));
        let relays = vec![
            relay(1, "Fast Guard Running Stable Valid", g),
            relay(2, "Fast Running Stable Valid", m),
            relay(3, "Exit Fast Running Stable Valid", e),
            relay(4, "Exit Fast Guard Running Stable Valid", d),
        ];
        let nd = NetDir::new(relays, weights(rec.str("weights")), BTreeMap::new(), false);
        let w = |i: usize, role| nd.weighted_bandwidth(&nd.relays()[i], role) / 1000.0;
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-3 * b.max(1.0);
        use WeightRole::{Exit, Guard, Middle};
        // Each class is used in full (guards do not exit, exits are not guards).
        assert!(close(w(0, Guard) + w(0, Middle), f64::from(g)), "{at}: G");
        assert!(close(w(1, Middle), f64::from(m)), "{at}: M");
        assert!(close(w(2, Middle) + w(2, Exit), f64::from(e)), "{at}: E");
        assert_eq!(w(2, Guard), 0.0, "{at}");
        assert!(
            close(w(3, Guard) + w(3, Middle) + w(3, Exit), f64::from(d)),
            "{at}: D"
        );
        let total = |role| (0..4).map(|i| w(i, role)).sum::<f64>();
        if rec.str("balanced") == "yes" {
            // Over the relays each position may take: Guard-flagged, all, Exit-flagged.
            let (tg, tm, te) = (
                w(0, Guard) + w(3, Guard),
                total(Middle),
                w(2, Exit) + w(3, Exit),
            );
            assert!(close(tg, tm) && close(tm, te), "{at}: {tg} {tm} {te}");
        }
        // Frequencies of weighted choice for each position.
        let mut rng = StdRng::seed_from_u64(42);
        let cands: Vec<&RelayInfo> = nd.relays().iter().collect();
        for role in [Guard, Middle, Exit] {
            let t = total(role);
            let mut counts = [0u32; 4];
            let n = 20_000;
            for _ in 0..n {
                let r = nd.pick_weighted(&mut rng, &cands, role).unwrap();
                counts[cands.iter().position(|c| c.rsa_id == r.rsa_id).unwrap()] += 1;
            }
            let mut chi = 0.0;
            for (i, &c) in counts.iter().enumerate() {
                let p = w(i, role) / t;
                if p == 0.0 {
                    assert_eq!(c, 0, "{at} {role:?}");
                } else {
                    let ex = p * f64::from(n);
                    chi += (f64::from(c) - ex).powi(2) / ex;
                }
            }
            // 3 degrees of freedom at most; 0.999 quantile 16.27.
            assert!(chi < 16.27, "{at} {role:?}: chi-square {chi}");
        }
    }
}

/// The router entries of a chutney consensus, as the directory manager would pass them.
fn chutney(testing: bool) -> NetDir {
    let text =
        std::fs::read_to_string(common::vector_path("path_mdconsensus_chutney.txt")).unwrap();
    let mut relays: Vec<RelayInfo> = Vec::new();
    let mut bw = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let mut w = line.split(' ');
        match w.next() {
            Some("r") => {
                let a: Vec<&str> = w.collect();
                let id = oniongate::dir::doc::token::b64_decode(a[1]).unwrap();
                let ip: Ipv4Addr = a[4].parse().unwrap();
                let mut r = relay(0, "", 0);
                r.nickname = a[0].to_string();
                r.rsa_id = RsaIdentity(id.try_into().unwrap());
                r.addrs = vec![SocketAddr::V4(SocketAddrV4::new(ip, a[5].parse().unwrap()))];
                relays.push(r);
            }
            Some("a") => {
                let r = relays.last_mut().unwrap();
                r.addrs.push(line[2..].parse().unwrap());
            }
            Some("s") => {
                let r = relays.last_mut().unwrap();
                r.flags = RelayFlags::from_names(w);
                // md consensuses carry no `p` line; the microdescriptors would.
                r.ipv4_policy = PortSummary::parse("accept", "1-65535").unwrap();
            }
            Some("w") => {
                let v = w.find_map(|kv| kv.strip_prefix("Bandwidth=")).unwrap();
                relays.last_mut().unwrap().bandwidth = v.parse().unwrap();
            }
            Some("bandwidth-weights") => bw = weights(&line["bandwidth-weights ".len()..]),
            _ => {}
        }
    }
    assert_eq!(relays.len(), 6);
    NetDir::new(relays, bw, BTreeMap::new(), testing)
}

#[test]
fn chutney_network_paths() {
    let nd = chutney(true);
    assert_eq!(nd.usable().count(), 6);
    assert_eq!(
        nd.relays()
            .iter()
            .filter(|r| r.has(RelayFlags::AUTHORITY))
            .count(),
        3
    );
    let mut rng = StdRng::seed_from_u64(7);
    let mut guards = GuardMgr::new(GuardConfig::default(), GuardState::default());
    let now = 1_596_800_000;
    let mut exits = HashSet::new();
    for _ in 0..300 {
        let p = exit_path(&nd, &mut rng, &mut guards, now, &ExitUsage::port(80)).unwrap();
        let ids: HashSet<_> = p.hops.iter().map(|r| r.rsa_id).collect();
        assert_eq!(ids.len(), 3);
        assert!(guards.primary().contains(&p.hops[0].rsa_id));
        exits.insert(p.hops[2].rsa_id);
    }
    // Every Bandwidth=0: choice is uniform, so every relay serves as an exit sometime.
    assert_eq!(exits.len(), 6);
    assert_eq!(guards.state().guards.len(), 6, "all six sampled");
    assert_eq!(guards.primary().len(), 3);
    // Round trip of the state after real use.
    let text = guards.state().to_text();
    assert_eq!(GuardState::from_text(&text).unwrap(), {
        let mut s = guards.state().clone();
        for g in &mut s.guards {
            (g.reachable, g.failing_since, g.last_tried, g.pending) = (None, None, None, false);
        }
        s
    });
    assert!(dir_relay(&nd, &mut rng).is_ok());
    // Outside a testing network every relay shares 127.0.0.0/16: no path.
    let nd = chutney(false);
    let err = exit_path(&nd, &mut rng, &mut guards, now, &ExitUsage::port(80)).unwrap_err();
    assert!(matches!(err, PathError::NoGuard(_)), "{err}");
}
