//! Which models and AI characters a caller may use: tags open access,
//! `everyone` restricts it, the key narrows it, and a key may require a
//! user. A refusal is a 403 naming the field and why, and nothing goes
//! upstream.

use actix_web::http::StatusCode;
use mindgate::domain::KeyScope;
use serde_json::{json, Value};

use super::*;
use crate::gateway::{hello, spawn_gateway};

/// Each case: the caller, the model, and the 403's message when refused.
type Cases<'a> = Vec<(&'a Caller, &'a str, Option<&'a str>)>;

/// Runs `cases` in turn: a 200 or the 403 expected, and the mock reached
/// only by those let through.
async fn check(gw: &crate::gateway::Gateway, step: &str, cases: Cases<'_>) {
    for (caller, model, refused) in cases {
        let case = format!("{step}: {:?} asks for {model}", caller.email);
        let before = gw.mock.received().len();
        let answer = chat(&gw.app, caller, &hello(model)).await;
        let reached = gw.mock.received().len() - before;
        match refused {
            None => {
                assert_eq!(answer.status, StatusCode::OK, "{case}: {}", answer.body);
                // echo answers itself.
                assert_eq!(reached, usize::from(model != "echo"), "{case}");
            }
            Some(message) => {
                assert_eq!(answer.status, StatusCode::FORBIDDEN, "{case}");
                assert_eq!(answer.body, not_open(message, "model"), "{case}");
                assert_eq!(reached, 0, "{case}: nothing goes upstream");
            }
        }
    }
}

#[actix_web::test]
async fn tags_open_models_everyone_restricts_them_and_with_no_restriction_all_are_open() {
    let gw = spawn_gateway().await;
    let app = &gw.app;
    let anonymous = Caller::anonymous(app);
    let (_, plain) = add_user(app, "plain@example.com", &[]).await;
    let (_, intern) = add_user(app, "intern@example.com", &["interns"]).await;
    let (_, staff) = add_user(app, "staff@example.com", &["staff"]).await;
    let (_, both) = add_user(app, "both@example.com", &["interns", "staff"]).await;

    check(
        &gw,
        "no policy",
        vec![
            (&anonymous, "gpt-4o", None),
            (&intern, "claude-haiku-4-5", None),
            (&plain, "echo", None),
        ],
    )
    .await;

    app.put_policy("tag:interns", &json!({ "models": ["gpt-4o-mini"] }))
        .await;
    app.put_policy("tag:staff", &json!({ "models": ["claude-*"] }))
        .await;
    let interns_only = "model `gpt-4o` is not open to this user's tags: interns; open: gpt-4o-mini";
    check(
        &gw,
        "tags restrict their members",
        vec![
            // No scope that applies restricts models: all are open.
            (&anonymous, "gpt-4o", None),
            (&plain, "gpt-4o", None),
            (&intern, "gpt-4o-mini", None),
            (&intern, "gpt-4o", Some(interns_only)),
            (&intern, "echo", Some("model `echo` is not open to this user's tags: interns; open: gpt-4o-mini")),
            (&staff, "claude-haiku-4-5", None),
            (&staff, "gpt-4o-mini", Some("model `gpt-4o-mini` is not open to this user's tags: staff; open: claude-*")),
            // Two tags: the union of what they open.
            (&both, "gpt-4o-mini", None),
            (&both, "claude-haiku-4-5", None),
            (&both, "gpt-4o", Some("model `gpt-4o` is not open to this user's tags: interns, staff; open: gpt-4o-mini, claude-*")),
        ],
    )
    .await;

    app.put_policy("everyone", &json!({ "models": ["gpt-4o-mini"] }))
        .await;
    let everyone_only =
        "model `gpt-4o` is not open to everyone on this instance; open: gpt-4o-mini";
    check(
        &gw,
        "everyone restricted",
        vec![
            (&anonymous, "gpt-4o", Some(everyone_only)),
            (&anonymous, "gpt-4o-mini", None),
            (&plain, "gpt-4o", Some(everyone_only)),
            (&plain, "echo", Some("model `echo` is not open to everyone on this instance; open: gpt-4o-mini")),
            // A tag opens what everyone's policy does not.
            (&staff, "claude-haiku-4-5", None),
            (&staff, "gpt-4o-mini", None),
            (&intern, "gpt-4o", Some("model `gpt-4o` is not open to everyone on this instance, nor to this user's tags: interns; open: gpt-4o-mini")),
        ],
    )
    .await;

    // echo opens like any model.
    app.put_policy("everyone", &json!({ "models": ["gpt-4o-mini", "echo"] }))
        .await;
    check(&gw, "echo opened", vec![(&plain, "echo", None)]).await;
}

