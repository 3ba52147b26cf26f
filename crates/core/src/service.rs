//! The worker as a running service: the job runner, a poller per polling profile and, for the
//! headless worker, the outbound event listener — started together and stopped together. The
//! headless binary runs it for a whole desk; the tray app runs it for its own rep only.

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::beyondtrust::BeyondTrustClient;
use crate::config::{Profile, SeedEvent, WorkerConfig};
use crate::polling::Scope;
use crate::store::AsyncStore;
use crate::worker::{SetupError, Timing, Worker};

/// Where the service runs.
#[derive(Debug)]
pub enum Mode {
    /// A server for the whole desk: outbound events on `listener`, polling where a profile asks
    /// for it, every session.
    Headless { listener: TcpListener },
    /// A rep's desktop: polls each profile whose embedded worker is on, for sessions whose
    /// primary rep is the profile's `rep_username` — never a peer's.
    Desktop,
}

/// A running worker; [`Service::stop`] finishes the jobs in flight.
#[derive(Debug)]
pub struct Service {
    stop: watch::Sender<bool>,
    poke: watch::Sender<()>,
    wake: Arc<Notify>,
    tasks: Vec<JoinHandle<()>>,
    intake: Option<JoinHandle<std::io::Result<()>>>,
}

/// The profiles a desktop's embedded worker runs: those switched on with a rep, each polling for
/// session ends (every `polling_interval_minutes`, 5 when unset), so no inbound port is needed.
pub fn desktop_profiles(config: &WorkerConfig) -> Vec<Profile> {
    config
        .profiles
        .iter()
        .filter(|p| !p.disabled && p.embedded_worker && p.rep_username.is_some())
        .map(|p| {
            let mut p = p.clone();
            p.polling_event_types = vec![SeedEvent::SupportSessionEnd];
            p.polling_interval_minutes = p.polling_interval_minutes.or(Some(5));
            p
        })
        .collect()
}

impl Service {
    /// Starts the job runner and pollers (and the listener, headless) on the current runtime.
    pub fn start(config: &WorkerConfig, store: AsyncStore, mode: Mode) -> Result<Service, SetupError> {
        let mut config = config.clone();
        if matches!(mode, Mode::Desktop) {
            config.profiles = desktop_profiles(&config);
        }
        let config = Arc::new(config);
        let timing =
            Timing { retry_base: config.retry_delay, report_lag_wait: config.report_lag_wait, ..Default::default() };
        let wake = Arc::new(Notify::new());
        let (poke, poked) = watch::channel(());
        let mut worker = Worker::new(&config, store.clone(), wake.clone(), timing)?;
        let jobs_due = worker.wake();
        let (stop, stopped) = watch::channel(false);
        let until_stopped = move || {
            let mut stopped = stopped.clone();
            async move {
                let _ = stopped.wait_for(|s| *s).await;
            }
        };
        let mut tasks = Vec::new();
        let store_for_pruning = store.clone();
        for profile in config.profiles.iter().filter(|p| !p.disabled && !p.polling_event_types.is_empty()) {
            let appliance = BeyondTrustClient::new(profile.beyondtrust.clone())
                .map_err(|e| SetupError { profile: profile.name.clone(), message: e.to_string() })?;
            let scope = match (&mode, &profile.rep_username) {
                (Mode::Desktop, Some(rep)) => Scope::PrimaryRep(rep.clone()),
                _ => Scope::AllSessions,
            };
            let signals = (wake.clone(), poked.clone());
            let poller =
                crate::polling::run(profile.clone(), appliance, store.clone(), scope, signals, until_stopped());
            tasks.push(tokio::spawn(poller));
        }
        let intake = match mode {
            Mode::Headless { listener } => {
                let desk_setup =
                    |e: &dyn std::fmt::Display| SetupError { profile: "(desk)".to_owned(), message: e.to_string() };
                let feeds =
                    crate::gateway::feed::Feeds::new(&config, &store, stop.subscribe()).map_err(|e| desk_setup(&e))?;
                let desk_feeds = (!feeds.is_empty()).then(|| feeds.clone());
                let mut intake = crate::intake::Intake::new(config.clone(), store.clone(), wake.clone());
                if !feeds.is_empty() {
                    tasks.extend(feeds.start_looking(&until_stopped));
                    worker = worker.with_ticket_copies(feeds.clone());
                    let reps =
                        Arc::new(crate::gateway::reps::RepDirectory::load(store.clone()).map_err(|e| desk_setup(&e))?);
                    tasks.push(tokio::spawn(reps.clone().keep_current(until_stopped())));
                    intake = intake.with_desk(crate::gateway::server::DeskServer::new(
                        feeds,
                        reps,
                        store.clone(),
                        wake.clone(),
                        config.rep_autotask_searches_per_hour,
                    ));
                }
                let certificate = match &config.tls {
                    Some(files) => Some(Arc::new(
                        crate::serve::ReloadingCertificate::new(files.clone())
                            .map_err(|message| SetupError { profile: "(HTTPS)".to_owned(), message })?,
                    )),
                    None => None,
                };
                if let Some(certificate) = &certificate {
                    let reloads = crate::serve::tls::watch_for_changes(certificate.clone());
                    let stopped = until_stopped();
                    tasks.push(tokio::spawn(async move {
                        tokio::select! {
                            _ = reloads => {}
                            _ = stopped => {}
                        }
                    }));
                }
                if let Some(address) = config.console_listen {
                    let mut console = crate::console::Console::new(
                        config.clone(),
                        store.clone(),
                        wake.clone(),
                        certificate.is_some(),
                    );
                    if let Some(feeds) = desk_feeds {
                        console = console.with_desk_feeds(feeds);
                    }
                    tasks.extend(serve_console(console, address, certificate.clone(), until_stopped()));
                }
                Some(tokio::spawn(intake.serve_on(listener, certificate, until_stopped())))
            }
            Mode::Desktop => None,
        };
        tasks.push(tokio::spawn(prune_daily(store_for_pruning, config.retention, until_stopped())));
        let shutdown = until_stopped();
        tasks.push(tokio::spawn(async move { worker.run(shutdown).await }));
        Ok(Service { stop, poke, wake: jobs_due, tasks, intake })
    }

