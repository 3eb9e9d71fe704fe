//! The authority's state, sans-IO: accepted descriptors with their microdescriptors and
//! reachability history, key pins, shared-random state; what an upload does to it
//! ([`Authority::upload`]), what to test ([`Authority::reachability_targets`]) and the
//! consensus of both flavours it makes at a valid-after time ([`Authority::make_consensus`]).
//!
//! The runtime (`rt::dirauth`) owns the clock, the sockets and the files: it passes times in
//! and persists [`Authority::descriptors_text`], [`KeyPins::to_text`] and
//! [`SrState::to_text`].

use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use sha2::{Digest, Sha256};

use super::accept::{self, AcceptOptions, KeyPins, UploadFacts};
use super::flags::{self, FlagOptions, History, RelayRecord};
use super::schedule::Timing;
use super::sr::SrState;
use super::weights::{self, Totals, BW_WEIGHT_SCALE};
use crate::dir::doc::authcert::AuthorityKeys;
use crate::dir::doc::consensus::{
    sign_consensus, ConsensusBuilder, DirSource, Flavor, RouterStatus, SharedRandom,
};
use crate::dir::doc::microdesc::microdesc_text;
use crate::dir::doc::policy::summarize;
use crate::dir::doc::routerdesc::{split_descriptors, RouterDescriptor};
use crate::dir::doc::token::DocError;
use crate::dir::flags::RelayFlags;
use crate::ids::{Ed25519Identity, RsaIdentity};

/// Recommended client protocols (C tor 0.4.9 `protover_get_recommended_client_protocols`).
pub const RECOMMENDED_CLIENT_PROTOCOLS: &str =
    "Cons=2 Desc=2 DirCache=2 FlowCtrl=1-2 HSDir=2 HSIntro=4 HSRend=2 Link=4-5 Microdesc=2 Relay=2-4";
/// Recommended relay protocols.
pub const RECOMMENDED_RELAY_PROTOCOLS: &str = "Cons=2 Desc=2 DirCache=2 FlowCtrl=1-2 HSDir=2 HSIntro=4-5 HSRend=2 Link=4-5 LinkAuth=3 Microdesc=2 Relay=2-4";
/// Required client protocols.
pub const REQUIRED_CLIENT_PROTOCOLS: &str = "Cons=2 Desc=2 FlowCtrl=1 Link=4 Microdesc=2 Relay=2";
/// Required relay protocols.
pub const REQUIRED_RELAY_PROTOCOLS: &str = "Cons=2 Desc=2 DirCache=2 FlowCtrl=1-2 HSDir=2 HSIntro=4-5 HSRend=2 Link=4-5 LinkAuth=3 Microdesc=2 Relay=2-4";
/// Flags a lone authority votes on (C tor `DIRVOTE_UNIVERSAL_FLAGS` plus Running).
pub const KNOWN_FLAGS: &[&str] = &[
    "Authority",
    "Exit",
    "Fast",
    "Guard",
    "HSDir",
    "Running",
    "Stable",
    "StaleDesc",
    "Sybil",
    "V2Dir",
    "Valid",
];

/// Static facts about this authority.
#[derive(Clone, Debug)]
pub struct AuthorityConfig {
    /// Nickname (its relay's).
    pub nickname: String,
    /// Its relay's RSA identity.
    pub my_rsa_id: RsaIdentity,
    /// Advertised IPv4 address.
    pub address: Ipv4Addr,
    /// DirPort (0 if none).
    pub dir_port: u16,
    /// ORPort.
    pub or_port: u16,
    /// `ContactInfo`.
    pub contact: String,
    /// Relay fingerprints of every configured authority (they get the Authority flag).
    pub authority_ids: Vec<RsaIdentity>,
    /// `TestingTorNetwork`.
    pub testing: bool,
    /// Flag options.
    pub flags: FlagOptions,
    /// Upload checks.
    pub accept: AcceptOptions,
    /// Schedule.
    pub timing: Timing,
    /// `AuthDirMaxServersPerAddr` (0: unlimited).
    pub max_per_addr: usize,
    /// Extra `params` (`ConsensusParams`).
    pub params: Vec<(String, i32)>,
}

/// One relay the authority knows.
#[derive(Clone, Debug)]
pub struct Known {
    /// Its latest accepted descriptor.
    pub desc: RouterDescriptor,
    /// Its microdescriptor text (consensus method 35 form).
    pub md_text: String,
    /// SHA-256 of `md_text`.
    pub md_digest: [u8; 32],
    /// Reachability history.
    pub history: History,
}

/// The reply to an upload: HTTP status and C tor's message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadReply {
    /// 200 or 400.
    pub status: u16,
    /// C tor's reason phrase.
    pub message: String,
    /// Relays whose descriptor was added or replaced (to test at once and persist).
    pub added: Vec<RsaIdentity>,
}

