//! The console's pages about the desk itself: its reps (enrol with a one-time link and its QR
//! code, revoke), each profile's check report (the seed's Test icon), and the LiveLinks to paste
//! into Autotask and the appliance.

use axum::extract::{Query, State};
use axum::http::uri::Authority;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;

use super::api::failed;
use super::auth::Session;
use super::{Console, change, refuse};
use crate::gateway::enrol;
use crate::store::ActivityLine;

pub async fn reps(State(console): State<Console>) -> Response {
    match console.store.run(|s| s.reps()).await {
        Ok(reps) => {
            let now = Utc::now();
            let serving: Vec<&str> = console
                .config
                .profiles
                .iter()
                .filter(|p| matches!(p.desk, crate::config::DeskRole::Serves))
                .map(|p| p.name.as_str())
                .collect();
            Json(json!({"reps": reps.iter().map(|r| r.to_json(now)).collect::<Vec<_>>(), "profiles": serving}))
                .into_response()
        }
        Err(e) => failed(e),
    }
}

#[derive(Debug, Deserialize)]
pub struct Enrolment {
    profile: String,
    username: String,
    #[serde(default)]
    email: Option<String>,
}

/// Makes a rep's one-time enrolment link, shown once (with its QR code) to send to the rep.
pub async fn enrol(
    State(console): State<Console>,
    Extension(session): Extension<Session>,
    Json(asked): Json<Enrolment>,
) -> Response {
    let Some(profile) = console.config.profile(&asked.profile) else {
        return refuse(StatusCode::NOT_FOUND, format!("no profile is named '{}'", asked.profile));
    };
    let (desk, pin) = match where_reps_enrol(&console) {
        Ok(found) => found,
        Err((status, why)) => return refuse(status, why),
    };
    let email = asked.email.as_deref().filter(|e| !e.trim().is_empty());
    let invitation = match enrol::invite(
        &console.store,
        profile,
        &asked.username,
        email,
        &desk,
        &console.config.other_desk_urls,
        pin.as_deref(),
    )
    .await
    {
        Ok(i) => i,
        Err(enrol::InviteError::Store(e)) => return failed(e),
        Err(e) => return refuse(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
    };
    let summary = format!(
        "{} made an enrolment link for {} ({}) in the desk console",
        session.admin, invitation.username, invitation.email
    );
    let line = ActivityLine { rep: Some(invitation.username.clone()), ..change(&profile.name, summary) };
    if let Err(answer) = console.log(line).await {
        return answer;
    }
    let link = invitation.link.expose().to_owned();
    Json(json!({
        "username": invitation.username,
        "email": invitation.email,
        "expires": invitation.expires.to_rfc3339(),
        "code": invitation.code.expose(),
        "qr": qr_rows(&link),
        "link": link,
    }))
    .into_response()
}

/// Where reps' apps reach this worker, and its certificate's pin, as enrolment links carry them;
/// else why not, as [`refuse`] answers it.
pub(super) fn where_reps_enrol(console: &Console) -> Result<(url::Url, Option<String>), (StatusCode, String)> {
    let Some(desk) = console.config.desk_url() else {
        return Err((
            StatusCode::CONFLICT,
            "reps' apps need the address they reach this worker at: set public_url in the configuration".to_owned(),
        ));
    };
    let pin = enrol::certificate_pin(&console.config).map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e))?;
    Ok((desk, pin))
}

/// The link as a QR code: one string of `1` (dark) and `0` per row, drawn by the page.
fn qr_rows(text: &str) -> Vec<String> {
    let Ok(code) = qrcode::QrCode::new(text.as_bytes()) else { return Vec::new() };
    let width = code.width();
    let colors = code.to_colors();
    colors
        .chunks(width)
        .map(|row| row.iter().map(|c| if *c == qrcode::Color::Dark { '1' } else { '0' }).collect())
        .collect()
}

#[derive(Debug, Deserialize)]
pub struct Revocation {
    username: String,
    #[serde(default)]
    profile: Option<String>,
}

