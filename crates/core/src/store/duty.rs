//! Work that must have one doer among the workers on a store (the desk-wide watch of a profile:
//! its looks at Autotask, the copy's fill, the ticket webhook's registration; the retention). On PostgreSQL a
//! duty is a session-level advisory lock, held on a connection of its own: the database lets go
//! of it the moment the holder's connection ends — the process killed, its machine gone once the
//! server notices — and the next worker to try takes it. Each holder notes its name in `duties`,
//! so that every worker's `/healthz` says who holds what. A store on a SQLite file is one
//! machine's: its opening holds every duty.

use std::sync::Mutex;

use chrono::Utc;

use super::db::{Conn, PgConn, Sql, args};
use super::{Store, StoreError, StoreUrl, millis};

/// One duty, as one worker tries to hold it.
#[derive(Debug)]
pub struct Duty {
    name: String,
    /// The advisory lock's key, from the duty's name.
    key: i64,
    /// This worker, as `/healthz` names it: its machine and process.
    holder: String,
    /// The database and the lock's own connection (none on SQLite).
    postgres: Option<(StoreUrl, Mutex<Option<Conn>>)>,
    /// Whether this worker has noted itself the holder (on SQLite, once).
    noted: std::sync::atomic::AtomicBool,
}

/// Who holds a duty, as the store says.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DutyHolder {
    pub holder: String,
    pub since: chrono::DateTime<Utc>,
}

/// This process as a duty's holder is named: its machine's name and its process id.
pub fn this_worker() -> String {
    format!("{} (pid {})", gethostname::gethostname().to_string_lossy(), std::process::id())
}

impl Store {
    /// The duty named `name`, for this worker to try to hold.
    pub fn duty(&self, name: &str) -> Duty {
        use sha2::Digest;
        let hash = sha2::Sha256::digest(format!("bt-autotask duty {name}").as_bytes());
        let key = i64::from_be_bytes(hash[..8].try_into().unwrap_or_default());
        Duty {
            name: name.to_owned(),
            key,
            holder: this_worker(),
            postgres: self.url.clone().map(|url| (url, Mutex::new(None))),
            noted: Default::default(),
        }
    }

    /// Who holds the duty named `name`, as its holder last noted.
    pub fn duty_holder(&self, name: &str) -> Result<Option<DutyHolder>, StoreError> {
        Ok(self.duty_holders()?.into_iter().find(|(n, _)| n == name).map(|(_, holder)| holder))
    }

    /// Every duty's holder, as each last noted, by the duty's name.
    pub fn duty_holders(&self) -> Result<Vec<(String, DutyHolder)>, StoreError> {
        Ok(self.conn().query("SELECT name, holder, since FROM duties ORDER BY name", args![], |r| {
            Ok((r.get(0)?, DutyHolder { holder: r.get(1)?, since: super::time(r.get(2)?) }))
        })?)
    }
}

impl Duty {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether this worker holds the duty now: taken when it is free, kept while the lock's
    /// connection lives (a lost connection lost the lock with it). Called every few seconds by
    /// the holder and by those waiting to take over.
    pub fn hold(&self, store: &Store) -> Result<bool, StoreError> {
        let Some((url, conn)) = &self.postgres else {
            if !self.noted.swap(true, std::sync::atomic::Ordering::Relaxed) {
                self.note(store)?;
            }
            return Ok(true);
        };
        let mut conn = conn.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(held) = conn.as_mut() {
            match held.query_one("SELECT 1", args![], |r| r.get::<i64>(0)) {
                Ok(_) => return Ok(true),
                Err(e) => {
                    tracing::warn!(duty = self.name, "the connection holding this duty was lost: {e}");
                    *conn = None;
                }
            }
        }
        let open_error = |message: String| StoreError::Open { path: url.to_string().into(), message };
        let mut fresh = Conn::Postgres(Box::new(PgConn::new(url.connect().map_err(open_error)?)));
        let taken: bool = fresh.query_one("SELECT pg_try_advisory_lock($1)", args![self.key], |r| r.get(0))?;
        if !taken {
            return Ok(false);
        }
        self.note(store)?;
        *conn = Some(fresh);
        Ok(true)
    }

    fn note(&self, store: &Store) -> Result<(), StoreError> {
        store.conn().execute(
            "INSERT INTO duties (name, holder, since) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, since = excluded.since",
            args![self.name, self.holder, millis(Utc::now())],
        )?;
        Ok(())
    }
}
