//! "tor1" relay-cell encryption (tor-spec §6.1 "Relay cells", §5.2 key order; C tor
//! `relay_crypto.c`), and its onion-service variant (rend-spec-v3 §4.2.1 "Key expansion").
//!
//! Each hop shares with the circuit's origin two AES-CTR streams (Kf forward, away from the
//! origin; Kb backward) with zero IVs whose keystreams run on across cells, and two running
//! digests seeded with Df and Db. A cell is *originated* at an endpoint by zeroing its
//! `recognized` and `digest` fields, absorbing all 509 body bytes into the running digest,
//! writing the first 4 output bytes into the digest field and encrypting. A hop *recognises*
//! a cell after decrypting one layer if `recognized` is zero and a tentative digest (over
//! the body with the digest field zeroed, absorbed into a copy of the running state) matches;
//! only then is the new state kept.
//!
//! The algorithm is generic over a [`Suite`] (cipher, digest):
//! - [`Tor1`]: AES-128-CTR and SHA-1, keyed from 72 bytes `Df[20] | Db[20] | Kf[16] | Kb[16]`;
//! - [`HsV3`]: AES-256-CTR and SHA3-256, keyed from 128 bytes `Df | Db | Kf | Kb` (32 each).
//!
//! Roles:
//! - [`RelayCrypto`]: a relay's state for one circuit (decrypt forward cells and test them,
//!   originate backward cells, add a layer to backward cells being relayed);
//! - [`OriginHop`] / [`OriginCrypto`]: the origin's view of one hop / of the whole path
//!   (tor1 hops and, on rendezvous circuits, the onion-service virtual hop as last hop). The
//!   onion service builds its virtual hop with [`HsRole::Service`], which swaps the
//!   directions as C tor's `reverse` flag does: it sends with Kb/Db and receives with Kf/Df.
//!   (rend-spec-v3 §4.2.1 only says "Kf and Kb interchanged"; C tor's `relay_crypto_init`
//!   and Arti's responder swap the digests too, and the stored Arti vector confirms it.)
//!
//! Every operation works in place on a `&mut [u8; 509]` body and allocates nothing. The
//! SENDME v1 tag of each originated or recognised cell is returned
//! ([`super::sendme::SendmeTag`]).
//!
//! Secrets: AES key schedules and counter-mode buffers are zeroized on drop by the `aes`/`ctr`
//! crates (their `zeroize` features); running digest states are overwritten with a fresh
//! state on drop (best effort: moves may leave copies). Key material passed in by reference
//! stays the caller's to wipe. `Debug` never shows secrets.
//!
//! Deliberately not here: relay cell format v1 and CGO (proposal 359; we never negotiate
//! it), relay message parsing ([`crate::relaycell`]), key derivation ([`super::kdf`]) and the
//! CREATE_FAST key-order normalisation (done by the handshake).

use std::fmt;

use cipher::{KeyIvInit, StreamCipher};
use digest::{Digest, FixedOutputReset};

use super::ll::{ct_eq, Aes128Ctr, Aes256Ctr};
use super::sendme::SendmeTag;

mod origin;
pub use origin::{HsRole, OriginCrypto, OriginHop, OriginLayer, Recognized};

/// Length of a relay cell body (the payload of a RELAY or RELAY_EARLY cell).
pub const BODY_LEN: usize = 509;
/// A relay cell body, encrypted or not.
pub type RelayCellBody = [u8; BODY_LEN];

/// Offset of the 2-byte `recognized` field in a relay cell body (tor-spec §6.1).
const RECOGNIZED_AT: usize = 1;
/// Offset of the 4-byte `digest` field in a relay cell body (tor-spec §6.1).
const DIGEST_AT: usize = 5;
/// Length of the `digest` field.
const DIGEST_FIELD_LEN: usize = 4;

/// Length of tor1 key material: `Df[20] | Db[20] | Kf[16] | Kb[16]` (tor-spec §5.2.1, §5.2.2).
pub const TOR1_KEY_MATERIAL_LEN: usize = 72;
/// Length of onion-service virtual-hop key material: `Df | Db | Kf | Kb`, 32 bytes each
/// (rend-spec-v3 §4.2.1, `HS_NTOR_KEY_EXPANSION_KDF_OUT_LEN`).
pub const HS_KEY_MATERIAL_LEN: usize = 128;

