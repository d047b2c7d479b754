//! Writes chat logs off the request path: completions hand their row to a
//! background thread, which gathers rows for `LINGER` and writes them, and
//! adds them to the usage rollups, in one transaction (a commit costs far
//! more than a row). Closing it writes everything still queued.

use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::db::{self, chat_logs::NewChatLog, Db};

/// How long the first row of a batch waits for company.
const LINGER: Duration = Duration::from_millis(50);

enum Message {
    Row(Box<NewChatLog>),
    Close,
}

pub struct ChatLogWriter {
    sender: Sender<Message>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl ChatLogWriter {
    pub fn start(db: Db) -> std::io::Result<ChatLogWriter> {
        let (sender, receiver) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("chat-log-writer".into())
            .spawn(move || write_loop(&db, &receiver))?;
        Ok(ChatLogWriter {
            sender,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Queues a row; never blocks.
    pub fn record(&self, row: NewChatLog) {
        if self.sender.send(Message::Row(Box::new(row))).is_err() {
            log::error!("chat log writer has stopped; a chat log was not recorded");
        }
    }

    /// Writes everything queued so far, then stops the writer.
    pub fn close(&self) {
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(thread) = thread {
            let _ = self.sender.send(Message::Close);
            if thread.join().is_err() {
                log::error!("chat log writer panicked");
            }
        }
    }
}

impl Drop for ChatLogWriter {
    fn drop(&mut self) {
        self.close();
    }
}

fn write_loop(db: &Db, receiver: &Receiver<Message>) {
    let mut closing = false;
    while !closing {
        let mut batch = Vec::new();
        match receiver.recv() {
            Ok(Message::Row(row)) => batch.push(row),
            Ok(Message::Close) | Err(_) => closing = true,
        }
        if !closing {
            // Sleeping, rather than waiting on the channel, means the rows
            // sent meanwhile wake no one: sending stays cheap.
            std::thread::sleep(LINGER);
        }
        loop {
            match receiver.try_recv() {
                Ok(Message::Row(row)) => batch.push(row),
                Ok(Message::Close) | Err(TryRecvError::Disconnected) => closing = true,
                Err(TryRecvError::Empty) => break,
            }
        }
        if batch.is_empty() {
            continue;
        }
        let count = batch.len();
        let written = db.write_blocking(move |tx| db::usage::record_chats(tx, &batch));
        if let Err(e) = written {
            log::error!("could not write {count} chat log(s): {e}");
        }
    }
}
