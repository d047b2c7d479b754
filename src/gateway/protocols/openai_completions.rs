//! OpenAI's legacy text completions (`POST /completions`) as the client
//! speaks them: a `prompt`, or several, in; `text_completion` objects out,
//! whole or as chunks ending with `data: [DONE]`. Every answer asked for
//! (each prompt, `n` times) is a chat of its own through the core, the
//! prompt as the user's turn: sent as it came to an upstream that serves
//! text completions, translated to the provider's chat API otherwise,
//! admitted by the policies and recorded like any chat. Their answers come
//! back together as the `choices` of one completion, numbered in order;
//! one answer without `echo` comes back as the upstream sent it.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use serde_json::{json, Map, Value};

use super::openai_chat::{done, error_event};
use super::{data, AnswerMeta, Encoder, ProtocolApi};
use crate::config::GatewayConfig;
use crate::domain::{random_base62, wrong, InvalidInput, JsonObject};
use crate::gateway::answer::{Completion, Finish, Piece, Transcript};
use crate::gateway::chat::{Answer, Caller, ChatError, Events};
use crate::gateway::message::{ChatMessage, Role};
use crate::gateway::providers::Wire;
use crate::gateway::request::{take_stream, take_string, ChatRequest, ClientProtocol};
use crate::gateway::sse;
use crate::gateway::upstream_error::UpstreamError;
use crate::gateway::Core;

pub struct OpenAiCompletions;

const OBJECT: &str = "text_completion";

/// Most answers one request may ask for (prompts times `n`): OpenAI's
/// largest `n`.
const MAX_CHOICES: usize = 128;

/// Most bytes the chats of several answers may copy of a request between
/// them (each holds its prompt and parameters): `n` must not multiply a
/// large body.
const MAX_COPIED_BYTES: usize = 64 << 20;

/// Most stop sequences, as OpenAI takes.
const MAX_STOPS: usize = 4;

/// Fields of chat completions that have no place here.
const CHAT_ONLY: [&str; 5] = [
    "messages",
    "tools",
    "tool_choice",
    "functions",
    "function_call",
];

impl ProtocolApi for OpenAiCompletions {
    /// OpenAI-compatible servers of base models serve it at an endpoint of
    /// their own (`{base}/completions`): the request goes there as sent,
    /// and through chat when they do not.
    fn wire(&self) -> Option<Wire> {
        Some(Wire::OpenAiCompletions)
    }

    fn anthropic_style(&self) -> bool {
        false
    }

    /// Its own: an upstream's id is a chat's.
    fn answer_id(&self, _upstream_id: Option<&str>) -> String {
        format!("cmpl-{}", random_base62(24))
    }

    fn completion(&self, meta: &AnswerMeta, c: &Completion) -> Value {
        let finish = c.finish.unwrap_or(Finish::Stop);
        let mut body = object(meta, json!([choice(0, &c.text, Some(finish))]));
        if c.usage.is_known() {
            body["usage"] = c.usage.openai_json();
        }
        body
    }

    fn encoder(&self, meta: AnswerMeta, include_usage: bool) -> Box<dyn Encoder> {
        Box::new(TextChunks {
            meta,
            include_usage,
        })
    }
}

/// A `text_completion`, whole or one chunk of a stream.
fn object(meta: &AnswerMeta, choices: Value) -> Value {
    json!({
        "id": meta.id,
        "object": OBJECT,
        "created": meta.created,
        "model": meta.model,
        "choices": choices,
    })
}

fn choice(index: usize, text: &str, finish: Option<Finish>) -> Value {
    json!({
        "text": text,
        "index": index,
        "logprobs": null,
        "finish_reason": finish.map(Finish::openai),
    })
}

struct TextChunks {
    meta: AnswerMeta,
    /// The client asked for a usage chunk at the end.
    include_usage: bool,
}

impl TextChunks {
    fn chunk(&self, out: &mut BytesMut, text: &str, finish: Option<Finish>) {
        data(out, &object(&self.meta, json!([choice(0, text, finish)])));
    }
}

