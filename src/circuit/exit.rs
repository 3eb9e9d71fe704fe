//! Exit streams on a circuit's last hop: BEGIN, BEGIN_DIR, CONNECTED, DATA, END, RESOLVE,
//! stream and circuit windows (tor-spec §6.2–§6.4, §7.3–§7.4; brief §8.1; C tor
//! `connection_exit_begin_conn`, `dns_resolve_impl`, `connection_exit_connect`).
//!
//! The runtime owns the sockets. It gets [`StreamAction`]s (resolve a name, connect, write,
//! close, resume reading) and reports back with [`RelayCircuits::lookup_done`],
//! [`RelayCircuits::connect_done`], [`RelayCircuits::resolve_done`],
//! [`RelayCircuits::send_data`], [`RelayCircuits::stream_flushed`] and
//! [`RelayCircuits::stream_end`]. Data toward the client is packaged only while both the
//! stream and the circuit package windows allow ([`RelayCircuits::can_send`]): the runtime
//! reads its socket only then, which is the backpressure. Stream SENDMEs toward the client
//! are held back while more than `max_unflushed_cells_per_stream` DATA cells wait to be
//! written to the socket.
//!
//! As C tor: a BEGIN on a circuit whose previous hop is a client is refused (END
//! TORPROTOCOL: no one-hop exits); an IP-literal target is checked against the exit policy
//! at once (END EXITPOLICY with the address); a host name on a relay whose policy accepts
//! nothing gets END RESOLVEFAILED (C tor does no lookups then), otherwise it is resolved by
//! the runtime and the chosen address checked; DATA that arrives while the stream is
//! connecting is passed on (optimistic data; the runtime buffers it); cells for recently
//! closed streams are dropped quietly.
//!
//! Deliberately not here: IPv6 exits beyond what the policy allows, DNS caching, XON/XOFF.

use std::net::{IpAddr, SocketAddr};

use bytes::Bytes;
use rand_core::{CryptoRng, RngCore};

use super::policy::ExitDecision;
use super::{Action, ChanId, CircRef, RelayCircuits, Side};

mod runtime;
use crate::cell::{CircId, DestroyReason};
use crate::crypto::sendme::{SendmeTag, StreamRecvWindow, StreamSendWindow};
use crate::relaycell::{
    Begin, BeginFlags, Data, End, EndReason, Resolve, Resolved, ResolvedVal, Sendme,
};

/// TTL we report for an IP-literal target (seconds).
pub const LITERAL_TTL: u32 = 300;

/// One stream at this relay.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct StreamRef {
    /// Its circuit.
    pub circ: CircRef,
    /// Its stream id on the circuit.
    pub stream_id: u16,
}

impl std::fmt::Debug for StreamRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Stream({}/{}#{})",
            self.circ.chan.0, self.circ.circ_id, self.stream_id
        )
    }
}

/// Where a stream goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamTarget {
    /// A TCP connection to this address.
    Tcp(SocketAddr),
    /// Our own directory service (BEGIN_DIR).
    Dir,
}

