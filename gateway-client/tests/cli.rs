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

/// The daemon runs: starts the client (here with an unreachable authority, so it never
/// bootstraps), opens its SOCKS listener, says UDPForward is not active yet, and exits 0
/// on SIGTERM.
#[test]
fn runs_until_sigterm() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    let data = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("client-run-data");
    let rc = torrc(
        "run",
        &format!(
            "DataDirectory {}\nSocksPort 127.0.0.1:auto\nUDPForward 127.0.0.1:5353 {ONION}:53\n\
             TestingTorNetwork 1\nDirAuthority test orport=1 \
             v3ident=0000000000000000000000000000000000000001 127.0.0.1:1 \
             0000000000000000000000000000000000000002\n",
            data.display()
        ),
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_oniongate-client"))
        .args(["-f", &rc])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !seen
        .iter()
        .any(|l: &String| l.contains("Opened Socks listener"))
    {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) => seen.push(l),
            Err(_) => {
                let _ = child.kill();
                panic!("no SOCKS listener line: {seen:?}");
            }
        }
    }
    let all = seen.join("\n");
    assert!(
        all.contains("Bootstrapped 0% (starting): Starting"),
        "{all}"
    );
    assert!(
        all.contains("UDPForward") && all.contains("not active yet"),
        "{all}"
    );
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            assert_eq!(st.code(), Some(0));
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("did not exit on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
