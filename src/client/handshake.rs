//! The client half of one hop's circuit handshake (tor-spec §5.1 CREATE2/CREATED2,
//! §5.1.5 CREATE_FAST, §5.1.4 ntor, proposal 332 ntor-v3): the onion skin to send and the
//! pending state that turns the relay's reply into tor1 keys.

use rand_core::{CryptoRng, RngCore};

use super::{ClientError, HandshakeKind, HopTarget, ProtocolViolation};
use crate::cell::HandshakeType;
use crate::crypto::kdf::{KeyGenerator, RelayKeys};
use crate::crypto::ntor_v3::ext::{Direction, NtorV3Extensions};
use crate::crypto::{fast, ntor, ntor_v3};

/// A handshake waiting for its reply.
pub(crate) enum Pending {
    /// ntor: waiting for CREATED2 / EXTENDED2.
    Ntor(ntor::NtorClientState),
    /// ntor-v3: waiting for CREATED2 / EXTENDED2.
    NtorV3(ntor_v3::NtorV3ClientState),
    /// CREATE_FAST: waiting for CREATED_FAST.
    Fast(fast::FastClientState),
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Pending::Ntor(_) => "Pending(ntor)",
            Pending::NtorV3(_) => "Pending(ntor-v3)",
            Pending::Fast(_) => "Pending(CREATE_FAST)",
        })
    }
}

/// The ntor-v3 client message we send: an empty extension list (no CC request), as a C tor
/// client sends when it has nothing to ask for (tor-wire-brief §4.3, §13).
const NTOR_V3_EMPTY_EXTENSIONS: &[u8] = &[0];

impl Pending {
    /// Starts a public-key handshake with `target`: the pending state, the HTYPE and the
    /// HDATA for CREATE2 or EXTEND2.
    pub(crate) fn start<R: RngCore + CryptoRng>(
        rng: &mut R,
        target: &HopTarget,
    ) -> Result<(Pending, HandshakeType, Vec<u8>), ClientError> {
        match target.handshake {
            HandshakeKind::Ntor => {
                let (state, hdata) = ntor::client1(rng, &target.rsa_id, &target.ntor_key);
                Ok((Pending::Ntor(state), HandshakeType::NTOR, hdata.to_vec()))
            }
            HandshakeKind::NtorV3 => {
                let id = target.ed_id.ok_or(ClientError::NoEd25519Id)?;
                let key = ntor_v3::NtorV3PublicKey {
                    id,
                    onion_key: target.ntor_key,
                };
                let (state, hdata) = ntor_v3::client1(
                    rng,
                    &key,
                    ntor_v3::CIRCUIT_EXTEND_VERIFICATION,
                    NTOR_V3_EMPTY_EXTENSIONS,
                )
                .map_err(|_| ClientError::BadOnionKey)?;
                Ok((Pending::NtorV3(state), HandshakeType::NTOR_V3, hdata))
            }
        }
    }

    /// Starts CREATE_FAST: the pending state and X.
    pub(crate) fn start_fast<R: RngCore + CryptoRng>(rng: &mut R) -> (Pending, [u8; 20]) {
        let (state, x) = fast::client1(rng);
        (Pending::Fast(state), x)
    }

    /// True if this handshake expects CREATED_FAST rather than CREATED2 / EXTENDED2.
    pub(crate) fn is_fast(&self) -> bool {
        matches!(self, Pending::Fast(_))
    }

    /// Finishes with the relay's reply (CREATED2 / EXTENDED2 HDATA, or CREATED_FAST's
    /// `Y | KH`), giving the hop's tor1 keys.
    pub(crate) fn finish(self, reply: &[u8]) -> Result<RelayKeys, ProtocolViolation> {
        let fail = |e: &dyn std::fmt::Display| ProtocolViolation::Handshake(e.to_string());
        let keys: KeyGenerator = match self {
            Pending::Ntor(state) => ntor::client2(state, reply).map_err(|e| fail(&e))?,
            Pending::NtorV3(state) => {
                let (sm, keys) = ntor_v3::client2(state, reply).map_err(|e| fail(&e))?;
                // We asked for nothing; whatever the relay lists must at least parse. (A CC
                // response we did not ask for is ignored, as unknown extensions are.)
                NtorV3Extensions::decode(&sm, Direction::RelayToClient).map_err(|e| fail(&e))?;
                keys
            }
            Pending::Fast(state) => fast::client2(state, reply).map_err(|e| fail(&e))?,
        };
        keys.into_relay_keys().map_err(|e| fail(&e))
    }
}
