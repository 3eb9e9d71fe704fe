//! The directory task: runs [`DirMgr`]'s fetches over one-hop BEGIN_DIR circuits
//! (CREATE_FAST: [`CircMgr::one_hop`] to the chosen server while bootstrapping, then
//! [`CircMgr::dir_circuit`] to a directory guard once a directory is installed), feeds the answers back, writes the cache files,
//! installs each new directory in the path source, and reports bootstrap progress.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::sync::{mpsc, watch};

use super::{lock, unix_now, write_atomic, Shared};
use crate::client::dirmgr::{BootstrapPhase, CacheFile, Fetch, FetchKind};
use crate::client::{HandshakeKind, HopTarget};
use crate::crypto::ll::X25519Public;
use crate::ids::RsaIdentity;
use crate::rt::circmgr::CircMgr;
use crate::rt::client::Circuit;
use crate::rt::dirclient::{fetch_begin_dir, FetchOptions};
use crate::socks::IsolationKey;

/// Runs until `shutdown` turns true.
pub(super) async fn run(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let mut rng = StdRng::from_entropy();
    let (tx, mut rx) = mpsc::unbounded_channel::<(u64, Result<Vec<u8>, String>)>();
    let circs: Arc<tokio::sync::Mutex<HashMap<RsaIdentity, Circuit>>> = Arc::default();
    // (consensus valid-after, microdescs held) of the directory last installed.
    let mut installed: Option<(u64, usize)> = None;
    loop {
        let now = unix_now();
        let fetches = lock(&shared.dirmgr).poll_fetches(now, &mut rng);
        for f in fetches {
            tracing::debug!(id = f.id, path = %f.path, "directory fetch");
            if f.kind == FetchKind::Consensus {
                shared
                    .consensus_fetches
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            let tx = tx.clone();
            let mgr = shared.circmgr.clone();
            let circs = circs.clone();
            let sh = shared.clone();
            tokio::spawn(async move {
                let res = fetch_one(&sh, &mgr, &circs, &f).await;
                let _ = tx.send((f.id, res));
            });
        }
        report(&shared);
        let wake = lock(&shared.dirmgr).next_wakeup(now);
        let sleep = match wake {
            Some(t) if t > now => Duration::from_secs((t - now).min(60)),
            Some(_) => Duration::from_millis(200),
            None => Duration::from_secs(60),
        };
        tokio::select! {
            got = rx.recv() => {
                let Some((id, res)) = got else { return };
                let now = unix_now();
                let out = {
                    let mut dm = lock(&shared.dirmgr);
                    let r = dm.handle_response(id, res.as_deref().map_err(|e| e.clone()), now, &mut rng);
                    (r, dm.take_cache_writes())
                };
                if let Err(e) = out.0 {
                    tracing::info!("directory fetch refused: {e}");
                }
                write_cache(&shared, out.1);
                // A new consensus or new microdescriptors: a new directory.
                let (nd, key) = {
                    let dm = lock(&shared.dirmgr);
                    let key = (dm.consensus().map_or(0, |c| c.valid_after), dm.n_microdescs());
                    (dm.have_enough_dir_info(now).then(|| dm.netdir()).flatten(), key)
                };
                if let Some(nd) = nd {
                    if installed != Some(key) || !shared.paths.has_netdir() {
                        installed = Some(key);
                        shared.paths.set_netdir(nd);
                    }
                }
            }
            () = tokio::time::sleep(sleep) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
    }
}

/// Logs each bootstrap step passed (as C tor: one notice line per step), and publishes
/// the progress.
pub(super) fn report(shared: &Shared) {
    let steps = lock(&shared.dirmgr).take_progress(unix_now());
    for p in steps {
        shared.progress.send_if_modified(|old| {
            if p.percent > old.percent {
                tracing::info!("{}", p.log_line());
                *old = p;
                true
            } else {
                false
            }
        });
    }
}

/// Notes a runtime phase (connections, circuits) and reports it.
pub(super) fn phase(shared: &Shared, phase: BootstrapPhase) {
    lock(&shared.dirmgr).note_phase(phase);
    report(shared);
}

/// One fetch on a one-hop circuit to its server (reused while open).
async fn fetch_one(
    shared: &Shared,
    mgr: &CircMgr<IsolationKey>,
    circs: &tokio::sync::Mutex<HashMap<RsaIdentity, Circuit>>,
    f: &Fetch,
) -> Result<Vec<u8>, String> {
    // With a directory in hand, fetch from a directory guard as C tor does (one-hop,
    // CREATE_FAST, kept open); before that, or if the guard fails, from the server the
    // directory manager chose.
    let mut existing = None;
    if shared.paths.has_netdir() {
        match mgr.dir_circuit().await {
            Ok(c) => existing = Some(c),
            Err(e) => tracing::debug!("no directory guard circuit: {e}"),
        }
    }
    if existing.is_none() {
        existing = circs
            .lock()
            .await
            .get(&f.server.rsa_id)
            .filter(|c| c.closed_reason().is_none())
            .cloned();
    }
    let circ = match existing {
        Some(c) => c,
        None => {
            phase(shared, BootstrapPhase::Conn);
            let hop = HopTarget {
                addrs: vec![f.server.or_addr],
                rsa_id: f.server.rsa_id,
                ed_id: None,
                // Unused: the hop is keyed with CREATE_FAST.
                ntor_key: X25519Public::from([0u8; 32]),
                handshake: HandshakeKind::Ntor,
            };
            let c = mgr.one_hop(&hop).await.map_err(|e| e.to_string())?;
            for p in [
                BootstrapPhase::ConnDone,
                BootstrapPhase::Handshake,
                BootstrapPhase::HandshakeDone,
                BootstrapPhase::OnehopCreate,
            ] {
                phase(shared, p);
            }
            circs.lock().await.insert(f.server.rsa_id, c.clone());
            c
        }
    };
    phase(
        shared,
        match f.kind {
            FetchKind::Consensus => BootstrapPhase::RequestingStatus,
            FetchKind::Certs(_) => BootstrapPhase::LoadingKeys,
            FetchKind::Microdescs(_) => BootstrapPhase::RequestingDescriptors,
        },
    );
    let opts = FetchOptions {
        timeout: Duration::from_secs(60),
        ..FetchOptions::default()
    };
    fetch_begin_dir(&circ, &f.path, &opts)
        .await
        .map_err(|e| e.to_string())
}

fn write_cache(shared: &Shared, files: Vec<(CacheFile, String)>) {
    let Some(dir) = &shared.data_dir else {
        return;
    };
    for (f, text) in files {
        if let Err(e) = write_atomic(&dir.join(f.name()), text.as_bytes()) {
            tracing::warn!("cannot write {}: {e}", f.name());
        }
    }
}
