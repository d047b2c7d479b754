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

/// Where requests go, with the headers every request carries.
pub struct Target {
    url: String,
    api_key: String,
    /// The user named in `X-User-Email`, if any.
    user_email: Option<&'static str>,
}

impl Target {
    pub fn new(url: String, api_key: &str) -> Target {
        Target {
            url,
            api_key: api_key.to_owned(),
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

/// One non-streamed completion; the answer must be the mock's, byte for byte.
async fn complete(target: &Target, client: &awc::Client, body: &'static str) {
    let mut response = target.send(client, body).await.expect("request failed");
    assert!(
        response.status().is_success(),
        "{} answered {}",
        target.url,
        response.status()
    );
    let body = response.body().await.expect("reading the answer failed");
    assert_eq!(body, COMPLETION.as_bytes(), "unexpected answer");
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

/// One streamed completion: the time to its first content chunk and to its
/// end. Every event must arrive, and the usage chunk mindgate asked for
/// must not.
async fn stream(target: &Target, client: &awc::Client) -> (Duration, Duration) {
    let start = Instant::now();
    let mut response = target
        .send(client, STREAM_BODY)
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
        if first_token.is_none() && mock::find(&received, br#""content":""#).is_some() {
            first_token = Some(start.elapsed());
        }
    }
    let total = start.elapsed();
    let events = received.windows(6).filter(|w| w == b"data: ").count();
    assert_eq!(events, mock::STREAM_CHUNKS + 1, "events in the stream");
    assert!(received.ends_with(b"data: [DONE]\n\n"), "stream not closed");
    (first_token.expect("no content in the stream"), total)
}
