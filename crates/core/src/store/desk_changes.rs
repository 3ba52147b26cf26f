//! The desk-wide watch's numbered list of changes, in the store so that every worker on it tells
//! the same changes under the same numbers: an app's long poll goes on at another worker, or at
//! its own after a restart, from the cursor it holds, without missing a change or hearing one
//! twice. Beside it, per profile, what the last look left for the next: when it started, and
//! the database's threshold as it read it. A cursor names the list's epoch (made once, with the
//! list) and the number of the last change its app has.

use chrono::{DateTime, Utc};

use super::db::{Row, Sql, args};
use super::{Store, StoreError, millis, time};
use crate::desk_api::{DeskChange, Threshold};

/// Most changes kept per profile for apps that were away.
pub const KEPT_CHANGES: i64 = 5_000;

/// A change a look found, with the ticket's last activity (the same again is not told twice) and
/// its primary resource before (a ticket taken from a rep is news to them too).
#[derive(Debug, Clone, PartialEq)]
pub struct FoundChange {
    pub change: DeskChange,
    pub active: DateTime<Utc>,
    pub assigned_before: Option<i64>,
}

/// What the looks of a profile left: the list's epoch, its newest change, the last look's start
/// and the threshold it read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WatchState {
    pub epoch: u64,
    pub newest: u64,
    pub last_look: Option<DateTime<Utc>>,
    pub threshold: Option<Threshold>,
}

fn change(r: &Row<'_>) -> Result<DeskChange, super::db::DbError> {
    Ok(DeskChange { id: r.get(0)?, number: r.get(1)?, title: r.get(2)?, assigned: r.get(3)?, open: r.get(4)? })
}

impl Store {
    /// What the looks of `profile` left; its epoch is made with the first reading.
    pub fn desk_watch(&self, profile: &str) -> Result<WatchState, StoreError> {
        let mut conn = self.conn();
        // Read every second by every worker: written only the first time.
        let made: Option<i64> =
            conn.query_opt("SELECT 1 FROM desk_watch WHERE profile = $1", args![profile], |r| r.get(0))?;
        if made.is_none() {
            let epoch = (rand::random::<u64>() >> 12) as i64;
            conn.execute(
                "INSERT INTO desk_watch (profile, epoch) VALUES ($1, $2) ON CONFLICT (profile) DO NOTHING",
                args![profile, epoch],
            )?;
        }
        Ok(conn.query_one(
            "SELECT w.epoch, w.last_look, w.threshold_used, w.threshold_limit,
                    (SELECT max(n) FROM desk_changes WHERE profile = $1)
             FROM desk_watch w WHERE w.profile = $1",
            args![profile],
            |r| {
                let threshold = match (r.get::<Option<i64>>(2)?, r.get::<Option<i64>>(3)?) {
                    (Some(used), Some(limit)) => {
                        Some(Threshold { used: used.max(0) as u64, limit: limit.max(0) as u64 })
                    }
                    _ => None,
                };
                Ok(WatchState {
                    epoch: r.get::<i64>(0)?.max(0) as u64,
                    newest: r.get::<Option<i64>>(4)?.unwrap_or(0).max(0) as u64,
                    last_look: r.get::<Option<i64>>(1)?.map(time),
                    threshold,
                })
            },
        )?)
    }

    /// Records a look of `profile` that started at `started`: the changes it found (each not
    /// told already with the same last activity), and the threshold it read; keeps the newest
    /// [`KEPT_CHANGES`]. Returns how many were new.
    pub fn record_look(
        &self,
        profile: &str,
        found: &[FoundChange],
        started: DateTime<Utc>,
        threshold: Option<Threshold>,
    ) -> Result<usize, StoreError> {
        let mut conn = self.conn();
        let mut tx = conn.transaction()?;
        let mut told = 0;
        for f in found {
            let last: Option<i64> = tx.query_opt(
                "SELECT active FROM desk_changes WHERE profile = $1 AND ticket_id = $2 ORDER BY n DESC LIMIT 1",
                args![profile, f.change.id],
                |r| r.get(0),
            )?;
            if last == Some(millis(f.active)) {
                continue;
            }
            let c = &f.change;
            tx.execute(
                "INSERT INTO desk_changes (profile, ticket_id, number, title, assigned, assigned_before, open, active, at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                args![
                    profile,
                    c.id,
                    c.number,
                    c.title,
                    c.assigned,
                    f.assigned_before,
                    c.open,
                    millis(f.active),
                    millis(Utc::now())
                ],
            )?;
            told += 1;
        }
        tx.execute(
            "UPDATE desk_watch SET last_look = $2, threshold_used = $3, threshold_limit = $4 WHERE profile = $1",
            args![profile, millis(started), threshold.map(|t| t.used as i64), threshold.map(|t| t.limit as i64)],
        )?;
        if told > 0 {
            tx.execute(
                "DELETE FROM desk_changes WHERE profile = $1 AND n <= (SELECT n FROM desk_changes WHERE profile = $1
                     ORDER BY n DESC LIMIT 1 OFFSET $2)",
                args![profile, KEPT_CHANGES],
            )?;
        }
        tx.commit()?;
        Ok(told)
    }

    /// The changes of `profile` after number `after` that rep `me` (their resource id) is told
    /// of: to tickets theirs now, and to those taken from them.
    pub fn desk_changes_after(&self, profile: &str, after: u64, me: i64) -> Result<Vec<DeskChange>, StoreError> {
        Ok(self.conn().query(
            "SELECT ticket_id, number, title, assigned, open FROM desk_changes
             WHERE profile = $1 AND n > $2 AND (assigned = $3 OR assigned_before = $3) ORDER BY n",
            args![profile, after as i64, me],
            change,
        )?)
    }
}
