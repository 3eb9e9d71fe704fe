//! Parsing consensuses (dir-spec §3.4.1; C tor `networkstatus_parse_vote_from_string`).
//!
//! The document is split into three sections by keyword: the preamble and authority
//! sections (up to the first `r`), the router entries (each starting with `r`), and the
//! footer (`directory-footer`, `bandwidth-weights`, then only `directory-signature`s).
//! Unknown items are ignored everywhere, as dir-spec requires.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV6};

use super::{
    Consensus, ConsensusSignature, DirSource, Flavor, RouterStatus, SharedRandom,
    MAX_CONSENSUS_BYTES, MAX_ROUTERS,
};
use crate::dir::doc::token::{self, b64_decode, DocError, Item};
use crate::dir::flags::{PortSummary, RelayFlags};
use crate::ids::RsaIdentity;

fn b64_fixed<const N: usize>(item: &Item<'_>, s: &str, what: &str) -> Result<[u8; N], DocError> {
    b64_decode(s)
        .and_then(|v| <[u8; N]>::try_from(v).ok())
        .ok_or_else(|| item.bad(format!("bad {what}")))
}

fn hex_id(item: &Item<'_>, s: &str) -> Result<RsaIdentity, DocError> {
    RsaIdentity::from_hex(s).ok_or_else(|| item.bad("bad hex identity"))
}

fn num<T: std::str::FromStr>(item: &Item<'_>, i: usize, what: &str) -> Result<T, DocError> {
    let s = item.arg(i, what)?;
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return Err(item.bad(format!("bad {what}")));
    }
    s.parse().map_err(|_| item.bad(format!("bad {what}")))
}

fn time2(item: &Item<'_>, i: usize) -> Result<u64, DocError> {
    let (d, t) = (item.arg(i, "date")?, item.arg(i + 1, "time")?);
    token::parse_time(d, t).ok_or_else(|| item.bad("bad time"))
}

/// Parses `k=v` arguments with 32-bit signed values (`params`, `bandwidth-weights`).
fn kv_ints(item: &Item<'_>) -> Result<BTreeMap<String, i32>, DocError> {
    let mut out = BTreeMap::new();
    for a in &item.args {
        let (k, v) = a
            .split_once('=')
            .ok_or_else(|| item.bad(format!("`{a}` is not key=value")))?;
        let digits = v.strip_prefix('-').unwrap_or(v);
        if k.is_empty() || digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
            return Err(item.bad(format!("bad value in `{a}`")));
        }
        let v: i32 = v
            .parse()
            .map_err(|_| item.bad(format!("`{a}` out of range")))?;
        if out.insert(k.to_string(), v).is_some() {
            return Err(item.bad(format!("`{k}` repeated")));
        }
    }
    Ok(out)
}

fn shared_random(item: &Item<'_>) -> Result<SharedRandom, DocError> {
    Ok(SharedRandom {
        reveals: num(item, 0, "reveal count")?,
        value: b64_fixed(item, item.arg(1, "value")?, "shared random value")?,
    })
}

fn versions(item: &Item<'_>) -> Vec<String> {
    item.args
        .iter()
        .flat_map(|a| a.split(','))
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .collect()
}

/// Records a keyword as seen; fails if it was already.
fn once(seen: &mut Vec<&'static str>, kw: &'static str, item: &Item<'_>) -> Result<(), DocError> {
    if seen.contains(&kw) {
        return Err(DocError::Repeated {
            line: item.line,
            keyword: kw.into(),
        });
    }
    seen.push(kw);
    Ok(())
}

pub(super) fn parse(text: &str) -> Result<Consensus, DocError> {
    parse_capped(text, MAX_ROUTERS)
}

