//! Outbound event intake: the HTTP listener the appliance posts to (`/ERSPost[?appliance=<id>]`).
//! Each event is stored durably and only then answered 200; nothing here ever calls BeyondTrust
//! or Autotask, because the appliance holds its whole queue until it gets that 200. Served by
//! [`crate::serve`] (plain HTTP by default; HTTPS with a certificate reloaded when it changes),
//! with the reps' gateway beside it. `/healthz` says up or not to anyone; its details and
//! `/metrics` only to the addresses `monitoring_allowlist` names.

mod batch;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;
use tokio::net::TcpListener;

use crate::beyondtrust::parse_event;
use crate::config::{SeedEvent, WorkerConfig};
use crate::store::{Accepted, AsyncStore, JobState, NewEvent, Source};

#[derive(Debug, Clone)]
pub struct Intake {
    config: Arc<WorkerConfig>,
    store: AsyncStore,
    /// Keeps the events, several to a transaction when they arrive together.
    keeper: batch::Keeper,
    /// Called after an event is stored, to wake the pipeline.
    wake: Arc<tokio::sync::Notify>,
    /// The desk's endpoints, served beside the events (none unless a profile serves the desk).
    desk: Option<crate::gateway::server::DeskServer>,
}

/// The label every appliance id no profile has counts under in `/metrics`: labels come from the
/// configuration alone, so a flood of made-up ids cannot grow them.
const UNKNOWN_APPLIANCE: &str = "(unknown appliance)";

#[derive(Debug, Deserialize)]
struct Target {
    appliance: Option<String>,
}

impl Intake {
    pub fn new(config: Arc<WorkerConfig>, store: AsyncStore, wake: Arc<tokio::sync::Notify>) -> Intake {
        let keeper = batch::Keeper::start(store.clone());
        Intake { config, store, keeper, wake, desk: None }
    }

    /// How current each profile's copy of the tickets is (none without the desk's endpoints).
    async fn ticket_copies(
        &self,
    ) -> Vec<(String, Result<crate::gateway::copy::Freshness, crate::gateway::copy::CopyError>)> {
        match &self.desk {
            Some(desk) => desk.ticket_copies().await,
            None => Vec::new(),
        }
    }

    /// Serves the desk's `/desk/*` endpoints too.
    pub fn with_desk(mut self, desk: crate::gateway::server::DeskServer) -> Intake {
        self.desk = Some(desk);
        self
    }

    pub fn router(self) -> Router {
        use crate::serve::body::{Bound, bounded};
        let serving = &self.config.serving;
        let events = Bound { limit: serving.event_body_limit, within: serving.request_read_timeout };
        let requests = Bound { limit: serving.request_body_limit, within: serving.request_read_timeout };
        let counted = axum::middleware::from_fn_with_state(self.clone(), count_answer);
        let desk = self.desk.clone().map(|d| bounded(d.routes(), requests)).unwrap_or_default();
        let intake = bounded(Router::new().route("/ERSPost", post(receive).layer(counted)), events);
        intake.route("/healthz", get(health)).route("/metrics", get(metrics)).with_state(self).merge(desk)
    }

    /// Serves the listener (over TLS with `certificate`) until `shutdown` completes, open
    /// connections finishing.
    pub async fn serve_on(
        self,
        listener: TcpListener,
        certificate: Option<Arc<crate::serve::ReloadingCertificate>>,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let serving = self.config.serving.clone();
        crate::serve::serve("intake", listener, self.router(), certificate, &serving, shutdown).await
    }

    /// Serves the listener over plain HTTP until `shutdown` completes.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        self.serve_on(listener, None, shutdown).await
    }
}

fn answer(status: StatusCode, message: impl Into<String>) -> Response {
    (status, message.into()).into_response()
}

