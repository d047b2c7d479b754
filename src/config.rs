//! Server configuration: flags win over environment, which wins over defaults.

use std::path::PathBuf;

use clap::Args;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DB: &str = "mindgate.db";

/// The database file, shared by every subcommand.
#[derive(Debug, Clone, Args)]
pub struct DbConfig {
    /// SQLite database file (created on first start)
    #[arg(long = "db", env = "MINDGATE_DB", default_value = DEFAULT_DB, value_name = "PATH")]
    pub path: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// Address to listen on, HOST:PORT (port 0 picks a free one)
    #[arg(long, env = "MINDGATE_LISTEN", default_value = DEFAULT_LISTEN, value_name = "ADDR")]
    pub listen: String,
    #[command(flatten)]
    pub db: DbConfig,
}
