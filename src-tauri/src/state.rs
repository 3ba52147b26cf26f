//! What the app holds while it runs: the configuration file and what loading it found, one
//! [`Desk`] per usable profile, the store, the embedded worker, and the secret store — managed
//! by Tauri and reached from the commands, the tray and the notification loop.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use bta_core::config::{SecretStore, SkipSecrets, WorkerConfig};
use bta_core::desk::Desk;
use bta_core::service::{Mode, Service};
use bta_core::store::{AsyncStore, Store};
use url::Url;

/// A secret store the app can share between threads.
pub type Secrets = Arc<dyn SecretStore + Send + Sync>;

/// The configuration as last loaded.
#[derive(Debug, Default)]
pub struct Loaded {
    pub config: Option<WorkerConfig>,
    /// What keeps the configuration (or a profile's secrets) from being usable, to show in Settings.
    pub problems: Vec<String>,
    pub desks: HashMap<String, Arc<Desk>>,
}

pub struct AppState {
    pub config_path: PathBuf,
    pub secrets: Secrets,
    pub store: AsyncStore,
    pub loaded: RwLock<Loaded>,
    pub worker: tokio::sync::Mutex<Option<Service>>,
    /// The profiles the embedded worker was last started without: their desk's worker writes
    /// their sessions.
    pub stood_down: Mutex<std::collections::BTreeSet<String>>,
    pub paused: std::sync::atomic::AtomicBool,
    /// The invitation e-mail of the last key made for each ticket.
    pub invitations: Mutex<HashMap<i64, Url>>,
    pub clipboard: Mutex<Option<arboard::Clipboard>>,
    /// The search in flight, cancelled when the rep types on.
    pub search: Mutex<Option<tokio::task::AbortHandle>>,
    /// The last search answered, for a window made anew.
    pub last_search: Mutex<Option<(LastSearch, std::time::Instant)>>,
    /// Stand-ins of the demo, kept running while the app runs.
    pub demo: Option<crate::demo::Demo>,
    /// An enrolment link the OS opened the app with, waiting for the rep to confirm it in Settings.
    pub pending_link: Mutex<Option<String>>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("config_path", &self.config_path).finish_non_exhaustive()
    }
}

/// The last search the window made and what it found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LastSearch {
    pub profile: String,
    pub text: String,
    /// Only while fresh (see [`AppState::last_search`]).
    pub rows: Option<Vec<bta_core::desk::TicketRow>>,
}

/// How long a search's results are shown again without asking Autotask.
const SEARCH_FRESH: std::time::Duration = std::time::Duration::from_secs(120);

impl Loaded {
    /// The problems that keep a profile from being usable.
    pub fn problems_of(&self, profile: &str) -> Vec<&str> {
        let prefix = format!("profile '{profile}'");
        self.problems.iter().filter(|p| p.starts_with(&prefix)).map(String::as_str).collect()
    }
}

/// Reads the configuration: with every secret when it can, else without them (so Settings can
/// still show the profiles and what is missing).
pub fn load(path: &std::path::Path, secrets: &dyn SecretStore) -> Loaded {
    if !path.exists() {
        return Loaded {
            problems: vec![format!("no configuration yet at {}; add a profile in Settings", path.display())],
            ..Loaded::default()
        };
    }
    let (config, problems) = match WorkerConfig::load(path, secrets) {
        Ok(config) => (Some(config), Vec::new()),
        Err(errors) => match WorkerConfig::load(path, &SkipSecrets) {
            Ok(config) => (Some(config), errors.0),
            Err(structural) => (None, structural.0),
        },
    };
    let mut problems = problems;
    let mut desks = HashMap::new();
    for profile in config.iter().flat_map(|c| &c.profiles).filter(|p| !p.disabled) {
        let prefix = format!("profile '{}'", profile.name);
        if problems.iter().any(|p| p.starts_with(&prefix)) {
            continue;
        }
        match Desk::new(profile) {
            Ok(desk) => {
                desks.insert(profile.name.clone(), Arc::new(desk));
            }
            Err(e) => problems.push(format!("{prefix}: {e}")),
        }
    }
    Loaded { config, problems, desks }
}

