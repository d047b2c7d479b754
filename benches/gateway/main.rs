//! `cargo bench --bench gateway`: the chat completions gateway against a fast
//! mock upstream, measured direct and through mindgate in the same run.
//!
//! The machine has two cores for the load generator (one thread), the mock
//! (one thread) and mindgate, so the direct numbers are a ceiling that
//! mindgate shares its cores with. Other work on the machine comes and goes,
//! so the routes take turns in short slices rather than one long run each.
//!
//! Two more mindgates take their turns at concurrency 1 and 32: one user
//! with three tags whose policies set five limits, against the same user
//! with no policy, for what the policy check costs; after them, the
//! counters must hold every completion sent.
//!
//! Then the APIs passed through: Anthropic's Messages API, whole and
//! streamed, direct and through a mindgate of its own; and on another,
//! OpenAI's Responses (whole and streamed), embeddings and legacy
//! completions.
//!
//! Last, a thousand completions at once, each of which the mock answers
//! after a second, as many chats wait on a model: nothing may queue them.

mod governed;
mod load;
mod messages;
mod mock;
mod openai;
mod passed;
mod report;
mod responses;
mod server;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use actix_web::rt::{System, SystemRunner};
use mindgate::domain::UserId;

use load::{Streams, Target, Throughput, BODY, CHAT, HELD_BODY};
use report::{ChatLogs, Held, Level, Policies, Results};
use server::Mindgate;

/// Per route and concurrency, before the measured rounds.
const WARMUP: Duration = Duration::from_secs(1);
const ROUNDS: usize = 4;
/// Per route, concurrency and round.
const SLICE: Duration = Duration::from_millis(1500);
const STREAM_WARMUP: usize = 20;
const STREAMS_PER_ROUND: usize = 75;
/// Completions at once in the last phase, each held by the mock for
/// `mock::HOLD`.
const HELD: usize = 1000;
/// Per route and round: each connection sends three requests, at 0, 1 and
/// 2 s.
const HELD_SLICE: Duration = Duration::from_millis(2500);
const HELD_ROUNDS: usize = 3;

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
            Target::new(&format!("http://{upstream}"), &CHAT, api_key),
            None,
        )
    }

    fn mindgate(db: PathBuf, upstream: SocketAddr, record_chats: bool) -> (Route, String) {
        let key = server::create_key(&db);
        let mindgate = Mindgate::start(&db, upstream, record_chats);
        let target = Target::new(&format!("http://{}/api", mindgate.address), &CHAT, &key);
        let instance = Instance { mindgate, db };
        (Route::new(target, Some(instance)), key)
    }

    /// A mindgate (chat logging on) whose requests all name the bench's
    /// user, who has three tags; with `policies`, everyone, the tags and
    /// the user have policies. Also returns the user's id and the key.
    fn for_user(db: PathBuf, upstream: SocketAddr, policies: bool) -> (Route, UserId, String) {
        let user = governed::prepare(&db, policies);
        let (mut route, key) = Route::mindgate(db, upstream, true);
        route.target = route.target.naming_user(governed::USER_EMAIL);
        (route, user, key)
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
        body: &'static str,
    ) -> Throughput {
        let cpu = self.cpu_time();
        let run = system.block_on(load::throughput(&self.target, concurrency, time, body));
        self.cpu += self.cpu_time() - cpu;
        self.sent += run.requests();
        run
    }

    /// Where its counters stand, for `cpu_per_request_since`.
    fn mark(&self) -> (Duration, u64) {
        (self.cpu, self.sent)
    }

    /// mindgate's CPU time per request sent since `mark`.
    fn cpu_per_request_since(&self, (cpu, sent): (Duration, u64)) -> Duration {
        let requests = u32::try_from(self.sent - sent).expect("request count");
        (self.cpu - cpu) / requests
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
    // Each held completion holds three of this process's descriptors (the
    // load generator's connection, the mock's end of it and the mock's end
    // of mindgate's), and closed ones linger: ask for four.
    let files =
        mindgate::startup::raise_open_files_limit().expect("cannot raise the open files limit");
    assert!(
        files >= 4 * HELD as u64,
        "the open files limit is {files}; {HELD} completions at once need {}: raise the hard limit (ulimit -Hn)",
        4 * HELD
    );
    let upstream = mock::start();
    let dir = tempfile::tempdir().expect("temporary directory");
    let system = System::new();
    // Logging on and off side by side, so that they take turns too.
    let (logged, key) = Route::mindgate(dir.path().join("logged.db"), upstream, true);
    let (unlogged, _) = Route::mindgate(dir.path().join("unlogged.db"), upstream, false);
    let (plain, _, _) = Route::for_user(dir.path().join("user.db"), upstream, false);
    let (governed, user, governed_key) =
        Route::for_user(dir.path().join("governed.db"), upstream, true);
    // Counters of windows that began after this are not checked.
    let since = jiff::Timestamp::now().as_millisecond();
    let mut routes = [
        Route::direct(upstream, &key),
        logged,
        unlogged,
        plain,
        governed,
    ];

    let c1 = level(&system, &mut routes, 1);
    let c32 = level(&system, &mut routes, 32);

    eprintln!("counters: the governed user's, against the completions sent");
    let [mut direct, mut logged, unlogged, plain, governed] = routes;
    let governed_sent = governed.sent;
    let governed = governed.instance.expect("a mindgate");
    let counters = system.block_on(governed::check_counters(
        &governed.mindgate.address.to_string(),
        &governed_key,
        user,
        governed_sent,
        &governed.db,
        since,
    ));
    governed.mindgate.stop();
    plain.instance.expect("a mindgate").mindgate.stop();

    eprintln!("streams: direct and through mindgate, in turns");
    direct.streams(&system, STREAM_WARMUP);
    logged.streams(&system, STREAM_WARMUP);
    let (mut direct_streams, mut logged_streams) = (Streams::default(), Streams::default());
    for _ in 0..ROUNDS {
        direct_streams.add(direct.streams(&system, STREAMS_PER_ROUND));
        logged_streams.add(logged.streams(&system, STREAMS_PER_ROUND));
    }

    let messages = passed::measure(
        &system,
        upstream,
        &dir.path().join("messages.db"),
        passed::MESSAGES,
    );
    let openai = passed::measure(
        &system,
        upstream,
        &dir.path().join("openai.db"),
        passed::OPENAI,
    );

    let held = held(&system, &mut direct, &mut logged);

    let sent_logging_on = logged.sent;
    let logged = logged.instance.expect("a mindgate");
    let unlogged = unlogged.instance.expect("a mindgate");
    let peak_rss_kib = logged.mindgate.peak_rss_kib();
    logged.mindgate.stop();
    unlogged.mindgate.stop();

    let results = Results {
        c1,
        c32,
        counters,
        streams: report::Pair {
            direct: direct_streams,
            through: logged_streams,
        },
        held,
        messages,
        openai,
        peak_rss_kib,
        chat_logs: ChatLogs {
            sent_logging_on,
            rows_logging_on: chat_log_rows(&logged.db),
            rows_logging_off: chat_log_rows(&unlogged.db),
        },
        context: format!(
            "{} cores; load average {load_before} before, {} after; \
             per concurrency and route {} s warm-up then {ROUNDS} turns of {:.1} s; \
             {} streams per route; {HELD} completions at once, answered after {} s, \
             one turn of warm-up then {HELD_ROUNDS} of {:.1} s per route; bench took {:.0} s.",
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            load_average(),
            WARMUP.as_secs(),
            SLICE.as_secs_f64(),
            ROUNDS * STREAMS_PER_ROUND,
            mock::HOLD.as_secs(),
            HELD_SLICE.as_secs_f64(),
            began.elapsed().as_secs_f64()
        ),
    };
    println!("\n{}", results.text());
    let markdown = target_dir().join("bench-gateway.md");
    std::fs::write(&markdown, results.markdown()).expect("cannot write the markdown report");
    println!("markdown: {}", markdown.display());
    assert!(
        results.counters.passed(),
        "the governed user's counters do not match the completions sent (see the checks above)"
    );
}

