//! How the Autotask client behaves when Autotask does not simply answer: each error class,
//! retries and backoff, the cap on requests in flight, and slowing down as the threshold fills.

#![allow(clippy::unwrap_used)]

mod helpers;

use std::time::Duration;

use bta_core::Secret;
use bta_core::autotask::{AutotaskClient, ErrorKind, Limits, Pressure, Query, Ticket, TicketNote};
use helpers::{Autotask, fast_limits};
use serde_json::{Value, json};

fn note() -> TicketNote {
    TicketNote {
        title: Some("Session".into()),
        description: Some("Body".into()),
        note_type: Some(1),
        publish: Some(1),
        ..Default::default()
    }
}

#[tokio::test]
async fn bad_credentials_are_not_retried_and_name_the_settings() {
    let at = Autotask::start().await;
    let mut settings = at.settings();
    settings.secret = Secret::new("wrong-secret");
    let err = AutotaskClient::new(settings).unwrap().get::<Ticket>(7201).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Credentials);
    assert_eq!(err.status, Some(401));
    assert!(err.to_string().contains("check Settings › Autotask"), "{err}");
    assert_eq!(at.requests_to("Tickets/7201").await.len(), 1, "a 401 is never retried");
}

#[tokio::test]
async fn too_many_requests_is_retried_after_retry_after_and_then_succeeds() {
    let at = Autotask::start().await;
    at.fault(json!({"method": "GET", "path": "/atservicesrest/v1.0/Tickets/7201", "status": 429, "count": 1, "retry_after": 1}))
        .await;
    let ticket = at.client().get::<Ticket>(7201).await.unwrap();
    assert!(ticket.is_some());
    let attempts = at.requests_to("Tickets/7201").await;
    assert_eq!(attempts.iter().map(|r| r["status"].as_u64().unwrap()).collect::<Vec<_>>(), [429, 200]);
    let waited = attempts[1]["started_ms"].as_f64().unwrap() - attempts[0]["finished_ms"].as_f64().unwrap();
    assert!(waited >= 990.0, "Retry-After: 1 was honoured, waited {waited} ms");
}

#[tokio::test]
async fn too_many_requests_without_retry_after_backs_off_then_gives_up_clearly() {
    let at = Autotask::start().await;
    at.fail("GET", "Tickets/7201", 429, 10).await;
    let err = at.client().get::<Ticket>(7201).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::ThresholdExceeded);
    assert!(err.is_transient());
    assert!(err.to_string().contains("hourly request threshold"), "{err}");
    assert_eq!(at.requests_to("Tickets/7201").await.len(), 4, "first try and three retries");
}

#[tokio::test]
async fn server_errors_are_retried_then_succeed() {
    let at = Autotask::start().await;
    at.fail("POST", "Tickets/query", 503, 2).await;
    let tickets = at.client().query_all::<Ticket>(Query::all().max_records(5)).await.unwrap();
    assert!(!tickets.is_empty());
    let statuses: Vec<u64> =
        at.requests_to("Tickets/query").await.iter().map(|r| r["status"].as_u64().unwrap()).collect();
    assert_eq!(&statuses[..3], [503, 503, 200]);
}

#[tokio::test]
async fn server_errors_that_persist_surface_with_a_clear_message() {
    let at = Autotask::start().await;
    at.fail("POST", "Tickets/query", 500, 10).await;
    let err = at.client().query_page::<Ticket>(&Query::all()).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Server);
    assert_eq!(err.status, Some(500));
    let text = err.to_string();
    assert!(text.starts_with("Could not query Tickets: Autotask had a server error (HTTP 500)"), "{text}");
    assert!(text.contains("try again later"), "{text}");
    assert_eq!(at.requests_to("Tickets/query").await.len(), 4);
}

#[tokio::test]
async fn rule_violations_answered_500_come_through_verbatim_and_are_not_retried() {
    let at = Autotask::start().await;
    let mut bad = note();
    bad.title = Some("x".repeat(251));
    bad.note_type = Some(77);
    let err = at.client().create_child(7201, &bad).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Rejected);
    assert_eq!(err.status, Some(500), "Autotask answers a broken rule 500 with its reasons");
    let mut messages = err.messages.clone();
    messages.sort();
    assert_eq!(
        messages,
        ["Picklist value [77] does not exist for noteType", "title is 251 characters long; the maximum is 250."]
    );
    assert!(!err.to_string().contains("the answer was lost"), "{err}");
    assert!(err.to_string().contains("title is 251 characters long"), "{err}");
    assert_eq!(at.requests_to("Tickets/7201/Notes").await.len(), 1);
}

#[tokio::test]
async fn a_create_is_never_repeated_when_autotask_may_have_done_it() {
    let at = Autotask::start().await;
    at.fault(json!({"method": "POST", "path": "/atservicesrest/v1.0/Tickets/7201/Notes", "status": 500,
                    "count": 1, "after_processing": true}))
        .await;
    let before = at.records("TicketNotes").await.len();
    let err = at.client().create_child(7201, &note()).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Ambiguous);
    assert!(err.to_string().contains("check in Autotask whether it was written"), "{err}");
    assert_eq!(at.requests_to("Tickets/7201/Notes").await.len(), 1, "not sent twice");
    assert_eq!(at.records("TicketNotes").await.len(), before + 1, "the stand-in did write it");
}

