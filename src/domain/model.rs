//! Catalog models: the name a client sends, the provider it goes to, the
//! model id sent upstream, whether it is enabled, and its price. One
//! validator for the API, the admin and the command line.

use serde::{Deserialize, Deserializer};

use super::json::{self, required};
use super::text::{check_length, refuse_chars, trimmed};
use super::{InvalidInput, Price, PriceInput};

/// The built-in model: no catalog entry may take its name, in any case.
pub const ECHO_MODEL: &str = "echo";

/// The longest model name or upstream id, and so the longest name a
/// request may send, whatever it resolves to.
pub const MAX_NAME: usize = 200;
const MAX_PROVIDER: usize = 40;

/// A model name or upstream id: 1 to 200 characters, no white space or
/// control characters (no server names its models so, and they would not
/// survive a URL path or a command line). Kept as sent: a name with space
/// around it is refused, not trimmed, as the API documents it.
fn model_id(field: &str, raw: &str) -> Result<String, InvalidInput> {
    refuse_chars(field, raw, "control characters", char::is_control)?;
    refuse_chars(field, raw, "white space", char::is_whitespace)?;
    check_length(field, raw, 1, MAX_NAME)?;
    Ok(raw.to_owned())
}

/// A catalog name, as `model_id`; `echo` is mindgate's own.
pub fn model_name(field: &str, raw: &str) -> Result<String, InvalidInput> {
    let name = model_id(field, raw)?;
    // A path ending with one loses it (`/models/NAME/` is `/models/NAME`).
    if name.ends_with('/') {
        return Err(InvalidInput::new(
            field,
            format!("`{field}` must not end with `/`, which a URL path drops; got {name:?}"),
        ));
    }
    if name.eq_ignore_ascii_case(ECHO_MODEL) {
        return Err(InvalidInput::new(
            field,
            format!("`{field}`: {name:?} is mindgate's built-in model; choose another name"),
        ));
    }
    Ok(name)
}

/// A provider's id as sent; whether one has it is the store's to say.
fn provider(raw: &str) -> Result<String, InvalidInput> {
    trimmed("provider", raw, 1, MAX_PROVIDER)
}

/// A catalog entry as a client sends it (`POST` and `PATCH
/// /models/{name}`, the admin's form, the command line): each field
/// absent (`None`) or, for the price, null (`Some(None)`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelInput {
    #[serde(default, deserialize_with = "json::string")]
    pub provider: Option<String>,
    #[serde(default, deserialize_with = "json::string")]
    pub upstream: Option<String>,
    #[serde(default, deserialize_with = "boolean")]
    pub enabled: Option<bool>,
    #[serde(default, deserialize_with = "nullable_price")]
    pub price: Option<Option<PriceInput>>,
}

/// A boolean; null is refused (absent is `None`).
fn boolean<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<bool>, D::Error> {
    bool::deserialize(deserializer).map(Some)
}

/// Absent is `None`, null `Some(None)`.
fn nullable_price<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<PriceInput>>, D::Error> {
    Option::<PriceInput>::deserialize(deserializer).map(Some)
}

/// A checked new catalog entry.
#[derive(Debug, Clone, PartialEq)]
pub struct NewModel {
    pub name: String,
    pub provider: String,
    /// The provider's id for the model: the entry's own name unless given.
    pub upstream: String,
    pub enabled: bool,
    pub price: Option<Price>,
}

/// A checked change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelPatch {
    pub provider: Option<String>,
    pub upstream: Option<String>,
    pub enabled: Option<bool>,
    /// `Some(None)` removes the price.
    pub price: Option<Option<Price>>,
}

/// A price at `price`, its errors named `price.input` and so on.
fn price(input: PriceInput) -> Result<Price, InvalidInput> {
    Price::try_from(input).map_err(|e| {
        let field = format!("price.{}", e.field);
        let message = e
            .message
            .replacen(&format!("`{}`", e.field), &format!("`{field}`"), 1);
        InvalidInput::new(field, message)
    })
}

impl ModelInput {
    /// The new entry `name`; with no upstream, the name itself. An empty
    /// one is refused: sent on purpose, it is a mistake (the admin's form,
    /// whose empty field means "the name", sends none).
    pub fn new_model(self, name: &str) -> Result<NewModel, InvalidInput> {
        let name = model_name("name", name)?;
        let provider = provider(&required("provider", self.provider)?)?;
        let upstream = match self.upstream.as_deref() {
            None => name.clone(),
            Some(raw) => model_id("upstream", raw)?,
        };
        Ok(NewModel {
            name,
            provider,
            upstream,
            enabled: self.enabled.unwrap_or(true),
            price: self.price.flatten().map(price).transpose()?,
        })
    }

