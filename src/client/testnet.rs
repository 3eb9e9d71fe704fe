//! A fake relay path for unit tests: the relays' side of one circuit, built from the stage-1
//! server handshakes and `crypto::tor1::RelayCrypto`, with C tor's window rules. Each hop
//! checks what the client sends (RELAY_EARLY budget, SENDME v1 tags, window overruns) and
//! the last hop is an echo exit.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::{HandshakeKind, HopTarget};
use crate::cell::{
    AnyChanMsg, ChanCell, CircId, Created2, CreatedFast, HandshakeType, Relay, RelayEarly,
};
use crate::crypto::kdf::KeyGenerator;
use crate::crypto::ll::{X25519Public, X25519Secret};
use crate::crypto::ntor::NtorSecretKey;
use crate::crypto::ntor_v3::NtorV3SecretKey;
use crate::crypto::sendme::{
    CircRecvWindow, CircSendWindow, SendmeTag, StreamRecvWindow, StreamSendWindow,
};
use crate::crypto::tor1::Tor1RelayCrypto;
use crate::crypto::{fast, ntor, ntor_v3};
use crate::ids::{Ed25519Identity, RsaIdentity};
use crate::linkspec::LinkSpec;
use crate::relaycell::{
    decode_v0, encode_v0, AnyRelayMsg, Connected, Data, Extended2, RelayCellBody, Resolved,
    ResolvedVal, Sendme,
};

/// A relay's keys.
pub(super) struct FakeRelay {
    pub(super) rsa_id: RsaIdentity,
    pub(super) ed_id: Ed25519Identity,
    secret: [u8; 32],
}

impl FakeRelay {
    pub(super) fn new(n: u8) -> Self {
        FakeRelay {
            rsa_id: RsaIdentity([n; 20]),
            ed_id: Ed25519Identity([n.wrapping_add(100); 32]),
            secret: [n.wrapping_add(7); 32],
        }
    }

    pub(super) fn target(&self, handshake: HandshakeKind) -> HopTarget {
        HopTarget {
            addrs: vec![([127, 0, 0, 1], 9000 + u16::from(self.rsa_id.0[0])).into()],
            rsa_id: self.rsa_id,
            ed_id: Some(self.ed_id),
            ntor_key: X25519Public::from(&X25519Secret::from(self.secret)),
            handshake,
        }
    }

    fn answer(
        &self,
        htype: HandshakeType,
        hdata: &[u8],
        rng: &mut StdRng,
    ) -> (Vec<u8>, KeyGenerator) {
        match htype {
            HandshakeType::NTOR => {
                let key = NtorSecretKey::new(self.rsa_id, X25519Secret::from(self.secret));
                let (reply, kg) = ntor::server(rng, &[key], hdata).unwrap();
                (reply.to_vec(), kg)
            }
            HandshakeType::NTOR_V3 => {
                let key = NtorV3SecretKey::new(self.ed_id, X25519Secret::from(self.secret));
                ntor_v3::server(
                    rng,
                    &[key],
                    ntor_v3::CIRCUIT_EXTEND_VERIFICATION,
                    hdata,
                    |cm| {
                        assert_eq!(cm, [0], "empty extension list");
                        Some(vec![0])
                    },
                )
                .unwrap()
            }
            other => panic!("unexpected handshake type {other:?}"),
        }
    }
}

/// One hop's relay-side state.
struct FakeHop {
    crypto: Tor1RelayCrypto,
    send: CircSendWindow,
    recv: CircRecvWindow,
}

/// A stream at the exit.
struct FakeStream {
    send: StreamSendWindow,
    recv: StreamRecvWindow,
}

/// The relays' side of one circuit.
pub(super) struct FakePath {
    circ_id: CircId,
    relays: Vec<FakeRelay>,
    hops: Vec<FakeHop>,
    streams: HashMap<u16, FakeStream>,
    rng: StdRng,
    /// RELAY_EARLY cells seen.
    pub(super) early_seen: u8,
    /// Bytes the exit received, per stream.
    pub(super) received: HashMap<u16, Vec<u8>>,
    /// Whether the exit echoes DATA back.
    pub(super) echo: bool,
    /// Whether the exit sends stream SENDMEs.
    pub(super) stream_sendmes: bool,
    /// Echo bytes waiting for window space.
    backlog: VecDeque<(u16, Bytes)>,
    /// Streams ended by the client.
    pub(super) ended: Vec<u16>,
    /// Cells towards the client.
    pub(super) out: VecDeque<ChanCell>,
}

