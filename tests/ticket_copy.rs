//! The desk's copy of the tickets end to end, at the desk's worker with the Autotask stand-in:
//! searches by words, a number's start and an id answered with no request in the stand-in's
//! log; a ticket made a moment ago found by its whole number (asked once, then kept); a changed
//! ticket found by its new title within the watch interval, and a renamed customer by its new name; Autotask's ticket webhooks bringing
//! a change in within seconds, a wrong signature refused and a replayed callout ignored; the copy
//! made again after its file is deleted; and what the copy does not hold asked of Autotask once,
//! its rows saying so.

use std::time::{Duration, Instant};

use bta_core::desk::TicketRow;
use bta_e2e::Stands;
use serde_json::{Value, json};

use super::{DeskWorker, app_desk, clear_requests, desk_worker_in, requests};

/// A rep's app following the desk's worker (its first watch answered, so it searches there).
async fn following(stands: &Stands, worker: &DeskWorker, rep: &str) -> bta_core::desk::Desk {
    let desk = app_desk(stands, rep, &worker.url, &worker.enrol(rep).await, 30.0);
    desk.watch(Duration::ZERO).await.unwrap();
    desk
}

/// What the stand-in was asked, but for the threshold readings every client makes now and then.
async fn asked(stands: &Stands) -> Vec<Value> {
    let log = requests(stands).await;
    log.into_iter().filter(|r| !r["endpoint"].as_str().unwrap().eq_ignore_ascii_case("ThresholdInformation")).collect()
}

