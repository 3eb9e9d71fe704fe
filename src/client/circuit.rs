//! [`OriginCircuit`]: building a circuit hop by hop, the layered crypto, dispatch of incoming
//! relay cells, circuit-level SENDME windows, and closing (tor-spec §5.1–§5.4, §6.1, §7.3).
//! Stream calls are in [`super::stream`].

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand_core::{CryptoRng, RngCore};

use super::event::{CircEvent, CloseReason};
use super::handshake::Pending;
use super::stream::Streams;
use super::{ClientError, HopTarget, ProtocolViolation};
use crate::cell::{
    AnyChanMsg, ChanCell, CircId, Create2, CreateFast, Destroy, DestroyReason, Relay, RelayEarly,
};
use crate::crypto::sendme::{CircRecvWindow, CircSendWindow, SendmeTag};
use crate::crypto::tor1::{OriginCrypto, OriginLayer, BODY_LEN};
use crate::relaycell::{
    self, decode_v0, encode_v0, AnyRelayMsg, Extend2, RelayCellBody, RelayCmd, Sendme,
};

/// RELAY_EARLY cells a circuit may send (tor-spec §5.6; C tor `MAX_RELAY_EARLY_CELLS_PER_CIRCUIT`).
pub const MAX_RELAY_EARLY: u8 = 8;

/// How long a hop's handshake may take before the circuit is given up, by default.
pub const DEFAULT_HOP_TIMEOUT: Duration = Duration::from_secs(60);

/// The circuit-level windows we keep with one hop.
#[derive(Debug)]
pub(super) struct Hop {
    /// DATA we may still send to this hop, and the tags awaiting its SENDMEs.
    pub(super) send: CircSendWindow,
    /// DATA this hop may still send us.
    pub(super) recv: CircRecvWindow,
}

/// A circuit at its origin (see the module docs of [`crate::client`]).
#[derive(Debug)]
pub struct OriginCircuit {
    /// Our id for the circuit on the first hop's channel.
    circ_id: CircId,
    /// One tor1 layer per hop.
    crypto: OriginCrypto,
    /// Window state per hop, same order.
    pub(super) hops: Vec<Hop>,
    /// The handshake in progress, if any, and when it times out.
    pending: Option<(Pending, Instant)>,
    /// How long each hop's handshake may take.
    hop_timeout: Duration,
    /// RELAY_EARLY cells we may still send.
    relay_early_left: u8,
    /// Set once closed.
    closed: bool,
    /// The streams.
    pub(super) streams: Streams,
    /// Cells to send, oldest first.
    out: VecDeque<ChanCell>,
    /// Events for the runtime, oldest first.
    events: VecDeque<CircEvent>,
}

