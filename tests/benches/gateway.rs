//! Gateway benchmark: the real `bt-autotask-worker` as the gateway of a desk of enrolled apps
//! (`--apps`, default 1,000), every app's watch request held open at it, its copy of the desk's
//! tickets holding `--tickets` (default 50,000) and Autotask's ticket webhooks on. Printed with
//! their goals:
//!
//! - the copy: how long it took to fill and how many Autotask requests, and the worker's store
//!   and RSS with it (goal RSS ≤ 200 MB with every app connected);
//! - search p95 through the worker, answered from the copy, measured at the app, against one
//!   Autotask round trip measured in the same run (40 ms added at the stand-in; goal ≤ 0.5×);
//! - the copy's freshness: a ticket changed in Autotask searchable as changed, p95, through the
//!   webhooks (goal ≤ 5 s) and through the looks alone (a change no callout told; goal ≤ the watch
//!   interval, 60 s here);
//! - session key p95 through the worker against one BeyondTrust round trip (40 ms added; ≤ 1.3×);
//! - the intake beside it: events a second with 8 senders against the disk's own fsync rate
//!   measured in the same run (goal ≥ 0.6×), and p99 (goal ≤ 10 ms).
//!
//! `cargo bench -p bta-e2e --bench gateway [-- --apps N --tickets N]`; `cargo xtask bench` runs it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use bta_core::autotask::{AutotaskClient, Filter, Query, Ticket};
use bta_core::beyondtrust::{BeyondTrustClient, Queue, SessionKeyRequest};
use bta_core::store::{AsyncStore, Store};
use bta_e2e::bench::{fsync_rate, met, percentile, send_events};
use bta_e2e::{Stands, Worker, free_port};
use futures::StreamExt;
use serde_json::{Value, json};

const ROUND_TRIP_MS: u64 = 40;
/// The watch interval of this run's worker (`ticket_watch_seconds`).
const WATCH_SECONDS: u64 = 60;
/// Changes timed through the webhooks, and through the looks alone.
const HOOKED_CHANGES: usize = 20;
const LOOKED_CHANGES: usize = 5;
/// Words the desk's other tickets are titled with.
const PROBLEMS: [&str; 12] = [
    "Outlook keeps asking for password",
    "VPN drops every hour",
    "Printer offline",
    "Teams camera not found",
    "Laptop slow after update",
    "Backup failed overnight",
    "New starter needs accounts",
    "Shared mailbox permissions",
    "Wi-Fi keeps disconnecting",
    "Scanner does not send e-mail",
    "Phone system voicemail full",
    "Excel crashes on open",
];
const TICKETS_PER_REP: usize = 2;
const SEARCHES: usize = 300;
const KEYS: usize = 100;
const SENDERS: usize = 8;
const EVENTS_EACH: usize = 250;

fn username(rep: usize) -> String {
    format!("rep{rep:04}")
}

