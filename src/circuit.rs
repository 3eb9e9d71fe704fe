//! Circuits at a relay, sans-IO (tor-spec §5 "Circuit management", §6 "Application
//! connections and stream management", §7 "Flow control"; C tor 0.4.9 `command.c`,
//! `relay.c`, `circuitbuild_relay.c`, `connection_edge.c`; tor-wire-brief §1, §4–§8, §13).
//!
//! [`RelayCircuits`] is one relay's circuit state over all its channels. The runtime feeds it
//! decoded channel cells ([`RelayCircuits::handle_cell`]), channel life-cycle events, the
//! results of work it was asked to do (handshakes, channel look-ups for EXTEND2, TCP connects,
//! DNS), and stream bytes; it drains [`Action`]s ([`RelayCircuits::poll_action`]): cells to
//! send on a channel, [`HandshakeJob`]s to run on a worker pool, channels to find or open,
//! sockets to open, write or close. No clock, socket or thread is touched here.
//!
//! Rules, following C tor 0.4.9:
//!
//! - **Circuit ids** (tor-spec §5.1.1; brief §13): CREATE* with id 0 or with an id already in
//!   use on the channel is ignored; an id whose high bit does not match who initiated the TLS
//!   connection gets DESTROY(PROTOCOL). A channel has caps on its circuits and on its
//!   handshakes in flight; over a cap, DESTROY(RESOURCELIMIT).
//! - **Handshakes** (brief §4): CREATE2 ntor and ntor-v3 (congestion control declined), and
//!   CREATE_FAST, become a [`HandshakeJob`] that runs off the forwarding path; TAP (CREATE,
//!   CREATE2 type 0) and unknown types get DESTROY(PROTOCOL). Any relay cell on a circuit
//!   whose handshake is still pending closes it (`command_process_relay_cell`).
//! - **Relay cells** (tor-spec §5.5; brief §6, §7.3): forward cells are decrypted in place;
//!   unrecognised ones go on unchanged (same buffer, same command: RELAY_EARLY stays
//!   RELAY_EARLY) to the n-side, or close the circuit (PROTOCOL) when there is none. Backward
//!   cells get our layer and go to the p-side. At most 8 RELAY_EARLY cells forward; any
//!   RELAY_EARLY backward closes the circuit.
//! - **DESTROY** (tor-spec §5.4; `command_process_destroy_cell`, `circuit_about_to_free`):
//!   a circuit we close for reason R sends DESTROY(R) both ways; a DESTROY received from
//!   either side is passed on as DESTROY(DESTROYED), never with the remote reason (side
//!   channel). A closed channel closes its circuits with CHANNEL_CLOSED. TRUNCATE drops the
//!   n-side (DESTROY with the client's reason) and answers TRUNCATED(REQUESTED).
//! - **EXTEND2**: see [`extend`]. **Exit streams**: see [`exit`] and [`policy`].
//!
//! Memory stays bounded: every table is capped ([`CircuitConfig`]) and the action queue only
//! holds what one input produced until the runtime drains it.
//!
//! Deliberately not here: the per-channel cell queues and their caps (the runtime's channel
//! tasks), onion-service edges (introduction and rendezvous points; a later stage), congestion
//! control (declined), conflux, relay cell format v1, DoS heuristics beyond the caps.

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;
use rand_core::{CryptoRng, RngCore};

use crate::cell::{AnyChanMsg, ChanCell, CircId, Create2, Destroy, DestroyReason, HandshakeType};
use crate::ids::{Ed25519Identity, RsaIdentity};

pub mod exit;
pub mod extend;
#[doc(hidden)]
pub mod fuzzing;
pub mod handshake;
pub mod policy;
mod relay;
mod table;

pub use exit::{StreamAction, StreamRef, StreamTarget};
pub use extend::ExtendTarget;
pub use handshake::{HandshakeJob, HandshakeResult, OnionKeys};
pub use policy::{ExitDecision, ExitPolicy};

