//! Placeholder: the SOCKS5 server protocol (stage 3, see docs/notes/stage3-plan.md).
