//! Writes chat logs off the request path: completions (and requests a
//! policy refused) hand their row to a background thread, which gathers rows for `LINGER` and writes them, and
//! adds them to the usage rollups, in one transaction (a commit costs far
//! more than a row). Closing it writes everything still queued.

use std::sync::mpsc::TryRecvError;
use std::time::Duration;

use super::background::{Background, Inbox};
use crate::db::{self, usage::Recorded, Db};

/// How long the first row of a batch waits for company.
const LINGER: Duration = Duration::from_millis(50);

pub struct ChatLogWriter {
    thread: Background<Box<Recorded>>,
}

impl ChatLogWriter {
    pub fn start(db: Db) -> std::io::Result<ChatLogWriter> {
        let thread = Background::start("chat-log-writer", move |inbox| write_loop(&db, &inbox))?;
        Ok(ChatLogWriter { thread })
    }

    /// Queues a row; never blocks.
    pub fn record(&self, row: Recorded) {
        if !self.thread.send(Box::new(row)) {
            log::error!("chat log writer has stopped; a chat log was not recorded");
        }
    }

    /// Writes everything queued so far, then stops the writer.
    pub fn close(&self) {
        self.thread.stop();
    }
}

fn write_loop(db: &Db, receiver: &Inbox<Box<Recorded>>) {
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
        if batch.is_empty() {
            continue;
        }
        let count = batch.len();
        let written = db.write_blocking(move |tx| db::usage::record(tx, &batch));
        if let Err(e) = written {
            log::error!("could not write {count} chat log(s): {e}");
        }
    }
}
