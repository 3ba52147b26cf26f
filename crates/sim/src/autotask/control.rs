//! `/_sim/`: what a test or demo can steer and inspect — injected faults, added latency,
//! the highest concurrency seen, the request log (read, or taken), the hourly usage, the records,
//! the desk's system settings and timesheets, reset.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Sim, lock, schema, system};
use crate::faults::{Fault, check_fault, take_fault};

/// Most requests kept in the log, oldest dropped first.
const REQUEST_LOG_LIMIT: usize = 20_000;

#[derive(Debug, Default)]
pub struct Control {
    pub faults: Vec<Fault>,
    pub latency: Duration,
    pub concurrency: Concurrency,
    pub requests: VecDeque<RequestRecord>,
}

/// Requests in flight per endpoint now, and the most seen at once since the last reset.
#[derive(Debug, Default, Serialize)]
pub struct Concurrency {
    pub current: HashMap<String, usize>,
    pub highest: HashMap<String, usize>,
    pub current_total: usize,
    pub highest_total: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct RequestRecord {
    pub method: String,
    pub path: String,
    pub endpoint: String,
    pub status: u16,
    /// The fields a query's filter names (empty for other requests).
    pub filter_fields: Vec<String>,
    /// The fields a query asks for (`IncludeFields`; empty for all, and for other requests).
    pub include_fields: Vec<String>,
    /// Milliseconds since the stand-in started, when the request arrived and when it was answered.
    pub started_ms: f64,
    pub finished_ms: f64,
}

impl Control {
    /// Takes one use of the first fault that matches the request and strikes, if any.
    pub fn take_fault(&mut self, method: &Method, path: &str) -> Option<Fault> {
        take_fault(&mut self.faults, method.as_str(), path)
    }

    pub fn enter(&mut self, endpoint: &str) {
        let c = &mut self.concurrency;
        let now = c.current.entry(endpoint.to_owned()).or_default();
        *now += 1;
        let now = *now;
        let highest = c.highest.entry(endpoint.to_owned()).or_default();
        *highest = (*highest).max(now);
        c.current_total += 1;
        c.highest_total = c.highest_total.max(c.current_total);
    }

    pub fn leave(&mut self, endpoint: &str) {
        let c = &mut self.concurrency;
        if let Some(n) = c.current.get_mut(endpoint) {
            *n = n.saturating_sub(1);
        }
        c.current_total = c.current_total.saturating_sub(1);
    }

    pub fn log(&mut self, record: RequestRecord) {
        if self.requests.len() == REQUEST_LOG_LIMIT {
            self.requests.pop_front();
        }
        self.requests.push_back(record);
    }
}

fn ok(value: Value) -> Response {
    axum::Json(value).into_response()
}

fn bad_request(message: String) -> Response {
    (StatusCode::BAD_REQUEST, axum::Json(json!({"errors": [message]}))).into_response()
}

fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| format!("invalid control request: {e}"))
}