impl OriginCircuit {
    fn new<R: RngCore>(circ_id: CircId, pending: Pending, now: Instant, rng: &mut R) -> Self {
        OriginCircuit {
            circ_id,
            crypto: OriginCrypto::new(),
            hops: Vec::new(),
            pending: Some((pending, now + DEFAULT_HOP_TIMEOUT)),
            hop_timeout: DEFAULT_HOP_TIMEOUT,
            relay_early_left: MAX_RELAY_EARLY,
            closed: false,
            streams: Streams::new(rng),
            out: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// Starts a circuit whose first hop is `first`, with CREATE2 (ntor or ntor-v3 as
    /// `first.handshake` says). The CREATE2 cell is queued for [`Self::poll_cell`].
    pub fn create<R: RngCore + CryptoRng>(
        circ_id: CircId,
        first: &HopTarget,
        now: Instant,
        rng: &mut R,
    ) -> Result<Self, ClientError> {
        let (pending, htype, hdata) = Pending::start(rng, first)?;
        let mut circ = OriginCircuit::new(circ_id, pending, now, rng);
        circ.out
            .push_back(ChanCell::new(circ_id, Create2 { htype, hdata }));
        Ok(circ)
    }

    /// Starts a circuit whose first hop is keyed with CREATE_FAST (only for a first hop
    /// whose onion key we do not know; tor-spec §5.1.5).
    pub fn create_fast<R: RngCore + CryptoRng>(circ_id: CircId, now: Instant, rng: &mut R) -> Self {
        let (pending, x) = Pending::start_fast(rng);
        let mut circ = OriginCircuit::new(circ_id, pending, now, rng);
        circ.out.push_back(ChanCell::new(circ_id, CreateFast { x }));
        circ
    }

    /// Sets how long each hop's handshake may take from now on (default 60 s).
    pub fn set_hop_timeout(&mut self, timeout: Duration) {
        self.hop_timeout = timeout;
    }

    /// Our circuit id on the first hop's channel.
    pub fn circ_id(&self) -> CircId {
        self.circ_id
    }

    /// Hops whose handshake completed.
    pub fn n_hops(&self) -> usize {
        self.hops.len()
    }

    /// True once closed (by either side).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// True if the circuit has at least one hop, no handshake in progress and is not closed:
    /// streams may be opened and the circuit extended.
    pub fn is_ready(&self) -> bool {
        !self.closed && self.pending.is_none() && !self.hops.is_empty()
    }

    /// RELAY_EARLY cells left (each extend spends one).
    pub fn relay_early_left(&self) -> u8 {
        self.relay_early_left
    }

    /// The circuit-level (package, deliver) windows we keep with `hop`.
    pub fn hop_windows(&self, hop: usize) -> Option<(u16, u16)> {
        self.hops
            .get(hop)
            .map(|h| (h.send.window(), h.recv.window()))
    }

    /// When [`Self::handle_timeout`] should next be called, if ever.
    pub fn next_timeout(&self) -> Option<Instant> {
        self.pending.as_ref().map(|(_, deadline)| *deadline)
    }

    /// The next cell to send on the channel, oldest first.
    pub fn poll_cell(&mut self) -> Option<ChanCell> {
        self.out.pop_front()
    }

    /// Cells waiting in [`Self::poll_cell`].
    pub fn queued_cells(&self) -> usize {
        self.out.len()
    }

    /// The next event, oldest first.
    pub fn poll_event(&mut self) -> Option<CircEvent> {
        self.events.pop_front()
    }

    /// Adds a hop: sends EXTEND2 for `target` in RELAY_EARLY to the current last hop.
    /// Completes with [`CircEvent::HopAdded`] when EXTENDED2 comes back.
    pub fn extend<R: RngCore + CryptoRng>(
        &mut self,
        target: &HopTarget,
        now: Instant,
        rng: &mut R,
    ) -> Result<(), ClientError> {
        self.check_ready()?;
        if self.relay_early_left == 0 {
            return Err(ClientError::RelayEarlyExhausted);
        }
        let linkspecs = target.link_specs()?;
        let (pending, htype, hdata) = Pending::start(rng, target)?;
        let msg = AnyRelayMsg::Extend2(Extend2 {
            linkspecs,
            htype,
            hdata: Bytes::from(hdata),
        });
        let last = self.hops.len() - 1;
        self.emit(last, 0, &msg, true, rng)?;
        self.relay_early_left -= 1;
        self.pending = Some((pending, now + self.hop_timeout));
        Ok(())
    }

    /// Sends a relay message to `hop` on `stream_id`, for messages the circuit does not
    /// manage itself (onion-service messages, DROP, …). DATA, SENDME, EXTEND/EXTEND2, BEGIN,
    /// BEGIN_DIR, RESOLVE and END are refused: use the dedicated calls.
    pub fn send<R: RngCore>(
        &mut self,
        hop: usize,
        stream_id: u16,
        msg: &AnyRelayMsg,
        rng: &mut R,
    ) -> Result<(), ClientError> {
        let cmd = msg.cmd();
        if matches!(
            cmd,
            RelayCmd::DATA
                | RelayCmd::SENDME
                | RelayCmd::EXTEND
                | RelayCmd::EXTEND2
                | RelayCmd::BEGIN
                | RelayCmd::BEGIN_DIR
                | RelayCmd::RESOLVE
                | RelayCmd::END
        ) {
            return Err(ClientError::ManagedCommand(cmd));
        }
        if self.closed {
            return Err(ClientError::Closed);
        }
        self.emit(hop, stream_id, msg, false, rng).map(|_| ())
    }

    /// Closes the circuit: sends DESTROY (reason NONE, as tor-spec §5.4 advises) and
    /// reports [`CloseReason::Local`]. Does nothing if already closed.
    pub fn close(&mut self) {
        self.shut(CloseReason::Local, Some(DestroyReason::NONE));
    }

    /// Gives up a handshake that has passed its deadline.
    pub fn handle_timeout(&mut self, now: Instant) {
        if matches!(self.pending, Some((_, deadline)) if now >= deadline) {
            self.shut(CloseReason::Timeout, Some(DestroyReason::NONE));
        }
    }

    /// Handles a cell the channel received for this circuit.
    pub fn handle_cell<R: RngCore + CryptoRng>(&mut self, cell: ChanCell, rng: &mut R) {
        if self.closed {
            return;
        }
        if cell.circ_id != self.circ_id {
            tracing::debug!(circ = %self.circ_id, got = %cell.circ_id, "cell for another circuit ignored");
            return;
        }
        let res = match cell.msg {
            AnyChanMsg::Relay(r) => self.handle_relay(&r, rng),
            AnyChanMsg::RelayEarly(_) => Err(ProtocolViolation::InboundRelayEarly),
            AnyChanMsg::Destroy(d) => {
                self.shut(CloseReason::Destroyed(d.reason), None);
                Ok(())
            }
            AnyChanMsg::Created2(c) if self.expects_created(false) => self.hop_done(&c.hdata),
            AnyChanMsg::CreatedFast(c) if self.expects_created(true) => {
                let mut reply = Vec::with_capacity(40);
                reply.extend_from_slice(&c.y);
                reply.extend_from_slice(&c.kh);
                self.hop_done(&reply)
            }
            AnyChanMsg::Padding(_) | AnyChanMsg::Vpadding(_) => Ok(()),
            other => Err(ProtocolViolation::UnexpectedCell(other.cmd())),
        };
        if let Err(v) = res {
            tracing::debug!(circ = %self.circ_id, "closing circuit: {v}");
            self.shut(CloseReason::Protocol(v), Some(DestroyReason::PROTOCOL));
        }
    }

    /// True if a CREATED2 (`fast` false) or CREATED_FAST (`fast` true) is what we await.
    fn expects_created(&self, fast: bool) -> bool {
        self.hops.is_empty() && matches!(&self.pending, Some((p, _)) if p.is_fast() == fast)
    }

    /// Completes the pending handshake with the relay's reply and adds the hop.
    fn hop_done(&mut self, reply: &[u8]) -> Result<(), ProtocolViolation> {
        let Some((pending, _)) = self.pending.take() else {
            return Err(ProtocolViolation::Handshake("no handshake pending".into()));
        };
        let keys = pending.finish(reply)?;
        self.crypto.push(OriginLayer::tor1(keys.tor1()));
        self.hops.push(Hop {
            send: CircSendWindow::new(),
            recv: CircRecvWindow::new(),
        });
        self.event(CircEvent::HopAdded {
            hops: self.hops.len(),
        });
        Ok(())
    }

    /// Decrypts, attributes, decodes and dispatches one incoming RELAY cell.
    fn handle_relay<R: RngCore + CryptoRng>(
        &mut self,
        relay: &Relay,
        rng: &mut R,
    ) -> Result<(), ProtocolViolation> {
        let mut body = RelayCellBody::try_from(&relay.body()[..])
            .map_err(|_| ProtocolViolation::UnrecognizedCell)?;
        let rec = self
            .crypto
            .decrypt_backward(&mut body.0)
            .map_err(|_| ProtocolViolation::UnrecognizedCell)?;
        let (stream_id, msg) = match decode_v0(&body) {
            Ok(x) => x,
            Err(e) if e.is_protocol_violation() => {
                // C tor drops messages that break the stream-id rules and keeps the circuit.
                tracing::debug!(circ = %self.circ_id, "dropping relay message: {e}");
                return Ok(());
            }
            Err(e) => return Err(ProtocolViolation::BadMessage(e)),
        };
        self.dispatch(rec.hop, rec.tag, stream_id, msg, rng)
    }

    fn dispatch<R: RngCore + CryptoRng>(
        &mut self,
        hop: usize,
        tag: SendmeTag,
        stream_id: u16,
        msg: AnyRelayMsg,
        rng: &mut R,
    ) -> Result<(), ProtocolViolation> {
        match msg {
            AnyRelayMsg::Data(data) => {
                // The circuit window counts every DATA cell, whatever its stream (C tor
                // `sendme_circuit_data_received` runs before the stream lookup).
                let due = self
                    .hops
                    .get_mut(hop)
                    .ok_or(ProtocolViolation::UnrecognizedCell)?
                    .recv
                    .data_received(tag)?;
                if let Some(tag) = due {
                    let sendme = AnyRelayMsg::Sendme(Sendme::v1(*tag.as_bytes()));
                    self.emit_internal(hop, 0, &sendme, rng)?;
                }
                self.stream_data(hop, stream_id, data, rng)
            }
            AnyRelayMsg::Sendme(s) if stream_id == 0 => {
                let tag = match s {
                    Sendme::V1 {
                        tag: relaycell::SendmeTag::Tor1(t),
                    } => Some(SendmeTag::new(t)),
                    Sendme::Empty | Sendme::V0 { .. } => None,
                    _ => return Err(ProtocolViolation::BadSendme),
                };
                let h = self
                    .hops
                    .get_mut(hop)
                    .ok_or(ProtocolViolation::UnrecognizedCell)?;
                h.send.sendme_received(tag.as_ref())?;
                self.wake_writers();
                Ok(())
            }
            AnyRelayMsg::Extended2(e) => {
                let extending = matches!(&self.pending, Some((p, _)) if !p.is_fast())
                    && !self.hops.is_empty()
                    && hop == self.hops.len() - 1;
                if !extending {
                    return Err(ProtocolViolation::UnexpectedMessage {
                        cmd: RelayCmd::EXTENDED2,
                        hop,
                    });
                }
                self.hop_done(&e.hdata)
            }
            AnyRelayMsg::Truncated(t) => {
                self.shut(
                    CloseReason::Truncated {
                        hop,
                        reason: t.reason,
                    },
                    Some(DestroyReason::NONE),
                );
                Ok(())
            }
            AnyRelayMsg::Drop(_) => Ok(()),
            AnyRelayMsg::Unrecognized(u) => {
                // C tor drops unknown relay commands and keeps the circuit.
                tracing::debug!(circ = %self.circ_id, cmd = %u.cmd, "dropping unknown relay command");
                Ok(())
            }
            msg @ (AnyRelayMsg::Sendme(_)
            | AnyRelayMsg::Connected(_)
            | AnyRelayMsg::End(_)
            | AnyRelayMsg::Resolved(_)
            | AnyRelayMsg::Xoff(_)
            | AnyRelayMsg::Xon(_)) => self.stream_msg(hop, stream_id, msg),
            msg => {
                self.event(CircEvent::Message {
                    hop,
                    stream_id,
                    msg,
                });
                Ok(())
            }
        }
    }

    /// Fails unless the circuit can take a new stream or extend.
    pub(super) fn check_ready(&self) -> Result<(), ClientError> {
        if self.closed {
            Err(ClientError::Closed)
        } else if self.pending.is_some() {
            Err(ClientError::HandshakePending)
        } else if self.hops.is_empty() {
            Err(ClientError::NoHops)
        } else {
            Ok(())
        }
    }

    /// Queues an event, unless the circuit is closed ([`CircEvent::Closed`] is the last).
    pub(super) fn event(&mut self, e: CircEvent) {
        if !self.closed {
            self.events.push_back(e);
        }
    }

    /// Encodes `msg`, originates it at `hop` through the layered crypto, and queues it as a
    /// RELAY (or RELAY_EARLY) cell. Returns the cell's SENDME tag.
    pub(super) fn emit<R: RngCore>(
        &mut self,
        hop: usize,
        stream_id: u16,
        msg: &AnyRelayMsg,
        early: bool,
        rng: &mut R,
    ) -> Result<SendmeTag, ClientError> {
        if hop >= self.hops.len() {
            return Err(ClientError::NoSuchHop(hop));
        }
        let mut body = encode_v0(stream_id, msg, rng)?;
        let tag = self
            .crypto
            .encrypt_forward(&mut body.0, hop)
            .map_err(|_| ClientError::NoSuchHop(hop))?;
        let relay = Relay::from_array(body.0);
        let msg: AnyChanMsg = if early {
            RelayEarly(relay).into()
        } else {
            relay.into()
        };
        self.out.push_back(ChanCell::new(self.circ_id, msg));
        Ok(tag)
    }

    /// [`Self::emit`] for cells the circuit must send while handling input; a failure there
    /// is our bug, and closes the circuit.
    pub(super) fn emit_internal<R: RngCore>(
        &mut self,
        hop: usize,
        stream_id: u16,
        msg: &AnyRelayMsg,
        rng: &mut R,
    ) -> Result<(), ProtocolViolation> {
        match self.emit(hop, stream_id, msg, false, rng) {
            Ok(_) => Ok(()),
            Err(e) => {
                self.shut(CloseReason::Internal(e), Some(DestroyReason::INTERNAL));
                Ok(())
            }
        }
    }

    /// Marks the circuit closed, drops its state, sends DESTROY if `destroy` is given.
    fn shut(&mut self, reason: CloseReason, destroy: Option<DestroyReason>) {
        if self.closed {
            return;
        }
        self.closed = true;
        self.pending = None;
        self.streams.clear();
        if let Some(reason) = destroy {
            self.out
                .push_back(ChanCell::new(self.circ_id, Destroy { reason }));
        }
        self.events.push_back(CircEvent::Closed(reason));
    }
}

// A RELAY body is always 509 bytes; keep the two crates' constants in step.
const _: () = assert!(BODY_LEN == relaycell::RELAY_BODY_LEN);
