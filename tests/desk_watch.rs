//! The desk-wide watch end to end: the desk's worker asks Autotask once per interval for every
//! rep and the apps learn of their own tickets' changes from it, with no watch query of their
//! own; a wrong or revoked token is refused; an app falls back to its own watch when the worker cannot be
//! reached; and each session has one writer — the embedded worker stands down while the desk's
//! worker writes, and takes over once it has not answered for the setting's minutes. The apps'
//! searches run at the worker, so what one rep's search looked up is known for the next rep's.

#![allow(clippy::unwrap_used)]

mod ticket_copy;

use std::time::Duration;

use bta_core::desk::link::Writer;
use bta_core::desk::{Desk, embedded_config};
use bta_core::service::{Mode, Service};
use bta_core::store::{AsyncStore, Store};
use bta_e2e::Stands;
use serde_json::{Value, json};

/// A token no enrolled rep holds (as long as a real one).
const WRONG_TOKEN: &str = "btarep_not-a-token-of-any-rep-of-these-tests-01234";

/// The desk's `bt-autotask-worker`, in this process: the desk-wide watch every second, and
/// outbound events from the appliance.
struct DeskWorker {
    service: Service,
    url: String,
    store: AsyncStore,
    config: bta_core::config::WorkerConfig,
    _dir: tempfile::TempDir,
}

impl DeskWorker {
    /// Enrols a rep: their token.
    async fn enrol(&self, rep: &str) -> String {
        bta_e2e::enrol_rep(&self.store, &self.config, &self.url, rep).await
    }
}

async fn desk_worker(stands: &Stands) -> DeskWorker {
    desk_worker_in(stands, tempfile::tempdir().unwrap(), |_| {}).await
}

