//! The link handshake in memory: our initiator against our responder, in both roles, with
//! the byte streams passed between them through `ChannelCodec` exactly as a runtime would,
//! and the ways it must fail (tor-spec §4; tor-wire-brief §2).

#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use bytes::BytesMut;
use oniongate::cell::handshake::{AuthChallenge, CertEntry, CertType, Certs};
use oniongate::cell::Vpadding;
use oniongate::cell::{AnyChanMsg, ChanCell, ChanCmd, ChannelCodec, Netinfo, Padding};
use oniongate::cert::CertError;
use oniongate::channel::auth::AuthError;
use oniongate::channel::certs::{verify_initiator_certs, verify_responder_certs, CertsError};
use oniongate::channel::testing::generate_link_identity;
use oniongate::channel::{
    ChannelReady, ExpectedPeer, HandshakeError, InitiatorConfig, InitiatorRole, LinkIdentity,
    LinkInitiator, LinkResponder, OutCell, PeerIdentity, Progress, ResponderConfig, TlsFacts,
};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;
use sha2::{Digest, Sha256};

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000)
}

struct Ident {
    id: Arc<LinkIdentity>,
    tls_cert: Vec<u8>,
}

/// Two identities, made once (RSA key generation is slow).
fn idents() -> &'static (Ident, Ident) {
    static I: OnceLock<(Ident, Ident)> = OnceLock::new();
    I.get_or_init(|| {
        let mut rng = StdRng::seed_from_u64(7);
        let mut mk = || {
            let (id, tls_cert, _) = generate_link_identity(&mut rng, now()).unwrap();
            Ident {
                id: Arc::new(id),
                tls_cert,
            }
        };
        (mk(), mk())
    })
}

/// The TLS facts of one side: the peer's certificate, and an exporter keyed by a shared
/// secret (the same on both sides unless a test says otherwise).
struct FakeTls {
    peer_cert: Option<Vec<u8>>,
    secret: [u8; 32],
}

impl TlsFacts for FakeTls {
    fn peer_certificate(&self) -> Option<Vec<u8>> {
        self.peer_cert.clone()
    }
    fn export_auth0003(&self, context: &[u8; 32]) -> Option<[u8; 32]> {
        Some(
            Sha256::new()
                .chain_update(self.secret)
                .chain_update(context)
                .finalize()
                .into(),
        )
    }
}

const R_ADDR: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
const I_ADDR: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dir {
    ToResponder,
    ToInitiator,
}

/// How a test meddles with the cells in flight: given each cell we are about to send, the
/// bytes that actually go on the wire.
type Meddle<'a> = &'a mut dyn FnMut(Dir, &OutCell) -> Vec<Vec<u8>>;

fn honest(_: Dir, c: &OutCell) -> Vec<Vec<u8>> {
    vec![c.bytes.clone()]
}

struct Setup {
    role: InitiatorRole,
    expected: Option<ExpectedPeer>,
    i_tls: FakeTls,
    r_tls: FakeTls,
    i_now: SystemTime,
    r_now: SystemTime,
    /// Each side sends VPADDING (through the state machine) before each of its batches.
    pad: bool,
}

impl Setup {
    fn new(relay: bool) -> Setup {
        let (r, i) = idents();
        Setup {
            role: if relay {
                InitiatorRole::Relay(i.id.clone())
            } else {
                InitiatorRole::Client
            },
            expected: Some(ExpectedPeer {
                rsa_id: r.id.rsa_id(),
                ed_id: Some(r.id.ed_identity),
            }),
            i_tls: FakeTls {
                peer_cert: Some(r.tls_cert.clone()),
                secret: [1; 32],
            },
            r_tls: FakeTls {
                peer_cert: None,
                secret: [1; 32],
            },
            i_now: now(),
            r_now: now(),
            pad: false,
        }
    }
}

type Outcome = Result<ChannelReady, HandshakeError>;

