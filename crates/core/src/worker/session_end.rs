//! A finished session: its report, its ticket, the note(s), and the primary rep's time entry.

use chrono::Utc;

use super::author::Author;
use super::tickets::{NotesOf, SessionTicket, TicketRef, parse_external_key};
use super::{Failure, Job, Outcome, ProfileClients, Worker, lsid_of};
use crate::autotask::{
    self, BillingCode, Filter, Query, Resource, ResourceRole, ResourceServiceDeskRole, Role, TimeEntry,
};
use crate::beyondtrust::{OutboundEvent, SupportSession};
use crate::billing::Part;
use crate::config::RoleSource;
use crate::store::{LedgerEntry, UnlinkedSession};

/// What a person attaches a session to when it needs a ticket of its own.
pub const NEW_TICKET: &str = "new";

/// What a person typed to attach a session to, as kept: a ticket id, a ticket number in capitals,
/// or `new`; `None` when it is none of these.
pub fn attach_target(typed: &str) -> Option<String> {
    match parse_external_key(typed) {
        Some(TicketRef::Id(id)) => Some(id.to_string()),
        Some(TicketRef::Number(number)) => Some(number),
        None => typed.trim().eq_ignore_ascii_case(NEW_TICKET).then(|| NEW_TICKET.to_owned()),
    }
}

pub(super) async fn handle(
    worker: &Worker,
    clients: &ProfileClients,
    job: &Job,
    event: &OutboundEvent,
) -> Result<Outcome, Failure> {
    let lsid = lsid_of(event)?;
    let Some(session) = clients.beyondtrust.support_session(lsid).await? else {
        return Err(Failure::NotReady(format!("the appliance has no report for session {lsid} yet")));
    };
    if session.end_time.is_none() {
        return Err(Failure::NotReady(format!("the report of session {lsid} does not show its end yet")));
    }
    worker.tell_session(job, &session);
    // The ticket is the one the appliance's own record of the session names: an outbound event
    // carries no proof of where it comes from, so what its body says is never taken for it.
    let mut key: String = session.external_key.as_deref().unwrap_or_default().to_owned();
    if parse_external_key(&key).is_none() {
        // A ticket created for this session whose id never reached the session (it ended first),
        // or the one a person attached it to.
        let (p, l) = (clients.profile.name.clone(), lsid.to_owned());
        let created = worker.store.run(move |s| s.writes_for(&p, &l)).await?.into_iter().find(|w| w.kind == "ticket");
        let (p, l) = (clients.profile.name.clone(), lsid.to_owned());
        let attached = worker.store.run(move |s| s.attached_ticket(&p, &l)).await?;
        if let Some(ticket) = created.map(|t| t.autotask_id.to_string()).or(attached) {
            key = ticket;
        }
        if key.eq_ignore_ascii_case(NEW_TICKET) {
            // A person asked for a new ticket for it: made from Ticket Default Data, once.
            let created = super::ticket_creation::create_for(worker, clients, job, &session, Default::default());
            key = created.await?.to_string();
        }
    }
    let Some(reference) = parse_external_key(&key) else {
        let why = if key.is_empty() {
            "it has no external key".to_owned()
        } else {
            format!("its external key '{key}' is no ticket id or number")
        };
        return no_ticket(worker, clients, job, &session, why).await;
    };
    let Some(ticket_id) = worker.ticket_id(clients, &reference).await? else {
        return no_ticket(worker, clients, job, &session, format!("Autotask has no ticket {key}")).await;
    };
    worker.tell_ticket(job, ticket_id);
    let notes = clients.renderer.session_notes(&session, &chrono::Local)?;
    let author = Author::of(worker, clients, &session).await?;
    let ticket = SessionTicket::new(ticket_id);
    let to = NotesOf { lsid, ticket_id, kind: "session", author: &author };
    let written = match worker.write_notes(clients, job, to, &notes).await {
        Ok(n) => n,
        Err(Failure::Permanent(why)) if matches!(reference, TicketRef::Id(_)) => {
            if worker.ticket_exists(clients, ticket_id).await? {
                return Err(Failure::Permanent(why));
            }
            let why = format!("Autotask has no ticket with id {ticket_id}");
            return no_ticket(worker, clients, job, &session, why).await;
        }
        Err(e) => return Err(e),
    };
    if let (Some(feeds), 1..) = (&worker.copies, written) {
        feeds.touched(&clients.profile.name, ticket_id).await;
    }
    let (time, timed, role) = if clients.profile.update_time_entry {
        let timed = time_entry(worker, clients, job, &session, &ticket, &author).await?;
        (" and a time entry", timed.written, timed.role_said)
    } else {
        ("", false, String::new())
    };
    let status = super::status::on_session_end(worker, clients, lsid, &ticket, &author).await?;
    let parts = if notes.len() == 1 { "a note".to_owned() } else { format!("{} notes", notes.len()) };
    let again = if written == 0 && !timed { " (already there)" } else { "" };
    let ticket = worker.ticket_named(&clients.profile.name, ticket_id).await?;
    Ok(Outcome::Done {
        summary: format!("Wrote the session with {} to {ticket}{again}{status}{}", session.described(), author.said()),
        wrote: format!("{parts}{time}{role}"),
        ticket_id: Some(ticket_id),
    })
}

