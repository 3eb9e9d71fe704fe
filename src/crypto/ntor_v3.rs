//! The ntor-v3 circuit handshake, CREATE2 `HTYPE` 3 (proposal 332 "ntor v3 with extra
//! data"; "The ntor-v3 handshake" in the current tor-spec, absent from the 2023 tor-spec.txt),
//! with its encrypted client and server messages.
//!
//! Client → relay: `ID[32] | B[32] | X[32] | ENC(CM) | MSG_MAC[32]`; relay → client:
//! `Y[32] | AUTH[32] | ENC(SM)`. `ID` is the relay's Ed25519 identity, `B` its ntor onion
//! key. `VER` is [`CIRCUIT_EXTEND_VERIFICATION`] for CREATE2/EXTEND2.
//!
//! The MAC is `SHA3-256(ENCAP(t_msgmac) | ENCAP(MAC_K1) | ID | B | X | ENC(CM))`, as in C
//! tor's `onion_ntor_v3.c` and Arti; proposal 332 §A.1's one-line formula (ending in a
//! stray `s`) has a typo. The key stream is SHAKE-256(`ENCAP(t_final) | key_seed`) after
//! its first 32 bytes (the key that encrypts SM): `Df|Db|Kf|Kb|KH` for tor1.
//!
//! The relay side is two-step ([`server_part1`] decrypts CM, the caller decides SM,
//! [`server_part2`] finishes), or one call with a closure ([`server`]). The CM/SM
//! extension format and our relay's policy are in [`ext`].
//!
//! Deliberately not here: CREATE2 framing, and deciding congestion-control parameters
//! (the caller's policy; see [`ext::relay_reply_declining_cc`]).

use std::fmt;

use cipher::{KeyIvInit, StreamCipher};
use digest::{Digest, ExtendableOutput, Update, XofReader};
use rand_core::{CryptoRng, RngCore};
use sha3::{Sha3_256, Shake256};
use zeroize::Zeroizing;

use super::kdf::KeyGenerator;
use super::ll::{ct_eq, x25519, Aes256Ctr, X25519Public, X25519Secret};
use crate::ids::Ed25519Identity;

pub mod ext;

/// `PROTOID` (proposal 332 §A.2).
pub const PROTOID: &[u8] = b"ntor3-curve25519-sha3_256-1";
/// The verification string for circuit extension (C tor `NTOR3_CIRC_VERIFICATION`).
pub const CIRCUIT_EXTEND_VERIFICATION: &[u8] = b"circuit extend";

const T_MSGKDF: &[u8] = b"ntor3-curve25519-sha3_256-1:kdf_phase1";
const T_MSGMAC: &[u8] = b"ntor3-curve25519-sha3_256-1:msg_mac";
const T_KEY_SEED: &[u8] = b"ntor3-curve25519-sha3_256-1:key_seed";
const T_VERIFY: &[u8] = b"ntor3-curve25519-sha3_256-1:verify";
const T_FINAL: &[u8] = b"ntor3-curve25519-sha3_256-1:kdf_final";
const T_AUTH: &[u8] = b"ntor3-curve25519-sha3_256-1:auth_final";
const SERVER_STR: &[u8] = b"Server";

/// Bytes of a client handshake besides the encrypted message.
pub const CLIENT_OVERHEAD: usize = 32 * 4;
/// Bytes of a relay reply besides the encrypted message.
pub const SERVER_OVERHEAD: usize = 32 * 2;

