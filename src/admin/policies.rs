//! The policy form that every scope's page shares (everyone on Groups, a
//! tag's page, a user's, an API key's: `_policy_form.html`), read back
//! into a `PolicyInput` that `PolicyInput::check` checks, as the API's is;
//! saving and removing a policy. A form that does not check is shown again
//! as it was sent, its error beside it, and nothing is saved.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::web;

use super::error::AdminError;
use super::guard::Ctx;
use super::response::{AdminResponse, AdminResult, Flash};
use super::usage::UsageParams;
use super::{api_keys, groups, users};
use crate::db::{self, Db};
use crate::domain::policy::{LimitInput, Metric, Per, Window};
use crate::domain::{InvalidInput, Policy, PolicyInput, Scope};
use crate::gateway::Catalog;
use crate::governance::Governor;

/// Model names and character ids shown in a summary before "and N more".
const SUMMARY_NAMES: usize = 3;

/// What the form offers to tick: the catalog's models by provider, and the
/// AI characters.
pub struct Offer {
    /// Provider id, and the names of its enabled models (`echo` is
    /// `mindgate`'s).
    pub models: Vec<(String, Vec<String>)>,
    /// Id and title.
    pub characters: Vec<(String, String)>,
}

impl Offer {
    pub async fn load(db: &Db, catalog: &Catalog) -> Result<Offer, AdminError> {
        let mut models: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for entry in catalog.snapshot().listing() {
            models.entry(entry.owned_by).or_default().push(entry.id);
        }
        let characters = db
            .read(db::characters::list)
            .await?
            .into_iter()
            .map(|c| (c.id.to_string(), c.title))
            .collect();
        Ok(Offer {
            models: models.into_iter().collect(),
            characters,
        })
    }

    pub fn lists_model(&self, name: &str) -> bool {
        self.models
            .iter()
            .any(|(_, names)| names.iter().any(|n| n == name))
    }

    pub fn character_title(&self, id: &str) -> Option<&str> {
        self.characters
            .iter()
            .find(|(c, _)| c == id)
            .map(|(_, title)| title.as_str())
    }
}

/// One limit as its row of the form has it: text, as sent.
#[derive(Debug, Clone, Default)]
pub struct LimitRow {
    pub metric: String,
    pub window: String,
    /// USD for a cost.
    pub max: String,
    pub per: String,
    remove: bool,
    /// The empty row at the end, to add a limit.
    pub blank: bool,
}

impl LimitRow {
    fn blank() -> LimitRow {
        LimitRow {
            metric: Metric::Requests.to_string(),
            window: Window::Day.to_string(),
            max: String::new(),
            per: Per::Member.to_string(),
            remove: false,
            blank: true,
        }
    }

    /// A row that says nothing: the blank row left unfilled, or one ticked
    /// for removal.
    fn is_dropped(&self) -> bool {
        self.remove || self.max.trim().is_empty()
    }

    fn input(&self, field: &str) -> Result<LimitInput, InvalidInput> {
        let raw = self.max.trim();
        let max = raw.parse::<f64>().map_err(|_| {
            InvalidInput::new(
                format!("{field}.max"),
                format!("`{field}.max` must be a number, got {raw:?}"),
            )
        })?;
        Ok(LimitInput {
            metric: Some(self.metric.clone()),
            window: Some(self.window.clone()),
            max: Some(max),
            per: Some(self.per.clone()),
        })
    }
}

/// A policy as the form holds it, before it is checked: from the store,
/// or as just sent.
#[derive(Debug, Clone, Default)]
pub struct Draft {
    models_only: bool,
    /// Ticked in the checklist (with every model of a provider whose
    /// "all" was ticked).
    models: Vec<String>,
    /// Names and patterns typed in, one a line (or comma separated).
    patterns: String,
    characters_only: bool,
    characters: Vec<String>,
    limits: Vec<LimitRow>,
    requires_user: bool,
}

