//! The worker's durable state in one SQLite file (WAL, full sync): the inbox of events exactly
//! as received, the jobs made from them, the ledger of every Autotask write, the activity log
//! the tray app shows, the polling watermarks, and caches. Every change is one transaction, so
//! a `kill -9` at any moment leaves it whole. A job is claimed for [`JOB_LEASE`], renewed while
//! it runs: one left running by a process that died is taken again once its claim lapses, by
//! whichever process works the queue — so two workers sharing a store never leave each other's
//! work stranded.
//! Transactions that read before they write take the write lock first (IMMEDIATE): the worker
//! and a command beside it (`attach`, `retry`) then wait their turn instead of one failing with
//! "database is locked" when it upgrades a read.
//! SQLite work is blocking: async callers go through [`AsyncStore`], which runs it on the
//! blocking pool.

mod activity;
mod console;
mod reps;
mod retention;
mod schema;
mod unlinked;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

pub use activity::{Activity, ActivityLine, ticket_label, ticket_or_id};
pub use console::{ConsoleAdmin, ConsoleSession, ProfileCounts, SessionEnds};
pub use reps::{KeyedHash, NewRep, Rep, RepSeen, RepState, token_key_path};
pub use unlinked::{Attached, UnlinkedSession};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "the store at {path} could not be opened: {message} — check the data directory's permissions and free space"
    )]
    Open { path: PathBuf, message: String },
    #[error("the store failed: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the store's background task stopped: {0}")]
    Task(String),
    #[error(
        "the key that guards the reps' tokens at {path} could not be read or made: {message} — check the data directory's permissions"
    )]
    TokenKey { path: PathBuf, message: String },
}

/// Where an event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Outbound,
    Polling,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::Outbound => "outbound",
            Source::Polling => "polling",
        }
    }
    fn parse(s: &str) -> Source {
        if s == "polling" { Source::Polling } else { Source::Outbound }
    }
}

/// What a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    Pending,
    Running,
    Done,
    /// Failed for good (a permanent error, or retries used up); a person may retry it.
    Failed,
    /// Accepted but not processed (event type off, profile disabled, no ticket…).
    Ignored,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Failed => "failed",
            JobState::Ignored => "ignored",
        }
    }
    fn parse(s: &str) -> JobState {
        match s {
            "running" => JobState::Running,
            "done" => JobState::Done,
            "failed" => JobState::Failed,
            "ignored" => JobState::Ignored,
            _ => JobState::Pending,
        }
    }
}

/// An event to keep, and the job to make of it (none when it is only kept, e.g. ignored).
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub profile: String,
    pub source: Source,
    /// The event's name (`support_conference_end`).
    pub event: String,
    pub lsid: Option<String>,
    /// Identifies the event itself: the same delivery twice has the same key.
    pub dedupe_key: String,
    /// The body as received.
    pub body: String,
    pub remote_addr: Option<String>,
    /// When set, a pending job of this state is made; `Ignored` records why in `note`.
    pub job: JobState,
    pub note: Option<String>,
}

/// The outcome of keeping an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    New {
        job_id: i64,
    },
    /// Already kept (an appliance retry): nothing new was made.
    Duplicate,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: i64,
    pub profile: String,
    pub source: Source,
    pub event: String,
    pub lsid: Option<String>,
    pub body: String,
    pub state: JobState,
    pub attempts: u32,
    pub next_run_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// One Autotask write, recorded with the id Autotask gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub profile: String,
    pub lsid: String,
    /// `note`, `time_entry`, `ticket`…
    pub kind: String,
    /// Which part of a split note (0 for a whole one).
    pub part: u32,
    pub ticket_id: Option<i64>,
    pub autotask_id: i64,
}

/// Queue figures for `/healthz`.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueHealth {
    pub pending: u64,
    pub running: u64,
    pub failed: u64,
    pub oldest_pending: Option<DateTime<Utc>>,
}

/// The store on one SQLite file.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    conn: Mutex<Connection>,
    /// The key of the reps' keyed hashes, read from its file when first needed.
    token_key: Mutex<Option<KeyedHash>>,
    /// Whose claims on jobs this opening makes: its own, made at open, so that two processes on
    /// one store tell their claims apart.
    claimant: String,
}

