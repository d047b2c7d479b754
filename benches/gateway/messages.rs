//! The Anthropic Messages API: the mock's answers on `/v1/messages`, and
//! the same measurements as for chat completions (whole at concurrency 1,
//! streams), direct and through mindgate's `/api/v1/messages`, which
//! passes the mock's answers through byte for byte.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use actix_web::rt::SystemRunner;

use crate::load::{self, Api, Latencies, Streams, Target, Throughput};
use crate::report::{added_ms, ms, Pair};
use crate::server::{self, Mindgate};
use crate::{ROUNDS, SLICE, STREAMS_PER_ROUND, STREAM_WARMUP, WARMUP};

pub const BODY: &str = r#"{"model":"claude-haiku-4-5","max_tokens":1024,"messages":[{"role":"user","content":"Hello"}]}"#;
const STREAM_BODY: &str = r#"{"model":"claude-haiku-4-5","max_tokens":1024,"messages":[{"role":"user","content":"Hello"}],"stream":true}"#;

/// The whole answer, about 400 bytes.
pub const MESSAGE: &str = concat!(
    r#"{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant","#,
    r#""model":"claude-haiku-4-5-20251001","content":[{"type":"text","#,
    r#""text":"Hello! How can I help you today? Ask me anything."}],"#,
    r#""stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":8,"#,
    r#""cache_creation_input_tokens":0,"cache_read_input_tokens":0,"#,
    r#""output_tokens":12,"service_tier":"standard"}}"#
);

/// Text deltas in a streamed answer, as many as chat completions' chunks.
const TEXT_DELTAS: usize = crate::mock::STREAM_CHUNKS;

const WORDS: [&str; 8] = [
    " The", " quick", " brown", " fox", " jumps", " over", " lazy", " dogs",
];

