#![no_main]
//! Fuzz the microdescriptor parser (dir-spec §1.3 microdescriptor format): any text. Every
//! microdescriptor returned re-parses alone to itself (same text and digest).
use libfuzzer_sys::fuzz_target;
use oniongate::dir::doc::microdesc::Microdesc;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(mds) = Microdesc::parse_many(text) {
        for md in mds {
            let again = Microdesc::parse_many(&md.text).expect("a parsed microdescriptor re-parses");
            assert_eq!(again.len(), 1);
            assert_eq!(again[0], md);
        }
    }
});
