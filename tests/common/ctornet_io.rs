//! Small blocking network helpers for tests against C tor networks (see `ctornet.rs`):
//! plain HTTP GET over TCP (a DirPort), a C tor control-port connection, a SOCKS5 CONNECT
//! client, a loopback HTTP server that serves one fixed page, and [`ConsensusInfo`] (the
//! routers and flags of a fetched consensus).
//!
//! All of them are written for tests: blocking std sockets, every read bounded by a
//! timeout, errors as [`NetError`] (whose `Debug` prints the message as is, so that an
//! `unwrap()` in a test shows multi-line logs readably).

use std::collections::VecDeque;
use std::fmt;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// An error from the harness: a message, possibly with log tails appended.
pub struct NetError(pub String);

impl fmt::Debug for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NetError {}

impl From<std::io::Error> for NetError {
    fn from(e: std::io::Error) -> NetError {
        NetError(e.to_string())
    }
}

/// Shorthand for harness results.
pub type NetResult<T> = Result<T, NetError>;

fn err<T>(msg: impl Into<String>) -> NetResult<T> {
    Err(NetError(msg.into()))
}

fn remaining(deadline: Instant) -> NetResult<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return err("timed out");
    }
    Ok(left)
}

/// Splits an HTTP/1.x response into its status code and body (no chunked encoding, no
/// compression: C tor's DirPort sends neither unless asked).
pub fn split_http_response(raw: &[u8]) -> NetResult<(u16, Vec<u8>)> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| NetError("HTTP response without end of headers".into()))?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| NetError(format!("bad HTTP status line in {head:?}")))?;
    Ok((status, raw[end + 4..].to_vec()))
}

/// `GET path` over a plain TCP connection to `addr` (HTTP/1.0, read to EOF).
pub fn http_get(addr: SocketAddr, path: &str, timeout: Duration) -> NetResult<(u16, Vec<u8>)> {
    let mut s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    split_http_response(&raw)
}

/// Fetches `http://host:port/path` through the SOCKS5 proxy at `socks` (CONNECT with a
/// domain-name or IPv4 address, no authentication); returns the status code and body.
pub fn socks5_http_get(
    socks: SocketAddr,
    host: &str,
    port: u16,
    path: &str,
    timeout: Duration,
) -> NetResult<(u16, Vec<u8>)> {
    let mut s = socks5_connect(socks, host, port, timeout)?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n")?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    split_http_response(&raw)
}

