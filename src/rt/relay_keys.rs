//! The relay's key files on disk: `DataDirectory/keys/*` and the `fingerprint` files, as C
//! tor lays them out (see [`crate::keys`] for names and formats).
//!
//! A thin layer over [`crate::keys`]: it reads whichever files exist (and the modification
//! time of `secret_onion_key_ntor`, which stands for C tor's `LastRotatedOnionKey`), lets
//! the sans-IO code decide, and applies the writes and removals it asks for through
//! [`PrivateDir`] (directories 0700, files 0600, atomic writes). Errors name the full path.
//!
//! Deliberately not here: any decision about keys.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use rand_core::{CryptoRng, RngCore};

use super::keystore::PrivateDir;
use crate::keys::{
    FileOp, FileProblem, KeyFile, KeyPolicy, KeysError, RelayKeys, RotationReport, StoredKeys,
};

/// Why the relay's keys could not be loaded or saved.
#[derive(Debug, thiserror::Error)]
pub enum RelayKeysError {
    /// A file or directory could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A key file is corrupt, of the wrong format, or inconsistent with the others. It was
    /// left as it is.
    #[error("{}: {problem}", path.display())]
    BadKeyFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: FileProblem,
    },
    /// Key generation or signing failed, or the nickname is invalid.
    #[error("relay keys: {0}")]
    Keys(KeysError),
}

/// A relay's DataDirectory, opened for its key files.
#[derive(Debug, Clone)]
pub struct RelayKeyDir {
    data: PrivateDir,
    keys: PrivateDir,
}

fn io_err(path: PathBuf) -> impl FnOnce(io::Error) -> RelayKeysError {
    move |source| RelayKeysError::Io { path, source }
}

impl RelayKeyDir {
    /// Opens (creating with mode 0700) `data_dir` and `data_dir/keys`.
    pub fn open(data_dir: impl Into<PathBuf>) -> Result<RelayKeyDir, RelayKeysError> {
        let path: PathBuf = data_dir.into();
        let data = PrivateDir::open(&path).map_err(io_err(path.clone()))?;
        let keys = data.subdir("keys").map_err(io_err(path.join("keys")))?;
        Ok(RelayKeyDir { data, keys })
    }

    fn dir(&self, f: KeyFile) -> &PrivateDir {
        if f.in_keys_dir() {
            &self.keys
        } else {
            &self.data
        }
    }

    /// The full path of a key file.
    pub fn path_of(&self, f: KeyFile) -> PathBuf {
        self.dir(f).path().join(f.file_name())
    }

    /// The DataDirectory's path.
    pub fn data_dir(&self) -> &Path {
        self.data.path()
    }

    /// Reads every key file that exists.
    pub fn read(&self) -> Result<StoredKeys, RelayKeysError> {
        let mut stored = StoredKeys::new();
        for f in KeyFile::ALL {
            if let Some(contents) = self
                .dir(f)
                .read(f.file_name())
                .map_err(io_err(self.path_of(f)))?
            {
                stored.insert(f, contents);
            }
        }
        stored.onion_key_set_at = fs::metadata(self.path_of(KeyFile::NtorOnion))
            .and_then(|m| m.modified())
            .ok();
        Ok(stored)
    }

    /// Makes the writes and removals in `ops`, in order.
    pub fn apply(&self, ops: &[FileOp]) -> Result<(), RelayKeysError> {
        for op in ops {
            let f = op.file();
            match op {
                FileOp::Write(_, contents) => self
                    .dir(f)
                    .write(f.file_name(), contents)
                    .map_err(io_err(self.path_of(f)))?,
                FileOp::Remove(_) => match fs::remove_file(self.path_of(f)) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io_err(self.path_of(f))(e)),
                },
            }
        }
        Ok(())
    }

    /// After writing `secret_onion_key_ntor`, sets its modification time to when the keys
    /// were made, so that the next start sees the same rotation schedule.
    fn stamp_onion_key(&self, ops: &[FileOp], keys: &RelayKeys) -> Result<(), RelayKeysError> {
        if ops
            .iter()
            .any(|op| matches!(op, FileOp::Write(KeyFile::NtorOnion, _)))
        {
            let path = self.path_of(KeyFile::NtorOnion);
            fs::File::options()
                .write(true)
                .open(&path)
                .and_then(|f| f.set_modified(keys.onion_key_set_at()))
                .map_err(io_err(path))?;
        }
        Ok(())
    }

    fn map_keys_err(&self, e: KeysError) -> RelayKeysError {
        match e {
            KeysError::BadFile { file, problem } => RelayKeysError::BadKeyFile {
                path: self.path_of(file),
                problem,
            },
            other => RelayKeysError::Keys(other),
        }
    }

    /// Loads the keys (making missing ones), brings them up to date at `now`, and writes
    /// whatever changed, including the `fingerprint` and `fingerprint-ed25519` files.
    pub fn load_or_create<R: RngCore + CryptoRng>(
        &self,
        nickname: &str,
        policy: KeyPolicy,
        now: SystemTime,
        rng: &mut R,
    ) -> Result<RelayKeys, RelayKeysError> {
        let stored = self.read()?;
        let (keys, ops) = RelayKeys::load_or_create(&stored, nickname, policy, now, rng)
            .map_err(|e| self.map_keys_err(e))?;
        self.apply(&ops)?;
        self.stamp_onion_key(&ops, &keys)?;
        Ok(keys)
    }

    /// Rotates what is due at `now` and saves the changed files.
    pub fn rotate<R: RngCore + CryptoRng>(
        &self,
        keys: &mut RelayKeys,
        now: SystemTime,
        rng: &mut R,
    ) -> Result<RotationReport, RelayKeysError> {
        let report = keys.rotate(now, rng).map_err(|e| self.map_keys_err(e))?;
        let ops = keys.file_ops(&report).map_err(|e| self.map_keys_err(e))?;
        self.apply(&ops)?;
        self.stamp_onion_key(&ops, keys)?;
        Ok(report)
    }
}
