//! The Autotask REST client: finds the zone, authenticates every call, keeps to the limits,
//! retries what is safe to retry, and turns every failure into one [`Error`].
//!
//! Writes (create, child create) are retried only when Autotask certainly did not act on them
//! (429, or a connection that never opened). After a 5xx or a lost answer the write may have
//! happened, so the error says so and the caller decides — the worker looks for its marker.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{Stream, TryStreamExt};
use rand::Rng;
use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::OnceCell;
use url::Url;

use super::error::{Error, ErrorKind, Operation};
use super::limiter::{Limiter, Pressure, Usage};
use super::models::{ChildEntity, Entity};
use super::picklist::{EntityAccess, EntityFields, EntityInformation};
use super::query::Query;
use super::settings::{AutotaskSettings, services_root, web_root_for};
use crate::transport_policy::secure_url;

/// Where one Autotask database lives.
#[derive(Debug, Clone, PartialEq)]
pub struct Zone {
    /// The REST root including the version: `https://webservices5.autotask.net/atservicesrest/v1.0/`.
    pub api_root: Url,
    /// The web UI root: `https://ww5.autotask.net/`.
    pub web_root: Url,
}

impl Zone {
    fn from_services_root(root: &Url) -> Result<Zone, Error> {
        let api_root = root
            .join("v1.0/")
            .map_err(|e| Error::settings(format!("the Autotask Services URL cannot take a version path: {e}")))?;
        Ok(Zone { api_root, web_root: web_root_for(root) })
    }

    /// Opens a ticket in the Autotask web UI.
    pub fn ticket_url(&self, ticket_id: i64) -> Url {
        ticket_url(&self.web_root, ticket_id)
    }
}

/// A ticket in the Autotask web UI at `web_root` (ExecuteCommand's OpenTicketDetail).
pub fn ticket_url(web_root: &Url, ticket_id: i64) -> Url {
    execute_command(web_root, "OpenTicketDetail", "TicketID", &ticket_id.to_string())
}

/// A ticket by its number (`T20261124.0042`) in the Autotask web UI: ExecuteCommand's Ticket
/// Detail by Ticket Number, which needs no lookup of its id.
pub fn ticket_number_url(web_root: &Url, number: &str) -> Url {
    execute_command(web_root, "OpenTicketDetail", "TicketNumber", number)
}

fn execute_command(web_root: &Url, code: &str, parameter: &str, value: &str) -> Url {
    let mut url = web_root.clone();
    url.set_path(&format!("{}Autotask/AutotaskExtend/ExecuteCommand.aspx", web_root.path()));
    url.query_pairs_mut().append_pair("Code", code).append_pair(parameter, value);
    url
}

/// A typed client for one Autotask API user. Cheap to clone; clones share limits and caches.
#[derive(Clone, Debug)]
pub struct AutotaskClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    settings: AutotaskSettings,
    zone: OnceCell<Zone>,
    limiter: Limiter,
    fields: Mutex<HashMap<&'static str, Arc<EntityFields>>>,
    refreshing_usage: AtomicBool,
}

/// One page of a query.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<E> {
    pub items: Vec<E>,
    pub page_details: PageDetails,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageDetails {
    #[serde(default)]
    pub count: u64,
    #[serde(default)]
    pub next_page_url: Option<String>,
}

/// `ThresholdInformation`: the database's hourly request limit and how much of it is used.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThresholdInformation {
    pub external_request_threshold: u64,
    #[serde(default)]
    pub request_threshold_timeframe: u64,
    pub current_timeframe_request_count: u64,
}

