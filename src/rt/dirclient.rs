//! Directory client requests: GET and POST over a DirPort (TCP) or a BEGIN_DIR stream
//! ([`crate::rt::client::Circuit::begin_dir`]), as C tor's `dirclient.c` sends them.
//!
//! One request per connection: write the request, read the response to end-of-file
//! (bounded by the body cap plus the header cap), parse it and decompress the body
//! ([`crate::dir::http::parse_response`]). One deadline covers connecting, writing and
//! reading. A status other than 200 is an error naming the code and reason.
//!
//! Not here: choosing which server to ask, retry schedules (callers decide).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::dir::http::{self, HttpError, Request, Response};
use crate::rt::client::Circuit;

/// Limits for one request.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// The largest body accepted, compressed or not (C tor's `MAX_DIRECTORY_OBJECT_SIZE`,
    /// 10 MiB, by default).
    pub max_body: usize,
    /// Deadline for the whole exchange (connect, request, response).
    pub timeout: Duration,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            max_body: http::MAX_DIRECTORY_OBJECT_SIZE,
            timeout: Duration::from_secs(60),
        }
    }
}

/// Why a directory request failed.
#[derive(Debug, thiserror::Error)]
pub enum DirClientError {
    /// Connecting, writing or reading failed.
    #[error("directory connection: {0}")]
    Io(#[from] std::io::Error),
    /// Opening the BEGIN_DIR stream failed.
    #[error("BEGIN_DIR: {0}")]
    BeginDir(String),
    /// The deadline passed.
    #[error("directory request timed out")]
    Timeout,
    /// The response exceeded the size cap.
    #[error("directory response larger than {0} bytes")]
    TooLarge(usize),
    /// The response was malformed.
    #[error("bad directory response: {0}")]
    Http(#[from] HttpError),
    /// The server answered with a status other than 200.
    #[error("directory server answered {code} {reason}")]
    Status {
        /// The status code.
        code: u16,
        /// The reason phrase (an authority's rejection reason for uploads).
        reason: String,
    },
}

/// Sends `req` on `io` and returns the parsed response, whatever its status.
pub async fn request<S>(
    io: S,
    req: &Request,
    opts: &FetchOptions,
) -> Result<Response, DirClientError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match tokio::time::timeout(opts.timeout, exchange(io, req, opts.max_body)).await {
        Ok(r) => r,
        Err(_) => Err(DirClientError::Timeout),
    }
}

async fn exchange<S>(mut io: S, req: &Request, max_body: usize) -> Result<Response, DirClientError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    io.write_all(&req.to_bytes()).await?;
    io.flush().await?;
    let cap = max_body.saturating_add(http::MAX_HEADERS_SIZE);
    let mut buf = Vec::new();
    let limit = u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1);
    (&mut io).take(limit).read_to_end(&mut buf).await?;
    if buf.len() > cap {
        return Err(DirClientError::TooLarge(max_body));
    }
    match http::parse_response(&buf, max_body) {
        Err(HttpError::BodyTooLarge(n)) => Err(DirClientError::TooLarge(n)),
        r => Ok(r?),
    }
}

fn ok_body(resp: Response) -> Result<Response, DirClientError> {
    if resp.status == 200 {
        Ok(resp)
    } else {
        Err(DirClientError::Status {
            code: resp.status,
            reason: resp.reason,
        })
    }
}

/// GETs `path` on `io` (with `Host: host`, as C tor sends it) and returns the
/// decompressed body of a 200 answer.
pub async fn fetch<S>(
    io: S,
    path: &str,
    host: &str,
    opts: &FetchOptions,
) -> Result<Vec<u8>, DirClientError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let resp = request(io, &Request::get(path, host), opts).await?;
    Ok(ok_body(resp)?.body)
}

/// POSTs `body` to `path` on `io`; the response if it is a 200 (its reason phrase is the
/// server's message), else [`DirClientError::Status`] with the server's reason.
pub async fn post<S>(
    io: S,
    path: &str,
    host: &str,
    body: Vec<u8>,
    opts: &FetchOptions,
) -> Result<Response, DirClientError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    ok_body(request(io, &Request::post(path, host, body), opts).await?)
}

async fn connect(addr: SocketAddr, opts: &FetchOptions) -> Result<TcpStream, DirClientError> {
    match tokio::time::timeout(opts.timeout, TcpStream::connect(addr)).await {
        Ok(Ok(t)) => {
            let _ = t.set_nodelay(true);
            Ok(t)
        }
        Ok(Err(e)) => Err(e.into()),
        Err(_) => Err(DirClientError::Timeout),
    }
}

/// The `Host` value C tor sends: `address:port` (just the address for port 80).
fn host_of(addr: SocketAddr) -> String {
    match (addr, addr.port()) {
        (SocketAddr::V4(a), 80) => a.ip().to_string(),
        (SocketAddr::V6(a), 80) => format!("[{}]", a.ip()),
        _ => addr.to_string(),
    }
}

