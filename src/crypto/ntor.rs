//! The ntor circuit handshake, CREATE2 `HTYPE` 2 (tor-spec §5.1.4 "The ntor handshake",
//! key expansion per §5.2.2 "KDF-RFC5869").
//!
//! Client → relay (84 bytes): `NODEID[20] | KEYID[32] | X[32]`; relay → client (64 bytes):
//! `Y[32] | AUTH[32]`. Both sides refuse an all-zero Diffie-Hellman output, and the client
//! checks `AUTH` in constant time. The result is a [`KeyGenerator`] over
//! HKDF-SHA256-Expand(`KEY_SEED`, `m_expand`), whose stream is `Df|Db|Kf|Kb|KH`.
//!
//! Like C tor (`onion_skin_server_handshake`), the relay accepts an onion skin longer than
//! 84 bytes and ignores the excess, and the client accepts a reply longer than 64 bytes.
//!
//! Deliberately not here: CREATE2 framing ([`crate::cell`]), onion-key rotation policy
//! (the caller passes its current and previous keys), and hs-ntor ([`crate::hs`]).

use std::fmt;

use hmac::{Hmac, Mac};
use rand_core::{CryptoRng, RngCore};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::kdf::KeyGenerator;
use super::ll::{ct_eq, x25519, X25519Public, X25519Secret};
use crate::ids::RsaIdentity;

/// `PROTOID` (tor-spec §5.1.4).
pub const PROTOID: &[u8] = b"ntor-curve25519-sha256-1";
const T_MAC: &[u8] = b"ntor-curve25519-sha256-1:mac";
const T_KEY: &[u8] = b"ntor-curve25519-sha256-1:key_extract";
const T_VERIFY: &[u8] = b"ntor-curve25519-sha256-1:verify";
/// `m_expand`, the HKDF info string (tor-spec §5.1.4).
pub const M_EXPAND: &[u8] = b"ntor-curve25519-sha256-1:key_expand";
const SERVER_STR: &[u8] = b"Server";

/// Length of the client's onion skin.
pub const CLIENT_HANDSHAKE_LEN: usize = 20 + 32 + 32;
/// Length of the relay's reply.
pub const SERVER_HANDSHAKE_LEN: usize = 32 + 32;

/// Why an ntor handshake failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NtorError {
    /// The handshake message is shorter than the format requires (malformed input).
    #[error("ntor handshake message too short: {got} bytes, need {need}")]
    WrongLength {
        /// Bytes received.
        got: usize,
        /// Bytes required.
        need: usize,
    },
    /// `NODEID` is not this relay's RSA identity.
    #[error("ntor onion skin is for another relay")]
    UnknownRelayId,
    /// `KEYID` matches none of this relay's current or previous ntor onion keys.
    #[error("ntor onion skin names an ntor onion key we do not have")]
    UnknownKeyId,
    /// A Diffie-Hellman output was all zeros: the peer sent a small-order point.
    #[error("ntor: non-contributory Diffie-Hellman (small-order public key)")]
    NonContributory,
    /// The relay's `AUTH` did not verify.
    #[error("ntor: relay's AUTH does not verify")]
    BadAuth,
}

impl From<super::ll::NonContributory> for NtorError {
    fn from(_: super::ll::NonContributory) -> Self {
        NtorError::NonContributory
    }
}

/// What a client needs to know about a relay to run ntor with it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct NtorPublicKey {
    /// The relay's RSA identity fingerprint (`ID`, sent as `NODEID`).
    pub id: RsaIdentity,
    /// The relay's ntor onion key `B` (sent as `KEYID`).
    pub onion_key: X25519Public,
}

impl fmt::Debug for NtorPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "NtorPublicKey({}, {})",
            self.id,
            hex::encode(self.onion_key.as_bytes())
        )
    }
}

/// One of a relay's ntor onion keypairs, with the identity it serves under.
pub struct NtorSecretKey {
    id: RsaIdentity,
    secret: X25519Secret,
    public: X25519Public,
}

impl NtorSecretKey {
    /// A keypair from its secret half.
    pub fn new(id: RsaIdentity, secret: X25519Secret) -> Self {
        let public = X25519Public::from(&secret);
        NtorSecretKey { id, secret, public }
    }

    /// The public half, as a client would know it.
    pub fn public(&self) -> NtorPublicKey {
        NtorPublicKey {
            id: self.id,
            onion_key: self.public,
        }
    }
}

impl fmt::Debug for NtorSecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NtorSecretKey({:?}, <secret>)", self.public())
    }
}

