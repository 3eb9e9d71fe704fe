#![no_main]
//! Arbitrary strings into the onion-address parsers. Whatever parses must re-encode to the
//! canonical `<56 lower-case base32>.onion` form and re-parse to the same identity.
use libfuzzer_sys::fuzz_target;
use oniongate::hs::HsId;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = [
        s.parse::<HsId>().ok(),
        HsId::parse_hostname(s).ok().map(|(id, _)| id),
        HsId::from_base32(s).ok(),
    ];
    for id in parsed.into_iter().flatten() {
        let canonical = id.to_string();
        assert_eq!(canonical.len(), 62);
        assert!(canonical.ends_with(".onion"));
        assert!(!canonical.bytes().any(|b| b.is_ascii_uppercase()));
        assert_eq!(canonical.parse::<HsId>(), Ok(id));
        assert_eq!(HsId::parse_hostname(&canonical), Ok((id, None)));
        assert_eq!(HsId::from_bytes(*id.as_bytes()), Ok(id));
    }
});
