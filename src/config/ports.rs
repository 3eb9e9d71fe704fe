//! Listener and port values: `ORPort`/`DirPort`, `SocksPort`, `HiddenServicePort`,
//! `UDPForward`.
//!
//! Syntax from tor(1) ("ORPort", "SocksPort", "HiddenServicePort"): `[ADDR:]PORT|auto`, IPv6
//! addresses in brackets, flags after the address. `UDPForward` is our own key. Unix-socket
//! listeners (`unix:PATH`) are refused: the daemons have no use for them yet.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::value::{parse_port, VResult};

/// Where a listener binds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListenAddr {
    /// `0`: no listener.
    Disabled,
    /// `auto` or `ADDR:auto`: a port the system picks.
    Auto {
        /// The address, if one was given.
        addr: Option<IpAddr>,
    },
    /// `PORT` or `ADDR:PORT`.
    Port {
        /// The address, if one was given (the daemon's default otherwise).
        addr: Option<IpAddr>,
        /// 1-65535.
        port: u16,
    },
}

impl ListenAddr {
    /// The socket address to bind, using `default_ip` when none was given; `None` when
    /// disabled. `auto` binds port 0.
    pub fn socket_addr(&self, default_ip: IpAddr) -> Option<SocketAddr> {
        match *self {
            ListenAddr::Disabled => None,
            ListenAddr::Auto { addr } => Some(SocketAddr::new(addr.unwrap_or(default_ip), 0)),
            ListenAddr::Port { addr, port } => {
                Some(SocketAddr::new(addr.unwrap_or(default_ip), port))
            }
        }
    }

    fn addr(&self) -> Option<IpAddr> {
        match *self {
            ListenAddr::Disabled => None,
            ListenAddr::Auto { addr } | ListenAddr::Port { addr, .. } => addr,
        }
    }
}

/// Splits `ADDR:PORT`, `[V6]:PORT` or `PORT` into an optional address and the port text.
fn split_addr_port(v: &str) -> VResult<(Option<IpAddr>, &str)> {
    if let Some(rest) = v.strip_prefix('[') {
        let (ip, port) = rest
            .split_once("]:")
            .ok_or("an IPv6 address needs a port: [ADDR]:PORT")?;
        let ip = ip
            .parse::<std::net::Ipv6Addr>()
            .map_err(|_| format!("{ip:?} is not an IPv6 address"))?;
        return Ok((Some(IpAddr::V6(ip)), port));
    }
    match v.rsplit_once(':') {
        None => Ok((None, v)),
        Some((ip, _)) if ip.contains(':') => {
            Err("put an IPv6 address in brackets: [ADDR]:PORT".into())
        }
        Some((ip, port)) => {
            let ip = ip
                .parse::<Ipv4Addr>()
                .map_err(|_| format!("{ip:?} is not an IPv4 address"))?;
            Ok((Some(IpAddr::V4(ip)), port))
        }
    }
}

/// `[ADDR:]PORT|auto`, and `0` when `allow_zero`.
pub(crate) fn parse_listen(v: &str, allow_zero: bool) -> VResult<ListenAddr> {
    if v.starts_with("unix:") {
        return Err("unix-socket listeners are not supported".into());
    }
    let (addr, port) = split_addr_port(v)?;
    if port.eq_ignore_ascii_case("auto") {
        return Ok(ListenAddr::Auto { addr });
    }
    match parse_port(port, allow_zero && addr.is_none())? {
        0 => Ok(ListenAddr::Disabled),
        port => Ok(ListenAddr::Port { addr, port }),
    }
}

/// Flags of an `ORPort` or `DirPort` line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortFlags {
    /// `NoAdvertise`: listen, but do not put the port in the descriptor.
    pub no_advertise: bool,
    /// `NoListen`: advertise, but do not listen (something else forwards to us).
    pub no_listen: bool,
    /// `IPv4Only`.
    pub ipv4_only: bool,
    /// `IPv6Only`.
    pub ipv6_only: bool,
}

/// One `ORPort` or `DirPort` line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrPortConfig {
    /// Where to listen.
    pub addr: ListenAddr,
    /// Its flags.
    pub flags: PortFlags,
}

