//! Directory-manager decisions on made-up networks: three authorities (1024-bit test keys),
//! md consensuses signed by some of them, microdescriptors made from text.

#![allow(clippy::unwrap_used)]

use std::net::{Ipv4Addr, SocketAddr};

use rand::rngs::StdRng;
use rand::SeedableRng;

use super::*;
use crate::dir::doc::authcert::{generate_rsa, AuthorityKeys};
use crate::dir::doc::consensus::{sign_consensus, ConsensusBuilder, DirSource, RouterStatus};
use crate::dir::flags::RelayFlags;

const T0: u64 = 1_700_000_000;

fn auth(seed: u64) -> AuthorityKeys {
    let mut rng = StdRng::seed_from_u64(seed);
    let id = generate_rsa(&mut rng, 1024).unwrap();
    let sk = generate_rsa(&mut rng, 1024).unwrap();
    AuthorityKeys::certify(id, sk, T0 - 3600, 86_400 * 30, None).unwrap()
}

struct Net {
    auths: Vec<AuthorityKeys>,
    mds: Vec<Microdesc>,
}

fn md_text(i: u8) -> String {
    let key = b64_nopad(&[i; 32]);
    let policy = if i.is_multiple_of(3) {
        "p accept 80,443\n"
    } else {
        ""
    };
    format!("onion-key\nntor-onion-key {key}\n{policy}id ed25519 {key}\n")
}

impl Net {
    fn new(n_relays: u8) -> Net {
        let mds = (0..n_relays)
            .map(|i| Microdesc::parse_many(&md_text(i)).unwrap().remove(0))
            .collect();
        Net {
            auths: vec![auth(1), auth(2), auth(3)],
            mds,
        }
    }

    fn config(&self) -> DirMgrConfig {
        DirMgrConfig {
            authorities: self
                .auths
                .iter()
                .enumerate()
                .map(|(i, a)| AuthorityInfo {
                    nickname: format!("auth{i}"),
                    v3ident: a.v3ident(),
                    rsa_id: RsaIdentity([0xa0 + i as u8; 20]),
                    or_addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 5000 + i as u16)),
                    dir_port: 0,
                })
                .collect(),
            testing: true,
            paths_needed: None,
        }
    }

    /// A consensus valid from `va` listing every relay, signed by `signers`.
    fn consensus(&self, va: u64, signers: &[usize]) -> String {
        let mut b = ConsensusBuilder::new(Flavor::Microdesc, va, va + 3600, va + 3 * 3600);
        b.known_flags = [
            "Exit", "Fast", "Guard", "Running", "Stable", "V2Dir", "Valid",
        ]
        .map(String::from)
        .to_vec();
        for (i, a) in self.auths.iter().enumerate() {
            b.sources.push(DirSource {
                nickname: format!("auth{i}"),
                identity: a.v3ident(),
                hostname: "127.0.0.1".into(),
                address: Ipv4Addr::LOCALHOST,
                dir_port: 7000 + i as u16,
                or_port: 5000 + i as u16,
                contact: "a@b.c".into(),
                vote_digest: [i as u8; 20],
            });
        }
        for (i, md) in self.mds.iter().enumerate() {
            let i = i as u8;
            let mut flags = RelayFlags::RUNNING
                .union(RelayFlags::VALID)
                .union(RelayFlags::FAST)
                .union(RelayFlags::V2DIR);
            if i.is_multiple_of(3) {
                flags.insert(RelayFlags::EXIT);
            }
            if i % 3 == 1 {
                flags.insert(RelayFlags::GUARD.union(RelayFlags::STABLE));
            }
            b.routers.push(RouterStatus {
                nickname: format!("relay{i}"),
                rsa_id: RsaIdentity([i + 1; 20]),
                desc_digest: None,
                published: va - 100,
                ipv4: Ipv4Addr::new(10, 0, 0, i),
                or_port: 9001,
                dir_port: 0,
                ipv6_or: None,
                flags,
                version: Some("Tor 0.4.9.11".into()),
                protocols: None,
                bandwidth: Some(100),
                unmeasured: false,
                md_digest: Some(md.digest),
                port_summary: None,
            });
        }
        let mut text = b.build_unsigned();
        for &s in signers {
            text = sign_consensus(&text, &self.auths[s]).unwrap();
        }
        text
    }

    fn certs(&self) -> String {
        self.auths.iter().map(|a| a.cert_text()).collect()
    }

    fn mds_text(&self, which: impl Iterator<Item = usize>) -> String {
        which.map(|i| self.mds[i].text.as_str()).collect()
    }
}

fn rng() -> StdRng {
    StdRng::seed_from_u64(9)
}

