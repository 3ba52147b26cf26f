//! The window's life: shown on a view, hidden, and — once hidden for
//! `release_window_after_minutes` — closed with its web view, so WebKit's processes exit while the
//! rep works in other windows. The tray, the worker, the watch and notifications go on in the
//! app's own process; opening the window again makes it anew from the app's memory.
//!
//! A window — the first one and each made anew — is shown only when its page is ready (it says
//! so, with the view it opened and the search focused), so it never flashes empty, moves, or takes
//! keys and clicks it cannot act on yet.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
    /// Where a window whose page is still loading opens when it is ready: the view, and near what.
    pending: Mutex<Option<(String, Near)>>,
    /// Counts the windows made anew, so a wait for one window's page never shows another's.
    windows_made: AtomicU64,
    /// When the window was last made anew, to say how long its page took to be ready.
    made: Mutex<Option<std::time::Instant>>,
    /// Whether the window's page has said it is ready since the window was made (the first
    /// window's too): until then showing it would show an empty page that takes clicks it drops.
    page_ready: AtomicBool,
}

/// Shows the window on a view (`search`, `activity`, `unlinked`, `settings`): a hidden window
/// first moves next to `near`, a shown one stays where the rep has it; a released one is made anew;
/// one whose page is still loading shows, where asked last, once the page is ready.
pub fn show(app: &AppHandle, view: &str, near: Near) {
    let life = app.state::<Life>();
    life.moments.fetch_add(1, Ordering::SeqCst);
    match app.get_webview_window(LABEL) {
        Some(window) if life.page_ready.load(Ordering::SeqCst) => {
            let started = std::time::Instant::now();
            appear(&window, near);
            let _ = app.emit("navigate", view);
            // Where a warm open's time goes: the benchmark reads this line.
            tracing::info!("window shown: placing and showing it took {} µs", started.elapsed().as_micros());
        }
        window => {
            *life.pending.lock().unwrap_or_else(|e| e.into_inner()) = Some((view.to_owned(), near));
            match window {
                Some(_) => show_when_ready(app),
                None => remake(app),
            }
        }
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
    let life = app.state::<Life>();
    life.page_ready.store(false, Ordering::SeqCst);
    life.windows_made.fetch_add(1, Ordering::SeqCst);
    match WebviewWindowBuilder::from_config(app, &config).and_then(|b| b.build()) {
        Ok(_) => {
            *life.made.lock().unwrap_or_else(|e| e.into_inner()) = Some(std::time::Instant::now());
            show_when_ready(app);
        }
        Err(e) => tracing::error!("the window could not be made: {e}"),
    }
}

/// Leaves showing the window to its page's word that it is ready, or to a few seconds' wait.
fn show_when_ready(app: &AppHandle) {
    let window = app.state::<Life>().windows_made.load(Ordering::SeqCst);
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(READY_AT_MOST).await;
        let life = app.state::<Life>();
        // Only for the same window, and only when its page has not said so itself.
        if life.windows_made.load(Ordering::SeqCst) == window && !life.page_ready.load(Ordering::SeqCst) {
            tracing::warn!("the window's page was not ready after {READY_AT_MOST:?}: shown anyway");
            ready(&app);
        }
    });
}

/// The page is ready (or has been given long enough): show the window where it was asked for.
/// Returns the view it opens on.
pub fn ready(app: &AppHandle) -> Option<String> {
    let life = app.state::<Life>();
    life.page_ready.store(true, Ordering::SeqCst);
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
