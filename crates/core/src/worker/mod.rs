//! The worker: takes stored jobs in order of their due time and writes each finished session
//! into its Autotask ticket — notes, exit surveys, a time entry — retrying as the profile says.
//!
//! Exactly once: every write is recorded in the ledger with the id Autotask gave it. A job that
//! runs again (after a failure, or a crash between a write and its record) first looks for the
//! write's marker on the ticket, and only writes what is not there.

mod author;
mod session_end;
mod status;
mod surveys;
mod ticket_creation;
mod tickets;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::autotask::{self, AutotaskClient};
use crate::beyondtrust::{self, BeyondTrustClient, EventType, OutboundEvent, parse_event};
use crate::config::{DeskRole, Profile, SeedEvent, WorkerConfig};
use crate::render::{RenderError, Renderer};
use crate::store::{ActivityLine, AsyncStore, Job, JobState, Source, StoreError};

pub use author::{LISTED_DAYS as REFUSED_LISTED_DAYS, WHAT_TO_CHANGE};
pub use session_end::{NEW_TICKET, attach_target};
pub use tickets::{TicketRef, parse_external_key};

/// How a job ended.
#[derive(Debug)]
enum Outcome {
    /// Written; the summary says what and where in a rep's words, `wrote` exactly what
    /// ("a note and a time entry") for the details line.
    Done { summary: String, wrote: String, ticket_id: Option<i64> },
    /// Nothing to do, for a reason a person may want to see (no ticket, …).
    Skipped(String),
    /// Nothing to do, routinely (a session already tied to a ticket joined by a rep): no activity line.
    Quiet(String),
}

/// Why a job did not finish.
#[derive(Debug)]
enum Failure {
    /// May work later without anyone changing anything (network, 5xx, threshold).
    Transient(String),
    /// Needs a person (bad settings, a missing role, a rejected write).
    Permanent(String),
    /// The report does not show the session's end yet; it lags the end event.
    NotReady(String),
}

impl From<autotask::Error> for Failure {
    fn from(e: autotask::Error) -> Failure {
        // A write whose answer was lost is safe to try again: the marker search finds it.
        if e.is_transient() || e.kind == autotask::ErrorKind::Ambiguous {
            Failure::Transient(e.to_string())
        } else {
            Failure::Permanent(e.to_string())
        }
    }
}

/// A failed write, said with what was being written: a refusal in Autotask's words and what to
/// fix (never retried — the same request would be refused again), anything else as usual.
fn refused(what: impl FnOnce() -> String, e: autotask::Error) -> Failure {
    if e.kind == autotask::ErrorKind::Rejected {
        Failure::Permanent(format!("Autotask refused {}: {}", what(), e.reason()))
    } else {
        e.into()
    }
}

impl From<beyondtrust::Error> for Failure {
    fn from(e: beyondtrust::Error) -> Failure {
        if e.is_transient() { Failure::Transient(e.to_string()) } else { Failure::Permanent(e.to_string()) }
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Failure {
        Failure::Transient(e.to_string())
    }
}

impl From<RenderError> for Failure {
    fn from(e: RenderError) -> Failure {
        Failure::Permanent(e.to_string())
    }
}

/// How long the worker waits at most before looking at the store again: another process
/// (`bt-autotask-worker retry`, `attach`) may have queued a job it was not told about.
const IDLE_LOOK: Duration = Duration::from_secs(5);
/// How long the worker waits before looking again when a job is due but could not be handed
/// out (another job of its session runs, under this worker's claim or another's).
const BLOCKED_LOOK: Duration = Duration::from_millis(250);
/// How often the worker renews its claims on the jobs it runs: three times within a claim's
/// lease, so a slow store never lets one lapse under a living worker.
const RENEW_CLAIMS_EVERY: Duration = Duration::from_secs(5);

/// Timing of retries; the defaults suit production, tests shorten them.
#[derive(Debug, Clone)]
pub struct Timing {
    /// First retry delay after a transient failure; doubled each time, at most `retry_max`.
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// Wait between looks at a report that does not show the session's end yet.
    pub report_lag_wait: Duration,
    /// How many such looks before giving up.
    pub report_lag_tries: u32,
    /// Jobs processed at once.
    pub concurrency: usize,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            retry_base: Duration::from_secs(30),
            retry_max: Duration::from_secs(3600),
            report_lag_wait: Duration::from_secs(5),
            report_lag_tries: 24,
            concurrency: 4,
        }
    }
}

