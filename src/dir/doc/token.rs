//! The directory-document meta-format of dir-spec §1.2 ("Document meta-format"): a document
//! is a sequence of *items*; an item is a keyword line (`Keyword [Arg ...]`) optionally
//! followed by one object (`-----BEGIN LABEL-----`, base64 lines, `-----END LABEL-----`).
//!
//! [`Items`] splits a document into [`Item`]s with their byte offsets, so signature checks
//! can hash exact ranges of the original text. [`DocWriter`] emits documents in the form C
//! tor writes them: single spaces between arguments, `\n` line ends, objects as base64 in
//! 64-column lines.
//!
//! Rules (C tor's `tokenize_string`, stricter where noted):
//! - keywords are `[A-Za-z0-9-]+`; a leading `opt ` is dropped (dir-spec §1.2);
//! - arguments are separated by spaces or tabs; a line ends with `\n` (a final line without
//!   one is an error, as in C tor);
//! - an object's BEGIN and END labels must match; its body is base64 with `=` padding
//!   allowed, at most [`MAX_OBJECT_BYTES`] decoded bytes;
//! - a NUL byte anywhere is an error.

use std::fmt::Write as _;

use base64::Engine as _;

/// The largest decoded object accepted (C tor's `MAX_UNPARSED_OBJECT_SIZE` is 128 KiB).
pub const MAX_OBJECT_BYTES: usize = 128 * 1024;

/// Why a document could not be tokenized or understood. `line` is 1-based.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocError {
    /// The meta-format was broken (bad keyword, unterminated object, ...).
    #[error("line {line}: {why}")]
    Syntax {
        /// Where.
        line: usize,
        /// What was wrong.
        why: String,
    },
    /// An item the document type requires was missing.
    #[error("missing required item `{0}`")]
    Missing(&'static str),
    /// An item appeared more often than the document type allows.
    #[error("line {line}: item `{keyword}` repeated")]
    Repeated {
        /// Where the repetition was found.
        line: usize,
        /// The keyword.
        keyword: String,
    },
    /// An item was present but its arguments or object were wrong.
    #[error("line {line}: bad `{keyword}`: {why}")]
    BadItem {
        /// Where.
        line: usize,
        /// The keyword.
        keyword: String,
        /// What was wrong.
        why: String,
    },
    /// A signature, certificate or digest did not check out.
    #[error("signature: {0}")]
    Signature(String),
    /// Anything else about the document (order of items, times, sizes).
    #[error("{0}")]
    Invalid(String),
}

/// One object attached to an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object<'a> {
    /// The label between `BEGIN ` and `-----`, e.g. `RSA PUBLIC KEY`.
    pub label: &'a str,
    /// The decoded body.
    pub data: Vec<u8>,
}

/// One item of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item<'a> {
    /// The keyword.
    pub keyword: &'a str,
    /// The arguments (split on spaces and tabs).
    pub args: Vec<&'a str>,
    /// The object, if one followed.
    pub object: Option<Object<'a>>,
    /// Byte offset of the start of the keyword line (after any `opt `, before nothing).
    pub start: usize,
    /// Byte offset just past the end of the item (after the object's END line, or after the
    /// keyword line's `\n`).
    pub end: usize,
    /// 1-based line number of the keyword line.
    pub line: usize,
}

impl<'a> Item<'a> {
    /// The argument at `i`, or a [`DocError::BadItem`] naming what was expected.
    pub fn arg(&self, i: usize, what: &str) -> Result<&'a str, DocError> {
        self.args
            .get(i)
            .copied()
            .ok_or_else(|| self.bad(format!("missing argument {} ({what})", i + 1)))
    }

    /// The object with the given label, or an error.
    pub fn object_labelled(&self, label: &str) -> Result<&[u8], DocError> {
        match &self.object {
            Some(o) if o.label == label => Ok(&o.data),
            Some(o) => Err(self.bad(format!("object is `{}`, expected `{label}`", o.label))),
            None => Err(self.bad(format!("missing `{label}` object"))),
        }
    }

    /// A [`DocError::BadItem`] for this item.
    pub fn bad(&self, why: impl Into<String>) -> DocError {
        DocError::BadItem {
            line: self.line,
            keyword: self.keyword.to_string(),
            why: why.into(),
        }
    }

    /// The arguments joined back with single spaces.
    pub fn args_joined(&self) -> String {
        self.args.join(" ")
    }
}

/// An iterator over the items of a document. Yields `Err` once and then stops.
pub struct Items<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
    failed: bool,
}

/// Splits `text` into items.
pub fn items(text: &str) -> Items<'_> {
    Items {
        text,
        pos: 0,
        line: 1,
        failed: false,
    }
}

/// Tokenizes a whole document into a vector, failing on the first error.
pub fn tokenize(text: &str) -> Result<Vec<Item<'_>>, DocError> {
    items(text).collect()
}

fn is_keyword_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-'
}

impl<'a> Items<'a> {
    fn syntax(&mut self, why: impl Into<String>) -> DocError {
        self.failed = true;
        DocError::Syntax {
            line: self.line,
            why: why.into(),
        }
    }

