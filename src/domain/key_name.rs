use std::fmt;

use super::text::trimmed;
use super::InvalidInput;

const MAX_LEN: usize = 100;

/// An API key's name, to tell keys apart: 1 to 100 characters, trimmed,
/// with no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyName(String);

impl KeyName {
    pub fn parse(raw: &str) -> Result<KeyName, InvalidInput> {
        trimmed("name", raw, 1, MAX_LEN).map(KeyName)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::KeyName;

    #[test]
    fn names_are_trimmed_and_never_blank() {
        assert_eq!(KeyName::parse(" nightly ").unwrap().as_str(), "nightly");
        for bad in ["", "   ", "a\nb", &"x".repeat(101)] {
            assert_eq!(KeyName::parse(bad).unwrap_err().field, "name", "{bad:?}");
        }
    }
}
