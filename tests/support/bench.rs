//! What the benchmarks share: percentiles, the verdict on a goal, the disk's own fsync rate,
//! and outbound events sent to an intake by several senders at once.

use std::io::Write;
use std::time::{Duration, Instant};

/// The `p` percentile (0–1) of `values`.
pub fn percentile(values: &[f64], p: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    sorted[((sorted.len() as f64 * p).ceil() as usize).saturating_sub(1).min(sorted.len() - 1)]
}

pub fn met(ok: bool) -> &'static str {
    if ok { "met" } else { "NOT met" }
}

/// The disk's own rate of small writes each made durable (fsync), in `dir`: the floor an intake
/// that keeps every event before answering is measured against.
pub fn fsync_rate(dir: &std::path::Path) -> f64 {
    let probe = dir.join("fsync-probe");
    let mut file = std::fs::File::create(&probe).unwrap();
    let started = Instant::now();
    let mut n = 0;
    while started.elapsed() < Duration::from_secs(2) {
        file.write_all(&[0u8; 512]).unwrap();
        file.sync_data().unwrap();
        n += 1;
    }
    let _ = std::fs::remove_file(probe);
    n as f64 / started.elapsed().as_secs_f64()
}

/// The end of a session the worker will find no ticket for (no external key): intake load.
pub fn end_event(n: usize) -> String {
    format!("event=support_conference_end&version=3&timestamp=1795515302&lsid={n:032x}&external_key=")
}

/// `senders` at once each post `each` events to the intake at `url`: events a second, and each
/// event's time to its 200 (ms).
pub async fn send_events(url: &str, senders: usize, each: usize) -> (f64, Vec<f64>) {
    send_events_from(url, senders, each, 0).await
}

/// [`send_events`] for sessions numbered from `first`: events the intake has not stored yet, in a
/// run that sends several batches.
pub async fn send_events_from(url: &str, senders: usize, each: usize, first: usize) -> (f64, Vec<f64>) {
    let http = reqwest::Client::new();
    let started = Instant::now();
    let tasks: Vec<_> = (0..senders)
        .map(|s| {
            let (http, url) = (http.clone(), url.to_owned());
            tokio::spawn(async move {
                let mut took = Vec::with_capacity(each);
                for i in 0..each {
                    let t = Instant::now();
                    let r = http.post(&url).body(end_event(first + s * each + i)).send().await.unwrap();
                    assert_eq!(r.status(), 200);
                    took.push(t.elapsed().as_secs_f64() * 1000.0);
                }
                took
            })
        })
        .collect();
    let mut took = Vec::new();
    for t in tasks {
        took.extend(t.await.unwrap());
    }
    ((senders * each) as f64 / started.elapsed().as_secs_f64(), took)
}
