//! Circuit handshakes at a relay as self-contained jobs (tor-spec §5.1 "CREATE and CREATED
//! cells", §5.1.4 ntor, §5.1.5 CREATE_FAST; proposal 332 ntor-v3; brief §4).
//!
//! [`RelayCircuits`](super::RelayCircuits) never runs public-key code: a CREATE2 or
//! CREATE_FAST becomes a [`HandshakeJob`], a plain value the runtime sends to a worker pool.
//! [`HandshakeJob::run`] is pure (job + the relay's [`OnionKeys`] + an RNG) and returns a
//! [`HandshakeResult`]: the CREATED2 / CREATED_FAST message and the circuit's
//! [`Tor1RelayCrypto`], or why the handshake failed. The runtime hands that back to
//! [`RelayCircuits::complete`](super::RelayCircuits::complete).
//!
//! ntor-v3 requests are answered with [`relay_reply_declining_cc`]: congestion control is
//! declined, an unsupported SUBPROTO request fails the handshake.
//!
//! Deliberately not here: onion-key rotation (the key manager builds [`OnionKeys`] with the
//! current and previous keys), C tor's junk CREATED2 for an unknown ntor key (we DESTROY).

use std::fmt;

use rand_core::{CryptoRng, RngCore};

use super::CircRef;
use crate::cell::{AnyChanMsg, Created2, CreatedFast};
use crate::crypto::ntor::NtorSecretKey;
use crate::crypto::ntor_v3::ext::relay_reply_declining_cc;
use crate::crypto::ntor_v3::{self, NtorV3SecretKey};
use crate::crypto::tor1::Tor1RelayCrypto;
use crate::crypto::{fast, kdf::KeyGenerator, ntor};

/// The relay's onion keys, current first, then the previous ones still accepted.
pub struct OnionKeys {
    /// Keys for ntor (by RSA identity).
    pub ntor: Vec<NtorSecretKey>,
    /// The same onion keys for ntor-v3 (by Ed25519 identity).
    pub ntor_v3: Vec<NtorV3SecretKey>,
}

impl fmt::Debug for OnionKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OnionKeys({} keys, <secret>)", self.ntor.len())
    }
}

/// What a job computes.
#[derive(Clone)]
pub(crate) enum JobKind {
    /// ntor: the 84-byte onion skin.
    Ntor(Vec<u8>),
    /// ntor-v3: the whole HDATA.
    NtorV3(Vec<u8>),
    /// CREATE_FAST: `X`.
    Fast([u8; 20]),
}

/// A circuit handshake to run off the forwarding path.
pub struct HandshakeJob {
    circ: CircRef,
    kind: JobKind,
}

impl fmt::Debug for HandshakeJob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let k = match self.kind {
            JobKind::Ntor(_) => "ntor",
            JobKind::NtorV3(_) => "ntor-v3",
            JobKind::Fast(_) => "fast",
        };
        write!(f, "HandshakeJob({:?}, {k})", self.circ)
    }
}

/// The outcome of a [`HandshakeJob`].
pub struct HandshakeResult {
    /// The circuit it was for.
    pub circ: CircRef,
    /// The reply and the circuit's relay crypto, or why it failed.
    pub outcome: Result<(AnyChanMsg, Box<Tor1RelayCrypto>), String>,
}

impl fmt::Debug for HandshakeResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ok = match &self.outcome {
            Ok((m, _)) => format!("Ok({})", m.cmd()),
            Err(e) => format!("Err({e})"),
        };
        write!(f, "HandshakeResult({:?}, {ok})", self.circ)
    }
}

impl HandshakeJob {
    pub(crate) fn new(circ: CircRef, kind: JobKind) -> Self {
        HandshakeJob { circ, kind }
    }

    /// The circuit this job is for.
    pub fn circ(&self) -> CircRef {
        self.circ
    }

    /// True for CREATE_FAST (no public-key work; a runtime may run it inline).
    pub fn is_cheap(&self) -> bool {
        matches!(self.kind, JobKind::Fast(_))
    }

    /// Runs the handshake (pure; may take a while for ntor and ntor-v3).
    pub fn run<R: RngCore + CryptoRng>(self, keys: &OnionKeys, rng: &mut R) -> HandshakeResult {
        let outcome = run_kind(&self.kind, keys, rng);
        HandshakeResult {
            circ: self.circ,
            outcome,
        }
    }
}

fn keys_of(kg: KeyGenerator) -> Result<Box<Tor1RelayCrypto>, String> {
    let k = kg.into_relay_keys().map_err(|e| e.to_string())?;
    Ok(Box::new(Tor1RelayCrypto::new(k.tor1())))
}

fn run_kind<R: RngCore + CryptoRng>(
    kind: &JobKind,
    keys: &OnionKeys,
    rng: &mut R,
) -> Result<(AnyChanMsg, Box<Tor1RelayCrypto>), String> {
    match kind {
        JobKind::Ntor(h) => {
            let (reply, kg) = ntor::server(rng, &keys.ntor, h).map_err(|e| e.to_string())?;
            let msg = Created2 {
                hdata: reply.to_vec(),
            };
            Ok((msg.into(), keys_of(kg)?))
        }
        JobKind::NtorV3(h) => {
            let (state, cm) =
                ntor_v3::server_part1(&keys.ntor_v3, ntor_v3::CIRCUIT_EXTEND_VERIFICATION, h)
                    .map_err(|e| e.to_string())?;
            let sm = relay_reply_declining_cc(&cm, &[]).map_err(|e| e.to_string())?;
            let (reply, kg) = ntor_v3::server_part2(rng, state, &sm).map_err(|e| e.to_string())?;
            let msg = Created2 { hdata: reply };
            Ok((msg.into(), keys_of(kg)?))
        }
        JobKind::Fast(x) => {
            let (reply, kg) = fast::server(rng, x).map_err(|e| e.to_string())?;
            let mut y = [0u8; 20];
            let mut kh = [0u8; 20];
            y.copy_from_slice(&reply[..20]);
            kh.copy_from_slice(&reply[20..]);
            Ok((CreatedFast { y, kh }.into(), keys_of(kg)?))
        }
    }
}
