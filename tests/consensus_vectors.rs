//! Authority certificates and consensuses from other implementations:
//!
//! - `tests/vectors/arti/`: Arti's tor-netdoc 0.47.0 `testdata/` (authcert1.txt,
//!   authcerts2.txt, mdconsensus1.txt, bad-certs/, bad-mdconsensus/) and `testdata2/`
//!   (cached-certs, cached-consensus, cached-microdesc-consensus: a chutney network of C tor
//!   authorities, consensus method 35);
//! - `tests/vectors/ctor049/`: captured from a private network of stock C tor 0.4.9.11
//!   (see the README there): both consensus flavours, `/tor/keys/all`, the
//!   microdescriptors, and one authority's tor-gencert key files.
//!
//! Every consensus must parse and verify against its certificates at a time inside its
//! validity; the broken variants must be refused; and the C tor consensuses must come out
//! byte for byte the same when rebuilt by [`ConsensusBuilder`] and re-signed with the
//! captured signing key.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::PathBuf;

use oniongate::dir::doc::authcert::{AuthCert, AuthorityKeys};
use oniongate::dir::doc::consensus::{
    sign_consensus, Consensus, ConsensusBuilder, Flavor, DUMMY_PUBLISHED,
};
use oniongate::dir::doc::token::b64_nopad;
use oniongate::ids::RsaIdentity;
use sha2::{Digest as _, Sha256};

fn path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(rel)
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn ids(certs: &[AuthCert]) -> Vec<RsaIdentity> {
    certs.iter().map(|c| c.fingerprint).collect()
}

#[test]
fn arti_authcerts() {
    let c = AuthCert::parse(&read("arti/authcert1.txt")).unwrap();
    assert_eq!(
        c.fingerprint.to_hex(),
        "ED03BB616EB2F60BEC80151114BB25CEF515B226"
    );
    assert_eq!(c.identity_key.bits(), 3072);
    let many = AuthCert::parse_many(&read("arti/authcerts2.txt")).unwrap();
    assert_eq!(many.len(), 3);
    for bad in [
        "bad-cc-tag",
        "bad-fingerprint",
        "bad-version",
        "wrong-end",
        "wrong-start",
    ] {
        let text = read(&format!("arti/bad-certs/{bad}"));
        assert!(AuthCert::parse(&text).is_err(), "{bad} accepted");
    }
}

#[test]
fn arti_md_consensus_verifies() {
    let certs = AuthCert::parse_many(&read("arti/authcerts2.txt")).unwrap();
    let c = Consensus::parse(&read("arti/mdconsensus1.txt")).unwrap();
    assert_eq!(c.flavor, Flavor::Microdesc);
    assert_eq!(c.method, 28);
    assert_eq!(c.sources.len(), 3);
    assert_eq!(c.signatures.len(), 3);
    c.verify(&ids(&certs), &certs, c.valid_after).unwrap();
    // Only two of the certificates: 2 of 3 is still a majority; one is not.
    c.verify(&ids(&certs), &certs[..2], c.valid_after).unwrap();
    assert!(c.verify(&ids(&certs), &certs[..1], c.valid_after).is_err());
    assert!(c.verify(&ids(&certs), &certs, c.valid_until + 1).is_err());
    for bad in [
        "bad-flags",
        "bad-md-digest",
        "bad-params",
        "bad-weight",
        "bad-weights",
        "wrong-order",
        "wrong-start",
        "wrong-version",
    ] {
        let text = read(&format!("arti/bad-mdconsensus/{bad}"));
        assert!(Consensus::parse(&text).is_err(), "{bad} accepted");
    }
}

#[test]
fn arti_chutney_consensuses_verify() {
    let certs = AuthCert::parse_many(&read("arti/testdata2/cached-certs")).unwrap();
    assert_eq!(certs.len(), 4);
    for (file, flavor) in [
        ("cached-consensus", Flavor::Ns),
        ("cached-microdesc-consensus", Flavor::Microdesc),
    ] {
        let c = Consensus::parse(&read(&format!("arti/testdata2/{file}"))).unwrap();
        assert_eq!(c.flavor, flavor, "{file}");
        assert_eq!(c.method, 35);
        assert_eq!(c.routers.len(), 7);
        c.verify(&ids(&certs), &certs, c.valid_after).unwrap();
        // Rebuilt, the text up to the signatures is the same.
        let rebuilt = ConsensusBuilder::from_consensus(&c).build_unsigned();
        let sig = c.text.find("directory-signature ").unwrap();
        assert_eq!(rebuilt, c.text[..sig], "{file}");
    }
}

