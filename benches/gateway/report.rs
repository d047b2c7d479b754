//! The results as a table and a PASS/MISS line per target, printed and
//! written as markdown for the README.

use std::fmt::Write;
use std::time::Duration;

use crate::governed::CounterCheck;
use crate::load::{Latencies, Streams, Throughput, CHAT};
use crate::passed::Group;
use crate::HELD;

pub struct Pair<T> {
    pub direct: T,
    pub through: T,
}

/// One concurrency: direct, and through mindgate with chat logging on and
/// off.
pub struct Level {
    pub direct: Throughput,
    pub logged: Throughput,
    pub unlogged: Throughput,
    /// mindgate's CPU time per request, chat logging on.
    pub cpu_per_request: Duration,
    pub policies: Policies,
}

/// One user's completions through a mindgate with no policy, and through
/// one where everyone, the user's three tags and the user have policies
/// (five limits); chat logging on in both.
pub struct Policies {
    pub without: Throughput,
    pub with: Throughput,
    pub cpu_without: Duration,
    pub cpu_with: Duration,
}

/// Many completions at once, each answered after a while: direct, and
/// through mindgate with chat logging on.
pub struct Held {
    pub direct: Throughput,
    pub through: Throughput,
    /// mindgate's CPU time per request.
    pub cpu_per_request: Duration,
}

pub struct Results {
    pub c1: Level,
    pub c32: Level,
    /// The governed user's counters after the concurrency-32 turns.
    pub counters: CounterCheck,
    pub streams: Pair<Streams>,
    pub held: Held,
    /// Anthropic's Messages API, passed through.
    pub messages: Group,
    /// OpenAI's Responses, embeddings and legacy completions, passed
    /// through.
    pub openai: Group,
    /// mindgate's, over the whole run.
    pub peak_rss_kib: u64,
    pub chat_logs: ChatLogs,
    /// Where the run happened, and how long it took.
    pub context: String,
}

/// Rows in `chat_logs` against what was sent through mindgate.
pub struct ChatLogs {
    pub sent_logging_on: u64,
    pub rows_logging_on: u64,
    pub rows_logging_off: u64,
}

const HEADER: [&str; 4] = ["", "direct", "through mindgate", "added / ratio"];
const MESSAGES_HEADER: [&str; 4] = [
    "Messages API",
    "direct",
    "through mindgate",
    "added / ratio",
];
const OPENAI_HEADER: [&str; 4] = [
    "other OpenAI endpoints",
    "direct",
    "through mindgate",
    "added / ratio",
];
const POLICY_HEADER: [&str; 4] = [
    "one user (3 tags)",
    "no policy",
    "5 limits",
    "added / ratio",
];

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1e3)
}

fn added_ms(direct: Duration, through: Duration) -> String {
    format!(
        "{:+.3} ms",
        (through.as_secs_f64() - direct.as_secs_f64()) * 1e3
    )
}

fn ratio(direct: f64, through: f64) -> String {
    format!("×{:.2}", through / direct)
}

/// Requests/s direct and through mindgate, and their ratio.
pub fn rps_row(name: &str, direct: &Throughput, through: &Throughput) -> [String; 4] {
    let (direct, through) = (direct.rps(), through.rps());
    [
        format!("{name}: requests/s"),
        format!("{direct:.0}"),
        format!("{through:.0}"),
        ratio(direct, through),
    ]
}

/// The median and 99th percentile direct and through mindgate, and what
/// mindgate adds.
pub fn latency_rows(
    name: &str,
    direct: &Latencies,
    through: &Latencies,
    rows: &mut Vec<[String; 4]>,
) {
    for (label, q) in [("p50", 0.5), ("p99", 0.99)] {
        let (d, t) = (direct.percentile(q), through.percentile(q));
        rows.push([format!("{name} {label} (ms)"), ms(d), ms(t), added_ms(d, t)]);
    }
}

/// Requests/s, latency and mindgate's CPU per request, direct and through
/// mindgate.
fn throughput_rows(
    name: &str,
    direct: &Throughput,
    through: &Throughput,
    cpu_per_request: Duration,
    rows: &mut Vec<[String; 4]>,
) {
    rows.push(rps_row(name, direct, through));
    latency_rows(
        &format!("{name}: latency"),
        &direct.latencies(),
        &through.latencies(),
        rows,
    );
    rows.push([
        format!("{name}: mindgate CPU per request (µs)"),
        "–".into(),
        format!("{:.0}", cpu_per_request.as_secs_f64() * 1e6),
        String::new(),
    ]);
}

