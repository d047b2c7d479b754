//! What each chat costs: the tokens each provider reports, cache tokens
//! priced apart, estimates where a provider reports none, and the price in
//! force when a chat is recorded.

use actix_web::http::{Method, StatusCode};
use futures_util::StreamExt;
use serde_json::{json, Value};

use super::*;
use crate::helpers::send_body;
use crate::mock_upstream::{Fault, MockUsage, COMPLETION_TOKENS, PROMPT_TOKENS, REPLY};

/// Sets `model`'s price through the API, asserting it succeeded.
pub async fn set_price(app: &TestApp, model: &str, price: Value) -> Value {
    let request = app.request(Method::PUT, &format!("/api/v1/models/{model}/price"));
    let (status, body) = send_body(request, price.to_string()).await;
    assert_eq!(status, StatusCode::OK, "PUT {model} price: {body}");
    body
}

/// Micro-dollars for `tokens` (input, output, cache read, cache write) at
/// `prices` (USD per million), rounded up: the README's rule, by hand.
fn cost(tokens: [i64; 4], prices: [f64; 4]) -> i64 {
    let pico: f64 = tokens
        .iter()
        .zip(prices)
        .map(|(t, p)| *t as f64 * p * 1e6)
        .sum();
    (pico / 1e6).ceil() as i64
}

