//! The desk's enrolled reps: who each is (BeyondTrust username, Autotask resource), their
//! one-time enrolment code and their rep token. Codes and tokens are kept only as keyed hashes
//! (HMAC-SHA-256 under a key in a file beside the database, never inside it), so the database,
//! its WAL and its backups hold nothing a request could show, nor anything to test guesses
//! against. Every change bumps a version the running worker watches, so a revocation made from
//! the command line takes effect within its next look (a second).

use std::io::Write;
use std::path::{Path, PathBuf};

use super::db::{DbError, Row, Sql, args};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{Store, StoreError, millis, time};
use crate::Secret;

/// A keyed hash of a code or token: what the store keeps of it.
pub type KeyedHash = [u8; 32];

/// Where a rep's enrolment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepState {
    /// A code was made; the rep has not enrolled with it yet.
    Invited,
    /// The rep's app holds a token (and a new code may be waiting, for a new laptop).
    Enrolled,
    /// Neither token nor code works any more.
    Revoked,
}

impl RepState {
    pub fn as_str(self) -> &'static str {
        match self {
            RepState::Invited => "invited",
            RepState::Enrolled => "enrolled",
            RepState::Revoked => "revoked",
        }
    }

    fn parse(s: &str) -> RepState {
        match s {
            "enrolled" => RepState::Enrolled,
            "revoked" => RepState::Revoked,
            _ => RepState::Invited,
        }
    }
}

/// One rep of one profile, as `rep list` shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rep {
    pub profile: String,
    /// Their BeyondTrust username: their queue, their sessions.
    pub username: String,
    /// Their Autotask resource's e-mail.
    pub email: String,
    /// Their Autotask resource: their tickets.
    pub resource_id: i64,
    pub state: RepState,
    /// When an enrolment code not used yet stops working.
    pub code_expires_at: Option<DateTime<Utc>>,
    pub invited_at: DateTime<Utc>,
    pub enrolled_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_seen_at: Option<DateTime<Utc>>,
    /// The app version the rep's app last said it was.
    pub app_version: Option<String>,
}

/// A rep to invite: who they are, as the worker found them in Autotask.
#[derive(Debug, Clone)]
pub struct NewRep {
    pub profile: String,
    pub username: String,
    pub email: String,
    pub resource_id: i64,
}

/// That a rep's app was seen, to be written in a batch.
#[derive(Debug, Clone)]
pub struct RepSeen {
    pub profile: String,
    pub username: String,
    pub at: DateTime<Utc>,
    pub app_version: Option<String>,
}

const REP_COLUMNS: &str = "profile, username, email, resource_id, state, code_expires_at, invited_at, enrolled_at,
     revoked_at, last_seen_at, app_version";

fn rep_from_row(row: &Row<'_>) -> Result<Rep, DbError> {
    rep_from_row_at(row, 0)
}

/// The file that holds the key of the keyed hashes, beside the database (`worker.sqlite3` →
/// `worker.token-key`).
pub fn token_key_path(database: &Path) -> PathBuf {
    database.with_extension("token-key")
}

/// Reads the key, or makes one (32 random bytes, readable by this user only) when there is none.
pub fn load_or_make_key(path: &Path) -> Result<KeyedHash, String> {
    match std::fs::read(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => make_key(path),
        _ => load_key(path),
    }
}

/// Reads the key.
pub(super) fn load_key(path: &Path) -> Result<KeyedHash, String> {
    match std::fs::read(path) {
        Ok(bytes) => bytes.try_into().map_err(|bytes: Vec<u8>| {
            format!("it holds {} bytes, not 32 — it is damaged; deleting it makes every rep enrol again", bytes.len())
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err("there is no key file".to_owned()),
        Err(e) => Err(e.to_string()),
    }
}

fn make_key(path: &Path) -> Result<KeyedHash, String> {
    let key: KeyedHash = rand::random();
    // A partial file of this attempt's own, then linked into place only if no key is there yet:
    // the worker starting and `rep add` beside it may both make one, and must end with the same.
    let partial = path.with_extension(format!("token-key.{:016x}", rand::random::<u64>()));
    let mut file = private_file(&partial).map_err(|e| e.to_string())?;
    file.write_all(&key).and_then(|()| file.sync_all()).map_err(|e| e.to_string())?;
    drop(file);
    let linked = std::fs::hard_link(&partial, path);
    let _ = std::fs::remove_file(&partial);
    match linked {
        Ok(()) => Ok(key),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => load_or_make_key(path),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(unix)]
fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)
}

/// On Windows the file takes the data folder's permissions (`%ProgramData%\bt-autotask`, which the
/// installer limits to administrators and the service).
#[cfg(not(unix))]
fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new().write(true).create(true).truncate(true).open(path)
}

