//! Cross-checks of `oniongate::cert` and `oniongate::crypto::rsa` against Arti's independent
//! implementation (`tor-cert`, `tor-llcrypto` 0.47): certificates built by either side parse
//! and verify on the other, and deterministic signatures are byte-identical.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, SystemTime};

use curve25519_dalek::scalar::Scalar;
use ed25519_dalek::hazmat::ExpandedSecretKey;
use ed25519_dalek::{SigningKey, VerifyingKey};
use oniongate::cert::{
    check_ntor_onion_key_crosscert, check_tap_onion_key_crosscert, make_ntor_onion_key_crosscert,
    make_tap_onion_key_crosscert, CertExt, CertKeyType, CertType, Ed25519Cert, Ed25519CertBuilder,
    ExtType, NtorCrosscertKey, RsaCrosscert,
};
use oniongate::crypto::ll::{X25519Public, X25519Secret};
use oniongate::crypto::rsa::{RsaKeypair, RsaPublic};
use oniongate::ids::Ed25519Identity;
use proptest::prelude::*;
use rand::SeedableRng;
use tor_checkable::{ExternallySigned, SelfSigned, TimeBound};
use tor_llcrypto::pk::{curve25519 as a_curve, ed25519 as a_ed, keymanip, rsa as a_rsa};

fn hours(h: u32) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(u64::from(h) * 3600)
}

fn a_id(k: &[u8; 32]) -> a_ed::Ed25519Identity {
    a_ed::Ed25519Identity::from(*k)
}

/// Our random certificate, checked by Arti.
fn ours_in_arti(
    cert_type: u8,
    key_type: u8,
    subject: [u8; 32],
    signer_seed: [u8; 32],
    exp: u32,
    include: bool,
    unknown_ext: Option<(u8, Vec<u8>)>,
) {
    let signer = SigningKey::from_bytes(&signer_seed);
    let mut b = Ed25519CertBuilder::new(CertType(cert_type), Ed25519Identity(subject))
        .certified_key(CertKeyType(key_type), subject)
        .expiry_hours(exp)
        .include_signing_key(include);
    if let Some((t, data)) = unknown_ext {
        b = b.extension(CertExt::Unrecognized {
            ext_type: ExtType(t),
            flags: 0,
            data,
        });
    }
    let bytes = b.sign(&signer).unwrap();
    // Ours round-trips.
    let ours = Ed25519Cert::decode(&bytes).unwrap();
    assert_eq!(ours.encode().unwrap(), bytes);
    ours.check_signature(Some(&signer.verifying_key()))
        .unwrap()
        .check_valid_at(hours(exp))
        .unwrap();
    // Arti accepts it.
    let signer_id = a_id(signer.verifying_key().as_bytes());
    let unchecked = tor_cert::Ed25519Cert::decode(&bytes).unwrap();
    let unchecked = if include {
        unchecked.should_have_signing_key().unwrap()
    } else {
        unchecked.should_be_signed_with(&signer_id).unwrap()
    };
    let cert = unchecked
        .check_signature()
        .unwrap()
        .if_valid_at(&hours(exp))
        .unwrap();
    assert_eq!(u8::from(cert.cert_type()), cert_type);
    assert_eq!(cert.subject_key().as_bytes(), &subject[..]);
    assert_eq!(cert.signing_key(), Some(&signer_id));
    assert_eq!(cert.expiry(), hours(exp));
    assert!(cert.is_expired_at(hours(exp) + Duration::from_secs(1)));
}

