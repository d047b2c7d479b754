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
mod rules;

use std::sync::{Arc, RwLock};

use serde::Serialize;

use crate::db::{self, Db, StoreError};
use crate::domain::{
    ApiKeyId, InstanceTimeZone, Limit, Micros, ModelPattern, Policy, Scope, Timestamp, UserId,
};

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
    /// The model or character is not open to the caller: 403.
    NotOpen { message: String },
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
            Refusal::NotOpen { message }
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

/// Shared by every worker; `reload` after a policy, a user's tags or the
/// time zone change.
pub struct Governor {
    db: Db,
    rules: RwLock<Arc<Rules>>,
    counters: Arc<dyn Counters>,
    clock: Clock,
}

impl Governor {
    /// Loads the policies and rebuilds the counters of the current windows
    /// from what is recorded.
    pub fn start(db: &Db, clock: Clock) -> Result<Governor, StoreError> {
        let governor = Governor {
            db: db.clone(),
            rules: RwLock::default(),
            counters: Arc::new(MemoryCounters::default()),
            clock,
        };
        governor.reload_blocking()?;
        Ok(governor)
    }

    /// The system's clock.
    pub fn system_clock() -> Clock {
        Arc::new(|| Timestamp::now().millis())
    }

    fn reload_blocking(&self) -> Result<(), StoreError> {
        let rules = self.db.read_blocking(Rules::load)?;
        *self
            .rules
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(rules);
        Ok(())
    }

    /// Re-reads the policies and the time zone; counters of limits that
    /// are new are rebuilt from what is recorded.
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
        todo!()
    }

    /// What `subject` may use, and where each limit stands now.
    pub fn effective(&self, subject: &Subject) -> Effective {
        todo!()
    }

    /// Whether `subject` may use `model` (for listing models).
    pub fn opens_model(&self, subject: &Subject, model: &str) -> bool {
        todo!()
    }
}