impl Rep {
    /// The state, with a link waiting or expired said: "invited (link waiting)".
    pub fn state_in_words(&self, now: DateTime<Utc>) -> String {
        let waiting = self.code_expires_at.map(|t| t > now);
        match (self.state, waiting) {
            (RepState::Invited, Some(true)) => "invited (link waiting)".to_owned(),
            (RepState::Invited, _) => "invited (link expired)".to_owned(),
            (RepState::Enrolled, Some(true)) => "enrolled (new link waiting)".to_owned(),
            (state, _) => state.as_str().to_owned(),
        }
    }

    /// The rep as `rep list --json` and the console show them (no code, no token: there is none).
    pub fn to_json(&self, now: DateTime<Utc>) -> serde_json::Value {
        let at = |t: Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339());
        serde_json::json!({
            "username": self.username,
            "profile": self.profile,
            "email": self.email,
            "resource_id": self.resource_id,
            "state": self.state.as_str(),
            "state_in_words": self.state_in_words(now),
            "code_expires": at(self.code_expires_at),
            "invited": self.invited_at.to_rfc3339(),
            "enrolled": at(self.enrolled_at),
            "revoked": at(self.revoked_at),
            "last_seen": at(self.last_seen_at),
            "app_version": self.app_version,
        })
    }
}