#[derive(Deserialize)]
struct ItemEnvelope<E> {
    item: Option<E>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ItemId {
    item_id: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryCount {
    query_count: u64,
}

#[derive(Deserialize)]
struct ZoneInformation {
    url: String,
    #[serde(rename = "webUrl")]
    web_url: Option<String>,
}

/// Where a request goes.
enum Target {
    /// Relative to the zone's API root (`Tickets/query`).
    Api(String),
    /// A full URL (zone discovery, a next-page link).
    Absolute(Url),
}

struct Call<'a> {
    operation: Operation,
    entity: &'a str,
    method: Method,
    target: Target,
    body: Option<Vec<u8>>,
    /// Zone discovery is not authenticated; everything else is.
    authenticated: bool,
    /// Counts toward pacing and threshold checks (all but the threshold reading itself).
    paced: bool,
    /// The resource a write is made as (`ImpersonationResourceId`); never on a read, which
    /// Autotask refuses with it.
    as_resource: Option<i64>,
}

/// How one attempt failed.
enum Failure {
    Status { status: StatusCode, retry_after: Option<Duration>, body: Bytes },
    Network(reqwest::Error),
}

impl AutotaskClient {
    /// Checks the settings and builds the client; no request is made yet.
    pub fn new(settings: AutotaskSettings) -> Result<AutotaskClient, Error> {
        let problems = settings.problems();
        if !problems.is_empty() {
            return Err(Error::settings(problems.join("; ")));
        }
        let http = reqwest::Client::builder()
            .timeout(settings.limits.request_timeout)
            .connect_timeout(Duration::from_secs(15))
            .user_agent(concat!("bt-autotask/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::settings(format!("the HTTP client could not start: {e}")))?;
        let limiter = Limiter::new(settings.limits.clone());
        Ok(AutotaskClient {
            inner: Arc::new(Inner {
                http,
                settings,
                zone: OnceCell::new(),
                limiter,
                fields: Mutex::new(HashMap::new()),
                refreshing_usage: AtomicBool::new(false),
            }),
        })
    }

    pub fn settings(&self) -> &AutotaskSettings {
        &self.inner.settings
    }

    /// The zone: from the Services URL if one is set, else discovered once and cached.
    /// The zone of the settings' API user when its secrets are not at hand (`livelinks` on a
    /// server without a keyring session): discovery is unauthenticated and a Services URL needs
    /// no request, so the placeholders set here are never sent.
    pub async fn zone_without_secrets(settings: &AutotaskSettings) -> Result<Zone, Error> {
        let mut settings = settings.clone();
        settings.secret = crate::Secret::new("unused: zone discovery sends no credentials");
        settings.integration_code = crate::Secret::new("unused");
        Ok(AutotaskClient::new(settings)?.zone().await?.clone())
    }

    pub async fn zone(&self) -> Result<&Zone, Error> {
        self.inner.zone.get_or_try_init(|| self.find_zone()).await
    }

    async fn find_zone(&self) -> Result<Zone, Error> {
        if let Some(services) = &self.inner.settings.services_url {
            let root = services_root(services).map_err(Error::settings)?;
            return Zone::from_services_root(&root);
        }
        let settings = &self.inner.settings;
        let base = secure_url(&settings.discovery_url, "the zone discovery URL").map_err(Error::settings)?;
        let mut base = base;
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let mut url = base
            .join("v1.0/zoneInformation")
            .map_err(|e| Error::settings(format!("the zone discovery URL cannot be extended: {e}")))?;
        url.query_pairs_mut().append_pair("user", &settings.username);
        let call = Call {
            operation: Operation::ZoneDiscovery,
            entity: &settings.username,
            method: Method::GET,
            target: Target::Absolute(url.clone()),
            body: None,
            authenticated: false,
            paced: false,
            as_resource: None,
        };
        let info: ZoneInformation = self.send(&call, url).await.map_err(|e| match e.kind {
            ErrorKind::NotFound | ErrorKind::Rejected | ErrorKind::Server => Error {
                kind: ErrorKind::Credentials,
                detail: Some(format!("Autotask found no zone for the API username '{}'", settings.username)),
                ..e
            },
            _ => e,
        })?;
        let unexpected = |detail: String| {
            Error::new(Operation::ZoneDiscovery, &settings.username, ErrorKind::UnexpectedResponse).with_detail(detail)
        };
        let root = services_root(&info.url).map_err(unexpected)?;
        let mut zone = Zone::from_services_root(&root)?;
        if let Some(web) = info.web_url {
            zone.web_root = secure_url(&web, "the zone's web URL").map_err(unexpected)?;
        }
        tracing::debug!(api_root = %zone.api_root, "Autotask zone discovered");
        Ok(zone)
    }

    /// One record by id; `None` when Autotask has none.
    pub async fn get<E: Entity>(&self, id: i64) -> Result<Option<E>, Error> {
        let call = self.api_call(Operation::Get, E::NAME, Method::GET, format!("{}/{id}", E::NAME), None);
        match self.call::<ItemEnvelope<E>>(call).await {
            Ok(envelope) => Ok(envelope.item),
            Err(e) if e.kind == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The first page of a query.
    pub async fn query_page<E: Entity>(&self, query: &Query) -> Result<Page<E>, Error> {
        if let Some(problem) = query.page_size_problem() {
            return Err(Error::new(Operation::Query, E::NAME, ErrorKind::Rejected).with_detail(problem));
        }
        let body = to_json(Operation::Query, E::NAME, query)?;
        let call = self.api_call(Operation::Query, E::NAME, Method::POST, format!("{}/query", E::NAME), Some(body));
        self.call(call).await
    }

    /// The page a `nextPageUrl` points at; it must stay on the zone's own server.
    pub async fn next_page<E: Entity>(&self, next_page_url: &str) -> Result<Page<E>, Error> {
        let zone = self.zone().await?;
        let url = Url::parse(next_page_url).ok().filter(|u| u.origin() == zone.api_root.origin()).ok_or_else(|| {
            Error::new(Operation::Query, E::NAME, ErrorKind::UnexpectedResponse)
                .with_detail(format!("the next-page link leaves the zone's server: {next_page_url}"))
        })?;
        let call = Call {
            operation: Operation::Query,
            entity: E::NAME,
            method: Method::GET,
            target: Target::Absolute(url),
            body: None,
            authenticated: true,
            paced: true,
            as_resource: None,
        };
        self.call(call).await
    }

    /// Every matching record, page after page: the next page is fetched only when the
    /// previous one has been consumed, so memory stays at about one page.
    pub fn query<E: Entity>(&self, query: Query) -> impl Stream<Item = Result<E, Error>> + Send + 'static {
        enum Next {
            First(Query),
            Link(String),
            Done,
        }
        let client = self.clone();
        futures::stream::try_unfold(Next::First(query), move |next| {
            let client = client.clone();
            async move {
                let (page, this_link): (Page<E>, Option<String>) = match next {
                    Next::First(q) => (client.query_page(&q).await?, None),
                    Next::Link(url) => (client.next_page(&url).await?, Some(url)),
                    Next::Done => return Ok(None),
                };
                let next_link = page.page_details.next_page_url.clone();
                // A page that links to itself would be followed forever.
                if next_link.is_some() && next_link == this_link {
                    return Err(Error::new(Operation::Query, E::NAME, ErrorKind::UnexpectedResponse)
                        .with_detail("a page's next-page link points at the page itself"));
                }
                let next = next_link.map_or(Next::Done, Next::Link);
                Ok(Some((futures::stream::iter(page.items.into_iter().map(Ok)), next)))
            }
        })
        .try_flatten()
    }

    /// Every matching record, collected.
    pub async fn query_all<E: Entity>(&self, query: Query) -> Result<Vec<E>, Error> {
        self.query(query).try_collect().await
    }

    /// How many records match, without fetching them.
    pub async fn count<E: Entity>(&self, query: &Query) -> Result<u64, Error> {
        let body = to_json(Operation::Count, E::NAME, query)?;
        let path = format!("{}/query/count", E::NAME);
        let call = self.api_call(Operation::Count, E::NAME, Method::POST, path, Some(body));
        Ok(self.call::<QueryCount>(call).await?.query_count)
    }

    /// Creates a record; returns its new id.
    pub async fn create<E: Entity>(&self, item: &E) -> Result<i64, Error> {
        self.create_as(item, None).await
    }

    /// Creates a record as `as_resource` (its creator; the API user its impersonator) — unless
    /// the settings name a fixed resource every write is made as; returns its new id.
    pub async fn create_as<E: Entity>(&self, item: &E, as_resource: Option<i64>) -> Result<i64, Error> {
        let body = to_json(Operation::Create, E::NAME, item)?;
        let call = self.write_call(Method::POST, E::NAME, E::NAME.to_owned(), body, as_resource);
        Ok(self.call::<ItemId>(call).await?.item_id)
    }

    /// Creates a record under its parent (a note under its ticket); returns its new id.
    pub async fn create_child<E: ChildEntity>(&self, parent_id: i64, item: &E) -> Result<i64, Error> {
        self.create_child_as(parent_id, item, None).await
    }

    /// [`create_child`](Self::create_child) as `as_resource`, like [`create_as`](Self::create_as).
    pub async fn create_child_as<E: ChildEntity>(
        &self,
        parent_id: i64,
        item: &E,
        as_resource: Option<i64>,
    ) -> Result<i64, Error> {
        let body = to_json(Operation::Create, E::NAME, item)?;
        let path = format!("{}/{parent_id}/{}", E::PARENT, E::CHILD_PATH);
        let call = self.write_call(Method::POST, E::NAME, path, body, as_resource);
        Ok(self.call::<ItemId>(call).await?.item_id)
    }

    /// Changes the fields set in `changes` on the record it names by `id`.
    pub async fn update<E: Entity>(&self, changes: &E) -> Result<i64, Error> {
        let body = to_json(Operation::Update, E::NAME, changes)?;
        let call = self.write_call(Method::PATCH, E::NAME, E::NAME.to_owned(), body, None);
        Ok(self.call::<ItemId>(call).await?.item_id)
    }

    /// A create or update, made as the settings' fixed resource if they name one, else as `as_resource`.
    fn write_call<'a>(
        &self,
        method: Method,
        entity: &'a str,
        path: String,
        body: Vec<u8>,
        as_resource: Option<i64>,
    ) -> Call<'a> {
        let operation = if method == Method::PATCH { Operation::Update } else { Operation::Create };
        let as_resource = self.inner.settings.impersonation_resource_id.or(as_resource);
        Call { as_resource, ..self.api_call(operation, entity, method, path, Some(body)) }
    }

    /// The entity's fields and picklists, read once and cached for the client's life.
    pub async fn fields<E: Entity>(&self) -> Result<Arc<EntityFields>, Error> {
        if let Some(cached) = self.lock_fields().get(E::NAME) {
            return Ok(cached.clone());
        }
        let path = format!("{}/entityInformation/fields", E::NAME);
        let call = self.api_call(Operation::FieldInformation, E::NAME, Method::GET, path, None);
        let fields = Arc::new(self.call::<EntityFields>(call).await?);
        self.lock_fields().insert(E::NAME, fields.clone());
        Ok(fields)
    }

    /// What the API user's security level lets it do with the entity (`entityInformation`).
    pub async fn access<E: Entity>(&self) -> Result<EntityAccess, Error> {
        let path = format!("{}/entityInformation", E::NAME);
        let call = self.api_call(Operation::EntityInformation, E::NAME, Method::GET, path, None);
        Ok(self.call::<EntityInformation>(call).await?.info)
    }

    fn lock_fields(&self) -> std::sync::MutexGuard<'_, HashMap<&'static str, Arc<EntityFields>>> {
        self.inner.fields.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads `ThresholdInformation` now and adjusts the pacing to it.
    pub async fn refresh_usage(&self) -> Result<Usage, Error> {
        let call = Call {
            operation: Operation::ThresholdInformation,
            entity: "ThresholdInformation",
            method: Method::GET,
            target: Target::Api("ThresholdInformation".to_owned()),
            body: None,
            authenticated: true,
            paced: false,
            as_resource: None,
        };
        let info: ThresholdInformation = self.call(call).await?;
        let usage = Usage::new(info.current_timeframe_request_count, info.external_request_threshold);
        self.inner.limiter.record(usage);
        crate::metrics::global().threshold_used(usage.used, usage.limit);
        if usage.pressure > Pressure::Normal {
            tracing::warn!(
                used = usage.used,
                limit = usage.limit,
                "Autotask request threshold is filling; slowing down"
            );
        }
        Ok(usage)
    }

    /// The last threshold reading, if any.
    /// Takes a threshold reading made elsewhere for the same database (the desk's worker tells
    /// its apps), so that this client need not ask `ThresholdInformation` itself.
    pub fn usage_told(&self, used: u64, limit: u64) {
        self.inner.limiter.told(Usage::new(used, limit));
    }

    pub fn usage(&self) -> Option<Usage> {
        self.inner.limiter.usage()
    }

    /// How hard the client is currently holding back.
    pub fn pressure(&self) -> Pressure {
        self.inner.limiter.pressure()
    }

    /// Starts a background threshold reading when one is due; never delays the caller.
    fn refresh_usage_if_due(&self) {
        if !self.inner.limiter.check_due() || self.inner.refreshing_usage.swap(true, Ordering::AcqRel) {
            return;
        }
        let client = self.clone();
        tokio::spawn(async move {
            if let Err(e) = client.refresh_usage().await {
                tracing::debug!("could not read Autotask's request threshold: {e}");
            }
            client.inner.refreshing_usage.store(false, Ordering::Release);
        });
    }

    fn api_call<'a>(
        &self,
        operation: Operation,
        entity: &'a str,
        method: Method,
        path: String,
        body: Option<Vec<u8>>,
    ) -> Call<'a> {
        Call {
            operation,
            entity,
            method,
            target: Target::Api(path),
            body,
            authenticated: true,
            paced: true,
            as_resource: None,
        }
    }