/// A session that ended without a ticket it can be written to: kept in the "Not in a ticket"
/// list with what a person needs to bill it, and reported.
async fn no_ticket(
    worker: &Worker,
    clients: &ProfileClients,
    job: &Job,
    session: &SupportSession,
    why: String,
) -> Result<Outcome, Failure> {
    let unlinked = kept(clients, job, session, why.clone(), None);
    worker.store.run(move |s| s.note_unlinked(&unlinked, Utc::now())).await?;
    Ok(Outcome::Skipped(format!(
        "The session with {} is not in a ticket: {why}. Attach it to its ticket under Not in a ticket, or dismiss it",
        session.described()
    )))
}

/// What writing a session's time came to.
struct Timed {
    /// Whether any entry was written now.
    written: bool,
    /// " as \"Engineer\" (…)" where the role is not the configured one: in the Activity's details.
    role_said: String,
}

/// Writes the primary rep's time — one entry, or one per UTC day the session touches — each
/// unless it is there. A part Autotask refuses does not stop the others: their time is written,
/// the refusal said after.
async fn time_entry(
    worker: &Worker,
    clients: &ProfileClients,
    job: &Job,
    session: &SupportSession,
    ticket: &SessionTicket,
    author: &Author,
) -> Result<Timed, Failure> {
    let ticket_id = ticket.id;
    let profile = &clients.profile;
    let lsid = session.lsid.clone();
    let (p, l) = (profile.name.clone(), lsid.clone());
    let done: Vec<u32> = worker
        .store
        .run(move |s| s.writes_for(&p, &l))
        .await?
        .into_iter()
        .filter(|w| w.kind == "time_entry")
        .map(|w| w.part)
        .collect();
    let parts = time_parts(profile, session);
    // One entry is ledger part 0; a session split by UTC day is parts 1 to n. Whatever part is
    // there in the other layout (the setting changed before a retry) means its time is written.
    let part_of = |i: usize| if parts.len() == 1 { 0 } else { i as u32 + 1 };
    let layout = |p: &u32| (*p == 0) == (parts.len() == 1);
    if done.iter().any(|p| !layout(p)) || (0..parts.len()).all(|i| done.contains(&part_of(i))) {
        return Ok(Timed { written: false, role_said: String::new() });
    }
    let keeper = Timekeeper::find(worker, clients, session, ticket, author).await?;
    let mut written = false;
    let mut refusal = None;
    for (i, part) in parts.iter().enumerate() {
        if done.contains(&part_of(i)) {
            continue;
        }
        let mark = match parts.len() {
            1 => format!("[BeyondTrust session {}]", crate::render::marked_id(&lsid)),
            n => format!("[BeyondTrust session {}, part {} of {n}]", crate::render::marked_id(&lsid), i + 1),
        };
        let found = if job.attempts > 1 { marked_entry(clients, ticket_id, &mark).await? } else { None };
        let time = keeper.entry(clients, ticket_id, part, mark);
        let id = match found {
            Some(id) => id,
            None => match author.write(worker, clients, |as_rep| clients.autotask.create_as(&time, as_rep)).await {
                Ok(id) => {
                    written = true;
                    id
                }
                Err(e) if e.kind == autotask::ErrorKind::Rejected && parts.len() > 1 => {
                    refusal.get_or_insert(e);
                    continue;
                }
                Err(e) => return Err(time_refused(worker, clients, job, session, ticket_id, keeper.what(), e).await),
            },
        };
        let entry = LedgerEntry {
            profile: profile.name.clone(),
            lsid: lsid.clone().into(),
            kind: "time_entry".into(),
            part: part_of(i),
            ticket_id: Some(ticket_id),
            autotask_id: id,
        };
        worker.store.run(move |s| s.record_write(&entry, Utc::now())).await?;
    }
    if let Some(e) = refusal {
        return Err(time_refused(worker, clients, job, session, ticket_id, keeper.what(), e).await);
    }
    let (p, l) = (profile.name.clone(), lsid.clone());
    worker.store.run(move |s| s.time_written(&p, &l)).await?;
    Ok(Timed { written, role_said: keeper.role_said() })
}

