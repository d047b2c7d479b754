//! `/admin/providers`: the upstreams (base URL and key, the key shown
//! masked and replaced only when a new one is typed), a connection test,
//! and the model catalog with its prices. Every change reloads the
//! gateway's catalog.

use std::time::Duration;

use actix_web::web;
use askama::Template;
use serde::Deserialize;

use super::error::AdminError;
use super::guard::Ctx;
use super::paths::Urls;
use super::response::{AdminResponse, AdminResult, Flash};
use crate::db::models::{self, CatalogModel};
use crate::db::providers::{self, Provider, ProviderKind};
use crate::db::settings::{self, DefaultProvider};
use crate::db::{Db, StoreError};
use crate::domain::{check_length, trimmed, InvalidInput, ModelInput, NewModel, Price, PriceInput};
use crate::gateway::{import_models, test_connection, Catalog};

const TEST_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_URL: usize = 500;
const MAX_KEY: usize = 1000;

/// A provider as the page shows it: never its key, only the masked tail.
struct ProviderView {
    id: String,
    kind: &'static str,
    name: String,
    base_url: String,
    masked_key: Option<String>,
    builtin: bool,
}

impl From<Provider> for ProviderView {
    fn from(p: Provider) -> ProviderView {
        ProviderView {
            masked_key: p.masked_key(),
            builtin: providers::is_builtin(&p.id),
            kind: p.kind.as_str(),
            id: p.id,
            name: p.name,
            base_url: p.base_url,
        }
    }
}

#[derive(Template)]
#[template(path = "providers.html")]
struct ProvidersPage<'a> {
    csrf: &'a str,
    urls: &'a Urls,
    providers: Vec<ProviderView>,
    models: Vec<CatalogModel>,
    /// The admin's choice: `DEFAULT_AUTOMATIC`, `DEFAULT_NONE` or an id.
    default_choice: String,
    /// The provider it comes to now, if any.
    default_provider: Option<String>,
}

/// The default provider form's choices besides the providers' ids (which
/// hold no `:`).
const DEFAULT_AUTOMATIC: &str = ":automatic";
const DEFAULT_NONE: &str = ":none";

#[derive(Template)]
#[template(path = "_test_result.html")]
struct TestResult<'a> {
    id: &'a str,
    ok: bool,
    message: &'a str,
}

pub async fn show(ctx: Ctx, db: web::Data<Db>, catalog: web::Data<Catalog>) -> AdminResult {
    let secret = catalog.secret_key().clone();
    let (providers, models, choice) = db
        .read(move |conn| {
            Ok::<_, StoreError>((
                providers::list(conn, &secret)?,
                models::list(conn)?,
                settings::default_provider(conn)?,
            ))
        })
        .await?;
    let default_choice = match choice {
        DefaultProvider::Automatic => DEFAULT_AUTOMATIC.to_owned(),
        DefaultProvider::None => DEFAULT_NONE.to_owned(),
        DefaultProvider::Provider(id) => id,
    };
    AdminResponse::page(
        "Providers & models",
        &ProvidersPage {
            csrf: &ctx.csrf,
            urls: &ctx.urls,
            providers: providers.into_iter().map(ProviderView::from).collect(),
            models,
            default_choice,
            default_provider: catalog.snapshot().default_provider().map(|p| p.id.clone()),
        },
    )
}

