//! The Autotask stand-in checked against `shared/spec/autotask.md` with a bare HTTP client:
//! case-insensitive paths and headers, both query forms, validation, the hourly threshold.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use bta_sim::autotask::{self, Config, DEFAULT_INTEGRATION_CODE, DEFAULT_SECRET, DEFAULT_USERNAME};
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
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("username", DEFAULT_USERNAME)
            .header("SECRET", DEFAULT_SECRET)
            .header("ApiIntegrationcode", DEFAULT_INTEGRATION_CODE);
        if let Some(body) = body {
            request = request.json(&body);
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

#[tokio::test]
async fn bad_queries_and_writes_answer_400_with_errors() {
    let api = Api::start(quick()).await;
    let cases = [
        (Method::POST, "/atservicesrest/v1.0/Tickets/query", json!({"filter": []}), "at least one filter"),
        (
            Method::POST,
            "/atservicesrest/v1.0/Tickets/query",
            json!({"MaxRecords": 501, "filter": [{"op": "exist", "field": "id"}]}),
            "MaxRecords",
        ),
        (
            Method::POST,
            "/atservicesrest/v1.0/Tickets/query",
            json!({"filter": [{"op": "like", "field": "id", "value": 1}]}),
            "Unknown filter operator",
        ),
        (Method::POST, "/atservicesrest/v1.0/Tickets", json!({"title": "x"}), "companyID is required"),
        (
            Method::POST,
            "/atservicesrest/v1.0/Tickets/7201/Notes",
            json!({"title": "t", "description": "d", "noteType": 1, "publish": 1, "color": "red"}),
            "Unable to find color",
        ),
        (
            Method::POST,
            "/atservicesrest/v1.0/TimeEntries",
            json!({"ticketID": 7201, "resourceID": 29684005, "roleID": 29683461, "dateWorked": "2026-11-24T00:00:00Z", "hoursWorked": 1.0, "summaryNotes": "s"}),
            "does not hold role",
        ),
        (
            Method::POST,
            "/atservicesrest/v1.0/TimeEntries",
            json!({"ticketID": 7201, "resourceID": 29684001, "roleID": 29683461, "dateWorked": "2026-11-24T00:00:00Z", "hoursWorked": 25.0}),
            "summaryNotes is required",
        ),
    ];
    for (method, path, body, expected) in cases {
        let (status, answer) = api.call(method, path, Some(body.clone())).await;
        assert_eq!(status, 400, "{body} → {answer}");
        let messages = answer["errors"].to_string();
        assert!(messages.contains(expected), "{body}: expected '{expected}' in {messages}");
    }
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
