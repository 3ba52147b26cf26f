//! Time entries as real Autotask desks take them, through the worker binary against the
//! stand-in's system settings: sessions across UTC midnight, a required work type, a closed
//! timesheet, proxy time entry. (A module of the `worker` tests: one binary to build.)

use std::path::PathBuf;

use bta_e2e::{Stands, Worker, free_port};
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::{job_line, notes_of, wait_until, worker_says};

/// A worker for one "Desk" profile with `extra` settings, sessions delivered to it at once.
async fn desk(stands: &Stands, extra: &str) -> (Worker, PathBuf) {
    desk_retrying_after(stands, 200, extra).await
}

async fn desk_retrying_after(stands: &Stands, retry_ms: u64, extra: &str) -> (Worker, PathBuf) {
    let port = free_port();
    let config = stands.write_config(&format!(
        "listen = \"127.0.0.1:{port}\"\ndata_dir = \"data\"\nretry_delay_ms = {retry_ms}\nreport_lag_wait_ms = 50\n\n{}",
        stands.profile("Desk", extra)
    ));
    let worker = Worker::start(&config, port).await;
    stands.appliance("recipients", json!({"url": format!("http://127.0.0.1:{port}/ERSPost"), "retry_ms": 50})).await;
    (worker, config)
}

async fn steer(stands: &Stands, path: &str, body: Value) {
    stands.post(format!("{}/_sim/{path}", stands.autotask.base_url), body).await;
}

/// The session's time entries, oldest first.
async fn entries_of(stands: &Stands, lsid: &str) -> Vec<Value> {
    let all = stands.records("TimeEntries").await;
    all.into_iter().filter(|t| t["internalNotes"].as_str().is_some_and(|n| n.contains(lsid))).collect()
}

