//! `rt::socks` against real SOCKS clients: curl (`--socks5-hostname`, `--socks5`,
//! `--socks4a`, `--socks4`, credentials), PySocks (`python3 -c 'import socks'`) and C tor's
//! `tor-resolve` (RESOLVE and RESOLVE_PTR), plus raw-socket checks of the reply codes
//! (refused connection, bad ATYP, unknown command, UDP ASSOCIATE, resolve failure,
//! ExtendedErrors), the HTTP page, half-close, optimistic data, the handshake timeout, the
//! connection cap and isolation keys that differ by credentials.
//!
//! The handler connects directly over TCP to loopback servers (an echo server and a tiny
//! HTTP server). Every external tool must be installed: a missing one fails the test
//! (curl, tor-resolve from the tor package, python3 with PySocks: `pip install pysocks`).
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::process::Command as Cmd;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oniongate::config::{ListenAddr, SocksPortConfig};
use oniongate::rt::socks::{
    failure_from_io, serve, BoxFuture, ConnectRequest, ResolveRequest, SocksFailure, SocksHandler,
    SocksOptions, SocksStream,
};
use oniongate::socks::client::{greeting, parse_reply5, request5, userpass};
use oniongate::socks::{Command, IsolationKey, ReplyCode, TargetAddr};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

const HTTP_BODY: &str = "hello through the socks port\n";

/// Connects directly; records every request's target and isolation key.
#[derive(Default)]
struct DirectHandler {
    seen: Mutex<Vec<(TargetAddr, IsolationKey)>>,
}

impl DirectHandler {
    fn keys_for(&self, port: u16) -> Vec<IsolationKey> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(t, _)| t.port() == port)
            .map(|(_, k)| k.clone())
            .collect()
    }
}

fn fake_dns() -> HashMap<&'static str, Vec<IpAddr>> {
    HashMap::from([(
        "example.test",
        vec!["2001:db8::5".parse().unwrap(), "192.0.2.5".parse().unwrap()],
    )])
}

impl SocksHandler for DirectHandler {
    fn connect(&self, req: ConnectRequest) -> BoxFuture<'_, Result<SocksStream, SocksFailure>> {
        self.seen
            .lock()
            .unwrap()
            .push((req.target.clone(), req.isolation.clone()));
        Box::pin(async move {
            if req.target.is_onion() {
                return Err(SocksFailure::OnionUnsupported);
            }
            let s = match &req.target {
                TargetAddr::Ip(a) => TcpStream::connect(a).await,
                TargetAddr::Domain(d, _) if d == "hang.test" => std::future::pending().await,
                TargetAddr::Domain(d, p) if d == "localhost" => {
                    TcpStream::connect(("127.0.0.1", *p)).await
                }
                TargetAddr::Domain(..) => return Err(SocksFailure::ResolveFailed),
            };
            match s {
                Ok(s) => Ok(Box::new(s) as SocksStream),
                Err(e) => Err(failure_from_io(&e)),
            }
        })
    }

    fn resolve(&self, req: ResolveRequest) -> BoxFuture<'_, Result<Vec<IpAddr>, SocksFailure>> {
        Box::pin(async move {
            match &req.target {
                TargetAddr::Domain(d, _) => fake_dns()
                    .get(d.as_str())
                    .cloned()
                    .ok_or(SocksFailure::ResolveFailed),
                TargetAddr::Ip(a) => Ok(vec![a.ip()]),
            }
        })
    }

    fn resolve_ptr(&self, req: ResolveRequest) -> BoxFuture<'_, Result<String, SocksFailure>> {
        Box::pin(async move {
            match &req.target {
                TargetAddr::Ip(a) if a.ip() == "192.0.2.5".parse::<IpAddr>().unwrap() => {
                    Ok("example.test".into())
                }
                _ => Err(SocksFailure::ResolveFailed),
            }
        })
    }
}

