//! The SOCKS listener: accepts connections on a `SocksPort`, runs the sans-IO handshake
//! ([`crate::socks::Handshake`]) under a deadline, hands CONNECT / RESOLVE / RESOLVE_PTR to a
//! [`SocksHandler`] (the Tor client implements it) with the request's [`IsolationKey`], and
//! then copies bytes both ways until both sides have closed (half-close is passed on).
//!
//! Bounds: at most [`SocksOptions::max_connections`] connections per listener (C tor has no
//! cap; further clients wait in the kernel's accept backlog), the handshake must complete
//! within [`SocksOptions::handshake_timeout`] (slowloris), and a handler call within
//! [`SocksOptions::request_timeout`] (C tor's `SocksTimeout`, 2 minutes; the client answers
//! TTL_EXPIRED as C tor does). Data a client sends before our reply (optimistic data,
//! socks-extensions §5) is kept (up to 64 KiB) and forwarded once the stream is open; a
//! client that closes while its stream is opening abandons the attempt (the handler's future
//! is dropped), as in C tor.
//!
//! Logs show destinations and client addresses through `safelog::client_sensitive`.
//! Not here: UDP ASSOCIATE relaying (stage 5; answered "command not supported"),
//! `SafeSocks`, `TestSocks`, the control port's stream events.

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use super::client::stream_end_reason;
use crate::config::{ListenAddr, SocksPortConfig};
use crate::relaycell::EndReason;
use crate::safelog::client_sensitive;
use crate::socks::{
    unspecified_like, Command, Handshake, IsolationKey, SocksRequest, Step, TargetAddr,
};

pub use crate::socks::SocksFailure;

/// A byte stream the listener can copy to and from (a `DataStream`, a `TcpStream`, ...).
pub trait AsyncReadWrite: AsyncRead + AsyncWrite {}
impl<T: AsyncRead + AsyncWrite + ?Sized> AsyncReadWrite for T {}

/// The stream a handler returns for CONNECT.
pub type SocksStream = Box<dyn AsyncReadWrite + Unpin + Send>;

/// A boxed future, as [`SocksHandler`]'s methods return (no async-trait).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A CONNECT request.
#[derive(Debug, Clone)]
pub struct ConnectRequest {
    /// Where to connect.
    pub target: TargetAddr,
    /// Which circuits the stream may use.
    pub isolation: IsolationKey,
    /// The SOCKS client's address.
    pub client: SocketAddr,
}

/// A RESOLVE (target: a hostname, port as given) or RESOLVE_PTR (target: an address) request.
#[derive(Debug, Clone)]
pub struct ResolveRequest {
    /// What to look up.
    pub target: TargetAddr,
    /// Which circuits the lookup may use.
    pub isolation: IsolationKey,
    /// The SOCKS client's address.
    pub client: SocketAddr,
}

/// What the listener asks of the Tor client.
pub trait SocksHandler: Send + Sync + 'static {
    /// Opens a stream to `req.target` (BEGIN on a circuit matching `req.isolation`).
    fn connect(&self, req: ConnectRequest) -> BoxFuture<'_, Result<SocksStream, SocksFailure>>;
    /// Resolves a hostname (RESOLVE at an exit). An empty list is answered HOST_UNREACHABLE.
    fn resolve(&self, req: ResolveRequest) -> BoxFuture<'_, Result<Vec<IpAddr>, SocksFailure>>;
    /// Reverse-resolves an address (RESOLVE with an in-addr.arpa name at an exit).
    fn resolve_ptr(&self, req: ResolveRequest) -> BoxFuture<'_, Result<String, SocksFailure>>;
}

/// How a listener behaves.
#[derive(Debug, Clone)]
pub struct SocksOptions {
    /// The `SocksPort` line (isolation flags, `ExtendedErrors`, `OnionTrafficOnly`).
    pub port: SocksPortConfig,
    /// This port's index among the configured SocksPorts (its session without
    /// `SessionGroup`).
    pub listener_index: u32,
    /// Most connections served at once (default 4096).
    pub max_connections: usize,
    /// Time allowed for the whole handshake, greeting to request (default 30 s).
    pub handshake_timeout: Duration,
    /// Time allowed for a handler call (default 120 s, C tor's `SocksTimeout`).
    pub request_timeout: Duration,
}

impl SocksOptions {
    /// Defaults for the SocksPort `port`, the `listener_index`-th one.
    pub fn new(port: SocksPortConfig, listener_index: u32) -> Self {
        SocksOptions {
            port,
            listener_index,
            max_connections: 4096,
            handshake_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(120),
        }
    }
}

