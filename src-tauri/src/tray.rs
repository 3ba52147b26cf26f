//! The tray icon and its menu: Open, Activity, Not in a ticket, Settings, Pause/Resume worker, Quit. A left click
//! (where the desktop reports one) shows or hides the window.

use std::sync::atomic::Ordering;

use tauri::image::Image;
use tauri::menu::{Menu, MenuItem};
use tauri::tray::{MouseButton, MouseButtonState, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Emitter, Manager};

use crate::placement::Near;
use crate::state::AppState;
use crate::window;

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
            "open" => window::show(app, "search", Near::Pointer),
            "activity" => window::show(app, "activity", Near::Pointer),
            "unlinked" => window::show(app, "unlinked", Near::Pointer),
            "settings" => window::show(app, "settings", Near::Pointer),
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
                window::toggle(tray.app_handle(), Near::Icon(rect));
            }
        })
        .build(app)?;
    Ok(())
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
