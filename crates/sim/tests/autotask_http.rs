//! The Autotask stand-in checked against `shared/spec/autotask.md` with a bare HTTP client:
//! case-insensitive paths and headers, both query forms, validation, the hourly threshold.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use bta_sim::autotask::system::SystemSettings;
use bta_sim::autotask::{self, API_RESOURCE_ID, Config, DEFAULT_INTEGRATION_CODE, DEFAULT_SECRET, DEFAULT_USERNAME};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

struct Api {
    base: String,
    http: reqwest::Client,
    _sim: autotask::Running,
}

impl Api {
    async fn start(config: Config) -> Api {
        let sim = autotask::spawn(config, 0).await.unwrap();
        Api { base: sim.base_url.clone(), http: reqwest::Client::new(), _sim: sim }
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.call_as(None, method, path, body).await
    }

    /// A call with `ImpersonationResourceId: as_resource` when one is given.
    async fn call_as(
        &self,
        as_resource: Option<i64>,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("username", DEFAULT_USERNAME)
            .header("SECRET", DEFAULT_SECRET)
            .header("ApiIntegrationcode", DEFAULT_INTEGRATION_CODE);
        if let Some(body) = body {
            request = request.json(&body);
        }
        if let Some(id) = as_resource {
            request = request.header("ImpersonationResourceId", id.to_string());
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

fn quick() -> Config {
    Config { threshold_delay: Duration::ZERO, ..Config::default() }
}

#[tokio::test]
async fn paths_headers_and_filter_fields_ignore_case() {
    let api = Api::start(quick()).await;
    let (status, body) = api.call(Method::GET, "/ATServicesRest/V1.0/tickets/7201", None).await;
    assert_eq!(status, 200);
    assert_eq!(body["item"]["ticketNumber"], "T20261124.0042");
    let query = json!({"filter": [{"op": "EQ", "field": "TICKETNUMBER", "value": "t20261124.0042"}]});
    let (status, body) = api.call(Method::POST, "/atservicesrest/v1.0/TICKETS/Query", Some(query)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["items"][0]["id"], 7201);
}

#[tokio::test]
async fn a_query_works_as_post_body_and_as_get_search_parameter() {
    let api = Api::start(quick()).await;
    let search = json!({"filter": [{"op": "eq", "field": "companyID", "value": 174}]});
    let (_, posted) = api.call(Method::POST, "/atservicesrest/v1.0/Tickets/query", Some(search.clone())).await;
    let encoded = url::form_urlencoded::byte_serialize(search.to_string().as_bytes()).collect::<String>();
    let (status, got) =
        api.call(Method::GET, &format!("/atservicesrest/v1.0/Tickets/query?search={encoded}"), None).await;
    assert_eq!(status, 200);
    assert_eq!(posted["items"], got["items"]);
    assert!(!posted["items"].as_array().unwrap().is_empty());
    let (_, count) = api.call(Method::POST, "/atservicesrest/v1.0/Tickets/query/count", Some(search)).await;
    assert_eq!(count["queryCount"].as_u64().unwrap() as usize, posted["items"].as_array().unwrap().len());
}

const ENTRY: &str = r#"{"ticketID": 7201, "resourceID": 29684001, "roleID": 29683461,
    "dateWorked": "2026-11-24T00:00:00Z", "hoursWorked": 1.0, "summaryNotes": "Remote support"}"#;

/// A time entry like the worker's, with `change` applied (null removes a field).
fn entry(change: Value) -> Value {
    let mut body: Value = serde_json::from_str(ENTRY).unwrap();
    for (k, v) in change.as_object().unwrap() {
        if v.is_null() {
            body.as_object_mut().unwrap().remove(k);
        } else {
            body[k] = v.clone();
        }
    }
    body
}

#[tokio::test]
async fn broken_rules_answer_500_with_autotask_words() {
    let api = Api::start(quick()).await;
    let ticket = json!({"companyID": 174, "title": "t", "status": 1, "priority": 2, "queueID": 8,
                        "dueDateTime": "2026-12-01T00:00:00Z"});
    let with = |change: Value| {
        let mut t = ticket.clone();
        t.as_object_mut().unwrap().extend(change.as_object().unwrap().clone());
        t
    };
    let cases = [
        ("Tickets/query", json!({"filter": []}), "at least one filter"),
        ("Tickets/query", json!({"MaxRecords": 501, "filter": [{"op": "exist", "field": "id"}]}), "MaxRecords"),
        ("Tickets/query", json!({"filter": [{"op": "like", "field": "id", "value": 1}]}), "Unknown filter operator"),
        ("Tickets/query", json!({"filter": [{"op": "eq", "field": "colour", "value": 1}]}), "Unable to find colour"),
        ("Tickets", json!({"title": "x"}), "Value does not exist for the required field companyID"),
        ("Tickets", with(json!({"priority": "High"})), "Could not convert string to integer: High. Path 'priority'"),
        ("Tickets", with(json!({"priority": 9})), "Picklist value [9] does not exist for priority"),
        ("Tickets", with(json!({"companyID": 999})), "Value does not reference an existing entity for companyID"),
        ("Tickets", with(json!({"title": "x".repeat(256)})), "title is 256 characters long; the maximum is 255"),
        (
            "Tickets",
            with(json!({"assignedResourceID": 29684001})),
            "When assigning a Resource, you must assign both a assignedResourceID and assignedResourceRoleID.",
        ),
        (
            "Tickets",
            with(json!({"assignedResourceID": 29684001, "assignedResourceRoleID": 29683463})),
            "The specified AssignedResourceID and AssignedRoleID combination is not currently defined",
        ),
        (
            "Tickets/7201/Notes",
            json!({"title": "t", "description": "d", "noteType": 1, "publish": 1, "color": "red"}),
            "Unable to find color",
        ),
        ("Tickets/7201/Notes", json!({"title": "t", "description": "d", "noteType": 1, "publish": 3}), "[3]"),
        (
            "TimeEntries",
            entry(json!({"roleID": 29683463})),
            "The specified AssignedResourceID and AssignedRoleID combination is not currently defined",
        ),
        ("TimeEntries", entry(json!({"roleID": null})), "TimeEntries for Tickets must have a roleID"),
        ("TimeEntries", entry(json!({"roleID": 1})), "Role does not exist or is invalid"),
        ("TimeEntries", entry(json!({"summaryNotes": " "})), "TimeEntry.summaryNotes can not be blank."),
        ("TimeEntries", entry(json!({"summaryNotes": null})), "TimeEntry.summaryNotes can not be blank."),
        ("TimeEntries", entry(json!({"hoursWorked": 25.0})), "hoursWorked greater than 24 hours"),
    ];
    for (path, body, expected) in cases {
        let (status, answer) =
            api.call(Method::POST, &format!("/atservicesrest/v1.0/{path}"), Some(body.clone())).await;
        assert_eq!(status, 500, "{body} → {answer}");
        let messages = answer["errors"].to_string();
        assert!(messages.contains(expected), "{body}: expected '{expected}' in {messages}");
    }
    let (status, _) = api.call(Method::POST, "/atservicesrest/v1.0/TimeEntries", Some(entry(json!({})))).await;
    assert_eq!(status, 200, "the unchanged time entry is valid");
    let (status, _) = api.call(Method::POST, "/atservicesrest/v1.0/Tickets", Some(ticket)).await;
    assert_eq!(status, 200, "the unchanged ticket is valid");
}

#[tokio::test]
async fn an_assignment_changed_by_update_needs_a_role_the_resource_holds() {
    let api = Api::start(quick()).await;
    let change = json!({"id": 7201, "assignedResourceID": 29684001, "assignedResourceRoleID": 29683463});
    let (status, answer) = api.call(Method::PATCH, "/atservicesrest/v1.0/Tickets", Some(change)).await;
    assert_eq!(status, 500, "{answer}");
    assert!(answer["errors"][0].as_str().unwrap().contains("combination is not currently defined"));
    let change = json!({"id": 7201, "assignedResourceID": 29684001, "assignedResourceRoleID": 29683461});
    let (status, answer) = api.call(Method::PATCH, "/atservicesrest/v1.0/Tickets", Some(change)).await;
    assert_eq!(status, 200, "{answer}");
}

#[tokio::test]
async fn outages_answer_without_errors_and_a_wrong_integration_code_answers_500() {
    let api = Api::start(quick()).await;
    for status in [500, 503] {
        let fault = json!({"path": "/atservicesrest/v1.0/Tickets/7201", "status": status});
        let (set, _) = api.call(Method::POST, "/_sim/faults", Some(fault)).await;
        assert_eq!(set, 200);
        let response = api
            .http
            .get(format!("{}/atservicesrest/v1.0/Tickets/7201", api.base))
            .header("UserName", DEFAULT_USERNAME)
            .header("Secret", DEFAULT_SECRET)
            .header("ApiIntegrationCode", DEFAULT_INTEGRATION_CODE)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), status);
        let body = response.text().await.unwrap();
        assert!(!body.contains("errors"), "an outage carries no errors list: {body}");
    }
    let response = api
        .http
        .get(format!("{}/atservicesrest/v1.0/Tickets/7201", api.base))
        .header("UserName", DEFAULT_USERNAME)
        .header("Secret", DEFAULT_SECRET)
        .header("ApiIntegrationCode", "not-the-code")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 500);
    assert!(response.text().await.unwrap().contains("IntegrationCode is invalid."));
    let response = api
        .http
        .get(format!("{}/atservicesrest/v1.0/Tickets/7201", api.base))
        .header("UserName", DEFAULT_USERNAME)
        .header("Secret", "wrong")
        .header("ApiIntegrationCode", DEFAULT_INTEGRATION_CODE)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401, "a wrong secret stays 401");
}

