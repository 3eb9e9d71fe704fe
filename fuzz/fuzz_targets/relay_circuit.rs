#![no_main]
//! Fuzz target for the relay-side circuit layer: arbitrary sequences of circuit cells
//! (CREATE*, CREATED2, RELAY, RELAY_EARLY, DESTROY, including relay cells our own CREATE_FAST
//! hop encrypted so that the recognised path sees garbage) and runtime events (handshake
//! results, extend answers, stream callbacks, channel closes). The driver
//! (`oniongate::circuit::fuzzing::run`) asserts after each step that every table stays
//! within its cap; any panic is a bug.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    oniongate::circuit::fuzzing::run(data);
});
