//! What can go wrong in the store, as the store knows it: a row that is
//! not there, a value another row holds already, a rule of the store, or
//! SQLite (or the pools around it) failing. The API and the admin decide
//! what each means for their clients; the store never does.

use std::path::PathBuf;

use crate::domain::UserId;
use crate::secrets::{UnsealError, SECRET_FILE_VAR, SECRET_VAR};

// Each message holds what it wraps: the command line prints every error
// with its chain, so none is also a `source` (it would show twice).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A row the operation refers to is not there (a model's provider).
    #[error("no {what} has the id {key:?}")]
    NotFound { what: &'static str, key: String },
    /// The write would give a row a value another row holds.
    #[error(transparent)]
    Conflict(#[from] Conflict),
    /// The built-in providers stay: model families resolve to them.
    #[error("the built-in provider {0:?} cannot be deleted; remove its key instead")]
    BuiltInProvider(String),
    /// A provider's stored key does not open with the instance secret.
    #[error(
        "the key of provider {provider:?} {problem}: set {SECRET_VAR} (or {SECRET_FILE_VAR}) \
         to the secret it was encrypted with; if that secret is lost, remove the encrypted \
         keys with `mindgate secrets forget` and enter them again"
    )]
    KeyLocked {
        provider: String,
        problem: UnsealError,
    },
    #[error("database: {0}")]
    Sqlite(rusqlite::Error),
    #[error("database pool: {0}")]
    Pool(r2d2::Error),
    #[error("blocking task: {0}")]
    Blocking(actix_web::error::BlockingError),
    #[error("the backup path must be valid UTF-8")]
    BackupPathNotUtf8,
    #[error("cannot create {}: {error}", path.display())]
    CreateFile {
        path: PathBuf,
        error: std::io::Error,
    },
}

/// Which row holds the value a write wanted, when the store knows it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Conflict {
    #[error("a user with email {email} already exists (id {existing})")]
    UserEmail { email: String, existing: UserId },
    #[error("an admin with email {email} already exists")]
    AdminEmail { email: String },
    #[error("a provider with id {id:?} already exists")]
    ProviderId { id: String },
    /// Catalog names are unique in any case.
    #[error("the catalog has a model named {existing:?} already (names are unique in any case)")]
    ModelName { existing: String },
    #[error("{} already exists; choose a new file name", path.display())]
    File { path: PathBuf },
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Sqlite(e)
    }
}

impl From<r2d2::Error> for StoreError {
    fn from(e: r2d2::Error) -> Self {
        StoreError::Pool(e)
    }
}

impl From<actix_web::error::BlockingError> for StoreError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        StoreError::Blocking(e)
    }
}
