//! The official `openai` Python package's `responses` calls pointed at
//! mindgate: `create` whole and streamed, the `stream` helper and its
//! final response, and a function-call round trip, for a model whose
//! server serves `/responses` (passed through), one whose server does not
//! (translated through chat), an Anthropic model and echo. Skipped
//! (loudly) where Python or the package is missing, unless
//! MINDGATE_REQUIRE_PYTHON is set.

use super::*;
use crate::helpers::{python_with, run_python};
use crate::mock_upstream::{MockAnswer, COMPLETION_TOKENS, PROMPT_TOKENS, REPLY};

#[actix_web::test]
async fn the_official_openai_sdk_speaks_responses_through_mindgate() {
    if !python_with("openai", "openai") {
        return;
    }
    let gw = spawn_gateway().await;
    gw.mock.answer_with(MockAnswer::Full);
    let base_url = gw.app.url("/api/v1");
    let run = |model: &str| {
        let args = vec![base_url.clone(), gw.app.api_key.clone(), model.to_owned()];
        run_python("openai_responses.py", args)
    };
    for (model, native) in [
        ("gpt-4o", true),
        ("gpt-4o-mini", false),
        ("claude-haiku-4-5", false),
    ] {
        gw.mock.serve_responses(native);
        let result = run(model).await;
        assert_eq!(result["whole"], REPLY, "{model}: {result}");
        assert_eq!(result["status"], "completed", "{model}");
        assert_eq!(result["input_tokens"], PROMPT_TOKENS, "{model}");
        assert_eq!(result["streamed"], REPLY, "{model}: {result}");
        assert!(result["events"].as_u64().unwrap() >= 8, "{model}: {result}");
        assert_eq!(result["stream_output_tokens"], COMPLETION_TOKENS, "{model}");
        assert_eq!(result["helper"], REPLY, "{model}: {result}");
        assert_eq!(result["final"], REPLY, "{model}: {result}");
        let round_trip = &result["round_trip"];
        assert_eq!(round_trip["call"], "get_weather", "{model}: {result}");
        assert_eq!(
            round_trip["arguments"],
            crate::mock_upstream::tool_input(),
            "{model}"
        );
        assert_eq!(round_trip["answer"], REPLY, "{model}: {result}");
        let asked = gw.mock.received();
        let last = asked.last().unwrap();
        let expected = match (model, native) {
            (_, true) => "/v1/responses",
            ("claude-haiku-4-5", _) => "/v1/messages",
            _ => "/v1/chat/completions",
        };
        assert_eq!(last.path, expected, "{model}");
        assert_eq!(
            last.body["messages"][2]["content"][0]["type"].as_str(),
            (model == "claude-haiku-4-5").then_some("tool_result"),
            "{model}: the call's output went back"
        );
    }
    let echo = run("echo").await;
    assert_eq!(echo["whole"], "Hi there", "{echo}");
    assert_eq!(echo["streamed"], "Hi there", "{echo}");
    assert_eq!(echo["final"], "Hi there", "{echo}");
    assert!(echo["final_id"].as_str().unwrap().starts_with("resp_"));
    assert_eq!(echo["round_trip"], Value::Null, "echo calls no tool");
    wait_for_chats(&gw.app, 3 * 5 + 4).await;
}
