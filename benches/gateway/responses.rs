//! OpenAI's Responses API: requests, and answers as OpenAI sends them (a
//! `response` object, or its typed events); mindgate passes them through
//! byte for byte to a provider that serves `/responses`.

use crate::load::{Api, Streamed};
use crate::mock::{named_event, word, STREAM_CHUNKS};

const BODY: &str = r#"{"model":"gpt-4o-mini","input":"Hello"}"#;
const STREAM_BODY: &str = r#"{"model":"gpt-4o-mini","input":"Hello","stream":true}"#;

const MESSAGE_ID: &str = "msg_68f0c5a3c1d48190b2e7f9a1c3d5e7f90d3e1f2a4b6c8d9e";

/// Text deltas in a streamed answer, as many as chat completions' chunks.
const TEXT_DELTAS: usize = STREAM_CHUNKS;

/// A `response` object, with OpenAI's fields in OpenAI's order.
fn response(status: &str, output: &str, usage: &str) -> String {
    format!(
        concat!(
            r#"{{"id":"resp_68f0c5a2b7e08190a3c1d6e4f2b9a7c50d3e1f2a4b6c8d9e","object":"response","#,
            r#""created_at":1764172800,"status":"{status}","background":false,"error":null,"#,
            r#""incomplete_details":null,"instructions":null,"max_output_tokens":null,"#,
            r#""max_tool_calls":null,"model":"gpt-4o-mini-2024-07-18","output":[{output}],"#,
            r#""parallel_tool_calls":true,"previous_response_id":null,"prompt_cache_key":null,"#,
            r#""reasoning":{{"effort":null,"summary":null}},"safety_identifier":null,"#,
            r#""service_tier":"default","store":true,"temperature":1.0,"#,
            r#""text":{{"format":{{"type":"text"}},"verbosity":"medium"}},"tool_choice":"auto","#,
            r#""tools":[],"top_logprobs":0,"top_p":1.0,"truncation":"disabled","usage":{usage},"#,
            r#""user":null,"metadata":{{}}}}"#
        ),
        status = status,
        output = output,
        usage = usage,
    )
}

fn usage(output_tokens: u32) -> String {
    format!(
        r#"{{"input_tokens":8,"input_tokens_details":{{"cached_tokens":0}},"output_tokens":{output_tokens},"output_tokens_details":{{"reasoning_tokens":0}},"total_tokens":{}}}"#,
        8 + output_tokens
    )
}

fn text_part(text: &str) -> String {
    format!(r#"{{"type":"output_text","annotations":[],"logprobs":[],"text":"{text}"}}"#)
}

/// The answer's one output item: a message, `content` its parts.
fn message(status: &str, content: &str) -> String {
    format!(
        r#"{{"id":"{MESSAGE_ID}","type":"message","status":"{status}","content":[{content}],"role":"assistant"}}"#
    )
}

/// The whole answer, about 1.1 kB.
fn answer() -> String {
    let text = text_part("Hello! How can I help you today? Ask me anything.");
    response("completed", &message("completed", &text), &usage(12))
}

/// A streamed answer's typed events, each with its `sequence_number`: the
/// response created and in progress, its message and text part added,
/// the text in `TEXT_DELTAS` deltas, everything done, the response
/// completed.
fn events() -> Vec<String> {
    let mut events = Vec::new();
    let mut push = |kind: &str, fields: String| {
        let data = format!(
            r#"{{"type":"{kind}","sequence_number":{}{fields}}}"#,
            events.len()
        );
        events.push(named_event(kind, &data));
    };
    let begun = format!(r#","response":{}"#, response("in_progress", "", "null"));
    push("response.created", begun.clone());
    push("response.in_progress", begun);
    push(
        "response.output_item.added",
        format!(r#","output_index":0,"item":{}"#, message("in_progress", "")),
    );
    let at = format!(r#","item_id":"{MESSAGE_ID}","output_index":0,"content_index":0"#);
    push(
        "response.content_part.added",
        format!(r#"{at},"part":{}"#, text_part("")),
    );
    let mut text = String::new();
    for i in 0..TEXT_DELTAS {
        text.push_str(word(i));
        push(
            "response.output_text.delta",
            format!(
                r#"{at},"delta":"{}","logprobs":[],"obfuscation":"Zq7wXk2""#,
                word(i)
            ),
        );
    }
    push(
        "response.output_text.done",
        format!(r#"{at},"text":"{text}","logprobs":[]"#),
    );
    let part = text_part(&text);
    push(
        "response.content_part.done",
        format!(r#"{at},"part":{part}"#),
    );
    let done = message("completed", &part);
    push(
        "response.output_item.done",
        format!(r#","output_index":0,"item":{done}"#),
    );
    push(
        "response.completed",
        format!(
            r#","response":{}"#,
            response("completed", &done, &usage(63))
        ),
    );
    events
}

/// OpenAI's Responses API, whole and streamed.
pub const RESPONSES: Api = Api {
    name: "responses",
    path: "/v1/responses",
    headers: &[],
    body: BODY,
    answer,
    stream: Some(Streamed {
        body: STREAM_BODY,
        events,
        first_token: b"response.output_text.delta",
        // The text deltas, and eight more: the response created, in
        // progress and completed, the message added and done, its part
        // added and done, its text done.
        count: TEXT_DELTAS + 8,
        // The end of `response.completed`: its usage, and the last fields.
        last: b"\"total_tokens\":71},\"user\":null,\"metadata\":{}}}\n\n",
        pieces: (TEXT_DELTAS, "deltas"),
    }),
};
