//! `oniongate-relay`: the Oniongate relay (guard, middle, exit).
//!
//! A thin `main`: the library parses tor's command line, loads and validates the
//! configuration and sets up logging ([`oniongate::rt::daemon_main`]); this file runs the
//! relay ([`oniongate::rt::relay::Relay`]) until SIGINT or SIGTERM, then stops it cleanly.

use std::process::ExitCode;

use oniongate::config::RelayConfig;
use oniongate::rt::relay::Relay;

fn main() -> ExitCode {
    oniongate::rt::daemon_main::<RelayConfig, _>(&oniongate::rt::args(), |config| {
        let rt = oniongate::rt::runtime()?;
        rt.block_on(async move {
            let stop = oniongate::rt::shutdown_signal()?;
            let relay = Relay::start(config).await?;
            let signal = stop.await;
            tracing::info!(?signal, "stopping");
            let left = relay.shutdown().await;
            if left > 0 {
                tracing::warn!(left, "some tasks did not stop in time");
            }
            Ok::<_, oniongate::rt::DaemonError>(ExitCode::SUCCESS)
        })
    })
}
