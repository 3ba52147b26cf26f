//! The store's tables, created and upgraded in order, on either engine. SQLite's list is the
//! store's whole history (`user_version` records how far a file is); PostgreSQL's starts from the
//! schema as it stood at SQLite's 11th in one step, then SQLite's later ones each in its own (and the desk's copy of the tickets, which SQLite
//! keeps in a file of its own), with PostgreSQL's types (`citext` for names
//! compared in any case, as SQLite's `NOCASE`), and `store_schema` records how far. A change to the
//! schema is a new entry at the end of both lists.

use super::db::{Conn, DbError, Engine, Sql, args};

const SQLITE: &[&str] = &[
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
    // 12: the desk-wide watch's changes and what its last look left, shared by the workers on the
    // store (an app's cursor goes on at any of them).
    "CREATE TABLE desk_changes (
        n INTEGER PRIMARY KEY AUTOINCREMENT,
        profile TEXT NOT NULL,
        ticket_id INTEGER NOT NULL,
        number TEXT NOT NULL,
        title TEXT NOT NULL,
        assigned INTEGER,
        assigned_before INTEGER,
        open INTEGER NOT NULL,
        active INTEGER NOT NULL,
        at INTEGER NOT NULL
    );
    CREATE INDEX desk_changes_ticket ON desk_changes (profile, ticket_id, n);
    CREATE INDEX desk_changes_profile ON desk_changes (profile, n);
    CREATE TABLE desk_watch (
        profile TEXT PRIMARY KEY,
        epoch INTEGER NOT NULL,
        last_look INTEGER,
        threshold_used INTEGER,
        threshold_limit INTEGER
    )",
    // 13: who holds each duty only one worker does (on SQLite, the one opening of the file).
    "CREATE TABLE duties (name TEXT PRIMARY KEY, holder TEXT NOT NULL, since INTEGER NOT NULL)",
    // 14: the ticket webhooks' secrets (sealed under the token key), the callouts taken (against
    // replays, at whichever worker they arrive), and whom a ticket a callout changed was assigned
    // to before, until the next look tells of the change.
    "CREATE TABLE webhooks (
        profile TEXT PRIMARY KEY,
        secret BLOB NOT NULL,
        deactivation_key BLOB NOT NULL,
        made_at INTEGER NOT NULL,
        told_off INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE webhook_taken (digest BLOB PRIMARY KEY, at INTEGER NOT NULL) WITHOUT ROWID;
    CREATE INDEX webhook_taken_at ON webhook_taken (at);
    CREATE TABLE desk_hooked (
        profile TEXT NOT NULL,
        ticket_id INTEGER NOT NULL,
        assigned_before INTEGER,
        PRIMARY KEY (profile, ticket_id)
    )",
    // 15: allowances every worker counts together (a rep's searches of Autotask, their keys).
    "CREATE TABLE allowances (kind TEXT NOT NULL, key TEXT NOT NULL, whole_at INTEGER NOT NULL, PRIMARY KEY (kind, key))",
];