impl Encoder for TextChunks {
    fn piece(&mut self, piece: &Piece, out: &mut BytesMut) {
        match piece {
            Piece::Text(text) => self.chunk(out, text, None),
            Piece::Finish(finish) => self.chunk(out, "", Some(*finish)),
            // No tools are offered (the request may name none); the usage
            // comes at the end, and an error by `error`.
            Piece::ToolStart { .. }
            | Piece::ToolArgs { .. }
            | Piece::Usage(_)
            | Piece::Error(_) => {}
        }
    }

    fn end(&mut self, transcript: &Transcript, out: &mut BytesMut) {
        if transcript.finish.is_none() {
            self.chunk(out, "", Some(Finish::Stop));
        }
        if self.include_usage && transcript.usage.is_known() {
            let mut chunk = object(&self.meta, json!([]));
            chunk["usage"] = transcript.usage.openai_json();
            data(out, &chunk);
        }
        done(out);
    }

    fn error(&mut self, error: UpstreamError, out: &mut BytesMut) {
        error_event(error, out);
    }
}

/// A text completions request, read: a chat for each answer asked for.
pub struct TextCompletion {
    /// Each prompt `n` times, in the order of their `index`.
    choices: Vec<Choice>,
    stream: bool,
    include_usage: bool,
    /// The model as the client named it.
    model: String,
}

struct Choice {
    request: ChatRequest,
    /// With `echo`, the prompt, which the answer's text follows.
    echo: Option<String>,
}

