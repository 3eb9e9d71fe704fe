//! Final replies: the SOCKS5 REP codes (RFC 1928 §6, prop304 extended codes), the mapping
//! from why a request failed to a code (C tor's `stream_end_reason_to_socks5_response`,
//! core/or/reasons.c), and the reply encodings of `connection_ap_handshake_socks_reply` and
//! `connection_ap_handshake_socks_resolved` (core/or/connection_edge.c).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::handshake::{error_reply5, reply4, reply5};
use super::{Command, SocksRequest, SocksVersion};
use crate::relaycell::EndReason;

crate::open_enum! {
    /// The REP byte of a SOCKS5 reply (RFC 1928 §6; 0xF0–0xF7 are Tor's extended
    /// onion-service errors, prop304, sent only with the `ExtendedErrors` SocksPort flag).
    pub struct ReplyCode(u8) {
        /// Succeeded.
        SUCCEEDED = 0x00,
        /// General SOCKS server failure.
        GENERAL_FAILURE = 0x01,
        /// Connection not allowed by ruleset.
        NOT_ALLOWED = 0x02,
        /// Network unreachable.
        NETWORK_UNREACHABLE = 0x03,
        /// Host unreachable.
        HOST_UNREACHABLE = 0x04,
        /// Connection refused.
        CONNECTION_REFUSED = 0x05,
        /// TTL expired (Tor: the stream timed out).
        TTL_EXPIRED = 0x06,
        /// Command not supported.
        COMMAND_NOT_SUPPORTED = 0x07,
        /// Address type not supported.
        ADDRESS_TYPE_NOT_SUPPORTED = 0x08,
        /// Onion service descriptor can not be found.
        HS_NOT_FOUND = 0xF0,
        /// Onion service descriptor is invalid.
        HS_IS_INVALID = 0xF1,
        /// Onion service introduction failed.
        HS_INTRO_FAILED = 0xF2,
        /// Onion service rendezvous failed.
        HS_REND_FAILED = 0xF3,
        /// Onion service missing client authorization.
        HS_MISSING_CLIENT_AUTH = 0xF4,
        /// Onion service wrong client authorization.
        HS_BAD_CLIENT_AUTH = 0xF5,
        /// Onion service invalid address.
        HS_BAD_ADDRESS = 0xF6,
        /// Onion service introduction timed out.
        HS_INTRO_TIMEDOUT = 0xF7,
    }
}

/// The SOCKS5 code for a relay END reason, as C tor's `stream_end_reason_to_socks5_response`.
///
/// One deviation: reason 0 (not a defined END reason) gives GENERAL_FAILURE where C tor gives
/// SUCCEEDED (it uses 0 internally for "no error"); a failure must never read as success.
/// Unknown reasons give GENERAL_FAILURE, as C tor.
pub fn end_reason_to_reply(reason: EndReason) -> ReplyCode {
    match reason {
        EndReason::RESOLVEFAILED | EndReason::NOROUTE => ReplyCode::HOST_UNREACHABLE,
        EndReason::EXITPOLICY => ReplyCode::NOT_ALLOWED,
        // DONE before CONNECTED: the other side closed before the stream opened.
        EndReason::CONNECTREFUSED | EndReason::DONE | EndReason::CONNRESET => {
            ReplyCode::CONNECTION_REFUSED
        }
        EndReason::TIMEOUT => ReplyCode::TTL_EXPIRED,
        // MISC, DESTROY, HIBERNATING, INTERNAL, RESOURCELIMIT, TORPROTOCOL, NOTDIRECTORY,
        // 0 and unknown values.
        _ => ReplyCode::GENERAL_FAILURE,
    }
}

/// Onion-service connection failures (prop304), for the extended codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HsError {
    /// No descriptor found (0xF0).
    NotFound,
    /// The descriptor is invalid (0xF1).
    Invalid,
    /// Every introduction point failed (0xF2).
    IntroFailed,
    /// The rendezvous failed (0xF3).
    RendFailed,
    /// The service needs client authorization we do not have (0xF4).
    MissingClientAuth,
    /// Our client authorization was refused (0xF5).
    BadClientAuth,
    /// The address is not a valid onion address (0xF6).
    BadAddress,
    /// Every introduction point timed out (0xF7).
    IntroTimedOut,
}

