//! Cell I/O over a byte stream (normally TLS): the runtime half of a channel.
//!
//! [`CellReader`] turns a stream's bytes into cells with [`ChannelCodec`]: during the link
//! handshake with each cell's exact wire bytes (which the handshake hashes), afterwards
//! without them, so that a RELAY body comes out as a uniquely owned, mutable slice of the
//! read buffer. [`CellWriter`] encodes cells into a queue of chunks and writes them with
//! vectored writes: a RELAY cell sent by value contributes its 5-byte header to a shared
//! small-cell buffer and its body as a chunk of its own, so the body is never copied before
//! the stream (TLS) takes it; small cells are still batched into few writes. Both keep their buffers bounded: the reader never
//! holds more than one maximal cell plus one read's worth of bytes, because the codec
//! rejects a variable-length cell longer than its limit as soon as the header arrives.
//!
//! No protocol decisions here: which cells are acceptable in which state is the link
//! handshake's and the circuit code's business.

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::cell::{AnyChanMsg, CellError, ChanCell, ChanCmd, ChannelCodec};

/// How many bytes one read asks for.
const READ_CHUNK: usize = 16 * 1024;

/// How many chunks one vectored write hands over at most.
const MAX_IOVECS: usize = 512;

/// A failure of cell I/O.
#[derive(Debug, thiserror::Error)]
pub enum CellIoError {
    /// The peer sent bytes that are not a valid cell.
    #[error("bad cell from peer: {0}")]
    Cell(#[from] CellError),
    /// The stream failed.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The peer closed the stream in the middle of a cell.
    #[error("connection closed in the middle of a cell ({0} bytes buffered)")]
    TruncatedCell(usize),
}

/// Reads cells from a byte stream.
#[derive(Debug)]
pub struct CellReader<R> {
    inner: R,
    codec: ChannelCodec,
    buf: BytesMut,
}

impl<R: AsyncRead + Unpin> CellReader<R> {
    /// A reader with the given codec (unnegotiated before VERSIONS).
    pub fn new(inner: R, codec: ChannelCodec) -> Self {
        CellReader {
            inner,
            codec,
            buf: BytesMut::with_capacity(READ_CHUNK),
        }
    }

    /// A reader that starts with bytes already read from `inner` (left over from a
    /// previous reader on the same stream).
    pub fn with_buffer(inner: R, codec: ChannelCodec, buf: BytesMut) -> Self {
        CellReader { inner, codec, buf }
    }

