//! `cargo bench --bench chatlogs`: the Chat logs page, its search and its
//! exports over a million chat logs, seeded straight into the database
//! (`CHATLOGS_BENCH_ROWS` sets another count). mindgate runs as a process
//! (release build); each figure is the median of a few runs after a first
//! one that warms the caches, and the export's peak memory is mindgate's
//! resident peak (`VmHWM`) before and after it.

#[allow(dead_code)]
#[path = "gateway/server.rs"]
mod server;

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use mindgate::db::chat_logs::{self, ChatStatus, NewChatLog};
use mindgate::db::{self, Db, StoreError};
use mindgate::domain::{time_ordered_id, ApiKey, Email, KeyScope, Timestamp, UserId};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};

use server::Mindgate;

const ROWS: usize = 1_000_000;
const USERS: i64 = 200;
/// Chat logs over this many days, up to now.
const DAYS: i64 = 120;
const DAY_MS: i64 = 86_400_000;
const MODELS: [&str; 8] = [
    "gpt-4o-mini",
    "gpt-4o",
    "claude-sonnet-4-5",
    "claude-haiku-4-5",
    "gpt-5",
    "gpt-4.1",
    "o3",
    "claude-opus-4-1",
];
/// Runs of each request measured, after one to warm up.
const RUNS: usize = 5;
const SESSION: &str = "benchsessionbenchsessionbenchsessionbenchse";

/// Words of made-up English, `WORDS` of them, picked with a Zipf-like skew
/// (a few very common, most rare) so searches range from most chats to a
/// handful.
const WORDS: usize = 20_000;

fn word(rank: usize) -> String {
    const SYLLABLES: [&str; 24] = [
        "ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "pa", "do", "fe", "gu", "hi", "ja",
        "ko", "li", "mu", "no", "pe", "qua", "rho", "sti", "tra",
    ];
    let mut out = String::new();
    let mut n = rank + SYLLABLES.len();
    while n > 0 {
        out.push_str(SYLLABLES[n % SYLLABLES.len()]);
        n /= SYLLABLES.len();
    }
    out
}

