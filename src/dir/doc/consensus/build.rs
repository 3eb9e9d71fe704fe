//! Writing consensuses as a C tor 0.4.9 authority does with consensus method 35 (C tor
//! `networkstatus_compute_consensus`, `routerstatus_format_entry`,
//! `networkstatus_format_signatures`; dir-spec §3.4.1, §3.9.2).
//!
//! Order: `network-status-version`, `vote-status`, `consensus-method`, the three times,
//! `voting-delay`, `client-versions`, `server-versions`, `known-flags`, the four protocol
//! lines, `params` (only if non-empty), the shared-random values, the `dir-source` sections
//! sorted by identity, the router entries sorted by identity, `directory-footer`,
//! `bandwidth-weights` (if any), then the signatures. The microdesc flavour omits the
//! descriptor digest from `r`, writes [`super::DUMMY_PUBLISHED`] there from method 33,
//! adds `m`, omits `p`, and drops routers without a microdescriptor digest. The ns flavour
//! is signed with SHA-1 (`directory-signature <id> <skd>`), the microdesc flavour with
//! SHA-256 (`directory-signature sha256 <id> <skd>`).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use sha1::{Digest as _, Sha1};
use sha2::Sha256;

use super::verify::signed_part;
use super::{
    DirSource, Flavor, RouterStatus, SharedRandom, DUMMY_PUBLISHED,
    MIN_METHOD_TO_SUPPRESS_MD_PUBLISHED,
};
use crate::dir::doc::authcert::AuthorityKeys;
use crate::dir::doc::token::{self, b64_nopad, format_time, DocError, DocWriter};
use crate::ids::RsaIdentity;

/// Everything a consensus says, to be written with [`ConsensusBuilder::build_unsigned`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsensusBuilder {
    /// Which flavour to write.
    pub flavor: Flavor,
    /// `consensus-method` (35 for C tor 0.4.9).
    pub method: u32,
    /// `valid-after`.
    pub valid_after: u64,
    /// `fresh-until`.
    pub fresh_until: u64,
    /// `valid-until`.
    pub valid_until: u64,
    /// `voting-delay` (vote seconds, distribution seconds).
    pub voting_delay: (u32, u32),
    /// `client-versions` (joined with commas).
    pub client_versions: Vec<String>,
    /// `server-versions`.
    pub server_versions: Vec<String>,
    /// `known-flags` (written in the given order; C tor sorts them).
    pub known_flags: Vec<String>,
    /// `recommended-client-protocols`.
    pub recommended_client_protocols: String,
    /// `recommended-relay-protocols`.
    pub recommended_relay_protocols: String,
    /// `required-client-protocols`.
    pub required_client_protocols: String,
    /// `required-relay-protocols`.
    pub required_relay_protocols: String,
    /// `params` (omitted when empty).
    pub params: BTreeMap<String, i32>,
    /// `shared-rand-previous-value`.
    pub shared_rand_previous: Option<SharedRandom>,
    /// `shared-rand-current-value`.
    pub shared_rand_current: Option<SharedRandom>,
    /// The authorities (written sorted by identity).
    pub sources: Vec<DirSource>,
    /// The routers (written sorted by identity).
    pub routers: Vec<RouterStatus>,
    /// `bandwidth-weights` (omitted when empty).
    pub bandwidth_weights: BTreeMap<String, i32>,
}

impl ConsensusBuilder {
    /// A builder with C tor 0.4.9's method and protocol lines, no routers and no sources.
    pub fn new(flavor: Flavor, valid_after: u64, fresh_until: u64, valid_until: u64) -> Self {
        ConsensusBuilder {
            flavor,
            method: 35,
            valid_after,
            fresh_until,
            valid_until,
            voting_delay: (300, 300),
            client_versions: Vec::new(),
            server_versions: Vec::new(),
            known_flags: Vec::new(),
            recommended_client_protocols: String::new(),
            recommended_relay_protocols: String::new(),
            required_client_protocols: String::new(),
            required_relay_protocols: String::new(),
            params: BTreeMap::new(),
            shared_rand_previous: None,
            shared_rand_current: None,
            sources: Vec::new(),
            routers: Vec::new(),
            bandwidth_weights: BTreeMap::new(),
        }
    }

