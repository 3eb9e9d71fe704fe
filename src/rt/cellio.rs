//! Cell I/O over a byte stream (normally TLS): the runtime half of a channel.
//!
//! [`CellReader`] turns a stream's bytes into cells with [`ChannelCodec`], returning each
//! cell with its exact wire bytes (the link handshake hashes them); [`CellWriter`] encodes
//! cells into one buffer and flushes it. Both keep their buffers bounded: the reader never
//! holds more than one maximal cell plus one read's worth of bytes, because the codec
//! rejects a variable-length cell longer than its limit as soon as the header arrives.
//!
//! No protocol decisions here: which cells are acceptable in which state is the link
//! handshake's and the circuit code's business.

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::cell::{CellError, ChanCell, ChannelCodec};

/// How many bytes one read asks for.
const READ_CHUNK: usize = 16 * 1024;

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

    /// The next cell and its exact wire bytes; `None` at a clean end of stream.
    pub async fn read_cell(&mut self) -> Result<Option<(ChanCell, Bytes)>, CellIoError> {
        loop {
            if let Some(found) = self.codec.decode_raw(&mut self.buf)? {
                return Ok(Some(found));
            }
            self.buf.reserve(READ_CHUNK);
            let n = self.inner.read_buf(&mut self.buf).await?;
            if n == 0 {
                return match self.buf.len() {
                    0 => Ok(None),
                    left => Err(CellIoError::TruncatedCell(left)),
                };
            }
        }
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
    buf: BytesMut,
}

impl<W: AsyncWrite + Unpin> CellWriter<W> {
    /// A writer with the given codec.
    pub fn new(inner: W, codec: ChannelCodec) -> Self {
        CellWriter {
            inner,
            codec,
            buf: BytesMut::new(),
        }
    }

    /// The codec, e.g. to set the link version once negotiated.
    pub fn codec_mut(&mut self) -> &mut ChannelCodec {
        &mut self.codec
    }

    /// Encodes a cell into the output buffer (not yet written) and returns its exact bytes.
    pub fn queue(&mut self, cell: &ChanCell) -> Result<Bytes, CellIoError> {
        let start = self.buf.len();
        self.codec.encode(cell, &mut self.buf)?;
        Ok(Bytes::copy_from_slice(&self.buf[start..]))
    }

    /// Queues bytes that are already encoded (the pre-negotiation VERSIONS cell).
    pub fn queue_raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes queued and not yet written.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// Writes everything queued and flushes the stream.
    pub async fn flush(&mut self) -> Result<(), CellIoError> {
        if !self.buf.is_empty() {
            self.inner.write_all(&self.buf).await?;
            self.buf.clear();
        }
        self.inner.flush().await?;
        Ok(())
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
