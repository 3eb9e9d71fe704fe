//! The client's view of the network: the usable relays of a consensus joined with their
//! microdescriptors, the consensus parameters (dir-spec §3.4.1 "params", with C tor's
//! defaults and clamping) and the bandwidth weights (dir-spec §3.8.3), and weighted random
//! choice of a relay for a path position (path-spec §2.2 "Path selection and constraints",
//! C tor `compute_weighted_bandwidths` in `node_select.c`).
//!
//! The caller (the directory manager) builds one [`RelayInfo`] per consensus entry that has
//! a microdescriptor, as C tor only uses relays whose descriptor it holds. Everything is
//! sans-IO: randomness comes from the caller's [`rand::Rng`].
//!
//! Not here: the path rules themselves ([`super::path`]), guards ([`super::guards`]),
//! guardfraction (proposal 236: no current consensus carries it) and bridges.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;

use rand::Rng;

use crate::crypto::ll::X25519Public;
use crate::dir::flags::{PortSummary, RelayFlags};
use crate::ids::{Ed25519Identity, RsaIdentity};

use super::{HandshakeKind, HopTarget};

/// The consensus bandwidth (kilobytes/s) to assume for an entry without a `w Bandwidth=`
/// value: C tor uses 30000 bytes "chosen arbitrarily" (`compute_weighted_bandwidths`).
pub const MISSING_BANDWIDTH_KB: u32 = 30;

/// Default `bwweightscale` (dir-spec §3.4.1; C tor `BW_WEIGHT_SCALE`).
pub const DEFAULT_BW_WEIGHT_SCALE: i32 = 10000;

/// One relay as path selection sees it: its consensus entry (md flavour) joined with its
/// microdescriptor (dir-spec §3.4.1 router status entries, §3.3 microdescriptors).
#[derive(Clone, PartialEq, Eq)]
pub struct RelayInfo {
    /// Its nickname.
    pub nickname: String,
    /// Its RSA identity fingerprint.
    pub rsa_id: RsaIdentity,
    /// Its Ed25519 identity (from the microdescriptor's `id ed25519` line), if any.
    pub ed_id: Option<Ed25519Identity>,
    /// Its ORPorts: the consensus `r` line address first, then any `a` line address.
    pub addrs: Vec<SocketAddr>,
    /// Its ntor onion key.
    pub ntor_key: X25519Public,
    /// Its consensus flags.
    pub flags: RelayFlags,
    /// Its consensus bandwidth (`w Bandwidth=`), in kilobytes per second. Use
    /// [`MISSING_BANDWIDTH_KB`] when the entry has none.
    pub bandwidth: u32,
    /// The microdescriptor's `family` entries (`$FINGERPRINT` or nicknames). Entries of its
    /// `family-ids` line (`ed25519:...`, proposal 321) may be appended here too: an entry
    /// that contains a `:` is treated as a family id, which two relays share to be family.
    pub family: Vec<String>,
    /// The IPv4 exit policy summary (consensus `p` or microdescriptor `p` line).
    pub ipv4_policy: PortSummary,
    /// The IPv6 exit policy summary (`p6`), if any.
    pub ipv6_policy: Option<PortSummary>,
    /// The consensus `pr` line, if any.
    pub protocols: Option<String>,
}

impl std::fmt::Debug for RelayInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Addresses scrubbed as in SafeLogging; identities and flags are public.
        f.debug_struct("RelayInfo")
            .field("nickname", &self.nickname)
            .field("rsa_id", &self.rsa_id)
            .field("flags", &self.flags)
            .field("bandwidth", &self.bandwidth)
            .finish_non_exhaustive()
    }
}

impl RelayInfo {
    /// Running and Valid: the relays C tor's node selection considers at all.
    pub fn is_usable(&self) -> bool {
        self.flags
            .contains(RelayFlags::RUNNING.union(RelayFlags::VALID))
    }

    /// Whether its IPv4 policy summary allows exiting to `port`.
    pub fn allows_port(&self, port: u16) -> bool {
        self.ipv4_policy.allows(port)
    }

    /// Whether it allows exiting anywhere at all (C tor `node_exit_policy_rejects_all` is
    /// false).
    pub fn allows_some_exit(&self) -> bool {
        !self.ipv4_policy.allows_none()
            || self.ipv6_policy.as_ref().is_some_and(|p| !p.allows_none())
    }

    /// Whether it has a flag.
    pub fn has(&self, flag: RelayFlags) -> bool {
        self.flags.contains(flag)
    }

    /// Its first IPv4 ORPort address.
    pub fn ipv4(&self) -> Option<std::net::Ipv4Addr> {
        self.addrs.iter().find_map(|a| match a {
            SocketAddr::V4(v4) => Some(*v4.ip()),
            SocketAddr::V6(_) => None,
        })
    }

    /// Its first IPv6 ORPort address.
    pub fn ipv6(&self) -> Option<std::net::Ipv6Addr> {
        self.addrs.iter().find_map(|a| match a {
            SocketAddr::V6(v6) => Some(*v6.ip()),
            SocketAddr::V4(_) => None,
        })
    }

