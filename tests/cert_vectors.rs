//! Vector tests for `oniongate::cert` and `oniongate::crypto::rsa`: certificates captured
//! from C tor (via Arti's test data), C tor's own unit-test keys and ed25519 vectors, and a
//! C tor relay descriptor. Sources are named in each vector file's header.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use ed25519_dalek::VerifyingKey;
use oniongate::cert::{
    self, check_ntor_onion_key_crosscert, check_tap_onion_key_crosscert,
    ed25519_from_curve25519_public, make_ntor_onion_key_crosscert, make_tap_onion_key_crosscert,
    CertError, CertKeyType, CertType, Ed25519Cert, Ed25519CertBuilder, RsaCrosscert,
};
use oniongate::crypto::ll::{X25519Public, X25519Secret};
use oniongate::crypto::rsa::{self, RsaError, RsaKeypair, RsaPublic};
use oniongate::ids::{Ed25519Identity, RsaIdentity};
use oniongate::wire::DecodeError;
use sha1::{Digest as _, Sha1};

fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

fn b64(s: &str) -> Vec<u8> {
    let s = s.trim_end_matches('=');
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(s)
        .expect("base64")
}

fn vk(bytes: &[u8]) -> VerifyingKey {
    VerifyingKey::from_bytes(bytes.try_into().expect("32 bytes")).expect("valid point")
}

/// Rebuilds a PEM object from a vector's joined base64 body, 64 columns as C tor writes.
fn pem(label: &str, body: &str) -> String {
    let mut s = format!("-----BEGIN {label}-----\n");
    for chunk in body.as_bytes().chunks(64) {
        s.push_str(std::str::from_utf8(chunk).expect("ascii"));
        s.push('\n');
    }
    s.push_str(&format!("-----END {label}-----\n"));
    s
}

