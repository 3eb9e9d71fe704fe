//! Shared helpers for integration tests: the test-vector file loader.
//!
//! Vector files live in `tests/vectors/*.txt`. Their format (see `tests/vectors/README.md`):
//! `#` starts a comment line; a record is a run of `key: value` lines ended by a blank line
//! or the end of the file; a line starting with whitespace continues the previous value
//! (the pieces are joined with no separator, so long hex strings can be wrapped).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;

/// One record of a vector file: its keys in file order, and the line it started on.
#[derive(Debug, Clone)]
pub struct Record {
    /// The file the record came from.
    pub file: String,
    /// The 1-based line where the record starts.
    pub line: usize,
    fields: Vec<(String, String)>,
}

impl Record {
    /// The raw string value of `key`; panics with the record's location if missing.
    pub fn str(&self, key: &str) -> &str {
        self.get(key)
            .unwrap_or_else(|| panic!("{}:{}: record has no key {key:?}", self.file, self.line))
    }

    /// The raw string value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `key` decoded from hex (whitespace ignored).
    pub fn hex(&self, key: &str) -> Vec<u8> {
        let s: String = self.str(key).split_whitespace().collect();
        hex::decode(&s)
            .unwrap_or_else(|e| panic!("{}:{}: key {key:?} is not hex: {e}", self.file, self.line))
    }

    /// The value of `key` decoded from hex into a fixed-size array.
    pub fn hex_array<const N: usize>(&self, key: &str) -> [u8; N] {
        let v = self.hex(key);
        v.as_slice().try_into().unwrap_or_else(|_| {
            panic!(
                "{}:{}: key {key:?} has {} bytes, expected {N}",
                self.file,
                self.line,
                v.len()
            )
        })
    }

    /// All keys, in file order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().map(|(k, _)| k.as_str())
    }

    /// A `file:line` label for assertion messages.
    pub fn at(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }
}

/// The path of a vector file.
pub fn vector_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("vectors")
        .join(name)
}

/// Loads every record of `tests/vectors/<name>`. Panics (failing the test) if the file is
/// missing, malformed, or has no records, so a vector file can never be silently empty.
pub fn load(name: &str) -> Vec<Record> {
    let path = vector_path(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let records = parse(name, &text);
    assert!(!records.is_empty(), "{name}: no records");
    records
}

/// Parses vector-file text (exposed for the loader's own tests).
pub fn parse(name: &str, text: &str) -> Vec<Record> {
    let mut out = Vec::new();
    let mut cur: Option<Record> = None;
    for (i, raw) in text.lines().enumerate() {
        let lineno = i + 1;
        if raw.trim_start().starts_with('#') {
            continue;
        }
        if raw.trim().is_empty() {
            if let Some(r) = cur.take() {
                out.push(r);
            }
            continue;
        }
        if raw.starts_with(char::is_whitespace) {
            let r = cur
                .as_mut()
                .unwrap_or_else(|| panic!("{name}:{lineno}: continuation outside a record"));
            let last = r
                .fields
                .last_mut()
                .unwrap_or_else(|| panic!("{name}:{lineno}: continuation before any key"));
            last.1.push_str(raw.trim());
            continue;
        }
        let (k, v) = raw
            .split_once(':')
            .unwrap_or_else(|| panic!("{name}:{lineno}: expected `key: value`"));
        let r = cur.get_or_insert_with(|| Record {
            file: name.to_string(),
            line: lineno,
            fields: Vec::new(),
        });
        let key = k.trim().to_string();
        assert!(
            r.get(&key).is_none(),
            "{name}:{lineno}: duplicate key {key:?} in one record"
        );
        r.fields.push((key, v.trim().to_string()));
    }
    if let Some(r) = cur.take() {
        out.push(r);
    }
    out
}

/// Collects the keys of a record into a map (handy for debugging).
pub fn as_map(r: &Record) -> BTreeMap<String, String> {
    r.fields.iter().cloned().collect()
}

pub mod ctor;
pub mod ctornet;
pub mod ctornet_build;
pub mod ctornet_io;
pub mod ctornet_node;
pub mod interop;
pub mod link;