/// Why an ntor-v3 handshake failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NtorV3Error {
    /// A handshake message is shorter than the format requires (malformed input).
    #[error("ntor-v3 handshake message too short: {got} bytes, need at least {need}")]
    WrongLength {
        /// Bytes received.
        got: usize,
        /// Bytes required at least.
        need: usize,
    },
    /// `NODEID` is not this relay's Ed25519 identity.
    #[error("ntor-v3 onion skin is for another relay")]
    UnknownRelayId,
    /// `KEYID` matches none of this relay's current or previous ntor onion keys.
    #[error("ntor-v3 onion skin names an ntor onion key we do not have")]
    UnknownKeyId,
    /// A Diffie-Hellman output was all zeros: the peer sent a small-order point.
    #[error("ntor-v3: non-contributory Diffie-Hellman (small-order public key)")]
    NonContributory,
    /// The client's message MAC did not verify.
    #[error("ntor-v3: client message MAC does not verify")]
    BadMsgMac,
    /// The relay's `AUTH` did not verify.
    #[error("ntor-v3: relay's AUTH does not verify")]
    BadAuth,
    /// The relay's message-handling callback refused the client's message.
    #[error("ntor-v3: client message refused")]
    MessageRefused,
}

impl From<super::ll::NonContributory> for NtorV3Error {
    fn from(_: super::ll::NonContributory) -> Self {
        NtorV3Error::NonContributory
    }
}

/// What a client needs to know about a relay to run ntor-v3 with it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct NtorV3PublicKey {
    /// The relay's Ed25519 identity (`ID`).
    pub id: Ed25519Identity,
    /// The relay's ntor onion key `B`.
    pub onion_key: X25519Public,
}

impl fmt::Debug for NtorV3PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "NtorV3PublicKey({}, {})",
            self.id,
            hex::encode(self.onion_key.as_bytes())
        )
    }
}

/// One of a relay's ntor onion keypairs, with the Ed25519 identity it serves under.
pub struct NtorV3SecretKey {
    id: Ed25519Identity,
    secret: X25519Secret,
    public: X25519Public,
}

impl NtorV3SecretKey {
    /// A keypair from its secret half.
    pub fn new(id: Ed25519Identity, secret: X25519Secret) -> Self {
        let public = X25519Public::from(&secret);
        NtorV3SecretKey { id, secret, public }
    }

    /// The public half, as a client would know it.
    pub fn public(&self) -> NtorV3PublicKey {
        NtorV3PublicKey {
            id: self.id,
            onion_key: self.public,
        }
    }
}

impl fmt::Debug for NtorV3SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NtorV3SecretKey({:?}, <secret>)", self.public())
    }
}

/// `ENCAP(s) = u64be(len(s)) | s`, fed to a hash or XOF.
fn encap<U: Update>(u: &mut U, s: &[u8]) {
    u.update(&(s.len() as u64).to_be_bytes());
    u.update(s);
}

/// `H(s, t) = SHA3-256(ENCAP(t) | s)` over the concatenation of `parts`.
fn h(t: &[u8], parts: &[&[u8]]) -> Zeroizing<[u8; 32]> {
    let mut d = Sha3_256::new();
    encap(&mut d, t);
    for p in parts {
        Update::update(&mut d, p);
    }
    Zeroizing::new(d.finalize().into())
}

/// `AES-256-CTR` with a zero IV, applied in place.
fn enc(key: &[u8; 32], data: &mut [u8]) {
    let mut c = Aes256Ctr::new(key.into(), &[0u8; 16].into());
    c.apply_keystream(data);
}

/// Phase 1: `(ENC_K1, MAC_K1) = KDF(Bx | ID | X | B | PROTOID | ENCAP(VER), t_msgkdf)`.
fn phase1(
    bx: &[u8; 32],
    id: &Ed25519Identity,
    x: &X25519Public,
    b: &X25519Public,
    ver: &[u8],
) -> (Zeroizing<[u8; 32]>, Zeroizing<[u8; 32]>) {
    let mut xof = Shake256::default();
    encap(&mut xof, T_MSGKDF);
    xof.update(bx);
    xof.update(&id.0);
    xof.update(x.as_bytes());
    xof.update(b.as_bytes());
    xof.update(PROTOID);
    encap(&mut xof, ver);
    let mut r = xof.finalize_xof();
    let mut enc_k1 = Zeroizing::new([0u8; 32]);
    let mut mac_k1 = Zeroizing::new([0u8; 32]);
    r.read(&mut enc_k1[..]);
    r.read(&mut mac_k1[..]);
    (enc_k1, mac_k1)
}