/// Binds a SocksPort's listener: the given address, or 127.0.0.1 (tor's default); `auto`
/// lets the system pick the port. `SocksPort 0` is an error (`InvalidInput`).
pub async fn bind(port: &SocksPortConfig) -> io::Result<TcpListener> {
    let default = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let addr = match port.addr {
        ListenAddr::Disabled => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "SocksPort 0 has no listener",
            ))
        }
        ListenAddr::Auto { addr } => SocketAddr::new(addr.unwrap_or(default), 0),
        ListenAddr::Port { addr, port } => SocketAddr::new(addr.unwrap_or(default), port),
    };
    TcpListener::bind(addr).await
}

/// A [`SocksFailure`] for an I/O error from opening a stream: the END reason if it came
/// from a Tor stream (`rt::client::stream_end_reason`), else one from the error kind.
pub fn failure_from_io(e: &io::Error) -> SocksFailure {
    if let Some(r) = stream_end_reason(e) {
        return SocksFailure::End(r);
    }
    match e.kind() {
        io::ErrorKind::ConnectionRefused => SocksFailure::End(EndReason::CONNECTREFUSED),
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => {
            SocksFailure::End(EndReason::CONNRESET)
        }
        io::ErrorKind::TimedOut => SocksFailure::Timeout,
        io::ErrorKind::HostUnreachable => SocksFailure::End(EndReason::NOROUTE),
        io::ErrorKind::NetworkUnreachable => SocksFailure::NetUnreachable,
        _ => SocksFailure::End(EndReason::MISC),
    }
}

/// Serves SOCKS on `listener` until `shutdown` turns true (or its sender is dropped); then
/// stops accepting and aborts the connections still open.
pub async fn serve(
    listener: TcpListener,
    handler: Arc<dyn SocksHandler>,
    options: SocksOptions,
    mut shutdown: watch::Receiver<bool>,
) -> io::Result<()> {
    let options = Arc::new(options);
    let permits = Arc::new(Semaphore::new(options.max_connections.max(1)));
    let mut tasks = JoinSet::new();
    let local = listener.local_addr()?;
    tracing::info!(%local, "SOCKS listener open");
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => p.ok(),
            () = stopped(&mut shutdown) => None,
        };
        let Some(permit) = permit else { break };
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = stopped(&mut shutdown) => break,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // EMFILE and friends: back off a little instead of spinning.
                tracing::warn!(error = %e, "SOCKS accept failed");
                drop(permit);
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let handler = handler.clone();
        let options = options.clone();
        tasks.spawn(async move {
            let _permit = permit;
            if let Err(e) = serve_conn(stream, peer, &*handler, &options).await {
                tracing::debug!(client = %client_sensitive(peer), error = %e, "SOCKS connection ended");
            }
        });
        while tasks.try_join_next().is_some() {}
    }
    tasks.shutdown().await;
    tracing::info!(%local, "SOCKS listener closed");
    Ok(())
}

/// Returns once `rx` reads true or its sender is gone.
async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

/// Most optimistic data kept while a stream opens; past it we stop reading the client.
const MAX_EARLY_DATA: usize = 64 * 1024;

/// Awaits `connect` (at most `timeout`) while reading what the client sends meanwhile into
/// `early` (optimistic data, up to [`MAX_EARLY_DATA`]). If the client closes or fails first,
/// the attempt is abandoned, as C tor closes a stream whose client hung up before it opened.
async fn connect_watching_client(
    client: &mut TcpStream,
    connect: BoxFuture<'_, Result<SocksStream, SocksFailure>>,
    timeout: Duration,
    mut early: Vec<u8>,
) -> Result<(Result<SocksStream, SocksFailure>, Vec<u8>), ConnError> {
    let mut connect = connect;
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    let mut chunk = vec![0u8; 4096];
    loop {
        let room = early.len() < MAX_EARLY_DATA;
        tokio::select! {
            r = &mut connect => return Ok((r, early)),
            () = &mut deadline => return Ok((Err(SocksFailure::Timeout), early)),
            n = client.read(&mut chunk), if room => match n {
                Ok(0) => return Err(ConnError::ClientGone),
                Ok(n) => early.extend_from_slice(chunk.get(..n).unwrap_or_default()),
                Err(e) => return Err(e.into()),
            },
        }
    }
}

/// Why a connection ended early (for debug logs only).
#[derive(Debug, thiserror::Error)]
enum ConnError {
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
    #[error("handshake timed out")]
    HandshakeTimeout,
    #[error("client closed during the handshake")]
    EarlyEof,
    #[error("client closed before the stream opened")]
    ClientGone,
    #[error("rejected: {0}")]
    Rejected(crate::socks::SocksError),
    #[error("request failed: {0}")]
    Failed(SocksFailure),
}

