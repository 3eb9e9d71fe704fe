//! A driver that feeds [`RelayCircuits`] an arbitrary sequence of cells and runtime events
//! decoded from bytes, and checks that the tables stay within their caps. Shared by the
//! proptest in `tests/circuit_proptest.rs` and the fuzz target `relay_circuit`.
//!
//! Hidden from the docs: test support, not API. Its RNG is deterministic and **not** secure.

use std::net::{IpAddr, Ipv4Addr};

use rand_core::{CryptoRng, RngCore};

use super::{
    Action, ChanId, ChannelInfo, CircuitConfig, ExitPolicy, OnionKeys, RelayCircuits, StreamAction,
};
use crate::cell::{
    AnyChanMsg, ChanCell, CircId, Create, Create2, CreateFast, Created2, Destroy, DestroyReason,
    HandshakeType, Relay, RelayEarly, CELL_BODY_LEN,
};
use crate::config::{PolicyAction, PolicyAddr, PolicyRule};
use crate::crypto::fast;
use crate::crypto::ll::X25519Secret;
use crate::crypto::ntor::NtorSecretKey;
use crate::crypto::ntor_v3::NtorV3SecretKey;
use crate::crypto::tor1::{OriginHop, Tor1};
use crate::ids::{Ed25519Identity, RsaIdentity};
use crate::relaycell::EndReason;

/// A deterministic xorshift generator. Not secure: tests only.
#[derive(Debug, Clone)]
pub struct InsecureTestRng(u64);

impl InsecureTestRng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        InsecureTestRng(seed | 1)
    }
}

impl RngCore for InsecureTestRng {
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for b in dest {
            *b = self.next_u64() as u8;
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for InsecureTestRng {}

/// The caps the driver runs with (small, so that they are reached).
pub const MAX_CIRCS: usize = 6;
/// Pending-handshake cap per channel.
pub const MAX_PENDING: usize = 3;
/// Streams per circuit.
pub const MAX_STREAMS: usize = 4;

/// What a run saw.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    /// Actions produced.
    pub actions: usize,
    /// Most circuits alive at once.
    pub max_circuits: usize,
    /// Stream actions (so a test can tell that the recognised path was reached).
    pub stream_actions: usize,
}

struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
    fn bytes(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.0.len());
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        a
    }
}

