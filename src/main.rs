use std::process::ExitCode;
use std::time::Duration;

// Requests allocate and free many small buffers across threads; mimalloc
// does that faster than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    return_freed_memory();
    skip_sqlite_memory_statistics();
    mindgate::cli::main()
}

/// SQLite counts every allocation under one global mutex unless told not
/// to: a third of what recording a chat costs at high load. mindgate reads
/// no such statistic.
fn skip_sqlite_memory_statistics() {
    // SAFETY: sqlite3_config must run before SQLite is initialised (the
    // first connection) and on no other thread at once: this is both.
    let status = unsafe {
        rusqlite::ffi::sqlite3_config(rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS, 0 as std::ffi::c_int)
    };
    if status != rusqlite::ffi::SQLITE_OK {
        eprintln!("mindgate: warning: SQLite kept its memory statistics ({status})");
    }
}

/// Lets memory freed after large answers go back to the OS, even when the
/// server then idles. mimalloc hands freed pages back a second after they
/// were freed, but only when some thread next frees a page, so the last
/// burst before a quiet spell stayed resident: a thread asks every second.
/// SQLite allocates with glibc's malloc, which after freeing a large block
/// raises its mmap threshold and keeps later large blocks in its heap:
/// fixing the threshold keeps them in their own mappings, unmapped on free.
fn return_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: sets a malloc parameter, before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
    let purger = std::thread::Builder::new()
        .name("memory-purge".into())
        .spawn(|| loop {
            std::thread::sleep(Duration::from_secs(1));
            // SAFETY: mi_collect has no preconditions; `false` only does
            // the purges that are due.
            unsafe { libmimalloc_sys::mi_collect(false) };
        });
    if let Err(e) = purger {
        eprintln!("mindgate: warning: cannot start the memory purge thread: {e}");
    }
}
