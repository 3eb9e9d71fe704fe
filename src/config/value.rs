//! Parsers for single values: booleans, ports, nicknames, `Log` lines, `SafeLogging`,
//! `PublishServerDescriptor`, addresses.
//!
//! Each parser takes the value text and returns the typed value, or a one-line reason that
//! the validator wraps into [`super::ConfigError::BadValue`] with the file, line and key. The
//! syntax follows tor(1) for every key tor has.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;

use crate::safelog::SafeLogging;

/// What a value parser returns.
pub(crate) type VResult<T> = Result<T, String>;

/// A boolean: `0` or `1` only, as in tor.
pub(crate) fn parse_bool(v: &str) -> VResult<bool> {
    match v {
        "0" => Ok(false),
        "1" => Ok(true),
        _ => Err(format!(
            "not a boolean: use 0 or 1 (tor does not accept {v:?})"
        )),
    }
}

/// `0`, `1` or `auto`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AutoBool {
    /// `0`.
    No,
    /// `1`.
    Yes,
    /// `auto` (tor decides; the default).
    #[default]
    Auto,
}

pub(crate) fn parse_auto_bool(v: &str) -> VResult<AutoBool> {
    if v.eq_ignore_ascii_case("auto") {
        return Ok(AutoBool::Auto);
    }
    match v {
        "0" => Ok(AutoBool::No),
        "1" => Ok(AutoBool::Yes),
        _ => Err("use 0, 1 or auto".into()),
    }
}

/// A decimal port. `allow_zero` where tor gives 0 a meaning ("disabled").
pub(crate) fn parse_port(v: &str, allow_zero: bool) -> VResult<u16> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{v:?} is not a port number"));
    }
    match v.parse::<u16>() {
        Ok(0) if !allow_zero => Err("port 0 is not allowed here (use 1-65535)".into()),
        Ok(p) => Ok(p),
        Err(_) => Err(format!("port {v} out of range (1-65535)")),
    }
}

/// A relay nickname: 1-19 characters of `[A-Za-z0-9]` (tor-spec §1.1 / dir-spec "nickname").
pub(crate) fn parse_nickname(v: &str) -> VResult<String> {
    if v.is_empty() || v.len() > 19 {
        return Err(format!("nickname must be 1-19 characters, not {}", v.len()));
    }
    if !v.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err("nickname may contain only A-Z, a-z and 0-9".into());
    }
    Ok(v.to_string())
}

/// A path: any non-empty text.
pub(crate) fn parse_path(v: &str) -> VResult<PathBuf> {
    if v.is_empty() {
        return Err("empty path".into());
    }
    Ok(PathBuf::from(v))
}

/// `SafeLogging 0|1|relay`.
pub(crate) fn parse_safe_logging(v: &str) -> VResult<SafeLogging> {
    match v {
        "0" => Ok(SafeLogging::Off),
        "1" => Ok(SafeLogging::On),
        _ if v.eq_ignore_ascii_case("relay") => Ok(SafeLogging::Relay),
        _ => Err("use 0, 1 or relay".into()),
    }
}

/// An address a relay advertises: an IP address or a DNS name.
pub(crate) fn parse_address(v: &str) -> VResult<String> {
    let bare = v
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(v);
    if bare.parse::<IpAddr>().is_ok() {
        return Ok(bare.to_string());
    }
    let ok_label = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if !v.is_empty() && v.len() <= 253 && v.split('.').all(ok_label) {
        Ok(v.to_ascii_lowercase())
    } else {
        Err("not an IP address or a host name".into())
    }
}

/// A tor log severity, lowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogSeverity {
    /// `debug`.
    Debug,
    /// `info`.
    Info,
    /// `notice`.
    Notice,
    /// `warn`.
    Warn,
    /// `err`.
    Err,
}

