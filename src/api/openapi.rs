//! `GET /api/v1/openapi.json`: this server's own OpenAPI document, public.
//! Its `Model` schema is the instance's: the models that can answer now;
//! so is `ProviderId`, its providers.

use std::sync::LazyLock;

use actix_web::{web, HttpResponse};
use serde_json::{json, Value};

use crate::gateway::catalog::Answerable;
use crate::gateway::Catalog;
use crate::http::BasePath;

static DOCUMENT: LazyLock<Value> = LazyLock::new(|| {
    serde_json::from_str(include_str!("openapi.json")).expect("openapi.json is valid JSON")
});

pub async fn document(catalog: web::Data<Catalog>, base: web::Data<BasePath>) -> HttpResponse {
    let mut document = DOCUMENT.clone();
    // Clients resolve the paths against this: under a base path, it too.
    document["servers"] = json!([{ "url": format!("{}/api/v1", base.as_str()) }]);
    let snapshot = catalog.snapshot();
    document["components"]["schemas"]["Model"] = model_schema(snapshot.answerable());
    document["components"]["schemas"]["ProviderId"]["enum"] = json!(snapshot.provider_ids());
    HttpResponse::Ok().json(document)
}

/// `model` as this instance resolves it; null is the same as leaving it out.
fn model_schema(answerable: Answerable) -> Value {
    let description = "A model this instance can answer with now: `echo`, the enabled models of \
                       `GET /models` whose provider has its key (in any case), any model of such a \
                       provider's family (`gpt-`, `chatgpt-`, `o1`..`o9`, `text-embedding-`, `claude-`) or named \
                       `PROVIDER/MODEL`, and any other name when the default provider can answer. \
                       Optional when the activated character has a default model; null is the same \
                       as absent.";
    let mut names: Vec<Value> = answerable.names.into_iter().map(Value::String).collect();
    if answerable.families.is_empty() {
        names.push(Value::Null);
        return json!({ "type": "string", "nullable": true, "enum": names, "description": description });
    }
    let mut schema = json!({
        "type": "string",
        "nullable": true,
        "description": description,
        "anyOf": [{ "enum": names }, { "pattern": answerable.families.join("|") }],
    });
    if !answerable.excluded.is_empty() {
        schema["not"] = json!({ "enum": answerable.excluded });
    }
    schema
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_instance_offers_echo_only_and_families_leave_out_what_cannot_answer() {
        let fresh = Answerable {
            names: vec!["echo".into()],
            families: vec![],
            excluded: vec!["gpt-4o".into()],
        };
        assert_eq!(model_schema(fresh)["enum"], json!(["echo", null]));
        let keyed = Answerable {
            names: vec!["echo".into(), "gpt-4o".into()],
            families: vec!["^(gpt-|chatgpt-|o[0-9])".into()],
            excluded: vec!["gpt-4".into()],
        };
        let schema = model_schema(keyed);
        assert_eq!(schema["anyOf"][0]["enum"], json!(["echo", "gpt-4o"]));
        assert_eq!(schema["anyOf"][1]["pattern"], "^(gpt-|chatgpt-|o[0-9])");
        assert_eq!(schema["not"]["enum"], json!(["gpt-4"]));
    }
}
