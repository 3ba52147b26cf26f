//! The worker end to end, in process, over real loopback HTTP: the appliance stand-in delivers
//! sessions' events to the intake listener; the worker writes notes, surveys, time entries and
//! created tickets into the Autotask stand-in — once, whatever is delivered twice, fails, lags
//! or is rerun.

#![allow(clippy::unwrap_used)]

use bta_core::store::{AsyncStore, JobState, Store};
use bta_e2e::Pipeline;
use serde_json::{Value, json};

fn scenario(external_key: &str) -> Value {
    json!({
        "external_key": external_key, "duration": 902,
        "reps": [{"username": "alex.morgan", "display_name": "Alex Morgan"}],
        "customer": {"name": "Dana Whitfield", "company": "Contoso Ltd", "issue": "Outlook"},
        "chat": [{"from": "rep", "text": "Connecting now"}, {"from": "customer", "text": "Thanks"}],
        "notes": ["Reset the Outlook credential"],
        "surveys": {"customer": [{"label": "Satisfied?", "answer": "Very"}], "rep": [{"label": "Resolved?", "answer": "Yes"}]}
    })
}

fn notes_for(notes: &[Value], ticket: i64, lsid: &str) -> Vec<Value> {
    notes
        .iter()
        .filter(|n| n["ticketID"] == ticket && n["description"].as_str().unwrap_or("").contains(lsid))
        .cloned()
        .collect()
}

#[tokio::test]
async fn a_finished_session_lands_in_its_ticket_once() {
    let system = Pipeline::start("").await;
    system.appliance("recipients", json!({"url": system.intake_url})).await;
    let lsid = system.appliance("sessions", scenario("7201")).await["lsid"].as_str().unwrap().to_owned();
    let jobs = system.settled(3).await;
    assert!(jobs.iter().all(|j| j.state == JobState::Done), "{jobs:#?}");

    let notes = notes_for(&system.records("TicketNotes").await, 7201, &lsid);
    assert_eq!(notes.len(), 3, "the session note and both surveys: {notes:#?}");
    let session_note =
        notes.iter().find(|n| n["title"].as_str().unwrap().starts_with("Remote support session")).unwrap();
    let text = session_note["description"].as_str().unwrap();
    assert!(text.contains("Alex Morgan: Connecting now") && text.contains("Reset the Outlook credential"), "{text}");
    assert_eq!(session_note["publish"], 2, "internal unless publish_notes_as_public");
    assert_eq!(session_note["noteType"], 1);

    let entries: Vec<Value> =
        system.records("TimeEntries").await.into_iter().filter(|t| t["ticketID"] == 7201).collect();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["resourceID"], bta_sim::autotask::FIRST_REP_RESOURCE_ID);
    assert_eq!(entries[0]["roleID"], 29683462, "Technician: the ticket is Alex's in that role");
    assert_eq!(entries[0]["hoursWorked"], 0.26);
    assert_eq!(entries[0]["summaryNotes"], "Remote support");

    // A rerun of every job writes nothing new: the ledger, then the markers, say it is there.
    for job in &jobs {
        let id = job.id;
        assert!(system.store.run(move |s| s.retry(id, chrono::Utc::now())).await.unwrap());
    }
    system.worker.wake().notify_one();
    system.settled(3).await;
    assert_eq!(notes_for(&system.records("TicketNotes").await, 7201, &lsid).len(), 3);
    assert_eq!(system.records("TimeEntries").await.iter().filter(|t| t["ticketID"] == 7201).count(), 1);
    let activity = system.store.run(|s| s.recent_activity(20)).await.unwrap();
    assert!(
        activity.iter().any(|a| a.summary.starts_with("Wrote the session with ")
            && a.summary.contains(" to ticket 7201")
            && a.details
                .as_deref()
                .is_some_and(|d| d.contains("a time entry · session ") && d.contains("ticket id 7201"))),
        "{activity:#?}"
    );
}

