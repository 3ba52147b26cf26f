//! The appliance's HTTP surface: `/oauth2/token`, `/api/command`, `/api/reporting`,
//! `/api/client_script` (and its older `.ns` spelling), plus `/_sim/` controls.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use chrono::{DateTime, TimeZone, Utc};
use rand::Rng;
use serde_json::json;

use super::xml::{REPORTING_NS, command_document, element, error_document};
use super::{IssuedKey, Sim, control, lock};
use crate::faults::take_fault;

pub fn router(sim: Arc<Sim>) -> Router {
    Router::new()
        .route("/oauth2/token", post(token))
        .route("/api/command", get(command).post(command))
        .route("/api/reporting", get(reporting).post(reporting))
        .route("/api/client_script", get(client_script))
        .route("/api/client_script.ns", get(client_script))
        .merge(control::routes())
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024 * 1024))
        .with_state(sim)
}

/// Query-string and form-body parameters together, as the appliance accepts either.
fn params(query: Option<String>, body: &[u8]) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> =
        query.map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default();
    all.extend(url::form_urlencoded::parse(body).into_owned());
    all
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn xml(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "text/xml; charset=utf-8")], body).into_response()
}

fn record(sim: &Sim, path: &str, status: StatusCode, params: &[(String, String)]) {
    let locale = param(params, "locale").map(str::to_owned);
    sim.state().requests.push((path.to_owned(), status.as_u16(), locale));
}

/// Waits the latency a test asked for, as a distant appliance would.
async fn delay(sim: &Sim) {
    let latency = sim.state().latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
}

async fn token(State(sim): State<Arc<Sim>>, headers: HeaderMap, body: Bytes) -> Response {
    delay(&sim).await;
    let response = issue_token(&sim, &headers, &body);
    record(&sim, "/oauth2/token", response.status(), &[]);
    response
}

fn issue_token(sim: &Sim, headers: &HeaderMap, body: &[u8]) -> Response {
    let form = params(None, body);
    if param(&form, "grant_type") != Some("client_credentials") {
        return (StatusCode::BAD_REQUEST, axum::Json(json!({"error": "unsupported_grant_type"}))).into_response();
    }
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b.trim()).ok())
        .and_then(|b| String::from_utf8(b).ok());
    let expected = format!("{}:{}", sim.config.client_id, sim.config.client_secret);
    if presented.as_deref() != Some(expected.as_str()) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "invalid_client", "error_description": "Client authentication failed"})),
        )
            .into_response();
    }
    let value: String = {
        let mut rng = rand::rng();
        (0..40).map(|_| char::from_digit(rng.random_range(0..16), 16).unwrap_or('0')).collect()
    };
    let mut state = sim.state();
    state.token_requests += 1;
    state.tokens.insert(value.clone(), Instant::now() + Duration::from_secs(sim.config.token_ttl));
    axum::Json(json!({"access_token": value, "token_type": "Bearer", "expires_in": sim.config.token_ttl}))
        .into_response()
}

/// Whether the request carries a known, unexpired bearer token.
fn authorized(sim: &Sim, headers: &HeaderMap) -> bool {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    token.is_some_and(|t| sim.state().tokens.get(t).is_some_and(|expiry| Instant::now() < *expiry))
}

fn unauthorized() -> Response {
    xml(StatusCode::UNAUTHORIZED, error_document("Invalid or expired access token"))
}

