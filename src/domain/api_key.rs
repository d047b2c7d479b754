//! API keys: their format, and the hash that is all the store keeps of one.

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{random_base62, InvalidInput};

const KEY_RANDOM_LEN: usize = 40;
/// How much of a key is kept in clear, to tell keys apart in listings.
const SHOWN_PREFIX_LEN: usize = ApiKey::PREFIX.len() + 6;

/// A freshly generated key: `mg_` plus 40 random base62 characters.
pub struct ApiKey(String);

impl ApiKey {
    /// How every key begins.
    pub const PREFIX: &str = "mg_";

    pub fn generate() -> ApiKey {
        ApiKey(format!(
            "{}{}",
            ApiKey::PREFIX,
            random_base62(KEY_RANDOM_LEN)
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn prefix(&self) -> &str {
        &self.0[..SHOWN_PREFIX_LEN]
    }

    pub fn hash(&self) -> KeyHash {
        KeyHash::of(&self.0)
    }
}

/// The SHA-256 of a key: all that the store keeps of it.
pub struct KeyHash([u8; 32]);

impl KeyHash {
    pub fn of(key: &str) -> KeyHash {
        KeyHash(Sha256::digest(key.as_bytes()).into())
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// What a key opens: everything (`admin`), or only the chat routes
/// (`chat`: completions and the model list), for keys handed to chat
/// clients and scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyScope {
    #[default]
    Admin,
    Chat,
}

impl KeyScope {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyScope::Admin => "admin",
            KeyScope::Chat => "chat",
        }
    }

    /// `admin` or `chat`; the error names `field`.
    pub fn parse(field: &str, raw: &str) -> Result<KeyScope, InvalidInput> {
        match raw.trim() {
            "admin" => Ok(KeyScope::Admin),
            "chat" => Ok(KeyScope::Chat),
            other => Err(InvalidInput::new(
                field,
                format!("`{field}` must be `admin` (every route) or `chat` (chat completions and models only), got {other:?}"),
            )),
        }
    }

    /// For the command line, which names the flag itself.
    pub fn parse_arg(raw: &str) -> Result<KeyScope, String> {
        KeyScope::parse("scope", raw).map_err(|e| e.message)
    }
}

impl rusqlite::types::FromSql for KeyScope {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        match value.as_str()? {
            "chat" => Ok(KeyScope::Chat),
            // The store's CHECK allows only the two.
            _ => Ok(KeyScope::Admin),
        }
    }
}

impl rusqlite::ToSql for KeyScope {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}