#[tokio::test]
async fn a_ticket_number_works_and_a_session_without_a_ticket_is_reported_not_retried() {
    let system = Pipeline::start("").await;
    system.appliance("recipients", json!({"url": system.intake_url, "events": ["support_conference_end"]})).await;
    let numbered = system.appliance("sessions", scenario("T20261124.0042")).await["lsid"].as_str().unwrap().to_owned();
    let orphan = system.appliance("sessions", scenario("")).await["lsid"].as_str().unwrap().to_owned();
    let jobs = system.settled(2).await;
    assert_eq!(notes_for(&system.records("TicketNotes").await, 7201, &numbered).len(), 1);
    let skipped = jobs.iter().find(|j| j.lsid.as_deref() == Some(orphan.as_str())).unwrap();
    assert_eq!(skipped.state, JobState::Ignored);
    assert_eq!(skipped.attempts, 1, "no ticket is not retried");
    assert!(skipped.last_error.as_deref().unwrap().contains("has no external key"));
}

#[tokio::test]
async fn a_write_whose_answer_was_lost_is_found_by_its_marker_not_written_again() {
    let system = Pipeline::start("").await;
    let fault = json!({"method": "POST", "path": "/atservicesrest/v1.0/Tickets/7201/Notes", "status": 500,
                       "count": 1, "after_processing": true});
    system.http.post(format!("{}/_sim/faults", system.autotask.base_url)).json(&fault).send().await.unwrap();
    system.appliance("recipients", json!({"url": system.intake_url, "events": ["support_conference_end"]})).await;
    let lsid = system.appliance("sessions", scenario("7201")).await["lsid"].as_str().unwrap().to_owned();
    let jobs = system.settled(1).await;
    assert_eq!(jobs[0].state, JobState::Done);
    assert_eq!(jobs[0].attempts, 2, "the lost answer made one retry");
    assert_eq!(notes_for(&system.records("TicketNotes").await, 7201, &lsid).len(), 1, "written exactly once");
}

#[tokio::test]
async fn a_rep_unknown_to_autotask_fails_for_good_and_says_what_to_fix() {
    let system = Pipeline::start("").await;
    let mut session = scenario("7202");
    session["reps"] = json!([{"username": "nobody.here"}]);
    system.appliance("recipients", json!({"url": system.intake_url, "events": ["support_conference_end"]})).await;
    system.appliance("sessions", session).await;
    let jobs = system.settled(1).await;
    assert_eq!(jobs[0].state, JobState::Failed);
    assert_eq!(jobs[0].attempts, 1, "a permanent error is not retried");
    let why = jobs[0].last_error.clone().unwrap();
    assert!(why.contains("no active Autotask resource has the e-mail nobody.here@example.com"), "{why}");
}

#[tokio::test]
async fn polling_queues_each_finished_session_once_and_they_land_in_their_tickets() {
    let system = Pipeline::start("polling_event_types = [\"support_session_end\"]\npolling_interval_minutes = 1").await;
    let first = system.appliance("sessions", scenario("7204")).await["lsid"].as_str().unwrap().to_owned();
    let second = system.appliance("sessions", scenario("T20261124.0042")).await["lsid"].as_str().unwrap().to_owned();
    let profile = system.config.profiles[0].clone();
    let appliance = bta_core::beyondtrust::BeyondTrustClient::new(profile.beyondtrust.clone()).unwrap();
    let now = chrono::Utc::now();
    assert_eq!(
        bta_core::polling::poll_once(&profile, &appliance, &system.store, &bta_core::polling::Scope::AllSessions, now)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        bta_core::polling::poll_once(&profile, &appliance, &system.store, &bta_core::polling::Scope::AllSessions, now)
            .await
            .unwrap(),
        0,
        "nothing twice"
    );
    assert!(system.store.run(|s| s.watermark("Desk")).await.unwrap().is_some());
    system.worker.wake().notify_one();
    let jobs = system.settled(2).await;
    assert!(
        jobs.iter().all(|j| j.state == JobState::Done && j.source == bta_core::store::Source::Polling),
        "{jobs:#?}"
    );
    let notes = system.records("TicketNotes").await;
    assert_eq!(notes_for(&notes, 7204, &first).len(), 1);
    assert_eq!(notes_for(&notes, 7201, &second).len(), 1);
}

