//! `POST /completions`, OpenAI's legacy text completions: each prompt (and
//! each of its `n` answers) a chat of its own through the mock providers,
//! answered as `text_completion` objects, whole and streamed.

use super::*;
use crate::mock_upstream::{Fault, PROMPT_TOKENS, REPLY};

const PATH: &str = "/api/v1/completions";

impl Gateway {
    async fn text(&self, body: &Value) -> (StatusCode, Value) {
        self.app.post(PATH, body).await
    }

    async fn text_stream(&self, body: &Value) -> (StatusCode, String) {
        let mut response = self
            .app
            .request(Method::POST, PATH)
            .send_body(body.to_string())
            .await
            .expect("request failed");
        let status = response.status();
        let body = response.body().limit(16 << 20).await.expect("read stream");
        (status, String::from_utf8(body.to_vec()).expect("utf-8"))
    }
}

/// Each choice's text, joined from a stream's chunks, by index.
fn texts(stream: &str) -> Vec<String> {
    let mut texts: Vec<String> = Vec::new();
    for chunk in event_data(stream) {
        for choice in chunk["choices"].as_array().into_iter().flatten() {
            let index = choice["index"].as_u64().unwrap() as usize;
            if texts.len() <= index {
                texts.resize(index + 1, String::new());
            }
            texts[index].push_str(choice["text"].as_str().unwrap());
        }
    }
    texts
}

#[actix_web::test]
async fn a_prompt_is_completed_whole_and_streamed_by_either_provider() {
    let gw = spawn_gateway().await;
    for (model, path) in [
        ("gpt-4o-mini", "/v1/chat/completions"),
        ("claude-haiku-4-5", "/v1/messages"),
    ] {
        let body = json!({"model": model, "prompt": "Say this is a test",
                          "max_tokens": 7, "stop": ["\n"], "temperature": 0.5});
        let (status, whole) = gw.text(&body).await;
        assert_eq!(status, StatusCode::OK, "{model}: {whole}");
        assert_eq!(whole["object"], "text_completion");
        assert!(
            whole["id"].as_str().unwrap().starts_with("cmpl-"),
            "{whole}"
        );
        assert_eq!(whole["model"], model);
        assert!(whole["created"].is_i64());
        assert_eq!(
            whole["choices"],
            json!([{"text": REPLY, "index": 0, "logprobs": null, "finish_reason": "stop"}])
        );
        assert_eq!(whole["usage"]["prompt_tokens"], PROMPT_TOKENS, "{model}");

        // The prompt went as the user's turn, the parameters as the chat's.
        let sent = gw.mock.last();
        assert_eq!(sent.path, path);
        assert_eq!(sent.body["max_tokens"], 7, "{model}");
        assert_eq!(sent.body["temperature"], 0.5, "{model}");
        let turn = &sent.body["messages"][0];
        assert_eq!(turn["role"], "user");
        assert_eq!(
            turn["content"]
                .as_str()
                .or(turn["content"][0]["text"].as_str()),
            Some("Say this is a test"),
            "{model}: {}",
            sent.body
        );
        let stop = if model.starts_with("claude") {
            &sent.body["stop_sequences"]
        } else {
            &sent.body["stop"]
        };
        assert_eq!(stop, &json!(["\n"]), "{model}: {}", sent.body);

        let mut body = streamed(body);
        body["stream_options"] = json!({"include_usage": true});
        let (status, stream) = gw.text_stream(&body).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(texts(&stream), [REPLY], "{model}: {stream}");
        let chunks = event_data(&stream);
        assert_eq!(chunks.last().unwrap(), "[DONE]");
        let usage = &chunks[chunks.len() - 2];
        assert_eq!(usage["choices"], json!([]), "{stream}");
        assert_eq!(usage["usage"]["prompt_tokens"], PROMPT_TOKENS);
        assert!(chunks[..chunks.len() - 1]
            .iter()
            .all(|c| c["object"] == "text_completion" && c["id"] == chunks[0]["id"]));
        let finishes: Vec<&Value> = chunks
            .iter()
            .filter_map(|c| c["choices"][0].get("finish_reason"))
            .filter(|f| !f.is_null())
            .collect();
        assert_eq!(finishes, [&json!("stop")], "{stream}");
    }
    let chats = wait_for_chats(&gw.app, 4).await;
    for chat in &chats {
        assert_eq!(
            chat.conversation,
            format!("User: Say this is a test\n\nAssistant: {REPLY}")
        );
        assert_eq!(chat.status, "ok");
        assert_eq!(chat.chat_title, "Say this is a test");
    }
    assert_eq!(chats[2].model.as_deref(), Some("claude-haiku-4-5"));
}