/// What the runtime must do for a stream.
#[derive(Debug)]
pub enum StreamAction {
    /// Resolve `host` for a BEGIN, then call [`RelayCircuits::lookup_done`].
    Lookup {
        /// The stream.
        stream: StreamRef,
        /// The name to resolve.
        host: String,
    },
    /// Open the stream, then call [`RelayCircuits::connect_done`].
    Connect {
        /// The stream.
        stream: StreamRef,
        /// Where to.
        target: StreamTarget,
    },
    /// Answer a RESOLVE, then call [`RelayCircuits::resolve_done`].
    Resolve {
        /// The stream id the answer goes to.
        stream: StreamRef,
        /// The query (a name, or an `in-addr.arpa` / `ip6.arpa` name).
        query: String,
    },
    /// Write these bytes to the stream's socket (buffer them if it is still connecting);
    /// call [`RelayCircuits::stream_flushed`] once the socket's write buffer has drained.
    Write {
        /// The stream.
        stream: StreamRef,
        /// The bytes.
        data: Bytes,
    },
    /// The windows have opened again: read from the socket and call
    /// [`RelayCircuits::send_data`].
    Writable {
        /// The stream.
        stream: StreamRef,
    },
    /// The stream is gone (END received, or the circuit closed): close the socket.
    Closed {
        /// The stream.
        stream: StreamRef,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Lookup,
    Connecting,
    Open,
    Resolving,
}

/// A stream's state and windows.
#[derive(Debug)]
pub(crate) struct Stream {
    state: State,
    port: u16,
    flags: BeginFlags,
    addr: Option<(IpAddr, u32)>,
    send: StreamSendWindow,
    recv: StreamRecvWindow,
    unflushed: u16,
}

impl Stream {
    fn new(state: State, port: u16, flags: BeginFlags) -> Self {
        Stream {
            state,
            port,
            flags,
            addr: None,
            send: StreamSendWindow::new(),
            recv: StreamRecvWindow::new(),
            unflushed: 0,
        }
    }
}

type Key = (ChanId, CircId);

impl RelayCircuits {
    fn stream_ref(&self, key: Key, sid: u16) -> Option<StreamRef> {
        self.circ_ref(key).map(|circ| StreamRef {
            circ,
            stream_id: sid,
        })
    }

    fn stream_key(&self, s: StreamRef) -> Option<Key> {
        let key = (s.circ.chan, s.circ.circ_id);
        self.circ(s.circ)
            .filter(|c| c.streams.contains_key(&s.stream_id))
            .map(|_| key)
    }

    fn push_stream(&mut self, a: StreamAction) {
        self.actions.push_back(Action::Stream(a));
    }

    /// Sends END on a stream and forgets it.
    pub(super) fn end_stream<R: RngCore + CryptoRng>(
        &mut self,
        key: Key,
        sid: u16,
        reason: EndReason,
        rng: &mut R,
    ) {
        self.end_stream_with(key, sid, End::new(reason), rng);
    }

    fn end_stream_with<R: RngCore + CryptoRng>(
        &mut self,
        key: Key,
        sid: u16,
        end: End,
        rng: &mut R,
    ) {
        let cap = self.cfg.max_half_closed_per_circuit;
        let had = match self.circs.get_mut(&key) {
            Some(c) => {
                let had = c.streams.remove(&sid).is_some();
                c.remember_closed(sid, cap);
                had
            }
            None => return,
        };
        if had {
            if let Some(s) = self.stream_ref(key, sid) {
                self.push_stream(StreamAction::Closed { stream: s });
            }
        }
        self.originate(key, sid, end.into(), rng);
    }

    /// Admits a new stream id; on refusal an END has been sent or the cell dropped.
    fn admit<R: RngCore + CryptoRng>(&mut self, key: Key, sid: u16, rng: &mut R) -> bool {
        let Some(c) = self.circs.get(&key) else {
            return false;
        };
        if c.streams.contains_key(&sid) {
            tracing::debug!(sid, "BEGIN for a stream id in use; dropped");
            return false;
        }
        if c.streams.len() >= self.cfg.max_streams_per_circuit {
            tracing::info!(sid, "streams-per-circuit cap reached");
            self.end_stream(key, sid, EndReason::RESOURCELIMIT, rng);
            return false;
        }
        true
    }

