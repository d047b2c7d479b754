//! The policies in force and the instance's time zone: a snapshot that
//! answers which scopes apply to a caller, what they open and which limits
//! they set. Pure: no clock, no counters.

use std::collections::{HashMap, HashSet};

use rusqlite::Connection;

use super::counters::{BucketKey, Whose};
use super::{Access, Subject};
use crate::db::{self, StoreError};
use crate::domain::{InstanceTimeZone, Limit, ModelPattern, Per, Policy, Scope};

#[derive(Debug, Default)]
pub struct Rules {
    policies: HashMap<Scope, Policy>,
    timezone: InstanceTimeZone,
    /// Whether any tag has a policy: a user's tags are read only then.
    tag_policies: bool,
    /// Whether any policy sets a limit: admission counts only then.
    limits: bool,
    /// What the database's policies and time zone were when read.
    stamp: Stamp,
}

/// Changes when a policy or the time zone does, in whichever process.
pub type Stamp = ((i64, i64), Option<i64>);

/// A limit that applies to a caller, and the counter it is kept in (whose
/// scope is the limit's).
#[derive(Debug, Clone)]
pub struct Applicable {
    pub limit: Limit,
    pub bucket: BucketKey,
}

impl Rules {
    pub fn load(conn: &Connection) -> Result<Rules, StoreError> {
        Ok(Rules {
            stamp: Rules::stamp(conn)?,
            ..Rules::new(
                db::policies::list(conn)?.into_iter().collect(),
                db::settings::timezone(conn)?,
            )
        })
    }

    /// The database's stamp now, to compare with `stamp_read`.
    pub fn stamp(conn: &Connection) -> Result<Stamp, StoreError> {
        Ok((
            db::policies::stamp(conn)?,
            db::settings::updated_at(conn, db::settings::TIMEZONE)?,
        ))
    }

    pub fn stamp_read(&self) -> Stamp {
        self.stamp
    }

    pub fn new(policies: HashMap<Scope, Policy>, timezone: InstanceTimeZone) -> Rules {
        Rules {
            tag_policies: policies.keys().any(|s| matches!(s, Scope::Tag(_))),
            limits: policies.values().any(|p| !p.limits.is_empty()),
            policies,
            timezone,
            stamp: Stamp::default(),
        }
    }

    pub fn policy(&self, scope: &Scope) -> Option<&Policy> {
        self.policies.get(scope)
    }

    /// Every stored policy.
    pub fn policies(&self) -> impl Iterator<Item = (&Scope, &Policy)> {
        self.policies.iter()
    }

    pub fn timezone(&self) -> &InstanceTimeZone {
        &self.timezone
    }

    /// No policy at all: everything is open, nothing counted.
    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    pub fn needs_tags(&self) -> bool {
        self.tag_policies
    }

    pub fn has_limits(&self) -> bool {
        self.limits
    }

