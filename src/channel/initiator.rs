//! The initiator's side of the link handshake (tor-spec §4; tor-wire-brief §2.2), as a
//! sans-IO state machine consumed by value.
//!
//! ```text
//! start:            send VERSIONS [4, 5]
//! AwaitVersions  -- VERSIONS -->  AwaitCerts        (link version = best shared)
//! AwaitCerts     -- CERTS    -->  client: send NETINFO; AwaitNetinfo
//!                                 relay:  AwaitChallenge
//! AwaitChallenge -- AUTH_CHALLENGE (method 3) --> send CERTS(2,4,6,7), AUTHENTICATE,
//!                                 NETINFO; AwaitNetinfo
//! AwaitNetinfo   -- NETINFO  -->  Ready (a client also accepts one AUTH_CHALLENGE first)
//! ```
//!
//! A client checks the responder's CERTS before it sends NETINFO and never authenticates;
//! a relay proves its identity with AUTHENTICATE method 3. SLOG is the digest of what the
//! responder sent up to and including AUTH_CHALLENGE (the responder's NETINFO follows it and
//! is not covered); CLOG covers our VERSIONS, VPADDING and CERTS.
//!
//! Deliberately not here: sending VPADDING, clock-skew warnings from the peer's NETINFO
//! timestamp, and C tor's RSA-only certificate path.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::SystemTime;

use rand_core::{CryptoRng, RngCore};
use sha2::{Digest as _, Sha256};

use super::auth::{Auth0003Fields, AUTH_METHOD_ED25519_SHA256_RFC5705};
use super::certs::{verify_responder_certs, CertifiedPeer};
use super::handshake::{
    encode, relay_netinfo, triage, versions_cell, ChannelReady, ExpectedPeer, HandshakeError,
    OutCell, PeerIdentity, Progress, TlsFacts, Transcript, Triage, LINK_VERSIONS,
};
use super::LinkIdentity;
use crate::cell::handshake::{CertEntry, CertType, Certs};
use crate::cell::{AnyChanMsg, ChanCell, ChannelCodec, Netinfo, Vpadding};

/// How an initiator takes part.
#[derive(Debug, Clone)]
pub enum InitiatorRole {
    /// A client: no authentication.
    Client,
    /// A relay: authenticates with this identity.
    Relay(Arc<LinkIdentity>),
}

/// What an initiator needs to know up front.
#[derive(Debug, Clone)]
pub struct InitiatorConfig {
    /// Client or relay.
    pub role: InitiatorRole,
    /// The relay we mean to reach, if we know its ids (a mismatch fails the handshake).
    pub expected: Option<ExpectedPeer>,
    /// The responder's address, for our NETINFO.
    pub peer_addr: IpAddr,
    /// Our advertised addresses (relay role only; a client sends none).
    pub my_addrs: Vec<IpAddr>,
}

/// The handshake's states, named by what each waits for.
#[derive(Debug)]
#[allow(clippy::enum_variant_names)]
enum State {
    AwaitVersions,
    AwaitCerts,
    AwaitChallenge(Box<CertifiedPeer>),
    AwaitNetinfo {
        peer: Box<CertifiedPeer>,
        got_challenge: bool,
    },
}

impl State {
    fn name(&self) -> &'static str {
        match self {
            State::AwaitVersions => "awaiting VERSIONS",
            State::AwaitCerts => "awaiting the responder's CERTS",
            State::AwaitChallenge(_) => "awaiting AUTH_CHALLENGE",
            State::AwaitNetinfo { .. } => "awaiting the responder's NETINFO",
        }
    }
}

/// The initiator's handshake in progress.
#[derive(Debug)]
pub struct LinkInitiator {
    cfg: InitiatorConfig,
    codec: ChannelCodec,
    /// What the responder sent (SLOG).
    received: Transcript,
    /// What we sent (CLOG).
    sent: Transcript,
    state: State,
}

