//! Shared by the relay benchmarks (`relay_forward`, `relay_memory`): our relay as a child
//! process (the benchmark binary re-executed with `--relay`), a client channel driving
//! `client::OriginCircuit`s, per-process CPU time and resident memory from `/proc`.
//!
//! Benchmark code: failures panic with a message.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use oniongate::cell::{AnyChanMsg, ChanCell};
use oniongate::channel::{ExpectedPeer, InitiatorConfig, InitiatorRole};
use oniongate::client::{CircEvent, HandshakeKind, HopTarget, OriginCircuit};
use oniongate::config::{merge, parse_torrc, Daemon, DaemonConfig, RelayConfig};
use oniongate::crypto::ll::X25519Public;
use oniongate::ids::{Ed25519Identity, RsaIdentity};
use oniongate::relaycell::BeginFlags;
use oniongate::rt::cellio::{CellReader, CellWriter};
use oniongate::rt::relay::{Relay, RelayOptions};
use rand::rngs::StdRng;
use tokio::io::{AsyncRead, AsyncWrite, ReadHalf, WriteHalf};
use tokio::net::TcpListener;

/// Who a hop is.
#[derive(Debug, Clone)]
pub struct Hop {
    pub addr: SocketAddr,
    pub rsa_id: RsaIdentity,
    pub ed_id: Ed25519Identity,
    pub ntor_key: X25519Public,
}

impl Hop {
    pub fn target(&self, handshake: HandshakeKind) -> HopTarget {
        HopTarget {
            addrs: vec![self.addr],
            rsa_id: self.rsa_id,
            ed_id: Some(self.ed_id),
            ntor_key: self.ntor_key,
            handshake,
        }
    }

    pub fn of_ctor(r: &crate::ctor::CTorRelay) -> Hop {
        Hop {
            addr: r.or_addr,
            rsa_id: RsaIdentity(r.rsa_id),
            ed_id: Ed25519Identity(r.ed_id),
            ntor_key: X25519Public::from(r.ntor_key),
        }
    }
}

/// If this process was started as a relay child (`--relay NAME DATADIR PORT`), runs the
/// relay until stdin closes and exits; otherwise returns.
pub fn maybe_run_relay_child() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) != Some("--relay") {
        return;
    }
    let (name, data, port) = (&args[2], &args[3], &args[4]);
    let text = format!(
        "Nickname {name}\nORPort 127.0.0.1:{port}\nDataDirectory {data}\nExitRelay 1\n\
         ExitPolicyRejectPrivate 0\nExitPolicy accept 127.0.0.1:*\nExitPolicy reject *:*\n"
    );
    let entries = parse_torrc(&text, "bench").unwrap();
    let cfg = RelayConfig::from_entries(&merge(Daemon::Relay, &[&entries]).unwrap()).unwrap();
    let rt = oniongate::rt::runtime().unwrap();
    rt.block_on(async move {
        let opts = RelayOptions {
            extend_allow_private: Some(true),
            ..RelayOptions::default()
        };
        let relay = Relay::start_with(cfg, opts).await.unwrap();
        println!(
            "READY {} {} {} {}",
            relay.or_addrs()[0],
            hex::encode(relay.rsa_id().0),
            hex::encode(relay.ed_id().0),
            hex::encode(relay.ntor_onion_key().as_bytes())
        );
        // Stop when the parent closes our stdin.
        let _ = tokio::task::spawn_blocking(|| {
            let mut s = String::new();
            while std::io::stdin()
                .read_line(&mut s)
                .map(|n| n > 0)
                .unwrap_or(false)
            {}
        })
        .await;
        relay.shutdown().await;
    });
    std::process::exit(0);
}

/// Our relay in a child process.
pub struct OurRelay {
    pub child: Child,
    _stdin: ChildStdin,
    pub hop: Hop,
    _dir: crate::ctor::TempDir,
}

