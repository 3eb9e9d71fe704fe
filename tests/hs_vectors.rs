//! Onion-service cryptography against official and cross-implementation test vectors:
//! onion addresses, time periods, key blinding and subcredentials, C tor key files, the
//! HS MAC, and hs-ntor with the INTRODUCE1 encryption (rend-spec-v3 appendix G.1).
//! Sources are named in each vector file's header.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, UNIX_EPOCH};

use oniongate::crypto::ll::{X25519Public, X25519Secret};
use oniongate::hs::address::AddressError;
use oniongate::hs::blind::{self, IdentitySecretKey, Subcredential};
use oniongate::hs::intro::{self, EncryptedSection};
use oniongate::hs::time::TimePeriodParams;
use oniongate::hs::{keyfile, mac, ntor, HsId};

fn err_name(e: AddressError) -> &'static str {
    match e {
        AddressError::BadLength(_) => "BadLength",
        AddressError::BadBase32 => "BadBase32",
        AddressError::WrongVersion(_) => "WrongVersion",
        AddressError::BadChecksum => "BadChecksum",
        AddressError::InvalidPoint => "InvalidPoint",
        AddressError::TorsionComponent => "TorsionComponent",
        AddressError::EmptySubdomain => "EmptySubdomain",
        AddressError::NotOnion => "NotOnion",
    }
}

#[test]
fn onion_addresses() {
    let recs = common::load("onion_address.txt");
    for r in &recs {
        let input = r.str("address");
        let got = if r.get("hostname") == Some("1") {
            HsId::parse_hostname(input).map(|(id, _)| id)
        } else {
            input.parse::<HsId>()
        };
        match r.str("expect") {
            "ok" => {
                let id = got.unwrap_or_else(|e| panic!("{}: {e}", r.at()));
                assert_eq!(id.to_string(), r.str("canonical"), "{}", r.at());
                assert_eq!(id.to_string().parse::<HsId>(), Ok(id), "{}", r.at());
                if r.get("pubkey").is_some() {
                    assert_eq!(id.as_bytes(), &r.hex_array::<32>("pubkey"), "{}", r.at());
                    let built = HsId::from_bytes(r.hex_array("pubkey")).unwrap();
                    assert_eq!(built.to_string(), r.str("canonical"), "{}", r.at());
                }
            }
            want => {
                let e = got.expect_err(&r.at());
                assert_eq!(err_name(e), want, "{}: {e}", r.at());
            }
        }
    }
    assert!(recs.len() >= 20);
}

#[test]
fn time_periods() {
    for r in &common::load("time_period.txt") {
        let num = |k: &str| r.str(k).parse::<u64>().unwrap();
        let params = TimePeriodParams::from_consensus(
            Duration::from_secs(num("voting_interval")),
            Some(r.str("hsdir_interval").parse().unwrap()),
            r.str("testing") == "1",
        )
        .unwrap();
        let p = params
            .period_at(UNIX_EPOCH + Duration::from_secs(num("valid_after")))
            .unwrap();
        if r.get("period_num").is_some() {
            assert_eq!(p.num, num("period_num"), "{}", r.at());
        }
        if r.get("period_start").is_some() {
            assert_eq!(p.start_secs(), Some(num("period_start")), "{}", r.at());
        }
        if r.get("next_period_num").is_some() {
            assert_eq!(p.next().unwrap().num, num("next_period_num"), "{}", r.at());
        }
        if r.get("next_period_start").is_some() {
            let next = UNIX_EPOCH + Duration::from_secs(num("next_period_start"));
            assert_eq!(p.end().unwrap(), next, "{}", r.at());
            assert_eq!(
                params.period_at(next).unwrap(),
                p.next().unwrap(),
                "{}",
                r.at()
            );
        }
        assert!(
            p.contains(UNIX_EPOCH + Duration::from_secs(num("valid_after"))),
            "{}",
            r.at()
        );
    }
}

