//! Building and signing our descriptor, item for item as C tor's
//! `router_dump_router_to_string` (tor-wire-brief §10.2).

use std::time::{Duration, SystemTime};

use sha1::Sha1;
use sha2::{Digest as _, Sha256};

use super::{is_nickname, DescriptorParams, ED_SIG_PREFIX, MAX_DESCRIPTOR_SIZE, PROTOCOLS};
use crate::cert::{make_ntor_onion_key_crosscert, make_tap_onion_key_crosscert};
use crate::crypto::ll::X25519Public;
use crate::crypto::rsa::{spaced_fingerprint, PUBLIC_KEY_PEM_LABEL};
use crate::dir::doc::policy::{desc_lines, is_reject_all_v4, summarize_v6};
use crate::dir::doc::token::{b64_nopad, format_time, DocError, DocWriter};
use crate::keys::RelayKeys;

fn invalid(why: impl Into<String>) -> DocError {
    DocError::Invalid(why.into())
}

/// Text that must fit on one item line.
fn one_line(what: &str, s: &str) -> Result<(), DocError> {
    if s.bytes().any(|b| b == b'\n' || b == b'\r' || b == 0) {
        return Err(invalid(format!("{what} contains a line break or NUL")));
    }
    Ok(())
}

/// Builds and signs the descriptor for `keys` and `p`, in C tor 0.4.9's item order.
///
/// The ntor crosscert expires `published` + the onion-key lifetime of `keys`' policy, as C
/// tor's; the identity certificate is the one in `keys`.
pub fn build_descriptor(keys: &RelayKeys, p: &DescriptorParams) -> Result<String, DocError> {
    if !is_nickname(&p.nickname) {
        return Err(invalid(format!("bad nickname {:?}", p.nickname)));
    }
    one_line("platform", &p.platform)?;
    if p.platform.is_empty() {
        return Err(invalid("empty platform"));
    }
    if let Some(c) = &p.contact {
        one_line("contact", c)?;
    }
    for f in &p.family {
        if f.is_empty() || f.bytes().any(|b| b.is_ascii_whitespace() || b == 0) {
            return Err(invalid(format!("bad family member {f:?}")));
        }
    }
    let rsa_id = keys.rsa_id();
    let ed_id = keys.ed_id();
    let published = SystemTime::UNIX_EPOCH + Duration::from_secs(p.published);
    let ntor_public = X25519Public::from(keys.ntor_onion_secret());
    let (ntor_cc, sign_bit) = make_ntor_onion_key_crosscert(
        keys.ntor_onion_secret(),
        &ed_id,
        published + keys.policy().onion_key_lifetime,
    )
    .map_err(|e| invalid(format!("ntor crosscert: {e}")))?;
    let tap_cc = make_tap_onion_key_crosscert(keys.tap_onion_key(), &rsa_id, &ed_id)
        .map_err(|e| invalid(format!("TAP crosscert: {e}")))?;

    let mut w = DocWriter::new();
    w.item_str(
        "router",
        &format!("{} {} {} 0 {}", p.nickname, p.ipv4, p.or_port, p.dir_port),
    );
    w.item("identity-ed25519", &[])
        .object(crate::cert::ED25519_CERT_PEM_LABEL, keys.signing_cert());
    w.item("master-key-ed25519", &[&ed_id.to_base64()]);
    if let Some(a6) = p.ipv6_or {
        w.item_str("or-address", &format!("[{}]:{}", a6.ip(), a6.port()));
    }
    w.item_str("platform", &p.platform);
    w.item_str("proto", PROTOCOLS);
    w.item_str("published", &format_time(p.published));
    w.item_str("fingerprint", &spaced_fingerprint(&rsa_id));
    w.item_str("uptime", &p.uptime.to_string());
    w.item_str(
        "bandwidth",
        &format!(
            "{} {} {}",
            p.bandwidth.average, p.bandwidth.burst, p.bandwidth.observed
        ),
    );
    w.item("onion-key", &[]).object(
        PUBLIC_KEY_PEM_LABEL,
        &keys.tap_onion_key().public().to_der(),
    );
    w.item("signing-key", &[])
        .object(PUBLIC_KEY_PEM_LABEL, &keys.identity_key().public().to_der());
    w.item("onion-key-crosscert", &[])
        .object("CROSSCERT", &tap_cc);
    w.item_str("ntor-onion-key-crosscert", &sign_bit.to_string())
        .object(crate::cert::ED25519_CERT_PEM_LABEL, &ntor_cc);
    if !p.family.is_empty() {
        w.item_str("family", &p.family.join(" "));
    }
    if p.hidden_service_dir {
        w.item("hidden-service-dir", &[]);
    }
    if let Some(c) = &p.contact {
        if !c.is_empty() {
            w.item_str("contact", c);
        }
    }
    w.item_str("ntor-onion-key", &b64_nopad(ntor_public.as_bytes()));
    let mut ended = false;
    for rule in &p.exit_policy {
        for line in desc_lines(rule) {
            w.raw(&line).raw("\n");
        }
        if is_reject_all_v4(rule) {
            ended = true;
            break;
        }
    }
    if !ended {
        w.raw("reject *:*\n");
    }
    let p6 = summarize_v6(&p.exit_policy);
    if !p6.allows_none() {
        w.item_str("ipv6-policy", &p6.to_string());
    }
    if p.tunnelled_dir_server {
        w.item("tunnelled-dir-server", &[]);
    }
    w.raw("router-sig-ed25519 ");
    let digest = Sha256::new()
        .chain_update(ED_SIG_PREFIX)
        .chain_update(w.as_str().as_bytes())
        .finalize();
    let ed_sig = keys.signing_key().sign(&digest);
    w.raw(&b64_nopad(&ed_sig.to_bytes())).raw("\n");
    w.item("router-signature", &[]);
    let sha1 = Sha1::digest(w.as_str().as_bytes());
    let rsa_sig = keys
        .identity_key()
        .sign(&sha1)
        .map_err(|e| invalid(format!("RSA signature: {e}")))?;
    w.object("SIGNATURE", &rsa_sig);
    let text = w.finish();
    if text.len() > MAX_DESCRIPTOR_SIZE {
        return Err(invalid(format!(
            "descriptor is {} bytes, more than the {MAX_DESCRIPTOR_SIZE} authorities accept",
            text.len()
        )));
    }
    Ok(text)
}
