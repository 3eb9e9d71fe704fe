//! [`ChannelPool`]: at most one open client channel per relay, keyed by its RSA and Ed25519
//! identities (C tor `channel_get_for_extend` reuses a channel only when both match).

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::Mutex;

use super::{ClientChannel, Error};
use crate::channel::ExpectedPeer;
use crate::client::HopTarget;
use crate::ids::{Ed25519Identity, RsaIdentity};

type Key = (RsaIdentity, Option<Ed25519Identity>);

/// Open client channels by relay identity (cheap to clone; clones share the pool).
#[derive(Debug, Clone, Default)]
pub struct ChannelPool {
    channels: Arc<Mutex<HashMap<Key, ClientChannel>>>,
}

impl ChannelPool {
    /// An empty pool.
    pub fn new() -> Self {
        ChannelPool::default()
    }

    /// An open channel to `target` (reused if one is open to the same identities),
    /// otherwise a new one to its first address, checked against its identities.
    /// Concurrent callers for the same relay wait for one connection attempt.
    pub async fn get_or_connect(&self, target: &HopTarget) -> Result<ClientChannel, Error> {
        let key = (target.rsa_id, target.ed_id);
        // Holding the pool lock across the connect serialises connects; it keeps two callers
        // from opening two channels to one relay, at the price of waiting on each other.
        let mut map = self.channels.lock().await;
        map.retain(|_, c| !c.is_closed());
        if let Some(c) = map.get(&key) {
            return Ok(c.clone());
        }
        let addr = *target.addrs.first().ok_or(Error::WrongPeer)?;
        let expected = ExpectedPeer {
            rsa_id: target.rsa_id,
            ed_id: target.ed_id,
        };
        let chan = ClientChannel::connect(addr, Some(expected)).await?;
        match chan.peer_ids() {
            Some((rsa, ed)) if rsa == target.rsa_id && target.ed_id.is_none_or(|e| e == ed) => {}
            _ => return Err(Error::WrongPeer),
        }
        map.insert(key, chan.clone());
        Ok(chan)
    }

    /// Open channels in the pool.
    pub async fn len(&self) -> usize {
        let mut map = self.channels.lock().await;
        map.retain(|_, c| !c.is_closed());
        map.len()
    }

    /// True if the pool holds no open channel.
    pub async fn is_empty(&self) -> bool {
        self.len().await == 0
    }

    /// Closes and forgets every channel.
    pub async fn close_all(&self) {
        for (_, c) in self.channels.lock().await.drain() {
            c.close();
        }
    }
}
