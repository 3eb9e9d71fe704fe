//! What the two link-handshake state machines share (tor-spec §4; tor-wire-brief §2.2): the
//! TLS facts the runtime supplies, the cells they emit, the transcript digests, the result
//! and the errors.
//!
//! Cell rules common to both sides, after C tor's `channel_tls_handle_cell` /
//! `channel_tls_handle_var_cell` while a connection is in `OR_HANDSHAKING_V3`:
//! - VPADDING is allowed anywhere (before VERSIONS too) and goes into the transcript;
//! - AUTHORIZE and unknown variable-length commands are ignored (C tor: "everything is
//!   allowed"), and also go into the transcript as C tor records them;
//! - any fixed-length cell other than NETINFO closes the channel (even PADDING);
//! - handshake cells with a nonzero circuit id close the channel.
//!
//! Deliberately not here: the TLS socket and the codec's buffer (the runtime decodes with
//! `ChannelCodec::decode_raw` and hands over each cell with its exact bytes), and anything
//! after the handshake (circuits, padding negotiation).

use std::net::IpAddr;
use std::time::SystemTime;

use sha2::{Digest as _, Sha256};

use super::auth::AuthError;
use super::certs::{CertifiedPeer, CertsError};
use crate::cell::{AnyChanMsg, CellError, ChanCell, ChanCmd, ChannelCodec, Netinfo};
use crate::ids::{Ed25519Identity, RsaIdentity};

/// The link protocol versions we offer and accept.
pub const LINK_VERSIONS: &[u16] = &[4, 5];

/// What the runtime knows from TLS and the handshake needs.
pub trait TlsFacts {
    /// The DER certificate the peer presented (the responder's, for an initiator).
    fn peer_certificate(&self) -> Option<Vec<u8>>;
    /// The RFC 5705 exporter value of AUTHENTICATE method 3 (label
    /// [`super::auth::AUTH0003_EXPORTER_LABEL`], 32 bytes) for `context` (the CID).
    fn export_auth0003(&self, context: &[u8; 32]) -> Option<[u8; 32]>;
}

/// A cell to send, and its exact bytes: write `bytes` to the TLS stream as they are (they
/// are what went into the transcript).
#[derive(Debug, Clone)]
pub struct OutCell {
    /// The cell.
    pub cell: ChanCell,
    /// Its encoding (VERSIONS with the 2-byte circuit id header).
    pub bytes: Vec<u8>,
}

/// Who the peer turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerIdentity {
    /// A relay whose identities are proven (by CERTS for a responder; by CERTS and
    /// AUTHENTICATE for an initiator).
    Relay(Box<CertifiedPeer>),
    /// An initiator that did not authenticate (a client, or a relay acting as one).
    Client,
}

/// A finished handshake.
#[derive(Debug, Clone)]
pub struct ChannelReady {
    /// The peer.
    pub peer: PeerIdentity,
    /// The negotiated link protocol version (4 or 5).
    pub link_version: u16,
    /// The peer's NETINFO.
    pub peer_netinfo: Netinfo,
}

/// The result of feeding one cell to a state machine: the next state or the finished
/// channel, and the cells to send now (in order, before anything else).
#[derive(Debug)]
pub enum Progress<S> {
    /// The handshake goes on in `state`.
    Continue {
        /// The next state.
        state: S,
        /// Cells to send.
        send: Vec<OutCell>,
    },
    /// The handshake is over.
    Ready {
        /// The result.
        ready: ChannelReady,
        /// Cells to send.
        send: Vec<OutCell>,
    },
}

/// The identities an initiator expects (from a consensus, a descriptor or EXTEND2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpectedPeer {
    /// The RSA identity (always known to C tor).
    pub rsa_id: RsaIdentity,
    /// The Ed25519 identity, when known.
    pub ed_id: Option<Ed25519Identity>,
}

impl ExpectedPeer {
    /// Fails if `peer` is not the expected relay.
    pub fn check(&self, peer: &CertifiedPeer) -> Result<(), HandshakeError> {
        if peer.rsa_id != self.rsa_id {
            return Err(HandshakeError::IdentityMismatch {
                what: "RSA",
                expected: self.rsa_id.to_hex(),
                got: peer.rsa_id.to_hex(),
            });
        }
        if let Some(ed) = self.ed_id {
            if peer.ed_identity != ed {
                return Err(HandshakeError::IdentityMismatch {
                    what: "Ed25519",
                    expected: ed.to_base64(),
                    got: peer.ed_identity.to_base64(),
                });
            }
        }
        Ok(())
    }
}

