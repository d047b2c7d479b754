//! The database's files on disk. They hold every conversation, the
//! provider keys and the admins' password hashes, so mindgate creates them
//! readable by their owner only, and warns when an existing one is not.

use std::fs::OpenOptions;
use std::io;
use std::path::{Path, PathBuf};

/// Creates `path` as an empty file only its owner may read or write.
/// SQLite takes an empty file as a new database (so does `VACUUM INTO`),
/// and gives the `-wal` and `-shm` files it makes the database's mode.
/// Fails with `AlreadyExists` when the file exists.
pub(super) fn create_private(path: &Path) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    // Set at creation, not by a chmod after it: no moment where others may read.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map(drop)
}

/// The database and the files SQLite keeps beside it while it is open.
fn with_sidecars(path: &Path) -> [PathBuf; 3] {
    let beside = |suffix: &str| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    [path.to_owned(), beside("-wal"), beside("-shm")]
}

/// Logs a warning for each of the database's files that group or others
/// may read or write.
#[cfg(unix)]
pub(super) fn warn_if_shared(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for file in with_sidecars(path) {
        let Ok(meta) = std::fs::metadata(&file) else {
            continue;
        };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o066 != 0 {
            log::warn!(
                "{} is open to other users (mode {mode:03o}) but holds conversations, provider \
                 keys and password hashes; restrict it with `chmod 600 {}`",
                file.display(),
                file.display()
            );
        }
    }
}

#[cfg(not(unix))]
pub(super) fn warn_if_shared(_path: &Path) {}
