//! Independent cross-check of `oniongate::hs` against Arti 0.47 (tor-hscrypto,
//! tor-llcrypto, tor-proto's hs_ntor) on random keys, periods and messages: onion
//! addresses both ways, blinded public and secret keys and their signatures,
//! subcredentials, time periods, and hs-ntor with each implementation in each role.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::{Rng, RngCore};
use safelog::DisplayRedacted as _;

use oniongate::crypto::ll::{X25519Public, X25519Secret};
use oniongate::hs::blind::{self, IdentitySecretKey, Subcredential};
use oniongate::hs::ntor;
use oniongate::hs::time::TimePeriodParams;
use oniongate::hs::HsId;

use tor_hscrypto::pk as apk;
use tor_llcrypto::pk::{curve25519 as acurve, ed25519 as aed, keymanip};
use tor_proto::client::circuit::handshake::hs_ntor as ahs;
use tor_proto::client::circuit::handshake::KeyGenerator as _;

const ROUNDS: usize = 32;

fn random_identity(rng: &mut rand::rngs::ThreadRng) -> (IdentitySecretKey, HsId) {
    let sk = IdentitySecretKey::generate(rng);
    let id = sk.public_key().unwrap();
    (sk, id)
}

#[test]
fn onion_addresses_both_ways() {
    let mut rng = rand::thread_rng();
    for _ in 0..ROUNDS {
        let (_, id) = random_identity(&mut rng);
        let theirs = apk::HsId::from(*id.as_bytes());
        let their_text = theirs.display_unredacted().to_string();
        assert_eq!(id.to_string(), their_text);
        assert_eq!(their_text.parse::<HsId>().unwrap(), id);
        let back: apk::HsId = id.to_string().parse().unwrap();
        assert_eq!(back.as_ref(), id.as_bytes());
        // Arti accepts any case; so do we.
        let upper = their_text.to_ascii_uppercase();
        assert_eq!(upper.parse::<HsId>().unwrap(), id);
        assert!(upper.parse::<apk::HsId>().is_ok());
    }
}

#[test]
fn time_periods_match() {
    let mut rng = rand::thread_rng();
    for _ in 0..ROUNDS * 4 {
        // Voting intervals that are whole multiples of 5 s keep the offset a whole number
        // of minutes, where Arti's second-based formula and C tor's minute-based one agree.
        let vi = 5 * rng.gen_range(1u64..=1440);
        let len = rng.gen_range(30u32..=14400);
        let when = UNIX_EPOCH + Duration::from_secs(rng.gen_range(86_400 * 20..4_000_000_000));
        let ours =
            TimePeriodParams::from_consensus(Duration::from_secs(vi), Some(len as i32), false)
                .unwrap();
        let offset = Duration::from_secs(12 * vi);
        let theirs = tor_hscrypto::time::TimePeriod::new(
            Duration::from_secs(u64::from(len) * 60),
            when,
            offset,
        )
        .unwrap();
        let p = ours.period_at(when).unwrap();
        assert_eq!(p.num, theirs.interval_num(), "vi={vi} len={len} {when:?}");
        assert_eq!(p.length_minutes, theirs.length().as_minutes());
        let range = theirs.range().unwrap();
        assert_eq!(
            (p.start().unwrap(), p.end().unwrap()),
            (range.start, range.end)
        );
    }
}

