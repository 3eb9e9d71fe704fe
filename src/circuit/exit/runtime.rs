//! The runtime's side of exit streams: DNS and connect results, bytes read from the
//! socket (packaged while the windows allow), flush and close notices (tor-spec §6.2–§6.4,
//! §7.4). See the parent module for the rules.

use std::net::IpAddr;

use bytes::Bytes;
use rand_core::{CryptoRng, RngCore};

use super::{State, StreamAction, StreamRef};
use crate::circuit::{CircRef, RelayCircuits};
use crate::relaycell::{
    BeginFlags, Connected, Data, End, EndReason, Resolved, ResolvedVal, MAX_DATA_LEN,
};

impl RelayCircuits {
    /// The runtime resolved (or failed to resolve) the host of a BEGIN: `Ok((addresses,
    /// ttl))`. The first address the BEGIN flags allow is checked against the exit policy.
    pub fn lookup_done<R: RngCore + CryptoRng>(
        &mut self,
        stream: StreamRef,
        result: Result<(Vec<IpAddr>, u32), ()>,
        rng: &mut R,
    ) {
        let Some(key) = self.stream_key(stream) else {
            return;
        };
        let sid = stream.stream_id;
        let flags = self
            .circs
            .get(&key)
            .and_then(|c| c.streams.get(&sid))
            .map(|s| s.flags)
            .unwrap_or_default();
        let v6_ok = flags.contains(BeginFlags::IPV6_OKAY);
        let v4_ok = !flags.contains(BeginFlags::IPV4_NOT_OKAY);
        let pick = result.ok().and_then(|(addrs, ttl)| {
            addrs
                .into_iter()
                .find(|a| (a.is_ipv4() && v4_ok) || (a.is_ipv6() && v6_ok))
                .map(|a| (a, ttl))
        });
        match pick {
            Some((ip, ttl)) => self.connect_checked(key, sid, ip, ttl, rng),
            None => self.end_stream(key, sid, EndReason::RESOLVEFAILED, rng),
        }
    }

    /// The runtime connected (CONNECTED goes to the client) or failed (END with `reason`:
    /// CONNECTREFUSED, TIMEOUT, NOROUTE...).
    pub fn connect_done<R: RngCore + CryptoRng>(
        &mut self,
        stream: StreamRef,
        result: Result<(), EndReason>,
        rng: &mut R,
    ) {
        let Some(key) = self.stream_key(stream) else {
            return;
        };
        let sid = stream.stream_id;
        match result {
            Ok(()) => {
                let addr = self
                    .circs
                    .get_mut(&key)
                    .and_then(|c| c.streams.get_mut(&sid))
                    .map(|st| {
                        st.state = State::Open;
                        st.addr
                    });
                let msg = match addr.flatten() {
                    Some((ip, ttl)) => Connected::with_addr(ip, ttl),
                    None => Connected::empty(),
                };
                self.originate(key, sid, msg.into(), rng);
                if self.can_send(stream) {
                    self.push_stream(StreamAction::Writable { stream });
                }
            }
            Err(reason) => self.end_stream(key, sid, reason, rng),
        }
    }

    /// The runtime answered a RESOLVE.
    pub fn resolve_done<R: RngCore + CryptoRng>(
        &mut self,
        stream: StreamRef,
        answers: Vec<(ResolvedVal, u32)>,
        rng: &mut R,
    ) {
        let Some(key) = self.stream_key(stream) else {
            return;
        };
        let cap = self.cfg.max_half_closed_per_circuit;
        if let Some(c) = self.circs.get_mut(&key) {
            c.streams.remove(&stream.stream_id);
            c.remember_closed(stream.stream_id, cap);
        }
        self.originate(key, stream.stream_id, Resolved { answers }.into(), rng);
    }

    /// True if the stream is open and both its window and the circuit's allow a DATA cell.
    pub fn can_send(&self, stream: StreamRef) -> bool {
        self.circ(stream.circ).is_some_and(|c| {
            c.send_win.can_send()
                && c.streams
                    .get(&stream.stream_id)
                    .is_some_and(|st| st.state == State::Open && st.send.window() > 0)
        })
    }

    /// Packages bytes read from the stream's socket into DATA cells while the windows
    /// allow; returns how many bytes were taken (the rest must wait for
    /// [`StreamAction::Writable`]).
    pub fn send_data<R: RngCore + CryptoRng>(
        &mut self,
        stream: StreamRef,
        data: &[u8],
        rng: &mut R,
    ) -> usize {
        let key = (stream.circ.chan, stream.circ.circ_id);
        let mut taken = 0;
        for chunk in data.chunks(MAX_DATA_LEN) {
            if !self.can_send(stream) {
                break;
            }
            let Ok(msg) = Data::new(Bytes::copy_from_slice(chunk)) else {
                break;
            };
            if let Some(st) = self
                .circs
                .get_mut(&key)
                .and_then(|c| c.streams.get_mut(&stream.stream_id))
            {
                if st.send.data_sent().is_err() {
                    break;
                }
            }
            self.originate(key, stream.stream_id, msg.into(), rng);
            taken += chunk.len();
        }
        taken
    }

    /// The stream's socket has written everything it was given: stream SENDMEs held back
    /// for backpressure may go now.
    pub fn stream_flushed<R: RngCore + CryptoRng>(&mut self, stream: StreamRef, rng: &mut R) {
        let Some(key) = self.stream_key(stream) else {
            return;
        };
        if let Some(st) = self
            .circs
            .get_mut(&key)
            .and_then(|c| c.streams.get_mut(&stream.stream_id))
        {
            st.unflushed = 0;
        }
        self.stream_sendmes(key, stream.stream_id, rng);
    }

    /// The stream's socket closed (`DONE` for a clean end of file) or failed: END goes to
    /// the client.
    pub fn stream_end<R: RngCore + CryptoRng>(
        &mut self,
        stream: StreamRef,
        reason: EndReason,
        rng: &mut R,
    ) {
        let Some(key) = self.stream_key(stream) else {
            return;
        };
        let cap = self.cfg.max_half_closed_per_circuit;
        if let Some(c) = self.circs.get_mut(&key) {
            c.streams.remove(&stream.stream_id);
            c.remember_closed(stream.stream_id, cap);
        }
        self.originate(key, stream.stream_id, End::new(reason).into(), rng);
    }

    /// Streams open or opening on a circuit.
    pub fn n_streams(&self, circ: CircRef) -> usize {
        self.circ(circ).map_or(0, |c| c.streams.len())
    }
}
