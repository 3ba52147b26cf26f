//! Enrolling this app at the desk's worker: the `bt-autotask://enrol?…` link the desk's
//! administrator sent (opened from a mail or a browser, which starts the app with the link, or
//! pasted in Settings), taken to the worker once; the rep's token goes to the OS keyring and a
//! profile that holds no other credential to the configuration. Leaving forgets both. The app
//! registers itself as the link's handler for this user as it starts.

use bta_core::Secret;
use bta_core::config::SecretRef;
use bta_core::desk::{EnrolLink, with_enrolled_profile};
use tauri::{AppHandle, Emitter, Manager};

use crate::state::AppState;

/// The secret setting the rep's token is kept under, per profile.
const TOKEN_SETTING: &str = "desk_token";

/// The first argument that is an enrolment link, as the OS passes one to the app it opens it with.
pub fn link_in(args: impl IntoIterator<Item = String>) -> Option<String> {
    args.into_iter().find(|a| a.to_ascii_lowercase().starts_with("bt-autotask:"))
}

/// Enrols with a link, or a code and the worker's address: the sentence Settings shows.
pub async fn enrol(state: &AppState, text: &str, desk: Option<&str>) -> Result<String, String> {
    let link = EnrolLink::parse(text, desk)?;
    let enrolled = link.enrol().await?;
    let key = SecretRef::store_key(&enrolled.profile, TOKEN_SETTING);
    // The token first: a profile whose token is missing would not load.
    state.secrets.set(&key, &Secret::new(enrolled.token.clone()))?;
    let written = crate::commands::edit_config(state, |text, base| {
        with_enrolled_profile(text, base, &enrolled, &link).map_err(bta_core::config::form::FormError::Refused)
    })
    .await;
    if let Err(e) = written {
        let _ = state.secrets.delete(&key);
        return Err(e);
    }
    tracing::info!(profile = enrolled.profile, rep = enrolled.username, "enrolled at the desk's worker");
    Ok(format!(
        "Enrolled at {} as {} (profile '{}').",
        link.desk.origin().ascii_serialization(),
        enrolled.username,
        enrolled.profile
    ))
}

/// Leaves the desk: the enrolled profile and its token are forgotten (the desk's administrator
/// revokes the token on the worker).
pub async fn leave(state: &AppState, profile: &str) -> Result<(), String> {
    let enrolled =
        state.loaded().config.as_ref().and_then(|c| c.profile(profile)).is_some_and(|p| p.enrolled.is_some());
    if !enrolled {
        return Err(format!("profile '{profile}' was not enrolled at a desk's worker; remove it instead"));
    }
    crate::commands::edit_config(state, |text, base| bta_core::config::form::remove_profile(text, base, profile))
        .await?;
    state.secrets.delete(&SecretRef::store_key(profile, TOKEN_SETTING))
}

/// Enrols with a link the OS opened the app with, and says how it went.
pub fn opened(app: &AppHandle, link: String) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let state = app.state::<AppState>();
        let (summary, body) = match enrol(&state, &link, None).await {
            Ok(said) => ("Enrolled at your desk", said),
            Err(e) => ("Could not enrol this app", e),
        };
        // An open window takes the new profile.
        let _ = app.emit("worker", false);
        crate::notices::show(&app, summary, &body, crate::notices::Target::Settings);
        crate::window::show(&app, "settings", crate::placement::Near::Panel);
    });
}

/// Makes this app the handler of `bt-autotask:` links for this user (idempotent).
pub fn register_scheme() {
    if let Err(e) = register() {
        tracing::warn!("bt-autotask: links could not be registered with the desktop: {e}");
    }
}

/// Linux: a hidden desktop entry that opens links with this binary, made the default handler.
#[cfg(all(unix, not(target_os = "macos")))]
fn register() -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let dir = directories::BaseDirs::new().ok_or("no home folder")?.data_dir().join("applications");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let entry = format!(
        "[Desktop Entry]\nType=Application\nName=bt-autotask\nExec=\"{}\" %u\nNoDisplay=true\nMimeType=x-scheme-handler/bt-autotask;\n",
        exe.display()
    );
    let path = dir.join("bt-autotask-link.desktop");
    if std::fs::read_to_string(&path).ok().as_deref() != Some(entry.as_str()) {
        std::fs::write(&path, entry).map_err(|e| e.to_string())?;
    }
    let status = std::process::Command::new("xdg-mime")
        .args(["default", "bt-autotask-link.desktop", "x-scheme-handler/bt-autotask"])
        .status()
        .map_err(|e| format!("xdg-mime: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("xdg-mime: {status}")) }
}

/// Windows: the URL protocol under the user's classes, opening links with this binary.
#[cfg(windows)]
fn register() -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let key = r"HKCU\Software\Classes\bt-autotask";
    let command = format!("\"{}\" \"%1\"", exe.display());
    let adds: [&[&str]; 3] = [
        &["add", key, "/ve", "/d", "URL:bt-autotask enrolment", "/f"],
        &["add", key, "/v", "URL Protocol", "/d", "", "/f"],
        &["add", &format!(r"{key}\shell\open\command"), "/ve", "/d", &command, "/f"],
    ];
    for args in adds {
        let status = std::process::Command::new("reg").args(args).status().map_err(|e| format!("reg: {e}"))?;
        if !status.success() {
            return Err(format!("reg {}: {status}", args.join(" ")));
        }
    }
    Ok(())
}

/// macOS takes its URL schemes from the app bundle's Info.plist (not built here).
#[cfg(target_os = "macos")]
fn register() -> Result<(), String> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_link_is_found_among_the_arguments() {
        let args = ["--show".to_owned(), "BT-AUTOTASK://enrol?code=X".to_owned()];
        assert_eq!(link_in(args).as_deref(), Some("BT-AUTOTASK://enrol?code=X"));
        assert_eq!(link_in(["--show".to_owned()]), None);
    }
}
