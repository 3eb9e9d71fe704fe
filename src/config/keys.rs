//! The declarative key tables: which keys each daemon accepts, their canonical spelling,
//! syntax and whether they may repeat.
//!
//! Keys are matched case-insensitively, as in tor. A key that no daemon knows, or that belongs
//! to another daemon, is an error; the error suggests the nearest known key.

use std::fmt;

use super::Suggestion;

/// The three daemons, each with its own key table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Daemon {
    /// `oniongate-relay` (relay and directory authority).
    Relay,
    /// `oniongate-client` (SOCKS and UDP port forwards).
    Client,
    /// `oniongate-service` (onion services).
    Service,
}

impl Daemon {
    /// The binary's name.
    pub fn binary(self) -> &'static str {
        match self {
            Daemon::Relay => "oniongate-relay",
            Daemon::Client => "oniongate-client",
            Daemon::Service => "oniongate-service",
        }
    }

    /// Parses a binary name (`oniongate-relay`, ...).
    pub fn from_binary(name: &str) -> Option<Daemon> {
        [Daemon::Relay, Daemon::Client, Daemon::Service]
            .into_iter()
            .find(|d| d.binary() == name)
    }

    fn scope(self) -> u8 {
        match self {
            Daemon::Relay => RELAY,
            Daemon::Client => CLIENT,
            Daemon::Service => SERVICE,
        }
    }

    /// The keys this daemon accepts, common keys first.
    pub fn keys(self) -> impl Iterator<Item = &'static KeySpec> {
        let s = self.scope();
        KEYS.iter().filter(move |k| k.scope & s != 0)
    }

    /// Looks a key up, case-insensitively.
    pub fn lookup(self, key: &str) -> Option<&'static KeySpec> {
        self.keys().find(|k| k.name.eq_ignore_ascii_case(key))
    }

    /// The best hint for a key this daemon does not know.
    pub fn suggest(self, key: &str) -> Option<Suggestion> {
        let other = KEYS
            .iter()
            .filter(|k| k.key != Key::RelaySocksPort)
            .find(|k| k.name.eq_ignore_ascii_case(key));
        if let Some(other) = other {
            let daemon = [Daemon::Relay, Daemon::Client, Daemon::Service]
                .into_iter()
                .find(|d| other.scope & d.scope() != 0)
                .map_or("another daemon", Daemon::binary);
            return Some(Suggestion::OtherDaemon {
                key: other.name,
                daemon,
            });
        }
        let lower = key.to_ascii_lowercase();
        let (dist, best) = self
            .keys()
            .map(|k| (edit_distance(&lower, &k.name.to_ascii_lowercase()), k.name))
            .min_by_key(|(d, _)| *d)?;
        let limit = (key.chars().count() / 3).clamp(1, 3);
        (dist <= limit).then_some(Suggestion::Similar(best))
    }
}

impl fmt::Display for Daemon {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.binary())
    }
}

/// Every key we know, for dispatch.
#[allow(missing_docs)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Key {
    DataDirectory,
    Log,
    SafeLogging,
    Nickname,
    ContactInfo,
    TestingTorNetwork,
    DirAuthority,
    OrPort,
    Address,
    ExitRelay,
    ExitPolicy,
    PublishServerDescriptor,
    DirPort,
    DirCache,
    AuthoritativeDirectory,
    V3AuthoritativeDirectory,
    AssumeReachable,
    ExitPolicyRejectPrivate,
    RelaySocksPort,
    SocksPort,
    UdpForward,
    UseEntryGuards,
    HiddenServiceDir,
    HiddenServicePort,
    HiddenServiceType,
    HiddenServiceVersion,
    // --- directory authority (unit dirauth; config::dirauth_opts)
    V3AuthVotingInterval,
    V3AuthVoteDelay,
    V3AuthDistDelay,
    V3AuthNIntervalsValid,
    TestingV3AuthInitialVotingInterval,
    TestingV3AuthInitialVoteDelay,
    TestingV3AuthInitialDistDelay,
    TestingV3AuthVotingStartOffset,
    TestingDirAuthVoteExit,
    TestingDirAuthVoteExitIsStrict,
    TestingDirAuthVoteGuard,
    TestingDirAuthVoteGuardIsStrict,
    TestingDirAuthVoteHSDir,
    TestingDirAuthVoteHSDirIsStrict,
    AuthDirVoteGuard,
    AuthDirMaxServersPerAddr,
    MinUptimeHidServDirectoryV2,
    TestingAuthDirTimeToLearnReachability,
    AuthDirTestReachability,
    AuthDirPinKeys,
    DirAllowPrivateAddresses,
    ConsensusParams,
    // --- client (unit client)
    MaxCircuitDirtiness,
    PathsNeededToBuildCircuits,
    NumEntryGuards,
}

