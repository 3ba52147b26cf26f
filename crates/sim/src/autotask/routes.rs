//! The REST surface under `/atservicesrest/v1.0/`: zone discovery, authentication, the hourly
//! threshold, then get / query / count / create / update / child entities / entity information.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Map, Value, json};

use super::control::{self, RequestRecord};
use super::schema::{self, Entity};
use super::store::WriteContext;
use super::{Sim, demo, filter, lock, webhooks};

const API_PREFIX: &str = "/atservicesrest/v1.0/";
const MAX_RECORDS: u64 = 500;

/// A refusal as the real service words it: a status and an `errors` array.
#[derive(Debug)]
pub struct Problem {
    status: StatusCode,
    messages: Vec<String>,
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        (self.status, axum::Json(json!({ "errors": self.messages }))).into_response()
    }
}

fn errors(status: StatusCode, messages: Vec<String>) -> Problem {
    Problem { status, messages }
}

fn error(status: StatusCode, message: impl Into<String>) -> Problem {
    errors(status, vec![message.into()])
}

fn ok(value: Value) -> Response {
    axum::Json(value).into_response()
}

/// The one handler: every request comes through here, so paths match without regard to case.
pub async fn handle(
    State(sim): State<Arc<Sim>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    if path.to_ascii_lowercase().starts_with("/_sim/") {
        return control::handle(&sim, &method, &path, &body);
    }
    let endpoint = endpoint_of(&path);
    let (filter_fields, include_fields) = query_fields(&uri, &body);
    lock(&sim.control).enter(&endpoint);
    let started_ms = sim.started.elapsed().as_secs_f64() * 1000.0;
    let response = api(&sim, &method, &uri, &headers, &body).await;
    let mut control = lock(&sim.control);
    control.leave(&endpoint);
    control.log(RequestRecord {
        method: method.to_string(),
        path,
        endpoint,
        status: response.status().as_u16(),
        filter_fields,
        include_fields,
        started_ms,
        finished_ms: sim.started.elapsed().as_secs_f64() * 1000.0,
    });
    response
}

/// The fields a query's filter names, in order, each once, and the fields it asks for (none for
/// other requests): what a test or benchmark reads to tell one kind of query from another.
fn query_fields(uri: &Uri, body: &[u8]) -> (Vec<String>, Vec<String>) {
    if !uri.path().to_ascii_lowercase().contains("/query") {
        return Default::default();
    }
    let search = query_param(uri.query(), "search").and_then(|s| serde_json::from_str::<Value>(&s).ok());
    let Some(query) = search.or_else(|| serde_json::from_slice::<Value>(body).ok()) else { return Default::default() };
    fn walk(item: &Value, fields: &mut Vec<String>) {
        if let Some(field) = item.get("field").and_then(Value::as_str)
            && !fields.iter().any(|f| f.eq_ignore_ascii_case(field))
        {
            fields.push(field.to_owned());
        }
        for child in item.get("items").and_then(Value::as_array).into_iter().flatten() {
            walk(child, fields);
        }
    }
    let mut fields = Vec::new();
    for item in query.get("filter").and_then(Value::as_array).into_iter().flatten() {
        walk(item, &mut fields);
    }
    let included = query.get("IncludeFields").or_else(|| query.get("includeFields")).and_then(Value::as_array);
    let included = included.into_iter().flatten().filter_map(Value::as_str).map(str::to_owned).collect();
    (fields, included)
}

/// The entity a request addresses (the child entity for `Tickets/1/Notes`), for concurrency accounting.
fn endpoint_of(path: &str) -> String {
    let lower = path.to_ascii_lowercase();
    let rest = lower.strip_prefix(API_PREFIX).unwrap_or(&lower);
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        [parent, _, child, ..] => match schema::child_entity(parent, child) {
            Some(e) => e.name.to_owned(),
            None => parent.to_string(),
        },
        [first, ..] => schema::entity(first).map(|e| e.name.to_owned()).unwrap_or_else(|| first.to_string()),
        [] => String::new(),
    }
}

