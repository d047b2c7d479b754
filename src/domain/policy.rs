//! Policies: which models and AI characters a scope (everyone, a tag, a
//! user, an API key) opens, and how much it may use. One validator for the
//! API, the admin and the command line.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize, Serializer};

use super::json::{self, required};
use super::price::Micros;
use super::tags::tag;
use super::text::trimmed;
use super::{ApiKeyId, InvalidInput, UserId};

/// Most names or patterns in a policy's model or character list.
const MAX_LIST: usize = 1000;
/// Most limits in one policy.
const MAX_LIMITS: usize = 50;
const MAX_PATTERN_LEN: usize = 200;
/// Most of a count (requests, tokens): far above any real limit, and
/// exact in a JSON number.
pub const MAX_COUNT: i64 = 1_000_000_000_000_000;
/// Most of a cost limit, in USD.
pub const MAX_COST_USD: f64 = 1_000_000_000.0;

/// Where a policy attaches.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    /// The instance's default, for every request.
    Everyone,
    Tag(String),
    User(UserId),
    Key(ApiKeyId),
}

impl Scope {
    /// `everyone`, `tag:NAME`, `user:ID` or `key:ID`; the error names `field`.
    pub fn parse(field: &str, raw: &str) -> Result<Scope, InvalidInput> {
        let refuse = || {
            InvalidInput::new(
                field,
                format!(
                    "`{field}` must be `everyone`, `tag:NAME`, `user:ID` or `key:ID`, got {raw:?}"
                ),
            )
        };
        if raw == "everyone" {
            return Ok(Scope::Everyone);
        }
        let (kind, rest) = raw.split_once(':').ok_or_else(refuse)?;
        let id = |what: &str| -> Result<i64, InvalidInput> {
            rest.parse::<i64>()
                .ok()
                .filter(|id| *id > 0 && rest.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| {
                    InvalidInput::new(
                        field,
                        format!("`{field}`: a {what} id is a positive integer, got {rest:?}"),
                    )
                })
        };
        match kind {
            "tag" => Ok(Scope::Tag(tag(field, rest)?)),
            "user" => Ok(Scope::User(UserId(id("user")?))),
            "key" => Ok(Scope::Key(ApiKeyId(id("key")?))),
            _ => Err(refuse()),
        }
    }

    /// For people: `everyone`, `tag interns`, `user 12`, `API key 3`.
    pub fn describe(&self) -> String {
        match self {
            Scope::Everyone => "everyone".to_owned(),
            Scope::Tag(name) => format!("tag {name}"),
            Scope::User(id) => format!("user {id}"),
            Scope::Key(id) => format!("API key {id}"),
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Everyone => f.write_str("everyone"),
            Scope::Tag(name) => write!(f, "tag:{name}"),
            Scope::User(id) => write!(f, "user:{id}"),
            Scope::Key(id) => write!(f, "key:{id}"),
        }
    }
}

impl Serialize for Scope {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Generates a word enum: parsed from and shown as its JSON word.
macro_rules! word_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal, { $($variant:ident = $word:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &[$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $word),+ }
            }

            /// The error names `field`.
            pub fn parse(field: &str, raw: &str) -> Result<$name, InvalidInput> {
                raw.parse().map_err(|()| {
                    let words: Vec<String> =
                        $name::ALL.iter().map(|w| format!("`{}`", w.as_str())).collect();
                    InvalidInput::new(
                        field,
                        format!(concat!("`{}` must be one of {} (the ", $what, "), got {:?}"), field, words.join(", "), raw),
                    )
                })
            }
        }

        impl FromStr for $name {
            type Err = ();
            fn from_str(raw: &str) -> Result<$name, ()> {
                match raw { $($word => Ok($name::$variant),)+ _ => Err(()) }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
    };
}

word_enum!(
    /// What a limit counts.
    Metric, "metric", { Requests = "requests", Tokens = "tokens", CostUsd = "costUsd" }
);

word_enum!(
    /// The period a limit counts over: minute and hour are fixed windows,
    /// day, week (from Monday) and month follow the instance's calendar.
    Window, "window", { Minute = "minute", Hour = "hour", Day = "day", Week = "week", Month = "month" }
);

word_enum!(
    /// Whose allowance a limit is: each member's own, or one pool for the
    /// whole scope.
    Per, "per", { Member = "member", Group = "group" }
);

/// `max` of `metric` per `window`, for each member or for the group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Limit {
    pub metric: Metric,
    pub window: Window,
    /// Requests or tokens; micro-dollars for `CostUsd`.
    pub max: i64,
    pub per: Per,
}