impl AppState {
    pub fn new(
        config_path: PathBuf,
        secrets: Secrets,
        loaded: Loaded,
        store: Store,
        demo: Option<crate::demo::Demo>,
    ) -> AppState {
        AppState {
            config_path,
            secrets,
            store: AsyncStore::new(store),
            loaded: RwLock::new(loaded),
            worker: tokio::sync::Mutex::new(None),
            stood_down: Mutex::new(Default::default()),
            paused: std::sync::atomic::AtomicBool::new(false),
            invitations: Mutex::new(HashMap::new()),
            clipboard: Mutex::new(None),
            search: Mutex::new(None),
            last_search: Mutex::new(None),
            demo,
            pending_link: Mutex::new(None),
        }
    }

    /// Keeps the search the window just made, for a window made anew.
    pub fn remember_search(&self, profile: &str, text: &str, rows: &[bta_core::desk::TicketRow]) {
        let last = LastSearch { profile: profile.to_owned(), text: text.to_owned(), rows: Some(rows.to_vec()) };
        *self.last_search.lock().unwrap_or_else(|e| e.into_inner()) = Some((last, std::time::Instant::now()));
    }

    /// The last search; its results only while fresh.
    pub fn last_search(&self) -> Option<LastSearch> {
        let kept = self.last_search.lock().unwrap_or_else(|e| e.into_inner());
        let (last, at) = kept.as_ref()?;
        let rows = last.rows.clone().filter(|_| at.elapsed() < SEARCH_FRESH);
        Some(LastSearch { rows, ..last.clone() })
    }

    /// The profiles the embedded worker runs without, as last started.
    pub fn stood_down(&self) -> std::sync::MutexGuard<'_, std::collections::BTreeSet<String>> {
        self.stood_down.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn loaded(&self) -> std::sync::RwLockReadGuard<'_, Loaded> {
        self.loaded.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The desk of a profile, or why it cannot be used.
    pub fn desk(&self, profile: &str) -> Result<Arc<Desk>, String> {
        let loaded = self.loaded();
        if let Some(desk) = loaded.desks.get(profile) {
            return Ok(desk.clone());
        }
        let why = loaded.problems_of(profile);
        if why.is_empty() {
            Err(format!("profile '{profile}' is not set up or is disabled — check Settings"))
        } else {
            Err(format!("{} — fix it in Settings", why.join("; ")))
        }
    }

    /// Reads the configuration again and restarts the worker on it.
    pub async fn reload(&self) {
        let loaded = load(&self.config_path, self.secrets.as_ref());
        *self.loaded.write().unwrap_or_else(|e| e.into_inner()) = loaded;
        self.invitations.lock().unwrap_or_else(|e| e.into_inner()).clear();
        self.restart_worker().await;
    }

    /// Stops the embedded worker (finishing its jobs in flight) and starts it again unless paused.
    pub async fn restart_worker(&self) {
        let mut worker = self.worker.lock().await;
        let embedded = {
            let loaded = self.loaded();
            loaded.config.as_ref().map(|config| bta_core::desk::embedded_config(config, &loaded.desks))
        };
        *self.stood_down() = embedded.as_ref().map(|(_, names)| names.clone()).unwrap_or_default();
        if let Some(running) = worker.take() {
            let _ = running.stop().await;
        }
        let Some((usable, stood_down)) = embedded else { return };
        for profile in &stood_down {
            tracing::info!(profile, "the desk's worker writes this profile's sessions; this app's worker stands down");
        }
        if self.paused.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        match Service::start(&usable, self.store.clone(), Mode::Desktop) {
            Ok(service) => {
                tracing::info!("worker running");
                *worker = Some(service);
            }
            Err(e) => tracing::error!("the worker cannot start: {e}"),
        }
    }

    /// Whether `url` goes to a configured appliance or Autotask web UI.
    pub async fn may_open(&self, url: &Url) -> bool {
        let desks: Vec<Arc<Desk>> = self.loaded().desks.values().cloned().collect();
        for desk in desks {
            if desk.may_open(url).await {
                return true;
            }
        }
        false
    }
}
