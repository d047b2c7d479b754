//! Request bodies as JSON (`http::json_body` reads them): parsed into an
//! object, then into an input struct (`#[derive(Deserialize)]`) whose
//! errors name the exact field, `tags[1]` included. The field readers below
//! keep the API's wording (`` `title` must be a string, not a number ``).

use std::fmt;

use serde::de::{self, DeserializeOwned, DeserializeSeed, Deserializer, MapAccess, SeqAccess};
use serde_json::{Map, Value};

use super::InvalidInput;

/// A request body that is a JSON object. Any Content-Type is accepted, so
/// `curl -d` works.
#[derive(Debug)]
pub struct JsonObject(Map<String, Value>);

impl From<Map<String, Value>> for JsonObject {
    fn from(map: Map<String, Value>) -> JsonObject {
        JsonObject(map)
    }
}

impl JsonObject {
    pub fn parse(bytes: &[u8]) -> Result<JsonObject, InvalidInput> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(InvalidInput::whole(
                "the request body is empty; send a JSON object",
            ));
        }
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(map)) => Ok(JsonObject(map)),
            Ok(other) => Err(InvalidInput::whole(format!(
                "the request body must be a JSON object, not {}",
                json_type(&other)
            ))),
            Err(e) => Err(InvalidInput::whole(format!(
                "the request body is not valid JSON: {e}"
            ))),
        }
    }

    pub fn into_map(self) -> Map<String, Value> {
        self.0
    }

    /// The object as the input struct `T`. An error names the field by its
    /// path (`tags[1]`) and leads its message with it.
    pub fn into_input<T: DeserializeOwned>(self) -> Result<T, InvalidInput> {
        // From a `Value`, so serde's messages carry no line and column.
        serde_path_to_error::deserialize(Value::Object(self.0)).map_err(|e| {
            let field = e.path().to_string();
            let problem = e.into_inner();
            if field == "." {
                InvalidInput::whole(problem.to_string())
            } else {
                InvalidInput::new(&field, format!("`{field}` {problem}"))
            }
        })
    }
}

pub fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `path` is not what it must be: `` `user` must be a string, not a number ``.
pub fn wrong(path: &str, expected: &str, value: &Value) -> InvalidInput {
    InvalidInput::new(
        path,
        format!("`{path}` must be {expected}, not {}", json_type(value)),
    )
}

/// A field the input struct must have: its value, or `` `name` is required ``.
pub fn required<T>(name: &str, value: Option<T>) -> Result<T, InvalidInput> {
    value.ok_or_else(|| InvalidInput::new(name, format!("`{name}` is required")))
}

/// Reads a string field; null is refused. With `#[serde(default)]`, an
/// absent field is `None`.
pub fn string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    deserializer.deserialize_any(Text { null: false })
}

/// Reads a string field that may be null: absent (with `#[serde(default)]`)
/// is `None`, null `Some(None)`.
pub fn nullable_string<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<String>>, D::Error> {
    deserializer.deserialize_any(Text { null: true }).map(Some)
}

/// Reads an array of strings; null (or absent, with `#[serde(default)]`)
/// is `None`. A bad item is named by its index.
pub fn string_list<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Vec<String>>, D::Error> {
    deserializer.deserialize_any(List)
}

/// Reads a number field; null is refused. With `#[serde(default)]`, an
/// absent field is `None`.
pub fn number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<f64>, D::Error> {
    deserializer.deserialize_any(Number { null: false })
}

/// Reads a number field that may be null: absent (with `#[serde(default)]`)
/// is `None`, null `Some(None)`.
pub fn nullable_number<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<f64>>, D::Error> {
    deserializer
        .deserialize_any(Number { null: true })
        .map(Some)
}

/// "must be a string, not a number": what the field's path is put before.
fn refused<E: de::Error>(expected: &str, got: &str) -> E {
    E::custom(format!("must be {expected}, not {got}"))
}

/// Refuses every JSON type but the ones a visitor overrides, naming the
/// type it got in the API's words.
macro_rules! refuse_other_types {
    ($expected:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Err(refused($expected, "a boolean"))
        }

        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Err(refused($expected, "a number"))
        }

        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Err(refused($expected, "a number"))
        }

        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Err(refused($expected, "a number"))
        }

        fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
            Err(refused($expected, "an object"))
        }
    };
}

/// A string, or null when `null` is allowed.
#[derive(Clone, Copy)]
struct Text {
    null: bool,
}