/// Runs the fetches: consensus (signed by all), certs, every microdesc. The manager.
fn bootstrapped(net: &Net, now: u64) -> DirMgr {
    let mut dm = DirMgr::new(net.config());
    let mut r = rng();
    let f = dm.poll_fetches(now, &mut r);
    dm.handle_response(
        f[0].id,
        Ok(net.consensus(T0, &[0, 1, 2]).as_bytes()),
        now,
        &mut r,
    )
    .unwrap();
    let f = dm.poll_fetches(now, &mut r);
    dm.handle_response(f[0].id, Ok(net.certs().as_bytes()), now, &mut r)
        .unwrap();
    for f in dm.poll_fetches(now, &mut r) {
        let all = net.mds_text(0..net.mds.len());
        dm.handle_response(f.id, Ok(all.as_bytes()), now, &mut r)
            .unwrap();
    }
    dm
}

#[test]
fn first_fetch_is_the_consensus_from_an_authority() {
    let net = Net::new(6);
    let mut dm = DirMgr::new(net.config());
    let mut r = rng();
    assert_eq!(dm.progress(T0).percent, 0);
    let f = dm.poll_fetches(T0, &mut r);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].kind, FetchKind::Consensus);
    assert_eq!(f[0].path, "/tor/status-vote/current/consensus-microdesc");
    assert!(net
        .config()
        .authorities
        .iter()
        .any(|a| a.or_addr == f[0].server.or_addr));
    assert!(dm.poll_fetches(T0, &mut r).is_empty(), "one at a time");
    // A failure: the retry waits (backoff), then goes to another authority.
    dm.handle_response(f[0].id, Err("connection refused".into()), T0, &mut r)
        .unwrap_err();
    assert!(dm.poll_fetches(T0, &mut r).is_empty());
    let g = dm.poll_fetches(T0 + 2, &mut r);
    assert_eq!(g.len(), 1);
    assert_ne!(g[0].server, f[0].server, "the failed authority is avoided");
    assert!(matches!(
        dm.handle_response(999, Ok(b""), T0, &mut r),
        Err(DirMgrError::UnknownRequest(999))
    ));
}

#[test]
fn certs_then_microdescs_then_enough_dir_info() {
    let net = Net::new(6);
    let mut dm = DirMgr::new(net.config());
    let mut r = rng();
    let now = T0 + 10;
    let f = dm.poll_fetches(now, &mut r);
    dm.note_phase(BootstrapPhase::RequestingStatus);
    assert_eq!(dm.progress(now).percent, 25);
    dm.handle_response(
        f[0].id,
        Ok(net.consensus(T0, &[0, 1, 2]).as_bytes()),
        now,
        &mut r,
    )
    .unwrap();
    assert!(dm.consensus().is_none(), "waits for certificates");
    assert_eq!(dm.progress(now).phase, BootstrapPhase::LoadingKeys);
    // Certificates for all three signers, in one request.
    let f = dm.poll_fetches(now, &mut r);
    assert_eq!(f.len(), 1);
    let FetchKind::Certs(ids) = &f[0].kind else {
        panic!("{f:?}")
    };
    assert_eq!(ids.len(), 3);
    assert!(f[0].path.starts_with("/tor/keys/fp/"));
    assert_eq!(f[0].path.matches('+').count(), 2);
    dm.handle_response(f[0].id, Ok(net.certs().as_bytes()), now, &mut r)
        .unwrap();
    assert!(dm.consensus().is_some());
    // Microdescriptors: 6 missing, one request (at least 32 per request), from a cache.
    let f = dm.poll_fetches(now, &mut r);
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(f[0].path.starts_with("/tor/micro/d/"));
    assert_eq!(f[0].path.matches('-').count(), 5);
    assert_eq!(
        f[0].server.or_addr.port(),
        9001,
        "a V2Dir cache from the consensus"
    );
    dm.note_phase(BootstrapPhase::RequestingDescriptors);
    assert!(!dm.have_enough_dir_info(now));
    // Half of them: progress between 50 and 75, not enough yet.
    dm.handle_response(
        f[0].id,
        Ok(net.mds_text([0, 1, 2].into_iter()).as_bytes()),
        now,
        &mut r,
    )
    .unwrap();
    let p = dm.progress(now);
    assert_eq!(p.phase, BootstrapPhase::LoadingDescriptors);
    assert!(p.percent > 50 && p.percent < 75, "{p:?}");
    assert!(!dm.have_enough_dir_info(now));
    // The rest are asked again only after the retry delay.
    assert!(dm.poll_fetches(now, &mut r).is_empty());
    let f = dm.poll_fetches(now + 6, &mut r);
    assert_eq!(f.len(), 1);
    dm.handle_response(f[0].id, Ok(net.mds_text(3..6).as_bytes()), now, &mut r)
        .unwrap();
    assert!(dm.have_enough_dir_info(now));
    let p = dm.progress(now);
    assert_eq!((p.percent, p.phase.tag()), (75, "enough_dirinfo"));
    assert_eq!(
        p.log_line(),
        "Bootstrapped 75% (enough_dirinfo): Loaded enough directory info to build circuits"
    );
    let nd = dm.netdir().unwrap();
    assert_eq!(nd.relays().len(), 6);
    assert!(
        dm.poll_fetches(now, &mut r).is_empty(),
        "nothing more to fetch"
    );
}

