//! The extension messages carried inside ntor-v3's encrypted client and server messages
//! (CM and SM): proposal 332 §A.2's meta-encoding, and the types tor-spec's "CREATE2
//! handshake extensions" table assigns (CC_FIELD_REQUEST, CC_FIELD_RESPONSE from proposal
//! 324; SUBPROTO from the CGO work).
//!
//! Wire format: `N u8`, then N × `{type u8, len u8, data[len]}`. Unknown types are kept
//! as [`NtorV3Extension::Unknown`] so they survive a round trip. A message must be exactly
//! one list (no trailing bytes), and the bodies of known types must have their defined
//! shape; anything else is a [`DecodeError`].
//!
//! Deliberately not here: congestion-control state (the caller reads
//! [`NtorV3Extensions::cc_requested`] / [`NtorV3Extensions::cc_response`] and decides).

use crate::wire::{DecodeError, EncodeError, Reader, Writer};

crate::open_enum! {
    /// `EXT_FIELD_TYPE` of an ntor-v3 extension.
    pub struct NtorV3ExtType(u8) {
        /// Client → relay: please use proposal-324 congestion control. Empty body.
        CC_FIELD_REQUEST = 1,
        /// Relay → client: congestion control accepted; body `sendme_inc u8`.
        CC_FIELD_RESPONSE = 2,
        /// Client → relay: enable these subprotocol capabilities; body is a sorted list
        /// of `{protocol_id u8, capability u8}`.
        SUBPROTO = 3,
    }
}

/// One requested subprotocol capability, e.g. `Relay=6` is `{protocol_id: 2, capability: 6}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SubprotoCap {
    /// The subprotocol's number (tor-spec "Subprotocol versioning": Link=0, LinkAuth=1,
    /// Relay=2, …).
    pub protocol_id: u8,
    /// The capability (version) within it.
    pub capability: u8,
}

impl SubprotoCap {
    /// `Relay=6`: the CGO relay-cell encryption (the only request C tor 0.4.9 sends).
    pub const RELAY_CGO: SubprotoCap = SubprotoCap {
        protocol_id: 2,
        capability: 6,
    };
}

/// Which message a list was found in: the types 1–3 mean different things per direction,
/// and a type not defined for the direction decodes as [`NtorV3Extension::Unknown`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// CM: client to relay.
    ClientToRelay,
    /// SM: relay to client.
    RelayToClient,
}

/// One ntor-v3 extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NtorV3Extension {
    /// CC_FIELD_REQUEST (type 1, client → relay).
    CcRequest,
    /// CC_FIELD_RESPONSE (type 2, relay → client).
    CcResponse {
        /// The relay's `cc_sendme_inc`.
        sendme_inc: u8,
    },
    /// SUBPROTO (type 3, client → relay), strictly ascending.
    SubprotoRequest(Vec<SubprotoCap>),
    /// Any other type, or a type not defined for the message's direction.
    Unknown {
        /// The type byte.
        ext_type: NtorV3ExtType,
        /// The body, as sent.
        body: Vec<u8>,
    },
}

impl NtorV3Extension {
    /// The extension's type byte.
    pub fn ext_type(&self) -> NtorV3ExtType {
        match self {
            NtorV3Extension::CcRequest => NtorV3ExtType::CC_FIELD_REQUEST,
            NtorV3Extension::CcResponse { .. } => NtorV3ExtType::CC_FIELD_RESPONSE,
            NtorV3Extension::SubprotoRequest(_) => NtorV3ExtType::SUBPROTO,
            NtorV3Extension::Unknown { ext_type, .. } => *ext_type,
        }
    }

