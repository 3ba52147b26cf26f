//! The one way every listener is served — the appliance's intake, the reps' gateway and the desk
//! console each bring only their routes. Whoever can reach a port gets, from here alone: a TLS
//! handshake that must finish in time; a request head that must arrive in time (the first request
//! of a connection too, HTTP/1.1 or HTTP/2); a connection closed once no request has been in
//! flight for the idle timeout (a long poll is in flight, so it is never cut); a cap on open
//! connections; an accept loop that backs off when the system refuses it (out of open files),
//! saying so once; request bodies bounded in size and in time ([`body`]); and, from the desk's
//! own load balancers only, the client's address as their PROXY protocol header says ([`proxy`]).

pub mod body;
pub mod limit;
pub mod proxy;
pub mod said;
pub mod tls;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tower::ServiceExt;

pub use tls::{ReloadingCertificate, TlsFiles};

/// How every listener treats its clients; each a setting of the worker's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct ServeSettings {
    /// How long a client may take to send a request's head, and then its body
    /// (`request_read_timeout_seconds`).
    pub request_read_timeout: Duration,
    /// How long a client may take to finish the TLS handshake (`tls_handshake_timeout_seconds`).
    pub tls_handshake_timeout: Duration,
    /// How long a connection may stay open with no request in flight (`idle_timeout_seconds`).
    pub idle_timeout: Duration,
    /// Most connections one listener keeps open at once (`max_connections`); more are closed at once.
    pub max_connections: usize,
    /// Largest body of the desk's JSON routes, the webhooks and the console (`request_body_limit_kib`).
    pub request_body_limit: usize,
    /// Largest outbound event the intake takes (`event_body_limit_kib`).
    pub event_body_limit: usize,
    /// The load balancers that put a PROXY protocol header before each connection they pass on
    /// (`trusted_proxies`): from them, and only them, the header names the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl Default for ServeSettings {
    fn default() -> ServeSettings {
        ServeSettings {
            request_read_timeout: Duration::from_secs(10),
            tls_handshake_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            // A desk of 1,000 reps holds 1,000 long polls, with room for searches beside them.
            max_connections: 4096,
            request_body_limit: 64 * 1024,
            event_body_limit: 64 * 1024,
            trusted_proxies: Vec::new(),
        }
    }
}

/// Serves `router` on `listener` — over TLS with `certificate` when given — until `shutdown`
/// completes; then open connections are asked to finish, and waited for. `name` says which
/// listener in the log.
pub async fn serve(
    name: &'static str,
    listener: TcpListener,
    router: Router,
    certificate: Option<Arc<ReloadingCertificate>>,
    settings: &ServeSettings,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let acceptor = certificate.map(tls::acceptor).transpose()?;
    let settings = Arc::new(settings.clone());
    let connections = Arc::new(Semaphore::new(settings.max_connections));
    let (stopping, stopped) = watch::channel(false);
    let mut refusals = Refusals::new(name);
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = &mut shutdown => break,
        };
        let (stream, remote) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                if let Some(pause) = refusals.failed(&e) {
                    tokio::select! {
                        _ = tokio::time::sleep(pause) => {}
                        _ = &mut shutdown => break,
                    }
                }
                continue;
            }
        };
        refusals.accepted();
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            refusals.over_cap(settings.max_connections);
            continue; // dropped: closed at once
        };
        let _ = stream.set_nodelay(true);
        let connection = Connection {
            router: router.clone(),
            remote,
            settings: settings.clone(),
            stopped: stopped.clone(),
            _permit: permit,
        };
        tokio::spawn(connection.start(acceptor.clone(), stream));
    }
    drop(listener);
    let _ = stopping.send(true);
    // Every connection holds a permit until it ends: all of them back means all ended.
    let all = u32::try_from(settings.max_connections).unwrap_or(u32::MAX);
    let _ = connections.acquire_many(all).await;
    Ok(())
}

