//! URL parsing for [`super::DirRequest`] (C tor's `parse_http_url`,
//! `dir_split_resource_into_fingerprints`, `..._fingerprint_pairs`,
//! `parse_consensus_request`).

use super::{DirAnswer, DirRequest, Flavor};
use crate::dir::http::{self, X_OR_DIFF_FROM_CONSENSUS_HEADER};
use crate::ids::RsaIdentity;

/// Rewrites a URL to start with `/tor/`, as C tor's `parse_http_url`.
fn tor_url(path: &str) -> String {
    if path.starts_with("/tor/") {
        path.to_owned()
    } else if let Some(rest) = path.strip_prefix('/') {
        format!("/tor/{rest}")
    } else {
        format!("/tor/{path}")
    }
}

/// Parses a GET's URL (and the headers that matter) into a request.
pub fn parse_get(path: &str, headers: &[(String, String)]) -> Result<DirRequest, DirAnswer> {
    let url = tor_url(path);
    let url = url
        .strip_suffix(".z")
        .filter(|u| !u.is_empty())
        .unwrap_or(&url);
    if url == "/tor/" {
        return Ok(DirRequest::Frontpage);
    }
    if url == "/tor/robots.txt" {
        return Ok(DirRequest::Robots);
    }
    if url.starts_with("/tor/status-vote/current/consensus") {
        return parse_consensus(url, headers);
    }
    if let Some(rest) = url
        .strip_prefix("/tor/status-vote/")
        .filter(|r| r.starts_with("current/") || r.starts_with("next/"))
    {
        return Ok(DirRequest::StatusVote(rest.to_owned()));
    }
    if let Some(rest) = url.strip_prefix("/tor/micro/d/") {
        return Ok(DirRequest::Micro(split_base64_256(rest)));
    }
    if let Some(rest) = url.strip_prefix("/tor/server/") {
        return Ok(match descriptor_key(rest)? {
            DescKey::Authority => DirRequest::ServerAuthority,
            DescKey::All => DirRequest::ServerAll,
            DescKey::Fp(v) => DirRequest::ServerFp(v),
            DescKey::D(v) => DirRequest::ServerD(v),
        });
    }
    if let Some(rest) = url.strip_prefix("/tor/extra/") {
        return Ok(match descriptor_key(rest)? {
            DescKey::Authority => DirRequest::ExtraAuthority,
            DescKey::All => DirRequest::ExtraAll,
            DescKey::Fp(v) => DirRequest::ExtraFp(v),
            DescKey::D(v) => DirRequest::ExtraD(v),
        });
    }
    if let Some(rest) = url.strip_prefix("/tor/keys/") {
        return match rest {
            "all" => Ok(DirRequest::KeysAll),
            "authority" => Ok(DirRequest::KeysAuthority),
            _ => {
                if let Some(l) = rest.strip_prefix("fp/") {
                    Ok(DirRequest::KeysFp(ids(split_hex::<20>(l))))
                } else if let Some(l) = rest.strip_prefix("sk/") {
                    Ok(DirRequest::KeysSk(ids(split_hex::<20>(l))))
                } else if let Some(l) = rest.strip_prefix("fp-sk/") {
                    Ok(DirRequest::KeysFpSk(split_pairs(l)))
                } else {
                    Err(DirAnswer::bad_request())
                }
            }
        };
    }
    if let Some(rest) = url.strip_prefix("/tor/hs/3/") {
        return Ok(DirRequest::HsDesc(rest.to_owned()));
    }
    Err(DirAnswer::not_found())
}

/// Parses a POST's URL.
pub fn parse_post(path: &str, body: &[u8]) -> Result<DirRequest, DirAnswer> {
    let url = tor_url(path);
    let body = body.to_vec();
    match url.as_str() {
        "/tor/" => Ok(DirRequest::Upload(body)),
        "/tor/post/vote" => Ok(DirRequest::PostVote(body)),
        "/tor/post/consensus-signature" => Ok(DirRequest::PostSignatures(body)),
        u => {
            if let Some(rest) = u.strip_prefix("/tor/hs/") {
                let (v, tail) = rest.split_once('/').unwrap_or((rest, ""));
                return match v.parse::<u32>() {
                    Ok(version) if tail.starts_with("publish") => {
                        Ok(DirRequest::PostHsDesc { version, body })
                    }
                    _ => Err(DirAnswer::status(400, "Invalid HS descriptor. Rejected.")),
                };
            }
            Err(DirAnswer::not_found())
        }
    }
}