#[test]
fn blinding() {
    let recs = common::load("blinding.txt");
    let mut hs_records = 0;
    for r in &recs {
        let pubkey = r.hex_array::<32>("pubkey");
        let sk = IdentitySecretKey::from_expanded_bytes(r.hex_array("expanded"));
        assert_eq!(sk.public_key().unwrap().as_bytes(), &pubkey, "{}", r.at());
        let param = r.hex_array::<32>("param");
        let blinded_pk = r.hex_array::<32>("blinded_pubkey");
        match r.str("kind") {
            "hs" => {
                hs_records += 1;
                let id = HsId::from_bytes(pubkey).unwrap();
                let period = TimePeriodParams::public_network_default()
                    .period(r.str("period_num").parse().unwrap());
                assert_eq!(
                    period.length_minutes.to_string(),
                    r.str("period_length"),
                    "{}",
                    r.at()
                );
                assert_eq!(blind::blinding_param_for(&id, &period), param, "{}", r.at());
                let a_prime = blind::blind_public_key(&id, &period).unwrap();
                assert_eq!(a_prime.as_bytes(), &blinded_pk, "{}", r.at());
                assert_eq!(
                    Subcredential::new(&id, &a_prime).as_bytes(),
                    &r.hex_array::<32>("subcredential"),
                    "{}",
                    r.at()
                );
                let kp = sk.blind(&period).unwrap();
                assert_eq!(kp.public_key(), a_prime, "{}", r.at());
                assert_eq!(
                    &kp.to_expanded_bytes()[..],
                    &r.hex("blinded_expanded")[..],
                    "{}",
                    r.at()
                );
                let sig = kp.sign(b"descriptor signing key certificate");
                assert!(a_prime.verify(b"descriptor signing key certificate", &sig));
            }
            "raw" => {
                let seed = r.hex_array::<32>("seed");
                let from_seed = IdentitySecretKey::from_seed(&seed);
                assert_eq!(
                    &from_seed.to_expanded_bytes()[..],
                    &r.hex("expanded")[..],
                    "{}",
                    r.at()
                );
                assert_eq!(
                    &sk.sign(&pubkey).unwrap()[..],
                    &r.hex("self_sig")[..],
                    "{}",
                    r.at()
                );
                let a_prime = blind::blind_public_key_with_param(&pubkey, &param).unwrap();
                assert_eq!(a_prime.as_bytes(), &blinded_pk, "{}", r.at());
                let kp = sk.blind_with_param(&param);
                assert_eq!(kp.public_key(), a_prime, "{}", r.at());
                assert_eq!(
                    &kp.to_expanded_bytes()[..],
                    &r.hex("blinded_expanded")[..],
                    "{}",
                    r.at()
                );
                let sig = kp.sign(b"hello world");
                assert!(a_prime.verify(b"hello world", &sig), "{}", r.at());
            }
            other => panic!("{}: unknown kind {other}", r.at()),
        }
    }
    assert_eq!((hs_records, recs.len()), (1, 11));
}

#[test]
fn key_files() {
    for r in &common::load("hs_keyfile.txt") {
        let sfile = r.hex("secret_file");
        let pfile = r.hex("public_file");
        let sk = keyfile::decode_secret_key(&sfile).unwrap();
        let id = keyfile::decode_public_key(&pfile).unwrap();
        assert_eq!(sk.public_key().unwrap(), id, "{}", r.at());
        assert_eq!(id.to_string(), r.str("hostname"), "{}", r.at());
        assert_eq!(
            &keyfile::encode_secret_key(&sk)[..],
            &sfile[..],
            "{}",
            r.at()
        );
        assert_eq!(keyfile::encode_public_key(&id), pfile, "{}", r.at());
    }
}

#[test]
fn hs_mac_vectors() {
    for r in &common::load("hs_mac.txt") {
        let got = mac::hs_mac(r.str("key").as_bytes(), r.str("msg").as_bytes());
        assert_eq!(got, r.hex_array::<32>("mac"), "{}", r.at());
    }
}

