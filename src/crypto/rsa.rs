//! RSA keys as Tor uses them: the RSA-1024 relay identity (and the TAP onion key), their
//! PKCS#1 encodings, the Tor fingerprint, and Tor's prefixless PKCS#1 v1.5 signatures
//! (tor-spec §0.3 "Ciphers", §1.1 "Keys and names"; wire brief §2.3).
//!
//! - Public keys travel as DER `RSAPublicKey` (PKCS#1), in descriptors wrapped in
//!   `-----BEGIN RSA PUBLIC KEY-----` armor.
//! - The fingerprint ([`RsaIdentity`]) is `SHA1(DER(public key))`.
//! - Signatures are PKCS#1 v1.5 type-1 padding around the raw digest, **without** the
//!   DigestInfo prefix (`rsa::Pkcs1v15Sign::new_unprefixed()`), which is what C tor's
//!   `crypto_pk_private_sign` / `RSA_public_decrypt` produce and check.
//! - Private keys load and save in C tor's `secret_id_key` format: PEM `RSA PRIVATE KEY`
//!   (PKCS#1). They zeroize on drop (the `rsa` crate does it) and never print.
//!
//! Deliberately not here: X.509 (the link and identity certificates of the CERTS cell),
//! RSA encryption (Tor has none left), and the cross-certificates ([`crate::cert`]).

use rsa::pkcs1::{
    DecodeRsaPrivateKey, DecodeRsaPublicKey, EncodeRsaPrivateKey, EncodeRsaPublicKey,
};
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, Pkcs1v15Sign, RsaPrivateKey, RsaPublicKey};
use sha1::{Digest as _, Sha1};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::cert::armor;
use crate::ids::RsaIdentity;

/// The only modulus size C tor accepts for relay identity (and TAP onion) keys.
pub const IDENTITY_KEY_BITS: usize = 1024;

/// The public exponent Tor keys use (tor-spec §0.3).
pub const PUBLIC_EXPONENT: u32 = 65537;

/// PEM label of a public key in descriptors.
pub const PUBLIC_KEY_PEM_LABEL: &str = "RSA PUBLIC KEY";

/// PEM label of C tor's `secret_id_key` file.
pub const PRIVATE_KEY_PEM_LABEL: &str = "RSA PRIVATE KEY";

/// Smallest PKCS#1 type-1 padding string: `00 01` + at least 8 × `FF` + `00`.
const MIN_PADDING: usize = 11;

