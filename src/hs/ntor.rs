//! The hs-ntor handshake between an onion-service client and the service (rend-spec-v3
//! §3.3.2 "NTOR-WITH-EXTRA-DATA" and §4.2.1 "Key expansion"; C tor `hs_ntor.c`).
//!
//! Keys: `B` = `KP_hss_ntor` (the service's per-intro-point X25519 key), `AUTH_KEY` =
//! `KP_hs_ipt_sid` (the intro point's Ed25519 auth key), both from the descriptor; `X`/`x`
//! the client's ephemeral key, `Y`/`y` the service's.
//!
//! 1. Introduction: both sides compute `ENC_KEY | MAC_KEY = SHAKE-256(EXP(B,x) | AUTH_KEY |
//!    X | B | PROTOID | t_hsenc | m_hsexpand | N_hs_subcred)[..64]`; the client encrypts
//!    and MACs the INTRODUCE1 plaintext ([`super::intro`]).
//! 2. Rendezvous: the service computes `rend_secret_hs_input = EXP(X,y) | EXP(X,b) |
//!    AUTH_KEY | B | X | Y | PROTOID`, `NTOR_KEY_SEED = MAC(rend_secret_hs_input, t_hsenc)`,
//!    `verify = MAC(rend_secret_hs_input, t_hsverify)`, `AUTH_INPUT_MAC = MAC(verify |
//!    AUTH_KEY | B | Y | X | PROTOID | "Server", t_hsmac)` and sends `Y | AUTH_INPUT_MAC`
//!    (HANDSHAKE_INFO) in RENDEZVOUS1; the client checks it from RENDEZVOUS2.
//! 3. Both expand `SHAKE-256(NTOR_KEY_SEED | m_hsexpand)` to `Df | Db | Kf | Kb` (32 bytes
//!    each): SHA3-256 digests and AES-256 keys for the end-to-end hop. The client uses them
//!    as they come; the service swaps forward and backward.
//!
//! Every Diffie-Hellman output is refused if all-zero ([`crate::crypto::ll::x25519`]), as
//! C tor does. Ephemeral keys can be injected for deterministic tests.
//!
//! Deliberately not here: the relay-cell crypto that uses the keys, and the cells.

use rand_core::{CryptoRng, RngCore};
use zeroize::Zeroizing;

mod keys;
use keys::shake;
pub use keys::{E2eKeys, IntroKeys, NtorKeySeed};

use super::blind::Subcredential;
use super::intro::{self, EncryptedSection, IntroError};
use super::mac::{hs_mac, hs_mac_parts, HS_MAC_LEN};
use crate::crypto::ll::{ct_eq, x25519, NonContributory, X25519Public, X25519Secret};

/// `PROTOID`.
pub const PROTOID: &[u8] = b"tor-hs-ntor-curve25519-sha3-256-1";
/// `t_hsenc = PROTOID | ":hs_key_extract"`.
pub const T_HSENC: &[u8] = b"tor-hs-ntor-curve25519-sha3-256-1:hs_key_extract";
/// `t_hsverify = PROTOID | ":hs_verify"`.
pub const T_HSVERIFY: &[u8] = b"tor-hs-ntor-curve25519-sha3-256-1:hs_verify";
/// `t_hsmac = PROTOID | ":hs_mac"`.
pub const T_HSMAC: &[u8] = b"tor-hs-ntor-curve25519-sha3-256-1:hs_mac";
/// `m_hsexpand = PROTOID | ":hs_key_expand"`.
pub const M_HSEXPAND: &[u8] = b"tor-hs-ntor-curve25519-sha3-256-1:hs_key_expand";
/// Length of HANDSHAKE_INFO (`Y | AUTH_INPUT_MAC`).
pub const HANDSHAKE_INFO_LEN: usize = 32 + HS_MAC_LEN;