async fn api(sim: &Arc<Sim>, method: &Method, uri: &Uri, headers: &HeaderMap, body: &Bytes) -> Response {
    let latency = lock(&sim.control).latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let lower = uri.path().to_ascii_lowercase();
    let Some(rest) = lower.strip_prefix(API_PREFIX) else {
        return error(
            StatusCode::NOT_FOUND,
            format!("No resource at {}; the API lives under {API_PREFIX}", uri.path()),
        )
        .into_response();
    };
    let segments: Vec<String> = rest.split('/').filter(|s| !s.is_empty()).map(str::to_owned).collect();
    if segments == ["zoneinformation"] {
        return zone_information(sim, uri);
    }
    if let Err(problem) = authenticate(sim, headers) {
        return problem.into_response();
    }
    if let Err(problem) = count_against_threshold(sim).await {
        return problem.into_response();
    }
    let fault = lock(&sim.control).take_fault(method, uri.path());
    if let Some(f) = fault.as_ref().filter(|f| !f.after_processing) {
        return fault_response(f);
    }
    let ctx = match write_context(sim, method, &segments, headers) {
        Ok(ctx) => ctx,
        Err(problem) => return problem.into_response(),
    };
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let response = dispatch(sim, method, &segments, uri.query(), body, ctx);
    match fault {
        Some(f) => fault_response(&f),
        None => response,
    }
}