    pub(super) fn on_begin<R: RngCore + CryptoRng>(
        &mut self,
        key: Key,
        sid: u16,
        b: Begin,
        rng: &mut R,
    ) {
        if !self.admit(key, sid, rng) {
            return;
        }
        if self.circs.get(&key).is_some_and(|c| c.p_is_client) {
            tracing::info!("BEGIN on the first hop of a client's circuit refused");
            self.end_stream(key, sid, EndReason::TORPROTOCOL, rng);
            return;
        }
        if b.flags.contains(BeginFlags::IPV4_NOT_OKAY) && !b.flags.contains(BeginFlags::IPV6_OKAY) {
            self.end_stream(key, sid, EndReason::EXITPOLICY, rng);
            return;
        }
        if let Ok(ip) = b.host.parse::<IpAddr>() {
            if let Some(c) = self.circs.get_mut(&key) {
                c.streams
                    .insert(sid, Stream::new(State::Lookup, b.port, b.flags));
            }
            self.connect_checked(key, sid, ip, LITERAL_TTL, rng);
            return;
        }
        let bad_name = b.host.is_empty()
            || b.host.to_ascii_lowercase().ends_with(".onion")
            || !b
                .host
                .bytes()
                .all(|x| x.is_ascii_alphanumeric() || x == b'-' || x == b'.' || x == b'_');
        if self.cfg.exit_policy.is_reject_star() || bad_name {
            self.end_stream(key, sid, EndReason::RESOLVEFAILED, rng);
            return;
        }
        let Some(s) = self.stream_ref(key, sid) else {
            return;
        };
        if let Some(c) = self.circs.get_mut(&key) {
            c.streams
                .insert(sid, Stream::new(State::Lookup, b.port, b.flags));
        }
        self.push_stream(StreamAction::Lookup {
            stream: s,
            host: b.host.to_ascii_lowercase(),
        });
    }

    /// Checks the policy for a stream in `Lookup` and starts the connection, or ends it.
    fn connect_checked<R: RngCore + CryptoRng>(
        &mut self,
        key: Key,
        sid: u16,
        ip: IpAddr,
        ttl: u32,
        rng: &mut R,
    ) {
        let Some(port) = self
            .circs
            .get(&key)
            .and_then(|c| c.streams.get(&sid))
            .map(|s| s.port)
        else {
            return;
        };
        if self.cfg.exit_policy.decide(ip, port) == ExitDecision::Reject {
            tracing::info!(sid, "exit policy refuses the destination");
            self.end_stream_with(key, sid, End::exit_policy(ip, ttl), rng);
            return;
        }
        let Some(s) = self.stream_ref(key, sid) else {
            return;
        };
        if let Some(st) = self
            .circs
            .get_mut(&key)
            .and_then(|c| c.streams.get_mut(&sid))
        {
            st.state = State::Connecting;
            st.addr = Some((ip, ttl));
        }
        self.push_stream(StreamAction::Connect {
            stream: s,
            target: StreamTarget::Tcp(SocketAddr::new(ip, port)),
        });
    }

    pub(super) fn on_begin_dir<R: RngCore + CryptoRng>(&mut self, key: Key, sid: u16, rng: &mut R) {
        if !self.admit(key, sid, rng) {
            return;
        }
        if !self.cfg.dir_cache {
            self.end_stream(key, sid, EndReason::NOTDIRECTORY, rng);
            return;
        }
        let Some(s) = self.stream_ref(key, sid) else {
            return;
        };
        if let Some(c) = self.circs.get_mut(&key) {
            c.streams
                .insert(sid, Stream::new(State::Connecting, 1, BeginFlags::NONE));
        }
        self.push_stream(StreamAction::Connect {
            stream: s,
            target: StreamTarget::Dir,
        });
    }

    pub(super) fn on_resolve<R: RngCore + CryptoRng>(
        &mut self,
        key: Key,
        sid: u16,
        r: Resolve,
        rng: &mut R,
    ) {
        if !self.admit(key, sid, rng) {
            return;
        }
        if self.cfg.exit_policy.is_reject_star() {
            let msg = Resolved {
                answers: vec![(ResolvedVal::NontransientError(Vec::new()), 0)],
            };
            self.originate(key, sid, msg.into(), rng);
            return;
        }
        let Some(s) = self.stream_ref(key, sid) else {
            return;
        };
        if let Some(c) = self.circs.get_mut(&key) {
            c.streams
                .insert(sid, Stream::new(State::Resolving, 0, BeginFlags::NONE));
        }
        self.push_stream(StreamAction::Resolve {
            stream: s,
            query: r.query,
        });
    }