/// Opens a stream to `host:port` through the SOCKS5 proxy at `socks`. A refused CONNECT
/// is an error naming the SOCKS5 reply code.
pub fn socks5_connect(
    socks: SocketAddr,
    host: &str,
    port: u16,
    timeout: Duration,
) -> NetResult<TcpStream> {
    let mut s = TcpStream::connect_timeout(&socks, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    s.write_all(&[5, 1, 0])?;
    let mut m = [0u8; 2];
    s.read_exact(&mut m)?;
    if m != [5, 0] {
        return err(format!("SOCKS5 method selection refused: {m:?}"));
    }
    let mut req = vec![5, 1, 0];
    match host.parse::<std::net::Ipv4Addr>() {
        Ok(ip) => {
            req.push(1);
            req.extend_from_slice(&ip.octets());
        }
        Err(_) => {
            let len = u8::try_from(host.len()).map_err(|_| NetError("host too long".into()))?;
            req.push(3);
            req.push(len);
            req.extend_from_slice(host.as_bytes());
        }
    }
    req.extend_from_slice(&port.to_be_bytes());
    s.write_all(&req)?;
    let mut head = [0u8; 4];
    s.read_exact(&mut head)?;
    if head[0] != 5 || head[1] != 0 {
        return err(format!(
            "SOCKS5 CONNECT refused with reply code {}",
            head[1]
        ));
    }
    let skip = match head[3] {
        1 => 4,
        4 => 16,
        3 => {
            let mut l = [0u8; 1];
            s.read_exact(&mut l)?;
            usize::from(l[0])
        }
        t => return err(format!("SOCKS5 reply with address type {t}")),
    };
    let mut rest = vec![0u8; skip + 2];
    s.read_exact(&mut rest)?;
    Ok(s)
}

/// A connection to a C tor control port (authenticated with no password: the harness
/// starts tor with `CookieAuthentication 0`). Asynchronous events (`650`) that arrive while
/// a command waits for its reply are kept for [`Control::next_event`].
pub struct Control {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    events: VecDeque<String>,
    timeout: Duration,
    circ_events: bool,
}

/// A circuit that the control port reported built.
#[derive(Debug, Clone)]
pub struct BuiltCircuit {
    /// Its id on the control port.
    pub id: String,
    /// From sending `EXTENDCIRCUIT` to the `BUILT` event.
    pub took: Duration,
    /// Its path as the event gives it (`$FP~nick,...`).
    pub path: String,
}

impl Control {
    /// Connects to `addr` and authenticates.
    pub fn connect(addr: SocketAddr, timeout: Duration) -> NetResult<Control> {
        let s = TcpStream::connect_timeout(&addr, timeout)?;
        s.set_read_timeout(Some(timeout))?;
        let mut c = Control {
            reader: BufReader::new(s.try_clone()?),
            writer: s,
            events: VecDeque::new(),
            timeout,
            circ_events: false,
        };
        c.command("AUTHENTICATE")?;
        Ok(c)
    }

    fn read_line(&mut self) -> NetResult<String> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return err("control connection closed");
        }
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }

    /// Reads one whole reply or event: its lines, with `+` data blocks joined in.
    fn read_message(&mut self) -> NetResult<Vec<String>> {
        let mut lines = Vec::new();
        loop {
            let line = self.read_line()?;
            if line.len() < 4 {
                return err(format!("short control line {line:?}"));
            }
            let sep = line.as_bytes()[3];
            lines.push(line);
            match sep {
                b' ' => return Ok(lines),
                b'+' => loop {
                    let data = self.read_line()?;
                    if data == "." {
                        break;
                    }
                    lines.push(data);
                },
                _ => {}
            }
        }
    }

    /// Sends `cmd` and returns its reply lines; a reply other than 2xx is an error.
    pub fn command(&mut self, cmd: &str) -> NetResult<Vec<String>> {
        self.reader.get_ref().set_read_timeout(Some(self.timeout))?;
        self.writer.write_all(format!("{cmd}\r\n").as_bytes())?;
        loop {
            let msg = self.read_message()?;
            if msg[0].starts_with("650") {
                self.events.extend(msg);
                continue;
            }
            if !msg[0].starts_with('2') {
                return err(format!(
                    "control command {cmd:?} failed: {}",
                    msg.join(" | ")
                ));
            }
            return Ok(msg);
        }
    }

    /// `GETINFO key`: the value.
    pub fn getinfo(&mut self, key: &str) -> NetResult<String> {
        let reply = self.command(&format!("GETINFO {key}"))?;
        let prefix = format!("{key}=");
        reply
            .iter()
            .find_map(|l| l.get(4..).and_then(|v| v.strip_prefix(&prefix)))
            .map(str::to_string)
            .ok_or_else(|| NetError(format!("no {key} in {reply:?}")))
    }

    /// The next asynchronous event line (without the `650 ` prefix), waiting until `deadline`.
    pub fn next_event(&mut self, deadline: Instant) -> NetResult<String> {
        loop {
            if let Some(e) = self.events.pop_front() {
                return Ok(e.get(4..).unwrap_or_default().to_string());
            }
            self.reader
                .get_ref()
                .set_read_timeout(Some(remaining(deadline)?))?;
            let msg = self.read_message()?;
            if !msg[0].starts_with("650") {
                return err(format!("unexpected control reply {msg:?}"));
            }
            self.events.extend(msg);
        }
    }

    /// Builds a new circuit with `EXTENDCIRCUIT 0` (through `path`, fingerprints or
    /// nicknames, or a path tor picks if empty) and waits for its `BUILT` event; `FAILED`
    /// or `CLOSED` is an error. Turns on `CIRC` and `STREAM` events.
    pub fn build_circuit(&mut self, path: &[&str], timeout: Duration) -> NetResult<BuiltCircuit> {
        if !self.circ_events {
            self.command("SETEVENTS CIRC STREAM")?;
            self.circ_events = true;
        }
        let t = Instant::now();
        let cmd = if path.is_empty() {
            "EXTENDCIRCUIT 0".to_string()
        } else {
            format!("EXTENDCIRCUIT 0 {}", path.join(","))
        };
        let reply = self.command(&cmd)?;
        let id = reply[0]
            .strip_prefix("250 EXTENDED ")
            .ok_or_else(|| NetError(format!("EXTENDCIRCUIT reply {reply:?}")))?
            .trim()
            .to_string();
        let deadline = t + timeout;
        loop {
            let ev = self.next_event(deadline)?;
            let f: Vec<&str> = ev.split(' ').collect();
            if f.len() < 3 || f[0] != "CIRC" || f[1] != id {
                continue;
            }
            match f[2] {
                "BUILT" => {
                    return Ok(BuiltCircuit {
                        id,
                        took: t.elapsed(),
                        path: f.get(3).unwrap_or(&"").to_string(),
                    })
                }
                "FAILED" | "CLOSED" => return err(format!("circuit {id}: {ev}")),
                _ => {}
            }
        }
    }
}