#[test]
fn blinding_matches() {
    let mut rng = rand::thread_rng();
    for _ in 0..ROUNDS {
        let (sk, id) = random_identity(&mut rng);
        let len = rng.gen_range(30u32..=14400);
        let now = UNIX_EPOCH + Duration::from_secs(rng.gen_range(86_400 * 20..4_000_000_000));
        let params = TimePeriodParams::from_parts(len, 12 * 3600).unwrap();
        let period = params.period_at(now).unwrap();
        let their_period = tor_hscrypto::time::TimePeriod::new(
            Duration::from_secs(u64::from(len) * 60),
            now,
            Duration::from_secs(12 * 3600),
        )
        .unwrap();

        // Public side: tor-hscrypto HsIdKey::compute_blinded_key.
        let their_id = apk::HsIdKey::try_from(apk::HsId::from(*id.as_bytes())).unwrap();
        let (their_blinded, their_subcred) = their_id.compute_blinded_key(their_period).unwrap();
        let ours = blind::blind_public_key(&id, &period).unwrap();
        assert_eq!(ours.as_bytes(), their_blinded.as_bytes());
        assert_eq!(
            Subcredential::new(&id, &ours).as_bytes(),
            their_subcred.as_ref()
        );

        // Secret side: tor-hscrypto HsIdKeypair::compute_blinded_key.
        let expanded = sk.to_expanded_bytes();
        let their_ekp = aed::ExpandedKeypair::from_secret_key_bytes(*expanded).unwrap();
        let their_idkp = apk::HsIdKeypair::from(their_ekp);
        let (_, their_bkp, _) = their_idkp.compute_blinded_key(their_period).unwrap();
        let their_bkp: aed::ExpandedKeypair = their_bkp.into();
        let our_bkp = sk.blind(&period).unwrap();
        assert_eq!(
            &our_bkp.to_expanded_bytes()[..],
            &their_bkp.to_secret_key_bytes()[..]
        );
        let mut msg = vec![0u8; rng.gen_range(0..200)];
        rng.fill_bytes(&mut msg);
        let ours_sig = our_bkp.sign(&msg);
        assert_eq!(ours_sig, their_bkp.sign(&msg).to_bytes());
        assert!(their_blinded
            .verify(&msg, &aed::Signature::from_bytes(&ours_sig))
            .is_ok());

        // tor-llcrypto keymanip with a raw parameter.
        let mut h = [0u8; 32];
        rng.fill_bytes(&mut h);
        let their_pk = aed::PublicKey::from_bytes(id.as_bytes()).unwrap();
        let raw_pub = keymanip::blind_pubkey(&their_pk, h).unwrap();
        let ours_raw = blind::blind_public_key_with_param(id.as_bytes(), &h).unwrap();
        assert_eq!(ours_raw.as_bytes(), raw_pub.as_bytes());
        let their_ekp = aed::ExpandedKeypair::from_secret_key_bytes(*expanded).unwrap();
        let raw_kp = keymanip::blind_keypair(&their_ekp, h).unwrap();
        let our_raw_kp = sk.blind_with_param(&h);
        assert_eq!(
            &our_raw_kp.to_expanded_bytes()[..],
            &raw_kp.to_secret_key_bytes()[..]
        );
        assert_eq!(our_raw_kp.sign(&msg), raw_kp.sign(&msg).to_bytes());
    }
}

struct IntroPoint {
    b: [u8; 32],
    auth_key: [u8; 32],
    subcred: [u8; 32],
}

fn random_intro_point(rng: &mut rand::rngs::ThreadRng) -> IntroPoint {
    let mut b = [0u8; 32];
    rng.fill_bytes(&mut b);
    // KP_hs_ipt_sid: any valid ed25519 public key.
    let auth_key = *random_identity(rng).1.as_bytes();
    let mut subcred = [0u8; 32];
    rng.fill_bytes(&mut subcred);
    IntroPoint {
        b,
        auth_key,
        subcred,
    }
}

fn random_header(rng: &mut impl RngCore, auth_key: &[u8; 32]) -> Vec<u8> {
    let mut h = vec![0u8; 20];
    h.extend_from_slice(&[2, 0, 32]);
    h.extend_from_slice(auth_key);
    let n_ext = rng.next_u32() as usize % 3;
    h.push(n_ext as u8);
    for _ in 0..n_ext {
        let mut ext = vec![0u8; rng.next_u32() as usize % 20];
        rng.fill_bytes(&mut ext);
        h.push(rng.next_u32() as u8);
        h.push(ext.len() as u8);
        h.extend_from_slice(&ext);
    }
    h
}

/// Our client, Arti's service.
#[test]
fn hs_ntor_our_client_arti_service() {
    let mut rng = rand::thread_rng();
    let mut arng = tor_basic_utils::test_rng::testing_rng();
    for _ in 0..ROUNDS {
        let ip = random_intro_point(&mut rng);
        let b = X25519Secret::from(ip.b);
        let client = ntor::HsNtorClient::new(
            &mut rng,
            ip.auth_key,
            X25519Public::from(&b),
            &Subcredential::from_bytes(ip.subcred),
        )
        .unwrap();
        let header = random_header(&mut rng, &ip.auth_key);
        let mut plaintext = vec![0u8; rng.gen_range(0..300)];
        rng.fill_bytes(&mut plaintext);
        let section = client.encrypt_introduce(&header, &plaintext);

        let kp = apk::HsSvcNtorKeypair::from_secret_key(acurve::StaticSecret::from(ip.b).into());
        let auth: apk::HsIntroPtSessionIdKey =
            aed::PublicKey::from_bytes(&ip.auth_key).unwrap().into();
        let subs = [tor_hscrypto::Subcredential::from(ip.subcred)];
        let (keygen, reply, their_pt) =
            ahs::server_receive_intro(&mut arng, &kp, &auth, &subs, &header, &section).unwrap();
        assert_eq!(their_pt, plaintext);
        let info: [u8; 64] = reply.as_slice().try_into().unwrap();
        let seed = client.finish(&info).unwrap();
        let theirs = keygen.expand(128).unwrap();
        assert_eq!(&seed.expand().to_bytes()[..], &theirs[..]);
    }
}

