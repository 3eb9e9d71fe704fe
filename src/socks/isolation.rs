//! Stream isolation keys: which streams may share a circuit (tor(1) "SocksPort" isolation
//! flags, C tor's `connection_edge_compatible_with_circuit` / `circuit_is_better`).
//!
//! Two streams may share a circuit only if their keys are equal. Honoured flags:
//!
//! | flag | default | what goes into the key |
//! |---|---|---|
//! | (listener) | always | the `SessionGroup=N` if set, else the SocksPort's own index |
//! | `IsolateSOCKSAuth` | on | a SHA-256 digest of the SOCKS5 username and password or the SOCKS4 user id (see `auth_digest`: empty is none, as C tor) |
//! | `IsolateClientAddr` | on | the client's IP address |
//! | `IsolateClientProtocol` | on | the SOCKS version (4 or 5) |
//! | `IsolateDestAddr` | off | the destination host as requested (hostname or address) |
//! | `IsolateDestPort` | off | the destination port |
//!
//! Not in the key: `KeepAliveIsolateSOCKSAuth` (it changes how long a circuit lives, which
//! is the circuit manager's business: [`IsolationKey::keep_alive_auth`] carries it),
//! `ExtendedErrors` and `OnionTrafficOnly` (not isolation), and NEWNYM epochs (the client
//! adds its own).

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use sha2::{Digest, Sha256};

use super::{Auth, SocksRequest, TargetAddr};
use crate::config::SocksPortConfig;
use crate::safelog::client_sensitive;

/// Which session a stream belongs to: streams of different sessions never share circuits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SessionId {
    /// An explicit `SessionGroup=N` (shared by every SocksPort naming it).
    Group(u32),
    /// The SocksPort's index among the configured ones (C tor gives each port without a
    /// SessionGroup a session of its own).
    Listener(u32),
}

/// What a stream's circuit must match (see the module doc for the fields and flags).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IsolationKey {
    /// The session.
    pub session: SessionId,
    /// Digest of the credentials (`IsolateSOCKSAuth`); `Some([0; 32])` stands for "none".
    pub auth: Option<[u8; 32]>,
    /// The client's address (`IsolateClientAddr`).
    pub client_addr: Option<IpAddr>,
    /// The SOCKS version byte (`IsolateClientProtocol`).
    pub protocol: Option<u8>,
    /// The destination host as requested, hostnames lowercased (`IsolateDestAddr`).
    pub dest_addr: Option<String>,
    /// The destination port (`IsolateDestPort`).
    pub dest_port: Option<u16>,
    /// `KeepAliveIsolateSOCKSAuth`: a hint for the circuit manager, part of equality only
    /// through the session (ports with different flags are different sessions anyway).
    pub keep_alive_auth: bool,
}

impl IsolationKey {
    /// The key of `req` from the client at `client`, accepted on the SocksPort configured as
    /// `port`, the `listener`-th SocksPort (0-based).
    pub fn new(
        port: &SocksPortConfig,
        listener: u32,
        req: &SocksRequest,
        client: SocketAddr,
    ) -> IsolationKey {
        IsolationKey {
            session: match port.session_group {
                Some(g) => SessionId::Group(g),
                None => SessionId::Listener(listener),
            },
            auth: port.isolate_socks_auth.then(|| auth_digest(&req.auth)),
            client_addr: port.isolate_client_addr.then(|| client.ip()),
            protocol: port.isolate_client_protocol.then(|| req.version.byte()),
            dest_addr: port.isolate_dest_addr.then(|| match &req.target {
                TargetAddr::Ip(a) => a.ip().to_string(),
                TargetAddr::Domain(d, _) => d.to_ascii_lowercase(),
            }),
            dest_port: port.isolate_dest_port.then(|| req.target.port()),
            keep_alive_auth: port.keep_alive_isolate_socks_auth,
        }
    }

    /// True if streams with these keys may share a circuit.
    pub fn compatible(&self, other: &IsolationKey) -> bool {
        self == other
    }
}

/// A digest of the credentials, as C tor compares them: a SOCKS4 user id is a username with
/// an empty password, and empty fields are the same as none (so `""`/`""` equals no
/// credentials). "None" is all zeros; otherwise SHA-256 over both fields length-prefixed.
fn auth_digest(auth: &Auth) -> [u8; 32] {
    let (user, pass): (&[u8], &[u8]) = match auth {
        Auth::None => (&[], &[]),
        Auth::Socks4(user) => (user, &[]),
        Auth::UserPass { username, password } => (username, password),
    };
    if user.is_empty() && pass.is_empty() {
        return [0; 32];
    }
    let mut h = Sha256::new();
    h.update(b"oniongate socks isolation\0");
    h.update((user.len() as u64).to_be_bytes());
    h.update(user);
    h.update((pass.len() as u64).to_be_bytes());
    h.update(pass);
    h.finalize().into()
}

impl fmt::Debug for IsolationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IsolationKey")
            .field("session", &self.session)
            .field(
                "auth",
                &self
                    .auth
                    .map(|d| hex::encode(d.get(..4).unwrap_or_default())),
            )
            .field("client_addr", &client_sensitive(self.client_addr))
            .field("protocol", &self.protocol)
            .field("dest_addr", &client_sensitive(&self.dest_addr))
            .field("dest_port", &self.dest_port)
            .finish()
    }
}