/// Whose time it is and how Autotask files it: found once for all of a session's entries.
struct Timekeeper {
    email: String,
    resource_id: i64,
    role: FoundRole,
    work_type: Option<i64>,
}

/// The role a time entry is filed under, and where it came from.
pub(super) struct FoundRole {
    pub id: i64,
    pub name: String,
    pub source: RoleSource,
}

impl Timekeeper {
    async fn find(
        worker: &Worker,
        clients: &ProfileClients,
        session: &SupportSession,
        ticket: &SessionTicket,
        author: &Author,
    ) -> Result<Timekeeper, Failure> {
        let profile = &clients.profile;
        if author.name.is_empty() {
            return Err(Failure::Permanent(format!(
                "session {} names no primary representative for the time entry",
                session.lsid
            )));
        }
        let email = author.name.clone();
        let resource_id = match author.resource_id {
            Some(id) => id,
            None => worker.resource_id(clients, &email).await?,
        };
        let role = worker.role_for(clients, resource_id, ticket).await?.ok_or_else(|| {
            Failure::Permanent(format!(
                "no role Autotask accepts for {email}'s time: {} Give the rep that role, or a default service desk \
                 role, in Autotask (Admin › Resources › the resource), then Retry",
                worker.roles_tried(profile)
            ))
        })?;
        let work_type = match &profile.work_type {
            Some(name) => Some(worker.work_type_id(clients, name).await?),
            None => None,
        };
        Ok(Timekeeper { email, resource_id, role, work_type })
    }

    /// The time entry of one part, its marker last in the internal notes.
    fn entry(&self, clients: &ProfileClients, ticket_id: i64, part: &Part, mark: String) -> TimeEntry {
        let defaults = &clients.profile.time_entry_default_data;
        TimeEntry {
            ticket_id: Some(ticket_id),
            resource_id: Some(self.resource_id),
            role_id: Some(self.role.id),
            date_worked: Some(part.start),
            start_date_time: Some(part.start),
            end_date_time: Some(part.end),
            hours_worked: Some(part.hours_worked),
            // Set only under a desk's own rules; otherwise Autotask bills the hours worked.
            hours_to_bill: part.hours_to_bill,
            summary_notes: defaults.summary_notes().map(str::to_owned),
            internal_notes: Some(match defaults.internal_notes() {
                Some(notes) => format!("{notes}\n{mark}"),
                None => mark,
            }),
            billing_code_id: self.work_type,
            offset_hours: defaults.offset_hours(),
            ..Default::default()
        }
    }

    fn what(&self) -> String {
        format!("the time entry for {} as \"{}\"", self.email, self.role.name)
    }

    /// Said in the Activity when the role is not the configured one.
    fn role_said(&self) -> String {
        match self.role.source {
            RoleSource::RoleName => String::new(),
            RoleSource::Ticket => format!(" as \"{}\" (the rep's role on the ticket)", self.role.name),
            RoleSource::Default => format!(" as \"{}\" (the rep's default service desk role)", self.role.name),
        }
    }
}

/// The id of the ticket's time entry carrying `mark`, if one was written before.
async fn marked_entry(clients: &ProfileClients, ticket_id: i64, mark: &str) -> Result<Option<i64>, Failure> {
    let query = Query::new(Filter::eq("ticketID", ticket_id))
        .and(Filter::contains("internalNotes", mark.to_owned()))
        .include_fields(["id"])
        .max_records(1);
    Ok(clients.autotask.query_page::<TimeEntry>(&query).await?.items.into_iter().find_map(|t| t.id))
}

