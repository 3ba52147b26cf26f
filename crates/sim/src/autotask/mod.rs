//! `bta-sim autotask`: a stand-in for one Autotask zone's REST API (ATServicesRest v1.0),
//! written from `shared/spec/autotask.md`. It authenticates, validates, pages, counts requests
//! against an hourly threshold and slows down past it, and can be steered under `/_sim/`.

mod control;
mod demo;
mod filter;
mod routes;
mod schema;
mod store;
pub mod system;
pub mod webhooks;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use demo::{
    API_RESOURCE_ID, FIRST_REP_RESOURCE_ID, LEVEL_ONE_QUEUE_ID, SAMPLE_ROLE_ID, SERVICE_DESK_DEPARTMENT_ID,
};

/// Default API user, secret and integration code accepted by the stand-in.
pub const DEFAULT_USERNAME: &str = "bta-api@example.com";
pub const DEFAULT_SECRET: &str = "demo-secret";
pub const DEFAULT_INTEGRATION_CODE: &str = "DEMO-INTEGRATION-CODE";

/// How the stand-in behaves; the defaults are the real service's.
#[derive(Debug, Clone)]
pub struct Config {
    pub username: String,
    pub secret: String,
    pub integration_code: String,
    /// Requests per rolling hour before 429 (Autotask: 10,000 per database).
    pub hourly_limit: u64,
    /// Latency added past 50 % of the hourly limit; twice this past 75 %.
    pub threshold_delay: Duration,
    /// Load the demo database at start and on reset.
    pub demo: bool,
    /// The desk's system settings at start and on reset.
    pub system: system::SystemSettings,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            username: DEFAULT_USERNAME.to_owned(),
            secret: DEFAULT_SECRET.to_owned(),
            integration_code: DEFAULT_INTEGRATION_CODE.to_owned(),
            hourly_limit: 10_000,
            threshold_delay: Duration::from_millis(500),
            demo: true,
            system: system::SystemSettings::default(),
        }
    }
}

/// Shared state of one running stand-in.
#[derive(Debug)]
struct Sim {
    config: Config,
    base_url: String,
    started: Instant,
    store: Mutex<store::Store>,
    usage: Mutex<Usage>,
    control: Mutex<control::Control>,
}

/// The rolling hour of counted requests, plus requests pretended by `/_sim/usage`.
#[derive(Debug, Default)]
struct Usage {
    pretended: u64,
    recent: VecDeque<Instant>,
}

impl Usage {
    fn current(&mut self, now: Instant) -> u64 {
        while self.recent.front().is_some_and(|t| now.duration_since(*t) > Duration::from_secs(3600)) {
            self.recent.pop_front();
        }
        self.pretended + self.recent.len() as u64
    }
}

/// Locks a mutex, recovering the data if a handler panicked while holding it.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Sim {
    fn new(config: Config, base_url: String) -> Sim {
        let sim = Sim {
            store: Mutex::new(store::Store::default()),
            usage: Mutex::new(Usage::default()),
            control: Mutex::new(control::Control::default()),
            started: Instant::now(),
            base_url,
            config,
        };
        sim.reset();
        sim
    }

    /// Back to the data and behaviour of a fresh start.
    fn reset(&self) {
        let mut store = store::Store::default();
        store.system = self.config.system.clone();
        if self.config.demo {
            demo::load(&mut store, &self.config.username);
        }
        *lock(&self.store) = store;
        *lock(&self.usage) = Usage::default();
        *lock(&self.control) = control::Control::default();
    }
}

/// A stand-in running in the background of this process; stops when dropped.
#[derive(Debug)]
pub struct Running {
    pub base_url: String,
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Running {
    /// Where an Autotask client should send zone discovery (`<base>/atservicesrest/`).
    pub fn discovery_url(&self) -> String {
        format!("{}/atservicesrest/", self.base_url)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves the stand-in on `listener` until the task is cancelled.
pub async fn serve(config: Config, listener: TcpListener) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    let sim = Arc::new(Sim::new(config, format!("http://{addr}")));
    // Bulk loads under /_sim/ (10,000 tickets for a benchmark) are larger than axum's 2 MB default.
    let app = axum::Router::new()
        .fallback(routes::handle)
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024 * 1024))
        .with_state(sim);
    axum::serve(listener, app).await
}

/// Binds a loopback port (0 = any free one) and serves in the background.
pub async fn spawn(config: Config, port: u16) -> std::io::Result<Running> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        if let Err(e) = serve(config, listener).await {
            tracing::error!("autotask stand-in stopped: {e}");
        }
    });
    Ok(Running { base_url: format!("http://{addr}"), addr, task })
}
