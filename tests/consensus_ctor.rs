//! Stock C tor 0.4.9 accepts the consensuses we build and sign: three authorities of ours
//! (full-size keys) sign both flavours; a C tor relay configured with those authorities
//! finds them, with our certificates, in its cache directory at startup, checks them
//! (`networkstatus_set_current_consensus`), and then serves them unchanged from its DirPort
//! (which it only does for a consensus it accepted). The same relay refuses a consensus
//! signed by only one of the three.

#![allow(clippy::unwrap_used)]

#[path = "common/ctor.rs"]
#[allow(dead_code)]
mod ctor;

use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, TcpStream};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ctor::{free_port, CTorOptions, CTorRelay, TempDir};
use oniongate::dir::doc::authcert::AuthorityKeys;
use oniongate::dir::doc::consensus::{
    sign_consensus, ConsensusBuilder, DirSource, Flavor, RouterStatus,
};
use oniongate::dir::flags::{PortSummary, RelayFlags};
use oniongate::ids::RsaIdentity;
use rand::SeedableRng;

const RECOMMENDED_CLIENT: &str = "Cons=2 Desc=2 DirCache=2 FlowCtrl=1-2 HSDir=2 HSIntro=4 HSRend=2 Link=4-5 Microdesc=2 Relay=2-4";
const RELAY_PROTOS: &str = "Cons=2 Desc=2 DirCache=2 FlowCtrl=1-2 HSDir=2 HSIntro=4-5 HSRend=2 Link=4-5 LinkAuth=3 Microdesc=2 Relay=2-4";
const REQUIRED_CLIENT: &str = "Cons=2 Desc=2 FlowCtrl=1 Link=4 Microdesc=2 Relay=2";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn authorities() -> &'static [AuthorityKeys] {
    static A: OnceLock<Vec<AuthorityKeys>> = OnceLock::new();
    A.get_or_init(|| {
        let mut rng = rand::rngs::StdRng::seed_from_u64(0xc70);
        (0..3)
            .map(|_| AuthorityKeys::generate(&mut rng, now() - 3600, 86_400 * 30, None).unwrap())
            .collect()
    })
}

fn consensus(flavor: Flavor, dir_ports: &[u16], signers: &[usize]) -> String {
    let auths = authorities();
    // Voting periods start on the hour's multiples of the interval, as C tor's do.
    let va = now() / 300 * 300;
    let mut b = ConsensusBuilder::new(flavor, va, va + 3600, va + 3 * 3600);
    b.known_flags = [
        "Authority",
        "Exit",
        "Fast",
        "Guard",
        "HSDir",
        "Running",
        "Stable",
        "V2Dir",
        "Valid",
    ]
    .map(String::from)
    .to_vec();
    b.recommended_client_protocols = RECOMMENDED_CLIENT.into();
    b.recommended_relay_protocols = RELAY_PROTOS.into();
    b.required_client_protocols = REQUIRED_CLIENT.into();
    b.required_relay_protocols = RELAY_PROTOS.into();
    b.params.insert("cc_alg".into(), 2);
    for (i, a) in auths.iter().enumerate() {
        b.sources.push(DirSource {
            nickname: format!("ogauth{i}"),
            identity: a.v3ident(),
            hostname: "127.0.0.1".into(),
            address: Ipv4Addr::LOCALHOST,
            dir_port: dir_ports[i],
            or_port: dir_ports[i] + 1,
            contact: "oniongate-test@example.invalid".into(),
            vote_digest: [i as u8 + 7; 20],
        });
    }
    for i in 0..4u8 {
        b.routers.push(RouterStatus {
            nickname: format!("ogrelay{i}"),
            rsa_id: RsaIdentity([i * 50 + 1; 20]),
            desc_digest: Some([i + 1; 20]),
            published: va - 600,
            ipv4: Ipv4Addr::LOCALHOST,
            or_port: 1 + u16::from(i),
            dir_port: 0,
            ipv6_or: None,
            flags: RelayFlags::RUNNING
                .union(RelayFlags::VALID)
                .union(RelayFlags::FAST),
            version: Some("Tor 0.4.9.11".into()),
            protocols: Some(RELAY_PROTOS.into()),
            bandwidth: Some(20),
            unmeasured: true,
            md_digest: Some([i + 1; 32]),
            port_summary: Some(PortSummary::reject_all()),
        });
    }
    for (k, v) in [("Wgg", 10000), ("Wmm", 10000), ("Wee", 10000)] {
        b.bandwidth_weights.insert(k.into(), v);
    }
    signers.iter().fold(b.build_unsigned(), |t, &i| {
        sign_consensus(&t, &auths[i]).unwrap()
    })
}

fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\n\r\n").ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    let text = String::from_utf8(buf).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.0 200").then(|| body.to_string())
}

/// Starts a C tor relay that trusts our authorities, with `md` and `ns` as its cached
/// consensuses; returns it and its DirPort.
fn relay_with_cache(md: &str, ns: &str) -> (CTorRelay, u16, TempDir) {
    let auths = authorities();
    let data = TempDir::new("ctor-cons-data");
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(data.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let certs: String = auths.iter().map(|a| a.cert_text()).collect();
    std::fs::write(data.path().join("cached-certs"), certs).unwrap();
    std::fs::write(data.path().join("cached-microdesc-consensus"), md).unwrap();
    std::fs::write(data.path().join("cached-consensus"), ns).unwrap();
    let dir_port = free_port();
    let mut extra = vec![
        format!("DirPort 127.0.0.1:{dir_port}"),
        "Address 127.0.0.1".into(),
    ];
    for (i, a) in auths.iter().enumerate() {
        extra.push(format!(
            "DirAuthority ogauth{i} orport={} v3ident={} 127.0.0.1:{} {}",
            free_port(),
            a.v3ident().to_hex(),
            free_port(),
            hex::encode_upper([i as u8 + 0x40; 20]),
        ));
    }
    let opts = CTorOptions {
        extra,
        ..Default::default()
    };
    let relay = CTorRelay::start_with_data_dir("cons", &opts, data.path());
    (relay, dir_port, data)
}

fn wait_for(port: u16, path: &str, relay: &CTorRelay, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        if let Some(body) = http_get(port, path) {
            assert_eq!(body, want, "C tor serves {path} unchanged");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "C tor did not serve {path}; log:\n{}",
            relay.notice_log()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn ctor_accepts_and_serves_our_consensuses() {
    // The relay's torrc also names a fake fourth authority (tests/common/ctor.rs), so all
    // three of ours must sign: 3 of 4 is more than half.
    let ports = [free_port(), free_port(), free_port()];
    let md = consensus(Flavor::Microdesc, &ports, &[0, 1, 2]);
    let ns = consensus(Flavor::Ns, &ports, &[2, 0, 1]);
    let (relay, port, _data) = relay_with_cache(&md, &ns);
    wait_for(
        port,
        "/tor/status-vote/current/consensus-microdesc",
        &relay,
        &md,
    );
    wait_for(port, "/tor/status-vote/current/consensus", &relay, &ns);
    let log = relay.info_log();
    assert!(
        !log.contains("Not enough good signatures"),
        "C tor complained:\n{log}"
    );
    for flavor in ["microdesc", "ns"] {
        assert!(
            log.contains(&format!("This {flavor} one has 3 (")),
            "C tor did not count 3 good {flavor} signatures:\n{log}"
        );
    }
}

#[test]
fn ctor_refuses_an_under_signed_consensus() {
    let ports = [free_port(), free_port(), free_port()];
    let md = consensus(Flavor::Microdesc, &ports, &[1]);
    let ns = consensus(Flavor::Ns, &ports, &[1, 2]);
    let (relay, port, _data) = relay_with_cache(&md, &ns);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !relay.info_log().contains("Not enough good signatures") {
        assert!(
            Instant::now() < deadline,
            "C tor did not refuse; log:\n{}",
            relay.info_log()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(http_get(port, "/tor/status-vote/current/consensus-microdesc").is_none());
}
