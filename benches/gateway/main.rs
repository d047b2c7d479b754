//! `cargo bench --bench gateway`: the chat completions gateway against a fast
//! mock upstream, measured direct and through mindgate in the same run.
//!
//! The machine has two cores for the load generator (one thread), the mock
//! (one thread) and mindgate, so the direct numbers are a ceiling that
//! mindgate shares its cores with.

mod load;
mod mock;
mod report;
mod server;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use actix_web::rt::System;

use load::Target;
use report::{ChatLogs, Pair, Results};
use server::Mindgate;

const WARMUP: Duration = Duration::from_secs(1);
const MEASURE: Duration = Duration::from_secs(4);
const STREAM_WARMUP: usize = 20;
const STREAMS: usize = 300;

fn main() {
    let began = Instant::now();
    let load_before = load_average();
    let upstream = mock::start();
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = dir.path().join("bench.db");
    let key = server::create_key(&db);
    let direct = Target::new(format!("http://{upstream}/v1/chat/completions"), &key);
    let system = System::new();

    let mindgate = Mindgate::start(&db, upstream, true);
    let through = Target::new(
        format!("http://{}/api/v1/chat/completions", mindgate.address),
        &key,
    );
    let mut sent_logging_on = 0;
    let mut cpu_per_request = [Duration::ZERO; 2];
    let mut measure = |concurrency: usize, slot: usize| {
        eprintln!("concurrency {concurrency}: direct, then through mindgate");
        let run = |target| system.block_on(load::throughput(target, concurrency, WARMUP, MEASURE));
        let direct_run = run(&direct);
        let cpu = mindgate.cpu_time();
        let through_run = run(&through);
        cpu_per_request[slot] = (mindgate.cpu_time() - cpu) / through_run.sent as u32;
        sent_logging_on += through_run.sent;
        Pair {
            direct: direct_run,
            through: through_run,
        }
    };
    let c1 = measure(1, 0);
    let c32 = measure(32, 1);

    eprintln!("streams: direct, then through mindgate");
    let streams = Pair {
        direct: system.block_on(load::streams(&direct, STREAM_WARMUP, STREAMS)),
        through: system.block_on(load::streams(&through, STREAM_WARMUP, STREAMS)),
    };
    sent_logging_on += (STREAM_WARMUP + STREAMS) as u64;
    let peak_rss_kib = mindgate.peak_rss_kib();
    mindgate.stop();
    let rows_logging_on = chat_log_rows(&db);

    eprintln!("concurrency 32 through mindgate, chat logging off");
    let mindgate = Mindgate::start(&db, upstream, false);
    let through = Target::new(
        format!("http://{}/api/v1/chat/completions", mindgate.address),
        &key,
    );
    let unlogged = system.block_on(load::throughput(&through, 32, WARMUP, MEASURE));
    mindgate.stop();

    let results = Results {
        c1,
        c32,
        streams,
        cpu_per_request,
        peak_rss_kib,
        unlogged_c32_rps: unlogged.rps,
        chat_logs: ChatLogs {
            sent_logging_on,
            rows_logging_on,
            rows_logging_off: chat_log_rows(&db),
        },
        context: format!(
            "{} cores; load average {load_before} before, {} after; \
             {} s warm-up and {} s per throughput measurement, {STREAMS} streams; \
             bench took {:.0} s.",
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            load_average(),
            WARMUP.as_secs(),
            MEASURE.as_secs(),
            began.elapsed().as_secs_f64()
        ),
    };
    println!("\n{}", results.text());
    let markdown = target_dir().join("bench-gateway.md");
    std::fs::write(&markdown, results.markdown()).expect("cannot write the markdown report");
    println!("markdown: {}", markdown.display());
}

/// Rows in `chat_logs`, read once mindgate has stopped.
fn chat_log_rows(db: &Path) -> u64 {
    let rows: i64 = rusqlite::Connection::open(db)
        .and_then(|conn| conn.query_row("SELECT count(*) FROM chat_logs", [], |row| row.get(0)))
        .expect("cannot count chat logs");
    rows.try_into().expect("a count is not negative")
}

/// The 1-minute load average: other work on the machine skews the numbers.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".into())
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| "target".into(), PathBuf::from)
}