/// What one profile works with.
#[derive(Debug)]
struct ProfileClients {
    profile: Profile,
    beyondtrust: BeyondTrustClient,
    autotask: AutotaskClient,
    renderer: Renderer,
}

/// A session the desk's worker meets this long after its event may have been taken over by an app.
const LATE: chrono::Duration = chrono::Duration::minutes(5);

#[derive(Debug, Clone)]
pub struct Worker {
    profiles: Arc<HashMap<String, Arc<ProfileClients>>>,
    store: AsyncStore,
    wake: Arc<Notify>,
    timing: Timing,
    /// What each running job has learnt for its activity line, by job id.
    told: Arc<std::sync::Mutex<HashMap<i64, Told>>>,
    /// When this worker started: a desk's worker meeting a session that ended before then may
    /// find it written by a rep's app that took over meanwhile.
    started: chrono::DateTime<Utc>,
    /// The desk's copies of the tickets, where this worker keeps them: a ticket's assignment
    /// is read there rather than asked of Autotask.
    copies: Option<crate::gateway::feed::Feeds>,
}

/// What a job's activity line names, as its handler learns it: the session (who and how long)
/// and its ticket — so a failure says which session and ticket it was for.
#[derive(Debug, Clone, Default)]
struct Told {
    /// "Pat Lee (Dynamo Corporation, 25 min)".
    session: Option<String>,
    /// The session's primary rep (BeyondTrust username).
    rep: Option<String>,
    ticket_id: Option<i64>,
}

/// A profile whose clients or templates cannot be built.
#[derive(Debug, thiserror::Error)]
#[error("profile '{profile}': {message}")]
pub struct SetupError {
    pub profile: String,
    pub message: String,
}

impl Worker {
    /// Builds the clients and templates of every enabled profile.
    pub fn new(
        config: &WorkerConfig,
        store: AsyncStore,
        wake: Arc<Notify>,
        timing: Timing,
    ) -> Result<Worker, SetupError> {
        let mut profiles = HashMap::new();
        for profile in config.profiles.iter().filter(|p| !p.disabled) {
            let setup = |message: String| SetupError { profile: profile.name.clone(), message };
            let beyondtrust = BeyondTrustClient::new(profile.beyondtrust.clone()).map_err(|e| setup(e.to_string()))?;
            let autotask = AutotaskClient::new(profile.autotask.clone()).map_err(|e| setup(e.to_string()))?;
            let renderer = Renderer::new(profile.templates_dir.as_deref())
                .map_err(|e| setup(e.to_string()))?
                .with_recording_links(profile.recording_links_in_note);
            profiles.insert(
                profile.name.clone(),
                Arc::new(ProfileClients { profile: profile.clone(), beyondtrust, autotask, renderer }),
            );
        }
        Ok(Worker {
            profiles: Arc::new(profiles),
            store,
            wake,
            timing,
            told: Default::default(),
            started: Utc::now(),
            copies: None,
        })
    }

    /// Reads tickets' assignments from the desk's copies of the tickets.
    pub fn with_ticket_copies(self, feeds: crate::gateway::feed::Feeds) -> Worker {
        Worker { copies: Some(feeds), ..self }
    }

