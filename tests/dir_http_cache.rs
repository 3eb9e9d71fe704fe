//! The directory cache (`rt::dircache`) and descriptor publication (`rt::publish`) against
//! a test authority: our DirPort server (`rt::dirserve::run_dirport`) answering from a
//! source that holds a certificate, both consensus flavors signed with generated authority
//! keys (`dir::doc::consensus`), and microdescriptors, and that records uploads.
//!
//! `cache_mirrors_verifies_and_persists`: the cache fetches and verifies everything, serves
//! it (consensus with If-Modified-Since / X-Or-Diff-From-Consensus / authority lists, keys,
//! microdescriptors), refuses a badly signed newer consensus while keeping the good one,
//! takes a newer good one and its new microdescriptor, persists to the DataDirectory and
//! loads it back.
//!
//! `relay_publishes_and_serves_the_cache`: our relay configured with the test authority
//! uploads a descriptor that parses and verifies (`RouterDescriptor::parse`), mirrors the
//! consensus with its own cache and serves it, and its own descriptor, over BEGIN_DIR.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use common::ctor::TempDir;
use oniongate::config::{merge, parse_torrc, Daemon, DaemonConfig, RelayConfig};
use oniongate::dir::doc::authcert::AuthorityKeys;
use oniongate::dir::doc::consensus::{sign_consensus, ConsensusBuilder, Flavor, RouterStatus};
use oniongate::dir::doc::routerdesc::RouterDescriptor;
use oniongate::dir::doc::token::b64_nopad;
use oniongate::dir::flags::RelayFlags;
use oniongate::dir::http::{self, parse_response, Request};
use oniongate::dir::serve::{answer, DirAnswer, DirRequest, DirSource};
use oniongate::ids::RsaIdentity;
use oniongate::rt::client::{Circuit, ClientChannel};
use oniongate::rt::dircache::{CacheAuthority, DirCache};
use oniongate::rt::dirclient::{self, FetchOptions};
use oniongate::rt::dirserve::{run_dirport, ServeOptions};
use oniongate::rt::relay::{Relay, RelayOptions};
use sha2::{Digest, Sha256};
use sha3::Sha3_256;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn md_text(i: u8) -> String {
    format!("onion-key\nntor-onion-key {}\n", b64_nopad(&[i; 32]))
}

fn md_digest(i: u8) -> [u8; 32] {
    Sha256::digest(md_text(i).as_bytes()).into()
}

/// A consensus of `flavor` listing routers `ids`, valid from `va` for an hour.
fn consensus(keys: &AuthorityKeys, flavor: Flavor, va: u64, ids: &[u8]) -> String {
    let mut b = ConsensusBuilder::new(flavor, va, va + 600, va + 3600);
    b.known_flags = vec!["Fast".into(), "Running".into(), "Valid".into()];
    b.sources.push(oniongate::dir::doc::consensus::DirSource {
        nickname: "testauth".into(),
        identity: keys.v3ident(),
        hostname: "127.0.0.1".into(),
        address: Ipv4Addr::LOCALHOST,
        dir_port: 1,
        or_port: 1,
        contact: "test".into(),
        vote_digest: [7; 20],
    });
    for &i in ids {
        b.routers.push(RouterStatus {
            nickname: format!("r{i}"),
            rsa_id: RsaIdentity([i; 20]),
            desc_digest: Some([i; 20]),
            published: va,
            ipv4: Ipv4Addr::new(10, 0, 0, i),
            or_port: 9001,
            dir_port: 0,
            ipv6_or: None,
            flags: RelayFlags::from_names(["Fast", "Running", "Valid"]),
            version: Some("Tor 0.4.9.11".into()),
            protocols: None,
            bandwidth: Some(100),
            unmeasured: false,
            md_digest: Some(md_digest(i)),
            port_summary: None,
        });
    }
    sign_consensus(&b.build_unsigned(), keys).unwrap()
}

