use serde::Deserialize;

use super::json::{self, required};
use super::{Email, InvalidInput, Tags};

/// A new user as a client sends it.
#[derive(Debug, Default, Deserialize)]
pub struct UserInput {
    #[serde(default, deserialize_with = "json::string")]
    pub email: Option<String>,
    /// Null is no tags.
    #[serde(default, deserialize_with = "json::string_list")]
    pub tags: Option<Vec<String>>,
}

/// A checked new user.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: Email,
    pub tags: Tags,
}

impl TryFrom<UserInput> for NewUser {
    type Error = InvalidInput;

    fn try_from(input: UserInput) -> Result<NewUser, InvalidInput> {
        Ok(NewUser {
            email: Email::parse(&required("email", input.email)?)?,
            tags: Tags::parse(&input.tags.unwrap_or_default())?,
        })
    }
}

/// A user's new tags as a client sends them: `{"tags": [...]}`.
#[derive(Debug, Default, Deserialize)]
pub struct TagsInput {
    #[serde(default, deserialize_with = "json::string_list")]
    pub tags: Option<Vec<String>>,
}

impl TryFrom<TagsInput> for Tags {
    type Error = InvalidInput;

    fn try_from(input: TagsInput) -> Result<Tags, InvalidInput> {
        let tags = input
            .tags
            .ok_or_else(|| InvalidInput::new("tags", "`tags` is required: the user's new tags"))?;
        Tags::parse(&tags)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::domain::JsonObject;

    fn read<T: serde::de::DeserializeOwned>(body: Value) -> Result<T, InvalidInput> {
        JsonObject::from(body.as_object().unwrap().clone()).into_input()
    }

    #[test]
    fn a_new_user_needs_an_email_and_null_tags_are_none() {
        let user = NewUser::try_from(
            read::<UserInput>(json!({"email": " Ann@Example.com", "tags": null})).unwrap(),
        )
        .unwrap();
        assert_eq!(user.email.as_str(), "ann@example.com");
        assert!(user.tags.as_slice().is_empty());
        let err = NewUser::try_from(read::<UserInput>(json!({"tags": []})).unwrap()).unwrap_err();
        assert_eq!(err, InvalidInput::new("email", "`email` is required"));
        let err = read::<UserInput>(json!({"email": null})).unwrap_err();
        assert_eq!(err.message, "`email` must be a string, not null");
    }

    #[test]
    fn new_tags_are_required_and_checked_by_index() {
        for body in [json!({}), json!({"tags": null})] {
            let err = Tags::try_from(read::<TagsInput>(body).unwrap()).unwrap_err();
            assert_eq!(err.field, "tags");
            assert!(err.message.contains("is required"));
        }
        let err = read::<TagsInput>(json!({"tags": ["a", 1]})).unwrap_err();
        assert_eq!(err.field, "tags[1]");
        let err =
            Tags::try_from(read::<TagsInput>(json!({"tags": ["a", " "]})).unwrap()).unwrap_err();
        assert_eq!(err.field, "tags[1]");
    }
}
