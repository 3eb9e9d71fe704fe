//! Directory-authority key certificates (dir-spec §3.1 "Creating key certificates"; C tor
//! `authority_cert_parse_from_string`, `tor-gencert`).
//!
//! An authority has a long-term RSA identity key (3072 bits, normally kept offline; its
//! SHA-1 fingerprint is the authority's `v3ident`) and a medium-term RSA signing key (2048
//! bits) that signs votes and consensuses. The certificate binds the two:
//!
//! ```text
//! dir-key-certificate-version 3
//! dir-address 127.0.0.1:7000            (optional)
//! fingerprint <40 hex digits of SHA1(DER(identity))>
//! dir-key-published YYYY-MM-DD HH:MM:SS
//! dir-key-expires YYYY-MM-DD HH:MM:SS
//! dir-identity-key + RSA PUBLIC KEY
//! dir-signing-key + RSA PUBLIC KEY
//! dir-key-crosscert + ID SIGNATURE      (signing key over SHA1(DER(identity)))
//! dir-key-certification + SIGNATURE     (identity key over SHA1(text through "dir-key-certification\n"))
//! ```
//!
//! Both signatures are prefixless PKCS#1 v1.5; as in C tor's `check_signature_token`, the
//! recovered data must *start with* the expected digest.
//!
//! Key files are those `tor-gencert` writes: `authority_signing_key` (PEM `RSA PRIVATE
//! KEY`), `authority_certificate` (the text above) and `authority_identity_key`. tor-gencert
//! encrypts the identity key with a passphrase (PKCS#8, PBE-SHA1-3DES); C tor's authority
//! never reads it, and neither do we when it is encrypted: [`AuthorityKeys::load`] then
//! succeeds without it ([`AuthorityKeys::identity_key`] is `None`). We write it unencrypted
//! (PKCS#1 PEM, mode 0600), which `tor-gencert` reads back to recertify.
//!
//! Not here: legacy keys, the `dir-key-certificate` fetch paths (`dir::serve`), choosing
//! which certificates to trust (the caller passes authorities' `v3ident`s).

use std::fs;
use std::io::{self, Write as _};
use std::net::SocketAddrV4;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

use rsa::pkcs8::DecodePrivateKey as _;
use rsa::{BigUint, RsaPrivateKey};
use sha1::{Digest as _, Sha1};

use crate::crypto::rsa::{RsaKeypair, RsaPublic, PUBLIC_EXPONENT};
use crate::dir::doc::token::{self, format_time, DocError, DocWriter, Item};
use crate::ids::RsaIdentity;

/// Modulus size of a new authority identity key (tor-gencert's `IDENTITY_KEY_BITS`).
pub const AUTH_IDENTITY_KEY_BITS: usize = 3072;
/// Modulus size of a new authority signing key (tor-gencert's `SIGNING_KEY_BITS`).
pub const AUTH_SIGNING_KEY_BITS: usize = 2048;
/// Largest certificate accepted (C tor's `MAX_CERT_SIZE`).
pub const MAX_CERT_BYTES: usize = 128 * 1024;
/// Smallest RSA key accepted in a certificate.
const MIN_KEY_BITS: usize = 1024;
/// Largest RSA key accepted in a certificate (bounds the verification cost).
const MAX_KEY_BITS: usize = 8192;

/// File names tor-gencert uses (and C tor's authority reads from `keys/`).
pub const IDENTITY_KEY_FILE: &str = "authority_identity_key";
/// The signing-key file name.
pub const SIGNING_KEY_FILE: &str = "authority_signing_key";
/// The certificate file name.
pub const CERTIFICATE_FILE: &str = "authority_certificate";

