//! Soak: the real `bt-autotask-worker` binary run for a long stretch (`cargo xtask soak
//! [MINUTES]`, 30 unless given; not in CI). Sessions end at a steady rate on the appliance
//! stand-in, which delivers their events; 1 % of the calls to either stand-in fail (half of the
//! Autotask ones after the write happened); the worker is restarted once, early. Retention is a
//! quarter of the run, so pruning starts partway through.
//!
//! Per window it prints the worker's resident memory, the store's size on disk (database and
//! write-ahead log), and p50 and p99 from a session's end to its note appearing in Autotask (a
//! session that met a fault waits `retry_delay_ms`, 1 s here, so p99 is the retry path); at the end, whether every session was
//! written exactly once. Goals are reported, never asserted: after warm-up RSS grows ≤ 10 %, p99
//! stays within 1.2× of the first window, the store stops growing once retention applies.
//!
//! Arguments (after `--`): `--minutes N`, `--rate SESSIONS_PER_SECOND` (default 1).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use bta_e2e::{Stands, Worker, free_port};
use serde_json::{Value, json};

/// How often the stand-in is asked for notes written since the last look; the latency figures
/// carry up to this much error.
const LOOK_EVERY: Duration = Duration::from_millis(100);

struct Options {
    minutes: f64,
    rate: f64,
}

fn options() -> Options {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str, default: f64| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    Options { minutes: value("--minutes", 30.0), rate: value("--rate", 1.0) }
}

/// One window's figures.
#[derive(Debug, Default)]
struct Window {
    ended: usize,
    latencies_ms: Vec<f64>,
    rss_mb: f64,
    store_mb: f64,
    restarted: bool,
}

fn percentile(values: &[f64], p: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    sorted.get(((sorted.len() as f64 * p).ceil() as usize).saturating_sub(1)).copied().unwrap_or(f64::NAN)
}

/// Resident memory of a process, from /proc (Linux).
fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb = status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.split_whitespace().next());
    kb.and_then(|k| k.parse::<f64>().ok()).unwrap_or(0.0) / 1024.0
}

/// The store on disk: the database and its write-ahead log.
fn store_mb(data: &Path) -> f64 {
    let size = |name: &str| std::fs::metadata(data.join(name)).map(|m| m.len()).unwrap_or(0);
    (size("worker.sqlite3") + size("worker.sqlite3-wal")) as f64 / 1_000_000.0
}

async fn start_stands() -> Stands {
    // A threshold no soak reaches: the soak measures the worker, not Autotask's throttling.
    let autotask_config =
        bta_sim::autotask::Config { hourly_limit: 100_000_000, threshold_delay: Duration::ZERO, ..Default::default() };
    let autotask = bta_sim::autotask::spawn(autotask_config, 0).await.unwrap();
    let appliance_config = bta_sim::beyondtrust::Config { demo: false, ..Default::default() };
    let appliance = bta_sim::beyondtrust::spawn(appliance_config, 0).await.unwrap();
    Stands { autotask, appliance, dir: tempfile::tempdir().unwrap(), http: reqwest::Client::new() }
}

async fn inject_faults(stands: &Stands) {
    let autotask = &stands.autotask.base_url;
    stands
        .post(
            format!("{autotask}/_sim/faults"),
            json!({"path": "/atservicesrest/v1.0", "status": 503, "probability": 0.005}),
        )
        .await;
    let late = json!({"path": "/atservicesrest/v1.0", "status": 504, "probability": 0.005, "after_processing": true});
    stands.post(format!("{autotask}/_sim/faults"), late).await;
    let appliance = &stands.appliance.base_url;
    stands.post(format!("{appliance}/_sim/faults"), json!({"path": "/api/", "status": 503, "probability": 0.01})).await;
}

/// Ticket ids of the stand-in's demo database, for the sessions' external keys.
async fn tickets(stands: &Stands) -> Vec<i64> {
    stands.records("Tickets").await.iter().filter_map(|t| t["id"].as_i64()).collect()
}

