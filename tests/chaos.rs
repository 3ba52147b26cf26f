//! Chaos: 200 sessions through the appliance stand-in's real outbound delivery, with 10 %
//! injected faults on both stand-ins (some of them after Autotask carried the write out), and
//! the real worker killed with SIGKILL at random moments five times and restarted. In the end
//! every session has exactly one note and one time entry, and the appliance's queue is drained.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::time::Duration;

use bta_e2e::{Stands, Worker, free_port};
use rand::Rng;
use serde_json::json;

const SESSIONS: usize = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_session_lands_exactly_once_through_faults_and_kill_9() {
    let stands = Stands::start().await;
    let port = free_port();
    let config = stands.config(port, "retry_delay_ms = 50\nreport_lag_wait_ms = 50", "retry_attempt_limit = 60");
    for (method, after) in [("*", false), ("POST", true)] {
        let fault = json!({"method": method, "path": "/atservicesrest/v1.0/", "status": 500, "probability": 0.05, "after_processing": after});
        stands.autotask_fault(fault).await;
    }
    stands.appliance("faults", json!({"path": "/api/", "status": 503, "probability": 0.1})).await;

    let mut worker = Worker::start(&config, port).await;
    let recipient = json!({"url": format!("http://127.0.0.1:{port}/ERSPost"), "events": ["support_conference_end"],
                           "retry_ms": 50, "timeout_ms": 3000});
    stands.appliance("recipients", recipient).await;
    let mut tickets = HashMap::new();
    for i in 0..SESSIONS {
        let ticket = 7201 + (i % 24) as i64;
        let rep = ["alex.morgan", "sam.lee", "jordan.kim", "priya.patel"][i % 4];
        let session = json!({"external_key": ticket.to_string(), "duration": 60 + i * 7,
                             "reps": [{"username": rep}],
                             "chat": [{"from": "rep", "text": format!("Session {i}")}]});
        let lsid = stands.appliance("sessions", session).await["lsid"].as_str().unwrap().to_owned();
        tickets.insert(lsid, ticket);
    }

    for _ in 0..5 {
        let pause = rand::rng().random_range(150..700);
        tokio::time::sleep(Duration::from_millis(pause)).await; // let it get somewhere, then pull the plug
        worker.kill_9();
        worker = Worker::start(&config, port).await;
    }

    let deadline = tokio::time::Instant::now() + Duration::from_secs(240);
    let (notes, entries) = loop {
        let notes = stands.records("TicketNotes").await;
        let entries = stands.records("TimeEntries").await;
        let noted = tickets.keys().filter(|lsid| notes.iter().any(|n| mentions(n, "description", lsid))).count();
        let timed = tickets.keys().filter(|lsid| entries.iter().any(|t| mentions(t, "internalNotes", lsid))).count();
        let drained = stands.deliveries().await[0]["pending"] == 0;
        if noted == SESSIONS && timed == SESSIONS && drained {
            break (notes, entries);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "after the chaos: {noted} of {SESSIONS} noted, {timed} timed, queue drained: {drained}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(worker.stop(), "the worker stops cleanly at the end");

    for (lsid, ticket) in &tickets {
        let mine: Vec<_> = notes.iter().filter(|n| mentions(n, "description", lsid)).collect();
        assert_eq!(mine.len(), 1, "session {lsid}: {} notes", mine.len());
        assert_eq!(mine[0]["ticketID"], *ticket);
        let timed = entries.iter().filter(|t| mentions(t, "internalNotes", lsid)).count();
        assert_eq!(timed, 1, "session {lsid}: {timed} time entries");
    }
    let delivered = stands.deliveries().await[0]["delivered"].as_u64().unwrap();
    assert_eq!(delivered, SESSIONS as u64, "every end event delivered once with a 200");
}

fn mentions(record: &serde_json::Value, field: &str, lsid: &str) -> bool {
    record[field].as_str().is_some_and(|text| text.contains(lsid))
}

/// Two workers share one store (the deployment of issue #40, on one machine); the one the
/// appliance delivers to is killed with SIGKILL with sessions in flight and never comes back.
/// The other takes its jobs once their claims lapse: every session lands exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_job_has_its_jobs_finished_by_another_sharing_its_store() {
    let stands = Stands::start().await;
    let data = stands.dir.path().join("shared-data");
    killed_mid_job(&stands, format!("data_dir = {data:?}")).await;
}

/// The same on PostgreSQL, each worker with a data folder of its own as on a machine of its own:
/// the jobs are claimed with `SKIP LOCKED` under the same leases.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_job_has_its_jobs_finished_by_another_on_postgresql() {
    let stands = Stands::start().await;
    killed_mid_job(&stands, stands.postgres_store()).await;
}

/// Two workers with `store` settings (and a data folder each unless they name one): the first
/// is delivered 15 sessions and killed; the second must write each of them exactly once.
async fn killed_mid_job(stands: &Stands, store: String) {
    const DELIVERED: usize = 15;
    // Slow enough that the first worker has jobs in flight when it dies.
    stands.post(format!("{}/_sim/latency", stands.autotask.base_url), json!({"ms": 250})).await;
    let config = |port: u16, name: &str| {
        let dir = stands.dir.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let own_data =
            if store.contains("data_dir") { String::new() } else { format!("data_dir = {:?}\n", dir.join("data")) };
        let text = format!(
            "listen = \"127.0.0.1:{port}\"\n{store}\n{own_data}retry_delay_ms = 50\nreport_lag_wait_ms = 50\n\n{}",
            stands.profile("Desk", "")
        );
        let path = dir.join("worker.toml");
        std::fs::write(&path, text).unwrap();
        path
    };
    let (port_a, port_b) = (free_port(), free_port());
    let first = Worker::start(&config(port_a, "a"), port_a).await;
    let second = Worker::start(&config(port_b, "b"), port_b).await;
    let recipient = json!({"url": format!("http://127.0.0.1:{port_a}/ERSPost"), "events": ["support_conference_end"],
                           "retry_ms": 50});
    stands.appliance("recipients", recipient).await;
    let mut lsids = Vec::new();
    for i in 0..DELIVERED {
        let session = json!({"external_key": (7201 + i as i64).to_string(), "duration": 300,
                             "reps": [{"username": "alex.morgan"}]});
        lsids.push(stands.appliance("sessions", session).await["lsid"].as_str().unwrap().to_owned());
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while stands.deliveries().await[0]["pending"] != 0 {
        assert!(tokio::time::Instant::now() < deadline, "the sessions were not delivered to the first worker");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.kill_9();

    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    let (notes, entries) = loop {
        let (notes, entries) = (stands.records("TicketNotes").await, stands.records("TimeEntries").await);
        let landed = lsids
            .iter()
            .filter(|l| {
                notes.iter().any(|n| mentions(n, "description", l))
                    && entries.iter().any(|t| mentions(t, "internalNotes", l))
            })
            .count();
        if landed == DELIVERED {
            break (notes, entries);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{landed} of {DELIVERED} sessions landed without the first worker"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for lsid in &lsids {
        assert_eq!(notes.iter().filter(|n| mentions(n, "description", lsid)).count(), 1, "session {lsid}: notes");
        assert_eq!(entries.iter().filter(|t| mentions(t, "internalNotes", lsid)).count(), 1, "session {lsid}: time");
    }
    assert!(second.stop());
}