/// Why a link handshake failed; the channel closes. The `Display` text is meant for a log
/// line.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HandshakeError {
    /// A cell that this state does not accept.
    #[error("unexpected {cmd} cell while {state}")]
    Unexpected {
        /// The cell's command.
        cmd: ChanCmd,
        /// What the handshake was waiting for.
        state: &'static str,
    },
    /// A handshake cell with a nonzero circuit id.
    #[error("{0} cell with a nonzero circuit id")]
    NonzeroCircId(ChanCmd),
    /// The peer's VERSIONS shares no version with ours.
    #[error("no shared link protocol version (peer offers {0:?})")]
    NoSharedVersion(Vec<u16>),
    /// The peer's CERTS cell was refused.
    #[error(transparent)]
    Certs(#[from] CertsError),
    /// The initiator's AUTHENTICATE was refused.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// A relay initiator got an AUTH_CHALLENGE without method 3.
    #[error("AUTH_CHALLENGE offers no method we support (offers {0:?})")]
    NoAuthMethod(Vec<u16>),
    /// The responder is not the relay we meant to reach.
    #[error("peer {what} identity {got} is not the expected {expected}")]
    IdentityMismatch {
        /// Which identity.
        what: &'static str,
        /// The expected value.
        expected: String,
        /// The proven value.
        got: String,
    },
    /// The TLS layer had no peer certificate.
    #[error("TLS peer presented no certificate")]
    NoTlsCert,
    /// The TLS exporter failed.
    #[error("TLS keying-material exporter failed")]
    Exporter,
    /// One of our own cells could not be encoded (a bug or a bad identity).
    #[error("cannot encode our cell: {0}")]
    Encode(#[source] CellError),
}

/// A running SHA-256 over cells as sent or received (SLOG/CLOG).
#[derive(Clone, Default)]
pub(crate) struct Transcript(Sha256);

impl std::fmt::Debug for Transcript {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Transcript")
    }
}

impl Transcript {
    pub(crate) fn record(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
    pub(crate) fn digest(&self) -> [u8; 32] {
        self.0.clone().finalize().into()
    }
}

/// What to do with a cell before the state looks at it.
pub(crate) enum Triage {
    /// Record it in the transcript and carry on (VPADDING, AUTHORIZE, unknown var cells).
    Ignore,
    /// A cell for the state to handle.
    Handle,
}

/// Applies the rules common to every state (see the module doc).
/// Before VERSIONS only VPADDING and AUTHORIZE are ignored (C tor
/// `command_allowed_before_handshake`); an unknown command closes the channel.
pub(crate) fn triage(
    cell: &ChanCell,
    state: &'static str,
    before_versions: bool,
) -> Result<Triage, HandshakeError> {
    let cmd = cell.msg.cmd();
    match &cell.msg {
        AnyChanMsg::Vpadding(_) | AnyChanMsg::Authorize(_) => return Ok(Triage::Ignore),
        AnyChanMsg::Unrecognized(_) if cmd.is_var_len() && !before_versions => {
            return Ok(Triage::Ignore)
        }
        AnyChanMsg::Versions(_)
        | AnyChanMsg::Certs(_)
        | AnyChanMsg::AuthChallenge(_)
        | AnyChanMsg::Authenticate(_)
        | AnyChanMsg::Netinfo(_) => {}
        _ => return Err(HandshakeError::Unexpected { cmd, state }),
    }
    if !cell.circ_id.is_zero() {
        return Err(HandshakeError::NonzeroCircId(cmd));
    }
    Ok(Triage::Handle)
}

/// Encodes one of our cells.
pub(crate) fn encode(
    codec: &ChannelCodec,
    msg: impl Into<AnyChanMsg>,
) -> Result<OutCell, HandshakeError> {
    let cell = ChanCell::channel(msg);
    let bytes = codec.encode_to_vec(&cell).map_err(HandshakeError::Encode)?;
    Ok(OutCell { cell, bytes })
}

/// Our VERSIONS cell (2-byte circuit id header).
pub(crate) fn versions_cell() -> Result<OutCell, HandshakeError> {
    encode(
        &ChannelCodec::unnegotiated(),
        crate::cell::Versions {
            versions: LINK_VERSIONS.to_vec(),
        },
    )
}

/// A relay's NETINFO: the time, the peer's address, and ours.
pub(crate) fn relay_netinfo(now: SystemTime, peer: IpAddr, mine: &[IpAddr]) -> Netinfo {
    let t = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX))
        .unwrap_or(0);
    Netinfo {
        timestamp: t,
        other_addr: peer,
        my_addrs: mine.to_vec(),
    }
}