#[test]
fn arti_ed25519_and_crosscert_vectors() {
    let mut seen = (0, 0, 0);
    for r in common::load("cert_arti_testvec.txt") {
        let bytes = r.hex("cert");
        match r.str("kind") {
            "ed25519" => {
                seen.0 += 1;
                let c = Ed25519Cert::decode(&bytes).unwrap_or_else(|e| panic!("{}: {e}", r.at()));
                assert_eq!(c.encode().unwrap(), bytes, "{}", r.at());
                let cert_type = CertType(r.hex("cert_type")[0]);
                assert_eq!(c.peek().cert_type(), cert_type, "{}", r.at());
                let given = r.get("signing_key").map(|_| vk(&r.hex("signing_key")));
                let v = c
                    .check_signature(given.as_ref())
                    .unwrap_or_else(|e| panic!("{}: {e}", r.at()))
                    .check_valid_at(at(r.str("valid_at").parse().unwrap()))
                    .unwrap_or_else(|e| panic!("{}: {e}", r.at()));
                assert_eq!(v.signing_key().as_bytes()[..], r.hex("signed_with")[..]);
                let ck = v.cert().certified_key();
                assert_eq!(
                    ck.key_type(),
                    CertKeyType(r.hex("key_type")[0]),
                    "{}",
                    r.at()
                );
                assert_eq!(
                    v.cert().raw_certified_key()[..],
                    r.hex("certified_key")[..],
                    "{}",
                    r.at()
                );
                assert_eq!(v.cert().expiry(), at(r.str("expiry").parse().unwrap()));
                // One second after expiry it is refused.
                let late = v.cert().expiry() + Duration::from_secs(1);
                let again = Ed25519Cert::decode(&bytes).unwrap();
                assert!(matches!(
                    again
                        .check_signature(given.as_ref())
                        .unwrap()
                        .check_valid_at(late),
                    Err(CertError::Expired { .. })
                ));
            }
            "rsa_crosscert" => {
                seen.1 += 1;
                let key = RsaPublic::from_der(&r.hex("rsa_key")).unwrap();
                key.check_identity_size().unwrap();
                assert_eq!(key.to_der(), r.hex("rsa_key"));
                assert_eq!(key.fingerprint().0[..], r.hex("rsa_fingerprint")[..]);
                let wrong = RsaPublic::from_der(&r.hex("wrong_rsa_key")).unwrap();
                let c = RsaCrosscert::decode(&bytes).unwrap();
                assert_eq!(c.peek().encode().unwrap(), bytes);
                assert_eq!(
                    c.peek().expiry_hours(),
                    u32::from_be_bytes(r.hex_array("expiry_hours"))
                );
                assert_eq!(
                    c.clone().check_signature(&wrong),
                    Err(CertError::BadSignature),
                    "{}",
                    r.at()
                );
                let v = c
                    .check_signature(&key)
                    .unwrap()
                    .check_valid_at(at(r.str("valid_at").parse().unwrap()))
                    .unwrap();
                assert_eq!(v.ed25519_key().0, r.hex_array::<32>("ed25519_key"));
                let late = v.expiry() + Duration::from_secs(1);
                assert!(matches!(
                    RsaCrosscert::decode(&bytes)
                        .unwrap()
                        .check_signature(&key)
                        .unwrap()
                        .check_valid_at(late),
                    Err(CertError::Expired { .. })
                ));
            }
            "invalid" => {
                seen.2 += 1;
                let decoded = Ed25519Cert::decode(&bytes);
                let err = match r.str("step") {
                    "decode" => decoded.expect_err(&r.at()),
                    "signature" => {
                        let given = r.get("signing_key").map(|_| vk(&r.hex("signing_key")));
                        decoded
                            .unwrap()
                            .check_signature(given.as_ref())
                            .expect_err(&r.at())
                    }
                    "time" => decoded
                        .unwrap()
                        .check_signature(None)
                        .unwrap()
                        .check_valid_at(at(r.str("valid_at").parse().unwrap()))
                        .expect_err(&r.at()),
                    s => panic!("{}: unknown step {s}", r.at()),
                };
                let ok = match r.str("error") {
                    "version" => matches!(err, CertError::UnsupportedVersion(3)),
                    "malformed" => matches!(err, CertError::Malformed(_)),
                    "critical_extension" => {
                        matches!(err, CertError::UnrecognizedCriticalExtension(_))
                    }
                    "key_mismatch" => err == CertError::KeyMismatch,
                    "missing_key" => err == CertError::MissingSigningKey,
                    "expired" => matches!(err, CertError::Expired { .. }),
                    e => panic!("{}: unknown error kind {e}", r.at()),
                };
                assert!(ok, "{}: got {err:?}", r.at());
            }
            k => panic!("{}: unknown kind {k}", r.at()),
        }
    }
    assert_eq!(seen, (2, 1, 6));
}

#[test]
fn ctor_test_data_rsa_keys() {
    let records = common::load("rsa_ctor_test_data.txt");
    assert_eq!(records.len(), 3);
    for r in records {
        let sk = RsaKeypair::from_pem(&pem("RSA PRIVATE KEY", r.str("signing_private_pem")))
            .unwrap_or_else(|e| panic!("{}: {e}", r.at()));
        let spk = RsaPublic::from_pem(&pem("RSA PUBLIC KEY", r.str("signing_public_pem"))).unwrap();
        assert_eq!(sk.public(), spk, "{}", r.at());
        spk.check_identity_size().unwrap();
        assert!(spk.exponent_is(65537));
        // PEM written by us is byte-identical to C tor's.
        assert_eq!(
            spk.to_pem(),
            pem("RSA PUBLIC KEY", r.str("signing_public_pem"))
        );
        assert_eq!(
            *sk.to_pem().unwrap(),
            pem("RSA PRIVATE KEY", r.str("signing_private_pem")),
            "{}",
            r.at()
        );
        if let Some(d) = r.get("signing_key_sha1") {
            assert_eq!(spk.fingerprint().to_hex().to_lowercase(), d);
        }
        let idk =
            RsaPublic::from_pem(&pem("RSA PUBLIC KEY", r.str("identity_public_pem"))).unwrap();
        assert_eq!(idk.bits(), 3072);
        assert_eq!(
            idk.check_identity_size(),
            Err(RsaError::WrongSize { bits: 3072 })
        );
        let fp = idk.fingerprint();
        assert_eq!(fp.0[..], r.hex("identity_fingerprint")[..], "{}", r.at());
        // dir-key-crosscert: deterministic prefixless signature by the signing key.
        let cc = b64(r.str("crosscert_sig"));
        assert_eq!(sk.sign(&fp.0).unwrap(), cc, "{}", r.at());
        spk.verify(&fp.0, &cc).unwrap();
        assert_eq!(spk.verify(&fp.0[..19], &cc), Err(RsaError::BadSignature));
        // dir-key-certification: 3072-bit identity over SHA1 of the certificate text.
        let digest = Sha1::digest(r.hex("certified_text_hex"));
        idk.verify(&digest, &b64(r.str("certification_sig")))
            .unwrap_or_else(|e| panic!("{}: {e}", r.at()));
    }
}

