//! Exit streams: one task per stream owning its TCP socket (or, for BEGIN_DIR, a pipe to
//! the directory server), and DNS look-ups.
//!
//! Backpressure: the task reads one chunk, hands it to the reactor, and reads again only
//! when the reactor has packaged all of it ([`StreamCmd::ReadMore`]), which happens only
//! while the circuit and stream windows allow. Writes toward the socket are bounded by the
//! stream's receive window (the client cannot send more than it allows).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::reactor::Event;
use crate::circuit::StreamRef;
use crate::relaycell::{EndReason, ResolvedVal};

/// How long a connect may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// Bytes read from a socket at once (about 33 DATA cells).
const READ_CHUNK: usize = 16 * 1024;
/// TTL we report for looked-up answers (no DNS cache here).
const TTL: u32 = 60;

/// A command from the reactor to a stream task.
#[derive(Debug)]
pub(crate) enum StreamCmd {
    /// Write these bytes.
    Write(Bytes),
    /// The last chunk was packaged; read more.
    ReadMore,
    /// Close the socket.
    Close,
}

fn end_reason_of(e: &std::io::Error) -> EndReason {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::ConnectionRefused => EndReason::CONNECTREFUSED,
        K::TimedOut => EndReason::TIMEOUT,
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => EndReason::CONNRESET,
        _ => EndReason::NOROUTE,
    }
}

/// Connects, reports, then moves bytes both ways until either side ends.
pub(crate) async fn run_stream(
    stream: StreamRef,
    addr: SocketAddr,
    rx: mpsc::UnboundedReceiver<StreamCmd>,
    events: mpsc::Sender<Event>,
) {
    let tcp = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
        Ok(Ok(t)) => t,
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "exit connect failed");
            let _ = events
                .send(Event::Connected(stream, Err(end_reason_of(&e))))
                .await;
            return;
        }
        Err(_) => {
            let _ = events
                .send(Event::Connected(stream, Err(EndReason::TIMEOUT)))
                .await;
            return;
        }
    };
    let _ = tcp.set_nodelay(true);
    if events.send(Event::Connected(stream, Ok(()))).await.is_err() {
        return;
    }
    pump(stream, tcp, rx, events).await;
}

/// A BEGIN_DIR stream: reports it connected at once, then moves bytes between the circuit
/// and an in-memory pipe whose other end [`crate::rt::dirserve::serve_stream`] answers from
/// `source` (one request, then the pipe closes and the stream ends with DONE).
pub(crate) async fn run_dir_stream(
    stream: StreamRef,
    source: std::sync::Arc<dyn crate::dir::serve::DirSource>,
    rx: mpsc::UnboundedReceiver<StreamCmd>,
    events: mpsc::Sender<Event>,
) {
    if events.send(Event::Connected(stream, Ok(()))).await.is_err() {
        return;
    }
    let (ours, theirs) = tokio::io::duplex(READ_CHUNK * 4);
    let opts = crate::rt::dirserve::ServeOptions::default();
    let server = async move {
        if let Err(e) = crate::rt::dirserve::serve_stream(theirs, source, None, &opts).await {
            tracing::debug!(error = %e, "BEGIN_DIR request not answered");
        }
    };
    // The server's end closes when it has answered; the pump then reads EOF and ends the
    // stream. The pump ending first (circuit gone) drops the pipe, ending the server.
    tokio::join!(server, pump(stream, ours, rx, events));
}

/// Moves bytes both ways between a connected stream and `io` until either side ends.
async fn pump<S>(
    stream: StreamRef,
    io: S,
    mut rx: mpsc::UnboundedReceiver<StreamCmd>,
    events: mpsc::Sender<Event>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send,
{
    let (mut rd, mut wr) = tokio::io::split(io);
    // Writes go through their own queue and future, so that a peer that is slow to read
    // never stops us reading (and the reverse): each direction has its own backpressure.
    let (wtx, mut wrx) = mpsc::unbounded_channel::<Bytes>();
    let ev_w = events.clone();
    let writer = async move {
        while let Some(b) = wrx.recv().await {
            if let Err(e) = wr.write_all(&b).await {
                let _ = ev_w.send(Event::End(stream, end_reason_of(&e))).await;
                return;
            }
            if wrx.is_empty() {
                let _ = ev_w.send(Event::Flushed(stream)).await;
            }
        }
    };
    let main = async move {
        let mut buf = vec![0u8; READ_CHUNK];
        let mut can_read = true;
        loop {
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    None | Some(StreamCmd::Close) => return,
                    Some(StreamCmd::ReadMore) => can_read = true,
                    Some(StreamCmd::Write(b)) => {
                        if wtx.send(b).is_err() {
                            return;
                        }
                    }
                },
                r = rd.read(&mut buf), if can_read => match r {
                    Ok(0) => {
                        let _ = events.send(Event::End(stream, EndReason::DONE)).await;
                        return;
                    }
                    Ok(n) => {
                        can_read = false;
                        let data = Bytes::copy_from_slice(&buf[..n]);
                        if events.send(Event::Data(stream, data)).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        let _ = events.send(Event::End(stream, end_reason_of(&e))).await;
                        return;
                    }
                },
            }
        }
    };
    tokio::select! {
        _ = main => {}
        _ = writer => {}
    }
}

/// Looks up a BEGIN's host name.
pub(crate) async fn lookup(host: &str) -> Result<(Vec<IpAddr>, u32), ()> {
    match tokio::net::lookup_host((host, 0)).await {
        Ok(it) => {
            let v: Vec<IpAddr> = it.map(|a| a.ip()).collect();
            if v.is_empty() {
                Err(())
            } else {
                Ok((v, TTL))
            }
        }
        Err(_) => Err(()),
    }
}

/// Answers a RESOLVE (forward look-ups only; reverse ones get an error answer).
pub(crate) async fn resolve(query: &str) -> Vec<(ResolvedVal, u32)> {
    if query.ends_with(".in-addr.arpa") || query.ends_with(".ip6.arpa") {
        return vec![(ResolvedVal::NontransientError(Vec::new()), 0)];
    }
    match lookup(query).await {
        Ok((addrs, ttl)) => addrs
            .into_iter()
            .map(|a| match a {
                IpAddr::V4(v) => (ResolvedVal::Ipv4(v), ttl),
                IpAddr::V6(v) => (ResolvedVal::Ipv6(v), ttl),
            })
            .collect(),
        Err(()) => vec![(ResolvedVal::TransientError(Vec::new()), 0)],
    }
}
