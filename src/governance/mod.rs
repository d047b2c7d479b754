//! Governance: which models and AI characters a caller may use, and how
//! much. Policies attach to scopes (everyone, a tag, a user, an API key);
//! `Governor::admit` checks a request against every policy that applies
//! before anything goes upstream, and counts it.
//!
//! How scopes combine (the README says the same):
//! - a model is open when `everyone`, any of the user's tags or the user's
//!   own policy opens it; when none of those restricts models, all are
//!   open. The API key's own list, if any, always narrows the result;
//! - characters alike;
//! - every limit that applies must pass: everyone's, each tag's, the
//!   user's and the key's.

mod counters;
mod rebuild;
mod rules;
#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex, RwLock};

use serde::Serialize;

use crate::db::watch::Watched;
use crate::db::{Db, StoreError};
use crate::domain::{ApiKeyId, Limit, Micros, ModelPattern, Scope, Timestamp, UserId};
use counters::Check;

pub use counters::{Counters, MemoryCounters};
pub use rules::Rules;

/// Milliseconds since the Unix epoch, now; tests put a clock of their own.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// Who asks: the user named by `X-User-Email` (with their tags) and the
/// API key.
#[derive(Debug, Clone, Default)]
pub struct Subject {
    pub user: Option<Member>,
    pub key: Option<ApiKeyId>,
}

#[derive(Debug, Clone)]
pub struct Member {
    pub id: UserId,
    pub tags: Vec<String>,
}

/// Why a request was refused; the API turns it into a 403 or a 429.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The model or character (the request's `field`) is not open to the
    /// caller: 403.
    NotOpen {
        field: &'static str,
        message: String,
    },
    /// The key requires a user and none (or no known one) was named: 403.
    UserRequired { message: String },
    /// A limit is reached: 429, retried after `retry_after` seconds.
    Limited {
        message: String,
        retry_after: u64,
        resets_at: Timestamp,
    },
}

impl Refusal {
    pub fn message(&self) -> &str {
        match self {
            Refusal::NotOpen { message, .. }
            | Refusal::UserRequired { message }
            | Refusal::Limited { message, .. } => message,
        }
    }
}

/// What a scope's policies open of one kind (models or characters).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "open", rename_all = "camelCase")]
pub enum Access<T> {
    /// Everything: no scope that applies restricts it.
    All,
    /// Only what one of these grants, and (`narrowedBy`) what the key
    /// allows.
    Only {
        granted: Vec<(Scope, Vec<T>)>,
        #[serde(rename = "narrowedBy")]
        narrowed_by: Option<Vec<T>>,
    },
}

/// One limit that applies to a caller, and where it stands.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LimitStatus {
    pub scope: Scope,
    #[serde(flatten)]
    pub limit: Limit,
    /// In the limit's metric: requests, tokens, or micro-dollars.
    pub used: i64,
    pub window_start: Timestamp,
    pub resets_at: Timestamp,
}

/// A caller's effective access and limits.
#[derive(Debug, Clone, Serialize)]
pub struct Effective {
    pub models: Access<ModelPattern>,
    pub characters: Access<String>,
    pub limits: Vec<LimitStatus>,
}

/// A request let through: what it is counted against. Its tokens and cost
/// are added when its answer ends (`Admission::finish`); dropped
/// unfinished, it adds none.
pub struct Admission {
    counters: Arc<dyn Counters>,
    charges: counters::Charges,
}

impl Admission {
    /// Adds the answer's tokens and cost to every counter the request was
    /// admitted against.
    pub fn finish(self, tokens: i64, cost: Micros) {
        self.counters.add_usage(&self.charges, tokens, cost);
    }
}

/// Shared by every worker; `reload` after a policy or the time zone
/// changes. A user's tags are read with the user at each request, so a
/// change of tags applies at once.
pub struct Governor {
    db: Db,
    rules: RwLock<Arc<Rules>>,
    counters: Arc<dyn Counters>,
    clock: Clock,
    /// One reload at a time, so the counters each seeds match its rules.
    reloading: Mutex<()>,
}

impl Governor {
    /// Loads the policies and rebuilds the counters of the current windows
    /// from what is recorded.
    pub fn start(db: &Db, clock: Clock) -> Result<Governor, StoreError> {
        let governor = Governor {
            db: db.clone(),
            rules: RwLock::new(Arc::new(Rules::default())),
            counters: Arc::new(MemoryCounters::default()),
            clock,
            reloading: Mutex::new(()),
        };
        governor.reload_blocking()?;
        Ok(governor)
    }

    /// The system's clock.
    pub fn system_clock() -> Clock {
        Arc::new(|| Timestamp::now().millis())
    }

    /// The counters of limits that are new (all of them when the time zone
    /// changed) are rebuilt before the new rules apply; the others keep
    /// counting, in-flight requests included.
    fn reload_blocking(&self) -> Result<(), StoreError> {
        let _one = self
            .reloading
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let old = self.rules();
        let now = (self.clock)();
        let (rules, seeds) = self.db.read_blocking(|conn| {
            let rules = Rules::load(conn)?;
            let mut new = rebuild::specs(&rules);
            if rules.timezone() == old.timezone() {
                let known = rebuild::specs(&old);
                new.retain(|spec| !known.contains(spec));
            }
            let seeds = rebuild::seeds(conn, &rules, &new, now)?;
            Ok::<_, StoreError>((rules, seeds))
        })?;
        self.counters.seed(seeds);
        *self
            .rules
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(rules);
        Ok(())
    }