    /// Its bandwidth in bytes per second as C tor weighs it (`kb_to_bytes`: ×1000, capped at
    /// `i32::MAX`).
    pub fn bandwidth_bytes(&self) -> f64 {
        const LIMIT: u32 = i32::MAX as u32 / 1000;
        if self.bandwidth > LIMIT {
            f64::from(i32::MAX)
        } else {
            f64::from(self.bandwidth * 1000)
        }
    }

    /// The circuit hop for this relay. ntor-v3 needs the Ed25519 identity: without it the
    /// hop falls back to ntor.
    pub fn hop_target(&self, handshake: HandshakeKind) -> HopTarget {
        let handshake = match (handshake, self.ed_id) {
            (HandshakeKind::NtorV3, None) => HandshakeKind::Ntor,
            (h, _) => h,
        };
        HopTarget {
            addrs: self.addrs.clone(),
            rsa_id: self.rsa_id,
            ed_id: self.ed_id,
            ntor_key: self.ntor_key,
            handshake,
        }
    }
}

/// The position a relay is weighted for (C tor `bandwidth_weight_rule_t`, dir-spec §3.8.3
/// "Wxy: weight for a relay with flags y in position x").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WeightRole {
    /// First hop: `Wgg`, `Wgm`, `Wgd` (and 0 for plain exits).
    Guard,
    /// Middle hop: `Wmg`, `Wmm`, `Wme`, `Wmd`.
    Middle,
    /// Last hop: `Weg`, `Wem`, `Wee`, `Wed`.
    Exit,
    /// A directory fetch (one-hop BEGIN_DIR): `Wbg`, `Wbm`, `Wbe`, `Wbd`.
    Dir,
    /// Plain bandwidth, no position weights.
    Unweighted,
}

/// The weights of one role, already divided by the weight scale: guard, middle, exit,
/// guard+exit ("d"), and the directory multipliers `W?b`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct RoleWeights {
    g: f64,
    m: f64,
    e: f64,
    d: f64,
    gb: f64,
    mb: f64,
    eb: f64,
    db: f64,
}

/// A network directory: usable relays, consensus parameters and bandwidth weights.
#[derive(Clone, Debug)]
pub struct NetDir {
    relays: Vec<RelayInfo>,
    by_rsa: HashMap<RsaIdentity, usize>,
    by_ed: HashMap<Ed25519Identity, usize>,
    weights: BTreeMap<String, i32>,
    params: BTreeMap<String, i32>,
    testing: bool,
}

impl NetDir {
    /// Builds a directory from the relays that have a microdescriptor, the consensus
    /// `bandwidth-weights` and `params`, and whether this is a `TestingTorNetwork`.
    /// Relays that are not Running and Valid are kept for lookups (guards need to know what
    /// is listed) but never chosen. Duplicate identities: the first entry wins.
    pub fn new(
        relays: Vec<RelayInfo>,
        weights: BTreeMap<String, i32>,
        params: BTreeMap<String, i32>,
        testing: bool,
    ) -> NetDir {
        let mut by_rsa = HashMap::with_capacity(relays.len());
        let mut by_ed = HashMap::with_capacity(relays.len());
        let mut kept = Vec::with_capacity(relays.len());
        for r in relays {
            if by_rsa.contains_key(&r.rsa_id) {
                continue;
            }
            let i = kept.len();
            by_rsa.insert(r.rsa_id, i);
            if let Some(ed) = r.ed_id {
                by_ed.entry(ed).or_insert(i);
            }
            kept.push(r);
        }
        NetDir {
            relays: kept,
            by_rsa,
            by_ed,
            weights,
            params,
            testing,
        }
    }

    /// Every relay, usable or not, in consensus order.
    pub fn relays(&self) -> &[RelayInfo] {
        &self.relays
    }

