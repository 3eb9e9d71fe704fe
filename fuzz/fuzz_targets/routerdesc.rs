#![no_main]
//! Fuzz the router-descriptor parser (dir-spec §2.1.1) and the `/tor/server/all` splitter:
//! any text, checked at a fixed time. Whatever parses must have verified, so its digest is
//! the SHA-1 of its text through `router-signature\n`, and its microdescriptor must parse.
use libfuzzer_sys::fuzz_target;
use oniongate::dir::doc::microdesc::{microdesc_text, Microdesc};
use oniongate::dir::doc::routerdesc::{split_descriptors, RouterDescriptor};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for d in split_descriptors(text) {
        if let Ok(desc) = RouterDescriptor::parse(d, 1_700_000_000) {
            let md = microdesc_text(&desc);
            let parsed = Microdesc::parse_many(&md).expect("our microdescriptors parse");
            assert_eq!(parsed.len(), 1);
        }
    }
    let _ = RouterDescriptor::parse(text, 1_700_000_000);
});
