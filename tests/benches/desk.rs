//! Desk benchmark: a whole support desk inside Autotask's shared hourly threshold.
//!
//! N reps (`--reps`, default 200, then 1,000 with the desk's worker), each a desk as the tray app uses it (`bta_core::desk::Desk`)
//! with its embedded worker, against one Autotask stand-in and one appliance stand-in, through a
//! compressed working day (`--hours`, default 2; one simulated hour takes `--hour-seconds`, default
//! 120, of real time: compressed more, the whole desk's requests queue at the desk worker's 3 in
//! flight per endpoint, which a real desk's half a request a second never does). Per rep and hour: searches as typed by a fast typist (my tickets, words of a
//! title or a customer's name, a number, an id), session keys, Jumps, tickets opened, sessions
//! ending in their ticket, and changes other people make to the rep's tickets. The day runs twice:
//! each app watching by itself, and the desk's worker serving the desk-wide watch (and writing the
//! sessions, the apps' workers standing down, and searching for the apps with the lookups the
//! desk shares).
//!
//! With the desk's worker, the reps' searches are answered from its copy of the tickets. A third
//! day runs the desk's worker for 1,000 reps (`--large`, default 1,000; 0 skips it), and a fourth
//! the same desk with each session's end moving its ticket's status (`status_on_session_end`)
//! and the desk taking Autotask's ticket webhooks (`--status 0` skips it).
//!
//! Printed, counted from the Autotask stand-in's own request log: requests per simulated hour in
//! all and per rep, by purpose (watch, search, keys/Jumps/opens, writes, threshold readings), the
//! share of the 10,000-request threshold, and the projection to 50 / 200 / 1,000 reps. Goals:
//! with the desk's worker, 200 reps ≤ 10 % of the threshold (1,000 requests an hour) and 1,000
//! reps ≤ 33 % (3,300; the notes and time entries alone are 30 %), everything included; with the
//! status change on, printed beside its floor (45 %: one update more per session); search p95 measured at the app ≤ 0.5× one round
//! trip measured in the same run (each app alone: ≤ 1.3×); a change to my ticket told within
//! `ticket_watch_seconds`. Filling the copy (once per start of the worker) is counted apart.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bta_core::desk::{Desk, TYPING_PAUSE, embedded_config};
use bta_core::desk_api::LONGEST_WAIT;
use bta_core::service::{Mode, Service};
use bta_core::store::{AsyncStore, Store};
use bta_e2e::Stands;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

/// Autotask's hourly threshold per database.
const THRESHOLD: f64 = 10_000.0;
/// The goals with the desk's worker: 200 reps within a tenth of it, 1,000 within two fifths.
const BUDGET_200: f64 = 1_000.0;
const BUDGET_1000: f64 = 3_300.0;
/// The floor of a 1,000-rep desk with the status change on: the note, the time entry and one
/// update per session, 1.5 sessions an hour per rep.
const STATUS_FLOOR_1000: f64 = 4_500.0;
/// The default `ticket_watch_seconds`.
const WATCH_SECONDS: f64 = 180.0;
/// Latency the Autotask stand-in adds to every request, for a round trip that is not free.
const ROUND_TRIP_MS: u64 = 40;

/// One rep's hour: how many of each.
const SEARCHES_PER_HOUR: f64 = 6.0;
const KEYS_PER_HOUR: f64 = 1.5;
const JUMPS_PER_HOUR: f64 = 0.5;
const OPENS_PER_HOUR: f64 = 1.0;
const SESSIONS_PER_HOUR: f64 = 1.5;
const CHANGES_BY_OTHERS_PER_HOUR: f64 = 2.0;
/// Open tickets each rep holds.
const TICKETS_PER_REP: usize = 8;
/// What reps type when they search by words: titles' words and customers' names.
const WORDS: [&str; 10] = [
    "outlook",
    "vpn drops",
    "printer",
    "contoso",
    "dynamo",
    "password reset",
    "teams camera",
    "laptop",
    "fabrikam",
    "backup",
];

#[derive(Debug, Clone, Copy)]
struct Options {
    reps: usize,
    /// The large desk's reps, with the desk's worker only (0: not run).
    large: usize,
    /// Whether day 1 (each app alone, the baseline) runs (`--alone 0` skips it).
    alone: bool,
    /// Whether day 4 (the large desk with the status change on) runs (`--status 0` skips it).
    status: bool,
    /// This day's desk worker moves each session's ticket's status, with the webhooks on.
    status_change: bool,
    hours: f64,
    hour_seconds: f64,
}

