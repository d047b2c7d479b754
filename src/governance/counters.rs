//! How much each limit has used in its current window, behind one small
//! interface: admit a request, add its usage, read an amount, set amounts
//! rebuilt from the record. In memory here; replicas sharing one database
//! will need a shared implementation of the same trait.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::domain::{Limit, Metric, Micros, Scope, Window};

/// One counter: a scope's usage in one kind of window, for one member of
/// it or for the whole group.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BucketKey {
    pub scope: Scope,
    pub window: Window,
    pub whose: Whose,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Whose {
    Group,
    /// A user's id; 0 for requests that name no user.
    Member(i64),
}

/// `[start, end)` of a window, in milliseconds since the epoch.
pub type Span = (i64, i64);

/// What a counter holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Amounts {
    pub requests: i64,
    pub tokens: i64,
    /// Micro-dollars.
    pub cost: i64,
}

impl Amounts {
    pub fn of(&self, metric: Metric) -> i64 {
        match metric {
            Metric::Requests => self.requests,
            Metric::Tokens => self.tokens,
            Metric::CostUsd => self.cost,
        }
    }

    pub fn add(&mut self, other: &Amounts) {
        self.requests += other.requests;
        self.tokens += other.tokens;
        self.cost += other.cost;
    }
}

/// A limit to check, in the window that holds now.
#[derive(Debug, Clone)]
pub struct Check<'a> {
    pub bucket: &'a BucketKey,
    pub span: Span,
    pub limit: Limit,
}

/// The counters a request was admitted against (each once).
#[derive(Debug, Default)]
pub struct Charges(Vec<BucketKey>);

pub trait Counters: Send + Sync {
    /// Counts one request against every check's counter when none is full
    /// (has reached its limit); otherwise counts nothing and returns the
    /// index of the full check whose window frees last.
    fn admit(&self, checks: &[Check], now: i64) -> Result<Charges, usize>;

    /// Whether `requests` more requests would all be admitted now: every
    /// requests limit has room for them, and no token or cost limit is
    /// full. Counts nothing; otherwise the index of the check whose window
    /// frees last, of those that do not let them through.
    fn room_for(&self, checks: &[Check], requests: i64) -> Result<(), usize>;

    /// Adds a finished answer's tokens and cost.
    fn add_usage(&self, charges: &Charges, tokens: i64, cost: Micros);

    /// A counter's amounts in window `span` (zero when it holds none yet).
    fn current(&self, bucket: &BucketKey, span: Span) -> Amounts;

    /// Sets counters to amounts rebuilt from the record.
    fn seed(&self, seeds: Vec<(BucketKey, Span, Amounts)>);
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    span: Span,
    amounts: Amounts,
}

/// Ended windows are swept out every this many admissions.
const SWEEP_EVERY: u64 = 4096;

/// The counters in this process's memory, behind one lock: a check is a
/// few hash lookups, far shorter than anything else a request does.
#[derive(Default)]
pub struct MemoryCounters {
    buckets: Mutex<HashMap<BucketKey, Bucket>>,
    admissions: AtomicU64,
}

impl MemoryCounters {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<BucketKey, Bucket>> {
        self.buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The bucket in window `span`: a bucket still in an earlier window
/// starts again from zero.
fn in_window<'m>(
    buckets: &'m mut HashMap<BucketKey, Bucket>,
    key: &BucketKey,
    span: Span,
) -> &'m mut Bucket {
    let bucket = buckets.entry(key.clone()).or_insert(Bucket {
        span,
        amounts: Amounts::default(),
    });
    if bucket.span.0 < span.0 {
        *bucket = Bucket {
            span,
            amounts: Amounts::default(),
        };
    }
    bucket
}

/// Of the checks that would refuse `requests` more requests, the one whose
/// window frees last. A requests limit takes them all; a token or cost
/// limit is counted when answers end, so it refuses only once full.
fn first_to_refuse(
    buckets: &mut HashMap<BucketKey, Bucket>,
    checks: &[Check],
    requests: i64,
) -> Option<usize> {
    let mut full: Option<usize> = None;
    for (i, check) in checks.iter().enumerate() {
        let used = in_window(buckets, check.bucket, check.span)
            .amounts
            .of(check.limit.metric);
        let refuses = match check.limit.metric {
            Metric::Requests => used + requests > check.limit.max,
            Metric::Tokens | Metric::CostUsd => used >= check.limit.max,
        };
        if refuses && full.is_none_or(|f| checks[f].span.1 < check.span.1) {
            full = Some(i);
        }
    }
    full
}