#[test]
fn curve25519_to_ed25519_vectors() {
    let records = common::load("cert_curve25519_to_ed25519.txt");
    assert_eq!(records.len(), 10);
    for r in records {
        let ed: [u8; 32] = r.hex_array("ed25519_public");
        let cu = X25519Public::from(r.hex_array::<32>("curve25519_public"));
        let bit = ed[31] >> 7;
        let got = ed25519_from_curve25519_public(&cu, bit).unwrap();
        assert_eq!(got.to_bytes(), ed, "{}", r.at());
        // The seed's own public key is the same point.
        let sk = ed25519_dalek::SigningKey::from_bytes(&r.hex_array("ed25519_seed"));
        assert_eq!(sk.verifying_key().to_bytes(), ed, "{}", r.at());
        // The other sign bit gives the negated point, never the same key.
        if let Ok(other) = ed25519_from_curve25519_public(&cu, bit ^ 1) {
            assert_ne!(other.to_bytes(), ed);
        }
    }
}

#[test]
fn relay_descriptor_certs() {
    let records = common::load("cert_descriptors.txt");
    let mut relays = 0;
    for r in records
        .iter()
        .filter(|r| r.str("name").starts_with("routerdesc"))
    {
        relays += 1;
        check_relay_descriptor(r);
    }
    assert_eq!(relays, 3);

    // Onion-service descriptor signing key cert (type 08, blinded key in its extension).
    let r = records
        .iter()
        .find(|r| r.str("name") == "hsdesc1")
        .expect("hsdesc1 record");
    let hs = b64(r.str("hs_signing_cert"));
    let c = Ed25519Cert::decode(&hs).unwrap();
    assert_eq!(c.encode().unwrap(), hs);
    assert_eq!(c.peek().cert_type(), CertType::HS_BLINDED_ID_V_SIGNING);
    let v = c
        .check_signature(None)
        .unwrap()
        .check_valid_at(at(r.str("valid_at").parse().unwrap()))
        .unwrap();
    assert_eq!(
        Some(Ed25519Identity(v.signing_key().to_bytes())),
        v.cert().included_signing_key()
    );
    v.certified_verifying_key().unwrap();
}

