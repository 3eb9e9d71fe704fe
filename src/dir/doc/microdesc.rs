//! Microdescriptors (dir-spec §3.3 "Computing microdescriptors", §1.3 / "Microdescriptor
//! format"): making one from a router descriptor as a C tor 0.4.9 authority does
//! (`dirvote_create_microdescriptor`, consensus methods 30–35), and parsing
//! `/tor/micro/d/` bodies.
//!
//! What an authority writes, in order: `onion-key` with the TAP key's PEM; `ntor-onion-key`
//! in base64 *without* `=` padding (methods ≥ 30); `family` canonicalised (methods ≥ 29,
//! C tor's `nodefamily_canonicalize`: nicknames lower-cased, `$HEX` ids upper-cased with any
//! `=nick`/`~nick` dropped, the relay's own id added, duplicates removed, sorted as
//! strings); `p` (the IPv4 summary, left out when it is `reject 1-65535`); `p6` (the
//! `ipv6-policy`, likewise); `id ed25519 KEY`. `family-ids` comes only from family
//! certificates (proposal 321), which we neither make nor check, so we never write it.
//!
//! Parsing splits at each `onion-key` item (its object is optional: TAP-less
//! microdescriptors keep the bare keyword), skips `@` annotation lines, and, to tolerate
//! microdescriptors that start at `ntor-onion-key`, also splits at an `ntor-onion-key` when
//! the current one already has one. The digest is SHA-256 of each one's exact text.

use sha2::{Digest as _, Sha256};

use crate::crypto::ll::X25519Public;
use crate::crypto::rsa::{RsaPublic, PUBLIC_KEY_PEM_LABEL};
use crate::dir::doc::policy::summarize;
use crate::dir::doc::routerdesc::RouterDescriptor;
use crate::dir::doc::token::{b64_decode, b64_nopad, tokenize, DocError, DocWriter, Item};
use crate::dir::flags::PortSummary;
use crate::ids::{Ed25519Identity, RsaIdentity};

/// The largest body [`Microdesc::parse_many`] takes (a generous bound on a full
/// `/tor/micro/d/` answer for a large network: about 10,000 microdescriptors).
pub const MAX_MICRODESCS_BYTES: usize = 16 * 1024 * 1024;

/// One parsed microdescriptor (dir-spec §1.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Microdesc {
    /// The exact text (without annotations).
    pub text: String,
    /// SHA-256 of `text`.
    pub digest: [u8; 32],
    /// The TAP onion key, if the `onion-key` item carried one.
    pub tap_onion_key: Option<RsaPublic>,
    /// The ntor onion key.
    pub ntor_onion_key: X25519Public,
    /// `family` members as written.
    pub family: Vec<String>,
    /// `family-ids` members as written.
    pub family_ids: Vec<String>,
    /// `p`, or `reject 1-65535` when absent.
    pub ipv4_policy: PortSummary,
    /// `p6`, if present.
    pub ipv6_policy: Option<PortSummary>,
    /// `id ed25519`, if present.
    pub ed_id: Option<Ed25519Identity>,
}

impl Microdesc {
    /// Parses a body of one or more microdescriptors. Fails on the first bad one (the
    /// error names its line in the whole body).
    pub fn parse_many(text: &str) -> Result<Vec<Microdesc>, DocError> {
        if text.len() > MAX_MICRODESCS_BYTES {
            return Err(DocError::Invalid(format!(
                "{} bytes of microdescriptors is more than the {MAX_MICRODESCS_BYTES} accepted",
                text.len()
            )));
        }
        split(text)?
            .into_iter()
            .map(|(line0, chunk)| parse_one(chunk).map_err(|e| shift_line(e, line0)))
            .collect()
    }

    /// The digest in unpadded base64, as in consensus `m` lines and `/tor/micro/d/` URLs.
    pub fn digest_b64(&self) -> String {
        b64_nopad(&self.digest)
    }
}

