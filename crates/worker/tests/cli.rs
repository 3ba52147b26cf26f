//! The headless binary as an admin uses it: `render` without a network, `check` against both
//! stand-ins, `run` end to end with a clean stop on SIGTERM, and secrets in a real keyring (on
//! Linux gnome-keyring, on Windows the Credential Manager). `cargo xtask test` runs them on Linux
//! and, built for Windows, under Wine.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_bt-autotask-worker");

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/tests/fixtures").join(name)
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

#[test]
fn render_prints_the_notes_of_a_report_without_any_network() {
    let output =
        Command::new(BIN).args(["render", "--report"]).arg(fixture("support_session_rs.xml")).output().unwrap();
    assert!(output.status.success(), "{}", text(&output));
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(printed.contains("=== Session c69a8e10bea9428f816cfababe9815fe — note 1 of 1"), "{printed}");
    assert!(printed.contains("Hi Dana, I'm connecting now."));
    assert!(printed.contains("[BeyondTrust session c69a8e10bea9428f816cfababe9815fe part 1 of 1]"));

    let bad = Command::new(BIN).args(["render", "--report"]).arg(fixture("exit_surveys.xml")).output().unwrap();
    assert!(!bad.status.success());
    assert!(text(&bad).contains("is not a SupportSession report"), "{}", text(&bad));
}

struct Stands {
    autotask: bta_sim::autotask::Running,
    appliance: bta_sim::beyondtrust::Running,
    dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Stands {
    async fn start() -> Stands {
        let autotask = bta_sim::autotask::spawn(
            bta_sim::autotask::Config { threshold_delay: Duration::ZERO, ..Default::default() },
            0,
        )
        .await
        .unwrap();
        let appliance =
            bta_sim::beyondtrust::spawn(bta_sim::beyondtrust::Config { demo: false, ..Default::default() }, 0)
                .await
                .unwrap();
        Stands { autotask, appliance, dir: tempfile::tempdir().unwrap() }
    }

    /// Writes a configuration; `secrets` is appended (env names or nothing for the keyring).
    fn config(&self, listen_port: u16, secrets: &str) -> PathBuf {
        let text = format!(
            "listen = \"127.0.0.1:{listen_port}\"\ndata_dir = \"data\"\n\n[[profile]]\nname = \"Desk\"\n\
             appliance_host = \"{}\"\nuse_non_tls_connections = true\nclient_id = \"{}\"\n\
             autotask_services_url = \"{}/ATServicesRest\"\nautotask_username = \"{}\"\nupdate_time_entry = true\n\
             time_entry_default_data = {{ defaultDomain = \"example.com\", roleName = \"Sample Role\", summaryNotes = \"Remote support\" }}\n{secrets}\n",
            self.appliance.host(),
            bta_sim::beyondtrust::DEFAULT_CLIENT_ID,
            self.autotask.base_url,
            bta_sim::autotask::DEFAULT_USERNAME,
        );
        let path = self.dir.path().join("worker.toml");
        std::fs::write(&path, text).unwrap();
        path
    }
}

const ENV_SECRETS: &str = "client_secret_env = \"BTA_BT_SECRET\"\nautotask_password_env = \"BTA_AT_SECRET\"\nautotask_integration_code_env = \"BTA_AT_CODE\"";

fn with_secrets<'a>(command: &'a mut Command, bt_secret: &str) -> &'a mut Command {
    command
        .env("BTA_BT_SECRET", bt_secret)
        .env("BTA_AT_SECRET", bta_sim::autotask::DEFAULT_SECRET)
        .env("BTA_AT_CODE", bta_sim::autotask::DEFAULT_INTEGRATION_CODE)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_each_connection_and_fails_on_a_bad_secret() {
    let stands = Stands::start().await;
    let config = stands.config(free_port(), ENV_SECRETS);
    let good = with_secrets(
        Command::new(BIN).args(["check", "--config"]).arg(&config),
        bta_sim::beyondtrust::DEFAULT_CLIENT_SECRET,
    )
    .output()
    .unwrap();
    let report = text(&good);
    assert!(good.status.success(), "{report}");
    for expected in [
        "✓ BeyondTrust",
        "OAuth works",
        "✓ Autotask zone",
        "requests used this hour",
        "note type 1 is \"Task Detail\"",
        "role \"Sample Role\" found",
        "all 5 active Autotask resources @example.com have a role for their time",
        "time entries: hours to bill rounded up to the next 0.01 h (the seed's rounding)",
        "notes are published as \"Internal Project Team\" (2)",
        "worker.sqlite3: not created yet (the worker makes it when it starts)",
        "All checks passed.",
    ] {
        assert!(report.contains(expected), "missing «{expected}» in:\n{report}");
    }
    assert!(!config.with_file_name("data").join("worker.sqlite3").exists(), "check creates no store");
    let bad = with_secrets(Command::new(BIN).args(["check", "--config"]).arg(&config), "wrong").output().unwrap();
    assert!(!bad.status.success());
    assert!(text(&bad).contains("BeyondTrust rejected the OAuth client"), "{}", text(&bad));
    assert!(!text(&bad).contains("wrong\n"), "the secret is not printed");
}