/// Generates an RSA key of `bits` bits with e = 65537 ([`RsaKeypair::generate`] makes only
/// the 1024-bit relay keys).
pub fn generate_rsa<R: rand_core::CryptoRngCore + ?Sized>(
    rng: &mut R,
    bits: usize,
) -> Result<RsaKeypair, DocError> {
    RsaPrivateKey::new_with_exp(rng, bits, &BigUint::from(PUBLIC_EXPONENT))
        .map(RsaKeypair::from_rsa)
        .map_err(|_| DocError::Invalid("RSA key generation failed".into()))
}

/// A parsed and checked authority key certificate (dir-spec §3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthCert {
    /// The authority's `v3ident`: SHA-1 of the identity key's DER.
    pub fingerprint: RsaIdentity,
    /// The long-term identity key.
    pub identity_key: RsaPublic,
    /// The medium-term signing key.
    pub signing_key: RsaPublic,
    /// `dir-key-published`, seconds since the epoch.
    pub published: u64,
    /// `dir-key-expires`, seconds since the epoch.
    pub expires: u64,
    /// `dir-address`, if present.
    pub address: Option<SocketAddrV4>,
    /// The certificate's exact text.
    pub text: String,
}

const CERTIFICATION_LINE: &str = "dir-key-certification\n";

/// Checks a prefixless PKCS#1 signature the way C tor's `check_signature_token` does: the
/// recovered data must be at least as long as `digest` and start with it.
pub(crate) fn check_prefix_sig(key: &RsaPublic, digest: &[u8], sig: &[u8]) -> bool {
    match key.recover(sig) {
        Ok(data) => data.get(..digest.len()) == Some(digest),
        Err(_) => false,
    }
}

fn one<'a, 'b>(items: &'b [Item<'a>], kw: &'static str) -> Result<&'b Item<'a>, DocError> {
    let mut found = items.iter().filter(|i| i.keyword == kw);
    let first = found.next().ok_or(DocError::Missing(kw))?;
    if let Some(again) = found.next() {
        return Err(DocError::Repeated {
            line: again.line,
            keyword: kw.into(),
        });
    }
    Ok(first)
}

fn time_arg(item: &Item<'_>) -> Result<u64, DocError> {
    let (d, t) = (item.arg(0, "date")?, item.arg(1, "time")?);
    token::parse_time(d, t).ok_or_else(|| item.bad("bad time"))
}

fn key_arg(item: &Item<'_>) -> Result<RsaPublic, DocError> {
    let der = item.object_labelled("RSA PUBLIC KEY")?;
    let key = RsaPublic::from_der(der).map_err(|e| item.bad(e.to_string()))?;
    if !(MIN_KEY_BITS..=MAX_KEY_BITS).contains(&key.bits()) {
        return Err(item.bad(format!("{}-bit key", key.bits())));
    }
    Ok(key)
}

