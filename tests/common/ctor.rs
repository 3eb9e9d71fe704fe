//! Stock C tor processes on loopback, for interop tests and benchmarks.
//!
//! Each [`CTorRelay`] gets its own free ports and its own data directory, so tests can run
//! in parallel. It runs with `TestingTorNetwork 1`, publishes nothing, and names a fake
//! authority on loopback, so it never talks to anything but loopback. Its identities and
//! ntor key are read back from its key files. The process is killed and its directory
//! removed when the value is dropped (set `ONIONGATE_KEEP_TEST_DIRS=1` to keep them).
//!
//! A missing `tor` binary is a test failure, never a silent skip: `./scripts/test`
//! installs it.

use std::fs;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port on loopback");
    l.local_addr().expect("local addr").port()
}

/// A fresh directory under the system temp dir, removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// Makes a new unique directory whose name starts with `prefix`.
    pub fn new(prefix: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "oniongate-{prefix}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("ONIONGATE_KEEP_TEST_DIRS").is_none() {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}

/// The `tor` binary; panics with a clear message if it is not installed.
pub fn tor_binary() -> PathBuf {
    for dir in ["/usr/sbin", "/usr/bin", "/usr/local/bin", "/usr/local/sbin"] {
        let p = Path::new(dir).join("tor");
        if p.exists() {
            return p;
        }
    }
    panic!("stock C tor is not installed (Debian package `tor`); ./scripts/test installs it");
}

/// How to configure a C tor relay.
#[derive(Debug, Clone, Default)]
pub struct CTorOptions {
    /// Allow exit traffic, with these `ExitPolicy` lines (loopback needs an explicit accept).
    pub exit_policy: Option<Vec<String>>,
    /// Extra torrc lines.
    pub extra: Vec<String>,
}

/// A running stock C tor relay.
#[derive(Debug)]
pub struct CTorRelay {
    child: Child,
    dir: TempDir,
    data: PathBuf,
    /// Its ORPort on loopback.
    pub or_addr: SocketAddr,
    /// Its nickname.
    pub nickname: String,
    /// SHA-1 of its RSA identity key.
    pub rsa_id: [u8; 20],
    /// Its Ed25519 identity key.
    pub ed_id: [u8; 32],
    /// Its current ntor onion key (public).
    pub ntor_key: [u8; 32],
}

fn read_tagged(path: &Path, tag: &str, len: usize) -> io::Result<Vec<u8>> {
    let data = fs::read(path)?;
    if data.len() != 32 + len || !data.starts_with(tag.as_bytes()) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: not a {tag:?} file", path.display()),
        ));
    }
    Ok(data[32..].to_vec())
}

impl CTorRelay {
    /// Starts a relay and waits (up to 60 s) until its ORPort accepts connections and its
    /// keys are on disk. Retries on a port clash.
    pub fn start(name: &str, opts: &CTorOptions) -> CTorRelay {
        let mut last_err = String::new();
        for _ in 0..3 {
            match Self::try_start(name, opts, None) {
                Ok(r) => return r,
                Err(e) => last_err = e,
            }
        }
        panic!("C tor relay {name} did not start: {last_err}");
    }

    /// Like [`CTorRelay::start`], on an existing DataDirectory `data_dir` (kept on drop):
    /// C tor loads the keys it finds there.
    pub fn start_with_data_dir(name: &str, opts: &CTorOptions, data_dir: &Path) -> CTorRelay {
        let mut last_err = String::new();
        for _ in 0..3 {
            match Self::try_start(name, opts, Some(data_dir)) {
                Ok(r) => return r,
                Err(e) => last_err = e,
            }
        }
        panic!("C tor relay {name} did not start: {last_err}");
    }

    /// The relay's DataDirectory.
    pub fn data_dir(&self) -> PathBuf {
        self.data.clone()
    }

