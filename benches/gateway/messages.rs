//! The Anthropic Messages API's requests and answers, as Anthropic sends
//! them; mindgate passes them through byte for byte.

use crate::load::{Api, Streamed};
use crate::mock::{named_event, word, STREAM_CHUNKS};

const BODY: &str = r#"{"model":"claude-haiku-4-5","max_tokens":1024,"messages":[{"role":"user","content":"Hello"}]}"#;
const STREAM_BODY: &str = r#"{"model":"claude-haiku-4-5","max_tokens":1024,"messages":[{"role":"user","content":"Hello"}],"stream":true}"#;

/// The whole answer, about 400 bytes.
const MESSAGE: &str = concat!(
    r#"{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant","#,
    r#""model":"claude-haiku-4-5-20251001","content":[{"type":"text","#,
    r#""text":"Hello! How can I help you today? Ask me anything."}],"#,
    r#""stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":8,"#,
    r#""cache_creation_input_tokens":0,"cache_read_input_tokens":0,"#,
    r#""output_tokens":12,"service_tier":"standard"}}"#
);

/// Text deltas in a streamed answer, as many as chat completions' chunks.
const TEXT_DELTAS: usize = STREAM_CHUNKS;

/// A streamed answer's events, as Anthropic sends them: its text in
/// `TEXT_DELTAS` deltas between the message's and the block's starts and
/// ends, and a ping.
fn events() -> Vec<String> {
    let event = |name: &str, data: String| named_event(name, &data);
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
        events.push(event(
            "content_block_delta",
            format!(
                r#"{{"type":"content_block_delta","index":0,"delta":{{"type":"text_delta","text":"{}"}}}}"#,
                word(i)
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

/// Anthropic's Messages API, whole and streamed.
pub const MESSAGES: Api = Api {
    name: "messages",
    path: "/v1/messages",
    headers: &[("anthropic-version", "2023-06-01")],
    body: BODY,
    answer: || MESSAGE.to_owned(),
    stream: Some(Streamed {
        body: STREAM_BODY,
        events,
        first_token: br#""text_delta""#,
        // The text deltas, and six more: the message's and the block's
        // starts and ends, its delta and a ping.
        count: TEXT_DELTAS + 6,
        last: b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
        pieces: (TEXT_DELTAS, "deltas"),
    }),
};
