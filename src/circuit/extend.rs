//! EXTEND2 at a relay: validating the request, asking the runtime for a channel, sending
//! CREATE2, and turning CREATED2 into EXTENDED2 (tor-spec §5.1.2; brief §5; C tor
//! `circuitbuild_relay.c` `circuit_extend` and helpers, `onion.c`
//! `extend_cell_from_extend2_cell_body`, `check_extend_cell`).
//!
//! Rules, as C tor applies them:
//!
//! - link specifiers: exactly one legacy (RSA) id, not all-zero; at most one Ed25519 id; the
//!   first IPv4 and the first IPv6 address count, later ones are ignored, unknown types are
//!   ignored; at least one usable address (non-zero address and port; private only with
//!   `extend_allow_private`);
//! - handshake: CREATE_FAST's type (1) is refused, ntor must be 84 bytes; other types are
//!   passed on for the next hop to judge (C tor `check_create_cell` with `unknown_ok`);
//! - no extending back to the previous hop (by RSA or Ed25519 id), nor to ourselves
//!   (C tor fails the connection: CONNECTFAILED);
//! - a circuit that already has a next hop (or is getting one) cannot extend again.
//!
//! The runtime answers [`super::Action::Extend`] with [`RelayCircuits::extend_ready`] (a
//! registered channel whose peer has the RSA id and, if one was given, the Ed25519 id; any
//! mismatch closes the circuit with OR_IDENTITY) or [`RelayCircuits::extend_failed`].

use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};

use rand_core::RngCore;

use super::table::NSide;
use super::{
    policy::is_private, Action, ChanId, ChannelInfo, CircRef, CircuitConfig, RelayCircuits, Side,
};
use crate::cell::circuit::CREATE2_MAX_HDATA;
use crate::cell::{ChanCell, CircId, Create2, DestroyReason, HandshakeType};
use crate::ids::{Ed25519Identity, RsaIdentity};
use crate::linkspec::LinkSpec;
use crate::relaycell::Extend2;

/// The next hop an EXTEND2 names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtendTarget {
    /// Legacy RSA identity (required).
    pub rsa_id: RsaIdentity,
    /// Ed25519 identity, when given (the channel must then prove it).
    pub ed_id: Option<Ed25519Identity>,
    /// The first usable IPv4 address.
    pub ipv4: Option<SocketAddrV4>,
    /// The first usable IPv6 address.
    pub ipv6: Option<SocketAddrV6>,
}

impl ExtendTarget {
    /// The addresses to try, IPv4 first.
    pub fn addrs(&self) -> Vec<SocketAddr> {
        self.ipv4
            .map(SocketAddr::V4)
            .into_iter()
            .chain(self.ipv6.map(SocketAddr::V6))
            .collect()
    }

    /// True if a channel whose peer proved these identities may carry the circuit.
    pub fn matches(&self, info: &ChannelInfo) -> bool {
        info.peer_rsa == Some(self.rsa_id) && self.ed_id.is_none_or(|ed| info.peer_ed == Some(ed))
    }
}

fn usable(addr: SocketAddr, allow_private: bool) -> bool {
    addr.port() != 0 && !addr.ip().is_unspecified() && (allow_private || !is_private(addr.ip()))
}