#[test]
fn bad_consensuses_are_refused_and_the_good_one_kept() {
    let net = Net::new(3);
    let now = T0 + 10;
    let mut dm = bootstrapped(&net, now);
    assert!(dm.have_enough_dir_info(now));
    let writes = dm.take_cache_writes();
    assert_eq!(writes.len(), 3);
    let mut r = rng();
    // Refetch time comes: garbage, a consensus with one signature of three, an older one.
    let later = dm.next_wakeup(now).unwrap();
    assert!(later > T0 + 3600 && later < T0 + 3 * 3600, "{later}");
    let bad: [Vec<u8>; 3] = [
        b"HTTP garbage".to_vec(),
        net.consensus(T0 + 3600, &[1]).into_bytes(),
        net.consensus(T0 - 3600, &[0, 1, 2]).into_bytes(),
    ];
    let mut t = later;
    for body in &bad {
        let f = dm.poll_fetches(t, &mut r);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].kind, FetchKind::Consensus);
        dm.handle_response(f[0].id, Ok(body), t, &mut r)
            .unwrap_err();
        assert_eq!(dm.consensus().unwrap().valid_after, T0);
        assert!(
            dm.take_cache_writes().is_empty(),
            "the cache is not touched"
        );
        t += 120;
    }
    // A good newer one replaces it.
    let f = dm.poll_fetches(t, &mut r);
    let good = net.consensus(T0 + 3600, &[0, 2]);
    dm.handle_response(f[0].id, Ok(good.as_bytes()), t, &mut r)
        .unwrap();
    assert_eq!(dm.consensus().unwrap().valid_after, T0 + 3600);
    let w = dm.take_cache_writes();
    assert_eq!(w, vec![(CacheFile::Consensus, good)]);
}

#[test]
fn cache_round_trip_and_expiry() {
    let net = Net::new(6);
    let now = T0 + 10;
    let mut dm = bootstrapped(&net, now);
    let files: HashMap<CacheFile, String> = dm.take_cache_writes().into_iter().collect();
    let get = |f| files.get(&f).map(String::as_str);
    let mut r = rng();
    let mut again = DirMgr::new(net.config());
    assert!(again.load_cache(
        get(CacheFile::Consensus),
        get(CacheFile::Certs),
        get(CacheFile::Microdescs),
        now + 60,
        &mut r
    ));
    assert!(again.have_enough_dir_info(now + 60));
    assert_eq!(again.progress(now + 60).percent, 75);
    assert!(
        again.poll_fetches(now + 60, &mut r).is_empty(),
        "no consensus refetch while it is fresh"
    );
    assert!(again.take_cache_writes().is_empty());
    // Expired: not loaded; a consensus fetch goes out.
    let mut late = DirMgr::new(net.config());
    let past = T0 + 3 * 3600 + 1;
    assert!(!late.load_cache(
        get(CacheFile::Consensus),
        get(CacheFile::Certs),
        get(CacheFile::Microdescs),
        past,
        &mut r
    ));
    assert_eq!(
        late.poll_fetches(past, &mut r)[0].kind,
        FetchKind::Consensus
    );
    // Without certificates: not verified, not loaded.
    let mut nocerts = DirMgr::new(net.config());
    assert!(!nocerts.load_cache(get(CacheFile::Consensus), None, None, now, &mut r));
    // Corrupt files are ignored.
    let mut junk = DirMgr::new(net.config());
    assert!(!junk.load_cache(Some("junk"), Some("junk"), Some("junk"), now, &mut r));
}