/// What went wrong with an RSA key or signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RsaError {
    /// The DER encoding is not a valid PKCS#1 key.
    #[error("malformed RSA key encoding")]
    MalformedKey,
    /// The PEM armor around a key is wrong.
    #[error("malformed RSA key armor: {0}")]
    Armor(#[from] armor::ArmorError),
    /// The key is not the size Tor requires.
    #[error("RSA key has {bits} bits; exactly {IDENTITY_KEY_BITS} are required")]
    WrongSize {
        /// The key's modulus size.
        bits: usize,
    },
    /// The signature does not verify under this key, or does not cover the expected data.
    #[error("bad RSA signature")]
    BadSignature,
    /// Signing or key generation failed inside the RSA library (e.g. data too long).
    #[error("RSA operation failed: {0}")]
    Internal(&'static str),
}

/// An RSA public key (any size; see [`RsaPublic::check_identity_size`]).
#[derive(Clone, PartialEq, Eq)]
pub struct RsaPublic(RsaPublicKey);

/// An RSA private key: a relay identity (`secret_id_key`) or a TAP onion key.
///
/// Zeroized on drop by the `rsa` crate; `Debug` shows only the fingerprint.
#[derive(Clone)]
pub struct RsaKeypair(RsaPrivateKey);

impl RsaPublic {
    /// Wraps a key from the `rsa` crate.
    pub fn from_rsa(key: RsaPublicKey) -> Self {
        RsaPublic(key)
    }

    /// The underlying `rsa` crate key.
    pub fn as_rsa(&self) -> &RsaPublicKey {
        &self.0
    }

    /// Decodes a DER PKCS#1 `RSAPublicKey` (not a SubjectPublicKeyInfo).
    pub fn from_der(der: &[u8]) -> Result<Self, RsaError> {
        RsaPublicKey::from_pkcs1_der(der)
            .map(RsaPublic)
            .map_err(|_| RsaError::MalformedKey)
    }

    /// The DER PKCS#1 `RSAPublicKey` encoding, the bytes the fingerprint hashes.
    pub fn to_der(&self) -> Vec<u8> {
        match self.0.to_pkcs1_der() {
            Ok(doc) => doc.as_bytes().to_vec(),
            // Encoding two positive integers cannot fail for a key the rsa crate built.
            Err(_) => Vec::new(),
        }
    }

    /// Decodes a `-----BEGIN RSA PUBLIC KEY-----` object.
    pub fn from_pem(text: &str) -> Result<Self, RsaError> {
        Self::from_der(&armor::decode(PUBLIC_KEY_PEM_LABEL, text)?)
    }

    /// Encodes as a `-----BEGIN RSA PUBLIC KEY-----` object (64-column lines, final newline).
    pub fn to_pem(&self) -> String {
        armor::encode(PUBLIC_KEY_PEM_LABEL, &self.to_der())
    }

    /// The Tor fingerprint: `SHA1(DER(key))`.
    pub fn fingerprint(&self) -> RsaIdentity {
        RsaIdentity(Sha1::digest(self.to_der()).into())
    }

    /// `SHA256(DER(key))`, as used for the CID/SID fields of AUTHENTICATE (tor-spec §4.4.1).
    pub fn sha256_digest(&self) -> [u8; 32] {
        Sha256::digest(self.to_der()).into()
    }

    /// The modulus size in bits.
    pub fn bits(&self) -> usize {
        self.0.n().bits()
    }

    /// The modulus size in bytes (also the length of every signature).
    pub fn size(&self) -> usize {
        self.0.size()
    }

    /// True if the public exponent is `e`.
    pub fn exponent_is(&self, e: u32) -> bool {
        *self.0.e() == BigUint::from(e)
    }

    /// Fails unless the modulus is exactly 1024 bits, the check C tor applies to identity
    /// keys (it does not check the exponent).
    pub fn check_identity_size(&self) -> Result<(), RsaError> {
        match self.bits() {
            IDENTITY_KEY_BITS => Ok(()),
            bits => Err(RsaError::WrongSize { bits }),
        }
    }

    /// Verifies a prefixless PKCS#1 v1.5 signature: the recovered data must equal `digest`
    /// exactly (C tor's `crypto_pk_public_checksig_digest`).
    pub fn verify(&self, digest: &[u8], signature: &[u8]) -> Result<(), RsaError> {
        self.0
            .verify(Pkcs1v15Sign::new_unprefixed(), digest, signature)
            .map_err(|_| RsaError::BadSignature)
    }

    /// Recovers the data inside a prefixless PKCS#1 v1.5 signature, as OpenSSL's
    /// `RSA_public_decrypt(.., RSA_PKCS1_PADDING)` does for C tor's
    /// `crypto_pk_public_checksig`.
    ///
    /// The signature must be exactly as long as the modulus and smaller than it; the
    /// padding must be `00 01`, at least eight `FF`, then `00`. Callers that compare only a
    /// prefix of the result (the cross-certificates) get C tor's semantics.
    pub fn recover(&self, signature: &[u8]) -> Result<Zeroizing<Vec<u8>>, RsaError> {
        let k = self.size();
        if signature.len() != k {
            return Err(RsaError::BadSignature);
        }
        let s = BigUint::from_bytes_be(signature);
        if &s >= self.0.n() {
            return Err(RsaError::BadSignature);
        }
        let m = s.modpow(self.0.e(), self.0.n()).to_bytes_be();
        if m.len() > k {
            return Err(RsaError::BadSignature);
        }
        // Left-pad to k bytes.
        let mut em = Zeroizing::new(vec![0u8; k - m.len()]);
        em.extend_from_slice(&m);
        let mut it = em.iter().copied().enumerate();
        if it.next() != Some((0, 0x00)) || it.next() != Some((1, 0x01)) {
            return Err(RsaError::BadSignature);
        }
        let sep = loop {
            match it.next() {
                Some((_, 0xff)) => continue,
                Some((i, 0x00)) => break i,
                _ => return Err(RsaError::BadSignature),
            }
        };
        // sep is the index of the 00 separator; at least 8 FF bytes precede it.
        if sep + 1 < MIN_PADDING {
            return Err(RsaError::BadSignature);
        }
        Ok(Zeroizing::new(
            em.get(sep + 1..).unwrap_or_default().to_vec(),
        ))
    }
}

impl std::fmt::Debug for RsaPublic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RsaPublic({} bits, {})", self.bits(), self.fingerprint())
    }
}

