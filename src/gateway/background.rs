//! A named thread that works through what a channel brings it, and stops
//! when told to, after what was sent before (or when dropped).

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Mutex;
use std::thread::JoinHandle;

/// What the thread receives: `Some` message, or `None` to stop.
pub type Inbox<M> = Receiver<Option<M>>;

pub struct Background<M> {
    name: &'static str,
    sender: Sender<Option<M>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl<M: Send + 'static> Background<M> {
    pub fn start(
        name: &'static str,
        run: impl FnOnce(Inbox<M>) + Send + 'static,
    ) -> std::io::Result<Background<M>> {
        let (sender, receiver) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || run(receiver))?;
        Ok(Background {
            name,
            sender,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Never blocks; false when the thread has stopped.
    pub fn send(&self, message: M) -> bool {
        self.sender.send(Some(message)).is_ok()
    }
}

impl<M> Background<M> {
    /// Tells the thread to stop and waits for it.
    pub fn stop(&self) {
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(thread) = thread {
            let _ = self.sender.send(None);
            if thread.join().is_err() {
                log::error!("{} panicked", self.name);
            }
        }
    }
}

impl<M> Drop for Background<M> {
    fn drop(&mut self) {
        self.stop();
    }
}