    /// The notifier intake pokes when it stores an event.
    pub fn wake(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Processes jobs until `shutdown` completes, then finishes the jobs in flight.
    pub async fn run(&self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut running: JoinSet<()> = JoinSet::new();
        let mut renew = tokio::time::interval(RENEW_CLAIMS_EVERY);
        renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let room = self.timing.concurrency.saturating_sub(running.len());
            let claimed = if room > 0 {
                match self.store.run(move |s| s.claim_due(Utc::now(), room)).await {
                    Ok(jobs) => jobs,
                    Err(e) => {
                        tracing::error!("the store could not hand out jobs: {e}");
                        Vec::new()
                    }
                }
            } else {
                Vec::new()
            };
            let took_none = claimed.is_empty();
            for job in claimed {
                let worker = self.clone();
                running.spawn(async move { worker.process(job).await });
            }
            let next_due = self.store.run(|s| s.next_due()).await.ok().flatten();
            let wait = match next_due.map(|at| (at - Utc::now()).to_std().unwrap_or(Duration::ZERO)) {
                // Due, yet none was handed out: it waits for its session's job that runs (whose
                // end wakes this loop), so looking again at once would only spin.
                Some(Duration::ZERO) if took_none => BLOCKED_LOOK,
                Some(due_in) => due_in.min(IDLE_LOOK),
                None => IDLE_LOOK,
            };
            tokio::select! {
                _ = &mut shutdown => break,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(wait), if room > 0 => {}
                Some(_) = running.join_next(), if !running.is_empty() => {}
                _ = renew.tick(), if !running.is_empty() => self.renew_claims().await,
            }
        }
        // The jobs in flight finish under their claims, renewed meanwhile.
        while !running.is_empty() {
            tokio::select! {
                _ = running.join_next() => {}
                _ = renew.tick() => self.renew_claims().await,
            }
        }
    }

    /// Keeps this worker's claims on the jobs it runs, so no other worker takes them.
    async fn renew_claims(&self) {
        if let Err(e) = self.store.run(|s| s.renew_claims(Utc::now())).await {
            tracing::error!("the claims on the running jobs could not be renewed: {e}");
        }
    }

    async fn process(&self, job: Job) {
        // One span per job, carried across its awaits (an entered guard would leak between tasks).
        let span = tracing::info_span!("job", id = job.id, profile = job.profile, event = job.event, lsid = job.lsid);
        async {
            let result = match self.profiles.get(&job.profile) {
                Some(clients) => self.handle(clients, &job).await,
                None => Ok(Outcome::Skipped(format!("profile '{}' is disabled or no longer configured", job.profile))),
            };
            if let Err(e) = self.settle(&job, result).await {
                tracing::error!("could not record the outcome of job {}: {e}", job.id);
            }
        }
        .instrument(span)
        .await;
        self.wake.notify_one();
    }

    async fn handle(&self, clients: &ProfileClients, job: &Job) -> Result<Outcome, Failure> {
        let event = parse_event(job.body.as_bytes()).map_err(|e| Failure::Permanent(e.to_string()))?;
        let rerun;
        let job = if job.attempts <= 1 && self.must_look_first(clients, job, &event).await? {
            // Look for its markers first, as a rerun does.
            rerun = Job { attempts: 2, ..job.clone() };
            &rerun
        } else {
            job
        };
        match event.event_type {
            EventType::SessionEnd => session_end::handle(self, clients, job, &event).await,
            EventType::CustomerExitSurveyCompleted | EventType::RepExitSurveyCompleted => {
                surveys::handle(self, clients, job, &event).await
            }
            EventType::MemberAdded => ticket_creation::handle(self, clients, job, &event).await,
            _ => Ok(Outcome::Skipped(format!("{} events are not processed", event.name))),
        }
    }

    /// Whether a first run must look for the session's markers before writing: its ledger rows
    /// may have been pruned (an event delivered again long after), or a person attached it to a
    /// ticket — and someone on another writer (the rep's tray app, the desk's worker) may have too.
    async fn must_look_first(
        &self,
        clients: &ProfileClients,
        job: &Job,
        event: &OutboundEvent,
    ) -> Result<bool, Failure> {
        if self.another_writer_may_have(&clients.profile, event) {
            return Ok(true);
        }
        let pruned = self.store.run(|s| s.pruned_before()).await?;
        let pruned = match (event.timestamp, pruned) {
            (Some(at), Some(pruned)) => at <= pruned,
            (None, Some(_)) => true,
            (_, None) => false,
        };
        let Some(lsid) = job.lsid.clone().filter(|_| !pruned) else { return Ok(pruned) };
        let profile = job.profile.clone();
        Ok(self.store.run(move |s| s.attached_ticket(&profile, &lsid)).await?.is_some())
    }