/// Moves an error's line number from chunk-relative to body-relative.
fn shift_line(e: DocError, before: usize) -> DocError {
    match e {
        DocError::Syntax { line, why } => DocError::Syntax {
            line: line + before,
            why,
        },
        DocError::Repeated { line, keyword } => DocError::Repeated {
            line: line + before,
            keyword,
        },
        DocError::BadItem { line, keyword, why } => DocError::BadItem {
            line: line + before,
            keyword,
            why,
        },
        other => other,
    }
}

fn keyword_of(line: &str) -> &str {
    let line = line.strip_prefix("opt ").unwrap_or(line);
    line.split([' ', '\t']).next().unwrap_or("")
}

fn close<'t>(
    text: &'t str,
    out: &mut Vec<(usize, &'t str)>,
    start: Option<(usize, usize)>,
    end: usize,
) {
    if let Some((s, l)) = start {
        if let Some(chunk) = text.get(s..end) {
            out.push((l, chunk));
        }
    }
}

/// Cuts the body into (lines before, chunk) pairs.
fn split(text: &str) -> Result<Vec<(usize, &str)>, DocError> {
    let mut out = Vec::new();
    let mut start: Option<(usize, usize)> = None; // (byte, line index)
    let mut has_ntor = false;
    let mut in_object = false;
    let mut pos = 0usize;
    let mut line_no = 0usize;
    while pos < text.len() {
        let rest = text.get(pos..).unwrap_or("");
        let len = rest.find('\n').map(|i| i + 1).unwrap_or(rest.len());
        let line = rest.get(..len).unwrap_or("").trim_end_matches('\n');
        if in_object {
            if line.starts_with("-----END ") {
                in_object = false;
            }
        } else if line.starts_with("-----BEGIN ") {
            in_object = true;
        } else if line.starts_with('@') {
            close(text, &mut out, start.take(), pos);
            has_ntor = false;
        } else {
            let kw = keyword_of(line);
            let new = match kw {
                "onion-key" => true,
                "ntor-onion-key" => has_ntor,
                _ => false,
            };
            if new || start.is_none() {
                close(text, &mut out, start.take(), pos);
                start = Some((pos, line_no));
                has_ntor = false;
            }
            if kw == "ntor-onion-key" {
                has_ntor = true;
            }
        }
        pos += len;
        line_no += 1;
    }
    close(text, &mut out, start, text.len());
    if out.is_empty() {
        return Err(DocError::Invalid("no microdescriptor in the body".into()));
    }
    Ok(out)
}

fn one<'a, 'b>(items: &'b [Item<'a>], kw: &str) -> Result<Option<&'b Item<'a>>, DocError> {
    let mut it = items.iter().filter(|i| i.keyword == kw);
    let first = it.next();
    if let Some(second) = it.next() {
        return Err(DocError::Repeated {
            line: second.line,
            keyword: kw.to_string(),
        });
    }
    Ok(first)
}

