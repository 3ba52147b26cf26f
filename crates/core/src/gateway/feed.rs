//! The worker's side of the desk-wide watch: per profile with `desk_watch = true`, one Autotask
//! query per `ticket_watch_seconds` for every ticket whose last activity is newer than the last
//! look, kept as a numbered list of changes in the store (every worker on it tells the same
//! changes under the same numbers); and `GET /desk/changes` on the worker's listener, where each
//! rep's app (showing its rep token) waits for the changes to its rep's tickets after its
//! cursor. The looks also keep the desk's copy of the tickets ([`super::copy`]), which the feed
//! fills at its first look; and the feed holds the profile's clients the desk's searches
//! ([`super::search`]) and session keys ([`super::keys`]) use.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Extension;
use axum::extract::{ConnectInfo, Query, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use tokio::sync::watch;

use super::CLOCK_OVERLAP;
use super::copy::{COPIED_FIELDS, Copied, CopyError, CopyKeeper, Freshness, KeepError, TicketCopy};
use super::nothing_found::NothingFound;
use super::server::Caller;
use super::webhook::{self, Hook};
use crate::autotask::{self, AutotaskClient, Filter, MAX_PAGE_SIZE, TICKET_COMPLETE, Ticket};
use crate::beyondtrust::BeyondTrustClient;
use crate::config::{DeskRole, Profile, SeedEvent, WorkerConfig};
use crate::desk_api::{Answer, DeskChange, LONGEST_WAIT, Threshold, TicketRow};
use crate::store::{AsyncStore, FoundChange};
use crate::ticket_search::Lookups;

/// A ticket's last activity is the worker's own write when the worker wrote to it no earlier
/// than this before it (Autotask's clock and ours differ a little); a change someone makes after
/// that is told. Should the worker's clock lag Autotask's by more, its own notes are told as
/// changes — a needless notification, never a lost one.
const OWN_WRITE_SKEW: chrono::Duration = chrono::Duration::seconds(10);
/// How often a worker tries to take a profile's desk watch, and its holder checks it still
/// holds it: another worker takes over within this (and the database noticing the holder gone).
const DUTY_EVERY: Duration = Duration::from_secs(2);
/// How far back a look tells changes when the last look of the desk was longer ago (every
/// worker was stopped): the apps hear of the last hour's, not of a week's.
const TOLD_BACK: chrono::Duration = chrono::Duration::hours(1);
/// How often a worker reads the newest change's number from the store, for its apps' long
/// polls to hear of changes another worker's look found.
const NEWEST_EVERY: Duration = Duration::from_secs(1);
/// Callouts kept for a write waiting to read its ticket back (more are dropped from the oldest,
/// and the write reads the ticket from Autotask instead).
const CALLOUTS_WAITING: usize = 256;

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
    /// The searches Autotask lately found nothing for, which the copy did not find either.
    pub(super) nothing_found: NothingFound,
    writes_sessions: bool,
    every: Duration,
    /// The store, which holds the list of changes.
    pub(super) store: AsyncStore,
    /// The profile's desk watch (the looks, the copy's fill, the webhook): one worker's at a time.
    duty: crate::store::Duty,
    /// Whether this worker holds it.
    holds_watch: AtomicBool,
    /// Each ticket's last activity this worker's looks saw, back to the overlap.
    seen: Mutex<HashMap<i64, DateTime<Utc>>>,
    /// The number of the newest change, as this worker last read or made it.
    newest: watch::Sender<u64>,
    /// The desk's copy of its tickets, kept by the looks.
    pub(super) copy: CopyKeeper,
    /// Autotask's ticket webhook for this profile, and where it posts (when the desk takes them).
    hook: Option<(Arc<Hook>, url::Url)>,
    /// Each ticket a callout brought into the copy, for a write of the worker's own that waits
    /// to read it back there.
    pub(super) callouts: tokio::sync::broadcast::Sender<Ticket>,
}

