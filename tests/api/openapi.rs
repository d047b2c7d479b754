use actix_web::http::{Method, StatusCode};
use mindgate::db::settings::DefaultProvider;
use mindgate::domain::{
    CharacterInput, Email, JsonObject, ModelPattern, NewCharacter, Scope, Tags,
};
use mindgate::gateway::request::ChatRequest;
use regex::Regex;
use serde_json::{json, Value};

use crate::gateway::spawn_gateway;
use crate::helpers::{send, send_body, spawn_app};

/// The spec's operations, all served.
const SPEC_OPERATIONS: [&str; 7] = [
    "addUser",
    "createChatCompletions",
    "getUsers",
    "getCharacters",
    "deleteUser",
    "updateUser",
    "getChatlogs",
];

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// The operations of a path item, without its shared `parameters`.
fn operations(item: &Value) -> impl Iterator<Item = (&String, &Value)> {
    item.as_object()
        .unwrap()
        .iter()
        .filter(|(key, _)| METHODS.contains(&key.as_str()))
}

#[actix_web::test]
async fn the_document_covers_the_spec_and_every_documented_route_is_served() {
    let app = spawn_app().await;
    let (status, doc) = send(app.client.get(app.url("/api/v1/openapi.json"))).await;
    assert_eq!(status, StatusCode::OK);
    let paths = doc["paths"].as_object().expect("paths");

    let operation_ids: Vec<&str> = paths
        .values()
        .flat_map(operations)
        .filter_map(|(_, op)| op["operationId"].as_str())
        .collect();
    for id in SPEC_OPERATIONS {
        assert!(operation_ids.contains(&id), "{id} is not documented");
    }

    let mut checked = 0;
    for (path, item) in paths {
        // A 405's Allow header names exactly the documented methods.
        let concrete = path.replace("{id}", "1");
        let probe = app
            .request(Method::OPTIONS, &format!("/api/v1{concrete}"))
            .send()
            .await
            .unwrap();
        let mut allowed: Vec<String> = probe
            .headers()
            .get("allow")
            .unwrap_or_else(|| panic!("no Allow header for OPTIONS {path}"))
            .to_str()
            .unwrap()
            .split(", ")
            .map(str::to_lowercase)
            .collect();
        let mut documented: Vec<String> = operations(item).map(|(m, _)| m.clone()).collect();
        // HEAD is served wherever GET is.
        if documented.iter().any(|m| m == "get") {
            documented.push("head".to_owned());
        }
        allowed.sort();
        documented.sort();
        assert_eq!(allowed, documented, "{path}");

        for (method, operation) in operations(item) {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let request = app.request(method.clone(), &format!("/api/v1{concrete}"));
            let (status, body) = if operation.get("requestBody").is_some() {
                send_body(request, json!({}).to_string()).await
            } else {
                send(request).await
            };
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            let message = body["error"]["message"].as_str().unwrap_or_default();
            assert!(
                !message.starts_with("no route"),
                "{method} {path} is not served"
            );
            let documented: Vec<&String> =
                operation["responses"].as_object().unwrap().keys().collect();
            assert!(
                documented.contains(&&status.as_u16().to_string()),
                "{method} {path} answered {status}, which is not documented ({documented:?})"
            );
            checked += 1;
        }
    }
    assert!(checked >= 13, "only {checked} operations documented");
    // And the other way: every route the API serves beyond the spec's.
    for (path, methods) in [
        ("/completions", &["post"][..]),
        ("/responses", &["post"]),
        ("/embeddings", &["post"]),
        ("/models/{name}", &["get", "post", "patch", "delete"]),
        ("/providers/{id}/models/sync", &["post"]),
    ] {
        for method in methods {
            assert!(
                paths[path].get(*method).is_some(),
                "{method} {path} is served but not documented"
            );
        }
    }
}

#[actix_web::test]
async fn documented_schemas_match_real_responses() {
    let app = spawn_app().await;
    let (_, doc) = send(app.client.get(app.url("/api/v1/openapi.json"))).await;
    let user = app
        .create_user(&json!({"email": "s@example.com", "tags": ["t"]}))
        .await;
    let character = app
        .create_character(&json!({"title": "T", "instruction": "I", "defaultModel": "gpt-4"}))
        .await;
    let bare = app
        .create_character(&json!({"title": "T", "instruction": "I"}))
        .await;
    let (_, error) = app.get("/api/v1/users/abc").await;
    for (schema, value) in [
        ("User", user),
        ("Character", character),
        ("Character", bare),
        ("Error", error),
    ] {
        let required: Vec<&str> = doc["components"]["schemas"][schema]["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let actual: Vec<&String> = match &value {
            Value::Object(map) => map.keys().collect(),
            other => panic!("{schema} is not an object: {other}"),
        };
        for field in &required {
            assert!(
                value.get(field).is_some(),
                "{schema} lacks {field}: {value}"
            );
        }
        let properties = doc["components"]["schemas"][schema]["properties"]
            .as_object()
            .unwrap();
        for field in actual {
            assert!(
                properties.contains_key(field),
                "{schema}.{field} is undocumented"
            );
            // Never null where the document says string.
            assert!(!value[field].is_null(), "{schema}.{field} is null: {value}");
        }
    }
}