    /// A builder holding everything `c` says (to re-emit or amend a parsed consensus).
    pub fn from_consensus(c: &super::Consensus) -> Self {
        ConsensusBuilder {
            flavor: c.flavor,
            method: c.method,
            valid_after: c.valid_after,
            fresh_until: c.fresh_until,
            valid_until: c.valid_until,
            voting_delay: c.voting_delay,
            client_versions: c.client_versions.clone(),
            server_versions: c.server_versions.clone(),
            known_flags: c.known_flags.clone(),
            recommended_client_protocols: c.recommended_client_protocols.clone(),
            recommended_relay_protocols: c.recommended_relay_protocols.clone(),
            required_client_protocols: c.required_client_protocols.clone(),
            required_relay_protocols: c.required_relay_protocols.clone(),
            params: c.params.clone(),
            shared_rand_previous: c.shared_rand_previous.clone(),
            shared_rand_current: c.shared_rand_current.clone(),
            sources: c.sources.clone(),
            routers: c.routers.clone(),
            bandwidth_weights: c.bandwidth_weights.clone(),
        }
    }

    /// The consensus text through the footer (and `bandwidth-weights`), ready for
    /// [`sign_consensus`].
    pub fn build_unsigned(&self) -> String {
        let mut w = DocWriter::new();
        match self.flavor {
            Flavor::Ns => w.item("network-status-version", &["3"]),
            Flavor::Microdesc => w.item("network-status-version", &["3", "microdesc"]),
        };
        w.item("vote-status", &["consensus"]);
        w.item("consensus-method", &[&self.method.to_string()]);
        w.item_str("valid-after", &format_time(self.valid_after));
        w.item_str("fresh-until", &format_time(self.fresh_until));
        w.item_str("valid-until", &format_time(self.valid_until));
        w.item(
            "voting-delay",
            &[
                &self.voting_delay.0.to_string(),
                &self.voting_delay.1.to_string(),
            ],
        );
        // C tor always writes the space after these keywords, even with an empty list.
        w.raw(&format!(
            "client-versions {}\n",
            self.client_versions.join(",")
        ));
        w.raw(&format!(
            "server-versions {}\n",
            self.server_versions.join(",")
        ));
        w.raw(&format!("known-flags {}\n", self.known_flags.join(" ")));
        for (kw, v) in [
            (
                "recommended-client-protocols",
                &self.recommended_client_protocols,
            ),
            (
                "recommended-relay-protocols",
                &self.recommended_relay_protocols,
            ),
            ("required-client-protocols", &self.required_client_protocols),
            ("required-relay-protocols", &self.required_relay_protocols),
        ] {
            w.raw(&format!("{kw} {v}\n"));
        }
        if !self.params.is_empty() {
            w.item_str("params", &kv_line(&self.params));
        }
        for (kw, sr) in [
            ("shared-rand-previous-value", &self.shared_rand_previous),
            ("shared-rand-current-value", &self.shared_rand_current),
        ] {
            if let Some(sr) = sr {
                let b64 = base64_padded(&sr.value);
                w.item(kw, &[&sr.reveals.to_string(), &b64]);
            }
        }
        let mut sources: Vec<&DirSource> = self.sources.iter().collect();
        sources.sort_by_key(|s| s.identity);
        for s in sources {
            w.item(
                "dir-source",
                &[
                    &s.nickname,
                    &s.identity.to_hex(),
                    &s.hostname,
                    &s.address.to_string(),
                    &s.dir_port.to_string(),
                    &s.or_port.to_string(),
                ],
            );
            if !s.nickname.ends_with("-legacy") {
                w.item_str("contact", &s.contact);
                w.item("vote-digest", &[&hex::encode_upper(s.vote_digest)]);
            }
        }
        let mut routers: Vec<&RouterStatus> = self.routers.iter().collect();
        routers.sort_by_key(|r| r.rsa_id);
        for r in routers {
            self.router(&mut w, r);
        }
        w.item("directory-footer", &[]);
        if !self.bandwidth_weights.is_empty() {
            w.item_str("bandwidth-weights", &kv_line(&self.bandwidth_weights));
        }
        w.finish()
    }

