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
use crate::domain::{ApiKey, Email, InstanceTimeZone, KeyScope, Metric, Per, Policy, Tags, Window};

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
        (0..tries)
            .filter(|_| self.chat(who, 0, 0).is_none())
            .count()
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
        session: false,
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
        (
            "UTC",
            Window::Minute,
            "2026-03-29T12:34:56.789Z",
            "2026-03-29T12:34:00Z",
            "2026-03-29T12:35:00Z",
        ),
        // On the second: the window frees in exactly 60 s.
        (
            "UTC",
            Window::Minute,
            "2026-03-29T12:34:00Z",
            "2026-03-29T12:34:00Z",
            "2026-03-29T12:35:00Z",
        ),
        (
            "UTC",
            Window::Hour,
            "2026-03-29T12:34:56.789Z",
            "2026-03-29T12:00:00Z",
            "2026-03-29T13:00:00Z",
        ),
        // Minutes and hours are fixed windows, whatever the zone.
        (
            "Europe/Paris",
            Window::Hour,
            "2026-03-29T01:30:00Z",
            "2026-03-29T01:00:00Z",
            "2026-03-29T02:00:00Z",
        ),
        (
            "UTC",
            Window::Day,
            "2026-03-29T12:34:56.789Z",
            "2026-03-29T00:00:00Z",
            "2026-03-30T00:00:00Z",
        ),
        (
            "Europe/Paris",
            Window::Day,
            "2026-03-29T12:34:56.789Z",
            "2026-03-28T23:00:00Z",
            "2026-03-29T22:00:00Z",
        ),
        (
            "Europe/Paris",
            Window::Day,
            "2026-10-25T12:00:00Z",
            "2026-10-24T22:00:00Z",
            "2026-10-25T23:00:00Z",
        ),
        // Sunday 23:30 in UTC is Monday already in Paris.
        (
            "Europe/Paris",
            Window::Day,
            "2026-03-29T22:30:00Z",
            "2026-03-29T22:00:00Z",
            "2026-03-30T22:00:00Z",
        ),
        (
            "UTC",
            Window::Week,
            "2026-03-29T12:34:56.789Z",
            "2026-03-23T00:00:00Z",
            "2026-03-30T00:00:00Z",
        ),
        (
            "UTC",
            Window::Week,
            "2026-03-30T00:00:00Z",
            "2026-03-30T00:00:00Z",
            "2026-04-06T00:00:00Z",
        ),
        (
            "Europe/Paris",
            Window::Week,
            "2026-03-29T12:00:00Z",
            "2026-03-22T23:00:00Z",
            "2026-03-29T22:00:00Z",
        ),
        (
            "UTC",
            Window::Month,
            "2026-02-15T08:00:00Z",
            "2026-02-01T00:00:00Z",
            "2026-03-01T00:00:00Z",
        ),
        (
            "UTC",
            Window::Month,
            "2026-12-31T23:59:59.999Z",
            "2026-12-01T00:00:00Z",
            "2027-01-01T00:00:00Z",
        ),
        (
            "Europe/Paris",
            Window::Month,
            "2026-03-15T08:00:00Z",
            "2026-02-28T23:00:00Z",
            "2026-03-31T22:00:00Z",
        ),
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
            (
                iso(status.window_start.0),
                iso(status.resets_at.0),
                status.used
            ),
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

#[test]
fn each_metric_counts_what_it_says_and_tokens_and_cost_once_the_answer_ends() {
    // (limit, each answer's tokens and micro-dollars, answers admitted in
    // turn before the refusal, the limit as the refusal words it)
    let cases = [
        (
            Metric::Requests,
            3,
            (500, 900_000),
            3,
            "3 requests a day per member",
        ),
        (Metric::Requests, 1, (0, 0), 1, "1 request a day per member"),
        (
            Metric::Tokens,
            100,
            (40, 0),
            3,
            "100 tokens a day per member",
        ),
        (Metric::Tokens, 1, (1, 0), 1, "1 token a day per member"),
        (
            Metric::CostUsd,
            10_000,
            (0, 4_000),
            3,
            "$0.01 a day per member",
        ),
        // Nothing allowed: the first is refused.
        (Metric::CostUsd, 0, (0, 0), 0, "$0.00 a day per member"),
    ];
    for (metric, max, (tokens, cost), admitted, words) in cases {
        let case = words;
        let gov = Instance::at("2026-03-29T12:00:00Z");
        let alice = gov.user("alice@example.com", &["staff"]);
        gov.policy(
            Scope::Tag("staff".into()),
            limits(&[limit(metric, Window::Day, max, Per::Member)]),
        );
        let who = as_user(&alice);
        let mut count: i64 = 0;
        let refused = loop {
            match gov.chat(&who, tokens, cost) {
                None => count += 1,
                Some(refusal) => break refusal,
            }
            assert!(count <= 10, "{case}: never refused");
        };
        assert_eq!(count, admitted, "{case}");
        assert!(
            refused.message().starts_with(&format!(
                "limit reached: tag staff allows {words}; it resets at 2026-03-30T00:00:00.000Z"
            )),
            "{case}: {refused:?}"
        );
        let used = gov.governor.effective(&who).limits[0].used;
        let expected = match metric {
            Metric::Requests => admitted,
            Metric::Tokens => tokens * admitted,
            Metric::CostUsd => cost * admitted,
        };
        assert_eq!(used, expected, "{case}: a refusal counts nothing");
    }
}

