//! Relay server descriptors (dir-spec §2.1 "Router descriptors"; tor-wire-brief §10.2):
//! building ours exactly as C tor 0.4.9's `router_dump_router_to_string` lays them out, and
//! parsing and fully checking anyone's.
//!
//! - [`build_descriptor`] signs with the keys of [`RelayKeys`]: `identity-ed25519` is the
//!   type-4 certificate, `router-sig-ed25519` an Ed25519 signature (by the signing key) of
//!   `SHA256("Tor router descriptor signature v1" | text through "router-sig-ed25519 ")`,
//!   `router-signature` a prefixless PKCS#1 v1.5 RSA signature (by the identity key) of the
//!   SHA-1 of the text through `router-signature\n`; both onion-key crosscerts included.
//! - [`RouterDescriptor::parse`] checks item counts and order, both signatures, the Ed25519
//!   chain (valid at `now`), both crosscerts and the fingerprint, and tolerates TAP-less
//!   (Desc=3/4-style) descriptors and unknown items. Error reasons name the item, because a
//!   directory authority sends them back to the uploader.
//! - [`split_descriptors`] cuts a `/tor/server/all` body into descriptors.
//!
//! Not here: extra-info documents, family certificates (proposal 321; a `family-cert` item is
//! tolerated but not checked), the authority's acceptance policy (versions, addresses,
//! pinning: `dirauth`), publication (`rt::publish`).

mod build;
mod parse;
#[cfg(test)]
pub(crate) mod tests;

use std::net::{Ipv4Addr, SocketAddrV6};

pub use build::build_descriptor;

use crate::config::PolicyRule;
use crate::crypto::ll::X25519Public;
use crate::crypto::rsa::RsaPublic;
use crate::dir::flags::PortSummary;
use crate::ids::{Ed25519Identity, RsaIdentity};

/// The `proto` line we advertise (tor-wire-brief §10.3 "Advertise exactly"): no Padding,
/// Conflux or Relay=5/6 until they are implemented.
pub const PROTOCOLS: &str = "Cons=1-2 Desc=1-2 DirCache=2 FlowCtrl=1-2 HSDir=2 HSIntro=4-5 \
                             HSRend=1-2 Link=4-5 LinkAuth=3 Microdesc=1-2 Relay=2-4";

/// The largest descriptor accepted (C tor's `MAX_DESCRIPTOR_UPLOAD_SIZE`).
pub const MAX_DESCRIPTOR_SIZE: usize = 20_000;

/// The prefix hashed before the text for `router-sig-ed25519` (dir-spec §2.1.1).
pub const ED_SIG_PREFIX: &[u8] = b"Tor router descriptor signature v1";

/// The platform string we publish: not `Tor ...`, which C tor's authorities treat as
/// "nonstandard" and accept without a version check (`tor_version_parse_platform` returns
/// 0 and `tor_version_as_new_as` says yes).
pub fn platform_string(version: &str) -> String {
    format!("Oniongate {version}")
}

/// Whether `s` is a legal nickname: 1–19 ASCII letters and digits (dir-spec §2.1.1).
pub fn is_nickname(s: &str) -> bool {
    (1..=19).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A relay's advertised bandwidth, bytes per second (dir-spec §2.1.1 `bandwidth`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bandwidth {
    /// Long-term average rate it is willing to sustain.
    pub average: u64,
    /// Burst rate.
    pub burst: u64,
    /// Observed capacity; must be > 0 or authorities give the relay no weight.
    pub observed: u64,
}

/// What goes into our descriptor besides the keys (dir-spec §2.1.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DescriptorParams {
    /// 1–19 alphanumerics.
    pub nickname: String,
    /// The advertised IPv4 address.
    pub ipv4: Ipv4Addr,
    /// The ORPort.
    pub or_port: u16,
    /// The DirPort, or 0.
    pub dir_port: u16,
    /// An IPv6 ORPort (`or-address`), if any.
    pub ipv6_or: Option<SocketAddrV6>,
    /// The `platform` text (see [`platform_string`]).
    pub platform: String,
    /// Publication time, seconds since the epoch.
    pub published: u64,
    /// Seconds since the relay started.
    pub uptime: u64,
    /// Bandwidth.
    pub bandwidth: Bandwidth,
    /// `ContactInfo`, if any (one line).
    pub contact: Option<String>,
    /// `MyFamily` members as configured (`$HEX`, `$HEX=nick`, or nicknames).
    pub family: Vec<String>,
    /// The exit policy, already expanded; IPv4 rules become the `accept`/`reject` lines (a
    /// final `reject *:*` is added if missing; nothing after a full IPv4 reject is written),
    /// IPv6 ones the `ipv6-policy` summary (written unless it is `reject 1-65535`). A `*` rule
    /// ([`crate::config::PolicyAddr::Any`]) counts for both families, so a relay without
    /// `IPv6Exit` should pass [`crate::config::PolicyAddr::AnyV4`] instead (C tor publishes
    /// no `ipv6-policy` then).
    pub exit_policy: Vec<PolicyRule>,
    /// Whether to publish `tunnelled-dir-server` (we answer BEGIN_DIR).
    pub tunnelled_dir_server: bool,
    /// Whether to publish `hidden-service-dir`.
    pub hidden_service_dir: bool,
}