/// Waits until the worker's `/healthz` says its copy is filled; how many tickets it holds.
async fn copy_filled(stands: &Stands, url: &str) -> u64 {
    let started = Instant::now();
    loop {
        let health = stands.get(format!("{url}/healthz")).await;
        let copy = &health["ticket_copies"]["Desk"];
        if !copy["filled_at"].is_null() {
            return copy["tickets"].as_u64().unwrap();
        }
        assert!(started.elapsed() < Duration::from_secs(30), "the copy was not filled: {health:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn titles(rows: &[TicketRow]) -> Vec<&str> {
    rows.iter().map(|r| r.title.as_str()).collect()
}

/// The fields the stand-in's ticket webhooks name, by their names in its `fieldID` picklist, and
/// whether each is subscribed.
async fn webhook_fields(stands: &Stands) -> Vec<(String, bool)> {
    let info = stands.autotask_api(reqwest::Method::GET, "TicketWebhookFields/entityInformation/fields");
    let info: Value = info.send().await.unwrap().json().await.unwrap();
    let ids =
        info["fields"].as_array().unwrap().iter().find(|f| f["name"] == "fieldID").unwrap()["picklistValues"].clone();
    let name = |id: &Value| {
        let id = id.as_i64().unwrap().to_string();
        ids.as_array().unwrap().iter().find(|v| v["value"] == json!(id)).unwrap()["label"].as_str().unwrap().to_owned()
    };
    let rows = stands.records("TicketWebhookFields").await;
    rows.iter().map(|r| (name(&r["fieldID"]), r["isSubscribedField"] == json!(true))).collect()
}

/// Searches until a row titled `title` comes from the copy (not asked of Autotask), `within` at most.
async fn found_in_copy(desk: &bta_core::desk::Desk, words: &str, title: &str, within: Duration) {
    let started = Instant::now();
    loop {
        let rows = desk.search(words).await.unwrap();
        if rows.iter().any(|r| r.title == title && !r.asked_autotask) {
            return;
        }
        assert!(started.elapsed() < within, "'{title}' not in the copy after {within:?}: {rows:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn words_a_numbers_start_and_an_id_are_answered_from_the_copy_without_asking_autotask() {
    let stands = Stands::start().await;
    let worker = desk_worker_in(&stands, tempfile::tempdir().unwrap(), |_| {}).await;
    let alex = following(&stands, &worker, "alex.morgan").await;
    let copied = copy_filled(&stands, &worker.url).await;
    let tickets = stands.records("Tickets").await;
    assert_eq!(copied as usize, tickets.len(), "every demo ticket is open or active within 30 days");
    clear_requests(&stands).await;

    let by_company = alex.search("dyna").await.unwrap();
    assert!(!by_company.is_empty() && by_company.iter().all(|r| r.company.contains("Dynamo")), "{by_company:#?}");
    let by_words = alex.search("outl pass").await.unwrap();
    assert!(!by_words.is_empty(), "the starts of two words");
    for row in &by_words {
        let words = format!("{} {} {}", row.title, row.company, row.contact).to_lowercase();
        assert!(words.contains("outl") && words.contains("pass"), "{row:#?}");
    }
    let one = &tickets[3];
    let number = one["ticketNumber"].as_str().unwrap();
    let by_start = alex.search(&number[..9]).await.unwrap();
    assert!(by_start.iter().all(|r| r.number.starts_with(&number[..9])) && by_start.iter().any(|r| r.number == number));
    let by_number = alex.search(number).await.unwrap();
    assert_eq!(by_number[0].number, number, "the exact number first");
    let id = one["id"].as_i64().unwrap();
    let by_id = alex.search(&id.to_string()).await.unwrap();
    assert_eq!(by_id[0].id, id, "the id first");
    assert_eq!(by_id[0].company, by_number[0].company);
    assert!(by_id[0].device.is_some() && !by_id[0].status.is_empty(), "a whole row from the copy: {:#?}", by_id[0]);
    for rows in [&by_company, &by_words, &by_start, &by_number, &by_id] {
        assert!(rows.iter().all(|r| !r.asked_autotask));
    }
    let searched = asked(&stands).await;
    assert!(searched.is_empty(), "answered from the copy: {searched:#?}");
    worker.service.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ticket_made_a_moment_ago_is_found_by_its_whole_number_asked_once_and_then_kept() {
    let stands = Stands::start().await;
    // Looks a minute apart: the new ticket is not brought in by one.
    let worker =
        desk_worker_in(&stands, tempfile::tempdir().unwrap(), |c| c.ticket_watch = Duration::from_secs(60)).await;
    let alex = following(&stands, &worker, "alex.morgan").await;
    copy_filled(&stands, &worker.url).await;
    let made = json!({"companyID": 175, "title": "Portal session: scanner offline", "status": 1, "priority": 2,
        "queueID": 8, "dueDateTime": "2026-12-31T12:00:00Z"});
    let answer = stands.autotask_api(reqwest::Method::POST, "Tickets").json(&made).send().await.unwrap();
    let id = answer.json::<Value>().await.unwrap()["itemId"].as_i64().unwrap();
    let number = stands.records("Tickets").await.iter().find(|t| t["id"] == json!(id)).unwrap()["ticketNumber"]
        .as_str()
        .unwrap()
        .to_owned();
    clear_requests(&stands).await;

    let found = alex.search(&number).await.unwrap();
    assert_eq!(titles(&found), ["Portal session: scanner offline"]);
    assert!(found[0].asked_autotask, "not in the copy yet: asked of Autotask, and said so");
    let by_number = |log: &[Value]| {
        log.iter()
            .filter(|r| r["filter_fields"].as_array().is_some_and(|f| f.iter().any(|f| f == "ticketNumber")))
            .count()
    };
    assert_eq!(by_number(&asked(&stands).await), 1, "asked once");
    clear_requests(&stands).await;
    let again = alex.search(&number).await.unwrap();
    assert_eq!((again[0].id, again[0].asked_autotask), (id, false), "kept in the copy");
    assert_eq!(alex.search("scanner offl").await.unwrap()[0].id, id, "and found by its words");
    assert_eq!(asked(&stands).await, Vec::<Value>::new());
    worker.service.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_ticket_is_found_by_its_new_title_and_a_renamed_customer_by_its_new_name() {
    let stands = Stands::start().await;
    // Renamed customers asked for at every look (a desk's are every lookup_keep_minutes).
    let worker =
        desk_worker_in(&stands, tempfile::tempdir().unwrap(), |c| c.lookup_keep = Duration::from_millis(500)).await;
    let alex = following(&stands, &worker, "alex.morgan").await;
    copy_filled(&stands, &worker.url).await;
    let record = stands.records("Tickets").await[5].clone();
    let ticket = record["id"].as_i64().unwrap();
    stands.retitle(ticket, "Zebra printer jams on labels").await;
    // The looks are a second apart; a loaded machine gets some slack, the benchmark the figure.
    found_in_copy(&alex, "zebra", "Zebra printer jams on labels", Duration::from_secs(15)).await;
    let old_words = alex.search("zebra").await.unwrap();
    assert_eq!(old_words.iter().filter(|r| r.id == ticket).count(), 1);

    let renamed = json!({"id": record["companyID"], "companyName": "Quokka Logistics"});
    let response = stands.autotask_api(reqwest::Method::PATCH, "Companies").json(&renamed).send().await.unwrap();
    assert!(response.status().is_success(), "{}", response.text().await.unwrap());
    found_in_copy(&alex, "quokka", "Zebra printer jams on labels", Duration::from_secs(15)).await;
    let row = alex.search(&ticket.to_string()).await.unwrap().remove(0);
    assert_eq!((row.company.as_str(), row.asked_autotask), ("Quokka Logistics", false));
    worker.service.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn webhooks_keep_the_copy_within_seconds_and_a_wrong_signature_or_a_replay_is_refused() {
    let stands = Stands::start().await;
    let worker = desk_worker_in(&stands, tempfile::tempdir().unwrap(), |c| {
        c.autotask_webhooks = true;
        c.ticket_watch = Duration::from_secs(3600);
    })
    .await;
    let alex = following(&stands, &worker, "alex.morgan").await;
    copy_filled(&stands, &worker.url).await;
    let started = Instant::now();
    let (hook, named) = loop {
        let named = webhook_fields(&stands).await;
        if let (Some(hook), 9) = (stands.records("TicketWebhooks").await.into_iter().next(), named.len()) {
            break (hook, named);
        }
        assert!(started.elapsed() < Duration::from_secs(20), "the worker registered no ticket webhook: {named:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let callouts = format!("{}/desk/autotask/tickets?appliance=default", worker.url);
    assert_eq!(hook["webhookUrl"], json!(callouts));
    assert_eq!(hook["isActive"], json!(true));
    // The fields a search row shows make a callout; every field the copy keeps rides in it.
    let subscribed: Vec<&str> = named.iter().filter(|(_, s)| *s).map(|(f, _)| f.as_str()).collect();
    assert_eq!(subscribed, ["title", "status", "companyID", "contactID", "configurationItemID", "assignedResourceID"]);

    // A change in Autotask: in the copy within seconds, with no look (they are an hour apart).
    let ticket = stands.records("Tickets").await[7]["id"].as_i64().unwrap();
    clear_requests(&stands).await;
    stands.retitle(ticket, "Yak shaving server outage").await;
    let started = Instant::now();
    while stands.get(format!("{}/healthz", worker.url)).await["ticket_copies"]["Desk"]["last_webhook_at"].is_null() {
        assert!(started.elapsed() < Duration::from_secs(10), "no callout was taken");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let asked_after = asked(&stands).await;
    assert!(asked_after.iter().all(|r| r["method"] == "PATCH"), "the callout held the whole ticket: {asked_after:#?}");
    found_in_copy(&alex, "yak shav", "Yak shaving server outage", Duration::from_secs(10)).await;

    // Callouts the worker did not sign for are refused, and a replay is not taken again.
    let secret = hook["secretKey"].as_str().unwrap();
    let record = stands.records("Tickets").await.into_iter().find(|t| t["id"] == json!(ticket)).unwrap();
    let callout = |title: &str| {
        let mut fields = json!({});
        for field in [
            "id",
            "ticketNumber",
            "status",
            "companyID",
            "contactID",
            "configurationItemID",
            "assignedResourceID",
            "assignedResourceRoleID",
        ] {
            fields[field] = record[field].clone();
        }
        fields["title"] = json!(title);
        fields["lastActivityDate"] = json!(chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string());
        json!({"Action": "Update", "Guid": "guid", "EntityType": "Ticket", "Id": ticket, "Fields": fields,
               "EventTime": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(), "SequenceNumber": 1,
               "PersonID": 1})
        .to_string()
    };
    let post = |body: String, signature: String| {
        let http = stands.http.clone();
        let url = callouts.clone();
        async move {
            let r = http.post(url).header("X-Hook-Signature", signature).body(body).send().await.unwrap();
            r.status().as_u16()
        }
    };
    let forged = callout("Forged title");
    assert_eq!(post(forged.clone(), bta_sim::autotask::webhooks::sign("not the secret", forged.as_bytes())).await, 401);
    assert_eq!(post(forged.clone(), String::new()).await, 401);
    let first = callout("Alpha title from a callout");
    assert_eq!(post(first.clone(), bta_sim::autotask::webhooks::sign(secret, first.as_bytes())).await, 200);
    found_in_copy(&alex, "alpha", "Alpha title from a callout", Duration::from_secs(5)).await;
    let second = callout("Beta title from a callout");
    assert_eq!(post(second.clone(), bta_sim::autotask::webhooks::sign(secret, second.as_bytes())).await, 200);
    found_in_copy(&alex, "beta", "Beta title from a callout", Duration::from_secs(5)).await;
    assert_eq!(post(first.clone(), bta_sim::autotask::webhooks::sign(secret, first.as_bytes())).await, 200);
    let rows = alex.search(&ticket.to_string()).await.unwrap();
    assert_eq!(rows[0].title, "Beta title from a callout", "the replayed callout was not taken");
    assert!(alex.search("forged").await.unwrap().iter().all(|r| r.title != "Forged title"));
    // Signed, but dated an hour ahead: it would outlive the memory of bodies taken, so it is refused.
    let ahead = (chrono::Utc::now() + chrono::Duration::hours(1)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let mut future: Value = serde_json::from_str(&callout("Future title from a callout")).unwrap();
    future["EventTime"] = json!(ahead);
    let future = future.to_string();
    assert_eq!(post(future.clone(), bta_sim::autotask::webhooks::sign(secret, future.as_bytes())).await, 400);
    let rows = alex.search(&ticket.to_string()).await.unwrap();
    assert_eq!(rows[0].title, "Beta title from a callout", "the callout from the future was not taken");
    worker.service.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_copy_is_made_again_after_its_file_is_deleted() {
    let stands = Stands::start().await;
    let dir = tempfile::tempdir().unwrap();
    let kept = dir.path().to_owned();
    let worker = desk_worker_in(&stands, dir, |_| {}).await;
    let filled = copy_filled(&stands, &worker.url).await;
    let token = worker.enrol("alex.morgan").await;
    let super::DeskWorker { service, _dir: dir, .. } = worker;
    service.stop().await.unwrap();
    let copies: Vec<_> = std::fs::read_dir(&kept)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("ticket-copy-"))
        .collect();
    assert!(!copies.is_empty());
    for file in copies {
        std::fs::remove_file(file).unwrap();
    }
    clear_requests(&stands).await;
    let worker = desk_worker_in(&stands, dir, |_| {}).await;
    assert_eq!(copy_filled(&stands, &worker.url).await, filled, "made again, whole");
    let fill = requests(&stands).await;
    assert!(fill.iter().any(|r| r["endpoint"] == "Tickets"), "asked Autotask again: {fill:#?}");
    let alex = app_desk(&stands, "alex.morgan", &worker.url, &token, 30.0);
    alex.watch(Duration::ZERO).await.unwrap();
    clear_requests(&stands).await;
    assert!(!alex.search("dynamo").await.unwrap().iter().any(|r| r.asked_autotask));
    assert_eq!(asked(&stands).await, Vec::<Value>::new());
    worker.service.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn what_the_copy_does_not_hold_is_asked_of_autotask_once_and_marked() {
    let stands = Stands::start().await;
    // A ticket completed in September: outside the copy's 30 days.
    let old = json!([{"id": 990001, "ticketNumber": "T20260901.0007", "title": "Fax migration to the cloud",
        "status": 5, "priority": 2, "companyID": 175, "queueID": 8, "createDate": "2026-09-01T09:00:00Z",
        "lastActivityDate": "2026-09-02T09:00:00Z", "dueDateTime": "2026-09-03T09:00:00Z"}]);
    stands.post(format!("{}/_sim/records/Tickets", stands.autotask.base_url), old).await;
    let worker = desk_worker_in(&stands, tempfile::tempdir().unwrap(), |_| {}).await;
    let alex = following(&stands, &worker, "alex.morgan").await;
    let copied = copy_filled(&stands, &worker.url).await;
    assert_eq!(copied as usize, stands.records("Tickets").await.len() - 1, "all but the old one");
    let tickets_asked =
        |log: &[Value]| log.iter().filter(|r| r["endpoint"] == "Tickets" && r["method"] != "GET").count();

    clear_requests(&stands).await;
    let found = alex.search("fax migr").await.unwrap();
    assert_eq!(titles(&found), ["Fax migration to the cloud"]);
    assert!(found[0].asked_autotask, "the row says it came from Autotask");
    assert_eq!(tickets_asked(&requests(&stands).await), 1, "one search of Autotask");

    // "Search all of Autotask" asks, and says so, even where the copy has an answer.
    clear_requests(&stands).await;
    let everywhere = alex.search_in("dynamo", true).await.unwrap();
    assert!(!everywhere.is_empty() && everywhere.iter().all(|r| r.asked_autotask));
    assert!(tickets_asked(&requests(&stands).await) >= 1);
    worker.service.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn words_autotask_has_no_ticket_for_are_asked_once_for_the_whole_desk_and_a_ticket_made_with_them_is_found() {
    let stands = Stands::start().await;
    let worker = desk_worker_in(&stands, tempfile::tempdir().unwrap(), |_| {}).await;
    let (alex, sam) = (following(&stands, &worker, "alex.morgan").await, following(&stands, &worker, "sam.lee").await);
    copy_filled(&stands, &worker.url).await;
    let tickets_asked = |log: &[Value]| log.iter().filter(|r| r["endpoint"] == "Tickets").count();

    clear_requests(&stands).await;
    assert_eq!(alex.search("zeppelin d").await.unwrap(), []);
    assert_eq!(tickets_asked(&requests(&stands).await), 1, "nothing in the copy: Autotask asked");
    clear_requests(&stands).await;
    assert_eq!(alex.search("zeppelin d").await.unwrap(), []);
    assert_eq!(sam.search("Zeppelin Dock").await.unwrap(), [], "typed on from it, by another rep");
    assert_eq!(tickets_asked(&requests(&stands).await), 0, "Autotask found nothing for it a moment ago");
    assert_eq!(alex.search("zeppeli").await.unwrap(), []);
    assert_eq!(tickets_asked(&requests(&stands).await), 1, "a shorter search may find more: asked");

    // A ticket made with those words comes into the copy at the next look, and is found there.
    let made = json!({"companyID": 175, "title": "Zeppelin dock for the front desk", "status": 1, "priority": 2,
        "queueID": 8, "dueDateTime": "2026-12-31T12:00:00Z"});
    let answer = stands.autotask_api(reqwest::Method::POST, "Tickets").json(&made).send().await.unwrap();
    assert!(answer.status().is_success(), "{}", answer.text().await.unwrap());
    found_in_copy(&sam, "zeppelin dock", "Zeppelin dock for the front desk", Duration::from_secs(15)).await;
    worker.service.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_webhook_autotask_turned_off_is_noticed_the_looks_take_over_and_it_is_on_again_once_its_url_answers() {
    let stands = Stands::start().await;
    let console = std::net::SocketAddr::from(([127, 0, 0, 1], bta_e2e::free_port()));
    let worker = desk_worker_in(&stands, tempfile::tempdir().unwrap(), |c| {
        c.autotask_webhooks = true;
        c.ticket_watch = Duration::from_secs(1);
        c.console_listen = Some(console);
    })
    .await;
    let hash = bta_core::console::auth::hash_password("a long console password").unwrap();
    worker.store.run(move |s| s.set_console_admin("dana", &hash, chrono::Utc::now())).await.unwrap();
    let alex = following(&stands, &worker, "alex.morgan").await;
    copy_filled(&stands, &worker.url).await;
    let hook = wait_for(Duration::from_secs(20), "a registered webhook", async || {
        stands.records("TicketWebhooks").await.into_iter().next()
    })
    .await;
    // Its deactivation URL is the worker's own, with a key of this run's: without it, refused.
    let deactivation = hook["deactivationUrl"].as_str().unwrap().to_owned();
    let prefix = format!("{}/desk/autotask/tickets/deactivated?appliance=default&key=", worker.url);
    assert!(deactivation.starts_with(&prefix) && deactivation.len() > prefix.len() + 30, "{deactivation}");
    for forged in [prefix.trim_end_matches("&key=").to_owned(), format!("{prefix}guess")] {
        let status = stands.http.post(forged).send().await.unwrap().status();
        assert_eq!(status, 401);
    }

    // Autotask cannot reach the desk: after the failed attempts it turns the webhook off.
    let settings = json!({"webhookCalloutsBlocked": true, "webhookRetryMs": 1, "webhookFailuresToDeactivate": 5});
    stands.post(format!("{}/_sim/settings", stands.autotask.base_url), settings).await;
    let tickets = stands.records("Tickets").await;
    let (first, second) = (tickets[3]["id"].as_i64().unwrap(), tickets[4]["id"].as_i64().unwrap());
    stands.retitle(first, "Unreachable callout title").await;
    let health = format!("{}/healthz", worker.url);
    let noticed = wait_for(Duration::from_secs(20), "the turned-off webhook noticed", async || {
        let said = stands.get(health.clone()).await["ticket_webhooks"]["Desk"].clone();
        (said["deactivations"] == 1).then_some(said)
    })
    .await;
    assert_eq!(noticed["registered"], true, "{noticed}");
    // The looks keep the copy meanwhile.
    found_in_copy(&alex, "unreachable callout", "Unreachable callout title", Duration::from_secs(10)).await;
    let metrics = stands.http.get(format!("{}/metrics", worker.url)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("bta_desk_webhook_deactivations_total{profile=\"Desk\"} 1"), "{metrics}");
    // The console's overview says so too.
    let base = format!("http://{console}");
    let login = json!({"name": "dana", "password": "a long console password"});
    let answer =
        stands.http.post(format!("{base}/api/login")).header("Origin", &base).json(&login).send().await.unwrap();
    let cookie = answer.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let overview: Value = stands
        .http
        .get(format!("{base}/api/overview"))
        .header("Cookie", cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let said = &overview["webhooks"][0];
    assert_eq!((said["profile"].as_str(), said["deactivations"].as_u64()), (Some("Desk"), Some(1)), "{overview}");

    // Its URL answers the worker: the webhook is on again, and with Autotask reaching the desk
    // once more, a change comes by callout.
    wait_for(Duration::from_secs(20), "the webhook on again", async || {
        let said = stands.get(health.clone()).await["ticket_webhooks"]["Desk"].clone();
        let on = stands.records("TicketWebhooks").await[0]["isActive"] == true;
        (said["reactivations"] == 1 && said["active"] == true && on).then_some(())
    })
    .await;
    stands.post(format!("{}/_sim/settings", stands.autotask.base_url), json!({"webhookCalloutsBlocked": false})).await;
    stands.retitle(second, "Reachable callout title").await;
    wait_for(Duration::from_secs(10), "a callout delivered", async || {
        let counts = stands.get(format!("{}/_sim/webhooks", stands.autotask.base_url)).await;
        (counts[hook["id"].to_string()]["delivered"].as_u64() >= Some(1)).then_some(())
    })
    .await;
    found_in_copy(&alex, "reachable callout", "Reachable callout title", Duration::from_secs(10)).await;
    worker.service.stop().await.unwrap();
}

/// Polls `found` until it gives something, `within` at most.
async fn wait_for<T, F: AsyncFnMut() -> Option<T>>(within: Duration, what: &str, mut found: F) -> T {
    let started = Instant::now();
    loop {
        if let Some(it) = found().await {
            return it;
        }
        assert!(started.elapsed() < within, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_status_the_worker_set_is_in_the_copy_at_once() {
    let stands = Stands::start().await;
    let worker = desk_worker_in(&stands, tempfile::tempdir().unwrap(), |c| {
        c.ticket_watch = Duration::from_secs(3600);
        c.profiles[0].status_on_session_end = Some("Waiting Customer".to_owned());
    })
    .await;
    let alex = following(&stands, &worker, "alex.morgan").await;
    copy_filled(&stands, &worker.url).await;
    assert_eq!(alex.search("7202").await.unwrap()[0].status, "In Progress");
    clear_requests(&stands).await;
    let session = json!({"external_key": "7202", "reps": [{"username": "alex.morgan"}]});
    stands.appliance("sessions", session).await;
    let started = Instant::now();
    loop {
        let row = alex.search("7202").await.unwrap().remove(0);
        if row.status == "Waiting Customer" {
            assert!(!row.asked_autotask, "from the copy");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "the copy still says {}", row.status);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Nothing but the worker's own write and its read-back asked Autotask about tickets: no
    // look, no webhook, no search.
    let tickets: Vec<String> = asked(&stands)
        .await
        .into_iter()
        .map(|r| format!("{} {}", r["method"].as_str().unwrap(), r["path"].as_str().unwrap().to_lowercase()))
        .filter(|r| r.contains("/tickets") && !r.contains("entityinformation"))
        .collect();
    let (note, get, patch) = (
        "POST /atservicesrest/v1.0/tickets/7202/notes",
        "GET /atservicesrest/v1.0/tickets/7202",
        "PATCH /atservicesrest/v1.0/tickets",
    );
    assert_eq!(tickets, [note, get, patch, get], "the worker's note, read, update and read-back alone");
    worker.service.stop().await.unwrap();
}
