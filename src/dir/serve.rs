//! Which document a directory request names, and the HTTP response answering it from a
//! [`DirSource`] (dir-spec §4, §5; C tor's `url_table` and handlers in `dircache.c`,
//! `dirserv_get_routerdesc_spool` in `dirserv.c`), sans-IO.
//!
//! Paths as C tor parses them: a URL not starting with `/tor/` gets it prefixed; a `.z` at
//! the end of the whole URL is removed and means the client accepts `deflate`; lists are
//! `+`-separated hex digests (`-`-separated base64 for microdescriptors), malformed
//! elements skipped, then sorted and de-duplicated. Responses: `200 OK` with `Date`,
//! `Content-Type: text/plain`, `X-Your-Address-Is` (direct, non-private peers only),
//! `Content-Encoding` (`deflate` when the client accepts it, else `identity`: C tor clients
//! asking for zstd or lzma accept either), `Content-Length`, `Expires` or
//! `Pragma: no-cache`; other answers are C tor's short responses (`HTTP/1.0 404 Not
//! found`, `503 Directory busy, try again later`, `400` with an authority's reason, ...).
//!
//! Not here: consensus diffs (a request for one gets C tor's 404 "No such diff
//! available" unless the source answers it), bridge networkstatus, spooling.

use std::net::IpAddr;

use bytes::Bytes;

use super::doc::consensus::Flavor;
use super::http::{self, format_http_time, Encoding, Method, Request, Response};
use crate::ids::RsaIdentity;

/// A parsed directory request (dir-spec §4, §5; C tor's `url_table`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirRequest {
    /// `GET /tor/` (C tor serves its `DirPortFrontPage` here, if any).
    Frontpage,
    /// `GET /tor/robots.txt` (answered by [`answer`] itself, as C tor).
    Robots,
    /// `GET /tor/status-vote/current/consensus[-<flavor>][/diff/<hex>][/<fp>+<fp>...]`.
    Consensus {
        /// The flavor (an unknown flavor name means `ns`, as in C tor).
        flavor: Flavor,
        /// Hex prefixes of authority v3 identities, more than half of which must have
        /// signed the consensus (see [`client_likes_consensus`]); empty: any.
        authorities: Vec<String>,
        /// SHA3-256 digests (as signed) of consensuses the client has: from
        /// `X-Or-Diff-From-Consensus`, or the URL's `diff/` component.
        diff_from: Vec<[u8; 32]>,
        /// The URL named a `diff/`: send a diff or 404, never a full consensus.
        diff_only: bool,
        /// `If-Modified-Since`, if present and well formed.
        if_modified_since: Option<u64>,
    },
    /// Any other `GET /tor/status-vote/{current,next}/...` (votes, detached signatures,
    /// the bandwidth file), the path after `/tor/status-vote/`.
    StatusVote(String),
    /// `GET /tor/keys/all`.
    KeysAll,
    /// `GET /tor/keys/authority`: the server's own authority certificate.
    KeysAuthority,
    /// `GET /tor/keys/fp/<F>+<F>...`: the newest certificate of each authority identity.
    KeysFp(Vec<RsaIdentity>),
    /// `GET /tor/keys/sk/<S>+...`: certificates by signing-key digest.
    KeysSk(Vec<RsaIdentity>),
    /// `GET /tor/keys/fp-sk/<F>-<S>+...`: certificates by (identity, signing key) digests.
    KeysFpSk(Vec<(RsaIdentity, RsaIdentity)>),
    /// `GET /tor/micro/d/<D>-<D>...`: microdescriptors by SHA-256 digest.
    Micro(Vec<[u8; 32]>),
    /// `GET /tor/server/authority`: the server's own descriptor.
    ServerAuthority,
    /// `GET /tor/server/all`.
    ServerAll,
    /// `GET /tor/server/fp/<F>+...`: descriptors by identity.
    ServerFp(Vec<RsaIdentity>),
    /// `GET /tor/server/d/<D>+...`: descriptors by SHA-1 digest.
    ServerD(Vec<[u8; 20]>),
    /// `GET /tor/extra/authority`.
    ExtraAuthority,
    /// `GET /tor/extra/all`.
    ExtraAll,
    /// `GET /tor/extra/fp/<F>+...`.
    ExtraFp(Vec<RsaIdentity>),
    /// `GET /tor/extra/d/<D>+...`.
    ExtraD(Vec<[u8; 20]>),
    /// `GET /tor/hs/3/<blinded key, base64>` (onion service descriptors; stage 4).
    HsDesc(String),
    /// `POST /tor/`: a server descriptor (or several, or extra-info) upload; sent to
    /// [`DirSource::upload`].
    Upload(Vec<u8>),
    /// `POST /tor/post/vote`.
    PostVote(Vec<u8>),
    /// `POST /tor/post/consensus-signature`.
    PostSignatures(Vec<u8>),
    /// `POST /tor/hs/<version>/publish`.
    PostHsDesc {
        /// The version in the URL.
        version: u32,
        /// The descriptor.
        body: Vec<u8>,
    },
}

