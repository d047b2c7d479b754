//! The mock upstream: a minimal HTTP/1.1 server on one thread that speaks
//! OpenAI's chat completions and every API that mindgate passes through
//! (`passed::APIS`). It is bare tokio so that it costs as little CPU as
//! possible, and so that each stream event goes out in its own write, as a
//! real provider's tokens do. It answers at once, or after `HOLD` when a
//! chat completion asks for it (as a model takes its time).

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::load::{Api, CHAT};
use crate::passed;

/// How long a request that carries `HOLD_MARKER` waits for its answer.
pub const HOLD: Duration = Duration::from_secs(1);
/// A parameter that mindgate passes on unchanged.
pub const HOLD_MARKER: &str = r#""user":"hold""#;

/// Events in a streamed answer, `[DONE]` and the usage chunk aside.
pub const STREAM_CHUNKS: usize = 64;

/// The whole (non-streamed) answer, about 400 bytes.
pub const COMPLETION: &str = concat!(
    r#"{"id":"chatcmpl-BbnchQ7xv2mKp9TzRw4LdYc8NfE3","object":"chat.completion","#,
    r#""created":1764172800,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"#,
    r#""message":{"role":"assistant","content":"Hello! How can I help you today? "#,
    r#"Ask me anything.","refusal":null,"annotations":[]},"logprobs":null,"#,
    r#""finish_reason":"stop"}],"usage":{"prompt_tokens":8,"completion_tokens":12,"#,
    r#""total_tokens":20,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0}},"#,
    r#""service_tier":"default","system_fingerprint":"fp_b376dfbbd5"}"#
);

const CHUNK_HEAD: &str = concat!(
    r#"{"id":"chatcmpl-BbnchQ7xv2mKp9TzRw4LdYc8NfE3","object":"chat.completion.chunk","#,
    r#""created":1764172800,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","#,
    r#""system_fingerprint":"fp_b376dfbbd5","choices":"#
);

/// The words of every streamed answer's text, one a delta: "Hello", then
/// these in turn.
const WORDS: [&str; 8] = [
    " The", " quick", " brown", " fox", " jumps", " over", " lazy", " dogs",
];

/// The `i`th delta of a streamed answer's text.
pub fn word(i: usize) -> &'static str {
    if i == 0 {
        "Hello"
    } else {
        WORDS[i % WORDS.len()]
    }
}

/// A server-sent event with a name, as Anthropic's and OpenAI's Responses
/// streams have them.
pub fn named_event(name: &str, data: &str) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

fn chunk(choices: &str, tail: &str) -> String {
    format!("data: {CHUNK_HEAD}{choices}{tail}}}\n\n")
}

/// A streamed chat completion's chunks, the usage chunk and `[DONE]` aside.
pub fn chat_events() -> Vec<String> {
    (0..STREAM_CHUNKS)
        .map(|i| match i {
            0 => chunk(
                r#"[{"index":0,"delta":{"role":"assistant","content":"Hello","refusal":null},"logprobs":null,"finish_reason":null}]"#,
                "",
            ),
            i if i == STREAM_CHUNKS - 1 => chunk(
                r#"[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]"#,
                "",
            ),
            i => chunk(
                &format!(
                    r#"[{{"index":0,"delta":{{"content":"{}"}},"logprobs":null,"finish_reason":null}}]"#,
                    word(i)
                ),
                "",
            ),
        })
        .collect()
}

/// An API's answers, framed for the wire.
struct Framed {
    whole: Vec<u8>,
    /// Chunks of a chunked body; empty for an API that does not stream.
    events: Vec<Vec<u8>>,
}

impl Framed {
    fn new(api: &Api) -> Framed {
        let whole = (api.answer)();
        let events = api.stream.as_ref().map_or_else(Vec::new, |stream| {
            (stream.events)().iter().map(|e| sse_frame(e)).collect()
        });
        Framed {
            whole: format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{whole}",
                whole.len()
            )
            .into_bytes(),
            events,
        }
    }
}

/// Every answer, framed for the wire once at start.
struct Answers {
    chat: Framed,
    usage: Vec<u8>,
    done: Vec<u8>,
    /// `passed::APIS`', in order (each stream's last event ends its body).
    passed: Vec<Framed>,
}

const STREAM_HEAD: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n";
const BODY_END: &[u8] = b"0\r\n\r\n";

impl Answers {
    fn new() -> Answers {
        let usage = sse_frame(&chunk(
            "[]",
            r#","usage":{"prompt_tokens":8,"completion_tokens":63,"total_tokens":71}"#,
        ));
        let mut done = sse_frame("data: [DONE]\n\n");
        done.extend_from_slice(BODY_END);
        let passed = passed::APIS
            .iter()
            .map(|api| {
                let mut framed = Framed::new(api);
                if let Some(last) = framed.events.last_mut() {
                    last.extend_from_slice(BODY_END);
                }
                framed
            })
            .collect();
        Answers {
            chat: Framed::new(&CHAT),
            usage,
            done,
            passed,
        }
    }
}