impl TextCompletion {
    /// A `/completions` body. `prompt` is text (token ids cannot be put in
    /// a chat); `suffix`, `logprobs` and a `best_of` above `n` need the
    /// provider's own text completions, so a translated chat refuses them
    /// (`ChatRequest::untranslatable`). Other fields pass on as for chat
    /// completions.
    pub fn parse(body: JsonObject) -> Result<TextCompletion, InvalidInput> {
        let mut params = body.into_map();
        // For an upstream that serves text completions: the request as sent.
        let mut original = params.clone();
        let model = match take_string(&mut params, "model")? {
            Some(model) if model.trim().is_empty() => {
                return Err(InvalidInput::new("model", "`model` must not be blank"))
            }
            Some(model) => model,
            None => return Err(InvalidInput::new("model", "`model` is required")),
        };
        let (stream, include_usage) = take_stream(&mut params)?;
        let prompts = prompts(params.remove("prompt"))?;
        let n = integer(&params, "n", 1, MAX_CHOICES as i64)?.unwrap_or(1);
        let best_of = integer(&params, "best_of", 1, 20)?;
        if best_of.is_some_and(|best_of| best_of < n) {
            return Err(InvalidInput::new(
                "best_of",
                "`best_of` must be at least `n`: the answers are the best `n` of `best_of`",
            ));
        }
        let answers = prompts.len() * n as usize;
        if answers > MAX_CHOICES {
            return Err(InvalidInput::new(
                if n > 1 { "n" } else { "prompt" },
                format!(
                    "{} prompts times `n` = {n} ask for {answers} answers; at most {MAX_CHOICES} a request",
                    prompts.len()
                ),
            ));
        }
        let echo = match params.remove("echo") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(echo)) => echo,
            Some(other) => return Err(wrong("echo", "a boolean", &other)),
        };
        let untranslatable = untranslatable(&params, n, best_of)?;
        for name in ["n", "best_of", "suffix", "logprobs"] {
            params.remove(name);
        }
        check_params(&params)?;
        let whole = answers == 1 && !echo;
        if !whole {
            let copied = serde_json::to_vec(&original).map_or(0, |body| body.len()) * answers;
            if copied > MAX_COPIED_BYTES {
                return Err(InvalidInput::new(
                    if n > 1 { "n" } else { "prompt" },
                    format!(
                        "{answers} answers would copy this request {answers} times, {} MiB; \
                         at most {} MiB: send fewer answers or a shorter prompt",
                        copied >> 20,
                        MAX_COPIED_BYTES >> 20
                    ),
                ));
            }
            // Each answer asked for alone; mindgate puts the prompt first.
            for name in ["n", "echo", "prompt"] {
                original.remove(name);
            }
        }
        let mut choices = Vec::with_capacity(answers);
        for prompt in prompts {
            for _ in 0..n {
                let native = if whole {
                    std::mem::take(&mut original)
                } else {
                    let mut alone = original.clone();
                    alone.insert("prompt".into(), prompt.clone().into());
                    alone
                };
                choices.push(Choice {
                    request: ChatRequest {
                        protocol: ClientProtocol::OpenAiCompletions,
                        model: Some(model.clone()),
                        stream,
                        character_id: None,
                        chat_id: None,
                        chat_title: None,
                        messages: vec![ChatMessage::new(Role::User, prompt.clone())],
                        params: params.clone(),
                        include_usage,
                        native: Some(native),
                        native_headers: Vec::new(),
                        untranslatable: untranslatable.clone(),
                        native_only: None,
                        session: false,
                    },
                    echo: echo.then(|| prompt.clone()),
                });
            }
        }
        Ok(TextCompletion {
            choices,
            stream,
            include_usage,
            model,
        })
    }

    /// Answers every choice through `core`, at once. One answer without
    /// `echo` is the core's as it is; several come back as one
    /// completion. The first that fails is the error (the others are
    /// dropped, and recorded as cancelled).
    pub async fn answer(
        self,
        core: &Core,
        client: &awc::Client,
        caller: Caller,
    ) -> Result<Answer, ChatError> {
        let TextCompletion {
            mut choices,
            stream,
            include_usage,
            model,
        } = self;
        if choices.len() == 1 && choices[0].echo.is_none() {
            let only = choices.remove(0);
            return core.complete(client, caller, only.request).await;
        }
        // The policies let all the answers through or none: a client is
        // not charged for answers a limit then refuses to finish.
        core.admits_all(caller.clone(), model.clone(), choices.len())
            .await?;
        let (requests, echoes): (Vec<ChatRequest>, Vec<Option<String>>) = choices
            .into_iter()
            .map(|choice| (choice.request, choice.echo))
            .unzip();
        // Read at once, whole answers are held together: they share the
        // limit one answer has.
        let config = GatewayConfig {
            max_answer_bytes: core.config.max_answer_bytes / requests.len(),
            ..core.config.clone()
        };
        let answers = futures_util::future::try_join_all(
            requests
                .into_iter()
                .map(|request| core.complete_within(client, caller.clone(), request, &config)),
        )
        .await?;
        let meta = OpenAiCompletions.meta(None, &model);
        if stream {
            return Ok(Answer::Events(Box::pin(Merged::new(
                meta,
                include_usage,
                answers,
                echoes,
            ))));
        }
        Ok(merge_whole(&meta, answers, echoes))
    }
}

/// `prompt`: a string or an array of strings, none blank.
fn prompts(prompt: Option<Value>) -> Result<Vec<String>, InvalidInput> {
    let tokens = || {
        InvalidInput::new(
            "prompt",
            "`prompt` as token ids cannot be put in a chat: send the text (a string, or an array of strings)",
        )
    };
    let prompts = match prompt {
        None | Some(Value::Null) => {
            return Err(InvalidInput::new(
                "prompt",
                "`prompt` is required: the text to complete",
            ))
        }
        Some(Value::String(text)) => vec![("prompt".to_owned(), text)],
        Some(Value::Array(items)) if items.is_empty() => {
            return Err(InvalidInput::new(
                "prompt",
                "`prompt` must hold at least one prompt",
            ))
        }
        Some(Value::Array(items)) => {
            let mut prompts = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                match item {
                    Value::String(text) => prompts.push((format!("prompt[{i}]"), text)),
                    Value::Number(_) | Value::Array(_) => return Err(tokens()),
                    other => return Err(wrong(&format!("prompt[{i}]"), "a string", &other)),
                }
            }
            prompts
        }
        Some(Value::Number(_)) => return Err(tokens()),
        Some(other) => return Err(wrong("prompt", "a string or an array of strings", &other)),
    };
    prompts
        .into_iter()
        .map(|(field, text)| {
            if text.trim().is_empty() {
                Err(InvalidInput::new(
                    &field,
                    format!("`{field}` must not be blank"),
                ))
            } else {
                Ok(text)
            }
        })
        .collect()
}