/// Serves everything under `/_sim/`.
pub fn handle(sim: &Sim, method: &Method, path: &str, body: &[u8]) -> Response {
    let rest = path.trim_start_matches("/_sim/").trim_end_matches('/');
    let segments: Vec<&str> = rest.split('/').collect();
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["faults"]) => ok(json!(lock(&sim.control).faults)),
        ("POST", ["faults"]) => match parse::<Fault>(body).and_then(check_fault) {
            Ok(f) => {
                lock(&sim.control).faults.push(f);
                ok(json!({"ok": true}))
            }
            Err(e) => bad_request(e),
        },
        ("DELETE", ["faults"]) => {
            lock(&sim.control).faults.clear();
            ok(json!({"ok": true}))
        }
        ("POST", ["latency"]) => match parse::<Value>(body).map(|v| v.get("ms").and_then(Value::as_u64)) {
            Ok(Some(ms)) => {
                lock(&sim.control).latency = Duration::from_millis(ms);
                ok(json!({"ok": true}))
            }
            Ok(None) => bad_request("send {\"ms\": <milliseconds>}".to_owned()),
            Err(e) => bad_request(e),
        },
        ("GET", ["concurrency"]) => ok(json!(lock(&sim.control).concurrency)),
        ("GET", ["requests"]) => ok(json!(lock(&sim.control).requests)),
        // The log so far, emptied in the same step: a long benchmark reads it piece by piece.
        ("POST", ["requests", "take"]) => ok(json!(std::mem::take(&mut lock(&sim.control).requests))),
        ("DELETE", ["requests"]) => {
            lock(&sim.control).requests.clear();
            ok(json!({"ok": true}))
        }
        ("GET", ["usage"]) => {
            let current = lock(&sim.usage).current(std::time::Instant::now());
            ok(json!({"currentTimeframeRequestCount": current, "externalRequestThreshold": sim.config.hourly_limit}))
        }
        ("POST", ["usage"]) => match parse::<Value>(body).map(|v| v.get("count").and_then(Value::as_u64)) {
            Ok(Some(count)) => {
                let mut usage = lock(&sim.usage);
                usage.recent.clear();
                usage.pretended = count;
                ok(json!({"ok": true}))
            }
            Ok(None) => bad_request("send {\"count\": <requests this hour>}".to_owned()),
            Err(e) => bad_request(e),
        },
        ("GET", ["settings"]) => ok(json!(lock(&sim.store).system)),
        ("POST", ["settings"]) => change_settings(sim, body),
        ("GET", ["timesheets"]) => ok(json!(lock(&sim.store).timesheets.list())),
        ("POST", ["timesheets"]) => match parse::<system::Timesheet>(body) {
            Ok(sheet) => {
                lock(&sim.store).timesheets.set(&sheet);
                ok(json!({"ok": true}))
            }
            Err(e) => bad_request(e),
        },
        ("GET", ["records"]) => ok(lock(&sim.store).dump()),
        ("GET", ["webhooks"]) => ok(json!(lock(&sim.store).deliveries)),
        ("POST", ["records", name]) => insert_records(sim, name, body),
        ("POST", ["reset"]) => {
            sim.reset();
            ok(json!({"ok": true}))
        }
        _ => (StatusCode::NOT_FOUND, axum::Json(json!({"errors": [format!("no control endpoint {method} {path}")]})))
            .into_response(),
    }
}

/// Changes the system settings the body names, keeping the others.
fn change_settings(sim: &Sim, body: &[u8]) -> Response {
    let mut store = lock(&sim.store);
    let changes = match parse::<serde_json::Map<String, Value>>(body) {
        Ok(c) => c,
        Err(e) => return bad_request(e),
    };
    let mut settings = match serde_json::to_value(&store.system) {
        Ok(Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    settings.extend(changes);
    match serde_json::from_value::<system::SystemSettings>(Value::Object(settings)) {
        Ok(system) if system.business_hours.as_deref().is_some_and(|h| system::parse_hours(h).is_none()) => {
            bad_request("businessHours must be HH:MM-HH:MM in UTC, opening first".to_owned())
        }
        Ok(system) => {
            store.system = system;
            ok(json!(store.system))
        }
        Err(e) => bad_request(format!("invalid settings: {e}")),
    }
}

/// Bulk-loads records as given (ids, dates and all), e.g. 10,000 tickets for a paging test.
fn insert_records(sim: &Sim, name: &str, body: &[u8]) -> Response {
    let Some(entity) = schema::entity(name) else {
        return bad_request(format!("unknown entity {name}"));
    };
    let records = match parse::<Vec<serde_json::Map<String, Value>>>(body) {
        Ok(r) => r,
        Err(e) => return bad_request(e),
    };
    let mut store = lock(&sim.store);
    let ids: Vec<i64> = records.into_iter().map(|r| store.insert_raw(entity, r)).collect();
    ok(json!({"inserted": ids.len(), "firstId": ids.first(), "lastId": ids.last()}))
}
