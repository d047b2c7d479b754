use serde::Serialize;

use super::text::trimmed;
use super::InvalidInput;

const MAX_TAGS: usize = 100;
const MAX_TAG_LEN: usize = 64;

/// A user's tags: at most 100, each at most 64 characters as sent, with no
/// control characters, trimmed and not blank; duplicates dropped keeping the
/// first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Tags(Vec<String>);

impl Tags {
    pub fn parse(raw: &[impl AsRef<str>]) -> Result<Tags, InvalidInput> {
        // Counted as sent, so the limit is the one the API document states.
        if raw.len() > MAX_TAGS {
            return Err(InvalidInput::new(
                "tags",
                format!("`tags` may hold at most {MAX_TAGS} tags, got {}", raw.len()),
            ));
        }
        let mut tags: Vec<String> = Vec::with_capacity(raw.len());
        for (i, item) in raw.iter().enumerate() {
            let tag = tag(&format!("tags[{i}]"), item.as_ref())?;
            if !tags.contains(&tag) {
                tags.push(tag);
            }
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

/// One tag as sent in `field`: trimmed, 1 to 64 characters.
pub fn tag(field: &str, raw: &str) -> Result<String, InvalidInput> {
    trimmed(field, raw, 1, MAX_TAG_LEN)
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
        assert!(Tags::parse(&["a"; 101]).is_err(), "counted as sent");
        let err = Tags::parse(&["ok", "v\0ip"]).unwrap_err();
        assert_eq!(err.field, "tags[1]");
    }
}
