//! Flood benchmark: the real `bt-autotask-worker` (release) serving a desk while whoever can
//! reach its port floods it — 3,000 outbound events for appliance ids no profile has, from 16
//! senders, and 300 slow connections that each send a request head a byte at a time and open
//! again when closed. Measured in the same run, quiet and then under the flood, and printed with
//! their goals:
//!
//! - a rep's search through the worker (from its copy of the tickets), p95 under the flood
//!   against p95 quiet (goal ≤ 2×);
//! - the worker's resident memory under the flood against quiet (goal ≤ +20 MB);
//! - real events stored under the flood (8 senders) against the disk's own fsync rate measured
//!   in the same run (goal ≥ 0.5×).
//!
//! `cargo bench -p bta-e2e --bench flood`; `cargo xtask bench` runs it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bta_core::store::{AsyncStore, Store};
use bta_e2e::bench::{fsync_rate, met, percentile, send_events_from};
use bta_e2e::{Stands, Worker, enrol_rep, free_port};
use tokio::io::AsyncWriteExt;

const SEARCHES: usize = 200;
const FLOOD_EVENTS: usize = 3000;
const FLOOD_SENDERS: usize = 15;
const SLOW_CONNECTIONS: usize = 300;
const SENDERS: usize = 8;
const EVENTS_EACH: usize = 100;

/// The worker's resident memory, in MB.
fn rss_mb(pid: u32) -> f64 {
    bta_e2e::rss_kb(pid) as f64 / 1000.0
}

/// `SEARCHES` searches of the rep, one after another: each one's time (ms).
async fn searches(url: &str, token: &str) -> Vec<f64> {
    let http = reqwest::Client::new();
    let mut took = Vec::with_capacity(SEARCHES);
    for i in 0..SEARCHES {
        let word = ["outlook", "printer", "vpn", "dynamo"][i % 4];
        let t = Instant::now();
        let answer = http.get(format!("{url}/desk/search")).query(&[("q", word)]).bearer_auth(token).send().await;
        assert_eq!(answer.unwrap().status(), 200, "a search under the flood");
        took.push(t.elapsed().as_secs_f64() * 1000.0);
        // A fast typist's pace, 4 searches a second: within a rep's allowance of 5.
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    took
}

/// Events for made-up appliance ids from `FLOOD_SENDERS` senders, each pacing its share over
/// about as long as the searches take: how many the worker refused.
async fn flood_events(url: String) -> usize {
    let http = reqwest::Client::new();
    let each = FLOOD_EVENTS / FLOOD_SENDERS;
    let senders = (0..FLOOD_SENDERS).map(|s| {
        let (http, url) = (http.clone(), url.clone());
        tokio::spawn(async move {
            let mut refused = 0;
            for i in 0..each {
                let n = s * each + i;
                let answer = http
                    .post(format!("{url}/ERSPost?appliance=flood-{n}"))
                    .body(bta_e2e::bench::end_event(n))
                    .send()
                    .await;
                refused += usize::from(answer.is_ok_and(|a| a.status() == 404));
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            refused
        })
    });
    let mut refused = 0;
    for sender in senders.collect::<Vec<_>>() {
        refused += sender.await.unwrap();
    }
    refused
}

/// `SLOW_CONNECTIONS` connections each sending a request head a byte a second, opened again
/// when the worker closes one, until `stop`: how many times the worker closed one.
fn slow_connections(port: u16, stop: Arc<AtomicBool>) -> (Vec<tokio::task::JoinHandle<()>>, Arc<AtomicUsize>) {
    let closed = Arc::new(AtomicUsize::new(0));
    let head = b"POST /ERSPost HTTP/1.1\r\nHost: desk\r\nContent-Length: 100\r\nX-Slow: ";
    let tasks = (0..SLOW_CONNECTIONS)
        .map(|_| {
            let (stop, closed) = (stop.clone(), closed.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    };
                    for byte in head.iter().cycle() {
                        if stop.load(Ordering::Relaxed) || stream.write_all(&[*byte]).await.is_err() {
                            break;
                        }
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    closed.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    (tasks, closed)
}

async fn run() {
    let stands = Stands::start().await;
    let port = free_port();
    let config = stands.config(port, "ticket_watch_seconds = 60", "desk_watch = true");
    let worker = Worker::start(&config, port).await;
    let url = format!("http://127.0.0.1:{port}");
    loop {
        let health = stands.get(format!("{url}/healthz")).await;
        if !health["ticket_copies"]["Desk"]["filled_at"].is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let desk = stands.desk_config("desk_watch = true");
    let store = AsyncStore::new(Store::open(&config.with_file_name("data").join("worker.sqlite3")).unwrap());
    let token = enrol_rep(&store, &desk, &url, "alex.morgan").await;
    let floor = fsync_rate(&config.with_file_name("data"));

    let quiet_rss = rss_mb(worker.pid());
    let quiet = searches(&url, &token).await;
    let (quiet_rate, _) = send_events_from(&format!("{url}/ERSPost"), SENDERS, EVENTS_EACH, 0).await;

    let stop = Arc::new(AtomicBool::new(false));
    let (slow, closed) = slow_connections(port, stop.clone());
    let flood = tokio::spawn(flood_events(url.clone()));
    let started = Instant::now();
    let loud = searches(&url, &token).await;
    // Sessions of their own (the same again would be answered "already stored", unwritten).
    let (loud_rate, _) = send_events_from(&format!("{url}/ERSPost"), SENDERS, EVENTS_EACH, 1_000_000).await;
    let refused = flood.await.unwrap();
    let loud_rss = rss_mb(worker.pid());
    stop.store(true, Ordering::Relaxed);
    for task in slow {
        task.abort();
    }
    let (quiet_p95, loud_p95) = (percentile(&quiet, 0.95), percentile(&loud, 0.95));
    println!(
        "  under the flood for {:.0} s: {refused} of {FLOOD_EVENTS} events for made-up appliance ids refused (404), {SLOW_CONNECTIONS} slow connections held open, closed by the worker {} times",
        started.elapsed().as_secs_f64(),
        closed.load(Ordering::Relaxed)
    );
    println!(
        "  a rep's search p95: quiet {quiet_p95:.1} ms, under the flood {loud_p95:.1} ms = {:.2}× — goal ≤ 2×: {}",
        loud_p95 / quiet_p95,
        met(loud_p95 <= 2.0 * quiet_p95)
    );
    println!(
        "  worker RSS: quiet {quiet_rss:.1} MB, under the flood {loud_rss:.1} MB = {:+.1} MB — goal ≤ +20 MB: {}",
        loud_rss - quiet_rss,
        met(loud_rss - quiet_rss <= 20.0)
    );
    println!(
        "  real events stored: quiet {quiet_rate:.0}/s, under the flood {loud_rate:.0}/s = {:.2}× the disk's fsync rate ({floor:.0}/s) — goal ≥ 0.5×: {}",
        loud_rate / floor,
        met(loud_rate >= 0.5 * floor)
    );
    assert!(worker.stop());
}

fn main() {
    #[cfg(unix)]
    if let Err(e) = rlimit::increase_nofile_limit(u64::MAX) {
        eprintln!("the open files limit could not be raised: {e}");
    }
    println!(
        "flood benchmark: a desk's worker under {FLOOD_EVENTS} made-up events and {SLOW_CONNECTIONS} slow connections"
    );
    tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(run());
}