impl Draft {
    /// The stored policy, its models split between the checklist and the
    /// patterns box.
    fn of(policy: &Policy, offer: &Offer) -> Draft {
        let (listed, typed): (Vec<String>, Vec<String>) = policy
            .models
            .iter()
            .flatten()
            .map(|p| p.as_str().to_owned())
            .partition(|name| offer.lists_model(name));
        Draft {
            models_only: policy.models.is_some(),
            models: listed,
            patterns: typed.join("\n"),
            characters_only: policy.characters.is_some(),
            characters: policy.characters.clone().unwrap_or_default(),
            limits: policy
                .limits
                .iter()
                .map(|limit| LimitRow {
                    metric: limit.metric.to_string(),
                    window: limit.window.to_string(),
                    max: match limit.metric {
                        Metric::CostUsd => crate::domain::Micros(limit.max).decimal_usd(),
                        Metric::Requests | Metric::Tokens => limit.max.to_string(),
                    },
                    per: limit.per.to_string(),
                    remove: false,
                    blank: false,
                })
                .collect(),
            requires_user: policy.requires_user,
        }
    }

    /// The form's fields: `models` (`any` or `only`), `model` (each ticked
    /// name), `all_models_of` (a provider whose models are all ticked:
    /// works without JavaScript too), `model_patterns`, `characters`,
    /// `character`, `limits[N].metric|window|max|per|remove` and
    /// `requires_user`. Other fields (the CSRF token) are not the policy's.
    pub fn read(fields: Vec<(String, String)>, offer: &Offer) -> Draft {
        let mut draft = Draft::default();
        let mut rows: BTreeMap<u32, LimitRow> = BTreeMap::new();
        for (name, value) in fields {
            match name.as_str() {
                "models" => draft.models_only = value == "only",
                "model" => draft.models.push(value),
                "all_models_of" => {
                    if let Some((_, names)) = offer.models.iter().find(|(p, _)| *p == value) {
                        draft.models.extend(names.iter().cloned());
                    }
                }
                "model_patterns" => draft.patterns = value,
                "characters" => draft.characters_only = value == "only",
                "character" => draft.characters.push(value),
                "requires_user" => draft.requires_user = true,
                _ => {
                    let Some((index, part)) = limit_field(&name) else {
                        continue;
                    };
                    let row = rows.entry(index).or_default();
                    match part {
                        "metric" => row.metric = value,
                        "window" => row.window = value,
                        "max" => row.max = value,
                        "per" => row.per = value,
                        "remove" => row.remove = true,
                        _ => {}
                    }
                }
            }
        }
        // Numbered afresh: the form shown again has these rows in this
        // order, so `limits[1]` in an error is its second row.
        draft.limits = rows.into_values().filter(|r| !r.is_dropped()).collect();
        draft
    }

    fn typed_patterns(&self) -> impl Iterator<Item = String> + '_ {
        self.patterns
            .split(['\n', ','])
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
    }

    /// The policy for `scope`, checked by the one validator.
    pub fn check(&self, scope: &Scope) -> Result<Policy, InvalidInput> {
        let models_named = !self.models.is_empty() || self.typed_patterns().next().is_some();
        if !self.models_only && models_named {
            return Err(InvalidInput::new(
                "models",
                "models are ticked or typed but “No restriction” is chosen: choose “Only these” to restrict models to them",
            ));
        }
        if !self.characters_only && !self.characters.is_empty() {
            return Err(InvalidInput::new(
                "characters",
                "characters are ticked but “No restriction” is chosen: choose “Only these” to restrict characters to them",
            ));
        }
        let limits = self
            .limits
            .iter()
            .enumerate()
            .map(|(i, row)| row.input(&format!("limits[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        PolicyInput {
            models: self.models_only.then(|| {
                self.models
                    .iter()
                    .cloned()
                    .chain(self.typed_patterns())
                    .collect()
            }),
            characters: self.characters_only.then(|| self.characters.clone()),
            limits: Some(limits),
            requires_user: Some(self.requires_user),
        }
        .check(scope)
    }
}

/// `limits[3].max` as `(3, "max")`.
fn limit_field(name: &str) -> Option<(u32, &str)> {
    let rest = name.strip_prefix("limits[")?;
    let (index, part) = rest.split_once("].")?;
    Some((index.parse().ok()?, part))
}

/// A box of the checklist.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub checked: bool,
}

/// A provider's models, with its "select all".
pub struct ModelGroup {
    pub provider: String,
    pub models: Vec<Choice>,
    /// Every one of them is ticked.
    pub all: bool,
}

/// The policy form of one scope, as `_policy_form.html` shows it.
pub struct PolicyForm {
    pub scope: Scope,
    /// A policy is stored for the scope: it can be removed.
    pub stored: bool,
    pub models_only: bool,
    pub groups: Vec<ModelGroup>,
    pub patterns: String,
    pub characters_only: bool,
    pub characters: Vec<Choice>,
    /// Then a blank row.
    pub limits: Vec<LimitRow>,
    pub requires_user: bool,
    /// Why what was sent is not saved.
    pub error: Option<InvalidInput>,
}