/// Runs the operations `data` encodes against one relay with three channels; panics if a
/// cap is exceeded (or if the circuit layer panics).
pub fn run(data: &[u8]) -> Stats {
    let mut rng = InsecureTestRng::new(0x5eed);
    let rsa = RsaIdentity([1; 20]);
    let ed = Ed25519Identity([2; 32]);
    let secret = X25519Secret::from([3u8; 32]);
    let keys = OnionKeys {
        ntor: vec![NtorSecretKey::new(rsa, secret.clone())],
        ntor_v3: vec![NtorV3SecretKey::new(ed, secret)],
    };
    let mut cfg = CircuitConfig::new(rsa, ed);
    cfg.max_circuits_per_channel = MAX_CIRCS;
    cfg.max_pending_handshakes_per_channel = MAX_PENDING;
    cfg.max_streams_per_circuit = MAX_STREAMS;
    cfg.max_half_closed_per_circuit = 4;
    cfg.extend_allow_private = true;
    cfg.exit_policy = ExitPolicy::new(
        vec![PolicyRule {
            action: PolicyAction::Accept,
            addr: PolicyAddr::Private,
            port_lo: 1,
            port_hi: 65535,
        }],
        false,
    );
    let mut r = RelayCircuits::new(cfg);
    let chans = [ChanId(1), ChanId(2), ChanId(3)];
    let info = |i: usize| ChannelInfo {
        we_initiated: i == 2,
        peer_rsa: (i != 0).then_some(RsaIdentity([10 + i as u8; 20])),
        peer_ed: None,
    };
    for (i, c) in chans.iter().enumerate() {
        r.add_channel(*c, info(i));
    }
    // Client-side hops of our CREATE_FAST circuits, by (channel, circuit id).
    let mut hops: Vec<((ChanId, CircId), OriginHop<Tor1>)> = Vec::new();
    let mut fast_pending: Vec<((ChanId, CircId), fast::FastClientState)> = Vec::new();
    let mut jobs = Vec::new();
    let mut extends = Vec::new();
    let mut streams = Vec::new();
    let mut stats = Stats::default();
    let mut inp = Input(data);
    while let Some(op) = inp.byte() {
        let sel = inp.byte().unwrap_or(0);
        let chan = chans[usize::from(sel % 3)];
        let id = CircId(if sel & 0x80 != 0 { 0x8000_0000 } else { 0 } | u32::from((sel >> 2) & 7));
        match op % 12 {
            0 => {
                let (st, x) = fast::client1(&mut rng);
                fast_pending.push(((chan, id), st));
                r.handle_cell(chan, ChanCell::new(id, CreateFast { x }), &mut rng);
            }
            1 => {
                let ht = HandshakeType(u16::from(inp.byte().unwrap_or(2) % 5));
                let n = usize::from(inp.byte().unwrap_or(84));
                let hdata = inp.bytes(n).to_vec();
                r.handle_cell(
                    chan,
                    ChanCell::new(id, Create2 { htype: ht, hdata }),
                    &mut rng,
                );
            }
            2 | 3 => {
                let mut body = [0u8; CELL_BODY_LEN];
                let src = inp.bytes(CELL_BODY_LEN);
                body[..src.len()].copy_from_slice(src);
                // Make it a plaintext relay cell for our own CREATE_FAST hop when we have one.
                if let Some((_, hop)) = hops.iter_mut().find(|(h, _)| *h == (chan, id)) {
                    if sel & 0x40 != 0 {
                        body[1] = 0;
                        body[2] = 0;
                        hop.originate_forward(&mut body);
                    }
                }
                let relay = Relay::from_array(body);
                let msg: AnyChanMsg = if op % 12 == 3 {
                    RelayEarly(relay).into()
                } else {
                    relay.into()
                };
                r.handle_cell(chan, ChanCell { circ_id: id, msg }, &mut rng);
            }
            4 => {
                let reason = DestroyReason(inp.byte().unwrap_or(0));
                r.handle_cell(chan, ChanCell::new(id, Destroy { reason }), &mut rng);
            }
            5 => {
                let n = usize::from(inp.byte().unwrap_or(0));
                let hdata = inp.bytes(n.min(496)).to_vec();
                r.handle_cell(chan, ChanCell::new(id, Created2 { hdata }), &mut rng);
            }
            6 => {
                for job in jobs.drain(..) {
                    let job: super::HandshakeJob = job;
                    r.complete(job.run(&keys, &mut rng));
                }
            }
            7 => {
                if let Some((circ, _)) = extends.pop() {
                    if sel & 1 == 0 {
                        r.extend_ready(circ, chan, &mut rng);
                    } else {
                        r.extend_failed(circ, DestroyReason::CONNECTFAILED);
                    }
                }
            }
            8 => {
                if let Some(s) = streams.pop() {
                    match sel % 6 {
                        0 => r.connect_done(s, Ok(()), &mut rng),
                        1 => r.connect_done(s, Err(EndReason::CONNECTREFUSED), &mut rng),
                        2 => r.lookup_done(
                            s,
                            Ok((vec![IpAddr::V4(Ipv4Addr::LOCALHOST)], 60)),
                            &mut rng,
                        ),
                        3 => {
                            let _ = r.send_data(s, inp.bytes(2000), &mut rng);
                        }
                        4 => r.stream_end(s, EndReason::DONE, &mut rng),
                        _ => r.stream_flushed(s, &mut rng),
                    }
                }
            }
            9 => {
                r.channel_closed(chan);
                let i = usize::from(sel % 3);
                r.add_channel(chan, info(i));
                hops.retain(|((c, _), _)| *c != chan);
                let _ = i;
            }
            10 => r.handle_cell(
                chan,
                ChanCell::new(
                    id,
                    Create {
                        onionskin: [0; 186],
                    },
                ),
                &mut rng,
            ),
            _ => {
                if let Some(c) = r.circuits().first().copied() {
                    r.close_circuit(c, DestroyReason::RESOURCELIMIT);
                }
            }
        }
        while let Some(a) = r.poll_action() {
            stats.actions += 1;
            if matches!(a, Action::Stream(_)) {
                stats.stream_actions += 1;
            }
            match a {
                Action::Handshake(j) => jobs.push(j),
                Action::Extend { circ, target } => extends.push((circ, target)),
                Action::Stream(StreamAction::Connect { stream, .. })
                | Action::Stream(StreamAction::Lookup { stream, .. })
                | Action::Stream(StreamAction::Writable { stream }) => streams.push(stream),
                Action::Send { chan: c, cell } => {
                    if let AnyChanMsg::CreatedFast(cf) = &cell.msg {
                        let key = (c, cell.circ_id);
                        if let Some(pos) = fast_pending.iter().position(|(i, _)| *i == key) {
                            let (i, st) = fast_pending.swap_remove(pos);
                            let mut reply = cf.y.to_vec();
                            reply.extend_from_slice(&cf.kh);
                            if let Ok(k) = fast::client2(st, &reply).and_then(|kg| {
                                kg.into_relay_keys().map_err(|_| fast::FastError::BadAuth)
                            }) {
                                hops.retain(|(h, _)| *h != i);
                                hops.push((i, OriginHop::new(k.tor1())));
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        // Bounded tables.
        fast_pending.truncate(64);
        streams.truncate(64);
        jobs.truncate(64);
        extends.truncate(64);
        stats.max_circuits = stats.max_circuits.max(r.n_circuits());
        for c in chans {
            assert!(r.n_circuits_on(c) <= MAX_CIRCS, "circuit cap exceeded");
            assert!(r.n_pending_on(c) <= MAX_PENDING, "pending cap exceeded");
        }
        for c in r.circuits() {
            assert!(r.n_streams(c) <= MAX_STREAMS, "stream cap exceeded");
        }
        assert!(r.n_circuits() <= MAX_CIRCS * chans.len());
    }
    stats
}