async fn receive(
    State(intake): State<Intake>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    Query(target): Query<Target>,
    body: Bytes,
) -> Response {
    let appliance = target.appliance.unwrap_or_else(|| "default".to_owned());
    // An enabled profile takes the events of its appliance id before a disabled one.
    let matching = intake.config.profiles.iter().filter(|p| p.appliance_id.eq_ignore_ascii_case(&appliance));
    let Some(profile) = matching.min_by_key(|p| p.disabled) else {
        // Said once a minute with how many: a flood of made-up ids costs the log a line a minute.
        if let Some(count) = crate::serve::said::due("an outbound event for an unknown appliance id") {
            tracing::warn!(
                remote = %remote.ip(),
                "refused {count} outbound event(s) for appliance ids no profile has (this one {:?}); none were stored — fix ?appliance= in the appliance's outbound event URL, or add the id to a profile",
                appliance.chars().take(64).collect::<String>()
            );
        }
        let named: String = appliance.chars().take(64).collect();
        return answer(
            StatusCode::NOT_FOUND,
            format!(
                "no profile has appliance_id '{named}'; add it to a profile, or fix ?appliance= in the appliance's outbound event URL"
            ),
        );
    };
    if !profile.source_allowlist.is_empty() && !profile.source_allowlist.contains(&remote.ip()) {
        tracing::warn!(profile = profile.name, remote = %remote.ip(), "outbound event from an address not in source_allowlist");
        return answer(StatusCode::FORBIDDEN, format!("{} may not post events for this profile", remote.ip()));
    }
    let event = match parse_event(&body) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(profile = profile.name, "refused an outbound event: {e}");
            return answer(StatusCode::BAD_REQUEST, e.to_string());
        }
    };
    let enabled = SeedEvent::from_event_type(event.event_type).is_some_and(|s| profile.outbound_event_types.contains(&s))
        // Only a representative joining can create a ticket; customers joining are not kept.
        && event.member.as_ref().is_none_or(|m| m.is_representative());
    if profile.disabled || !enabled {
        let why = if profile.disabled { "the profile is disabled" } else { "its type is not enabled" };
        tracing::info!(
            profile = profile.name,
            event = event.name,
            lsid = event.lsid,
            "ignored an outbound event: {why}"
        );
        return answer(StatusCode::OK, format!("ignored: {why}"));
    }
    let body = String::from_utf8_lossy(&body).into_owned();
    let new = NewEvent {
        profile: profile.name.clone(),
        source: Source::Outbound,
        event: event.name.clone(),
        lsid: event.lsid.clone(),
        // An appliance retry sends the same body again: the body is the event's identity.
        dedupe_key: format!("{}|{body}", profile.name),
        body,
        remote_addr: Some(remote.ip().to_string()),
        job: JobState::Pending,
        note: None,
    };
    match intake.keeper.keep(new).await {
        Ok(Accepted::New { job_id }) => {
            tracing::info!(
                profile = profile.name,
                event = event.name,
                lsid = event.lsid,
                job_id,
                "stored an outbound event"
            );
            intake.wake.notify_one();
            answer(StatusCode::OK, "stored")
        }
        Ok(Accepted::Duplicate) => answer(StatusCode::OK, "already stored"),
        Err(e) => {
            // Not 200: the appliance keeps the event and sends it again later.
            tracing::error!(profile = profile.name, "could not store an outbound event: {e}");
            answer(StatusCode::SERVICE_UNAVAILABLE, "the event could not be stored; send it again")
        }
    }
}

/// Counts each answer to the appliance by the profile its appliance id names, and status.
async fn count_answer(
    State(intake): State<Intake>,
    Query(target): Query<Target>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let appliance = target.appliance.unwrap_or_else(|| "default".to_owned());
    let profile = intake
        .config
        .profiles
        .iter()
        .filter(|p| p.appliance_id.eq_ignore_ascii_case(&appliance))
        .min_by_key(|p| p.disabled)
        .map_or_else(|| UNKNOWN_APPLIANCE.to_owned(), |p| p.name.clone());
    let response = next.run(request).await;
    crate::metrics::global().intake_answered(&profile, response.status().as_u16());
    response
}

