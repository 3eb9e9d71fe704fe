//! Arti's client channel and circuit code (tor-proto 0.47 on tor-rtcompat's tokio + rustls
//! runtime) through three of our relays (`rt::relay`) on loopback: a channel to the first,
//! `Channel::new_tunnel` → `create_firsthop_ntor(_v3)` → `extend_ntor(_v3)` twice, then an
//! exit stream (`begin_stream`) to a TCP echo server carrying 1 MiB each way.

#![allow(clippy::unwrap_used)]
#![allow(deprecated)] // Arti's explicit ntor / ntor-v3 calls are deprecated in favour of `extend`.

mod common;
mod relay_support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use common::ctor::TempDir;
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use relay_support::*;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tor_proto::ccparams::{
    Algorithm, CongestionControlParamsBuilder, CongestionWindowParamsBuilder,
    FixedWindowParamsBuilder, RoundTripEstimatorParamsBuilder,
};
use tor_proto::circuit::CircParameters;
use tor_proto::memquota::{ChannelAccount, SpecificAccount as _};
use tor_proto::peer::PeerAddr;
use tor_proto::{CellCount, FlowCtrlParameters};
use tor_rtcompat::tls::TlsConnector as _;
use tor_rtcompat::{CertifiedConn as _, NetStreamProvider as _, TlsProvider as _};
use tor_units::Percentage;

struct Timeouts;

impl tor_proto::client::circuit::TimeoutEstimator for Timeouts {
    fn circuit_build_timeout(&self, _length: usize) -> Duration {
        Duration::from_secs(30)
    }
}

/// Fixed-window SENDMEs (no congestion control), C tor's window sizes.
fn params() -> CircParameters {
    let fixed = FixedWindowParamsBuilder::default()
        .circ_window_start(1000)
        .circ_window_min(100)
        .circ_window_max(1000)
        .build()
        .unwrap();
    let rtt = RoundTripEstimatorParamsBuilder::default()
        .ewma_cwnd_pct(Percentage::new(50))
        .ewma_max(10)
        .ewma_ss_max(2)
        .rtt_reset_pct(Percentage::new(100))
        .build()
        .unwrap();
    let cwnd = CongestionWindowParamsBuilder::default()
        .cwnd_init(124)
        .cwnd_inc_pct_ss(Percentage::new(100))
        .cwnd_inc(1)
        .cwnd_inc_rate(31)
        .cwnd_min(124)
        .cwnd_max(u32::MAX)
        .sendme_inc(31)
        .build()
        .unwrap();
    let cc = CongestionControlParamsBuilder::default()
        .rtt_params(rtt)
        .cwnd_params(cwnd)
        .alg(Algorithm::FixedWindow(fixed))
        .fixed_window_params(fixed)
        .build()
        .unwrap();
    let flow = FlowCtrlParameters {
        cc_xoff_client: CellCount::new(500),
        cc_xoff_exit: CellCount::new(500),
        cc_xon_rate: CellCount::new(500),
        cc_xon_change_pct: 25,
        cc_xon_ewma_cnt: 2,
    };
    CircParameters::new(true, cc, flow)
}

fn circ_target(h: &Hop) -> tor_linkspec::OwnedCircTarget {
    let mut b = tor_linkspec::OwnedCircTargetBuilder::default();
    b.chan_target().addrs(vec![h.addr]);
    b.chan_target()
        .ids()
        .rsa_identity(tor_llcrypto::pk::rsa::RsaIdentity::from_bytes(&h.rsa_id.0).unwrap())
        .ed_identity(tor_llcrypto::pk::ed25519::Ed25519Identity::new(h.ed_id.0));
    b.ntor_onion_key(tor_llcrypto::pk::curve25519::PublicKey::from(
        *h.ntor_key.as_bytes(),
    ));
    b.protocols("Link=4-5 LinkAuth=3 Relay=1-4".parse().unwrap());
    b.build().unwrap()
}

async fn arti_channel(
    addr: SocketAddr,
    t: &tor_linkspec::OwnedCircTarget,
) -> Arc<tor_proto::channel::Channel> {
    let rt = tor_rtcompat::tokio::TokioRustlsRuntime::current().unwrap();
    let tcp = rt.connect(&addr, &Default::default()).await.unwrap();
    let tls = rt
        .tls_connector()
        .negotiate_unvalidated(tcp, "www.example.com")
        .await
        .unwrap();
    let cert = tls.peer_certificate().unwrap().unwrap().into_owned();
    let chan_target = tor_linkspec::OwnedChanTarget::from_chan_target(t);
    let (chan, reactor) = tor_proto::ClientChannelBuilder::new()
        .launch(tls, rt.clone(), ChannelAccount::new_noop())
        .connect(SystemTime::now)
        .await
        .unwrap()
        .verify(&chan_target, &cert, None)
        .unwrap()
        .finish(safelog::MaybeSensitive::not_sensitive(PeerAddr::from(addr)))
        .await
        .unwrap();
    tokio::spawn(async move {
        let _ = reactor.run().await;
    });
    chan
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arti_client_through_three_of_our_relays() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = TempDir::new("relay-arti");
    let r1 = start_relay(&dir, "a1").await;
    let r2 = start_relay(&dir, "a2").await;
    let r3 = start_relay(&dir, "a3").await;
    let targets: Vec<_> = [&r1, &r2, &r3]
        .iter()
        .map(|r| circ_target(&Hop::ours(r)))
        .collect();
    let (echo, _closed) = echo_server().await;
    let chan = arti_channel(r1.or_addrs()[0], &targets[0]).await;

    for v3 in [false, true] {
        let (pending, reactor) = chan.new_tunnel(Arc::new(Timeouts)).await.unwrap();
        tokio::spawn(async move {
            let _ = reactor.run().await;
        });
        let tunnel = if v3 {
            pending.create_firsthop_ntor_v3(&targets[0], params()).await
        } else {
            pending.create_firsthop_ntor(&targets[0], params()).await
        }
        .unwrap();
        for t in &targets[1..] {
            let circ = tunnel.as_single_circ().unwrap();
            if v3 {
                circ.extend_ntor_v3(t, params()).await.unwrap();
            } else {
                circ.extend_ntor(t, params()).await.unwrap();
            }
        }
        assert_eq!(tunnel.n_hops().unwrap(), 3);
        let tunnel = Arc::new(tunnel);
        let stream = tunnel
            .begin_stream(&echo.ip().to_string(), echo.port(), None)
            .await
            .unwrap();
        let (mut rd, mut wr) = stream.split();
        const LEN: usize = 1 << 20;
        let mut data = vec![0u8; LEN];
        StdRng::seed_from_u64(5).fill_bytes(&mut data);
        let want = Sha256::digest(&data);
        let writer = tokio::spawn(async move {
            wr.write_all(&data).await.unwrap();
            wr.flush().await.unwrap();
            wr
        });
        let mut got = vec![0u8; LEN];
        tokio::time::timeout(Duration::from_secs(120), rd.read_exact(&mut got))
            .await
            .expect("echo within 120 s")
            .unwrap();
        assert_eq!(
            Sha256::digest(&got),
            want,
            "1 MiB echoed intact (ntor-v3: {v3})"
        );
        drop(writer.await.unwrap());
    }
    for r in [r1, r2, r3] {
        assert_eq!(r.shutdown().await, 0);
    }
}
