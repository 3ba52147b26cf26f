//! The tray app end to end: the real `bt-autotask` binary, driven through its window with
//! WebDriver (tauri-driver + WebKitWebDriver) on a private Xvfb desktop with a real keyring and
//! notification server, against both stand-ins.

// It starts a private Linux desktop (Xvfb, D-Bus, dunst); WebView2 cannot be driven under Wine.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use bta_core::config::SecretRef;
use bta_e2e::desktop::Desktop;
use bta_e2e::{Stands, secret_env as secrets};
use serde_json::{Value, json};

const ALEX: &str = "rep_username = \"alex.morgan\"\nrep_email = \"alex.morgan@example.com\"\n";
const CTRL: &str = "\u{E009}";
const ENTER: &str = "\u{E007}";
const RELEASE: &str = "\u{E000}";
const ESCAPE: &str = "\u{E00C}";

/// The app's configuration: one profile for Alex on both stand-ins.
fn app_config(stands: &Stands, profile: &str) -> PathBuf {
    let text = format!("data_dir = \"data\"\nretry_delay_ms = 1000\nreport_lag_wait_ms = 300\n\n{profile}");
    stands.write_config(&text)
}

/// Alex's open tickets, as the Autotask stand-in holds them.
async fn alex_open_tickets(stands: &Stands) -> Vec<String> {
    let resources = stands.records("Resources").await;
    let alex = resources.iter().find(|r| r["email"] == "alex.morgan@example.com").unwrap()["id"].clone();
    let mut numbers: Vec<String> = stands
        .records("Tickets")
        .await
        .into_iter()
        .filter(|t| t["assignedResourceID"] == alex && t["status"] != json!(5))
        .map(|t| t["ticketNumber"].as_str().unwrap().to_owned())
        .collect();
    numbers.sort();
    numbers
}

