//! Unit tests of loading, rotation and the link identity, with times passed in.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::rngs::StdRng;
use rand::SeedableRng;

use super::*;
use crate::cert::{CertKeyType, CertType, Ed25519Cert, RsaCrosscert};
use crate::crypto::x509::ParsedCert;

const DAY: Duration = Duration::from_secs(86400);
const HOUR: Duration = Duration::from_secs(3600);

fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

/// The default policy with a small TLS key, for speed.
fn policy() -> KeyPolicy {
    KeyPolicy {
        tls_key_bits: 1024,
        ..KeyPolicy::default()
    }
}

fn apply(stored: &mut StoredKeys, ops: Vec<FileOp>) {
    let mut files: std::collections::BTreeMap<KeyFile, Vec<u8>> = KeyFile::ALL
        .into_iter()
        .filter_map(|f| stored.get(f).map(|b| (f, b.to_vec())))
        .collect();
    for op in ops {
        match op {
            FileOp::Write(f, c) => {
                files.insert(f, c.to_vec());
            }
            FileOp::Remove(f) => {
                files.remove(&f);
            }
        }
    }
    let at = stored.onion_key_set_at;
    *stored = StoredKeys::new();
    stored.onion_key_set_at = at;
    for (f, c) in files {
        stored.insert(f, zeroize::Zeroizing::new(c));
    }
}

#[test]
fn fresh_keys_write_every_file_and_reload_the_same() {
    let mut rng = StdRng::seed_from_u64(1);
    let mut stored = StoredKeys::new();
    let (k, ops) = RelayKeys::load_or_create(&stored, "Test1", policy(), t0(), &mut rng).unwrap();
    let written: Vec<KeyFile> = ops.iter().map(FileOp::file).collect();
    for f in KeyFile::ALL {
        let old = matches!(f, KeyFile::NtorOnionOld | KeyFile::TapOnionOld);
        assert_eq!(written.contains(&f), !old, "{f}");
    }
    apply(&mut stored, ops);
    stored.onion_key_set_at = Some(t0());
    let later = t0() + HOUR;
    let (k2, ops2) =
        RelayKeys::load_or_create(&stored, "Test1", policy(), later, &mut rng).unwrap();
    assert!(ops2.is_empty(), "{ops2:?}");
    assert_eq!(k.rsa_id(), k2.rsa_id());
    assert_eq!(k.ed_id(), k2.ed_id());
    assert_eq!(k.signing_cert(), k2.signing_cert());
    assert_eq!(k.ntor_keys()[0].public(), k2.ntor_keys()[0].public());
    assert_eq!(
        std::str::from_utf8(stored.get(KeyFile::Fingerprint).unwrap()).unwrap(),
        format!("Test1 {}\n", k.rsa_id().to_hex())
    );
    // A new nickname rewrites only the fingerprint files.
    let (_, ops3) = RelayKeys::load_or_create(&stored, "Other", policy(), later, &mut rng).unwrap();
    let files: Vec<KeyFile> = ops3.iter().map(FileOp::file).collect();
    assert_eq!(files, [KeyFile::Fingerprint, KeyFile::FingerprintEd25519]);
    let dbg = format!("{k:?}");
    assert!(
        dbg.contains("rsa_id") && dbg.contains(&k.ed_id().to_base64()),
        "{dbg}"
    );
    assert!(!dbg.contains(&hex::encode(k.ntor_onion_secret().to_bytes())));
    assert!(!dbg
        .to_lowercase()
        .contains(&hex::encode(&k.signing_key().to_bytes()[..8])));
}

