//! Unit tests: every message, every reply code, byte-at-a-time feeding, proptest round trips
//! and "never panics" on garbage.

#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use proptest::prelude::*;

use super::client::{greeting, parse_reply5, request4, request5, userpass, Reply5};
use super::*;
use crate::config::{ListenAddr, SocksPortConfig};
use crate::relaycell::EndReason;

/// Feeds `input` in one go; returns the replies sent, then the request or the rejection and
/// the bytes left over.
/// Replies sent, then the request and the leftover bytes, or the rejection.
type Outcome = (Vec<u8>, Result<(SocksRequest, Vec<u8>), Rejection>);

fn run(input: &[u8]) -> Outcome {
    run_split(input, input.len().max(1))
}

/// Feeds `input` `chunk` bytes at a time.
fn run_split(input: &[u8], chunk: usize) -> Outcome {
    let mut hs = Handshake::new();
    let mut buf = Vec::new();
    let mut out = Vec::new();
    let mut fed = 0;
    loop {
        match hs.handle(&buf) {
            Ok(Step::NeedMore) => {
                assert!(fed < input.len(), "needs more than the whole input");
                let end = (fed + chunk).min(input.len());
                buf.extend_from_slice(&input[fed..end]);
                fed = end;
            }
            Ok(Step::Continue { consumed, reply }) => {
                assert!(consumed > 0 && consumed <= buf.len());
                buf.drain(..consumed);
                out.extend(reply);
            }
            Ok(Step::Finished { consumed, request }) => {
                buf.drain(..consumed);
                buf.extend_from_slice(&input[fed..]);
                assert!(hs.is_done());
                return (out, Ok((request, buf)));
            }
            Err(r) => {
                assert!(hs.is_done());
                return (out, Err(r));
            }
        }
    }
}

fn dom(d: &str, p: u16) -> TargetAddr {
    TargetAddr::Domain(d.into(), p)
}

