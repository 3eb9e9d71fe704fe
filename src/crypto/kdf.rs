//! Key derivation for circuit handshakes: KDF-TOR (tor-spec §5.2.1), HKDF-SHA256
//! (KDF-RFC5869, tor-spec §5.2.2) and the SHAKE-256 keystream of ntor-v3 (proposal 332
//! §A.1), plus the two result types the handshakes hand to the rest of the crate:
//!
//! - [`KeyGenerator`]: what a finished handshake yields; it expands to any length in the
//!   handshake's own key-stream order;
//! - [`RelayKeys`]: the tor1 relay-crypto keys **normalised** to `Df|Db|Kf|Kb` (72 bytes)
//!   with `KH` (20 bytes) kept apart. CREATE_FAST's KDF-TOR stream is `KH|Df|Db|Kf|Kb`
//!   while ntor and ntor-v3 produce `Df|Db|Kf|Kb|KH` (tor-spec §5.2, proposal 332 §A.2);
//!   [`KeyGenerator::into_relay_keys`] hides the difference.
//!
//! Deliberately not here: the handshakes themselves (see [`super::ntor`],
//! [`super::ntor_v3`], [`super::fast`]) and the relay-cell ciphers ([`super::tor1`]).

use std::fmt;

use digest::{ExtendableOutput, Update, XofReader};
use sha1::{Digest, Sha1};
use sha2::Sha256;
use zeroize::Zeroizing;

/// Length of the tor1 relay-crypto key material `Df|Db|Kf|Kb` (tor-spec §5.2.2).
pub const TOR1_KEY_LEN: usize = 72;
/// Length of `KH`, the "derivative key data" / onion-service nonce (tor-spec §5.2.2).
pub const KH_LEN: usize = 20;
/// Key material a tor1 handshake derives: `Df|Db|Kf|Kb` plus `KH`.
pub const TOR1_TOTAL_LEN: usize = TOR1_KEY_LEN + KH_LEN;

/// Longest output KDF-TOR can give: its counter is one byte, starting at 0.
pub const KDF_TOR_MAX: usize = 256 * 20;
/// Longest output HKDF-SHA256 can give (RFC 5869 §2.3: 255 blocks).
pub const HKDF_SHA256_MAX: usize = 255 * 32;

/// Why key material could not be derived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KdfError {
    /// More output was asked for than the KDF can produce.
    #[error("requested {requested} bytes of key material; this KDF gives at most {max}")]
    TooLong {
        /// Bytes requested.
        requested: usize,
        /// The KDF's maximum.
        max: usize,
    },
}

/// KDF-TOR (tor-spec §5.2.1): `SHA1(K0|00) | SHA1(K0|01) | …`, truncated to `n` bytes.
///
/// Used only by CREATE_FAST now (TAP is gone). Its first 20 bytes are `KH`.
pub fn kdf_tor(k0: &[u8], n: usize) -> Result<Zeroizing<Vec<u8>>, KdfError> {
    if n > KDF_TOR_MAX {
        return Err(KdfError::TooLong {
            requested: n,
            max: KDF_TOR_MAX,
        });
    }
    let mut out = Zeroizing::new(Vec::with_capacity(n + 20));
    let mut counter: u8 = 0;
    while out.len() < n {
        let mut h = Sha1::new();
        Digest::update(&mut h, k0);
        Digest::update(&mut h, [counter]);
        let block = Zeroizing::new(<[u8; 20]>::from(h.finalize()));
        out.extend_from_slice(&block[..]);
        counter = counter.wrapping_add(1);
    }
    out.truncate(n);
    Ok(out)
}

/// HKDF-SHA256 (RFC 5869 extract-then-expand), as tor-spec §5.2.2 "KDF-RFC5869" uses it:
/// `salt` is `t_key`, `ikm` the handshake's secret input, `info` is `m_expand`.
pub fn hkdf_sha256(
    salt: &[u8],
    ikm: &[u8],
    info: &[u8],
    n: usize,
) -> Result<Zeroizing<Vec<u8>>, KdfError> {
    let hk = hkdf::Hkdf::<Sha256>::new(Some(salt), ikm);
    let mut out = Zeroizing::new(vec![0u8; n]);
    hk.expand(info, &mut out).map_err(|_| KdfError::TooLong {
        requested: n,
        max: HKDF_SHA256_MAX,
    })?;
    Ok(out)
}

/// HKDF-SHA256 expand only, from a pseudorandom key (for ntor, `PRK = KEY_SEED`).
pub fn hkdf_sha256_expand(
    prk: &[u8; 32],
    info: &[u8],
    n: usize,
) -> Result<Zeroizing<Vec<u8>>, KdfError> {
    let too_long = KdfError::TooLong {
        requested: n,
        max: HKDF_SHA256_MAX,
    };
    let hk = hkdf::Hkdf::<Sha256>::from_prk(prk).map_err(|_| too_long)?;
    let mut out = Zeroizing::new(vec![0u8; n]);
    hk.expand(info, &mut out).map_err(|_| too_long)?;
    Ok(out)
}