/// A streamed answer's events, as Anthropic sends them: its text in
/// `TEXT_DELTAS` deltas between the message's and the block's starts and
/// ends, and a ping.
pub fn events() -> Vec<String> {
    let event = |name: &str, data: String| format!("event: {name}\ndata: {data}\n\n");
    let mut events = vec![
        event(
            "message_start",
            concat!(
                r#"{"type":"message_start","message":{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","#,
                r#""type":"message","role":"assistant","model":"claude-haiku-4-5-20251001","#,
                r#""content":[],"stop_reason":null,"stop_sequence":null,"usage":{"#,
                r#""input_tokens":8,"cache_creation_input_tokens":0,"#,
                r#""cache_read_input_tokens":0,"output_tokens":1,"service_tier":"standard"}}}"#
            )
            .to_owned(),
        ),
        event(
            "content_block_start",
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#
                .to_owned(),
        ),
        event("ping", r#"{"type": "ping"}"#.to_owned()),
    ];
    for i in 0..TEXT_DELTAS {
        let text = if i == 0 {
            "Hello"
        } else {
            WORDS[i % WORDS.len()]
        };
        events.push(event(
            "content_block_delta",
            format!(
                r#"{{"type":"content_block_delta","index":0,"delta":{{"type":"text_delta","text":"{text}"}}}}"#
            ),
        ));
    }
    events.push(event(
        "content_block_stop",
        r#"{"type":"content_block_stop","index":0}"#.to_owned(),
    ));
    events.push(event(
        "message_delta",
        r#"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":63}}"#
            .to_owned(),
    ));
    events.push(event(
        "message_stop",
        r#"{"type":"message_stop"}"#.to_owned(),
    ));
    events
}

/// What the load generator sends and expects on the Messages API.
pub const MESSAGES: Api = Api {
    headers: &[("anthropic-version", "2023-06-01")],
    answer: MESSAGE,
    stream_body: STREAM_BODY,
    first_token: br#""text_delta""#,
    // The text deltas, and six more: the message's and the block's starts
    // and ends, its delta and a ping.
    events: TEXT_DELTAS + 6,
    last: b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
};

/// Whole answers at concurrency 1 and streams, direct and through
/// mindgate (chat logging on), and the chat logs it wrote.
pub struct Measured {
    whole: Pair<Throughput>,
    streams: Pair<Streams>,
    sent: u64,
    rows: u64,
}

/// The mock's `/v1/messages` and the `/api/v1/messages` of a mindgate of
/// its own (on a database at `db`) take turns, as the chat completions
/// routes do.
pub fn measure(system: &SystemRunner, upstream: SocketAddr, db: &Path) -> Measured {
    eprintln!(
        "messages: whole at concurrency 1, then streams, direct and through mindgate, in turns"
    );
    let key = server::create_key(db);
    let mindgate = Mindgate::start(db, upstream, true);
    let direct = Target::new(format!("http://{upstream}/v1/messages"), &key).speaking(&MESSAGES);
    let through = Target::new(format!("http://{}/api/v1/messages", mindgate.address), &key)
        .speaking(&MESSAGES);
    let routes = [&direct, &through];
    // Requests through mindgate, warm-ups included: each is a chat log.
    let mut sent = 0;
    // The first turn warms up.
    let mut whole: [Throughput; 2] = Default::default();
    for round in 0..=ROUNDS {
        let slice = if round == 0 { WARMUP } else { SLICE };
        for (i, target) in routes.iter().enumerate() {
            let run = system.block_on(load::throughput(target, 1, slice, BODY));
            sent += if i == 1 { run.requests() } else { 0 };
            if round > 0 {
                whole[i].add(run);
            }
        }
    }
    let mut streams: [Streams; 2] = Default::default();
    for round in 0..=ROUNDS {
        let count = if round == 0 {
            STREAM_WARMUP
        } else {
            STREAMS_PER_ROUND
        };
        for (i, target) in routes.iter().enumerate() {
            let run = system.block_on(load::streams(target, count));
            sent += if i == 1 { run.count() } else { 0 };
            if round > 0 {
                streams[i].add(run);
            }
        }
    }
    mindgate.stop();
    let [direct_whole, through_whole] = whole;
    let [direct_streams, through_streams] = streams;
    Measured {
        whole: Pair {
            direct: direct_whole,
            through: through_whole,
        },
        streams: Pair {
            direct: direct_streams,
            through: through_streams,
        },
        sent,
        rows: crate::chat_log_rows(db),
    }
}

impl Measured {
    fn pairs(&self) -> [(String, Latencies, Latencies); 3] {
        let (whole, streams) = (&self.whole, &self.streams);
        [
            (
                "messages, concurrency 1: latency".into(),
                whole.direct.latencies(),
                whole.through.latencies(),
            ),
            (
                "messages stream: first token".into(),
                streams.direct.first_token(),
                streams.through.first_token(),
            ),
            (
                format!("messages stream: all {TEXT_DELTAS} deltas"),
                streams.direct.total(),
                streams.through.total(),
            ),
        ]
    }

    pub fn rows(&self, rows: &mut Vec<[String; 4]>) {
        let whole = &self.whole;
        rows.push([
            "messages, concurrency 1: requests/s".into(),
            format!("{:.0}", whole.direct.rps()),
            format!("{:.0}", whole.through.rps()),
            format!("×{:.2}", whole.through.rps() / whole.direct.rps()),
        ]);
        for (name, direct, through) in self.pairs() {
            for (label, q) in [("p50", 0.5), ("p99", 0.99)] {
                let (d, t) = (direct.percentile(q), through.percentile(q));
                rows.push([format!("{name} {label} (ms)"), ms(d), ms(t), added_ms(d, t)]);
            }
        }
    }

    /// The chat completions targets, for the Messages API.
    pub fn targets(&self) -> Vec<(String, bool)> {
        let added = |direct: &Latencies, through: &Latencies| -> f64 {
            let (d, t): (Duration, Duration) = (direct.percentile(0.5), through.percentile(0.5));
            (t.as_secs_f64() - d.as_secs_f64()) * 1e3
        };
        let [(_, dw, tw), (_, df, tf), _] = self.pairs();
        let (p50, ttft) = (added(&dw, &tw), added(&df, &tf));
        vec![
            (
                format!("messages: added latency at concurrency 1, p50 < 0.15 ms: {p50:+.3} ms"),
                p50 < 0.15,
            ),
            (
                format!(
                    "messages: time to first token within 0.5 ms of direct (p50): {ttft:+.3} ms"
                ),
                ttft < 0.5,
            ),
            (
                format!(
                    "(check) messages chat logs: {} rows for {} requests",
                    self.rows, self.sent
                ),
                self.rows == self.sent,
            ),
        ]
    }
}
