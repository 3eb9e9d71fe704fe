//! Circuit-extension handshake types carried by CREATE2 and EXTEND2 (tor-spec §5.1 "CREATE
//! and CREATED cells"; proposal 332 for ntor-v3).

crate::open_enum! {
    /// The `HTYPE` field of CREATE2 / EXTEND2: which circuit handshake the `HDATA` holds.
    pub struct HandshakeType(u16) {
        /// The obsolete TAP handshake; refused by C tor 0.4.9 relays and by ours.
        TAP = 0,
        /// Reserved.
        RESERVED = 1,
        /// ntor (tor-spec §5.1.4).
        NTOR = 2,
        /// ntor-v3 (proposal 332; tor-spec §5.1.4.1).
        NTOR_V3 = 3,
    }
}
