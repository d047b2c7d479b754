//! The APIs mindgate passes through byte for byte (Anthropic's Messages,
//! and OpenAI's Responses, embeddings and legacy completions), measured as
//! chat completions are: the mock's endpoint direct against mindgate's,
//! taking turns in short slices, whole at concurrency 1 and, for those that
//! stream, streamed; every answer checked, and a chat log for each request.

use std::net::SocketAddr;
use std::path::Path;

use actix_web::rt::SystemRunner;

use crate::load::{self, Api, Latencies, Streams, Target, Throughput};
use crate::report::{latency_rows, rps_row, Pair};
use crate::server::{self, Mindgate};
use crate::{messages, openai, responses};
use crate::{ROUNDS, SLICE, STREAMS_PER_ROUND, STREAM_WARMUP, WARMUP};

/// Anthropic's Messages API, on a mindgate of its own.
pub const MESSAGES: &[&Api] = &[&messages::MESSAGES];
/// OpenAI's other endpoints, on another.
pub const OPENAI: &[&Api] = &[
    &responses::RESPONSES,
    &openai::EMBEDDINGS,
    &openai::TEXT_COMPLETIONS,
];
/// All of them: the mock serves each at its path.
pub const APIS: [&Api; 4] = [MESSAGES[0], OPENAI[0], OPENAI[1], OPENAI[2]];

/// One API's answers, direct and through mindgate.
struct Measured {
    api: &'static Api,
    whole: Pair<Throughput>,
    streams: Option<Pair<Streams>>,
}

/// Some APIs, each measured through the same mindgate, and the chat logs
/// it wrote.
pub struct Group {
    measured: Vec<Measured>,
    /// Requests through mindgate, warm-ups included.
    sent: u64,
    rows: u64,
}

/// `apis` in turn, each on the mock and on a mindgate of their own (on a
/// database at `db`).
pub fn measure(
    system: &SystemRunner,
    upstream: SocketAddr,
    db: &Path,
    apis: &[&'static Api],
) -> Group {
    let key = server::create_key(db);
    let mindgate = Mindgate::start(db, upstream, true);
    let mut sent = 0;
    let measured = apis
        .iter()
        .map(|api| {
            eprintln!(
                "{}: whole at concurrency 1{}, direct and through mindgate, in turns",
                api.name,
                if api.stream.is_some() {
                    ", then streams"
                } else {
                    ""
                }
            );
            let routes = [
                Target::new(&format!("http://{upstream}"), api, &key),
                Target::new(&format!("http://{}/api", mindgate.address), api, &key),
            ];
            let (whole, through) = turns(&routes, WARMUP, SLICE, |target, slice| {
                let run = system.block_on(load::throughput(target, 1, slice, api.body));
                let requests = run.requests();
                (run, requests)
            });
            sent += through;
            let streams = api.stream.as_ref().map(|_| {
                let (streams, through) = turns(
                    &routes,
                    STREAM_WARMUP,
                    STREAMS_PER_ROUND,
                    |target, count| {
                        let run = system.block_on(load::streams(target, count));
                        let requests = run.count();
                        (run, requests)
                    },
                );
                sent += through;
                streams
            });
            Measured {
                api,
                whole,
                streams,
            }
        })
        .collect();
    mindgate.stop();
    Group {
        measured,
        sent,
        rows: crate::chat_log_rows(db),
    }
}

/// Direct and through mindgate take turns: one of `warmup`, then `ROUNDS`
/// of `each`. Returns what was measured after the warm-up and how many
/// requests went through mindgate in all.
fn turns<T: Default + Add, S: Copy>(
    [direct, through]: &[Target; 2],
    warmup: S,
    each: S,
    mut run: impl FnMut(&Target, S) -> (T, u64),
) -> (Pair<T>, u64) {
    let mut measured = Pair {
        direct: T::default(),
        through: T::default(),
    };
    let mut sent = 0;
    for round in 0..=ROUNDS {
        let size = if round == 0 { warmup } else { each };
        let (d, _) = run(direct, size);
        let (t, requests) = run(through, size);
        sent += requests;
        if round > 0 {
            measured.direct.add(d);
            measured.through.add(t);
        }
    }
    (measured, sent)
}

/// Runs that add up.
pub trait Add {
    fn add(&mut self, other: Self);
}

impl Add for Throughput {
    fn add(&mut self, other: Self) {
        Throughput::add(self, other);
    }
}

impl Add for Streams {
    fn add(&mut self, other: Self) {
        Streams::add(self, other);
    }
}

impl Measured {
    /// Latencies direct and through: whole answers, then a stream's first
    /// token and its end.
    fn latencies(&self) -> Vec<(String, Latencies, Latencies)> {
        let name = self.api.name;
        let mut pairs = vec![(
            format!("{name}, concurrency 1: latency"),
            self.whole.direct.latencies(),
            self.whole.through.latencies(),
        )];
        if let (Some(streams), Some(api)) = (&self.streams, &self.api.stream) {
            let (pieces, unit) = api.pieces;
            pairs.push((
                format!("{name} stream: first token"),
                streams.direct.first_token(),
                streams.through.first_token(),
            ));
            pairs.push((
                format!("{name} stream: all {pieces} {unit}"),
                streams.direct.total(),
                streams.through.total(),
            ));
        }
        pairs
    }
}

/// Added milliseconds at the median.
fn added_p50(direct: &Latencies, through: &Latencies) -> f64 {
    (through.percentile(0.5).as_secs_f64() - direct.percentile(0.5).as_secs_f64()) * 1e3
}

impl Group {
    pub fn rows(&self) -> Vec<[String; 4]> {
        let mut rows = Vec::new();
        for measured in &self.measured {
            let whole = &measured.whole;
            rows.push(rps_row(
                &format!("{}, concurrency 1", measured.api.name),
                &whole.direct,
                &whole.through,
            ));
            for (name, direct, through) in measured.latencies() {
                latency_rows(&name, &direct, &through, &mut rows);
            }
        }
        rows
    }

    /// The chat completions targets, for each API that streams (a chat),
    /// and the chat log check.
    pub fn targets(&self) -> Vec<(String, bool)> {
        let mut targets = Vec::new();
        for measured in &self.measured {
            let Some(streams) = &measured.streams else {
                continue;
            };
            let (name, whole) = (measured.api.name, &measured.whole);
            let p50 = added_p50(&whole.direct.latencies(), &whole.through.latencies());
            let ttft = added_p50(
                &streams.direct.first_token(),
                &streams.through.first_token(),
            );
            targets.push((
                format!("{name}: added latency at concurrency 1, p50 < 0.15 ms: {p50:+.3} ms"),
                p50 < 0.15,
            ));
            targets.push((
                format!("{name}: time to first token within 0.5 ms of direct (p50): {ttft:+.3} ms"),
                ttft < 0.5,
            ));
        }
        let names: Vec<&str> = self.measured.iter().map(|m| m.api.name).collect();
        targets.push((
            format!(
                "(check) {} chat logs: {} rows for {} requests",
                names.join(", "),
                self.rows,
                self.sent
            ),
            self.rows == self.sent,
        ));
        targets
    }
}