/// One chunk of a chunked body.
fn sse_frame(event: &str) -> Vec<u8> {
    format!("{:x}\r\n{event}\r\n", event.len()).into_bytes()
}

/// Starts the mock on 127.0.0.1 on its own thread; it lives as long as the
/// process.
pub fn start() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("mock: bind 127.0.0.1:0");
    let address = listener.local_addr().expect("mock: local address");
    // A thousand connections at once: none may wait for a SYN retry.
    socket2::SockRef::from(&listener)
        .listen(i32::MAX)
        .expect("mock: listen backlog");
    listener
        .set_nonblocking(true)
        .expect("mock: non-blocking listener");
    let answers = Arc::new(Answers::new());
    std::thread::Builder::new()
        .name("mock-upstream".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .enable_time()
                .build()
                .expect("mock: tokio runtime");
            runtime.block_on(async move {
                let listener =
                    tokio::net::TcpListener::from_std(listener).expect("mock: tokio listener");
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    // Each event must leave as soon as it is written.
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(serve(stream, answers.clone()));
                }
            });
        })
        .expect("mock: thread");
    address
}

enum Request {
    Chat {
        stream: bool,
        include_usage: bool,
        hold: bool,
    },
    /// To the `passed::APIS` at this index.
    Passed {
        index: usize,
        stream: bool,
    },
    Unknown,
}

/// Serves one keep-alive connection until the client closes it.
async fn serve(mut stream: TcpStream, answers: Arc<Answers>) {
    let mut buffer = Vec::with_capacity(8192);
    while let Some(request) = read_request(&mut stream, &mut buffer).await {
        let written = match request {
            Request::Unknown => {
                stream
                    .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
                    .await
            }
            Request::Passed {
                index,
                stream: streamed,
            } => write_answer(&mut stream, &answers.passed[index], streamed).await,
            Request::Chat {
                stream: true,
                include_usage,
                ..
            } => write_chat_stream(&mut stream, &answers, include_usage).await,
            Request::Chat { hold, .. } => {
                if hold {
                    tokio::time::sleep(HOLD).await;
                }
                stream.write_all(&answers.chat.whole).await
            }
        };
        if written.is_err() {
            return;
        }
    }
}

async fn write_chat_stream(
    stream: &mut TcpStream,
    answers: &Answers,
    include_usage: bool,
) -> std::io::Result<()> {
    stream.write_all(STREAM_HEAD).await?;
    for event in &answers.chat.events {
        stream.write_all(event).await?;
    }
    // Like OpenAI: the usage chunk only when `stream_options` asks for it.
    if include_usage {
        stream.write_all(&answers.usage).await?;
    }
    stream.write_all(&answers.done).await
}

async fn write_answer(
    stream: &mut TcpStream,
    answer: &Framed,
    streamed: bool,
) -> std::io::Result<()> {
    if !streamed {
        return stream.write_all(&answer.whole).await;
    }
    stream.write_all(STREAM_HEAD).await?;
    for event in &answer.events {
        stream.write_all(event).await?;
    }
    Ok(())
}

/// Reads the next whole request (head and `content-length` body) off the
/// connection; `None` once it is closed.
async fn read_request(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<Request> {
    loop {
        if let Some(head_end) = find(buffer, b"\r\n\r\n") {
            let head = std::str::from_utf8(&buffer[..head_end]).ok()?;
            let length = head
                .lines()
                .filter_map(|line| line.split_once(':'))
                .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, value)| value.trim().parse::<usize>().ok())
                .unwrap_or(0);
            let end = head_end + 4 + length;
            if buffer.len() >= end {
                let body = &buffer[head_end + 4..end];
                let stream = find(body, br#""stream":true"#).is_some();
                let posted = |api: &Api| {
                    head.strip_prefix("POST ")
                        .and_then(|rest| rest.strip_prefix(api.path))
                        .is_some_and(|rest| rest.starts_with(' '))
                };
                let request = if posted(&CHAT) {
                    Request::Chat {
                        stream,
                        include_usage: find(body, br#""include_usage":true"#).is_some(),
                        hold: find(body, HOLD_MARKER.as_bytes()).is_some(),
                    }
                } else if let Some(index) = passed::APIS.iter().position(|api| posted(api)) {
                    Request::Passed { index, stream }
                } else {
                    Request::Unknown
                };
                buffer.drain(..end);
                return Some(request);
            }
        }
        match stream.read_buf(buffer).await {
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}