    fn try_start(
        name: &str,
        opts: &CTorOptions,
        data_dir: Option<&Path>,
    ) -> Result<CTorRelay, String> {
        let dir = TempDir::new(&format!("ctor-{name}"));
        let port = free_port();
        let nickname: String = format!("ct{name}")
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(19)
            .collect();
        let data = data_dir.map_or_else(|| dir.path().join("data"), Path::to_path_buf);
        let mut torrc = vec![
            format!("DataDirectory {}", data.display()),
            format!("ORPort 127.0.0.1:{port}"),
            format!("Nickname {nickname}"),
            "SocksPort 0".into(),
            "PublishServerDescriptor 0".into(),
            "AssumeReachable 1".into(),
            "TestingTorNetwork 1".into(),
            "UseDefaultFallbackDirs 0".into(),
            "ContactInfo oniongate-test@example.invalid".into(),
            // A fake authority on loopback: keeps the relay off every real network.
            format!(
                "DirAuthority fakeauth orport={} v3ident={} 127.0.0.1:{} {}",
                free_port(),
                "0".repeat(40),
                free_port(),
                "0".repeat(40)
            ),
            format!(
                "Log notice file {}",
                dir.path().join("notice.log").display()
            ),
            format!("Log info file {}", dir.path().join("info.log").display()),
            "SafeLogging 0".into(),
        ];
        match &opts.exit_policy {
            Some(lines) => {
                torrc.push("ExitRelay 1".into());
                torrc.push("ExitPolicyRejectPrivate 0".into());
                torrc.push("ExitPolicyRejectLocalInterfaces 0".into());
                torrc.extend(lines.iter().map(|l| format!("ExitPolicy {l}")));
            }
            None => torrc.push("ExitRelay 0".into()),
        }
        torrc.extend(opts.extra.iter().cloned());
        let torrc_path = dir.path().join("torrc");
        fs::write(&torrc_path, torrc.join("\n") + "\n").map_err(|e| e.to_string())?;
        let mut child = Command::new(tor_binary())
            .arg("-f")
            .arg(&torrc_path)
            .arg("--RunAsDaemon")
            .arg("0")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("spawn tor: {e}"))?;
        let or_addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let deadline = Instant::now() + Duration::from_secs(60);
        let keys = data.join("keys");
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!(
                    "tor exited with {status}; log:\n{}",
                    tail(&dir.path().join("notice.log"))
                ));
            }
            let ready = TcpStream::connect_timeout(&or_addr, Duration::from_millis(200)).is_ok()
                && keys.join("secret_onion_key_ntor").exists()
                && data.join("fingerprint").exists();
            if ready {
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                return Err(format!(
                    "timed out; log:\n{}",
                    tail(&dir.path().join("notice.log"))
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let fp = fs::read_to_string(data.join("fingerprint")).map_err(|e| e.to_string())?;
        let hexid = fp.split_whitespace().nth(1).ok_or("bad fingerprint file")?;
        let rsa_id: [u8; 20] = hex::decode(hexid)
            .map_err(|e| e.to_string())?
            .try_into()
            .map_err(|_| "bad fingerprint length")?;
        let ed = read_tagged(
            &keys.join("ed25519_master_id_public_key"),
            "== ed25519v1-public: type0 ==",
            32,
        )
        .map_err(|e| e.to_string())?;
        let ntor = read_tagged(
            &keys.join("secret_onion_key_ntor"),
            "== c25519v1: onion ==",
            64,
        )
        .map_err(|e| e.to_string())?;
        Ok(CTorRelay {
            child,
            dir,
            data,
            or_addr,
            nickname,
            rsa_id,
            ed_id: ed.try_into().map_err(|_| "bad ed25519 key length")?,
            ntor_key: ntor[32..64].try_into().map_err(|_| "bad ntor key length")?,
        })
    }

    /// The relay's notice-level log so far.
    pub fn notice_log(&self) -> String {
        fs::read_to_string(self.dir.path().join("notice.log")).unwrap_or_default()
    }

    /// The relay's info-level log so far (C tor logs most protocol refusals at info).
    pub fn info_log(&self) -> String {
        fs::read_to_string(self.dir.path().join("info.log")).unwrap_or_default()
    }

    /// The relay's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for CTorRelay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tail(path: &Path) -> String {
    let s = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}