/// One row of the key table.
#[derive(Debug)]
pub struct KeySpec {
    /// Dispatch tag.
    pub key: Key,
    /// Canonical spelling.
    pub name: &'static str,
    /// Whether the key may appear more than once (in one source).
    pub repeat: bool,
    /// The value syntax, as shown in `--help` and in error hints.
    pub syntax: &'static str,
    /// One line of explanation.
    pub help: &'static str,
    scope: u8,
}

impl KeySpec {
    /// Keys that [`super::merge`] treats as one unit: all onion-service keys form one group
    /// (tor's "group" keys), every other key is its own group.
    pub fn group(&self) -> &'static str {
        if self.name.starts_with("HiddenService") {
            "HiddenService*"
        } else {
            self.name
        }
    }
}

const RELAY: u8 = 1;
const CLIENT: u8 = 2;
const SERVICE: u8 = 4;
const ALL: u8 = RELAY | CLIENT | SERVICE;

const fn row(
    key: Key,
    name: &'static str,
    scope: u8,
    repeat: bool,
    syntax: &'static str,
    help: &'static str,
) -> KeySpec {
    KeySpec {
        key,
        name,
        repeat,
        syntax,
        help,
        scope,
    }
}

#[rustfmt::skip]
static KEYS: &[KeySpec] = &[
    row(Key::DataDirectory, "DataDirectory", ALL, false, "DIR", "where keys and state are kept"),
    row(Key::Log, "Log", ALL, true, "MINSEV[-MAXSEV] stdout|stderr|file PATH", "where log lines go (default: notice stdout)"),
    row(Key::SafeLogging, "SafeLogging", ALL, false, "0|1|relay", "scrub addresses from logs (default 1)"),
    row(Key::Nickname, "Nickname", ALL, false, "NAME (1-19 of A-Z a-z 0-9)", "the relay's nickname"),
    row(Key::ContactInfo, "ContactInfo", ALL, false, "TEXT", "how to reach the operator"),
    row(Key::TestingTorNetwork, "TestingTorNetwork", ALL, false, "0|1", "private-network timings (needs DirAuthority)"),
    row(Key::DirAuthority, "DirAuthority", ALL, true, "[NICK] [orport=N] [v3ident=HEX40] [FLAGS] IPV4:DIRPORT FINGERPRINT", "a directory authority (replaces the default set)"),
    row(Key::OrPort, "ORPort", RELAY, true, "[ADDR:]PORT|auto|0 [NoAdvertise|NoListen|IPv4Only|IPv6Only]", "where the relay accepts channels"),
    row(Key::Address, "Address", RELAY, true, "IP|HOSTNAME", "the relay's public address"),
    row(Key::ExitRelay, "ExitRelay", RELAY, false, "0|1|auto", "whether to be an exit"),
    row(Key::ExitPolicy, "ExitPolicy", RELAY, true, "accept|reject[6] ADDR[/MASK][:PORT[-PORT]], ...", "which exit streams to allow"),
    row(Key::PublishServerDescriptor, "PublishServerDescriptor", RELAY, false, "0|1|v3|bridge[,...]", "where to publish the descriptor"),
    row(Key::DirPort, "DirPort", RELAY, true, "[ADDR:]PORT|auto|0 [NoAdvertise|NoListen|IPv4Only|IPv6Only]", "where directory requests are served over HTTP"),
    row(Key::DirCache, "DirCache", RELAY, false, "0|1", "serve directory documents (default 1)"),
    row(Key::AuthoritativeDirectory, "AuthoritativeDirectory", RELAY, false, "0|1", "be a directory authority"),
    row(Key::V3AuthoritativeDirectory, "V3AuthoritativeDirectory", RELAY, false, "0|1", "be a v3 (consensus) authority"),
    row(Key::AssumeReachable, "AssumeReachable", RELAY, false, "0|1", "skip the ORPort self-test"),
    row(Key::ExitPolicyRejectPrivate, "ExitPolicyRejectPrivate", RELAY, false, "0|1", "reject private addresses first (default 1)"),
    row(Key::RelaySocksPort, "SocksPort", RELAY, false, "0", "accepted for tor compatibility: a relay has no SOCKS port"),
    row(Key::SocksPort, "SocksPort", CLIENT, true, "[ADDR:]PORT|auto|0 [ISOLATION FLAGS]", "SOCKS5 listener (default 127.0.0.1:9050)"),
    row(Key::UdpForward, "UDPForward", CLIENT, true, "[LOCALADDR:]PORT ONION.onion:PORT", "forward a local UDP port to a datagram onion service"),
    row(Key::UseEntryGuards, "UseEntryGuards", CLIENT, false, "0|1", "use entry guards (default 1)"),
    row(Key::HiddenServiceDir, "HiddenServiceDir", SERVICE, true, "DIR", "starts an onion-service block; keys live here"),
    row(Key::HiddenServicePort, "HiddenServicePort", SERVICE, true, "VIRTPORT [ADDR:PORT|PORT]", "a port of the current onion service"),
    row(Key::HiddenServiceType, "HiddenServiceType", SERVICE, true, "stream|dgram", "TCP streams or UDP datagrams (default stream)"),
    row(Key::HiddenServiceVersion, "HiddenServiceVersion", SERVICE, true, "3", "onion-service version (only 3)"),
    // --- directory authority (unit dirauth; config::dirauth_opts)
    row(Key::V3AuthVotingInterval, "V3AuthVotingInterval", RELAY, false, "INTERVAL", "authority: consensus interval (default 1 hour; 5 minutes in test networks)"),
    row(Key::V3AuthVoteDelay, "V3AuthVoteDelay", RELAY, false, "INTERVAL", "authority: vote delay (default 5 minutes; 20 s in test networks)"),
    row(Key::V3AuthDistDelay, "V3AuthDistDelay", RELAY, false, "INTERVAL", "authority: signature distribution delay (default 5 minutes; 20 s)"),
    row(Key::V3AuthNIntervalsValid, "V3AuthNIntervalsValid", RELAY, false, "NUM", "authority: intervals a consensus stays valid (default 3)"),
    row(Key::TestingV3AuthInitialVotingInterval, "TestingV3AuthInitialVotingInterval", RELAY, false, "INTERVAL", "authority: interval before the first consensus (default 30 minutes; 150 s)"),
    row(Key::TestingV3AuthInitialVoteDelay, "TestingV3AuthInitialVoteDelay", RELAY, false, "INTERVAL", "authority: first vote delay"),
    row(Key::TestingV3AuthInitialDistDelay, "TestingV3AuthInitialDistDelay", RELAY, false, "INTERVAL", "authority: first distribution delay"),
    row(Key::TestingV3AuthVotingStartOffset, "TestingV3AuthVotingStartOffset", RELAY, false, "INTERVAL", "authority: shift of the voting schedule (default 0)"),
    row(Key::TestingDirAuthVoteExit, "TestingDirAuthVoteExit", RELAY, false, "NODE,NODE,...|*", "test-network authority: always vote Exit for these"),
    row(Key::TestingDirAuthVoteExitIsStrict, "TestingDirAuthVoteExitIsStrict", RELAY, false, "0|1", "... and for no other relay"),
    row(Key::TestingDirAuthVoteGuard, "TestingDirAuthVoteGuard", RELAY, false, "NODE,NODE,...|*", "test-network authority: always vote Guard for these"),
    row(Key::TestingDirAuthVoteGuardIsStrict, "TestingDirAuthVoteGuardIsStrict", RELAY, false, "0|1", "... and for no other relay"),
    row(Key::TestingDirAuthVoteHSDir, "TestingDirAuthVoteHSDir", RELAY, false, "NODE,NODE,...|*", "test-network authority: always vote HSDir for these"),
    row(Key::TestingDirAuthVoteHSDirIsStrict, "TestingDirAuthVoteHSDirIsStrict", RELAY, false, "0|1", "... and for no other relay"),
    row(Key::AuthDirVoteGuard, "AuthDirVoteGuard", RELAY, false, "NODE,NODE,...", "authority: always vote Guard for these"),
    row(Key::AuthDirMaxServersPerAddr, "AuthDirMaxServersPerAddr", RELAY, false, "NUM", "authority: relays listed per IPv4 address (default 2; 0 = no limit, test networks)"),
    row(Key::MinUptimeHidServDirectoryV2, "MinUptimeHidServDirectoryV2", RELAY, false, "INTERVAL", "authority: uptime needed for HSDir (default 96 hours; 0 in test networks)"),
    row(Key::TestingAuthDirTimeToLearnReachability, "TestingAuthDirTimeToLearnReachability", RELAY, false, "INTERVAL", "authority: wait before voting Running (default 30 minutes; 0)"),
    row(Key::AuthDirTestReachability, "AuthDirTestReachability", RELAY, false, "0|1", "authority: test relays' ORPorts (default 1)"),
    row(Key::AuthDirPinKeys, "AuthDirPinKeys", RELAY, false, "0|1", "authority: refuse relays whose RSA/Ed25519 pairing changed (default 1)"),
    row(Key::DirAllowPrivateAddresses, "DirAllowPrivateAddresses", RELAY, false, "0|1", "authority: accept relays on private addresses (default: test networks only)"),
    row(Key::ConsensusParams, "ConsensusParams", RELAY, false, "KEY=VALUE ...", "authority: extra consensus parameters"),
    // --- client (unit client; ClientConfig)
    row(Key::MaxCircuitDirtiness, "MaxCircuitDirtiness", CLIENT, false, "INTERVAL", "how long a used circuit takes new streams (default 10 minutes)"),
    row(Key::PathsNeededToBuildCircuits, "PathsNeededToBuildCircuits", CLIENT, false, "0.25-0.95|-1", "fraction of paths needed before building circuits (default: consensus, 0.6)"),
    row(Key::NumEntryGuards, "NumEntryGuards", CLIENT, false, "NUM", "primary guards a circuit chooses among (default: consensus)"),
];