impl AuthCert {
    /// Parses one certificate (the whole of `text`, which must begin with
    /// `dir-key-certificate-version`) and checks the fingerprint, the cross-certificate and
    /// the certification signature. Expiry is the caller's business (it needs a time).
    pub fn parse(text: &str) -> Result<AuthCert, DocError> {
        if text.len() > MAX_CERT_BYTES {
            return Err(DocError::Invalid("certificate too large".into()));
        }
        let items = token::tokenize(text)?;
        let first = items
            .first()
            .ok_or(DocError::Missing("dir-key-certificate-version"))?;
        if first.keyword != "dir-key-certificate-version" || first.start != 0 {
            return Err(DocError::Invalid(
                "certificate does not begin with dir-key-certificate-version".into(),
            ));
        }
        if first.args.first() != Some(&"3") {
            return Err(first.bad("version is not 3"));
        }
        let last = items
            .last()
            .ok_or(DocError::Missing("dir-key-certification"))?;
        if last.keyword != "dir-key-certification" {
            return Err(DocError::Invalid(
                "certificate does not end with dir-key-certification".into(),
            ));
        }
        for kw in ["dir-key-certificate-version", "dir-key-certification"] {
            one(&items, kw)?;
        }
        if !last.args.is_empty()
            || text.get(last.start..last.start + CERTIFICATION_LINE.len())
                != Some(CERTIFICATION_LINE)
        {
            return Err(last.bad("unexpected arguments"));
        }
        let signed = text
            .get(..last.start + CERTIFICATION_LINE.len())
            .unwrap_or_default();
        let digest: [u8; 20] = Sha1::digest(signed.as_bytes()).into();

        let identity_key = key_arg(one(&items, "dir-identity-key")?)?;
        let signing_key = key_arg(one(&items, "dir-signing-key")?)?;
        let fp_item = one(&items, "fingerprint")?;
        let declared = RsaIdentity::from_hex(&fp_item.args.concat())
            .ok_or_else(|| fp_item.bad("not 40 hex digits"))?;
        let fingerprint = identity_key.fingerprint();
        if declared != fingerprint {
            return Err(fp_item.bad("does not match the identity key"));
        }
        let published = time_arg(one(&items, "dir-key-published")?)?;
        let expires = time_arg(one(&items, "dir-key-expires")?)?;
        let address = match items.iter().filter(|i| i.keyword == "dir-address").count() {
            0 => None,
            1 => {
                let it = one(&items, "dir-address")?;
                Some(
                    it.arg(0, "address")?
                        .parse::<SocketAddrV4>()
                        .map_err(|_| it.bad("not an IPv4 address:port"))?,
                )
            }
            _ => return Err(DocError::Invalid("dir-address repeated".into())),
        };

        let sig = last.object_labelled("SIGNATURE")?;
        if !check_prefix_sig(&identity_key, &digest, sig) {
            return Err(DocError::Signature(
                "dir-key-certification does not verify under the identity key".into(),
            ));
        }
        let cross = one(&items, "dir-key-crosscert")?;
        let cross_sig = match &cross.object {
            Some(o) if o.label == "ID SIGNATURE" || o.label == "SIGNATURE" => &o.data,
            _ => return Err(cross.bad("missing ID SIGNATURE object")),
        };
        if !check_prefix_sig(&signing_key, &fingerprint.0, cross_sig) {
            return Err(DocError::Signature(
                "dir-key-crosscert does not verify under the signing key".into(),
            ));
        }
        Ok(AuthCert {
            fingerprint,
            identity_key,
            signing_key,
            published,
            expires,
            address,
            text: text.to_string(),
        })
    }

    /// Parses a concatenation of certificates (a `/tor/keys/...` response body). Blank
    /// lines between certificates are allowed; anything else outside them is an error.
    pub fn parse_many(text: &str) -> Result<Vec<AuthCert>, DocError> {
        split_certs(text)?
            .into_iter()
            .map(AuthCert::parse)
            .collect()
    }

    /// SHA-1 of the signing key's DER (the key digest in `directory-signature` lines).
    pub fn signing_key_digest(&self) -> RsaIdentity {
        self.signing_key.fingerprint()
    }

    /// Whether the certificate is in force at `now` (published ≤ now ≤ expires).
    pub fn is_live(&self, now: u64) -> bool {
        self.published <= now && now <= self.expires
    }
}

/// Splits a body into certificate texts, each starting at a `dir-key-certificate-version`
/// line and ending after the `-----END SIGNATURE-----` line that closes its certification.
pub fn split_certs(text: &str) -> Result<Vec<&str>, DocError> {
    const END: &str = "\n-----END SIGNATURE-----\n";
    let mut out = Vec::new();
    let mut rest = text;
    loop {
        let trimmed = rest.trim_start_matches(['\n', '\r', ' ', '\t']);
        if trimmed.is_empty() {
            return Ok(out);
        }
        if !trimmed.starts_with("dir-key-certificate-version") {
            return Err(DocError::Invalid(
                "text between certificates is not a certificate".into(),
            ));
        }
        let Some(cpos) = trimmed.find("\ndir-key-certification") else {
            return Err(DocError::Missing("dir-key-certification"));
        };
        let after = trimmed.get(cpos..).unwrap_or_default();
        let Some(epos) = after.find(END) else {
            return Err(DocError::Invalid(
                "certification signature not terminated".into(),
            ));
        };
        let len = cpos + epos + END.len();
        if len > MAX_CERT_BYTES {
            return Err(DocError::Invalid("certificate too large".into()));
        }
        out.push(trimmed.get(..len).unwrap_or_default());
        rest = trimmed.get(len..).unwrap_or_default();
    }
}

