//! The ENCRYPTED section of INTRODUCE1 / INTRODUCE2 (rend-spec-v3 §3.2.1 "FMT_INTRO1",
//! §3.3.2; C tor `hs_cell.c`): `CLIENT_PK[32] | ENCRYPTED_DATA | MAC[32]`.
//!
//! - `ENCRYPTED_DATA = AES-256-CTR(ENC_KEY, IV = 0, plaintext)`.
//! - `MAC = MAC(MAC_KEY, header | CLIENT_PK | ENCRYPTED_DATA)`, where `header` is **every
//!   byte of the cell before the ENCRYPTED section**: LEGACY_KEY_ID, AUTH_KEY_TYPE,
//!   AUTH_KEY_LEN, AUTH_KEY, N_EXTENSIONS and the extensions. The spec prose says "from
//!   the AUTH_KEY"; C tor (`compute_introduce_mac`) and the rend-spec-v3 appendix G.1
//!   vector include LEGACY_KEY_ID, and so do we.
//! - C tor pads the plaintext with zeros so that the whole cell is at least 246 bytes
//!   (`HS_CELL_INTRODUCE1_MIN_SIZE`); [`c_tor_padding_len`] gives that count.
//!
//! Deliberately not here: the cell layout itself and the plaintext's fields (they belong
//! to `crate::relaycell`), and the key schedule ([`super::ntor`]).

use cipher::{KeyIvInit, StreamCipher};
use zeroize::Zeroizing;

use super::mac::{hs_mac_parts, hs_mac_verify, HS_MAC_LEN};
use crate::crypto::ll::Aes256Ctr;

/// C tor's minimum INTRODUCE1 body length (`HS_CELL_INTRODUCE1_MIN_SIZE`).
pub const INTRODUCE1_MIN_LEN: usize = 246;
/// Length of `CLIENT_PK`.
pub const CLIENT_PK_LEN: usize = 32;
/// Bytes the ENCRYPTED section adds around the ciphertext (`CLIENT_PK` and `MAC`).
pub const ENCRYPTED_OVERHEAD: usize = CLIENT_PK_LEN + HS_MAC_LEN;

/// Why an ENCRYPTED section was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IntroError {
    /// The section is shorter than `CLIENT_PK` plus `MAC`.
    #[error("INTRODUCE encrypted section too short: {0} bytes")]
    TooShort(usize),
    /// The MAC does not match.
    #[error("INTRODUCE MAC mismatch")]
    BadMac,
}

/// The parts of an ENCRYPTED section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncryptedSection<'a> {
    /// `CLIENT_PK` (X).
    pub client_pk: [u8; CLIENT_PK_LEN],
    /// `ENCRYPTED_DATA`.
    pub ciphertext: &'a [u8],
    /// `MAC`.
    pub mac: [u8; HS_MAC_LEN],
}

impl<'a> EncryptedSection<'a> {
    /// Splits an ENCRYPTED section (everything after the cleartext header).
    pub fn parse(section: &'a [u8]) -> Result<Self, IntroError> {
        let too_short = IntroError::TooShort(section.len());
        let (pk, rest) = section.split_at_checked(CLIENT_PK_LEN).ok_or(too_short)?;
        let ct_len = rest.len().checked_sub(HS_MAC_LEN).ok_or(too_short)?;
        let (ciphertext, mac) = rest.split_at(ct_len);
        Ok(EncryptedSection {
            client_pk: pk.try_into().map_err(|_| too_short)?,
            ciphertext,
            mac: mac.try_into().map_err(|_| too_short)?,
        })
    }

    /// Checks the MAC over `header | CLIENT_PK | ENCRYPTED_DATA` in constant time.
    pub fn verify_mac(&self, mac_key: &[u8; 32], header: &[u8]) -> Result<(), IntroError> {
        let ok = hs_mac_verify(
            mac_key,
            &[header, &self.client_pk, self.ciphertext],
            &self.mac,
        );
        if ok {
            Ok(())
        } else {
            Err(IntroError::BadMac)
        }
    }

    /// Decrypts `ENCRYPTED_DATA` (no MAC check: call [`Self::verify_mac`] first).
    pub fn decrypt(&self, enc_key: &[u8; 32]) -> Zeroizing<Vec<u8>> {
        let mut pt = Zeroizing::new(self.ciphertext.to_vec());
        apply_keystream(enc_key, &mut pt);
        pt
    }
}

