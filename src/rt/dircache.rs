//! A directory cache (dir-spec §5.1, §4.1; C tor's `dirclient.c`/`networkstatus.c` cache
//! schedule and `dircache.c` serving): mirrors both consensus flavors, the authorities' key
//! certificates and every microdescriptor the microdesc consensus lists from the
//! authorities' DirPorts, and serves them ([`DirSource`]) to BEGIN_DIR and DirPort clients.
//!
//! Rules: a consensus replaces the one held only if it parses, verifies
//! ([`Consensus::verify`] against the configured authorities and the certificates held)
//! and is newer; certificates only if they parse (certification checked), belong to a
//! configured authority and have not expired; microdescriptors only if their digest is one
//! the consensus lists. A bad fetch never replaces good data. Everything held is written to
//! the DataDirectory (`cached-consensus`, `cached-microdesc-consensus`, `cached-certs`,
//! `cached-microdescs`) through a temporary file and a rename, and loaded (re-verified) at
//! start. Fetch times follow C tor's caches: a random time in the first half-interval
//! after `fresh-until` (plus `min(120 s, interval/16)`); retries back off from 5 s.
//!
//! Serving as C tor: consensus requests honour the authority list (`client_likes_consensus`),
//! `If-Modified-Since` and `X-Or-Diff-From-Consensus` naming our consensus (304), and refuse
//! a consensus more than 24 h outside its validity (404 "Consensus is too old/new");
//! diffs are not made (404 "No such diff available" for `diff/` URLs).
//!
//! Not here: server descriptors other than our own (`/tor/server/authority`), extra-info,
//! consensus diffs, fetching from other caches.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use bytes::Bytes;
use sha3::{Digest as _, Sha3_256};

use crate::config::DirAuthority;
use crate::dir::doc::authcert::AuthCert;
use crate::dir::doc::consensus::{Consensus, Flavor};
use crate::dir::doc::microdesc::Microdesc;
use crate::dir::http;
use crate::dir::serve::Document;
use crate::ids::RsaIdentity;
use crate::rt::dirclient::FetchOptions;

/// C tor's `REASONABLY_LIVE_TIME`.
const REASONABLY_LIVE: u64 = 24 * 60 * 60;
/// Microdescriptors asked for in one request (C tor: 92 per request for caches).
const MD_BATCH: usize = 92;

/// An authority the cache fetches from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheAuthority {
    /// Nickname (logs).
    pub nickname: String,
    /// v3 identity (consensus signatures, certificates).
    pub v3ident: RsaIdentity,
    /// DirPort.
    pub dir_addr: SocketAddr,
}

impl CacheAuthority {
    /// The v3 authorities with a DirPort among `DirAuthority` lines.
    pub fn from_config(lines: &[DirAuthority]) -> Vec<CacheAuthority> {
        lines
            .iter()
            .filter(|a| !a.bridge && a.dir_port != 0)
            .filter_map(|a| {
                Some(CacheAuthority {
                    nickname: a.nickname.clone().unwrap_or_else(|| "authority".into()),
                    v3ident: a.v3ident?,
                    dir_addr: SocketAddr::from((a.addr, a.dir_port)),
                })
            })
            .collect()
    }
}

/// A consensus held, with what serving it needs.
#[derive(Debug)]
pub struct Cached {
    /// The parsed consensus.
    pub consensus: Consensus,
    /// Its text, and deflated.
    doc: Document,
    /// SHA3-256 of the signed part (what `X-Or-Diff-From-Consensus` names).
    sha3: [u8; 32],
    /// The v3 identities whose signatures it carries.
    signers: Vec<RsaIdentity>,
}

impl Cached {
    fn new(consensus: Consensus) -> Cached {
        let text = consensus.text.clone().into_bytes();
        let signed_len = consensus
            .text
            .find("\ndirectory-signature ")
            .map_or(text.len(), |p| p + "\ndirectory-signature ".len());
        let sha3: [u8; 32] = Sha3_256::digest(text.get(..signed_len).unwrap_or_default()).into();
        let signers = consensus.signatures.iter().map(|s| s.identity).collect();
        let deflated = Bytes::from(http::deflate(&text));
        Cached {
            consensus,
            doc: Document {
                body: Bytes::from(text),
                deflated: Some(deflated),
                lifetime: 0,
            },
            sha3,
            signers,
        }
    }
}

#[derive(Debug, Default)]
struct State {
    ns: Option<Arc<Cached>>,
    md: Option<Arc<Cached>>,
    certs: Vec<AuthCert>,
    mds: HashMap<[u8; 32], Bytes>,
    own_descriptor: Option<(RsaIdentity, Bytes)>,
}

