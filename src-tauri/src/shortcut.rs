//! The global shortcut: keys that open the window with the search focused from anywhere on the
//! desktop (default Ctrl+Alt+Space; `global_shortcut` in the configuration, changed in Settings).
//!
//! It is grabbed from the desktop through Tauri's global-shortcut plugin: on X11 and Windows for
//! the whole desktop. Wayland does not let an app grab keys; there Settings says so, and how to
//! get the same from the desktop's own keyboard settings (a second launch opens the window).

use std::str::FromStr;
use std::sync::Mutex;

use bta_core::config::DEFAULT_GLOBAL_SHORTCUT;
use tauri::plugin::TauriPlugin;
use tauri::{AppHandle, Manager, Wry};
use tauri_plugin_global_shortcut::{GlobalShortcutExt, Shortcut, ShortcutState};

use crate::placement::Near;

/// What Settings shows about the shortcut.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ShortcutStatus {
    /// As configured ("" = none).
    pub keys: String,
    /// Whether pressing them opens the window now.
    pub active: bool,
    /// Why not, or what limits it, in words a rep can act on.
    pub note: Option<String>,
}

/// The shortcut's status, kept for Settings.
#[derive(Debug, Default)]
pub struct Current(Mutex<ShortcutStatus>);

impl Current {
    pub fn status(&self) -> ShortcutStatus {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The plugin, with what a press does: open the window on the search.
pub fn plugin() -> TauriPlugin<Wry> {
    tauri_plugin_global_shortcut::Builder::new()
        .with_handler(|app, _shortcut, event| {
            if event.state() == ShortcutState::Pressed {
                crate::window::show(app, "search", Near::Panel);
            }
        })
        .build()
}

/// The configured shortcut: the configuration's, else the default.
pub fn configured(app: &AppHandle) -> String {
    let state = app.state::<crate::state::AppState>();
    let loaded = state.loaded();
    loaded.config.as_ref().map_or_else(|| DEFAULT_GLOBAL_SHORTCUT.to_owned(), |c| c.global_shortcut.clone())
}

/// Reads keys as the plugin takes them ("Ctrl+Alt+Space"), or says what is wrong with them.
pub fn parse(keys: &str) -> Result<Shortcut, String> {
    Shortcut::from_str(keys.trim()).map_err(|e| {
        format!(
            "'{}' is not a key combination ({e}); write modifiers and one key joined by +, like Ctrl+Alt+Space or \
             Ctrl+Shift+F9",
            keys.trim()
        )
    })
}

/// Grabs `keys` from the desktop instead of whatever was grabbed before ("" = none) and records
/// how that went.
pub fn apply(app: &AppHandle, keys: &str) -> ShortcutStatus {
    let shortcuts = app.global_shortcut();
    if let Err(e) = shortcuts.unregister_all() {
        tracing::warn!("the previous global shortcut could not be released: {e}");
    }
    let keys = keys.trim().to_owned();
    let status = if keys.is_empty() {
        ShortcutStatus { keys, active: false, note: Some("No shortcut: open the window from the tray.".into()) }
    } else {
        match parse(&keys).and_then(|s| shortcuts.register(s).map_err(|e| taken(&keys, &e.to_string()))) {
            Ok(()) => ShortcutStatus { note: wayland_note(), active: true, keys },
            Err(why) => ShortcutStatus { keys, active: false, note: Some(why) },
        }
    };
    match &status.note {
        Some(note) if !status.active => tracing::warn!("global shortcut: {note}"),
        _ => tracing::info!(keys = status.keys, "global shortcut ready"),
    }
    *app.state::<Current>().0.lock().unwrap_or_else(|e| e.into_inner()) = status.clone();
    status
}

fn taken(keys: &str, why: &str) -> String {
    format!("{keys} could not be taken from the desktop ({why}); another program may use it — choose other keys")
}

/// Under Wayland an app cannot take keys from the whole desktop: they reach it only while one of
/// its X11 windows has focus.
fn wayland_note() -> Option<String> {
    let wayland = std::env::var("XDG_SESSION_TYPE").is_ok_and(|t| t.eq_ignore_ascii_case("wayland"))
        || std::env::var_os("WAYLAND_DISPLAY").is_some();
    wayland.then(|| {
        "This desktop runs Wayland, which does not let apps take keys for the whole desktop: the shortcut works \
         only while an X11 window has focus. For everywhere, add a shortcut in your desktop's keyboard settings \
         that runs bt-autotask — starting it again opens this window."
            .to_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_read_or_refused_with_what_to_write() {
        assert!(parse(DEFAULT_GLOBAL_SHORTCUT).is_ok());
        assert!(parse(" ctrl+shift+F9 ").is_ok());
        let why = parse("Ctrl+Alt+Spacebar").unwrap_err();
        assert!(
            why.starts_with("'Ctrl+Alt+Spacebar' is not a key combination") && why.contains("Ctrl+Shift+F9"),
            "{why}"
        );
    }
}