fn port_config() -> SocksPortConfig {
    SocksPortConfig {
        addr: ListenAddr::Auto { addr: None },
        isolate_client_addr: true,
        isolate_socks_auth: true,
        isolate_client_protocol: true,
        isolate_dest_port: false,
        isolate_dest_addr: false,
        keep_alive_isolate_socks_auth: false,
        session_group: None,
        extended_errors: false,
        onion_traffic_only: false,
    }
}

struct Server {
    addr: SocketAddr,
    handler: Arc<DirectHandler>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    async fn start(options: SocksOptions) -> Server {
        let listener = oniongate::rt::socks::bind(&options.port).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let handler = Arc::new(DirectHandler::default());
        let (stop, rx) = watch::channel(false);
        let h: Arc<dyn SocksHandler> = handler.clone();
        let task = tokio::spawn(serve(listener, h, options, rx));
        Server {
            addr,
            handler,
            stop,
            task,
        }
    }

    async fn default() -> Server {
        Server::start(SocksOptions::new(port_config(), 0)).await
    }

    async fn stop(self) {
        self.stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("serve stops on shutdown")
            .unwrap()
            .unwrap();
    }
}

/// An echo server: echoes until EOF, then closes its side.
async fn echo_server() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = s.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
                let _ = w.shutdown().await;
            });
        }
    });
    port
}

/// A minimal HTTP/1.0 server answering every request with [`HTTP_BODY`].
async fn http_server() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut req = Vec::new();
                let mut b = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut b).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => req.extend_from_slice(&b[..n]),
                    }
                }
                let resp = format!(
                    "HTTP/1.0 200 OK\r\nContent-Length: {}\r\nContent-Type: text/plain\r\n\r\n{HTTP_BODY}",
                    HTTP_BODY.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
                let _ = s.shutdown().await;
            });
        }
    });
    port
}

/// Runs an external tool; a missing tool fails the test with what to install.
async fn tool(program: &str, args: Vec<String>, install: &str) -> std::process::Output {
    let p = program.to_owned();
    let a = args.clone();
    let out = tokio::task::spawn_blocking(move || Cmd::new(&p).args(&a).output())
        .await
        .unwrap();
    match out {
        Ok(o) => o,
        Err(e) => panic!("cannot run {program} ({e}): install it ({install})"),
    }
}