/// Runs both sides until each is ready or has failed (or nothing moves).
fn run(s: Setup, meddle: Meddle<'_>) -> (Option<Outcome>, Option<Outcome>) {
    let (r, _) = idents();
    let mut rng = StdRng::seed_from_u64(99);
    let (mut init, first) = LinkInitiator::start(InitiatorConfig {
        role: s.role,
        expected: s.expected,
        peer_addr: R_ADDR,
        my_addrs: vec![I_ADDR],
    })
    .unwrap();
    let mut resp = Some(LinkResponder::new(ResponderConfig {
        identity: r.id.clone(),
        peer_addr: I_ADDR,
        my_addrs: vec![R_ADDR],
    }));
    let mut to_r = BytesMut::new();
    let mut to_i = BytesMut::new();
    if s.pad {
        // Before the responder's VERSIONS: 2-byte framing, into SLOG.
        let p = resp.as_mut().unwrap().vpadding(5).unwrap();
        to_i.extend_from_slice(&p.bytes);
    }
    for c in &first {
        for b in meddle(Dir::ToResponder, c) {
            to_r.extend_from_slice(&b);
        }
    }
    if s.pad {
        // Straight after our VERSIONS: 4-byte framing, into CLOG.
        to_r.extend_from_slice(&init.vpadding(3).unwrap().bytes);
    }
    let mut init_slot = Some(init);
    let (mut i_out, mut r_out) = (None, None);
    let mut i_codec = ChannelCodec::unnegotiated();
    let mut r_codec = ChannelCodec::unnegotiated();
    loop {
        let mut moved = false;
        if let Some(st) = resp.take() {
            match r_codec.decode_raw(&mut to_r) {
                Ok(Some((cell, raw))) => {
                    moved = true;
                    match st.handle(cell, &raw, &s.r_tls, s.r_now, &mut rng) {
                        Ok(Progress::Continue { state, send }) => {
                            if let Some(v) = state.link_version() {
                                r_codec.set_link_version(v).unwrap();
                            }
                            for c in &send {
                                for b in meddle(Dir::ToInitiator, c) {
                                    to_i.extend_from_slice(&b);
                                }
                            }
                            resp = Some(state);
                        }
                        Ok(Progress::Ready { ready, .. }) => r_out = Some(Ok(ready)),
                        Err(e) => r_out = Some(Err(e)),
                    }
                }
                Ok(None) => resp = Some(st),
                Err(e) => panic!("responder's codec refused a cell: {e}"),
            }
        }
        if let Some(st) = init_slot.take() {
            match i_codec.decode_raw(&mut to_i) {
                Ok(Some((cell, raw))) => {
                    moved = true;
                    match st.handle(cell, &raw, &s.i_tls, s.i_now, &mut rng) {
                        Ok(Progress::Continue { mut state, send }) => {
                            if let Some(v) = state.link_version() {
                                i_codec.set_link_version(v).unwrap();
                            }
                            for c in &send {
                                for b in meddle(Dir::ToResponder, c) {
                                    to_r.extend_from_slice(&b);
                                }
                            }
                            if s.pad {
                                // After the batch, so wire order is transcript order.
                                to_r.extend_from_slice(&state.vpadding(7).unwrap().bytes);
                            }
                            init_slot = Some(state);
                        }
                        Ok(Progress::Ready { ready, send }) => {
                            assert!(send.is_empty());
                            i_out = Some(Ok(ready));
                        }
                        Err(e) => i_out = Some(Err(e)),
                    }
                }
                Ok(None) => init_slot = Some(st),
                Err(e) => panic!("initiator's codec refused a cell: {e}"),
            }
        }
        if !moved {
            break;
        }
    }
    (i_out, r_out)
}

fn relay_ids(p: &PeerIdentity) -> (oniongate::ids::RsaIdentity, oniongate::ids::Ed25519Identity) {
    match p {
        PeerIdentity::Relay(c) => (c.rsa_id, c.ed_identity),
        PeerIdentity::Client => panic!("expected a relay peer"),
    }
}