use table::Circuit;

/// The runtime's handle for one channel (any value unique among live channels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChanId(pub u64);

/// A circuit at this relay, named by its p-side (the channel the CREATE came from, and its
/// circuit id there) and a serial number, so that a late callback never reaches a newer
/// circuit that reused the id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CircRef {
    /// The p-side channel.
    pub chan: ChanId,
    /// The circuit id on the p-side channel.
    pub circ_id: CircId,
    /// Serial number of this circuit at this relay.
    pub serial: u64,
}

/// What the circuit layer knows about a channel once its link handshake is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelInfo {
    /// True if we initiated the TLS connection (our circuit ids then have the high bit set,
    /// and the peer's must not).
    pub we_initiated: bool,
    /// The peer's RSA identity, if it authenticated as a relay.
    pub peer_rsa: Option<RsaIdentity>,
    /// The peer's Ed25519 identity, if it authenticated as a relay.
    pub peer_ed: Option<Ed25519Identity>,
}

impl ChannelInfo {
    /// True if the peer did not authenticate: a client (C tor `channel_is_client`).
    pub fn peer_is_client(&self) -> bool {
        self.peer_rsa.is_none()
    }
}

/// Caps and policy switches; every table the circuit layer keeps is bounded by one of these.
#[derive(Debug, Clone)]
pub struct CircuitConfig {
    /// Our RSA identity (EXTEND2 to it is refused).
    pub rsa_id: RsaIdentity,
    /// Our Ed25519 identity (EXTEND2 to it is refused).
    pub ed_id: Ed25519Identity,
    /// Circuits a peer may have created on one channel (over: DESTROY RESOURCELIMIT).
    pub max_circuits_per_channel: usize,
    /// Handshakes in flight per channel (over: DESTROY RESOURCELIMIT).
    pub max_pending_handshakes_per_channel: usize,
    /// Open or opening streams per circuit (over: END RESOURCELIMIT).
    pub max_streams_per_circuit: usize,
    /// Recently closed stream ids remembered per circuit, so late cells are dropped quietly.
    pub max_half_closed_per_circuit: usize,
    /// Stream DATA cells handed to the runtime and not yet reported written before we stop
    /// sending stream SENDMEs (backpressure toward the client).
    pub max_unflushed_cells_per_stream: u16,
    /// EXTEND2 to private (loopback, RFC 1918, link-local) addresses
    /// (`ExtendAllowPrivateAddresses`; off by default).
    pub extend_allow_private: bool,
    /// Accept untagged (v0) circuit SENDMEs on every circuit (consensus
    /// `sendme_accept_min_version` = 0). CREATE_FAST circuits accept them always.
    pub accept_sendme_v0: bool,
    /// The exit policy (default: not an exit).
    pub exit_policy: ExitPolicy,
    /// Whether we answer BEGIN_DIR (`DirCache`); otherwise END NOTDIRECTORY.
    pub dir_cache: bool,
}

impl CircuitConfig {
    /// Defaults for a relay with these identities: 1000 circuits and 64 pending handshakes
    /// per channel, 500 streams and 64 half-closed ids per circuit, not an exit, a dir cache.
    pub fn new(rsa_id: RsaIdentity, ed_id: Ed25519Identity) -> Self {
        CircuitConfig {
            rsa_id,
            ed_id,
            max_circuits_per_channel: 1000,
            max_pending_handshakes_per_channel: 64,
            max_streams_per_circuit: 500,
            max_half_closed_per_circuit: 64,
            max_unflushed_cells_per_stream: 100,
            extend_allow_private: false,
            accept_sendme_v0: false,
            exit_policy: ExitPolicy::default(),
            dir_cache: true,
        }
    }
}

