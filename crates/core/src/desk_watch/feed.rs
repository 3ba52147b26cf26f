//! The worker's side of the desk-wide watch: per profile with `desk_watch = true`, one Autotask
//! query per `ticket_watch_seconds` for every ticket whose last activity is newer than the last
//! look, kept as a numbered list of changes; and `GET /desk/changes` on the worker's
//! listener, where each rep's app (showing its rep token) waits for the changes to its rep's
//! tickets after its cursor. The feed also keeps a copy of the desk's open tickets, current as of
//! its last look, and holds the profile's clients the desk's searches ([`super::search`]) and
//! session keys ([`super::keys`]) use.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Extension;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use serde::Deserialize;
use tokio::sync::watch;

use crate::autotask::{self, AutotaskClient, Filter, Ticket};
use crate::beyondtrust::BeyondTrustClient;
use crate::config::{DeskRole, Profile, SeedEvent, WorkerConfig};
use crate::desk::Lookups;
use crate::desk_api::{Answer, DeskChange, LONGEST_WAIT, Threshold};
use crate::store::AsyncStore;

/// The ticket status Autotask uses for "Complete".
const COMPLETE: i64 = 5;
/// Each look also reaches this far behind the last one's start, for Autotask's clock being a
/// little behind ours; what was already told is not told again.
const OVERLAP: chrono::Duration = chrono::Duration::minutes(2);
/// A ticket's last activity is the worker's own write when the worker wrote to it no earlier
/// than this before it (Autotask's clock and ours differ a little); a change someone makes after
/// that is told. Should the worker's clock lag Autotask's by more, its own notes are told as
/// changes — a needless notification, never a lost one.
const OWN_WRITE_SKEW: chrono::Duration = chrono::Duration::seconds(10);
/// Most changes kept for apps that were away.
const KEPT: usize = 5_000;
/// Most open tickets copied; a database with more is asked for each rep's open tickets.
const OPEN_COPIED: usize = 20_000;

/// The rep a request's token proved, and their profile's feed.
#[derive(Debug, Clone)]
pub struct Caller {
    pub rep: Arc<crate::store::Rep>,
    pub feed: Arc<Feed>,
}

/// Every profile's feed, by appliance id (as `/ERSPost?appliance=` names them).
#[derive(Debug, Clone, Default)]
pub struct Feeds {
    by_appliance: HashMap<String, Arc<Feed>>,
    /// Set when the worker stops, so that waiting requests end at once.
    stopping: Option<watch::Receiver<bool>>,
}

/// One profile's changes, and what its searches for the desk looked up.
#[derive(Debug)]
pub struct Feed {
    profile: Profile,
    /// The worker's client for this profile: its looks, the desk's searches, one threshold.
    pub(super) autotask: AutotaskClient,
    /// The worker's appliance client for this profile: the reps' session keys.
    pub(super) beyondtrust: BeyondTrustClient,
    /// Companies, contacts and devices looked up for any rep's search, for every rep's next.
    pub(super) lookups: Lookups,
    writes_sessions: bool,
    every: Duration,
    /// Tells a restarted worker's cursors from the last run's.
    epoch: u64,
    state: Mutex<Kept>,
    /// The number of the newest change.
    newest: watch::Sender<u64>,
    /// The threshold as last read by this feed's client.
    threshold: Mutex<Option<Threshold>>,
    /// The desk's open tickets as of the last look: "my open tickets" without asking Autotask.
    open: Mutex<OpenCopy>,
}

/// The feed's copy of every open ticket.
#[derive(Debug, Default)]
enum OpenCopy {
    /// Made at the first look (again at the next after a failure).
    #[default]
    NotYet,
    Kept(HashMap<i64, Ticket>),
    /// More than [`OPEN_COPIED`] open tickets: not copied.
    TooMany,
}

