//! The torrc line syntax: text → [`Entry`] list, and back.
//!
//! Follows C tor's `parse_config_line_from_str_verbose` (`src/lib/encoding/confline.c`) and
//! `doc/torrc_format.txt`:
//!
//! - blank lines and lines whose first non-space character is `#` are skipped;
//! - a key runs to the first space, `#` or backslash-newline; `+Key` appends and `/Key` clears
//!   (tor's "magic", see [`Op`]); keys are looked up case-insensitively later;
//! - a plain value runs to the end of the line or the first `#`, trailing whitespace trimmed;
//! - backslash-newline continues a plain value on the next line; once a value is continued,
//!   a `#` comment (a whole comment line, or the rest of a line) is dropped and the value goes
//!   on after it, as tor does;
//! - a value starting with `"` is a C string (`\n \r \t \\ \" \' \xHH \OOO`) that must close on
//!   its line, followed only by whitespace or a comment;
//! - `%include PATH` splices in the entries of a file or of a directory's files (through an
//!   [`IncludeResolver`]), at most [`MAX_INCLUDE_DEPTH`] levels deep.
//!
//! Where we differ from C tor, on purpose: CRLF line ends are read as LF everywhere (tor does so
//! only on Windows); a continuation backslash followed by a blank line or the end of the file is
//! an error (tor keeps a literal backslash, or accepts it silently; it is usually a truncated
//! file or a forgotten line); NUL bytes are refused (raw or escaped), and a quoted value must
//! decode to UTF-8.

use std::sync::Arc;

use super::{ConfigError, Entry, Location, Op, SyntaxProblem};

/// The deepest `%include` nesting accepted (C tor's `MAX_INCLUDE_RECURSION_LEVEL`).
pub const MAX_INCLUDE_DEPTH: usize = 31;

/// One file named by an `%include` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncludedFile {
    /// The name errors will show for its lines.
    pub name: String,
    /// Its text.
    pub text: String,
}

/// Turns the path of an `%include` line into the files it names, in order (a file, or the
/// files of a directory sorted by name, skipping dot files, as C tor does).
pub trait IncludeResolver {
    /// Resolves `path`; the error string says why it could not be read.
    fn resolve(&mut self, path: &str) -> Result<Vec<IncludedFile>, String>;
}

/// Parses torrc text. `source` names the text in error messages and entry locations (usually
/// the file name). `%include` lines are refused; use [`parse_torrc_with`] to allow them.
pub fn parse_torrc(text: &str, source: &str) -> Result<Vec<Entry>, ConfigError> {
    let mut out = Vec::new();
    parse_into(text, Arc::from(source), None, 0, &mut out)?;
    Ok(out)
}

/// Parses torrc text, resolving `%include` lines through `resolver`.
pub fn parse_torrc_with(
    text: &str,
    source: &str,
    resolver: &mut dyn IncludeResolver,
) -> Result<Vec<Entry>, ConfigError> {
    let mut out = Vec::new();
    parse_into(text, Arc::from(source), Some(resolver), 0, &mut out)?;
    Ok(out)
}

/// C tor's `TOR_ISSPACE`: ASCII whitespace only.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn at(b: &[u8], i: usize) -> Option<u8> {
    b.get(i).copied()
}

