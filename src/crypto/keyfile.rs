//! C tor's binary key-file format: a 32-byte tag (`"== <type>: <subtype> =="` padded with NUL
//! bytes) followed by the key material. C tor `src/lib/crypt_ops/crypto_format.c`
//! (`crypto_write_tagged_contents_to_file`).
//!
//! Used for relay keys (`ed25519_master_id_*`, `ed25519_signing_*`, `secret_onion_key_ntor`)
//! and onion-service keys (`hs_ed25519_*`), so that an operator who knows C tor recognises
//! them. Encoding and decoding only; reading and writing files is `rt::keystore`.

/// Length of the tag header.
pub const TAG_LEN: usize = 32;

/// Ed25519 identity secret key: the 64-byte expanded key `(a, RH)`.
pub const ED25519_SECRET_TYPE0: &str = "== ed25519v1-secret: type0 ==";
/// Ed25519 medium-term signing secret key: the 64-byte expanded key.
pub const ED25519_SECRET_TYPE4: &str = "== ed25519v1-secret: type4 ==";
/// Ed25519 public key: 32 bytes.
pub const ED25519_PUBLIC_TYPE0: &str = "== ed25519v1-public: type0 ==";
/// The signing key's certificate (cert-spec type 04), as encoded.
pub const ED25519_CERT_TYPE4: &str = "== ed25519v1-cert: type4 ==";
/// A curve25519 onion key: 32-byte secret then 32-byte public.
pub const CURVE25519_ONION: &str = "== c25519v1: onion ==";

/// A key file did not have the expected form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyFileError {
    /// The tag is not the one expected.
    #[error("key file has tag {found:?}, expected {expected:?}")]
    WrongTag {
        /// The tag expected.
        expected: &'static str,
        /// The tag found (lossy text, up to the first NUL).
        found: String,
    },
    /// The body has the wrong length.
    #[error("key file body is {found} bytes, expected {expected}")]
    WrongLength {
        /// Expected body length.
        expected: usize,
        /// Actual body length.
        found: usize,
    },
}

/// Encodes a tagged key file. `tag` must be shorter than 32 bytes (all the constants are).
pub fn encode(tag: &str, body: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; TAG_LEN];
    let n = tag.len().min(TAG_LEN - 1);
    out[..n].copy_from_slice(&tag.as_bytes()[..n]);
    out.extend_from_slice(body);
    out
}

/// Decodes a tagged key file whose body must be `body_len` bytes.
pub fn decode<'a>(
    expected: &'static str,
    data: &'a [u8],
    body_len: usize,
) -> Result<&'a [u8], KeyFileError> {
    let (tag, body) = if data.len() >= TAG_LEN {
        data.split_at(TAG_LEN)
    } else {
        (data, &[][..])
    };
    let text_end = tag.iter().position(|&b| b == 0).unwrap_or(tag.len());
    let (text, pad) = tag.split_at(text_end);
    if tag.len() != TAG_LEN || text != expected.as_bytes() || pad.iter().any(|&b| b != 0) {
        return Err(KeyFileError::WrongTag {
            expected,
            found: String::from_utf8_lossy(text).into_owned(),
        });
    }
    if body.len() != body_len {
        return Err(KeyFileError::WrongLength {
            expected: body_len,
            found: body.len(),
        });
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let f = encode(CURVE25519_ONION, &[7u8; 64]);
        assert_eq!(f.len(), 96);
        assert_eq!(&f[..21], b"== c25519v1: onion ==");
        assert!(f[21..32].iter().all(|&b| b == 0));
        assert_eq!(decode(CURVE25519_ONION, &f, 64).unwrap(), &[7u8; 64]);
        assert!(matches!(
            decode(ED25519_SECRET_TYPE0, &f, 64),
            Err(KeyFileError::WrongTag { .. })
        ));
        assert!(matches!(
            decode(CURVE25519_ONION, &f[..90], 64),
            Err(KeyFileError::WrongLength { .. })
        ));
        assert!(decode(CURVE25519_ONION, b"short", 64).is_err());
        // Garbage after the tag text inside the 32 bytes is refused.
        let mut g = f.clone();
        g[30] = b'x';
        assert!(decode(CURVE25519_ONION, &g, 64).is_err());
    }

    #[test]
    fn matches_c_tor_public_key_file() {
        // Header of a C tor 0.4.9.11 `ed25519_master_id_public_key` file (captured on loopback).
        let header = hex::decode(
            "3d3d20656432353531397631\
             2d7075626c69633a20747970\
             6530203d3d000000",
        )
        .unwrap();
        let f = encode(ED25519_PUBLIC_TYPE0, &[1u8; 32]);
        assert_eq!(&f[..32], &header[..]);
    }
}