impl LinkInitiator {
    /// Starts a handshake: returns the state and our VERSIONS cell to send first.
    pub fn start(cfg: InitiatorConfig) -> Result<(LinkInitiator, Vec<OutCell>), HandshakeError> {
        let v = versions_cell()?;
        let mut sent = Transcript::default();
        sent.record(&v.bytes);
        Ok((
            LinkInitiator {
                cfg,
                codec: ChannelCodec::unnegotiated(),
                received: Transcript::default(),
                sent,
                state: State::AwaitVersions,
            },
            vec![v],
        ))
    }

    /// The negotiated link version, once the responder's VERSIONS has arrived: decode the
    /// following cells with it.
    pub fn link_version(&self) -> Option<u16> {
        self.codec.link_version()
    }

    /// A VPADDING cell of `len` zero bytes to send now. It goes into CLOG if sent before
    /// AUTHENTICATE (whoever sends cells during the handshake must send them through here).
    ///
    /// We sent VERSIONS first, and the responder reads everything after it with 4-byte
    /// circuit ids (the framing of every version we offer), so this uses that framing even
    /// before the responder's VERSIONS has arrived.
    pub fn vpadding(&mut self, len: u16) -> Result<OutCell, HandshakeError> {
        let codec = match self.codec.link_version() {
            Some(_) => self.codec.clone(),
            None => {
                ChannelCodec::new(LINK_VERSIONS.first().copied()).map_err(HandshakeError::Encode)?
            }
        };
        let c = encode(&codec, Vpadding { len })?;
        if !matches!(self.state, State::AwaitNetinfo { .. }) {
            self.sent.record(&c.bytes);
        }
        Ok(c)
    }

    /// Feeds one received cell and its exact bytes (`ChannelCodec::decode_raw`).
    pub fn handle<R: RngCore + CryptoRng>(
        mut self,
        cell: ChanCell,
        raw: &[u8],
        tls: &dyn TlsFacts,
        now: SystemTime,
        rng: &mut R,
    ) -> Result<Progress<LinkInitiator>, HandshakeError> {
        let state_name = self.state.name();
        let unexpected = |cell: &ChanCell| HandshakeError::Unexpected {
            cmd: cell.msg.cmd(),
            state: state_name,
        };
        if let Triage::Ignore = triage(
            &cell,
            state_name,
            matches!(self.state, State::AwaitVersions),
        )? {
            self.received.record(raw);
            return Ok(self.cont(Vec::new()));
        }
        let state = std::mem::replace(&mut self.state, State::AwaitVersions);
        match (state, cell.msg) {
            (State::AwaitVersions, AnyChanMsg::Versions(v)) => {
                self.received.record(raw);
                let Some(best) = v.best_shared(LINK_VERSIONS) else {
                    return Err(HandshakeError::NoSharedVersion(v.versions));
                };
                self.codec
                    .set_link_version(best)
                    .map_err(HandshakeError::Encode)?;
                self.state = State::AwaitCerts;
                Ok(self.cont(Vec::new()))
            }
            (State::AwaitCerts, AnyChanMsg::Certs(certs)) => {
                self.received.record(raw);
                let tls_cert = tls.peer_certificate().ok_or(HandshakeError::NoTlsCert)?;
                let peer = verify_responder_certs(&certs, &tls_cert, now)?;
                if let Some(exp) = &self.cfg.expected {
                    exp.check(&peer)?;
                }
                match self.cfg.role {
                    InitiatorRole::Client => {
                        // C tor's client sends its NETINFO as soon as CERTS checks out.
                        let ni = encode(&self.codec, Netinfo::from_client(self.cfg.peer_addr))?;
                        self.state = State::AwaitNetinfo {
                            peer: Box::new(peer),
                            got_challenge: false,
                        };
                        Ok(self.cont(vec![ni]))
                    }
                    InitiatorRole::Relay(_) => {
                        self.state = State::AwaitChallenge(Box::new(peer));
                        Ok(self.cont(Vec::new()))
                    }
                }
            }
            (State::AwaitChallenge(peer), AnyChanMsg::AuthChallenge(ch)) => {
                self.received.record(raw);
                if !ch.methods.contains(&AUTH_METHOD_ED25519_SHA256_RFC5705) {
                    return Err(HandshakeError::NoAuthMethod(ch.methods));
                }
                let send = self.authenticate(&peer, tls, now, rng)?;
                self.state = State::AwaitNetinfo {
                    peer,
                    got_challenge: true,
                };
                Ok(self.cont(send))
            }
            (
                State::AwaitNetinfo {
                    peer,
                    got_challenge: false,
                },
                AnyChanMsg::AuthChallenge(_),
            ) => {
                // A client ignores the challenge (C tor checks only that CERTS came first).
                self.received.record(raw);
                self.state = State::AwaitNetinfo {
                    peer,
                    got_challenge: true,
                };
                Ok(self.cont(Vec::new()))
            }
            (State::AwaitNetinfo { peer, .. }, AnyChanMsg::Netinfo(ni)) => Ok(Progress::Ready {
                ready: ChannelReady {
                    peer: PeerIdentity::Relay(peer),
                    link_version: self.codec.link_version().unwrap_or(LINK_VERSIONS[0]),
                    peer_netinfo: ni,
                },
                send: Vec::new(),
            }),
            (_, msg) => Err(unexpected(&ChanCell::channel(msg))),
        }
    }

