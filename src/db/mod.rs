//! The SQLite store: one writer connection beside a pool of readers, both
//! configured in the pool's init hook. All access runs off the async
//! workers, on actix's blocking thread pool.

pub mod admins;
pub mod api_keys;
pub mod characters;
pub mod chat_logs;
mod error;
mod files;
mod migrations;
pub mod models;
pub mod policies;
pub mod providers;
pub mod sessions;
pub mod settings;
pub mod usage;
pub mod users;
pub mod watch;

use std::path::{Path, PathBuf};
use std::time::Duration;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

pub use error::{Conflict, StoreError};
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

// Like `StoreError`, each message holds what it wraps, which is no `source`.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot open database {path}: {error}")]
    Sqlite {
        path: PathBuf,
        error: rusqlite::Error,
    },
    #[error("cannot open database {path}: {error}")]
    Pool { path: PathBuf, error: r2d2::Error },
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
    #[error("cannot create database {path}: {error}")]
    Create {
        path: PathBuf,
        error: std::io::Error,
    },
}

/// `PRAGMA auto_vacuum` of a file that gives free pages back on demand.
const AUTO_VACUUM_INCREMENTAL: i64 = 2;

/// Whether the file can give its free pages back (`give_pages_back`).
pub fn gives_pages_back(conn: &Connection) -> Result<bool, StoreError> {
    // The pragma answers from the file header as this connection last read
    // it, which another connection's VACUUM may have changed since: a read
    // first brings it up to date.
    conn.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))?;
    let mode: i64 = conn.query_row("PRAGMA auto_vacuum", [], |row| row.get(0))?;
    Ok(mode == AUTO_VACUUM_INCREMENTAL)
}

/// Gives back up to `pages` of the file's free pages (an incremental
/// vacuum step) and returns how many free pages remain.
pub fn give_pages_back(tx: &Transaction, pages: u32) -> Result<u32, StoreError> {
    // One page a step: the pragma yields a row after each.
    let mut stmt = tx.prepare(&format!("PRAGMA incremental_vacuum({pages})"))?;
    let mut rows = stmt.query([])?;
    while rows.next()?.is_some() {}
    Ok(tx.query_row("PRAGMA freelist_count", [], |row| row.get(0))?)
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
        // Takes effect in a new file, before its first table, and in an
        // existing one at its next VACUUM: from then on, the pages that
        // deleted chat logs free can be given back (`incremental_vacuum`).
        conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL;")?;
        // A larger cache keeps the pages chat logs land on at hand between
        // batches, and checkpoints every 8192 pages (not 1000) copy a page
        // rewritten by many batches to the database once. Statement
        // journals (a statement's copy of the pages it changes) stay in
        // memory rather than cost a write each.
        conn.execute_batch(
            "PRAGMA cache_size = -16384;
             PRAGMA wal_autocheckpoint = 8192;
             PRAGMA temp_store = MEMORY;",
        )?;
    }
    Ok(())
}

