//! The gateway's in-memory view of providers and the model catalog: read on
//! every completion, so it is held in memory and reloaded whenever an admin
//! changes the tables behind it.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde::Serialize;

use super::providers::{self, family};
use super::redact::Redactor;
use crate::db::providers::{Provider, ProviderKind};
use crate::db::{self, Db, StoreError};
use crate::domain::{InvalidInput, Price};
use crate::secrets::SecretKey;

/// The built-in model that answers with the last user message.
pub const ECHO_MODEL: &str = "echo";

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

/// A catalog entry as the gateway needs it.
#[derive(Debug)]
struct Entry {
    provider: String,
    upstream: String,
    enabled: bool,
    price: Option<Price>,
}

/// One consistent view of providers and models.
#[derive(Debug, Default)]
pub struct CatalogSnapshot {
    providers: HashMap<String, Arc<Provider>>,
    models: HashMap<String, Entry>,
    /// Enabled names, sorted, for listings and error messages.
    available: Vec<String>,
    /// Every provider's key, redacted from what upstreams send.
    redactor: Arc<Redactor>,
}

impl CatalogSnapshot {
    fn load(
        conn: &rusqlite::Connection,
        secret: &SecretKey,
    ) -> Result<CatalogSnapshot, StoreError> {
        let providers: HashMap<_, _> = db::providers::list(conn, secret)?
            .into_iter()
            .map(|p| (p.id.clone(), Arc::new(p)))
            .collect();
        let mut models = HashMap::new();
        let mut available = vec![ECHO_MODEL.to_owned()];
        for m in db::models::list(conn)? {
            if m.enabled {
                available.push(m.name.clone());
            }
            let entry = Entry {
                provider: m.provider_id,
                upstream: m.upstream,
                enabled: m.enabled,
                price: m.price,
            };
            models.insert(m.name, entry);
        }
        available.sort();
        let redactor = Arc::new(Redactor::new(
            providers.values().filter_map(|p| p.api_key.as_deref()),
        ));
        Ok(CatalogSnapshot {
            providers,
            models,
            available,
            redactor,
        })
    }

    /// Resolves a model name: the catalog first, then the model's family.
    pub fn resolve(&self, name: &str) -> Result<Route, InvalidInput> {
        if name == ECHO_MODEL {
            return Ok(Route::Echo);
        }
        let (provider_id, upstream_model) = match self.models.get(name) {
            Some(entry) if !entry.enabled => {
                return Err(self.unknown(name, "is disabled on this instance"));
            }
            Some(entry) => (entry.provider.as_str(), entry.upstream.clone()),
            None => match family(name) {
                Some(kind) => (kind.as_str(), name.to_owned()),
                None => return Err(self.unknown(name, "is not available on this instance")),
            },
        };
        let provider = self
            .providers
            .get(provider_id)
            .cloned()
            .ok_or_else(|| self.unknown(name, "has no provider"))?;
        Ok(Route::Upstream {
            provider,
            upstream_model,
        })
    }

    /// The price in force for chats with the model of this name, if the
    /// catalog gives it one.
    pub fn price(&self, name: &str) -> Option<Price> {
        self.models.get(name).and_then(|entry| entry.price)
    }

    pub fn redactor(&self) -> &Arc<Redactor> {
        &self.redactor
    }

    fn unknown(&self, name: &str, why: &str) -> InvalidInput {
        InvalidInput::new(
            "model",
            format!(
                "model {name:?} {why}; available models: {}",
                self.available.join(", ")
            ),
        )
    }

    /// The model names that lead to something able to answer now: `echo`,
    /// enabled catalog entries whose provider has the key it needs, and
    /// the families of such providers.
    pub fn answerable(&self) -> Answerable {
        let usable = |id: &str| {
            self.providers
                .get(id)
                .is_some_and(|p| !providers::lacks_key(p))
        };
        let mut names = vec![ECHO_MODEL.to_owned()];
        let mut excluded = Vec::new();
        for (name, entry) in &self.models {
            if entry.enabled && usable(&entry.provider) {
                names.push(name.clone());
            } else if family(name).is_some() {
                excluded.push(name.clone());
            }
        }
        names.sort();
        excluded.sort();
        let families = ProviderKind::ALL
            .into_iter()
            .filter(|kind| usable(kind.as_str()))
            .map(|kind| providers::api(kind).family_pattern())
            .collect();
        Answerable {
            names,
            families,
            excluded,
        }
    }

    /// Enabled models in OpenAI's `/models` shape.
    pub fn listing(&self) -> Vec<ModelEntry> {
        self.available
            .iter()
            .map(|name| ModelEntry {
                id: name.clone(),
                object: "model",
                created: 0,
                owned_by: match self.models.get(name) {
                    Some(entry) => entry.provider.clone(),
                    None => "mindgate".to_owned(),
                },
            })
            .collect()
    }
}

/// What `CatalogSnapshot::answerable` finds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answerable {
    pub names: Vec<String>,
    /// Regular expressions of the families whose provider can answer.
    pub families: Vec<&'static str>,
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
