//! Fuzzes the SOCKS server handshake (`oniongate::socks::Handshake`) and the client-side
//! reply parser. The first byte picks how input is split into reads (1..=32 bytes at a
//! time). Checks: nothing panics; every step consumes a non-zero amount no larger than the
//! buffer; the buffer never exceeds one message plus one read; the same input fed in one
//! piece ends the same way (same request or same rejection), so parsing does not depend on
//! how bytes arrive.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oniongate::socks::{client::parse_reply5, Handshake, Rejection, SocksRequest, Step};

/// Feeds `data` `chunk` bytes at a time; returns the replies sent and how it ended.
fn run(data: &[u8], chunk: usize) -> (Vec<u8>, Option<Result<SocksRequest, Rejection>>) {
    let mut hs = Handshake::new();
    let mut buf = Vec::new();
    let mut out = Vec::new();
    let mut fed = 0;
    loop {
        match hs.handle(&buf) {
            Ok(Step::NeedMore) => {
                if fed >= data.len() {
                    return (out, None);
                }
                let end = (fed + chunk).min(data.len());
                buf.extend_from_slice(&data[fed..end]);
                fed = end;
            }
            Ok(Step::Continue { consumed, reply }) => {
                assert!(consumed > 0 && consumed <= buf.len());
                buf.drain(..consumed);
                out.extend(reply);
            }
            Ok(Step::Finished { consumed, request }) => {
                assert!(consumed > 0 && consumed <= buf.len());
                return (out, Some(Ok(request)));
            }
            Err(r) => return (out, Some(Err(r))),
        }
        assert!(buf.len() <= 513 + chunk, "buffer grew to {}", buf.len());
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(first % 32) + 1;
    let (out_a, end_a) = run(rest, chunk);
    let (out_b, end_b) = run(rest, rest.len().max(1));
    // Byte-splitting never changes the outcome.
    assert_eq!(end_a, end_b);
    if end_a.is_some() {
        assert_eq!(out_a, out_b);
    }
    let _ = parse_reply5(data);
});
