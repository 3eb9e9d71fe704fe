//! Path selection (path-spec §2.2 "Path selection and constraints", §2.3 "Choosing an
//! exit"; C tor `circuitbuild.c` `choose_good_exit_server`, `choose_good_middle_server`,
//! `nodelist.c` `nodes_in_same_family`): exit paths for a target port, internal paths
//! (onion services, stage 4) and one-hop directory paths.
//!
//! Order as C tor: the last hop first, then the guard (avoiding the last hop's family),
//! then the middle (avoiding both). Rules for every path:
//! - no relay twice; no two relays of one family: each lists the other in its `family`
//!   (`$FINGERPRINT` or nickname), or both list one family id (proposal 321);
//! - no two relays in one IPv4 /16 or IPv6 /32, unless the network is a
//!   `TestingTorNetwork` (C tor's testing defaults set `EnforceDistinctSubnets 0`; families
//!   stay enforced, as in C tor);
//! - every hop Running, Valid and Fast (C tor's `CRN_NEED_CAPACITY` for general
//!   circuits), Stable too when the path is for a long-lived port;
//! - the exit is not BadExit and its policy summary allows the port; MiddleOnly relays only
//!   in the middle.
//!
//! Not here: ExcludeNodes/ExitNodes style restrictions, vanguards, conflux, and
//! circuit-build-timeout learning.

mod predict;

pub use predict::{PredictedPorts, DEFAULT_PREDICTION_WINDOW};

use rand::Rng;

use crate::dir::flags::RelayFlags;

use super::guards::{GuardError, GuardMgr};
use super::netdir::{NetDir, RelayInfo, WeightRole};
use super::{HandshakeKind, HopTarget};

/// C tor's default `LongLivedPorts`: streams to these need Stable relays.
pub const LONG_LIVED_PORTS: &[u16] = &[
    21, 22, 706, 1863, 5050, 5190, 5222, 5223, 6523, 6667, 6697, 8300,
];

/// Whether a stream to `port` needs a path of Stable relays (C tor `LongLivedPorts`).
pub fn needs_stable_for_port(port: u16) -> bool {
    LONG_LIVED_PORTS.contains(&port)
}

/// Why no path could be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// No usable exit allows the port (or, with no port, exits anywhere).
    #[error("no exit allows port {0}")]
    NoExitForPort(u16),
    /// No usable exit at all.
    #[error("no usable exit relay")]
    NoExit,
    /// No relay for the last hop of an internal path.
    #[error("no usable relay for the last hop of an internal path")]
    NoLastHop,
    /// No usable guard outside the other hops' families.
    #[error("no usable guard: {0}")]
    NoGuard(#[from] GuardError),
    /// No usable middle relay outside the other hops' families.
    #[error("no usable middle relay outside the other hops' families")]
    NoMiddle,
    /// No directory cache (V2Dir) and no authority.
    #[error("no directory cache or authority to fetch from")]
    NoDirectory,
}

/// What the exit of a path must do.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExitUsage {
    /// The ports the exit should allow. The exits allowing the most of them are preferred
    /// (C tor scores exits by how many pending streams or predicted ports they support);
    /// with one port, the exit must allow it. Empty: any relay that exits somewhere.
    pub ports: Vec<u16>,
    /// Whether every hop must be Stable (a long-lived port).
    pub needs_stable: bool,
}

impl ExitUsage {
    /// An exit for one port; Stable if the port is in [`LONG_LIVED_PORTS`].
    pub fn port(port: u16) -> ExitUsage {
        ExitUsage {
            ports: vec![port],
            needs_stable: needs_stable_for_port(port),
        }
    }
}

/// A chosen path, first hop first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Path {
    /// The relays, guard first.
    pub hops: Vec<RelayInfo>,
    /// Whether the first hop came from the guard manager (report the circuit's success or
    /// failure to it with [`GuardMgr::note_success`] / [`GuardMgr::note_failure`]).
    pub managed_guard: bool,
}

impl Path {
    /// The hops as circuit targets.
    pub fn hop_targets(&self, handshake: HandshakeKind) -> Vec<HopTarget> {
        self.hops.iter().map(|r| r.hop_target(handshake)).collect()
    }

    /// The first hop.
    pub fn first(&self) -> Option<&RelayInfo> {
        self.hops.first()
    }

    /// The last hop.
    pub fn last(&self) -> Option<&RelayInfo> {
        self.hops.last()
    }
}

/// Whether an entry of a `family` line names `relay` (`$HEX`, `$HEX=nick`, `$HEX~nick`, or
/// a nickname, case-insensitive; C tor `node_nickname_matches`).
fn family_entry_names(entry: &str, relay: &RelayInfo) -> bool {
    if let Some(rest) = entry.strip_prefix('$') {
        let hex = rest.split(['=', '~']).next().unwrap_or("");
        return crate::ids::RsaIdentity::from_hex(hex) == Some(relay.rsa_id);
    }
    !entry.contains(':') && entry.eq_ignore_ascii_case(&relay.nickname)
}