/// Runs an API call, unless an injected fault answers instead (before or after running it).
fn with_faults(sim: &Sim, method: &Method, path: &str, run: impl FnOnce() -> Response) -> Response {
    let fault = take_fault(&mut sim.state().faults, method.as_str(), path);
    match fault {
        None => run(),
        Some(f) => {
            if f.after_processing {
                run();
            }
            let status = StatusCode::from_u16(f.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            xml(status, error_document(&format!("Injected fault: HTTP {}", f.status)))
        }
    }
}

/// One authenticated API request: latency, token check, faults, the call itself, the record.
async fn api_call(
    sim: &Sim,
    method: &Method,
    headers: &HeaderMap,
    params: &[(String, String)],
    path: &str,
    run: fn(&Sim, &[(String, String)]) -> Response,
) -> Response {
    delay(sim).await;
    let response =
        if authorized(sim, headers) { with_faults(sim, method, path, || run(sim, params)) } else { unauthorized() };
    record(sim, path, response.status(), params);
    response
}

async fn command(
    State(sim): State<Arc<Sim>>,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    api_call(&sim, &method, &headers, &params(query, &body), "/api/command", run_command).await
}

fn run_command(sim: &Sim, p: &[(String, String)]) -> Response {
    let action = param(p, "action").unwrap_or("");
    let access = sim.state().permissions.command.clone();
    let writes = matches!(action, "generate_session_key" | "set_session_attributes");
    if access == "deny" || (writes && access != "full_access") {
        let message = format!("This API account does not have permission to run {action}");
        return xml(StatusCode::FORBIDDEN, error_document(&message));
    }
    let answer = match action {
        "generate_session_key" => generate_session_key(sim, p),
        "get_api_info" => Ok(api_info(sim)),
        "check_health" => Ok(health()),
        "set_session_attributes" => set_attributes(sim, p),
        "get_session_attributes" => get_attributes(sim, p),
        "" => Err("The 'action' parameter is required".to_owned()),
        other => Err(format!("Invalid action: {other}")),
    };
    match answer {
        Ok(body) => xml(StatusCode::OK, body),
        Err(message) => xml(StatusCode::OK, error_document(&message)),
    }
}

fn generate_session_key(sim: &Sim, p: &[(String, String)]) -> Result<String, String> {
    if param(p, "type") != Some("support") {
        return Err("Invalid type: the only supported session type is 'support'".into());
    }
    let queue_id = param(p, "queue_id").ok_or("The 'queue_id' parameter is required")?.to_owned();
    check_queue(&queue_id)?;
    if let Some(priority) = param(p, "priority")
        && !matches!(priority, "1" | "2" | "3")
    {
        return Err(format!("Invalid priority '{priority}': use 1, 2 or 3"));
    }
    let ttl: i64 = param(p, "ttl").and_then(|t| t.parse().ok()).unwrap_or(86_400);
    let custom: Vec<(String, String)> = p
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("session.custom.").map(|code| (code.to_owned(), v.clone())))
        .collect();
    let external_key = param(p, "external_key")
        .map(str::to_owned)
        .or_else(|| custom.iter().find(|(k, _)| k == "external_key").map(|(_, v)| v.clone()))
        .unwrap_or_default();
    let mut state = sim.state();
    let short_key = loop {
        let candidate = format!("{:07}", rand::rng().random_range(0..10_000_000));
        if !state.keys.iter().any(|k| k.short_key == candidate) {
            break candidate;
        }
    };
    let expires = Utc::now().timestamp() + ttl;
    let host = param(p, "url_hostname").map(str::to_owned).unwrap_or_else(|| sim.base_url.clone());
    let host = if host.contains("://") { host } else { format!("https://{host}") };
    let key_url = format!("{host}/?ak={short_key}");
    state.keys.push(IssuedKey {
        short_key: short_key.clone(),
        queue_id,
        external_key,
        custom,
        priority: param(p, "priority").map(str::to_owned),
        expires,
    });
    let body = format!(
        "To start your support session, go to {key_url} or open {} and enter the session key {short_key}.",
        sim.base_url
    );
    let inner = format!(
        "{}{}{}{}",
        element("short_key", &[], &short_key),
        element("key_url", &[], &key_url),
        element("mail_subject", &[], "Your support session"),
        element("mail_body", &[], &body)
    );
    Ok(command_document_with_expiry(expires, &inner))
}

fn command_document_with_expiry(expires: i64, inner: &str) -> String {
    command_document("session_key", inner).replacen("<session_key ", &format!("<session_key expires=\"{expires}\" "), 1)
}

fn check_queue(queue_id: &str) -> Result<(), String> {
    let ok = match queue_id.split_once(':') {
        None => queue_id == "general",
        Some(("rep" | "team", id)) => id.parse::<u64>().is_ok(),
        Some(("rep_username" | "issue", name)) => !name.is_empty(),
        Some(_) => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "Invalid queue_id '{queue_id}': use general, rep:<id>, team:<id>, rep_username:<username> or issue:<code name>"
        ))
    }
}