/// Both stand-ins with `apps` reps as Autotask resources, each with a few open tickets; 40 ms per
/// round trip at each.
async fn stands(apps: usize, total_tickets: usize) -> Stands {
    let stands = Stands::start().await;
    let records = stands.get(format!("{}/_sim/records", stands.autotask.base_url)).await;
    let contacts = records["Contacts"].as_array().unwrap().clone();
    let (mut resources, mut tickets) = (Vec::new(), Vec::new());
    for rep in 0..apps {
        let resource = 40_000_000 + rep as i64;
        resources.push(json!({"id": resource, "email": format!("{}@example.com", username(rep)),
            "userName": username(rep), "firstName": "Rep", "lastName": format!("{rep:04}"), "isActive": true}));
        for t in 0..TICKETS_PER_REP {
            let n = rep * TICKETS_PER_REP + t;
            let contact = &contacts[n % contacts.len()];
            tickets.push(json!({
                "id": 100_000 + n as i64, "ticketNumber": format!("T20261201.{n:04}"),
                "title": format!("{} for {}", ["Outlook keeps asking for password", "VPN drops every hour",
                    "Printer offline", "Teams camera not found"][n % 4], contact["firstName"].as_str().unwrap_or("")),
                "status": 1, "priority": 2, "companyID": contact["companyID"], "contactID": contact["id"],
                "assignedResourceID": resource, "queueID": 8, "ticketType": 2,
                "createDate": "2026-12-01T08:00:00Z", "lastActivityDate": "2026-12-01T08:00:00Z", "userDefinedFields": [],
            }));
        }
    }
    // The rest of the desk's tickets: open and completed, every company's, active in the last 30 days.
    let devices: Vec<i64> =
        records["ConfigurationItems"].as_array().unwrap().iter().filter_map(|c| c["id"].as_i64()).collect();
    let now = chrono::Utc::now();
    for i in 0..total_tickets.saturating_sub(tickets.len()) {
        let contact = &contacts[i % contacts.len()];
        let active = now - chrono::Duration::minutes((i as i64 * 37) % (29 * 24 * 60));
        tickets.push(json!({
            "id": 1_000_000 + i as i64, "ticketNumber": format!("T202610{:02}.{:04}", 1 + i / 9000, i % 9000),
            "title": format!("{} ({})", PROBLEMS[i % PROBLEMS.len()], contact["lastName"].as_str().unwrap_or("")),
            "status": if i % 3 == 0 { 5 } else { 1 }, "priority": 2, "companyID": contact["companyID"],
            "contactID": contact["id"], "configurationItemID": devices[i % devices.len()],
            "assignedResourceID": 40_000_000 + (i % apps.max(1)) as i64, "queueID": 8, "ticketType": 2,
            "createDate": "2026-10-01T08:00:00Z", "lastActivityDate": active.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "userDefinedFields": [],
        }));
    }
    stands.post(format!("{}/_sim/records/Resources", stands.autotask.base_url), Value::Array(resources)).await;
    for chunk in tickets.chunks(5_000) {
        stands.post(format!("{}/_sim/records/Tickets", stands.autotask.base_url), Value::Array(chunk.to_vec())).await;
    }
    stands.post(format!("{}/_sim/latency", stands.autotask.base_url), json!({"ms": ROUND_TRIP_MS})).await;
    stands.appliance("latency", json!({"ms": ROUND_TRIP_MS})).await;
    stands
}

/// Invites and enrols every rep, as `rep add` and each app would: their tokens.
async fn enrol_all(stands: &Stands, config: &std::path::Path, url: &str, apps: usize) -> Vec<String> {
    // The worker's profile, its secrets in memory: `rep add` in this process, on the worker's store.
    let profile = stands.desk_config("desk_watch = true").profiles[0].clone();
    let store = AsyncStore::new(Store::open(&config.with_file_name("data").join("worker.sqlite3")).unwrap());
    let desk = url::Url::parse(url).unwrap();
    futures::stream::iter(0..apps)
        .map(|rep| {
            let (store, profile, desk, url) = (store.clone(), profile.clone(), desk.clone(), url.to_owned());
            async move {
                // Said in full when it fails: a bare unwrap once stopped this benchmark unexplained.
                let invited =
                    bta_core::gateway::enrol::invite(&store, &profile, &username(rep), None, &desk, &[], None)
                        .await
                        .unwrap_or_else(|e| panic!("inviting rep {rep}: {e}"));
                let enrolled = bta_e2e::enrol_with_code(&url, invited.code.expose())
                    .await
                    .unwrap_or_else(|(status, body)| panic!("enrolling rep {rep}: {status} {body}"));
                let token = enrolled["token"].as_str();
                token.unwrap_or_else(|| panic!("rep {rep}'s enrolment answered no token: {enrolled}")).to_owned()
            }
        })
        .buffered(32)
        .collect()
        .await
}

/// Holds each app's watch request open at the worker, asking again as each answers.
fn keep_watching(url: &str, tokens: &[String]) -> Vec<tokio::task::JoinHandle<()>> {
    let http = reqwest::Client::builder().pool_max_idle_per_host(usize::MAX).build().unwrap();
    tokens
        .iter()
        .map(|token| {
            let (http, url, token) = (http.clone(), format!("{url}/desk/changes"), token.clone());
            tokio::spawn(async move {
                let mut after: Option<String> = None;
                loop {
                    let mut query = vec![("wait", "60".to_owned())];
                    query.extend(after.clone().map(|a| ("after", a)));
                    match http.get(&url).query(&query).bearer_auth(&token).send().await {
                        Ok(r) if r.status().is_success() => {
                            let answer: Value = r.json().await.unwrap_or_default();
                            after = answer["cursor"].as_str().map(str::to_owned);
                        }
                        _ => tokio::time::sleep(Duration::from_millis(500)).await,
                    }
                }
            })
        })
        .collect()
}

