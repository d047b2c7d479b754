//! A mock model provider on 127.0.0.1:0 that speaks OpenAI chat completions
//! (`/v1/chat/completions`, and legacy `/v1/completions` when told to),
//! OpenAI's Responses API (`/v1/responses`, which it may be told not to
//! serve: a 404 then) and Anthropic Messages (`/v1/messages`, and its
//! `/v1/messages/count_tokens`), as JSON and as SSE, lists its models
//! (`/v1/models`: OpenAI's list, or Anthropic's pages to a request with
//! `anthropic-version`; the ids as set), makes OpenAI embeddings
//! (`/v1/embeddings`), and fails on demand: a queue of faults, one per request,
//! or every key refused but one. Its usage may report prompt cache tokens,
//! or be left out. Its answers are text, or (`MockAnswer::Full`) thinking,
//! text and a tool call, streamed with every event each vendor sends; the
//! latest answer's bytes are kept, to compare with what a client got.

use std::collections::VecDeque;
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use bytes::Bytes;
use futures_util::stream;
use serde_json::{json, Value};

/// The mock's answer: three words, streamed one per event.
pub const REPLY_WORDS: [&str; 3] = ["Hello", " there,", " friend!"];
pub const REPLY: &str = "Hello there, friend!";
pub const PROMPT_TOKENS: i64 = 11;
pub const COMPLETION_TOKENS: i64 = 3;

/// What the next request gets instead of a normal answer.
#[derive(Debug, Clone)]
pub enum Fault {
    /// This status, with `Retry-After` when given, and an error body.
    Status {
        code: u16,
        retry_after: Option<&'static str>,
        message: &'static str,
    },
    /// Nothing at all for this long, then a normal answer.
    StallHead(Duration),
    /// A stream that breaks its connection after this many events.
    CutAfter(usize),
    /// A stream that sends this many events, then an error event.
    ErrorEventAfter(usize),
    /// A stream that holds event `index` back for `delay`.
    DelayEvent { index: usize, delay: Duration },
    /// A stream that sends a content event every interval, forever.
    Endless(Duration),
    /// A stream that sends this many events, then goes silent (open).
    SilentAfter(usize),
    /// A stream that sends this many events, then an error event of this
    /// type and message.
    StreamError {
        after: usize,
        error_type: &'static str,
        message: &'static str,
    },
    /// A normal answer, whole or streamed (in one event, cut in two in the
    /// middle of the credential when it holds it), with this text.
    Reply(&'static str),
    /// A stream of `data: ` and this many bytes with no blank line, made
    /// as it is sent.
    HugeEvent(usize),
    /// A normal stream whose lines end with this rather than LF, sent in
    /// chunks cut after each CR (a CRLF straddles two chunks).
    LineEnding(&'static str),
    /// A stream with an event whose data is not JSON after this many.
    NotJson(usize),
    /// A stream request answered by the whole JSON answer, as this
    /// Content-Type.
    JsonAnswer(&'static str),
    /// Nothing until this many requests are being answered at once, or
    /// for `at_most`, then a normal answer.
    HoldForCompany { in_flight: usize, at_most: Duration },
    /// A whole (not streamed) answer sent in this many pieces, `pause`
    /// apart.
    Trickle { pieces: usize, pause: Duration },
    /// This status, with `Retry-After` when given, and the error the
    /// vendor sends with it (`vendor_error`): Anthropic's
    /// `overloaded_error` for a 529, OpenAI's `server_error` for a 500...
    Vendor {
        code: u16,
        retry_after: Option<&'static str>,
    },
}
// In a fault's message or text, `{key}` stands for the credential the
// request carried (its `Authorization` or `x-api-key` header), as sent back
// by a provider that echoes it.

/// The usage the mock reports with every answer from now on.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub enum MockUsage {
    /// `PROMPT_TOKENS` in, `COMPLETION_TOKENS` out, no cache.
    #[default]
    Plain,
    /// Of the `PROMPT_TOKENS`, `read` read from the prompt cache and (for
    /// Anthropic) `write` written to it, each vendor reporting them its
    /// way: OpenAI counts cached tokens inside `prompt_tokens`
    /// (`prompt_tokens_details.cached_tokens`) and writes none; Anthropic
    /// counts both apart from `input_tokens`.
    Cached { read: i64, write: i64 },
    /// No usage at all, as servers that ignore `stream_options` send.
    Unreported,
}

/// What the mock answers with from now on (`answer_with`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub enum MockAnswer {
    /// `REPLY`, as text alone.
    #[default]
    Plain,
    /// Every kind of block a model answers with, as the request calls for
    /// them: a thinking block and its signature (Anthropic, when the
    /// request turns `thinking` on), `REPLY`, then a call of the request's
    /// first tool with `tool_input()` unless the request ends with a
    /// tool's result. The call's arguments stream in `TOOL_INPUT_PIECES`;
    /// Anthropic's streams have a ping between blocks, and its usage
    /// always names both cache counts (in `message_delta` too).
    Full,
}

/// The thinking of a `Full` answer, streamed in two deltas.
pub const THINKING_PIECES: [&str; 2] = ["Let me think", " about it."];
pub const SIGNATURE: &str = "EqQBCkYIBhgCKkDMockSignatureForTestsOnly0123456789abcdef==";
/// The id of a `Full` answer's tool call, in each vendor's style.
pub const ANTHROPIC_TOOL_ID: &str = "toolu_01MockToolUseId";
pub const OPENAI_TOOL_ID: &str = "call_MockToolCallId";
/// A tool call's arguments (JSON text) as streamed: an empty piece first,
/// as Anthropic sends, then cut inside a string, inside escapes (`\"`,
/// `\u00e9`, `\\`) and inside a number.
pub const TOOL_INPUT_PIECES: [&str; 7] = [
    "",
    r#"{"city":"Par"#,
    r#"is \"#,
    r#""Rive Gauche\"","note":"caf\u00"#,
    r#"e9 \"#,
    r#"\ tea","days":123"#,
    r#"45}"#,
];

/// A `Full` answer's tool input: `TOOL_INPUT_PIECES` joined.
pub fn tool_input() -> Value {
    serde_json::from_str(&TOOL_INPUT_PIECES.concat()).expect("the pieces join into JSON")
}

/// The `(type, message)` a vendor's error body carries with `code`.
pub fn vendor_error(anthropic: bool, code: u16) -> (&'static str, &'static str) {
    match (anthropic, code) {
        (true, 400) => ("invalid_request_error", "messages: field required"),
        (true, 401) => ("authentication_error", "invalid x-api-key"),
        (true, 403) => (
            "permission_error",
            "Your API key does not have permission to use the specified resource.",
        ),
        (true, 404) => ("not_found_error", "model: mock-missing"),
        (true, 413) => (
            "request_too_large",
            "Request exceeds the maximum allowed number of bytes.",
        ),
        (true, 429) => (
            "rate_limit_error",
            "Number of request tokens has exceeded your per-minute rate limit",
        ),
        (true, 529) => ("overloaded_error", "Overloaded"),
        (true, _) => ("api_error", "Internal server error"),
        (false, 429) => ("requests", "Rate limit reached for requests"),
        (false, 500..) => (
            "server_error",
            "The server had an error while processing your request.",
        ),
        (false, _) => ("invalid_request_error", "Invalid request"),
    }
}

/// The tokens the mock's `count_tokens` counts in any request.
pub const COUNTED_TOKENS: i64 = 42;

#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Value,
    /// The body's bytes, as they came.
    pub raw: Bytes,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct State {
    faults: Mutex<VecDeque<Fault>>,
    received: Mutex<Vec<Received>>,
    /// When each event of the latest stream left the mock.
    sent_at: Mutex<Vec<Instant>>,
    /// When a stream was dropped before its end (the peer went away).
    closed_at: Mutex<Option<Instant>>,
    /// Bytes of the latest stream sent so far.
    streamed: Mutex<usize>,
    /// The latest answer's body as sent (its first `KEPT_BYTES`).
    body: Mutex<Vec<u8>>,
    /// Requests being answered now (a stream until its head is sent).
    in_flight: AtomicUsize,
    /// The most requests it was answering at once.
    peak_in_flight: AtomicUsize,
    /// Connections accepted so far.
    connections: AtomicUsize,
    /// The only key it takes, when set: any other gets a 401 that echoes it.
    accepted_key: Mutex<Option<String>>,
    usage: Mutex<MockUsage>,
    answer: Mutex<MockAnswer>,
    /// `/v1/responses` answers 404, as servers without it do.
    responses_off: AtomicBool,
    /// It serves OpenAI's legacy text completions (`serve_completions`).
    serves_completions: std::sync::atomic::AtomicBool,
    /// Its text completions stream writes `data:` with no space after it.
    completions_unspaced: AtomicBool,
    /// The ids `/v1/models` lists; `mock-1` to `mock-3` until set.
    model_ids: Mutex<Option<Vec<String>>>,
    /// Requests for `/v1/models` (pages) so far.
    model_lists: AtomicUsize,
}

/// How much of an answer's body `sent_body` keeps.
const KEPT_BYTES: usize = 1 << 20;

/// One request being answered, counted while it lives.
struct InFlight(Arc<State>);

impl InFlight {
    fn new(state: Arc<State>) -> InFlight {
        let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        state.peak_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(state)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

pub struct MockUpstream {
    pub address: String,
    state: Arc<State>,
}

impl MockUpstream {
    pub async fn start() -> MockUpstream {
        let state = Arc::new(State::default());
        let data = web::Data::from(state.clone());
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind mock");
        let address = format!("http://{}", listener.local_addr().unwrap());
        let counted = state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::PayloadConfig::new(64 << 20))
                .route("/v1/chat/completions", web::post().to(openai))
                .route("/v1/completions", web::post().to(text_completions))
                .route("/v1/messages", web::post().to(anthropic))
                .route("/v1/responses", web::post().to(responses))
                .route("/v1/messages/count_tokens", web::post().to(count_tokens))
                .route("/v1/embeddings", web::post().to(openai))
                .route("/v1/models", web::get().to(models))
        })
        .on_connect(move |_, _| {
            counted.connections.fetch_add(1, Ordering::SeqCst);
        })
        .workers(1)
        .listen(listener)
        .expect("listen")
        .run();
        actix_web::rt::spawn(server);
        MockUpstream { address, state }
    }