impl Counters for MemoryCounters {
    fn admit(&self, checks: &[Check], now: i64) -> Result<Charges, usize> {
        let mut buckets = self.lock();
        if self.admissions.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            buckets.retain(|_, b| b.span.1 > now);
        }
        if let Some(full) = first_to_refuse(&mut buckets, checks, 1) {
            return Err(full);
        }
        let mut charges = Charges(Vec::with_capacity(checks.len()));
        for check in checks {
            // Two limits may share a counter (requests and tokens a day):
            // the request is one.
            if !charges.0.contains(check.bucket) {
                if let Some(bucket) = buckets.get_mut(check.bucket) {
                    bucket.amounts.requests += 1;
                }
                charges.0.push(check.bucket.clone());
            }
        }
        Ok(charges)
    }

    fn room_for(&self, checks: &[Check], requests: i64) -> Result<(), usize> {
        match first_to_refuse(&mut self.lock(), checks, requests) {
            Some(full) => Err(full),
            None => Ok(()),
        }
    }

    fn add_usage(&self, charges: &Charges, tokens: i64, cost: Micros) {
        if charges.0.is_empty() {
            return;
        }
        let mut buckets = self.lock();
        for key in &charges.0 {
            // The window may have turned since: the usage ended now, and
            // counts where it ended, as it is recorded.
            if let Some(bucket) = buckets.get_mut(key) {
                bucket.amounts.tokens += tokens;
                bucket.amounts.cost += cost.0;
            }
        }
    }

    fn current(&self, bucket: &BucketKey, span: Span) -> Amounts {
        self.lock()
            .get(bucket)
            .filter(|b| b.span.0 >= span.0)
            .map(|b| b.amounts)
            .unwrap_or_default()
    }

    fn seed(&self, seeds: Vec<(BucketKey, Span, Amounts)>) {
        let mut buckets = self.lock();
        for (key, span, amounts) in seeds {
            buckets.insert(key, Bucket { span, amounts });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Per;

    fn key(scope: Scope, window: Window) -> BucketKey {
        BucketKey {
            scope,
            window,
            whose: Whose::Group,
        }
    }

    fn limit(metric: Metric, window: Window, max: i64) -> Limit {
        Limit {
            metric,
            window,
            max,
            per: Per::Group,
        }
    }

    #[test]
    fn requests_are_counted_once_per_counter_and_refused_at_the_limit() {
        let counters = MemoryCounters::default();
        let day = key(Scope::Everyone, Window::Day);
        let checks = [
            Check {
                bucket: &day,
                span: (0, 100),
                limit: limit(Metric::Requests, Window::Day, 2),
            },
            Check {
                bucket: &day,
                span: (0, 100),
                limit: limit(Metric::Tokens, Window::Day, 1000),
            },
        ];
        assert!(counters.admit(&checks, 1).is_ok());
        assert!(counters.admit(&checks, 2).is_ok());
        assert_eq!(counters.admit(&checks, 3).unwrap_err(), 0);
        assert_eq!(counters.current(&day, (0, 100)).requests, 2);
        // The next window starts from zero.
        let next = [Check {
            span: (100, 200),
            ..checks[0].clone()
        }];
        assert!(counters.admit(&next, 101).is_ok());
        assert_eq!(counters.current(&day, (100, 200)).requests, 1);
    }

    #[test]
    fn usage_counts_once_the_answer_ends_and_the_latest_reset_is_named() {
        let counters = MemoryCounters::default();
        let minute = key(Scope::Everyone, Window::Minute);
        let month = key(Scope::Tag("staff".into()), Window::Month);
        let checks = [
            Check {
                bucket: &minute,
                span: (0, 60),
                limit: limit(Metric::CostUsd, Window::Minute, 10),
            },
            Check {
                bucket: &month,
                span: (0, 3000),
                limit: limit(Metric::CostUsd, Window::Month, 10),
            },
        ];
        let first = counters.admit(&checks, 1).unwrap();
        // In flight: a cost limit is not reached until the answer ends.
        let second = counters.admit(&checks, 1).unwrap();
        counters.add_usage(&first, 50, Micros(6));
        counters.add_usage(&second, 50, Micros(6));
        assert_eq!(counters.current(&month, (0, 3000)).cost, 12);
        assert_eq!(counters.admit(&checks, 2).unwrap_err(), 1);
    }
}