/// `[ADDR:]PORT|auto|0 [NoAdvertise|NoListen|IPv4Only|IPv6Only]...`.
pub(crate) fn parse_or_port(v: &str) -> VResult<OrPortConfig> {
    let mut words = v.split_ascii_whitespace();
    let addr = parse_listen(words.next().ok_or("missing port")?, true)?;
    let mut flags = PortFlags::default();
    for w in words {
        let f = match w.to_ascii_lowercase().as_str() {
            "noadvertise" => &mut flags.no_advertise,
            "nolisten" => &mut flags.no_listen,
            "ipv4only" => &mut flags.ipv4_only,
            "ipv6only" => &mut flags.ipv6_only,
            _ => {
                return Err(format!(
                    "unknown flag {w:?} (use NoAdvertise, NoListen, IPv4Only, IPv6Only)"
                ))
            }
        };
        *f = true;
    }
    if flags.no_advertise && flags.no_listen {
        return Err("NoAdvertise and NoListen together leave nothing to do".into());
    }
    if flags.ipv4_only && flags.ipv6_only {
        return Err("IPv4Only and IPv6Only contradict each other".into());
    }
    match addr.addr() {
        Some(IpAddr::V6(_)) if flags.ipv4_only => Err("IPv4Only on an IPv6 address".into()),
        Some(IpAddr::V4(_)) if flags.ipv6_only => Err("IPv6Only on an IPv4 address".into()),
        _ => Ok(OrPortConfig { addr, flags }),
    }
}

/// Stream-isolation and behaviour flags of a `SocksPort` line (tor(1) "SocksPort").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SocksPortConfig {
    /// Where to listen (default address 127.0.0.1).
    pub addr: ListenAddr,
    /// `IsolateClientAddr` (default on).
    pub isolate_client_addr: bool,
    /// `IsolateSOCKSAuth` (default on).
    pub isolate_socks_auth: bool,
    /// `IsolateClientProtocol` (default on).
    pub isolate_client_protocol: bool,
    /// `IsolateDestPort`.
    pub isolate_dest_port: bool,
    /// `IsolateDestAddr`.
    pub isolate_dest_addr: bool,
    /// `KeepAliveIsolateSOCKSAuth`.
    pub keep_alive_isolate_socks_auth: bool,
    /// `SessionGroup=N`.
    pub session_group: Option<u32>,
    /// `ExtendedErrors`: tor's extra SOCKS5 reply codes (prop304).
    pub extended_errors: bool,
    /// `OnionTrafficOnly`.
    pub onion_traffic_only: bool,
}

/// `[ADDR:]PORT|auto|0 [FLAGS]`.
pub(crate) fn parse_socks_port(v: &str) -> VResult<SocksPortConfig> {
    let mut words = v.split_ascii_whitespace();
    let addr = parse_listen(words.next().ok_or("missing port")?, true)?;
    let mut c = SocksPortConfig {
        addr,
        isolate_client_addr: true,
        isolate_socks_auth: true,
        isolate_client_protocol: true,
        isolate_dest_port: false,
        isolate_dest_addr: false,
        keep_alive_isolate_socks_auth: false,
        session_group: None,
        extended_errors: false,
        onion_traffic_only: false,
    };
    for w in words {
        let lower = w.to_ascii_lowercase();
        if let Some(n) = lower.strip_prefix("sessiongroup=") {
            c.session_group = Some(n.parse().map_err(|_| format!("bad SessionGroup {n:?}"))?);
            continue;
        }
        let (on, name) = match lower.strip_prefix("no") {
            Some(rest) if rest.starts_with("isolate") => (false, rest),
            _ => (true, lower.as_str()),
        };
        let f = match name {
            "isolateclientaddr" => &mut c.isolate_client_addr,
            "isolatesocksauth" => &mut c.isolate_socks_auth,
            "isolateclientprotocol" => &mut c.isolate_client_protocol,
            "isolatedestport" => &mut c.isolate_dest_port,
            "isolatedestaddr" => &mut c.isolate_dest_addr,
            "keepaliveisolatesocksauth" if on => &mut c.keep_alive_isolate_socks_auth,
            "extendederrors" if on => &mut c.extended_errors,
            "oniontrafficonly" if on => &mut c.onion_traffic_only,
            _ => {
                return Err(format!(
                    "unsupported flag {w:?} (supported: [No]Isolate{{ClientAddr,SOCKSAuth,\
                     ClientProtocol,DestPort,DestAddr}}, KeepAliveIsolateSOCKSAuth, \
                     SessionGroup=N, ExtendedErrors, OnionTrafficOnly)"
                ))
            }
        };
        *f = on;
    }
    Ok(c)
}

