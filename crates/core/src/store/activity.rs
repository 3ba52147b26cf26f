//! The activity log a rep reads: one line per thing that happened, in the rep's words (who the
//! session was with, which ticket by number and title), the ids behind it on a details line.
//!
//! Tickets are named by what is known without asking Autotask: the number and title the tray
//! showed when the rep made the key or Jumped, or that a lookup by number returned. A line
//! written before its ticket's name was known says "ticket 7201"; `Activity::name_ticket`
//! names it when the name is learnt later (the tray asks for several at once when it shows them).

use super::db::{DbError, Row, Sql, args};
use chrono::{DateTime, Duration, Utc};

use super::{Store, StoreError, millis, time};

/// A line of the activity log.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Activity {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub profile: String,
    pub lsid: Option<String>,
    pub ticket_id: Option<i64>,
    /// `info`, `warning` or `error`.
    pub level: String,
    pub summary: String,
    /// The ids behind the line (session, ticket id) and what exactly was written.
    pub details: Option<String>,
    pub job_id: Option<i64>,
    /// The session's primary rep (their BeyondTrust username), when known.
    pub rep: Option<String>,
}

/// A line to add to the activity log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ActivityLine {
    pub profile: String,
    pub lsid: Option<String>,
    pub ticket_id: Option<i64>,
    /// `info`, `warning` or `error`.
    pub level: &'static str,
    pub summary: String,
    pub details: Option<String>,
    pub job_id: Option<i64>,
    /// The session's primary rep, when known: the line is in their own list too.
    pub rep: Option<String>,
}

/// How long a ticket's number and title are taken as its name.
const TICKET_NAME_KEPT: Duration = Duration::days(90);

/// Longest title a line repeats; the ticket itself has the rest.
const TITLE_SHOWN: usize = 60;

/// A ticket as a rep names it: "T20261124.0042 Outlook keeps asking for password".
pub fn ticket_label(number: &str, title: &str) -> String {
    let title = title.trim();
    let title = match title.char_indices().nth(TITLE_SHOWN) {
        Some((cut, _)) => format!("{}…", title[..cut].trim_end()),
        None => title.to_owned(),
    };
    format!("{} {title}", number.trim()).trim().to_owned()
}

/// The ticket's name when known, else "ticket 7201" (which `Activity::name_ticket` can name later).
pub fn ticket_or_id(label: Option<String>, ticket_id: i64) -> String {
    label.unwrap_or_else(|| unnamed(ticket_id))
}

fn unnamed(ticket_id: i64) -> String {
    format!("ticket {ticket_id}")
}

const COLUMNS: &str = "id, at, profile, lsid, ticket_id, level, summary, details, job_id, rep";

fn activity_from_row(r: &Row<'_>) -> Result<Activity, DbError> {
    Ok(Activity {
        id: r.get(0)?,
        at: time(r.get(1)?),
        profile: r.get(2)?,
        lsid: r.get(3)?,
        ticket_id: r.get(4)?,
        level: r.get(5)?,
        summary: r.get(6)?,
        details: r.get(7)?,
        job_id: r.get(8)?,
        rep: r.get(9)?,
    })
}

impl Activity {
    /// Whether the line still says "ticket 7201" where the ticket's name belongs.
    pub fn names_ticket_by_id(&self) -> bool {
        self.ticket_id.is_some_and(|id| find_unnamed(&self.summary, id).is_some())
    }

    /// Puts the ticket's name where the line says "ticket 7201".
    pub fn name_ticket(&mut self, label: &str) {
        let Some(id) = self.ticket_id else { return };
        while let Some(at) = find_unnamed(&self.summary, id) {
            self.summary.replace_range(at..at + unnamed(id).len(), label);
        }
    }
}

/// Where "ticket 7201" stands in `text` as a whole (not the start of "ticket 72015").
fn find_unnamed(text: &str, ticket_id: i64) -> Option<usize> {
    let needle = unnamed(ticket_id);
    text.match_indices(&needle)
        .map(|(at, _)| at)
        .find(|&at| !text[at + needle.len()..].starts_with(|c: char| c.is_ascii_digit()))
}