fn ip(s: &str) -> TargetAddr {
    TargetAddr::Ip(s.parse().unwrap())
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

#[test]
fn socks5_no_auth_connect_domain() {
    let input = cat(&[
        &[5, 1, 0],
        &[5, 1, 0, 3, 11],
        b"example.com",
        &[0, 80],
        b"GET /",
    ]);
    for chunk in [1, 2, 3, 7, 1000] {
        let (out, r) = run_split(&input, chunk);
        assert_eq!(out, [5, 0]);
        let (req, rest) = r.unwrap();
        assert_eq!(req.version, SocksVersion::V5);
        assert_eq!(req.command, Command::Connect);
        assert_eq!(req.target, dom("example.com", 80));
        assert_eq!(req.auth, Auth::None);
        assert_eq!(rest, b"GET /", "optimistic data is left over");
    }
}

#[test]
fn socks5_ipv4_and_ipv6() {
    let (_, r) = run(&cat(&[&[5, 1, 0], &[5, 1, 0, 1, 10, 0, 0, 1, 0x1f, 0x90]]));
    assert_eq!(r.unwrap().0.target, ip("10.0.0.1:8080"));
    let mut v6 = vec![5, 1, 0, 5, 1, 0, 4];
    v6.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
    v6.extend_from_slice(&[0, 22]);
    let (_, r) = run(&v6);
    assert_eq!(r.unwrap().0.target, ip("[::1]:22"));
}

#[test]
fn socks5_userpass_preferred_and_any_credentials_accepted() {
    let input = cat(&[
        &[5, 2, 0, 2],
        &userpass(b"alice", b"s3cret"),
        &request5(Command::Connect, &dom("a.b", 443)),
    ]);
    for chunk in [1, 5, 100] {
        let (out, r) = run_split(&input, chunk);
        assert_eq!(out, [5, 2, 1, 0]);
        let req = r.unwrap().0;
        assert_eq!(
            req.auth,
            Auth::UserPass {
                username: b"alice".to_vec(),
                password: b"s3cret".to_vec()
            }
        );
        assert!(
            !format!("{req:?}").contains("alice"),
            "Debug hides credentials"
        );
    }
    // Empty fields are allowed (socks-extensions §1.1).
    let (out, r) = run(&cat(&[
        &[5, 1, 2],
        &[1, 0, 0],
        &request5(Command::Connect, &dom("x", 1)),
    ]));
    assert_eq!(out, [5, 2, 1, 0]);
    assert!(r.is_ok());
}

#[test]
fn socks5_userpass_after_no_auth_is_accepted() {
    let input = cat(&[
        &[5, 1, 0],
        &userpass(b"u", b"p"),
        &request5(Command::Connect, &dom("x.org", 1)),
    ]);
    let (out, r) = run_split(&input, 1);
    assert_eq!(out, [5, 0, 1, 0]);
    assert!(matches!(r.unwrap().0.auth, Auth::UserPass { .. }));
}

#[test]
fn socks5_greeting_failures() {
    let (out, r) = run(&[5, 2, 1, 3]);
    assert!(out.is_empty());
    let r = r.unwrap_err();
    assert_eq!(
        (r.reply, r.error),
        (vec![5, 0xFF], SocksError::NoAcceptableMethod)
    );
    let r = run(&[5, 0]).1.unwrap_err();
    assert_eq!((r.reply, r.error), (vec![], SocksError::NoMethods));
    let r = run(&[5, 1, 2, 2, 0]).1.unwrap_err();
    assert_eq!(r.error, SocksError::BadAuthVersion(2));
    assert_eq!(r.reply, [5, 1, 0, 1, 0, 0, 0, 0, 0, 0]);
}

#[test]
fn socks5_resolve_and_resolve_ptr() {
    let (_, r) = run(&cat(&[
        &[5, 1, 0],
        &request5(Command::Resolve, &dom("torproject.org", 0)),
    ]));
    let req = r.unwrap().0;
    assert_eq!(req.command, Command::Resolve);
    assert!(req.is_resolve());
    let (_, r) = run(&cat(&[
        &[5, 1, 0],
        &request5(Command::ResolvePtr, &ip("1.2.3.4:0")),
    ]));
    assert_eq!(r.unwrap().0.command, Command::ResolvePtr);
    // A hostname field holding an address is fine for RESOLVE_PTR; a name is not.
    let (_, r) = run(&cat(&[
        &[5, 1, 0],
        &request5(Command::ResolvePtr, &dom("[::1]", 0)),
    ]));
    assert_eq!(r.unwrap().0.target, ip("[::1]:0"));
    let r = run(&cat(&[
        &[5, 1, 0],
        &request5(Command::ResolvePtr, &dom("a.com", 0)),
    ]))
    .1
    .unwrap_err();
    assert_eq!(r.error, SocksError::PtrNotAnAddress);
    assert_eq!(r.reply, [5, 8, 0, 1, 0, 0, 0, 0, 0, 0]);
}

#[test]
fn socks5_udp_associate_is_parsed() {
    // PySocks sends the hostname "0" and its local port.
    let (_, r) = run(&cat(&[&[5, 1, 0], &[5, 3, 0, 3, 1, b'0', 0xC8, 0xDB]]));
    let req = r.unwrap().0;
    assert_eq!(req.command, Command::UdpAssociate);
    assert_eq!(req.target, dom("0", 51419));
    assert_eq!(req.reply_unsupported(), [5, 7, 0, 1, 0, 0, 0, 0, 0, 0]);
}

#[test]
fn socks5_request_errors_and_their_replies() {
    let general = vec![5, 1, 0, 1, 0, 0, 0, 0, 0, 0];
    let cases: Vec<(Vec<u8>, SocksError, u8)> = vec![
        (vec![4, 1, 0, 1], SocksError::BadRequestVersion(4), 1),
        (vec![5, 1, 1, 1], SocksError::BadReserved(1), 1),
        (vec![5, 1, 0, 2], SocksError::BadAddressType(2), 8),
        (vec![5, 1, 0, 0xFF], SocksError::BadAddressType(0xFF), 8),
        (
            vec![5, 2, 0, 1],
            SocksError::UnsupportedCommand {
                version: 5,
                command: 2,
            },
            7,
        ),
        (
            vec![5, 0x09, 0, 1],
            SocksError::UnsupportedCommand {
                version: 5,
                command: 9,
            },
            7,
        ),
        (
            cat(&[&[5, 1, 0, 3, 5], b"a b.c", &[0, 80]]),
            SocksError::BadHostname,
            1,
        ),
        (
            cat(&[&[5, 1, 0, 3, 4], b"-a.b", &[0, 80]]),
            SocksError::BadHostname,
            1,
        ),
        (
            cat(&[&[5, 1, 0, 3, 0], &[0, 80]]),
            SocksError::BadHostname,
            1,
        ),
        (
            cat(&[&[5, 1, 0, 3, 3], &[b'a', 0, b'b'], &[0, 80]]),
            SocksError::BadHostname,
            1,
        ),
    ];
    for (req, err, code) in cases {
        let r = run_split(&cat(&[&[5, 1, 0], &req]), 1).1.unwrap_err();
        assert_eq!(r.error, err, "{req:?}");
        let mut want = general.clone();
        want[1] = code;
        assert_eq!(r.reply, want, "{req:?}");
    }
}

#[test]
fn socks4_and_4a() {
    let input = cat(&[&[4, 1, 0, 80, 192, 0, 2, 1], b"user\0", b"data"]);
    for chunk in [1, 3, 100] {
        let (out, r) = run_split(&input, chunk);
        assert!(out.is_empty());
        let (req, rest) = r.unwrap();
        assert_eq!(req.version, SocksVersion::V4);
        assert_eq!(req.target, ip("192.0.2.1:80"));
        assert_eq!(req.auth, Auth::Socks4(b"user".to_vec()));
        assert_eq!(rest, b"data");
    }
    let req4a = request4(Command::Connect, &dom("example.net", 443), b"").unwrap();
    let (req, rest) = run_split(&req4a, 1).1.unwrap();
    assert_eq!(
        (req.target, req.auth, rest),
        (dom("example.net", 443), Auth::None, vec![])
    );
    // RESOLVE with port 0 is allowed.
    let res = request4(Command::Resolve, &dom("example.net", 0), b"").unwrap();
    assert_eq!(run(&res).1.unwrap().0.command, Command::Resolve);
    assert!(request4(Command::Connect, &ip("[::1]:1"), b"").is_none());
}

#[test]
fn socks4_errors() {
    let rej = [0, 91, 0, 0, 0, 0, 0, 0];
    let cases: Vec<(Vec<u8>, SocksError)> = vec![
        (vec![4, 1, 0, 0, 1, 2, 3, 4, 0], SocksError::Socks4Zero),
        (vec![4, 1, 0, 80, 0, 0, 0, 0, 0], SocksError::Socks4Zero),
        (
            vec![4, 2, 0, 80, 1, 2, 3, 4, 0],
            SocksError::UnsupportedCommand {
                version: 4,
                command: 2,
            },
        ),
        (
            vec![4, 0xF1, 0, 80, 1, 2, 3, 4, 0],
            SocksError::UnsupportedCommand {
                version: 4,
                command: 0xF1,
            },
        ),
        (
            cat(&[&[4, 1, 0, 80, 0, 0, 0, 9, 0], b"bad host\0"]),
            SocksError::BadHostname,
        ),
        (
            cat(&[&[4, 1, 0, 80, 1, 2, 3, 4], &[b'u'; 600]]),
            SocksError::TooLong,
        ),
        (
            cat(&[&[4, 1, 0, 80, 0, 0, 0, 1, 0], &[b'h'; 600]]),
            SocksError::TooLong,
        ),
    ];
    for (req, err) in cases {
        let r = run_split(&req, 1).1.unwrap_err();
        assert_eq!((r.reply, r.error), (rej.to_vec(), err));
    }
}

#[test]
fn http_and_unknown_versions() {
    for first in [
        &b"GET / HTTP/1.1\r\n"[..],
        b"POST /",
        b"HEAD /",
        b"CONNECT x:443",
        b"PUT",
    ] {
        let r = run(first).1.unwrap_err();
        assert_eq!(r.error, SocksError::HttpRequest);
        let text = String::from_utf8(r.reply).unwrap();
        assert!(text.starts_with("HTTP/1.0 501 "));
        assert!(text.contains("This is a SOCKS proxy, not an HTTP proxy"));
    }
    let r = run(&[0x16, 3, 1]).1.unwrap_err();
    assert_eq!((r.reply, r.error), (vec![], SocksError::BadVersion(0x16)));
}

#[test]
fn finished_handshake_refuses_more() {
    let mut hs = Handshake::new();
    let req = request4(Command::Connect, &ip("1.2.3.4:5"), b"").unwrap();
    assert!(matches!(hs.handle(&req), Ok(Step::Finished { .. })));
    assert_eq!(hs.handle(&req).unwrap_err().error, SocksError::Finished);
    assert_eq!(Handshake::default().handle(&[]), Ok(Step::NeedMore));
    let mut done = Handshake::new();
    let _ = done.handle(&[9]);
    assert_eq!(done.handle(&[]).unwrap_err().error, SocksError::Finished);
}

#[test]
fn hostnames_and_literals() {
    for ok in [
        "a",
        "a.b",
        "xn--bcher-kva.example",
        "a_b.c",
        "a.b.",
        "3com.net",
        "x-y.z",
    ] {
        assert!(is_valid_hostname(ok), "{ok}");
    }
    for bad in [
        "", ".", "a..b", "-a", "_a.b", "a.-b", "a b", "a/b", "é.com", "a.b..",
    ] {
        assert!(!is_valid_hostname(bad), "{bad}");
    }
    assert_eq!(
        parse_ip_literal("[::1]"),
        Some(IpAddr::V6(Ipv6Addr::LOCALHOST))
    );
    assert_eq!(
        parse_ip_literal("127.0.0.1"),
        Some(IpAddr::V4(Ipv4Addr::LOCALHOST))
    );
    assert_eq!(parse_ip_literal("example.com"), None);
    assert!(dom("abc.onion", 80).is_onion());
    assert!(dom("x.ABC.Onion.", 80).is_onion());
    assert!(!dom("onion", 80).is_onion());
    assert!(!dom("x.onion.com", 80).is_onion());
    assert!(!ip("1.2.3.4:5").is_onion());
    assert_eq!(dom("h", 7).host(), "h");
    assert_eq!(ip("[::1]:7").host(), "::1");
    assert_eq!(ip("[::1]:7").to_string(), "[::1]:7");
}

fn req(version: SocksVersion, command: Command) -> SocksRequest {
    SocksRequest {
        version,
        command,
        target: dom("example.com", 80),
        auth: Auth::None,
    }
}

#[test]
fn replies() {
    let r5 = req(SocksVersion::V5, Command::Connect);
    let r4 = req(SocksVersion::V4, Command::Connect);
    assert_eq!(
        r5.reply_success(unspecified_like(&"127.0.0.1:9".parse().unwrap())),
        [5, 0, 0, 1, 0, 0, 0, 0, 0, 0]
    );
    let v6 = r5.reply_success(unspecified_like(&"[::1]:9".parse().unwrap()));
    assert_eq!(v6.len(), 22);
    assert_eq!(&v6[..4], [5, 0, 0, 4]);
    assert_eq!(
        r4.reply_success("1.2.3.4:5".parse().unwrap()),
        [0, 90, 0, 0, 0, 0, 0, 0]
    );
    assert_eq!(
        r4.reply_error(ReplyCode::CONNECTION_REFUSED),
        [0, 91, 0, 0, 0, 0, 0, 0]
    );
    for code in 0..=255u8 {
        assert_eq!(
            r5.reply_error(ReplyCode(code)),
            [5, code, 0, 1, 0, 0, 0, 0, 0, 0]
        );
    }
    let a4: IpAddr = "192.0.2.7".parse().unwrap();
    let a6: IpAddr = "2001:db8::1".parse().unwrap();
    assert_eq!(
        r5.reply_resolved(&[a6, a4]),
        [5, 0, 0, 1, 192, 0, 2, 7, 0, 0]
    );
    let only6 = r5.reply_resolved(&[a6]);
    assert_eq!(
        parse_reply5(&only6).unwrap().unwrap().0.bind,
        TargetAddr::Ip(SocketAddr::new(a6, 0))
    );
    assert_eq!(r5.reply_resolved(&[]), [5, 4, 0, 1, 0, 0, 0, 0, 0, 0]);
    assert_eq!(r4.reply_resolved(&[a6, a4]), [0, 90, 0, 0, 192, 0, 2, 7]);
    assert_eq!(r4.reply_resolved(&[a6]), [0, 91, 0, 0, 0, 0, 0, 0]);
    let ptr = r5.reply_resolved_ptr("host.example");
    let (Reply5 { code, bind }, n) = parse_reply5(&ptr).unwrap().unwrap();
    assert_eq!(
        (code, bind, n),
        (ReplyCode::SUCCEEDED, dom("host.example", 0), ptr.len())
    );
    assert_eq!(r5.reply_resolved_ptr(""), [5, 4, 0, 1, 0, 0, 0, 0, 0, 0]);
    assert_eq!(r5.reply_resolved_ptr(&"a".repeat(256))[1], 4);
    assert_eq!(r4.reply_resolved_ptr("x")[1], 91);
}

#[test]
fn end_reasons_map_as_c_tor() {
    // reasons.c: stream_end_reason_to_socks5_response.
    let table = [
        (EndReason::MISC, 0x01),
        (EndReason::RESOLVEFAILED, 0x04),
        (EndReason::CONNECTREFUSED, 0x05),
        (EndReason::EXITPOLICY, 0x02),
        (EndReason::DESTROY, 0x01),
        (EndReason::DONE, 0x05),
        (EndReason::TIMEOUT, 0x06),
        (EndReason::NOROUTE, 0x04),
        (EndReason::HIBERNATING, 0x01),
        (EndReason::INTERNAL, 0x01),
        (EndReason::RESOURCELIMIT, 0x01),
        (EndReason::CONNRESET, 0x05),
        (EndReason::TORPROTOCOL, 0x01),
        (EndReason::NOTDIRECTORY, 0x01),
        (EndReason(0), 0x01),
        (EndReason(200), 0x01),
    ];
    for (r, code) in table {
        assert_eq!(end_reason_to_reply(r), ReplyCode(code), "{r:?}");
        for ext in [false, true] {
            assert_eq!(SocksFailure::from(r).reply_code(ext), ReplyCode(code));
        }
    }
    let ours = [
        (SocksFailure::CantAttach, 0x01, 0x01),
        (SocksFailure::Internal, 0x01, 0x01),
        (SocksFailure::Timeout, 0x06, 0x06),
        (SocksFailure::ResolveFailed, 0x04, 0x04),
        (SocksFailure::NetUnreachable, 0x03, 0x03),
        (SocksFailure::NotAllowed, 0x02, 0x02),
        (SocksFailure::OnionUnsupported, 0x04, 0xF0),
        (SocksFailure::Onion(HsError::NotFound), 0x04, 0xF0),
        (SocksFailure::Onion(HsError::Invalid), 0x04, 0xF1),
        (SocksFailure::Onion(HsError::IntroFailed), 0x04, 0xF2),
        (SocksFailure::Onion(HsError::RendFailed), 0x04, 0xF3),
        (SocksFailure::Onion(HsError::MissingClientAuth), 0x01, 0xF4),
        (SocksFailure::Onion(HsError::BadClientAuth), 0x01, 0xF5),
        (SocksFailure::Onion(HsError::BadAddress), 0x01, 0xF6),
        (SocksFailure::Onion(HsError::IntroTimedOut), 0x04, 0xF7),
    ];
    for (f, plain, ext) in ours {
        assert_eq!(f.reply_code(false), ReplyCode(plain), "{f:?}");
        assert_eq!(f.reply_code(true), ReplyCode(ext), "{f:?}");
    }
}

fn port_cfg() -> SocksPortConfig {
    SocksPortConfig {
        addr: ListenAddr::Port {
            addr: None,
            port: 9050,
        },
        isolate_client_addr: true,
        isolate_socks_auth: true,
        isolate_client_protocol: true,
        isolate_dest_port: false,
        isolate_dest_addr: false,
        keep_alive_isolate_socks_auth: false,
        session_group: None,
        extended_errors: false,
        onion_traffic_only: false,
    }
}

fn with_auth(version: SocksVersion, auth: Auth, target: TargetAddr) -> SocksRequest {
    SocksRequest {
        version,
        command: Command::Connect,
        target,
        auth,
    }
}

#[test]
fn isolation_keys() {
    let c1: SocketAddr = "127.0.0.1:5000".parse().unwrap();
    let c2: SocketAddr = "127.0.0.2:5001".parse().unwrap();
    let up = |u: &str, p: &str| Auth::UserPass {
        username: u.into(),
        password: p.into(),
    };
    let cfg = port_cfg();
    let k = |cfg: &SocksPortConfig, idx, v, a: Auth, t: TargetAddr, c| {
        IsolationKey::new(cfg, idx, &with_auth(v, a, t), c)
    };
    let v5 = SocksVersion::V5;
    let base = k(&cfg, 0, v5, up("a", "b"), dom("x.org", 80), c1);
    // Same everything, other source port and destination: same key (defaults).
    assert_eq!(base, k(&cfg, 0, v5, up("a", "b"), dom("y.org", 443), c1));
    assert!(base.compatible(&k(
        &cfg,
        0,
        v5,
        up("a", "b"),
        dom("y.org", 443),
        "127.0.0.1:6000".parse().unwrap()
    )));
    // Credentials differ.
    assert_ne!(base, k(&cfg, 0, v5, up("a", "c"), dom("x.org", 80), c1));
    assert_ne!(base, k(&cfg, 0, v5, up("ab", ""), dom("x.org", 80), c1));
    assert_ne!(base, k(&cfg, 0, v5, Auth::None, dom("x.org", 80), c1));
    // Empty credentials are none; a SOCKS4 id is a username (C tor), protocol aside.
    assert_eq!(
        k(&cfg, 0, v5, up("", ""), dom("x", 1), c1),
        k(&cfg, 0, v5, Auth::None, dom("x", 1), c1)
    );
    let mut noproto = cfg;
    noproto.isolate_client_protocol = false;
    assert_eq!(
        k(
            &noproto,
            0,
            SocksVersion::V4,
            Auth::Socks4(b"a".to_vec()),
            dom("x", 1),
            c1
        ),
        k(&noproto, 0, v5, up("a", ""), dom("x", 1), c1)
    );
    assert_ne!(
        k(
            &cfg,
            0,
            SocksVersion::V4,
            Auth::Socks4(b"a".to_vec()),
            dom("x", 1),
            c1
        ),
        k(&cfg, 0, v5, up("a", ""), dom("x", 1), c1)
    );
    // Client address, listener, session group.
    assert_ne!(base, k(&cfg, 0, v5, up("a", "b"), dom("x.org", 80), c2));
    assert_ne!(base, k(&cfg, 1, v5, up("a", "b"), dom("x.org", 80), c1));
    let mut grouped = cfg;
    grouped.session_group = Some(7);
    assert_eq!(
        k(&grouped, 0, v5, up("a", "b"), dom("x.org", 80), c1),
        k(&grouped, 3, v5, up("a", "b"), dom("x.org", 80), c1)
    );
    // Flags off: auth and client address ignored.
    let mut open = cfg;
    open.isolate_socks_auth = false;
    open.isolate_client_addr = false;
    assert_eq!(
        k(&open, 0, v5, up("a", "b"), dom("x.org", 80), c1),
        k(&open, 0, v5, Auth::None, dom("x.org", 80), c2)
    );
    // Destination flags.
    let mut dest = cfg;
    dest.isolate_dest_addr = true;
    assert_ne!(
        k(&dest, 0, v5, Auth::None, dom("x.org", 80), c1),
        k(&dest, 0, v5, Auth::None, dom("y.org", 80), c1)
    );
    assert_eq!(
        k(&dest, 0, v5, Auth::None, dom("X.org", 80), c1),
        k(&dest, 0, v5, Auth::None, dom("x.org", 443), c1)
    );
    dest.isolate_dest_port = true;
    assert_ne!(
        k(&dest, 0, v5, Auth::None, dom("x.org", 80), c1),
        k(&dest, 0, v5, Auth::None, dom("x.org", 443), c1)
    );
    let dbg = format!("{base:?}");
    assert!(
        !dbg.contains("127.0.0.1") && !dbg.contains("\"a\""),
        "{dbg}"
    );
}

fn arb_target() -> impl Strategy<Value = TargetAddr> {
    let label = "[a-z0-9][a-z0-9_-]{0,20}";
    prop_oneof![
        any::<(u32, u16)>()
            .prop_map(|(a, p)| TargetAddr::Ip(SocketAddr::from((Ipv4Addr::from(a), p)))),
        any::<(u128, u16)>()
            .prop_map(|(a, p)| TargetAddr::Ip(SocketAddr::from((Ipv6Addr::from(a), p)))),
        (proptest::collection::vec(label, 1..6), any::<u16>()).prop_filter_map(
            "not an address",
            |(ls, p)| {
                let d = ls.join(".");
                (d.len() <= 255 && parse_ip_literal(&d).is_none())
                    .then_some(TargetAddr::Domain(d, p))
            }
        ),
    ]
}

proptest! {
    #[test]
    fn socks5_round_trip(
        target in arb_target(),
        cmd in prop_oneof![Just(Command::Connect), Just(Command::Resolve)],
        creds in proptest::option::of((proptest::collection::vec(any::<u8>(), 0..256),
                                       proptest::collection::vec(any::<u8>(), 0..256))),
        extra in proptest::collection::vec(any::<u8>(), 0..64),
        chunk in 1usize..40,
    ) {
        let mut input = match &creds {
            Some((u, p)) => cat(&[&greeting(&[0, 2]), &userpass(u, p)]),
            None => greeting(&[0]),
        };
        input.extend(request5(cmd, &target));
        input.extend(&extra);
        let (out, r) = run_split(&input, chunk);
        let (req, rest) = r.unwrap();
        prop_assert_eq!(req.target, target);
        prop_assert_eq!(req.command, cmd);
        prop_assert_eq!(rest, extra);
        match creds {
            Some((u, p)) => {
                prop_assert_eq!(out, vec![5, 2, 1, 0]);
                prop_assert_eq!(req.auth, Auth::UserPass { username: u, password: p });
            }
            None => prop_assert_eq!(out, vec![5, 0]),
        }
    }

    #[test]
    fn socks4_round_trip(
        target in arb_target().prop_filter("v4 or name", |t| !matches!(t, TargetAddr::Ip(SocketAddr::V6(_)))),
        user in "[a-zA-Z0-9]{0,40}",
        chunk in 1usize..20,
    ) {
        let port_ok = target.port() != 0;
        let addr_ok = !matches!(&target, TargetAddr::Ip(a) if a.ip().is_unspecified()
            || matches!(a.ip(), IpAddr::V4(v) if v.octets()[..3] == [0, 0, 0]));
        prop_assume!(port_ok && addr_ok);
        let input = request4(Command::Connect, &target, user.as_bytes()).unwrap();
        let (req, rest) = run_split(&input, chunk).1.unwrap();
        prop_assert_eq!(req.target, target);
        prop_assert!(rest.is_empty());
        prop_assert_eq!(req.auth == Auth::None, user.is_empty());
    }

    #[test]
    fn reply_round_trip(code in any::<u8>(), bind in arb_target()) {
        let r = req(SocksVersion::V5, Command::Connect);
        let bytes = match &bind {
            TargetAddr::Ip(a) => super::handshake::reply5(ReplyCode(code), *a),
            TargetAddr::Domain(d, _) => r.reply_resolved_ptr(d),
        };
        let (parsed, n) = parse_reply5(&bytes).unwrap().unwrap();
        prop_assert_eq!(n, bytes.len());
        for cut in 0..bytes.len() {
            prop_assert_eq!(parse_reply5(&bytes[..cut]), Ok(None));
        }
        if let TargetAddr::Ip(_) = bind {
            prop_assert_eq!(parsed, Reply5 { code: ReplyCode(code), bind });
        }
    }

    #[test]
    fn never_panics(data in proptest::collection::vec(any::<u8>(), 0..700), chunk in 1usize..50) {
        let mut hs = Handshake::new();
        let mut buf = Vec::new();
        let mut fed = 0;
        for _ in 0..2000 {
            match hs.handle(&buf) {
                Ok(Step::NeedMore) => {
                    if fed >= data.len() { break; }
                    let end = (fed + chunk).min(data.len());
                    buf.extend_from_slice(&data[fed..end]);
                    fed = end;
                }
                Ok(Step::Continue { consumed, .. }) => {
                    prop_assert!(consumed > 0 && consumed <= buf.len());
                    buf.drain(..consumed);
                }
                Ok(Step::Finished { consumed, .. }) => {
                    prop_assert!(consumed <= buf.len());
                    break;
                }
                Err(_) => break,
            }
            prop_assert!(buf.len() <= 1024);
        }
        let _ = parse_reply5(&data);
    }

    #[test]
    fn never_panics_after_greeting(rest in proptest::collection::vec(any::<u8>(), 0..600)) {
        for g in [&[5u8, 1, 0][..], &[5, 1, 2]] {
            run_split_lenient(&cat(&[g, &rest]));
        }
    }
}

/// Feeds everything at once and steps until the handshake stops asking (no assertions).
fn run_split_lenient(input: &[u8]) {
    let mut hs = Handshake::new();
    let mut buf = input.to_vec();
    for _ in 0..1000 {
        match hs.handle(&buf) {
            Ok(Step::Continue { consumed, .. }) => {
                buf.drain(..consumed.min(buf.len()));
            }
            _ => return,
        }
    }
}
