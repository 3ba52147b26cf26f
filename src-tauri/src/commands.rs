//! The window's commands, all in one place and each a thin call into core. Inputs are names and
//! ids, checked here; the window never hands over a URL, and never receives a secret.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use bta_core::config::form::{self, FIELDS, Field, ProfileForm};
use bta_core::desk::{KeyOffer, TicketRow};
use bta_core::store::{Activity, Attached, JobState};
use bta_core::worker::{NEW_TICKET, attach_target};
use serde::Serialize;
use serde_json::{Map, Value};
use tauri::{AppHandle, Manager, State};

use crate::opener;
use crate::state::AppState;
use crate::unlinked::UnlinkedView;

type Answer<T> = Result<T, String>;

fn text(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Why a search showed nothing: in the rep's words, and the technical cause for a details line
/// (also in the log).
#[derive(Debug, Serialize)]
pub struct SearchFailed {
    said: String,
    details: Option<String>,
}

impl From<String> for SearchFailed {
    fn from(said: String) -> SearchFailed {
        SearchFailed { said, details: None }
    }
}

impl From<&str> for SearchFailed {
    fn from(said: &str) -> SearchFailed {
        SearchFailed { said: said.to_owned(), details: None }
    }
}

/// Finds tickets; a newer search cancels this one (the window ignores its answer).
#[tauri::command]
pub async fn search(
    state: State<'_, AppState>,
    profile: String,
    text: String,
    everywhere: Option<bool>,
) -> Result<Vec<TicketRow>, SearchFailed> {
    if text.len() > 200 {
        return Err("the search is too long; type a ticket number, an id or a few words of the title".into());
    }
    let desk = state.desk(&profile)?;
    let asked = text.clone();
    let everywhere = everywhere.unwrap_or(false);
    let task = tokio::spawn(async move { desk.search_in(&asked, everywhere).await });
    if let Some(previous) = state.search.lock().unwrap_or_else(|e| e.into_inner()).replace(task.abort_handle()) {
        previous.abort();
    }
    match task.await {
        Ok(Ok(rows)) => {
            state.remember_search(&profile, &text, &rows);
            Ok(rows)
        }
        Ok(Err(e)) => {
            let details = e.details().map(str::to_owned);
            tracing::warn!(
                profile,
                "a search failed: {e}{}",
                details.as_deref().map(|d| format!(" ({d})")).unwrap_or_default()
            );
            Err(SearchFailed { said: e.to_string(), details })
        }
        Err(e) if e.is_cancelled() => Err("cancelled".into()),
        Err(e) => Err(format!("the search stopped unexpectedly: {e}").into()),
    }
}

#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum KeyView {
    Key {
        short_key: String,
        key_url: String,
        has_invitation: bool,
        copied: bool,
    },
    /// The API account may not make keys: the rep console's dialog was opened instead.
    ConsoleOpened,
}

/// Makes a session key for a ticket, copies it to the clipboard and keeps its invitation.
#[tauri::command]
pub async fn session_key(state: State<'_, AppState>, profile: String, ticket_id: i64) -> Answer<KeyView> {
    let desk = state.desk(&profile)?;
    let offer = desk.session_key(ticket_id).await.map_err(text)?;
    crate::activity::remember_shown(&state, &profile, ticket_id).await;
    match offer {
        KeyOffer::Key { short_key, key_url, invitation } => {
            let copied = copy(&state, &short_key).is_ok();
            let has_invitation = invitation.is_some();
            let mut invitations = state.invitations.lock().unwrap_or_else(|e| e.into_inner());
            match invitation {
                Some(mail) => invitations.insert(ticket_id, mail),
                None => invitations.remove(&ticket_id),
            };
            Ok(KeyView::Key { short_key, key_url, has_invitation, copied })
        }
        KeyOffer::ConsoleLink(url) => {
            opener::open_page(&state, &url).await?;
            Ok(KeyView::ConsoleOpened)
        }
    }
}

