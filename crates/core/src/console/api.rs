//! The console's JSON API under `/api/`: what its pages read and change. Handlers are thin: the
//! store does the work, and each change is logged with the admin's name.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;

use super::auth::{self, NotChecked, Session};
use super::{Console, address, change, refuse};
use crate::store::{ActivityLine, Attached, ProfileCounts, UnlinkedSession};

/// How far back Not in a ticket looks, as the tray app's.
const UNLINKED_DAYS: i64 = 14;
/// Most jobs and activity lines a page lists.
const LISTED: usize = 500;

pub(super) fn failed(e: impl std::fmt::Display) -> Response {
    tracing::error!("console: the store failed: {e}");
    refuse(StatusCode::INTERNAL_SERVER_ERROR, "the worker's store failed; see the worker's log")
}

#[derive(Debug, Deserialize)]
pub struct Login {
    name: String,
    password: String,
}

/// Checks the name and password; opens a session in a cookie. Each attempt is counted against
/// its address and name before the password is checked, and at most one password per core is
/// checked at once: the rest are answered 429 unchecked.
pub async fn login(
    State(console): State<Console>,
    connection: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    uri: Uri,
    Json(login): Json<Login>,
) -> Response {
    if let Some(refused) = console.foreign_origin(&headers, &uri) {
        return refused;
    }
    let from = address(connection);
    let name = login.name.trim().to_owned();
    let checking = match console.logins.admit(from, &name) {
        Ok(permit) => permit,
        Err(not_checked) => return unchecked(not_checked),
    };
    let found = match console.store.run(move |s| s.console_admin(&name)).await {
        Ok(found) => found,
        Err(e) => return failed(e),
    };
    let password = login.password;
    let checked = tokio::task::spawn_blocking(move || {
        let hash = found.as_ref().map_or(auth::decoy_hash(), |a| a.password_hash.as_str());
        let right = auth::verify_password(&password, hash);
        drop(checking);
        (right, found)
    })
    .await;
    let Ok((true, Some(admin))) = checked else {
        crate::metrics::global().console_login("wrong");
        // Neither the name nor the password typed is logged: either may be a password.
        tracing::warn!(%from, "console: a wrong name or password");
        return refuse(StatusCode::UNAUTHORIZED, "wrong name or password");
    };
    crate::metrics::global().console_login("right");
    tracing::info!(admin = admin.name, "console: logged in");
    let (token, session) = match auth::open_session(&console.store, &admin).await {
        Ok(opened) => opened,
        Err(e) => return failed(e),
    };
    let secure = if console.secure { "; Secure" } else { "" };
    let cookie = format!("{}={token}; Path=/; HttpOnly; SameSite=Strict{secure}", auth::COOKIE);
    let mut answer = Json(json!({"admin": session.admin, "csrf": session.csrf})).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        answer.headers_mut().insert(header::SET_COOKIE, value);
    }
    answer
}

/// A login refused before its password was checked.
fn unchecked(why: NotChecked) -> Response {
    let (outcome, seconds, said) = match why {
        NotChecked::Slowed(wait) => (
            "slowed",
            wait.seconds(),
            format!("too many logins for this name from this address; try again in {} s", wait.seconds()),
        ),
        NotChecked::Busy => ("busy", 1, "the console is checking other logins; try again in a moment".to_owned()),
    };
    crate::metrics::global().console_login(outcome);
    let mut answer = refuse(StatusCode::TOO_MANY_REQUESTS, said);
    answer.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    answer
}

pub async fn session(Extension(session): Extension<Session>) -> Json<serde_json::Value> {
    Json(json!({"admin": session.admin, "csrf": session.csrf}))
}

pub async fn logout(State(console): State<Console>, headers: HeaderMap) -> Response {
    if let Some(token) = super::cookie(&headers, auth::COOKIE) {
        if let Err(e) = auth::close_session(&console.store, &token).await {
            return failed(e);
        }
    }
    Json(json!({"said": "logged out"})).into_response()
}

pub async fn overview(State(console): State<Console>) -> Response {
    let today = Utc::now().date_naive().and_hms_opt(0, 0, 0).map_or_else(Utc::now, |d| d.and_utc());
    let counted = match console.store.run(move |s| s.profile_counts(today)).await {
        Ok(counted) => counted,
        Err(e) => return failed(e),
    };
    // Every configured profile, from the first start (a fresh desk has no jobs to count yet),
    // then any the store still counts whose profile has left the configuration.
    let mut profiles: Vec<ProfileCounts> = console
        .config
        .profiles
        .iter()
        .map(|p| counted.iter().find(|c| c.profile == p.name).cloned().unwrap_or_else(|| ProfileCounts::named(&p.name)))
        .collect();
    profiles.extend(counted.into_iter().filter(|c| console.config.profile(&c.profile).is_none()));
    let webhooks: Vec<serde_json::Value> = console
        .feeds
        .as_ref()
        .map(|f| f.webhooks())
        .unwrap_or_default()
        .into_iter()
        .map(|(profile, status)| {
            let mut said = json!(status);
            said["profile"] = json!(profile);
            said
        })
        .collect();
    Json(json!({"profiles": profiles, "webhooks": webhooks})).into_response()
}

