//! The desk-wide search: `GET /desk/search` on the worker's listener runs a rep's search (as the
//! tray app's window asks it) with the worker's client and the lookups the whole desk shares, so a
//! company, contact or device is looked up once for the desk instead of once per rep, and a word
//! that names no customer is learnt once. Who the rep is comes from their token; the app sends
//! their last tickets.
//! "My open tickets" and an open ticket's whole number come from the feed's copy of the open
//! tickets, as fresh as its last look (as fresh as the changes the apps are told of), without
//! asking Autotask.

use axum::Extension;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::feed::{Caller, Feed};
use crate::autotask::{Filter, Query as AutotaskQuery, Ticket};
use crate::desk::{DeskError, SEARCH_LIMIT, Search, TicketRow, listed, search_with};

/// What an app asks (a `me=` or `appliance=` it names is not used: the token says who asks).
#[derive(Debug, Deserialize)]
pub(super) struct Ask {
    /// What the rep typed.
    #[serde(default)]
    q: String,
    /// The rep's last tickets, the latest first, comma-separated.
    #[serde(default)]
    recent: String,
}

pub(super) async fn search(Extension(caller): Extension<Caller>, Query(ask): Query<Ask>) -> Response {
    let (feed, me) = (caller.feed, Some(caller.rep.resource_id));
    let recent: Result<Vec<i64>, _> = ask.recent.split(',').filter(|r| !r.is_empty()).map(str::parse).collect();
    let Ok(recent) = recent else {
        return (StatusCode::BAD_REQUEST, "recent= takes ticket ids separated by commas").into_response();
    };
    let copied = match (Search::parse(&ask.q), me) {
        (Search::Mine, Some(me)) => feed.open_tickets_of(me, &recent).map(|found| (found, recent.as_slice())),
        (Search::Number(number), _) => {
            feed.open_ticket_numbered(&number).map(|ticket| ((vec![ticket], Vec::new()), &[][..]))
        }
        _ => None,
    };
    let found = match copied {
        Some(((tickets, missing), recent)) => from_copy(&feed, tickets, missing, recent).await,
        None => search_with(&feed.autotask, &ask.q, me, &recent, &feed.lookups).await,
    };
    match found {
        Ok(rows) => axum::Json(rows).into_response(),
        Err(e) => {
            (StatusCode::BAD_GATEWAY, format!("the desk's worker could not search Autotask: {e}")).into_response()
        }
    }
}

/// Tickets from the copy; my last tickets it lacks (completed) are asked for by id.
async fn from_copy(
    feed: &Feed,
    mut tickets: Vec<Ticket>,
    missing: Vec<i64>,
    recent: &[i64],
) -> Result<Vec<TicketRow>, DeskError> {
    if !missing.is_empty() {
        let query = AutotaskQuery::new(Filter::is_in("id", missing)).max_records(SEARCH_LIMIT);
        tickets.extend(feed.autotask.query_page::<Ticket>(&query).await?.items);
    }
    listed(&feed.autotask, tickets, recent, &feed.lookups).await
}
