//! HTTP/1.0 directory requests and responses as C tor sends and accepts them (dir-spec §4,
//! §5; C tor's `directory.c`, `dircache.c`, `dirclient.c`, `proto_http.c`), sans-IO.
//!
//! - Requests: `GET <url> HTTP/1.0\r\nHost: <host>\r\n<headers>\r\n`, with `Content-Length`
//!   and the body for POSTs. The URL may carry a `http[s]://host` prefix (skipped, as C tor).
//!   Parsing is incremental ([`parse_request`] returns `None` until the request is whole).
//! - Responses: `HTTP/1.0 <code> <reason>\r\n<headers>\r\n<body>`, read to end-of-file
//!   ([`parse_response`]); the body is decompressed according to `Content-Encoding`
//!   (`deflate` is zlib, the same as a URL's `.z` suffix; `gzip` too; `identity`), or by
//!   sniffing a zlib header when the header is missing, as C tor's client does.
//! - Hard caps: headers at most [`MAX_HEADERS_SIZE`] bytes (C tor's `MAX_HEADERS_SIZE`),
//!   bodies at most the caller's `max_body`, decompressed bodies too (zip-bomb safe).
//!
//! Not here: zstd and lzma (we never ask for them, and answer deflate or identity to peers
//! that do, which C tor accepts); chunked encoding and keep-alive (HTTP/1.0 only: one
//! request per connection).

use std::io::Read;

/// C tor's `MAX_HEADERS_SIZE`: the most header bytes accepted (request or response).
pub const MAX_HEADERS_SIZE: usize = 50_000;

/// C tor's `MAX_DIR_UL_SIZE`: the largest upload (POST body) a directory accepts.
pub const MAX_DIR_UL_SIZE: usize = (1 << 24) - 1;

/// C tor's `MAX_DIRECTORY_OBJECT_SIZE`: the largest response body a client accepts.
pub const MAX_DIRECTORY_OBJECT_SIZE: usize = 10 << 20;

/// The response header carrying the client's address as the server saw it.
pub const X_ADDRESS_HEADER: &str = "X-Your-Address-Is";

/// The request header listing consensus digests (hex SHA3-256) a diff may start from.
pub const X_OR_DIFF_FROM_CONSENSUS_HEADER: &str = "X-Or-Diff-From-Consensus";

/// A malformed or oversized HTTP message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// The header block exceeds [`MAX_HEADERS_SIZE`].
    #[error("HTTP headers longer than {MAX_HEADERS_SIZE} bytes")]
    HeadersTooLarge,
    /// The body (compressed or not) exceeds the cap.
    #[error("HTTP body longer than {0} bytes")]
    BodyTooLarge(usize),
    /// The request or status line is malformed.
    #[error("malformed HTTP start line: {0}")]
    BadStartLine(String),
    /// A method other than GET or POST (C tor closes the connection).
    #[error("unsupported HTTP method {0:?}")]
    BadMethod(String),
    /// A header line is malformed, or a `Content-Length` is not a number.
    #[error("malformed HTTP header: {0}")]
    BadHeader(String),
    /// The response ended before its headers did.
    #[error("HTTP response truncated before the end of its headers")]
    Truncated,
    /// The body is compressed with a method we do not implement.
    #[error("unsupported content encoding {0:?}")]
    UnsupportedEncoding(String),
    /// The body does not decompress.
    #[error("body does not decompress as {0}")]
    Decompress(&'static str),
}

/// A request method (C tor's directory code knows GET and POST).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET: fetch a document.
    Get,
    /// POST: upload a descriptor, vote or signatures.
    Post,
}

impl Method {
    /// The method as sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// An HTTP/1.0 request (dir-spec §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// GET or POST.
    pub method: Method,
    /// The URL path, without any `http://host` prefix (e.g. `/tor/server/authority.z`).
    pub path: String,
    /// Headers in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body (POST).
    pub body: Vec<u8>,
}

/// A content coding (C tor's `compress_method_t` names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// `identity`: none.
    Identity,
    /// `deflate`: zlib (RFC 1950), also what a `.z` URL asks for.
    Deflate,
    /// `gzip` / `x-gzip`.
    Gzip,
    /// `x-zstd` (not implemented here).
    Zstd,
    /// `x-tor-lzma` (not implemented here).
    Lzma,
}

