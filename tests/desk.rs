//! The rep's actions against both stand-ins: search (mine, number, id, words), a session key
//! tied to the ticket with an invitation, the console fallback when keys are not allowed, Jump,
//! and a ticket without a configuration item.

#![allow(clippy::unwrap_used)]

use bta_core::Secret;
use bta_core::autotask::{AutotaskClient, AutotaskSettings, Ticket};
use bta_core::beyondtrust::{BeyondTrustClient, BeyondTrustSettings};
use bta_core::desk::{self, DeskError, KeyOffer};
use bta_e2e::Stands;
use serde_json::json;

struct Desk {
    stands: Stands,
    autotask: AutotaskClient,
    beyondtrust: BeyondTrustClient,
}

async fn desk() -> Desk {
    let stands = Stands::start().await;
    let mut at = AutotaskSettings::new(
        bta_sim::autotask::DEFAULT_USERNAME,
        Secret::new(bta_sim::autotask::DEFAULT_SECRET),
        Secret::new(bta_sim::autotask::DEFAULT_INTEGRATION_CODE),
    );
    at.services_url = Some(format!("{}/atservicesrest", stands.autotask.base_url));
    let mut bt = BeyondTrustSettings::new(
        stands.appliance.host(),
        bta_sim::beyondtrust::DEFAULT_CLIENT_ID,
        Secret::new(bta_sim::beyondtrust::DEFAULT_CLIENT_SECRET),
    );
    bt.use_non_tls = true;
    Desk { autotask: AutotaskClient::new(at).unwrap(), beyondtrust: BeyondTrustClient::new(bt).unwrap(), stands }
}

#[tokio::test]
async fn search_finds_my_open_tickets_numbers_ids_and_words() {
    let d = desk().await;
    let me = desk::my_resource_id(&d.autotask, "alex.morgan@example.com").await.unwrap();
    let mine = desk::search(&d.autotask, "", Some(me)).await.unwrap();
    assert!(!mine.is_empty());
    assert!(mine.iter().all(|t| t.status != "Complete"), "open tickets only");
    let all_mine: Vec<Ticket> = d
        .autotask
        .query_all(bta_core::autotask::Query::new(bta_core::autotask::Filter::eq("assignedResourceID", me)))
        .await
        .unwrap();
    let open = all_mine.iter().filter(|t| t.status != Some(5)).count();
    assert_eq!(mine.len(), open);

    let by_number = desk::search(&d.autotask, "T20261124.0042", Some(me)).await.unwrap();
    assert_eq!(by_number.len(), 1);
    let row = &by_number[0];
    assert_eq!((row.id, row.title.as_str()), (7201, "Outlook keeps asking for password"));
    assert_eq!((row.company.as_str(), row.contact.as_str()), ("Contoso Ltd", "Dana Whitfield"));
    assert_eq!(row.contact_email.as_deref(), Some("dana.whitfield@contoso.example"));
    assert_eq!((row.status.as_str(), row.device.as_deref()), ("New", Some("WS-0042")));

    assert_eq!(desk::search(&d.autotask, "7201", None).await.unwrap()[0].number, "T20261124.0042");
    let words = desk::search(&d.autotask, "vpn DISCONNECTS", None).await.unwrap();
    assert_eq!(words.iter().map(|t| t.title.as_str()).collect::<Vec<_>>(), ["VPN disconnects every 10 minutes"]);
    assert!(desk::search(&d.autotask, "no such words anywhere", None).await.unwrap().is_empty());
    let err = desk::my_resource_id(&d.autotask, "nobody@example.com").await.unwrap_err();
    assert!(err.to_string().contains("no Autotask resource has the e-mail nobody@example.com"), "{err}");
}

#[tokio::test]
async fn a_session_key_is_tied_to_the_ticket_with_an_invitation_and_falls_back_to_the_console() {
    let d = desk().await;
    let row = desk::search(&d.autotask, "T20261124.0042", None).await.unwrap().remove(0);
    let KeyOffer::Key { short_key, key_url, invitation } =
        desk::session_key(&d.beyondtrust, &row, "alex.morgan").await.unwrap()
    else {
        panic!("expected a key");
    };
    assert_eq!(short_key.len(), 7);
    assert!(key_url.contains(&short_key));
    let mail = invitation.unwrap();
    assert!(
        mail.as_str().starts_with("mailto:dana.whitfield@contoso.example?subject=Your%20support%20session&body="),
        "{mail}"
    );
    let keys = d.stands.get(format!("{}/_sim/session-keys", d.stands.appliance.base_url)).await;
    assert_eq!(keys[0]["external_key"], "7201");
    assert_eq!(keys[0]["queue_id"], "rep_username:alex.morgan");

    d.stands.appliance("permissions", json!({"command": "read_only"})).await;
    let fallback = desk::session_key(&d.beyondtrust, &row, "alex.morgan").await.unwrap();
    let KeyOffer::ConsoleLink(link) = fallback else { panic!("expected the console link") };
    assert!(link.as_str().ends_with("action=generate_session_key&session.custom.external_key=7201"), "{link}");
}

