//! Tests for `dir::http`.

use super::*;
use proptest::prelude::*;

/// What C tor's `directory_send_command` sends for a microdescriptor consensus fetch
/// (dirclient.c; authority prefixes as `directory_get_consensus_url` makes them).
const CTOR_GET: &[u8] =
    b"GET /tor/status-vote/current/consensus-microdesc/0232AF+14C131.z HTTP/1.0\r\n\
Host: 127.0.0.1:7000\r\n\
Accept-Encoding: deflate, gzip, identity, x-zstd, x-tor-lzma\r\n\
If-Modified-Since: Sat, 21 Nov 2026 11:00:00 GMT\r\n\r\n";

#[test]
fn parses_a_ctor_get() {
    let (r, used) = parse_request(CTOR_GET, 0).unwrap().unwrap();
    assert_eq!(used, CTOR_GET.len());
    assert_eq!(r.method, Method::Get);
    assert_eq!(
        r.path,
        "/tor/status-vote/current/consensus-microdesc/0232AF+14C131.z"
    );
    assert_eq!(r.header("host"), Some("127.0.0.1:7000"));
    let enc = parse_accept_encoding(r.header("Accept-Encoding").unwrap());
    assert!(enc.contains(&Encoding::Deflate) && enc.contains(&Encoding::Zstd));
    assert_eq!(
        parse_http_time(r.header("If-Modified-Since").unwrap()),
        Some(1_795_258_800)
    );
}

#[test]
fn incomplete_requests_wait() {
    for n in 0..CTOR_GET.len() {
        assert_eq!(parse_request(&CTOR_GET[..n], 0), Ok(None), "at {n}");
    }
    let post = Request::post("/tor/", "h:1", b"router x\n".to_vec()).to_bytes();
    for n in 0..post.len() {
        assert_eq!(parse_request(&post[..n], 100), Ok(None), "at {n}");
    }
    let (r, used) = parse_request(&post, 100).unwrap().unwrap();
    assert_eq!((r.body.as_slice(), used), (&b"router x\n"[..], post.len()));
    assert_eq!(r.header("Content-Length"), Some("9"));
}

#[test]
fn request_caps_and_errors() {
    let post = Request::post("/tor/", "h", vec![b'a'; 101]).to_bytes();
    assert_eq!(parse_request(&post, 100), Err(HttpError::BodyTooLarge(100)));
    let long = vec![b'x'; MAX_HEADERS_SIZE + 1];
    assert_eq!(parse_request(&long, 0), Err(HttpError::HeadersTooLarge));
    assert!(matches!(
        parse_request(b"PUT /tor/ HTTP/1.0\r\n\r\n", 0),
        Err(HttpError::BadMethod(_))
    ));
    assert!(matches!(
        parse_request(b"GET /tor/\r\n\r\n", 0),
        Err(HttpError::BadStartLine(_))
    ));
    assert!(matches!(
        parse_request(b"GET / HTTP/1.0\r\nContent-Length: x\r\n\r\n", 0),
        Err(HttpError::BadHeader(_))
    ));
    assert!(matches!(
        parse_request(b"GET / HTTP/1.0\r\nno colon\r\n\r\n", 0),
        Err(HttpError::BadHeader(_))
    ));
}

#[test]
fn proxy_prefix_is_skipped() {
    let (r, _) = parse_request(b"get http://1.2.3.4:80/tor/keys/all HTTP/1.1\r\n\r\n", 0)
        .unwrap()
        .unwrap();
    assert_eq!((r.method, r.path.as_str()), (Method::Get, "/tor/keys/all"));
}

#[test]
fn get_encodes_like_ctor() {
    let r = Request::get("/tor/server/authority.z", "10.0.0.1:9030");
    assert_eq!(
        r.to_bytes(),
        b"GET /tor/server/authority.z HTTP/1.0\r\nHost: 10.0.0.1:9030\r\n\
Accept-Encoding: deflate, gzip, identity\r\n\r\n"
    );
}

#[test]
fn responses_decompress() {
    let text = b"router a\nrouter b\n".repeat(50);
    let mut r = Response {
        status: 200,
        reason: "OK".into(),
        headers: vec![
            ("Content-Type".into(), "text/plain".into()),
            ("Content-Encoding".into(), "deflate".into()),
        ],
        body: deflate(&text),
    };
    let got = parse_response(&r.to_bytes(), 1 << 20).unwrap();
    assert_eq!((got.status, got.body.as_slice()), (200, text.as_slice()));
    // Unlabelled zlib is sniffed, as C tor's client does.
    r.headers.pop();
    assert_eq!(parse_response(&r.to_bytes(), 1 << 20).unwrap().body, text);
    // Identity.
    r.body = text.clone();
    assert_eq!(parse_response(&r.to_bytes(), 1 << 20).unwrap().body, text);
    // gzip.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &text).unwrap();
    r.body = gz.finish().unwrap();
    r.headers.push(("Content-Encoding".into(), "gzip".into()));
    assert_eq!(parse_response(&r.to_bytes(), 1 << 20).unwrap().body, text);
}

