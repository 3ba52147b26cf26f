//! Desktop notifications, and the window's live Activity list: when the embedded worker writes a
//! session into a ticket or fails to, when one of the rep's open tickets changes in Autotask (told
//! by `ticket_watch`), and when a session of the rep's ends without a ticket. Clicking a
//! notification opens its ticket (or the list).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bta_core::store::Activity;
use tauri::{AppHandle, Emitter, Manager};

use crate::state::AppState;

/// How often the activity log is read for news.
const ACTIVITY_EVERY: Duration = Duration::from_millis(1000);

/// What a click on a notification opens.
#[derive(Debug, Clone)]
pub enum Target {
    Ticket { profile: String, ticket_id: i64 },
    Activity,
    Unlinked,
}

pub fn start(app: &AppHandle) {
    tauri::async_runtime::spawn(activity_loop(app.clone()));
}

/// Tickets the worker just wrote, so the watch does not report the worker's own note as a change.
#[derive(Debug, Default)]
pub struct RecentWrites(std::sync::Mutex<HashMap<i64, Instant>>);

impl RecentWrites {
    fn add(&self, ticket: i64) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).insert(ticket, Instant::now());
    }

    pub fn contains(&self, ticket: i64, within: Duration) -> bool {
        let mut writes = self.0.lock().unwrap_or_else(|e| e.into_inner());
        writes.retain(|_, at| at.elapsed() < within);
        writes.contains_key(&ticket)
    }
}

async fn activity_loop(app: AppHandle) {
    let state = app.state::<AppState>();
    // Only what happens from now on is news.
    let mut seen = newest(&state).await.unwrap_or(0);
    if let Ok(unlinked) = crate::unlinked::mine(&state).await {
        crate::tray::show_unlinked(&app, unlinked.len());
    }
    loop {
        tokio::time::sleep(ACTIVITY_EVERY).await;
        let rows = match state.store.run(|s| s.recent_activity(50)).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!("the activity log could not be read: {e}");
                continue;
            }
        };
        let fresh: Vec<Activity> = rows.iter().filter(|a| a.id > seen).cloned().collect();
        if fresh.is_empty() {
            continue;
        }
        seen = rows.iter().map(|a| a.id).max().unwrap_or(seen);
        let _ = app.emit("activity", ());
        if let Ok(unlinked) = crate::unlinked::mine(&state).await {
            crate::tray::show_unlinked(&app, unlinked.len());
        }
        // The same words as Activity: the ticket by number and title.
        for a in crate::activity::named(&state, fresh).await.iter().rev() {
            announce(&app, a);
            if a.level == "warning" {
                not_in_a_ticket(&app, a).await;
            }
        }
    }
}

/// A session of mine that ended without a ticket (this very line's job put it on the list):
/// billable time to attach.
async fn not_in_a_ticket(app: &AppHandle, a: &Activity) {
    let Some(lsid) = a.lsid.as_deref() else { return };
    let Ok(session) = crate::unlinked::find(&app.state::<AppState>(), &a.profile, lsid).await else { return };
    if a.job_id != Some(session.job_id) {
        return;
    }
    let body = "Attach it to its ticket, or dismiss it, under Not in a ticket.";
    show(app, &crate::unlinked::headline(&session), body, Target::Unlinked);
}

async fn newest(state: &AppState) -> Option<i64> {
    state.store.run(|s| s.recent_activity(1)).await.ok()?.first().map(|a| a.id)
}

fn announce(app: &AppHandle, a: &Activity) {
    match (a.level.as_str(), a.ticket_id) {
        ("info", Some(ticket_id)) => {
            app.state::<RecentWrites>().add(ticket_id);
            let target = Target::Ticket { profile: a.profile.clone(), ticket_id };
            show(app, "Session written to its ticket", &a.summary, target);
        }
        ("error", _) => show(app, "Could not write a session to Autotask", &a.summary, Target::Activity),
        _ => {}
    }
}

/// Shows a notification off the async threads; a click opens its target.
pub fn show(app: &AppHandle, summary: &str, body: &str, target: Target) {
    let (app, summary, body) = (app.clone(), summary.to_owned(), body.to_owned());
    tauri::async_runtime::spawn_blocking(move || {
        if let Err(e) = deliver(app, &summary, &body, target) {
            tracing::warn!("the desktop did not take the notification: {e}");
        }
    });
}

fn clicked(app: AppHandle, target: Target) {
    tauri::async_runtime::spawn(open(app, target));
}

/// Through the desktop's notification server (D-Bus), which reports the click; blocks until the
/// notification is closed.
#[cfg(all(unix, not(target_os = "macos")))]
fn deliver(app: AppHandle, summary: &str, body: &str, target: Target) -> Result<(), String> {
    let handle = desktop_note(summary, body).show().map_err(|e| e.to_string())?;
    handle.wait_for_action(|action| {
        if action == "default" {
            clicked(app, target);
        }
    });
    Ok(())
}