/// Both flavours of a freshly signed consensus.
#[derive(Clone, Debug)]
pub struct Made {
    /// Valid-after.
    pub valid_after: u64,
    /// `consensus-microdesc`.
    pub microdesc: String,
    /// `consensus` (ns flavour).
    pub ns: String,
    /// Number of relays listed.
    pub listed: usize,
}

/// The authority's state.
#[derive(Debug)]
pub struct Authority {
    /// Configuration.
    pub cfg: AuthorityConfig,
    /// Relays by RSA identity.
    pub relays: BTreeMap<RsaIdentity, Known>,
    /// Key pins.
    pub pins: KeyPins,
    /// Shared-random state.
    pub sr: SrState,
    /// Microdescriptors by digest, of the current and previous consensus' relays and of
    /// every known descriptor.
    pub microdescs: HashMap<[u8; 32], String>,
    /// When the authority started.
    pub started: u64,
}

impl Authority {
    /// A fresh state at `now`.
    pub fn new(cfg: AuthorityConfig, now: u64) -> Authority {
        let sr = SrState::new(now, cfg.timing.interval);
        Authority {
            cfg,
            relays: BTreeMap::new(),
            pins: KeyPins::default(),
            sr,
            microdescs: HashMap::new(),
            started: now,
        }
    }

    /// Handles a `POST /tor/` body (C tor `dirserv_add_multiple_descriptors`): every
    /// descriptor in it is parsed, checked and added; the reply is the last one's verdict,
    /// status 400 if any was rejected.
    pub fn upload(&mut self, body: &[u8], now: u64) -> UploadReply {
        let reject = |m: &str| UploadReply {
            status: 400,
            message: m.to_string(),
            added: Vec::new(),
        };
        let Ok(text) = std::str::from_utf8(body) else {
            return reject(accept::MSG_UTF8);
        };
        if text.starts_with('\u{feff}') {
            return reject(accept::MSG_UTF8);
        }
        // C tor relays post their extra-info document after the descriptor, in the same
        // body; it is cut off (this authority does not serve extra-info).
        let pieces: Vec<&str> = split_descriptors(text)
            .into_iter()
            .map(|p| match p.find("\nextra-info ") {
                Some(i) => p.get(..=i).unwrap_or(p),
                None => p,
            })
            .collect();
        if pieces.is_empty() {
            if text.starts_with("extra-info ") {
                return UploadReply {
                    status: 200,
                    message: accept::MSG_ACCEPTED.to_string(),
                    added: Vec::new(),
                };
            }
            return reject(accept::MSG_NONE);
        }
        let mut reply = UploadReply {
            status: 200,
            message: accept::MSG_ACCEPTED.to_string(),
            added: Vec::new(),
        };
        for piece in pieces {
            match self.add_one(piece, now) {
                Ok(Some(id)) => reply.added.push(id),
                Ok(None) => {
                    if reply.status == 200 {
                        reply.message = accept::MSG_COSMETIC.to_string();
                    }
                }
                Err(m) => {
                    reply.status = 400;
                    reply.message = m;
                }
            }
        }
        reply
    }

    /// Adds one descriptor; `Ok(None)` when it changes nothing.
    fn add_one(&mut self, text: &str, now: u64) -> Result<Option<RsaIdentity>, String> {
        if text.len() > accept::MAX_DESCRIPTOR_UPLOAD_SIZE {
            return Err(accept::MSG_TOO_LARGE.into());
        }
        let desc = RouterDescriptor::parse(text, now)
            .map_err(|e| format!("Couldn't parse router descriptor: {e}"))?;
        if desc.tap_onion_key.is_none() {
            return Err("Couldn't parse router descriptor: missing onion-key".into());
        }
        let facts = UploadFacts {
            len: text.len(),
            platform: desc.platform.as_deref(),
            has_ntor: desc.ntor_onion_key.as_bytes() != &[0u8; 32],
            rsa_id: desc.rsa_id,
            ed_id: desc.ed_id,
            published: desc.published,
            ipv4: desc.ipv4,
        };
        accept::check(&facts, now, &self.cfg.accept, &self.pins).map_err(str::to_string)?;
        if let Some(old) = self.relays.get(&desc.rsa_id) {
            if old.desc.digest == desc.digest {
                return Ok(None);
            }
            if old.desc.published >= desc.published {
                return Err(
                    "Not replacing router descriptor; a newer one with this identity is known."
                        .into(),
                );
            }
        }
        self.pins.add(desc.rsa_id, desc.ed_id);
        Ok(Some(self.insert(desc, now)))
    }