impl Store {
    /// Adds a line to the activity log; returns its id.
    pub fn log_activity(&self, line: &ActivityLine, now: DateTime<Utc>) -> Result<i64, StoreError> {
        Ok(self.conn().query_one(
            "INSERT INTO activity (at, profile, lsid, ticket_id, level, summary, details, job_id, rep)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
            args![
                millis(now),
                line.profile,
                line.lsid,
                line.ticket_id,
                line.level,
                line.summary,
                line.details,
                line.job_id,
                line.rep
            ],
            |r| r.get(0),
        )?)
    }

    /// The newest activity first.
    pub fn recent_activity(&self, limit: usize) -> Result<Vec<Activity>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM activity ORDER BY id DESC LIMIT $1");
        Ok(self.conn().query(&sql, args![limit as i64], activity_from_row)?)
    }

    /// One rep's activity (of the sessions they were the primary rep of), the newest first.
    pub fn activity_of_rep(&self, profile: &str, rep: &str, limit: usize) -> Result<Vec<Activity>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM activity WHERE profile = $1 AND rep = $2 ORDER BY id DESC LIMIT $3");
        Ok(self.conn().query(&sql, args![profile, rep, limit as i64], activity_from_row)?)
    }

    /// A job's history: every activity line about it, oldest first.
    pub fn activity_of_job(&self, job_id: i64) -> Result<Vec<Activity>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM activity WHERE job_id = $1 ORDER BY id");
        Ok(self.conn().query(&sql, args![job_id], activity_from_row)?)
    }

    /// Whether a job is about a session `rep` was the primary rep of (its activity says so).
    pub fn job_of_rep(&self, job_id: i64, profile: &str, rep: &str) -> Result<bool, StoreError> {
        let found: i64 = self.conn().query_one(
            "SELECT count(*) FROM activity WHERE job_id = $1 AND profile = $2 AND rep = $3",
            args![job_id, profile, rep],
            |r| r.get(0),
        )?;
        Ok(found > 0)
    }

    /// Keeps a ticket's name (see [`ticket_label`]) for the lines written about it.
    pub fn remember_ticket(
        &self,
        profile: &str,
        ticket_id: i64,
        label: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.cache("ticket_name", &format!("{profile}/{ticket_id}"), label, now)
    }

    /// A ticket's name, when known.
    pub fn ticket_name(&self, profile: &str, ticket_id: i64, now: DateTime<Utc>) -> Result<Option<String>, StoreError> {
        self.cached("ticket_name", &format!("{profile}/{ticket_id}"), TICKET_NAME_KEPT, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(summary: &str, ticket_id: Option<i64>) -> Activity {
        Activity {
            rep: None,
            id: 1,
            at: Utc::now(),
            profile: "Production".into(),
            lsid: None,
            ticket_id,
            level: "info".into(),
            summary: summary.into(),
            details: None,
            job_id: None,
        }
    }

    #[test]
    fn a_ticket_is_named_by_number_and_title_cut_short() {
        assert_eq!(ticket_label("T20261124.0042", " Outlook keeps asking "), "T20261124.0042 Outlook keeps asking");
        assert_eq!(ticket_label("T20261124.0042", ""), "T20261124.0042");
        let long = ticket_label("T1", &"é".repeat(100));
        assert!(long.ends_with('…') && long.chars().count() == 3 + TITLE_SHOWN + 1, "{long}");
    }

    #[test]
    fn a_line_written_before_the_name_was_known_is_named_later() {
        let mut a = line("Wrote the session with Pat Lee (25 min) to ticket 7201", Some(7201));
        assert!(a.names_ticket_by_id());
        a.name_ticket("T20261124.0042 Outlook");
        assert_eq!(a.summary, "Wrote the session with Pat Lee (25 min) to T20261124.0042 Outlook");
        assert!(!a.names_ticket_by_id());

        // Another ticket whose id begins the same is left alone.
        let mut other = line("Wrote it to ticket 72015", Some(7201));
        assert!(!other.names_ticket_by_id());
        other.name_ticket("T1 x");
        assert_eq!(other.summary, "Wrote it to ticket 72015");
        let mut none = line("No ticket 7201", None);
        none.name_ticket("T1 x");
        assert_eq!(none.summary, "No ticket 7201");
    }
}
