//! [`Circuit`]: the handle, and the task (*reactor*) that owns one
//! [`OriginCircuit`], feeds it the cells its channel routes to it, its timeouts and the
//! handles' commands, and sends what it queues.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::sync::{mpsc, oneshot, watch};

use super::stream::{DataStream, ReadEnd, StreamShared};
use super::{
    resolved_addrs, resolved_names, reverse_name, CircuitClosed, ClientChannel, Error,
    DEFAULT_BUILD_TIMEOUT, DEFAULT_STREAM_TIMEOUT,
};
use crate::cell::{ChanCell, CircId};
use crate::client::{CircEvent, HopTarget, OriginCircuit, StreamId};
use crate::relaycell::{AnyRelayMsg, BeginFlags, EndReason};

/// How the first hop is keyed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FirstHop {
    /// CREATE2 with the first target's handshake (ntor or ntor-v3).
    #[default]
    Create2,
    /// CREATE_FAST (tor-spec §5.1.5): the first target's onion key is not used.
    CreateFast,
}

/// How to build a circuit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuildOptions {
    /// How the first hop is keyed.
    pub first_hop: FirstHop,
    /// How long the whole build may take.
    pub timeout: Duration,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            first_hop: FirstHop::Create2,
            timeout: DEFAULT_BUILD_TIMEOUT,
        }
    }
}

/// A relay message to or from one hop, outside the circuit's own machinery (onion-service
/// messages, DATAGRAM, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayMessage {
    /// The hop (0 = first).
    pub hop: usize,
    /// The stream id (0 for circuit-level messages).
    pub stream_id: u16,
    /// The message.
    pub msg: AnyRelayMsg,
}

type Reply<T> = oneshot::Sender<Result<T, Error>>;

/// What handles and streams ask of the reactor.
pub(super) enum Cmd {
    Extend(Box<HopTarget>, Reply<()>),
    Begin {
        host: Option<(String, u16, BeginFlags)>,
        reply: Reply<DataStream>,
    },
    Resolve(String, Reply<Vec<IpAddr>>),
    ResolvePtr(String, Reply<Vec<String>>),
    Send(RelayMessage, Reply<()>),
    Close,
    /// A stream's buffers or flags changed: service it.
    Stream(StreamId),
}

/// A handle to an origin circuit (cheap to clone). The circuit lives while any handle or
/// any of its streams does, until it is closed by either side or its channel dies.
#[derive(Debug, Clone)]
pub struct Circuit {
    cmd: mpsc::UnboundedSender<Cmd>,
    closed: watch::Receiver<Option<CircuitClosed>>,
    messages: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<RelayMessage>>>,
    hops: Arc<AtomicUsize>,
    id: CircId,
    channel: ClientChannel,
}

impl std::fmt::Debug for Cmd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Cmd::Extend(..) => "Extend",
            Cmd::Begin { .. } => "Begin",
            Cmd::Resolve(..) => "Resolve",
            Cmd::ResolvePtr(..) => "ResolvePtr",
            Cmd::Send(..) => "Send",
            Cmd::Close => "Close",
            Cmd::Stream(_) => "Stream",
        })
    }
}

impl Circuit {
    /// Builds a circuit through `hops` on `channel` (whose relay must be `hops[0]`): CREATE2
    /// to the first, EXTEND2 for each further hop, within [`DEFAULT_BUILD_TIMEOUT`].
    pub async fn build(channel: &ClientChannel, hops: &[HopTarget]) -> Result<Circuit, Error> {
        Circuit::build_with(channel, hops, BuildOptions::default()).await
    }

