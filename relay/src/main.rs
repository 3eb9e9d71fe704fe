//! `oniongate-relay`: the Oniongate relay (guard, middle, exit, HSDir, directory authority).
//!
//! A thin `main`: parse the tor-style command line, load and validate the configuration,
//! set up safe logging and logging, then hand over to the library. Exit status 0 on success,
//! 1 on a configuration or runtime error (printed to stderr as `[err] torrc:12: ...`).

use std::process::ExitCode;

use oniongate::config::cli::{self, Command};
use oniongate::config::{Daemon, RelayConfig};

/// This binary's daemon.
const DAEMON: Daemon = Daemon::Relay;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    match run(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("[err] {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> anyhow::Result<ExitCode> {
    let invocation = match cli::parse_args(DAEMON, args)? {
        Command::Help => {
            print!("{}", cli::usage(DAEMON));
            return Ok(ExitCode::SUCCESS);
        }
        Command::Version => {
            println!("{}", cli::version_line(DAEMON));
            return Ok(ExitCode::SUCCESS);
        }
        Command::VerifyConfig(invocation) => {
            invocation.load::<RelayConfig>()?;
            println!("Configuration was valid");
            return Ok(ExitCode::SUCCESS);
        }
        Command::Run(invocation) => invocation,
    };
    let config: RelayConfig = invocation.load()?;
    oniongate::safelog::set_safe_logging(config.common.safe_logging);
    oniongate::rt::init_logging(&config.common.logs)?;
    tracing::info!(
        "Oniongate {} {} starting",
        DAEMON.binary(),
        oniongate::VERSION
    );
    tracing::error!(
        "{}: configuration is valid, but the relay's network functions (channels, circuits, directory) arrive in a later stage of Oniongate; nothing to run yet",
        DAEMON.binary()
    );
    Ok(ExitCode::FAILURE)
}
