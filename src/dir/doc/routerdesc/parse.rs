//! Parsing and checking a router descriptor (dir-spec §2.1.1; C tor's
//! `router_parse_entry_from_string`, Arti's `RouterDesc::parse`).

use std::net::{Ipv4Addr, SocketAddrV6};
use std::time::{Duration, SystemTime};

use ed25519_dalek::{Signature, Verifier as _};
use sha1::Sha1;
use sha2::{Digest as _, Sha256};

use super::{is_nickname, Bandwidth, RouterDescriptor, ED_SIG_PREFIX, MAX_DESCRIPTOR_SIZE};
use crate::cert::{
    check_ntor_onion_key_crosscert, check_tap_onion_key_crosscert, CertType, Ed25519Cert,
    ED25519_CERT_PEM_LABEL,
};
use crate::crypto::ll::X25519Public;
use crate::crypto::rsa::{parse_spaced_fingerprint, RsaPublic, PUBLIC_KEY_PEM_LABEL};
use crate::dir::doc::policy::parse_desc_rule;
use crate::dir::doc::token::{b64_decode, parse_time, tokenize, DocError, Item};
use crate::dir::flags::PortSummary;
use crate::ids::Ed25519Identity;

/// Items that must appear exactly once.
const REQUIRED: &[&str] = &[
    "router",
    "identity-ed25519",
    "master-key-ed25519",
    "bandwidth",
    "published",
    "signing-key",
    "ntor-onion-key",
    "ntor-onion-key-crosscert",
    "router-sig-ed25519",
    "router-signature",
    // C tor quietly drops descriptors without `proto` ("obsolete router descriptor").
    "proto",
];

/// Items that may appear at most once (C tor's `routerdesc_token_table` `T01`s).
const AT_MOST_ONCE: &[&str] = &[
    "platform",
    "fingerprint",
    "uptime",
    "onion-key",
    "onion-key-crosscert",
    "family",
    "contact",
    "hidden-service-dir",
    "tunnelled-dir-server",
    "ipv6-policy",
    "extra-info-digest",
    "caches-extra-info",
    "hibernating",
    "allow-single-hop-exits",
    "overload-general",
    "bridge-distribution-request",
    "read-history",
    "write-history",
    "eventdns",
];

fn sig(why: impl Into<String>) -> DocError {
    DocError::Signature(why.into())
}

/// The one item with keyword `kw`, if any; the count rules were checked before.
fn find<'a, 'b>(items: &'b [Item<'a>], kw: &str) -> Option<&'b Item<'a>> {
    items.iter().find(|i| i.keyword == kw)
}

fn need<'a, 'b>(items: &'b [Item<'a>], kw: &'static str) -> Result<&'b Item<'a>, DocError> {
    find(items, kw).ok_or(DocError::Missing(kw))
}

/// The text after `keyword ` on the item's line, exactly as written (for `platform` and
/// `contact`, whose spacing matters to nobody but should survive a round trip).
fn rest_of_line<'a>(text: &'a str, item: &Item<'_>) -> &'a str {
    let line = text
        .get(item.start..)
        .and_then(|s| s.split('\n').next())
        .unwrap_or("");
    line.get(item.keyword.len()..)
        .map(|s| s.trim_start_matches([' ', '\t']))
        .unwrap_or("")
}

fn parse_u64(item: &Item<'_>, i: usize, what: &str) -> Result<u64, DocError> {
    let a = item.arg(i, what)?;
    if a.is_empty() || a.len() > 20 || !a.bytes().all(|b| b.is_ascii_digit()) {
        return Err(item.bad(format!("{what} {a:?} is not a number")));
    }
    a.parse()
        .map_err(|_| item.bad(format!("{what} {a:?} is out of range")))
}

fn parse_u16(item: &Item<'_>, i: usize, what: &str) -> Result<u16, DocError> {
    let v = parse_u64(item, i, what)?;
    u16::try_from(v).map_err(|_| item.bad(format!("{what} {v} is not a port")))
}