    /// Like [`Circuit::build`], with options.
    pub async fn build_with(
        channel: &ClientChannel,
        hops: &[HopTarget],
        opts: BuildOptions,
    ) -> Result<Circuit, Error> {
        let first = hops.first().ok_or(Error::NoHops)?;
        let mut rng = StdRng::from_entropy();
        let (id, cells) = channel.register(&mut rng)?;
        let now = Instant::now();
        let mut circ = match opts.first_hop {
            FirstHop::Create2 => match OriginCircuit::create(id, first, now, &mut rng) {
                Ok(c) => c,
                Err(e) => {
                    channel.deregister(id);
                    return Err(e.into());
                }
            },
            FirstHop::CreateFast => OriginCircuit::create_fast(id, now, &mut rng),
        };
        circ.set_hop_timeout(opts.timeout);
        let (first_tx, first_rx) = oneshot::channel();
        let circuit = Reactor::spawn(circ, channel.clone(), cells, rng, first_tx);
        let work = async {
            first_rx.await.map_err(|_| Error::ChannelClosed)??;
            for hop in &hops[1..] {
                circuit.extend(hop).await?;
            }
            Ok::<(), Error>(())
        };
        match tokio::time::timeout(opts.timeout, work).await {
            Ok(Ok(())) => Ok(circuit),
            Ok(Err(e)) => {
                circuit.close();
                Err(e)
            }
            Err(_) => {
                circuit.close();
                Err(Error::BuildTimeout)
            }
        }
    }

    /// Adds a hop (EXTEND2 to the current last hop) and waits for EXTENDED2.
    pub async fn extend(&self, target: &HopTarget) -> Result<(), Error> {
        self.ask(|r| Cmd::Extend(Box::new(target.clone()), r)).await
    }

    /// Opens an exit stream to `host:port` at the last hop and waits for CONNECTED.
    pub async fn begin(&self, host: &str, port: u16) -> Result<DataStream, Error> {
        self.begin_with(host, port, BeginFlags::NONE).await
    }

    /// Like [`Circuit::begin`], with BEGIN flags.
    pub async fn begin_with(
        &self,
        host: &str,
        port: u16,
        flags: BeginFlags,
    ) -> Result<DataStream, Error> {
        let host = Some((host.to_owned(), port, flags));
        self.ask_timed(|reply| Cmd::Begin { host, reply }).await
    }

    /// Opens a directory stream to the last hop (BEGIN_DIR) and waits for CONNECTED.
    pub async fn begin_dir(&self) -> Result<DataStream, Error> {
        self.ask_timed(|reply| Cmd::Begin { host: None, reply })
            .await
    }

    /// Asks the last hop to resolve `host`; its IPv4 and IPv6 answers.
    pub async fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, Error> {
        let host = host.to_owned();
        self.ask_timed(|r| Cmd::Resolve(host, r)).await
    }

    /// Asks the last hop for the hostnames of `addr` (RESOLVE of its `in-addr.arpa` /
    /// `ip6.arpa` name, tor-spec §6.4); the hostname answers.
    pub async fn resolve_ptr(&self, addr: IpAddr) -> Result<Vec<String>, Error> {
        let name = reverse_name(addr);
        self.ask_timed(|r| Cmd::ResolvePtr(name, r)).await
    }

    /// Sends a relay message to a hop (not DATA, SENDME, EXTEND2, BEGIN, RESOLVE or END,
    /// which the circuit manages itself).
    pub async fn send_message(&self, msg: RelayMessage) -> Result<(), Error> {
        self.ask(|r| Cmd::Send(msg, r)).await
    }

    /// The next relay message the circuit did not handle itself
    /// ([`CircEvent::Message`]); `None` once the circuit is closed and all were taken.
    pub async fn next_message(&self) -> Option<RelayMessage> {
        self.messages.lock().await.recv().await
    }

    /// Closes the circuit (DESTROY); its streams fail.
    pub fn close(&self) {
        let _ = self.cmd.send(Cmd::Close);
    }

    /// Why the circuit closed, if it has.
    pub fn closed_reason(&self) -> Option<CircuitClosed> {
        self.closed.borrow().clone()
    }