fn copy(state: &AppState, text: &str) -> Answer<()> {
    let mut clipboard = state.clipboard.lock().unwrap_or_else(|e| e.into_inner());
    if clipboard.is_none() {
        *clipboard = Some(arboard::Clipboard::new().map_err(|e| format!("the clipboard is not available: {e}"))?);
    }
    let board = clipboard.as_mut().ok_or("the clipboard is not available")?;
    board.set_text(text.to_owned()).map_err(|e| format!("the key could not be copied: {e}"))
}

/// Copies a key again (the rep copied something else meanwhile).
#[tauri::command]
pub fn copy_key(state: State<'_, AppState>, key: String) -> Answer<()> {
    if key.len() > 64 || !key.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err("that is not a session key".into());
    }
    copy(&state, &key)
}

/// Opens the invitation e-mail of the key last made for the ticket.
#[tauri::command]
pub async fn send_invitation(state: State<'_, AppState>, ticket_id: i64) -> Answer<()> {
    let mail = state.invitations.lock().unwrap_or_else(|e| e.into_inner()).get(&ticket_id).cloned();
    let mail = mail.ok_or("make a session key for this ticket first; its contact has no e-mail, or no key was made")?;
    opener::open_mail(&mail).await
}

#[tauri::command]
pub async fn jump(state: State<'_, AppState>, profile: String, ticket_id: i64) -> Answer<()> {
    let url = state.desk(&profile)?.jump(ticket_id).map_err(text)?;
    crate::activity::remember_shown(&state, &profile, ticket_id).await;
    opener::open_page(&state, &url).await
}

#[tauri::command]
pub async fn open_ticket(state: State<'_, AppState>, profile: String, ticket_id: i64) -> Answer<()> {
    opener::open_ticket(&state, &profile, ticket_id).await
}

/// Opens a ticket by its whole number without asking anyone for its id (what still works when an
/// enrolled profile's desk's worker cannot be reached).
#[tauri::command]
pub async fn open_ticket_number(state: State<'_, AppState>, profile: String, number: String) -> Answer<()> {
    if !matches!(bta_core::ticket_search::Search::parse(&number), bta_core::ticket_search::Search::Number(n) if n.len() == 14)
    {
        return Err(format!("'{number}' is not a whole ticket number like T20261124.0042"));
    }
    let url = state.desk(&profile)?.ticket_url_by_number(&number.to_uppercase()).await.map_err(text)?;
    opener::open_page(&state, &url).await
}

/// A line of Activity, with whether its job can be retried now.
#[derive(Debug, Serialize)]
pub struct ActivityView {
    #[serde(flatten)]
    pub line: Activity,
    pub retryable: bool,
}

/// The worker's recent activity, newest first, its tickets named; a failed job's newest line
/// offers Retry.
#[tauri::command]
pub async fn activity(state: State<'_, AppState>) -> Answer<Vec<ActivityView>> {
    let lines = state.store.run(|s| s.recent_activity(100)).await.map_err(text)?;
    let lines = crate::activity::named(&state, lines).await;
    let mut views = own_activity(&state, lines).await?;
    views.extend(crate::activity::at_desk_workers(&state).await);
    views.sort_by_key(|v| std::cmp::Reverse(v.line.at));
    Ok(views)
}

/// The embedded worker's lines; a failed job's newest line offers Retry.
async fn own_activity(state: &AppState, lines: Vec<Activity>) -> Answer<Vec<ActivityView>> {
    state
        .store
        .run(|s| {
            let mut offered = std::collections::HashSet::new();
            let mut views = Vec::with_capacity(lines.len());
            for line in lines {
                let failed = match line.job_id {
                    Some(id) if offered.insert(id) => s.job(id)?.is_some_and(|j| j.state == JobState::Failed),
                    _ => false,
                };
                views.push(ActivityView { retryable: failed && line.level == "error", line });
            }
            Ok(views)
        })
        .await
        .map_err(text)
}

