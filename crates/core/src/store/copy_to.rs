//! Moving a desk's store from its SQLite file to PostgreSQL without losing a job, a token or an
//! admin: every table copied row for row, ids kept (a job's id is what `retry` and the console
//! name it by; an admin's what their sessions hold), into a database that holds no store yet, in
//! one transaction — the copy is all there, or nothing is. The token key goes with it (the same
//! file), so every enrolled app and every open console session still works.

use super::db::{Engine, Owned, Sql, args};
use super::{Store, StoreError};

/// Every table of the store and its columns, as SQLite's last migration left them; with
/// the table's identity column, where PostgreSQL numbers one (its next number is set past the copy's).
const TABLES: &[(&str, &str, Option<&str>)] = &[
    ("inbox", "id, profile, source, event, lsid, dedupe_key, body, received_at, remote_addr", Some("id")),
    (
        "jobs",
        "id, inbox_id, state, attempts, next_run_at, last_error, created_at, updated_at, lease_owner, lease_until",
        Some("id"),
    ),
    ("ledger", "id, profile, lsid, kind, part, ticket_id, autotask_id, written_at", Some("id")),
    ("activity", "id, at, profile, lsid, ticket_id, level, summary, job_id, details, rep", Some("id")),
    ("watermarks", "profile, last_end_time", None),
    ("cache", "kind, key, value, fetched_at", None),
    ("meta", "key, value", None),
    (
        "unlinked",
        "profile, lsid, job_id, rep, customer, company, issue, started_at, duration_s, ended_at, reason, state, \
         ticket, decided_by, decided_at, noted_at, held_ticket",
        None,
    ),
    (
        "reps",
        "profile, username, email, resource_id, state, code_hash, code_expires_at, token_hash, invited_at, \
         enrolled_at, revoked_at, last_seen_at, app_version",
        None,
    ),
    ("console_admins", "id, name, password_hash, added_at", Some("id")),
    ("console_sessions", "token_hash, admin_id, credential, opened_at, used_at", None),
    ("desk_watch", "profile, epoch, last_look, threshold_used, threshold_limit", None),
    ("desk_changes", "n, profile, ticket_id, number, title, assigned, assigned_before, open, active, at", Some("n")),
];

/// Rows read from the file at a time, so a large inbox is never all in memory.
const CHUNK: i64 = 2_000;

/// How many rows of each table were copied.
pub type Copied = Vec<(&'static str, u64)>;

impl Store {
    /// Copies this store (a SQLite file) into `target` (PostgreSQL, holding no store yet).
    pub fn copy_to(&self, target: &Store) -> Result<Copied, StoreError> {
        let refuse = |message: String| StoreError::Open { path: target.place.clone().into(), message };
        if self.engine() != Engine::Sqlite || target.engine() != Engine::Postgres {
            return Err(refuse("a store is copied from its SQLite file to PostgreSQL only".to_owned()));
        }
        let mut to = target.conn();
        let held: i64 = to.query_one(
            "SELECT (SELECT count(*) FROM inbox) + (SELECT count(*) FROM reps) + (SELECT count(*) FROM console_admins)",
            args![],
            |r| r.get(0),
        )?;
        if held > 0 {
            return Err(refuse(
                "that database already holds a store (events, reps or admins) — copy into an empty one".to_owned(),
            ));
        }
        let mut from = self.conn();
        // The file's write lock for the whole copy: one moment's store, and a worker left running
        // against the file has its writes wait, then fail (its appliance sends again), rather
        // than land where no worker will read them after the move.
        let mut reading = from.transaction()?;
        let mut tx = to.transaction()?;
        let mut copied = Vec::new();
        for &(table, columns, identity) in TABLES {
            let count = copy_table(&mut reading, &mut tx, table, columns, identity)?;
            if let Some(id) = identity {
                tx.execute(
                    &format!(
                        "SELECT setval(pg_get_serial_sequence('{table}', '{id}'), coalesce(max({id}), 0) + 1, false) FROM {table}"
                    ),
                    args![],
                )?;
            }
            copied.push((table, count));
        }
        tx.commit()?;
        Ok(copied)
    }
}

fn copy_table(
    from: &mut impl Sql,
    to: &mut impl Sql,
    table: &str,
    columns: &str,
    identity: Option<&str>,
) -> Result<u64, StoreError> {
    let width = columns.split(',').count();
    let placeholders: Vec<String> = (1..=width).map(|i| format!("${i}")).collect();
    let overriding = if identity.is_some() { " OVERRIDING SYSTEM VALUE" } else { "" };
    let insert = format!(
        "INSERT INTO {table} ({columns}){overriding} VALUES ({}) ON CONFLICT DO NOTHING",
        placeholders.join(", ")
    );
    // Rows in chunks by SQLite's rowid; the console's sessions (a few rows, no rowid) at once.
    let chunked = table != "console_sessions";
    let mut after = i64::MIN;
    let mut count = 0;
    loop {
        let select = if chunked {
            format!("SELECT rowid, {columns} FROM {table} WHERE rowid > $1 ORDER BY rowid LIMIT {CHUNK}")
        } else {
            format!("SELECT 0, {columns} FROM {table} WHERE $1 = $1")
        };
        let rows = from.query(&select, args![after], |r| {
            let values = (1..=width).map(|i| r.get::<Owned>(i)).collect::<Result<Vec<_>, _>>()?;
            Ok((r.get::<i64>(0)?, values))
        })?;
        for (_, values) in &rows {
            let values: Vec<&dyn super::db::Arg> = values.iter().map(|v| v as &dyn super::db::Arg).collect();
            count += to.execute(&insert, &values)?;
        }
        match rows.last() {
            Some((rowid, _)) if chunked && rows.len() as i64 == CHUNK => after = *rowid,
            _ => return Ok(count),
        }
    }
}
