//! The real `bt-autotask-worker` against both stand-ins over loopback, as a desk runs it: notes
//! and time entries, surveys, a lagging report, no ticket, a long transcript, each error class,
//! duplicate deliveries, a disabled profile, several profiles on one listener, and polling.

#![allow(clippy::unwrap_used)]

use std::process::Command;
use std::time::{Duration, Instant};

use bta_e2e::{Stands, Worker, certificate_from_a_new_ca, free_port, worker_binary};
use serde_json::{Value, json};

// ChromeDriver runs as a Unix process group; the Windows build runs only the `wine_` tests.
#[cfg(unix)]
mod console;
mod time_entries;

fn session(ticket: &str) -> Value {
    json!({"external_key": ticket, "duration": 600, "reps": [{"username": "alex.morgan"}],
           "customer": {"name": "Dana Whitfield"}, "chat": [{"from": "rep", "text": "Hello"}]})
}

fn notes_of<'a>(notes: &'a [Value], lsid: &str) -> Vec<&'a Value> {
    notes.iter().filter(|n| n["description"].as_str().is_some_and(|d| d.contains(lsid))).collect()
}

async fn wait_until<F: AsyncFnMut() -> bool>(what: &str, mut done: F) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desk_with_several_profiles_gets_every_session_into_its_ticket() {
    let stands = Stands::start().await;
    let branch = bta_sim::beyondtrust::spawn(bta_sim::beyondtrust::Config { demo: false, ..Default::default() }, 0)
        .await
        .unwrap();
    let port = free_port();
    let branch_profile = stands
        .profile("Branch", "appliance_id = \"branch\"\nnote_type = 13\npublish_notes_as_public = true")
        .replace(&stands.appliance.host(), &branch.host());
    let config = stands.write_config(&format!(
        "listen = \"127.0.0.1:{port}\"\ndata_dir = \"data\"\nretry_delay_ms = 50\nreport_lag_wait_ms = 50\n\n{}\n{}\n{}",
        stands.profile("Desk", ""),
        branch_profile,
        stands.profile("Old", "appliance_id = \"old\"\ndisabled = true"),
    ));
    let worker = Worker::start(&config, port).await;
    let url = |query: &str| format!("http://127.0.0.1:{port}/ERSPost{query}");
    stands.appliance("recipients", json!({"url": url(""), "retry_ms": 50})).await;
    stands.appliance("recipients", json!({"url": url("?appliance=old"), "retry_ms": 50})).await;
    stands.post(format!("{}/_sim/recipients", branch.base_url), json!({"url": url("?appliance=branch")})).await;
    stands.appliance("faults", json!({"method": "*", "path": "/api/reporting", "status": 503, "count": 2})).await;

    let mut with_surveys = session("7210");
    with_surveys["surveys"] =
        json!({"customer": [{"label": "Happy?", "answer": "Yes"}], "rep": [{"label": "Fixed?", "answer": "Yes"}]});
    let surveyed = stands.appliance("sessions", with_surveys).await["lsid"].as_str().unwrap().to_owned();
    let mut lagging = session("7211");
    lagging["report_lag_ms"] = json!(400);
    let lagged = stands.appliance("sessions", lagging).await["lsid"].as_str().unwrap().to_owned();
    let orphan = stands.appliance("sessions", session("")).await["lsid"].as_str().unwrap().to_owned();
    let mut long = session("7212");
    long["chat"] = json!((0..1200).map(|i| json!({"from": "rep", "text": format!("Step {i:04}: a long line of troubleshooting chat to fill the note.")})).collect::<Vec<_>>());
    let long_lsid = stands.appliance("sessions", long).await["lsid"].as_str().unwrap().to_owned();
    let mut stranger = session("7213");
    stranger["reps"] = json!([{"username": "nobody.here"}]);
    let failing = stands.appliance("sessions", stranger).await["lsid"].as_str().unwrap().to_owned();
    let branch_session = stands.post(format!("{}/_sim/sessions", branch.base_url), session("7214")).await["lsid"]
        .as_str()
        .unwrap()
        .to_owned();
    // Our own delivery of that session's end, made twice as an appliance retry would.
    let end = format!("event=support_conference_end&version=3&timestamp=1795515302&lsid={surveyed}&external_key=7210");
    for _ in 0..2 {
        assert_eq!(stands.http.post(url("")).body(end.clone()).send().await.unwrap().status(), 200);
    }

    wait_until("every note", async || {
        let notes = stands.records("TicketNotes").await;
        notes_of(&notes, &surveyed).len() == 3
            && notes_of(&notes, &lagged).len() == 1
            && notes_of(&notes, &long_lsid).len() >= 3
            && notes_of(&notes, &failing).len() == 1
            && notes_of(&notes, &branch_session).len() == 1
    })
    .await;
    wait_until("the appliances' queues to drain", async || {
        let d = stands.deliveries().await;
        d.as_array().unwrap().iter().all(|r| r["pending"] == 0)
    })
    .await;

    let notes = stands.records("TicketNotes").await;
    assert!(notes_of(&notes, &orphan).is_empty(), "a session without a ticket writes nothing");
    let long_notes = notes_of(&notes, &long_lsid);
    assert!(
        long_notes
            .iter()
            .all(|n| n["ticketID"] == 7212 && n["description"].as_str().unwrap().chars().count() <= 32_000)
    );
    let branch_note = notes_of(&notes, &branch_session)[0];
    assert_eq!((branch_note["noteType"].clone(), branch_note["publish"].clone()), (json!(13), json!(1)));
    // A job writes its time entry after its notes: wait for the jobs, not only the notes.
    let finished = [&surveyed, &lagged, &branch_session, &failing];
    wait_until("every session's job", async || {
        let listing = worker_says(&["jobs"], &config);
        finished.iter().all(|l| {
            let line = job_line(&listing, l, "support_conference_end");
            line.contains("done") || line.contains("failed")
        })
    })
    .await;
    let entries = stands.records("TimeEntries").await;
    let timed =
        |lsid: &str| entries.iter().filter(|t| t["internalNotes"].as_str().is_some_and(|n| n.contains(lsid))).count();
    assert_eq!((timed(&surveyed), timed(&lagged), timed(&branch_session), timed(&failing)), (1, 1, 1, 0));

    // `jobs` reads only the store: it needs none of the secrets.
    let jobs = Command::new(worker_binary())
        .args(["jobs", "--config"])
        .arg(&config)
        .env_remove("BTA_BT_SECRET")
        .env_remove("BTA_AT_SECRET")
        .env_remove("BTA_AT_CODE")
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&jobs.stdout);
    let line = |lsid: &str| listing.lines().filter(|l| l.contains(lsid)).collect::<Vec<_>>().join("\n");
    assert!(line(&failing).contains("failed") && line(&failing).contains("no active Autotask resource"), "{listing}");
    assert!(line(&orphan).contains("ignored") && line(&orphan).contains("has no external key"), "{listing}");
    // The appliance's own delivery and ours differ in their bodies: two jobs, but the posting
    // made twice is one of them, and the session still has exactly its three notes (above).
    let end_jobs = listing.lines().filter(|l| l.contains(&surveyed) && l.contains("support_conference_end")).count();
    assert_eq!(end_jobs, 2, "{listing}");
    assert!(worker.stop());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_finds_sessions_without_outbound_events() {
    let stands = Stands::start().await;
    let first = stands.appliance("sessions", session("7215")).await["lsid"].as_str().unwrap().to_owned();
    let second = stands.appliance("sessions", session("T20261124.0042")).await["lsid"].as_str().unwrap().to_owned();
    let port = free_port();
    let config = stands.config(
        port,
        "retry_delay_ms = 50\nreport_lag_wait_ms = 50",
        "outbound_event_types = []\npolling_event_types = [\"support_session_end\"]\npolling_interval_minutes = 1",
    );
    let worker = Worker::start(&config, port).await;
    wait_until("both polled sessions in their tickets", async || {
        let notes = stands.records("TicketNotes").await;
        notes_of(&notes, &first).len() == 1 && notes_of(&notes, &second).len() == 1
    })
    .await;
    assert!(worker.stop());
}

