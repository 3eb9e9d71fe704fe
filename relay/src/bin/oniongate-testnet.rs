//! `oniongate-testnet`: a whole Tor network on loopback in one process (one directory
//! authority, relays of which some are exits allowed to reach loopback, a client with a
//! SOCKS port, and a small HTTP server to fetch through it) for trying Oniongate out.
//!
//! It waits until the client has bootstrapped, prints the SOCKS port, the `DirAuthority`
//! line, the torrc paths and an example `curl` command on stdout (logs go to stderr), and
//! runs until SIGINT or SIGTERM, then stops everything (one process: nothing is left
//! behind). The network itself is [`oniongate::rt::testnet::LocalNet`].
//!
//! It lives in the relay package because the relay daemon's node startup
//! ([`oniongate::rt::node::RelayNode`]) is what it runs most.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use oniongate::config::{LogDest, LogSeverity, LogSpec};
use oniongate::rt::testnet::{fresh_temp_dir, LocalNet, LocalNetOptions};

const USAGE: &str = "\
usage: oniongate-testnet [options]

Starts, on 127.0.0.1, a directory authority, relays (some exits allowed to reach
loopback) and a client; prints the client's SOCKS port once it has bootstrapped and
runs until interrupted (Ctrl-C / SIGTERM).

options:
  --dir PATH          keep torrcs and data directories in PATH (default: a fresh
                      temporary directory, removed on exit)
  --relays N          relays besides the authority (default 4)
  --exits N           how many of them are exits (default 2)
  --socks-port PORT   the client's SOCKS port (default: a free port)
  --http-port PORT    the loopback HTTP server's port (default 8000; 0: a free port)
  --no-http           do not start the HTTP server
  --voting-interval S the authority's voting interval in seconds (default 20)
  --timeout S         give up if the client has not bootstrapped after S seconds (default 120)
  --verbose           log at info level (default notice)
  -h, --help          this text
";

struct Args {
    opts: LocalNetOptions,
    timeout: u64,
    verbose: bool,
}

fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut a = Args {
        opts: LocalNetOptions {
            http_port: Some(8000),
            ..LocalNetOptions::default()
        },
        timeout: 120,
        verbose: false,
    };
    fn num<T: std::str::FromStr>(opt: &str, v: Option<String>) -> Result<T, String> {
        let v = v.ok_or_else(|| format!("{opt} needs a value"))?;
        v.parse()
            .map_err(|_| format!("{opt}: {v:?} is not a valid number"))
    }
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--dir" => a.opts.dir = Some(PathBuf::from(it.next().ok_or("--dir needs a value")?)),
            "--relays" => a.opts.relays = num(&arg, it.next())?,
            "--exits" => a.opts.exits = num(&arg, it.next())?,
            "--socks-port" => a.opts.socks_port = num(&arg, it.next())?,
            "--http-port" => a.opts.http_port = Some(num(&arg, it.next())?),
            "--no-http" => a.opts.http_port = None,
            "--voting-interval" => a.opts.voting_interval = num(&arg, it.next())?,
            "--timeout" => a.timeout = num(&arg, it.next())?,
            "--verbose" => a.verbose = true,
            other => return Err(format!("unexpected argument {other:?} (see --help)")),
        }
    }
    Ok(Some(a))
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(a)) => a,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("oniongate-testnet: {e}");
            return ExitCode::from(2);
        }
    };
    let log = LogSpec {
        min: if args.verbose {
            LogSeverity::Info
        } else {
            LogSeverity::Notice
        },
        max: LogSeverity::Err,
        dest: LogDest::Stderr,
    };
    if let Err(e) = oniongate::rt::init_logging(&[log]) {
        eprintln!("oniongate-testnet: {e}");
        return ExitCode::FAILURE;
    }
    let rt = match oniongate::rt::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("oniongate-testnet: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("oniongate-testnet: {e}");
            ExitCode::FAILURE
        }
    }
}

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Runs the network; a temporary directory it made is removed however it ends (also when
/// interrupted while the network is still starting).
async fn run(mut args: Args) -> Result<(), Error> {
    let made = if args.opts.dir.is_none() {
        let d = fresh_temp_dir();
        args.opts.dir = Some(d.clone());
        Some(d)
    } else {
        None
    };
    let r = run_in(args).await;
    if let Some(d) = made {
        if d.exists() {
            if let Err(e) = std::fs::remove_dir_all(&d) {
                tracing::warn!("cannot remove {}: {e}", d.display());
            }
        }
    }
    r
}

async fn run_in(args: Args) -> Result<(), Error> {
    let mut stop = std::pin::pin!(oniongate::rt::shutdown_signal()?);
    let mut opts = args.opts;
    // The default HTTP port may be taken: fall back to a free one rather than fail.
    if let Some(p) = opts.http_port.filter(|p| *p != 0) {
        if std::net::TcpListener::bind(("127.0.0.1", p)).is_err() {
            tracing::warn!("127.0.0.1:{p} is in use; the HTTP server takes a free port");
            opts.http_port = Some(0);
        }
    }
    tracing::info!(
        "starting a local network: 1 authority, {} relays ({} exits), 1 client",
        opts.relays,
        opts.exits
    );
    let net = tokio::select! {
        n = LocalNet::start(opts) => n?,
        s = &mut stop => {
            tracing::info!(?s, "interrupted while starting");
            return Ok(());
        }
    };
    let boot = tokio::select! {
        b = net.wait_bootstrapped(Duration::from_secs(args.timeout)) => Some(b),
        s = &mut stop => {
            tracing::info!(?s, "interrupted while bootstrapping");
            None
        }
    };
    match boot {
        Some(Ok(took)) => {
            tracing::info!("client bootstrapped in {:.1} s", took.as_secs_f64());
            print_summary(&net);
            let s = stop.await;
            tracing::info!(?s, "stopping the local network");
            net.shutdown().await;
            Ok(())
        }
        Some(Err(e)) => {
            net.shutdown().await;
            Err(e.into())
        }
        None => {
            net.shutdown().await;
            Ok(())
        }
    }
}

fn print_summary(net: &LocalNet) {
    use std::io::Write as _;
    let socks = net.socks_addr();
    let mut out = String::new();
    out.push_str("\nOniongate local test network is up.\n");
    out.push_str(&format!("SOCKS port: {}\n", socks.port()));
    out.push_str(&format!("SOCKS address: {socks}\n"));
    out.push_str(&format!(
        "DirAuthority line: {}\n",
        net.dir_authority_line()
    ));
    out.push_str(&format!("Directory: {}\n", net.dir().display()));
    for (name, path) in net.torrcs() {
        out.push_str(&format!("torrc {name}: {}\n", path.display()));
    }
    let target = net
        .http_addr()
        .map_or_else(|| "127.0.0.1:8000".to_string(), |a| a.to_string());
    out.push_str(&format!(
        "Try: curl --socks5-hostname {socks} http://{target}/\n"
    ));
    out.push_str("Press Ctrl-C to stop.\n");
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(out.as_bytes());
    let _ = o.flush();
}
