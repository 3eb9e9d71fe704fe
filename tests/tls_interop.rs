//! TLS interop for channels: our initiator against a stock C tor 0.4.9 relay, and OpenSSL's
//! client (the TLS library C tor uses) against our responder.
//!
//! The Tor-level check is deliberately raw bytes here (a VERSIONS cell each way), so this
//! test exercises only the TLS layer; the link handshake has its own interop tests.

mod common;

use std::time::SystemTime;

use oniongate::crypto::x509::{LinkCertificates, ParsedCert};
use oniongate::rt::tls;
use rand::SeedableRng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// VERSIONS with a 2-byte circuit id, offering link protocols 4 and 5.
const OUR_VERSIONS: [u8; 9] = [0, 0, 7, 0, 4, 0, 4, 0, 5];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_tls_client_reaches_c_tor_relay() {
    let relay = common::ctor::CTorRelay::start("tlsi", &Default::default());
    let tcp = tokio::net::TcpStream::connect(relay.or_addr).await.unwrap();
    let mut rng = rand::rngs::StdRng::from_entropy();
    let connector = tokio_rustls::TlsConnector::from(tls::client_config().unwrap());
    let mut s = connector
        .connect(tls::random_server_name(&mut rng).unwrap(), tcp)
        .await
        .expect("TLS handshake with C tor");
    let (version, peer) = {
        let conn = s.get_ref().1;
        (conn.protocol_version(), tls::peer_cert_der(conn).unwrap())
    };
    assert_eq!(version, Some(rustls::ProtocolVersion::TLSv1_3));
    // C tor's link certificate: RSA-2048 (tor-wire-brief §2.1).
    assert_eq!(ParsedCert::parse(&peer).unwrap().rsa_bits().unwrap(), 2048);
    // The exporter works on a real C tor connection.
    assert_ne!(
        tls::auth0003_exporter(s.get_ref().1, &[1; 32]).unwrap(),
        [0; 32]
    );

    s.write_all(&OUR_VERSIONS).await.unwrap();
    s.flush().await.unwrap();
    let mut hdr = [0u8; 5];
    s.read_exact(&mut hdr).await.unwrap();
    assert_eq!(&hdr[..3], &[0, 0, 7], "C tor answers with VERSIONS");
    let len = u16::from_be_bytes([hdr[3], hdr[4]]) as usize;
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).await.unwrap();
    let versions: Vec<u16> = body
        .chunks(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect();
    assert!(
        versions.contains(&4) && versions.contains(&5),
        "{versions:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssl_client_reaches_our_tls_server() {
    let mut rng = rand::rngs::StdRng::from_entropy();
    let identity = rsa::RsaPrivateKey::new(&mut rng, 1024).unwrap();
    let lc = LinkCertificates::generate(&mut rng, &identity, SystemTime::now()).unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(
        tls::server_config(&lc.link_cert_der, &lc.link_key).unwrap(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut s = acceptor.accept(tcp).await.unwrap();
        let mut buf = [0u8; 9];
        s.read_exact(&mut buf).await.unwrap();
        s.write_all(&OUR_VERSIONS).await.unwrap();
        s.shutdown().await.ok();
        buf
    });
    let out = tokio::task::spawn_blocking(move || {
        let mut child = std::process::Command::new("openssl")
            .args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
            .args(["-tls1_3", "-ign_eof", "-quiet"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("openssl binary (Debian package openssl)");
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(&OUR_VERSIONS)
            .unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    let got = server.await.unwrap();
    assert_eq!(got, OUR_VERSIONS, "server received the client's bytes");
    assert_eq!(
        &out.stdout[..],
        &OUR_VERSIONS[..],
        "openssl received ours; stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