impl FakePath {
    pub(super) fn new(circ_id: CircId, relays: Vec<FakeRelay>) -> Self {
        FakePath {
            circ_id,
            relays,
            hops: Vec::new(),
            streams: HashMap::new(),
            rng: StdRng::seed_from_u64(99),
            early_seen: 0,
            received: HashMap::new(),
            echo: true,
            stream_sendmes: true,
            backlog: VecDeque::new(),
            ended: Vec::new(),
            out: VecDeque::new(),
        }
    }

    fn add_hop(&mut self, kg: KeyGenerator) {
        let keys = kg.into_relay_keys().unwrap();
        self.hops.push(FakeHop {
            crypto: Tor1RelayCrypto::new(keys.tor1()),
            send: CircSendWindow::new(),
            recv: CircRecvWindow::new(),
        });
    }

    /// Originates `msg` at hop `hop` towards the client.
    /// DATA is counted in the hop's circuit window and the stream's window, as a relay
    /// would.
    pub(super) fn send_from(&mut self, hop: usize, stream: u16, msg: &AnyRelayMsg) {
        let mut body = encode_v0(stream, msg, &mut self.rng).unwrap();
        let tag = self.hops[hop].crypto.originate_backward(&mut body.0);
        if let AnyRelayMsg::Data(_) = msg {
            self.hops[hop].send.data_sent(tag).unwrap();
            if let Some(s) = self.streams.get_mut(&stream) {
                s.send.data_sent().unwrap();
            }
        }
        for h in self.hops[..hop].iter_mut().rev() {
            h.crypto.encrypt_backward(&mut body.0);
        }
        self.out
            .push_back(ChanCell::new(self.circ_id, Relay::from_array(body.0)));
    }

    /// Originates a raw plaintext body at hop `hop` towards the client.
    pub(super) fn send_raw(&mut self, hop: usize, mut body: [u8; 509]) {
        self.hops[hop].crypto.originate_backward(&mut body);
        for h in self.hops[..hop].iter_mut().rev() {
            h.crypto.encrypt_backward(&mut body);
        }
        self.out
            .push_back(ChanCell::new(self.circ_id, Relay::from_array(body)));
    }

    /// Sends one stream SENDME on `sid` if the exit's deliver window owes one.
    pub(super) fn grant_stream_sendme(&mut self, sid: u16) {
        let exit = self.hops.len() - 1;
        if self.streams.get_mut(&sid).unwrap().recv.take_sendme() {
            self.send_from(exit, sid, &Sendme::Empty.into());
        }
    }

    /// Hops built so far.
    pub(super) fn n_hops(&self) -> usize {
        self.hops.len()
    }

    /// Sends echo backlog while the exit's windows allow.
    fn flush_backlog(&mut self) {
        let exit = self.hops.len() - 1;
        while let Some((sid, bytes)) = self.backlog.front().cloned() {
            let stream_ok = self.streams.get(&sid).map(|s| s.send.window() > 0);
            match stream_ok {
                None => {
                    self.backlog.pop_front();
                    continue;
                }
                Some(false) => return,
                Some(true) if !self.hops[exit].send.can_send() => return,
                Some(true) => {}
            }
            self.backlog.pop_front();
            let mut body =
                encode_v0(sid, &Data::new(bytes).unwrap().into(), &mut self.rng).unwrap();
            let tag = self.hops[exit].crypto.originate_backward(&mut body.0);
            for h in self.hops[..exit].iter_mut().rev() {
                h.crypto.encrypt_backward(&mut body.0);
            }
            self.hops[exit].send.data_sent(tag).unwrap();
            self.streams
                .get_mut(&sid)
                .unwrap()
                .send
                .data_sent()
                .unwrap();
            self.out
                .push_back(ChanCell::new(self.circ_id, Relay::from_array(body.0)));
        }
    }

