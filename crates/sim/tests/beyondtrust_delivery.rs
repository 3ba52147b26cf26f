//! The appliance stand-in delivers outbound events as an appliance does: a form POST per
//! event, in order; a non-200 answer or a timeout re-queues the head event with backoff, and
//! nothing after it is sent until it gets its 200.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

/// A recipient that answers according to `plan` (status, delay) per request, then 200.
#[derive(Clone, Default)]
struct Recipient {
    received: Arc<Mutex<Vec<(String, u16)>>>,
    plan: Arc<Mutex<Vec<(u16, u64)>>>,
}

async fn receive(State(r): State<Recipient>, body: Bytes) -> StatusCode {
    let fields: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let event = fields.iter().find(|(k, _)| k == "event").map(|(_, v)| v.clone()).unwrap_or_default();
    let (status, delay) = {
        let mut plan = r.plan.lock().unwrap();
        if plan.is_empty() { (200, 0) } else { plan.remove(0) }
    };
    // Logged on arrival: a request the appliance gives up on is dropped mid-answer.
    r.received.lock().unwrap().push((event, status));
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    StatusCode::from_u16(status).unwrap()
}

async fn start_recipient(plan: Vec<(u16, u64)>) -> (String, Recipient) {
    let recipient = Recipient { plan: Arc::new(Mutex::new(plan)), ..Default::default() };
    let app = axum::Router::new().route("/ERSPost", axum::routing::post(receive)).with_state(recipient.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/ERSPost?appliance=test", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, recipient)
}

struct Appliance {
    base: String,
    http: reqwest::Client,
    _sim: bta_sim::beyondtrust::Running,
}

impl Appliance {
    async fn start() -> Appliance {
        let config = bta_sim::beyondtrust::Config { demo: false, ..Default::default() };
        let sim = bta_sim::beyondtrust::spawn(config, 0).await.unwrap();
        Appliance { base: sim.base_url.clone(), http: reqwest::Client::new(), _sim: sim }
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let r = self.http.post(format!("{}/_sim/{path}", self.base)).json(&body).send().await.unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().await.unwrap()
    }

    /// Waits until every queue is empty; returns the delivery report.
    async fn drained(&self) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let report: Value =
                self.http.get(format!("{}/_sim/deliveries", self.base)).send().await.unwrap().json().await.unwrap();
            if report.as_array().unwrap().iter().all(|r| r["pending"] == 0) {
                return report;
            }
            assert!(tokio::time::Instant::now() < deadline, "deliveries never drained: {report}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn session() -> Value {
    json!({
        "external_key": "7201", "duration": 300, "reps": [{"username": "alex.morgan"}],
        "customer": {"name": "Dana Whitfield"},
        "surveys": {"customer": [{"label": "Satisfied?", "answer": "Yes"}], "rep": [{"label": "Resolved?", "answer": "Yes"}]}
    })
}

const ORDER: [&str; 8] = [
    "support_conference_begin",
    "support_conference_member_added",
    "support_conference_member_added",
    "support_conference_member_departed",
    "support_conference_member_departed",
    "support_conference_end",
    "support_conference_customer_exit_survey_completed",
    "support_conference_rep_exit_survey_completed",
];

#[tokio::test]
async fn a_failing_head_event_blocks_the_queue_until_it_gets_200() {
    let appliance = Appliance::start().await;
    let (url, recipient) = start_recipient(vec![(503, 0), (500, 0), (404, 0)]).await;
    appliance.post("recipients", json!({"url": url, "retry_ms": 10})).await;
    assert_eq!(appliance.post("sessions", session()).await["events_queued"], 8);
    let report = appliance.drained().await;

    let received = recipient.received.lock().unwrap().clone();
    let first_four: Vec<_> = received[..4].iter().map(|(e, s)| (e.as_str(), *s)).collect();
    assert_eq!(
        first_four,
        [(ORDER[0], 503), (ORDER[0], 500), (ORDER[0], 404), (ORDER[0], 200)],
        "the head event is retried and nothing else is sent meanwhile"
    );
    let delivered: Vec<&str> = received.iter().filter(|(_, s)| *s == 200).map(|(e, _)| e.as_str()).collect();
    assert_eq!(delivered, ORDER, "every event once, in order");
    assert_eq!(report[0]["delivered"], 8);
    assert_eq!(report[0]["failures"], 3);
}

#[tokio::test]
async fn a_recipient_that_times_out_gets_the_event_again() {
    let appliance = Appliance::start().await;
    let (url, recipient) = start_recipient(vec![(200, 600)]).await;
    appliance.post("recipients", json!({"url": url, "retry_ms": 10, "timeout_ms": 150})).await;
    appliance.post("sessions", session()).await;
    let report = appliance.drained().await;
    assert!(report[0]["failures"].as_u64().unwrap() >= 1, "{report}");
    let received = recipient.received.lock().unwrap().clone();
    let begins = received.iter().filter(|(e, _)| e == ORDER[0]).count();
    assert!(begins >= 2, "the slow answer did not count: {received:?}");
    let tail: Vec<&str> = received.iter().skip_while(|(e, _)| e == ORDER[0]).map(|(e, _)| e.as_str()).collect();
    assert_eq!(tail, ORDER[1..], "the rest follow in order, once each");
}

#[tokio::test]
async fn a_recipient_gets_only_the_events_it_asked_for() {
    let appliance = Appliance::start().await;
    let (url, recipient) = start_recipient(Vec::new()).await;
    appliance.post("recipients", json!({"url": url, "events": ["support_conference_end"]})).await;
    appliance.post("sessions", session()).await;
    appliance.drained().await;
    let received = recipient.received.lock().unwrap().clone();
    assert_eq!(received, [("support_conference_end".to_owned(), 200)]);
}

#[tokio::test]
async fn a_live_session_sends_its_end_when_it_ends() {
    let appliance = Appliance::start().await;
    let (url, recipient) = start_recipient(Vec::new()).await;
    appliance.post("recipients", json!({"url": url})).await;
    let mut live = session();
    live["live"] = json!(true);
    let lsid = appliance.post("sessions", live).await["lsid"].as_str().unwrap().to_owned();
    appliance.drained().await;
    assert_eq!(recipient.received.lock().unwrap().len(), 3, "begin and two joins");
    appliance.post(&format!("sessions/{lsid}/end"), json!({})).await;
    appliance.drained().await;
    let names: Vec<String> = recipient.received.lock().unwrap().iter().map(|(e, _)| e.clone()).collect();
    assert_eq!(names, ORDER);
}
