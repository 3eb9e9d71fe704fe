//! Streams on an origin circuit (tor-spec §6.2 BEGIN/CONNECTED, §6.2.1 BEGIN_DIR, §6.3 END,
//! §6.4 RESOLVE, §7.4 stream-level flow control): opening, packaging DATA within both
//! windows, stream SENDMEs, ending, and half-closed streams (C tor `half_edge`).

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use rand_core::{CryptoRng, RngCore};

use super::event::CircEvent;
use super::{ClientError, OriginCircuit, ProtocolViolation};
use crate::crypto::sendme::{StreamRecvWindow, StreamSendWindow};
use crate::relaycell::{
    AnyRelayMsg, Begin, BeginDir, BeginFlags, Data, End, EndReason, RelayCmd, Resolve, Sendme,
    MAX_DATA_LEN,
};

/// A stream id on a circuit (tor-spec §6.1); never 0.
pub type StreamId = u16;

/// What a stream was opened for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    /// BEGIN to a host and port at the last hop.
    Begin,
    /// BEGIN_DIR to the last hop's directory service.
    BeginDir,
    /// RESOLVE of a hostname at the last hop.
    Resolve,
}

/// Where a stream is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// BEGIN / BEGIN_DIR sent, waiting for CONNECTED or END.
    Connecting,
    /// RESOLVE sent, waiting for RESOLVED or END.
    Resolving,
    /// CONNECTED received: data flows both ways.
    Open,
}

/// One live stream.
#[derive(Debug)]
struct Stream {
    /// The hop at the far end (the last hop when opened).
    hop: usize,
    /// What it was opened for.
    kind: StreamKind,
    /// Where it is.
    phase: Phase,
    /// DATA cells we may still send on it.
    send: StreamSendWindow,
    /// DATA cells the far end may still send.
    recv: StreamRecvWindow,
    /// The runtime asked us to hold stream SENDMEs (its outgoing buffer is full).
    reads_paused: bool,
    /// A write was cut short by a window: report [`CircEvent::Writable`] when it reopens.
    write_blocked: bool,
}

/// A stream we ended whose END from the far end has not arrived yet (C tor `half_edge_t`):
/// its id stays reserved and cells already in flight for it are dropped quietly.
#[derive(Debug)]
struct HalfClosed {
    /// DATA cells the far end may still legitimately send.
    data_left: u16,
}

/// The stream table of one circuit.
#[derive(Debug)]
pub(super) struct Streams {
    open: BTreeMap<StreamId, Stream>,
    half: HashMap<StreamId, HalfClosed>,
    /// Where the search for the next free id starts (random at first, as in C tor).
    next_id: StreamId,
}

impl Streams {
    pub(super) fn new<R: RngCore>(rng: &mut R) -> Self {
        Streams {
            open: BTreeMap::new(),
            half: HashMap::new(),
            next_id: (rng.next_u32() as u16).max(1),
        }
    }

    pub(super) fn clear(&mut self) {
        self.open.clear();
        self.half.clear();
    }

    fn allocate(&mut self) -> Result<StreamId, ClientError> {
        for _ in 0..=u16::MAX {
            let id = self.next_id;
            self.next_id = self.next_id.wrapping_add(1).max(1);
            if !self.open.contains_key(&id) && !self.half.contains_key(&id) {
                return Ok(id);
            }
        }
        Err(ClientError::StreamIdsExhausted)
    }
}

impl OriginCircuit {
    /// Opens an exit stream to `host:port` at the last hop (BEGIN). Completes with
    /// [`CircEvent::Connected`] or [`CircEvent::Ended`].
    pub fn begin<R: RngCore>(
        &mut self,
        host: &str,
        port: u16,
        flags: BeginFlags,
        rng: &mut R,
    ) -> Result<StreamId, ClientError> {
        let msg = AnyRelayMsg::Begin(Begin::new(host, port, flags));
        self.open_stream(StreamKind::Begin, &msg, rng)
    }

    /// Opens a stream to the last hop's directory service (BEGIN_DIR).
    pub fn begin_dir<R: RngCore>(&mut self, rng: &mut R) -> Result<StreamId, ClientError> {
        self.open_stream(StreamKind::BeginDir, &AnyRelayMsg::BeginDir(BeginDir), rng)
    }

    /// Asks the last hop to resolve `host` (RESOLVE). Completes with
    /// [`CircEvent::Resolved`] or [`CircEvent::Ended`].
    pub fn resolve<R: RngCore>(
        &mut self,
        host: &str,
        rng: &mut R,
    ) -> Result<StreamId, ClientError> {
        let msg = AnyRelayMsg::Resolve(Resolve::new(host));
        self.open_stream(StreamKind::Resolve, &msg, rng)
    }

