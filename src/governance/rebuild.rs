//! Counters rebuilt from what is recorded, so that neither a restart nor
//! a newly set limit starts a window from zero.

use std::collections::{HashMap, HashSet};

use rusqlite::Connection;

use super::counters::{Amounts, BucketKey, Span, Whose};
use super::rules::{pooled, Rules};
use crate::db::{self, StoreError};
use crate::domain::{Scope, Window};

/// The kinds of counter a policy's limits need: scope, window, and
/// whether one pool serves the group (or one counter each member).
pub type Spec = (Scope, Window, bool);

pub fn specs(rules: &Rules) -> HashSet<Spec> {
    rules
        .policies()
        .flat_map(|(scope, policy)| {
            policy
                .limits
                .iter()
                .map(|limit| (scope.clone(), limit.window, pooled(scope, limit.per)))
        })
        .collect()
}

/// The counters of `specs` in the windows that hold `now`, from the usage
/// rollups and chat logs.
pub fn seeds(
    conn: &Connection,
    rules: &Rules,
    specs: &HashSet<Spec>,
    now: i64,
) -> Result<Vec<(BucketKey, Span, Amounts)>, StoreError> {
    let mut windows: HashMap<Window, (Span, Vec<db::usage::WindowUsage>)> = HashMap::new();
    let mut members: HashMap<&str, HashSet<i64>> = HashMap::new();
    for (scope, window, _) in specs {
        if !windows.contains_key(window) {
            let span = rules.timezone().window(*window, now);
            windows.insert(*window, (span, db::usage::window_usage(conn, span.0, now)?));
        }
        if let Scope::Tag(tag) = scope {
            if !members.contains_key(tag.as_str()) {
                let ids = db::users::ids_with_tag(conn, tag)?;
                members.insert(tag, ids.into_iter().map(|id| id.0).collect());
            }
        }
    }
    let mut seeds = Vec::new();
    for (scope, window, pooled) in specs {
        let (span, usage) = &windows[window];
        let mut sums: HashMap<Whose, Amounts> = HashMap::new();
        for row in usage {
            let counts = match scope {
                Scope::Everyone => true,
                Scope::Tag(tag) => members[tag.as_str()].contains(&row.user_id),
                Scope::User(id) => row.user_id == id.0,
                Scope::Key(id) => row.api_key_id == id.0,
            };
            if !counts {
                continue;
            }
            let whose = if *pooled {
                Whose::Group
            } else {
                Whose::Member(row.user_id)
            };
            sums.entry(whose).or_default().add(&Amounts {
                requests: row.requests,
                tokens: row.tokens,
                cost: row.cost.0,
            });
        }
        for (whose, amounts) in sums {
            let key = BucketKey {
                scope: scope.clone(),
                window: *window,
                whose,
            };
            seeds.push((key, *span, amounts));
        }
    }
    Ok(seeds)
}
