//! The chat log writer on its own: a row the database refuses loses only
//! itself, not its batch; past its bound, rows are dropped and counted,
//! and no one waits for room.

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use mindgate::db::chat_logs::NewChatLog;
use mindgate::db::usage::Recorded;
use mindgate::db::{Db, StoreError};
use mindgate::domain::{ApiKeyId, Timestamp};
use mindgate::gateway::{ChatLogSink, ChatLogWriter};
use tempfile::TempDir;

use crate::helpers::chat_log;

fn open() -> (TempDir, Db) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("mindgate.db")).unwrap();
    (dir, db)
}

fn chat(chat_id: &str) -> Recorded {
    Recorded::Chat {
        log: chat_log(chat_id, Timestamp::now()),
        keep_log: true,
    }
}

/// The chats stored, and the requests the usage rollups counted.
fn stored(db: &Db) -> (Vec<String>, i64) {
    db.read_blocking(|conn| {
        let mut stmt = conn.prepare("SELECT chat_id FROM chat_logs ORDER BY chat_id")?;
        let ids = stmt
            .query_map([], |row| row.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        let requests = conn.query_row(
            "SELECT IFNULL(SUM(requests), 0) FROM usage_rollups",
            [],
            |row| row.get(0),
        )?;
        Ok::<_, StoreError>((ids, requests))
    })
    .unwrap()
}

/// Holds the database's one writer connection until told (or for long
/// enough that a writer that waited for it would come back).
struct Held {
    release: mpsc::Sender<()>,
    thread: JoinHandle<Result<(), StoreError>>,
}

impl Held {
    fn writer_of(db: &Db) -> Held {
        let (held, is_held) = mpsc::channel();
        let (release, released) = mpsc::channel();
        let db = db.clone();
        let thread = std::thread::spawn(move || {
            db.write_blocking(|_| {
                held.send(()).unwrap();
                let _ = released.recv_timeout(Duration::from_secs(20));
                Ok(())
            })
        });
        is_held.recv().unwrap();
        Held { release, thread }
    }

    fn release(self) {
        self.release.send(()).unwrap();
        self.thread.join().unwrap().unwrap();
    }
}

#[test]
fn a_row_that_breaks_a_constraint_loses_only_itself() {
    let (_dir, db) = open();
    let writer = ChatLogWriter::start(db.clone(), 1 << 20).unwrap();
    let held = Held::writer_of(&db);
    writer.record(chat("a"));
    // No API key has this id: the row breaks its foreign key. The rows
    // queue while the database is held, and go in one batch (or two).
    writer.record(Recorded::Chat {
        log: NewChatLog {
            api_key_id: Some(ApiKeyId(4242)),
            ..chat_log("b", Timestamp::now())
        },
        keep_log: true,
    });
    writer.record(chat("c"));
    held.release();
    writer.close();
    assert_eq!(stored(&db), (vec!["a".to_owned(), "c".to_owned()], 2));
}

#[test]
fn past_its_bound_rows_are_dropped_and_counted_not_waited_for() {
    let (_dir, db) = open();
    // Room for one row (a row alone always has room).
    let writer = ChatLogWriter::start(db.clone(), 1).unwrap();
    let held = Held::writer_of(&db);
    for i in 0..30 {
        writer.record(chat(&format!("chat-{i:02}")));
    }
    assert_eq!(writer.dropped(), 29);
    held.release();
    writer.close();
    assert_eq!(stored(&db), (vec!["chat-00".to_owned()], 1));
}