    /// A change to an entry: at least one field.
    pub fn patch(self) -> Result<ModelPatch, InvalidInput> {
        let patch = ModelPatch {
            provider: self.provider.as_deref().map(provider).transpose()?,
            upstream: self
                .upstream
                .as_deref()
                .map(|raw| model_id("upstream", raw))
                .transpose()?,
            enabled: self.enabled,
            price: self.price.map(|p| p.map(price).transpose()).transpose()?,
        };
        if patch == ModelPatch::default() {
            return Err(InvalidInput::whole(
                "send at least one of `provider`, `upstream`, `enabled`, `price`",
            ));
        }
        Ok(patch)
    }
}

/// Whether two model names are the same name: catalog names are unique in
/// any case (ASCII letters, as SQLite's NOCASE folds them).
pub fn same_name(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::domain::JsonObject;

    fn input(body: Value) -> Result<ModelInput, InvalidInput> {
        JsonObject::from(body.as_object().unwrap().clone()).into_input()
    }

    #[test]
    fn a_new_model_defaults_its_upstream_to_its_name_and_is_enabled() {
        let new = input(json!({"provider": " ollama "}))
            .unwrap()
            .new_model("llama3.1:8b")
            .unwrap();
        assert_eq!(
            new,
            NewModel {
                name: "llama3.1:8b".into(),
                provider: "ollama".into(),
                upstream: "llama3.1:8b".into(),
                enabled: true,
                price: None,
            }
        );
        let alias = input(
            json!({"provider": "openai", "upstream": "gpt-4o-mini", "enabled": false,
                                 "price": {"input": 0.15, "output": 0.6}}),
        )
        .unwrap()
        .new_model("fast")
        .unwrap();
        assert_eq!(alias.upstream, "gpt-4o-mini");
        assert!(!alias.enabled);
        assert_eq!(alias.price.unwrap().output.stored(), 600_000);
    }

    #[test]
    fn bad_models_name_their_field() {
        let cases = [
            ("x", json!({}), "provider"),
            ("x", json!({"provider": ""}), "provider"),
            ("x", json!({"provider": 3}), "provider"),
            ("", json!({"provider": "openai"}), "name"),
            ("a b", json!({"provider": "openai"}), "name"),
            (" a", json!({"provider": "openai"}), "name"),
            ("ECHO", json!({"provider": "openai"}), "name"),
            ("x\u{7}", json!({"provider": "openai"}), "name"),
            (
                "x",
                json!({"provider": "openai", "upstream": "a b"}),
                "upstream",
            ),
            (
                "x",
                json!({"provider": "openai", "upstream": ""}),
                "upstream",
            ),
            (
                "x",
                json!({"provider": "openai", "enabled": "yes"}),
                "enabled",
            ),
            (
                "x",
                json!({"provider": "openai", "price": {"input": 1}}),
                "price.output",
            ),
            (
                "x",
                json!({"provider": "openai", "price": {"input": -1, "output": 1}}),
                "price.input",
            ),
            (
                "x",
                json!({"provider": "openai", "colour": "red"}),
                "colour",
            ),
        ];
        for (name, body, field) in cases {
            let e = input(body.clone())
                .and_then(|i| i.new_model(name))
                .unwrap_err();
            assert_eq!(e.field, field, "{name:?} {body}: {e:?}");
            assert!(e.message.contains(&format!("`{field}`")), "{e:?}");
        }
        let long = "m".repeat(201);
        let e = input(json!({"provider": "openai"}))
            .unwrap()
            .new_model(&long)
            .unwrap_err();
        assert_eq!(e.field, "name");
    }

    #[test]
    fn a_patch_changes_what_it_names_and_null_removes_the_price() {
        let patch = input(json!({"enabled": false, "price": null}))
            .unwrap()
            .patch()
            .unwrap();
        assert_eq!(
            patch,
            ModelPatch {
                enabled: Some(false),
                price: Some(None),
                ..ModelPatch::default()
            }
        );
        let e = input(json!({})).unwrap().patch().unwrap_err();
        assert_eq!(e.field, "");
        let e = input(json!({"upstream": ""})).unwrap().patch().unwrap_err();
        assert_eq!(e.field, "upstream");
    }
}
