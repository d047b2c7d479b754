//! What the policy check costs: one user with three tags, through a
//! mindgate where everyone, each tag and the user have a policy (model
//! lists and five limits, none reached in a run), against the same user
//! through a mindgate with no policy. And whether the counters counted
//! every completion: read back from `GET /users/{id}/limits` once the
//! concurrency-32 turns are done.

use std::path::Path;
use std::time::Duration;

use mindgate::db::{policies, users, Db};
use mindgate::domain::{
    Email, Limit, Metric, ModelPattern, Per, Policy, Scope, Tags, UserId, Window,
};
use serde_json::Value;

/// The user both mindgates know, named in every request's `X-User-Email`.
pub const USER_EMAIL: &str = "bench-user@example.com";
const TAGS: [&str; 3] = ["bench-a", "bench-b", "bench-c"];
/// Far above what a run sends, so that no request is refused.
const NEVER: i64 = 1_000_000_000_000;

/// The mock's usage, the same in every answer (`mock::COMPLETION`).
const TOKENS_PER_COMPLETION: i64 = 20;

/// Adds the user with its three tags to the database at `db` and, with
/// `policies`, a policy for everyone, each tag and the user: five limits
/// over each metric and window, member and group. Returns the user's id.
pub fn prepare(db: &Path, with_policies: bool) -> UserId {
    let db = Db::open(db).expect("cannot open the bench database");
    let email = Email::parse(USER_EMAIL).expect("an email");
    let tags = Tags::parse(&TAGS).expect("tags");
    db.write_blocking(|tx| {
        let user = users::insert(tx, &email, &tags)?;
        if with_policies {
            for (scope, policy) in governing(user.id) {
                policies::put(tx, &scope, &policy)?;
            }
        }
        Ok::<_, mindgate::db::StoreError>(user.id)
    })
    .expect("cannot add the bench user")
}

fn governing(user: UserId) -> [(Scope, Policy); 5] {
    let models = |names: &[&str]| {
        Some(
            names
                .iter()
                .map(|n| ModelPattern::parse("models", n).expect("a pattern"))
                .collect(),
        )
    };
    let limit = |metric, window, per| Limit {
        metric,
        window,
        max: NEVER,
        per,
    };
    let tag = |name: &str| Scope::Tag(name.to_owned());
    [
        (
            Scope::Everyone,
            Policy {
                models: models(&["gpt-4o*", "claude-*"]),
                limits: vec![limit(Metric::Requests, Window::Day, Per::Member)],
                ..Policy::default()
            },
        ),
        (
            tag(TAGS[0]),
            Policy {
                models: models(&["o3*", "gpt-4o-mini"]),
                limits: vec![limit(Metric::Requests, Window::Minute, Per::Member)],
                ..Policy::default()
            },
        ),
        (
            tag(TAGS[1]),
            Policy {
                limits: vec![limit(Metric::Tokens, Window::Hour, Per::Group)],
                ..Policy::default()
            },
        ),
        (
            tag(TAGS[2]),
            Policy {
                limits: vec![limit(Metric::CostUsd, Window::Month, Per::Group)],
                ..Policy::default()
            },
        ),
        (
            Scope::User(user),
            Policy {
                limits: vec![limit(Metric::Requests, Window::Week, Per::Member)],
                ..Policy::default()
            },
        ),
    ]
}

/// Each limit's counter against what it should hold.
pub struct CounterCheck {
    /// One line per limit: what it counted, what was sent, and whether
    /// they agree (a limit whose window turned during the run is not
    /// checked, and says so).
    pub lines: Vec<(String, bool)>,
}

impl CounterCheck {
    pub fn passed(&self) -> bool {
        self.lines.iter().all(|(_, ok)| *ok)
    }
}

/// Reads the user's limits from the mindgate at `address` and checks each
/// counter against `sent` completions, every one recorded in the chat
/// logs of `db` (whose costs the cost counter must add up to). Limits
/// whose window began after `since` (ms since the epoch) are left out.
pub async fn check_counters(
    address: &str,
    api_key: &str,
    user: UserId,
    sent: u64,
    db: &Path,
    since: i64,
) -> CounterCheck {
    let sent = i64::try_from(sent).expect("a count");
    let cost = recorded_cost(db, sent).await;
    let mut response = awc::Client::default()
        .get(format!("http://{address}/api/v1/users/{}/limits", user.0))
        .insert_header(("x-api-key", api_key))
        .send()
        .await
        .expect("GET /users/{id}/limits failed");
    assert!(
        response.status().is_success(),
        "GET /users/{{id}}/limits answered {}",
        response.status()
    );
    let body: Value = response.json().await.expect("a JSON body");
    let limits = body["limits"].as_array().expect("a limits array");
    assert_eq!(limits.len(), 5, "the bench user's limits: {body}");
    let lines = limits
        .iter()
        .map(|limit| {
            let name = format!(
                "{} {} per {}",
                limit["scope"].as_str().unwrap_or("?"),
                limit["metric"].as_str().unwrap_or("?"),
                limit["window"].as_str().unwrap_or("?")
            );
            let start = limit["windowStart"]
                .as_str()
                .and_then(|s| s.parse::<jiff::Timestamp>().ok())
                .expect("windowStart")
                .as_millisecond();
            if start > since {
                return (format!("{name}: its window turned during the run"), true);
            }
            let (used, expected) = match limit["metric"].as_str() {
                Some("requests") => (limit["used"].as_i64(), sent),
                Some("tokens") => (limit["used"].as_i64(), sent * TOKENS_PER_COMPLETION),
                // In USD, as the API shows costs.
                _ => (
                    limit["used"].as_f64().map(|usd| (usd * 1e6).round() as i64),
                    cost,
                ),
            };
            let used = used.expect("used");
            (
                format!("{name}: {used} counted for {expected}"),
                used == expected,
            )
        })
        .collect();
    CounterCheck { lines }
}

/// The cost of the chats recorded in `db` (micro-dollars), once all `sent`
/// are there (the writer records them in batches, soon after each ends).
async fn recorded_cost(db: &Path, sent: i64) -> i64 {
    let conn = rusqlite::Connection::open(db).expect("cannot open the bench database");
    for _ in 0..100 {
        let (rows, cost): (i64, i64) = conn
            .query_row(
                "SELECT count(*), IFNULL(SUM(cost_micros), 0) FROM chat_logs",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .expect("cannot read the chat logs");
        if rows >= sent {
            assert_eq!(rows, sent, "chat logs for the completions sent");
            return cost;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the chat logs of the governed mindgate lag behind what was sent");
}
