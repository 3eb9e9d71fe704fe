//! SENDME v1 tags and the classic fixed-window flow control they authenticate
//! (tor-spec §7.3 "Circuit-level flow control", §7.3.1 "SENDME Cell Format", §7.4
//! "Stream-level flow control"; proposal 289 "Authenticating SENDME cells").
//!
//! A SENDME v1 tag is the sender's running relay-cell digest right after a DATA cell that
//! the receiver is expected to acknowledge: the full 20-byte SHA-1 output for tor1 hops, the
//! first 20 bytes of the SHA3-256 output on the onion-service hop. The relay-cell crypto in
//! [`super::tor1`] returns the tag of every cell it originates or recognises; the trackers
//! here decide which tags matter:
//!
//! - [`CircSendWindow`]: the circuit package window (1000, +100 per SENDME). It queues the
//!   tag of every 100th DATA cell and checks incoming SENDME tags against that queue in
//!   order, in constant time.
//! - [`CircRecvWindow`]: the circuit deliver window (1000); it says when to send a SENDME and
//!   with which tag.
//! - [`StreamSendWindow`] / [`StreamRecvWindow`]: the stream windows (500, +50), untagged.
//!
//! The rules follow C tor 0.4.9 (`sendme.c`, `circuit_sent_cell_for_sendme`): only DATA cells
//! count; a sender records a tag when its package window *before* the decrement `w`
//! satisfies `(w - 1) % 100 == 0 && w != 1000`; a SENDME that finds no queued tag, carries
//! the wrong tag, or would raise the package window above 1000 is a protocol violation.
//!
//! Deliberately not here: encoding or parsing the SENDME message body (that is
//! [`crate::relaycell`]), congestion control (proposal 324), and the consensus parameters
//! (`sendme_accept_min_version` is a flag the caller passes in).

use std::collections::VecDeque;
use std::fmt;

use subtle::ConstantTimeEq;

mod stream;
pub use stream::{StreamRecvWindow, StreamSendWindow};

/// Length of a tor1 / HS SENDME v1 tag in bytes.
pub const SENDME_TAG_LEN: usize = 20;
/// Initial and maximum circuit-level window (C tor `CIRCWINDOW_START`).
pub const CIRCWINDOW_START: u16 = 1000;
/// Circuit-level window increment per SENDME (C tor `CIRCWINDOW_INCREMENT`).
pub const CIRCWINDOW_INCREMENT: u16 = 100;
/// Initial and maximum stream-level window (C tor `STREAMWINDOW_START`).
pub const STREAMWINDOW_START: u16 = 500;
/// Stream-level window increment per SENDME (C tor `STREAMWINDOW_INCREMENT`).
pub const STREAMWINDOW_INCREMENT: u16 = 50;

/// A SENDME v1 authentication tag: a relay-cell running digest (proposal 289).
///
/// Equality is constant-time.
#[derive(Clone, Copy, Eq)]
pub struct SendmeTag([u8; SENDME_TAG_LEN]);

impl SendmeTag {
    /// Wraps 20 tag bytes.
    pub const fn new(bytes: [u8; SENDME_TAG_LEN]) -> Self {
        SendmeTag(bytes)
    }

    /// The tag bytes, as they go into a SENDME v1 body.
    pub const fn as_bytes(&self) -> &[u8; SENDME_TAG_LEN] {
        &self.0
    }

    /// Takes the first 20 bytes of a digest output (SHA-1: all of it; SHA3-256: a prefix).
    /// Returns `None` if `digest` is shorter than 20 bytes.
    pub fn from_digest_prefix(digest: &[u8]) -> Option<Self> {
        let prefix = digest.get(..SENDME_TAG_LEN)?;
        let mut out = [0u8; SENDME_TAG_LEN];
        out.copy_from_slice(prefix);
        Some(SendmeTag(out))
    }
}

impl PartialEq for SendmeTag {
    fn eq(&self, other: &Self) -> bool {
        bool::from(self.0.ct_eq(&other.0))
    }
}

impl From<[u8; SENDME_TAG_LEN]> for SendmeTag {
    fn from(bytes: [u8; SENDME_TAG_LEN]) -> Self {
        SendmeTag(bytes)
    }
}

impl fmt::Debug for SendmeTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SendmeTag({})", hex::encode(self.0))
    }
}

