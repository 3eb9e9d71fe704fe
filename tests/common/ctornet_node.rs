//! One tor process of a [`super::ctornet::CTorNet`] (its role, ports, logs, control port,
//! kill on drop) and the keys made before it starts: authority keys with `tor-gencert`
//! (from a cache shared by every test run), relay identities with `tor --list-fingerprint`.

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::ctor::tor_binary;
use super::ctornet_io::{socks5_http_get, Control, NetError, NetResult};

/// Lines of each notice log shown on failure.
pub(super) const TAIL_LINES: usize = 25;

/// What a process is in the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A v3 directory authority (also a relay, never an exit).
    Authority,
    /// A relay that is not an exit.
    Relay,
    /// A relay that is an exit allowed to reach loopback.
    Exit,
    /// A client with a SocksPort and a ControlPort.
    Client,
}

/// Makes the keys of one router before it starts: an authority's with
/// [`gen_authority`] (returns its `DirAuthority` line), a relay's identity with
/// `tor --list-fingerprint`.
pub(super) fn gen_keys(
    nd: &Path,
    name: &str,
    role: Role,
    p: Ports,
    empty: &Path,
) -> Result<Option<String>, String> {
    fs::create_dir_all(nd).map_err(|e| e.to_string())?;
    set_private(nd);
    let or = p.or.unwrap_or_default();
    match role {
        Role::Authority => {
            let index = name.trim_start_matches("auth").parse().unwrap_or(0);
            gen_authority(nd, name, index, or, p.dir.unwrap_or_default(), empty).map(Some)
        }
        _ => list_fingerprint(nd, name, or, empty).map(|()| None),
    }
}

/// `tor --list-fingerprint`: makes the RSA and Ed25519 identity keys in `nd/keys` and the
/// `fingerprint` file.
fn list_fingerprint(nd: &Path, name: &str, or: u16, empty: &Path) -> Result<(), String> {
    let out = Command::new(tor_binary())
        .arg("--ignore-missing-torrc")
        .arg("-f")
        .arg(empty)
        .arg("--defaults-torrc")
        .arg(empty)
        .args(["--quiet", "--list-fingerprint", "--DataDirectory"])
        .arg(nd)
        .args(["--ORPort", &format!("127.0.0.1:{or}"), "--Nickname", name])
        .output()
        .map_err(|e| format!("spawn tor --list-fingerprint: {e}"))?;
    if !out.status.success() || read_fingerprint(nd).is_none() {
        return Err(format!(
            "tor --list-fingerprint failed for {name}: {}",
            String::from_utf8_lossy(&out.stdout)
        ));
    }
    Ok(())
}

/// The three files tor-gencert makes, as C tor reads them from `DataDirectory/keys`.
const AUTH_KEY_FILES: [&str; 3] = [
    "authority_identity_key",
    "authority_signing_key",
    "authority_certificate",
];