/// One concurrency: routes `[direct, logging on, logging off, a user
/// without policies, the same user governed]` warm up, then take turns.
fn level(system: &SystemRunner, routes: &mut [Route; 5], concurrency: usize) -> Level {
    eprintln!("concurrency {concurrency}: direct, through mindgate with chat logging on and off, a user without and with policies, in turns");
    let marks = routes.each_ref().map(Route::mark);
    for route in routes.iter_mut() {
        route.throughput(system, concurrency, WARMUP, BODY);
    }
    let mut measured: [Throughput; 5] = Default::default();
    for _ in 0..ROUNDS {
        for (route, total) in routes.iter_mut().zip(&mut measured) {
            total.add(route.throughput(system, concurrency, SLICE, BODY));
        }
    }
    let cpu = |i: usize| routes[i].cpu_per_request_since(marks[i]);
    let [direct, logged, unlogged, plain, governed] = measured;
    Level {
        direct,
        logged,
        unlogged,
        cpu_per_request: cpu(1),
        policies: Policies {
            without: plain,
            with: governed,
            cpu_without: cpu(3),
            cpu_with: cpu(4),
        },
    }
}

/// `HELD` completions at once, each answered after `mock::HOLD`, direct
/// and through mindgate (chat logging on), taking turns. The warm-up turn
/// lets mindgate open its upstream connections.
fn held(system: &SystemRunner, direct: &mut Route, through: &mut Route) -> Held {
    eprintln!(
        "{HELD} completions at once, answered after {} s: direct and through mindgate, in turns",
        mock::HOLD.as_secs()
    );
    let mark = through.mark();
    let (mut direct_runs, mut through_runs) = (Throughput::default(), Throughput::default());
    for round in 0..=HELD_ROUNDS {
        let d = direct.throughput(system, HELD, HELD_SLICE, HELD_BODY);
        let t = through.throughput(system, HELD, HELD_SLICE, HELD_BODY);
        if round > 0 {
            direct_runs.add(d);
            through_runs.add(t);
        }
    }
    assert!(
        direct_runs.latencies().percentile(0.01) >= mock::HOLD,
        "the mock did not hold its answers"
    );
    Held {
        direct: direct_runs,
        through: through_runs,
        cpu_per_request: through.cpu_per_request_since(mark),
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
