//! The onion-service MAC (rend-spec-v3 §0.3): `MAC(k, m) = SHA3-256(u64be(len k) | k | m)`,
//! C tor's `crypto_mac_sha3_256`.
//!
//! It is used by hs-ntor, the INTRODUCE1 MAC, ESTABLISH_INTRO's HANDSHAKE_AUTH and the
//! descriptor encryption layers. Deliberately not here: anything protocol-specific.

use sha3::{Digest, Sha3_256};

/// Length of an onion-service MAC.
pub const HS_MAC_LEN: usize = 32;

/// `MAC(key, msg)`.
pub fn hs_mac(key: &[u8], msg: &[u8]) -> [u8; HS_MAC_LEN] {
    hs_mac_parts(key, &[msg])
}

/// `MAC(key, msg_parts[0] | msg_parts[1] | …)`, without concatenating the parts.
pub fn hs_mac_parts(key: &[u8], msg_parts: &[&[u8]]) -> [u8; HS_MAC_LEN] {
    let mut h = Sha3_256::new();
    h.update((key.len() as u64).to_be_bytes());
    h.update(key);
    for part in msg_parts {
        h.update(part);
    }
    h.finalize().into()
}

/// Checks `tag == MAC(key, msg)` in constant time.
pub fn hs_mac_verify(key: &[u8], msg_parts: &[&[u8]], tag: &[u8]) -> bool {
    crate::crypto::ll::ct_eq(&hs_mac_parts(key, msg_parts), tag)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn definition() {
        assert_eq!(
            hs_mac(b"", b""),
            <[u8; 32]>::from(Sha3_256::digest([0u8; 8]))
        );
        assert_eq!(
            hs_mac(b"hello", b"world"),
            <[u8; 32]>::from(Sha3_256::digest(b"\0\0\0\0\0\0\0\x05helloworld"))
        );
        assert_eq!(hs_mac_parts(b"k", &[b"ab", b"c"]), hs_mac(b"k", b"abc"));
        let tag = hs_mac(b"k", b"m");
        assert!(hs_mac_verify(b"k", &[b"m"], &tag));
        assert!(!hs_mac_verify(b"k", &[b"n"], &tag));
        assert!(!hs_mac_verify(b"k", &[b"m"], &tag[..31]));
    }
}
