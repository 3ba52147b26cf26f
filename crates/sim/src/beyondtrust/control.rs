//! `/_sim/`: scenario control for the appliance stand-in — replay real reports, generate
//! sessions, register outbound event recipients, change permissions, revoke tokens, inspect.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};

use super::sessions::{Scenario, Session};
use super::{Sim, replay};

pub fn routes() -> Router<Arc<Sim>> {
    Router::new()
        .route("/_sim/reports", post(add_reports))
        .route("/_sim/sessions", post(add_session).get(list_sessions))
        .route("/_sim/sessions/{lsid}/end", post(end_session))
        .route("/_sim/recipients", post(add_recipient).delete(clear_recipients))
        .route("/_sim/deliveries", get(deliveries))
        .route("/_sim/permissions", post(set_permissions))
        .route("/_sim/oauth", get(oauth_state))
        .route("/_sim/oauth/revoke", post(revoke_tokens))
        .route("/_sim/session-keys", get(session_keys))
        .route("/_sim/client-scripts", get(client_scripts))
        .route("/_sim/requests", get(requests))
        .route("/_sim/faults", post(add_fault).delete(clear_faults))
        .route("/_sim/latency", post(set_latency))
}

fn bad_request(message: impl Into<String>) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"errors": [message.into()]}))).into_response()
}

/// Stores sessions, replacing any with the same lsid.
fn store(sim: &Sim, sessions: Vec<Session>) {
    let mut state = sim.state();
    for session in sessions {
        state.sessions.retain(|s| s.lsid != session.lsid);
        state.sessions.push(session);
    }
}

async fn add_reports(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let Ok(text) = std::str::from_utf8(&body) else { return bad_request("the report is not UTF-8") };
    match replay::split(text) {
        Ok(sessions) => {
            let lsids: Vec<String> = sessions.iter().map(|s| s.lsid.clone()).collect();
            store(&sim, sessions);
            Json(json!({"sessions": lsids})).into_response()
        }
        Err(e) => bad_request(e),
    }
}

async fn add_session(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let scenario: Scenario = match serde_json::from_slice(&body) {
        Ok(s) => s,
        Err(e) => return bad_request(format!("invalid session scenario: {e}")),
    };
    if scenario.reps.is_empty() {
        return bad_request("a session needs at least one rep (the first is the primary rep)");
    }
    let session = scenario.into_session(Utc::now());
    let lsid = session.lsid.clone();
    let mut events = session.start_events(&sim.config.appliance_id);
    events.extend(session.end_events(&sim.config.appliance_id));
    store(&sim, vec![session]);
    let queued = sim.deliveries.enqueue(&events);
    Json(json!({"lsid": lsid, "events_queued": queued})).into_response()
}

async fn end_session(State(sim): State<Arc<Sim>>, Path(lsid): Path<String>) -> Response {
    let events = {
        let mut state = sim.state();
        let Some(session) = state.sessions.iter_mut().find(|s| s.lsid == lsid && s.end.is_none()) else {
            return (StatusCode::NOT_FOUND, Json(json!({"errors": [format!("no live session {lsid}")]})))
                .into_response();
        };
        session.finish(Utc::now());
        session.end_events(&sim.config.appliance_id)
    };
    let queued = sim.deliveries.enqueue(&events);
    Json(json!({"lsid": lsid, "events_queued": queued})).into_response()
}

