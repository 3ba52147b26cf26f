//! The desk console: the seed's middleware administration tool as a web page the headless worker
//! serves on `console_listen` (127.0.0.1:53231 by default, the seed's tool's address) — each
//! profile's queue, the jobs with Autotask's words and Retry, every rep's sessions without a
//! ticket, the activity log — for the desk's admin and lead.
//!
//! Every page and API call needs an admin's session (`bt-autotask-worker console add-admin`);
//! every change needs the session's CSRF token and, when the browser says where it comes from,
//! this console's own origin; every answer forbids framing, sniffing, caching and any script not
//! served from here; nothing it answers holds a secret.

mod api;
mod assets;
pub mod auth;
mod desk;
mod enrolling;
mod profiles;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::config::WorkerConfig;
use crate::store::AsyncStore;

/// The console of one worker.
#[derive(Debug, Clone)]
pub struct Console {
    config: Arc<WorkerConfig>,
    store: AsyncStore,
    /// Poked when a retry or attach queues a job, so the worker takes it at once.
    wake: Arc<Notify>,
    /// Logins per address and name, and password checks at once.
    logins: Arc<auth::LoginLimits>,
    /// Served over HTTPS: the cookie is `Secure`.
    secure: bool,
    /// One Autotask client per profile for the console's searches, made when first needed.
    clients: Arc<std::sync::Mutex<std::collections::HashMap<String, crate::autotask::AutotaskClient>>>,
    /// The desk's feeds, where this worker serves a desk: what the overview says of the webhooks.
    feeds: Option<crate::gateway::feed::Feeds>,
}

impl Console {
    pub fn new(config: Arc<WorkerConfig>, store: AsyncStore, wake: Arc<Notify>, secure: bool) -> Console {
        let (logins, clients) = Default::default();
        Console { config, store, wake, logins, secure, clients, feeds: None }
    }

    /// Says in the overview how the desk's ticket webhooks are.
    pub fn with_desk_feeds(self, feeds: crate::gateway::feed::Feeds) -> Console {
        Console { feeds: Some(feeds), ..self }
    }

    /// The profile's Autotask client (its zone found once).
    /// A profile by name, with its Autotask client; else why not, as [`refuse`] answers it.
    fn profile_and_client(
        &self,
        name: &str,
    ) -> Result<(&crate::config::Profile, crate::autotask::AutotaskClient), (StatusCode, String)> {
        let Some(profile) = self.config.profile(name) else {
            return Err((StatusCode::NOT_FOUND, format!("no profile is named '{name}'")));
        };
        let client = self.autotask(profile).map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e))?;
        Ok((profile, client))
    }

    fn autotask(&self, profile: &crate::config::Profile) -> Result<crate::autotask::AutotaskClient, String> {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(client) = clients.get(&profile.name) {
            return Ok(client.clone());
        }
        let client = crate::autotask::AutotaskClient::new(profile.autotask.clone()).map_err(|e| e.to_string())?;
        clients.insert(profile.name.clone(), client.clone());
        Ok(client)
    }

    pub fn router(self) -> Router {
        let signed_in = Router::new()
            .route("/", get(|| async { assets::html(assets::INDEX) }))
            .route("/console.js", get(|| async { assets::script(assets::CONSOLE_JS) }))
            .route("/dom.js", get(|| async { assets::script(assets::DOM_JS) }))
            .route("/form.js", get(|| async { assets::script(assets::FORM_JS) }))
            .route("/api/session", get(api::session))
            .route("/api/logout", post(api::logout))
            .route("/api/overview", get(api::overview))
            .route("/api/requests", get(api::requests))
            .route("/api/jobs", get(api::jobs))
            .route("/api/jobs/{id}/retry", post(api::retry))
            .route("/api/jobs/{id}/history", get(api::history))
            .route("/api/unlinked", get(api::unlinked))
            .route("/api/unlinked/attach", post(api::attach))
            .route("/api/unlinked/dismiss", post(api::dismiss))
            .route("/api/activity", get(api::activity))
            .route("/api/activity.csv", get(api::activity_csv))
            .route("/api/reps", get(desk::reps))
            .route("/api/reps/enrol", post(desk::enrol))
            .route("/api/reps/revoke", post(desk::revoke))
            .route("/api/reps/groups", get(enrolling::groups))
            .route("/api/reps/candidates", get(enrolling::candidates))
            .route("/api/reps/enrol-many", post(enrolling::enrol_many))
            .route("/api/check", get(desk::check))
            .route("/api/livelinks", get(desk::livelinks))
            .route("/api/search", get(desk::search))
            .route("/api/profiles", get(profiles::list))
            .route("/api/profiles/save", post(profiles::save))
            .route("/api/profiles/secret", post(profiles::secret))
            .route_layer(axum::middleware::from_fn_with_state(self.clone(), signed_in));
        let bound = crate::serve::body::Bound {
            limit: self.config.serving.request_body_limit,
            within: self.config.serving.request_read_timeout,
        };
        let pages = Router::new()
            .route("/healthz", get(health))
            .route("/login", get(|| async { assets::html(assets::LOGIN) }))
            .route("/login.js", get(|| async { assets::script(assets::LOGIN_JS) }))
            .route("/console.css", get(|| async { assets::style(assets::CSS) }))
            .route("/api/login", post(api::login))
            .merge(signed_in)
            .fallback(|| async { refuse(StatusCode::NOT_FOUND, "no such page") })
            .layer(axum::middleware::map_response(guarded));
        crate::serve::body::bounded(pages, bound).with_state(self)
    }

    /// Serves the console (over HTTPS with `certificate`) until `shutdown` completes.
    pub async fn serve_on(
        self,
        listener: TcpListener,
        certificate: Option<Arc<crate::serve::ReloadingCertificate>>,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let serving = self.config.serving.clone();
        crate::serve::serve("console", listener, self.router(), certificate, &serving, shutdown).await
    }

    /// Refuses a change whose page is not this console's: the browser's `Origin`, when it sends
    /// one, must be `console_url`'s or this request's own (`scheme://` and the authority the
    /// browser asked for — HTTP/2's `:authority`, HTTP/1.1's `Host`). A refusal is logged with
    /// what was compared.
    fn foreign_origin(&self, headers: &HeaderMap, uri: &Uri) -> Option<Response> {
        let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok())?;
        let scheme = if self.secure { "https" } else { "http" };
        let authority = uri
            .authority()
            .map(|a| a.as_str().to_owned())
            .or_else(|| headers.get(header::HOST).and_then(|v| v.to_str().ok()).map(str::to_owned));
        let reached = authority.as_deref().map(|a| format!("{scheme}://{a}"));
        let configured = self.config.console_url.as_ref().map(|u| u.origin().ascii_serialization());
        let same = |expected: &Option<String>| expected.as_deref().is_some_and(|e| same_origin(origin, e));
        if same(&reached) || same(&configured) {
            return None;
        }
        tracing::warn!(
            origin,
            reached = reached.as_deref().unwrap_or("(no host named)"),
            console_url = configured.as_deref().unwrap_or("(not set)"),
            "console: refused a change whose page is not this console's (set console_url to the address browsers use)"
        );
        Some(refuse(StatusCode::FORBIDDEN, "refused: the request does not come from this console's page"))
    }
}

