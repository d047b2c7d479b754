//! The harness that the `api` and `admin` test crates share (each declares
//! it, and names `helpers` and `mock_upstream` at its root):
//!
//! - `helpers`: `TestApp`, the real server on 127.0.0.1:0 with a fresh
//!   temporary database, started by one builder, and what tests do with it;
//! - `browser`: the admin's client, keeping cookies like a browser;
//! - `html`: reading an admin page for its meaning rather than its markup;
//! - `server`: the built binary, as a command or a server process;
//! - `mock_upstream`: a model provider on 127.0.0.1 that fails on demand.

pub mod browser;
pub mod helpers;
pub mod html;
pub mod mock_upstream;
pub mod server;