/// The chat recorded under `chat_id`, once it is there.
async fn chat_named(app: &TestApp, chat_id: &str) -> StoredChat {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(chat) = stored_chats(app).into_iter().find(|c| c.chat_id == chat_id) {
            return chat;
        }
        assert!(Instant::now() < deadline, "{chat_id} was not recorded");
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

fn named(mut body: Value, chat_id: &str) -> Value {
    body["chatID"] = json!(chat_id);
    body
}

#[actix_web::test]
async fn whole_and_streamed_answers_of_each_provider_cost_their_tokens_cache_included() {
    let gw = spawn_gateway().await;
    // OpenAI counts the 6 cached tokens inside its 11 prompt tokens;
    // Anthropic reports 3 + 6 read + 2 written apart.
    gw.mock
        .report_usage(MockUsage::Cached { read: 6, write: 2 });
    let openai_price = [0.1, 0.6, 0.075, 0.0];
    set_price(
        &gw.app,
        "gpt-4o-mini",
        json!({"input": 0.1, "output": 0.6, "cacheRead": 0.075}),
    )
    .await;
    let anthropic_price = [3.0, 15.0, 0.3, 3.75];
    set_price(
        &gw.app,
        "claude-haiku-4-5",
        json!({"input": 3, "output": 15, "cacheRead": 0.3, "cacheWrite": 3.75}),
    )
    .await;
    let openai_tokens = [PROMPT_TOKENS - 6, COMPLETION_TOKENS, 6, 0];
    let anthropic_tokens = [PROMPT_TOKENS - 8, COMPLETION_TOKENS, 6, 2];
    for (model, tokens, price) in [
        ("gpt-4o-mini", openai_tokens, openai_price),
        ("claude-haiku-4-5", anthropic_tokens, anthropic_price),
    ] {
        let whole = format!("{model}-whole");
        let (status, body) = gw.complete(&named(hello(model), &whole)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        // OpenAI's prompt_tokens is the whole prompt, whoever answered.
        assert_eq!(
            body["usage"]["prompt_tokens"], PROMPT_TOKENS,
            "{model}: {body}"
        );
        let streamed_id = format!("{model}-streamed");
        let (status, _) = gw
            .stream(&streamed(named(hello(model), &streamed_id)))
            .await;
        assert_eq!(status, StatusCode::OK);
        for chat_id in [whole, streamed_id] {
            let chat = chat_named(&gw.app, &chat_id).await;
            let recorded = [
                chat.prompt_tokens.unwrap(),
                chat.completion_tokens.unwrap(),
                chat.cache_read_tokens,
                chat.cache_write_tokens,
            ];
            assert_eq!(recorded, tokens, "{chat_id}");
            assert!(!chat.usage_estimated, "{chat_id}");
            assert_eq!(chat.cost_micros, Some(cost(tokens, price)), "{chat_id}");
        }
    }
    // 3 × 3 + 3 × 15 + 6 × 0.3 + 2 × 3.75 = 63.3 micro-dollars, rounded up.
    assert_eq!(cost(anthropic_tokens, anthropic_price), 64);
}

#[actix_web::test]
async fn a_price_change_applies_to_later_chats_and_recorded_costs_stay() {
    let gw = spawn_gateway().await;
    let app = &gw.app;
    let tokens = [PROMPT_TOKENS, COMPLETION_TOKENS, 0, 0];
    let (_, listed) = app.get("/api/v1/models/gpt-4o").await;
    assert_eq!(
        listed["price"],
        json!({"input": 2.5, "output": 10.0, "cacheRead": 1.25, "cacheWrite": null}),
        "the built-in list price"
    );
    assert_eq!(
        gw.complete(&named(hello("gpt-4o"), "before")).await.0,
        StatusCode::OK
    );
    let before = chat_named(app, "before").await;
    assert_eq!(
        before.cost_micros,
        Some(cost(tokens, [2.5, 10.0, 0.0, 0.0]))
    );

    let changed = set_price(app, "gpt-4o", json!({"input": 100, "output": 400})).await;
    assert_eq!(changed["price"]["input"], 100.0);
    assert_eq!(
        gw.complete(&named(hello("gpt-4o"), "after")).await.0,
        StatusCode::OK
    );
    let after = chat_named(app, "after").await;
    assert_eq!(
        after.cost_micros,
        Some(cost(tokens, [100.0, 400.0, 0.0, 0.0]))
    );

    let (status, removed) = app.delete("/api/v1/models/gpt-4o/price").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(removed["price"], Value::Null);
    assert_eq!(
        gw.complete(&named(hello("gpt-4o"), "unpriced")).await.0,
        StatusCode::OK
    );
    let unpriced = chat_named(app, "unpriced").await;
    assert_eq!(unpriced.cost_micros, None, "no price: no cost");
    assert_eq!(
        unpriced.prompt_tokens,
        Some(PROMPT_TOKENS),
        "tokens still counted"
    );

    let chats = stored_chats(app);
    assert_eq!(
        chats[0].cost_micros, before.cost_micros,
        "recorded costs stay"
    );
    assert_eq!(chats[1].cost_micros, after.cost_micros);
    let (_, usage) = app.get("/api/v1/usage?groupBy=model").await;
    let expected = (before.cost_micros.unwrap() + after.cost_micros.unwrap()) as f64 / 1e6;
    assert_eq!(usage["total"]["costUsd"], expected, "{usage}");
    assert_eq!(usage["total"]["requests"], 3);
    assert_eq!(usage["total"]["unpricedRequests"], 1);
}

#[actix_web::test]
async fn a_continued_chat_costs_all_its_completions_and_each_counts_as_a_request() {
    let gw = spawn_gateway().await;
    let one = cost(
        [PROMPT_TOKENS, COMPLETION_TOKENS, 0, 0],
        [2.5, 10.0, 0.0, 0.0],
    );
    let request = named(hello("gpt-4o"), "support-7");
    assert_eq!(gw.complete(&request).await.0, StatusCode::OK);
    let first = chat_named(&gw.app, "support-7").await;
    assert_eq!(first.cost_micros, Some(one));
    assert_eq!(gw.complete(&request).await.0, StatusCode::OK);
    let deadline = Instant::now() + Duration::from_secs(5);
    let chat = loop {
        let chat = chat_named(&gw.app, "support-7").await;
        if chat.prompt_tokens != first.prompt_tokens || Instant::now() > deadline {
            break chat;
        }
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(stored_chats(&gw.app).len(), 1, "one row per chat");
    assert_eq!(chat.prompt_tokens, Some(2 * PROMPT_TOKENS));
    assert_eq!(chat.completion_tokens, Some(2 * COMPLETION_TOKENS));
    assert_eq!(chat.cost_micros, Some(2 * one));
    let (_, usage) = gw.app.get("/api/v1/usage").await;
    assert_eq!(usage["total"]["requests"], 2, "{usage}");
    assert_eq!(usage["total"]["inputTokens"], 2 * PROMPT_TOKENS);
    assert_eq!(usage["total"]["costUsd"], (2 * one) as f64 / 1e6);
}

/// "Hi there" is 8 characters: 2 tokens at about 4 a token.
const HELLO_TOKENS: i64 = 2;
/// "Hello there, friend!" is 20 characters.
const REPLY_TOKENS: i64 = 5;

#[actix_web::test]
async fn usage_a_provider_does_not_report_is_estimated_from_the_text() {
    let gw = spawn_gateway().await;
    gw.mock.report_usage(MockUsage::Unreported);
    assert_eq!(REPLY.chars().count().div_ceil(4) as i64, REPLY_TOKENS);
    for (model, stream) in [
        ("gpt-4o", false),
        ("gpt-4o", true),
        ("claude-haiku-4-5", false),
        ("claude-haiku-4-5", true),
    ] {
        let chat_id = format!("{model}-{stream}");
        let body = named(hello(model), &chat_id);
        let status = if stream {
            gw.stream(&streamed(body)).await.0
        } else {
            gw.complete(&body).await.0
        };
        assert_eq!(status, StatusCode::OK, "{chat_id}");
        let chat = chat_named(&gw.app, &chat_id).await;
        assert!(chat.usage_estimated, "{chat_id}");
        assert_eq!(
            (chat.prompt_tokens, chat.completion_tokens),
            (Some(HELLO_TOKENS), Some(REPLY_TOKENS)),
            "{chat_id}"
        );
        assert!(
            chat.cost_micros.unwrap() > 0,
            "{chat_id}: priced tokens cost"
        );
    }
    // echo reports no usage to the log either; it has no price.
    let (status, _) = gw.complete(&named(hello("echo"), "echo")).await;
    assert_eq!(status, StatusCode::OK);
    let echo = chat_named(&gw.app, "echo").await;
    assert!(echo.usage_estimated);
    assert_eq!(
        (echo.prompt_tokens, echo.completion_tokens),
        (Some(HELLO_TOKENS), Some(HELLO_TOKENS))
    );
    assert_eq!(echo.cost_micros, None);
}

#[actix_web::test]
async fn cut_cancelled_and_refused_requests_count_what_went_through() {
    let gw = spawn_gateway().await;
    // Cut after "Hello": the usage chunk never comes.
    gw.mock.fail_with([Fault::CutAfter(2)]);
    let (_, stream) = gw.stream(&streamed(named(hello("gpt-4o"), "cut"))).await;
    assert!(stream.contains("Hello"), "{stream}");
    let cut = chat_named(&gw.app, "cut").await;
    assert_eq!(cut.status, "error");
    assert!(cut.usage_estimated);
    assert_eq!(
        (cut.prompt_tokens, cut.completion_tokens),
        (Some(HELLO_TOKENS), Some(2)),
        "\"Hello\" is 5 characters"
    );

    // Anthropic told the prompt's tokens at the start; the reply's are
    // estimated from what the client had received when it left.
    gw.mock.fail_with([Fault::SilentAfter(5)]);
    let mut response = gw
        .open_stream(&streamed(named(hello("claude-haiku-4-5"), "left")))
        .await;
    let mut received = String::new();
    while !received.contains("there,") {
        let chunk = response.next().await.expect("chunk").expect("read");
        received.push_str(&String::from_utf8_lossy(&chunk));
    }
    drop(response);
    let left = chat_named(&gw.app, "left").await;
    assert_eq!(left.status, "cancelled");
    assert!(left.usage_estimated);
    assert_eq!(left.prompt_tokens, Some(PROMPT_TOKENS), "reported, kept");
    assert_eq!(
        left.completion_tokens,
        Some(3),
        "\"Hello there,\" is 12 characters"
    );

    // A refusal: no model saw the prompt.
    gw.mock.fail_with([Fault::Status {
        code: 400,
        retry_after: None,
        message: "bad request",
    }]);
    let (status, _) = gw.complete(&named(hello("gpt-4o"), "refused")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let refused = chat_named(&gw.app, "refused").await;
    assert_eq!(
        (refused.prompt_tokens, refused.completion_tokens),
        (None, None)
    );
    assert!(!refused.usage_estimated);
    assert_eq!(refused.cost_micros, Some(0));
    let (_, usage) = gw.app.get("/api/v1/usage").await;
    assert_eq!(usage["total"]["requests"], 3, "{usage}");
    assert_eq!(
        usage["total"]["errors"], 2,
        "cut and refused; cancelled is no error"
    );
}

#[actix_web::test]
async fn usage_per_user_and_model_adds_up_the_chat_logs_of_two_users() {
    let gw = spawn_gateway().await;
    gw.mock
        .report_usage(MockUsage::Cached { read: 4, write: 1 });
    for email in ["ann@example.com", "bob@example.com"] {
        gw.app.create_user(&json!({ "email": email })).await;
    }
    let plan = [
        ("ann@example.com", "echo", false),
        ("ann@example.com", "echo", true),
        ("ann@example.com", "gpt-4o", true),
        ("bob@example.com", "claude-haiku-4-5", false),
        ("bob@example.com", "claude-haiku-4-5", true),
        ("bob@example.com", "gpt-4o", false),
    ];
    let chats = plan.iter().map(|(email, model, stream)| {
        let mut body = hello(model);
        body["stream"] = json!(stream);
        let request = gw
            .app
            .request(Method::POST, "/api/v1/chat/completions")
            .insert_header(("X-User-Email", *email));
        async move {
            let mut response = request.send_body(body.to_string()).await.expect("request");
            assert_eq!(response.status(), StatusCode::OK);
            response.body().await.expect("read");
        }
    });
    futures_util::future::join_all(chats).await;
    let stored = wait_for_chats(&gw.app, plan.len()).await;
    let (_, usage) = gw.app.get("/api/v1/usage?groupBy=user,model").await;
    let rows = usage["data"].as_array().unwrap();
    assert_eq!(rows.len(), 4, "{usage}");
    for row in rows {
        let email = row["userEmail"].as_str().unwrap();
        let user_id = if email.starts_with("ann") { 1 } else { 2 };
        let of_group: Vec<&StoredChat> = stored
            .iter()
            .filter(|c| c.user_id == Some(user_id) && c.model.as_deref() == row["model"].as_str())
            .collect();
        let sum = |f: fn(&StoredChat) -> i64| of_group.iter().map(|c| f(c)).sum::<i64>();
        assert_eq!(row["requests"], of_group.len(), "{row}");
        assert_eq!(
            row["inputTokens"],
            sum(|c| c.prompt_tokens.unwrap()),
            "{row}"
        );
        assert_eq!(
            row["outputTokens"],
            sum(|c| c.completion_tokens.unwrap()),
            "{row}"
        );
        assert_eq!(
            row["cacheReadTokens"],
            sum(|c| c.cache_read_tokens),
            "{row}"
        );
        assert_eq!(
            row["cacheWriteTokens"],
            sum(|c| c.cache_write_tokens),
            "{row}"
        );
        let cost = sum(|c| c.cost_micros.unwrap_or(0));
        assert_eq!(row["costUsd"], cost as f64 / 1e6, "{row}");
        let unpriced = of_group.iter().filter(|c| c.cost_micros.is_none()).count();
        assert_eq!(row["unpricedRequests"], unpriced, "{row}");
    }
    assert_eq!(usage["total"]["requests"], plan.len());
    assert_eq!(usage["total"]["unpricedRequests"], 2, "echo has no price");
}
