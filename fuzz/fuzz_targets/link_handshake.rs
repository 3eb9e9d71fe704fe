#![no_main]
//! The link-handshake state machines on attacker-chosen cell sequences: a responder, a
//! client initiator and a relay initiator each get a prefix of an honest handshake (so the
//! fuzzer reaches every state) followed by arbitrary bytes, framed by `ChannelCodec` exactly
//! as a runtime would. Nothing may panic; a handshake that completes must name the honest
//! peer.
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use oniongate::cell::ChannelCodec;
use oniongate::channel::testing::generate_link_identity;
use oniongate::channel::{
    ExpectedPeer, InitiatorConfig, InitiatorRole, LinkIdentity, LinkInitiator, LinkResponder,
    PeerIdentity, Progress, ResponderConfig, TlsFacts,
};
use rand::rngs::StdRng;
use rand::SeedableRng;

struct Tls(Option<Vec<u8>>);

impl TlsFacts for Tls {
    fn peer_certificate(&self) -> Option<Vec<u8>> {
        self.0.clone()
    }
    fn export_auth0003(&self, context: &[u8; 32]) -> Option<[u8; 32]> {
        Some(*context)
    }
}

struct World {
    responder: Arc<LinkIdentity>,
    responder_cert: Vec<u8>,
    initiator: Arc<LinkIdentity>,
    /// Honest byte streams: to a client initiator, to a relay initiator, to a responder
    /// (from a relay initiator), each cut into cells.
    to_client: Vec<Vec<u8>>,
    to_relay: Vec<Vec<u8>>,
    to_responder: Vec<Vec<u8>>,
}

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000)
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let mut rng = StdRng::seed_from_u64(1);
        let (r, rc, _) = generate_link_identity(&mut rng, now()).expect("identity");
        let (i, _, _) = generate_link_identity(&mut rng, now()).expect("identity");
        let (r, i) = (Arc::new(r), Arc::new(i));
        let (to_client, _) = honest(&r, &rc, InitiatorRole::Client);
        let (to_relay, to_responder) = honest(&r, &rc, InitiatorRole::Relay(i.clone()));
        World {
            responder: r,
            responder_cert: rc,
            initiator: i,
            to_client,
            to_relay,
            to_responder,
        }
    })
}

/// Runs an honest handshake and records the cells each side sent.
fn honest(
    r: &Arc<LinkIdentity>,
    rc: &[u8],
    role: InitiatorRole,
) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let mut rng = StdRng::seed_from_u64(2);
    let (mut init, first) = LinkInitiator::start(cfg(role)).expect("start");
    let mut resp = LinkResponder::new(rcfg(r));
    let (mut to_i, mut to_r): (Vec<Vec<u8>>, Vec<Vec<u8>>) = (vec![], vec![]);
    to_r.extend(first.into_iter().map(|c| c.bytes));
    let (mut ri, mut rr) = (0, 0);
    let itls = Tls(Some(rc.to_vec()));
    let rtls = Tls(None);
    let mut i_codec = ChannelCodec::unnegotiated();
    let mut r_codec = ChannelCodec::unnegotiated();
    let (mut i_done, mut r_done) = (false, false);
    while !(i_done && r_done) {
        let mut moved = false;
        if !r_done && rr < to_r.len() {
            let mut b = BytesMut::from(&to_r[rr][..]);
            rr += 1;
            let (cell, raw) = r_codec.decode_raw(&mut b).expect("decode").expect("whole");
            match resp.handle(cell, &raw, &rtls, now(), &mut rng).expect("honest") {
                Progress::Continue { state, send } => {
                    if let Some(v) = state.link_version() {
                        r_codec.set_link_version(v).expect("version");
                    }
                    to_i.extend(send.into_iter().map(|c| c.bytes));
                    resp = state;
                }
                Progress::Ready { .. } => {
                    r_done = true;
                    resp = LinkResponder::new(rcfg(r));
                }
            }
            moved = true;
        }
        if !i_done && ri < to_i.len() {
            let mut b = BytesMut::from(&to_i[ri][..]);
            ri += 1;
            let (cell, raw) = i_codec.decode_raw(&mut b).expect("decode").expect("whole");
            match init.handle(cell, &raw, &itls, now(), &mut rng).expect("honest") {
                Progress::Continue { state, send } => {
                    if let Some(v) = state.link_version() {
                        i_codec.set_link_version(v).expect("version");
                    }
                    to_r.extend(send.into_iter().map(|c| c.bytes));
                    init = state;
                }
                Progress::Ready { .. } => {
                    i_done = true;
                    init = LinkInitiator::start(cfg(InitiatorRole::Client)).expect("start").0;
                }
            }
            moved = true;
        }
        if !moved {
            break;
        }
    }
    (to_i, to_r)
}

