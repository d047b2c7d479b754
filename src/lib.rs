//! mindgate: a self-hosted, single-binary TypingMind custom-instance server.

pub mod admin;
pub mod api;
pub mod assets;
pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod gateway;
pub mod governance;
pub mod http;
pub mod secrets;
pub mod startup;
