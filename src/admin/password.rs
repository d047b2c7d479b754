//! Admin passwords: argon2id with OWASP's parameters (m=19456 KiB, t=2,
//! p=1), stored as PHC strings. The server hashes and checks them through
//! `Hashing`, a few at a time.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, OnceLock};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::oneshot;

/// Argon2 runs at most this many at once, fewer on fewer cores: each one
/// holds 19 MiB, and with p=1 more than a core each buys no speed.
const MOST_AT_ONCE: usize = 4;
/// Jobs that may wait for a turn; past them the server is too busy and
/// says so at once.
const QUEUE: usize = 256;
/// Seconds a client refused for a full queue should wait.
const BUSY_RETRY_AFTER: u64 = 2;

/// Why the server's hashing gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum HashingError {
    #[error("too many password checks at once; try again in a few seconds")]
    Busy { retry_after: u64 },
    #[error("password hashing failed: {0}")]
    Failed(String),
}

fn argon2() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password (slow on purpose: the server goes through
/// `Hashing`; the command line calls it directly).
pub fn hash(password: &str) -> argon2::password_hash::Result<String> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
}

/// Whether `password` matches the stored hash. With no hash (an unknown
/// email) a dummy one is checked, so both cases take the same time.
fn verify(password: &str, stored: Option<&str>) -> bool {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash("not the password of anyone").unwrap_or_default());
    let Ok(parsed) = PasswordHash::new(stored.unwrap_or(dummy)) else {
        return false;
    };
    argon2()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
        && stored.is_some()
}

/// The server's argon2 work: a few threads of its own compute, jobs wait
/// in a bounded queue (holding no hash memory), and past it the answer is a
/// quick 429. However many sign-ins arrive together, memory grows by at
/// most one hash per thread. (Own threads rather than the blocking pool:
/// there, each of dozens of threads would keep a hash's memory cached.)
pub struct Hashing {
    jobs: SyncSender<Job>,
}

type Job = Box<dyn FnOnce() + Send>;

impl Hashing {
    fn new(threads: usize, queue: usize) -> Hashing {
        let (jobs, queued) = mpsc::sync_channel::<Job>(queue);
        let queued = Arc::new(Mutex::new(queued));
        for i in 0..threads {
            let queued = queued.clone();
            let work = move || loop {
                let next = queued
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .recv();
                // Ends with the server, when the sender is dropped.
                let Ok(job) = next else { return };
                // A job that panics fails its request, not the thread.
                let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
            };
            if let Err(e) = std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(work)
            {
                log::error!("cannot start a password hashing thread: {e}");
            }
        }
        Hashing { jobs }
    }

    /// One thread per core, up to `MOST_AT_ONCE`.
    pub fn for_this_machine() -> Hashing {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Hashing::new(cores.min(MOST_AT_ONCE), QUEUE)
    }

    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashingError> {
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move || {
            // The client left while it waited: skip the work.
            if !done.is_closed() {
                let _ = done.send(job());
            }
        });
        match self.jobs.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                return Err(HashingError::Busy {
                    retry_after: BUSY_RETRY_AFTER,
                })
            }
            Err(TrySendError::Disconnected(_)) => {
                return Err(HashingError::Failed("the hashing threads are gone".into()))
            }
        }
        result
            .await
            .map_err(|_| HashingError::Failed("the job ended without an answer".into()))
    }

    pub async fn hash(&self, password: &str) -> Result<String, HashingError> {
        let password = password.to_owned();
        self.run(move || hash(&password))
            .await?
            .map_err(|e| HashingError::Failed(format!("argon2: {e}")))
    }

    /// Whether `password` matches `stored` (`None`: an unknown email).
    pub async fn verify(
        &self,
        password: &str,
        stored: Option<String>,
    ) -> Result<bool, HashingError> {
        let password = password.to_owned();
        self.run(move || verify(&password, stored.as_deref())).await
    }
}

#[cfg(test)]
mod tests {
    use std::pin::pin;
    use std::sync::mpsc;

    use futures_util::FutureExt;

    use super::{hash, verify, Hashing, HashingError};

    #[test]
    fn hashes_verify_and_unknown_never_does() {
        let stored = hash("correct horse battery").unwrap();
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        assert!(verify("correct horse battery", Some(&stored)));
        assert!(!verify("wrong horse battery", Some(&stored)));
        assert!(!verify("not the password of anyone", None));
    }

    #[actix_web::test]
    async fn hashing_runs_a_few_at_once_and_refuses_past_its_queue() {
        let hashing = Hashing::new(1, 1);
        let (started, has_started) = mpsc::channel();
        let (release, gate) = mpsc::channel::<()>();
        let mut running = pin!(hashing.run(move || {
            started.send(()).unwrap();
            gate.recv().is_ok()
        }));
        assert!((&mut running).now_or_never().is_none());
        has_started.recv().unwrap();
        // The one thread is busy: the next job waits, the one after is refused.
        let mut waiting = pin!(hashing.run(|| "waited"));
        assert!((&mut waiting).now_or_never().is_none());
        let refused = hashing.run(|| "refused").await.unwrap_err();
        assert!(
            matches!(refused, HashingError::Busy { retry_after: 2 }),
            "{refused:?}"
        );
        release.send(()).unwrap();
        assert!(running.await.unwrap());
        assert_eq!(waiting.await.unwrap(), "waited");
        // The queue is free again, and real work goes through.
        let stored = hashing.hash("correct horse battery").await.unwrap();
        let valid = hashing.verify("correct horse battery", Some(stored));
        assert!(valid.await.unwrap());
    }
}