#[tokio::test]
async fn the_hourly_threshold_slows_then_refuses() {
    let api =
        Api::start(Config { hourly_limit: 8, threshold_delay: Duration::from_millis(100), ..Config::default() }).await;
    let mut took = Vec::new();
    for _ in 0..8 {
        let started = Instant::now();
        let (status, _) = api.call(Method::GET, "/atservicesrest/v1.0/ThresholdInformation", None).await;
        assert_eq!(status, 200);
        took.push(started.elapsed());
    }
    assert!(took[4] >= Duration::from_millis(100), "past 50 %: {:?}", took[4]);
    assert!(took[6] >= Duration::from_millis(200), "past 75 %: {:?}", took[6]);
    let (status, body) = api.call(Method::GET, "/atservicesrest/v1.0/Tickets/7201", None).await;
    assert_eq!(status, 429);
    assert!(body["errors"][0].as_str().unwrap().contains("threshold"));
}

#[tokio::test]
async fn notes_touch_their_ticket_and_reset_restores_the_demo() {
    let api = Api::start(quick()).await;
    let (_, before) = api.call(Method::GET, "/atservicesrest/v1.0/Tickets/7201", None).await;
    let note = json!({"title": "t", "description": "d", "noteType": 1, "publish": 2});
    let (status, created) = api.call(Method::POST, "/atservicesrest/v1.0/Tickets/7201/Notes", Some(note)).await;
    assert_eq!(status, 200);
    let (_, after) = api.call(Method::GET, "/atservicesrest/v1.0/Tickets/7201", None).await;
    assert_ne!(before["item"]["lastActivityDate"], after["item"]["lastActivityDate"]);
    let id = created["itemId"].as_i64().unwrap();
    let (_, listed) = api.call(Method::GET, "/atservicesrest/v1.0/Tickets/7201/Notes", None).await;
    assert!(listed["items"].as_array().unwrap().iter().any(|n| n["id"] == id));

    api.http.post(format!("{}/_sim/reset", api.base)).send().await.unwrap();
    let (_, note) = api.call(Method::GET, &format!("/atservicesrest/v1.0/TicketNotes/{id}"), None).await;
    assert_eq!(note["item"], Value::Null);
}

