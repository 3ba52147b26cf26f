//! Sessions that ended without a ticket ("Not in a ticket"): kept with what a person needs to
//! bill them — the rep, the customer, how long — until someone attaches them to a ticket (their
//! job then runs again and writes there, with the same markers and ledger as any write) or
//! dismisses them as not billable. One row per session; attaching is one transaction, so two
//! people attaching the same session at once make one write.
//!
//! A session written to its ticket whose time entry Autotask refused for a closed timesheet is
//! kept here too, with its ticket: billable time not in Autotask until someone reopens the
//! timesheet and retries it (attaching it to its own ticket) or dismisses it.

use super::db::{DbError, Row, Sql, args};
use chrono::{DateTime, Utc};

use super::{Store, StoreError, millis, time};

/// What is known of a session that ended without a ticket.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UnlinkedSession {
    pub profile: String,
    pub lsid: String,
    pub job_id: i64,
    /// The primary rep's username on the appliance.
    pub rep: Option<String>,
    pub customer: Option<String>,
    pub company: Option<String>,
    pub issue: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub duration_seconds: Option<u64>,
    pub ended_at: Option<DateTime<Utc>>,
    /// Why it is not in a ticket (no external key; a ticket Autotask does not have…).
    pub reason: String,
    /// The ticket its notes are in when only its time is not in Autotask.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket_id: Option<i64>,
}

/// What became of an attach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attached {
    /// Its job runs again now, to write to the ticket.
    Queued { job_id: i64 },
    /// Already attached to this ticket (someone else was first): nothing more to do.
    Already { by: String },
    /// Attached to another ticket before; it stays there.
    Elsewhere { ticket: String, by: String },
    /// No session of that id ended without a ticket here.
    Unknown,
    /// Its event is no longer kept (older than the retention).
    Pruned,
}

