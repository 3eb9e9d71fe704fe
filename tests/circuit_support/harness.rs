// The in-memory network harness of `tests/circuit_net.rs`: three `RelayCircuits`, a
// hand-rolled client, and the glue that shuttles cells and executes actions. Included
// textually (`include!`) so the test file and the harness share one module.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddrV4};

use bytes::BytesMut;
use oniongate::cell::{
    AnyChanMsg, ChanCell, ChannelCodec, CircId, Create2, CreateFast, DestroyReason, HandshakeType,
    Relay, RelayEarly,
};
use oniongate::circuit::{
    Action, ChanId, ChannelInfo, CircuitConfig, ExitPolicy, OnionKeys, RelayCircuits, StreamAction,
    StreamRef, StreamTarget,
};
use oniongate::config::{PolicyAction, PolicyAddr, PolicyRule};
use oniongate::crypto::ll::{X25519Public, X25519Secret};
use oniongate::crypto::ntor::NtorSecretKey;
use oniongate::crypto::ntor_v3::{NtorV3PublicKey, NtorV3SecretKey};
use oniongate::crypto::sendme::{
    CircRecvWindow, CircSendWindow, StreamRecvWindow, StreamSendWindow,
};
use oniongate::crypto::tor1::{OriginCrypto, OriginLayer};
use oniongate::crypto::{fast, kdf::KeyGenerator, ntor, ntor_v3};
use oniongate::ids::{Ed25519Identity, RsaIdentity};
use oniongate::linkspec::LinkSpec;
use oniongate::relaycell::{
    decode_v0, encode_v0, AnyRelayMsg, Begin, BeginFlags, Data, End, EndReason, Extend2,
    RelayCellBody, Sendme, SendmeTag,
};
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};

/// Handshake kinds a hop can be built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Ntor,
    NtorV3,
    Fast,
}

struct Node {
    rc: RelayCircuits,
    keys: OnionKeys,
    rsa: RsaIdentity,
    ed: Ed25519Identity,
    onion: X25519Public,
    addr: SocketAddrV4,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Peer {
    Client,
    Relay(usize, ChanId),
}

#[derive(Default)]
struct Sock {
    rx: Vec<u8>,
    tx: Vec<u8>,
    off: usize,
    closed: bool,
}

struct Net {
    nodes: Vec<Node>,
    links: HashMap<(usize, ChanId), Peer>,
    next_chan: u64,
    queue: VecDeque<(Peer, ChanCell)>,
    inbox: VecDeque<ChanCell>,
    socks: HashMap<StreamRef, Sock>,
    server_payload: Vec<u8>,
    rng: StdRng,
    codec: ChannelCodec,
    handshakes_run: usize,
    /// Every DESTROY a relay sent: (relay, reason).
    destroys: Vec<(usize, DestroyReason)>,
}

const CLIENT_CHAN: ChanId = ChanId(1);

fn exit_policy_loopback() -> ExitPolicy {
    ExitPolicy::new(
        vec![PolicyRule {
            action: PolicyAction::Accept,
            addr: PolicyAddr::Net {
                addr: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 0)),
                prefix: 8,
            },
            port_lo: 1,
            port_hi: 65535,
        }],
        false,
    )
}

