//! The directory system (dir-spec): documents, the HTTP requests that carry them, and
//! serving them.
//!
//! - [`doc`]: the documents themselves (server descriptors, microdescriptors, authority key
//!   certificates, consensuses), built, signed, parsed and verified, sans-IO;
//! - [`http`]: HTTP/1.0 directory requests and responses as C tor sends them, with
//!   compression and size caps;
//! - [`serve`]: which document a request path names, answered from a [`serve::DirSource`].

pub mod doc;
pub mod flags;
pub mod http;
pub mod serve;