#[test]
fn requests_in_flight_may_overshoot_a_token_or_cost_limit_and_by_no_more() {
    let gov = Instance::at("2026-03-29T12:00:00Z");
    gov.policy(
        Scope::Everyone,
        limits(&[
            limit(Metric::Tokens, Window::Day, 100, Per::Group),
            limit(Metric::CostUsd, Window::Day, 1_000_000, Per::Group),
        ]),
    );
    let who = nobody();
    // Five at once: no answer has ended, so none has used anything yet.
    let in_flight: Vec<Admission> = (0..5)
        .map(|_| gov.governor.admit(&who, "gpt-4o", None).ok().unwrap())
        .collect();
    for admission in in_flight {
        admission.finish(40, Micros(10));
    }
    assert_eq!(
        gov.used(&who),
        [("everyone".to_owned(), 200), ("everyone".to_owned(), 50)]
    );
    assert!(matches!(
        gov.chat(&who, 0, 0),
        Some(Refusal::Limited { .. })
    ));
    // One dropped unfinished (its client went away before the answer
    // ended, and nothing recorded it) adds nothing.
    let gov = Instance::at("2026-03-29T12:00:00Z");
    gov.policy(
        Scope::Everyone,
        limits(&[limit(Metric::Tokens, Window::Day, 100, Per::Group)]),
    );
    drop(gov.governor.admit(&who, "gpt-4o", None));
    assert_eq!(gov.used(&who), [("everyone".to_owned(), 0)]);
}

#[test]
fn several_answers_are_let_through_together_or_not_at_all() {
    // (the limits of everyone, requests admitted before, answers asked
    // for at once, the limit that refuses them as its refusal words it)
    let requests = |window, max| limit(Metric::Requests, window, max, Per::Group);
    let cases = [
        (vec![requests(Window::Day, 3)], 0, 3, None),
        (
            vec![requests(Window::Day, 3)],
            0,
            4,
            Some("3 requests a day for the group"),
        ),
        (
            vec![requests(Window::Day, 3)],
            2,
            2,
            Some("3 requests a day for the group"),
        ),
        (vec![requests(Window::Day, 3)], 2, 1, None),
        // Tokens count when answers end: room for every answer until full.
        (
            vec![limit(Metric::Tokens, Window::Day, 1, Per::Group)],
            0,
            128,
            None,
        ),
        // Of two limits short of room, the one that frees last is named.
        (
            vec![requests(Window::Minute, 2), requests(Window::Day, 10)],
            0,
            3,
            Some("2 requests a minute for the group"),
        ),
        (
            vec![requests(Window::Minute, 2), requests(Window::Day, 10)],
            0,
            11,
            Some("10 requests a day for the group"),
        ),
        (vec![], 0, 128, None),
    ];
    for (policy, before, count, refused_by) in cases {
        let case = format!("{policy:?}, {before} before, {count} at once");
        let gov = Instance::at("2026-03-29T12:00:10Z");
        let who = nobody();
        if !policy.is_empty() {
            gov.policy(Scope::Everyone, limits(&policy));
        }
        assert_eq!(gov.admitted(&who, before), before, "{case}");
        let used = gov.used(&who);
        let checked = gov.governor.admits_all(&who, "gpt-4o", None, count);
        match refused_by {
            None => assert_eq!(checked, Ok(()), "{case}"),
            Some(words) => {
                let refused = checked.expect_err(&case);
                assert!(
                    refused
                        .message()
                        .starts_with(&format!("limit reached: everyone allows {words};")),
                    "{case}: {refused:?}"
                );
                assert!(matches!(refused, Refusal::Limited { .. }), "{case}");
            }
        }
        assert_eq!(gov.used(&who), used, "{case}: the check counts nothing");
    }
    // What admission checks first refuses them too.
    let gov = Instance::at("2026-03-29T12:00:00Z");
    gov.policy(Scope::Everyone, models(&["echo"]));
    assert!(matches!(
        gov.governor.admits_all(&nobody(), "gpt-4o", None, 2),
        Err(Refusal::NotOpen { field: "model", .. })
    ));
}

