//! Scoped API keys: a `chat` key reaches the chat routes only; every other
//! route refuses it (403) before reading its body, and changes nothing.

use actix_web::http::{Method, StatusCode};
use mindgate::domain::KeyScope;
use serde_json::{json, Value};

use crate::helpers::{error_message, send, send_body, spawn_app, TestApp};

/// What a chat key may call, as `METHOD /path` of the document.
const CHAT_OPERATIONS: [&str; 10] = [
    "POST /chat/completions",
    "POST /completions",
    "POST /messages",
    "POST /messages/count_tokens",
    "POST /responses",
    "POST /embeddings",
    "GET /models",
    "HEAD /models",
    "GET /models/{name}",
    "HEAD /models/{name}",
];

/// Every operation of the served document (HEAD beside each GET), each
/// with a path that names things that exist.
async fn operations(app: &TestApp, user: &str, character: &str) -> Vec<(Method, String, String)> {
    let (_, doc) = send(app.client.get(app.url("/api/v1/openapi.json"))).await;
    let mut operations = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let concrete = path
            .replace("/users/{id}", &format!("/users/{user}"))
            .replace(
                "/ai-characters/{id}",
                &format!("/ai-characters/{character}"),
            )
            .replace("{name}", "gpt-4o")
            .replace("{scope}", "everyone");
        let methods = item.as_object().unwrap().keys();
        for method in
            methods.filter(|m| ["get", "post", "put", "patch", "delete"].contains(&m.as_str()))
        {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            if method == Method::GET {
                operations.push((Method::HEAD, path.clone(), concrete.clone()));
            }
            operations.push((method, path.clone(), concrete.clone()));
        }
    }
    operations
}

async fn call(app: &TestApp, key: &str, method: &Method, path: &str) -> (StatusCode, Value) {
    let request = app
        .client
        .request(method.clone(), app.url(&format!("/api/v1{path}")))
        .insert_header(("X-API-KEY", key));
    if *method == Method::HEAD {
        let response = request.send().await.unwrap();
        return (response.status(), Value::Null);
    }
    let body = match path {
        "/chat/completions" => {
            json!({"model": "echo", "messages": [{"role": "user", "content": "hi"}]})
        }
        "/completions" => json!({"model": "echo", "prompt": "hi"}),
        "/messages" | "/messages/count_tokens" => {
            json!({"model": "echo", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]})
        }
        "/responses" => json!({"model": "echo", "input": "hi"}),
        "/embeddings" => json!({"model": "echo", "input": "hi"}),
        // Bodies that would change something, were they read.
        "/users" => json!({"email": "intruder@example.com"}),
        _ => json!({"tags": ["taken-over"], "title": "Taken", "input": 1, "output": 1}),
    };
    if [Method::POST, Method::PUT, Method::PATCH].contains(method) {
        send_body(request, body.to_string()).await
    } else {
        send(request).await
    }
}

#[actix_web::test]
async fn a_chat_key_is_refused_on_every_route_but_the_chat_ones() {
    let app = spawn_app().await;
    let user = app
        .create_user(&json!({"email": "ann@example.com", "tags": ["staff"]}))
        .await;
    let character = app
        .create_character(&json!({"title": "Pirate", "instruction": "Arr."}))
        .await;
    let (user, character) = (
        user["id"].as_str().unwrap(),
        character["id"].as_str().unwrap(),
    );
    let (_, chat_key) = app.add_key("chat client", KeyScope::Chat);

    let operations = operations(&app, user, character).await;
    let documented: Vec<String> = operations
        .iter()
        .map(|(method, path, _)| format!("{method} {path}"))
        .collect();
    // The routes the issue names are all in the list walked below.
    for route in [
        "GET /users",
        "POST /users",
        "GET /users/{id}",
        "PATCH /users/{id}",
        "DELETE /users/{id}",
        "GET /users/{id}/limits",
        "GET /ai-characters",
        "POST /ai-characters",
        "PATCH /ai-characters/{id}",
        "DELETE /ai-characters/{id}",
        "GET /chatlogs",
        "GET /usage",
        "PUT /models/{name}/price",
        "DELETE /models/{name}/price",
        "GET /tags",
        "GET /policies",
        "GET /policies/{scope}",
        "PUT /policies/{scope}",
        "DELETE /policies/{scope}",
    ] {
        assert!(documented.contains(&route.to_owned()), "{route} missing");
    }

    let mut refused = 0;
    for (method, path, concrete) in &operations {
        let (status, body) = call(&app, &chat_key, method, concrete).await;
        let operation = format!("{method} {path}");
        if CHAT_OPERATIONS.contains(&operation.as_str()) {
            assert_eq!(status, StatusCode::OK, "{operation}: {body}");
            continue;
        }
        assert_eq!(status, StatusCode::FORBIDDEN, "{operation}: {body}");
        if *method != Method::HEAD {
            let message = error_message(&body, "permission_error");
            assert!(
                message.contains("chat key") && message.contains("POST /chat/completions"),
                "{operation}: {message}"
            );
            assert!(message.contains(concrete.as_str()), "{message}");
        }
        refused += 1;
    }
    assert!(refused >= 25, "only {refused} operations refused");

    // Nothing changed: the user, their tags, the character, no new user.
    let (_, ann) = app.get(&format!("/api/v1/users/{user}")).await;
    assert_eq!(ann["tags"], json!(["staff"]));
    let (status, _) = app.get(&format!("/api/v1/ai-characters/{character}")).await;
    assert_eq!(status, StatusCode::OK);
    let (_, users) = app.get("/api/v1/users").await;
    assert_eq!(users["data"].as_array().unwrap().len(), 1);

    // An admin key is refused nowhere.
    for (method, path, concrete) in &operations {
        let (status, body) = call(&app, &app.api_key, method, concrete).await;
        assert_ne!(status, StatusCode::FORBIDDEN, "{method} {path}: {body}");
    }
}

#[actix_web::test]
async fn a_chat_key_still_gets_404_and_401_as_any_key_does() {
    let app = spawn_app().await;
    let (_, chat_key) = app.add_key("chat client", KeyScope::Chat);
    let (status, body) = call(&app, &chat_key, &Method::GET, "/no/such/route").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    error_message(&body, "not_found_error");

    let (status, body) = call(&app, "mg_not-a-key", &Method::GET, "/users").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
}