impl PolicyForm {
    fn new(
        scope: Scope,
        stored: bool,
        draft: Draft,
        offer: &Offer,
        error: Option<InvalidInput>,
    ) -> PolicyForm {
        let groups = offer
            .models
            .iter()
            .map(|(provider, names)| {
                let models: Vec<Choice> = names
                    .iter()
                    .map(|name| Choice {
                        value: name.clone(),
                        label: name.clone(),
                        checked: draft.models.contains(name),
                    })
                    .collect();
                ModelGroup {
                    provider: provider.clone(),
                    all: models.iter().all(|m| m.checked),
                    models,
                }
            })
            .collect();
        let mut characters: Vec<Choice> = offer
            .characters
            .iter()
            .map(|(id, title)| Choice {
                value: id.clone(),
                label: title.clone(),
                checked: draft.characters.contains(id),
            })
            .collect();
        // Ids the policy keeps of characters since deleted: shown, so that
        // saving does not drop them unseen.
        for id in &draft.characters {
            if offer.character_title(id).is_none() {
                characters.push(Choice {
                    value: id.clone(),
                    label: format!("{id} (no such character)"),
                    checked: true,
                });
            }
        }
        let mut limits = draft.limits;
        limits.push(LimitRow::blank());
        PolicyForm {
            scope,
            stored,
            models_only: draft.models_only,
            groups,
            patterns: draft.patterns,
            characters_only: draft.characters_only,
            characters,
            limits,
            requires_user: draft.requires_user,
            error,
        }
    }

    /// `sent` when there is one (a form shown again with its error), else
    /// the form of `scope` showing `stored`, its policy in the store.
    pub fn shown(
        scope: Scope,
        stored: Option<&Policy>,
        offer: &Offer,
        sent: Option<PolicyForm>,
    ) -> PolicyForm {
        sent.unwrap_or_else(|| {
            let draft = stored.map(|p| Draft::of(p, offer)).unwrap_or_default();
            PolicyForm::new(scope, stored.is_some(), draft, offer, None)
        })
    }

    /// A page showing a refused form answers 400.
    pub fn status(&self) -> StatusCode {
        match self.error {
            Some(_) => StatusCode::BAD_REQUEST,
            None => StatusCode::OK,
        }
    }

    /// Whether this is an API key's form (which may require a user).
    pub fn for_key(&self) -> bool {
        matches!(self.scope, Scope::Key(_))
    }

    /// The error, when it is about limit row `i`.
    pub fn limit_error(&self, i: &usize) -> Option<&str> {
        let error = self.error.as_ref()?;
        let prefix = format!("limits[{i}]");
        (error.field == prefix || error.field.starts_with(&format!("{prefix}.")))
            .then_some(error.message.as_str())
    }

    /// The words of the limit selects: `(value, label)`.
    pub fn metrics(&self) -> [(&'static str, &'static str); 3] {
        [
            (Metric::Requests.as_str(), "requests"),
            (Metric::Tokens.as_str(), "tokens"),
            (Metric::CostUsd.as_str(), "cost (USD)"),
        ]
    }

    pub fn windows(&self) -> &'static [Window] {
        Window::ALL
    }

    pub fn pers(&self) -> [(&'static str, &'static str); 2] {
        [
            (Per::Member.as_str(), "each member"),
            (Per::Group.as_str(), "the group, shared"),
        ]
    }
}

/// One line for a list: what `policy` restricts, or that there is none.
pub fn summary(policy: Option<&Policy>, offer: &Offer) -> String {
    let Some(policy) = policy else {
        return "No policy: restricts nothing".to_owned();
    };
    let names = |list: Vec<String>| -> String {
        let shown = list
            .iter()
            .take(SUMMARY_NAMES)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        match list.len() {
            0 => "none".to_owned(),
            n if n > SUMMARY_NAMES => format!("{shown} and {} more", n - SUMMARY_NAMES),
            _ => shown,
        }
    };
    let mut parts = Vec::new();
    if let Some(models) = &policy.models {
        let list = models.iter().map(|m| m.as_str().to_owned()).collect();
        parts.push(format!("models: {}", names(list)));
    }
    if let Some(characters) = &policy.characters {
        let list = characters
            .iter()
            .map(|id| offer.character_title(id).unwrap_or(id).to_owned())
            .collect();
        parts.push(format!("characters: {}", names(list)));
    }
    parts.extend(policy.limits.iter().map(|limit| limit.describe()));
    if policy.requires_user {
        parts.push("requires a user".to_owned());
    }
    if parts.is_empty() {
        return "No policy: restricts nothing".to_owned();
    }
    parts.join(" · ")
}