/// `MAC(MAC_K1, ID | B | X | C, t_msgmac) = SHA3-256(ENCAP(t) | ENCAP(k) | msg)`.
fn msg_mac(
    mac_k1: &[u8; 32],
    id: &Ed25519Identity,
    b: &X25519Public,
    x: &X25519Public,
    c: &[u8],
) -> [u8; 32] {
    let mut d = Sha3_256::new();
    encap(&mut d, T_MSGMAC);
    encap(&mut d, mac_k1);
    Update::update(&mut d, &id.0);
    Update::update(&mut d, b.as_bytes());
    Update::update(&mut d, x.as_bytes());
    Update::update(&mut d, c);
    d.finalize().into()
}

/// What both sides derive once both DH outputs are known: the key-stream seed
/// (`ENCAP(t_final) | key_seed`), the SM encryption key and `verify`.
struct Seeds {
    keygen_input: Zeroizing<Vec<u8>>,
    enc_key: Zeroizing<[u8; 32]>,
    verify: Zeroizing<[u8; 32]>,
}

/// The fields of `secret_input` and `auth_input` besides the two DH outputs.
struct Transcript<'a> {
    id: &'a Ed25519Identity,
    b: &'a X25519Public,
    x: &'a X25519Public,
    y: &'a X25519Public,
    msg_mac: &'a [u8; 32],
    ver: &'a [u8],
}

fn seeds(xy: &[u8; 32], xb: &[u8; 32], t: &Transcript<'_>) -> Seeds {
    let ver_len = (t.ver.len() as u64).to_be_bytes();
    let secret_input: [&[u8]; 9] = [
        xy,
        xb,
        &t.id.0,
        t.b.as_bytes(),
        t.x.as_bytes(),
        t.y.as_bytes(),
        PROTOID,
        &ver_len,
        t.ver,
    ];
    let key_seed = h(T_KEY_SEED, &secret_input);
    let verify = h(T_VERIFY, &secret_input);

    let mut keygen_input = Zeroizing::new(Vec::with_capacity(8 + T_FINAL.len() + 32));
    keygen_input.extend_from_slice(&(T_FINAL.len() as u64).to_be_bytes());
    keygen_input.extend_from_slice(T_FINAL);
    keygen_input.extend_from_slice(&key_seed[..]);
    let mut enc_key = Zeroizing::new([0u8; 32]);
    let mut xof = Shake256::default();
    xof.update(&keygen_input);
    xof.finalize_xof().read(&mut enc_key[..]);
    Seeds {
        keygen_input,
        enc_key,
        verify,
    }
}

/// `AUTH = H(verify | ID | B | Y | X | MSG_MAC | ENCAP(SMc) | PROTOID | "Server", t_auth)`.
fn auth(verify: &[u8; 32], t: &Transcript<'_>, smc: &[u8]) -> Zeroizing<[u8; 32]> {
    let smc_len = (smc.len() as u64).to_be_bytes();
    h(
        T_AUTH,
        &[
            verify,
            &t.id.0,
            t.b.as_bytes(),
            t.y.as_bytes(),
            t.x.as_bytes(),
            t.msg_mac,
            &smc_len,
            smc,
            PROTOID,
            SERVER_STR,
        ],
    )
}

/// The client's state between sending the onion skin and receiving the reply.
/// Secrets are zeroized on drop.
pub struct NtorV3ClientState {
    x: X25519Secret,
    big_x: X25519Public,
    relay: NtorV3PublicKey,
    bx: Zeroizing<[u8; 32]>,
    msg_mac: [u8; 32],
    ver: Vec<u8>,
}

impl fmt::Debug for NtorV3ClientState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NtorV3ClientState({:?}, <secret>)", self.relay)
    }
}