/// An injected fault answers as the service does when it fails rather than refuses: a 500 as
/// ASP.NET's bare `Message`, a 502–504 as the front end's HTML page — never an `errors` list,
/// which would be a rule violation.
fn fault_response(fault: &crate::faults::Fault) -> Response {
    let status = StatusCode::from_u16(fault.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = match status.as_u16() {
        _ if let Some(words) = &fault.errors => errors(status, words.clone()).into_response(),
        500 => (status, axum::Json(json!({"Message": "An error has occurred."}))).into_response(),
        501..=599 => (
            status,
            [(header::CONTENT_TYPE, "text/html")],
            format!("<html><body><h1>{status}</h1><p>Injected fault</p></body></html>"),
        )
            .into_response(),
        _ => error(status, format!("Injected fault: HTTP {}", fault.status)).into_response(),
    };
    if let Some(seconds) = fault.retry_after {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

fn zone_information(sim: &Sim, uri: &Uri) -> Response {
    let user = query_param(uri.query(), "user").unwrap_or_default();
    if !user.eq_ignore_ascii_case(&sim.config.username) {
        // The live service answers 500 here (as the npm client's maintainers report), not 404.
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("Zone information could not be determined for user '{user}'."),
        )
        .into_response();
    }
    ok(json!({
        "zoneName": "Stand-in Zone",
        "url": format!("{}/atservicesrest/", sim.base_url),
        "webUrl": format!("{}/", sim.base_url),
        "ci": 0,
    }))
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

fn authenticate(sim: &Sim, headers: &HeaderMap) -> Result<(), Problem> {
    let config = &sim.config;
    let user_ok = header_text(headers, "username").eq_ignore_ascii_case(&config.username);
    let secret_ok = header_text(headers, "secret") == config.secret;
    let code_ok = header_text(headers, "apiintegrationcode") == config.integration_code;
    if user_ok && secret_ok && code_ok {
        return Ok(());
    }
    if !code_ok {
        // The npm client's maintainers, against the live service: a wrong code answers 500, not 401.
        return Err(error(StatusCode::INTERNAL_SERVER_ERROR, "IntegrationCode is invalid."));
    }
    Err(error(
        StatusCode::UNAUTHORIZED,
        "Authentication failed: the UserName and Secret headers do not match an active API user.",
    ))
}

/// Counts the request in the rolling hour: 429 at the limit, added latency past 50 % and 75 %.
async fn count_against_threshold(sim: &Sim) -> Result<(), Problem> {
    let limit = sim.config.hourly_limit;
    let used = {
        let mut usage = lock(&sim.usage);
        let now = Instant::now();
        let used = usage.current(now);
        if used >= limit {
            let message = format!(
                "Request threshold of {limit} requests per 60 minutes exceeded; try again when the hour rolls."
            );
            return Err(error(StatusCode::TOO_MANY_REQUESTS, message));
        }
        usage.recent.push_back(now);
        used + 1
    };
    let delay = if used * 4 > limit * 3 {
        sim.config.threshold_delay * 2
    } else if used * 2 > limit {
        sim.config.threshold_delay
    } else {
        Duration::ZERO
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    Ok(())
}

/// Who a request writes as. `ImpersonationResourceId` makes a write the named resource's (the
/// API user is kept as its impersonator); Autotask refuses it on a query, for a resource whose
/// security level does not allow impersonation, and for an API-only resource such as the API
/// user's own (Autotask's help, Security Settings > Web Services API).
fn write_context(
    sim: &Sim,
    method: &Method,
    segments: &[String],
    headers: &HeaderMap,
) -> Result<WriteContext, Problem> {
    let now = chrono::Utc::now();
    let impersonate = header_text(headers, "impersonationresourceid");
    if impersonate.is_empty() {
        return Ok(WriteContext { resource_id: demo::API_RESOURCE_ID, impersonator: None, now });
    }
    let reads = *method == Method::GET || segments.iter().any(|s| s == "query");
    if reads {
        // The wording is ours (unconfirmed); that a query with the header is refused is not.
        return Err(error(StatusCode::INTERNAL_SERVER_ERROR, "Impersonation is not supported for queries."));
    }
    let store = lock(&sim.store);
    let active = |id: i64| {
        schema::entity("Resources")
            .and_then(|e| store.get(e, id))
            .is_some_and(|r| r.get("isActive") == Some(&Value::Bool(true)))
    };
    match impersonate.parse::<i64>() {
        Ok(id) if id == demo::API_RESOURCE_ID || store.system.impersonation_refused_for.contains(&id) => {
            Err(error(StatusCode::INTERNAL_SERVER_ERROR, IMPERSONATION_REFUSED))
        }
        Ok(id) if active(id) => Ok(WriteContext { resource_id: id, impersonator: Some(demo::API_RESOURCE_ID), now }),
        _ => Err(error(
            StatusCode::BAD_REQUEST,
            format!("ImpersonationResourceId '{impersonate}' is not an active resource."),
        )),
    }
}

/// Autotask's words for an impersonation its security settings do not allow.
const IMPERSONATION_REFUSED: &str =
    "The logged in Resource does not have the adequate permissions to create this entity type.";

fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.into_owned())
}

/// A body Json.NET cannot read fails in Autotask's handler, so it too answers 500 (unconfirmed).
fn json_body(body: &Bytes) -> Result<Value, Problem> {
    serde_json::from_slice(body)
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, format!("The request body is not valid JSON: {e}")))
}

fn entity_or_404(name: &str) -> Result<&'static Entity, Problem> {
    schema::entity(name).ok_or_else(|| error(StatusCode::NOT_FOUND, format!("No entity named '{name}'.")))
}