enum DescKey {
    Authority,
    All,
    Fp(Vec<RsaIdentity>),
    D(Vec<[u8; 20]>),
}

fn descriptor_key(rest: &str) -> Result<DescKey, DirAnswer> {
    match rest {
        "all" => Ok(DescKey::All),
        "authority" => Ok(DescKey::Authority),
        _ => {
            if let Some(l) = rest.strip_prefix("d/") {
                Ok(DescKey::D(split_hex::<20>(l)))
            } else if let Some(l) = rest.strip_prefix("fp/") {
                Ok(DescKey::Fp(ids(split_hex::<20>(l))))
            } else {
                Err(DirAnswer::not_found())
            }
        }
    }
}

fn ids(v: Vec<[u8; 20]>) -> Vec<RsaIdentity> {
    v.into_iter().map(RsaIdentity).collect()
}

/// `+`-separated hex digests; malformed ones skipped; sorted, de-duplicated.
fn split_hex<const N: usize>(list: &str) -> Vec<[u8; N]> {
    let mut out: Vec<[u8; N]> = list
        .split('+')
        .filter_map(|h| {
            let mut d = [0u8; N];
            (h.len() == 2 * N && hex::decode_to_slice(h, &mut d).is_ok()).then_some(d)
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// `-`-separated base64 SHA-256 digests (43 characters, no padding).
fn split_base64_256(list: &str) -> Vec<[u8; 32]> {
    let mut out: Vec<[u8; 32]> = list
        .split('-')
        .filter(|b| b.len() == 43)
        .filter_map(crate::dir::doc::token::b64_decode)
        .filter_map(|v| <[u8; 32]>::try_from(v.as_slice()).ok())
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// `F-S+F-S...` pairs of hex digests.
fn split_pairs(list: &str) -> Vec<(RsaIdentity, RsaIdentity)> {
    let mut out: Vec<(RsaIdentity, RsaIdentity)> = list
        .split('+')
        .filter_map(|p| {
            let (a, b) = p.split_once('-')?;
            let (a, b) = (split_hex::<20>(a), split_hex::<20>(b));
            match (a.as_slice(), b.as_slice()) {
                ([a], [b]) if p.len() == 81 => Some((RsaIdentity(*a), RsaIdentity(*b))),
                _ => None,
            }
        })
        .collect();
    out.sort_unstable_by_key(|x| (x.0 .0, x.1 .0));
    out.dedup();
    out
}

fn parse_flavor(name: &str) -> Flavor {
    match name {
        "microdesc" => Flavor::Microdesc,
        _ => Flavor::Ns,
    }
}

/// C tor's `parse_consensus_request`.
fn parse_consensus(url: &str, headers: &[(String, String)]) -> Result<DirRequest, DirAnswer> {
    let rest = url
        .strip_prefix("/tor/status-vote/current/consensus")
        .unwrap_or_default();
    let (flavor, after) = if let Some(f) = rest.strip_prefix('-') {
        match f.split_once('/') {
            Some((name, after)) => (parse_flavor(name), Some(after)),
            None => (parse_flavor(f), None),
        }
    } else {
        (Flavor::Ns, rest.strip_prefix('/'))
    };
    let mut diff_only = false;
    let mut diff_from = Vec::new();
    let mut want = after;
    if let Some(d) = after.and_then(|a| a.strip_prefix("diff/")) {
        let (hash, fps) = match d.split_once('/') {
            Some((h, f)) => (h, Some(f)),
            None => (d, None),
        };
        let mut digest = [0u8; 32];
        if hash.len() != 64 || hex::decode_to_slice(hash, &mut digest).is_err() {
            return Err(DirAnswer::status(404, "Couldn't parse request"));
        }
        diff_only = true;
        diff_from.push(digest);
        want = fps;
    } else if let Some(h) = http::header(headers, X_OR_DIFF_FROM_CONSENSUS_HEADER) {
        for hx in h.split_ascii_whitespace() {
            let mut digest = [0u8; 32];
            if hx.len() == 64 && hex::decode_to_slice(hx, &mut digest).is_ok() {
                diff_from.push(digest);
            }
        }
    }
    let authorities = want
        .map(|w| {
            w.split('+')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let if_modified_since =
        http::header(headers, "If-Modified-Since").and_then(http::parse_http_time);
    Ok(DirRequest::Consensus {
        flavor,
        authorities,
        diff_from,
        diff_only,
        if_modified_since,
    })
}