/// How long a claim on a job holds without being renewed: a process renews its claims every
/// third of it ([`Store::renew_claims`]); a job whose claim lapsed is anyone's again.
pub const JOB_LEASE: chrono::Duration = chrono::Duration::seconds(15);

fn millis(d: DateTime<Utc>) -> i64 {
    d.timestamp_millis()
}

fn time(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

fn refused_reps(
    conn: &Connection,
    profile: &str,
    within: chrono::Duration,
    now: DateTime<Utc>,
) -> Result<Vec<String>, StoreError> {
    let mut statement = conn.prepare(
        "SELECT value FROM cache WHERE kind = ?1 AND substr(key, 1, length(?2)) = ?2 AND fetched_at >= ?3 \
         ORDER BY value",
    )?;
    let prefix = refused_rep_key(profile, "");
    let rows = statement.query_map(params![REFUSED_REPS, prefix, millis(now - within)], |r| r.get(0))?;
    Ok(rows.collect::<Result<Vec<String>, _>>()?)
}

/// The cache kind of reps Autotask would not let the API user write as (value: the rep's name).
pub const REFUSED_REPS: &str = "impersonation_refused";

/// A refused rep's cache key: the profile, then the rep's resource id.
pub fn refused_rep_key(profile: &str, resource_id: impl std::fmt::Display) -> String {
    format!("{profile}\u{1f}{resource_id}")
}

impl Store {
    /// Opens (creating if needed) the store and migrates it. Jobs marked running stay so: another
    /// process (the worker beside a `jobs` listing) may be running them; each is taken again
    /// once its claim lapses, or at once where the process that works the queue is the store's
    /// only one (the tray app) and calls [`Store::requeue_interrupted`] as it starts.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let open_error = |message: String| StoreError::Open { path: path.to_owned(), message };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| open_error(e.to_string()))?;
        }
        let conn = Connection::open(path).map_err(|e| open_error(e.to_string()))?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(|e| open_error(e.to_string()))?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        retention::allow_incremental_vacuum(&conn).map_err(|e| open_error(format!("setting up vacuum: {e}")))?;
        schema::migrate(&conn).map_err(|e| open_error(format!("migrating: {e}")))?;
        let claimant = format!("{}-{:016x}", std::process::id(), rand::random::<u64>());
        Ok(Store { path: path.to_owned(), conn: Mutex::new(conn), token_key: Mutex::new(None), claimant })
    }

    /// The reps Autotask refused to let the API user write as within `within`, for a profile,
    /// read from an existing store without creating or migrating it (`check` may run as
    /// another user than the service): none when the store is not there yet.
    pub fn refused_reps_at(
        path: &Path,
        profile: &str,
        within: chrono::Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, StoreError> {
        if !path.exists() {
            return Ok(Vec::new());
        }
        let open_error = |message: String| StoreError::Open { path: path.to_owned(), message };
        let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| open_error(e.to_string()))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        refused_reps(&conn, profile, within, now)
    }

    /// [`Store::refused_reps_at`] of this store.
    pub fn refused_reps(
        &self,
        profile: &str,
        within: chrono::Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, StoreError> {
        refused_reps(&self.conn(), profile, within, now)
    }

    /// Returns jobs a stopped or crashed worker left running to the queue; how many. Only the
    /// one process that works this store's queue calls it, as it starts.
    pub fn requeue_interrupted(&self) -> Result<usize, StoreError> {
        Ok(self.conn().execute("UPDATE jobs SET state = 'pending' WHERE state = 'running'", [])?)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps an event and makes its job, in one transaction; a duplicate makes nothing.
    pub fn accept(&self, event: &NewEvent, now: DateTime<Utc>) -> Result<Accepted, StoreError> {
        Ok(self.accept_all(std::slice::from_ref(event), now)?.remove(0))
    }

    /// Keeps several events and makes their jobs in one transaction — one write to the disk for
    /// all of them; each duplicate makes nothing. All are kept, or none.
    pub fn accept_all(&self, events: &[NewEvent], now: DateTime<Utc>) -> Result<Vec<Accepted>, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let accepted = events.iter().map(|e| Self::accept_in(&tx, e, now)).collect::<Result<Vec<_>, _>>()?;
        tx.commit()?;
        Ok(accepted)
    }

    fn accept_in(tx: &rusqlite::Transaction<'_>, event: &NewEvent, now: DateTime<Utc>) -> Result<Accepted, StoreError> {
        let inserted = tx.execute(
            "INSERT INTO inbox (profile, source, event, lsid, dedupe_key, body, received_at, remote_addr)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (dedupe_key) DO NOTHING",
            params![
                event.profile,
                event.source.as_str(),
                event.event,
                event.lsid,
                event.dedupe_key,
                event.body,
                millis(now),
                event.remote_addr
            ],
        )?;
        if inserted == 0 {
            return Ok(Accepted::Duplicate);
        }
        let inbox_id = tx.last_insert_rowid();
        tx.execute(
            "INSERT INTO jobs (inbox_id, state, attempts, next_run_at, last_error, created_at, updated_at)
             VALUES (?1, ?2, 0, ?3, ?4, ?3, ?3)",
            params![inbox_id, event.job.as_str(), millis(now), event.note],
        )?;
        let job_id = tx.last_insert_rowid();
        Ok(Accepted::New { job_id })
    }

    const JOB_COLUMNS: &'static str = "j.id, i.profile, i.source, i.event, i.lsid, i.body, j.state, j.attempts,
         j.next_run_at, j.last_error, j.created_at";

    fn job_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Job> {
        Ok(Job {
            id: row.get(0)?,
            profile: row.get(1)?,
            source: Source::parse(&row.get::<_, String>(2)?),
            event: row.get(3)?,
            lsid: row.get(4)?,
            body: row.get(5)?,
            state: JobState::parse(&row.get::<_, String>(6)?),
            attempts: row.get(7)?,
            next_run_at: time(row.get(8)?),
            last_error: row.get(9)?,
            created_at: time(row.get(10)?),
        })
    }

    pub fn job(&self, id: i64) -> Result<Option<Job>, StoreError> {
        let conn = self.conn();
        let sql = format!("SELECT {} FROM jobs j JOIN inbox i ON i.id = j.inbox_id WHERE j.id = ?1", Self::JOB_COLUMNS);
        Ok(conn.query_row(&sql, [id], Self::job_from_row).optional()?)
    }

    /// Claims up to `limit` jobs for [`JOB_LEASE`], oldest first, marking them running: pending
    /// ones whose time has come, and running ones whose claim lapsed (their process died). A
    /// session's jobs run one at a time, in order: none is claimed while another job of the same
    /// session runs under a live claim, and a batch holds at most one job per session.
    pub fn claim_due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Job>, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let jobs = {
            let sql = format!(
                "SELECT {} FROM jobs j JOIN inbox i ON i.id = j.inbox_id
                 WHERE ((j.state = 'pending' AND j.next_run_at <= ?1)
                        OR (j.state = 'running' AND coalesce(j.lease_until, 0) <= ?1))
                   AND NOT EXISTS (SELECT 1 FROM jobs r JOIN inbox ri ON ri.id = r.inbox_id
                                   WHERE r.state = 'running' AND r.lease_until > ?1 AND r.id <> j.id
                                     AND ri.profile = i.profile AND ri.lsid = i.lsid)
                 ORDER BY j.next_run_at, j.id LIMIT ?2",
                Self::JOB_COLUMNS
            );
            let mut statement = tx.prepare(&sql)?;
            let due = statement.query_map(params![millis(now), limit as i64], Self::job_from_row)?;
            let mut sessions = std::collections::HashSet::new();
            let mut jobs = Vec::new();
            for job in due {
                let job = job?;
                let first = job.lsid.as_ref().is_none_or(|lsid| sessions.insert((job.profile.clone(), lsid.clone())));
                if first {
                    jobs.push(job);
                }
            }
            jobs
        };
        for job in &jobs {
            tx.execute(
                "UPDATE jobs SET state = 'running', attempts = attempts + 1, updated_at = ?2,
                        lease_owner = ?3, lease_until = ?4
                 WHERE id = ?1",
                params![job.id, millis(now), self.claimant, millis(now + JOB_LEASE)],
            )?;
        }
        tx.commit()?;
        Ok(jobs.into_iter().map(|j| Job { state: JobState::Running, attempts: j.attempts + 1, ..j }).collect())
    }

    /// Renews this opening's claims on the jobs it runs for another [`JOB_LEASE`]; how many.
    pub fn renew_claims(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        Ok(self.conn().execute(
            "UPDATE jobs SET lease_until = ?2 WHERE state = 'running' AND lease_owner = ?1",
            params![self.claimant, millis(now + JOB_LEASE)],
        )?)
    }

    /// When the next job is due, if any: a pending one's time, or when another process's claim
    /// lapses.
    pub fn next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let conn = self.conn();
        let next: Option<i64> = conn.query_row(
            "SELECT MIN(t) FROM (SELECT MIN(next_run_at) AS t FROM jobs WHERE state = 'pending'
                                 UNION ALL
                                 SELECT MIN(lease_until) FROM jobs WHERE state = 'running' AND lease_owner IS NOT ?1)",
            [&self.claimant],
            |r| r.get(0),
        )?;
        Ok(next.map(time))
    }

    /// Ends a job: done, ignored or failed for good, with what happened.
    pub fn finish(&self, id: i64, state: JobState, note: Option<&str>, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE jobs SET state = ?2, last_error = ?3, updated_at = ?4 WHERE id = ?1",
            params![id, state.as_str(), note, millis(now)],
        )?;
        Ok(())
    }

    /// Puts a job back in the queue for `at`, recording why the last try failed.
    pub fn reschedule(&self, id: i64, at: DateTime<Utc>, error: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE jobs SET state = 'pending', next_run_at = ?2, last_error = ?3, updated_at = ?4 WHERE id = ?1",
            params![id, millis(at), error, millis(now)],
        )?;
        Ok(())
    }

    /// A person's retry: a failed or ignored job runs again now, with fresh attempts.
    pub fn retry(&self, id: i64, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let changed = self.conn().execute(
            "UPDATE jobs SET state = 'pending', attempts = 0, next_run_at = ?2, updated_at = ?2
             WHERE id = ?1 AND state IN ('failed', 'ignored', 'done')",
            params![id, millis(now)],
        )?;
        Ok(changed == 1)
    }

    /// The most recent jobs, newest first.
    pub fn recent_jobs(&self, limit: usize) -> Result<Vec<Job>, StoreError> {
        let conn = self.conn();
        let sql = format!(
            "SELECT {} FROM jobs j JOIN inbox i ON i.id = j.inbox_id ORDER BY j.id DESC LIMIT ?1",
            Self::JOB_COLUMNS
        );
        let mut statement = conn.prepare(&sql)?;
        let jobs = statement.query_map([limit as i64], Self::job_from_row)?.collect::<Result<Vec<_>, _>>()?;
        Ok(jobs)
    }

    /// Records an Autotask write; a second record of the same write keeps the first.
    pub fn record_write(&self, entry: &LedgerEntry, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO ledger (profile, lsid, kind, part, ticket_id, autotask_id, written_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (profile, lsid, kind, part) DO NOTHING",
            params![entry.profile, entry.lsid, entry.kind, entry.part, entry.ticket_id, entry.autotask_id, millis(now)],
        )?;
        Ok(())
    }

    /// Every write recorded for a session.
    pub fn writes_for(&self, profile: &str, lsid: &str) -> Result<Vec<LedgerEntry>, StoreError> {
        let conn = self.conn();
        let mut statement = conn.prepare(
            "SELECT profile, lsid, kind, part, ticket_id, autotask_id FROM ledger
             WHERE profile = ?1 AND lsid = ?2 ORDER BY kind, part",
        )?;
        let rows = statement.query_map(params![profile, lsid], |r| {
            Ok(LedgerEntry {
                profile: r.get(0)?,
                lsid: r.get(1)?,
                kind: r.get(2)?,
                part: r.get(3)?,
                ticket_id: r.get(4)?,
                autotask_id: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// When this worker last wrote to each ticket it wrote to since `since`: the desk-wide watch
    /// does not tell the reps of the worker's own writes.
    pub fn tickets_written_since(
        &self,
        profile: &str,
        since: DateTime<Utc>,
    ) -> Result<std::collections::HashMap<i64, DateTime<Utc>>, StoreError> {
        let conn = self.conn();
        let mut statement = conn.prepare(
            "SELECT ticket_id, MAX(written_at) FROM ledger
             WHERE profile = ?1 AND written_at >= ?2 AND ticket_id IS NOT NULL GROUP BY ticket_id",
        )?;
        let rows = statement
            .query_map(params![profile, millis(since)], |r| Ok((r.get::<_, i64>(0)?, time(r.get::<_, i64>(1)?))))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn watermark(&self, profile: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let conn = self.conn();
        let at: Option<i64> = conn
            .query_row("SELECT last_end_time FROM watermarks WHERE profile = ?1", [profile], |r| r.get(0))
            .optional()?;
        Ok(at.map(time))
    }

    /// Keeps polling's events and moves the watermark in one transaction: the watermark never
    /// passes a session whose job is not stored.
    pub fn accept_polled(
        &self,
        profile: &str,
        events: &[NewEvent],
        watermark: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut new = 0;
        for event in events {
            let inserted = tx.execute(
                "INSERT INTO inbox (profile, source, event, lsid, dedupe_key, body, received_at, remote_addr)
                 VALUES (?1, 'polling', ?2, ?3, ?4, ?5, ?6, NULL) ON CONFLICT (dedupe_key) DO NOTHING",
                params![event.profile, event.event, event.lsid, event.dedupe_key, event.body, millis(now)],
            )?;
            if inserted == 1 {
                tx.execute(
                    "INSERT INTO jobs (inbox_id, state, attempts, next_run_at, created_at, updated_at)
                     VALUES (?1, ?2, 0, ?3, ?3, ?3)",
                    params![tx.last_insert_rowid(), event.job.as_str(), millis(now)],
                )?;
                new += 1;
            }
        }
        tx.execute(
            "INSERT INTO watermarks (profile, last_end_time) VALUES (?1, ?2)
             ON CONFLICT (profile) DO UPDATE SET last_end_time = MAX(last_end_time, excluded.last_end_time)",
            params![profile, millis(watermark)],
        )?;
        tx.commit()?;
        Ok(new)
    }

    /// A cached value (resource by e-mail, role by name, picklists…) no older than `max_age`.
    pub fn cached(
        &self,
        kind: &str,
        key: &str,
        max_age: chrono::Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError> {
        let conn = self.conn();
        let found: Option<(String, i64)> = conn
            .query_row("SELECT value, fetched_at FROM cache WHERE kind = ?1 AND key = ?2", params![kind, key], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        Ok(found.filter(|(_, at)| now - time(*at) <= max_age).map(|(v, _)| v))
    }

    /// Caches many values of one kind in one transaction (one sync to disk, not one each).
    pub fn cache_many(&self, kind: &str, values: &[(String, String)], now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO cache (kind, key, value, fetched_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value, fetched_at = excluded.fetched_at",
            )?;
            for (key, value) in values {
                insert.execute(params![kind, key, value, millis(now)])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Forgets a cached value.
    pub fn uncache(&self, kind: &str, key: &str) -> Result<(), StoreError> {
        self.conn().execute("DELETE FROM cache WHERE kind = ?1 AND key = ?2", params![kind, key])?;
        Ok(())
    }

    pub fn cache(&self, kind: &str, key: &str, value: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO cache (kind, key, value, fetched_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value, fetched_at = excluded.fetched_at",
            params![kind, key, value, millis(now)],
        )?;
        Ok(())
    }

    pub fn queue_health(&self) -> Result<QueueHealth, StoreError> {
        let conn = self.conn();
        let count = |state: &str| -> Result<u64, StoreError> {
            Ok(conn.query_row("SELECT COUNT(*) FROM jobs WHERE state = ?1", [state], |r| r.get::<_, i64>(0))? as u64)
        };
        let oldest: Option<i64> =
            conn.query_row("SELECT MIN(created_at) FROM jobs WHERE state = 'pending'", [], |r| r.get(0))?;
        Ok(QueueHealth {
            pending: count("pending")?,
            running: count("running")?,
            failed: count("failed")?,
            oldest_pending: oldest.map(time),
        })
    }
}

/// The store for async code: each call runs on the blocking pool.
#[derive(Debug, Clone)]
pub struct AsyncStore(Arc<Store>);

impl AsyncStore {
    pub fn new(store: Store) -> AsyncStore {
        AsyncStore(Arc::new(store))
    }

    pub fn blocking(&self) -> &Store {
        &self.0
    }

    /// Runs `f` with the store off the async threads.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let store = self.0.clone();
        tokio::task::spawn_blocking(move || f(&store)).await.map_err(|e| StoreError::Task(e.to_string()))?
    }
}

#[cfg(test)]
mod tests;
