//! The load generator: one code path for the direct and the through-mindgate
//! measurements, run on a single thread with async concurrency so it leaves
//! the other core to the servers.

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::future::join_all;
use futures_util::StreamExt;

use crate::mock::{self, COMPLETION};

pub const BODY: &str = r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello"}]}"#;
/// A completion the mock answers after `mock::HOLD` (it carries
/// `mock::HOLD_MARKER`).
pub const HELD_BODY: &str =
    r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello"}],"user":"hold"}"#;
const STREAM_BODY: &str =
    r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello"}],"stream":true}"#;

/// An API the mock speaks: what its clients send, and what its answers
/// are (the mock's, which must arrive unchanged).
pub struct Api {
    /// Its name in the tables.
    pub name: &'static str,
    /// Where the provider serves it; mindgate serves it at `/api` and
    /// the same path.
    pub path: &'static str,
    /// Headers its clients send with every request.
    pub headers: &'static [(&'static str, &'static str)],
    /// A request for a whole answer.
    pub body: &'static str,
    /// The whole answer, byte for byte.
    pub answer: fn() -> String,
    pub stream: Option<Streamed>,
}

/// How an API streams.
pub struct Streamed {
    pub body: &'static str,
    /// The provider's events, each ready for the wire.
    pub events: fn() -> Vec<String>,
    /// Found once the first token of a stream has come.
    pub first_token: &'static [u8],
    /// Events (`data:` lines) that reach the client.
    pub count: usize,
    /// How a stream ends.
    pub last: &'static [u8],
    /// What the answer's text comes in, and how many: "64 deltas".
    pub pieces: (usize, &'static str),
}

/// Chat completions: the usage chunk mindgate asks for must not reach the
/// client.
pub const CHAT: Api = Api {
    name: "chat completions",
    path: "/v1/chat/completions",
    headers: &[],
    body: BODY,
    answer: || COMPLETION.to_owned(),
    stream: Some(Streamed {
        body: STREAM_BODY,
        events: mock::chat_events,
        first_token: br#""content":""#,
        count: mock::STREAM_CHUNKS + 1,
        last: b"data: [DONE]\n\n",
        pieces: (mock::STREAM_CHUNKS, "chunks"),
    }),
};

/// Where requests go, with the headers every request carries.
pub struct Target {
    url: String,
    api_key: String,
    api: &'static Api,
    /// `api`'s whole answer.
    answer: String,
    /// The user named in `X-User-Email`, if any.
    user_email: Option<&'static str>,
}

impl Target {
    /// `api` at `origin` (the mock's, or mindgate's `/api`).
    pub fn new(origin: &str, api: &'static Api, api_key: &str) -> Target {
        Target {
            url: format!("{origin}{}", api.path),
            api_key: api_key.to_owned(),
            api,
            answer: (api.answer)(),
            user_email: None,
        }
    }

    /// Every request names this user.
    pub fn naming_user(self, email: &'static str) -> Target {
        Target {
            user_email: Some(email),
            ..self
        }
    }

    fn send(&self, client: &awc::Client, body: &'static str) -> awc::SendClientRequest {
        let mut request = client
            .post(&self.url)
            .insert_header(("x-api-key", self.api_key.as_str()))
            .insert_header(("content-type", "application/json"));
        if let Some(email) = self.user_email {
            request = request.insert_header(("x-user-email", email));
        }
        for header in self.api.headers {
            request = request.insert_header(*header);
        }
        request.send_body(Bytes::from_static(body.as_bytes()))
    }
}

/// One keep-alive connection per worker, reused for every request.
fn client() -> awc::Client {
    awc::Client::builder()
        .connector(awc::Connector::new().limit(1))
        .disable_timeout()
        .finish()
}

/// Latencies, sorted.
pub struct Latencies(Vec<Duration>);

impl Latencies {
    fn new(samples: &[Duration]) -> Latencies {
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        Latencies(sorted)
    }

