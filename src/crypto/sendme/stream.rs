//! Stream-level windows (tor-spec §7.4): 500 DATA cells, +50 per stream SENDME, no tags.
//! Each stream keeps one pair; with congestion control they are replaced by XON/XOFF,
//! which is not implemented here.

use super::{SendmeError, STREAMWINDOW_INCREMENT, STREAMWINDOW_START};

/// The sending side of a stream-level window (tor-spec §7.4; no tags).
#[derive(Debug, Clone)]
pub struct StreamSendWindow {
    /// DATA cells we may still send on this stream.
    window: u16,
}

impl Default for StreamSendWindow {
    fn default() -> Self {
        Self::new()
    }
}

impl StreamSendWindow {
    /// A fresh window of 500.
    pub fn new() -> Self {
        StreamSendWindow {
            window: STREAMWINDOW_START,
        }
    }

    /// DATA cells that may still be sent on the stream.
    pub fn window(&self) -> u16 {
        self.window
    }

    /// Records a DATA cell sent on the stream; fails if the window was empty.
    pub fn data_sent(&mut self) -> Result<(), SendmeError> {
        self.window = self
            .window
            .checked_sub(1)
            .ok_or(SendmeError::PackageWindowEmpty)?;
        Ok(())
    }

    /// Handles a stream SENDME; fails if it would raise the window above 500.
    pub fn sendme_received(&mut self) -> Result<(), SendmeError> {
        let raised = self.window + STREAMWINDOW_INCREMENT;
        if raised > STREAMWINDOW_START {
            return Err(SendmeError::WindowOverflow);
        }
        self.window = raised;
        Ok(())
    }
}

/// The receiving side of a stream-level window (tor-spec §7.4; no tags).
#[derive(Debug, Clone)]
pub struct StreamRecvWindow {
    /// DATA cells the peer may still send on this stream.
    window: u16,
}

impl Default for StreamRecvWindow {
    fn default() -> Self {
        Self::new()
    }
}

impl StreamRecvWindow {
    /// A fresh deliver window of 500.
    pub fn new() -> Self {
        StreamRecvWindow {
            window: STREAMWINDOW_START,
        }
    }

    /// The current deliver window.
    pub fn window(&self) -> u16 {
        self.window
    }

    /// Records a DATA cell received on the stream; fails if the peer overran the window.
    pub fn data_received(&mut self) -> Result<(), SendmeError> {
        self.window = self
            .window
            .checked_sub(1)
            .ok_or(SendmeError::DeliverWindowExhausted)?;
        Ok(())
    }

    /// If a stream SENDME is due (window ≤ 450), raises the window by 50 and returns true:
    /// the caller then sends one SENDME. C tor calls this only while the stream's outgoing
    /// buffer is not too full, and repeats while it returns true.
    pub fn take_sendme(&mut self) -> bool {
        if self.window <= STREAMWINDOW_START - STREAMWINDOW_INCREMENT {
            self.window += STREAMWINDOW_INCREMENT;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn stream_windows() {
        let mut s = StreamSendWindow::new();
        let mut r = StreamRecvWindow::new();
        for _ in 0..500 {
            s.data_sent().unwrap();
            r.data_received().unwrap();
        }
        assert_eq!(s.data_sent(), Err(SendmeError::PackageWindowEmpty));
        assert_eq!(r.data_received(), Err(SendmeError::DeliverWindowExhausted));
        let mut n = 0;
        while r.take_sendme() {
            s.sendme_received().unwrap();
            n += 1;
        }
        assert_eq!(n, 10); // 0 -> 500
        assert_eq!(r.window(), 500);
        assert_eq!(s.window(), 500);
        assert_eq!(s.sendme_received(), Err(SendmeError::WindowOverflow));
        let mut r = StreamRecvWindow::new();
        for _ in 0..49 {
            r.data_received().unwrap();
        }
        assert!(!r.take_sendme());
        r.data_received().unwrap();
        assert!(r.take_sendme());
        assert_eq!(r.window(), 500);
    }
}
