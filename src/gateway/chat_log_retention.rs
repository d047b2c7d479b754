//! Deletes the chat logs the instance no longer keeps (its retention), on
//! a background thread: at start, every few minutes, and when the setting
//! changes. It deletes the oldest first in small transactions, and then
//! gives the file's free pages back a few at a time, so the writer is never
//! held for more than a few milliseconds and no request waits on it.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::db::{self, Db, StoreError};
use crate::domain::Timestamp;

/// How often the logs are checked when nothing wakes the thread.
const INTERVAL: Duration = Duration::from_secs(5 * 60);

/// What one transaction should take.
const STEP_TIME: Duration = Duration::from_millis(4);

enum Message {
    /// The setting changed: purge now.
    Wake,
    Close,
}

pub struct ChatLogRetention {
    sender: Sender<Message>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl ChatLogRetention {
    pub fn start(db: Db) -> std::io::Result<ChatLogRetention> {
        let (sender, receiver) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("chat-log-retention".into())
            .spawn(move || run(&db, &receiver))?;
        Ok(ChatLogRetention {
            sender,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Purges now, under the setting as it is stored.
    pub fn wake(&self) {
        let _ = self.sender.send(Message::Wake);
    }

    /// Stops the thread, between two transactions.
    pub fn close(&self) {
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(thread) = thread {
            let _ = self.sender.send(Message::Close);
            if thread.join().is_err() {
                log::error!("chat log retention panicked");
            }
        }
    }
}

impl Drop for ChatLogRetention {
    fn drop(&mut self) {
        self.close();
    }
}

/// How a purge ended.
#[derive(PartialEq)]
enum Ended {
    Done,
    /// Woken meanwhile: the setting may have changed, so purge again.
    Woken,
    Closed,
}

fn run(db: &Db, receiver: &Receiver<Message>) {
    loop {
        let ended = purge(db, receiver).unwrap_or_else(|e| {
            log::error!("chat log retention: {e}");
            Ended::Done
        });
        match ended {
            Ended::Closed => return,
            Ended::Woken => continue,
            Ended::Done => {}
        }
        match receiver.recv_timeout(INTERVAL) {
            Ok(Message::Wake) | Err(RecvTimeoutError::Timeout) => {}
            Ok(Message::Close) | Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// Sizes steps to take about `STEP_TIME`: twice as many after a quick one,
/// half as many after a slow one.
struct Pace {
    size: u32,
    most: u32,
}

impl Pace {
    fn after(&mut self, took: Duration) {
        if took < STEP_TIME / 2 {
            self.size = (self.size * 2).min(self.most);
        } else if took > STEP_TIME * 2 {
            self.size = (self.size / 2).max(1);
        }
    }
}

/// Runs `step` with sizes from `pace` until it says it is done, pausing
/// as long as each step took (the writer is free at least half the time),
/// and stopping early when the thread is told to.
fn in_steps(
    receiver: &Receiver<Message>,
    mut pace: Pace,
    mut step: impl FnMut(u32) -> Result<bool, StoreError>,
    woken: &mut bool,
) -> Result<Ended, StoreError> {
    loop {
        match receiver.try_recv() {
            Ok(Message::Wake) => *woken = true,
            Ok(Message::Close) | Err(TryRecvError::Disconnected) => return Ok(Ended::Closed),
            Err(TryRecvError::Empty) => {}
        }
        let started = Instant::now();
        if step(pace.size)? {
            return Ok(Ended::Done);
        }
        let took = started.elapsed();
        pace.after(took);
        std::thread::sleep(took.max(Duration::from_millis(1)));
    }
}

fn purge(db: &Db, receiver: &Receiver<Message>) -> Result<Ended, StoreError> {
    let retention = db.read_blocking(db::settings::retention)?;
    let Some(before) = retention.cutoff(Timestamp::now()) else {
        return Ok(Ended::Done);
    };
    let mut woken = false;
    let mut deleted = 0;
    let pace = Pace {
        size: 64,
        most: 4096,
    };
    let ended = in_steps(
        receiver,
        pace,
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
        let pace = Pace {
            size: 64,
            most: 4096,
        };
        let ended = in_steps(
            receiver,
            pace,
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
