//! The tor-style command line, as a pure function: arguments in, a [`Command`] out.
//!
//! Follows tor(1) "COMMAND-LINE OPTIONS": `-f FILE` (also `--torrc-file FILE`), `--Key VALUE`
//! sets a configuration key (replacing the torrc's lines of that key), `--+Key VALUE` appends,
//! `--/Key` clears, `--verify-config`, `--version`, `-h`/`--help`. We add `--set KEY=VALUE`,
//! which is the same as `--KEY VALUE`. Keys are checked against the daemon's table here, so an
//! unknown one fails early, naming "command line". There is no default torrc: without `-f` the
//! configuration comes from the command line alone.

use std::fmt::Write as _;
use std::path::PathBuf;

use super::daemon::{merge, DaemonConfig};
use super::include::read_torrc;
use super::keys::Daemon;
use super::{ConfigError, Entry, Location, Op};

/// What the user asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `-h` / `--help`: print [`usage`] and exit 0.
    Help,
    /// `--version`: print [`version_line`] and exit 0.
    Version,
    /// `--verify-config`: load the configuration, report, exit.
    VerifyConfig(Invocation),
    /// Run the daemon.
    Run(Invocation),
}

/// Where the configuration comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invocation {
    /// The daemon.
    pub daemon: Daemon,
    /// `-f FILE`, if given.
    pub torrc: Option<PathBuf>,
    /// Command-line entries, in order.
    pub overrides: Vec<Entry>,
}

impl Invocation {
    /// Reads the torrc (if any) and merges the command line over it.
    pub fn entries(&self) -> Result<Vec<Entry>, ConfigError> {
        self.entries_for(self.daemon)
    }

    fn entries_for(&self, daemon: Daemon) -> Result<Vec<Entry>, ConfigError> {
        let file = match &self.torrc {
            Some(path) => read_torrc(path)?,
            None => Vec::new(),
        };
        merge(daemon, &[&file, &self.overrides])
    }

    /// Reads, merges and validates the configuration (with `C`'s key table).
    pub fn load<C: DaemonConfig>(&self) -> Result<C, ConfigError> {
        C::from_entries(&self.entries_for(C::DAEMON)?)
    }
}

/// A command line that could not be understood.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CliError {
    /// An option that takes a value came last.
    #[error("command line: {option} needs a value")]
    MissingValue {
        /// The option.
        option: String,
    },
    /// `--set` without `=`.
    #[error("command line: --set needs KEY=VALUE, got {arg:?}")]
    BadSet {
        /// The argument after `--set`.
        arg: String,
    },
    /// An argument that is neither an option nor a key.
    #[error("command line: unexpected argument {arg:?} (hint: configuration keys are written --Key value; see --help)")]
    Unexpected {
        /// The argument.
        arg: String,
    },
    /// `-f` given twice.
    #[error("command line: -f given more than once")]
    TwoFiles,
    /// A key this daemon does not know.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// `oniongate-relay 0.1.0 (Oniongate)`.
pub fn version_line(daemon: Daemon) -> String {
    format!("{} {} (Oniongate)", daemon.binary(), crate::VERSION)
}

