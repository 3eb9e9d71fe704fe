//! AUTHENTICATE method 3, "Ed25519-SHA256-RFC5705" (tor-spec §4.4.2; tor-wire-brief §2.4):
//! the authenticator an initiating relay signs, and the responder's check of it.
//!
//! Layout of the 352-byte authenticator (C tor's `auth1` trunnel type,
//! `connection_or_compute_authenticate_cell_body`):
//! `TYPE "AUTH0003" · CID · SID · CID_ED · SID_ED · SLOG · CLOG · SCERT · TLSSECRETS · RAND[24]
//! · SIG[64]`, every unnamed field 32 bytes. SIG is an Ed25519 signature by the initiator's
//! link-authentication key (CERTS type 6) over the 288 bytes before it, with no prefix.
//! TLSSECRETS is the RFC 5705 exporter with label
//! [`AUTH0003_EXPORTER_LABEL`] and context CID (SHA-256 of the initiator's RSA identity key).
//!
//! The responder recomputes every field but RAND, compares them (naming the first that
//! differs), then checks the signature; bytes after the declared authenticator are ignored,
//! as in C tor. Deliberately not here: methods 1 and 2 (RSA, removed from C tor 0.4.9), and
//! where the fields' values come from (the state machines).

use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};

use crate::cell::handshake::Authenticate;
use crate::crypto::ll::ct_eq;

/// The AUTH_CHALLENGE / AUTHENTICATE method number of Ed25519-SHA256-RFC5705.
pub const AUTH_METHOD_ED25519_SHA256_RFC5705: u16 = 3;
/// The TYPE field of method 3.
pub const AUTH0003_TYPE: &[u8; 8] = b"AUTH0003";
/// The RFC 5705 exporter label of method 3.
pub const AUTH0003_EXPORTER_LABEL: &[u8] = b"EXPORTER FOR TOR TLS CLIENT BINDING AUTH0003";
/// Length of the signed part (TYPE through RAND).
pub const AUTH0003_SIGNED_LEN: usize = 8 + 8 * 32 + 24;
/// Length of the whole authenticator (signed part and signature).
pub const AUTH0003_LEN: usize = AUTH0003_SIGNED_LEN + 64;

/// Why an AUTHENTICATE cell was refused. The `Display` text is meant for a log line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Another authentication method than 3.
    #[error("AUTHENTICATE: unsupported method {0}")]
    UnsupportedMethod(u16),
    /// The authenticator is not 352 bytes.
    #[error("AUTHENTICATE: authenticator is {0} bytes, not 352")]
    BadLength(usize),
    /// A field differs from what the responder computed.
    #[error("AUTHENTICATE: field {0} is not as expected")]
    FieldMismatch(&'static str),
    /// The signature does not verify under the type-6 key.
    #[error("AUTHENTICATE: Ed25519 signature does not verify")]
    BadSignature,
}

/// Every AUTH0003 field but RAND and SIG: what both sides compute from the handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auth0003Fields {
    /// SHA-256 of the initiator's RSA identity key (DER).
    pub cid: [u8; 32],
    /// SHA-256 of the responder's RSA identity key (DER).
    pub sid: [u8; 32],
    /// The initiator's Ed25519 identity.
    pub cid_ed: [u8; 32],
    /// The responder's Ed25519 identity.
    pub sid_ed: [u8; 32],
    /// SHA-256 of every byte the responder sent before its NETINFO.
    pub slog: [u8; 32],
    /// SHA-256 of every byte the initiator sent before AUTHENTICATE.
    pub clog: [u8; 32],
    /// SHA-256 of the responder's TLS certificate (DER).
    pub scert: [u8; 32],
    /// The TLS exporter value (label [`AUTH0003_EXPORTER_LABEL`], context `cid`).
    pub tlssecrets: [u8; 32],
}

