//! The Windows build as a desk and a rep on Windows meet it, run under Wine against the
//! stand-ins running natively on this machine: `bt-autotask-worker.exe` receives the appliance's
//! outbound events and writes each session once, checks and renders, keeps its secrets in the
//! Windows Credential Manager and its files in Windows' own folders, and runs as a Windows
//! service; the installer puts the tray app where the README says and its uninstaller keeps the
//! rep's settings. WebView2 cannot run under Wine, so the app's window is not opened here.
//!
//! `cargo xtask test` builds the Windows programs and the installer, prepares a Wine prefix of its
//! own and runs these with `--ignored`; they need what it sets up, so a plain `cargo test` skips them.
//! It also keeps a Wine session open while they run (Wine would otherwise end the service with
//! the last program, and start its own background programs holding a test's output pipes).

#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use bta_e2e::{Stands, free_port, secret_env};
use serde_json::{Value, json};

const NEEDS_WINE: &str = "needs the Windows build and Wine: cargo xtask test runs it";

/// Wine and the Windows build, as `cargo xtask test` prepared them.
struct Windows {
    wine: PathBuf,
    bin_dir: PathBuf,
    drive_c: PathBuf,
}

impl Windows {
    fn get() -> Windows {
        let var = |name: &str| {
            std::env::var_os(name).map(PathBuf::from).unwrap_or_else(|| panic!("{name} is not set; {NEEDS_WINE}"))
        };
        Windows {
            wine: var("BTA_WINE"),
            bin_dir: var("BTA_WINDOWS_BIN_DIR"),
            drive_c: var("WINEPREFIX").join("drive_c"),
        }
    }

    /// A Windows program under Wine.
    fn program(&self, exe: &Path) -> Command {
        let mut command = Command::new(&self.wine);
        command.arg(exe).env("RUST_BACKTRACE", "0");
        command
    }

    fn worker(&self) -> Command {
        self.program(&self.bin_dir.join("bt-autotask-worker.exe"))
    }

