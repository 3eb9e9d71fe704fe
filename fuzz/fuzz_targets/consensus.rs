//! Fuzzes the consensus parser (`Consensus::parse`, both flavours) with arbitrary bytes
//! (lossy UTF-8). Checks: nothing panics; whatever parses is rebuilt by `ConsensusBuilder`
//! into text that parses to the same fields (after the normalisations the writer applies:
//! dir-sources sorted, microdesc `published` from method 33 and no `p`, a `w` line needs a
//! bandwidth); `verify` returns.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oniongate::dir::doc::consensus::{Consensus, ConsensusBuilder, Flavor, DUMMY_PUBLISHED};

const FAKE_SIG: &str = "directory-signature 0000000000000000000000000000000000000000 0000000000000000000000000000000000000000\n-----BEGIN SIGNATURE-----\nAAAA\n-----END SIGNATURE-----\n";

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(c) = Consensus::parse(&text) else {
        return;
    };
    let _ = c.verify(&[], &[], 0);
    let mut want = ConsensusBuilder::from_consensus(&c);
    want.sources.sort_by_key(|s| s.identity);
    for r in &mut want.routers {
        if c.flavor == Flavor::Microdesc {
            r.port_summary = None;
            if c.method >= 33 {
                r.published = DUMMY_PUBLISHED;
            }
        }
        if r.bandwidth.is_none() {
            r.unmeasured = false;
        }
    }
    let rebuilt = format!("{}{FAKE_SIG}", want.build_unsigned());
    let again = Consensus::parse(&rebuilt).expect("rebuilt consensus parses");
    assert_eq!(ConsensusBuilder::from_consensus(&again), want);
});
