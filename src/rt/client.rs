//! The client-side runtime: origin circuits ([`crate::client::OriginCircuit`]) and their
//! streams, driven over real channels ([`crate::rt::channel`]) with tokio.
//!
//! - [`ClientChannel`] owns one channel to a relay: a reader task that routes every incoming
//!   cell to its circuit by circuit id, and a writer task fed by a bounded queue. It hands out
//!   circuit ids (random, high bit set, as tor-spec §5.1.1 asks of the initiator on link
//!   protocol 4+, checked against the ids in use). When the channel dies, every circuit on it
//!   closes with [`CircuitClosed::ChannelDied`].
//! - [`Circuit`] is a handle to one circuit, run by its own task (the *reactor*) that owns the
//!   sans-IO `OriginCircuit`, feeds it cells and timeouts, and sends what it queues.
//!   [`Circuit::build`] makes the first hop (CREATE2, or CREATE_FAST with
//!   [`BuildOptions`]) and extends hop by hop under one build deadline.
//! - [`DataStream`] is an exit or directory stream: tokio `AsyncRead + AsyncWrite` with
//!   bounded buffers. Writes wait for the stream and circuit windows; a reader that falls
//!   behind holds the stream SENDMEs back (`pause_reads`), so the exit stops after one
//!   stream window. Shutdown or drop sends END (after the buffered bytes). An END from the
//!   exit is end-of-file if its reason is DONE, otherwise an error carrying the reason
//!   ([`stream_end_reason`]).
//! - [`ChannelPool`] keeps one open channel per relay identity (RSA + Ed25519).
//!
//! Deliberately not here: path selection and directory information (stage 3), circuit
//! reuse policy and isolation, onion-service rendezvous logic (stage 4 builds on
//! [`Circuit::send_message`] / [`Circuit::next_message`]), congestion control, and channel
//! padding.

mod channel;
mod circuit;
mod pool;
mod stream;

#[cfg(test)]
mod tests;

use std::net::IpAddr;
use std::time::Duration;

pub use channel::ClientChannel;
pub use circuit::{BuildOptions, Circuit, FirstHop, RelayMessage};
pub use pool::ChannelPool;
pub use stream::{stream_end_reason, DataStream};

use crate::client::{ClientError, CloseReason};
use crate::relaycell::EndReason;
use crate::rt::channel::ChannelOpenError;

/// How long a circuit build may take by default (all hops).
pub const DEFAULT_BUILD_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a stream may wait for CONNECTED / RESOLVED by default.
pub const DEFAULT_STREAM_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a circuit is closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CircuitClosed {
    /// The circuit state machine closed it (DESTROY, TRUNCATED, protocol violation,
    /// handshake timeout, or our own close).
    #[error("circuit closed: {0:?}")]
    Circuit(CloseReason),
    /// The channel under it failed or was closed.
    #[error("channel closed under the circuit")]
    ChannelDied,
    /// Every handle to the circuit and its streams was dropped.
    #[error("circuit abandoned")]
    Abandoned,
}

/// A failure of the client runtime.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A channel could not be opened.
    #[error("cannot open channel: {0}")]
    ChannelOpen(#[from] ChannelOpenError),
    /// The channel is closed.
    #[error("channel is closed")]
    ChannelClosed,
    /// The channel's peer is not the relay asked for (or proved no relay identity).
    #[error("channel peer is not the expected relay")]
    WrongPeer,
    /// Every circuit id is in use on this channel (not reachable in practice).
    #[error("no free circuit id on the channel")]
    CircIdsExhausted,
    /// A build was asked for with no hops.
    #[error("a circuit needs at least one hop")]
    NoHops,
    /// The circuit refused the call.
    #[error("circuit: {0}")]
    Client(#[from] ClientError),
    /// The circuit is closed (or closed while the call waited).
    #[error("{0}")]
    Closed(#[from] CircuitClosed),
    /// The circuit build did not finish in time.
    #[error("circuit build timed out")]
    BuildTimeout,
    /// A stream request got no answer in time.
    #[error("stream request timed out")]
    StreamTimeout,
    /// The exit refused or ended the stream, with its END reason.
    #[error("stream refused by the exit: END reason {0}")]
    StreamEnded(EndReason),
    /// RESOLVE answered with no usable address (errors or hostnames only).
    #[error("resolve failed")]
    ResolveFailed,
}

impl Error {
    /// The END reason, if the exit ended or refused the stream.
    pub fn end_reason(&self) -> Option<EndReason> {
        match self {
            Error::StreamEnded(r) => Some(*r),
            _ => None,
        }
    }
}

/// The `std::io::ErrorKind` closest to an END reason (tor-spec §6.3), for stream errors.
pub fn end_reason_kind(reason: EndReason) -> std::io::ErrorKind {
    use std::io::ErrorKind as K;
    match reason {
        EndReason::CONNECTREFUSED => K::ConnectionRefused,
        EndReason::EXITPOLICY => K::PermissionDenied,
        EndReason::TIMEOUT => K::TimedOut,
        EndReason::CONNRESET => K::ConnectionReset,
        EndReason::DONE => K::UnexpectedEof,
        EndReason::RESOLVEFAILED | EndReason::NOROUTE => K::NotFound,
        EndReason::DESTROY => K::ConnectionAborted,
        _ => K::Other,
    }
}

/// The addresses in a RESOLVED answer (hostnames and errors skipped).
fn resolved_addrs(answers: &[(crate::relaycell::ResolvedVal, u32)]) -> Vec<IpAddr> {
    use crate::relaycell::ResolvedVal;
    answers
        .iter()
        .filter_map(|(v, _)| match v {
            ResolvedVal::Ipv4(a) => Some(IpAddr::V4(*a)),
            ResolvedVal::Ipv6(a) => Some(IpAddr::V6(*a)),
            _ => None,
        })
        .collect()
}

/// The hostnames in a RESOLVED answer (addresses, errors and non-UTF-8 names skipped).
fn resolved_names(answers: &[(crate::relaycell::ResolvedVal, u32)]) -> Vec<String> {
    use crate::relaycell::ResolvedVal;
    answers
        .iter()
        .filter_map(|(v, _)| match v {
            ResolvedVal::Hostname(h) => String::from_utf8(h.clone()).ok(),
            _ => None,
        })
        .collect()
}

/// The reverse-lookup name of an address: `d.c.b.a.in-addr.arpa`, or the 32 nibbles of an
/// IPv6 address reversed under `ip6.arpa` (RFC 1035 §3.5, RFC 3596 §2.5).
fn reverse_name(addr: IpAddr) -> String {
    match addr {
        IpAddr::V4(a) => {
            let [p, q, r, s] = a.octets();
            format!("{s}.{r}.{q}.{p}.in-addr.arpa")
        }
        IpAddr::V6(a) => {
            let mut out = String::with_capacity(72);
            for b in a.octets().iter().rev() {
                out.push_str(&format!("{:x}.{:x}.", b & 0xf, b >> 4));
            }
            out.push_str("ip6.arpa");
            out
        }
    }
}
