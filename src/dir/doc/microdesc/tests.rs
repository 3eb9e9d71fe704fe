#![allow(clippy::unwrap_used)]

use super::*;
use crate::dir::doc::routerdesc::{build_descriptor, RouterDescriptor};

fn desc() -> RouterDescriptor {
    let k = crate::dir::doc::routerdesc::tests::keys();
    let text = build_descriptor(k, &crate::dir::doc::routerdesc::tests::params()).unwrap();
    RouterDescriptor::parse(&text, 1_800_000_000).unwrap()
}

#[test]
fn made_as_an_authority_makes_it() {
    let d = desc();
    let text = microdesc_text(&d);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "onion-key");
    assert_eq!(lines[1], "-----BEGIN RSA PUBLIC KEY-----");
    let ntor = lines
        .iter()
        .find(|l| l.starts_with("ntor-onion-key "))
        .unwrap();
    assert_eq!(ntor.len(), "ntor-onion-key ".len() + 43, "unpadded");
    let fam = format!(
        "family $0123456789ABCDEF0123456789ABCDEF01234567 ${} friend",
        d.rsa_id.to_hex()
    );
    let mut want_fam: Vec<&str> = fam.split(' ').skip(1).collect();
    want_fam.sort();
    let tail: Vec<&str> = lines[lines.len() - 4..].to_vec();
    assert_eq!(
        tail,
        [
            format!("family {}", want_fam.join(" ")).as_str(),
            "p accept 80,443",
            "p6 accept 80,443",
            format!("id ed25519 {}", d.ed_id.to_base64()).as_str(),
        ]
    );
    let mds = Microdesc::parse_many(&text).unwrap();
    assert_eq!(mds.len(), 1);
    let md = &mds[0];
    assert_eq!(md.text, text);
    assert_eq!(md.digest, <[u8; 32]>::from(Sha256::digest(text.as_bytes())));
    assert_eq!(md.digest_b64().len(), 43);
    assert_eq!(md.tap_onion_key, d.tap_onion_key);
    assert_eq!(md.ntor_onion_key, d.ntor_onion_key);
    assert_eq!(md.ed_id, Some(d.ed_id));
    assert_eq!(md.ipv4_policy.to_string(), "accept 80,443");
    assert_eq!(
        md.ipv6_policy.as_ref().unwrap().to_string(),
        "accept 80,443"
    );
    assert_eq!(md.family.len(), 3);
}

#[test]
fn canonical_families() {
    let own = RsaIdentity([0xAB; 20]);
    let got = canonical_family(
        &[
            "Zed".into(),
            "$0123456789abcdef0123456789abcdef01234567=nick".into(),
            "0123456789ABCDEF0123456789ABCDEF01234567".into(),
            "zed".into(),
            "not-a-nick!".into(),
            "$ABABABABABABABABABABABABABABABABABABABAB".into(),
        ],
        &own,
    );
    assert_eq!(
        got,
        [
            "$0123456789ABCDEF0123456789ABCDEF01234567",
            "$ABABABABABABABABABABABABABABABABABABABAB",
            "not-a-nick!",
            "zed"
        ]
    );
}

#[test]
fn splits_many_with_annotations_and_tapless() {
    let a = microdesc_text(&desc());
    let tapless = "onion-key\nntor-onion-key AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\nid ed25519 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n";
    let bare = "ntor-onion-key BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBA=\np reject 25\n";
    let bare2 = "ntor-onion-key CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCA\n";
    let body = format!("@last-listed 2024-01-01 00:00:00\n{a}{tapless}{bare}{bare2}{a}");
    let mds = Microdesc::parse_many(&body).unwrap();
    assert_eq!(mds.len(), 5);
    assert_eq!(mds[0].text, a);
    assert_eq!(mds[1].text, tapless);
    assert!(mds[1].tap_onion_key.is_none());
    assert_eq!(mds[1].ipv4_policy, PortSummary::reject_all());
    assert_eq!(mds[2].text, bare);
    assert!(mds[2].ipv4_policy.allows(80) && !mds[2].ipv4_policy.allows(25));
    assert_eq!(mds[3].text, bare2);
    assert_eq!(mds[4].digest, mds[0].digest);
}

#[test]
fn bad_microdescs_are_refused() {
    for bad in [
        "",
        "onion-key\n",
        "family x\n",
        "onion-key\nntor-onion-key AAAA\n",
        "onion-key\nntor-onion-key AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\np allow 80\n",
        "onion-key\nntor-onion-key AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\np accept 80\np accept 81\n",
        "onion-key\nntor-onion-key AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\nid ed25519 !!\n",
        "onion-key x\nntor-onion-key AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
        "onion-key\n-----BEGIN RSA PUBLIC KEY-----\nAAAA\n-----END RSA PUBLIC KEY-----\nntor-onion-key AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
    ] {
        assert!(Microdesc::parse_many(bad).is_err(), "{bad:?}");
    }
    // The error names the line in the whole body.
    let good = "onion-key\nntor-onion-key AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n";
    let e =
        Microdesc::parse_many(&format!("{good}{good}onion-key\nntor-onion-key x\n")).unwrap_err();
    assert!(e.to_string().contains("line 6"), "{e}");
}

proptest::proptest! {
    #[test]
    fn parse_never_panics(s in "(onion-key|ntor-onion-key|family|p|p6|id|@a|-----BEGIN A-----|-----END A-----|AAAA|[ a-z0-9=,\\-\n]){0,40}") {
        let _ = Microdesc::parse_many(&s);
    }
}
