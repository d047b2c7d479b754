use serde::Serialize;

use super::text::trimmed;
use crate::error::ApiError;

const MAX_TAGS: usize = 100;
const MAX_TAG_LEN: usize = 64;

/// A user's tags: each trimmed and 1 to 64 characters, duplicates dropped
/// keeping the first, at most 100.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Tags(Vec<String>);

impl Tags {
    pub fn parse(raw: &[&str]) -> Result<Tags, ApiError> {
        let mut tags: Vec<String> = Vec::with_capacity(raw.len());
        for (i, item) in raw.iter().enumerate() {
            let tag = trimmed(&format!("tags[{i}]"), item, 1, MAX_TAG_LEN)?;
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        if tags.len() > MAX_TAGS {
            return Err(ApiError::invalid_field(
                "tags",
                format!(
                    "`tags` may hold at most {MAX_TAGS} distinct tags, got {}",
                    tags.len()
                ),
            ));
        }
        Ok(Tags(tags))
    }

    pub fn from_stored(tags: Vec<String>) -> Tags {
        Tags(tags)
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::Tags;

    #[test]
    fn trims_and_dedups_keeping_first() {
        let tags = Tags::parse(&[" b ", "a", "b", "a "]).unwrap();
        assert_eq!(tags.as_slice(), ["b", "a"]);
        assert!(Tags::parse(&["  "]).is_err());
        assert!(Tags::parse(&[&"x".repeat(65)]).is_err());
        let many: Vec<String> = (0..101).map(|i| i.to_string()).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        assert!(Tags::parse(&refs).is_err());
    }
}
