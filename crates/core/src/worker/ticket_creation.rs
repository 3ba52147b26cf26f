//! Automatic ticket creation, as the seed's plugin does it: when a representative joins a
//! session that is not tied to a ticket, create one from Ticket Default Data — overlaid with the
//! external key's JSON fields, or filled from the issue submission form when the key is empty —
//! and write its id back into the live session's external key, so the session's note lands on it.
//! One ticket per session: the ledger records it, and a rerun looks for the session's marker in
//! ticket descriptions before creating another. The event only says when to look: the external
//! key, the session's type, its reps and its customer all come from the appliance's own report of
//! the session, so a forged event can neither choose a ticket's fields nor make one for a session
//! no rep is in.

use chrono::Utc;
use serde_json::{Map, Value};

use super::tickets::parse_external_key;
use super::{Failure, Job, Outcome, ProfileClients, Worker, lsid_of, refused};
use crate::autotask::{Company, Contact, Filter, Query, Role, Ticket};
use crate::beyondtrust::{OutboundEvent, SupportSession};
use crate::store::LedgerEntry;

/// Autotask keeps at most this many characters of a ticket's description; a customer who pasted
/// a long error log into the portal form still gets a ticket, its description cut short.
const TICKET_DESCRIPTION_LIMIT: usize = 8000;

/// The line added to a created ticket's description, searched for before creating again.
pub fn ticket_marker(lsid: &str) -> String {
    format!("[BeyondTrust session {} created this ticket]", crate::render::marked_id(lsid))
}

pub(super) async fn handle(
    worker: &Worker,
    clients: &ProfileClients,
    job: &Job,
    event: &OutboundEvent,
) -> Result<Outcome, Failure> {
    let profile = &clients.profile;
    let lsid = lsid_of(event)?;
    if !event.member.as_ref().is_some_and(|m| m.is_representative()) {
        return Ok(Outcome::Quiet(format!("a customer joined session {lsid}; tickets are created when a rep joins")));
    }
    if !profile.enable_automatic_ticket_creation {
        return Ok(Outcome::Quiet("automatic ticket creation is off for this profile".to_owned()));
    }
    let (p, l) = (profile.name.clone(), lsid.to_owned());
    if let Some(done) = worker.store.run(move |s| s.writes_for(&p, &l)).await?.into_iter().find(|w| w.kind == "ticket")
    {
        return Ok(Outcome::Quiet(format!("session {lsid} already has ticket {} created", done.autotask_id)));
    }
    let Some(session) = clients.beyondtrust.support_session(lsid).await? else {
        return Err(Failure::NotReady(format!("the appliance has no report for session {lsid} yet")));
    };
    if session.reps.is_empty() {
        return Err(Failure::NotReady(format!("the appliance's report of session {lsid} shows no rep in it yet")));
    }
    let key = session.external_key.as_deref().unwrap_or_default();
    let overlay = match key.trim() {
        "" if profile.automatic_ticket_creation_without_external_key => Map::new(),
        "" => {
            return Ok(Outcome::Quiet(format!("session {lsid} has no external key, and creation without one is off")));
        }
        k if parse_external_key(k).is_some() => {
            return Ok(Outcome::Quiet(format!("session {lsid} is already tied to ticket {k}")));
        }
        k => match serde_json::from_str::<Value>(k) {
            Ok(Value::Object(fields)) => fields,
            _ => {
                return Ok(Outcome::Skipped(format!(
                    "the external key of session {lsid} is neither a ticket nor a JSON object"
                )));
            }
        },
    };
    let session_type = session.session_type.clone().unwrap_or_else(|| "support".into());
    if !profile.automatic_ticket_creation_session_types.iter().any(|t| t.eq_ignore_ascii_case(&session_type)) {
        return Ok(Outcome::Quiet(format!("session type '{session_type}' is not among those that create tickets")));
    }
    worker.tell_session(job, &session);
    let ticket_id = create_for(worker, clients, job, &session, overlay).await?;
    worker.tell_ticket(job, ticket_id);
    clients.beyondtrust.set_session_attributes(lsid, Some(&ticket_id.to_string()), &[]).await?;
    let ticket = worker.ticket_named(&profile.name, ticket_id).await?;
    Ok(Outcome::Done {
        summary: format!("Created {ticket} for the session with {} and tied the session to it", session.described()),
        wrote: "a ticket from Ticket Default Data".to_owned(),
        ticket_id: Some(ticket_id),
    })
}

