//! Unit tests: circuit-id allocation and cell routing over an in-memory channel.

use std::collections::HashSet;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use tokio::sync::mpsc;

use super::channel::Table;
use super::*;
use crate::cell::{AnyChanMsg, ChanCell, ChannelCodec, CircId, Destroy, DestroyReason, Padding};
use crate::rt::cellio::{CellReader, CellWriter};

#[test]
fn ids_have_the_high_bit_and_are_unique() {
    let mut table = Table::default();
    let mut rng = StdRng::seed_from_u64(7);
    let mut seen = HashSet::new();
    for _ in 0..2000 {
        let (tx, _rx) = mpsc::channel(1);
        let id = table.allocate(tx, &mut rng).unwrap();
        assert!(id.0 & 0x8000_0000 != 0, "initiator ids have the high bit");
        assert_ne!(id.0, 0x8000_0000);
        assert!(seen.insert(id.0), "no id handed out twice");
    }
    assert_eq!(table.len(), 2000);
}

/// An RNG that repeats one value a few times, then counts up: collisions must be skipped.
struct Stuck(u32, u32);
impl RngCore for Stuck {
    fn next_u32(&mut self) -> u32 {
        if self.1 > 0 {
            self.1 -= 1;
            self.0
        } else {
            self.0 += 1;
            self.0
        }
    }
    fn next_u64(&mut self) -> u64 {
        u64::from(self.next_u32())
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        rand_core::impls::fill_bytes_via_next(self, dest)
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

#[test]
fn colliding_and_zero_ids_are_skipped() {
    let mut table = Table::default();
    let (tx, _rx) = mpsc::channel(1);
    // 0x0000_0000 | high bit = 0x8000_0000: never used.
    let id = table.allocate(tx.clone(), &mut Stuck(0, 3)).unwrap();
    assert_eq!(id, CircId(0x8000_0001));
    // The same value again: the taken id is skipped.
    let id2 = table.allocate(tx.clone(), &mut Stuck(1, 5)).unwrap();
    assert_eq!(id2, CircId(0x8000_0002));
    // A stuck RNG that only ever yields a taken id gives up.
    let mut forever = Stuck(1, u32::MAX);
    assert!(matches!(
        table.allocate(tx.clone(), &mut forever),
        Err(Error::CircIdsExhausted)
    ));
    table.remove(id);
    assert_eq!(table.allocate(tx.clone(), &mut forever).unwrap(), id);
    table.kill();
    assert!(matches!(
        table.allocate(tx, &mut StdRng::seed_from_u64(1)),
        Err(Error::ChannelClosed)
    ));
}

fn destroy(id: CircId, reason: u8) -> ChanCell {
    ChanCell::new(
        id,
        Destroy {
            reason: DestroyReason::from(reason),
        },
    )
}

#[tokio::test]
async fn cells_are_routed_by_circuit_id_and_the_channel_death_ends_circuits() {
    let (ours, theirs) = tokio::io::duplex(4096);
    let (r, w) = tokio::io::split(ours);
    let codec = ChannelCodec::new(Some(5)).unwrap();
    let chan = ClientChannel::from_parts(
        CellReader::new(r, codec.clone()),
        CellWriter::new(w, codec.clone()),
        None,
        "127.0.0.1:9".parse().unwrap(),
    );
    let mut rng = StdRng::seed_from_u64(3);
    let (a, mut a_rx) = chan.register(&mut rng).unwrap();
    let (b, mut b_rx) = chan.register(&mut rng).unwrap();
    assert_ne!(a, b);
    assert_eq!(chan.n_circuits(), 2);

    let (tr, tw) = tokio::io::split(theirs);
    let mut relay_w = CellWriter::new(tw, codec.clone());
    let mut relay_r = CellReader::new(tr, codec.clone());
    relay_w.queue(&ChanCell::channel(Padding)).unwrap();
    relay_w.queue(&destroy(b, 1)).unwrap();
    relay_w.queue(&destroy(CircId(0x8000_1234), 2)).unwrap(); // nobody's
    relay_w.queue(&destroy(a, 3)).unwrap();
    relay_w.queue(&destroy(b, 4)).unwrap();
    relay_w.flush().await.unwrap();

    let t = Duration::from_secs(5);
    let got = |c: Option<ChanCell>| match c.map(|c| (c.circ_id, c.msg)) {
        Some((id, AnyChanMsg::Destroy(d))) => (id, u8::from(d.reason)),
        other => panic!("unexpected {other:?}"),
    };
    let first_b = tokio::time::timeout(t, b_rx.recv()).await.unwrap();
    assert_eq!(got(first_b), (b, 1));
    let first_a = tokio::time::timeout(t, a_rx.recv()).await.unwrap();
    assert_eq!(got(first_a), (a, 3));
    let second_b = tokio::time::timeout(t, b_rx.recv()).await.unwrap();
    assert_eq!(got(second_b), (b, 4));

    // Outgoing: cells queued by circuits reach the wire in order.
    chan.send(destroy(a, 5)).await.unwrap();
    chan.send(destroy(b, 6)).await.unwrap();
    let (c1, _) = relay_r.read_cell().await.unwrap().unwrap();
    let (c2, _) = relay_r.read_cell().await.unwrap().unwrap();
    assert_eq!(got(Some(c1)), (a, 5));
    assert_eq!(got(Some(c2)), (b, 6));

    // A deregistered circuit gets nothing more.
    chan.deregister(a);
    assert_eq!(chan.n_circuits(), 1);
    assert!(tokio::time::timeout(t, a_rx.recv())
        .await
        .unwrap()
        .is_none());

    // The relay hangs up: the channel dies and every circuit's queue ends.
    drop(relay_w);
    drop(relay_r);
    assert!(tokio::time::timeout(t, b_rx.recv())
        .await
        .unwrap()
        .is_none());
    tokio::time::timeout(t, chan.closed()).await.unwrap();
    assert!(chan.is_closed());
    assert!(chan.register(&mut rng).is_err());
    assert!(chan.send(destroy(b, 1)).await.is_err());
}

#[test]
fn end_reasons_map_to_io_kinds() {
    use crate::relaycell::EndReason;
    use std::io::ErrorKind;
    assert_eq!(
        end_reason_kind(EndReason::CONNECTREFUSED),
        ErrorKind::ConnectionRefused
    );
    assert_eq!(
        end_reason_kind(EndReason::EXITPOLICY),
        ErrorKind::PermissionDenied
    );
    let e = std::io::Error::new(
        end_reason_kind(EndReason::EXITPOLICY),
        Error::StreamEnded(EndReason::EXITPOLICY),
    );
    assert_eq!(stream_end_reason(&e), Some(EndReason::EXITPOLICY));
    assert_eq!(stream_end_reason(&std::io::Error::other("x")), None);
}

#[tokio::test]
async fn a_slow_reader_holds_sendmes_and_releases_them_when_it_catches_up() {
    use super::circuit::Cmd;
    use super::stream::{ReadEnd, StreamShared};
    use tokio::io::AsyncReadExt;

    let shared = std::sync::Arc::new(StreamShared::new());
    let (tx, mut rx) = mpsc::unbounded_channel::<Cmd>();
    let mut stream = DataStream::new(7, shared.clone(), tx);
    let cell = bytes::Bytes::from(vec![0xab; 498]);
    // 128 KiB = 263.2 cells: the push that crosses it asks for a pause, once.
    let pauses: Vec<bool> = (0..300).map(|_| shared.push(cell.clone())).collect();
    assert_eq!(pauses.iter().filter(|p| **p).count(), 1);
    assert!(pauses[263]);
    assert_eq!(stream.buffered_read(), 300 * 498);
    // Reading down to below 32 KiB asks the circuit task to service the stream, once.
    let mut buf = vec![0u8; 300 * 498 - 30 * 1024];
    stream.read_exact(&mut buf).await.unwrap();
    assert!(matches!(rx.try_recv(), Ok(Cmd::Stream(7))));
    assert!(rx.try_recv().is_err());
    assert!(shared.lock().reader_caught_up());
    // The exit's END(DONE) is end-of-file after the buffered bytes.
    shared.finish(ReadEnd::Eof);
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).await.unwrap();
    assert_eq!(rest.len(), 30 * 1024);
    // Any other reason is an error carrying it.
    let other = std::sync::Arc::new(StreamShared::new());
    let (tx2, _rx2) = mpsc::unbounded_channel::<Cmd>();
    let mut s2 = DataStream::new(8, other.clone(), tx2);
    other.finish(ReadEnd::Ended(crate::relaycell::EndReason::CONNRESET));
    let err = s2.read(&mut [0u8; 4]).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset);
    assert_eq!(
        stream_end_reason(&err),
        Some(crate::relaycell::EndReason::CONNRESET)
    );
}

#[test]
fn reverse_names() {
    use std::net::IpAddr;
    let v4: IpAddr = "192.0.2.5".parse().unwrap();
    assert_eq!(super::reverse_name(v4), "5.2.0.192.in-addr.arpa");
    let v6: IpAddr = "2001:db8::567:89ab".parse().unwrap();
    assert_eq!(
        super::reverse_name(v6),
        "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"
    );
}
