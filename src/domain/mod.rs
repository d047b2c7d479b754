//! Types that parse and check input, so handlers and queries only ever see
//! valid values.

mod api_key;
mod character;
mod email;
mod error;
mod ids;
mod json;
mod tags;
mod text;
mod timestamp;

pub use api_key::{parse_key_name, ApiKey, KeyHash};
pub use character::{CharacterPatch, NewCharacter};
pub use email::Email;
pub use error::InvalidInput;
pub use ids::{random_base62, ApiKeyId, CharacterId, UserId};
pub use json::{json_type, BodyLimit, JsonObject};
pub use tags::Tags;
pub use text::{check_length, trimmed};
pub use timestamp::Timestamp;