    fn open_stream<R: RngCore>(
        &mut self,
        kind: StreamKind,
        msg: &AnyRelayMsg,
        rng: &mut R,
    ) -> Result<StreamId, ClientError> {
        self.check_ready()?;
        let hop = self.hops.len() - 1;
        let id = self.streams.allocate()?;
        self.emit(hop, id, msg, false, rng)?;
        let phase = if kind == StreamKind::Resolve {
            Phase::Resolving
        } else {
            Phase::Connecting
        };
        self.streams.open.insert(
            id,
            Stream {
                hop,
                kind,
                phase,
                send: StreamSendWindow::new(),
                recv: StreamRecvWindow::new(),
                reads_paused: false,
                write_blocked: false,
            },
        );
        Ok(id)
    }

    /// True if `stream` is connected and both its window and its hop's circuit window allow
    /// at least one more DATA cell.
    pub fn can_write(&self, stream: StreamId) -> bool {
        match self.streams.open.get(&stream) {
            Some(s) if s.phase == Phase::Open && !self.is_closed() => {
                s.send.window() > 0 && self.hops.get(s.hop).is_some_and(|h| h.send.can_send())
            }
            _ => false,
        }
    }

    /// The (package, deliver) windows of a live stream.
    pub fn stream_windows(&self, stream: StreamId) -> Option<(u16, u16)> {
        self.streams
            .open
            .get(&stream)
            .map(|s| (s.send.window(), s.recv.window()))
    }

    /// Packages as much of `data` as the stream and circuit windows allow into DATA cells of
    /// at most 498 bytes, and returns how many bytes were taken. If a window is empty
    /// afterwards ([`Self::can_write`] is false), [`CircEvent::Writable`] follows when it
    /// reopens.
    pub fn write<R: RngCore>(
        &mut self,
        stream: StreamId,
        data: &[u8],
        rng: &mut R,
    ) -> Result<usize, ClientError> {
        if self.is_closed() {
            return Err(ClientError::Closed);
        }
        let s = self
            .streams
            .open
            .get(&stream)
            .ok_or(ClientError::NoSuchStream(stream))?;
        if s.phase != Phase::Open {
            return Err(ClientError::StreamNotOpen(stream));
        }
        let hop = s.hop;
        let mut taken = 0;
        for chunk in data.chunks(MAX_DATA_LEN) {
            if !self.can_write(stream) {
                break;
            }
            let msg =
                AnyRelayMsg::Data(Data::new(Bytes::copy_from_slice(chunk)).map_err(|source| {
                    crate::relaycell::RelayMsgError::Encode {
                        cmd: RelayCmd::DATA,
                        source,
                    }
                })?);
            let tag = self.emit(hop, stream, &msg, false, rng)?;
            // Both windows were checked by `can_write` above; these cannot fail.
            if let Some(h) = self.hops.get_mut(hop) {
                h.send.data_sent(tag).map_err(|_| ClientError::Closed)?;
            }
            if let Some(s) = self.streams.open.get_mut(&stream) {
                s.send.data_sent().map_err(|_| ClientError::Closed)?;
            }
            taken += chunk.len();
        }
        // Whether cut short or stopped exactly at a window's end: the runtime waits for
        // `Writable` whenever `can_write` is false after a write.
        if !self.can_write(stream) {
            if let Some(s) = self.streams.open.get_mut(&stream) {
                s.write_blocked = true;
            }
        }
        Ok(taken)
    }

    /// Ends a stream (END, reason MISC as tor-spec §6.3 asks of the origin). The stream id
    /// stays reserved until the far end's END, if it will send one.
    pub fn end<R: RngCore>(&mut self, stream: StreamId, rng: &mut R) -> Result<(), ClientError> {
        if self.is_closed() {
            return Err(ClientError::Closed);
        }
        let s = self
            .streams
            .open
            .get(&stream)
            .ok_or(ClientError::NoSuchStream(stream))?;
        let hop = s.hop;
        let msg = AnyRelayMsg::End(End::new(EndReason::MISC));
        self.emit(hop, stream, &msg, false, rng)?;
        if let Some(s) = self.streams.open.remove(&stream) {
            self.streams.half.insert(
                stream,
                HalfClosed {
                    data_left: s.recv.window(),
                },
            );
        }
        Ok(())
    }

    /// Holds (`true`) or releases (`false`) the stream SENDMEs of `stream`: the runtime holds
    /// them while it cannot take more data for that stream, so the exit stops after the
    /// stream window (500 cells). Releasing sends the SENDMEs owed.
    pub fn pause_reads<R: RngCore>(
        &mut self,
        stream: StreamId,
        paused: bool,
        rng: &mut R,
    ) -> Result<(), ClientError> {
        let s = self
            .streams
            .open
            .get_mut(&stream)
            .ok_or(ClientError::NoSuchStream(stream))?;
        s.reads_paused = paused;
        if !paused {
            self.send_stream_sendmes(stream, rng)
                .map_err(|_| ClientError::Closed)?;
        }
        Ok(())
    }

