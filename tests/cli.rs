//! The command line and configuration loading end to end, through the library's public API
//! (`config::cli`), with real files. The built binaries are exercised by each binary crate's
//! own `tests/cli.rs`.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use oniongate::config::cli::{parse_args, CliError, Command, Invocation};
use oniongate::config::{ConfigError, Daemon, Location, RelayConfig, ServiceConfig};

fn torrc(name: &str, text: &str) -> String {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("lib-cli-{name}.torrc"));
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn invocation(d: Daemon, args: &[&str]) -> Invocation {
    match parse_args(d, args) {
        Ok(Command::Run(i) | Command::VerifyConfig(i)) => i,
        other => panic!("{args:?}: {other:?}"),
    }
}

#[test]
fn file_then_command_line() {
    let f = torrc(
        "relay",
        "Nickname fromfile\nORPort 9001\nORPort 9002\nExitPolicy reject *:*\n",
    );
    let c: RelayConfig = invocation(Daemon::Relay, &["-f", &f]).load().unwrap();
    assert_eq!(
        (
            c.common.nickname.as_deref(),
            c.or_ports.len(),
            c.exit_policy.len()
        ),
        (Some("fromfile"), 2, 1)
    );

    let c: RelayConfig = invocation(
        Daemon::Relay,
        &[
            "-f",
            &f,
            "--nickname",
            "fromcli",
            "--ORPort",
            "443",
            "--/ExitPolicy",
        ],
    )
    .load()
    .unwrap();
    assert_eq!(
        (
            c.common.nickname.as_deref(),
            c.or_ports.len(),
            c.exit_policy.len()
        ),
        (Some("fromcli"), 1, 0)
    );

    let c: RelayConfig = invocation(Daemon::Relay, &["-f", &f, "--+ORPort", "443"])
        .load()
        .unwrap();
    assert_eq!(c.or_ports.len(), 3);
}

#[test]
fn errors_name_their_source() {
    let f = torrc(
        "bad",
        "Nickname ok\nExitPolicy accept *:80,\\\n  reject 10.0.0.0/33:*\n",
    );
    let e = invocation(Daemon::Relay, &["-f", &f])
        .load::<RelayConfig>()
        .unwrap_err();
    assert_eq!(
        e.location(),
        Some(&Location::File {
            name: f.clone().into(),
            line: 2
        })
    );
    assert!(e.to_string().contains("mask /33"), "{e}");

    let e = invocation(Daemon::Relay, &["--Nickname", "bad name!"])
        .load::<RelayConfig>()
        .unwrap_err();
    assert!(matches!(
        e,
        ConfigError::BadValue {
            location: Location::CommandLine { arg: 1 },
            key: "Nickname",
            ..
        }
    ));

    match parse_args(Daemon::Service, &["--HiddenServicePorts", "80"]) {
        Err(CliError::Config(ConfigError::UnknownKey { location, .. })) => {
            assert_eq!(location.to_string(), "command line")
        }
        other => panic!("{other:?}"),
    }

    let e = invocation(Daemon::Relay, &["-f", "/nonexistent/x.torrc"])
        .load::<RelayConfig>()
        .unwrap_err();
    assert!(matches!(e, ConfigError::Io { .. }), "{e}");
}

#[test]
fn include_from_files() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("lib-cli-include.d");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("10-web"),
        "HiddenServiceDir /tmp/web\nHiddenServicePort 80\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("20-dns"),
        "HiddenServiceDir /tmp/dns\nHiddenServiceType dgram\nHiddenServicePort 53\n",
    )
    .unwrap();
    std::fs::write(dir.join(".hidden"), "Bogus 1\n").unwrap();
    let f = torrc(
        "include",
        &format!("Log notice stdout\n%include {}\n", dir.display()),
    );
    let c: ServiceConfig = invocation(Daemon::Service, &["-f", &f]).load().unwrap();
    assert_eq!(c.services.len(), 2);
    assert_eq!(
        c.services[1].location.to_string(),
        format!("{}:1", dir.join("20-dns").display())
    );

    let f = torrc("include-missing", "%include /nonexistent/dir\n");
    let e = invocation(Daemon::Service, &["-f", &f])
        .load::<ServiceConfig>()
        .unwrap_err();
    assert!(
        e.to_string().starts_with(&format!(
            "{f}:1: %include: cannot include \"/nonexistent/dir\""
        )),
        "{e}"
    );
}
