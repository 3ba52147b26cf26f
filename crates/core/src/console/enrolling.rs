//! Enrolling a desk at once: the departments and queues of its Autotask to pick from, their
//! active resources as the reps they would enrol as, and many reps enrolled in one step — each
//! sent their own link by e-mail through the desk's relay (`smtp_url`), or every link in one CSV
//! for the desk's own mail merge or RMM. Each link works once, as one made alone does; what was
//! sent to whom is in Activity.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::json;

use super::api::csv_cell;
use super::auth::Session;
use super::{Console, change, refuse};
use crate::config::Profile;
use crate::gateway::enrol::{self, Invitation};
use crate::gateway::roster::{self, Group};
use crate::mail::Mailer;
use crate::store::ActivityLine;

/// Most reps enrolled in one step (a desk of several hundred takes a few).
const MOST_AT_ONCE: usize = 500;

#[derive(Debug, Deserialize)]
pub struct Named {
    profile: String,
}

/// `GET /api/reps/groups`: the departments and queues to pick reps from, and whether the desk
/// can send mail.
pub async fn groups(State(console): State<Console>, Query(named): Query<Named>) -> Response {
    let client = match console.profile_and_client(&named.profile) {
        Ok((_, client)) => client,
        Err((status, why)) => return refuse(status, why),
    };
    match roster::groups(&client).await {
        Ok(groups) => Json(json!({
            "departments": groups.departments,
            "queues": groups.queues,
            "mail": console.config.smtp.is_some(),
        }))
        .into_response(),
        Err(e) => refuse(StatusCode::BAD_GATEWAY, format!("Autotask could not be asked for its departments: {e}")),
    }
}

#[derive(Debug, Deserialize)]
pub struct Picked {
    profile: String,
    #[serde(default)]
    department: Option<i64>,
    #[serde(default)]
    queue: Option<i64>,
}

/// `GET /api/reps/candidates`: the active resources of a department or queue, each with the
/// username they would enrol as (none where the admin is to type it).
pub async fn candidates(State(console): State<Console>, Query(picked): Query<Picked>) -> Response {
    let group = match (picked.department, picked.queue) {
        (Some(id), None) => Group::Department(id),
        (None, Some(id)) => Group::Queue(id),
        _ => return refuse(StatusCode::BAD_REQUEST, "pick one department or one queue"),
    };
    let (profile, client) = match console.profile_and_client(&picked.profile) {
        Ok(found) => found,
        Err((status, why)) => return refuse(status, why),
    };
    match roster::candidates(&client, profile, group).await {
        Ok(found) => Json(json!({"candidates": found})).into_response(),
        Err(e) => refuse(StatusCode::BAD_GATEWAY, format!("Autotask could not be asked who works there: {e}")),
    }
}

/// How the links reach the reps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Delivery {
    /// Each rep their own message, through the desk's relay.
    Email,
    /// Every link in one CSV, for the desk's own mail merge or RMM.
    Csv,
}

#[derive(Debug, Deserialize)]
pub struct Rep {
    username: String,
    #[serde(default)]
    email: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Many {
    profile: String,
    reps: Vec<Rep>,
    delivery: Delivery,
}

/// `POST /api/reps/enrol-many`: a link for each rep, sent or gathered into a CSV; each rep's
/// outcome said on its own (one rep Autotask does not know stops no other).
pub async fn enrol_many(
    State(console): State<Console>,
    Extension(session): Extension<Session>,
    Json(asked): Json<Many>,
) -> Response {
    if asked.reps.is_empty() || asked.reps.len() > MOST_AT_ONCE {
        return refuse(StatusCode::BAD_REQUEST, format!("enrol from 1 to {MOST_AT_ONCE} reps at once"));
    }
    let Some(profile) = console.config.profile(&asked.profile) else {
        return refuse(StatusCode::NOT_FOUND, format!("no profile is named '{}'", asked.profile));
    };
    let mailer = match (asked.delivery, &console.config.smtp) {
        (Delivery::Csv, _) => None,
        (Delivery::Email, None) => {
            return refuse(
                StatusCode::CONFLICT,
                "this desk has no mail relay: set smtp_url and smtp_from in the configuration, or download the links as a CSV",
            );
        }
        (Delivery::Email, Some(smtp)) => match Mailer::new(smtp) {
            Ok(mailer) => Some(mailer),
            Err(e) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        },
    };
    let (desk, pin) = match super::desk::where_reps_enrol(&console) {
        Ok(found) => found,
        Err((status, why)) => return refuse(status, why),
    };
    let mut results = Vec::new();
    let mut csv = String::from("username,email,link,expires\r\n");
    for rep in &asked.reps {
        let email = rep.email.as_deref().map(str::trim).filter(|e| !e.is_empty());
        let made = enrol::invite(
            &console.store,
            profile,
            &rep.username,
            email,
            &desk,
            &console.config.other_desk_urls,
            pin.as_deref(),
        )
        .await;
        let invitation = match made {
            Ok(invitation) => invitation,
            Err(e) => {
                results.push(json!({"username": rep.username.trim(), "done": false, "said": e.to_string()}));
                continue;
            }
        };
        let said = match &mailer {
            Some(mailer) => send(&console, &session, profile, mailer, &invitation).await,
            None => {
                let cells = [
                    &invitation.username,
                    &invitation.email,
                    invitation.link.expose(),
                    &invitation.expires.to_rfc3339(),
                ];
                csv.push_str(&cells.map(csv_cell).join(","));
                csv.push_str("\r\n");
                let summary = format!(
                    "{} made an enrolment link for {} ({}) in the desk console, for the desk's own mail (CSV)",
                    session.admin, invitation.username, invitation.email
                );
                logged(&console, profile, &invitation, summary).await.map(|()| "in the CSV".to_owned())
            }
        };
        let (done, said) = match said {
            Ok(said) => (true, said),
            Err(said) => (false, said),
        };
        results.push(json!({"username": invitation.username, "email": invitation.email, "done": done, "said": said}));
    }
    let csv = (asked.delivery == Delivery::Csv).then_some(csv);
    Json(json!({"results": results, "csv": csv})).into_response()
}

/// Mails a rep their link, and says so in Activity. A link that was not sent still works: the
/// admin sends it again (which makes a new one) or downloads it.
async fn send(
    console: &Console,
    session: &Session,
    profile: &Profile,
    mailer: &Mailer,
    invitation: &Invitation,
) -> Result<String, String> {
    let (subject, body) = invitation.mail();
    if let Err(e) = mailer.send(&invitation.email, &subject, body).await {
        tracing::warn!(profile = profile.name, rep = invitation.username, "an enrolment link was not sent: {e}");
        return Err(format!("not sent: {e}"));
    }
    let summary = format!(
        "{} sent {} an enrolment link by e-mail to {} from the desk console",
        session.admin, invitation.username, invitation.email
    );
    logged(console, profile, invitation, summary).await?;
    Ok(format!("sent to {}", invitation.email))
}

async fn logged(console: &Console, profile: &Profile, invitation: &Invitation, summary: String) -> Result<(), String> {
    let line = ActivityLine { rep: Some(invitation.username.clone()), ..change(&profile.name, summary) };
    let at = chrono::Utc::now();
    console.store.run(move |s| s.log_activity(&line, at)).await.map(drop).map_err(|e| format!("not recorded: {e}"))
}