impl Options {
    fn parse() -> Options {
        let mut options = Options {
            reps: 200,
            large: 1000,
            alone: true,
            status: true,
            status_change: false,
            hours: 2.0,
            hour_seconds: 120.0,
        };
        let args: Vec<String> = std::env::args().collect();
        for pair in args.windows(2) {
            let value = |what: &str| pair[1].parse::<f64>().unwrap_or_else(|_| panic!("{what} takes a number"));
            match pair[0].as_str() {
                "--reps" => options.reps = value("--reps") as usize,
                "--large" => options.large = value("--large") as usize,
                "--alone" => options.alone = value("--alone") != 0.0,
                "--status" => options.status = value("--status") != 0.0,
                "--hours" => options.hours = value("--hours"),
                "--hour-seconds" => options.hour_seconds = value("--hour-seconds"),
                _ => {}
            }
        }
        options
    }

    /// Real time for simulated seconds.
    fn real(&self, simulated_seconds: f64) -> Duration {
        Duration::from_secs_f64(simulated_seconds * self.hour_seconds / 3600.0)
    }

    fn watch_every(&self) -> Duration {
        self.real(WATCH_SECONDS)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Purpose {
    Watch,
    Search,
    KeysJumpsOpens,
    Writes,
    SessionTicket,
    ThresholdReadings,
}

impl Purpose {
    const ALL: [Purpose; 6] = [
        Purpose::Watch,
        Purpose::Search,
        Purpose::KeysJumpsOpens,
        Purpose::Writes,
        Purpose::SessionTicket,
        Purpose::ThresholdReadings,
    ];

    fn name(self) -> &'static str {
        match self {
            Purpose::Watch => "watch",
            Purpose::Search => "search",
            Purpose::KeysJumpsOpens => "keys/Jumps/opens",
            Purpose::Writes => "writes",
            Purpose::SessionTicket => "session's ticket",
            Purpose::ThresholdReadings => "threshold readings",
        }
    }

    /// What a logged request was for; `None` for the changes the benchmark makes as "others".
    fn of(record: &Value) -> Option<Purpose> {
        // Endpoints as asked: Autotask's names are case-insensitive.
        let endpoint = record["endpoint"].as_str().unwrap_or_default().to_ascii_lowercase();
        let in_list = |list: &str, field: &str| record[list].as_array().is_some_and(|f| f.iter().any(|x| x == field));
        Some(match endpoint.as_str() {
            // Counted apart: the benchmark's own changes are PATCHes too (see `run_day`).
            "tickets" if record["method"] == "PATCH" => return None,
            // A session's ticket read by id: for its role (a worker without the copy) and its status.
            "tickets" if record["method"] == "GET" && by_id(record) => Purpose::SessionTicket,
            // Registering the ticket webhook and asking whether it is on: the watch's.
            e if e.starts_with("ticketwebhook") => Purpose::Watch,
            // An app's own look asks for a rep's tickets' last activity; the worker's asks for
            // every ticket active since its last look.
            "tickets" if in_list("include_fields", "lastActivityDate") => Purpose::Watch,
            "tickets" if record["filter_fields"] == json!(["lastActivityDate"]) => Purpose::Watch,
            "ticketnotes" | "timeentries" | "roles" | "resourceroles" => Purpose::Writes,
            // The worker finding the rep of a session for its time entry.
            "resources" if in_list("filter_fields", "isActive") => Purpose::Writes,
            "thresholdinformation" => Purpose::ThresholdReadings,
            "zoneinformation" => Purpose::KeysJumpsOpens,
            _ => Purpose::Search,
        })
    }
}

/// Whether a request names one record by its id (`…/Tickets/100005`).
fn by_id(record: &Value) -> bool {
    let last = record["path"].as_str().and_then(|p| p.rsplit('/').next()).unwrap_or_default();
    !last.is_empty() && last.chars().all(|c| c.is_ascii_digit())
}

/// What one day of the desk measured.
#[derive(Debug, Default)]
struct Day {
    by_purpose: BTreeMap<Purpose, u64>,
    searches_ms: Vec<f64>,
    round_trips_ms: Vec<f64>,
    /// Simulated seconds from a change to its notification.
    told_after_s: Vec<f64>,
    changes_made: usize,
    highest_concurrency: Value,
    search_kinds: BTreeMap<String, u64>,
    /// Requests the desk's worker took to fill its copy of the tickets (once per start).
    fill_requests: usize,
    /// Searches whose rows came from Autotask rather than the desk's copy.
    searches_asked: usize,
}

/// Both stand-ins with a threshold no compressed day reaches (the day counts its own hours), a
/// round trip of `ROUND_TRIP_MS`, and the desk's reps, tickets and roles.
async fn stands(reps: usize) -> Stands {
    let autotask_config = bta_sim::autotask::Config {
        threshold_delay: Duration::ZERO,
        hourly_limit: 1_000_000_000,
        ..Default::default()
    };
    let autotask = bta_sim::autotask::spawn(autotask_config, 0).await.unwrap();
    let appliance_config = bta_sim::beyondtrust::Config { demo: false, ..Default::default() };
    let appliance = bta_sim::beyondtrust::spawn(appliance_config, 0).await.unwrap();
    let stands = Stands { autotask, appliance, dir: tempfile::tempdir().unwrap(), http: reqwest::Client::new() };
    let records = stands.get(format!("{}/_sim/records", stands.autotask.base_url)).await;
    let ids = |entity: &str| -> Vec<i64> {
        records[entity].as_array().unwrap().iter().filter_map(|r| r["id"].as_i64()).collect()
    };
    let (contacts, devices) = (records["Contacts"].as_array().unwrap().clone(), ids("ConfigurationItems"));
    let sample_role = records["Roles"].as_array().unwrap().iter().find(|r| r["name"] == "Sample Role").unwrap()["id"]
        .as_i64()
        .unwrap();
    let (mut resources, mut roles, mut tickets) = (Vec::new(), Vec::new(), Vec::new());
    for rep in 0..reps {
        let resource = 40_000_000 + rep as i64;
        resources.push(json!({"id": resource, "email": format!("{}@example.com", username(rep)),
            "userName": username(rep), "firstName": "Rep", "lastName": format!("{rep:03}"), "isActive": true}));
        roles
            .push(json!({"id": 900_000 + rep as i64, "resourceID": resource, "roleID": sample_role, "isActive": true}));
        for t in 0..TICKETS_PER_REP {
            let n = rep * TICKETS_PER_REP + t;
            let contact = &contacts[n % contacts.len()];
            tickets.push(json!({
                "id": 100_000 + n as i64, "ticketNumber": format!("T20261201.{n:04}"),
                "title": format!("{} for {}", ["Outlook keeps asking for password", "VPN drops every hour",
                    "Printer offline", "Teams camera not found", "Laptop slow after update", "Backup failed"][n % 6], contact["firstName"].as_str().unwrap_or("")),
                "status": 1, "priority": 2, "companyID": contact["companyID"], "contactID": contact["id"],
                "configurationItemID": devices[n % devices.len()], "assignedResourceID": resource,
                "queueID": 8, "ticketType": 2, "createDate": "2026-12-01T08:00:00Z", "lastActivityDate": "2026-12-01T08:00:00Z",
                "userDefinedFields": [],
            }));
        }
    }
    for (entity, body) in [("Resources", resources), ("ResourceRoles", roles), ("Tickets", tickets)] {
        stands.post(format!("{}/_sim/records/{entity}", stands.autotask.base_url), Value::Array(body)).await;
    }
    stands.post(format!("{}/_sim/latency", stands.autotask.base_url), json!({"ms": ROUND_TRIP_MS})).await;
    stands
}

fn username(rep: usize) -> String {
    format!("rep{rep:03}")
}

fn ticket_of(rep: usize, t: usize) -> i64 {
    100_000 + (rep * TICKETS_PER_REP + t % TICKETS_PER_REP) as i64
}

/// The desk's worker, serving the desk-wide watch and taking the appliance's session ends.
struct DeskWorker {
    service: Service,
    url: String,
    store: AsyncStore,
    config: bta_core::config::WorkerConfig,
    _dir: tempfile::TempDir,
}

async fn desk_worker(stands: &Stands, options: Options) -> DeskWorker {
    let mut config = stands.desk_config("desk_watch = true");
    config.ticket_watch = options.watch_every();
    in_simulated_time(&mut config, options);
    let dir = tempfile::tempdir().unwrap();
    let store = AsyncStore::new(Store::open(&dir.path().join("worker.sqlite3")).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    if options.status_change {
        config.autotask_webhooks = true;
        config.public_url = Some(url::Url::parse(&url).unwrap());
        config.profiles[0].status_on_session_end = Some("Waiting Customer".to_owned());
    }
    let service = Service::start(&config, store.clone(), Mode::Headless { listener }).unwrap();
    stands
        .appliance("recipients", json!({"url": format!("{url}/ERSPost"), "events": ["support_conference_end"]}))
        .await;
    DeskWorker { service, url, store, config, _dir: dir }
}

/// One rep's app: its desk, and its embedded worker unless it stood down.
struct Rep {
    index: usize,
    desk: Arc<Desk>,
    worker: Option<Service>,
    _dir: tempfile::TempDir,
}

/// What runs on real-time intervals runs on the day's own: threshold readings every 5 simulated
/// minutes (as 5 real ones would in a real hour); the lookups of the desk's worker and of each
/// app likewise (`lookup_keep_minutes`, `Desk::in_compressed_time`).
fn in_simulated_time(config: &mut bta_core::config::WorkerConfig, options: Options) {
    config.lookup_keep = options.real(config.lookup_keep.as_secs_f64());
    for profile in &mut config.profiles {
        let limits = &mut profile.autotask.limits;
        limits.threshold_check_interval = options.real(limits.threshold_check_interval.as_secs_f64());
    }
}

async fn rep(stands: &Stands, index: usize, desk_worker: Option<&DeskWorker>, options: Options) -> Rep {
    let user = username(index);
    let follow = desk_worker.map(|w| format!("desk_worker_url = \"{}\"\n", w.url)).unwrap_or_default();
    let token = match desk_worker {
        Some(w) => bta_e2e::enrol_rep(&w.store, &w.config, &w.url, &user).await,
        None => String::new(),
    };
    let settings = format!("rep_username = \"{user}\"\nrep_email = \"{user}@example.com\"\n{follow}");
    let secrets: &[(&'static str, &str)] = if token.is_empty() { &[] } else { &[("desk_token", &token)] };
    let mut config = stands.desk_config_with(&settings, secrets);
    in_simulated_time(&mut config, options);
    let desk = Desk::new(&config.profiles[0]).unwrap().in_compressed_time(3600.0 / options.hour_seconds);
    let desk = Arc::new(desk);
    // The app's first look: where the desk's worker goes on from, or its own watch's first look.
    desk.watch(Duration::ZERO).await.unwrap();
    let desks = HashMap::from([("Desk".to_owned(), desk.clone())]);
    let (embedded, _) = embedded_config(&config, &desks);
    let dir = tempfile::tempdir().unwrap();
    let worker = embedded.profiles.iter().any(|p| p.embedded_worker).then(|| {
        let store = AsyncStore::new(Store::open(&dir.path().join("app.sqlite3")).unwrap());
        Service::start(&embedded, store, Mode::Desktop).unwrap()
    });
    Rep { index, desk, worker, _dir: dir }
}

#[derive(Debug, Clone)]
enum Action {
    Search(String),
    Key,
    Jump,
    Open,
    SessionEnds,
}

/// A rep's day: actions at simulated seconds, drawn at the rates above.
fn schedule(rng: &mut StdRng, hours: f64) -> Vec<(f64, Action)> {
    let mut day = Vec::new();
    let mut at_rate = |per_hour: f64, make: &mut dyn FnMut(&mut StdRng) -> Action, rng: &mut StdRng| {
        let count = (per_hour * hours).floor() as usize + usize::from(rng.random_bool((per_hour * hours).fract()));
        for _ in 0..count {
            let at = rng.random_range(0.0..hours * 3600.0);
            day.push((at, make(rng)));
        }
    };
    let mut search = |rng: &mut StdRng| {
        Action::Search(match rng.random_range(0..6) {
            0 | 1 => String::new(),
            2 | 3 => WORDS[rng.random_range(0..WORDS.len())].to_owned(),
            4 => format!("T20261201.{:04}", rng.random_range(0..1000)),
            _ => format!("{}", 100_000 + rng.random_range(0..1000)),
        })
    };
    at_rate(SEARCHES_PER_HOUR, &mut search, rng);
    at_rate(KEYS_PER_HOUR, &mut |_| Action::Key, rng);
    at_rate(JUMPS_PER_HOUR, &mut |_| Action::Jump, rng);
    at_rate(OPENS_PER_HOUR, &mut |_| Action::Open, rng);
    at_rate(SESSIONS_PER_HOUR, &mut |_| Action::SessionEnds, rng);
    day.sort_by(|a, b| a.0.total_cmp(&b.0));
    day
}

/// The searches the window asks while a fast typist types `text`: one each time the typing
/// pauses for `TYPING_PAUSE`, and one for the whole text (the window opened: my tickets).
fn typed(rng: &mut StdRng, text: &str) -> Vec<String> {
    let mut asked = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    for (i, _) in chars.iter().enumerate().take(chars.len().saturating_sub(1)) {
        // 70–180 ms between keys; now and then the typist stops to think.
        let gap = if rng.random_bool(0.08) { rng.random_range(300..900) } else { rng.random_range(70..180) };
        if Duration::from_millis(gap) >= TYPING_PAUSE {
            asked.push(chars[..=i].iter().collect());
        }
    }
    asked.push(text.to_owned());
    asked
}

/// The changes "others" made to the reps' tickets not told yet, and when; and how many in all.
type Made = Arc<Mutex<(HashMap<i64, Instant>, usize)>>;

async fn run_day(options: Options, desk_wide: bool) -> Day {
    let stands = Arc::new(stands(options.reps).await);
    take_log(&stands).await;
    let worker = match desk_wide {
        true => Some(desk_worker(&stands, options).await),
        false => None,
    };
    let fill_requests = match &worker {
        Some(w) => {
            copy_filled(&stands, &w.url).await;
            take_log(&stands).await.len()
        }
        None => 0,
    };
    let mut reps = Vec::new();
    for index in 0..options.reps {
        reps.push(Arc::new(rep(&stands, index, worker.as_ref(), options).await));
    }
    let stood_down = reps.iter().filter(|r| r.worker.is_none()).count();
    println!(
        "  {} reps ready; {} embedded worker(s) running, {stood_down} standing down",
        reps.len(),
        reps.len() - stood_down
    );
    take_log(&stands).await;
    let made: Made = Arc::default();
    let told_after: Arc<Mutex<Vec<f64>>> = Arc::default();
    let searches: Arc<Mutex<Searches>> = Arc::default();
    let started = Instant::now();
    let end = started + options.real(options.hours * 3600.0);
    let mut tasks = Vec::new();
    for rep in &reps {
        tasks.push(tokio::spawn(watch(rep.clone(), options, end, made.clone(), told_after.clone())));
        tasks.push(tokio::spawn(work(rep.clone(), stands.clone(), options, started, searches.clone())));
    }
    tasks.push(tokio::spawn(others(stands.clone(), options, end, made.clone())));
    let round_trips = tokio::spawn(round_trips(stands.clone(), end));
    let mut log = Vec::new();
    while Instant::now() < end {
        tokio::time::sleep(Duration::from_secs(2)).await;
        log.extend(take_log(&stands).await);
    }
    for task in tasks {
        task.await.unwrap();
    }
    let round_trips_ms = round_trips.await.unwrap();
    log.extend(take_log(&stands).await);
    let highest_concurrency =
        stands.get(format!("{}/_sim/concurrency", stands.autotask.base_url)).await["highest"].clone();
    let (searches_ms, searches_asked) = {
        let searches = searches.lock().unwrap();
        (searches.took_ms.clone(), searches.asked_autotask)
    };
    let mut day = Day {
        round_trips_ms,
        searches_ms,
        searches_asked,
        fill_requests,
        told_after_s: told_after.lock().unwrap().clone(),
        changes_made: made.lock().unwrap().1,
        highest_concurrency,
        ..Day::default()
    };
    // The benchmark's own round trips are not the desk's, nor its own changes; the desk's
    // worker's status updates are the ticket updates the benchmark did not make.
    let mut probes = day.round_trips_ms.len();
    let updates = log.iter().filter(|r| r["method"] == "PATCH" && r["endpoint"] == "Tickets").count();
    let status_updates = updates.saturating_sub(day.changes_made) as u64;
    if status_updates > 0 {
        *day.by_purpose.entry(Purpose::SessionTicket).or_default() += status_updates;
        *day.search_kinds.entry("session's ticket \"PATCH\" \"Tickets\" (the status)".to_owned()).or_default() +=
            status_updates;
    }
    for record in &log {
        if probes > 0 && record["method"] == "GET" && record["path"].as_str().is_some_and(|p| p.ends_with(PROBE)) {
            probes -= 1;
            continue;
        }
        if let Some(purpose) = Purpose::of(record) {
            *day.by_purpose.entry(purpose).or_default() += 1;
            if purpose != Purpose::Watch {
                let key = format!(
                    "{} {} {} {} {}",
                    purpose.name(),
                    record["method"],
                    record["endpoint"],
                    record["filter_fields"],
                    record["include_fields"]
                );
                *day.search_kinds.entry(key).or_default() += 1;
            }
        }
    }
    for rep in reps {
        if let Some(service) = Arc::into_inner(rep).and_then(|r| r.worker) {
            service.stop().await.unwrap();
        }
    }
    if let Some(worker) = worker {
        worker.service.stop().await.unwrap();
    }
    day
}

/// Waits until the desk's worker says its copy of the tickets is filled.
async fn copy_filled(stands: &Stands, url: &str) {
    while stands.get(format!("{url}/healthz")).await["ticket_copies"]["Desk"]["filled_at"].is_null() {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The reps' searches: how long each took at the app, and how many Autotask answered.
#[derive(Debug, Default)]
struct Searches {
    took_ms: Vec<f64>,
    asked_autotask: usize,
}

async fn take_log(stands: &Stands) -> Vec<Value> {
    let taken = stands.http.post(format!("{}/_sim/requests/take", stands.autotask.base_url)).send().await.unwrap();
    taken.json::<Value>().await.unwrap().as_array().cloned().unwrap_or_default()
}

/// The tray app's watch loop for one rep (`src-tauri/src/ticket_watch.rs`), timing each change.
async fn watch(rep: Arc<Rep>, options: Options, end: Instant, made: Made, told_after: Arc<Mutex<Vec<f64>>>) {
    let every = options.watch_every();
    while Instant::now() < end {
        let started = Instant::now();
        let watched = rep.desk.watch(every.min(LONGEST_WAIT)).await.unwrap();
        for change in &watched.changes {
            if let Some(at) = made.lock().unwrap().0.remove(&change.id) {
                let real = at.elapsed().as_secs_f64();
                told_after.lock().unwrap().push(real * 3600.0 / options.hour_seconds);
            }
        }
        let gap = if watched.from_desk_worker { Duration::from_millis(50) } else { every };
        tokio::time::sleep(gap.saturating_sub(started.elapsed())).await;
    }
}

/// One rep's actions through the day.
async fn work(rep: Arc<Rep>, stands: Arc<Stands>, options: Options, started: Instant, searches: Arc<Mutex<Searches>>) {
    let mut rng = StdRng::seed_from_u64(rep.index as u64);
    let mut shown: Vec<i64> = Vec::new();
    for (at, action) in schedule(&mut rng, options.hours) {
        tokio::time::sleep_until((started + options.real(at)).into()).await;
        if shown.is_empty() && !matches!(action, Action::Search(_) | Action::SessionEnds) {
            shown = search(&rep, "", &searches).await;
        }
        let pick = |rng: &mut StdRng, shown: &[i64]| shown[rng.random_range(0..shown.len())];
        match action {
            Action::Search(text) => {
                for asked in typed(&mut rng, &text) {
                    let found = search(&rep, &asked, &searches).await;
                    if !found.is_empty() {
                        shown = found;
                    }
                }
            }
            Action::Key if !shown.is_empty() => {
                rep.desk.session_key(pick(&mut rng, &shown)).await.unwrap();
            }
            Action::Jump if !shown.is_empty() => {
                let _ = rep.desk.jump(pick(&mut rng, &shown));
            }
            Action::Open if !shown.is_empty() => {
                rep.desk.ticket_url(pick(&mut rng, &shown)).await.unwrap();
            }
            Action::SessionEnds => {
                let ticket = ticket_of(rep.index, rng.random_range(0..TICKETS_PER_REP));
                let session = json!({"external_key": ticket.to_string(), "duration": rng.random_range(300..2400),
                    "reps": [{"username": username(rep.index)}],
                    "customer": {"name": "Dana Whitfield", "company": "Contoso Ltd", "issue": "Outlook"}});
                stands.appliance("sessions", session).await;
                if let Some(worker) = &rep.worker {
                    worker.check_now();
                }
            }
            _ => {}
        }
    }
}

async fn search(rep: &Rep, text: &str, searches: &Mutex<Searches>) -> Vec<i64> {
    let t = Instant::now();
    let rows = rep.desk.search(text).await.unwrap();
    let mut searches = searches.lock().unwrap();
    searches.took_ms.push(t.elapsed().as_secs_f64() * 1000.0);
    searches.asked_autotask += usize::from(rows.iter().any(|r| r.asked_autotask));
    rows.iter().map(|r| r.id).collect()
}

/// Others change the reps' tickets in Autotask (a priority set), at the rate above.
async fn others(stands: Arc<Stands>, options: Options, end: Instant, made: Made) {
    let mut rng = StdRng::seed_from_u64(u64::MAX);
    let per_real_second = CHANGES_BY_OTHERS_PER_HOUR * options.reps as f64 / options.hour_seconds;
    // Not in the day's last watch interval, so every change can be told before the end.
    while Instant::now() + options.watch_every() * 2 < end {
        tokio::time::sleep(Duration::from_secs_f64(rng.random_range(0.0..2.0 / per_real_second))).await;
        let ticket = ticket_of(rng.random_range(0..options.reps), rng.random_range(0..TICKETS_PER_REP));
        let body = json!({"id": ticket, "priority": rng.random_range(1..=3)});
        let response = stands.autotask_api(reqwest::Method::PATCH, "Tickets").json(&body).send().await.unwrap();
        assert!(response.status().is_success(), "{}", response.text().await.unwrap());
        let mut made = made.lock().unwrap();
        made.0.insert(ticket, Instant::now());
        made.1 += 1;
    }
}

/// The benchmark's round trip: one of the stand-in's own tickets, which no rep's desk asks for by
/// id (its apps get tickets by query, its workers the desk's sessions' tickets).
const PROBE: &str = "Tickets/7201";

/// One Autotask round trip (a ticket by id), now and then through the day: the floor a search
/// is held against.
async fn round_trips(stands: Arc<Stands>, end: Instant) -> Vec<f64> {
    let mut times = Vec::new();
    while Instant::now() < end {
        let t = Instant::now();
        let response = stands.autotask_api(reqwest::Method::GET, PROBE).send().await.unwrap();
        assert!(response.status().is_success());
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    times
}

fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut values = values.to_vec();
    values.sort_by(|a, b| a.total_cmp(b));
    values[((values.len() as f64 * p).ceil() as usize).saturating_sub(1).min(values.len() - 1)]
}

fn met(ok: bool) -> &'static str {
    if ok { "met" } else { "NOT met" }
}

fn report(name: &str, day: &Day, options: Options, search_goal: f64) -> f64 {
    let total: u64 = day.by_purpose.values().sum();
    let per_hour = total as f64 / options.hours;
    let per_rep = per_hour / options.reps as f64;
    println!(
        "\n{name}: {per_hour:.0} Autotask requests an hour for {} reps ({per_rep:.2} per rep), {:.1} % of the 10,000 threshold",
        options.reps,
        per_hour / THRESHOLD * 100.0
    );
    for purpose in Purpose::ALL {
        let n = day.by_purpose.get(&purpose).copied().unwrap_or(0) as f64 / options.hours;
        println!("  {:<20} {n:>8.0} an hour  {:>6.2} per rep", purpose.name(), n / options.reps as f64);
    }
    let (search, trip) = (percentile(&day.searches_ms, 0.95), percentile(&day.round_trips_ms, 0.5));
    println!(
        "  search p95 {search:.1} ms at the app over {} searches against one round trip {trip:.0} ms (median): {:.2}× — goal ≤ {search_goal}×, {}",
        day.searches_ms.len(),
        search / trip,
        met(search / trip <= search_goal)
    );
    if day.fill_requests > 0 {
        println!(
            "  searches whose rows came from Autotask (not in the desk's copy): {} of {}; filling the copy took {} requests before the day (once per start of the worker)",
            day.searches_asked,
            day.searches_ms.len(),
            day.fill_requests
        );
    }
    let told = percentile(&day.told_after_s, 0.95);
    println!(
        "  changes by others told: {} of {} (the rest were to tickets changed again before a look), p95 {told:.0} s simulated after the change — goal ≤ {WATCH_SECONDS:.0} s, {}",
        day.told_after_s.len(),
        day.changes_made,
        met(told <= WATCH_SECONDS)
    );
    println!("  most requests at once at one endpoint: {}", day.highest_concurrency);
    println!("  requests but the watch's, by purpose, method, entity, filter fields and fields asked:");
    for (kind, n) in &day.search_kinds {
        println!("    {kind}: {n}");
    }
    per_rep
}

fn main() {
    let options = Options::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    println!(
        "desk benchmark: {} reps ({} with the desk's worker too), {} simulated hours ({} s each), watch every {WATCH_SECONDS} s simulated, {ROUND_TRIP_MS} ms per Autotask round trip",
        options.reps, options.large, options.hours, options.hour_seconds
    );
    println!(
        "per rep and hour: {SEARCHES_PER_HOUR} searches (typed), {KEYS_PER_HOUR} keys, {JUMPS_PER_HOUR} Jumps, {OPENS_PER_HOUR} opens, {SESSIONS_PER_HOUR} sessions ending, {CHANGES_BY_OTHERS_PER_HOUR} changes by others"
    );
    let alone = options.alone.then(|| {
        println!("\nday 1: each app watches its rep's tickets itself; each app's worker writes its rep's sessions");
        runtime.block_on(run_day(options, false))
    });
    println!(
        "day 2: the desk's worker serves the desk-wide watch and search (from its copy of the tickets) and writes the sessions; the apps follow it"
    );
    let desk_wide = runtime.block_on(run_day(options, true));
    let large_options = Options { reps: options.large, ..options };
    let large = (options.large > 0).then(|| {
        println!("day 3: as day 2, for {} reps", options.large);
        runtime.block_on(run_day(large_options, true))
    });
    let status_options = Options { status_change: true, ..large_options };
    let status = (options.large > 0 && options.status).then(|| {
        println!("day 4: as day 3, each session's end moving its ticket's status, the desk taking Autotask's webhooks");
        runtime.block_on(run_day(status_options, true))
    });
    let alone_per_rep = alone.as_ref().map_or(f64::NAN, |day| report("each app alone", day, options, 1.3));
    let desk_per_rep = report("the desk's worker", &desk_wide, options, 0.5);
    if let Some(large) = &large {
        report("the desk's worker, large desk", large, large_options, 0.5);
    }
    if let Some(status) = &status {
        report("the desk's worker, large desk, status change on", status, status_options, 0.5);
    }
    // The desk's worker looks and reads the threshold alike for 5 reps or 1,000.
    let fixed = [Purpose::Watch, Purpose::ThresholdReadings];
    let desk_fixed =
        fixed.iter().map(|p| desk_wide.by_purpose.get(p).copied().unwrap_or(0)).sum::<u64>() as f64 / options.hours;
    let projected = |reps: f64| (desk_per_rep - desk_fixed / options.reps as f64) * reps + desk_fixed;
    println!(
        "\nprojection (per-rep rates of days 1 and 2; the desk worker's looks and threshold readings are the same for any number of reps):"
    );
    for reps in [50.0, 200.0, 1000.0] {
        let alone = match alone_per_rep * reps {
            n if n.is_nan() => "(day 1 not run)".to_owned(),
            n => format!("{n:>7.0} an hour alone ({:>5.1} %)", n / THRESHOLD * 100.0),
        };
        println!(
            "  {reps:>5.0} reps: {alone}, {:>7.0} with the desk's worker ({:>5.1} %)",
            projected(reps),
            projected(reps) / THRESHOLD * 100.0
        );
    }
    let per_hour = |day: &Day, o: Options| day.by_purpose.values().sum::<u64>() as f64 / o.hours;
    let (desk_200, how) = match options.reps {
        200 => (per_hour(&desk_wide, options), "measured"),
        _ => (projected(200.0), "projected"),
    };
    println!(
        "\ngoal: 200 reps with the desk's worker ≤ {BUDGET_200:.0} requests an hour (10 %), everything included — {how} {desk_200:.0}: {}",
        met(desk_200 <= BUDGET_200)
    );
    let (desk_1000, how) = match &large {
        Some(large) if options.large == 1000 => (per_hour(large, large_options), "measured"),
        _ => (projected(1000.0), "projected"),
    };
    println!(
        "goal: 1,000 reps with the desk's worker ≤ {BUDGET_1000:.0} requests an hour (33 %; the notes and time entries alone are 30 %), everything included — {how} {desk_1000:.0}: {}",
        met(desk_1000 <= BUDGET_1000)
    );
    if let Some(status) = &status {
        let measured = per_hour(status, status_options);
        println!(
            "with the status change on, 1,000 reps: {measured:.0} requests an hour ({:.1} %) against its floor {STATUS_FLOOR_1000:.0} ({:.0} %: one update more per session) — {:.2}× the floor",
            measured / THRESHOLD * 100.0,
            STATUS_FLOOR_1000 / THRESHOLD * 100.0,
            measured / STATUS_FLOOR_1000
        );
    }
}
