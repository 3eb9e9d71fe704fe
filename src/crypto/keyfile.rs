//! C tor's binary key-file format: a 32-byte header `"== <type>: <tag> =="` padded with NUL
//! bytes, then the key material (C tor `crypto_write_tagged_contents_to_file`,
//! `crypto_read_tagged_contents_from_file`).
//!
//! Used for relay keys (`ed25519_master_id_*`, `ed25519_signing_*`, `secret_onion_key_ntor`)
//! and onion-service keys (`hs_ed25519_*`, see [`crate::hs::keyfile`]), so that an operator
//! who knows C tor recognises them. Encoding and decoding only; files are `rt::keystore`.

/// Length of the header.
pub const HEADER_LEN: usize = 32;

/// A key-file kind: the header's type and tag, and the body length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyFileKind {
    /// The type string, e.g. `ed25519v1-secret`.
    pub type_str: &'static str,
    /// The tag, e.g. `type0`.
    pub tag: &'static str,
    /// The body length in bytes.
    pub body_len: usize,
}

/// Ed25519 identity secret key (relay master identity, onion-service identity): the 64-byte
/// expanded key `(a, RH)`.
pub const ED25519_SECRET_TYPE0: KeyFileKind = KeyFileKind {
    type_str: "ed25519v1-secret",
    tag: "type0",
    body_len: 64,
};
/// Ed25519 medium-term signing secret key: the 64-byte expanded key.
pub const ED25519_SECRET_TYPE4: KeyFileKind = KeyFileKind {
    type_str: "ed25519v1-secret",
    tag: "type4",
    body_len: 64,
};
/// Ed25519 public key: 32 bytes.
pub const ED25519_PUBLIC_TYPE0: KeyFileKind = KeyFileKind {
    type_str: "ed25519v1-public",
    tag: "type0",
    body_len: 32,
};
/// A curve25519 onion key: 32-byte secret then 32-byte public.
pub const CURVE25519_ONION: KeyFileKind = KeyFileKind {
    type_str: "c25519v1",
    tag: "onion",
    body_len: 64,
};
/// The type and tag of the signing key's certificate file (cert-spec type 04); its body
/// length varies with the extensions, so it is decoded with [`decode_any_len`].
pub const ED25519_CERT_TYPE4: KeyFileKind = KeyFileKind {
    type_str: "ed25519v1-cert",
    tag: "type4",
    body_len: 0,
};

/// A key file did not have the expected form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyFileError {
    /// The header is not `"== <type>: <tag> =="` followed by NULs.
    #[error("malformed key file header")]
    BadHeader,
    /// The header names another key type.
    #[error("key file has the wrong type")]
    WrongType,
    /// The header's tag is not the one expected.
    #[error("key file has an unexpected tag")]
    WrongTag,
    /// The body is not the key length.
    #[error("key file body is {0} bytes, expected {1}")]
    BadLength(usize, usize),
}

/// Encodes a key file of `kind` around `body` (the caller supplies a body of the right length).
pub fn encode(kind: KeyFileKind, body: &[u8]) -> Vec<u8> {
    let text = format!("== {}: {} ==", kind.type_str, kind.tag);
    let mut out = vec![0u8; HEADER_LEN];
    for (d, s) in out.iter_mut().zip(text.bytes().take(HEADER_LEN - 1)) {
        *d = s;
    }
    out.extend_from_slice(body);
    out
}

/// Decodes a key file of `kind`, checking type, tag and body length.
pub fn decode(kind: KeyFileKind, file: &[u8]) -> Result<&[u8], KeyFileError> {
    let body = decode_any_len(kind, file)?;
    if body.len() != kind.body_len {
        return Err(KeyFileError::BadLength(body.len(), kind.body_len));
    }
    Ok(body)
}

/// Decodes a key file of `kind` whose body length is not fixed (a certificate).
pub fn decode_any_len(kind: KeyFileKind, file: &[u8]) -> Result<&[u8], KeyFileError> {
    let (head, body) = file
        .split_at_checked(HEADER_LEN)
        .ok_or(KeyFileError::BadHeader)?;
    let text_len = head.iter().position(|&b| b == 0).unwrap_or(HEADER_LEN);
    let (text, pad) = head.split_at(text_len);
    if pad.iter().any(|&b| b != 0) {
        return Err(KeyFileError::BadHeader);
    }
    let text = std::str::from_utf8(text).map_err(|_| KeyFileError::BadHeader)?;
    let (ty, tag) = text
        .strip_prefix("== ")
        .and_then(|t| t.strip_suffix(" =="))
        .and_then(|t| t.split_once(": "))
        .ok_or(KeyFileError::BadHeader)?;
    if ty != kind.type_str {
        return Err(KeyFileError::WrongType);
    }
    if tag != kind.tag {
        return Err(KeyFileError::WrongTag);
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
        assert_eq!(decode(CURVE25519_ONION, &f).unwrap(), &[7u8; 64]);
        assert_eq!(
            decode(ED25519_SECRET_TYPE0, &f),
            Err(KeyFileError::WrongType)
        );
        assert_eq!(
            decode(CURVE25519_ONION, &f[..90]),
            Err(KeyFileError::BadLength(58, 64))
        );
        assert_eq!(
            decode(CURVE25519_ONION, b"short"),
            Err(KeyFileError::BadHeader)
        );
        // Garbage after the header text inside the 32 bytes is refused.
        let mut g = f.clone();
        g[30] = b'x';
        assert_eq!(decode(CURVE25519_ONION, &g), Err(KeyFileError::BadHeader));
        let s4 = encode(ED25519_SECRET_TYPE4, &[1u8; 64]);
        assert_eq!(
            decode(ED25519_SECRET_TYPE0, &s4),
            Err(KeyFileError::WrongTag)
        );
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

    #[test]
    fn certificate_files_have_any_length() {
        let f = encode(ED25519_CERT_TYPE4, &[9u8; 140]);
        assert_eq!(decode_any_len(ED25519_CERT_TYPE4, &f).unwrap().len(), 140);
    }
}