/// A time entry from `start` for `minutes`, with `change` applied.
fn timed(start: &str, minutes: i64, change: Value) -> Value {
    let start: chrono::DateTime<chrono::Utc> = start.parse().unwrap();
    let end = start + chrono::Duration::minutes(minutes);
    let mut body = entry(json!({"startDateTime": start.to_rfc3339(), "endDateTime": end.to_rfc3339(),
                                "dateWorked": start.to_rfc3339(), "hoursWorked": minutes as f64 / 60.0}));
    body.as_object_mut().unwrap().extend(change.as_object().unwrap().clone());
    body
}

impl Api {
    /// Creates a time entry: its status and the first error.
    async fn time_entry(&self, body: Value) -> (StatusCode, String) {
        let (status, answer) = self.call(Method::POST, "/atservicesrest/v1.0/TimeEntries", Some(body)).await;
        (status, answer["errors"][0].as_str().unwrap_or_default().to_owned())
    }

    async fn steer(&self, path: &str, body: Value) {
        let (status, answer) = self.call(Method::POST, &format!("/_sim/{path}"), Some(body)).await;
        assert_eq!(status, 200, "{path}: {answer}");
    }
}

#[tokio::test]
async fn the_desks_system_settings_refuse_time_entries_as_autotasks_help_says() {
    let api = Api::start(quick()).await;
    // Across UTC midnight: refused until the desk allows spans (off in Autotask unless enabled).
    let across = timed("2026-12-01T23:50:00Z", 30, json!({}));
    let (status, error) = api.time_entry(across.clone()).await;
    assert_eq!(status, 500);
    assert!(error.contains("Allow time entries to span over midnight"), "{error}");
    // Read by its dates: one ending at 00:00:00 spans midnight; one ending at 23:59:59 does not.
    assert_eq!(api.time_entry(timed("2026-12-01T23:30:00Z", 30, json!({}))).await.0, 500, "ends on the next date");
    assert_eq!(api.time_entry(timed("2026-12-01T23:30:00Z", 29, json!({}))).await.0, 200, "within its date");
    api.steer("settings", json!({"allowTimeEntriesToSpanMidnight": true})).await;
    assert_eq!(api.time_entry(across).await.0, 200);

    // Proxy time entry: the API user enters a rep's time only as an administrator.
    let day = timed("2026-12-01T15:00:00Z", 30, json!({}));
    api.steer("settings", json!({"apiUserIsAdministrator": false})).await;
    let (status, error) = api.time_entry(day.clone()).await;
    assert_eq!(status, 500);
    assert!(error.contains("Proxy Time Entry"), "{error}");
    api.steer("settings", json!({"apiUserIsAdministrator": true, "proxyTimeEntry": "disabled"})).await;
    assert_eq!(api.time_entry(day.clone()).await.0, 500);
    api.steer("settings", json!({"proxyTimeEntry": "enabledForApproversAndAdministrators"})).await;

    // A submitted week takes no more time; a rejected one does.
    api.steer("timesheets", json!({"resourceID": 29684001, "date": "2026-12-03", "status": "Submitted"})).await;
    let (status, error) = api.time_entry(day.clone()).await;
    assert_eq!(status, 500);
    assert!(error.contains("status of New or Rejected"), "{error}");
    api.steer("timesheets", json!({"resourceID": 29684001, "date": "2026-11-30", "status": "Rejected"})).await;
    assert_eq!(api.time_entry(day.clone()).await.0, 200);

    // A required work type, on tickets (the BillingCodes help) and on their time.
    api.steer("settings", json!({"requireWorkType": true})).await;
    let ticket = json!({"companyID": 174, "title": "t", "status": 1, "priority": 2, "queueID": 8,
                        "dueDateTime": "2026-12-04T00:00:00Z"});
    let (status, answer) = api.call(Method::POST, "/atservicesrest/v1.0/Tickets", Some(ticket.clone())).await;
    assert_eq!(status, 500);
    assert!(answer["errors"][0].as_str().unwrap().contains("Work Type"), "{answer}");
    let mut with_work_type = ticket.clone();
    with_work_type["billingCodeID"] = json!(29682801);
    assert_eq!(api.call(Method::POST, "/atservicesrest/v1.0/Tickets", Some(with_work_type)).await.0, 200);
    assert_eq!(api.time_entry(day.clone()).await.0, 500, "time without a work type");
    let internal = timed("2026-12-01T15:00:00Z", 30, json!({"billingCodeID": 29682811}));
    assert!(api.time_entry(internal).await.1.contains("active Work Type"), "an internal code is no work type");
    let retired = timed("2026-12-01T15:00:00Z", 30, json!({"billingCodeID": 29682805}));
    assert_eq!(api.time_entry(retired).await.0, 500, "an inactive work type");
    let remote = timed("2026-12-01T15:00:00Z", 30, json!({"billingCodeID": 29682801}));
    assert_eq!(api.time_entry(remote).await.0, 200);

    // After hours: Remote Support has an after-hours work type; Onsite has none.
    api.steer("settings", json!({"businessHours": "08:00-18:00"})).await;
    let late = timed("2026-12-01T17:45:00Z", 30, json!({"billingCodeID": 29682801}));
    let (status, error) = api.time_entry(late).await;
    assert_eq!(status, 500);
    assert!(error.contains("After-Hours"), "{error}");
    let onsite = timed("2026-12-01T17:45:00Z", 30, json!({"billingCodeID": 29682802}));
    assert_eq!(api.time_entry(onsite).await.0, 200);
    let (status, _) = api.call(Method::POST, "/_sim/settings", Some(json!({"businessHours": "late"}))).await;
    assert_eq!(status, 400, "hours that do not read as HH:MM-HH:MM");

    // Work types are there to find, and a reset returns to Autotask's defaults.
    let query = json!({"filter": [{"op": "eq", "field": "useType", "value": 1}, {"op": "eq", "field": "isActive", "value": true}]});
    let (_, codes) = api.call(Method::POST, "/atservicesrest/v1.0/BillingCodes/query", Some(query)).await;
    let names: Vec<&str> = codes["items"].as_array().unwrap().iter().filter_map(|c| c["name"].as_str()).collect();
    assert!(
        names.contains(&"Remote Support") && names.contains(&"Onsite") && !names.contains(&"Training"),
        "{names:?}"
    );
    api.call(Method::POST, "/_sim/reset", None).await;
    let (_, settings) = api.call(Method::GET, "/_sim/settings", None).await;
    assert_eq!(settings["allowTimeEntriesToSpanMidnight"], false);
    assert_eq!(settings["requireWorkType"], false);
    let (_, sheets) = api.call(Method::GET, "/_sim/timesheets", None).await;
    assert_eq!(sheets, json!([]));
}

