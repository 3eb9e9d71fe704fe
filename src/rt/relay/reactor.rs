//! The reactor: one task owning [`RelayCircuits`], fed [`Event`]s by channel, worker and
//! stream tasks, executing every [`Action`] it emits without ever awaiting another task.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use bytes::{Buf, Bytes};
use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::sync::{mpsc, oneshot, Semaphore};

use super::chan::{self, ChanHandle};
use super::exit::{self, StreamCmd};
use super::Shared;
use crate::cell::{ChanCell, DestroyReason};
use crate::circuit::{
    Action, ChanId, ChannelInfo, CircRef, CircuitConfig, ExtendTarget, HandshakeResult,
    RelayCircuits, StreamAction, StreamRef, StreamTarget,
};
use crate::ids::RsaIdentity;
use crate::relaycell::{EndReason, ResolvedVal};

/// Events the reactor handles.
#[derive(Debug)]
pub(crate) enum Event {
    /// A channel finished its link handshake.
    ChanOpen {
        id: ChanId,
        info: ChannelInfo,
        handle: ChanHandle,
        /// Opened for EXTEND2s waiting on this RSA id.
        for_extend: Option<RsaIdentity>,
    },
    /// An outgoing channel could not be opened.
    ConnectFailed { rsa: RsaIdentity, why: String },
    /// A cell arrived.
    Cell { id: ChanId, cell: ChanCell },
    /// A channel ended.
    ChanClosed { id: ChanId, why: String },
    /// A handshake job finished.
    Handshake(HandshakeResult),
    /// A BEGIN's host was looked up.
    Lookup(StreamRef, Result<(Vec<IpAddr>, u32), ()>),
    /// A RESOLVE was answered.
    Resolved(StreamRef, Vec<(ResolvedVal, u32)>),
    /// A stream's connect finished.
    Connected(StreamRef, Result<(), EndReason>),
    /// Bytes read from a stream's socket.
    Data(StreamRef, Bytes),
    /// A stream's socket wrote everything it was given.
    Flushed(StreamRef),
    /// A stream's socket ended.
    End(StreamRef, EndReason),
    /// Close every circuit with this reason (operator or test request).
    CloseAll(DestroyReason),
    /// Report counts.
    Stats(oneshot::Sender<RelayStats>),
}

/// Counts of what the relay holds, for tests, benchmarks and logs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayStats {
    /// Open channels.
    pub channels: usize,
    /// Circuits (p-side entries).
    pub circuits: usize,
    /// Exit streams with a socket task.
    pub streams: usize,
}

/// Events in flight to the reactor before readers wait.
const EVENT_QUEUE: usize = 4096;

struct StreamEntry {
    tx: mpsc::UnboundedSender<StreamCmd>,
    /// Bytes read but not yet packaged (windows closed).
    pending: Bytes,
}

struct Reactor {
    rc: RelayCircuits,
    shared: Arc<Shared>,
    events: mpsc::Sender<Event>,
    chans: HashMap<ChanId, (ChannelInfo, ChanHandle)>,
    /// EXTEND2s waiting for a channel being opened, by RSA id.
    waiting: HashMap<RsaIdentity, Vec<CircRef>>,
    streams: HashMap<StreamRef, StreamEntry>,
    workers: Arc<Semaphore>,
    rng: StdRng,
}

/// Starts the reactor; returns the sender other tasks report to.
pub(crate) fn spawn(shared: Arc<Shared>, cfg: CircuitConfig) -> mpsc::Sender<Event> {
    let (tx, mut rx) = mpsc::channel(EVENT_QUEUE);
    let mut r = Reactor {
        rc: RelayCircuits::new(cfg),
        workers: Arc::new(Semaphore::new(shared.opts.handshake_workers.max(1))),
        shared: shared.clone(),
        events: tx.clone(),
        chans: HashMap::new(),
        waiting: HashMap::new(),
        streams: HashMap::new(),
        rng: StdRng::from_entropy(),
    };
    shared.spawn(async move {
        while let Some(ev) = rx.recv().await {
            r.handle(ev);
            r.run_actions();
        }
    });
    tx
}

impl Reactor {
    fn handle(&mut self, ev: Event) {
        match ev {
            Event::ChanOpen {
                id,
                info,
                handle,
                for_extend,
            } => {
                self.rc.add_channel(id, info);
                self.chans.insert(id, (info, handle));
                if let Some(rsa) = for_extend {
                    for circ in self.waiting.remove(&rsa).unwrap_or_default() {
                        self.rc.extend_ready(circ, id, &mut self.rng);
                    }
                }
            }
            Event::ConnectFailed { rsa, why } => {
                for circ in self.waiting.remove(&rsa).unwrap_or_default() {
                    tracing::debug!(why, "extend failed: no channel");
                    self.rc.extend_failed(circ, DestroyReason::CHANNEL_CLOSED);
                }
            }
            Event::Cell { id, cell } => {
                if self.chans.contains_key(&id) {
                    self.rc.handle_cell(id, cell, &mut self.rng);
                }
            }
            Event::ChanClosed { id, why } => self.close_channel(id, &why),
            Event::Handshake(res) => self.rc.complete(res),
            Event::Lookup(s, r) => self.rc.lookup_done(s, r, &mut self.rng),
            Event::Resolved(s, a) => self.rc.resolve_done(s, a, &mut self.rng),
            Event::Connected(s, r) => {
                if r.is_err() {
                    self.streams.remove(&s);
                }
                self.rc.connect_done(s, r, &mut self.rng)
            }
            Event::Data(s, b) => {
                if let Some(e) = self.streams.get_mut(&s) {
                    e.pending = b;
                    self.push_stream(s);
                }
            }
            Event::Flushed(s) => self.rc.stream_flushed(s, &mut self.rng),
            Event::End(s, reason) => {
                self.streams.remove(&s);
                self.rc.stream_end(s, reason, &mut self.rng);
            }
            Event::CloseAll(reason) => {
                for c in self.rc.circuits() {
                    self.rc.close_circuit(c, reason);
                }
            }
            Event::Stats(tx) => {
                let _ = tx.send(RelayStats {
                    channels: self.chans.len(),
                    circuits: self.rc.n_circuits(),
                    streams: self.streams.len(),
                });
            }
        }
    }