    /// Handles one cell from the client. Panics on anything a C tor relay would refuse.
    pub(super) fn handle(&mut self, cell: ChanCell) {
        assert_eq!(cell.circ_id, self.circ_id);
        let (relay, early) = match cell.msg {
            AnyChanMsg::Create2(c) => {
                let (reply, kg) = self.relays[0].answer(c.htype, &c.hdata, &mut self.rng);
                self.add_hop(kg);
                self.out
                    .push_back(ChanCell::new(self.circ_id, Created2 { hdata: reply }));
                return;
            }
            AnyChanMsg::CreateFast(c) => {
                let (reply, kg) = fast::server(&mut self.rng, &c.x).unwrap();
                self.add_hop(kg);
                let mut y = [0; 20];
                let mut kh = [0; 20];
                y.copy_from_slice(&reply[..20]);
                kh.copy_from_slice(&reply[20..]);
                self.out
                    .push_back(ChanCell::new(self.circ_id, CreatedFast { y, kh }));
                return;
            }
            AnyChanMsg::Destroy(_) => {
                self.hops.clear();
                return;
            }
            AnyChanMsg::Relay(r) => (r, false),
            AnyChanMsg::RelayEarly(RelayEarly(r)) => (r, true),
            other => panic!("unexpected cell {other:?}"),
        };
        if early {
            self.early_seen += 1;
            assert!(self.early_seen <= 8, "more than 8 RELAY_EARLY");
        }
        let mut body = RelayCellBody::try_from(&relay.body()[..]).unwrap();
        let (hop, tag) = self
            .hops
            .iter_mut()
            .enumerate()
            .find_map(|(i, h)| h.crypto.decrypt_forward(&mut body.0).map(|t| (i, t)))
            .expect("some hop recognises the cell");
        let (sid, msg) = decode_v0(&body).unwrap();
        if let AnyRelayMsg::Data(d) = &msg {
            // Proposal 289 padding: four zero bytes after the data, then random bytes.
            let end = 11 + d.body().len();
            let zeros = body.0.get(end..end + 4).unwrap_or_default();
            assert!(zeros.iter().all(|b| *b == 0), "padding starts with zeros");
            if let Some(rest) = body.0.get(end + 4..).filter(|r| r.len() >= 16) {
                assert!(rest.iter().any(|b| *b != 0), "padding is random");
            }
        }
        self.process(hop, tag, sid, msg, early);
        self.flush_backlog();
    }

    fn process(&mut self, hop: usize, tag: SendmeTag, sid: u16, msg: AnyRelayMsg, early: bool) {
        match msg {
            AnyRelayMsg::Extend2(e) => {
                assert!(early, "EXTEND2 must come in RELAY_EARLY");
                assert_eq!(hop, self.hops.len() - 1);
                let order: Vec<u16> = e.linkspecs.iter().map(LinkSpec::send_order).collect();
                assert!(order.windows(2).all(|w| w[0] < w[1]), "link spec order");
                let id = e
                    .linkspecs
                    .iter()
                    .find_map(|l| match l {
                        LinkSpec::LegacyId(id) => Some(*id),
                        _ => None,
                    })
                    .expect("legacy id");
                let idx = self.relays.iter().position(|r| r.rsa_id == id).unwrap();
                let (reply, kg) = self.relays[idx].answer(e.htype, &e.hdata, &mut self.rng);
                self.send_from(
                    hop,
                    0,
                    &Extended2 {
                        hdata: reply.into(),
                    }
                    .into(),
                );
                self.add_hop(kg);
            }
            AnyRelayMsg::Begin(_) | AnyRelayMsg::BeginDir(_) => {
                self.streams.insert(
                    sid,
                    FakeStream {
                        send: StreamSendWindow::new(),
                        recv: StreamRecvWindow::new(),
                    },
                );
                let c = Connected::with_addr([10, 0, 0, 1].into(), 300);
                self.send_from(hop, sid, &c.into());
            }
            AnyRelayMsg::Resolve(_) => {
                let r = Resolved {
                    answers: vec![(ResolvedVal::Ipv4([10, 0, 0, 2].into()), 60)],
                };
                self.send_from(hop, sid, &r.into());
            }
            AnyRelayMsg::Data(d) => {
                if let Some(t) = self.hops[hop].recv.data_received(tag).unwrap() {
                    self.send_from(hop, 0, &Sendme::v1(*t.as_bytes()).into());
                }
                let s = self.streams.get_mut(&sid).expect("DATA on a live stream");
                s.recv
                    .data_received()
                    .expect("client respects the stream window");
                let mut due = 0;
                while self.stream_sendmes && s.recv.take_sendme() {
                    due += 1;
                }
                for _ in 0..due {
                    self.send_from(hop, sid, &Sendme::Empty.into());
                }
                self.received
                    .entry(sid)
                    .or_default()
                    .extend_from_slice(d.body());
                if self.echo {
                    self.backlog.push_back((sid, d.into_body()));
                }
            }
            AnyRelayMsg::Sendme(s) if sid == 0 => {
                let Sendme::V1 {
                    tag: crate::relaycell::SendmeTag::Tor1(t),
                } = s
                else {
                    panic!("client sent a non-v1 circuit SENDME");
                };
                self.hops[hop]
                    .send
                    .sendme_received(Some(&SendmeTag::new(t)))
                    .expect("client's SENDME tag verifies");
            }
            AnyRelayMsg::Sendme(_) => {
                if let Some(s) = self.streams.get_mut(&sid) {
                    s.send.sendme_received().unwrap();
                }
            }
            AnyRelayMsg::End(_) => {
                self.streams.remove(&sid);
                self.ended.push(sid);
            }
            other => panic!("unexpected relay message {other:?}"),
        }
    }
}
