//! The ticket's status when a session ends (`status_on_session_end`): moved only from the
//! statuses the desk lists, so a completed ticket is never reopened; optionally assigned to the
//! rep when it has no resource — in one update, read back (a workflow rule can keep the old
//! status while the update answers 200), and recorded in the ledger, so exactly once per session.

use chrono::Utc;

use super::author::Author;
use super::tickets::SessionTicket;
use super::{Failure, ProfileClients, Worker};
use crate::autotask::{Picklist, Ticket};
use crate::store::LedgerEntry;

/// The ledger's kind for a session's status update.
const KIND: &str = "status";

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
    let Some(ticket) = session_ticket.get(clients).await? else {
        return Err(Failure::Permanent(format!("Autotask has no ticket {ticket_id} to set the status of")));
    };
    let label = |v: Option<i64>| v.and_then(|v| statuses.label_of(v)).unwrap_or("(none)").to_owned();
    let said = match ticket.status {
        Some(now) if from.contains(&now) => {
            let mut change = Ticket { id: Some(ticket_id), status: Some(target), ..Default::default() };
            let assigned = assign(worker, clients, session_ticket, author, &mut change).await?;
            clients.autotask.update(&change).await?;
            let read_back = clients.autotask.get::<Ticket>(ticket_id).await?;
            let after = read_back.as_ref().and_then(|t| t.status);
            if let (Some(feeds), Some(ticket)) = (&worker.copies, read_back) {
                feeds.wrote(&profile.name, ticket).await;
            }
            if after == Some(target) {
                format!(", status {} → {}{assigned}", label(ticket.status), label(after))
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
