//! Directory HTTP end to end with our relay: BEGIN_DIR streams answered from a test
//! `DirSource` to our client's `Circuit::begin_dir()` (one hop and at the end of two hops),
//! the relay's DirPort read with `rt::dirclient`, a raw `TcpStream` and `curl`; large
//! documents through the stream windows; oversized answers cut off; uploads; and a relay
//! without a source answering END NOTDIRECTORY.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used)]

mod common;
mod relay_support;

use std::sync::Arc;
use std::time::Duration;

use common::ctor::TempDir;
use oniongate::client::HandshakeKind::{Ntor, NtorV3};
use oniongate::config::{merge, parse_torrc, Daemon, DaemonConfig, RelayConfig};
use oniongate::dir::http;
use oniongate::dir::serve::{DirAnswer, DirRequest, DirSource};
use oniongate::relaycell::EndReason;
use oniongate::rt::client::{Circuit, ClientChannel, Error};
use oniongate::rt::dirclient::{self, DirClientError, FetchOptions};
use oniongate::rt::relay::{Relay, RelayHandle, RelayOptions};
use relay_support::Hop;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A big document: 3 MiB of pseudo-descriptor lines.
fn big() -> Vec<u8> {
    (0..60_000u32)
        .map(|i| format!("router r{i:08} 10.0.0.1 9001 0 0 padpadpadpadpad\n"))
        .collect::<String>()
        .into_bytes()
}

struct Source;
impl DirSource for Source {
    fn get(&self, req: &DirRequest) -> DirAnswer {
        match req {
            DirRequest::ServerAuthority => {
                DirAnswer::document(&b"router test 127.0.0.1 1 0 0\n"[..], 0)
            }
            DirRequest::ServerAll => DirAnswer::document(big(), 3600),
            DirRequest::Micro(d) => {
                DirAnswer::document(format!("{} digests\n", d.len()).into_bytes(), 60)
            }
            _ => DirAnswer::not_found(),
        }
    }
    fn upload(&self, body: &[u8]) -> DirAnswer {
        if body.starts_with(b"router ") {
            DirAnswer::status(200, "Descriptor accepted")
        } else {
            DirAnswer::status(400, "Looks like your descriptor is malformed")
        }
    }
}

fn config(dir: &TempDir, name: &str, dir_port: bool) -> RelayConfig {
    let mut text = format!(
        "Nickname {name}\nORPort 127.0.0.1:auto\nDataDirectory {}\n",
        dir.path().join(name).display()
    );
    if dir_port {
        text.push_str("DirPort 127.0.0.1:auto\n");
    }
    let entries = parse_torrc(&text, "test").unwrap();
    RelayConfig::from_entries(&merge(Daemon::Relay, &[&entries]).unwrap()).unwrap()
}

async fn start(dir: &TempDir, name: &str, source: Option<Arc<dyn DirSource>>) -> RelayHandle {
    let opts = RelayOptions {
        extend_allow_private: Some(true),
        dir_source: source,
        ..RelayOptions::default()
    };
    Relay::start_with(config(dir, name, true), opts)
        .await
        .unwrap()
}

