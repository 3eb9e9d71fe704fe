//! [`ClientChannel`]: one open channel, its reader and writer tasks, and the table routing
//! incoming cells to circuits by circuit id (tor-spec §5.1.1 for the ids).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use rand::RngCore;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, watch};
use tokio::task::AbortHandle;

use super::Error;
use crate::cell::{AnyChanMsg, ChanCell, CircId};
use crate::channel::{ExpectedPeer, InitiatorConfig, InitiatorRole, PeerIdentity};
use crate::ids::{Ed25519Identity, RsaIdentity};
use crate::rt::cellio::{CellReader, CellWriter};
use crate::rt::channel::{OpenChannel, HANDSHAKE_TIMEOUT};

/// Cells queued towards the writer task, at most.
const OUT_QUEUE: usize = 256;
/// Cells queued towards one circuit's task, at most.
const CIRC_QUEUE: usize = 256;
/// Cells the writer encodes before one flush, at most.
const WRITE_BATCH: usize = 64;

/// The routing table and liveness of a channel, shared with its tasks.
#[derive(Debug, Default)]
pub(super) struct Table {
    circuits: HashMap<u32, mpsc::Sender<ChanCell>>,
    closed: bool,
}

impl Table {
    /// Picks a fresh circuit id: random, high bit set (we are the initiator), not zero in its
    /// low bits, not in use. Registers `tx` for it.
    pub(super) fn allocate<R: RngCore>(
        &mut self,
        tx: mpsc::Sender<ChanCell>,
        rng: &mut R,
    ) -> Result<CircId, Error> {
        if self.closed {
            return Err(Error::ChannelClosed);
        }
        // 2^31 ids: a collision is rare; give up after many tries (a full table).
        for _ in 0..1024 {
            let id = rng.next_u32() | 0x8000_0000;
            if id == 0x8000_0000 || self.circuits.contains_key(&id) {
                continue;
            }
            self.circuits.insert(id, tx);
            return Ok(CircId(id));
        }
        Err(Error::CircIdsExhausted)
    }

    /// Where a cell for `id` goes, if anywhere.
    pub(super) fn route(&self, id: CircId) -> Option<mpsc::Sender<ChanCell>> {
        self.circuits.get(&id.0).cloned()
    }

    /// Forgets a circuit.
    pub(super) fn remove(&mut self, id: CircId) {
        self.circuits.remove(&id.0);
    }

    /// Marks the channel dead and drops every circuit's sender (their tasks see the end).
    pub(super) fn kill(&mut self) {
        self.closed = true;
        self.circuits.clear();
    }

    /// Circuits registered.
    pub(super) fn len(&self) -> usize {
        self.circuits.len()
    }
}

#[derive(Debug)]
struct Shared {
    table: Mutex<Table>,
    dead: watch::Sender<bool>,
}

impl Shared {
    fn table(&self) -> MutexGuard<'_, Table> {
        // A panic elsewhere while holding the lock leaves a table that is still consistent.
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn die(&self) {
        self.table().kill();
        self.dead.send_replace(true);
    }
}

#[derive(Debug)]
struct Inner {
    shared: Arc<Shared>,
    out: mpsc::Sender<ChanCell>,
    peer: Option<(RsaIdentity, Ed25519Identity)>,
    peer_addr: SocketAddr,
    tasks: Vec<AbortHandle>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shared.die();
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// A client channel to one relay, shared by the circuits built on it (cheap to clone).
///
/// The channel stays open while any clone or any circuit on it lives (or until the peer
/// closes it, or [`ClientChannel::close`]).
#[derive(Debug, Clone)]
pub struct ClientChannel {
    inner: Arc<Inner>,
}

impl ClientChannel {
    /// Opens a channel to the relay at `addr` as a client. With `expected`, a relay with
    /// other identities fails the link handshake.
    pub async fn connect(
        addr: SocketAddr,
        expected: Option<ExpectedPeer>,
    ) -> Result<ClientChannel, Error> {
        let cfg = InitiatorConfig {
            role: InitiatorRole::Client,
            expected,
            peer_addr: addr.ip(),
            my_addrs: Vec::new(),
        };
        let open = crate::rt::channel::connect(addr, cfg, HANDSHAKE_TIMEOUT).await?;
        Ok(ClientChannel::from_open(open))
    }

    /// Takes over a channel opened by [`crate::rt::channel::connect`] and starts its tasks.
    pub fn from_open<S>(open: OpenChannel<S>) -> ClientChannel
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let peer = match &open.ready.peer {
            PeerIdentity::Relay(p) => Some((p.rsa_id, p.ed_identity)),
            PeerIdentity::Client => None,
        };
        ClientChannel::from_parts(open.reader, open.writer, peer, open.peer_addr)
    }