/// Runs `f` with the writer's temporary data in files: it keeps them in
/// memory (statement journals), where a copy of the whole database would
/// not fit.
fn with_temp_files<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    conn.execute_batch("PRAGMA temp_store = FILE")?;
    let result = f(conn);
    conn.execute_batch("PRAGMA temp_store = MEMORY")?;
    result
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
        let sqlite_err = |error| OpenError::Sqlite {
            path: path.to_owned(),
            error,
        };
        let pool_err = |error| OpenError::Pool {
            path: path.to_owned(),
            error,
        };
        match files::create_private(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => files::warn_if_shared(path),
            Err(error) => {
                return Err(OpenError::Create {
                    path: path.to_owned(),
                    error,
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
    ///
    /// `f` may fail with any error a `StoreError` turns into, so a handler
    /// can stop with its own error half-way. A closure that only gathers
    /// store results names the type: `Ok::<_, StoreError>((a?, b?))`.
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    {
        let db = self.clone();
        actix_web::web::block(move || db.read_blocking(f))
            .await
            .map_err(StoreError::from)?
    }

    /// Runs a quick indexed lookup right here, on the async worker, when a
    /// reader is free at once (a hop to the blocking pool costs more than
    /// such a query), else like `read`.
    pub async fn read_on_worker<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    {
        match self.readers.try_get() {
            Some(conn) => f(&conn),
            None => self.read(f).await,
        }
    }

    /// Runs `f` in an immediate transaction on the single writer
    /// connection, off the async workers; commits when `f` succeeds, so an
    /// error of `f` (its own or the store's) changes nothing.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&Transaction) -> Result<T, E> + Send + 'static,
    {
        let db = self.clone();
        actix_web::web::block(move || db.write_blocking(f))
            .await
            .map_err(StoreError::from)?
    }

    pub fn read_blocking<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, E>,
    ) -> Result<T, E> {
        let conn = self.readers.get().map_err(StoreError::from)?;
        f(&conn)
    }

    pub fn write_blocking<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Transaction) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut conn = self.writer.get().map_err(StoreError::from)?;
        // IMMEDIATE takes the write lock up front, so a transaction never
        // fails half-way with SQLITE_BUSY when another process writes too.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StoreError::from)?;
        let value = f(&tx)?;
        tx.commit().map_err(StoreError::from)?;
        Ok(value)
    }

    /// Rebuilds the database file from its live rows, so nothing deleted or
    /// overwritten lingers in its free space, and empties the WAL into it.
    pub fn vacuum(&self) -> Result<(), StoreError> {
        let conn = self.writer.get()?;
        with_temp_files(&conn, |conn| conn.execute_batch("VACUUM"))?;
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// Makes a file from before incremental vacuum give its free pages
    /// back: a whole rewrite (`VACUUM`), once, holding the writer till done.
    pub fn make_pages_given_back(&self) -> Result<(), StoreError> {
        if self.read_blocking(gives_pages_back)? {
            return Ok(());
        }
        log::info!(
            "database {}: rewriting the file once (VACUUM) so that the space of deleted chat logs can be given back; a large file takes a while",
            self.path.display()
        );
        self.vacuum()?;
        log::info!("database {}: rewritten", self.path.display());
        Ok(())
    }

    /// Copies what the WAL holds into the database file, as far as readers
    /// allow, without waiting for them: after pages are given back, the file
    /// shrinks now rather than at the next automatic checkpoint.
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        let conn = self.writer.get()?;
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// Writes a consistent copy of the live database to `dest`, which must
    /// not exist; the copy is readable by its owner only, like the database.
    pub fn backup_to(&self, dest: &Path) -> Result<(), StoreError> {
        let dest_str = dest
            .to_str()
            .ok_or(StoreError::BackupPathNotUtf8)?
            .to_owned();
        files::create_private(dest).map_err(|error| {
            let path = dest.to_owned();
            if error.kind() == std::io::ErrorKind::AlreadyExists {
                Conflict::File { path }.into()
            } else {
                StoreError::CreateFile { path, error }
            }
        })?;
        // Not a reader: those are query_only, which VACUUM INTO refuses.
        let copied = self
            .writer
            .get()
            .map_err(StoreError::from)
            .and_then(|conn| {
                Ok(with_temp_files(&conn, |conn| {
                    conn.execute("VACUUM INTO ?1", [dest_str])
                })?)
            });
        if copied.is_err() {
            // Leave no empty or partial file that would block a retry.
            let _ = std::fs::remove_file(dest);
        }
        copied.map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_sees_the_vacuum_another_made() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pages.db");
        let writer = Connection::open(&path).unwrap();
        writer
            .execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (x);")
            .unwrap();
        let reader = Connection::open(&path).unwrap();
        assert!(!gives_pages_back(&reader).unwrap());
        writer
            .execute_batch("PRAGMA auto_vacuum = INCREMENTAL; VACUUM;")
            .unwrap();
        assert!(gives_pages_back(&reader).unwrap());
    }
}
