//! The gateway's core driven directly, with no HTTP request: a typed caller
//! and request in, an answer out, chat logs into a sink of the test's own.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use mindgate::db::usage::Recorded;
use mindgate::db::{settings, Db};
use mindgate::domain::{Email, JsonObject};
use mindgate::gateway::embeddings::EmbeddingsRequest;
use mindgate::gateway::request::ChatRequest;
use mindgate::gateway::{client, Answer, Caller, ChatError, ChatLogSink, Core};
use serde_json::{json, Value};

use super::{config, event_data, hello, streamed, streamed_text};
use crate::mock_upstream::{MockUpstream, REPLY};

/// Keeps every row it is given.
#[derive(Default)]
struct Rows(Mutex<Vec<Recorded>>);

impl ChatLogSink for Rows {
    fn record(&self, row: Recorded) {
        self.0.lock().unwrap().push(row);
    }
}

impl Rows {
    /// The chat logs recorded so far: conversation, and whether kept.
    fn chats(&self) -> Vec<(String, bool)> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter_map(|row| match row {
                Recorded::Chat { log, keep_log } => {
                    Some((log.conversation_text.clone(), *keep_log))
                }
                Recorded::Refused { .. } => None,
            })
            .collect()
    }
}

/// A core on a fresh database, its rows into a sink of the test's own,
/// with the mock as its providers.
struct Started {
    _mock: MockUpstream,
    _dir: tempfile::TempDir,
    db: Db,
    rows: Arc<Rows>,
    core: Core,
    client: awc::Client,
}

impl Started {
    async fn new() -> Started {
        let mock = MockUpstream::start().await;
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("mindgate.db")).unwrap();
        let rows = Arc::new(Rows::default());
        let core = Core::start(&db, config(&mock), rows.clone()).unwrap();
        Started {
            _mock: mock,
            _dir: dir,
            db,
            rows,
            core,
            client: client(Duration::from_secs(2), 0),
        }
    }
}

fn request(body: Value) -> ChatRequest {
    ChatRequest::parse(JsonObject::from(body.as_object().unwrap().clone())).unwrap()
}

async fn text_of(answer: Answer) -> String {
    match answer {
        Answer::Whole(body) => String::from_utf8(body.to_vec()).unwrap(),
        Answer::Events(mut events) => {
            let mut text = String::new();
            while let Some(chunk) = events.next().await {
                text.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
            }
            text
        }
    }
}

#[actix_web::test]
async fn the_core_answers_typed_requests_and_records_through_its_sink() {
    let Started {
        _mock,
        _dir,
        db,
        rows,
        core,
        client,
    } = Started::new().await;

    let whole = core
        .complete(&client, Caller::default(), request(hello("gpt-4o")))
        .await
        .unwrap();
    let Answer::Whole(body) = whole else {
        panic!("a whole answer was asked for");
    };
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], REPLY);

    let echoed = core
        .complete(&client, Caller::default(), request(streamed(hello("echo"))))
        .await
        .unwrap();
    assert!(matches!(echoed, Answer::Events(_)));
    assert_eq!(streamed_text(&text_of(echoed).await), "Hi there");

    // A stream begun while chats are recorded is recorded, whatever the
    // setting says by its end.
    let stream = core
        .complete(
            &client,
            Caller::default(),
            request(streamed(hello("claude-3-haiku"))),
        )
        .await
        .unwrap();
    db.write_blocking(|tx| settings::set_bool(tx, settings::RECORD_CHATS, false))
        .unwrap();
    core.recording.reload().await.unwrap();
    let events = text_of(stream).await;
    assert_eq!(streamed_text(&events), REPLY);
    assert_eq!(event_data(&events).last().unwrap(), &json!("[DONE]"));

    let unknown = Caller {
        user_email: Some(Email::parse("nobody@example.com").unwrap()),
        ..Caller::default()
    };
    let refused = core
        .complete(&client, unknown, request(hello("echo")))
        .await
        .err()
        .unwrap();
    assert!(matches!(&refused, ChatError::UnknownUser(_)), "{refused:?}");
    let unrecorded = core
        .complete(&client, Caller::default(), request(hello("gpt-4o")))
        .await
        .unwrap();
    let after = text_of(unrecorded).await;
    assert!(after.contains(REPLY), "{after}");

    let conversation = format!("User: Hi there\n\nAssistant: {REPLY}");
    assert_eq!(
        rows.chats(),
        vec![
            (conversation.clone(), true),
            ("User: Hi there\n\nAssistant: Hi there".to_owned(), true),
            (conversation.clone(), true),
            (String::new(), false),
        ],
        "one row a chat, kept as the setting was when each began"
    );
}

#[actix_web::test]
async fn the_core_embeds_typed_requests_and_records_through_its_sink() {
    let Started {
        _mock,
        _dir,
        rows,
        core,
        client,
        ..
    } = Started::new().await;
    let embeddings = |body: Value| {
        EmbeddingsRequest::parse(JsonObject::from(body.as_object().unwrap().clone())).unwrap()
    };

    for model in ["text-embedding-3-small", "echo"] {
        let body = json!({"model": model, "input": ["a", "b"], "dimensions": 5});
        let answer = core
            .embed(&client, Caller::default(), embeddings(body))
            .await
            .unwrap();
        let answer: Value = serde_json::from_slice(&answer).unwrap();
        assert_eq!(answer["data"][1]["embedding"].as_array().unwrap().len(), 5);
    }
    let refused = core
        .embed(
            &client,
            Caller::default(),
            embeddings(json!({"model": "claude-haiku-4-5", "input": "a"})),
        )
        .await
        .err()
        .unwrap();
    assert!(
        matches!(&refused, ChatError::Invalid(e) if e.field == "model"),
        "{refused:?}"
    );
    let recorded = "[embeddings: 2 inputs, 5 dimensions]".to_owned();
    assert_eq!(
        rows.chats(),
        vec![(recorded.clone(), true), (recorded, true)],
        "a row a request, none for the one refused"
    );
}