/// A document to send with `200 OK`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// The document(s), concatenated, uncompressed.
    pub body: Bytes,
    /// The same, deflated ahead of time (sent instead of compressing per request).
    pub deflated: Option<Bytes>,
    /// Seconds clients and proxies may cache it (`Expires`); 0: `Pragma: no-cache`.
    pub lifetime: u64,
}

impl Document {
    /// A document with a cache lifetime, compressed on demand.
    pub fn new(body: impl Into<Bytes>, lifetime: u64) -> Document {
        Document {
            body: body.into(),
            deflated: None,
            lifetime,
        }
    }
}

/// How a [`DirSource`] answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirAnswer {
    /// `200 OK` with a document.
    Document(Document),
    /// A short response: status code and reason phrase (e.g. `404 Not found`,
    /// `400 <an authority's rejection reason>`, `200 <upload accepted message>`).
    Status {
        /// The status code.
        code: u16,
        /// The reason phrase (control characters become spaces when sent).
        reason: String,
    },
}

impl DirAnswer {
    /// A short response.
    pub fn status(code: u16, reason: &str) -> DirAnswer {
        DirAnswer::Status {
            code,
            reason: reason.to_owned(),
        }
    }
    /// `404 Not found` (C tor's answer for anything it does not have).
    pub fn not_found() -> DirAnswer {
        DirAnswer::status(404, "Not found")
    }
    /// `503 Directory busy, try again later`.
    pub fn busy() -> DirAnswer {
        DirAnswer::status(503, "Directory busy, try again later")
    }
    /// `400 Bad request`.
    pub fn bad_request() -> DirAnswer {
        DirAnswer::status(400, "Bad request")
    }
    /// `304 Not modified`.
    pub fn not_modified() -> DirAnswer {
        DirAnswer::status(304, "Not modified")
    }
    /// A document (see [`Document::new`]).
    pub fn document(body: impl Into<Bytes>, lifetime: u64) -> DirAnswer {
        DirAnswer::Document(Document::new(body, lifetime))
    }
}

/// What a directory server serves from: implemented by the relay's cache
/// ([`crate::rt::dircache`]), the authority, and tests.
pub trait DirSource: Send + Sync {
    /// Answers every request except descriptor uploads.
    fn get(&self, req: &DirRequest) -> DirAnswer;
    /// Answers `POST /tor/` (a non-authority answers C tor's `400 Nonauthoritative
    /// directory does not accept posted server descriptors`).
    fn upload(&self, body: &[u8]) -> DirAnswer;
}

/// A source with nothing: every GET is `404 Not found`, every upload refused as C tor's
/// caches refuse them.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoDocuments;

impl DirSource for NoDocuments {
    fn get(&self, _req: &DirRequest) -> DirAnswer {
        DirAnswer::not_found()
    }
    fn upload(&self, _body: &[u8]) -> DirAnswer {
        DirAnswer::status(
            400,
            "Nonauthoritative directory does not accept posted server descriptors",
        )
    }
}

/// Cache lifetimes C tor announces (dircache.c), for sources to use.
pub mod lifetime {
    /// `/tor/server/all`, `/tor/extra/all` (`FULL_DIR_CACHE_LIFETIME`).
    pub const FULL_DIR: u64 = 60 * 60;
    /// Descriptors by digest (`ROUTERDESC_BY_DIGEST_CACHE_LIFETIME`).
    pub const ROUTERDESC_BY_DIGEST: u64 = 48 * 60 * 60;
    /// Microdescriptors (`MICRODESC_CACHE_LIFETIME`).
    pub const MICRODESC: u64 = 48 * 60 * 60;
    /// Authority certificates (`/tor/keys/...`).
    pub const KEYS: u64 = 60 * 60;
    /// `robots.txt` (`ROBOTS_CACHE_LIFETIME`).
    pub const ROBOTS: u64 = 24 * 60 * 60;
    /// Status votes (C tor uses 60 s).
    pub const STATUS_VOTE: u64 = 60;
}

/// Context for [`answer_with`] that a sans-IO function cannot learn itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct AnswerContext {
    /// The current time: adds `Date` and `Expires` headers (C tor's relays send both).
    pub now: Option<u64>,
    /// The client's address for `X-Your-Address-Is` (C tor sends it on direct DirPort
    /// connections from non-private addresses only; `None` for BEGIN_DIR streams).
    pub peer: Option<IpAddr>,
}

/// Whether more than half of the wanted authorities (hex prefixes of v3 identities) are
/// among the consensus signers (C tor's `client_likes_consensus`; odd-length prefixes lose
/// their last digit, as there). An empty list is always satisfied.
pub fn client_likes_consensus(signers: &[RsaIdentity], wanted: &[String]) -> bool {
    if wanted.is_empty() {
        return true;
    }
    let need = wanted.len() / 2 + 1;
    let have = wanted
        .iter()
        .filter(|w| {
            let w = w.get(..w.len() & !1).unwrap_or_default();
            signers.iter().any(|s| {
                s.to_hex()
                    .get(..w.len())
                    .is_some_and(|p| p.eq_ignore_ascii_case(w))
            })
        })
        .count();
    have >= need
}