#[test]
fn short_responses_and_reasons() {
    let got = parse_response(
        b"HTTP/1.0 400 Fingerprint is marked rejected -- if you think this is a mistake please set a valid email address in ContactInfo and send an email to bad-relays@lists.torproject.org mentioning your fingerprint(s)?\r\n\r\n",
        10,
    )
    .unwrap();
    assert_eq!(got.status, 400);
    assert!(got.reason.starts_with("Fingerprint is marked rejected"));
    let got = parse_response(b"HTTP/1.0 404 Not found\r\nDate: x\r\n\r\n", 0).unwrap();
    assert_eq!((got.status, got.reason.as_str()), (404, "Not found"));
    assert_eq!(
        parse_response(b"HTTP/1.0 200 OK\r\n", 0),
        Err(HttpError::Truncated)
    );
    assert!(parse_response(b"HTTP/2 200 OK\r\n\r\n", 0).is_err());
    assert!(parse_response(b"HTTP/1.0 99 X\r\n\r\n", 0).is_err());
    assert!(matches!(
        parse_response(
            b"HTTP/1.0 200 OK\r\nContent-Encoding: x-zstd\r\n\r\nabc",
            10
        ),
        Err(HttpError::UnsupportedEncoding(_))
    ));
}

#[test]
fn zip_bombs_are_cut_off() {
    let bomb = deflate(&vec![0u8; 1 << 20]);
    assert!(bomb.len() < 5000);
    let r = Response {
        status: 200,
        reason: "OK".into(),
        headers: vec![("Content-Encoding".into(), "deflate".into())],
        body: bomb.clone(),
    };
    assert_eq!(
        parse_response(&r.to_bytes(), 100_000),
        Err(HttpError::BodyTooLarge(100_000))
    );
    assert_eq!(inflate(&bomb, 1 << 20).unwrap().len(), 1 << 20);
    assert_eq!(
        inflate(&bomb, (1 << 20) - 1),
        Err(HttpError::BodyTooLarge((1 << 20) - 1))
    );
    // Raw bodies are capped too.
    let r = Response::short(200, "OK");
    let mut bytes = r.to_bytes();
    bytes.extend_from_slice(&[b'a'; 11]);
    assert_eq!(parse_response(&bytes, 10), Err(HttpError::BodyTooLarge(10)));
    assert_eq!(
        inflate(b"\x78\x9cgarbage", 10),
        Err(HttpError::Decompress("deflate"))
    );
}

#[test]
fn http_times() {
    assert_eq!(format_http_time(0), "Thu, 01 Jan 1970 00:00:00 GMT");
    assert_eq!(
        format_http_time(784_111_777),
        "Sun, 06 Nov 1994 08:49:37 GMT"
    );
    assert_eq!(
        parse_http_time("Sun, 06 Nov 1994 08:49:37 GMT"),
        Some(784_111_777)
    );
    assert_eq!(parse_http_time("Sun, 06 Nov 1994 08:49:37"), None);
    assert_eq!(parse_http_time("Sun, 36 Nov 1994 08:49:37 GMT"), None);
}

proptest! {
    #[test]
    fn request_round_trip(path in "/[a-zA-Z0-9/+.-]{0,60}", body in proptest::collection::vec(any::<u8>(), 0..300),
                          hv in "[ -~]{0,40}", post in any::<bool>()) {
        let mut r = if post { Request::post(&path, "h:1", body) } else { Request::get(&path, "h:1") };
        r.headers.push(("X-Test".into(), hv.trim().to_owned()));
        let bytes = r.to_bytes();
        let (got, used) = parse_request(&bytes, 1000).unwrap().unwrap();
        prop_assert_eq!(used, bytes.len());
        prop_assert_eq!(&got.path, &r.path);
        prop_assert_eq!(&got.body, &r.body);
        prop_assert_eq!(got.header("X-Test"), r.header("X-Test"));
    }

    #[test]
    fn response_round_trip(status in 100u16..600, reason in "[a-zA-Z][ -~]{0,40}", body in proptest::collection::vec(any::<u8>(), 0..2000), z in any::<bool>()) {
        let mut r = Response::short(status, reason.trim());
        if z {
            r.headers.push(("Content-Encoding".into(), "deflate".into()));
            r.body = deflate(&body);
        } else {
            r.headers.push(("Content-Encoding".into(), "identity".into()));
            r.body = body.clone();
        }
        let got = parse_response(&r.to_bytes(), 4000).unwrap();
        prop_assert_eq!(got.status, status);
        prop_assert_eq!(got.reason.as_str(), reason.trim());
        prop_assert_eq!(got.body, body);
    }

    #[test]
    fn never_panics(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = parse_request(&data, 100);
        let _ = parse_response(&data, 100);
        let _ = inflate(&data, 100);
        let _ = gunzip(&data, 100);
    }

    #[test]
    fn never_panics_on_texty_input(s in "(GET|POST|HTTP/1.0|[ :\r\na-z0-9/])*") {
        let _ = parse_request(s.as_bytes(), 100);
        let _ = parse_response(s.as_bytes(), 100);
        let _ = parse_http_time(&s);
    }

    #[test]
    fn http_time_round_trip(t in 0u64..4_000_000_000) {
        prop_assert_eq!(parse_http_time(&format_http_time(t)), Some(t));
    }
}
