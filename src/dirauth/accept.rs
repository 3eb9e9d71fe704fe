//! Whether the authority accepts an uploaded descriptor (C tor `process_descs.c`:
//! `dirserv_add_descriptor`, `authdir_wants_to_reject_router`, `dirserv_router_get_status`),
//! with C tor's reply texts, and the Ed25519/RSA key pins (C tor `keypin.c`).
//!
//! Checked here, in C tor's order: size, platform (a `Tor ` platform must parse and be at
//! least 0.4.8.0; other platforms are "nonstandard" and accepted), the ntor key, key pinning,
//! published time (at most 12 h ahead, 24 h behind), the address (no private addresses
//! outside test networks). Parsing and signature checks come first, in the descriptor parser.
//! `AuthDirMaxServersPerAddr` is applied when building the consensus ([`sybil_omit`]), as C
//! tor does at vote time.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use super::DirAuthError;
use crate::ids::{Ed25519Identity, RsaIdentity};

/// Largest accepted descriptor (C tor `MAX_DESCRIPTOR_UPLOAD_SIZE`).
pub const MAX_DESCRIPTOR_UPLOAD_SIZE: usize = 20_000;
/// How far ahead a descriptor's `published` may be (C tor `ROUTER_ALLOW_SKEW`).
pub const ROUTER_ALLOW_SKEW: u64 = 12 * 3600;
/// How old a descriptor may be (C tor `ROUTER_MAX_AGE_TO_PUBLISH`).
pub const ROUTER_MAX_AGE_TO_PUBLISH: u64 = 24 * 3600;

/// C tor's reply for a descriptor whose `Tor` version is too old.
pub const MSG_UPGRADE: &str = "Tor version is insecure or unsupported. Please upgrade!";
/// Reply for an unparsable `Tor` platform.
pub const MSG_PLATFORM: &str = "Malformed platform string.";
/// Reply for a missing ntor key.
pub const MSG_NTOR: &str = "Missing ntor curve25519 onion key. Please upgrade!";
/// Reply for a key-pinning mismatch.
pub const MSG_KEYPIN: &str = "Looks like your keypair has changed? This authority previously \
recorded a different RSA identity for this Ed25519 identity (or vice versa.) Did you replace or \
copy some of your key files, but not the others? You should either restore the expected \
keypair, or delete your keys and restart Tor to start your relay with a new identity.";
/// Reply for a descriptor published too far ahead.
pub const MSG_FUTURE: &str =
    "Rejected: Your clock is set too far in the future, or your timezone is not correct.";
/// Reply for a descriptor published too long ago.
pub const MSG_PAST: &str = "Rejected: Server is expired, or your clock is too far in the past, \
or your timezone is not correct.";
/// Reply for a private address.
pub const MSG_PRIVATE: &str = "Rejected: Address is a private address.";
/// Reply for an over-long descriptor.
pub const MSG_TOO_LARGE: &str = "Router descriptor was too large.";
/// Reply for a body that is not UTF-8.
pub const MSG_UTF8: &str = "descriptor(s) or extrainfo(s) not valid UTF-8 or had BOM.";
/// Reply for a body without descriptors.
pub const MSG_NONE: &str = "No descriptors found in your POST.";
/// Reply for an accepted descriptor.
pub const MSG_ACCEPTED: &str = "Descriptor accepted";
/// Reply (with status 200) for a descriptor already known, or older than the known one.
pub const MSG_NOT_NEW: &str = "Router descriptor was not new.";
/// Reply for a descriptor that does not parse or verify (the reason is logged only).
pub const MSG_PARSE: &str = "Couldn't parse router descriptor.";

/// The acceptance options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AcceptOptions {
    /// Private addresses allowed (`TestingTorNetwork` / `DirAllowPrivateAddresses`).
    pub allow_private: bool,
    /// `AuthDirPinKeys` (default 1).
    pub pin_keys: bool,
}

/// The facts of a parsed and signature-checked descriptor that the checks look at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadFacts<'a> {
    /// Descriptor length in bytes.
    pub len: usize,
    /// `platform`, if any.
    pub platform: Option<&'a str>,
    /// The ntor key is present and not all-zero.
    pub has_ntor: bool,
    /// RSA identity.
    pub rsa_id: RsaIdentity,
    /// Ed25519 identity.
    pub ed_id: Ed25519Identity,
    /// `published`.
    pub published: u64,
    /// IPv4 address.
    pub ipv4: Ipv4Addr,
}