const POSTGRES: &[&str] = &[
    // 1: everything SQLite's first 11 made.
    "CREATE EXTENSION IF NOT EXISTS citext;
    CREATE TABLE inbox (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        profile TEXT NOT NULL,
        source TEXT NOT NULL,
        event TEXT NOT NULL,
        lsid TEXT,
        dedupe_key TEXT NOT NULL UNIQUE,
        body TEXT NOT NULL,
        received_at BIGINT NOT NULL,
        remote_addr TEXT
    );
    CREATE INDEX inbox_session ON inbox (profile, lsid);
    CREATE TABLE jobs (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        inbox_id BIGINT NOT NULL REFERENCES inbox (id),
        state TEXT NOT NULL,
        attempts BIGINT NOT NULL,
        next_run_at BIGINT NOT NULL,
        last_error TEXT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        lease_owner TEXT,
        lease_until BIGINT
    );
    CREATE INDEX jobs_due ON jobs (state, next_run_at);
    CREATE INDEX jobs_finished ON jobs (state, updated_at);
    CREATE INDEX jobs_inbox ON jobs (inbox_id);
    CREATE TABLE ledger (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        profile TEXT NOT NULL,
        lsid TEXT NOT NULL,
        kind TEXT NOT NULL,
        part BIGINT NOT NULL,
        ticket_id BIGINT,
        autotask_id BIGINT NOT NULL,
        written_at BIGINT NOT NULL,
        UNIQUE (profile, lsid, kind, part)
    );
    CREATE INDEX ledger_written ON ledger (written_at);
    CREATE TABLE activity (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        at BIGINT NOT NULL,
        profile TEXT NOT NULL,
        lsid TEXT,
        ticket_id BIGINT,
        level TEXT NOT NULL,
        summary TEXT NOT NULL,
        job_id BIGINT,
        details TEXT,
        rep CITEXT
    );
    CREATE INDEX activity_at ON activity (at);
    CREATE INDEX activity_rep ON activity (profile, rep, id);
    CREATE INDEX activity_job ON activity (job_id);
    CREATE TABLE watermarks (profile TEXT PRIMARY KEY, last_end_time BIGINT NOT NULL);
    CREATE TABLE cache (
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        fetched_at BIGINT NOT NULL,
        PRIMARY KEY (kind, key)
    );
    CREATE INDEX cache_fetched ON cache (fetched_at);
    CREATE TABLE meta (key TEXT PRIMARY KEY, value BIGINT NOT NULL);
    CREATE TABLE unlinked (
        profile TEXT NOT NULL,
        lsid TEXT NOT NULL,
        job_id BIGINT NOT NULL,
        rep TEXT,
        customer TEXT,
        company TEXT,
        issue TEXT,
        started_at BIGINT,
        duration_s BIGINT,
        ended_at BIGINT,
        reason TEXT NOT NULL,
        state TEXT NOT NULL,
        ticket TEXT,
        decided_by TEXT,
        decided_at BIGINT,
        noted_at BIGINT NOT NULL,
        held_ticket BIGINT,
        PRIMARY KEY (profile, lsid)
    );
    CREATE INDEX unlinked_noted ON unlinked (noted_at);
    CREATE TABLE reps (
        profile TEXT NOT NULL,
        username CITEXT NOT NULL,
        email TEXT NOT NULL,
        resource_id BIGINT NOT NULL,
        state TEXT NOT NULL,
        code_hash BYTEA UNIQUE,
        code_expires_at BIGINT,
        token_hash BYTEA UNIQUE,
        invited_at BIGINT NOT NULL,
        enrolled_at BIGINT,
        revoked_at BIGINT,
        last_seen_at BIGINT,
        app_version TEXT,
        PRIMARY KEY (profile, username)
    );
    CREATE TABLE console_admins (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        name CITEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        added_at BIGINT NOT NULL
    );
    CREATE TABLE console_sessions (
        token_hash BYTEA PRIMARY KEY,
        admin_id BIGINT NOT NULL,
        credential BYTEA NOT NULL,
        opened_at BIGINT NOT NULL,
        used_at BIGINT NOT NULL
    );
    CREATE INDEX console_sessions_admin ON console_sessions (admin_id)",
    // 2: SQLite's 12th.
    "CREATE TABLE desk_changes (
        n BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        profile TEXT NOT NULL,
        ticket_id BIGINT NOT NULL,
        number TEXT NOT NULL,
        title TEXT NOT NULL,
        assigned BIGINT,
        assigned_before BIGINT,
        open BOOLEAN NOT NULL,
        active BIGINT NOT NULL,
        at BIGINT NOT NULL
    );
    CREATE INDEX desk_changes_ticket ON desk_changes (profile, ticket_id, n);
    CREATE INDEX desk_changes_profile ON desk_changes (profile, n);
    CREATE TABLE desk_watch (
        profile TEXT PRIMARY KEY,
        epoch BIGINT NOT NULL,
        last_look BIGINT,
        threshold_used BIGINT,
        threshold_limit BIGINT
    )",
    // 3: PostgreSQL's own: the desk's copy of the tickets, one for every worker (on SQLite it is a
    // file of its own beside the store's). `words` is what a search matches, made when a row or
    // a name it shows changes.
    "CREATE EXTENSION IF NOT EXISTS unaccent;
    CREATE TABLE copy_tickets (
        profile TEXT NOT NULL,
        id BIGINT NOT NULL,
        number TEXT NOT NULL,
        title TEXT NOT NULL,
        status BIGINT,
        company_id BIGINT,
        contact_id BIGINT,
        device_id BIGINT,
        assigned BIGINT,
        last_activity BIGINT,
        assigned_role BIGINT,
        words TSVECTOR,
        PRIMARY KEY (profile, id)
    );
    CREATE INDEX copy_tickets_number ON copy_tickets (profile, number text_pattern_ops);
    CREATE INDEX copy_tickets_assigned ON copy_tickets (profile, assigned, status);
    CREATE INDEX copy_tickets_activity ON copy_tickets (profile, last_activity);
    CREATE INDEX copy_tickets_company ON copy_tickets (profile, company_id);
    CREATE INDEX copy_tickets_contact ON copy_tickets (profile, contact_id);
    CREATE INDEX copy_tickets_device ON copy_tickets (profile, device_id);
    CREATE INDEX copy_tickets_words ON copy_tickets USING GIN (words);
    CREATE TABLE copy_names (
        profile TEXT NOT NULL,
        kind TEXT NOT NULL,
        id BIGINT NOT NULL,
        name TEXT NOT NULL,
        email TEXT,
        PRIMARY KEY (profile, kind, id)
    );
    CREATE TABLE copy_meta (profile TEXT NOT NULL, key TEXT NOT NULL, value BIGINT NOT NULL, PRIMARY KEY (profile, key))",
    // 4: SQLite's 13th.
    "CREATE TABLE duties (name TEXT PRIMARY KEY, holder TEXT NOT NULL, since BIGINT NOT NULL)",
    // 5: SQLite's 14th.
    "CREATE TABLE webhooks (
        profile TEXT PRIMARY KEY,
        secret BYTEA NOT NULL,
        deactivation_key BYTEA NOT NULL,
        made_at BIGINT NOT NULL,
        told_off BOOLEAN NOT NULL DEFAULT false
    );
    CREATE TABLE webhook_taken (digest BYTEA PRIMARY KEY, at BIGINT NOT NULL);
    CREATE INDEX webhook_taken_at ON webhook_taken (at);
    CREATE TABLE desk_hooked (
        profile TEXT NOT NULL,
        ticket_id BIGINT NOT NULL,
        assigned_before BIGINT,
        PRIMARY KEY (profile, ticket_id)
    )",
    // 6: SQLite's 15th.
    "CREATE TABLE allowances (kind TEXT NOT NULL, key TEXT NOT NULL, whole_at BIGINT NOT NULL, PRIMARY KEY (kind, key))",
];