fn dispatch(
    sim: &Arc<Sim>,
    method: &Method,
    segments: &[&str],
    query: Option<&str>,
    body: &Bytes,
    ctx: WriteContext,
) -> Response {
    let result = match (method.as_str(), segments) {
        ("GET", ["thresholdinformation"]) => Ok(threshold_information(sim)),
        (_, [name]) => entity_or_404(name).and_then(|e| write(sim, method, e, None, body, ctx)),
        ("GET", [name, "query"]) => {
            entity_or_404(name).and_then(|e| search_param(query).map(|s| run_query(sim, e, &s, None)))
        }
        ("POST", [name, "query"]) => {
            entity_or_404(name).and_then(|e| json_body(body).map(|s| run_query(sim, e, &s, None)))
        }
        ("GET", [name, "query", "next"]) => entity_or_404(name).and_then(|e| next_page(sim, e, query)),
        ("GET", [name, "query", "count"]) => {
            entity_or_404(name).and_then(|e| search_param(query).map(|s| run_count(sim, e, &s)))
        }
        ("POST", [name, "query", "count"]) => {
            entity_or_404(name).and_then(|e| json_body(body).map(|s| run_count(sim, e, &s)))
        }
        ("GET", [name, "entityinformation"]) => entity_or_404(name).map(|e| entity_information(sim, e)),
        ("GET", [name, "entityinformation", "fields"]) => entity_or_404(name).map(|e| ok(schema::fields_document(e))),
        ("GET", [name, "entityinformation", "userdefinedfields"]) => {
            entity_or_404(name).map(|e| udf_information(sim, e))
        }
        ("GET", [name, id]) => entity_or_404(name).and_then(|e| parse_id(id).map(|id| get_one(sim, e, id, None))),
        (_, [parent, parent_id, child]) => child_entity(parent, parent_id, child).and_then(|(e, field, pid)| {
            if method == Method::GET {
                Ok(list_children(sim, e, field, pid))
            } else {
                write(sim, method, e, Some((field, pid)), body, ctx)
            }
        }),
        ("GET", [parent, parent_id, child, id]) => child_entity(parent, parent_id, child)
            .and_then(|(e, field, pid)| parse_id(id).map(|id| get_one(sim, e, id, Some((field, pid))))),
        _ => Err(error(StatusCode::NOT_FOUND, format!("No resource at {API_PREFIX}{}.", segments.join("/")))),
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

fn parse_id(text: &str) -> Result<i64, Problem> {
    text.parse().map_err(|_| error(StatusCode::BAD_REQUEST, format!("'{text}' is not a record id.")))
}

fn child_entity(parent: &str, parent_id: &str, child: &str) -> Result<(&'static Entity, &'static str, i64), Problem> {
    let Some(entity) = schema::child_entity(parent, child) else {
        return Err(error(StatusCode::NOT_FOUND, format!("{parent} has no child collection '{child}'.")));
    };
    let Some((_, _, field)) = entity.parent else {
        return Err(error(StatusCode::NOT_FOUND, format!("{parent} has no child collection '{child}'.")));
    };
    Ok((entity, field, parse_id(parent_id)?))
}

fn threshold_information(sim: &Sim) -> Response {
    let used = lock(&sim.usage).current(Instant::now());
    ok(json!({
        "externalRequestThreshold": sim.config.hourly_limit,
        "requestThresholdTimeframe": 60,
        "currentTimeframeRequestCount": used,
    }))
}

/// What the entity allows, and the API user's access to it by its security level: 1 (all) for
/// an administrator; a time entry is "restricted" (2) for any other (its own time only).
fn entity_information(sim: &Sim, entity: &Entity) -> Response {
    let admin = lock(&sim.store).system.api_user_is_administrator;
    let access = |allowed: bool| match (allowed, entity.name) {
        (false, _) => 0,
        (true, "TimeEntries") if !admin => 2,
        (true, _) => 1,
    };
    ok(json!({"info": {
        "name": entity.name.trim_end_matches('s'),
        "canCreate": entity.can_create,
        "canUpdate": entity.can_update,
        "canQuery": true,
        "canDelete": false,
        "hasUserDefinedFields": entity.user_defined_fields,
        "supportsWebhookCallouts": false,
        "userAccessForCreate": access(entity.can_create),
        "userAccessForUpdate": access(entity.can_update),
        "userAccessForQuery": 1,
        "userAccessForDelete": 0,
    }}))
}

/// The user-defined fields in use on the entity's records.
fn udf_information(sim: &Sim, entity: &Entity) -> Response {
    let store = lock(&sim.store);
    let mut names: Vec<String> = store
        .table(entity)
        .filter_map(|r| r.get("userDefinedFields").and_then(Value::as_array))
        .flatten()
        .filter_map(|u| u.get("name").and_then(Value::as_str).map(str::to_owned))
        .collect();
    names.sort();
    names.dedup();
    let fields: Vec<Value> = names
        .into_iter()
        .map(|n| json!({"name": n, "dataType": "string", "length": 100, "isRequired": false, "isPickList": false}))
        .collect();
    ok(json!({ "fields": fields }))
}

fn get_one(sim: &Sim, entity: &Entity, id: i64, parent: Option<(&str, i64)>) -> Response {
    let store = lock(&sim.store);
    let item = store
        .get(entity, id)
        .filter(|r| parent.is_none_or(|(field, pid)| r.get(field).and_then(Value::as_i64) == Some(pid)));
    ok(json!({ "item": item }))
}

fn list_children(sim: &Sim, entity: &Entity, field: &str, parent_id: i64) -> Response {
    let search = json!({"filter": [{"op": "eq", "field": field, "value": parent_id}]});
    run_query(sim, entity, &search, None)
}

fn write(
    sim: &Arc<Sim>,
    method: &Method,
    entity: &'static Entity,
    parent: Option<(&str, i64)>,
    body: &Bytes,
    ctx: WriteContext,
) -> Result<Response, Problem> {
    let allowed = match method.as_str() {
        "POST" => entity.can_create,
        "PATCH" | "PUT" => entity.can_update,
        _ => {
            return Err(error(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("{method} is not supported on {}.", entity.name),
            ));
        }
    };
    if !allowed {
        return Err(error(StatusCode::METHOD_NOT_ALLOWED, format!("{method} is not allowed on {}.", entity.name)));
    }
    let mut body = json_body(body)?;
    if let (Some((field, pid)), Some(object)) = (parent, body.as_object_mut()) {
        object.retain(|k, _| !k.eq_ignore_ascii_case(field));
        object.insert(field.to_owned(), json!(pid));
    }
    let mut store = lock(&sim.store);
    let before = match (entity.name, method == Method::POST) {
        ("Tickets", false) => body
            .as_object()
            .and_then(|o| key(o, "id"))
            .and_then(Value::as_i64)
            .and_then(|id| store.get(entity, id).cloned()),
        _ => None,
    };
    let result =
        if method == Method::POST { store.create(entity, &body, ctx) } else { store.update(entity, &body, ctx) };
    match result {
        Ok(id) => {
            if entity.name == "Tickets" {
                let action = if method == Method::POST { "Create" } else { "Update" };
                let callouts = webhooks::for_ticket(&mut store, id, before.as_ref(), action, ctx.resource_id, ctx.now);
                drop(store);
                webhooks::send(sim.clone(), callouts);
            }
            Ok(ok(json!({ "itemId": id })))
        }
        // The real service answers a broken rule 500, with its reasons in `errors`.
        Err(messages) => Err(errors(StatusCode::INTERNAL_SERVER_ERROR, messages)),
    }
}

fn search_param(query: Option<&str>) -> Result<Value, Problem> {
    let text = query_param(query, "search").ok_or_else(|| {
        error(StatusCode::BAD_REQUEST, "A GET query needs a 'search' parameter holding the query JSON.")
    })?;
    serde_json::from_str(&text).map_err(|e| error(StatusCode::BAD_REQUEST, format!("'search' is not valid JSON: {e}")))
}

fn key<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    object.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
}

struct Search {
    condition: filter::Condition,
    max_records: u64,
    include: Option<Vec<String>>,
}

fn parse_search(entity: &Entity, search: &Value) -> Result<Search, Problem> {
    let Some(object) = search.as_object() else {
        return Err(error(StatusCode::INTERNAL_SERVER_ERROR, "The query must be a JSON object with a 'filter' array."));
    };
    let mut problems = Vec::new();
    let max_records = match key(object, "MaxRecords") {
        None | Some(Value::Null) => MAX_RECORDS,
        Some(v) => match v.as_u64() {
            Some(n) if (1..=MAX_RECORDS).contains(&n) => n,
            _ => {
                problems.push(format!("MaxRecords must be a whole number from 1 to {MAX_RECORDS}, got {v}."));
                MAX_RECORDS
            }
        },
    };
    let include = match key(object, "IncludeFields") {
        None | Some(Value::Null) => None,
        Some(Value::Array(list)) => {
            let mut names = Vec::new();
            for name in list {
                match name.as_str() {
                    Some(n) if n.eq_ignore_ascii_case("userDefinedFields") || entity.field(n).is_some() => {
                        names.push(n.to_ascii_lowercase())
                    }
                    _ => problems.push(format!("IncludeFields: {name} is not a field of {}.", entity.name)),
                }
            }
            Some(names).filter(|n| !n.is_empty())
        }
        Some(other) => {
            problems.push(format!("IncludeFields must be an array of field names, got {other}."));
            None
        }
    };
    let condition = filter::parse(entity, key(object, "filter").unwrap_or(&Value::Null));
    match condition {
        Ok(condition) if problems.is_empty() => Ok(Search { condition, max_records, include }),
        // Reported against the live service: "Unable to find … in the … Entity" answers 500.
        Ok(_) => Err(errors(StatusCode::INTERNAL_SERVER_ERROR, problems)),
        Err(more) => {
            problems.extend(more);
            Err(errors(StatusCode::INTERNAL_SERVER_ERROR, problems))
        }
    }
}

fn project(record: &Map<String, Value>, include: &Option<Vec<String>>) -> Value {
    match include {
        None => Value::Object(record.clone()),
        Some(names) => Value::Object(
            record
                .iter()
                .filter(|(k, _)| *k == "id" || names.contains(&k.to_ascii_lowercase()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
    }
}

fn encode(text: &str) -> String {
    utf8_percent_encode(text, NON_ALPHANUMERIC).to_string()
}

/// One page of matches with an id above `after`; `nextPageUrl` carries the original query.
fn run_query(sim: &Sim, entity: &Entity, search: &Value, after: Option<i64>) -> Response {
    let parsed = match parse_search(entity, search) {
        Ok(s) => s,
        Err(problem) => return problem.into_response(),
    };
    let store = lock(&sim.store);
    let mut matches = store.select(entity, &parsed.condition, after);
    let page: Vec<&Map<String, Value>> = matches.by_ref().take(parsed.max_records as usize).collect();
    let more = matches.next().is_some();
    let next = match (more, page.last().and_then(|r| r.get("id")).and_then(Value::as_i64)) {
        (true, Some(last)) => {
            let paging = json!({"pageSize": parsed.max_records, "lastId": last});
            Value::String(format!(
                "{}{API_PREFIX}{}/query/next?paging={}&search={}",
                sim.base_url,
                entity.name,
                encode(&paging.to_string()),
                encode(&search.to_string())
            ))
        }
        _ => Value::Null,
    };
    let items: Vec<Value> = page.iter().map(|r| project(r, &parsed.include)).collect();
    ok(json!({
        "items": items,
        "pageDetails": {"count": page.len(), "requestCount": parsed.max_records, "prevPageUrl": null, "nextPageUrl": next},
    }))
}

fn next_page(sim: &Sim, entity: &Entity, query: Option<&str>) -> Result<Response, Problem> {
    let search = search_param(query)?;
    let paging: Value = query_param(query, "paging")
        .and_then(|p| serde_json::from_str(&p).ok())
        .ok_or_else(|| error(StatusCode::BAD_REQUEST, "The next-page URL lost its 'paging' parameter."))?;
    let after = paging.get("lastId").and_then(Value::as_i64);
    Ok(run_query(sim, entity, &search, after))
}

fn run_count(sim: &Sim, entity: &Entity, search: &Value) -> Response {
    match parse_search(entity, search) {
        Ok(parsed) => {
            let store = lock(&sim.store);
            ok(json!({ "queryCount": store.select(entity, &parsed.condition, None).count() }))
        }
        Err(problem) => problem.into_response(),
    }
}