impl Auth0003Fields {
    /// The fields in wire order, with their names for error messages.
    fn named(&self) -> [(&'static str, &[u8; 32]); 8] {
        [
            ("CID", &self.cid),
            ("SID", &self.sid),
            ("CID_ED", &self.cid_ed),
            ("SID_ED", &self.sid_ed),
            ("SLOG", &self.slog),
            ("CLOG", &self.clog),
            ("SCERT", &self.scert),
            ("TLSSECRETS", &self.tlssecrets),
        ]
    }

    /// The 288 signed bytes with `rand` as RAND.
    pub fn signed_part(&self, rand: &[u8; 24]) -> Vec<u8> {
        let mut v = Vec::with_capacity(AUTH0003_LEN);
        v.extend_from_slice(AUTH0003_TYPE);
        for (_, f) in self.named() {
            v.extend_from_slice(f);
        }
        v.extend_from_slice(rand);
        v
    }

    /// The initiator's AUTHENTICATE message: the fields, `rand`, and the signature by the
    /// link-authentication key.
    pub fn sign(&self, rand: &[u8; 24], auth_key: &SigningKey) -> Authenticate {
        let mut auth = self.signed_part(rand);
        let sig = auth_key.sign(&auth);
        auth.extend_from_slice(&sig.to_bytes());
        Authenticate {
            auth_type: AUTH_METHOD_ED25519_SHA256_RFC5705,
            auth,
        }
    }

    /// The responder's check: method 3, 352 bytes, every field as expected, then the
    /// signature under `auth_key` (the initiator's type-6 key).
    pub fn verify(&self, msg: &Authenticate, auth_key: &VerifyingKey) -> Result<(), AuthError> {
        if msg.auth_type != AUTH_METHOD_ED25519_SHA256_RFC5705 {
            return Err(AuthError::UnsupportedMethod(msg.auth_type));
        }
        if msg.auth.len() != AUTH0003_LEN {
            return Err(AuthError::BadLength(msg.auth.len()));
        }
        let (signed, sig) = msg.auth.split_at(AUTH0003_SIGNED_LEN);
        let (ty, mut rest) = signed.split_at(AUTH0003_TYPE.len());
        if !ct_eq(ty, AUTH0003_TYPE) {
            return Err(AuthError::FieldMismatch("TYPE"));
        }
        for (name, want) in self.named() {
            let (got, tail) = rest.split_at(32);
            if !ct_eq(got, want) {
                return Err(AuthError::FieldMismatch(name));
            }
            rest = tail;
        }
        let sig = Signature::from_slice(sig).map_err(|_| AuthError::BadSignature)?;
        auth_key
            .verify(signed, &sig)
            .map_err(|_| AuthError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn fields() -> Auth0003Fields {
        Auth0003Fields {
            cid: [1; 32],
            sid: [2; 32],
            cid_ed: [3; 32],
            sid_ed: [4; 32],
            slog: [5; 32],
            clog: [6; 32],
            scert: [7; 32],
            tlssecrets: [8; 32],
        }
    }

    #[test]
    fn sign_verify_and_every_field_checked() {
        let key = SigningKey::from_bytes(&[9; 32]);
        let f = fields();
        let a = f.sign(&[0xAA; 24], &key);
        assert_eq!(a.auth.len(), 352);
        assert_eq!(&a.auth[..8], b"AUTH0003");
        assert_eq!(&a.auth[8..40], &[1; 32]);
        assert_eq!(&a.auth[264..288], &[0xAA; 24]);
        f.verify(&a, &key.verifying_key()).unwrap();

        let names = [
            "TYPE",
            "CID",
            "SID",
            "CID_ED",
            "SID_ED",
            "SLOG",
            "CLOG",
            "SCERT",
            "TLSSECRETS",
        ];
        for (i, name) in names.iter().enumerate() {
            let mut bad = a.clone();
            let at = if i == 0 { 0 } else { 8 + (i - 1) * 32 };
            bad.auth[at] ^= 1;
            assert_eq!(
                f.verify(&bad, &key.verifying_key()),
                Err(AuthError::FieldMismatch(name))
            );
        }
        let mut bad = a.clone();
        bad.auth[270] ^= 1; // RAND: not compared, but signed.
        assert_eq!(
            f.verify(&bad, &key.verifying_key()),
            Err(AuthError::BadSignature)
        );
        let other = SigningKey::from_bytes(&[10; 32]);
        assert_eq!(
            f.verify(&a, &other.verifying_key()),
            Err(AuthError::BadSignature)
        );
        let mut short = a.clone();
        short.auth.pop();
        assert_eq!(
            f.verify(&short, &key.verifying_key()),
            Err(AuthError::BadLength(351))
        );
        let mut m1 = a;
        m1.auth_type = 1;
        assert_eq!(
            f.verify(&m1, &key.verifying_key()),
            Err(AuthError::UnsupportedMethod(1))
        );
    }
}