/// Every type the server sends is in the document's enum.
#[test]
fn every_error_type_is_documented() {
    use mindgate::error::ErrorKind;
    let doc: Value = serde_json::from_str(include_str!("../../src/api/openapi.json")).unwrap();
    let documented = doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"]
        ["type"]["enum"]
        .as_array()
        .unwrap()
        .clone();
    let kinds = [
        ErrorKind::InvalidRequest,
        ErrorKind::Authentication,
        ErrorKind::NotFound,
        ErrorKind::MethodNotAllowed,
        ErrorKind::RequestTimeout,
        ErrorKind::Conflict,
        ErrorKind::TooLarge,
        ErrorKind::Permission,
        ErrorKind::RateLimited,
        ErrorKind::UpstreamRejected(StatusCode::NOT_FOUND),
        ErrorKind::UpstreamRejected(StatusCode::UNPROCESSABLE_ENTITY),
        ErrorKind::Upstream,
        ErrorKind::UpstreamTimeout,
        ErrorKind::Internal,
    ];
    for kind in kinds {
        // A new kind does not compile here until it is listed above.
        match kind {
            ErrorKind::InvalidRequest
            | ErrorKind::Authentication
            | ErrorKind::NotFound
            | ErrorKind::MethodNotAllowed
            | ErrorKind::RequestTimeout
            | ErrorKind::Conflict
            | ErrorKind::TooLarge
            | ErrorKind::Permission
            | ErrorKind::RateLimited
            | ErrorKind::UpstreamRejected(_)
            | ErrorKind::Upstream
            | ErrorKind::UpstreamTimeout
            | ErrorKind::Internal => {}
        }
        assert!(
            documented.contains(&json!(kind.type_name())),
            "{} is not documented",
            kind.type_name()
        );
    }
}

#[actix_web::test]
async fn the_document_offers_the_models_that_can_answer() {
    // A fresh instance has no provider key: only `echo` answers.
    let app = spawn_app().await;
    let (_, doc) = send(app.client.get(app.url("/api/v1/openapi.json"))).await;
    let model = &doc["components"]["schemas"]["Model"];
    assert_eq!(model["enum"], json!(["echo", null]), "{model}");

    // With keys, the catalog's enabled models and both families (and no
    // default provider, which the mock's base URL would make `openai`).
    let gw = spawn_gateway().await;
    gw.app
        .set_default_provider(DefaultProvider::None, None)
        .await;
    let (_, doc) = send(gw.app.client.get(gw.app.url("/api/v1/openapi.json"))).await;
    let model = &doc["components"]["schemas"]["Model"];
    let names = model["anyOf"][0]["enum"].as_array().unwrap();
    assert!(names.contains(&json!("echo")) && names.contains(&json!("gpt-4o")));
    let families = Regex::new(model["anyOf"][1]["pattern"].as_str().unwrap()).unwrap();
    for name in ["gpt-9", "chatgpt-x", "o7-mini", "claude-9"] {
        assert!(families.is_match(name), "{name}");
    }
    for name in ["llama3", "o", "echo-2"] {
        assert!(!families.is_match(name), "{name}");
    }
}

