//! Polling, the seed's alternative to outbound events: every `polling_interval_minutes`, ask the
//! appliance which sessions ended since the watermark and queue a "session end" job for each.
//! The watermark moves in the same transaction that stores the jobs, so a crash never skips a
//! session; a lookback before the watermark catches reports that were late to show their end.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use crate::beyondtrust::{self, BeyondTrustClient};
use crate::config::{Profile, SeedEvent};
use crate::store::{AsyncStore, JobState, NewEvent, Source, StoreError};

/// How far before the watermark each poll looks again (reports can lag a session's end).
pub const LOOKBACK: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error(transparent)]
    Appliance(#[from] beyondtrust::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Which sessions a poller takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every session (the headless worker serving a whole desk).
    AllSessions,
    /// Only sessions whose primary rep has this BeyondTrust username: a rep's own desktop, so
    /// that many reps' embedded workers never compete for the same session.
    PrimaryRep(String),
}

/// The job body for a polled session end, in the outbound event's own form.
fn body(lsid: &str, ended: DateTime<Utc>) -> String {
    format!("event=support_conference_end&lsid={lsid}&timestamp={}", ended.timestamp())
}

/// One poll for a profile: queues the sessions that ended since the watermark; returns how many
/// were new. A profile that does not poll for session ends does nothing.
pub async fn poll_once(
    profile: &Profile,
    appliance: &BeyondTrustClient,
    store: &AsyncStore,
    scope: &Scope,
    now: DateTime<Utc>,
) -> Result<usize, PollError> {
    if !profile.polling_event_types.contains(&SeedEvent::SupportSessionEnd) {
        return Ok(0);
    }
    let name = profile.name.clone();
    let watermark = store.run(move |s| s.watermark(&name)).await?;
    let interval = Duration::from_secs(60 * u64::from(profile.polling_interval_minutes.unwrap_or(5)));
    // The first poll starts one interval back; later ones where the last left off, less the lookback.
    let since = match watermark {
        Some(mark) => mark - chrono::Duration::from_std(LOOKBACK).unwrap_or_default(),
        None => now - chrono::Duration::from_std(interval).unwrap_or_default(),
    };
    let ended: Vec<(String, DateTime<Utc>)> = match scope {
        Scope::AllSessions => appliance
            .session_listing(since, Duration::ZERO)
            .await?
            .into_iter()
            .filter_map(|s| s.end_time.map(|end| (s.lsid.into(), end)))
            .collect(),
        // The listing does not name the rep: read the window's reports and keep this rep's.
        Scope::PrimaryRep(username) => appliance
            .support_sessions(since, Duration::ZERO)
            .await?
            .into_iter()
            .filter(|s| {
                s.primary_representative()
                    .and_then(|r| r.username.as_deref())
                    .is_some_and(|u| u.eq_ignore_ascii_case(username))
            })
            .filter_map(|s| s.end_time.map(|end| (s.lsid.into(), end)))
            .collect(),
    };
    let newest = ended.iter().map(|(_, end)| *end).max();
    let events: Vec<NewEvent> = ended
        .into_iter()
        .map(|(lsid, end)| NewEvent {
            profile: profile.name.clone(),
            source: Source::Polling,
            event: "support_conference_end".to_owned(),
            dedupe_key: format!("{}|polled-end|{lsid}", profile.name),
            body: body(&lsid, end),
            lsid: Some(lsid),
            remote_addr: None,
            job: JobState::Pending,
            note: None,
        })
        .collect();
    let mark = newest.unwrap_or(since.max(watermark.unwrap_or(since)));
    let name = profile.name.clone();
    Ok(store.run(move |s| s.accept_polled(&name, &events, mark, now)).await?)
}

/// Polls every interval — and at once when `poke` is sent to, even mid-poll — until `shutdown`
/// completes, waking the worker when there is new work.
pub async fn run(
    profile: Profile,
    appliance: BeyondTrustClient,
    store: AsyncStore,
    scope: Scope,
    (wake, mut poke): (Arc<Notify>, tokio::sync::watch::Receiver<()>),
    shutdown: impl std::future::Future<Output = ()>,
) {
    let interval = Duration::from_secs(60 * u64::from(profile.polling_interval_minutes.unwrap_or(5)));
    tokio::pin!(shutdown);
    loop {
        match poll_once(&profile, &appliance, &store, &scope, Utc::now()).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(profile = profile.name, "polling queued {n} finished session(s)");
                wake.notify_one();
            }
            Err(e) => tracing::warn!(profile = profile.name, "polling failed, trying again next interval: {e}"),
        }
        tokio::select! {
            _ = &mut shutdown => return,
            Ok(()) = poke.changed() => {}
            _ = tokio::time::sleep(interval) => {}
        }
    }
}
