//! Writes chat logs off the request path: completions (and requests a
//! policy refused) hand their row to a background thread, which gathers
//! rows for `LINGER` and writes them, and adds them to the usage rollups,
//! in one transaction (a commit costs far more than a row). A batch that
//! fails is written again a row at a time, so that a bad row loses only
//! itself. Closing it writes everything still queued.
//!
//! The rows waiting hold at most `QUEUE_BYTES`: while the database keeps
//! the writer waiting (a backup, a stuck disk), rows past that are
//! dropped, counted and logged, and no request ever waits for room.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::TryRecvError;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::background::{Background, Inbox};
use super::chat_log::ChatLogSink;
use crate::db::{self, usage::Recorded, Db, StoreError};

/// How long the first row of a batch waits for company.
const LINGER: Duration = Duration::from_millis(50);

/// The memory rows waiting for the database may hold: a busy instance's
/// short chats for a minute and more, a few hundred long conversations.
pub const QUEUE_BYTES: usize = 64 << 20;

/// The least time between two log lines about dropped rows: a stuck
/// database must not flood the log as well.
const DROP_WARNING_INTERVAL: Duration = Duration::from_secs(10);

pub struct ChatLogWriter {
    thread: Background<Box<Recorded>>,
    /// Bytes of the rows sent and not yet written, shared with the thread.
    queued: Arc<AtomicUsize>,
    bound: usize,
    /// Rows dropped because the queue was full.
    dropped: AtomicU64,
    last_drop_warning: Mutex<Option<Instant>>,
}

impl ChatLogWriter {
    /// A writer whose waiting rows hold up to `bound` bytes.
    pub fn start(db: Db, bound: usize) -> std::io::Result<ChatLogWriter> {
        let queued = Arc::new(AtomicUsize::new(0));
        let written = queued.clone();
        let thread = Background::start("chat-log-writer", move |inbox| {
            write_loop(&db, &inbox, &written)
        })?;
        Ok(ChatLogWriter {
            thread,
            queued,
            bound,
            dropped: AtomicU64::new(0),
            last_drop_warning: Mutex::new(None),
        })
    }

    /// Rows dropped so far because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Writes everything queued so far, then stops the writer.
    pub fn close(&self) {
        self.thread.stop();
    }

    /// Takes room for a row of `size` bytes: none is past the bound, but
    /// for a row alone (larger than the bound itself).
    fn reserve(&self, size: usize) -> bool {
        let before = self.queued.fetch_add(size, Ordering::Relaxed);
        if before > 0 && before + size > self.bound {
            self.queued.fetch_sub(size, Ordering::Relaxed);
            return false;
        }
        true
    }

    fn note_dropped(&self) {
        let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        let mut last = self
            .last_drop_warning
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if last.is_none_or(|at| at.elapsed() >= DROP_WARNING_INTERVAL) {
            *last = Some(Instant::now());
            log::error!(
                "chat logs of {} bytes wait for the database, as much as may: chat logs are dropped ({dropped} so far)",
                self.queued.load(Ordering::Relaxed)
            );
        }
    }
}

impl ChatLogSink for ChatLogWriter {
    /// Never blocks: past the bound, the row is dropped.
    fn record(&self, row: Recorded) {
        let size = size_of_row(&row);
        if !self.reserve(size) {
            return self.note_dropped();
        }
        if !self.thread.send(Box::new(row)) {
            self.queued.fetch_sub(size, Ordering::Relaxed);
            log::error!("chat log writer has stopped; a chat log was not recorded");
        }
    }
}

/// The memory a row holds, about.
fn size_of_row(row: &Recorded) -> usize {
    let text = match row {
        Recorded::Chat { log, .. } => {
            let optional = [
                &log.model,
                &log.provider,
                &log.character_id,
                &log.error_message,
            ];
            log.chat_id.len()
                + log.chat_title.len()
                + log.conversation_text.len()
                + optional
                    .iter()
                    .map(|o| o.as_ref().map_or(0, String::len))
                    .sum::<usize>()
        }
        Recorded::Refused { model, .. } => model.len(),
    };
    std::mem::size_of::<Recorded>() + text
}

fn write_loop(db: &Db, receiver: &Inbox<Box<Recorded>>, queued: &AtomicUsize) {
    let mut closing = false;
    while !closing {
        let mut batch = Vec::new();
        match receiver.recv() {
            Ok(Some(row)) => batch.push(row),
            Ok(None) | Err(_) => closing = true,
        }
        if !closing {
            // Sleeping, rather than waiting on the channel, means the rows
            // sent meanwhile wake no one: sending stays cheap.
            std::thread::sleep(LINGER);
        }
        loop {
            match receiver.try_recv() {
                Ok(Some(row)) => batch.push(row),
                Ok(None) | Err(TryRecvError::Disconnected) => closing = true,
                Err(TryRecvError::Empty) => break,
            }
        }
        if !batch.is_empty() {
            write_batch(db, &batch);
            let size = batch.iter().map(|row| size_of_row(row)).sum();
            queued.fetch_sub(size, Ordering::Relaxed);
        }
    }
}

/// Writes a batch in one transaction, or, when that fails, each row in its
/// own.
fn write_batch(db: &Db, batch: &[Box<Recorded>]) {
    let write = |rows: &[Box<Recorded>]| {
        db.write_blocking::<_, StoreError>(|tx| db::usage::record(tx, rows))
    };
    let error = match write(batch) {
        Ok(()) => return,
        Err(error) => error,
    };
    if batch.len() > 1 {
        log::warn!(
            "could not write {} chat logs at once ({error}); writing them one at a time",
            batch.len()
        );
        for row in batch.chunks(1) {
            if let Err(error) = write(row) {
                log::error!("could not write a chat log: {error}");
            }
        }
    } else {
        log::error!("could not write a chat log: {error}");
    }
}