fn api_info(sim: &Sim) -> String {
    let state = sim.state();
    let reporting = if state.permissions.reporting { "1" } else { "0" };
    let permissions = format!(
        "<permissions>{}{}{}{}</permissions>",
        element("perm_command", &[], &state.permissions.command),
        element("perm_reporting_support", &[], reporting),
        element("perm_reporting_presentation", &[], reporting),
        element("perm_backup", &[], "0"),
    );
    let inner = format!(
        "{}{}{}{permissions}",
        element("api_version", &[], "1.26.1"),
        element("company_name", &[], "bta_sim"),
        element("timestamp", &[], &Utc::now().timestamp().to_string())
    );
    command_document("api_information", &inner)
}

fn health() -> String {
    let inner = format!(
        "<appliance>{}{}{}{}</appliance>",
        element("hostname", &[], "support.example.com"),
        element("version", &[], "25.1.2"),
        element("failover_role", &[], "primary"),
        element("data_sync_status", &[], "ok")
    );
    command_document("appliance_list", &inner)
}

fn set_attributes(sim: &Sim, p: &[(String, String)]) -> Result<String, String> {
    let lsid = param(p, "lsid").ok_or("The 'lsid' parameter is required")?;
    let mut state = sim.state();
    let session = state
        .sessions
        .iter_mut()
        .find(|s| s.lsid == lsid && s.end.is_none())
        .ok_or_else(|| format!("Session {lsid} was not found or is not active"))?;
    for (key, value) in p {
        match key.strip_prefix("session.custom.") {
            Some("external_key") => session.external_key = value.clone(),
            Some(code) => {
                session.custom.insert(code.to_owned(), value.clone());
            }
            None => {}
        }
    }
    Ok(command_document("success", "Session attributes were set"))
}

fn get_attributes(sim: &Sim, p: &[(String, String)]) -> Result<String, String> {
    let lsid = param(p, "lsid").ok_or("The 'lsid' parameter is required")?;
    let state = sim.state();
    let session = state
        .sessions
        .iter()
        .find(|s| s.lsid == lsid && s.end.is_none())
        .ok_or_else(|| format!("Session {lsid} was not found or is not active"))?;
    let mut inner = element(
        "custom_attribute",
        &[("display_name", "External Key"), ("code_name", "external_key")],
        &session.external_key,
    );
    for (code, value) in &session.custom {
        inner.push_str(&element("custom_attribute", &[("display_name", code), ("code_name", code)], value));
    }
    Ok(command_document("custom_attributes", &inner))
}

async fn reporting(
    State(sim): State<Arc<Sim>>,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    api_call(&sim, &method, &headers, &params(query, &body), "/api/reporting", run_report).await
}

/// The time window of a report request: `[start, end)`.
fn window(p: &[(String, String)], now: DateTime<Utc>) -> Result<(DateTime<Utc>, DateTime<Utc>), String> {
    let number = |name: &str| -> Result<Option<i64>, String> {
        param(p, name).map(|v| v.trim().parse::<i64>().map_err(|_| format!("Invalid {name} '{v}'"))).transpose()
    };
    let at = |t: i64| Utc.timestamp_opt(t, 0).single().ok_or_else(|| format!("Invalid time {t}"));
    let start = match (number("start_time")?, param(p, "start_date")) {
        (Some(t), _) => at(t)?,
        (None, Some(date)) => chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
            .map_err(|_| format!("Invalid start_date '{date}': use YYYY-MM-DD"))?
            .and_hms_opt(0, 0, 0)
            .map(|d| d.and_utc())
            .ok_or("Invalid start_date")?,
        (None, None) => return Err("Give lsid, or start_time / start_date with duration".into()),
    };
    let end = match (number("end_time")?, number("duration")?) {
        (Some(t), _) => at(t)?,
        (None, Some(0) | None) => now + chrono::Duration::seconds(1),
        (None, Some(d)) => start + chrono::Duration::seconds(d),
    };
    Ok((start, end))
}

fn run_report(sim: &Sim, p: &[(String, String)]) -> Response {
    if !sim.state().permissions.reporting {
        return xml(
            StatusCode::FORBIDDEN,
            error_document("This API account does not have permission to use the reporting API"),
        );
    }
    let now = Utc::now();
    let answer = match param(p, "generate_report") {
        Some("SupportSession") => session_report(sim, p, now),
        Some("SupportSessionListing") => listing_report(sim, p, now),
        Some("SupportCustExitSurvey") => survey_report(sim, p, now, true),
        Some("SupportRepExitSurvey") => survey_report(sim, p, now, false),
        Some(other) => Err(format!("Invalid report type: {other}")),
        None => Err("The 'generate_report' parameter is required".into()),
    };
    match answer {
        Ok(body) => xml(StatusCode::OK, body),
        Err(message) => xml(StatusCode::OK, error_document(&message).replace("API/command", "API/reporting")),
    }
}