/// A relay-cell crypto operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Tor1Error {
    /// Internal: a cell was addressed to a hop the circuit does not have.
    #[error("no hop {hop} on a circuit of {n_hops} hops")]
    NoSuchHop {
        /// The requested hop (0 = nearest).
        hop: usize,
        /// Hops on the circuit.
        n_hops: usize,
    },
    /// Protocol violation: an incoming cell was recognised by no hop.
    #[error("relay cell recognised by no hop")]
    Unrecognized,
}

mod sealed {
    /// Only this module defines suites.
    pub trait Sealed {}
}

/// A (cipher, digest) pair instantiating the tor1 algorithm.
pub trait Suite: sealed::Sealed + 'static {
    /// The stream cipher keyed with Kf / Kb (zero IV).
    type Cipher: StreamCipher + KeyIvInit;
    /// The running digest seeded with Df / Db.
    type Digest: Digest + FixedOutputReset + Clone;
    /// The key material, `Df | Db | Kf | Kb` as a fixed-size array.
    type KeyMaterial: AsRef<[u8]>;
    /// The suite's name, for `Debug`.
    const NAME: &'static str;
}

/// Tor's relay crypto on ordinary hops: AES-128-CTR and SHA-1.
#[derive(Debug, Clone, Copy)]
pub enum Tor1 {}
impl sealed::Sealed for Tor1 {}
impl Suite for Tor1 {
    type Cipher = Aes128Ctr;
    type Digest = sha1::Sha1;
    type KeyMaterial = [u8; TOR1_KEY_MATERIAL_LEN];
    const NAME: &'static str = "tor1";
}

/// The onion-service virtual hop: AES-256-CTR and SHA3-256 (rend-spec-v3 §4.2.1).
#[derive(Debug, Clone, Copy)]
pub enum HsV3 {}
impl sealed::Sealed for HsV3 {}
impl Suite for HsV3 {
    type Cipher = Aes256Ctr;
    type Digest = sha3::Sha3_256;
    type KeyMaterial = [u8; HS_KEY_MATERIAL_LEN];
    const NAME: &'static str = "tor1-hsv3";
}

/// A running digest that is overwritten with a fresh state when dropped.
#[derive(Clone)]
struct RunningDigest<D: Digest + FixedOutputReset + Clone>(D);

impl<D: Digest + FixedOutputReset + Clone> Drop for RunningDigest<D> {
    fn drop(&mut self) {
        // A fresh value has the initial state and an all-zero block buffer; assigning it
        // overwrites the whole old state (`Digest::reset` would only rewind the buffer
        // position, leaving buffered bytes such as Df in place). black_box keeps the store
        // from being optimised away.
        self.0 = D::new();
        std::hint::black_box(&mut self.0);
    }
}

/// One direction of one hop: a keystream and a running digest.
pub(crate) struct DirState<S: Suite> {
    /// AES-CTR keyed with Kf or Kb; the counter runs on across cells.
    cipher: S::Cipher,
    /// Running digest seeded with Df or Db.
    digest: RunningDigest<S::Digest>,
}

impl<S: Suite> DirState<S> {
    /// Keys one direction from its digest seed and cipher key.
    fn new(digest_seed: &[u8], key: &[u8]) -> Self {
        let mut digest = S::Digest::new();
        Digest::update(&mut digest, digest_seed);
        let iv = cipher::Iv::<S::Cipher>::default();
        let cipher = S::Cipher::new(cipher::Key::<S::Cipher>::from_slice(key), &iv);
        DirState {
            cipher,
            digest: RunningDigest(digest),
        }
    }

    /// Applies one layer of this direction's keystream (encryption and decryption are the
    /// same operation in counter mode).
    #[inline]
    pub(crate) fn crypt(&mut self, body: &mut RelayCellBody) {
        self.cipher.apply_keystream(body);
    }

