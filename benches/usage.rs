//! `cargo bench --bench usage`: `GET /api/v1/usage` over a month of
//! 1,000,000 chat logs by 1,000 users, through the real server.
//!
//! The chats are recorded as the gateway's writer records them (chat logs
//! and rollups, in batches of 1,000 per transaction), spread over August
//! 2024: 1,000 users with one to three of 20 tags, each with a model they
//! use for most chats and two they try now and then, all through the one
//! API key a TypingMind instance uses, beside a script's key that names no
//! user. Then each query is asked `RUNS` times; the median and the slowest
//! are printed.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use actix_web::rt::System;
use mindgate::config::AppConfig;
use mindgate::db::chat_logs::{ChatStatus, NewChatLog};
use mindgate::db::{api_keys, usage, users, Db};
use mindgate::domain::{ApiKey, Email, KeyScope, Micros, Tags, Timestamp, UserId};
use mindgate::startup::Application;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const CHATS: usize = 1_000_000;
const USERS: i64 = 1_000;
const TAGS: usize = 20;
const BATCH: usize = 1_000;
/// 2024-08-01T00:00:00Z
const AUGUST_1: i64 = 1_722_470_400_000;
const DAY_MS: i64 = 86_400_000;
const RUNS: usize = 20;
const MODELS: [(&str, &str); 3] = [
    ("gpt-4o", "openai"),
    ("claude-sonnet-4-5", "anthropic"),
    ("gpt-4o-mini", "openai"),
];

fn seed(db: &Db) -> String {
    let mut rng = StdRng::seed_from_u64(20240801);
    let instance_key = ApiKey::generate();
    let (instance, script) = db
        .write_blocking(|tx| {
            let instance = api_keys::insert(tx, "typingmind", &instance_key, KeyScope::Admin)?.id;
            let script = api_keys::insert(tx, "script", &ApiKey::generate(), KeyScope::Admin)?.id;
            Ok::<_, mindgate::db::StoreError>((instance, script))
        })
        .expect("keys");
    db.write_blocking(|tx| {
        for n in 1..=USERS {
            let email = Email::parse(&format!("user{n}@example.com")).unwrap();
            let tags: Vec<String> = (0..rng.random_range(1..=3))
                .map(|_| format!("team-{}", rng.random_range(0..TAGS)))
                .collect();
            users::insert(tx, &email, &Tags::parse(&tags).unwrap())?;
        }
        Ok::<_, mindgate::db::StoreError>(())
    })
    .expect("users");
    let started = Instant::now();
    let mut batch = Vec::with_capacity(BATCH);
    for i in 0..CHATS {
        let scripted = rng.random_range(0..20) == 0;
        let user = (!scripted).then(|| rng.random_range(1..=USERS));
        let model = match user {
            Some(id) if rng.random_range(0..5) > 0 => MODELS[id as usize % MODELS.len()],
            _ => MODELS[rng.random_range(0..MODELS.len())],
        };
        let prompt = rng.random_range(20..4000);
        let completion = rng.random_range(10..1500);
        batch.push(NewChatLog {
            chat_id: format!("chat-{i}"),
            chat_title: "Benchmark".into(),
            recorded_at: Timestamp(AUGUST_1 + (i as i64 * 31 * DAY_MS) / CHATS as i64),
            conversation_text: "User: Hello\n\nAssistant: Hi there!".into(),
            model: Some(model.0.into()),
            provider: Some(model.1.into()),
            character_id: None,
            user_id: user.map(UserId),
            api_key_id: Some(if scripted { script } else { instance }),
            prompt_tokens: Some(prompt),
            completion_tokens: Some(completion),
            cache_read_tokens: 0,
            cache_write_tokens: 0,
            cost: Some(Micros(prompt * 3 + completion * 15)),
            usage_estimated: false,
            status: ChatStatus::Ok,
            error_message: None,
            latency_ms: Some(800),
            ttft_ms: Some(200),
            session: false,
        });
        if batch.len() == BATCH || i + 1 == CHATS {
            db.write_blocking(|tx| usage::record_chats(tx, &batch))
                .expect("record");
            batch.clear();
        }
    }
    let rollups = db
        .read_blocking(|conn| {
            Ok::<i64, mindgate::db::StoreError>(conn.query_row(
                "SELECT COUNT(*) FROM usage_rollups",
                [],
                |r| r.get(0),
            )?)
        })
        .unwrap();
    println!(
        "seeded {CHATS} chat logs in {:.1} s ({rollups} rollup rows)",
        started.elapsed().as_secs_f64()
    );
    instance_key.as_str().to_owned()
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Db::open(&dir.path().join("usage.db")).expect("database");
    let key = seed(&db);
    System::new().block_on(async move {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let app = Application::on_listener(listener, db, AppConfig::default()).expect("server");
        let base = format!("http://{}/api/v1/usage", app.address());
        actix_web::rt::spawn(app.run_until_stopped());
        let client = awc::Client::builder()
            .timeout(Duration::from_secs(30))
            .finish();
        println!("\n| GET /api/v1/usage?start=2024-08-01&end=2024-08-31… | rows | median (ms) | slowest (ms) |");
        println!("| --- | ---: | ---: | ---: |");
        for query in [
            "",
            "&groupBy=user",
            "&groupBy=tag",
            "&groupBy=day,model",
            "&groupBy=user,model",
            "&groupBy=apiKey",
            "&userEmail=user7@example.com&groupBy=day",
            "&tag=team-3&groupBy=user",
        ] {
            let url = format!("{base}?start=2024-08-01&end=2024-08-31{query}");
            let mut times = Vec::with_capacity(RUNS);
            let mut rows = 0;
            for _ in 0..RUNS {
                let started = Instant::now();
                let mut response = client
                    .get(&url)
                    .insert_header(("X-API-KEY", key.as_str()))
                    .send()
                    .await
                    .expect("request");
                let body: serde_json::Value = response.json().limit(64 << 20).await.expect("json");
                times.push(started.elapsed());
                assert_eq!(response.status(), 200, "{url}: {body}");
                rows = body["data"].as_array().map_or(0, Vec::len);
            }
            times.sort();
            let ms = |d: Duration| d.as_secs_f64() * 1000.0;
            println!(
                "| `{}` | {rows} | {:.1} | {:.1} |",
                if query.is_empty() { "(total)" } else { &query[1..] },
                ms(times[RUNS / 2]),
                ms(times[RUNS - 1])
            );
        }
    });
}
