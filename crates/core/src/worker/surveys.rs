//! A completed exit survey: fetched from the report of its time, written as a note on the
//! session's ticket.

use std::time::Duration;

use super::tickets::parse_external_key;
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
    let key = match event.external_key.clone().filter(|k| !k.is_empty()) {
        Some(key) => key,
        None => {
            clients.beyondtrust.support_session(lsid).await?.and_then(|s| s.external_key).unwrap_or_default().into()
        }
    };
    let Some(reference) = parse_external_key(&key) else {
        return Ok(Outcome::Skipped(format!("No ticket for the exit survey of session {lsid}")));
    };
    let Some(ticket_id) = worker.ticket_id(clients, &reference).await? else {
        return Ok(Outcome::Skipped(format!("No ticket: Autotask has no ticket {key} (survey of session {lsid})")));
    };
    let note = clients.renderer.survey_note(&survey, &chrono::Local)?;
    let label = if kind == SurveyKind::Customer { "customer survey" } else { "rep survey" };
    worker.write_notes(clients, job, lsid, ticket_id, label, &[note]).await?;
    Ok(Outcome::Done {
        summary: format!("Wrote the {label} of session {lsid} to ticket {key}"),
        ticket_id: Some(ticket_id),
    })
}