fn parse_one(text: &str) -> Result<Microdesc, DocError> {
    let items = tokenize(text)?;
    let first = items
        .first()
        .ok_or_else(|| DocError::Invalid("empty microdescriptor".into()))?;
    if first.keyword != "onion-key" && first.keyword != "ntor-onion-key" {
        return Err(first.bad("a microdescriptor must start with onion-key"));
    }
    let tap_onion_key = match one(&items, "onion-key")? {
        Some(ok) => {
            if !ok.args.is_empty() {
                return Err(ok.bad("takes no arguments"));
            }
            match &ok.object {
                None => None,
                Some(_) => {
                    let der = ok.object_labelled(PUBLIC_KEY_PEM_LABEL)?;
                    let key = RsaPublic::from_der(der).map_err(|_| ok.bad("bad RSA key"))?;
                    if key.bits() != 1024 {
                        return Err(ok.bad("TAP onion key must be RSA-1024"));
                    }
                    Some(key)
                }
            }
        }
        None => None,
    };
    let ntor_item = one(&items, "ntor-onion-key")?.ok_or(DocError::Missing("ntor-onion-key"))?;
    let ntor: [u8; 32] = b64_decode(ntor_item.arg(0, "key")?)
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| ntor_item.bad("not a base64 32-byte key"))?;
    let list = |kw: &str| -> Result<Vec<String>, DocError> {
        Ok(one(&items, kw)?
            .map(|f| f.args.iter().map(|s| s.to_string()).collect())
            .unwrap_or_default())
    };
    let summary = |kw: &str| -> Result<Option<PortSummary>, DocError> {
        match one(&items, kw)? {
            None => Ok(None),
            Some(p) => {
                if p.args.len() != 2 {
                    return Err(p.bad("expected accept|reject PORTLIST"));
                }
                PortSummary::parse(p.arg(0, "action")?, p.arg(1, "ports")?)
                    .map(Some)
                    .ok_or_else(|| p.bad("not accept|reject PORTLIST"))
            }
        }
    };
    let mut ed_id = None;
    for id in items.iter().filter(|i| i.keyword == "id") {
        let kind = id.arg(0, "key type")?;
        let val = id.arg(1, "key")?;
        if kind == "ed25519" {
            if ed_id.is_some() {
                return Err(id.bad("more than one `id ed25519`"));
            }
            ed_id = Some(
                Ed25519Identity::from_base64(val)
                    .ok_or_else(|| id.bad("not a base64 Ed25519 key"))?,
            );
        }
    }
    Ok(Microdesc {
        text: text.to_string(),
        digest: Sha256::digest(text.as_bytes()).into(),
        tap_onion_key,
        ntor_onion_key: X25519Public::from(ntor),
        family: list("family")?,
        family_ids: list("family-ids")?,
        ipv4_policy: summary("p")?.unwrap_or_else(PortSummary::reject_all),
        ipv6_policy: summary("p6")?,
        ed_id,
    })
}

/// C tor's `nodefamily_canonicalize(family, own_id, 0)`.
pub fn canonical_family(members: &[String], own: &RsaIdentity) -> Vec<String> {
    let mut ids: Vec<String> = vec![format!("${}", own.to_hex())];
    let mut nicks: Vec<String> = Vec::new();
    let mut other: Vec<String> = Vec::new();
    for m in members {
        if crate::dir::doc::routerdesc::is_nickname(m) {
            nicks.push(m.to_ascii_lowercase());
        } else if let Some(hex) = legal_hexdigest(m) {
            if let Some(id) = RsaIdentity::from_hex(hex) {
                ids.push(format!("${}", id.to_hex()));
            }
        } else {
            other.push(m.clone());
        }
    }
    ids.sort();
    ids.dedup();
    nicks.sort();
    nicks.dedup();
    let mut all: Vec<String> = ids.into_iter().chain(nicks).chain(other).collect();
    all.sort();
    all
}

/// C tor's `is_legal_hexdigest`: `[$]HEX40` optionally followed by `=nick` or `~nick`;
/// returns the hex.
fn legal_hexdigest(s: &str) -> Option<&str> {
    let s = s.strip_prefix('$').unwrap_or(s);
    let hex = s.get(..40)?;
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    match s.get(40..)? {
        "" => Some(hex),
        rest => {
            let nick = rest.strip_prefix(['=', '~'])?;
            crate::dir::doc::routerdesc::is_nickname(nick).then_some(hex)
        }
    }
}

/// The microdescriptor a C tor 0.4.9 authority makes from `desc` (consensus methods
/// 30–35; see the module docs).
pub fn microdesc_text(desc: &RouterDescriptor) -> String {
    let mut w = DocWriter::new();
    w.item("onion-key", &[]);
    if let Some(tap) = &desc.tap_onion_key {
        w.object(PUBLIC_KEY_PEM_LABEL, &tap.to_der());
    }
    w.item(
        "ntor-onion-key",
        &[&b64_nopad(desc.ntor_onion_key.as_bytes())],
    );
    if !desc.family.is_empty() {
        w.item_str(
            "family",
            &canonical_family(&desc.family, &desc.rsa_id).join(" "),
        );
    }
    let p = summarize(&desc.exit_policy);
    if !p.allows_none() {
        w.item_str("p", &p.to_string());
    }
    if let Some(p6) = &desc.ipv6_policy {
        if !p6.allows_none() {
            w.item_str("p6", &p6.to_string());
        }
    }
    w.item("id", &["ed25519", &desc.ed_id.to_base64()]);
    w.finish()
}

#[cfg(test)]
mod tests;