/// A flow-control rule was broken, by the peer or (for `PackageWindowEmpty`) by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendmeError {
    /// Internal: the caller sent a DATA cell with a package window of 0.
    #[error("package window is empty; DATA cell must not be sent")]
    PackageWindowEmpty,
    /// Protocol violation: the peer sent more DATA cells than our deliver window allows.
    #[error("peer sent DATA beyond the deliver window")]
    DeliverWindowExhausted,
    /// Protocol violation: a circuit SENDME arrived with no DATA cell awaiting one.
    #[error("unexpected circuit SENDME: no tag is awaiting acknowledgement")]
    UnexpectedSendme,
    /// Protocol violation: the SENDME v1 tag is not the one we recorded.
    #[error("SENDME v1 tag does not match the recorded digest")]
    TagMismatch,
    /// Protocol violation: a version-0 (untagged) circuit SENDME where v1 is required.
    #[error("SENDME v0 (untagged) not accepted on this circuit")]
    UntaggedSendme,
    /// Protocol violation: a SENDME would raise the package window above its maximum.
    #[error("SENDME would raise the package window above its maximum")]
    WindowOverflow,
}

/// Whether a recorded tag is due for the DATA cell sent with package window `w` (before
/// decrementing): C tor `circuit_sent_cell_for_sendme` for the fixed-window algorithm.
fn tag_due(w: u16) -> bool {
    w != CIRCWINDOW_START && w != 0 && (w - 1).is_multiple_of(CIRCWINDOW_INCREMENT)
}

/// The sending side of one hop's circuit-level window (tor-spec §7.3; proposal 289 §3).
#[derive(Debug, Clone)]
pub struct CircSendWindow {
    /// DATA cells we may still send.
    window: u16,
    /// Tags of the DATA cells whose SENDMEs we await, oldest first.
    tags: VecDeque<SendmeTag>,
    /// Whether untagged (v0) SENDMEs are acceptable (consensus `sendme_accept_min_version`
    /// = 0, or a CREATE_FAST circuit).
    accept_v0: bool,
}

impl Default for CircSendWindow {
    fn default() -> Self {
        Self::new()
    }
}

impl CircSendWindow {
    /// A fresh window of 1000 that requires v1 SENDMEs.
    pub fn new() -> Self {
        CircSendWindow {
            window: CIRCWINDOW_START,
            tags: VecDeque::with_capacity(usize::from(CIRCWINDOW_START / CIRCWINDOW_INCREMENT) + 1),
            accept_v0: false,
        }
    }

    /// Also accept untagged (v0) SENDMEs; they still consume the oldest queued tag.
    pub fn accept_v0(mut self, accept: bool) -> Self {
        self.accept_v0 = accept;
        self
    }

    /// DATA cells that may still be sent.
    pub fn window(&self) -> u16 {
        self.window
    }

    /// True if a DATA cell may be sent now.
    pub fn can_send(&self) -> bool {
        self.window > 0
    }

    /// True if the next DATA cell's tag will be recorded.
    pub fn next_tag_recorded(&self) -> bool {
        tag_due(self.window)
    }

    /// Tags awaiting a SENDME, oldest first.
    pub fn pending_tags(&self) -> impl ExactSizeIterator<Item = &SendmeTag> {
        self.tags.iter()
    }

    /// Records a DATA cell just originated on this hop, with the tag the cell crypto
    /// returned for it. Fails (and changes nothing) if the window was already empty.
    pub fn data_sent(&mut self, tag: SendmeTag) -> Result<(), SendmeError> {
        if self.window == 0 {
            return Err(SendmeError::PackageWindowEmpty);
        }
        if tag_due(self.window) {
            self.tags.push_back(tag);
        }
        self.window -= 1;
        Ok(())
    }

    /// Handles a circuit-level SENDME from this hop: `Some(tag)` for v1, `None` for v0.
    ///
    /// As in C tor, the oldest queued tag is consumed before the checks, whatever the
    /// outcome; any error means the circuit must be closed.
    pub fn sendme_received(&mut self, tag: Option<&SendmeTag>) -> Result<(), SendmeError> {
        if tag.is_none() && !self.accept_v0 {
            return Err(SendmeError::UntaggedSendme);
        }
        let expected = self.tags.pop_front().ok_or(SendmeError::UnexpectedSendme)?;
        if let Some(got) = tag {
            if *got != expected {
                return Err(SendmeError::TagMismatch);
            }
        }
        let raised = self.window + CIRCWINDOW_INCREMENT;
        if raised > CIRCWINDOW_START {
            return Err(SendmeError::WindowOverflow);
        }
        self.window = raised;
        Ok(())
    }
}

/// The receiving side of one hop's circuit-level window (tor-spec §7.3).
#[derive(Debug, Clone)]
pub struct CircRecvWindow {
    /// DATA cells the peer may still send.
    window: u16,
}

impl Default for CircRecvWindow {
    fn default() -> Self {
        Self::new()
    }
}