async fn circuit(hops: &[&RelayHandle]) -> Circuit {
    let hops: Vec<Hop> = hops.iter().map(|r| Hop::ours(r)).collect();
    let chan = ClientChannel::connect(hops[0].addr, None).await.unwrap();
    let targets: Vec<_> = hops
        .iter()
        .enumerate()
        .map(|(i, h)| h.target(if i % 2 == 0 { Ntor } else { NtorV3 }))
        .collect();
    Circuit::build(&chan, &targets).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn begin_dir_and_dirport() {
    let dir = TempDir::new("dir-http");
    let src: Arc<dyn DirSource> = Arc::new(Source);
    let (r1, r2) = tokio::join!(
        start(&dir, "d1", Some(src.clone())),
        start(&dir, "d2", Some(src))
    );
    let opts = FetchOptions::default();

    // One hop: BEGIN_DIR to the first relay, with and without .z.
    let c1 = circuit(&[&r1]).await;
    for path in ["/tor/server/authority", "/tor/server/authority.z"] {
        let body = dirclient::fetch_begin_dir(&c1, path, &opts).await.unwrap();
        assert_eq!(body, b"router test 127.0.0.1 1 0 0\n", "{path}");
    }
    let d = oniongate::dir::doc::token::b64_nopad(&[9; 32]);
    let body = dirclient::fetch_begin_dir(&c1, &format!("/tor/micro/d/{d}-{d}.z"), &opts)
        .await
        .unwrap();
    assert_eq!(body, b"1 digests\n");
    let e = dirclient::fetch_begin_dir(&c1, "/tor/keys/all.z", &opts)
        .await
        .unwrap_err();
    assert!(matches!(e, DirClientError::Status { code: 404, .. }), "{e}");
    // Uploads over BEGIN_DIR: accepted, and rejected with the reason in the status line.
    let r = dirclient::post_begin_dir(&c1, "/tor/", b"router x\n".to_vec(), &opts)
        .await
        .unwrap();
    assert_eq!(r.reason, "Descriptor accepted");
    let e = dirclient::post_begin_dir(&c1, "/tor/", b"junk".to_vec(), &opts)
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "directory server answered 400 Looks like your descriptor is malformed"
    );

    // Two hops: BEGIN_DIR at the last one; a 3 MiB document through the windows, both
    // compressed and not; several at once on one circuit.
    let c2 = circuit(&[&r1, &r2]).await;
    let want = big();
    let (a, b) = tokio::join!(
        dirclient::fetch_begin_dir(&c2, "/tor/server/all.z", &opts),
        dirclient::fetch_begin_dir(&c2, "/tor/server/all", &opts),
    );
    assert!(a.unwrap() == want && b.unwrap() == want);
    // An answer over the cap is cut off with an error.
    let small = FetchOptions {
        max_body: 1 << 20,
        ..FetchOptions::default()
    };
    for path in ["/tor/server/all", "/tor/server/all.z"] {
        let e = dirclient::fetch_begin_dir(&c2, path, &small)
            .await
            .unwrap_err();
        assert!(matches!(e, DirClientError::TooLarge(_)), "{path}: {e}");
    }
    // The circuit still works afterwards.
    let body = dirclient::fetch_begin_dir(&c2, "/tor/server/authority.z", &opts)
        .await
        .unwrap();
    assert!(body.starts_with(b"router test"));

    // The DirPort: rt::dirclient, a raw request, curl.
    let dp = r1.dir_addrs()[0];
    let body = dirclient::fetch_tcp(dp, "/tor/server/authority.z", &opts)
        .await
        .unwrap();
    assert!(body.starts_with(b"router test"));
    assert_eq!(
        dirclient::fetch_tcp(dp, "/tor/server/all.z", &opts)
            .await
            .unwrap(),
        want
    );
    let mut tcp = tokio::net::TcpStream::connect(dp).await.unwrap();
    tcp.write_all(b"GET /tor/server/authority HTTP/1.0\r\n\r\n")
        .await
        .unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut raw))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8(raw).unwrap();
    assert!(text.starts_with("HTTP/1.0 200 OK\r\nDate: "), "{text}");
    assert!(
        text.contains("\r\nContent-Encoding: identity\r\n"),
        "{text}"
    );
    assert!(
        text.ends_with("\r\n\r\nrouter test 127.0.0.1 1 0 0\n"),
        "{text}"
    );
    let out = tokio::process::Command::new("curl")
        .args(["-sS", "--compressed", "--http1.0", "-D", "-"])
        .arg(format!("http://{dp}/tor/server/authority.z"))
        .output()
        .await
        .expect("curl is installed");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("Content-Encoding: deflate"), "{text}");
    assert!(text.ends_with("router test 127.0.0.1 1 0 0\n"), "{text}");
    let out = tokio::process::Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}"])
        .arg(format!("http://{dp}/tor/nothing"))
        .output()
        .await
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "404");
    let r = dirclient::post_tcp(dp, "/tor/", b"router y\n".to_vec(), &opts)
        .await
        .unwrap();
    assert_eq!(r.status, 200);

    c1.close();
    c2.close();
    assert_eq!(r1.shutdown().await, 0);
    assert_eq!(r2.shutdown().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_source_begin_dir_is_refused() {
    let dir = TempDir::new("dir-http-none");
    let r = start(&dir, "nodir", None).await;
    assert!(r.dir_addrs().is_empty(), "no DirPort without a source");
    let c = circuit(&[&r]).await;
    match c.begin_dir().await {
        Err(Error::StreamEnded(reason)) => assert_eq!(reason, EndReason::NOTDIRECTORY),
        other => panic!("expected END NOTDIRECTORY, got {other:?}"),
    }
    let _ = http::MAX_HEADERS_SIZE;
    c.close();
    assert_eq!(r.shutdown().await, 0);
}
