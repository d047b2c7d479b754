//! The chat completions gateway: resolves the model, applies the AI
//! character, forwards to the provider (translating between OpenAI and
//! Anthropic shapes as needed), streams the answer back as it arrives and
//! records the conversation.

mod anthropic;
pub mod catalog;
mod completion;
pub mod completions;
mod echo;
mod openai;
mod record;
mod recorder;
mod relay;
mod render;
pub mod request;
mod secrets;
mod sse;
mod upstream;

use std::sync::Arc;

use crate::config::GatewayConfig;
use crate::db::{self, Db};
use crate::error::ApiError;

pub use catalog::Catalog;
pub use recorder::Recorder;
pub use upstream::{client, test_connection};

/// What every worker shares.
pub struct Gateway {
    pub catalog: Arc<Catalog>,
    pub recorder: Recorder,
    pub config: GatewayConfig,
}

impl Gateway {
    /// Applies the environment's provider settings, loads the catalog and
    /// starts the chat log writer.
    pub fn start(db: &Db, config: GatewayConfig) -> Result<Gateway, ApiError> {
        db.write_blocking(|tx| {
            for (id, seed) in [("openai", &config.openai), ("anthropic", &config.anthropic)] {
                if db::providers::seed(tx, id, seed)? {
                    log::info!("provider {id}: settings taken from the environment");
                }
            }
            if let Some(record) = config.record_chats {
                db::settings::set_bool(tx, db::settings::RECORD_CHATS, record)?;
            }
            Ok(())
        })?;
        let catalog = Arc::new(Catalog::load(db.clone())?);
        let recorder = Recorder::start(db.clone()).map_err(ApiError::internal)?;
        Ok(Gateway {
            catalog,
            recorder,
            config,
        })
    }
}
