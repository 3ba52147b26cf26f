//! Enrolling this app at the desk's worker: the `bt-autotask://enrol?…` link the desk's
//! administrator sent (opened from a mail or a browser, which starts the app with the link, or
//! pasted in Settings). A link proves nothing about who sent it, so nothing happens until the rep
//! has read, in Settings, which desk it names, how its certificate is trusted and whether this
//! app follows that desk or another, and confirmed; then the code is taken to the worker once, the
//! rep's token goes to the OS keyring and a profile that holds no other credential to the
//! configuration — never in place of another profile unless the rep chose to replace it. Leaving
//! forgets both. The app registers itself as the link's handler for this user as it starts.

use bta_core::Secret;
use bta_core::config::SecretRef;
use bta_core::desk::{EnrolLink, EnrolPreview, enrol_preview, with_enrolled_profile};
use tauri::{AppHandle, Emitter, Manager};

use crate::state::AppState;

/// The secret setting the rep's token is kept under, per profile.
const TOKEN_SETTING: &str = "desk_token";

/// The first argument that is an enrolment link, as the OS passes one to the app it opens it with.
pub fn link_in(args: impl IntoIterator<Item = String>) -> Option<String> {
    args.into_iter().find(|a| a.to_ascii_lowercase().starts_with("bt-autotask:"))
}

/// What enrolling with a link (or a code and the worker's address) would do, for the rep to confirm.
pub fn preview(state: &AppState, text: &str, desk: Option<&str>) -> Result<EnrolPreview, String> {
    let link = parse(text, desk)?;
    Ok(enrol_preview(&link, state.loaded().config.as_ref()))
}

/// The link, or the code with the desk's address; a code for the desk this computer's
/// installation names is checked against that desk's certificate pin, as its link would be.
fn parse(text: &str, desk: Option<&str>) -> Result<EnrolLink, String> {
    let mut link = EnrolLink::parse(text, desk)?;
    if link.pin.is_none()
        && let Some(machine) = crate::machine_desk::read()
        && url::Url::parse(&machine.url).is_ok_and(|url| url.origin() == link.desk.origin())
    {
        link.pin = machine.pin;
    }
    Ok(link)
}

/// Enrols with a link the rep confirmed (replacing the enrolled profile `replace` when they chose
/// to): the sentence Settings shows.
pub async fn enrol(state: &AppState, text: &str, desk: Option<&str>, replace: Option<&str>) -> Result<String, String> {
    let link = parse(text, desk)?;
    let enrolled = link.enrol().await?;
    let configured = std::fs::read_to_string(&state.config_path).unwrap_or_default();
    let base = state.config_path.parent().unwrap_or(std::path::Path::new("."));
    let (_, name) = with_enrolled_profile(&configured, base, &enrolled, &link, replace)?;
    // The token first: a profile whose token is missing would not load.
    let key = SecretRef::store_key(&name, TOKEN_SETTING);
    state.secrets.set(&key, &Secret::new(enrolled.token.clone()))?;
    let written = crate::commands::edit_config(state, |text, base| {
        with_enrolled_profile(text, base, &enrolled, &link, replace)
            .map(|(text, _)| text)
            .map_err(bta_core::config::form::FormError::Refused)
    })
    .await;
    if let Err(e) = written {
        let _ = state.secrets.delete(&key);
        return Err(e);
    }
    if let Some(old) = replace.filter(|old| *old != name) {
        let _ = state.secrets.delete(&SecretRef::store_key(old, TOKEN_SETTING));
    }
    tracing::info!(profile = name, rep = enrolled.username, desk = link.desk_origin(), "enrolled at the desk's worker");
    Ok(format!("Enrolled at {} as {} (profile '{name}').", link.desk_origin(), enrolled.username))
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

/// A link the OS opened the app with: kept for Settings, which opens on its confirmation. Nothing
/// is enrolled until the rep confirms there.
pub fn opened(app: &AppHandle, link: String) {
    let state = app.state::<AppState>();
    *state.pending_link.lock().unwrap_or_else(|e| e.into_inner()) = Some(link);
    crate::window::show(app, "settings", crate::placement::Near::Panel);
    // A window already open takes it at once; a new one asks for it as it opens Settings.
    let _ = app.emit("enrol-link", ());
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