/// The desk's worker on its store in `dir`, its configuration changed by `change` (the watch
/// every second unless changed).
async fn desk_worker_in(
    stands: &Stands,
    dir: tempfile::TempDir,
    change: impl FnOnce(&mut bta_core::config::WorkerConfig),
) -> DeskWorker {
    let mut config = stands.desk_config("desk_watch = true");
    config.ticket_watch = Duration::from_secs(1);
    let store = AsyncStore::new(Store::open(&dir.path().join("worker.sqlite3")).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    config.public_url = Some(url::Url::parse(&url).unwrap());
    // The tests poll searches many times a second while a change comes in, each asking Autotask
    // until the copy has it: a rep's hourly budget is tested on its own (tests/hostile.rs).
    config.rep_autotask_searches_per_hour = 100_000;
    change(&mut config);
    let service = Service::start(&config, store.clone(), Mode::Headless { listener }).unwrap();
    stands.appliance("recipients", json!({"url": format!("{url}/ERSPost")})).await;
    DeskWorker { service, url, store, config, _dir: dir }
}

/// A rep's app's desk, following the desk's worker at `url` with `token`.
fn app_desk(stands: &Stands, rep: &str, url: &str, token: &str, takeover_minutes: f64) -> Desk {
    let settings = format!(
        "rep_username = \"{rep}\"\nrep_email = \"{rep}@example.com\"\ndesk_worker_url = \"{url}\"\n\
         embedded_worker_takeover_minutes = {takeover_minutes}"
    );
    let config = stands.desk_config_with(&settings, &[("desk_token", token)]);
    Desk::new(&config.profiles[0]).unwrap()
}

async fn requests(stands: &Stands) -> Vec<Value> {
    stands.get(format!("{}/_sim/requests", stands.autotask.base_url)).await.as_array().cloned().unwrap_or_default()
}

async fn clear_requests(stands: &Stands) {
    stands.http.delete(format!("{}/_sim/requests", stands.autotask.base_url)).send().await.unwrap();
}

/// Ticket queries that filter on a rep: an app's own watch (or its "my tickets").
fn per_rep_ticket_queries(log: &[Value]) -> Vec<&Value> {
    log.iter()
        .filter(|r| r["endpoint"] == "Tickets")
        .filter(|r| r["filter_fields"].as_array().unwrap().iter().any(|f| f == "assignedResourceID"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn apps_following_the_desk_worker_are_told_of_their_own_changes_once_and_ask_autotask_nothing() {
    let stands = Stands::start().await;
    let worker = desk_worker(&stands).await;
    let alex = app_desk(&stands, "alex.morgan", &worker.url, &worker.enrol("alex.morgan").await, 30.0);
    let sam = app_desk(&stands, "sam.lee", &worker.url, &worker.enrol("sam.lee").await, 30.0);
    let alex_ticket = alex.search("").await.unwrap()[0].id;
    for desk in [&alex, &sam] {
        let first = desk.watch(Duration::ZERO).await.unwrap();
        assert!(first.from_desk_worker && first.changes.is_empty(), "the first answer only tells where to go on from");
        assert!(desk.desk_worker_writes());
    }
    clear_requests(&stands).await;

    stands.someone_notes(alex_ticket).await;
    let (told_alex, told_sam) = tokio::join!(alex.watch(Duration::from_secs(20)), sam.watch(Duration::from_secs(3)));
    let (told_alex, told_sam) = (told_alex.unwrap(), told_sam.unwrap());
    assert!(told_alex.from_desk_worker);
    assert_eq!(told_alex.changes.iter().map(|c| c.id).collect::<Vec<_>>(), [alex_ticket]);
    assert!(told_sam.changes.is_empty(), "sam is not told of alex's ticket: {told_sam:?}");
    let again = alex.watch(Duration::from_millis(2500)).await.unwrap();
    assert!(again.changes.is_empty(), "told once: {again:?}");

    let log = requests(&stands).await;
    assert!(per_rep_ticket_queries(&log).is_empty(), "no app watched by itself: {log:#?}");
    let looks =
        log.iter().filter(|r| r["endpoint"] == "Tickets" && r["filter_fields"][0] == "lastActivityDate").count();
    assert!(looks >= 2, "the desk's worker looked for every rep at once: {log:#?}");
    worker.service.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_token_is_refused_and_the_app_watches_by_itself() {
    let stands = Stands::start().await;
    let worker = desk_worker(&stands).await;
    let changes = format!("{}/desk/changes", worker.url);
    let token = worker.enrol("alex.morgan").await;
    for shown in [None, Some(WRONG_TOKEN), Some("the-old-shared-desk-token-0123456789")] {
        let mut request = stands.http.get(&changes).query(&[("appliance", "default"), ("wait", "0")]);
        if let Some(shown) = shown {
            request = request.bearer_auth(shown);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401);
        let said = response.text().await.unwrap();
        assert!(said.contains("enrol") && !said.contains(&token), "{said}");
    }
    let named = stands.http.get(&changes).query(&[("appliance", "lab")]).bearer_auth(&token).send().await.unwrap();
    assert_eq!(named.status(), 200, "the token says whose profile it is, not the request");
    let search = format!("{}/desk/search", worker.url);
    let unshown = stands.http.get(&search).query(&[("q", "dynamo")]).send().await.unwrap();
    assert_eq!(unshown.status(), 401, "the desk's search needs the token too");

    let alex = app_desk(&stands, "alex.morgan", &worker.url, WRONG_TOKEN, 30.0);
    let watched = alex.watch(Duration::from_secs(1)).await.unwrap();
    assert!(!watched.from_desk_worker, "refused: the app looked itself");
    assert!(per_rep_ticket_queries(&requests(&stands).await).len() == 1, "one look of its own");
    match alex.link().unwrap().writer() {
        Writer::ThisApp { why } => assert!(why.contains("refused this app's rep token"), "{why}"),
        other => panic!("a refused app writes its own sessions, not {other:?}"),
    }
    worker.service.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_app_whose_desk_worker_cannot_be_reached_watches_by_itself() {
    let stands = Stands::start().await;
    let gone = format!("http://127.0.0.1:{}", bta_e2e::free_port());
    let alex = app_desk(&stands, "alex.morgan", &gone, WRONG_TOKEN, 30.0);
    let ticket = alex.search("").await.unwrap()[0].id;
    let first = alex.watch(Duration::from_secs(5)).await.unwrap();
    assert!(!first.from_desk_worker && first.changes.is_empty(), "its own first look only remembers");
    stands.someone_notes(ticket).await;
    let second = alex.watch(Duration::from_secs(5)).await.unwrap();
    assert!(!second.from_desk_worker);
    assert_eq!(second.changes.iter().map(|c| c.id).collect::<Vec<_>>(), [ticket]);
    assert!(alex.desk_worker_writes(), "within the takeover minutes the desk's worker is still trusted to write");
    assert!(alex.link().unwrap().said().contains("cannot be reached"), "{}", alex.link().unwrap().said());

    let impatient = app_desk(&stands, "alex.morgan", &gone, WRONG_TOKEN, 0.0);
    impatient.watch(Duration::from_secs(1)).await.unwrap();
    assert!(!impatient.desk_worker_writes(), "past the takeover minutes the app writes");
}

/// An app of a desk with several addresses whose first is a balancer answering 502 (its workers
/// gone) and whose second nothing listens at: its requests go on to the next address that
/// answers, session keys included, and it stays there.
#[tokio::test(flavor = "multi_thread")]
async fn an_app_of_a_desk_of_several_workers_goes_on_to_the_next_that_answers() {
    let stands = Stands::start().await;
    let worker = desk_worker(&stands).await;
    let token = worker.enrol("alex.morgan").await;
    let balancer = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bad_gateway = format!("http://{}", balancer.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut client, _)) = balancer.accept().await {
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut request = [0u8; 4096];
                let _ = client.read(&mut request).await;
                let answer = "HTTP/1.1 502 Bad Gateway\r\ncontent-length: 11\r\nconnection: close\r\n\r\nBad Gateway";
                let _ = client.write_all(answer.as_bytes()).await;
            });
        }
    });
    let gone = format!("http://127.0.0.1:{}", bta_e2e::free_port());
    let settings = format!(
        "rep_username = \"alex.morgan\"\nrep_email = \"alex.morgan@example.com\"\ndesk_worker_url = \"{bad_gateway}\"\n\
         desk_worker_other_urls = [\"{gone}\", \"{}\"]",
        worker.url
    );
    let alex = Desk::new(&stands.desk_config_with(&settings, &[("desk_token", &token)]).profiles[0]).unwrap();
    let link = alex.link().unwrap();
    let mine = link.search("", None, &[], false).await.unwrap();
    assert!(!mine.is_empty());
    assert_eq!(link.worker(), worker.url, "the third address answered");
    let key = link.session_key(mine[0].id).await.unwrap();
    assert!(key.short_key.as_deref().is_some_and(|k| !k.is_empty()), "{key:?}");
    let watched = alex.watch(Duration::ZERO).await.unwrap();
    assert!(watched.from_desk_worker);
    assert!(link.said().contains(&worker.url), "Settings names the worker in use: {}", link.said());
    worker.service.stop().await.unwrap();
}

/// Both writers are on — the desk's worker and a rep's app with its embedded worker — and the
/// same session ends: one note set and one time entry. Then the desk's worker stops; once it has
/// not answered for the takeover time the app's worker takes over: it writes the next session,
/// and finds the earlier one already written by its marker.
#[tokio::test(flavor = "multi_thread")]
async fn each_session_has_one_writer_and_the_app_takes_over_when_the_desk_worker_is_gone() {
    let stands = Stands::start().await;
    let worker = desk_worker(&stands).await;
    // 0.05 min: the app takes over 3 s after the desk's worker stops answering.
    let settings = format!(
        "rep_username = \"alex.morgan\"\nrep_email = \"alex.morgan@example.com\"\ndesk_worker_url = \"{}\"\n\
         embedded_worker_takeover_minutes = 0.05\npolling_interval_minutes = 1",
        worker.url
    );
    let token = worker.enrol("alex.morgan").await;
    let app_config = stands.desk_config_with(&settings, &[("desk_token", &token)]);
    let desk = std::sync::Arc::new(Desk::new(&app_config.profiles[0]).unwrap());
    let desks = std::collections::HashMap::from([("Desk".to_owned(), desk.clone())]);
    let app_dir = tempfile::tempdir().unwrap();
    let app_store = AsyncStore::new(Store::open(&app_dir.path().join("app.sqlite3")).unwrap());
    desk.watch(Duration::ZERO).await.unwrap();
    let (embedded, stood_down) = embedded_config(&app_config, &desks);
    assert_eq!(stood_down.into_iter().collect::<Vec<_>>(), ["Desk"]);
    let app_worker = Service::start(&embedded, app_store.clone(), Mode::Desktop).unwrap();

    let first = stands.appliance("sessions", session("7201")).await["lsid"].as_str().unwrap().to_owned();
    app_worker.check_now();
    written_once(&stands, 7201, &first).await;
    let app_jobs = app_store.run(|s| s.recent_jobs(10)).await.unwrap();
    assert!(app_jobs.is_empty(), "the app's worker stood down: {app_jobs:#?}");
    assert_eq!(worker.store.run(|s| s.recent_jobs(10)).await.unwrap().len(), 1);

    worker.service.stop().await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while desk.desk_worker_writes() {
        assert!(tokio::time::Instant::now() < deadline, "the app never took over");
        let _ = desk.watch(Duration::from_millis(200)).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (embedded, stood_down) = embedded_config(&app_config, &desks);
    assert!(stood_down.is_empty());
    app_worker.stop().await.unwrap();
    let app_worker = Service::start(&embedded, app_store.clone(), Mode::Desktop).unwrap();
    let second = stands.appliance("sessions", session("7202")).await["lsid"].as_str().unwrap().to_owned();
    app_worker.check_now();
    written_once(&stands, 7202, &second).await;
    // The app's worker met the first session too, and found it written.
    let jobs = settled(&app_store, 2).await;
    assert!(jobs.iter().any(|j| j.lsid.as_deref() == Some(first.as_str())), "{jobs:#?}");
    written_once(&stands, 7201, &first).await;
    app_worker.stop().await.unwrap();
}

fn session(ticket: &str) -> Value {
    json!({
        "external_key": ticket, "duration": 902,
        "reps": [{"username": "alex.morgan", "display_name": "Alex Morgan"}],
        "customer": {"name": "Dana Whitfield", "company": "Contoso Ltd", "issue": "Outlook"},
        "chat": [{"from": "rep", "text": "Connecting now"}],
    })
}

/// Waits until the session's note and time entry are in the ticket, and checks there is one of each.
async fn written_once(stands: &Stands, ticket: i64, lsid: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let notes: Vec<Value> = stands
            .records("TicketNotes")
            .await
            .into_iter()
            .filter(|n| n["ticketID"] == ticket && n["description"].as_str().unwrap_or("").contains(lsid))
            .collect();
        let entries: Vec<Value> = stands
            .records("TimeEntries")
            .await
            .into_iter()
            .filter(|t| t["ticketID"] == ticket && t["internalNotes"].as_str().unwrap_or("").contains(lsid))
            .collect();
        if !notes.is_empty() && !entries.is_empty() {
            assert_eq!(
                (notes.len(), entries.len()),
                (1, 1),
                "one note set and one time entry: {notes:#?} {entries:#?}"
            );
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "session {lsid} was never written to {ticket}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn settled(store: &AsyncStore, count: usize) -> Vec<bta_core::store::Job> {
    use bta_core::store::JobState;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let jobs = store.run(|s| s.recent_jobs(20)).await.unwrap();
        if jobs.len() >= count && jobs.iter().all(|j| matches!(j.state, JobState::Done | JobState::Ignored)) {
            return jobs;
        }
        assert!(tokio::time::Instant::now() < deadline, "jobs never settled: {jobs:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// While the desk's worker watches, "my open tickets" are shown again without asking Autotask,
/// until it tells of a change to one of them — a ticket taken from me included, also where a
/// webhook brought the change into the worker's copy before its look.
#[tokio::test(flavor = "multi_thread")]
async fn my_tickets_are_asked_again_only_after_the_desk_worker_tells_of_a_change() {
    for webhooks in [false, true] {
        my_tickets_asked_again_after_a_change(webhooks).await;
    }
}

async fn my_tickets_asked_again_after_a_change(webhooks: bool) {
    let stands = Stands::start().await;
    let worker = desk_worker_in(&stands, tempfile::tempdir().unwrap(), |c| c.autotask_webhooks = webhooks).await;
    let alex = app_desk(&stands, "alex.morgan", &worker.url, &worker.enrol("alex.morgan").await, 30.0);
    alex.watch(Duration::ZERO).await.unwrap();
    let mine = alex.search("").await.unwrap();
    clear_requests(&stands).await;
    assert_eq!(alex.search("").await.unwrap(), mine);
    let asked = requests(&stands).await;
    assert!(per_rep_ticket_queries(&asked).is_empty(), "shown again without asking: {asked:#?}");

    // Sam takes one of alex's tickets.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let sam = stands.autotask_api(reqwest::Method::GET, "Resources/query?search=%7B%22filter%22%3A%5B%7B%22op%22%3A%22eq%22%2C%22field%22%3A%22email%22%2C%22value%22%3A%22sam.lee%40example.com%22%7D%5D%7D");
    let sam: Value = sam.send().await.unwrap().json().await.unwrap();
    let taken = mine[0].id;
    let change =
        json!({"id": taken, "assignedResourceID": sam["items"][0]["id"], "assignedResourceRoleID": 29_683_462});
    let response = stands.autotask_api(reqwest::Method::PATCH, "Tickets").json(&change).send().await.unwrap();
    assert!(response.status().is_success(), "{}", response.text().await.unwrap());
    let told = alex.watch(Duration::from_secs(20)).await.unwrap();
    assert!(told.changes.is_empty(), "a ticket no longer mine is not a change to tell: {told:?}");
    let now_mine = alex.search("").await.unwrap();
    assert!(!now_mine.iter().any(|t| t.id == taken), "asked again: the taken ticket is gone");
    assert_eq!(now_mine.len(), mine.len() - 1);
    worker.service.stop().await.unwrap();
}

/// Two reps search all of Autotask for the same customer at the desk's worker: the second search
/// costs Autotask one request (the tickets), the companies, contacts and devices being known from
/// the first; the rows say they came from Autotask; with the worker gone the app searches by
/// itself and finds the same rows.
#[tokio::test(flavor = "multi_thread")]
async fn the_desks_searches_of_all_of_autotask_share_what_the_worker_looked_up() {
    let stands = Stands::start().await;
    let worker = desk_worker(&stands).await;
    let alex = app_desk(&stands, "alex.morgan", &worker.url, &worker.enrol("alex.morgan").await, 30.0);
    let sam = app_desk(&stands, "sam.lee", &worker.url, &worker.enrol("sam.lee").await, 30.0);
    for desk in [&alex, &sam] {
        desk.watch(Duration::ZERO).await.unwrap();
    }
    clear_requests(&stands).await;
    let found = alex.search_in("dynamo", true).await.unwrap();
    assert!(!found.is_empty() && found.iter().all(|r| !r.company.is_empty() && r.asked_autotask), "{found:#?}");
    let first: Vec<String> = requests(&stands).await.iter().map(|r| r["endpoint"].to_string()).collect();
    assert!(first.iter().any(|e| e.contains("Companies")), "the first search looked the names up: {first:?}");

    clear_requests(&stands).await;
    assert_eq!(sam.search_in("dynamo", true).await.unwrap(), found);
    let second = requests(&stands).await;
    let endpoints: Vec<&str> = second.iter().filter_map(|r| r["endpoint"].as_str()).collect();
    assert_eq!(endpoints, ["Tickets"], "the desk's lookups were shared: {second:#?}");
    let row = found[0].id;
    sam.session_key(row).await.expect("a row found at the worker can be acted on");

    worker.service.stop().await.unwrap();
    clear_requests(&stands).await;
    let by_itself = sam.search_in("dynamo", true).await.unwrap();
    assert_eq!(by_itself.iter().map(|r| r.id).collect::<Vec<_>>(), found.iter().map(|r| r.id).collect::<Vec<_>>());
    let asked: Vec<String> = requests(&stands).await.iter().map(|r| r["endpoint"].to_string()).collect();
    assert!(asked.iter().any(|e| e.contains("Companies")), "the app looked the names up itself: {asked:?}");
}

/// "My open tickets" at the desk's worker come from its copy of the tickets, kept by its
/// looks: no per-rep query, the same rows as Autotask's answer, and a ticket given to me meanwhile
/// is in them once the worker has told of it.
#[tokio::test(flavor = "multi_thread")]
async fn my_open_tickets_come_from_the_desk_workers_copy_of_the_open_tickets() {
    let stands = Stands::start().await;
    let worker = desk_worker(&stands).await;
    let by_itself = |rep: &str| {
        let config = stands.desk_config(&format!("rep_username = \"{rep}\"\nrep_email = \"{rep}@example.com\""));
        Desk::new(&config.profiles[0]).unwrap()
    };
    let ids = |rows: &[bta_core::desk::TicketRow]| rows.iter().map(|r| r.id).collect::<Vec<_>>();
    let alex = app_desk(&stands, "alex.morgan", &worker.url, &worker.enrol("alex.morgan").await, 30.0);
    alex.watch(Duration::ZERO).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    clear_requests(&stands).await;
    let mine = alex.search("").await.unwrap();
    let asked = requests(&stands).await;
    assert!(per_rep_ticket_queries(&asked).is_empty(), "from the worker's copy: {asked:#?}");
    assert_eq!(mine, by_itself("alex.morgan").search("").await.unwrap(), "the same rows as Autotask's answer");

    // An open ticket's whole number comes from the copy too; a completed one's is asked for.
    let by_number = |log: &[Value]| {
        log.iter().filter(|r| r["filter_fields"].as_array().unwrap().iter().any(|f| f == "ticketNumber")).count()
    };
    clear_requests(&stands).await;
    let numbered = alex.search("t20261124.0042").await.unwrap();
    assert_eq!(by_number(&requests(&stands).await), 0, "from the worker's copy");
    assert_eq!(numbered, by_itself("alex.morgan").search("T20261124.0042").await.unwrap());
    let tickets = stands.records("Tickets").await;
    let completed = tickets.iter().find(|t| t["status"] == json!(5)).unwrap();
    clear_requests(&stands).await;
    let found = alex.search(completed["ticketNumber"].as_str().unwrap()).await.unwrap();
    assert_eq!(ids(&found), [completed["id"].as_i64().unwrap()]);
    assert_eq!(by_number(&requests(&stands).await), 0, "completed lately: in the copy too");

    let given = by_itself("sam.lee").search("").await.unwrap()[0].id;
    let records = stands.get(format!("{}/_sim/records", stands.autotask.base_url)).await;
    let resources = records["Resources"].as_array().unwrap();
    let alex_id = resources.iter().find(|r| r["email"] == "alex.morgan@example.com").unwrap()["id"].clone();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let change = json!({"id": given, "assignedResourceID": alex_id, "assignedResourceRoleID": 29_683_462});
    let response = stands.autotask_api(reqwest::Method::PATCH, "Tickets").json(&change).send().await.unwrap();
    assert!(response.status().is_success(), "{}", response.text().await.unwrap());
    let told = alex.watch(Duration::from_secs(20)).await.unwrap();
    assert_eq!(told.changes.iter().map(|c| c.id).collect::<Vec<_>>(), [given], "told as mine now");
    clear_requests(&stands).await;
    let now_mine = alex.search("").await.unwrap();
    assert!(ids(&now_mine).contains(&given) && now_mine.len() == mine.len() + 1, "{now_mine:#?}");
    assert!(per_rep_ticket_queries(&requests(&stands).await).is_empty());
    worker.service.stop().await.unwrap();
}
