//! Consensus network-status documents (dir-spec §3.4.1 "Vote and consensus status document
//! formats", §3.9 "Computing a consensus", §3.9.2 the microdescriptor flavour), both the
//! `ns` flavour (`network-status-version 3`) and the `microdesc` flavour
//! (`network-status-version 3 microdesc`).
//!
//! - [`Consensus::parse`] reads either flavour into [`Consensus`] (no signature check);
//! - [`Consensus::verify`] checks the signatures against authority certificates (§3.4.1 and
//!   the "more than half" rule of dir-spec §3.4.1 "directory-signature"), and freshness;
//! - [`ConsensusBuilder::build_unsigned`] writes the text a C tor 0.4.9 authority writes
//!   with consensus method 35 (`networkstatus_compute_consensus`), and [`sign_consensus`]
//!   appends a `directory-signature`.
//!
//! The signed digest covers the text from the start of `network-status-version` through
//! the space after the *first* `directory-signature` keyword; it is SHA-1 for signatures
//! without an algorithm (or `sha1`) and SHA-256 for `sha256` ones.
//!
//! Not here: votes, detached signatures, consensus diffs, computing the consensus from
//! votes or the bandwidth weights (`dirauth`), choosing which authorities to trust.

mod build;
mod parse;
mod verify;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV6};

pub use build::{sign_consensus, ConsensusBuilder};
pub use verify::REASONABLY_LIVE_SECS;

use crate::dir::flags::{PortSummary, RelayFlags};
use crate::ids::RsaIdentity;

/// Largest consensus accepted, in bytes.
pub const MAX_CONSENSUS_BYTES: usize = 16 * 1024 * 1024;
/// Most router entries accepted in one consensus.
pub const MAX_ROUTERS: usize = 100_000;
/// The `published` time C tor writes in microdesc-flavour `r` lines from consensus method
/// 33 on (`MIN_METHOD_TO_SUPPRESS_MD_PUBLISHED`): 2038-01-01 00:00:00.
pub const DUMMY_PUBLISHED: u64 = 2_145_916_800;
/// First consensus method whose microdesc flavour carries [`DUMMY_PUBLISHED`].
pub const MIN_METHOD_TO_SUPPRESS_MD_PUBLISHED: u32 = 33;

/// The two consensus flavours (dir-spec §3.9.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flavor {
    /// The full ("ns") flavour: `r` lines carry the descriptor digest; signed with SHA-1.
    Ns,
    /// The microdescriptor flavour: `m` lines; signed with SHA-256.
    Microdesc,
}

impl Flavor {
    /// The name in `network-status-version 3 <name>` and in URLs (`ns`, `microdesc`).
    pub fn name(self) -> &'static str {
        match self {
            Flavor::Ns => "ns",
            Flavor::Microdesc => "microdesc",
        }
    }
}

/// One `dir-source` section (with its `contact` and `vote-digest`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirSource {
    /// The authority's nickname (ends in `-legacy` for a legacy-key entry).
    pub nickname: String,
    /// Its `v3ident`.
    pub identity: RsaIdentity,
    /// The hostname field (C tor writes the address again).
    pub hostname: String,
    /// IPv4 address.
    pub address: Ipv4Addr,
    /// DirPort.
    pub dir_port: u16,
    /// ORPort.
    pub or_port: u16,
    /// `contact` (empty for legacy entries, which have none).
    pub contact: String,
    /// `vote-digest`: SHA-1 of the authority's vote (zero for legacy entries).
    pub vote_digest: [u8; 20],
}