    pub(super) fn on_data<R: RngCore + CryptoRng>(
        &mut self,
        key: Key,
        sid: u16,
        d: Data,
        tag: SendmeTag,
        rng: &mut R,
    ) {
        // The circuit window counts every DATA cell, whatever its stream (C tor).
        let due = match self
            .circs
            .get_mut(&key)
            .map(|c| c.recv_win.data_received(tag))
        {
            Some(Ok(due)) => due,
            Some(Err(_)) => {
                self.close(
                    key,
                    DestroyReason::PROTOCOL,
                    Side::Neither,
                    "DATA beyond the circuit window",
                );
                return;
            }
            None => return,
        };
        if let Some(t) = due {
            self.originate(key, 0, Sendme::v1(*t.as_bytes()).into(), rng);
        }
        let Some(c) = self.circs.get_mut(&key) else {
            return;
        };
        let Some(st) = c.streams.get_mut(&sid) else {
            if !c.is_half_closed(sid) {
                tracing::debug!(sid, "DATA for an unknown stream; dropped");
            }
            return;
        };
        if st.state == State::Resolving || st.recv.data_received().is_err() {
            self.close(
                key,
                DestroyReason::PROTOCOL,
                Side::Neither,
                "DATA beyond the stream window",
            );
            return;
        }
        st.unflushed = st.unflushed.saturating_add(1);
        if let Some(s) = self.stream_ref(key, sid) {
            self.push_stream(StreamAction::Write {
                stream: s,
                data: d.into_body(),
            });
        }
        self.stream_sendmes(key, sid, rng);
    }

    /// Sends the stream SENDMEs that are due, unless too much waits to be written.
    fn stream_sendmes<R: RngCore + CryptoRng>(&mut self, key: Key, sid: u16, rng: &mut R) {
        let limit = self.cfg.max_unflushed_cells_per_stream;
        loop {
            let due = self
                .circs
                .get_mut(&key)
                .and_then(|c| c.streams.get_mut(&sid))
                .is_some_and(|st| st.unflushed <= limit && st.recv.take_sendme());
            if !due {
                break;
            }
            self.originate(key, sid, Sendme::Empty.into(), rng);
        }
    }

    pub(super) fn on_stream_sendme(&mut self, key: Key, sid: u16) {
        let res = self
            .circs
            .get_mut(&key)
            .and_then(|c| c.streams.get_mut(&sid))
            .map(|st| st.send.sendme_received());
        match res {
            Some(Ok(())) => {
                if let Some(s) = self.stream_ref(key, sid) {
                    if self.can_send(s) {
                        self.push_stream(StreamAction::Writable { stream: s });
                    }
                }
            }
            Some(Err(_)) => self.close(
                key,
                DestroyReason::PROTOCOL,
                Side::Neither,
                "stream SENDME overflow",
            ),
            None => {}
        }
    }

    pub(super) fn on_end(&mut self, key: Key, sid: u16, reason: EndReason) {
        let cap = self.cfg.max_half_closed_per_circuit;
        let Some(c) = self.circs.get_mut(&key) else {
            return;
        };
        if c.streams.remove(&sid).is_some() {
            tracing::debug!(sid, %reason, "stream ended by the client");
            c.remember_closed(sid, cap);
            if let Some(s) = self.stream_ref(key, sid) {
                self.push_stream(StreamAction::Closed { stream: s });
            }
        }
    }

    /// Tells open streams that the circuit window has room again.
    pub(super) fn announce_writable(&mut self, key: Key) {
        let Some(c) = self.circs.get(&key) else {
            return;
        };
        let ids: Vec<u16> = c
            .streams
            .iter()
            .filter(|(_, st)| st.state == State::Open && st.send.window() > 0)
            .map(|(id, _)| *id)
            .collect();
        for sid in ids {
            if let Some(s) = self.stream_ref(key, sid) {
                self.push_stream(StreamAction::Writable { stream: s });
            }
        }
    }
}
