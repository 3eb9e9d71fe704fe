//! Our directory authority in-process with three of our relays (and the authority's own
//! relay) on loopback: descriptors uploaded over the authority's DirPort, reachability tests,
//! the microdesc consensus fetched and verified with `Consensus::verify`, flags checked,
//! microdescriptors fetched by digest and matched; C tor's rejection replies; state reloaded
//! after a restart.

#![allow(clippy::unwrap_used)]

mod common;
mod relay_support;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::ctor::TempDir;
use oniongate::config::DirAuthOptions;
use oniongate::dir::doc::authcert::AuthorityKeys;
use oniongate::dir::doc::consensus::{Consensus, Flavor};
use oniongate::dir::doc::microdesc::Microdesc;
use oniongate::dir::doc::routerdesc::{build_descriptor, Bandwidth, DescriptorParams};
use oniongate::dir::flags::RelayFlags;
use oniongate::dir::serve::DirSource;
use oniongate::dirauth::routerset::RouterSet;
use oniongate::dirauth::state::AuthorityConfig;
use oniongate::keys::{KeyPolicy, RelayKeys};
use oniongate::rt::dirauth::{AuthorityService, AuthoritySource, ServiceOptions};
use oniongate::rt::relay::RelayHandle;
use oniongate::rt::relay_keys::RelayKeyDir;
use relay_support::*;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn keys_of(dir: &TempDir, name: &str) -> RelayKeys {
    RelayKeyDir::open(dir.path().join(name))
        .unwrap()
        .load_or_create(
            name,
            KeyPolicy::default(),
            SystemTime::now(),
            &mut rand::rngs::OsRng,
        )
        .unwrap()
}

fn descriptor(dir: &TempDir, name: &str, r: &RelayHandle, platform: &str) -> String {
    let keys = keys_of(dir, name);
    let p = DescriptorParams {
        nickname: name.into(),
        ipv4: Ipv4Addr::LOCALHOST,
        or_port: r.or_addrs()[0].port(),
        dir_port: 0,
        ipv6_or: None,
        platform: platform.into(),
        published: now() - 1,
        uptime: 100,
        bandwidth: Bandwidth {
            average: 1_000_000,
            burst: 2_000_000,
            observed: 500_000,
        },
        contact: None,
        family: Vec::new(),
        exit_policy: vec![oniongate::config::PolicyRule {
            action: oniongate::config::PolicyAction::Accept,
            addr: oniongate::config::PolicyAddr::Any,
            port_lo: 1,
            port_hi: 65535,
        }],
        tunnelled_dir_server: true,
        hidden_service_dir: true,
    };
    build_descriptor(&keys, &p).unwrap()
}

struct Net {
    dir: TempDir,
    relays: Vec<(String, RelayHandle)>,
    auth_relay: RelayHandle,
    keys: Arc<AuthorityKeys>,
    svc: Arc<AuthorityService>,
    dirport: SocketAddr,
}

fn auth_config(auth_relay: &RelayHandle) -> AuthorityConfig {
    let d = DirAuthOptions {
        vote_guard: RouterSet::parse("*").unwrap(),
        vote_hsdir: RouterSet::parse("*").unwrap(),
        ..Default::default()
    };
    AuthorityConfig {
        nickname: "auth".into(),
        my_rsa_id: auth_relay.rsa_id(),
        address: Ipv4Addr::LOCALHOST,
        dir_port: 0,
        or_port: auth_relay.or_addrs()[0].port(),
        contact: "test".into(),
        authority_ids: vec![auth_relay.rsa_id()],
        testing: true,
        flags: d.flag_options(true),
        accept: d.accept_options(true),
        timing: d.timing(true),
        max_per_addr: 0,
        params: Vec::new(),
    }
}

async fn serve(svc: &Arc<AuthorityService>) -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let src: Arc<dyn DirSource> = Arc::new(AuthoritySource(svc.clone()));
    tokio::spawn(oniongate::rt::dirserve::run_dirport(
        l,
        src,
        Default::default(),
    ));
    addr
}

async fn fetch(addr: SocketAddr, path: &str) -> Vec<u8> {
    oniongate::rt::dirclient::fetch_tcp(addr, path, &Default::default())
        .await
        .unwrap()
}

async fn post(addr: SocketAddr, body: &str) -> (u16, String) {
    let r = oniongate::rt::dirclient::post_tcp(
        addr,
        "/tor/",
        body.as_bytes().to_vec(),
        &Default::default(),
    )
    .await;
    match r {
        Ok(r) => (r.status, r.reason),
        Err(oniongate::rt::dirclient::DirClientError::Status { code, reason }) => (code, reason),
        Err(e) => panic!("upload failed: {e}"),
    }
}

async fn start_net() -> Net {
    let dir = TempDir::new("dirauth-net");
    let auth_relay = start_relay(&dir, "auth").await;
    let mut relays = Vec::new();
    for n in ["r1", "r2", "r3"] {
        relays.push((n.to_string(), start_relay(&dir, n).await));
    }
    let keys = Arc::new(
        AuthorityKeys::generate(&mut rand::rngs::OsRng, now() - 60, 86_400, None).unwrap(),
    );
    let svc = AuthorityService::start(
        auth_config(&auth_relay),
        keys.clone(),
        Some(dir.path().join("auth")),
        ServiceOptions::for_network(true),
    )
    .unwrap();
    let dirport = serve(&svc).await;
    let own = descriptor(&dir, "auth", &auth_relay, "Tor 0.4.9.11 on Linux");
    assert_eq!(svc.add_own(&own).status, 200);
    Net {
        dir,
        relays,
        auth_relay,
        keys,
        svc,
        dirport,
    }
}

