//! Types that parse and check input, so handlers and queries only ever see
//! valid values. Each edge (the API's JSON, the admin's forms, the command
//! line) reads its input into a plain struct and turns it into these types,
//! so all of them share one set of rules and one error, `InvalidInput`.

mod api_key;
mod character;
pub mod day;
mod email;
mod error;
mod ids;
pub mod json;
mod key_name;
pub mod model;
mod password;
pub mod policy;
mod price;
mod retention;
mod tags;
mod text;
mod timestamp;
mod timezone;
mod user;

pub use api_key::{ApiKey, KeyHash, KeyScope};
pub use character::{CharacterInput, CharacterPatch, NewCharacter};
pub use email::Email;
pub use error::InvalidInput;
pub use ids::{random_base62, time_ordered_id, AdminId, ApiKeyId, CharacterId, UserId};
pub use json::{json_type, wrong, JsonObject};
pub use key_name::KeyName;
pub use model::{ModelInput, ModelPatch, NewModel};
pub use password::NewPassword;
pub use policy::{Limit, Metric, ModelPattern, Per, Policy, PolicyInput, Scope, Window};
pub use price::{Micros, PerMillion, Price, PriceInput, Tokens, MAX_USD_PER_MILLION};
pub use retention::Retention;
pub use tags::{tag, Tags};
pub use text::{check_length, trimmed};
pub use timestamp::Timestamp;
pub use timezone::InstanceTimeZone;
pub use user::{NewUser, TagsInput, UserInput};
