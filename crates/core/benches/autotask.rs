//! Autotask client benchmark: prints ratios measured in one run against the stand-in running in
//! its own process (`cargo xtask bench` builds it first).
//!
//! - per-call cost of `AutotaskClient::get` against a bare `reqwest` call to the same endpoint
//!   that decodes the same struct (goal ≤ 1.10);
//! - peak heap while streaming 10,000 tickets against the peak while holding one 500-ticket page
//!   (goal ≤ 2.0).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bta_core::Secret;
use bta_core::autotask::{AutotaskClient, AutotaskSettings, Filter, Query, Ticket};
use futures::StreamExt;
use serde::Deserialize;
use serde_json::json;

#[path = "../tests/support/peak_heap.rs"]
mod peak_heap;

/// Runs `work` and returns how far the heap rose above where it started.
async fn peak_rise<F: std::future::Future<Output = ()>>(work: F) -> usize {
    let start = peak_heap::start();
    work.await;
    peak_heap::rise_since(start)
}

struct Sim(Child, String);

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_sim() -> Sim {
    let exe = std::env::current_exe().unwrap();
    let binary = exe.parent().and_then(|deps| deps.parent()).unwrap().join("bta-sim");
    let mut child = Command::new(&binary)
        .args(["autotask", "--port", "0", "--hourly-limit", "100000000", "--threshold-delay-ms", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{} did not start ({e}); run `cargo xtask bench`", binary.display()));
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    Sim(child, line.trim().to_owned())
}

#[derive(Deserialize)]
struct Envelope {
    #[allow(dead_code)]
    item: Option<Ticket>,
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

async fn per_call(base: &str, client: &AutotaskClient) -> (f64, f64) {
    let http = reqwest::Client::new();
    let url = format!("{base}/atservicesrest/v1.0/Tickets/7201");
    let bare = || async {
        let body = http
            .get(&url)
            .header("ApiIntegrationCode", "DEMO-INTEGRATION-CODE")
            .header("UserName", "bta-api@example.com")
            .header("Secret", "demo-secret")
            .header("Accept", "application/json")
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        serde_json::from_slice::<Envelope>(&body).unwrap();
    };
    for _ in 0..200 {
        bare().await;
        client.get::<Ticket>(7201).await.unwrap();
    }
    const BATCH: u32 = 250;
    let (mut bare_batches, mut client_batches) = (Vec::new(), Vec::new());
    for _ in 0..12 {
        let started = Instant::now();
        for _ in 0..BATCH {
            bare().await;
        }
        bare_batches.push(started.elapsed().as_secs_f64() / f64::from(BATCH));
        let started = Instant::now();
        for _ in 0..BATCH {
            client.get::<Ticket>(7201).await.unwrap();
        }
        client_batches.push(started.elapsed().as_secs_f64() / f64::from(BATCH));
    }
    (median(bare_batches), median(client_batches))
}

async fn load_tickets(base: &str, n: usize) {
    let rows: Vec<_> = (0..n)
        .map(|i| {
            json!({"id": 500_000 + i, "ticketNumber": format!("T20300101.{i:05}"), "title": format!("Bench ticket {i}"),
                   "description": "A realistic description of a problem a customer reported over the phone. ".repeat(3),
                   "status": 1, "priority": 2, "companyID": 174, "contactID": 30684001, "queueID": 8,
                   "dueDateTime": "2030-01-02T00:00:00Z", "createDate": "2030-01-01T09:00:00Z"})
        })
        .collect();
    let response =
        reqwest::Client::new().post(format!("{base}/_sim/records/Tickets")).json(&rows).send().await.unwrap();
    assert!(response.status().is_success());
}

fn verdict(ratio: f64, goal: f64, lower_is_better: bool) -> &'static str {
    let met = if lower_is_better { ratio <= goal } else { ratio >= goal };
    if met { "meets the goal" } else { "MISSES the goal" }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let sim = start_sim();
        let base = sim.1.clone();
        let mut settings = AutotaskSettings::new(
            "bta-api@example.com",
            Secret::new("demo-secret"),
            Secret::new("DEMO-INTEGRATION-CODE"),
        );
        settings.services_url = Some(format!("{base}/atservicesrest"));
        settings.limits.request_timeout = Duration::from_secs(30);
        let client = AutotaskClient::new(settings).unwrap();

        println!("Autotask client benchmark (stand-in in its own process, one run)");
        let (bare, ours) = per_call(&base, &client).await;
        let ratio = ours / bare;
        println!(
            "per call: bare reqwest {:.0} µs, AutotaskClient {:.0} µs → ratio {ratio:.3} (goal ≤ 1.10: {})",
            bare * 1e6,
            ours * 1e6,
            verdict(ratio, 1.10, true)
        );

        load_tickets(&base, 10_000).await;
        let query = Query::new(Filter::begins_with("ticketNumber", "T20300101"));
        let one_page = peak_rise(async {
            let page = client.query_page::<Ticket>(&query).await.unwrap();
            assert_eq!(page.items.len(), 500);
        })
        .await;
        let mut seen = 0usize;
        let streaming = peak_rise(async {
            let mut stream = std::pin::pin!(client.query::<Ticket>(query.clone()));
            while let Some(ticket) = stream.next().await {
                ticket.unwrap();
                seen += 1;
            }
        })
        .await;
        assert_eq!(seen, 10_000);
        let ratio = streaming as f64 / one_page as f64;
        println!(
            "streaming 10,000 tickets: peak heap {:.2} MB vs one 500-ticket page {:.2} MB → ratio {ratio:.2} (goal ≤ 2.0: {})",
            streaming as f64 / 1e6,
            one_page as f64 / 1e6,
            verdict(ratio, 2.0, true)
        );
    });
}
