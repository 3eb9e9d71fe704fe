//! Unit tests for the circuit layer.