/// Waits until the session's end job is `state`; its `jobs` line then.
async fn job_reaches(config: &std::path::Path, lsid: &str, state: &str) -> String {
    let line = || job_line(&worker_says(&["jobs"], config), lsid, "conference_end");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let now = line();
        if now.contains(state) {
            return now;
        }
        assert!(std::time::Instant::now() < deadline, "the job did not reach {state}: {now}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

fn time(value: &Value) -> DateTime<Utc> {
    value.as_str().unwrap().parse().unwrap()
}

/// A 30-minute session of Alex's on ticket 7210 from ten minutes before the last UTC midnight.
fn across_midnight() -> Value {
    let midnight = Utc::now().date_naive().and_hms_opt(0, 0, 0).unwrap().and_utc();
    json!({"external_key": "7210", "duration": 1800, "start_time": (midnight - Duration::minutes(10)).timestamp(),
           "reps": [{"username": "alex.morgan"}], "customer": {"name": "Dana Whitfield"},
           "chat": [{"from": "rep", "text": "Hello"}]})
}

fn hours(entries: &[Value], field: &str) -> f64 {
    (entries.iter().map(|e| e[field].as_f64().unwrap_or(0.0)).sum::<f64>() * 100.0).round() / 100.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_across_utc_midnight_is_one_entry_per_day_written_once_through_a_crash() {
    let stands = Stands::start().await;
    let rules = "time_entry_rounding_minutes = 15\ntime_entry_minimum_minutes = 45\nretry_attempt_limit = 5";
    // The first entry is written but its answer lost: the worker is killed before it tries again.
    let (worker, config) = desk_retrying_after(&stands, 3000, rules).await;
    let lost = json!({"method": "POST", "path": "/atservicesrest/v1.0/TimeEntries", "status": 502, "count": 1,
                      "after_processing": true});
    stands.autotask_fault(lost).await;
    let lsid = stands.appliance("sessions", across_midnight()).await["lsid"].as_str().unwrap().to_owned();
    wait_until("the first day's entry", async || entries_of(&stands, &lsid).await.len() == 1).await;
    worker.kill_9();
    assert_eq!(entries_of(&stands, &lsid).await.len(), 1, "killed between the two writes");
    // Started again on a port of its own; the job waits in its store.
    let port = free_port();
    let text = std::fs::read_to_string(&config).unwrap();
    let (_, rest) = text.split_once('\n').unwrap();
    std::fs::write(&config, format!("listen = \"127.0.0.1:{port}\"\n{rest}")).unwrap();
    let worker = Worker::start(&config, port).await;
    job_reaches(&config, &lsid, "done").await;

    let entries = entries_of(&stands, &lsid).await;
    assert_eq!(entries.len(), 2, "one entry per UTC day, none twice: {entries:?}");
    // Each within its own UTC date by every reading: the stand-in reads the rule by the dates.
    for entry in &entries {
        let (start, end) = (time(&entry["startDateTime"]), time(&entry["endDateTime"]));
        assert_eq!(start.date_naive(), end.date_naive(), "within its UTC date: {entry}");
    }
    let midnight = time(&entries[1]["startDateTime"]);
    assert_eq!(midnight.time(), chrono::NaiveTime::MIN, "the second part starts at midnight");
    assert_eq!(time(&entries[0]["endDateTime"]), midnight - Duration::seconds(1), "the first ends at 23:59:59");
    assert_eq!(hours(&entries, "hoursWorked"), 0.5);
    assert_eq!(hours(&entries, "hoursToBill"), 0.75, "the minimum applied to the whole session, not each part");
    let marks: Vec<&str> = entries.iter().map(|e| e["internalNotes"].as_str().unwrap()).collect();
    assert!(marks[0].contains("part 1 of 2") && marks[1].contains("part 2 of 2"), "{marks:?}");
    assert_eq!(notes_of(&stands.records("TicketNotes").await, &lsid).len(), 1);
    assert!(worker.stop());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn where_autotask_allows_spans_a_session_across_midnight_is_one_entry() {
    let stands = Stands::start().await;
    steer(&stands, "settings", json!({"allowTimeEntriesToSpanMidnight": true})).await;
    let (worker, config) = desk(&stands, "time_entry_spans_midnight = true").await;
    let lsid = stands.appliance("sessions", across_midnight()).await["lsid"].as_str().unwrap().to_owned();
    job_reaches(&config, &lsid, "done").await;
    let entries = entries_of(&stands, &lsid).await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(hours(&entries, "hoursWorked"), 0.5);
    assert!(worker.stop());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_required_work_type_is_on_every_time_entry_and_created_ticket() {
    let stands = Stands::start().await;
    steer(&stands, "settings", json!({"requireWorkType": true})).await;
    let creation = "work_type = \"Remote Support\"\n\
        outbound_event_types = [\"support_session_end\", \"someone_joins_a_support_session\"]\n\
        enable_automatic_ticket_creation = true\nautomatic_ticket_creation_without_external_key = true\n\
        ticket_default_data = { companyName = \"Dynamo Corporation\", status = 1, priority = 2, queueID = 8, \
        assignedResourceRoleName = \"Technician\" }";
    let (worker, config) = desk(&stands, creation).await;
    let keyed =
        stands.appliance("sessions", json!({"external_key": "7212", "reps": [{"username": "alex.morgan"}]})).await;
    let portal = json!({"external_key": "", "reps": [{"username": "alex.morgan"}],
                        "customer": {"name": "Miguel Ortega", "issue": "VPN Access", "details": "VPN drops"}});
    let created = stands.appliance("sessions", portal).await;
    let lsids = [&keyed, &created].map(|s| s["lsid"].as_str().unwrap().to_owned());
    wait_until("both sessions written", async || {
        let jobs = worker_says(&["jobs"], &config);
        lsids.iter().all(|l| job_line(&jobs, l, "conference_end").contains("done"))
    })
    .await;
    let remote_support = 29682801;
    for lsid in &lsids {
        let entries = entries_of(&stands, lsid).await;
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0]["billingCodeID"], remote_support, "{lsid}: {entries:?}");
    }
    let tickets = stands.records("Tickets").await;
    let made = tickets.iter().find(|t| t["description"].as_str().is_some_and(|d| d.contains(&lsids[1]))).unwrap();
    assert_eq!(made["billingCodeID"], remote_support);
    let alex = bta_sim::autotask::FIRST_REP_RESOURCE_ID;
    assert_eq!(made["assignedResourceID"], alex, "a role without a resource: the session's rep");

    // A work type Autotask does not have: `check` says which it has.
    let wrong = std::fs::read_to_string(&config).unwrap().replace("\"Remote Support\"", "\"Remote\"");
    let checked = stands.write_config(&wrong);
    let out = worker_says_out(&checked);
    assert!(out.contains("no active work type named \"Remote\""), "{out}");
    assert!(
        out.contains("set work_type to one of: ") && out.contains("Remote Support") && out.contains("Onsite"),
        "{out}"
    );
    assert!(!out.contains("Training") && !out.contains("Legacy Remote"), "only active work types: {out}");
    assert!(out.contains("✓ the API user's security level may create time entries for every resource"), "{out}");
    assert!(out.contains("Proxy Time Entry") && out.contains("could not be checked"), "{out}");
    assert!(worker.stop());
}

/// `check`'s standard output whether or not it passed.
fn worker_says_out(config: &std::path::Path) -> String {
    let output = std::process::Command::new(bta_e2e::worker_binary())
        .args(["check", "--config"])
        .arg(config)
        .envs(bta_e2e::secret_env())
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_refused_for_a_closed_timesheet_is_kept_and_written_once_after_it_reopens() {
    let stands = Stands::start().await;
    let alex = bta_sim::autotask::FIRST_REP_RESOURCE_ID;
    let today = Utc::now().date_naive();
    steer(&stands, "timesheets", json!({"resourceID": alex, "date": today, "status": "Submitted"})).await;
    let (worker, config) = desk(&stands, "").await;
    let session = json!({"external_key": "7214", "duration": 900, "reps": [{"username": "alex.morgan"}],
                         "customer": {"name": "Dana Whitfield", "company": "Contoso Ltd"}});
    let lsid = stands.appliance("sessions", session).await["lsid"].as_str().unwrap().to_owned();
    let line = job_reaches(&config, &lsid, "failed").await;
    assert!(line.contains("status of New or Rejected") && line.contains("reopen the rep's timesheet"), "{line}");
    assert_eq!(notes_of(&stands.records("TicketNotes").await, &lsid).len(), 1, "the note is written");
    assert!(entries_of(&stands, &lsid).await.is_empty());
    let listed = worker_says(&["unlinked"], &config);
    assert!(listed.contains(&lsid) && listed.contains("its time is not in Autotask"), "{listed}");
    assert!(listed.contains(&format!("Retry: bt-autotask-worker attach {lsid} 7214")), "{listed}");

    // The timesheet reopened (rejected back to the rep), the time retried on its ticket: written once.
    steer(&stands, "timesheets", json!({"resourceID": alex, "date": today, "status": "Rejected"})).await;
    let said = worker_says(&["attach", &lsid, "7214"], &config);
    assert!(said.contains("7214"), "{said}");
    wait_until("the time written", async || entries_of(&stands, &lsid).await.len() == 1).await;
    job_reaches(&config, &lsid, "done").await;
    assert_eq!(notes_of(&stands.records("TicketNotes").await, &lsid).len(), 1, "the note not written again");
    assert_eq!(entries_of(&stands, &lsid).await.len(), 1);
    assert!(!worker_says(&["unlinked"], &config).contains(&lsid), "off the list");
    assert!(worker.stop());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_for_proxy_time_entry_names_the_setting_and_the_security_level() {
    let stands = Stands::start().await;
    // The rep cannot be impersonated, so the API user enters their time: a proxy entry.
    let alex = bta_sim::autotask::FIRST_REP_RESOURCE_ID;
    steer(&stands, "settings", json!({"apiUserIsAdministrator": false, "impersonationRefusedFor": [alex]})).await;
    let (worker, config) = desk(&stands, "").await;
    let session = json!({"external_key": "7215", "reps": [{"username": "alex.morgan"}]});
    let lsid = stands.appliance("sessions", session).await["lsid"].as_str().unwrap().to_owned();
    let line = job_reaches(&config, &lsid, "failed").await;
    assert!(
        line.contains("Proxy Time Entry system setting is \"Enabled for timesheet approvers and Administrators\"")
            && line.contains("security level is an administrator's"),
        "{line}"
    );
    // `check` finds it ahead of time from what the API shows of the API user's security level.
    let out = worker_says_out(&config);
    assert!(out.contains("✗ the API user's security level may create time entries only under conditions"), "{out}");
    assert!(worker.stop());
}

/// The worker's Activity, each line's summary and details, newest first (read from its store
/// while it runs).
fn activity(config: &std::path::Path) -> Vec<String> {
    let store = bta_core::store::Store::open(&config.with_file_name("data/worker.sqlite3")).unwrap();
    let lines = store.recent_activity(50).unwrap().into_iter();
    lines.map(|a| format!("{} — {}", a.summary, a.details.unwrap_or_default())).collect()
}

/// The statuses of POSTs to paths ending in `path`, in order.
async fn posts(stands: &Stands, path: &str) -> Vec<u64> {
    let requests = stands.get(format!("{}/_sim/requests", stands.autotask.base_url)).await;
    let of = |r: &&Value| r["method"] == "POST" && r["path"].as_str().is_some_and(|p| p.ends_with(path));
    requests.as_array().unwrap().iter().filter(of).map(|r| r["status"].as_u64().unwrap()).collect()
}

const ALEX: i64 = bta_sim::autotask::FIRST_REP_RESOURCE_ID;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reps_note_time_and_recordings_are_theirs_in_autotask_with_proxy_time_entry_off() {
    let stands = Stands::start().await;
    // Only a resource itself may enter its time: the API user's own entry would be refused.
    steer(&stands, "settings", json!({"proxyTimeEntry": "disabled"})).await;
    let (worker, config) = desk(&stands, "").await;
    let session = json!({"external_key": "7213", "reps": [{"username": "alex.morgan"}], "recording": true,
                         "shell_recordings": ["PowerShell"], "customer": {"name": "Dana Whitfield"}});
    let lsid = stands.appliance("sessions", session).await["lsid"].as_str().unwrap().to_owned();
    job_reaches(&config, &lsid, "done").await;

    let notes = stands.records("TicketNotes").await;
    let note = notes_of(&notes, &lsid);
    assert_eq!(note.len(), 1);
    assert_eq!(note[0]["creatorResourceID"], ALEX, "Alex's note in the ticket's history");
    assert_eq!(note[0]["impersonatorCreatorResourceID"], bta_sim::autotask::API_RESOURCE_ID);
    let text = note[0]["description"].as_str().unwrap();
    let recording = format!(
        "Screen recording: https://support.example.com/session_download?lsid={lsid}&dl_action=recording&view=1"
    );
    assert!(text.contains(&recording), "{text}");
    assert!(text.contains("Command shell PowerShell: https://support.example.com/session_download?lsid="), "{text}");
    assert!(!text.starts_with("Written by the API user"), "{text}");

    let entries = entries_of(&stands, &lsid).await;
    assert_eq!(entries.len(), 1);
    assert_eq!((entries[0]["resourceID"].as_i64(), entries[0]["creatorUserID"].as_i64()), (Some(ALEX), Some(ALEX)));
    assert_eq!(entries[0]["roleID"], bta_sim::autotask::SAMPLE_ROLE_ID, "roleName: 7213 is not Alex's ticket");
    assert!(activity(&config).iter().all(|a| !a.contains("API user")), "{:?}", activity(&config));
    assert!(worker.stop());

    // A desk that keeps recordings out of its notes.
    let (worker, config) = desk(&stands, "recording_links_in_note = false").await;
    let session = json!({"external_key": "7213", "reps": [{"username": "alex.morgan"}], "recording": true});
    let lsid = stands.appliance("sessions", session).await["lsid"].as_str().unwrap().to_owned();
    job_reaches(&config, &lsid, "done").await;
    let notes = stands.records("TicketNotes").await;
    let text = notes_of(&notes, &lsid)[0]["description"].as_str().unwrap().to_owned();
    assert!(!text.contains("recording") && text.contains("dl_action=chat"), "{text}");
    assert!(worker.stop());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rep_autotask_will_not_let_the_api_user_write_as_is_written_for_once_and_said() {
    let stands = Stands::start().await;
    steer(&stands, "settings", json!({"impersonationRefusedFor": [ALEX]})).await;
    let (worker, config) = desk(&stands, "").await;
    let session = json!({"external_key": "7213", "reps": [{"username": "alex.morgan"}]});
    let first = stands.appliance("sessions", session.clone()).await["lsid"].as_str().unwrap().to_owned();
    job_reaches(&config, &first, "done").await;
    let second = stands.appliance("sessions", session).await["lsid"].as_str().unwrap().to_owned();
    job_reaches(&config, &second, "done").await;

    let notes = stands.records("TicketNotes").await;
    for lsid in [&first, &second] {
        let note = notes_of(&notes, lsid);
        assert_eq!(note.len(), 1, "written once");
        assert_eq!(note[0]["creatorResourceID"], bta_sim::autotask::API_RESOURCE_ID);
        let text = note[0]["description"].as_str().unwrap();
        assert!(text.starts_with("Written by the API user for alex.morgan@example.com"), "{text}");
        let entries = entries_of(&stands, lsid).await;
        assert_eq!(entries.len(), 1, "the time too, as a proxy entry");
        assert_eq!(entries[0]["resourceID"], ALEX);
    }
    // Refused once; the refusal remembered, the second session is written as the API user at once.
    assert_eq!(posts(&stands, "/Tickets/7213/Notes").await, [500, 200, 200]);
    assert_eq!(posts(&stands, "/TimeEntries").await, [200, 200]);
    let said = activity(&config);
    let for_alex = said.iter().filter(|a| a.contains("as the API user for alex.morgan@example.com")).count();
    assert!(for_alex >= 2 && said.iter().any(|a| a.contains("Allow impersonation of resources")), "{said:?}");
    // `check` names the rep and what to change in Autotask.
    let out = worker_says_out(&config);
    assert!(out.contains("✗ Autotask did not let the API user write as alex.morgan@example.com this week"), "{out}");
    assert!(out.contains("tick \"Allow impersonation of resources with this security level\""), "{out}");
    assert!(worker.stop());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_is_filed_under_a_role_autotask_accepts_for_the_rep() {
    let stands = Stands::start().await;
    // Pat holds no "Sample Role": Engineer is their default service desk role.
    let rep = json!([{"email": "pat.doe@example.com", "userName": "pat.doe", "firstName": "Pat", "lastName": "Doe",
                      "isActive": true}]);
    let base = &stands.autotask.base_url;
    let pat = stands.post(format!("{base}/_sim/records/Resources"), rep).await["firstId"].as_i64().unwrap();
    let engineer = 29683463;
    let held = json!([{"resourceID": pat, "roleID": engineer, "isActive": true}]);
    stands.post(format!("{base}/_sim/records/ResourceRoles"), held).await;
    let default = json!([{"resourceID": pat, "roleID": engineer, "isDefault": true, "isActive": true}]);
    stands.post(format!("{base}/_sim/records/ResourceServiceDeskRoles"), default).await;
    let (worker, config) = desk(&stands, "").await;

    // 7201 is Alex's as a Technician: the ticket's role, not roleName.
    let mine =
        stands.appliance("sessions", json!({"external_key": "7201", "reps": [{"username": "alex.morgan"}]})).await;
    let pats = stands.appliance("sessions", json!({"external_key": "7213", "reps": [{"username": "pat.doe"}]})).await;
    let [mine, pats] = [mine, pats].map(|s| s["lsid"].as_str().unwrap().to_owned());
    job_reaches(&config, &mine, "done").await;
    job_reaches(&config, &pats, "done").await;
    let technician = 29683462;
    let alexs = entries_of(&stands, &mine).await;
    assert_eq!((alexs.len(), alexs[0]["roleID"].as_i64()), (1, Some(technician)), "{alexs:?}");
    let pat_entries = entries_of(&stands, &pats).await;
    assert_eq!((pat_entries.len(), pat_entries[0]["roleID"].as_i64()), (1, Some(engineer)), "{pat_entries:?}");
    let said = activity(&config);
    assert!(said.iter().any(|a| a.contains("time entry as \"Technician\" (the rep's role on the ticket)")), "{said:?}");
    assert!(
        said.iter().any(|a| a.contains("time entry as \"Engineer\" (the rep's default service desk role)")),
        "{said:?}"
    );
    assert!(worker.stop());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_part_of_a_split_session_keeps_the_other_parts_time() {
    let stands = Stands::start().await;
    let (worker, config) = desk(&stands, "retry_attempt_limit = 1").await;
    let refused = json!({"method": "POST", "path": "/atservicesrest/v1.0/TimeEntries", "status": 500, "count": 1,
                         "errors": ["The time entry spans midnight (UTC)."]});
    stands.autotask_fault(refused).await;
    let lsid = stands.appliance("sessions", across_midnight()).await["lsid"].as_str().unwrap().to_owned();
    let line = job_reaches(&config, &lsid, "failed").await;
    assert!(line.contains("already within one UTC date"), "{line}");
    assert!(
        !line.contains("turn \"One entry across UTC midnight\""),
        "advice not to change what is already so: {line}"
    );
    let entries = entries_of(&stands, &lsid).await;
    assert_eq!(entries.len(), 1, "the second day's time written: {entries:?}");
    assert!(entries[0]["internalNotes"].as_str().unwrap().contains("part 2 of 2"));

    // Retried: only the refused part is written.
    let id = line.split_whitespace().next().unwrap().to_owned();
    worker_says(&["retry", &id], &config);
    job_reaches(&config, &lsid, "done").await;
    assert_eq!(entries_of(&stands, &lsid).await.len(), 2);
    assert!(worker.stop());
}

/// The statuses of requests with `method` to paths ending in `path`, in order.
async fn requests(stands: &Stands, method: &str, path: &str) -> Vec<u64> {
    let all = stands.get(format!("{}/_sim/requests", stands.autotask.base_url)).await;
    let of = |r: &&Value| r["method"] == method && r["path"].as_str().is_some_and(|p| p.ends_with(path));
    all.as_array().unwrap().iter().filter(of).map(|r| r["status"].as_u64().unwrap()).collect()
}

async fn ticket(stands: &Stands, id: i64) -> Value {
    stands.records("Tickets").await.into_iter().find(|t| t["id"] == id).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_end_moves_the_tickets_status_once_and_never_reopens_a_completed_one() {
    let stands = Stands::start().await;
    let (in_progress, complete, waiting_customer) = (8, 5, 7);
    assert_eq!(ticket(&stands, 7202).await["status"], in_progress);
    assert_eq!(ticket(&stands, 7209).await["status"], complete);
    let settings = "status_on_session_end = \"Waiting Customer\"\nassign_unassigned_ticket = true";
    let (worker, config) = desk_retrying_after(&stands, 3000, settings).await;
    // The status update fails until the worker is killed: after the note and the time entry.
    let down = json!({"method": "PATCH", "path": "/atservicesrest/v1.0/Tickets", "status": 503, "count": 100});
    stands.autotask_fault(down).await;
    let alex = json!([{"username": "alex.morgan"}]);
    let lsid = stands.appliance("sessions", json!({"external_key": "7202", "reps": alex})).await["lsid"]
        .as_str()
        .unwrap()
        .to_owned();
    wait_until("the status update tried", async || !requests(&stands, "PATCH", "/Tickets").await.is_empty()).await;
    worker.kill_9();
    assert_eq!(notes_of(&stands.records("TicketNotes").await, &lsid).len(), 1, "the note before the kill");
    assert_eq!(ticket(&stands, 7202).await["status"], in_progress);
    stands.delete(format!("{}/_sim/faults", stands.autotask.base_url)).await;

    let port = free_port();
    let text = std::fs::read_to_string(&config).unwrap();
    let (_, rest) = text.split_once('\n').unwrap();
    std::fs::write(&config, format!("listen = \"127.0.0.1:{port}\"\n{rest}")).unwrap();
    let worker = Worker::start(&config, port).await;
    stands.appliance("recipients", json!({"url": format!("http://127.0.0.1:{port}/ERSPost"), "retry_ms": 50})).await;
    job_reaches(&config, &lsid, "done").await;
    assert_eq!(ticket(&stands, 7202).await["status"], waiting_customer);
    let patched: Vec<u64> = requests(&stands, "PATCH", "/Tickets").await.into_iter().filter(|s| *s == 200).collect();
    assert_eq!(patched, [200], "one status update");
    assert_eq!(notes_of(&stands.records("TicketNotes").await, &lsid).len(), 1, "the note not written again");
    assert_eq!(entries_of(&stands, &lsid).await.len(), 1, "the time not written again");

    // A completed ticket stays completed; a ticket without a resource is assigned to the rep.
    let done = stands.appliance("sessions", json!({"external_key": "7209", "reps": alex})).await;
    let open = json!([{"id": 7300, "ticketNumber": "T20261207.0001", "title": "Printer offline", "status": 1,
                       "priority": 2, "companyID": 174, "queueID": 8, "dueDateTime": "2026-12-10T00:00:00Z"}]);
    stands.post(format!("{}/_sim/records/Tickets", stands.autotask.base_url), open).await;
    let unassigned = stands.appliance("sessions", json!({"external_key": "7300", "reps": alex})).await;
    let [done, unassigned] = [done, unassigned].map(|s| s["lsid"].as_str().unwrap().to_owned());
    job_reaches(&config, &done, "done").await;
    job_reaches(&config, &unassigned, "done").await;
    assert_eq!(ticket(&stands, 7209).await["status"], complete, "never reopened");
    let assigned = ticket(&stands, 7300).await;
    assert_eq!((assigned["status"].as_i64(), assigned["assignedResourceID"].as_i64()), (Some(7), Some(ALEX)));
    assert_eq!(assigned["assignedResourceRoleID"], bta_sim::autotask::SAMPLE_ROLE_ID);
    let said = activity(&config);
    assert!(said.iter().any(|a| a.contains("status In Progress → Waiting Customer")), "{said:?}");
    assert!(said.iter().any(|a| a.contains("status left Complete")), "{said:?}");
    assert!(said.iter().any(|a| a.contains("assigned to alex.morgan@example.com as \"Sample Role\"")), "{said:?}");
    // A workflow rule keeps 7206's status: the update answers 200, the read-back says otherwise.
    steer(&stands, "settings", json!({"workflowKeepsStatusOf": [7206]})).await;
    let kept = stands.appliance("sessions", json!({"external_key": "7206", "reps": alex})).await;
    job_reaches(&config, kept["lsid"].as_str().unwrap(), "done").await;
    assert_eq!(ticket(&stands, 7206).await["status"], 1, "New still");
    let said = activity(&config);
    let left = "status left New by Autotask though it was set to Waiting Customer (a workflow rule may keep it)";
    assert!(said.iter().any(|a| a.contains(left)), "{said:?}");
    // `check` reads the labels against Autotask's picklist.
    let out = worker_says_out(&config);
    assert!(out.contains("✓ a session's end sets its ticket's status to \"Waiting Customer\" from New, In Progress"));
    let wrong = std::fs::read_to_string(&config).unwrap().replace("\"Waiting Customer\"", "\"Waiting on Customer\"");
    let out = worker_says_out(&stands.write_config(&wrong));
    assert!(
        out.contains("✗ Autotask has no active ticket status \"Waiting on Customer\"; use statuses it has: New,"),
        "{out}"
    );
    assert!(worker.stop());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desks_worker_takes_the_tickets_role_from_its_copy_without_asking_autotask() {
    let stands = Stands::start().await;
    let (worker, config) = desk(&stands, "desk_watch = true").await;
    let health = format!("http://127.0.0.1:{}/healthz", worker.port);
    wait_until("the desk's copy filled", async || {
        !stands.get(health.clone()).await["ticket_copies"]["Desk"]["filled_at"].is_null()
    })
    .await;
    stands.delete(format!("{}/_sim/requests", stands.autotask.base_url)).await;
    let session = json!({"external_key": "7201", "reps": [{"username": "alex.morgan"}]});
    let lsid = stands.appliance("sessions", session).await["lsid"].as_str().unwrap().to_owned();
    job_reaches(&config, &lsid, "done").await;
    let entries = entries_of(&stands, &lsid).await;
    assert_eq!(entries[0]["roleID"], 29683462, "Technician, the ticket's role: {entries:?}");
    let read = requests(&stands, "GET", "/Tickets/7201").await;
    assert!(read.is_empty(), "the ticket was not read: {read:?}");
    // The note moved the ticket's last activity on in the copy at once, not at the next look.
    let store = bta_core::store::Store::open(&config.parent().unwrap().join("data/worker.sqlite3")).unwrap();
    let copy = bta_core::gateway::copy::TicketCopy::of(&bta_core::store::AsyncStore::new(store), "Desk").unwrap();
    let copied = copy.get(7201).unwrap().unwrap();
    let active = copied.row.last_activity.unwrap();
    assert!(Utc::now() - active < Duration::minutes(1), "last activity {active}");
    assert!(worker.stop());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desks_worker_reads_its_status_update_back_from_the_webhooks_callout() {
    let stands = Stands::start().await;
    let port = free_port();
    let settings = "desk_watch = true\nstatus_on_session_end = \"Waiting Customer\"";
    let config = stands.write_config(&format!(
        "listen = \"127.0.0.1:{port}\"\ndata_dir = \"data\"\nretry_delay_ms = 200\nreport_lag_wait_ms = 50\n\
         autotask_webhooks = true\n\n{}",
        stands.profile("Desk", settings)
    ));
    let worker = Worker::start(&config, port).await;
    stands.appliance("recipients", json!({"url": format!("http://127.0.0.1:{port}/ERSPost"), "retry_ms": 50})).await;
    let health = format!("http://127.0.0.1:{port}/healthz");
    wait_until("the desk's copy filled and its webhook on", async || {
        let health = stands.get(health.clone()).await;
        !health["ticket_copies"]["Desk"]["filled_at"].is_null() && health["ticket_webhooks"]["Desk"]["active"] == true
    })
    .await;
    stands.delete(format!("{}/_sim/requests", stands.autotask.base_url)).await;
    let alex = json!([{"username": "alex.morgan"}]);
    let lsid = stands.appliance("sessions", json!({"external_key": "7202", "reps": alex})).await["lsid"]
        .as_str()
        .unwrap()
        .to_owned();
    job_reaches(&config, &lsid, "done").await;
    assert_eq!(ticket(&stands, 7202).await["status"], 7, "Waiting Customer");
    assert!(activity(&config).iter().any(|a| a.contains("status In Progress → Waiting Customer")));
    assert_eq!(requests(&stands, "PATCH", "/Tickets").await, [200]);
    let reads = requests(&stands, "GET", "/Tickets/7202").await;
    assert_eq!(reads.len(), 1, "the status before read from Autotask, the one after from the callout: {reads:?}");

    // The next session: the copy says Waiting Customer, so the ticket is left without a request.
    stands.delete(format!("{}/_sim/requests", stands.autotask.base_url)).await;
    let again = stands.appliance("sessions", json!({"external_key": "7202", "reps": alex})).await;
    job_reaches(&config, again["lsid"].as_str().unwrap(), "done").await;
    assert_eq!(requests(&stands, "GET", "/Tickets/7202").await, Vec::<u64>::new());
    assert_eq!(requests(&stands, "PATCH", "/Tickets").await, Vec::<u64>::new());
    let left = "status left Waiting Customer (not one of status_on_session_end_from)";
    assert!(activity(&config).iter().any(|a| a.contains(left)), "{:?}", activity(&config));

    // A callout that says the status stayed is settled by one read.
    steer(&stands, "settings", json!({"workflowKeepsStatusOf": [7206]})).await;
    stands.delete(format!("{}/_sim/requests", stands.autotask.base_url)).await;
    let kept = stands.appliance("sessions", json!({"external_key": "7206", "reps": alex})).await;
    job_reaches(&config, kept["lsid"].as_str().unwrap(), "done").await;
    assert_eq!(requests(&stands, "GET", "/Tickets/7206").await.len(), 2, "before, and the read-back");
    let left = "status left New by Autotask though it was set to Waiting Customer";
    assert!(activity(&config).iter().any(|a| a.contains(left)), "{:?}", activity(&config));
    assert!(worker.stop());
}
