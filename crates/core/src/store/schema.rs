//! The store's tables, created and upgraded in order; `user_version` records how far.

use rusqlite::Connection;

const MIGRATIONS: &[&str] = &[
    // 1: inbox, jobs, ledger, activity, watermarks, cache.
    "CREATE TABLE inbox (
        id INTEGER PRIMARY KEY,
        profile TEXT NOT NULL,
        source TEXT NOT NULL,
        event TEXT NOT NULL,
        lsid TEXT,
        dedupe_key TEXT NOT NULL UNIQUE,
        body TEXT NOT NULL,
        received_at INTEGER NOT NULL,
        remote_addr TEXT
    );
    CREATE INDEX inbox_session ON inbox (profile, lsid);
    CREATE TABLE jobs (
        id INTEGER PRIMARY KEY,
        inbox_id INTEGER NOT NULL REFERENCES inbox (id),
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        next_run_at INTEGER NOT NULL,
        last_error TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE INDEX jobs_due ON jobs (state, next_run_at);
    CREATE TABLE ledger (
        id INTEGER PRIMARY KEY,
        profile TEXT NOT NULL,
        lsid TEXT NOT NULL,
        kind TEXT NOT NULL,
        part INTEGER NOT NULL,
        ticket_id INTEGER,
        autotask_id INTEGER NOT NULL,
        written_at INTEGER NOT NULL,
        UNIQUE (profile, lsid, kind, part)
    );
    CREATE TABLE activity (
        id INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        profile TEXT NOT NULL,
        lsid TEXT,
        ticket_id INTEGER,
        level TEXT NOT NULL,
        summary TEXT NOT NULL,
        job_id INTEGER
    );
    CREATE TABLE watermarks (profile TEXT PRIMARY KEY, last_end_time INTEGER NOT NULL);
    CREATE TABLE cache (
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        fetched_at INTEGER NOT NULL,
        PRIMARY KEY (kind, key)
    );",
    // 2: what pruning needs — indexes on the times rows are pruned by, and what was pruned.
    "CREATE INDEX jobs_finished ON jobs (state, updated_at);
    CREATE INDEX activity_at ON activity (at);
    CREATE INDEX ledger_written ON ledger (written_at);
    CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);",
    // 3: sessions that ended without a ticket, until attached to one or dismissed.
    "CREATE TABLE unlinked (
        profile TEXT NOT NULL,
        lsid TEXT NOT NULL,
        job_id INTEGER NOT NULL,
        rep TEXT,
        customer TEXT,
        company TEXT,
        issue TEXT,
        started_at INTEGER,
        duration_s INTEGER,
        ended_at INTEGER,
        reason TEXT NOT NULL,
        state TEXT NOT NULL,
        ticket TEXT,
        decided_by TEXT,
        decided_at INTEGER,
        noted_at INTEGER NOT NULL,
        PRIMARY KEY (profile, lsid)
    );
    CREATE INDEX unlinked_noted ON unlinked (noted_at);",
    // 4: activity lines say what happened in a rep's words; the ids behind it go to `details`.
    "ALTER TABLE activity ADD COLUMN details TEXT",
    // 5: the desk's enrolled reps; their enrolment codes and tokens only as keyed hashes.
    "CREATE TABLE reps (
        profile TEXT NOT NULL,
        username TEXT NOT NULL COLLATE NOCASE,
        email TEXT NOT NULL,
        resource_id INTEGER NOT NULL,
        state TEXT NOT NULL,
        code_hash BLOB UNIQUE,
        code_expires_at INTEGER,
        token_hash BLOB UNIQUE,
        invited_at INTEGER NOT NULL,
        enrolled_at INTEGER,
        revoked_at INTEGER,
        last_seen_at INTEGER,
        app_version TEXT,
        PRIMARY KEY (profile, username)
    )",
    // 6: whose session an activity line is about (the primary rep), for each rep's own list.
    "ALTER TABLE activity ADD COLUMN rep TEXT COLLATE NOCASE;
    CREATE INDEX activity_rep ON activity (profile, rep, id)",
    // 7: a session written to its ticket whose time Autotask refused (a closed timesheet) is kept
    // in the same list, with the ticket it is in.
    "ALTER TABLE unlinked ADD COLUMN held_ticket INTEGER",
    // 8: the desk console's admins, their passwords only as Argon2 hashes.
    "CREATE TABLE console_admins (
        name TEXT PRIMARY KEY COLLATE NOCASE,
        password_hash TEXT NOT NULL,
        added_at INTEGER NOT NULL
    )",
    // 9: each admin an id of their own, never used again (a name added anew is a new admin, whose
    // sessions an old one's cookie does not open).
    "CREATE TABLE console_admins_by_id (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE COLLATE NOCASE,
        password_hash TEXT NOT NULL,
        added_at INTEGER NOT NULL
    );
    INSERT INTO console_admins_by_id (name, password_hash, added_at)
        SELECT name, password_hash, added_at FROM console_admins;
    DROP TABLE console_admins;
    ALTER TABLE console_admins_by_id RENAME TO console_admins",
    // 10: the console's sessions, so that a restarted worker logs no admin out: each token only as
    // its keyed hash, with the digest of the password hash it was opened under.
    "CREATE TABLE console_sessions (
        token_hash BLOB PRIMARY KEY,
        admin_id INTEGER NOT NULL,
        credential BLOB NOT NULL,
        opened_at INTEGER NOT NULL,
        used_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX console_sessions_admin ON console_sessions (admin_id)",
    // 11: a running job's claim: whose, and until when unless renewed (a job left running by a
    // process that died is taken again once it lapses).
    "ALTER TABLE jobs ADD COLUMN lease_owner TEXT;
    ALTER TABLE jobs ADD COLUMN lease_until INTEGER",
];

/// Applies every migration not yet applied, each in its own transaction.
pub fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    let applied: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied.max(0) as usize) {
        conn.execute_batch(&format!("BEGIN; {sql}; PRAGMA user_version = {}; COMMIT;", i + 1))?;
    }
    Ok(())
}