    fn decode_body(ty: NtorV3ExtType, body: &[u8], dir: Direction) -> Result<Self, DecodeError> {
        use Direction::*;
        match (ty, dir) {
            (NtorV3ExtType::CC_FIELD_REQUEST, ClientToRelay) => {
                if !body.is_empty() {
                    return Err(DecodeError::invalid(
                        "CC_FIELD_REQUEST",
                        "body must be empty",
                    ));
                }
                Ok(NtorV3Extension::CcRequest)
            }
            (NtorV3ExtType::CC_FIELD_RESPONSE, RelayToClient) => match body {
                [sendme_inc] => Ok(NtorV3Extension::CcResponse {
                    sendme_inc: *sendme_inc,
                }),
                _ => Err(DecodeError::invalid(
                    "CC_FIELD_RESPONSE",
                    "body must be one byte",
                )),
            },
            (NtorV3ExtType::SUBPROTO, ClientToRelay) => {
                if !body.len().is_multiple_of(2) {
                    return Err(DecodeError::invalid("SUBPROTO", "odd body length"));
                }
                let caps: Vec<SubprotoCap> = body
                    .chunks_exact(2)
                    .map(|c| match c {
                        [p, v] => SubprotoCap {
                            protocol_id: *p,
                            capability: *v,
                        },
                        _ => SubprotoCap {
                            protocol_id: 0,
                            capability: 0,
                        },
                    })
                    .collect();
                if !strictly_ascending(&caps) {
                    return Err(DecodeError::invalid(
                        "SUBPROTO",
                        "capabilities not sorted and unique",
                    ));
                }
                Ok(NtorV3Extension::SubprotoRequest(caps))
            }
            _ => Ok(NtorV3Extension::Unknown {
                ext_type: ty,
                body: body.to_vec(),
            }),
        }
    }

    fn body(&self) -> Result<Vec<u8>, EncodeError> {
        Ok(match self {
            NtorV3Extension::CcRequest => Vec::new(),
            NtorV3Extension::CcResponse { sendme_inc } => vec![*sendme_inc],
            NtorV3Extension::SubprotoRequest(caps) => {
                if !strictly_ascending(caps) {
                    return Err(EncodeError::Unrepresentable {
                        what: "SUBPROTO",
                        why: "capabilities must be sorted and unique",
                    });
                }
                caps.iter()
                    .flat_map(|c| [c.protocol_id, c.capability])
                    .collect()
            }
            NtorV3Extension::Unknown { body, .. } => body.clone(),
        })
    }
}

fn strictly_ascending(caps: &[SubprotoCap]) -> bool {
    caps.windows(2).all(|w| matches!(w, [a, b] if a < b))
}

/// A CM or SM: the list of extensions, in wire order (duplicates kept; by proposal 332
/// only the first of a type counts, which is what the accessors return).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NtorV3Extensions(pub Vec<NtorV3Extension>);

impl NtorV3Extensions {
    /// Decodes a whole CM or SM.
    pub fn decode(msg: &[u8], dir: Direction) -> Result<Self, DecodeError> {
        let mut r = Reader::new(msg);
        let n = r.take_u8("ntor-v3 extension count")?;
        let mut out = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let ty = NtorV3ExtType(r.take_u8("ntor-v3 extension type")?);
            let body = r.take_u8_prefixed("ntor-v3 extension body")?;
            out.push(NtorV3Extension::decode_body(ty, body, dir)?);
        }
        r.expect_exhausted("ntor-v3 extension list")?;
        Ok(NtorV3Extensions(out))
    }

    /// Appends the encoding.
    pub fn write_onto<W: Writer + ?Sized>(&self, w: &mut W) -> Result<(), EncodeError> {
        let n = u8::try_from(self.0.len()).map_err(|_| EncodeError::TooLong {
            what: "ntor-v3 extension list",
            len: self.0.len(),
            max: u8::MAX as usize,
        })?;
        w.write_u8(n);
        for e in &self.0 {
            w.write_u8(e.ext_type().0);
            w.write_u8_prefixed("ntor-v3 extension body", &e.body()?)?;
        }
        Ok(())
    }

    /// The encoding as a new vector.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        let mut v = Vec::new();
        self.write_onto(&mut v)?;
        Ok(v)
    }

    /// True if the list holds a CC_FIELD_REQUEST.
    pub fn cc_requested(&self) -> bool {
        self.0
            .iter()
            .any(|e| matches!(e, NtorV3Extension::CcRequest))
    }

    /// The first CC_FIELD_RESPONSE's `sendme_inc`, if any.
    pub fn cc_response(&self) -> Option<u8> {
        self.0.iter().find_map(|e| match e {
            NtorV3Extension::CcResponse { sendme_inc } => Some(*sendme_inc),
            _ => None,
        })
    }

    /// Every capability any SUBPROTO field asks for.
    pub fn subproto_requests(&self) -> impl Iterator<Item = SubprotoCap> + '_ {
        self.0
            .iter()
            .flat_map(|e| match e {
                NtorV3Extension::SubprotoRequest(caps) => caps.as_slice(),
                _ => &[],
            })
            .copied()
    }
}