/// The advisory lock workers starting at once take to migrate one at a time.
const MIGRATING: i64 = 0x6274_6174_6d69_6772; // "btatmigr"

/// Applies every migration not yet applied, each in its own transaction.
pub fn migrate(conn: &mut Conn) -> Result<(), DbError> {
    match conn.engine() {
        Engine::Sqlite => {
            let applied: i64 = conn.query_one("PRAGMA user_version", args![], |r| r.get(0))?;
            for (i, sql) in SQLITE.iter().enumerate().skip(applied.max(0) as usize) {
                conn.batch(&format!("BEGIN; {sql}; PRAGMA user_version = {}; COMMIT;", i + 1))?;
            }
            Ok(())
        }
        Engine::Postgres => {
            conn.execute("SELECT pg_advisory_lock($1)", args![MIGRATING])?;
            let migrated = migrate_postgres(conn);
            let unlocked = conn.execute("SELECT pg_advisory_unlock($1)", args![MIGRATING]);
            migrated.and(unlocked.map(drop))
        }
    }
}

fn migrate_postgres(conn: &mut Conn) -> Result<(), DbError> {
    conn.batch("CREATE TABLE IF NOT EXISTS store_schema (version BIGINT NOT NULL)")?;
    let applied: Option<i64> = conn.query_one("SELECT max(version) FROM store_schema", args![], |r| r.get(0))?;
    for (i, sql) in POSTGRES.iter().enumerate().skip(applied.unwrap_or(0).max(0) as usize) {
        conn.batch(&format!("BEGIN; {sql}; INSERT INTO store_schema (version) VALUES ({}); COMMIT;", i + 1))?;
    }
    Ok(())
}
