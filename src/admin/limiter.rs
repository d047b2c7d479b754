//! Failed-login counting, in memory: at most `max` failures per key (an IP
//! or an email) within a sliding window.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Keys kept before stale ones are swept, so a flood of distinct emails
/// cannot grow the map without bound.
const SWEEP_ABOVE: usize = 10_000;

pub struct Limiter {
    max: usize,
    window: Duration,
    failures: Mutex<HashMap<String, Vec<Instant>>>,
}

impl Limiter {
    pub fn new(max: usize, window: Duration) -> Limiter {
        Limiter {
            max,
            window,
            failures: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<Instant>>> {
        self.failures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// `Err(seconds to wait)` when any of `keys` used up its failures.
    pub fn check(&self, keys: &[String]) -> Result<(), u64> {
        let now = Instant::now();
        let failures = self.lock();
        let wait = keys
            .iter()
            .filter_map(|key| failures.get(key))
            .filter_map(|times| {
                let recent: Vec<&Instant> = times
                    .iter()
                    .filter(|t| now.duration_since(**t) < self.window)
                    .collect();
                // The oldest recent failure frees a slot when it leaves the window.
                (recent.len() >= self.max).then(|| {
                    let oldest = recent.into_iter().min().copied().unwrap_or(now);
                    (self.window - now.duration_since(oldest)).as_secs() + 1
                })
            })
            .max();
        wait.map_or(Ok(()), Err)
    }

    pub fn record_failure(&self, keys: &[String]) {
        let now = Instant::now();
        let mut failures = self.lock();
        if failures.len() > SWEEP_ABOVE {
            failures.retain(|_, times| times.iter().any(|t| now.duration_since(*t) < self.window));
        }
        for key in keys {
            let times = failures.entry(key.clone()).or_default();
            times.retain(|t| now.duration_since(*t) < self.window);
            times.push(now);
        }
    }

    pub fn clear(&self, key: &str) {
        self.lock().remove(key);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::Limiter;

    #[test]
    fn trips_after_max_failures_per_key() {
        let limiter = Limiter::new(2, Duration::from_secs(60));
        let keys = ["ip:1".to_owned(), "email:a".to_owned()];
        limiter.record_failure(&keys);
        assert!(limiter.check(&keys).is_ok());
        limiter.record_failure(&keys);
        let wait = limiter.check(&["email:a".to_owned()]).unwrap_err();
        assert!((1..=61).contains(&wait), "{wait}");
        assert!(limiter.check(&["email:b".to_owned()]).is_ok());
        limiter.clear("email:a");
        assert!(limiter.check(&["email:a".to_owned()]).is_ok());
        assert!(limiter.check(&keys).is_err(), "the IP is still limited");
    }
}