    /// The codec, e.g. to set the link version once negotiated.
    pub fn codec_mut(&mut self) -> &mut ChannelCodec {
        &mut self.codec
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// The underlying stream, e.g. to write during the link handshake.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// The stream and the bytes read from it but not yet decoded.
    pub fn into_parts(self) -> (R, BytesMut) {
        (self.inner, self.buf)
    }

    /// The next cell and its exact wire bytes; `None` at a clean end of stream. For the
    /// link handshake: a RELAY body read this way is copied once (use
    /// [`next_cell`](Self::next_cell) on the data path).
    pub async fn read_cell(&mut self) -> Result<Option<(ChanCell, Bytes)>, CellIoError> {
        loop {
            if let Some(found) = self.codec.decode_raw(&mut self.buf)? {
                return Ok(Some(found));
            }
            if !self.fill().await? {
                return Ok(None);
            }
        }
    }

    /// The next cell, without its wire bytes; `None` at a clean end of stream. A RELAY or
    /// RELAY_EARLY body is split off the read buffer without a copy.
    pub async fn next_cell(&mut self) -> Result<Option<ChanCell>, CellIoError> {
        loop {
            if let Some(found) = self.codec.decode(&mut self.buf)? {
                return Ok(Some(found));
            }
            if !self.fill().await? {
                return Ok(None);
            }
        }
    }

    /// Reads more bytes; `false` at a clean end of stream.
    async fn fill(&mut self) -> Result<bool, CellIoError> {
        self.buf.reserve(READ_CHUNK);
        let n = self.inner.read_buf(&mut self.buf).await?;
        if n == 0 {
            return match self.buf.len() {
                0 => Ok(false),
                left => Err(CellIoError::TruncatedCell(left)),
            };
        }
        Ok(true)
    }

    /// Bytes buffered but not yet decoded.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The underlying stream.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

/// Writes cells to a byte stream.
#[derive(Debug)]
pub struct CellWriter<W> {
    inner: W,
    codec: ChannelCodec,
    /// Chunks ready to write, in order (before `buf`).
    chunks: VecDeque<Bytes>,
    /// Small encoded cells and headers not yet turned into a chunk.
    buf: BytesMut,
    /// Bytes in `chunks`.
    chunked: usize,
}

impl<W: AsyncWrite + Unpin> CellWriter<W> {
    /// A writer with the given codec.
    pub fn new(inner: W, codec: ChannelCodec) -> Self {
        CellWriter {
            inner,
            codec,
            chunks: VecDeque::new(),
            buf: BytesMut::new(),
            chunked: 0,
        }
    }

    /// The codec, e.g. to set the link version once negotiated.
    pub fn codec_mut(&mut self) -> &mut ChannelCodec {
        &mut self.codec
    }

    /// Encodes a cell into the output queue (not yet written) and returns its exact bytes
    /// (a copy: for the link handshake; the data path uses [`send`](Self::send)).
    pub fn queue(&mut self, cell: &ChanCell) -> Result<Bytes, CellIoError> {
        let start = self.buf.len();
        self.codec.encode(cell, &mut self.buf)?;
        Ok(Bytes::copy_from_slice(&self.buf[start..]))
    }

    /// Queues a cell (not yet written). A RELAY or RELAY_EARLY body is queued as its own
    /// chunk, without being copied; other cells are encoded into the small-cell buffer.
    pub fn send(&mut self, cell: ChanCell) -> Result<(), CellIoError> {
        let (cmd, relay) = match cell.msg {
            AnyChanMsg::Relay(r) => (ChanCmd::RELAY, r),
            AnyChanMsg::RelayEarly(r) => (ChanCmd::RELAY_EARLY, r.0),
            msg => {
                let cell = ChanCell {
                    circ_id: cell.circ_id,
                    msg,
                };
                self.codec.encode(&cell, &mut self.buf)?;
                return Ok(());
            }
        };
        if self.codec.link_version().is_none() || !cmd.accepts_circ_id(cell.circ_id) {
            // Let the codec refuse it with its usual error.
            let msg = if cmd == ChanCmd::RELAY {
                AnyChanMsg::Relay(relay)
            } else {
                AnyChanMsg::RelayEarly(crate::cell::RelayEarly(relay))
            };
            self.codec.encode(
                &ChanCell {
                    circ_id: cell.circ_id,
                    msg,
                },
                &mut self.buf,
            )?;
            return Ok(());
        }
        // The header: 4-byte circuit id and command; the body is exactly 509 bytes.
        self.buf.extend_from_slice(&cell.circ_id.0.to_be_bytes());
        self.buf.extend_from_slice(&[cmd.0]);
        self.seal_buf();
        let body = relay.into_body();
        self.chunked += body.len();
        self.chunks.push_back(body);
        Ok(())
    }

    /// Queues bytes that are already encoded (the pre-negotiation VERSIONS cell).
    pub fn queue_raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes queued and not yet written.
    pub fn pending(&self) -> usize {
        self.chunked + self.buf.len()
    }

    /// Moves the small-cell buffer to the chunk queue.
    fn seal_buf(&mut self) {
        if !self.buf.is_empty() {
            let b = self.buf.split().freeze();
            self.chunked += b.len();
            self.chunks.push_back(b);
        }
    }

    /// Writes everything queued and flushes the stream.
    pub async fn flush(&mut self) -> Result<(), CellIoError> {
        self.seal_buf();
        while !self.chunks.is_empty() {
            let n = {
                let mut iov = [IoSlice::new(&[]); MAX_IOVECS];
                let mut k = 0;
                for (slot, c) in iov.iter_mut().zip(self.chunks.iter()) {
                    *slot = IoSlice::new(c);
                    k += 1;
                }
                self.inner.write_vectored(&iov[..k]).await?
            };
            if n == 0 {
                return Err(std::io::Error::from(std::io::ErrorKind::WriteZero).into());
            }
            self.consume(n);
        }
        self.inner.flush().await?;
        Ok(())
    }

    /// Drops `n` written bytes from the front of the chunk queue.
    fn consume(&mut self, mut n: usize) {
        self.chunked = self.chunked.saturating_sub(n);
        while n > 0 {
            let Some(front) = self.chunks.front_mut() else {
                return;
            };
            if n < front.len() {
                front.advance(n);
                return;
            }
            n -= front.len();
            self.chunks.pop_front();
        }
    }

    /// Flushes and shuts down the write side.
    pub async fn shutdown(&mut self) -> Result<(), CellIoError> {
        self.flush().await?;
        self.inner.shutdown().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cell::{AnyChanMsg, CircId, Destroy, DestroyReason, Netinfo, Versions};

    #[tokio::test]
    async fn cells_cross_a_stream_in_pieces() {
        let (a, b) = tokio::io::duplex(7); // tiny buffer: cells arrive in fragments
        let mut w = CellWriter::new(a, ChannelCodec::unnegotiated());
        let mut r = CellReader::new(b, ChannelCodec::unnegotiated());
        let versions = crate::cell::codec::raw::versions_cell(&[4, 5]).unwrap();
        let writer = tokio::spawn(async move {
            w.queue_raw(&versions);
            w.flush().await.unwrap();
            w.codec_mut().set_link_version(5).unwrap();
            let netinfo = ChanCell::channel(Netinfo::from_client([127, 0, 0, 1].into()));
            let raw = w.queue(&netinfo).unwrap();
            assert_eq!(raw.len(), 514);
            w.queue(&ChanCell::new(
                CircId(0x8000_0001),
                Destroy {
                    reason: DestroyReason::FINISHED,
                },
            ))
            .unwrap();
            w.shutdown().await.unwrap();
        });
        let (first, raw) = r.read_cell().await.unwrap().unwrap();
        assert!(
            matches!(first.msg, AnyChanMsg::Versions(Versions { ref versions }) if versions == &[4, 5])
        );
        assert_eq!(raw.len(), 9);
        r.codec_mut().set_link_version(5).unwrap();
        let (second, _) = r.read_cell().await.unwrap().unwrap();
        assert!(matches!(second.msg, AnyChanMsg::Netinfo(_)));
        let (third, _) = r.read_cell().await.unwrap().unwrap();
        assert_eq!(third.circ_id, CircId(0x8000_0001));
        assert!(r.read_cell().await.unwrap().is_none());
        writer.await.unwrap();
    }

    /// A sink that records where each written slice starts and how long it is.
    #[derive(Default)]
    struct Recorder {
        slices: Vec<(usize, usize)>,
        bytes: Vec<u8>,
        writes: usize,
    }

    impl AsyncWrite for Recorder {
        fn poll_write(
            self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            self.poll_write_vectored(cx, &[IoSlice::new(buf)])
        }
        fn poll_write_vectored(
            mut self: std::pin::Pin<&mut Self>,
            _cx: &mut std::task::Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> std::task::Poll<std::io::Result<usize>> {
            let me = &mut *self;
            me.writes += 1;
            let mut n = 0;
            for b in bufs {
                me.slices.push((b.as_ptr() as usize, b.len()));
                me.bytes.extend_from_slice(b);
                n += b.len();
            }
            std::task::Poll::Ready(Ok(n))
        }
        fn is_write_vectored(&self) -> bool {
            true
        }
        fn poll_flush(
            self: std::pin::Pin<&mut Self>,
            _cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }
        fn poll_shutdown(
            self: std::pin::Pin<&mut Self>,
            _cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn relay_bodies_reach_the_write_call_uncopied() {
        use crate::cell::{Padding, Relay, RelayEarly};
        let codec = ChannelCodec::new(Some(5)).unwrap();
        // Two relay cells decoded from one read buffer, as a relay forwards them.
        let mut wire = BytesMut::new();
        let a = ChanCell::new(CircId(0x8000_0001), Relay::from_array([1; 509]));
        let b = ChanCell::new(CircId(7), RelayEarly(Relay::from_array([2; 509])));
        codec.encode(&a, &mut wire).unwrap();
        codec.encode(&b, &mut wire).unwrap();
        let base = wire.as_ptr() as usize;
        let a2 = codec.decode(&mut wire).unwrap().unwrap();
        let b2 = codec.decode(&mut wire).unwrap().unwrap();
        let mut w = CellWriter::new(Recorder::default(), codec.clone());
        w.send(ChanCell::channel(Padding)).unwrap();
        w.send(a2).unwrap();
        w.send(b2).unwrap();
        w.send(ChanCell::channel(Padding)).unwrap();
        assert_eq!(w.pending(), 4 * 514);
        w.flush().await.unwrap();
        assert_eq!(w.pending(), 0);
        let rec = &w.inner;
        // One write call for the whole batch; both bodies handed over where they were read.
        assert_eq!(rec.writes, 1);
        assert!(rec.slices.contains(&(base + 5, 509)));
        assert!(rec.slices.contains(&(base + 514 + 5, 509)));
        // The bytes are the usual encoding.
        let mut expect = BytesMut::new();
        for c in [
            &ChanCell::channel(Padding),
            &a,
            &b,
            &ChanCell::channel(Padding),
        ] {
            codec.encode(c, &mut expect).unwrap();
        }
        assert_eq!(rec.bytes, expect.to_vec());
    }

    #[tokio::test]
    async fn partial_vectored_writes_resume() {
        // A duplex with a tiny buffer accepts a few bytes per write.
        let (a, b) = tokio::io::duplex(7);
        let codec = ChannelCodec::new(Some(5)).unwrap();
        let mut w = CellWriter::new(a, codec.clone());
        let mut r = CellReader::new(b, codec);
        let cells: Vec<ChanCell> = (1..=3u8)
            .map(|i| {
                ChanCell::new(
                    CircId(u32::from(i)),
                    crate::cell::Relay::from_array([i; 509]),
                )
            })
            .collect();
        let sent = cells.clone();
        let writer = tokio::spawn(async move {
            for c in sent {
                w.send(c).unwrap();
            }
            w.shutdown().await.unwrap();
        });
        for c in &cells {
            assert_eq!(&r.next_cell().await.unwrap().unwrap(), c);
        }
        assert!(r.next_cell().await.unwrap().is_none());
        writer.await.unwrap();
    }

    #[tokio::test]
    async fn a_truncated_cell_is_an_error() {
        let (mut a, b) = tokio::io::duplex(1024);
        let mut r = CellReader::new(b, ChannelCodec::new(Some(5)).unwrap());
        a.write_all(&[0x80, 0, 0, 1, 3, 0, 0]).await.unwrap();
        drop(a);
        assert!(matches!(
            r.read_cell().await,
            Err(CellIoError::TruncatedCell(7))
        ));
    }

    #[tokio::test]
    async fn an_oversized_variable_cell_is_refused_at_its_header() {
        let (mut a, b) = tokio::io::duplex(1024);
        let codec = ChannelCodec::new(Some(5)).unwrap().with_max_var_body(100);
        let mut r = CellReader::new(b, codec);
        // VPADDING claiming 60,000 bytes: refused before the body is buffered.
        a.write_all(&[0, 0, 0, 0, 128, 0xea, 0x60]).await.unwrap();
        assert!(matches!(r.read_cell().await, Err(CellIoError::Cell(_))));
        assert!(r.buffered() < 100);
    }
}
