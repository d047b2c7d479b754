//! OpenAI's embeddings API, with no HTTP in it: the request checked, its
//! model routed and admitted as a chat's is, the body sent on to an
//! OpenAI-compatible provider as the client wrote it (with the catalog's
//! model id) and its answer passed back as it came; `echo` answers itself.
//! Each request is one chat log with no conversation: what was embedded,
//! never the input itself.

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use base64::Engine;
use bytes::Bytes;
use serde::de::{self, Deserializer, IgnoredAny, SeqAccess};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::answer::Usage;
use super::catalog::Route;
use super::chat::{finish_failed, read_body, Caller, ChatError, Resolved};
use super::chat_log::{estimate_tokens, ChatMeta, Outcome, PendingChatLog};
use super::providers;
use super::redact::Redactor;
use super::upstream::{self, UpstreamRequest};
use super::upstream_error::UpstreamError;
use super::{echo, Core};
use crate::db::chat_logs::ChatStatus;
use crate::db::providers::Provider;
use crate::domain::{json_type, time_ordered_id, wrong, InvalidInput, JsonObject, Timestamp};

/// The most inputs one request embeds, as OpenAI allows.
pub const MAX_INPUTS: usize = 2048;
/// The most dimensions a request may ask for: more than any embedding
/// model has.
pub const MAX_DIMENSIONS: u64 = 8192;
/// A token id: what OpenAI's tokenizers give, and more.
const MAX_TOKEN: u64 = u32::MAX as u64;

/// A checked `/embeddings` body.
#[derive(Debug)]
pub struct EmbeddingsRequest {
    model: String,
    /// The body as sent, `input` checked: what goes upstream (with the
    /// upstream's model id), and what echo embeds.
    body: Map<String, Value>,
    /// How many vectors the answer holds.
    inputs: usize,
    /// Characters of the input's text, for an estimate of its tokens; a
    /// token id counts as the characters of one token.
    prompt_chars: usize,
    base64: bool,
    dimensions: Option<usize>,
}

impl EmbeddingsRequest {
    pub fn parse(body: JsonObject) -> Result<EmbeddingsRequest, InvalidInput> {
        let body = body.into_map();
        let model = match body.get("model") {
            None | Some(Value::Null) => {
                return Err(InvalidInput::new("model", "`model` is required"))
            }
            Some(Value::String(model)) if model.trim().is_empty() => {
                return Err(InvalidInput::new("model", "`model` must not be blank"))
            }
            Some(Value::String(model)) => model.clone(),
            Some(other) => return Err(wrong("model", "a string", other)),
        };
        let (inputs, prompt_chars) = check_input(body.get("input"))?;
        let base64 = match body.get("encoding_format") {
            None | Some(Value::Null) => false,
            Some(Value::String(format)) if format == "float" => false,
            Some(Value::String(format)) if format == "base64" => true,
            Some(other) => {
                return Err(InvalidInput::new(
                    "encoding_format",
                    format!(
                        "`encoding_format` must be \"float\" or \"base64\", not {}",
                        shown(other)
                    ),
                ))
            }
        };
        let dimensions = match body.get("dimensions") {
            None | Some(Value::Null) => None,
            Some(value) => match value.as_u64().filter(|d| (1..=MAX_DIMENSIONS).contains(d)) {
                Some(dimensions) => Some(dimensions as usize),
                None => {
                    return Err(InvalidInput::new(
                        "dimensions",
                        format!(
                            "`dimensions` must be an integer from 1 to {MAX_DIMENSIONS}, not {}",
                            shown(value)
                        ),
                    ))
                }
            },
        };
        match body.get("user") {
            None | Some(Value::Null | Value::String(_)) => {}
            Some(other) => return Err(wrong("user", "a string", other)),
        }
        Ok(EmbeddingsRequest {
            model,
            body,
            inputs,
            prompt_chars,
            base64,
            dimensions,
        })
    }
}