    fn router(&self, w: &mut DocWriter, r: &RouterStatus) {
        let md = self.flavor == Flavor::Microdesc;
        if md && r.md_digest.is_none() {
            return; // C tor omits microdesc entries without a microdescriptor.
        }
        let published = if md && self.method >= MIN_METHOD_TO_SUPPRESS_MD_PUBLISHED {
            DUMMY_PUBLISHED
        } else {
            r.published
        };
        let mut line = format!("r {} {} ", r.nickname, b64_nopad(&r.rsa_id.0));
        if !md {
            let _ = write!(line, "{} ", b64_nopad(&r.desc_digest.unwrap_or_default()));
        }
        let _ = writeln!(
            line,
            "{} {} {} {}",
            format_time(published),
            r.ipv4,
            r.or_port,
            r.dir_port
        );
        w.raw(&line);
        if let Some(a) = r.ipv6_or {
            w.raw(&format!("a [{}]:{}\n", a.ip(), a.port()));
        }
        if md {
            if let Some(d) = r.md_digest {
                w.item("m", &[&b64_nopad(&d)]);
            }
        }
        w.item_str("s", &r.flags.to_string());
        if let Some(v) = &r.version {
            w.item_str("v", v);
        }
        if let Some(p) = &r.protocols {
            w.item_str("pr", p);
        }
        if let Some(bw) = r.bandwidth {
            let un = if r.unmeasured { " Unmeasured=1" } else { "" };
            w.raw(&format!("w Bandwidth={bw}{un}\n"));
        }
        if !md {
            if let Some(p) = &r.port_summary {
                w.item_str("p", &p.to_string());
            }
        }
    }
}

fn kv_line(m: &BTreeMap<String, i32>) -> String {
    m.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn base64_padded(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// Signs a consensus with `keys`' signing key and appends the `directory-signature`
/// (SHA-1 without an algorithm for the ns flavour, `sha256` for the microdesc flavour, as C
/// tor). `unsigned` may already carry other authorities' signatures: the digest covers the
/// text through the first `directory-signature `, and the signatures are kept sorted by
/// identity as C tor serves them. A signature by the same identity is replaced.
pub fn sign_consensus(unsigned: &str, keys: &AuthorityKeys) -> Result<String, DocError> {
    let flavor = if unsigned.starts_with("network-status-version 3 microdesc\n") {
        Flavor::Microdesc
    } else if unsigned.starts_with("network-status-version 3\n") {
        Flavor::Ns
    } else {
        return Err(DocError::Invalid(
            "not a version 3 consensus (ns or microdesc)".into(),
        ));
    };
    if !unsigned.ends_with('\n') {
        return Err(DocError::Invalid("text does not end with a newline".into()));
    }
    let (body, existing) = match signed_part(unsigned) {
        Some(s) => {
            let body_len = s.len() - "directory-signature ".len();
            (
                unsigned.get(..body_len).unwrap_or_default(),
                unsigned.get(body_len..).unwrap_or_default(),
            )
        }
        None => (unsigned, ""),
    };
    let mut to_hash = String::with_capacity(body.len() + 20);
    to_hash.push_str(body);
    to_hash.push_str("directory-signature ");
    let sign_err = |e: crate::crypto::rsa::RsaError| DocError::Signature(e.to_string());
    let sig = match flavor {
        Flavor::Ns => keys
            .signing_key()
            .sign(&Sha1::digest(to_hash.as_bytes()))
            .map_err(sign_err)?,
        Flavor::Microdesc => keys
            .signing_key()
            .sign(&Sha256::digest(to_hash.as_bytes()))
            .map_err(sign_err)?,
    };
    let id = keys.v3ident();
    let mut w = DocWriter::new();
    let (idh, skh) = (id.to_hex(), keys.cert().signing_key_digest().to_hex());
    match flavor {
        Flavor::Ns => w.item("directory-signature", &[&idh, &skh]),
        Flavor::Microdesc => w.item("directory-signature", &["sha256", &idh, &skh]),
    };
    w.object("SIGNATURE", &sig);
    let mine = w.finish();

    // Existing signature blocks, each with the identity it is by.
    let mut blocks: Vec<(RsaIdentity, String)> = Vec::new();
    for item in token::items(existing) {
        let item = item?;
        if item.keyword != "directory-signature" {
            return Err(item.bad("only directory-signature may follow the first signature"));
        }
        let id_arg = match item.args.as_slice() {
            [id, _] | [_, id, _] => *id,
            _ => return Err(item.bad("bad arguments")),
        };
        let bid = RsaIdentity::from_hex(id_arg).ok_or_else(|| item.bad("bad identity"))?;
        if bid != id {
            let text = existing.get(item.start..item.end).unwrap_or_default();
            blocks.push((bid, text.to_string()));
        }
    }
    blocks.push((id, mine));
    blocks.sort_by_key(|b| b.0);
    let mut out = String::with_capacity(unsigned.len() + 1024);
    out.push_str(body);
    for (_, b) in blocks {
        out.push_str(&b);
    }
    Ok(out)
}