/// Client, first step: a fresh ephemeral key and the onion skin carrying `cm` encrypted.
///
/// Fails only if `B` is a small-order point.
pub fn client1<R: RngCore + CryptoRng>(
    rng: &mut R,
    relay: &NtorV3PublicKey,
    ver: &[u8],
    cm: &[u8],
) -> Result<(NtorV3ClientState, Vec<u8>), NtorV3Error> {
    client1_with_keys(X25519Secret::random_from_rng(rng), relay, ver, cm)
}

/// [`client1`] with the ephemeral secret `x` supplied (for test vectors).
#[doc(hidden)]
pub fn client1_with_keys(
    x: X25519Secret,
    relay: &NtorV3PublicKey,
    ver: &[u8],
    cm: &[u8],
) -> Result<(NtorV3ClientState, Vec<u8>), NtorV3Error> {
    let big_x = X25519Public::from(&x);
    let bx = x25519(&x, &relay.onion_key)?;
    let (enc_k1, mac_k1) = phase1(&bx, &relay.id, &big_x, &relay.onion_key, ver);
    let mut out = Vec::with_capacity(CLIENT_OVERHEAD + cm.len());
    out.extend_from_slice(&relay.id.0);
    out.extend_from_slice(relay.onion_key.as_bytes());
    out.extend_from_slice(big_x.as_bytes());
    let c_start = out.len();
    out.extend_from_slice(cm);
    enc(&enc_k1, &mut out[c_start..]);
    let mac = msg_mac(
        &mac_k1,
        &relay.id,
        &relay.onion_key,
        &big_x,
        &out[c_start..],
    );
    out.extend_from_slice(&mac);
    let state = NtorV3ClientState {
        x,
        big_x,
        relay: *relay,
        bx,
        msg_mac: mac,
        ver: ver.to_vec(),
    };
    Ok((state, out))
}

/// Client, second step: checks the relay's reply and yields SM and the key generator.
pub fn client2(
    state: NtorV3ClientState,
    reply: &[u8],
) -> Result<(Zeroizing<Vec<u8>>, KeyGenerator), NtorV3Error> {
    let (y, auth, smc) = match (reply.get(..32), reply.get(32..64), reply.get(64..)) {
        (Some(y), Some(a), Some(m)) => (y, a, m),
        _ => {
            return Err(NtorV3Error::WrongLength {
                got: reply.len(),
                need: SERVER_OVERHEAD,
            })
        }
    };
    let mut ybytes = [0u8; 32];
    ybytes.copy_from_slice(y);
    let big_y = X25519Public::from(ybytes);
    let yx = x25519(&state.x, &big_y)?;
    let t = Transcript {
        id: &state.relay.id,
        b: &state.relay.onion_key,
        x: &state.big_x,
        y: &big_y,
        msg_mac: &state.msg_mac,
        ver: &state.ver,
    };
    let s = seeds(&yx, &state.bx, &t);
    let expect = self::auth(&s.verify, &t, smc);
    if !ct_eq(&expect[..], auth) {
        return Err(NtorV3Error::BadAuth);
    }
    let mut sm = Zeroizing::new(smc.to_vec());
    enc(&s.enc_key, &mut sm);
    Ok((sm, KeyGenerator::shake(s.keygen_input, 32)))
}

/// The relay's state between decrypting CM and sending its reply.
pub struct NtorV3ServerState {
    id: Ed25519Identity,
    b: X25519Public,
    big_x: X25519Public,
    xb: Zeroizing<[u8; 32]>,
    msg_mac: [u8; 32],
    ver: Vec<u8>,
}

impl fmt::Debug for NtorV3ServerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NtorV3ServerState({}, <secret>)", self.id)
    }
}