async fn curl(args: &[&str]) -> (String, String, Option<i32>) {
    let mut a: Vec<String> = vec!["-sS".into(), "--max-time".into(), "20".into()];
    a.extend(args.iter().map(|s| s.to_string()));
    let o = tool("curl", a, "apt-get install curl").await;
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        o.status.code(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_through_socks5_socks4a_socks4() {
    let srv = Server::default().await;
    let http = http_server().await;
    let proxy = srv.addr.to_string();
    let cases = [
        ("--socks5-hostname", format!("http://localhost:{http}/")),
        ("--socks5", format!("http://127.0.0.1:{http}/")),
        ("--socks4a", format!("http://localhost:{http}/")),
        ("--socks4", format!("http://127.0.0.1:{http}/")),
    ];
    for (flag, url) in &cases {
        let (out, err, code) = curl(&[flag, &proxy, url]).await;
        assert_eq!(code, Some(0), "curl {flag}: {err}");
        assert_eq!(out, HTTP_BODY, "curl {flag}");
    }
    let seen: Vec<TargetAddr> = srv
        .handler
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|(t, _)| t.clone())
        .collect();
    let dom = TargetAddr::Domain("localhost".into(), http);
    let ip = TargetAddr::Ip(SocketAddr::from(([127, 0, 0, 1], http)));
    assert_eq!(seen, vec![dom.clone(), ip.clone(), dom, ip]);
    // SOCKS4 and SOCKS5 are different client protocols (IsolateClientProtocol).
    let keys = srv.handler.keys_for(http);
    assert_eq!(keys[0], keys[1]);
    assert_eq!(keys[2], keys[3]);
    assert_ne!(keys[0], keys[2]);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn isolation_keys_differ_by_credentials() {
    let srv = Server::default().await;
    let http = http_server().await;
    let p = srv.addr.port();
    for creds in ["alice:one", "bob:two", "alice:one", "alice:two"] {
        let proxy = format!("socks5h://{creds}@127.0.0.1:{p}");
        let (out, err, code) = curl(&["-x", &proxy, &format!("http://localhost:{http}/")]).await;
        assert_eq!((out.as_str(), code), (HTTP_BODY, Some(0)), "{err}");
    }
    let (out, _, _) = curl(&[
        "-x",
        &format!("socks5h://127.0.0.1:{p}"),
        &format!("http://localhost:{http}/"),
    ])
    .await;
    assert_eq!(out, HTTP_BODY);
    let k = srv.handler.keys_for(http);
    assert_eq!(k.len(), 5);
    assert_eq!(k[0], k[2], "same credentials, same key");
    assert_ne!(k[0], k[1]);
    assert_ne!(k[0], k[3], "password counts");
    assert_ne!(k[0], k[4], "no credentials differ from some");
    assert!(k[0].auth.is_some() && k[1].auth.is_some());
    srv.stop().await;
}

const PYSOCKS: &str = r#"
import socks, sys
proxy_port, echo_port = int(sys.argv[1]), int(sys.argv[2])
for version, rdns, host in [(socks.SOCKS5, True, "localhost"), (socks.SOCKS5, False, "127.0.0.1"),
                            (socks.SOCKS4, True, "localhost"), (socks.SOCKS4, False, "127.0.0.1")]:
    s = socks.socksocket()
    s.settimeout(20)
    s.set_proxy(version, "127.0.0.1", proxy_port, rdns=rdns, username="py", password="pw")
    s.connect((host, echo_port))
    msg = b"ping %d %s" % (version, str(rdns).encode())
    s.sendall(msg)
    got = b""
    while len(got) < len(msg):
        chunk = s.recv(100)
        if not chunk:
            break
        got += chunk
    assert got == msg, (got, msg)
    s.close()
try:
    s = socks.socksocket()
    s.settimeout(20)
    s.set_proxy(socks.SOCKS5, "127.0.0.1", proxy_port)
    s.connect(("unknown.invalid", 80))
    print("unexpected success")
    sys.exit(1)
except socks.GeneralProxyError as e:
    print("refused:", e)
print("ok")
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pysocks_socks5_and_socks4() {
    let srv = Server::default().await;
    let echo = echo_server().await;
    let o = tool(
        "python3",
        vec![
            "-c".into(),
            PYSOCKS.into(),
            srv.addr.port().to_string(),
            echo.to_string(),
        ],
        "python3 and PySocks: pip install pysocks",
    )
    .await;
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.success(),
        "PySocks failed (is it installed? `pip install pysocks`): {out}{err}"
    );
    assert!(out.contains("Host unreachable"), "{out}");
    assert!(out.ends_with("ok\n"), "{out}");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tor_resolve_resolve_and_ptr() {
    let srv = Server::default().await;
    let port = srv.addr.port().to_string();
    let run = |args: &[&str]| {
        let mut a: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        a.extend(["-p".to_string(), port.clone()]);
        // Options before the hostname.
        a.rotate_right(2);
        tool("tor-resolve", a, "the tor package: apt-get install tor")
    };
    for version in ["-5", "-4"] {
        let o = run(&[version, "example.test"]).await;
        assert!(o.status.success(), "{version}: {o:?}");
        assert_eq!(
            String::from_utf8_lossy(&o.stdout).trim(),
            "192.0.2.5",
            "{version}"
        );
        let o = run(&[version, "nothing.invalid"]).await;
        assert!(!o.status.success(), "{version}: unknown name must fail");
    }
    let o = run(&["-5", "-x", "192.0.2.5"]).await;
    assert!(o.status.success(), "{o:?}");
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "example.test");
    let o = run(&["-5", "-x", "198.51.100.1"]).await;
    assert!(!o.status.success());
    srv.stop().await;
}

/// Greets with no-auth and sends `request`; returns the final reply's code and whatever
/// followed it until the server closed.
async fn raw5(addr: SocketAddr, request: &[u8]) -> (ReplyCode, Vec<u8>) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&greeting(&[0])).await.unwrap();
    let mut m = [0u8; 2];
    s.read_exact(&mut m).await.unwrap();
    assert_eq!(m, [5, 0]);
    s.write_all(request).await.unwrap();
    let mut all = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut all))
        .await
        .expect("server closes")
        .unwrap();
    let (reply, n) = parse_reply5(&all).unwrap().expect("a whole reply");
    (reply.code, all[n..].to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reply_codes_on_the_wire() {
    let srv = Server::default().await;
    // Nothing listens on a port we just freed: connection refused (0x05).
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let connect = |t: TargetAddr| request5(Command::Connect, &t);
    let (code, _) = raw5(srv.addr, &connect(TargetAddr::Ip(closed))).await;
    assert_eq!(code, ReplyCode::CONNECTION_REFUSED);
    // Bad ATYP (0x08), unknown command (0x07), BIND (0x07), UDP ASSOCIATE (0x07 for now).
    assert_eq!(
        raw5(srv.addr, &[5, 1, 0, 9, 1, 2, 3, 4, 0, 80]).await.0,
        ReplyCode::ADDRESS_TYPE_NOT_SUPPORTED
    );
    assert_eq!(
        raw5(srv.addr, &[5, 0x42, 0, 1, 1, 2, 3, 4, 0, 80]).await.0,
        ReplyCode::COMMAND_NOT_SUPPORTED
    );
    assert_eq!(
        raw5(srv.addr, &[5, 2, 0, 1, 1, 2, 3, 4, 0, 80]).await.0,
        ReplyCode::COMMAND_NOT_SUPPORTED
    );
    assert_eq!(
        raw5(srv.addr, &[5, 3, 0, 1, 0, 0, 0, 0, 0, 0]).await.0,
        ReplyCode::COMMAND_NOT_SUPPORTED
    );
    // Malformed hostname: general failure, as C tor.
    assert_eq!(
        raw5(srv.addr, &[5, 1, 0, 3, 3, b'a', b' ', b'b', 0, 80])
            .await
            .0,
        ReplyCode::GENERAL_FAILURE
    );
    // The handler's failures.
    let unknown = TargetAddr::Domain("nowhere.example".into(), 80);
    assert_eq!(
        raw5(srv.addr, &connect(unknown)).await.0,
        ReplyCode::HOST_UNREACHABLE
    );
    let onion = TargetAddr::Domain("abcdefghijklmnop.onion".into(), 80);
    assert_eq!(
        raw5(srv.addr, &connect(onion.clone())).await.0,
        ReplyCode::HOST_UNREACHABLE
    );
    let unknown = TargetAddr::Domain("nowhere.example".into(), 0);
    assert_eq!(
        raw5(srv.addr, &request5(Command::Resolve, &unknown))
            .await
            .0,
        ReplyCode::HOST_UNREACHABLE
    );
    // RESOLVE of a literal is answered without the handler.
    let lit = TargetAddr::Ip("203.0.113.9:0".parse().unwrap());
    let mut s = TcpStream::connect(srv.addr).await.unwrap();
    s.write_all(&[greeting(&[0]), request5(Command::Resolve, &lit)].concat())
        .await
        .unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).await.unwrap();
    assert_eq!(all, [5, 0, 5, 0, 0, 1, 203, 0, 113, 9, 0, 0]);
    srv.stop().await;

    // ExtendedErrors: the onion failure becomes 0xF0.
    let mut cfg = port_config();
    cfg.extended_errors = true;
    let srv = Server::start(SocksOptions::new(cfg, 1)).await;
    assert_eq!(
        raw5(srv.addr, &connect(onion)).await.0,
        ReplyCode::HS_NOT_FOUND
    );
    srv.stop().await;

    // OnionTrafficOnly refuses other destinations: not allowed (0x02).
    let mut cfg = port_config();
    cfg.onion_traffic_only = true;
    let srv = Server::start(SocksOptions::new(cfg, 2)).await;
    let lo = TargetAddr::Ip(closed);
    assert_eq!(raw5(srv.addr, &connect(lo)).await.0, ReplyCode::NOT_ALLOWED);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_request_gets_the_page() {
    let srv = Server::default().await;
    let mut s = TcpStream::connect(srv.addr).await.unwrap();
    s.write_all(b"GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n")
        .await
        .unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).await.unwrap();
    let text = String::from_utf8(all).unwrap();
    assert!(text.starts_with("HTTP/1.0 501 "), "{text}");
    assert!(text.contains("This is a SOCKS proxy, not an HTTP proxy"));
    // curl used as an HTTP proxy client sees the 501 too.
    let (out, _, code) = curl(&[
        "-x",
        &format!("http://{}", srv.addr),
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "http://example.com/",
    ])
    .await;
    assert_eq!((out.as_str(), code), ("501", Some(0)));
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_close_optimistic_data_and_auth_bytes_at_once() {
    let srv = Server::default().await;
    let echo = echo_server().await;
    let mut s = TcpStream::connect(srv.addr).await.unwrap();
    let target = TargetAddr::Domain("localhost".into(), echo);
    // Everything in one write: greeting, credentials, request and optimistic data.
    let first = [
        greeting(&[0, 2]),
        userpass(b"u", b"p"),
        request5(Command::Connect, &target),
        b"early ".to_vec(),
    ]
    .concat();
    s.write_all(&first).await.unwrap();
    let mut head = [0u8; 4 + 10];
    s.read_exact(&mut head).await.unwrap();
    assert_eq!(head[..4], [5, 2, 1, 0]);
    assert_eq!(head[4..6], [5, 0]);
    s.write_all(b"late").await.unwrap();
    s.shutdown().await.unwrap(); // half-close: the echo must still come back
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut rest))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rest, b"early late");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_handshake_times_out_and_connections_are_capped() {
    let mut opts = SocksOptions::new(port_config(), 0);
    opts.handshake_timeout = Duration::from_millis(500);
    opts.max_connections = 1;
    let srv = Server::start(opts).await;
    let echo = echo_server().await;

    // Slowloris: one byte, then silence: closed after the timeout.
    let mut slow = TcpStream::connect(srv.addr).await.unwrap();
    slow.write_all(&[5]).await.unwrap();
    let mut b = Vec::new();
    let n = tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut b))
        .await
        .expect("closed by the handshake timeout")
        .unwrap();
    assert_eq!(n, 0);

    // One open stream holds the only slot: a second client is not served until it ends.
    let mut a = TcpStream::connect(srv.addr).await.unwrap();
    let target = TargetAddr::Ip(SocketAddr::from(([127, 0, 0, 1], echo)));
    a.write_all(&[greeting(&[0]), request5(Command::Connect, &target)].concat())
        .await
        .unwrap();
    let mut r = [0u8; 12];
    a.read_exact(&mut r).await.unwrap();
    assert_eq!(r[..3], [5, 0, 5]);
    assert_eq!(r[3], 0);
    let mut b = TcpStream::connect(srv.addr).await.unwrap();
    b.write_all(&greeting(&[0])).await.unwrap();
    let mut m = [0u8; 2];
    assert!(
        tokio::time::timeout(Duration::from_millis(300), b.read_exact(&mut m))
            .await
            .is_err(),
        "second connection served beyond the cap"
    );
    drop(a);
    tokio::time::timeout(Duration::from_secs(5), b.read_exact(&mut m))
        .await
        .expect("served once the slot frees")
        .unwrap();
    assert_eq!(m, [5, 0]);

    // A client that hangs up while its stream is opening frees the slot at once (the
    // handler's future is dropped), even though the handler would never answer.
    let hang = TargetAddr::Domain("hang.test".into(), 80);
    b.write_all(&request5(Command::Connect, &hang))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(b);
    let mut c = TcpStream::connect(srv.addr).await.unwrap();
    c.write_all(&greeting(&[0])).await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), c.read_exact(&mut m))
        .await
        .expect("slot freed when the client left")
        .unwrap();
    assert_eq!(m, [5, 0]);
    srv.stop().await;
}
