//! The command line: `serve` (the default), `keys`, `models`, `admin`,
//! `backup`, `secrets`.

mod models;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context};
use clap::{Parser, Subcommand};

use crate::admin;
use crate::config::{DbConfig, ServeConfig};
use crate::db::admins;
use crate::db::api_keys::{self, Revoked};
use crate::db::{policies, providers, Db};
use crate::domain::{
    ApiKey, ApiKeyId, Email, KeyName, KeyScope, NewPassword, PolicyInput, Scope, Timestamp,
};
use crate::secrets::SecretKey;
use crate::startup::Application;

#[derive(Debug, Parser)]
#[command(
    name = "mindgate",
    version,
    about = "A self-hosted TypingMind custom-instance server",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// With no subcommand, mindgate serves.
    #[command(flatten)]
    serve: ServeConfig,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (the default)
    Serve(Box<ServeConfig>),
    /// Create, list and revoke API keys
    #[command(subcommand)]
    Keys(KeysCommand),
    /// List, add, alias and remove catalog models, set the default provider, import a
    /// provider's model list
    #[command(subcommand)]
    Models(models::ModelsCommand),
    /// Manage the web admin's accounts
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Write a consistent copy of the database, safe while the server runs
    Backup {
        /// The file to write; it must not exist yet
        dest: PathBuf,
        #[command(flatten)]
        db: DbConfig,
    },
    /// Re-encrypt, decrypt or drop the provider keys stored encrypted (stop the server first)
    #[command(subcommand)]
    Secrets(SecretsCommand),
}

/// Each reads the current secret from MINDGATE_SECRET_KEY or
/// MINDGATE_SECRET_KEY_FILE, and changes every key in one transaction.
#[derive(Debug, Subcommand)]
enum SecretsCommand {
    /// Re-encrypt the provider keys with a new secret, read from the first line of stdin
    /// (the keys must open with the current secret, or be in plain text)
    Rotate {
        #[command(flatten)]
        db: DbConfig,
    },
    /// Store the provider keys in plain text again, to run without a secret
    Decrypt {
        #[command(flatten)]
        db: DbConfig,
    },
    /// Remove the provider keys the current secret cannot decrypt (their secret is lost);
    /// enter them again afterwards
    Forget {
        #[command(flatten)]
        db: DbConfig,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Create a key and print it (alone, on stdout): it is shown only once
    Create {
        /// A name to tell the key apart, e.g. the script that uses it
        #[arg(long)]
        name: String,
        /// `admin` (every route) or `chat` (chat completions and models only)
        #[arg(long, default_value = "admin", value_parser = KeyScope::parse_arg)]
        scope: KeyScope,
        /// Refuse the key's completions that name no user of the instance (X-User-Email)
        #[arg(long)]
        requires_user: bool,
        #[command(flatten)]
        db: DbConfig,
    },
    /// List keys: id, name, scope, prefix, created, last used, revoked
    List {
        #[command(flatten)]
        db: DbConfig,
    },
    /// Revoke a key by its id; it stops working at once
    Revoke {
        id: ApiKeyId,
        #[command(flatten)]
        db: DbConfig,
    },
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create the admin EMAIL, or set their password; reads the password
    /// from the first line of stdin (e.g. `echo "$PW" | mindgate admin set-password ann@example.com`)
    SetPassword {
        email: String,
        #[command(flatten)]
        db: DbConfig,
    },
}

type CommandResult = anyhow::Result<()>;

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let serving = matches!(cli.command, None | Some(Command::Serve(_)));
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(if serving {
        "info"
    } else {
        "warn"
    }))
    .init();
    let result = match cli.command {
        None => serve(cli.serve),
        Some(Command::Serve(config)) => serve(*config),
        Some(Command::Keys(KeysCommand::Create {
            name,
            scope,
            requires_user,
            db,
        })) => create_key(&name, scope, requires_user, &db),
        Some(Command::Keys(KeysCommand::List { db })) => list_keys(&db),
        Some(Command::Keys(KeysCommand::Revoke { id, db })) => revoke_key(id, &db),
        Some(Command::Models(command)) => models::run(command),
        Some(Command::Admin(AdminCommand::SetPassword { email, db })) => {
            set_admin_password(&email, &db)
        }
        Some(Command::Backup { dest, db }) => backup(&dest, &db),
        Some(Command::Secrets(command)) => secrets(command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // `{:#}`: the error with the context around it, outermost first.
            eprintln!("mindgate: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve(mut config: ServeConfig) -> CommandResult {
    config.app.gateway.secret_key = SecretKey::from_env()?;
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(&config)?;
        log::info!(
            "mindgate listening on http://{} (database {})",
            app.address(),
            config.db.path.display()
        );
        app.run_until_stopped().await.context("the server failed")?;
        log::info!("mindgate stopped");
        Ok(())
    })
}

fn create_key(name: &str, scope: KeyScope, requires_user: bool, db: &DbConfig) -> CommandResult {
    let name = KeyName::parse(name)?;
    let db = Db::open(&db.path)?;
    let key = ApiKey::generate();
    let info = db
        .write_blocking(|tx| {
            let info = api_keys::insert(tx, name.as_str(), &key, scope)?;
            if requires_user {
                // The key's own policy says so, as the API and admin set it.
                let policy_scope = Scope::Key(info.id);
                let input = PolicyInput {
                    requires_user: Some(true),
                    ..PolicyInput::default()
                };
                let policy = input.check(&policy_scope)?;
                policies::put(tx, &policy_scope, &policy)?;
            }
            Ok::<_, anyhow::Error>(info)
        })
        .context("cannot store the new API key")?;
    println!("{}", key.as_str());
    let requiring = if requires_user {
        ", requiring a user"
    } else {
        ""
    };
    eprintln!(
        "created {} API key {} ({:?}{requiring}); it is shown only this once",
        info.scope.as_str(),
        info.id,
        info.name
    );
    Ok(())
}