#[test]
fn corrupt_or_inconsistent_files_are_errors_naming_the_file() {
    let mut rng = StdRng::seed_from_u64(2);
    let mut stored = StoredKeys::new();
    let (_, ops) = RelayKeys::load_or_create(&stored, "T", policy(), t0(), &mut rng).unwrap();
    apply(&mut stored, ops);
    for f in [
        KeyFile::SecretIdKey,
        KeyFile::MasterIdSecret,
        KeyFile::MasterIdPublic,
        KeyFile::SigningSecret,
        KeyFile::SigningCert,
        KeyFile::NtorOnion,
        KeyFile::TapOnion,
    ] {
        let mut bad = StoredKeys::new();
        for g in KeyFile::ALL {
            if let Some(c) = stored.get(g) {
                let mut c = c.to_vec();
                if g == f {
                    let n = c.len();
                    c[n / 2] ^= 0x55;
                }
                bad.insert(g, zeroize::Zeroizing::new(c));
            }
        }
        let e = RelayKeys::load_or_create(&bad, "T", policy(), t0(), &mut rng).unwrap_err();
        match &e {
            // A flipped bit in an Ed25519 secret shows as a mismatch with its public key
            // or certificate.
            KeysError::BadFile { file, .. } if f == KeyFile::MasterIdSecret => {
                assert_eq!(*file, KeyFile::MasterIdPublic, "{e}")
            }
            KeysError::BadFile { file, .. } if f == KeyFile::SigningSecret => {
                assert_eq!(*file, KeyFile::SigningCert, "{e}")
            }
            KeysError::BadFile { file, .. } => assert_eq!(*file, f, "{e}"),
            other => panic!("{f}: {other}"),
        }
        assert!(e.to_string().starts_with("keys/"), "{e}");
    }
    // A master public key without its secret is refused, not replaced.
    let mut no_secret = StoredKeys::new();
    no_secret.insert(
        KeyFile::MasterIdPublic,
        zeroize::Zeroizing::new(stored.get(KeyFile::MasterIdPublic).unwrap().to_vec()),
    );
    assert!(matches!(
        RelayKeys::load_or_create(&no_secret, "T", policy(), t0(), &mut rng),
        Err(KeysError::BadFile {
            file: KeyFile::MasterIdSecret,
            ..
        })
    ));
    // A signing cert from another master key is refused.
    let (other, other_ops) =
        RelayKeys::load_or_create(&StoredKeys::new(), "T", policy(), t0(), &mut rng).unwrap();
    drop(other);
    let mut mixed = StoredKeys::new();
    apply(&mut mixed, other_ops);
    let mut m2 = StoredKeys::new();
    for g in KeyFile::ALL {
        let src = if matches!(g, KeyFile::SigningSecret | KeyFile::SigningCert) {
            &mixed
        } else {
            &stored
        };
        if let Some(c) = src.get(g) {
            m2.insert(g, zeroize::Zeroizing::new(c.to_vec()));
        }
    }
    let e = RelayKeys::load_or_create(&m2, "T", policy(), t0(), &mut rng).unwrap_err();
    assert!(
        e.to_string()
            .contains("not signed by the master identity key"),
        "{e}"
    );
    assert!(RelayKeys::load_or_create(&stored, "bad nick", policy(), t0(), &mut rng).is_err());
}

#[test]
fn signing_key_is_renewed_a_day_before_expiry() {
    let mut rng = StdRng::seed_from_u64(3);
    let mut k = RelayKeys::generate("T", policy(), t0(), &mut rng).unwrap();
    let expiry = k.signing_cert_expiry();
    assert!(expiry >= t0() + 30 * DAY && expiry <= t0() + 30 * DAY + HOUR);
    let old_cert = k.signing_cert().to_vec();
    let renew = expiry - DAY;
    assert!(k.next_rotation() <= renew);
    // Walk forward through every scheduled rotation until the signing key renews.
    let mut now = t0();
    let mut renewed_at = None;
    for _ in 0..10_000 {
        now = k.next_rotation().max(now);
        let r = k.rotate(now, &mut rng).unwrap();
        assert!(r.any(), "rotation at next_rotation() changed nothing");
        if r.signing_key {
            renewed_at = Some(now);
            assert!(r.auth_key && r.tls_link && r.descriptor_changed());
            let ops = k.file_ops(&r).unwrap();
            let files: Vec<KeyFile> = ops.iter().map(FileOp::file).collect();
            assert!(files.contains(&KeyFile::SigningCert));
            break;
        }
    }
    assert_eq!(renewed_at, Some(renew));
    assert_ne!(k.signing_cert(), &old_cert[..]);
    check_link_identity(&k, now);
}

#[test]
fn expired_signing_cert_is_resigned_on_load() {
    let mut rng = StdRng::seed_from_u64(4);
    let mut stored = StoredKeys::new();
    let (k, ops) = RelayKeys::load_or_create(&stored, "T", policy(), t0(), &mut rng).unwrap();
    apply(&mut stored, ops);
    let late = t0() + 40 * DAY;
    let (k2, ops) = RelayKeys::load_or_create(&stored, "T", policy(), late, &mut rng).unwrap();
    assert_eq!(k.ed_id(), k2.ed_id());
    assert!(k2.signing_cert_expiry() > late + 29 * DAY);
    let files: Vec<KeyFile> = ops.iter().map(FileOp::file).collect();
    assert!(files.contains(&KeyFile::SigningSecret) && files.contains(&KeyFile::SigningCert));
    check_link_identity(&k2, late);
}