    /// Inserts an accepted (or reloaded) descriptor.
    pub fn insert(&mut self, desc: RouterDescriptor, now: u64) -> RsaIdentity {
        let md_text = microdesc_text(&desc);
        let md_digest: [u8; 32] = Sha256::digest(md_text.as_bytes()).into();
        self.microdescs.insert(md_digest, md_text.clone());
        let id = desc.rsa_id;
        let history = self
            .relays
            .get(&id)
            .map(|k| k.history)
            .unwrap_or_else(|| History::new(now));
        self.relays.insert(
            id,
            Known {
                desc,
                md_text,
                md_digest,
                history,
            },
        );
        id
    }

    /// Relays to test: `(rsa id, ed id, ORPort address)`, all but this authority's own.
    pub fn reachability_targets(&self) -> Vec<(RsaIdentity, Ed25519Identity, SocketAddr)> {
        self.relays
            .values()
            .filter(|k| k.desc.rsa_id != self.cfg.my_rsa_id)
            .map(|k| {
                (
                    k.desc.rsa_id,
                    k.desc.ed_id,
                    SocketAddr::V4(SocketAddrV4::new(k.desc.ipv4, k.desc.or_port)),
                )
            })
            .collect()
    }

    /// Records a reachability test result.
    pub fn note_reachability(&mut self, id: &RsaIdentity, ok: bool, now: u64) {
        if let Some(k) = self.relays.get_mut(id) {
            if ok {
                k.history.note_reachable(now);
            } else {
                k.history.note_unreachable(now);
            }
        }
    }

    /// Whether every known relay other than this one has been tested at least once.
    pub fn all_tested(&self) -> bool {
        self.relays
            .values()
            .all(|k| k.desc.rsa_id == self.cfg.my_rsa_id || k.history.last_tested.is_some())
    }

    /// Every descriptor, concatenated (`/tor/server/all`, and the persisted store).
    pub fn descriptors_text(&self) -> String {
        self.relays.values().map(|k| k.desc.text.as_str()).collect()
    }

    /// Drops descriptors too old to publish (C tor `ROUTER_MAX_AGE`: 48 h).
    pub fn expire(&mut self, now: u64) {
        let me = self.cfg.my_rsa_id;
        self.relays
            .retain(|id, k| *id == me || k.desc.published + 48 * 3600 >= now);
    }

    fn record(&self, k: &Known) -> RelayRecord {
        let d = &k.desc;
        RelayRecord {
            rsa_id: d.rsa_id,
            nickname: d.nickname.clone(),
            ipv4: d.ipv4,
            published: d.published,
            uptime: d.uptime.unwrap_or(0),
            bandwidth_rate: d.bandwidth.average,
            bandwidth_observed: d.bandwidth.observed,
            exit_policy: d.exit_policy.clone(),
            tunnelled_dir_server: d.tunnelled_dir_server,
            hidden_service_dir: d.hidden_service_dir,
            is_authority: self.cfg.authority_ids.contains(&d.rsa_id),
            is_me: d.rsa_id == self.cfg.my_rsa_id,
            history: k.history,
        }
    }

    /// The relays' statuses at `now`: Running relays only, as a consensus lists them.
    pub fn statuses(&self, now: u64) -> Vec<(RouterStatus, &Known)> {
        let records: Vec<RelayRecord> = self.relays.values().map(|k| self.record(k)).collect();
        let sybil_in: Vec<(RsaIdentity, Ipv4Addr, bool, u64)> = records
            .iter()
            .map(|r| {
                (
                    r.rsa_id,
                    r.ipv4,
                    r.is_authority,
                    u64::from(r.bandwidth_kb()),
                )
            })
            .collect();
        let omit = accept::sybil_omit(&sybil_in, self.cfg.max_per_addr);
        let active: Vec<RelayRecord> = records
            .iter()
            .filter(|r| !omit.contains(&r.rsa_id))
            .cloned()
            .collect();
        let th = flags::compute_thresholds(&active, now, &self.cfg.flags);
        let auth_uptime = now.saturating_sub(self.started);
        let mut out = Vec::new();
        for (r, k) in records.iter().zip(self.relays.values()) {
            if omit.contains(&r.rsa_id) {
                continue;
            }
            let f = flags::assign(r, &th, now, auth_uptime, &self.cfg.flags);
            if !f.contains(RelayFlags::RUNNING) {
                continue;
            }
            let d = &k.desc;
            let version = d.platform.as_deref().and_then(version_from_platform);
            out.push((
                RouterStatus {
                    nickname: d.nickname.clone(),
                    rsa_id: d.rsa_id,
                    desc_digest: Some(d.digest),
                    published: d.published,
                    ipv4: d.ipv4,
                    or_port: d.or_port,
                    dir_port: d.dir_port,
                    ipv6_or: None,
                    flags: f,
                    version,
                    protocols: Some(d.protocols.clone()),
                    bandwidth: Some(r.bandwidth_kb()),
                    unmeasured: true,
                    md_digest: Some(k.md_digest),
                    port_summary: Some(summarize(&d.exit_policy)),
                },
                k,
            ));
        }
        out
    }

