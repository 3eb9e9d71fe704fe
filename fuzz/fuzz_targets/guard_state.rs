#![no_main]
//! Fuzz the guard state text parser (`client::guards::GuardState::from_text`): whatever
//! parses re-serialises to text that parses to the same state.
use libfuzzer_sys::fuzz_target;
use oniongate::client::guards::GuardState;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(state) = GuardState::from_text(text) {
        let again = GuardState::from_text(&state.to_text()).expect("our own text parses");
        assert_eq!(again.to_text(), state.to_text());
    }
});
