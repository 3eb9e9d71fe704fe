//! The relay's key files, named and laid out as C tor 0.4.9 does (`router.c` `init_keys`,
//! `routerkeys.c` `load_ed_keys`), and their contents:
//!
//! | file | contents |
//! |---|---|
//! | `keys/secret_id_key` | RSA-1024 identity, PEM `RSA PRIVATE KEY` |
//! | `keys/ed25519_master_id_secret_key` | `== ed25519v1-secret: type0 ==` + 64-byte expanded key |
//! | `keys/ed25519_master_id_public_key` | `== ed25519v1-public: type0 ==` + 32 bytes |
//! | `keys/ed25519_signing_secret_key` | `== ed25519v1-secret: type4 ==` + 64-byte expanded key |
//! | `keys/ed25519_signing_cert` | `== ed25519v1-cert: type4 ==` + the type-4 certificate |
//! | `keys/secret_onion_key_ntor` (`.old`) | `== c25519v1: onion ==` + secret + public |
//! | `keys/secret_onion_key` (`.old`) | TAP onion key, RSA-1024 PEM |
//! | `fingerprint` | `Nickname HEX40\n` |
//! | `fingerprint-ed25519` | `Nickname base64\n` (unpadded) |
//!
//! Sans-IO: [`StoredKeys`] is what the file layer read, [`FileOp`] what it must write or
//! remove. Reading and writing with safe modes is `rt::relay_keys`.

use std::collections::BTreeMap;
use std::time::SystemTime;

use zeroize::Zeroizing;

use crate::crypto::keyfile::{self, KeyFileKind};
use crate::crypto::ll::{X25519Public, X25519Secret};
use crate::crypto::rsa::RsaKeypair;
use crate::ids::{Ed25519Identity, RsaIdentity};

use super::ed::ExpandedKeypair;
use super::{FileProblem, KeysError};

/// One of the relay's key files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyFile {
    /// `keys/secret_id_key`.
    SecretIdKey,
    /// `keys/ed25519_master_id_secret_key`.
    MasterIdSecret,
    /// `keys/ed25519_master_id_public_key`.
    MasterIdPublic,
    /// `keys/ed25519_signing_secret_key`.
    SigningSecret,
    /// `keys/ed25519_signing_cert`.
    SigningCert,
    /// `keys/secret_onion_key_ntor`.
    NtorOnion,
    /// `keys/secret_onion_key_ntor.old`.
    NtorOnionOld,
    /// `keys/secret_onion_key` (TAP).
    TapOnion,
    /// `keys/secret_onion_key.old` (TAP).
    TapOnionOld,
    /// `fingerprint` (in the DataDirectory itself).
    Fingerprint,
    /// `fingerprint-ed25519` (in the DataDirectory itself).
    FingerprintEd25519,
}

impl KeyFile {
    /// Every file, in the order they are written.
    pub const ALL: [KeyFile; 11] = [
        KeyFile::SecretIdKey,
        KeyFile::MasterIdSecret,
        KeyFile::MasterIdPublic,
        KeyFile::SigningSecret,
        KeyFile::SigningCert,
        KeyFile::NtorOnionOld,
        KeyFile::NtorOnion,
        KeyFile::TapOnionOld,
        KeyFile::TapOnion,
        KeyFile::Fingerprint,
        KeyFile::FingerprintEd25519,
    ];

    /// The file's name within its directory.
    pub fn file_name(self) -> &'static str {
        match self {
            KeyFile::SecretIdKey => "secret_id_key",
            KeyFile::MasterIdSecret => "ed25519_master_id_secret_key",
            KeyFile::MasterIdPublic => "ed25519_master_id_public_key",
            KeyFile::SigningSecret => "ed25519_signing_secret_key",
            KeyFile::SigningCert => "ed25519_signing_cert",
            KeyFile::NtorOnion => "secret_onion_key_ntor",
            KeyFile::NtorOnionOld => "secret_onion_key_ntor.old",
            KeyFile::TapOnion => "secret_onion_key",
            KeyFile::TapOnionOld => "secret_onion_key.old",
            KeyFile::Fingerprint => "fingerprint",
            KeyFile::FingerprintEd25519 => "fingerprint-ed25519",
        }
    }

    /// True if the file lives in `DataDirectory/keys`, false if in the DataDirectory.
    pub fn in_keys_dir(self) -> bool {
        !matches!(self, KeyFile::Fingerprint | KeyFile::FingerprintEd25519)
    }
}