impl RsaKeypair {
    /// Generates a new RSA-1024 key with e = 65537, as C tor does for identity and TAP keys.
    pub fn generate<R: rand_core::CryptoRngCore + ?Sized>(rng: &mut R) -> Result<Self, RsaError> {
        RsaPrivateKey::new_with_exp(rng, IDENTITY_KEY_BITS, &BigUint::from(PUBLIC_EXPONENT))
            .map(RsaKeypair)
            .map_err(|_| RsaError::Internal("RSA key generation failed"))
    }

    /// Wraps a key from the `rsa` crate.
    pub fn from_rsa(key: RsaPrivateKey) -> Self {
        RsaKeypair(key)
    }

    /// The underlying `rsa` crate key.
    pub fn as_rsa(&self) -> &RsaPrivateKey {
        &self.0
    }

    /// Decodes a DER PKCS#1 `RSAPrivateKey`.
    pub fn from_der(der: &[u8]) -> Result<Self, RsaError> {
        RsaPrivateKey::from_pkcs1_der(der)
            .map(RsaKeypair)
            .map_err(|_| RsaError::MalformedKey)
    }

    /// The DER PKCS#1 `RSAPrivateKey` encoding (zeroized on drop).
    pub fn to_der(&self) -> Result<Zeroizing<Vec<u8>>, RsaError> {
        self.0
            .to_pkcs1_der()
            .map(|doc| Zeroizing::new(doc.as_bytes().to_vec()))
            .map_err(|_| RsaError::Internal("cannot encode private key"))
    }

    /// Loads C tor's `secret_id_key` format: a `-----BEGIN RSA PRIVATE KEY-----` object.
    /// C tor's files end with a NUL byte after the END line; trailing NULs are ignored.
    pub fn from_pem(text: &str) -> Result<Self, RsaError> {
        let text = text.trim_end_matches('\0');
        let der = Zeroizing::new(armor::decode(PRIVATE_KEY_PEM_LABEL, text)?);
        Self::from_der(&der)
    }

    /// Saves in C tor's `secret_id_key` format (zeroized on drop). C tor writes one more
    /// byte, a NUL after the END line; its reader does not need it, so neither do we.
    pub fn to_pem(&self) -> Result<Zeroizing<String>, RsaError> {
        let der = self.to_der()?;
        Ok(Zeroizing::new(armor::encode(PRIVATE_KEY_PEM_LABEL, &der)))
    }

    /// The public half.
    pub fn public(&self) -> RsaPublic {
        RsaPublic(self.0.to_public_key())
    }

    /// Signs `data` (normally a digest; at most modulus size − 11 bytes) with prefixless
    /// PKCS#1 v1.5, as C tor's `crypto_pk_private_sign`. Deterministic.
    pub fn sign(&self, data: &[u8]) -> Result<Vec<u8>, RsaError> {
        self.0
            .sign(Pkcs1v15Sign::new_unprefixed(), data)
            .map_err(|_| RsaError::Internal("RSA signing failed"))
    }