async fn wait_listed(net: &Net, n: usize) -> Consensus {
    for _ in 0..300 {
        if let Some(c) = net.svc.consensus(Flavor::Microdesc) {
            let c = Consensus::parse(&c).unwrap();
            if c.routers.len() == n {
                return c;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("consensus never listed {n} relays");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authority_with_three_relays() {
    let net = start_net().await;
    for (name, r) in &net.relays {
        let d = descriptor(&net.dir, name, r, "Tor 0.4.9.11 on Linux");
        // C tor posts its extra-info document in the same body, after the descriptor.
        let with_extra = format!(
            "{d}extra-info {name} {}\npublished 2026-01-01 00:00:00\n",
            "A".repeat(40)
        );
        assert_eq!(
            post(net.dirport, &with_extra).await,
            (200, "Descriptor accepted".into())
        );
        // The same one again changes nothing: still 200, C tor's text.
        let (code, _) = post(net.dirport, &d).await;
        assert_eq!(code, 200);
    }
    wait_listed(&net, 4).await;
    let text =
        String::from_utf8(fetch(net.dirport, "/tor/status-vote/current/consensus-microdesc").await)
            .unwrap();
    if std::env::var_os("DIRAUTH_SHOW").is_some() {
        eprintln!("{text}");
    }
    let c = Consensus::parse(&text).unwrap();
    let certs = oniongate::dir::doc::authcert::AuthCert::parse_many(
        &String::from_utf8(fetch(net.dirport, "/tor/keys/all").await).unwrap(),
    )
    .unwrap();
    c.verify(&[net.keys.v3ident()], &certs, now()).unwrap();
    assert_eq!(c.routers.len(), 4);
    for rs in &c.routers {
        // Stable goes to relays with at least the median uptime (C tor, while it has no
        // MTBF data), so not to all; TestingDirAuthVoteGuard/HSDir * give Guard and HSDir.
        for f in [
            RelayFlags::RUNNING,
            RelayFlags::VALID,
            RelayFlags::FAST,
            RelayFlags::GUARD,
            RelayFlags::HSDIR,
            RelayFlags::V2DIR,
            RelayFlags::EXIT,
        ] {
            assert!(
                rs.flags.contains(f),
                "{} lacks {f}: {}",
                rs.nickname,
                rs.flags
            );
        }
        assert_eq!(
            rs.flags.contains(RelayFlags::AUTHORITY),
            rs.rsa_id == net.auth_relay.rsa_id()
        );
    }
    let stable = c
        .routers
        .iter()
        .filter(|r| r.flags.contains(RelayFlags::STABLE))
        .count();
    assert!(stable >= 2, "median uptime and above are Stable");
    // Microdescriptors by digest.
    let digests: Vec<[u8; 32]> = c.routers.iter().map(|r| r.md_digest.unwrap()).collect();
    let path = format!(
        "/tor/micro/d/{}",
        digests
            .iter()
            .map(|d| oniongate::dir::doc::token::b64_nopad(d))
            .collect::<Vec<_>>()
            .join("-")
    );
    let mds = Microdesc::parse_many(&String::from_utf8(fetch(net.dirport, &path).await).unwrap())
        .unwrap();
    let mut got: Vec<[u8; 32]> = mds.iter().map(|m| m.digest).collect();
    let mut want = digests.clone();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    // The ns flavour too, and the authority's own descriptor.
    let ns =
        String::from_utf8(fetch(net.dirport, "/tor/status-vote/current/consensus").await).unwrap();
    Consensus::parse(&ns)
        .unwrap()
        .verify(&[net.keys.v3ident()], &certs, now())
        .unwrap();
    let own = String::from_utf8(fetch(net.dirport, "/tor/server/authority").await).unwrap();
    assert!(own.starts_with("router auth "));
    let all = String::from_utf8(fetch(net.dirport, "/tor/server/all").await).unwrap();
    assert_eq!(all.matches("\nrouter-signature\n").count(), 4);

    // Rejections with C tor's texts.
    let (n0, r0) = &net.relays[0];
    let old = descriptor(&net.dir, n0, r0, "Tor 0.4.7.16 on Linux");
    assert_eq!(
        post(net.dirport, &old).await,
        (
            400,
            "Tor version is insecure or unsupported. Please upgrade!".into()
        )
    );
    assert_eq!(post(net.dirport, "garbage").await.0, 400);

    // A stopped relay drops out after its next test fails... only after 45 min (C tor's
    // REACHABLE_TIMEOUT), so not checked here.

    // Restart: descriptors and pins come back from the DataDirectory.
    net.svc.stop();
    let svc2 = AuthorityService::start(
        auth_config(&net.auth_relay),
        net.keys.clone(),
        Some(net.dir.path().join("auth")),
        ServiceOptions::for_network(true),
    )
    .unwrap();
    assert_eq!(svc2.server_all().matches("\nrouter-signature\n").count(), 4);
    svc2.stop();
}