fn parse_into<'r>(
    text: &str,
    source: Arc<str>,
    mut resolver: Option<&mut (dyn IncludeResolver + 'r)>,
    depth: usize,
    out: &mut Vec<Entry>,
) -> Result<(), ConfigError> {
    let normalized = text.replace("\r\n", "\n");
    if let Some(pos) = normalized.find('\0') {
        let before = normalized.get(..pos).unwrap_or_default();
        let line = before.bytes().filter(|&c| c == b'\n').count() + 1;
        return Err(ConfigError::Syntax {
            key: None,
            location: Location::File {
                name: source,
                line: u32::try_from(line).unwrap_or(u32::MAX),
            },
            problem: SyntaxProblem::NulByte,
        });
    }
    let b = normalized.as_bytes();
    let n = b.len();
    let mut i = 0usize;
    let mut line: u32 = 1;
    loop {
        // Skip whitespace and comment lines.
        loop {
            while let Some(c) = at(b, i).filter(|c| is_space(*c)) {
                if c == b'\n' {
                    line = line.saturating_add(1);
                }
                i += 1;
            }
            if at(b, i) == Some(b'#') {
                while at(b, i).is_some_and(|c| c != b'\n') {
                    i += 1;
                }
            } else {
                break;
            }
        }
        if i >= n {
            return Ok(());
        }
        let location = Location::File {
            name: source.clone(),
            line,
        };
        // The key.
        let key_start = i;
        while let Some(c) = at(b, i) {
            if is_space(c) || c == b'#' || (c == b'\\' && at(b, i + 1) == Some(b'\n')) {
                break;
            }
            i += 1;
        }
        let raw_key = String::from_utf8_lossy(b.get(key_start..i).unwrap_or_default());
        let (op, key) = if let Some(k) = raw_key.strip_prefix('+') {
            (Op::Append, k.to_string())
        } else if let Some(k) = raw_key.strip_prefix('/') {
            (Op::Clear, k.to_string())
        } else {
            (Op::Set, raw_key.into_owned())
        };
        let syntax = |problem| ConfigError::Syntax {
            location: location.clone(),
            key: Some(key.clone()),
            problem,
        };

        while matches!(at(b, i), Some(b' ' | b'\t')) {
            i += 1;
        }

        // The value.
        let value = if at(b, i) == Some(b'"') {
            let (bytes, next) = unescape(b, i).map_err(syntax)?;
            i = next;
            while matches!(at(b, i), Some(b' ' | b'\t')) {
                i += 1;
            }
            match at(b, i) {
                None | Some(b'\n') => {}
                Some(b'#') => {
                    while at(b, i).is_some_and(|c| c != b'\n') {
                        i += 1;
                    }
                }
                Some(_) => return Err(syntax(SyntaxProblem::ExcessAfterQuote)),
            }
            if bytes.contains(&0) {
                return Err(syntax(SyntaxProblem::NulByte));
            }
            String::from_utf8(bytes).map_err(|_| syntax(SyntaxProblem::NotUtf8))?
        } else {
            let start = i;
            let mut continued = false;
            let mut content_since_continuation = false;
            while let Some(c) = at(b, i) {
                if c == b'\n' || (c == b'#' && !continued) {
                    break;
                }
                if c == b'\\' && at(b, i + 1) == Some(b'\n') {
                    continued = true;
                    content_since_continuation = false;
                    i += 2;
                    line = line.saturating_add(1);
                } else if c == b'#' {
                    while at(b, i).is_some_and(|c| c != b'\n') {
                        i += 1;
                    }
                    if at(b, i) == Some(b'\n') {
                        i += 1;
                        line = line.saturating_add(1);
                    }
                } else {
                    if !is_space(c) {
                        content_since_continuation = true;
                    }
                    i += 1;
                }
            }
            if continued && !content_since_continuation {
                return Err(syntax(SyntaxProblem::TruncatedContinuation));
            }
            let mut end = i;
            while end > start && at(b, end - 1).is_some_and(is_space) {
                end -= 1;
            }
            let raw = b.get(start..end).unwrap_or_default();
            if continued {
                String::from_utf8_lossy(&strip_continuations(raw)).into_owned()
            } else {
                String::from_utf8_lossy(raw).into_owned()
            }
        };
        // A trailing comment after a plain value stops the scan at '#'; skip it.
        if at(b, i) == Some(b'#') {
            while at(b, i).is_some_and(|c| c != b'\n') {
                i += 1;
            }
        }

        if key == "%include" && op == Op::Set {
            include(&value, &location, resolver.as_deref_mut(), depth, out)?;
        } else {
            out.push(Entry {
                key,
                value,
                op,
                location,
            });
        }
    }
}

fn include<'r>(
    path: &str,
    location: &Location,
    resolver: Option<&mut (dyn IncludeResolver + 'r)>,
    depth: usize,
    out: &mut Vec<Entry>,
) -> Result<(), ConfigError> {
    let syntax = |problem| ConfigError::Syntax {
        location: location.clone(),
        key: Some("%include".into()),
        problem,
    };
    let Some(resolver) = resolver else {
        return Err(syntax(SyntaxProblem::IncludeUnsupported));
    };
    if depth + 1 >= MAX_INCLUDE_DEPTH {
        return Err(syntax(SyntaxProblem::IncludeTooDeep));
    }
    let files = resolver.resolve(path).map_err(|reason| {
        syntax(SyntaxProblem::IncludeFailed {
            path: path.to_string(),
            reason,
        })
    })?;
    for file in files {
        parse_into(
            &file.text,
            Arc::from(file.name.as_str()),
            Some(&mut *resolver),
            depth + 1,
            out,
        )?;
    }
    Ok(())
}