/// A loopback HTTP server that answers every request with `200 OK` and a fixed body;
/// stopped on drop.
pub struct HttpServer {
    /// Where it listens (127.0.0.1, an ephemeral port).
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    served: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

impl HttpServer {
    /// Starts serving `body`.
    pub fn start(body: Vec<u8>) -> HttpServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the page server");
        let addr = listener.local_addr().expect("page server address");
        let stop = Arc::new(AtomicBool::new(false));
        let served = Arc::new(AtomicUsize::new(0));
        let (stop2, served2) = (stop.clone(), served.clone());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut conn) = conn else { continue };
                let body = body.clone();
                let served = served2.clone();
                std::thread::spawn(move || {
                    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
                    let mut req = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !req.windows(4).any(|w| w == b"\r\n\r\n") && req.len() < 65536 {
                        match conn.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => req.extend_from_slice(&buf[..n]),
                        }
                    }
                    let head = format!(
                        "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    if conn.write_all(head.as_bytes()).is_ok() && conn.write_all(&body).is_ok() {
                        served.fetch_add(1, Ordering::SeqCst);
                    }
                });
            }
        });
        HttpServer {
            addr,
            stop,
            served,
            thread: Some(thread),
        }
    }

    /// How many requests it has answered.
    pub fn served(&self) -> usize {
        self.served.load(Ordering::SeqCst)
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One router of a consensus: its `r` line's nickname and identity and its `s` flags.
#[derive(Debug, Clone)]
pub struct ConsensusRouter {
    /// Nickname.
    pub nickname: String,
    /// RSA identity fingerprint, 40 upper-case hex digits.
    pub fingerprint: String,
    /// Flags of the `s` line.
    pub flags: Vec<String>,
}

/// A microdescriptor consensus as fetched, with its routers picked out.
#[derive(Debug, Clone)]
pub struct ConsensusInfo {
    /// Its routers in order.
    pub routers: Vec<ConsensusRouter>,
    /// The document.
    pub text: String,
}

impl ConsensusInfo {
    /// Picks the `r` and `s` lines out of a consensus document.
    pub fn parse(text: &str) -> ConsensusInfo {
        let mut routers: Vec<ConsensusRouter> = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("r ") {
                let mut f = rest.split(' ');
                let nickname = f.next().unwrap_or_default().to_string();
                let fingerprint = f.next().and_then(b64_to_hex).unwrap_or_default();
                routers.push(ConsensusRouter {
                    nickname,
                    fingerprint,
                    flags: Vec::new(),
                });
            } else if let (Some(rest), Some(r)) = (line.strip_prefix("s "), routers.last_mut()) {
                r.flags = rest.split(' ').map(str::to_string).collect();
            }
        }
        ConsensusInfo {
            routers,
            text: text.to_string(),
        }
    }

    /// The router with this fingerprint (hex, any case).
    pub fn router(&self, fingerprint: &str) -> Option<&ConsensusRouter> {
        self.routers
            .iter()
            .find(|r| r.fingerprint.eq_ignore_ascii_case(fingerprint))
    }

    /// Whether the router with this fingerprint is listed with every flag of `flags`.
    pub fn has_flags(&self, fingerprint: &str, flags: &[&str]) -> bool {
        self.router(fingerprint)
            .is_some_and(|r| flags.iter().all(|f| r.flags.iter().any(|g| g == f)))
    }
}

/// Unpadded base64 (as in `r` lines) to upper-case hex.
fn b64_to_hex(s: &str) -> Option<String> {
    let mut bits: u32 = 0;
    let mut n = 0;
    let mut out = String::new();
    for c in s.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(v);
        n += 6;
        if n >= 8 {
            n -= 8;
            out += &format!("{:02X}", (bits >> n) & 0xff);
        }
    }
    Some(out)
}