impl Store {
    /// The keyed hash of a code or token.
    pub fn keyed_hash(&self, secret: &str) -> Result<KeyedHash, StoreError> {
        let key = self.token_key()?;
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).map_err(|e| StoreError::Task(e.to_string()))?;
        mac.update(secret.as_bytes());
        Ok(mac.finalize().into_bytes().into())
    }

    /// Makes or renews a rep's enrolment code (`code`, kept hashed, working until `expires`). A
    /// rep already enrolled keeps their token until they enrol with the new code (a new laptop);
    /// a revoked rep is invited afresh.
    pub fn invite_rep(
        &self,
        rep: &NewRep,
        code: &Secret,
        expires: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let code_hash = self.keyed_hash(code.expose())?;
        let mut conn = self.conn();
        let mut tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO reps (profile, username, email, resource_id, state, code_hash, code_expires_at, invited_at)
             VALUES ($1, $2, $3, $4, 'invited', $5, $6, $7)
             ON CONFLICT (profile, username) DO UPDATE SET email = excluded.email,
                 resource_id = excluded.resource_id, code_hash = excluded.code_hash,
                 code_expires_at = excluded.code_expires_at, invited_at = excluded.invited_at,
                 state = CASE WHEN reps.state = 'revoked' THEN 'invited' ELSE reps.state END,
                 revoked_at = NULL",
            args![rep.profile, rep.username, rep.email, rep.resource_id, code_hash, millis(expires), millis(now)],
        )?;
        bump_reps_version(&mut tx)?;
        tx.commit()?;
        Ok(())
    }

    /// Takes an enrolment code once: the rep it was made for gets `token` (kept hashed, replacing
    /// any earlier one) and the code stops working. `None` for a code that is unknown, used,
    /// expired or revoked — told apart to no one.
    pub fn enrol_rep(&self, code: &str, token: &Secret, now: DateTime<Utc>) -> Result<Option<Rep>, StoreError> {
        let (code_hash, token_hash) = (self.keyed_hash(code)?, self.keyed_hash(token.expose())?);
        let mut conn = self.conn();
        let mut tx = conn.transaction()?;
        let taken = tx.execute(
            "UPDATE reps SET state = 'enrolled', token_hash = $2, code_hash = NULL, code_expires_at = NULL,
                 enrolled_at = $3, last_seen_at = $3
             WHERE code_hash = $1 AND code_expires_at > $3 AND state != 'revoked'",
            args![code_hash, token_hash, millis(now)],
        )?;
        if taken == 0 {
            return Ok(None);
        }
        let sql = format!("SELECT {REP_COLUMNS} FROM reps WHERE token_hash = $1");
        let rep = tx.query_opt(&sql, args![token_hash], rep_from_row)?;
        bump_reps_version(&mut tx)?;
        tx.commit()?;
        Ok(rep)
    }

    /// The rep a code was made for, while it works (unknown, used, expired and revoked codes
    /// alike give none); the code is not taken.
    pub fn invited_by_code(&self, code: &str) -> Result<Option<Rep>, StoreError> {
        let code_hash = self.keyed_hash(code)?;
        let sql = format!(
            "SELECT {REP_COLUMNS} FROM reps WHERE code_hash = $1 AND code_expires_at > $2 AND state != 'revoked'"
        );
        Ok(self.conn().query_opt(&sql, args![code_hash, millis(Utc::now())], rep_from_row)?)
    }

    /// Revokes a rep's token and any code waiting, in `profile` or in every profile; how many
    /// enrolments were revoked.
    pub fn revoke_rep(&self, username: &str, profile: Option<&str>, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let mut conn = self.conn();
        let mut tx = conn.transaction()?;
        let revoked = tx.execute(
            "UPDATE reps SET state = 'revoked', token_hash = NULL, code_hash = NULL, code_expires_at = NULL,
                 revoked_at = $3
             WHERE username = $1 AND (CAST($2 AS TEXT) IS NULL OR profile = $2) AND state != 'revoked'",
            args![username, profile, millis(now)],
        )?;
        bump_reps_version(&mut tx)?;
        tx.commit()?;
        Ok(revoked as usize)
    }

    /// Every rep of every profile, by profile and username.
    pub fn reps(&self) -> Result<Vec<Rep>, StoreError> {
        let sql = format!("SELECT {REP_COLUMNS} FROM reps ORDER BY profile, username");
        Ok(self.conn().query(&sql, args![], rep_from_row)?)
    }

    /// Every enrolled rep with the keyed hash of their token, for the worker to know them by it.
    pub fn enrolled_reps(&self) -> Result<Vec<(KeyedHash, Rep)>, StoreError> {
        let sql = format!("SELECT token_hash, {REP_COLUMNS} FROM reps WHERE state = 'enrolled'");
        let rows = self.conn().query(&sql, args![], |row| Ok((row.get::<Vec<u8>>(0)?, rep_from_row_at(row, 1)?)))?;
        Ok(rows.into_iter().filter_map(|(hash, rep)| Some((KeyedHash::try_from(hash).ok()?, rep))).collect())
    }

    /// A number that changes whenever a rep is invited, enrolled or revoked.
    pub fn reps_version(&self) -> Result<i64, StoreError> {
        let version =
            self.conn().query_opt("SELECT value FROM meta WHERE key = 'reps_version'", args![], |r| r.get(0))?;
        Ok(version.unwrap_or(0))
    }

    /// Records when reps' apps were last seen, and their versions, in one transaction.
    pub fn reps_seen(&self, seen: &[RepSeen]) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let mut tx = conn.transaction()?;
        for s in seen {
            tx.execute(
                "UPDATE reps SET last_seen_at = CASE WHEN coalesce(last_seen_at, 0) < $3 THEN $3 ELSE last_seen_at END,
                     app_version = coalesce($4, app_version)
                 WHERE profile = $1 AND username = $2",
                args![s.profile, s.username, millis(s.at), s.app_version],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    pub(super) fn token_key(&self) -> Result<KeyedHash, StoreError> {
        let mut key = self.token_key.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(key) = *key {
            return Ok(key);
        }
        let path = self.key_path.clone();
        let loaded = load_or_make_key(&path).map_err(|message| StoreError::TokenKey { path, message })?;
        *key = Some(loaded);
        Ok(loaded)
    }
}

/// [`rep_from_row`] for columns starting at `first`.
fn rep_from_row_at(row: &Row<'_>, first: usize) -> Result<Rep, DbError> {
    let at = |i: usize| row.get::<Option<i64>>(first + i).map(|t| t.map(time));
    Ok(Rep {
        profile: row.get(first)?,
        username: row.get(first + 1)?,
        email: row.get(first + 2)?,
        resource_id: row.get(first + 3)?,
        state: RepState::parse(&row.get::<String>(first + 4)?),
        code_expires_at: at(5)?,
        invited_at: time(row.get(first + 6)?),
        enrolled_at: at(7)?,
        revoked_at: at(8)?,
        last_seen_at: at(9)?,
        app_version: row.get(first + 10)?,
    })
}

fn bump_reps_version(tx: &mut impl Sql) -> Result<(), DbError> {
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('reps_version', 1)
         ON CONFLICT (key) DO UPDATE SET value = meta.value + 1",
        args![],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn alex() -> NewRep {
        NewRep {
            profile: "Desk".into(),
            username: "alex.morgan".into(),
            email: "alex.morgan@example.com".into(),
            resource_id: 29_682_885,
        }
    }

    #[test]
    fn a_code_is_taken_once_before_it_expires_and_a_revoked_rep_is_known_no_more() {
        crate::store::tests::on_both(|place| {
            let store = place.open();
            a_code_is_taken_once(&store);
        });
    }

    fn a_code_is_taken_once(store: &Store) {
        let now = Utc::now();
        let code = Secret::new("ABCDE-FGHJK-LMNPQ-RSTUV");
        store.invite_rep(&alex(), &code, now + chrono::Duration::hours(72), now).unwrap();
        let version = store.reps_version().unwrap();
        assert!(store.enrol_rep("ABCDE-FGHJK-LMNPQ-RSTUW", &Secret::new("t1"), now).unwrap().is_none());
        let rep = store.enrol_rep(code.expose(), &Secret::new("t1"), now).unwrap().unwrap();
        assert_eq!((rep.username.as_str(), rep.state), ("alex.morgan", RepState::Enrolled));
        assert!(store.reps_version().unwrap() > version);
        assert!(store.enrol_rep(code.expose(), &Secret::new("t2"), now).unwrap().is_none(), "used");
        let known = store.enrolled_reps().unwrap();
        assert_eq!(known.len(), 1);
        assert_eq!(known[0].0, store.keyed_hash("t1").unwrap());

        // A new laptop: the old token works until the new code is used.
        let renewed = Secret::new("VWXYZ-23456-789AB-CDEFG");
        store.invite_rep(&alex(), &renewed, now + chrono::Duration::hours(1), now).unwrap();
        assert_eq!(store.enrolled_reps().unwrap()[0].0, store.keyed_hash("t1").unwrap());
        let late = now + chrono::Duration::hours(2);
        assert!(store.enrol_rep(renewed.expose(), &Secret::new("t3"), late).unwrap().is_none(), "expired");
        store.invite_rep(&alex(), &renewed, now + chrono::Duration::hours(1), now).unwrap();
        store.enrol_rep(renewed.expose(), &Secret::new("t3"), now).unwrap().unwrap();
        assert_eq!(store.enrolled_reps().unwrap()[0].0, store.keyed_hash("t3").unwrap());

        assert_eq!(store.revoke_rep("ALEX.MORGAN", None, now).unwrap(), 1, "usernames in any case");
        assert!(store.enrolled_reps().unwrap().is_empty());
        assert_eq!(store.reps().unwrap()[0].state, RepState::Revoked);
    }

    #[test]
    fn processes_making_the_key_at_once_end_with_the_same_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = token_key_path(&dir.path().join("worker.sqlite3"));
        let makers: Vec<_> = (0..8)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || load_or_make_key(&path).unwrap())
            })
            .collect();
        let keys: Vec<KeyedHash> = makers.into_iter().map(|m| m.join().unwrap()).collect();
        assert!(keys.iter().all(|k| *k == keys[0]), "every maker holds the key that was kept");
        assert_eq!(load_or_make_key(&path).unwrap(), keys[0]);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no partial file left");
    }

    #[test]
    fn the_key_is_kept_beside_the_database_and_a_damaged_one_is_said() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("worker.sqlite3");
        let first = Store::open(&path).unwrap().keyed_hash("token").unwrap();
        assert_eq!(Store::open(&path).unwrap().keyed_hash("token").unwrap(), first, "the same key next time");
        assert_ne!(Store::open(&path).unwrap().keyed_hash("tokem").unwrap(), first);
        std::fs::write(token_key_path(&path), b"short").unwrap();
        let damaged = Store::open(&path).unwrap().keyed_hash("token").unwrap_err().to_string();
        assert!(damaged.contains("token-key") && damaged.contains("damaged"), "{damaged}");
    }
}
