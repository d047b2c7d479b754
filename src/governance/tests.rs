//! Scenario tables for the governor on a temporary database with a clock
//! of its own: windows turning (minute, hour, day, week, month; UTC and
//! Europe/Paris across a change of summer time), each metric, members and
//! pools, every limit that applies, restarts and reloads that rebuild the
//! counters from what was recorded; and how scopes combine, with the
//! message each refusal gives.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};

use tempfile::TempDir;

use super::*;
use crate::db::chat_logs::{ChatStatus, NewChatLog};
use crate::db::usage::Recorded;
use crate::db::{api_keys, policies, settings, users};
use crate::domain::{
    ApiKey, Email, InstanceTimeZone, KeyScope, Metric, Per, Policy, Tags, Window,
};

/// Milliseconds since the epoch of an RFC 3339 instant.
fn ms(iso: &str) -> i64 {
    iso.parse::<jiff::Timestamp>()
        .unwrap_or_else(|e| panic!("{iso}: {e}"))
        .as_millisecond()
}

fn iso(ms: i64) -> String {
    Timestamp(ms).to_iso()
}

fn limit(metric: Metric, window: Window, max: i64, per: Per) -> Limit {
    Limit {
        metric,
        window,
        max,
        per,
    }
}

fn patterns(names: &[&str]) -> Option<Vec<ModelPattern>> {
    Some(
        names
            .iter()
            .map(|n| ModelPattern::parse("models", n).unwrap())
            .collect(),
    )
}

fn limits(limits: &[Limit]) -> Policy {
    Policy {
        limits: limits.to_vec(),
        ..Policy::default()
    }
}

/// The refusal, or `None` when `admitted` let the request through (its
/// admission dropped: it adds no usage).
fn refusal(admitted: Result<Admission, Refusal>) -> Option<Refusal> {
    admitted.err()
}

/// A governor on a database of its own, with a clock the test sets.
struct Instance {
    db: Db,
    now: Arc<AtomicI64>,
    governor: Governor,
    _dir: TempDir,
}

impl Instance {
    fn at(now: &str) -> Instance {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("governance.db")).unwrap();
        let now = Arc::new(AtomicI64::new(ms(now)));
        let governor = Governor::start(&db, clock(&now)).unwrap();
        Instance {
            db,
            now,
            governor,
            _dir: dir,
        }
    }

    fn set_clock(&self, millis: i64) {
        self.now.store(millis, Ordering::SeqCst);
    }

    fn now(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }

    /// A new governor on the same database, as after a restart.
    fn restart(&mut self) {
        self.governor = Governor::start(&self.db, clock(&self.now)).unwrap();
    }

    fn user(&self, email: &str, tags: &[&str]) -> Member {
        let email = Email::parse(email).unwrap();
        let tags = Tags::parse(tags).unwrap();
        let user = self
            .db
            .write_blocking(|tx| users::insert(tx, &email, &tags))
            .unwrap();
        Member {
            id: user.id,
            tags: user.tags.as_slice().to_vec(),
        }
    }

    fn key(&self) -> ApiKeyId {
        self.db
            .write_blocking(|tx| api_keys::insert(tx, "k", &ApiKey::generate(), KeyScope::Chat))
            .unwrap()
            .id
    }

    /// Stores `policy` for `scope` and reloads, as the API does.
    fn policy(&self, scope: Scope, policy: Policy) {
        self.db
            .write_blocking(|tx| policies::put(tx, &scope, &policy))
            .unwrap();
        self.governor.reload_blocking().unwrap();
    }

    fn timezone(&self, name: &str) {
        self.db
            .write_blocking(|tx| settings::set(tx, settings::TIMEZONE, name))
            .unwrap();
        self.governor.reload_blocking().unwrap();
    }

    fn record(&self, batch: Vec<Recorded>) {
        self.db
            .write_blocking(|tx| crate::db::usage::record(tx, &batch))
            .unwrap();
    }

    /// Admits a request for `gpt-4o` and lets it end with `tokens` and
    /// `cost` micro-dollars; the refusal when there is one.
    fn chat(&self, who: &Subject, tokens: i64, cost: i64) -> Option<Refusal> {
        match self.governor.admit(who, "gpt-4o", None) {
            Ok(admission) => {
                admission.finish(tokens, Micros(cost));
                None
            }
            Err(refusal) => Some(refusal),
        }
    }

    /// How many of `tries` requests are admitted (each ended with no
    /// usage).
    fn admitted(&self, who: &Subject, tries: usize) -> usize {
        (0..tries).filter(|_| self.chat(who, 0, 0).is_none()).count()
    }

    /// Where `who`'s limits stand: (scope, used) for each, in order.
    fn used(&self, who: &Subject) -> Vec<(String, i64)> {
        self.governor
            .effective(who)
            .limits
            .iter()
            .map(|l| (l.scope.to_string(), l.used))
            .collect()
    }
}

fn clock(now: &Arc<AtomicI64>) -> Clock {
    let now = now.clone();
    Arc::new(move || now.load(Ordering::SeqCst))
}

fn as_user(member: &Member) -> Subject {
    Subject {
        user: Some(member.clone()),
        key: None,
    }
}

fn nobody() -> Subject {
    Subject::default()
}

