//! Tests for `dir::serve`.

use super::*;
use crate::dir::http::{parse_response, Request};
use proptest::prelude::*;

fn get(path: &str) -> DirRequest {
    DirRequest::from_http(&Request::get(path, "h")).unwrap()
}

fn get_err(path: &str) -> DirAnswer {
    DirRequest::from_http(&Request::get(path, "h")).unwrap_err()
}

const FP1: &str = "0232AF901C31A04EE9848595AF9BB7620D4C5B2E";
const FP2: &str = "14C131DFC5C6F93646BE72FA1401C02A8DF2E8B4";

fn rsa(h: &str) -> RsaIdentity {
    RsaIdentity::from_hex(h).unwrap()
}

#[test]
fn consensus_urls() {
    assert_eq!(
        get("/tor/status-vote/current/consensus-microdesc/0232AF+14C131.z"),
        DirRequest::Consensus {
            flavor: Flavor::Microdesc,
            authorities: vec!["0232AF".into(), "14C131".into()],
            diff_from: vec![],
            diff_only: false,
            if_modified_since: None,
        }
    );
    let DirRequest::Consensus {
        flavor,
        authorities,
        ..
    } = get("/tor/status-vote/current/consensus")
    else {
        panic!()
    };
    assert_eq!((flavor, authorities.len()), (Flavor::Ns, 0));
    // Unknown flavors mean ns, as in C tor.
    assert!(matches!(
        get("/tor/status-vote/current/consensus-bogus.z"),
        DirRequest::Consensus {
            flavor: Flavor::Ns,
            ..
        }
    ));
    let h = "ab".repeat(32);
    let DirRequest::Consensus {
        diff_from,
        diff_only,
        authorities,
        ..
    } = get(&format!(
        "/tor/status-vote/current/consensus-microdesc/diff/{h}/0232AF.z"
    ))
    else {
        panic!()
    };
    assert_eq!(
        (diff_from, diff_only, authorities),
        (vec![[0xab; 32]], true, vec!["0232AF".into()])
    );
    assert_eq!(
        get_err("/tor/status-vote/current/consensus/diff/zz"),
        DirAnswer::status(404, "Couldn't parse request")
    );
    let mut r = Request::get("/tor/status-vote/current/consensus-microdesc.z", "h");
    r.headers.push((
        "X-Or-Diff-From-Consensus".into(),
        format!("{h} junk {}", "01".repeat(32)),
    ));
    r.headers.push((
        "If-Modified-Since".into(),
        "Sun, 06 Nov 1994 08:49:37 GMT".into(),
    ));
    let DirRequest::Consensus {
        diff_from,
        diff_only,
        if_modified_since,
        ..
    } = DirRequest::from_http(&r).unwrap()
    else {
        panic!()
    };
    assert_eq!(diff_from, vec![[0xab; 32], [0x01; 32]]);
    assert!(!diff_only);
    assert_eq!(if_modified_since, Some(784_111_777));
    assert_eq!(
        get("/tor/status-vote/next/consensus-signatures.z"),
        DirRequest::StatusVote("next/consensus-signatures".into())
    );
    assert_eq!(
        get("/tor/status-vote/current/authority.z"),
        DirRequest::StatusVote("current/authority".into())
    );
}

