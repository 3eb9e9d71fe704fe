//! Runs the built `oniongate-testnet` launcher for real: it prints the SOCKS port and an
//! example `curl` command once its client has bootstrapped, that command fetches the page
//! through the network, and on SIGTERM it exits 0 and leaves nothing behind (its SOCKS and
//! HTTP ports are free again, its temporary directory is gone).
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn value<'a>(lines: &'a [String], prefix: &str) -> &'a str {
    lines
        .iter()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} line in {lines:#?}"))
        .trim()
}

#[test]
fn launcher_prints_socks_port_serves_and_stops_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_oniongate-testnet"))
        .args(["--http-port", "0", "--timeout", "90"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines() {
            let Ok(l) = l else { return };
            if tx.send(l).is_err() {
                return;
            }
        }
    });
    let t0 = Instant::now();
    let mut lines = Vec::new();
    while !lines.iter().any(|l: &String| l.starts_with("Press Ctrl-C")) {
        match rx.recv_timeout(Duration::from_secs(120).saturating_sub(t0.elapsed())) {
            Ok(l) => lines.push(l),
            Err(e) => {
                let _ = child.kill();
                panic!("launcher did not report readiness ({e}): {lines:#?}");
            }
        }
    }
    eprintln!("ready after {:?}", t0.elapsed());
    let port: u16 = value(&lines, "SOCKS port:").parse().unwrap();
    let dir = PathBuf::from(value(&lines, "Directory:"));
    assert!(value(&lines, "DirAuthority line:").starts_with("DirAuthority auth orport="));
    assert!(dir.join("client.torrc").exists());
    let cmd = value(&lines, "Try:").to_string();
    let words: Vec<&str> = cmd.split_whitespace().collect();
    assert_eq!(words.first(), Some(&"curl"), "{cmd}");
    assert_eq!(words.get(2), Some(&format!("127.0.0.1:{port}").as_str()));
    let url = words.last().unwrap().to_string();
    let http_port: u16 = url
        .trim_start_matches("http://127.0.0.1:")
        .trim_end_matches('/')
        .parse()
        .unwrap();

    // The printed command works (a few tries: the first circuits may still be building).
    let mut body = String::new();
    for _ in 0..5 {
        let out = Command::new("curl")
            .args(["-sS", "-m", "20"])
            .args(&words[1..])
            .output()
            .unwrap();
        body = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() {
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    assert_eq!(body, "Hello from the Oniongate local test network!\n");

    // SIGTERM: exits 0, frees its ports, removes its directory.
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let t1 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if t1.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("launcher still running 30 s after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    eprintln!("stopped {:?} after SIGTERM", t1.elapsed());
    assert!(status.success(), "{status:?}");
    std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    std::net::TcpListener::bind(("127.0.0.1", http_port)).unwrap();
    assert!(!dir.exists(), "{} left behind", dir.display());
}