/// An authority's keys and certificate (what `tor-gencert` makes and a C tor authority
/// keeps in its `keys/` directory).
pub struct AuthorityKeys {
    identity: Option<RsaKeypair>,
    signing: RsaKeypair,
    cert: AuthCert,
}

impl std::fmt::Debug for AuthorityKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "AuthorityKeys(v3ident {}, signing key {})",
            self.cert.fingerprint.to_hex(),
            self.cert.signing_key_digest().to_hex()
        )
    }
}

impl AuthorityKeys {
    /// Generates a new identity key (RSA-3072), signing key (RSA-2048) and a certificate
    /// valid from `published` for `lifetime_secs`, optionally with a `dir-address`.
    pub fn generate<R: rand_core::CryptoRngCore + ?Sized>(
        rng: &mut R,
        published: u64,
        lifetime_secs: u64,
        address: Option<SocketAddrV4>,
    ) -> Result<Self, DocError> {
        let identity = generate_rsa(rng, AUTH_IDENTITY_KEY_BITS)?;
        let signing = generate_rsa(rng, AUTH_SIGNING_KEY_BITS)?;
        Self::certify(identity, signing, published, lifetime_secs, address)
    }

    /// Certifies an existing pair of keys (as `tor-gencert` without
    /// `--create-identity-key`).
    pub fn certify(
        identity: RsaKeypair,
        signing: RsaKeypair,
        published: u64,
        lifetime_secs: u64,
        address: Option<SocketAddrV4>,
    ) -> Result<Self, DocError> {
        let text = cert_text(&identity, &signing, published, lifetime_secs, address)?;
        let cert = AuthCert::parse(&text)?;
        Ok(AuthorityKeys {
            identity: Some(identity),
            signing,
            cert,
        })
    }

    /// The authority's `v3ident`: SHA-1 of the identity key's DER.
    pub fn v3ident(&self) -> RsaIdentity {
        self.cert.fingerprint
    }

    /// The certificate.
    pub fn cert(&self) -> &AuthCert {
        &self.cert
    }

    /// The certificate's text.
    pub fn cert_text(&self) -> &str {
        &self.cert.text
    }

    /// The signing key (signs votes and consensuses).
    pub fn signing_key(&self) -> &RsaKeypair {
        &self.signing
    }

    /// The identity key, if it was generated or loaded. `None` after loading tor-gencert's
    /// files, whose identity key is passphrase-encrypted (C tor's authority runs without
    /// it too).
    pub fn identity_key(&self) -> Option<&RsaKeypair> {
        self.identity.as_ref()
    }

    /// Writes `authority_identity_key` (if we hold it; PEM PKCS#1, unencrypted),
    /// `authority_signing_key` (PEM PKCS#1) and `authority_certificate`, each mode 0600,
    /// into `dir` (which must exist).
    pub fn save(&self, dir: &Path) -> io::Result<()> {
        let pem_err = |e: crate::crypto::rsa::RsaError| io::Error::other(e.to_string());
        if let Some(id) = &self.identity {
            write_private(
                &dir.join(IDENTITY_KEY_FILE),
                id.to_pem().map_err(pem_err)?.as_bytes(),
            )?;
        }
        write_private(
            &dir.join(SIGNING_KEY_FILE),
            self.signing.to_pem().map_err(pem_err)?.as_bytes(),
        )?;
        write_private(&dir.join(CERTIFICATE_FILE), self.cert.text.as_bytes())
    }

