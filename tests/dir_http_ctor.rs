//! Directory HTTP against stock C tor 0.4.9, both ways.
//!
//! `ctor_serves_our_client`: a C tor relay with a DirPort answers `rt::dirclient` over
//! BEGIN_DIR (one-hop circuit) and over its DirPort: `/tor/server/authority` with and
//! without `.z` (its own descriptor), and a 404 for what it does not have.
//!
//! `ctor_asks_our_dirport`: a C tor relay whose `DirAuthority` line points at our relay's
//! DirPort sends us its real requests (consensus, certificates) and uploads its
//! descriptor there (`PublishServerDescriptor 1`): our server parses every one of them
//! (recorded by the test source) and C tor logs our answers.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::ctor::{free_port, CTorOptions, CTorRelay, TempDir};
use oniongate::client::{HandshakeKind, HopTarget};
use oniongate::config::{merge, parse_torrc, Daemon, DaemonConfig, RelayConfig};
use oniongate::crypto::ll::X25519Public;
use oniongate::dir::doc::consensus::Flavor;
use oniongate::dir::serve::{DirAnswer, DirRequest, DirSource};
use oniongate::ids::{Ed25519Identity, RsaIdentity};
use oniongate::rt::client::{Circuit, ClientChannel};
use oniongate::rt::dirclient::{self, DirClientError, FetchOptions};
use oniongate::rt::relay::{Relay, RelayOptions};

fn target(relay: &CTorRelay) -> HopTarget {
    HopTarget {
        addrs: vec![relay.or_addr],
        rsa_id: RsaIdentity(relay.rsa_id),
        ed_id: Some(Ed25519Identity(relay.ed_id)),
        ntor_key: X25519Public::from(relay.ntor_key),
        handshake: HandshakeKind::Ntor,
    }
}