#[tokio::test]
async fn a_create_is_retried_when_it_was_refused_for_the_threshold() {
    let at = Autotask::start().await;
    at.fail("POST", "Tickets/7201/Notes", 429, 1).await;
    let before = at.records("TicketNotes").await.len();
    at.client().create_child(7201, &note()).await.unwrap();
    assert_eq!(at.records("TicketNotes").await.len(), before + 1, "exactly one note");
}

#[tokio::test]
async fn an_unreachable_zone_is_a_network_error_that_names_the_host() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let at = Autotask::start().await;
    let mut settings = at.settings();
    settings.services_url = Some(format!("http://127.0.0.1:{port}/atservicesrest"));
    let err = AutotaskClient::new(settings).unwrap().get::<Ticket>(1).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Network);
    let text = err.to_string();
    assert!(text.contains("could not be reached") && text.contains("127.0.0.1"), "{text}");
}

#[tokio::test]
async fn requests_in_flight_never_exceed_the_cap_per_endpoint() {
    let at = Autotask::start().await;
    at.set_latency(60).await;
    let run = |client: AutotaskClient| async move {
        let calls = (0..12).map(|i| {
            let c = client.clone();
            tokio::spawn(async move { c.get::<Ticket>(7201 + i).await })
        });
        for call in futures::future::join_all(calls).await {
            call.unwrap().unwrap();
        }
    };
    run(at.client()).await;
    let capped = at.highest_concurrency("Tickets").await;
    assert!((2..=3).contains(&capped), "highest in flight with the default cap: {capped}");

    let at = Autotask::start().await;
    at.set_latency(60).await;
    run(at.client_with(Limits { max_in_flight_per_endpoint: 12, ..fast_limits() })).await;
    let uncapped = at.highest_concurrency("Tickets").await;
    assert!(uncapped > 3, "the stand-in's counter sees more when the cap allows it: {uncapped}");
}

/// Milliseconds between the first and last of the requests to `part` the stand-in saw.
fn span_ms(requests: &[Value]) -> f64 {
    let starts: Vec<f64> = requests.iter().map(|r| r["started_ms"].as_f64().unwrap()).collect();
    starts.last().unwrap() - starts.first().unwrap()
}

#[tokio::test]
async fn the_client_spaces_requests_out_as_the_threshold_fills() {
    let config = bta_sim::autotask::Config {
        hourly_limit: 1000,
        threshold_delay: Duration::ZERO,
        ..bta_sim::autotask::Config::default()
    };
    let at = Autotask::start_with(config).await;
    let limits = Limits {
        spacing_above_half: Duration::from_millis(40),
        spacing_above_three_quarters: Duration::from_millis(120),
        ..fast_limits()
    };
    let client = at.client_with(limits);

    at.set_usage(600).await;
    assert_eq!(client.refresh_usage().await.unwrap().pressure, Pressure::AboveHalf);
    for id in 0..6 {
        client.get::<Ticket>(7201 + id).await.unwrap();
    }
    // The client spaces the requests it sends; the stand-in sees them arrive with jitter (a few
    // ms over loopback, 20 ms under Wine on a busy machine), so one spacing of the span is
    // allowed for it. Unspaced, the six take a few ms.
    let above_half = span_ms(&at.requests_to("Tickets/72").await);
    assert!(above_half >= 4.0 * 40.0, "six requests took at least five spacings, less jitter: {above_half} ms");

    at.set_usage(800).await;
    assert_eq!(client.refresh_usage().await.unwrap().pressure, Pressure::AboveThreeQuarters);
    for id in 0..4 {
        client.get::<Ticket>(7211 + id).await.unwrap();
    }
    let above_three_quarters = span_ms(&at.requests_to("Tickets/721").await);
    assert!(above_three_quarters >= 2.0 * 120.0, "four requests, three spacings: {above_three_quarters} ms");
}

#[tokio::test]
async fn the_threshold_is_read_again_by_itself_after_enough_requests() {
    let at = Autotask::start_with(bta_sim::autotask::Config {
        hourly_limit: 1000,
        threshold_delay: Duration::ZERO,
        ..bta_sim::autotask::Config::default()
    })
    .await;
    let client = at.client_with(Limits { threshold_check_requests: 3, ..fast_limits() });
    client.get::<Ticket>(7201).await.unwrap();
    at.set_usage(700).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while client.pressure() != Pressure::AboveHalf {
        assert!(tokio::time::Instant::now() < deadline, "the client never noticed the usage");
        client.get::<Ticket>(7202).await.unwrap();
    }
    assert!(at.requests_to("ThresholdInformation").await.len() >= 2);
    assert!(client.usage().unwrap().used >= 700);
}

#[tokio::test]
async fn a_page_that_links_to_itself_ends_with_an_error_not_a_loop() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let next = format!("{base}/atservicesrest/v1.0/Tickets/query/next?paging=same");
    let app = axum::Router::new().fallback(move || {
        let next = next.clone();
        async move { axum::Json(json!({"items": [{"id": 1}], "pageDetails": {"count": 1, "nextPageUrl": next}})) }
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    let at = Autotask::start().await;
    let mut settings = at.settings();
    settings.services_url = Some(format!("{base}/atservicesrest"));
    let err = AutotaskClient::new(settings).unwrap().query_all::<Ticket>(Query::all()).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::UnexpectedResponse);
    assert!(err.to_string().contains("points at the page itself"), "{err}");
}