/// Notification Center, through notify-rust, which reports no click.
#[cfg(target_os = "macos")]
fn deliver(_app: AppHandle, summary: &str, body: &str, _target: Target) -> Result<(), String> {
    desktop_note(summary, body).show().map(drop).map_err(|e| e.to_string())
}

#[cfg(not(windows))]
fn desktop_note(summary: &str, body: &str) -> notify_rust::Notification {
    let mut note = notify_rust::Notification::new();
    let body = if reads_markup() { escape_markup(body) } else { body.to_owned() };
    note.appname("bt-autotask").summary(summary).body(&body).icon("bt-autotask").action("default", "Open");
    note
}

/// Whether the desktop's notification server reads markup in a body (its `body-markup`
/// capability), asked once: then a ticket titled `<b>…` must be escaped to show as typed.
#[cfg(all(unix, not(target_os = "macos")))]
fn reads_markup() -> bool {
    static READS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *READS.get_or_init(|| notify_rust::get_capabilities().is_ok_and(|c| c.iter().any(|c| c == "body-markup")))
}

#[cfg(target_os = "macos")]
fn reads_markup() -> bool {
    false
}

/// A body's text as markup that shows it as written: `&`, `<` and `>` escaped.
#[cfg(any(not(windows), test))]
fn escape_markup(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// A WinRT toast; Windows reports a click on it to the running app.
#[cfg(windows)]
fn deliver(app: AppHandle, summary: &str, body: &str, target: Target) -> Result<(), String> {
    let app_id = toast_app_id(&app.config().identifier, std::env::var_os("APPDATA").as_deref());
    tauri_winrt_notification::Toast::new(&app_id)
        .title(summary)
        .text1(body)
        .on_activated(move |_| {
            clicked(app.clone(), target.clone());
            Ok(())
        })
        .show()
        .map_err(|e| e.to_string())
}

/// The AppUserModelID a toast is shown under. Windows drops the toasts of an id no Start-menu
/// shortcut registers, so the app's own identifier is used once the installer's shortcut exists,
/// and PowerShell's otherwise (a build started from its folder).
#[cfg(any(windows, test))]
fn toast_app_id(identifier: &str, roaming_app_data: Option<&std::ffi::OsStr>) -> String {
    const POWERSHELL_APP_ID: &str = "{1AC14E77-02E7-4E5D-B744-2EB1AE5198B7}\\WindowsPowerShell\\v1.0\\powershell.exe";
    let shortcut = roaming_app_data
        .map(|dir| std::path::Path::new(dir).join(START_MENU_SHORTCUT))
        .is_some_and(|path| path.is_file());
    if shortcut { identifier.to_owned() } else { POWERSHELL_APP_ID.to_owned() }
}

/// The installer's Start-menu shortcut, under the roaming application data folder; it carries the
/// app's identifier as its AppUserModelID (`src-tauri/windows/installer.nsi`).
#[cfg(any(windows, test))]
const START_MENU_SHORTCUT: &str = "Microsoft/Windows/Start Menu/Programs/bt-autotask.lnk";

async fn open(app: AppHandle, target: Target) {
    match target {
        Target::Activity => crate::window::show(&app, "activity", crate::placement::Near::Panel),
        Target::Unlinked => crate::window::show(&app, "unlinked", crate::placement::Near::Panel),
        Target::Ticket { profile, ticket_id } => {
            if let Err(e) = crate::opener::open_ticket(&app.state::<AppState>(), &profile, ticket_id).await {
                tracing::warn!("the ticket could not be opened: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_shows_its_markup_as_written() {
        assert_eq!(
            escape_markup("Wrote the session to T1 <b>Printer</b> & <a href=\"x\">co</a>"),
            "Wrote the session to T1 &lt;b&gt;Printer&lt;/b&gt; &amp; &lt;a href=\"x\"&gt;co&lt;/a&gt;"
        );
    }

    #[test]
    fn toasts_use_the_apps_identifier_only_once_the_installer_registered_it() {
        let roaming = tempfile::tempdir().unwrap();
        let dir = roaming.path().as_os_str();
        let unregistered = toast_app_id("com.example.bt-autotask", Some(dir));
        assert!(unregistered.ends_with("powershell.exe"), "{unregistered}");
        assert!(toast_app_id("com.example.bt-autotask", None).ends_with("powershell.exe"));
        let shortcut = roaming.path().join(START_MENU_SHORTCUT);
        std::fs::create_dir_all(shortcut.parent().unwrap()).unwrap();
        std::fs::write(&shortcut, b"").unwrap();
        assert_eq!(toast_app_id("com.example.bt-autotask", Some(dir)), "com.example.bt-autotask");
    }
}
