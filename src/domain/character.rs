use serde::Deserialize;

use super::json::{self, required};
use super::text::{multiline, not_blank, trimmed};
use super::InvalidInput;

const MAX_TITLE: usize = 200;
const MAX_DESCRIPTION: usize = 10_000;
const MAX_INSTRUCTION: usize = 100_000;
const MAX_MODEL: usize = 200;

/// An AI character as a client sends it: each field absent (`None`) or,
/// where null means something, null (`Some(None)`). A new character and a
/// change are both made from it.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CharacterInput {
    #[serde(default, deserialize_with = "json::string")]
    pub title: Option<String>,
    #[serde(default, deserialize_with = "json::nullable_string")]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "json::string")]
    pub instruction: Option<String>,
    #[serde(default, deserialize_with = "json::nullable_string")]
    pub default_model: Option<Option<String>>,
}

/// A checked new AI character.
#[derive(Debug, Clone)]
pub struct NewCharacter {
    pub title: String,
    pub description: String,
    pub instruction: String,
    pub default_model: Option<String>,
}

/// A checked partial update; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct CharacterPatch {
    pub title: Option<String>,
    pub description: Option<String>,
    pub instruction: Option<String>,
    /// `Some(None)` clears the default model.
    pub default_model: Option<Option<String>>,
}

fn title(raw: &str) -> Result<String, InvalidInput> {
    trimmed("title", raw, 1, MAX_TITLE)
}

/// Null is the empty description.
fn description(raw: Option<String>) -> Result<String, InvalidInput> {
    let raw = raw.unwrap_or_default();
    multiline("description", &raw, MAX_DESCRIPTION)?;
    Ok(raw)
}

/// Kept verbatim (leading and trailing space may matter to a model), but
/// never blank.
fn instruction(raw: String) -> Result<String, InvalidInput> {
    multiline("instruction", &raw, MAX_INSTRUCTION)?;
    not_blank("instruction", &raw)?;
    Ok(raw)
}

/// Null, empty or blank means "no default".
fn default_model(raw: Option<String>) -> Result<Option<String>, InvalidInput> {
    let model = trimmed("defaultModel", raw.as_deref().unwrap_or(""), 0, MAX_MODEL)?;
    Ok(Some(model).filter(|m| !m.is_empty()))
}

impl TryFrom<CharacterInput> for NewCharacter {
    type Error = InvalidInput;

    fn try_from(input: CharacterInput) -> Result<NewCharacter, InvalidInput> {
        Ok(NewCharacter {
            title: title(&required("title", input.title)?)?,
            description: description(input.description.flatten())?,
            instruction: instruction(required("instruction", input.instruction)?)?,
            default_model: default_model(input.default_model.flatten())?,
        })
    }
}

impl TryFrom<CharacterInput> for CharacterPatch {
    type Error = InvalidInput;

    /// Absent leaves a field as it is; null was refused (when read) where
    /// the field cannot be empty, and empties it where it can.
    fn try_from(input: CharacterInput) -> Result<CharacterPatch, InvalidInput> {
        let patch = CharacterPatch {
            title: input.title.as_deref().map(title).transpose()?,
            description: input.description.map(description).transpose()?,
            instruction: input.instruction.map(instruction).transpose()?,
            default_model: input.default_model.map(default_model).transpose()?,
        };
        if patch.title.is_none()
            && patch.description.is_none()
            && patch.instruction.is_none()
            && patch.default_model.is_none()
        {
            return Err(InvalidInput::whole(
                "send at least one of `title`, `description`, `instruction`, `defaultModel`",
            ));
        }
        Ok(patch)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::domain::JsonObject;

    fn input(body: Value) -> CharacterInput {
        JsonObject::from(body.as_object().unwrap().clone())
            .into_input()
            .unwrap()
    }

    #[test]
    fn a_new_character_needs_a_title_and_an_instruction_and_null_empties_the_rest() {
        let new = NewCharacter::try_from(input(json!({
            "title": " Pirate ",
            "instruction": " Arr. ",
            "description": null,
            "defaultModel": null
        })))
        .unwrap();
        assert_eq!(new.title, "Pirate");
        assert_eq!(new.instruction, " Arr. ", "kept verbatim");
        assert_eq!(new.description, "");
        assert_eq!(new.default_model, None);
        for (body, field) in [
            (json!({"instruction": "I"}), "title"),
            (json!({"title": "T"}), "instruction"),
            (
                json!({"title": "T", "instruction": "I", "defaultModel": "a\0"}),
                "defaultModel",
            ),
        ] {
            let err = NewCharacter::try_from(input(body)).unwrap_err();
            assert_eq!(err.field, field);
        }
        let err = NewCharacter::try_from(input(json!({"instruction": "I"}))).unwrap_err();
        assert_eq!(err.message, "`title` is required");
    }

    #[test]
    fn a_change_keeps_what_is_absent_and_clears_what_is_null() {
        let patch = CharacterPatch::try_from(input(json!({
            "title": "Captain",
            "defaultModel": null
        })))
        .unwrap();
        assert_eq!(patch.title.as_deref(), Some("Captain"));
        assert_eq!(patch.description, None);
        assert_eq!(patch.instruction, None);
        assert_eq!(patch.default_model, Some(None));
        let patch = CharacterPatch::try_from(input(json!({"description": null}))).unwrap();
        assert_eq!(patch.description.as_deref(), Some(""));
        let err = CharacterPatch::try_from(input(json!({"unknown": 1}))).unwrap_err();
        assert!(err.field.is_empty());
        assert!(err.message.starts_with("send at least one of"));
    }

    #[test]
    fn null_is_refused_where_a_field_cannot_be_empty() {
        for field in ["title", "instruction"] {
            let body = json!({ field: null });
            let err = JsonObject::from(body.as_object().unwrap().clone())
                .into_input::<CharacterInput>()
                .unwrap_err();
            assert_eq!(err.field, field);
            assert_eq!(err.message, format!("`{field}` must be a string, not null"));
        }
    }
}
