//! The responder's side of the link handshake (tor-spec §4; tor-wire-brief §2.2), as a
//! sans-IO state machine consumed by value.
//!
//! ```text
//! AwaitVersions    -- VERSIONS -->  send VERSIONS, CERTS(1,2,4,5,7), AUTH_CHALLENGE([3]),
//!                                   NETINFO; AwaitInitiator
//! AwaitInitiator   -- NETINFO  -->  Ready (peer: client)
//!                  -- CERTS    -->  AwaitAuthenticate (checked as C tor: 2,4,6,7)
//! AwaitAuthenticate-- AUTHENTICATE (every field, then the type-6 signature) --> AwaitNetinfo
//! AwaitNetinfo     -- NETINFO  -->  Ready (peer: authenticated relay)
//! ```
//!
//! SLOG is the digest of everything we sent before our NETINFO; CLOG of everything the
//! initiator sent before AUTHENTICATE (VERSIONS with its 2-byte header, VPADDING, CERTS).
//! TLSSECRETS is asked of the runtime only once the initiator's CID is known.
//!
//! NETINFO after CERTS but without AUTHENTICATE is refused: C tor does not treat such a
//! peer as a client either (`channel_tls_process_netinfo_cell`).
//!
//! Deliberately not here: clock-skew checks, address learning from NETINFO, and the
//! canonical-channel bookkeeping (the channel manager's).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::SystemTime;

use rand_core::{CryptoRng, RngCore};
use sha2::{Digest as _, Sha256};

use super::auth::{Auth0003Fields, AUTH_METHOD_ED25519_SHA256_RFC5705};
use super::certs::{verify_initiator_certs, CertifiedPeer};
use super::handshake::{
    encode, relay_netinfo, triage, versions_cell, ChannelReady, HandshakeError, OutCell,
    PeerIdentity, Progress, TlsFacts, Transcript, Triage, LINK_VERSIONS,
};
use super::LinkIdentity;
use crate::cell::handshake::{AuthChallenge, CertEntry, CertType, Certs};
use crate::cell::{AnyChanMsg, ChanCell, ChannelCodec, Vpadding};

/// What a responder needs to know up front.
#[derive(Debug, Clone)]
pub struct ResponderConfig {
    /// Our identity and certificates.
    pub identity: Arc<LinkIdentity>,
    /// The initiator's address, for our NETINFO.
    pub peer_addr: IpAddr,
    /// Our advertised addresses.
    pub my_addrs: Vec<IpAddr>,
}

/// The handshake's states, named by what each waits for.
#[derive(Debug)]
#[allow(clippy::enum_variant_names)]
enum State {
    AwaitVersions,
    AwaitInitiator,
    AwaitAuthenticate(Box<CertifiedPeer>),
    AwaitNetinfo(Box<CertifiedPeer>),
}

impl State {
    fn name(&self) -> &'static str {
        match self {
            State::AwaitVersions => "awaiting VERSIONS",
            State::AwaitInitiator => "awaiting the initiator's NETINFO or CERTS",
            State::AwaitAuthenticate(_) => "awaiting AUTHENTICATE",
            State::AwaitNetinfo(_) => "awaiting the initiator's NETINFO",
        }
    }
}

/// The responder's handshake in progress.
#[derive(Debug)]
pub struct LinkResponder {
    cfg: ResponderConfig,
    codec: ChannelCodec,
    /// What we sent before NETINFO (SLOG).
    sent: Transcript,
    /// What the initiator sent before AUTHENTICATE (CLOG).
    received: Transcript,
    state: State,
}

impl LinkResponder {
    /// A responder waiting for the initiator's VERSIONS (nothing to send yet).
    pub fn new(cfg: ResponderConfig) -> LinkResponder {
        LinkResponder {
            cfg,
            codec: ChannelCodec::unnegotiated(),
            sent: Transcript::default(),
            received: Transcript::default(),
            state: State::AwaitVersions,
        }
    }

    /// The negotiated link version, once VERSIONS has arrived: decode the following cells
    /// with it.
    pub fn link_version(&self) -> Option<u16> {
        self.codec.link_version()
    }