/// Revokes a rep: their app's token and any waiting link stop working at once.
pub async fn revoke(
    State(console): State<Console>,
    Extension(session): Extension<Session>,
    Json(asked): Json<Revocation>,
) -> Response {
    let (username, profile) = (asked.username.clone(), asked.profile.clone());
    let revoked = match console.store.run(move |s| s.revoke_rep(&username, profile.as_deref(), Utc::now())).await {
        Ok(n) => n,
        Err(e) => return failed(e),
    };
    if revoked == 0 {
        return refuse(StatusCode::NOT_FOUND, format!("no enrolled or invited rep is named '{}'", asked.username));
    }
    let summary = format!("{} revoked {} in the desk console", session.admin, asked.username);
    let profile = asked.profile.clone().unwrap_or_default();
    let line = ActivityLine { rep: Some(asked.username.clone()), ..change(&profile, summary) };
    if let Err(answer) = console.log(line).await {
        return answer;
    }
    Json(json!({"said": format!("Revoked {}: their app's token and any waiting link stop working.", asked.username)}))
        .into_response()
}

#[derive(Debug, Deserialize)]
pub struct Named {
    profile: String,
}

/// The profile's check report, as `check` and the tray's Test connection give it.
pub async fn check(State(console): State<Console>, Query(named): Query<Named>) -> Response {
    let Some(profile) = console.config.profile(&named.profile) else {
        return refuse(StatusCode::NOT_FOUND, format!("no profile is named '{}'", named.profile));
    };
    let mut lines = Vec::new();
    let mut failures = crate::check::profile(profile, &mut |line: &str| lines.push(line.to_owned())).await;
    if profile.write_as_rep {
        let name = profile.name.clone();
        let listed = crate::check::REFUSED_REPS_LISTED;
        match console.store.run(move |s| s.refused_reps(&name, listed, chrono::Utc::now())).await {
            Ok(reps) => {
                if let Some(line) = crate::check::refused_reps_line(&reps) {
                    lines.push(line);
                    failures += 1;
                }
            }
            Err(e) => {
                lines.push(format!("  the reps Autotask would not let the API user write as could not be read: {e}"))
            }
        }
    }
    Json(json!({"lines": lines, "failures": failures})).into_response()
}

/// What `livelinks` prints for the profile. The outbound event URL is built from the
/// configuration (scheme, `public_url` or the listener's address, its port); only where the
/// configuration names no host does it use the host this console was reached at.
pub async fn livelinks(
    State(console): State<Console>,
    Query(named): Query<Named>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let Some(profile) = console.config.profile(&named.profile) else {
        return refuse(StatusCode::NOT_FOUND, format!("no profile is named '{}'", named.profile));
    };
    let appliance = match profile.beyondtrust.base_url() {
        Ok(url) => url,
        Err(e) => return refuse(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
    };
    let zone = match crate::autotask::AutotaskClient::zone_without_secrets(&profile.autotask).await {
        Ok(zone) => zone,
        Err(e) => return refuse(StatusCode::BAD_GATEWAY, e.to_string()),
    };
    let authority = uri
        .authority()
        .cloned()
        .or_else(|| headers.get(header::HOST).and_then(|h| h.to_str().ok()).and_then(|h| h.parse::<Authority>().ok()));
    let outbound = console.config.outbound_event_url(profile, None, authority.as_ref().map(Authority::host));
    let text = crate::beyondtrust::livelinks::setup_instructions(&appliance, &zone.web_root, &outbound);
    Json(json!({"text": text})).into_response()
}

#[derive(Debug, Deserialize)]
pub struct Asked {
    profile: String,
    #[serde(default)]
    q: String,
}

/// The desk's ticket search (as the tray app's), for attaching a session to its ticket.
pub async fn search(State(console): State<Console>, Query(asked): Query<Asked>) -> Response {
    let Some(profile) = console.config.profile(&asked.profile) else {
        return refuse(StatusCode::NOT_FOUND, format!("no profile is named '{}'", asked.profile));
    };
    if asked.q.trim().chars().count() < 2 {
        return Json(json!({"tickets": []})).into_response();
    }
    let client = match console.autotask(profile) {
        Ok(client) => client,
        Err(e) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    match crate::desk::search(&client, &asked.q, None).await {
        Ok(rows) => Json(json!({"tickets": rows})).into_response(),
        Err(e) => refuse(StatusCode::BAD_GATEWAY, format!("Autotask could not be searched: {e}")),
    }
}
