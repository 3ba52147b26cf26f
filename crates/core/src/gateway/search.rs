//! The desk-wide search: `GET /desk/search` on the worker's listener runs a rep's search (as the
//! tray app's window asks it). Who the rep is comes from their token; the app sends their last
//! tickets. Once the desk's copy of the tickets is filled ([`super::copy`]), words, a number or
//! its start, an id and "my open tickets" are answered from it without asking Autotask. Autotask
//! is asked only for what the copy cannot know: a whole number or an id it does not hold (a ticket
//! made a moment ago, then kept in the copy), anything when the copy finds nothing, and
//! everything when the rep asks for all of Autotask (`all=true`) — those rows say so. What
//! Autotask found nothing for is not asked again for a while ([`super::nothing_found`]). Asking
//! Autotask uses the lookups the whole desk shares, so a company, contact or device is looked up
//! once for the desk; and each search that asks it counts against the rep's hourly budget
//! (`rep_autotask_searches_per_hour`), answered 429 with when to try again once spent.

use axum::Extension;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use std::net::SocketAddr;

use axum::extract::ConnectInfo;

use super::feed::FeedError;
use super::refusal::Refusal;
use super::server::Caller;
use crate::autotask::{Filter, Query as AutotaskQuery, Ticket};
use crate::desk_api::TicketRow;
use crate::ticket_search::{SEARCH_LIMIT, Search, find};
use crate::worker::{TicketRef, parse_external_key};

/// What an app asks (a `me=` or `appliance=` it names is not used: the token says who asks).
#[derive(Debug, Deserialize)]
pub(super) struct Ask {
    /// What the rep typed.
    #[serde(default)]
    q: String,
    /// The rep's last tickets, the latest first, comma-separated.
    #[serde(default)]
    recent: String,
    /// Search all of Autotask rather than the desk's copy.
    #[serde(default)]
    all: bool,
}

/// Why a search found nothing to show.
enum Failed {
    Feed(FeedError),
    /// The rep's searches of Autotask itself are spent for now.
    OverBudget(Refusal),
}

impl<E: Into<FeedError>> From<E> for Failed {
    fn from(e: E) -> Failed {
        Failed::Feed(e.into())
    }
}

pub(super) async fn search(
    Extension(caller): Extension<Caller>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    Query(ask): Query<Ask>,
) -> Response {
    let feed = caller.feed.clone();
    let recent: Result<Vec<i64>, _> = ask.recent.split(',').filter(|r| !r.is_empty()).map(str::parse).collect();
    let Ok(recent) = recent else {
        return (StatusCode::BAD_REQUEST, "recent= takes ticket ids separated by commas").into_response();
    };
    let found = if ask.all || !feed.copy.ready() {
        in_autotask(&caller, &ask.q, &recent, ask.all).await
    } else {
        from_copy(&caller, &ask.q, &recent).await
    };
    match found {
        Ok(rows) => {
            crate::metrics::global()
                .desk_search(!rows.iter().any(|r| r.asked_autotask) && feed.copy.ready() && !ask.all);
            axum::Json(rows).into_response()
        }
        Err(Failed::OverBudget(refusal)) => refusal.answer(remote.ip()),
        Err(Failed::Feed(e)) => {
            (StatusCode::BAD_GATEWAY, format!("the desk's worker could not search Autotask: {e}")).into_response()
        }
    }
}

/// A search asked of Autotask, within the rep's budget; its rows are marked so when the copy could
/// have answered.
async fn in_autotask(caller: &Caller, text: &str, recent: &[i64], mark: bool) -> Result<Vec<TicketRow>, Failed> {
    caller.ask_autotask().await.map_err(Failed::OverBudget)?;
    let (feed, me) = (&caller.feed, Some(caller.rep.resource_id));
    let mut rows = find(&feed.autotask, text, me, recent, &feed.lookups).await?;
    for row in rows.iter_mut() {
        row.asked_autotask = mark;
    }
    Ok(rows)
}

/// A search answered from the copy; Autotask asked only for what it cannot know.
async fn from_copy(caller: &Caller, text: &str, recent: &[i64]) -> Result<Vec<TicketRow>, Failed> {
    let (feed, me) = (&caller.feed, Some(caller.rep.resource_id));
    let search = Search::parse(text);
    let recent = if search == Search::Mine { recent.to_vec() } else { Vec::new() };
    let asked = (search.clone(), recent.clone());
    let copied = feed.copy.with(move |c| c.search(&asked.0, me, &asked.1)).await?;
    if copied.is_empty() && worth_asking(&search) {
        if feed.nothing_found.knows(&search) {
            return Ok(Vec::new());
        }
        let rows = match whole_number_or_id(&search) {
            Some(missing) => asked_and_kept(caller, missing, &recent).await?,
            None => in_autotask(caller, text, &recent, true).await?,
        };
        if rows.is_empty() {
            feed.nothing_found.remember(&search);
        }
        return Ok(rows);
    }
    // My last tickets older than the copy keeps are asked for by id — while the rep's budget
    // lasts; without it the list shows what the copy holds.
    let older: Vec<i64> = recent.iter().copied().filter(|id| !copied.iter().any(|c| c.row.id == *id)).collect();
    let mut rows = feed.rows(copied).await?;
    if !older.is_empty() {
        match asked_and_kept(caller, Filter::is_in("id", older), &recent).await {
            Ok(more) => rows.extend(more),
            Err(Failed::OverBudget(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(rows)
}

/// Whether a search the copy found nothing for is asked of Autotask: not my open tickets (the
/// copy has them all), nor a word or two of fewer than 3 letters, which a rep is still typing (and
/// which would match half of Autotask's titles).
fn worth_asking(search: &Search) -> bool {
    match search {
        Search::Mine => false,
        Search::Words(words) => words.iter().map(|w| w.chars().count()).sum::<usize>() >= 3,
        Search::Number(_) | Search::Digits(_) => true,
    }
}

/// What a search names exactly: a whole ticket number (`T<yyyymmdd>.<nnnn>`) or an id.
fn whole_number_or_id(search: &Search) -> Option<Filter> {
    match search {
        Search::Number(number) if matches!(parse_external_key(number), Some(TicketRef::Number(_))) => {
            Some(Filter::eq("ticketNumber", number.clone()))
        }
        Search::Digits(digits) => digits.parse::<i64>().ok().map(|id| Filter::eq("id", id)),
        _ => None,
    }
}

/// Tickets the copy does not hold (made a moment ago, or older than the copy keeps): asked of
/// Autotask, kept in the copy, and shown as asked.
async fn asked_and_kept(caller: &Caller, which: Filter, recent: &[i64]) -> Result<Vec<TicketRow>, Failed> {
    caller.ask_autotask().await.map_err(Failed::OverBudget)?;
    let feed = &caller.feed;
    let query = AutotaskQuery::new(which).max_records(SEARCH_LIMIT);
    let found = feed.autotask.query_page::<Ticket>(&query).await?.items;
    let ids: Vec<i64> = found.iter().filter_map(|t| t.id).collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    feed.copy.keep(found).await?;
    let copied = feed.copy.with(move |c| ids.iter().filter_map(|id| c.get(*id).transpose()).collect()).await?;
    let mut rows = feed.rows(copied).await?;
    for row in rows.iter_mut() {
        row.asked_autotask = true;
        row.recent = recent.contains(&row.id);
    }
    Ok(rows)
}
