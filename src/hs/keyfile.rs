//! The contents of C tor's onion-service key files `hs_ed25519_secret_key` and
//! `hs_ed25519_public_key` (C tor `crypto_write_tagged_contents_to_file`,
//! `ed25519_seckey_read_from_file`): C tor's tagged key-file format
//! ([`crate::crypto::keyfile`]) with these headers:
//!
//! - secret: `"== ed25519v1-secret: type0 =="` + the 64-byte expanded key `a | RH`;
//! - public: `"== ed25519v1-public: type0 =="` + the 32-byte key.
//!
//! Encode and decode only; reading and writing files (and their permissions) is the
//! caller's business. Deliberately not here: the `hostname` file (it is
//! [`HsId`]'s `Display` plus `"\n"`).

use zeroize::Zeroizing;

use super::address::{AddressError, HsId};
use super::blind::IdentitySecretKey;
use crate::crypto::keyfile::{self, ED25519_PUBLIC_TYPE0, ED25519_SECRET_TYPE0};

/// Why a key file's contents were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyFileError {
    /// The header or length is wrong (see [`keyfile::KeyFileError`]).
    #[error("{0}")]
    Format(#[from] keyfile::KeyFileError),
    /// The public key is not a valid onion-service identity.
    #[error("key file holds an invalid key: {0}")]
    BadKey(AddressError),
}

/// `hs_ed25519_secret_key` contents for `key` (96 bytes).
pub fn encode_secret_key(key: &IdentitySecretKey) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(keyfile::encode(
        ED25519_SECRET_TYPE0,
        key.to_expanded_bytes().as_ref(),
    ))
}

/// Parses `hs_ed25519_secret_key` contents.
pub fn decode_secret_key(file: &[u8]) -> Result<IdentitySecretKey, KeyFileError> {
    let body = keyfile::decode(ED25519_SECRET_TYPE0, file)?;
    let mut expanded = Zeroizing::new([0u8; 64]);
    expanded.copy_from_slice(body);
    Ok(IdentitySecretKey::from_expanded_bytes(*expanded))
}

/// `hs_ed25519_public_key` contents for `id` (64 bytes).
pub fn encode_public_key(id: &HsId) -> Vec<u8> {
    keyfile::encode(ED25519_PUBLIC_TYPE0, id.as_bytes())
}

/// Parses `hs_ed25519_public_key` contents, validating the key as an onion address would.
pub fn decode_public_key(file: &[u8]) -> Result<HsId, KeyFileError> {
    let body = keyfile::decode(ED25519_PUBLIC_TYPE0, file)?;
    let mut key = [0u8; 32];
    key.copy_from_slice(body);
    HsId::from_bytes(key).map_err(KeyFileError::BadKey)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let sk = IdentitySecretKey::from_seed(&[3; 32]);
        let file = encode_secret_key(&sk);
        assert_eq!(file.len(), 96);
        assert_eq!(&file[..29], b"== ed25519v1-secret: type0 ==");
        assert_eq!(&file[29..32], &[0, 0, 0]);
        let back = decode_secret_key(&file).unwrap();
        assert_eq!(back.to_expanded_bytes(), sk.to_expanded_bytes());

        let id = sk.public_key().unwrap();
        let pfile = encode_public_key(&id);
        assert_eq!(&pfile[..29], b"== ed25519v1-public: type0 ==");
        assert_eq!(decode_public_key(&pfile), Ok(id));

        assert_eq!(
            decode_public_key(&file).map(|_| ()),
            Err(KeyFileError::Format(keyfile::KeyFileError::WrongType))
        );
        assert_eq!(
            decode_secret_key(&file[..95]).map(|_| ()),
            Err(KeyFileError::Format(keyfile::KeyFileError::BadLength(
                63, 64
            )))
        );
        assert_eq!(
            decode_secret_key(&file[..20]).map(|_| ()),
            Err(KeyFileError::Format(keyfile::KeyFileError::BadHeader))
        );
        let mut other_tag = file.to_vec();
        other_tag[21..26].copy_from_slice(b"type1");
        assert_eq!(
            decode_secret_key(&other_tag).map(|_| ()),
            Err(KeyFileError::Format(keyfile::KeyFileError::WrongTag))
        );
        let mut junk_pad = file.to_vec();
        junk_pad[31] = 1;
        assert_eq!(
            decode_secret_key(&junk_pad).map(|_| ()),
            Err(KeyFileError::Format(keyfile::KeyFileError::BadHeader))
        );
    }

    mod prop {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn round_trip(bytes in proptest::array::uniform32(any::<u8>()), rh in proptest::array::uniform32(any::<u8>())) {
                let mut expanded = [0u8; 64];
                expanded[..32].copy_from_slice(&bytes);
                expanded[32..].copy_from_slice(&rh);
                let sk = IdentitySecretKey::from_expanded_bytes(expanded);
                let back = decode_secret_key(&encode_secret_key(&sk)).unwrap();
                prop_assert_eq!(&back.to_expanded_bytes()[..], &expanded[..]);
                let id = IdentitySecretKey::from_seed(&bytes).public_key().unwrap();
                prop_assert_eq!(decode_public_key(&encode_public_key(&id)), Ok(id));
            }

            #[test]
            fn never_panics(data in proptest::collection::vec(any::<u8>(), 0..120)) {
                let _ = decode_secret_key(&data);
                let _ = decode_public_key(&data);
            }

            #[test]
            fn never_panics_header(tail in "[ -~]{0,40}", body in proptest::collection::vec(any::<u8>(), 0..70)) {
                let mut data = format!("== ed25519v1-secret{tail}").into_bytes();
                data.resize(32, 0);
                data.extend_from_slice(&body);
                let _ = decode_secret_key(&data);
            }
        }
    }
}