    /// The Wine user's profile folder (`C:\users\<name>`).
    fn user_dir(&self) -> PathBuf {
        std::fs::read_dir(self.drive_c.join("users"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.file_name().is_some_and(|n| n != "Public") && p.join("AppData").is_dir())
            .expect("the Wine prefix has a user profile")
    }
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// Runs a command to its end, with `input` on its standard input.
fn run_with_input(command: &mut Command, input: &str) -> Output {
    let mut child = command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), input.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn succeeds(command: &mut Command) -> String {
    let output = command.output().unwrap();
    assert!(output.status.success(), "{command:?} failed:\n{}", text(&output));
    text(&output)
}

async fn eventually<F: AsyncFnMut() -> bool>(what: &str, mut done: F) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn listening(stands: &Stands, port: u16) {
    let url = format!("http://127.0.0.1:{port}/healthz");
    eventually("the worker to answer /healthz", async || stands.http.get(&url).send().await.is_ok()).await;
}

/// Notes and time entries the stand-in holds for a session and its ticket.
async fn written(stands: &Stands, lsid: &str, ticket: i64) -> (usize, usize) {
    let notes = stands.records("TicketNotes").await;
    let entries = stands.records("TimeEntries").await;
    let has_lsid = |n: &&Value| n["description"].as_str().is_some_and(|d| d.contains(lsid));
    (notes.iter().filter(has_lsid).count(), entries.iter().filter(|t| t["ticketID"] == ticket).count())
}

/// Ends a session at the appliance stand-in, whose outbound events go to the worker on `port`.
async fn end_session(stands: &Stands, port: u16, ticket: i64) -> String {
    stands.appliance("recipients", json!({"url": format!("http://127.0.0.1:{port}/ERSPost"), "retry_ms": 100})).await;
    let session = json!({"external_key": ticket.to_string(), "duration": 900, "reps": [{"username": "sam.lee"}],
                         "chat": [{"from": "rep", "text": "Hello from Windows"}]});
    stands.appliance("sessions", session).await["lsid"].as_str().unwrap().to_owned()
}

/// A profile reading every secret from the OS keyring (no `_env` names). The tests share a Wine
/// prefix, and so its Credential Manager: each names its profile for itself.
fn keyring_config(stands: &Stands, port: u16, profile: &str) -> PathBuf {
    let profile: Vec<String> =
        stands.profile(profile, "").lines().filter(|l| !l.contains("_env =")).map(str::to_owned).collect();
    stands.write_config(&format!(
        "listen = \"127.0.0.1:{port}\"\ndata_dir = \"data\"\nretry_delay_ms = 100\n\n{}",
        profile.join("\n")
    ))
}

/// `secret set` of a profile's three secrets, as an administrator types them.
fn store_secrets(windows: &Windows, profile: &str) {
    for (setting, (_, value)) in
        ["client_secret", "autotask_password", "autotask_integration_code"].iter().zip(secret_env())
    {
        let output = run_with_input(windows.worker().args(["secret", "set", profile, setting]), value);
        assert!(output.status.success(), "{}", text(&output));
        assert!(text(&output).contains("in the OS keyring"), "{}", text(&output));
    }
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the Windows build and Wine: cargo xtask test runs it"]
async fn wine_worker_writes_each_delivered_session_once() {
    let windows = Windows::get();
    let stands = Stands::start().await;
    let port = free_port();
    let config = stands.config(port, "retry_delay_ms = 100", "");
    let log = std::fs::File::create(stands.dir.path().join("worker.log")).unwrap();
    let child = windows.worker().args(["run", "--config"]).arg(&config).envs(secret_env()).stderr(log).spawn().unwrap();
    let _worker = Running(child);
    listening(&stands, port).await;

    let lsid = end_session(&stands, port, 7203).await;
    eventually("the note and the time entry", async || written(&stands, &lsid, 7203).await == (1, 1)).await;
    // The appliance sends an event again when it missed the 200: still one of each.
    let end = format!("event=support_conference_end&version=3&timestamp=1795515302&lsid={lsid}&external_key=7203");
    for _ in 0..2 {
        let url = format!("http://127.0.0.1:{port}/ERSPost");
        assert_eq!(stands.http.post(url).body(end.clone()).send().await.unwrap().status(), 200);
    }
    let jobs = succeeds(windows.worker().args(["jobs", "--config"]).arg(&config));
    assert!(jobs.contains("done") && jobs.contains(&lsid), "{jobs}");
    assert_eq!(written(&stands, &lsid, 7203).await, (1, 1), "a repeated delivery writes nothing more");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the Windows build and Wine: cargo xtask test runs it"]
async fn wine_worker_renders_checks_and_keeps_secrets_in_the_credential_manager() {
    let windows = Windows::get();
    let report = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/core/tests/fixtures/support_session_rs.xml");
    let notes = succeeds(windows.worker().args(["render", "--report"]).arg(&report));
    assert!(notes.contains("[BeyondTrust session c69a8e10bea9428f816cfababe9815fe part 1 of 1]"), "{notes}");

    let stands = Stands::start().await;
    // A profile new to the prefix's Credential Manager, which outlives the run.
    let profile = format!("Checked {}", std::process::id());
    let config = keyring_config(&stands, free_port(), &profile);
    let missing = windows.worker().args(["check", "--config"]).arg(&config).output().unwrap();
    assert!(!missing.status.success(), "no secrets yet: {}", text(&missing));
    store_secrets(&windows, &profile);
    let checked = succeeds(windows.worker().args(["check", "--config"]).arg(&config));
    assert!(checked.contains("✓ Autotask zone") && checked.contains("All checks passed."), "{checked}");
    for (_, secret) in secret_env() {
        assert!(!checked.contains(secret), "a secret is never printed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the Windows build and Wine: cargo xtask test runs it"]
async fn wine_worker_keeps_its_files_in_windows_own_folders() {
    let windows = Windows::get();
    let folder = windows.drive_c.join("ProgramData/bt-autotask");
    let _ = std::fs::remove_dir_all(&folder);
    let none = windows.worker().arg("jobs").output().unwrap();
    assert!(!none.status.success());
    assert!(text(&none).contains(r"C:\ProgramData\bt-autotask\worker.toml"), "{}", text(&none));

    let stands = Stands::start().await;
    let text_of = |path: &Path| std::fs::read_to_string(path).unwrap().replace("data_dir = \"data\"\n", "");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("worker.toml"), text_of(&stands.config(free_port(), "", ""))).unwrap();
    succeeds(windows.worker().arg("jobs"));
    assert!(folder.join("worker.sqlite3").is_file(), "the store is in %ProgramData%\\bt-autotask");
    std::fs::remove_dir_all(&folder).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the Windows build and Wine: cargo xtask test runs it"]
async fn wine_service_runs_the_worker_and_stops_cleanly() {
    let windows = Windows::get();
    let stands = Stands::start().await;
    let port = free_port();
    let config = keyring_config(&stands, port, "Service");
    store_secrets(&windows, "Service");
    // A service left over from an interrupted run would make install fail.
    let _ = windows.worker().args(["service", "uninstall"]).output();

    let installed = succeeds(windows.worker().args(["service", "install", "--config"]).arg(&config));
    assert!(installed.contains("Installed the service 'bt-autotask-worker'"), "{installed}");
    let again = windows.worker().args(["service", "install", "--config"]).arg(&config).output().unwrap();
    assert!(text(&again).contains("it is installed already"), "{}", text(&again));
    assert!(succeeds(windows.worker().args(["service", "start"])).contains("is running"));
    listening(&stands, port).await;
    let lsid = end_session(&stands, port, 7204).await;
    eventually("the service to write the session", async || written(&stands, &lsid, 7204).await == (1, 1)).await;

    assert!(succeeds(windows.worker().args(["service", "stop"])).contains("has stopped"));
    assert!(succeeds(windows.worker().args(["service", "stop"])).contains("is not running"));
    let logs = stands.dir.path().join("data/logs");
    let log = std::fs::read_dir(&logs)
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect::<String>();
    assert!(log.contains("asked the worker to stop") && log.contains("finishing the jobs in flight"), "{log}");
    assert!(log.trim_end().ends_with("stopped"), "a clean stop, last in its log:\n{log}");
    assert!(stands.http.get(format!("http://127.0.0.1:{port}/healthz")).send().await.is_err(), "no longer listening");

    assert!(succeeds(windows.worker().args(["service", "uninstall"])).contains("Removed the service"));
    let gone = windows.worker().args(["service", "start"]).output().unwrap();
    assert!(text(&gone).contains("it is not installed"), "{}", text(&gone));
}

#[test]
#[ignore = "needs the Windows build and Wine: cargo xtask test runs it"]
fn wine_installer_installs_for_the_user_and_its_uninstaller_keeps_the_settings() {
    let windows = Windows::get();
    let installer = std::env::var_os("BTA_WINDOWS_INSTALLER").map(PathBuf::from).expect(NEEDS_WINE);
    assert!(installer.is_file(), "{} was not built", installer.display());
    let user = windows.user_dir();
    let program = user.join("AppData/Local/Programs/bt-autotask");
    let shortcut = user.join("AppData/Roaming/Microsoft/Windows/Start Menu/Programs/bt-autotask.lnk");
    let _ = std::fs::remove_dir_all(&program);

    succeeds(windows.program(&installer).arg("/S"));
    let app = program.join("bt-autotask.exe");
    assert!(app.is_file() && shortcut.is_file(), "installed into {} with a Start-menu shortcut", program.display());
    let version = succeeds(windows.program(&app).arg("--version"));
    assert!(version.contains(env!("CARGO_PKG_VERSION")), "{version}");
    // Where the README says the app keeps its files.
    let help = succeeds(windows.program(&app).arg("--help"));
    for folder in [
        r"\AppData\Roaming\bt-autotask\config\config.toml",
        r"\AppData\Roaming\bt-autotask\data",
        r"\AppData\Local\bt-autotask\data\logs",
    ] {
        assert!(help.contains(folder), "{folder} in:\n{help}");
    }
    let key = r"HKCU\Software\Microsoft\Windows\CurrentVersion\Uninstall\bt-autotask";
    let listed = succeeds(windows.program(Path::new("reg.exe")).args(["query", key, "/v", "DisplayVersion"]));
    assert!(listed.contains(env!("CARGO_PKG_VERSION")), "listed in Settings › Apps: {listed}");

    // The rep's settings, where the app keeps them, outlive an uninstall.
    let config = user.join("AppData/Roaming/bt-autotask/config/config.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, "# a rep's settings\n").unwrap();
    succeeds(windows.program(&program.join("uninstall.exe")).arg("/S"));
    // The uninstaller carries on from a copy of itself in the temporary folder.
    let deadline = Instant::now() + Duration::from_secs(60);
    while app.exists() || shortcut.exists() {
        assert!(Instant::now() < deadline, "the uninstaller did not remove the app and its shortcut");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(std::fs::read_to_string(&config).unwrap(), "# a rep's settings\n");
    std::fs::remove_dir_all(user.join("AppData/Roaming/bt-autotask")).unwrap();
}

/// A Unix path as Windows programs under Wine name it (Wine's Z: drive is `/`).
fn windows_path(path: &Path) -> String {
    format!("Z:{}", path.display()).replace('/', "\\")
}

/// `reg query KEY /v NAME` under Wine: the value's line, or none when the key or value is missing.
fn registry_value(windows: &Windows, key: &str, name: &str) -> Option<String> {
    let output = windows.program(Path::new("reg.exe")).args(["query", key, "/v", name]).output().unwrap();
    let found = text(&output);
    output.status.success().then(|| found.lines().find(|l| l.contains(name)).unwrap_or_default().trim().to_owned())
}

/// Removes what an MSI test installed, whatever happened to it: a per-machine start-at-login entry
/// left behind would start the app in every later Wine test.
struct Uninstalled<'a> {
    windows: &'a Windows,
    packages: [&'a Path; 2],
}

impl Drop for Uninstalled<'_> {
    fn drop(&mut self) {
        for package in self.packages {
            let _ = self.windows.program(Path::new("msiexec.exe")).args(["/x", &windows_path(package), "/qn"]).output();
        }
    }
}

/// What a desk's deployment tool does, as SYSTEM would: the MSI installs per machine with the
/// desk's address and start at login, the installed app finds the address, the next version's MSI
/// upgrades it in place keeping the address, and `msiexec /x` removes it and keeps a rep's settings.
#[test]
#[ignore = "needs the Windows build and Wine: cargo xtask test runs it"]
fn wine_msi_installs_per_machine_upgrades_in_place_and_uninstalls_keeping_the_reps_settings() {
    let windows = Windows::get();
    let msi = |var: &str| std::env::var_os(var).map(PathBuf::from).expect(NEEDS_WINE);
    let (first, next) = (msi("BTA_WINDOWS_MSI"), msi("BTA_WINDOWS_MSI_NEXT"));
    let _removed_at_the_end = Uninstalled { windows: &windows, packages: [&first, &next] };
    let msiexec = |args: &[&str], package: &Path| {
        let mut command = windows.program(Path::new("msiexec.exe"));
        command.arg(args[0]).arg(windows_path(package)).arg("/qn").args(&args[1..]);
        succeeds(&mut command);
    };
    let program = windows.drive_c.join("Program Files/bt-autotask");
    let app = program.join("bt-autotask.exe");
    // Windows puts a per-machine install's ProgramMenuFolder in All Users' Start menu; Wine's
    // installer puts it in the installing user's (the MSI's table is checked in xtask/src/msi.rs).
    let shortcuts = [
        windows.drive_c.join("ProgramData/Microsoft/Windows/Start Menu/Programs/bt-autotask.lnk"),
        windows.user_dir().join("AppData/Roaming/Microsoft/Windows/Start Menu/Programs/bt-autotask.lnk"),
    ];
    let shortcut = || shortcuts.iter().any(|s| s.is_file());
    // The per-user installer's test leaves none; one from a run cut short must not count here.
    shortcuts.iter().for_each(|s| drop(std::fs::remove_file(s)));
    const KEY: &str = r"HKLM\SOFTWARE\bt-autotask";
    const RUN: &str = r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Run";
    let desk = "https://desk.example.com:8180";

    msiexec(&["/i", &format!("DESK_URL={desk}"), "DESK_PIN=sha256:AAAA", "AUTOSTART=1"], &first);
    assert!(app.is_file() && program.join("WebView2Loader.dll").is_file(), "in {}", program.display());
    assert!(shortcut(), "a Start-menu shortcut");
    assert!(registry_value(&windows, KEY, "DeskUrl").is_some_and(|v| v.ends_with(desk)));
    assert!(registry_value(&windows, KEY, "DeskPin").is_some_and(|v| v.ends_with("sha256:AAAA")));
    let run = registry_value(&windows, RUN, "bt-autotask").expect("started at every user's login");
    assert!(run.contains(r"\bt-autotask\bt-autotask.exe"), "{run}");
    let help = succeeds(windows.program(&app).arg("--help"));
    assert!(help.contains(&format!("installation names the desk {desk}")), "the installed app finds the desk:\n{help}");

    // The next version, given no properties: in place of the first, the address and start kept.
    msiexec(&["/i"], &next);
    let version = next.file_name().unwrap().to_string_lossy().split('_').nth(1).unwrap().to_owned();
    assert!(registry_value(&windows, KEY, "Installed").is_some_and(|v| v.ends_with(&version)), "now {version}");
    assert!(registry_value(&windows, KEY, "DeskUrl").is_some_and(|v| v.ends_with(desk)), "the address kept");
    assert!(registry_value(&windows, RUN, "bt-autotask").is_some(), "start at login kept");
    let uninstall = r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall";
    let listed = succeeds(windows.program(Path::new("reg.exe")).args(["query", uninstall, "/s"]));
    let entries = listed.lines().filter(|l| l.contains("DisplayName") && l.contains("bt-autotask")).count();
    assert_eq!(entries, 1, "one bt-autotask in Settings › Apps:\n{listed}");
    let older = windows.program(Path::new("msiexec.exe")).args(["/i", &windows_path(&first), "/qn"]).output().unwrap();
    assert!(!older.status.success(), "the older version is refused over the newer");
    assert!(registry_value(&windows, KEY, "Installed").is_some_and(|v| v.ends_with(&version)));
    assert!(app.is_file());

    // Uninstalled: the program, its shortcut and its machine settings go; a rep's settings stay.
    let config = windows.user_dir().join("AppData/Roaming/bt-autotask/config/config.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, "# a rep's settings\n").unwrap();
    msiexec(&["/x"], &next);
    assert!(!app.exists() && !shortcut(), "the program and its shortcut are removed");
    assert_eq!(registry_value(&windows, KEY, "DeskUrl"), None);
    assert_eq!(registry_value(&windows, RUN, "bt-autotask"), None);
    assert_eq!(std::fs::read_to_string(&config).unwrap(), "# a rep's settings\n");
    std::fs::remove_dir_all(windows.user_dir().join("AppData/Roaming/bt-autotask")).unwrap();
}