/// The directory cache: shared between its fetch loop and the servers.
#[derive(Debug)]
pub struct DirCache {
    authorities: Vec<CacheAuthority>,
    data_dir: Option<PathBuf>,
    fetch: FetchOptions,
    state: RwLock<State>,
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Writes `data` to `dir/name` through `name.tmp` and a rename.
fn write_atomic(dir: &Path, name: &str, data: &[u8]) -> std::io::Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    std::fs::write(&tmp, data)?;
    std::fs::rename(&tmp, dir.join(name))
}

fn file_name(flavor: Flavor) -> &'static str {
    match flavor {
        Flavor::Ns => "cached-consensus",
        Flavor::Microdesc => "cached-microdesc-consensus",
    }
}

/// What one refresh round did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RefreshReport {
    /// Certificates now held.
    pub certs: usize,
    /// Flavors whose consensus was replaced.
    pub new_consensus: Vec<Flavor>,
    /// Microdescriptors added.
    pub new_microdescs: usize,
    /// Errors met (the round went on).
    pub errors: Vec<String>,
}

impl DirCache {
    /// A cache for these authorities, persisting in `data_dir` if given (and loading what
    /// is there now, if it still verifies).
    pub fn new(
        authorities: Vec<CacheAuthority>,
        data_dir: Option<PathBuf>,
        fetch: FetchOptions,
    ) -> Arc<DirCache> {
        let cache = Arc::new(DirCache {
            authorities,
            data_dir,
            fetch,
            state: RwLock::new(State::default()),
        });
        cache.load(now_unix());
        cache
    }

    fn v3idents(&self) -> Vec<RsaIdentity> {
        self.authorities.iter().map(|a| a.v3ident).collect()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The consensus of a flavor held now.
    pub fn consensus(&self, flavor: Flavor) -> Option<Arc<Cached>> {
        let st = self.read();
        match flavor {
            Flavor::Ns => st.ns.clone(),
            Flavor::Microdesc => st.md.clone(),
        }
    }

    /// Number of microdescriptors held.
    pub fn n_microdescs(&self) -> usize {
        self.read().mds.len()
    }

    /// Sets the relay's own descriptor (served at `/tor/server/authority`).
    pub fn set_own_descriptor(&self, id: RsaIdentity, text: &str) {
        self.write().own_descriptor = Some((id, Bytes::copy_from_slice(text.as_bytes())));
    }

    /// Adds certificates that parse, belong to a configured authority and are live.
    pub fn add_certs(&self, text: &str, now: u64) -> Result<usize, String> {
        let certs = AuthCert::parse_many(text).map_err(|e| e.to_string())?;
        let ids = self.v3idents();
        let mut st = self.write();
        let mut added = 0;
        for c in certs {
            if !ids.contains(&c.fingerprint) || c.expires <= now {
                continue;
            }
            let key = c.signing_key_digest();
            if !st
                .certs
                .iter()
                .any(|o| o.fingerprint == c.fingerprint && o.signing_key_digest() == key)
            {
                st.certs.push(c);
                added += 1;
            }
        }
        st.certs.retain(|c| c.expires > now);
        Ok(added)
    }

    /// Offers a consensus: kept if it verifies and is newer than the one held.
    pub fn add_consensus(&self, text: &str, now: u64) -> Result<Option<Flavor>, String> {
        let c = Consensus::parse(text).map_err(|e| e.to_string())?;
        let certs = self.read().certs.clone();
        c.verify(&self.v3idents(), &certs, now)
            .map_err(|e| e.to_string())?;
        let flavor = c.flavor;
        let mut st = self.write();
        let slot = match flavor {
            Flavor::Ns => &mut st.ns,
            Flavor::Microdesc => &mut st.md,
        };
        if slot
            .as_ref()
            .is_some_and(|o| o.consensus.valid_after >= c.valid_after)
        {
            return Ok(None);
        }
        *slot = Some(Arc::new(Cached::new(c)));
        Ok(Some(flavor))
    }

    /// Microdescriptor digests the microdesc consensus lists that we lack.
    pub fn missing_microdescs(&self) -> Vec<[u8; 32]> {
        let st = self.read();
        let Some(md) = &st.md else {
            return Vec::new();
        };
        md.consensus
            .routers
            .iter()
            .filter_map(|r| r.md_digest)
            .filter(|d| !st.mds.contains_key(d))
            .collect()
    }

    /// Adds microdescriptors whose digests the consensus lists; drops those it no longer
    /// lists. Returns how many were added.
    pub fn add_microdescs(&self, text: &str) -> Result<usize, String> {
        let mds = Microdesc::parse_many(text).map_err(|e| e.to_string())?;
        let wanted: std::collections::HashSet<[u8; 32]> =
            self.missing_microdescs().into_iter().collect();
        let mut st = self.write();
        let mut added = 0;
        for m in mds {
            if wanted.contains(&m.digest) && !st.mds.contains_key(&m.digest) {
                st.mds.insert(m.digest, Bytes::from(m.text.into_bytes()));
                added += 1;
            }
        }
        Ok(added)
    }

    fn prune_microdescs(&self) {
        let mut st = self.write();
        let Some(md) = st.md.clone() else {
            return;
        };
        let listed: std::collections::HashSet<[u8; 32]> = md
            .consensus
            .routers
            .iter()
            .filter_map(|r| r.md_digest)
            .collect();
        st.mds.retain(|d, _| listed.contains(d));
    }

    /// Loads the DataDirectory files (each only if it still checks out).
    pub fn load(&self, now: u64) {
        let Some(dir) = self.data_dir.clone() else {
            return;
        };
        let read = |n: &str| std::fs::read_to_string(dir.join(n)).ok();
        if let Some(t) = read("cached-certs") {
            let _ = self.add_certs(&t, now);
        }
        for f in [Flavor::Ns, Flavor::Microdesc] {
            if let Some(t) = read(file_name(f)) {
                if let Err(e) = self.add_consensus(&t, now) {
                    tracing::info!(file = file_name(f), error = %e, "not using the cached consensus");
                }
            }
        }
        if let Some(t) = read("cached-microdescs") {
            let _ = self.add_microdescs(&t);
        }
    }

    /// Writes what is held to the DataDirectory.
    pub fn save(&self) -> std::io::Result<()> {
        let Some(dir) = &self.data_dir else {
            return Ok(());
        };
        std::fs::create_dir_all(dir)?;
        let st = self.read();
        let certs: String = st.certs.iter().map(|c| c.text.as_str()).collect();
        write_atomic(dir, "cached-certs", certs.as_bytes())?;
        for (f, c) in [(Flavor::Ns, &st.ns), (Flavor::Microdesc, &st.md)] {
            if let Some(c) = c {
                write_atomic(dir, file_name(f), &c.doc.body)?;
            }
        }
        let mut mds: Vec<(&[u8; 32], &Bytes)> = st.mds.iter().collect();
        mds.sort();
        let all: Vec<u8> = mds
            .into_iter()
            .flat_map(|(_, t)| t.iter().copied())
            .collect();
        write_atomic(dir, "cached-microdescs", &all)
    }
}

mod fetch;
mod serve;

pub use fetch::{consensus_url, next_fetch_time};

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::dir::serve::{lifetime, DirAnswer, DirRequest, DirSource};