/// Arti's certificate, checked by us; and our builder gives the same bytes.
fn arti_in_ours(cert_type: u8, subject: [u8; 32], signer_seed: [u8; 32], t: SystemTime) {
    let a_kp = a_ed::Keypair::from_bytes(&signer_seed);
    let signer_id = a_id(a_kp.verifying_key().as_bytes());
    let encoded = tor_cert::Ed25519Cert::builder()
        .cert_type(cert_type.into())
        .cert_key(tor_cert::CertifiedKey::Ed25519(a_id(&subject)))
        .expiration(t)
        .signing_key(signer_id)
        .encode_and_sign(&a_kp)
        .unwrap();
    let bytes: Vec<u8> = encoded.into();
    let c = Ed25519Cert::decode(&bytes).unwrap();
    assert_eq!(c.encode().unwrap(), bytes);
    let v = c.check_signature(None).unwrap().check_valid_at(t).unwrap();
    assert_eq!(v.cert().raw_certified_key(), &subject);
    assert_eq!(v.cert().raw_key_type(), CertKeyType::ED25519_KEY);
    assert_eq!(v.signing_key().as_bytes(), a_kp.verifying_key().as_bytes());
    // Same fields, same key: Ed25519 is deterministic, so the encodings are identical.
    let ours = Ed25519CertBuilder::new(CertType(cert_type), Ed25519Identity(subject))
        .expiration(t)
        .unwrap()
        .include_signing_key(true)
        .sign(&SigningKey::from_bytes(&signer_seed))
        .unwrap();
    assert_eq!(ours, bytes);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_certs_ours_verify_in_arti(
        cert_type in any::<u8>(),
        key_type in prop_oneof![Just(1u8), Just(2u8), Just(3u8)],
        subject in any::<[u8; 32]>(),
        seed in any::<[u8; 32]>(),
        exp in 1u32..u32::MAX,
        include in any::<bool>(),
        ext in proptest::option::of((5u8..=255, proptest::collection::vec(any::<u8>(), 0..40))),
    ) {
        ours_in_arti(cert_type, key_type, subject, seed, exp, include, ext);
    }

    #[test]
    fn random_certs_arti_verify_in_ours(
        cert_type in any::<u8>(),
        subject in any::<[u8; 32]>(),
        seed in any::<[u8; 32]>(),
        secs in 0u64..(u64::from(u32::MAX) * 3600 - 3600),
        nanos in 0u32..1_000_000_000,
    ) {
        arti_in_ours(cert_type, subject, seed, SystemTime::UNIX_EPOCH + Duration::new(secs, nanos));
    }
}

#[test]
fn blinded_key_type08_matches_arti() {
    // An onion-service style expanded (blinded) key: blind with Arti, sign with both.
    for i in 0u8..4 {
        let kp = a_ed::Keypair::from_bytes(&[i.wrapping_mul(13).wrapping_add(1); 32]);
        let expanded = a_ed::ExpandedKeypair::from(&kp);
        let blinded = keymanip::blind_keypair(&expanded, [i ^ 0x55; 32]).unwrap();
        let desc_signing = a_ed::Keypair::from_bytes(&[i ^ 0xaa; 32]).verifying_key();
        let t = hours(470_000 + u32::from(i));
        let arti_bytes: Vec<u8> = tor_cert::Ed25519Cert::builder()
            .cert_type(tor_cert::CertType::HS_BLINDED_ID_V_SIGNING)
            .cert_key(tor_cert::CertifiedKey::Ed25519(desc_signing.into()))
            .expiration(t)
            .signing_key(blinded.public().into())
            .encode_and_sign(&blinded)
            .unwrap()
            .into();
        // Our expanded-key signing with the same scalar and prefix.
        let sk = blinded.to_secret_key_bytes();
        let esk = ExpandedSecretKey {
            scalar: Scalar::from_bytes_mod_order(sk[..32].try_into().unwrap()),
            hash_prefix: sk[32..].try_into().unwrap(),
        };
        let public = VerifyingKey::from_bytes(blinded.public().as_bytes()).unwrap();
        let ours = Ed25519CertBuilder::new(
            CertType::HS_BLINDED_ID_V_SIGNING,
            Ed25519Identity(desc_signing.to_bytes()),
        )
        .expiration(t)
        .unwrap()
        .include_signing_key(true)
        .sign_expanded(&esk, &public)
        .unwrap();
        assert_eq!(ours, arti_bytes);
        Ed25519Cert::decode(&arti_bytes)
            .unwrap()
            .check_signature(Some(&public))
            .unwrap()
            .check_valid_at(t)
            .unwrap();
    }
}

#[test]
fn ntor_crosscert_matches_arti() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x0a);
    for _ in 0..16 {
        let mut raw = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rng, &mut raw);
        let ours_secret = X25519Secret::from(raw);
        let ours = NtorCrosscertKey::derive(&ours_secret).unwrap();
        // Arti hashes the secret bytes as given; C tor's stored secrets are clamped, so
        // compare on the clamped form (where C tor, Arti and we agree).
        let clamped = curve25519_dalek::scalar::clamp_integer(raw);
        let (a_kp, a_bit) =
            keymanip::convert_curve25519_to_ed25519_private(&a_curve::StaticSecret::from(clamped))
                .unwrap();
        assert_eq!(a_kp.public().as_bytes(), ours.public().as_bytes());
        assert_eq!(a_bit, ours.sign_bit());
        let a_sk = a_kp.to_secret_key_bytes();
        assert_eq!(a_sk[32..], ours.expanded_secret().hash_prefix[..]);
        // Public conversion agrees.
        let pk = a_curve::PublicKey::from(&a_curve::StaticSecret::from(clamped));
        let a_pub = keymanip::convert_curve25519_to_ed25519_public(&pk, a_bit).unwrap();
        assert_eq!(a_pub.as_bytes(), ours.public().as_bytes());

        // A type-0A cert made by Arti verifies in ours, and ours is byte-identical.
        let identity = Ed25519Identity([0x42; 32]);
        let t = hours(480_000);
        let arti_bytes: Vec<u8> = tor_cert::Ed25519Cert::builder()
            .cert_type(tor_cert::CertType::NTOR_CC_IDENTITY)
            .cert_key(tor_cert::CertifiedKey::Ed25519(a_id(&identity.0)))
            .expiration(t)
            .encode_and_sign(&a_kp)
            .unwrap()
            .into();
        let x_pub = X25519Public::from(&ours_secret);
        check_ntor_onion_key_crosscert(&arti_bytes, &x_pub, a_bit, &identity, t).unwrap();
        let (ours_bytes, bit) = make_ntor_onion_key_crosscert(&ours_secret, &identity, t).unwrap();
        assert_eq!(bit, a_bit);
        assert_eq!(ours_bytes, arti_bytes);
    }
}