/// Why an hs-ntor step failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HsNtorError {
    /// A Diffie-Hellman output was all zeros: a peer key of small order.
    #[error("hs-ntor: {0}")]
    NonContributory(#[from] NonContributory),
    /// The INTRODUCE2 section is malformed, or its MAC matched under no subcredential.
    #[error("hs-ntor introduction refused: {0}")]
    Intro(#[from] IntroError),
    /// AUTH_INPUT_MAC in RENDEZVOUS2 is wrong.
    #[error("hs-ntor: RENDEZVOUS2 authentication failed")]
    BadAuth,
}

/// `ENC_KEY | MAC_KEY` from `EXP(B,x)` (= `EXP(X,b)`).
fn intro_keys(
    dh: &[u8; 32],
    auth_key: &[u8; 32],
    client_pk: &X25519Public,
    ntor_key: &X25519Public,
    subcred: &Subcredential,
) -> IntroKeys {
    let mut buf = Zeroizing::new([0u8; 64]);
    let parts: [&[u8]; 8] = [
        dh,
        auth_key,
        client_pk.as_bytes(),
        ntor_key.as_bytes(),
        PROTOID,
        T_HSENC,
        M_HSEXPAND,
        subcred.as_bytes(),
    ];
    shake(&parts, buf.as_mut());
    let mut keys = IntroKeys {
        enc_key: [0; 32],
        mac_key: [0; 32],
    };
    keys.enc_key.copy_from_slice(&buf[..32]);
    keys.mac_key.copy_from_slice(&buf[32..]);
    keys
}

/// `(NTOR_KEY_SEED, AUTH_INPUT_MAC)` from `EXP(X,y)` and `EXP(X,b)`.
fn rend_material(
    xy: &[u8; 32],
    xb: &[u8; 32],
    auth_key: &[u8; 32],
    ntor_key: &X25519Public,
    client_pk: &X25519Public,
    server_pk: &X25519Public,
) -> (NtorKeySeed, [u8; 32]) {
    let mut secret_input = Zeroizing::new(Vec::with_capacity(32 * 6 + PROTOID.len()));
    for p in [
        &xy[..],
        xb,
        auth_key,
        ntor_key.as_bytes(),
        client_pk.as_bytes(),
        server_pk.as_bytes(),
        PROTOID,
    ] {
        secret_input.extend_from_slice(p);
    }
    let seed = NtorKeySeed(hs_mac(&secret_input, T_HSENC));
    let verify = Zeroizing::new(hs_mac(&secret_input, T_HSVERIFY));
    let mut auth_input = Zeroizing::new(Vec::with_capacity(32 * 5 + PROTOID.len() + 6));
    for p in [
        &verify[..],
        auth_key,
        ntor_key.as_bytes(),
        server_pk.as_bytes(),
        client_pk.as_bytes(),
        PROTOID,
        b"Server",
    ] {
        auth_input.extend_from_slice(p);
    }
    let auth_mac = hs_mac_parts(&auth_input, &[T_HSMAC]);
    (seed, auth_mac)
}

/// The client's side of one hs-ntor handshake with one introduction point.
pub struct HsNtorClient {
    x: X25519Secret,
    client_pk: X25519Public,
    auth_key: [u8; 32],
    ntor_key: X25519Public,
    keys: IntroKeys,
}

impl HsNtorClient {
    /// Starts a handshake with a fresh ephemeral key. `auth_key` is the intro point's
    /// `KP_hs_ipt_sid`, `ntor_key` its `KP_hss_ntor`, both from the descriptor.
    pub fn new<R: RngCore + CryptoRng>(
        rng: &mut R,
        auth_key: [u8; 32],
        ntor_key: X25519Public,
        subcred: &Subcredential,
    ) -> Result<Self, HsNtorError> {
        Self::with_ephemeral(
            X25519Secret::random_from_rng(rng),
            auth_key,
            ntor_key,
            subcred,
        )
    }

    /// As [`Self::new`] with a given ephemeral secret `x` (deterministic tests).
    pub fn with_ephemeral(
        x: X25519Secret,
        auth_key: [u8; 32],
        ntor_key: X25519Public,
        subcred: &Subcredential,
    ) -> Result<Self, HsNtorError> {
        let client_pk = X25519Public::from(&x);
        let bx = x25519(&x, &ntor_key)?;
        let keys = intro_keys(&bx, &auth_key, &client_pk, &ntor_key, subcred);
        Ok(HsNtorClient {
            x,
            client_pk,
            auth_key,
            ntor_key,
            keys,
        })
    }

    /// `X`, sent as CLIENT_PK.
    pub fn client_pk(&self) -> &X25519Public {
        &self.client_pk
    }

    /// `ENC_KEY` and `MAC_KEY`.
    pub fn intro_keys(&self) -> &IntroKeys {
        &self.keys
    }

    /// The ENCRYPTED section of INTRODUCE1 for `plaintext` (already padded as wanted),
    /// MACed together with `header`, the cell bytes before the section.
    pub fn encrypt_introduce(&self, header: &[u8], plaintext: &[u8]) -> Vec<u8> {
        intro::build_encrypted_section(
            &self.keys.enc_key,
            &self.keys.mac_key,
            header,
            self.client_pk.as_bytes(),
            plaintext,
        )
    }

    /// Checks HANDSHAKE_INFO (`Y | AUTH_INPUT_MAC`) from RENDEZVOUS2 and returns the seed.
    pub fn finish(
        &self,
        handshake_info: &[u8; HANDSHAKE_INFO_LEN],
    ) -> Result<NtorKeySeed, HsNtorError> {
        let (y_bytes, mac) = handshake_info.split_at(32);
        let mut y = [0u8; 32];
        y.copy_from_slice(y_bytes);
        let server_pk = X25519Public::from(y);
        let xy = x25519(&self.x, &server_pk)?;
        let xb = x25519(&self.x, &self.ntor_key)?;
        let (seed, expected) = rend_material(
            &xy,
            &xb,
            &self.auth_key,
            &self.ntor_key,
            &self.client_pk,
            &server_pk,
        );
        if ct_eq(&expected, mac) {
            Ok(seed)
        } else {
            Err(HsNtorError::BadAuth)
        }
    }
}

impl std::fmt::Debug for HsNtorClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HsNtorClient(..)")
    }
}