/// Parses the arguments after the program name.
pub fn parse_args<S: AsRef<str>>(daemon: Daemon, args: &[S]) -> Result<Command, CliError> {
    let mut torrc = None;
    let mut verify = false;
    let mut overrides = Vec::new();
    let mut i = 0;
    let value_of = |i: usize, option: &str| -> Result<String, CliError> {
        args.get(i + 1)
            .map(|s| s.as_ref().to_string())
            .ok_or_else(|| CliError::MissingValue {
                option: option.to_string(),
            })
    };
    while let Some(arg) = args.get(i).map(AsRef::as_ref) {
        let location = Location::CommandLine { arg: i + 1 };
        match arg {
            "-h" | "--help" => return Ok(Command::Help),
            "--version" => return Ok(Command::Version),
            "--verify-config" => verify = true,
            "-f" | "--torrc-file" => {
                if torrc.is_some() {
                    return Err(CliError::TwoFiles);
                }
                torrc = Some(PathBuf::from(value_of(i, arg)?));
                i += 1;
            }
            "--set" => {
                let kv = value_of(i, arg)?;
                let (key, value) = kv
                    .split_once('=')
                    .ok_or_else(|| CliError::BadSet { arg: kv.clone() })?;
                overrides.push(entry(daemon, key.trim(), value.trim(), location)?);
                i += 1;
            }
            _ => {
                let Some(key) = arg.strip_prefix("--").filter(|k| !k.is_empty()) else {
                    return Err(CliError::Unexpected { arg: arg.into() });
                };
                if key.starts_with('/') || key.contains('=') {
                    overrides.push(entry(daemon, key, "", location)?);
                } else {
                    let value = value_of(i, arg)?;
                    overrides.push(entry(daemon, key, &value, location)?);
                    i += 1;
                }
            }
        }
        i += 1;
    }
    let inv = Invocation {
        daemon,
        torrc,
        overrides,
    };
    Ok(if verify {
        Command::VerifyConfig(inv)
    } else {
        Command::Run(inv)
    })
}

/// Builds a command-line entry, checking the key.
fn entry(daemon: Daemon, raw: &str, value: &str, location: Location) -> Result<Entry, CliError> {
    let (op, key) = if let Some(k) = raw.strip_prefix('+') {
        (Op::Append, k)
    } else if let Some(k) = raw.strip_prefix('/') {
        (Op::Clear, k)
    } else {
        (Op::Set, raw)
    };
    if daemon.lookup(key).is_none() {
        let suggestion = daemon.suggest(key).or_else(|| {
            // `--Key=value` is a common slip: suggest by the part before '='.
            key.split_once('=')
                .and_then(|(k, _)| daemon.lookup(k))
                .map(|s| super::Suggestion::Similar(s.name))
        });
        return Err(ConfigError::UnknownKey {
            location,
            key: key.to_string(),
            suggestion,
        }
        .into());
    }
    Ok(Entry {
        key: key.to_string(),
        value: value.to_string(),
        op,
        location,
    })
}

