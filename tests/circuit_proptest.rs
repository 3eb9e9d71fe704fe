//! Property: any sequence of cells and runtime events (decoded from random bytes by
//! `oniongate::circuit::fuzzing::run`) never panics the relay's circuit layer, and its tables
//! stay within their caps (the driver asserts the caps after every step).

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn random_cell_sequences_stay_bounded(data in proptest::collection::vec(any::<u8>(), 0..4000)) {
        let stats = oniongate::circuit::fuzzing::run(&data);
        prop_assert!(stats.max_circuits <= 3 * oniongate::circuit::fuzzing::MAX_CIRCS);
    }

    /// Structured: mostly CREATE_FAST, relay cells that our own hop encrypted (so that the
    /// recognised path and the relay-message decoders see garbage), and handshake runs.
    #[test]
    fn recognised_garbage_stays_bounded(
        ops in proptest::collection::vec((prop_oneof![Just(0u8), Just(2), Just(3), Just(6), Just(8), Just(4)], any::<u8>(), proptest::collection::vec(any::<u8>(), 0..40)), 0..200)
    ) {
        let mut data = Vec::new();
        for (op, sel, body) in ops {
            data.push(op);
            // Channel 1 (a relay peer that initiated TLS: high-bit ids), one of 8 ids, and
            // "encrypt with our hop". The low two bits pick the channel (sel % 3 == 1).
            let base = 0xC0 | (sel & 0x1c);
            let chan1 = (0..3).map(|lo| base | lo).find(|s| s % 3 == 1).unwrap_or(base);
            data.push(chan1);
            if op == 2 || op == 3 {
                // cmd, recognized, stream id, digest, length, data...
                let mut cell = vec![body.first().copied().unwrap_or(2) % 16, 0, 0, 0, sel & 3, 0, 0, 0, 0, 0, body.len() as u8];
                cell.extend_from_slice(&body);
                cell.resize(509, 0);
                data.extend_from_slice(&cell);
            } else {
                data.extend_from_slice(&body);
            }
        }
        oniongate::circuit::fuzzing::run(&data);
    }
}
