//! Placeholder: written in stage 2 (relay stack) by its owner.
