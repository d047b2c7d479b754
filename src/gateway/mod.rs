//! The chat completions gateway: resolves the model, applies the AI
//! character and the policies, forwards to the provider (translating
//! between client protocols and provider protocols as needed), streams the
//! answer back as it arrives and records the conversation. Its core
//! (`Core::complete`) takes a typed caller and request and returns an
//! answer or an error, with nothing of the client's HTTP in it: the API's
//! edge reads requests and makes responses.

mod answer;
mod background;
pub mod catalog;
pub mod chat;
mod chat_log;
mod chat_log_upkeep;
mod chat_log_writer;
mod echo;
pub mod embeddings;
mod import;
pub mod message;
mod protocols;
mod providers;
mod recording;
mod redact;
mod relay;
pub mod request;
mod sse;
mod unserved;
mod upstream;
mod upstream_error;

use std::ops::Deref;
use std::sync::{Arc, Weak};

use crate::config::GatewayConfig;
use crate::db::watch::Watched;
use crate::db::{self, Db, StoreError};
use crate::governance::Governor;

pub use catalog::Catalog;
pub use chat::{Answer, Caller, ChatError};
pub use chat_log::ChatLogSink;
pub use chat_log_upkeep::ChatLogUpkeep;
pub use chat_log_writer::ChatLogWriter;
pub use import::{import_at_start, import_models, ImportError, ImportReport};
pub use protocols::messages::{error_body as anthropic_error, Endpoint, MessagesHeaders};
pub use protocols::openai_completions::TextCompletion;
pub use recording::RecordingSettings;
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
    #[error("cannot start watching the database for changes: {0}")]
    Watch(std::io::Error),
}

/// What a chat needs, and no HTTP: `complete` answers one.
pub struct Core {
    pub db: Db,
    pub catalog: Arc<Catalog>,
    pub governor: Arc<Governor>,
    pub recording: Arc<RecordingSettings>,
    pub config: GatewayConfig,
    /// Where chat logs (and refused requests) go.
    pub sink: Arc<dyn ChatLogSink>,
    /// Upstream endpoints found not to serve a client protocol natively.
    pub unserved: unserved::Unserved,
}

impl Core {
    /// Applies the environment's provider and recording settings and loads
    /// the catalog, the policies and the recording settings; chat logs go
    /// to `sink`.
    ///
    /// Refuses to start when a stored provider key does not open with the
    /// instance secret (or there is none), rather than run with broken providers.
    pub fn start(
        db: &Db,
        config: GatewayConfig,
        sink: Arc<dyn ChatLogSink>,
    ) -> Result<Core, StartError> {
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
        let governor = Arc::new(Governor::start(db, Governor::system_clock())?);
        let catalog = Arc::new(Catalog::load(db.clone(), secret.clone())?);
        // Both follow changes other processes make.
        let watched: Vec<Weak<dyn Watched>> = vec![
            Arc::downgrade(&governor) as Weak<dyn Watched>,
            Arc::downgrade(&catalog) as Weak<dyn Watched>,
        ];
        db::watch::start(watched).map_err(StartError::Watch)?;
        Ok(Core {
            db: db.clone(),
            catalog,
            governor,
            recording: Arc::new(RecordingSettings::load(db.clone())?),
            config,
            sink,
            unserved: unserved::Unserved::default(),
        })
    }
}

/// What every worker shares: the core, writing its chat logs through the
/// background writer, and the chat logs' upkeep. It reads as its core
/// (`gateway.catalog`).
pub struct Gateway {
    pub core: Core,
    pub chat_log_writer: Arc<ChatLogWriter>,
    pub chat_log_upkeep: ChatLogUpkeep,
}

impl Deref for Gateway {
    type Target = Core;

    fn deref(&self) -> &Core {
        &self.core
    }
}

impl Gateway {
    /// Starts the chat log writer and the core that writes through it,
    /// then the upkeep.
    pub fn start(db: &Db, config: GatewayConfig) -> Result<Gateway, StartError> {
        let chat_log_writer = Arc::new(
            ChatLogWriter::start(db.clone(), chat_log_writer::QUEUE_BYTES)
                .map_err(StartError::ChatLogWriter)?,
        );
        let core = Core::start(db, config, chat_log_writer.clone())?;
        let chat_log_upkeep =
            ChatLogUpkeep::start(db.clone()).map_err(StartError::ChatLogUpkeep)?;
        Ok(Gateway {
            core,
            chat_log_writer,
            chat_log_upkeep,
        })
    }
}