/// Removes backslash-newline pairs and `#` comments (through their newline) from a continued
/// value, as tor does.
fn strip_continuations(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(c) = at(raw, i) {
        if c == b'#' {
            while at(raw, i).is_some_and(|c| c != b'\n') {
                i += 1;
            }
            i += 1;
        } else if c == b'\\' && at(raw, i + 1) == Some(b'\n') {
            i += 2;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Decodes the C string starting at `b[start] == '"'`; returns its bytes and the index after
/// the closing quote.
fn unescape(b: &[u8], start: usize) -> Result<(Vec<u8>, usize), SyntaxProblem> {
    let mut out = Vec::new();
    let mut i = start + 1;
    loop {
        match at(b, i) {
            None | Some(b'\n') => return Err(SyntaxProblem::UnterminatedQuote),
            Some(b'"') => return Ok((out, i + 1)),
            Some(b'\\') => {
                let e = at(b, i + 1).ok_or(SyntaxProblem::UnterminatedQuote)?;
                match e {
                    b'n' => out.push(b'\n'),
                    b'r' => out.push(b'\r'),
                    b't' => out.push(b'\t'),
                    b'"' | b'\\' | b'\'' => out.push(e),
                    b'x' | b'X' => {
                        let hi = at(b, i + 2).and_then(hex_digit);
                        let lo = at(b, i + 3).and_then(hex_digit);
                        match (hi, lo) {
                            (Some(hi), Some(lo)) => out.push((hi << 4) | lo),
                            _ => return Err(SyntaxProblem::BadEscape),
                        }
                        i += 4;
                        continue;
                    }
                    b'0'..=b'7' => {
                        let mut v = u32::from(e - b'0');
                        let mut j = i + 2;
                        while j < i + 4 {
                            match at(b, j) {
                                Some(d @ b'0'..=b'7') => v = v * 8 + u32::from(d - b'0'),
                                _ => break,
                            }
                            j += 1;
                        }
                        let byte = u8::try_from(v).map_err(|_| SyntaxProblem::BadEscape)?;
                        out.push(byte);
                        i = j;
                        continue;
                    }
                    _ => return Err(SyntaxProblem::BadEscape),
                }
                i += 2;
            }
            Some(c) => {
                out.push(c);
                i += 1;
            }
        }
    }
}

fn hex_digit(c: u8) -> Option<u8> {
    char::from(c)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// Writes entries back as torrc text, one line each, quoting values that need it, so that
/// parsing the result gives the same keys, values and operations.
pub fn render(entries: &[Entry]) -> String {
    let mut s = String::new();
    for e in entries {
        match e.op {
            Op::Set => {}
            Op::Append => s.push('+'),
            Op::Clear => s.push('/'),
        }
        s.push_str(&e.key);
        if e.op != Op::Clear && !e.value.is_empty() {
            s.push(' ');
            if needs_quotes(&e.value) {
                quote_into(&e.value, &mut s);
            } else {
                s.push_str(&e.value);
            }
        }
        s.push('\n');
    }
    s
}

fn needs_quotes(v: &str) -> bool {
    let bytes = v.as_bytes();
    bytes.first().is_some_and(|c| is_space(*c) || *c == b'"')
        || bytes.last().is_some_and(|c| is_space(*c))
        || bytes
            .iter()
            .any(|&c| c == b'#' || c == b'\\' || c < 0x20 || c == 0x7f)
}

fn quote_into(v: &str, s: &mut String) {
    s.push('"');
    for c in v.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            c if c.is_ascii_control() => s.push_str(&format!("\\x{:02x}", u32::from(c))),
            c => s.push(c),
        }
    }
    s.push('"');
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
#[path = "lexer_tests.rs"]
mod tests;