/// Parses the `Tor a.b.c[.d][-tag]` version of a platform string; `Ok(None)` for a
/// nonstandard platform (one not starting with `Tor `); the error is C tor's reply.
pub fn platform_version(platform: &str) -> Result<Option<[u32; 4]>, &'static str> {
    let Some(rest) = platform.strip_prefix("Tor ") else {
        return Ok(None);
    };
    let word = rest.split(' ').next().unwrap_or("");
    let num = word.split('-').next().unwrap_or("");
    let parts: Vec<&str> = num.split('.').collect();
    if !(3..=4).contains(&parts.len()) {
        return Err(MSG_PLATFORM);
    }
    let mut v = [0u32; 4];
    for (slot, p) in v.iter_mut().zip(&parts) {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(MSG_PLATFORM);
        }
        *slot = p.parse().map_err(|_| MSG_PLATFORM)?;
    }
    Ok(Some(v))
}

/// Whether `ip` is an address C tor calls internal (`tor_addr_is_internal`).
pub fn is_internal(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    ip.is_unspecified()
        || o[0] == 0
        || o[0] == 10
        || o[0] == 127
        || (o[0] == 172 && (16..32).contains(&o[1]))
        || (o[0] == 192 && o[1] == 168)
        || (o[0] == 169 && o[1] == 254)
        || (o[0] == 100 && (64..128).contains(&o[1]))
}

/// Ed25519/RSA identity pins: each key, once seen with the other, stays with it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyPins {
    by_rsa: BTreeMap<RsaIdentity, Ed25519Identity>,
    by_ed: BTreeMap<Ed25519Identity, RsaIdentity>,
}

impl KeyPins {
    /// Whether the pair contradicts a pin.
    pub fn mismatch(&self, rsa: &RsaIdentity, ed: &Ed25519Identity) -> bool {
        self.by_rsa.get(rsa).is_some_and(|e| e != ed)
            || self.by_ed.get(ed).is_some_and(|r| r != rsa)
    }

    /// Pins the pair (when it does not contradict a pin); returns whether it was new.
    pub fn add(&mut self, rsa: RsaIdentity, ed: Ed25519Identity) -> bool {
        if self.mismatch(&rsa, &ed) || self.by_rsa.contains_key(&rsa) {
            return false;
        }
        self.by_rsa.insert(rsa, ed);
        self.by_ed.insert(ed, rsa);
        true
    }

    /// One `RSAHEX ED25519B64` line per pin (C tor's `key-pinning-journal` has a similar
    /// shape).
    pub fn to_text(&self) -> String {
        self.by_rsa
            .iter()
            .map(|(r, e)| format!("{} {}\n", r.to_hex(), e.to_base64()))
            .collect()
    }

    /// Parses [`KeyPins::to_text`].
    pub fn from_text(text: &str) -> Result<KeyPins, DirAuthError> {
        let mut p = KeyPins::default();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let bad = || DirAuthError::BadState {
                what: "key pinning",
                reason: format!("bad line {line:?}"),
            };
            let (r, e) = line.trim().split_once(' ').ok_or_else(bad)?;
            let r = RsaIdentity::from_hex(r).ok_or_else(bad)?;
            let e = Ed25519Identity::from_base64(e).ok_or_else(bad)?;
            p.add(r, e);
        }
        Ok(p)
    }
}

/// Runs the checks; `Err` carries C tor's reply text (sent with status 400).
pub fn check(
    f: &UploadFacts<'_>,
    now: u64,
    opts: &AcceptOptions,
    pins: &KeyPins,
) -> Result<(), &'static str> {
    if f.len > MAX_DESCRIPTOR_UPLOAD_SIZE {
        return Err(MSG_TOO_LARGE);
    }
    if let Some(p) = f.platform {
        match platform_version(p) {
            Err(m) => return Err(m),
            Ok(Some(v)) if v < [0, 4, 8, 0] => return Err(MSG_UPGRADE),
            Ok(_) => {}
        }
    }
    if !f.has_ntor {
        return Err(MSG_NTOR);
    }
    if opts.pin_keys && pins.mismatch(&f.rsa_id, &f.ed_id) {
        return Err(MSG_KEYPIN);
    }
    if f.published > now + ROUTER_ALLOW_SKEW {
        return Err(MSG_FUTURE);
    }
    if f.published + ROUTER_MAX_AGE_TO_PUBLISH < now {
        return Err(MSG_PAST);
    }
    if !opts.allow_private && is_internal(f.ipv4) {
        return Err(MSG_PRIVATE);
    }
    Ok(())
}

