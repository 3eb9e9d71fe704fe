//! RELAY / RELAY_EARLY cells at a relay: forwarding both ways, recognised cells, the
//! RELAY_EARLY budget, circuit SENDMEs, TRUNCATE (tor-spec §5.5, §5.6, §6.1, §7.3; C tor
//! `command_process_relay_cell`, `circuit_receive_relay_cell`, `handle_relay_cell_command`).
//!
//! Forwarding copies nothing: the received body (a uniquely owned `BytesMut` the codec split
//! off its read buffer) is decrypted or encrypted in place and queued as is. Only a
//! recognised body is copied, once, to be parsed.

use bytes::BytesMut;
use rand_core::{CryptoRng, RngCore};

use super::table::NSide;
use super::{Action, ChanId, RelayCircuits, Side};
use crate::cell::{ChanCell, CircId, DestroyReason, Relay, RelayEarly, CELL_BODY_LEN};
use crate::crypto::sendme::SendmeTag as CryptoTag;
use crate::relaycell::{self, AnyRelayMsg, RelayCellBody, Sendme, Truncated};

/// What to do with a forward cell once decrypted (computed under the circuit borrow).
enum Fwd {
    Recognized(Box<RelayCellBody>, CryptoTag),
    Forward(ChanId, CircId, BytesMut),
    Close(DestroyReason, &'static str),
}

/// Checks a received body is a 509-byte buffer (it always is when it came from a `Relay`).
fn into_mut(mut m: BytesMut) -> Option<BytesMut> {
    if m.len() < CELL_BODY_LEN {
        return None;
    }
    m.truncate(CELL_BODY_LEN);
    Some(m)
}

fn relay_cell(id: CircId, body: BytesMut, early: bool) -> Option<ChanCell> {
    let r = Relay::from_bytes_mut(body).ok()?;
    Some(if early {
        ChanCell::new(id, RelayEarly(r))
    } else {
        ChanCell::new(id, r)
    })
}

impl RelayCircuits {
    pub(super) fn on_relay<R: RngCore + CryptoRng>(
        &mut self,
        chan: ChanId,
        id: CircId,
        body: BytesMut,
        early: bool,
        rng: &mut R,
    ) {
        let key = (chan, id);
        if self.circs.contains_key(&key) {
            let step = self.forward_step(key, body, early);
            match step {
                Fwd::Recognized(plain, tag) => self.on_recognized(key, *plain, tag, early, rng),
                Fwd::Forward(nchan, nid, buf) => {
                    if let Some(cell) = relay_cell(nid, buf, early) {
                        self.actions.push_back(Action::Send { chan: nchan, cell });
                    }
                }
                Fwd::Close(reason, why) => self.close(key, reason, Side::Neither, why),
            }
        } else if let Some(&p) = self.nside.get(&key) {
            if early {
                self.close(
                    p,
                    DestroyReason::PROTOCOL,
                    Side::Neither,
                    "inbound RELAY_EARLY",
                );
                return;
            }
            let Some(mut buf) = into_mut(body) else {
                return;
            };
            let Some(c) = self.circs.get_mut(&p) else {
                return;
            };
            let (Some(crypto), Ok(arr)) = (
                c.crypto.as_mut(),
                <&mut [u8; CELL_BODY_LEN]>::try_from(&mut buf[..]),
            ) else {
                return;
            };
            crypto.encrypt_backward(arr);
            if let Some(cell) = relay_cell(p.1, buf, false) {
                self.actions.push_back(Action::Send { chan: p.0, cell });
            }
        } else {
            tracing::trace!(chan = chan.0, %id, "relay cell for an unknown circuit; dropped");
        }
    }

    /// Decrypts a forward cell and decides where it goes.
    fn forward_step(&mut self, key: (ChanId, CircId), body: BytesMut, early: bool) -> Fwd {
        let Some(c) = self.circs.get_mut(&key) else {
            return Fwd::Close(DestroyReason::INTERNAL, "circuit vanished");
        };
        if c.pending_handshake {
            return Fwd::Close(
                DestroyReason::PROTOCOL,
                "relay cell while the handshake is pending",
            );
        }
        if early {
            if c.early_remaining == 0 {
                return Fwd::Close(DestroyReason::PROTOCOL, "more than 8 RELAY_EARLY cells");
            }
            c.early_remaining -= 1;
        }
        let Some(mut buf) = into_mut(body) else {
            return Fwd::Close(DestroyReason::PROTOCOL, "short relay cell");
        };
        let (Some(crypto), Ok(arr)) = (
            c.crypto.as_mut(),
            <&mut [u8; CELL_BODY_LEN]>::try_from(&mut buf[..]),
        ) else {
            return Fwd::Close(DestroyReason::INTERNAL, "no relay crypto");
        };
        if let Some(tag) = crypto.decrypt_forward(arr) {
            return Fwd::Recognized(Box::new(RelayCellBody(*arr)), tag);
        }
        match c.n {
            NSide::Open { chan, id } | NSide::AwaitingCreated { chan, id } => {
                Fwd::Forward(chan, id, buf)
            }
            _ => Fwd::Close(
                DestroyReason::PROTOCOL,
                "didn't recognize a cell, but the circuit stops here",
            ),
        }
    }

