//! Configuration: the torrc file format, the typed and validated configuration of each
//! daemon, and the tor-style command line.
//!
//! Reference: tor(1) "THE CONFIGURATION FILE FORMAT", C tor's `doc/torrc_format.txt`,
//! `src/lib/encoding/confline.c` (line syntax) and `src/lib/fs/conffile.c` (`%include`).
//!
//! Layers, bottom up:
//!
//! - [`parse_torrc`] / [`parse_torrc_with`]: text → [`Entry`] list (sans-IO; `%include` goes
//!   through an [`IncludeResolver`]); [`render`] is its inverse. [`read_torrc`] is the thin
//!   helper that reads a file from disk.
//! - [`keys`]: the declarative key table of each [`Daemon`] (canonical spelling, syntax,
//!   repeatable or not). Unknown keys are errors with a "did you mean" hint.
//! - [`merge`]: tor's domain semantics (command-line lines replace a file's lines of the same
//!   key; `+Key` appends, `/Key` clears).
//! - [`RelayConfig`], [`ClientConfig`], [`ServiceConfig`] (each with a [`CommonConfig`]): the
//!   values, parsed and validated once at start.
//! - [`cli`]: `-f FILE`, `--Key value`, `--verify-config`, ... into a [`cli::Command`].
//!
//! Deliberately not here: acting on the values (daemons do), a `torrc-defaults` domain, glob
//! patterns in `%include`, and the many tor options we do not implement (they are errors,
//! never silently ignored).

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

pub mod cli;
mod daemon;
mod dirauth;
mod dirauth_opts;
mod include;
pub mod keys;
mod lexer;
mod policy;
mod ports;
mod value;

pub use daemon::{
    merge, ClientConfig, CommonConfig, DaemonConfig, OnionServiceConfig, RelayConfig, ServiceConfig,
};
pub(crate) use dirauth::parse_dir_authority;
pub use dirauth::DirAuthority;
pub use dirauth_opts::DirAuthOptions;
pub use include::{read_torrc, FsIncludes};
pub use keys::Daemon;
pub use lexer::{
    parse_torrc, parse_torrc_with, render, IncludeResolver, IncludedFile, MAX_INCLUDE_DEPTH,
};
pub use policy::{PolicyAction, PolicyAddr, PolicyRule};
pub use ports::{
    ListenAddr, OrPortConfig, PortFlags, ServicePort, ServiceType, SocksPortConfig, UdpForward,
};
pub use value::{AutoBool, LogDest, LogSeverity, LogSpec, PublishDescriptor};

pub use crate::safelog::SafeLogging;

/// Where a configuration entry came from; errors show it first (`torrc:12`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Location {
    /// A line (1-based) of a file, named as it was given.
    File {
        /// The file name as given (`-f` argument or `%include` path).
        name: Arc<str>,
        /// 1-based line where the entry's key starts.
        line: u32,
    },
    /// The command line.
    CommandLine {
        /// 1-based position of the argument that names the key.
        arg: usize,
    },
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File { name, line } => write!(f, "{name}:{line}"),
            Location::CommandLine { .. } => f.write_str("command line"),
        }
    }
}

/// What an entry does to the values set by lower-priority sources (tor's "magic" prefix).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// `Key value`: the first such line in a source replaces lower sources' lines of the key.
    Set,
    /// `+Key value`: appends to lower sources' lines of the key.
    Append,
    /// `/Key`: clears the key (its value is ignored).
    Clear,
}

/// One `Key value` line, before the key is looked up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The key as written (case preserved, without a `+`/`/` prefix).
    pub key: String,
    /// The decoded value (may be empty).
    pub value: String,
    /// Set, append or clear.
    pub op: Op,
    /// Where the entry was written.
    pub location: Location,
}

/// A hint attached to an unknown key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Suggestion {
    /// A known key spelled similarly.
    Similar(&'static str),
    /// The key exists, but belongs to another daemon.
    OtherDaemon {
        /// Canonical spelling.
        key: &'static str,
        /// The binary that accepts it.
        daemon: &'static str,
    },
}

impl fmt::Display for Suggestion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Suggestion::Similar(k) => write!(f, " (did you mean \"{k}\"?)"),
            Suggestion::OtherDaemon { key, daemon } => {
                write!(
                    f,
                    " (\"{key}\" is an option of {daemon}, not of this daemon)"
                )
            }
        }
    }
}