#[actix_web::test]
async fn a_keys_own_list_narrows_what_the_tags_open_and_never_widens_it() {
    let gw = spawn_gateway().await;
    let app = &gw.app;
    let (key_id, key) = app.add_key("narrow", KeyScope::Chat);
    let (_, staff) = add_user(app, "staff@example.com", &["staff"]).await;
    let (_, plain) = add_user(app, "plain@example.com", &[]).await;
    app.put_policy("tag:staff", &json!({ "models": ["gpt-4o*"] }))
        .await;
    app.put_policy(
        &format!("key:{key_id}"),
        &json!({ "models": ["gpt-4o-mini", "claude-*"] }),
    )
    .await;
    let staff_by_key = staff.through(&key);
    let plain_by_key = plain.through(&key);
    let anonymous_by_key = Caller::anonymous(app).through(&key);
    check(
        &gw,
        "the key narrows",
        vec![
            (&staff, "gpt-4o", None),
            (&staff_by_key, "gpt-4o-mini", None),
            (&staff_by_key, "gpt-4o", Some("model `gpt-4o` is not open to this API key; open: gpt-4o-mini, claude-*")),
            // The key opens nothing a tag closes.
            (&staff_by_key, "claude-haiku-4-5", Some("model `claude-haiku-4-5` is not open to this user's tags: staff; open: gpt-4o*")),
            (&plain_by_key, "claude-haiku-4-5", None),
            (&anonymous_by_key, "gpt-4o", Some("model `gpt-4o` is not open to this API key; open: gpt-4o-mini, claude-*")),
            (&anonymous_by_key, "echo", Some("model `echo` is not open to this API key; open: gpt-4o-mini, claude-*")),
        ],
    )
    .await;
}

#[actix_web::test]
async fn a_key_that_requires_a_user_refuses_completions_naming_none_or_a_stranger() {
    let gw = spawn_gateway().await;
    let app = &gw.app;
    let (key_id, key) = app.add_key("users only", KeyScope::Chat);
    add_user(app, "alice@example.com", &[]).await;
    app.put_policy(&format!("key:{key_id}"), &json!({ "requiresUser": true }))
        .await;
    let anonymous = Caller::anonymous(app).through(&key);
    let user_required = not_open(
        "this API key requires a user: name one of the instance's users in the X-User-Email header",
        "X-User-Email",
    );
    let stranger = not_open(
        "stranger@example.com is not a user of this instance",
        "X-User-Email",
    );
    // (caller, status, body when refused)
    let cases = [
        (
            anonymous.clone(),
            StatusCode::FORBIDDEN,
            Some(user_required),
        ),
        (
            Caller::user(app, "stranger@example.com").through(&key),
            StatusCode::FORBIDDEN,
            Some(stranger.clone()),
        ),
        (
            Caller::user(app, "alice@example.com").through(&key),
            StatusCode::OK,
            None,
        ),
        // Another key requires nothing, but a stranger is one for all.
        (Caller::anonymous(app), StatusCode::OK, None),
        (
            Caller::user(app, "stranger@example.com"),
            StatusCode::FORBIDDEN,
            Some(stranger),
        ),
    ];
    for (caller, expected, body) in cases {
        let before = gw.mock.received().len();
        let answer = chat(app, &caller, &hello("gpt-4o")).await;
        assert_eq!(answer.status, expected, "{caller:?}: {}", answer.body);
        if let Some(body) = body {
            assert_eq!(answer.body, body, "{caller:?}");
            assert_eq!(gw.mock.received().len(), before, "{caller:?}");
        }
    }
}

#[actix_web::test]
async fn characters_open_as_models_do_and_a_refusal_names_activated_character_id() {
    let gw = spawn_gateway().await;
    let app = &gw.app;
    let id = |c: &Value| c["id"].as_str().unwrap().to_owned();
    let writer = id(&app
        .create_character(&json!({ "title": "Writer", "instruction": "Write." }))
        .await);
    let coder = id(&app
        .create_character(&json!({ "title": "Coder", "instruction": "Code." }))
        .await);
    let (_, staff) = add_user(app, "staff@example.com", &["staff"]).await;
    let (_, plain) = add_user(app, "plain@example.com", &[]).await;
    let (key_id, key) = app.add_key("writers", KeyScope::Chat);
    app.put_policy("tag:staff", &json!({ "characters": [writer, coder] }))
        .await;
    app.put_policy("everyone", &json!({ "characters": [writer] }))
        .await;
    app.put_policy(&format!("key:{key_id}"), &json!({ "characters": [writer] }))
        .await;
    // (caller, character, the 403's message when refused)
    let cases = [
        (&staff, &coder, None),
        (&staff, &writer, None),
        (
            &plain,
            &coder,
            Some(format!(
                "AI character `{coder}` is not open to everyone on this instance; open: {writer}"
            )),
        ),
        (&plain, &writer, None),
        (
            &staff.through(&key),
            &coder,
            Some(format!(
                "AI character `{coder}` is not open to this API key; open: {writer}"
            )),
        ),
    ];
    for (caller, character, refused) in cases {
        let case = format!("{:?} with {character}", caller.email);
        let mut request = hello("gpt-4o");
        request["activatedCharacterID"] = json!(character);
        let before = gw.mock.received().len();
        let answer = chat(app, caller, &request).await;
        match refused {
            None => assert_eq!(answer.status, StatusCode::OK, "{case}: {}", answer.body),
            Some(message) => {
                assert_eq!(answer.status, StatusCode::FORBIDDEN, "{case}");
                assert_eq!(
                    answer.body,
                    not_open(&message, "activatedCharacterID"),
                    "{case}"
                );
                assert_eq!(gw.mock.received().len(), before, "{case}");
            }
        }
    }
}