    /// Nearest-rank percentile, `q` in (0, 1].
    pub fn percentile(&self, q: f64) -> Duration {
        let rank = (q * self.0.len() as f64).ceil() as usize;
        self.0[rank.clamp(1, self.0.len()) - 1]
    }
}

/// Closed-loop requests over one or more slices of time.
#[derive(Default)]
pub struct Throughput {
    latencies: Vec<Duration>,
    elapsed: Duration,
}

impl Throughput {
    pub fn requests(&self) -> u64 {
        self.latencies.len() as u64
    }

    pub fn rps(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    pub fn latencies(&self) -> Latencies {
        Latencies::new(&self.latencies)
    }

    pub fn add(&mut self, other: Throughput) {
        self.latencies.extend(other.latencies);
        self.elapsed += other.elapsed;
    }
}

/// `concurrency` workers for `duration`, each on its own connection,
/// sending its next request (`body`) as soon as the last one is answered.
pub async fn throughput(
    target: &Target,
    concurrency: usize,
    duration: Duration,
    body: &'static str,
) -> Throughput {
    let started = Instant::now();
    let stop_at = started + duration;
    let workers = (0..concurrency).map(|_| async move {
        let client = client();
        let mut latencies = Vec::new();
        loop {
            let start = Instant::now();
            if start >= stop_at {
                return latencies;
            }
            complete(target, &client, body).await;
            latencies.push(start.elapsed());
        }
    });
    let latencies = join_all(workers).await.concat();
    Throughput {
        latencies,
        elapsed: started.elapsed(),
    }
}

/// One non-streamed answer; it must be the mock's, byte for byte.
async fn complete(target: &Target, client: &awc::Client, body: &'static str) {
    let mut response = target.send(client, body).await.expect("request failed");
    assert!(
        response.status().is_success(),
        "{} answered {}",
        target.url,
        response.status()
    );
    let body = response.body().await.expect("reading the answer failed");
    assert_eq!(body, target.answer.as_bytes(), "unexpected answer");
}

/// Sequential streams over one connection.
#[derive(Default)]
pub struct Streams {
    first_token: Vec<Duration>,
    total: Vec<Duration>,
}

impl Streams {
    pub fn count(&self) -> u64 {
        self.total.len() as u64
    }

    pub fn first_token(&self) -> Latencies {
        Latencies::new(&self.first_token)
    }

    pub fn total(&self) -> Latencies {
        Latencies::new(&self.total)
    }

    pub fn add(&mut self, other: Streams) {
        self.first_token.extend(other.first_token);
        self.total.extend(other.total);
    }
}

pub async fn streams(target: &Target, count: usize) -> Streams {
    let client = client();
    let mut streams = Streams::default();
    for _ in 0..count {
        let (first, all) = stream(target, &client).await;
        streams.first_token.push(first);
        streams.total.push(all);
    }
    streams
}

/// One streamed answer: the time to its first content event and to its
/// end. Every event must arrive, and nothing else.
async fn stream(target: &Target, client: &awc::Client) -> (Duration, Duration) {
    let api = target.api.stream.as_ref().expect("an API that streams");
    let start = Instant::now();
    let mut response = target
        .send(client, api.body)
        .await
        .expect("stream request failed");
    assert!(
        response.status().is_success(),
        "{} answered {}",
        target.url,
        response.status()
    );
    let mut received = Vec::with_capacity(32 << 10);
    let mut first_token = None;
    while let Some(chunk) = response.next().await {
        received.extend_from_slice(&chunk.expect("reading the stream failed"));
        if first_token.is_none() && mock::find(&received, api.first_token).is_some() {
            first_token = Some(start.elapsed());
        }
    }
    let total = start.elapsed();
    let events = received.windows(6).filter(|w| w == b"data: ").count();
    assert_eq!(events, api.count, "events in the stream");
    assert!(received.ends_with(api.last), "stream not closed");
    (first_token.expect("no content in the stream"), total)
}