impl Limit {
    /// `5 requests a day per member`, `$1.00 a month for the group`,
    /// `100 tokens an hour per member`.
    pub fn describe(&self) -> String {
        let amount = self.amount(self.max);
        let article = match self.window {
            Window::Hour => "an",
            Window::Minute | Window::Day | Window::Week | Window::Month => "a",
        };
        let window = self.window.as_str();
        let whose = match self.per {
            Per::Member => "per member",
            Per::Group => "for the group",
        };
        format!("{amount} {article} {window} {whose}")
    }

    /// An amount of this limit's metric, for people: `5 requests`,
    /// `1200 tokens`, `$0.25`.
    pub fn amount(&self, amount: i64) -> String {
        match self.metric {
            Metric::Requests if amount == 1 => "1 request".to_owned(),
            Metric::Requests => format!("{amount} requests"),
            Metric::Tokens if amount == 1 => "1 token".to_owned(),
            Metric::Tokens => format!("{amount} tokens"),
            Metric::CostUsd => Micros(amount).to_string(),
        }
    }
}

/// Shown as the API takes it: a cost limit's `max` in USD.
impl Serialize for Limit {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut limit = serializer.serialize_struct("Limit", 4)?;
        limit.serialize_field("metric", &self.metric)?;
        limit.serialize_field("window", &self.window)?;
        match self.metric {
            Metric::CostUsd => limit.serialize_field("max", &Micros(self.max))?,
            Metric::Requests | Metric::Tokens => limit.serialize_field("max", &self.max)?,
        }
        limit.serialize_field("per", &self.per)?;
        limit.end()
    }
}

/// A model name, or a pattern where `*` stands for any characters
/// (`gpt-4o*`, `claude-*`, `*`); matched regardless of ASCII case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct ModelPattern(String);

impl ModelPattern {
    pub fn parse(field: &str, raw: &str) -> Result<ModelPattern, InvalidInput> {
        Ok(ModelPattern(trimmed(field, raw, 1, MAX_PATTERN_LEN)?))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn matches(&self, name: &str) -> bool {
        glob(self.0.as_bytes(), name.as_bytes())
    }
}

/// `*` matches any run of bytes; everything else itself, ASCII case aside.
/// Greedy with one backtrack point: linear enough for names this short.
fn glob(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, n));
            p += 1;
        } else if p < pattern.len() && pattern[p].eq_ignore_ascii_case(&name[n]) {
            p += 1;
            n += 1;
        } else if let Some((star_p, star_n)) = star {
            p = star_p + 1;
            n = star_n + 1;
            star = Some((star_p, star_n + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

/// What a scope opens and allows. `models` and `characters` absent: the
/// scope restricts nothing of that kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    pub models: Option<Vec<ModelPattern>>,
    pub characters: Option<Vec<String>>,
    pub limits: Vec<Limit>,
    /// For an API key: a completion must name a user of the instance
    /// (`X-User-Email`).
    pub requires_user: bool,
}

impl Policy {
    /// Whether the policy says anything at all.
    pub fn is_empty(&self) -> bool {
        self == &Policy::default()
    }

    pub fn opens_model(&self, name: &str) -> Option<bool> {
        self.models
            .as_ref()
            .map(|patterns| patterns.iter().any(|p| p.matches(name)))
    }

    pub fn opens_character(&self, id: &str) -> Option<bool> {
        self.characters
            .as_ref()
            .map(|ids| ids.iter().any(|c| c == id))
    }
}

/// A policy as a client sends it (`PUT /policies/{scope}`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PolicyInput {
    #[serde(default, deserialize_with = "json::string_list")]
    pub models: Option<Vec<String>>,
    #[serde(default, deserialize_with = "json::string_list")]
    pub characters: Option<Vec<String>>,
    #[serde(default)]
    pub limits: Option<Vec<LimitInput>>,
    #[serde(default)]
    pub requires_user: Option<bool>,
}

/// One limit as a client sends it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitInput {
    #[serde(default, deserialize_with = "json::string")]
    pub metric: Option<String>,
    #[serde(default, deserialize_with = "json::string")]
    pub window: Option<String>,
    #[serde(default, deserialize_with = "json::number")]
    pub max: Option<f64>,
    #[serde(default, deserialize_with = "json::string")]
    pub per: Option<String>,
}