impl HsError {
    /// The extended code (prop304).
    pub fn extended_code(self) -> ReplyCode {
        match self {
            HsError::NotFound => ReplyCode::HS_NOT_FOUND,
            HsError::Invalid => ReplyCode::HS_IS_INVALID,
            HsError::IntroFailed => ReplyCode::HS_INTRO_FAILED,
            HsError::RendFailed => ReplyCode::HS_REND_FAILED,
            HsError::MissingClientAuth => ReplyCode::HS_MISSING_CLIENT_AUTH,
            HsError::BadClientAuth => ReplyCode::HS_BAD_CLIENT_AUTH,
            HsError::BadAddress => ReplyCode::HS_BAD_ADDRESS,
            HsError::IntroTimedOut => ReplyCode::HS_INTRO_TIMEDOUT,
        }
    }

    /// The END reason C tor closes such a stream with (hs_client.c, connection_edge.c), hence
    /// the code without `ExtendedErrors`.
    pub fn end_reason(self) -> EndReason {
        match self {
            HsError::BadAddress => EndReason::TORPROTOCOL,
            HsError::MissingClientAuth | HsError::BadClientAuth => EndReason::MISC,
            _ => EndReason::RESOLVEFAILED,
        }
    }
}

/// Why a request failed, as a [`SocksHandler`](crate::rt::socks::SocksHandler) reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum SocksFailure {
    /// The exit (or the stream) ended with this END reason.
    #[error("stream ended: {0}")]
    End(EndReason),
    /// No circuit or exit could be found or built, including "no relay's exit policy allows
    /// this port" (C tor's internal CANT_ATTACH, circuituse.c): 0x01.
    #[error("no circuit or exit available")]
    CantAttach,
    /// Gave up waiting (C tor's `SocksTimeout` and stream timeouts end with TIMEOUT): 0x06.
    #[error("timed out")]
    Timeout,
    /// The hostname could not be resolved: 0x04.
    #[error("hostname could not be resolved")]
    ResolveFailed,
    /// The network is unreachable (C tor's internal NET_UNREACHABLE): 0x03.
    #[error("network unreachable")]
    NetUnreachable,
    /// Refused by our own policy (C tor's internal ENTRYPOLICY, e.g. `OnionTrafficOnly`): 0x02.
    #[error("not allowed by the SocksPort configuration")]
    NotAllowed,
    /// An onion-service failure: an extended code with `ExtendedErrors`, else C tor's.
    #[error("onion service: {0:?}")]
    Onion(HsError),
    /// `.onion` destinations are not supported yet (stage 5): 0x04 (0xF0 with
    /// `ExtendedErrors`).
    #[error(".onion addresses are not supported yet")]
    OnionUnsupported,
    /// Something went wrong on our side: 0x01.
    #[error("internal error")]
    Internal,
}

impl From<EndReason> for SocksFailure {
    fn from(r: EndReason) -> Self {
        SocksFailure::End(r)
    }
}

impl SocksFailure {
    /// The SOCKS5 REP code, `extended` being the SocksPort's `ExtendedErrors` flag.
    pub fn reply_code(self, extended: bool) -> ReplyCode {
        match self {
            SocksFailure::End(r) => end_reason_to_reply(r),
            SocksFailure::CantAttach | SocksFailure::Internal => ReplyCode::GENERAL_FAILURE,
            SocksFailure::Timeout => ReplyCode::TTL_EXPIRED,
            SocksFailure::ResolveFailed => ReplyCode::HOST_UNREACHABLE,
            SocksFailure::NetUnreachable => ReplyCode::NETWORK_UNREACHABLE,
            SocksFailure::NotAllowed => ReplyCode::NOT_ALLOWED,
            SocksFailure::Onion(e) if extended => e.extended_code(),
            SocksFailure::Onion(e) => end_reason_to_reply(e.end_reason()),
            SocksFailure::OnionUnsupported if extended => ReplyCode::HS_NOT_FOUND,
            SocksFailure::OnionUnsupported => ReplyCode::HOST_UNREACHABLE,
        }
    }
}