fn level_rows(concurrency: usize, level: &Level, rows: &mut Vec<[String; 4]>) {
    let name = format!("concurrency {concurrency}");
    throughput_rows(
        &name,
        &level.direct,
        &level.logged,
        level.cpu_per_request,
        rows,
    );
    rows.push([
        format!("{name}: requests/s, chat logging off"),
        "–".into(),
        format!("{:.0}", level.unlogged.rps()),
        format!("on/off {}", ratio(level.unlogged.rps(), level.logged.rps())),
    ]);
}

/// The same user without and with policies: requests/s, median latency
/// and mindgate's CPU per request.
fn policy_rows(concurrency: usize, policies: &Policies, rows: &mut Vec<[String; 4]>) {
    let name = format!("concurrency {concurrency}");
    let (without, with) = (policies.without.rps(), policies.with.rps());
    rows.push([
        format!("{name}: requests/s"),
        format!("{without:.0}"),
        format!("{with:.0}"),
        ratio(without, with),
    ]);
    let (without, with) = (
        policies.without.latencies().percentile(0.5),
        policies.with.latencies().percentile(0.5),
    );
    rows.push([
        format!("{name}: latency p50 (ms)"),
        ms(without),
        ms(with),
        added_ms(without, with),
    ]);
    let micros = |d: Duration| d.as_secs_f64() * 1e6;
    let (without, with) = (micros(policies.cpu_without), micros(policies.cpu_with));
    rows.push([
        format!("{name}: mindgate CPU per request (µs)"),
        format!("{without:.1}"),
        format!("{with:.1}"),
        format!("{:+.1} µs", with - without),
    ]);
}

/// The held phase's name in the table and the targets.
fn held_name() -> String {
    format!(
        "{HELD} at once, answered after {} s",
        crate::mock::HOLD.as_secs()
    )
}

impl Results {
    fn rows(&self) -> Vec<[String; 4]> {
        let mut rows = Vec::new();
        level_rows(1, &self.c1, &mut rows);
        level_rows(32, &self.c32, &mut rows);
        let streams = &self.streams;
        latency_rows(
            "stream: first token",
            &streams.direct.first_token(),
            &streams.through.first_token(),
            &mut rows,
        );
        let (pieces, unit) = CHAT.stream.as_ref().expect("chats stream").pieces;
        latency_rows(
            &format!("stream: all {pieces} {unit}"),
            &streams.direct.total(),
            &streams.through.total(),
            &mut rows,
        );
        let held = &self.held;
        throughput_rows(
            &held_name(),
            &held.direct,
            &held.through,
            held.cpu_per_request,
            &mut rows,
        );
        rows.push([
            "mindgate peak RSS (MiB)".into(),
            "–".into(),
            format!("{:.1}", self.peak_rss_kib as f64 / 1024.0),
            String::new(),
        ]);
        rows
    }

    fn policy_rows(&self) -> Vec<[String; 4]> {
        let mut rows = Vec::new();
        policy_rows(1, &self.c1.policies, &mut rows);
        policy_rows(32, &self.c32.policies, &mut rows);
        rows
    }

