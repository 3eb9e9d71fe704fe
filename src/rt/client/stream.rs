//! [`DataStream`]: an exit or directory stream as tokio `AsyncRead + AsyncWrite`, with the
//! buffers it shares with its circuit's task.
//!
//! Tor streams have no half-close (tor-spec §6.3): shutting down the write side sends END,
//! after which reads see end-of-file, as C tor does when an application closes its side.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::mpsc;

use super::circuit::Cmd;
use super::{end_reason_kind, CircuitClosed, Error};
use crate::client::StreamId;
use crate::relaycell::EndReason;

/// Received bytes buffered before the stream's SENDMEs are held back.
const PAUSE_AT: usize = 128 * 1024;
/// Received bytes buffered below which held SENDMEs are released.
const RESUME_AT: usize = 32 * 1024;
/// Bytes a writer may buffer ahead of the windows.
const SEND_CAP: usize = 64 * 1024;

/// How the read side ended.
#[derive(Debug, Clone)]
pub(super) enum ReadEnd {
    /// Cleanly (END DONE, or our own END).
    Eof,
    /// END with another reason.
    Ended(EndReason),
    /// The circuit closed.
    Closed(CircuitClosed),
}

/// The state a stream shares with its circuit's task.
#[derive(Debug, Default)]
pub(super) struct StreamState {
    recv: VecDeque<Bytes>,
    recv_len: usize,
    pub(super) read_end: Option<ReadEnd>,
    read_waker: Option<Waker>,
    /// Stream SENDMEs are held (the reader fell behind).
    pub(super) paused: bool,
    /// Bytes written by the application, not yet packaged.
    pub(super) send: BytesMut,
    write_waker: Option<Waker>,
    /// The application shut the write side down: END once `send` is empty.
    pub(super) shutdown: bool,
    /// The handle is gone: END once `send` is empty.
    pub(super) dropped: bool,
    /// END was sent (or the stream is otherwise over for writing).
    pub(super) end_sent: bool,
    /// A service request is queued with the circuit's task.
    pub(super) wake_queued: bool,
}

impl StreamState {
    /// True if the reader has drained enough to release held SENDMEs.
    pub(super) fn reader_caught_up(&self) -> bool {
        self.recv_len < RESUME_AT
    }

    /// Wakes both halves.
    pub(super) fn wake_all(&mut self) {
        if let Some(w) = self.read_waker.take() {
            w.wake();
        }
        if let Some(w) = self.write_waker.take() {
            w.wake();
        }
    }
}

/// A stream's shared state.
#[derive(Debug, Default)]
pub(super) struct StreamShared(Mutex<StreamState>);

impl StreamShared {
    pub(super) fn new() -> Self {
        StreamShared::default()
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, StreamState> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Buffers received bytes; true if the stream's reads should now be paused.
    pub(super) fn push(&self, data: Bytes) -> bool {
        let mut st = self.lock();
        st.recv_len += data.len();
        st.recv.push_back(data);
        if let Some(w) = st.read_waker.take() {
            w.wake();
        }
        if !st.paused && st.recv_len >= PAUSE_AT {
            st.paused = true;
            return true;
        }
        false
    }

    /// The stream is over (END from the exit, or the circuit closed).
    pub(super) fn finish(&self, end: ReadEnd) {
        let mut st = self.lock();
        st.read_end.get_or_insert(end);
        st.end_sent = true;
        st.wake_all();
    }
}

/// An open stream on a [`super::Circuit`]: tokio `AsyncRead + AsyncWrite`.
///
/// Reads return end-of-file after END(DONE); any other END reason is an `io::Error` whose
/// [`stream_end_reason`] is that reason, and a closed circuit is an error too. Writes are
/// buffered (64 KiB) ahead of the flow-control windows; `flush` waits until the buffer is
/// handed to the circuit. `shutdown`, or dropping the stream, sends END after the buffered
/// bytes.
#[derive(Debug)]
pub struct DataStream {
    id: StreamId,
    shared: Arc<StreamShared>,
    cmd: mpsc::UnboundedSender<Cmd>,
}

/// The END reason behind a stream's `io::Error`, if the exit ended the stream.
pub fn stream_end_reason(err: &io::Error) -> Option<EndReason> {
    err.get_ref()
        .and_then(|e| e.downcast_ref::<Error>())
        .and_then(Error::end_reason)
}

fn ended_error(end: &ReadEnd) -> io::Error {
    match end {
        ReadEnd::Eof => io::Error::new(io::ErrorKind::BrokenPipe, "stream is closed"),
        ReadEnd::Ended(r) => io::Error::new(end_reason_kind(*r), Error::StreamEnded(*r)),
        ReadEnd::Closed(c) => {
            io::Error::new(io::ErrorKind::ConnectionAborted, Error::Closed(c.clone()))
        }
    }
}

impl DataStream {
    pub(super) fn new(
        id: StreamId,
        shared: Arc<StreamShared>,
        cmd: mpsc::UnboundedSender<Cmd>,
    ) -> Self {
        DataStream { id, shared, cmd }
    }

