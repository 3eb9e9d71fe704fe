//! The runtime layer (feature `rt`): the only module that touches tokio and
//! tracing-subscriber. It builds the tokio runtime, sets up logging from the typed `Log` lines,
//! and turns SIGINT/SIGTERM into a shutdown future. It makes no protocol decisions.
//!
//! Submodules: [`tls`] (rustls configurations for channels), [`keystore`] (key files
//! with safe modes), [`relay_keys`] (the relay's key files), [`cellio`] and [`channel`]
//! (cells over TLS, link handshakes) and [`relay`] (the relay daemon's runtime: a thin shell
//! around the sans-IO circuit layer).
//!
//! Deliberately not here: the other daemons' event loops (later stages add them here, as
//! thin shells around the sans-IO core).

use std::future::Future;

pub mod cellio;
pub mod channel;
pub mod circmgr;
pub mod client;
mod daemon;
pub mod dirauth;
pub mod dircache;
pub mod dirclient;
pub mod dirserve;
pub mod keystore;
mod log;
pub mod node;
pub mod publish;
pub mod relay;
pub mod relay_keys;
pub mod socks;
pub mod testnet;
pub mod tls;
pub mod tor_client;

pub use daemon::{args, daemon_main, DaemonError};
pub use log::{format_timestamp, init_logging, tor_level_name};

/// A runtime-layer failure.
#[derive(Debug, thiserror::Error)]
pub enum RtError {
    /// A `Log ... file PATH` could not be opened.
    #[error("cannot open log file {path}: {source}")]
    LogFile {
        /// The path.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Logging was already set up in this process.
    #[error("logging is already initialized")]
    LoggingAlreadySet,
    /// The tokio runtime or a signal handler could not be created.
    #[error("runtime: {0}")]
    Io(#[from] std::io::Error),
}

/// Builds the multi-threaded tokio runtime the daemons run on.
pub fn runtime() -> Result<tokio::runtime::Runtime, RtError> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("oniongate")
        .build()?)
}

/// Which signal asked us to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM.
    Terminate,
}

/// Installs SIGINT and SIGTERM handlers now, and returns a future that completes with the
/// first of them to arrive. Must be called inside the runtime.
pub fn shutdown_signal() -> Result<impl Future<Output = Signal>, RtError> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => Signal::Terminate,
                _ = int.recv() => Signal::Interrupt,
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            // Without a handler there is nothing better to do than wait forever.
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
            Signal::Interrupt
        })
    }
}

#[cfg(all(test, unix))]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sigterm_resolves_the_shutdown_future() {
        let rt = runtime().unwrap_or_else(|e| panic!("{e}"));
        let got = rt.block_on(async {
            let stop = shutdown_signal().unwrap_or_else(|e| panic!("{e}"));
            let status = std::process::Command::new("kill")
                .args(["-TERM", &std::process::id().to_string()])
                .status()
                .unwrap_or_else(|e| panic!("kill: {e}"));
            assert!(status.success());
            tokio::time::timeout(std::time::Duration::from_secs(10), stop).await
        });
        assert_eq!(got.ok(), Some(Signal::Terminate));
    }
}