    /// Builds and signs both consensus flavours for `valid_after` (C tor's vote of a lone
    /// authority, turned consensus). `random` seeds a new shared-random commit if one is made.
    pub fn make_consensus(
        &mut self,
        valid_after: u64,
        now: u64,
        keys: &AuthorityKeys,
        random: [u8; 32],
    ) -> Result<Made, DocError> {
        self.sr.update(
            valid_after,
            self.cfg.timing.interval,
            keys.v3ident(),
            random,
        );
        let life = self.cfg.timing.lifetime(valid_after);
        let statuses = self.statuses(now);
        let mut totals = Totals::default();
        for (rs, _) in &statuses {
            let exit =
                rs.flags.contains(RelayFlags::EXIT) && !rs.flags.contains(RelayFlags::BAD_EXIT);
            totals.add(
                rs.bandwidth.unwrap_or(0),
                exit,
                rs.flags.contains(RelayFlags::GUARD),
            );
        }
        let weights = weights::compute(&totals, BW_WEIGHT_SCALE)
            .map(|w| w.to_map())
            .unwrap_or_default();
        let params: BTreeMap<String, i32> = self.cfg.params.iter().cloned().collect();
        let source = DirSource {
            nickname: self.cfg.nickname.clone(),
            identity: keys.v3ident(),
            hostname: self.cfg.address.to_string(),
            address: self.cfg.address,
            dir_port: self.cfg.dir_port,
            or_port: self.cfg.or_port,
            contact: self.cfg.contact.clone(),
            vote_digest: [0; 20],
        };
        let sr = |s: &Option<super::sr::Srv>| {
            s.map(|s| SharedRandom {
                reveals: u32::try_from(s.reveals).unwrap_or(u32::MAX),
                value: s.value,
            })
        };
        let routers: Vec<RouterStatus> = statuses.iter().map(|(rs, _)| rs.clone()).collect();
        let listed = routers.len();
        let make = |flavor: Flavor| -> Result<String, DocError> {
            let mut b =
                ConsensusBuilder::new(flavor, life.valid_after, life.fresh_until, life.valid_until);
            b.voting_delay = (
                u32::try_from(life.vote_delay).unwrap_or(u32::MAX),
                u32::try_from(life.dist_delay).unwrap_or(u32::MAX),
            );
            b.known_flags = KNOWN_FLAGS.iter().map(|s| s.to_string()).collect();
            b.recommended_client_protocols = RECOMMENDED_CLIENT_PROTOCOLS.into();
            b.recommended_relay_protocols = RECOMMENDED_RELAY_PROTOCOLS.into();
            b.required_client_protocols = REQUIRED_CLIENT_PROTOCOLS.into();
            b.required_relay_protocols = REQUIRED_RELAY_PROTOCOLS.into();
            b.params = params.clone();
            b.shared_rand_previous = sr(&self.sr.previous);
            b.shared_rand_current = sr(&self.sr.current);
            b.sources = vec![source.clone()];
            b.routers = routers.clone();
            b.bandwidth_weights = weights.clone();
            sign_consensus(&b.build_unsigned(), keys)
        };
        let microdesc = make(Flavor::Microdesc)?;
        let ns = make(Flavor::Ns)?;
        Ok(Made {
            valid_after,
            microdesc,
            ns,
            listed,
        })
    }
}

/// The `v` line of a platform (C tor `version_from_platform`): `Tor <version>` (with a
/// following ` (r...)` word), only for `Tor ` platforms with something after the version.
pub fn version_from_platform(platform: &str) -> Option<String> {
    let rest = platform.strip_prefix("Tor ")?;
    let mut end = 4 + rest.find(char::is_whitespace)?;
    if platform.get(end..)?.starts_with(" (r") {
        let after = platform.get(end + 1..)?;
        end = end + 1 + after.find(char::is_whitespace)?;
    }
    platform.get(..end).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_from_platforms() {
        let v = |p: &str| version_from_platform(p);
        assert_eq!(v("Tor 0.4.9.11 on Linux").as_deref(), Some("Tor 0.4.9.11"));
        assert_eq!(
            v("Tor 0.2.1.1 (r12345) on Windows").as_deref(),
            Some("Tor 0.2.1.1 (r12345)")
        );
        assert_eq!(v("Tor 0.4.9.11"), None);
        assert_eq!(v("Oniongate 0.1.0"), None);
    }

    #[test]
    fn known_flags_sorted() {
        let mut sorted = KNOWN_FLAGS.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, KNOWN_FLAGS);
    }
}
