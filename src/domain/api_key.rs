//! API keys: their format, and the hash that is all the store keeps of one.

use sha2::{Digest, Sha256};

use super::random_base62;

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
