//! Relay identities: the legacy RSA identity fingerprint and the Ed25519 identity key
//! (tor-spec §1.1 "Keys and names").
//!
//! These are plain byte wrappers with the encodings Tor uses to show them. Key material
//! and signature checks live in [`crate::crypto::rsa`] and [`crate::cert`].

use std::fmt;

/// A relay's legacy identity: SHA-1 of the DER (PKCS#1) encoding of its RSA-1024 identity
/// public key. Shown as 40 upper-case hex digits, as in C tor's `fingerprint` file.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RsaIdentity(pub [u8; 20]);

/// A relay's Ed25519 identity public key (`KP_relayid_ed`). Shown as unpadded base64, as in
/// descriptors and consensus `id ed25519` lines.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ed25519Identity(pub [u8; 32]);

impl RsaIdentity {
    /// The identity as 40 upper-case hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode_upper(self.0)
    }

    /// Parses 40 hex digits (either case, optional leading `$`).
    pub fn from_hex(s: &str) -> Option<Self> {
        let s = s.strip_prefix('$').unwrap_or(s);
        if s.len() != 40 {
            return None;
        }
        let mut out = [0u8; 20];
        hex::decode_to_slice(s, &mut out).ok()?;
        Some(RsaIdentity(out))
    }

    /// True if every byte is zero (never a valid identity; EXTEND2 must refuse it).
    pub fn is_zero(&self) -> bool {
        self.0.iter().all(|&b| b == 0)
    }
}

impl Ed25519Identity {
    /// The identity as unpadded standard base64 (43 characters).
    pub fn to_base64(&self) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(self.0)
    }

    /// Parses unpadded (or padded) standard base64.
    pub fn from_base64(s: &str) -> Option<Self> {
        use base64::Engine as _;
        let s = s.trim_end_matches('=');
        let v = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(s)
            .ok()?;
        Some(Ed25519Identity(v.try_into().ok()?))
    }
}

impl fmt::Debug for RsaIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "${}", self.to_hex())
    }
}

impl fmt::Display for RsaIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "${}", self.to_hex())
    }
}

impl fmt::Debug for Ed25519Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ed25519Identity({})", self.to_base64())
    }
}

impl fmt::Display for Ed25519Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsa_hex_round_trip() {
        let id = RsaIdentity([0xab; 20]);
        assert_eq!(RsaIdentity::from_hex(&id.to_hex()), Some(id));
        assert_eq!(
            RsaIdentity::from_hex(&format!("${}", id.to_hex())),
            Some(id)
        );
        assert_eq!(RsaIdentity::from_hex("abcd"), None);
        assert!(RsaIdentity([0; 20]).is_zero());
    }

    #[test]
    fn ed_base64_round_trip() {
        let id = Ed25519Identity([7; 32]);
        let s = id.to_base64();
        assert_eq!(s.len(), 43);
        assert_eq!(Ed25519Identity::from_base64(&s), Some(id));
        assert_eq!(Ed25519Identity::from_base64("AAAA"), None);
    }
}