#[derive(Debug, Default)]
struct Kept {
    /// Each change with the ticket's primary resource before it (a ticket taken from a rep is
    /// news to them too).
    changes: VecDeque<(u64, DeskChange, Option<i64>)>,
    /// Each ticket's last activity already seen, back to the overlap.
    seen: HashMap<i64, DateTime<Utc>>,
    /// When the last look started (none before the first).
    last_look: Option<DateTime<Utc>>,
}

/// Why a profile's feed could not be made.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error(transparent)]
    Autotask(#[from] autotask::Error),
    #[error(transparent)]
    BeyondTrust(#[from] crate::beyondtrust::Error),
}

impl Feeds {
    /// The feeds of the enabled profiles that serve the desk-wide watch.
    pub fn new(config: &WorkerConfig, stopping: watch::Receiver<bool>) -> Result<Feeds, FeedError> {
        let mut by_appliance = HashMap::new();
        for profile in config.profiles.iter().filter(|p| !p.disabled) {
            if let DeskRole::Serves = &profile.desk {
                let feed = Feed::new(profile, config)?;
                by_appliance.insert(profile.appliance_id.to_lowercase(), Arc::new(feed));
            }
        }
        Ok(Feeds { by_appliance, stopping: Some(stopping) })
    }

    /// The feed of a profile, by its name.
    pub fn of_profile(&self, profile: &str) -> Option<Arc<Feed>> {
        self.by_appliance.values().find(|f| f.profile.name == profile).cloned()
    }

    pub fn is_empty(&self) -> bool {
        self.by_appliance.is_empty()
    }

    /// Starts each feed's looks at Autotask, until `stopped` completes.
    pub fn start_looking<F>(&self, store: &AsyncStore, stopped: impl Fn() -> F) -> Vec<tokio::task::JoinHandle<()>>
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        self.by_appliance
            .values()
            .map(|feed| tokio::spawn(keep_looking(feed.clone(), store.clone(), stopped())))
            .collect()
    }

    /// Set when the worker stops.
    pub(super) fn stopping(&self) -> Option<watch::Receiver<bool>> {
        self.stopping.clone()
    }
}

impl Feed {
    fn new(profile: &Profile, config: &WorkerConfig) -> Result<Feed, FeedError> {
        let has_session_ends = |events: &[SeedEvent]| events.contains(&SeedEvent::SupportSessionEnd);
        Ok(Feed {
            profile: profile.clone(),
            autotask: AutotaskClient::new(profile.autotask.clone())?,
            beyondtrust: BeyondTrustClient::new(profile.beyondtrust.clone())?,
            lookups: Lookups::kept_for(config.lookup_keep),
            writes_sessions: has_session_ends(&profile.outbound_event_types)
                || has_session_ends(&profile.polling_event_types),
            every: config.ticket_watch,
            epoch: rand::random::<u64>() >> 12,
            state: Mutex::new(Kept::default()),
            newest: watch::Sender::new(0),
            threshold: Mutex::new(None),
            open: Mutex::new(OpenCopy::NotYet),
        })
    }

    /// The profile this feed serves.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    fn open(&self) -> std::sync::MutexGuard<'_, OpenCopy> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Copies every open ticket (at the first look; the look that follows brings in what changed
    /// meanwhile).
    async fn copy_open_tickets(&self) {
        let query = autotask::Query::new(Filter::noteq("status", COMPLETE));
        let tickets: Result<Vec<Ticket>, _> = self.autotask.query(query).take(OPEN_COPIED + 1).try_collect().await;
        *self.open() = match tickets {
            Ok(tickets) if tickets.len() > OPEN_COPIED => {
                tracing::info!(
                    profile = self.profile.name,
                    "desk watch: more than {OPEN_COPIED} open tickets, not copied"
                );
                OpenCopy::TooMany
            }
            Ok(tickets) => OpenCopy::Kept(tickets.into_iter().filter_map(|t| Some((t.id?, t))).collect()),
            Err(e) => {
                tracing::warn!(profile = self.profile.name, "desk watch: the open tickets could not be copied: {e}");
                OpenCopy::NotYet
            }
        };
    }