impl LimitInput {
    /// The limit at `field` (`limits[2]`); `per` defaults to `member`.
    pub fn check(self, field: &str) -> Result<Limit, InvalidInput> {
        let name = |part: &str| format!("{field}.{part}");
        let metric = Metric::parse(&name("metric"), &required(&name("metric"), self.metric)?)?;
        let window = Window::parse(&name("window"), &required(&name("window"), self.window)?)?;
        let per = match self.per {
            None => Per::Member,
            Some(raw) => Per::parse(&name("per"), &raw)?,
        };
        let max_field = name("max");
        let max = required(&max_field, self.max)?;
        let refuse = |why: String| InvalidInput::new(&max_field, format!("`{max_field}` {why}"));
        if !max.is_finite() || max < 0.0 {
            return Err(refuse(format!("must not be negative, got {max}")));
        }
        let max = match metric {
            Metric::CostUsd if max > MAX_COST_USD => {
                return Err(refuse(format!(
                    "must be at most {MAX_COST_USD} USD, got {max}"
                )))
            }
            Metric::CostUsd => (max * 1_000_000.0).round() as i64,
            Metric::Requests | Metric::Tokens if max.fract() != 0.0 => {
                return Err(refuse(format!(
                    "must be a whole number of {metric}, got {max}"
                )))
            }
            Metric::Requests | Metric::Tokens if max > MAX_COUNT as f64 => {
                return Err(refuse(format!("must be at most {MAX_COUNT}, got {max}")))
            }
            Metric::Requests | Metric::Tokens => max as i64,
        };
        Ok(Limit {
            metric,
            window,
            max,
            per,
        })
    }
}