    /// Starts the tasks of a channel given its cell reader and writer (link handshake
    /// done). `peer` is the relay's proven (RSA, Ed25519) identity.
    pub fn from_parts<R, W>(
        reader: CellReader<R>,
        writer: CellWriter<W>,
        peer: Option<(RsaIdentity, Ed25519Identity)>,
        peer_addr: SocketAddr,
    ) -> ClientChannel
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let (dead, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            table: Mutex::new(Table::default()),
            dead,
        });
        let (out, out_rx) = mpsc::channel(OUT_QUEUE);
        let r = tokio::spawn(read_task(reader, shared.clone()));
        let w = tokio::spawn(write_task(writer, out_rx, shared.clone()));
        ClientChannel {
            inner: Arc::new(Inner {
                shared,
                out,
                peer,
                peer_addr,
                tasks: vec![r.abort_handle(), w.abort_handle()],
            }),
        }
    }

    /// The relay's proven (RSA, Ed25519) identity.
    pub fn peer_ids(&self) -> Option<(RsaIdentity, Ed25519Identity)> {
        self.inner.peer
    }

    /// The relay's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.inner.peer_addr
    }

    /// True once the channel has failed or been closed.
    pub fn is_closed(&self) -> bool {
        self.inner.shared.table().closed
    }

    /// Circuits currently on the channel.
    pub fn n_circuits(&self) -> usize {
        self.inner.shared.table().len()
    }

    /// Closes the channel: every circuit on it closes with
    /// [`super::CircuitClosed::ChannelDied`].
    pub fn close(&self) {
        self.inner.shared.die();
    }

    /// A future that completes when the channel dies.
    pub async fn closed(&self) {
        let mut rx = self.inner.shared.dead.subscribe();
        let _ = rx.wait_for(|d| *d).await;
    }

    /// Registers a new circuit: its id, and the queue its incoming cells arrive on.
    pub(super) fn register<R: RngCore>(
        &self,
        rng: &mut R,
    ) -> Result<(CircId, mpsc::Receiver<ChanCell>), Error> {
        let (tx, rx) = mpsc::channel(CIRC_QUEUE);
        let id = self.inner.shared.table().allocate(tx, rng)?;
        Ok((id, rx))
    }

    /// Forgets a circuit (its task ended).
    pub(super) fn deregister(&self, id: CircId) {
        self.inner.shared.table().remove(id);
    }

    /// Queues a cell for the writer; waits while the queue is full.
    pub(super) async fn send(&self, cell: ChanCell) -> Result<(), Error> {
        if self.is_closed() {
            return Err(Error::ChannelClosed);
        }
        self.inner
            .out
            .send(cell)
            .await
            .map_err(|_| Error::ChannelClosed)
    }
}

/// Reads cells and routes them until the stream ends or the channel dies.
async fn read_task<R: AsyncRead + Unpin>(mut reader: CellReader<R>, shared: Arc<Shared>) {
    let mut dead = shared.dead.subscribe();
    loop {
        let got = tokio::select! {
            got = reader.next_cell() => got,
            _ = dead.wait_for(|d| *d) => break,
        };
        let cell = match got {
            Ok(Some(cell)) => cell,
            Ok(None) => {
                tracing::debug!("channel closed by the relay");
                break;
            }
            Err(e) => {
                tracing::debug!(error = %e, "channel read failed");
                break;
            }
        };
        if cell.circ_id.0 == 0 {
            // PADDING, VPADDING, and late link cells: nothing for circuits.
            if !matches!(cell.msg, AnyChanMsg::Padding(_) | AnyChanMsg::Vpadding(_)) {
                tracing::debug!(cmd = %cell.msg.cmd(), "channel-level cell ignored");
            }
            continue;
        }
        let id = cell.circ_id;
        let Some(tx) = shared.table().route(id) else {
            tracing::debug!(circ = %id, "cell for an unknown circuit dropped");
            continue;
        };
        if tx.send(cell).await.is_err() {
            shared.table().remove(id);
        }
    }
    shared.die();
}

/// Writes queued cells in batches until the queue closes, a write fails, or the channel dies.
async fn write_task<W: AsyncWrite + Unpin>(
    mut writer: CellWriter<W>,
    mut rx: mpsc::Receiver<ChanCell>,
    shared: Arc<Shared>,
) {
    let mut dead = shared.dead.subscribe();
    loop {
        let first = tokio::select! {
            c = rx.recv() => c,
            _ = dead.wait_for(|d| *d) => None,
        };
        let Some(first) = first else { break };
        let mut res = writer.send(first);
        let mut n = 1;
        while res.is_ok() && n < WRITE_BATCH {
            match rx.try_recv() {
                Ok(c) => {
                    res = writer.send(c);
                    n += 1;
                }
                Err(_) => break,
            }
        }
        if let Err(e) = res {
            tracing::warn!(error = %e, "cannot encode a cell; closing the channel");
            break;
        }
        if let Err(e) = writer.flush().await {
            tracing::debug!(error = %e, "channel write failed");
            break;
        }
    }
    // Best effort: the relay sees the close (it destroys our circuits).
    let _ = writer.shutdown().await;
    shared.die();
}
