//! A caller's effective access as a page shows it (`_access.html`): the
//! models and AI characters open to them and the scopes that open each,
//! and a bar for every limit that applies, from `Governor::effective`.

use super::format;
use super::paths::Urls;
use super::policies::Offer;
use crate::domain::{Limit, Metric, ModelPattern, Scope};
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
    /// A model's name, shown as code.
    pub code: bool,
    /// Said beside it: a pattern, a character that is no more.
    pub note: Option<&'static str>,
    pub by: Vec<Opener>,
}

/// What is open to the caller of one kind (models, characters).
pub struct Openness {
    /// In the section's id (`access-models`).
    pub slug: &'static str,
    pub heading: &'static str,
    pub singular: &'static str,
    /// None: no scope that applies restricts this kind, all is open.
    pub opened: Option<Vec<Opened>>,
    /// What the API key keeps of it, when it narrows it.
    pub narrowed: Option<String>,
}

impl Openness {
    fn of<T>(
        (slug, heading, singular): (&'static str, &'static str, &'static str),
        access: Access<T>,
        show: impl Fn(&T) -> &str,
        opened: impl FnOnce(&[(Scope, Vec<T>)], Option<&[T]>) -> Vec<Opened>,
    ) -> Openness {
        let (opened, narrowed) = match access {
            Access::All => (None, None),
            Access::Only {
                granted,
                narrowed_by,
            } => (
                Some(opened(&granted, narrowed_by.as_deref())),
                narrowed_by.map(|list| list.iter().map(&show).collect::<Vec<_>>().join(", ")),
            ),
        };
        Openness {
            slug,
            heading,
            singular,
            opened,
            narrowed,
        }
    }
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
    /// Whose access it is, in a sentence: `them` (a user), `a request
    /// with this key and no user`.
    pub who: &'static str,
    pub kinds: [Openness; 2],
    pub limits: Vec<LimitBar>,
}

fn opener(urls: &Urls, scope: &Scope) -> Opener {
    Opener {
        label: scope.describe(),
        href: urls.policy_page(scope),
    }
}

/// Adds `by` to the openers of `name`, the entry made when there is none.
fn open(opened: &mut Vec<Opened>, name: &str, code: bool, note: Option<&'static str>, by: Opener) {
    match opened.iter_mut().find(|o| o.name == name) {
        Some(entry) => {
            if !entry.by.iter().any(|b| b.label == by.label) {
                entry.by.push(by);
            }
        }
        None => opened.push(Opened {
            name: name.to_owned(),
            code,
            note,
            by: vec![by],
        }),
    }
}

/// The catalog's models that `granted` opens (and the key keeps), each
/// with the scopes that open it; then what no catalog entry answers to (a
/// family's model, a pattern), as the policy has it.
fn models_opened(
    granted: &[(Scope, Vec<ModelPattern>)],
    narrowed: Option<&[ModelPattern]>,
    offer: &Offer,
    urls: &Urls,
) -> Vec<Opened> {
    let mut opened = Vec::new();
    for name in offer.models.iter().flat_map(|(_, names)| names) {
        if narrowed.is_some_and(|list| !list.iter().any(|p| p.matches(name))) {
            continue;
        }
        for (scope, patterns) in granted {
            if patterns.iter().any(|p| p.matches(name)) {
                open(&mut opened, name, true, None, opener(urls, scope));
            }
        }
    }
    for (scope, patterns) in granted {
        for pattern in patterns.iter().map(ModelPattern::as_str) {
            if !offer.lists_model(pattern) {
                open(
                    &mut opened,
                    pattern,
                    true,
                    Some("pattern"),
                    opener(urls, scope),
                );
            }
        }
    }
    opened
}

/// The characters `granted` opens (and the key keeps), by title.
fn characters_opened(
    granted: &[(Scope, Vec<String>)],
    narrowed: Option<&[String]>,
    offer: &Offer,
    urls: &Urls,
) -> Vec<Opened> {
    let mut opened = Vec::new();
    for (scope, ids) in granted {
        for id in ids {
            if narrowed.is_some_and(|list| !list.contains(id)) {
                continue;
            }
            let (name, note) = match offer.character_title(id) {
                Some(title) => (title, None),
                None => (id.as_str(), Some("no such character")),
            };
            open(&mut opened, name, false, note, opener(urls, scope));
        }
    }
    opened
}

impl AccessView {
    pub fn new(who: &'static str, effective: Effective, offer: &Offer, urls: &Urls) -> AccessView {
        AccessView {
            who,
            kinds: [
                Openness::of(
                    ("models", "Models", "model"),
                    effective.models,
                    ModelPattern::as_str,
                    |granted, narrowed| models_opened(granted, narrowed, offer, urls),
                ),
                Openness::of(
                    ("characters", "AI characters", "character"),
                    effective.characters,
                    String::as_str,
                    |granted, narrowed| characters_opened(granted, narrowed, offer, urls),
                ),
            ],
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