#[test]
fn client_handshake_completes() {
    let (r, _) = idents();
    let (i, rr) = run(Setup::new(false), &mut honest);
    let i = i.unwrap().unwrap();
    let rr = rr.unwrap().unwrap();
    assert_eq!(relay_ids(&i.peer), (r.id.rsa_id(), r.id.ed_identity));
    assert_eq!(i.link_version, 5);
    assert_eq!(rr.link_version, 5);
    assert_eq!(rr.peer, PeerIdentity::Client);
    assert_eq!(rr.peer_netinfo, Netinfo::from_client(R_ADDR));
    assert_eq!(i.peer_netinfo.my_addrs, vec![R_ADDR]);
    assert_eq!(i.peer_netinfo.other_addr, I_ADDR);
}

#[test]
fn relay_handshake_authenticates_both_ways() {
    let (r, ini) = idents();
    let (i, rr) = run(Setup::new(true), &mut honest);
    let i = i.unwrap().unwrap();
    let rr = rr.unwrap().unwrap();
    assert_eq!(relay_ids(&i.peer), (r.id.rsa_id(), r.id.ed_identity));
    assert_eq!(relay_ids(&rr.peer), (ini.id.rsa_id(), ini.id.ed_identity));
    let PeerIdentity::Relay(p) = &rr.peer else {
        unreachable!()
    };
    assert_eq!(p.rsa_id_sha256, ini.id.rsa_id_sha256());
    assert_eq!(p.link_auth_key, Some(ini.id.auth_key.verifying_key()));
    assert_eq!(rr.peer_netinfo.my_addrs, vec![I_ADDR]);
    assert_ne!(rr.peer_netinfo.timestamp, 0);
}

/// VPADDING before and after VERSIONS, sent through the state machines, is hashed on both
/// sides, so AUTHENTICATE still verifies.
#[test]
fn vpadding_is_tolerated_and_hashed() {
    let mut s = Setup::new(true);
    s.pad = true;
    let (i, r) = run(s, &mut honest);
    i.unwrap().unwrap();
    assert!(matches!(r.unwrap().unwrap().peer, PeerIdentity::Relay(_)));
}

/// Unknown variable-length cells and AUTHORIZE after VERSIONS are ignored (C tor); stray
/// VPADDING the responder did not account for breaks only an authenticating handshake.
#[test]
fn unknown_var_cells_are_ignored() {
    let mut m = |d: Dir, c: &OutCell| {
        let mut out = vec![c.bytes.clone()];
        if d == Dir::ToInitiator && c.cell.msg.cmd() != ChanCmd::NETINFO {
            let codec = ChannelCodec::new(Some(5)).unwrap();
            let unk =
                oniongate::cell::Unrecognized::new(ChanCmd(200), vec![1, 2, 3].into()).unwrap();
            out.push(codec.encode_to_vec(&ChanCell::channel(unk)).unwrap());
            out.push(
                codec
                    .encode_to_vec(&ChanCell::channel(Vpadding { len: 9 }))
                    .unwrap(),
            );
        }
        out
    };
    let (i, r) = run(Setup::new(false), &mut m);
    i.unwrap().unwrap();
    r.unwrap().unwrap();
    let (i, r) = run(Setup::new(true), &mut m);
    i.unwrap().unwrap();
    assert!(matches!(
        r.unwrap().unwrap_err(),
        HandshakeError::Auth(AuthError::FieldMismatch("SLOG"))
    ));
}

#[test]
fn wrong_expected_identity_is_refused() {
    let (_, other) = idents();
    let mut s = Setup::new(false);
    s.expected = Some(ExpectedPeer {
        rsa_id: other.id.rsa_id(),
        ed_id: None,
    });
    let (i, _) = run(s, &mut honest);
    assert!(matches!(
        i.unwrap(),
        Err(HandshakeError::IdentityMismatch { what: "RSA", .. })
    ),);
    let (r, _) = idents();
    let mut s = Setup::new(false);
    s.expected = Some(ExpectedPeer {
        rsa_id: r.id.rsa_id(),
        ed_id: Some(other.id.ed_identity),
    });
    let (i, _) = run(s, &mut honest);
    let e = i.unwrap().unwrap_err();
    assert!(matches!(
        e,
        HandshakeError::IdentityMismatch {
            what: "Ed25519",
            ..
        }
    ));
    assert!(e.to_string().contains("Ed25519 identity"), "{e}");
}

