//! The thin file-system edge of the torrc parser: reading a torrc and resolving `%include`.
//!
//! C tor (`src/lib/fs/conffile.c`): an `%include` path names a file, or a directory whose
//! regular files not starting with `.` are read in sorted order (not recursively). A relative
//! path is taken relative to the working directory, as tor does. Glob patterns (tor ≥ 0.4.5)
//! are refused with a clear error rather than half-supported.

use std::fs;
use std::path::{Path, PathBuf};

use super::lexer::{parse_torrc_with, IncludeResolver, IncludedFile};
use super::{ConfigError, Entry};

/// Resolves `%include` from the file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct FsIncludes;

fn read_text(path: &Path) -> Result<String, String> {
    let bytes = fs::read(path).map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })
}

impl IncludeResolver for FsIncludes {
    fn resolve(&mut self, path: &str) -> Result<Vec<IncludedFile>, String> {
        if path.contains(['*', '?', '[']) {
            return Err(
                "glob patterns in %include are not supported; name a file or a directory".into(),
            );
        }
        let p = Path::new(path);
        let meta = fs::metadata(p).map_err(|e| e.to_string())?;
        if meta.is_file() {
            return Ok(vec![IncludedFile {
                name: path.to_string(),
                text: read_text(p)?,
            }]);
        }
        if !meta.is_dir() {
            return Err("neither a file nor a directory".into());
        }
        let mut names: Vec<PathBuf> = fs::read_dir(p)
            .map_err(|e| e.to_string())?
            .filter_map(|d| d.ok())
            .filter(|d| !d.file_name().to_string_lossy().starts_with('.'))
            .map(|d| d.path())
            .filter(|p| p.is_file())
            .collect();
        names.sort();
        names
            .into_iter()
            .map(|p| {
                let text = read_text(&p).map_err(|e| format!("{}: {e}", p.display()))?;
                Ok(IncludedFile {
                    name: p.display().to_string(),
                    text,
                })
            })
            .collect()
    }
}

/// Reads and parses the torrc at `path`, resolving `%include` from the file system. Entry
/// locations name the file as `path` was given.
pub fn read_torrc(path: &Path) -> Result<Vec<Entry>, ConfigError> {
    let text = read_text(path).map_err(|reason| ConfigError::Io {
        path: path.to_path_buf(),
        reason,
    })?;
    parse_torrc_with(&text, &path.display().to_string(), &mut FsIncludes)
}