#[test]
fn a_member_limit_is_each_users_own_and_a_group_limit_one_pool() {
    // (scope, per, admitted for alice then bob then alice again, of 3 tries each)
    let cases = [
        (Scope::Tag("staff".into()), Per::Member, [2, 2, 0]),
        (Scope::Tag("staff".into()), Per::Group, [2, 0, 0]),
        (Scope::Everyone, Per::Member, [2, 2, 0]),
        (Scope::Everyone, Per::Group, [2, 0, 0]),
    ];
    for (scope, per, expected) in cases {
        let case = format!("{scope} {per}");
        let gov = Instance::at("2026-03-29T12:00:00Z");
        let alice = as_user(&gov.user("alice@example.com", &["staff"]));
        let bob = as_user(&gov.user("bob@example.com", &["staff", "interns"]));
        gov.policy(
            scope.clone(),
            limits(&[limit(Metric::Requests, Window::Day, 2, per)]),
        );
        let got = [
            gov.admitted(&alice, 3),
            gov.admitted(&bob, 3),
            gov.admitted(&alice, 3),
        ];
        assert_eq!(got, expected, "{case}");
        let whose = match per {
            Per::Member => "per member",
            Per::Group => "for the group",
        };
        let refusal = gov.chat(&bob, 0, 0).expect("refused");
        assert!(
            refusal.message().starts_with(&format!(
                "limit reached: {} allows 2 requests a day {whose}",
                scope.describe()
            )),
            "{case}: {refusal:?}"
        );
    }
    // A user's own limit is theirs alone, however it is written; requests
    // that name no user share one allowance of a member limit.
    let gov = Instance::at("2026-03-29T12:00:00Z");
    let alice = gov.user("alice@example.com", &[]);
    gov.policy(
        Scope::User(alice.id),
        limits(&[limit(Metric::Requests, Window::Day, 1, Per::Group)]),
    );
    gov.policy(
        Scope::Everyone,
        limits(&[limit(Metric::Requests, Window::Day, 2, Per::Member)]),
    );
    assert_eq!(gov.admitted(&as_user(&alice), 3), 1);
    assert_eq!(gov.admitted(&nobody(), 3), 2);
    assert_eq!(gov.admitted(&nobody(), 3), 0);
}

#[test]
fn every_limit_that_applies_must_pass_and_the_one_that_frees_last_is_named() {
    let gov = Instance::at("2026-03-29T12:00:10Z");
    let alice = gov.user("alice@example.com", &["staff", "interns"]);
    let key = gov.key();
    let day = |max| limits(&[limit(Metric::Requests, Window::Day, max, Per::Member)]);
    gov.policy(Scope::Everyone, day(10));
    gov.policy(Scope::Tag("staff".into()), day(9));
    gov.policy(Scope::Tag("interns".into()), day(3));
    gov.policy(Scope::Key(key), day(8));
    gov.policy(
        Scope::User(alice.id),
        limits(&[limit(Metric::Requests, Window::Minute, 1, Per::Member)]),
    );
    let who = Subject {
        user: Some(alice.clone()),
        key: Some(key),
    };
    // The user's 1 a minute: refused until the minute turns.
    assert_eq!(gov.admitted(&who, 3), 1);
    let refused = gov.chat(&who, 0, 0).unwrap();
    assert_eq!(
        refused.message(),
        format!(
            "limit reached: user {} allows 1 request a minute per member; it resets at 2026-03-29T12:01:00.000Z",
            alice.id
        )
    );
    gov.set_clock(ms("2026-03-29T12:01:00Z"));
    assert_eq!(gov.admitted(&who, 3), 1);
    // The third reaches the interns' 3 a day: with the minute full too,
    // the day frees last and is named.
    gov.set_clock(ms("2026-03-29T12:02:00Z"));
    assert_eq!(gov.admitted(&who, 3), 1);
    let refused = gov.chat(&who, 0, 0).unwrap();
    assert_eq!(
        refused.message(),
        "limit reached: tag interns allows 3 requests a day per member; it resets at 2026-03-30T00:00:00.000Z"
    );
    gov.set_clock(ms("2026-03-29T12:03:00.500Z"));
    assert!(matches!(
        gov.chat(&who, 0, 0),
        Some(Refusal::Limited { retry_after, .. }) if retry_after == 12 * 3600 - 180
    ));
    // Every counter counted the three admitted, none the refused.
    let user = format!("user:{}", alice.id);
    let key = format!("key:{key}");
    let mut used = gov.used(&who);
    used.sort();
    assert_eq!(
        used,
        [
            ("everyone".to_owned(), 3),
            (key, 3),
            ("tag:interns".to_owned(), 3),
            ("tag:staff".to_owned(), 3),
            (user, 0),
        ]
    );
}