fn document(root: &str, inner: &str) -> String {
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{root} xmlns=\"{REPORTING_NS}\">{inner}</{root}>")
}

fn session_report(sim: &Sim, p: &[(String, String)], now: DateTime<Utc>) -> Result<String, String> {
    let state = sim.state();
    if let Some(lsid) = param(p, "lsid") {
        let found = state.sessions.iter().find(|s| s.lsid == lsid);
        let root = found.and_then(|s| s.verbatim_root()).unwrap_or_default();
        let inner = found.map(|s| s.report_xml(now)).unwrap_or_default();
        return Ok(wrap_sessions(&root, &inner));
    }
    let (start, end) = window(p, now)?;
    let mut root = String::new();
    let mut inner = String::new();
    for s in state.sessions.iter().filter(|s| s.ended_within(start, end, now)) {
        if root.is_empty() {
            root = s.verbatim_root().unwrap_or_default();
        }
        inner.push_str(&s.report_xml(now));
    }
    Ok(wrap_sessions(&root, &inner))
}

/// A session list around sessions: in a replayed document's own root (its namespaces), or ours.
fn wrap_sessions(root: &str, inner: &str) -> String {
    if root.is_empty() {
        return document("session_list", inner);
    }
    let name = root.trim_start_matches('<').split([' ', '>', '/']).next().unwrap_or("session_list").to_owned();
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{root}{inner}</{name}>")
}

fn listing_report(sim: &Sim, p: &[(String, String)], now: DateTime<Utc>) -> Result<String, String> {
    let (start, end) = window(p, now)?;
    let state = sim.state();
    let mut inner = String::new();
    for s in state.sessions.iter().filter(|s| s.ended_within(start, end, now)) {
        let ended = s.end.unwrap_or(now);
        inner.push_str(&format!(
            "<session_summary lsid=\"{}\" has_recording=\"{}\">{}{}{}</session_summary>",
            s.lsid,
            u8::from(s.has_recording()),
            element("start_time", &[("timestamp", &s.start.timestamp().to_string())], &s.start.to_rfc3339()),
            element("end_time", &[("timestamp", &ended.timestamp().to_string())], &ended.to_rfc3339()),
            element("external_key", &[], &s.external_key),
        ));
    }
    Ok(document("session_summary_list", &inner))
}

fn survey_report(sim: &Sim, p: &[(String, String)], now: DateTime<Utc>, customer: bool) -> Result<String, String> {
    let (start, end) = window(p, now)?;
    let state = sim.state();
    let inner: String = state
        .sessions
        .iter()
        .flat_map(|s| s.surveys.iter())
        .filter(|v| v.customer == customer && v.submitted >= start && v.submitted < end && v.submitted <= now)
        .map(|v| v.xml.clone())
        .collect();
    Ok(document("exit_survey_list", &inner))
}

/// `client_script`: the file the installed rep console runs. Recorded for tests under `/_sim/client-scripts`.
async fn client_script(State(sim): State<Arc<Sim>>, RawQuery(query): RawQuery) -> Response {
    let p = params(query, b"");
    let ok_type = param(&p, "type") == Some("rep") && param(&p, "operation") == Some("generate");
    let action = param(&p, "action").unwrap_or("");
    let known = matches!(
        action,
        "generate_session_key" | "start_pinned_client_session" | "push_and_start_local" | "start_jump_item_session"
    );
    let response = if !ok_type || !known {
        let message = format!(
            "Invalid client script request: type=rep&operation=generate and a known action are required (got action '{action}')"
        );
        (StatusCode::BAD_REQUEST, message).into_response()
    } else {
        lock(&sim.state).client_scripts.push(json!(p.iter().cloned().collect::<std::collections::BTreeMap<_, _>>()));
        let script = format!(
            "# BeyondTrust representative console script\naction={action}\n{}\n",
            p.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("\n")
        );
        (
            [
                (header::CONTENT_TYPE, "application/x-bomgar-rcs"),
                (header::CONTENT_DISPOSITION, "attachment; filename=\"bomgar-rcs.brcs\""),
            ],
            script,
        )
            .into_response()
    };
    record(&sim, "/api/client_script", response.status(), &p);
    response
}