/// Something the runtime must do.
#[derive(Debug)]
pub enum Action {
    /// Queue `cell` on channel `chan`.
    Send {
        /// The channel.
        chan: ChanId,
        /// The cell (RELAY bodies share the received buffer when forwarded).
        cell: ChanCell,
    },
    /// Run a handshake on the worker pool, then call [`RelayCircuits::complete`].
    Handshake(HandshakeJob),
    /// Find a canonical channel to `target` (both identities must match) or open one, then
    /// call [`RelayCircuits::extend_ready`] or [`RelayCircuits::extend_failed`].
    Extend {
        /// The circuit being extended.
        circ: CircRef,
        /// Where to.
        target: ExtendTarget,
    },
    /// An exit-stream request for the runtime (connect, resolve, write, close...).
    Stream(exit::StreamAction),
}

/// Per-channel bookkeeping.
#[derive(Debug)]
struct ChanState {
    info: ChannelInfo,
    /// Circuits the peer created here (p-side entries).
    n_created: usize,
    /// Their handshakes in flight.
    n_pending: usize,
}

/// One relay's circuits over all its channels (sans-IO).
#[derive(Debug)]
pub struct RelayCircuits {
    cfg: CircuitConfig,
    chans: HashMap<ChanId, ChanState>,
    /// Circuits by p-side key.
    circs: HashMap<(ChanId, CircId), Circuit>,
    /// n-side key → p-side key.
    nside: HashMap<(ChanId, CircId), (ChanId, CircId)>,
    actions: VecDeque<Action>,
    next_serial: u64,
}

/// Tries for a free random circuit id on a channel before giving up (C tor: 64).
const CIRC_ID_TRIES: usize = 64;

