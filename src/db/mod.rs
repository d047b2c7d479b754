//! The SQLite store: one writer connection beside a pool of readers, both
//! configured in the pool's init hook. All access runs off the async
//! workers, on actix's blocking thread pool.

pub mod admins;
pub mod api_keys;
pub mod characters;
pub mod chat_logs;
mod files;
mod migrations;
pub mod models;
pub mod providers;
pub mod sessions;
pub mod settings;
pub mod users;

use std::path::{Path, PathBuf};
use std::time::Duration;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

use crate::error::ApiError;

pub use migrations::LATEST_VERSION;

/// A `LIKE ... ESCAPE '\'` pattern matching text that contains `needle`.
fn contains_pattern(needle: &str) -> String {
    let escaped = needle
        .replace('\\', r"\\")
        .replace('%', r"\%")
        .replace('_', r"\_");
    format!("%{escaped}%")
}

type Pool = r2d2::Pool<SqliteConnectionManager>;

const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot open database {path}: {source}")]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("cannot open database {path}: {source}")]
    Pool { path: PathBuf, source: r2d2::Error },
    #[error(
        "database {path} has schema version {found}, newer than this mindgate knows ({known}); \
         run a newer mindgate or restore a backup"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("database {0} does not exist")]
    Missing(PathBuf),
    #[error("cannot create database {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A handle to the database, cheap to clone.
#[derive(Clone)]
pub struct Db {
    path: PathBuf,
    writer: Pool,
    readers: Pool,
}

fn configure(conn: &mut Connection, read_only: bool) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.execute_batch(
        "PRAGMA foreign_keys = ON;
         PRAGMA synchronous = NORMAL;",
    )?;
    if read_only {
        conn.execute_batch("PRAGMA query_only = ON;")?;
    } else {
        // Chat logs land on random pages of the chatID index: a larger
        // cache keeps those pages at hand between batches, and checkpoints
        // every 8192 pages (not 1000) copy a page rewritten by many
        // batches to the database once.
        conn.execute_batch(
            "PRAGMA cache_size = -16384;
             PRAGMA wal_autocheckpoint = 8192;",
        )?;
    }
    Ok(())
}

fn manager(path: &Path, read_only: bool) -> SqliteConnectionManager {
    SqliteConnectionManager::file(path)
        .with_flags(
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )
        .with_init(move |conn| configure(conn, read_only))
}

impl Db {
    /// Opens (creating if needed) the database at `path` and brings its
    /// schema up to date.
    pub fn open(path: &Path) -> Result<Db, OpenError> {
        let sqlite_err = |source| OpenError::Sqlite {
            path: path.to_owned(),
            source,
        };
        let pool_err = |source| OpenError::Pool {
            path: path.to_owned(),
            source,
        };
        match files::create_private(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => files::warn_if_shared(path),
            Err(source) => {
                return Err(OpenError::Create {
                    path: path.to_owned(),
                    source,
                })
            }
        }
        {
            // WAL is a property of the file: set it once, before the pools open.
            let mut conn = Connection::open(path).map_err(sqlite_err)?;
            configure(&mut conn, false).map_err(sqlite_err)?;
            conn.execute_batch("PRAGMA journal_mode = WAL;")
                .map_err(sqlite_err)?;
            migrations::run(&mut conn, path)?;
        }
        // Local SQLite connections do not go stale: skip r2d2's per-checkout
        // validity query on the hot path.
        let writer = r2d2::Pool::builder()
            .test_on_check_out(false)
            .max_size(1)
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(30))
            .build(manager(path, false))
            .map_err(pool_err)?;
        let readers = r2d2::Pool::builder()
            .test_on_check_out(false)
            .max_size(8)
            .min_idle(Some(1))
            .build(manager(path, true))
            .map_err(pool_err)?;
        Ok(Db {
            path: path.to_owned(),
            writer,
            readers,
        })
    }

    /// Opens a database that must already exist (for commands that only read it).
    pub fn open_existing(path: &Path) -> Result<Db, OpenError> {
        if !path.exists() {
            return Err(OpenError::Missing(path.to_owned()));
        }
        Db::open(path)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on a reader connection, off the async workers.
    pub async fn read<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, ApiError> + Send + 'static,
    {
        let db = self.clone();
        actix_web::web::block(move || db.read_blocking(f)).await?
    }

    /// Runs a quick indexed lookup right here, on the async worker, when a
    /// reader is free at once (a hop to the blocking pool costs more than
    /// such a query), else like `read`.
    pub async fn read_on_worker<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, ApiError> + Send + 'static,
    {
        match self.readers.try_get() {
            Some(conn) => f(&conn),
            None => self.read(f).await,
        }
    }

    /// Runs `f` in an immediate transaction on the single writer
    /// connection, off the async workers; commits when `f` succeeds.
    pub async fn write<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction) -> Result<T, ApiError> + Send + 'static,
    {
        let db = self.clone();
        actix_web::web::block(move || db.write_blocking(f)).await?
    }

    pub fn read_blocking<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let conn = self.readers.get()?;
        f(&conn)
    }

    pub fn write_blocking<T>(
        &self,
        f: impl FnOnce(&Transaction) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let mut conn = self.writer.get()?;
        // IMMEDIATE takes the write lock up front, so a transaction never
        // fails half-way with SQLITE_BUSY when another process writes too.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let value = f(&tx)?;
        tx.commit()?;
        Ok(value)
    }

    /// Rebuilds the database file from its live rows, so nothing deleted or
    /// overwritten lingers in its free space, and empties the WAL into it.
    pub fn vacuum(&self) -> Result<(), ApiError> {
        let conn = self.writer.get()?;
        conn.execute_batch("VACUUM")?;
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// Writes a consistent copy of the live database to `dest`, which must
    /// not exist; the copy is readable by its owner only, like the database.
    pub fn backup_to(&self, dest: &Path) -> Result<(), ApiError> {
        let dest_str = dest
            .to_str()
            .ok_or_else(|| ApiError::invalid("the backup path must be valid UTF-8"))?
            .to_owned();
        files::create_private(dest).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                ApiError::conflict(format!(
                    "{} already exists; choose a new file name",
                    dest.display()
                ))
            } else {
                ApiError::internal(format!("cannot create {}: {e}", dest.display()))
            }
        })?;
        // Not a reader: those are query_only, which VACUUM INTO refuses.
        let copied = self
            .writer
            .get()
            .map_err(ApiError::from)
            .and_then(|conn| Ok(conn.execute("VACUUM INTO ?1", [dest_str])?));
        if copied.is_err() {
            // Leave no empty or partial file that would block a retry.
            let _ = std::fs::remove_file(dest);
        }
        copied.map(drop)
    }
}