#[tauri::command]
pub async fn retry_job(state: State<'_, AppState>, job_id: i64, profile: Option<String>) -> Answer<()> {
    if let Some(link) = profile.and_then(|p| enrolled_link(&state, &p)) {
        return link.link().ok_or("no desk's worker")?.retry(job_id).await.map_err(text);
    }
    let queued = state.store.run(move |s| s.retry(job_id, chrono::Utc::now())).await.map_err(text)?;
    if !queued {
        return Err(format!("job {job_id} is not finished or failed, so there is nothing to retry"));
    }
    if let Some(worker) = state.worker.lock().await.as_ref() {
        worker.check_now();
    }
    Ok(())
}

/// My sessions of the last 14 days that ended without a ticket.
#[tauri::command]
pub async fn unlinked(state: State<'_, AppState>) -> Answer<Vec<UnlinkedView>> {
    crate::unlinked::views(&state).await
}

/// Attaches a session of mine to a ticket (its id or number); the worker writes it there now.
#[tauri::command]
pub async fn attach_session(
    state: State<'_, AppState>,
    profile: String,
    lsid: String,
    ticket: String,
) -> Answer<String> {
    let Some(ticket) = attach_target(&ticket) else { return Err(format!("'{ticket}' is no ticket id or number")) };
    if let Some(link) = enrolled_link(&state, &profile) {
        link.link().ok_or("no desk's worker")?.attach(&lsid, &ticket).await.map_err(text)?;
        return Ok("The desk's worker writes the session there now.".to_owned());
    }
    let session = crate::unlinked::find(&state, &profile, &lsid).await?;
    let by = crate::unlinked::who(&state, &profile);
    let named = match ticket.parse() {
        Ok(id) => crate::activity::remember_shown(&state, &profile, id).await.unwrap_or_else(|| format!("ticket {id}")),
        Err(_) if ticket == NEW_TICKET => "a new ticket".to_owned(),
        Err(_) => ticket.clone(),
    };
    let (attached, to) = (session.clone(), ticket.clone());
    let outcome =
        state.store.run(move |s| s.attach_logged(&attached, &to, &by, chrono::Utc::now())).await.map_err(text)?;
    match outcome {
        Attached::Queued { .. } => {
            if let Some(worker) = state.worker.lock().await.as_ref() {
                worker.check_now();
            }
            Ok(format!("Writing the session with {} to {named}.", session.described()))
        }
        Attached::Already { .. } => Ok(format!("The session was already attached to {named}.")),
        Attached::Elsewhere { ticket: there, by } => {
            Err(format!("{by} already attached this session to {there}; it is written there, not twice"))
        }
        Attached::Unknown => Err(format!("session {lsid} is no longer waiting for a ticket")),
        Attached::Pruned => {
            Err("this session's event is no longer kept (retention_days); write it in Autotask by hand".into())
        }
    }
}

/// Dismisses a session of mine as not billable.
#[tauri::command]
pub async fn dismiss_session(state: State<'_, AppState>, profile: String, lsid: String) -> Answer<()> {
    if let Some(link) = enrolled_link(&state, &profile) {
        return link.link().ok_or("no desk's worker")?.dismiss(&lsid).await.map_err(text);
    }
    let session = crate::unlinked::find(&state, &profile, &lsid).await?;
    let by = crate::unlinked::who(&state, &profile);
    let dismissed =
        state.store.run(move |s| s.dismiss_logged(&session, &by, chrono::Utc::now())).await.map_err(text)?;
    if dismissed { Ok(()) } else { Err(format!("session {lsid} is no longer waiting for a ticket")) }
}

/// The desk, when the profile was enrolled at a desk's worker (which then keeps its sessions).
pub(crate) fn enrolled_link(state: &AppState, profile: &str) -> Option<std::sync::Arc<bta_core::desk::Desk>> {
    state.loaded().desks.get(profile).filter(|d| d.enrolled()).cloned()
}