    /// Whether the other writer of a desk-wide watch may have written this event's session: a
    /// rep's app writes only after it took over from the desk's worker, so the worker may have
    /// written it before; the desk's worker may meet a session late (it was stopped, or its
    /// events queued at the appliance) that an app took over meanwhile. A session the desk's
    /// worker meets on time — the usual case — costs no marker search.
    fn another_writer_may_have(&self, profile: &Profile, event: &OutboundEvent) -> bool {
        match profile.desk {
            DeskRole::Alone => false,
            DeskRole::Follows { .. } => true,
            DeskRole::Serves => event.timestamp.is_none_or(|at| at < self.started || Utc::now() - at > LATE),
        }
    }

    /// Notes who the job's session was with, for its activity line.
    fn tell_session(&self, job: &Job, session: &crate::beyondtrust::SupportSession) {
        let mut told = self.told.lock().unwrap_or_else(|e| e.into_inner());
        let told = told.entry(job.id).or_default();
        told.session = Some(session.described());
        told.rep = session.primary_representative().and_then(|r| r.username.as_deref()).map(str::to_owned);
    }

    /// Notes the job's ticket, for its activity line.
    fn tell_ticket(&self, job: &Job, ticket_id: i64) {
        self.told.lock().unwrap_or_else(|e| e.into_inner()).entry(job.id).or_default().ticket_id = Some(ticket_id);
    }

    /// A ticket as its activity line names it: number and title when known, else its id.
    async fn ticket_named(&self, profile: &str, ticket_id: i64) -> Result<String, StoreError> {
        let profile = profile.to_owned();
        let known = self.store.run(move |s| s.ticket_name(&profile, ticket_id, Utc::now())).await?;
        Ok(crate::store::ticket_or_id(known, ticket_id))
    }

    /// What the job was doing, in a rep's words: "write the session with Pat Lee (Dynamo
    /// Corporation, 25 min) to T20261124.0042 Outlook keeps asking for password".
    async fn doing(&self, job: &Job, told: &Told) -> Result<String, StoreError> {
        let session = told.session.as_ref().map_or_else(|| "a session".to_owned(), |s| format!("the session with {s}"));
        let to = match told.ticket_id {
            Some(id) => format!(" to {}", self.ticket_named(&job.profile, id).await?),
            None => String::new(),
        };
        Ok(match EventType::from_name(&job.event) {
            EventType::SessionEnd => format!("write {session}{to}"),
            EventType::CustomerExitSurveyCompleted | EventType::RepExitSurveyCompleted => {
                format!("write the exit survey of {session}{to}")
            }
            EventType::MemberAdded => format!("create a ticket for {session}"),
            _ => format!("handle the {} event of {session}", job.event),
        })
    }

