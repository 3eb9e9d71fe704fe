#![no_main]
//! Fuzzes the certificate parsers: Ed25519 certificates (cert-spec §2.1), the RSA→Ed25519
//! cross-certificate (cert-spec §2.3) and the PEM-like armor of descriptors. Whatever
//! decodes must re-encode to the same bytes; nothing may panic.
use libfuzzer_sys::fuzz_target;
use oniongate::cert::{armor, Ed25519Cert, RsaCrosscert};

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = Ed25519Cert::decode(data) {
        let again = c.encode().expect("a decoded cert re-encodes");
        assert_eq!(again, data, "Ed25519 cert re-encoding differs");
        let _ = c.peek().certified_key();
        let _ = c.check_signature(None);
    }
    if let Ok(c) = RsaCrosscert::decode(data) {
        let again = c.peek().encode().expect("a decoded crosscert re-encodes");
        assert_eq!(again, data, "RSA crosscert re-encoding differs");
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(c) = Ed25519Cert::decode_pem(text) {
            let pem = c.peek().encode_pem().expect("re-encode");
            let back = Ed25519Cert::decode_pem(&pem).expect("our own armor decodes");
            assert_eq!(back.encode().ok(), c.encode().ok());
        }
        let _ = armor::decode("RSA PUBLIC KEY", text);
    }
});