    /// Originates a cell: zeroes `recognized` and `digest`, absorbs the body, sets the
    /// digest field, encrypts one layer. Returns the SENDME tag.
    pub(crate) fn originate(&mut self, body: &mut RelayCellBody) -> SendmeTag {
        body[RECOGNIZED_AT..RECOGNIZED_AT + 2].fill(0);
        body[DIGEST_AT..DIGEST_AT + DIGEST_FIELD_LEN].fill(0);
        Digest::update(&mut self.digest.0, &body[..]);
        let mut snapshot = RunningDigest(self.digest.0.clone());
        let out = Digest::finalize_reset(&mut snapshot.0);
        body[DIGEST_AT..DIGEST_AT + DIGEST_FIELD_LEN].copy_from_slice(&out[..DIGEST_FIELD_LEN]);
        let tag = tag_of(&out);
        self.crypt(body);
        tag
    }

    /// Decrypts one layer and tests whether the cell is for this hop. On a match the
    /// running digest advances and the SENDME tag is returned; otherwise nothing but the
    /// keystream position changes.
    #[inline]
    pub(crate) fn decrypt_and_recognize(&mut self, body: &mut RelayCellBody) -> Option<SendmeTag> {
        self.crypt(body);
        // Cheap test first: a cell not for us has recognized != 0 with probability
        // 1 - 2^-16, and then no digest work is done.
        if body[RECOGNIZED_AT] | body[RECOGNIZED_AT + 1] != 0 {
            return None;
        }
        self.check_digest(body)
    }

    /// The tentative-digest check of a cell whose `recognized` field is zero.
    fn check_digest(&mut self, body: &RelayCellBody) -> Option<SendmeTag> {
        let mut tentative = RunningDigest(self.digest.0.clone());
        Digest::update(&mut tentative.0, &body[..DIGEST_AT]);
        Digest::update(&mut tentative.0, [0u8; DIGEST_FIELD_LEN]);
        Digest::update(&mut tentative.0, &body[DIGEST_AT + DIGEST_FIELD_LEN..]);
        let mut snapshot = RunningDigest(tentative.0.clone());
        let out = Digest::finalize_reset(&mut snapshot.0);
        let received = &body[DIGEST_AT..DIGEST_AT + DIGEST_FIELD_LEN];
        if ct_eq(received, &out[..DIGEST_FIELD_LEN]) {
            std::mem::swap(&mut self.digest, &mut tentative);
            Some(tag_of(&out))
        } else {
            None
        }
    }
}

/// The SENDME v1 tag: the first 20 bytes of the digest output.
fn tag_of(out: &[u8]) -> SendmeTag {
    // Both suites' digests are at least 20 bytes long (checked by a unit test).
    SendmeTag::from_digest_prefix(out).unwrap_or(SendmeTag::new([0; 20]))
}

impl<S: Suite> fmt::Debug for DirState<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DirState<{}>(..)", S::NAME)
    }
}

/// Splits `Df | Db | Kf | Kb` into the forward and backward directions.
fn key_pair<S: Suite>(km: &S::KeyMaterial) -> (DirState<S>, DirState<S>) {
    let km = km.as_ref();
    let dlen = <S::Digest as Digest>::output_size();
    let klen = <S::Cipher as cipher::KeySizeUser>::key_size();
    let (df, rest) = km.split_at(dlen);
    let (db, rest) = rest.split_at(dlen);
    let (kf, kb) = rest.split_at(klen);
    (DirState::new(df, kf), DirState::new(db, kb))
}

/// A relay's crypto state for one circuit (it is a hop in the middle or at the end).
///
/// Forward cells come from the origin and are decrypted with Kf and tested with Df;
/// backward cells go towards the origin and are encrypted with Kb (and, when this relay
/// originates them, digested with Db).
pub struct RelayCrypto<S: Suite> {
    /// Kf / Df.
    fwd: DirState<S>,
    /// Kb / Db.
    back: DirState<S>,
}

/// A relay's state on an ordinary circuit.
pub type Tor1RelayCrypto = RelayCrypto<Tor1>;

impl<S: Suite> RelayCrypto<S> {
    /// Keys the circuit from `Df | Db | Kf | Kb`.
    pub fn new(key_material: &S::KeyMaterial) -> Self {
        let (fwd, back) = key_pair::<S>(key_material);
        RelayCrypto { fwd, back }
    }

