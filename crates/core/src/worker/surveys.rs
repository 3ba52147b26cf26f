//! A completed exit survey: fetched from the report of its time, written as a note on the
//! ticket the session's own report names — never one the event names, since anyone who reaches
//! the intake can send an event.

use std::time::Duration;

use super::author::Author;
use super::tickets::{NotesOf, parse_external_key};
use super::{Failure, Job, Outcome, ProfileClients, Worker, lsid_of};
use crate::beyondtrust::{EventType, OutboundEvent, SurveyKind};

pub(super) async fn handle(
    worker: &Worker,
    clients: &ProfileClients,
    job: &Job,
    event: &OutboundEvent,
) -> Result<Outcome, Failure> {
    let lsid = lsid_of(event)?;
    let kind = if event.event_type == EventType::RepExitSurveyCompleted {
        SurveyKind::Representative
    } else {
        SurveyKind::Customer
    };
    let at = event.timestamp.unwrap_or(job.created_at);
    let surveys =
        clients.beyondtrust.exit_surveys(kind, at - chrono::Duration::hours(1), Duration::from_secs(2 * 3600)).await?;
    let Some(survey) = surveys.into_iter().filter(|s| s.lsid == lsid).max_by_key(|s| s.timestamp) else {
        return Err(Failure::NotReady(format!("the exit survey of session {lsid} is not in the report yet")));
    };
    let Some(session) = clients.beyondtrust.support_session(lsid).await? else {
        return Err(Failure::NotReady(format!("the appliance has no report for session {lsid} yet")));
    };
    worker.tell_session(job, &session);
    let key: String = session.external_key.as_deref().unwrap_or_default().to_owned();
    let label = if kind == SurveyKind::Customer { "customer survey" } else { "rep survey" };
    let of = format!("the session with {}", session.described());
    let Some(reference) = parse_external_key(&key) else {
        return Ok(Outcome::Skipped(format!("The {label} of {of} is in no ticket: the session has no ticket")));
    };
    let Some(ticket_id) = worker.ticket_id(clients, &reference).await? else {
        return Ok(Outcome::Skipped(format!("The {label} of {of} is in no ticket: Autotask has no ticket {key}")));
    };
    worker.tell_ticket(job, ticket_id);
    let note = clients.renderer.survey_note(&survey, &chrono::Local)?;
    let author = Author::of(worker, clients, &session).await?;
    let to = NotesOf { lsid, ticket_id, kind: label, author: &author };
    worker.write_notes(clients, job, to, &[note]).await?;
    let ticket = worker.ticket_named(&clients.profile.name, ticket_id).await?;
    Ok(Outcome::Done {
        summary: format!("Wrote the {label} of {of} to {ticket}{}", author.said()),
        wrote: "a note".to_owned(),
        ticket_id: Some(ticket_id),
    })
}
