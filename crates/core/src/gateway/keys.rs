//! `POST /desk/session-key`: a session key made by the worker's API account for the asking rep,
//! in that rep's own queue, with the ticket as its external key. The body names the ticket and
//! nothing else is taken from it: a rep, queue or external key it names is ignored.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::ConnectInfo;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;

use super::limits::Limits;
use super::refusal::Refusal;
use super::server::Caller;
use crate::autotask::{Filter, Query, Ticket};
use crate::desk::{DeskError, KeyOffer, TicketRow, session_key as make_key};
use crate::desk_api::KeyAnswer;
use crate::ticket_search::listed;

#[derive(Debug, Deserialize)]
pub(super) struct Ask {
    ticket: i64,
}

pub(super) async fn session_key(
    Extension(caller): Extension<Caller>,
    Extension(limits): Extension<Arc<Limits>>,
    connection: Option<Extension<ConnectInfo<SocketAddr>>>,
    Json(ask): Json<Ask>,
) -> Response {
    let rep = &caller.rep;
    if let Err(wait) = limits.session_key((&rep.profile, &rep.username)).await {
        let address = connection.map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.0.ip());
        return Refusal::Limited(wait).answer(address);
    }
    let ticket = match ticket_row(&caller, ask.ticket).await {
        Ok(Some(ticket)) => ticket,
        Ok(None) => {
            let said = format!("ticket {} is not in Autotask; search again", ask.ticket);
            return (StatusCode::NOT_FOUND, said).into_response();
        }
        Err(e) => return failed(e),
    };
    match make_key(&caller.feed.beyondtrust, &ticket, &rep.username).await {
        Ok(offer) => {
            tracing::info!(
                profile = rep.profile,
                rep = rep.username,
                ticket = ticket.id,
                "made a session key for a rep"
            );
            Json(answer(offer)).into_response()
        }
        Err(e) => failed(e),
    }
}

/// The ticket as a search row (its number, its contact's e-mail): from the desk's copy of the
/// tickets, else asked of Autotask.
async fn ticket_row(caller: &Caller, id: i64) -> Result<Option<TicketRow>, DeskError> {
    let feed = &caller.feed;
    if feed.copy.ready()
        && let Ok(Some(copied)) = feed.copy.with(move |c| c.get(id)).await
    {
        return Ok(feed.rows(vec![copied]).await?.into_iter().next());
    }
    let query = Query::new(Filter::eq("id", id)).max_records(1);
    let tickets = feed.autotask.query_page::<Ticket>(&query).await?.items;
    Ok(listed(&feed.autotask, tickets, &[], &feed.lookups).await?.into_iter().next())
}

fn answer(offer: KeyOffer) -> KeyAnswer {
    match offer {
        KeyOffer::Key { short_key, key_url, invitation } => KeyAnswer {
            short_key: Some(short_key),
            key_url: Some(key_url),
            invitation: invitation.map(String::from),
            console_link: None,
        },
        KeyOffer::ConsoleLink(link) => {
            KeyAnswer { short_key: None, key_url: None, invitation: None, console_link: Some(link.into()) }
        }
    }
}

fn failed(e: DeskError) -> Response {
    (StatusCode::BAD_GATEWAY, format!("the desk's worker could not make the session key: {e}")).into_response()
}
