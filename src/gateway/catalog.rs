//! The gateway's in-memory view of providers and the model catalog: read on
//! every completion, so it is held in memory and reloaded whenever an admin
//! changes the tables behind it.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde::Serialize;

use super::providers::{self, family, openai};
use super::redact::Redactor;
use crate::db::providers::{Provider, ProviderKind};
use crate::db::settings::{self, DefaultProvider};
use crate::db::watch::Watched;
use crate::db::{self, Db, StoreError};
use crate::domain::model::MAX_NAME;
use crate::domain::{check_length, InvalidInput, Price};
use crate::secrets::SecretKey;

pub use crate::domain::model::ECHO_MODEL;

/// Most model names an error message lists.
const LISTED_IN_ERRORS: usize = 40;

/// Where a model name leads.
#[derive(Debug, Clone)]
pub enum Route {
    Echo,
    Upstream {
        provider: Arc<Provider>,
        /// The model id sent upstream.
        upstream_model: String,
    },
}

/// A model name resolved: where it leads, and the name the request
/// carries from there on (chat log, price, policies, usage): the
/// catalog's own for a catalog entry, whatever its case as sent
/// (`GPT-4O` is `gpt-4o`), else the name as sent.
#[derive(Debug, Clone)]
pub struct Resolution {
    pub model: String,
    pub route: Route,
}

/// A catalog entry as the gateway needs it.
#[derive(Debug)]
struct Entry {
    provider: String,
    upstream: String,
    enabled: bool,
    price: Option<Price>,
    /// When it was added, in seconds since the epoch (0 for the built-in
    /// entries).
    created: i64,
}

/// One consistent view of providers and models.
#[derive(Debug, Default)]
pub struct CatalogSnapshot {
    providers: HashMap<String, Arc<Provider>>,
    models: HashMap<String, Entry>,
    /// Each name lower-cased, to the catalog's own (the first by name when
    /// an older database holds several that differ only in case).
    folded: HashMap<String, String>,
    /// (provider, upstream id) to the catalog's entry for it: the one named
    /// as the upstream id, else the first by name. `PROVIDER/MODEL` is that
    /// entry's model under another name: its price and state are the
    /// entry's, so naming the provider escapes no cost limit and reaches
    /// no disabled model.
    bound: HashMap<(String, String), String>,
    /// Enabled names, sorted, for listings and error messages.
    available: Vec<String>,
    /// The provider that takes the names nothing else resolves.
    default_provider: Option<Arc<Provider>>,
    /// Every provider's key, redacted from what upstreams send.
    redactor: Arc<Redactor>,
    /// The database's catalog version when read.
    stamp: i64,
}

impl CatalogSnapshot {
    fn load(
        conn: &rusqlite::Connection,
        secret: &SecretKey,
    ) -> Result<CatalogSnapshot, StoreError> {
        // Read first: a change landing meanwhile is read again later.
        let stamp = settings::version(conn, settings::CATALOG_VERSION)?;
        let providers: HashMap<_, _> = db::providers::list(conn, secret)?
            .into_iter()
            .map(|p| (p.id.clone(), Arc::new(p)))
            .collect();
        let mut models = HashMap::new();
        let mut folded = HashMap::new();
        let mut bound = HashMap::new();
        let mut available = vec![ECHO_MODEL.to_owned()];
        let mut rows = db::models::list(conn)?;
        rows.sort_by(|a, b| a.name.cmp(&b.name));
        for m in rows {
            if m.enabled {
                available.push(m.name.clone());
            }
            folded
                .entry(m.name.to_ascii_lowercase())
                .or_insert_with(|| m.name.clone());
            let key = (m.provider_id.clone(), m.upstream.clone());
            if m.name == m.upstream {
                bound.insert(key, m.name.clone());
            } else {
                bound.entry(key).or_insert_with(|| m.name.clone());
            }
            let entry = Entry {
                provider: m.provider_id,
                upstream: m.upstream,
                enabled: m.enabled,
                price: m.price,
                created: m.created_at.millis() / 1000,
            };
            models.insert(m.name, entry);
        }
        available.sort();
        let default_provider = match settings::default_provider(conn)? {
            DefaultProvider::Automatic => providers
                .get(ProviderKind::OpenAi.as_str())
                .filter(|p| !openai::is_openai(&p.base_url))
                .cloned(),
            DefaultProvider::None => None,
            DefaultProvider::Provider(id) => providers.get(&id).cloned(),
        };
        let redactor = Arc::new(Redactor::new(
            providers.values().filter_map(|p| p.api_key.as_deref()),
        ));
        Ok(CatalogSnapshot {
            providers,
            models,
            folded,
            bound,
            available,
            default_provider,
            redactor,
            stamp,
        })
    }