/// The worker's resident memory (MB) and open files, from /proc.
fn worker_weight(pid: u32) -> (f64, usize) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss_kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    let files = std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0);
    (rss_kb / 1000.0, files)
}

/// How long `n` runs of `once` take each, in ms.
async fn timed<F: std::future::Future<Output = ()>>(n: usize, mut once: impl FnMut(usize) -> F) -> Vec<f64> {
    let mut took = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        once(i).await;
        took.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    took
}

async fn intake(url: &str) -> (f64, f64) {
    let (rate, took) = send_events(&format!("{url}/ERSPost"), SENDERS, EVENTS_EACH).await;
    (rate, percentile(&took, 0.99))
}

/// Waits until the worker's copy of the tickets is filled: how many it holds.
async fn copy_filled(stands: &Stands, url: &str) -> u64 {
    loop {
        let health = stands.get(format!("{url}/healthz")).await;
        let copy = &health["ticket_copies"]["Desk"];
        if !copy["filled_at"].is_null() {
            return copy["tickets"].as_u64().unwrap_or(0);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The bytes of the files in `dir` whose names start with `prefix` (a database, its WAL and shared memory).
fn bytes_of(dir: &std::path::Path, prefix: &str) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
                .filter_map(|e| e.metadata().ok().map(|m| m.len()))
                .sum()
        })
        .unwrap_or(0)
}

async fn take_log(stands: &Stands) -> Vec<Value> {
    let taken = stands.http.post(format!("{}/_sim/requests/take", stands.autotask.base_url)).send().await.unwrap();
    taken.json::<Value>().await.unwrap().as_array().cloned().unwrap_or_default()
}

/// Seconds until a search for `word` at the worker finds ticket `id` titled with it, from the copy.
async fn searchable(http: &reqwest::Client, url: &str, token: &str, word: &str, id: i64, every: Duration) -> f64 {
    let started = Instant::now();
    loop {
        let r = http.get(format!("{url}/desk/search")).query(&[("q", word)]).bearer_auth(token).send().await.unwrap();
        let rows: Value = r.json().await.unwrap_or_default();
        let found = rows
            .as_array()
            .is_some_and(|rows| rows.iter().any(|row| row["id"] == json!(id) && row["asked_autotask"] == json!(false)));
        if found {
            return started.elapsed().as_secs_f64();
        }
        tokio::time::sleep(every).await;
    }
}

/// The copy's freshness: tickets retitled through the API (Autotask's callout tells the worker),
/// then tickets changed where no callout tells (only a look finds them); seconds until each is
/// searchable as changed.
async fn freshness(stands: &Stands, url: &str, token: &str) -> (Vec<f64>, Vec<f64>) {
    let http = reqwest::Client::new();
    let mut hooked = Vec::new();
    for i in 0..HOOKED_CHANGES {
        let (id, word) = (1_000_000 + 7 * i as i64, format!("hooked{i}word"));
        let change = json!({"id": id, "title": format!("Changed: {word}")});
        let r = stands.autotask_api(reqwest::Method::PATCH, "Tickets").json(&change).send().await.unwrap();
        assert!(r.status().is_success());
        hooked.push(searchable(&http, url, token, &word, id, Duration::from_millis(100)).await);
    }
    let mut looked = Vec::new();
    for i in 0..LOOKED_CHANGES {
        let (id, word) = (1_000_001 + 7 * i as i64, format!("looked{i}word"));
        let got = stands.autotask_api(reqwest::Method::GET, &format!("Tickets/{id}")).send().await.unwrap();
        let mut changed = got.json::<Value>().await.unwrap()["item"].clone();
        changed["title"] = json!(format!("Changed: {word}"));
        changed["lastActivityDate"] = json!(chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string());
        stands.post(format!("{}/_sim/records/Tickets", stands.autotask.base_url), json!([changed])).await;
        looked.push(tokio::spawn(searchable_owned(http.clone(), url.to_owned(), token.to_owned(), word, id)));
    }
    let mut looked_s = Vec::new();
    for l in looked {
        looked_s.push(l.await.unwrap());
    }
    (hooked, looked_s)
}