/// Runs `tor-gencert --create-identity-key` (12-month certificate, empty passphrase)
/// writing the three key files into `keys`; with `dir_addr`, the certificate names it.
fn tor_gencert(keys: &Path, dir_addr: Option<String>) -> Result<(), String> {
    let gencert = ["/usr/bin/tor-gencert", "/usr/local/bin/tor-gencert"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .ok_or("tor-gencert is not installed (Debian package `tor`)")?;
    let mut cmd = Command::new(gencert);
    cmd.arg("--create-identity-key").args(["-m", "12"]);
    if let Some(a) = dir_addr {
        cmd.args(["-a", &a]);
    }
    for (flag, file) in ["-i", "-s", "-c"].into_iter().zip(AUTH_KEY_FILES) {
        cmd.arg(flag).arg(keys.join(file));
    }
    let mut child = cmd
        .args(["--passphrase-fd", "0"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawn tor-gencert: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write;
        let _ = stdin.write_all(b"\n");
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "tor-gencert failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

/// Authority keys of the `index`th authority from a cache shared by every network of
/// every test run (`$TMPDIR/oniongate-ctornet-authkeys/auth<index>`), made on first use
/// and again when older than 180 days. RSA-3072 generation takes seconds on a busy
/// machine; authority identities need not differ between isolated networks. Cached
/// certificates carry no `dir-address` (C tor would take the authority's address from
/// it). `CTORNET_FRESH_KEYS=1` makes fresh keys for every network instead.
fn cached_authority_keys(index: usize, keys: &Path) -> Result<(), String> {
    let root = std::env::temp_dir().join("oniongate-ctornet-authkeys");
    let slot = root.join(format!("auth{index}"));
    let fresh = fs::metadata(slot.join(AUTH_KEY_FILES[2]))
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age < Duration::from_secs(180 * 86400));
    if !fresh {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = root.join(format!("new-{}-{n}", std::process::id()));
        fs::create_dir_all(&tmp).map_err(|e| e.to_string())?;
        tor_gencert(&tmp, None)?;
        if slot.exists() {
            // Stale: move it aside (one racer wins), then remove it.
            let old = root.join(format!("old-{}-{n}", std::process::id()));
            if fs::rename(&slot, &old).is_ok() {
                let _ = fs::remove_dir_all(&old);
            }
        }
        // Fails if another racer's keys are in place already: then those are used.
        if fs::rename(&tmp, &slot).is_err() {
            let _ = fs::remove_dir_all(&tmp);
        }
    }
    let copied = AUTH_KEY_FILES
        .iter()
        .try_for_each(|f| fs::copy(slot.join(f), keys.join(f)).map(|_| ()));
    if copied.is_err() {
        // The entry was replaced under us (a stale one, by another process): own keys.
        for f in AUTH_KEY_FILES {
            let _ = fs::remove_file(keys.join(f));
        }
        tor_gencert(keys, None)?;
    }
    Ok(())
}

/// Makes an authority's keys in `nd/keys` (tor-gencert, through the cache of
/// [`cached_authority_keys`]) and its relay identity (`tor --list-fingerprint`); returns
/// its `DirAuthority` line.
fn gen_authority(
    nd: &Path,
    name: &str,
    index: usize,
    or: u16,
    dp: u16,
    empty: &Path,
) -> Result<String, String> {
    let keys = nd.join("keys");
    fs::create_dir_all(&keys).map_err(|e| e.to_string())?;
    if std::env::var_os("CTORNET_FRESH_KEYS").is_some() {
        tor_gencert(&keys, Some(format!("127.0.0.1:{dp}")))?;
    } else {
        cached_authority_keys(index, &keys)?;
    }
    list_fingerprint(nd, name, or, empty)?;
    let cert = fs::read_to_string(keys.join("authority_certificate")).map_err(|e| e.to_string())?;
    let v3ident = cert
        .lines()
        .find_map(|l| l.strip_prefix("fingerprint "))
        .ok_or("no fingerprint in authority_certificate")?
        .trim()
        .to_string();
    let fp = read_fingerprint(nd).ok_or("no fingerprint file")?;
    Ok(format!(
        "DirAuthority {name} orport={or} no-v2 v3ident={v3ident} 127.0.0.1:{dp} {fp}"
    ))
}

pub(super) fn set_private(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = fs::set_permissions(p, fs::Permissions::from_mode(0o700));
}

pub(super) fn read_fingerprint(nd: &Path) -> Option<String> {
    let s = fs::read_to_string(nd.join("fingerprint")).ok()?;
    let fp = s.split_whitespace().nth(1)?.to_ascii_uppercase();
    (fp.len() == 40).then_some(fp)
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Ports {
    pub(super) or: Option<u16>,
    pub(super) dir: Option<u16>,
    pub(super) socks: Option<u16>,
    pub(super) control: Option<u16>,
}

/// One running tor process of the network.
#[derive(Debug)]
pub struct Node {
    /// Its nickname (`auth0`, `relay0`, `exit0`, `client0`, ...), also its directory name.
    pub name: String,
    /// What it is.
    pub role: Role,
    /// Its DataDirectory (also holds torrc, notice.log, stdout.log).
    pub dir: PathBuf,
    /// When it was spawned.
    pub started: Instant,
    pub(super) child: Child,
    pub(super) ports: Ports,
}

fn loopback(port: Option<u16>) -> Option<SocketAddr> {
    port.map(|p| SocketAddr::from(([127, 0, 0, 1], p)))
}

impl Node {
    /// Its ORPort (authorities and relays).
    pub fn or_addr(&self) -> Option<SocketAddr> {
        loopback(self.ports.or)
    }

    /// Its DirPort (authorities).
    pub fn dir_addr(&self) -> Option<SocketAddr> {
        loopback(self.ports.dir)
    }

    /// Its SocksPort (clients).
    pub fn socks_addr(&self) -> Option<SocketAddr> {
        loopback(self.ports.socks)
    }

    /// Its ControlPort (clients; no authentication).
    pub fn control_addr(&self) -> Option<SocketAddr> {
        loopback(self.ports.control)
    }

    /// Its RSA identity fingerprint, 40 upper-case hex digits (None for clients).
    pub fn fingerprint(&self) -> Option<String> {
        read_fingerprint(&self.dir)
    }

    /// Its Ed25519 identity key (from `keys/ed25519_master_id_public_key`; relays and
    /// authorities).
    pub fn ed25519_id(&self) -> Option<[u8; 32]> {
        tagged_key(
            &self.dir.join("keys/ed25519_master_id_public_key"),
            "== ed25519v1-public: type0 ==",
            0,
        )
    }

    /// Its current ntor onion key, public part (from `keys/secret_onion_key_ntor`).
    pub fn ntor_key(&self) -> Option<[u8; 32]> {
        tagged_key(
            &self.dir.join("keys/secret_onion_key_ntor"),
            "== c25519v1: onion ==",
            32,
        )
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its notice log so far.
    pub fn notice_log(&self) -> String {
        fs::read_to_string(self.dir.join("notice.log")).unwrap_or_default()
    }

    /// The last `n` lines of its notice log (and of stdout.log, where tor reports torrc
    /// errors before its log is open).
    pub fn log_tail(&self, n: usize) -> String {
        let mut out = String::new();
        // stdout.log matters only when tor failed before opening its log (torrc errors).
        let notice_empty = fs::metadata(self.dir.join("notice.log")).map_or(true, |m| m.len() == 0);
        let files: &[&str] = if notice_empty {
            &["stdout.log"]
        } else {
            &["notice.log"]
        };
        for f in files {
            let s = fs::read_to_string(self.dir.join(f)).unwrap_or_default();
            let lines: Vec<&str> = s.lines().collect();
            let tail = &lines[lines.len().saturating_sub(n)..];
            if !tail.is_empty() {
                out += &format!(
                    "---- {} {f} (last {} lines)\n{}\n",
                    self.name,
                    tail.len(),
                    tail.join("\n")
                );
            }
        }
        out
    }

    /// Sends SIGHUP (tor then retries its directory downloads at once).
    pub fn hup(&self) {
        let _ = Command::new("kill")
            .args(["-HUP", &self.pid().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    /// Whether the process still runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits until its notice log says `Bootstrapped 100%`; returns the time since spawn.
    pub fn wait_bootstrapped(&self, timeout: Duration) -> NetResult<Duration> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.notice_log().contains("Bootstrapped 100%") {
                return Ok(self.started.elapsed());
            }
            if Instant::now() > deadline {
                return Err(NetError(format!(
                    "{} did not bootstrap within {timeout:?}\n{}",
                    self.name,
                    self.log_tail(TAIL_LINES)
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A control-port connection (clients only).
    pub fn control(&self) -> NetResult<Control> {
        let addr = self
            .control_addr()
            .ok_or_else(|| NetError(format!("{} has no ControlPort", self.name)))?;
        Control::connect(addr, Duration::from_secs(10))
    }

    /// `GETINFO status/bootstrap-phase` through the control port.
    pub fn bootstrap_phase(&self) -> NetResult<String> {
        self.control()?.getinfo("status/bootstrap-phase")
    }

    /// Fetches `http://127.0.0.1:port/url_path` through this client's SocksPort on a
    /// circuit through exactly `path` (fingerprints or nicknames, guard first, exit last):
    /// builds the circuit, sets `__LeaveStreamsUnattached 1` for the fetch and attaches
    /// the SOCKS stream to the circuit (`ATTACHSTREAM`). One at a time per client.
    pub fn socks_get_via(
        &self,
        path: &[&str],
        port: u16,
        url_path: &str,
        timeout: Duration,
    ) -> NetResult<(u16, Vec<u8>)> {
        let socks = self
            .socks_addr()
            .ok_or_else(|| NetError(format!("{} has no SocksPort", self.name)))?;
        let mut ctl = self.control()?;
        let circ = ctl.build_circuit(path, timeout)?;
        ctl.command("SETCONF __LeaveStreamsUnattached=1")?;
        let url = url_path.to_string();
        let fetch =
            std::thread::spawn(move || socks5_http_get(socks, "127.0.0.1", port, &url, timeout));
        let target = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + timeout;
        let attached = loop {
            let ev = match ctl.next_event(deadline) {
                Ok(ev) => ev,
                Err(e) => break Err(e),
            };
            let f: Vec<&str> = ev.split(' ').collect();
            if f.len() >= 5 && f[0] == "STREAM" && f[2] == "NEW" && f[4] == target {
                break ctl
                    .command(&format!("ATTACHSTREAM {} {}", f[1], circ.id))
                    .map(|_| ());
            }
        };
        let _ = ctl.command("SETCONF __LeaveStreamsUnattached=0");
        let fetched = fetch
            .join()
            .unwrap_or_else(|_| Err(NetError("fetch thread panicked".into())));
        attached.map_err(|e| NetError(format!("attaching the stream to {circ:?}: {e}")))?;
        fetched.map_err(|e| {
            NetError(format!(
                "fetch via {circ:?}: {e}\n{}",
                self.log_tail(TAIL_LINES)
            ))
        })
    }
}

/// 32 bytes at `at` after the 32-byte tag header of a C tor key file.
fn tagged_key(path: &Path, tag: &str, at: usize) -> Option<[u8; 32]> {
    let data = fs::read(path).ok()?;
    if !data.starts_with(tag.as_bytes()) {
        return None;
    }
    data.get(32 + at..64 + at)?.try_into().ok()
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