/// Arti's client, our service.
#[test]
fn hs_ntor_arti_client_our_service() {
    let mut rng = rand::thread_rng();
    let mut arng = tor_basic_utils::test_rng::testing_rng();
    for _ in 0..ROUNDS {
        let ip = random_intro_point(&mut rng);
        let b = X25519Secret::from(ip.b);
        let big_b = acurve::PublicKey::from(*X25519Public::from(&b).as_bytes());
        let auth: apk::HsIntroPtSessionIdKey =
            aed::PublicKey::from_bytes(&ip.auth_key).unwrap().into();
        let info = ahs::HsNtorServiceInfo::new(
            big_b.into(),
            auth,
            tor_hscrypto::Subcredential::from(ip.subcred),
        );
        let state = ahs::HsNtorClientState::new(&mut arng, info);
        let header = random_header(&mut rng, &ip.auth_key);
        let mut plaintext = vec![0u8; rng.gen_range(0..300)];
        rng.fill_bytes(&mut plaintext);
        let section = state.client_send_intro(&header, &plaintext).unwrap();

        let opened = ntor::service_open_introduce(
            &b,
            &ip.auth_key,
            &[Subcredential::from_bytes(ip.subcred)],
            &header,
            &section,
        )
        .unwrap();
        // Arti pads the plaintext to its own target length.
        assert_eq!(&opened.plaintext[..plaintext.len()], &plaintext[..]);
        assert!(opened.plaintext[plaintext.len()..].iter().all(|&x| x == 0));
        let (reply, seed) =
            ntor::service_rendezvous_random(&mut rng, &b, &ip.auth_key, &opened.client_pk).unwrap();
        let keygen = state.client_receive_rend(&reply).unwrap();
        let theirs = keygen.expand(128).unwrap();
        assert_eq!(&seed.expand().to_bytes()[..], &theirs[..]);
    }
}

#[test]
fn system_time_type_is_std() {
    // Arti's TimePeriod takes web_time_compat::SystemTime; on this platform it is std's.
    let _: SystemTime = tor_hscrypto::time::TimePeriod::from_parts(1440, 5, 0)
        .range()
        .unwrap()
        .start;
}

/// Arbitrary 32-byte keys: Arti encodes any bytes as an address; we accept the address
/// exactly when the key is a curve point without torsion, and Arti's key type refuses
/// exactly the bytes we call `InvalidPoint`.
#[test]
fn arbitrary_keys_against_arti() {
    use oniongate::hs::address::AddressError;
    let mut rng = rand::thread_rng();
    let (mut valid, mut torsion, mut invalid) = (0, 0, 0);
    for _ in 0..ROUNDS * 8 {
        let mut key = [0u8; 32];
        rng.fill_bytes(&mut key);
        let theirs = apk::HsId::from(key);
        let text = theirs.display_unredacted().to_string();
        let arti_point_ok = apk::HsIdKey::try_from(theirs).is_ok();
        match text.parse::<HsId>() {
            Ok(id) => {
                valid += 1;
                assert!(arti_point_ok);
                assert_eq!(id.to_string(), text);
            }
            Err(AddressError::TorsionComponent) => {
                torsion += 1;
                assert!(arti_point_ok);
            }
            Err(AddressError::InvalidPoint) => {
                invalid += 1;
                assert!(!arti_point_ok);
            }
            Err(e) => panic!("{text}: unexpected {e}"),
        }
    }
    // Half of all y values are on the curve; 7/8 of those points have torsion.
    assert!(
        valid > 0 && torsion > valid && invalid > valid,
        "{valid} {torsion} {invalid}"
    );
}

#[test]
fn hs_mac_matches() {
    let mut rng = rand::thread_rng();
    for _ in 0..ROUNDS * 4 {
        let mut key = vec![0u8; rng.gen_range(0..100)];
        let mut msg = vec![0u8; rng.gen_range(0..300)];
        rng.fill_bytes(&mut key);
        rng.fill_bytes(&mut msg);
        let theirs = tor_hscrypto::ops::hs_mac(&key, &msg);
        assert_eq!(&oniongate::hs::mac::hs_mac(&key, &msg)[..], theirs.as_ref());
    }
}