    fn close_channel(&mut self, id: ChanId, why: &str) {
        if self.chans.remove(&id).is_some() {
            tracing::debug!(chan = id.0, why, "channel closed");
            self.rc.channel_closed(id);
        }
    }

    /// Packages a stream's pending bytes while the windows allow; asks for more once done.
    fn push_stream(&mut self, s: StreamRef) {
        let Some(e) = self.streams.get_mut(&s) else {
            return;
        };
        if e.pending.is_empty() {
            return;
        }
        let n = self.rc.send_data(s, &e.pending, &mut self.rng);
        e.pending.advance(n);
        if e.pending.is_empty() {
            let _ = e.tx.send(StreamCmd::ReadMore);
        }
    }

    fn run_actions(&mut self) {
        while let Some(a) = self.rc.poll_action() {
            match a {
                Action::Send { chan, cell } => self.send(chan, cell),
                Action::Handshake(job) => self.handshake(job),
                Action::Extend { circ, target } => self.extend(circ, target),
                Action::Stream(s) => self.stream(s),
            }
        }
    }

    fn send(&mut self, chan: ChanId, cell: ChanCell) {
        let Some((_, h)) = self.chans.get(&chan) else {
            return;
        };
        match h.tx.try_send(cell) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::info!(chan = chan.0, "channel queue full; closing the channel");
                self.close_channel(chan, "queue full");
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.close_channel(chan, "writer gone");
            }
        }
    }

    fn handshake(&mut self, job: crate::circuit::HandshakeJob) {
        let keys = self.shared.current().onion.clone();
        if job.is_cheap() {
            let res = job.run(&keys, &mut self.rng);
            self.rc.complete(res);
            return;
        }
        let (sem, events) = (self.workers.clone(), self.events.clone());
        self.shared.spawn(async move {
            let Ok(_permit) = sem.acquire_owned().await else {
                return;
            };
            let res = tokio::task::spawn_blocking(move || job.run(&keys, &mut rand::rngs::OsRng));
            if let Ok(res) = res.await {
                let _ = events.send(Event::Handshake(res)).await;
            }
        });
    }

    fn extend(&mut self, circ: CircRef, target: ExtendTarget) {
        // Prefer a channel we opened (canonical for us), then any with matching ids.
        let found = self
            .chans
            .iter()
            .filter(|(_, (info, _))| target.matches(info))
            .max_by_key(|(id, (info, _))| (info.we_initiated, id.0))
            .map(|(id, _)| *id);
        if let Some(id) = found {
            self.rc.extend_ready(circ, id, &mut self.rng);
            return;
        }
        let list = self.waiting.entry(target.rsa_id).or_default();
        list.push(circ);
        if list.len() == 1 {
            chan::connect_out(target, &self.shared, self.events.clone());
        }
    }

    fn stream(&mut self, a: StreamAction) {
        match a {
            StreamAction::Lookup { stream, host } => {
                let events = self.events.clone();
                self.shared.spawn(async move {
                    let r = exit::lookup(&host).await;
                    let _ = events.send(Event::Lookup(stream, r)).await;
                });
            }
            StreamAction::Resolve { stream, query } => {
                let events = self.events.clone();
                self.shared.spawn(async move {
                    let a = exit::resolve(&query).await;
                    let _ = events.send(Event::Resolved(stream, a)).await;
                });
            }
            StreamAction::Connect { stream, target } => match target {
                StreamTarget::Tcp(addr) => {
                    let (tx, rx) = mpsc::unbounded_channel();
                    self.streams.insert(
                        stream,
                        StreamEntry {
                            tx,
                            pending: Bytes::new(),
                        },
                    );
                    let events = self.events.clone();
                    let span = tracing::debug_span!("stream", ?stream);
                    self.shared.spawn(super::in_span(
                        span,
                        exit::run_stream(stream, addr, rx, events),
                    ));
                }
                StreamTarget::Dir => {
                    let Some(source) = self.shared.dir_source.clone() else {
                        self.rc
                            .connect_done(stream, Err(EndReason::NOTDIRECTORY), &mut self.rng);
                        return;
                    };
                    let (tx, rx) = mpsc::unbounded_channel();
                    self.streams.insert(
                        stream,
                        StreamEntry {
                            tx,
                            pending: Bytes::new(),
                        },
                    );
                    let events = self.events.clone();
                    let span = tracing::debug_span!("dirstream", ?stream);
                    self.shared.spawn(super::in_span(
                        span,
                        exit::run_dir_stream(stream, source, rx, events),
                    ));
                }
            },
            StreamAction::Write { stream, data } => {
                if let Some(e) = self.streams.get(&stream) {
                    let _ = e.tx.send(StreamCmd::Write(data));
                }
            }
            StreamAction::Writable { stream } => self.push_stream(stream),
            StreamAction::Closed { stream } => {
                if let Some(e) = self.streams.remove(&stream) {
                    let _ = e.tx.send(StreamCmd::Close);
                }
            }
        }
    }
}
