//! Where the worker's store is, and the commands that look after it: `store migrate` brings a
//! store's schema up to this version (and, on PostgreSQL, makes the token key file every worker
//! then shares); `store copy-to URL` moves a desk's SQLite store to PostgreSQL.

use std::path::PathBuf;

use anyhow::{Context, bail};
use bta_core::config::{KeyringStore, PostgresStore, WorkerConfig};
use bta_core::store::{Store, StoreUrl};
use clap::Subcommand;

use crate::{ConfigFile, data_dir, load_without_secrets};

#[derive(Debug, Subcommand)]
pub enum StoreAction {
    /// Create or upgrade the store's tables (the worker does it as it starts, too); on
    /// PostgreSQL, make the token key file if there is none — copy it to every worker.
    Migrate {
        #[command(flatten)]
        config: ConfigFile,
    },
    /// Copy this worker's SQLite store into an empty PostgreSQL database, every job, rep token
    /// and console admin with it; then set store_url to the same URL. Stop the worker first.
    CopyTo {
        /// The database: postgres://user@host:port/database[?sslmode=require]; its password from
        /// store_password_env or the keyring (`secret store-password`).
        url: String,
        /// The CA certificate(s), PEM, that signed the database's certificate, when the system
        /// does not trust it (as store_ca_file does for the workers).
        #[arg(long, value_name = "PEM")]
        ca_file: Option<PathBuf>,
        #[command(flatten)]
        config: ConfigFile,
    },
}

pub fn run(action: StoreAction) -> anyhow::Result<()> {
    match action {
        StoreAction::Migrate { config } => migrate(&load_without_secrets(&config.path)?),
        StoreAction::CopyTo { url, ca_file, config } => copy_to(&load_without_secrets(&config.path)?, url, ca_file),
    }
}

/// The SQLite store's file, in the data folder.
pub fn sqlite_path(config: &WorkerConfig) -> anyhow::Result<PathBuf> {
    Ok(data_dir(config)?.join("worker.sqlite3"))
}

/// The token key's file: `token_key_file`, else beside the SQLite store in the data folder.
fn key_path(config: &WorkerConfig, postgres: &PostgresStore) -> anyhow::Result<PathBuf> {
    match &postgres.token_key_file {
        Some(path) => Ok(path.clone()),
        None => Ok(bta_core::store::token_key_path(&sqlite_path(config)?)),
    }
}

/// The store URL with its password: from `store_password_env` (no keyring needed, so `jobs` and
/// `retry` work on a server without a keyring session) or from the keyring.
pub fn store_url(postgres: &PostgresStore) -> anyhow::Result<StoreUrl> {
    let password = postgres
        .password
        .resolve(&KeyringStore)
        .map_err(|e| anyhow::anyhow!("the store's password: {e} (or set store_password_env in the configuration)"))?;
    let url = StoreUrl::parse(&postgres.url, Some(&password)).map_err(|e| anyhow::anyhow!(e))?;
    Ok(match &postgres.ca_file {
        Some(ca) => url.with_ca_file(ca),
        None => url,
    })
}

/// `check`'s line about a store on PostgreSQL: whether the database answers, and its size — read
/// only (the worker migrates as it starts); and whether that is so.
pub async fn describe_database(config: &WorkerConfig) -> (String, bool) {
    let Some(postgres) = config.postgres.clone() else { return (String::new(), true) };
    let probed = tokio::task::spawn_blocking(move || {
        let url = store_url(&postgres)?;
        let described = bta_core::store::Store::probe(&url)?;
        anyhow::Ok(format!("✓ Store {url}: {described}"))
    })
    .await;
    match probed {
        Ok(Ok(line)) => (line, true),
        Ok(Err(e)) => (format!("✗ Store: {e:#}"), false),
        Err(e) => (format!("✗ Store: {e}"), false),
    }
}

/// `check`'s line about a profile's copy of the tickets: in its file beside the SQLite store, or
/// in the database — read only.
pub async fn describe_copy(config: &WorkerConfig, profile: &str) -> String {
    let Some(postgres) = config.postgres.clone() else {
        return match sqlite_path(config) {
            Ok(file) => bta_core::gateway::copy::describe(file.parent().unwrap_or(&file), profile),
            Err(e) => format!("the desk's copy of the tickets: {e:#}"),
        };
    };
    let profile = profile.to_owned();
    let described = tokio::task::spawn_blocking(move || {
        let url = store_url(&postgres)?;
        anyhow::Ok(bta_core::gateway::copy::describe_shared(&url, &profile))
    })
    .await;
    match described {
        Ok(Ok(line)) => line,
        Ok(Err(e)) => format!("the desk's copy of the tickets: {e:#}"),
        Err(e) => format!("the desk's copy of the tickets: {e}"),
    }
}

/// Opens the store the configuration names.
pub fn open(config: &WorkerConfig) -> anyhow::Result<Store> {
    match &config.postgres {
        None => Ok(Store::open(&sqlite_path(config)?)?),
        Some(postgres) => {
            let url = store_url(postgres)?;
            Ok(Store::connect(&url, &key_path(config, postgres)?, &data_dir(config)?)?)
        }
    }
}

fn migrate(config: &WorkerConfig) -> anyhow::Result<()> {
    if let Some(postgres) = &config.postgres {
        let key = key_path(config, postgres)?;
        let existed = key.exists();
        bta_core::store::load_or_make_key(&key)
            .map_err(|e| anyhow::anyhow!("the token key at {}: {e}", key.display()))?;
        if !existed {
            println!("Made the token key at {} — copy this file to every worker of the store.", key.display());
        }
    }
    let store = open(config)?;
    println!("The store at {} is up to date.", store.place());
    Ok(())
}

fn copy_to(config: &WorkerConfig, url: String, ca_file: Option<PathBuf>) -> anyhow::Result<()> {
    if config.postgres.is_some() {
        bail!(
            "store_url is set already: copy-to reads this worker's SQLite store; run it with the configuration the worker had before"
        );
    }
    let file = sqlite_path(config)?;
    if !file.exists() {
        bail!("there is no store at {} to copy", file.display());
    }
    let source = Store::open(&file)?;
    // The key the SQLite store's tokens are hashed with is the one the database's workers read.
    let key = bta_core::store::token_key_path(&file);
    bta_core::store::load_or_make_key(&key).map_err(|e| anyhow::anyhow!("the token key at {}: {e}", key.display()))?;
    let postgres = PostgresStore { url, password: password_for_copy(), ca_file, token_key_file: None };
    let target = Store::connect(&store_url(&postgres)?, &key, &data_dir(config)?).context("the database to copy to")?;
    let copied = source.copy_to(&target)?;
    for (table, rows) in copied {
        println!("  {table}: {rows} row(s)");
    }
    let url = &postgres.url;
    println!(
        "Copied {} to {}. Now set store_url = \"{url}\" in the configuration, copy {} to every worker (or set \
         token_key_file), and start the workers.",
        file.display(),
        target.place(),
        key.display()
    );
    Ok(())
}

/// The target database's password for `copy-to`: `BTA_STORE_PASSWORD` when set, else the keyring.
fn password_for_copy() -> bta_core::config::SecretRef {
    match std::env::var_os(COPY_PASSWORD_ENV) {
        Some(_) => bta_core::config::SecretRef::Env(COPY_PASSWORD_ENV.to_owned()),
        None => bta_core::config::STORE_PASSWORD,
    }
}

/// The environment variable `copy-to` reads the database's password from, when set.
pub const COPY_PASSWORD_ENV: &str = "BTA_STORE_PASSWORD";
