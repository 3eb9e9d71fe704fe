//! The origin side of tor1 relay crypto: the client (or onion service) that built the
//! circuit and shares keys with every hop (tor-spec §6.1, "routing away from / to the
//! origin"; C tor `relay_encrypt_cell_outbound`, `relay_decrypt_cell`).
//!
//! Hops are numbered from 0 (the hop nearest to us). Sending to hop `i` digests the cell
//! with hop `i`'s Df, then encrypts with Kf of hops `i, i-1, …, 0`; receiving removes the
//! layers of hops `0, 1, …` until one recognises the cell.

use std::fmt;

use super::{
    DirState, HsV3, RelayCellBody, Suite, Tor1, Tor1Error, HS_KEY_MATERIAL_LEN,
    TOR1_KEY_MATERIAL_LEN,
};
use crate::crypto::sendme::SendmeTag;

/// The origin's state for one hop: it sends with `fwd` and receives with `back`.
pub struct OriginHop<S: Suite> {
    /// The direction we send in (Kf/Df, or Kb/Db when reversed).
    send: DirState<S>,
    /// The direction we receive in (Kb/Db, or Kf/Df when reversed).
    recv: DirState<S>,
}

impl<S: Suite> OriginHop<S> {
    /// Keys a hop from `Df | Db | Kf | Kb`, as the circuit's initiator.
    pub fn new(key_material: &S::KeyMaterial) -> Self {
        let (fwd, back) = super::key_pair::<S>(key_material);
        OriginHop {
            send: fwd,
            recv: back,
        }
    }

    /// Keys a hop with the directions swapped (C tor's `reverse`): we send with Kb/Db and
    /// receive with Kf/Df. The onion service's virtual hop is built this way.
    pub fn new_reversed(key_material: &S::KeyMaterial) -> Self {
        let (fwd, back) = super::key_pair::<S>(key_material);
        OriginHop {
            send: back,
            recv: fwd,
        }
    }

    /// Originates a cell for this hop from a plaintext body: sets `recognized` and
    /// `digest`, encrypts this hop's layer. Returns the SENDME tag. Nearer hops' layers are
    /// added by [`OriginHop::encrypt_forward`] (or use [`OriginCrypto`]).
    pub fn originate_forward(&mut self, body: &mut RelayCellBody) -> SendmeTag {
        self.send.originate(body)
    }

    /// Adds this hop's layer to a cell bound for a farther hop.
    #[inline]
    pub fn encrypt_forward(&mut self, body: &mut RelayCellBody) {
        self.send.crypt(body);
    }

    /// Removes this hop's layer from an incoming cell and tests whether this hop sent it.
    #[inline]
    pub fn decrypt_backward(&mut self, body: &mut RelayCellBody) -> Option<SendmeTag> {
        self.recv.decrypt_and_recognize(body)
    }
}

impl<S: Suite> fmt::Debug for OriginHop<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OriginHop<{}>(..)", S::NAME)
    }
}

/// Which end of a rendezvous circuit we are, for the virtual hop (rend-spec-v3 §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HsRole {
    /// The client: sends with Kf/Df, receives with Kb/Db.
    Client,
    /// The onion service: sends with Kb/Db, receives with Kf/Df.
    Service,
}

/// One hop of an origin's path: an ordinary tor1 hop or the onion-service virtual hop.
///
/// Both variants are kept inline (about 1 KB apart): a circuit has a handful of layers, and
/// boxing either one would only add a pointer chase per cell.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum OriginLayer {
    /// AES-128-CTR / SHA-1.
    Tor1(OriginHop<Tor1>),
    /// AES-256-CTR / SHA3-256, the end-to-end hop of a rendezvous circuit.
    HsV3(OriginHop<HsV3>),
}

impl OriginLayer {
    /// An ordinary hop keyed from `Df[20] | Db[20] | Kf[16] | Kb[16]`.
    pub fn tor1(key_material: &[u8; TOR1_KEY_MATERIAL_LEN]) -> Self {
        OriginLayer::Tor1(OriginHop::new(key_material))
    }

