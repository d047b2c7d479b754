//! Integration tests: each starts the real server on 127.0.0.1:0 with a
//! fresh temporary database and talks to it over HTTP.

mod auth;
mod characters;
mod chatlogs;
mod cli;
mod errors;
mod gateway;
mod generated_client;
mod helpers;
mod mock_upstream;
mod openapi;
mod readme;
mod storage;
mod users;