/// [`parse`] with a router cap (tests use small ones).
pub(super) fn parse_capped(text: &str, max_routers: usize) -> Result<Consensus, DocError> {
    if text.len() > MAX_CONSENSUS_BYTES {
        return Err(DocError::Invalid(format!(
            "consensus is {} bytes, more than {MAX_CONSENSUS_BYTES}",
            text.len()
        )));
    }
    let items = token::tokenize(text)?;
    let mut it = items.iter().peekable();

    // --- preamble
    let first = it
        .next()
        .ok_or(DocError::Missing("network-status-version"))?;
    if first.keyword != "network-status-version" || first.start != 0 {
        return Err(DocError::Invalid(
            "document does not begin with network-status-version".into(),
        ));
    }
    let flavor = match first.args.as_slice() {
        ["3"] => Flavor::Ns,
        ["3", "microdesc"] => Flavor::Microdesc,
        _ => return Err(first.bad("not version 3 (ns or microdesc)")),
    };
    let vs = it.next().ok_or(DocError::Missing("vote-status"))?;
    if vs.keyword != "vote-status" {
        return Err(vs.bad("expected vote-status as the second item"));
    }
    if vs.args.first() != Some(&"consensus") {
        return Err(vs.bad("not a consensus"));
    }
    let mut c = Consensus {
        flavor,
        method: 0,
        valid_after: 0,
        fresh_until: 0,
        valid_until: 0,
        voting_delay: (0, 0),
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
        signatures: Vec::new(),
        text: text.to_string(),
    };
    let mut seen: Vec<&'static str> = Vec::new();
    while let Some(item) =
        it.next_if(|i| !matches!(i.keyword, "r" | "directory-footer" | "directory-signature"))
    {
        match item.keyword {
            "consensus-method" => {
                once(&mut seen, "consensus-method", item)?;
                c.method = num(item, 0, "method")?;
            }
            "valid-after" => {
                once(&mut seen, "valid-after", item)?;
                c.valid_after = time2(item, 0)?;
            }
            "fresh-until" => {
                once(&mut seen, "fresh-until", item)?;
                c.fresh_until = time2(item, 0)?;
            }
            "valid-until" => {
                once(&mut seen, "valid-until", item)?;
                c.valid_until = time2(item, 0)?;
            }
            "voting-delay" => {
                once(&mut seen, "voting-delay", item)?;
                c.voting_delay = (num(item, 0, "vote delay")?, num(item, 1, "dist delay")?);
            }
            "client-versions" => {
                once(&mut seen, "client-versions", item)?;
                c.client_versions = versions(item);
            }
            "server-versions" => {
                once(&mut seen, "server-versions", item)?;
                c.server_versions = versions(item);
            }
            "known-flags" => {
                once(&mut seen, "known-flags", item)?;
                c.known_flags = item.args.iter().map(|s| s.to_string()).collect();
            }
            "recommended-client-protocols" => {
                once(&mut seen, "recommended-client-protocols", item)?;
                c.recommended_client_protocols = item.args_joined();
            }
            "recommended-relay-protocols" => {
                once(&mut seen, "recommended-relay-protocols", item)?;
                c.recommended_relay_protocols = item.args_joined();
            }
            "required-client-protocols" => {
                once(&mut seen, "required-client-protocols", item)?;
                c.required_client_protocols = item.args_joined();
            }
            "required-relay-protocols" => {
                once(&mut seen, "required-relay-protocols", item)?;
                c.required_relay_protocols = item.args_joined();
            }
            "params" => {
                once(&mut seen, "params", item)?;
                c.params = kv_ints(item)?;
            }
            "shared-rand-previous-value" => {
                once(&mut seen, "shared-rand-previous-value", item)?;
                c.shared_rand_previous = Some(shared_random(item)?);
            }
            "shared-rand-current-value" => {
                once(&mut seen, "shared-rand-current-value", item)?;
                c.shared_rand_current = Some(shared_random(item)?);
            }
            "dir-source" => {
                let mut src = dir_source(item)?;
                if !src.nickname.ends_with("-legacy") {
                    let contact = it
                        .next_if(|i| i.keyword == "contact")
                        .ok_or(DocError::Missing("contact"))?;
                    src.contact = contact.args_joined();
                    let vd = it
                        .next_if(|i| i.keyword == "vote-digest")
                        .ok_or(DocError::Missing("vote-digest"))?;
                    let d = hex::decode(vd.arg(0, "digest")?).map_err(|_| vd.bad("bad hex"))?;
                    src.vote_digest = d.try_into().map_err(|_| vd.bad("not 20 bytes"))?;
                }
                c.sources.push(src);
            }
            "network-status-version"
            | "vote-status"
            | "contact"
            | "vote-digest"
            | "m"
            | "s"
            | "v"
            | "pr"
            | "w"
            | "p"
            | "a"
            | "bandwidth-weights" => {
                return Err(item.bad("out of place"));
            }
            _ => {}
        }
    }
    for kw in [
        "consensus-method",
        "valid-after",
        "fresh-until",
        "valid-until",
        "voting-delay",
        "known-flags",
    ] {
        if !seen.contains(&kw) {
            return Err(DocError::Missing(kw));
        }
    }
    if !(c.valid_after <= c.fresh_until && c.fresh_until <= c.valid_until) {
        return Err(DocError::Invalid(
            "valid-after, fresh-until and valid-until are out of order".into(),
        ));
    }
    if c.sources.is_empty() {
        return Err(DocError::Missing("dir-source"));
    }

    // --- router entries
    while let Some(r) = it.next_if(|i| i.keyword == "r") {
        if c.routers.len() >= max_routers {
            return Err(DocError::Invalid(format!(
                "more than {max_routers} routers"
            )));
        }
        let mut body = Vec::new();
        while let Some(i) =
            it.next_if(|i| !matches!(i.keyword, "r" | "directory-footer" | "directory-signature"))
        {
            body.push(i);
        }
        let rs = router(flavor, &c.known_flags, r, &body)?;
        if let Some(prev) = c.routers.last() {
            if prev.rsa_id >= rs.rsa_id {
                return Err(r.bad("router entries are not sorted by identity"));
            }
        }
        c.routers.push(rs);
    }

    // --- footer
    if let Some(f) = it.next_if(|i| i.keyword == "directory-footer") {
        if !f.args.is_empty() {
            return Err(f.bad("unexpected arguments"));
        }
        let mut seen_weights = false;
        while let Some(item) = it.next_if(|i| i.keyword != "directory-signature") {
            match item.keyword {
                "bandwidth-weights" => {
                    if seen_weights {
                        return Err(DocError::Repeated {
                            line: item.line,
                            keyword: item.keyword.into(),
                        });
                    }
                    seen_weights = true;
                    c.bandwidth_weights = kv_ints(item)?;
                }
                "r" | "s" | "m" | "directory-footer" => return Err(item.bad("out of place")),
                _ => {}
            }
        }
    }
    let mut n_sigs = 0usize;
    for item in it {
        if item.keyword != "directory-signature" {
            return Err(item.bad("only directory-signature may follow the first signature"));
        }
        n_sigs += 1;
        if let Some(sig) = signature(item)? {
            c.signatures.push(sig);
        }
    }
    if n_sigs == 0 {
        return Err(DocError::Missing("directory-signature"));
    }
    Ok(c)
}

