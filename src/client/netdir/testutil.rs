//! Synthetic relays and directories for the path-selection tests.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use crate::crypto::ll::{X25519Public, X25519Secret};
use crate::dir::flags::{PortSummary, RelayFlags};
use crate::ids::{Ed25519Identity, RsaIdentity};

use super::{NetDir, RelayInfo};

/// A relay numbered `i` (identity bytes `i`, nickname `r<i>`, address `10.<i>.0.1:9001`,
/// so every relay has its own /16) with these flags (consensus spelling) and bandwidth.
/// Relays with the Exit flag accept every port; others exit nowhere.
pub(crate) fn relay(i: u16, flags: &str, bw: u32) -> RelayInfo {
    let [hi, lo] = i.to_be_bytes();
    let mut rsa = [lo; 20];
    rsa[0] = hi;
    let mut ed = [lo; 32];
    ed[0] = hi;
    ed[1] = 0xed;
    let flags = RelayFlags::from_names(flags.split_whitespace());
    let policy = if flags.contains(RelayFlags::EXIT) {
        PortSummary {
            accept: true,
            ranges: vec![(1, 65535)],
        }
    } else {
        PortSummary::reject_all()
    };
    RelayInfo {
        nickname: format!("r{i}"),
        rsa_id: RsaIdentity(rsa),
        ed_id: Some(Ed25519Identity(ed)),
        addrs: vec![SocketAddr::V4(SocketAddrV4::new(
            Ipv4Addr::new(10, lo, hi, 1),
            9001,
        ))],
        ntor_key: X25519Public::from(&X25519Secret::from(ed)),
        flags,
        bandwidth: bw,
        family: Vec::new(),
        ipv4_policy: policy,
        ipv6_policy: None,
        protocols: None,
    }
}

/// Flags of a general-purpose relay without Guard/Exit.
pub(crate) const MID: &str = "Fast Running Stable Valid V2Dir";
/// Flags of a guard.
pub(crate) const GUARD: &str = "Fast Guard Running Stable Valid V2Dir";
/// Flags of an exit.
pub(crate) const EXIT: &str = "Exit Fast Running Stable Valid V2Dir";

/// Parses `Wxx=n ...` (a `bandwidth-weights` line's arguments).
pub(crate) fn weights(line: &str) -> BTreeMap<String, i32> {
    line.split_whitespace()
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}

/// Weights shaped like a live consensus's (guard-scarce exits, Wgd=0, Wee=10000).
pub(crate) const LIVE_LIKE: &str = "Wbd=0 Wbe=0 Wbg=4143 Wbm=10000 Wdb=10000 Web=10000 \
    Wed=10000 Wee=10000 Weg=10000 Wem=10000 Wgb=10000 Wgd=0 Wgg=5857 Wgm=5857 Wmb=10000 \
    Wmd=0 Wme=0 Wmg=4143 Wmm=10000";

/// A directory of `relays` with these weights.
pub(crate) fn netdir(relays: Vec<RelayInfo>, w: &str, testing: bool) -> NetDir {
    NetDir::new(relays, weights(w), BTreeMap::new(), testing)
}

/// A mixed network: `n` of each of guards, middles, exits and guard+exits, with
/// bandwidths 100, 200, ... kB/s; relay numbers from 1.
pub(crate) fn mixed(n: u16, w: &str, testing: bool) -> NetDir {
    let mut v = Vec::new();
    let mut i = 1;
    for kind in [
        GUARD,
        MID,
        EXIT,
        "Exit Fast Guard Running Stable Valid V2Dir",
    ] {
        for _ in 0..n {
            v.push(relay(i, kind, 100 * u32::from(i)));
            i += 1;
        }
    }
    netdir(v, w, testing)
}

/// Pearson's chi-square statistic of `observed` counts against `expected` probabilities.
pub(crate) fn chi_square(observed: &[u64], expected: &[f64]) -> f64 {
    let n: u64 = observed.iter().sum();
    observed
        .iter()
        .zip(expected)
        .filter(|(_, &p)| p > 0.0)
        .map(|(&o, &p)| {
            let e = p * n as f64;
            (o as f64 - e).powi(2) / e
        })
        .sum()
}

/// A generous critical value for chi-square with `df` degrees of freedom (about the
/// 0.999 quantile: df + 4.5·sqrt(2·df) + 5).
pub(crate) fn chi_square_limit(df: usize) -> f64 {
    let df = df as f64;
    df + 4.5 * (2.0 * df).sqrt() + 5.0
}