/// The Prometheus scrape: every counter, and the queue as the store holds it now — for the
/// addresses `monitoring_allowlist` names only.
async fn metrics(State(intake): State<Intake>, ConnectInfo(remote): ConnectInfo<SocketAddr>) -> Response {
    if !intake.config.may_monitor(remote.ip()) {
        return answer(StatusCode::FORBIDDEN, "metrics are served only to the addresses monitoring_allowlist names");
    }
    for (profile, copy) in intake.ticket_copies().await {
        if let Ok(copy) = copy {
            let age = copy.current_as_of.map(|at| (Utc::now() - at).num_seconds().max(0));
            crate::metrics::global().ticket_copy(&profile, copy.tickets, age.filter(|_| copy.filled_at.is_some()));
        }
    }
    match intake.store.run(|s| s.queue_health()).await {
        Ok(queue) => {
            let oldest = queue.oldest_pending.map_or(0, |t| (Utc::now() - t).num_seconds().max(0));
            let text = crate::metrics::global().render(&queue, oldest);
            ([(axum::http::header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text)
                .into_response()
        }
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
    }
}

/// Up or not, to anyone; the queue, the store and the desk's copies too for the addresses
/// `monitoring_allowlist` names.
async fn health(State(intake): State<Intake>, ConnectInfo(remote): ConnectInfo<SocketAddr>) -> Response {
    if !intake.config.may_monitor(remote.ip()) {
        return bare_health(&intake.store).await;
    }
    let copies: serde_json::Map<String, serde_json::Value> = intake
        .ticket_copies()
        .await
        .into_iter()
        .map(|(profile, copy)| {
            let said = match copy {
                Ok(c) => json!({
                    "tickets": c.tickets,
                    "filled_at": c.filled_at,
                    "current_as_of": c.current_as_of,
                    "age_seconds": c.current_as_of.filter(|_| c.filled_at.is_some()).map(|at| (Utc::now() - at).num_seconds().max(0)),
                    "last_webhook_at": c.last_webhook_at,
                }),
                Err(e) => json!({"error": e.to_string()}),
            };
            (profile, said)
        })
        .collect();
    match intake.store.run(|s| Ok((s.queue_health()?, s.size_bytes()?, s.engine()))).await {
        Ok((h, bytes, engine)) => {
            let oldest = h.oldest_pending.map(|t| (Utc::now() - t).num_seconds().max(0));
            let mut said = json!({
                "status": "up",
                "store": "ok",
                "store_engine": engine.name(),
                "store_bytes": bytes,
                "queue": {"pending": h.pending, "running": h.running, "failed": h.failed, "oldest_pending_seconds": oldest},
            });
            if !copies.is_empty() {
                said["ticket_copies"] = serde_json::Value::Object(copies);
            }
            said["duties"] = duties(&intake.store).await;
            let hooks = intake.desk.as_ref().map(|d| d.webhooks()).unwrap_or_default();
            if !hooks.is_empty() {
                said["ticket_webhooks"] = hooks.into_iter().map(|(p, h)| (p, json!(h))).collect();
            }
            axum::Json(said).into_response()
        }
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, axum::Json(json!({"status": "down", "store": e.to_string()})))
            .into_response(),
    }
}

/// Each duty only one worker on the store does, by name: who holds it as the store says, since
/// when, and whether that is this worker.
async fn duties(store: &AsyncStore) -> serde_json::Value {
    let me = crate::store::this_worker();
    match store.run(|s| s.duty_holders()).await {
        Ok(holders) => holders
            .into_iter()
            .map(|(name, h)| (name, json!({"held_by": h.holder, "since": h.since, "held_here": h.holder == me})))
            .collect(),
        Err(e) => json!({"error": e.to_string()}),
    }
}

/// `/healthz` as every listener answers it to anyone: whether the worker's store answers.
pub async fn bare_health(store: &AsyncStore) -> Response {
    match store.run(|s| s.queue_health()).await {
        Ok(_) => axum::Json(json!({"status": "up"})).into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, axum::Json(json!({"status": "down"}))).into_response(),
    }
}
