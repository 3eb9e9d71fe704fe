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

/// Which end of a rendezvous circuit we are, for the virtual hop (rend-spec-v3 §4.2.1).
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::crypto::tor1::{RelayCrypto, Tor1RelayCrypto, BODY_LEN};
    use proptest::collection::vec;
    use proptest::prelude::*;
    use rand::{rngs::StdRng, Rng, RngCore, SeedableRng};

    fn km72() -> impl Strategy<Value = [u8; TOR1_KEY_MATERIAL_LEN]> {
        vec(any::<u8>(), TOR1_KEY_MATERIAL_LEN).prop_map(|v| v.try_into().unwrap())
    }

    fn plain_from(data: &[u8]) -> RelayCellBody {
        let mut b: RelayCellBody = data.try_into().unwrap();
        b[1] = 0;
        b[2] = 0;
        b[5..9].fill(0);
        b
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// Origin → 3 relays (→ exit) and back, random keys, data, target hops, directions.
        #[test]
        fn three_hop_round_trips(
            keys in (km72(), km72(), km72()),
            cells in vec((0usize..3, any::<bool>(), vec(any::<u8>(), BODY_LEN)), 1..40),
        ) {
            let keys = [keys.0, keys.1, keys.2];
            let mut origin = OriginCrypto::new();
            let mut relays: Vec<Tor1RelayCrypto> = Vec::new();
            for k in &keys {
                origin.push(OriginLayer::tor1(k));
                relays.push(RelayCrypto::new(k));
            }
            for (hop, forward, data) in cells {
                let plain = plain_from(&data);
                let mut body = plain;
                if forward {
                    let tag = origin.encrypt_forward(&mut body, hop).unwrap();
                    for (r, relay) in relays.iter_mut().enumerate().take(hop + 1) {
                        let got = relay.decrypt_forward(&mut body);
                        if r < hop {
                            prop_assert!(got.is_none());
                        } else {
                            prop_assert_eq!(got, Some(tag));
                        }
                    }
                } else {
                    let tag = relays[hop].originate_backward(&mut body);
                    for r in (0..hop).rev() {
                        relays[r].encrypt_backward(&mut body);
                    }
                    let rec = origin.decrypt_backward(&mut body).unwrap();
                    prop_assert_eq!(rec, Recognized { hop, tag });
                }
                prop_assert_eq!(&body[..5], &plain[..5]);
                prop_assert_eq!(&body[9..], &plain[9..]);
            }
        }

        /// Any single flipped bit in a cell makes its recipient refuse it.
        #[test]
        fn tampered_cells_are_not_recognised(
            keys in (km72(), km72()),
            data in vec(any::<u8>(), BODY_LEN),
            pos in 0usize..BODY_LEN,
            bit in 0u8..8,
        ) {
            let mut origin = OriginCrypto::new();
            origin.push(OriginLayer::tor1(&keys.0));
            origin.push(OriginLayer::tor1(&keys.1));
            let mut r0 = Tor1RelayCrypto::new(&keys.0);
            let mut r1 = Tor1RelayCrypto::new(&keys.1);
            let mut body = plain_from(&data);
            origin.encrypt_forward(&mut body, 1).unwrap();
            body[pos] ^= 1 << bit;
            prop_assert!(r0.decrypt_forward(&mut body).is_none());
            prop_assert!(r1.decrypt_forward(&mut body).is_none());

            let mut body = plain_from(&data);
            r1.originate_backward(&mut body);
            r0.encrypt_backward(&mut body);
            body[pos] ^= 1 << bit;
            prop_assert_eq!(origin.decrypt_backward(&mut body), Err(Tor1Error::Unrecognized));
        }
    }

    /// A whole rendezvous circuit: client — G1 — M1 — RP — M2 — G2 — service, with the
    /// virtual hop end to end. The RP joins the two circuits: what it receives forward on
    /// the client's circuit it sends backward on the service's, and the other way round.
    #[test]
    fn rendezvous_circuit_end_to_end() {
        let mut rng = StdRng::seed_from_u64(289);
        let mut km = || {
            let mut k = [0u8; TOR1_KEY_MATERIAL_LEN];
            rng.fill_bytes(&mut k);
            k
        };
        let (kc, ks): (Vec<_>, Vec<_>) = (
            (0..3).map(|_| km()).collect(),
            (0..3).map(|_| km()).collect(),
        );
        let mut hs_km = [0u8; HS_KEY_MATERIAL_LEN];
        StdRng::seed_from_u64(4242).fill_bytes(&mut hs_km);

        let mut client = OriginCrypto::new();
        let mut service = OriginCrypto::new();
        let mut client_relays: Vec<Tor1RelayCrypto> = Vec::new();
        let mut service_relays: Vec<Tor1RelayCrypto> = Vec::new();
        for k in &kc {
            client.push(OriginLayer::tor1(k));
            client_relays.push(RelayCrypto::new(k));
        }
        for k in &ks {
            service.push(OriginLayer::tor1(k));
            service_relays.push(RelayCrypto::new(k));
        }
        client.push(OriginLayer::hs(&hs_km, HsRole::Client));
        service.push(OriginLayer::hs(&hs_km, HsRole::Service));

        let mut rng = StdRng::seed_from_u64(7);
        for i in 0..200 {
            let mut data = [0u8; BODY_LEN];
            rng.fill_bytes(&mut data);
            let plain = plain_from(&data);
            let mut body = plain;
            let from_client = rng.gen_bool(0.5);
            let (sender, receiver, out_path, in_path) = if from_client {
                (
                    &mut client,
                    &mut service,
                    &mut client_relays,
                    &mut service_relays,
                )
            } else {
                (
                    &mut service,
                    &mut client,
                    &mut service_relays,
                    &mut client_relays,
                )
            };
            let tag = sender.encrypt_forward(&mut body, 3).unwrap();
            for relay in out_path.iter_mut() {
                assert!(relay.decrypt_forward(&mut body).is_none(), "cell {i}");
            }
            for relay in in_path.iter_mut().rev() {
                relay.encrypt_backward(&mut body);
            }
            let rec = receiver.decrypt_backward(&mut body).unwrap();
            assert_eq!(rec, Recognized { hop: 3, tag }, "cell {i}");
            assert_eq!(body[9..], plain[9..]);
        }
    }

    #[test]
    fn no_such_hop() {
        let mut o = OriginCrypto::new();
        let mut body = [0u8; BODY_LEN];
        assert_eq!(
            o.encrypt_forward(&mut body, 0),
            Err(Tor1Error::NoSuchHop { hop: 0, n_hops: 0 })
        );
        o.push(OriginLayer::tor1(&[1; TOR1_KEY_MATERIAL_LEN]));
        assert_eq!(o.n_hops(), 1);
        assert!(o.encrypt_forward(&mut body, 0).is_ok());
        assert_eq!(
            o.encrypt_forward(&mut body, 1),
            Err(Tor1Error::NoSuchHop { hop: 1, n_hops: 1 })
        );
        assert_eq!(
            o.decrypt_backward(&mut [0u8; BODY_LEN]),
            Err(Tor1Error::Unrecognized)
        );
    }
}
