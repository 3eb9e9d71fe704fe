//! Channels at the relay: the accept loop, outgoing channels for EXTEND2, and the reader and
//! writer tasks of an open channel.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

use super::reactor::Event;
use super::{in_span, Shared};
use crate::cell::ChanCell;
use crate::channel::{ExpectedPeer, InitiatorConfig, InitiatorRole, PeerIdentity, ResponderConfig};
use crate::circuit::{ChanId, ChannelInfo, ExtendTarget};
use crate::rt::channel::{self, OpenChannel};
use crate::safelog::sensitive;

static NEXT_CHAN: AtomicU64 = AtomicU64::new(1);

fn next_chan_id() -> ChanId {
    ChanId(NEXT_CHAN.fetch_add(1, Ordering::Relaxed))
}

/// What the reactor keeps for a channel: its outgoing queue, and the switch that stops its
/// reader (dropping it closes the channel).
#[derive(Debug)]
pub(crate) struct ChanHandle {
    pub(crate) tx: mpsc::Sender<ChanCell>,
    pub(crate) _kill: oneshot::Sender<()>,
}

fn info_of(peer: &PeerIdentity, we_initiated: bool) -> ChannelInfo {
    match peer {
        PeerIdentity::Relay(p) => ChannelInfo {
            we_initiated,
            peer_rsa: Some(p.rsa_id),
            peer_ed: Some(p.ed_identity),
        },
        _ => ChannelInfo {
            we_initiated,
            peer_rsa: None,
            peer_ed: None,
        },
    }
}

/// Accepts connections on one ORPort.
pub(crate) async fn accept_loop(l: TcpListener, shared: Arc<Shared>, events: mpsc::Sender<Event>) {
    loop {
        let (tcp, peer) = match l.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let (shared2, events2) = (shared.clone(), events.clone());
        let id = next_chan_id();
        let span = tracing::info_span!("chan", id = id.0, peer = %sensitive(peer));
        shared.spawn(in_span(span, async move {
            let cur = shared2.current();
            let cfg = ResponderConfig {
                identity: cur.link.clone(),
                peer_addr: peer.ip(),
                my_addrs: shared2.my_addrs.clone(),
            };
            match channel::accept(tcp, cur.tls.clone(), cfg, shared2.opts.handshake_timeout).await {
                Ok(open) => {
                    let info = info_of(&open.ready.peer, false);
                    tracing::debug!(relay = info.peer_rsa.is_some(), "inbound channel open");
                    run_channel(id, open, info, None, shared2, events2).await;
                }
                Err(e) => tracing::debug!(error = %e, "inbound link handshake failed"),
            }
        }));
    }
}

/// Opens a channel to `target` as a relay for an EXTEND2.
pub(crate) fn connect_out(target: ExtendTarget, shared: &Arc<Shared>, events: mpsc::Sender<Event>) {
    let shared2 = shared.clone();
    let id = next_chan_id();
    let addrs = target.addrs();
    let span = tracing::info_span!("chan", id = id.0, out = %target.rsa_id.to_hex());
    shared.spawn(in_span(span, async move {
        let mut last = String::from("no address");
        for addr in addrs {
            let cur = shared2.current();
            let cfg = InitiatorConfig {
                role: InitiatorRole::Relay(cur.link.clone()),
                expected: Some(ExpectedPeer {
                    rsa_id: target.rsa_id,
                    ed_id: target.ed_id,
                }),
                peer_addr: addr.ip(),
                my_addrs: shared2.my_addrs.clone(),
            };
            match channel::connect(addr, cfg, shared2.opts.handshake_timeout).await {
                Ok(open) => {
                    let info = info_of(&open.ready.peer, true);
                    tracing::debug!(addr = %sensitive(addr), "outbound channel open");
                    run_channel(id, open, info, Some(target.rsa_id), shared2, events).await;
                    return;
                }
                Err(e) => {
                    tracing::debug!(addr = %sensitive(addr), error = %e, "outbound channel failed");
                    last = e.to_string();
                }
            }
        }
        let _ = events
            .send(Event::ConnectFailed {
                rsa: target.rsa_id,
                why: last,
            })
            .await;
    }));
}

/// Registers the channel with the reactor, spawns its writer, and reads cells until the end.
async fn run_channel<S>(
    id: ChanId,
    open: OpenChannel<S>,
    info: ChannelInfo,
    for_extend: Option<crate::ids::RsaIdentity>,
    shared: Arc<Shared>,
    events: mpsc::Sender<Event>,
) where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let OpenChannel {
        mut reader,
        mut writer,
        peer_addr,
        ..
    } = open;
    let _: SocketAddr = peer_addr;
    let (tx, mut rx) = mpsc::channel::<ChanCell>(shared.opts.channel_queue_cells);
    let (kill_tx, mut kill_rx) = oneshot::channel::<()>();
    if events
        .send(Event::ChanOpen {
            id,
            info,
            handle: ChanHandle { tx, _kill: kill_tx },
            for_extend,
        })
        .await
        .is_err()
    {
        return;
    }
    let events_w = events.clone();
    shared.spawn(in_span(tracing::Span::current(), async move {
        let mut why = "queue closed".to_string();
        'outer: while let Some(cell) = rx.recv().await {
            let mut next = Some(cell);
            while let Some(c) = next.take() {
                if let Err(e) = writer.send(c) {
                    why = e.to_string();
                    break 'outer;
                }
                if writer.pending() < 64 * 1024 {
                    next = rx.try_recv().ok();
                }
            }
            if let Err(e) = writer.flush().await {
                why = e.to_string();
                let _ = events_w
                    .send(Event::ChanClosed {
                        id,
                        why: why.clone(),
                    })
                    .await;
                break;
            }
        }
        tracing::debug!(why, "channel writer done");
        let _ = writer.shutdown().await;
    }));
    let why = loop {
        tokio::select! {
            r = reader.next_cell() => match r {
                Ok(Some(cell)) => {
                    if events.send(Event::Cell { id, cell }).await.is_err() {
                        return;
                    }
                }
                Ok(None) => break "closed by peer".to_string(),
                Err(e) => break e.to_string(),
            },
            _ = &mut kill_rx => return,
        }
    };
    tracing::debug!(why, "channel reader done");
    let _ = events.send(Event::ChanClosed { id, why }).await;
}
