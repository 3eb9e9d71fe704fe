//! Loads every file in `torrc-examples/` with the daemon its first comment names
//! (`# Load with: oniongate-relay ...`) and checks that it validates.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use oniongate::config::{
    merge, read_torrc, ClientConfig, Daemon, DaemonConfig, RelayConfig, ServiceConfig,
};

fn validate<C: DaemonConfig>(path: &Path) -> Result<(), String> {
    let entries = read_torrc(path).map_err(|e| e.to_string())?;
    let merged = merge(C::DAEMON, &[&entries]).map_err(|e| e.to_string())?;
    C::from_entries(&merged)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// The daemon named in the first comment line.
fn daemon_of(path: &Path) -> Daemon {
    let text = std::fs::read_to_string(path).unwrap();
    let first = text.lines().next().unwrap_or("");
    assert!(
        first.starts_with('#'),
        "{}: first line must be a comment naming the daemon",
        path.display()
    );
    first
        .split(|c: char| c.is_whitespace() || c == ':' || c == ',')
        .find_map(Daemon::from_binary)
        .unwrap_or_else(|| {
            panic!(
                "{}: first comment names no oniongate daemon",
                path.display()
            )
        })
}

#[test]
fn every_example_validates_with_its_daemon() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("torrc-examples");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} is empty", dir.display());
    let mut seen = Vec::new();
    for path in &files {
        let daemon = daemon_of(path);
        let result = match daemon {
            Daemon::Relay => validate::<RelayConfig>(path),
            Daemon::Client => validate::<ClientConfig>(path),
            Daemon::Service => validate::<ServiceConfig>(path),
        };
        if let Err(e) = result {
            panic!("{} ({daemon}): {e}", path.display());
        }
        seen.push(daemon);
    }
    for d in [Daemon::Relay, Daemon::Client, Daemon::Service] {
        assert!(seen.contains(&d), "no example for {d}");
    }
}

#[test]
fn examples_fail_with_the_wrong_daemon() {
    // A relay example is not a client configuration: the key table is per daemon.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("torrc-examples/relay-middle.torrc");
    let e = validate::<ClientConfig>(&path).unwrap_err();
    assert!(
        e.contains("unknown key") && e.contains("relay-middle.torrc:"),
        "{e}"
    );
}