/// Whether `a`'s declared family names `b`.
fn declares(a: &RelayInfo, b: &RelayInfo) -> bool {
    a.family.iter().any(|e| family_entry_names(e, b))
}

/// Whether `a` and `b` share a family id (a `family` entry containing `:`).
fn share_family_id(a: &RelayInfo, b: &RelayInfo) -> bool {
    a.family
        .iter()
        .filter(|e| e.contains(':') && !e.starts_with('$'))
        .any(|e| b.family.iter().any(|f| f == e))
}

/// Whether `a` and `b` are in one IPv4 /16 or one IPv6 /32 (C tor
/// `router_addrs_in_same_network`).
pub fn same_subnet(a: &RelayInfo, b: &RelayInfo) -> bool {
    let v4 = match (a.ipv4(), b.ipv4()) {
        (Some(x), Some(y)) if !x.is_unspecified() && !y.is_unspecified() => {
            x.octets()[..2] == y.octets()[..2]
        }
        _ => false,
    };
    let v6 = match (a.ipv6(), b.ipv6()) {
        (Some(x), Some(y)) if !x.is_unspecified() && !y.is_unspecified() => {
            x.segments()[..2] == y.segments()[..2]
        }
        _ => false,
    };
    v4 || v6
}

/// Whether `a` and `b` are the same relay or may not share a path (C tor
/// `nodes_in_same_family`, plus identity): mutual family declaration, a shared family id,
/// or (outside testing networks) the same /16 or /32.
pub fn related(netdir: &NetDir, a: &RelayInfo, b: &RelayInfo) -> bool {
    if a.rsa_id == b.rsa_id || (a.ed_id.is_some() && a.ed_id == b.ed_id) {
        return true;
    }
    if !netdir.testing() && same_subnet(a, b) {
        return true;
    }
    (declares(a, b) && declares(b, a)) || share_family_id(a, b)
}

fn related_to_any(netdir: &NetDir, r: &RelayInfo, others: &[&RelayInfo]) -> bool {
    others.iter().any(|o| related(netdir, r, o))
}

/// Running, Valid, Fast, and Stable if asked.
fn fit(r: &RelayInfo, needs_stable: bool) -> bool {
    r.is_usable() && r.has(RelayFlags::FAST) && (!needs_stable || r.has(RelayFlags::STABLE))
}

/// Whether `r` may be the exit of a general circuit: fit, not BadExit, not MiddleOnly,
/// and it exits somewhere.
fn exit_capable(r: &RelayInfo, needs_stable: bool) -> bool {
    fit(r, needs_stable)
        && !r.has(RelayFlags::BAD_EXIT)
        && !r.has(RelayFlags::MIDDLE_ONLY)
        && r.allows_some_exit()
}

/// Chooses an exit for `usage` (path-spec §2.3): among exit-capable relays, those that allow
/// the most of the requested ports, weighted for the exit position.
pub fn choose_exit<'a, R: Rng + ?Sized>(
    netdir: &'a NetDir,
    rng: &mut R,
    usage: &ExitUsage,
) -> Result<&'a RelayInfo, PathError> {
    let capable: Vec<&RelayInfo> = netdir
        .usable()
        .filter(|r| exit_capable(r, usage.needs_stable))
        .collect();
    if capable.is_empty() {
        return Err(match usage.ports.first() {
            Some(&p) => PathError::NoExitForPort(p),
            None => PathError::NoExit,
        });
    }
    let candidates: Vec<&RelayInfo> = if usage.ports.is_empty() {
        capable
    } else {
        let score = |r: &RelayInfo| usage.ports.iter().filter(|&&p| r.allows_port(p)).count();
        let best = capable.iter().map(|r| score(r)).max().unwrap_or(0);
        if best == 0 {
            return Err(PathError::NoExitForPort(
                usage.ports.first().copied().unwrap_or(0),
            ));
        }
        capable.into_iter().filter(|r| score(r) == best).collect()
    };
    netdir
        .pick_weighted(rng, &candidates, WeightRole::Exit)
        .ok_or(PathError::NoExit)
}

/// Chooses a middle relay avoiding `exclude` and their families (C tor
/// `choose_good_middle_server`). MiddleOnly relays are allowed here.
pub fn choose_middle<'a, R: Rng + ?Sized>(
    netdir: &'a NetDir,
    rng: &mut R,
    exclude: &[&RelayInfo],
    needs_stable: bool,
) -> Result<&'a RelayInfo, PathError> {
    let candidates: Vec<&RelayInfo> = netdir
        .usable()
        .filter(|r| fit(r, needs_stable) && !related_to_any(netdir, r, exclude))
        .collect();
    netdir
        .pick_weighted(rng, &candidates, WeightRole::Middle)
        .ok_or(PathError::NoMiddle)
}