/// The test authority's documents and the uploads it received.
#[derive(Default)]
struct Auth {
    certs: String,
    ns: String,
    md: String,
    mds: HashMap<[u8; 32], String>,
    uploads: Vec<String>,
}

struct AuthSource(Mutex<Auth>);

impl DirSource for AuthSource {
    fn get(&self, req: &DirRequest) -> DirAnswer {
        let a = self.0.lock().unwrap();
        match req {
            DirRequest::KeysFp(_) | DirRequest::KeysAll => DirAnswer::document(a.certs.clone(), 60),
            DirRequest::Consensus {
                flavor: Flavor::Ns, ..
            } => DirAnswer::document(a.ns.clone(), 60),
            DirRequest::Consensus {
                flavor: Flavor::Microdesc,
                ..
            } => DirAnswer::document(a.md.clone(), 60),
            DirRequest::Micro(ds) => DirAnswer::document(
                ds.iter()
                    .filter_map(|d| a.mds.get(d))
                    .cloned()
                    .collect::<String>(),
                60,
            ),
            _ => DirAnswer::not_found(),
        }
    }
    fn upload(&self, body: &[u8]) -> DirAnswer {
        self.0
            .lock()
            .unwrap()
            .uploads
            .push(String::from_utf8_lossy(body).into_owned());
        DirAnswer::status(200, "Descriptor accepted")
    }
}

/// Generates authority keys and starts the test authority's DirPort.
async fn authority(ids: &[u8]) -> (AuthorityKeys, Arc<AuthSource>, SocketAddr) {
    let va = now() - 60;
    let keys = tokio::task::spawn_blocking(move || {
        AuthorityKeys::generate(&mut rand::rngs::OsRng, va - 3600, 365 * 86400, None).unwrap()
    })
    .await
    .unwrap();
    let src = Arc::new(AuthSource(Mutex::new(Auth {
        certs: keys.cert_text().to_owned(),
        ns: consensus(&keys, Flavor::Ns, va, ids),
        md: consensus(&keys, Flavor::Microdesc, va, ids),
        mds: ids.iter().map(|&i| (md_digest(i), md_text(i))).collect(),
        uploads: Vec::new(),
    })));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(run_dirport(l, src.clone(), ServeOptions::default()));
    (keys, src, addr)
}