    /// Each target with what was measured, and whether it was met.
    fn targets(&self) -> Vec<(String, bool)> {
        let added_ms = |direct: Latencies, through: Latencies, q| {
            (through.percentile(q).as_secs_f64() - direct.percentile(q).as_secs_f64()) * 1e3
        };
        let c1 = &self.c1;
        let p50 = added_ms(c1.direct.latencies(), c1.logged.latencies(), 0.5);
        let p99 = added_ms(c1.direct.latencies(), c1.logged.latencies(), 0.99);
        let share = self.c32.logged.rps() / self.c32.direct.rps();
        let streams = &self.streams;
        let ttft = added_ms(
            streams.direct.first_token(),
            streams.through.first_token(),
            0.5,
        );
        let logging_cost = 1.0 - self.c32.logged.rps() / self.c32.unlogged.rps();
        let held = &self.held;
        let held_share = held.through.rps() / held.direct.rps();
        let held_p99 = added_ms(held.direct.latencies(), held.through.latencies(), 0.99);
        let rss_mib = self.peak_rss_kib as f64 / 1024.0;
        let logs = &self.chat_logs;
        let policies = &self.c1.policies;
        let policy_p50 = added_ms(policies.without.latencies(), policies.with.latencies(), 0.5);
        let mut targets = vec![
            (
                format!("added latency at concurrency 1, p50 < 0.15 ms: {p50:+.3} ms"),
                p50 < 0.15,
            ),
            (
                format!("added latency at concurrency 1, p99 < 0.5 ms: {p99:+.3} ms"),
                p99 < 0.5,
            ),
            (
                format!(
                    "throughput at concurrency 32 ≥ half of direct: {:.0}%",
                    share * 100.0
                ),
                share >= 0.5,
            ),
            (
                format!("time to first token within 0.5 ms of direct (p50): {ttft:+.3} ms"),
                ttft < 0.5,
            ),
            (
                format!(
                    "chat logging costs < 10% throughput (concurrency 32): {:.1}%",
                    logging_cost * 100.0
                ),
                logging_cost < 0.10,
            ),
            (
                format!(
                    "{}: throughput ≥ 0.95 of direct: ×{held_share:.3}",
                    held_name()
                ),
                held_share >= 0.95,
            ),
            (
                format!(
                    "{}: p99 within 50 ms of direct: {held_p99:+.1} ms",
                    held_name()
                ),
                held_p99 <= 50.0,
            ),
            (
                format!("mindgate peak RSS < 150 MiB: {rss_mib:.1} MiB"),
                rss_mib < 150.0,
            ),
            (
                format!(
                    "(check) chat logs: {} rows for {} completions with logging on, {} with it off",
                    logs.rows_logging_on, logs.sent_logging_on, logs.rows_logging_off
                ),
                logs.rows_logging_on == logs.sent_logging_on && logs.rows_logging_off == 0,
            ),
            (
                format!(
                    "policy check (3 tags, 5 limits) at concurrency 1, added p50 ≤ 0.02 ms: {policy_p50:+.3} ms"
                ),
                policy_p50 <= 0.02,
            ),
        ];
        targets.extend(
            self.counters
                .lines
                .iter()
                .map(|(line, ok)| (format!("(check) counter after concurrency 32: {line}"), *ok)),
        );
        targets.extend(self.messages.targets());
        targets.extend(self.openai.targets());
        targets
    }

    /// The tables, each with its header.
    fn tables(&self) -> [([&'static str; 4], Vec<[String; 4]>); 4] {
        [
            (HEADER, self.rows()),
            (POLICY_HEADER, self.policy_rows()),
            (MESSAGES_HEADER, self.messages.rows()),
            (OPENAI_HEADER, self.openai.rows()),
        ]
    }

    pub fn text(&self) -> String {
        let mut out = String::new();
        for (header, rows) in self.tables() {
            out.push_str(&text_table(header, &rows));
            out.push('\n');
        }
        for (target, pass) in self.targets() {
            let _ = writeln!(out, "{}  {target}", verdict(pass));
        }
        let _ = writeln!(out, "\n{}", self.context);
        out
    }

    pub fn markdown(&self) -> String {
        let mut out = String::new();
        for (header, rows) in self.tables() {
            out.push_str(&markdown_table(header, &rows));
            out.push('\n');
        }
        for (target, pass) in self.targets() {
            let _ = writeln!(out, "- **{}** {target}", verdict(pass));
        }
        let _ = writeln!(out, "\n{}", self.context);
        out
    }
}

/// Aligned columns: names left, numbers right.
fn text_table(header: [&str; 4], rows: &[[String; 4]]) -> String {
    let mut widths = header.map(|h| h.chars().count());
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header = header.map(String::from);
    for row in std::iter::once(&header).chain(rows) {
        let (name, numbers) = row.split_first().expect("four cells");
        let _ = write!(out, "{name:<0$}", widths[0]);
        for (cell, width) in numbers.iter().zip(&widths[1..]) {
            let _ = write!(out, "  {cell:>width$}");
        }
        out.push('\n');
    }
    out
}

fn markdown_table(header: [&str; 4], rows: &[[String; 4]]) -> String {
    let line = |cells: &[String]| format!("| {} |\n", cells.join(" | "));
    let mut out = line(&header.map(String::from));
    out.push_str("| --- | ---: | ---: | ---: |\n");
    for row in rows {
        out.push_str(&line(row));
    }
    out
}

fn verdict(pass: bool) -> &'static str {
    if pass {
        "PASS"
    } else {
        "MISS"
    }
}