    /// A rep's open tickets and those of `recent` that are open, from the copy; with the ids of
    /// `recent` it does not have (completed ones). `None` while there is no copy.
    pub(super) fn open_tickets_of(&self, me: i64, recent: &[i64]) -> Option<(Vec<Ticket>, Vec<i64>)> {
        let open = self.open();
        let OpenCopy::Kept(copy) = &*open else { return None };
        let mut tickets: Vec<Ticket> = copy.values().filter(|t| t.assigned_resource_id == Some(me)).cloned().collect();
        let mut missing = Vec::new();
        for id in recent {
            match copy.get(id) {
                Some(t) if t.assigned_resource_id != Some(me) => tickets.push(t.clone()),
                Some(_) => {}
                None => missing.push(*id),
            }
        }
        Some((tickets, missing))
    }

    /// An open ticket, by id, from the copy.
    pub(super) fn open_ticket(&self, id: i64) -> Option<Ticket> {
        match &*self.open() {
            OpenCopy::Kept(copy) => copy.get(&id).cloned(),
            _ => None,
        }
    }

    /// The open ticket of a whole number (`T<yyyymmdd>.<nnnn>`, which no other number begins
    /// with), from the copy; `None` when it is not there (completed, or newer than the last look).
    pub(super) fn open_ticket_numbered(&self, number: &str) -> Option<Ticket> {
        let whole = number.len() == 14
            && number.as_bytes()[9] == b'.'
            && number.bytes().enumerate().all(|(i, b)| i == 0 || i == 9 || b.is_ascii_digit());
        let open = self.open();
        let OpenCopy::Kept(copy) = &*open else { return None };
        let numbered = |t: &&Ticket| t.ticket_number.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(number));
        whole.then(|| copy.values().find(numbered).cloned()).flatten()
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Asks Autotask once for the tickets active since the last look and keeps those not told
    /// yet — completed ones too, for the apps' lists of open tickets. The first look only
    /// remembers; the worker's own writes are not news.
    async fn look(&self, store: &AsyncStore) -> Result<usize, autotask::Error> {
        let autotask = &self.autotask;
        let started = Utc::now();
        let last_look = self.kept().last_look;
        let since = last_look.unwrap_or(started) - OVERLAP;
        if matches!(*self.open(), OpenCopy::NotYet) {
            self.copy_open_tickets().await;
        }
        // Whole tickets, for the copy of the open ones.
        let query = autotask::Query::new(Filter::gte("lastActivityDate", since.to_rfc3339()));
        let tickets: Vec<Ticket> = autotask.query_all(query).await?;
        let assigned_before = self.keep_open(&tickets);
        let profile = self.profile.name.clone();
        let ours = store.run(move |s| s.tickets_written_since(&profile, since)).await.unwrap_or_else(|e| {
            tracing::warn!("the worker's own writes could not be read: {e}");
            Default::default()
        });
        let mut kept = self.kept();
        let mut newest = *self.newest.borrow();
        let mut told = 0;
        for t in tickets {
            let (Some(id), Some(active)) = (t.id, t.last_activity_date) else { continue };
            let our_write = ours.get(&id).is_some_and(|written| *written >= active - OWN_WRITE_SKEW);
            if kept.seen.insert(id, active) == Some(active) || last_look.is_none() || our_write {
                continue;
            }
            newest += 1;
            told += 1;
            let change = DeskChange {
                id,
                number: t.ticket_number.unwrap_or_default(),
                title: t.title.unwrap_or_default(),
                assigned: t.assigned_resource_id,
                open: t.status != Some(COMPLETE),
            };
            kept.changes.push_back((newest, change, assigned_before.get(&id).copied().flatten()));
        }
        while kept.changes.len() > KEPT {
            kept.changes.pop_front();
        }
        kept.seen.retain(|_, active| *active >= since - OVERLAP);
        kept.last_look = Some(started);
        drop(kept);
        *self.threshold.lock().unwrap_or_else(|e| e.into_inner()) =
            autotask.usage().map(|u| Threshold { used: u.used, limit: u.limit });
        self.newest.send_replace(newest);
        Ok(told)
    }