/// Reads and answers the handshake; returns the request and any bytes after it.
async fn handshake(stream: &mut TcpStream) -> Result<(SocksRequest, Vec<u8>), ConnError> {
    let mut hs = Handshake::new();
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        match hs.handle(&buf) {
            Ok(Step::NeedMore) => {
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    return Err(ConnError::EarlyEof);
                }
                buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
            }
            Ok(Step::Continue { consumed, reply }) => {
                buf.drain(..consumed.min(buf.len()));
                stream.write_all(&reply).await?;
            }
            Ok(Step::Finished { consumed, request }) => {
                buf.drain(..consumed.min(buf.len()));
                return Ok((request, buf));
            }
            Err(rej) => {
                if !rej.reply.is_empty() {
                    stream.write_all(&rej.reply).await?;
                    let _ = stream.shutdown().await;
                }
                return Err(ConnError::Rejected(rej.error));
            }
        }
    }
}

async fn serve_conn(
    mut stream: TcpStream,
    peer: SocketAddr,
    handler: &dyn SocksHandler,
    options: &SocksOptions,
) -> Result<(), ConnError> {
    let _ = stream.set_nodelay(true);
    let local = stream.local_addr()?;
    let (request, early_data) =
        match tokio::time::timeout(options.handshake_timeout, handshake(&mut stream)).await {
            Ok(r) => r?,
            Err(_) => return Err(ConnError::HandshakeTimeout),
        };
    let isolation = IsolationKey::new(&options.port, options.listener_index, &request, peer);
    let target = request.target.clone();
    let extended = options.port.extended_errors;
    tracing::debug!(
        client = %client_sensitive(peer),
        command = ?request.command,
        target = %client_sensitive(&target),
        "SOCKS request"
    );
    let fail = |f: SocksFailure| {
        if f == SocksFailure::OnionUnsupported {
            tracing::warn!(
                target = %client_sensitive(&target),
                ".onion addresses are not supported yet by this client; answering host unreachable"
            );
        } else {
            tracing::info!(target = %client_sensitive(&target), error = %f, "SOCKS request failed");
        }
        request.reply_error(f.reply_code(extended))
    };
    let timeout = options.request_timeout;
    match request.command {
        Command::UdpAssociate => {
            stream.write_all(&request.reply_unsupported()).await?;
            return Ok(());
        }
        Command::Connect => {
            if options.port.onion_traffic_only && !target.is_onion() {
                stream.write_all(&fail(SocksFailure::NotAllowed)).await?;
                return Err(ConnError::Failed(SocksFailure::NotAllowed));
            }
            let req = ConnectRequest {
                target: target.clone(),
                isolation,
                client: peer,
            };
            let (opened, early_data) =
                connect_watching_client(&mut stream, handler.connect(req), timeout, early_data)
                    .await?;
            let mut remote = match opened {
                Ok(s) => s,
                Err(f) => {
                    stream.write_all(&fail(f)).await?;
                    return Err(ConnError::Failed(f));
                }
            };
            stream
                .write_all(&request.reply_success(unspecified_like(&local)))
                .await?;
            if !early_data.is_empty() {
                remote.write_all(&early_data).await?;
            }
            let (up, down) = tokio::io::copy_bidirectional(&mut stream, &mut remote).await?;
            tracing::debug!(up, down, "SOCKS stream closed");
        }
        Command::Resolve => {
            let answer = match &target {
                // C tor answers an address literal itself.
                TargetAddr::Ip(a) => Ok(vec![a.ip()]),
                TargetAddr::Domain(..) if options.port.onion_traffic_only => {
                    Err(SocksFailure::NotAllowed)
                }
                TargetAddr::Domain(..) => {
                    let req = ResolveRequest {
                        target: target.clone(),
                        isolation,
                        client: peer,
                    };
                    tokio::time::timeout(timeout, handler.resolve(req))
                        .await
                        .unwrap_or(Err(SocksFailure::Timeout))
                }
            };
            let reply = match answer {
                Ok(addrs) => request.reply_resolved(&addrs),
                Err(f) => fail(f),
            };
            stream.write_all(&reply).await?;
        }
        Command::ResolvePtr => {
            let req = ResolveRequest {
                target: target.clone(),
                isolation,
                client: peer,
            };
            let answer = if options.port.onion_traffic_only {
                Err(SocksFailure::NotAllowed)
            } else {
                tokio::time::timeout(timeout, handler.resolve_ptr(req))
                    .await
                    .unwrap_or(Err(SocksFailure::Timeout))
            };
            let reply = match answer {
                Ok(name) => request.reply_resolved_ptr(&name),
                Err(f) => fail(f),
            };
            stream.write_all(&reply).await?;
        }
    }
    let _ = stream.shutdown().await;
    Ok(())
}
