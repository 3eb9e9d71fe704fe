//! Our Tor client ([`oniongate::rt::tor_client::TorClient`]) in a private network of stock
//! C tor 0.4.9 (`tests/common/ctornet.rs`: 1 authority, 3 relays of which 1 exit):
//! it bootstraps from the C tor authority (consensus, authority certificate and
//! microdescriptors fetched over one-hop BEGIN_DIR circuits), logs `Bootstrapped 100%
//! (done): Done` at notice level, and fetches a page from a loopback HTTP server through a
//! C tor exit via its own SOCKS5 port. Restarted on the same DataDirectory, it loads the
//! cached consensus, certificates and microdescriptors, reaches 100 % without fetching a
//! consensus, and fetches the page again. The guard state file is written. Streams with
//! different SOCKS credentials use different circuits (IsolateSOCKSAuth).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::ctor::TempDir;
use common::ctornet::{CTorNet, HttpServer};
use common::ctornet_io::{socks5_connect, socks5_http_get};
use oniongate::config::{merge, parse_torrc, ClientConfig, Daemon, DaemonConfig};
use oniongate::rt::tor_client::TorClient;

fn client_config(net: &CTorNet, dir: &TempDir) -> ClientConfig {
    let mut text = format!(
        "DataDirectory {}\nTestingTorNetwork 1\nSocksPort 127.0.0.1:auto\nLog notice file {}\n",
        dir.path().join("data").display(),
        dir.path().join("notice.log").display()
    );
    for l in net.dir_authority_lines() {
        text.push_str(&l);
        text.push('\n');
    }
    let entries = parse_torrc(&text, "test").unwrap();
    let merged = merge(Daemon::Client, &[&entries]).unwrap();
    ClientConfig::from_entries(&merged).unwrap()
}

/// Fetches the page through the SOCKS port, retrying a little (a C tor exit refuses streams
/// until it has its own descriptor).
fn fetch_page(socks: std::net::SocketAddr, page: &HttpServer) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        match socks5_http_get(
            socks,
            "127.0.0.1",
            page.addr.port(),
            "/",
            Duration::from_secs(20),
        ) {
            Ok((200, body)) => return body,
            Ok((status, _)) if Instant::now() > deadline => panic!("HTTP {status}"),
            Err(e) if Instant::now() > deadline => panic!("SOCKS fetch: {e:?}"),
            _ => std::thread::sleep(Duration::from_millis(500)),
        }
    }
}

/// GET / from 127.0.0.1:`port` through SOCKS5 with username/password authentication.
fn socks5_get_auth(socks: std::net::SocketAddr, user: &str, pass: &str, port: u16) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(socks).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(&[5, 1, 2]).unwrap();
    let mut m = [0u8; 2];
    s.read_exact(&mut m).unwrap();
    assert_eq!(m, [5, 2], "username/password chosen");
    let mut auth = vec![1, user.len() as u8];
    auth.extend_from_slice(user.as_bytes());
    auth.push(pass.len() as u8);
    auth.extend_from_slice(pass.as_bytes());
    s.write_all(&auth).unwrap();
    s.read_exact(&mut m).unwrap();
    assert_eq!(m, [1, 0], "credentials accepted");
    let mut req = vec![5, 1, 0, 1, 127, 0, 0, 1];
    req.extend_from_slice(&port.to_be_bytes());
    s.write_all(&req).unwrap();
    let mut reply = [0u8; 10];
    s.read_exact(&mut reply).unwrap();
    assert_eq!(reply[1], 0, "CONNECT succeeded");
    s.write_all(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let at = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    raw.split_off(at + 4)
}