#[test]
fn key_and_descriptor_urls() {
    assert_eq!(get("/tor/keys/all.z"), DirRequest::KeysAll);
    assert_eq!(get("/tor/keys/authority"), DirRequest::KeysAuthority);
    assert_eq!(
        get(&format!("/tor/keys/fp/{FP2}+{FP1}+{FP2}+junk.z")),
        DirRequest::KeysFp(vec![rsa(FP1), rsa(FP2)])
    );
    assert_eq!(
        get(&format!("/tor/keys/sk/{FP1}")),
        DirRequest::KeysSk(vec![rsa(FP1)])
    );
    assert_eq!(
        get(&format!("/tor/keys/fp-sk/{FP1}-{FP2}+{FP1}{FP2}+x-y.z")),
        DirRequest::KeysFpSk(vec![(rsa(FP1), rsa(FP2))])
    );
    assert_eq!(get_err("/tor/keys/what"), DirAnswer::bad_request());
    assert_eq!(get("/tor/server/authority.z"), DirRequest::ServerAuthority);
    assert_eq!(get("/tor/server/all"), DirRequest::ServerAll);
    assert_eq!(
        get(&format!("/tor/server/fp/{FP1}")),
        DirRequest::ServerFp(vec![rsa(FP1)])
    );
    assert_eq!(
        get(&format!("/tor/server/d/{FP1}.z")),
        DirRequest::ServerD(vec![rsa(FP1).0])
    );
    assert_eq!(get("/tor/extra/all"), DirRequest::ExtraAll);
    assert_eq!(
        get(&format!("/tor/extra/d/{FP2}")),
        DirRequest::ExtraD(vec![rsa(FP2).0])
    );
    assert_eq!(get_err("/tor/server/other"), DirAnswer::not_found());
    let d1 = crate::dir::doc::token::b64_nopad(&[1; 32]);
    let d2 = crate::dir::doc::token::b64_nopad(&[2; 32]);
    assert_eq!(
        get(&format!("/tor/micro/d/{d2}-{d1}-short-{d2}.z")),
        DirRequest::Micro(vec![[1; 32], [2; 32]])
    );
    assert_eq!(get("/tor/hs/3/abc"), DirRequest::HsDesc("abc".into()));
    assert_eq!(get("/tor/"), DirRequest::Frontpage);
    assert_eq!(get("/robots.txt"), DirRequest::Robots);
    // URLs without /tor/ get it prefixed.
    assert_eq!(get("/server/all"), DirRequest::ServerAll);
    assert_eq!(get_err("/tor/unknown"), DirAnswer::not_found());
}

#[test]
fn posts() {
    let p = |path: &str| DirRequest::from_http(&Request::post(path, "h", b"x".to_vec()));
    assert_eq!(p("/tor/"), Ok(DirRequest::Upload(b"x".to_vec())));
    assert_eq!(p("/tor/post/vote"), Ok(DirRequest::PostVote(b"x".to_vec())));
    assert_eq!(
        p("/tor/post/consensus-signature"),
        Ok(DirRequest::PostSignatures(b"x".to_vec()))
    );
    assert_eq!(
        p("/tor/hs/3/publish"),
        Ok(DirRequest::PostHsDesc {
            version: 3,
            body: b"x".to_vec()
        })
    );
    assert_eq!(
        p("/tor/hs/x/publish").unwrap_err().clone(),
        DirAnswer::status(400, "Invalid HS descriptor. Rejected.")
    );
    assert_eq!(p("/tor/other"), Err(DirAnswer::not_found()));
}

#[test]
fn likes_consensus() {
    let signers = [rsa(FP1), rsa(FP2)];
    let w = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert!(client_likes_consensus(&signers, &[]));
    assert!(client_likes_consensus(
        &signers,
        &w(&["0232af", "14C131", "FFFFFF"])
    ));
    assert!(!client_likes_consensus(
        &signers,
        &w(&["0232AF", "EEEEEE", "FFFFFF"])
    ));
    assert!(client_likes_consensus(&signers, &w(&["0232A"])));
}

struct Test;
impl DirSource for Test {
    fn get(&self, req: &DirRequest) -> DirAnswer {
        match req {
            DirRequest::ServerAuthority => DirAnswer::document(&b"router test\n"[..], 0),
            DirRequest::KeysAll => DirAnswer::document(&b""[..], 60),
            DirRequest::Consensus { .. } => {
                DirAnswer::document(&b"network-status-version 3\n"[..], 300)
            }
            _ => DirAnswer::not_found(),
        }
    }
    fn upload(&self, body: &[u8]) -> DirAnswer {
        if body.starts_with(b"router ") {
            DirAnswer::status(200, "Descriptor accepted")
        } else {
            DirAnswer::status(400, "Rejected:\r\nno router line")
        }
    }
}