/// The page of `scope`, showing `form`.
async fn scope_page(
    ctx: &Ctx,
    db: &Db,
    catalog: &Catalog,
    governor: &Governor,
    form: PolicyForm,
) -> AdminResult {
    match form.scope.clone() {
        Scope::Everyone => groups::groups_page(ctx, db, catalog, Some(form)).await,
        Scope::Tag(tag) => groups::group_page(ctx, db, catalog, tag, 1, Some(form)).await,
        Scope::User(id) => {
            let params = UsageParams::default();
            users::user_page(ctx, db, catalog, governor, id, &params, Some(form)).await
        }
        Scope::Key(id) => api_keys::key_page(ctx, db, catalog, governor, id, Some(form)).await,
    }
}

fn scope_of(raw: &str) -> Result<Scope, AdminError> {
    Ok(Scope::parse("scope", raw)?)
}

/// The row a user's or a key's policy belongs to must be there.
fn owner_exists(conn: &rusqlite::Connection, scope: &Scope) -> Result<(), AdminError> {
    let found = match scope {
        Scope::Everyone | Scope::Tag(_) => true,
        Scope::User(id) => db::users::get(conn, *id)?.is_some(),
        Scope::Key(id) => db::api_keys::get(conn, *id)?.is_some(),
    };
    if found {
        Ok(())
    } else {
        Err(AdminError::NotFound(format!(
            "there is no {}",
            scope.describe()
        )))
    }
}

pub async fn save(
    ctx: Ctx,
    db: web::Data<Db>,
    catalog: web::Data<Catalog>,
    governor: web::Data<Governor>,
    scope: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
) -> AdminResult {
    let scope = scope_of(&scope)?;
    let offer = Offer::load(&db, &catalog).await?;
    let draft = Draft::read(form.into_inner(), &offer);
    let policy = match draft.check(&scope) {
        Ok(policy) => policy,
        Err(error) => {
            let target = scope.clone();
            let stored = db
                .read(move |conn| {
                    owner_exists(conn, &target)?;
                    Ok::<_, AdminError>(db::policies::get(conn, &target)?.is_some())
                })
                .await?;
            let form = PolicyForm::new(scope, stored, draft, &offer, Some(error));
            return scope_page(&ctx, &db, &catalog, &governor, form).await;
        }
    };
    let target = scope.clone();
    db.write(move |tx| {
        owner_exists(tx, &target)?;
        db::policies::put(tx, &target, &policy)?;
        Ok::<_, AdminError>(())
    })
    .await?;
    governor.reload().await?;
    Ok(AdminResponse::redirect(
        ctx.urls.policy_page(&scope),
        Flash::ok(format!("Saved the policy of {}.", scope.describe())),
    ))
}

pub async fn confirm_delete(ctx: Ctx, scope: web::Path<String>) -> AdminResult {
    let scope = scope_of(&scope)?;
    let question = format!(
        "Remove the policy of {}? It then restricts nothing and sets no limit.",
        scope.describe()
    );
    AdminResponse::confirm(
        &ctx,
        "Remove policy",
        &question,
        &ctx.urls.policy_delete(&scope),
        "Remove policy",
        &ctx.urls.policy_page(&scope),
    )
}

pub async fn delete(
    ctx: Ctx,
    db: web::Data<Db>,
    governor: web::Data<Governor>,
    scope: web::Path<String>,
) -> AdminResult {
    let scope = scope_of(&scope)?;
    let target = scope.clone();
    let removed = db
        .write(move |tx| db::policies::delete(tx, &target))
        .await?;
    governor.reload().await?;
    let message = if removed {
        format!("Removed the policy of {}.", scope.describe())
    } else {
        format!("There was no policy for {}.", scope.describe())
    };
    Ok(AdminResponse::redirect(
        ctx.urls.policy_page(&scope),
        Flash::ok(message),
    ))
}
