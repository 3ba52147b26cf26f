//! The worker's durable state in one SQLite file (WAL, full sync), or in a PostgreSQL database
//! several workers share ([`db`] is where the two meet): the inbox of events exactly
//! as received, the jobs made from them, the ledger of every Autotask write, the activity log
//! the tray app shows, the polling watermarks, and caches. Every change is one transaction, so
//! a `kill -9` at any moment leaves it whole. A job is claimed for [`JOB_LEASE`], renewed while
//! it runs: one left running by a process that died is taken again once its claim lapses, by
//! whichever process works the queue — so two workers sharing a store never leave each other's
//! work stranded.
//! Transactions that read before they write take the write lock first (IMMEDIATE): the worker
//! and a command beside it (`attach`, `retry`) then wait their turn instead of one failing with
//! "database is locked" when it upgrades a read.
//! The store's work is blocking: async callers go through [`AsyncStore`], which runs it on the
//! blocking pool.

mod activity;
mod allowances;
mod console;
mod copy_to;
pub(crate) mod db;
mod desk_changes;
mod duty;
mod reps;
mod retention;
mod schema;
mod sealed;
#[cfg(any(test, feature = "throwaway-postgres"))]
pub mod throwaway_postgres;
mod unlinked;
mod url;
mod webhooks;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, TimeZone, Utc};
pub use db::Engine;
use db::{Conn, DbError, PgConn, Row, Sql, args};

pub use activity::{Activity, ActivityLine, ticket_label, ticket_or_id};
pub use console::{ConsoleAdmin, ConsoleSession, ProfileCounts, SessionEnds};
pub use copy_to::Copied;
pub use desk_changes::{FoundChange, KEPT_CHANGES, WatchState};
pub use duty::{Duty, DutyHolder, this_worker};
pub use reps::{KeyedHash, NewRep, Rep, RepSeen, RepState, load_or_make_key, token_key_path};
pub use unlinked::{Attached, UnlinkedSession};
pub use url::StoreUrl;
pub use webhooks::WebhookKeys;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "the store at {path} could not be opened: {message} — check the data directory's permissions and free space"
    )]
    Open { path: PathBuf, message: String },
    #[error("the store failed: {0}")]
    Database(#[from] DbError),
    #[error("the store's background task stopped: {0}")]
    Task(String),
    #[error("{0} — every worker on the store must read the same token_key_file")]
    Sealed(String),
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

/// The store: one SQLite file, or a PostgreSQL database.
#[derive(Debug)]
pub struct Store {
    /// Where the store is, as said to people: the file, or the database's URL without a password.
    place: String,
    /// This worker's own folder: the SQLite file's, or the one given with the database.
    dir: PathBuf,
    /// The database, to connect again when the connection is lost (the server restarted, or
    /// failed over to its replica).
    url: Option<StoreUrl>,
    /// The file of the key of the keyed hashes (beside the SQLite file, or named by the settings:
    /// never in the database, so its backups hold nothing to test guesses against).
    key_path: PathBuf,
    /// The connections: SQLite's one (its writers take turns anyway), or a few to PostgreSQL, so
    /// the intake's commits do not wait behind the jobs' work.
    conns: Vec<Mutex<Conn>>,
    /// Which connection a caller finding them all busy waits for.
    next: std::sync::atomic::AtomicUsize,
    engine: Engine,
    /// The key of the reps' keyed hashes, read from its file when first needed.
    token_key: Mutex<Option<KeyedHash>>,
    /// Whose claims on jobs this opening makes: its own, made at open, so that two processes on
    /// one store tell their claims apart.
    claimant: String,
}

/// Connections each worker keeps to PostgreSQL.
const POSTGRES_CONNECTIONS: usize = 4;

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
    conn: &mut impl Sql,
    profile: &str,
    within: chrono::Duration,
    now: DateTime<Utc>,
) -> Result<Vec<String>, StoreError> {
    let prefix = refused_rep_key(profile, "");
    Ok(conn.query(
        "SELECT value FROM cache WHERE kind = $1 AND substr(key, 1, length(CAST($2 AS TEXT))) = $2 AND fetched_at >= $3 \
         ORDER BY value",
        args![REFUSED_REPS, prefix, millis(now - within)],
        |r| r.get(0),
    )?)
}

/// The cache kind of reps Autotask would not let the API user write as (value: the rep's name).
pub const REFUSED_REPS: &str = "impersonation_refused";

