#![no_main]
// Placeholder: the owner of this parser fills in the target.
use libfuzzer_sys::fuzz_target;
fuzz_target!(|_data: &[u8]| {});
