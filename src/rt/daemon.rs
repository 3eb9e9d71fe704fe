//! The start-up every daemon shares: tor's command line, configuration, safe logging and
//! logging, then the daemon's own body.
//!
//! Each binary's `main` is one call to [`daemon_main`] with its configuration type and a
//! closure that runs the daemon. Exit status 0 on success; 1 on a command-line,
//! configuration or runtime error, which is printed to stderr as `[err] torrc:12: ...`.

use std::process::ExitCode;

use crate::config::cli::{self, Command};
use crate::config::DaemonConfig;

/// An error from a daemon's body, reported on stderr and in the log.
pub type DaemonError = Box<dyn std::error::Error + Send + Sync>;

/// Runs a daemon: parses `args` (without the program name), handles `--help`, `--version`
/// and `--verify-config`, loads and validates the configuration, sets up safe logging and
/// logging, then calls `body` with the configuration.
pub fn daemon_main<C, F>(args: &[String], body: F) -> ExitCode
where
    C: DaemonConfig,
    F: FnOnce(C) -> Result<ExitCode, DaemonError>,
{
    match run::<C, F>(args, body) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("[err] {e}");
            ExitCode::FAILURE
        }
    }
}

fn run<C, F>(args: &[String], body: F) -> Result<ExitCode, DaemonError>
where
    C: DaemonConfig,
    F: FnOnce(C) -> Result<ExitCode, DaemonError>,
{
    let daemon = C::DAEMON;
    let invocation = match cli::parse_args(daemon, args)? {
        Command::Help => {
            print!("{}", cli::usage(daemon));
            return Ok(ExitCode::SUCCESS);
        }
        Command::Version => {
            println!("{}", cli::version_line(daemon));
            return Ok(ExitCode::SUCCESS);
        }
        Command::VerifyConfig(invocation) => {
            invocation.load::<C>()?;
            println!("Configuration was valid");
            return Ok(ExitCode::SUCCESS);
        }
        Command::Run(invocation) => invocation,
    };
    let config: C = invocation.load()?;
    crate::safelog::set_safe_logging(config.common().safe_logging);
    super::init_logging(&config.common().logs)?;
    tracing::info!("Oniongate {} {} starting", daemon.binary(), crate::VERSION);
    body(config)
}

/// The process's arguments without the program name, lossily converted to UTF-8.
pub fn args() -> Vec<String> {
    std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}