/// Looks for finished sessions now instead of at the next polling interval.
#[tauri::command]
pub async fn check_now(state: State<'_, AppState>) -> Answer<()> {
    match state.worker.lock().await.as_ref() {
        Some(worker) => {
            worker.check_now();
            Ok(())
        }
        None => Err("the worker is paused or has no profile to work on".into()),
    }
}

#[derive(Debug, Serialize)]
pub struct Status {
    paused: bool,
    running: bool,
    /// Every profile was enrolled at a desk's worker, which writes their sessions.
    desk_writes: bool,
    profiles: Vec<String>,
    /// The profiles whose searches the desk's worker answers from its copy of the tickets.
    desk_searched: Vec<String>,
    problems: Vec<String>,
}

#[tauri::command]
pub async fn worker_status(state: State<'_, AppState>) -> Answer<Status> {
    let running = state.worker.lock().await.is_some();
    let loaded = state.loaded();
    let mut profiles: Vec<String> = loaded.desks.keys().cloned().collect();
    profiles.sort();
    let desk_writes = !loaded.desks.is_empty() && loaded.desks.values().all(|d| d.enrolled());
    let mut desk_searched: Vec<String> =
        loaded.desks.iter().filter(|(_, d)| d.searches_at_desk()).map(|(name, _)| name.clone()).collect();
    desk_searched.sort();
    Ok(Status {
        paused: state.paused.load(Ordering::SeqCst),
        running,
        desk_writes,
        profiles,
        desk_searched,
        problems: loaded.problems.clone(),
    })
}

#[tauri::command]
pub async fn set_paused(app: AppHandle, paused: bool) -> Answer<()> {
    crate::tray::set_paused(&app, paused).await;
    Ok(())
}

#[derive(Debug, Serialize)]
pub struct SettingsView {
    path: String,
    fields: &'static [Field],
    profiles: Vec<ProfileForm>,
    problems: Vec<String>,
    autostart: bool,
    shortcut: crate::shortcut::ShortcutStatus,
    /// `release_window_after_minutes` (0 = never), and what it means.
    release_minutes: f64,
    release_note: String,
    /// Per profile following the desk's worker: who writes its sessions now, in a sentence.
    writers: HashMap<String, String>,
    /// Per enrolled profile: "Enrolled at https://desk-server:8180 as alex.morgan".
    enrolled: HashMap<String, String>,
    /// The desk this computer's installation names, where a rep enrols with a code alone.
    machine_desk: Option<crate::machine_desk::MachineDesk>,
}

#[tauri::command]
pub fn settings(app: AppHandle, state: State<'_, AppState>) -> Answer<SettingsView> {
    let text = std::fs::read_to_string(&state.config_path).unwrap_or_default();
    let profiles = form::profiles(&text, state.secrets.as_ref()).map_err(self::text)?;
    let release_minutes = crate::window::release_after(&state).map_or(0.0, |d| d.as_secs_f64() / 60.0);
    Ok(SettingsView {
        path: state.config_path.display().to_string(),
        fields: FIELDS,
        profiles,
        problems: state.loaded().problems.clone(),
        autostart: crate::autostart::enabled(&app),
        shortcut: app.state::<crate::shortcut::Current>().status(),
        release_minutes,
        release_note: release_said(release_minutes),
        writers: state
            .loaded()
            .desks
            .iter()
            .filter_map(|(name, desk)| Some((name.clone(), desk.link()?.said())))
            .collect(),
        enrolled: enrolled_at(&state),
        machine_desk: crate::machine_desk::read(),
    })
}

/// Saves one profile (`original` = its name before the edit; none for a new one).
#[tauri::command]
pub async fn save_profile(
    state: State<'_, AppState>,
    original: Option<String>,
    values: Map<String, Value>,
) -> Answer<()> {
    edit_config(&state, |text, base| form::save_profile(text, base, original.as_deref(), &values)).await
}