#[tokio::test]
async fn jump_goes_to_the_tickets_device_and_a_ticket_without_one_says_so() {
    let d = desk().await;
    let row = desk::search(&d.autotask, "7201", None).await.unwrap().remove(0);
    let url = desk::jump(d.beyondtrust.base_url(), &row).unwrap();
    assert!(
        url.as_str()
            .contains("action=start_pinned_client_session&search_string=WS-0042&session.custom.external_key=7201"),
        "{url}"
    );

    let bare = Ticket {
        title: Some("No device".into()),
        company_id: Some(174),
        status: Some(1),
        priority: Some(2),
        queue_id: Some(8),
        due_date_time: Some(chrono::Utc::now()),
        ..Default::default()
    };
    let id = d.autotask.create(&bare).await.unwrap();
    let row = desk::search(&d.autotask, &id.to_string(), None).await.unwrap().into_iter().find(|t| t.id == id).unwrap();
    let err = desk::jump(d.beyondtrust.base_url(), &row).unwrap_err();
    assert!(matches!(err, DeskError::NoConfigurationItem(_)));
    assert!(err.to_string().contains("has no configuration item to Jump to"), "{err}");
}

#[tokio::test]
async fn the_watch_reports_my_tickets_that_changed_since_the_last_look() {
    let d = desk().await;
    let me = desk::my_resource_id(&d.autotask, "alex.morgan@example.com").await.unwrap();
    let mut watch = desk::TicketWatch::default();
    assert!(watch.check(&d.autotask, me).await.unwrap().is_empty(), "the first look only remembers");
    let note = bta_core::autotask::TicketNote {
        title: Some("Called the customer".into()),
        description: Some("Will call back after lunch".into()),
        note_type: Some(1),
        publish: Some(1),
        ..Default::default()
    };
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await; // lastActivityDate has second resolution
    d.autotask.create_child(7201, &note).await.unwrap();
    let changed = watch.check(&d.autotask, me).await.unwrap();
    assert_eq!(changed.iter().map(|c| c.number.as_str()).collect::<Vec<_>>(), ["T20261124.0042"]);
    assert!(watch.check(&d.autotask, me).await.unwrap().is_empty(), "each change is told once");
}

/// A rep searches fifty times a day: once the desk knows a ticket's company, contact and device,
/// searching again costs one Autotask request (the tickets), and a first look runs its lookups
/// side by side.
#[tokio::test]
async fn a_desk_searches_again_with_one_request_and_looks_up_side_by_side() {
    let stands = Stands::start().await;
    let config = stands.desk_config("rep_username = \"alex.morgan\"\nrep_email = \"alex.morgan@example.com\"");
    let desk = desk::Desk::new(&config.profiles[0]).unwrap();
    let requests = || async {
        stands.get(format!("{}/_sim/requests", stands.autotask.base_url)).await.as_array().unwrap().clone()
    };
    // With each request taking 50 ms, lookups side by side overlap in the stand-in's log.
    stands.post(format!("{}/_sim/latency", stands.autotask.base_url), json!({"ms": 50})).await;
    let first = desk.search("").await.unwrap();
    assert!(first.iter().all(|t| !t.company.is_empty() && !t.contact.is_empty()), "{first:#?}");
    let lookups: Vec<_> = requests()
        .await
        .into_iter()
        .filter(|r| {
            ["Companies", "Contacts", "ConfigurationItems"].iter().any(|e| r["path"].as_str().unwrap().contains(e))
        })
        .collect();
    assert_eq!(lookups.len(), 3, "{lookups:#?}");
    let overlap = |a: &serde_json::Value, b: &serde_json::Value| {
        a["started_ms"].as_f64() < b["finished_ms"].as_f64() && b["started_ms"].as_f64() < a["finished_ms"].as_f64()
    };
    assert!(overlap(&lookups[0], &lookups[1]) || overlap(&lookups[1], &lookups[2]), "side by side: {lookups:#?}");

    let before = requests().await.len();
    let again = desk.search("").await.unwrap();
    assert_eq!(again, first);
    let after = requests().await;
    assert_eq!(after.len() - before, 1, "only the tickets: {:#?}", &after[before..]);
}