#[tokio::test]
async fn a_report_that_lags_the_end_event_is_waited_for() {
    let system = Pipeline::start("").await;
    system.appliance("recipients", json!({"url": system.intake_url, "events": ["support_conference_end"]})).await;
    let mut lagging = scenario("7206");
    lagging["report_lag_ms"] = json!(300);
    let lsid = system.appliance("sessions", lagging).await["lsid"].as_str().unwrap().to_owned();
    let jobs = system.settled(1).await;
    assert_eq!(jobs[0].state, JobState::Done, "{jobs:#?}");
    assert!(jobs[0].attempts > 1, "the first look found no end time and waited");
    assert_eq!(notes_for(&system.records("TicketNotes").await, 7206, &lsid).len(), 1);
}

#[tokio::test]
async fn a_long_transcript_is_written_as_numbered_notes_each_once() {
    let system = Pipeline::start("").await;
    let fault = json!({"method": "POST", "path": "/atservicesrest/v1.0/Tickets/7207/Notes", "status": 500,
                       "count": 2, "after_processing": true});
    system.http.post(format!("{}/_sim/faults", system.autotask.base_url)).json(&fault).send().await.unwrap();
    system.appliance("recipients", json!({"url": system.intake_url, "events": ["support_conference_end"]})).await;
    let mut long = scenario("7207");
    long["chat"] = json!(
        (0..1500)
            .map(|i| json!({"from": if i % 2 == 0 { "rep" } else { "customer" },
        "text": format!("Message {i:04}: checking the mail profile, the cached credentials and the VPN once more.")}))
            .collect::<Vec<_>>()
    );
    let lsid = system.appliance("sessions", long).await["lsid"].as_str().unwrap().to_owned();
    let jobs = system.settled(1).await;
    assert_eq!(jobs[0].state, JobState::Done, "{jobs:#?}");
    let notes = notes_for(&system.records("TicketNotes").await, 7207, &lsid);
    let parts = notes.len();
    assert!(parts >= 4, "{parts} parts");
    for part in 1..=parts {
        let marker = format!("[BeyondTrust session {lsid} part {part} of {parts}]");
        let count = notes.iter().filter(|n| n["description"].as_str().unwrap().ends_with(&marker)).count();
        assert_eq!(count, 1, "part {part} written once");
    }
    assert!(notes.iter().all(|n| n["description"].as_str().unwrap().chars().count() <= 32_000));
}

const CREATION: &str = r#"outbound_event_types = ["support_session_end", "someone_joins_a_support_session"]
enable_automatic_ticket_creation = true
automatic_ticket_creation_without_external_key = true
ticket_default_data = { companyName = "Dynamo Corporation", title = "BeyondTrust Remote Support Chat: {{Issue}}", description = "{{Details}}", contactID = "{{emailAddress|customer_email}}", defaultContactID = 30684007, assignedResourceID = 29684001, assignedResourceRoleName = "Technician", status = "New", priority = 2, queueID = 8 }"#;

async fn created_tickets(system: &Pipeline, lsid: &str) -> Vec<Value> {
    let marker = format!("[BeyondTrust session {lsid} created this ticket]");
    system
        .records("Tickets")
        .await
        .into_iter()
        .filter(|t| t["description"].as_str().is_some_and(|d| d.contains(&marker)))
        .collect()
}