/// Whether two origins are the same: scheme, host (without case) and port, a default port as
/// good as none.
fn same_origin(a: &str, b: &str) -> bool {
    match (url::Url::parse(a), url::Url::parse(b)) {
        (Ok(a), Ok(b)) => a.origin() == b.origin(),
        _ => false,
    }
}

/// Up or not, as every listener answers it.
async fn health(State(console): State<Console>) -> Response {
    crate::intake::bare_health(&console.store).await
}

/// A change made in the console, for the activity log (`summary` names the admin).
fn change(profile: &str, summary: String) -> crate::store::ActivityLine {
    crate::store::ActivityLine {
        profile: profile.to_owned(),
        lsid: None,
        ticket_id: None,
        level: "info",
        summary,
        details: None,
        job_id: None,
        rep: None,
    }
}

impl Console {
    /// Adds a change to the activity log; a store that fails answers 500.
    async fn log(&self, line: crate::store::ActivityLine) -> Result<(), Response> {
        let logged = self.store.run(move |s| s.log_activity(&line, chrono::Utc::now())).await;
        logged.map(|_| ()).map_err(api::failed)
    }
}

/// An answer with what went wrong, as the pages show it.
fn refuse(status: StatusCode, error: impl Into<String>) -> Response {
    (status, Json(serde_json::json!({"error": error.into()}))).into_response()
}

/// The admin's session, or the login page (a page) or 401 (the API); a change also needs the
/// session's CSRF token and a request from this console's own origin.
async fn signed_in(State(console): State<Console>, mut request: Request, next: Next) -> Response {
    let token = cookie(request.headers(), auth::COOKIE);
    // An admin removed or given a new password is out at once, whatever session they hold.
    let found = match token.as_deref() {
        Some(token) => auth::find_session(&console.store, token).await,
        None => Ok(None),
    };
    let session = match found {
        Ok(session) => session,
        Err(e) => return api::failed(e),
    };
    let Some(session) = session else {
        if request.uri().path().starts_with("/api/") {
            return refuse(StatusCode::UNAUTHORIZED, "log in first");
        }
        return Redirect::to("/login").into_response();
    };
    if request.method() != Method::GET {
        if let Some(refused) = console.foreign_origin(request.headers(), request.uri()) {
            return refused;
        }
        let sent = request.headers().get("x-csrf-token").and_then(|v| v.to_str().ok()).unwrap_or_default();
        if !auth::same(sent, &session.csrf) {
            return refuse(
                StatusCode::FORBIDDEN,
                "refused: the page's CSRF token is missing or stale; reload the page",
            );
        }
    }
    request.extensions_mut().insert(session);
    next.run(request).await
}

/// A cookie's value from the request's Cookie headers.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// Every answer: scripts and styles only from here, never in a frame, never sniffed or cached.
async fn guarded(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        ("content-security-policy", "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"),
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("cache-control", "no-store"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// The client's address (for slowing wrong passwords).
fn address(connection: Option<axum::Extension<ConnectInfo<SocketAddr>>>) -> std::net::IpAddr {
    connection.map_or(std::net::IpAddr::from([0, 0, 0, 0]), |axum::Extension(ConnectInfo(a))| a.ip())
}
