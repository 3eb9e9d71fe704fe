//! Runs the built `oniongate-relay`: version, help, --verify-config on good and bad files,
//! command-line overrides, unknown keys, and the exit status without a DataDirectory.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_oniongate-relay"))
        .args(args)
        .output()
        .unwrap()
}

fn torrc(name: &str, text: &str) -> String {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("relay-{name}.torrc"));
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
        (0, "oniongate-relay 0.1.0 (Oniongate)\n")
    );
    let (code, stdout, _) = out(&run(&["--help"]));
    assert_eq!(code, 0);
    assert!(
        stdout.contains("Usage: oniongate-relay") && stdout.contains("ExitPolicy"),
        "{stdout}"
    );
    assert_eq!(out(&run(&["-h"])).0, 0);
}

#[test]
fn verify_config() {
    let good = torrc(
        "good",
        "# test\nNickname t1\nORPort 9001\nExitPolicy reject *:*\n",
    );
    let (code, stdout, stderr) = out(&run(&["-f", &good, "--verify-config"]));
    assert_eq!(
        (code, stdout.as_str(), stderr.as_str()),
        (0, "Configuration was valid\n", "")
    );

    let bad = torrc("bad", "Nickname t1\n\nORPort 70000\n");
    let (code, stdout, stderr) = out(&run(&["--verify-config", "-f", &bad]));
    assert_eq!((code, stdout.as_str()), (1, ""));
    assert!(
        stderr.starts_with(&format!(
            "[err] {bad}:3: ORPort \"70000\": port 70000 out of range"
        )),
        "{stderr}"
    );
}

#[test]
fn command_line_overrides_the_file() {
    let bad = torrc("override", "ORPort 70000\n");
    // The command line's ORPort replaces the file's bad one.
    let (code, stdout, stderr) = out(&run(&["-f", &bad, "--ORPort", "9001", "--verify-config"]));
    assert_eq!(
        (code, stdout.as_str()),
        (0, "Configuration was valid\n"),
        "{stderr}"
    );
    // ... but appending keeps it.
    let (code, _, stderr) = out(&run(&["-f", &bad, "--+ORPort", "9001", "--verify-config"]));
    assert_eq!(code, 1);
    assert!(stderr.contains(":1: ORPort"), "{stderr}");
    // A bad value on the command line names the command line.
    let (code, _, stderr) = out(&run(&["--set", "AssumeReachable=yes", "--verify-config"]));
    assert_eq!(code, 1);
    assert!(
        stderr.starts_with("[err] command line: AssumeReachable \"yes\""),
        "{stderr}"
    );
}

#[test]
fn unknown_keys_and_missing_files() {
    let (code, _, stderr) = out(&run(&["--ORPorts", "9001"]));
    assert_eq!(
        (code, stderr.as_str()),
        (
            1,
            "[err] command line: unknown key \"ORPorts\" (did you mean \"ORPort\"?)\n"
        )
    );
    let bad = torrc("unknown", "Nickname t1\nSocksPorts 9050\n");
    let (code, _, stderr) = out(&run(&["-f", &bad]));
    assert_eq!(code, 1);
    assert!(
        stderr.starts_with(&format!("[err] {bad}:2: unknown key \"SocksPorts\"")),
        "{stderr}"
    );
    let (code, _, stderr) = out(&run(&["-f", "/nonexistent/relay.torrc"]));
    assert_eq!(code, 1);
    assert!(stderr.contains("/nonexistent/relay.torrc"), "{stderr}");
}

#[test]
fn without_a_data_directory_exits_with_status_1_after_logging() {
    let (code, stdout, stderr) = out(&run(&["--ORPort", "9001", "--Log", "notice stdout"]));
    assert_eq!(code, 1);
    assert!(
        stdout.contains("[notice] Oniongate oniongate-relay 0.1.0 starting"),
        "{stdout}"
    );
    assert!(stderr.contains("needs a DataDirectory"), "{stderr}");
}