/// Whether the request accepts a `deflate` body (a `.z` URL, or `Accept-Encoding`).
pub fn accepts_deflate(req: &Request) -> bool {
    req.path.ends_with(".z")
        || req
            .header("Accept-Encoding")
            .is_some_and(|h| http::parse_accept_encoding(h).contains(&Encoding::Deflate))
}

/// The full HTTP response to `req`, without `Date`, `Expires` or `X-Your-Address-Is`
/// (see [`answer_with`]).
pub fn answer(source: &dyn DirSource, req: &Request) -> Vec<u8> {
    answer_with(source, req, &AnswerContext::default())
}

/// The full HTTP response to `req` from `source`.
pub fn answer_with(source: &dyn DirSource, req: &Request, ctx: &AnswerContext) -> Vec<u8> {
    let parsed = match DirRequest::from_http(req) {
        Ok(p) => p,
        Err(a) => return render(a, false, false, ctx),
    };
    let is_consensus = matches!(parsed, DirRequest::Consensus { .. });
    let a = match &parsed {
        DirRequest::Robots => DirAnswer::document(&b"User-agent: *\r\nDisallow: /\r\n"[..], 0),
        DirRequest::Upload(body) => source.upload(body),
        other => source.get(other),
    };
    let a = match (a, &parsed) {
        (DirAnswer::Document(d), _) if d.body.is_empty() => DirAnswer::not_found(),
        (DirAnswer::Document(d), DirRequest::Robots) => DirAnswer::Document(Document {
            lifetime: lifetime::ROBOTS,
            ..d
        }),
        (a, _) => a,
    };
    render(a, accepts_deflate(req), is_consensus, ctx)
}

/// A short response as C tor's `write_short_http_response` writes it.
pub fn short_response(code: u16, reason: &str, now: Option<u64>) -> Vec<u8> {
    render(
        DirAnswer::status(code, reason),
        false,
        false,
        &AnswerContext { now, peer: None },
    )
}

fn render(a: DirAnswer, deflate: bool, vary: bool, ctx: &AnswerContext) -> Vec<u8> {
    let date = ctx.now.map(|t| ("Date".to_owned(), format_http_time(t)));
    let d = match a {
        DirAnswer::Status { code, reason } => {
            let mut r = Response::short(code, &clean_reason(&reason));
            r.headers.extend(date);
            return r.to_bytes();
        }
        DirAnswer::Document(d) => d,
    };
    let mut r = Response::short(200, "OK");
    r.headers.extend(date);
    r.headers.push(("Content-Type".into(), "text/plain".into()));
    if let Some(ip) = ctx.peer.filter(|ip| !is_private(ip)) {
        r.headers
            .push((http::X_ADDRESS_HEADER.into(), ip.to_string()));
    }
    let (enc, body) = if deflate {
        let z = d
            .deflated
            .clone()
            .unwrap_or_else(|| http::deflate(&d.body).into());
        (Encoding::Deflate, z)
    } else {
        (Encoding::Identity, d.body.clone())
    };
    r.headers
        .push(("Content-Encoding".into(), enc.name().into()));
    r.headers
        .push(("Content-Length".into(), body.len().to_string()));
    match (ctx.now, d.lifetime) {
        (_, 0) => r.headers.push(("Pragma".into(), "no-cache".into())),
        (Some(now), l) => r
            .headers
            .push(("Expires".into(), format_http_time(now.saturating_add(l)))),
        (None, _) => {}
    }
    if vary {
        r.headers
            .push(("Vary".into(), http::X_OR_DIFF_FROM_CONSENSUS_HEADER.into()));
    }
    let mut out = r.to_bytes();
    out.extend_from_slice(&body);
    out
}

fn clean_reason(s: &str) -> String {
    let s: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(1000)
        .collect();
    if s.trim().is_empty() {
        "unspecified".into()
    } else {
        s
    }
}

/// Addresses C tor does not report back (`is_local_to_resolve_addr` approximated:
/// loopback, private, link-local, unspecified).
fn is_private(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v) => {
            v.is_loopback() || v.is_private() || v.is_link_local() || v.is_unspecified()
        }
        IpAddr::V6(v) => {
            v.is_loopback()
                || v.is_unspecified()
                || (v.segments()[0] & 0xfe00) == 0xfc00
                || (v.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

#[path = "serve_parse.rs"]
mod parse;

#[cfg(test)]
#[path = "serve_tests.rs"]
mod tests;

pub use parse::parse_get;

impl DirRequest {
    /// Parses an HTTP request as C tor's `directory_handle_command_{get,post}` would;
    /// `Err` is the short response C tor would send instead (404, 400).
    pub fn from_http(req: &Request) -> Result<DirRequest, DirAnswer> {
        match req.method {
            Method::Get => parse::parse_get(&req.path, &req.headers),
            Method::Post => parse::parse_post(&req.path, &req.body),
        }
    }
}
