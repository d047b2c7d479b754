use std::fmt;

use rand::distr::{Alphanumeric, SampleString};
use serde::{Serialize, Serializer};

use crate::error::ApiError;

/// `len` random characters from [A-Za-z0-9], from the thread's CSPRNG.
pub fn random_base62(len: usize) -> String {
    Alphanumeric.sample_string(&mut rand::rng(), len)
}

/// A user's id: an integer in the store, a string in the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UserId(pub i64);

impl UserId {
    /// Parses a path segment; anything but a positive integer is a 400.
    pub fn parse(raw: &str) -> Result<UserId, ApiError> {
        match raw.parse::<i64>() {
            Ok(id) if id > 0 && !raw.starts_with('+') => Ok(UserId(id)),
            _ => Err(ApiError::invalid_field(
                "id",
                format!("user id must be a positive integer, got {raw:?}"),
            )),
        }
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Serialize for UserId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// An AI character's id: a short random string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct CharacterId(pub String);

impl CharacterId {
    pub fn generate() -> CharacterId {
        CharacterId(random_base62(12))
    }
}

impl fmt::Display for CharacterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An API key's id: an integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct ApiKeyId(pub i64);

impl fmt::Display for ApiKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
