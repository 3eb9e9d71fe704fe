//! The torrc files of the local test network ([`super::LocalNet`]), the configuration
//! loader they go through, and the loopback ports and directories they name.
//!
//! The authority gets C tor's test-network settings (tor(1) `TestingTorNetwork`, fast
//! `V3Auth*` intervals as chutney's networks use, `TestingDirAuthVote{Guard,HSDir} *` and
//! `TestingDirAuthVoteExit` for the exits); exits accept `127.0.0.0/8` and then tor's default
//! exit policy, so their microdescriptor summary is not reject-all (dir-spec §3.8.2).

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use super::TestnetError;
use crate::config::cli::Invocation;
use crate::config::{Daemon, DaemonConfig};

/// C tor's default exit policy after the configured rules (tor(1) `ExitPolicy`), as chutney
/// exits fall through to it.
const DEFAULT_EXIT_TAIL: &str = "reject *:25,reject *:119,reject *:135-139,reject *:445,\
reject *:563,reject *:1214,reject *:4661-4666,reject *:6346-6429,reject *:6699,\
reject *:6881-6999,accept *:*";

/// The keys `--keygen-authority` needs; the pre-key torrc keeps only these.
const KEYGEN_KEYS: &[&str] = &[
    "Nickname",
    "DataDirectory",
    "Address",
    "ORPort",
    "DirPort",
    "ContactInfo",
];

/// A new path under the system's temporary directory (not created).
pub fn fresh_temp_dir() -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    std::env::temp_dir().join(format!(
        "oniongate-testnet-{}-{nanos:08x}",
        std::process::id()
    ))
}

/// A free loopback port (the listener is kept until all ports are chosen, so the ports
/// are distinct).
pub(super) fn reserve_port(held: &mut Vec<std::net::TcpListener>) -> std::io::Result<u16> {
    let l = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    let port = l.local_addr()?.port();
    held.push(l);
    Ok(port)
}

/// Loads a torrc through the daemons' loader (as `-f path`).
pub(super) fn load<C: DaemonConfig>(daemon: Daemon, path: &Path) -> Result<C, TestnetError> {
    Invocation {
        daemon,
        torrc: Some(path.to_path_buf()),
        overrides: Vec::new(),
    }
    .load::<C>()
    .map_err(|source| TestnetError::Config {
        path: path.to_path_buf(),
        source: Box::new(source),
    })
}

/// Creates `p` (0700).
pub(super) fn write_private_dir(p: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(p)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// The lines every relay node's torrc starts with.
fn relay_torrc(role: &str, name: &str, data: &Path, or_port: u16) -> String {
    format!(
        "# Oniongate local test network: {role}\n\
         Nickname {name}\n\
         DataDirectory {}\n\
         Address 127.0.0.1\n\
         ORPort 127.0.0.1:{or_port}\n\
         ContactInfo oniongate-testnet\n\
         TestingTorNetwork 1\n\
         AssumeReachable 1\n",
        data.display()
    )
}

/// The authority's torrc without its `DirAuthority` line; `iv` is the voting interval.
pub(super) fn authority_torrc(
    base: &Path,
    or_port: u16,
    dir_port: u16,
    iv: u32,
    exits: &[String],
) -> String {
    let mut t = relay_torrc("directory authority", "auth", &base.join("auth"), or_port);
    let delay = (iv / 5).max(2);
    let _ = write!(
        t,
        "DirPort 127.0.0.1:{dir_port}\n\
         AuthoritativeDirectory 1\n\
         V3AuthoritativeDirectory 1\n\
         ExitRelay 0\n\
         ExitPolicy reject *:*\n\
         V3AuthVotingInterval {iv}\n\
         V3AuthVoteDelay {delay}\n\
         V3AuthDistDelay {delay}\n\
         TestingV3AuthInitialVotingInterval {iv}\n\
         TestingV3AuthInitialVoteDelay {delay}\n\
         TestingV3AuthInitialDistDelay {delay}\n\
         TestingDirAuthVoteGuard *\n\
         TestingDirAuthVoteHSDir *\n"
    );
    if !exits.is_empty() {
        let _ = writeln!(t, "TestingDirAuthVoteExit {}", exits.join(","));
    }
    t
}

/// The torrc the key command runs on: the authority's without the test-network lines
/// (they need the `DirAuthority` line, which needs the keys).
pub(super) fn pre_keygen(auth_torrc: &str) -> String {
    auth_torrc
        .lines()
        .filter(|l| {
            l.starts_with('#')
                || KEYGEN_KEYS
                    .iter()
                    .any(|k| l.strip_prefix(k).is_some_and(|r| r.starts_with(' ')))
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

/// A relay's torrc without its `DirAuthority` line.
pub(super) fn node_torrc(role: &str, name: &str, data: &Path, or_port: u16, exit: bool) -> String {
    let mut t = relay_torrc(role, name, data, or_port);
    if exit {
        let _ = write!(
            t,
            "ExitRelay 1\nExitPolicyRejectPrivate 0\n\
             ExitPolicy accept 127.0.0.0/8:*\nExitPolicy {DEFAULT_EXIT_TAIL}\n"
        );
    } else {
        t.push_str("ExitRelay 0\nExitPolicy reject *:*\n");
    }
    t
}

/// The client's torrc.
pub(super) fn client_torrc(data: &Path, socks_port: u16, dir_authority: &str) -> String {
    format!(
        "# Oniongate local test network: client\n\
         DataDirectory {}\n\
         SocksPort 127.0.0.1:{socks_port}\n\
         TestingTorNetwork 1\n\
         {dir_authority}\n",
        data.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pre_keygen_keeps_only_key_command_lines() {
        let t = authority_torrc(Path::new("/x"), 1, 2, 20, &["exit1".into()]);
        let pre = pre_keygen(&t);
        assert!(pre.contains("DirPort 127.0.0.1:2\n"));
        assert!(pre.contains("Nickname auth\n"));
        assert!(!pre.contains("TestingTorNetwork"));
        assert!(!pre.contains("AuthoritativeDirectory"));
        assert!(t.contains("TestingDirAuthVoteExit exit1\n"));
    }

    fn summary_of(torrc: &str) -> crate::dir::flags::PortSummary {
        use crate::config::{merge, parse_torrc, RelayConfig};
        let line = "DirAuthority auth orport=1 no-v2 \
                    v3ident=0000000000000000000000000000000000000000 127.0.0.1:2 \
                    0000000000000000000000000000000000000000";
        let entries = parse_torrc(&format!("{torrc}{line}\n"), "test").unwrap();
        let cfg = RelayConfig::from_entries(&merge(Daemon::Relay, &[&entries]).unwrap()).unwrap();
        let rules = crate::rt::publish::expanded_exit_policy(&cfg, &[Ipv4Addr::LOCALHOST.into()]);
        crate::dir::doc::policy::summarize(&rules)
    }

    #[test]
    fn exit_policy_summary_is_not_reject_all() {
        let exit = summary_of(&node_torrc("exit relay", "exit1", Path::new("/x"), 1, true));
        assert!(exit.allows(8000) && exit.allows(80) && exit.allows(443));
        assert!(!exit.allows(25));
        let relay = summary_of(&node_torrc("relay", "relay1", Path::new("/x"), 1, false));
        assert!(relay.allows_none());
    }
}