impl OurRelay {
    pub fn start(name: &str) -> OurRelay {
        let dir = crate::ctor::TempDir::new(&format!("bench-{name}"));
        let port = crate::ctor::free_port();
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--relay",
                name,
                &dir.path().join("data").display().to_string(),
                &port.to_string(),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let w: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(w.first(), Some(&"READY"), "relay child said {line:?}");
        let hop = Hop {
            addr: w[1].parse().unwrap(),
            rsa_id: RsaIdentity(hex::decode(w[2]).unwrap().try_into().unwrap()),
            ed_id: Ed25519Identity(hex::decode(w[3]).unwrap().try_into().unwrap()),
            ntor_key: X25519Public::from(<[u8; 32]>::try_from(hex::decode(w[4]).unwrap()).unwrap()),
        };
        let stdin = child.stdin.take().unwrap();
        OurRelay {
            child,
            _stdin: stdin,
            hop,
            _dir: dir,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for OurRelay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// User + system CPU seconds of a process (all its threads, live and exited).
pub fn cpu_seconds(pid: u32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = &s[s.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f[11].parse().unwrap();
    let stime: f64 = f[12].parse().unwrap();
    (utime + stime) / clock_ticks()
}

fn clock_ticks() -> f64 {
    // `getconf CLK_TCK`; 100 on Linux almost everywhere.
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// Resident memory of a process, bytes.
pub fn rss_bytes(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<u64>().ok())
        .unwrap()
        * 1024
}

/// A client channel (our initiator in the client role).
pub struct Link<S> {
    pub reader: CellReader<ReadHalf<S>>,
    pub writer: CellWriter<WriteHalf<S>>,
    /// Circuit cells written and read (not counting padding).
    pub sent: u64,
    pub received: u64,
}

pub async fn open_link(first: &Hop) -> Link<impl AsyncRead + AsyncWrite + Send + Unpin + 'static> {
    let cfg = InitiatorConfig {
        role: InitiatorRole::Client,
        expected: Some(ExpectedPeer {
            rsa_id: first.rsa_id,
            ed_id: Some(first.ed_id),
        }),
        peer_addr: first.addr.ip(),
        my_addrs: vec![],
    };
    let ch = oniongate::rt::channel::connect(first.addr, cfg, Duration::from_secs(30))
        .await
        .unwrap();
    Link {
        reader: ch.reader,
        writer: ch.writer,
        sent: 0,
        received: 0,
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Link<S> {
    pub async fn flush(&mut self, circ: &mut OriginCircuit) {
        while let Some(cell) = circ.poll_cell() {
            self.writer.queue(&cell).unwrap();
            self.sent += 1;
        }
        self.writer.flush().await.unwrap();
    }

    pub async fn send(&mut self, cell: &ChanCell) {
        self.writer.queue(cell).unwrap();
        self.sent += 1;
    }

    pub async fn recv(&mut self) -> ChanCell {
        loop {
            let (cell, _) = tokio::time::timeout(Duration::from_secs(60), self.reader.read_cell())
                .await
                .expect("an answer within 60 s")
                .unwrap()
                .expect("channel closed");
            if matches!(cell.msg, AnyChanMsg::Padding(_) | AnyChanMsg::Vpadding(_)) {
                continue;
            }
            self.received += 1;
            return cell;
        }
    }

    pub async fn next_event(&mut self, circ: &mut OriginCircuit, rng: &mut StdRng) -> CircEvent {
        loop {
            self.flush(circ).await;
            if let Some(e) = circ.poll_event() {
                return e;
            }
            let cell = self.recv().await;
            circ.handle_cell(cell, rng);
        }
    }

    /// Builds a circuit through `hops` (ntor on every hop).
    pub async fn build(
        &mut self,
        id: oniongate::cell::CircId,
        hops: &[Hop],
        rng: &mut StdRng,
    ) -> OriginCircuit {
        let k = HandshakeKind::Ntor;
        let mut circ = OriginCircuit::create(id, &hops[0].target(k), Instant::now(), rng).unwrap();
        for (i, h) in hops.iter().enumerate() {
            if i > 0 {
                circ.extend(&h.target(k), Instant::now(), rng).unwrap();
            }
            match self.next_event(&mut circ, rng).await {
                CircEvent::HopAdded { .. } => {}
                other => panic!("hop {i}: {other:?}"),
            }
        }
        circ
    }

    /// Opens a stream to `addr`, retrying while a C tor exit says EXITPOLICY.
    pub async fn open_stream(
        &mut self,
        circ: &mut OriginCircuit,
        addr: SocketAddr,
        rng: &mut StdRng,
    ) -> u16 {
        for _ in 0..60 {
            let s = circ
                .begin(&addr.ip().to_string(), addr.port(), BeginFlags::NONE, rng)
                .unwrap();
            match self.next_event(circ, rng).await {
                CircEvent::Connected { .. } => return s,
                CircEvent::Ended { .. } => tokio::time::sleep(Duration::from_millis(500)).await,
                other => panic!("expected CONNECTED, got {other:?}"),
            }
        }
        panic!("no stream");
    }

    /// Sends `len` bytes through the echo and reads them back.
    pub async fn echo(
        &mut self,
        circ: &mut OriginCircuit,
        stream: u16,
        len: usize,
        rng: &mut StdRng,
    ) {
        let data = vec![0x5au8; 65536];
        let (mut sent, mut got) = (0usize, 0usize);
        while got < len {
            if sent < len && circ.can_write(stream) {
                let n = (len - sent).min(data.len());
                sent += circ.write(stream, &data[..n], rng).unwrap();
                self.flush(circ).await;
                continue;
            }
            self.flush(circ).await;
            let cell = self.recv().await;
            circ.handle_cell(cell, rng);
            while let Some(e) = circ.poll_event() {
                match e {
                    CircEvent::Data { data, .. } => got += data.len(),
                    CircEvent::Writable { .. } => {}
                    other => panic!("unexpected {other:?}"),
                }
            }
        }
    }
}

/// A TCP echo server on loopback.
pub async fn echo_server() -> SocketAddr {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = s.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    addr
}

/// Waits for a path to exist (C tor key files).
pub fn wait_path(p: &Path) {
    let start = Instant::now();
    while !p.exists() && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(50));
    }
}