impl std::fmt::Display for KeyFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.in_keys_dir() {
            write!(f, "keys/{}", self.file_name())
        } else {
            f.write_str(self.file_name())
        }
    }
}

/// The key files found in a DataDirectory (contents wiped on drop), and when the current
/// onion key was made.
#[derive(Default)]
pub struct StoredKeys {
    files: BTreeMap<KeyFile, Zeroizing<Vec<u8>>>,
    /// When the current onion keys were made or last rotated (C tor keeps this as
    /// `LastRotatedOnionKey` in its state file; the file layer uses the modification time
    /// of `secret_onion_key_ntor`). `None`, or a time in the future, means "now".
    pub onion_key_set_at: Option<SystemTime>,
}

impl StoredKeys {
    /// Nothing stored: a fresh DataDirectory.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records the contents of `file`.
    pub fn insert(&mut self, file: KeyFile, contents: Zeroizing<Vec<u8>>) {
        self.files.insert(file, contents);
    }

    /// The contents of `file`, if it exists.
    pub fn get(&self, file: KeyFile) -> Option<&[u8]> {
        self.files.get(&file).map(|v| v.as_slice())
    }
}

impl std::fmt::Debug for StoredKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredKeys")
            .field("files", &self.files.keys().collect::<Vec<_>>())
            .field("onion_key_set_at", &self.onion_key_set_at)
            .finish()
    }
}

/// A change the file layer must make.
pub enum FileOp {
    /// Write `contents` to the file (atomically, mode 0600).
    Write(KeyFile, Zeroizing<Vec<u8>>),
    /// Remove the file if it exists.
    Remove(KeyFile),
}

impl FileOp {
    /// The file concerned.
    pub fn file(&self) -> KeyFile {
        match self {
            FileOp::Write(f, _) | FileOp::Remove(f) => *f,
        }
    }
}

impl std::fmt::Debug for FileOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FileOp::Write(k, c) => write!(f, "Write({k}, {} bytes)", c.len()),
            FileOp::Remove(k) => write!(f, "Remove({k})"),
        }
    }
}

fn bad(file: KeyFile, problem: FileProblem) -> KeysError {
    KeysError::BadFile { file, problem }
}