#[test]
fn onion_keys_rotate_and_previous_is_dropped_after_grace() {
    let mut rng = StdRng::seed_from_u64(5);
    let mut k = RelayKeys::generate("T", policy(), t0(), &mut rng).unwrap();
    let first = k.ntor_keys()[0].public();
    assert_eq!(k.ntor_keys().len(), 1);
    let rot = t0() + 28 * DAY;
    let r = k.rotate(rot - Duration::from_secs(1), &mut rng).unwrap();
    assert!(!r.onion_keys_rotated);
    let r = k.rotate(rot, &mut rng).unwrap();
    assert!(r.onion_keys_rotated && r.descriptor_changed() && r.onion_keys_changed());
    let keys = k.ntor_keys();
    assert_eq!(keys.len(), 2);
    assert_ne!(keys[0].public(), first);
    assert_eq!(keys[1].public(), first);
    assert_eq!(k.ntor_v3_keys().len(), 2);
    assert_eq!(k.ntor_v3_keys()[1].public().onion_key, first.onion_key);
    assert!(k.previous_tap_onion_key().is_some());
    let ops = k.file_ops(&r).unwrap();
    let files: Vec<KeyFile> = ops.iter().map(FileOp::file).collect();
    assert_eq!(
        files,
        [
            KeyFile::NtorOnionOld,
            KeyFile::NtorOnion,
            KeyFile::TapOnionOld,
            KeyFile::TapOnion
        ]
    );
    // Grace: 7 days after the rotation.
    assert!(k.next_rotation() <= rot + 7 * DAY);
    let r = k
        .rotate(rot + 7 * DAY - Duration::from_secs(1), &mut rng)
        .unwrap();
    assert!(!r.previous_onion_keys_dropped);
    let r = k.rotate(rot + 7 * DAY, &mut rng).unwrap();
    assert!(r.previous_onion_keys_dropped && !r.onion_keys_rotated);
    assert_eq!(k.ntor_keys().len(), 1);
    assert!(k.previous_tap_onion_key().is_none());
    let ops = k.file_ops(&r).unwrap();
    assert!(ops.iter().all(|o| matches!(o, FileOp::Remove(_))));
    assert_eq!(ops.len(), 2);
}

#[test]
fn previous_onion_key_survives_restart_only_within_grace() {
    let mut rng = StdRng::seed_from_u64(6);
    let mut stored = StoredKeys::new();
    // A long signing-key lifetime, so that only onion keys change in this test.
    let policy = || KeyPolicy {
        signing_key_lifetime: 365 * DAY,
        ..policy()
    };
    let (mut k, ops) = RelayKeys::load_or_create(&stored, "T", policy(), t0(), &mut rng).unwrap();
    apply(&mut stored, ops);
    let rot = t0() + 28 * DAY;
    let r = k.rotate(rot, &mut rng).unwrap();
    apply(&mut stored, k.file_ops(&r).unwrap());
    stored.onion_key_set_at = Some(rot);
    let (k2, ops) =
        RelayKeys::load_or_create(&stored, "T", policy(), rot + 3 * DAY, &mut rng).unwrap();
    assert!(ops.is_empty(), "{ops:?}");
    assert_eq!(k2.ntor_keys().len(), 2);
    assert_eq!(k2.ntor_keys()[1].public(), k.ntor_keys()[1].public());
    let (k3, ops) =
        RelayKeys::load_or_create(&stored, "T", policy(), rot + 8 * DAY, &mut rng).unwrap();
    assert_eq!(k3.ntor_keys().len(), 1);
    assert_eq!(ops.len(), 2);
    // Without a known set time, a loaded key counts as set now (as C tor without a state
    // file), so it is not rotated at once.
    stored.onion_key_set_at = None;
    let (k4, _) =
        RelayKeys::load_or_create(&stored, "T", policy(), rot + 100 * DAY, &mut rng).unwrap();
    assert_eq!(k4.ntor_keys()[0].public(), k.ntor_keys()[0].public());
}

#[test]
fn tls_link_key_is_remade_every_two_hours() {
    let mut rng = StdRng::seed_from_u64(7);
    let mut k = RelayKeys::generate("T", policy(), t0(), &mut rng).unwrap();
    let cert = k.tls_cert_der().to_vec();
    assert_eq!(k.next_rotation(), t0() + 2 * HOUR);
    let r = k.rotate(t0() + 2 * HOUR, &mut rng).unwrap();
    assert!(r.tls_link && r.tls_changed() && !r.files_changed() && !r.signing_key);
    assert_ne!(k.tls_cert_der(), &cert[..]);
    check_link_identity(&k, t0() + 2 * HOUR);
}

#[test]
fn consensus_params_are_clamped_as_c_tor() {
    let p = KeyPolicy::default().with_consensus_params(Some(200), Some(100));
    assert_eq!(p.onion_key_lifetime, 90 * DAY);
    assert_eq!(p.onion_key_grace, 90 * DAY);
    let p = KeyPolicy::default().with_consensus_params(Some(3), Some(0));
    assert_eq!(p.onion_key_lifetime, 3 * DAY);
    assert_eq!(p.onion_key_grace, DAY);
    let p = KeyPolicy::default().with_consensus_params(None, None);
    assert_eq!(p, KeyPolicy::default());
}