#[tokio::test]
async fn a_write_as_an_impersonated_rep_is_theirs_unless_their_security_level_refuses_it() {
    let api = Api::start(Config {
        system: SystemSettings { impersonation_refused_for: vec![29684002], ..Default::default() },
        ..quick()
    })
    .await;
    let note = json!({"title": "Remote session", "description": "Fixed it", "noteType": 1, "publish": 1});
    let path = "/atservicesrest/v1.0/Tickets/7201/Notes";
    let (status, created) = api.call_as(Some(29684001), Method::POST, path, Some(note.clone())).await;
    assert_eq!(status, 200, "{created}");
    let get = format!("/atservicesrest/v1.0/TicketNotes/{}", created["itemId"]);
    let (_, read) = api.call(Method::GET, &get, None).await;
    assert_eq!(read["item"]["creatorResourceID"], 29684001, "the rep's note");
    assert_eq!(read["item"]["impersonatorCreatorResourceID"], API_RESOURCE_ID, "written by the API user");

    // Proxy Time Entry off: the rep's own entry, impersonated, is taken; the API user's is not.
    api.steer("settings", json!({"proxyTimeEntry": "disabled"})).await;
    let day = timed("2026-12-01T15:00:00Z", 30, json!({}));
    let entries = "/atservicesrest/v1.0/TimeEntries";
    assert_eq!(api.call_as(Some(29684001), Method::POST, entries, Some(day.clone())).await.0, 200);
    assert_eq!(api.time_entry(day).await.0, 500);

    for refused in [29684002, API_RESOURCE_ID] {
        let (status, answer) = api.call_as(Some(refused), Method::POST, path, Some(note.clone())).await;
        assert_eq!(status, 500, "{refused}");
        let said = answer["errors"][0].as_str().unwrap_or_default();
        assert_eq!(said, "The logged in Resource does not have the adequate permissions to create this entity type.");
    }
    let query = json!({"filter": [{"op": "eq", "field": "ticketID", "value": 7201}]});
    let (status, _) =
        api.call_as(Some(29684001), Method::POST, "/atservicesrest/v1.0/TicketNotes/query", Some(query)).await;
    assert_eq!(status, 500, "a query with the header is refused");
}

