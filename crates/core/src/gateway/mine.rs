//! The rep's own Activity and *Not in a ticket* at the desk's worker, for an app that writes no
//! session itself: the lines about the sessions the rep was the primary rep of, their sessions
//! that ended without a ticket — attached (to a ticket, or a new one), dismissed — and Retry of
//! their own failed jobs. Each change goes to the activity log with the rep's name. A session or
//! job that is not the token's rep's is answered as if it did not exist.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::Utc;
use serde::Deserialize;
use tokio::sync::Notify;

use super::server::Caller;
pub use crate::desk_api::{ACTIVITY_PATH, ATTACH_PATH, DISMISS_PATH, RETRY_PATH, UNLINKED_PATH};
use crate::store::{AsyncStore, Attached, StoreError, UnlinkedSession};
use crate::worker::attach_target;

/// Most activity lines a rep's list shows.
const ACTIVITY_SHOWN: usize = 200;
/// How far back a rep's sessions without a ticket are listed (as the tray does).
const UNLINKED_DAYS: i64 = 14;

/// What the rep's endpoints need besides the caller: the store, and the job runner to wake.
#[derive(Debug, Clone)]
pub struct Context {
    pub store: AsyncStore,
    pub wake: Arc<Notify>,
}

pub(super) async fn activity(Extension(caller): Extension<Caller>, Extension(cx): Extension<Context>) -> Response {
    let rep = caller.rep.clone();
    answer(cx.store.run(move |s| s.activity_of_rep(&rep.profile, &rep.username, ACTIVITY_SHOWN)).await)
}

pub(super) async fn unlinked(Extension(caller): Extension<Caller>, Extension(cx): Extension<Context>) -> Response {
    let rep = caller.rep.clone();
    let since = Utc::now() - chrono::Duration::days(UNLINKED_DAYS);
    answer(cx.store.run(move |s| s.unlinked_of_rep(&rep.profile, &rep.username, since)).await)
}

#[derive(Debug, Deserialize)]
pub(super) struct AttachAsk {
    /// The session's id (lsid).
    session: String,
    /// A ticket id, a ticket number, or `new`.
    ticket: String,
}

pub(super) async fn attach(
    Extension(caller): Extension<Caller>,
    Extension(cx): Extension<Context>,
    Json(ask): Json<AttachAsk>,
) -> Response {
    let Some(ticket) = attach_target(&ask.ticket) else {
        let said = format!("'{}' is no ticket id, ticket number or 'new'", ask.ticket);
        return (StatusCode::BAD_REQUEST, said).into_response();
    };
    if ticket == crate::worker::NEW_TICKET && caller.feed.profile().ticket_default_data.is_empty() {
        let said =
            "the desk's profile has no Ticket Default Data to make a ticket from; attach the session to a ticket";
        return (StatusCode::CONFLICT, said).into_response();
    }
    let session = match my_session(&caller, &cx, ask.session).await {
        Ok(session) => session,
        Err(refused) => return refused,
    };
    let by = caller.rep.username.clone();
    let attached = cx.store.run(move |s| s.attach_logged(&session, &ticket, &by, Utc::now())).await;
    let said = match attached {
        Ok(Attached::Queued { .. }) => {
            cx.wake.notify_one();
            return StatusCode::NO_CONTENT.into_response();
        }
        Ok(Attached::Already { .. }) => return StatusCode::NO_CONTENT.into_response(),
        Ok(Attached::Elsewhere { ticket, by }) => {
            format!("this session is already attached to ticket {ticket} by {by}, and is written there")
        }
        Ok(Attached::Unknown) => return not_mine("session"),
        Ok(Attached::Pruned) => {
            "this session ended longer ago than the desk keeps its events; write it in Autotask by hand".to_owned()
        }
        Err(e) => return answer::<()>(Err(e)),
    };
    (StatusCode::CONFLICT, said).into_response()
}

#[derive(Debug, Deserialize)]
pub(super) struct DismissAsk {
    session: String,
}

pub(super) async fn dismiss(
    Extension(caller): Extension<Caller>,
    Extension(cx): Extension<Context>,
    Json(ask): Json<DismissAsk>,
) -> Response {
    let session = match my_session(&caller, &cx, ask.session).await {
        Ok(session) => session,
        Err(refused) => return refused,
    };
    let by = caller.rep.username.clone();
    match cx.store.run(move |s| s.dismiss_logged(&session, &by, Utc::now())).await {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => (StatusCode::CONFLICT, "this session is no longer waiting for a ticket").into_response(),
        Err(e) => answer::<()>(Err(e)),
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct RetryAsk {
    job: i64,
}

pub(super) async fn retry(
    Extension(caller): Extension<Caller>,
    Extension(cx): Extension<Context>,
    Json(ask): Json<RetryAsk>,
) -> Response {
    let rep = caller.rep.clone();
    let retried = cx
        .store
        .run(move |s| {
            if !s.job_of_rep(ask.job, &rep.profile, &rep.username)? {
                return Ok(None);
            }
            let retried = s.retry(ask.job, Utc::now())?;
            if retried {
                let line = crate::store::ActivityLine {
                    profile: rep.profile.clone(),
                    level: "info",
                    summary: format!("{} asked to try job {} again", rep.username, ask.job),
                    job_id: Some(ask.job),
                    rep: Some(rep.username.clone()),
                    ..Default::default()
                };
                s.log_activity(&line, Utc::now())?;
            }
            Ok(Some(retried))
        })
        .await;
    match retried {
        Ok(Some(true)) => {
            cx.wake.notify_one();
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(Some(false)) => (StatusCode::CONFLICT, "this job is waiting or running already").into_response(),
        Ok(None) => not_mine("job"),
        Err(e) => answer::<()>(Err(e)),
    }
}

/// The caller's own session without a ticket of this id, in whatever state (attach and dismiss
/// say what became of it); another rep's answers as if it did not exist.
async fn my_session(caller: &Caller, cx: &Context, lsid: String) -> Result<UnlinkedSession, Response> {
    let found = cx.store.run(move |s| s.unlinked_matching(&lsid).map(|all| (lsid, all))).await;
    let (lsid, all) = found.map_err(|e| answer::<()>(Err(e)))?;
    let rep = &caller.rep;
    all.into_iter()
        .find(|s| {
            s.lsid == lsid
                && s.profile == rep.profile
                && s.rep.as_deref().is_some_and(|r| r.eq_ignore_ascii_case(&rep.username))
        })
        .ok_or_else(|| not_mine("session"))
}

fn not_mine(what: &str) -> Response {
    (StatusCode::NOT_FOUND, format!("no {what} of yours has that id")).into_response()
}

fn answer<T: serde::Serialize>(result: Result<T, StoreError>) -> Response {
    match result {
        Ok(value) => Json(value).into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("the desk's worker could not read its store: {e}"))
            .into_response(),
    }
}