/// A refused rep's cache key: the profile, then the rep's resource id.
pub fn refused_rep_key(profile: &str, resource_id: impl std::fmt::Display) -> String {
    format!("{profile}\u{1f}{resource_id}")
}

fn new_claimant() -> String {
    format!("{}-{:016x}", std::process::id(), rand::random::<u64>())
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
        let conn = rusqlite::Connection::open(path).map_err(|e| open_error(e.to_string()))?;
        let setup = |conn: &rusqlite::Connection| -> rusqlite::Result<()> {
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", "FULL")?;
            conn.pragma_update(None, "foreign_keys", "ON")?;
            conn.busy_timeout(std::time::Duration::from_secs(10))?;
            retention::allow_incremental_vacuum(conn)
        };
        setup(&conn).map_err(|e| open_error(e.to_string()))?;
        let mut conn = Conn::Sqlite(conn);
        schema::migrate(&mut conn).map_err(|e| open_error(format!("migrating: {e}")))?;
        Ok(Store {
            place: path.display().to_string(),
            dir: path.parent().unwrap_or(Path::new(".")).to_owned(),
            url: None,
            key_path: token_key_path(path),
            conns: vec![Mutex::new(conn)],
            next: Default::default(),
            engine: Engine::Sqlite,
            token_key: Mutex::new(None),
            claimant: new_claimant(),
        })
    }

    /// Connects to the store on PostgreSQL and migrates it; `dir` is this worker's own folder (its
    /// ticket copies). `key_path` is the token key's file,
    /// which must be the same on every worker sharing the database: it is never made here (two
    /// workers would each make their own), but by `store migrate`, and the database keeps a check
    /// of the first key it met, so a worker given another key refuses to start rather than turn
    /// every rep away.
    pub fn connect(url: &StoreUrl, key_path: &Path, dir: &Path) -> Result<Store, StoreError> {
        let open_error = |message: String| StoreError::Open { path: PathBuf::from(url.to_string()), message };
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Open { path: dir.to_owned(), message: e.to_string() })?;
        let key = reps::load_key(key_path).map_err(|message| StoreError::TokenKey {
            path: key_path.to_owned(),
            message: format!(
                "{message} — `bt-autotask-worker store migrate` makes it once; then copy the file to every worker"
            ),
        })?;
        let mut conn = Conn::Postgres(Box::new(PgConn::new(url.connect().map_err(open_error)?)));
        schema::migrate(&mut conn).map_err(|e| open_error(format!("migrating: {e}")))?;
        let mut conns = vec![Mutex::new(conn)];
        for _ in 1..POSTGRES_CONNECTIONS {
            conns.push(Mutex::new(Conn::Postgres(Box::new(PgConn::new(url.connect().map_err(open_error)?)))));
        }
        let store = Store {
            place: url.to_string(),
            dir: dir.to_owned(),
            url: Some(url.clone()),
            key_path: key_path.to_owned(),
            conns,
            next: Default::default(),
            engine: Engine::Postgres,
            token_key: Mutex::new(Some(key)),
            claimant: new_claimant(),
        };
        store.check_token_key()?;
        Ok(store)
    }

    /// Runs `f` on a connection of its own to the database at `url`, creating or migrating
    /// nothing (what `check` reads).
    pub(crate) fn peek<T>(url: &StoreUrl, f: impl FnOnce(&mut Conn) -> Result<T, DbError>) -> Result<T, StoreError> {
        let open_error = |message: String| StoreError::Open { path: PathBuf::from(url.to_string()), message };
        let mut conn = Conn::Postgres(Box::new(PgConn::new(url.connect().map_err(open_error)?)));
        Ok(f(&mut conn)?)
    }

    /// Whether the database at `url` answers, and what it holds, without creating or migrating
    /// anything (`check`).
    pub fn probe(url: &StoreUrl) -> Result<String, StoreError> {
        let open_error = |message: String| StoreError::Open { path: PathBuf::from(url.to_string()), message };
        let mut conn = Conn::Postgres(Box::new(PgConn::new(url.connect().map_err(open_error)?)));
        let (bytes, made): (i64, bool) = conn.query_one(
            "SELECT pg_database_size(current_database()), to_regclass('store_schema') IS NOT NULL",
            args![],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let size = format!("{:.1} MB", bytes as f64 / 1_000_000.0);
        Ok(if made {
            format!("reachable, {size}")
        } else {
            format!(
                "reachable, {size}, no store's tables yet (`store migrate`, or the worker as it starts, makes them)"
            )
        })
    }

    /// Refuses a token key other than the one the database first met (its keyed hash of a fixed
    /// text, which tells nothing of the key).
    fn check_token_key(&self) -> Result<(), StoreError> {
        let check = self.keyed_hash("bt-autotask token key check")?;
        let check =
            i64::from_be_bytes([check[0], check[1], check[2], check[3], check[4], check[5], check[6], check[7]]);
        let mut conn = self.conn();
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('token_key_check', $1) ON CONFLICT (key) DO NOTHING",
            args![check],
        )?;
        let kept: i64 =
            conn.query_one("SELECT value FROM meta WHERE key = 'token_key_check'", args![], |r| r.get(0))?;
        if kept == check {
            return Ok(());
        }
        Err(StoreError::TokenKey {
            path: self.key_path.clone(),
            message: "it is not the key the other workers of this store use — copy theirs here; with another key \
                      no rep's token and no console session would be recognised"
                .to_owned(),
        })
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
        let conn = rusqlite::Connection::open_with_flags(path, flags).map_err(|e| open_error(e.to_string()))?;
        conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(DbError::from)?;
        refused_reps(&mut Conn::Sqlite(conn), profile, within, now)
    }

    /// [`Store::refused_reps_at`] of this store.
    pub fn refused_reps(
        &self,
        profile: &str,
        within: chrono::Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, StoreError> {
        refused_reps(&mut *self.conn(), profile, within, now)
    }

    /// Returns jobs a stopped or crashed worker left running to the queue; how many. Only the
    /// one process that works this store's queue calls it, as it starts.
    pub fn requeue_interrupted(&self) -> Result<u64, StoreError> {
        Ok(self.conn().execute("UPDATE jobs SET state = 'pending' WHERE state = 'running'", args![])?)
    }

    /// The folder of this worker's own files beside the store: the token key's, the ticket copies'.
    pub fn data_dir(&self) -> &Path {
        &self.dir
    }

    /// Where the store is, for people: the file, or the database's URL without its password.
    pub fn place(&self) -> &str {
        &self.place
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// The connection; on PostgreSQL a new one when the last was lost. A connection that cannot be
    /// made now leaves the closed one, whose queries then fail with why, to be tried again.
    pub(crate) fn conn(&self) -> MutexGuard<'_, Conn> {
        let free = self.conns.iter().find_map(|c| match c.try_lock() {
            Ok(conn) => Some(conn),
            Err(std::sync::TryLockError::Poisoned(e)) => Some(e.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        });
        let mut conn = free.unwrap_or_else(|| {
            let turn = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % self.conns.len();
            self.conns[turn].lock().unwrap_or_else(|e| e.into_inner())
        });
        if let (Conn::Postgres(pg), Some(url)) = (&mut *conn, &self.url)
            && pg.client.is_closed()
        {
            match url.connect() {
                Ok(fresh) => {
                    tracing::warn!(store = %url, "the connection to the store was lost; connected again");
                    **pg = PgConn::new(fresh);
                }
                Err(e) => tracing::warn!(store = %url, "the connection to the store was lost: {e}"),
            }
        }
        conn
    }

    /// Keeps an event and makes its job, in one transaction; a duplicate makes nothing.
    pub fn accept(&self, event: &NewEvent, now: DateTime<Utc>) -> Result<Accepted, StoreError> {
        Ok(self.accept_all(std::slice::from_ref(event), now)?.remove(0))
    }

    /// Keeps several events and makes their jobs in one transaction — one write to the disk for
    /// all of them; each duplicate makes nothing. All are kept, or none.
    pub fn accept_all(&self, events: &[NewEvent], now: DateTime<Utc>) -> Result<Vec<Accepted>, StoreError> {
        let mut conn = self.conn();
        let mut tx = conn.transaction()?;
        let accepted = events.iter().map(|e| Self::accept_in(&mut tx, e, now)).collect::<Result<Vec<_>, _>>()?;
        tx.commit()?;
        Ok(accepted)
    }

    /// Keeps one event and makes its job (of `state`); none when it was kept already.
    fn keep_event(
        tx: &mut impl Sql,
        event: &NewEvent,
        source: Source,
        remote_addr: Option<&str>,
        note: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>, StoreError> {
        let inbox_id: Option<i64> = tx.query_opt(
            "INSERT INTO inbox (profile, source, event, lsid, dedupe_key, body, received_at, remote_addr)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
            args![
                event.profile,
                source.as_str(),
                event.event,
                event.lsid,
                event.dedupe_key,
                event.body,
                millis(now),
                remote_addr
            ],
            |r| r.get(0),
        )?;
        let Some(inbox_id) = inbox_id else { return Ok(None) };
        let job_id = tx.query_one(
            "INSERT INTO jobs (inbox_id, state, attempts, next_run_at, last_error, created_at, updated_at)
             VALUES ($1, $2, 0, $3, $4, $3, $3) RETURNING id",
            args![inbox_id, event.job.as_str(), millis(now), note],
            |r| r.get(0),
        )?;
        Ok(Some(job_id))
    }

    fn accept_in(tx: &mut impl Sql, event: &NewEvent, now: DateTime<Utc>) -> Result<Accepted, StoreError> {
        let kept = Self::keep_event(tx, event, event.source, event.remote_addr.as_deref(), event.note.as_deref(), now)?;
        Ok(kept.map_or(Accepted::Duplicate, |job_id| Accepted::New { job_id }))
    }

    const JOB_COLUMNS: &'static str = "j.id, i.profile, i.source, i.event, i.lsid, i.body, j.state, j.attempts,
         j.next_run_at, j.last_error, j.created_at";

    fn job_from_row(row: &Row<'_>) -> Result<Job, DbError> {
        Ok(Job {
            id: row.get(0)?,
            profile: row.get(1)?,
            source: Source::parse(&row.get::<String>(2)?),
            event: row.get(3)?,
            lsid: row.get(4)?,
            body: row.get(5)?,
            state: JobState::parse(&row.get::<String>(6)?),
            attempts: row.get(7)?,
            next_run_at: time(row.get(8)?),
            last_error: row.get(9)?,
            created_at: time(row.get(10)?),
        })
    }

    pub fn job(&self, id: i64) -> Result<Option<Job>, StoreError> {
        let sql = format!("SELECT {} FROM jobs j JOIN inbox i ON i.id = j.inbox_id WHERE j.id = $1", Self::JOB_COLUMNS);
        Ok(self.conn().query_opt(&sql, args![id], Self::job_from_row)?)
    }

    /// Claims up to `limit` jobs for [`JOB_LEASE`], oldest first, marking them running: pending
    /// ones whose time has come, and running ones whose claim lapsed (their process died). A
    /// session's jobs run one at a time, in order: none is claimed while another job of the same
    /// session runs under a live claim, and a batch holds at most one job per session. On
    /// PostgreSQL the rows are locked as they are read and rows another worker's claim holds are
    /// passed over (`SKIP LOCKED`), so two workers claiming at once never take the same job; the
    /// session rule across workers is kept by locking each session's claims
    /// ([`Store::lock_sessions`]).
    pub fn claim_due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Job>, StoreError> {
        let mut conn = self.conn();
        let mut tx = conn.transaction()?;
        let sql = format!(
            "SELECT {} FROM jobs j JOIN inbox i ON i.id = j.inbox_id
             WHERE ((j.state = 'pending' AND j.next_run_at <= $1)
                    OR (j.state = 'running' AND coalesce(j.lease_until, 0) <= $1))
               AND NOT EXISTS (SELECT 1 FROM jobs r JOIN inbox ri ON ri.id = r.inbox_id
                               WHERE r.state = 'running' AND r.lease_until > $1 AND r.id <> j.id
                                 AND ri.profile = i.profile AND ri.lsid = i.lsid)
             ORDER BY j.next_run_at, j.id LIMIT $2{}",
            Self::JOB_COLUMNS,
            tx.engine().claim_rows("j"),
        );
        let due = tx.query(&sql, args![millis(now), limit as i64], Self::job_from_row)?;
        let mut sessions = std::collections::HashSet::new();
        let mut jobs = Vec::new();
        for job in due {
            let first = job.lsid.as_ref().is_none_or(|lsid| sessions.insert((job.profile.clone(), lsid.clone())));
            if first && Self::session_free(&mut tx, &job, now)? {
                jobs.push(job);
            }
        }
        for job in &jobs {
            tx.execute(
                "UPDATE jobs SET state = 'running', attempts = attempts + 1, updated_at = $2,
                        lease_owner = $3, lease_until = $4
                 WHERE id = $1",
                args![job.id, millis(now), self.claimant, millis(now + JOB_LEASE)],
            )?;
        }
        tx.commit()?;
        Ok(jobs.into_iter().map(|j| Job { state: JobState::Running, attempts: j.attempts + 1, ..j }).collect())
    }

    /// Whether no other worker is claiming a job of `job`'s session right now. On SQLite the
    /// write lock already makes claims one at a time; on PostgreSQL two workers could each see
    /// the other's job of the same session as not yet running, so each takes the session's lock
    /// for the rest of its transaction, and one taken by another transaction means "not now".
    fn session_free(tx: &mut impl Sql, job: &Job, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let (Engine::Postgres, Some(lsid)) = (tx.engine(), &job.lsid) else { return Ok(true) };
        let locked: bool = tx.query_one(
            "SELECT pg_try_advisory_xact_lock(hashtextextended(CAST($1 AS TEXT) || chr(31) || CAST($2 AS TEXT), 0))",
            args![job.profile, lsid],
            |r| r.get(0),
        )?;
        if !locked {
            return Ok(false);
        }
        // Committed since this transaction's query began: a claim of another of the session's jobs.
        let running: i64 = tx.query_one(
            "SELECT count(*) FROM jobs r JOIN inbox ri ON ri.id = r.inbox_id
             WHERE r.state = 'running' AND r.lease_until > $1 AND r.id <> $2 AND ri.profile = $3 AND ri.lsid = $4",
            args![millis(now), job.id, job.profile, lsid],
            |r| r.get(0),
        )?;
        Ok(running == 0)
    }

    /// Renews this opening's claims on the jobs it runs for another [`JOB_LEASE`]; how many.
    pub fn renew_claims(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(self.conn().execute(
            "UPDATE jobs SET lease_until = $2 WHERE state = 'running' AND lease_owner = $1",
            args![self.claimant, millis(now + JOB_LEASE)],
        )?)
    }

    /// When the next job is due, if any: a pending one's time, or when another process's claim
    /// lapses.
    pub fn next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let next: Option<i64> = self.conn().query_one(
            "SELECT MIN(t) FROM (SELECT MIN(next_run_at) AS t FROM jobs WHERE state = 'pending'
                                 UNION ALL
                                 SELECT MIN(lease_until) FROM jobs
                                 WHERE state = 'running' AND lease_owner IS DISTINCT FROM $1) due",
            args![self.claimant],
            |r| r.get(0),
        )?;
        Ok(next.map(time))
    }

    /// Ends a job: done, ignored or failed for good, with what happened.
    pub fn finish(&self, id: i64, state: JobState, note: Option<&str>, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE jobs SET state = $2, last_error = $3, updated_at = $4 WHERE id = $1",
            args![id, state.as_str(), note, millis(now)],
        )?;
        Ok(())
    }

    /// Puts a job back in the queue for `at`, recording why the last try failed.
    pub fn reschedule(&self, id: i64, at: DateTime<Utc>, error: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE jobs SET state = 'pending', next_run_at = $2, last_error = $3, updated_at = $4 WHERE id = $1",
            args![id, millis(at), error, millis(now)],
        )?;
        Ok(())
    }

    /// A person's retry: a failed or ignored job runs again now, with fresh attempts.
    pub fn retry(&self, id: i64, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let changed = self.conn().execute(
            "UPDATE jobs SET state = 'pending', attempts = 0, next_run_at = $2, updated_at = $2
             WHERE id = $1 AND state IN ('failed', 'ignored', 'done')",
            args![id, millis(now)],
        )?;
        Ok(changed == 1)
    }

    /// The most recent jobs, newest first.
    pub fn recent_jobs(&self, limit: usize) -> Result<Vec<Job>, StoreError> {
        let sql = format!(
            "SELECT {} FROM jobs j JOIN inbox i ON i.id = j.inbox_id ORDER BY j.id DESC LIMIT $1",
            Self::JOB_COLUMNS
        );
        Ok(self.conn().query(&sql, args![limit as i64], Self::job_from_row)?)
    }

    /// Records an Autotask write; a second record of the same write keeps the first.
    pub fn record_write(&self, entry: &LedgerEntry, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO ledger (profile, lsid, kind, part, ticket_id, autotask_id, written_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (profile, lsid, kind, part) DO NOTHING",
            args![entry.profile, entry.lsid, entry.kind, entry.part, entry.ticket_id, entry.autotask_id, millis(now)],
        )?;
        Ok(())
    }

    /// Every write recorded for a session.
    pub fn writes_for(&self, profile: &str, lsid: &str) -> Result<Vec<LedgerEntry>, StoreError> {
        Ok(self.conn().query(
            "SELECT profile, lsid, kind, part, ticket_id, autotask_id FROM ledger
             WHERE profile = $1 AND lsid = $2 ORDER BY kind, part",
            args![profile, lsid],
            |r| {
                Ok(LedgerEntry {
                    profile: r.get(0)?,
                    lsid: r.get(1)?,
                    kind: r.get(2)?,
                    part: r.get(3)?,
                    ticket_id: r.get(4)?,
                    autotask_id: r.get(5)?,
                })
            },
        )?)
    }

    /// When this worker last wrote to each ticket it wrote to since `since`: the desk-wide watch
    /// does not tell the reps of the worker's own writes.
    pub fn tickets_written_since(
        &self,
        profile: &str,
        since: DateTime<Utc>,
    ) -> Result<std::collections::HashMap<i64, DateTime<Utc>>, StoreError> {
        let rows = self.conn().query(
            "SELECT ticket_id, MAX(written_at) FROM ledger
             WHERE profile = $1 AND written_at >= $2 AND ticket_id IS NOT NULL GROUP BY ticket_id",
            args![profile, millis(since)],
            |r| Ok((r.get::<i64>(0)?, time(r.get(1)?))),
        )?;
        Ok(rows.into_iter().collect())
    }

    pub fn watermark(&self, profile: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let at: Option<i64> =
            self.conn()
                .query_opt("SELECT last_end_time FROM watermarks WHERE profile = $1", args![profile], |r| r.get(0))?;
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
        let mut tx = conn.transaction()?;
        let mut new = 0;
        for event in events {
            if Self::keep_event(&mut tx, event, Source::Polling, None, None, now)?.is_some() {
                new += 1;
            }
        }
        tx.execute(
            "INSERT INTO watermarks (profile, last_end_time) VALUES ($1, $2)
             ON CONFLICT (profile) DO UPDATE SET last_end_time = CASE
                 WHEN excluded.last_end_time > watermarks.last_end_time THEN excluded.last_end_time
                 ELSE watermarks.last_end_time END",
            args![profile, millis(watermark)],
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
        let found: Option<(String, i64)> = self.conn().query_opt(
            "SELECT value, fetched_at FROM cache WHERE kind = $1 AND key = $2",
            args![kind, key],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(found.filter(|(_, at)| now - time(*at) <= max_age).map(|(v, _)| v))
    }

    /// Caches many values of one kind in one transaction (one sync to disk, not one each).
    pub fn cache_many(&self, kind: &str, values: &[(String, String)], now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let mut tx = conn.transaction()?;
        for (key, value) in values {
            tx.execute(CACHE_UPSERT, args![kind, key, value, millis(now)])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Forgets a cached value.
    pub fn uncache(&self, kind: &str, key: &str) -> Result<(), StoreError> {
        self.conn().execute("DELETE FROM cache WHERE kind = $1 AND key = $2", args![kind, key])?;
        Ok(())
    }

    pub fn cache(&self, kind: &str, key: &str, value: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.conn().execute(CACHE_UPSERT, args![kind, key, value, millis(now)])?;
        Ok(())
    }

    pub fn queue_health(&self) -> Result<QueueHealth, StoreError> {
        let mut conn = self.conn();
        let (pending, running, failed, oldest): (i64, i64, i64, Option<i64>) = conn.query_one(
            "SELECT count(*) FILTER (WHERE state = 'pending'), count(*) FILTER (WHERE state = 'running'),
                    count(*) FILTER (WHERE state = 'failed'), MIN(created_at) FILTER (WHERE state = 'pending')
             FROM jobs WHERE state IN ('pending', 'running', 'failed')",
            args![],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
        Ok(QueueHealth {
            pending: pending as u64,
            running: running as u64,
            failed: failed as u64,
            oldest_pending: oldest.map(time),
        })
    }
}

const CACHE_UPSERT: &str = "INSERT INTO cache (kind, key, value, fetched_at) VALUES ($1, $2, $3, $4)
     ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value, fetched_at = excluded.fetched_at";

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
