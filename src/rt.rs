//! The runtime layer (feature `rt`): TLS sockets, tokio, logging setup.
//! Placeholder for the rest of the module: the config helper writes it.

pub mod keystore;
pub mod tls;