    /// A VPADDING cell of `len` zero bytes to send now. It goes into SLOG if sent before
    /// our NETINFO, i.e. before the initiator's VERSIONS arrived (we answer VERSIONS with
    /// all our cells at once); whoever sends cells during the handshake must send them
    /// through here.
    pub fn vpadding(&mut self, len: u16) -> Result<OutCell, HandshakeError> {
        let c = encode(&self.codec, Vpadding { len })?;
        if matches!(self.state, State::AwaitVersions) {
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
    ) -> Result<Progress<LinkResponder>, HandshakeError> {
        let state_name = self.state.name();
        if let Triage::Ignore = triage(
            &cell,
            state_name,
            matches!(self.state, State::AwaitVersions),
        )? {
            self.received.record(raw);
            return Ok(self.cont(Vec::new()));
        }
        let cmd = cell.msg.cmd();
        let state = std::mem::replace(&mut self.state, State::AwaitVersions);
        match (state, cell.msg) {
            (State::AwaitVersions, AnyChanMsg::Versions(v)) => {
                self.received.record(raw);
                let Some(best) = v.best_shared(LINK_VERSIONS) else {
                    return Err(HandshakeError::NoSharedVersion(v.versions));
                };
                let send = self.greet(best, now, rng)?;
                self.state = State::AwaitInitiator;
                Ok(self.cont(send))
            }
            (State::AwaitInitiator, AnyChanMsg::Netinfo(ni)) => {
                Ok(self.ready(PeerIdentity::Client, ni))
            }
            (State::AwaitInitiator, AnyChanMsg::Certs(certs)) => {
                self.received.record(raw);
                let peer = verify_initiator_certs(&certs, now)?;
                self.state = State::AwaitAuthenticate(Box::new(peer));
                Ok(self.cont(Vec::new()))
            }
            (State::AwaitAuthenticate(peer), AnyChanMsg::Authenticate(a)) => {
                let id = &self.cfg.identity;
                let fields = Auth0003Fields {
                    cid: peer.rsa_id_sha256,
                    sid: id.rsa_id_sha256(),
                    cid_ed: peer.ed_identity.0,
                    sid_ed: id.ed_identity.0,
                    slog: self.sent.digest(),
                    clog: self.received.digest(),
                    scert: Sha256::digest(&id.cert_tls_link).into(),
                    tlssecrets: tls
                        .export_auth0003(&peer.rsa_id_sha256)
                        .ok_or(HandshakeError::Exporter)?,
                };
                let key = peer.link_auth_key.ok_or(HandshakeError::Unexpected {
                    cmd,
                    state: "no link-authentication key",
                })?;
                fields.verify(&a, &key)?;
                self.state = State::AwaitNetinfo(peer);
                Ok(self.cont(Vec::new()))
            }
            (State::AwaitNetinfo(peer), AnyChanMsg::Netinfo(ni)) => {
                Ok(self.ready(PeerIdentity::Relay(peer), ni))
            }
            (_, _) => Err(HandshakeError::Unexpected {
                cmd,
                state: state_name,
            }),
        }
    }

    fn cont(self, send: Vec<OutCell>) -> Progress<LinkResponder> {
        Progress::Continue { state: self, send }
    }

    fn ready(
        self,
        peer: PeerIdentity,
        peer_netinfo: crate::cell::Netinfo,
    ) -> Progress<LinkResponder> {
        Progress::Ready {
            ready: ChannelReady {
                peer,
                link_version: self.codec.link_version().unwrap_or(LINK_VERSIONS[0]),
                peer_netinfo,
            },
            send: Vec::new(),
        }
    }

    /// VERSIONS, CERTS, AUTH_CHALLENGE (all into SLOG) and NETINFO.
    fn greet<R: RngCore + CryptoRng>(
        &mut self,
        version: u16,
        now: SystemTime,
        rng: &mut R,
    ) -> Result<Vec<OutCell>, HandshakeError> {
        let versions = versions_cell()?;
        self.codec
            .set_link_version(version)
            .map_err(HandshakeError::Encode)?;
        let id = self.cfg.identity.clone();
        let cert = |t, body: &Vec<u8>| CertEntry {
            cert_type: t,
            body: body.clone(),
        };
        let certs = encode(
            &self.codec,
            Certs {
                certs: vec![
                    cert(CertType::TLS_LINK, &id.cert_tls_link),
                    cert(CertType::RSA_ID, &id.cert_rsa_identity),
                    cert(CertType::ED_ID_SIGN, &id.cert_id_signing),
                    cert(CertType::ED_SIGN_LINK, &id.cert_signing_tls),
                    cert(CertType::RSA_ED_CROSSCERT, &id.cert_rsa_ed_cross),
                ],
            },
        )?;
        let mut challenge = [0u8; 32];
        rng.fill_bytes(&mut challenge);
        let auth_challenge = encode(
            &self.codec,
            AuthChallenge {
                challenge,
                methods: vec![AUTH_METHOD_ED25519_SHA256_RFC5705],
            },
        )?;
        for c in [&versions, &certs, &auth_challenge] {
            self.sent.record(&c.bytes);
        }
        let netinfo = encode(
            &self.codec,
            relay_netinfo(now, self.cfg.peer_addr, &self.cfg.my_addrs),
        )?;
        Ok(vec![versions, certs, auth_challenge, netinfo])
    }
}