/// The entries a session's time is written as, by the profile's billing rules.
fn time_parts(profile: &crate::config::Profile, session: &SupportSession) -> Vec<Part> {
    let seconds = session.duration_seconds().unwrap_or(0);
    let end = session.end_time.unwrap_or_else(Utc::now);
    let start = session.start_time.unwrap_or(end - chrono::Duration::seconds(seconds as i64));
    profile.billing.parts(start, end)
}

/// A time entry Autotask did not take, said with what the desk does about it. Refused for a
/// closed timesheet, the time is kept under Not in a ticket (its notes are in the ticket) to be
/// retried when the timesheet reopens, or dismissed.
async fn time_refused(
    worker: &Worker,
    clients: &ProfileClients,
    job: &Job,
    session: &SupportSession,
    ticket_id: i64,
    what: String,
    e: autotask::Error,
) -> Failure {
    if e.kind != autotask::ErrorKind::Rejected {
        return e.into();
    }
    let words = e.messages.join("; ");
    let Some(refusal) = TimeRefusal::of(&words) else {
        return Failure::Permanent(format!("Autotask refused {what}: {}", e.reason()));
    };
    if refusal == TimeRefusal::ClosedTimesheet {
        let reason =
            format!("In its ticket, but its time is not in Autotask: {words} Reopen the timesheet, then Retry.");
        let held = kept(clients, job, session, reason, Some(ticket_id));
        if let Err(e) = worker.store.run(move |s| s.note_unlinked(&held, Utc::now())).await {
            return e.into();
        }
    }
    let status = e.status.map(|s| format!(" (HTTP {s})")).unwrap_or_default();
    let advice = refusal.what_to_do(clients.profile.billing.spans_midnight);
    Failure::Permanent(format!("Autotask refused {what}: {words}{status}. {advice}"))
}

/// The session as Not in a ticket keeps it, with what a person needs to bill it: without a
/// ticket, or (`ticket_id`) in its ticket with its time refused.
fn kept(
    clients: &ProfileClients,
    job: &Job,
    session: &SupportSession,
    reason: String,
    ticket_id: Option<i64>,
) -> UnlinkedSession {
    let info = |field: &str| session.customer_info(field).map(str::to_owned);
    UnlinkedSession {
        profile: clients.profile.name.clone(),
        lsid: session.lsid.to_string(),
        job_id: job.id,
        rep: session.primary_representative().and_then(|r| r.username.as_deref().map(str::to_owned)),
        customer: session.customer_name().map(str::to_owned),
        company: info("company"),
        issue: info("issue"),
        started_at: session.start_time,
        duration_seconds: session.duration_seconds(),
        ended_at: session.end_time,
        reason,
        ticket_id,
    }
}

/// Which of Autotask's documented time entry conditions a refusal is about, read from its words
/// (the help gives the conditions, not the words: the stand-in's are matched on the condition's
/// name — timesheet, proxy, midnight — which any wording of it must carry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TimeRefusal {
    ClosedTimesheet,
    Proxy,
    Midnight,
    AfterHours,
    WorkType,
}

impl TimeRefusal {
    fn of(said: &str) -> Option<TimeRefusal> {
        let said = said.to_lowercase();
        let has = |w: &str| said.contains(w);
        Some(if has("timesheet") {
            TimeRefusal::ClosedTimesheet
        } else if has("proxy") {
            TimeRefusal::Proxy
        } else if has("midnight") {
            TimeRefusal::Midnight
        } else if has("after-hours") || has("after hours") {
            TimeRefusal::AfterHours
        } else if has("work type") || has("billingcode") {
            TimeRefusal::WorkType
        } else {
            return None;
        })
    }