/// Ticket Default Data that Autotask refuses, each in a profile of its own: name, data, Autotask's words.
const REFUSED_TICKETS: [(&str, &str, &str); 3] = [
    (
        "pair",
        "companyName = \"Dynamo Corporation\", status = 1, priority = 2, queueID = 8, assignedResourceID = 29684001, \
         assignedResourceRoleName = \"Engineer\"",
        "The specified AssignedResourceID and AssignedRoleID combination is not currently defined",
    ),
    (
        "reference",
        "companyID = 999, status = 1, priority = 2, queueID = 8",
        "Value does not reference an existing entity for companyID.",
    ),
    (
        "required",
        "companyName = \"Dynamo Corporation\", priority = 2, queueID = 8",
        "Value does not exist for the required field status",
    ),
];

/// `bt-autotask-worker <args> --config <config>`'s standard output, with the stand-ins' secrets.
fn worker_says(args: &[&str], config: &std::path::Path) -> String {
    bta_e2e::worker_says(args, config).unwrap_or_else(|said| panic!("{said}"))
}

/// The `jobs` line of a session's job of this event.
fn job_line(listing: &str, lsid: &str, event: &str) -> String {
    listing.lines().find(|l| l.contains(lsid) && l.contains(event)).unwrap_or_default().to_owned()
}