    /// The stream id on its circuit.
    pub fn id(&self) -> StreamId {
        self.id
    }

    /// Received bytes buffered, not yet read by the application. Bounded: once it passes
    /// 128 KiB the stream's SENDMEs are held, so at most one stream window (500 cells) more
    /// arrives.
    pub fn buffered_read(&self) -> usize {
        self.shared.lock().recv_len
    }

    /// Asks the circuit's task to look at this stream (once until it does).
    fn request_service(&self, st: &mut StreamState) {
        if !st.wake_queued {
            st.wake_queued = true;
            if self.cmd.send(Cmd::Stream(self.id)).is_err() {
                st.read_end
                    .get_or_insert(ReadEnd::Closed(CircuitClosed::Abandoned));
                st.end_sent = true;
            }
        }
    }
}

impl AsyncRead for DataStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let mut st = this.shared.lock();
        if st.recv.is_empty() {
            return match &st.read_end {
                Some(ReadEnd::Eof) => Poll::Ready(Ok(())),
                Some(end) => Poll::Ready(Err(ended_error(end))),
                None => {
                    st.read_waker = Some(cx.waker().clone());
                    Poll::Pending
                }
            };
        }
        while buf.remaining() > 0 {
            let Some(front) = st.recv.front_mut() else {
                break;
            };
            let n = front.len().min(buf.remaining());
            buf.put_slice(&front[..n]);
            front.advance(n);
            if front.is_empty() {
                st.recv.pop_front();
            }
            st.recv_len -= n;
        }
        if st.paused && st.reader_caught_up() && st.read_end.is_none() {
            this.request_service(&mut st);
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for DataStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let mut st = this.shared.lock();
        if st.end_sent || st.shutdown {
            let end = st.read_end.clone().unwrap_or(ReadEnd::Eof);
            return Poll::Ready(Err(ended_error(&end)));
        }
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let room = SEND_CAP.saturating_sub(st.send.len());
        if room == 0 {
            st.write_waker = Some(cx.waker().clone());
            this.request_service(&mut st);
            return Poll::Pending;
        }
        let n = room.min(data.len());
        st.send.extend_from_slice(&data[..n]);
        this.request_service(&mut st);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let mut st = this.shared.lock();
        if st.send.is_empty() {
            return Poll::Ready(Ok(()));
        }
        if st.end_sent {
            let end = st.read_end.clone().unwrap_or(ReadEnd::Eof);
            return Poll::Ready(Err(ended_error(&end)));
        }
        st.write_waker = Some(cx.waker().clone());
        this.request_service(&mut st);
        Poll::Pending
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let mut st = this.shared.lock();
        if st.end_sent {
            return Poll::Ready(Ok(()));
        }
        st.shutdown = true;
        st.write_waker = Some(cx.waker().clone());
        this.request_service(&mut st);
        Poll::Pending
    }
}

impl Drop for DataStream {
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        if !st.end_sent {
            st.dropped = true;
            self.request_service(&mut st);
        }
    }
}