    /// From now on it serves `/v1/completions`, as servers of base models
    /// do; before, that is a 404, as from servers without it.
    pub fn serve_completions(&self) {
        self.state.serves_completions.store(true, Ordering::SeqCst);
    }

    /// From now on its text completions stream writes each `data:` with
    /// no space after it, which SSE allows as well.
    pub fn write_data_unspaced(&self) {
        self.state
            .completions_unspaced
            .store(true, Ordering::SeqCst);
    }

    /// The base URL an OpenAI provider is configured with.
    pub fn openai_base(&self) -> String {
        format!("{}/v1", self.address)
    }

    /// From now on, answers a request with any other key by a 401 that
    /// echoes the key it got, as some providers do.
    pub fn accept_only(&self, key: &str) {
        *self.state.accepted_key.lock().unwrap() = Some(key.to_owned());
    }

    /// Whether it serves `/v1/responses` from now on (it does at first);
    /// off, it answers 404 there, as Ollama or an older vLLM would.
    pub fn serve_responses(&self, on: bool) {
        self.state.responses_off.store(!on, Ordering::SeqCst);
    }

    /// The usage every answer reports from now on.
    pub fn report_usage(&self, usage: MockUsage) {
        *self.state.usage.lock().unwrap() = usage;
    }

    /// What every answer holds from now on.
    pub fn answer_with(&self, answer: MockAnswer) {
        *self.state.answer.lock().unwrap() = answer;
    }

    /// The model ids `/v1/models` lists from now on.
    pub fn list_models(&self, ids: &[&str]) {
        *self.state.model_ids.lock().unwrap() = Some(ids.iter().map(|id| id.to_string()).collect());
    }