/// `AuthDirMaxServersPerAddr`: given `(rsa_id, ipv4, is_authority, bandwidth)` of every
/// relay, the identities to leave out because more than `max` share an address (0 means no
/// limit). Authorities are kept first, then higher bandwidth, then lower identity (C tor
/// `get_possible_sybil_list` orders by authority, running, bandwidth).
pub fn sybil_omit(relays: &[(RsaIdentity, Ipv4Addr, bool, u64)], max: usize) -> Vec<RsaIdentity> {
    if max == 0 {
        return Vec::new();
    }
    let mut by_addr: BTreeMap<Ipv4Addr, Vec<&(RsaIdentity, Ipv4Addr, bool, u64)>> = BTreeMap::new();
    for r in relays {
        by_addr.entry(r.1).or_default().push(r);
    }
    let mut out = Vec::new();
    for (_, mut v) in by_addr {
        v.sort_by(|a, b| b.2.cmp(&a.2).then(b.3.cmp(&a.3)).then(a.0.cmp(&b.0)));
        out.extend(v.iter().skip(max).map(|r| r.0));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_795_219_200;

    fn facts() -> UploadFacts<'static> {
        UploadFacts {
            len: 3000,
            platform: Some("Tor 0.4.9.11 on Linux"),
            has_ntor: true,
            rsa_id: RsaIdentity([1; 20]),
            ed_id: Ed25519Identity([2; 32]),
            published: NOW - 10,
            ipv4: Ipv4Addr::new(127, 0, 0, 1),
        }
    }

    #[test]
    fn platform_rule() {
        assert_eq!(
            platform_version("Tor 0.4.8.0-alpha-dev"),
            Ok(Some([0, 4, 8, 0]))
        );
        assert_eq!(
            platform_version("Tor 0.4.9.11 on Linux"),
            Ok(Some([0, 4, 9, 11]))
        );
        assert_eq!(platform_version("Oniongate 0.1"), Ok(None));
        assert!(platform_version("Tor x.y").is_err());
        let o = AcceptOptions {
            allow_private: true,
            pin_keys: true,
        };
        let p = KeyPins::default();
        assert_eq!(check(&facts(), NOW, &o, &p), Ok(()));
        let f = UploadFacts {
            platform: Some("Tor 0.4.7.16"),
            ..facts()
        };
        assert_eq!(check(&f, NOW, &o, &p), Err(MSG_UPGRADE));
        let f = UploadFacts {
            platform: Some("Tor banana"),
            ..facts()
        };
        assert_eq!(check(&f, NOW, &o, &p), Err(MSG_PLATFORM));
    }

    #[test]
    fn times_addresses_keys() {
        let mut o = AcceptOptions {
            allow_private: true,
            pin_keys: true,
        };
        let mut p = KeyPins::default();
        let f = UploadFacts {
            published: NOW + ROUTER_ALLOW_SKEW + 1,
            ..facts()
        };
        assert_eq!(check(&f, NOW, &o, &p), Err(MSG_FUTURE));
        let f = UploadFacts {
            published: NOW - ROUTER_MAX_AGE_TO_PUBLISH - 1,
            ..facts()
        };
        assert_eq!(check(&f, NOW, &o, &p), Err(MSG_PAST));
        let f = UploadFacts {
            has_ntor: false,
            ..facts()
        };
        assert_eq!(check(&f, NOW, &o, &p), Err(MSG_NTOR));
        o.allow_private = false;
        assert_eq!(check(&facts(), NOW, &o, &p), Err(MSG_PRIVATE));
        o.allow_private = true;
        assert!(p.add(RsaIdentity([1; 20]), Ed25519Identity([3; 32])));
        assert_eq!(check(&facts(), NOW, &o, &p), Err(MSG_KEYPIN));
        let p2 = KeyPins::from_text(&p.to_text()).unwrap();
        assert_eq!(p2, p);
        assert!(!p.add(RsaIdentity([9; 20]), Ed25519Identity([3; 32])));
        assert!(KeyPins::from_text("zz yy\n").is_err());
    }

    #[test]
    fn internal_addresses() {
        for a in [
            "10.1.1.1",
            "127.0.0.1",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.0.1",
            "0.1.2.3",
        ] {
            assert!(is_internal(a.parse().unwrap()), "{a}");
        }
        for a in ["8.8.8.8", "172.32.0.1", "100.128.0.1"] {
            assert!(!is_internal(a.parse().unwrap()), "{a}");
        }
    }

    #[test]
    fn sybil() {
        let ip = Ipv4Addr::new(1, 2, 3, 4);
        let r = |n: u8, auth: bool, bw: u64| (RsaIdentity([n; 20]), ip, auth, bw);
        let v = [
            r(1, false, 10),
            r(2, true, 1),
            r(3, false, 30),
            r(4, false, 20),
        ];
        assert_eq!(sybil_omit(&v, 0), vec![]);
        assert_eq!(
            sybil_omit(&v, 2),
            vec![RsaIdentity([4; 20]), RsaIdentity([1; 20])]
        );
    }
}