/// Every certificate of the link identity verifies under the right key at `now`.
pub(super) fn check_link_identity(k: &RelayKeys, now: SystemTime) {
    let li = k.link_identity();
    assert_eq!(li.rsa_id(), k.rsa_id());
    assert_eq!(li.ed_identity, k.ed_id());
    // Type 4: self-signed by the master key, certifies the signing key.
    let c4 = Ed25519Cert::decode(&li.cert_id_signing)
        .unwrap()
        .check_signature(None)
        .unwrap()
        .check_valid_at(now)
        .unwrap();
    assert_eq!(c4.cert().cert_type(), CertType::IDENTITY_V_SIGNING);
    assert_eq!(c4.signing_key().as_bytes(), &k.ed_id().0);
    let signing = c4.certified_verifying_key().unwrap();
    assert_eq!(signing, *k.signing_key().verifying_key());
    // Type 5: signing key → SHA-256 of the TLS cert.
    let c5 = Ed25519Cert::decode(&li.cert_signing_tls)
        .unwrap()
        .check_signature(Some(&signing))
        .unwrap()
        .check_valid_at(now)
        .unwrap();
    assert_eq!(c5.cert().cert_type(), CertType::SIGNING_V_TLS_CERT);
    assert_eq!(c5.cert().raw_key_type(), CertKeyType::SHA256_OF_X509);
    let digest: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(&li.cert_tls_link).into();
    assert_eq!(c5.cert().certified_x509_digest().unwrap(), digest);
    // Type 6: signing key → auth key.
    let c6 = Ed25519Cert::decode(&li.cert_signing_auth)
        .unwrap()
        .check_signature(Some(&signing))
        .unwrap()
        .check_valid_at(now)
        .unwrap();
    assert_eq!(c6.cert().cert_type(), CertType::SIGNING_V_LINK_AUTH);
    assert_eq!(
        c6.certified_verifying_key().unwrap(),
        li.auth_key.verifying_key()
    );
    // Type 7: RSA identity → Ed25519 identity.
    let c7 = RsaCrosscert::decode(&li.cert_rsa_ed_cross)
        .unwrap()
        .check(&li.rsa_identity, &k.ed_id(), now)
        .unwrap();
    assert_eq!(c7.ed25519_key(), &k.ed_id());
    // Types 1 and 2: X.509, signed by the identity.
    let c2 = ParsedCert::parse(&li.cert_rsa_identity).unwrap();
    c2.check_signature(li.rsa_identity.as_rsa()).unwrap();
    assert_eq!(c2.rsa_bits().unwrap(), 1024);
    c2.check_valid_at(now, 2 * DAY, 30 * DAY).unwrap();
    let c1 = ParsedCert::parse(&li.cert_tls_link).unwrap();
    c1.check_signature(li.rsa_identity.as_rsa()).unwrap();
    assert_eq!(c1.rsa_key().unwrap(), rsa::RsaPublicKey::from(k.tls_key()));
    assert_eq!(li.cert_tls_link, k.tls_cert_der());
}

#[test]
fn fresh_link_identity_verifies() {
    let mut rng = StdRng::seed_from_u64(8);
    let k = RelayKeys::generate("T", policy(), t0(), &mut rng).unwrap();
    check_link_identity(&k, t0());
}

#[test]
fn truncated_files_are_errors_never_panics() {
    let mut rng = StdRng::seed_from_u64(9);
    let mut stored = StoredKeys::new();
    let (_, ops) = RelayKeys::load_or_create(&stored, "T", policy(), t0(), &mut rng).unwrap();
    apply(&mut stored, ops);
    for f in [
        KeyFile::SecretIdKey,
        KeyFile::MasterIdSecret,
        KeyFile::MasterIdPublic,
        KeyFile::SigningSecret,
        KeyFile::SigningCert,
        KeyFile::NtorOnion,
        KeyFile::TapOnion,
    ] {
        let full = stored.get(f).unwrap().to_vec();
        for cut in (0..full.len()).step_by(11) {
            let mut s = StoredKeys::new();
            for g in KeyFile::ALL {
                if let Some(c) = stored.get(g) {
                    let c = if g == f { &full[..cut] } else { c };
                    s.insert(g, zeroize::Zeroizing::new(c.to_vec()));
                }
            }
            let r = RelayKeys::load_or_create(&s, "T", policy(), t0(), &mut rng);
            assert!(r.is_err(), "{f} cut at {cut} was accepted");
        }
    }
}