/// The watch spares a threshold the whole MSP shares: past half of it, one look in two asks
/// Autotask; past three-quarters none does (thresholds pretended through the stand-in).
#[tokio::test]
async fn the_watch_slows_past_half_the_threshold_and_pauses_past_three_quarters() {
    let d = desk().await;
    let me = desk::my_resource_id(&d.autotask, "alex.morgan@example.com").await.unwrap();
    let mut watch = desk::TicketWatch::default();
    let autotask = &d.stands.autotask.base_url;
    let watch_queries = async || {
        let log = d.stands.get(format!("{autotask}/_sim/requests")).await;
        let requests = log.as_array().cloned().unwrap_or_default();
        requests
            .iter()
            .filter(|r| r["method"] == "POST" && r["path"].as_str().is_some_and(|p| p.ends_with("Tickets/query")))
            .count()
    };
    let mut queries_for = async |used: u64| {
        d.stands.post(format!("{autotask}/_sim/usage"), json!({"count": used})).await;
        d.autotask.refresh_usage().await.unwrap();
        let before = watch_queries().await;
        for _ in 0..6 {
            watch.check(&d.autotask, me).await.unwrap();
        }
        watch_queries().await - before
    };
    assert_eq!(queries_for(1_000).await, 6, "below half: every look asks");
    assert_eq!(queries_for(6_000).await, 3, "past half: every other look");
    assert_eq!(queries_for(8_000).await, 0, "past three-quarters: none");
    assert_eq!(queries_for(2_000).await, 6, "and back to every look once it eases");
}

/// The last tickets I made a key for come first when I search for nothing, the latest first,
/// above my open tickets — from the same one request.
#[tokio::test]
async fn my_last_tickets_come_first_in_an_empty_search() {
    let stands = Stands::start().await;
    let profile = stands.desk_config("rep_username = \"alex.morgan\"\nrep_email = \"alex.morgan@example.com\"");
    let desk = desk::Desk::new(&profile.profiles[0]).unwrap();
    let mine: Vec<i64> = desk.search("").await.unwrap().iter().map(|r| r.id).collect();
    let others: Vec<i64> = [7202, 7203, 7204, 7205].into_iter().filter(|id| !mine.contains(id)).take(2).collect();
    assert_eq!(others.len(), 2, "two tickets that are not Alex's open ones");
    for id in &others {
        desk.search(&id.to_string()).await.unwrap();
        desk.session_key(*id).await.unwrap();
    }
    let requests = async || stands.get(format!("{}/_sim/requests", stands.autotask.base_url)).await;
    let before = requests().await.as_array().unwrap().len();
    let rows = desk.search("").await.unwrap();
    let asked = requests().await.as_array().unwrap().len() - before;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    assert_eq!(ids[..2], [others[1], others[0]], "the latest first: {ids:?}");
    assert!(rows[..2].iter().all(|r| r.recent) && rows[2..].iter().all(|r| !r.recent));
    let mut rest = ids[2..].to_vec();
    rest.sort();
    let mut expected = mine.clone();
    expected.sort();
    assert_eq!(rest, expected, "then my open tickets");
    assert_eq!(asked, 1, "one request: the tickets (companies, contacts and devices already known)");
    assert!(desk.search("Teams").await.unwrap().iter().all(|r| !r.recent), "words search as before");
}

