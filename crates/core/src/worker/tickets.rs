//! Finding a session's ticket from its external key, and writing notes to it exactly once.

use chrono::Utc;

use super::author::Author;
use super::{Failure, Job, ProfileClients, Worker, refused};
use crate::autotask::{ErrorKind, Filter, Query, Ticket, TicketNote};
use crate::render::{NoteText, marker};
use crate::store::{LedgerEntry, ticket_label};

/// What an external key names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TicketRef {
    Id(i64),
    /// A ticket number like `T20261124.0042`.
    Number(String),
}

/// Reads an external key: an Autotask ticket id, or a ticket number. Anything else names no ticket.
pub fn parse_external_key(key: &str) -> Option<TicketRef> {
    let key = key.trim();
    if !key.is_empty() && key.chars().all(|c| c.is_ascii_digit()) {
        return key.parse().ok().map(TicketRef::Id);
    }
    let number = key.strip_prefix(['T', 't'])?;
    let (date, seq) = number.split_once('.')?;
    let digits = |s: &str, n: usize| s.len() == n && s.chars().all(|c| c.is_ascii_digit());
    (digits(date, 8) && digits(seq, 4)).then(|| TicketRef::Number(format!("T{number}")))
}

/// A session's ticket, read from Autotask at most once for all the session needs of it (the
/// rep's role on it, its status).
pub(super) struct SessionTicket {
    pub id: i64,
    read: tokio::sync::OnceCell<Option<Ticket>>,
}

impl SessionTicket {
    pub fn new(id: i64) -> SessionTicket {
        SessionTicket { id, read: tokio::sync::OnceCell::new() }
    }

    /// The ticket as Autotask has it (one read, the first time); `None` when it has none.
    pub async fn get(&self, clients: &ProfileClients) -> Result<Option<&Ticket>, Failure> {
        let read =
            self.read.get_or_try_init(|| async { Ok::<_, Failure>(clients.autotask.get::<Ticket>(self.id).await?) });
        Ok(read.await?.as_ref())
    }
}

/// Whose notes of what kind, to which ticket.
#[derive(Clone, Copy)]
pub(super) struct NotesOf<'a> {
    pub lsid: &'a str,
    pub ticket_id: i64,
    /// "session", "customer survey"…: in the marker and the ledger.
    pub kind: &'a str,
    pub author: &'a Author,
}

impl Worker {
    /// The ticket id an external key names; a number is looked up once and remembered.
    pub(super) async fn ticket_id(&self, clients: &ProfileClients, key: &TicketRef) -> Result<Option<i64>, Failure> {
        let number = match key {
            TicketRef::Id(id) => return Ok(Some(*id)),
            TicketRef::Number(n) => n.clone(),
        };
        let cache_key = number.clone();
        let cached = self
            .store
            .run(move |s| s.cached("ticket_number", &cache_key, chrono::Duration::days(365), Utc::now()))
            .await?;
        if let Some(id) = cached.and_then(|v| v.parse().ok()) {
            return Ok(Some(id));
        }
        // Its title comes in the same answer, for the activity line.
        let query = Query::new(Filter::eq("ticketNumber", number.clone()))
            .include_fields(["id", "ticketNumber", "title"])
            .max_records(1);
        let found = clients.autotask.query_page::<Ticket>(&query).await?.items.into_iter().next();
        let Some((id, title)) = found.and_then(|t| Some((t.id?, t.title.unwrap_or_default()))) else { return Ok(None) };
        let (profile, label) = (clients.profile.name.clone(), ticket_label(&number, &title));
        self.store
            .run(move |s| {
                s.cache("ticket_number", &number, &id.to_string(), Utc::now())?;
                s.remember_ticket(&profile, id, &label, Utc::now())
            })
            .await?;
        Ok(Some(id))
    }

    /// Writes each note not yet written (by the ledger, and on a retry by its marker on the
    /// ticket); returns how many were written now.
    pub(super) async fn write_notes(
        &self,
        clients: &ProfileClients,
        job: &Job,
        to: NotesOf<'_>,
        notes: &[NoteText],
    ) -> Result<usize, Failure> {
        let NotesOf { lsid, ticket_id, kind, author } = to;
        let profile = &clients.profile;
        let ledger_kind = format!("note:{kind}");
        let (p, l) = (profile.name.clone(), lsid.to_owned());
        let done = self.store.run(move |s| s.writes_for(&p, &l)).await?;
        let mut written = 0;
        for note in notes {
            if done.iter().any(|w| w.kind == ledger_kind && w.part == note.part) {
                continue;
            }
            let mark = marker(lsid, kind, note.part, note.parts);
            let existing = if job.attempts > 1 { self.find_note(clients, ticket_id, &mark).await? } else { None };
            let id = match existing {
                Some(id) => {
                    tracing::info!(ticket_id, part = note.part, "the note was already written (marker found)");
                    id
                }
                None => {
                    written += 1;
                    let what = || format!("the {kind} note \"{}\"", note.title);
                    self.write_note(clients, ticket_id, note, author).await.map_err(|e| refused(what, e))?
                }
            };
            let entry = LedgerEntry {
                profile: profile.name.clone(),
                lsid: lsid.to_owned(),
                kind: ledger_kind.clone(),
                part: note.part,
                ticket_id: Some(ticket_id),
                autotask_id: id,
            };
            self.store.run(move |s| s.record_write(&entry, Utc::now())).await?;
        }
        Ok(written)
    }

    /// Writes one note as its author (see [`Author::write`]).
    async fn write_note(
        &self,
        clients: &ProfileClients,
        ticket_id: i64,
        note: &NoteText,
        author: &Author,
    ) -> Result<i64, crate::autotask::Error> {
        let profile = &clients.profile;
        let create = |as_rep: Option<i64>| {
            let written = author.note(note);
            let body = TicketNote {
                title: Some(written.title),
                description: Some(written.description),
                note_type: Some(profile.note_type),
                publish: Some(if profile.publish_notes_as_public { 1 } else { 2 }),
                ..Default::default()
            };
            async move { clients.autotask.create_child_as(ticket_id, &body, as_rep).await }
        };
        author.write(self, clients, create).await
    }

    async fn find_note(&self, clients: &ProfileClients, ticket_id: i64, mark: &str) -> Result<Option<i64>, Failure> {
        let query = Query::new(Filter::eq("ticketID", ticket_id))
            .and(Filter::contains("description", mark))
            .include_fields(["id"])
            .max_records(1);
        Ok(clients.autotask.query_page::<TicketNote>(&query).await?.items.into_iter().find_map(|n| n.id))
    }

    /// After a write was refused: whether the ticket exists at all (an external key that is a
    /// number but no ticket id is "no ticket", not a failure).
    pub(super) async fn ticket_exists(&self, clients: &ProfileClients, ticket_id: i64) -> Result<bool, Failure> {
        match clients.autotask.get::<Ticket>(ticket_id).await {
            Ok(found) => Ok(found.is_some()),
            Err(e) if e.kind == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_keys_name_tickets_by_id_or_number() {
        assert_eq!(parse_external_key(" 7201 "), Some(TicketRef::Id(7201)));
        assert_eq!(parse_external_key("T20261124.0042"), Some(TicketRef::Number("T20261124.0042".into())));
        assert_eq!(parse_external_key("t20261124.0042"), Some(TicketRef::Number("T20261124.0042".into())));
        for none in ["", "T2026.0042", "{\"companyName\": \"x\"}", "ticket 7", "T20261124.004"] {
            assert_eq!(parse_external_key(none), None, "{none}");
        }
    }
}