/// Why our relay refuses a client's CM.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtError {
    /// The CM is not a well-formed extension list (bad extension body, trailing bytes…).
    #[error("malformed ntor-v3 client message: {0}")]
    Malformed(#[from] DecodeError),
    /// The client asked for a subprotocol capability we do not support; the circuit
    /// must fail (tor-spec "SUBPROTO").
    #[error("client requested unsupported subprotocol {}={}", .0.protocol_id, .0.capability)]
    UnsupportedSubprotocol(SubprotoCap),
}

/// Our relay's policy for a client message: decline congestion control (answer with no
/// CC_FIELD_RESPONSE; C tor clients then run the circuit without CC), refuse any SUBPROTO
/// capability not in `supported`, ignore unknown types. Returns the SM to send: an empty
/// extension list, the single byte `00`, as C tor sends when CC is off.
pub fn relay_reply_declining_cc(cm: &[u8], supported: &[SubprotoCap]) -> Result<Vec<u8>, ExtError> {
    let exts = NtorV3Extensions::decode(cm, Direction::ClientToRelay)?;
    if let Some(cap) = exts.subproto_requests().find(|c| !supported.contains(c)) {
        return Err(ExtError::UnsupportedSubprotocol(cap));
    }
    Ok(vec![0])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn decode_known_and_unknown() {
        let cm = [4, 1, 0, 3, 2, 2, 6, 9, 1, 0xaa, 2, 1, 31];
        let e = NtorV3Extensions::decode(&cm, Direction::ClientToRelay).unwrap();
        assert_eq!(
            e.0,
            vec![
                NtorV3Extension::CcRequest,
                NtorV3Extension::SubprotoRequest(vec![SubprotoCap::RELAY_CGO]),
                NtorV3Extension::Unknown {
                    ext_type: NtorV3ExtType(9),
                    body: vec![0xaa]
                },
                // Type 2 is not a client-to-relay type.
                NtorV3Extension::Unknown {
                    ext_type: NtorV3ExtType::CC_FIELD_RESPONSE,
                    body: vec![31]
                },
            ]
        );
        assert!(e.cc_requested());
        assert_eq!(e.encode().unwrap(), cm);
        let sm = NtorV3Extensions::decode(&[1, 2, 1, 31], Direction::RelayToClient).unwrap();
        assert_eq!(sm.cc_response(), Some(31));
    }

    #[test]
    fn malformed() {
        let dir = Direction::ClientToRelay;
        for bad in [
            &[][..],
            &[1],
            &[1, 1],
            &[1, 1, 1, 0],          // CC request with a body
            &[0, 0],                // trailing byte
            &[1, 3, 1, 2],          // odd SUBPROTO
            &[1, 3, 4, 2, 6, 2, 5], // unsorted SUBPROTO
            &[1, 9, 2, 0],          // truncated body
        ] {
            assert!(NtorV3Extensions::decode(bad, dir).is_err(), "{bad:?}");
        }
        assert!(NtorV3Extensions::decode(&[1, 2, 0], Direction::RelayToClient).is_err());
    }

    #[test]
    fn relay_policy() {
        assert_eq!(relay_reply_declining_cc(&[0], &[]).unwrap(), vec![0]);
        assert_eq!(relay_reply_declining_cc(&[1, 1, 0], &[]).unwrap(), vec![0]);
        assert_eq!(
            relay_reply_declining_cc(&[1, 7, 1, 1], &[]).unwrap(),
            vec![0]
        );
        assert_eq!(
            relay_reply_declining_cc(&[1, 3, 2, 2, 6], &[]).unwrap_err(),
            ExtError::UnsupportedSubprotocol(SubprotoCap::RELAY_CGO)
        );
        assert_eq!(
            relay_reply_declining_cc(&[1, 3, 2, 2, 6], &[SubprotoCap::RELAY_CGO]).unwrap(),
            vec![0]
        );
        assert!(matches!(
            relay_reply_declining_cc(&[], &[]),
            Err(ExtError::Malformed(_))
        ));
    }
}