/// Why a profile's feed could not be made.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error(transparent)]
    Autotask(#[from] autotask::Error),
    #[error(transparent)]
    BeyondTrust(#[from] crate::beyondtrust::Error),
    #[error(transparent)]
    Copy(#[from] CopyError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

impl From<KeepError> for FeedError {
    fn from(e: KeepError) -> FeedError {
        match e {
            KeepError::Autotask(e) => FeedError::Autotask(e),
            KeepError::Copy(e) => FeedError::Copy(e),
        }
    }
}

impl Feeds {
    /// The feeds of the enabled profiles that serve the desk-wide watch; their copies of the
    /// tickets live beside the worker's store.
    pub fn new(config: &WorkerConfig, store: &AsyncStore, stopping: watch::Receiver<bool>) -> Result<Feeds, FeedError> {
        let mut by_appliance = HashMap::new();
        for profile in config.profiles.iter().filter(|p| !p.disabled) {
            if let DeskRole::Serves = &profile.desk {
                let feed = Feed::new(profile, config, store)?;
                by_appliance.insert(profile.appliance_id.to_lowercase(), Arc::new(feed));
            }
        }
        Ok(Feeds { by_appliance, stopping: Some(stopping) })
    }

    /// The feed of a profile, by its name.
    pub fn of_profile(&self, profile: &str) -> Option<Arc<Feed>> {
        self.by_appliance.values().find(|f| f.profile.name == profile).cloned()
    }

    /// The feed of an appliance id (as `?appliance=` names it).
    pub fn of_appliance(&self, appliance: &str) -> Option<Arc<Feed>> {
        self.by_appliance.get(&appliance.to_lowercase()).cloned()
    }

    /// How current each profile's copy of the tickets is, by profile name.
    pub async fn freshness(&self) -> Vec<(String, Result<Freshness, CopyError>)> {
        let mut all = Vec::new();
        for feed in self.by_appliance.values() {
            all.push((feed.profile.name.clone(), feed.copy.with(|c| c.freshness()).await));
        }
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// A ticket's primary resource and their role on it, from the profile's copy when it is
    /// filled and holds the ticket: what a session's time needs of its ticket, with no request.
    pub async fn assignment(&self, profile: &str, ticket_id: i64) -> Option<super::copy::Assignment> {
        let feed = self.of_profile(profile)?;
        if !feed.copy.ready() {
            return None;
        }
        feed.copy.with(move |c| c.assignment(ticket_id)).await.ok().flatten()
    }

    /// A ticket's status as the profile's copy holds it, when it is filled and holds the ticket.
    pub async fn status_of(&self, profile: &str, ticket_id: i64) -> Option<i64> {
        let feed = self.of_profile(profile).filter(|f| f.copy.ready())?;
        feed.copy.with(move |c| c.get(ticket_id)).await.ok().flatten()?.status
    }

    /// A ticket the worker itself just changed in Autotask, as it read it back: into the copy
    /// at once, so the reps' searches show the change now and its callout brings nothing new.
    pub async fn wrote(&self, profile: &str, ticket: Ticket) {
        let Some(feed) = self.of_profile(profile).filter(|f| f.copy.ready()) else { return };
        match feed.copy.keep(vec![ticket]).await {
            Ok((before, _)) => feed.hooked(before).await,
            Err(e) => tracing::warn!(profile, "desk watch: a ticket the worker changed could not be kept: {e}"),
        }
    }

    /// The next callouts for one ticket of the profile, where its ticket webhook is on and the
    /// copy filled: a write of the worker's own reads its ticket back from the callout that write
    /// makes, rather than asking Autotask. Taken before the write, so no callout is missed.
    pub fn callouts_of(&self, profile: &str, ticket_id: i64) -> Option<webhook::CalloutWatch> {
        let feed = self.of_profile(profile).filter(|f| f.copy.ready())?;
        let status = feed.hook()?.status();
        (status.registered && status.active).then(|| webhook::CalloutWatch::new(ticket_id, feed.callouts.subscribe()))
    }

    /// A note the worker just wrote to a ticket: its last activity moved on in the copy at once.
    pub async fn touched(&self, profile: &str, ticket_id: i64) {
        let Some(feed) = self.of_profile(profile).filter(|f| f.copy.ready()) else { return };
        let now = Utc::now();
        if let Err(e) = feed.copy.with(move |c| c.touched(ticket_id, now)).await {
            tracing::warn!(profile, "desk watch: a ticket the worker wrote to could not be kept: {e}");
        }
    }

    /// Each profile's ticket webhook, where the desk takes them, by profile name.
    pub fn webhooks(&self) -> Vec<(String, webhook::HookStatus)> {
        let mut all: Vec<_> =
            self.by_appliance.values().filter_map(|f| Some((f.profile.name.clone(), f.hook()?.status()))).collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    pub fn is_empty(&self) -> bool {
        self.by_appliance.is_empty()
    }

    /// Starts each feed's looks at Autotask, and its reading of the newest change, until
    /// `stopped` completes.
    pub fn start_looking<F>(&self, stopped: impl Fn() -> F) -> Vec<tokio::task::JoinHandle<()>>
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let looks = self.by_appliance.values().map(|feed| tokio::spawn(keep_looking(feed.clone(), stopped())));
        let newest = self.by_appliance.values().map(|feed| tokio::spawn(keep_newest(feed.clone(), stopped())));
        looks.chain(newest).collect()
    }

    /// Set when the worker stops.
    pub(super) fn stopping(&self) -> Option<watch::Receiver<bool>> {
        self.stopping.clone()
    }
}

impl Feed {
    fn new(profile: &Profile, config: &WorkerConfig, store: &AsyncStore) -> Result<Feed, FeedError> {
        let autotask = AutotaskClient::new(profile.autotask.clone())?;
        let copy = TicketCopy::of(store, &profile.name)?;
        let copy = CopyKeeper::new(&profile.name, autotask.clone(), copy, config.search_copy, config.lookup_keep)?;
        let newest = store.blocking().desk_watch(&profile.name)?.newest;
        let has_session_ends = |events: &[SeedEvent]| events.contains(&SeedEvent::SupportSessionEnd);
        Ok(Feed {
            profile: profile.clone(),
            autotask,
            beyondtrust: BeyondTrustClient::new(profile.beyondtrust.clone())?,
            lookups: Lookups::kept_for(config.lookup_keep),
            nothing_found: NothingFound::new(config.ticket_watch),
            writes_sessions: has_session_ends(&profile.outbound_event_types)
                || has_session_ends(&profile.polling_event_types),
            every: config.ticket_watch,
            store: store.clone(),
            duty: store.blocking().duty(&format!("desk watch {}", profile.name)),
            holds_watch: AtomicBool::new(false),
            seen: Mutex::default(),
            newest: watch::Sender::new(newest),
            copy,
            hook: webhook_url(config, profile).map(|url| (Arc::new(Hook::default()), url)),
            callouts: tokio::sync::broadcast::Sender::new(CALLOUTS_WAITING),
        })
    }

    /// Remembers whom tickets a webhook (or the worker's own write) brought into the copy were
    /// assigned to before — the first such, in the store, until the next look tells of the
    /// change (a ticket taken from a rep is news to them too).
    pub(super) async fn hooked(&self, before: HashMap<i64, Option<i64>>) {
        let profile = self.profile.name.clone();
        if let Err(e) = self.store.run(move |s| s.note_hooked(&profile, &before)).await {
            tracing::warn!(
                profile = self.profile.name,
                "desk watch: whom a changed ticket was assigned to could not be kept: {e}"
            );
        }
    }

    /// The profile's ticket webhook as this worker knows it, when the desk takes Autotask's webhooks.
    pub(super) fn hook(&self) -> Option<Arc<Hook>> {
        self.hook.as_ref().map(|(hook, _)| hook.clone())
    }

    /// Registers the ticket webhook in Autotask, once the copy is there to keep; once it is,
    /// watches that Autotask has not turned it off.
    async fn register_hook(&self) {
        let Some((hook, url)) = &self.hook else { return };
        if !self.copy.ready() {
            return;
        }
        if hook.status().registered {
            return webhook::watch(self, hook, url).await;
        }
        match webhook::register(self, hook, url).await {
            Ok(()) => {}
            Err(e) => tracing::warn!(
                profile = self.profile.name,
                "desk watch: Autotask's ticket webhook could not be registered ({e}); the looks keep the copy"
            ),
        }
    }

    /// The profile this feed serves.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// Rows from the copy, their statuses named.
    pub(super) async fn rows(&self, copied: Vec<Copied>) -> Result<Vec<TicketRow>, autotask::Error> {
        let fields = self.autotask.fields::<Ticket>().await?;
        let statuses = fields.picklist("status");
        let label = |s: i64| statuses.as_ref().and_then(|p| p.label_of(s)).map(str::to_owned);
        Ok(copied.into_iter().map(|c| c.into_row(label)).collect())
    }

    /// Asks Autotask once for the tickets active since the last look (of any worker on the
    /// store) and keeps those not told yet — completed ones too, for the apps' lists of open
    /// tickets. The desk's first look only remembers; the worker's own writes are not news.
    async fn look(&self) -> Result<usize, FeedError> {
        let autotask = &self.autotask;
        let store = &self.store;
        let started = Utc::now();
        let profile = self.profile.name.clone();
        let last_look = store.run(move |s| s.desk_watch(&profile)).await?.last_look;
        let since = last_look.unwrap_or(started).max(started - TOLD_BACK) - CLOCK_OVERLAP;
        if !self.copy.ready() {
            if let Err(e) = self.copy.fill().await {
                tracing::warn!(profile = self.profile.name, "desk watch: the tickets could not be copied: {e}");
            }
        }
        self.register_hook().await;
        // The statuses' names, for rows from the copy: read now (once a run), not at a rep's search.
        if let Err(e) = autotask.fields::<Ticket>().await {
            tracing::warn!(profile = self.profile.name, "desk watch: the ticket statuses could not be read: {e}");
        }
        // The copy asks back to where it is current (a restarted worker's copy catches up).
        let copy_since = self.copy.with(|c| c.current_since()).await.ok().flatten();
        let asked_since = copy_since.map_or(since, |c| (c - CLOCK_OVERLAP).min(since));
        let query = autotask::Query::new(Filter::gte("lastActivityDate", asked_since.to_rfc3339()))
            .max_records(MAX_PAGE_SIZE)
            .include_fields(COPIED_FIELDS);
        let tickets: Vec<Ticket> = autotask.query_all(query).await?;
        let mut assigned_before = self.copy.keep_looked(tickets.clone(), started).await;
        let profile = self.profile.name.clone();
        match store.run(move |s| s.take_hooked(&profile)).await {
            Ok(hooked) => assigned_before.extend(hooked),
            Err(e) => tracing::warn!(
                profile = self.profile.name,
                "desk watch: whom changed tickets were assigned to could not be read: {e}"
            ),
        }
        self.copy.refresh_names(started).await;
        let profile = self.profile.name.clone();
        let ours = store.run(move |s| s.tickets_written_since(&profile, since)).await.unwrap_or_else(|e| {
            tracing::warn!("the worker's own writes could not be read: {e}");
            Default::default()
        });
        let mut found = Vec::new();
        {
            let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
            for t in tickets {
                let (Some(id), Some(active)) = (t.id, t.last_activity_date) else { continue };
                let our_write = ours.get(&id).is_some_and(|written| *written >= active - OWN_WRITE_SKEW);
                if seen.insert(id, active) == Some(active) || last_look.is_none() || our_write {
                    continue;
                }
                let change = DeskChange {
                    id,
                    number: t.ticket_number.unwrap_or_default(),
                    title: t.title.unwrap_or_default(),
                    assigned: t.assigned_resource_id,
                    open: t.status != Some(TICKET_COMPLETE),
                };
                found.push(FoundChange {
                    change,
                    active,
                    assigned_before: assigned_before.get(&id).copied().flatten(),
                });
            }
            seen.retain(|_, active| *active >= since - CLOCK_OVERLAP);
        }
        let threshold = autotask.usage().map(|u| Threshold { used: u.used, limit: u.limit });
        let profile = self.profile.name.clone();
        // Changes another worker's look told already (the same last activity) are not told again.
        let told = store.run(move |s| s.record_look(&profile, &found, started, threshold)).await?;
        self.read_newest().await;
        Ok(told)
    }

    /// Tries to hold the profile's desk watch (or checks it still holds it); says so in the log
    /// when that changes.
    async fn try_duty(self: &Arc<Self>) -> bool {
        let feed = self.clone();
        let held = self.store.run(move |s| feed.duty.hold(s)).await.unwrap_or_else(|e| {
            tracing::warn!(profile = self.profile.name, "desk watch: could not ask the store who looks: {e}");
            false
        });
        if self.holds_watch.swap(held, Ordering::AcqRel) != held {
            match held {
                true => tracing::info!(
                    profile = self.profile.name,
                    "desk watch: this worker looks at Autotask for the desk"
                ),
                false => {
                    tracing::warn!(profile = self.profile.name, "desk watch: another worker looks for the desk now")
                }
            }
        }
        held
    }

    /// Reads the newest change's number from the store, waking the long polls it is news to;
    /// while the copy is not filled, whether another worker filled it.
    async fn read_newest(&self) {
        self.copy.notice_filled().await;
        let profile = self.profile.name.clone();
        match self.store.run(move |s| s.desk_watch(&profile)).await {
            Ok(state) => {
                self.newest.send_if_modified(|n| std::mem::replace(n, state.newest) != state.newest);
            }
            Err(e) => {
                tracing::warn!(profile = self.profile.name, "desk watch: the list of changes could not be read: {e}")
            }
        }
    }

    /// What rep `me` (their resource id) asking from `after` gets: the changes after it to their
    /// tickets — those theirs now, and those taken from them (their list of open tickets changes
    /// too) — or, for a cursor of another list or none, only where to go on from. No rep learns
    /// of another's tickets.
    async fn answer(&self, after: Option<u64>, me: i64) -> Result<Answer, crate::store::StoreError> {
        let profile = self.profile.name.clone();
        let (state, changes) = self
            .store
            .run(move |s| {
                let state = s.desk_watch(&profile)?;
                let changes = match after {
                    Some(after) => s.desk_changes_after(&profile, after, me)?,
                    None => Vec::new(),
                };
                Ok((state, changes))
            })
            .await?;
        Ok(Answer {
            me: Some(me),
            cursor: format!("{:x}.{}", state.epoch, state.newest),
            changes,
            writes_sessions: self.writes_sessions,
            every_seconds: self.every.as_secs(),
            threshold: state.threshold,
        })
    }

    /// The change number a cursor stands for, when it is of this store's list.
    async fn position(&self, cursor: &str) -> Option<u64> {
        let (epoch, n) = cursor.split_once('.')?;
        let epoch = u64::from_str_radix(epoch, 16).ok()?;
        let profile = self.profile.name.clone();
        let state = self.store.run(move |s| s.desk_watch(&profile)).await.ok()?;
        (epoch == state.epoch).then(|| n.parse().ok()).flatten()
    }
}

/// Reads the newest change's number every [`NEWEST_EVERY`], so the long polls at this worker
/// hear of what another worker's look found.
async fn keep_newest(feed: Arc<Feed>, stopped: impl std::future::Future<Output = ()>) {
    tokio::pin!(stopped);
    let mut ticks = tokio::time::interval(NEWEST_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            _ = ticks.tick() => feed.read_newest().await,
        }
    }
}

/// Looks at Autotask every `ticket_watch_seconds` while this worker holds the profile's desk
/// watch; tries to take it (or checks it still holds it) every [`DUTY_EVERY`], and looks at once
/// when it takes it over.
async fn keep_looking(feed: Arc<Feed>, stopped: impl std::future::Future<Output = ()>) {
    tokio::pin!(stopped);
    // Looks start every interval (not an interval after the last one ended), so a change is
    // told within `ticket_watch_seconds` of being made.
    let mut ticks = tokio::time::interval(feed.every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut tries = tokio::time::interval(DUTY_EVERY);
    tries.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let held = feed.holds_watch.load(Ordering::Acquire);
        tokio::select! {
            _ = &mut stopped => break,
            _ = tries.tick() => {
                if feed.try_duty().await && !held {
                    ticks.reset_immediately();
                }
                continue;
            }
            _ = ticks.tick(), if held => {}
        }
        match feed.look().await {
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

/// `GET /desk/changes`: the caller's rep's changes after `after=`, waiting up to `wait=` seconds
/// — or until the rep's token stops working (revoked), which ends the wait with a refusal.
pub(super) async fn changes(
    State(feeds): State<Feeds>,
    Extension(caller): Extension<Caller>,
    ConnectInfo(remote): ConnectInfo<std::net::SocketAddr>,
    Query(ask): Query<Ask>,
) -> Response {
    let feed = caller.feed.clone();
    let after = match ask.after.as_deref() {
        Some(cursor) => feed.position(cursor).await,
        None => None,
    };
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
            _ = caller.revoked() => return super::refusal::Refusal::Token.answer(remote.ip()),
        }
    }
    match feed.answer(after, caller.rep.resource_id).await {
        Ok(answer) => axum::Json(answer).into_response(),
        Err(e) => super::refusal::Refusal::Store(e.to_string()).answer(remote.ip()),
    }
}

/// Where Autotask posts a profile's ticket callouts: on the desk's own address, when the desk
/// takes webhooks and has one.
fn webhook_url(config: &WorkerConfig, profile: &Profile) -> Option<url::Url> {
    if !config.autotask_webhooks {
        return None;
    }
    let mut url = config.desk_url()?.join(webhook::PATH.trim_start_matches('/')).ok()?;
    url.query_pairs_mut().append_pair("appliance", &profile.appliance_id);
    Some(url)
}