/// A parsed and verified router descriptor (dir-spec §2.1.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouterDescriptor {
    /// Nickname.
    pub nickname: String,
    /// IPv4 address.
    pub ipv4: Ipv4Addr,
    /// ORPort.
    pub or_port: u16,
    /// DirPort (0 for none).
    pub dir_port: u16,
    /// The first IPv6 `or-address`, if any.
    pub ipv6_or: Option<SocketAddrV6>,
    /// `platform`, exactly as written after the keyword.
    pub platform: Option<String>,
    /// `proto` arguments (required, as C tor requires it).
    pub protocols: String,
    /// `published`, seconds since the epoch.
    pub published: u64,
    /// `uptime`.
    pub uptime: Option<u64>,
    /// `bandwidth`.
    pub bandwidth: Bandwidth,
    /// The RSA identity key (`signing-key`).
    pub identity_key: RsaPublic,
    /// Its fingerprint.
    pub rsa_id: RsaIdentity,
    /// The Ed25519 master identity (`master-key-ed25519`, the type-4 cert's signer).
    pub ed_id: Ed25519Identity,
    /// The Ed25519 signing key certified by `identity-ed25519`.
    pub signing_key: Ed25519Identity,
    /// The TAP onion key, absent in TAP-less descriptors.
    pub tap_onion_key: Option<RsaPublic>,
    /// The ntor onion key.
    pub ntor_onion_key: X25519Public,
    /// `family` arguments as written.
    pub family: Vec<String>,
    /// The exit-policy items in order (`*` in an `accept`/`reject` item is IPv4-only:
    /// [`crate::config::PolicyAddr::AnyV4`]).
    pub exit_policy: Vec<PolicyRule>,
    /// `ipv6-policy`, if present.
    pub ipv6_policy: Option<PortSummary>,
    /// `tunnelled-dir-server` present.
    pub tunnelled_dir_server: bool,
    /// `hidden-service-dir` present.
    pub hidden_service_dir: bool,
    /// `contact`, exactly as written after the keyword.
    pub contact: Option<String>,
    /// When the `identity-ed25519` certificate expires (seconds since the epoch).
    pub cert_expiry: u64,
    /// SHA-1 of the text from `router ` through `router-signature\n` (the digest consensus
    /// `r` lines and `/tor/server/d/` name).
    pub digest: [u8; 20],
    /// The whole descriptor text as parsed.
    pub text: String,
}

impl RouterDescriptor {
    /// Parses and checks everything: both signatures, the Ed25519 cert chain (valid at
    /// `now`, seconds since the epoch), both crosscerts, item counts and order rules, and
    /// the size limit.
    pub fn parse(
        text: &str,
        now: u64,
    ) -> Result<RouterDescriptor, crate::dir::doc::token::DocError> {
        parse::parse(text, now)
    }
}

/// Splits a `/tor/server/all` (or `/tor/server/d/...`) body into descriptors: each starts at
/// a line beginning `router ` and runs to the next one. Text before the first is dropped.
pub fn split_descriptors(text: &str) -> Vec<&str> {
    let mut starts: Vec<usize> = Vec::new();
    if text.starts_with("router ") {
        starts.push(0);
    }
    starts.extend(text.match_indices("\nrouter ").map(|(i, _)| i + 1));
    let mut out = Vec::with_capacity(starts.len());
    for (k, &s) in starts.iter().enumerate() {
        let e = starts.get(k + 1).copied().unwrap_or(text.len());
        if let Some(d) = text.get(s..e) {
            out.push(d);
        }
    }
    out
}