/// Autotask's rule violations (HTTP 500 with its reasons) as a desk meets them: each rejected
/// write fails its job after one try, whatever the retry limit, with Autotask's words and what to
/// fix; an outage 500 is still retried and lands once; after the fix, `retry` writes exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autotask_rule_violations_fail_at_once_in_its_words_and_land_once_after_the_fix() {
    let stands = Stands::start().await;
    let rep = json!([{"email": "pat.doe@example.com", "userName": "pat.doe", "firstName": "Pat", "lastName": "Doe",
                      "isActive": true}]);
    let pat = stands.post(format!("{}/_sim/records/Resources", stands.autotask.base_url), rep).await["firstId"]
        .as_i64()
        .unwrap();
    let spawn = || bta_sim::beyondtrust::spawn(bta_sim::beyondtrust::Config { demo: false, ..Default::default() }, 0);
    let noting = spawn().await.unwrap();
    let mut creating = Vec::new();
    for _ in REFUSED_TICKETS {
        creating.push(spawn().await.unwrap());
    }
    let port = free_port();
    let on = |appliance: &bta_sim::beyondtrust::Running, profile: String| {
        profile.replace(&stands.appliance.host(), &appliance.host())
    };
    let mut profiles = vec![
        stands.profile("Desk", "retry_attempt_limit = 5"),
        on(&noting, stands.profile("Notes", "appliance_id = \"notes\"\nnote_type = 77")),
    ];
    for ((name, defaults, _), appliance) in REFUSED_TICKETS.iter().zip(&creating) {
        let creation = format!(
            "appliance_id = \"{name}\"\noutbound_event_types = [\"support_session_end\", \"someone_joins_a_support_session\"]\n\
             enable_automatic_ticket_creation = true\nautomatic_ticket_creation_without_external_key = true\n\
             ticket_default_data = {{ {defaults} }}"
        );
        profiles.push(on(appliance, stands.profile(name, &creation)));
    }
    let config = stands.write_config(&format!(
        "listen = \"127.0.0.1:{port}\"\ndata_dir = \"data\"\nretry_delay_ms = 50\nreport_lag_wait_ms = 50\n\n{}",
        profiles.join("\n")
    ));
    let worker = Worker::start(&config, port).await;
    let url = |query: &str| format!("http://127.0.0.1:{port}/ERSPost{query}");
    stands.appliance("recipients", json!({"url": url(""), "retry_ms": 50})).await;
    for ((name, _, _), appliance) in REFUSED_TICKETS.iter().zip(&creating) {
        stands
            .post(format!("{}/_sim/recipients", appliance.base_url), json!({"url": url(&format!("?appliance={name}"))}))
            .await;
    }
    stands.post(format!("{}/_sim/recipients", noting.base_url), json!({"url": url("?appliance=notes")})).await;
    // An outage, not a refusal: two time entry requests answered 500 without an errors list.
    stands
        .autotask_fault(
            json!({"method": "POST", "path": "/atservicesrest/v1.0/TimeEntries", "status": 500, "count": 2}),
        )
        .await;

    let outage = stands.appliance("sessions", session("7217")).await["lsid"].as_str().unwrap().to_owned();
    wait_until("the time entry through the outage", async || {
        let entries = stands.records("TimeEntries").await;
        entries.iter().any(|t| t["internalNotes"].as_str().is_some_and(|n| n.contains(&outage)))
    })
    .await;
    let mut without_role = session("7216");
    without_role["reps"] = json!([{"username": "pat.doe"}]);
    let refused = stands.appliance("sessions", without_role).await["lsid"].as_str().unwrap().to_owned();
    let joined = json!({"external_key": "", "live": true, "reps": [{"username": "alex.morgan"}],
                        "customer": {"name": "Miguel Ortega", "issue": "VPN Access", "details": "VPN drops"}});
    let mut portal = Vec::new();
    for appliance in &creating {
        let lsid = stands.post(format!("{}/_sim/sessions", appliance.base_url), joined.clone()).await["lsid"].clone();
        portal.push(lsid.as_str().unwrap().to_owned());
    }
    let badly_typed = stands.post(format!("{}/_sim/sessions", noting.base_url), session("7218")).await["lsid"]
        .as_str()
        .unwrap()
        .to_owned();
    let listing = || worker_says(&["jobs"], &config);
    wait_until("every job to settle", async || {
        let all = listing();
        let ended =
            [&refused, &badly_typed].into_iter().all(|l| job_line(&all, l, "conference_end").contains("failed"));
        ended && portal.iter().all(|l| job_line(&all, l, "member_added").contains("failed"))
    })
    .await;

    let all = listing();
    for (lsid, event, words) in [
        (
            &refused,
            "support_conference_end",
            "no role Autotask accepts for pat.doe@example.com's time: the ticket is not assigned to them, they do \
             not hold \"Sample Role\", they have no default service desk role. Give the rep that role",
        ),
        (
            &badly_typed,
            "support_conference_end",
            "Picklist value [77] does not exist for noteType (HTTP 500) — picklist fields take their numeric value",
        ),
    ] {
        let line = job_line(&all, lsid, event);
        assert!(line.contains("failed"), "{line}");
        assert!(line.contains(words), "«{words}» missing in: {line}");
        assert!(!line.contains("answer was lost"), "{line}");
    }
    for ((_, _, words), lsid) in REFUSED_TICKETS.iter().zip(&portal) {
        let line = job_line(&all, lsid, "member_added");
        assert!(line.contains("failed") && line.contains("Autotask refused the ticket for session"), "{line}");
        assert!(line.contains(words), "«{words}» missing in: {line}");
    }
    // Each refused write was sent once, whatever the retry limit; the outage's three times.
    let requests = stands.get(format!("{}/_sim/requests", stands.autotask.base_url)).await;
    let posts = |path: &str| {
        let of = |r: &&Value| r["method"] == "POST" && r["path"].as_str().is_some_and(|p| p.ends_with(path));
        requests.as_array().unwrap().iter().filter(of).map(|r| r["status"].as_u64().unwrap()).collect::<Vec<_>>()
    };
    assert_eq!(posts("/TimeEntries"), [500, 200], "the outage retried; a rep without a role found before sending");
    assert_eq!(posts("/Tickets"), [500; REFUSED_TICKETS.len()], "each refused ticket sent once");
    assert_eq!(posts("/Tickets/7218/Notes"), [500], "the refused note sent once");
    let outage_line = job_line(&all, &outage, "support_conference_end");
    assert!(
        outage_line.contains("done") && outage_line.contains("tries 2 "),
        "retried through the outage: {outage_line}"
    );

    let notes = stands.records("TicketNotes").await;
    let entries = stands.records("TimeEntries").await;
    let timed =
        |lsid: &str| entries.iter().filter(|t| t["internalNotes"].as_str().is_some_and(|n| n.contains(lsid))).count();
    assert_eq!((notes_of(&notes, &outage).len(), timed(&outage)), (1, 1), "the outage wrote nothing twice");
    assert_eq!((notes_of(&notes, &refused).len(), timed(&refused)), (1, 0), "the note before the refusal is kept");
    assert!(notes_of(&notes, &badly_typed).is_empty());
    let appliances = [&stands.appliance, &noting].into_iter().chain(&creating);
    for (name, appliance) in ["main", "notes", "pair", "reference", "required"].into_iter().zip(appliances) {
        let deliveries = stands.get(format!("{}/_sim/deliveries", appliance.base_url)).await;
        let stats = &deliveries[0];
        assert_eq!(
            (stats["failures"].as_u64(), stats["last_status"].as_u64(), stats["pending"].as_u64()),
            (Some(0), Some(200), Some(0)),
            "{name}: every delivery answered 200 at intake: {deliveries}"
        );
    }

    // The fix in Autotask, then Retry: the time entry lands; the note already there is not written again.
    let role = json!([{"resourceID": pat, "roleID": bta_sim::autotask::SAMPLE_ROLE_ID, "isActive": true}]);
    stands.post(format!("{}/_sim/records/ResourceRoles", stands.autotask.base_url), role).await;
    let id = job_line(&all, &refused, "support_conference_end").split_whitespace().next().unwrap().to_owned();
    assert!(worker_says(&["retry", &id], &config).contains("queued again"));
    wait_until("the retried job", async || job_line(&listing(), &refused, "support_conference_end").contains("done"))
        .await;
    let notes = stands.records("TicketNotes").await;
    let entries = stands.records("TimeEntries").await;
    let timed = entries.iter().filter(|t| t["internalNotes"].as_str().is_some_and(|n| n.contains(&refused))).count();
    assert_eq!((notes_of(&notes, &refused).len(), timed), (1, 1), "written exactly once after the fix");
    assert!(worker.stop());
}

