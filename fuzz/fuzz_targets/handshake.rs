#![no_main]
//! Circuit-handshake parsers on attacker-chosen bytes: what a relay reads from CREATE2 /
//! CREATE_FAST / EXTEND2 (ntor, ntor-v3, CREATE_FAST onion skins and ntor-v3 extension
//! messages) and what a client reads from CREATED2 (the replies). Nothing may panic; a
//! relay key that the input does not name must be refused.
use libfuzzer_sys::fuzz_target;
use oniongate::crypto::ll::{X25519Public, X25519Secret};
use oniongate::crypto::ntor_v3::ext::{Direction, NtorV3Extensions};
use oniongate::crypto::{fast, ntor, ntor_v3};
use oniongate::ids::{Ed25519Identity, RsaIdentity};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let secret = X25519Secret::from([7u8; 32]);
    let public = X25519Public::from(&secret);
    match sel % 6 {
        0 => {
            let keys = [ntor::NtorSecretKey::new(RsaIdentity([1; 20]), secret)];
            let _ = ntor::server_with_keys(X25519Secret::from([9u8; 32]), &keys, rest);
        }
        1 => {
            let keys = [ntor_v3::NtorV3SecretKey::new(Ed25519Identity([2; 32]), secret)];
            let _ = ntor_v3::server_part1(&keys, ntor_v3::CIRCUIT_EXTEND_VERIFICATION, rest);
        }
        2 => {
            let _ = fast::server_with_keys([3u8; 20], rest);
        }
        3 => {
            let dir = if rest.len() % 2 == 0 {
                Direction::ClientToRelay
            } else {
                Direction::RelayToClient
            };
            if let Ok(exts) = NtorV3Extensions::decode(rest, dir) {
                let again = exts.encode().expect("decoded extensions re-encode");
                assert_eq!(NtorV3Extensions::decode(&again, dir).ok(), Some(exts));
            }
        }
        4 => {
            let (state, _) =
                ntor::client1_with_keys(X25519Secret::from([5u8; 32]), &RsaIdentity([1; 20]), &public);
            assert!(ntor::client2(state, rest).is_err() || rest.len() >= 64);
        }
        _ => {
            let relay = ntor_v3::NtorV3PublicKey {
                id: Ed25519Identity([2; 32]),
                onion_key: public,
            };
            if let Ok((state, _)) = ntor_v3::client1_with_keys(
                X25519Secret::from([5u8; 32]),
                &relay,
                ntor_v3::CIRCUIT_EXTEND_VERIFICATION,
                b"",
            ) {
                let _ = ntor_v3::client2(state, rest);
            }
            let (fstate, _) = fast::client1_with_keys([4u8; 20]);
            let _ = fast::client2(fstate, rest);
        }
    }
});