fn md_req(extra: &[(&str, String)]) -> Request {
    let mut r = Request::get("/tor/status-vote/current/consensus-microdesc.z", "h");
    for (n, v) in extra {
        r.headers.push(((*n).into(), v.clone()));
    }
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_mirrors_verifies_and_persists() {
    let dir = TempDir::new("dircache");
    let (keys, auth, addr) = authority(&[1, 2, 3]).await;
    let auths = vec![CacheAuthority {
        nickname: "testauth".into(),
        v3ident: keys.v3ident(),
        dir_addr: addr,
    }];
    let cache = DirCache::new(
        auths.clone(),
        Some(dir.path().to_path_buf()),
        FetchOptions::default(),
    );
    let rep = cache.refresh().await;
    assert!(rep.errors.is_empty(), "{:?}", rep.errors);
    assert_eq!((rep.certs, rep.new_microdescs), (1, 3));
    assert!(
        rep.new_consensus.contains(&Flavor::Ns) && rep.new_consensus.contains(&Flavor::Microdesc)
    );

    // Serving: the consensus as fetched, 304 for If-Modified-Since after it or for its
    // own digest, 404 for an authority list it does not satisfy.
    let md_text_now = auth.0.lock().unwrap().md.clone();
    let r = parse_response(&answer(&*cache, &md_req(&[])), 1 << 20).unwrap();
    assert_eq!((r.status, r.body.as_slice()), (200, md_text_now.as_bytes()));
    let va = cache
        .consensus(Flavor::Microdesc)
        .unwrap()
        .consensus
        .valid_after;
    let ims = http::format_http_time(va + 1);
    let r = parse_response(
        &answer(&*cache, &md_req(&[("If-Modified-Since", ims)])),
        100,
    )
    .unwrap();
    assert_eq!(r.status, 304);
    let signed = &md_text_now[..md_text_now.find("\ndirectory-signature ").unwrap() + 21];
    let sha3 = hex::encode(Sha3_256::digest(signed.as_bytes()));
    let r = parse_response(
        &answer(&*cache, &md_req(&[("X-Or-Diff-From-Consensus", sha3)])),
        100,
    )
    .unwrap();
    assert_eq!(r.status, 304);
    let prefix: String = keys.v3ident().to_hex()[..6].into();
    let ok = Request::get(
        &format!("/tor/status-vote/current/consensus-microdesc/{prefix}.z"),
        "h",
    );
    assert_eq!(
        parse_response(&answer(&*cache, &ok), 1 << 20)
            .unwrap()
            .status,
        200
    );
    let bad = Request::get("/tor/status-vote/current/consensus-microdesc/FFFFFF.z", "h");
    let r = parse_response(&answer(&*cache, &bad), 100).unwrap();
    assert_eq!(
        (r.status, r.reason.as_str()),
        (
            404,
            "Consensus not signed by sufficient number of requested authorities"
        )
    );
    let r = parse_response(
        &answer(&*cache, &Request::get("/tor/keys/all.z", "h")),
        1 << 20,
    )
    .unwrap();
    assert_eq!(r.body, keys.cert_text().as_bytes());
    let d = |i| b64_nopad(&md_digest(i));
    let r = Request::get(&format!("/tor/micro/d/{}-{}-{}.z", d(3), d(1), d(9)), "h");
    let r = parse_response(&answer(&*cache, &r), 1 << 20).unwrap();
    let mut want = [(md_digest(1), md_text(1)), (md_digest(3), md_text(3))];
    want.sort();
    assert_eq!(
        r.body,
        want.iter()
            .map(|w| w.1.clone())
            .collect::<String>()
            .into_bytes()
    );

    // A newer consensus signed by other keys is refused; the good one stays.
    let other = tokio::task::spawn_blocking(|| {
        AuthorityKeys::generate(&mut rand::rngs::OsRng, now() - 3600, 86400, None).unwrap()
    })
    .await
    .unwrap();
    auth.0.lock().unwrap().md = consensus(&other, Flavor::Microdesc, va + 30, &[1, 2, 3, 4]);
    let rep = cache.refresh().await;
    assert!(
        rep.errors
            .iter()
            .any(|e| e.contains("microdesc consensus rejected")),
        "{:?}",
        rep.errors
    );
    assert_eq!(
        cache
            .consensus(Flavor::Microdesc)
            .unwrap()
            .consensus
            .valid_after,
        va
    );
    // A tampered one too.
    let good_next = consensus(&keys, Flavor::Microdesc, va + 30, &[1, 2, 3, 4]);
    auth.0.lock().unwrap().md = good_next.replace("r4 ", "r5 ");
    let rep = cache.refresh().await;
    assert!(
        rep.errors.iter().any(|e| e.contains("rejected")),
        "{:?}",
        rep.errors
    );
    assert_eq!(
        cache
            .consensus(Flavor::Microdesc)
            .unwrap()
            .consensus
            .valid_after,
        va
    );
    // A newer good one is taken, with its new microdescriptor.
    {
        let mut a = auth.0.lock().unwrap();
        a.md = good_next;
        a.mds.insert(md_digest(4), md_text(4));
    }
    let rep = cache.refresh().await;
    assert!(rep.errors.is_empty(), "{:?}", rep.errors);
    assert_eq!(
        (rep.new_consensus, rep.new_microdescs),
        (vec![Flavor::Microdesc], 1)
    );
    assert_eq!(cache.n_microdescs(), 4);

    // Persisted atomically (no temporary files left), and loaded back.
    for f in [
        "cached-consensus",
        "cached-microdesc-consensus",
        "cached-certs",
        "cached-microdescs",
    ] {
        assert!(dir.path().join(f).exists(), "{f}");
        assert!(!dir.path().join(format!("{f}.tmp")).exists(), "{f}.tmp");
    }
    let again = DirCache::new(
        auths,
        Some(dir.path().to_path_buf()),
        FetchOptions::default(),
    );
    assert_eq!(
        again
            .consensus(Flavor::Microdesc)
            .unwrap()
            .consensus
            .valid_after,
        va + 30
    );
    assert!(again.consensus(Flavor::Ns).is_some());
    assert_eq!(again.n_microdescs(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_publishes_and_serves_the_cache() {
    let dir = TempDir::new("dircache-relay");
    let (keys, auth, addr) = authority(&[1, 2]).await;
    let text = format!(
        "Nickname pubtest\nORPort 127.0.0.1:auto\nDirPort 127.0.0.1:auto\nDataDirectory {}\n\
         ContactInfo test@example.invalid\n\
         DirAuthority testauth orport=1 v3ident={} {addr} {}\n",
        dir.path().join("relay").display(),
        keys.v3ident().to_hex(),
        "AB".repeat(20)
    );
    let entries = parse_torrc(&text, "test").unwrap();
    let cfg = RelayConfig::from_entries(&merge(Daemon::Relay, &[&entries]).unwrap()).unwrap();
    let relay = Relay::start_with(cfg, RelayOptions::default())
        .await
        .unwrap();

    // The upload arrives and verifies.
    let deadline = Instant::now() + Duration::from_secs(30);
    let desc = loop {
        if let Some(d) = auth.0.lock().unwrap().uploads.first() {
            break d.clone();
        }
        assert!(Instant::now() < deadline, "no descriptor uploaded");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let rd = RouterDescriptor::parse(&desc, now()).unwrap();
    assert_eq!(
        (rd.nickname.as_str(), rd.ipv4),
        ("pubtest", Ipv4Addr::LOCALHOST)
    );
    assert_eq!(rd.or_port, relay.or_addrs()[0].port());
    assert_eq!(rd.dir_port, relay.dir_addrs()[0].port());
    assert!(rd.tunnelled_dir_server);
    assert!(rd.bandwidth.observed > 0);
    assert_eq!(rd.rsa_id, relay.rsa_id());

    // Its cache mirrors the authority and serves over BEGIN_DIR, with our descriptor.
    let chan = ClientChannel::connect(relay.or_addrs()[0], None)
        .await
        .unwrap();
    let target = oniongate::client::HopTarget {
        addrs: relay.or_addrs().to_vec(),
        rsa_id: relay.rsa_id(),
        ed_id: Some(relay.ed_id()),
        ntor_key: relay.ntor_onion_key(),
        handshake: oniongate::client::HandshakeKind::NtorV3,
    };
    let circ = Circuit::build(&chan, &[target]).await.unwrap();
    let opts = FetchOptions::default();
    let want = auth.0.lock().unwrap().md.clone();
    let deadline = Instant::now() + Duration::from_secs(30);
    let got = loop {
        match dirclient::fetch_begin_dir(
            &circ,
            "/tor/status-vote/current/consensus-microdesc.z",
            &opts,
        )
        .await
        {
            Ok(b) => break b,
            Err(e) => {
                assert!(Instant::now() < deadline, "cache never served: {e}");
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
    };
    assert_eq!(got, want.as_bytes());
    let d = b64_nopad(&md_digest(2));
    let got = dirclient::fetch_begin_dir(&circ, &format!("/tor/micro/d/{d}.z"), &opts)
        .await
        .unwrap();
    assert_eq!(got, md_text(2).as_bytes());
    let got = dirclient::fetch_begin_dir(&circ, "/tor/server/authority.z", &opts)
        .await
        .unwrap();
    assert!(got.starts_with(b"router pubtest 127.0.0.1 "));
    circ.close();
    assert_eq!(relay.shutdown().await, 0);
}
