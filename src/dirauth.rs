//! Placeholder: the directory authority (stage 3, see docs/notes/stage3-plan.md).