/// Replaces the CERTS cell going in `dir` by `f(certs)`.
fn rewrite_certs(dir: Dir, f: impl Fn(&mut Certs)) -> impl FnMut(Dir, &OutCell) -> Vec<Vec<u8>> {
    move |d, c| match &c.cell.msg {
        AnyChanMsg::Certs(certs) if d == dir => {
            let mut certs = certs.clone();
            f(&mut certs);
            let codec = ChannelCodec::new(Some(5)).unwrap();
            vec![codec.encode_to_vec(&ChanCell::channel(certs)).unwrap()]
        }
        _ => vec![c.bytes.clone()],
    }
}

fn flip_in(t: CertType, at: usize) -> impl Fn(&mut Certs) {
    move |c: &mut Certs| {
        let e = c.certs.iter_mut().find(|e| e.cert_type == t).unwrap();
        e.body[at] ^= 1;
    }
}

#[test]
fn tampered_responder_certs_are_refused() {
    let (i, _) = run(
        Setup::new(false),
        &mut rewrite_certs(Dir::ToInitiator, flip_in(CertType::ED_ID_SIGN, 10)),
    );
    let e = i.unwrap().unwrap_err();
    assert!(
        matches!(
            e,
            HandshakeError::Certs(CertsError::Ed25519 {
                source: CertError::BadSignature,
                ..
            })
        ),
        "{e}"
    );
    // A bad crosscert signature.
    let (i, _) = run(
        Setup::new(false),
        &mut rewrite_certs(Dir::ToInitiator, flip_in(CertType::RSA_ED_CROSSCERT, 50)),
    );
    assert!(matches!(
        i.unwrap().unwrap_err(),
        HandshakeError::Certs(CertsError::Crosscert(_))
    ));
    // A missing type 5.
    let (i, _) = run(
        Setup::new(false),
        &mut rewrite_certs(Dir::ToInitiator, |c| {
            c.certs.retain(|e| e.cert_type != CertType::ED_SIGN_LINK)
        }),
    );
    assert!(matches!(
        i.unwrap().unwrap_err(),
        HandshakeError::Certs(CertsError::Missing(CertType::ED_SIGN_LINK))
    ));
}

#[test]
fn tampered_initiator_certs_are_refused() {
    let (_, r) = run(
        Setup::new(true),
        &mut rewrite_certs(Dir::ToResponder, flip_in(CertType::ED_SIGN_AUTH, 40)),
    );
    let e = r.unwrap().unwrap_err();
    assert!(
        matches!(e, HandshakeError::Certs(CertsError::Ed25519 { .. })),
        "{e}"
    );
}

#[test]
fn tls_certificate_must_match_type5() {
    let (_, other) = idents();
    let mut s = Setup::new(false);
    s.i_tls.peer_cert = Some(other.tls_cert.clone());
    let (i, _) = run(s, &mut honest);
    assert!(matches!(
        i.unwrap().unwrap_err(),
        HandshakeError::Certs(CertsError::TlsCertMismatch)
    ));
}

#[test]
fn expired_certificates_are_refused() {
    // Type 5 lives two days.
    let mut s = Setup::new(false);
    s.i_now = now() + Duration::from_secs(3 * 86400);
    let (i, _) = run(s, &mut honest);
    let e = i.unwrap().unwrap_err();
    assert!(
        matches!(
            e,
            HandshakeError::Certs(CertsError::Ed25519 {
                cert_type: CertType::ED_SIGN_LINK,
                source: CertError::Expired { .. }
            })
        ),
        "{e}"
    );
    // The responder checks the initiator's type 6 the same way.
    let mut s = Setup::new(true);
    s.r_now = now() + Duration::from_secs(3 * 86400);
    let (_, r) = run(s, &mut honest);
    assert!(matches!(
        r.unwrap().unwrap_err(),
        HandshakeError::Certs(CertsError::Ed25519 {
            cert_type: CertType::ED_SIGN_AUTH,
            ..
        })
    ));
}

