//! A restart never resets a limit: the counters are rebuilt from the
//! usage rollups and chat logs, recorded chats or not.

use actix_web::http::StatusCode;
use serde_json::json;

use super::*;
use crate::gateway::config;
use crate::helpers::spawn_app_on_with;
use crate::mock_upstream::MockUpstream;

#[actix_web::test]
async fn a_spent_allowance_stays_spent_across_a_restart_recorded_chats_or_not() {
    for record_chats in [true, false] {
        let case = format!("chats recorded: {record_chats}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mindgate.db");
        let mock = MockUpstream::start().await;
        let mut gateway = config(&mock);
        gateway.record_chats = Some(record_chats);
        let app = spawn_app_on_with(&path, gateway.clone()).await;
        let (id, caller) = add_user(&app, "intern@example.com", &["interns"]).await;
        app.put_policy(
            "tag:interns",
            &json!({ "models": ["gpt-4o-mini"], "limits": [
                { "metric": "requests", "window": "day", "max": 5, "per": "member" },
                { "metric": "tokens", "window": "day", "max": 1000, "per": "group" }
            ]}),
        )
        .await;
        assert_eq!(admitted(&app, &caller, "gpt-4o-mini", 6).await, 5, "{case}");
        app.stop().await;
        let chat_logs = app.count("SELECT count(*) FROM chat_logs");
        assert_eq!(chat_logs, if record_chats { 5 } else { 0 }, "{case}");
        drop(app);

        let app = spawn_app_on_with(&path, gateway).await;
        let caller = caller.through(&app.api_key);
        let answer = chat(&app, &caller, &crate::gateway::hello("gpt-4o-mini")).await;
        assert_eq!(
            answer.status,
            StatusCode::TOO_MANY_REQUESTS,
            "{case}: {}",
            answer.body
        );
        assert_eq!(mock.received().len(), 5, "{case}");
        let (_, limits) = app.get(&format!("/api/v1/users/{id}/limits")).await;
        let used: Vec<_> = limits["limits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["used"].clone())
            .collect();
        assert_eq!(used, [json!(5), json!(5 * 14)], "{case}: {limits}");
    }
}