/// A series' value in a Prometheus scrape (0 when it is not there yet).
fn series(scrape: &str, name: &str) -> f64 {
    scrape
        .lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_move_as_a_session_is_written_and_as_a_fault_strikes() {
    let stands = Stands::start().await;
    let port = free_port();
    let config = stands.config(port, "retry_delay_ms = 50\nreport_lag_wait_ms = 50", "");
    let worker = Worker::start(&config, port).await;
    let scrape = async || stands.http.get(format!("http://127.0.0.1:{port}/metrics")).send().await.unwrap();
    let first = scrape().await;
    assert!(first.headers()["content-type"].to_str().unwrap().starts_with("application/openmetrics-text"));
    assert!(first.text().await.unwrap().contains("# TYPE bta_session_written_seconds histogram"));
    stands.appliance("recipients", json!({"url": format!("http://127.0.0.1:{port}/ERSPost"), "retry_ms": 50})).await;

    let written = stands.appliance("sessions", session("7219")).await["lsid"].as_str().unwrap().to_owned();
    wait_until("the session's note", async || notes_of(&stands.records("TicketNotes").await, &written).len() == 1)
        .await;
    wait_until("the session counted", async || {
        series(&scrape().await.text().await.unwrap(), "bta_session_written_seconds_count") == 1.0
    })
    .await;
    let text = scrape().await.text().await.unwrap();
    for (name, at_least) in [
        ("bta_intake_answers_total{profile=\"Desk\",status=\"200\"}", 1.0),
        ("bta_autotask_calls_total{entity=\"TicketNotes\",operation=\"create\",outcome=\"ok\"}", 1.0),
        ("bta_autotask_calls_total{entity=\"TimeEntries\",operation=\"create\",outcome=\"ok\"}", 1.0),
        ("bta_beyondtrust_calls_total{command=\"SupportSession\",outcome=\"ok\"}", 1.0),
    ] {
        assert!(series(&text, name) >= at_least, "{name} in:\n{text}");
    }
    assert_eq!(series(&text, "bta_jobs{state=\"failed\"}"), 0.0, "{text}");
    assert!(series(&text, "bta_autotask_threshold_used_ratio") > 0.0, "{text}");

    // An outage answering the note's create: counted by its outcome, the job retried, then written.
    stands
        .autotask_fault(json!({"method": "POST", "path": "/atservicesrest/v1.0/Tickets/7220/Notes", "status": 503}))
        .await;
    let faulted = stands.appliance("sessions", session("7220")).await["lsid"].as_str().unwrap().to_owned();
    wait_until("the faulted session's note", async || {
        notes_of(&stands.records("TicketNotes").await, &faulted).len() == 1
    })
    .await;
    wait_until("both sessions counted", async || {
        series(&scrape().await.text().await.unwrap(), "bta_session_written_seconds_count") == 2.0
    })
    .await;
    let text = scrape().await.text().await.unwrap();
    assert_eq!(
        series(&text, "bta_autotask_calls_total{entity=\"TicketNotes\",operation=\"create\",outcome=\"ambiguous\"}"),
        1.0,
        "{text}"
    );
    assert_eq!(series(&text, "bta_job_retries_total{profile=\"Desk\"}"), 1.0, "{text}");
    assert!(worker.stop());
}

/// Whether a client trusting only `ca` reaches the worker's intake over HTTPS.
async fn trusted_by(ca: &str, port: u16) -> bool {
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca.as_bytes()).unwrap())
        .build()
        .unwrap();
    client.get(format!("https://127.0.0.1:{port}/healthz")).send().await.is_ok_and(|r| r.status() == 200)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_intake_takes_a_new_certificate_mid_stream_and_loses_nothing() {
    let stands = Stands::start().await;
    let (first_ca, cert, key) = certificate_from_a_new_ca();
    let (next_ca, next_cert, next_key) = certificate_from_a_new_ca();
    let files = [stands.dir.path().join("intake.crt"), stands.dir.path().join("intake.key")];
    std::fs::write(&files[0], cert).unwrap();
    std::fs::write(&files[1], key).unwrap();
    let port = free_port();
    let top = "retry_delay_ms = 50\nreport_lag_wait_ms = 50\ntls_certificate_file = \"intake.crt\"\ntls_key_file = \"intake.key\"";
    let worker = Worker::start(&stands.config(port, top, ""), port).await;
    assert!(
        trusted_by(&first_ca, port).await && !trusted_by(&next_ca, port).await,
        "served with the first certificate"
    );
    let plain = stands.http.get(format!("http://127.0.0.1:{port}/healthz")).send().await;
    assert!(plain.is_err() || plain.is_ok_and(|r| r.status() != 200), "no plain HTTP beside HTTPS");
    // The appliance trusts both CAs, as a desk renewing its certificate sets it up.
    let recipient = json!({"url": format!("https://127.0.0.1:{port}/ERSPost"), "retry_ms": 50,
                           "ca_pem": format!("{first_ca}{next_ca}")});
    stands.appliance("recipients", recipient).await;

    let mut lsids = Vec::new();
    for i in 0..8 {
        if i == 4 {
            std::fs::write(&files[0], &next_cert).unwrap();
            std::fs::write(&files[1], &next_key).unwrap();
            worker.hangup();
        }
        let ticket = (7201 + i).to_string();
        lsids.push(stands.appliance("sessions", session(&ticket)).await["lsid"].as_str().unwrap().to_owned());
    }
    wait_until("every session's note", async || {
        let notes = stands.records("TicketNotes").await;
        lsids.iter().all(|l| notes_of(&notes, l).len() == 1)
    })
    .await;
    wait_until("the new certificate", async || trusted_by(&next_ca, port).await).await;
    assert!(!trusted_by(&first_ca, port).await, "the old certificate is no longer served");
    let deliveries = stands.deliveries().await;
    assert_eq!(deliveries[0]["pending"], 0, "{deliveries}");
    let notes = stands.records("TicketNotes").await;
    assert!(lsids.iter().all(|l| notes_of(&notes, l).len() == 1), "each session written once");
    assert!(worker.stop(), "stopped cleanly, open connections finished");
}

