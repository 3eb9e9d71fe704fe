//! Fuzzes the torrc parser and the three daemon validators with arbitrary bytes (read as
//! lossy UTF-8). Checks: nothing panics; whatever parses re-renders to text that parses to the
//! same entries; validation of the merged entries returns (Ok or a located error).
#![no_main]

use libfuzzer_sys::fuzz_target;
use oniongate::config::{
    cli, merge, parse_torrc, render, ClientConfig, DaemonConfig, Entry, Op, RelayConfig,
    ServiceConfig,
};

fn norm(es: &[Entry]) -> Vec<(String, Op, String)> {
    es.iter()
        .map(|e| {
            let v = if e.op == Op::Clear {
                String::new()
            } else {
                e.value.clone()
            };
            (e.key.clone(), e.op, v)
        })
        .collect()
}

fn validate<C: DaemonConfig>(entries: &[Entry]) {
    if let Ok(merged) = merge(C::DAEMON, &[entries]) {
        if let Err(e) = C::from_entries(&merged) {
            assert!(e.location().is_some(), "error without location: {e}");
            let _ = e.to_string();
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(entries) = parse_torrc(&text, "fuzz") else {
        return;
    };
    // Render round trip, for keys torrc syntax can spell.
    let renderable: Vec<Entry> = entries
        .iter()
        .filter(|e| !e.key.is_empty() && !e.key.ends_with('\\'))
        .cloned()
        .collect();
    let again = parse_torrc(&render(&renderable), "fuzz");
    assert_eq!(again.map(|a| norm(&a)), Ok(norm(&renderable)));

    validate::<RelayConfig>(&entries);
    validate::<ClientConfig>(&entries);
    validate::<ServiceConfig>(&entries);

    // The same words as command-line arguments.
    let args: Vec<&str> = text.split_whitespace().take(64).collect();
    for d in [
        oniongate::config::Daemon::Relay,
        oniongate::config::Daemon::Client,
        oniongate::config::Daemon::Service,
    ] {
        let _ = cli::parse_args(d, &args);
    }
});