impl RelayCircuits {
    /// A relay with no channels.
    pub fn new(cfg: CircuitConfig) -> Self {
        RelayCircuits {
            cfg,
            chans: HashMap::new(),
            circs: HashMap::new(),
            nside: HashMap::new(),
            actions: VecDeque::new(),
            next_serial: 1,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &CircuitConfig {
        &self.cfg
    }

    /// The next thing the runtime must do, if any.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// Every pending action, oldest first.
    pub fn drain_actions(&mut self) -> Vec<Action> {
        self.actions.drain(..).collect()
    }

    /// Registers an open channel (its link handshake has finished).
    pub fn add_channel(&mut self, chan: ChanId, info: ChannelInfo) {
        self.chans.insert(
            chan,
            ChanState {
                info,
                n_created: 0,
                n_pending: 0,
            },
        );
    }

    /// The peer identity and role of a registered channel.
    pub fn channel_info(&self, chan: ChanId) -> Option<ChannelInfo> {
        self.chans.get(&chan).map(|c| c.info)
    }

    /// Circuits at this relay (p-side entries).
    pub fn n_circuits(&self) -> usize {
        self.circs.len()
    }

    /// Every live circuit.
    pub fn circuits(&self) -> Vec<CircRef> {
        self.circs
            .keys()
            .filter_map(|k| self.circ_ref(*k))
            .collect()
    }

    /// Circuits the peer created on `chan`.
    pub fn n_circuits_on(&self, chan: ChanId) -> usize {
        self.chans.get(&chan).map_or(0, |c| c.n_created)
    }

    /// Handshakes in flight for circuits created on `chan`.
    pub fn n_pending_on(&self, chan: ChanId) -> usize {
        self.chans.get(&chan).map_or(0, |c| c.n_pending)
    }

    /// True if the circuit is still alive.
    pub fn is_live(&self, circ: CircRef) -> bool {
        self.circ(circ).is_some()
    }

    /// The circuit that `circ_id` names on `chan`, whichever side of it `chan` is.
    pub fn circuit_for(&self, chan: ChanId, circ_id: CircId) -> Option<CircRef> {
        let key = self
            .nside
            .get(&(chan, circ_id))
            .copied()
            .unwrap_or((chan, circ_id));
        self.circ_ref(key)
    }

    /// Closes a circuit on the runtime's behalf (a queue over its cap: RESOURCELIMIT; an
    /// idle or expired circuit: FINISHED): DESTROY(reason) goes both ways.
    pub fn close_circuit(&mut self, circ: CircRef, reason: DestroyReason) {
        if self.circ(circ).is_some() {
            self.close(
                (circ.chan, circ.circ_id),
                reason,
                Side::Neither,
                "closed by the runtime",
            );
        }
    }

    /// A channel closed: every circuit on it is closed with CHANNEL_CLOSED toward its other
    /// side (C tor `circuit_unlink_all_from_channel`). Circuits still waiting for a channel
    /// to be opened are the runtime's to fail, with [`extend_failed`](Self::extend_failed).
    pub fn channel_closed(&mut self, chan: ChanId) {
        self.chans.remove(&chan);
        let p_keys: Vec<_> = self.circs.keys().filter(|k| k.0 == chan).copied().collect();
        for k in p_keys {
            self.close(k, DestroyReason::CHANNEL_CLOSED, Side::P, "channel closed");
        }
        let n_keys: Vec<_> = self
            .nside
            .iter()
            .filter(|(k, _)| k.0 == chan)
            .map(|(_, p)| *p)
            .collect();
        for k in n_keys {
            self.close(
                k,
                DestroyReason::CHANNEL_CLOSED,
                Side::N,
                "next channel closed",
            );
        }
    }

    /// Handles one circuit cell received on `chan` (channel-level cells are the channel's
    /// business and are ignored here). `rng` pads the cells we originate.
    pub fn handle_cell<R: RngCore + CryptoRng>(
        &mut self,
        chan: ChanId,
        cell: ChanCell,
        rng: &mut R,
    ) {
        let Some(cs) = self.chans.get(&chan) else {
            tracing::debug!(chan = chan.0, "cell on an unregistered channel; dropped");
            return;
        };
        let info = cs.info;
        let id = cell.circ_id;
        match cell.msg {
            AnyChanMsg::Create2(c) => self.on_create(chan, info, id, CreateReq::Create2(c)),
            AnyChanMsg::CreateFast(c) => self.on_create(chan, info, id, CreateReq::Fast(c.x)),
            AnyChanMsg::Create(_) => self.on_create(chan, info, id, CreateReq::Tap),
            AnyChanMsg::Created2(c) => self.on_created(chan, id, Some(c.hdata), rng),
            AnyChanMsg::CreatedFast(_) | AnyChanMsg::Created(_) => {
                self.on_created(chan, id, None, rng)
            }
            AnyChanMsg::Destroy(d) => self.on_destroy(chan, id, d.reason),
            AnyChanMsg::Relay(r) => self.on_relay(chan, id, r.into_body_mut(), false, rng),
            AnyChanMsg::RelayEarly(r) => self.on_relay(chan, id, r.0.into_body_mut(), true, rng),
            other => {
                tracing::trace!(chan = chan.0, cmd = %other.cmd(), "not a circuit cell; ignored");
            }
        }
    }

    fn on_create(&mut self, chan: ChanId, info: ChannelInfo, id: CircId, req: CreateReq) {
        if id.is_zero() {
            tracing::debug!(chan = chan.0, "CREATE with circuit id 0; ignored");
            return;
        }
        if self.id_in_use(chan, id) {
            tracing::debug!(chan = chan.0, %id, "CREATE for a circuit id in use; ignored");
            return;
        }
        // The creator is the peer: it initiated TLS iff we did not.
        if !id.valid_for_creator(!info.we_initiated) {
            tracing::info!(chan = chan.0, %id, "CREATE with a circuit id of the wrong half");
            self.send_destroy(chan, id, DestroyReason::PROTOCOL);
            return;
        }
        let Some(cs) = self.chans.get_mut(&chan) else {
            return;
        };
        if cs.n_created >= self.cfg.max_circuits_per_channel {
            tracing::info!(chan = chan.0, %id, "circuits-per-channel cap reached");
            self.send_destroy(chan, id, DestroyReason::RESOURCELIMIT);
            return;
        }
        if cs.n_pending >= self.cfg.max_pending_handshakes_per_channel {
            tracing::info!(chan = chan.0, %id, "pending-handshake cap reached");
            self.send_destroy(chan, id, DestroyReason::RESOURCELIMIT);
            return;
        }
        let kind = match req {
            CreateReq::Tap => None,
            CreateReq::Fast(x) => Some(handshake::JobKind::Fast(x)),
            CreateReq::Create2(c) => match c.htype {
                HandshakeType::NTOR
                    if c.hdata.len() == crate::crypto::ntor::CLIENT_HANDSHAKE_LEN =>
                {
                    Some(handshake::JobKind::Ntor(c.hdata))
                }
                HandshakeType::NTOR_V3 => Some(handshake::JobKind::NtorV3(c.hdata)),
                _ => None,
            },
        };
        let Some(kind) = kind else {
            tracing::info!(chan = chan.0, %id, "TAP, unknown or malformed handshake refused");
            self.send_destroy(chan, id, DestroyReason::PROTOCOL);
            return;
        };
        cs.n_created += 1;
        cs.n_pending += 1;
        let serial = self.next_serial;
        self.next_serial += 1;
        let circ_ref = CircRef {
            chan,
            circ_id: id,
            serial,
        };
        let is_fast = matches!(kind, handshake::JobKind::Fast(_));
        self.circs.insert(
            (chan, id),
            Circuit::new(serial, is_fast, info.peer_is_client(), &self.cfg),
        );
        self.actions
            .push_back(Action::Handshake(HandshakeJob::new(circ_ref, kind)));
    }

    /// Installs the result of a [`HandshakeJob`]: answers CREATED2/CREATED_FAST and opens the
    /// circuit, or sends DESTROY. A result for a circuit that has gone away is dropped.
    pub fn complete(&mut self, result: HandshakeResult) {
        let key = (result.circ.chan, result.circ.circ_id);
        if self.circ(result.circ).is_none() {
            tracing::debug!("handshake finished for a circuit that has gone; dropped");
            return;
        }
        if let Some(cs) = self.chans.get_mut(&key.0) {
            cs.n_pending = cs.n_pending.saturating_sub(1);
        }
        match result.outcome {
            Ok((reply, crypto)) => {
                if let Some(c) = self.circs.get_mut(&key) {
                    c.open(crypto);
                }
                self.actions.push_back(Action::Send {
                    chan: key.0,
                    cell: ChanCell::new(key.1, reply),
                });
            }
            Err(why) => {
                tracing::info!(chan = key.0 .0, circ = %key.1, %why, "circuit handshake failed");
                if let Some(c) = self.circs.get_mut(&key) {
                    c.pending_handshake = false;
                }
                self.close(
                    key,
                    DestroyReason::PROTOCOL,
                    Side::Neither,
                    "handshake failed",
                );
            }
        }
    }

    fn on_created<R: RngCore + CryptoRng>(
        &mut self,
        chan: ChanId,
        id: CircId,
        hdata: Option<Vec<u8>>,
        rng: &mut R,
    ) {
        let Some(&p) = self.nside.get(&(chan, id)) else {
            if self.circs.contains_key(&(chan, id)) {
                // C tor: "got created cell from Tor client? Closing."
                self.close(
                    (chan, id),
                    DestroyReason::PROTOCOL,
                    Side::Neither,
                    "CREATED from the p-side",
                );
            } else {
                tracing::debug!(chan = chan.0, %id, "CREATED for an unknown circuit; dropped");
            }
            return;
        };
        let ok = self
            .circs
            .get_mut(&p)
            .is_some_and(|c| c.n_created_received());
        match (ok, hdata) {
            (true, Some(h)) => {
                let msg = crate::relaycell::Extended2 {
                    hdata: Bytes::from(h),
                };
                self.originate(p, 0, msg.into(), rng);
            }
            _ => self.close(
                p,
                DestroyReason::PROTOCOL,
                Side::Neither,
                "unexpected CREATED on n-side",
            ),
        }
    }

    fn on_destroy(&mut self, chan: ChanId, id: CircId, reason: DestroyReason) {
        if self.circs.contains_key(&(chan, id)) {
            tracing::debug!(chan = chan.0, %id, %reason, "DESTROY from the p-side");
            self.close(
                (chan, id),
                DestroyReason::DESTROYED,
                Side::P,
                "DESTROY from p-side",
            );
        } else if let Some(&p) = self.nside.get(&(chan, id)) {
            tracing::debug!(chan = chan.0, %id, %reason, "DESTROY from the n-side");
            self.close(p, DestroyReason::DESTROYED, Side::N, "DESTROY from n-side");
        } else {
            tracing::debug!(chan = chan.0, %id, "DESTROY for an unknown circuit; dropped");
        }
    }

    /// True if `id` names a circuit on `chan`, either side.
    fn id_in_use(&self, chan: ChanId, id: CircId) -> bool {
        self.circs.contains_key(&(chan, id)) || self.nside.contains_key(&(chan, id))
    }

    fn circ(&self, r: CircRef) -> Option<&Circuit> {
        self.circs
            .get(&(r.chan, r.circ_id))
            .filter(|c| c.serial == r.serial)
    }

    fn circ_ref(&self, key: (ChanId, CircId)) -> Option<CircRef> {
        self.circs.get(&key).map(|c| CircRef {
            chan: key.0,
            circ_id: key.1,
            serial: c.serial,
        })
    }

    fn send_destroy(&mut self, chan: ChanId, id: CircId, reason: DestroyReason) {
        self.actions.push_back(Action::Send {
            chan,
            cell: ChanCell::new(id, Destroy { reason }),
        });
    }

    /// Picks a free circuit id on `chan` for a circuit we create there.
    fn alloc_circ_id<R: RngCore>(&self, chan: ChanId, rng: &mut R) -> Option<CircId> {
        let we_initiated = self.chans.get(&chan)?.info.we_initiated;
        (0..CIRC_ID_TRIES)
            .filter_map(|_| CircId::from_random(rng.next_u32(), we_initiated))
            .find(|id| !self.id_in_use(chan, *id))
    }

    /// Closes a circuit for `reason`: DESTROY(reason) to every side still attached except
    /// `from` (the side that told us), and the streams are closed.
    fn close(&mut self, key: (ChanId, CircId), reason: DestroyReason, from: Side, why: &str) {
        let Some(c) = self.circs.remove(&key) else {
            return;
        };
        tracing::debug!(chan = key.0 .0, circ = %key.1, %reason, why, "circuit closed");
        if let Some(cs) = self.chans.get_mut(&key.0) {
            cs.n_created = cs.n_created.saturating_sub(1);
            if c.pending_handshake {
                cs.n_pending = cs.n_pending.saturating_sub(1);
            }
        }
        if from != Side::P && self.chans.contains_key(&key.0) {
            self.send_destroy(key.0, key.1, reason);
        }
        if let Some((nchan, nid)) = c.n_key() {
            self.nside.remove(&(nchan, nid));
            if from != Side::N && self.chans.contains_key(&nchan) {
                self.send_destroy(nchan, nid, reason);
            }
        }
        let circ_ref = CircRef {
            chan: key.0,
            circ_id: key.1,
            serial: c.serial,
        };
        for sid in c.stream_ids() {
            self.actions
                .push_back(Action::Stream(exit::StreamAction::Closed {
                    stream: StreamRef {
                        circ: circ_ref,
                        stream_id: sid,
                    },
                }));
        }
    }
}

/// Which side of a circuit an event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    /// The previous hop (toward the client).
    P,
    /// The next hop.
    N,
    /// Neither: we decided.
    Neither,
}

/// A CREATE-family request, before it becomes a job.
enum CreateReq {
    Tap,
    Fast([u8; 20]),
    Create2(Create2),
}

#[cfg(test)]
mod tests;
