//! `mindgate models`: the model catalog from the command line, with the
//! API's and the admin's rules. A running server picks the changes up
//! within two seconds.

use anyhow::{bail, Context};
use clap::{Args, Subcommand};

use super::{print_table, CommandResult};
use crate::config::DbConfig;
use crate::db::models::{self, CatalogModel};
use crate::db::settings::{self, DefaultProvider};
use crate::db::{providers, Db, StoreError};
use crate::domain::ModelInput;
use crate::gateway::import_models;
use crate::secrets::SecretKey;

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// List the catalog: name, provider, the model sent upstream, state and
    /// price; then the default provider
    List {
        #[command(flatten)]
        db: DbConfig,
    },
    /// Add a model to the catalog (names are unique in any case)
    Add {
        /// The name clients send, e.g. llama3.1:8b
        name: String,
        /// The provider it goes to (its id: openai, anthropic, ollama...)
        #[arg(long)]
        provider: String,
        /// The provider's id for the model, when it is not NAME
        #[arg(long)]
        upstream: Option<String>,
        /// Add it disabled: clients cannot use it until it is enabled
        #[arg(long)]
        disabled: bool,
        #[command(flatten)]
        db: DbConfig,
    },
    /// Add NAME as another name for TARGET: a catalog model (in any case; NAME takes its
    /// provider, upstream id and price), PROVIDER/MODEL, or with --provider the provider's
    /// own model id, e.g. `mindgate models alias fast gpt-4o-mini`
    Alias {
        /// The new name clients send
        name: String,
        /// What it stands for
        target: String,
        /// TARGET is this provider's own model id, not a catalog name
        #[arg(long)]
        provider: Option<String>,
        #[command(flatten)]
        db: DbConfig,
    },
    /// Remove a model (in any case) from the catalog; a name a family or the default
    /// provider takes still reaches it, with no price
    Remove {
        name: String,
        #[command(flatten)]
        db: DbConfig,
    },
    /// Show or set the provider that takes the model names nothing else resolves
    Default(DefaultArgs),
    /// Import a provider's own model list: adds the models it lists that the catalog
    /// lacks, changes none there is (works while the server runs; reads MINDGATE_SECRET_KEY
    /// or MINDGATE_SECRET_KEY_FILE when the provider keys are encrypted)
    Sync {
        /// The provider's id, e.g. openai (OPENAI_BASE_URL at Ollama, vLLM or llama.cpp)
        provider: String,
        #[command(flatten)]
        db: DbConfig,
    },
}

#[derive(Debug, Args)]
pub struct DefaultArgs {
    /// The provider's id; without it (and the flags), prints the default
    provider: Option<String>,
    /// No default provider: other names are refused, whatever OPENAI_BASE_URL says
    #[arg(long, conflicts_with_all = ["provider", "automatic"])]
    none: bool,
    /// Back to automatic (the default): openai when its base URL is not OpenAI's own
    #[arg(long, conflicts_with = "provider")]
    automatic: bool,
    #[command(flatten)]
    db: DbConfig,
}

pub fn run(command: ModelsCommand) -> CommandResult {
    match command {
        ModelsCommand::List { db } => list(&db),
        ModelsCommand::Add {
            name,
            provider,
            upstream,
            disabled,
            db,
        } => {
            let input = ModelInput {
                provider: Some(provider),
                upstream,
                enabled: Some(!disabled),
                price: None,
            };
            let model = input.new_model(&name)?;
            let added = open(&db)?
                .write_blocking(|tx| models::insert(tx, &model))
                .with_context(|| format!("cannot add the model {name:?}"))?;
            println!("{}", describe(&added));
            Ok(())
        }
        ModelsCommand::Alias {
            name,
            target,
            provider,
            db,
        } => alias(&name, &target, provider, &db),
        ModelsCommand::Remove { name, db } => {
            let removed = open(&db)?
                .write_blocking(|tx| {
                    let Some(found) = models::find(tx, &name)? else {
                        return Ok::<_, StoreError>(None);
                    };
                    models::delete(tx, &found.name)?;
                    Ok(Some(found.name))
                })
                .with_context(|| format!("cannot remove the model {name:?}"))?;
            match removed {
                Some(removed) => println!("removed {removed} from the catalog"),
                None => bail!("no model {name:?} in the catalog"),
            }
            Ok(())
        }
        ModelsCommand::Default(args) => default(args),
        ModelsCommand::Sync { provider, db } => {
            let secret = SecretKey::from_env()?;
            let db = open(&db)?;
            let report = actix_web::rt::System::new()
                .block_on(import_models(&db, &secret, &provider))
                .with_context(|| format!("cannot import the models of {provider:?}"))?;
            for name in &report.imported.added {
                println!("added {name}");
            }
            for (name, why) in report.imported.skipped.iter().chain(&report.refused) {
                println!("skipped {name}: {why}");
            }
            eprintln!("{report}");
            Ok(())
        }
    }
}

