//! Worker benchmark: prints figures and ratios measured in one run, over real loopback HTTP.
//!
//! - intake: events per second and p99 latency of `/ERSPost` with 8 concurrent senders, against
//!   the disk's own fsync rate measured in the same run (goals: ≥ 0.6× that rate, p99 ≤ 10 ms;
//!   the events that arrive together are kept in one transaction); and with the store on
//!   PostgreSQL against that rate on SQLite (goal ≥ 0.5×);
//! - Autotask calls per finished session with warm caches, each beside its floor: as the rep in
//!   the configured role (goal ≤ 2.05), with the ticket's role first (one read of the ticket),
//!   and with the status set (its update and read-back);
//! - with 50 ms added at each stand-in, p99 from the end event to the note against the floor of
//!   three round trips measured in the same run (goal: ≤ 1.5×).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use bta_core::worker::Timing;
use bta_e2e::bench::{end_event, fsync_rate, percentile, send_events};
use bta_e2e::{Pipeline, Stands};
use serde_json::json;

/// The pipeline with production timing.
async fn pipeline() -> Pipeline {
    Pipeline::start_with("", Timing::default()).await
}

/// Events per second through the intake with 8 senders, after 200 to warm it: its rate, and
/// each event's milliseconds to its 200.
async fn intake_rate(p: &Pipeline) -> (f64, Vec<f64>) {
    let http = reqwest::Client::new();
    for n in 0..200 {
        http.post(&p.intake_url).body(end_event(1_000_000 + n)).send().await.unwrap();
    }
    const SENDERS: usize = 8;
    const EACH: usize = 625;
    send_events(&p.intake_url, SENDERS, EACH).await
}

/// The intake on SQLite against the disk's fsync rate; its rate, for the PostgreSQL figure.
async fn intake_throughput() -> f64 {
    let (rate, latencies) = intake_rate(&pipeline().await).await;
    let p99 = percentile(&latencies, 0.99);
    let fsyncs = fsync_rate(&std::env::temp_dir());
    println!(
        "intake: {rate:.0} events/s = {:.2}× the disk's {fsyncs:.0} fsyncs/s (goal ≥ 0.6×: {}), p99 {p99:.2} ms (goal ≤ 10 ms: {}), each stored durably before its 200",
        rate / fsyncs,
        verdict(rate >= 0.6 * fsyncs),
        verdict(p99 <= 10.0)
    );
    rate
}

/// The intake with its store on PostgreSQL (a cluster on this machine, its commits synced to the
/// disk as SQLite's are), against the rate on SQLite measured just before.
async fn intake_on_postgres(on_sqlite: f64) {
    let p = Pipeline::start_on_postgres("", Timing::default()).await;
    let (rate, latencies) = intake_rate(&p).await;
    let p99 = percentile(&latencies, 0.99);
    println!(
        "intake on PostgreSQL: {rate:.0} events/s = {:.2}× the rate on SQLite (goal ≥ 0.5×: {}), p99 {p99:.2} ms, each committed before its 200",
        rate / on_sqlite,
        verdict(rate >= 0.5 * on_sqlite)
    );
}

fn verdict(met: bool) -> &'static str {
    if met { "meets the goal" } else { "MISSES the goal" }
}

async fn send_session(stands: &Stands, p: &Pipeline, ticket: i64) -> String {
    let session = json!({"external_key": ticket.to_string(), "duration": 300, "reps": [{"username": "alex.morgan"}],
                         "chat": [{"from": "rep", "text": "Hello"}]});
    let lsid = stands.appliance("sessions", session).await["lsid"].as_str().unwrap().to_owned();
    let body = format!("event=support_conference_end&version=3&timestamp=1795515302&lsid={lsid}&external_key={ticket}");
    let r = stands.http.post(&p.intake_url).body(body).send().await.unwrap();
    assert_eq!(r.status(), 200);
    lsid
}