/// What the chat log says was embedded; the answer's dimensions once
/// known.
fn summary(inputs: usize, dimensions: Option<usize>) -> String {
    let plural = |n: usize, one: &str| format!("{n} {one}{}", if n == 1 { "" } else { "s" });
    let mut text = format!("[embeddings: {}", plural(inputs, "input"));
    if let Some(dimensions) = dimensions {
        text.push_str(", ");
        text.push_str(&plural(dimensions, "dimension"));
    }
    text.push(']');
    text
}

/// A short string shown as it is, else the kind of value it is.
fn shown(value: &Value) -> String {
    match value {
        Value::String(s) if s.chars().count() <= 40 => format!("{s:?}"),
        Value::Number(n) => n.to_string(),
        other => json_type(other).to_owned(),
    }
}

/// Checks `input`: a string, an array of strings, of token ids, or of
/// arrays of token ids, none empty. Gives the number of inputs and their
/// characters (a token id counting as one token's).
fn check_input(input: Option<&Value>) -> Result<(usize, usize), InvalidInput> {
    let items = match input {
        None | Some(Value::Null) => {
            return Err(InvalidInput::new(
                "input",
                "`input` is required: a string, an array of strings, or token ids \
                 (an array of integers, or an array of arrays of integers)",
            ))
        }
        Some(Value::String(text)) if text.is_empty() => {
            return Err(InvalidInput::new("input", "`input` must not be empty"))
        }
        Some(Value::String(text)) => return Ok((1, text.chars().count())),
        Some(Value::Array(items)) => items,
        Some(other) => return Err(wrong("input", "a string or an array", other)),
    };
    if items.is_empty() {
        return Err(InvalidInput::new("input", "`input` must not be empty"));
    }
    if items.len() > MAX_INPUTS {
        return Err(InvalidInput::new(
            "input",
            format!(
                "`input` may hold at most {MAX_INPUTS} items, not {}",
                items.len()
            ),
        ));
    }
    let token_chars = |tokens: usize| tokens * super::chat_log::CHARS_PER_TOKEN;
    match &items[0] {
        Value::String(_) => {
            let mut chars = 0;
            for (i, item) in items.iter().enumerate() {
                let field = format!("input[{i}]");
                match item {
                    Value::String(text) if text.is_empty() => {
                        return Err(InvalidInput::new(
                            &field,
                            format!("`{field}` must not be empty"),
                        ))
                    }
                    Value::String(text) => chars += text.chars().count(),
                    other => return Err(unlike(&field, "a string", other)),
                }
            }
            Ok((items.len(), chars))
        }
        Value::Number(_) => {
            check_tokens("input", items)?;
            Ok((1, token_chars(items.len())))
        }
        Value::Array(_) => {
            let mut tokens = 0;
            for (i, item) in items.iter().enumerate() {
                let field = format!("input[{i}]");
                match item {
                    Value::Array(ids) => {
                        check_tokens(&field, ids)?;
                        tokens += ids.len();
                    }
                    other => return Err(unlike(&field, "an array of token ids", other)),
                }
            }
            Ok((items.len(), token_chars(tokens)))
        }
        other => Err(wrong(
            "input[0]",
            "a string, a token id or an array of token ids",
            other,
        )),
    }
}

/// An item of `input` that is not of its first item's kind.
fn unlike(field: &str, expected: &str, got: &Value) -> InvalidInput {
    InvalidInput::new(
        field,
        format!(
            "`{field}` must be {expected}, like `input[0]`, not {}",
            json_type(got)
        ),
    )
}