    /// What the desk does about it — never a change to a setting that is already as advised.
    fn what_to_do(self, spans_midnight: bool) -> &'static str {
        if self == TimeRefusal::Midnight && !spans_midnight {
            return "Each entry was already within one UTC date (\"One entry across UTC midnight\" is off), and \
                    Autotask still read it as spanning midnight: enter this part's time by hand in Autotask (the \
                    other parts are written), then dismiss it";
        }
        match self {
            TimeRefusal::ClosedTimesheet => {
                "The time is kept under Not in a ticket: reopen the rep's timesheet for that week in Autotask, then \
                 Retry it there — or dismiss it"
            }
            TimeRefusal::Proxy => {
                "The API user enters time for a rep only when Autotask's Proxy Time Entry system setting is \
                 \"Enabled for timesheet approvers and Administrators\" and the API user's security level is an \
                 administrator's: change them, then Retry"
            }
            TimeRefusal::Midnight => {
                "This Autotask does not allow time entries to span over midnight: turn \"One entry across UTC \
                 midnight\" (time_entry_spans_midnight) off, then Retry"
            }
            TimeRefusal::AfterHours => {
                "Its work type has an after-hours work type: set the profile's work type to one without, or enter \
                 the after-hours time by hand"
            }
            TimeRefusal::WorkType => {
                "This Autotask requires a work type: set the profile's work type (one of its active work types), \
                 then Retry"
            }
        }
    }
}