impl Encoding {
    /// Parses a coding name as C tor's `compression_method_get_by_name` (exact match).
    pub fn from_name(s: &str) -> Option<Encoding> {
        Some(match s {
            "identity" => Encoding::Identity,
            "deflate" => Encoding::Deflate,
            "gzip" | "x-gzip" => Encoding::Gzip,
            "x-zstd" => Encoding::Zstd,
            "x-tor-lzma" => Encoding::Lzma,
            _ => return None,
        })
    }

    /// The coding's name in headers.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Identity => "identity",
            Encoding::Deflate => "deflate",
            Encoding::Gzip => "gzip",
            Encoding::Zstd => "x-zstd",
            Encoding::Lzma => "x-tor-lzma",
        }
    }
}

/// The codings listed in an `Accept-Encoding` value (C tor's
/// `parse_accept_encoding_header`: comma-separated, unknown names ignored); identity is
/// always acceptable.
pub fn parse_accept_encoding(value: &str) -> Vec<Encoding> {
    let mut out = vec![Encoding::Identity];
    for m in value.split(',').map(str::trim).filter(|m| !m.is_empty()) {
        if let Some(e) = Encoding::from_name(m) {
            if !out.contains(&e) {
                out.push(e);
            }
        }
    }
    out
}

/// The `Accept-Encoding` value our client sends (the codings we can decompress).
pub const OUR_ACCEPT_ENCODING: &str = "deflate, gzip, identity";

/// Compresses with zlib (`deflate`), as C tor's `ZLIB_METHOD`.
pub fn deflate(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let _ = e.write_all(data);
    e.finish().unwrap_or_default()
}

/// Decompresses zlib data, failing beyond `max` output bytes.
pub fn inflate(data: &[u8], max: usize) -> Result<Vec<u8>, HttpError> {
    read_capped(flate2::read::ZlibDecoder::new(data), max, "deflate")
}

/// Decompresses gzip data, failing beyond `max` output bytes.
pub fn gunzip(data: &[u8], max: usize) -> Result<Vec<u8>, HttpError> {
    read_capped(flate2::read::GzDecoder::new(data), max, "gzip")
}

fn read_capped<R: Read>(r: R, max: usize, what: &'static str) -> Result<Vec<u8>, HttpError> {
    let mut out = Vec::new();
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    r.take(limit)
        .read_to_end(&mut out)
        .map_err(|_| HttpError::Decompress(what))?;
    if out.len() > max {
        return Err(HttpError::BodyTooLarge(max));
    }
    Ok(out)
}

/// Whether `data` starts like a zlib stream (C tor's `detect_compression_method`).
fn looks_zlib(data: &[u8]) -> bool {
    match data {
        [a, b, ..] => *a & 0x0f == 8 && (u16::from(*a) << 8 | u16::from(*b)) % 31 == 0,
        _ => false,
    }
}

/// Finds `\r\n\r\n`; returns the length of the header block including it. `Err` when the
/// headers exceed the cap, `None` when they are not all here yet.
fn header_end(buf: &[u8]) -> Result<Option<usize>, HttpError> {
    match buf.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(p) if p + 4 > MAX_HEADERS_SIZE => Err(HttpError::HeadersTooLarge),
        Some(p) => Ok(Some(p + 4)),
        None if buf.len() > MAX_HEADERS_SIZE => Err(HttpError::HeadersTooLarge),
        None => Ok(None),
    }
}

/// Splits a header block (after the start line) into name/value pairs.
fn parse_headers(lines: &[&str]) -> Result<Vec<(String, String)>, HttpError> {
    let mut out = Vec::new();
    for l in lines {
        if l.is_empty() {
            continue;
        }
        let Some((name, value)) = l.split_once(':') else {
            return Err(HttpError::BadHeader(truncate(l)));
        };
        if name.is_empty() || name.bytes().any(|b| b.is_ascii_whitespace()) {
            return Err(HttpError::BadHeader(truncate(l)));
        }
        out.push((name.to_owned(), value.trim().to_owned()));
    }
    Ok(out)
}

fn truncate(s: &str) -> String {
    s.chars().take(80).collect()
}

/// The first header named `name` (case-insensitive).
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn content_length(headers: &[(String, String)]) -> Result<Option<usize>, HttpError> {
    match header(headers, "Content-Length") {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse::<usize>()
            .map(Some)
            .map_err(|_| HttpError::BadHeader(format!("Content-Length: {}", truncate(v)))),
    }
}

