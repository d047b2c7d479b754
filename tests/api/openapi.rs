use actix_web::http::{Method, StatusCode};
use serde_json::{json, Value};

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

#[actix_web::test]
async fn the_document_covers_the_spec_and_every_documented_route_is_served() {
    let app = spawn_app().await;
    let (status, doc) = send(app.client.get(app.url("/api/v1/openapi.json"))).await;
    assert_eq!(status, StatusCode::OK);
    let paths = doc["paths"].as_object().expect("paths");

    let operation_ids: Vec<&str> = paths
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .filter_map(|op| op["operationId"].as_str())
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
        let mut documented: Vec<String> = item.as_object().unwrap().keys().cloned().collect();
        // HEAD is served wherever GET is.
        if documented.iter().any(|m| m == "get") {
            documented.push("head".to_owned());
        }
        allowed.sort();
        documented.sort();
        assert_eq!(allowed, documented, "{path}");

        for (method, operation) in item.as_object().unwrap() {
            let concrete = path.replace("{id}", "1");
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
}

#[actix_web::test]
async fn documented_schemas_match_real_responses() {
    let app = spawn_app().await;
    let (_, doc) = send(app.client.get(app.url("/api/v1/openapi.json"))).await;
    let user = app
        .create_user(&json!({"email": "s@example.com", "tags": ["t"]}))
        .await;
    let character = app
        .create_character(&json!({"title": "T", "instruction": "I"}))
        .await;
    let (_, error) = app.get("/api/v1/users/abc").await;
    for (schema, value) in [("User", user), ("Character", character), ("Error", error)] {
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
        }
    }
}