/// Fetches, retrying on 404 while C tor builds its own descriptor.
async fn fetch_retry(circ: &Circuit, path: &str) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match dirclient::fetch_begin_dir(circ, path, &FetchOptions::default()).await {
            Ok(b) => return b,
            Err(DirClientError::Status { code: 404, .. }) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => panic!("{path}: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctor_serves_our_client() {
    let dir_port = free_port();
    let opts = CTorOptions {
        exit_policy: None,
        extra: vec![format!("DirPort 127.0.0.1:{dir_port}")],
    };
    let relay = tokio::task::spawn_blocking(move || CTorRelay::start("dh", &opts))
        .await
        .unwrap();
    let chan = ClientChannel::connect(relay.or_addr, None).await.unwrap();
    let circ = Circuit::build(&chan, &[target(&relay)]).await.unwrap();
    let plain = fetch_retry(&circ, "/tor/server/authority").await;
    let text = String::from_utf8(plain.clone()).unwrap();
    assert!(
        text.starts_with(&format!("router {} 127.0.0.1 ", relay.nickname)),
        "{text}"
    );
    assert!(
        text.contains("\nrouter-signature\n-----BEGIN SIGNATURE-----\n"),
        "{text}"
    );
    let z = fetch_retry(&circ, "/tor/server/authority.z").await;
    assert_eq!(
        z, plain,
        "deflate-compressed answer decompresses to the same descriptor"
    );
    let fp = hex::encode_upper(relay.rsa_id);
    assert_eq!(
        fetch_retry(&circ, &format!("/tor/server/fp/{fp}.z")).await,
        plain
    );
    let e = dirclient::fetch_begin_dir(&circ, "/tor/keys/all.z", &FetchOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(e, DirClientError::Status { code: 404, .. }), "{e}");
    eprintln!("C tor BEGIN_DIR: {e}");
    // A cap smaller than the descriptor cuts the answer off.
    let tiny = FetchOptions {
        max_body: 100,
        ..FetchOptions::default()
    };
    let e = dirclient::fetch_begin_dir(&circ, "/tor/server/authority", &tiny)
        .await
        .unwrap_err();
    assert!(matches!(e, DirClientError::TooLarge(100)), "{e}");

    // Its DirPort. (C tor serves descriptors over unencrypted DirPort connections too.)
    let dp = ([127, 0, 0, 1], dir_port).into();
    let body = dirclient::fetch_tcp(dp, "/tor/server/authority.z", &FetchOptions::default())
        .await
        .unwrap();
    assert_eq!(body, plain);
    let r = dirclient::post_tcp(dp, "/tor/", plain.clone(), &FetchOptions::default()).await;
    let e = r.unwrap_err();
    eprintln!("C tor relay DirPort upload: {e}");
    assert!(
        matches!(
            e,
            DirClientError::Status {
                code: 400 | 503,
                ..
            }
        ),
        "{e}"
    );
    circ.close();
}

/// Records every request; answers 404 (so C tor keeps asking) and refuses uploads with a
/// recognisable reason.
#[derive(Default)]
struct Recorder(Mutex<Vec<DirRequest>>);

impl DirSource for Recorder {
    fn get(&self, req: &DirRequest) -> DirAnswer {
        self.0.lock().unwrap().push(req.clone());
        DirAnswer::not_found()
    }
    fn upload(&self, body: &[u8]) -> DirAnswer {
        self.0
            .lock()
            .unwrap()
            .push(DirRequest::Upload(body.to_vec()));
        DirAnswer::status(400, "oniongate test refuses this descriptor")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctor_asks_our_dirport() {
    let dir = TempDir::new("dir-http-ours");
    let text = format!(
        "Nickname ourdir\nORPort 127.0.0.1:auto\nDirPort 127.0.0.1:auto\nDataDirectory {}\n",
        dir.path().join("ourdir").display()
    );
    let entries = parse_torrc(&text, "test").unwrap();
    let cfg = RelayConfig::from_entries(&merge(Daemon::Relay, &[&entries]).unwrap()).unwrap();
    let rec = Arc::new(Recorder::default());
    let opts = RelayOptions {
        dir_source: Some(rec.clone()),
        ..RelayOptions::default()
    };
    let ours = Relay::start_with(cfg, opts).await.unwrap();
    let dp = ours.dir_addrs()[0];
    let v3ident = "AB".repeat(20);
    let opts = CTorOptions {
        exit_policy: None,
        extra: vec![
            "PublishServerDescriptor 1".into(),
            format!(
                "DirAuthority ourauth orport={} v3ident={v3ident} {dp} {}",
                ours.or_addrs()[0].port(),
                ours.rsa_id().to_hex()
            ),
        ],
    };
    let relay = tokio::task::spawn_blocking(move || CTorRelay::start("dq", &opts))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let (mut flavors, mut upload) = (Vec::new(), None);
    while (flavors.len() < 2 || upload.is_none()) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(300)).await;
        for r in rec.0.lock().unwrap().iter() {
            match r {
                DirRequest::Consensus {
                    flavor,
                    authorities,
                    ..
                } => {
                    // The authorities named by 3-byte prefixes of their v3 identities.
                    assert!(
                        authorities.iter().any(|a| a.eq_ignore_ascii_case("ABABAB")),
                        "{authorities:?}"
                    );
                    if !flavors.contains(flavor) {
                        flavors.push(*flavor);
                    }
                }
                DirRequest::Upload(b) => upload = Some(b.clone()),
                _ => {}
            }
        }
    }
    let all = rec.0.lock().unwrap().clone();
    eprintln!(
        "requests from C tor: {:?}",
        all.iter()
            .map(|r| match r {
                DirRequest::Upload(b) => format!("Upload({} bytes)", b.len()),
                other => format!("{other:?}"),
            })
            .collect::<Vec<_>>()
    );
    // A relay fetches both flavors.
    assert!(
        flavors.contains(&Flavor::Ns) && flavors.contains(&Flavor::Microdesc),
        "{flavors:?}; log:\n{}",
        relay.notice_log()
    );
    let upload = upload.unwrap_or_else(|| panic!("no upload; log:\n{}", relay.notice_log()));
    let text = String::from_utf8_lossy(&upload);
    assert!(
        text.starts_with(&format!("router {} ", relay.nickname)),
        "{text}"
    );
    // C tor logs the reason we gave.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !relay
        .info_log()
        .contains("oniongate test refuses this descriptor")
    {
        assert!(
            Instant::now() < deadline,
            "C tor did not log our reason:\n{}",
            relay.info_log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(ours.shutdown().await, 0);
}
