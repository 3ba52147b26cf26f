//! What the workers on a store share of a profile's ticket webhook, so that a callout the
//! balancer hands to any of them is verified and taken once: the webhook's secret and
//! deactivation key (sealed, [`super::sealed`]), the callouts already taken (a replay is refused
//! at every worker), whether Autotask said it turned the webhook off, and whom a ticket a
//! callout changed was assigned to before, until the next look tells of the change.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::db::{Sql, args};
use super::{Store, StoreError, millis};
use crate::Secret;

/// A webhook's secret (signs each callout) and deactivation key (proves a deactivation call).
#[derive(Debug, Clone)]
pub struct WebhookKeys {
    pub secret: Secret,
    pub deactivation_key: Secret,
}

const SECRET: &str = "ticket webhook's secret";
const DEACTIVATION_KEY: &str = "ticket webhook's deactivation key";

impl Store {
    /// The keys of `profile`'s webhook, when a worker made them.
    pub fn webhook_keys(&self, profile: &str) -> Result<Option<WebhookKeys>, StoreError> {
        let sealed: Option<(Vec<u8>, Vec<u8>)> = self.conn().query_opt(
            "SELECT secret, deactivation_key FROM webhooks WHERE profile = $1",
            args![profile],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let Some((secret, key)) = sealed else { return Ok(None) };
        Ok(Some(WebhookKeys {
            secret: self.unseal(SECRET, &secret)?,
            deactivation_key: self.unseal(DEACTIVATION_KEY, &key)?,
        }))
    }

    /// Keeps `keys` as `profile`'s webhook's, unless a worker kept some first; returns those kept.
    pub fn keep_webhook_keys(
        &self,
        profile: &str,
        keys: &WebhookKeys,
        now: DateTime<Utc>,
    ) -> Result<WebhookKeys, StoreError> {
        let (secret, key) = (self.seal(SECRET, &keys.secret)?, self.seal(DEACTIVATION_KEY, &keys.deactivation_key)?);
        self.conn().execute(
            "INSERT INTO webhooks (profile, secret, deactivation_key, made_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (profile) DO NOTHING",
            args![profile, secret, key, millis(now)],
        )?;
        self.webhook_keys(profile)?.ok_or_else(|| StoreError::Sealed(format!("the {SECRET} was not kept")))
    }

    /// Whether a callout's body (its digest) is taken for the first time; bodies taken longer ago
    /// than `remembered` are forgotten (a replay of one is refused by its age).
    pub fn first_callout(
        &self,
        digest: &[u8; 32],
        now: DateTime<Utc>,
        remembered: chrono::Duration,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        conn.execute("DELETE FROM webhook_taken WHERE at < $1", args![millis(now - remembered)])?;
        let taken = conn.execute(
            "INSERT INTO webhook_taken (digest, at) VALUES ($1, $2) ON CONFLICT (digest) DO NOTHING",
            args![digest, millis(now)],
        )?;
        Ok(taken == 1)
    }

    /// Autotask said it turned `profile`'s webhook off (to whichever worker): the looker asks it.
    pub fn webhook_told_off(&self, profile: &str) -> Result<(), StoreError> {
        self.conn().execute("UPDATE webhooks SET told_off = $2 WHERE profile = $1", args![profile, true])?;
        Ok(())
    }

    /// Whether Autotask said it turned the webhook off since last asked; no longer after this.
    pub fn take_webhook_told_off(&self, profile: &str) -> Result<bool, StoreError> {
        let changed = self.conn().execute(
            "UPDATE webhooks SET told_off = $2 WHERE profile = $1 AND told_off = $3",
            args![profile, false, true],
        )?;
        Ok(changed > 0)
    }

    /// Whom tickets a callout changed were assigned to before (the first such, until the next
    /// look takes them).
    pub fn note_hooked(&self, profile: &str, before: &HashMap<i64, Option<i64>>) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let mut tx = conn.transaction()?;
        for (ticket, assigned) in before {
            tx.execute(
                "INSERT INTO desk_hooked (profile, ticket_id, assigned_before) VALUES ($1, $2, $3)
                 ON CONFLICT (profile, ticket_id) DO NOTHING",
                args![profile, ticket, assigned],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// What [`Store::note_hooked`] noted, forgotten as it is taken.
    pub fn take_hooked(&self, profile: &str) -> Result<HashMap<i64, Option<i64>>, StoreError> {
        let hooked: Vec<(i64, Option<i64>)> = self.conn().query(
            "DELETE FROM desk_hooked WHERE profile = $1 RETURNING ticket_id, assigned_before",
            args![profile],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(hooked.into_iter().collect())
    }
}
