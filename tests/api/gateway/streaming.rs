//! Streams go out as they come in, and stop when the client goes away.

use std::time::{Duration, Instant};

use actix_web::http::StatusCode;

use super::*;
use crate::mock_upstream::Fault;

#[actix_web::test]
async fn streams_are_server_sent_events_that_nothing_buffers() {
    let gw = spawn_gateway().await;
    let response = gw.open_stream(&streamed(hello("gpt-4o-mini"))).await;
    assert_eq!(response.status(), StatusCode::OK);
    let header = |name| response.headers().get(name).and_then(|v| v.to_str().ok());
    assert_eq!(header("content-type"), Some("text/event-stream"));
    assert_eq!(header("cache-control"), Some("no-cache"));
    assert_eq!(header("x-accel-buffering"), Some("no"));
}

#[actix_web::test]
async fn each_event_reaches_the_client_before_the_next_is_sent() {
    // The event after the one carrying "Hello": 2nd of OpenAI's stream,
    // 4th of Anthropic's (after message_start, content_block_start, ping).
    for (model, held) in [("gpt-4o-mini", 2), ("claude-haiku-4-5", 4)] {
        let gw = spawn_gateway().await;
        gw.mock.fail_with([Fault::DelayEvent {
            index: held,
            delay: Duration::from_millis(500),
        }]);
        let mut response = gw.open_stream(&streamed(hello(model))).await;
        let chunks = chunks_with_times(&mut response).await;
        let held_sent_at = gw.mock.sent_at()[held];
        let hello_at = chunks
            .iter()
            .find(|(_, bytes)| String::from_utf8_lossy(bytes).contains("Hello"))
            .map(|(at, _)| *at)
            .expect("first word received");
        assert!(
            hello_at < held_sent_at,
            "{model}: \"Hello\" reached the client only after the mock sent the next event"
        );
        let text = chunks
            .iter()
            .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
            .collect::<String>();
        assert_eq!(streamed_text(&text), crate::mock_upstream::REPLY);
    }
}

#[actix_web::test]
async fn a_client_that_goes_away_drops_the_upstream_within_a_second() {
    let gw = spawn_gateway().await;
    gw.mock
        .fail_with([Fault::Endless(Duration::from_millis(20))]);
    let mut response = gw.open_stream(&streamed(hello("gpt-4o-mini"))).await;
    let mut seen = 0;
    while seen < 5 {
        response.next().await.expect("chunk").expect("read");
        seen += 1;
    }
    drop(response);
    let left = Instant::now();
    let closed = loop {
        if let Some(at) = gw.mock.closed_at() {
            break at;
        }
        assert!(
            left.elapsed() < Duration::from_secs(3),
            "the upstream stream is still open"
        );
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(
        closed.duration_since(left) < Duration::from_secs(1),
        "upstream closed {:?} after the client left",
        closed.duration_since(left)
    );
    assert_cancelled(&the_chat(&gw.app).await, "Hello more");
}

/// A chat the client left: cancelled, with what it had received.
fn assert_cancelled(chat: &StoredChat, reply_start: &str) {
    assert_eq!(chat.status, "cancelled");
    let start = format!("User: Hi there\n\nAssistant: {reply_start}");
    assert!(
        chat.conversation.starts_with(&start),
        "{}",
        chat.conversation
    );
}

/// A silent upstream gives the server nothing to write, and a server learns
/// that its client left only when a write fails: mindgate's keep-alive
/// comments make that happen, so the upstream request is dropped (and the
/// chat recorded as cancelled) while the upstream is still silent.
#[actix_web::test]
async fn a_client_that_leaves_during_a_silence_is_noticed_within_a_second() {
    let gw = spawn_gateway().await;
    gw.mock.fail_with([Fault::SilentAfter(3)]);
    let mut response = gw.open_stream(&streamed(hello("gpt-4o-mini"))).await;
    let mut received = String::new();
    while !received.contains("Hello") {
        let chunk = response.next().await.expect("chunk").expect("read");
        received.push_str(&String::from_utf8_lossy(&chunk));
    }
    drop(response);
    let left = Instant::now();
    loop {
        if let Some(chat) = stored_chats(&gw.app).pop() {
            assert_cancelled(&chat, "Hello");
            break;
        }
        assert!(
            left.elapsed() < Duration::from_secs(1),
            "the upstream request is still open a second after the client left"
        );
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }
}

#[actix_web::test]
async fn silences_are_filled_with_comments_that_clients_ignore() {
    let gw = spawn_gateway().await;
    gw.mock.fail_with([Fault::DelayEvent {
        index: 3,
        delay: Duration::from_millis(700),
    }]);
    let (status, stream) = gw.stream(&streamed(hello("gpt-4o-mini"))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(stream.contains("\n\n: keep-alive\n\n"), "{stream}");
    assert_eq!(streamed_text(&stream), crate::mock_upstream::REPLY);
}