/// Token ids: integers from 0 to `MAX_TOKEN`, at least one.
fn check_tokens(field: &str, ids: &[Value]) -> Result<(), InvalidInput> {
    if ids.is_empty() {
        return Err(InvalidInput::new(
            field,
            format!("`{field}` must not be empty"),
        ));
    }
    for (i, id) in ids.iter().enumerate() {
        if id.as_u64().is_none_or(|id| id > MAX_TOKEN) {
            let field = format!("{field}[{i}]");
            return Err(InvalidInput::new(
                &field,
                format!(
                    "`{field}` must be a token id (an integer from 0 to {MAX_TOKEN}), not {}",
                    shown(id)
                ),
            ));
        }
    }
    Ok(())
}

impl Core {
    /// Embeds `request` for `caller`, through `client` (one per worker):
    /// the answer's JSON body.
    pub async fn embed(
        &self,
        client: &awc::Client,
        caller: Caller,
        mut request: EmbeddingsRequest,
    ) -> Result<Bytes, ChatError> {
        let started = Instant::now();
        let recording = self.recording.now();
        let Resolved {
            subject,
            model,
            snapshot,
            route,
            ..
        } = self
            .resolve(caller, None, Some(std::mem::take(&mut request.model)))
            .await?;
        // The client's mistakes first: they change nothing, not even a
        // limit's count.
        let upstream = match route {
            Route::Echo => {
                echo::check_embeddings(request.inputs, request.dimensions)?;
                None
            }
            Route::Upstream {
                provider,
                upstream_model,
            } => {
                let api = providers::api(provider.kind);
                let Some(url) = api.embeddings_url(provider.base_url.trim_end_matches('/')) else {
                    return Err(InvalidInput::new(
                        "model",
                        format!(
                            "model {model:?} cannot make embeddings: its provider {:?} has no embeddings API",
                            provider.id
                        ),
                    )
                    .into());
                };
                Some((provider, upstream_model, url))
            }
        };
        let admission = self.admit(&subject, &model, None)?;
        let mut record = PendingChatLog::new(
            self.catalog.clone(),
            self.sink.clone(),
            ChatMeta {
                chat_id: time_ordered_id(Timestamp::now()),
                title: "Embeddings".to_owned(),
                prefix: summary(request.inputs, None),
                prompt_chars: request.prompt_chars,
                model: model.clone(),
                provider: upstream.as_ref().map(|(provider, ..)| provider.id.clone()),
                character_id: None,
                user_id: subject.user.as_ref().map(|m| m.id),
                api_key_id: subject.key,
                started,
                recording,
                session: false,
            },
            admission,
        );
        let Some((provider, upstream_model, url)) = upstream else {
            let dimensions = request.dimensions.unwrap_or(echo::EMBEDDING_DIMENSIONS);
            let answer = echo_answer(&request, &model, dimensions);
            record.describe(summary(request.inputs, Some(dimensions)));
            // echo reports the estimate its log makes.
            finish_ok(record, None);
            return Ok(answer);
        };
        let inputs = request.inputs;
        let mut body = request.body;
        body.insert("model".to_owned(), upstream_model.into());
        let asked = self
            .ask_provider(
                client,
                provider,
                url,
                &Value::Object(body),
                snapshot.redactor(),
            )
            .await;
        let (answer, read) = match asked {
            Ok(answered) => answered,
            Err(error) => return Err(finish_failed(record, error)),
        };
        record.describe(summary(inputs, read.dimensions));
        finish_ok(record, read.prompt_tokens);
        Ok(answer)
    }

    /// The provider's answer to `body`, as it came and as read.
    async fn ask_provider(
        &self,
        client: &awc::Client,
        provider: Arc<Provider>,
        url: String,
        body: &Value,
        redactor: &Redactor,
    ) -> Result<(Bytes, Read), UpstreamError> {
        let prepared = UpstreamRequest::to(url, provider, body)?;
        let response = upstream::send(client, &self.config, &prepared, redactor).await?;
        let answer = read_body(response, &self.config, redactor).await?;
        let read = read_answer(&answer)?;
        Ok((answer, read))
    }
}

