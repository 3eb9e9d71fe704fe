//! Cryptography for the Tor protocol: key derivation, circuit handshakes, relay-cell
//! encryption, SENDME authentication and RSA identity keys.
//!
//! Every function here is pure: keys and bytes in, keys and bytes out. Randomness comes
//! from a caller-supplied RNG so tests can be deterministic. Secret material is held in
//! types that zeroize on drop.
//!
//! Ed25519 certificates are in [`crate::cert`]; onion-service cryptography in [`crate::hs`].

pub mod fast;
pub mod kdf;
pub mod keyfile;
pub mod ll;
pub mod ntor;
pub mod ntor_v3;
pub mod rsa;
pub mod sendme;
pub mod tor1;
pub mod x509;