#[test]
fn real_network_consensuses_rebuild_exactly() {
    // Arti's testdata-live: the live Tor network's consensuses of 2026-07-27 (nine C tor
    // authorities, method 35), cut down to five routers (so the signatures no longer
    // match; only the text is checked).
    for (file, flavor) in [
        ("live/consensus", Flavor::Ns),
        ("live/consensus-microdesc", Flavor::Microdesc),
    ] {
        let c = Consensus::parse(&read(&format!("arti/{file}"))).unwrap();
        assert_eq!(c.flavor, flavor);
        assert_eq!(c.method, 35);
        assert_eq!(c.sources.len(), 9);
        assert_eq!(c.signatures.len(), 9);
        assert!(c.shared_rand_current.is_some() && c.shared_rand_previous.is_some());
        assert_eq!(c.routers.len(), 5);
        let sig = c.text.find("directory-signature ").unwrap();
        let rebuilt = ConsensusBuilder::from_consensus(&c).build_unsigned();
        assert_eq!(rebuilt, c.text[..sig], "{file}");
    }
}

/// The microdescriptors of a `/tor/micro/d/` body, split at their `onion-key` lines.
fn split_microdescs(body: &str) -> Vec<&str> {
    let mut starts: Vec<usize> = body
        .match_indices("onion-key\n")
        .map(|(i, _)| i)
        .filter(|&i| i == 0 || body.as_bytes()[i - 1] == b'\n')
        .collect();
    starts.push(body.len());
    starts.windows(2).map(|w| &body[w[0]..w[1]]).collect()
}

#[test]
fn ctor_consensuses_parse_verify_and_rebuild_exactly() {
    let certs = AuthCert::parse_many(&read("ctor049/keys-all.txt")).unwrap();
    assert_eq!(certs.len(), 3);
    let auths = ids(&certs);
    let md = Consensus::parse(&read("ctor049/consensus-microdesc.txt")).unwrap();
    let ns = Consensus::parse(&read("ctor049/consensus-ns.txt")).unwrap();
    for c in [&md, &ns] {
        assert_eq!(c.method, 35);
        assert_eq!(c.sources.len(), 3);
        assert_eq!(c.routers.len(), 8);
        assert_eq!(c.signatures.len(), 3);
        assert_eq!(
            c.signatures.iter().all(|s| s.sha256),
            c.flavor == Flavor::Microdesc
        );
        c.verify(&auths, &certs, c.valid_after + 1).unwrap();
        c.verify(&auths, &certs, c.valid_until).unwrap();
        assert!(c.verify(&auths, &certs, c.valid_until + 1).is_err());
        c.verify_reasonably_live(&auths, &certs, c.valid_until + 3600)
            .unwrap();
        assert!(c.params.contains_key("cc_alg"));
        assert_eq!(c.bandwidth_weights.len(), 19);
    }
    assert!(md.routers.iter().all(|r| r.published == DUMMY_PUBLISHED
        && r.md_digest.is_some()
        && r.desc_digest.is_none()));
    assert!(ns.routers.iter().all(|r| r.published != DUMMY_PUBLISHED
        && r.desc_digest.is_some()
        && r.port_summary.is_some()));

    // The microdescriptors we fetched are the ones the consensus names.
    let body = read("ctor049/microdescs.txt");
    let got: BTreeSet<String> = split_microdescs(&body)
        .into_iter()
        .map(|m| b64_nopad(&Sha256::digest(m.as_bytes())))
        .collect();
    let want: BTreeSet<String> = md
        .routers
        .iter()
        .map(|r| b64_nopad(&r.md_digest.unwrap()))
        .collect();
    assert_eq!(got, want);

    // Rebuilt from the parsed fields, the unsigned text is C tor's, byte for byte; signed
    // with auth0's signing key (the rest of C tor's signatures kept), the whole document.
    let keys = AuthorityKeys::load(&path("ctor049/auth0-keys")).unwrap();
    assert!(keys.identity_key().is_none(), "tor-gencert encrypts it");
    assert!(certs.contains(keys.cert()));
    for c in [&md, &ns] {
        let sig = c.text.find("directory-signature ").unwrap();
        let rebuilt = ConsensusBuilder::from_consensus(c).build_unsigned();
        assert_eq!(rebuilt, c.text[..sig], "{:?}", c.flavor);
        // Drop auth0's signature block from C tor's text, then add ours back.
        let id = keys.v3ident().to_hex();
        let start = c.text.find(&format!(
            "directory-signature {}",
            if c.flavor == Flavor::Ns {
                id.clone()
            } else {
                format!("sha256 {id}")
            }
        ));
        let start = start.unwrap();
        let end = start + c.text[start..].find("-----END SIGNATURE-----\n").unwrap() + 24;
        let without = format!("{}{}", &c.text[..start], &c.text[end..]);
        let resigned = sign_consensus(&without, &keys).unwrap();
        assert_eq!(resigned, c.text, "{:?}", c.flavor);
    }
}