    /// Loads the files [`AuthorityKeys::save`] or `tor-gencert` wrote. The certificate must
    /// parse and certify the signing key; the identity key is loaded only if present and
    /// unencrypted (PKCS#1 `RSA PRIVATE KEY` or PKCS#8 `PRIVATE KEY`), and must then match
    /// the certificate.
    pub fn load(dir: &Path) -> Result<Self, DocError> {
        let read = |name: &str| {
            fs::read_to_string(dir.join(name))
                .map(zeroize::Zeroizing::new)
                .map_err(|e| DocError::Invalid(format!("{name}: {e}")))
        };
        let cert_text = read(CERTIFICATE_FILE)?;
        let cert = AuthCert::parse(&cert_text)?;
        let signing = RsaKeypair::from_pem(&read(SIGNING_KEY_FILE)?)
            .map_err(|e| DocError::Invalid(format!("{SIGNING_KEY_FILE}: {e}")))?;
        if signing.public() != cert.signing_key {
            return Err(DocError::Invalid(
                "the signing key does not match the certificate".into(),
            ));
        }
        let identity = match fs::read_to_string(dir.join(IDENTITY_KEY_FILE)) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(DocError::Invalid(format!("{IDENTITY_KEY_FILE}: {e}"))),
            Ok(text) => {
                let text = zeroize::Zeroizing::new(text);
                let text = text.trim_end_matches('\0');
                if text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
                    None
                } else {
                    let key = if text.contains("-----BEGIN PRIVATE KEY-----") {
                        RsaPrivateKey::from_pkcs8_pem(text)
                            .map(RsaKeypair::from_rsa)
                            .map_err(|_| {
                                DocError::Invalid(format!("{IDENTITY_KEY_FILE}: bad PKCS#8 key"))
                            })?
                    } else {
                        RsaKeypair::from_pem(text)
                            .map_err(|e| DocError::Invalid(format!("{IDENTITY_KEY_FILE}: {e}")))?
                    };
                    if key.public() != cert.identity_key {
                        return Err(DocError::Invalid(
                            "the identity key does not match the certificate".into(),
                        ));
                    }
                    Some(key)
                }
            }
        };
        Ok(AuthorityKeys {
            identity,
            signing,
            cert,
        })
    }
}

fn write_private(path: &Path, contents: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    let _ = fs::remove_file(&tmp);
    {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)
}

/// The certificate text exactly as `tor-gencert` lays it out.
fn cert_text(
    identity: &RsaKeypair,
    signing: &RsaKeypair,
    published: u64,
    lifetime_secs: u64,
    address: Option<SocketAddrV4>,
) -> Result<String, DocError> {
    let sign_err = |e: crate::crypto::rsa::RsaError| DocError::Signature(e.to_string());
    let id_pub = identity.public();
    let fp = id_pub.fingerprint();
    let mut w = DocWriter::new();
    w.item("dir-key-certificate-version", &["3"]);
    if let Some(a) = address {
        w.item("dir-address", &[&a.to_string()]);
    }
    w.item("fingerprint", &[&fp.to_hex()]);
    w.item_str("dir-key-published", &format_time(published));
    w.item_str(
        "dir-key-expires",
        &format_time(published.saturating_add(lifetime_secs)),
    );
    w.item("dir-identity-key", &[]).raw(&id_pub.to_pem());
    w.item("dir-signing-key", &[])
        .raw(&signing.public().to_pem());
    let cross = signing.sign(&fp.0).map_err(sign_err)?;
    w.item("dir-key-crosscert", &[])
        .object("ID SIGNATURE", &cross);
    w.item("dir-key-certification", &[]);
    let digest: [u8; 20] = Sha1::digest(w.as_str().as_bytes()).into();
    let sig = identity.sign(&digest).map_err(sign_err)?;
    w.object("SIGNATURE", &sig);
    Ok(w.finish())
}

#[cfg(test)]
mod tests;