#[test]
fn a_restart_rebuilds_each_counter_of_the_current_windows_from_the_record() {
    let mut gov = Instance::at("2026-03-29T12:30:00Z");
    let alice = gov.user("alice@example.com", &["staff"]);
    let bob = gov.user("bob@example.com", &["staff"]);
    let carol = gov.user("carol@example.com", &[]);
    let key = gov.key();
    let at = ms;
    gov.record(vec![
        // This UTC day: whole in the rollups, and in the chat logs.
        kept(chat_log(
            "a1",
            at("2026-03-29T12:10:00Z"),
            Some(&alice),
            Some(key),
            100,
            1_000,
        )),
        kept(chat_log(
            "a2",
            at("2026-03-29T11:59:00Z"),
            Some(&alice),
            None,
            10,
            100,
        )),
        // Not kept as a chat log (chats not recorded): in the rollups only.
        Recorded::Chat {
            log: chat_log("a3", at("2026-03-29T01:00:00Z"), Some(&alice), None, 1, 10),
            keep_log: false,
        },
        kept(chat_log(
            "b1",
            at("2026-03-29T12:20:00Z"),
            Some(&bob),
            Some(key),
            1_000,
            10_000,
        )),
        // Last night in UTC, this morning in Paris.
        kept(chat_log(
            "a4",
            at("2026-03-28T23:30:00Z"),
            Some(&alice),
            None,
            10_000,
            100_000,
        )),
        // Earlier this week, and this month.
        kept(chat_log(
            "c1",
            at("2026-03-23T08:00:00Z"),
            Some(&carol),
            None,
            7,
            70,
        )),
        kept(chat_log(
            "c2",
            at("2026-03-02T08:00:00Z"),
            Some(&carol),
            None,
            7,
            70,
        )),
        // Last week's Sunday, last month.
        kept(chat_log(
            "c3",
            at("2026-03-22T23:00:00Z"),
            Some(&carol),
            None,
            7,
            70,
        )),
        kept(chat_log(
            "c4",
            at("2026-02-28T23:00:00Z"),
            Some(&carol),
            None,
            7,
            70,
        )),
        // A refusal is counted apart: not a request.
        Recorded::Refused {
            at: Timestamp(at("2026-03-29T12:25:00Z")),
            user_id: Some(alice.id),
            api_key_id: Some(key),
            model: "gpt-4o".into(),
        },
    ]);
    // (time zone, scope, limit, whose counter, used after the restart)
    let (staff, everyone) = (Scope::Tag("staff".into()), Scope::Everyone);
    let (each, pool) = (Per::Member, Per::Group);
    let requests = |window, per| limit(Metric::Requests, window, 1000, per);
    let tokens = limit(Metric::Tokens, Window::Day, 1000, each);
    let cost = |per| limit(Metric::CostUsd, Window::Day, 1000, per);
    let (alice_only, keyed) = (Scope::User(alice.id), Scope::Key(key));
    let paris = "Europe/Paris";
    let cases = [
        ("UTC", &staff, requests(Window::Day, each), &alice, 3),
        ("UTC", &staff, requests(Window::Day, each), &bob, 1),
        ("UTC", &staff, requests(Window::Day, pool), &alice, 4),
        ("UTC", &staff, requests(Window::Hour, each), &alice, 1),
        ("UTC", &staff, requests(Window::Minute, pool), &alice, 0),
        ("UTC", &alice_only, tokens, &alice, 111),
        ("UTC", &keyed, cost(pool), &alice, 11_000),
        ("UTC", &keyed, cost(each), &alice, 1_000),
        ("UTC", &everyone, requests(Window::Day, pool), &carol, 4),
        ("UTC", &everyone, requests(Window::Week, each), &carol, 1),
        ("UTC", &everyone, requests(Window::Month, each), &carol, 3),
        ("UTC", &everyone, requests(Window::Month, pool), &carol, 8),
        (paris, &staff, requests(Window::Day, each), &alice, 4),
        (paris, &everyone, requests(Window::Week, each), &carol, 2),
    ];
    for (zone, scope, limit, member, used) in cases {
        let case = format!("{zone} {scope} {limit:?}");
        gov.db
            .write_blocking(|tx| {
                tx.execute("DELETE FROM policies", [])?;
                settings::set(tx, settings::TIMEZONE, zone)?;
                policies::put(tx, scope, &limits(&[limit]))
            })
            .unwrap();
        gov.restart();
        let who = Subject {
            user: Some(member.clone()),
            key: Some(key),
        };
        assert_eq!(gov.used(&who), [(scope.to_string(), used)], "{case}");
    }
}