fn tagged(file: KeyFile, kind: KeyFileKind, bytes: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeysError> {
    keyfile::decode(kind, bytes)
        .map(|b| Zeroizing::new(b.to_vec()))
        .map_err(|e| bad(file, FileProblem::Format(e)))
}

/// Decodes a PEM RSA-1024 private key file (`secret_id_key`, `secret_onion_key`).
pub fn decode_rsa(file: KeyFile, bytes: &[u8]) -> Result<RsaKeypair, KeysError> {
    let text = std::str::from_utf8(bytes).map_err(|_| bad(file, FileProblem::NotText))?;
    let key = RsaKeypair::from_pem(text).map_err(|e| bad(file, FileProblem::Rsa(e)))?;
    key.public()
        .check_identity_size()
        .map_err(|e| bad(file, FileProblem::Rsa(e)))?;
    Ok(key)
}

/// Encodes a PEM RSA private key file.
pub fn encode_rsa(key: &RsaKeypair) -> Result<Zeroizing<Vec<u8>>, KeysError> {
    let pem = key.to_pem().map_err(KeysError::Rsa)?;
    Ok(Zeroizing::new(pem.as_bytes().to_vec()))
}

/// Decodes an Ed25519 expanded secret key file of `kind`.
pub fn decode_ed_secret(
    file: KeyFile,
    kind: KeyFileKind,
    bytes: &[u8],
) -> Result<ExpandedKeypair, KeysError> {
    let body = tagged(file, kind, bytes)?;
    let mut raw = Zeroizing::new([0u8; 64]);
    raw.copy_from_slice(body.get(..64).unwrap_or(&[0; 64]));
    Ok(ExpandedKeypair::from_bytes(&raw))
}

/// Decodes an Ed25519 public key file.
pub fn decode_ed_public(file: KeyFile, bytes: &[u8]) -> Result<Ed25519Identity, KeysError> {
    let body = tagged(file, keyfile::ED25519_PUBLIC_TYPE0, bytes)?;
    let mut k = [0u8; 32];
    k.copy_from_slice(body.get(..32).unwrap_or(&[0; 32]));
    Ok(Ed25519Identity(k))
}

/// Decodes a curve25519 onion key file, checking that its public half matches.
pub fn decode_ntor(file: KeyFile, bytes: &[u8]) -> Result<X25519Secret, KeysError> {
    let body = tagged(file, keyfile::CURVE25519_ONION, bytes)?;
    let (sec, public) = body.split_at(32);
    let mut s = Zeroizing::new([0u8; 32]);
    s.copy_from_slice(sec);
    let secret = X25519Secret::from(*s);
    if X25519Public::from(&secret).as_bytes()[..] != public[..] {
        return Err(bad(
            file,
            FileProblem::Mismatch("the public key does not match the secret key"),
        ));
    }
    Ok(secret)
}

/// Encodes a curve25519 onion key file.
pub fn encode_ntor(secret: &X25519Secret) -> Zeroizing<Vec<u8>> {
    let mut body = Zeroizing::new(Vec::with_capacity(64));
    body.extend_from_slice(&secret.to_bytes());
    body.extend_from_slice(X25519Public::from(secret).as_bytes());
    Zeroizing::new(keyfile::encode(keyfile::CURVE25519_ONION, &body))
}

/// Encodes an Ed25519 expanded secret key file of `kind`.
pub fn encode_ed_secret(kind: KeyFileKind, key: &ExpandedKeypair) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(keyfile::encode(kind, &key.to_bytes()[..]))
}

/// The `fingerprint` file: `Nickname HEX40\n`.
pub fn fingerprint_file(nickname: &str, id: &RsaIdentity) -> String {
    format!("{nickname} {}\n", id.to_hex())
}

/// The `fingerprint-ed25519` file: `Nickname base64\n`.
pub fn fingerprint_ed25519_file(nickname: &str, id: &Ed25519Identity) -> String {
    format!("{nickname} {}\n", id.to_base64())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn names_and_display() {
        assert_eq!(
            KeyFile::NtorOnionOld.to_string(),
            "keys/secret_onion_key_ntor.old"
        );
        assert_eq!(KeyFile::Fingerprint.to_string(), "fingerprint");
        assert!(!KeyFile::FingerprintEd25519.in_keys_dir());
        assert_eq!(KeyFile::ALL.len(), 11);
    }

    #[test]
    fn ntor_file_round_trip_and_mismatch() {
        let s = X25519Secret::from([9u8; 32]);
        let f = encode_ntor(&s);
        assert_eq!(f.len(), 96);
        let back = decode_ntor(KeyFile::NtorOnion, &f).unwrap();
        assert_eq!(back.to_bytes(), s.to_bytes());
        let mut g = f.clone();
        g[95] ^= 1;
        let e = decode_ntor(KeyFile::NtorOnion, &g).err().unwrap();
        assert!(e.to_string().contains("keys/secret_onion_key_ntor"), "{e}");
        assert!(decode_ntor(KeyFile::NtorOnion, b"garbage").is_err());
    }

    #[test]
    fn parsers_never_panic() {
        for len in 0..200usize {
            let v: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let _ = decode_ntor(KeyFile::NtorOnion, &v);
            let _ = decode_ed_public(KeyFile::MasterIdPublic, &v);
            let _ = decode_ed_secret(KeyFile::MasterIdSecret, keyfile::ED25519_SECRET_TYPE0, &v);
            let _ = decode_rsa(KeyFile::SecretIdKey, &v);
        }
    }
}
