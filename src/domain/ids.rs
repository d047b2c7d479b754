use std::fmt;
use std::str::FromStr;

use rand::distr::{Alphanumeric, SampleString};
use rusqlite::types::{FromSql, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{InvalidInput, Timestamp};

/// `len` random characters from [A-Za-z0-9], from the thread's CSPRNG.
pub fn random_base62(len: usize) -> String {
    Alphanumeric.sample_string(&mut rand::rng(), len)
}

/// Digits in ASCII order, so that fixed-width numbers written with them
/// sort as the numbers do.
const ORDERED_BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Digits of the time in a chat id: 62^8 milliseconds reach the year 8900.
const CHAT_ID_TIME_DIGITS: usize = 8;
/// Random characters after the time: 62^6, some 57 billion a millisecond.
const CHAT_ID_RANDOM_CHARS: usize = 6;

/// A new chat id: the time in milliseconds (8 base62 digits) then 6 random
/// characters, so ids sort by when they were made and a new chat's row
/// lands at the end of the chat id index instead of at a random place in
/// it. 14 characters of [A-Za-z0-9].
pub fn time_ordered_id(now: Timestamp) -> String {
    let mut time = u64::try_from(now.millis()).unwrap_or(0);
    let mut digits = [0u8; CHAT_ID_TIME_DIGITS];
    for digit in digits.iter_mut().rev() {
        *digit = ORDERED_BASE62[(time % 62) as usize];
        time /= 62;
    }
    let mut id = String::from_utf8_lossy(&digits).into_owned();
    id.push_str(&random_base62(CHAT_ID_RANDOM_CHARS));
    id
}

/// The one parser of integer ids: a positive integer, written plainly (no
/// sign, no spaces). The error names the field `id`, as the routes do.
fn positive_id(what: &str, raw: &str) -> Result<i64, InvalidInput> {
    match raw.parse::<i64>() {
        Ok(id) if id > 0 && !raw.starts_with('+') => Ok(id),
        _ => Err(InvalidInput::new(
            "id",
            format!("{what} id must be a positive integer, got {raw:?}"),
        )),
    }
}

/// An integer id: parsed from a path segment or an argument by `FromStr`
/// (so handlers take `web::Path<UserId>`), bound and read as an SQLite
/// integer.
macro_rules! integer_id {
    ($name:ident, $what:literal) => {
        impl FromStr for $name {
            type Err = InvalidInput;

            fn from_str(raw: &str) -> Result<$name, InvalidInput> {
                positive_id($what, raw).map($name)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<$name, D::Error> {
                let raw = String::deserialize(deserializer)?;
                raw.parse().map_err(serde::de::Error::custom)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }

        impl ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(self.0.into())
            }
        }

        impl FromSql for $name {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                i64::column_result(value).map($name)
            }
        }
    };
}

/// A user's id: an integer in the store, a string in the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UserId(pub i64);

integer_id!(UserId, "user");

impl Serialize for UserId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// An API key's id: an integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct ApiKeyId(pub i64);

integer_id!(ApiKeyId, "key");

/// A web admin's id: an integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AdminId(pub i64);

integer_id!(AdminId, "admin");

/// An AI character's id: a short random string. Any string names one in a
/// path; an unknown one is simply not found.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CharacterId(pub String);

impl CharacterId {
    pub fn generate() -> CharacterId {
        CharacterId(random_base62(12))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CharacterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl ToSql for CharacterId {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        self.0.to_sql()
    }
}

impl FromSql for CharacterId {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        String::column_result(value).map(CharacterId)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_ids_sort_by_time_and_stay_short() {
        let earlier = time_ordered_id(Timestamp(1_764_172_800_000));
        let later = time_ordered_id(Timestamp(1_764_172_800_001));
        let much_later = time_ordered_id(Timestamp(4_102_444_800_000));
        assert!(
            earlier < later && later < much_later,
            "{earlier} {later} {much_later}"
        );
        for id in [&earlier, &later, &much_later] {
            assert_eq!(id.len(), 14, "{id}");
            assert!(id.bytes().all(|b| b.is_ascii_alphanumeric()), "{id}");
        }
        let twin = time_ordered_id(Timestamp(1_764_172_800_000));
        assert_eq!(
            twin[..8],
            earlier[..8],
            "the same millisecond, the same time part"
        );
        assert_ne!(twin, earlier, "the random part tells them apart");
    }

    #[test]
    fn integer_ids_are_positive_integers_written_plainly() {
        assert_eq!("42".parse::<UserId>().unwrap(), UserId(42));
        assert_eq!("7".parse::<ApiKeyId>().unwrap(), ApiKeyId(7));
        assert_eq!("1".parse::<AdminId>().unwrap(), AdminId(1));
        for bad in [
            "",
            " 1",
            "1 ",
            "+1",
            "-3",
            "0",
            "1.5",
            "abc",
            "99999999999999999999999",
        ] {
            let err = bad.parse::<UserId>().unwrap_err();
            assert_eq!(err.field, "id", "{bad:?}");
            assert_eq!(
                err.message,
                format!("user id must be a positive integer, got {bad:?}")
            );
            assert!(bad.parse::<ApiKeyId>().is_err(), "{bad:?}");
            assert!(bad.parse::<AdminId>().is_err(), "{bad:?}");
        }
        let err = "x".parse::<ApiKeyId>().unwrap_err();
        assert_eq!(err.message, "key id must be a positive integer, got \"x\"");
        let err = "x".parse::<AdminId>().unwrap_err();
        assert_eq!(
            err.message,
            "admin id must be a positive integer, got \"x\""
        );
    }

    #[test]
    fn ids_deserialize_from_text_through_the_same_parser() {
        let id: UserId = serde_json::from_value(serde_json::json!("12")).unwrap();
        assert_eq!(id, UserId(12));
        let err = serde_json::from_value::<UserId>(serde_json::json!("0")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "user id must be a positive integer, got \"0\""
        );
    }

    #[test]
    fn ids_are_bound_and_read_as_sqlite_values() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let (user, key, admin, character): (UserId, ApiKeyId, AdminId, CharacterId) = conn
            .query_row(
                "SELECT ?1, ?2, ?3, ?4",
                rusqlite::params![
                    UserId(5),
                    ApiKeyId(6),
                    AdminId(7),
                    CharacterId("abc".to_owned())
                ],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
            )
            .unwrap();
        assert_eq!(user, UserId(5));
        assert_eq!(key, ApiKeyId(6));
        assert_eq!(admin, AdminId(7));
        assert_eq!(character.as_str(), "abc");
    }
}