impl Store {
    /// Records (or updates) a session that ended without a ticket. One that was attached to a
    /// ticket Autotask then did not have is open again, with the new reason.
    pub fn note_unlinked(&self, s: &UnlinkedSession, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO unlinked (profile, lsid, job_id, rep, customer, company, issue, started_at, duration_s,
                                   ended_at, reason, state, noted_at, held_ticket)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'open', $12, $13)
             ON CONFLICT (profile, lsid) DO UPDATE SET job_id = excluded.job_id, reason = excluded.reason,
                 held_ticket = excluded.held_ticket,
                 state = CASE WHEN unlinked.state IN ('attached', 'written') THEN 'open' ELSE unlinked.state END,
                 ticket = CASE WHEN unlinked.state = 'attached' THEN NULL ELSE unlinked.ticket END",
            args![
                s.profile,
                s.lsid,
                s.job_id,
                s.rep,
                s.customer,
                s.company,
                s.issue,
                s.started_at.map(millis),
                s.duration_seconds.map(|d| d as i64),
                s.ended_at.map(millis),
                s.reason,
                millis(now),
                s.ticket_id
            ],
        )?;
        Ok(())
    }

    /// A session whose time was kept for a closed timesheet is written now: off the list.
    pub fn time_written(&self, profile: &str, lsid: &str) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE unlinked SET state = 'written' WHERE profile = $1 AND lsid = $2 AND held_ticket IS NOT NULL
             AND state IN ('open', 'attached')",
            args![profile, lsid],
        )?;
        Ok(())
    }

    /// Open sessions without a ticket that ended (or were noted) since `since`, newest first.
    pub fn unlinked_since(&self, since: DateTime<Utc>) -> Result<Vec<UnlinkedSession>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM unlinked WHERE state = 'open' AND COALESCE(ended_at, noted_at) >= $1
             ORDER BY COALESCE(ended_at, noted_at) DESC"
        );
        Ok(self.conn().query(&sql, args![millis(since)], session_from_row)?)
    }

    /// Attaches a session to a ticket (an id or a number) and queues its job to write there.
    pub fn attach(
        &self,
        profile: &str,
        lsid: &str,
        ticket: &str,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<Attached, StoreError> {
        let mut conn = self.conn();
        let mut tx = conn.transaction()?;
        let sql = format!(
            "SELECT job_id, state, ticket, decided_by FROM unlinked WHERE profile = $1 AND lsid = $2{}",
            tx.engine().lock_rows()
        );
        let row: Option<(i64, String, Option<String>, Option<String>)> =
            tx.query_opt(&sql, args![profile, lsid], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        let Some((job_id, state, attached_to, decided_by)) = row else { return Ok(Attached::Unknown) };
        let by_before = decided_by.unwrap_or_default();
        match attached_to.filter(|_| state == "attached") {
            Some(t) if t.eq_ignore_ascii_case(ticket) => return Ok(Attached::Already { by: by_before }),
            Some(t) => return Ok(Attached::Elsewhere { ticket: t, by: by_before }),
            None => {}
        }
        let requeued = tx.execute(
            "UPDATE jobs SET state = 'pending', attempts = 0, next_run_at = $2, updated_at = $2
             WHERE id = $1 AND state IN ('failed', 'ignored', 'done')",
            args![job_id, millis(now)],
        )?;
        if requeued == 0 {
            return Ok(Attached::Pruned);
        }
        tx.execute(
            "UPDATE unlinked SET state = 'attached', ticket = $3, decided_by = $4, decided_at = $5
             WHERE profile = $1 AND lsid = $2",
            args![profile, lsid, ticket, by, millis(now)],
        )?;
        tx.commit()?;
        Ok(Attached::Queued { job_id })
    }

    /// Attaches a session as a person asked, and says so in the activity log: who attached which
    /// session to which ticket.
    pub fn attach_logged(
        &self,
        session: &UnlinkedSession,
        ticket: &str,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<Attached, StoreError> {
        let attached = self.attach(&session.profile, &session.lsid, ticket, by, now)?;
        if let Attached::Queued { job_id } = attached {
            let ticket_id = ticket.parse::<i64>().ok();
            let named = match ticket_id {
                Some(id) => super::ticket_or_id(self.ticket_name(&session.profile, id, now)?, id),
                None if ticket == crate::worker::NEW_TICKET => "a new ticket".to_owned(),
                None => ticket.to_owned(),
            };
            let summary = format!("{by} attached the session with {} to {named}", session.described());
            self.log_activity(&super::ActivityLine { ticket_id, ..session.activity(summary, Some(job_id)) }, now)?;
        }
        Ok(attached)
    }

    /// Dismisses a session as not billable and says who did in the activity log; whether it was
    /// still open.
    pub fn dismiss_logged(&self, session: &UnlinkedSession, by: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        if !self.dismiss(&session.profile, &session.lsid, by, now)? {
            return Ok(false);
        }
        let summary = format!("{by} dismissed the session with {} as not billable", session.described());
        self.log_activity(&session.activity(summary, Some(session.job_id)), now)?;
        Ok(true)
    }

    /// Dismisses an open session as not billable; whether there was one.
    pub fn dismiss(&self, profile: &str, lsid: &str, by: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let changed = self.conn().execute(
            "UPDATE unlinked SET state = 'dismissed', decided_by = $3, decided_at = $4
             WHERE profile = $1 AND lsid = $2 AND state = 'open'",
            args![profile, lsid, by, millis(now)],
        )?;
        Ok(changed == 1)
    }

    /// The ticket a person attached the session to, if any.
    pub fn attached_ticket(&self, profile: &str, lsid: &str) -> Result<Option<String>, StoreError> {
        let ticket = self.conn().query_opt(
            "SELECT ticket FROM unlinked WHERE profile = $1 AND lsid = $2 AND state = 'attached'",
            args![profile, lsid],
            |r| r.get::<Option<String>>(0),
        )?;
        Ok(ticket.flatten())
    }

    /// One rep's open sessions without a ticket since `since`, newest first.
    pub fn unlinked_of_rep(
        &self,
        profile: &str,
        rep: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<UnlinkedSession>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM unlinked WHERE state = 'open' AND profile = $1 AND lower(rep) = lower($2)
             AND coalesce(ended_at, noted_at) >= $3 ORDER BY coalesce(ended_at, noted_at) DESC"
        );
        Ok(self.conn().query(&sql, args![profile, rep, millis(since)], session_from_row)?)
    }

    /// Sessions without a ticket, in any state, whose id starts with `prefix` (a person types
    /// the first characters).
    pub fn unlinked_matching(&self, prefix: &str) -> Result<Vec<UnlinkedSession>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM unlinked WHERE substr(lsid, 1, length(CAST($1 AS TEXT))) = $1 ORDER BY lsid"
        );
        Ok(self.conn().query(&sql, args![prefix], session_from_row)?)
    }
}

const COLUMNS: &str =
    "profile, lsid, job_id, rep, customer, company, issue, started_at, duration_s, ended_at, reason, held_ticket";

fn session_from_row(r: &Row<'_>) -> Result<UnlinkedSession, DbError> {
    Ok(UnlinkedSession {
        profile: r.get(0)?,
        lsid: r.get(1)?,
        job_id: r.get(2)?,
        rep: r.get(3)?,
        customer: r.get(4)?,
        company: r.get(5)?,
        issue: r.get(6)?,
        started_at: r.get::<Option<i64>>(7)?.map(time),
        duration_seconds: r.get::<Option<i64>>(8)?.map(|d| d.max(0) as u64),
        ended_at: r.get::<Option<i64>>(9)?.map(time),
        reason: r.get(10)?,
        ticket_id: r.get(11)?,
    })
}

impl UnlinkedSession {
    /// "Dana Whitfield (Contoso Ltd, 15 min)", as a person names the session.
    pub fn described(&self) -> String {
        crate::beyondtrust::describe_session(self.customer.as_deref(), self.company.as_deref(), self.duration_seconds)
    }

    fn activity(&self, summary: String, job_id: Option<i64>) -> super::ActivityLine {
        super::ActivityLine {
            profile: self.profile.clone(),
            lsid: Some(self.lsid.clone()),
            level: "info",
            summary,
            details: Some(format!("session {}", self.lsid)),
            job_id,
            ticket_id: None,
            rep: self.rep.clone(),
        }
    }
}