#[actix_web::test]
async fn each_prompt_n_times_is_a_chat_and_a_choice_in_order() {
    let gw = spawn_gateway().await;
    let body = json!({"model": "gpt-4o-mini", "prompt": ["First", "Second"], "n": 2});
    let (status, whole) = gw.text(&body).await;
    assert_eq!(status, StatusCode::OK, "{whole}");
    let indexes: Vec<&Value> = whole["choices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["index"])
        .collect();
    assert_eq!(indexes, [0, 1, 2, 3]);
    assert!(whole["choices"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["text"] == REPLY));
    assert_eq!(whole["usage"]["prompt_tokens"], 4 * PROMPT_TOKENS);
    let received = gw.mock.received();
    assert_eq!(received.len(), 4, "one upstream chat per answer");
    assert!(received.iter().all(|r| r.body.get("n").is_none()));
    let mut prompts: Vec<String> = received
        .iter()
        .map(|r| {
            r.body["messages"][0]["content"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    prompts.sort();
    assert_eq!(prompts, ["First", "First", "Second", "Second"]);

    let mut body = streamed(body);
    body["stream_options"] = json!({"include_usage": true});
    let (status, stream) = gw.text_stream(&body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(texts(&stream), [REPLY; 4], "{stream}");
    let chunks = event_data(&stream);
    assert_eq!(
        chunks.iter().filter(|c| *c == "[DONE]").count(),
        1,
        "{stream}"
    );
    let usage: Vec<&Value> = chunks.iter().filter_map(|c| c.get("usage")).collect();
    assert_eq!(usage.len(), 1, "one usage chunk, added up: {stream}");
    assert_eq!(usage[0]["prompt_tokens"], 4 * PROMPT_TOKENS);
    let chats = wait_for_chats(&gw.app, 8).await;
    let mut conversations: Vec<&str> = chats.iter().map(|c| c.conversation.as_str()).collect();
    conversations.dedup();
    conversations.sort();
    conversations.dedup();
    assert_eq!(
        conversations,
        [
            format!("User: First\n\nAssistant: {REPLY}"),
            format!("User: Second\n\nAssistant: {REPLY}")
        ]
    );
}

#[actix_web::test]
async fn echo_puts_the_prompt_before_the_answer() {
    let gw = spawn_gateway().await;
    let body = json!({"model": "gpt-4o-mini", "prompt": "Once upon a time", "echo": true});
    let (status, whole) = gw.text(&body).await;
    assert_eq!(status, StatusCode::OK, "{whole}");
    assert_eq!(
        whole["choices"][0]["text"],
        format!("Once upon a time{REPLY}")
    );
    assert!(gw.mock.last().body.get("echo").is_none());
    let (status, stream) = gw.text_stream(&streamed(body)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(texts(&stream), [format!("Once upon a time{REPLY}")]);
    assert_eq!(event_data(&stream).last().unwrap(), "[DONE]");
    // Recorded as said: the prompt, and the model's answer alone.
    for chat in wait_for_chats(&gw.app, 2).await {
        assert_eq!(
            chat.conversation,
            format!("User: Once upon a time\n\nAssistant: {REPLY}")
        );
    }
}

#[actix_web::test]
async fn bad_requests_name_the_field_and_change_nothing() {
    let gw = spawn_gateway().await;
    let base = |extra: Value| {
        let mut body = json!({"model": "gpt-4o-mini", "prompt": "Hi"});
        for (name, value) in extra.as_object().unwrap() {
            body[name] = value.clone();
        }
        body
    };
    let cases = [
        (json!({"prompt": "Hi"}), "model"),
        (json!({"model": " ", "prompt": "Hi"}), "model"),
        (json!({"model": "gpt-4o-mini"}), "prompt"),
        (base(json!({"prompt": []})), "prompt"),
        (base(json!({"prompt": "  "})), "prompt"),
        (base(json!({"prompt": ["ok", " "]})), "prompt[1]"),
        (base(json!({"prompt": ["ok", 3]})), "prompt"),
        (base(json!({"prompt": [1, 2, 3]})), "prompt"),
        (base(json!({"prompt": [[1, 2]]})), "prompt"),
        (base(json!({"prompt": ["ok", {}]})), "prompt[1]"),
        (base(json!({"prompt": {"text": "Hi"}})), "prompt"),
        (base(json!({"max_tokens": 0})), "max_tokens"),
        (base(json!({"max_tokens": "16"})), "max_tokens"),
        (base(json!({"temperature": 2.5})), "temperature"),
        (base(json!({"top_p": -0.1})), "top_p"),
        (base(json!({"presence_penalty": 3})), "presence_penalty"),
        (
            base(json!({"frequency_penalty": "high"})),
            "frequency_penalty",
        ),
        (base(json!({"n": 0})), "n"),
        (base(json!({"n": 129})), "n"),
        (base(json!({"prompt": ["a", "b"], "n": 65})), "n"),
        (
            base(json!({"prompt": "long ".repeat(200_000), "n": 100})),
            "n",
        ),
        (
            base(json!({"prompt": vec!["long ".repeat(40_000); 20]})),
            "prompt",
        ),
        (base(json!({"best_of": 1, "n": 2})), "best_of"),
        (base(json!({"echo": "yes"})), "echo"),
        (base(json!({"stop": ["a", "b", "c", "d", "e"]})), "stop"),
        (base(json!({"stop": ["a", 1]})), "stop[1]"),
        (base(json!({"stop": 7})), "stop"),
        (
            base(json!({"logit_bias": {"50256": -101}})),
            "logit_bias.50256",
        ),
        (base(json!({"logit_bias": [1]})), "logit_bias"),
        (base(json!({"seed": 1.5})), "seed"),
        (base(json!({"user": 3})), "user"),
        (base(json!({"stream": "yes"})), "stream"),
        (
            base(json!({"stream_options": {"include_usage": 1}})),
            "stream_options.include_usage",
        ),
        (base(json!({"tools": []})), "tools"),
        (base(json!({"messages": []})), "messages"),
        (base(json!({"suffix": 3})), "suffix"),
        (base(json!({"logprobs": 6})), "logprobs"),
        // What a chat cannot carry, for a provider that takes only chats.
        (
            json!({"model": "claude-haiku-4-5", "prompt": "Hi", "suffix": "."}),
            "suffix",
        ),
        (
            json!({"model": "claude-haiku-4-5", "prompt": "Hi", "logprobs": 1}),
            "logprobs",
        ),
        (
            json!({"model": "claude-haiku-4-5", "prompt": "Hi", "best_of": 3}),
            "best_of",
        ),
    ];
    for (body, field) in cases {
        let (status, error) = gw.text(&body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {error}");
        assert_eq!(error["error"]["param"], field, "{body}: {error}");
        assert_eq!(error["error"]["type"], "invalid_request_error");
        let message = error["error"]["message"].as_str().unwrap();
        let named = field.split(['[', '.']).next().unwrap();
        assert!(message.contains(named), "{body}: {message}");
    }
    assert!(gw.mock.received().is_empty(), "nothing went upstream");
    // A chat log would be written within 50 ms.
    actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    assert!(stored_chats(&gw.app).is_empty(), "nothing was recorded");
    // `echo` is no translation: it takes them, and answers with the prompt.
    let body = json!({"model": "echo", "prompt": "Hi", "suffix": "!", "logprobs": 2, "best_of": 2});
    let (status, whole) = gw.text(&body).await;
    assert_eq!(status, StatusCode::OK, "{whole}");
    assert_eq!(whole["choices"][0]["text"], "Hi");
}

#[actix_web::test]
async fn a_policy_refuses_a_completion_before_it_goes_upstream() {
    let gw = spawn_gateway().await;
    gw.app
        .put_policy("everyone", &json!({"models": ["echo"]}))
        .await;
    for prompt in [json!("Hi"), json!(["Hi", "there"])] {
        let (status, error) = gw
            .text(&json!({"model": "gpt-4o-mini", "prompt": prompt}))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{error}");
        assert_eq!(error["error"]["type"], "permission_error");
        assert_eq!(error["error"]["param"], "model");
    }
    assert!(gw.mock.received().is_empty());
    let (status, whole) = gw.text(&json!({"model": "echo", "prompt": "Hi"})).await;
    assert_eq!(status, StatusCode::OK, "{whole}");
    assert_eq!(
        wait_for_chats(&gw.app, 1).await[0].model.as_deref(),
        Some("echo")
    );
}

#[actix_web::test]
async fn a_provider_failing_mid_stream_ends_it_with_an_error_and_done() {
    let gw = spawn_gateway().await;
    for prompt in [json!("Hi"), json!(["Hi", "there"])] {
        gw.mock.fail_with([Fault::ErrorEventAfter(2)]);
        let body = streamed(json!({"model": "gpt-4o-mini", "prompt": prompt}));
        let (status, stream) = gw.text_stream(&body).await;
        assert_eq!(status, StatusCode::OK);
        let chunks = event_data(&stream);
        let errors: Vec<&Value> = chunks.iter().filter_map(|c| c.get("error")).collect();
        assert_eq!(errors.len(), 1, "{stream}");
        assert!(
            errors[0]["message"]
                .as_str()
                .unwrap()
                .contains("mock overloaded"),
            "{stream}"
        );
        assert_eq!(chunks.last().unwrap(), "[DONE]", "{stream}");
        assert_eq!(chunks.iter().filter(|c| *c == "[DONE]").count(), 1);
    }
    // The failed chats say so; the other prompt's was cut off with it.
    let chats = wait_for_chats(&gw.app, 3).await;
    let statuses: Vec<&str> = chats.iter().map(|c| c.status.as_str()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == "error").count(),
        2,
        "{statuses:?}"
    );
}

#[actix_web::test]
async fn a_provider_refusal_before_the_answer_is_the_error() {
    let gw = spawn_gateway().await;
    gw.mock.fail_with([Fault::Status {
        code: 400,
        retry_after: None,
        message: "mock says no",
    }]);
    let (status, error) = gw
        .text(&json!({"model": "gpt-4o-mini", "prompt": "Hi"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("mock says no"),
        "{error}"
    );
    assert_eq!(the_chat(&gw.app).await.status, "error");
}

#[actix_web::test]
async fn a_chat_key_may_complete_text() {
    let gw = spawn_gateway().await;
    let (_, key) = gw.app.add_key("chat app", mindgate::domain::KeyScope::Chat);
    let (status, whole) = crate::helpers::send_body(
        gw.app
            .client
            .post(gw.app.url(PATH))
            .insert_header(("Authorization", format!("Bearer {key}"))),
        json!({"model": "echo", "prompt": "Hi"}).to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{whole}");
    assert_eq!(whole["choices"][0]["text"], "Hi");
}

#[actix_web::test]
async fn a_server_of_text_completions_gets_the_request_as_sent() {
    let gw = spawn_gateway().await;
    gw.mock.serve_completions();
    // What only such a server can answer goes there, as it was sent.
    let body = json!({"model": "gpt-4o-mini", "prompt": ["Once"], "max_tokens": 5,
                      "suffix": " the end.", "logprobs": 1, "best_of": 2, "top_k": 3});
    let mut response = gw
        .app
        .request(Method::POST, PATH)
        .send_body(body.to_string())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let answer = response.body().await.unwrap();
    assert_eq!(
        answer,
        gw.mock.sent_body(),
        "the server's answer as it came"
    );
    let sent = gw.mock.last();
    assert_eq!(sent.path, "/v1/completions");
    assert_eq!(sent.body, body, "the request as it came");

    let mut one = streamed(json!({"model": "gpt-4o-mini", "prompt": "Once"}));
    one["stream_options"] = json!({"include_usage": true});
    let (status, stream) = gw.text_stream(&one).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stream.as_bytes(), gw.mock.sent_body(), "{stream}");

    // Several answers: each prompt alone, the prompt put first by mindgate.
    let body = json!({"model": "gpt-4o-mini", "prompt": ["Once", "Twice"], "echo": true});
    let (status, whole) = gw.text(&body).await;
    assert_eq!(status, StatusCode::OK, "{whole}");
    let choices: Vec<(&Value, &Value, &Value)> = whole["choices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (&c["index"], &c["text"], &c["finish_reason"]))
        .collect();
    let (once, twice) = (format!("Once{REPLY}"), format!("Twice{REPLY}"));
    assert_eq!(
        choices,
        [
            (&json!(0), &json!(once), &json!("length")),
            (&json!(1), &json!(twice), &json!("length"))
        ]
    );
    let mut prompts: Vec<Value> = gw.mock.received()[2..]
        .iter()
        .map(|r| {
            assert!(r.body.get("echo").is_none(), "{}", r.body);
            r.body["prompt"].clone()
        })
        .collect();
    prompts.sort_by_key(Value::to_string);
    assert_eq!(prompts, [json!("Once"), json!("Twice")]);
    let (status, stream) = gw.text_stream(&streamed(body)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(texts(&stream), [once, twice], "{stream}");

    let chats = wait_for_chats(&gw.app, 6).await;
    assert_eq!(
        chats[0].conversation,
        format!("User: Once\n\nAssistant: {REPLY}")
    );
    assert!(chats.iter().all(|c| c.status == "ok"), "{chats:#?}");
    assert_eq!(chats[0].prompt_tokens, Some(PROMPT_TOKENS));
}

#[actix_web::test]
async fn a_server_without_text_completions_is_asked_through_chat_and_remembered() {
    let gw = spawn_gateway().await;
    // Only its own text completions could take `suffix`: a 400 naming it.
    let body = json!({"model": "gpt-4o-mini", "prompt": "Hi", "suffix": "!"});
    let (status, error) = gw.text(&body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(error["error"]["param"], "suffix");
    assert!(gw.mock.received().is_empty());
    for _ in 0..2 {
        let (status, whole) = gw
            .text(&json!({"model": "gpt-4o-mini", "prompt": "Hi"}))
            .await;
        assert_eq!(status, StatusCode::OK, "{whole}");
        assert_eq!(whole["choices"][0]["finish_reason"], "stop", "translated");
    }
    let paths: Vec<String> = gw.mock.received().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/v1/chat/completions", "/v1/chat/completions"]);
}

#[actix_web::test]
async fn the_answers_of_one_request_share_the_answer_size_limit() {
    // One whole answer of the mock is a few hundred bytes: one fits, but
    // eight of them at once must not hold eight times the limit.
    let gw = spawn_gateway_with(|config| config.max_answer_bytes = 1000).await;
    let prompt = json!({"model": "gpt-4o-mini", "prompt": "Say hi"});
    let (status, one) = gw.text(&prompt).await;
    assert_eq!(status, StatusCode::OK, "{one}");
    let mut many = prompt.clone();
    many["n"] = json!(8);
    let (status, error) = gw.text(&many).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{error}");
    assert_eq!(error["error"]["type"], "upstream_error");
    assert!(
        error["error"]["message"].as_str().unwrap().contains("125"),
        "each answer's share of the limit: {error}"
    );
}

#[actix_web::test]
async fn several_answers_pass_a_requests_limit_together_or_not_at_all() {
    let gw = spawn_gateway().await;
    let app = &gw.app;
    let (id, _) = crate::governance::add_user(app, "ann@example.com", &[]).await;
    app.put_policy(
        "everyone",
        &json!({"limits": [{"metric": "requests", "window": "day", "max": 3}]}),
    )
    .await;
    let ask = |n: u32| async move {
        let mut response = app
            .request(Method::POST, PATH)
            .insert_header(("X-User-Email", "ann@example.com"))
            .insert_header(("content-type", "application/json"))
            .send_body(json!({"model": "gpt-4o-mini", "prompt": "Hi", "n": n}).to_string())
            .await
            .expect("request failed");
        let retry_after = response.headers().contains_key("retry-after");
        let body: Value = response.json().await.expect("a JSON body");
        (response.status(), retry_after, body)
    };
    let used = || async move {
        let (_, limits) = app.get(&format!("/api/v1/users/{id}/limits")).await;
        limits["limits"][0]["used"].clone()
    };
    let requests =
        format!("SELECT IFNULL(SUM(requests), 0) FROM usage_rollups WHERE user_id = {id}");

    // Four answers against three allowed: refused whole, before any starts.
    let (status, retry_after, error) = ask(4).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{error}");
    assert!(retry_after, "a 429 says when to come back");
    assert_eq!(error["error"]["type"], "rate_limit_error");
    let message = error["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("limit reached: everyone allows 3 requests a day"),
        "{message}"
    );
    assert!(gw.mock.received().is_empty(), "nothing went upstream");
    assert_eq!(used().await, json!(0), "nothing counted");
    crate::governance::wait_refused(app, id, 1).await;
    assert_eq!(app.count(&requests), 0, "no request in the usage");
    assert_eq!(app.count("SELECT count(*) FROM chat_logs"), 0);

    // Three fit, and take the day's allowance.
    let (status, _, whole) = ask(3).await;
    assert_eq!(status, StatusCode::OK, "{whole}");
    assert_eq!(whole["choices"].as_array().unwrap().len(), 3);
    assert_eq!(used().await, json!(3));
    let (status, _, error) = ask(1).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{error}");
    assert_eq!(wait_for_chats(app, 3).await.len(), 3);
    crate::governance::wait_for_count(app, &requests, 3).await;
}

#[actix_web::test]
async fn a_server_writing_data_without_a_space_has_its_answers_merged() {
    let gw = spawn_gateway().await;
    gw.mock.serve_completions();
    gw.mock.write_data_unspaced();
    let mut body = streamed(json!({"model": "gpt-4o-mini", "prompt": ["Once", "Twice"]}));
    body["stream_options"] = json!({"include_usage": true});
    let (status, stream) = gw.text_stream(&body).await;
    assert_eq!(status, StatusCode::OK, "{stream}");
    assert!(
        gw.mock.sent_body().starts_with(b"data:{"),
        "the mock wrote no space"
    );
    // Every chunk read, renumbered and given the completion's id.
    let events: Vec<&str> = stream
        .split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .collect();
    assert!(events.iter().all(|e| e.starts_with("data: ")), "{stream}");
    assert_eq!(texts(&stream), [REPLY, REPLY], "{stream}");
    let chunks = event_data(&stream);
    let ids: std::collections::HashSet<&str> = chunks
        .iter()
        .filter_map(|chunk| chunk["id"].as_str())
        .collect();
    assert_eq!(ids.len(), 1, "one completion: {stream}");
    assert!(!ids.contains("cmpl-mock"), "{stream}");
    let usage = &chunks[chunks.len() - 2]["usage"];
    assert_eq!(usage["prompt_tokens"], 2 * PROMPT_TOKENS, "{stream}");
    assert_eq!(chunks.last(), Some(&json!("[DONE]")));
}
