//! Positions on the HSDir hash ring (rend-spec-v3 §2.2.3 "WHERE-HSDESC", §2.3.1; C tor
//! `hs_build_hs_index`, `hs_build_hsdir_index`, `compute_disaster_srv`).
//!
//! - service index: `SHA3-256("store-at-idx" | A' | INT_8(replica) | INT_8(period_length)
//!   | INT_8(period_num))`;
//! - relay index: `SHA3-256("node-idx" | node_ed25519_id | SRV | INT_8(period_num) |
//!   INT_8(period_length))`; note that the two formulas order the period fields
//!   differently;
//! - the disaster SRV, used when the consensus has no shared random value:
//!   `SHA3-256("shared-random-disaster" | INT_8(period_length) | INT_8(period_num))`.
//!
//! Deliberately not here: choosing which period and SRV to use, and walking the ring
//! (they need the consensus).

use sha3::{Digest, Sha3_256};

use super::blind::BlindedPublicKey;
use super::time::TimePeriod;

/// The service's ring position for `replica` (1-based; `hsdir_n_replicas` defaults to 2).
pub fn hs_index(blinded: &BlindedPublicKey, replica: u64, period: &TimePeriod) -> [u8; 32] {
    Sha3_256::new()
        .chain_update(b"store-at-idx")
        .chain_update(blinded.as_bytes())
        .chain_update(replica.to_be_bytes())
        .chain_update(u64::from(period.length_minutes).to_be_bytes())
        .chain_update(period.num.to_be_bytes())
        .finalize()
        .into()
}

/// A relay's ring position, from its Ed25519 identity and the shared random value.
pub fn hsdir_index(node_ed25519_id: &[u8; 32], srv: &[u8; 32], period: &TimePeriod) -> [u8; 32] {
    Sha3_256::new()
        .chain_update(b"node-idx")
        .chain_update(node_ed25519_id)
        .chain_update(srv)
        .chain_update(period.num.to_be_bytes())
        .chain_update(u64::from(period.length_minutes).to_be_bytes())
        .finalize()
        .into()
}

/// The disaster shared random value for `period`.
pub fn disaster_srv(period: &TimePeriod) -> [u8; 32] {
    Sha3_256::new()
        .chain_update(b"shared-random-disaster")
        .chain_update(u64::from(period.length_minutes).to_be_bytes())
        .chain_update(period.num.to_be_bytes())
        .finalize()
        .into()
}
