//! The console's Profiles page: each profile as the same form the tray app's Settings shows, the
//! configuration file edited in place with its comments kept and checked whole before anything is
//! written, secrets typed here going straight to the keyring and coming back only as "stored".
//! A change of where a secret is sent, or of how it is protected on the way
//! ([`form::SECRET_DESTINATIONS`]), needs that secret typed again in the same change: a console
//! session alone must not be enough to send the desk's API secrets to another host. The running
//! worker keeps the configuration it started with: the page says to restart it.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::auth::Session;
use super::{Console, change, refuse};
use crate::config::KeyringStore;
use crate::config::form::{self, FIELDS};
use crate::store::ActivityLine;

/// The configuration file and its text, or why they cannot be had.
fn file(console: &Console) -> Result<(std::path::PathBuf, String), (StatusCode, String)> {
    let path = console.config.source.clone().ok_or_else(|| {
        let why = "this worker was not started from a configuration file; edit it where it runs";
        (StatusCode::CONFLICT, why.to_owned())
    })?;
    let text = std::fs::read_to_string(&path)
        .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, format!("{} cannot be read: {e}", path.display())))?;
    Ok((path, text))
}

/// The form's fields, and each profile's values as the file holds them.
pub async fn list(State(console): State<Console>) -> Response {
    let (path, text) = match file(&console) {
        Ok(found) => found,
        Err((status, why)) => return refuse(status, why),
    };
    match form::profiles(&text, &KeyringStore) {
        Ok(profiles) => {
            Json(json!({"fields": FIELDS, "profiles": profiles, "path": path.display().to_string()})).into_response()
        }
        Err(e) => refuse(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
    }
}

#[derive(Debug, Deserialize)]
pub struct Edit {
    original: Option<String>,
    values: Map<String, Value>,
    /// Secrets typed in the form with this change, by setting.
    #[serde(default)]
    secrets: std::collections::BTreeMap<String, String>,
}

/// What a change does to where the profile's secrets go: the settings changed, and the secrets
/// they would send elsewhere, each typed again with the change.
#[derive(Debug, Default, PartialEq)]
struct Destinations {
    changed: Vec<&'static str>,
    typed_again: Vec<&'static str>,
}

/// The secrets a change must carry, or why it cannot be made here: every secret kept for the
/// profile (in `keyring`) that a changed destination would send elsewhere must be among `typed`;
/// one read from the server's environment cannot be typed here at all.
fn destinations(
    text: &str,
    values: &Map<String, Value>,
    typed: &std::collections::BTreeMap<String, String>,
    keyring: &dyn crate::config::SecretStore,
) -> Result<Destinations, String> {
    let changed = form::destinations_changed(text, values).map_err(|e| e.to_string())?;
    let name = values.get("name").and_then(Value::as_str).map(str::trim).unwrap_or_default();
    let before = form::profiles(text, keyring).map_err(|e| e.to_string())?.into_iter().find(|p| p.name == name);
    let mut at_stake: Vec<&'static str> = Vec::new();
    let sent = form::SECRET_DESTINATIONS.iter().filter(|(key, _)| changed.contains(key));
    for secret in sent.flat_map(|(_, secrets)| secrets.iter().copied()) {
        if !at_stake.contains(&secret) {
            at_stake.push(secret);
        }
    }
    let mut missing = Vec::new();
    let mut typed_again = Vec::new();
    for secret in at_stake {
        let state = match &before {
            Some(p) => p.values.get(secret).and_then(Value::as_str).unwrap_or("missing").to_owned(),
            None => match keyring.get(&crate::config::SecretRef::store_key(name, secret)) {
                Ok(Some(_)) => "stored".to_owned(),
                _ => "missing".to_owned(),
            },
        };
        if let Some(var) = state.strip_prefix("env:") {
            return Err(format!(
                "{secret} is read from the environment variable {var} on the worker's server: change {} in the configuration file there",
                changed.join(", ")
            ));
        }
        match typed.get(secret).filter(|t| !t.is_empty()) {
            Some(_) => typed_again.push(secret),
            None if state == "stored" => missing.push(secret),
            None => {}
        }
    }
    if !missing.is_empty() {
        return Err(format!(
            "changing {} sends {} elsewhere: type {} again in this form, then Save",
            changed.join(", "),
            missing.join(" and "),
            if missing.len() == 1 { "it" } else { "them" }
        ));
    }
    Ok(Destinations { changed, typed_again })
}

/// Writes one profile's values into the file, checked first; logged with the admin's name.
pub async fn save(
    State(console): State<Console>,
    Extension(session): Extension<Session>,
    Json(edit): Json<Edit>,
) -> Response {
    let (path, text) = match file(&console) {
        Ok(found) => found,
        Err((status, why)) => return refuse(status, why),
    };
    let base = path.parent().unwrap_or(std::path::Path::new("."));
    let changed = match form::save_profile(&text, base, edit.original.as_deref(), &edit.values) {
        Ok(changed) => changed,
        Err(e) => return refuse(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
    };
    if changed == text && edit.secrets.is_empty() {
        return Json(json!({"said": "Nothing changed."})).into_response();
    }
    let name = edit.values.get("name").and_then(Value::as_str).map(str::to_owned).or(edit.original).unwrap_or_default();
    let (before, values, typed) = (text.clone(), edit.values.clone(), edit.secrets.clone());
    let checked = tokio::task::spawn_blocking(move || destinations(&before, &values, &typed, &KeyringStore)).await;
    let destinations = match checked {
        Ok(Ok(d)) => d,
        Ok(Err(why)) => {
            tracing::warn!(admin = session.admin, profile = name, "console: {why}");
            return refuse(StatusCode::UNPROCESSABLE_ENTITY, why);
        }
        Err(e) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    // The secrets first: should the file not be written, the typed secrets (which the admin knew)
    // stay with the old settings — never the old secrets with the new ones.
    for (setting, value) in edit.secrets {
        let (p, s) = (name.clone(), setting.clone());
        let stored = tokio::task::spawn_blocking(move || form::store_secret(&KeyringStore, &p, &s, &value)).await;
        match stored {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return refuse(StatusCode::UNPROCESSABLE_ENTITY, format!("{setting}: {e}")),
            Err(e) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        }
    }
    if changed != text
        && let Err(e) = form::write_atomically(&path, &changed)
    {
        return refuse(StatusCode::INTERNAL_SERVER_ERROR, e);
    }
    let summary = if destinations.changed.is_empty() {
        format!("{} edited profile {name} in the desk console", session.admin)
    } else {
        let typed = if destinations.typed_again.is_empty() {
            "none kept".to_owned()
        } else {
            destinations.typed_again.join(", ")
        };
        format!(
            "{} changed where profile {name}'s secrets go ({}) in the desk console; secrets typed again: {typed}",
            session.admin,
            destinations.changed.join(", ")
        )
    };
    let line = ActivityLine { details: Some(path.display().to_string()), ..change(&name, summary) };
    if let Err(answer) = console.log(line).await {
        return answer;
    }
    Json(json!({"said": format!(
        "Saved to {}. The running worker keeps the configuration it started with: restart it for the change to take effect.",
        path.display()
    )}))
    .into_response()
}

#[derive(Debug, Deserialize)]
pub struct Typed {
    profile: String,
    setting: String,
    value: String,
}

/// A secret typed in the form, into the OS keyring; it never comes back.
pub async fn secret(
    State(console): State<Console>,
    Extension(session): Extension<Session>,
    Json(typed): Json<Typed>,
) -> Response {
    let Typed { profile, setting, value } = typed;
    let (p, s) = (profile.clone(), setting.clone());
    let stored = tokio::task::spawn_blocking(move || form::store_secret(&KeyringStore, &p, &s, &value)).await;
    match stored {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return refuse(StatusCode::UNPROCESSABLE_ENTITY, e),
        Err(e) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
    let summary =
        format!("{} stored {setting} of profile {profile} in the keyring from the desk console", session.admin);
    if let Err(answer) = console.log(change(&profile, summary)).await {
        return answer;
    }
    Json(json!({"said": format!("{setting} stored in the OS keyring; restart the worker to use it.")})).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{MemoryStore, SecretRef, SecretStore};

    const FILE: &str = "[[profile]]\nname = \"Desk\"\nappliance_host = \"support.example.com\"\nclient_id = \"c\"\n\
        autotask_username = \"u\"\nautotask_services_url = \"https://webservices5.autotask.net/ATServicesRest\"\n";

    fn values(changes: &[(&str, Value)]) -> Map<String, Value> {
        let mut values = form::profiles(FILE, &crate::config::NoStore).unwrap_or_default().remove(0).values;
        for (k, v) in changes {
            values.insert((*k).to_owned(), v.clone());
        }
        values
    }

    fn keyring() -> MemoryStore {
        let keyring = MemoryStore::default();
        for secret in ["client_secret", "autotask_password", "autotask_integration_code"] {
            let _ = keyring.set(&SecretRef::store_key("Desk", secret), &crate::Secret::new("kept"));
        }
        keyring
    }

    #[test]
    fn a_change_of_where_a_secret_goes_needs_that_secret_typed_again() {
        let (keyring, none) = (keyring(), Default::default());
        let same = destinations(FILE, &values(&[("locale", json!("de-de"))]), &none, &keyring);
        assert_eq!(same, Ok(Destinations::default()), "other settings need nothing");
        let moved = values(&[("appliance_host", json!("evil.example.net"))]);
        let refused = destinations(FILE, &moved, &none, &keyring).unwrap_err();
        assert!(refused.contains("appliance_host") && refused.contains("client_secret"), "{refused}");
        let typed = [("client_secret".to_owned(), "typed".to_owned())].into_iter().collect();
        let taken = destinations(FILE, &moved, &typed, &keyring).unwrap_or_default();
        assert_eq!((taken.changed, taken.typed_again), (vec!["appliance_host"], vec!["client_secret"]));
        let unchecked = values(&[("allow_invalid_certificates", json!(true))]);
        assert!(destinations(FILE, &unchecked, &none, &keyring).unwrap_err().contains("client_secret"));
        let zone = values(&[("autotask_services_url", json!("https://evil.example.net/ATServicesRest"))]);
        let refused = destinations(FILE, &zone, &none, &keyring).unwrap_err();
        assert!(refused.contains("autotask_password and autotask_integration_code"), "{refused}");
    }

    #[test]
    fn a_profile_made_anew_under_a_removed_ones_name_needs_its_kept_secrets_typed_again() {
        let mut fresh = values(&[("appliance_host", json!("evil.example.net"))]);
        fresh.insert("name".into(), json!("Desk"));
        let refused = destinations("", &fresh, &Default::default(), &keyring()).unwrap_err();
        assert!(refused.contains("client_secret"), "{refused}");
        let nothing_kept = destinations("", &fresh, &Default::default(), &MemoryStore::default());
        assert!(nothing_kept.is_ok_and(|d| d.typed_again.is_empty()), "no secret kept: nothing at stake");
    }

    #[test]
    fn a_secret_from_the_servers_environment_is_changed_there() {
        let file = FILE.replace("client_id = \"c\"", "client_id = \"c\"\nclient_secret_env = \"BT_SECRET\"");
        let mut moved = form::profiles(&file, &crate::config::NoStore).unwrap_or_default().remove(0).values;
        moved.insert("appliance_host".into(), json!("evil.example.net"));
        let typed = [("client_secret".to_owned(), "typed".to_owned())].into_iter().collect();
        let refused = destinations(&file, &moved, &typed, &keyring()).unwrap_err();
        assert!(refused.contains("environment variable BT_SECRET"), "{refused}");
    }
}