/// The `--help` text: usage and the daemon's keys.
pub fn usage(daemon: Daemon) -> String {
    let mut s = String::new();
    let bin = daemon.binary();
    let _ = writeln!(s, "{}\n", version_line(daemon));
    let _ = writeln!(
        s,
        "Usage: {bin} [-f FILE] [--verify-config] [--Key VALUE]...\n"
    );
    let _ = writeln!(s, "Options:");
    for (opt, what) in [
        (
            "-f, --torrc-file FILE",
            "read the configuration from FILE (default: none)",
        ),
        ("--Key VALUE", "set Key, replacing the file's Key lines"),
        ("--+Key VALUE", "add a Key line to the file's"),
        ("--/Key", "clear Key"),
        ("--set KEY=VALUE", "same as --KEY VALUE"),
        (
            "--verify-config",
            "check the configuration, print the result, exit",
        ),
        ("--version", "print the version and exit"),
        ("-h, --help", "print this help and exit"),
    ] {
        let _ = writeln!(s, "  {opt:<24}{what}");
    }
    let _ = writeln!(s, "\nConfiguration keys (torrc lines, or --Key VALUE):");
    for k in daemon.keys() {
        let many = if k.repeat { " (repeatable)" } else { "" };
        let _ = writeln!(s, "  {} {}\n      {}{many}", k.name, k.syntax, k.help);
    }
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parse(d: Daemon, args: &[&str]) -> Result<Command, CliError> {
        parse_args(d, args)
    }

    fn inv(c: Result<Command, CliError>) -> Invocation {
        match c {
            Ok(Command::Run(i) | Command::VerifyConfig(i)) => i,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn flags() {
        assert_eq!(parse(Daemon::Relay, &["--version"]), Ok(Command::Version));
        assert_eq!(parse(Daemon::Relay, &["-h"]), Ok(Command::Help));
        assert_eq!(
            parse(Daemon::Relay, &["--ORPort", "1", "--help"]),
            Ok(Command::Help)
        );
        let i = inv(parse(Daemon::Relay, &[]));
        assert_eq!((i.torrc, i.overrides.len()), (None, 0));
        assert!(matches!(
            parse(Daemon::Client, &["--verify-config", "-f", "x.torrc"]),
            Ok(Command::VerifyConfig(Invocation { torrc: Some(p), .. })) if p.as_os_str() == "x.torrc"
        ));
        assert_eq!(
            version_line(Daemon::Relay),
            "oniongate-relay 0.1.0 (Oniongate)"
        );
    }

    #[test]
    fn keys_and_ops() {
        let i = inv(parse(
            Daemon::Relay,
            &[
                "--orport",
                "9001",
                "--+ORPort",
                "9002",
                "--/ExitPolicy",
                "--set",
                "Nickname=abc",
            ],
        ));
        let got: Vec<_> = i
            .overrides
            .iter()
            .map(|e| (e.key.as_str(), e.value.as_str(), e.op))
            .collect();
        assert_eq!(
            got,
            [
                ("orport", "9001", Op::Set),
                ("ORPort", "9002", Op::Append),
                ("ExitPolicy", "", Op::Clear),
                ("Nickname", "abc", Op::Set)
            ]
        );
        assert_eq!(i.overrides[0].location, Location::CommandLine { arg: 1 });
        assert_eq!(i.overrides[3].location.to_string(), "command line");
    }

    #[test]
    fn errors() {
        assert_eq!(
            parse(Daemon::Relay, &["-f"]),
            Err(CliError::MissingValue {
                option: "-f".into()
            })
        );
        assert!(matches!(
            parse(Daemon::Relay, &["--ORPort"]),
            Err(CliError::MissingValue { .. })
        ));
        assert!(matches!(
            parse(Daemon::Relay, &["--set", "ORPort"]),
            Err(CliError::BadSet { .. })
        ));
        assert!(matches!(
            parse(Daemon::Relay, &["torrc"]),
            Err(CliError::Unexpected { .. })
        ));
        assert!(matches!(
            parse(Daemon::Relay, &["-x"]),
            Err(CliError::Unexpected { .. })
        ));
        assert!(matches!(
            parse(Daemon::Relay, &["-f", "a", "-f", "b"]),
            Err(CliError::TwoFiles)
        ));
        let e = parse(Daemon::Relay, &["--ORPorts", "1"])
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "command line: unknown key \"ORPorts\" (did you mean \"ORPort\"?)"
        );
        let e = parse(Daemon::Relay, &["--ORPort=9001"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("did you mean \"ORPort\""), "{e}");
        let e = parse(Daemon::Client, &["--ORPort", "1"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("oniongate-relay"), "{e}");
    }

    #[test]
    fn load_from_command_line_only() {
        let i = inv(parse(
            Daemon::Relay,
            &["--ORPort", "9001", "--Nickname", "x"],
        ));
        let c: super::super::RelayConfig = i.load().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.or_ports.len(), 1);
        let i = inv(parse(Daemon::Relay, &["--ORPort", "99999"]));
        let e = i
            .load::<super::super::RelayConfig>()
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("command line: ORPort \"99999\": port 99999 out of range"),
            "{e}"
        );
        let i = inv(parse(Daemon::Relay, &["-f", "/nonexistent/og.torrc"]));
        let e = i
            .load::<super::super::RelayConfig>()
            .unwrap_err()
            .to_string();
        assert!(e.contains("/nonexistent/og.torrc"), "{e}");
    }

    #[test]
    fn usage_lists_keys() {
        let u = usage(Daemon::Service);
        assert!(u.contains("HiddenServicePort") && u.contains("--verify-config"));
        assert!(!u.contains("ORPort "));
    }
}