/// Levenshtein distance (small strings only: keys).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = Vec::with_capacity(b.len() + 1);
        cur.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let sub = prev.get(j).copied().unwrap_or(0) + usize::from(ca != *cb);
            let del = prev.get(j + 1).copied().unwrap_or(0) + 1;
            let ins = cur.get(j).copied().unwrap_or(0) + 1;
            cur.push(sub.min(del).min(ins));
        }
        prev = cur;
    }
    prev.last().copied().unwrap_or(0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn lookup_is_case_insensitive() {
        assert_eq!(
            Daemon::Relay.lookup("orport").map(|k| k.name),
            Some("ORPort")
        );
        assert_eq!(
            Daemon::Client.lookup("SOCKSPORT").map(|k| k.key),
            Some(Key::SocksPort)
        );
        assert_eq!(
            Daemon::Relay.lookup("socksport").map(|k| k.key),
            Some(Key::RelaySocksPort)
        );
        assert!(Daemon::Client.lookup("ORPort").is_none());
    }

    #[test]
    fn suggestions() {
        assert_eq!(
            Daemon::Relay.suggest("ORPorts"),
            Some(Suggestion::Similar("ORPort"))
        );
        assert_eq!(
            Daemon::Relay.suggest("Nicknam"),
            Some(Suggestion::Similar("Nickname"))
        );
        assert_eq!(
            Daemon::Client.suggest("orport"),
            Some(Suggestion::OtherDaemon {
                key: "ORPort",
                daemon: "oniongate-relay"
            })
        );
        assert_eq!(Daemon::Relay.suggest("Completely"), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn table_is_consistent() {
        for d in [Daemon::Relay, Daemon::Client, Daemon::Service] {
            let names: Vec<_> = d.keys().map(|k| k.name.to_ascii_lowercase()).collect();
            let mut dedup = names.clone();
            dedup.sort();
            dedup.dedup();
            assert_eq!(names.len(), dedup.len(), "{d}: duplicate key");
            assert_eq!(Daemon::from_binary(d.binary()), Some(d));
        }
    }
}