/// Chooses the last hop of an internal path: a fit relay that is not MiddleOnly, weighted
/// as a middle (C tor picks internal circuits' last hop with `WEIGHT_FOR_MID`).
fn choose_internal_last<'a, R: Rng + ?Sized>(
    netdir: &'a NetDir,
    rng: &mut R,
    needs_stable: bool,
) -> Result<&'a RelayInfo, PathError> {
    let candidates: Vec<&RelayInfo> = netdir
        .usable()
        .filter(|r| fit(r, needs_stable) && !r.has(RelayFlags::MIDDLE_ONLY))
        .collect();
    netdir
        .pick_weighted(rng, &candidates, WeightRole::Middle)
        .ok_or(PathError::NoLastHop)
}

/// Builds a 3-hop path whose last hop is `last`: a guard from `guards` avoiding `last`'s
/// family, then a middle avoiding both.
fn path_ending_at<R: Rng + ?Sized>(
    netdir: &NetDir,
    rng: &mut R,
    guards: &mut GuardMgr,
    now: u64,
    last: &RelayInfo,
    needs_stable: bool,
) -> Result<Path, PathError> {
    let (guard, managed) = guards.select(netdir, rng, now, &[last], needs_stable)?;
    let middle = choose_middle(netdir, rng, &[last, &guard], needs_stable)?;
    Ok(Path {
        hops: vec![guard, middle.clone(), last.clone()],
        managed_guard: managed,
    })
}

/// A 3-hop exit path for `usage`: exit, then guard, then middle.
pub fn exit_path<R: Rng + ?Sized>(
    netdir: &NetDir,
    rng: &mut R,
    guards: &mut GuardMgr,
    now: u64,
    usage: &ExitUsage,
) -> Result<Path, PathError> {
    let exit = choose_exit(netdir, rng, usage)?;
    path_ending_at(netdir, rng, guards, now, exit, usage.needs_stable)
}

/// A 3-hop internal path (no exit needed; for onion-service circuits). With `last`, the
/// path ends at that relay (an HSDir, introduction or rendezvous point); otherwise at a
/// relay chosen as C tor chooses internal circuits' last hop.
pub fn internal_path<R: Rng + ?Sized>(
    netdir: &NetDir,
    rng: &mut R,
    guards: &mut GuardMgr,
    now: u64,
    last: Option<&RelayInfo>,
    needs_stable: bool,
) -> Result<Path, PathError> {
    let last = match last {
        Some(l) => l,
        None => choose_internal_last(netdir, rng, needs_stable)?,
    };
    path_ending_at(netdir, rng, guards, now, last, needs_stable)
}

/// A relay to fetch directory documents from over a one-hop BEGIN_DIR circuit, without
/// guards: a V2Dir relay (not MiddleOnly) weighted for the directory position, or an authority (uniformly)
/// when no relay caches (C tor `router_pick_directory_server`, then the authorities).
pub fn dir_relay<'a, R: Rng + ?Sized>(
    netdir: &'a NetDir,
    rng: &mut R,
) -> Result<&'a RelayInfo, PathError> {
    let caches: Vec<&RelayInfo> = netdir
        .usable()
        .filter(|r| r.has(RelayFlags::V2DIR) && !r.has(RelayFlags::MIDDLE_ONLY))
        .collect();
    if let Some(r) = netdir.pick_weighted(rng, &caches, WeightRole::Dir) {
        return Ok(r);
    }
    let auths: Vec<&RelayInfo> = netdir
        .relays()
        .iter()
        .filter(|r| r.has(RelayFlags::AUTHORITY) && r.has(RelayFlags::RUNNING))
        .collect();
    netdir
        .pick_weighted(rng, &auths, WeightRole::Unweighted)
        .ok_or(PathError::NoDirectory)
}

/// A one-hop directory path: a directory guard (one of the first primary guards, C tor's
/// `guard-n-primary-dir-guards-to-use`) when guards are in use, otherwise [`dir_relay`].
pub fn dir_path<R: Rng + ?Sized>(
    netdir: &NetDir,
    rng: &mut R,
    guards: &mut GuardMgr,
    now: u64,
) -> Result<Path, PathError> {
    if let Some(g) = guards.select_dir_guard(netdir, rng, now) {
        return Ok(Path {
            hops: vec![g],
            managed_guard: true,
        });
    }
    Ok(Path {
        hops: vec![dir_relay(netdir, rng)?.clone()],
        managed_guard: false,
    })
}

#[cfg(test)]
mod tests;
