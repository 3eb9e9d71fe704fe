//! Serving directory requests: one HTTP request per connection, on a DirPort (TCP) or on
//! a BEGIN_DIR stream (any `AsyncRead + AsyncWrite`), answered from a
//! [`DirSource`] with [`crate::dir::serve::answer_with`].
//!
//! As C tor (`directory_handle_command`, `connection_dir_finished_flushing`): read until a
//! whole request is here, write the response, close. Headers over 50,000 bytes, a body
//! over the upload cap, or a method other than GET/POST close the connection without an
//! answer; other malformed requests get `400 Bad request`. Every connection has one
//! deadline for reading the request and writing the answer. Answers are computed on the
//! blocking pool (they may compress megabytes).
//!
//! Not here: bandwidth accounting and `503 Directory busy` decisions (a source may answer
//! them), HTTP proxies.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::dir::http::{self, HttpError};
use crate::dir::serve::{self, AnswerContext, DirSource};

/// Limits for serving.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Deadline for reading the request and writing the whole answer.
    pub timeout: Duration,
    /// The largest POST body accepted (C tor's `MAX_DIR_UL_SIZE`).
    pub max_upload: usize,
    /// DirPort connections served at once; more wait in the accept queue.
    pub max_connections: usize,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            timeout: Duration::from_secs(120),
            max_upload: http::MAX_DIR_UL_SIZE,
            max_connections: 256,
        }
    }
}

