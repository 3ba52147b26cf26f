//! A bounded store: what is older than the retention — finished jobs and their events, activity,
//! the ledger, caches — is pruned in small batches, and the freed pages go back to the disk.
//! Jobs still waiting for a person (failed) or for their time (pending) are never pruned.
//!
//! Exactly-once past pruning: a session's event delivered again after its ledger rows are gone
//! makes a new job; the worker then looks for the session's markers on the ticket before writing
//! whenever the session ended before the pruned time ([`Store::pruned_before`]).

use super::db::{Engine, Sql, args};
use chrono::{DateTime, Utc};

use super::{Store, StoreError, millis, time};

/// Rows deleted per table in one transaction, so intake never waits long behind pruning.
pub const BATCH: usize = 500;

/// Turns on incremental vacuum; a store made before it had it is vacuumed once to switch.
pub(super) fn allow_incremental_vacuum(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    let mode: i64 = conn.query_row("PRAGMA auto_vacuum", [], |r| r.get(0))?;
    if mode != 2 {
        conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
        conn.execute_batch("VACUUM")?;
    }
    Ok(())
}

/// What one pruning batch deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub jobs: usize,
    pub activity: usize,
    pub ledger: usize,
}

impl Pruned {
    pub fn is_empty(&self) -> bool {
        self.jobs + self.activity + self.ledger == 0
    }
}

impl Store {
    /// Deletes at most `BATCH` rows of each kind older than `before`, in one transaction.
    pub fn prune_batch(&self, before: DateTime<Utc>) -> Result<Pruned, StoreError> {
        let mut conn = self.conn();
        let mut tx = conn.transaction()?;
        let cutoff = millis(before);
        let finished: Vec<(i64, i64)> = tx.query(
            "SELECT id, inbox_id FROM jobs WHERE state IN ('done', 'ignored') AND updated_at < $1 LIMIT $2",
            args![cutoff, BATCH as i64],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        for (job, inbox) in &finished {
            tx.execute("DELETE FROM jobs WHERE id = $1", args![job])?;
            tx.execute(
                "DELETE FROM inbox WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM jobs WHERE inbox_id = $1)",
                args![inbox],
            )?;
        }
        let row_id = tx.engine().row_id();
        let mut older = |table: &str, column: &str| {
            tx.execute(
                &format!(
                    "DELETE FROM {table} WHERE {row_id} IN (SELECT {row_id} FROM {table} WHERE {column} < $1 LIMIT $2)"
                ),
                args![cutoff, BATCH as i64],
            )
        };
        let activity = older("activity", "at")? as usize;
        let ledger = older("ledger", "written_at")? as usize;
        older("cache", "fetched_at")?;
        older("unlinked", "noted_at")?;
        tx.commit()?;
        Ok(Pruned { jobs: finished.len(), activity, ledger })
    }

    /// After the batches: records how far pruning reached and gives the freed pages back.
    pub fn finish_pruning(&self, before: DateTime<Utc>) -> Result<(), StoreError> {
        let mut conn = self.conn();
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('pruned_before', $1)
             ON CONFLICT (key) DO UPDATE SET value = CASE
                 WHEN excluded.value > meta.value THEN excluded.value ELSE meta.value END",
            args![millis(before)],
        )?;
        // PostgreSQL's autovacuum gives the space back to the table by itself.
        if conn.engine() == Engine::Sqlite {
            conn.batch("PRAGMA incremental_vacuum")?;
        }
        Ok(())
    }

    /// Everything older than this may have been pruned, the ledger included.
    pub fn pruned_before(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let value: Option<i64> =
            self.conn().query_opt("SELECT value FROM meta WHERE key = 'pruned_before'", args![], |r| r.get(0))?;
        Ok(value.map(time))
    }

    /// The store's size in bytes: the file's pages in use and free, or the database's.
    pub fn size_bytes(&self) -> Result<u64, StoreError> {
        let mut conn = self.conn();
        let size: i64 = match conn.engine() {
            Engine::Sqlite => conn.query_one(
                "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
                args![],
                |r| r.get(0),
            )?,
            Engine::Postgres => conn.query_one("SELECT pg_database_size(current_database())", args![], |r| r.get(0))?,
        };
        Ok(size.max(0) as u64)
    }
}

impl super::AsyncStore {
    /// Prunes everything older than `before`, batch by batch, then vacuums; what it deleted.
    pub async fn prune(&self, before: DateTime<Utc>) -> Result<Pruned, StoreError> {
        let mut total = Pruned::default();
        loop {
            let batch = self.run(move |s| s.prune_batch(before)).await?;
            if batch.is_empty() {
                break;
            }
            total = Pruned {
                jobs: total.jobs + batch.jobs,
                activity: total.activity + batch.activity,
                ledger: total.ledger + batch.ledger,
            };
        }
        self.run(move |s| s.finish_pruning(before)).await?;
        Ok(total)
    }
}