fn rsa_pair(seed: u64) -> (RsaKeypair, a_rsa::KeyPair, a_rsa::PublicKey) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let ours = RsaKeypair::generate(&mut rng).unwrap();
    let der = ours.to_der().unwrap();
    let arti = a_rsa::KeyPair::from_der(&der).unwrap();
    let arti_pub = a_rsa::PublicKey::from_der(&ours.public().to_der()).unwrap();
    (ours, arti, arti_pub)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4))]

    #[test]
    fn rsa_fingerprint_and_crosscerts_match_arti(seed in any::<u64>(), ed in any::<[u8; 32]>(), exp_secs in 1_000_000u64..4_000_000_000) {
        let (ours, arti, arti_pub) = rsa_pair(seed);
        let pk = ours.public();
        // DER, fingerprint, size.
        prop_assert_eq!(arti_pub.to_der(), pk.to_der());
        prop_assert_eq!(arti_pub.to_rsa_identity().to_bytes(), pk.fingerprint().0);
        prop_assert_eq!(arti_pub.bits(), 1024);
        prop_assert_eq!(arti.to_public_key().to_der(), pk.to_der());

        // RSA->Ed25519 crosscert: both sides produce identical bytes, each verifies the other.
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(exp_secs);
        let ours_cc = RsaCrosscert::sign(&ours, &Ed25519Identity(ed), t).unwrap();
        let arti_cc: Vec<u8> =
            tor_cert::rsa::EncodedRsaCrosscert::encode_and_sign(&arti, &a_id(&ed), t)
                .unwrap()
                .into();
        prop_assert_eq!(&ours_cc, &arti_cc);
        let checked = tor_cert::rsa::RsaCrosscert::decode(&ours_cc)
            .unwrap()
            .check_signature(&arti_pub)
            .unwrap()
            .if_valid_at(&t)
            .unwrap();
        prop_assert!(checked.subject_key_matches(&a_id(&ed)));
        let v = RsaCrosscert::decode(&arti_cc)
            .unwrap()
            .check_signature(&pk)
            .unwrap()
            .check_valid_at(t)
            .unwrap();
        prop_assert_eq!(v.ed25519_key(), &Ed25519Identity(ed));

        // Prefixless signatures over a digest verify in Arti; Arti's verify in ours.
        let digest = [seed as u8; 20];
        let sig = ours.sign(&digest).unwrap();
        prop_assert!(arti_pub.verify(&digest, &sig).is_ok());
        prop_assert_eq!(&arti.sign(&digest).unwrap(), &sig);
        prop_assert!(pk.verify(&digest, &sig).is_ok());

        // TAP onion-key crosscert: Arti checks the recovered 52 bytes exactly.
        let id = pk.fingerprint();
        let tap_sig = make_tap_onion_key_crosscert(&ours, &id, &Ed25519Identity(ed)).unwrap();
        let mut data = id.0.to_vec();
        data.extend_from_slice(&ed);
        prop_assert!(arti_pub.verify(&data, &tap_sig).is_ok());
        prop_assert!(check_tap_onion_key_crosscert(&tap_sig, &pk, &id, &Ed25519Identity(ed)).is_ok());
        let arti_tap = arti.sign(&data).unwrap();
        prop_assert!(check_tap_onion_key_crosscert(&arti_tap, &pk, &id, &Ed25519Identity(ed)).is_ok());

        // Private key PEM round trip.
        let pem = ours.to_pem().unwrap();
        prop_assert_eq!(RsaKeypair::from_pem(&pem).unwrap().public(), RsaPublic::from_der(&arti_pub.to_der()).unwrap());
    }
}
