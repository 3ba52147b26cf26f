//! The desk console's admins — an id of their own, a name and an Argon2 hash of their password
//! (the hash carries its own salt and parameters), never the password — and the sessions they
//! log in to: each token kept only as its keyed hash (the store's token key, apart from reps'
//! tokens by a prefix of its own), so a copy of the store opens no session; kept here rather
//! than in the worker's memory so that a restarted worker logs no admin out.

use super::db::{Sql, args};
use chrono::{DateTime, Utc};

use super::{Store, StoreError, millis};

impl Store {
    /// Adds an admin, or gives an existing one a new password; whether they were new.
    pub fn set_console_admin(&self, name: &str, password_hash: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let known: bool =
            conn.query_opt("SELECT 1 FROM console_admins WHERE name = $1", args![name], |_| Ok(()))?.is_some();
        conn.execute(
            "INSERT INTO console_admins (name, password_hash, added_at) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET password_hash = excluded.password_hash",
            args![name, password_hash, millis(now)],
        )?;
        Ok(!known)
    }

    /// Removes an admin, and their sessions; whether there was one.
    pub fn remove_console_admin(&self, name: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let mut tx = conn.transaction()?;
        tx.execute(
            "DELETE FROM console_sessions WHERE admin_id IN (SELECT id FROM console_admins WHERE name = $1)",
            args![name],
        )?;
        let removed = tx.execute("DELETE FROM console_admins WHERE name = $1", args![name])? == 1;
        tx.commit()?;
        Ok(removed)
    }

    /// Opens a console session under `token` for the admin, with the digest of the password hash
    /// they logged in with; sessions ended by `ends` are forgotten meanwhile. Returns the
    /// session's CSRF token.
    pub fn open_console_session(
        &self,
        token: &str,
        admin_id: i64,
        credential: &[u8; 32],
        ends: SessionEnds,
        now: DateTime<Utc>,
    ) -> Result<String, StoreError> {
        let hash = self.console_token_hash(token)?;
        let csrf = self.console_csrf(token)?;
        let mut conn = self.conn();
        let mut tx = conn.transaction()?;
        let (idle_since, opened_since) = ends.cutoffs(now);
        tx.execute(
            "DELETE FROM console_sessions WHERE used_at <= $1 OR opened_at <= $2",
            args![millis(idle_since), millis(opened_since)],
        )?;
        tx.execute(
            "INSERT INTO console_sessions (token_hash, admin_id, credential, opened_at, used_at)
             VALUES ($1, $2, $3, $4, $4)",
            args![hash, admin_id, credential, millis(now)],
        )?;
        tx.commit()?;
        Ok(csrf)
    }

    /// The session `token` opens, if it has not ended by `ends`; counts as a use (written at
    /// most once a minute). An ended one is forgotten.
    pub fn console_session(
        &self,
        token: &str,
        ends: SessionEnds,
        now: DateTime<Utc>,
    ) -> Result<Option<ConsoleSession>, StoreError> {
        let hash = self.console_token_hash(token)?;
        let mut conn = self.conn();
        let found = conn.query_opt(
            "SELECT admin_id, credential, opened_at, used_at FROM console_sessions WHERE token_hash = $1",
            args![hash],
            |r| Ok((r.get::<i64>(0)?, r.get::<Vec<u8>>(1)?, r.get::<i64>(2)?, r.get::<i64>(3)?)),
        )?;
        let Some((admin_id, credential, opened_at, used_at)) = found else { return Ok(None) };
        let (idle_since, opened_since) = ends.cutoffs(now);
        if used_at <= millis(idle_since) || opened_at <= millis(opened_since) {
            conn.execute("DELETE FROM console_sessions WHERE token_hash = $1", args![hash])?;
            return Ok(None);
        }
        if millis(now) - used_at >= USE_WRITTEN_EVERY.num_milliseconds() {
            conn.execute("UPDATE console_sessions SET used_at = $2 WHERE token_hash = $1", args![hash, millis(now)])?;
        }
        let Ok(credential) = <[u8; 32]>::try_from(credential) else { return Ok(None) };
        Ok(Some(ConsoleSession { admin_id, credential, csrf: self.console_csrf(token)? }))
    }

    /// Ends the session `token` opens.
    pub fn close_console_session(&self, token: &str) -> Result<(), StoreError> {
        let hash = self.console_token_hash(token)?;
        self.conn().execute("DELETE FROM console_sessions WHERE token_hash = $1", args![hash])?;
        Ok(())
    }