    /// Polls every profile now instead of at its next interval, and runs the jobs that are due
    /// ("Check now", and after a Retry).
    pub fn check_now(&self) {
        self.poke.send_replace(());
        self.wake.notify_one();
    }

    /// Stops taking work, finishes the jobs in flight, and returns the listener's result.
    pub async fn stop(self) -> std::io::Result<()> {
        let _ = self.stop.send(true);
        let mut result = Ok(());
        if let Some(intake) = self.intake {
            result = intake.await.unwrap_or_else(|e| Err(std::io::Error::other(e)));
        }
        for task in self.tasks {
            let _ = task.await;
        }
        result
    }
}

/// Serves the desk console on `address`. One that cannot listen (the port taken) leaves the
/// worker running without it, and says so in the log: the sessions matter more than the page.
fn serve_console(
    console: crate::console::Console,
    address: std::net::SocketAddr,
    certificate: Option<Arc<crate::serve::ReloadingCertificate>>,
    stopped: impl std::future::Future<Output = ()> + Send + 'static,
) -> Option<JoinHandle<()>> {
    let listener = std::net::TcpListener::bind(address)
        .and_then(|l| l.set_nonblocking(true).map(|()| l))
        .and_then(TcpListener::from_std);
    let listener = match listener {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!("the desk console cannot listen on {address} ({e}); the worker runs without it");
            return None;
        }
    };
    let scheme = if certificate.is_some() { "https" } else { "http" };
    tracing::info!("the desk console is at {scheme}://{address}/");
    Some(tokio::spawn(async move {
        if let Err(e) = console.serve_on(listener, certificate, stopped).await {
            tracing::error!("the desk console stopped: {e}");
        }
    }))
}

/// Prunes what is older than the retention as the service starts, then once a day — or every
/// quarter of the retention when that is shorter, so a short one is kept to as well — where this
/// worker holds the store's retention (one worker of those on a database prunes it).
async fn prune_daily(store: AsyncStore, retention: chrono::Duration, stopped: impl std::future::Future<Output = ()>) {
    tokio::pin!(stopped);
    let day = std::time::Duration::from_secs(24 * 3600);
    let every = (retention / 4).to_std().map_or(day, |quarter| quarter.min(day));
    let duty = Arc::new(store.blocking().duty("retention"));
    loop {
        let held = {
            let duty = duty.clone();
            store.run(move |s| duty.hold(s)).await
        };
        let pruned = match held {
            Ok(true) => store.prune(chrono::Utc::now() - retention).await,
            // Another worker on the store prunes it.
            Ok(false) => Ok(Default::default()),
            Err(e) => Err(e),
        };
        match pruned {
            Ok(p) if !p.is_empty() => tracing::info!(
                "pruned {} finished job(s), {} activity line(s) and {} ledger row(s) older than {}",
                p.jobs,
                p.activity,
                p.ledger,
                crate::config::describe_retention(retention)
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!("the store could not be pruned: {e}"),
        }
        tokio::select! {
            _ = &mut stopped => break,
            _ = tokio::time::sleep(every) => {}
        }
    }
}