    /// Resolves a model name, in order: `echo`; the catalog, exactly then
    /// in any case; `PROVIDER/MODEL` for a provider of that id (after the
    /// catalog, whose names may hold `/` too); the model families; the
    /// default provider, if there is one.
    pub fn resolve(&self, name: &str) -> Result<Resolution, InvalidInput> {
        // No catalog name is longer: a longer one would only be sent on,
        // kept (chat logs, usage, what upstreams do not serve) and echoed.
        check_length("model", name, 0, MAX_NAME)?;
        if name.eq_ignore_ascii_case(ECHO_MODEL) {
            return Ok(Resolution {
                model: ECHO_MODEL.to_owned(),
                route: Route::Echo,
            });
        }
        if let Some((canonical, entry)) = self.entry(name) {
            if !entry.enabled {
                return Err(self.unknown(name, "is disabled on this instance"));
            }
            let provider = self
                .providers
                .get(&entry.provider)
                .cloned()
                .ok_or_else(|| self.unknown(name, "has no provider"))?;
            return Ok(Resolution {
                model: canonical.to_owned(),
                route: Route::Upstream {
                    provider,
                    upstream_model: entry.upstream.clone(),
                },
            });
        }
        let (provider, upstream_model) = if let Some((provider, model)) = self.prefixed(name) {
            if let Some((canonical, entry)) = self.bound_entry(&provider.id, model) {
                if !entry.enabled {
                    let why = format!("is the catalog's {canonical:?}, which is disabled");
                    return Err(self.unknown(name, &why));
                }
            }
            (provider, model)
        } else if let Some(kind) = family(name) {
            let provider = self
                .providers
                .get(kind.as_str())
                .cloned()
                .ok_or_else(|| self.unknown(name, "has no provider"))?;
            (provider, name)
        } else if let Some(provider) = &self.default_provider {
            (provider.clone(), name)
        } else {
            return Err(self.unknown(name, "is not available on this instance"));
        };
        Ok(Resolution {
            model: name.to_owned(),
            route: Route::Upstream {
                provider,
                upstream_model: upstream_model.to_owned(),
            },
        })
    }

    /// The catalog entry of `name`, exactly or in another case, with its
    /// own name.
    fn entry(&self, name: &str) -> Option<(&str, &Entry)> {
        if let Some((canonical, entry)) = self.models.get_key_value(name) {
            return Some((canonical, entry));
        }
        let canonical = self.folded.get(&name.to_ascii_lowercase())?;
        self.models
            .get_key_value(canonical)
            .map(|(canonical, entry)| (canonical.as_str(), entry))
    }