/// AES-256-CTR with an all-zero IV, in place (encryption and decryption are the same).
pub fn apply_keystream(enc_key: &[u8; 32], data: &mut [u8]) {
    let iv = [0u8; 16];
    let mut cipher = Aes256Ctr::new(enc_key.into(), &iv.into());
    cipher.apply_keystream(data);
}

/// `MAC(MAC_KEY, header | CLIENT_PK | ENCRYPTED_DATA)`.
pub fn introduce_mac(
    mac_key: &[u8; 32],
    header: &[u8],
    client_pk: &[u8; CLIENT_PK_LEN],
    ciphertext: &[u8],
) -> [u8; HS_MAC_LEN] {
    hs_mac_parts(mac_key, &[header, client_pk, ciphertext])
}

/// Builds the ENCRYPTED section: `CLIENT_PK | AES-256-CTR(plaintext) | MAC`. The caller
/// pads `plaintext` first if it wants C tor's padding ([`c_tor_padding_len`]).
pub fn build_encrypted_section(
    enc_key: &[u8; 32],
    mac_key: &[u8; 32],
    header: &[u8],
    client_pk: &[u8; CLIENT_PK_LEN],
    plaintext: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(plaintext.len() + ENCRYPTED_OVERHEAD);
    out.extend_from_slice(client_pk);
    out.extend_from_slice(plaintext);
    apply_keystream(enc_key, &mut out[CLIENT_PK_LEN..]);
    let mac = introduce_mac(mac_key, header, client_pk, &out[CLIENT_PK_LEN..]);
    out.extend_from_slice(&mac);
    out
}

/// How many zero bytes C tor appends to the plaintext so that `header + CLIENT_PK +
/// ENCRYPTED_DATA + MAC` reaches [`INTRODUCE1_MIN_LEN`] (`introduce1_set_encrypted_padding`).
pub fn c_tor_padding_len(header_len: usize, plaintext_len: usize) -> usize {
    INTRODUCE1_MIN_LEN.saturating_sub(
        header_len
            .saturating_add(plaintext_len)
            .saturating_add(ENCRYPTED_OVERHEAD),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn build_parse_open() {
        let (ek, mk) = ([1u8; 32], [2u8; 32]);
        let header = [9u8; 56];
        let sec = build_encrypted_section(&ek, &mk, &header, &[3; 32], b"hello");
        assert_eq!(sec.len(), 5 + 64);
        let p = EncryptedSection::parse(&sec).unwrap();
        assert_eq!(p.client_pk, [3; 32]);
        assert_eq!(p.verify_mac(&mk, &header), Ok(()));
        assert_eq!(p.verify_mac(&mk, &header[1..]), Err(IntroError::BadMac));
        assert_eq!(p.verify_mac(&ek, &header), Err(IntroError::BadMac));
        assert_eq!(&p.decrypt(&ek)[..], b"hello");
        assert_eq!(
            EncryptedSection::parse(&sec[..63]),
            Err(IntroError::TooShort(63))
        );
        assert!(EncryptedSection::parse(&sec[..64]).is_ok());
        assert_eq!(c_tor_padding_len(56, 100), 246 - 56 - 100 - 64);
        assert_eq!(c_tor_padding_len(56, 500), 0);
        assert_eq!(c_tor_padding_len(usize::MAX, 1), 0);
    }

    mod prop {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn round_trip(ek: [u8; 32], mk: [u8; 32], pk: [u8; 32],
                          header in proptest::collection::vec(any::<u8>(), 0..100),
                          pt in proptest::collection::vec(any::<u8>(), 0..400)) {
                let sec = build_encrypted_section(&ek, &mk, &header, &pk, &pt);
                let p = EncryptedSection::parse(&sec).unwrap();
                prop_assert_eq!(p.client_pk, pk);
                prop_assert_eq!(p.verify_mac(&mk, &header), Ok(()));
                prop_assert_eq!(&p.decrypt(&ek)[..], &pt[..]);
                let padded = header.len() + sec.len() + c_tor_padding_len(header.len(), pt.len());
                prop_assert!(padded >= INTRODUCE1_MIN_LEN);
            }

            #[test]
            fn never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
                if let Ok(p) = EncryptedSection::parse(&data) {
                    prop_assert_eq!(p.ciphertext.len() + ENCRYPTED_OVERHEAD, data.len());
                    let _ = p.verify_mac(&[0; 32], &[]);
                }
            }
        }
    }
}