async fn live_session(system: &Pipeline, external_key: &str, email: &str, reps: Value) -> String {
    let session = json!({
        "external_key": external_key, "live": true, "duration": 300, "reps": reps,
        "customer": {"name": "Miguel Ortega", "issue": "VPN Access", "details": "VPN drops every ten minutes",
                     "custom": {"customer_email": email}},
        "chat": [{"from": "rep", "text": "Let's look at the VPN client"}]
    });
    system.appliance("sessions", session).await["lsid"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_rep_joining_a_session_from_the_portal_creates_its_ticket_and_the_note_lands_on_it() {
    let system = Pipeline::start(CREATION).await;
    system.appliance("recipients", json!({"url": system.intake_url})).await;
    let lsid = live_session(&system, "", "miguel.ortega@dynamo.example", json!([{"username": "alex.morgan"}])).await;
    system.settled(1).await;
    let created = created_tickets(&system, &lsid).await;
    assert_eq!(created.len(), 1, "{created:#?}");
    let ticket = &created[0];
    assert_eq!(ticket["companyID"], 175, "companyName resolved");
    assert_eq!(ticket["title"], "BeyondTrust Remote Support Chat: VPN Access", "{{Issue}} filled in");
    assert!(
        ticket["description"].as_str().unwrap().starts_with("VPN drops every ten minutes"),
        "{{Details}} filled in"
    );
    assert_eq!(ticket["contactID"], 30684002, "the dynamic ContactID found the contact by e-mail");
    assert_eq!(ticket["assignedResourceRoleID"], 29683462, "assignedResourceRoleName resolved");
    assert_eq!(ticket["status"], 1, "a status label became its value");
    let id = ticket["id"].as_i64().unwrap();
    let sessions = system.get(format!("{}/_sim/sessions", system.appliance.base_url)).await;
    let live = sessions.as_array().unwrap().iter().find(|s| s["lsid"] == lsid.as_str()).unwrap();
    assert_eq!(live["external_key"], id.to_string(), "the ticket id was written back into the session");

    system.appliance(&format!("sessions/{lsid}/end"), json!({})).await;
    system.settled(2).await;
    assert_eq!(
        notes_for(&system.records("TicketNotes").await, id, &lsid).len(),
        1,
        "the session note lands on the new ticket"
    );
}

#[tokio::test]
async fn a_json_external_key_overlays_the_defaults_and_an_unknown_email_uses_the_default_contact() {
    let system = Pipeline::start(CREATION).await;
    system.appliance("recipients", json!({"url": system.intake_url})).await;
    let key = json!({"title": "Printer on fire: {{Issue}}", "priority": 1}).to_string();
    let reps = json!([{"username": "alex.morgan"}, {"username": "sam.lee"}]);
    let lsid = live_session(&system, &key, "stranger@elsewhere.example", reps).await;
    system.settled(2).await;
    let created = created_tickets(&system, &lsid).await;
    assert_eq!(created.len(), 1, "two reps joining make one ticket: {created:#?}");
    assert_eq!(created[0]["title"], "Printer on fire: VPN Access");
    assert_eq!(created[0]["priority"], 1, "the external key's fields override the defaults");
    assert_eq!(created[0]["contactID"], 30684007, "no contact matched: the static defaultContactID");
}

#[tokio::test]
async fn an_unknown_company_is_a_clear_error_and_sessions_with_tickets_create_none() {
    let system = Pipeline::start(&CREATION.replace("Dynamo Corporation", "Nonexistent Ltd")).await;
    system
        .appliance("recipients", json!({"url": system.intake_url, "events": ["support_conference_member_added"]}))
        .await;
    let broken = live_session(&system, "", "x@y.example", json!([{"username": "alex.morgan"}])).await;
    let tied = live_session(&system, "7201", "x@y.example", json!([{"username": "sam.lee"}])).await;
    let jobs = system.settled(2).await;
    let failed = jobs.iter().find(|j| j.lsid.as_deref() == Some(broken.as_str())).unwrap();
    assert_eq!(failed.state, JobState::Failed);
    assert!(
        failed.last_error.as_deref().unwrap().contains("Autotask has no company named 'Nonexistent Ltd'"),
        "{failed:#?}"
    );
    let quiet = jobs.iter().find(|j| j.lsid.as_deref() == Some(tied.as_str())).unwrap();
    assert_eq!(quiet.state, JobState::Ignored);
    assert!(created_tickets(&system, &tied).await.is_empty());
}

async fn failing_notes(system: &Pipeline) -> bta_core::store::Job {
    let fault =
        json!({"method": "POST", "path": "/atservicesrest/v1.0/Tickets/7208/Notes", "status": 503, "count": 50});
    system.http.post(format!("{}/_sim/faults", system.autotask.base_url)).json(&fault).send().await.unwrap();
    system.appliance("recipients", json!({"url": system.intake_url, "events": ["support_conference_end"]})).await;
    system.appliance("sessions", scenario("7208")).await;
    system.settled(1).await.remove(0)
}

#[tokio::test]
async fn the_retry_attempt_limit_is_honoured() {
    let system = Pipeline::start("retry_attempt_limit = 2").await;
    let job = failing_notes(&system).await;
    assert_eq!((job.state, job.attempts), (JobState::Failed, 3), "the first try and two retries");
    assert!(job.last_error.unwrap().contains("HTTP 503"));
}

#[tokio::test]
async fn event_types_not_listed_for_retry_are_not_retried() {
    let system = Pipeline::start("retry_outbound_event_types = [\"customer_exit_survey_is_completed\"]").await;
    let job = failing_notes(&system).await;
    assert_eq!((job.state, job.attempts), (JobState::Failed, 1));
}

#[tokio::test]
async fn time_entries_follow_update_time_entry_and_every_default_field() {
    let off = Pipeline::start("update_time_entry = false").await;
    off.appliance("recipients", json!({"url": off.intake_url, "events": ["support_conference_end"]})).await;
    off.appliance("sessions", scenario("7209")).await;
    off.settled(1).await;
    assert!(off.records("TimeEntries").await.iter().all(|t| t["ticketID"] != 7209), "no time entry when off");

    let defaults = "time_entry_default_data = { defaultDomain = \"example.com\", roleName = \"Technician\", summaryNotes = \"Fixed remotely\", internalNotes = \"Logged by bt-autotask\", offsetHours = 1.5 }";
    let on = Pipeline::start(defaults).await;
    on.appliance("recipients", json!({"url": on.intake_url, "events": ["support_conference_end"]})).await;
    let lsid = on.appliance("sessions", scenario("7209")).await["lsid"].as_str().unwrap().to_owned();
    on.settled(1).await;
    let entries: Vec<Value> = on.records("TimeEntries").await.into_iter().filter(|t| t["ticketID"] == 7209).collect();
    assert_eq!(entries.len(), 1);
    let e = &entries[0];
    assert_eq!(e["roleID"], 29683462, "roleName");
    assert_eq!(e["summaryNotes"], "Fixed remotely", "summaryNotes");
    assert_eq!(e["offsetHours"], 1.5, "offsetHours");
    let internal = e["internalNotes"].as_str().unwrap();
    assert!(
        internal.starts_with("Logged by bt-autotask") && internal.contains(&lsid),
        "internalNotes and the marker: {internal}"
    );
}

#[tokio::test]
async fn only_the_listed_session_types_create_tickets() {
    let system =
        Pipeline::start(&format!("{CREATION}\nautomatic_ticket_creation_session_types = [\"presentation\"]")).await;
    system
        .appliance("recipients", json!({"url": system.intake_url, "events": ["support_conference_member_added"]}))
        .await;
    let lsid = live_session(&system, "", "miguel.ortega@dynamo.example", json!([{"username": "alex.morgan"}])).await;
    let jobs = system.settled(1).await;
    assert_eq!(jobs[0].state, JobState::Ignored);
    assert!(jobs[0].last_error.as_deref().unwrap().contains("session type 'support'"));
    assert!(created_tickets(&system, &lsid).await.is_empty());
}

#[tokio::test]
async fn polled_jobs_follow_the_retry_polling_event_types() {
    let system = Pipeline::start(
        "outbound_event_types = []\npolling_event_types = [\"support_session_end\"]\npolling_interval_minutes = 1\nretry_polling_event_types = []",
    )
    .await;
    let fault =
        json!({"method": "POST", "path": "/atservicesrest/v1.0/Tickets/7208/Notes", "status": 503, "count": 50});
    system.http.post(format!("{}/_sim/faults", system.autotask.base_url)).json(&fault).send().await.unwrap();
    system.appliance("sessions", scenario("7208")).await;
    let profile = system.config.profiles[0].clone();
    let appliance = bta_core::beyondtrust::BeyondTrustClient::new(profile.beyondtrust.clone()).unwrap();
    bta_core::polling::poll_once(
        &profile,
        &appliance,
        &system.store,
        &bta_core::polling::Scope::AllSessions,
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    system.worker.wake().notify_one();
    let job = system.settled(1).await.remove(0);
    assert_eq!((job.state, job.attempts), (JobState::Failed, 1), "no retry for a polled type not listed");
}

#[tokio::test]
async fn a_ticket_created_but_its_answer_lost_is_found_again_not_created_twice() {
    let system = Pipeline::start(CREATION).await;
    let fault = json!({"method": "POST", "path": "/atservicesrest/v1.0/Tickets", "status": 500, "count": 1, "after_processing": true});
    system.http.post(format!("{}/_sim/faults", system.autotask.base_url)).json(&fault).send().await.unwrap();
    system
        .appliance("recipients", json!({"url": system.intake_url, "events": ["support_conference_member_added"]}))
        .await;
    let lsid = live_session(&system, "", "miguel.ortega@dynamo.example", json!([{"username": "alex.morgan"}])).await;
    let job = system.settled(1).await.remove(0);
    assert_eq!((job.state, job.attempts), (JobState::Done, 2), "{job:#?}");
    assert_eq!(created_tickets(&system, &lsid).await.len(), 1, "found by its marker, not created again");
}

/// Many reps run the tray app at once: each app's worker (the desktop service, as the app runs
/// it) writes only the sessions whose primary rep is its rep, and a rep whose profile has the
/// embedded worker off writes nothing — so every session is written exactly once.
#[tokio::test(flavor = "multi_thread")]
async fn two_reps_app_workers_write_every_session_exactly_once() {
    use bta_core::service::{Mode, Service};
    let stands = bta_e2e::Stands::start().await;
    let mut apps = Vec::new();
    for (rep, embedded) in [("alex.morgan", true), ("sam.lee", true), ("jordan.kim", false)] {
        let config = stands.desk_config(&format!("rep_username = \"{rep}\"\nembedded_worker = {embedded}"));
        let dir = tempfile::tempdir().unwrap();
        let store = AsyncStore::new(Store::open(&dir.path().join("app.sqlite3")).unwrap());
        let service = Service::start(&config, store.clone(), Mode::Desktop).unwrap();
        apps.push((rep, store, service, dir));
    }
    let mut sessions = Vec::new();
    for (i, rep) in ["alex.morgan", "sam.lee", "jordan.kim"].iter().cycle().take(12).enumerate() {
        let mut s = scenario(&(7201 + i as i64).to_string());
        s["reps"] = json!([{"username": rep}, {"username": "priya.patel"}]);
        let lsid = stands.appliance("sessions", s).await["lsid"].as_str().unwrap().to_owned();
        sessions.push((lsid, *rep, 7201 + i as i64));
    }
    for (_, _, service, _) in &apps {
        service.check_now();
    }
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    let notes = loop {
        let notes = stands.records("TicketNotes").await;
        let written = sessions.iter().filter(|(lsid, _, ticket)| !notes_for(&notes, *ticket, lsid).is_empty()).count();
        if written >= 8 {
            break notes;
        }
        assert!(tokio::time::Instant::now() < deadline, "only {written} of alex's and sam's 8 sessions were written");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    for (lsid, rep, ticket) in &sessions {
        let expected = usize::from(*rep != "jordan.kim");
        assert_eq!(
            notes_for(&notes, *ticket, lsid).len(),
            expected,
            "{rep}'s session {lsid}: written once, by its rep's app"
        );
    }
    for (rep, store, service, _dir) in apps {
        let jobs = store.run(|s| s.recent_jobs(100)).await.unwrap();
        let expected = if rep == "jordan.kim" { 0 } else { 4 };
        assert_eq!(jobs.len(), expected, "{rep}'s app took only {rep}'s sessions: {jobs:#?}");
        service.stop().await.unwrap();
    }
}

/// The time entries a desk's billing rules make for sessions of these lengths (seconds), as
/// (hoursWorked, hoursToBill) in the order the sessions were made.
async fn billed(rules: &str, durations: &[u64]) -> Vec<(Value, Value)> {
    let system = Pipeline::start(rules).await;
    system.appliance("recipients", json!({"url": system.intake_url, "events": ["support_conference_end"]})).await;
    let mut lsids = Vec::new();
    for (i, seconds) in durations.iter().enumerate() {
        let mut session = scenario(&(7202 + i as i64).to_string());
        session["duration"] = json!(seconds);
        lsids.push(system.appliance("sessions", session).await["lsid"].as_str().unwrap().to_owned());
    }
    system.settled(durations.len()).await;
    let entries = system.records("TimeEntries").await;
    let of = |lsid: &String| {
        let entry = entries.iter().find(|t| t["internalNotes"].as_str().is_some_and(|n| n.contains(lsid))).unwrap();
        (entry["hoursWorked"].clone(), entry["hoursToBill"].clone())
    };
    lsids.iter().map(of).collect()
}

#[tokio::test]
async fn time_entries_bill_in_quarter_hours_with_a_half_hour_minimum() {
    let desk = "time_entry_rounding_minutes = 15\ntime_entry_minimum_minutes = 30";
    let entries = billed(desk, &[10 * 60, 31 * 60, 75 * 60]).await;
    assert_eq!(
        entries,
        [(json!(0.17), json!(0.5)), (json!(0.52), json!(0.75)), (json!(1.25), json!(1.25))],
        "hours worked keep the seed's rounding; hours to bill follow the blocks and the minimum"
    );
    let both = billed(&format!("{desk}\ntime_entry_round_hours_worked = true"), &[10 * 60, 31 * 60]).await;
    assert_eq!(both, [(json!(0.5), json!(0.5)), (json!(0.75), json!(0.75))], "hours worked follow them too");
    let seed = billed("", &[902]).await;
    assert_eq!(seed, [(json!(0.26), Value::Null)], "without rules Autotask bills the hours worked (the seed)");
}

#[tokio::test]
async fn a_session_delivered_again_after_pruning_is_not_written_twice() {
    let system = Pipeline::start("").await;
    system.appliance("recipients", json!({"url": system.intake_url, "events": ["support_conference_end"]})).await;
    let lsid = system.appliance("sessions", scenario("7203")).await["lsid"].as_str().unwrap().to_owned();
    system.settled(1).await;
    // Everything up to a minute from now goes: the job, its event, the ledger.
    let pruned = system.store.prune(chrono::Utc::now() + chrono::Duration::minutes(1)).await.unwrap();
    assert!(pruned.jobs == 1 && pruned.ledger >= 2, "{pruned:?}");

    let again = format!(
        "event=support_conference_end&version=3&timestamp={}&lsid={lsid}&external_key=7203",
        chrono::Utc::now().timestamp()
    );
    let answer = system.http.post(&system.intake_url).body(again).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    let jobs = system.settled(1).await;
    assert_eq!(jobs[0].state, JobState::Done);
    assert!(jobs[0].last_error.as_deref().unwrap_or_default().contains("already there"), "{:?}", jobs[0]);
    let notes = notes_for(&system.records("TicketNotes").await, 7203, &lsid);
    let entries = system.records("TimeEntries").await;
    let timed = entries.iter().filter(|t| t["internalNotes"].as_str().is_some_and(|n| n.contains(&lsid))).count();
    assert_eq!((notes.len(), timed), (1, 1), "found by their markers, not written again");
}
