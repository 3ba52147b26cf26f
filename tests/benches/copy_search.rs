//! The desk's copy of its tickets searched on both engines: the copy in its own SQLite file (one
//! worker) and in the store's PostgreSQL (a desk of several workers), each filled with the same
//! 20,000 tickets, each search as the gateway asks it (a word's start, two words, a number's start,
//! an id, "my open tickets"). Prints each engine's p50 and p95 and PostgreSQL's p95 as a ratio of
//! SQLite's in the same run (goal: ≤ 3×, and ≤ 20 ms, a fifth of an Autotask round trip). The
//! PostgreSQL cluster is the tests' throwaway one, on this machine, its commits synced.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use bta_core::autotask::Ticket;
use bta_core::gateway::copy::{Names, TicketCopy};
use bta_core::store::{AsyncStore, Store, StoreUrl};
use bta_core::ticket_search::Search;
use bta_e2e::bench::percentile;
use chrono::Utc;

const TICKETS: i64 = 20_000;
const SEARCHES: usize = 400;
const WORDS: [&str; 12] = [
    "outlook", "printer", "vpn", "laptop", "password", "teams", "camera", "backup", "server", "license", "wifi",
    "phone",
];
const VERBS: [&str; 6] = ["keeps failing", "offline", "slow", "asks again", "not syncing", "gone"];

fn tickets() -> (Vec<Ticket>, Names) {
    let tickets = (1..=TICKETS)
        .map(|id| Ticket {
            id: Some(id),
            ticket_number: Some(format!("T2026{:04}.{:04}", 1100 + id % 30, id % 10_000)),
            title: Some(format!("{} {}", WORDS[id as usize % WORDS.len()], VERBS[id as usize % VERBS.len()])),
            status: Some(if id % 3 == 0 { 5 } else { 1 }),
            company_id: Some(id % 400),
            contact_id: Some(10_000 + id % 3_000),
            configuration_item_id: Some(20_000 + id % 5_000),
            assigned_resource_id: Some(id % 40),
            last_activity_date: Some(Utc::now() - chrono::Duration::minutes(id)),
            ..Default::default()
        })
        .collect();
    let names = Names {
        companies: (0..400).map(|c| (c, format!("Company {c} Freight"))).collect(),
        contacts: (0..3_000).map(|c| (10_000 + c, format!("Pat Lee{c}"), None)).collect(),
        devices: (0..5_000).map(|d| (20_000 + d, format!("WS-{d:04}"))).collect(),
    };
    (tickets, names)
}

fn searches() -> Vec<(Search, Option<i64>)> {
    (0..SEARCHES)
        .map(|i| {
            let text = match i % 5 {
                0 => WORDS[i % WORDS.len()].chars().take(4).collect(),
                1 => format!("{} {}", WORDS[i % WORDS.len()], &VERBS[i % VERBS.len()][..3]),
                2 => format!("T2026{:04}", 1100 + i % 30),
                3 => (1 + i * 37 % TICKETS as usize).to_string(),
                _ => String::new(),
            };
            (Search::parse(&text), Some((i % 40) as i64))
        })
        .collect()
}

/// Each search's milliseconds, after a first pass to warm the caches.
fn measure(copy: &TicketCopy) -> Vec<f64> {
    let searches = searches();
    for (search, me) in &searches {
        copy.search(search, *me, &[]).unwrap();
    }
    searches
        .iter()
        .map(|(search, me)| {
            let started = Instant::now();
            let found = copy.search(search, *me, &[]).unwrap();
            std::hint::black_box(found);
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect()
}

fn filled(copy: &TicketCopy) -> f64 {
    let (tickets, names) = tickets();
    let started = Instant::now();
    // As the fill does: each page with the names the copy does not hold yet (here, all at first).
    let mut names = Some(names);
    for page in tickets.chunks(500) {
        copy.keep(page, &names.take().unwrap_or_default()).unwrap();
    }
    started.elapsed().as_secs_f64()
}

fn main() {
    bta_core::store::throwaway_postgres::durable();
    let dir = tempfile::tempdir().unwrap();
    let sqlite = AsyncStore::new(Store::open(&dir.path().join("store.sqlite3")).unwrap());
    let cluster = bta_core::store::throwaway_postgres::cluster().unwrap();
    let url = StoreUrl::parse(&cluster.new_database().unwrap(), Some(&bta_core::Secret::new(cluster.password())));
    let key = dir.path().join("worker.token-key");
    bta_core::store::load_or_make_key(&key).unwrap();
    let postgres = AsyncStore::new(Store::connect(&url.unwrap(), &key, dir.path()).unwrap());

    println!("The desk's copy of {TICKETS} tickets, {SEARCHES} searches each:");
    let mut p95s = Vec::new();
    for (engine, store) in [("SQLite (FTS5, its own file)", &sqlite), ("PostgreSQL (tsvector, GIN)", &postgres)] {
        let copy = TicketCopy::of(store, "Desk").unwrap();
        let fill = filled(&copy);
        let times = measure(&copy);
        let (p50, p95) = (percentile(&times, 0.5), percentile(&times, 0.95));
        println!("  {engine}: filled in {fill:.1} s; search p50 {p50:.2} ms, p95 {p95:.2} ms");
        p95s.push(p95);
    }
    let ratio = p95s[1] / p95s[0];
    let met = if p95s[1] <= 20.0 { "met" } else { "missed" };
    println!("  PostgreSQL's p95 = {ratio:.2}× SQLite's in this run; goal p95 ≤ 20 ms on PostgreSQL: {met}");
}
