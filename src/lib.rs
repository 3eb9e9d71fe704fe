//! Oniongate: the Tor protocol stack shared by `oniongate-relay`, `oniongate-client` and
//! `oniongate-service`, with an end-to-end datagram extension for onion services.
//!
//! Layers, bottom up (see `DESIGN.md` and `STYLE.md` in the project's shared notes):
//!
//! - [`wire`]: bounds-checked readers and writers every wire format uses;
//! - [`cell`]: channel cells and channel messages (tor-spec §3–§4);
//! - [`relaycell`]: relay cells (format v0) and relay messages (tor-spec §6), including our
//!   DATAGRAM / DATAGRAM_FRAG;
//! - [`linkspec`]: link specifiers (tor-spec §5.1.2), used by EXTEND2 and onion services;
//! - [`crypto`]: KDFs, circuit handshakes (ntor, ntor-v3, CREATE_FAST), relay-cell crypto,
//!   SENDME tags, RSA identity keys;
//! - [`cert`]: Ed25519 certificates (cert-spec) and the RSA→Ed25519 cross-certificate;
//! - [`hs`]: v3 onion-service cryptography (addresses, time periods, blinding, hs-ntor);
//! - [`channel`]: the link handshake (sans-IO); [`circuit`]: circuits at a relay (sans-IO);
//!   [`client`]: circuits and streams at the origin (sans-IO); [`keys`]: relay keys and rotation;
//! - [`config`]: torrc parsing and the tor-style command line;
//! - `rt` (feature `rt`, on by default): the tokio runtime and logging. Everything else is
//!   sans-IO: `cargo check --no-default-features` proves it.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cell;
pub mod cert;
pub mod channel;
pub mod circuit;
pub mod client;
pub mod config;
pub mod crypto;
pub mod dir;
pub mod dirauth;
pub mod hs;
pub mod ids;
pub mod keys;
pub mod linkspec;
pub mod relaycell;
pub mod safelog;
pub mod socks;
pub mod wire;

#[cfg(feature = "rt")]
pub mod rt;

/// The version string every binary reports.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