/// Relay, first step: finds the key the onion skin names among `keys` (current and
/// previous onion keys), checks the message MAC and decrypts CM.
pub fn server_part1(
    keys: &[NtorV3SecretKey],
    ver: &[u8],
    hdata: &[u8],
) -> Result<(NtorV3ServerState, Zeroizing<Vec<u8>>), NtorV3Error> {
    let too_short = NtorV3Error::WrongLength {
        got: hdata.len(),
        need: CLIENT_OVERHEAD,
    };
    let mac_at = hdata.len().checked_sub(32).ok_or(too_short.clone())?;
    let (id, kid, x, c, mac) = match (
        hdata.get(..32),
        hdata.get(32..64),
        hdata.get(64..96),
        hdata.get(96..mac_at),
        hdata.get(mac_at..),
    ) {
        (Some(a), Some(b), Some(x), Some(c), Some(m)) => (a, b, x, c, m),
        _ => return Err(too_short),
    };
    if !keys.iter().any(|k| k.id.0[..] == *id) {
        return Err(NtorV3Error::UnknownRelayId);
    }
    let key = keys
        .iter()
        .find(|k| k.id.0[..] == *id && k.public.as_bytes()[..] == *kid)
        .ok_or(NtorV3Error::UnknownKeyId)?;
    let mut xbytes = [0u8; 32];
    xbytes.copy_from_slice(x);
    let big_x = X25519Public::from(xbytes);
    let xb = x25519(&key.secret, &big_x)?;
    let (enc_k1, mac_k1) = phase1(&xb, &key.id, &big_x, &key.public, ver);
    let expect = msg_mac(&mac_k1, &key.id, &key.public, &big_x, c);
    if !ct_eq(&expect, mac) {
        return Err(NtorV3Error::BadMsgMac);
    }
    let mut cm = Zeroizing::new(c.to_vec());
    enc(&enc_k1, &mut cm);
    let state = NtorV3ServerState {
        id: key.id,
        b: key.public,
        big_x,
        xb,
        msg_mac: expect,
        ver: ver.to_vec(),
    };
    Ok((state, cm))
}

/// Relay, second step: a fresh ephemeral key, the reply carrying `sm`, and the key
/// generator.
pub fn server_part2<R: RngCore + CryptoRng>(
    rng: &mut R,
    state: NtorV3ServerState,
    sm: &[u8],
) -> Result<(Vec<u8>, KeyGenerator), NtorV3Error> {
    server_part2_with_keys(X25519Secret::random_from_rng(rng), state, sm)
}

/// [`server_part2`] with the ephemeral secret `y` supplied (for test vectors).
#[doc(hidden)]
pub fn server_part2_with_keys(
    y: X25519Secret,
    state: NtorV3ServerState,
    sm: &[u8],
) -> Result<(Vec<u8>, KeyGenerator), NtorV3Error> {
    let big_y = X25519Public::from(&y);
    let xy = x25519(&y, &state.big_x)?;
    let t = Transcript {
        id: &state.id,
        b: &state.b,
        x: &state.big_x,
        y: &big_y,
        msg_mac: &state.msg_mac,
        ver: &state.ver,
    };
    let s = seeds(&xy, &state.xb, &t);
    let mut smc = sm.to_vec();
    enc(&s.enc_key, &mut smc);
    let auth = auth(&s.verify, &t, &smc);
    let mut out = Vec::with_capacity(SERVER_OVERHEAD + smc.len());
    out.extend_from_slice(big_y.as_bytes());
    out.extend_from_slice(&auth[..]);
    out.extend_from_slice(&smc);
    Ok((out, KeyGenerator::shake(s.keygen_input, 32)))
}

/// Relay, in one call: `reply` sees the decrypted CM and returns SM, or `None` to refuse
/// the handshake ([`NtorV3Error::MessageRefused`]).
pub fn server<R, F>(
    rng: &mut R,
    keys: &[NtorV3SecretKey],
    ver: &[u8],
    hdata: &[u8],
    reply: F,
) -> Result<(Vec<u8>, KeyGenerator), NtorV3Error>
where
    R: RngCore + CryptoRng,
    F: FnOnce(&[u8]) -> Option<Vec<u8>>,
{
    let (state, cm) = server_part1(keys, ver, hdata)?;
    let sm = reply(&cm).ok_or(NtorV3Error::MessageRefused)?;
    server_part2(rng, state, &sm)
}

#[cfg(test)]
mod tests;