/// One router entry (dir-spec §3.4.1 "r", "a", "s", "v", "pr", "w", "p", "m").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterStatus {
    /// Nickname.
    pub nickname: String,
    /// RSA identity.
    pub rsa_id: RsaIdentity,
    /// SHA-1 of the server descriptor (ns flavour only).
    pub desc_digest: Option<[u8; 20]>,
    /// The `r` line's publication time ([`DUMMY_PUBLISHED`] in microdesc consensuses from
    /// method 33).
    pub published: u64,
    /// IPv4 address.
    pub ipv4: Ipv4Addr,
    /// ORPort.
    pub or_port: u16,
    /// DirPort (0 if none).
    pub dir_port: u16,
    /// The first IPv6 ORPort from an `a` line.
    pub ipv6_or: Option<SocketAddrV6>,
    /// Flags from the `s` line.
    pub flags: RelayFlags,
    /// The `v` line (e.g. `Tor 0.4.9.11`).
    pub version: Option<String>,
    /// The `pr` line.
    pub protocols: Option<String>,
    /// `w Bandwidth=` in kilobytes per second.
    pub bandwidth: Option<u32>,
    /// `w Unmeasured=1`.
    pub unmeasured: bool,
    /// The microdescriptor digest (`m`, microdesc flavour).
    pub md_digest: Option<[u8; 32]>,
    /// The `p` line (ns flavour).
    pub port_summary: Option<PortSummary>,
}

/// A shared-random value (`shared-rand-previous-value` / `-current-value`, dir-spec §3.4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedRandom {
    /// How many reveals went into it.
    pub reveals: u32,
    /// The value.
    pub value: [u8; 32],
}

/// One `directory-signature`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsensusSignature {
    /// `sha256` (else SHA-1: no algorithm, or `sha1`).
    pub sha256: bool,
    /// The authority's `v3ident`.
    pub identity: RsaIdentity,
    /// SHA-1 of the signing key's DER.
    pub signing_key_digest: RsaIdentity,
    /// The signature.
    pub signature: Vec<u8>,
}

/// A parsed consensus (either flavour). Signatures are not checked by parsing: call
/// [`Consensus::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consensus {
    /// Which flavour.
    pub flavor: Flavor,
    /// `consensus-method`.
    pub method: u32,
    /// `valid-after`.
    pub valid_after: u64,
    /// `fresh-until`.
    pub fresh_until: u64,
    /// `valid-until`.
    pub valid_until: u64,
    /// `voting-delay` (vote seconds, distribution seconds).
    pub voting_delay: (u32, u32),
    /// `client-versions`, split on commas.
    pub client_versions: Vec<String>,
    /// `server-versions`, split on commas.
    pub server_versions: Vec<String>,
    /// `known-flags`.
    pub known_flags: Vec<String>,
    /// `recommended-client-protocols` (empty if absent).
    pub recommended_client_protocols: String,
    /// `recommended-relay-protocols`.
    pub recommended_relay_protocols: String,
    /// `required-client-protocols`.
    pub required_client_protocols: String,
    /// `required-relay-protocols`.
    pub required_relay_protocols: String,
    /// `params`.
    pub params: BTreeMap<String, i32>,
    /// `shared-rand-previous-value`.
    pub shared_rand_previous: Option<SharedRandom>,
    /// `shared-rand-current-value`.
    pub shared_rand_current: Option<SharedRandom>,
    /// The `dir-source` sections, in document order.
    pub sources: Vec<DirSource>,
    /// The router entries, in document (identity) order.
    pub routers: Vec<RouterStatus>,
    /// `bandwidth-weights`.
    pub bandwidth_weights: BTreeMap<String, i32>,
    /// The `directory-signature`s with a known algorithm, in document order.
    pub signatures: Vec<ConsensusSignature>,
    /// The document's text.
    pub text: String,
}

impl Consensus {
    /// Parses either flavour. Checks the meta-format, the item rules of dir-spec §3.4.1
    /// (required and unique items, order of the sections, routers sorted by identity) and
    /// the caps ([`MAX_CONSENSUS_BYTES`], [`MAX_ROUTERS`]). Does not check signatures.
    pub fn parse(text: &str) -> Result<Consensus, crate::dir::doc::token::DocError> {
        parse::parse(text)
    }
}

#[cfg(test)]
mod tests;
