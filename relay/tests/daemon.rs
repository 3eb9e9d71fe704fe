//! Runs the built `oniongate-relay` for real: from a torrc with an ORPort on loopback it
//! writes its keys (0600) and fingerprint files, accepts TCP on the ORPort, keeps the same
//! fingerprint across a restart, and exits 0 on SIGTERM. The shipped examples
//! (`torrc-examples/relay-middle.torrc`, `relay-exit.torrc`) run too, with their
//! DataDirectory, ORPort and Log replaced on the command line to stay in a temp dir on
//! loopback.
#![allow(clippy::unwrap_used)]

use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn temp_dir(name: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("relay-daemon-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(&p).unwrap();
    p
}

fn spawn(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_oniongate-relay"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until the ORPort accepts TCP and the fingerprint file exists; returns its text.
fn wait_up(child: &mut Child, port: u16, data: &Path) -> String {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output_ref();
            panic!("relay exited early with {status}: {out}");
        }
        let fp = std::fs::read_to_string(data.join("fingerprint"));
        if let (Ok(fp), Ok(_)) = (fp, TcpStream::connect(("127.0.0.1", port))) {
            return fp;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("relay did not come up");
}

trait OutputRef {
    fn wait_with_output_ref(&mut self) -> String;
}

impl OutputRef for Child {
    fn wait_with_output_ref(&mut self) -> String {
        use std::io::Read;
        let mut s = String::new();
        if let Some(o) = self.stdout.as_mut() {
            let _ = o.read_to_string(&mut s);
        }
        if let Some(e) = self.stderr.as_mut() {
            let _ = e.read_to_string(&mut s);
        }
        s
    }
}

/// SIGTERM, then the exit status (within 20 s) and the output.
fn terminate(mut child: Child) -> (i32, String) {
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status.code().unwrap_or(-1), child.wait_with_output_ref());
        }
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("relay did not exit after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn runs_keeps_its_fingerprint_and_exits_0_on_sigterm() {
    let dir = temp_dir("basic");
    let data = dir.join("data");
    let torrc = dir.join("torrc");
    let port = free_port();
    std::fs::write(
        &torrc,
        format!(
            "Nickname daemontest\nORPort 127.0.0.1:{port}\nDataDirectory {}\nExitPolicy reject *:*\nLog notice stdout\n",
            data.display()
        ),
    )
    .unwrap();
    let torrc = torrc.display().to_string();
    let mut child = spawn(&["-f", &torrc]);
    let fp = wait_up(&mut child, port, &data);
    assert!(
        fp.starts_with("daemontest ") && fp.trim_end().len() == 11 + 40,
        "{fp}"
    );
    for entry in std::fs::read_dir(data.join("keys")).unwrap() {
        let e = entry.unwrap();
        let mode = e.metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", e.path().display());
    }
    let (code, out) = terminate(child);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("relay listening"), "{out}");

    let mut child = spawn(&["-f", &torrc]);
    let fp2 = wait_up(&mut child, port, &data);
    assert_eq!(fp, fp2, "same fingerprint after a restart");
    let (code, out) = terminate(child);
    assert_eq!(code, 0, "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_shipped_examples_run_on_loopback() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for name in ["relay-middle.torrc", "relay-exit.torrc"] {
        let dir = temp_dir(name);
        let port = free_port();
        let example = root.join("torrc-examples").join(name).display().to_string();
        let data = dir.join("data");
        let mut child = spawn(&[
            "-f",
            &example,
            "--DataDirectory",
            &data.display().to_string(),
            "--ORPort",
            &format!("127.0.0.1:{port}"),
            "--Log",
            "notice stdout",
        ]);
        wait_up(&mut child, port, &data);
        let (code, out) = terminate(child);
        assert_eq!(code, 0, "{name}: {out}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
