//! Integration tests: each starts the real server on 127.0.0.1:0 with a
//! fresh temporary database and talks to it over HTTP.

mod auth;
mod bodies;
mod characters;
mod chat_log_storage;
mod chat_log_writer;
mod chatlogs;
mod cli;
mod cli_models;
mod cors;
mod errors;
mod gateway;
mod generated_client;
mod governance;
mod migrations;
mod models;
mod openapi;
mod policies;
mod protocol;
mod raw;
mod readme;
mod root_alias;
mod scoped_keys;
mod secrets;
mod storage;
mod usage;
mod users;

// The harness both test crates share; each uses only a part of it.
#[allow(dead_code, unused_imports)]
#[path = "../common/mod.rs"]
mod common;
use common::{helpers, mock_upstream};
