//! The per-circuit record kept by [`super::RelayCircuits`]: crypto, RELAY_EARLY budget,
//! n-side link, circuit windows, and the exit streams on it (tor-spec §5, §7.3).
//!
//! Deliberately not here: what to do with cells (`relay`, `extend`, `exit`).

use std::collections::{HashMap, VecDeque};

use super::exit::Stream;
use super::extend::ExtendTarget;
use super::{ChanId, CircuitConfig};
use crate::cell::{CircId, Create2};
use crate::crypto::sendme::{CircRecvWindow, CircSendWindow};
use crate::crypto::tor1::Tor1RelayCrypto;

/// RELAY_EARLY cells a circuit may receive forward (tor-spec §5.6).
pub(super) const MAX_RELAY_EARLY: u8 = 8;

/// The next hop of a circuit.
#[derive(Debug)]
pub(super) enum NSide {
    /// None: this relay is the last hop.
    None,
    /// EXTEND2 accepted; waiting for the runtime to find or open a channel.
    Extending {
        /// The CREATE2 to send once the channel is there.
        create2: Create2,
        /// Where to.
        target: ExtendTarget,
    },
    /// CREATE2 sent; waiting for CREATED2.
    AwaitingCreated { chan: ChanId, id: CircId },
    /// Open both ways.
    Open { chan: ChanId, id: CircId },
}

/// One circuit, keyed in the table by its p-side.
#[derive(Debug)]
pub(super) struct Circuit {
    /// Serial number (see `CircRef`).
    pub serial: u64,
    /// The handshake job has not come back yet.
    pub pending_handshake: bool,
    /// Relay crypto, once the handshake finished.
    pub crypto: Option<Box<Tor1RelayCrypto>>,
    /// RELAY_EARLY cells still allowed forward.
    pub early_remaining: u8,
    pub n: NSide,
    /// The previous hop is a client (no BEGIN to the Internet on it).
    pub p_is_client: bool,
    /// Circuit package window for DATA we originate.
    pub send_win: CircSendWindow,
    /// Circuit deliver window for DATA addressed to us.
    pub recv_win: CircRecvWindow,
    /// Open or opening streams.
    pub streams: HashMap<u16, Stream>,
    /// Recently closed stream ids, oldest first.
    pub half_closed: VecDeque<u16>,
}

impl Circuit {
    pub fn new(serial: u64, is_fast: bool, p_is_client: bool, cfg: &CircuitConfig) -> Self {
        Circuit {
            serial,
            pending_handshake: true,
            crypto: None,
            early_remaining: MAX_RELAY_EARLY,
            n: NSide::None,
            p_is_client,
            send_win: CircSendWindow::new().accept_v0(is_fast || cfg.accept_sendme_v0),
            recv_win: CircRecvWindow::new(),
            streams: HashMap::new(),
            half_closed: VecDeque::new(),
        }
    }

    /// The handshake finished.
    pub fn open(&mut self, crypto: Box<Tor1RelayCrypto>) {
        self.pending_handshake = false;
        self.crypto = Some(crypto);
    }

    /// CREATED2 arrived from the n-side: true if we were waiting for it (now open).
    pub fn n_created_received(&mut self) -> bool {
        if let NSide::AwaitingCreated { chan, id } = self.n {
            self.n = NSide::Open { chan, id };
            true
        } else {
            false
        }
    }

    /// The n-side key, once a channel is attached.
    pub fn n_key(&self) -> Option<(ChanId, CircId)> {
        match self.n {
            NSide::AwaitingCreated { chan, id } | NSide::Open { chan, id } => Some((chan, id)),
            _ => None,
        }
    }

    /// The ids of the streams still open or opening.
    pub fn stream_ids(&self) -> Vec<u16> {
        self.streams.keys().copied().collect()
    }

    /// Remembers a closed stream id (bounded: the oldest is forgotten first).
    pub fn remember_closed(&mut self, sid: u16, cap: usize) {
        if cap == 0 {
            return;
        }
        while self.half_closed.len() >= cap {
            self.half_closed.pop_front();
        }
        self.half_closed.push_back(sid);
    }

    /// True if `sid` was closed recently.
    pub fn is_half_closed(&self, sid: u16) -> bool {
        self.half_closed.contains(&sid)
    }
}