impl SocksRequest {
    /// The success reply to CONNECT (or to UDP ASSOCIATE, naming the relay address).
    ///
    /// For CONNECT, `bind` should be the unspecified address of the family of the client's
    /// connection to us (`0.0.0.0:0` or `[::]:0`), as C tor sends.
    pub fn reply_success(&self, bind: SocketAddr) -> Vec<u8> {
        match self.version {
            SocksVersion::V5 => reply5(ReplyCode::SUCCEEDED, bind),
            SocksVersion::V4 => reply4(true, Ipv4Addr::UNSPECIFIED, 0),
        }
    }

    /// An error reply: SOCKS5 with `code` and an all-zero IPv4 address; SOCKS4 "rejected".
    pub fn reply_error(&self, code: ReplyCode) -> Vec<u8> {
        match self.version {
            SocksVersion::V5 => error_reply5(code),
            SocksVersion::V4 => reply4(false, Ipv4Addr::UNSPECIFIED, 0),
        }
    }

    /// The reply to RESOLVE: the first IPv4 address in `addrs`, else (SOCKS5 only) the first
    /// IPv6 one, with port 0; HOST_UNREACHABLE (SOCKS4: rejected) if there is none.
    pub fn reply_resolved(&self, addrs: &[IpAddr]) -> Vec<u8> {
        let v4 = addrs.iter().find_map(|a| match a {
            IpAddr::V4(a) => Some(*a),
            IpAddr::V6(_) => None,
        });
        let v6 = addrs.iter().find_map(|a| match a {
            IpAddr::V6(a) => Some(*a),
            IpAddr::V4(_) => None,
        });
        match (self.version, v4, v6) {
            (SocksVersion::V4, Some(a), _) => reply4(true, a, 0),
            (SocksVersion::V4, None, _) => reply4(false, Ipv4Addr::UNSPECIFIED, 0),
            (SocksVersion::V5, Some(a), _) => reply5(ReplyCode::SUCCEEDED, (a, 0).into()),
            (SocksVersion::V5, None, Some(a)) => reply5(ReplyCode::SUCCEEDED, (a, 0).into()),
            (SocksVersion::V5, None, None) => error_reply5(ReplyCode::HOST_UNREACHABLE),
        }
    }

    /// The reply to RESOLVE_PTR: the name as a domain BND.ADDR with port 0; HOST_UNREACHABLE
    /// if it is empty or longer than 255 bytes. SOCKS4 has no RESOLVE_PTR: rejected.
    pub fn reply_resolved_ptr(&self, name: &str) -> Vec<u8> {
        match (self.version, u8::try_from(name.len())) {
            (SocksVersion::V5, Ok(len)) if len > 0 => {
                let mut v = vec![5, ReplyCode::SUCCEEDED.0, 0, 3, len];
                v.extend_from_slice(name.as_bytes());
                v.extend_from_slice(&[0, 0]);
                v
            }
            (SocksVersion::V5, _) => error_reply5(ReplyCode::HOST_UNREACHABLE),
            (SocksVersion::V4, _) => reply4(false, Ipv4Addr::UNSPECIFIED, 0),
        }
    }

    /// The reply to a command we parse but do not carry out (UDP ASSOCIATE until stage 5).
    pub fn reply_unsupported(&self) -> Vec<u8> {
        self.reply_error(ReplyCode::COMMAND_NOT_SUPPORTED)
    }

    /// True for RESOLVE and RESOLVE_PTR.
    pub fn is_resolve(&self) -> bool {
        matches!(self.command, Command::Resolve | Command::ResolvePtr)
    }
}

/// The unspecified address of `peer`'s family, port 0: the BND of a CONNECT success reply.
pub fn unspecified_like(peer: &SocketAddr) -> SocketAddr {
    match peer {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    }
}