    /// Resolves the call's target against the zone, then sends it.
    async fn call<T: DeserializeOwned>(&self, call: Call<'_>) -> Result<T, Error> {
        let url = match &call.target {
            Target::Api(path) => self.zone().await?.api_root.join(path).map_err(|e| {
                Error::new(call.operation, call.entity, ErrorKind::Settings)
                    .with_detail(format!("bad path {path}: {e}"))
            })?,
            Target::Absolute(url) => url.clone(),
        };
        self.send(&call, url).await
    }

    /// Sends a call within the limits, retries what is safe to retry, and decodes the answer.
    async fn send<T: DeserializeOwned>(&self, call: &Call<'_>, url: Url) -> Result<T, Error> {
        let limits = &self.inner.settings.limits;
        let mut attempt = 0;
        loop {
            if call.paced {
                self.refresh_usage_if_due();
            }
            let permit = self.inner.limiter.acquire(call.entity, call.paced).await;
            let started = Instant::now();
            let outcome = self.send_once(call, &url).await;
            drop(permit);
            let record = |outcome: &str| {
                let operation = format!("{:?}", call.operation).to_ascii_lowercase();
                crate::metrics::global().autotask_call(call.entity, &operation, outcome)
            };
            let failure = match outcome {
                Ok(body) => {
                    record("ok");
                    return decode(call, &body);
                }
                Err(f) => f,
            };
            let error = self.describe(call, &failure);
            record(&format!("{:?}", error.kind).to_ascii_lowercase());
            tracing::debug!(operation = %call.operation, entity = call.entity, attempt, elapsed_ms = started.elapsed().as_millis() as u64, "Autotask call failed: {error}");
            if error.kind == ErrorKind::Rejected {
                return Err(error); // Autotask said why; the same request would be refused again
            }
            let retry = match &failure {
                Failure::Status { status, retry_after, .. } if *status == StatusCode::TOO_MANY_REQUESTS => {
                    self.inner.limiter.note_exhausted();
                    match retry_after {
                        Some(wait) if *wait <= limits.retry_after_max => Some(*wait),
                        Some(_) => None,
                        None => Some(backoff(limits, attempt)),
                    }
                }
                Failure::Status { status, .. } if status.is_server_error() && is_idempotent(call.operation) => {
                    Some(backoff(limits, attempt))
                }
                Failure::Network(e) if e.is_connect() || is_idempotent(call.operation) => {
                    Some(backoff(limits, attempt))
                }
                _ => None,
            };
            match retry {
                Some(delay) if attempt < limits.max_retries => {
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                _ => return Err(error),
            }
        }
    }

    async fn send_once(&self, call: &Call<'_>, url: &Url) -> Result<Bytes, Failure> {
        let mut request = self.inner.http.request(call.method.clone(), url.clone());
        if call.authenticated {
            request = request.headers(self.auth_headers());
        }
        if let Some(id) = call.as_resource {
            request = request.header("ImpersonationResourceId", id.to_string());
        }
        if let Some(body) = &call.body {
            request = request.header(reqwest::header::CONTENT_TYPE, "application/json").body(body.clone());
        }
        let response =
            request.header(reqwest::header::ACCEPT, "application/json").send().await.map_err(Failure::Network)?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = response.bytes().await.map_err(Failure::Network)?;
        if status.is_success() { Ok(body) } else { Err(Failure::Status { status, retry_after, body }) }
    }

    fn auth_headers(&self) -> HeaderMap {
        let settings = &self.inner.settings;
        let mut headers = HeaderMap::new();
        let mut add = |name: &'static str, value: &str, sensitive: bool| {
            if let Ok(mut v) = HeaderValue::from_str(value) {
                v.set_sensitive(sensitive);
                headers.insert(name, v);
            }
        };
        add("ApiIntegrationCode", settings.integration_code.expose(), true);
        add("UserName", &settings.username, false);
        add("Secret", settings.secret.expose(), true);
        headers
    }

