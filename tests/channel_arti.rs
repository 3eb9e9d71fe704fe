//! Arti's client channel code (tor-proto 0.47 over tor-rtcompat's tokio + rustls runtime)
//! against our `LinkResponder` behind a rustls acceptor on loopback (tor-spec §4).
//!
//! Arti checks our CERTS (types 2, 4, 5, 7 with type 5 bound to the TLS certificate it saw,
//! and the identities it was told to expect), sends NETINFO, and opens the channel; our
//! responder reports an unauthenticated client. A channel to a wrong expected identity is
//! refused by Arti.
//!
//! Not tested against Arti: an authenticating (relay) initiator. tor-proto 0.47's
//! `RelayChannelBuilder` exists behind its experimental `relay` feature, but it needs a
//! `RelayChannelAuthMaterial` built from tor-relay-crypto key types, a `CreateRequestHandler`
//! and a TLS stream implementing `CertifiedConn` with its own key material; that is a
//! separate piece of work. Our responder's AUTHENTICATE check is exercised against C tor
//! instead (`channel_ctor.rs`, where a C tor relay authenticates to us).

#![allow(clippy::unwrap_used)]

#[path = "channel_support/driver.rs"]
mod driver;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use oniongate::channel::testing::generate_link_identity;
use oniongate::channel::{LinkIdentity, PeerIdentity, ResponderConfig};
use oniongate::rt::tls;
use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::net::TcpListener;
use tor_proto::memquota::ChannelAccount;
use tor_proto::memquota::SpecificAccount as _;
use tor_proto::peer::PeerAddr;
use tor_rtcompat::tls::TlsConnector as _;
use tor_rtcompat::{CertifiedConn as _, NetStreamProvider as _, TlsProvider as _};

use driver::run_responder;

/// Starts our responder on loopback for one channel; returns its address and a task that
/// yields the handshake result and the first cell after it (or the error text).
async fn start_responder(
    id: Arc<LinkIdentity>,
    cert: Vec<u8>,
    key: rsa::RsaPrivateKey,
) -> (
    SocketAddr,
    tokio::task::JoinHandle<Result<oniongate::channel::ChannelReady, String>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let cfg = tls::server_config(&cert, &key).unwrap();
    let task = tokio::spawn(async move {
        let (tcp, peer) = listener.accept().await.unwrap();
        let stream = tokio_rustls::TlsAcceptor::from(cfg)
            .accept(tcp)
            .await
            .map_err(|e| e.to_string())?;
        let rc = ResponderConfig {
            identity: id,
            peer_addr: peer.ip(),
            my_addrs: vec![addr.ip()],
        };
        let (ready, mut link) = run_responder(stream, rc)
            .await
            .map_err(|e| format!("{e:?}"))?;
        // Keep the channel up a little while Arti finishes on its side.
        let _ = tokio::time::timeout(Duration::from_secs(2), link.recv()).await;
        Ok(ready)
    });
    (addr, task)
}

fn target(addr: SocketAddr, rsa: &[u8; 20], ed: &[u8; 32]) -> tor_linkspec::OwnedChanTarget {
    let mut b = tor_linkspec::OwnedChanTargetBuilder::default();
    b.addrs(vec![addr]);
    b.ids()
        .rsa_identity(tor_llcrypto::pk::rsa::RsaIdentity::from_bytes(rsa).unwrap())
        .ed_identity(tor_llcrypto::pk::ed25519::Ed25519Identity::new(*ed));
    b.build().unwrap()
}

/// Opens an Arti client channel to `addr` expecting `target`'s ids.
async fn arti_connect(
    addr: SocketAddr,
    target: &tor_linkspec::OwnedChanTarget,
) -> Result<Arc<tor_proto::channel::Channel>, tor_proto::Error> {
    let rt = tor_rtcompat::tokio::TokioRustlsRuntime::current().unwrap();
    let tcp = rt.connect(&addr, &Default::default()).await.unwrap();
    let tls = rt
        .tls_connector()
        .negotiate_unvalidated(tcp, "www.example.com")
        .await
        .unwrap();
    let cert = tls.peer_certificate().unwrap().unwrap().into_owned();
    let (chan, reactor) = tor_proto::ClientChannelBuilder::new()
        .launch(tls, rt.clone(), ChannelAccount::new_noop())
        .connect(SystemTime::now)
        .await?
        .verify(target, &cert, None)?
        .finish(safelog::MaybeSensitive::not_sensitive(PeerAddr::from(addr)))
        .await?;
    tokio::spawn(async move {
        let _ = reactor.run().await;
    });
    Ok(chan)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arti_client_opens_a_channel_to_our_responder() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut rng = StdRng::seed_from_u64(11);
    let (id, cert, key) = generate_link_identity(&mut rng, SystemTime::now()).unwrap();
    let id = Arc::new(id);
    let rsa = id.rsa_id().0;
    let ed = id.ed_identity.0;

    let (addr, server) = start_responder(id.clone(), cert.clone(), key.clone()).await;
    let chan = arti_connect(addr, &target(addr, &rsa, &ed)).await.unwrap();
    let t = chan.target();
    use tor_linkspec::HasRelayIds as _;
    assert_eq!(t.rsa_identity().unwrap().as_bytes(), &rsa);
    assert_eq!(t.ed_identity().unwrap().as_bytes(), &ed);
    assert!(!chan.is_closing());
    let ready = server.await.unwrap().unwrap();
    assert_eq!(ready.peer, PeerIdentity::Client);
    assert_eq!(ready.link_version, 5);
    assert_eq!(ready.peer_netinfo.timestamp, 0);

    // Arti refuses us when it expects another Ed25519 identity.
    let (addr, server) = start_responder(id, cert, key).await;
    let err = arti_connect(addr, &target(addr, &rsa, &[9; 32]))
        .await
        .err()
        .expect("Arti refuses a wrong identity");
    assert!(
        format!("{err}").to_lowercase().contains("identity"),
        "{err}"
    );
    server.abort();
}