    /// Sends the stream SENDMEs owed on `stream` (one per 50 cells below 500).
    fn send_stream_sendmes<R: RngCore>(
        &mut self,
        stream: StreamId,
        rng: &mut R,
    ) -> Result<(), ProtocolViolation> {
        loop {
            let Some(s) = self.streams.open.get_mut(&stream) else {
                return Ok(());
            };
            if s.reads_paused || !s.recv.take_sendme() {
                return Ok(());
            }
            let hop = s.hop;
            self.emit_internal(hop, stream, &AnyRelayMsg::Sendme(Sendme::Empty), rng)?;
        }
    }

    /// Reports [`CircEvent::Writable`] for blocked streams that may write again.
    pub(super) fn wake_writers(&mut self) {
        let ready: Vec<StreamId> = self
            .streams
            .open
            .iter()
            .filter(|(_, s)| s.write_blocked)
            .map(|(id, _)| *id)
            .filter(|id| self.can_write(*id))
            .collect();
        for stream in ready {
            if let Some(s) = self.streams.open.get_mut(&stream) {
                s.write_blocked = false;
            }
            self.event(CircEvent::Writable { stream });
        }
    }

    /// A DATA cell from `hop` (already counted in the circuit window).
    pub(super) fn stream_data<R: RngCore + CryptoRng>(
        &mut self,
        hop: usize,
        stream: StreamId,
        data: Data,
        rng: &mut R,
    ) -> Result<(), ProtocolViolation> {
        match self.streams.open.get_mut(&stream) {
            Some(s) if s.hop == hop => {
                if s.phase != Phase::Open {
                    // C tor ends a stream that gets DATA before CONNECTED.
                    return self.refuse_stream(stream, rng);
                }
                s.recv.data_received()?;
                self.event(CircEvent::Data {
                    stream,
                    data: data.into_body(),
                });
                self.send_stream_sendmes(stream, rng)
            }
            _ => {
                if let Some(h) = self.streams.half.get_mut(&stream) {
                    h.data_left = h.data_left.saturating_sub(1);
                }
                tracing::debug!(stream, "DATA for a closed or unknown stream dropped");
                Ok(())
            }
        }
    }

    /// Ends a stream the far end misused (END TORPROTOCOL both ways), keeping the circuit.
    fn refuse_stream<R: RngCore>(
        &mut self,
        stream: StreamId,
        rng: &mut R,
    ) -> Result<(), ProtocolViolation> {
        if let Some(s) = self.streams.open.remove(&stream) {
            let msg = AnyRelayMsg::End(End::new(EndReason::TORPROTOCOL));
            self.emit_internal(s.hop, stream, &msg, rng)?;
            self.streams.half.insert(
                stream,
                HalfClosed {
                    data_left: s.recv.window(),
                },
            );
            self.event(CircEvent::Ended {
                stream,
                reason: EndReason::TORPROTOCOL,
            });
        }
        Ok(())
    }

    /// CONNECTED, END, RESOLVED, a stream-level SENDME, XOFF or XON from `hop`.
    pub(super) fn stream_msg(
        &mut self,
        hop: usize,
        stream: StreamId,
        msg: AnyRelayMsg,
    ) -> Result<(), ProtocolViolation> {
        let Some(s) = self.streams.open.get_mut(&stream).filter(|s| s.hop == hop) else {
            // A half-closed stream's END frees its id; everything else for a closed or
            // unknown stream is dropped (C tor `connection_half_edge_is_valid_*`).
            if matches!(msg, AnyRelayMsg::End(_) | AnyRelayMsg::Resolved(_)) {
                self.streams.half.remove(&stream);
            }
            tracing::debug!(stream, cmd = %msg.cmd(), "message for a closed or unknown stream dropped");
            return Ok(());
        };
        let unexpected = ProtocolViolation::UnexpectedMessage {
            cmd: msg.cmd(),
            hop,
        };
        match msg {
            AnyRelayMsg::Connected(c) => {
                if s.phase != Phase::Connecting {
                    // C tor: "'connected' unsupported while open. Closing circ."
                    return Err(unexpected);
                }
                s.phase = Phase::Open;
                self.event(CircEvent::Connected {
                    stream,
                    addr: c.addr,
                });
            }
            AnyRelayMsg::End(e) => {
                self.streams.open.remove(&stream);
                self.event(CircEvent::Ended {
                    stream,
                    reason: e.reason,
                });
            }
            AnyRelayMsg::Resolved(r) => {
                if s.kind != StreamKind::Resolve {
                    return Err(unexpected);
                }
                self.streams.open.remove(&stream);
                self.event(CircEvent::Resolved {
                    stream,
                    answers: r.answers,
                });
            }
            AnyRelayMsg::Sendme(_) => {
                // Stream SENDMEs carry no tag; the body is ignored, as C tor does.
                s.send.sendme_received()?;
                self.wake_writers();
            }
            // We never negotiate congestion control, so XON/XOFF are meaningless here;
            // C tor ignores them on streams without it.
            AnyRelayMsg::Xoff(_) | AnyRelayMsg::Xon(_) => {}
            _ => return Err(unexpected),
        }
        Ok(())
    }
}