fn base_url(raw: &str) -> Result<String, InvalidInput> {
    let url = trimmed("base_url", raw, 1, MAX_URL)?;
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    if rest.is_none_or(|r| r.is_empty() || r.starts_with('/') || r.contains(char::is_whitespace)) {
        return Err(InvalidInput::new(
            "base_url",
            format!("`base_url` must be an http:// or https:// URL, got {raw:?}"),
        ));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// A typed key, or `None` when the field was left empty.
fn typed_key(raw: &str) -> Result<Option<String>, InvalidInput> {
    let key = raw.trim();
    if key.is_empty() {
        return Ok(None);
    }
    check_length("api_key", key, 1, MAX_KEY)?;
    Ok(Some(key.to_owned()))
}

fn provider_id(raw: &str) -> Result<String, InvalidInput> {
    let id = raw.trim();
    let valid = (1..=40).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !valid {
        return Err(InvalidInput::new(
            "id",
            format!("`id` must be 1 to 40 lower-case letters, digits, - or _, got {raw:?}"),
        ));
    }
    Ok(id.to_owned())
}

#[derive(Deserialize)]
pub struct NewProviderForm {
    #[serde(default)]
    id: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    base_url: String,
    #[serde(default)]
    api_key: String,
}

/// A checked new provider.
struct NewProvider {
    id: String,
    kind: ProviderKind,
    name: String,
    base_url: String,
    key: Option<String>,
}

impl TryFrom<NewProviderForm> for NewProvider {
    type Error = InvalidInput;

    fn try_from(form: NewProviderForm) -> Result<NewProvider, InvalidInput> {
        Ok(NewProvider {
            id: provider_id(&form.id)?,
            kind: ProviderKind::parse(&form.kind)
                .ok_or_else(|| InvalidInput::new("kind", "`kind` must be openai or anthropic"))?,
            name: provider_name(&form.name)?,
            base_url: base_url(&form.base_url)?,
            key: typed_key(&form.api_key)?,
        })
    }
}

fn provider_name(raw: &str) -> Result<String, InvalidInput> {
    trimmed("name", raw, 1, 100)
}

pub async fn create(
    ctx: Ctx,
    db: web::Data<Db>,
    catalog: web::Data<Catalog>,
    form: web::Form<NewProviderForm>,
) -> AdminResult {
    let new = NewProvider::try_from(form.into_inner())?;
    let shown = new.name.clone();
    let secret = catalog.secret_key().clone();
    db.write(move |tx| {
        let key = new.key.as_deref();
        providers::insert(
            tx,
            &secret,
            &new.id,
            new.kind,
            &new.name,
            &new.base_url,
            key,
        )
    })
    .await?;
    changed(ctx, &catalog, format!("Added the provider {shown}.")).await
}

#[derive(Deserialize)]
pub struct ProviderForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    base_url: String,
    #[serde(default)]
    api_key: String,
    /// A checkbox: present when ticked.
    #[serde(default)]
    remove_key: Option<String>,
}

/// A provider's checked new settings.
struct ProviderChange {
    name: String,
    base_url: String,
    /// `None` keeps the stored key, `Some(None)` removes it.
    key: Option<Option<String>>,
}

impl TryFrom<ProviderForm> for ProviderChange {
    type Error = InvalidInput;

    fn try_from(form: ProviderForm) -> Result<ProviderChange, InvalidInput> {
        let name = provider_name(&form.name)?;
        let base_url = base_url(&form.base_url)?;
        // An empty key field keeps the key; only "remove" clears it.
        let key = match (typed_key(&form.api_key)?, form.remove_key.is_some()) {
            (Some(key), _) => Some(Some(key)),
            (None, true) => Some(None),
            (None, false) => None,
        };
        Ok(ProviderChange {
            name,
            base_url,
            key,
        })
    }
}

pub async fn update(
    ctx: Ctx,
    db: web::Data<Db>,
    catalog: web::Data<Catalog>,
    id: web::Path<String>,
    form: web::Form<ProviderForm>,
) -> AdminResult {
    let id = id.into_inner();
    let change = ProviderChange::try_from(form.into_inner())?;
    let shown = change.name.clone();
    let missing = AdminError::NotFound(format!("no provider with id {id:?}"));
    let secret = catalog.secret_key().clone();
    let found = db
        .write(move |tx| {
            let key = change.key.as_ref().map(|k| k.as_deref());
            providers::update(tx, &secret, &id, &change.name, &change.base_url, key)
        })
        .await?;
    if !found {
        return Err(missing);
    }
    changed(ctx, &catalog, format!("Saved the provider {shown}.")).await
}

/// After a change to providers or models: the gateway reloads them, the
/// admin goes back to the page with `message`.
async fn changed(ctx: Ctx, catalog: &web::Data<Catalog>, message: String) -> AdminResult {
    catalog.reload().await?;
    Ok(AdminResponse::redirect(
        ctx.urls.providers(),
        Flash::ok(message),
    ))
}

async fn find(db: &Db, catalog: &Catalog, id: String) -> Result<Provider, AdminError> {
    let missing = AdminError::NotFound(format!("no provider with id {id:?}"));
    let secret = catalog.secret_key().clone();
    db.read(move |conn| providers::get(conn, &secret, &id))
        .await?
        .ok_or(missing)
}

/// Asks the provider for its models with the stored key; reports what it
/// answered.
pub async fn test(
    ctx: Ctx,
    db: web::Data<Db>,
    catalog: web::Data<Catalog>,
    id: web::Path<String>,
) -> AdminResult {
    let provider = find(&db, &catalog, id.into_inner()).await?;
    let outcome = test_connection(&provider, TEST_TIMEOUT).await;
    let (ok, message) = match &outcome {
        Ok(message) => (true, message.as_str()),
        Err(message) => (false, message.as_str()),
    };
    let text = format!("{}: {message}", provider.name);
    let flash = if ok {
        Flash::ok(text)
    } else {
        Flash::error(text)
    };
    AdminResponse::swap(
        &TestResult {
            id: &provider.id,
            ok,
            message,
        },
        AdminResponse::redirect(ctx.urls.providers(), flash),
    )
}

pub async fn confirm_delete(
    ctx: Ctx,
    db: web::Data<Db>,
    catalog: web::Data<Catalog>,
    id: web::Path<String>,
) -> AdminResult {
    let provider = find(&db, &catalog, id.into_inner()).await?;
    let question = format!(
        "Delete the provider {} and its entries in the model catalog?",
        provider.name
    );
    AdminResponse::confirm(
        &ctx,
        "Delete provider",
        &question,
        &ctx.urls.provider_delete(&provider.id),
        "Delete provider",
        &ctx.urls.providers(),
    )
}

pub async fn delete(
    ctx: Ctx,
    db: web::Data<Db>,
    catalog: web::Data<Catalog>,
    id: web::Path<String>,
) -> AdminResult {
    let provider = find(&db, &catalog, id.into_inner()).await?;
    let pid = provider.id.clone();
    db.write(move |tx| providers::delete(tx, &pid)).await?;
    changed(
        ctx,
        &catalog,
        format!("Deleted the provider {}.", provider.name),
    )
    .await
}

#[derive(Deserialize)]
pub struct ModelForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    provider: String,
    #[serde(default)]
    upstream: String,
    #[serde(default)]
    enabled: Option<String>,
}