#[test]
fn answers_like_ctor() {
    let ctx = AnswerContext {
        now: Some(784_111_777),
        peer: Some("8.8.8.8".parse().unwrap()),
    };
    let mut req = Request::get("/tor/server/authority", "h");
    req.headers.retain(|(n, _)| n != "Accept-Encoding");
    let out = answer_with(&Test, &req, &ctx);
    let text = String::from_utf8(out.clone()).unwrap();
    assert_eq!(
        text,
        "HTTP/1.0 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nContent-Type: text/plain\r\n\
X-Your-Address-Is: 8.8.8.8\r\nContent-Encoding: identity\r\nContent-Length: 12\r\n\
Pragma: no-cache\r\n\r\nrouter test\n"
    );
    // .z: deflate.
    let out = answer(&Test, &Request::get("/tor/server/authority.z", "h"));
    let r = parse_response(&out, 1000).unwrap();
    assert_eq!(
        (r.header("Content-Encoding"), r.body.as_slice()),
        (Some("deflate"), &b"router test\n"[..])
    );
    // Accept-Encoding with deflate: deflate; without: identity.
    let out = answer(
        &Test,
        &Request::get("/tor/status-vote/current/consensus-microdesc", "h"),
    );
    let r = parse_response(&out, 1000).unwrap();
    assert_eq!(r.header("Content-Encoding"), Some("deflate"));
    assert_eq!(r.header("Vary"), Some("X-Or-Diff-From-Consensus"));
    let mut req = Request::get("/tor/status-vote/current/consensus-microdesc", "h");
    req.headers[1].1 = "x-zstd, x-tor-lzma".into();
    let r = parse_response(&answer_with(&Test, &req, &ctx), 1000).unwrap();
    assert_eq!(r.header("Content-Encoding"), Some("identity"));
    assert_eq!(r.header("Expires"), Some("Sun, 06 Nov 1994 08:54:37 GMT"));
    // Private peers are not told their address.
    let ctx2 = AnswerContext {
        now: None,
        peer: Some("127.0.0.1".parse().unwrap()),
    };
    let r = parse_response(&answer_with(&Test, &req, &ctx2), 1000).unwrap();
    assert_eq!(r.header("X-Your-Address-Is"), None);
    // Empty documents, unknown paths, bad requests.
    assert_eq!(
        answer(&Test, &Request::get("/tor/keys/all", "h")),
        b"HTTP/1.0 404 Not found\r\n\r\n"
    );
    assert_eq!(
        answer(&Test, &Request::get("/tor/nothing", "h")),
        b"HTTP/1.0 404 Not found\r\n\r\n"
    );
    assert_eq!(
        answer(&Test, &Request::get("/tor/keys/x", "h")),
        b"HTTP/1.0 400 Bad request\r\n\r\n"
    );
    let r = parse_response(&answer(&Test, &Request::get("/robots.txt", "h")), 100).unwrap();
    assert_eq!(r.body, b"User-agent: *\r\nDisallow: /\r\n");
    // Uploads: the reason goes into the status line, cleaned of control characters.
    let out = answer(&Test, &Request::post("/tor/", "h", b"router x".to_vec()));
    assert_eq!(out, b"HTTP/1.0 200 Descriptor accepted\r\n\r\n");
    let out = answer_with(&Test, &Request::post("/tor/", "h", b"junk".to_vec()), &ctx);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "HTTP/1.0 400 Rejected:  no router line\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n"
    );
    assert_eq!(
        answer(&NoDocuments, &Request::post("/tor/", "h", vec![])),
        b"HTTP/1.0 400 Nonauthoritative directory does not accept posted server descriptors\r\n\r\n"
    );
}

proptest! {
    #[test]
    fn never_panics(path in "(/tor/|/|[a-z/.+-]|status-vote/current/consensus|keys/|fp-sk/|micro/d/|server/|diff/|[0-9A-F]{40}|[A-Za-z0-9+/]{43})*",
                    post in any::<bool>(), hdr in "[ -~]{0,80}") {
        let mut r = if post { Request::post(&path, "h", vec![1, 2]) } else { Request::get(&path, "h") };
        r.headers.push(("X-Or-Diff-From-Consensus".into(), hdr.clone()));
        r.headers.push(("If-Modified-Since".into(), hdr));
        let _ = DirRequest::from_http(&r);
        let _ = answer_with(&Test, &r, &AnswerContext { now: Some(1), peer: None });
    }
}
