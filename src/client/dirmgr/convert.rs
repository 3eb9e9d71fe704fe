//! From a consensus and microdescriptors to the client's [`NetDir`], and C tor's
//! "enough paths" fraction (`compute_frac_paths_available` in `nodelist.c`).

use std::collections::HashMap;
use std::net::SocketAddr;

use crate::client::netdir::{NetDir, RelayInfo, MISSING_BANDWIDTH_KB};
use crate::dir::doc::consensus::{Consensus, RouterStatus};
use crate::dir::doc::microdesc::Microdesc;
use crate::dir::flags::RelayFlags;

/// One relay: its consensus entry joined with its microdescriptor (dir-spec §3.4.1, §3.3).
pub fn relay_info(rs: &RouterStatus, md: &Microdesc) -> RelayInfo {
    let mut addrs = vec![SocketAddr::from((rs.ipv4, rs.or_port))];
    addrs.extend(rs.ipv6_or.map(SocketAddr::V6));
    let mut family = md.family.clone();
    family.extend(md.family_ids.iter().cloned());
    RelayInfo {
        nickname: rs.nickname.clone(),
        rsa_id: rs.rsa_id,
        ed_id: md.ed_id,
        addrs,
        ntor_key: md.ntor_onion_key,
        flags: rs.flags,
        bandwidth: rs.bandwidth.unwrap_or(MISSING_BANDWIDTH_KB),
        family,
        ipv4_policy: rs
            .port_summary
            .clone()
            .unwrap_or_else(|| md.ipv4_policy.clone()),
        ipv6_policy: md.ipv6_policy.clone(),
        protocols: rs.protocols.clone(),
    }
}

/// The directory of every consensus entry whose microdescriptor is held.
pub fn netdir_from(c: &Consensus, mds: &HashMap<[u8; 32], Microdesc>, testing: bool) -> NetDir {
    let relays = c
        .routers
        .iter()
        .filter_map(|rs| {
            let md = mds.get(&rs.md_digest?)?;
            Some(relay_info(rs, md))
        })
        .collect();
    NetDir::new(
        relays,
        c.bandwidth_weights.clone(),
        c.params.clone(),
        testing,
    )
}

/// f_guard × f_mid × f_exit: for guards, for all usable (Running, Valid) relays and for
/// exits (Exit flag, policy not rejecting everything), the share of consensus bandwidth
/// (of relay count when all bandwidths are 0) whose microdescriptor is held. With no exit
/// in the consensus f_exit is 1 (C tor then builds internal paths only).
pub fn paths_fraction(c: &Consensus, mds: &HashMap<[u8; 32], Microdesc>) -> f64 {
    let usable = RelayFlags::RUNNING.union(RelayFlags::VALID);
    let mid: Vec<&RouterStatus> = c
        .routers
        .iter()
        .filter(|r| r.flags.contains(usable))
        .collect();
    let has = |r: &RouterStatus| r.md_digest.is_some_and(|d| mds.contains_key(&d));
    let guards: Vec<&RouterStatus> = mid
        .iter()
        .copied()
        .filter(|r| r.flags.contains(RelayFlags::GUARD))
        .collect();
    let exits: Vec<&RouterStatus> = mid
        .iter()
        .copied()
        .filter(|r| {
            r.flags.contains(RelayFlags::EXIT)
                && !r.flags.contains(RelayFlags::BAD_EXIT)
                && r.port_summary.as_ref().is_none_or(|p| !p.allows_none())
        })
        .collect();
    let frac = |set: &[&RouterStatus], empty: f64| -> f64 {
        if set.is_empty() {
            return empty;
        }
        let bw = |r: &RouterStatus| f64::from(r.bandwidth.unwrap_or(0));
        let total: f64 = set.iter().map(|r| bw(r)).sum();
        if total > 0.0 {
            set.iter().filter(|r| has(r)).map(|r| bw(r)).sum::<f64>() / total
        } else {
            set.iter().filter(|r| has(r)).count() as f64 / set.len() as f64
        }
    };
    // C tor: guards are required (f_guard of an empty list is 0), exits are not.
    frac(&guards, 0.0) * frac(&mid, 0.0) * frac(&exits, 1.0)
}
