//! Relay key files are interchangeable with stock C tor 0.4.9's, both ways:
//! (a) our loader reads a C tor relay's `keys/` directory and derives the identities and
//!     ntor key C tor reports, without rewriting anything;
//! (b) C tor started on a DataDirectory we made accepts our keys: it reports our
//!     fingerprints and leaves every key file as we wrote it.

#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::path::Path;
use std::time::SystemTime;

use oniongate::cert::Ed25519Cert;
use oniongate::keys::{KeyFile, KeyPolicy, RelayKeys};
use oniongate::rt::relay_keys::RelayKeyDir;
use rand::rngs::StdRng;
use rand::SeedableRng;

use common::ctor::{CTorOptions, CTorRelay, TempDir};

/// Connects to `addr` as a client and returns the responder's CERTS cell.
async fn fetch_certs(addr: std::net::SocketAddr) -> oniongate::cell::Certs {
    use bytes::BytesMut;
    use oniongate::cell::{AnyChanMsg, ChannelCodec};
    use oniongate::rt::tls;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let mut rng = StdRng::from_entropy();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let connector = tokio_rustls::TlsConnector::from(tls::client_config().unwrap());
    let mut stream = connector
        .connect(tls::random_server_name(&mut rng).unwrap(), tcp)
        .await
        .unwrap();
    let versions = oniongate::cell::codec::raw::versions_cell(&[4, 5]).unwrap();
    stream.write_all(&versions).await.unwrap();
    let mut codec = ChannelCodec::unnegotiated();
    let mut buf = BytesMut::new();
    loop {
        while let Some(cell) = codec.decode(&mut buf).unwrap() {
            match cell.msg {
                AnyChanMsg::Versions(v) => {
                    let version = v.best_shared(&[4, 5]).unwrap();
                    codec.set_link_version(version).unwrap();
                }
                AnyChanMsg::Certs(c) => return c,
                _ => {}
            }
        }
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(std::time::Duration::from_secs(20), stream.read(&mut chunk))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "C tor closed the connection");
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn we_load_c_tor_keys() {
    let relay = CTorRelay::start("keysa", &CTorOptions::default());
    let ctor_data = relay.data_dir();
    // Work on a copy: the running relay owns its directory.
    let tmp = TempDir::new("keys-from-ctor");
    let data = tmp.path().join("data");
    copy_dir(&ctor_data.join("keys"), &data.join("keys"));
    for f in ["fingerprint", "fingerprint-ed25519"] {
        fs::copy(ctor_data.join(f), data.join(f)).unwrap();
    }

    let dir = RelayKeyDir::open(&data).unwrap();
    let stored = dir.read().unwrap();
    for f in [
        KeyFile::SecretIdKey,
        KeyFile::MasterIdSecret,
        KeyFile::MasterIdPublic,
        KeyFile::SigningSecret,
        KeyFile::SigningCert,
        KeyFile::NtorOnion,
        KeyFile::TapOnion,
    ] {
        assert!(stored.get(f).is_some(), "C tor wrote no {f}");
    }
    let mut rng = StdRng::seed_from_u64(1);
    let now = SystemTime::now();
    let (keys, ops) = RelayKeys::load_or_create(
        &stored,
        &relay.nickname,
        KeyPolicy::default(),
        now,
        &mut rng,
    )
    .unwrap();
    // Nothing to create or fix: the files are complete and current.
    assert!(ops.is_empty(), "{ops:?}");
    assert_eq!(keys.rsa_id().0, relay.rsa_id);
    assert_eq!(keys.ed_id().0, relay.ed_id);
    assert_eq!(
        keys.ntor_keys()[0].public().onion_key.to_bytes(),
        relay.ntor_key
    );
    assert_eq!(keys.ntor_v3_keys()[0].public().id.0, relay.ed_id);
    // Our signing cert is C tor's, byte for byte, and it checks.
    let cert_file = fs::read(data.join("keys/ed25519_signing_cert")).unwrap();
    assert_eq!(&cert_file[32..], keys.signing_cert());
    let c = Ed25519Cert::decode(keys.signing_cert())
        .unwrap()
        .check_signature(None)
        .unwrap()
        .check_valid_at(now)
        .unwrap();
    assert_eq!(c.signing_key().to_bytes(), relay.ed_id);
    // Writing our keys back gives C tor's files exactly (the PEM files up to C tor's
    // trailing NUL).
    for f in [
        KeyFile::MasterIdSecret,
        KeyFile::MasterIdPublic,
        KeyFile::SigningSecret,
        KeyFile::SigningCert,
        KeyFile::NtorOnion,
        KeyFile::SecretIdKey,
        KeyFile::TapOnion,
        KeyFile::Fingerprint,
        KeyFile::FingerprintEd25519,
    ] {
        let ours = match keys.file_op(f).unwrap() {
            oniongate::keys::FileOp::Write(_, c) => c.to_vec(),
            other => panic!("{other:?}"),
        };
        let theirs = stored.get(f).unwrap();
        let theirs = match f {
            KeyFile::SecretIdKey | KeyFile::TapOnion => theirs.strip_suffix(b"\0").unwrap(),
            _ => theirs,
        };
        assert_eq!(ours, theirs, "{f}");
    }
    // And through the file layer: no file changes.
    let before = fs::read(data.join("keys/secret_onion_key_ntor")).unwrap();
    let k2 = dir
        .load_or_create(&relay.nickname, KeyPolicy::default(), now, &mut rng)
        .unwrap();
    assert_eq!(k2.rsa_id().0, relay.rsa_id);
    assert_eq!(
        fs::read(data.join("keys/secret_onion_key_ntor")).unwrap(),
        before
    );
}

#[test]
fn c_tor_accepts_our_keys() {
    let tmp = TempDir::new("keys-for-ctor");
    let data = tmp.path().join("data");
    let nickname = "ctkeysb"; // what CTorRelay::start_with_data_dir("keysb", ..) names it
    let mut rng = StdRng::from_entropy();
    let now = SystemTime::now();
    let dir = RelayKeyDir::open(&data).unwrap();
    let keys = dir
        .load_or_create(nickname, KeyPolicy::default(), now, &mut rng)
        .unwrap();
    let ours: Vec<(KeyFile, Vec<u8>)> = KeyFile::ALL
        .iter()
        .filter_map(|f| fs::read(dir.path_of(*f)).ok().map(|c| (*f, c)))
        .collect();

    let relay = CTorRelay::start_with_data_dir("keysb", &CTorOptions::default(), &data);
    assert_eq!(relay.nickname, nickname);
    assert_eq!(relay.rsa_id, keys.rsa_id().0);
    assert_eq!(relay.ed_id, keys.ed_id().0);
    assert_eq!(
        relay.ntor_key,
        keys.ntor_keys()[0].public().onion_key.to_bytes()
    );
    assert_eq!(
        fs::read_to_string(data.join("fingerprint")).unwrap(),
        format!("{nickname} {}\n", keys.rsa_id().to_hex())
    );
    assert_eq!(
        fs::read_to_string(data.join("fingerprint-ed25519")).unwrap(),
        format!("{nickname} {}\n", keys.ed_id().to_base64())
    );
    // C tor replaced nothing: a key it could not use (e.g. a signing certificate it did not
    // accept) would have been regenerated.
    for (f, contents) in &ours {
        assert_eq!(
            &fs::read(dir.path_of(*f)).unwrap(),
            contents,
            "C tor rewrote {f}"
        );
    }
    // No warning about keys or certificates (the test configuration draws a few others).
    let log = relay.notice_log();
    let complaints: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("[warn]") || l.contains("[err]"))
        .filter(|l| {
            let l = l.to_ascii_lowercase();
            l.contains("key") || l.contains("cert") || l.contains("identity")
        })
        .collect();
    assert!(complaints.is_empty(), "C tor complained:\n{log}");

    // C tor presents our keys in its link handshake: its type-4 certificate is the one we
    // wrote, its type-2 certificate is for our RSA identity, and its type-7 cross-certificate
    // verifies under our identity for our Ed25519 key.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let certs = rt.block_on(fetch_certs(relay.or_addr));
    use oniongate::cell::CertType;
    assert_eq!(
        certs.get(CertType::ED_ID_SIGN).unwrap(),
        keys.signing_cert()
    );
    let id_cert =
        oniongate::crypto::x509::ParsedCert::parse(certs.get(CertType::RSA_ID).unwrap()).unwrap();
    assert_eq!(
        &id_cert.rsa_key().unwrap(),
        keys.identity_key().public().as_rsa()
    );
    oniongate::cert::RsaCrosscert::decode(certs.get(CertType::RSA_ED_CROSSCERT).unwrap())
        .unwrap()
        .check(&keys.identity_key().public(), &keys.ed_id(), now)
        .unwrap();
    drop(relay);
}
