use crate::error::ApiError;

use super::text::{multiline, not_blank, trimmed};
use super::JsonObject;

const MAX_TITLE: usize = 200;
const MAX_DESCRIPTION: usize = 10_000;
const MAX_INSTRUCTION: usize = 100_000;
const MAX_MODEL: usize = 200;

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

fn title(raw: &str) -> Result<String, ApiError> {
    trimmed("title", raw, 1, MAX_TITLE)
}

/// Null is the empty description.
fn description(raw: Option<&str>) -> Result<String, ApiError> {
    let raw = raw.unwrap_or("");
    multiline("description", raw, MAX_DESCRIPTION)?;
    Ok(raw.to_owned())
}

/// Kept verbatim (leading and trailing space may matter to a model), but
/// never blank.
fn instruction(raw: &str) -> Result<String, ApiError> {
    multiline("instruction", raw, MAX_INSTRUCTION)?;
    not_blank("instruction", raw)?;
    Ok(raw.to_owned())
}

/// Null, empty or blank means "no default".
fn default_model(raw: Option<&str>) -> Result<Option<String>, ApiError> {
    let model = trimmed("defaultModel", raw.unwrap_or(""), 0, MAX_MODEL)?;
    Ok(Some(model).filter(|m| !m.is_empty()))
}

impl NewCharacter {
    pub fn parse(body: &JsonObject) -> Result<NewCharacter, ApiError> {
        Ok(NewCharacter {
            title: title(body.required_str("title")?)?,
            description: description(body.nullable_str("description")?.flatten())?,
            instruction: instruction(body.required_str("instruction")?)?,
            default_model: default_model(body.nullable_str("defaultModel")?.flatten())?,
        })
    }
}

impl CharacterPatch {
    pub fn parse(body: &JsonObject) -> Result<CharacterPatch, ApiError> {
        // Absent leaves a field as it is; null is refused where the field
        // cannot be empty, and empties it where it can.
        let patch = CharacterPatch {
            title: body.optional_str("title")?.map(title).transpose()?,
            description: body
                .nullable_str("description")?
                .map(description)
                .transpose()?,
            instruction: body
                .optional_str("instruction")?
                .map(instruction)
                .transpose()?,
            default_model: body
                .nullable_str("defaultModel")?
                .map(default_model)
                .transpose()?,
        };
        if patch.title.is_none()
            && patch.description.is_none()
            && patch.instruction.is_none()
            && patch.default_model.is_none()
        {
            return Err(ApiError::invalid(
                "send at least one of `title`, `description`, `instruction`, `defaultModel`",
            ));
        }
        Ok(patch)
    }
}