#[tokio::test(flavor = "multi_thread")]
async fn search_makes_keys_jumps_and_opens_tickets() {
    let stands = Stands::start().await;
    let config = app_config(&stands, &stands.profile("Desk", ALEX));
    let desktop = Desktop::start(&secrets());
    let app = desktop.launch(&["--config", config.to_str().unwrap(), "--show"]).await;

    // With no panel on this 1280×800 desktop, the window opens in the bottom-right corner,
    // 8 pixels from the edges, where the tray is on most desktops.
    let (x, y, width, height) = app.client.get_window_rect().await.unwrap();
    assert_eq!((x + width, y + height), (1272, 792), "the window is at {x},{y} and {width}×{height}");

    // Empty search: my open tickets.
    app.wait_text("#results .ticket .number", |t| t.starts_with('T')).await;
    let mut mine = app.texts("#results .ticket .number").await;
    mine.sort();
    assert_eq!(mine, alex_open_tickets(&stands).await);

    // Words of the title, then a ticket number.
    app.type_into("#search", "Teams camera").await;
    app.wait_text("#results .ticket .top", |t| t.contains("Teams camera not detected")).await;
    app.type_into("#search", "T20261124.0042").await;
    app.wait_text("#results .ticket .number", |t| t == "T20261124.0042").await;
    assert_eq!(app.texts("#results .ticket").await.len(), 1);

    // Enter: a session key, shown and on the clipboard, tied to the ticket.
    app.keys("#search", ENTER).await;
    let key = app.wait_text("#key-code", |t| t.len() == 7).await;
    assert!(key.chars().all(|c| c.is_ascii_digit()), "{key}");
    desktop.eventually("the key on the clipboard", 10, |d| d.clipboard() == key).await;
    let keys = stands.get(format!("{}/_sim/session-keys", stands.appliance.base_url)).await;
    let made = keys.as_array().unwrap().iter().find(|k| k["short_key"] == json!(key)).cloned().unwrap_or(Value::Null);
    assert_eq!(made["external_key"], "7201", "the key is tied to the ticket: {keys}");
    assert!(app.wait_text("#key-url", |t| t.starts_with("http")).await.contains(&key));

    // Ctrl+J: the appliance's Jump LiveLink for the ticket's device; Ctrl+O: the ticket in Autotask.
    app.keys("#search", &format!("{CTRL}j{RELEASE}")).await;
    desktop.eventually("Jump handed to the OS opener", 10, |d| !d.opened().is_empty()).await;
    let jump = desktop.opened()[0].clone();
    assert!(jump.starts_with(&stands.appliance.base_url), "{jump}");
    assert!(jump.contains("start_pinned_client_session") && jump.contains("WS-0042"), "{jump}");
    assert!(jump.contains("7201"), "{jump}");
    app.keys("#search", &format!("{CTRL}o{RELEASE}")).await;
    desktop.eventually("Open ticket handed to the OS opener", 10, |d| d.opened().len() == 2).await;
    let open = desktop.opened()[1].clone();
    assert!(open.starts_with(&stands.autotask.base_url), "{open}");
    assert!(open.contains("Code=OpenTicketDetail") && open.contains("TicketID=7201"), "{open}");
    app.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_finished_session_shows_in_activity_and_a_failed_one_is_retried() {
    let stands = Stands::start().await;
    let config = app_config(&stands, &stands.profile("Desk", ALEX));
    let desktop = Desktop::start(&secrets());
    let app = desktop.launch(&["--config", config.to_str().unwrap(), "--show"]).await;
    app.wait_text("#worker", |t| t == "Worker running").await;

    // Autotask refuses the time entry once, as it refuses time on a submitted timesheet: the
    // session fails in those words with what to do, is notified, and its time waits under Not in
    // a ticket with Retry.
    let closed = "A TimeEntry may only be added to a timesheet with the status of New or Rejected; this resource's \
                  timesheet for the week has been submitted or approved.";
    let refuse = json!({"method": "POST", "path": "/ATServicesRest/v1.0/TimeEntries", "status": 500, "count": 1,
                        "errors": [closed]});
    stands.autotask_fault(refuse).await;
    // The key was made elsewhere (the rep console), so the worker knows the ticket by id only:
    // Activity names it by number and title all the same — once.
    let session = json!({"external_key": "7201", "duration": 600, "reps": [{"username": "alex.morgan"}],
                         "customer": {"name": "Pat Lee", "company": "Dynamo Corporation"},
                         "chat": [{"from": "rep", "text": "Restarting the print spooler."}]});
    let lsid = stands.appliance("sessions", session).await["lsid"].as_str().unwrap().to_owned();
    app.click("#tab-activity").await;
    app.click("#check-now").await;
    let failed = app.wait_text("#activity li.level-error .what", |t| t.contains("refused the time entry")).await;
    let what =
        "the session with Pat Lee (Dynamo Corporation, 10 min) to T20261124.0042 Outlook keeps asking for password";
    assert!(failed.starts_with(&format!("Could not write {what}: Autotask refused")), "{failed}");
    assert!(failed.contains("alex.morgan@example.com") && failed.contains(closed), "{failed}");
    assert!(failed.contains("reopen the rep's timesheet for that week in Autotask, then Retry"), "{failed}");
    assert_eq!(failed.matches("T20261124.0042").count() + failed.matches("7201").count(), 1, "{failed}");
    let details = app.wait_text("#activity li.level-error .details", |t| !t.is_empty()).await;
    assert!(details.contains(&format!("session {lsid}")) && details.contains("ticket id 7201"), "{details}");
    desktop
        .eventually("a failure notification in the same words", 15, |d| {
            d.notifications().contains(&format!("Could not write {what}"))
        })
        .await;
    app.wait_text("#unlinked-count", |t| t == "1").await;
    app.click("#tab-unlinked").await;
    let held = app.wait_text(&format!("#unlinked li[data-lsid='{lsid}'] .held"), |t| !t.is_empty()).await;
    assert!(held.contains("its time is not in Autotask") && held.contains(closed), "{held}");

    // The timesheet reopened, Retry there writes the time to its ticket; the note is not written again.
    app.click(&format!("#unlinked li[data-lsid='{lsid}'] button.retry")).await;
    app.wait_text("#unlinked-count", |t| t.is_empty() || t == "0").await;
    app.click("#tab-activity").await;
    let done = app.wait_text("#activity li.level-info .what", |t| t.starts_with("Wrote")).await;
    assert_eq!(done, format!("Wrote {what}"));
    let details = app.wait_text("#activity li.level-info .details", |t| !t.is_empty()).await;
    // 7201 is Alex's ticket in the Technician role: his time is filed under it, and said.
    let wrote = "a note and a time entry as \"Technician\" (the rep's role on the ticket) · ";
    assert!(details.starts_with(wrote) && details.contains("ticket id 7201"), "{details}");
    desktop
        .eventually("a success notification in the same words", 15, |d| {
            d.notifications().contains("Session written to its ticket") && d.notifications().contains(&done)
        })
        .await;

    // Exactly once: one note and one time entry for the session, however it got there.
    let notes = stands.records("TicketNotes").await;
    let written = notes.iter().filter(|n| n["description"].as_str().unwrap_or("").contains(&lsid)).count();
    assert_eq!(written, 1, "session {lsid:?}: one note");
    let entries = stands.records("TimeEntries").await;
    assert_eq!(entries.iter().filter(|e| e["ticketID"] == json!(7201)).count(), 1);
    app.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_global_shortcut_opens_the_window_on_the_search_and_is_changed_in_settings() {
    let stands = Stands::start().await;
    let config = app_config(&stands, &stands.profile("Desk", ALEX));
    let desktop = Desktop::start(&secrets());
    let app = desktop.launch(&["--config", config.to_str().unwrap(), "--show"]).await;
    app.wait_text("#worker", |t| t == "Worker running").await;
    app.click("#tab-settings").await;
    let said = app.wait_text("#shortcut-note", |t| !t.is_empty()).await;
    assert_eq!(said, "Press Ctrl+Alt+Space anywhere to search.");

    let hidden_then_pressed = async |keys: &str| {
        app.keys("#shortcut", ESCAPE).await;
        desktop.eventually("the window hidden", 10, |d| !d.window_shown("bt-autotask")).await;
        desktop.press(keys);
    };
    hidden_then_pressed("ctrl+alt+space").await;
    desktop.eventually("the window shown by the shortcut", 10, |d| d.window_shown("bt-autotask")).await;
    app.wait_text("#tab-search.active", |_| true).await;
    for _ in 0..50 {
        if app.focused().await == "search" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(app.focused().await, "search", "the search has the keyboard");

    // Keys that are no combination are refused, and nothing is written.
    app.click("#tab-settings").await;
    app.type_into("#shortcut", "Ctrl+Alt+Spacebar").await;
    app.click("#set-shortcut").await;
    let why = app.wait_text("#shortcut-note", |t| t.contains("not a key combination")).await;
    assert!(why.contains("like Ctrl+Alt+Space"), "{why}");
    assert!(!std::fs::read_to_string(&config).unwrap().contains("global_shortcut"));

    // How long the hidden window is kept: ten minutes unless changed here.
    let said = app.wait_text("#release-note", |t| !t.is_empty()).await;
    assert!(said.starts_with("Hidden 10 min, the window closes"), "{said}");
    app.type_into("#release-minutes", "25").await;
    app.click("#set-release").await;
    app.wait_text("#release-note", |t| t.starts_with("Hidden 25 min")).await;
    assert!(std::fs::read_to_string(&config).unwrap().contains("release_window_after_minutes = 25"));

    // Other keys: written to the configuration, and the old ones let go.
    app.type_into("#shortcut", "Ctrl+Shift+F9").await;
    app.click("#set-shortcut").await;
    app.wait_text("#shortcut-note", |t| t == "Press Ctrl+Shift+F9 anywhere to search.").await;
    assert!(std::fs::read_to_string(&config).unwrap().contains("global_shortcut = \"Ctrl+Shift+F9\""));
    hidden_then_pressed("ctrl+alt+space").await;
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert!(!desktop.window_shown("bt-autotask"), "the old keys no longer open the window");
    desktop.press("ctrl+shift+F9");
    desktop.eventually("the window shown by the new keys", 10, |d| d.window_shown("bt-autotask")).await;
    app.close().await;
}

/// A window hidden a while is closed with its web view — WebKit's processes exit — while the
/// worker goes on; the shortcut, a notification's click, a second start and the tray menu make it
/// anew, on the search as the rep left it (results shown without asking Autotask again) or on
/// Activity.
#[tokio::test(flavor = "multi_thread")]
async fn a_window_hidden_a_while_is_released_and_made_anew_where_it_is_wanted() {
    let stands = Stands::start().await;
    let text = format!(
        "data_dir = \"data\"\nretry_delay_ms = 1000\nreport_lag_wait_ms = 300\nrelease_window_after_minutes = 0.02\n\n{}",
        stands.profile("Desk", ALEX)
    );
    let config = stands.write_config(&text);
    let config = config.to_str().unwrap();
    let desktop = Desktop::start(&secrets());
    let app = desktop.launch(&["--config", config, "--show"]).await;
    app.wait_text("#worker", |t| t == "Worker running").await;
    app.type_into("#search", "VPN").await;
    let vpn = app.wait_text("#results .ticket .title", |t| t.contains("VPN")).await;
    let pid = bta_e2e::desktop::app_process(config).expect("the app's process");
    let web = bta_e2e::desktop::web_processes(pid);
    assert!(!web.is_empty(), "WebKit's processes run beside the window");

    // A session ends; the worker is still writing it (Autotask is slow today) when the window,
    // hidden past the release time, is released: WebKit's web process exits, the app does not.
    let session = json!({"external_key": "7201", "duration": 600, "reps": [{"username": "alex.morgan"}],
                         "customer": {"name": "Pat Lee", "company": "Dynamo Corporation"},
                         "chat": [{"from": "rep", "text": "Fixed while the window was closed."}]});
    let lsid = stands.appliance("sessions", session).await["lsid"].as_str().unwrap().to_owned();
    stands.post(format!("{}/_sim/latency", stands.autotask.base_url), json!({"ms": 2500})).await;
    app.click("#tab-activity").await;
    app.click("#check-now").await;
    app.keys("#check-now", ESCAPE).await;
    desktop
        .eventually("the window released: its web process gone", 20, |_| {
            web.iter().all(|&p| !bta_e2e::desktop::alive(p))
        })
        .await;
    assert!(bta_e2e::desktop::alive(pid), "the app lives on in the tray");
    let written = |notes: &[Value]| notes.iter().any(|n| n["description"].as_str().unwrap_or("").contains(&lsid));
    assert!(!written(&stands.records("TicketNotes").await), "not written yet when the window was released");
    desktop
        .eventually("the session written", 60, |d| d.notifications().contains("Session written to its ticket"))
        .await;
    assert!(written(&stands.records("TicketNotes").await));
    stands.post(format!("{}/_sim/latency", stands.autotask.base_url), json!({"ms": 0})).await;
    let requests = || async { stands.get(format!("{}/_sim/requests", stands.autotask.base_url)).await };
    let tickets_asked = || async {
        let log = requests().await;
        log.as_array().unwrap().iter().filter(|r| r["path"].as_str().unwrap().ends_with("Tickets/query")).count()
    };
    let asked_before = tickets_asked().await;

    // The shortcut makes it anew: the search focused, as the rep left it, not asked again.
    desktop.press("ctrl+alt+space");
    desktop.eventually("the window made anew", 20, |d| d.window_shown("bt-autotask")).await;
    app.follow_new_window().await;
    app.wait_text("#results .ticket .title", |t| t == vpn).await;
    let typed = app.client.find(fantoccini::Locator::Css("#search")).await.unwrap().prop("value").await.unwrap();
    assert_eq!(typed.as_deref(), Some("VPN"));
    assert_eq!(app.focused().await, "search");
    assert_eq!(tickets_asked().await, asked_before, "fresh results are shown from the app's memory");
    app.click("#tab-activity").await;
    let line = app.wait_text("#activity li.level-info .details", |t| t.contains(&lsid)).await;
    assert!(line.contains("ticket id 7201"), "{line}");

    // Released again; a notification's click makes it anew on what it is about.
    desktop.dismiss_notifications();
    let refuse = json!({"method": "POST", "path": "/ATServicesRest/v1.0/TimeEntries", "status": 400, "count": 1});
    stands.autotask_fault(refuse).await;
    let session = json!({"external_key": "7202", "duration": 300, "reps": [{"username": "alex.morgan"}],
                         "chat": [{"from": "rep", "text": "Refused."}]});
    stands.appliance("sessions", session).await;
    stands.post(format!("{}/_sim/latency", stands.autotask.base_url), json!({"ms": 1500})).await;
    app.click("#check-now").await;
    app.keys("#check-now", ESCAPE).await;
    let web = bta_e2e::desktop::web_processes(pid);
    assert!(!web.is_empty(), "the window made anew has its web view");
    desktop.eventually("the window released again", 20, |_| web.iter().all(|&p| !bta_e2e::desktop::alive(p))).await;
    desktop.eventually("the failure notified", 60, |d| d.notifications().contains("Could not write")).await;
    stands.post(format!("{}/_sim/latency", stands.autotask.base_url), json!({"ms": 0})).await;
    desktop.click_notification();
    desktop.eventually("the window made anew by the click", 20, |d| d.window_shown("bt-autotask")).await;
    app.follow_new_window().await;
    app.wait_text("#tab-activity.active", |_| true).await;
    app.wait_text("#activity li.level-error .what", |t| t.contains("refused the time entry")).await;

    // Released once more; starting the app again (as from the desktop's menu) makes it anew.
    let web = bta_e2e::desktop::web_processes(pid);
    app.keys("#check-now", ESCAPE).await;
    desktop.eventually("released a third time", 20, |_| web.iter().all(|&p| !bta_e2e::desktop::alive(p))).await;
    let second = std::process::Command::new(bta_e2e::desktop::app_binary())
        .args(["--config", config])
        .env("DISPLAY", &desktop.display)
        .env("DBUS_SESSION_BUS_ADDRESS", &desktop.bus)
        .status()
        .unwrap();
    assert!(second.success(), "the second start hands over to the running app and ends");
    desktop.eventually("the window made anew by a second start", 20, |d| d.window_shown("bt-autotask")).await;
    app.follow_new_window().await;
    app.wait_text("#tab-search.active", |_| true).await;

    // Released once more, hidden by Esc in the search box (which keeps its text); the tray menu's
    // Open makes it anew on the search as it was, results shown.
    let web = bta_e2e::desktop::web_processes(pid);
    app.keys("#search", ESCAPE).await;
    desktop.eventually("released a fourth time", 20, |_| web.iter().all(|&p| !bta_e2e::desktop::alive(p))).await;
    desktop.click_tray_menu(pid, "Open");
    desktop.eventually("the window made anew by the tray menu", 20, |d| d.window_shown("bt-autotask")).await;
    app.follow_new_window().await;
    app.wait_text("#results .ticket .title", |t| t == vpn).await;
    let typed = app.client.find(fantoccini::Locator::Css("#search")).await.unwrap().prop("value").await.unwrap();
    assert_eq!(typed.as_deref(), Some("VPN"), "Esc hid the window and kept the search");
    assert_eq!(app.focused().await, "search");
    app.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn settings_store_a_secret_in_the_keyring_and_test_the_connection() {
    let stands = Stands::start().await;
    // The Autotask secret is not in the environment: it must come from the keyring.
    let profile = stands.profile("Desk", ALEX).replace("autotask_password_env = \"BTA_AT_SECRET\"\n", "");
    let config = app_config(&stands, &profile);
    let desktop = Desktop::start(&secrets());
    let app = desktop.launch(&["--config", config.to_str().unwrap(), "--show"]).await;

    app.click("#tab-settings").await;
    app.wait_text("#problems", |t| t.contains("autotask_password")).await;
    app.wait_text("#field-autotask_password-state", |t| t == "not stored yet").await;
    app.wait_text("#field-client_secret-state", |t| t.contains("BTA_BT_SECRET")).await;

    let secret = bta_sim::autotask::DEFAULT_SECRET;
    app.keys("#field-autotask_password", secret).await;
    app.click("#field-autotask_password-store").await;
    app.wait_text("#settings-note", |t| t.contains("stored in the OS keyring")).await;
    app.wait_text("#field-autotask_password-state", |t| t == "stored in the OS keyring").await;
    let key = SecretRef::store_key("Desk", "autotask_password");
    assert_eq!(desktop.keyring_lookup(&key).as_deref(), Some(secret), "the secret is in the real keyring");
    let page = app.client.source().await.unwrap();
    assert!(!page.contains(secret), "the secret never comes back to the window");
    assert!(!desktop.app_log().contains(secret), "nor into the logs");

    app.click("#test").await;
    let report = app.wait_text("#check", |t| t.contains("checks passed") || t.contains("failed")).await;
    assert!(report.contains("All checks passed."), "{report}");
    assert!(report.contains("✓ Autotask"), "{report}");

    // Remove profile asks first, then takes it out of the file.
    app.click("#remove-profile").await;
    app.client.accept_alert().await.unwrap();
    app.wait_text("#settings-note", |t| t.contains("Removed")).await;
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(!text.contains("[[profile]]") && text.contains("data_dir"), "{text}");
    app.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn my_ticket_changed_in_autotask_is_notified_and_the_notification_opens_it() {
    let stands = Stands::start().await;
    let text = format!("ticket_watch_seconds = 5\n\n{}", stands.profile("Desk", ALEX));
    let config = app_config(&stands, &text);
    let desktop = Desktop::start(&secrets());
    let app = desktop.launch(&["--config", config.to_str().unwrap()]).await;

    // Someone updates one of Alex's open tickets in Autotask (again, until the app's watch has
    // had its first look and sees a change).
    let update = json!({"id": 7206, "title": "VPN drops every 10 minutes (customer called again)"});
    let mut seen = false;
    for _ in 0..5 {
        let answer = stands.autotask_api(reqwest::Method::PATCH, "Tickets").json(&update).send().await.unwrap();
        assert!(answer.status().is_success(), "{}", answer.status());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(8);
        while std::time::Instant::now() < deadline && !seen {
            seen = desktop.notifications().contains("changed in Autotask");
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        if seen {
            break;
        }
    }
    assert!(
        seen,
        "no notification of the change on D-Bus:\n{}\napp log:\n{}",
        desktop.notifications(),
        desktop.app_log()
    );
    assert!(desktop.notifications().contains("customer called again"));

    // Clicking it (dunst's default action) opens the ticket in Autotask.
    let clicked = std::process::Command::new("dunstctl")
        .arg("action")
        .arg("0")
        .env("DBUS_SESSION_BUS_ADDRESS", &desktop.bus)
        .env("DISPLAY", &desktop.display)
        .status()
        .unwrap();
    assert!(clicked.success());
    desktop.eventually("the ticket opened from the notification", 10, |d| !d.opened().is_empty()).await;
    let opened = desktop.opened()[0].clone();
    assert!(opened.contains("TicketID=7206"), "{opened}");
    app.close().await;
}

/// Sessions of mine that ended without a ticket: notified, counted on the tab, one attached to a
/// ticket found with the search — its note and time entry written there once — and gone from the
/// list; another dismissed as not billable, which Activity says.
#[tokio::test(flavor = "multi_thread")]
async fn a_session_without_a_ticket_is_notified_attached_once_and_another_dismissed() {
    let stands = Stands::start().await;
    let defaults = "ticket_default_data = { companyName = \"Dynamo Corporation\", title = \"Remote support: {{Issue}}\", defaultContactID = 30684007, status = \"New\", priority = 2, queueID = 8 }\n";
    let config = app_config(&stands, &stands.profile("Desk", &format!("{ALEX}{defaults}")));
    let desktop = Desktop::start(&secrets());
    let app = desktop.launch(&["--config", config.to_str().unwrap(), "--show"]).await;
    app.wait_text("#worker", |t| t == "Worker running").await;

    let portal = json!({"external_key": "", "duration": 1500, "reps": [{"username": "alex.morgan"}],
                        "customer": {"name": "Dana Whitfield", "company": "Contoso Ltd", "issue": "Outlook"},
                        "chat": [{"from": "rep", "text": "Outlook works again."}]});
    let billable = stands.appliance("sessions", portal.clone()).await["lsid"].as_str().unwrap().to_owned();
    let mut courtesy = portal.clone();
    courtesy["customer"]["name"] = json!("Sam Ortiz");
    let courtesy = stands.appliance("sessions", courtesy).await["lsid"].as_str().unwrap().to_owned();
    let mut walk_in = portal;
    walk_in["customer"]["name"] = json!("Lee Park");
    walk_in["customer"]["issue"] = json!("Docking station");
    let walk_in = stands.appliance("sessions", walk_in).await["lsid"].as_str().unwrap().to_owned();
    app.click("#tab-activity").await;
    app.click("#check-now").await;
    desktop
        .eventually("the not-in-a-ticket notification", 20, |d| {
            d.notifications().contains("Session with Dana Whitfield (Contoso Ltd), 25 min, is not in a ticket")
        })
        .await;
    app.wait_text("#unlinked-count", |t| t == "3").await;

    app.click("#tab-unlinked").await;
    let listed = app.wait_text(&format!("#unlinked li[data-lsid='{billable}'] .what"), |t| !t.is_empty()).await;
    assert_eq!(listed, "Dana Whitfield (Contoso Ltd, 25 min) — Outlook");
    app.click(&format!("#unlinked li[data-lsid='{billable}'] button.attach")).await;
    // Found by the customer's company, as the rep remembers the customer rather than the ticket.
    app.type_into("#attach-search", "contoso").await;
    app.wait_text("#attach-results .ticket[data-number='T20261124.0042'] .number", |t| t == "T20261124.0042").await;
    app.click("#attach-results .ticket[data-number='T20261124.0042'] button.attach-here").await;
    let said = app.wait_text("#unlinked-note", |t| t.starts_with("Writing")).await;
    let to = "T20261124.0042 Outlook keeps asking for password";
    assert_eq!(said, format!("Writing the session with Dana Whitfield (Contoso Ltd, 25 min) to {to}."));
    app.wait_text("#unlinked-count", |t| t == "2").await;

    // A new ticket, from the profile's Ticket Default Data.
    app.click(&format!("#unlinked li[data-lsid='{walk_in}'] button.new-ticket")).await;
    let said = app.wait_text("#unlinked-note", |t| t.contains("Lee Park")).await;
    assert_eq!(said, "Writing the session with Lee Park (Contoso Ltd, 25 min) to a new ticket.");
    app.wait_text("#unlinked-count", |t| t == "1").await;

    app.click(&format!("#unlinked li[data-lsid='{courtesy}'] button.dismiss")).await;
    app.wait_text("#unlinked-empty", |t| t.contains("Every session of yours is in a ticket")).await;

    // Written once, to the ticket chosen: one note and one time entry for the session.
    let entry_of = |entries: &[Value]| {
        entries
            .iter()
            .filter(|e| e["internalNotes"].as_str().unwrap_or("").contains(&billable))
            .cloned()
            .collect::<Vec<_>>()
    };
    let mut entries = Vec::new();
    for _ in 0..100 {
        entries = entry_of(&stands.records("TimeEntries").await);
        if !entries.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(entries.len(), 1, "one time entry");
    assert_eq!(entries[0]["ticketID"], json!(7201));
    let notes = stands.records("TicketNotes").await;
    let written: Vec<_> =
        notes.iter().filter(|n| n["description"].as_str().unwrap_or("").contains(&billable)).collect();
    assert_eq!(written.len(), 1, "one note");
    assert_eq!(written[0]["ticketID"], json!(7201));
    let mut made = Vec::new();
    for _ in 0..100 {
        let notes = stands.records("TicketNotes").await;
        made = notes.iter().filter(|n| n["description"].as_str().unwrap_or("").contains(&walk_in)).cloned().collect();
        if !made.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let tickets = stands.records("Tickets").await;
    let new: Vec<_> = tickets.iter().filter(|t| t["description"].as_str().unwrap_or("").contains(&walk_in)).collect();
    assert_eq!((new.len(), made.len()), (1, 1), "one new ticket, one note on it");
    assert_eq!((&new[0]["title"], &made[0]["ticketID"]), (&json!("Remote support: Docking station"), &new[0]["id"]));

    app.click("#tab-activity").await;
    let dismissed = "alex.morgan dismissed the session with Sam Ortiz (Contoso Ltd, 25 min) as not billable";
    let attached = &format!("alex.morgan attached the session with Dana Whitfield (Contoso Ltd, 25 min) to {to}");
    // Read until both show: the list is redrawn as the worker writes, and a read can span a redraw.
    let both = |lines: &[String]| [dismissed, attached].iter().all(|w| lines.iter().any(|l| l.starts_with(*w)));
    let mut lines = Vec::new();
    for _ in 0..50 {
        lines = app.texts("#activity li .what").await;
        if both(&lines) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(both(&lines), "{lines:?}");
    app.close().await;
}

/// Writes a screenshot of each view of the demo to `$BTA_SCREENSHOTS` (`cargo xtask screenshots`
/// sets it to docs/screenshots).
#[tokio::test(flavor = "multi_thread")]
#[ignore = "writes docs/screenshots; run by cargo xtask screenshots"]
async fn screenshots() {
    let out = PathBuf::from(std::env::var("BTA_SCREENSHOTS").expect("BTA_SCREENSHOTS names the folder"));
    std::fs::create_dir_all(&out).unwrap();
    // WebKitWebDriver takes screenshots from WebKit's compositor, which the app keeps off for its
    // plain page (a screenshot then never arrives); here it runs with WebKit's own defaults,
    // set explicitly so the app leaves them alone. The page looks the same either way.
    let webkit_defaults = [
        ("WEBKIT_DISABLE_COMPOSITING_MODE", "0"),
        ("WEBKIT_DISABLE_DMABUF_RENDERER", "0"),
        ("GDK_GL", ""),
        ("WEBKIT_WEB_RENDER_DEVICE_FILE", ""),
    ];
    let desktop = Desktop::start(&webkit_defaults);
    let app = desktop.launch(&["--demo"]).await;
    let shoot = |name: &'static str| {
        let (client, path) = (app.client.clone(), out.join(format!("{name}.png")));
        async move { std::fs::write(path, client.screenshot().await.unwrap()).unwrap() }
    };
    app.wait_text("#results .ticket .number", |t| t.starts_with('T')).await;
    shoot("search").await;
    app.keys("#search", ENTER).await;
    app.wait_text("#key-code", |t| t.len() == 7).await;
    shoot("session-key").await;
    app.click("#tab-activity").await;
    app.wait_text("#activity li.level-error .what", |t| !t.is_empty()).await;
    app.wait_text("#activity li.level-info .what", |t| !t.is_empty()).await;
    shoot("activity").await;
    app.click("#tab-unlinked").await;
    app.wait_text("#unlinked li .what", |t| t.contains("Pat Lee")).await;
    app.click("#unlinked li button.attach").await;
    app.wait_text("#attach-results .ticket .number", |t| t.starts_with('T')).await;
    shoot("not-in-a-ticket").await;
    app.click("#tab-settings").await;
    app.wait_text("#settings-form legend", |t| !t.is_empty()).await;
    app.click("#test").await;
    app.wait_text("#check", |t| t.contains("checks passed")).await;
    shoot("settings").await;
    app.close().await;
}

/// A rep's app enrolled by the link alone: the OS opens the app with the link the desk's
/// administrator sent, and from then on the app holds one credential — its rep token — and
/// searches (from the worker's copy of the tickets, or all of Autotask when asked), makes keys
/// and attaches sessions through the desk's worker. With the worker stopped,
/// a key opens the rep console's own dialog for the ticket, and the window says why in one line.
#[tokio::test(flavor = "multi_thread")]
async fn an_app_enrolled_by_the_link_works_through_the_desks_worker_with_only_its_token() {
    let stands = Stands::start().await;
    let port = bta_e2e::free_port();
    let worker_config = stands.config(port, "ticket_watch_seconds = 5", "desk_watch = true");
    let worker = bta_e2e::Worker::start(&worker_config, port).await;
    stands.appliance("recipients", json!({"url": format!("http://127.0.0.1:{port}/ERSPost")})).await;
    let link = alex_invited(&worker_config)["link"].as_str().unwrap().to_owned();

    // A rep's new laptop: no configuration yet; the link (clicked in a mail) opens the app on a
    // confirmation naming the desk. Nothing happens until the rep says yes.
    let config = stands.dir.path().join("app.toml");
    let desktop = Desktop::start(&secrets());
    let app = desktop.launch(&["--config", config.to_str().unwrap(), "--show", &link]).await;
    let question = app.wait_text("#enrol-question", |t| !t.is_empty()).await;
    assert_eq!(question, "Enrol this app at the desk's worker at 127.0.0.1?");
    let certificate = app.wait_text("#enrol-certificate", |t| !t.is_empty()).await;
    assert!(certificate.starts_with(&format!("http://127.0.0.1:{port}")), "{certificate}");
    app.wait_text("#enrol-following", |t| t == "This app follows no desk yet.").await;
    assert!(!displayed(&app, "#enrolled-bar").await, "no Leave bar on an app that is not enrolled");
    app.click("#enrol-no").await;
    app.wait_text("#settings-note", |t| t == "Not enrolled.").await;
    assert!(desktop.keyring_names().is_empty() && !config.exists(), "the link alone changed nothing");

    // Pasted in Settings: the same confirmation, then enrolled with the rep's yes.
    app.type_into("#enrol-text", &link).await;
    app.click("#enrol").await;
    app.wait_text("#enrol-question", |t| t.contains("127.0.0.1")).await;
    app.click("#enrol-yes").await;
    let enrolled = app.wait_text("#enrolled", |t| t.starts_with("Enrolled at")).await;
    assert_eq!(enrolled, format!("Enrolled at http://127.0.0.1:{port} as alex.morgan"));
    assert!(displayed(&app, "#enrolled-bar").await, "the Leave bar, once enrolled");
    assert_eq!(desktop.keyring_names(), ["Desk/desk_token"], "the rep token is the only secret on the laptop");
    assert!(desktop.keyring_lookup("Desk/desk_token").unwrap().starts_with("btarep_"));
    let written = std::fs::read_to_string(&config).unwrap();
    assert!(!written.contains("client_secret") && !written.contains("autotask_password"), "{written}");

    // Search and a key, through the worker.
    app.click("#tab-search").await;
    app.type_into("#search", "T20261124.0042").await;
    app.wait_text("#results .ticket .number", |t| t == "T20261124.0042").await;
    app.keys("#search", ENTER).await;
    let key = app.wait_text("#key-code", |t| t.len() == 7).await;
    let keys = stands.get(format!("{}/_sim/session-keys", stands.appliance.base_url)).await;
    let made = keys.as_array().unwrap().iter().find(|k| k["short_key"] == json!(key)).cloned().unwrap_or(Value::Null);
    assert_eq!(
        (made["queue_id"].as_str(), made["external_key"].as_str()),
        (Some("rep_username:alex.morgan"), Some("7201"))
    );

    // Words answered from the desk's copy; "Search all of Autotask" asks Autotask itself, and its
    // rows say where they came from.
    app.type_into("#search", "dynamo").await;
    app.wait_text("#results .ticket .meta", |t| t.contains("Dynamo")).await;
    assert!(app.texts("#results .ticket .asked").await.is_empty(), "from the copy");
    app.wait_text("#search-all", |t| t == "Search all of Autotask").await;
    app.click("#search-all").await;
    app.wait_text("#results .ticket .asked", |t| t == "from Autotask").await;
    app.type_into("#search", "T20261124.0042").await;
    app.wait_text("#results .ticket .number", |t| t == "T20261124.0042").await;

    // A session without a ticket, kept by the worker, attached from the app and written once.
    let portal = json!({"external_key": "", "duration": 1500, "reps": [{"username": "alex.morgan"}],
                        "customer": {"name": "Dana Whitfield", "company": "Contoso Ltd", "issue": "Outlook"},
                        "chat": [{"from": "rep", "text": "Outlook works again."}]});
    let billable = stands.appliance("sessions", portal).await["lsid"].as_str().unwrap().to_owned();
    let row = format!("#unlinked li[data-lsid='{billable}']");
    let mut listed = false;
    for _ in 0..100 {
        app.click("#tab-search").await;
        app.click("#tab-unlinked").await;
        if !app.texts(&format!("{row} .what")).await.is_empty() {
            listed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    assert!(listed, "the worker's session without a ticket never reached the app's list");
    app.click(&format!("{row} button.attach")).await;
    app.type_into("#attach-search", "T20261124.0042").await;
    app.wait_text("#attach-results .ticket[data-number='T20261124.0042'] .number", |t| t == "T20261124.0042").await;
    app.click("#attach-results .ticket[data-number='T20261124.0042'] button.attach-here").await;
    app.wait_text("#unlinked-note", |t| t.contains("desk's worker writes the session")).await;
    let mut entries = Vec::new();
    for _ in 0..100 {
        let all = stands.records("TimeEntries").await;
        entries = all.into_iter().filter(|e| e["internalNotes"].as_str().unwrap_or("").contains(&billable)).collect();
        if !entries.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!((entries.len(), &entries[0]["ticketID"]), (1, &json!(7201)), "written once, to the ticket chosen");

    // The worker stops: the key comes from the rep console's own dialog, and the window says why.
    app.click("#tab-search").await;
    app.wait_text("#results .ticket .number", |t| t == "T20261124.0042").await;
    assert!(worker.stop());
    app.keys("#search", ENTER).await;
    desktop.eventually("the rep console's Generate Session Key dialog", 15, |d| !d.opened().is_empty()).await;
    let console = desktop.opened()[0].clone();
    assert!(console.starts_with(&stands.appliance.base_url) && console.contains("7201"), "{console}");
    app.type_into("#search", "T20261124.0043").await;
    let said = app.wait_text("#search-error", |t| t.contains("cannot be reached")).await;
    assert_eq!(said.lines().count(), 1, "{said}");
    assert!(
        said.contains("still") && !said.contains("tcp connect") && !said.contains("os error"),
        "in a rep's words: {said}"
    );
    let details = app.wait_text("#search-error-details", |t| !t.is_empty()).await;
    assert!(details.starts_with("Details:") && details.contains("onnect"), "the cause on its own line: {details}");
    // Autotask cannot be reached either (the desk's worker is this app's only way there): the
    // ticket still opens by its number.
    app.wait_text("#open-number", |t| t == "Open T20261124.0043 in Autotask").await;
    app.click("#open-number").await;
    desktop
        .eventually("the ticket opened by its number", 15, |d| d.opened().iter().any(|u| u.contains("T20261124.0043")))
        .await;
    assert!(app.texts("#search-error").await.iter().all(|t| !t.contains("not allowed")), "the command is allowed");
    let token = desktop.keyring_lookup("Desk/desk_token").unwrap();
    assert!(!desktop.app_log().contains(token.trim()), "the rep token is never logged");
    assert!(!app.client.source().await.unwrap().contains(token.trim()), "nor shown to the window");

    // Leave: the profile and its token are forgotten, and the Leave bar goes with them.
    app.click("#tab-settings").await;
    app.wait_text("#enrolled", |t| t.starts_with("Enrolled at")).await;
    app.click("#leave").await;
    app.client.accept_alert().await.unwrap();
    app.wait_text("#settings-note", |t| t.starts_with("Left:")).await;
    assert!(!displayed(&app, "#enrolled-bar").await, "no Leave bar once left");
    assert!(desktop.keyring_names().is_empty(), "the token is forgotten: {:?}", desktop.keyring_names());
    assert!(!std::fs::read_to_string(&config).unwrap().contains("desk_worker_url"), "the profile is forgotten");
    app.close().await;
}

/// A laptop the desk's deployment tool installed, naming the desk (the MSI's DESK_URL and
/// DESK_PIN; here the system's `bt-autotask/desk.toml`): the rep's first start opens on enrolment
/// with the desk filled in, and the code alone enrols them — over HTTPS to a certificate of the
/// desk's own, trusted by the installation's pin.
#[tokio::test(flavor = "multi_thread")]
async fn a_rep_on_a_laptop_whose_installation_names_the_desk_enrols_with_the_code_alone() {
    let stands = Stands::start().await;
    let port = bta_e2e::free_port();
    let key = rcgen::KeyPair::generate().unwrap();
    let certificate =
        rcgen::CertificateParams::new(vec!["desk.invalid".to_owned()]).unwrap().self_signed(&key).unwrap();
    std::fs::write(stands.dir.path().join("desk.crt"), certificate.pem()).unwrap();
    std::fs::write(stands.dir.path().join("desk.key"), key.serialize_pem()).unwrap();
    let top = "ticket_watch_seconds = 5\ntls_certificate_file = \"desk.crt\"\ntls_key_file = \"desk.key\"";
    let worker_config = stands.config(port, top, "desk_watch = true");
    let _worker = bta_e2e::Worker::start(&worker_config, port).await;
    let added = alex_invited(&worker_config);
    let link = url::Url::parse(added["link"].as_str().unwrap()).unwrap();
    let pin = link.query_pairs().find(|(k, _)| k == "pin").unwrap().1.into_owned();
    let desk = format!("https://127.0.0.1:{port}");
    let system = stands.dir.path().join("xdg");
    std::fs::create_dir_all(system.join("bt-autotask")).unwrap();
    std::fs::write(system.join("bt-autotask/desk.toml"), format!("url = \"{desk}\"\npin = \"{pin}\"\n")).unwrap();

    let config = stands.dir.path().join("app.toml");
    let dirs = format!("{}:/etc/xdg", system.display());
    let mut env = secrets().to_vec();
    env.push(("XDG_CONFIG_DIRS", &dirs));
    let desktop = Desktop::start(&env);
    let app = desktop.launch(&["--config", config.to_str().unwrap()]).await;
    let said = app.wait_text("#machine-desk", |t| !t.is_empty()).await;
    assert_eq!(said, format!("This computer's desk is {desk}: type the code from your desk lead, then Enrol."));
    let filled = app.client.find(fantoccini::Locator::Css("#enrol-desk")).await.unwrap();
    assert_eq!(filled.prop("value").await.unwrap().as_deref(), Some(desk.as_str()));
    app.type_into("#enrol-text", added["code"].as_str().unwrap()).await;
    app.click("#enrol").await;
    let certificate = app.wait_text("#enrol-certificate", |t| !t.is_empty()).await;
    assert!(certificate.contains("the desk's own certificate"), "trusted by the installation's pin: {certificate}");
    app.click("#enrol-yes").await;
    let enrolled = app.wait_text("#enrolled", |t| t.starts_with("Enrolled at")).await;
    assert_eq!(enrolled, format!("Enrolled at {desk} as alex.morgan"));
    assert!(!displayed(&app, "#machine-desk").await, "said only until the rep is enrolled");
    app.close().await;
}

/// `rep add alex.morgan --json` at the desk's worker: the link and code it prints.
fn alex_invited(worker_config: &std::path::Path) -> Value {
    let added = std::process::Command::new(bta_e2e::worker_binary())
        .args(["rep", "add", "alex.morgan", "--profile", "Desk", "--json", "--config"])
        .arg(worker_config)
        .envs(secrets())
        .output()
        .unwrap();
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    serde_json::from_slice(&added.stdout).unwrap()
}

/// Whether the element is shown on the page (an element `hidden` is not, whatever its CSS).
async fn displayed(app: &bta_e2e::desktop::App, css: &str) -> bool {
    let element = app.client.find(fantoccini::Locator::Css(css)).await.unwrap();
    element.is_displayed().await.unwrap()
}