/// A torrc syntax problem (the line could not be split into key and value).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SyntaxProblem {
    /// A quoted value has no closing quote on its line.
    #[error("unterminated quoted value (hint: close the \" on the same line; quoted values cannot span lines)")]
    UnterminatedQuote,
    /// A quoted value has an escape C tor does not accept.
    #[error("invalid escape sequence in quoted value (hint: use \\n \\r \\t \\\\ \\\" \\' \\xHH or \\OOO)")]
    BadEscape,
    /// A NUL byte, raw or from an escape: no torrc text or value may hold one.
    #[error("NUL byte in configuration text (torrc values cannot contain NUL)")]
    NulByte,
    /// The escapes of a quoted value decode to bytes that are not UTF-8.
    #[error("quoted value does not decode to UTF-8 text")]
    NotUtf8,
    /// Something other than a comment follows a closing quote.
    #[error("unexpected text after quoted value (hint: put a comment after '#')")]
    ExcessAfterQuote,
    /// A line-continuation backslash is followed by a blank line or the end of the file.
    #[error("line continuation ('\\' at end of line) is followed by a blank line or the end of the file (hint: remove the backslash or add the continued text)")]
    TruncatedContinuation,
    /// `%include` nests too deeply (probably a loop).
    #[error("%include nested more than {MAX_INCLUDE_DEPTH} levels deep (an include loop?)")]
    IncludeTooDeep,
    /// `%include` is not available where this text was parsed.
    #[error("%include is not supported here")]
    IncludeUnsupported,
    /// An included path could not be read.
    #[error("cannot include {path:?}: {reason}")]
    IncludeFailed {
        /// The path as written.
        path: String,
        /// Why.
        reason: String,
    },
}

/// Why a configuration was refused. Every variant names where the problem is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The text could not be split into entries.
    #[error("{location}: {}{problem}", key.as_ref().map(|k| format!("{k}: ")).unwrap_or_default())]
    Syntax {
        /// Where.
        location: Location,
        /// The key of the line, when the problem is in its value.
        key: Option<String>,
        /// What.
        problem: SyntaxProblem,
    },
    /// No such key for this daemon.
    #[error("{location}: unknown key \"{key}\"{}", suggestion.as_ref().map(|s| s.to_string()).unwrap_or_default())]
    UnknownKey {
        /// Where.
        location: Location,
        /// The key as written.
        key: String,
        /// The nearest known key, if one is close.
        suggestion: Option<Suggestion>,
    },
    /// A value does not parse or is out of range.
    #[error("{location}: {key} {value:?}: {reason}{}", hint.as_ref().map(|h| format!(" (expected {h})")).unwrap_or_default())]
    BadValue {
        /// Where.
        location: Location,
        /// Canonical key.
        key: &'static str,
        /// The value as written.
        value: String,
        /// What is wrong with it.
        reason: String,
        /// The expected syntax, with an example.
        hint: Option<String>,
    },
    /// A key that may appear once appears again.
    #[error(
        "{location}: {key} may be set only once (already set at {first}; remove one of the lines)"
    )]
    Repeated {
        /// Where the second one is.
        location: Location,
        /// Canonical key.
        key: &'static str,
        /// Where the first one is.
        first: Location,
    },
    /// An onion-service key before any `HiddenServiceDir`.
    #[error("{location}: {key} outside an onion-service block (hint: put a HiddenServiceDir line before it)")]
    OutsideServiceBlock {
        /// Where.
        location: Location,
        /// Canonical key.
        key: &'static str,
    },
    /// Keys that are fine alone but not together, or a required key missing.
    #[error("{location}: {key}: {problem}")]
    Inconsistent {
        /// The line the problem is best reported at.
        location: Location,
        /// Canonical key.
        key: &'static str,
        /// What is wrong and how to fix it.
        problem: String,
    },
    /// A configuration file could not be read.
    #[error("cannot read configuration file {}: {reason}", path.display())]
    Io {
        /// The path as given.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

impl ConfigError {
    /// Where the problem is, if it is in an entry.
    pub fn location(&self) -> Option<&Location> {
        match self {
            ConfigError::Syntax { location, .. }
            | ConfigError::UnknownKey { location, .. }
            | ConfigError::BadValue { location, .. }
            | ConfigError::Repeated { location, .. }
            | ConfigError::OutsideServiceBlock { location, .. }
            | ConfigError::Inconsistent { location, .. } => Some(location),
            ConfigError::Io { .. } => None,
        }
    }
}