fn open(db: &DbConfig) -> anyhow::Result<Db> {
    Ok(Db::open_existing(&db.path)?)
}

/// `fast -> openai gpt-4o-mini (enabled)`.
fn describe(model: &CatalogModel) -> String {
    let state = if model.enabled { "enabled" } else { "disabled" };
    format!(
        "{} -> {} {} ({state})",
        model.name, model.provider_id, model.upstream
    )
}

fn list(db: &DbConfig) -> CommandResult {
    let db = open(db)?;
    let (catalog, choice) = db
        .read_blocking(|conn| {
            Ok::<_, StoreError>((models::list(conn)?, settings::default_provider(conn)?))
        })
        .context("cannot read the model catalog")?;
    let rows: Vec<[String; 5]> = catalog
        .iter()
        .map(|m| {
            [
                m.name.clone(),
                m.provider_id.clone(),
                m.upstream.clone(),
                (if m.enabled { "enabled" } else { "disabled" }).to_owned(),
                m.price.map_or_else(
                    || "-".to_owned(),
                    |p| format!("${} in, ${} out", p.input, p.output),
                ),
            ]
        })
        .collect();
    print_table(
        ["NAME", "PROVIDER", "UPSTREAM", "STATE", "PRICE PER MILLION"],
        &rows,
        "(the catalog is empty: names route by PROVIDER/MODEL and by family)",
    )?;
    println!("default provider: {}", shown(&choice));
    Ok(())
}

fn shown(choice: &DefaultProvider) -> String {
    match choice {
        DefaultProvider::Automatic => {
            "automatic (openai when its base URL is not OpenAI's own)".to_owned()
        }
        DefaultProvider::None => "none".to_owned(),
        DefaultProvider::Provider(id) => id.clone(),
    }
}

fn alias(name: &str, target: &str, provider: Option<String>, db: &DbConfig) -> CommandResult {
    let added = open(db)?
        .write_blocking(|tx| {
            let (provider, upstream, price) = match provider {
                Some(provider) => (provider, target.to_owned(), None),
                None => match models::find(tx, target)? {
                    Some(found) => (found.provider_id, found.upstream, found.price),
                    None => match target.split_once('/') {
                        Some((id, model)) if providers::exists(tx, id)? => {
                            (id.to_owned(), model.to_owned(), None)
                        }
                        _ => bail!(
                            "{target:?} is not in the catalog; name its provider with \
                             --provider (e.g. --provider openai)"
                        ),
                    },
                },
            };
            let input = ModelInput {
                provider: Some(provider),
                upstream: Some(upstream),
                enabled: None,
                price: None,
            };
            let mut model = input.new_model(name)?;
            model.price = price;
            Ok(models::insert(tx, &model)?)
        })
        .with_context(|| format!("cannot add the alias {name:?}"))?;
    println!("{}", describe(&added));
    Ok(())
}

fn default(args: DefaultArgs) -> CommandResult {
    let db = open(&args.db)?;
    let choice = match (args.provider, args.none, args.automatic) {
        (Some(id), ..) => DefaultProvider::Provider(id),
        (None, true, _) => DefaultProvider::None,
        (None, false, true) => DefaultProvider::Automatic,
        (None, false, false) => {
            let choice = db
                .read_blocking(settings::default_provider)
                .context("cannot read the default provider")?;
            println!("default provider: {}", shown(&choice));
            return Ok(());
        }
    };
    db.write_blocking(|tx| settings::set_default_provider(tx, &choice))
        .context("cannot set the default provider")?;
    println!("default provider: {}", shown(&choice));
    Ok(())
}