    fn describe(&self, call: &Call<'_>, failure: &Failure) -> Error {
        let error = Error::new(call.operation, call.entity, ErrorKind::Network);
        match failure {
            Failure::Network(e) => {
                let kind = if e.is_connect() || is_idempotent(call.operation) {
                    ErrorKind::Network
                } else {
                    ErrorKind::Ambiguous
                };
                let host = match &call.target {
                    Target::Absolute(u) => u.host_str().map(str::to_owned),
                    Target::Api(_) => self.inner.zone.get().and_then(|z| z.api_root.host_str().map(str::to_owned)),
                };
                let what = if e.is_timeout() {
                    "the request timed out"
                } else if e.is_connect() {
                    "the connection failed"
                } else {
                    "the connection broke"
                };
                let host = host.map(|h| format!(" to {h}")).unwrap_or_default();
                Error { kind, detail: Some(format!("{what}{host}")), ..error }
            }
            Failure::Status { status, body, .. } => {
                let kind = match status.as_u16() {
                    401 => ErrorKind::Credentials,
                    403 => ErrorKind::Permission,
                    404 => ErrorKind::NotFound,
                    429 => ErrorKind::ThresholdExceeded,
                    // Autotask answers a broken rule 500 with its reasons; nothing was written.
                    500 if is_rule_violation(body) => ErrorKind::Rejected,
                    500..=599 if !is_idempotent(call.operation) => ErrorKind::Ambiguous,
                    500..=599 => ErrorKind::Server,
                    _ => ErrorKind::Rejected,
                };
                Error { kind, status: Some(status.as_u16()), messages: error_messages(body), ..error }
            }
        }
    }
}

/// Reads, queries and updates may be sent again safely; creates may not.
fn is_idempotent(operation: Operation) -> bool {
    !matches!(operation, Operation::Create)
}

/// Exponential backoff with jitter: base × 2^attempt, scaled by a random 50–100 %.
fn backoff(limits: &super::settings::Limits, attempt: u32) -> Duration {
    let exp = limits.retry_base_delay.saturating_mul(1u32 << attempt.min(16));
    let capped = exp.min(limits.retry_max_delay);
    capped.mul_f64(rand::rng().random_range(0.5..=1.0))
}

fn to_json<T: serde::Serialize>(operation: Operation, entity: &str, value: &T) -> Result<Vec<u8>, Error> {
    serde_json::to_vec(value).map_err(|e| {
        Error::new(operation, entity, ErrorKind::Rejected).with_detail(format!("could not encode the request: {e}"))
    })
}

fn decode<T: DeserializeOwned>(call: &Call<'_>, body: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(body).map_err(|e| {
        Error::new(call.operation, call.entity, ErrorKind::UnexpectedResponse)
            .with_detail(format!("the answer could not be read: {e}"))
    })
}