/// A rep types the customer, not the ticket: "dynamo" finds Dynamo Corporation's open tickets,
/// "miguel ortega" his, beside title matches. A first search looks the names up beside the title
/// search and asks for their tickets next; once the desk knows the names, one request; and typing
/// on after a search that matched no name ("outl" → "outlook") asks nothing more.
#[tokio::test]
async fn search_finds_open_tickets_by_company_or_contact_name_in_one_request_once_known() {
    let stands = Stands::start().await;
    let config = stands.desk_config("rep_username = \"alex.morgan\"\nrep_email = \"alex.morgan@example.com\"");
    let desk = desk::Desk::new(&config.profiles[0]).unwrap();
    let log = || async {
        stands.get(format!("{}/_sim/requests", stands.autotask.base_url)).await.as_array().unwrap().clone()
    };
    let tickets = stands.records("Tickets").await;
    let contacts = stands.records("Contacts").await;
    let open_of = |field: &str, id: &serde_json::Value| -> Vec<i64> {
        let mut ids: Vec<i64> = tickets
            .iter()
            .filter(|t| &t[field] == id && t["status"] != json!(5))
            .map(|t| t["id"].as_i64().unwrap())
            .collect();
        ids.sort_unstable();
        ids
    };
    let ids = |rows: &[desk::TicketRow]| {
        let mut ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        ids.sort_unstable();
        ids
    };
    // Asked afresh: the paths asked, in order.
    let asked = |before: usize| async move {
        log().await[before..].iter().map(|r| r["path"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
    };

    let dynamo = open_of("companyID", &json!(175));
    assert!(!dynamo.is_empty());
    let before = log().await.len();
    let found = desk.search("dynamo").await.unwrap();
    assert_eq!(ids(&found), dynamo, "Dynamo Corporation's open tickets (no title says dynamo)");
    assert!(found.iter().all(|r| r.company == "Dynamo Corporation"));
    let first = asked(before).await;
    let count = |what: &str| first.iter().filter(|p| p.ends_with(what)).count();
    // (and the rows' contacts, devices and status labels, looked up once for the desk)
    assert_eq!(
        (count("Tickets/query"), count("Companies/query")),
        (2, 1),
        "names beside the titles, then their tickets: {first:?}"
    );

    let before = log().await.len();
    assert_eq!(ids(&desk.search("Dynamo").await.unwrap()), dynamo);
    assert_eq!(asked(before).await.len(), 1, "known now: one request");

    let miguel = contacts.iter().find(|c| c["firstName"] == "Miguel" && c["lastName"] == "Ortega").unwrap();
    let his = open_of("contactID", &miguel["id"]);
    let found = desk.search("miguel ortega").await.unwrap();
    assert_eq!(ids(&found), his, "his open tickets");
    assert!(!his.is_empty() && found.iter().all(|r| r.contact == "Miguel Ortega"));

    // Title matches still come, merged; a name no one has asks nothing more as the rep types on.
    let titled: Vec<i64> = tickets
        .iter()
        .filter(|t| t["title"].as_str().unwrap().to_lowercase().contains("outlook"))
        .map(|t| t["id"].as_i64().unwrap())
        .collect();
    desk.search("outl").await.unwrap();
    // (not typed on from the rep's last search, which would answer it from that search's rows)
    desk.search("dynamo").await.unwrap();
    let before = log().await.len();
    let found = desk.search("outlook").await.unwrap();
    assert_eq!(ids(&found), {
        let mut t = titled.clone();
        t.sort_unstable();
        t
    });
    assert_eq!(asked(before).await, vec!["/ATServicesRest/v1.0/Tickets/query".to_owned()], "no name lookup");
}

/// Typing on from a search Autotask answered in full ("dyn" → "dynamo", "T20261124.00" →
/// "T20261124.0042") is answered from that answer: the rows a search afresh finds, and no
/// request. Deleting letters past that search asks again, and so does typing on from an answer
/// that reached the search's limit (more tickets may match).
#[tokio::test]
async fn typing_on_from_a_search_answered_in_full_asks_autotask_nothing_more() {
    let stands = Stands::start().await;
    let config = stands.desk_config("rep_username = \"alex.morgan\"\nrep_email = \"alex.morgan@example.com\"");
    let desk = desk::Desk::new(&config.profiles[0]).unwrap();
    let afresh = || desk::Desk::new(&config.profiles[0]).unwrap();
    let requests = async || stands.get(format!("{}/_sim/requests", stands.autotask.base_url)).await;
    let count = async || requests().await.as_array().unwrap().len();
    let ids = |rows: Vec<desk::TicketRow>| rows.into_iter().map(|r| r.id).collect::<Vec<_>>();

    for (was, now) in
        [("dyn", "dynamo"), ("mig", "miguel ortega"), ("vpn", "vpn disconnects"), ("T20261124.00", "T20261124.0042")]
    {
        desk.search(was).await.unwrap();
        let before = count().await;
        let narrowed = ids(desk.search(now).await.unwrap());
        assert_eq!(count().await, before, "'{was}' → '{now}' asked Autotask: {}", requests().await);
        assert!(!narrowed.is_empty());
        assert_eq!(
            narrowed,
            ids(afresh().search(now).await.unwrap()),
            "'{was}' → '{now}': the rows of a search afresh"
        );
    }

    let before = count().await;
    desk.search("T20261124.004").await.unwrap();
    assert_eq!(count().await, before, "deleting a digit typed after the answered 'T20261124.00' asks nothing");
    desk.search("T20261124.0").await.unwrap();
    assert_eq!(count().await, before + 1, "deleting more than was typed after it asks again");

    let printers: Vec<_> = (0..60)
        .map(|n| {
            json!({"id": 90_000 + n, "ticketNumber": format!("T20261130.{n:04}"), "title": format!("Printer jam {n}"),
            "status": 1, "companyID": 0, "queueID": 8, "ticketType": 2, "lastActivityDate": "2026-11-30T08:00:00Z"})
        })
        .collect();
    stands.post(format!("{}/_sim/records/Tickets", stands.autotask.base_url), serde_json::Value::Array(printers)).await;
    desk.search("jam").await.unwrap();
    let before = count().await;
    let found = desk.search("jam 7").await.unwrap();
    assert!(count().await > before, "the answer to 'jam' reached the limit: 'jam 7' asks Autotask");
    assert!(found.iter().any(|r| r.title == "Printer jam 57"), "found beyond the first answer's 50");
}
