//! Placeholder: written in the foundation stage by its owner.
