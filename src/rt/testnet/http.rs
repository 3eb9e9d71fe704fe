//! The optional loopback HTTP server of the local test network: every request gets
//! [`HTTP_BODY`] (HTTP/1.0, then close), so the launcher's example `curl` works as printed.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

/// The page the optional loopback HTTP server answers every request with.
pub const HTTP_BODY: &[u8] = b"Hello from the Oniongate local test network!\n";

/// Starts the loopback HTTP server; port 0 picks a free one.
pub(super) async fn start_http(port: u16) -> std::io::Result<(SocketAddr, watch::Sender<bool>)> {
    let l = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
    let addr = l.local_addr()?;
    let (tx, mut rx) = watch::channel(false);
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = rx.changed() => return,
                a = l.accept() => {
                    if let Ok((s, _)) = a {
                        tokio::spawn(answer_http(s));
                    }
                }
            }
        }
    });
    Ok((addr, tx))
}

/// Reads a request head (up to 16 KiB, 10 s) and answers [`HTTP_BODY`].
async fn answer_http(mut s: tokio::net::TcpStream) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    let read = async {
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
            }
        }
    };
    if tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .is_err()
    {
        return;
    }
    let head = format!(
        "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        HTTP_BODY.len()
    );
    let _ = s.write_all(head.as_bytes()).await;
    let _ = s.write_all(HTTP_BODY).await;
    let _ = s.shutdown().await;
}