#[test]
fn microdesc_requests_split_as_c_tor() {
    let mut dm = DirMgr::new(Net::new(0).config());
    let mut r = rng();
    let split = |dm: &mut DirMgr, n: usize, r: &mut StdRng| -> Vec<usize> {
        dm.in_flight.clear();
        dm.mds.clear();
        let mut c = Consensus::parse(&Net::new(0).consensus(T0, &[0])).unwrap();
        c.routers = (0..n)
            .map(|i| RouterStatus {
                nickname: "r".into(),
                rsa_id: RsaIdentity([0; 20]),
                desc_digest: None,
                published: T0,
                ipv4: Ipv4Addr::LOCALHOST,
                or_port: 1,
                dir_port: 0,
                ipv6_or: None,
                flags: RelayFlags::RUNNING,
                version: None,
                protocols: None,
                bandwidth: None,
                unmeasured: false,
                md_digest: Some({
                    let mut d = [0u8; 32];
                    d[..8].copy_from_slice(&(i as u64).to_be_bytes());
                    d
                }),
                port_summary: None,
            })
            .collect();
        dm.consensus = Some(c);
        dm.next_consensus_at = Some(T0 + 5000);
        dm.poll_fetches(T0, r)
            .iter()
            .map(|f| match &f.kind {
                FetchKind::Microdescs(d) => d.len(),
                _ => 0,
            })
            .collect()
    };
    assert_eq!(split(&mut dm, 20, &mut r), vec![20]);
    assert_eq!(split(&mut dm, 100, &mut r), vec![34, 34, 32]);
    assert_eq!(split(&mut dm, 1000, &mut r), vec![334, 334, 332]);
    assert_eq!(split(&mut dm, 2000, &mut r), vec![500, 500, 500, 500]);
}

#[test]
fn consensus_refetch_time_is_in_c_tors_client_window() {
    let net = Net::new(1);
    let c = Consensus::parse(&net.consensus(T0, &[0])).unwrap();
    let mut r = rng();
    // fresh 1 h, valid 3 h: start = fresh-until + 45 min, within 7/8 of the rest.
    let start = T0 + 3600 + 2700;
    let span = (T0 + 3 * 3600 - start) * 7 / 8;
    for _ in 0..200 {
        let t = next_fetch_time(&c, T0 + 5, &mut r);
        assert!(t >= start && t < start + span, "{t}");
    }
}

#[test]
fn phases_match_c_tor() {
    use BootstrapPhase::*;
    let table = [
        (Starting, 0, "starting"),
        (Conn, 5, "conn"),
        (ConnDone, 10, "conn_done"),
        (Handshake, 14, "handshake"),
        (HandshakeDone, 15, "handshake_done"),
        (OnehopCreate, 20, "onehop_create"),
        (RequestingStatus, 25, "requesting_status"),
        (LoadingStatus, 30, "loading_status"),
        (LoadingKeys, 40, "loading_keys"),
        (RequestingDescriptors, 45, "requesting_descriptors"),
        (LoadingDescriptors, 50, "loading_descriptors"),
        (EnoughDirinfo, 75, "enough_dirinfo"),
        (ApConn, 80, "ap_conn"),
        (ApConnDone, 85, "ap_conn_done"),
        (ApHandshake, 89, "ap_handshake"),
        (ApHandshakeDone, 90, "ap_handshake_done"),
        (CircuitCreate, 95, "circuit_create"),
        (Done, 100, "done"),
    ];
    for (p, pct, tag) in table {
        assert_eq!((p.percent(), p.tag()), (pct, tag));
    }
    let mut dm = DirMgr::new(Net::new(0).config());
    dm.note_phase(CircuitCreate);
    dm.note_phase(Conn);
    assert_eq!(dm.progress(T0).percent, 95, "never goes back");
    dm.note_phase(Done);
    assert_eq!(dm.progress(T0).log_line(), "Bootstrapped 100% (done): Done");
}

#[test]
fn every_phase_passed_is_reported_once() {
    let net = Net::new(3);
    let mut dm = DirMgr::new(net.config());
    let mut r = rng();
    let now = T0 + 10;
    let f = dm.poll_fetches(now, &mut r);
    dm.note_phase(BootstrapPhase::RequestingStatus);
    dm.handle_response(
        f[0].id,
        Ok(net.consensus(T0, &[0, 1, 2]).as_bytes()),
        now,
        &mut r,
    )
    .unwrap();
    let f = dm.poll_fetches(now, &mut r);
    dm.handle_response(f[0].id, Ok(net.certs().as_bytes()), now, &mut r)
        .unwrap();
    let f = dm.poll_fetches(now, &mut r);
    dm.note_phase(BootstrapPhase::RequestingDescriptors);
    dm.handle_response(f[0].id, Ok(net.mds_text(0..3).as_bytes()), now, &mut r)
        .unwrap();
    let got: Vec<u8> = dm.take_progress(now).iter().map(|p| p.percent).collect();
    assert_eq!(got, vec![25, 30, 40, 45, 50, 75]);
    assert!(dm.take_progress(now).is_empty());
    dm.note_phase(BootstrapPhase::Done);
    assert_eq!(dm.take_progress(now)[0].percent, 100);
}