/// SHAKE-256 of `input`, `n` bytes of output (FIPS 202).
pub fn shake256(input: &[u8], n: usize) -> Zeroizing<Vec<u8>> {
    let mut xof = sha3::Shake256::default();
    xof.update(input);
    let mut out = Zeroizing::new(vec![0u8; n]);
    xof.finalize_xof().read(&mut out);
    out
}

/// How a [`KeyGenerator`] turns its seed into a key stream.
enum Kind {
    /// KDF-TOR of the seed (CREATE_FAST: seed = `X|Y`). Stream starts with `KH`.
    KdfTor,
    /// HKDF-SHA256 expand with PRK = seed and the given info (ntor: `m_expand`).
    HkdfExpand(&'static [u8]),
    /// SHAKE-256 of the seed, dropping the first `skip` bytes (ntor-v3: seed =
    /// `ENCAP(t_final)|key_seed`, skip = the 32-byte server-message key).
    Shake {
        /// Bytes of the XOF output that are not key material.
        skip: usize,
    },
}

/// Where a handshake's `KH` sits in its key stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KhPosition {
    /// `KH|Df|Db|Kf|Kb` (KDF-TOR, CREATE_FAST).
    First,
    /// `Df|Db|Kf|Kb|KH` (ntor, ntor-v3).
    Last,
}

/// The secret a completed circuit handshake leaves behind, ready to expand into keys.
///
/// [`KeyGenerator::expand`] gives the raw key stream in the handshake's own order;
/// [`KeyGenerator::into_relay_keys`] gives tor1 keys in the normalised order. Both consume
/// the generator. The seed is zeroized on drop and never printed.
pub struct KeyGenerator {
    seed: Zeroizing<Vec<u8>>,
    kind: Kind,
}

impl KeyGenerator {
    /// A generator over KDF-TOR of `k0` (CREATE_FAST).
    pub(crate) fn kdf_tor(k0: Zeroizing<Vec<u8>>) -> Self {
        KeyGenerator {
            seed: k0,
            kind: Kind::KdfTor,
        }
    }

    /// A generator over HKDF-SHA256-Expand(PRK = `prk`, info = `info`) (ntor).
    pub(crate) fn hkdf_expand(prk: &[u8; 32], info: &'static [u8]) -> Self {
        KeyGenerator {
            seed: Zeroizing::new(prk.to_vec()),
            kind: Kind::HkdfExpand(info),
        }
    }

    /// A generator over SHAKE-256(`input`) minus its first `skip` bytes (ntor-v3).
    pub(crate) fn shake(input: Zeroizing<Vec<u8>>, skip: usize) -> Self {
        KeyGenerator {
            seed: input,
            kind: Kind::Shake { skip },
        }
    }

    fn kh_position(&self) -> KhPosition {
        match self.kind {
            Kind::KdfTor => KhPosition::First,
            Kind::HkdfExpand(_) | Kind::Shake { .. } => KhPosition::Last,
        }
    }

    fn stream(&self, n: usize) -> Result<Zeroizing<Vec<u8>>, KdfError> {
        match self.kind {
            Kind::KdfTor => kdf_tor(&self.seed, n),
            Kind::HkdfExpand(info) => {
                let prk: [u8; 32] = self.seed.as_slice().try_into().map_err(|_| {
                    // Unreachable: `hkdf_expand` always stores 32 bytes.
                    KdfError::TooLong {
                        requested: n,
                        max: 0,
                    }
                })?;
                let prk = Zeroizing::new(prk);
                hkdf_sha256_expand(&prk, info, n)
            }
            Kind::Shake { skip } => {
                let mut xof = sha3::Shake256::default();
                xof.update(&self.seed);
                let mut reader = xof.finalize_xof();
                let mut discard = Zeroizing::new(vec![0u8; skip]);
                reader.read(&mut discard);
                let mut out = Zeroizing::new(vec![0u8; n]);
                reader.read(&mut out);
                Ok(out)
            }
        }
    }

    /// The first `n` bytes of the key stream, in the handshake's own order (for
    /// CREATE_FAST that is KDF-TOR from counter 0, so `KH` comes first; for ntor and
    /// ntor-v3 the relay keys come first and `KH` follows).
    pub fn expand(self, n: usize) -> Result<Zeroizing<Vec<u8>>, KdfError> {
        self.stream(n)
    }

    /// The tor1 relay-crypto keys `Df|Db|Kf|Kb` and `KH`, whatever the handshake's order.
    pub fn into_relay_keys(self) -> Result<RelayKeys, KdfError> {
        let raw = self.stream(TOR1_TOTAL_LEN)?;
        let (keys, kh) = match self.kh_position() {
            KhPosition::First => (&raw[KH_LEN..], &raw[..KH_LEN]),
            KhPosition::Last => (&raw[..TOR1_KEY_LEN], &raw[TOR1_KEY_LEN..]),
        };
        let mut out = RelayKeys {
            keys: Zeroizing::new([0u8; TOR1_KEY_LEN]),
            kh: Zeroizing::new([0u8; KH_LEN]),
        };
        out.keys.copy_from_slice(keys);
        out.kh.copy_from_slice(kh);
        Ok(out)
    }
}

