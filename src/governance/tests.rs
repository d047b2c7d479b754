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


/// A rules snapshot of `policies`, in UTC.
fn rules(policies: Vec<(Scope, Policy)>) -> Rules {
    Rules::new(policies.into_iter().collect::<HashMap<_, _>>(), InstanceTimeZone::default())
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
    // (policies, the user's tags, model, why it is refused)
    let cases: Vec<(Vec<(Scope, Policy)>, &[&str], &str, Option<&str>)> = vec![
        (vec![], &[], "gpt-4o", None),
        // Nothing that applies restricts models: every model is open.
        (vec![(tag("interns"), models(&["gpt-4o-mini"]))], &["staff"], "gpt-4o", None),
        (
            vec![(Scope::Everyone, models(&["gpt-4o-mini"]))],
            &[],
            "gpt-4o",
            Some("model `gpt-4o` is not open to everyone on this instance; open: gpt-4o-mini"),
        ),
        (
            vec![(Scope::Everyone, models(&["gpt-4o-mini"]))],
            &["staff"],
            "gpt-4o-mini",
            None,
        ),
        // A tag opens what `everyone` does not.
        (
            vec![
                (Scope::Everyone, models(&["gpt-4o-mini"])),
                (tag("staff"), models(&["gpt-4o"])),
            ],
            &["staff"],
            "gpt-4o",
            None,
        ),
        (
            vec![
                (Scope::Everyone, models(&["gpt-4o-mini"])),
                (tag("staff"), models(&["gpt-4o"])),
            ],
            &["interns"],
            "gpt-4o",
            Some("model `gpt-4o` is not open to everyone on this instance; open: gpt-4o-mini"),
        ),
        (
            vec![(tag("interns"), models(&["gpt-4o-mini"]))],
            &["interns"],
            "gpt-4o",
            Some("model `gpt-4o` is not open to this user's tags: interns; open: gpt-4o-mini"),
        ),
        // Two tags: the union.
        (
            vec![
                (tag("interns"), models(&["gpt-4o-mini"])),
                (tag("staff"), models(&["claude-*"])),
            ],
            &["interns", "staff"],
            "claude-haiku-4-5",
            None,
        ),
        (
            vec![
                (tag("interns"), models(&["gpt-4o-mini"])),
                (tag("staff"), models(&["claude-*"])),
            ],
            &["interns", "staff"],
            "gpt-4o-mini",
            None,
        ),
        (
            vec![
                (tag("interns"), models(&["gpt-4o-mini"])),
                (tag("staff"), models(&["claude-*"])),
            ],
            &["interns", "staff"],
            "gpt-4o",
            Some("model `gpt-4o` is not open to this user's tags: interns, staff; open: gpt-4o-mini, claude-*"),
        ),
        // A tag whose policy sets only limits restricts no model.
        (
            vec![
                (tag("interns"), models(&["gpt-4o-mini"])),
                (tag("staff"), limits(&[limit(Metric::Requests, Window::Day, 1, Per::Member)])),
            ],
            &["staff"],
            "gpt-4o",
            None,
        ),
        // The user's own policy opens too.
        (
            vec![
                (Scope::Everyone, models(&["gpt-4o-mini"])),
                (Scope::User(USER), models(&["gpt-4o"])),
            ],
            &[],
            "gpt-4o",
            None,
        ),
        (
            vec![
                (Scope::Everyone, models(&["gpt-4o-mini", "echo"])),
                (tag("interns"), models(&["echo"])),
                (Scope::User(USER), models(&["o3"])),
            ],
            &["interns"],
            "gpt-4o",
            Some("model `gpt-4o` is not open to everyone on this instance, nor to this user's tags: interns, nor to this user; open: gpt-4o-mini, echo, o3"),
        ),
        (
            vec![(Scope::Everyone, models(&[]))],
            &[],
            "echo",
            Some("model `echo` is not open to everyone on this instance; nothing is open"),
        ),
        // Patterns, regardless of case.
        (vec![(tag("staff"), models(&["GPT-4o*"]))], &["staff"], "gpt-4o-2024-08-06", None),
        // The key narrows what the scopes open, and never widens it.
        (
            vec![(Scope::Key(KEY), models(&["gpt-4o-mini"]))],
            &[],
            "gpt-4o",
            Some("model `gpt-4o` is not open to this API key; open: gpt-4o-mini"),
        ),
        (
            vec![
                (tag("staff"), models(&["gpt-4o*"])),
                (Scope::Key(KEY), models(&["gpt-4o-mini"])),
            ],
            &["staff"],
            "gpt-4o",
            Some("model `gpt-4o` is not open to this API key; open: gpt-4o-mini"),
        ),
        (
            vec![
                (tag("staff"), models(&["gpt-4o*"])),
                (Scope::Key(KEY), models(&["gpt-4o-mini"])),
            ],
            &["staff"],
            "gpt-4o-mini",
            None,
        ),
        (
            vec![
                (Scope::Everyone, models(&["gpt-4o-mini"])),
                (Scope::Key(KEY), models(&["gpt-4o"])),
            ],
            &[],
            "gpt-4o",
            Some("model `gpt-4o` is not open to everyone on this instance; open: gpt-4o-mini"),
        ),
        // Another key's policy is not this one's.
        (vec![(Scope::Key(ApiKeyId(4)), models(&["gpt-4o-mini"]))], &[], "gpt-4o", None),
    ];
    for (policies, tags, model, why) in cases {
        let case = format!("{policies:?} tags {tags:?}: {model}");
        let rules = rules(policies);
        let who = member(tags);
        assert_eq!(rules.model_refused(&who, model).as_deref(), why, "{case}");
    }
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
    // (policies, the user's tags, character, why it is refused)
    let cases: Vec<(Vec<(Scope, Policy)>, &[&str], &str, Option<&str>)> = vec![
        (vec![], &[], "writer", None),
        (
            vec![(Scope::Everyone, characters(&["writer"]))],
            &[],
            "coder",
            Some("AI character `coder` is not open to everyone on this instance; open: writer"),
        ),
        (
            vec![
                (Scope::Everyone, characters(&["writer"])),
                (tag("staff"), characters(&["coder"])),
            ],
            &["staff"],
            "coder",
            None,
        ),
        (
            vec![(tag("interns"), characters(&["writer"]))],
            &["staff"],
            "coder",
            None,
        ),
        // Ids match exactly.
        (
            vec![(tag("staff"), characters(&["Coder"]))],
            &["staff"],
            "coder",
            Some("AI character `coder` is not open to this user's tags: staff; open: Coder"),
        ),
        (
            vec![
                (tag("staff"), characters(&["coder", "writer"])),
                (Scope::Key(KEY), characters(&["writer"])),
            ],
            &["staff"],
            "coder",
            Some("AI character `coder` is not open to this API key; open: writer"),
        ),
        // A model list says nothing of characters.
        (vec![(Scope::Everyone, models(&["gpt-4o"]))], &[], "coder", None),
    ];
    for (policies, tags, character, why) in cases {
        let case = format!("{policies:?} tags {tags:?}: {character}");
        let rules = rules(policies);
        assert_eq!(
            rules.character_refused(&member(tags), character).as_deref(),
            why,
            "{case}"
        );
    }
}

#[test]
fn effective_access_names_what_each_scope_grants_and_what_the_key_narrows() {
    let rules = rules(vec![
        (Scope::Everyone, models(&["gpt-4o-mini"])),
        (tag("staff"), models(&["claude-*"])),
        (tag("interns"), limits(&[limit(Metric::Requests, Window::Day, 5, Per::Member)])),
        (Scope::Key(KEY), models(&["claude-haiku-4-5", "gpt-4o-mini"])),
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