impl PolicyInput {
    /// The checked policy for `scope`.
    pub fn check(self, scope: &Scope) -> Result<Policy, InvalidInput> {
        let models = match self.models {
            None => None,
            Some(list) => Some(
                bounded_list("models", list)?
                    .iter()
                    .enumerate()
                    .map(|(i, raw)| ModelPattern::parse(&format!("models[{i}]"), raw))
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        let characters = match self.characters {
            None => None,
            Some(list) => Some(
                bounded_list("characters", list)?
                    .iter()
                    .enumerate()
                    .map(|(i, raw)| trimmed(&format!("characters[{i}]"), raw, 1, MAX_PATTERN_LEN))
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        let limits = self.limits.unwrap_or_default();
        if limits.len() > MAX_LIMITS {
            return Err(InvalidInput::new(
                "limits",
                format!(
                    "`limits` may hold at most {MAX_LIMITS} limits, got {}",
                    limits.len()
                ),
            ));
        }
        let limits = limits
            .into_iter()
            .enumerate()
            .map(|(i, limit)| limit.check(&format!("limits[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        let requires_user = self.requires_user.unwrap_or(false);
        if requires_user && !matches!(scope, Scope::Key(_)) {
            return Err(InvalidInput::new(
                "requiresUser",
                "`requiresUser` applies to API keys only (scope `key:ID`)",
            ));
        }
        Ok(Policy {
            models: models.map(dedup),
            characters: characters.map(dedup),
            limits,
            requires_user,
        })
    }
}

fn bounded_list(field: &str, list: Vec<String>) -> Result<Vec<String>, InvalidInput> {
    if list.len() > MAX_LIST {
        return Err(InvalidInput::new(
            field,
            format!(
                "`{field}` may hold at most {MAX_LIST} entries, got {}",
                list.len()
            ),
        ));
    }
    Ok(list)
}

fn dedup<T: PartialEq>(list: Vec<T>) -> Vec<T> {
    let mut kept = Vec::with_capacity(list.len());
    for item in list {
        if !kept.contains(&item) {
            kept.push(item);
        }
    }
    kept
}

/// A limit as the store keeps it: `max` in micro-dollars for a cost.
#[derive(Debug, Serialize, Deserialize)]
pub struct StoredLimit {
    pub metric: String,
    pub window: String,
    pub max: i64,
    pub per: String,
}

impl From<&Limit> for StoredLimit {
    fn from(limit: &Limit) -> StoredLimit {
        StoredLimit {
            metric: limit.metric.as_str().to_owned(),
            window: limit.window.as_str().to_owned(),
            max: limit.max,
            per: limit.per.as_str().to_owned(),
        }
    }
}

impl TryFrom<StoredLimit> for Limit {
    type Error = InvalidInput;

    fn try_from(stored: StoredLimit) -> Result<Limit, InvalidInput> {
        Ok(Limit {
            metric: Metric::parse("metric", &stored.metric)?,
            window: Window::parse("window", &stored.window)?,
            max: stored.max.max(0),
            per: Per::parse("per", &stored.per)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::domain::JsonObject;

    fn check(scope: &str, body: Value) -> Result<Policy, InvalidInput> {
        let scope = Scope::parse("scope", scope)?;
        JsonObject::from(body.as_object().unwrap().clone())
            .into_input::<PolicyInput>()?
            .check(&scope)
    }

    #[test]
    fn scopes_parse_and_show_as_written() {
        for raw in [
            "everyone",
            "tag:interns",
            "tag:Data team",
            "user:12",
            "key:3",
        ] {
            assert_eq!(Scope::parse("scope", raw).unwrap().to_string(), raw);
        }
        assert_eq!(
            Scope::parse("scope", "tag: staff ").unwrap(),
            Scope::Tag("staff".into())
        );
        for bad in [
            "", "all", "tag:", "user:0", "user:-1", "user:+3", "user:x", "key:1.5", "group:a",
        ] {
            let e = Scope::parse("scope", bad).unwrap_err();
            assert_eq!(e.field, "scope", "{bad}");
        }
    }

    #[test]
    fn a_policy_reads_with_defaults() {
        let policy = check(
            "tag:interns",
            json!({"models": ["gpt-4o-mini", "gpt-4o-mini"], "limits": [
                {"metric": "requests", "window": "day", "max": 5},
                {"metric": "costUsd", "window": "month", "max": 1.25, "per": "group"}
            ]}),
        )
        .unwrap();
        assert_eq!(policy.models.as_ref().unwrap().len(), 1);
        assert_eq!(policy.characters, None);
        assert_eq!(policy.limits[0].per, Per::Member);
        assert_eq!(policy.limits[1].max, 1_250_000);
        assert_eq!(policy.limits[0].describe(), "5 requests a day per member");
        assert_eq!(policy.limits[1].describe(), "$1.25 a month for the group");
        let hourly = Limit {
            window: Window::Hour,
            ..policy.limits[0]
        };
        assert_eq!(hourly.describe(), "5 requests an hour per member");
        assert_eq!(
            serde_json::to_value(&policy).unwrap()["limits"][1],
            json!({"metric": "costUsd", "window": "month", "max": 1.25, "per": "group"})
        );
    }

    #[test]
    fn bad_policies_name_their_field() {
        let cases = [
            (
                json!({"limits": [{"metric": "bytes", "window": "day", "max": 1}]}),
                "limits[0].metric",
            ),
            (
                json!({"limits": [{"metric": "tokens", "window": "year", "max": 1}]}),
                "limits[0].window",
            ),
            (
                json!({"limits": [{"metric": "tokens", "window": "day", "max": -1}]}),
                "limits[0].max",
            ),
            (
                json!({"limits": [{"metric": "requests", "window": "day", "max": 1.5}]}),
                "limits[0].max",
            ),
            (
                json!({"limits": [{"metric": "requests", "window": "day"}]}),
                "limits[0].max",
            ),
            (
                json!({"limits": [{"metric": "requests", "window": "day", "max": "5"}]}),
                "limits[0].max",
            ),
            (
                json!({"limits": [{"metric": "requests", "window": "day", "max": 5, "per": "team"}]}),
                "limits[0].per",
            ),
            (
                json!({"limits": [{"metric": "requests", "window": "day", "max": 5, "each": 1}]}),
                "limits[0].each",
            ),
            (json!({"models": ["ok", ""]}), "models[1]"),
            (json!({"models": "gpt-4o"}), "models"),
            (json!({"characters": [1]}), "characters[0]"),
            (json!({"requiresUser": true}), "requiresUser"),
            (json!({"color": "red"}), "color"),
        ];
        for (body, field) in cases {
            let e = check("tag:a", body.clone()).unwrap_err();
            assert_eq!(e.field, field, "{body}: {e:?}");
        }
        assert!(
            check("key:1", json!({"requiresUser": true}))
                .unwrap()
                .requires_user
        );
    }

    #[test]
    fn patterns_match_names_with_stars_regardless_of_case() {
        let cases = [
            ("gpt-4o*", "gpt-4o", true),
            ("gpt-4o*", "gpt-4o-mini", true),
            ("gpt-4o*", "gpt-4", false),
            ("claude-*", "Claude-Haiku-4-5", true),
            ("*", "anything", true),
            ("*mini", "gpt-4o-mini", true),
            ("gpt-*-mini", "gpt-4.1-mini", true),
            ("gpt-*-mini", "gpt-4.1-nano", false),
            ("echo", "echo", true),
            ("echo", "echoes", false),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "aXbYd", false),
        ];
        for (pattern, name, expected) in cases {
            let p = ModelPattern::parse("m", pattern).unwrap();
            assert_eq!(p.matches(name), expected, "{pattern} ~ {name}");
        }
    }

    #[test]
    fn stored_limits_round_trip() {
        let limit = Limit {
            metric: Metric::CostUsd,
            window: Window::Week,
            max: 2_500_000,
            per: Per::Group,
        };
        let stored = serde_json::to_string(&StoredLimit::from(&limit)).unwrap();
        let back: StoredLimit = serde_json::from_str(&stored).unwrap();
        assert_eq!(Limit::try_from(back).unwrap(), limit);
    }
}