fn check_relay_descriptor(r: &common::Record) {
    let now = at(r.str("valid_at").parse().unwrap());

    // RSA identity (signing-key), its fingerprint in both forms.
    let id_pem = pem("RSA PUBLIC KEY", r.str("signing_key_pem"));
    let id = RsaPublic::from_pem(&id_pem).unwrap();
    id.check_identity_size().unwrap();
    assert_eq!(id.to_pem(), id_pem, "{}", r.at());
    let fp = id.fingerprint();
    assert_eq!(
        rsa::spaced_fingerprint(&fp),
        r.str("fingerprint"),
        "{}",
        r.at()
    );
    assert_eq!(
        rsa::parse_spaced_fingerprint(r.str("fingerprint")),
        Some(fp)
    );

    // router-signature: prefixless RSA over SHA1 of the text through "router-signature\n".
    let digest = Sha1::digest(r.hex("signed_text_hex"));
    let sig = b64(r.str("router_signature"));
    id.verify(&digest, &sig)
        .unwrap_or_else(|e| panic!("{}: {e}", r.at()));
    assert_eq!(&id.recover(&sig).unwrap()[..], &digest[..]);

    // identity-ed25519 (type 04, signed by the master key in its extension).
    let master = Ed25519Identity::from_base64(r.str("master_key")).unwrap();
    let id_cert_bytes = b64(r.str("identity_cert"));
    let c = Ed25519Cert::decode(&id_cert_bytes).unwrap();
    assert_eq!(c.encode().unwrap(), id_cert_bytes);
    assert_eq!(c.peek().included_signing_key(), Some(master));
    let v = c
        .check_signature(Some(&vk(&master.0)))
        .unwrap()
        .check_valid_at(now)
        .unwrap_or_else(|e| panic!("{}: {e}", r.at()));
    assert_eq!(v.cert().cert_type(), CertType::IDENTITY_V_SIGNING);
    // The armored form round-trips through our PEM writer, byte for byte.
    let armored = v.cert().encode_pem().unwrap();
    assert_eq!(
        Ed25519Cert::decode_pem(&armored).unwrap().encode().unwrap(),
        id_cert_bytes
    );
    assert_eq!(armored, pem("ED25519 CERT", r.str("identity_cert")));

    // ntor-onion-key-crosscert (type 0A), certifying the master key.
    let ntor = X25519Public::from(<[u8; 32]>::try_from(b64(r.str("ntor_onion_key"))).unwrap());
    let bit: u8 = r.str("ntor_sign_bit").parse().unwrap();
    let ntor_cc = b64(r.str("ntor_crosscert"));
    let v = check_ntor_onion_key_crosscert(&ntor_cc, &ntor, bit, &master, now)
        .unwrap_or_else(|e| panic!("{}: {e}", r.at()));
    assert_eq!(v.cert().encode().unwrap(), ntor_cc);
    assert!(v.cert().included_signing_key().is_none());
    assert!(check_ntor_onion_key_crosscert(&ntor_cc, &ntor, bit ^ 1, &master, now).is_err());

    // onion-key-crosscert: TAP key over SHA1(DER(identity)) | master key.
    if let Some(tap_pem) = r.get("onion_key_pem") {
        let tap = RsaPublic::from_pem(&pem("RSA PUBLIC KEY", tap_pem)).unwrap();
        tap.check_identity_size().unwrap();
        let tap_cc = b64(r.str("onion_key_crosscert"));
        check_tap_onion_key_crosscert(&tap_cc, &tap, &fp, &master)
            .unwrap_or_else(|e| panic!("{}: {e}", r.at()));
        assert_eq!(
            check_tap_onion_key_crosscert(&tap_cc, &tap, &RsaIdentity([1; 20]), &master),
            Err(CertError::BadSignature)
        );
        assert_eq!(
            check_tap_onion_key_crosscert(&tap_cc, &id, &fp, &master),
            Err(CertError::BadSignature)
        );
    }

    // family-cert (type 0C): family key (in the extension) certifies the relay identity.
    for key in ["family_cert_1", "family_cert_2"] {
        let Some(fc) = r.get(key) else { continue };
        let bytes = b64(fc);
        let c = Ed25519Cert::decode(&bytes).unwrap();
        assert_eq!(c.encode().unwrap(), bytes);
        let v = c
            .check_signature(None)
            .unwrap()
            .check_valid_at(now)
            .unwrap_or_else(|e| panic!("{}: {e}", r.at()));
        assert_eq!(v.cert().cert_type(), CertType::FAMILY_V_IDENTITY);
        assert_eq!(v.cert().certified_ed25519().unwrap(), master);
    }
}