    /// Records a job's outcome: done, skipped, rescheduled or failed, with an activity line.
    async fn settle(&self, job: &Job, result: Result<Outcome, Failure>) -> Result<(), StoreError> {
        let now = Utc::now();
        let id = job.id;
        let told = self.told.lock().unwrap_or_else(|e| e.into_inner()).remove(&id).unwrap_or_default();
        let retries = self.retries_allowed(job);
        let ids: Vec<String> = job
            .lsid
            .iter()
            .map(|l| format!("session {l}"))
            .chain(told.ticket_id.map(|t| format!("ticket id {t}")))
            .chain([format!("job {id}")])
            .collect();
        let line = |level: &'static str, summary: String, details: String| ActivityLine {
            profile: job.profile.clone(),
            lsid: job.lsid.clone(),
            ticket_id: told.ticket_id,
            level,
            summary,
            details: Some(details),
            job_id: Some(id),
            rep: told.rep.clone(),
        };
        let log = |line: ActivityLine| move |s: &crate::store::Store| s.log_activity(&line, now);
        match result {
            Ok(Outcome::Done { summary, wrote, ticket_id }) => {
                tracing::info!("{summary}");
                observe_written(job, now);
                let finish = summary.clone();
                self.store.run(move |s| s.finish(id, JobState::Done, Some(&finish), now)).await?;
                let details = std::iter::once(wrote).chain(ids).collect::<Vec<_>>().join(" · ");
                self.store.run(log(ActivityLine { ticket_id, ..line("info", summary, details) })).await?;
            }
            Ok(Outcome::Quiet(why)) => {
                tracing::debug!("nothing to do: {why}");
                self.store.run(move |s| s.finish(id, JobState::Ignored, Some(&why), now)).await?;
            }
            Ok(Outcome::Skipped(why)) => {
                tracing::info!("skipped: {why}");
                let note = why.clone();
                self.store.run(move |s| s.finish(id, JobState::Ignored, Some(&note), now)).await?;
                self.store.run(log(line("warning", why, ids.join(" · ")))).await?;
            }
            Err(Failure::NotReady(why)) if job.attempts < self.timing.report_lag_tries => {
                let at = now + chrono::Duration::from_std(self.timing.report_lag_wait).unwrap_or_default();
                self.store.run(move |s| s.reschedule(id, at, &why, now)).await?;
            }
            Err(Failure::Transient(why)) if job.attempts <= retries => {
                let delay = self.backoff(job.attempts);
                tracing::warn!("will retry in {} s: {why}", delay.as_secs());
                crate::metrics::global().retried(&job.profile);
                let at = now + chrono::Duration::from_std(delay).unwrap_or_default();
                let summary =
                    format!("Will try again in {} s to {}: {why}", delay.as_secs(), self.doing(job, &told).await?);
                self.store.run(move |s| s.reschedule(id, at, &why, now)).await?;
                self.store.run(log(line("warning", summary, ids.join(" · ")))).await?;
            }
            Err(Failure::Transient(why) | Failure::Permanent(why) | Failure::NotReady(why)) => {
                tracing::error!("failed: {why}");
                let summary = format!("Could not {}: {why}", self.doing(job, &told).await?);
                self.store.run(move |s| s.finish(id, JobState::Failed, Some(&why), now)).await?;
                self.store.run(log(line("error", summary, ids.join(" · ")))).await?;
            }
        }
        Ok(())
    }

    /// Retries the profile allows this job (the seed's Retry Attempt Limit and event types).
    fn retries_allowed(&self, job: &Job) -> u32 {
        let Some(clients) = self.profiles.get(&job.profile) else { return 0 };
        let p = &clients.profile;
        let types = match job.source {
            Source::Outbound => &p.retry_outbound_event_types,
            Source::Polling => &p.retry_polling_event_types,
        };
        let seed = SeedEvent::from_event_type(beyondtrust::EventType::from_name(&job.event));
        if seed.is_some_and(|s| types.contains(&s)) { p.retry_attempt_limit } else { 0 }
    }

    fn backoff(&self, attempts: u32) -> Duration {
        let exp = self.timing.retry_base.saturating_mul(1u32 << attempts.saturating_sub(1).min(16));
        exp.min(self.timing.retry_max)
    }
}

/// A session written: how long after its end event (the event's own time, or the poll's end time).
fn observe_written(job: &Job, now: chrono::DateTime<Utc>) {
    if job.event != EventType::SessionEnd.name() {
        return;
    }
    if let Some(ended) = parse_event(job.body.as_bytes()).ok().and_then(|e| e.timestamp) {
        crate::metrics::global().session_written((now - ended).num_milliseconds() as f64 / 1000.0);
    }
}

/// What a job knows about its event, for the handlers.
fn lsid_of(event: &OutboundEvent) -> Result<&str, Failure> {
    event.lsid.as_deref().ok_or_else(|| Failure::Permanent(format!("the {} event has no lsid", event.name)))
}