/// Removes a profile from the configuration (its stored secrets stay in the keyring).
#[tauri::command]
pub async fn remove_profile(state: State<'_, AppState>, name: String) -> Answer<()> {
    edit_config(&state, |text, base| form::remove_profile(text, base, &name)).await
}

/// What enrolling with a link (or a code and the worker's address) would do, for the rep to confirm.
#[tauri::command]
pub fn enrol_preview(
    state: State<'_, AppState>,
    text: String,
    desk: Option<String>,
) -> Answer<bta_core::desk::EnrolPreview> {
    crate::enrolment::preview(&state, &text, desk.as_deref())
}

/// Enrols this app at the desk's worker with the link the rep confirmed, replacing the enrolled
/// profile `replace` when they chose to.
#[tauri::command]
pub async fn enrol(
    state: State<'_, AppState>,
    text: String,
    desk: Option<String>,
    replace: Option<String>,
) -> Answer<String> {
    crate::enrolment::enrol(&state, &text, desk.as_deref(), replace.as_deref()).await
}

/// The enrolment link the OS opened the app with, once, for Settings to confirm.
#[tauri::command]
pub fn pending_enrolment(state: State<'_, AppState>) -> Option<String> {
    state.pending_link.lock().unwrap_or_else(|e| e.into_inner()).take()
}

/// Leaves the desk: the enrolled profile and its token are forgotten.
#[tauri::command]
pub async fn leave(state: State<'_, AppState>, name: String) -> Answer<()> {
    crate::enrolment::leave(&state, &name).await
}

/// Rewrites the configuration file with `change` (which checks the result), then reloads it.
pub(crate) async fn edit_config(
    state: &AppState,
    change: impl FnOnce(&str, &std::path::Path) -> Result<String, form::FormError>,
) -> Answer<()> {
    let text = match std::fs::read_to_string(&state.config_path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(format!("the settings cannot be read: {e}")),
    };
    let base = state.config_path.parent().unwrap_or(std::path::Path::new("."));
    form::write_atomically(&state.config_path, &change(&text, base).map_err(self::text)?)?;
    state.reload().await;
    Ok(())
}

/// Puts a secret typed in Settings into the OS keyring; it never comes back to the window.
#[tauri::command]
pub async fn store_secret(state: State<'_, AppState>, profile: String, setting: String, value: String) -> Answer<()> {
    form::store_secret(state.secrets.as_ref(), &profile, &setting, &value)?;
    state.reload().await;
    Ok(())
}

#[derive(Debug, Serialize)]
pub struct CheckReport {
    lines: Vec<String>,
    failures: usize,
}

/// Test connection: the same report as `bt-autotask-worker check`.
#[tauri::command]
pub async fn test_connection(state: State<'_, AppState>, profile: String) -> Answer<CheckReport> {
    let chosen = state.loaded().config.as_ref().and_then(|c| c.profile(&profile).cloned());
    let chosen = chosen.ok_or_else(|| format!("no profile is named '{profile}'"))?;
    let problems: Vec<String> = state.loaded().problems_of(&profile).iter().map(|p| format!("✗ {p}")).collect();
    if !problems.is_empty() {
        let failures = problems.len();
        return Ok(CheckReport { lines: problems, failures });
    }
    let mut lines = Vec::new();
    if let Some(desk) = enrolled_link(&state, &profile) {
        return Ok(check_enrolled(&desk).await);
    }
    let failures = bta_core::check::profile(&chosen, &mut |line: &str| lines.push(line.to_owned())).await;
    lines.push(if failures == 0 { "All checks passed.".into() } else { format!("{failures} check(s) failed.") });
    Ok(CheckReport { lines, failures })
}