    /// Removes our layer from a forward cell and tests whether it is for us. `Some(tag)`:
    /// the cell is ours (plaintext in `body`); `None`: forward `body` to the next hop.
    #[inline]
    pub fn decrypt_forward(&mut self, body: &mut RelayCellBody) -> Option<SendmeTag> {
        self.fwd.decrypt_and_recognize(body)
    }

    /// Originates a backward cell from a plaintext body: sets `recognized` and `digest`,
    /// encrypts with Kb. Returns the SENDME tag.
    pub fn originate_backward(&mut self, body: &mut RelayCellBody) -> SendmeTag {
        self.back.originate(body)
    }

    /// Adds our layer to a backward cell that we relay towards the origin.
    #[inline]
    pub fn encrypt_backward(&mut self, body: &mut RelayCellBody) {
        self.back.crypt(body);
    }
}

impl<S: Suite> fmt::Debug for RelayCrypto<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RelayCrypto<{}>(..)", S::NAME)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn suite_sizes_match_key_material() {
        fn check<S: Suite>(len: usize) {
            let d = <S::Digest as Digest>::output_size();
            let k = <S::Cipher as cipher::KeySizeUser>::key_size();
            assert_eq!(2 * d + 2 * k, len);
            assert!(d >= 20);
        }
        check::<Tor1>(TOR1_KEY_MATERIAL_LEN);
        check::<HsV3>(HS_KEY_MATERIAL_LEN);
    }

    fn body(seed: u8) -> RelayCellBody {
        let mut b = [0u8; BODY_LEN];
        for (i, x) in b.iter_mut().enumerate() {
            *x = (i as u8).wrapping_mul(31).wrapping_add(seed);
        }
        b
    }

    fn one_hop<S: Suite>(km: &S::KeyMaterial) {
        let mut origin = OriginHop::<S>::new(km);
        let mut relay = RelayCrypto::<S>::new(km);
        for n in 0..20u8 {
            let plain = body(n);
            let mut c = plain;
            let t1 = origin.originate_forward(&mut c);
            let t2 = relay.decrypt_forward(&mut c).expect("recognised");
            assert_eq!(t1, t2);
            assert_eq!(c[9..], plain[9..]);
            assert_eq!(c[0], plain[0]);

            let mut c = plain;
            let t1 = relay.originate_backward(&mut c);
            let t2 = origin.decrypt_backward(&mut c).expect("recognised");
            assert_eq!(t1, t2);
            assert_eq!(c[9..], plain[9..]);
        }
    }

    #[test]
    fn one_hop_both_suites() {
        one_hop::<Tor1>(&[0x11; TOR1_KEY_MATERIAL_LEN]);
        let mut km = [0u8; HS_KEY_MATERIAL_LEN];
        km.iter_mut().enumerate().for_each(|(i, x)| *x = i as u8);
        one_hop::<HsV3>(&km);
    }

    #[test]
    fn failed_check_changes_no_digest_state() {
        let km = [0x42; TOR1_KEY_MATERIAL_LEN];
        for tamper_at in [DIGEST_AT, 0, 11, 300, BODY_LEN - 1] {
            let mut origin = OriginHop::<Tor1>::new(&km);
            let mut relay = RelayCrypto::<Tor1>::new(&km);
            // recognized stays zero, so the full digest check runs and must fail.
            let mut c = body(1);
            origin.originate_forward(&mut c);
            c[tamper_at] ^= 0x80; // a ciphertext bit flip is a plaintext bit flip in CTR
            let before = relay.fwd.digest.0.clone().finalize();
            assert_eq!(
                relay.decrypt_forward(&mut c),
                None,
                "tampered at {tamper_at}"
            );
            assert_eq!(relay.fwd.digest.0.clone().finalize(), before);
        }
    }

    #[test]
    fn debug_hides_keys() {
        let r = Tor1RelayCrypto::new(&[0xAB; TOR1_KEY_MATERIAL_LEN]);
        let s = format!("{r:?}");
        assert!(!s.to_lowercase().contains("ab"), "{s}");
    }
}