impl LogSeverity {
    /// Tor's name for it.
    pub fn name(self) -> &'static str {
        match self {
            LogSeverity::Debug => "debug",
            LogSeverity::Info => "info",
            LogSeverity::Notice => "notice",
            LogSeverity::Warn => "warn",
            LogSeverity::Err => "err",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [
            LogSeverity::Debug,
            LogSeverity::Info,
            LogSeverity::Notice,
            LogSeverity::Warn,
            LogSeverity::Err,
        ]
        .into_iter()
        .find(|l| l.name().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for LogSeverity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a `Log` line sends its messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogDest {
    /// `stdout`.
    Stdout,
    /// `stderr`.
    Stderr,
    /// `file PATH` (appended to).
    File(PathBuf),
}

/// One `Log` line: messages from `min` up to `max` severity go to `dest`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogSpec {
    /// Lowest severity logged.
    pub min: LogSeverity,
    /// Highest severity logged (`err` unless a range says otherwise).
    pub max: LogSeverity,
    /// Destination.
    pub dest: LogDest,
}

impl LogSpec {
    /// Tor's default when no `Log` line is given: `notice stdout`.
    pub fn default_spec() -> LogSpec {
        LogSpec {
            min: LogSeverity::Notice,
            max: LogSeverity::Err,
            dest: LogDest::Stdout,
        }
    }
}

/// `Log MINSEV[-MAXSEV] [stdout|stderr|file PATH]` (tor(1) "Log"; no destination means stdout).
pub(crate) fn parse_log(v: &str) -> VResult<LogSpec> {
    let mut words = v.split_ascii_whitespace();
    let range = words.next().ok_or("missing severity")?;
    if range.starts_with('[') {
        return Err("log domains ([domain]severity) are not supported".into());
    }
    let (min, max) = match range.split_once('-') {
        Some((a, b)) => (sev(a)?, sev(b)?),
        None => (sev(range)?, LogSeverity::Err),
    };
    if min > max {
        return Err(format!(
            "severity range {min}-{max} is empty (lowest first: debug-err)"
        ));
    }
    let rest: Vec<&str> = words.collect();
    let dest = match rest.as_slice() {
        [] => LogDest::Stdout,
        [d] if d.eq_ignore_ascii_case("stdout") => LogDest::Stdout,
        [d] if d.eq_ignore_ascii_case("stderr") => LogDest::Stderr,
        [d] if d.eq_ignore_ascii_case("syslog") || d.eq_ignore_ascii_case("android") => {
            return Err(format!(
                "{d} logging is not supported; use stdout, stderr or file PATH"
            ))
        }
        [f, path] if f.eq_ignore_ascii_case("file") => LogDest::File(PathBuf::from(path)),
        [f] if f.eq_ignore_ascii_case("file") => return Err("file needs a path".into()),
        _ => return Err("bad destination: use stdout, stderr or file PATH".into()),
    };
    Ok(LogSpec { min, max, dest })
}

fn sev(s: &str) -> VResult<LogSeverity> {
    LogSeverity::parse(s)
        .ok_or_else(|| format!("unknown severity {s:?} (use debug, info, notice, warn or err)"))
}

/// Where `PublishServerDescriptor` sends the descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublishDescriptor {
    /// To the v3 directory authorities (`1` or `v3`; the default).
    pub v3: bool,
    /// To the bridge authority (`bridge`).
    pub bridge: bool,
}

impl Default for PublishDescriptor {
    fn default() -> Self {
        PublishDescriptor {
            v3: true,
            bridge: false,
        }
    }
}

/// `PublishServerDescriptor 0|1|v3|bridge[,...]`.
pub(crate) fn parse_publish(v: &str) -> VResult<PublishDescriptor> {
    let mut p = PublishDescriptor {
        v3: false,
        bridge: false,
    };
    for item in v.split(',').map(str::trim) {
        match item.to_ascii_lowercase().as_str() {
            "0" => {}
            "1" | "v3" => p.v3 = true,
            "bridge" => p.bridge = true,
            "v1" | "v2" => return Err(format!("{item} directories are obsolete; use v3")),
            _ => return Err(format!("unknown item {item:?} (use 0, 1, v3 or bridge)")),
        }
    }
    Ok(p)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn bools() {
        assert_eq!(parse_bool("0"), Ok(false));
        assert_eq!(parse_bool("1"), Ok(true));
        for bad in ["true", "yes", "", "01", " 1", "2"] {
            assert!(parse_bool(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_auto_bool("AUTO"), Ok(AutoBool::Auto));
        assert!(parse_auto_bool("maybe").is_err());
    }

    #[test]
    fn ports() {
        assert_eq!(parse_port("9001", false), Ok(9001));
        assert_eq!(parse_port("65535", false), Ok(65535));
        assert_eq!(parse_port("0", true), Ok(0));
        for bad in ["0", "65536", "", "-1", "+5", "80a", "99999999999999999999"] {
            assert!(parse_port(bad, false).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn nicknames() {
        assert!(parse_nickname("Unnamed").is_ok());
        assert!(parse_nickname("a234567890123456789").is_ok());
        assert!(parse_nickname("a2345678901234567890").is_err());
        assert!(parse_nickname("").is_err());
        assert!(parse_nickname("bad-name").is_err());
        assert!(parse_nickname("ünï").is_err());
    }

    #[test]
    fn logs() {
        let l = parse_log("notice stdout").unwrap();
        assert_eq!(
            (l.min, l.max, l.dest),
            (LogSeverity::Notice, LogSeverity::Err, LogDest::Stdout)
        );
        let l = parse_log("debug-err stderr").unwrap();
        assert_eq!(
            (l.min, l.max, l.dest),
            (LogSeverity::Debug, LogSeverity::Err, LogDest::Stderr)
        );
        let l = parse_log("info file /var/log/og.log").unwrap();
        assert_eq!(l.dest, LogDest::File("/var/log/og.log".into()));
        assert_eq!(parse_log("WARN").unwrap().dest, LogDest::Stdout);
        assert!(parse_log("notice syslog").unwrap_err().contains("syslog"));
        assert!(parse_log("err-debug stderr").is_err());
        assert!(parse_log("loud stderr").is_err());
        assert!(parse_log("[handshake]debug stderr").is_err());
        assert!(parse_log("notice file").is_err());
        assert!(parse_log("notice tcp").is_err());
        assert!(parse_log("").is_err());
    }

    #[test]
    fn safe_logging_and_publish() {
        assert_eq!(parse_safe_logging("relay"), Ok(SafeLogging::Relay));
        assert_eq!(parse_safe_logging("0"), Ok(SafeLogging::Off));
        assert!(parse_safe_logging("2").is_err());
        assert_eq!(
            parse_publish("0"),
            Ok(PublishDescriptor {
                v3: false,
                bridge: false
            })
        );
        assert_eq!(
            parse_publish("v3,bridge"),
            Ok(PublishDescriptor {
                v3: true,
                bridge: true
            })
        );
        assert!(parse_publish("v2").is_err());
        assert!(parse_publish("yes").is_err());
    }

    #[test]
    fn addresses() {
        assert_eq!(parse_address("192.0.2.1"), Ok("192.0.2.1".into()));
        assert_eq!(parse_address("[2001:db8::1]"), Ok("2001:db8::1".into()));
        assert_eq!(
            parse_address("Relay.Example.org"),
            Ok("relay.example.org".into())
        );
        assert!(parse_address("bad host").is_err());
        assert!(parse_address("-x.org").is_err());
        assert!(parse_address("").is_err());
    }
}
