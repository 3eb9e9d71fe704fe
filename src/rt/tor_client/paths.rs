//! The client's [`PathSource`]: paths from the current [`NetDir`] and the guard manager
//! (`client::path`, `client::guards`), guard state saved to `DataDirectory/state`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rand::rngs::StdRng;
use rand::SeedableRng;

use super::unix_now;
use crate::client::guards::{GuardConfig, GuardMgr, GuardState};
use crate::client::netdir::NetDir;
use crate::client::path::{self, ExitUsage};
use crate::client::{HandshakeKind, HopTarget};
use crate::ids::RsaIdentity;
use crate::rt::circmgr::PathSource;

struct State {
    netdir: Option<Arc<NetDir>>,
    guards: GuardMgr,
    rng: StdRng,
}

/// Paths over the current directory (none until bootstrap has enough of it).
pub(super) struct NetPaths {
    state: Mutex<State>,
    /// `DataDirectory/state`, if there is a data directory.
    state_file: Option<PathBuf>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl NetPaths {
    /// Starts from the saved guard state, if any.
    pub(super) fn new(config: GuardConfig, state_file: Option<PathBuf>) -> NetPaths {
        let saved = state_file
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .and_then(|t| match GuardState::from_text(&t) {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::warn!("ignoring the saved guard state: {e}");
                    None
                }
            })
            .unwrap_or_default();
        NetPaths {
            state: Mutex::new(State {
                netdir: None,
                guards: GuardMgr::new(config, saved),
                rng: StdRng::from_entropy(),
            }),
            state_file,
        }
    }

    /// Installs a new directory (guards are brought up to date with it).
    pub(super) fn set_netdir(&self, nd: NetDir) {
        let mut st = lock(&self.state);
        let st = &mut *st;
        st.guards.update(&nd, &mut st.rng, unix_now());
        st.netdir = Some(Arc::new(nd));
        if let Err(e) = self.save(&st.guards) {
            tracing::warn!("cannot save the guard state: {e}");
        }
    }

    /// Whether a directory is installed.
    pub(super) fn has_netdir(&self) -> bool {
        lock(&self.state).netdir.is_some()
    }

    /// Writes the guard state (atomically).
    fn save(&self, guards: &GuardMgr) -> std::io::Result<()> {
        match &self.state_file {
            Some(p) => super::write_atomic(p, guards.state().to_text().as_bytes()),
            None => Ok(()),
        }
    }
}

impl PathSource for NetPaths {
    fn exit_path(&self, port: Option<u16>) -> Result<Vec<HopTarget>, String> {
        let mut st = lock(&self.state);
        let st = &mut *st;
        let nd = st.netdir.clone().ok_or("no directory yet")?;
        let usage = match port {
            Some(p) => ExitUsage::port(p),
            None => ExitUsage::default(),
        };
        let p = path::exit_path(&nd, &mut st.rng, &mut st.guards, unix_now(), &usage)
            .map_err(|e| e.to_string())?;
        Ok(p.hop_targets(HandshakeKind::Ntor))
    }

    fn exit_allows(&self, exit: &RsaIdentity, port: u16) -> bool {
        let st = lock(&self.state);
        st.netdir
            .as_ref()
            .and_then(|nd| nd.by_rsa_id(exit).map(|r| r.allows_port(port)))
            .unwrap_or(false)
    }

    fn dir_hop(&self) -> Result<HopTarget, String> {
        let mut st = lock(&self.state);
        let st = &mut *st;
        let nd = st.netdir.clone().ok_or("no directory yet")?;
        let p = path::dir_path(&nd, &mut st.rng, &mut st.guards, unix_now())
            .map_err(|e| e.to_string())?;
        p.hop_targets(HandshakeKind::Ntor)
            .into_iter()
            .next()
            .ok_or_else(|| "empty directory path".into())
    }

    fn note_first_hop(&self, guard: &RsaIdentity, ok: bool) {
        let mut st = lock(&self.state);
        let now = unix_now();
        if ok {
            st.guards.note_success(guard, now);
        } else {
            st.guards.note_failure(guard, now);
        }
        if let Err(e) = self.save(&st.guards) {
            tracing::warn!("cannot save the guard state: {e}");
        }
    }
}