    /// Waits until the circuit closes; why.
    pub async fn wait_closed(&self) -> CircuitClosed {
        let mut rx = self.closed.clone();
        let got = match rx.wait_for(|c| c.is_some()).await {
            Ok(c) => c.clone(),
            Err(_) => None,
        };
        got.unwrap_or(CircuitClosed::Abandoned)
    }

    /// Hops completed.
    pub fn n_hops(&self) -> usize {
        self.hops.load(Ordering::Relaxed)
    }

    /// The circuit id on the first hop's channel.
    pub fn circ_id(&self) -> CircId {
        self.id
    }

    /// The channel the circuit runs on.
    pub fn channel(&self) -> &ClientChannel {
        &self.channel
    }

    async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Cmd) -> Result<T, Error> {
        let (tx, rx) = oneshot::channel();
        if self.cmd.send(make(tx)).is_err() {
            return Err(self.gone());
        }
        match rx.await {
            Ok(r) => r,
            Err(_) => Err(self.gone()),
        }
    }

    async fn ask_timed<T>(&self, make: impl FnOnce(Reply<T>) -> Cmd) -> Result<T, Error> {
        tokio::time::timeout(DEFAULT_STREAM_TIMEOUT, self.ask(make))
            .await
            .map_err(|_| Error::StreamTimeout)?
    }

    fn gone(&self) -> Error {
        Error::Closed(self.closed_reason().unwrap_or(CircuitClosed::Abandoned))
    }
}

/// The task owning one circuit.
struct Reactor {
    circ: OriginCircuit,
    channel: ClientChannel,
    rng: StdRng,
    cells: mpsc::Receiver<ChanCell>,
    cmds: mpsc::UnboundedReceiver<Cmd>,
    /// For the streams' handles (weak: the circuit ends when the last handle goes).
    cmd_tx: mpsc::WeakUnboundedSender<Cmd>,
    pending_hop: Option<Reply<()>>,
    opening: HashMap<StreamId, Reply<DataStream>>,
    resolving: HashMap<StreamId, Reply<Vec<IpAddr>>>,
    resolving_ptr: HashMap<StreamId, Reply<Vec<String>>>,
    streams: HashMap<StreamId, Arc<StreamShared>>,
    messages: mpsc::UnboundedSender<RelayMessage>,
    closed: watch::Sender<Option<CircuitClosed>>,
    /// Set when the reason is ours, not the circuit's (channel death, abandonment).
    why: Option<CircuitClosed>,
    hops: Arc<AtomicUsize>,
}

impl Reactor {
    fn spawn(
        circ: OriginCircuit,
        channel: ClientChannel,
        cells: mpsc::Receiver<ChanCell>,
        rng: StdRng,
        first_hop: Reply<()>,
    ) -> Circuit {
        let (cmd_tx, cmds) = mpsc::unbounded_channel();
        let (msg_tx, msg_rx) = mpsc::unbounded_channel();
        let (closed, closed_rx) = watch::channel(None);
        let hops = Arc::new(AtomicUsize::new(0));
        let id = circ.circ_id();
        let reactor = Reactor {
            circ,
            channel: channel.clone(),
            rng,
            cells,
            cmds,
            cmd_tx: cmd_tx.downgrade(),
            pending_hop: Some(first_hop),
            opening: HashMap::new(),
            resolving: HashMap::new(),
            resolving_ptr: HashMap::new(),
            streams: HashMap::new(),
            messages: msg_tx,
            closed,
            why: None,
            hops: hops.clone(),
        };
        tokio::spawn(reactor.run());
        Circuit {
            cmd: cmd_tx,
            closed: closed_rx,
            messages: Arc::new(tokio::sync::Mutex::new(msg_rx)),
            hops,
            id,
            channel,
        }
    }