#[test]
fn ctor_0_4_9_11_relay_creation_is_byte_exact() {
    let records = common::load("cert_ctor_relay.txt");
    let r = &records[0];
    let now = at(r.str("valid_at").parse().unwrap());
    let text = r.hex("signed_text_hex");

    // secret_id_key as C tor writes it (with its trailing NUL) loads; our PEM matches.
    let file = format!("{}\0", pem("RSA PRIVATE KEY", r.str("secret_id_key_pem")));
    let id = RsaKeypair::from_pem(&file).unwrap();
    assert_eq!(format!("{}\0", *id.to_pem().unwrap()), file);
    let pk = id.public();
    pk.check_identity_size().unwrap();
    assert!(pk.exponent_is(65537));
    assert_eq!(pk.fingerprint().0[..], r.hex("fingerprint")[..]);
    assert_eq!(
        rsa::spaced_fingerprint(&pk.fingerprint()),
        r.str("fingerprint_spaced")
    );
    assert_eq!(pk.to_pem(), pem("RSA PUBLIC KEY", r.str("signing_key_pem")));

    // router-signature: our signature over SHA1(text) is C tor's, byte for byte.
    let sig = b64(r.str("router_signature"));
    assert_eq!(id.sign(&Sha1::digest(&text)).unwrap(), sig);
    pk.verify(&Sha1::digest(&text), &sig).unwrap();

    // identity-ed25519: same as keys/ed25519_signing_cert; re-signing it with the master
    // key (C tor's expanded form) through our builder reproduces it exactly.
    let master = Ed25519Identity(r.hex_array("master_public"));
    assert_eq!(
        Ed25519Identity::from_base64(r.str("master_public_b64")),
        Some(master)
    );
    let cert = b64(r.str("identity_cert"));
    assert_eq!(cert, r.hex("signing_cert_file"));
    let c = Ed25519Cert::decode(&cert).unwrap();
    let fields = c.peek().clone();
    c.check_signature(None)
        .unwrap()
        .check_valid_at(now)
        .unwrap();
    let esk = ed25519_dalek::hazmat::ExpandedSecretKey::from_bytes(
        &r.hex_array::<64>("master_secret_expanded"),
    );
    let master_vk = VerifyingKey::from(&esk);
    assert_eq!(master_vk.to_bytes(), master.0);
    let rebuilt = Ed25519CertBuilder::new(
        CertType::IDENTITY_V_SIGNING,
        fields.certified_ed25519().unwrap(),
    )
    .expiry_hours(fields.expiry_hours())
    .include_signing_key(true)
    .sign_expanded(&esk, &master_vk)
    .unwrap();
    assert_eq!(rebuilt, cert);

    // ntor-onion-key-crosscert: derived from keys/secret_onion_key_ntor, same bytes and bit.
    let ntor_secret = X25519Secret::from(r.hex_array::<32>("ntor_secret"));
    let ntor_public = X25519Public::from(&ntor_secret);
    assert_eq!(ntor_public.to_bytes(), r.hex_array::<32>("ntor_public"));
    assert_eq!(b64(r.str("ntor_onion_key")), r.hex("ntor_public"));
    let cc = b64(r.str("ntor_crosscert"));
    let expiry = Ed25519Cert::decode(&cc).unwrap().peek().expiry();
    let (ours, bit) = make_ntor_onion_key_crosscert(&ntor_secret, &master, expiry).unwrap();
    assert_eq!(bit.to_string(), r.str("ntor_sign_bit"));
    assert_eq!(ours, cc);
    check_ntor_onion_key_crosscert(&cc, &ntor_public, bit, &master, now).unwrap();

    // onion-key-crosscert: our TAP signature is C tor's.
    let tap = RsaKeypair::from_pem(&pem("RSA PRIVATE KEY", r.str("secret_onion_key_pem"))).unwrap();
    assert_eq!(
        tap.public().to_pem(),
        pem("RSA PUBLIC KEY", r.str("onion_key_pem"))
    );
    let tap_cc = b64(r.str("onion_key_crosscert"));
    assert_eq!(
        make_tap_onion_key_crosscert(&tap, &pk.fingerprint(), &master).unwrap(),
        tap_cc
    );
    check_tap_onion_key_crosscert(&tap_cc, &tap.public(), &pk.fingerprint(), &master).unwrap();

    // And the RSA->Ed25519 crosscert this relay would put in CERTS verifies both ways.
    let t7 = RsaCrosscert::sign(&id, &master, now).unwrap();
    RsaCrosscert::decode(&t7)
        .unwrap()
        .check(&pk, &master, now)
        .unwrap();
}