/// Splits the header block into lines (CRLF or LF), checking it is text.
fn header_lines(block: &[u8]) -> Result<Vec<&str>, HttpError> {
    let text = std::str::from_utf8(block)
        .map_err(|_| HttpError::BadHeader("headers are not UTF-8".into()))?;
    Ok(text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect())
}

/// Parses one request from the front of `buf` (C tor's `fetch_from_buf_http` and
/// `parse_http_command`). `Ok(None)`: not all here yet. On success, returns the request
/// and the bytes it used. Without `Content-Length` the body is empty.
pub fn parse_request(buf: &[u8], max_body: usize) -> Result<Option<(Request, usize)>, HttpError> {
    let Some(hlen) = header_end(buf)? else {
        return Ok(None);
    };
    let lines = header_lines(buf.get(..hlen - 4).unwrap_or_default())?;
    let start = lines.first().copied().unwrap_or_default();
    let mut parts = start.split_ascii_whitespace();
    let (Some(m), Some(url), Some(ver), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(HttpError::BadStartLine(truncate(start)));
    };
    let method = if m.eq_ignore_ascii_case("GET") {
        Method::Get
    } else if m.eq_ignore_ascii_case("POST") {
        Method::Post
    } else {
        return Err(HttpError::BadMethod(truncate(m)));
    };
    if !(ver == "HTTP/1.0" || ver == "HTTP/1.1") {
        return Err(HttpError::BadStartLine(truncate(start)));
    }
    let path = strip_proxy_prefix(url).to_owned();
    let headers = parse_headers(lines.get(1..).unwrap_or_default())?;
    let body_len = content_length(&headers)?.unwrap_or(0);
    if body_len > max_body {
        return Err(HttpError::BodyTooLarge(max_body));
    }
    let total = hlen.saturating_add(body_len);
    let Some(body) = buf.get(hlen..total) else {
        return Ok(None);
    };
    let req = Request {
        method,
        path,
        headers,
        body: body.to_vec(),
    };
    Ok(Some((req, total)))
}

/// Skips a proxy-style `http[s]://hostname` before the path, as C tor does.
fn strip_proxy_prefix(url: &str) -> &str {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest.and_then(|r| r.find('/').map(|i| (r, i))) {
        Some((r, i)) => r.get(i..).unwrap_or(url),
        None => url,
    }
}

impl Request {
    /// A GET for `path`, with the headers C tor's client sends: `Host` and our
    /// `Accept-Encoding`.
    pub fn get(path: &str, host: &str) -> Request {
        Request {
            method: Method::Get,
            path: path.to_owned(),
            headers: vec![
                ("Host".into(), host.to_owned()),
                ("Accept-Encoding".into(), OUR_ACCEPT_ENCODING.into()),
            ],
            body: Vec::new(),
        }
    }

    /// A POST of `body` to `path` (C tor's uploads: `Host`, `Accept-Encoding`, then
    /// `Content-Length`).
    pub fn post(path: &str, host: &str, body: Vec<u8>) -> Request {
        let mut r = Request::get(path, host);
        r.method = Method::Post;
        r.body = body;
        r
    }

    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// The request's bytes. `Content-Length` is added for POSTs (and any body) unless
    /// present, as C tor does.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("{} {} HTTP/1.0\r\n", self.method.as_str(), self.path).into_bytes();
        for (n, v) in &self.headers {
            out.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
        }
        if (self.method == Method::Post || !self.body.is_empty())
            && self.header("Content-Length").is_none()
        {
            out.extend_from_slice(format!("Content-Length: {}\r\n", self.body.len()).as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out
    }
}

/// An HTTP/1.0 response (dir-spec §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code (200, 404, ...).
    pub status: u16,
    /// The reason phrase (C tor puts an authority's rejection reason here).
    pub reason: String,
    /// Headers in order.
    pub headers: Vec<(String, String)>,
    /// The body (decompressed by [`parse_response`]; as given to [`Response::to_bytes`]).
    pub body: Vec<u8>,
}