/// Each enrolled profile, said as Settings shows it.
fn enrolled_at(state: &AppState) -> HashMap<String, String> {
    let loaded = state.loaded();
    let profiles = loaded.config.iter().flat_map(|c| &c.profiles).filter(|p| p.enrolled.is_some());
    profiles
        .filter_map(|p| {
            let bta_core::config::DeskRole::Follows { url, .. } = &p.desk else { return None };
            let rep = p.rep_username.as_deref().unwrap_or("?");
            Some((p.name.clone(), format!("Enrolled at {} as {rep}", url.origin().ascii_serialization())))
        })
        .collect()
}

/// Test connection of an enrolled profile: whether the desk's worker answers this app's token.
async fn check_enrolled(desk: &bta_core::desk::Desk) -> CheckReport {
    match desk.watch(std::time::Duration::ZERO).await {
        Ok(_) => {
            let said = desk.link().map(|l| l.said()).unwrap_or_default();
            CheckReport { lines: vec![format!("✓ {said}"), "All checks passed.".into()], failures: 0 }
        }
        Err(e) => CheckReport { lines: vec![format!("✗ {e}"), "1 check(s) failed.".into()], failures: 1 },
    }
}

#[tauri::command]
pub fn set_autostart(app: AppHandle, enabled: bool) -> Answer<()> {
    crate::autostart::set(&app, enabled)
}

/// Changes the keys that open the window from anywhere ("" = none): taken from the desktop
/// first, and written to the configuration only once they are.
#[tauri::command]
pub async fn set_global_shortcut(
    app: AppHandle,
    state: State<'_, AppState>,
    keys: String,
) -> Answer<crate::shortcut::ShortcutStatus> {
    let keys = keys.trim().to_owned();
    if !keys.is_empty() {
        crate::shortcut::parse(&keys)?;
    }
    let before = app.state::<crate::shortcut::Current>().status();
    let now = crate::shortcut::apply(&app, &keys);
    if !now.active && !keys.is_empty() {
        crate::shortcut::apply(&app, &before.keys);
        return Err(now.note.unwrap_or_else(|| format!("{keys} could not be taken from the desktop")));
    }
    edit_config(&state, |text, _| form::set_desktop_setting(text, "global_shortcut", &keys)).await?;
    Ok(now)
}

/// Changes how long the window stays hidden before it is closed to free its memory (0 = never).
#[tauri::command]
pub async fn set_release_window_after(state: State<'_, AppState>, minutes: f64) -> Answer<String> {
    if !(0.0..=1440.0).contains(&minutes) {
        return Err(format!("{minutes} minutes: give 0 (never) to 1440 minutes"));
    }
    edit_config(&state, |text, _| form::set_desktop_setting(text, "release_window_after_minutes", minutes)).await?;
    Ok(release_said(minutes))
}

/// What Settings says about the release, from the configured minutes (0 = never).
fn release_said(minutes: f64) -> String {
    if minutes > 0.0 {
        format!("Hidden {minutes} min, the window closes to free its memory; it opens again at once.")
    } else {
        "The hidden window is kept, with WebKit's processes (about 130 MB here).".to_owned()
    }
}

#[tauri::command]
pub fn hide_window(app: AppHandle) -> Answer<()> {
    crate::window::hide(&app);
    Ok(())
}

/// What a page that has just loaded opens on: the view asked for, and the last search with its
/// results while they are fresh (a window made anew shows them without asking Autotask again).
#[derive(Debug, Serialize)]
pub struct Opening {
    view: Option<String>,
    search: Option<crate::state::LastSearch>,
    /// How long typing must pause before the window searches (`desk::TYPING_PAUSE`).
    typing_pause_ms: u128,
}

/// The page is ready: the window shows now (a window made anew waits for this).
#[tauri::command]
pub fn window_ready(app: AppHandle, state: State<'_, AppState>) -> Answer<Opening> {
    let view = crate::window::ready(&app);
    Ok(Opening { view, search: state.last_search(), typing_pause_ms: bta_core::desk::TYPING_PAUSE.as_millis() })
}
