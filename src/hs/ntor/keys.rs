//! The key material hs-ntor produces: `ENC_KEY`/`MAC_KEY`, `NTOR_KEY_SEED`, and the
//! end-to-end keys `Df | Db | Kf | Kb` (rend-spec-v3 §3.3.2, §4.2.1). All zeroize on drop
//! and print nothing secret through `Debug`.

use sha3::digest::{ExtendableOutput, Update, XofReader};
use sha3::Shake256;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::M_HSEXPAND;

/// `ENC_KEY` and `MAC_KEY`, the introduction keys.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct IntroKeys {
    pub(super) enc_key: [u8; 32],
    pub(super) mac_key: [u8; 32],
}

impl IntroKeys {
    /// `ENC_KEY` (AES-256-CTR key of the INTRODUCE plaintext).
    pub fn enc_key(&self) -> &[u8; 32] {
        &self.enc_key
    }
    /// `MAC_KEY` (key of the INTRODUCE MAC).
    pub fn mac_key(&self) -> &[u8; 32] {
        &self.mac_key
    }
}

impl std::fmt::Debug for IntroKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IntroKeys(..)")
    }
}

/// `NTOR_KEY_SEED`, the secret both sides end with.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct NtorKeySeed(pub(super) [u8; 32]);

impl NtorKeySeed {
    /// The raw seed (for test vectors and key logging in tests only).
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// `SHAKE-256(NTOR_KEY_SEED | m_hsexpand)` squeezed to 128 bytes: `Df | Db | Kf | Kb`.
    pub fn expand(&self) -> E2eKeys {
        let mut buf = Zeroizing::new([0u8; 128]);
        shake(&[&self.0, M_HSEXPAND], buf.as_mut());
        let part = |i: usize| {
            let mut k = [0u8; 32];
            k.copy_from_slice(&buf[i * 32..(i + 1) * 32]);
            k
        };
        E2eKeys {
            df: part(0),
            db: part(1),
            kf: part(2),
            kb: part(3),
        }
    }
}

impl std::fmt::Debug for NtorKeySeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NtorKeySeed(..)")
    }
}

/// The end-to-end key material, in the client's orientation.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct E2eKeys {
    /// Forward (client → service) digest seed.
    pub df: [u8; 32],
    /// Backward (service → client) digest seed.
    pub db: [u8; 32],
    /// Forward AES-256 key.
    pub kf: [u8; 32],
    /// Backward AES-256 key.
    pub kb: [u8; 32],
}

impl E2eKeys {
    /// The keys in the service's orientation: forward and backward swapped (rend-spec-v3
    /// §4.2.1: "Bob's OP does the same, with Kf and Kb interchanged").
    pub fn swapped(&self) -> E2eKeys {
        E2eKeys {
            df: self.db,
            db: self.df,
            kf: self.kb,
            kb: self.kf,
        }
    }

    /// The 128 bytes `Df | Db | Kf | Kb`.
    pub fn to_bytes(&self) -> Zeroizing<[u8; 128]> {
        let mut out = Zeroizing::new([0u8; 128]);
        for (i, k) in [&self.df, &self.db, &self.kf, &self.kb].iter().enumerate() {
            out[i * 32..(i + 1) * 32].copy_from_slice(&k[..]);
        }
        out
    }
}

impl std::fmt::Debug for E2eKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("E2eKeys(..)")
    }
}

pub(super) fn shake(parts: &[&[u8]], out: &mut [u8]) {
    let mut h = Shake256::default();
    for p in parts {
        h.update(p);
    }
    h.finalize_xof().read(out);
}