impl TryFrom<ModelForm> for NewModel {
    type Error = InvalidInput;

    /// The API's and the command line's rules, on the fields trimmed; an
    /// empty upstream field is the name.
    fn try_from(form: ModelForm) -> Result<NewModel, InvalidInput> {
        let upstream = form.upstream.trim();
        ModelInput {
            provider: Some(form.provider),
            upstream: (!upstream.is_empty()).then(|| upstream.to_owned()),
            enabled: Some(form.enabled.is_some()),
            price: None,
        }
        .new_model(form.name.trim())
    }
}

/// Adds a catalog entry, or changes the one with that name.
pub async fn save_model(
    ctx: Ctx,
    db: web::Data<Db>,
    catalog: web::Data<Catalog>,
    form: web::Form<ModelForm>,
) -> AdminResult {
    let model = NewModel::try_from(form.into_inner())?;
    let shown = model.name.clone();
    db.write(move |tx| {
        models::upsert(
            tx,
            &model.name,
            &model.provider,
            &model.upstream,
            model.enabled,
        )
    })
    .await?;
    changed(ctx, &catalog, format!("Saved the model {shown}.")).await
}

#[derive(Deserialize)]
pub struct ModelName {
    #[serde(default)]
    name: String,
}

async fn find_model(db: &Db, name: String) -> Result<CatalogModel, AdminError> {
    let missing = format!("no model {name:?} in the catalog");
    super::find_or_404(db, name, models::get, missing).await
}

pub async fn toggle_model(
    ctx: Ctx,
    db: web::Data<Db>,
    catalog: web::Data<Catalog>,
    form: web::Form<ModelName>,
) -> AdminResult {
    let model = find_model(&db, form.into_inner().name).await?;
    let enabled = !model.enabled;
    let name = model.name.clone();
    db.write(move |tx| models::set_enabled(tx, &name, enabled))
        .await?;
    let state = if enabled { "enabled" } else { "disabled" };
    changed(
        ctx,
        &catalog,
        format!("The model {} is {state}.", model.name),
    )
    .await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PriceForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    input: String,
    #[serde(default)]
    output: String,
    #[serde(default)]
    cache_read: String,
    #[serde(default)]
    cache_write: String,
    /// The "Remove price" button: present when it was pressed.
    #[serde(default)]
    remove: Option<String>,
}

