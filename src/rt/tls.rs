//! TLS for channels (tor-spec §2 "Connections"; tor-wire-brief §2.1), on rustls with the
//! ring provider.
//!
//! Tor does not use TLS to authenticate relays: C tor's certificate verifier accepts any
//! certificate, and identities are bound inside the Tor protocol by the CERTS cell, which
//! certifies SHA-256 of the TLS certificate (type 5) and, for an authenticating initiator, by
//! AUTHENTICATE, which signs an RFC 5705 exporter value. So here:
//!
//! - the responder presents the link certificate made by [`crate::crypto::x509`] (RSA-2048,
//!   signed by the identity key, as C tor does);
//! - the initiator presents no certificate, accepts any server certificate, but still has
//!   rustls check the handshake signature made with the certificate's key, so the
//!   certificate it records is one the peer holds the key for;
//! - TLS 1.2 and 1.3 (C tor 0.4.9 requires at least 1.2), no session resumption, and SNI
//!   set to a random `www.<random>.com` like C tor's.
//!
//! Deliberately not here: the link handshake (VERSIONS, CERTS, ...), which is sans-IO and
//! takes the peer certificate and exporter value from this module's helpers.

use std::sync::Arc;

use rand_core::{CryptoRng, RngCore};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::RsaPrivateKey;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{ring, verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs1KeyDer, ServerName, UnixTime};
use rustls::server::NoServerSessionStorage;
use rustls::{
    ClientConfig, ConnectionCommon, DigitallySignedStruct, ServerConfig, SignatureScheme,
};

/// The RFC 5705 exporter label of AUTHENTICATE method 3 (tor-spec §4.4.2 "Ed25519-SHA256-RFC5705").
/// The exporter's context is the CID field: SHA-256 of the initiator's RSA identity key
/// (C tor `connection_or_compute_authenticate_cell_body`).
pub const AUTH0003_EXPORTER_LABEL: &[u8] = b"EXPORTER FOR TOR TLS CLIENT BINDING AUTH0003";

/// Why a TLS configuration could not be made or a value not exported.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// rustls refused the configuration or the operation.
    #[error("TLS: {0}")]
    Rustls(#[from] rustls::Error),
    /// The link key could not be encoded.
    #[error("TLS key encoding: {0}")]
    Key(String),
    /// The peer presented no certificate.
    #[error("TLS peer presented no certificate")]
    NoPeerCertificate,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(ring::default_provider())
}

const VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

/// The responder's (relay's) TLS configuration: present `link_cert_der` with `link_key`.
pub fn server_config(
    link_cert_der: &[u8],
    link_key: &RsaPrivateKey,
) -> Result<Arc<ServerConfig>, TlsError> {
    let key_der = link_key
        .to_pkcs1_der()
        .map_err(|e| TlsError::Key(e.to_string()))?;
    let key = PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(key_der.as_bytes().to_vec()));
    let mut cfg = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(VERSIONS)?
        .with_no_client_auth()
        .with_single_cert(vec![CertificateDer::from(link_cert_der.to_vec())], key)?;
    cfg.session_storage = Arc::new(NoServerSessionStorage {});
    cfg.send_tls13_tickets = 0;
    Ok(Arc::new(cfg))
}

/// The initiator's TLS configuration: no client certificate, any server certificate.
pub fn client_config() -> Result<Arc<ClientConfig>, TlsError> {
    client_config_for(VERSIONS)
}

fn client_config_for(
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Result<Arc<ClientConfig>, TlsError> {
    let provider = provider();
    let verifier = Arc::new(AnyServerCert {
        algorithms: provider.signature_verification_algorithms,
    });
    let mut cfg = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    cfg.resumption = rustls::client::Resumption::disabled();
    Ok(Arc::new(cfg))
}

/// A random SNI host name of C tor's shape (`www.<random>.com`).
pub fn random_server_name<R: RngCore + CryptoRng>(
    rng: &mut R,
) -> Result<ServerName<'static>, TlsError> {
    let host = crate::crypto::x509::random_hostname(rng, ".com");
    ServerName::try_from(host).map_err(|e| TlsError::Key(e.to_string()))
}