/// [`fetch`] over a new TCP connection to a DirPort.
pub async fn fetch_tcp(
    addr: SocketAddr,
    path: &str,
    opts: &FetchOptions,
) -> Result<Vec<u8>, DirClientError> {
    let tcp = connect(addr, opts).await?;
    fetch(tcp, path, &host_of(addr), opts).await
}

/// [`post`] over a new TCP connection to a DirPort.
pub async fn post_tcp(
    addr: SocketAddr,
    path: &str,
    body: Vec<u8>,
    opts: &FetchOptions,
) -> Result<Response, DirClientError> {
    let tcp = connect(addr, opts).await?;
    post(tcp, path, &host_of(addr), body, opts).await
}

async fn begin_dir(
    circ: &Circuit,
    opts: &FetchOptions,
) -> Result<crate::rt::client::DataStream, DirClientError> {
    match tokio::time::timeout(opts.timeout, circ.begin_dir()).await {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => Err(DirClientError::BeginDir(e.to_string())),
        Err(_) => Err(DirClientError::Timeout),
    }
}

/// [`fetch`] over a new BEGIN_DIR stream on `circ` (to its last hop).
pub async fn fetch_begin_dir(
    circ: &Circuit,
    path: &str,
    opts: &FetchOptions,
) -> Result<Vec<u8>, DirClientError> {
    let s = begin_dir(circ, opts).await?;
    fetch(s, path, &host_of(circ.channel().peer_addr()), opts).await
}

/// [`post`] over a new BEGIN_DIR stream on `circ`.
pub async fn post_begin_dir(
    circ: &Circuit,
    path: &str,
    body: Vec<u8>,
    opts: &FetchOptions,
) -> Result<Response, DirClientError> {
    let s = begin_dir(circ, opts).await?;
    post(s, path, &host_of(circ.channel().peer_addr()), body, opts).await
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A server that reads a request, then writes `reply` and closes.
    async fn serve_once(
        reply: Vec<u8>,
    ) -> (tokio::io::DuplexStream, tokio::task::JoinHandle<Vec<u8>>) {
        let (client, mut server) = tokio::io::duplex(1 << 16);
        let h = tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            let n = server.read(&mut buf).await.unwrap();
            let _ = server.write_all(&reply).await;
            let _ = server.shutdown().await;
            buf.truncate(n);
            buf
        });
        (client, h)
    }

    #[tokio::test]
    async fn fetch_decompresses_and_names_statuses() {
        let body = b"network-status-version 3\n".repeat(10);
        let mut r = Response::short(200, "OK");
        r.headers
            .push(("Content-Encoding".into(), "deflate".into()));
        r.body = http::deflate(&body);
        let (c, h) = serve_once(r.to_bytes()).await;
        let got = fetch(c, "/tor/x.z", "h:1", &FetchOptions::default())
            .await
            .unwrap();
        assert_eq!(got, body);
        assert!(h
            .await
            .unwrap()
            .starts_with(b"GET /tor/x.z HTTP/1.0\r\nHost: h:1\r\n"));

        let (c, _h) = serve_once(b"HTTP/1.0 404 Not found\r\n\r\n".to_vec()).await;
        let e = fetch(c, "/tor/x", "h", &FetchOptions::default())
            .await
            .unwrap_err();
        assert!(
            matches!(&e, DirClientError::Status { code: 404, reason } if reason == "Not found")
        );
        assert_eq!(e.to_string(), "directory server answered 404 Not found");
    }

    #[tokio::test]
    async fn oversized_responses_are_cut_off() {
        let opts = FetchOptions {
            max_body: 1000,
            ..FetchOptions::default()
        };
        let mut r = Response::short(200, "OK");
        r.body = vec![b'a'; 1001];
        let (c, _h) = serve_once(r.to_bytes()).await;
        assert!(matches!(
            fetch(c, "/", "h", &opts).await,
            Err(DirClientError::TooLarge(1000))
        ));
        // A stream that never ends is cut off at the cap, not read forever.
        let (c, _h) = serve_once(vec![b'a'; 60_000]).await;
        assert!(matches!(
            fetch(c, "/", "h", &opts).await,
            Err(DirClientError::TooLarge(1000))
        ));
        // A zip bomb.
        r.headers
            .push(("Content-Encoding".into(), "deflate".into()));
        r.body = http::deflate(&vec![0; 1 << 20]);
        let (c, _h) = serve_once(r.to_bytes()).await;
        assert!(matches!(
            fetch(c, "/", "h", &opts).await,
            Err(DirClientError::TooLarge(1000))
        ));
    }

    #[tokio::test]
    async fn times_out() {
        let (c, _s) = tokio::io::duplex(1024);
        let opts = FetchOptions {
            timeout: Duration::from_millis(100),
            ..FetchOptions::default()
        };
        assert!(matches!(
            fetch(c, "/", "h", &opts).await,
            Err(DirClientError::Timeout)
        ));
    }

    #[test]
    fn host_header_like_ctor() {
        assert_eq!(host_of("1.2.3.4:80".parse().unwrap()), "1.2.3.4");
        assert_eq!(host_of("1.2.3.4:9030".parse().unwrap()), "1.2.3.4:9030");
        assert_eq!(host_of("[::1]:80".parse().unwrap()), "[::1]");
    }
}