async fn searchable_owned(http: reqwest::Client, url: String, token: String, word: String, id: i64) -> f64 {
    // Each search the copy cannot answer asks Autotask: every half second, not faster.
    searchable(&http, &url, &token, &word, id, Duration::from_millis(500)).await
}

async fn run(apps: usize, total_tickets: usize) {
    let stands = stands(apps, total_tickets).await;
    let port = free_port();
    let top = format!("ticket_watch_seconds = {WATCH_SECONDS}\nautotask_webhooks = true");
    let config = stands.config(port, &top, "desk_watch = true");
    take_log(&stands).await;
    let started = Instant::now();
    let worker = Worker::start(&config, port).await;
    let url = format!("http://127.0.0.1:{port}");
    let copied = copy_filled(&stands, &url).await;
    let fill_s = started.elapsed().as_secs_f64();
    let fill_requests = take_log(&stands).await.len();
    let data = config.with_file_name("data");
    let (store, copy) = (bytes_of(&data, "worker.sqlite3"), bytes_of(&data, "ticket-copy-"));
    println!(
        "  the copy: {copied} tickets copied in {fill_s:.1} s from the worker's start, {fill_requests} Autotask requests in all (the first look and webhook included); the copy's file {:.1} MB, the store {:.1} MB",
        copy as f64 / 1e6,
        store as f64 / 1e6
    );
    let started = Instant::now();
    let tokens = enrol_all(&stands, &config, &url, apps).await;
    println!("  {apps} apps enrolled in {:.1} s", started.elapsed().as_secs_f64());
    let (rss_before, files_before) = worker_weight(worker.pid());
    let watchers = keep_watching(&url, &tokens);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (rss, files) = worker_weight(worker.pid());
    println!(
        "  worker with {apps} apps connected and {copied} tickets copied: RSS {rss:.1} MB (before they connected {rss_before:.1} MB), {files} open files (before {files_before}) — goal RSS ≤ 200 MB: {}",
        met(rss <= 200.0)
    );

    // Baselines, in the same run: one Autotask round trip, one BeyondTrust key made directly.
    let desk = stands.desk_config("");
    let autotask = AutotaskClient::new(desk.profiles[0].autotask.clone()).unwrap();
    let query = Query::new(Filter::eq("id", 100_000)).max_records(1);
    let autotask_rt = percentile(
        &timed(30, |_| {
            let (a, q) = (autotask.clone(), query.clone());
            async move {
                a.query_page::<Ticket>(&q).await.unwrap();
            }
        })
        .await,
        0.5,
    );
    let beyondtrust = BeyondTrustClient::new(desk.profiles[0].beyondtrust.clone()).unwrap();
    let mut request = SessionKeyRequest::new(Queue::RepUsername("rep0000".into()));
    request.external_key = Some("100000".into());
    beyondtrust.generate_session_key(&request).await.unwrap();
    let key_rt = percentile(
        &timed(30, |_| {
            let (b, r) = (beyondtrust.clone(), request.clone());
            async move {
                b.generate_session_key(&r).await.unwrap();
            }
        })
        .await,
        0.5,
    );
    println!(
        "  one Autotask round trip (median): {autotask_rt:.1} ms; one BeyondTrust key made directly: {key_rt:.1} ms"
    );

    let http = reqwest::Client::new();
    let words = ["", "outlook", "vpn drops", "print", "T20261201.00", "teams camera", "1000123", "wi-fi discon"];
    let search = |i: usize| {
        let (http, url) = (http.clone(), format!("{url}/desk/search"));
        let token = tokens[(i * 7919) % tokens.len()].clone();
        async move {
            let r = http.get(&url).query(&[("q", words[i % words.len()])]).bearer_auth(&token).send().await.unwrap();
            assert!(r.status().is_success(), "{}", r.status());
            r.bytes().await.unwrap();
        }
    };
    timed(60, search).await; // warm, as in a desk's working day
    take_log(&stands).await;
    let searches = timed(SEARCHES, search).await;
    let asked: Vec<Value> = take_log(&stands)
        .await
        .into_iter()
        .filter(|r| !r["endpoint"].as_str().unwrap_or("").eq_ignore_ascii_case("thresholdinformation"))
        .collect();
    let search_p95 = percentile(&searches, 0.95);
    println!(
        "  search through the worker from its copy, p95 {search_p95:.1} ms = {:.2}× one Autotask round trip — goal ≤ 0.5×: {}; Autotask requests for {SEARCHES} searches: {} (the looks and threshold readings aside)",
        search_p95 / autotask_rt,
        met(search_p95 <= 0.5 * autotask_rt),
        asked
            .iter()
            .filter(|r| r["endpoint"].as_str().unwrap_or("").eq_ignore_ascii_case("tickets")
                && r["filter_fields"] != json!(["lastActivityDate"]))
            .count()
    );
    let (hooked, looked) = freshness(&stands, &url, &tokens[0]).await;
    let (hooked_p95, looked_p95) = (percentile(&hooked, 0.95), percentile(&looked, 0.95));
    println!(
        "  freshness: a ticket changed in Autotask searchable as changed, p95 {hooked_p95:.2} s through the webhooks over {} changes — goal ≤ 5 s: {}; p95 {looked_p95:.1} s through the looks alone over {} changes — goal ≤ {WATCH_SECONDS} s: {}",
        hooked.len(),
        met(hooked_p95 <= 5.0),
        looked.len(),
        met(looked_p95 <= WATCH_SECONDS as f64)
    );
    let key = |i: usize| {
        let (http, url) = (http.clone(), format!("{url}/desk/session-key"));
        let rep = (i * 7919) % tokens.len();
        let token = tokens[rep].clone();
        let ticket = 100_000 + (rep * TICKETS_PER_REP) as i64;
        async move {
            let r = http.post(&url).json(&json!({"ticket": ticket})).bearer_auth(&token).send().await.unwrap();
            assert!(r.status().is_success(), "{}", r.status());
            r.bytes().await.unwrap();
        }
    };
    timed(10, key).await;
    let keys = timed(KEYS, |i| key(i + 10)).await;
    let key_p95 = percentile(&keys, 0.95);
    println!(
        "  session key through the worker, p95 {key_p95:.1} ms = {:.2}× one BeyondTrust key made directly — goal ≤ 1.3×: {}",
        key_p95 / key_rt,
        met(key_p95 <= 1.3 * key_rt)
    );

    let fsyncs = fsync_rate(&config.with_file_name("data"));
    let (events, p99) = intake(&url).await;
    println!(
        "  intake with {apps} apps connected: {events:.0} events/s with {SENDERS} senders = {:.2}× the disk's {fsyncs:.0} fsyncs/s — goal ≥ 0.6×: {}; p99 {p99:.1} ms — goal ≤ 10 ms: {}",
        events / fsyncs,
        met(events >= 0.6 * fsyncs),
        met(p99 <= 10.0)
    );
    let (rss, files) = worker_weight(worker.pid());
    println!("  worker at the end: RSS {rss:.1} MB, {files} open files");
    for w in watchers {
        w.abort();
    }
    assert!(worker.stop());
}

fn main() {
    let (mut apps, mut tickets) = (1000, 50_000);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--apps" => apps = args.next().and_then(|n| n.parse().ok()).expect("--apps takes a number"),
            "--tickets" => tickets = args.next().and_then(|n| n.parse().ok()).expect("--tickets takes a number"),
            _ => {}
        }
    }
    raise_open_files();
    println!(
        "gateway benchmark: {apps} enrolled apps at one worker, {tickets} tickets in Autotask, {ROUND_TRIP_MS} ms per round trip at each stand-in"
    );
    tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(run(apps, tickets));
}

/// Each app's watch holds a connection: this process needs more than the usual 1,024 files.
fn raise_open_files() {
    #[cfg(unix)]
    if let Err(e) = rlimit::increase_nofile_limit(u64::MAX) {
        eprintln!("the open files limit could not be raised: {e}");
    }
}
