//! The CREATE_FAST handshake (tor-spec §5.1.5 "CREATE_FAST/CREATED_FAST cells", KDF-TOR
//! per §5.2.1).
//!
//! The client sends `X[20]` random bytes; the relay answers `Y[20] | KH[20]`. Both derive
//! KDF-TOR(`X|Y`), whose stream is `KH|Df|Db|Kf|Kb`; the client checks the relay's `KH`
//! in constant time. It gives no authentication beyond the TLS link, so clients use it
//! only for a first hop whose onion key they do not know yet (bootstrapping).
//!
//! Deliberately not here: the CREATE_FAST/CREATED_FAST cell framing ([`crate::cell`]) —
//! callers pass exactly the 20- or 40-byte handshake, without the cell's padding.

use std::fmt;

use rand_core::{CryptoRng, RngCore};
use zeroize::Zeroizing;

use super::kdf::{kdf_tor, KeyGenerator, KH_LEN};
use super::ll::ct_eq;

/// Length of the client's CREATE_FAST handshake (`X`).
pub const CLIENT_HANDSHAKE_LEN: usize = 20;
/// Length of the relay's CREATED_FAST handshake (`Y|KH`).
pub const SERVER_HANDSHAKE_LEN: usize = 40;

/// Why a CREATE_FAST handshake failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FastError {
    /// A handshake message had the wrong length (malformed input).
    #[error("CREATE_FAST handshake has {got} bytes, expected {need}")]
    WrongLength {
        /// Bytes received.
        got: usize,
        /// Bytes required.
        need: usize,
    },
    /// The relay's `KH` does not match the key material (protocol violation).
    #[error("CREATED_FAST key hash does not verify")]
    BadAuth,
}

/// The client's state between CREATE_FAST and CREATED_FAST. Zeroized on drop.
pub struct FastClientState {
    x: Zeroizing<[u8; CLIENT_HANDSHAKE_LEN]>,
}

impl fmt::Debug for FastClientState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FastClientState(<secret>)")
    }
}

fn k0(x: &[u8], y: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut k = Zeroizing::new(Vec::with_capacity(40));
    k.extend_from_slice(x);
    k.extend_from_slice(y);
    k
}

fn kh_of(k0: &[u8]) -> Zeroizing<Vec<u8>> {
    // KH is the first 20 bytes; 20 is always within KDF-TOR's range.
    kdf_tor(k0, KH_LEN).unwrap_or_else(|_| Zeroizing::new(vec![0u8; KH_LEN]))
}

/// Client, first step: random `X` and the CREATE_FAST handshake.
pub fn client1<R: RngCore + CryptoRng>(
    rng: &mut R,
) -> (FastClientState, [u8; CLIENT_HANDSHAKE_LEN]) {
    let mut x = [0u8; CLIENT_HANDSHAKE_LEN];
    rng.fill_bytes(&mut x);
    let out = client1_with_keys(x);
    zeroize::Zeroize::zeroize(&mut x);
    out
}

/// [`client1`] with `X` supplied (for test vectors).
#[doc(hidden)]
pub fn client1_with_keys(
    x: [u8; CLIENT_HANDSHAKE_LEN],
) -> (FastClientState, [u8; CLIENT_HANDSHAKE_LEN]) {
    (
        FastClientState {
            x: Zeroizing::new(x),
        },
        x,
    )
}

/// Relay: answers a CREATE_FAST handshake with `Y|KH`.
pub fn server<R: RngCore + CryptoRng>(
    rng: &mut R,
    hdata: &[u8],
) -> Result<([u8; SERVER_HANDSHAKE_LEN], KeyGenerator), FastError> {
    let mut y = Zeroizing::new([0u8; 20]);
    rng.fill_bytes(&mut y[..]);
    server_with_keys(*y, hdata)
}

/// [`server`] with `Y` supplied (for test vectors).
#[doc(hidden)]
pub fn server_with_keys(
    y: [u8; 20],
    hdata: &[u8],
) -> Result<([u8; SERVER_HANDSHAKE_LEN], KeyGenerator), FastError> {
    if hdata.len() != CLIENT_HANDSHAKE_LEN {
        return Err(FastError::WrongLength {
            got: hdata.len(),
            need: CLIENT_HANDSHAKE_LEN,
        });
    }
    let k0 = k0(hdata, &y);
    let kh = kh_of(&k0);
    let mut reply = [0u8; SERVER_HANDSHAKE_LEN];
    reply[..20].copy_from_slice(&y);
    reply[20..].copy_from_slice(&kh);
    Ok((reply, KeyGenerator::kdf_tor(k0)))
}

/// Client, second step: checks `KH` and yields the key generator.
pub fn client2(state: FastClientState, reply: &[u8]) -> Result<KeyGenerator, FastError> {
    let (y, kh) = match (reply.get(..20), reply.get(20..)) {
        (Some(y), Some(kh)) if reply.len() == SERVER_HANDSHAKE_LEN => (y, kh),
        _ => {
            return Err(FastError::WrongLength {
                got: reply.len(),
                need: SERVER_HANDSHAKE_LEN,
            })
        }
    };
    let k0 = k0(&state.x[..], y);
    if !ct_eq(&kh_of(&k0), kh) {
        return Err(FastError::BadAuth);
    }
    Ok(KeyGenerator::kdf_tor(k0))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use rand::rngs::OsRng;

    #[test]
    fn round_trip_and_failures() {
        let (st, msg) = client1(&mut OsRng);
        let (reply, skg) = server(&mut OsRng, &msg).unwrap();
        let ckg = client2(st, &reply).unwrap();
        let (c, s) = (
            ckg.into_relay_keys().unwrap(),
            skg.into_relay_keys().unwrap(),
        );
        assert_eq!(c.tor1(), s.tor1());
        assert_eq!(c.kh(), s.kh());
        assert_eq!(&c.kh()[..], &reply[20..]);

        assert_eq!(
            server(&mut OsRng, &msg[..19]).unwrap_err(),
            FastError::WrongLength { got: 19, need: 20 }
        );
        let (st, msg) = client1(&mut OsRng);
        let (mut reply, _) = server(&mut OsRng, &msg).unwrap();
        reply[35] ^= 16;
        assert_eq!(client2(st, &reply).unwrap_err(), FastError::BadAuth);
        let (st, _) = client1(&mut OsRng);
        assert!(matches!(
            client2(st, &reply[..39]),
            Err(FastError::WrongLength { got: 39, .. })
        ));
    }
}