fn sentence(rng: &mut StdRng, words: &[String], count: usize) -> String {
    (0..count)
        .map(|_| {
            let r: f64 = rng.random();
            let rank = ((words.len() as f64).powf(r) as usize).min(words.len() - 1);
            words[rank].as_str()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A million chats over `DAYS` days: 80% from one of `USERS` users, eight
/// models, a question and an answer of made-up words (~330 characters).
fn seed(db: &Db, rows: usize) {
    let words: Vec<String> = (0..WORDS).map(word).collect();
    let mut rng = StdRng::seed_from_u64(10);
    db.write_blocking(|tx| {
        for i in 0..USERS {
            tx.execute(
                "INSERT INTO users (email, created_at) VALUES (?1, 0)",
                [format!("user{i}@example.com")],
            )?;
        }
        Ok::<_, StoreError>(())
    })
    .unwrap();
    let start = Timestamp::now().millis() - DAYS * DAY_MS;
    let step = DAYS * DAY_MS / rows as i64;
    let began = Instant::now();
    for batch in 0..rows.div_ceil(10_000) {
        db.write_blocking(|tx| {
            let mut logs = Vec::with_capacity(10_000);
            for i in batch * 10_000..((batch + 1) * 10_000).min(rows) {
                let at = Timestamp(start + i as i64 * step);
                let (asked, answered) = (rng.random_range(8..16), rng.random_range(30..50));
                let question = sentence(&mut rng, &words, asked);
                let answer = sentence(&mut rng, &words, answered);
                let user = rng.random_range(0..USERS * 5 / 4);
                logs.push(NewChatLog {
                    chat_id: time_ordered_id(at),
                    chat_title: question.chars().take(60).collect(),
                    recorded_at: at,
                    conversation_text: format!("User: {question}\n\nAssistant: {answer}"),
                    model: Some(MODELS[rng.random_range(0..MODELS.len())].to_owned()),
                    provider: Some("openai".to_owned()),
                    character_id: None,
                    user_id: (user < USERS).then_some(UserId(user + 1)),
                    api_key_id: None,
                    prompt_tokens: Some(rng.random_range(10..400)),
                    completion_tokens: Some(rng.random_range(50..800)),
                    cache_read_tokens: 0,
                    cache_write_tokens: 0,
                    cost: None,
                    usage_estimated: false,
                    status: ChatStatus::Ok,
                    error_message: None,
                    latency_ms: Some(rng.random_range(300..9000)),
                    ttft_ms: Some(rng.random_range(100..900)),
                    session: false,
                });
            }
            chat_logs::upsert_all(tx, &logs)?;
            // As the server's background thread does, at once.
            chat_logs::index_pending(tx, 10_000)?;
            Ok::<_, StoreError>(())
        })
        .unwrap();
        if batch % 10 == 9 {
            eprint!("\r  seeded {} chats", (batch + 1) * 10_000);
        }
    }
    eprintln!("\r  seeded {rows} chats in {:.0?}", began.elapsed());
}

/// An admin, a session for the bench's cookie, and an API key.
fn credentials(db: &Db) -> String {
    let key = ApiKey::generate();
    db.write_blocking(|tx| {
        let email = Email::parse("bench@example.com").unwrap();
        let admin = db::admins::insert(tx, &email, "not a password hash")?;
        let hash = Sha256::digest(SESSION.as_bytes()).to_vec();
        db::sessions::insert(tx, &hash, admin, "csrf")?;
        db::api_keys::insert(tx, "bench", &key, KeyScope::Admin)?;
        Ok::<_, StoreError>(())
    })
    .unwrap();
    key.as_str().to_owned()
}

/// One GET: time to the first byte of the body, time to the last, and the
/// bytes read (chunk framing included).
struct Fetch {
    first_byte: Duration,
    total: Duration,
    bytes: usize,
    body: String,
}

fn get(address: SocketAddr, path: &str, header: &str) -> Fetch {
    let began = Instant::now();
    let mut stream = TcpStream::connect(address).expect("connect to mindgate");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: bench\r\n{header}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut head = Vec::new();
    let mut buffer = vec![0; 256 * 1024];
    let mut first_byte = None;
    let mut bytes = 0;
    let mut kept = Vec::new();
    loop {
        let n = stream.read(&mut buffer).expect("read from mindgate");
        if n == 0 {
            break;
        }
        if first_byte.is_none() {
            head.extend_from_slice(&buffer[..n]);
            if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                let status = String::from_utf8_lossy(&head[..12]).to_string();
                assert!(status.ends_with("200"), "GET {path}: {status}");
                if head.len() > end + 4 {
                    first_byte = Some(began.elapsed());
                }
                bytes += head.len() - end - 4;
                kept.extend_from_slice(&head[end + 4..]);
            }
            continue;
        }
        bytes += n;
        // Pages are kept to follow their links; files are only counted.
        if kept.len() < 1 << 20 {
            kept.extend_from_slice(&buffer[..n]);
        }
    }
    let total = began.elapsed();
    Fetch {
        first_byte: first_byte.unwrap_or(total),
        total,
        bytes,
        body: String::from_utf8_lossy(&kept).into_owned(),
    }
}

/// Where the link that says `label` leads.
fn link(html: &str, label: &str) -> String {
    let at = html
        .find(label)
        .unwrap_or_else(|| panic!("no {label:?} link"));
    let href = html[..at].rfind("href=\"").unwrap() + 6;
    let end = html[href..].find('"').unwrap() + href;
    html[href..end].replace("&amp;", "&")
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

struct Report {
    rows: Vec<(String, String)>,
}

impl Report {
    fn add(&mut self, what: impl Into<String>, value: String) {
        let what = what.into();
        eprintln!("  {what}: {value}");
        self.rows.push((what, value));
    }

    /// The median time of `path` over `RUNS` runs after a warm-up.
    fn time(&mut self, address: SocketAddr, cookie: &str, what: &str, path: &str) {
        get(address, path, cookie);
        let times = (0..RUNS)
            .map(|_| get(address, path, cookie).total)
            .collect();
        self.add(what, format!("{} ms", ms(median(times))));
    }
}

fn matches(db: &Db, word: &str) -> i64 {
    db.read_blocking(|conn| {
        Ok::<_, StoreError>(conn.query_row(
            "SELECT COUNT(*) FROM chat_logs WHERE conversation_text LIKE ?1 OR chat_title LIKE ?1",
            [format!("%{word}%")],
            |row| row.get(0),
        )?)
    })
    .unwrap()
}

fn file_mib(path: &Path) -> f64 {
    std::fs::metadata(path).map_or(0.0, |m| m.len() as f64 / (1 << 20) as f64)
}

fn main() {
    let rows: usize = std::env::var("CHATLOGS_BENCH_ROWS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(ROWS);
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("chatlogs.db");
    eprintln!("seeding {rows} chat logs in {}", path.display());
    let db = Db::open(&path).expect("open the database");
    seed(&db, rows);
    let api_key = credentials(&db);
    // Search terms by how common they are, with how many chats hold them.
    let words: Vec<(String, i64)> = [1, 40, 2_000, 19_000]
        .iter()
        .map(|&rank| {
            let w = word(rank);
            let n = matches(&db, &w);
            (w, n)
        })
        .collect();
    drop(db);

    let mindgate = Mindgate::start(&path, "127.0.0.1:9".parse().unwrap(), true);
    let address = mindgate.address;
    let cookie = format!("Cookie: mg_session={SESSION}");
    let api = format!("X-API-KEY: {api_key}");
    let mut report = Report { rows: Vec::new() };
    report.add("chat logs", rows.to_string());
    report.add("database file (MiB)", format!("{:.0}", file_mib(&path)));

    let page = "/admin/chatlogs";
    report.time(address, &cookie, "page, newest", page);
    let second = link(&get(address, page, &cookie).body, "Older →");
    report.time(address, &cookie, "page, the next (older) one", &second);
    report.time(
        address,
        &cookie,
        "page, by model",
        &format!("{page}?model=gpt-4o"),
    );
    report.time(
        address,
        &cookie,
        "page, by user",
        &format!("{page}?user=user7%40example.com"),
    );
    let week = Timestamp::now().millis() - 60 * DAY_MS;
    let day = |ms: i64| Timestamp(ms).to_iso()[..10].to_owned();
    report.time(
        address,
        &cookie,
        "page, one week two months ago",
        &format!("{page}?from={}&to={}", day(week), day(week + 6 * DAY_MS)),
    );
    report.time(
        address,
        &cookie,
        "page, by user and model",
        &format!("{page}?user=user7%40example.com&model=o3"),
    );
    for (word, n) in &words {
        report.time(
            address,
            &cookie,
            &format!("search {word:?} (in {n} chats)"),
            &format!("{page}?q={word}"),
        );
    }
    let two_letters = format!("{page}?q=xq");
    report.time(address, &cookie, "search, two letters", &two_letters);
    // It matches no chat: each page reads a window and goes on from its end
    // (with fewer chats than a window, the first page read them all).
    let first_window = get(address, &two_letters, &cookie).body;
    if first_window.contains("Older →") {
        report.time(
            address,
            &cookie,
            "search, two letters, the next window",
            &link(&first_window, "Older →"),
        );
    }
    report.time(
        address,
        &cookie,
        "search by user",
        &format!("{page}?q={}&user=user7%40example.com", words[1].0),
    );
    report.time(
        address,
        &api,
        "API GET /chatlogs (100, newest)",
        "/api/v1/chatlogs",
    );

    let rss_before = mindgate.peak_rss_kib();
    report.add(
        "mindgate peak RSS before the exports (MiB)",
        format!("{:.0}", rss_before as f64 / 1024.0),
    );
    for (what, path) in [
        ("CSV export", "/admin/chatlogs.csv"),
        ("JSON export", "/admin/chatlogs.json"),
    ] {
        let fetch = get(address, path, &cookie);
        report.add(
            format!("{what}: first byte"),
            format!("{} ms", ms(fetch.first_byte)),
        );
        report.add(
            format!("{what}: all"),
            format!("{:.1} s", fetch.total.as_secs_f64()),
        );
        report.add(
            format!("{what}: size (MiB)"),
            format!("{:.0}", fetch.bytes as f64 / (1 << 20) as f64),
        );
        report.add(
            format!("{what}: mindgate peak RSS after (MiB)"),
            format!("{:.0}", mindgate.peak_rss_kib() as f64 / 1024.0),
        );
    }
    let search_export = format!("/admin/chatlogs.csv?q={}", words[2].0);
    let fetch = get(address, &search_export, &cookie);
    report.add(
        format!("CSV export of a search ({} chats): all", words[2].1),
        format!("{} ms", ms(fetch.total)),
    );
    mindgate.stop();

    let mut markdown = String::from("|  | value |\n| --- | ---: |\n");
    for (what, value) in &report.rows {
        let _ = writeln!(markdown, "| {what} | {value} |");
    }
    println!("\n{markdown}");
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-chatlogs.md");
    std::fs::write(&out, &markdown).expect("write the report");
    eprintln!("markdown: {}", out.display());
}
