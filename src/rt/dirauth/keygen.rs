//! `oniongate-relay --keygen-authority -f torrc`: makes (or keeps) the relay keys and the
//! v3 authority keys in `DataDirectory/keys/` (`authority_identity_key`,
//! `authority_signing_key`, `authority_certificate`, 0600, as `tor-gencert` names them), and
//! returns the `DirAuthority` line that every node of the network needs.

use std::net::{IpAddr, Ipv4Addr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rand::rngs::OsRng;

use crate::config::{ListenAddr, RelayConfig};
use crate::dir::doc::authcert::AuthorityKeys;
use crate::keys::KeyPolicy;
use crate::rt::relay_keys::RelayKeyDir;

/// The certificate lifetime `tor-gencert` uses by default (12 months).
pub const CERT_LIFETIME: u64 = 365 * 86_400;

/// The files that make an authority.
pub const AUTHORITY_FILES: [&str; 3] = [
    "authority_identity_key",
    "authority_signing_key",
    "authority_certificate",
];

/// Why the authority keys could not be made or loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeygenError {
    /// The configuration lacks something.
    #[error("configuration: {0}")]
    Config(String),
    /// Relay keys.
    #[error("{0}")]
    RelayKeys(#[from] crate::rt::relay_keys::RelayKeysError),
    /// Authority key files.
    #[error("{path}: {why}")]
    Files {
        /// Where.
        path: PathBuf,
        /// Why.
        why: String,
    },
}

/// `DataDirectory/keys`.
pub fn keys_dir(config: &RelayConfig) -> Result<PathBuf, KeygenError> {
    config
        .common
        .data_directory
        .as_ref()
        .map(|d| d.join("keys"))
        .ok_or_else(|| KeygenError::Config("an authority needs a DataDirectory".into()))
}

/// Whether the files an authority runs with (signing key and certificate; the identity key
/// may be kept offline, as with `tor-gencert`) exist in `keys_dir`.
pub fn have_authority_keys(keys_dir: &Path) -> bool {
    AUTHORITY_FILES[1..]
        .iter()
        .all(|f| keys_dir.join(f).exists())
}

/// Loads the authority keys, or explains which command makes them.
pub fn load_authority_keys(config: &RelayConfig) -> Result<AuthorityKeys, KeygenError> {
    let dir = keys_dir(config)?;
    if !have_authority_keys(&dir) {
        return Err(KeygenError::Files {
            path: dir,
            why: "no authority keys (authority_signing_key, authority_certificate); run `oniongate-relay --keygen-authority -f <torrc>` first"
                .into(),
        });
    }
    AuthorityKeys::load(&dir).map_err(|e| KeygenError::Files {
        path: dir,
        why: e.to_string(),
    })
}

/// The authority's advertised IPv4 address: the first IPv4 `Address`, else the ORPort's
/// explicit IPv4 address.
pub fn advertised_ipv4(config: &RelayConfig) -> Option<Ipv4Addr> {
    let from_address = config
        .addresses
        .iter()
        .find_map(|a| a.parse::<Ipv4Addr>().ok());
    from_address.or_else(|| {
        config.or_ports.iter().find_map(|p| match p.addr {
            ListenAddr::Port {
                addr: Some(IpAddr::V4(a)),
                ..
            } if !a.is_unspecified() => Some(a),
            _ => None,
        })
    })
}

fn first_port(ports: &[crate::config::OrPortConfig]) -> Option<u16> {
    ports.iter().find_map(|p| match p.addr {
        ListenAddr::Port { port, .. } if !p.flags.no_advertise => Some(port),
        _ => None,
    })
}

/// Makes the relay and authority keys if missing and returns the `DirAuthority` line.
pub fn keygen_authority(config: &RelayConfig) -> Result<String, KeygenError> {
    let data_dir = config
        .common
        .data_directory
        .clone()
        .ok_or_else(|| KeygenError::Config("an authority needs a DataDirectory".into()))?;
    let nickname = config
        .common
        .nickname
        .clone()
        .ok_or_else(|| KeygenError::Config("an authority needs a Nickname".into()))?;
    let ip = advertised_ipv4(config).ok_or_else(|| {
        KeygenError::Config("an authority needs an IPv4 Address (or ORPort IP:PORT)".into())
    })?;
    let or_port = first_port(&config.or_ports)
        .ok_or_else(|| KeygenError::Config("an authority needs a numeric ORPort".into()))?;
    let dir_port = first_port(&config.dir_ports).ok_or_else(|| {
        KeygenError::Config("an authority needs a numeric DirPort (clients fetch from it)".into())
    })?;
    let relay_dir = RelayKeyDir::open(&data_dir)?;
    let relay_keys = relay_dir.load_or_create(
        &nickname,
        KeyPolicy::default(),
        SystemTime::now(),
        &mut OsRng,
    )?;
    let kdir = data_dir.join("keys");
    let keys = if have_authority_keys(&kdir) {
        load_authority_keys(config)?
    } else {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let k = AuthorityKeys::generate(
            &mut OsRng,
            now,
            CERT_LIFETIME,
            Some(SocketAddrV4::new(ip, dir_port)),
        )
        .map_err(|e| KeygenError::Files {
            path: kdir.clone(),
            why: e.to_string(),
        })?;
        k.save(&kdir).map_err(|e| KeygenError::Files {
            path: kdir.clone(),
            why: e.to_string(),
        })?;
        k
    };
    Ok(dir_authority_line(
        &nickname,
        or_port,
        &keys.v3ident().to_hex().to_ascii_uppercase(),
        ip,
        dir_port,
        &relay_keys.rsa_id().to_hex().to_ascii_uppercase(),
    ))
}

/// `DirAuthority <nick> orport=<port> no-v2 v3ident=<hex> <ip>:<dirport> <relay-fp>`.
pub fn dir_authority_line(
    nick: &str,
    or_port: u16,
    v3ident: &str,
    ip: Ipv4Addr,
    dir_port: u16,
    fp: &str,
) -> String {
    format!("DirAuthority {nick} orport={or_port} no-v2 v3ident={v3ident} {ip}:{dir_port} {fp}")
}