    /// The Running and Valid relays.
    pub fn usable(&self) -> impl Iterator<Item = &RelayInfo> + '_ {
        self.relays.iter().filter(|r| r.is_usable())
    }

    /// The relay with this RSA identity.
    pub fn by_rsa_id(&self, id: &RsaIdentity) -> Option<&RelayInfo> {
        self.by_rsa.get(id).and_then(|&i| self.relays.get(i))
    }

    /// The relay with this Ed25519 identity.
    pub fn by_ed_id(&self, id: &Ed25519Identity) -> Option<&RelayInfo> {
        self.by_ed.get(id).and_then(|&i| self.relays.get(i))
    }

    /// Whether this is a `TestingTorNetwork` (distinct-subnet rules off, as C tor's
    /// `EnforceDistinctSubnets 0` in its testing defaults).
    pub fn testing(&self) -> bool {
        self.testing
    }

    /// A consensus parameter as C tor's `networkstatus_get_param`: `default` when absent,
    /// clamped into `min..=max` when out of range.
    pub fn param(&self, name: &str, default: i32, min: i32, max: i32) -> i32 {
        match self.params.get(name) {
            Some(&v) => v.clamp(min, max.max(min)),
            None => default,
        }
    }

    /// The raw consensus parameters.
    pub fn params(&self) -> &BTreeMap<String, i32> {
        &self.params
    }

    /// The raw bandwidth weights.
    pub fn weights(&self) -> &BTreeMap<String, i32> {
        &self.weights
    }

    /// `bwweightscale`: default 10000, range 1..=i32::MAX (C tor
    /// `networkstatus_get_weight_scale_param`).
    pub fn weight_scale(&self) -> i32 {
        self.param("bwweightscale", DEFAULT_BW_WEIGHT_SCALE, 1, i32::MAX)
    }

    /// One bandwidth weight as C tor's `networkstatus_get_bw_weight`: -1 when absent,
    /// clamped into `-1..=bwweightscale`.
    fn bw_weight(&self, name: &str) -> f64 {
        let scale = self.weight_scale();
        match self.weights.get(name) {
            Some(&v) => f64::from(v.clamp(-1, scale)),
            None => -1.0,
        }
    }

    fn role_weights(&self, role: WeightRole) -> RoleWeights {
        let scale = f64::from(self.weight_scale());
        let w = |n: &str| self.bw_weight(n);
        let (g, m, e, d) = match role {
            WeightRole::Guard => (w("Wgg"), w("Wgm"), 0.0, w("Wgd")),
            WeightRole::Middle => (w("Wmg"), w("Wmm"), w("Wme"), w("Wmd")),
            WeightRole::Exit => (w("Weg"), w("Wem"), w("Wee"), w("Wed")),
            WeightRole::Dir => (w("Wbg"), w("Wbm"), w("Wbe"), w("Wbd")),
            WeightRole::Unweighted => (scale, scale, scale, scale),
        };
        let (gb, mb, eb, db) = match role {
            WeightRole::Dir | WeightRole::Unweighted => (scale, scale, scale, scale),
            _ => (w("Wgb"), w("Wmb"), w("Web"), w("Wdb")),
        };
        let all = [g, m, e, d, gb, mb, eb, db];
        let all = if all.iter().any(|&x| x < 0.0) {
            // Missing or negative weights: C tor falls back to plain bandwidth.
            [scale; 8]
        } else {
            all
        };
        let [g, m, e, d, gb, mb, eb, db] = all.map(|x| x / scale);
        RoleWeights {
            g,
            m,
            e,
            d,
            gb,
            mb,
            eb,
            db,
        }
    }

    /// The weighted bandwidth of `relay` in `role` (C tor `compute_weighted_bandwidths`):
    /// bandwidth × the weight for its class — Guard+Exit ("d"), Guard, Exit (not BadExit)
    /// or middle — times the `W?b` factor if it is a directory (V2Dir).
    pub fn weighted_bandwidth(&self, relay: &RelayInfo, role: WeightRole) -> f64 {
        let w = self.role_weights(role);
        weigh(&w, relay)
    }

    /// Chooses one of `candidates` at random with probability proportional to its weighted
    /// bandwidth in `role`; uniformly if every weight is zero (C tor
    /// `choose_array_element_by_weight`). `None` if there is no candidate.
    pub fn pick_weighted<'a, R: Rng + ?Sized>(
        &self,
        rng: &mut R,
        candidates: &[&'a RelayInfo],
        role: WeightRole,
    ) -> Option<&'a RelayInfo> {
        let w = self.role_weights(role);
        let weights: Vec<f64> = candidates.iter().map(|r| weigh(&w, r)).collect();
        let total: f64 = weights.iter().sum();
        if candidates.is_empty() {
            return None;
        }
        if !(total > 0.0 && total.is_finite()) {
            return candidates.get(rng.gen_range(0..candidates.len())).copied();
        }
        let mut x = rng.gen::<f64>() * total;
        for (r, wt) in candidates.iter().zip(&weights) {
            if x < *wt {
                return Some(r);
            }
            x -= wt;
        }
        // Rounding: the last candidate with a non-zero weight.
        candidates
            .iter()
            .zip(&weights)
            .rev()
            .find(|(_, &wt)| wt > 0.0)
            .map(|(r, _)| *r)
    }
}

fn weigh(w: &RoleWeights, relay: &RelayInfo) -> f64 {
    let is_exit = relay.has(RelayFlags::EXIT) && !relay.has(RelayFlags::BAD_EXIT);
    let is_guard = relay.has(RelayFlags::GUARD);
    let is_dir = relay.has(RelayFlags::V2DIR);
    let weight = match (is_guard, is_exit) {
        (true, true) => w.d * if is_dir { w.db } else { 1.0 },
        (true, false) => w.g * if is_dir { w.gb } else { 1.0 },
        (false, true) => w.e * if is_dir { w.eb } else { 1.0 },
        (false, false) => w.m * if is_dir { w.mb } else { 1.0 },
    };
    weight.max(0.0) * relay.bandwidth_bytes()
}

#[cfg(test)]
pub(crate) mod testutil;

#[cfg(test)]
mod tests;
