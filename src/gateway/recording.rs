//! Whether chats are recorded, and with their conversation: the instance's
//! settings, held in memory (every chat reads them) and read again when an
//! admin changes them. A chat takes them once, when it begins, and keeps
//! them to its end.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::db::{self, Db, StoreError};

/// What a chat's log keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recording {
    /// A chat log at all (its usage is counted either way).
    pub chats: bool,
    /// The conversation and title, or only the metadata.
    pub conversations: bool,
}

/// Shared by every worker; `reload` after changing the settings.
pub struct RecordingSettings {
    db: Db,
    chats: AtomicBool,
    conversations: AtomicBool,
}

impl RecordingSettings {
    pub fn load(db: Db) -> Result<RecordingSettings, StoreError> {
        let settings = RecordingSettings {
            db,
            chats: AtomicBool::new(true),
            conversations: AtomicBool::new(true),
        };
        settings.reload_blocking()?;
        Ok(settings)
    }

    pub fn now(&self) -> Recording {
        Recording {
            chats: self.chats.load(Ordering::Relaxed),
            conversations: self.conversations.load(Ordering::Relaxed),
        }
    }

    fn reload_blocking(&self) -> Result<(), StoreError> {
        let (chats, conversations) = self.db.read_blocking(|conn| {
            Ok::<_, StoreError>((
                db::settings::get_bool(conn, db::settings::RECORD_CHATS, true)?,
                db::settings::get_bool(conn, db::settings::RECORD_CONVERSATIONS, true)?,
            ))
        })?;
        self.chats.store(chats, Ordering::Relaxed);
        self.conversations.store(conversations, Ordering::Relaxed);
        Ok(())
    }

    /// Re-reads the settings from the database.
    pub async fn reload(self: &Arc<Self>) -> Result<(), StoreError> {
        let settings = self.clone();
        actix_web::web::block(move || settings.reload_blocking()).await?
    }
}
