//! Key files on disk: `DataDirectory` and its `keys/` subdirectory, as C tor lays them out.
//!
//! Directories are created with mode 0700 (and tightened to 0700 if they exist with looser
//! modes, as C tor does); every file is written atomically (a new temporary file created
//! with mode 0600, synced, then renamed over the old name), so a crash never leaves a
//! half-written key and a key is never readable by another user, not even for a moment.
//! Secret file contents are returned in zeroizing buffers and never logged.
//!
//! Deliberately not here: key formats (`crypto::keyfile`, `crypto::rsa`) and which keys a
//! daemon needs (the relay's and the onion service's key managers).

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

/// A directory holding private files (a `DataDirectory` or its `keys/`).
#[derive(Debug, Clone)]
pub struct PrivateDir {
    path: PathBuf,
}

impl PrivateDir {
    /// Opens `path`, creating it (and its parents) if needed, with mode 0700.
    pub fn open(path: impl Into<PathBuf>) -> io::Result<PrivateDir> {
        let path = path.into();
        fs::create_dir_all(&path)?;
        let meta = fs::metadata(&path)?;
        if !meta.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is not a directory", path.display()),
            ));
        }
        if meta.permissions().mode() & 0o077 != 0 {
            fs::set_permissions(&path, fs::Permissions::from_mode(0o700))?;
        }
        Ok(PrivateDir { path })
    }

    /// A subdirectory, created with mode 0700 if needed.
    pub fn subdir(&self, name: &str) -> io::Result<PrivateDir> {
        PrivateDir::open(self.path.join(name))
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads a file; `None` if it does not exist. The buffer is wiped when dropped.
    pub fn read(&self, name: &str) -> io::Result<Option<Zeroizing<Vec<u8>>>> {
        match fs::read(self.path.join(name)) {
            Ok(v) => Ok(Some(Zeroizing::new(v))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Writes a file atomically with mode 0600.
    pub fn write(&self, name: &str, contents: &[u8]) -> io::Result<()> {
        let target = self.path.join(name);
        let tmp = self.path.join(format!(".{name}.tmp"));
        let _ = fs::remove_file(&tmp);
        {
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(contents)?;
            f.sync_all()?;
        }
        fs::rename(&tmp, &target)?;
        Ok(())
    }

    /// Renames `from` to `to` within the directory (used to keep a previous key as
    /// `<name>.old` during its grace period).
    pub fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        fs::rename(self.path.join(from), self.path.join(to))
    }

    /// True if the file exists.
    pub fn exists(&self, name: &str) -> bool {
        self.path.join(name).exists()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("og-keystore-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        p
    }

    #[test]
    fn files_are_0600_and_dirs_0700() {
        let root = tmp("modes");
        let d = PrivateDir::open(root.join("data")).unwrap();
        let keys = d.subdir("keys").unwrap();
        keys.write("secret", b"abc").unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&root.join("data")), 0o700);
        assert_eq!(mode(&root.join("data/keys")), 0o700);
        assert_eq!(mode(&root.join("data/keys/secret")), 0o600);
        assert_eq!(&**keys.read("secret").unwrap().unwrap(), b"abc");
        assert!(keys.read("missing").unwrap().is_none());
        // Overwrite is atomic and keeps the mode.
        keys.write("secret", b"def").unwrap();
        assert_eq!(&**keys.read("secret").unwrap().unwrap(), b"def");
        assert_eq!(mode(&root.join("data/keys/secret")), 0o600);
        assert!(!keys.exists(".secret.tmp"));
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn loose_directory_modes_are_tightened() {
        let root = tmp("loose");
        fs::create_dir_all(&root).unwrap();
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).unwrap();
        PrivateDir::open(&root).unwrap();
        assert_eq!(
            fs::metadata(&root).unwrap().permissions().mode() & 0o777,
            0o700
        );
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_file_in_the_way_is_an_error() {
        let root = tmp("file");
        fs::create_dir_all(&root).unwrap();
        fs::write(root.join("f"), b"x").unwrap();
        assert!(PrivateDir::open(root.join("f")).is_err());
        fs::remove_dir_all(&root).unwrap();
    }
}