    /// Brings the copy of the open tickets up to what a look found; returns each copied
    /// ticket's primary resource before the look.
    fn keep_open(&self, tickets: &[Ticket]) -> HashMap<i64, Option<i64>> {
        let mut before = HashMap::new();
        let mut open = self.open();
        let OpenCopy::Kept(copy) = &mut *open else { return before };
        for t in tickets {
            let Some(id) = t.id else { continue };
            let was = if t.status == Some(COMPLETE) { copy.remove(&id) } else { copy.insert(id, t.clone()) };
            if let Some(was) = was {
                before.insert(id, was.assigned_resource_id);
            }
        }
        before
    }

    /// What rep `me` (their resource id) asking from `after` gets: the changes after it to their
    /// tickets — those theirs now, and those taken from them (their list of open tickets changes
    /// too) — or, for a cursor of another run or none, only where to go on from. No rep learns of
    /// another's tickets.
    fn answer(&self, after: Option<u64>, me: i64) -> Answer {
        let newest = *self.newest.borrow();
        let theirs = |c: &DeskChange, before: &Option<i64>| c.assigned == Some(me) || *before == Some(me);
        let changes = match after {
            Some(after) => self
                .kept()
                .changes
                .iter()
                .filter(|(n, c, before)| *n > after && theirs(c, before))
                .map(|(_, c, _)| c.clone())
                .collect(),
            None => Vec::new(),
        };
        Answer {
            me: Some(me),
            cursor: format!("{:x}.{newest}", self.epoch),
            changes,
            writes_sessions: self.writes_sessions,
            every_seconds: self.every.as_secs(),
            threshold: *self.threshold.lock().unwrap_or_else(|e| e.into_inner()),
        }
    }

    /// The change number a cursor stands for, when it is of this run.
    fn position(&self, cursor: &str) -> Option<u64> {
        let (epoch, n) = cursor.split_once('.')?;
        (u64::from_str_radix(epoch, 16).ok()? == self.epoch).then(|| n.parse().ok()).flatten()
    }
}

async fn keep_looking(feed: Arc<Feed>, store: AsyncStore, stopped: impl std::future::Future<Output = ()>) {
    tokio::pin!(stopped);
    // Looks start every interval (not an interval after the last one ended), so a change is
    // told within `ticket_watch_seconds` of being made.
    let mut ticks = tokio::time::interval(feed.every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            _ = ticks.tick() => {}
        }
        match feed.look(&store).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(profile = feed.profile.name, "desk watch: {n} ticket(s) changed"),
            Err(e) => {
                tracing::warn!(profile = feed.profile.name, "desk watch: could not look at the desk's tickets: {e}")
            }
        }
    }
}

/// What an app asks `/desk/changes` (an `appliance=` it names is not used: the rep's token says
/// which profile is theirs).
#[derive(Debug, Deserialize)]
pub(super) struct Ask {
    after: Option<String>,
    /// Seconds to wait for news.
    wait: Option<u64>,
}

/// `GET /desk/changes`: the caller's rep's changes after `after=`, waiting up to `wait=` seconds.
pub(super) async fn changes(
    State(feeds): State<Feeds>,
    Extension(caller): Extension<Caller>,
    Query(ask): Query<Ask>,
) -> Response {
    let feed = caller.feed;
    let after = ask.after.as_deref().and_then(|c| feed.position(c));
    let wait = Duration::from_secs(ask.wait.unwrap_or(0)).min(LONGEST_WAIT);
    if let Some(after) = after
        && !wait.is_zero()
    {
        let mut newest = feed.newest.subscribe();
        let mut stopping = feeds.stopping();
        let stopped = async move {
            match stopping.as_mut() {
                Some(s) => drop(s.wait_for(|stop| *stop).await),
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::time::timeout(wait, newest.wait_for(|n| *n > after)) => {}
            _ = stopped => {}
        }
    }
    axum::Json(feed.answer(after, caller.rep.resource_id)).into_response()
}
