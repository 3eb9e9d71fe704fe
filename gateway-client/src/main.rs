//! `oniongate-client`: the Oniongate client (SOCKS5 now; UDP port forwards to onion services
//! in a later stage).
//!
//! A thin `main`: the library parses tor's command line, loads and validates the
//! configuration and sets up logging ([`oniongate::rt::daemon_main`]); this file starts the
//! Tor client ([`oniongate::rt::tor_client::TorClient`]) and its SOCKS listeners, and runs
//! until SIGINT or SIGTERM, then stops cleanly.

use std::process::ExitCode;

use oniongate::config::ClientConfig;
use oniongate::rt::tor_client::TorClient;

fn main() -> ExitCode {
    oniongate::rt::daemon_main::<ClientConfig, _>(&oniongate::rt::args(), |config| {
        let rt = oniongate::rt::runtime()?;
        rt.block_on(async move {
            let stop = oniongate::rt::shutdown_signal()?;
            if !config.udp_forwards.is_empty() {
                tracing::warn!(
                    "{} UDPForward line(s) configured: UDP forwarding to onion services is not active yet (a later stage of Oniongate); ignoring them",
                    config.udp_forwards.len()
                );
            }
            let ports = config.socks_ports.clone();
            let client = TorClient::start(config).await?;
            for addr in client.serve_socks(&ports).await? {
                tracing::info!("Opened Socks listener connection (ready) on {addr}");
            }
            let signal = stop.await;
            tracing::info!(?signal, "stopping");
            client.shutdown().await;
            Ok::<_, oniongate::rt::DaemonError>(ExitCode::SUCCESS)
        })
    })
}
