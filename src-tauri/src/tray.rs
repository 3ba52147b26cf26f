//! The tray icon and its menu: Open, Activity, Not in a ticket, Settings, Pause/Resume worker, Quit. A left click
//! (where the desktop reports one) shows or hides the window.

use std::sync::atomic::Ordering;

use tauri::image::Image;
use tauri::menu::{Menu, MenuItem};
use tauri::tray::{MouseButton, MouseButtonState, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Emitter, Manager};

use crate::placement::{self, Near};
use crate::state::AppState;

const ICON: &[u8] = include_bytes!("../../icons/tray.png");
const PAUSED_ICON: &[u8] = include_bytes!("../../icons/tray-paused.png");

/// The Pause/Resume item, kept to change its text.
pub struct PauseItem(pub MenuItem<tauri::Wry>);

/// The "Not in a ticket" item, kept to show how many there are.
pub struct UnlinkedItem(pub MenuItem<tauri::Wry>);

pub fn build(app: &AppHandle) -> tauri::Result<()> {
    let open = MenuItem::with_id(app, "open", "Open", true, None::<&str>)?;
    let activity = MenuItem::with_id(app, "activity", "Activity", true, None::<&str>)?;
    let unlinked = MenuItem::with_id(app, "unlinked", "Not in a ticket", true, None::<&str>)?;
    let settings = MenuItem::with_id(app, "settings", "Settings", true, None::<&str>)?;
    let pause = MenuItem::with_id(app, "pause", "Pause worker", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
    let menu = Menu::with_items(app, &[&open, &activity, &unlinked, &settings, &pause, &quit])?;
    app.manage(PauseItem(pause));
    app.manage(UnlinkedItem(unlinked));
    TrayIconBuilder::with_id("main")
        .icon(Image::from_bytes(ICON)?)
        .tooltip("bt-autotask")
        .menu(&menu)
        .show_menu_on_left_click(false)
        .on_menu_event(|app, event| match event.id.as_ref() {
            "open" => show(app, "search", Near::Pointer),
            "activity" => show(app, "activity", Near::Pointer),
            "unlinked" => show(app, "unlinked", Near::Pointer),
            "settings" => show(app, "settings", Near::Pointer),
            "pause" => {
                let app = app.clone();
                tauri::async_runtime::spawn(async move {
                    let paused = app.state::<AppState>().paused.load(Ordering::SeqCst);
                    set_paused(&app, !paused).await;
                });
            }
            "quit" => app.exit(0),
            _ => {}
        })
        .on_tray_icon_event(|tray, event| {
            if let TrayIconEvent::Click {
                button: MouseButton::Left, button_state: MouseButtonState::Up, rect, ..
            } = event
            {
                toggle(tray.app_handle(), rect);
            }
        })
        .build(app)?;
    Ok(())
}

/// Shows the window on a view (`search`, `activity`, `unlinked`, `settings`); a hidden window first moves
/// next to `near`, a shown one stays where the rep has it.
pub fn show(app: &AppHandle, view: &str, near: Near) {
    if let Some(window) = app.get_webview_window("main") {
        if !window.is_visible().unwrap_or(false) {
            placement::place(&window, near);
        }
        let _ = window.show();
        let _ = window.unminimize();
        let _ = window.set_focus();
    }
    let _ = app.emit("navigate", view);
}

fn toggle(app: &AppHandle, icon: tauri::Rect) {
    match app.get_webview_window("main") {
        Some(window) if window.is_visible().unwrap_or(false) => {
            let _ = window.hide();
        }
        _ => show(app, "search", Near::Icon(icon)),
    }
}

/// Shows in the menu how many of my sessions are not in a ticket.
pub fn show_unlinked(app: &AppHandle, count: usize) {
    if let Some(item) = app.try_state::<UnlinkedItem>() {
        let text = if count == 0 { "Not in a ticket".to_owned() } else { format!("Not in a ticket ({count})") };
        let _ = item.0.set_text(text);
    }
}

/// Pauses or resumes the embedded worker, and says so in the menu, the icon and the window.
pub async fn set_paused(app: &AppHandle, paused: bool) {
    let state = app.state::<AppState>();
    state.paused.store(paused, Ordering::SeqCst);
    state.restart_worker().await;
    if let Some(item) = app.try_state::<PauseItem>() {
        let _ = item.0.set_text(if paused { "Resume worker" } else { "Pause worker" });
    }
    if let Some(tray) = app.tray_by_id("main")
        && let Ok(icon) = Image::from_bytes(if paused { PAUSED_ICON } else { ICON })
    {
        let _ = tray.set_icon(Some(icon));
    }
    tracing::info!(paused, "worker {}", if paused { "paused" } else { "resumed" });
    let _ = app.emit("worker", paused);
}