/// `check`'s report with the stand-ins' secrets.
fn check(config: &Path) -> (bool, String) {
    let output = with_secrets(
        Command::new(BIN).args(["check", "--config"]).arg(config),
        bta_sim::beyondtrust::DEFAULT_CLIENT_SECRET,
    )
    .output()
    .unwrap();
    (output.status.success(), text(&output))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_finds_what_autotask_would_refuse_before_a_session_ends() {
    let stands = Stands::start().await;
    // A new rep at the desk's domain, not yet given the time entry role.
    let rep = json!([{"email": "pat.doe@example.com", "userName": "pat.doe", "firstName": "Pat", "lastName": "Doe", "isActive": true}]);
    let loaded = reqwest::Client::new()
        .post(format!("{}/_sim/records/Resources", stands.autotask.base_url))
        .json(&rep)
        .send()
        .await
        .unwrap();
    assert!(loaded.status().is_success());
    let creation = "outbound_event_types = [\"support_session_end\", \"someone_joins_a_support_session\"]\n\
                    enable_automatic_ticket_creation = true\n";
    let defaults = "ticket_default_data = { companyName = \"Dynamo Corporation\", status = \"New\", priority = \"Urgent\", \
                    queueID = 99, billingCodeID = \"Remote\", colour = \"red\", assignedResourceID = 29684001 }";
    let config = stands.config(free_port(), &format!("{ENV_SECRETS}\n{creation}{defaults}"));
    let (passed, report) = check(&config);
    assert!(!passed, "{report}");
    for expected in [
        "✗ 1 of 6 active Autotask resources @example.com have no role for their time (neither \"Sample Role\" nor a default service desk role), so Autotask would refuse their time entries except on tickets assigned to them: pat.doe@example.com",
        "✗ Ticket Default Data: \"Urgent\" is not a priority in Autotask; use one of: High, Medium, Low, Critical",
        "✗ Ticket Default Data: Picklist value [99] does not exist for queueID",
        "✗ Ticket Default Data: billingCodeID takes a number, not \"Remote\"",
        "✗ Ticket Default Data: Autotask's tickets have no field colour",
        "✗ Ticket Default Data: When assigning a Resource, you must assign both a assignedResourceID and assignedResourceRoleID",
    ] {
        assert!(report.contains(expected), "missing «{expected}» in:\n{report}");
    }
    assert!(!report.contains("status"), "a status given by its label is fine:\n{report}");

    let pair = "ticket_default_data = { companyName = \"Dynamo Corporation\", status = 1, priority = 2, queueID = 8, \
                assignedResourceID = 29684001, assignedResourceRoleName = \"Engineer\" }";
    let (_, report) = check(&stands.config(free_port(), &format!("{ENV_SECRETS}\n{creation}{pair}")));
    assert!(
        report.contains("✗ Ticket Default Data: resource 29684001 does not hold the role \"Engineer\""),
        "{report}"
    );
    // A blank summaryNotes (Autotask: "TimeEntry.summaryNotes can not be blank.") stops at loading.
    let blank =
        std::fs::read_to_string(&config).unwrap().replace("summaryNotes = \"Remote support\"", "summaryNotes = \" \"");
    std::fs::write(&config, blank).unwrap();
    let (passed, report) = check(&config);
    assert!(!passed && report.contains("needs summaryNotes when update_time_entry is on"), "{report}");
    let fine = pair.replace("Engineer", "Technician");
    let (_, report) = check(&stands.config(free_port(), &format!("{ENV_SECRETS}\n{creation}{fine}")));
    assert!(
        report.contains("✓ Ticket Default Data: its fields, picklist values, company and assignment match Autotask"),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_says_an_unreachable_autotask_once() {
    let stands = Stands::start().await;
    let config = stands.config(free_port(), ENV_SECRETS);
    let closed = format!("http://127.0.0.1:{}", free_port());
    let text = std::fs::read_to_string(&config).unwrap().replace(&stands.autotask.base_url, &closed);
    std::fs::write(&config, text).unwrap();
    let (passed, report) = check(&config);
    assert!(!passed);
    let failures: Vec<&str> = report.lines().filter(|l| l.contains('✗')).collect();
    assert_eq!(failures.len(), 1, "one cause, one failure:\n{report}");
    assert!(failures[0].contains("could not be reached"), "{report}");
    assert!(report.contains("the remaining Autotask checks need the above to work"), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_writes_a_session_into_its_ticket_and_stops_cleanly() {
    let stands = Stands::start().await;
    let port = free_port();
    let config = stands.config(port, ENV_SECRETS);
    // Kept to say why, should the session not arrive (a CI machine is slow, Wine slower still).
    let log_path = stands.dir.path().join("worker.log");
    let worker = with_secrets(
        Command::new(BIN).args(["run", "--config"]).arg(&config),
        bta_sim::beyondtrust::DEFAULT_CLIENT_SECRET,
    )
    .env("RUST_LOG", "info")
    .stderr(std::fs::File::create(&log_path).unwrap())
    .spawn()
    .map(|worker| Running(Some(worker)))
    .unwrap();
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    let http = reqwest::Client::new();
    let health = format!("http://127.0.0.1:{port}/healthz");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while http.get(&health).send().await.is_err() {
        assert!(tokio::time::Instant::now() < deadline, "the worker never listened:\n{}", log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let control = |path: &str| format!("{}/_sim/{path}", stands.appliance.base_url);
    http.post(control("recipients"))
        .json(&json!({"url": format!("http://127.0.0.1:{port}/ERSPost")}))
        .send()
        .await
        .unwrap();
    let session =
        json!({"external_key": "7203", "reps": [{"username": "sam.lee"}], "chat": [{"from": "rep", "text": "Hello"}]});
    let lsid =
        http.post(control("sessions")).json(&session).send().await.unwrap().json::<Value>().await.unwrap()["lsid"]
            .as_str()
            .unwrap()
            .to_owned();
    loop {
        let records: Value =
            http.get(format!("{}/_sim/records", stands.autotask.base_url)).send().await.unwrap().json().await.unwrap();
        let notes = records["TicketNotes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["description"].as_str().unwrap_or("").contains(&lsid))
            .count();
        let entries = records["TimeEntries"].as_array().unwrap().iter().filter(|t| t["ticketID"] == 7203).count();
        assert!(notes <= 1 && entries <= 1, "written twice: {notes} notes, {entries} time entries\n{}", log());
        if notes == 1 && entries == 1 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the session never reached its ticket ({notes} notes, {entries} time entries):\n{}",
            log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The job records itself done just after its last write; `jobs` is safe beside the worker.
    loop {
        let jobs = with_secrets(Command::new(BIN).args(["jobs", "--config"]).arg(&config), "x").output().unwrap();
        if text(&jobs).contains("done") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the job never finished: {}\n{}", text(&jobs), log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop(worker);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_sent_to_a_file_carry_no_colour_codes() {
    let stands = Stands::start().await;
    let port = free_port();
    let config = stands.config(port, ENV_SECRETS);
    let log_path = stands.dir.path().join("worker.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let worker = with_secrets(
        Command::new(BIN).args(["run", "--config"]).arg(&config),
        bta_sim::beyondtrust::DEFAULT_CLIENT_SECRET,
    )
    .env("RUST_LOG", "info")
    .env_remove("NO_COLOR")
    .stderr(log)
    .spawn()
    .map(|worker| Running(Some(worker)))
    .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await.is_err() {
        assert!(tokio::time::Instant::now() < deadline, "the worker never listened");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop(worker);
    let logged = std::fs::read_to_string(&log_path).unwrap();
    assert!(logged.contains("bt-autotask-worker is running"), "{logged}");
    assert!(!logged.contains('\u{1b}'), "no ANSI escapes in a file:\n{logged:?}");
}

/// A running worker, ended when a test fails before it could stop it: left running, it would
/// hold the tests' output open (and `cargo xtask test` reading it).
struct Running(Option<std::process::Child>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut worker) = self.0.take() {
            let _ = worker.kill();
            let _ = worker.wait();
        }
    }
}

/// SIGTERM, as systemd stops it, and a clean exit.
#[cfg(unix)]
fn stop(mut running: Running) {
    let Some(mut worker) = running.0.take() else { return };
    Command::new("kill").args(["-TERM", &worker.id().to_string()]).status().unwrap();
    let status = worker.wait().unwrap();
    assert!(status.success(), "a clean stop: {status}");
}

/// A console program cannot be sent Ctrl-C from another console; on Windows the clean stop is
/// the service's (tests/windows.rs), so here the process is ended.
#[cfg(windows)]
fn stop(running: Running) {
    drop(running);
}

#[cfg(windows)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_set_into_the_credential_manager_are_used_by_check() {
    let stands = Stands::start().await;
    // A profile of this run's own, whose entries in the Credential Manager are removed at the end:
    // on a real Windows machine that is the user's own.
    let profile = format!("Desk {}", std::process::id());
    let _cleanup = CredentialsOf(profile.clone());
    let config = stands.config(free_port(), "client_secret_env = \"BTA_BT_SECRET\"");
    let renamed =
        std::fs::read_to_string(&config).unwrap().replace("name = \"Desk\"", &format!("name = \"{profile}\""));
    std::fs::write(&config, renamed).unwrap();
    for (setting, value) in [
        ("autotask_password", bta_sim::autotask::DEFAULT_SECRET),
        ("autotask_integration_code", bta_sim::autotask::DEFAULT_INTEGRATION_CODE),
    ] {
        let mut child = Command::new(BIN)
            .args(["secret", "set", &profile, setting])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), value.as_bytes()).unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{}", text(&output));
        assert!(text(&output).contains("in the OS keyring"), "{}", text(&output));
    }
    let output = Command::new(BIN)
        .args(["check", "--config"])
        .arg(&config)
        .env("BTA_BT_SECRET", bta_sim::beyondtrust::DEFAULT_CLIENT_SECRET)
        .output()
        .unwrap();
    let report = text(&output);
    assert!(output.status.success(), "{report}");
    assert!(report.contains("✓ Autotask zone") && report.contains("All checks passed."), "{report}");
    assert!(!report.contains(bta_sim::autotask::DEFAULT_SECRET), "the secret is never printed");
}

/// Removes a profile's secrets from the Credential Manager when dropped.
#[cfg(windows)]
struct CredentialsOf(String);

#[cfg(windows)]
impl Drop for CredentialsOf {
    fn drop(&mut self) {
        for setting in ["client_secret", "autotask_password", "autotask_integration_code"] {
            let key = bta_core::config::SecretRef::store_key(&self.0, setting);
            if let Ok(entry) = keyring::Entry::new(bta_core::config::KEYRING_SERVICE, &key) {
                let _ = entry.delete_credential();
            }
        }
    }
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_set_into_the_real_keyring_are_used_by_check() {
    for tool in ["dbus-run-session", "gnome-keyring-daemon"] {
        let found = Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().unwrap().status.success();
        assert!(found, "{tool} is missing; `cargo xtask setup` installs it");
    }
    let stands = Stands::start().await;
    let config = stands.config(free_port(), "client_secret_env = \"BTA_BT_SECRET\"");
    // A keyring of the test's own: its files and socket in a temporary folder, never the user's.
    // The daemon returns before it owns the Secret Service name; asked too early, D-Bus would
    // start a second one with no unlocked collection (seen under load), so wait for the name.
    let keyring = tempfile::tempdir().unwrap();
    let (data, run) = (keyring.path().join("data"), keyring.path().join("run"));
    for dir in [&data, &run] {
        std::fs::create_dir(dir).unwrap();
    }
    let script = format!(
        "set -e\n\
         printf %s keyring-password | XDG_DATA_HOME='{data}' XDG_RUNTIME_DIR='{run}' \
         gnome-keyring-daemon --replace --unlock --components=secrets >/dev/null 2>&1\n\
         for _ in $(seq 100); do\n\
           dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
             org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets | grep -q 'boolean true' && break\n\
           sleep 0.1\n\
         done\n\
         printf %s '{at_secret}' | {bin} secret set Desk autotask_password\n\
         printf '%s\\n' '{at_code}' | {bin} secret set Desk autotask_integration_code\n\
         {bin} check --config '{config}'\n",
        at_secret = bta_sim::autotask::DEFAULT_SECRET,
        at_code = bta_sim::autotask::DEFAULT_INTEGRATION_CODE,
        bin = BIN,
        config = config.display(),
        data = data.display(),
        run = run.display(),
    );
    let output = Command::new("dbus-run-session")
        .args(["--", "sh", "-c", &script])
        .env("BTA_BT_SECRET", bta_sim::beyondtrust::DEFAULT_CLIENT_SECRET)
        .output()
        .unwrap();
    let report = text(&output);
    assert!(output.status.success(), "{report}");
    assert!(report.contains("Stored autotask_password of profile 'Desk' in the OS keyring."), "{report}");
    assert!(report.contains("✓ Autotask zone") && report.contains("All checks passed."), "{report}");
    assert!(!report.contains(bta_sim::autotask::DEFAULT_SECRET), "the secret is never printed");

    let bad = Command::new(BIN).args(["secret", "set", "Desk", "password"]).stdin(Stdio::null()).output().unwrap();
    assert!(!bad.status.success());
    assert!(text(&bad).contains("'password' is not a secret setting"), "{}", text(&bad));
}

#[test]
fn livelinks_prints_the_seeds_links_for_a_profile_without_its_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("worker.toml");
    // Secrets in a keyring this server has none of: livelinks needs none, so never asks for them.
    std::fs::write(
        &config,
        "listen = \"0.0.0.0:8180\"\n[[profile]]\nname = \"Production\"\nappliance_id = \"main_site\"\nappliance_host = \"support.example.com\"\n\
         client_id = \"id\"\nautotask_services_url = \"https://webservices5.autotask.net/ATServicesRest\"\n\
         autotask_username = \"api@example.com\"\n",
    )
    .unwrap();
    let output = Command::new(BIN)
        .args(["livelinks", "--config"])
        .arg(&config)
        .args(["--profile", "Production", "--host", "middleware.example.com"])
        .output()
        .unwrap();
    let printed = text(&output);
    assert!(output.status.success(), "{printed}");
    for expected in [
        "LiveLink Name:             BeyondTrust Jump To CI",
        "Base URL:                  https://support.example.com/api/client_script.ns",
        "action=generate_session_key&session.custom.external_key=<TICKETID>",
        "https://ww5.autotask.net/Autotask/Views/ServiceDesk/ServiceDeskTicket/service_ticket.aspx?ticketID=%SESSION.CUSTOM.EXTERNAL_KEY%",
        "http://middleware.example.com:8180/ERSPost?appliance=main_site",
    ] {
        assert!(printed.contains(expected), "missing «{expected}» in:\n{printed}");
    }
    let unknown =
        Command::new(BIN).args(["livelinks", "--config"]).arg(&config).args(["--profile", "Nope"]).output().unwrap();
    assert!(!unknown.status.success());
    assert!(text(&unknown).contains("no profile is named 'Nope'; the profiles are: Production"), "{}", text(&unknown));
}