fn dir_source(item: &Item<'_>) -> Result<DirSource, DocError> {
    if item.args.len() < 6 {
        return Err(item.bad("expected 6 arguments"));
    }
    Ok(DirSource {
        nickname: item.arg(0, "nickname")?.to_string(),
        identity: hex_id(item, item.arg(1, "identity")?)?,
        hostname: item.arg(2, "hostname")?.to_string(),
        address: item
            .arg(3, "address")?
            .parse()
            .map_err(|_| item.bad("bad IPv4 address"))?,
        dir_port: num(item, 4, "dirport")?,
        or_port: num(item, 5, "orport")?,
        contact: String::new(),
        vote_digest: [0; 20],
    })
}

fn router(
    flavor: Flavor,
    known_flags: &[String],
    r: &Item<'_>,
    body: &[&Item<'_>],
) -> Result<RouterStatus, DocError> {
    let (digest, rest) = match flavor {
        Flavor::Ns => (Some(r.arg(2, "descriptor digest")?), 3),
        Flavor::Microdesc => (None, 2),
    };
    if r.args.len() < rest + 5 {
        return Err(r.bad("too few arguments"));
    }
    let nickname = r.arg(0, "nickname")?;
    if nickname.is_empty()
        || nickname.len() > 19
        || !nickname.bytes().all(|c| c.is_ascii_alphanumeric())
    {
        return Err(r.bad("bad nickname"));
    }
    let mut rs = RouterStatus {
        nickname: nickname.to_string(),
        rsa_id: RsaIdentity(b64_fixed(r, r.arg(1, "identity")?, "identity")?),
        desc_digest: match digest {
            Some(d) => Some(b64_fixed(r, d, "descriptor digest")?),
            None => None,
        },
        published: time2(r, rest)?,
        ipv4: r
            .arg(rest + 2, "address")?
            .parse::<Ipv4Addr>()
            .map_err(|_| r.bad("bad IPv4 address"))?,
        or_port: num(r, rest + 3, "orport")?,
        dir_port: num(r, rest + 4, "dirport")?,
        ipv6_or: None,
        flags: RelayFlags::NONE,
        version: None,
        protocols: None,
        bandwidth: None,
        unmeasured: false,
        md_digest: None,
        port_summary: None,
    };
    let mut seen: Vec<&'static str> = Vec::new();
    for item in body {
        match item.keyword {
            "a" => {
                let a: SocketAddr = item
                    .arg(0, "address")?
                    .parse()
                    .map_err(|_| item.bad("bad address:port"))?;
                if let (SocketAddr::V6(v6), None) = (a, rs.ipv6_or) {
                    rs.ipv6_or = Some(SocketAddrV6::new(*v6.ip(), v6.port(), 0, 0));
                }
            }
            "s" => {
                once(&mut seen, "s", item)?;
                // As C tor and Arti: every flag must be one the header announced.
                if let Some(f) = item
                    .args
                    .iter()
                    .find(|f| !known_flags.iter().any(|k| k == *f))
                {
                    return Err(item.bad(format!("flag `{f}` is not in known-flags")));
                }
                rs.flags = RelayFlags::from_names(item.args.iter().copied());
            }
            "v" => {
                once(&mut seen, "v", item)?;
                rs.version = Some(item.args_joined());
            }
            "pr" => {
                once(&mut seen, "pr", item)?;
                rs.protocols = Some(item.args_joined());
            }
            "w" => {
                once(&mut seen, "w", item)?;
                for a in &item.args {
                    if let Some(v) = a.strip_prefix("Bandwidth=") {
                        let bw: u32 = v.parse().map_err(|_| item.bad("bad Bandwidth"))?;
                        rs.bandwidth = Some(bw);
                    } else if *a == "Unmeasured=1" {
                        rs.unmeasured = true;
                    }
                }
            }
            "p" => {
                once(&mut seen, "p", item)?;
                let (act, list) = (item.arg(0, "accept/reject")?, item.arg(1, "ports")?);
                rs.port_summary =
                    Some(PortSummary::parse(act, list).ok_or_else(|| item.bad("bad summary"))?);
            }
            "m" if flavor == Flavor::Microdesc => {
                once(&mut seen, "m", item)?;
                rs.md_digest = Some(b64_fixed(item, item.arg(0, "digest")?, "microdesc digest")?);
            }
            "dir-source"
            | "contact"
            | "vote-digest"
            | "bandwidth-weights"
            | "params"
            | "network-status-version"
            | "vote-status"
            | "valid-after"
            | "known-flags" => {
                return Err(item.bad("out of place"));
            }
            _ => {}
        }
    }
    if !seen.contains(&"s") {
        return Err(r.bad("router entry without an `s` line"));
    }
    if flavor == Flavor::Microdesc && rs.md_digest.is_none() {
        return Err(r.bad("microdesc router entry without an `m` line"));
    }
    Ok(rs)
}

fn signature(item: &Item<'_>) -> Result<Option<ConsensusSignature>, DocError> {
    let (sha256, id, sk) = match item.args.as_slice() {
        [id, sk] => (false, *id, *sk),
        ["sha1", id, sk] => (false, *id, *sk),
        ["sha256", id, sk] => (true, *id, *sk),
        [_, _, _] => {
            // Unknown algorithm: dir-spec says to ignore the signature; still need an object.
            item.object_labelled("SIGNATURE")?;
            return Ok(None);
        }
        _ => return Err(item.bad("expected [algorithm] identity signing-key-digest")),
    };
    Ok(Some(ConsensusSignature {
        sha256,
        identity: hex_id(item, id)?,
        signing_key_digest: hex_id(item, sk)?,
        signature: item.object_labelled("SIGNATURE")?.to_vec(),
    }))
}