    /// Takes one `\n`-terminated line, returning it without the `\n`.
    fn take_line(&mut self) -> Result<(usize, &'a str), DocError> {
        let rest = &self.text[self.pos..];
        let Some(nl) = rest.find('\n') else {
            return Err(self.syntax("line does not end with a newline"));
        };
        let start = self.pos;
        self.pos += nl + 1;
        self.line += 1;
        Ok((start, &rest[..nl]))
    }

    fn next_item(&mut self) -> Result<Item<'a>, DocError> {
        let line_no = self.line;
        let (mut start, mut line) = self.take_line()?;
        if line.contains('\0') {
            return Err(self.syntax("NUL byte"));
        }
        if let Some(rest) = line.strip_prefix("opt ") {
            start += 4;
            line = rest;
        }
        let kw_len = line.bytes().take_while(|&c| is_keyword_char(c)).count();
        if kw_len == 0 {
            return Err(self.syntax("line does not start with a keyword"));
        }
        let keyword = &line[..kw_len];
        let after = &line[kw_len..];
        if !after.is_empty() && !after.starts_with([' ', '\t']) {
            return Err(self.syntax(format!("bad character after keyword `{keyword}`")));
        }
        let args: Vec<&str> = after.split([' ', '\t']).filter(|a| !a.is_empty()).collect();
        let mut object = None;
        if self.text[self.pos..].starts_with("-----BEGIN ") {
            object = Some(self.take_object()?);
        }
        Ok(Item {
            keyword,
            args,
            object,
            start,
            end: self.pos,
            line: line_no,
        })
    }

    fn take_object(&mut self) -> Result<Object<'a>, DocError> {
        let (_, begin) = self.take_line()?;
        let Some(label) = begin
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        else {
            return Err(self.syntax("malformed BEGIN line"));
        };
        if label.is_empty() || label.len() > 64 {
            return Err(self.syntax("bad object label"));
        }
        let mut b64 = String::new();
        loop {
            if self.pos >= self.text.len() {
                return Err(self.syntax(format!("object `{label}` is not terminated")));
            }
            let (_, l) = self.take_line()?;
            if let Some(end) = l.strip_prefix("-----END ") {
                if end.strip_suffix("-----") != Some(label) {
                    return Err(self.syntax(format!("END line does not match BEGIN {label}")));
                }
                break;
            }
            if l.starts_with("-----") {
                return Err(self.syntax("unexpected armour line inside object"));
            }
            b64.push_str(l.trim_end_matches('\r'));
            if b64.len() > MAX_OBJECT_BYTES * 4 / 3 + 4 {
                return Err(self.syntax("object too large"));
            }
        }
        let data = base64::engine::general_purpose::STANDARD
            .decode(b64.as_bytes())
            .map_err(|_| self.syntax(format!("bad base64 in object `{label}`")))?;
        Ok(Object { label, data })
    }
}

impl<'a> Iterator for Items<'a> {
    type Item = Result<Item<'a>, DocError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.text.len() {
            return None;
        }
        Some(self.next_item())
    }
}

/// Writes a document item by item, as C tor formats them.
#[derive(Debug, Default, Clone)]
pub struct DocWriter {
    out: String,
}

impl DocWriter {
    /// An empty document.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `keyword args...\n`. Empty `args` gives just the keyword.
    pub fn item(&mut self, keyword: &str, args: &[&str]) -> &mut Self {
        self.out.push_str(keyword);
        for a in args {
            self.out.push(' ');
            self.out.push_str(a);
        }
        self.out.push('\n');
        self
    }

    /// Appends `keyword` followed by a pre-formatted argument string (`keyword rest\n`, or
    /// `keyword\n` when `rest` is empty).
    pub fn item_str(&mut self, keyword: &str, rest: &str) -> &mut Self {
        self.out.push_str(keyword);
        if !rest.is_empty() {
            self.out.push(' ');
            self.out.push_str(rest);
        }
        self.out.push('\n');
        self
    }

    /// Appends an object (`-----BEGIN label-----`, base64 in 64-column lines, END line).
    pub fn object(&mut self, label: &str, data: &[u8]) -> &mut Self {
        let _ = writeln!(self.out, "-----BEGIN {label}-----");
        let b64 = base64::engine::general_purpose::STANDARD.encode(data);
        for chunk in b64.as_bytes().chunks(64) {
            // base64 output is ASCII, so every chunk boundary is a char boundary.
            self.out
                .push_str(std::str::from_utf8(chunk).unwrap_or_default());
            self.out.push('\n');
        }
        let _ = writeln!(self.out, "-----END {label}-----");
        self
    }

    /// Appends raw text (must end with `\n` to keep the document well formed).
    pub fn raw(&mut self, text: &str) -> &mut Self {
        self.out.push_str(text);
        self
    }

    /// The text written so far.
    pub fn as_str(&self) -> &str {
        &self.out
    }

    /// The finished text.
    pub fn finish(self) -> String {
        self.out
    }
}

/// Unpadded standard base64 (the form dir-spec uses for keys and digests in items).
pub fn b64_nopad(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(data)
}