#[test]
fn bootstrap_from_ctor_fetch_through_ctor_exit_and_restart_from_cache() {
    let page = HttpServer::start(b"hello through oniongate\n".to_vec());
    let net = CTorNet::builder()
        .authorities(1)
        .relays(3)
        .exits(1)
        .client(false)
        .start();
    net.prepare_for_clients(Duration::from_secs(60)).unwrap();
    let dir = TempDir::new("client-bootstrap");
    let config = client_config(&net, &dir);
    oniongate::rt::init_logging(&config.common.logs).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    // First run: from nothing.
    let t0 = Instant::now();
    let fetches = rt.block_on(async {
        let client = TorClient::start(config.clone()).await.unwrap();
        tokio::time::timeout(Duration::from_secs(90), client.bootstrapped())
            .await
            .unwrap_or_else(|_| panic!("no bootstrap in 90 s: {:?}", *client.progress().borrow()));
        eprintln!("first run: bootstrapped in {:.1?}", t0.elapsed());
        let socks = client.serve_socks(&config.socks_ports).await.unwrap();
        let page_ref = &page;
        let body = tokio::task::block_in_place(|| fetch_page(socks[0], page_ref));
        assert_eq!(body, b"hello through oniongate\n");
        // A refused connection at the exit surfaces as a SOCKS error (the exit's END
        // reason mapped to a reply code), not a hang.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let closed_port = closed.local_addr().unwrap().port();
        drop(closed);
        let err = tokio::task::block_in_place(|| {
            socks5_connect(socks[0], "127.0.0.1", closed_port, Duration::from_secs(30))
        })
        .expect_err("CONNECT to a closed port fails");
        assert!(err.0.contains("reply code"), "{err:?}");
        eprintln!("closed port: {}", err.0);
        // Stream isolation (IsolateSOCKSAuth, on by default): other credentials, another
        // circuit; the same credentials again, the same circuit.
        let before = client.circuits().counts().1;
        let port = page.addr.port();
        for (user, pass) in [("alice", "1"), ("bob", "2"), ("alice", "1")] {
            let body = tokio::task::block_in_place(|| socks5_get_auth(socks[0], user, pass, port));
            assert_eq!(body, b"hello through oniongate\n");
        }
        assert_eq!(
            client.circuits().counts().1,
            before + 2,
            "one circuit per credential"
        );
        // Directory fetches once bootstrapped go to a directory guard (a C tor relay).
        let md = client
            .fetch_directory("/tor/status-vote/current/consensus-microdesc")
            .await
            .unwrap();
        assert!(md.starts_with(b"network-status-version 3 microdesc"));
        let n = client.consensus_fetches();
        client.shutdown().await;
        n
    });
    assert!(fetches >= 1);
    let log = std::fs::read_to_string(dir.path().join("notice.log")).unwrap();
    for want in [
        "Bootstrapped 0% (starting): Starting",
        "Bootstrapped 25% (requesting_status)",
        "Bootstrapped 75% (enough_dirinfo): Loaded enough directory info to build circuits",
        "Bootstrapped 100% (done): Done",
    ] {
        assert!(log.contains(want), "{want:?} not in the log:\n{log}");
    }
    for l in log.lines().filter(|l| l.contains("Bootstrapped")) {
        eprintln!("{l}");
    }
    let data = dir.path().join("data");
    for f in [
        "cached-microdesc-consensus",
        "cached-certs",
        "cached-microdescs",
        "state",
    ] {
        assert!(data.join(f).exists(), "{f} written");
    }

    // Second run: from the cache, no consensus fetch.
    let t1 = Instant::now();
    rt.block_on(async {
        let client = TorClient::start(config.clone()).await.unwrap();
        assert!(
            client.consensus_valid_after().is_some(),
            "cached consensus loaded"
        );
        tokio::time::timeout(Duration::from_secs(60), client.bootstrapped())
            .await
            .unwrap_or_else(|_| {
                panic!("no bootstrap from cache: {:?}", *client.progress().borrow())
            });
        assert_eq!(client.consensus_fetches(), 0, "no consensus fetched");
        let socks = client.serve_socks(&config.socks_ports).await.unwrap();
        let page_ref = &page;
        let body = tokio::task::block_in_place(|| fetch_page(socks[0], page_ref));
        assert_eq!(body, b"hello through oniongate\n");
        eprintln!("second run (cache): bootstrapped in {:.1?}", t1.elapsed());
        client.shutdown().await;
    });
    assert!(page.served() >= 2);
}