/// What only the provider's own text completions can do, which a chat
/// translation refuses: the first such field, if any.
fn untranslatable(
    params: &Map<String, Value>,
    n: i64,
    best_of: Option<i64>,
) -> Result<Option<InvalidInput>, InvalidInput> {
    let suffix = match params.get("suffix") {
        None | Some(Value::Null) => None,
        Some(Value::String(suffix)) => Some(suffix.as_str()),
        Some(other) => return Err(wrong("suffix", "a string", other)),
    };
    let logprobs = integer(params, "logprobs", 0, 5)?;
    let refusal = if suffix.is_some_and(|suffix| !suffix.is_empty()) {
        Some(InvalidInput::new(
            "suffix",
            "`suffix` (text after the completion, to fill in the middle) cannot be translated into a chat, which this model's provider takes; leave it out",
        ))
    } else if logprobs.is_some() {
        Some(InvalidInput::new(
            "logprobs",
            "`logprobs` cannot be translated into a chat, which this model's provider takes; leave it out or null",
        ))
    } else if best_of.is_some_and(|best_of| best_of > n) {
        Some(InvalidInput::new(
            "best_of",
            "`best_of` above `n` ranks answers by their log probabilities, which a chat, as this model's provider takes, does not give; leave it out or equal to `n`",
        ))
    } else {
        None
    };
    Ok(refusal)
}

/// The sampling parameters that pass on to the provider, checked as
/// OpenAI checks them; the fields of chat completions refused.
fn check_params(params: &Map<String, Value>) -> Result<(), InvalidInput> {
    if let Some(name) = CHAT_ONLY.iter().find(|name| params.contains_key(**name)) {
        return Err(InvalidInput::new(
            *name,
            format!(
                "`{name}` is not part of the text completions API; send it to /chat/completions"
            ),
        ));
    }
    integer(params, "max_tokens", 1, i64::from(u32::MAX))?;
    for (name, min, max) in [
        ("temperature", 0.0, 2.0),
        ("top_p", 0.0, 1.0),
        ("presence_penalty", -2.0, 2.0),
        ("frequency_penalty", -2.0, 2.0),
    ] {
        number(params, name, min, max)?;
    }
    match params.get("seed") {
        None | Some(Value::Null) => {}
        Some(seed) if seed.is_i64() => {}
        Some(_) => return Err(InvalidInput::new("seed", "`seed` must be an integer")),
    }
    match params.get("user") {
        None | Some(Value::Null | Value::String(_)) => {}
        Some(other) => return Err(wrong("user", "a string", other)),
    }
    match params.get("stop") {
        None | Some(Value::Null | Value::String(_)) => {}
        Some(Value::Array(stops)) if stops.len() > MAX_STOPS => {
            return Err(InvalidInput::new(
                "stop",
                format!("`stop` may hold at most {MAX_STOPS} sequences"),
            ))
        }
        Some(Value::Array(stops)) => {
            if let Some((i, stop)) = stops.iter().enumerate().find(|(_, s)| !s.is_string()) {
                return Err(wrong(&format!("stop[{i}]"), "a string", stop));
            }
        }
        Some(other) => return Err(wrong("stop", "a string or an array of strings", other)),
    }
    match params.get("logit_bias") {
        None | Some(Value::Null) => {}
        Some(Value::Object(biases)) => {
            for (token, bias) in biases {
                let field = format!("logit_bias.{token}");
                if !bias.as_f64().is_some_and(|b| (-100.0..=100.0).contains(&b)) {
                    return Err(InvalidInput::new(
                        &field,
                        format!("`{field}` must be a number from -100 to 100"),
                    ));
                }
            }
        }
        Some(other) => return Err(wrong("logit_bias", "an object", other)),
    }
    Ok(())
}