impl Net {
    fn new(n: usize, tweak: impl Fn(usize, &mut CircuitConfig)) -> Net {
        let mut rng = StdRng::seed_from_u64(7);
        let mut nodes = Vec::new();
        for i in 0..n {
            let mut rsa = [0u8; 20];
            let mut ed = [0u8; 32];
            rng.fill_bytes(&mut rsa);
            rng.fill_bytes(&mut ed);
            let (rsa, ed) = (RsaIdentity(rsa), Ed25519Identity(ed));
            let secret = X25519Secret::random_from_rng(&mut rng);
            let onion = X25519Public::from(&secret);
            let keys = OnionKeys {
                ntor: vec![NtorSecretKey::new(rsa, secret.clone())],
                ntor_v3: vec![NtorV3SecretKey::new(ed, secret)],
            };
            let mut cfg = CircuitConfig::new(rsa, ed);
            cfg.extend_allow_private = true;
            tweak(i, &mut cfg);
            nodes.push(Node {
                rc: RelayCircuits::new(cfg),
                keys,
                rsa,
                ed,
                onion,
                addr: SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 10 + i as u8), 9001),
            });
        }
        nodes[0].rc.add_channel(
            CLIENT_CHAN,
            ChannelInfo {
                we_initiated: false,
                peer_rsa: None,
                peer_ed: None,
            },
        );
        let mut links = HashMap::new();
        links.insert((0, CLIENT_CHAN), Peer::Client);
        Net {
            nodes,
            links,
            next_chan: 100,
            queue: VecDeque::new(),
            inbox: VecDeque::new(),
            socks: HashMap::new(),
            server_payload: Vec::new(),
            rng,
            codec: ChannelCodec::new(Some(5)).unwrap(),
            handshakes_run: 0,
            destroys: Vec::new(),
        }
    }

    /// A client cell toward relay 0.
    fn client_send(&mut self, cell: ChanCell) {
        self.queue.push_back((Peer::Relay(0, CLIENT_CHAN), cell));
    }

    /// Delivers cells and runs actions until nothing moves.
    fn pump(&mut self) {
        loop {
            let mut moved = false;
            while let Some((to, cell)) = self.queue.pop_front() {
                moved = true;
                // Through the real codec, as on a wire.
                let mut buf = BytesMut::from(&self.codec.encode_to_vec(&cell).unwrap()[..]);
                let cell = self.codec.decode(&mut buf).unwrap().unwrap();
                match to {
                    Peer::Client => self.inbox.push_back(cell),
                    Peer::Relay(i, ch) => self.nodes[i].rc.handle_cell(ch, cell, &mut self.rng),
                }
            }
            for i in 0..self.nodes.len() {
                while let Some(a) = self.nodes[i].rc.poll_action() {
                    moved = true;
                    self.act(i, a);
                }
            }
            if !moved {
                break;
            }
        }
    }

    fn channel_between(&mut self, i: usize, j: usize) -> ChanId {
        for (&(a, ch), p) in &self.links {
            if a == i && matches!(p, Peer::Relay(b, _) if *b == j) {
                return ch;
            }
        }
        let (ci, cj) = (ChanId(self.next_chan), ChanId(self.next_chan + 1));
        self.next_chan += 2;
        let (ri, ei, rj, ej) = (
            self.nodes[i].rsa,
            self.nodes[i].ed,
            self.nodes[j].rsa,
            self.nodes[j].ed,
        );
        self.nodes[i].rc.add_channel(
            ci,
            ChannelInfo {
                we_initiated: true,
                peer_rsa: Some(rj),
                peer_ed: Some(ej),
            },
        );
        self.nodes[j].rc.add_channel(
            cj,
            ChannelInfo {
                we_initiated: false,
                peer_rsa: Some(ri),
                peer_ed: Some(ei),
            },
        );
        self.links.insert((i, ci), Peer::Relay(j, cj));
        self.links.insert((j, cj), Peer::Relay(i, ci));
        ci
    }

    fn act(&mut self, i: usize, a: Action) {
        let rng = &mut self.rng;
        match a {
            Action::Send { chan, cell } => {
                if let AnyChanMsg::Destroy(d) = &cell.msg {
                    self.destroys.push((i, d.reason));
                }
                let to = self.links[&(i, chan)];
                self.queue.push_back((to, cell));
            }
            Action::Handshake(job) => {
                self.handshakes_run += 1;
                let res = job.run(&self.nodes[i].keys, rng);
                self.nodes[i].rc.complete(res);
            }
            Action::Extend { circ, target } => {
                match self.nodes.iter().position(|n| n.rsa == target.rsa_id) {
                    Some(j) if target.ipv4 == Some(self.nodes[j].addr) => {
                        let ch = self.channel_between(i, j);
                        self.nodes[i].rc.extend_ready(circ, ch, &mut self.rng);
                    }
                    _ => self.nodes[i]
                        .rc
                        .extend_failed(circ, DestroyReason::CONNECTFAILED),
                }
            }
            Action::Stream(s) => {
                let rc = &mut self.nodes[i].rc;
                match s {
                    StreamAction::Lookup { stream, .. } => {
                        rc.lookup_done(stream, Ok((vec![IpAddr::V4(Ipv4Addr::LOCALHOST)], 60)), rng)
                    }
                    StreamAction::Connect { stream, target } => {
                        assert!(matches!(target, StreamTarget::Tcp(_) | StreamTarget::Dir));
                        self.socks.insert(
                            stream,
                            Sock {
                                tx: self.server_payload.clone(),
                                ..Sock::default()
                            },
                        );
                        rc.connect_done(stream, Ok(()), rng);
                    }
                    StreamAction::Resolve { stream, .. } => rc.resolve_done(
                        stream,
                        vec![(
                            oniongate::relaycell::ResolvedVal::Ipv4(Ipv4Addr::LOCALHOST),
                            60,
                        )],
                        rng,
                    ),
                    StreamAction::Write { stream, data } => {
                        self.socks
                            .get_mut(&stream)
                            .unwrap()
                            .rx
                            .extend_from_slice(&data);
                        rc.stream_flushed(stream, rng);
                    }
                    StreamAction::Writable { stream } => {
                        if let Some(s) = self.socks.get_mut(&stream) {
                            let n = rc.send_data(stream, &s.tx[s.off..], rng);
                            s.off += n;
                        }
                    }
                    StreamAction::Closed { stream } => {
                        if let Some(s) = self.socks.get_mut(&stream) {
                            s.closed = true;
                        }
                    }
                }
            }
        }
    }
}

