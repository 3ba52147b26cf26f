//! `unlinked`, `attach` and `dismiss`: the desk lead's view of sessions that ended without a
//! ticket — billable time that would otherwise never reach Autotask. They work on the store
//! beside a running worker, which writes an attached session within 5 seconds; no secret is
//! needed.

use std::path::Path;

use anyhow::bail;
use bta_core::store::{Attached, Store, UnlinkedSession};
use bta_core::worker::attach_target;
use chrono::{Duration, Local, Utc};

use crate::{load_without_secrets, open_store};

/// Lists the open sessions without a ticket of every rep, newest first.
pub fn list(path: &Path, days: u32) -> anyhow::Result<()> {
    let store = open_store(&load_without_secrets(path)?)?;
    let sessions = store.unlinked_since(Utc::now() - Duration::days(i64::from(days)))?;
    if sessions.is_empty() {
        println!("No session of the last {days} days is waiting for a ticket.");
        return Ok(());
    }
    println!(
        "{} session(s) of the last {days} days are not in a ticket, or their time is not in Autotask:",
        sessions.len()
    );
    for s in &sessions {
        let ended = s.ended_at.map(|t| t.with_timezone(&Local).format("%Y-%m-%d %H:%M").to_string());
        println!(
            "  {}  {}  {:<14}  {}{}\n      {}",
            s.lsid,
            ended.unwrap_or_else(|| "(end unknown)".to_owned()),
            s.rep.as_deref().unwrap_or("(no rep)"),
            s.described(),
            s.issue.as_deref().map(|i| format!(" — {i}")).unwrap_or_default(),
            match s.ticket_id {
                Some(ticket) => format!("{} Retry: bt-autotask-worker attach {} {ticket}", s.reason, s.lsid),
                None => s.reason.clone(),
            }
        );
    }
    println!("Attach one: bt-autotask-worker attach <session> <ticket id or number>; dismiss one: … dismiss <session>");
    Ok(())
}

/// Attaches a session to a ticket; the running worker writes it there.
pub fn attach(path: &Path, lsid: &str, ticket: &str, by: Option<String>) -> anyhow::Result<()> {
    let Some(ticket) = attach_target(ticket) else {
        bail!(
            "'{ticket}' is no ticket id (like 7216), ticket number (like T20261124.0042) or 'new' (a new ticket from Ticket Default Data)"
        );
    };
    let ticket = ticket.as_str();
    let store = open_store(&load_without_secrets(path)?)?;
    let session = find(&store, lsid)?;
    let by = by.unwrap_or_else(who);
    let described = session.described();
    match store.attach_logged(&session, ticket, &by, Utc::now())? {
        Attached::Queued { job_id } => {
            println!(
                "Session {} with {described} goes to ticket {ticket}: its note and time entry are written by the running worker within 5 seconds (job {job_id}; see: bt-autotask-worker jobs).",
                session.lsid
            );
        }
        Attached::Already { by } => {
            println!("Session {} was already attached to ticket {ticket} by {by}.", session.lsid)
        }
        Attached::Elsewhere { ticket: there, by } => bail!(
            "session {} is already attached to ticket {there} by {by}, and is written there; it is not written twice",
            session.lsid
        ),
        Attached::Unknown => bail!("no session {} ended without a ticket here", session.lsid),
        Attached::Pruned => bail!(
            "session {} ended longer ago than retention_days, and its event is no longer kept; write it in Autotask by hand",
            session.lsid
        ),
    }
    Ok(())
}

/// Dismisses a session as not billable.
pub fn dismiss(path: &Path, lsid: &str, by: Option<String>) -> anyhow::Result<()> {
    let store = open_store(&load_without_secrets(path)?)?;
    let session = find(&store, lsid)?;
    let by = by.unwrap_or_else(who);
    if !store.dismiss_logged(&session, &by, Utc::now())? {
        bail!("session {} is no longer waiting for a ticket (see: bt-autotask-worker unlinked)", session.lsid);
    }
    println!("Session {} with {} is dismissed; it leaves the list.", session.lsid, session.described());
    Ok(())
}

/// The one session without a ticket whose id starts with what was typed.
fn find(store: &Store, typed: &str) -> anyhow::Result<UnlinkedSession> {
    if typed.len() < 6 {
        bail!(
            "'{typed}' is too short to name a session; give at least 6 characters of its id (see: bt-autotask-worker unlinked)"
        );
    }
    let mut found = store.unlinked_matching(typed)?;
    match found.len() {
        0 => bail!("no session without a ticket has an id starting '{typed}' (see: bt-autotask-worker unlinked)"),
        1 => Ok(found.remove(0)),
        n => bail!("{n} sessions have an id starting '{typed}'; give more of it"),
    }
}

/// Who is at the keyboard, for the activity log.
fn who() -> String {
    ["USER", "USERNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| "the desk lead".to_owned())
}