#[test]
fn a_restart_keeps_a_spent_allowance_spent() {
    let mut gov = Instance::at("2026-03-29T12:30:00Z");
    let intern = gov.user("intern@example.com", &["interns"]);
    gov.policy(
        Scope::Tag("interns".into()),
        limits(&[limit(Metric::Requests, Window::Day, 5, Per::Member)]),
    );
    let who = as_user(&intern);
    assert_eq!(gov.admitted(&who, 3), 3);
    // What the gateway's writer records of those three.
    let now = gov.now();
    gov.record(
        (0..3)
            .map(|i| kept(chat_log(&format!("c{i}"), now, Some(&intern), None, 10, 0)))
            .collect(),
    );
    gov.restart();
    assert_eq!(gov.admitted(&who, 5), 2);
}

#[test]
fn a_restart_counts_each_completion_of_a_continued_chat_in_its_own_slot() {
    // Five completions of one chat in an hour are one chat log row, whose
    // time is the last one's; the usage slots keep each.
    let cases = [
        ("UTC", Window::Hour, 6),
        ("UTC", Window::Minute, 2),
        // The day began at 23:00 UTC the day before: a partial UTC day.
        ("Europe/Paris", Window::Day, 8),
    ];
    for (zone, window, expected) in cases {
        let mut gov = Instance::at("2026-03-29T12:50:30Z");
        gov.timezone(zone);
        let ann = gov.user("ann@example.com", &[]);
        gov.policy(
            Scope::User(ann.id),
            limits(&[limit(Metric::Requests, window, 100, Per::Member)]),
        );
        let at = |iso: &str| kept(chat_log("one-chat", ms(iso), Some(&ann), None, 10, 0));
        gov.record(vec![
            at("2026-03-28T22:59:59Z"),
            at("2026-03-28T23:30:00Z"),
            at("2026-03-28T23:59:00Z"),
            at("2026-03-29T12:10:00Z"),
            at("2026-03-29T12:20:00Z"),
            at("2026-03-29T12:30:00Z"),
            at("2026-03-29T12:49:59Z"),
            at("2026-03-29T12:50:00Z"),
            at("2026-03-29T12:50:20Z"),
        ]);
        gov.restart();
        let who = as_user(&ann);
        assert_eq!(
            gov.used(&who),
            [(format!("user:{}", ann.id), expected)],
            "{zone} {window}"
        );
    }
}

#[test]
fn old_usage_slots_are_pruned_and_the_rollups_stay() {
    let gov = Instance::at("2026-03-29T12:00:00Z");
    let at = |iso: &str| kept(chat_log(iso, ms(iso), None, None, 1, 0));
    gov.record(vec![
        at("2026-03-29T10:58:00Z"),
        at("2026-03-29T11:59:00Z"),
        at("2026-02-25T00:00:00Z"),
    ]);
    let count = |sql: &str| -> i64 {
        gov.db
            .read_blocking(|conn| {
                Ok::<i64, crate::db::StoreError>(conn.query_row(sql, [], |row| row.get(0))?)
            })
            .unwrap()
    };
    assert_eq!(count("SELECT COUNT(*) FROM usage_slots"), 6);
    let pruned = gov
        .db
        .write_blocking(|tx| {
            crate::db::usage::prune_slots(tx, Timestamp(ms("2026-03-29T12:00:00Z")))
        })
        .unwrap();
    // The minutes more than an hour old (10:58's and February's) and the
    // quarter more than 32 days old.
    assert_eq!(pruned, 3);
    assert_eq!(count("SELECT SUM(requests) FROM usage_rollups"), 3);
}