#[test]
fn hs_ntor_g1() {
    for r in &common::load("hs_ntor.txt") {
        let auth_key = r.hex_array::<32>("auth_key");
        let b = X25519Secret::from(r.hex_array::<32>("ntor_sk"));
        let big_b = X25519Public::from(r.hex_array::<32>("ntor_pk"));
        assert_eq!(X25519Public::from(&b), big_b, "{}", r.at());
        let sub = Subcredential::from_bytes(r.hex_array("subcredential"));
        let header = r.hex("header");
        let plaintext = r.hex("plaintext");
        let body = r.hex("introduce1");

        // Client: INTRODUCE1.
        let x = X25519Secret::from(r.hex_array::<32>("x"));
        let client = ntor::HsNtorClient::with_ephemeral(x, auth_key, big_b, &sub).unwrap();
        assert_eq!(client.client_pk().as_bytes(), &r.hex_array::<32>("X"));
        assert_eq!(client.intro_keys().enc_key(), &r.hex_array::<32>("enc_key"));
        assert_eq!(client.intro_keys().mac_key(), &r.hex_array::<32>("mac_key"));
        let section = client.encrypt_introduce(&header, &plaintext);
        let mut cell = header.clone();
        cell.extend_from_slice(&section);
        assert_eq!(cell, body, "{}: INTRODUCE1 body", r.at());
        // The MAC covers the whole cell from LEGACY_KEY_ID to the end of ENCRYPTED_DATA.
        let mac_range = &body[..body.len() - 32];
        assert_eq!(
            mac::hs_mac(client.intro_keys().mac_key(), mac_range),
            body[body.len() - 32..]
        );
        assert_eq!(
            intro::c_tor_padding_len(header.len(), plaintext.len()),
            0,
            "{}: C tor pads only below 246 bytes",
            r.at()
        );

        // Service: INTRODUCE2.
        let enc_section = &body[header.len()..];
        let parsed = EncryptedSection::parse(enc_section).unwrap();
        let x_pub = X25519Public::from(parsed.client_pk);
        let skeys = ntor::service_intro_keys(&b, &auth_key, &x_pub, &sub).unwrap();
        assert_eq!(skeys.enc_key(), &r.hex_array::<32>("enc_key"));
        assert_eq!(skeys.mac_key(), &r.hex_array::<32>("mac_key"));
        let other = Subcredential::from_bytes([0x55; 32]);
        let opened = ntor::service_open_introduce(
            &b,
            &auth_key,
            &[other, sub.clone()],
            &header,
            enc_section,
        )
        .unwrap();
        assert_eq!(&opened.plaintext[..], &plaintext[..]);
        assert_eq!(opened.subcredential_index, 1);
        // A MAC over the cell without LEGACY_KEY_ID (the spec prose's range) would not match.
        assert!(ntor::service_open_introduce(
            &b,
            &auth_key,
            std::slice::from_ref(&sub),
            &header[20..],
            enc_section
        )
        .is_err());

        // Service: RENDEZVOUS1.
        let y = X25519Secret::from(r.hex_array::<32>("y"));
        assert_eq!(X25519Public::from(&y).as_bytes(), &r.hex_array::<32>("Y"));
        let (info, sseed) = ntor::service_rendezvous(&y, &b, &auth_key, &x_pub).unwrap();
        assert_eq!(&info[..32], &r.hex("Y")[..]);
        assert_eq!(&info[32..], &r.hex("auth_input_mac")[..]);
        assert_eq!(&info[..], &r.hex("handshake_info")[..]);
        assert_eq!(sseed.as_bytes(), &r.hex_array::<32>("ntor_key_seed"));

        // Client: RENDEZVOUS2.
        let cseed = client.finish(&info).unwrap();
        assert_eq!(cseed.as_bytes(), &r.hex_array::<32>("ntor_key_seed"));
        let keys = cseed.expand();
        assert_eq!(&keys.to_bytes()[..], &r.hex("e2e_keys")[..]);
        assert_eq!(keys, sseed.expand());
    }
}

#[test]
fn hsdir_ring() {
    use oniongate::hs::blind::BlindedPublicKey;
    use oniongate::hs::ring;
    let recs = common::load("hs_ring.txt");
    for r in &recs {
        let period = TimePeriodParams::from_parts(r.str("period_length").parse().unwrap(), 0)
            .unwrap()
            .period(r.str("period_num").parse().unwrap());
        match r.str("kind") {
            "hs_index" => {
                let key = BlindedPublicKey(r.hex_array("key"));
                let replica = r.str("replica").parse().unwrap();
                let got = ring::hs_index(&key, replica, &period);
                assert_eq!(got, r.hex_array::<32>("index"), "{}", r.at());
            }
            "hsdir_index" => {
                let got = ring::hsdir_index(&r.hex_array("key"), &r.hex_array("srv"), &period);
                assert_eq!(got, r.hex_array::<32>("index"), "{}", r.at());
            }
            "disaster_srv" => {
                assert_eq!(
                    ring::disaster_srv(&period),
                    r.hex_array::<32>("srv"),
                    "{}",
                    r.at()
                );
            }
            other => panic!("{}: unknown kind {other}", r.at()),
        }
    }
    assert_eq!(recs.len(), 3);
}