fn list_keys(db: &DbConfig) -> CommandResult {
    let db = Db::open_existing(&db.path)?;
    let keys = db
        .read_blocking(api_keys::list)
        .context("cannot read the API keys")?;
    let when = |t: Option<Timestamp>| t.map_or_else(|| "-".to_owned(), Timestamp::to_iso);
    let rows: Vec<[String; 7]> = keys
        .iter()
        .map(|k| {
            [
                k.id.to_string(),
                k.name.clone(),
                k.scope.as_str().to_owned(),
                format!("{}…", k.prefix),
                k.created_at.to_iso(),
                when(k.last_used_at),
                when(k.revoked_at),
            ]
        })
        .collect();
    print_table(
        [
            "ID",
            "NAME",
            "SCOPE",
            "PREFIX",
            "CREATED",
            "LAST USED",
            "REVOKED",
        ],
        &rows,
        "(no keys yet: create one with `mindgate keys create --name NAME`)",
    )
}

/// Rows under a header, in columns as wide as their widest cell; `empty`
/// when there is no row.
fn print_table<const N: usize>(
    header: [&str; N],
    rows: &[[String; N]],
    empty: &str,
) -> CommandResult {
    let header = header.map(String::from);
    let widths: Vec<usize> = (0..N)
        .map(|i| {
            std::iter::once(&header)
                .chain(rows)
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = std::io::stdout().lock();
    for row in std::iter::once(&header).chain(rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        writeln!(out, "{}", cells.join("  ").trim_end())?;
    }
    if rows.is_empty() {
        writeln!(out, "{empty}")?;
    }
    Ok(())
}

fn revoke_key(id: ApiKeyId, db: &DbConfig) -> CommandResult {
    let db = Db::open_existing(&db.path)?;
    let revoked = db
        .write_blocking(|tx| api_keys::revoke(tx, id))
        .with_context(|| format!("cannot revoke API key {id}"))?;
    match revoked {
        Revoked::Now => println!("revoked key {id}"),
        Revoked::Already => println!("key {id} was already revoked"),
        Revoked::NoSuchKey => bail!("no API key with id {id}"),
    }
    Ok(())
}

fn set_admin_password(email: &str, db: &DbConfig) -> CommandResult {
    let email = Email::parse(email)?;
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("cannot read the password from stdin")?;
    let password = line.trim_end_matches(['\n', '\r']);
    let password = NewPassword::parse(password)?;
    let hash = admin::password::hash(password.as_str())
        .map_err(|e| anyhow!("cannot hash the password: {e}"))?;
    let db = Db::open(&db.path)?;
    let created = db
        .write_blocking(|tx| admins::upsert_password(tx, &email, &hash))
        .with_context(|| format!("cannot store the password of admin {email}"))?;
    if created {
        println!("created admin {email}");
    } else {
        println!("changed the password of admin {email}");
    }
    Ok(())
}

fn backup(dest: &std::path::Path, db: &DbConfig) -> CommandResult {
    let source = Db::open_existing(&db.path)?;
    source
        .backup_to(dest)
        .with_context(|| format!("cannot back up {}", source.path().display()))?;
    println!(
        "backed up {} to {}",
        source.path().display(),
        dest.display()
    );
    Ok(())
}

fn secrets(command: SecretsCommand) -> CommandResult {
    let current = SecretKey::from_env()?;
    let (SecretsCommand::Rotate { db }
    | SecretsCommand::Decrypt { db }
    | SecretsCommand::Forget { db }) = &command;
    let db = Db::open_existing(&db.path)?;
    match command {
        SecretsCommand::Rotate { .. } => {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("cannot read the new secret from stdin")?;
            let new = SecretKey::derive(&line, "the new secret (stdin)")?;
            let count = db
                .write_blocking(|tx| providers::reseal_keys(tx, &current, &new))
                .context("cannot re-encrypt the provider keys")?;
            println!(
                "encrypted {count} provider key(s) with the new secret; \
                 start mindgate with it in MINDGATE_SECRET_KEY or MINDGATE_SECRET_KEY_FILE"
            );
        }
        SecretsCommand::Decrypt { .. } => {
            let none = SecretKey::default();
            let count = db
                .write_blocking(|tx| providers::reseal_keys(tx, &current, &none))
                .context("cannot decrypt the provider keys")?;
            println!(
                "stored {count} provider key(s) in plain text; \
                 start mindgate without MINDGATE_SECRET_KEY and MINDGATE_SECRET_KEY_FILE"
            );
        }
        SecretsCommand::Forget { .. } => {
            let forgotten = db
                .write_blocking(|tx| providers::forget_sealed_keys(tx, &current))
                .context("cannot remove the provider keys")?;
            if forgotten.is_empty() {
                println!("every provider key can be read; none removed");
            } else {
                println!(
                    "removed the keys of the providers {}; enter them again in the admin \
                     (Providers) or with OPENAI_API_KEY and ANTHROPIC_API_KEY",
                    forgotten.join(", ")
                );
            }
        }
    }
    Ok(())
}
