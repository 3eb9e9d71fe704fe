//! `oniongate-service`: the Oniongate onion-service daemon (stream and datagram services).
//!
//! A thin `main`: the library parses tor's command line, loads and validates the
//! configuration and sets up logging ([`oniongate::rt::daemon_main`]); this file only says
//! what the daemon runs.

use std::process::ExitCode;

use oniongate::config::ServiceConfig;

fn main() -> ExitCode {
    oniongate::rt::daemon_main::<ServiceConfig, _>(&oniongate::rt::args(), |_config| {
        tracing::error!(
            "{}: configuration is valid, but the onion-service functions (descriptors, introduction, rendezvous, datagrams) arrive in a later stage of Oniongate; nothing to run yet",
            env!("CARGO_BIN_NAME")
        );
        Ok(ExitCode::FAILURE)
    })
}
