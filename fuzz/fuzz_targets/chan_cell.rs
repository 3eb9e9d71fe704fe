#![no_main]
//! Fuzz the channel-cell codec: the first byte picks the framing (before negotiation with
//! 2-byte VERSIONS-style circuit ids, link 4 or link 5) and a bound on variable-length bodies;
//! the rest is fed to the decoder in two chunks. Whatever decodes is re-encoded, and the
//! re-encoding must decode to the same cell. Each message body parser is also fed the raw
//! bytes directly.
use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use oniongate::cell::{AnyChanMsg, ChanCmd, ChannelCodec, CELL_BODY_LEN};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let codec = match sel % 3 {
        0 => ChannelCodec::unnegotiated(),
        1 => ChannelCodec::new(Some(4)).expect("link 4"),
        _ => ChannelCodec::new(Some(5)).expect("link 5"),
    };
    let codec = if sel & 0x80 != 0 {
        codec.with_max_var_body(usize::from(sel & 0x7f) * 8)
    } else {
        codec
    };

    // Incremental decoding: the first half, then the rest.
    let split = rest.len() / 2;
    let mut buf = BytesMut::from(&rest[..split]);
    let mut fed_rest = false;
    for _ in 0..64 {
        match codec.decode(&mut buf) {
            Ok(Some(cell)) => {
                let enc = codec.encode_to_vec(&cell).expect("decoded cells re-encode");
                let again = codec
                    .decode(&mut BytesMut::from(&enc[..]))
                    .expect("re-encoding decodes")
                    .expect("re-encoding is complete");
                assert_eq!(again, cell);
            }
            Ok(None) if !fed_rest => {
                buf.extend_from_slice(&rest[split..]);
                fed_rest = true;
            }
            Ok(None) => break,
            Err(e) => {
                let _ = e.disposition();
                break;
            }
        }
    }

    // Body parsers on their own.
    if let Some((&cmd, body)) = rest.split_first() {
        let cmd = ChanCmd(cmd);
        if let Ok(m) = AnyChanMsg::decode(cmd, Bytes::copy_from_slice(body)) {
            if let Ok(mut enc) = m.body_to_vec() {
                // Fixed-length bodies get their padding back, as the codec would add it.
                if !cmd.is_var_len() && enc.len() < CELL_BODY_LEN {
                    enc.resize(CELL_BODY_LEN, 0);
                }
                let again = AnyChanMsg::decode_slice(cmd, &enc).expect("re-encoding decodes");
                assert_eq!(again, m);
            }
        }
    }
});
