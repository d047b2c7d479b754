//! Integration tests of the web admin: each starts the real server on
//! 127.0.0.1:0 with a fresh temporary database and talks to it over HTTP,
//! like a browser (cookies kept, redirects not followed). `browser` and
//! `cors_browser` drive a real headless Chromium.

mod access;
mod access_rules;
mod browser;
mod chatlogs;
mod cors_browser;
mod groups;
mod limits;
mod models_import;
mod pages;
mod paths;
mod providers;
mod setup;
mod usage;
mod usage_browser;

// The harness both test crates share; each uses only a part of it.
#[allow(dead_code, unused_imports)]
#[path = "../common/mod.rs"]
mod common;
use common::{helpers, mock_upstream};