/// The document's patterns say exactly what the parsers accept.
#[actix_web::test]
async fn documented_patterns_agree_with_the_parsers() {
    let app = spawn_app().await;
    let (_, doc) = send(app.client.get(app.url("/api/v1/openapi.json"))).await;
    let schemas = &doc["components"]["schemas"];
    let pattern = |schema: &Value| Regex::new(schema["pattern"].as_str().unwrap()).unwrap();

    // Every code point, inside an address: the invisible ones are refused.
    let email = pattern(&schemas["Email"]["allOf"][1]);
    for c in (0..=0x10FFFF).filter_map(char::from_u32) {
        let address = format!("a{c}b@example.com");
        assert_eq!(
            email.is_match(&address),
            Email::parse(&address).is_ok(),
            "U+{:04X}",
            u32::from(c)
        );
    }
    let header = Regex::new(
        doc["paths"]["/chat/completions"]["post"]["parameters"][0]["schema"]["pattern"]
            .as_str()
            .unwrap(),
    )
    .unwrap();

    let samples = [
        "",
        " ",
        "a",
        " a b ",
        "a\nb",
        "a\tb",
        "a\rb",
        "a\0b",
        "\u{85}",
        "a\u{7f}",
        "\u{3000}",
        "\u{3000}x\u{2028}",
        "\u{200B}",
        "\u{1c}",
        "x\u{1c}",
        "\u{16}\u{3000}\0\u{85}",
        "Ann@Example.com",
        " ann@example.com",
        "ann@example",
        "a@b@c.com",
        "ann@x..com",
        "jos\u{e9}@example.com",
    ];
    let tag = pattern(&schemas["Tag"]);
    // The scope in a policy's path: one of three forms.
    let forms: Vec<(Option<Regex>, Option<Value>, Option<usize>)> = doc["components"]["parameters"]
        ["Scope"]["schema"]["anyOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|form| {
            let regex = form["pattern"].as_str().map(|p| Regex::new(p).unwrap());
            let max = form["maxLength"].as_u64().map(|n| n as usize);
            (regex, form.get("enum").cloned(), max)
        })
        .collect();
    let scope_param = |s: &str| {
        forms.iter().any(|(regex, words, max)| {
            regex.as_ref().is_none_or(|r| r.is_match(s))
                && words
                    .as_ref()
                    .is_none_or(|w| w.as_array().unwrap().contains(&json!(s)))
                && max.is_none_or(|max| s.chars().count() <= max)
        })
    };
    let long_tag = format!("tag:{}", "x".repeat(64));
    for s in [
        "everyone",
        "Everyone",
        " everyone",
        "user:1",
        "user:007",
        "key:42",
        "user:0",
        "key:-1",
        "key:+1",
        "user:1.5",
        "user: 1",
        "user:",
        "key:999999999999999999",
        "group:a",
        "tag",
        long_tag.as_str(),
        &format!("{long_tag}x"),
    ] {
        assert_eq!(
            scope_param(s),
            Scope::parse("scope", s).is_ok(),
            "scope {s:?}"
        );
    }
    let model_pattern = pattern(&schemas["ModelPattern"]);
    let title = pattern(&schemas["Title"]);
    let description = pattern(&schemas["Description"]);
    let instruction = pattern(&schemas["Instruction"]);
    let default_model = pattern(&schemas["DefaultModel"]);
    let not_blank =
        pattern(&schemas["ChatCompletionRequest"]["allOf"][1]["anyOf"][1]["properties"]["prompt"]);
    let character = |field: &str, value: &str| {
        let mut body = json!({"title": "T", "instruction": "I"});
        body[field] = json!(value);
        JsonObject::from(body.as_object().unwrap().clone())
            .into_input::<CharacterInput>()
            .and_then(NewCharacter::try_from)
            .is_ok()
    };
    for s in samples {
        assert_eq!(email.is_match(s), Email::parse(s).is_ok(), "email {s:?}");
        assert_eq!(tag.is_match(s), Tags::parse(&[s]).is_ok(), "tag {s:?}");
        assert_eq!(
            model_pattern.is_match(s),
            ModelPattern::parse("models[0]", s).is_ok(),
            "model pattern {s:?}"
        );
        let scope = format!("tag:{s}");
        assert_eq!(
            scope_param(&scope),
            Scope::parse("scope", &scope).is_ok(),
            "{scope:?}"
        );
        assert_eq!(title.is_match(s), character("title", s), "title {s:?}");
        assert_eq!(
            description.is_match(s),
            character("description", s),
            "description {s:?}"
        );
        assert_eq!(
            instruction.is_match(s),
            character("instruction", s),
            "instruction {s:?}"
        );
        assert_eq!(
            default_model.is_match(s),
            character("defaultModel", s),
            "defaultModel {s:?}"
        );
        let prompt = json!({"model": "echo", "prompt": s});
        assert_eq!(
            not_blank.is_match(s),
            ChatRequest::parse(JsonObject::from(prompt.as_object().unwrap().clone())).is_ok(),
            "prompt {s:?}"
        );
        if s.is_ascii() && s.trim() == s {
            assert_eq!(header.is_match(s), Email::parse(s).is_ok(), "header {s:?}");
        }
    }
}
