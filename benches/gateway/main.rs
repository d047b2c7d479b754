//! `cargo bench --bench gateway`: the chat completions gateway against a fast
//! mock upstream, measured direct and through mindgate in the same run.
//!
//! The machine has two cores for the load generator (one thread), the mock
//! (one thread) and mindgate, so the direct numbers are a ceiling that
//! mindgate shares its cores with. Other work on the machine comes and goes,
//! so the routes take turns in short slices rather than one long run each.

mod load;
mod mock;
mod report;
mod server;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use actix_web::rt::{System, SystemRunner};

use load::{Streams, Target, Throughput};
use report::{ChatLogs, Level, Results};
use server::Mindgate;

/// Per route and concurrency, before the measured rounds.
const WARMUP: Duration = Duration::from_secs(1);
const ROUNDS: usize = 4;
/// Per route, concurrency and round.
const SLICE: Duration = Duration::from_millis(1500);
const STREAM_WARMUP: usize = 20;
const STREAMS_PER_ROUND: usize = 75;

/// A mindgate and its database.
struct Instance {
    mindgate: Mindgate,
    db: PathBuf,
}

/// A way to the mock: direct, or through a mindgate; with what that
/// mindgate has spent so far.
struct Route {
    target: Target,
    instance: Option<Instance>,
    cpu: Duration,
    sent: u64,
}

impl Route {
    fn direct(upstream: SocketAddr, api_key: &str) -> Route {
        Route::new(
            Target::new(format!("http://{upstream}/v1/chat/completions"), api_key),
            None,
        )
    }

    fn mindgate(db: PathBuf, upstream: SocketAddr, record_chats: bool) -> (Route, String) {
        let key = server::create_key(&db);
        let mindgate = Mindgate::start(&db, upstream, record_chats);
        let url = format!("http://{}/api/v1/chat/completions", mindgate.address);
        let instance = Instance { mindgate, db };
        (Route::new(Target::new(url, &key), Some(instance)), key)
    }

    fn new(target: Target, instance: Option<Instance>) -> Route {
        Route {
            target,
            instance,
            cpu: Duration::ZERO,
            sent: 0,
        }
    }

    fn cpu_time(&self) -> Duration {
        self.instance
            .as_ref()
            .map_or(Duration::ZERO, |i| i.mindgate.cpu_time())
    }

    fn throughput(
        &mut self,
        system: &SystemRunner,
        concurrency: usize,
        time: Duration,
    ) -> Throughput {
        let cpu = self.cpu_time();
        let run = system.block_on(load::throughput(&self.target, concurrency, time));
        self.cpu += self.cpu_time() - cpu;
        self.sent += run.requests();
        run
    }

    fn streams(&mut self, system: &SystemRunner, count: usize) -> Streams {
        let run = system.block_on(load::streams(&self.target, count));
        self.sent += run.count();
        run
    }
}

fn main() {
    let began = Instant::now();
    let load_before = load_average();
    let upstream = mock::start();
    let dir = tempfile::tempdir().expect("temporary directory");
    let system = System::new();
    // Logging on and off side by side, so that they take turns too.
    let (logged, key) = Route::mindgate(dir.path().join("logged.db"), upstream, true);
    let (unlogged, _) = Route::mindgate(dir.path().join("unlogged.db"), upstream, false);
    let mut routes = [Route::direct(upstream, &key), logged, unlogged];

    let c1 = level(&system, &mut routes, 1);
    let c32 = level(&system, &mut routes, 32);

    eprintln!("streams: direct and through mindgate, in turns");
    let [mut direct, mut logged, unlogged] = routes;
    direct.streams(&system, STREAM_WARMUP);
    logged.streams(&system, STREAM_WARMUP);
    let (mut direct_streams, mut logged_streams) = (Streams::default(), Streams::default());
    for _ in 0..ROUNDS {
        direct_streams.add(direct.streams(&system, STREAMS_PER_ROUND));
        logged_streams.add(logged.streams(&system, STREAMS_PER_ROUND));
    }

    let sent_logging_on = logged.sent;
    let logged = logged.instance.expect("a mindgate");
    let unlogged = unlogged.instance.expect("a mindgate");
    let peak_rss_kib = logged.mindgate.peak_rss_kib();
    logged.mindgate.stop();
    unlogged.mindgate.stop();

    let results = Results {
        c1,
        c32,
        streams: report::Pair {
            direct: direct_streams,
            through: logged_streams,
        },
        peak_rss_kib,
        chat_logs: ChatLogs {
            sent_logging_on,
            rows_logging_on: chat_log_rows(&logged.db),
            rows_logging_off: chat_log_rows(&unlogged.db),
        },
        context: format!(
            "{} cores; load average {load_before} before, {} after; \
             per concurrency and route {} s warm-up then {ROUNDS} turns of {:.1} s; \
             {} streams per route; bench took {:.0} s.",
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            load_average(),
            WARMUP.as_secs(),
            SLICE.as_secs_f64(),
            ROUNDS * STREAMS_PER_ROUND,
            began.elapsed().as_secs_f64()
        ),
    };
    println!("\n{}", results.text());
    let markdown = target_dir().join("bench-gateway.md");
    std::fs::write(&markdown, results.markdown()).expect("cannot write the markdown report");
    println!("markdown: {}", markdown.display());
}

/// One concurrency: routes `[direct, logging on, logging off]` warm up,
/// then take turns.
fn level(system: &SystemRunner, routes: &mut [Route; 3], concurrency: usize) -> Level {
    eprintln!("concurrency {concurrency}: direct, through mindgate with chat logging on and off, in turns");
    let (cpu, sent) = (routes[1].cpu, routes[1].sent);
    for route in routes.iter_mut() {
        route.throughput(system, concurrency, WARMUP);
    }
    let mut measured: [Throughput; 3] = Default::default();
    for _ in 0..ROUNDS {
        for (route, total) in routes.iter_mut().zip(&mut measured) {
            total.add(route.throughput(system, concurrency, SLICE));
        }
    }
    let [direct, logged, unlogged] = measured;
    let requests = u32::try_from(routes[1].sent - sent).expect("request count");
    Level {
        direct,
        logged,
        unlogged,
        cpu_per_request: (routes[1].cpu - cpu) / requests,
    }
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