#[test]
fn bad_authenticate_signature_is_refused() {
    let (_, ini) = idents();
    let mut forged = (*ini.id).clone();
    forged.auth_key = ed25519_dalek::SigningKey::from_bytes(&[42; 32]);
    let mut s = Setup::new(true);
    s.role = InitiatorRole::Relay(Arc::new(forged));
    let (_, r) = run(s, &mut honest);
    assert!(matches!(
        r.unwrap().unwrap_err(),
        HandshakeError::Auth(AuthError::BadSignature)
    ));
}

#[test]
fn wrong_exporter_value_is_refused() {
    let mut s = Setup::new(true);
    s.r_tls.secret = [2; 32];
    let (_, r) = run(s, &mut honest);
    assert!(matches!(
        r.unwrap().unwrap_err(),
        HandshakeError::Auth(AuthError::FieldMismatch("TLSSECRETS"))
    ));
}

#[test]
fn tampered_transcript_is_refused() {
    // A changed AUTH_CHALLENGE: the initiator signs what it saw, the responder what it sent.
    let mut m = |d: Dir, c: &OutCell| match &c.cell.msg {
        AnyChanMsg::AuthChallenge(a) if d == Dir::ToInitiator => {
            let mut a: AuthChallenge = a.clone();
            a.challenge[0] ^= 1;
            let codec = ChannelCodec::new(Some(5)).unwrap();
            vec![codec.encode_to_vec(&ChanCell::channel(a)).unwrap()]
        }
        _ => vec![c.bytes.clone()],
    };
    let (_, r) = run(Setup::new(true), &mut m);
    assert!(matches!(
        r.unwrap().unwrap_err(),
        HandshakeError::Auth(AuthError::FieldMismatch("SLOG"))
    ));
}

/// Swaps the order of two of the responder's cells.
fn reorder(first: ChanCmd, second: ChanCmd) -> impl FnMut(Dir, &OutCell) -> Vec<Vec<u8>> {
    let mut held: Option<Vec<u8>> = None;
    move |d, c| {
        let cmd = c.cell.msg.cmd();
        if d == Dir::ToInitiator && cmd == first {
            held = Some(c.bytes.clone());
            return vec![];
        }
        if d == Dir::ToInitiator && cmd == second {
            let mut v = vec![c.bytes.clone()];
            v.extend(held.take());
            return v;
        }
        vec![c.bytes.clone()]
    }
}