fn rsa_key(item: &Item<'_>, what: &str) -> Result<RsaPublic, DocError> {
    let der = item.object_labelled(PUBLIC_KEY_PEM_LABEL)?;
    let key = RsaPublic::from_der(der).map_err(|_| item.bad(format!("bad {what} RSA key")))?;
    if key.bits() != 1024 || !key.exponent_is(65537) {
        return Err(item.bad(format!(
            "{what} must be RSA-1024 with exponent 65537, not {} bits",
            key.bits()
        )));
    }
    Ok(key)
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Checks the structure rules: sizes, counts, and where the fixed items sit.
fn check_structure(text: &str, items: &[Item<'_>]) -> Result<(), DocError> {
    for kw in REQUIRED {
        match items.iter().filter(|i| i.keyword == *kw).nth(1) {
            Some(second) => {
                return Err(DocError::Repeated {
                    line: second.line,
                    keyword: kw.to_string(),
                })
            }
            None if find(items, kw).is_none() => return Err(DocError::Missing(kw)),
            None => {}
        }
    }
    for kw in AT_MOST_ONCE {
        if let Some(second) = items.iter().filter(|i| i.keyword == *kw).nth(1) {
            return Err(DocError::Repeated {
                line: second.line,
                keyword: kw.to_string(),
            });
        }
    }
    let kw_at = |i: usize| items.get(i).map(|x| x.keyword);
    if kw_at(0) != Some("router") {
        return Err(DocError::Invalid(
            "a descriptor must start with a `router` item".into(),
        ));
    }
    if kw_at(1) != Some("identity-ed25519") {
        return Err(DocError::Invalid(
            "`identity-ed25519` must directly follow `router`".into(),
        ));
    }
    let n = items.len();
    if n < 2 || kw_at(n - 1) != Some("router-signature") {
        return Err(DocError::Invalid(
            "`router-signature` must be the last item".into(),
        ));
    }
    if kw_at(n - 2) != Some("router-sig-ed25519") {
        return Err(DocError::Invalid(
            "`router-sig-ed25519` must come just before `router-signature`".into(),
        ));
    }
    if items.last().map(|i| i.end) != Some(text.len()) {
        return Err(DocError::Invalid("text after the RSA signature".into()));
    }
    Ok(())
}

pub(super) fn parse(text: &str, now: u64) -> Result<RouterDescriptor, DocError> {
    if text.len() > MAX_DESCRIPTOR_SIZE {
        return Err(DocError::Invalid(format!(
            "descriptor is {} bytes; the limit is {MAX_DESCRIPTOR_SIZE}",
            text.len()
        )));
    }
    // Blank lines after the signature are dropped, as Arti does (some relays serve them).
    let text = match text.trim_end_matches('\n').len() {
        n if n < text.len() => text.get(..n + 1).unwrap_or(text),
        _ => text,
    };
    let items = tokenize(text)?;
    check_structure(text, &items)?;
    let now_t = SystemTime::UNIX_EPOCH + Duration::from_secs(now);

    // router nickname address ORPort SOCKSPort DirPort
    let router = need(&items, "router")?;
    if router.args.len() < 5 {
        return Err(router.bad("expected 5 arguments: nickname address ORPort 0 DirPort"));
    }
    let nickname = router.arg(0, "nickname")?;
    if !is_nickname(nickname) {
        return Err(router.bad(format!("bad nickname {nickname:?}")));
    }
    let ipv4: Ipv4Addr = router
        .arg(1, "address")?
        .parse()
        .map_err(|_| router.bad("bad IPv4 address"))?;
    let or_port = parse_u16(router, 2, "ORPort")?;
    if or_port == 0 {
        return Err(router.bad("ORPort is 0"));
    }
    parse_u16(router, 3, "SOCKSPort")?;
    let dir_port = parse_u16(router, 4, "DirPort")?;

    // The Ed25519 chain: identity cert (type 4, includes the master key), master key.
    let id_item = need(&items, "identity-ed25519")?;
    let cert_bytes = id_item.object_labelled(ED25519_CERT_PEM_LABEL)?;
    let unchecked =
        Ed25519Cert::decode(cert_bytes).map_err(|e| id_item.bad(format!("certificate: {e}")))?;
    unchecked
        .peek()
        .expect_type(CertType::IDENTITY_V_SIGNING)
        .map_err(|e| id_item.bad(format!("certificate: {e}")))?;
    let ed_id = unchecked
        .peek()
        .included_signing_key()
        .ok_or_else(|| id_item.bad("certificate lacks the signed-with-ed25519-key extension"))?;
    let verified = unchecked
        .check_signature(None)
        .map_err(|e| sig(format!("identity-ed25519 certificate: {e}")))?
        .check_valid_at(now_t)
        .map_err(|e| sig(format!("identity-ed25519 certificate: {e}")))?;
    let signing_vk = verified
        .certified_verifying_key()
        .map_err(|e| id_item.bad(format!("certified key: {e}")))?;
    let signing_key = Ed25519Identity(signing_vk.to_bytes());
    let cert_expiry = secs(verified.cert().expiry());

    let mk = need(&items, "master-key-ed25519")?;
    let master = Ed25519Identity::from_base64(mk.arg(0, "key")?)
        .ok_or_else(|| mk.bad("not a base64 Ed25519 key"))?;
    if master != ed_id {
        return Err(mk.bad("does not match the key that signed identity-ed25519"));
    }

    // RSA identity and fingerprint.
    let sk_item = need(&items, "signing-key")?;
    let identity_key = rsa_key(sk_item, "signing-key")?;
    let rsa_id = identity_key.fingerprint();
    if let Some(fp) = find(&items, "fingerprint") {
        let got = parse_spaced_fingerprint(&fp.args_joined())
            .ok_or_else(|| fp.bad("not a fingerprint"))?;
        if got != rsa_id {
            return Err(fp.bad("does not match the signing-key"));
        }
    }

    // Signatures over the text.
    let ed_item = need(&items, "router-sig-ed25519")?;
    let ed_end = ed_item.start + "router-sig-ed25519 ".len();
    if text.get(ed_item.start..ed_end) != Some("router-sig-ed25519 ") {
        return Err(ed_item.bad("must be written `router-sig-ed25519 SIG`"));
    }
    let ed_sig: [u8; 64] = b64_decode(ed_item.arg(0, "signature")?)
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| ed_item.bad("not a base64 64-byte signature"))?;
    let signed = text.get(..ed_end).unwrap_or_default();
    let digest = Sha256::new()
        .chain_update(ED_SIG_PREFIX)
        .chain_update(signed.as_bytes())
        .finalize();
    signing_vk
        .verify(&digest, &Signature::from_bytes(&ed_sig))
        .map_err(|_| sig("router-sig-ed25519 does not verify under the signing key"))?;

    let rsa_item = need(&items, "router-signature")?;
    let rsa_end = rsa_item.start + "router-signature\n".len();
    if text.get(rsa_item.start..rsa_end) != Some("router-signature\n") {
        return Err(rsa_item.bad("must be written `router-signature` alone on its line"));
    }
    let sha1: [u8; 20] = Sha1::digest(text.get(..rsa_end).unwrap_or_default().as_bytes()).into();
    let rsa_sig = rsa_item.object_labelled("SIGNATURE")?;
    identity_key
        .verify(&sha1, rsa_sig)
        .map_err(|_| sig("router-signature does not verify under the signing-key"))?;

    // Onion keys and their crosscerts.
    let ntor_item = need(&items, "ntor-onion-key")?;
    let ntor: [u8; 32] = b64_decode(ntor_item.arg(0, "key")?)
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| ntor_item.bad("not a base64 32-byte key"))?;
    let ntor_onion_key = X25519Public::from(ntor);
    let ncc = need(&items, "ntor-onion-key-crosscert")?;
    if ncc.args.len() != 1 {
        return Err(ncc.bad("expected exactly one argument, the sign bit"));
    }
    let bit = match ncc.arg(0, "sign bit")? {
        "0" => 0,
        "1" => 1,
        b => return Err(ncc.bad(format!("sign bit {b:?} is not 0 or 1"))),
    };
    check_ntor_onion_key_crosscert(
        ncc.object_labelled(ED25519_CERT_PEM_LABEL)?,
        &ntor_onion_key,
        bit,
        &ed_id,
        now_t,
    )
    .map_err(|e| sig(format!("ntor-onion-key-crosscert: {e}")))?;

    let tap_onion_key = match find(&items, "onion-key") {
        Some(ok) => {
            let tap = rsa_key(ok, "onion-key")?;
            let cc = find(&items, "onion-key-crosscert")
                .ok_or(DocError::Missing("onion-key-crosscert"))?;
            check_tap_onion_key_crosscert(cc.object_labelled("CROSSCERT")?, &tap, &rsa_id, &ed_id)
                .map_err(|e| sig(format!("onion-key-crosscert: {e}")))?;
            Some(tap)
        }
        None => None,
    };

    // The rest.
    let pb = need(&items, "published")?;
    let published = parse_time(pb.arg(0, "date")?, pb.arg(1, "time")?)
        .ok_or_else(|| pb.bad("not YYYY-MM-DD HH:MM:SS"))?;
    let bw = need(&items, "bandwidth")?;
    let bandwidth = Bandwidth {
        average: parse_u64(bw, 0, "average")?,
        burst: parse_u64(bw, 1, "burst")?,
        observed: parse_u64(bw, 2, "observed")?,
    };
    let uptime = find(&items, "uptime")
        .map(|u| parse_u64(u, 0, "uptime"))
        .transpose()?;
    let mut ipv6_or = None;
    for oa in items.iter().filter(|i| i.keyword == "or-address") {
        let a = oa.arg(0, "address")?;
        if a.starts_with('[') {
            let sa: SocketAddrV6 = a.parse().map_err(|_| oa.bad("bad [IPv6]:port"))?;
            if ipv6_or.is_none() {
                ipv6_or = Some(sa);
            }
        } else if a.parse::<std::net::SocketAddrV4>().is_err() {
            return Err(oa.bad("bad address:port"));
        }
    }
    let mut exit_policy = Vec::new();
    for it in items
        .iter()
        .filter(|i| matches!(i.keyword, "accept" | "reject" | "accept6" | "reject6"))
    {
        if it.args.len() != 1 {
            return Err(it.bad("expected one exit pattern"));
        }
        let pattern = it.arg(0, "pattern")?;
        exit_policy.push(parse_desc_rule(it.keyword, pattern).map_err(|e| it.bad(e.to_string()))?);
    }
    let ipv6_policy = match find(&items, "ipv6-policy") {
        Some(p6) => Some(
            PortSummary::parse(p6.arg(0, "accept/reject")?, p6.arg(1, "ports")?)
                .ok_or_else(|| p6.bad("not accept|reject PORTLIST"))?,
        ),
        None => None,
    };
    let digest = sha1;
    Ok(RouterDescriptor {
        nickname: nickname.to_string(),
        ipv4,
        or_port,
        dir_port,
        ipv6_or,
        platform: find(&items, "platform").map(|p| rest_of_line(text, p).to_string()),
        protocols: need(&items, "proto")?.args_joined(),
        published,
        uptime,
        bandwidth,
        identity_key,
        rsa_id,
        ed_id,
        signing_key,
        tap_onion_key,
        ntor_onion_key,
        family: find(&items, "family")
            .map(|f| f.args.iter().map(|s| s.to_string()).collect())
            .unwrap_or_default(),
        exit_policy,
        ipv6_policy,
        tunnelled_dir_server: find(&items, "tunnelled-dir-server").is_some(),
        hidden_service_dir: find(&items, "hidden-service-dir").is_some(),
        contact: find(&items, "contact").map(|c| rest_of_line(text, c).to_string()),
        cert_expiry,
        digest,
        text: text.to_string(),
    })
}
