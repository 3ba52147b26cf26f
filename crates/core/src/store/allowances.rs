//! Allowances every worker on a store counts together: what a rep may spend of budgets the whole
//! desk shares (their searches that reach Autotask, their session keys on the appliance), so two
//! workers behind a balancer never grant a rep twice the budget. Each is a generic cell-rate
//! allowance — `burst` at once, then one more every `every` — kept as the time at which the
//! allowance is whole again, in one row per rep, changed under the row's lock.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::db::{Sql, args};
use super::{Store, StoreError, millis};

impl Store {
    /// Takes one of `key`'s allowance of `kind`: `Ok(())`, or how long until one is left.
    pub fn take_allowance(
        &self,
        kind: &str,
        key: &str,
        (burst, every): (u32, Duration),
        now: DateTime<Utc>,
    ) -> Result<Result<(), Duration>, StoreError> {
        let every = every.as_millis().max(1) as i64;
        let slack = every * i64::from(burst.max(1) - 1);
        let now = millis(now);
        let mut conn = self.conn();
        let lock = conn.engine().lock_rows();
        let mut tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO allowances (kind, key, whole_at) VALUES ($1, $2, $3) ON CONFLICT (kind, key) DO NOTHING",
            args![kind, key, now],
        )?;
        let whole_at: i64 = tx.query_one(
            &format!("SELECT whole_at FROM allowances WHERE kind = $1 AND key = $2{lock}"),
            args![kind, key],
            |r| r.get(0),
        )?;
        let whole_at = whole_at.max(now);
        if whole_at - now > slack {
            return Ok(Err(Duration::from_millis((whole_at - now - slack) as u64)));
        }
        tx.execute(
            "UPDATE allowances SET whole_at = $3 WHERE kind = $1 AND key = $2",
            args![kind, key, whole_at + every],
        )?;
        tx.commit()?;
        Ok(Ok(()))
    }
}