/// Notes written since `after` (by id): (id, description).
async fn notes_since(stands: &Stands, after: i64) -> Vec<(i64, String)> {
    let query = json!({"filter": [{"op": "gt", "field": "id", "value": after}], "MaxRecords": 500});
    let Ok(answer) = stands.autotask_api(reqwest::Method::POST, "TicketNotes/query").json(&query).send().await else {
        return Vec::new();
    };
    let body: Value = answer.json().await.unwrap_or_default();
    let items = body["items"].as_array().cloned().unwrap_or_default();
    items.iter().filter_map(|n| Some((n["id"].as_i64()?, n["description"].as_str()?.to_owned()))).collect()
}

/// The session a note was written for, read from its marker line.
fn lsid_in(description: &str) -> Option<&str> {
    let marker = description.rsplit("[BeyondTrust session ").next()?;
    marker.split_whitespace().next().map(|l| l.trim_end_matches(']'))
}

#[tokio::main]
async fn main() {
    let options = options();
    let total = Duration::from_secs_f64(options.minutes * 60.0);
    // Five-minute windows; a short run still gets six.
    let window = Duration::from_secs(300).min(total / 6);
    let count = (total.as_secs_f64() / window.as_secs_f64()).round() as usize;
    let retention_days = (total.as_secs_f64() / 4.0 / 86_400.0).max(0.001);
    let stands = start_stands().await;
    let port = free_port();
    let top = format!("retry_delay_ms = 1000\nreport_lag_wait_ms = 500\nretention_days = {retention_days:.6}");
    let config = stands.config(port, &top, "");
    let data = stands.dir.path().join("data");
    let mut worker = Worker::start(&config, port).await;
    let recipient = json!({"url": format!("http://127.0.0.1:{port}/ERSPost"), "retry_ms": 500});
    stands.appliance("recipients", recipient).await;
    inject_faults(&stands).await;
    let tickets = tickets(&stands).await;
    println!(
        "Soak: {:.0} min, {} session(s)/s, windows of {} s, retention {:.1} min, 1 % faults, one restart at {} s",
        options.minutes,
        options.rate,
        window.as_secs(),
        retention_days * 1440.0,
        window.as_secs()
    );
    println!(
        "{:>6} {:>7} {:>8} {:>9} {:>9} {:>9} {:>9}",
        "window", "ended", "written", "p50 ms", "p99 ms", "RSS MB", "store MB"
    );

    let started = Instant::now();
    let mut ended_at: HashMap<String, Instant> = HashMap::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut windows: Vec<Window> = vec![Window::default()];
    let mut last_note = notes_since(&stands, 0).await.iter().map(|(id, _)| *id).max().unwrap_or(0);
    let mut next_session = Instant::now();
    let mut next_look = Instant::now();
    let mut sent = 0usize;
    let mut restarted = false;
    loop {
        let now = Instant::now();
        if now >= next_session {
            let ticket = tickets[sent % tickets.len()];
            let session = json!({"external_key": ticket.to_string(), "duration": 600 + sent % 1200,
                                 "reps": [{"username": "alex.morgan"}],
                                 "customer": {"name": "Dana Whitfield", "company": "Contoso Ltd", "issue": "Outlook"},
                                 "chat": [{"from": "rep", "text": format!("Session {sent}: connecting now.")},
                                          {"from": "customer", "text": "Thanks!"}]});
            let lsid = stands.appliance("sessions", session).await["lsid"].as_str().unwrap().to_owned();
            ended_at.insert(lsid, Instant::now());
            windows.last_mut().unwrap().ended += 1;
            sent += 1;
            next_session += Duration::from_secs_f64(1.0 / options.rate);
        }
        if now >= next_look {
            for (id, description) in notes_since(&stands, last_note).await {
                last_note = last_note.max(id);
                let Some(lsid) = lsid_in(&description) else { continue };
                let count = seen.entry(lsid.to_owned()).or_default();
                *count += 1;
                if let (1, Some(at)) = (*count, ended_at.get(lsid)) {
                    windows.last_mut().unwrap().latencies_ms.push(at.elapsed().as_secs_f64() * 1000.0);
                }
            }
            next_look = Instant::now() + LOOK_EVERY;
        }
        if started.elapsed() >= window * windows.len() as u32 {
            let number = windows.len();
            close_window(windows.last_mut().unwrap(), worker.pid(), &data, number);
            if windows.len() == count {
                break;
            }
            windows.push(Window::default());
        }
        if !restarted && started.elapsed() >= window {
            assert!(worker.stop(), "the worker did not stop cleanly");
            worker = Worker::start(&config, port).await;
            windows.last_mut().unwrap().restarted = true;
            restarted = true;
        }
        tokio::time::sleep(next_session.min(next_look).saturating_duration_since(Instant::now())).await;
    }
    settle(&stands, &ended_at, &mut seen, &mut last_note).await;
    assert!(worker.stop(), "the worker did not stop cleanly");
    report(&windows, &ended_at, &seen, &stands).await;
}