    /// `PROVIDER/MODEL`: the provider of that id, and the model id.
    fn prefixed<'n>(&self, name: &'n str) -> Option<(Arc<Provider>, &'n str)> {
        let (id, model) = name.split_once('/')?;
        if model.is_empty() {
            return None;
        }
        let provider = self
            .providers
            .get(id)
            .or_else(|| self.providers.get(&id.to_ascii_lowercase()))?;
        Some((provider.clone(), model))
    }

    /// Whether what `resolution` leads to can answer now: `echo`, or a
    /// provider with the key it needs.
    pub fn can_answer(&self, resolution: &Resolution) -> bool {
        match &resolution.route {
            Route::Echo => true,
            Route::Upstream { provider, .. } => !providers::lacks_key(provider),
        }
    }

    /// The price in force for chats with the model of this name, if the
    /// catalog gives it one (to `PROVIDER/MODEL`, its entry's).
    pub fn price(&self, name: &str) -> Option<Price> {
        let entry = match self.models.get(name) {
            Some(entry) => entry,
            None => {
                let (provider, model) = self.prefixed(name)?;
                self.bound_entry(&provider.id, model)?.1
            }
        };
        entry.price
    }

    /// The catalog's entry for `upstream` at `provider`, with its name.
    fn bound_entry(&self, provider: &str, upstream: &str) -> Option<(&str, &Entry)> {
        let name = self
            .bound
            .get(&(provider.to_owned(), upstream.to_owned()))?;
        self.models
            .get_key_value(name)
            .map(|(name, entry)| (name.as_str(), entry))
    }

    pub fn redactor(&self) -> &Arc<Redactor> {
        &self.redactor
    }

    /// Every provider's id, sorted.
    pub fn provider_ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self.providers.keys().map(String::as_str).collect();
        ids.sort();
        ids
    }

    /// The providers that have the key they need, by id.
    pub fn answering_providers(&self) -> Vec<Arc<Provider>> {
        let mut answering: Vec<_> = self
            .providers
            .values()
            .filter(|p| !providers::lacks_key(p))
            .cloned()
            .collect();
        answering.sort_by(|a, b| a.id.cmp(&b.id));
        answering
    }

    /// The provider that takes the names nothing else resolves.
    pub fn default_provider(&self) -> Option<&Arc<Provider>> {
        self.default_provider.as_ref()
    }

    fn unknown(&self, name: &str, why: &str) -> InvalidInput {
        let mut listed = self
            .available
            .iter()
            .take(LISTED_IN_ERRORS)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if self.available.len() > LISTED_IN_ERRORS {
            listed.push_str(&format!(
                " and {} more (GET /models lists them)",
                self.available.len() - LISTED_IN_ERRORS
            ));
        }
        let ids = self.provider_ids();
        let default = match &self.default_provider {
            Some(provider) => format!("other names go to the default provider {:?}", provider.id),
            None => "no default provider takes other names (choose one on the admin's \
                     Providers page or with `mindgate models default PROVIDER`)"
                .to_owned(),
        };
        InvalidInput::new(
            "model",
            format!(
                "model {name:?} {why}; available models: {listed}; a provider's own model \
                 is PROVIDER/MODEL (providers: {}); {default}",
                ids.join(", ")
            ),
        )
    }

    /// The model names that lead to something able to answer now: `echo`,
    /// enabled catalog entries whose provider has the key it needs, the
    /// families of such providers, their `PROVIDER/` names, and any name
    /// when the default provider can answer.
    pub fn answerable(&self) -> Answerable {
        let usable = |id: &str| {
            self.providers
                .get(id)
                .is_some_and(|p| !providers::lacks_key(p))
        };
        let any = self
            .default_provider
            .as_ref()
            .is_some_and(|p| !providers::lacks_key(p));
        let mut names = vec![ECHO_MODEL.to_owned()];
        let mut excluded = Vec::new();
        for (name, entry) in &self.models {
            if entry.enabled && usable(&entry.provider) {
                names.push(name.clone());
            } else if any
                || family(name).is_some()
                || self.prefixed(name).is_some_and(|(p, _)| usable(&p.id))
            {
                excluded.push(name.clone());
            }
        }
        names.sort();
        excluded.sort();
        let families = if any {
            vec![".".to_owned()]
        } else {
            let mut ids: Vec<&String> = self.providers.keys().filter(|id| usable(id)).collect();
            ids.sort();
            ProviderKind::ALL
                .into_iter()
                .filter(|kind| usable(kind.as_str()))
                .map(|kind| providers::api(kind).family_pattern().to_owned())
                .chain(ids.into_iter().map(|id| format!("^{id}/.")))
                .collect()
        };
        Answerable {
            names,
            families,
            excluded,
        }
    }

    /// A model in OpenAI's `/models` shape: when the catalog added it
    /// (0 for the built-in entries and names it does not hold), whose it is.
    fn shown(&self, name: &str, owned_by: String) -> ModelEntry {
        ModelEntry {
            id: name.to_owned(),
            object: "model",
            created: self.models.get(name).map_or(0, |e| e.created),
            owned_by,
        }
    }

    /// One resolved model in OpenAI's `/models` shape.
    pub fn describe(&self, resolution: &Resolution) -> ModelEntry {
        let owned_by = match &resolution.route {
            Route::Echo => "mindgate".to_owned(),
            Route::Upstream { provider, .. } => provider.id.clone(),
        };
        self.shown(&resolution.model, owned_by)
    }

    /// Enabled models in OpenAI's `/models` shape.
    pub fn listing(&self) -> Vec<ModelEntry> {
        self.available
            .iter()
            .map(|name| {
                let owned_by = match self.models.get(name) {
                    Some(entry) => entry.provider.clone(),
                    None => "mindgate".to_owned(),
                };
                self.shown(name, owned_by)
            })
            .collect()
    }
}