    /// The policies that open things to `subject`, each with its scope:
    /// everyone's, each of the user's tags', the user's. The key's is apart:
    /// it only narrows.
    fn granting<'r>(
        &'r self,
        subject: &'r Subject,
    ) -> impl Iterator<Item = (Scope, &'r Policy)> + 'r {
        let everyone = std::iter::once(Scope::Everyone);
        let tags = subject
            .user
            .iter()
            .flat_map(|m| m.tags.iter().map(|t| Scope::Tag(t.clone())));
        let user = subject.user.iter().map(|m| Scope::User(m.id));
        everyone
            .chain(tags)
            .chain(user)
            .filter_map(|scope| self.policies.get(&scope).map(|p| (scope, p)))
    }

    fn key_policy(&self, subject: &Subject) -> Option<&Policy> {
        subject
            .key
            .and_then(|key| self.policies.get(&Scope::Key(key)))
    }

    /// Whether the key demands a user and `subject` names none.
    pub fn user_missing(&self, subject: &Subject) -> bool {
        subject.user.is_none() && self.key_policy(subject).is_some_and(|p| p.requires_user)
    }

    pub fn models(&self, subject: &Subject) -> Access<ModelPattern> {
        self.access(subject, |p| p.models.as_ref())
    }

    pub fn characters(&self, subject: &Subject) -> Access<String> {
        self.access(subject, |p| p.characters.as_ref())
    }

    fn access<T: Clone>(
        &self,
        subject: &Subject,
        list: impl Fn(&Policy) -> Option<&Vec<T>>,
    ) -> Access<T> {
        let granted: Vec<(Scope, Vec<T>)> = self
            .granting(subject)
            .filter_map(|(scope, policy)| list(policy).map(|l| (scope, l.clone())))
            .collect();
        let narrowed_by = self.key_policy(subject).and_then(|p| list(p).cloned());
        if granted.is_empty() && narrowed_by.is_none() {
            Access::All
        } else {
            Access::Only {
                granted,
                narrowed_by,
            }
        }
    }

    /// Why `model` is not open to `subject`, or `None` when it is.
    pub fn model_refused(&self, subject: &Subject, model: &str) -> Option<String> {
        self.refused(
            subject,
            &format!("model `{model}`"),
            |p| p.opens_model(model),
            |p| {
                p.models
                    .as_ref()
                    .map(|m| m.iter().map(|m| m.as_str().to_owned()).collect())
            },
        )
    }

    /// Why character `id` is not open to `subject`, or `None` when it is.
    pub fn character_refused(&self, subject: &Subject, id: &str) -> Option<String> {
        self.refused(
            subject,
            &format!("AI character `{id}`"),
            |p| p.opens_character(id),
            |p| p.characters.clone(),
        )
    }

    /// The one rule for models and characters: open when no granting scope
    /// restricts it or one of them opens it, and the key does not narrow
    /// it away.
    fn refused(
        &self,
        subject: &Subject,
        what: &str,
        opens: impl Fn(&Policy) -> Option<bool>,
        names: impl Fn(&Policy) -> Option<Vec<String>>,
    ) -> Option<String> {
        let mut restricting = Vec::new();
        let mut open = Vec::new();
        let mut granted = None;
        for (scope, policy) in self.granting(subject) {
            match opens(policy) {
                None => {}
                Some(true) => granted = Some(true),
                Some(false) => {
                    restricting.push(scope);
                    open.extend(names(policy).unwrap_or_default());
                }
            }
        }
        if granted.is_none() && !restricting.is_empty() {
            return Some(format!(
                "{what} is not open to {}{}",
                who(&restricting),
                offered(open)
            ));
        }
        let key = self.key_policy(subject)?;
        if opens(key) == Some(false) {
            return Some(format!(
                "{what} is not open to this API key{}",
                offered(names(key).unwrap_or_default())
            ));
        }
        None
    }

    /// Every limit that applies to `subject`, with its counter.
    pub fn limits(&self, subject: &Subject) -> Vec<Applicable> {
        let member = subject.user.as_ref().map_or(0, |m| m.id.0);
        let key = subject
            .key
            .map(Scope::Key)
            .and_then(|scope| self.policies.get(&scope).map(|p| (scope, p)));
        let mut applicable = Vec::new();
        for (scope, policy) in self.granting(subject).chain(key) {
            for limit in &policy.limits {
                let whose = if pooled(&scope, limit.per) {
                    Whose::Group
                } else {
                    Whose::Member(member)
                };
                applicable.push(Applicable {
                    limit: *limit,
                    bucket: BucketKey {
                        scope: scope.clone(),
                        window: limit.window,
                        whose,
                    },
                });
            }
        }
        applicable
    }
}

/// Whether a limit is one pool for its scope rather than one allowance
/// per member. A user's own limit is theirs alone, however it is written.
pub fn pooled(scope: &Scope, per: Per) -> bool {
    matches!(scope, Scope::User(_)) || per == Per::Group
}

/// `everyone`, `this user's tags: interns, staff`, `this user`, joined.
fn who(scopes: &[Scope]) -> String {
    let tags: Vec<&str> = scopes
        .iter()
        .filter_map(|s| match s {
            Scope::Tag(name) => Some(name.as_str()),
            _ => None,
        })
        .collect();
    let mut parts = Vec::new();
    if scopes.contains(&Scope::Everyone) {
        parts.push("everyone on this instance".to_owned());
    }
    if !tags.is_empty() {
        parts.push(format!("this user's tags: {}", tags.join(", ")));
    }
    if scopes.iter().any(|s| matches!(s, Scope::User(_))) {
        parts.push("this user".to_owned());
    }
    parts.join(", nor to ")
}

/// `; open: a, b, c` (each once, at most ten), or nothing.
fn offered(mut names: Vec<String>) -> String {
    // Several scopes may open the same name, not one after the other.
    let mut seen = HashSet::new();
    names.retain(|name| seen.insert(name.clone()));
    if names.is_empty() {
        return "; nothing is open".to_owned();
    }
    let more = names.len().saturating_sub(10);
    names.truncate(10);
    let tail = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    format!("; open: {}{tail}", names.join(", "))
}