#[test]
fn malformed_variants_fail_with_the_right_kind() {
    let base = Ed25519Cert::decode(
        &b64("AQQABxOlAb3Hdq5p+lCMYbZaNNBJr5/T/Bt2b3R40y5ueIuxe8LEAQAgBAAJVON/Wh5ovrXqEf7X5S9hnw6CTAXfPtQwhO8nObmvsITK79GLZMVmqV11C4/ckeybf0n2f20GqAkLzzzo38QPGcxPQvxxmP1MRIKZqU5JOvr0ZAo5fUnCSWcPh2kgwgE="),
    )
    .unwrap()
    .encode()
    .unwrap();
    // Two signed-with-key extensions: C tor refuses.
    let mut dup = base[..40].to_vec();
    dup[39] = 2; // N_EXTENSIONS
    dup.extend_from_slice(&base[40..76]);
    dup.extend_from_slice(&base[40..76]);
    dup.extend_from_slice(&base[76..]);
    assert!(matches!(
        Ed25519Cert::decode(&dup),
        Err(CertError::Malformed(DecodeError::Invalid { .. }))
    ));
    // An extension that runs past the end.
    let mut trunc = base[..40].to_vec();
    trunc.extend_from_slice(&[0x01, 0x00, 0x05, 0x00]);
    assert!(matches!(
        Ed25519Cert::decode(&trunc),
        Err(CertError::Malformed(DecodeError::Truncated { .. }))
    ));
    // Unknown extension without the flag survives a round trip; the cert still verifies
    // only if re-signed, so just check decoding.
    let mut unk = base[..40].to_vec();
    unk[39] = 2;
    unk.extend_from_slice(&base[40..76]);
    unk.extend_from_slice(&[0x00, 0x02, 0x77, 0x02, 0xab, 0xcd]);
    unk.extend_from_slice(&base[76..]);
    let c = Ed25519Cert::decode(&unk).unwrap();
    assert_eq!(c.encode().unwrap(), unk);
    assert_eq!(c.check_signature(None), Err(CertError::BadSignature));
    // Key type 01 in a type-05 certificate means an X.509 digest (cert-spec A.4).
    let mut t5 = base.clone();
    t5[1] = 5;
    let c = Ed25519Cert::decode(&t5).unwrap();
    assert_eq!(
        c.peek().certified_key().key_type(),
        CertKeyType::SHA256_OF_X509
    );
    assert!(matches!(
        c.peek().certified_ed25519(),
        Err(CertError::WrongKeyType { .. })
    ));
    assert!(cert::Ed25519Cert::decode_pem("not a cert").is_err());
}

mod props {
    use super::*;
    use oniongate::cert::armor;
    use proptest::prelude::*;

    /// A structurally valid certificate: random fields, random extensions (no critical
    /// unknown ones, at most one signed-with-key), random signature.
    fn arb_cert_bytes() -> impl Strategy<Value = Vec<u8>> {
        (
            any::<u8>(),
            any::<u32>(),
            any::<u8>(),
            any::<[u8; 32]>(),
            proptest::option::of(any::<[u8; 32]>()),
            proptest::collection::vec(
                (
                    5u8..=255,
                    any::<u8>(),
                    proptest::collection::vec(any::<u8>(), 0..48),
                ),
                0..4,
            ),
            proptest::collection::vec(any::<u8>(), 64),
        )
            .prop_map(|(ct, exp, kt, key, signer, exts, sig)| {
                let mut v = vec![1, ct];
                v.extend_from_slice(&exp.to_be_bytes());
                v.push(kt);
                v.extend_from_slice(&key);
                v.push(u8::try_from(exts.len() + usize::from(signer.is_some())).unwrap());
                if let Some(k) = signer {
                    v.extend_from_slice(&[0, 32, 4, 0]);
                    v.extend_from_slice(&k);
                }
                for (t, flags, data) in exts {
                    v.extend_from_slice(&u16::try_from(data.len()).unwrap().to_be_bytes());
                    v.push(t);
                    v.push(flags & !1);
                    v.extend_from_slice(&data);
                }
                v.extend_from_slice(&sig);
                v
            })
    }

