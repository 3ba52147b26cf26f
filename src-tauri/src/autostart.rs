//! "Start at login", through the OS's own mechanism (an XDG autostart entry, a launch agent, the
//! Windows Run key) as tauri-plugin-autostart writes it.

use tauri::AppHandle;
use tauri_plugin_autostart::ManagerExt;

pub fn enabled(app: &AppHandle) -> bool {
    app.autolaunch().is_enabled().unwrap_or(false)
}

pub fn set(app: &AppHandle, on: bool) -> Result<(), String> {
    let launcher = app.autolaunch();
    let result = if on { launcher.enable() } else { launcher.disable() };
    result.map_err(|e| format!("start at login could not be changed: {e}"))
}
