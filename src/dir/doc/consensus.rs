//! Placeholder: filled in by stage 3 (see docs/notes/stage3-plan.md).
//!
//! (dirhttp: only the contract's `Flavor`, so that `dir::serve` compiles before the
//! consensus unit is merged; the consensus unit's file replaces this one.)

/// A consensus flavor (dir-spec §3.4.1): `ns` or `microdesc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flavor {
    /// The full ("ns") consensus.
    Ns,
    /// The microdescriptor consensus.
    Microdesc,
}