/// `ENC_KEY | MAC_KEY` as the service computes them for a client key `X`.
pub fn service_intro_keys(
    ntor_secret: &X25519Secret,
    auth_key: &[u8; 32],
    client_pk: &X25519Public,
    subcred: &Subcredential,
) -> Result<IntroKeys, HsNtorError> {
    let ntor_key = X25519Public::from(ntor_secret);
    let xb = x25519(ntor_secret, client_pk)?;
    Ok(intro_keys(&xb, auth_key, client_pk, &ntor_key, subcred))
}

/// What the service learns from a valid INTRODUCE2.
pub struct OpenedIntroduce {
    /// `X`.
    pub client_pk: X25519Public,
    /// The decrypted plaintext, padding included.
    pub plaintext: Zeroizing<Vec<u8>>,
    /// Which of the offered subcredentials matched.
    pub subcredential_index: usize,
}

impl std::fmt::Debug for OpenedIntroduce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OpenedIntroduce(..)")
    }
}

/// The service's processing of an INTRODUCE2: tries every subcredential (the service has
/// one per live time period), all of them so timing does not tell which matched, checks
/// the MAC over `header | ENCRYPTED section`, and decrypts.
pub fn service_open_introduce(
    ntor_secret: &X25519Secret,
    auth_key: &[u8; 32],
    subcreds: &[Subcredential],
    header: &[u8],
    encrypted_section: &[u8],
) -> Result<OpenedIntroduce, HsNtorError> {
    let section = EncryptedSection::parse(encrypted_section)?;
    let client_pk = X25519Public::from(section.client_pk);
    let mut found: Option<(usize, IntroKeys)> = None;
    for (i, sc) in subcreds.iter().enumerate() {
        let keys = service_intro_keys(ntor_secret, auth_key, &client_pk, sc)?;
        if section.verify_mac(&keys.mac_key, header).is_ok() && found.is_none() {
            found = Some((i, keys));
        }
    }
    let (subcredential_index, keys) = found.ok_or(IntroError::BadMac)?;
    Ok(OpenedIntroduce {
        client_pk,
        plaintext: section.decrypt(&keys.enc_key),
        subcredential_index,
    })
}

/// The service's rendezvous step with ephemeral secret `y`: returns HANDSHAKE_INFO
/// (`Y | AUTH_INPUT_MAC`, for RENDEZVOUS1) and `NTOR_KEY_SEED`.
pub fn service_rendezvous(
    y: &X25519Secret,
    ntor_secret: &X25519Secret,
    auth_key: &[u8; 32],
    client_pk: &X25519Public,
) -> Result<([u8; HANDSHAKE_INFO_LEN], NtorKeySeed), HsNtorError> {
    let server_pk = X25519Public::from(y);
    let ntor_key = X25519Public::from(ntor_secret);
    let xy = x25519(y, client_pk)?;
    let xb = x25519(ntor_secret, client_pk)?;
    let (seed, mac) = rend_material(&xy, &xb, auth_key, &ntor_key, client_pk, &server_pk);
    let mut info = [0u8; HANDSHAKE_INFO_LEN];
    info[..32].copy_from_slice(server_pk.as_bytes());
    info[32..].copy_from_slice(&mac);
    Ok((info, seed))
}