/// The DER certificate the peer presented (the first of its chain).
pub fn peer_cert_der<D>(conn: &ConnectionCommon<D>) -> Result<Vec<u8>, TlsError> {
    conn.peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.as_ref().to_vec())
        .ok_or(TlsError::NoPeerCertificate)
}

/// The 32-byte TLSSECRETS value of AUTHENTICATE method 3, with `cid` as the context.
pub fn auth0003_exporter<D>(
    conn: &ConnectionCommon<D>,
    cid: &[u8; 32],
) -> Result<[u8; 32], TlsError> {
    Ok(conn.export_keying_material([0u8; 32], AUTH0003_EXPORTER_LABEL, Some(cid))?)
}

/// Accepts any server certificate, but verifies handshake signatures with its key.
#[derive(Debug)]
struct AnyServerCert {
    algorithms: rustls::crypto::WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AnyServerCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // Identity is established by the CERTS cell, not by X.509 path validation.
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::x509::{LinkCertificates, ParsedCert};
    use rand::SeedableRng;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn handshake(
        versions: &[&'static rustls::SupportedProtocolVersion],
    ) -> (Vec<u8>, [u8; 32], [u8; 32], rustls::ProtocolVersion) {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let identity = RsaPrivateKey::new(&mut rng, 1024).unwrap();
        let link = RsaPrivateKey::new(&mut rng, 2048).unwrap();
        let lc = LinkCertificates::with_link_key(
            &mut rng,
            &identity,
            link,
            std::time::SystemTime::now(),
        )
        .unwrap();
        let scfg = server_config(&lc.link_cert_der, &lc.link_key).unwrap();
        let ccfg = client_config_for(versions).unwrap();
        let (a, b) = tokio::io::duplex(64 * 1024);
        let acceptor = tokio_rustls::TlsAcceptor::from(scfg);
        let connector = tokio_rustls::TlsConnector::from(ccfg);
        let name = random_server_name(&mut rng).unwrap();
        let cid = [0x42u8; 32];
        let server = tokio::spawn(async move {
            let mut s = acceptor.accept(b).await.unwrap();
            let ex = auth0003_exporter(s.get_ref().1, &cid).unwrap();
            let mut buf = [0u8; 5];
            s.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"hello");
            ex
        });
        let mut c = connector.connect(name, a).await.unwrap();
        c.write_all(b"hello").await.unwrap();
        c.flush().await.unwrap();
        let peer = peer_cert_der(c.get_ref().1).unwrap();
        let ex_client = auth0003_exporter(c.get_ref().1, &cid).unwrap();
        let version = c.get_ref().1.protocol_version().unwrap();
        let ex_server = server.await.unwrap();
        assert_eq!(peer, lc.link_cert_der);
        (peer, ex_client, ex_server, version)
    }

    #[tokio::test]
    async fn tls13_handshake_exports_equal_secrets() {
        let (peer, c, s, v) = handshake(&[&rustls::version::TLS13]).await;
        assert_eq!(v, rustls::ProtocolVersion::TLSv1_3);
        assert_eq!(c, s);
        assert_ne!(c, [0u8; 32]);
        assert_eq!(ParsedCert::parse(&peer).unwrap().rsa_bits().unwrap(), 2048);
    }

    #[tokio::test]
    async fn tls12_handshake_exports_equal_secrets() {
        let (_, c, s, v) = handshake(&[&rustls::version::TLS12]).await;
        assert_eq!(v, rustls::ProtocolVersion::TLSv1_2);
        assert_eq!(c, s);
    }

    #[test]
    fn server_names_are_valid() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        for _ in 0..50 {
            match random_server_name(&mut rng).unwrap() {
                ServerName::DnsName(n) => assert!(n.as_ref().starts_with("www.")),
                other => panic!("unexpected {other:?}"),
            }
        }
    }
}