/// Sessions that ended without a ticket, as a desk lead handles them headless: `unlinked` lists
/// every rep's with the customer, company and length; `attach` (twice at once, by two people)
/// writes the note and time entry to the ticket exactly once and the session leaves the list;
/// `dismiss` removes another, and the activity log says who did what.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_without_a_ticket_are_listed_attached_once_and_dismissed() {
    let stands = Stands::start().await;
    let port = free_port();
    let defaults = "ticket_default_data = { companyName = \"Dynamo Corporation\", title = \"Remote support: {{Issue}}\", description = \"{{Details}}\", defaultContactID = 30684007, status = \"New\", priority = 2, queueID = 8 }";
    let config = stands.config(port, "retry_delay_ms = 50\nreport_lag_wait_ms = 50", defaults);
    let worker = Worker::start(&config, port).await;
    stands.appliance("recipients", json!({"url": format!("http://127.0.0.1:{port}/ERSPost")})).await;
    let portal = json!({"external_key": "", "duration": 1500, "reps": [{"username": "alex.morgan"}],
                        "customer": {"name": "Pat Lee", "company": "Dynamo Corporation", "issue": "Printer offline"},
                        "chat": [{"from": "rep", "text": "Printer is back."}]});
    let billable = stands.appliance("sessions", portal.clone()).await["lsid"].as_str().unwrap().to_owned();
    let mut courtesy = portal;
    courtesy["customer"]["name"] = json!("Sam Ortiz");
    courtesy["external_key"] = json!("not-a-ticket");
    let courtesy = stands.appliance("sessions", courtesy).await["lsid"].as_str().unwrap().to_owned();
    let walk_in = json!({"external_key": "", "duration": 600, "reps": [{"username": "alex.morgan"}],
                         "customer": {"name": "Lee Park", "company": "Dynamo Corporation", "issue": "Docking station",
                                      "details": "Laptop will not dock"},
                         "chat": [{"from": "rep", "text": "Firmware updated."}]});
    let walk_in = stands.appliance("sessions", walk_in).await["lsid"].as_str().unwrap().to_owned();
    wait_until("the sessions in the list", async || {
        let listing = worker_says(&["unlinked"], &config);
        [&billable, &courtesy, &walk_in].iter().all(|l| listing.contains(l.as_str()))
    })
    .await;
    let listing = worker_says(&["unlinked"], &config);
    assert!(listing.contains("3 session(s) of the last 14 days are not in a ticket"), "{listing}");
    assert!(
        listing.contains("alex.morgan") && listing.contains("Pat Lee (Dynamo Corporation, 25 min) — Printer offline")
    );
    assert!(listing.contains("its external key 'not-a-ticket' is no ticket id or number"), "{listing}");

    // Two people attach the same session at the same moment, by its first characters.
    let attach = |by: &'static str| {
        let config = config.clone();
        let prefix = billable[..10].to_owned();
        std::thread::spawn(move || {
            Command::new(worker_binary())
                .args(["attach", &prefix, "T20261124.0042", "--by", by, "--config"])
                .arg(&config)
                .output()
                .unwrap()
        })
    };
    let (lead, rep) = (attach("lead"), attach("alex"));
    let answers = [lead.join().unwrap(), rep.join().unwrap()];
    assert!(answers.iter().all(|a| a.status.success()), "{answers:?}");
    let said: Vec<String> = answers.iter().map(|a| String::from_utf8_lossy(&a.stdout).into_owned()).collect();
    assert_eq!(said.iter().filter(|s| s.contains("goes to ticket T20261124.0042")).count(), 1, "{said:?}");
    assert_eq!(said.iter().filter(|s| s.contains("was already attached to ticket T20261124.0042")).count(), 1);
    let ticket = stands.records("Tickets").await.into_iter().find(|t| t["ticketNumber"] == "T20261124.0042").unwrap();
    wait_until("the attached session's time entry", async || {
        stands
            .records("TimeEntries")
            .await
            .iter()
            .any(|t| t["internalNotes"].as_str().is_some_and(|n| n.contains(&billable)))
    })
    .await;
    let notes = stands.records("TicketNotes").await;
    let written = notes_of(&notes, &billable);
    assert_eq!(written.len(), 1, "one note: {written:?}");
    assert_eq!(written[0]["ticketID"], ticket["id"]);
    let entries = stands.records("TimeEntries").await;
    let timed: Vec<_> =
        entries.iter().filter(|t| t["internalNotes"].as_str().is_some_and(|n| n.contains(&billable))).collect();
    assert_eq!((timed.len(), &timed[0]["ticketID"], &timed[0]["hoursWorked"]), (1, &ticket["id"], &json!(0.42)));
    // Attached elsewhere afterwards: refused, nothing written twice.
    let again =
        Command::new(worker_binary()).args(["attach", &billable, "7201", "--config"]).arg(&config).output().unwrap();
    let why = String::from_utf8_lossy(&again.stderr);
    assert!(!again.status.success() && why.contains("already attached to ticket T20261124.0042 by"), "{why}");

    // A new ticket for a session that has none, from Ticket Default Data: made once, written to.
    let said = worker_says(&["attach", &walk_in, "new"], &config);
    assert!(said.contains("Lee Park (Dynamo Corporation, 10 min) goes to ticket new"), "{said}");
    wait_until("the new ticket's time entry", async || {
        stands
            .records("TimeEntries")
            .await
            .iter()
            .any(|t| t["internalNotes"].as_str().is_some_and(|n| n.contains(&walk_in)))
    })
    .await;
    let made: Vec<Value> = stands
        .records("Tickets")
        .await
        .into_iter()
        .filter(|t| t["description"].as_str().is_some_and(|d| d.contains(&walk_in)))
        .collect();
    assert_eq!(made.len(), 1, "one new ticket: {made:?}");
    assert_eq!(made[0]["title"], "Remote support: Docking station");
    assert!(made[0]["description"].as_str().unwrap().starts_with("Laptop will not dock"));
    let notes = stands.records("TicketNotes").await;
    assert_eq!(
        notes_of(&notes, &walk_in).iter().map(|n| n["ticketID"].clone()).collect::<Vec<_>>(),
        [made[0]["id"].clone()]
    );

    let dismissed = worker_says(&["dismiss", &courtesy, "--by", "lead"], &config);
    assert!(dismissed.contains("Sam Ortiz (Dynamo Corporation, 25 min) is dismissed"), "{dismissed}");
    let listing = worker_says(&["unlinked"], &config);
    assert!(listing.contains("No session of the last 14 days is waiting for a ticket"), "{listing}");
    let bad = Command::new(worker_binary())
        .args(["attach", &courtesy, "ticket-9", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&bad.stderr)
            .contains("'ticket-9' is no ticket id (like 7216), ticket number (like T20261124.0042) or 'new'")
    );
    assert!(worker.stop());
    let store = bta_core::store::Store::open(&stands.dir.path().join("data/worker.sqlite3")).unwrap();
    let activity: Vec<String> = store.recent_activity(50).unwrap().into_iter().map(|a| a.summary).collect();
    assert!(
        activity
            .iter()
            .any(|a| a.ends_with("attached the session with Pat Lee (Dynamo Corporation, 25 min) to T20261124.0042")),
        "{activity:?}"
    );
    assert!(
        activity.contains(
            &"lead dismissed the session with Sam Ortiz (Dynamo Corporation, 25 min) as not billable".to_owned()
        ),
        "{activity:?}"
    );
}