/// What `CatalogSnapshot::answerable` finds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answerable {
    pub names: Vec<String>,
    /// Regular expressions of the other names that can answer: the
    /// families and `PROVIDER/` names of providers that can, or any name
    /// (`.`) when the default provider can.
    pub families: Vec<String>,
    /// Catalog entries a family would match that cannot answer (disabled,
    /// or their provider lacks its key).
    pub excluded: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModelEntry {
    pub id: String,
    pub object: &'static str,
    pub created: i64,
    pub owned_by: String,
}

/// Shared by every worker; `reload` after changing providers or models
/// (prices too).
pub struct Catalog {
    db: Db,
    /// Opens and seals the providers' keys in the database.
    secret_key: SecretKey,
    snapshot: RwLock<Arc<CatalogSnapshot>>,
}

impl Catalog {
    pub fn load(db: Db, secret_key: SecretKey) -> Result<Catalog, StoreError> {
        let catalog = Catalog {
            db,
            secret_key,
            snapshot: RwLock::default(),
        };
        catalog.reload_blocking()?;
        Ok(catalog)
    }

    pub fn snapshot(&self) -> Arc<CatalogSnapshot> {
        self.snapshot
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// For whoever reads or writes the providers' keys in the database.
    pub fn secret_key(&self) -> &SecretKey {
        &self.secret_key
    }

    pub fn reload_blocking(&self) -> Result<(), StoreError> {
        let snapshot = self
            .db
            .read_blocking(|conn| CatalogSnapshot::load(conn, &self.secret_key))?;
        *self
            .snapshot
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(snapshot);
        Ok(())
    }

    /// Re-reads providers and models from the database.
    pub async fn reload(self: &Arc<Self>) -> Result<(), StoreError> {
        let catalog = self.clone();
        actix_web::web::block(move || catalog.reload_blocking()).await?
    }
}

/// Catalog and provider changes made outside the server (`mindgate
/// models`, another process) reload.
impl Watched for Catalog {
    fn what(&self) -> &'static str {
        "providers and models"
    }

    fn reload_if_changed(&self) -> Result<bool, StoreError> {
        let stamp = self
            .db
            .read_blocking(|conn| settings::version(conn, settings::CATALOG_VERSION))?;
        if stamp == self.snapshot().stamp {
            return Ok(false);
        }
        self.reload_blocking()?;
        Ok(true)
    }
}