fn cfg(role: InitiatorRole) -> InitiatorConfig {
    InitiatorConfig {
        role,
        expected: None,
        peer_addr: [127, 0, 0, 1].into(),
        my_addrs: vec![[127, 0, 0, 2].into()],
    }
}

fn rcfg(r: &Arc<LinkIdentity>) -> ResponderConfig {
    ResponderConfig {
        identity: r.clone(),
        peer_addr: [127, 0, 0, 2].into(),
        my_addrs: vec![[127, 0, 0, 1].into()],
    }
}

enum Machine {
    I(LinkInitiator),
    R(LinkResponder),
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let w = world();
    let mut rng = StdRng::seed_from_u64(3);
    let (mut m, prefix, tls) = match sel % 3 {
        0 => (
            Machine::R(LinkResponder::new(rcfg(&w.responder))),
            &w.to_responder,
            Tls(None),
        ),
        1 => {
            let mut c = cfg(InitiatorRole::Client);
            c.expected = Some(ExpectedPeer {
                rsa_id: w.responder.rsa_id(),
                ed_id: Some(w.responder.ed_identity),
            });
            let (i, _) = LinkInitiator::start(c).expect("start");
            (Machine::I(i), &w.to_client, Tls(Some(w.responder_cert.clone())))
        }
        _ => {
            let (i, _) =
                LinkInitiator::start(cfg(InitiatorRole::Relay(w.initiator.clone()))).expect("start");
            (Machine::I(i), &w.to_relay, Tls(Some(w.responder_cert.clone())))
        }
    };
    let k = usize::from(sel / 3) % (prefix.len() + 1);
    let mut buf = BytesMut::new();
    for c in prefix.iter().take(k) {
        buf.extend_from_slice(c);
    }
    buf.extend_from_slice(rest);
    let mut codec = ChannelCodec::unnegotiated();
    loop {
        let Ok(Some((cell, raw))) = codec.decode_raw(&mut buf) else {
            return;
        };
        let (next, v) = match m {
            Machine::I(s) => match s.handle(cell, &raw, &tls, now(), &mut rng) {
                Ok(Progress::Continue { state, .. }) => {
                    let v = state.link_version();
                    (Machine::I(state), v)
                }
                Ok(Progress::Ready { ready, .. }) => {
                    match ready.peer {
                        PeerIdentity::Relay(p) => assert_eq!(p.rsa_id, w.responder.rsa_id()),
                        PeerIdentity::Client => panic!("an initiator's peer is a relay"),
                    }
                    return;
                }
                Err(e) => {
                    let _ = e.to_string();
                    return;
                }
            },
            Machine::R(s) => match s.handle(cell, &raw, &tls, now(), &mut rng) {
                Ok(Progress::Continue { state, .. }) => {
                    let v = state.link_version();
                    (Machine::R(state), v)
                }
                Ok(Progress::Ready { ready, .. }) => {
                    if let PeerIdentity::Relay(p) = ready.peer {
                        assert_eq!(p.rsa_id, w.initiator.rsa_id());
                    }
                    return;
                }
                Err(e) => {
                    let _ = e.to_string();
                    return;
                }
            },
        };
        if let Some(v) = v {
            if codec.link_version().is_none() && codec.set_link_version(v).is_err() {
                return;
            }
        }
        m = next;
    }
});