impl<'de> de::Visitor<'de> for Text {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Option<String>, E> {
        Ok(Some(value.to_owned()))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Option<String>, E> {
        Ok(Some(value))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Option<String>, E> {
        if self.null {
            Ok(None)
        } else {
            Err(refused("a string", "null"))
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Option<String>, A::Error> {
        Err(refused("a string", "an array"))
    }

    refuse_other_types!("a string");
}

impl<'de> DeserializeSeed<'de> for Text {
    type Value = Option<String>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

/// A number, or null when `null` is allowed.
#[derive(Clone, Copy)]
struct Number {
    null: bool,
}

impl<'de> de::Visitor<'de> for Number {
    type Value = Option<f64>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number")
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Option<f64>, E> {
        Ok(Some(value as f64))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Option<f64>, E> {
        Ok(Some(value as f64))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Option<f64>, E> {
        Ok(Some(value))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Option<f64>, E> {
        if self.null {
            Ok(None)
        } else {
            Err(refused("a number", "null"))
        }
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Option<f64>, E> {
        Err(refused("a number", "a boolean"))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Option<f64>, E> {
        Err(refused("a number", "a string"))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Option<f64>, A::Error> {
        Err(refused("a number", "an array"))
    }

    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Option<f64>, A::Error> {
        Err(refused("a number", "an object"))
    }
}

/// An array of strings, or null.
struct List;

impl<'de> de::Visitor<'de> for List {
    type Value = Option<Vec<String>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of strings")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element_seed(Text { null: false })? {
            items.extend(item);
        }
        Ok(Some(items))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Err(refused("an array of strings", "a string"))
    }

    refuse_other_types!("an array of strings");
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Input {
        #[serde(default, deserialize_with = "string")]
        name: Option<String>,
        #[serde(default, deserialize_with = "nullable_string")]
        default_model: Option<Option<String>>,
        #[serde(default, deserialize_with = "string_list")]
        tags: Option<Vec<String>>,
    }

    fn input(body: Value) -> Result<Input, InvalidInput> {
        JsonObject::from(body.as_object().unwrap().clone()).into_input()
    }

    #[test]
    fn absent_null_and_values_are_told_apart() {
        let empty = input(json!({"unknown": 1})).unwrap();
        assert_eq!(empty.name, None);
        assert_eq!(empty.default_model, None);
        assert_eq!(empty.tags, None);
        let nulls = input(json!({"defaultModel": null, "tags": null})).unwrap();
        assert_eq!(nulls.default_model, Some(None));
        assert_eq!(nulls.tags, None);
        let full = input(json!({"name": "n", "defaultModel": "m", "tags": ["a", "b"]})).unwrap();
        assert_eq!(full.name.as_deref(), Some("n"));
        assert_eq!(full.default_model, Some(Some("m".to_owned())));
        assert_eq!(full.tags, Some(vec!["a".to_owned(), "b".to_owned()]));
    }

    #[test]
    fn type_errors_name_the_exact_field_in_the_apis_words() {
        for (body, field, message) in [
            (
                json!({"name": 5}),
                "name",
                "`name` must be a string, not a number",
            ),
            (
                json!({"name": null}),
                "name",
                "`name` must be a string, not null",
            ),
            (
                json!({"name": ["x"]}),
                "name",
                "`name` must be a string, not an array",
            ),
            (
                json!({"defaultModel": {}}),
                "defaultModel",
                "`defaultModel` must be a string, not an object",
            ),
            (
                json!({"defaultModel": true}),
                "defaultModel",
                "`defaultModel` must be a string, not a boolean",
            ),
            (
                json!({"tags": "vip"}),
                "tags",
                "`tags` must be an array of strings, not a string",
            ),
            (
                json!({"tags": -1.5}),
                "tags",
                "`tags` must be an array of strings, not a number",
            ),
            (
                json!({"tags": ["ok", 7]}),
                "tags[1]",
                "`tags[1]` must be a string, not a number",
            ),
            (
                json!({"tags": ["ok", "fine", null]}),
                "tags[2]",
                "`tags[2]` must be a string, not null",
            ),
        ] {
            let err = input(body.clone()).unwrap_err();
            assert_eq!(err.field, field, "{body}");
            assert_eq!(err.message, message, "{body}");
        }
    }

    #[test]
    fn a_body_that_is_not_an_object_is_refused_as_a_whole() {
        for (body, message) in [
            ("", "the request body is empty; send a JSON object"),
            (
                "[1]",
                "the request body must be a JSON object, not an array",
            ),
            ("null", "the request body must be a JSON object, not null"),
        ] {
            let err = JsonObject::parse(body.as_bytes()).unwrap_err();
            assert_eq!(err, InvalidInput::whole(message));
        }
        let err = JsonObject::parse(b"{").unwrap_err();
        assert!(err
            .message
            .starts_with("the request body is not valid JSON: "));
        assert!(err.field.is_empty());
    }

    #[test]
    fn a_missing_field_is_required_by_name() {
        let err = required::<String>("title", None).unwrap_err();
        assert_eq!(err, InvalidInput::new("title", "`title` is required"));
    }
}