async fn wait_for_note(stands: &Stands, lsid: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let notes = stands.records("TicketNotes").await;
        if notes.iter().any(|n| n["description"].as_str().is_some_and(|d| d.contains(lsid))) {
            return;
        }
        assert!(Instant::now() < deadline, "session {lsid} never reached its ticket");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn wait_for_time_entry(stands: &Stands, lsid: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !stands
        .records("TimeEntries")
        .await
        .iter()
        .any(|t| t["internalNotes"].as_str().is_some_and(|d| d.contains(lsid)))
    {
        assert!(Instant::now() < deadline, "session {lsid} never got its time entry");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn autotask_requests(stands: &Stands) -> usize {
    let log = stands.get(format!("{}/_sim/requests", stands.autotask.base_url)).await;
    log.as_array().unwrap().len()
}

/// Autotask calls per finished session with warm caches, each beside its floor: the writes and
/// reads the session cannot do without.
async fn calls_per_session() {
    let every_status = "[\"New\", \"In Progress\", \"Waiting Customer\", \"Complete\", \"Waiting Materials\", \
                        \"Dispatched\", \"Waiting Vendor\", \"On Hold\"]";
    let cases = [
        (
            "as the rep, the configured role",
            "time_entry_roles = [\"role_name\", \"default\"]".to_owned(),
            2.0,
            "the note and the time entry",
        ),
        (
            "as the rep, the ticket's role first (the default)",
            String::new(),
            3.0,
            "the note, the time entry, one read of the ticket",
        ),
        (
            "as the rep, the ticket's role first, the status set",
            format!("status_on_session_end = \"In Progress\"\nstatus_on_session_end_from = {every_status}"),
            5.0,
            "the note, the time entry, one read of the ticket, its update and its read-back",
        ),
    ];
    for (what, extra, floor, made_of) in cases {
        let p = Pipeline::start_with(&extra, Timing::default()).await;
        let stands = &p.stands;
        let warm = send_session(stands, &p, 7201).await;
        wait_for_time_entry(stands, &warm).await;
        let before = autotask_requests(stands).await;
        const N: usize = 100;
        for i in 0..N {
            let lsid = send_session(stands, &p, 7201 + (i % 20) as i64).await;
            wait_for_time_entry(stands, &lsid).await;
        }
        let per_session = (autotask_requests(stands).await - before) as f64 / N as f64;
        println!(
            "Autotask calls per finished session, {what} (warm caches): {per_session:.2}, floor {floor:.0} ({made_of}) → \
             {:.2}× the floor (goal ≤ floor + 0.05: {})",
            per_session / floor,
            verdict(per_session <= floor + 0.05)
        );
    }
}

async fn latency() {
    let p = pipeline().await;
    let stands = &p.stands;
    let warm = send_session(stands, &p, 7202).await;
    wait_for_time_entry(stands, &warm).await;
    for base in [&stands.autotask.base_url, &stands.appliance.base_url] {
        stands.post(format!("{base}/_sim/latency"), json!({"ms": 50})).await;
    }
    // The floor: three bare round trips to the stand-ins, measured now.
    let http = reqwest::Client::new();
    let mut floors = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        for _ in 0..3 {
            http.get(format!("{}/atservicesrest/v1.0/ThresholdInformation", stands.autotask.base_url))
                .header("UserName", bta_sim::autotask::DEFAULT_USERNAME)
                .header("Secret", bta_sim::autotask::DEFAULT_SECRET)
                .header("ApiIntegrationCode", bta_sim::autotask::DEFAULT_INTEGRATION_CODE)
                .send()
                .await
                .unwrap();
        }
        floors.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let floor = percentile(&floors, 0.5);
    let mut times = Vec::new();
    for i in 0..40 {
        let started = Instant::now();
        let lsid = send_session(stands, &p, 7203 + (i % 10) as i64).await;
        wait_for_note(stands, &lsid).await;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        wait_for_time_entry(stands, &lsid).await;
    }
    let p99 = percentile(&times, 0.99);
    let ratio = p99 / floor;
    println!(
        "end event to note with 50 ms at each stand-in: p99 {p99:.0} ms vs three round trips {floor:.0} ms → {ratio:.2}× (goal ≤ 1.5×: {})",
        verdict(ratio <= 1.5)
    );
}

#[tokio::main]
async fn main() {
    println!("Worker benchmark (one run, loopback HTTP, both stand-ins in process)");
    // The tests' PostgreSQL syncs its commits for this run, as a desk's would.
    bta_core::store::throwaway_postgres::durable();
    let on_sqlite = intake_throughput().await;
    intake_on_postgres(on_sqlite).await;
    calls_per_session().await;
    latency().await;
}