    /// The onion-service virtual hop keyed from `Df | Db | Kf | Kb` (32 bytes each),
    /// oriented for our end of the rendezvous circuit.
    pub fn hs(key_material: &[u8; HS_KEY_MATERIAL_LEN], role: HsRole) -> Self {
        OriginLayer::HsV3(match role {
            HsRole::Client => OriginHop::new(key_material),
            HsRole::Service => OriginHop::new_reversed(key_material),
        })
    }

    /// See [`OriginHop::originate_forward`].
    pub fn originate_forward(&mut self, body: &mut RelayCellBody) -> SendmeTag {
        match self {
            OriginLayer::Tor1(h) => h.originate_forward(body),
            OriginLayer::HsV3(h) => h.originate_forward(body),
        }
    }

    /// See [`OriginHop::encrypt_forward`].
    #[inline]
    pub fn encrypt_forward(&mut self, body: &mut RelayCellBody) {
        match self {
            OriginLayer::Tor1(h) => h.encrypt_forward(body),
            OriginLayer::HsV3(h) => h.encrypt_forward(body),
        }
    }

    /// See [`OriginHop::decrypt_backward`].
    #[inline]
    pub fn decrypt_backward(&mut self, body: &mut RelayCellBody) -> Option<SendmeTag> {
        match self {
            OriginLayer::Tor1(h) => h.decrypt_backward(body),
            OriginLayer::HsV3(h) => h.decrypt_backward(body),
        }
    }
}

/// A cell recognised at the origin: which hop sent it, and its SENDME tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recognized {
    /// The sending hop, numbered from 0 (nearest).
    pub hop: usize,
    /// The running digest after this cell, for a SENDME v1 to that hop.
    pub tag: SendmeTag,
}

/// The origin's crypto state for a whole circuit: one layer per hop, nearest first.
#[derive(Debug, Default)]
pub struct OriginCrypto {
    /// Layers, hop 0 first.
    hops: Vec<OriginLayer>,
}

impl OriginCrypto {
    /// A circuit with no hops yet.
    pub fn new() -> Self {
        OriginCrypto { hops: Vec::new() }
    }

    /// Appends the next hop (after CREATED2/EXTENDED2, or the virtual hop after RENDEZVOUS2).
    pub fn push(&mut self, layer: OriginLayer) {
        self.hops.push(layer);
    }

    /// Number of hops.
    pub fn n_hops(&self) -> usize {
        self.hops.len()
    }

    /// Originates a cell for hop `hop` from a plaintext body and encrypts it with the forward
    /// keys of hops `hop, hop-1, …, 0`. Returns the SENDME tag.
    pub fn encrypt_forward(
        &mut self,
        body: &mut RelayCellBody,
        hop: usize,
    ) -> Result<SendmeTag, Tor1Error> {
        let n_hops = self.hops.len();
        let Some(path) = self.hops.get_mut(..=hop) else {
            return Err(Tor1Error::NoSuchHop { hop, n_hops });
        };
        let mut layers = path.iter_mut().rev();
        let target = layers.next().ok_or(Tor1Error::NoSuchHop { hop, n_hops })?;
        let tag = target.originate_forward(body);
        for layer in layers {
            layer.encrypt_forward(body);
        }
        Ok(tag)
    }

    /// Removes layers from an incoming cell, hop 0 first, until one hop recognises it.
    /// An unrecognised cell is a protocol violation: the circuit must be closed (its
    /// keystreams are now out of step anyway).
    pub fn decrypt_backward(&mut self, body: &mut RelayCellBody) -> Result<Recognized, Tor1Error> {
        for (hop, layer) in self.hops.iter_mut().enumerate() {
            if let Some(tag) = layer.decrypt_backward(body) {
                return Ok(Recognized { hop, tag });
            }
        }
        Err(Tor1Error::Unrecognized)
    }
}