/// The integer `name` within `min..=max`; null is the same as absent.
fn integer(
    params: &Map<String, Value>,
    name: &str,
    min: i64,
    max: i64,
) -> Result<Option<i64>, InvalidInput> {
    match params.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value
            .as_i64()
            .filter(|n| (min..=max).contains(n))
            .map(Some)
            .ok_or_else(|| {
                InvalidInput::new(
                    name,
                    format!("`{name}` must be an integer from {min} to {max}"),
                )
            }),
    }
}

/// The number `name` within `min..=max`; null is the same as absent.
fn number(params: &Map<String, Value>, name: &str, min: f64, max: f64) -> Result<(), InvalidInput> {
    match params.get(name) {
        None | Some(Value::Null) => Ok(()),
        Some(value) if value.as_f64().is_some_and(|x| (min..=max).contains(&x)) => Ok(()),
        Some(_) => Err(InvalidInput::new(
            name,
            format!("`{name}` must be a number from {min} to {max}"),
        )),
    }
}

/// Tokens of several answers, added up, in OpenAI's `usage`.
#[derive(Default)]
struct Tokens {
    prompt: i64,
    completion: i64,
    known: bool,
}

impl Tokens {
    fn add(&mut self, usage: &Value) {
        if usage.is_object() {
            self.known = true;
            self.prompt += usage["prompt_tokens"].as_i64().unwrap_or(0);
            self.completion += usage["completion_tokens"].as_i64().unwrap_or(0);
        }
    }

    fn usage(&self) -> Option<Value> {
        self.known.then(|| {
            json!({
                "prompt_tokens": self.prompt,
                "completion_tokens": self.completion,
                "total_tokens": self.prompt + self.completion,
            })
        })
    }
}

/// A choice of one answer as the choice `index` of them all, after its
/// prompt with `echo`.
fn renumber(choice: &mut Value, index: usize, echo: Option<&str>) {
    choice["index"] = index.into();
    if let Some(prompt) = echo {
        let text = choice["text"].as_str().unwrap_or_default();
        choice["text"] = format!("{prompt}{text}").into();
    }
}

/// Whole answers (each this protocol's, of one choice) as one completion.
fn merge_whole(meta: &AnswerMeta, answers: Vec<Answer>, echoes: Vec<Option<String>>) -> Answer {
    let mut usage = Tokens::default();
    let mut choices = Vec::with_capacity(answers.len());
    for (index, (answer, echo)) in answers.into_iter().zip(echoes).enumerate() {
        let Answer::Whole(body) = answer else {
            unreachable!("a request that does not stream is answered whole")
        };
        let mut body: Value =
            serde_json::from_slice(&body).expect("the gateway's own completions are JSON");
        usage.add(&body["usage"]);
        let mut choice = body["choices"][0].take();
        renumber(&mut choice, index, echo.as_deref());
        choices.push(choice);
    }
    let mut body = object(meta, Value::Array(choices));
    if let Some(usage) = usage.usage() {
        body["usage"] = usage;
    }
    Answer::Whole(
        serde_json::to_vec(&body)
            .expect("JSON values serialize")
            .into(),
    )
}

/// The chunk streams of several answers (each this protocol's, of one
/// choice) as one stream, chunks sent as they come: each chunk's choice
/// renumbered, with the completion's id and time, after the prompt with
/// `echo`; the usage added up into one chunk at the end (when asked), and
/// one `[DONE]`. An error event ends it: the other answers are dropped, and
/// the failed one read to its end, so that each is recorded as it ended.
struct Merged {
    meta: AnswerMeta,
    include_usage: bool,
    /// Each answer's stream, until it ends (or is dropped).
    streams: Vec<Option<Events>>,
    /// The answer polled first next time, so none waits behind another.
    next: usize,
    /// Each answer's bytes not yet cut into whole events.
    pending: Vec<BytesMut>,
    echoes: Vec<Option<String>>,
    usage: Tokens,
    failed: bool,
    ended: bool,
}

