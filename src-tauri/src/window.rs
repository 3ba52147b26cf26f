//! The window's life: shown on a view, hidden, and — once hidden for
//! `release_window_after_minutes` — closed with its web view, so WebKit's processes exit while the
//! rep works in other windows. The tray, the worker, the watch and notifications go on in the
//! app's own process; opening the window again makes it anew from the app's memory.
//!
//! A window made anew is shown only when its page is ready (it says so, with the view it opened
//! and the search focused), so it never flashes empty, moves, or takes keys it cannot show yet.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bta_core::config::DEFAULT_RELEASE_WINDOW_AFTER;
use tauri::{AppHandle, Emitter, Manager, WebviewWindow, WebviewWindowBuilder};

use crate::placement::{self, Near};
use crate::state::AppState;

const LABEL: &str = "main";

/// How long a window made anew waits for its page before it is shown anyway.
const READY_AT_MOST: Duration = Duration::from_secs(3);

/// What the window's life needs to remember between its openings.
#[derive(Debug, Default)]
pub struct Life {
    /// Counts shows and hides: a release planned at one hide is off once anything happens after.
    moments: AtomicU64,
    /// The view the window opens on, and where a window made anew goes when its page is ready.
    pending: Mutex<Option<(String, Near)>>,
    /// When the window was last made anew, to say how long its page took to be ready.
    made: Mutex<Option<std::time::Instant>>,
}

/// Shows the window on a view (`search`, `activity`, `unlinked`, `settings`): a hidden window
/// first moves next to `near`, a shown one stays where the rep has it; a released one is made anew.
pub fn show(app: &AppHandle, view: &str, near: Near) {
    let life = app.state::<Life>();
    life.moments.fetch_add(1, Ordering::SeqCst);
    *life.pending.lock().unwrap_or_else(|e| e.into_inner()) = Some((view.to_owned(), near));
    match app.get_webview_window(LABEL) {
        Some(window) => {
            let started = std::time::Instant::now();
            appear(&window, near);
            let _ = app.emit("navigate", view);
            // Where a warm open's time goes: the benchmark reads this line.
            tracing::info!("window shown: placing and showing it took {} µs", started.elapsed().as_micros());
        }
        None => remake(app),
    }
}

fn appear(window: &WebviewWindow, near: Near) {
    if !window.is_visible().unwrap_or(false) {
        placement::place(window, near);
    }
    let _ = window.show();
    let _ = window.unminimize();
    let _ = window.set_focus();
}

/// Makes the window again from the app's configuration, hidden until its page is ready.
fn remake(app: &AppHandle) {
    let Some(config) = app.config().app.windows.iter().find(|w| w.label == LABEL).cloned() else {
        tracing::error!("the configuration has no '{LABEL}' window");
        return;
    };
    match WebviewWindowBuilder::from_config(app, &config).and_then(|b| b.build()) {
        Ok(_) => {
            *app.state::<Life>().made.lock().unwrap_or_else(|e| e.into_inner()) = Some(std::time::Instant::now());
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                tokio::time::sleep(READY_AT_MOST).await;
                ready(&app);
            });
        }
        Err(e) => tracing::error!("the window could not be made: {e}"),
    }
}

/// The page is ready (or has been given long enough): show the window where it was asked for.
/// Returns the view it opens on.
pub fn ready(app: &AppHandle) -> Option<String> {
    let life = app.state::<Life>();
    if let Some(made) = life.made.lock().unwrap_or_else(|e| e.into_inner()).take() {
        // Where a cold open's time goes: the benchmark reads this line.
        tracing::info!("window made anew: its page was ready in {} ms", made.elapsed().as_millis());
    }
    let (view, near) = life.pending.lock().unwrap_or_else(|e| e.into_inner()).take()?;
    if let Some(window) = app.get_webview_window(LABEL) {
        appear(&window, near);
    }
    Some(view)
}

/// Hides the window, and plans its release.
pub fn hide(app: &AppHandle) {
    if let Some(window) = app.get_webview_window(LABEL) {
        let _ = window.hide();
    }
    release_later(app);
}

/// Shows the window, or hides it when it is shown (a left click on the tray icon).
pub fn toggle(app: &AppHandle, near: Near) {
    match app.get_webview_window(LABEL) {
        Some(window) if window.is_visible().unwrap_or(false) => hide(app),
        _ => show(app, "search", near),
    }
}

/// Closes the window and its web view once it has stayed hidden for the configured time.
pub fn release_later(app: &AppHandle) {
    let after = release_after(&app.state::<AppState>());
    let Some(after) = after else { return };
    let moment = app.state::<Life>().moments.fetch_add(1, Ordering::SeqCst) + 1;
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(after).await;
        if app.state::<Life>().moments.load(Ordering::SeqCst) != moment {
            return;
        }
        match app.get_webview_window(LABEL) {
            Some(window) if !window.is_visible().unwrap_or(true) => {
                if let Err(e) = window.destroy() {
                    tracing::warn!("the hidden window could not be released: {e}");
                } else {
                    tracing::info!("window released after {} s hidden", after.as_secs_f64());
                    // The web view's UI side is freed a moment after the destroy.
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    give_back_freed_memory();
                }
            }
            _ => {}
        }
    });
}

/// Returns the heap the released web view freed to the OS: glibc keeps freed memory for reuse,
/// so without this the app would weigh what the window weighed long after it is gone.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn give_back_freed_memory() {
    // SAFETY: malloc_trim only returns free pages of the heap to the OS; it touches no memory
    // in use and may be called from any thread at any time.
    unsafe { libc::malloc_trim(0) };
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn give_back_freed_memory() {}

/// How long the hidden window is kept: the configuration's, else the default (`None` = always).
pub fn release_after(state: &AppState) -> Option<Duration> {
    state.loaded().config.as_ref().map_or(Some(DEFAULT_RELEASE_WINDOW_AFTER), |c| c.release_window_after)
}