    /// The CSRF token of the session `token` opens: made from it with the store's key, so it is
    /// kept nowhere and a page of another session cannot send it.
    fn console_csrf(&self, token: &str) -> Result<String, StoreError> {
        use base64::Engine;
        let hash = self.keyed_hash(&format!("console csrf:{token}"))?;
        Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hash))
    }

    fn console_token_hash(&self, token: &str) -> Result<super::KeyedHash, StoreError> {
        self.keyed_hash(&format!("console session:{token}"))
    }

    /// An admin by the name they log in with.
    pub fn console_admin(&self, name: &str) -> Result<Option<ConsoleAdmin>, StoreError> {
        self.console_admin_where("name = $1", &name)
    }

    /// An admin by their id (none once removed: an id is never given again).
    pub fn console_admin_by_id(&self, id: i64) -> Result<Option<ConsoleAdmin>, StoreError> {
        self.console_admin_where("id = $1", &id)
    }

    fn console_admin_where(
        &self,
        condition: &str,
        value: &dyn super::db::Arg,
    ) -> Result<Option<ConsoleAdmin>, StoreError> {
        let sql = format!("SELECT id, name, password_hash FROM console_admins WHERE {condition}");
        let found = self.conn().query_opt(&sql, &[value], |r| {
            Ok(ConsoleAdmin { id: r.get(0)?, name: r.get(1)?, password_hash: r.get(2)? })
        })?;
        Ok(found)
    }

    /// The admins' names.
    pub fn console_admins(&self) -> Result<Vec<String>, StoreError> {
        Ok(self.conn().query("SELECT name FROM console_admins ORDER BY name", args![], |r| r.get(0))?)
    }
}

/// A session's last use is written when it is older than this: a use a minute at most, not a
/// write for every request of the console's pages.
const USE_WRITTEN_EVERY: chrono::Duration = chrono::Duration::minutes(1);

/// When a console session ends: after `idle` without a use, and `lifetime` after its login.
#[derive(Debug, Clone, Copy)]
pub struct SessionEnds {
    pub idle: chrono::Duration,
    pub lifetime: chrono::Duration,
}

impl SessionEnds {
    /// The last use and the login at or before which a session has ended, at `now`.
    fn cutoffs(self, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        (now - self.idle, now - self.lifetime)
    }
}

/// An open console session as stored: whose, under which password, and its CSRF token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    pub admin_id: i64,
    /// The digest of the admin's password hash when they logged in: a new password ends it.
    pub credential: [u8; 32],
    pub csrf: String,
}

/// A console admin as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleAdmin {
    pub id: i64,
    pub name: String,
    pub password_hash: String,
}

/// One profile's queue as the console's Overview shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ProfileCounts {
    pub profile: String,
    /// Jobs waiting or running.
    pub queued: u64,
    /// Jobs failed for good, waiting for a person.
    pub failed: u64,
    /// Sessions written since `since` (the start of the day).
    pub written: u64,
    /// Sessions without a ticket, or whose time Autotask did not take, still open.
    pub unlinked: u64,
}

impl ProfileCounts {
    /// A profile with nothing counted yet.
    pub fn named(profile: &str) -> ProfileCounts {
        ProfileCounts { profile: profile.to_owned(), ..Default::default() }
    }
}

impl Store {
    /// Each profile's queue, failures, sessions written since `since` and open sessions without a ticket.
    pub fn profile_counts(&self, since: DateTime<Utc>) -> Result<Vec<ProfileCounts>, StoreError> {
        let mut conn = self.conn();
        let mut counts: std::collections::BTreeMap<String, ProfileCounts> = Default::default();
        let rows = conn.query(
            "SELECT i.profile,
                    count(*) FILTER (WHERE j.state IN ('pending', 'running')),
                    count(*) FILTER (WHERE j.state = 'failed'),
                    count(*) FILTER (WHERE j.state = 'done' AND i.event = 'support_conference_end'
                                     AND j.updated_at >= $1)
             FROM jobs j JOIN inbox i ON i.id = j.inbox_id GROUP BY i.profile",
            args![millis(since)],
            |r| {
                Ok(ProfileCounts {
                    profile: r.get(0)?,
                    queued: r.get::<i64>(1)? as u64,
                    failed: r.get::<i64>(2)? as u64,
                    written: r.get::<i64>(3)? as u64,
                    unlinked: 0,
                })
            },
        )?;
        for row in rows {
            counts.insert(row.profile.clone(), row);
        }
        let open =
            conn.query("SELECT profile, count(*) FROM unlinked WHERE state = 'open' GROUP BY profile", args![], |r| {
                Ok((r.get::<String>(0)?, r.get::<i64>(1)?))
            })?;
        for (profile, n) in open {
            counts.entry(profile.clone()).or_insert_with(|| ProfileCounts { profile, ..Default::default() }).unlinked =
                n as u64;
        }
        Ok(counts.into_values().collect())
    }

    /// The most recent jobs, failed ones first.
    pub fn jobs_failed_first(&self, limit: usize) -> Result<Vec<super::Job>, StoreError> {
        let sql = format!(
            "SELECT {} FROM jobs j JOIN inbox i ON i.id = j.inbox_id ORDER BY j.state = 'failed' DESC, j.id DESC LIMIT $1",
            Self::JOB_COLUMNS
        );
        Ok(self.conn().query(&sql, args![limit as i64], Self::job_from_row)?)
    }
}
