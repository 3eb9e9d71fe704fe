#![no_main]
//! Fuzz the directory authority's small parsers: its shared-random state file, its
//! key-pinning file and router-set option values. Whatever parses must survive a write and
//! re-read unchanged.
use libfuzzer_sys::fuzz_target;
use oniongate::dirauth::accept::KeyPins;
use oniongate::dirauth::routerset::RouterSet;
use oniongate::dirauth::sr::SrState;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(st) = SrState::from_text(text) {
        let again = SrState::from_text(&st.to_text()).expect("written state re-reads");
        assert_eq!(again, st);
    }
    if let Ok(p) = KeyPins::from_text(text) {
        let again = KeyPins::from_text(&p.to_text()).expect("written pins re-read");
        assert_eq!(again, p);
    }
    let _ = RouterSet::parse(text);
});
