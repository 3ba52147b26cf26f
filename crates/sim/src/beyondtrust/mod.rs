//! `bta-sim beyondtrust`: a stand-in for a BeyondTrust Remote Support B Series Appliance,
//! written from `shared/spec/beyondtrust.md`: OAuth client credentials with expiring tokens,
//! the Command API, the Reporting API, `client_script`, and outbound events delivered to HTTP
//! recipients exactly as an appliance does (in order, head-of-line blocking, retry until 200).

mod api;
mod control;
mod delivery;
mod demo;
mod replay;
mod sessions;
mod tls;
mod xml;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use sessions::Scenario;

pub const DEFAULT_CLIENT_ID: &str = "bta-demo-client";
pub const DEFAULT_CLIENT_SECRET: &str = "bta-demo-secret";

#[derive(Debug, Clone)]
pub struct Config {
    pub client_id: String,
    pub client_secret: String,
    /// Seconds an access token lives.
    pub token_ttl: u64,
    /// Serve HTTPS with a generated certificate; its CA is written to this file.
    pub tls_cert_out: Option<PathBuf>,
    /// This appliance's id in outbound events.
    pub appliance_id: String,
    /// Start with demo reps and sessions.
    pub demo: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            client_id: DEFAULT_CLIENT_ID.to_owned(),
            client_secret: DEFAULT_CLIENT_SECRET.to_owned(),
            token_ttl: 3600,
            tls_cert_out: None,
            appliance_id: "bta-sim-appliance".to_owned(),
            demo: true,
        }
    }
}

/// What the API account may do; `/_sim/permissions` changes it.
#[derive(Debug, Clone)]
struct Permissions {
    /// `full_access`, `read_only` or `deny`.
    command: String,
    reporting: bool,
}

impl Default for Permissions {
    fn default() -> Self {
        Permissions { command: "full_access".to_owned(), reporting: true }
    }
}

/// A generated session key and what it carries into the session.
#[derive(Debug, Clone, serde::Serialize)]
struct IssuedKey {
    short_key: String,
    queue_id: String,
    external_key: String,
    custom: Vec<(String, String)>,
    priority: Option<String>,
    expires: i64,
}

#[derive(Debug, Default)]
struct State {
    tokens: HashMap<String, Instant>,
    token_requests: u64,
    permissions: Permissions,
    keys: Vec<IssuedKey>,
    sessions: Vec<sessions::Session>,
    client_scripts: Vec<serde_json::Value>,
    faults: Vec<crate::faults::Fault>,
    /// Added to every API and token request.
    latency: std::time::Duration,
    /// Requests answered: path, status, and the locale asked for.
    requests: Vec<(String, u16, Option<String>)>,
}

#[derive(Debug)]
struct Sim {
    config: Config,
    base_url: String,
    state: Mutex<State>,
    deliveries: delivery::Deliveries,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Sim {
    fn new(config: Config, base_url: String) -> Sim {
        let sim =
            Sim { config, base_url, state: Mutex::new(State::default()), deliveries: delivery::Deliveries::default() };
        if sim.config.demo {
            demo::load(&sim);
        }
        sim
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
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
    /// The host setting a client uses (`127.0.0.1:<port>`).
    pub fn host(&self) -> String {
        self.addr.to_string()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A bound stand-in, certificate written, ready to serve.
pub struct Bound {
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    config: Config,
    pub base_url: String,
}

impl std::fmt::Debug for Bound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bound").field("base_url", &self.base_url).field("tls", &self.tls.is_some()).finish()
    }
}

impl Bound {
    /// Binds 127.0.0.1 (port 0 = any free one); with TLS, generates the certificate and writes its CA.
    pub async fn bind(config: Config, port: u16) -> std::io::Result<Bound> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let tls = match &config.tls_cert_out {
            Some(path) => Some(tls::acceptor(path)?),
            None => None,
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        Ok(Bound { listener, tls, config, base_url: format!("{scheme}://{addr}") })
    }

    /// Serves until the task is cancelled.
    pub async fn serve(self) -> std::io::Result<()> {
        let sim = Arc::new(Sim::new(self.config, self.base_url));
        let app = api::router(sim);
        match self.tls {
            Some(acceptor) => tls::serve(self.listener, acceptor, app).await,
            None => axum::serve(self.listener, app).await,
        }
    }
}

/// Binds a loopback port (0 = any free one) and serves in the background.
pub async fn spawn(config: Config, port: u16) -> std::io::Result<Running> {
    let bound = Bound::bind(config, port).await?;
    let addr = bound.listener.local_addr()?;
    let base_url = bound.base_url.clone();
    let task = tokio::spawn(async move {
        if let Err(e) = bound.serve().await {
            tracing::error!("beyondtrust stand-in stopped: {e}");
        }
    });
    Ok(Running { base_url, addr, task })
}

/// How long a request may hold the outbound queue before the appliance gives up on it.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
