//! Runs the built `oniongate-client`: version, help, --verify-config on good and bad files,
//! command-line overrides and unknown keys.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::{Command, Output};

const ONION: &str = "pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion";

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_oniongate-client"))
        .args(args)
        .output()
        .unwrap()
}

fn torrc(name: &str, text: &str) -> String {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("client-{name}.torrc"));
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn out(o: &Output) -> (i32, String, String) {
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn version_and_help() {
    let (code, stdout, _) = out(&run(&["--version"]));
    assert_eq!(
        (code, stdout.as_str()),
        (0, "oniongate-client 0.1.0 (Oniongate)\n")
    );
    let (code, stdout, _) = out(&run(&["--help"]));
    assert_eq!(code, 0);
    assert!(
        stdout.contains("UDPForward") && !stdout.contains("ORPort"),
        "{stdout}"
    );
}

#[test]
fn verify_config() {
    let good = torrc(
        "good",
        &format!("SocksPort 9050 IsolateDestAddr\nUDPForward 5353 {ONION}:53\n"),
    );
    let (code, stdout, stderr) = out(&run(&["-f", &good, "--verify-config"]));
    assert_eq!(
        (code, stdout.as_str()),
        (0, "Configuration was valid\n"),
        "{stderr}"
    );

    let bad = torrc("bad", "SocksPort 9050\nUseEntryGuards yes\n");
    let (code, _, stderr) = out(&run(&["-f", &bad, "--verify-config"]));
    assert_eq!(code, 1);
    assert!(
        stderr.starts_with(&format!("[err] {bad}:2: UseEntryGuards \"yes\"")),
        "{stderr}"
    );

    let (code, _, stderr) = out(&run(&[
        "-f",
        &bad,
        "--UseEntryGuards",
        "0",
        "--verify-config",
    ]));
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn unknown_key() {
    let (code, _, stderr) = out(&run(&["--ORPort", "9001", "--verify-config"]));
    assert_eq!(code, 1);
    assert!(
        stderr.contains("\"ORPort\" is an option of oniongate-relay"),
        "{stderr}"
    );
}
