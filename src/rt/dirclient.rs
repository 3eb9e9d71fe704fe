//! Placeholder: filled in by stage 3 (see docs/notes/stage3-plan.md).