#[test]
fn a_reload_seeds_new_limits_from_the_record_and_keeps_counting_the_others() {
    let gov = Instance::at("2026-03-29T12:30:00Z");
    let alice = gov.user("alice@example.com", &["staff"]);
    let who = as_user(&alice);
    gov.record(vec![kept(chat_log(
        "earlier",
        ms("2026-03-29T08:00:00Z"),
        Some(&alice),
        None,
        0,
        0,
    ))]);
    let day = |max| limits(&[limit(Metric::Requests, Window::Day, max, Per::Member)]);
    // A limit set now counts what was used before it in its window.
    gov.policy(Scope::Tag("staff".into()), day(3));
    assert_eq!(gov.used(&who), [("tag:staff".to_owned(), 1)]);
    // Two more, one still in flight (not recorded yet).
    assert_eq!(gov.admitted(&who, 1), 1);
    let in_flight = gov.governor.admit(&who, "gpt-4o", None).ok().unwrap();
    // Editing the limit, or another scope's policy, keeps the counter.
    gov.policy(Scope::Tag("staff".into()), day(4));
    gov.policy(
        Scope::Everyone,
        Policy {
            models: patterns(&["*"]),
            ..Policy::default()
        },
    );
    assert_eq!(gov.used(&who), [("tag:staff".to_owned(), 3)]);
    in_flight.finish(5, Micros(0));
    assert_eq!(gov.admitted(&who, 2), 1, "the edit took effect at once");
    // Removing every limit admits without counting; setting one again
    // starts from the record, which the gateway's writer keeps.
    gov.policy(Scope::Tag("staff".into()), Policy::default());
    assert_eq!(gov.admitted(&who, 5), 5);
    assert_eq!(gov.governor.effective(&who).limits.len(), 0);
    gov.policy(Scope::Tag("staff".into()), day(4));
    assert_eq!(gov.used(&who), [("tag:staff".to_owned(), 1)]);
}

#[test]
fn a_time_zone_change_rebuilds_the_calendar_counters() {
    let gov = Instance::at("2026-03-29T12:30:00Z");
    let alice = gov.user("alice@example.com", &[]);
    let who = as_user(&alice);
    gov.record(vec![kept(chat_log(
        "night",
        ms("2026-03-28T23:30:00Z"),
        Some(&alice),
        None,
        0,
        0,
    ))]);
    gov.policy(
        Scope::Everyone,
        limits(&[limit(Metric::Requests, Window::Day, 5, Per::Member)]),
    );
    assert_eq!(gov.used(&who), [("everyone".to_owned(), 0)]);
    gov.timezone("Europe/Paris");
    assert_eq!(gov.used(&who), [("everyone".to_owned(), 1)]);
    let status = &gov.governor.effective(&who).limits[0];
    assert_eq!(iso(status.resets_at.0), "2026-03-29T22:00:00.000Z");
    assert_eq!(
        gov.governor.rules().timezone(),
        &InstanceTimeZone::parse("tz", "Europe/Paris").unwrap()
    );
}

/// Policies, and what they answer for a user with some tags asking for a
/// model or character: `None` when it is open, else why not.
type Case = (
    Vec<(Scope, Policy)>,
    Vec<(&'static [&'static str], &'static str, Option<&'static str>)>,
);

/// Asks each case's rules through `refused` (which says why a name is not
/// open) about each of its probes.
fn probe(cases: Vec<Case>, refused: impl Fn(&Rules, &Subject, &str) -> Option<String>) {
    for (policies, probes) in cases {
        let rules = rules(policies.clone());
        for (tags, name, why) in probes {
            let case = format!("{policies:?} tags {tags:?}: {name}");
            assert_eq!(
                refused(&rules, &member(tags), name).as_deref(),
                why,
                "{case}"
            );
        }
    }
}

/// A rules snapshot of `policies`, in UTC.
fn rules(policies: Vec<(Scope, Policy)>) -> Rules {
    Rules::new(
        policies.into_iter().collect::<HashMap<_, _>>(),
        InstanceTimeZone::default(),
    )
}

fn models(names: &[&str]) -> Policy {
    Policy {
        models: patterns(names),
        ..Policy::default()
    }
}

fn characters(ids: &[&str]) -> Policy {
    Policy {
        characters: Some(ids.iter().map(|s| (*s).to_owned()).collect()),
        ..Policy::default()
    }
}

const USER: UserId = UserId(7);
const KEY: ApiKeyId = ApiKeyId(3);

/// User 7 with `tags`, through key 3.
fn member(tags: &[&str]) -> Subject {
    Subject {
        user: Some(Member {
            id: USER,
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        }),
        key: Some(KEY),
    }
}

fn tag(name: &str) -> Scope {
    Scope::Tag(name.to_owned())
}