    /// A forward cell addressed to us.
    fn on_recognized<R: RngCore + CryptoRng>(
        &mut self,
        key: (ChanId, CircId),
        body: RelayCellBody,
        tag: CryptoTag,
        early: bool,
        rng: &mut R,
    ) {
        let (sid, msg) = match relaycell::decode_v0(&body) {
            Ok(x) => x,
            Err(e) if e.is_protocol_violation() => {
                tracing::debug!(error = %e, "relay message with a bad stream id; dropped");
                return;
            }
            Err(e) if e.is_stream_scoped() && body.stream_id() != 0 => {
                tracing::debug!(error = %e, "malformed stream message");
                self.end_stream(
                    key,
                    body.stream_id(),
                    relaycell::EndReason::TORPROTOCOL,
                    rng,
                );
                return;
            }
            Err(e) => {
                tracing::info!(error = %e, "malformed relay message");
                self.close(
                    key,
                    DestroyReason::PROTOCOL,
                    Side::Neither,
                    "malformed relay message",
                );
                return;
            }
        };
        match msg {
            AnyRelayMsg::Data(d) => self.on_data(key, sid, d, tag, rng),
            AnyRelayMsg::Sendme(s) if sid == 0 => self.on_circ_sendme(key, s),
            AnyRelayMsg::Sendme(_) => self.on_stream_sendme(key, sid),
            AnyRelayMsg::Begin(b) => self.on_begin(key, sid, b, rng),
            AnyRelayMsg::BeginDir(_) => self.on_begin_dir(key, sid, rng),
            AnyRelayMsg::End(e) => self.on_end(key, sid, e.reason),
            AnyRelayMsg::Resolve(r) => self.on_resolve(key, sid, r, rng),
            AnyRelayMsg::Extend2(e) => {
                if early {
                    self.on_extend2(key, e);
                } else {
                    // C tor drops such a cell; tor-spec §5.6 says to reject it, and so do we.
                    self.close(
                        key,
                        DestroyReason::PROTOCOL,
                        Side::Neither,
                        "EXTEND2 not in RELAY_EARLY",
                    );
                }
            }
            AnyRelayMsg::Extend(_) => self.close(
                key,
                DestroyReason::PROTOCOL,
                Side::Neither,
                "TAP EXTEND refused",
            ),
            AnyRelayMsg::Truncate(_) => {
                let reason = DestroyReason(
                    body.0
                        .get(relaycell::RELAY_HEADER_LEN)
                        .copied()
                        .unwrap_or(0),
                );
                self.on_truncate(key, reason, rng);
            }
            AnyRelayMsg::Drop(_) => {}
            other => {
                // Unknown commands (C tor: "Perhaps the other side is using a newer version
                // of Tor? Dropping."), backward-only commands, and onion-service commands
                // (not served here yet) are dropped; the circuit stays.
                tracing::debug!(cmd = %other.cmd(), "relay command not handled here; dropped");
            }
        }
    }

    /// A circuit-level SENDME for DATA we originated.
    fn on_circ_sendme(&mut self, key: (ChanId, CircId), s: Sendme) {
        let Some(c) = self.circs.get_mut(&key) else {
            return;
        };
        let tag = match &s {
            Sendme::V1 {
                tag: relaycell::SendmeTag::Tor1(t),
            } => Some(CryptoTag::new(*t)),
            Sendme::Empty | Sendme::V0 { .. } => None,
            _ => {
                self.close(
                    key,
                    DestroyReason::PROTOCOL,
                    Side::Neither,
                    "unsupported SENDME version",
                );
                return;
            }
        };
        if let Err(e) = c.send_win.sendme_received(tag.as_ref()) {
            tracing::info!(error = %e, "bad circuit SENDME");
            self.close(
                key,
                DestroyReason::PROTOCOL,
                Side::Neither,
                "bad circuit SENDME",
            );
            return;
        }
        self.announce_writable(key);
    }

    fn on_truncate<R: RngCore + CryptoRng>(
        &mut self,
        key: (ChanId, CircId),
        reason: DestroyReason,
        rng: &mut R,
    ) {
        let Some(c) = self.circs.get_mut(&key) else {
            return;
        };
        let n = std::mem::replace(&mut c.n, NSide::None);
        if let NSide::Open { chan, id } | NSide::AwaitingCreated { chan, id } = n {
            self.nside.remove(&(chan, id));
            if self.chans.contains_key(&chan) {
                self.send_destroy(chan, id, reason);
            }
        }
        let msg = Truncated {
            reason: DestroyReason::REQUESTED.0,
        };
        self.originate(key, 0, msg.into(), rng);
    }

    /// Sends a message we originate backward on a circuit. DATA must have been allowed by
    /// the windows (the caller checks); its tag is recorded for the circuit SENDME.
    pub(super) fn originate<R: RngCore + CryptoRng>(
        &mut self,
        key: (ChanId, CircId),
        sid: u16,
        msg: AnyRelayMsg,
        rng: &mut R,
    ) -> bool {
        let is_data = matches!(msg, AnyRelayMsg::Data(_));
        let mut body = match relaycell::encode_v0(sid, &msg, rng) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "cannot encode a relay message");
                return false;
            }
        };
        let Some(c) = self.circs.get_mut(&key) else {
            return false;
        };
        let Some(crypto) = c.crypto.as_mut() else {
            return false;
        };
        let tag = crypto.originate_backward(&mut body.0);
        if is_data && c.send_win.data_sent(tag).is_err() {
            tracing::warn!("DATA packaged beyond the circuit window");
        }
        self.actions.push_back(Action::Send {
            chan: key.0,
            cell: ChanCell::new(key.1, Relay::from_array(body.0)),
        });
        true
    }
}