/// What an onion-service block carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ServiceType {
    /// TCP streams (tor's only kind; the default).
    #[default]
    Stream,
    /// UDP datagrams (our extension).
    Dgram,
}

pub(crate) fn parse_service_type(v: &str) -> VResult<ServiceType> {
    match v.to_ascii_lowercase().as_str() {
        "stream" => Ok(ServiceType::Stream),
        "dgram" => Ok(ServiceType::Dgram),
        _ => Err("use stream or dgram".into()),
    }
}

/// One `HiddenServicePort VIRTPORT [TARGET]` line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServicePort {
    /// The port clients connect to on the onion address.
    pub virt_port: u16,
    /// The local server it goes to.
    pub target: SocketAddr,
}

/// `VIRTPORT [ADDR:PORT|PORT|ADDR]`; the target defaults to 127.0.0.1 and VIRTPORT, as in tor.
pub(crate) fn parse_service_port(v: &str) -> VResult<ServicePort> {
    let mut words = v.split_ascii_whitespace();
    let virt_port = parse_port(words.next().ok_or("missing virtual port")?, false)?;
    let localhost = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let target = match words.next() {
        None => SocketAddr::new(localhost, virt_port),
        Some(t) if t.starts_with("unix:") => {
            return Err("unix-socket targets are not supported".into())
        }
        Some(t) if t.bytes().all(|b| b.is_ascii_digit()) => {
            SocketAddr::new(localhost, parse_port(t, false)?)
        }
        Some(t) => {
            let t = match t.strip_prefix("localhost") {
                Some(rest) if rest.is_empty() || rest.starts_with(':') => {
                    format!("127.0.0.1{rest}")
                }
                _ => t.to_string(),
            };
            if let Ok(ip) = t.trim_start_matches('[').trim_end_matches(']').parse() {
                SocketAddr::new(ip, virt_port)
            } else {
                match split_addr_port(&t)? {
                    (Some(ip), port) => SocketAddr::new(ip, parse_port(port, false)?),
                    (None, _) => return Err(format!("bad target {t:?}")),
                }
            }
        }
    };
    if words.next().is_some() {
        return Err("too many fields: VIRTPORT [TARGET]".into());
    }
    Ok(ServicePort { virt_port, target })
}

/// One `UDPForward` line: datagrams to `local` go to `port` of the onion service `onion`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UdpForward {
    /// Local UDP socket to bind (default address 127.0.0.1).
    pub local: SocketAddr,
    /// The onion address, lower case, with `.onion`.
    pub onion: String,
    /// The service's datagram port.
    pub port: u16,
}

/// `[LOCALADDR:]PORT ONION.onion:PORT`.
pub(crate) fn parse_udp_forward(v: &str) -> VResult<UdpForward> {
    let words: Vec<&str> = v.split_ascii_whitespace().collect();
    let [local, remote] = words.as_slice() else {
        return Err("need two fields: [LOCALADDR:]PORT ONIONADDR.onion:PORT".into());
    };
    let (ip, port) = split_addr_port(local)?;
    let local = SocketAddr::new(
        ip.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        parse_port(port, false)?,
    );
    let (host, port) = remote
        .rsplit_once(':')
        .ok_or("the onion address needs a port: ONION.onion:PORT")?;
    let port = parse_port(port, false)?;
    let onion = host.to_ascii_lowercase();
    check_onion_v3(&onion)?;
    Ok(UdpForward { local, onion, port })
}

/// Checks a v3 onion address (rend-spec-v3 §6 "Encoding onion addresses") with the
/// onion-service code's own parser: length, base32, version, checksum, and a valid key
/// without a torsion component. A subdomain (`www.<addr>.onion`) is allowed, as in tor.
fn check_onion_v3(host: &str) -> VResult<()> {
    if !host.ends_with(".onion") {
        return Err("not an onion address (must end in .onion)".into());
    }
    crate::hs::HsId::parse_hostname(host)
        .map(|_| ())
        .map_err(|e| format!("bad onion address: {e}"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
#[path = "ports_tests.rs"]
mod tests;