/// A session attached on two writers — the rep's tray app and the desk's worker each keep their
/// own store — is written once: the second looks for the first one's markers before writing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_attached_on_two_writers_is_written_once() {
    let stands = Stands::start().await;
    let (port_a, port_b) = (free_port(), free_port());
    let quick = "retry_delay_ms = 50\nreport_lag_wait_ms = 50";
    let config_a = stands.config(port_a, quick, "");
    let dir_b = stands.dir.path().join("desk");
    std::fs::create_dir_all(&dir_b).unwrap();
    let config_b = dir_b.join("worker.toml");
    let text_b =
        format!("listen = \"127.0.0.1:{port_b}\"\ndata_dir = \"data\"\n{quick}\n\n{}", stands.profile("Desk", ""));
    std::fs::write(&config_b, text_b).unwrap();
    let (a, b) = (Worker::start(&config_a, port_a).await, Worker::start(&config_b, port_b).await);
    for port in [port_a, port_b] {
        stands.appliance("recipients", json!({"url": format!("http://127.0.0.1:{port}/ERSPost")})).await;
    }
    let portal = json!({"external_key": "", "duration": 900, "reps": [{"username": "alex.morgan"}],
                        "customer": {"name": "Pat Lee", "company": "Dynamo Corporation"},
                        "chat": [{"from": "rep", "text": "Done."}]});
    let lsid = stands.appliance("sessions", portal).await["lsid"].as_str().unwrap().to_owned();
    for config in [&config_a, &config_b] {
        wait_until("the session in both lists", async || worker_says(&["unlinked"], config).contains(&lsid)).await;
    }
    let timed = async || {
        let entries = stands.records("TimeEntries").await;
        entries.iter().filter(|t| t["internalNotes"].as_str().is_some_and(|n| n.contains(&lsid))).count()
    };
    worker_says(&["attach", &lsid, "7203"], &config_a);
    wait_until("the first writer's time entry", async || timed().await == 1).await;
    worker_says(&["attach", &lsid, "7203"], &config_b);
    wait_until("the second writer's job", async || {
        job_line(&worker_says(&["jobs"], &config_b), &lsid, "support_conference_end").contains("done")
    })
    .await;
    let line = job_line(&worker_says(&["jobs"], &config_b), &lsid, "support_conference_end");
    assert!(line.contains("(already there)"), "{line}");
    assert_eq!((notes_of(&stands.records("TicketNotes").await, &lsid).len(), timed().await), (1, 1));
    assert!(a.stop() && b.stop());
}