/// One accepted connection and what serving it needs.
struct Connection {
    router: Router,
    remote: SocketAddr,
    settings: Arc<ServeSettings>,
    /// Turns true when the listener stops: the connection finishes what is in flight and ends.
    stopped: watch::Receiver<bool>,
    /// Returned to the listener's cap when the connection ends.
    _permit: OwnedSemaphorePermit,
}

impl Connection {
    /// Reads a trusted proxy's header, then serves the connection, over TLS when `acceptor`.
    async fn start(mut self, acceptor: Option<tokio_rustls::TlsAcceptor>, mut stream: TcpStream) {
        let peer = self.remote.ip().to_canonical();
        if self.settings.trusted_proxies.iter().any(|proxy| proxy.contains(&peer)) {
            let header = proxy::read_header(&mut stream, self.remote);
            match tokio::time::timeout(self.settings.request_read_timeout, header).await {
                Ok(Ok(client)) => self.remote = client,
                Ok(Err(e)) => return said::proxy_refused(self.remote, &e.to_string()),
                Err(_) => return said::proxy_refused(self.remote, "no PROXY protocol header came in time"),
            }
        }
        match acceptor {
            Some(acceptor) => self.serve_tls(acceptor, stream).await,
            None => self.serve(stream).await,
        }
    }

    async fn serve_tls(self, acceptor: tokio_rustls::TlsAcceptor, stream: TcpStream) {
        // A client that refuses our certificate ends the handshake (the appliance logs it); one
        // that never finishes it is dropped rather than held.
        let handshake = tokio::time::timeout(self.settings.tls_handshake_timeout, acceptor.accept(stream)).await;
        if let Ok(Ok(tls)) = handshake {
            self.serve(tls).await;
        }
    }

    async fn serve<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(mut self, io: S) {
        let activity = Arc::new(Activity::new());
        let service = hyper::service::service_fn({
            let (router, remote, activity) = (self.router.clone(), self.remote, activity.clone());
            move |request| answer(router.clone(), remote, activity.clone(), request)
        });
        let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        builder.http1().timer(TokioTimer::new()).header_read_timeout(self.settings.request_read_timeout);
        // Pings find peers that vanished without closing (a laptop's lid shut).
        builder
            .http2()
            .timer(TokioTimer::new())
            .keep_alive_interval(self.settings.idle_timeout / 2)
            .keep_alive_timeout(self.settings.request_read_timeout);
        let connection = builder.serve_connection(TokioIo::new(io), service);
        tokio::pin!(connection);
        let first = self.settings.request_read_timeout;
        let idle = self.settings.idle_timeout;
        tokio::select! {
            _ = connection.as_mut() => return,
            _ = activity.idle(first, idle) => {}
            _ = self.stopped.wait_for(|s| *s) => {}
        }
        // Asked to finish what is in flight; a peer that does not is dropped after a grace.
        connection.as_mut().graceful_shutdown();
        let _ = tokio::time::timeout(self.settings.request_read_timeout, connection).await;
    }
}

/// Runs one request through `router`, knowing its client's address and counted as in flight
/// until its answer's body is sent.
async fn answer(
    router: Router,
    remote: SocketAddr,
    activity: Arc<Activity>,
    mut request: hyper::Request<Incoming>,
) -> Result<axum::response::Response, Infallible> {
    let guard = activity.begin();
    request.extensions_mut().insert(ConnectInfo(remote));
    let response = router.oneshot(request.map(axum::body::Body::new)).await?;
    // The guard lives as long as the answer's body: a long download is not idle.
    Ok(response.map(|body| {
        axum::body::Body::new(body.map_frame(move |frame| {
            let _in_flight = &guard;
            frame
        }))
    }))
}

/// Whether a connection has a request in flight, and since when it has had none.
#[derive(Debug)]
struct Activity {
    in_flight: AtomicUsize,
    /// When the last request ended; `None` until the first one begins.
    idle_since: std::sync::Mutex<Option<Instant>>,
    opened: Instant,
    changed: Notify,
}