/// Checks an EXTEND2 as C tor does; `prev` is the channel it came from. On failure, the
/// DESTROY reason and why.
pub(super) fn validate(
    ext: &Extend2,
    cfg: &CircuitConfig,
    prev: &ChannelInfo,
) -> Result<(ExtendTarget, Create2), (DestroyReason, &'static str)> {
    let proto = |why| (DestroyReason::PROTOCOL, why);
    let (mut v4, mut v6, mut rsa, mut ed) = (None, None, None, None);
    let (mut dup_rsa, mut dup_ed) = (false, false);
    for ls in &ext.linkspecs {
        match ls {
            LinkSpec::Ipv4(a) if v4.is_none() => v4 = Some(*a),
            LinkSpec::Ipv6(a) if v6.is_none() => v6 = Some(*a),
            LinkSpec::LegacyId(id) => dup_rsa |= rsa.replace(*id).is_some(),
            LinkSpec::Ed25519Id(id) => dup_ed |= ed.replace(*id).is_some(),
            _ => {}
        }
    }
    if dup_rsa || dup_ed {
        return Err(proto("EXTEND2 with a duplicate identity"));
    }
    let rsa_id = rsa.ok_or(proto("EXTEND2 without a legacy id"))?;
    if rsa_id.is_zero() {
        return Err(proto("EXTEND2 to an all-zero legacy id"));
    }
    if v4.is_none() && v6.is_none() {
        return Err(proto("EXTEND2 without an address"));
    }
    let allow = cfg.extend_allow_private;
    let ipv4 = v4.filter(|a| usable(SocketAddr::V4(*a), allow));
    let ipv6 = v6.filter(|a| usable(SocketAddr::V6(*a), allow));
    if ipv4.is_none() && ipv6.is_none() {
        return Err(proto("EXTEND2 without a usable address"));
    }
    if prev.peer_rsa == Some(rsa_id) || (ed.is_some() && prev.peer_ed == ed) {
        return Err(proto("EXTEND2 back to the previous hop"));
    }
    if rsa_id == cfg.rsa_id || ed == Some(cfg.ed_id) {
        return Err((DestroyReason::CONNECTFAILED, "EXTEND2 to ourselves"));
    }
    match ext.htype {
        HandshakeType::RESERVED => return Err(proto("EXTEND2 with the CREATE_FAST type")),
        HandshakeType::NTOR if ext.hdata.len() != crate::crypto::ntor::CLIENT_HANDSHAKE_LEN => {
            return Err(proto("EXTEND2 with a malformed ntor onion skin"))
        }
        _ => {}
    }
    if ext.hdata.len() > CREATE2_MAX_HDATA {
        return Err(proto("EXTEND2 handshake too long for CREATE2"));
    }
    let create2 = Create2 {
        htype: ext.htype,
        hdata: ext.hdata.to_vec(),
    };
    Ok((
        ExtendTarget {
            rsa_id,
            ed_id: ed,
            ipv4,
            ipv6,
        },
        create2,
    ))
}

impl RelayCircuits {
    pub(super) fn on_extend2(&mut self, key: (ChanId, CircId), ext: Extend2) {
        let Some(prev) = self.chans.get(&key.0).map(|c| c.info) else {
            return;
        };
        let checked = validate(&ext, &self.cfg, &prev);
        let Some(c) = self.circs.get_mut(&key) else {
            return;
        };
        if !matches!(c.n, NSide::None) {
            self.close(
                key,
                DestroyReason::PROTOCOL,
                Side::Neither,
                "EXTEND2 on a circuit that already has a next hop",
            );
            return;
        }
        match checked {
            Ok((target, create2)) => {
                c.n = NSide::Extending {
                    create2,
                    target: target.clone(),
                };
                let circ = CircRef {
                    chan: key.0,
                    circ_id: key.1,
                    serial: c.serial,
                };
                self.actions.push_back(Action::Extend { circ, target });
            }
            Err((reason, why)) => {
                tracing::info!(why, "EXTEND2 refused");
                self.close(key, reason, Side::Neither, why);
            }
        }
    }

    /// The runtime found (or opened) channel `chan` for an [`Action::Extend`]: sends the
    /// CREATE2 on it. Closes the circuit with OR_IDENTITY if the channel's peer is not the
    /// relay the EXTEND2 named, RESOURCELIMIT if no circuit id is free.
    pub fn extend_ready<R: RngCore>(&mut self, circ: CircRef, chan: ChanId, rng: &mut R) {
        if self.circ(circ).is_none() {
            return;
        }
        let key = (circ.chan, circ.circ_id);
        let info = self.chans.get(&chan).map(|c| c.info);
        let id = self.alloc_circ_id(chan, rng);
        let Some(c) = self.circs.get_mut(&key) else {
            return;
        };
        let NSide::Extending { target, .. } = &c.n else {
            return;
        };
        let Some(info) = info else {
            self.close(
                key,
                DestroyReason::CHANNEL_CLOSED,
                Side::Neither,
                "extend channel is gone",
            );
            return;
        };
        if !target.matches(&info) {
            self.close(
                key,
                DestroyReason::OR_IDENTITY,
                Side::Neither,
                "next hop has another identity",
            );
            return;
        }
        let Some(id) = id else {
            self.close(
                key,
                DestroyReason::RESOURCELIMIT,
                Side::Neither,
                "no free circuit id",
            );
            return;
        };
        let NSide::Extending { create2, .. } =
            std::mem::replace(&mut c.n, NSide::AwaitingCreated { chan, id })
        else {
            return;
        };
        self.nside.insert((chan, id), key);
        self.actions.push_back(Action::Send {
            chan,
            cell: ChanCell::new(id, create2),
        });
    }

    /// The runtime could not get a channel for an [`Action::Extend`] (C tor:
    /// CONNECTFAILED when the connection cannot be launched, CHANNEL_CLOSED when it fails).
    pub fn extend_failed(&mut self, circ: CircRef, reason: DestroyReason) {
        if self.circ(circ).is_some() {
            self.close(
                (circ.chan, circ.circ_id),
                reason,
                Side::Neither,
                "extend failed",
            );
        }
    }
}