/// Sets a model's price, or removes it; chats recorded before keep their
/// cost.
pub async fn set_price(
    ctx: Ctx,
    db: web::Data<Db>,
    catalog: web::Data<Catalog>,
    form: web::Form<PriceForm>,
) -> AdminResult {
    let form = form.into_inner();
    let price = match form.remove {
        Some(_) => None,
        None => Some(Price::try_from(PriceInput::from_text(
            &form.input,
            &form.output,
            &form.cache_read,
            &form.cache_write,
        )?)?),
    };
    let model = find_model(&db, form.name).await?;
    let name = model.name.clone();
    db.write(move |tx| models::set_price(tx, &name, price.as_ref()))
        .await?;
    let message = match price {
        Some(p) => format!(
            "The model {} costs ${} in, ${} out per million tokens.",
            model.name, p.input, p.output
        ),
        None => format!("The model {} has no price now.", model.name),
    };
    changed(ctx, &catalog, message).await
}

pub async fn confirm_delete_model(
    ctx: Ctx,
    db: web::Data<Db>,
    query: web::Query<ModelName>,
) -> AdminResult {
    let model = find_model(&db, query.into_inner().name).await?;
    let question = format!("Remove the model {} from the catalog?", model.name);
    AdminResponse::confirm(
        &ctx,
        "Remove model",
        &question,
        &ctx.urls.model_delete(&model.name),
        "Remove model",
        &ctx.urls.providers(),
    )
}

pub async fn delete_model(
    ctx: Ctx,
    db: web::Data<Db>,
    catalog: web::Data<Catalog>,
    query: web::Query<ModelName>,
) -> AdminResult {
    let model = find_model(&db, query.into_inner().name).await?;
    let name = model.name.clone();
    db.write(move |tx| models::delete(tx, &name)).await?;
    changed(
        ctx,
        &catalog,
        format!("Removed the model {} from the catalog.", model.name),
    )
    .await
}

/// Imports the provider's own model list into the catalog; the flash says
/// what was added and skipped, or why nothing was.
pub async fn import(
    ctx: Ctx,
    db: web::Data<Db>,
    catalog: web::Data<Catalog>,
    id: web::Path<String>,
) -> AdminResult {
    let provider = find(&db, &catalog, id.into_inner()).await?;
    let flash = match import_models(&db, catalog.secret_key(), &provider.id).await {
        Ok(report) => {
            catalog.reload().await?;
            Flash::ok(format!("Imported models from {report}."))
        }
        Err(e) => Flash::error(format!(
            "Cannot import the models of {}: {e}",
            provider.name
        )),
    };
    Ok(AdminResponse::redirect(ctx.urls.providers(), flash))
}

#[derive(Deserialize)]
pub struct DefaultProviderForm {
    #[serde(default)]
    provider: String,
}

/// Sets which provider takes the model names nothing else resolves.
pub async fn set_default_provider(
    ctx: Ctx,
    db: web::Data<Db>,
    catalog: web::Data<Catalog>,
    form: web::Form<DefaultProviderForm>,
) -> AdminResult {
    let choice =
        match form.into_inner().provider.trim() {
            DEFAULT_AUTOMATIC => DefaultProvider::Automatic,
            DEFAULT_NONE => DefaultProvider::None,
            id => DefaultProvider::Provider(provider_id(id).map_err(|e| {
                InvalidInput::new("provider", e.message.replace("`id`", "`provider`"))
            })?),
        };
    let chosen = choice.clone();
    db.write(move |tx| settings::set_default_provider(tx, &chosen))
        .await?;
    let message = match choice {
        DefaultProvider::Automatic => "The default provider is automatic: openai when its base URL is not OpenAI's own.".to_owned(),
        DefaultProvider::None => "No default provider: names the catalog, PROVIDER/ and the families do not resolve are refused.".to_owned(),
        DefaultProvider::Provider(id) => format!("Model names nothing else resolves go to the provider {id}."),
    };
    changed(ctx, &catalog, message).await
}