fn close_window(w: &mut Window, pid: u32, data: &Path, number: usize) {
    w.rss_mb = rss_mb(pid);
    w.store_mb = store_mb(data);
    println!(
        "{number:>6} {:>7} {:>8} {:>9.0} {:>9.0} {:>9.1} {:>9.2}{}",
        w.ended,
        w.latencies_ms.len(),
        percentile(&w.latencies_ms, 0.5),
        percentile(&w.latencies_ms, 0.99),
        w.rss_mb,
        w.store_mb,
        if w.restarted { "  (worker restarted in this window)" } else { "" }
    );
}

/// Waits (up to two minutes) for the last sessions' notes.
async fn settle(stands: &Stands, ended: &HashMap<String, Instant>, seen: &mut HashMap<String, usize>, last: &mut i64) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline && ended.keys().any(|l| !seen.contains_key(l)) {
        for (id, description) in notes_since(stands, *last).await {
            *last = (*last).max(id);
            if let Some(lsid) = lsid_in(&description) {
                *seen.entry(lsid.to_owned()).or_default() += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn report(windows: &[Window], ended: &HashMap<String, Instant>, seen: &HashMap<String, usize>, stands: &Stands) {
    let missing = ended.keys().filter(|l| !seen.contains_key(*l)).count();
    let twice = seen.values().filter(|&&n| n > 1).count();
    let entries = stands.records("TimeEntries").await;
    let mut entry_counts: HashMap<&str, usize> = HashMap::new();
    for entry in &entries {
        if let Some(lsid) = entry["internalNotes"].as_str().and_then(lsid_in) {
            *entry_counts.entry(lsid).or_default() += 1;
        }
    }
    let entries_missing = ended.keys().filter(|l| !entry_counts.contains_key(l.as_str())).count();
    let entries_twice = entry_counts.values().filter(|&&n| n > 1).count();
    println!(
        "\nsessions: {} ended; notes: {missing} missing, {twice} written twice; time entries: {entries_missing} missing, {entries_twice} written twice",
        ended.len()
    );
    let verdict = |met: bool| if met { "meets the goal" } else { "MISSES the goal" };
    let full = windows;
    // Warm-up: the worker restarts in the second window; its memory is compared from then on.
    let warm = full.get(1).map_or(0.0, |w| w.rss_mb);
    let last = full.last().map_or(0.0, |w| w.rss_mb);
    let growth = (last / warm - 1.0) * 100.0;
    println!(
        "RSS after warm-up: {warm:.1} MB → {last:.1} MB ({growth:+.1} %; goal ≤ +10 %: {})",
        verdict(growth <= 10.0)
    );
    let first = percentile(&full[0].latencies_ms, 0.99);
    let worst = full.iter().filter(|w| !w.restarted).map(|w| percentile(&w.latencies_ms, 0.99)).fold(0.0f64, f64::max);
    println!(
        "p99 end to note: first window {first:.0} ms, worst window without the restart {worst:.0} ms ({:.2}×; goal ≤ 1.2×: {})",
        worst / first,
        verdict(worst <= first * 1.2)
    );
    let half = full.len() / 2;
    let grew = full[half..].windows(2).map(|p| p[1].store_mb - p[0].store_mb).fold(0.0f64, f64::max);
    let at_half = full[half].store_mb;
    println!(
        "store once retention applies (from window {}): {at_half:.2} MB → {:.2} MB, most grown in a window {grew:.2} MB ({})",
        half + 1,
        full.last().map_or(0.0, |w| w.store_mb),
        verdict(full.last().map_or(0.0, |w| w.store_mb) <= at_half * 1.1)
    );
}
