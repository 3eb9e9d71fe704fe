//! Directory documents (dir-spec §1.2–§3), sans-IO.

pub mod authcert;
pub mod consensus;
pub mod microdesc;
pub mod policy;
pub mod routerdesc;
pub mod token;
