//! `oniongate-client`: the Oniongate client (SOCKS5 and UDP port forwards to onion services).
//!
//! A thin `main`: the library parses tor's command line, loads and validates the
//! configuration and sets up logging ([`oniongate::rt::daemon_main`]); this file only says
//! what the daemon runs.

use std::process::ExitCode;

use oniongate::config::ClientConfig;

fn main() -> ExitCode {
    oniongate::rt::daemon_main::<ClientConfig, _>(&oniongate::rt::args(), |_config| {
        tracing::error!(
            "{}: configuration is valid, but the client's network functions (bootstrap, circuits, SOCKS, UDP forwards) arrive in a later stage of Oniongate; nothing to run yet",
            env!("CARGO_BIN_NAME")
        );
        Ok(ExitCode::FAILURE)
    })
}
