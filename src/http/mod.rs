//! HTTP plumbing that every route shares, whatever serves it: the API, the
//! admin and the static files.

pub mod client_ip;
mod head;

pub use head::head_as_get;