fn finish_ok(record: PendingChatLog, prompt_tokens: Option<i64>) {
    record.finish(Outcome {
        reply: "",
        tools: &[],
        tool_chars: 0,
        // Nothing comes out of an embedding model but the vectors.
        usage: Usage {
            prompt_tokens,
            completion_tokens: Some(0),
            ..Usage::default()
        },
        prompt_used: true,
        status: ChatStatus::Ok,
        error: None,
    });
}

/// What mindgate reads of a provider's answer.
struct Read {
    prompt_tokens: Option<i64>,
    /// Of the first vector.
    dimensions: Option<usize>,
}

/// A provider's embeddings answer, read; an error object in it is the
/// error it reports.
fn read_answer(body: &[u8]) -> Result<Read, UpstreamError> {
    if let Some(error) = providers::reported_error(body) {
        return Err(UpstreamError::reported(error));
    }
    let answer: WireAnswer = serde_json::from_slice(body).map_err(|e| {
        UpstreamError::bad_answer(format!(
            "the provider's answer is not a list of embeddings: {e}"
        ))
    })?;
    Ok(Read {
        prompt_tokens: answer.usage.and_then(|usage| usage.prompt_tokens),
        dimensions: answer.data.first().map(|item| item.embedding.0),
    })
}

// The answer's wire shape: only what mindgate records, the vectors counted
// and never kept.

#[derive(Deserialize)]
struct WireAnswer {
    data: Vec<WireEmbedding>,
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct WireEmbedding {
    embedding: Dimensions,
}

#[derive(Deserialize)]
struct WireUsage {
    prompt_tokens: Option<i64>,
}

/// A vector's length: its numbers, or the floats its base64 text holds.
struct Dimensions(usize);

impl<'de> Deserialize<'de> for Dimensions {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(DimensionsVisitor)
    }
}

struct DimensionsVisitor;

impl<'de> de::Visitor<'de> for DimensionsVisitor {
    type Value = Dimensions;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of numbers or a base64 string")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Dimensions, A::Error> {
        let mut count = 0;
        while seq.next_element::<IgnoredAny>()?.is_some() {
            count += 1;
        }
        Ok(Dimensions(count))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Dimensions, E> {
        let padding = text.bytes().rev().take_while(|b| *b == b'=').count();
        let bytes = (text.len() / 4 * 3).saturating_sub(padding);
        Ok(Dimensions(bytes / size_of::<f32>()))
    }
}

/// echo's answer, in OpenAI's shape.
#[derive(Serialize)]
struct EchoAnswer<'a> {
    object: &'static str,
    data: Vec<EchoEmbedding>,
    model: &'a str,
    usage: EchoUsage,
}

#[derive(Serialize)]
struct EchoEmbedding {
    object: &'static str,
    index: usize,
    embedding: Vector,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Vector {
    Floats(Vec<f32>),
    /// The floats' bytes, little-endian, as the OpenAI SDKs decode them.
    Base64(String),
}

#[derive(Serialize)]
struct EchoUsage {
    prompt_tokens: i64,
    total_tokens: i64,
}

fn echo_answer(request: &EmbeddingsRequest, model: &str, dimensions: usize) -> Bytes {
    let data = echo::embedding_inputs(&request.body["input"])
        .into_iter()
        .enumerate()
        .map(|(index, input)| {
            let vector = echo::embedding(&input, dimensions);
            let embedding = if request.base64 {
                let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
                Vector::Base64(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                Vector::Floats(vector)
            };
            EchoEmbedding {
                object: "embedding",
                index,
                embedding,
            }
        })
        .collect();
    let tokens = estimate_tokens(request.prompt_chars);
    let answer = EchoAnswer {
        object: "list",
        data,
        model,
        usage: EchoUsage {
            prompt_tokens: tokens,
            total_tokens: tokens,
        },
    };
    serde_json::to_vec(&answer)
        .expect("echo's answer serializes")
        .into()
}
