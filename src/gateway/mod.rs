//! The chat completions gateway: resolves the model, applies the AI
//! character, forwards to the provider (translating between OpenAI and
//! Anthropic shapes as needed), streams the answer back as it arrives and
//! records the conversation.

mod answer;
mod anthropic;
mod background;
pub mod catalog;
pub mod chat;
mod chat_log;
mod chat_log_upkeep;
mod chat_log_writer;
mod echo;
pub mod message;
mod openai;
mod redact;
mod relay;
mod render;
pub mod request;
mod sse;
mod upstream;
mod upstream_error;

use std::sync::Arc;

use crate::config::GatewayConfig;
use crate::db::{self, Db, StoreError};
use crate::governance::Governor;

pub use catalog::Catalog;
pub use chat_log_upkeep::ChatLogUpkeep;
pub use chat_log_writer::ChatLogWriter;
pub use upstream::{client, test_connection};
pub use upstream_error::{Failure, ProviderError, UpstreamError};

/// Why the gateway did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot start the chat log writer: {0}")]
    ChatLogWriter(std::io::Error),
    #[error("cannot start the chat log upkeep: {0}")]
    ChatLogUpkeep(std::io::Error),
    #[error("cannot start watching the policies: {0}")]
    PolicyWatch(std::io::Error),
}

/// What every worker shares.
pub struct Gateway {
    pub catalog: Arc<Catalog>,
    pub chat_log_writer: ChatLogWriter,
    pub chat_log_upkeep: ChatLogUpkeep,
    pub governor: Arc<Governor>,
    pub config: GatewayConfig,
}

impl Gateway {
    /// Applies the environment's provider settings, loads the catalog and
    /// starts the chat log writer.
    ///
    /// Refuses to start when a stored provider key does not open with the
    /// instance secret (or there is none), rather than run with broken providers.
    pub fn start(db: &Db, config: GatewayConfig) -> Result<Gateway, StartError> {
        let secret = &config.secret_key;
        let sealed = db.write_blocking(|tx| {
            // Every key must open before anything is written: a wrong secret
            // must not seal keys beside those sealed with the right one.
            db::providers::list(tx, secret)?;
            for (id, seed) in [("openai", &config.openai), ("anthropic", &config.anthropic)] {
                if db::providers::seed(tx, secret, id, seed)? {
                    log::info!("provider {id}: settings taken from the environment");
                }
            }
            if let Some(record) = config.record_chats {
                db::settings::set_bool(tx, db::settings::RECORD_CHATS, record)?;
            }
            if let Some(record) = config.record_conversations {
                db::settings::set_bool(tx, db::settings::RECORD_CONVERSATIONS, record)?;
            }
            if let Some(retention) = config.chatlog_retention_days {
                let days = retention.to_string();
                db::settings::set(tx, db::settings::CHATLOG_RETENTION_DAYS, &days)?;
            }
            if let Some(zone) = &config.timezone {
                db::settings::set(tx, db::settings::TIMEZONE, zone.name())?;
            }
            db::providers::seal_plain_keys(tx, secret)
        })?;
        if sealed > 0 {
            // The plain keys may linger in free space (earlier values, deleted
            // rows) until the file is rebuilt: once, when they are sealed.
            log::info!("encrypted {sealed} provider key(s) stored in plain text; rewriting the database file so no copy of them remains");
            db.vacuum()?;
        }
        // Purged logs give their space back only once the file is set up
        // for it: done at start, where nothing waits on the writer yet.
        if db.read_blocking(db::settings::retention)?.days().is_some() {
            db.make_pages_given_back()?;
        }
        let catalog = Arc::new(Catalog::load(db.clone(), secret.clone())?);
        let governor = Arc::new(Governor::start(db, Governor::system_clock())?);
        governor.watch().map_err(StartError::PolicyWatch)?;
        let chat_log_writer =
            ChatLogWriter::start(db.clone()).map_err(StartError::ChatLogWriter)?;
        let chat_log_upkeep =
            ChatLogUpkeep::start(db.clone()).map_err(StartError::ChatLogUpkeep)?;
        Ok(Gateway {
            catalog,
            chat_log_writer,
            chat_log_upkeep,
            governor,
            config,
        })
    }
}
