//! Fuzzes the authority key certificate parser (`AuthCert::parse`, `parse_many`,
//! `split_certs`) with arbitrary bytes (lossy UTF-8). Checks: nothing panics; a certificate
//! that parses parses again from its stored text to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oniongate::dir::doc::authcert::{split_certs, AuthCert};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(c) = AuthCert::parse(&text) {
        assert_eq!(AuthCert::parse(&c.text).ok(), Some(c));
    }
    if let Ok(all) = AuthCert::parse_many(&text) {
        assert_eq!(split_certs(&text).map(|v| v.len()).ok(), Some(all.len()));
    }
});