#[test]
fn a_model_is_open_when_a_scope_that_applies_opens_it_and_the_key_allows_it() {
    let (mini, staff_opens) = (models(&["gpt-4o-mini"]), models(&["claude-*"]));
    let everyone_only =
        "model `gpt-4o` is not open to everyone on this instance; open: gpt-4o-mini";
    let key_only = "model `gpt-4o` is not open to this API key; open: gpt-4o-mini";
    let cases: Vec<Case> = vec![
        (vec![], vec![(&[], "gpt-4o", None)]),
        (
            vec![(tag("interns"), mini.clone())],
            vec![
                // Nothing that applies restricts models: all are open.
                (&["staff"], "gpt-4o", None),
                (&["interns"], "gpt-4o", Some("model `gpt-4o` is not open to this user's tags: interns; open: gpt-4o-mini")),
            ],
        ),
        (
            vec![(Scope::Everyone, mini.clone())],
            vec![
                (&[], "gpt-4o", Some(everyone_only)),
                (&["staff"], "gpt-4o-mini", None),
            ],
        ),
        // A tag opens what `everyone` does not.
        (
            vec![(Scope::Everyone, mini.clone()), (tag("staff"), models(&["gpt-4o"]))],
            vec![
                (&["staff"], "gpt-4o", None),
                (&["interns"], "gpt-4o", Some(everyone_only)),
            ],
        ),
        // Two tags: the union.
        (
            vec![(tag("interns"), mini.clone()), (tag("staff"), staff_opens.clone())],
            vec![
                (&["interns", "staff"], "claude-haiku-4-5", None),
                (&["interns", "staff"], "gpt-4o-mini", None),
                (&["interns", "staff"], "gpt-4o", Some("model `gpt-4o` is not open to this user's tags: interns, staff; open: gpt-4o-mini, claude-*")),
            ],
        ),
        // A tag whose policy sets only limits restricts no model.
        (
            vec![
                (tag("interns"), mini.clone()),
                (tag("staff"), limits(&[limit(Metric::Requests, Window::Day, 1, Per::Member)])),
            ],
            vec![(&["staff"], "gpt-4o", None)],
        ),
        // The user's own policy opens too.
        (
            vec![(Scope::Everyone, mini.clone()), (Scope::User(USER), models(&["gpt-4o"]))],
            vec![(&[], "gpt-4o", None)],
        ),
        (
            vec![
                (Scope::Everyone, models(&["gpt-4o-mini", "echo"])),
                (tag("interns"), models(&["echo"])),
                (Scope::User(USER), models(&["o3"])),
            ],
            vec![(&["interns"], "gpt-4o", Some("model `gpt-4o` is not open to everyone on this instance, nor to this user's tags: interns, nor to this user; open: gpt-4o-mini, echo, o3"))],
        ),
        (
            vec![(Scope::Everyone, models(&[]))],
            vec![(&[], "echo", Some("model `echo` is not open to everyone on this instance; nothing is open"))],
        ),
        // Patterns, regardless of case.
        (
            vec![(tag("staff"), models(&["GPT-4o*"]))],
            vec![(&["staff"], "gpt-4o-2024-08-06", None)],
        ),
        // The key narrows what the scopes open, and never widens it.
        (
            vec![(Scope::Key(KEY), mini.clone())],
            vec![(&[], "gpt-4o", Some(key_only))],
        ),
        (
            vec![(tag("staff"), models(&["gpt-4o*"])), (Scope::Key(KEY), mini.clone())],
            vec![
                (&["staff"], "gpt-4o", Some(key_only)),
                (&["staff"], "gpt-4o-mini", None),
            ],
        ),
        (
            vec![(Scope::Everyone, mini.clone()), (Scope::Key(KEY), models(&["gpt-4o"]))],
            vec![(&[], "gpt-4o", Some(everyone_only))],
        ),
        // Another key's policy is not this one's.
        (
            vec![(Scope::Key(ApiKeyId(4)), mini)],
            vec![(&[], "gpt-4o", None)],
        ),
    ];
    probe(cases, Rules::model_refused);
}