impl CircRecvWindow {
    /// A fresh deliver window of 1000.
    pub fn new() -> Self {
        CircRecvWindow {
            window: CIRCWINDOW_START,
        }
    }

    /// The current deliver window.
    pub fn window(&self) -> u16 {
        self.window
    }

    /// Records a recognised DATA cell with the tag the cell crypto returned for it.
    ///
    /// Returns `Some(tag)` when a circuit SENDME v1 carrying `tag` must be sent now (the
    /// window fell to 900 or below; it is raised by 100 at once, as C tor does).
    pub fn data_received(&mut self, tag: SendmeTag) -> Result<Option<SendmeTag>, SendmeError> {
        if self.window == 0 {
            return Err(SendmeError::DeliverWindowExhausted);
        }
        self.window -= 1;
        if self.window <= CIRCWINDOW_START - CIRCWINDOW_INCREMENT {
            self.window += CIRCWINDOW_INCREMENT;
            Ok(Some(tag))
        } else {
            Ok(None)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn tag(n: u32) -> SendmeTag {
        let mut b = [0u8; SENDME_TAG_LEN];
        b[..4].copy_from_slice(&n.to_be_bytes());
        SendmeTag::new(b)
    }

    #[test]
    fn tags_recorded_on_every_hundredth_cell() {
        let mut w = CircSendWindow::new();
        let mut recorded_at = Vec::new();
        for n in 1..=1000u32 {
            let before = w.pending_tags().len();
            assert!(w.can_send());
            w.data_sent(tag(n)).unwrap();
            if w.pending_tags().len() > before {
                recorded_at.push(n);
            }
        }
        // The 100th, 200th, ... 1000th cells since the window was full.
        assert_eq!(recorded_at, (1..=10).map(|k| k * 100).collect::<Vec<_>>());
        assert!(!w.can_send());
        assert_eq!(w.data_sent(tag(0)), Err(SendmeError::PackageWindowEmpty));
        let pending: Vec<_> = w.pending_tags().copied().collect();
        assert_eq!(pending[0], tag(100));
        assert_eq!(pending[9], tag(1000));
        // Acknowledge them in order.
        for k in 1..=10u32 {
            w.sendme_received(Some(&tag(k * 100))).unwrap();
        }
        assert_eq!(w.window(), 1000);
        assert_eq!(
            w.sendme_received(Some(&tag(1))),
            Err(SendmeError::UnexpectedSendme)
        );
    }

    #[test]
    fn steady_state_with_prompt_sendmes() {
        let mut s = CircSendWindow::new();
        let mut r = CircRecvWindow::new();
        for n in 1..=10_000u32 {
            s.data_sent(tag(n)).unwrap();
            if let Some(t) = r.data_received(tag(n)).unwrap() {
                assert_eq!(n % 100, 0);
                assert_eq!(t, tag(n));
                s.sendme_received(Some(&t)).unwrap();
            }
            assert!(s.window() >= 900);
        }
        assert_eq!(s.window(), 1000);
        assert_eq!(r.window(), 1000);
    }

    #[test]
    fn mismatch_and_v0() {
        let mut s = CircSendWindow::new();
        for n in 1..=100u32 {
            s.data_sent(tag(n)).unwrap();
        }
        assert!(!s.next_tag_recorded());
        assert_eq!(
            s.sendme_received(Some(&tag(99))),
            Err(SendmeError::TagMismatch)
        );
        // The tag was consumed: a second SENDME finds nothing.
        assert_eq!(
            s.sendme_received(Some(&tag(100))),
            Err(SendmeError::UnexpectedSendme)
        );

        let mut s = CircSendWindow::new();
        for n in 1..=100u32 {
            s.data_sent(tag(n)).unwrap();
        }
        assert_eq!(s.sendme_received(None), Err(SendmeError::UntaggedSendme));
        let mut s = s.accept_v0(true);
        s.sendme_received(None).unwrap();
        assert_eq!(s.window(), 1000);
    }

    #[test]
    fn overflow_is_an_error() {
        // In order, a queued tag implies a window of at most 900, so only a corrupted
        // state reaches this check; build one by hand.
        let mut s = CircSendWindow::new();
        s.tags.push_back(tag(1));
        assert_eq!(
            s.sendme_received(Some(&tag(1))),
            Err(SendmeError::WindowOverflow)
        );
        assert_eq!(s.window(), 1000);
    }

    #[test]
    fn deliver_window_underflow() {
        // SENDMEs are due at once, so a drained deliver window needs a peer that ignores
        // them; build that state by hand.
        let mut r = CircRecvWindow::new();
        r.window = 0;
        assert_eq!(
            r.data_received(tag(2)),
            Err(SendmeError::DeliverWindowExhausted)
        );
        // Otherwise the window never drops below 900: the SENDME is due at once.
        let mut r = CircRecvWindow::new();
        for n in 1..=1000u32 {
            let due = r.data_received(tag(n)).unwrap();
            assert_eq!(due.is_some(), n % 100 == 0);
            assert!(r.window() >= 900);
        }
    }

    #[test]
    fn tag_helpers() {
        let d = [7u8; 32];
        assert_eq!(
            SendmeTag::from_digest_prefix(&d),
            Some(SendmeTag::new([7; 20]))
        );
        assert_eq!(SendmeTag::from_digest_prefix(&d[..19]), None);
        assert!(format!("{:?}", tag(1)).contains("00000001"));
    }

    /// The tags the cell crypto returns drive both trackers: a client sends DATA to an
    /// exit, the exit acknowledges with the tag of every 100th cell, the client verifies.
    /// The SENDMEs are delivered late (queued), so several tags are in flight at once.
    #[test]
    fn crypto_tags_through_the_window_rules() {
        use crate::crypto::tor1::{OriginCrypto, OriginLayer, Tor1RelayCrypto, BODY_LEN};
        let keys = [[3u8; 72], [5u8; 72], [7u8; 72]];
        let mut client = OriginCrypto::new();
        let mut relays: Vec<Tor1RelayCrypto> = Vec::new();
        for k in &keys {
            client.push(OriginLayer::tor1(k));
            relays.push(Tor1RelayCrypto::new(k));
        }
        let mut send = CircSendWindow::new();
        let mut recv = CircRecvWindow::new();
        let mut in_flight = VecDeque::new();
        let mut sent = 0u32;
        while sent < 5000 {
            if !send.can_send() {
                // Deliver every queued SENDME.
                while let Some(t) = in_flight.pop_front() {
                    send.sendme_received(Some(&t)).unwrap();
                }
                continue;
            }
            let mut body = [0u8; BODY_LEN];
            body[0] = 2;
            body[11..15].copy_from_slice(&sent.to_be_bytes());
            let tag = client.encrypt_forward(&mut body, 2).unwrap();
            send.data_sent(tag).unwrap();
            sent += 1;
            assert!(relays[0].decrypt_forward(&mut body).is_none());
            assert!(relays[1].decrypt_forward(&mut body).is_none());
            let rtag = relays[2].decrypt_forward(&mut body).unwrap();
            assert_eq!(rtag, tag);
            if let Some(t) = recv.data_received(rtag).unwrap() {
                in_flight.push_back(t);
                // Deliver SENDMEs in bursts of three.
                if in_flight.len() == 3 {
                    while let Some(t) = in_flight.pop_front() {
                        send.sendme_received(Some(&t)).unwrap();
                    }
                }
            }
        }
        // A forged tag (a stale one) is refused.
        let stale = send.pending_tags().next().copied();
        if let Some(t) = in_flight.pop_front() {
            assert_eq!(Some(t), stale);
            let mut forged = *t.as_bytes();
            forged[19] ^= 1;
            assert_eq!(
                send.sendme_received(Some(&SendmeTag::new(forged))),
                Err(SendmeError::TagMismatch)
            );
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Whatever the order of sends and (correct) SENDMEs, the sender's queue matches
        /// the receiver's emissions and no error occurs; a wrong tag always errors.
        #[test]
        fn windows_agree(steps in proptest::collection::vec(0u8..4, 1..3000), bad in 0usize..40) {
            let mut s = CircSendWindow::new();
            let mut r = CircRecvWindow::new();
            let mut acks: VecDeque<SendmeTag> = VecDeque::new();
            let mut n = 0u32;
            let mut n_acks = 0usize;
            for step in steps {
                if step == 0 || !s.can_send() {
                    if let Some(t) = acks.pop_front() {
                        n_acks += 1;
                        if n_acks == bad {
                            let mut b = *t.as_bytes();
                            b[0] ^= 0xff;
                            proptest::prop_assert_eq!(
                                s.sendme_received(Some(&SendmeTag::new(b))),
                                Err(SendmeError::TagMismatch)
                            );
                            return Ok(());
                        }
                        s.sendme_received(Some(&t)).unwrap();
                    }
                    continue;
                }
                n += 1;
                s.data_sent(tag(n)).unwrap();
                if let Some(t) = r.data_received(tag(n)).unwrap() {
                    acks.push_back(t);
                }
                proptest::prop_assert_eq!(s.pending_tags().len(), acks.len());
                proptest::prop_assert!(s.pending_tags().zip(acks.iter()).all(|(a, b)| a == b));
            }
        }
    }
}
