//! The console's Profiles page: each profile as the same form the tray app's Settings shows, the
//! configuration file edited in place with its comments kept and checked whole before anything is
//! written, secrets typed here going straight to the keyring and coming back only as "stored".
//! The running worker keeps the configuration it started with: the page says to restart it.

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
    if changed == text {
        return Json(json!({"said": "Nothing changed."})).into_response();
    }
    if let Err(e) = form::write_atomically(&path, &changed) {
        return refuse(StatusCode::INTERNAL_SERVER_ERROR, e);
    }
    let name = edit.values.get("name").and_then(Value::as_str).map(str::to_owned).or(edit.original).unwrap_or_default();
    let summary = format!("{} edited profile {name} in the desk console", session.admin);
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