/// [`service_rendezvous`] with a fresh ephemeral key.
pub fn service_rendezvous_random<R: RngCore + CryptoRng>(
    rng: &mut R,
    ntor_secret: &X25519Secret,
    auth_key: &[u8; 32],
    client_pk: &X25519Public,
) -> Result<([u8; HANDSHAKE_INFO_LEN], NtorKeySeed), HsNtorError> {
    service_rendezvous(
        &X25519Secret::random_from_rng(rng),
        ntor_secret,
        auth_key,
        client_pk,
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut rng = rand::thread_rng();
        let b = X25519Secret::random_from_rng(&mut rng);
        let auth = [4u8; 32];
        let subs = [
            Subcredential::from_bytes([1; 32]),
            Subcredential::from_bytes([5; 32]),
        ];
        let client = HsNtorClient::new(&mut rng, auth, X25519Public::from(&b), &subs[1]).unwrap();
        let header = [0u8; 56];
        let section = client.encrypt_introduce(&header, b"plaintext");
        let opened = service_open_introduce(&b, &auth, &subs, &header, &section).unwrap();
        assert_eq!(&opened.plaintext[..], b"plaintext");
        assert_eq!(opened.subcredential_index, 1);
        assert_eq!(
            service_open_introduce(&b, &auth, &subs[..1], &header, &section).map(|_| ()),
            Err(HsNtorError::Intro(IntroError::BadMac))
        );
        let (mut info, seed) =
            service_rendezvous_random(&mut rng, &b, &auth, &opened.client_pk).unwrap();
        let cseed = client.finish(&info).unwrap();
        assert_eq!(cseed, seed);
        assert_eq!(cseed.expand(), seed.expand());
        let (c, s) = (cseed.expand(), seed.expand().swapped());
        assert_eq!((c.kf, c.df), (s.kb, s.db));
        assert_eq!(s.swapped(), c);
        info[40] ^= 1;
        assert_eq!(client.finish(&info), Err(HsNtorError::BadAuth));
    }

    #[test]
    fn zero_keys_refused() {
        let zero = X25519Public::from([0u8; 32]);
        let sub = Subcredential::from_bytes([1; 32]);
        let x = X25519Secret::from([9u8; 32]);
        assert!(matches!(
            HsNtorClient::with_ephemeral(x, [0; 32], zero, &sub),
            Err(HsNtorError::NonContributory(_))
        ));
        let b = X25519Secret::from([7u8; 32]);
        assert!(matches!(
            service_rendezvous(&b, &b, &[0; 32], &zero),
            Err(HsNtorError::NonContributory(_))
        ));
        let client = HsNtorClient::with_ephemeral(
            X25519Secret::from([9u8; 32]),
            [0; 32],
            X25519Public::from(&b),
            &sub,
        )
        .unwrap();
        assert!(matches!(
            client.finish(&[0u8; 64]),
            Err(HsNtorError::NonContributory(_))
        ));
    }

    mod prop {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(32))]
            #[test]
            fn handshake_round_trip(x: [u8; 32], y: [u8; 32], b: [u8; 32], auth: [u8; 32], sub: [u8; 32],
                                    header in proptest::collection::vec(any::<u8>(), 0..80),
                                    pt in proptest::collection::vec(any::<u8>(), 0..300)) {
                let b = X25519Secret::from(b);
                let sub = Subcredential::from_bytes(sub);
                let client = HsNtorClient::with_ephemeral(X25519Secret::from(x), auth, X25519Public::from(&b), &sub).unwrap();
                let sec = client.encrypt_introduce(&header, &pt);
                let opened = service_open_introduce(&b, &auth, std::slice::from_ref(&sub), &header, &sec).unwrap();
                prop_assert_eq!(&opened.plaintext[..], &pt[..]);
                let (info, seed) = service_rendezvous(&X25519Secret::from(y), &b, &auth, &opened.client_pk).unwrap();
                prop_assert_eq!(client.finish(&info).unwrap().expand(), seed.expand());
            }

            #[test]
            fn garbage_introduce_refused(b: [u8; 32], data in proptest::collection::vec(any::<u8>(), 0..200)) {
                let sub = Subcredential::from_bytes([0; 32]);
                prop_assert!(service_open_introduce(&X25519Secret::from(b), &[0; 32], &[sub], &[], &data).is_err());
            }
        }
    }
}
