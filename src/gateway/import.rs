//! Importing a provider's own model list into the catalog (`GET
//! {base}/models` of an OpenAI-compatible server, Anthropic's `GET
//! /v1/models` page by page): the names the catalog lacks are added,
//! enabled, each sent upstream as listed; no entry there is changes. One
//! function for the admin's button, `mindgate models sync`, the API and
//! `--sync-models` at start.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::providers;
use super::{upstream, Catalog};
use crate::db::models::Imported;
use crate::db::{self, Db, StoreError};
use crate::domain::model::model_name;
use crate::secrets::SecretKey;

/// Time allowed for each page of the list to begin, and again to arrive.
pub const PAGE_TIMEOUT: Duration = Duration::from_secs(10);
/// Most pages read of a list in pages.
const MAX_PAGES: usize = 20;
/// Most models imported at once.
const MAX_MODELS: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("no provider has the id {0:?}")]
    NoProvider(String),
    #[error("provider {provider:?} has no API key: set {variable} or add the key in the admin")]
    NoKey {
        provider: String,
        variable: &'static str,
    },
    /// The provider gave no usable list: why, for an admin.
    #[error("{0}")]
    Upstream(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    pub provider: String,
    pub imported: Imported,
    /// Listed ids no catalog name can be (white space, `echo`...), with why.
    pub refused: Vec<(String, String)>,
    /// The list went on past `MAX_PAGES` or `MAX_MODELS`: the rest was
    /// not read.
    pub truncated: bool,
}

/// "added 3 models (a, b, c); 2 already there; skipped x (why)": the admin's
/// flash message and the command line's summary.
impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Imported {
            added,
            present,
            skipped,
        } = &self.imported;
        match added.len() {
            0 => write!(f, "{}: no new models", self.provider)?,
            1 => write!(f, "{}: added 1 model ({})", self.provider, added[0])?,
            n => write!(
                f,
                "{}: added {n} models ({})",
                self.provider,
                added.join(", ")
            )?,
        }
        if !present.is_empty() {
            write!(f, "; {} in the catalog already", present.len())?;
        }
        for (name, why) in skipped.iter().chain(&self.refused) {
            write!(f, "; skipped {name:?}: {why}")?;
        }
        if self.truncated {
            write!(
                f,
                "; the list was longer than mindgate reads ({MAX_MODELS} models, \
                 {MAX_PAGES} pages): the rest was left out"
            )?;
        }
        Ok(())
    }
}

/// Reads the model list of the provider `provider_id` and adds what the
/// catalog lacks. A server reloads its catalog after (the watcher would,
/// within seconds); the command line has none to reload.
pub async fn import_models(
    db: &Db,
    secret: &SecretKey,
    provider_id: &str,
) -> Result<ImportReport, ImportError> {
    let (secret, id) = (secret.clone(), provider_id.to_owned());
    let provider = db
        .read(move |conn| db::providers::get(conn, &secret, &id))
        .await?
        .ok_or_else(|| ImportError::NoProvider(provider_id.to_owned()))?;
    let api = providers::api(provider.kind);
    if providers::lacks_key(&provider) {
        return Err(ImportError::NoKey {
            provider: provider.id,
            variable: api.key_variable(),
        });
    }
    let base = provider.base_url.trim_end_matches('/');
    let client = upstream::client(PAGE_TIMEOUT, 1);
    let mut ids: Vec<String> = Vec::new();
    let mut url = api.models_url(base);
    let mut truncated = false;
    for page_number in 1.. {
        let body = upstream::models_page(&client, &provider, &url, PAGE_TIMEOUT)
            .await
            .map_err(ImportError::Upstream)?;
        let page = api.model_page(&body).map_err(|e| {
            let shown = upstream::shown_url(&url);
            ImportError::Upstream(format!("{shown} answered with no model list: {e}"))
        })?;
        ids.extend(page.ids);
        let next = page.last.and_then(|last| api.models_url_after(base, &last));
        match next {
            Some(_) if page_number == MAX_PAGES || ids.len() >= MAX_MODELS => {
                truncated = true;
                break;
            }
            Some(next) => url = next,
            None => break,
        }
    }
    if ids.len() > MAX_MODELS {
        ids.truncate(MAX_MODELS);
        truncated = true;
    }
    let mut names = Vec::new();
    let mut seen = HashSet::new();
    let mut refused = Vec::new();
    for id in ids {
        match model_name("id", &id) {
            Ok(name) if name == id => {
                if seen.insert(name.clone()) {
                    names.push(name);
                }
            }
            Ok(_) => refused.push((id, "it has white space around it".to_owned())),
            Err(e) => refused.push((id, e.message)),
        }
    }
    let provider_id = provider.id.clone();
    let imported = db
        .write(move |tx| db::models::import(tx, &provider_id, &names))
        .await?;
    Ok(ImportReport {
        provider: provider.id,
        imported,
        refused,
        truncated,
    })
}

/// `--sync-models`: imports the model list of every provider that can
/// answer (it has the key it needs), in the background, then reloads the
/// catalog; a failure is logged, never fatal.
pub fn import_at_start(db: Db, catalog: Arc<Catalog>) {
    actix_web::rt::spawn(async move {
        for provider in catalog.snapshot().answering_providers() {
            match import_models(&db, catalog.secret_key(), &provider.id).await {
                Ok(report) => log::info!("imported models from {report}"),
                Err(e) => log::warn!(
                    "cannot import the models of provider {:?}: {e}",
                    provider.id
                ),
            }
        }
        if let Err(e) = catalog.reload().await {
            log::error!("cannot reload the model catalog after importing: {e}");
        }
    });
}
