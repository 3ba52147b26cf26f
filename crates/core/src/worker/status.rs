//! The ticket's status when a session ends (`status_on_session_end`): moved only from the
//! statuses the desk lists, so a completed ticket is never reopened; optionally assigned to the
//! rep when it has no resource — in one update, read back (a workflow rule can keep the old
//! status while the update answers 200), and recorded in the ledger, so exactly once per session.
//! Where the desk keeps a copy of its tickets, a status the copy says to leave costs no request;
//! one to move is read from Autotask first, and read back from the update's own callout where
//! the desk takes Autotask's webhooks.

use chrono::Utc;

use super::author::Author;
use super::tickets::SessionTicket;
use super::{Failure, ProfileClients, Worker};
use crate::autotask::{Picklist, Ticket};
use crate::gateway::webhook::CalloutWatch;
use crate::store::LedgerEntry;

/// The ledger's kind for a session's status update.
const KIND: &str = "status";
/// How long the update waits for its own callout before it reads the ticket from Autotask
/// (Autotask calls out within seconds of a change).
const CALLOUT_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Moves the ticket's status as the profile says, once; what the Activity says of it.
pub(super) async fn on_session_end(
    worker: &Worker,
    clients: &ProfileClients,
    lsid: &str,
    session_ticket: &SessionTicket,
    author: &Author,
) -> Result<String, Failure> {
    let ticket_id = session_ticket.id;
    let profile = &clients.profile;
    let Some(target_label) = &profile.status_on_session_end else { return Ok(String::new()) };
    let (p, l) = (profile.name.clone(), lsid.to_owned());
    if worker.store.run(move |s| s.writes_for(&p, &l)).await?.iter().any(|w| w.kind == KIND) {
        return Ok(String::new());
    }
    let fields = clients.autotask.fields::<Ticket>().await?;
    let statuses = fields.picklist("status").ok_or_else(|| {
        Failure::Permanent("Autotask's tickets show no status picklist, so the status cannot be set".to_owned())
    })?;
    let target = value_of(&statuses, target_label, "status_on_session_end")?;
    let from = profile
        .status_on_session_end_from
        .iter()
        .map(|label| value_of(&statuses, label, "status_on_session_end_from"))
        .collect::<Result<Vec<i64>, Failure>>()?;
    let label = |v: Option<i64>| v.and_then(|v| statuses.label_of(v)).unwrap_or("(none)").to_owned();
    let said = match status_now(worker, clients, session_ticket, &from).await? {
        Some(now) if from.contains(&now) => {
            let mut change = Ticket { id: Some(ticket_id), status: Some(target), ..Default::default() };
            let assigned = assign(worker, clients, session_ticket, author, &mut change).await?;
            let callout = worker.copies.as_ref().and_then(|f| f.callouts_of(&profile.name, ticket_id));
            clients.autotask.update(&change).await?;
            let after = read_back(worker, clients, ticket_id, target, callout).await?;
            if after == Some(target) {
                format!(", status {} → {}{assigned}", label(Some(now)), label(after))
            } else {
                tracing::warn!(
                    ticket_id,
                    "the ticket's status update answered 200 but the status stayed {}",
                    label(after)
                );
                format!(
                    ", status left {} by Autotask though it was set to {} (a workflow rule may keep it){assigned}",
                    label(after),
                    label(Some(target))
                )
            }
        }
        now => format!(", status left {} (not one of status_on_session_end_from)", label(now)),
    };
    let entry = LedgerEntry {
        profile: profile.name.clone(),
        lsid: lsid.to_owned(),
        kind: KIND.into(),
        part: 0,
        ticket_id: Some(ticket_id),
        autotask_id: ticket_id,
    };
    worker.store.run(move |s| s.record_write(&entry, Utc::now())).await?;
    Ok(said)
}

/// The ticket's status before the update. The desk's copy may say to leave the ticket as it is
/// without a request — leaving it is right whatever happened since — but moving it takes
/// Autotask's own word: a ticket completed in the seconds since the copy heard of it would
/// otherwise be reopened.
async fn status_now(
    worker: &Worker,
    clients: &ProfileClients,
    ticket: &SessionTicket,
    from: &[i64],
) -> Result<Option<i64>, Failure> {
    let copied = match &worker.copies {
        Some(feeds) => feeds.status_of(&clients.profile.name, ticket.id).await,
        None => None,
    };
    if let Some(status) = copied.filter(|s| !from.contains(s)) {
        return Ok(Some(status));
    }
    match ticket.get(clients).await? {
        Some(read) => Ok(read.status),
        None => Err(Failure::Permanent(format!("Autotask has no ticket {} to set the status of", ticket.id))),
    }
}

/// The ticket's status after the update: from the callout the update makes where the desk's
/// webhook is on and it says the status was set (no request); else — no callout within
/// [`CALLOUT_WAIT`], or one that says otherwise, which a read settles — read from Autotask, and
/// put into the desk's copy at once.
async fn read_back(
    worker: &Worker,
    clients: &ProfileClients,
    ticket_id: i64,
    target: i64,
    callout: Option<CalloutWatch>,
) -> Result<Option<i64>, Failure> {
    if let Some(callout) = callout {
        if let Some(seen) = callout.next(CALLOUT_WAIT).await.and_then(|t| t.status).filter(|s| *s == target) {
            return Ok(Some(seen));
        }
    }
    let read = clients.autotask.get::<Ticket>(ticket_id).await?;
    let after = read.as_ref().and_then(|t| t.status);
    if let (Some(feeds), Some(ticket)) = (&worker.copies, read) {
        feeds.wrote(&clients.profile.name, ticket).await;
    }
    Ok(after)
}

/// A ticket without a resource, assigned to the rep in the role their time would take, where
/// the profile says so; what the Activity says of it.
async fn assign(
    worker: &Worker,
    clients: &ProfileClients,
    ticket: &SessionTicket,
    author: &Author,
    change: &mut Ticket,
) -> Result<String, Failure> {
    let assigned = ticket.get(clients).await?.and_then(|t| t.assigned_resource_id);
    let (true, None, Some(resource_id)) = (clients.profile.assign_unassigned_ticket, assigned, author.resource_id)
    else {
        return Ok(String::new());
    };
    let ticket_id = ticket.id;
    let Some(role) = worker.role_for(clients, resource_id, ticket).await? else {
        tracing::warn!(ticket_id, rep = %author.name, "no role to assign the ticket to the rep in; left unassigned");
        return Ok(format!(", left unassigned: {} has no role to be assigned in", author.name));
    };
    change.assigned_resource_id = Some(resource_id);
    change.assigned_resource_role_id = Some(role.id);
    Ok(format!(", assigned to {} as \"{}\"", author.name, role.name))
}

/// A status label's value, or what to set instead.
fn value_of(statuses: &Picklist<'_>, label: &str, setting: &str) -> Result<i64, Failure> {
    statuses.value_of(label).ok_or_else(|| {
        Failure::Permanent(format!(
            "Autotask has no active ticket status \"{label}\"; set {setting} to statuses it has: {}",
            statuses.labels().collect::<Vec<_>>().join(", ")
        ))
    })
}