#[test]
fn every_name_open_is_offered_once_and_ten_at_most() {
    let rules = rules(vec![
        (Scope::Everyone, models(&["a", "b"])),
        (tag("interns"), models(&["b", "a", "c"])),
    ]);
    assert_eq!(
        rules.model_refused(&member(&["interns"]), "z").unwrap(),
        "model `z` is not open to everyone on this instance, nor to this user's tags: interns; open: a, b, c"
    );
    let many: Vec<String> = (1..=12).map(|i| format!("m{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let rules = self::rules(vec![(Scope::Everyone, models(&many))]);
    assert_eq!(
        rules.model_refused(&member(&[]), "z").unwrap(),
        "model `z` is not open to everyone on this instance; open: m1, m2, m3, m4, m5, m6, m7, m8, m9, m10 and 2 more"
    );
}

#[test]
fn characters_combine_as_models_do() {
    let writer = characters(&["writer"]);
    let cases: Vec<Case> = vec![
        (vec![], vec![(&[], "writer", None)]),
        (
            vec![(Scope::Everyone, writer.clone())],
            vec![(
                &[],
                "coder",
                Some("AI character `coder` is not open to everyone on this instance; open: writer"),
            )],
        ),
        (
            vec![
                (Scope::Everyone, writer.clone()),
                (tag("staff"), characters(&["coder"])),
            ],
            vec![(&["staff"], "coder", None)],
        ),
        (
            vec![(tag("interns"), writer.clone())],
            vec![(&["staff"], "coder", None)],
        ),
        // Ids match exactly.
        (
            vec![(tag("staff"), characters(&["Coder"]))],
            vec![(
                &["staff"],
                "coder",
                Some("AI character `coder` is not open to this user's tags: staff; open: Coder"),
            )],
        ),
        (
            vec![
                (tag("staff"), characters(&["coder", "writer"])),
                (Scope::Key(KEY), writer),
            ],
            vec![
                (
                    &["staff"],
                    "coder",
                    Some("AI character `coder` is not open to this API key; open: writer"),
                ),
                (&["staff"], "writer", None),
            ],
        ),
        // A model list says nothing of characters.
        (
            vec![(Scope::Everyone, models(&["gpt-4o"]))],
            vec![(&[], "coder", None)],
        ),
    ];
    probe(cases, Rules::character_refused);
}

#[test]
fn admission_checks_the_user_then_the_model_then_the_character() {
    let gov = Instance::at("2026-03-29T12:00:00Z");
    let alice = gov.user("alice@example.com", &["staff"]);
    let key = gov.key();
    gov.policy(
        Scope::Key(key),
        Policy {
            requires_user: true,
            models: patterns(&["gpt-4o-mini"]),
            ..Policy::default()
        },
    );
    gov.policy(Scope::Tag("staff".into()), characters(&["writer"]));
    let through_key = |user: Option<&Member>| Subject {
        user: user.cloned(),
        key: Some(key),
    };
    let user_required = Refusal::UserRequired {
        message: "this API key requires a user: name one of the instance's users in the X-User-Email header".into(),
    };
    // (who, model, character, refusal)
    let cases = [
        (through_key(None), "gpt-4o", None, Some(user_required)),
        (
            through_key(Some(&alice)),
            "gpt-4o",
            Some("coder"),
            Some(Refusal::NotOpen {
                field: "model",
                message: "model `gpt-4o` is not open to this API key; open: gpt-4o-mini".into(),
            }),
        ),
        (
            through_key(Some(&alice)),
            "gpt-4o-mini",
            Some("coder"),
            Some(Refusal::NotOpen {
                field: "activatedCharacterID",
                message:
                    "AI character `coder` is not open to this user's tags: staff; open: writer"
                        .into(),
            }),
        ),
        (
            through_key(Some(&alice)),
            "gpt-4o-mini",
            Some("writer"),
            None,
        ),
        (through_key(Some(&alice)), "gpt-4o-mini", None, None),
        // Without the key, a request that names no user goes through.
        (nobody(), "gpt-4o", Some("coder"), None),
    ];
    for (who, model, character, expected) in cases {
        let case = format!("{who:?} {model} {character:?}");
        assert_eq!(
            refusal(gov.governor.admit(&who, model, character)),
            expected,
            "{case}"
        );
    }
}

#[test]
fn effective_access_names_what_each_scope_grants_and_what_the_key_narrows() {
    let rules = rules(vec![
        (Scope::Everyone, models(&["gpt-4o-mini"])),
        (tag("staff"), models(&["claude-*"])),
        (
            tag("interns"),
            limits(&[limit(Metric::Requests, Window::Day, 5, Per::Member)]),
        ),
        (
            Scope::Key(KEY),
            models(&["claude-haiku-4-5", "gpt-4o-mini"]),
        ),
    ]);
    assert_eq!(
        rules.models(&member(&["staff", "interns"])),
        Access::Only {
            granted: vec![
                (Scope::Everyone, patterns(&["gpt-4o-mini"]).unwrap()),
                (tag("staff"), patterns(&["claude-*"]).unwrap()),
            ],
            narrowed_by: patterns(&["claude-haiku-4-5", "gpt-4o-mini"]),
        }
    );
    assert_eq!(rules.characters(&member(&["staff"])), Access::All);
    let open = self::rules(vec![(tag("interns"), models(&["gpt-4o-mini"]))]);
    assert_eq!(open.models(&member(&["staff"])), Access::All);
}
