use super::*;
use crate::config::{parse_torrc, LogDest, LogSeverity, Suggestion};

const FP: &str = "0123456789ABCDEF0123456789ABCDEF01234567";
const V3: &str = "89ABCDEF0123456789ABCDEF0123456789ABCDEF";
const ONION: &str = "pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion";

fn entries(text: &str) -> Vec<Entry> {
    parse_torrc(text, "torrc").unwrap_or_else(|e| panic!("{e}"))
}

fn load<C: DaemonConfig>(text: &str) -> Result<C, ConfigError> {
    C::from_entries(&merge(C::DAEMON, &[&entries(text)])?)
}

fn ok<C: DaemonConfig>(text: &str) -> C {
    load(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

fn err<C: DaemonConfig + std::fmt::Debug>(text: &str) -> String {
    match load::<C>(text) {
        Ok(c) => panic!("{text:?} validated: {c:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn relay_full() {
    let c: RelayConfig = ok(&format!(
        "Nickname Test1\nContactInfo op <op@example.org>\nDataDirectory /var/lib/og\n\
         Log notice stdout\nLog debug file /tmp/og.log\nSafeLogging relay\n\
         ORPort 9001\nORPort [::1]:9001 NoAdvertise\nAddress 192.0.2.5\nExitRelay 1\n\
         ExitPolicy accept *:80, accept *:443\nExitPolicy reject *:*\nPublishServerDescriptor 0\n\
         DirPort 9030\nDirCache 0\nAssumeReachable 1\nExitPolicyRejectPrivate 0\n\
         TestingTorNetwork 1\nDirAuthority a orport=5000 v3ident={V3} 127.0.0.1:7000 {FP}\n\
         SocksPort 0\n"
    ));
    assert_eq!(c.common.nickname.as_deref(), Some("Test1"));
    assert_eq!(c.common.safe_logging, SafeLogging::Relay);
    assert_eq!(c.common.logs.len(), 2);
    assert_eq!(c.common.logs[1].min, LogSeverity::Debug);
    assert_eq!(c.common.logs[1].dest, LogDest::File("/tmp/og.log".into()));
    assert_eq!(c.or_ports.len(), 2);
    assert_eq!(c.exit_relay, AutoBool::Yes);
    assert_eq!(c.exit_policy.len(), 3);
    assert!(!c.publish_server_descriptor.v3);
    assert!(!c.dir_cache && c.assume_reachable && !c.exit_policy_reject_private);
    assert!(c.common.testing_tor_network);
    assert_eq!(c.common.dir_authorities.len(), 1);
}

#[test]
fn relay_defaults() {
    let c: RelayConfig = ok("");
    assert_eq!(c.common.safe_logging, SafeLogging::On);
    assert!(c.dir_cache && c.exit_policy_reject_private && c.publish_server_descriptor.v3);
    assert_eq!(c.exit_relay, AutoBool::Auto);
}

#[test]
fn authority() {
    let c: RelayConfig = ok("AuthoritativeDirectory 1\nV3AuthoritativeDirectory 1\nORPort 5000\n");
    assert!(c.authoritative_directory && c.v3_authoritative_directory);
    assert!(err::<RelayConfig>("ORPort 1\nAuthoritativeDirectory 1\n")
        .starts_with("torrc:2: AuthoritativeDirectory: an authority must also set V3AuthoritativeDirectory 1"));
    assert!(err::<RelayConfig>("V3AuthoritativeDirectory 1\n")
        .starts_with("torrc:1: V3AuthoritativeDirectory"));
}

#[test]
fn key_errors() {
    assert_eq!(
        err::<RelayConfig>("Nickname a\nORPorts 9001\n"),
        "torrc:2: unknown key \"ORPorts\" (did you mean \"ORPort\"?)"
    );
    assert_eq!(
        err::<ServiceConfig>("SocksPort 9050\n"),
        "torrc:1: unknown key \"SocksPort\" (\"SocksPort\" is an option of oniongate-client, not of this daemon)"
    );
    assert_eq!(
        err::<ClientConfig>("Frobnicate 1\n"),
        "torrc:1: unknown key \"Frobnicate\""
    );
    assert_eq!(
        err::<RelayConfig>("Nickname a\n\nnickname b\n"),
        "torrc:3: Nickname may be set only once (already set at torrc:1; remove one of the lines)"
    );
    // Keys are case-insensitive.
    assert_eq!(
        ok::<RelayConfig>("orport 9001\nNICKNAME x\n")
            .or_ports
            .len(),
        1
    );
    assert!(matches!(
        load::<RelayConfig>("ORPorts 1"),
        Err(ConfigError::UnknownKey {
            suggestion: Some(Suggestion::Similar("ORPort")),
            ..
        })
    ));
}

#[test]
fn value_errors_name_file_line_key() {
    let cases = [
        (
            "ORPort 70000\n",
            "torrc:1: ORPort \"70000\": port 70000 out of range (1-65535)",
        ),
        (
            "\nAssumeReachable yes\n",
            "torrc:2: AssumeReachable \"yes\": not a boolean",
        ),
        (
            "ExitPolicy accept *:80, allow *:22\n",
            "torrc:1: ExitPolicy \"accept *:80, allow *:22\": in \"allow *:22\"",
        ),
        (
            "Nickname has-dash\n",
            "torrc:1: Nickname \"has-dash\": nickname may contain only",
        ),
        (
            "SafeLogging 2\n",
            "torrc:1: SafeLogging \"2\": use 0, 1 or relay",
        ),
        (
            "Log notice syslog\n",
            "torrc:1: Log \"notice syslog\": syslog logging is not supported",
        ),
        (
            "ExitRelay maybe\n",
            "torrc:1: ExitRelay \"maybe\": use 0, 1 or auto",
        ),
        (
            "DirAuthority 127.0.0.1:7000\n",
            "torrc:1: DirAuthority \"127.0.0.1:7000\": missing FINGERPRINT",
        ),
        (
            "SocksPort 9050\n",
            "torrc:1: SocksPort \"9050\": a relay has no SOCKS port",
        ),
        ("DataDirectory\n", "torrc:1: DataDirectory \"\": empty path"),
    ];
    for (text, want) in cases {
        let got = err::<RelayConfig>(text);
        assert!(got.starts_with(want), "{text:?}:\n got {got}\nwant {want}");
        assert!(got.contains("(expected "), "{got}");
    }
    assert!(err::<RelayConfig>("TestingTorNetwork 1\n").contains("needs DirAuthority"));
}

#[test]
fn client() {
    let c: ClientConfig = ok(&format!(
        "SocksPort 9050 IsolateDestAddr\nSocksPort 127.0.0.1:9150\nUseEntryGuards 0\n\
         UDPForward 127.0.0.1:5353 {ONION}:53\nUDPForward 5060 {ONION}:5060\n"
    ));
    assert_eq!(c.socks_ports.len(), 2);
    assert!(!c.use_entry_guards);
    assert_eq!(c.udp_forwards[1].port, 5060);
    let dup = format!("UDPForward 5060 {ONION}:1\nUDPForward 127.0.0.1:5060 {ONION}:2\n");
    assert!(err::<ClientConfig>(&dup).starts_with(
        "torrc:2: UDPForward: local address 127.0.0.1:5060 already forwarded at torrc:1"
    ));
    assert!(err::<ClientConfig>("UseEntryGuards true\n")
        .starts_with("torrc:1: UseEntryGuards \"true\""));
    assert!(err::<ClientConfig>("SocksPort 9050 Bogus\n").contains("unsupported flag \"Bogus\""));
    assert!(ok::<ClientConfig>("").use_entry_guards);
}

#[test]
fn services() {
    let c: ServiceConfig = ok(
        "HiddenServiceDir /var/lib/og/a\nHiddenServicePort 80 127.0.0.1:8080\nHiddenServicePort 443\n\
         HiddenServiceDir /var/lib/og/b\nHiddenServiceType dgram\nHiddenServiceVersion 3\nHiddenServicePort 53 5353\n",
    );
    assert_eq!(c.services.len(), 2);
    assert_eq!(
        (c.services[0].kind, c.services[0].ports.len()),
        (ServiceType::Stream, 2)
    );
    assert_eq!(c.services[1].kind, ServiceType::Dgram);
    assert_eq!(c.services[1].ports[0].target.to_string(), "127.0.0.1:5353");
    assert_eq!(c.services[1].location.to_string(), "torrc:4");

    assert_eq!(
        err::<ServiceConfig>("Nickname x\nHiddenServicePort 80\n"),
        "torrc:2: HiddenServicePort outside an onion-service block (hint: put a HiddenServiceDir line before it)"
    );
    assert!(err::<ServiceConfig>(
        "HiddenServiceDir /a\nHiddenServiceDir /b\nHiddenServicePort 1\n"
    )
    .starts_with("torrc:1: HiddenServiceDir: this onion service has no HiddenServicePort line"));
    assert!(err::<ServiceConfig>(
        "HiddenServiceDir /a\nHiddenServicePort 1\nHiddenServiceDir /a\nHiddenServicePort 1\n"
    )
    .starts_with("torrc:3: HiddenServiceDir: directory already used by the service at torrc:1"));
    assert!(err::<ServiceConfig>(
        "HiddenServiceDir /a\nHiddenServiceVersion 2\nHiddenServicePort 1\n"
    )
    .starts_with("torrc:2: HiddenServiceVersion \"2\": only version 3"));
    assert!(
        err::<ServiceConfig>("HiddenServiceDir /a\nHiddenServiceType udp\n")
            .starts_with("torrc:2: HiddenServiceType \"udp\"")
    );
    assert!(err::<ServiceConfig>("HiddenServiceDir /a\nHiddenServiceType dgram\nHiddenServiceType stream\nHiddenServicePort 1\n")
        .starts_with("torrc:3: HiddenServiceType may be set only once (already set at torrc:2"));
    // Once-per-block keys may appear once in each block.
    assert_eq!(
        ok::<ServiceConfig>("HiddenServiceDir /a\nHiddenServiceType dgram\nHiddenServicePort 1\nHiddenServiceDir /b\nHiddenServiceType dgram\nHiddenServicePort 1\n").services.len(),
        2
    );
}

fn cli(key: &str, value: &str, op: Op) -> Entry {
    Entry {
        key: key.into(),
        value: value.into(),
        op,
        location: Location::CommandLine { arg: 1 },
    }
}

#[test]
fn merge_semantics() {
    let file =
        entries("ORPort 1\nORPort 2\nNickname a\nExitPolicy reject *:*\nHiddenServiceDir /x\n");
    let shown = |es: &[Entry]| {
        es.iter()
            .map(|e| format!("{} {}", e.key, e.value))
            .collect::<Vec<_>>()
    };
    // A file alone.
    let m = merge(
        Daemon::Relay,
        &[&entries("ORPort 1\n/ORPort\nORPort 3\n+ORPort 4\n")],
    )
    .unwrap_or_default();
    assert_eq!(shown(&m), ["ORPort 3", "ORPort 4"]);
    // The command line replaces, appends, clears.
    let file = &file[..4];
    let m = merge(
        Daemon::Relay,
        &[
            file,
            &[cli("orport", "9", Op::Set), cli("ORPort", "10", Op::Set)],
        ],
    )
    .unwrap_or_default();
    assert_eq!(
        shown(&m),
        [
            "Nickname a",
            "ExitPolicy reject *:*",
            "orport 9",
            "ORPort 10"
        ]
    );
    let m = merge(Daemon::Relay, &[file, &[cli("ORPort", "9", Op::Append)]]).unwrap_or_default();
    assert_eq!(
        shown(&m),
        [
            "ORPort 1",
            "ORPort 2",
            "Nickname a",
            "ExitPolicy reject *:*",
            "ORPort 9"
        ]
    );
    let m = merge(Daemon::Relay, &[file, &[cli("ExitPolicy", "", Op::Clear)]]).unwrap_or_default();
    assert_eq!(shown(&m), ["ORPort 1", "ORPort 2", "Nickname a"]);
    // Onion-service keys form one group.
    let svc = entries("HiddenServiceDir /a\nHiddenServicePort 80\n");
    let m = merge(
        Daemon::Service,
        &[
            &svc,
            &[
                cli("HiddenServiceDir", "/b", Op::Set),
                cli("HiddenServicePort", "81", Op::Set),
            ],
        ],
    )
    .unwrap_or_default();
    assert_eq!(shown(&m), ["HiddenServiceDir /b", "HiddenServicePort 81"]);
    // An unknown key fails even in a clear.
    let e = merge(Daemon::Relay, &[&[], &[cli("Bogus", "", Op::Clear)]]).unwrap_err();
    assert_eq!(e.to_string(), "command line: unknown key \"Bogus\"");
}

// --- client unit
#[test]
fn client_circuit_keys() {
    let c: ClientConfig =
        ok("MaxCircuitDirtiness 5 minutes\nPathsNeededToBuildCircuits 0.1\nNumEntryGuards 2\n");
    assert_eq!(c.max_circuit_dirtiness, 300);
    assert_eq!(c.paths_needed, Some(0.25), "clamped as tor does");
    assert_eq!(c.num_entry_guards, 2);
    let d: ClientConfig = ok("PathsNeededToBuildCircuits -1\n");
    assert_eq!((d.max_circuit_dirtiness, d.paths_needed), (600, None));
    assert!(err::<ClientConfig>("MaxCircuitDirtiness soon\n").contains("MaxCircuitDirtiness"));
    assert!(err::<RelayConfig>("NumEntryGuards 2\n").contains("NumEntryGuards"));
}