/// A request in flight; ends it when dropped.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        *self.0.idle_since.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.0.changed.notify_waiters();
    }
}

impl Activity {
    fn new() -> Activity {
        Activity {
            in_flight: AtomicUsize::new(0),
            idle_since: std::sync::Mutex::new(None),
            opened: Instant::now(),
            changed: Notify::new(),
        }
    }

    fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.changed.notify_waiters();
        InFlight(self.clone())
    }

    fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// When the connection counts as idle: `first` after it opened without a request, `idle`
    /// after its last request ended — never while one is in flight.
    fn deadline(&self, first: Duration, idle: Duration) -> Option<Instant> {
        if self.in_flight() > 0 {
            return None;
        }
        let since = *self.idle_since.lock().unwrap_or_else(|e| e.into_inner());
        Some(since.map_or(self.opened + first, |ended| ended + idle))
    }

    /// Completes once the connection has been idle long enough to close.
    async fn idle(&self, first: Duration, idle: Duration) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            match self.deadline(first, idle) {
                Some(deadline) if deadline <= Instant::now() => return,
                Some(deadline) => {
                    tokio::select! {
                        _ = tokio::time::sleep_until(deadline.into()) => {}
                        _ = changed => {}
                    }
                }
                None => changed.await,
            }
        }
    }
}

/// The accept loop's troubles, said at most once a minute each rather than once per attempt: at
/// the open-files limit every closed connection lets one more in and the next accept fails again,
/// so episodes come and go many times a second.
struct Refusals {
    name: &'static str,
    /// Failed accepts in a row, when the first of them happened, and whether this run of
    /// failures was said.
    failing: Option<(u32, Instant, bool)>,
    /// When failing accepts were last said.
    failing_said: Option<Instant>,
    /// Connections closed over the cap since it was last said, and when that was.
    over_cap: (u64, Option<Instant>),
}

/// The shortest and longest pause after the system refuses an accept.
const FIRST_PAUSE: Duration = Duration::from_millis(5);
const LONGEST_PAUSE: Duration = Duration::from_secs(1);
/// How often each trouble of the accept loop is said in the log.
const SAID_EVERY: Duration = Duration::from_secs(60);

impl Refusals {
    fn new(name: &'static str) -> Refusals {
        Refusals { name, failing: None, failing_said: None, over_cap: (0, None) }
    }

    /// An accept failed: how long to pause before the next (none for one client's own trouble).
    fn failed(&mut self, e: &std::io::Error) -> Option<Duration> {
        use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
        if matches!(e.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset) {
            return None;
        }
        if self.failing.is_none() {
            let say = self.failing_said.is_none_or(|said| said.elapsed() >= SAID_EVERY);
            if say {
                tracing::warn!(
                    listener = self.name,
                    "connections cannot be accepted: {e}; trying again with pauses of up to {} s (the open-files limit may be reached; said at most once a minute)",
                    LONGEST_PAUSE.as_secs()
                );
                self.failing_said = Some(Instant::now());
            }
            self.failing = Some((0, Instant::now(), say));
        }
        let (count, _, _) = self.failing.as_mut()?;
        *count += 1;
        Some(FIRST_PAUSE.saturating_mul(1 << (*count - 1).min(8)).min(LONGEST_PAUSE))
    }

    fn accepted(&mut self) {
        if let Some((count, since, said)) = self.failing.take()
            && said
        {
            tracing::info!(
                listener = self.name,
                "connections are accepted again, after {count} failed attempt(s) over {:.1} s",
                since.elapsed().as_secs_f64()
            );
        }
    }

    fn over_cap(&mut self, cap: usize) {
        self.over_cap.0 += 1;
        let due = self.over_cap.1.is_none_or(|said| said.elapsed() >= SAID_EVERY);
        if due {
            tracing::warn!(
                listener = self.name,
                "{} connection(s) closed at once: {cap} are open, the most max_connections allows",
                self.over_cap.0
            );
            self.over_cap = (0, Some(Instant::now()));
        }
    }
}

#[cfg(test)]
mod tests;