    /// As [`RsaKeypair::sign`], with RSA blinding driven by `rng` (same output bytes).
    pub fn sign_with_rng<R: rand_core::CryptoRngCore>(
        &self,
        rng: &mut R,
        data: &[u8],
    ) -> Result<Vec<u8>, RsaError> {
        self.0
            .sign_with_rng(rng, Pkcs1v15Sign::new_unprefixed(), data)
            .map_err(|_| RsaError::Internal("RSA signing failed"))
    }
}

impl std::fmt::Debug for RsaKeypair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RsaKeypair(public {})", self.public().fingerprint())
    }
}

/// The fingerprint in the spaced form of descriptors and C tor's `fingerprint` file:
/// ten groups of four upper-case hex digits separated by single spaces.
pub fn spaced_fingerprint(id: &RsaIdentity) -> String {
    let hex = id.to_hex();
    let mut out = String::with_capacity(49);
    for (i, c) in hex.chars().enumerate() {
        if i > 0 && i % 4 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// Parses the spaced fingerprint form (spaces optional, either case).
pub fn parse_spaced_fingerprint(s: &str) -> Option<RsaIdentity> {
    let compact: String = s.chars().filter(|c| *c != ' ').collect();
    RsaIdentity::from_hex(&compact).filter(|_| !compact.starts_with('$'))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use rand::SeedableRng;

    fn key() -> RsaKeypair {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        RsaKeypair::generate(&mut rng).unwrap()
    }

    #[test]
    fn generate_encode_sign_verify() {
        let k = key();
        let pk = k.public();
        assert_eq!(pk.bits(), 1024);
        assert!(pk.exponent_is(65537));
        pk.check_identity_size().unwrap();
        assert_eq!(RsaPublic::from_der(&pk.to_der()).unwrap(), pk);
        let mut long = pk.to_der();
        long.push(0);
        assert_eq!(RsaPublic::from_der(&long), Err(RsaError::MalformedKey));
        assert_eq!(
            RsaPublic::from_der(&pk.to_der()[..50]),
            Err(RsaError::MalformedKey)
        );
        assert_eq!(RsaPublic::from_pem(&pk.to_pem()).unwrap(), pk);
        let pem = k.to_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN RSA PRIVATE KEY-----\n"));
        assert_eq!(RsaKeypair::from_pem(&pem).unwrap().public(), pk);

        let digest = [0x5a; 20];
        let sig = k.sign(&digest).unwrap();
        assert_eq!(sig.len(), 128);
        pk.verify(&digest, &sig).unwrap();
        assert_eq!(&pk.recover(&sig).unwrap()[..], &digest);
        // Exact comparison: a prefix or an extension of the digest does not verify.
        assert_eq!(pk.verify(&digest[..19], &sig), Err(RsaError::BadSignature));
        let mut bad = sig.clone();
        bad[5] ^= 1;
        assert_eq!(pk.verify(&digest, &bad), Err(RsaError::BadSignature));
        assert!(pk.recover(&bad).is_err());
        assert!(pk.recover(&sig[1..]).is_err());
        assert!(pk.recover(&[0xff; 128]).is_err());
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        assert_eq!(k.sign_with_rng(&mut rng, &digest).unwrap(), sig);
    }

    #[test]
    fn debug_hides_private_key() {
        let k = key();
        let s = format!("{k:?}");
        assert!(s.starts_with("RsaKeypair(public $"));
        assert!(s.len() < 80);
    }

    #[test]
    fn spaced_form() {
        let id = RsaIdentity::from_hex("56927E61B51E6F363FB55498150A6DDFCF7077F2").unwrap();
        let s = spaced_fingerprint(&id);
        assert_eq!(s, "5692 7E61 B51E 6F36 3FB5 5498 150A 6DDF CF70 77F2");
        assert_eq!(parse_spaced_fingerprint(&s), Some(id));
        assert_eq!(parse_spaced_fingerprint("5692"), None);
    }
}
