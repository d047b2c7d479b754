//! Keeps the chat logs in shape on a background thread: indexes the text
//! of newly recorded chats for search, on a small budget so that serving
//! always comes first, and deletes the chat logs the instance no longer
//! keeps (its retention: at start, every few minutes and when the setting
//! changes), oldest first, then gives the file's free pages back; and
//! deletes the usage slots past their time. Every
//! step is a transaction of a few milliseconds: the writer is never held
//! longer, and no request waits on it.

use std::sync::mpsc::{RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant};

use super::background::{Background, Inbox};

use crate::db::{self, Db, StoreError};
use crate::domain::Timestamp;

/// How often retention is checked when nothing wakes the thread.
const PURGE_INTERVAL: Duration = Duration::from_secs(5 * 60);

/// How often it looks for chats to index: what a search may have to check
/// directly is what was recorded since.
const INDEX_INTERVAL: Duration = Duration::from_secs(1);

/// What one transaction should take.
const STEP_TIME: Duration = Duration::from_millis(4);

/// After a purge step, a pause as long as the step: the writer is free at
/// least half the time.
const PURGE_REST: u32 = 1;

/// After an indexing step, a pause 39 times as long: indexing takes at most
/// 2.5% of one core, however many chats arrive (about 1,500 short ones a
/// second); a burst is indexed over the quiet time after it.
const INDEX_REST: u32 = 39;

/// Sent when the retention changed: purge now.
struct Wake;

pub struct ChatLogUpkeep {
    thread: Background<Wake>,
}

impl ChatLogUpkeep {
    pub fn start(db: Db) -> std::io::Result<ChatLogUpkeep> {
        let thread = Background::start("chat-log-upkeep", move |inbox| run(&db, &inbox))?;
        Ok(ChatLogUpkeep { thread })
    }

    /// Purges now, under the retention as it is stored.
    pub fn wake(&self) {
        self.thread.send(Wake);
    }

    /// Stops the thread, between two transactions.
    pub fn close(&self) {
        self.thread.stop();
    }
}

/// How a task ended.
#[derive(PartialEq)]
enum Ended {
    Done,
    /// Woken meanwhile: the retention may have changed, so purge (again).
    Woken,
    Closed,
}

fn run(db: &Db, receiver: &Inbox<Wake>) {
    let mut purge_at = Instant::now();
    loop {
        let mut ended = index(db, receiver);
        if ended == Ended::Woken || (ended == Ended::Done && Instant::now() >= purge_at) {
            ended = purge(db, receiver);
            purge_at = Instant::now() + PURGE_INTERVAL;
        }
        match ended {
            Ended::Closed => return,
            // The retention may have changed while purging: again, now.
            Ended::Woken => purge_at = Instant::now(),
            Ended::Done => match receiver.recv_timeout(INDEX_INTERVAL) {
                Ok(Some(Wake)) => purge_at = Instant::now(),
                Err(RecvTimeoutError::Timeout) => {}
                Ok(None) | Err(RecvTimeoutError::Disconnected) => return,
            },
        }
    }
}

/// The end of a task, its failure logged.
fn ended(task: &str, result: Result<Ended, StoreError>) -> Ended {
    result.unwrap_or_else(|e| {
        log::error!("chat log {task}: {e}");
        Ended::Done
    })
}

/// Sizes steps to take about `STEP_TIME`: twice as many after a quick one,
/// half as many after a slow one.
struct Pace {
    size: u32,
    most: u32,
    /// The pause after a step, in multiples of the time it took.
    rest: u32,
}

impl Pace {
    /// Deleting chats and giving pages back.
    const PURGE: Pace = Pace {
        size: 64,
        most: 4096,
        rest: PURGE_REST,
    };

    fn after(&mut self, took: Duration) {
        if took < STEP_TIME / 2 {
            self.size = (self.size * 2).min(self.most);
        } else if took > STEP_TIME * 2 {
            self.size = (self.size / 2).max(1);
        }
    }
}

/// Runs `step` with sizes from `pace` until it says it is done, pausing
/// after each as `pace` says, and stopping early when the thread is told
/// to.
fn in_steps(
    receiver: &Inbox<Wake>,
    mut pace: Pace,
    mut step: impl FnMut(u32) -> Result<bool, StoreError>,
    woken: &mut bool,
) -> Result<Ended, StoreError> {
    loop {
        match receiver.try_recv() {
            Ok(Some(Wake)) => *woken = true,
            Ok(None) | Err(TryRecvError::Disconnected) => return Ok(Ended::Closed),
            Err(TryRecvError::Empty) => {}
        }
        let started = Instant::now();
        if step(pace.size)? {
            return Ok(Ended::Done);
        }
        let took = started.elapsed();
        pace.after(took);
        std::thread::sleep(took.max(Duration::from_millis(1)) * pace.rest);
    }
}

/// Indexes the chats recorded since the last time, in steps.
fn index(db: &Db, receiver: &Inbox<Wake>) -> Ended {
    let pace = Pace {
        size: 64,
        most: 1024,
        rest: INDEX_REST,
    };
    let mut woken = false;
    let steps = in_steps(
        receiver,
        pace,
        |size| Ok(db.write_blocking(|tx| db::chat_logs::index_pending(tx, size))? < size as usize),
        &mut woken,
    );
    match ended("indexing", steps) {
        Ended::Done if woken => Ended::Woken,
        other => other,
    }
}

fn purge(db: &Db, receiver: &Inbox<Wake>) -> Ended {
    ended("retention", purge_steps(db, receiver))
}

fn purge_steps(db: &Db, receiver: &Inbox<Wake>) -> Result<Ended, StoreError> {
    // A few minutes' worth of rows: one short statement.
    db.write_blocking(|tx| db::usage::prune_slots(tx, Timestamp::now()))?;
    let retention = db.read_blocking(db::settings::retention)?;
    let Some(before) = retention.cutoff(Timestamp::now()) else {
        return Ok(Ended::Done);
    };
    let mut woken = false;
    let mut deleted = 0;
    let ended = in_steps(
        receiver,
        Pace::PURGE,
        |size| {
            let gone = db.write_blocking(|tx| db::chat_logs::purge(tx, before, size))?;
            deleted += gone;
            Ok(gone < size as usize)
        },
        &mut woken,
    )?;
    if deleted > 0 {
        log::info!(
            "chat log retention ({} days): deleted {deleted} chat log(s) recorded before {}",
            retention,
            before.to_iso()
        );
    }
    if ended == Ended::Closed {
        return Ok(ended);
    }
    if db.read_blocking(db::gives_pages_back)? {
        let mut free = u32::MAX;
        let ended = in_steps(
            receiver,
            Pace::PURGE,
            |pages| {
                let left = db.write_blocking(|tx| db::give_pages_back(tx, pages))?;
                // Done when none are left, or none went (nothing to move).
                let done = left == 0 || left >= free;
                free = left;
                Ok(done)
            },
            &mut woken,
        )?;
        if ended == Ended::Closed {
            return Ok(ended);
        }
        if deleted > 0 {
            db.checkpoint()?;
        }
    }
    Ok(if woken { Ended::Woken } else { Ended::Done })
}
