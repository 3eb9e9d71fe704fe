//! `oniongate-relay`: the Oniongate relay (guard, middle, exit), and with
//! `AuthoritativeDirectory 1` + `V3AuthoritativeDirectory 1` a directory authority.
//!
//! A thin `main`: the library parses tor's command line, loads and validates the
//! configuration and sets up logging ([`oniongate::rt::daemon_main`]); this file starts the
//! node ([`oniongate::rt::node::RelayNode`]: the relay, its directory cache or authority,
//! its descriptor publisher) and runs it until SIGINT or SIGTERM, then stops it cleanly.
//!
//! `--keygen-authority` (with `-f torrc`): makes the relay keys and the v3 authority keys in
//! `DataDirectory/keys/` if missing, prints the `DirAuthority` line for the configured
//! addresses, and exits.

use std::process::ExitCode;

use oniongate::config::RelayConfig;
use oniongate::rt::dirauth::keygen_authority;
use oniongate::rt::node::RelayNode;

fn main() -> ExitCode {
    let mut args = oniongate::rt::args();
    let keygen = args.iter().any(|a| a == "--keygen-authority");
    args.retain(|a| a != "--keygen-authority");
    oniongate::rt::daemon_main::<RelayConfig, _>(&args, |config| {
        if keygen {
            println!("{}", keygen_authority(&config)?);
            return Ok(ExitCode::SUCCESS);
        }
        let rt = oniongate::rt::runtime()?;
        rt.block_on(async move {
            let stop = oniongate::rt::shutdown_signal()?;
            let node = RelayNode::start(config).await?;
            let signal = stop.await;
            tracing::info!(?signal, "stopping");
            let left = node.shutdown().await;
            if left > 0 {
                tracing::warn!(left, "some tasks did not stop in time");
            }
            Ok::<_, oniongate::rt::DaemonError>(ExitCode::SUCCESS)
        })
    })
}