    /// Re-reads the policies and the time zone.
    pub async fn reload(self: &Arc<Self>) -> Result<(), StoreError> {
        let governor = self.clone();
        actix_web::web::block(move || governor.reload_blocking()).await?
    }

    pub fn rules(&self) -> Arc<Rules> {
        self.rules
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Checks `model` (as asked) and `character` against every policy
    /// that applies to `subject`, then counts the request against every
    /// limit; a refusal counts nothing.
    pub fn admit(
        &self,
        subject: &Subject,
        model: &str,
        character: Option<&str>,
    ) -> Result<Admission, Refusal> {
        let charges = self.check(subject, model, character, |checks, now| {
            self.counters.admit(checks, now)
        })?;
        Ok(Admission {
            counters: self.counters.clone(),
            charges,
        })
    }

    /// Whether `count` requests of `model` would all be admitted now,
    /// counting nothing: the answers of one request are let through
    /// together or not at all. Each is then admitted on its own, so
    /// concurrent requests of the same caller may still take the room
    /// between this check and those admissions.
    pub fn admits_all(
        &self,
        subject: &Subject,
        model: &str,
        character: Option<&str>,
        count: usize,
    ) -> Result<(), Refusal> {
        let requests = i64::try_from(count).unwrap_or(i64::MAX);
        self.check(subject, model, character, |checks, _| {
            self.counters.room_for(checks, requests)
        })
    }

    /// `permits`, then every limit that applies checked by `limits` (the
    /// index of the one that refuses, if any); nothing when none applies.
    fn check<T: Default>(
        &self,
        subject: &Subject,
        model: &str,
        character: Option<&str>,
        limits: impl FnOnce(&[Check], i64) -> Result<T, usize>,
    ) -> Result<T, Refusal> {
        let rules = self.rules();
        if rules.is_empty() {
            return Ok(T::default());
        }
        permits(&rules, subject, model, character)?;
        if !rules.has_limits() {
            return Ok(T::default());
        }
        let applicable = rules.limits(subject);
        if applicable.is_empty() {
            return Ok(T::default());
        }
        let now = (self.clock)();
        let checks: Vec<Check> = applicable
            .iter()
            .map(|a| Check {
                bucket: &a.bucket,
                span: rules.timezone().window(a.limit.window, now),
                limit: a.limit,
            })
            .collect();
        limits(&checks, now).map_err(|full| {
            let check = &checks[full];
            let resets_at = Timestamp(check.span.1);
            // Whole seconds, rounded up: a client that waits as told
            // comes back in the next window, and no later.
            let wait_ms = u64::try_from(check.span.1 - now).unwrap_or(0);
            Refusal::Limited {
                message: format!(
                    "limit reached: {} allows {}; it resets at {}",
                    check.bucket.scope.describe(),
                    check.limit.describe(),
                    resets_at.to_iso()
                ),
                retry_after: wait_ms.div_ceil(1000).max(1),
                resets_at,
            }
        })
    }

    /// What `subject` may use, and where each limit stands now.
    pub fn effective(&self, subject: &Subject) -> Effective {
        let rules = self.rules();
        let now = (self.clock)();
        let limits = rules
            .limits(subject)
            .into_iter()
            .map(|a| {
                let span = rules.timezone().window(a.limit.window, now);
                LimitStatus {
                    used: self.counters.current(&a.bucket, span).of(a.limit.metric),
                    scope: a.bucket.scope,
                    limit: a.limit,
                    window_start: Timestamp(span.0),
                    resets_at: Timestamp(span.1),
                }
            })
            .collect();
        Effective {
            models: rules.models(subject),
            characters: rules.characters(subject),
            limits,
        }
    }

    /// Whether `subject` may use `model` (for listing models).
    pub fn opens_model(&self, subject: &Subject, model: &str) -> bool {
        self.rules().model_refused(subject, model).is_none()
    }

    /// Checks `model` and `character` as `admit` does, counting nothing
    /// (for a request that is no completion: a count of tokens).
    pub fn permits(
        &self,
        subject: &Subject,
        model: &str,
        character: Option<&str>,
    ) -> Result<(), Refusal> {
        permits(&self.rules(), subject, model, character)
    }
}

/// What `admit` checks before it counts.
fn permits(
    rules: &Rules,
    subject: &Subject,
    model: &str,
    character: Option<&str>,
) -> Result<(), Refusal> {
    if rules.is_empty() {
        return Ok(());
    }
    if rules.user_missing(subject) {
        return Err(Refusal::UserRequired {
            message: "this API key requires a user: name one of the instance's users in the X-User-Email header".to_owned(),
        });
    }
    if let Some(message) = rules.model_refused(subject, model) {
        return Err(Refusal::NotOpen {
            field: "model",
            message,
        });
    }
    if let Some(message) = character.and_then(|id| rules.character_refused(subject, id)) {
        return Err(Refusal::NotOpen {
            field: "activatedCharacterID",
            message,
        });
    }
    Ok(())
}

/// Policies changed outside the server (`mindgate keys create
/// --requires-user`, another process), or the time zone, reload.
impl Watched for Governor {
    fn what(&self) -> &'static str {
        "policies"
    }

    fn reload_if_changed(&self) -> Result<bool, StoreError> {
        let stamp = self.db.read_blocking(Rules::stamp)?;
        if stamp == self.rules().stamp_read() {
            return Ok(false);
        }
        self.reload_blocking()?;
        Ok(true)
    }
}
