//! `oniongate-relay`: the Oniongate relay (guard, middle, exit, HSDir, directory authority).
//!
//! A thin `main`: the library parses tor's command line, loads and validates the
//! configuration and sets up logging ([`oniongate::rt::daemon_main`]); this file only says
//! what the daemon runs.

use std::process::ExitCode;

use oniongate::config::RelayConfig;

fn main() -> ExitCode {
    oniongate::rt::daemon_main::<RelayConfig, _>(&oniongate::rt::args(), |_config| {
        tracing::error!(
            "{}: configuration is valid, but the relay's network functions (channels, circuits, directory) arrive in a later stage of Oniongate; nothing to run yet",
            env!("CARGO_BIN_NAME")
        );
        Ok(ExitCode::FAILURE)
    })
}