#[tokio::test]
async fn zone_discovery_for_a_username_autotask_does_not_know_answers_500() {
    let api = Api::start(quick()).await;
    let (status, answer) =
        api.call(Method::GET, "/atservicesrest/v1.0/zoneInformation?user=nobody@example.com", None).await;
    assert_eq!(status, 500);
    assert!(answer["errors"][0].as_str().unwrap().contains("Zone information could not be determined"), "{answer}");
}

/// Where a test's ticket webhook points: every callout's signature and body, as they arrive.
async fn callout_receiver() -> (String, tokio::sync::mpsc::UnboundedReceiver<(String, axum::body::Bytes)>) {
    let (sender, received) = tokio::sync::mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let signature = headers.get("x-hook-signature").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
            let _ = sender.send((signature, body));
            async { "ok" }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

#[tokio::test]
async fn a_ticket_webhook_calls_out_for_the_fields_it_names_and_only_those() {
    let api = Api::start(quick()).await;
    let (url, mut received) = callout_receiver().await;
    let hook = json!({"name": "test", "webhookUrl": url, "deactivationUrl": url, "secretKey": "s3cret",
        "isActive": true, "isSubscribedToUpdateEvents": true});
    let (status, made) = api.call(Method::POST, "/atservicesrest/v1.0/TicketWebhooks", Some(hook)).await;
    assert_eq!(status, 200, "{made}");
    let hook = made["itemId"].as_i64().unwrap();
    let retitle = |title: &str| json!({"id": 7201, "title": title});
    // No fields named: Autotask calls out for none.
    api.call(Method::PATCH, "/atservicesrest/v1.0/Tickets", Some(retitle("Nobody is told"))).await;

    let (_, info) =
        api.call(Method::GET, "/atservicesrest/v1.0/TicketWebhookFields/entityInformation/fields", None).await;
    let ids =
        info["fields"].as_array().unwrap().iter().find(|f| f["name"] == "fieldID").unwrap()["picklistValues"].clone();
    let id_of = |name: &str| -> i64 {
        let entry = ids.as_array().unwrap().iter().find(|v| v["label"] == name).unwrap();
        entry["value"].as_str().unwrap().parse().unwrap()
    };
    let fields = format!("/atservicesrest/v1.0/TicketWebhooks/{hook}/Fields");
    let name = |field: &str, subscribed: bool| json!({"fieldID": id_of(field), "isSubscribedField": subscribed, "isDisplayAlwaysField": !subscribed});
    for body in [name("title", true), name("ticketNumber", false)] {
        let (status, body) = api.call(Method::POST, &fields, Some(body)).await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, _) =
        api.call(Method::POST, &fields, Some(json!({"fieldID": 99_999, "isSubscribedField": true}))).await;
    assert_eq!(status, 500, "a field id the picklist does not hold");

    // A change to a field it does not subscribe to: none; to its title: one, with the title that
    // changed and the number shown always, signed with its secret.
    api.call(Method::PATCH, "/atservicesrest/v1.0/Tickets", Some(json!({"id": 7201, "priority": 3}))).await;
    api.call(Method::PATCH, "/atservicesrest/v1.0/Tickets", Some(retitle("Printer on fire"))).await;
    let (signature, body) = tokio::time::timeout(Duration::from_secs(5), received.recv()).await.unwrap().unwrap();
    assert_eq!(signature, autotask::webhooks::sign("s3cret", &body));
    let callout: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(callout["Fields"], json!({"title": "Printer on fire", "ticketNumber": "T20261124.0042"}), "{callout}");
    assert_eq!((callout["Action"].as_str(), callout["Id"].as_i64()), (Some("Update"), Some(7201)));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(received.try_recv().is_err(), "one callout only");
}

#[tokio::test]
async fn a_webhook_whose_callouts_keep_failing_is_turned_off_and_its_deactivation_url_called() {
    let api = Api::start(quick()).await;
    let (url, mut received) = callout_receiver().await;
    let hook = json!({"name": "desk", "webhookUrl": url, "deactivationUrl": url, "secretKey": "s3cret",
        "isActive": true, "isSubscribedToUpdateEvents": true});
    let hook = api.call(Method::POST, "/atservicesrest/v1.0/TicketWebhooks", Some(hook)).await.1["itemId"].clone();
    let fields = format!("/atservicesrest/v1.0/TicketWebhooks/{hook}/Fields");
    api.call(Method::POST, &fields, Some(json!({"fieldID": 1202, "isSubscribedField": true}))).await;
    // Five attempts per callout; turned off at the seventh failure in a row: during the second.
    api.steer(
        "settings",
        json!({"webhookCalloutsBlocked": true, "webhookRetryMs": 1,
                                 "webhookFailuresToDeactivate": 7}),
    )
    .await;
    for title in ["One", "Two"] {
        api.call(Method::PATCH, "/atservicesrest/v1.0/Tickets", Some(json!({"id": 7201, "title": title}))).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (signature, body) = tokio::time::timeout(Duration::from_secs(5), received.recv()).await.unwrap().unwrap();
    assert!(signature.is_empty(), "the deactivation call is not a callout");
    let told: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((told["Id"].clone(), told["IsActive"].clone()), (hook.clone(), json!(false)), "{told}");
    let (_, read) = api.call(Method::GET, &format!("/atservicesrest/v1.0/TicketWebhooks/{hook}"), None).await;
    assert_eq!(read["item"]["isActive"], false);
    let (_, counts) = api.call(Method::GET, "/_sim/webhooks", None).await;
    assert_eq!(counts[hook.to_string()]["deactivations"], 1, "{counts}");
    // Off, it calls out no more; on again (and reachable), it does.
    api.steer("settings", json!({"webhookCalloutsBlocked": false})).await;
    api.call(Method::PATCH, "/atservicesrest/v1.0/Tickets", Some(json!({"id": 7201, "title": "Three"}))).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(received.try_recv().is_err(), "an inactive webhook calls out for nothing");
    let on = json!({"id": hook, "isActive": true});
    assert_eq!(api.call(Method::PATCH, "/atservicesrest/v1.0/TicketWebhooks", Some(on)).await.0, 200);
    api.call(Method::PATCH, "/atservicesrest/v1.0/Tickets", Some(json!({"id": 7201, "title": "Four"}))).await;
    let (signature, _) = tokio::time::timeout(Duration::from_secs(5), received.recv()).await.unwrap().unwrap();
    assert!(signature.starts_with("sha1="), "a signed callout again");
}
