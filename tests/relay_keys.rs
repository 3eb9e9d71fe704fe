//! The relay's key files on disk (`rt::relay_keys` over `keys`): created on first start with
//! safe modes, reused on restart, rotated files written and removed, corrupt files refused.

#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use oniongate::keys::{KeyFile, KeyPolicy};
use oniongate::rt::relay_keys::{RelayKeyDir, RelayKeysError};
use rand::rngs::StdRng;
use rand::SeedableRng;

use common::ctor::TempDir;

const DAY: Duration = Duration::from_secs(86400);

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn policy() -> KeyPolicy {
    KeyPolicy {
        tls_key_bits: 1024,
        ..KeyPolicy::default()
    }
}

#[test]
fn first_start_creates_files_and_restart_reuses_them() {
    let tmp = TempDir::new("relay-keys");
    let data = tmp.path().join("data");
    let mut rng = StdRng::seed_from_u64(1);
    let now = SystemTime::now();
    let dir = RelayKeyDir::open(&data).unwrap();
    let k1 = dir
        .load_or_create("Keytest", policy(), now, &mut rng)
        .unwrap();

    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("keys")), 0o700);
    for f in KeyFile::ALL {
        let p = dir.path_of(f);
        let old = matches!(f, KeyFile::NtorOnionOld | KeyFile::TapOnionOld);
        assert_eq!(p.exists(), !old, "{}", p.display());
        if !old {
            assert_eq!(mode(&p), 0o600, "{}", p.display());
        }
    }
    assert_eq!(
        fs::read_to_string(data.join("fingerprint")).unwrap(),
        format!("Keytest {}\n", k1.rsa_id().to_hex())
    );
    assert_eq!(
        fs::read_to_string(data.join("fingerprint-ed25519")).unwrap(),
        format!("Keytest {}\n", k1.ed_id().to_base64())
    );
    let pem = fs::read_to_string(data.join("keys/secret_id_key")).unwrap();
    assert!(pem.starts_with("-----BEGIN RSA PRIVATE KEY-----\n"));
    assert!(fs::read(data.join("keys/ed25519_signing_cert"))
        .unwrap()
        .starts_with(b"== ed25519v1-cert: type4 ==\0"));

    // Restart: same identities and onion key, nothing rewritten.
    let before: Vec<_> = KeyFile::ALL
        .iter()
        .filter_map(|f| fs::read(dir.path_of(*f)).ok())
        .collect();
    let dir2 = RelayKeyDir::open(&data).unwrap();
    let k2 = dir2
        .load_or_create("Keytest", policy(), now + Duration::from_secs(60), &mut rng)
        .unwrap();
    assert_eq!(k1.rsa_id(), k2.rsa_id());
    assert_eq!(k1.ed_id(), k2.ed_id());
    assert_eq!(k1.ntor_keys()[0].public(), k2.ntor_keys()[0].public());
    assert_eq!(k1.signing_cert(), k2.signing_cert());
    let after: Vec<_> = KeyFile::ALL
        .iter()
        .filter_map(|f| fs::read(dir.path_of(*f)).ok())
        .collect();
    assert_eq!(before, after);
}

#[test]
fn rotation_writes_old_files_and_grace_removes_them() {
    let tmp = TempDir::new("relay-keys-rot");
    let data = tmp.path().join("data");
    let mut rng = StdRng::seed_from_u64(2);
    let now = SystemTime::now();
    let dir = RelayKeyDir::open(&data).unwrap();
    let mut k = dir.load_or_create("Rot", policy(), now, &mut rng).unwrap();
    let first = k.ntor_keys()[0].public();

    let rot = now + 28 * DAY;
    let r = dir.rotate(&mut k, rot, &mut rng).unwrap();
    assert!(r.onion_keys_rotated);
    let old = dir.path_of(KeyFile::NtorOnionOld);
    assert!(old.exists() && dir.path_of(KeyFile::TapOnionOld).exists());
    assert_eq!(mode(&old), 0o600);
    // The current key's modification time records the rotation.
    let mtime = fs::metadata(dir.path_of(KeyFile::NtorOnion))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(mtime, k.onion_key_set_at());

    // A restart within the grace period keeps both keys (the renewed signing key included).
    let k2 = dir
        .load_or_create("Rot", policy(), rot + 2 * DAY, &mut rng)
        .unwrap();
    let keys = k2.ntor_keys();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[1].public(), first);
    assert_eq!(keys[0].public(), k.ntor_keys()[0].public());

    let r = dir.rotate(&mut k, rot + 7 * DAY, &mut rng).unwrap();
    assert!(r.previous_onion_keys_dropped);
    assert!(!old.exists() && !dir.path_of(KeyFile::TapOnionOld).exists());
    assert_eq!(k.ntor_keys().len(), 1);
}

#[test]
fn corrupt_files_are_reported_with_their_path_and_left_alone() {
    let tmp = TempDir::new("relay-keys-bad");
    let data = tmp.path().join("data");
    let mut rng = StdRng::seed_from_u64(3);
    let now = SystemTime::now();
    let dir = RelayKeyDir::open(&data).unwrap();
    dir.load_or_create("Bad", policy(), now, &mut rng).unwrap();
    let ntor = dir.path_of(KeyFile::NtorOnion);
    fs::write(&ntor, b"not a key").unwrap();
    let e = dir
        .load_or_create("Bad", policy(), now, &mut rng)
        .unwrap_err();
    assert!(matches!(e, RelayKeysError::BadKeyFile { .. }), "{e}");
    let msg = e.to_string();
    assert!(msg.contains(&ntor.display().to_string()), "{msg}");
    assert_eq!(fs::read(&ntor).unwrap(), b"not a key");

    // An RSA key of the wrong size is refused too.
    let mut r2 = StdRng::seed_from_u64(4);
    let big = rsa::RsaPrivateKey::new(&mut r2, 1536).unwrap();
    let pem = oniongate::crypto::rsa::RsaKeypair::from_rsa(big)
        .to_pem()
        .unwrap();
    let idf = dir.path_of(KeyFile::SecretIdKey);
    fs::write(&idf, pem.as_bytes()).unwrap();
    let e = dir
        .load_or_create("Bad", policy(), now, &mut rng)
        .unwrap_err();
    assert!(e.to_string().contains("secret_id_key"), "{e}");
    assert!(e.to_string().contains("1536"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_server_presents_the_link_certificate() {
    use oniongate::rt::tls;
    let mut rng = StdRng::seed_from_u64(5);
    // The real 2048-bit link key: ring refuses smaller RSA keys.
    let keys = oniongate::keys::RelayKeys::generate(
        "Tls",
        KeyPolicy::default(),
        SystemTime::now(),
        &mut rng,
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(
        tls::server_config(keys.tls_cert_der(), keys.tls_key()).unwrap(),
    );
    let (a, b) = tokio::io::duplex(1 << 16);
    let server = tokio::spawn(async move { acceptor.accept(a).await.map(|_| ()) });
    let connector = tokio_rustls::TlsConnector::from(tls::client_config().unwrap());
    let s = connector
        .connect(tls::random_server_name(&mut rng).unwrap(), b)
        .await
        .unwrap();
    let peer = tls::peer_cert_der(s.get_ref().1).unwrap();
    assert_eq!(peer, keys.tls_cert_der());
    assert_eq!(peer, keys.link_identity().cert_tls_link);
    server.await.unwrap().unwrap();
}
