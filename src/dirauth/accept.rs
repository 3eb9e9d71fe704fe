//! Placeholder until the descriptor parser lands.