impl Merged {
    fn new(
        meta: AnswerMeta,
        include_usage: bool,
        answers: Vec<Answer>,
        echoes: Vec<Option<String>>,
    ) -> Merged {
        let streams = answers
            .into_iter()
            .map(|answer| match answer {
                Answer::Events(events) => Some(events),
                Answer::Whole(_) => unreachable!("a request that streams is answered with events"),
            })
            .collect();
        Merged {
            meta,
            include_usage,
            streams,
            next: 0,
            pending: vec![BytesMut::new(); echoes.len()],
            echoes,
            usage: Tokens::default(),
            failed: false,
            ended: false,
        }
    }

    /// What `chunk` of answer `index` completes, as the client's events.
    /// Its events are the relay's, whose line endings are `\n` already.
    fn take(&mut self, index: usize, chunk: &[u8], out: &mut BytesMut) {
        self.pending[index].extend_from_slice(chunk);
        while let Some(at) = memchr::memmem::find(&self.pending[index], b"\n\n") {
            let event = self.pending[index].split_to(at + 2);
            if self.failed {
                return;
            }
            self.event(index, &event, out);
        }
    }

    fn event(&mut self, index: usize, event: &[u8], out: &mut BytesMut) {
        // Read as SSE is (`data:` with or without a space): an upstream
        // serving text completions is passed through as it wrote them.
        let Some(payload) = sse::parse(event).map(|event| event.data) else {
            return; // not UTF-8: no chunk a client could read
        };
        if payload.is_empty() {
            // Comments (keep-alives) go as they are.
            out.extend_from_slice(event);
            return;
        }
        let Ok(mut chunk) = serde_json::from_str::<Value>(&payload) else {
            return; // `[DONE]`: one goes at the very end
        };
        if chunk.get("error").is_some() {
            out.extend_from_slice(event);
            done(out);
            self.failed = true;
            for (other, stream) in self.streams.iter_mut().enumerate() {
                if other != index {
                    *stream = None;
                }
            }
            return;
        }
        let Some(choice) = chunk["choices"].get_mut(0) else {
            // The usage chunk, added up.
            self.usage.add(&chunk["usage"]);
            return;
        };
        if let Some(prompt) = self.echoes[index].take() {
            let echoed = object(&self.meta, json!([self::choice(index, &prompt, None)]));
            data(out, &echoed);
        }
        renumber(choice, index, None);
        chunk["id"] = self.meta.id.clone().into();
        chunk["created"] = self.meta.created.into();
        data(out, &chunk);
    }

    /// The usage chunk, when asked for, and `[DONE]`; nothing after an
    /// error, which had its `[DONE]`.
    fn finish(&mut self, out: &mut BytesMut) {
        if self.failed {
            return;
        }
        if let Some(usage) = self.usage.usage().filter(|_| self.include_usage) {
            let mut chunk = object(&self.meta, json!([]));
            chunk["usage"] = usage;
            data(out, &chunk);
        }
        done(out);
    }
}

impl Stream for Merged {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let count = this.streams.len();
        while !this.ended {
            let mut out = BytesMut::new();
            let mut waiting = true;
            for turn in 0..count {
                let index = (this.next + turn) % count;
                let Some(stream) = this.streams[index].as_mut() else {
                    continue;
                };
                match stream.poll_next_unpin(cx) {
                    Poll::Pending => {}
                    Poll::Ready(None) => {
                        this.streams[index] = None;
                        waiting = false;
                    }
                    Poll::Ready(Some(Ok(chunk))) => {
                        this.next = (index + 1) % count;
                        this.take(index, &chunk, &mut out);
                        waiting = false;
                        break;
                    }
                }
            }
            if this.streams.iter().all(Option::is_none) {
                this.ended = true;
                this.finish(&mut out);
            }
            if !out.is_empty() {
                return Poll::Ready(Some(Ok(out.freeze())));
            }
            if waiting && !this.ended {
                return Poll::Pending;
            }
        }
        Poll::Ready(None)
    }
}