async fn list_sessions(State(sim): State<Arc<Sim>>) -> Json<Value> {
    let state = sim.state();
    Json(json!(
        state
            .sessions
            .iter()
            .map(|s| json!({
                "lsid": s.lsid, "external_key": s.external_key, "custom": s.custom, "primary_rep": s.primary_rep,
                "start_time": s.start.timestamp(), "end_time": s.end.map(|e| e.timestamp()), "live": s.end.is_none(),
            }))
            .collect::<Vec<_>>()
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecipientRequest {
    url: String,
    #[serde(default)]
    events: Vec<String>,
    #[serde(default = "default_retry")]
    retry_ms: u64,
    #[serde(default = "default_timeout")]
    timeout_ms: u64,
    /// A CA certificate (PEM) to trust for an `https://` recipient, as an appliance is given one.
    #[serde(default)]
    ca_pem: Option<String>,
}

fn default_retry() -> u64 {
    200
}
fn default_timeout() -> u64 {
    super::DELIVERY_TIMEOUT.as_millis() as u64
}

async fn add_recipient(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let request: RecipientRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return bad_request(format!("invalid recipient: {e}")),
    };
    if url::Url::parse(&request.url).is_err() {
        return bad_request(format!("'{}' is not a URL", request.url));
    }
    let mut http = reqwest::Client::builder();
    if let Some(pem) = &request.ca_pem {
        match reqwest::Certificate::from_pem_bundle(pem.as_bytes()) {
            Ok(cas) if !cas.is_empty() => {
                for ca in cas {
                    http = http.add_root_certificate(ca);
                }
            }
            Ok(_) => return bad_request("ca_pem holds no PEM certificate"),
            Err(e) => return bad_request(format!("ca_pem is not a PEM certificate: {e}")),
        }
    }
    let http = match http.build() {
        Ok(h) => h,
        Err(e) => return bad_request(format!("no HTTP client for this recipient: {e}")),
    };
    let id = sim.deliveries.add(
        request.url,
        http,
        request.events,
        Duration::from_millis(request.retry_ms),
        Duration::from_millis(request.timeout_ms),
    );
    Json(json!({"id": id})).into_response()
}

async fn clear_recipients(State(sim): State<Arc<Sim>>) -> Json<Value> {
    sim.deliveries.clear();
    Json(json!({"ok": true}))
}

async fn deliveries(State(sim): State<Arc<Sim>>) -> Json<Value> {
    Json(json!(sim.deliveries.report()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PermissionRequest {
    command: Option<String>,
    reporting: Option<bool>,
}

async fn set_permissions(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let request: PermissionRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return bad_request(format!("invalid permissions: {e}")),
    };
    let mut state = sim.state();
    if let Some(command) = request.command {
        if !matches!(command.as_str(), "full_access" | "read_only" | "deny") {
            return bad_request("command must be full_access, read_only or deny");
        }
        state.permissions.command = command;
    }
    if let Some(reporting) = request.reporting {
        state.permissions.reporting = reporting;
    }
    Json(json!({"ok": true})).into_response()
}

async fn oauth_state(State(sim): State<Arc<Sim>>) -> Json<Value> {
    let state = sim.state();
    Json(json!({"token_requests": state.token_requests, "tokens": state.tokens.len()}))
}

/// As when an admin regenerates the client secret: every token stops working at once.
async fn revoke_tokens(State(sim): State<Arc<Sim>>) -> Json<Value> {
    sim.state().tokens.clear();
    Json(json!({"ok": true}))
}

async fn session_keys(State(sim): State<Arc<Sim>>) -> Json<Value> {
    Json(json!(sim.state().keys))
}

async fn client_scripts(State(sim): State<Arc<Sim>>) -> Json<Value> {
    Json(json!(sim.state().client_scripts))
}

async fn requests(State(sim): State<Arc<Sim>>) -> Json<Value> {
    let state = sim.state();
    let list: Vec<Value> = state
        .requests
        .iter()
        .map(|(path, status, locale)| json!({"path": path, "status": status, "locale": locale}))
        .collect();
    Json(json!(list))
}

/// Injected faults on `/api/command` and `/api/reporting`, as for the Autotask stand-in.
async fn add_fault(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let fault = serde_json::from_slice::<crate::faults::Fault>(&body)
        .map_err(|e| format!("invalid fault: {e}"))
        .and_then(crate::faults::check_fault);
    match fault {
        Ok(f) => {
            sim.state().faults.push(f);
            Json(json!({"ok": true})).into_response()
        }
        Err(e) => bad_request(e),
    }
}

async fn clear_faults(State(sim): State<Arc<Sim>>) -> Json<Value> {
    sim.state().faults.clear();
    Json(json!({"ok": true}))
}

/// Latency added to every token, command and reporting request: `{"ms": 50}`.
async fn set_latency(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    match serde_json::from_slice::<Value>(&body).ok().and_then(|v| v.get("ms").and_then(Value::as_u64)) {
        Some(ms) => {
            sim.state().latency = Duration::from_millis(ms);
            Json(json!({"ok": true})).into_response()
        }
        None => bad_request("send {\"ms\": <milliseconds>}"),
    }
}
