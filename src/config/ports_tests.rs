use super::*;
use std::net::Ipv6Addr;

/// rend-spec-v3 §6's example address.
const ONION: &str = "pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion";

#[test]
fn listen_addresses() {
    assert_eq!(
        parse_listen("9001", true),
        Ok(ListenAddr::Port {
            addr: None,
            port: 9001
        })
    );
    assert_eq!(parse_listen("0", true), Ok(ListenAddr::Disabled));
    assert!(parse_listen("0", false).is_err());
    assert_eq!(
        parse_listen("auto", true),
        Ok(ListenAddr::Auto { addr: None })
    );
    assert_eq!(
        parse_listen("127.0.0.1:auto", true),
        Ok(ListenAddr::Auto {
            addr: Some(Ipv4Addr::LOCALHOST.into())
        })
    );
    assert_eq!(
        parse_listen("[::1]:9050", true),
        Ok(ListenAddr::Port {
            addr: Some(Ipv6Addr::LOCALHOST.into()),
            port: 9050
        })
    );
    for bad in [
        "::1:9050",
        "[::1]",
        "1.2.3:80",
        "host:80",
        "70000",
        "127.0.0.1:0",
        "unix:/x",
        "",
    ] {
        assert!(parse_listen(bad, true).is_err(), "{bad:?}");
    }
    let a = parse_listen("auto", true).map(|a| a.socket_addr(Ipv4Addr::LOCALHOST.into()));
    assert_eq!(
        a,
        Ok(Some(
            "127.0.0.1:0".parse().unwrap_or_else(|_| unreachable!())
        ))
    );
}

#[test]
fn or_ports() {
    let p = parse_or_port("9001 NoAdvertise ipv4only");
    assert_eq!(
        p,
        Ok(OrPortConfig {
            addr: ListenAddr::Port {
                addr: None,
                port: 9001
            },
            flags: PortFlags {
                no_advertise: true,
                ipv4_only: true,
                ..PortFlags::default()
            }
        })
    );
    for bad in [
        "9001 Fast",
        "9001 NoAdvertise NoListen",
        "9001 IPv4Only IPv6Only",
        "[::1]:9001 IPv4Only",
        "127.0.0.1:9001 IPv6Only",
        "",
    ] {
        assert!(parse_or_port(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn socks_ports() {
    let c = parse_socks_port("9050").unwrap_or_else(|e| panic!("{e}"));
    assert!(c.isolate_client_addr && c.isolate_socks_auth && !c.isolate_dest_addr);
    let c = parse_socks_port(
        "127.0.0.1:9150 IsolateDestAddr NoIsolateSOCKSAuth ExtendedErrors SessionGroup=7",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(c.isolate_dest_addr && !c.isolate_socks_auth && c.extended_errors);
    assert_eq!(c.session_group, Some(7));
    assert_eq!(
        parse_socks_port("0").map(|c| c.addr),
        Ok(ListenAddr::Disabled)
    );
    for bad in [
        "9050 PreferIPv6",
        "9050 NoExtendedErrors",
        "9050 SessionGroup=x",
        "unix:/run/s",
    ] {
        assert!(parse_socks_port(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn service_ports() {
    let sp = |s| parse_service_port(s).map(|p| (p.virt_port, p.target.to_string()));
    assert_eq!(sp("80"), Ok((80, "127.0.0.1:80".into())));
    assert_eq!(sp("80 8080"), Ok((80, "127.0.0.1:8080".into())));
    assert_eq!(sp("80 10.0.0.2:81"), Ok((80, "10.0.0.2:81".into())));
    assert_eq!(sp("80 10.0.0.2"), Ok((80, "10.0.0.2:80".into())));
    assert_eq!(sp("53 [::1]:5353"), Ok((53, "[::1]:5353".into())));
    assert_eq!(sp("53 localhost:5353"), Ok((53, "127.0.0.1:5353".into())));
    for bad in [
        "",
        "0",
        "80 0",
        "80 unix:/x",
        "80 1.2.3.4:99999",
        "80 81 82",
        "x",
        "80 example.com:80",
    ] {
        assert!(parse_service_port(bad).is_err(), "{bad:?}");
    }
    assert_eq!(parse_service_type("DGRAM"), Ok(ServiceType::Dgram));
    assert!(parse_service_type("udp").is_err());
}

#[test]
fn udp_forwards() {
    let f =
        parse_udp_forward(&format!("127.0.0.1:5353 {ONION}:53")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(f.local.to_string(), "127.0.0.1:5353");
    assert_eq!((f.onion.as_str(), f.port), (ONION, 53));
    let f = parse_udp_forward(&format!("5060 {}:5060", ONION.to_uppercase()));
    assert_eq!(
        f.map(|f| (f.local.to_string(), f.onion)),
        Ok(("127.0.0.1:5060".into(), ONION.into()))
    );
    // A one-character typo breaks the checksum.
    let typo = ONION.replacen('p', "q", 1);
    assert!(parse_udp_forward(&format!("5060 {typo}:5060"))
        .unwrap_err()
        .contains("checksum"));
    for bad in [
        format!("5060 {ONION}"),
        format!("5060 {ONION}:0"),
        format!("0 {ONION}:1"),
        "5060 example.com:5060".to_string(),
        "5060 abc.onion:5060".to_string(),
        "5060".to_string(),
        format!("1 {ONION}:1 extra"),
    ] {
        assert!(parse_udp_forward(&bad).is_err(), "{bad:?}");
    }
}
