//! Runs the built `oniongate-relay` as a directory authority: `--keygen-authority` makes the
//! key files (0600) and prints a `DirAuthority` line that parses back; a second run keeps
//! the keys; authority mode refuses to start without them and names the command.
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_oniongate-relay"))
        .args(args)
        .output()
        .unwrap()
}

fn tmp(name: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("authority-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(&p).unwrap();
    p
}

fn torrc(dir: &std::path::Path, extra: &str) -> String {
    let path = dir.join("torrc");
    std::fs::write(
        &path,
        format!(
            "Nickname auth1\nAddress 127.0.0.1\nORPort 127.0.0.1:5000\nDirPort 127.0.0.1:7000\n\
             DataDirectory {}\nAuthoritativeDirectory 1\nV3AuthoritativeDirectory 1\n{extra}",
            dir.join("data").display()
        ),
    )
    .unwrap();
    path.display().to_string()
}

#[test]
fn keygen_authority_prints_a_usable_line() {
    let dir = tmp("keygen");
    let rc = torrc(&dir, "");
    let o = run(&["--keygen-authority", "-f", &rc]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // The log goes to stdout too (tor's default `Log notice stdout`).
    let out = String::from_utf8(o.stdout).unwrap();
    let line = out
        .lines()
        .find(|l| l.starts_with("DirAuthority "))
        .unwrap();
    let w: Vec<&str> = line.split(' ').collect();
    assert_eq!(w[..3], ["DirAuthority", "auth1", "orport=5000"], "{line}");
    assert_eq!(w[3], "no-v2");
    assert!(
        w[4].starts_with("v3ident=") && w[4].len() == 8 + 40,
        "{line}"
    );
    assert_eq!(w[5], "127.0.0.1:7000");
    let fp = std::fs::read_to_string(dir.join("data/fingerprint")).unwrap();
    assert_eq!(
        fp.split_whitespace().nth(1),
        Some(w[6]),
        "relay fingerprint"
    );
    for f in [
        "authority_identity_key",
        "authority_signing_key",
        "authority_certificate",
    ] {
        let m = std::fs::metadata(dir.join("data/keys").join(f)).unwrap();
        assert_eq!(m.permissions().mode() & 0o777, 0o600, "{f}");
    }
    // Again: same keys, same line.
    let again = run(&["--keygen-authority", "-f", &rc]);
    let out2 = String::from_utf8(again.stdout).unwrap();
    assert!(out2.lines().any(|l| l == line), "{out2}");
    // The line is a valid DirAuthority for a test network.
    let rc2 = torrc(&dir, &format!("TestingTorNetwork 1\n{line}\n"));
    let v = run(&["--verify-config", "-f", &rc2]);
    assert_eq!(
        v.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&v.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn authority_refuses_to_start_without_keys() {
    let dir = tmp("nokeys");
    let rc = torrc(&dir, "");
    let o = run(&["-f", &rc]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_ne!(o.status.code(), Some(0));
    assert!(err.contains("--keygen-authority"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