impl Worker {
    /// Looks a value up in the store's cache, else asks `fetch` and remembers the answer a day.
    async fn cached_id<F>(&self, kind: &'static str, key: &str, fetch: F) -> Result<Option<i64>, Failure>
    where
        F: std::future::Future<Output = Result<Option<i64>, Failure>>,
    {
        let k = key.to_owned();
        let cached = self.store.run(move |s| s.cached(kind, &k, chrono::Duration::hours(24), Utc::now())).await?;
        if let Some(id) = cached.and_then(|v| v.parse().ok()) {
            return Ok(Some(id));
        }
        let found = fetch.await?;
        if let Some(id) = found {
            let k = key.to_owned();
            self.store.run(move |s| s.cache(kind, &k, &id.to_string(), Utc::now())).await?;
        }
        Ok(found)
    }

    /// The active resource with this e-mail, if any (cached a day).
    pub(super) async fn resource_lookup(&self, clients: &ProfileClients, email: &str) -> Result<Option<i64>, Failure> {
        let email = email.to_lowercase();
        let domain = email.rsplit_once('@').map(|(_, d)| d.to_owned()).unwrap_or_default();
        if !domain.is_empty() && self.uncached("resource", &email).await? && self.bulk_due("resources", &domain).await?
        {
            // One query for the whole desk's reps (a page per 500) rather than one per rep.
            let everyone = Query::new(Filter::ends_with("email", format!("@{domain}")))
                .and(Filter::eq("isActive", true))
                .include_fields(["id", "email"]);
            let found = clients.autotask.query_all::<Resource>(everyone).await?;
            let pairs: Vec<(String, String)> =
                found.into_iter().filter_map(|r| Some((r.email?.to_lowercase(), r.id?.to_string()))).collect();
            self.store.run(move |s| s.cache_many("resource", &pairs, Utc::now())).await?;
        }
        let query =
            Query::new(Filter::eq("email", email.clone())).and(Filter::eq("isActive", true)).include_fields(["id"]);
        let fetch =
            async { Ok(clients.autotask.query_page::<Resource>(&query).await?.items.into_iter().find_map(|r| r.id)) };
        self.cached_id("resource", &email, fetch).await
    }

    /// Whether the cache holds no value of `kind` for `key` within the day.
    async fn uncached(&self, kind: &'static str, key: &str) -> Result<bool, Failure> {
        let key = key.to_owned();
        Ok(self.store.run(move |s| s.cached(kind, &key, chrono::Duration::hours(24), Utc::now())).await?.is_none())
    }

    /// Whether a lookup of everything of `what` for `key` (a domain's resources, a role's
    /// holders) is due — at most once an hour; marked done now when it is.
    async fn bulk_due(&self, what: &str, key: &str) -> Result<bool, Failure> {
        let mark = format!("{what}:{key}");
        let due = self
            .store
            .run(move |s| {
                let due = s.cached("bulk", &mark, chrono::Duration::hours(1), Utc::now())?.is_none();
                if due {
                    s.cache("bulk", &mark, "1", Utc::now())?;
                }
                Ok(due)
            })
            .await?;
        Ok(due)
    }

    pub(super) async fn resource_id(&self, clients: &ProfileClients, email: &str) -> Result<i64, Failure> {
        self.resource_lookup(clients, email).await?.ok_or_else(|| {
            Failure::Permanent(format!(
                "no active Autotask resource has the e-mail {email}; give the rep that e-mail in Autotask, or correct \
                 defaultDomain in Time Entry Default Data"
            ))
        })
    }

    /// The id of the active work type (BillingCodes useType 1) of this name.
    pub(super) async fn work_type_id(&self, clients: &ProfileClients, name: &str) -> Result<i64, Failure> {
        let query = Query::new(Filter::eq("name", name))
            .and(Filter::eq("useType", autotask::WORK_TYPE))
            .and(Filter::eq("isActive", true))
            .include_fields(["id"]);
        let fetch = async {
            Ok(clients.autotask.query_page::<BillingCode>(&query).await?.items.into_iter().find_map(|c| c.id))
        };
        self.cached_id("work_type", name, fetch).await?.ok_or_else(|| {
            Failure::Permanent(format!(
                "Autotask has no active work type named '{name}'; correct the profile's work type (`check` lists \
                 the active ones)"
            ))
        })
    }

    /// The role of the rep's time on this ticket: the first the profile's order finds.
    pub(super) async fn role_for(
        &self,
        clients: &ProfileClients,
        resource_id: i64,
        ticket: &SessionTicket,
    ) -> Result<Option<FoundRole>, Failure> {
        let profile = &clients.profile;
        for &source in &profile.time_entry_roles {
            let found = match source {
                RoleSource::Ticket => self.ticket_role(clients, resource_id, ticket).await?,
                RoleSource::RoleName => match profile.time_entry_default_data.role_name() {
                    Some(name) => {
                        let id = self.role_id(clients, name).await?;
                        self.holds_role(clients, resource_id, id).await?.then(|| (id, name.to_owned()))
                    }
                    None => None,
                },
                RoleSource::Default => match self.default_role(clients, resource_id).await? {
                    Some(id) => Some((id, self.role_name_of(clients, id).await?)),
                    None => None,
                },
            };
            if let Some((id, name)) = found {
                return Ok(Some(FoundRole { id, name, source }));
            }
        }
        Ok(None)
    }

    /// What the profile's order looked for, said when it found no role.
    fn roles_tried(&self, profile: &crate::config::Profile) -> String {
        let said: Vec<String> = profile
            .time_entry_roles
            .iter()
            .map(|r| match r {
                RoleSource::Ticket => "the ticket is not assigned to them".to_owned(),
                RoleSource::RoleName => match profile.time_entry_default_data.role_name() {
                    Some(name) => format!("they do not hold \"{name}\""),
                    None => "no roleName is set".to_owned(),
                },
                RoleSource::Default => "they have no default service desk role".to_owned(),
            })
            .collect();
        format!("{}.", said.join(", "))
    }

    /// The ticket's role when the ticket is assigned to the rep: from the desk's copy where it
    /// holds the ticket, else the session's one read of it.
    async fn ticket_role(
        &self,
        clients: &ProfileClients,
        resource_id: i64,
        ticket: &SessionTicket,
    ) -> Result<Option<(i64, String)>, Failure> {
        let copied = match &self.copies {
            Some(feeds) => feeds.assignment(&clients.profile.name, ticket.id).await,
            None => None,
        };
        let (assigned, role) = match copied {
            Some(copied) => (copied.resource, copied.role),
            None => match ticket.get(clients).await? {
                Some(t) => (t.assigned_resource_id, t.assigned_resource_role_id),
                None => (None, None),
            },
        };
        let role = role.filter(|_| assigned == Some(resource_id));
        match role {
            Some(id) => Ok(Some((id, self.role_name_of(clients, id).await?))),
            None => Ok(None),
        }
    }

    /// Whether the resource holds the role (ResourceRoles). The role's holders are read at once
    /// (at most hourly) and each pair cached a day; a pair not found is asked of Autotask alone,
    /// and again next time, so a role given in Autotask counts at the next Retry.
    async fn holds_role(&self, clients: &ProfileClients, resource_id: i64, role_id: i64) -> Result<bool, Failure> {
        let pair = format!("{resource_id}:{role_id}");
        if self.uncached("holds_role", &pair).await? && self.bulk_due("role_holders", &role_id.to_string()).await? {
            // Everyone who holds the role, in one query (a page per 500), rather than a query per rep.
            let holders = Query::new(Filter::eq("roleID", role_id))
                .and(Filter::eq("isActive", true))
                .include_fields(["resourceID"]);
            let found = clients.autotask.query_all::<ResourceRole>(holders).await?;
            let pairs: Vec<(String, String)> = found
                .into_iter()
                .filter_map(|h| Some((format!("{}:{role_id}", h.resource_id?), role_id.to_string())))
                .collect();
            self.store.run(move |s| s.cache_many("holds_role", &pairs, Utc::now())).await?;
        }
        let query = Query::new(Filter::eq("resourceID", resource_id))
            .and(Filter::eq("roleID", role_id))
            .include_fields(["id"])
            .max_records(1);
        let fetch = async {
            let found = clients.autotask.query_page::<ResourceRole>(&query).await?.items;
            Ok((!found.is_empty()).then_some(role_id))
        };
        Ok(self.cached_id("holds_role", &pair, fetch).await?.is_some())
    }

    /// The resource's default service desk role, if it has one.
    async fn default_role(&self, clients: &ProfileClients, resource_id: i64) -> Result<Option<i64>, Failure> {
        let query = Query::new(Filter::eq("resourceID", resource_id))
            .and(Filter::eq("isDefault", true))
            .and(Filter::eq("isActive", true))
            .include_fields(["id", "roleID"])
            .max_records(1);
        let fetch = async {
            let found = clients.autotask.query_page::<ResourceServiceDeskRole>(&query).await?.items;
            Ok(found.into_iter().find_map(|r| r.role_id))
        };
        self.cached_id("default_role", &resource_id.to_string(), fetch).await
    }

    /// A role's name by its id, for what the Activity says (cached a day).
    async fn role_name_of(&self, clients: &ProfileClients, role_id: i64) -> Result<String, Failure> {
        let key = role_id.to_string();
        let k = key.clone();
        let cached =
            self.store.run(move |s| s.cached("role_name", &k, chrono::Duration::hours(24), Utc::now())).await?;
        if let Some(name) = cached {
            return Ok(name);
        }
        let name = clients.autotask.get::<Role>(role_id).await?.and_then(|r| r.name).unwrap_or_else(|| key.clone());
        let value = name.clone();
        self.store.run(move |s| s.cache("role_name", &key, &value, Utc::now())).await?;
        Ok(name)
    }

    async fn role_id(&self, clients: &ProfileClients, name: &str) -> Result<i64, Failure> {
        let query = Query::new(Filter::eq("name", name)).include_fields(["id"]);
        let fetch =
            async { Ok(clients.autotask.query_page::<Role>(&query).await?.items.into_iter().find_map(|r| r.id)) };
        self.cached_id("role", name, fetch).await?.ok_or_else(|| {
            Failure::Permanent(format!(
                "Autotask has no role named '{name}'; correct roleName in Time Entry Default Data"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::TimeRefusal;

    #[test]
    fn a_refusal_is_read_by_the_condition_it_names() {
        let cases = [
            (
                "A TimeEntry may only be added to a timesheet with the status of New or Rejected",
                TimeRefusal::ClosedTimesheet,
            ),
            ("Proxy Time Entry does not allow the API user to enter time for other resources", TimeRefusal::Proxy),
            ("Time entries may not span over midnight", TimeRefusal::Midnight),
            ("its Work Type has an After-Hours Work Type", TimeRefusal::AfterHours),
            ("A Work Type (billingCodeID ...) is required", TimeRefusal::WorkType),
        ];
        for (said, condition) in cases {
            assert_eq!(TimeRefusal::of(said), Some(condition), "{said}");
            assert!(!condition.what_to_do(true).is_empty());
        }
        assert_eq!(TimeRefusal::of("TimeEntry.summaryNotes can not be blank."), None);
        // Advice never names a setting that is already as it advises.
        assert!(TimeRefusal::Midnight.what_to_do(true).contains("turn"));
        assert!(!TimeRefusal::Midnight.what_to_do(false).contains("turn \""));
    }
}