impl fmt::Debug for KeyGenerator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            Kind::KdfTor => "KDF-TOR",
            Kind::HkdfExpand(_) => "HKDF-SHA256",
            Kind::Shake { .. } => "SHAKE-256",
        };
        write!(f, "KeyGenerator({kind}, <secret>)")
    }
}

/// tor1 relay-crypto key material (tor-spec §5.2.2), normalised.
///
/// [`RelayKeys::tor1`] is `Df[20] | Db[20] | Kf[16] | Kb[16]` in that order whatever
/// handshake produced it; [`RelayKeys::kh`] is `KH`, the nonce that onion-service
/// introduction (ESTABLISH_INTRO's MAC) and rendezvous use. Zeroized on drop.
pub struct RelayKeys {
    keys: Zeroizing<[u8; TOR1_KEY_LEN]>,
    kh: Zeroizing<[u8; KH_LEN]>,
}

impl RelayKeys {
    /// `Df|Db|Kf|Kb`, the input of the tor1 relay-cell crypto.
    pub fn tor1(&self) -> &[u8; TOR1_KEY_LEN] {
        &self.keys
    }

    /// `KH`.
    pub fn kh(&self) -> &[u8; KH_LEN] {
        &self.kh
    }

    /// Forward digest seed `Df`.
    pub fn df(&self) -> &[u8] {
        &self.keys[0..20]
    }

    /// Backward digest seed `Db`.
    pub fn db(&self) -> &[u8] {
        &self.keys[20..40]
    }

    /// Forward AES-128 key `Kf`.
    pub fn kf(&self) -> &[u8] {
        &self.keys[40..56]
    }

    /// Backward AES-128 key `Kb`.
    pub fn kb(&self) -> &[u8] {
        &self.keys[56..72]
    }
}

impl fmt::Debug for RelayKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RelayKeys(<secret>)")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn kdf_tor_is_sha1_counter() {
        let k0 = b"seed";
        let out = kdf_tor(k0, 45).unwrap();
        let mut expect = Vec::new();
        for i in 0u8..3 {
            let mut h = Sha1::new();
            Digest::update(&mut h, k0);
            Digest::update(&mut h, [i]);
            expect.extend_from_slice(&h.finalize());
        }
        assert_eq!(&out[..], &expect[..45]);
        assert!(kdf_tor(k0, KDF_TOR_MAX).is_ok());
        assert_eq!(
            kdf_tor(k0, KDF_TOR_MAX + 1).unwrap_err(),
            KdfError::TooLong {
                requested: KDF_TOR_MAX + 1,
                max: KDF_TOR_MAX
            }
        );
    }

    #[test]
    fn hkdf_expand_matches_full_hkdf() {
        let salt = b"salt";
        let ikm = b"input keying material";
        let full = hkdf_sha256(salt, ikm, b"info", 100).unwrap();
        let (prk, _) = hkdf::Hkdf::<Sha256>::extract(Some(salt), ikm);
        let prk: [u8; 32] = prk.into();
        let exp = hkdf_sha256_expand(&prk, b"info", 100).unwrap();
        assert_eq!(&full[..], &exp[..]);
        assert!(hkdf_sha256(salt, ikm, b"", HKDF_SHA256_MAX + 1).is_err());
    }

    #[test]
    fn relay_keys_are_normalised() {
        let k0 = Zeroizing::new(b"X and Y".to_vec());
        let raw = kdf_tor(&k0, 92).unwrap();
        let keys = KeyGenerator::kdf_tor(k0).into_relay_keys().unwrap();
        assert_eq!(&keys.kh()[..], &raw[..20]);
        assert_eq!(&keys.tor1()[..], &raw[20..92]);
        assert_eq!(keys.df(), &raw[20..40]);
        assert_eq!(keys.kb(), &raw[76..92]);

        let prk = [7u8; 32];
        let raw = hkdf_sha256_expand(&prk, b"m", 92).unwrap();
        let keys = KeyGenerator::hkdf_expand(&prk, b"m")
            .into_relay_keys()
            .unwrap();
        assert_eq!(&keys.tor1()[..], &raw[..72]);
        assert_eq!(&keys.kh()[..], &raw[72..]);

        let seed = Zeroizing::new(b"shake seed".to_vec());
        let raw = shake256(&seed, 32 + 92);
        let keys = KeyGenerator::shake(seed.clone(), 32)
            .into_relay_keys()
            .unwrap();
        assert_eq!(&keys.tor1()[..], &raw[32..104]);
        assert_eq!(&keys.kh()[..], &raw[104..]);
        assert_eq!(
            &KeyGenerator::shake(seed, 32).expand(10).unwrap()[..],
            &raw[32..42]
        );
    }

    #[test]
    fn debug_hides_secrets() {
        let g = KeyGenerator::hkdf_expand(&[0xab; 32], b"m");
        assert!(!format!("{g:?}").contains("ab"));
        let k = g.into_relay_keys().unwrap();
        assert_eq!(format!("{k:?}"), "RelayKeys(<secret>)");
    }
}