/// Why a connection was closed without a complete exchange.
#[derive(Debug, thiserror::Error)]
pub enum DirServeError {
    /// Reading or writing failed.
    #[error("directory connection: {0}")]
    Io(#[from] std::io::Error),
    /// The deadline passed.
    #[error("directory request timed out")]
    Timeout,
    /// The peer closed before sending a whole request.
    #[error("connection closed before a whole request arrived")]
    Incomplete,
    /// The request was refused without an answer (too large, unknown method).
    #[error("request refused: {0}")]
    Refused(HttpError),
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Serves one request on `io` and closes it. `peer` is the client's address on a direct
/// connection (for `X-Your-Address-Is`), `None` on a BEGIN_DIR stream.
pub async fn serve_stream<S>(
    io: S,
    source: Arc<dyn DirSource>,
    peer: Option<IpAddr>,
    opts: &ServeOptions,
) -> Result<(), DirServeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match tokio::time::timeout(opts.timeout, serve_inner(io, source, peer, opts.max_upload)).await {
        Ok(r) => r,
        Err(_) => Err(DirServeError::Timeout),
    }
}

async fn serve_inner<S>(
    mut io: S,
    source: Arc<dyn DirSource>,
    peer: Option<IpAddr>,
    max_upload: usize,
) -> Result<(), DirServeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = vec![0u8; 8192];
    let parsed = loop {
        match http::parse_request(&buf, max_upload) {
            Ok(Some((req, _))) => break Ok(req),
            Ok(None) => {}
            Err(
                e @ (HttpError::HeadersTooLarge
                | HttpError::BodyTooLarge(_)
                | HttpError::BadMethod(_)),
            ) => {
                tracing::debug!(error = %e, "refusing directory request");
                return Err(DirServeError::Refused(e));
            }
            Err(e) => break Err(e),
        }
        let n = io.read(&mut chunk).await?;
        if n == 0 {
            return Err(DirServeError::Incomplete);
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    };
    drop(chunk);
    let now = now_unix();
    let response = match parsed {
        Ok(req) => {
            tracing::debug!(method = req.method.as_str(), path = %req.path, "directory request");
            let ctx = AnswerContext {
                now: Some(now),
                peer,
            };
            tokio::task::spawn_blocking(move || serve::answer_with(&*source, &req, &ctx))
                .await
                .unwrap_or_else(|_| serve::short_response(500, "Internal error", Some(now)))
        }
        Err(e) => {
            tracing::debug!(error = %e, "bad directory request");
            serve::short_response(400, "Bad request", Some(now))
        }
    };
    io.write_all(&response).await?;
    io.flush().await?;
    io.shutdown().await?;
    Ok(())
}

/// Serves a DirPort: accepts connections and serves one request on each, at most
/// `opts.max_connections` at once. Runs until dropped (dropping it aborts the
/// connections it is serving).
pub async fn run_dirport(listener: TcpListener, source: Arc<dyn DirSource>, opts: ServeOptions) {
    let limit = Arc::new(Semaphore::new(opts.max_connections.max(1)));
    let opts = Arc::new(opts);
    let mut conns = JoinSet::new();
    loop {
        let Ok(permit) = limit.clone().acquire_owned().await else {
            return;
        };
        let accepted = tokio::select! {
            a = listener.accept() => a,
            Some(_) = conns.join_next(), if !conns.is_empty() => continue,
        };
        let (tcp, addr): (_, SocketAddr) = match accepted {
            Ok(x) => x,
            Err(e) => {
                tracing::debug!(error = %e, "DirPort accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let (source, opts) = (source.clone(), opts.clone());
        conns.spawn(async move {
            let _permit = permit;
            if let Err(e) = serve_stream(tcp, source, Some(addr.ip()), &opts).await {
                tracing::debug!(error = %e, "DirPort connection ended");
            }
        });
        // Reap finished connections so the set does not grow.
        while conns.try_join_next().is_some() {}
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::dir::serve::{DirAnswer, DirRequest};

    struct Src;
    impl DirSource for Src {
        fn get(&self, req: &DirRequest) -> DirAnswer {
            match req {
                DirRequest::ServerAuthority => DirAnswer::document(&b"router me\n"[..], 0),
                _ => DirAnswer::not_found(),
            }
        }
        fn upload(&self, body: &[u8]) -> DirAnswer {
            DirAnswer::status(200, &format!("got {} bytes", body.len()))
        }
    }

    async fn exchange(input: &[u8], opts: ServeOptions) -> (Vec<u8>, Result<(), DirServeError>) {
        let (mut client, server) = tokio::io::duplex(1 << 16);
        let task =
            tokio::spawn(async move { serve_stream(server, Arc::new(Src), None, &opts).await });
        client.write_all(input).await.unwrap();
        let mut out = Vec::new();
        let _ = client.read_to_end(&mut out).await;
        (out, task.await.unwrap())
    }

    #[tokio::test]
    async fn serves_one_request_then_closes() {
        let req = http::Request::get("/tor/server/authority.z", "x").to_bytes();
        let (out, r) = exchange(&req, ServeOptions::default()).await;
        r.unwrap();
        let resp = http::parse_response(&out, 1000).unwrap();
        assert_eq!(
            (resp.status, resp.body.as_slice()),
            (200, &b"router me\n"[..])
        );
        assert!(resp.header("Date").is_some());
        let req = http::Request::post("/tor/", "x", vec![7; 5000]).to_bytes();
        let (out, _) = exchange(&req, ServeOptions::default()).await;
        assert!(out.starts_with(b"HTTP/1.0 200 got 5000 bytes\r\n"));
    }

    #[tokio::test]
    async fn refuses_and_times_out() {
        let opts = ServeOptions {
            max_upload: 100,
            ..ServeOptions::default()
        };
        let req = http::Request::post("/tor/", "x", vec![7; 101]).to_bytes();
        let (out, r) = exchange(&req, opts).await;
        assert!(out.is_empty());
        assert!(matches!(
            r,
            Err(DirServeError::Refused(HttpError::BodyTooLarge(100)))
        ));
        let (out, _) = exchange(b"GET /tor/ HTTP/1.0 junk\r\n\r\n", ServeOptions::default()).await;
        assert!(out.starts_with(b"HTTP/1.0 400 Bad request\r\n"));
        let opts = ServeOptions {
            timeout: Duration::from_millis(200),
            ..ServeOptions::default()
        };
        let (client, server) = tokio::io::duplex(1024);
        let r = serve_stream(server, Arc::new(Src), None, &opts).await;
        assert!(matches!(r, Err(DirServeError::Timeout)));
        drop(client);
    }
}