/// Pending handshake state at the client.
enum Pending {
    Ntor(ntor::NtorClientState),
    NtorV3(ntor_v3::NtorV3ClientState),
    Fast(fast::FastClientState),
}

struct Client {
    id: CircId,
    crypto: OriginCrypto,
    send_win: CircSendWindow,
    recv_win: CircRecvWindow,
    s_send: StreamSendWindow,
    s_recv: StreamRecvWindow,
    rng: StdRng,
    destroyed: Option<DestroyReason>,
    got: Vec<(usize, u16, AnyRelayMsg)>,
    down: Vec<u8>,
}

impl Client {
    fn new() -> Client {
        Client::with_id(0x8000_0042)
    }

    fn with_id(id: u32) -> Client {
        Client {
            id: CircId(id),
            crypto: OriginCrypto::new(),
            send_win: CircSendWindow::new(),
            recv_win: CircRecvWindow::new(),
            s_send: StreamSendWindow::new(),
            s_recv: StreamRecvWindow::new(),
            rng: StdRng::seed_from_u64(99),
            destroyed: None,
            got: Vec::new(),
            down: Vec::new(),
        }
    }

    fn onion_skin(&mut self, node: &Node, kind: Kind) -> (HandshakeType, Vec<u8>, Pending) {
        match kind {
            Kind::Ntor => {
                let (st, m) = ntor::client1(&mut self.rng, &node.rsa, &node.onion);
                (HandshakeType::NTOR, m.to_vec(), Pending::Ntor(st))
            }
            Kind::NtorV3 => {
                let pk = NtorV3PublicKey {
                    id: node.ed,
                    onion_key: node.onion,
                };
                // Ask for congestion control: the relay must decline it.
                let (st, m) = ntor_v3::client1(
                    &mut self.rng,
                    &pk,
                    ntor_v3::CIRCUIT_EXTEND_VERIFICATION,
                    &[1, 1, 0],
                )
                .unwrap();
                (HandshakeType::NTOR_V3, m, Pending::NtorV3(st))
            }
            Kind::Fast => {
                let (st, m) = fast::client1(&mut self.rng);
                (HandshakeType::RESERVED, m.to_vec(), Pending::Fast(st))
            }
        }
    }

    fn finish(&mut self, p: Pending, reply: &[u8]) {
        let kg: KeyGenerator = match p {
            Pending::Ntor(st) => ntor::client2(st, reply).unwrap(),
            Pending::NtorV3(st) => {
                let (sm, kg) = ntor_v3::client2(st, reply).unwrap();
                assert_eq!(&sm[..], &[0], "the relay declines congestion control");
                kg
            }
            Pending::Fast(st) => fast::client2(st, reply).unwrap(),
        };
        let keys = kg.into_relay_keys().unwrap();
        self.crypto.push(OriginLayer::tor1(keys.tor1()));
    }