#[test]
fn out_of_order_cells_are_refused() {
    // AUTH_CHALLENGE before CERTS.
    let (i, _) = run(
        Setup::new(false),
        &mut reorder(ChanCmd::CERTS, ChanCmd::AUTH_CHALLENGE),
    );
    assert!(matches!(
        i.unwrap().unwrap_err(),
        HandshakeError::Unexpected {
            cmd: ChanCmd::AUTH_CHALLENGE,
            ..
        }
    ));
    // NETINFO before CERTS.
    let mut m = |d: Dir, c: &OutCell| {
        if d == Dir::ToInitiator && c.cell.msg.cmd() == ChanCmd::VERSIONS {
            let codec = ChannelCodec::new(Some(5)).unwrap();
            let ni = Netinfo::from_client(I_ADDR);
            return vec![
                c.bytes.clone(),
                codec.encode_to_vec(&ChanCell::channel(ni)).unwrap(),
            ];
        }
        vec![c.bytes.clone()]
    };
    let (i, _) = run(Setup::new(true), &mut m);
    assert!(matches!(
        i.unwrap().unwrap_err(),
        HandshakeError::Unexpected {
            cmd: ChanCmd::NETINFO,
            ..
        }
    ));
    // A relay initiator whose AUTHENTICATE is lost: NETINFO after CERTS is refused.
    let mut drop_auth = |_: Dir, c: &OutCell| {
        if c.cell.msg.cmd() == ChanCmd::AUTHENTICATE {
            vec![]
        } else {
            vec![c.bytes.clone()]
        }
    };
    let (_, r) = run(Setup::new(true), &mut drop_auth);
    assert!(matches!(
        r.unwrap().unwrap_err(),
        HandshakeError::Unexpected {
            cmd: ChanCmd::NETINFO,
            ..
        }
    ));
    // AUTHENTICATE without CERTS.
    let mut drop_certs = |d: Dir, c: &OutCell| {
        if d == Dir::ToResponder && c.cell.msg.cmd() == ChanCmd::CERTS {
            vec![]
        } else {
            vec![c.bytes.clone()]
        }
    };
    let (_, r) = run(Setup::new(true), &mut drop_certs);
    assert!(matches!(
        r.unwrap().unwrap_err(),
        HandshakeError::Unexpected {
            cmd: ChanCmd::AUTHENTICATE,
            ..
        }
    ));
    // A fixed-length PADDING cell during the handshake closes it.
    let mut pad = |d: Dir, c: &OutCell| {
        if d == Dir::ToInitiator && c.cell.msg.cmd() == ChanCmd::CERTS {
            let codec = ChannelCodec::new(Some(5)).unwrap();
            return vec![
                codec.encode_to_vec(&ChanCell::channel(Padding)).unwrap(),
                c.bytes.clone(),
            ];
        }
        vec![c.bytes.clone()]
    };
    let (i, _) = run(Setup::new(false), &mut pad);
    assert!(matches!(
        i.unwrap().unwrap_err(),
        HandshakeError::Unexpected {
            cmd: ChanCmd::PADDING,
            ..
        }
    ));
}

#[test]
fn no_shared_version_is_refused() {
    let mut m = |d: Dir, c: &OutCell| {
        if d == Dir::ToResponder && c.cell.msg.cmd() == ChanCmd::VERSIONS {
            return vec![oniongate::cell::codec::raw::versions_cell(&[3]).unwrap()];
        }
        vec![c.bytes.clone()]
    };
    let (_, r) = run(Setup::new(false), &mut m);
    assert!(matches!(r.unwrap().unwrap_err(), HandshakeError::NoSharedVersion(v) if v == vec![3]));
}

fn responder_certs() -> Certs {
    let (r, _) = idents();
    let e = |t, b: &Vec<u8>| CertEntry {
        cert_type: t,
        body: b.clone(),
    };
    Certs {
        certs: vec![
            e(CertType::TLS_LINK, &r.id.cert_tls_link),
            e(CertType::RSA_ID, &r.id.cert_rsa_identity),
            e(CertType::ED_ID_SIGN, &r.id.cert_id_signing),
            e(CertType::ED_SIGN_LINK, &r.id.cert_signing_tls),
            e(CertType::RSA_ED_CROSSCERT, &r.id.cert_rsa_ed_cross),
        ],
    }
}

#[test]
fn duplicate_certs_are_refused() {
    let (r, _) = idents();
    let mut c = responder_certs();
    verify_responder_certs(&c, &r.tls_cert, now()).unwrap();
    c.certs.push(CertEntry {
        cert_type: CertType::ED_ID_SIGN,
        body: r.id.cert_id_signing.clone(),
    });
    assert_eq!(
        verify_responder_certs(&c, &r.tls_cert, now()),
        Err(CertsError::Duplicate(CertType::ED_ID_SIGN))
    );
    // The responder's certs are not an initiator's (no type 6).
    assert_eq!(
        verify_initiator_certs(&responder_certs(), now()),
        Err(CertsError::Missing(CertType::ED_SIGN_AUTH))
    );
}

