//! HTTP plumbing that every route shares, whatever serves it: the API, the
//! admin and the static files.

mod base_path;
mod body_deadline;
pub mod client_ip;
mod cors;
mod head;
mod json_body;
mod path;

pub use base_path::BasePath;
pub use body_deadline::{body_deadline, body_read_error, BodyDeadline};
pub use cors::{cors, cors_errors_as_json, parse_origin};
pub use head::head_as_get;
pub use json_body::{BodyLimit, JsonBody};
pub use path::{bad_segment, path_config};