/// A completion as the gateway records it: `tokens` all input, `cost`
/// micro-dollars.
fn chat_log(
    chat_id: &str,
    at: i64,
    user: Option<&Member>,
    key: Option<ApiKeyId>,
    tokens: i64,
    cost: i64,
) -> NewChatLog {
    NewChatLog {
        chat_id: chat_id.to_owned(),
        chat_title: String::new(),
        recorded_at: Timestamp(at),
        conversation_text: String::new(),
        model: Some("gpt-4o".to_owned()),
        provider: Some("openai".to_owned()),
        character_id: None,
        user_id: user.map(|m| m.id),
        api_key_id: key,
        prompt_tokens: Some(tokens),
        completion_tokens: Some(0),
        cache_read_tokens: 0,
        cache_write_tokens: 0,
        cost: Some(Micros(cost)),
        usage_estimated: false,
        status: ChatStatus::Ok,
        error_message: None,
        latency_ms: Some(10),
        ttft_ms: None,
    }
}

fn kept(log: NewChatLog) -> Recorded {
    Recorded::Chat {
        log,
        keep_log: true,
    }
}

#[test]
fn each_window_ends_where_its_calendar_says_and_counts_again_from_zero_then() {
    // (time zone, window, now, the window's start and end). 2026-03-29 is
    // a Sunday, the day Paris moves to summer time (a day of 23 hours);
    // 2026-10-25 the day it moves back (25 hours).
    let cases = [
        ("UTC", Window::Minute, "2026-03-29T12:34:56.789Z", "2026-03-29T12:34:00Z", "2026-03-29T12:35:00Z"),
        // On the second: the window frees in exactly 60 s.
        ("UTC", Window::Minute, "2026-03-29T12:34:00Z", "2026-03-29T12:34:00Z", "2026-03-29T12:35:00Z"),
        ("UTC", Window::Hour, "2026-03-29T12:34:56.789Z", "2026-03-29T12:00:00Z", "2026-03-29T13:00:00Z"),
        // Minutes and hours are fixed windows, whatever the zone.
        ("Europe/Paris", Window::Hour, "2026-03-29T01:30:00Z", "2026-03-29T01:00:00Z", "2026-03-29T02:00:00Z"),
        ("UTC", Window::Day, "2026-03-29T12:34:56.789Z", "2026-03-29T00:00:00Z", "2026-03-30T00:00:00Z"),
        ("Europe/Paris", Window::Day, "2026-03-29T12:34:56.789Z", "2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z"),
        ("Europe/Paris", Window::Day, "2026-10-25T12:00:00Z", "2026-10-24T22:00:00Z", "2026-10-25T23:00:00Z"),
        // Sunday 23:30 in UTC is Monday already in Paris.
        ("Europe/Paris", Window::Day, "2026-03-29T22:30:00Z", "2026-03-29T22:00:00Z", "2026-03-30T22:00:00Z"),
        ("UTC", Window::Week, "2026-03-29T12:34:56.789Z", "2026-03-23T00:00:00Z", "2026-03-30T00:00:00Z"),
        ("UTC", Window::Week, "2026-03-30T00:00:00Z", "2026-03-30T00:00:00Z", "2026-04-06T00:00:00Z"),
        ("Europe/Paris", Window::Week, "2026-03-29T12:00:00Z", "2026-03-22T23:00:00Z", "2026-03-29T22:00:00Z"),
        ("UTC", Window::Month, "2026-02-15T08:00:00Z", "2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"),
        ("UTC", Window::Month, "2026-12-31T23:59:59.999Z", "2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z"),
        ("Europe/Paris", Window::Month, "2026-03-15T08:00:00Z", "2026-02-28T23:00:00Z", "2026-03-31T22:00:00Z"),
    ];
    for (zone, window, now, start, end) in cases {
        let case = format!("{zone} {window} at {now}");
        let (now, start, end) = (ms(now), ms(start), ms(end));
        let gov = Instance::at("2026-01-01T00:00:00Z");
        gov.timezone(zone);
        gov.policy(
            Scope::Everyone,
            limits(&[limit(Metric::Requests, window, 2, Per::Group)]),
        );
        // A request just before the window does not count in it.
        gov.set_clock(start - 1);
        assert_eq!(gov.admitted(&nobody(), 1), 1, "{case}");
        gov.set_clock(now);
        assert_eq!(gov.admitted(&nobody(), 3), 2, "{case}");
        let status = &gov.governor.effective(&nobody()).limits[0];
        assert_eq!(
            (iso(status.window_start.0), iso(status.resets_at.0), status.used),
            (iso(start), iso(end), 2),
            "{case}"
        );
        let every = match window {
            Window::Hour => "an hour",
            _ => &format!("a {window}"),
        };
        let expected = Refusal::Limited {
            message: format!(
                "limit reached: everyone allows 2 requests {every} for the group; it resets at {}",
                iso(end)
            ),
            // Whole seconds until the window frees, rounded up.
            retry_after: u64::try_from((end - now + 999) / 1000).unwrap(),
            resets_at: Timestamp(end),
        };
        assert_eq!(gov.chat(&nobody(), 0, 0), Some(expected), "{case}");
        gov.set_clock(end - 1);
        match gov.chat(&nobody(), 0, 0) {
            Some(Refusal::Limited { retry_after, .. }) => assert_eq!(retry_after, 1, "{case}"),
            other => panic!("{case}: {other:?}"),
        }
        gov.set_clock(end);
        assert_eq!(gov.admitted(&nobody(), 3), 2, "{case}: the next window");
    }
}

