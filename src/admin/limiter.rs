//! Sign-in attempts, counted in memory per client IP and per email over a
//! sliding window. An attempt is counted when it begins, before its
//! password is checked, so a burst of concurrent tries gets no more checks
//! than the limit; a success takes its own attempt back.
//!
//! The IP limit is strict: `max` attempts per window. The email limit is
//! softer, so that locking an admin's email is no denial of service: once
//! an email has `max` failures, it refuses only IPs that have failed
//! themselves (or are trying right now); an IP with a clean record still
//! gets its try.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Keys kept before stale ones are swept. Every attempt costs an argon2
/// check, so the keys alive in a window are few in any case.
const SWEEP_ABOVE: usize = 10_000;

pub struct Limiter {
    max: usize,
    window: Duration,
    counts: Mutex<Counts>,
}

#[derive(Default)]
struct Counts {
    ips: HashMap<IpAddr, Vec<Instant>>,
    emails: HashMap<String, Vec<Instant>>,
}

/// An attempt under way. Dropped as it is, it counts as a failure.
#[must_use]
pub struct Attempt<'a> {
    limiter: &'a Limiter,
    ip: IpAddr,
    email: Option<String>,
    at: Instant,
}

/// An IPv6 client usually holds a whole /64: count it as one.
fn ip_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        v4 => v4,
    }
}

/// Removes the attempt made `at` from `key`'s (if it is still there), and
/// the key once it has none.
fn take_back<K: Eq + std::hash::Hash>(map: &mut HashMap<K, Vec<Instant>>, key: &K, at: Instant) {
    if let Some(times) = map.get_mut(key) {
        if let Some(i) = times.iter().position(|t| *t == at) {
            times.remove(i);
        }
        if times.is_empty() {
            map.remove(key);
        }
    }
}

impl Limiter {
    pub fn new(max: usize, window: Duration) -> Limiter {
        Limiter {
            max,
            window,
            counts: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Counts> {
        self.counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Seconds until the oldest of `times` leaves the window, when they
    /// fill it.
    fn wait(&self, times: &[Instant], now: Instant) -> Option<u64> {
        (times.len() >= self.max).then(|| {
            let oldest = times.iter().min().copied().unwrap_or(now);
            self.window
                .saturating_sub(now.duration_since(oldest))
                .as_secs()
                + 1
        })
    }

    /// Begins an attempt from `ip` on `email` (`None` for text that is no
    /// email), or `Err(seconds to wait)`.
    pub fn begin(&self, ip: IpAddr, email: Option<&str>) -> Result<Attempt<'_>, u64> {
        let now = Instant::now();
        let ip = ip_key(ip);
        let fresh = |t: &Instant| now.duration_since(*t) < self.window;
        let mut counts = self.lock();
        if counts.ips.len() + counts.emails.len() > SWEEP_ABOVE {
            counts.ips.retain(|_, times| times.iter().any(fresh));
            counts.emails.retain(|_, times| times.iter().any(fresh));
        }
        let Counts { ips, emails } = &mut *counts;
        let by_ip = ips.entry(ip).or_default();
        by_ip.retain(fresh);
        if let Some(wait) = self.wait(by_ip, now) {
            return Err(wait);
        }
        if let Some(email) = email {
            let by_email = emails.entry(email.to_owned()).or_default();
            by_email.retain(fresh);
            if let Some(wait) = self.wait(by_email, now).filter(|_| !by_ip.is_empty()) {
                return Err(wait);
            }
            by_email.push(now);
            // The newest `max` decide whether the email is locked.
            if by_email.len() > self.max {
                by_email.remove(0);
            }
        }
        by_ip.push(now);
        Ok(Attempt {
            limiter: self,
            ip,
            email: email.map(str::to_owned),
            at: now,
        })
    }
}

impl Attempt<'_> {
    /// The password was right: this attempt does not count, and the
    /// email's failures are forgiven. The IP's other failures stay.
    pub fn succeeded(self) {
        let mut counts = self.limiter.lock();
        take_back(&mut counts.ips, &self.ip, self.at);
        if let Some(email) = &self.email {
            counts.emails.remove(email);
        }
    }

    /// No password was checked (the server was too busy): nothing counts.
    pub fn withdraw(self) {
        let mut counts = self.limiter.lock();
        take_back(&mut counts.ips, &self.ip, self.at);
        if let Some(email) = &self.email {
            take_back(&mut counts.emails, email, self.at);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;
    use std::time::Duration;

    use super::Limiter;

    fn ip(raw: &str) -> IpAddr {
        raw.parse().unwrap()
    }

    #[test]
    fn attempts_count_as_they_begin_and_a_success_takes_its_own_back() {
        let limiter = Limiter::new(2, Duration::from_secs(60));
        let a = ip("192.0.2.1");
        let first = limiter.begin(a, Some("ann@example.com")).unwrap();
        let second = limiter.begin(a, Some("ann@example.com")).unwrap();
        // Two under way fill the IP's budget before either is checked.
        let wait = limiter.begin(a, Some("bob@example.com")).err().unwrap();
        assert!((1..=61).contains(&wait), "{wait}");
        first.succeeded();
        drop(second); // a failure
        let third = limiter.begin(a, None).unwrap();
        assert!(limiter.begin(a, None).is_err(), "the failure still counts");
        third.withdraw();
        assert!(
            limiter.begin(a, None).is_ok(),
            "a withdrawn attempt does not"
        );
    }

    #[test]
    fn a_locked_email_refuses_only_ips_with_failures() {
        let limiter = Limiter::new(2, Duration::from_secs(60));
        let email = Some("ann@example.com");
        drop(limiter.begin(ip("192.0.2.1"), email).unwrap());
        drop(limiter.begin(ip("192.0.2.1"), email).unwrap());
        drop(
            limiter
                .begin(ip("192.0.2.2"), Some("bob@example.com"))
                .unwrap(),
        );
        assert!(limiter.begin(ip("192.0.2.2"), email).is_err(), "has failed");
        // A clean IP gets one try; failing, it is refused like the rest.
        drop(limiter.begin(ip("192.0.2.3"), email).unwrap());
        assert!(limiter.begin(ip("192.0.2.3"), email).is_err());
        // A success forgives the email, for everyone.
        limiter.begin(ip("192.0.2.4"), email).unwrap().succeeded();
        assert!(limiter.begin(ip("192.0.2.2"), email).is_ok());
    }

    #[test]
    fn an_ipv6_slash_64_counts_as_one_client() {
        let limiter = Limiter::new(1, Duration::from_secs(60));
        drop(limiter.begin(ip("2001:db8::1"), None).unwrap());
        assert!(limiter.begin(ip("2001:db8::ffff:2"), None).is_err());
        assert!(limiter.begin(ip("2001:db8:0:1::1"), None).is_ok());
    }
}