pub async fn jobs(State(console): State<Console>) -> Response {
    match console.store.run(|s| s.jobs_failed_first(LISTED)).await {
        Ok(jobs) => {
            let jobs: Vec<_> = jobs
                .into_iter()
                .map(|j| {
                    json!({"id": j.id, "profile": j.profile, "event": j.event, "lsid": j.lsid, "state": j.state.as_str(),
                           "attempts": j.attempts, "last_error": j.last_error, "created_at": j.created_at})
                })
                .collect();
            Json(json!({"jobs": jobs})).into_response()
        }
        Err(e) => failed(e),
    }
}

/// A failed or ignored job runs again now; logged with the admin's name.
pub async fn retry(
    State(console): State<Console>,
    Extension(session): Extension<Session>,
    Path(id): Path<i64>,
) -> Response {
    let now = Utc::now();
    let Ok(Some(job)) = console.store.run(move |s| s.job(id)).await else {
        return refuse(StatusCode::NOT_FOUND, format!("there is no job {id}"));
    };
    match console.store.run(move |s| s.retry(id, now)).await {
        Ok(true) => {}
        Ok(false) => return refuse(StatusCode::CONFLICT, format!("job {id} is not failed; nothing to retry")),
        Err(e) => return failed(e),
    }
    console.wake.notify_one();
    let summary = format!("{} retried job {id} in the desk console", session.admin);
    let line = ActivityLine {
        lsid: job.lsid,
        details: Some(format!("job {id}")),
        job_id: Some(id),
        ..change(&job.profile, summary)
    };
    if let Err(answer) = console.log(line).await {
        return answer;
    }
    Json(json!({"said": format!("Job {id} is queued again.")})).into_response()
}

/// A job's history: its activity lines, oldest first.
pub async fn history(State(console): State<Console>, Path(id): Path<i64>) -> Response {
    match console.store.run(move |s| s.activity_of_job(id)).await {
        Ok(lines) => Json(json!({"lines": lines})).into_response(),
        Err(e) => failed(e),
    }
}

pub async fn unlinked(State(console): State<Console>) -> Response {
    let since = Utc::now() - chrono::Duration::days(UNLINKED_DAYS);
    match console.store.run(move |s| s.unlinked_since(since)).await {
        Ok(sessions) => {
            let minutes: u64 = sessions.iter().filter_map(|s| s.duration_seconds).map(|d| d.div_ceil(60)).sum();
            let creates =
                |profile: &str| console.config.profile(profile).is_some_and(|p| !p.ticket_default_data.is_empty());
            let sessions: Vec<_> = sessions.iter().map(|s| view(s, creates(&s.profile))).collect();
            Json(json!({"sessions": sessions, "billable_minutes": minutes})).into_response()
        }
        Err(e) => failed(e),
    }
}

/// A session as the page lists it; `can_create`: its profile has Ticket Default Data for New ticket.
fn view(s: &UnlinkedSession, can_create: bool) -> serde_json::Value {
    json!({"profile": s.profile, "lsid": s.lsid, "rep": s.rep, "described": s.described(), "company": s.company,
           "issue": s.issue, "ended_at": s.ended_at, "duration_seconds": s.duration_seconds, "reason": s.reason,
           "ticket_id": s.ticket_id, "can_create": can_create})
}

#[derive(Debug, Deserialize)]
pub struct Chosen {
    profile: String,
    lsid: String,
    #[serde(default)]
    ticket: String,
}

/// The open session the request names.
async fn open_session(console: &Console, chosen: &Chosen) -> Result<UnlinkedSession, Response> {
    let since = Utc::now() - chrono::Duration::days(UNLINKED_DAYS);
    let all = console.store.run(move |s| s.unlinked_since(since)).await.map_err(failed)?;
    all.into_iter()
        .find(|s| s.profile == chosen.profile && s.lsid == chosen.lsid)
        .ok_or_else(|| refuse(StatusCode::NOT_FOUND, format!("session {} is no longer waiting", chosen.lsid)))
}