/// Creates the session's ticket from Ticket Default Data (and `overlay`) and records it in the
/// ledger; a job running again looks for the ticket's marker first, so it is made once.
pub(super) async fn create_for(
    worker: &Worker,
    clients: &ProfileClients,
    job: &Job,
    session: &SupportSession,
    overlay: Map<String, Value>,
) -> Result<i64, Failure> {
    let lsid = session.lsid.to_string();
    let existing = if job.attempts > 1 { find_created(clients, &lsid).await? } else { None };
    let ticket_id = match existing {
        Some(id) => id,
        None => {
            let ticket = ticket_fields(worker, clients, session, overlay).await?;
            let what = || format!("the ticket for session {lsid} (check Ticket Default Data)");
            clients.autotask.create(&ticket).await.map_err(|e| refused(what, e))?
        }
    };
    let entry = LedgerEntry {
        profile: clients.profile.name.clone(),
        lsid,
        kind: "ticket".to_owned(),
        part: 0,
        ticket_id: Some(ticket_id),
        autotask_id: ticket_id,
    };
    worker.store.run(move |s| s.record_write(&entry, Utc::now())).await?;
    Ok(ticket_id)
}

async fn find_created(clients: &ProfileClients, lsid: &str) -> Result<Option<i64>, Failure> {
    let query = Query::new(Filter::contains("description", ticket_marker(lsid))).include_fields(["id"]).max_records(1);
    Ok(clients.autotask.query_page::<Ticket>(&query).await?.items.into_iter().find_map(|t| t.id))
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Takes a field out of the map, whatever the case of its name.
fn take(fields: &mut Map<String, Value>, name: &str) -> Option<Value> {
    let key = fields.keys().find(|k| k.eq_ignore_ascii_case(name))?.clone();
    fields.remove(&key).filter(|v| !v.is_null())
}

/// The ticket to create: Ticket Default Data, overlaid with the external key's fields, names
/// resolved to ids, the dynamic ContactID looked up, `{{Issue}}` and `{{Details}}` filled in.
async fn ticket_fields(
    worker: &Worker,
    clients: &ProfileClients,
    session: &SupportSession,
    overlay: Map<String, Value>,
) -> Result<Ticket, Failure> {
    let mut fields = clients.profile.ticket_default_data.clone();
    for (k, v) in overlay {
        let _ = take(&mut fields, &k);
        fields.insert(k, v);
    }
    fields.retain(|_, v| !v.is_null());
    let customer = session.customers.iter().find(|c| c.primary).or(session.customers.first());
    let form = |name: &str| customer.and_then(|c| c.info(name)).unwrap_or_default().to_owned();
    let (issue, details) = (form("issue"), form("details"));
    let fill = |t: String| t.replace("{{Issue}}", &issue).replace("{{Details}}", &details);

    if let Some(name) = take(&mut fields, "companyName").as_ref().and_then(text) {
        let company = lookup::<Company>(clients, Filter::eq("companyName", name.clone())).await?;
        let id = company.ok_or_else(|| {
            Failure::Permanent(format!(
                "Autotask has no company named '{name}'; correct companyName in Ticket Default Data"
            ))
        })?;
        fields.insert("companyID".into(), id.into());
    }
    if let Some(name) = take(&mut fields, "assignedResourceRoleName").as_ref().and_then(text) {
        let role = lookup::<Role>(clients, Filter::eq("name", name.clone())).await?;
        let id = role.ok_or_else(|| {
            Failure::Permanent(format!("Autotask has no role named '{name}'; correct assignedResourceRoleName"))
        })?;
        fields.insert("assignedResourceRoleID".into(), id.into());
        if !fields.keys().any(|k| k.eq_ignore_ascii_case("assignedResourceID")) {
            // A role without a resource: the ticket goes to the rep in the session.
            fields.insert("assignedResourceID".into(), session_rep(worker, clients, session).await?.into());
        }
    }
    work_type(worker, clients, &mut fields).await?;
    let default_contact = take(&mut fields, "defaultContactID");
    if let Some(contact) = take(&mut fields, "contactID") {
        let id = match text(&contact) {
            Some(pattern) if pattern.starts_with("{{") => {
                let company = fields.get("companyID").and_then(Value::as_i64);
                dynamic_contact(clients, session, &pattern, company).await?.map(Value::from).or(default_contact)
            }
            _ => Some(contact),
        };
        if let Some(id) = id {
            fields.insert("contactID".into(), id);
        }
    } else if let Some(id) = default_contact {
        fields.insert("contactID".into(), id);
    }
    let title = take(&mut fields, "title").as_ref().and_then(text).map(fill);
    let title =
        title.filter(|t| !t.is_empty()).unwrap_or_else(|| format!("BeyondTrust Remote Support session: {issue}"));
    fields.insert("title".into(), title.trim_end_matches([':', ' ']).chars().take(255).collect::<String>().into());
    let description = take(&mut fields, "description").as_ref().and_then(text).map(fill).unwrap_or(details.clone());
    let marker = ticket_marker(&session.lsid);
    let room = TICKET_DESCRIPTION_LIMIT - marker.chars().count() - 2;
    let description: String = description.trim().chars().take(room).collect();
    let description = format!("{description}\n\n{marker}");
    fields.insert("description".into(), description.trim_start().into());
    picklist_labels(clients, &mut fields).await?;
    if !fields.keys().any(|k| k.eq_ignore_ascii_case("dueDateTime")) {
        let due = (Utc::now() + chrono::Duration::days(1)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
        fields.insert("dueDateTime".into(), due.into());
    }
    serde_json::from_value(Value::Object(fields))
        .map_err(|e| Failure::Permanent(format!("Ticket Default Data does not make a ticket: {e}")))
}

/// The resource of the session's primary rep (`<username>@<defaultDomain>`).
async fn session_rep(worker: &Worker, clients: &ProfileClients, session: &SupportSession) -> Result<i64, Failure> {
    let username = session
        .primary_representative()
        .and_then(|r| r.username.clone())
        .ok_or_else(|| Failure::Permanent(format!("session {} names no rep to assign its ticket to", session.lsid)))?;
    let domain = clients.profile.time_entry_default_data.default_domain().ok_or_else(|| {
        Failure::Permanent(
            "assigning the ticket to the session's rep needs defaultDomain in Time Entry Default Data".to_owned(),
        )
    })?;
    worker.resource_id(clients, &format!("{username}@{domain}")).await
}

/// The ticket's work type: `workTypeName` of Ticket Default Data, else its `billingCodeID`, else
/// the profile's work type.
async fn work_type(worker: &Worker, clients: &ProfileClients, fields: &mut Map<String, Value>) -> Result<(), Failure> {
    let named = take(fields, "workTypeName").as_ref().and_then(text).or_else(|| {
        let set = fields.keys().any(|k| k.eq_ignore_ascii_case("billingCodeID"));
        clients.profile.work_type.clone().filter(|_| !set)
    });
    if let Some(name) = named {
        let _ = take(fields, "billingCodeID");
        fields.insert("billingCodeID".into(), worker.work_type_id(clients, &name).await?.into());
    }
    Ok(())
}

/// `{{<contact field>|<custom field code name>}}`: the session's custom field value searched in
/// that contact field, within the ticket's company.
async fn dynamic_contact(
    clients: &ProfileClients,
    session: &SupportSession,
    pattern: &str,
    company: Option<i64>,
) -> Result<Option<i64>, Failure> {
    let inner = pattern.trim().trim_start_matches("{{").trim_end_matches("}}");
    let Some((field, code)) = inner.split_once('|') else {
        return Err(Failure::Permanent(format!(
            "contactID '{pattern}' is not of the form {{{{<contact field>|<custom field code name>}}}}"
        )));
    };
    let (field, code) = (field.trim(), code.trim());
    let from_form = session.customers.iter().find_map(|c| c.info(code).filter(|v| !v.is_empty()).map(str::to_owned));
    let Some(value) = from_form.or_else(|| session.custom(code).map(str::to_owned)).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let mut filter = vec![Filter::eq(field, value)];
    if let Some(company) = company {
        filter.push(Filter::eq("companyID", company));
    }
    lookup::<Contact>(clients, Filter::all_of(filter)).await
}

async fn lookup<E: crate::autotask::Entity + HasId>(
    clients: &ProfileClients,
    filter: Filter,
) -> Result<Option<i64>, Failure> {
    let query = Query::new(filter).include_fields(["id"]).max_records(1);
    Ok(clients.autotask.query_page::<E>(&query).await?.items.into_iter().find_map(|e| e.id()))
}

/// Status, priority, queue and similar fields may name a picklist entry by its label.
async fn picklist_labels(clients: &ProfileClients, fields: &mut Map<String, Value>) -> Result<(), Failure> {
    let labelled: Vec<String> = fields.iter().filter(|(_, v)| v.is_string()).map(|(k, _)| k.clone()).collect();
    if labelled.is_empty() {
        return Ok(());
    }
    let info = clients.autotask.fields::<Ticket>().await?;
    for key in labelled {
        if let Some(picklist) = info.picklist(&key) {
            let label = fields[&key].as_str().unwrap_or_default().to_owned();
            let value = picklist.value_of(&label).ok_or_else(|| {
                Failure::Permanent(format!(
                    "'{label}' is not a {key} in Autotask; use one of: {}",
                    picklist.labels().collect::<Vec<_>>().join(", ")
                ))
            })?;
            fields.insert(key, value.into());
        }
    }
    Ok(())
}

/// Entities found by id.
trait HasId {
    fn id(&self) -> Option<i64>;
}

impl HasId for Company {
    fn id(&self) -> Option<i64> {
        self.id
    }
}
impl HasId for Role {
    fn id(&self) -> Option<i64> {
        self.id
    }
}
impl HasId for Contact {
    fn id(&self) -> Option<i64> {
        self.id
    }
}
