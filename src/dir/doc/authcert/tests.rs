#![allow(clippy::unwrap_used)]
use super::*;
use rand::SeedableRng;

/// Small keys keep the unit tests fast; sizes are not what is under test here.
fn small_keys(seed: u64) -> AuthorityKeys {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let id = generate_rsa(&mut rng, 1024).unwrap();
    let sk = generate_rsa(&mut rng, 1024).unwrap();
    AuthorityKeys::certify(
        id,
        sk,
        1_700_000_000,
        86_400 * 365,
        Some("127.0.0.1:7000".parse().unwrap()),
    )
    .unwrap()
}

#[test]
fn certify_parse_round_trip() {
    let k = small_keys(1);
    let text = k.cert_text();
    assert!(
        text.starts_with("dir-key-certificate-version 3\ndir-address 127.0.0.1:7000\nfingerprint ")
    );
    assert!(text.contains("-----BEGIN ID SIGNATURE-----\n"));
    let c = AuthCert::parse(text).unwrap();
    assert_eq!(c.fingerprint, k.v3ident());
    assert_eq!(c.published, 1_700_000_000);
    assert_eq!(c.expires, 1_700_000_000 + 86_400 * 365);
    assert_eq!(
        c.signing_key_digest(),
        k.signing_key().public().fingerprint()
    );
    assert!(c.is_live(1_700_000_001) && !c.is_live(1_600_000_000));
    let two = format!("{text}\n{}", small_keys(2).cert_text());
    let many = AuthCert::parse_many(&two).unwrap();
    assert_eq!(many.len(), 2);
    assert_eq!(many[0], c);
}

#[test]
fn tampering_is_refused() {
    let k = small_keys(3);
    let text = k.cert_text();
    let other = small_keys(4);
    // A changed date breaks the certification.
    let bad = text.replace("dir-key-expires 2024", "dir-key-expires 2034");
    assert!(matches!(AuthCert::parse(&bad), Err(DocError::Signature(_))));
    // Another authority's signing key, with its crosscert: the certification fails.
    let swap_sk = |t: &str, from: &AuthorityKeys| {
        let grab = |t: &str| {
            let s = t.find("dir-signing-key\n").unwrap();
            let e = t.find("dir-key-certification\n").unwrap();
            t[s..e].to_string()
        };
        t.replace(&grab(t), &grab(from.cert_text()))
    };
    assert!(matches!(
        AuthCert::parse(&swap_sk(text, &other)),
        Err(DocError::Signature(_))
    ));
    // Wrong fingerprint.
    let fp = k.v3ident().to_hex();
    let bad = text.replace(&fp, &other.v3ident().to_hex());
    assert!(AuthCert::parse(&bad).is_err());
    for bad in [
        "",
        "garbage\n",
        &text[..text.len() - 30],
        &text.replace("version 3", "version 4"),
        &format!("x\n{text}"),
    ] {
        assert!(AuthCert::parse(bad).is_err(), "{bad:?}");
    }
    assert!(AuthCert::parse_many(&format!("{text}junk\n")).is_err());
}

#[test]
fn save_and_load() {
    let k = small_keys(5);
    let dir = std::env::temp_dir().join(format!("og-authcert-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    k.save(&dir).unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    for f in [IDENTITY_KEY_FILE, SIGNING_KEY_FILE, CERTIFICATE_FILE] {
        let mode = fs::metadata(dir.join(f)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{f}");
    }
    let l = AuthorityKeys::load(&dir).unwrap();
    assert_eq!(l.cert(), k.cert());
    assert!(l.identity_key().is_some());
    // Without the identity key the rest still loads.
    fs::remove_file(dir.join(IDENTITY_KEY_FILE)).unwrap();
    assert!(AuthorityKeys::load(&dir).unwrap().identity_key().is_none());
    // A signing key that the certificate does not certify is refused.
    small_keys(6).save(&dir).unwrap();
    fs::write(dir.join(CERTIFICATE_FILE), k.cert_text()).unwrap();
    assert!(AuthorityKeys::load(&dir).is_err());
    let _ = fs::remove_dir_all(&dir);
}
