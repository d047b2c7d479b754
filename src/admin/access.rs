//! A caller's effective access as a page shows it (`_access.html`): the
//! models and AI characters open to them and the scopes that open each,
//! and a bar for every limit that applies, from `Governor::effective`.

use super::format;
use super::paths::Urls;
use super::policies::Offer;
use crate::domain::{Limit, Metric, Scope};
use crate::governance::{Access, Effective, LimitStatus};

/// A scope that opens something, with its page.
pub struct Opener {
    pub label: String,
    pub href: String,
}

/// A model (or a pattern that is no catalog name) or a character open to
/// the caller.
pub struct Opened {
    pub name: String,
    /// A name or pattern from a policy, not a catalog entry or character.
    pub pattern: bool,
    pub by: Vec<Opener>,
}

pub enum Openness {
    /// No scope that applies restricts this kind.
    All,
    /// Only these; `narrowed` names what the API key keeps of them.
    Only {
        opened: Vec<Opened>,
        narrowed: Option<String>,
    },
}

/// Where one limit stands.
pub struct LimitBar {
    pub scope: Opener,
    pub limit: String,
    /// `3 of 5 requests`, `$0.40 of $1.00`.
    pub used: String,
    /// Of the maximum, 0 to 100.
    pub percent: i64,
    pub reached: bool,
    pub resets_at: crate::domain::Timestamp,
}

pub struct AccessView {
    pub models: Openness,
    pub characters: Openness,
    pub limits: Vec<LimitBar>,
}

fn opener(urls: &Urls, scope: &Scope) -> Opener {
    Opener {
        label: scope.describe(),
        href: urls.policy_page(scope),
    }
}

/// Adds `scope` to `name`'s openers, the entry made when there is none.
fn open(opened: &mut Vec<Opened>, name: &str, pattern: bool, by: Opener) {
    match opened.iter_mut().find(|o| o.name == name) {
        Some(entry) => {
            if !entry.by.iter().any(|b| b.label == by.label) {
                entry.by.push(by);
            }
        }
        None => opened.push(Opened {
            name: name.to_owned(),
            pattern,
            by: vec![by],
        }),
    }
}

impl AccessView {
    pub fn new(effective: Effective, offer: &Offer, urls: &Urls) -> AccessView {
        let models = match effective.models {
            Access::All => Openness::All,
            Access::Only {
                granted,
                narrowed_by,
            } => {
                let mut opened = Vec::new();
                let names = offer.models.iter().flat_map(|(_, names)| names);
                for name in names {
                    let kept = narrowed_by
                        .as_ref()
                        .is_none_or(|list| list.iter().any(|p| p.matches(name)));
                    for (scope, patterns) in &granted {
                        if kept && patterns.iter().any(|p| p.matches(name)) {
                            open(&mut opened, name, false, opener(urls, scope));
                        }
                    }
                }
                // What no catalog entry answers to (a family's model, a
                // pattern) is shown as the policy has it.
                for (scope, patterns) in &granted {
                    for pattern in patterns {
                        let listed = opened
                            .iter()
                            .any(|o| !o.pattern && o.name == pattern.as_str());
                        if !listed {
                            open(&mut opened, pattern.as_str(), true, opener(urls, scope));
                        }
                    }
                }
                Openness::Only {
                    opened,
                    narrowed: narrowed_by.map(|list| {
                        list.iter()
                            .map(|p| p.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    }),
                }
            }
        };
        let characters = match effective.characters {
            Access::All => Openness::All,
            Access::Only {
                granted,
                narrowed_by,
            } => {
                let mut opened = Vec::new();
                for (scope, ids) in &granted {
                    for id in ids {
                        let kept = narrowed_by.as_ref().is_none_or(|list| list.contains(id));
                        if kept {
                            let (name, unknown) = match offer.character_title(id) {
                                Some(title) => (title.to_owned(), false),
                                None => (id.clone(), true),
                            };
                            open(&mut opened, &name, unknown, opener(urls, scope));
                        }
                    }
                }
                Openness::Only {
                    opened,
                    narrowed: narrowed_by.map(|ids| ids.join(", ")),
                }
            }
        };
        AccessView {
            models,
            characters,
            limits: effective
                .limits
                .iter()
                .map(|status| bar(status, urls))
                .collect(),
        }
    }
}

fn bar(status: &LimitStatus, urls: &Urls) -> LimitBar {
    let LimitStatus {
        scope,
        limit,
        used,
        resets_at,
        ..
    } = status;
    let percent = match limit.max {
        0 => 100,
        max => (used.saturating_mul(100) / max).clamp(0, 100),
    };
    LimitBar {
        scope: opener(urls, scope),
        limit: limit.describe(),
        used: used_of(limit, *used),
        percent,
        reached: *used >= limit.max,
        resets_at: *resets_at,
    }
}

/// `3 of 5 requests`, `$0.40 of $1.00`.
fn used_of(limit: &Limit, used: i64) -> String {
    match limit.metric {
        Metric::CostUsd => format!(
            "{} of {}",
            format::usd(crate::domain::Micros(used)),
            format::usd(crate::domain::Micros(limit.max))
        ),
        Metric::Requests | Metric::Tokens => {
            format!("{} of {}", format::thousands(used), limit.amount(limit.max))
        }
    }
}
