//! What the server keeps in memory from the database (the policies, the
//! model catalog) kept up with changes other processes make (the command
//! line, a second server): one thread asks each, every `WATCH_EVERY`,
//! whether the database moved on since it was read, a cheap stamp check,
//! and has it reload when it did.

use std::sync::Weak;
use std::time::Duration;

use super::StoreError;

/// How often the watcher checks.
pub const WATCH_EVERY: Duration = Duration::from_secs(2);

/// Something read from the database and kept in memory.
pub trait Watched: Send + Sync {
    /// What it is, for the log: "policies".
    fn what(&self) -> &'static str;

    /// Reloads when the database changed behind its back; whether it did.
    fn reload_if_changed(&self) -> Result<bool, StoreError>;
}

/// Starts the thread; it ends when everything it watches is gone.
pub fn start(watched: Vec<Weak<dyn Watched>>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("db-watch".to_owned())
        .spawn(move || loop {
            std::thread::sleep(WATCH_EVERY);
            let alive: Vec<_> = watched.iter().filter_map(Weak::upgrade).collect();
            if alive.is_empty() {
                return;
            }
            for watched in alive {
                let what = watched.what();
                match watched.reload_if_changed() {
                    Ok(true) => log::info!("{what} changed in the database; reloaded them"),
                    Ok(false) => {}
                    Err(e) => log::error!("cannot check the {what} for changes: {e}"),
                }
            }
        })?;
    Ok(())
}