/// The client's state between sending the onion skin and receiving the reply.
/// Its ephemeral secret is zeroized on drop.
pub struct NtorClientState {
    x: X25519Secret,
    big_x: X25519Public,
    relay: NtorPublicKey,
}

impl fmt::Debug for NtorClientState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NtorClientState({:?}, <secret>)", self.relay)
    }
}

/// `H(x, t) = HMAC-SHA256(key = t, msg = x)` over the concatenation of `parts`.
fn h(tweak: &[u8], parts: &[&[u8]]) -> Zeroizing<[u8; 32]> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(tweak) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    for p in parts {
        mac.update(p);
    }
    Zeroizing::new(mac.finalize().into_bytes().into())
}

/// The shared computation: `KEY_SEED` and `AUTH` from the two DH outputs.
fn derive(
    xy: &[u8; 32],
    xb: &[u8; 32],
    id: &RsaIdentity,
    b: &X25519Public,
    x: &X25519Public,
    y: &X25519Public,
) -> (KeyGenerator, Zeroizing<[u8; 32]>) {
    let secret_input: [&[u8]; 7] = [
        xy,
        xb,
        &id.0,
        b.as_bytes(),
        x.as_bytes(),
        y.as_bytes(),
        PROTOID,
    ];
    let key_seed = h(T_KEY, &secret_input);
    let verify = h(T_VERIFY, &secret_input);
    let auth = h(
        T_MAC,
        &[
            &verify[..],
            &id.0,
            b.as_bytes(),
            y.as_bytes(),
            x.as_bytes(),
            PROTOID,
            SERVER_STR,
        ],
    );
    (KeyGenerator::hkdf_expand(&key_seed, M_EXPAND), auth)
}

/// Client, first step: a fresh ephemeral key and the 84-byte onion skin.
pub fn client1<R: RngCore + CryptoRng>(
    rng: &mut R,
    relay_id: &RsaIdentity,
    relay_ntor_key: &X25519Public,
) -> (NtorClientState, [u8; CLIENT_HANDSHAKE_LEN]) {
    client1_with_keys(X25519Secret::random_from_rng(rng), relay_id, relay_ntor_key)
}

/// [`client1`] with the ephemeral secret `x` supplied (for test vectors).
#[doc(hidden)]
pub fn client1_with_keys(
    x: X25519Secret,
    relay_id: &RsaIdentity,
    relay_ntor_key: &X25519Public,
) -> (NtorClientState, [u8; CLIENT_HANDSHAKE_LEN]) {
    let big_x = X25519Public::from(&x);
    let mut msg = [0u8; CLIENT_HANDSHAKE_LEN];
    msg[..20].copy_from_slice(&relay_id.0);
    msg[20..52].copy_from_slice(relay_ntor_key.as_bytes());
    msg[52..].copy_from_slice(big_x.as_bytes());
    let state = NtorClientState {
        x,
        big_x,
        relay: NtorPublicKey {
            id: *relay_id,
            onion_key: *relay_ntor_key,
        },
    };
    (state, msg)
}

/// Relay: answers an onion skin with `Y|AUTH`, using whichever of `keys` (current and
/// previous onion keys) the client named by `KEYID`.
pub fn server<R: RngCore + CryptoRng>(
    rng: &mut R,
    keys: &[NtorSecretKey],
    hdata: &[u8],
) -> Result<([u8; SERVER_HANDSHAKE_LEN], KeyGenerator), NtorError> {
    server_with_keys(X25519Secret::random_from_rng(rng), keys, hdata)
}

/// [`server`] with the ephemeral secret `y` supplied (for test vectors).
#[doc(hidden)]
pub fn server_with_keys(
    y: X25519Secret,
    keys: &[NtorSecretKey],
    hdata: &[u8],
) -> Result<([u8; SERVER_HANDSHAKE_LEN], KeyGenerator), NtorError> {
    let (node_id, key_id, client_x) = match (
        hdata.get(..20),
        hdata.get(20..52),
        hdata.get(52..CLIENT_HANDSHAKE_LEN),
    ) {
        (Some(a), Some(b), Some(c)) => (a, b, c),
        _ => {
            return Err(NtorError::WrongLength {
                got: hdata.len(),
                need: CLIENT_HANDSHAKE_LEN,
            })
        }
    };
    if !keys.iter().any(|k| k.id.0[..] == *node_id) {
        return Err(NtorError::UnknownRelayId);
    }
    let key = keys
        .iter()
        .find(|k| k.id.0[..] == *node_id && k.public.as_bytes()[..] == *key_id)
        .ok_or(NtorError::UnknownKeyId)?;
    let mut xbytes = [0u8; 32];
    xbytes.copy_from_slice(client_x);
    let big_x = X25519Public::from(xbytes);
    let big_y = X25519Public::from(&y);

    let xy = x25519(&y, &big_x)?;
    let xb = x25519(&key.secret, &big_x)?;
    let (keygen, auth) = derive(&xy, &xb, &key.id, &key.public, &big_x, &big_y);

    let mut reply = [0u8; SERVER_HANDSHAKE_LEN];
    reply[..32].copy_from_slice(big_y.as_bytes());
    reply[32..].copy_from_slice(&auth[..]);
    Ok((reply, keygen))
}

