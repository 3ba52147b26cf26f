//! `console add-admin`, `console remove-admin` and `console list`: who may log in to the desk
//! console. A password is read from standard input (never an argument, which other users of the
//! machine could see) and kept only as its Argon2 hash.

use std::io::Read;

use anyhow::{Context, bail};
use bta_core::console::auth;
use chrono::Utc;
use clap::Subcommand;

use crate::{ConfigFile, load_without_secrets, open_store};

#[derive(Debug, Subcommand)]
pub enum ConsoleAction {
    /// Add an admin, or give one a new password (read from standard input).
    AddAdmin {
        /// The name they log in with.
        name: String,
        #[command(flatten)]
        config: ConfigFile,
    },
    /// Remove an admin: their login and their open sessions stop working at once.
    RemoveAdmin {
        /// The name they log in with.
        name: String,
        #[command(flatten)]
        config: ConfigFile,
    },
    /// List the admins.
    List {
        #[command(flatten)]
        config: ConfigFile,
    },
}

pub fn run(action: ConsoleAction) -> anyhow::Result<()> {
    match action {
        ConsoleAction::AddAdmin { name, config } => add(&config.path, &name),
        ConsoleAction::RemoveAdmin { name, config } => remove(&config.path, &name),
        ConsoleAction::List { config } => {
            let admins = open_store(&load_without_secrets(&config.path)?)?.console_admins()?;
            if admins.is_empty() {
                println!("No console admin yet: add one with bt-autotask-worker console add-admin NAME");
            }
            for name in admins {
                println!("{name}");
            }
            Ok(())
        }
    }
}

fn add(path: &std::path::Path, name: &str) -> anyhow::Result<()> {
    let name = name.trim();
    if name.is_empty() || name.chars().any(|c| c.is_control()) {
        bail!("an admin's name must be printable text, like dana.lee");
    }
    let mut password = String::new();
    std::io::stdin().read_to_string(&mut password).context("the password could not be read from standard input")?;
    let password = password.trim_end_matches(['\r', '\n']);
    if password.chars().count() < auth::SHORTEST_PASSWORD {
        bail!(
            "the password is {} characters long; use at least {} (type it, or pipe it in, on standard input)",
            password.chars().count(),
            auth::SHORTEST_PASSWORD
        );
    }
    let hash = auth::hash_password(password).map_err(|e| anyhow::anyhow!("the password could not be hashed: {e}"))?;
    let store = open_store(&load_without_secrets(path)?)?;
    if store.set_console_admin(name, &hash, Utc::now())? {
        println!("Added console admin {name}.");
    } else {
        println!("Gave console admin {name} a new password.");
    }
    Ok(())
}

fn remove(path: &std::path::Path, name: &str) -> anyhow::Result<()> {
    let store = open_store(&load_without_secrets(path)?)?;
    if !store.remove_console_admin(name.trim())? {
        bail!("there is no console admin named '{}'; `console list` shows them", name.trim());
    }
    println!("Removed console admin {}.", name.trim());
    Ok(())
}