/// Decodes standard base64 with or without `=` padding.
pub fn b64_decode(s: &str) -> Option<Vec<u8>> {
    let trimmed = s.trim_end_matches('=');
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(trimmed.as_bytes())
        .ok()
}

/// Formats seconds since the Unix epoch as dir-spec's `YYYY-MM-DD HH:MM:SS` (UTC).
pub fn format_time(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

/// Parses `YYYY-MM-DD` and `HH:MM:SS` (two arguments, as items carry them) into seconds
/// since the Unix epoch (UTC).
pub fn parse_time(date: &str, time: &str) -> Option<u64> {
    let num = |s: &str, len: usize| -> Option<u64> {
        if s.len() == len && s.bytes().all(|c| c.is_ascii_digit()) {
            s.parse().ok()
        } else {
            None
        }
    };
    let mut d = date.split('-');
    let (y, mo, da) = (num(d.next()?, 4)?, num(d.next()?, 2)?, num(d.next()?, 2)?);
    let mut t = time.split(':');
    let (h, mi, s) = (num(t.next()?, 2)?, num(t.next()?, 2)?, num(t.next()?, 2)?);
    if d.next().is_some() || t.next().is_some() {
        return None;
    }
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&mo) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    if da < 1 || da > days_in_month(y, mo) {
        return None;
    }
    let days = days_from_civil(y as i64, mo as u32, da as u32);
    u64::try_from(days)
        .ok()
        .map(|days| days * 86_400 + h * 3600 + mi * 60 + s)
}

/// Parses a `YYYY-MM-DD HH:MM:SS` string (one string with one space).
pub fn parse_time_str(s: &str) -> Option<u64> {
    let (d, t) = s.split_once(' ')?;
    parse_time(d, t)
}

fn days_in_month(y: u64, m: u64) -> u64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400) => 29,
        _ => 28,
    }
}

// Howard Hinnant's civil-date algorithms (public domain), written out fresh.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_items_with_offsets_and_objects() {
        let doc = "router a 1.2.3.4 9001 0 0\nopt platform Tor x\nonion-key\n-----BEGIN RSA PUBLIC KEY-----\nAAEC\nAw==\n-----END RSA PUBLIC KEY-----\nlast\n";
        let items = tokenize(doc).unwrap();
        assert_eq!(items.len(), 4);
        assert_eq!(items[0].keyword, "router");
        assert_eq!(items[0].args, ["a", "1.2.3.4", "9001", "0", "0"]);
        assert_eq!(items[1].keyword, "platform");
        assert_eq!(&doc[items[1].start..items[1].end], "platform Tor x\n");
        let obj = items[2].object.as_ref().unwrap();
        assert_eq!(obj.label, "RSA PUBLIC KEY");
        assert_eq!(obj.data, [0, 1, 2, 3]);
        assert_eq!(items[3].line, 8);
        assert_eq!(items[3].end, doc.len());
    }

    #[test]
    fn rejects_broken_documents() {
        for bad in [
            "no-newline",
            " leading-space\n",
            "kw\n-----BEGIN A-----\nAAAA\n-----END B-----\n",
            "kw\n-----BEGIN A-----\nAAAA\n",
            "kw\n-----BEGIN A-----\n!!!!\n-----END A-----\n",
            "k\0w\n",
            "kw=\n",
        ] {
            assert!(tokenize(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn writer_round_trips() {
        let data: Vec<u8> = (0..=200).collect();
        let mut w = DocWriter::new();
        w.item("a", &["b", "c"])
            .item("obj", &[])
            .object("X Y", &data);
        w.item_str("tail", "");
        let text = w.finish();
        let items = tokenize(&text).unwrap();
        assert_eq!(items[1].object_labelled("X Y").unwrap(), &data[..]);
        assert!(text.lines().all(|l| l.len() <= 64 || l.starts_with('a')));
        assert_eq!(items[2].keyword, "tail");
    }

    #[test]
    fn times_round_trip() {
        assert_eq!(format_time(0), "1970-01-01 00:00:00");
        // 2016-05-31 14:00:00 UTC from rend-spec §2.2.1's time-period example.
        assert_eq!(parse_time("2016", "x"), None);
        let t = parse_time("2016-04-13", "11:00:00").unwrap();
        assert_eq!(t, 1_460_545_200);
        assert_eq!(format_time(t), "2016-04-13 11:00:00");
        assert_eq!(
            parse_time_str("2024-02-29 23:59:59")
                .map(format_time)
                .as_deref(),
            Some("2024-02-29 23:59:59")
        );
        assert_eq!(parse_time_str("2023-02-29 00:00:00"), None);
        for t in [951_782_400u64, 1_700_000_000, 4_102_444_800] {
            assert_eq!(parse_time_str(&format_time(t)), Some(t));
        }
    }

    #[test]
    fn base64_helpers() {
        assert_eq!(b64_nopad(b"ab"), "YWI");
        assert_eq!(b64_decode("YWI=").unwrap(), b"ab");
        assert_eq!(b64_decode("YWI").unwrap(), b"ab");
        assert!(b64_decode("Y!I").is_none());
    }
}
