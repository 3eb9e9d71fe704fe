//! v3 onion-service cryptography (rend-spec-v3): everything a client or a service needs
//! before it can talk to an introduction or rendezvous point.
//!
//! - [`address`]: the onion address `base32(PUBKEY | CHECKSUM | VERSION).onion` and the
//!   identity key it carries, [`HsId`] (rend-spec-v3 §6, §2.2.7);
//! - [`time`]: time periods, computed from the live consensus (rend-spec-v3 §2.2.1), with
//!   C tor's `TestingTorNetwork` override;
//! - [`blind`]: key blinding, blinded signing keys, credential and subcredential
//!   (rend-spec-v3 §2.1 and appendix A.2);
//! - [`keyfile`]: C tor's `hs_ed25519_secret_key` / `hs_ed25519_public_key` file contents;
//! - [`mac`]: the onion-service MAC `SHA3-256(u64be(len k) | k | m)` (rend-spec-v3 §0.3);
//! - [`ntor`]: the hs-ntor handshake (rend-spec-v3 §3.3.2, §4.2.1);
//! - [`intro`]: the ENCRYPTED section of INTRODUCE1/INTRODUCE2: AES-256-CTR of the
//!   plaintext and the MAC over the cell as C tor computes it;
//! - [`ring`]: positions on the HSDir hash ring and the disaster SRV (rend-spec-v3 §2.2.3).
//!
//! Everything here is pure: time and randomness are parameters, nothing reads a clock or
//! a file. Secret keys zeroize on drop and never print through `Debug`.
//!
//! Deliberately not here: the INTRODUCE/RENDEZVOUS message formats (`crate::relaycell`),
//! descriptors, choosing HSDirs from a consensus, and client authorization.

pub mod address;
pub mod blind;
pub mod intro;
pub mod keyfile;
pub mod mac;
pub mod ntor;
pub mod ring;
pub mod time;

pub use address::{AddressError, HsId};
pub use blind::{BlindError, BlindedKeypair, BlindedPublicKey, IdentitySecretKey, Subcredential};
pub use ntor::HsNtorError;
pub use time::{TimePeriod, TimePeriodError, TimePeriodParams};