/// Client, second step: checks the relay's `Y|AUTH` and yields the key generator.
pub fn client2(state: NtorClientState, reply: &[u8]) -> Result<KeyGenerator, NtorError> {
    let (y, auth) = match (reply.get(..32), reply.get(32..SERVER_HANDSHAKE_LEN)) {
        (Some(y), Some(a)) => (y, a),
        _ => {
            return Err(NtorError::WrongLength {
                got: reply.len(),
                need: SERVER_HANDSHAKE_LEN,
            })
        }
    };
    let mut ybytes = [0u8; 32];
    ybytes.copy_from_slice(y);
    let big_y = X25519Public::from(ybytes);

    let yx = x25519(&state.x, &big_y)?;
    let bx = x25519(&state.x, &state.relay.onion_key)?;
    let (keygen, expect) = derive(
        &yx,
        &bx,
        &state.relay.id,
        &state.relay.onion_key,
        &state.big_x,
        &big_y,
    );
    if !ct_eq(&expect[..], auth) {
        return Err(NtorError::BadAuth);
    }
    Ok(keygen)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use rand::rngs::OsRng;

    fn relay() -> NtorSecretKey {
        NtorSecretKey::new(RsaIdentity([3; 20]), X25519Secret::random_from_rng(OsRng))
    }

    #[test]
    fn round_trip() {
        let old = relay();
        let cur = relay();
        let pk = old.public();
        let (st, msg) = client1(&mut OsRng, &pk.id, &pk.onion_key);
        let (reply, skg) = server(&mut OsRng, &[cur, old], &msg).unwrap();
        let ckg = client2(st, &reply).unwrap();
        let (c, s) = (
            ckg.into_relay_keys().unwrap(),
            skg.into_relay_keys().unwrap(),
        );
        assert_eq!(c.tor1(), s.tor1());
        assert_eq!(c.kh(), s.kh());
    }

    #[test]
    fn failures() {
        let k = relay();
        let pk = k.public();
        let (_, msg) = client1(&mut OsRng, &pk.id, &pk.onion_key);
        let keys = [k];
        assert!(matches!(
            server(&mut OsRng, &keys, &msg[..83]),
            Err(NtorError::WrongLength { got: 83, need: 84 })
        ));
        let mut bad = msg;
        bad[0] ^= 1;
        assert_eq!(
            server(&mut OsRng, &keys, &bad).unwrap_err(),
            NtorError::UnknownRelayId
        );
        let mut bad = msg;
        bad[20] ^= 1;
        assert_eq!(
            server(&mut OsRng, &keys, &bad).unwrap_err(),
            NtorError::UnknownKeyId
        );
        let mut bad = msg;
        bad[52..].copy_from_slice(&[0; 32]);
        assert_eq!(
            server(&mut OsRng, &keys, &bad).unwrap_err(),
            NtorError::NonContributory
        );
        let (st, _) = client1(&mut OsRng, &pk.id, &pk.onion_key);
        assert_eq!(
            client2(st, &[0; 64]).unwrap_err(),
            NtorError::NonContributory
        );
        let (st, msg) = client1(&mut OsRng, &pk.id, &pk.onion_key);
        let (mut reply, _) = server(&mut OsRng, &keys, &msg).unwrap();
        reply[40] ^= 0x80;
        assert_eq!(client2(st, &reply).unwrap_err(), NtorError::BadAuth);
    }

    #[test]
    fn debug_hides_secrets() {
        let k = NtorSecretKey::new(RsaIdentity([3; 20]), X25519Secret::from([0x5a; 32]));
        let s = format!("{k:?}");
        assert!(s.contains("<secret>") && !s.contains("5a5a5a"));
    }
}