#[test]
fn rsa_identity_must_be_1024_bits() {
    let (r, _) = idents();
    let mut rng = StdRng::seed_from_u64(5);
    let big = rsa::RsaPrivateKey::new(&mut rng, 2048).unwrap();
    let lc = oniongate::crypto::x509::LinkCertificates::with_link_key(
        &mut rng,
        &big,
        big.clone(),
        now(),
    )
    .unwrap();
    let mut c = responder_certs();
    c.certs[1].body = lc.identity_cert_der;
    assert_eq!(
        verify_responder_certs(&c, &r.tls_cert, now()),
        Err(CertsError::RsaIdSize(2048))
    );
}

/// The type-2 certificate's validity window follows C tor's slop: notBefore may be up to 30
/// days ahead, notAfter up to 2 days behind (`tor_x509_check_cert_lifetime_internal`).
#[test]
fn rsa_identity_cert_validity_uses_c_tor_slop() {
    use oniongate::cert::RsaCrosscert;
    use oniongate::crypto::rsa::RsaKeypair;
    use oniongate::crypto::x509::{build_cert, CertParams};
    let (r, _) = idents();
    let mut rng = StdRng::seed_from_u64(8);
    let kp = RsaKeypair::generate(&mut rng).unwrap();
    let day = Duration::from_secs(86400);
    let with_window = |nb: SystemTime, na: SystemTime, rng: &mut StdRng| {
        let p = CertParams {
            subject_cn: "www.a.com".into(),
            issuer_cn: "www.a.com".into(),
            not_before: nb,
            not_after: na,
        };
        let der = build_cert(rng, &p, &kp.public().as_rsa().clone(), kp.as_rsa()).unwrap();
        let mut c = responder_certs();
        c.certs[1].body = der;
        c.certs[4].body = RsaCrosscert::sign(&kp, &r.id.ed_identity, now() + 10 * day).unwrap();
        verify_responder_certs(&c, &r.tls_cert, now())
    };
    let year = 365 * day;
    let ok = |res: Result<_, CertsError>| res.map(|p: oniongate::channel::CertifiedPeer| p.rsa_id);
    assert_eq!(
        ok(with_window(now() - day, now() + year, &mut rng)),
        Ok(kp.public().fingerprint())
    );
    assert!(with_window(now() + 29 * day, now() + year, &mut rng).is_ok());
    assert!(matches!(
        with_window(now() + 31 * day, now() + year, &mut rng),
        Err(CertsError::RsaIdCert(_))
    ));
    assert!(with_window(now() - year, now() - day, &mut rng).is_ok());
    assert!(matches!(
        with_window(now() - year, now() - 3 * day, &mut rng),
        Err(CertsError::RsaIdCert(_))
    ));
    // A crosscert signed by another RSA key than the type-2 one is refused.
    let mut c = responder_certs();
    c.certs[4].body = RsaCrosscert::sign(&kp, &r.id.ed_identity, now() + 10 * day).unwrap();
    assert!(matches!(
        verify_responder_certs(&c, &r.tls_cert, now()),
        Err(CertsError::Crosscert(_))
    ));
    // A crosscert naming another Ed25519 identity is refused.
    let (_, other) = idents();
    let mut c = responder_certs();
    c.certs[4].body = other.id.cert_rsa_ed_cross.clone();
    assert!(matches!(
        verify_responder_certs(&c, &r.tls_cert, now()),
        Err(CertsError::Crosscert(_))
    ));
}

// ---- garbage never panics ----

/// The states reachable by an honest run, as the cells that lead to each (fed from start).
type Script = Vec<(ChanCell, Vec<u8>)>;

fn prefixes(relay: bool) -> (Script, Script) {
    let (mut to_i, mut to_r) = (Vec::new(), Vec::new());
    let mut rec = |d: Dir, c: &OutCell| {
        match d {
            Dir::ToInitiator => to_i.push((c.cell.clone(), c.bytes.clone())),
            Dir::ToResponder => to_r.push((c.cell.clone(), c.bytes.clone())),
        }
        vec![c.bytes.clone()]
    };
    let _ = run(Setup::new(relay), &mut rec);
    (to_i, to_r)
}