impl Response {
    /// A response with no body (C tor's `write_short_http_response`).
    pub fn short(status: u16, reason: &str) -> Response {
        Response {
            status,
            reason: reason.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// The response's bytes: status line, headers, blank line, body as is.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("HTTP/1.0 {} {}\r\n", self.status, self.reason).into_bytes();
        for (n, v) in &self.headers {
            out.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out
    }
}

/// Parses a whole response (read to end-of-file) and decompresses its body, which may be
/// at most `max_body` bytes both before and after decompression (C tor's
/// `parse_http_response` and `dir_client_decompress_response_body`).
pub fn parse_response(buf: &[u8], max_body: usize) -> Result<Response, HttpError> {
    // C tor tolerates leading whitespace.
    let skip = buf.iter().take_while(|b| b.is_ascii_whitespace()).count();
    let buf = buf.get(skip..).unwrap_or_default();
    let Some(hlen) = header_end(buf)? else {
        // A short response may end at EOF right after the status line and headers.
        return Err(HttpError::Truncated);
    };
    let lines = header_lines(buf.get(..hlen - 4).unwrap_or_default())?;
    let start = lines.first().copied().unwrap_or_default();
    let (status, reason) = parse_status_line(start)?;
    let headers = parse_headers(lines.get(1..).unwrap_or_default())?;
    let mut body = buf.get(hlen..).unwrap_or_default();
    if let Some(n) = content_length(&headers)? {
        body = body.get(..n).unwrap_or(body);
    }
    if body.len() > max_body {
        return Err(HttpError::BodyTooLarge(max_body));
    }
    let body = match header(&headers, "Content-Encoding") {
        None | Some("") => {
            if looks_zlib(body) {
                inflate(body, max_body).unwrap_or_else(|_| body.to_vec())
            } else {
                body.to_vec()
            }
        }
        Some(enc) => match Encoding::from_name(enc) {
            Some(Encoding::Identity) => body.to_vec(),
            Some(Encoding::Deflate) => inflate(body, max_body)?,
            Some(Encoding::Gzip) => gunzip(body, max_body)?,
            _ => return Err(HttpError::UnsupportedEncoding(truncate(enc))),
        },
    };
    Ok(Response {
        status,
        reason,
        headers,
        body,
    })
}

/// `HTTP/1.x NNN reason` (C tor: minor version 0 or 1, code 100..599, reason optional).
fn parse_status_line(line: &str) -> Result<(u16, String), HttpError> {
    let bad = || HttpError::BadStartLine(truncate(line));
    let rest = line
        .strip_prefix("HTTP/1.0 ")
        .or_else(|| line.strip_prefix("HTTP/1.1 "))
        .ok_or_else(bad)?
        .trim_start();
    let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let status: u16 = code.parse().map_err(|_| bad())?;
    if !(100..600).contains(&status) {
        return Err(bad());
    }
    Ok((status, reason.trim().to_owned()))
}

const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Formats a time as C tor's `format_rfc1123_time`: `Sat, 21 Nov 2026 11:29:06 GMT`.
pub fn format_http_time(unix: u64) -> String {
    let iso = crate::dir::doc::token::format_time(unix); // YYYY-MM-DD HH:MM:SS
    let wd = WEEKDAYS
        .get(usize::try_from((unix / 86_400) % 7).unwrap_or(0))
        .copied()
        .unwrap_or("Thu");
    let month = iso
        .get(5..7)
        .and_then(|m| m.parse::<usize>().ok())
        .and_then(|m| MONTHS.get(m.wrapping_sub(1)))
        .copied()
        .unwrap_or("Jan");
    format!(
        "{wd}, {} {month} {} {} GMT",
        iso.get(8..10).unwrap_or("01"),
        iso.get(0..4).unwrap_or("1970"),
        iso.get(11..19).unwrap_or("00:00:00")
    )
}

/// Parses an RFC 1123 date (`Sun, 06 Nov 1994 08:49:37 GMT`); `None` if malformed (C tor
/// then acts as if the header were absent).
pub fn parse_http_time(s: &str) -> Option<u64> {
    let mut it = s.split_ascii_whitespace();
    let (_wd, day, mon, year, time, gmt) = (
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
    );
    if gmt != "GMT" || it.next().is_some() {
        return None;
    }
    let m = MONTHS.iter().position(|x| *x == mon)? + 1;
    let day: u32 = day.parse().ok()?;
    let year: u32 = year.parse().ok()?;
    crate::dir::doc::token::parse_time(&format!("{year:04}-{m:02}-{day:02}"), time)
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
