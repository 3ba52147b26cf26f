//! `rep add`, `rep list` and `rep revoke`: the desk's administrator enrols each rep's app with a
//! one-time link, sees who is enrolled and when their app was last seen, and revokes a rep (a
//! stolen laptop, a rep who left) — a running worker refuses the rep's token within a second.

use std::path::Path;

use anyhow::{Context, bail};
use bta_core::gateway::enrol::{self, Invitation};
use bta_core::store::AsyncStore;
use chrono::{DateTime, Local, Utc};
use clap::Subcommand;

use crate::{ConfigFile, load, load_without_secrets, open_store};

#[derive(Debug, Subcommand)]
pub enum RepAction {
    /// Make a rep's one-time enrolment link (and code); for a rep already enrolled, the link
    /// replaces their token once used (a new laptop).
    Add {
        /// The rep's BeyondTrust username (their queue, their sessions).
        username: String,
        /// The profile (with desk_watch = true) the rep works in, by its name.
        #[arg(long)]
        profile: String,
        /// The rep's Autotask e-mail (default: <username>@<defaultDomain of the profile>).
        #[arg(long)]
        email: Option<String>,
        /// Print {"code", "link", "expires", …} as JSON, for scripts.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        config: ConfigFile,
    },
    /// List the desk's reps: enrolled, invited and revoked, with when their app was last seen.
    List {
        /// Print the list as JSON, for scripts.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        config: ConfigFile,
    },
    /// Revoke a rep: their token and any link waiting stop working (on a running worker within
    /// a second).
    Revoke {
        /// The rep's BeyondTrust username.
        username: String,
        /// Only in this profile (default: every profile).
        #[arg(long)]
        profile: Option<String>,
        #[command(flatten)]
        config: ConfigFile,
    },
}

pub fn run(action: RepAction, runtime: &tokio::runtime::Runtime) -> anyhow::Result<()> {
    match action {
        RepAction::Add { username, profile, email, json, config } => {
            runtime.block_on(add(&config.path, &username, &profile, email.as_deref(), json))
        }
        RepAction::List { json, config } => list(&config.path, json),
        RepAction::Revoke { username, profile, config } => revoke(&config.path, &username, profile.as_deref()),
    }
}

async fn add(path: &Path, username: &str, name: &str, email: Option<&str>, json: bool) -> anyhow::Result<()> {
    let config = load(path)?;
    let Some(profile) = config.profile(name) else {
        let names: Vec<&str> = config.profiles.iter().map(|p| p.name.as_str()).collect();
        bail!("no profile is named '{name}'; the profiles are: {}", names.join(", "));
    };
    let desk = config.desk_url().with_context(|| {
        format!(
            "the worker listens on {}, and reps' apps need the address they reach it at: set public_url = \"https://<this host's name>:{}\" in {}",
            config.listen,
            config.listen.port(),
            path.display()
        )
    })?;
    let pin = enrol::certificate_pin(&config).map_err(|e| anyhow::anyhow!(e))?;
    let store = AsyncStore::new(open_store(&config)?);
    let invitation =
        enrol::invite(&store, profile, username, email, &desk, &config.other_desk_urls, pin.as_deref()).await?;
    if json {
        println!("{}", invitation_json(&invitation, name));
    } else {
        print_invitation(&invitation, name);
    }
    Ok(())
}

fn invitation_json(i: &Invitation, profile: &str) -> serde_json::Value {
    serde_json::json!({
        "code": i.code.expose(),
        "link": i.link.expose(),
        "expires": i.expires.to_rfc3339(),
        "username": i.username,
        "email": i.email,
        "profile": profile,
    })
}

fn print_invitation(i: &Invitation, profile: &str) {
    println!(
        "Enrolment of {} ({}) in profile '{profile}': works once, until {}.",
        i.username,
        i.email,
        local(i.expires)
    );
    println!("Send the rep this link (it is a secret until used; it is shown only now):\n  {}", i.link.expose());
    println!("Or the code, to paste in the app's Settings › Enrol: {}", i.code.expose());
}

fn local(t: DateTime<Utc>) -> String {
    t.with_timezone(&Local).format("%Y-%m-%d %H:%M").to_string()
}

fn list(path: &Path, json: bool) -> anyhow::Result<()> {
    let store = open_store(&load_without_secrets(path)?)?;
    let reps = store.reps()?;
    if json {
        let rows: Vec<serde_json::Value> = reps.iter().map(|r| r.to_json(Utc::now())).collect();
        println!("{}", serde_json::Value::Array(rows));
        return Ok(());
    }
    if reps.is_empty() {
        println!("No rep is enrolled yet; enrol one with: bt-autotask-worker rep add <username> --profile <profile>");
        return Ok(());
    }
    println!(
        "{:<20}  {:<12}  {:<30}  {:>10}  {:<26}  {:<16}  {:<16}  app",
        "username", "profile", "e-mail", "resource", "state", "enrolled", "last seen"
    );
    for rep in &reps {
        let when = |t: Option<DateTime<Utc>>| t.map(local).unwrap_or_else(|| "-".to_owned());
        println!(
            "{:<20}  {:<12}  {:<30}  {:>10}  {:<26}  {:<16}  {:<16}  {}",
            rep.username,
            rep.profile,
            rep.email,
            rep.resource_id,
            rep.state_in_words(Utc::now()),
            when(rep.enrolled_at),
            when(rep.last_seen_at),
            rep.app_version.as_deref().unwrap_or("-")
        );
    }
    Ok(())
}

fn revoke(path: &Path, username: &str, profile: Option<&str>) -> anyhow::Result<()> {
    let store = open_store(&load_without_secrets(path)?)?;
    let revoked = store.revoke_rep(username, profile, Utc::now())?;
    if revoked == 0 {
        bail!("no enrolled or invited rep is named '{username}' (see: bt-autotask-worker rep list)");
    }
    tracing::info!(rep = username, "revoked a rep");
    println!(
        "Revoked {username} ({revoked} enrolment(s)): their app's token and any link waiting stop working; a running worker refuses them within a second."
    );
    Ok(())
}
