//! Runs the built `oniongate-service`: version, help, --verify-config on good and bad files,
//! command-line overrides of the service group, and unknown keys.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_oniongate-service"))
        .args(args)
        .output()
        .unwrap()
}

fn torrc(name: &str, text: &str) -> String {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("service-{name}.torrc"));
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
        (0, "oniongate-service 0.1.0 (Oniongate)\n")
    );
    let (code, stdout, _) = out(&run(&["-h"]));
    assert_eq!(code, 0);
    assert!(stdout.contains("HiddenServiceType"), "{stdout}");
}

#[test]
fn verify_config() {
    let good = torrc(
        "good",
        "HiddenServiceDir /tmp/og-svc\nHiddenServiceType dgram\nHiddenServicePort 53 5353\n",
    );
    let (code, stdout, stderr) = out(&run(&["-f", &good, "--verify-config"]));
    assert_eq!(
        (code, stdout.as_str()),
        (0, "Configuration was valid\n"),
        "{stderr}"
    );

    let bad = torrc("bad", "# no block yet\nHiddenServicePort 80\n");
    let (code, _, stderr) = out(&run(&["-f", &bad, "--verify-config"]));
    assert_eq!(code, 1);
    assert!(
        stderr.starts_with(&format!(
            "[err] {bad}:2: HiddenServicePort outside an onion-service block"
        )),
        "{stderr}"
    );
    // The command line's service keys replace the file's whole service group.
    let (code, _, stderr) = out(&run(&[
        "-f",
        &bad,
        "--HiddenServiceDir",
        "/tmp/og-x",
        "--HiddenServicePort",
        "80",
        "--verify-config",
    ]));
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn unknown_key() {
    let (code, _, stderr) = out(&run(&["--HiddenServicePorts", "80"]));
    assert_eq!(code, 1);
    assert!(
        stderr.contains("did you mean \"HiddenServicePort\""),
        "{stderr}"
    );
}