    proptest! {
        #[test]
        fn cert_round_trip(bytes in arb_cert_bytes()) {
            let c = Ed25519Cert::decode(&bytes).unwrap();
            prop_assert_eq!(c.encode().unwrap(), bytes.clone());
            let pem = c.peek().encode_pem().unwrap();
            prop_assert_eq!(Ed25519Cert::decode_pem(&pem).unwrap().encode().unwrap(), bytes.clone());
            // A bad signature is reported as such, never as a panic.
            let _ = c.check_signature(None);
        }

        #[test]
        fn cert_truncations_and_mutations_never_panic(
            bytes in arb_cert_bytes(),
            cut in any::<prop::sample::Index>(),
            flip in any::<(prop::sample::Index, u8)>(),
        ) {
            let n = cut.index(bytes.len());
            prop_assert!(Ed25519Cert::decode(&bytes[..n]).is_err());
            let mut m = bytes.clone();
            let i = flip.0.index(m.len());
            m[i] ^= flip.1 | 1;
            if let Ok(c) = Ed25519Cert::decode(&m) {
                prop_assert_eq!(c.encode().unwrap(), m.clone());
                let _ = c.check_signature(None).map(|s| s.check_valid_at(SystemTime::UNIX_EPOCH));
            }
        }

        #[test]
        fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..400)) {
            if let Ok(c) = Ed25519Cert::decode(&data) {
                prop_assert_eq!(c.encode().unwrap(), data.clone());
                let _ = c.check_signature(None);
            }
            if let Ok(c) = RsaCrosscert::decode(&data) {
                prop_assert_eq!(c.peek().encode().unwrap(), data.clone());
            }
            let _ = RsaPublic::from_der(&data);
            let _ = RsaKeypair::from_der(&data);
            let text = String::from_utf8_lossy(&data);
            let _ = Ed25519Cert::decode_pem(&text);
            let _ = RsaPublic::from_pem(&text);
            let _ = armor::decode("ED25519 CERT", &format!("-----BEGIN ED25519 CERT-----\n{text}\n-----END ED25519 CERT-----\n"));
        }

        #[test]
        fn crosscert_round_trip(
            key in any::<[u8; 32]>(),
            exp in any::<u32>(),
            sig in proptest::collection::vec(any::<u8>(), 0..=255),
        ) {
            let mut v = key.to_vec();
            v.extend_from_slice(&exp.to_be_bytes());
            v.push(u8::try_from(sig.len()).unwrap());
            v.extend_from_slice(&sig);
            let c = RsaCrosscert::decode(&v).unwrap();
            prop_assert_eq!(c.peek().encode().unwrap(), v.clone());
            prop_assert_eq!(c.peek().expiry_hours(), exp);
            for n in 0..v.len() {
                prop_assert!(RsaCrosscert::decode(&v[..n]).is_err());
            }
            let mut long = v.clone();
            long.push(0);
            prop_assert!(RsaCrosscert::decode(&long).is_err());
        }

        #[test]
        fn rsa_recover_never_panics(sig in proptest::collection::vec(any::<u8>(), 0..200)) {
            let key = RsaPublic::from_der(&hex::decode(
                "30818902818100d38b1e6ceb946e0db0751f4cbace3dcb9688b6c25304227b4710c35afb73627e\
                 50500f5913e158b621802612d1c75827003703338375237552eb3cd3c12f6ab3604e60c1a2d26bb1fb\
                 ad206ff023969a90909d6a65a5458a5312c26ebd3a3dad30302d4515cdcd264146ac18e6fc60a04bd3\
                 ec327f04294d96ba5aa25b464c3f0203010001").unwrap()).unwrap();
            let _ = key.recover(&sig);
            let _ = key.verify(&[0; 20], &sig);
            let _ = check_tap_onion_key_crosscert(&sig, &key, &RsaIdentity([0; 20]), &Ed25519Identity([0; 32]));
        }
    }
}