/// Whether a 500 is Autotask refusing the request for a rule it broke — a JSON body with a
/// non-empty `errors` array — rather than an outage (an HTML page, an empty body, a bare `Message`).
fn is_rule_violation(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("errors").and_then(Value::as_array).map(|list| !list.is_empty()))
        .unwrap_or(false)
}

/// Autotask's `errors` array; failing that, an ASP.NET `Message`, or the start of the text.
fn error_messages(body: &[u8]) -> Vec<String> {
    if let Ok(value) = serde_json::from_slice::<Value>(body) {
        if let Some(list) = value.get("errors").and_then(Value::as_array) {
            return list.iter().map(|m| m.as_str().map_or_else(|| m.to_string(), str::to_owned)).collect();
        }
        if let Some(message) = value.get("Message").or_else(|| value.get("message")).and_then(Value::as_str) {
            return vec![message.to_owned()];
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() { Vec::new() } else { vec![text.chars().take(300).collect()] }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticket_url_opens_the_ticket_detail() {
        let root = services_root("https://webservices5.autotask.net/ATServicesRest").unwrap();
        let zone = Zone::from_services_root(&root).unwrap();
        assert_eq!(zone.api_root.as_str(), "https://webservices5.autotask.net/ATServicesRest/v1.0/");
        assert_eq!(
            zone.ticket_url(7201).as_str(),
            "https://ww5.autotask.net/Autotask/AutotaskExtend/ExecuteCommand.aspx?Code=OpenTicketDetail&TicketID=7201"
        );
    }

    #[test]
    fn error_messages_from_every_shape() {
        assert_eq!(error_messages(br#"{"errors":["a","b"]}"#), vec!["a", "b"]);
        assert_eq!(
            error_messages(br#"{"Message":"Authorization has been denied"}"#),
            vec!["Authorization has been denied"]
        );
        assert_eq!(error_messages(b"<html>Bad Gateway</html>"), vec!["<html>Bad Gateway</html>"]);
        assert!(error_messages(b"").is_empty());
    }

    #[test]
    fn only_a_500_carrying_errors_is_a_rule_violation() {
        assert!(is_rule_violation(br#"{"errors":["TimeEntry.summaryNotes can not be blank."]}"#));
        assert!(!is_rule_violation(br#"{"errors":[]}"#));
        assert!(!is_rule_violation(br#"{"Message":"An error has occurred."}"#));
        assert!(!is_rule_violation(b"<html><body>Service Unavailable</body></html>"));
        assert!(!is_rule_violation(b""));
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let limits = super::super::settings::Limits {
            retry_base_delay: Duration::from_millis(100),
            retry_max_delay: Duration::from_millis(350),
            ..Default::default()
        };
        assert!(backoff(&limits, 0) <= Duration::from_millis(100));
        assert!(backoff(&limits, 0) >= Duration::from_millis(50));
        assert!(backoff(&limits, 10) <= Duration::from_millis(350));
    }
}