/// Attaches a session to a ticket (its job writes there), logged with the admin's name.
pub async fn attach(
    State(console): State<Console>,
    Extension(session): Extension<Session>,
    Json(chosen): Json<Chosen>,
) -> Response {
    let Some(ticket) = crate::worker::attach_target(&chosen.ticket) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            format!("'{}' is no ticket id (like 7216) or number (like T20261124.0042)", chosen.ticket.trim()),
        );
    };
    let waiting = match open_session(&console, &chosen).await {
        Ok(s) => s,
        Err(answer) => return answer,
    };
    let by = format!("{} (desk console)", session.admin);
    let t = ticket.clone();
    let attached = console.store.run(move |s| s.attach_logged(&waiting, &t, &by, Utc::now())).await;
    match attached {
        Ok(Attached::Queued { .. }) => {
            console.wake.notify_one();
            Json(json!({"said": format!("Writing the session to {ticket}.")})).into_response()
        }
        Ok(Attached::Already { by }) => {
            Json(json!({"said": format!("{by} attached it there already.")})).into_response()
        }
        Ok(Attached::Elsewhere { ticket, by }) => {
            refuse(StatusCode::CONFLICT, format!("{by} attached it to {ticket} already; it stays there"))
        }
        Ok(Attached::Unknown | Attached::Pruned) => {
            refuse(StatusCode::NOT_FOUND, format!("session {} is no longer kept", chosen.lsid))
        }
        Err(e) => failed(e),
    }
}

/// Dismisses a session as not billable, logged with the admin's name.
pub async fn dismiss(
    State(console): State<Console>,
    Extension(session): Extension<Session>,
    Json(chosen): Json<Chosen>,
) -> Response {
    let waiting = match open_session(&console, &chosen).await {
        Ok(s) => s,
        Err(answer) => return answer,
    };
    let by = format!("{} (desk console)", session.admin);
    let described = waiting.described();
    match console.store.run(move |s| s.dismiss_logged(&waiting, &by, Utc::now())).await {
        Ok(true) => {
            Json(json!({"said": format!("Dismissed the session with {described} as not billable.")})).into_response()
        }
        Ok(false) => refuse(StatusCode::CONFLICT, "someone decided on it already"),
        Err(e) => failed(e),
    }
}

pub async fn activity(State(console): State<Console>) -> Response {
    match console.store.run(|s| s.recent_activity(LISTED)).await {
        Ok(lines) => Json(json!({"lines": lines})).into_response(),
        Err(e) => failed(e),
    }
}

/// The desk's requests of the last day by purpose, hour by hour, and Autotask's threshold as the
/// worker last read it (from what the worker counts for `/metrics`).
pub async fn requests() -> Json<serde_json::Value> {
    let metrics = crate::metrics::global();
    let threshold = metrics.threshold().map(|(used, limit)| json!({"used": used, "limit": limit}));
    Json(json!({"purposes": crate::metrics::PURPOSES, "hours": metrics.last_day(), "threshold": threshold}))
}

/// The activity log as CSV, for a spreadsheet: the newest lines first.
pub async fn activity_csv(State(console): State<Console>) -> Response {
    let lines = match console.store.run(|s| s.recent_activity(LISTED_CSV)).await {
        Ok(lines) => lines,
        Err(e) => return failed(e),
    };
    let mut csv = String::from("at,profile,rep,level,summary,details,session,ticket_id,job_id\r\n");
    for a in &lines {
        let cells = [
            a.at.to_rfc3339(),
            a.profile.clone(),
            a.rep.clone().unwrap_or_default(),
            a.level.clone(),
            a.summary.clone(),
            a.details.clone().unwrap_or_default(),
            a.lsid.clone().unwrap_or_default(),
            a.ticket_id.map(|t| t.to_string()).unwrap_or_default(),
            a.job_id.map(|j| j.to_string()).unwrap_or_default(),
        ];
        csv.push_str(&cells.iter().map(|c| csv_cell(c)).collect::<Vec<_>>().join(","));
        csv.push_str("\r\n");
    }
    let disposition = format!("attachment; filename=\"bt-autotask-activity-{}.csv\"", Utc::now().format("%Y-%m-%d"));
    let mut answer = ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], csv).into_response();
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        answer.headers_mut().insert(header::CONTENT_DISPOSITION, value);
    }
    answer
}

/// Most lines an export holds.
const LISTED_CSV: usize = 100_000;

/// One CSV cell: quoted when it must be, and never read by a spreadsheet as a formula (a
/// customer's name or an Autotask message could start with `=`).
pub(super) fn csv_cell(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}") } else { text.to_owned() };
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text }
}

#[cfg(test)]
mod tests {
    use super::csv_cell;

    #[test]
    fn a_cell_is_quoted_and_never_a_formula() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a, b"), "\"a, b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("-5"), "'-5");
    }
}
