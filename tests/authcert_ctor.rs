//! Authority keys against stock C tor 0.4.9: `tor-gencert` writes keys that
//! [`AuthorityKeys::load`] reads; `tor-gencert` recertifies with the identity key we wrote;
//! and a C tor directory authority starts with the keys we generated and serves our
//! certificate unchanged.

#![allow(clippy::unwrap_used)]

#[path = "common/ctor.rs"]
#[allow(dead_code)]
mod ctor;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ctor::{free_port, CTorOptions, CTorRelay, TempDir};
use oniongate::dir::doc::authcert::{
    AuthCert, AuthorityKeys, CERTIFICATE_FILE, IDENTITY_KEY_FILE, SIGNING_KEY_FILE,
};

fn tor_gencert() -> &'static str {
    for p in ["/usr/bin/tor-gencert", "/usr/local/bin/tor-gencert"] {
        if Path::new(p).exists() {
            return p;
        }
    }
    panic!("tor-gencert is not installed (Debian package `tor`)");
}

/// Runs tor-gencert in `dir` with an empty passphrase on stdin (as chutney does).
fn gencert(dir: &Path, args: &[&str]) {
    let mut child = Command::new(tor_gencert())
        .args(args)
        .arg("-i")
        .arg(dir.join(IDENTITY_KEY_FILE))
        .arg("-s")
        .arg(dir.join(SIGNING_KEY_FILE))
        .arg("-c")
        .arg(dir.join(CERTIFICATE_FILE))
        .args(["--passphrase-fd", "0"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "tor-gencert failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn load_tor_gencert_keys() {
    let dir = TempDir::new("gencert");
    gencert(
        dir.path(),
        &["--create-identity-key", "-m", "12", "-a", "127.0.0.1:7000"],
    );
    let keys = AuthorityKeys::load(dir.path()).unwrap();
    assert!(keys.identity_key().is_none(), "passphrase-encrypted");
    let c = keys.cert();
    assert_eq!(c.identity_key.bits(), 3072);
    assert_eq!(c.signing_key.bits(), 2048);
    assert_eq!(c.address, Some("127.0.0.1:7000".parse().unwrap()));
    assert!(c.is_live(now() + 5));
    let months = (c.expires - c.published) / 86_400;
    assert!((360..=370).contains(&months), "{months} days");
    // The certificate text is exactly what is on disk.
    let text = std::fs::read_to_string(dir.path().join(CERTIFICATE_FILE)).unwrap();
    assert_eq!(keys.cert_text(), text);
    // And re-saving writes it back unchanged (no identity key: that file is left alone).
    let out = TempDir::new("gencert-resave");
    keys.save(out.path()).unwrap();
    assert_eq!(
        std::fs::read_to_string(out.path().join(CERTIFICATE_FILE)).unwrap(),
        text
    );
    assert!(!out.path().join(IDENTITY_KEY_FILE).exists());
    assert_eq!(AuthorityKeys::load(out.path()).unwrap().cert(), keys.cert());
}

#[test]
fn tor_gencert_recertifies_our_identity_key() {
    let mut rng = rand::thread_rng();
    let ours = AuthorityKeys::generate(&mut rng, now() - 60, 86_400 * 90, None).unwrap();
    assert_eq!(ours.identity_key().unwrap().public().bits(), 3072);
    assert_eq!(ours.signing_key().public().bits(), 2048);
    let dir = TempDir::new("gencert-ours");
    ours.save(dir.path()).unwrap();
    std::fs::remove_file(dir.path().join(SIGNING_KEY_FILE)).unwrap();
    std::fs::remove_file(dir.path().join(CERTIFICATE_FILE)).unwrap();
    // No --create-identity-key: tor-gencert reads our (unencrypted) identity key.
    gencert(dir.path(), &["-m", "3"]);
    let back = AuthorityKeys::load(dir.path()).unwrap();
    assert_eq!(back.v3ident(), ours.v3ident());
    assert!(back.identity_key().is_some());
    assert_ne!(back.cert().signing_key, ours.cert().signing_key);
}

/// GET `path` from a DirPort; the body of a 200 answer.
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

#[test]
fn ctor_authority_uses_our_keys() {
    let mut rng = rand::thread_rng();
    let dir_port = free_port();
    let keys = AuthorityKeys::generate(
        &mut rng,
        now() - 60,
        86_400 * 30,
        Some(format!("127.0.0.1:{dir_port}").parse().unwrap()),
    )
    .unwrap();
    let data = TempDir::new("ctor-auth-data");
    let kdir = data.path().join("keys");
    std::fs::create_dir_all(&kdir).unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(data.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::set_permissions(&kdir, std::fs::Permissions::from_mode(0o700)).unwrap();
    keys.save(&kdir).unwrap();
    let opts = CTorOptions {
        extra: vec![
            "Address 127.0.0.1".into(),
            "AuthoritativeDirectory 1".into(),
            "V3AuthoritativeDirectory 1".into(),
            format!("DirPort 127.0.0.1:{dir_port}"),
        ],
        ..Default::default()
    };
    let relay = CTorRelay::start_with_data_dir("auth", &opts, data.path());
    let deadline = Instant::now() + Duration::from_secs(30);
    let body = loop {
        if let Some(b) = http_get(dir_port, "/tor/keys/authority") {
            break b;
        }
        assert!(
            Instant::now() < deadline,
            "C tor authority did not serve its certificate; log:\n{}",
            relay.notice_log()
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(body, keys.cert_text(), "C tor serves our certificate as is");
    assert_eq!(AuthCert::parse(&body).unwrap(), *keys.cert());
    let fp = keys.v3ident().to_hex();
    let by_fp = http_get(dir_port, &format!("/tor/keys/fp/{fp}")).unwrap();
    assert_eq!(by_fp, keys.cert_text());
    assert!(
        !relay.notice_log().contains("Error initializing keys"),
        "{}",
        relay.notice_log()
    );
}
