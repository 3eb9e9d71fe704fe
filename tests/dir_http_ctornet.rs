//! Our relay in a stock C tor network (`tests/common/ctornet.rs`: 1 C tor authority, 2 C tor
//! relays): it uploads its descriptor to the C tor authority over the DirPort
//! (`rt::publish`), is listed Running and Valid in the consensus (the authority accepted the
//! descriptor and found our ORPort reachable), and its directory cache (`rt::dircache`)
//! mirrors the C tor authority's certificates, both consensus flavors (verified) and the
//! microdescriptors, and serves them over BEGIN_DIR and its DirPort exactly as the
//! authority serves them; then a stock C tor client whose only directory authority line
//! points at our relay bootstraps to 100% from our cache (over BEGIN_DIR).

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::ctor::TempDir;
use common::ctornet::CTorNet;
use oniongate::config::{merge, parse_torrc, Daemon, DaemonConfig, RelayConfig};
use oniongate::dir::doc::authcert::AuthCert;
use oniongate::dir::doc::consensus::Consensus;
use oniongate::dir::doc::microdesc::Microdesc;
use oniongate::dir::doc::token::b64_nopad;
use oniongate::rt::client::{Circuit, ClientChannel};
use oniongate::rt::dirclient::{self, FetchOptions};
use oniongate::rt::relay::{Relay, RelayOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_relay_publishes_to_and_mirrors_a_ctor_authority() {
    let t0 = Instant::now();
    let net = tokio::task::spawn_blocking(|| CTorNet::builder().authorities(1).relays(2).start())
        .await
        .unwrap();
    let auth_dir = net.authorities().next().unwrap().dir_addr().unwrap();
    let dir = TempDir::new("dir-ctornet");
    let mut text = format!(
        "Nickname oniongatedir\nORPort 127.0.0.1:auto\nDirPort 127.0.0.1:auto\n\
         DataDirectory {}\nContactInfo test@example.invalid\nTestingTorNetwork 1\n\
         AssumeReachable 1\n",
        dir.path().join("ours").display()
    );
    for l in net.dir_authority_lines() {
        text.push_str(&l);
        text.push('\n');
    }
    let entries = parse_torrc(&text, "test").unwrap();
    let cfg = RelayConfig::from_entries(&merge(Daemon::Relay, &[&entries]).unwrap()).unwrap();
    let relay = Relay::start_with(cfg, RelayOptions::default())
        .await
        .unwrap();
    let fp = relay.rsa_id().to_hex().to_ascii_uppercase();

    // Listed Running and Valid by the C tor authority.
    let net = tokio::task::spawn_blocking(move || {
        if let Err(e) = net.wait_for_relay(&fp, &["Running", "Valid"], Duration::from_secs(120)) {
            panic!("{}\n{}", e.0, net.logs_tail(40));
        }
        net
    })
    .await
    .unwrap();
    eprintln!("our relay listed Running+Valid after {:?}", t0.elapsed());

    // Our cache serves what the authority serves, over BEGIN_DIR.
    let chan = ClientChannel::connect(relay.or_addrs()[0], None)
        .await
        .unwrap();
    let target = oniongate::client::HopTarget {
        addrs: relay.or_addrs().to_vec(),
        rsa_id: relay.rsa_id(),
        ed_id: Some(relay.ed_id()),
        ntor_key: relay.ntor_onion_key(),
        handshake: oniongate::client::HandshakeKind::Ntor,
    };
    let circ = Circuit::build(&chan, &[target]).await.unwrap();
    let opts = FetchOptions::default();
    let deadline = Instant::now() + Duration::from_secs(120);
    let path = "/tor/status-vote/current/consensus-microdesc.z";
    let (ours, theirs) = loop {
        let ours = dirclient::fetch_begin_dir(&circ, path, &opts).await;
        let theirs = dirclient::fetch_tcp(auth_dir, path, &opts).await.unwrap();
        match ours {
            // The same consensus, once both have the one listing our relay.
            Ok(o) if o == theirs && String::from_utf8_lossy(&o).contains(" oniongatedir ") => {
                break (o, theirs)
            }
            other => {
                assert!(
                    Instant::now() < deadline,
                    "our cache never caught up: {:?}",
                    other.map(|b| b.len())
                );
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    };
    assert_eq!(ours, theirs);
    let certs = dirclient::fetch_begin_dir(&circ, "/tor/keys/all.z", &opts)
        .await
        .unwrap();
    let certs = AuthCert::parse_many(&String::from_utf8(certs).unwrap()).unwrap();
    let md = Consensus::parse(&String::from_utf8(ours).unwrap()).unwrap();
    let v3: Vec<_> = certs.iter().map(|c| c.fingerprint).collect();
    md.verify(&v3, &certs, md.valid_after + 1).unwrap();
    let ns = dirclient::fetch_begin_dir(&circ, "/tor/status-vote/current/consensus.z", &opts)
        .await
        .unwrap();
    Consensus::parse(&String::from_utf8(ns).unwrap()).unwrap();
    // Every microdescriptor, by digest, over BEGIN_DIR and over our DirPort.
    let digests: Vec<String> = md
        .routers
        .iter()
        .filter_map(|r| r.md_digest)
        .map(|d| b64_nopad(&d))
        .collect();
    let url = format!("/tor/micro/d/{}.z", digests.join("-"));
    let body = dirclient::fetch_begin_dir(&circ, &url, &opts)
        .await
        .unwrap();
    let mds = Microdesc::parse_many(&String::from_utf8(body).unwrap()).unwrap();
    assert_eq!(mds.len(), digests.len());
    let body = dirclient::fetch_tcp(relay.dir_addrs()[0], &url, &opts)
        .await
        .unwrap();
    assert_eq!(
        Microdesc::parse_many(&String::from_utf8(body).unwrap())
            .unwrap()
            .len(),
        digests.len()
    );
    eprintln!(
        "our cache mirrors {} routers, {} microdescriptors after {:?}",
        md.routers.len(),
        mds.len(),
        t0.elapsed()
    );
    circ.close();

    // A stock C tor client whose only "authority" is our relay (the C tor authority's
    // v3ident, our ORPort, DirPort and fingerprint) bootstraps from our cache: it fetches
    // the consensus, certificates and microdescriptors over BEGIN_DIR from us.
    let auth_line = net.dir_authority_lines().remove(0);
    let v3 = auth_line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("v3ident="))
        .unwrap()
        .to_owned();
    let line = format!(
        "DirAuthority ourcache orport={} no-v2 v3ident={v3} {} {}",
        relay.or_addrs()[0].port(),
        relay.dir_addrs()[0],
        relay.rsa_id().to_hex().to_ascii_uppercase()
    );
    let our_dir = relay.dir_addrs()[0];
    let (net, client_net) = tokio::task::spawn_blocking(move || {
        net.prepare_for_clients(Duration::from_secs(30)).unwrap();
        let cn = CTorNet::builder()
            .authorities(0)
            .relays(0)
            .exits(0)
            .client(true)
            .dir_authority(&line)
            .consensus_from(our_dir)
            .start();
        match cn.client_bootstrapped(Duration::from_secs(90)) {
            Ok(t) => eprintln!("C tor client bootstrapped from our cache in {t:?}"),
            Err(e) => panic!("{}\n{}", e.0, cn.logs_tail(60)),
        }
        (net, cn)
    })
    .await
    .unwrap();
    drop(client_net);
    assert_eq!(relay.shutdown().await, 0);
    drop(net);
}