    /// Requests for `/v1/models` (each page of Anthropic's) so far.
    pub fn model_lists(&self) -> usize {
        self.state.model_lists.load(Ordering::SeqCst)
    }

    /// The latest answer's body (whole, or the stream so far) as the mock
    /// sent it.
    pub fn sent_body(&self) -> Vec<u8> {
        self.state.body.lock().unwrap().clone()
    }

    /// Queues faults for the next requests, in order.
    pub fn fail_with(&self, faults: impl IntoIterator<Item = Fault>) {
        self.state.faults.lock().unwrap().extend(faults);
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    pub fn last(&self) -> Received {
        self.received().pop().expect("the mock got no request")
    }

    pub fn sent_at(&self) -> Vec<Instant> {
        self.state.sent_at.lock().unwrap().clone()
    }

    pub fn closed_at(&self) -> Option<Instant> {
        *self.state.closed_at.lock().unwrap()
    }

    pub fn streamed_bytes(&self) -> usize {
        *self.state.streamed.lock().unwrap()
    }

    /// Connections it has accepted so far.
    pub fn connections(&self) -> usize {
        self.state.connections.load(Ordering::SeqCst)
    }

    /// The most requests it was answering at once so far.
    pub fn peak_in_flight(&self) -> usize {
        self.state.peak_in_flight.load(Ordering::SeqCst)
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Protocol {
    OpenAi,
    Anthropic,
    /// OpenAI's Responses API.
    Responses,
}

async fn openai(req: HttpRequest, body: Bytes, state: web::Data<State>) -> HttpResponse {
    answer(Protocol::OpenAi, req, body, state).await
}

async fn anthropic(req: HttpRequest, body: Bytes, state: web::Data<State>) -> HttpResponse {
    answer(Protocol::Anthropic, req, body, state).await
}

async fn responses(req: HttpRequest, body: Bytes, state: web::Data<State>) -> HttpResponse {
    if state.responses_off.load(Ordering::SeqCst) {
        record(&req, &body, &state);
        return HttpResponse::NotFound()
            .content_type("text/plain")
            .body("404 page not found");
    }
    answer(Protocol::Responses, req, body, state).await
}

/// OpenAI's list of every model; to a request with `anthropic-version`,
/// Anthropic's page of `limit` (20 by default, two at most) after
/// `after_id`.
async fn models(req: HttpRequest, state: web::Data<State>) -> HttpResponse {
    state.model_lists.fetch_add(1, Ordering::SeqCst);
    let anthropic = req.headers().contains_key("anthropic-version");
    let protocol = if anthropic {
        Protocol::Anthropic
    } else {
        Protocol::OpenAi
    };
    if let Some(refused) = refuse_key(protocol, &credential(&req), &state) {
        return refused;
    }
    let ids = state
        .model_ids
        .lock()
        .unwrap()
        .clone()
        .unwrap_or_else(|| ["mock-1", "mock-2", "mock-3"].map(String::from).to_vec());
    if !anthropic {
        let data: Vec<Value> = ids
            .iter()
            .map(|id| json!({ "id": id, "object": "model", "created": 1_700_000_000, "owned_by": "mock" }))
            .collect();
        return HttpResponse::Ok().json(json!({ "object": "list", "data": data }));
    }
    let query = web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map(|q| q.into_inner())
        .unwrap_or_default();
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    // Never more than two a page, whatever was asked: a client must follow
    // `has_more` (Anthropic serves at most 1000).
    let limit = param("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(20)
        .min(2);
    let from = param("after_id")
        .and_then(|after| ids.iter().position(|id| *id == after))
        .map_or(0, |at| at + 1);
    let page: Vec<&String> = ids.iter().skip(from).take(limit).collect();
    let data: Vec<Value> = page
        .iter()
        .map(|id| json!({ "type": "model", "id": id, "display_name": id, "created_at": "2025-01-01T00:00:00Z" }))
        .collect();
    HttpResponse::Ok().json(json!({
        "data": data,
        "has_more": from + page.len() < ids.len(),
        "first_id": page.first(),
        "last_id": page.last(),
    }))
}

/// The credential a request carried: its `Authorization` or `x-api-key`.
fn credential(req: &HttpRequest) -> String {
    ["authorization", "x-api-key"]
        .iter()
        .find_map(|name| req.headers().get(*name))
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// A 401 for a credential other than the accepted key, if one is set.
fn refuse_key(protocol: Protocol, credential: &str, state: &State) -> Option<HttpResponse> {
    let accepted = state.accepted_key.lock().unwrap().clone()?;
    if credential == accepted || credential == format!("Bearer {accepted}") {
        return None;
    }
    Some(HttpResponse::Unauthorized().json(error_body(
        protocol,
        &format!("Incorrect API key <provided>: {credential}"),
    )))
}

/// An error answer's body, as each protocol shapes it.
fn error_body(protocol: Protocol, message: &str) -> Value {
    typed_error_body(protocol, "mock_error", message)
}

fn typed_error_body(protocol: Protocol, error_type: &str, message: &str) -> Value {
    match protocol {
        Protocol::OpenAi | Protocol::Responses => {
            json!({ "error": { "message": message, "type": error_type } })
        }
        Protocol::Anthropic => {
            json!({ "type": "error", "error": { "type": error_type, "message": message } })
        }
    }
}

/// OpenAI's legacy text completions: `REPLY` for each prompt, stopped by
/// its length (a translated chat stops with `stop`), whole or streamed.
async fn text_completions(req: HttpRequest, body: Bytes, state: web::Data<State>) -> HttpResponse {
    if !state.serves_completions.load(Ordering::SeqCst) {
        return HttpResponse::NotFound().json(error_body(Protocol::OpenAi, "Not Found"));
    }
    let body = record(&req, &body, &state);
    let model = body["model"].as_str().unwrap_or("mock").to_owned();
    let prompts = body["prompt"].as_array().map_or(1, Vec::len);
    let usage = openai_usage(*state.usage.lock().unwrap());
    let object = |choices: Value| {
        json!({ "id": "cmpl-mock", "object": "text_completion", "created": 1700000000,
                "model": model, "choices": choices })
    };
    let choice = |index: usize, text: &str, finish: Value| json!({ "text": text, "index": index, "logprobs": null, "finish_reason": finish });
    let sent = if body["stream"] == true {
        let mut events: Vec<String> = REPLY_WORDS
            .iter()
            .map(|word| data(object(json!([choice(0, word, Value::Null)]))))
            .collect();
        events.push(data(object(json!([choice(0, "", json!("length"))]))));
        if let Some(usage) = usage.filter(|_| body["stream_options"]["include_usage"] == true) {
            let mut last = object(json!([]));
            last["usage"] = usage;
            events.push(data(last));
        }
        events.push("data: [DONE]\n\n".to_owned());
        if state.completions_unspaced.load(Ordering::SeqCst) {
            for event in &mut events {
                *event = event.replacen("data: ", "data:", 1);
            }
        }
        events.concat()
    } else {
        let choices = (0..prompts)
            .map(|i| choice(i, REPLY, json!("length")))
            .collect();
        let mut whole = object(Value::Array(choices));
        if let Some(usage) = usage {
            whole["usage"] = usage;
        }
        whole.to_string()
    };
    keep_sent(&state, sent.as_bytes(), true);
    let content_type = if body["stream"] == true {
        "text/event-stream"
    } else {
        "application/json"
    };
    HttpResponse::Ok().content_type(content_type).body(sent)
}

/// Anthropic's token count: the same for any request.
async fn count_tokens(req: HttpRequest, body: Bytes, state: web::Data<State>) -> HttpResponse {
    record(&req, &body, &state);
    if let Some(refused) = refuse_key(Protocol::Anthropic, &credential(&req), &state) {
        return refused;
    }
    HttpResponse::Ok().json(json!({ "input_tokens": COUNTED_TOKENS }))
}

/// Keeps the request for `received`, and returns its body.
fn record(req: &HttpRequest, raw: &[u8], state: &State) -> Value {
    let body: Value = serde_json::from_slice(raw).unwrap_or(Value::Null);
    state.received.lock().unwrap().push(Received {
        path: req.path().to_owned(),
        headers: req
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect(),
        body: body.clone(),
        raw: Bytes::copy_from_slice(raw),
    });
    body
}

async fn answer(
    protocol: Protocol,
    req: HttpRequest,
    body: Bytes,
    state: web::Data<State>,
) -> HttpResponse {
    let _in_flight = InFlight::new(state.clone().into_inner());
    let body = record(&req, &body, &state);
    let credential = credential(&req);
    if let Some(refused) = refuse_key(protocol, &credential, &state) {
        return refused;
    }
    let echo = |text: &str| text.replace("{key}", &credential);
    let fault = state.faults.lock().unwrap().pop_front();
    match &fault {
        Some(Fault::Status {
            code,
            retry_after,
            message,
        }) => {
            let message = echo(message);
            let mut response =
                HttpResponse::build(actix_web::http::StatusCode::from_u16(*code).expect("status"));
            if let Some(after) = retry_after {
                response.insert_header(("retry-after", *after));
            }
            return error_response(&state, response, error_body(protocol, &message));
        }
        Some(Fault::Vendor { code, retry_after }) => {
            let (error_type, message) = vendor_error(protocol == Protocol::Anthropic, *code);
            let mut response =
                HttpResponse::build(actix_web::http::StatusCode::from_u16(*code).expect("status"));
            if let Some(after) = retry_after {
                response.insert_header(("retry-after", *after));
            }
            return error_response(
                &state,
                response,
                typed_error_body(protocol, error_type, message),
            );
        }
        Some(Fault::StallHead(delay)) => actix_web::rt::time::sleep(*delay).await,
        Some(Fault::HoldForCompany { in_flight, at_most }) => {
            let until = Instant::now() + *at_most;
            while state.peak_in_flight.load(Ordering::SeqCst) < *in_flight && Instant::now() < until
            {
                actix_web::rt::time::sleep(Duration::from_millis(20)).await;
            }
        }
        _ => {}
    }
    let model = body["model"].as_str().unwrap_or("mock").to_owned();
    let text = match &fault {
        Some(Fault::Reply(text)) => echo(text),
        _ => REPLY.to_owned(),
    };
    let usage = *state.usage.lock().unwrap();
    let full = (*state.answer.lock().unwrap() == MockAnswer::Full).then(|| Full::of(&body));
    let embeddings = req.path() == "/v1/embeddings";
    let whole = match (protocol, &full) {
        _ if embeddings => embeddings_of(&model, &body, usage),
        (Protocol::OpenAi, None) => openai_completion_of(&model, &text, usage),
        (Protocol::Anthropic, None) => anthropic_message_of(&model, &text, usage),
        (Protocol::OpenAi, Some(full)) => full.openai_completion(&model, &text, usage),
        (Protocol::Anthropic, Some(full)) => full.anthropic_message(&model, &text, usage),
        (Protocol::Responses, full) => responses_object(&model, &text, usage, full.as_ref()),
    };
    if let Some(Fault::Trickle { pieces, pause }) = fault {
        let text = whole.to_string().into_bytes();
        let size = text.len().div_ceil(pieces);
        let chunks: Vec<Bytes> = text.chunks(size).map(Bytes::copy_from_slice).collect();
        let trickle = stream::unfold(
            chunks.into_iter().enumerate(),
            move |mut chunks| async move {
                let (index, chunk) = chunks.next()?;
                if index > 0 {
                    actix_web::rt::time::sleep(pause).await;
                }
                Some((Ok::<_, std::io::Error>(chunk), chunks))
            },
        );
        return HttpResponse::Ok()
            .content_type("application/json")
            .streaming(trickle);
    }
    if body["stream"] != true || embeddings {
        let whole = whole.to_string();
        keep_sent(&state, whole.as_bytes(), true);
        return HttpResponse::Ok()
            .content_type("application/json")
            .body(whole);
    }
    if let Some(Fault::JsonAnswer(content_type)) = fault {
        return HttpResponse::Ok()
            .content_type(content_type)
            .body(whole.to_string());
    }
    let include_usage = body["stream_options"]["include_usage"] == true;
    let words = if text == REPLY {
        REPLY_WORDS.to_vec()
    } else {
        vec![text.as_str()]
    };
    let mut events = match (protocol, &full) {
        (Protocol::OpenAi, None) => openai_events_of(&model, &words, include_usage, usage),
        (Protocol::Anthropic, None) => anthropic_events_of(&model, &words, usage),
        (Protocol::OpenAi, Some(full)) => full.openai_events(&model, &words, include_usage, usage),
        (Protocol::Anthropic, Some(full)) => full.anthropic_events(&model, &words, usage),
        (Protocol::Responses, full) => responses_events(&model, &words, usage, full.as_ref()),
    };
    match &fault {
        Some(Fault::StreamError {
            after,
            error_type,
            message,
        }) => {
            events.truncate(*after);
            events.push(error_event_of(protocol, error_type, &echo(message)));
        }
        Some(Fault::LineEnding(ending)) => {
            let text = events.concat().replace('\n', ending);
            events = text.split_inclusive('\r').map(str::to_owned).collect();
        }
        Some(Fault::NotJson(after)) => events.insert(*after, "data: {not json\n\n".to_owned()),
        Some(Fault::Reply(_)) if !credential.is_empty() => {
            let half = credential.len() / 2;
            events = events
                .iter()
                .flat_map(|event| match event.find(&credential) {
                    Some(at) => vec![event[..at + half].to_owned(), event[at + half..].to_owned()],
                    None => vec![event.clone()],
                })
                .collect();
        }
        Some(Fault::HugeEvent(_)) => events = vec!["data: ".to_owned()],
        _ => {}
    }
    state.sent_at.lock().unwrap().clear();
    *state.closed_at.lock().unwrap() = None;
    *state.streamed.lock().unwrap() = 0;
    keep_sent(&state, b"", true);
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .streaming(event_stream(protocol, events, fault, state.into_inner()))
}

/// The mock's vector for input `index`: `dimensions` numbers (3 unless
/// the request names how many), the same for the same index.
pub fn mock_embedding(index: usize, dimensions: usize) -> Vec<f32> {
    (0..dimensions)
        .map(|d| (index * 100 + d + 1) as f32 / 1000.0)
        .collect()
}

/// OpenAI's embeddings answer: a vector per input, as floats or (asked
/// with `encoding_format: base64`) their little-endian bytes in base64.
fn embeddings_of(model: &str, request: &Value, usage: MockUsage) -> Value {
    use base64::Engine;
    let inputs = match &request["input"] {
        Value::Array(items) if !items.first().is_some_and(Value::is_number) => items.len(),
        _ => 1,
    };
    let dimensions = request["dimensions"].as_u64().unwrap_or(3) as usize;
    let base64 = request["encoding_format"] == "base64";
    let data: Vec<Value> = (0..inputs)
        .map(|index| {
            let vector = mock_embedding(index, dimensions);
            let embedding = if base64 {
                let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
                json!(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(vector)
            };
            json!({ "object": "embedding", "index": index, "embedding": embedding })
        })
        .collect();
    let mut body = json!({ "object": "list", "data": data, "model": model });
    if usage != MockUsage::Unreported {
        body["usage"] = json!({ "prompt_tokens": PROMPT_TOKENS, "total_tokens": PROMPT_TOKENS });
    }
    body
}

pub fn openai_completion(model: &str) -> Value {
    openai_completion_of(model, REPLY, MockUsage::Plain)
}

/// OpenAI's `usage`: cached tokens are part of `prompt_tokens`.
fn openai_usage(usage: MockUsage) -> Option<Value> {
    let mut body = json!({
        "prompt_tokens": PROMPT_TOKENS,
        "completion_tokens": COMPLETION_TOKENS,
        "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS
    });
    match usage {
        MockUsage::Plain => {}
        MockUsage::Cached { read, .. } => {
            body["prompt_tokens_details"] = json!({ "cached_tokens": read, "audio_tokens": 0 });
        }
        MockUsage::Unreported => return None,
    }
    Some(body)
}

/// Anthropic's `usage` (`output` tokens so far): the cache apart from
/// `input_tokens`.
fn anthropic_usage(usage: MockUsage, output: i64) -> Value {
    match usage {
        MockUsage::Cached { read, write } => json!({
            "input_tokens": PROMPT_TOKENS - read - write, "output_tokens": output,
            "cache_read_input_tokens": read, "cache_creation_input_tokens": write
        }),
        _ => json!({ "input_tokens": PROMPT_TOKENS, "output_tokens": output }),
    }
}

fn openai_completion_of(model: &str, text: &str, usage: MockUsage) -> Value {
    let mut body = json!({
        "id": "chatcmpl-mock",
        "object": "chat.completion",
        "created": 1700000000,
        "model": model,
        "choices": [{
            "index": 0,
            "message": { "role": "assistant", "content": text },
            "finish_reason": "stop"
        }]
    });
    if let Some(usage) = openai_usage(usage) {
        body["usage"] = usage;
    }
    body
}

fn anthropic_message_of(model: &str, text: &str, usage: MockUsage) -> Value {
    let mut body = json!({
        "id": "msg_mock",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{ "type": "text", "text": text }],
        "stop_reason": "end_turn",
        "stop_sequence": null
    });
    if usage != MockUsage::Unreported {
        body["usage"] = anthropic_usage(usage, COMPLETION_TOKENS);
    }
    body
}

fn data(value: Value) -> String {
    format!("data: {value}\n\n")
}

fn named(name: &str, value: Value) -> String {
    format!("event: {name}\ndata: {value}\n\n")
}

fn openai_chunk(model: &str, delta: Value, finish: Value) -> String {
    data(json!({
        "id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 1700000000,
        "model": model,
        "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }]
    }))
}

/// The events of an OpenAI stream, as OpenAI sends them.
pub fn openai_events(model: &str, include_usage: bool) -> Vec<String> {
    openai_events_of(model, &REPLY_WORDS, include_usage, MockUsage::Plain)
}

fn openai_events_of(
    model: &str,
    words: &[&str],
    include_usage: bool,
    usage: MockUsage,
) -> Vec<String> {
    let mut events = vec![openai_chunk(
        model,
        json!({"role": "assistant", "content": ""}),
        Value::Null,
    )];
    for word in words {
        events.push(openai_chunk(model, json!({ "content": word }), Value::Null));
    }
    events.push(openai_chunk(model, json!({}), json!("stop")));
    if let Some(usage) = openai_usage(usage).filter(|_| include_usage) {
        events.push(data(json!({
            "id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 1700000000,
            "model": model, "choices": [], "usage": usage
        })));
    }
    events.push("data: [DONE]\n\n".to_owned());
    events
}

fn anthropic_events_of(model: &str, words: &[&str], usage: MockUsage) -> Vec<String> {
    let mut message = json!({ "id": "msg_mock", "type": "message", "role": "assistant",
                              "model": model, "content": [], "stop_reason": null });
    let mut delta_usage = json!({ "output_tokens": COMPLETION_TOKENS });
    if usage == MockUsage::Unreported {
        delta_usage = Value::Null;
    } else {
        message["usage"] = anthropic_usage(usage, 1);
    }
    let mut events = vec![
        named(
            "message_start",
            json!({ "type": "message_start", "message": message }),
        ),
        named(
            "content_block_start",
            json!({
                "type": "content_block_start", "index": 0, "content_block": { "type": "text", "text": "" }
            }),
        ),
        named("ping", json!({ "type": "ping" })),
    ];
    for word in words {
        events.push(named("content_block_delta", json!({
            "type": "content_block_delta", "index": 0, "delta": { "type": "text_delta", "text": word }
        })));
    }
    events.push(named(
        "content_block_stop",
        json!({ "type": "content_block_stop", "index": 0 }),
    ));
    events.push(named(
        "message_delta",
        json!({
            "type": "message_delta", "delta": { "stop_reason": "end_turn", "stop_sequence": null },
            "usage": delta_usage
        }),
    ));
    events.push(named("message_stop", json!({ "type": "message_stop" })));
    events
}

fn error_event(protocol: Protocol) -> String {
    let error_type = match protocol {
        Protocol::OpenAi | Protocol::Responses => "server_error",
        Protocol::Anthropic => "overloaded_error",
    };
    error_event_of(protocol, error_type, "mock overloaded")
}

fn error_event_of(protocol: Protocol, error_type: &str, message: &str) -> String {
    let error = json!({ "type": error_type, "message": message });
    match protocol {
        Protocol::OpenAi => data(json!({ "error": error })),
        Protocol::Anthropic => named("error", json!({ "type": "error", "error": error })),
        // A failure is the response, failed, with its error.
        Protocol::Responses => named(
            "response.failed",
            json!({ "type": "response.failed", "sequence_number": 99,
                    "response": { "id": RESPONSE_ID, "object": "response", "status": "failed",
                                  "output": [],
                                  "error": { "code": error_type, "message": message } } }),
        ),
    }
}

/// Marks the stream closed early when dropped before its end.
struct Sending {
    state: Arc<State>,
    events: VecDeque<String>,
    index: usize,
    fault: Option<Fault>,
    protocol: Protocol,
    finished: bool,
}

impl Sending {
    /// The stream ended as planned: not a close by the peer.
    fn finish(mut self) {
        self.finished = true;
    }
}

impl Drop for Sending {
    fn drop(&mut self) {
        if !self.finished {
            *self.state.closed_at.lock().unwrap() = Some(Instant::now());
        }
    }
}

fn event_stream(
    protocol: Protocol,
    events: Vec<String>,
    fault: Option<Fault>,
    state: Arc<State>,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    let sending = Sending {
        state,
        events: events.into(),
        index: 0,
        fault,
        protocol,
        finished: false,
    };
    stream::unfold(sending, |mut s| async move {
        let event = match s.fault.clone() {
            Some(Fault::CutAfter(n)) if s.index == n => {
                // Let what was sent leave first, as a real connection would.
                actix_web::rt::time::sleep(Duration::from_millis(50)).await;
                return Some((Err(std::io::Error::other("mock cut the stream")), s));
            }
            Some(Fault::ErrorEventAfter(n)) if s.index == n => {
                s.events.clear();
                Some(error_event(s.protocol))
            }
            Some(Fault::SilentAfter(n)) if s.index == n => {
                actix_web::rt::time::sleep(Duration::from_secs(3600)).await;
                None
            }
            Some(Fault::DelayEvent { index, delay }) if s.index == index => {
                actix_web::rt::time::sleep(delay).await;
                s.events.pop_front()
            }
            Some(Fault::HugeEvent(total)) if s.index > 0 => {
                const BLOCK: usize = 1 << 20;
                let left = (total + 6).saturating_sub(*s.state.streamed.lock().unwrap());
                (left > 0).then(|| "x".repeat(left.min(BLOCK)))
            }
            Some(Fault::LineEnding(_) | Fault::Reply(_)) => {
                // Each chunk its own read at the other end.
                actix_web::rt::time::sleep(Duration::from_millis(5)).await;
                s.events.pop_front()
            }
            Some(Fault::Endless(interval)) if s.index >= 2 => {
                actix_web::rt::time::sleep(interval).await;
                Some(openai_chunk(
                    "mock",
                    json!({ "content": " more" }),
                    Value::Null,
                ))
            }
            _ => s.events.pop_front(),
        };
        match event {
            Some(event) => {
                s.state.sent_at.lock().unwrap().push(Instant::now());
                *s.state.streamed.lock().unwrap() += event.len();
                keep_sent(&s.state, event.as_bytes(), false);
                s.index += 1;
                Some((Ok(Bytes::from(event)), s))
            }
            None => {
                s.finish();
                None
            }
        }
    })
}

/// An error answer, its body kept as sent.
fn error_response(
    state: &State,
    mut response: actix_web::HttpResponseBuilder,
    body: Value,
) -> HttpResponse {
    let body = body.to_string();
    keep_sent(state, body.as_bytes(), true);
    response.content_type("application/json").body(body)
}

/// Adds `bytes` to the latest answer's body (a new one when `new`), up to
/// `KEPT_BYTES`.
fn keep_sent(state: &State, bytes: &[u8], new: bool) {
    let mut body = state.body.lock().unwrap();
    if new {
        body.clear();
    }
    let room = KEPT_BYTES.saturating_sub(body.len());
    body.extend_from_slice(&bytes[..bytes.len().min(room)]);
}

/// What a `MockAnswer::Full` answer holds beside its text, as its request
/// calls for.
struct Full {
    thinking: bool,
    /// The tool it calls.
    tool: Option<String>,
}

impl Full {
    fn of(request: &Value) -> Full {
        let thinking = request["thinking"]["type"] == "enabled";
        let tools = request["tools"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        let first = tools.first().and_then(|tool| {
            tool["name"]
                .as_str()
                .or_else(|| tool["function"]["name"].as_str())
        });
        // A tool's result ends the round: the answer is text alone.
        let last = request["messages"]
            .as_array()
            .or(request["input"].as_array())
            .and_then(|m| m.last())
            .cloned()
            .unwrap_or_default();
        let answered = last["role"] == "tool"
            || last["type"] == "function_call_output"
            || last["content"]
                .as_array()
                .is_some_and(|blocks| blocks.iter().any(|b| b["type"] == "tool_result"));
        Full {
            thinking,
            tool: first.filter(|_| !answered).map(str::to_owned),
        }
    }

    fn stop_reason(&self) -> &'static str {
        if self.tool.is_some() {
            "tool_use"
        } else {
            "end_turn"
        }
    }

    fn finish_reason(&self) -> &'static str {
        if self.tool.is_some() {
            "tool_calls"
        } else {
            "stop"
        }
    }

    fn openai_completion(&self, model: &str, text: &str, usage: MockUsage) -> Value {
        let mut body = openai_completion_of(model, text, usage);
        let choice = &mut body["choices"][0];
        choice["finish_reason"] = self.finish_reason().into();
        if let Some(name) = &self.tool {
            choice["message"]["tool_calls"] = json!([{
                "id": OPENAI_TOOL_ID, "type": "function",
                "function": { "name": name, "arguments": TOOL_INPUT_PIECES.concat() }
            }]);
        }
        body
    }

    fn openai_events(
        &self,
        model: &str,
        words: &[&str],
        include_usage: bool,
        usage: MockUsage,
    ) -> Vec<String> {
        let mut events = openai_events_of(model, words, include_usage, usage);
        // Before the finish chunk: the call's head, then its arguments.
        let finish = 1 + words.len();
        let mut calls = Vec::new();
        if let Some(name) = &self.tool {
            calls.push(
                json!([{ "index": 0, "id": OPENAI_TOOL_ID, "type": "function",
                                "function": { "name": name, "arguments": "" } }]),
            );
            for piece in TOOL_INPUT_PIECES.iter().filter(|p| !p.is_empty()) {
                calls.push(json!([{ "index": 0, "function": { "arguments": piece } }]));
            }
        }
        let calls = calls
            .into_iter()
            .map(|call| openai_chunk(model, json!({ "tool_calls": call }), Value::Null));
        events.splice(
            finish..=finish,
            calls.chain([openai_chunk(model, json!({}), self.finish_reason().into())]),
        );
        events
    }

    /// Anthropic's usage with both cache counts, however many.
    fn anthropic_usage(usage: MockUsage, output: i64) -> Option<Value> {
        let (read, write) = match usage {
            MockUsage::Cached { read, write } => (read, write),
            MockUsage::Plain => (0, 0),
            MockUsage::Unreported => return None,
        };
        Some(json!({
            "input_tokens": PROMPT_TOKENS - read - write,
            "cache_creation_input_tokens": write, "cache_read_input_tokens": read,
            "output_tokens": output
        }))
    }

    fn anthropic_message(&self, model: &str, text: &str, usage: MockUsage) -> Value {
        let mut content = Vec::new();
        if self.thinking {
            content.push(
                json!({ "type": "thinking", "thinking": THINKING_PIECES.concat(),
                                 "signature": SIGNATURE }),
            );
        }
        content.push(json!({ "type": "text", "text": text }));
        if let Some(name) = &self.tool {
            content.push(
                json!({ "type": "tool_use", "id": ANTHROPIC_TOOL_ID, "name": name,
                                 "input": tool_input() }),
            );
        }
        let mut body = json!({
            "id": "msg_mock", "type": "message", "role": "assistant", "model": model,
            "content": content, "stop_reason": self.stop_reason(), "stop_sequence": null
        });
        if let Some(usage) = Full::anthropic_usage(usage, COMPLETION_TOKENS) {
            body["usage"] = usage;
        }
        body
    }

    fn anthropic_events(&self, model: &str, words: &[&str], usage: MockUsage) -> Vec<String> {
        let mut message = json!({ "id": "msg_mock", "type": "message", "role": "assistant",
                                  "model": model, "content": [], "stop_reason": null,
                                  "stop_sequence": null });
        if let Some(usage) = Full::anthropic_usage(usage, 1) {
            message["usage"] = usage;
        }
        let mut blocks: Vec<(Value, Vec<Value>)> = Vec::new();
        if self.thinking {
            let mut deltas: Vec<Value> = THINKING_PIECES
                .iter()
                .map(|piece| json!({ "type": "thinking_delta", "thinking": piece }))
                .collect();
            deltas.push(json!({ "type": "signature_delta", "signature": SIGNATURE }));
            blocks.push((
                json!({ "type": "thinking", "thinking": "", "signature": "" }),
                deltas,
            ));
        }
        let deltas = words
            .iter()
            .map(|word| json!({ "type": "text_delta", "text": word }))
            .collect();
        blocks.push((json!({ "type": "text", "text": "" }), deltas));
        if let Some(name) = &self.tool {
            let deltas = TOOL_INPUT_PIECES
                .iter()
                .map(|piece| json!({ "type": "input_json_delta", "partial_json": piece }))
                .collect();
            let start = json!({ "type": "tool_use", "id": ANTHROPIC_TOOL_ID, "name": name,
                                "input": {} });
            blocks.push((start, deltas));
        }
        let mut events = vec![named(
            "message_start",
            json!({ "type": "message_start", "message": message }),
        )];
        for (index, (start, deltas)) in blocks.into_iter().enumerate() {
            if index > 0 {
                events.push(named("ping", json!({ "type": "ping" })));
            }
            events.push(named(
                "content_block_start",
                json!({
                    "type": "content_block_start", "index": index, "content_block": start
                }),
            ));
            if index == 0 {
                events.push(named("ping", json!({ "type": "ping" })));
            }
            for delta in deltas {
                events.push(named(
                    "content_block_delta",
                    json!({
                        "type": "content_block_delta", "index": index, "delta": delta
                    }),
                ));
            }
            events.push(named(
                "content_block_stop",
                json!({ "type": "content_block_stop", "index": index }),
            ));
        }
        let delta_usage = Full::anthropic_usage(usage, COMPLETION_TOKENS).unwrap_or(Value::Null);
        events.push(named(
            "message_delta",
            json!({
                "type": "message_delta",
                "delta": { "stop_reason": self.stop_reason(), "stop_sequence": null },
                "usage": delta_usage
            }),
        ));
        events.push(named("message_stop", json!({ "type": "message_stop" })));
        events
    }
}

/// The id of the mock's Responses answers.
pub const RESPONSE_ID: &str = "resp_mock";

/// Responses' `usage`: cached tokens are part of `input_tokens`.
fn responses_usage(usage: MockUsage) -> Option<Value> {
    let cached = match usage {
        MockUsage::Plain => 0,
        MockUsage::Cached { read, .. } => read,
        MockUsage::Unreported => return None,
    };
    Some(json!({
        "input_tokens": PROMPT_TOKENS, "input_tokens_details": { "cached_tokens": cached },
        "output_tokens": COMPLETION_TOKENS, "output_tokens_details": { "reasoning_tokens": 0 },
        "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS
    }))
}

fn responses_message(text: &str, status: &str) -> Value {
    let content = if status == "completed" {
        json!([{ "type": "output_text", "text": text, "annotations": [] }])
    } else {
        json!([])
    };
    json!({ "id": "msg_mock", "type": "message", "status": status, "role": "assistant",
            "content": content })
}

fn responses_call(name: &str, arguments: &str, status: &str) -> Value {
    json!({ "id": "fc_mock", "type": "function_call", "status": status,
            "call_id": OPENAI_TOOL_ID, "name": name, "arguments": arguments })
}

/// A `response` object: `REPLY` (or the text), and a `Full` answer's call.
fn responses_object(model: &str, text: &str, usage: MockUsage, full: Option<&Full>) -> Value {
    let mut output = vec![responses_message(text, "completed")];
    if let Some(name) = full.and_then(|full| full.tool.as_deref()) {
        output.push(responses_call(
            name,
            &TOOL_INPUT_PIECES.concat(),
            "completed",
        ));
    }
    let mut body = json!({
        "id": RESPONSE_ID, "object": "response", "created_at": 1700000000,
        "status": "completed", "error": null, "incomplete_details": null, "model": model,
        "output": output, "parallel_tool_calls": true, "tool_choice": "auto", "tools": []
    });
    if let Some(usage) = responses_usage(usage) {
        body["usage"] = usage;
    }
    body
}

/// The typed events of a Responses stream, as OpenAI sends them.
fn responses_events(
    model: &str,
    words: &[&str],
    usage: MockUsage,
    full: Option<&Full>,
) -> Vec<String> {
    let mut events = Vec::new();
    let mut push = |kind: &str, mut fields: Value| {
        fields["type"] = kind.into();
        fields["sequence_number"] = events.len().into();
        events.push(named(kind, fields));
    };
    let mut begun = responses_object(model, "", usage, None);
    begun["status"] = "in_progress".into();
    begun["output"] = json!([]);
    begun["usage"] = Value::Null;
    push("response.created", json!({ "response": begun }));
    push("response.in_progress", json!({ "response": begun }));
    let text: String = words.concat();
    let at =
        |index: usize| json!({ "item_id": "msg_mock", "output_index": index, "content_index": 0 });
    push(
        "response.output_item.added",
        json!({ "output_index": 0, "item": responses_message("", "in_progress") }),
    );
    let mut part = at(0);
    part["part"] = json!({ "type": "output_text", "text": "", "annotations": [] });
    push("response.content_part.added", part);
    for word in words {
        let mut delta = at(0);
        delta["delta"] = (*word).into();
        delta["logprobs"] = json!([]);
        push("response.output_text.delta", delta);
    }
    let mut done = at(0);
    done["text"] = text.clone().into();
    done["logprobs"] = json!([]);
    push("response.output_text.done", done);
    let mut part = at(0);
    part["part"] = json!({ "type": "output_text", "text": text, "annotations": [] });
    push("response.content_part.done", part);
    push(
        "response.output_item.done",
        json!({ "output_index": 0, "item": responses_message(&text, "completed") }),
    );
    if let Some(name) = full.and_then(|full| full.tool.as_deref()) {
        push(
            "response.output_item.added",
            json!({ "output_index": 1, "item": responses_call(name, "", "in_progress") }),
        );
        for piece in TOOL_INPUT_PIECES.iter().filter(|p| !p.is_empty()) {
            push(
                "response.function_call_arguments.delta",
                json!({ "item_id": "fc_mock", "output_index": 1, "delta": piece }),
            );
        }
        let arguments = TOOL_INPUT_PIECES.concat();
        push(
            "response.function_call_arguments.done",
            json!({ "item_id": "fc_mock", "output_index": 1, "arguments": arguments }),
        );
        push(
            "response.output_item.done",
            json!({ "output_index": 1, "item": responses_call(name, &arguments, "completed") }),
        );
    }
    let whole = responses_object(model, &text, usage, full);
    push("response.completed", json!({ "response": whole }));
    events
}