    async fn run(mut self) {
        let id = self.circ.circ_id();
        loop {
            self.pump().await;
            if self.circ.is_closed() {
                break;
            }
            let deadline = self.circ.next_timeout();
            let timer = async move {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                cell = self.cells.recv() => match cell {
                    Some(cell) => self.circ.handle_cell(cell, &mut self.rng),
                    None => self.abort(CircuitClosed::ChannelDied),
                },
                cmd = self.cmds.recv() => match cmd {
                    Some(cmd) => self.command(cmd),
                    None => self.abort(CircuitClosed::Abandoned),
                },
                _ = timer => self.circ.handle_timeout(Instant::now()),
            }
        }
        self.channel.deregister(id);
    }

    /// Closes the circuit for a reason of ours.
    fn abort(&mut self, why: CircuitClosed) {
        self.why.get_or_insert(why);
        self.circ.close();
    }

    fn command(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Extend(target, reply) => {
                let res = self.circ.extend(&target, Instant::now(), &mut self.rng);
                match res {
                    Ok(()) => self.pending_hop = Some(reply),
                    Err(e) => {
                        let _ = reply.send(Err(e.into()));
                    }
                }
            }
            Cmd::Begin { host, reply } => {
                let res = match &host {
                    Some((h, port, flags)) => self.circ.begin(h, *port, *flags, &mut self.rng),
                    None => self.circ.begin_dir(&mut self.rng),
                };
                match res {
                    Ok(s) => {
                        self.opening.insert(s, reply);
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e.into()));
                    }
                }
            }
            Cmd::Resolve(host, reply) => match self.circ.resolve(&host, &mut self.rng) {
                Ok(s) => {
                    self.resolving.insert(s, reply);
                }
                Err(e) => {
                    let _ = reply.send(Err(e.into()));
                }
            },
            Cmd::ResolvePtr(name, reply) => match self.circ.resolve(&name, &mut self.rng) {
                Ok(s) => {
                    self.resolving_ptr.insert(s, reply);
                }
                Err(e) => {
                    let _ = reply.send(Err(e.into()));
                }
            },
            Cmd::Send(m, reply) => {
                let res = self.circ.send(m.hop, m.stream_id, &m.msg, &mut self.rng);
                let _ = reply.send(res.map_err(Error::from));
            }
            Cmd::Close => self.circ.close(),
            Cmd::Stream(s) => self.service(s),
        }
    }

    /// Handles every event, then sends every queued cell; repeats until both are empty.
    async fn pump(&mut self) {
        loop {
            let mut busy = false;
            while let Some(ev) = self.circ.poll_event() {
                busy = true;
                self.event(ev);
            }
            while let Some(cell) = self.circ.poll_cell() {
                busy = true;
                if self.channel.send(cell).await.is_err() && !self.circ.is_closed() {
                    self.abort(CircuitClosed::ChannelDied);
                }
            }
            if !busy {
                return;
            }
        }
    }

    fn event(&mut self, ev: CircEvent) {
        match ev {
            CircEvent::HopAdded { hops } => {
                self.hops.store(hops, Ordering::Relaxed);
                if let Some(r) = self.pending_hop.take() {
                    let _ = r.send(Ok(()));
                }
            }
            CircEvent::Connected { stream, .. } => self.connected(stream),
            CircEvent::Data { stream, data } => {
                let Some(sh) = self.streams.get(&stream) else {
                    return;
                };
                if sh.push(data) {
                    let _ = self.circ.pause_reads(stream, true, &mut self.rng);
                }
            }
            CircEvent::Ended { stream, reason } => {
                if let Some(r) = self.opening.remove(&stream) {
                    let _ = r.send(Err(Error::StreamEnded(reason)));
                } else if let Some(r) = self.resolving.remove(&stream) {
                    let _ = r.send(Err(Error::StreamEnded(reason)));
                } else if let Some(r) = self.resolving_ptr.remove(&stream) {
                    let _ = r.send(Err(Error::StreamEnded(reason)));
                } else if let Some(sh) = self.streams.remove(&stream) {
                    // END(DONE) is a clean end of file; other reasons are errors.
                    sh.finish(if reason == EndReason::DONE {
                        ReadEnd::Eof
                    } else {
                        ReadEnd::Ended(reason)
                    });
                }
            }
            CircEvent::Resolved { stream, answers } => {
                if let Some(r) = self.resolving.remove(&stream) {
                    let addrs = resolved_addrs(&answers);
                    let _ = r.send(if addrs.is_empty() {
                        Err(Error::ResolveFailed)
                    } else {
                        Ok(addrs)
                    });
                } else if let Some(r) = self.resolving_ptr.remove(&stream) {
                    let names = resolved_names(&answers);
                    let _ = r.send(if names.is_empty() {
                        Err(Error::ResolveFailed)
                    } else {
                        Ok(names)
                    });
                }
            }
            CircEvent::Writable { stream } => self.service(stream),
            CircEvent::Message {
                hop,
                stream_id,
                msg,
            } => {
                let _ = self.messages.send(RelayMessage {
                    hop,
                    stream_id,
                    msg,
                });
            }
            CircEvent::Closed(reason) => {
                let why = self.why.clone().unwrap_or(CircuitClosed::Circuit(reason));
                tracing::debug!(circ = %self.circ.circ_id(), ?why, "circuit closed");
                // Forget the id before anyone hears of the closure.
                self.channel.deregister(self.circ.circ_id());
                if let Some(r) = self.pending_hop.take() {
                    let _ = r.send(Err(Error::Closed(why.clone())));
                }
                for (_, r) in self.opening.drain() {
                    let _ = r.send(Err(Error::Closed(why.clone())));
                }
                for (_, r) in self.resolving.drain() {
                    let _ = r.send(Err(Error::Closed(why.clone())));
                }
                for (_, r) in self.resolving_ptr.drain() {
                    let _ = r.send(Err(Error::Closed(why.clone())));
                }
                for (_, sh) in self.streams.drain() {
                    sh.finish(ReadEnd::Closed(why.clone()));
                }
                self.closed.send_replace(Some(why));
            }
        }
    }

    fn connected(&mut self, stream: StreamId) {
        let Some(reply) = self.opening.remove(&stream) else {
            return;
        };
        let Some(cmd) = self.cmd_tx.upgrade() else {
            let _ = self.circ.end(stream, &mut self.rng);
            return;
        };
        let shared = Arc::new(StreamShared::new());
        self.streams.insert(stream, shared.clone());
        // If the caller gave up waiting, the stream is dropped here and ENDs itself.
        let _ = reply.send(Ok(DataStream::new(stream, shared, cmd)));
    }

    /// Moves a stream's buffered bytes into the circuit as the windows allow, releases
    /// its reads when the reader caught up, and ENDs it when asked.
    fn service(&mut self, stream: StreamId) {
        let Some(sh) = self.streams.get(&stream).cloned() else {
            return;
        };
        let mut st = sh.lock();
        st.wake_queued = false;
        if st.paused && st.reader_caught_up() {
            st.paused = false;
            let _ = self.circ.pause_reads(stream, false, &mut self.rng);
        }
        let mut moved = false;
        // Always try while bytes wait, even when `can_write` is false: a write that takes
        // nothing marks the stream blocked, so the circuit reports `Writable` later.
        while !st.send.is_empty() {
            match self.circ.write(stream, &st.send, &mut self.rng) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let _ = st.send.split_to(n);
                    moved = true;
                }
            }
        }
        let ending = st.send.is_empty() && (st.shutdown || st.dropped) && !st.end_sent;
        if ending {
            let _ = self.circ.end(stream, &mut self.rng);
            st.end_sent = true;
            st.read_end.get_or_insert(ReadEnd::Eof);
            moved = true;
        }
        let forget = st.end_sent;
        if moved {
            st.wake_all();
        }
        drop(st);
        if forget {
            self.streams.remove(&stream);
        }
    }
}