fn garbage_cell(version: Option<u16>, cmd: u8, body: &[u8]) -> Option<(ChanCell, Vec<u8>)> {
    let codec = ChannelCodec::new(version).unwrap();
    let mut raw = Vec::new();
    if version.is_some() {
        raw.extend_from_slice(&0u32.to_be_bytes());
    } else {
        raw.extend_from_slice(&0u16.to_be_bytes());
    }
    raw.push(cmd);
    if ChanCmd(cmd).is_var_len() {
        raw.extend_from_slice(&(body.len() as u16).to_be_bytes());
        raw.extend_from_slice(body);
    } else {
        let mut b = body.to_vec();
        b.resize(509, 0);
        raw.extend_from_slice(&b);
    }
    let mut buf = BytesMut::from(&raw[..]);
    match codec.decode_raw(&mut buf) {
        Ok(Some((cell, r))) => Some((cell, r.to_vec())),
        _ => None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn garbage_never_panics(
        relay in any::<bool>(),
        depth in 0usize..5,
        cmd in prop_oneof![Just(7u8), Just(8), Just(128), Just(129), Just(130), Just(131), Just(132), any::<u8>()],
        body in proptest::collection::vec(any::<u8>(), 0..700),
        cut in any::<prop::sample::Index>(),
    ) {
        let (to_i, to_r) = prefixes(relay);
        let mut rng = StdRng::seed_from_u64(1);
        let (r, _) = idents();
        let tls = FakeTls { peer_cert: Some(r.tls_cert.clone()), secret: [1; 32] };
        // Initiator: replay `depth` honest cells, then the garbage (or a truncated honest one).
        let (st0, _) = LinkInitiator::start(InitiatorConfig {
            role: if relay { InitiatorRole::Relay(idents().1.id.clone()) } else { InitiatorRole::Client },
            expected: None, peer_addr: R_ADDR, my_addrs: vec![],
        }).unwrap();
        let mut st = Some(st0);
        for (c, raw) in to_i.iter().take(depth) {
            let Some(s) = st.take() else { break };
            if let Ok(Progress::Continue { state, .. }) = s.handle(c.clone(), raw, &tls, now(), &mut rng) {
                st = Some(state);
            }
        }
        if let Some(st) = st {
            let v = st.link_version();
            let g = garbage_cell(v, cmd, &body).or_else(|| {
                let (c, raw) = to_i.get(depth)?;
                let body = c.msg.body_to_vec().ok()?;
                let n = cut.index(body.len() + 1);
                garbage_cell(v, c.msg.cmd().0, &body[..n]).map(|x| (x.0, raw.clone()))
            });
            if let Some((c, raw)) = g {
                let _ = st.handle(c, &raw, &tls, now(), &mut rng);
            }
        }
        // Responder, likewise.
        let mut st = Some(LinkResponder::new(ResponderConfig { identity: r.id.clone(), peer_addr: I_ADDR, my_addrs: vec![] }));
        for (c, raw) in to_r.iter().take(depth) {
            let Some(s) = st.take() else { break };
            if let Ok(Progress::Continue { state, .. }) = s.handle(c.clone(), raw, &tls, now(), &mut rng) {
                st = Some(state);
            }
        }
        let Some(st) = st else { return Ok(()) };
        let v = st.link_version();
        let g = garbage_cell(v, cmd, &body).or_else(|| {
            let (c, raw) = to_r.get(depth)?;
            let b = c.msg.body_to_vec().ok()?;
            let n = cut.index(b.len() + 1);
            garbage_cell(v, c.msg.cmd().0, &b[..n]).map(|x| (x.0, raw.clone()))
        });
        if let Some((c, raw)) = g {
            let _ = st.handle(c, &raw, &tls, now(), &mut rng);
        }
    }
}
