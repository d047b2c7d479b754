use crate::error::ApiError;

use super::text::{check_length, not_blank, trimmed};
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

fn description(raw: &str) -> Result<String, ApiError> {
    check_length("description", raw, 0, MAX_DESCRIPTION)?;
    Ok(raw.to_owned())
}

/// Kept verbatim (leading and trailing space may matter to a model), but
/// never blank.
fn instruction(raw: &str) -> Result<String, ApiError> {
    not_blank("instruction", raw)?;
    check_length("instruction", raw, 1, MAX_INSTRUCTION)?;
    Ok(raw.to_owned())
}

/// An empty or blank model means "no default".
fn default_model(raw: Option<&str>) -> Result<Option<String>, ApiError> {
    match raw.map(str::trim).filter(|m| !m.is_empty()) {
        None => Ok(None),
        Some(model) => trimmed("defaultModel", model, 1, MAX_MODEL).map(Some),
    }
}

impl NewCharacter {
    pub fn parse(body: &JsonObject) -> Result<NewCharacter, ApiError> {
        Ok(NewCharacter {
            title: title(body.required_str("title")?)?,
            description: description(body.optional_str("description")?.unwrap_or(""))?,
            instruction: instruction(body.required_str("instruction")?)?,
            default_model: default_model(body.optional_str("defaultModel")?)?,
        })
    }
}

impl CharacterPatch {
    pub fn parse(body: &JsonObject) -> Result<CharacterPatch, ApiError> {
        let patch = CharacterPatch {
            title: body.optional_str("title")?.map(title).transpose()?,
            description: body
                .optional_str("description")?
                .map(description)
                .transpose()?,
            instruction: body
                .optional_str("instruction")?
                .map(instruction)
                .transpose()?,
            // Present (even as null) means "set"; absent means "leave".
            default_model: if body.has_key("defaultModel") {
                Some(default_model(body.optional_str("defaultModel")?)?)
            } else {
                None
            },
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
