//! Channel cells and channel messages (tor-spec §3 "Cell packet format", §4 "Negotiating and
//! initializing channels", §5 "Circuit management").
//!
//! Placeholder: filled in during the foundation stage. `HandshakeType` is defined early
//! because relay messages (EXTEND2) share it.

pub mod htype;
pub use htype::HandshakeType;