    #[test]
    fn consensus_url_like_ctor() {
        let a = RsaIdentity::from_hex("14C131DFC5C6F93646BE72FA1401C02A8DF2E8B4").unwrap();
        let b = RsaIdentity::from_hex("0232AF901C31A04EE9848595AF9BB7620D4C5B2E").unwrap();
        assert_eq!(
            consensus_url(Flavor::Microdesc, &[a, b]),
            "/tor/status-vote/current/consensus-microdesc/0232AF+14C131.z"
        );
        assert_eq!(
            consensus_url(Flavor::Ns, &[a]),
            "/tor/status-vote/current/consensus/14C131.z"
        );
    }

    #[test]
    fn fetch_schedule_like_ctor_caches() {
        // Hourly consensus: start 120 s after fresh-until, within half an interval.
        let (va, fu, vu) = (0, 3600, 3 * 3600);
        assert_eq!(next_fetch_time(va, fu, vu, 0.0), 3720);
        assert_eq!(next_fetch_time(va, fu, vu, 0.999_999), 3720 + 1799);
        // A test network voting every 20 s: slop 1 s, window 10 s.
        assert_eq!(next_fetch_time(100, 120, 160, 0.0), 121);
        assert!(next_fetch_time(100, 120, 160, 0.99) < 131);
        // Degenerate times never panic and stay before valid-until.
        assert!(next_fetch_time(10, 10, 10, 0.5) <= 10);
    }

    #[test]
    fn empty_cache_serves_404s_and_refuses_uploads() {
        let c = DirCache::new(Vec::new(), None, FetchOptions::default());
        let req = DirRequest::Consensus {
            flavor: Flavor::Microdesc,
            authorities: vec![],
            diff_from: vec![],
            diff_only: false,
            if_modified_since: None,
        };
        assert_eq!(c.get(&req), DirAnswer::not_found());
        assert!(matches!(c.get(&DirRequest::KeysAll), DirAnswer::Document(d) if d.body.is_empty()));
        assert!(matches!(
            c.upload(b"router x"),
            DirAnswer::Status { code: 400, .. }
        ));
        assert!(c.add_consensus("junk", 0).is_err());
        assert!(c.add_certs("junk", 0).is_err());
        let id = RsaIdentity([1; 20]);
        c.set_own_descriptor(id, "router me\n");
        assert_eq!(
            c.get(&DirRequest::ServerFp(vec![id])),
            DirAnswer::document(&b"router me\n"[..], lifetime::ROUTERDESC_BY_DIGEST)
        );
    }
}