    fn cont(self, send: Vec<OutCell>) -> Progress<LinkInitiator> {
        Progress::Continue { state: self, send }
    }

    /// Our CERTS, AUTHENTICATE and NETINFO in answer to AUTH_CHALLENGE (relay role).
    fn authenticate<R: RngCore + CryptoRng>(
        &mut self,
        peer: &CertifiedPeer,
        tls: &dyn TlsFacts,
        now: SystemTime,
        rng: &mut R,
    ) -> Result<Vec<OutCell>, HandshakeError> {
        let InitiatorRole::Relay(id) = &self.cfg.role else {
            return Err(HandshakeError::Unexpected {
                cmd: crate::cell::ChanCmd::AUTH_CHALLENGE,
                state: "a client",
            });
        };
        let id = id.clone();
        let cert = |t, body: &Vec<u8>| CertEntry {
            cert_type: t,
            body: body.clone(),
        };
        let certs = encode(
            &self.codec,
            Certs {
                certs: vec![
                    cert(CertType::RSA_ID, &id.cert_rsa_identity),
                    cert(CertType::ED_ID_SIGN, &id.cert_id_signing),
                    cert(CertType::ED_SIGN_AUTH, &id.cert_signing_auth),
                    cert(CertType::RSA_ED_CROSSCERT, &id.cert_rsa_ed_cross),
                ],
            },
        )?;
        self.sent.record(&certs.bytes);
        let tls_cert = tls.peer_certificate().ok_or(HandshakeError::NoTlsCert)?;
        let cid = id.rsa_id_sha256();
        let fields = Auth0003Fields {
            cid,
            sid: peer.rsa_id_sha256,
            cid_ed: id.ed_identity.0,
            sid_ed: peer.ed_identity.0,
            slog: self.received.digest(),
            clog: self.sent.digest(),
            scert: Sha256::digest(&tls_cert).into(),
            tlssecrets: tls.export_auth0003(&cid).ok_or(HandshakeError::Exporter)?,
        };
        let mut rand = [0u8; 24];
        rng.fill_bytes(&mut rand);
        let auth = encode(&self.codec, fields.sign(&rand, &id.auth_key))?;
        let ni = encode(
            &self.codec,
            relay_netinfo(now, self.cfg.peer_addr, &self.cfg.my_addrs),
        )?;
        Ok(vec![certs, auth, ni])
    }
}