    /// Builds a circuit through the first `kinds.len()` relays.
    fn build(&mut self, net: &mut Net, kinds: &[Kind]) {
        for (hop, &kind) in kinds.iter().enumerate() {
            let (ht, hdata, pending) = self.onion_skin(&net.nodes[hop], kind);
            if hop == 0 {
                let cell = if kind == Kind::Fast {
                    ChanCell::new(
                        self.id,
                        CreateFast {
                            x: hdata.try_into().unwrap(),
                        },
                    )
                } else {
                    ChanCell::new(self.id, Create2 { htype: ht, hdata })
                };
                net.client_send(cell);
                net.pump();
                let cell = net.inbox.pop_front().expect("a reply to CREATE");
                match cell.msg {
                    AnyChanMsg::Created2(c) => self.finish(pending, &c.hdata),
                    AnyChanMsg::CreatedFast(c) => {
                        let mut r = c.y.to_vec();
                        r.extend_from_slice(&c.kh);
                        self.finish(pending, &r)
                    }
                    other => panic!("unexpected {other:?}"),
                }
            } else {
                let n = &net.nodes[hop];
                let ext = Extend2 {
                    linkspecs: vec![
                        LinkSpec::Ipv4(n.addr),
                        LinkSpec::LegacyId(n.rsa),
                        LinkSpec::Ed25519Id(n.ed),
                    ],
                    htype: ht,
                    hdata: hdata.into(),
                };
                self.send(net, hop - 1, 0, ext.into(), true);
                net.pump();
                let got = self.recv(net);
                match got.as_slice() {
                    [(h, 0, AnyRelayMsg::Extended2(e))] if *h == hop - 1 => {
                        let e = e.hdata.clone();
                        self.finish(pending, &e)
                    }
                    other => panic!("unexpected {other:?} (destroyed: {:?})", self.destroyed),
                }
            }
        }
        assert_eq!(self.crypto.n_hops(), kinds.len());
    }

    fn send(&mut self, net: &mut Net, hop: usize, sid: u16, msg: AnyRelayMsg, early: bool) {
        let mut body = encode_v0(sid, &msg, &mut self.rng).unwrap();
        let tag = self.crypto.encrypt_forward(&mut body.0, hop).unwrap();
        if matches!(msg, AnyRelayMsg::Data(_)) {
            self.send_win.data_sent(tag).unwrap();
        }
        let r = Relay::from_array(body.0);
        let cell = if early {
            ChanCell::new(self.id, RelayEarly(r))
        } else {
            ChanCell::new(self.id, r)
        };
        net.client_send(cell);
    }

    /// Handles everything in the inbox; returns the non-flow-control messages.
    fn recv(&mut self, net: &mut Net) -> Vec<(usize, u16, AnyRelayMsg)> {
        let mut out = Vec::new();
        while let Some(cell) = net.inbox.pop_front() {
            let body = match cell.msg {
                AnyChanMsg::Relay(r) => r.into_body(),
                AnyChanMsg::Destroy(d) => {
                    self.destroyed = Some(d.reason);
                    continue;
                }
                other => panic!("client got {other:?}"),
            };
            let mut b = RelayCellBody(body[..].try_into().unwrap());
            let rec = self.crypto.decrypt_backward(&mut b.0).expect("recognised");
            let (sid, msg) = decode_v0(&b).unwrap();
            match msg {
                AnyRelayMsg::Data(d) => {
                    if let Some(t) = self.recv_win.data_received(rec.tag).unwrap() {
                        let hop = rec.hop;
                        self.send(net, hop, 0, Sendme::v1(*t.as_bytes()).into(), false);
                    }
                    self.s_recv.data_received().unwrap();
                    self.down.extend_from_slice(d.body());
                    while self.s_recv.take_sendme() {
                        self.send(net, rec.hop, sid, Sendme::Empty.into(), false);
                    }
                }
                AnyRelayMsg::Sendme(Sendme::V1 {
                    tag: SendmeTag::Tor1(t),
                }) if sid == 0 => {
                    self.send_win
                        .sendme_received(Some(&oniongate::crypto::sendme::SendmeTag::new(t)))
                        .unwrap();
                }
                AnyRelayMsg::Sendme(_) => self.s_send.sendme_received().unwrap(),
                m => out.push((rec.hop, sid, m)),
            }
        }
        self.got.extend(out.iter().cloned());
        out
    }
}

fn three_relays() -> Net {
    Net::new(3, |i, c| {
        if i == 2 {
            c.exit_policy = exit_policy_loopback();
        }
    })
}
