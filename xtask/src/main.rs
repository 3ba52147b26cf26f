//! `cargo xtask`: set-up and orchestration for bt-autotask, so a fresh Debian/Ubuntu machine
//! needs one command to see the demo and one to run every test. No product logic lives here.
//!
//! - `cargo xtask demo`  — installs what is missing, then runs the demo.
//! - `cargo xtask test`  — installs what is missing, then runs every test (what CI runs): on
//!   Linux, then the Windows build's under Wine (`--windows`: only those).
//! - `cargo xtask setup` — only installs the missing system packages and the Windows target.
//! - `cargo xtask bench` — builds release binaries and runs the benchmarks.
//! - `cargo xtask fuzz [SECONDS]` — runs every fuzz target in `fuzz/` for SECONDS each.
//! - `cargo xtask soak [MINUTES]` — runs the release worker for MINUTES (30) under steady load.
//! - `cargo xtask screenshots` — writes a screenshot of each view of the tray app to docs/screenshots.
//! - `cargo xtask package` — builds the tray app's .deb and .rpm with the Tauri CLI, and its
//!   Windows installer with makensis.

mod fuzz;
mod msi;
mod windows;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};

/// A system package, and how to tell it (or an equivalent) is already there.
struct Requirement {
    package: &'static str,
    /// A command on PATH that stands for the package, when it may come from elsewhere (nvm, rustup…).
    command: Option<&'static str>,
    why: &'static str,
}

const REQUIREMENTS: &[Requirement] = &[
    Requirement { package: "build-essential", command: Some("cc"), why: "the C linker Rust builds need" },
    Requirement { package: "pkg-config", command: Some("pkg-config"), why: "finds system libraries for -sys crates" },
    Requirement { package: "libdbus-1-dev", command: None, why: "the OS keyring (Secret Service) for stored secrets" },
    Requirement { package: "gnome-keyring", command: None, why: "a real keyring for the secret tests" },
    Requirement {
        package: "dbus-daemon",
        command: Some("dbus-run-session"),
        why: "a private D-Bus session for those tests",
    },
    Requirement {
        package: "dbus-bin",
        command: Some("dbus-send"),
        why: "waits for a test keyring to own its D-Bus name",
    },
    Requirement { package: "nodejs", command: Some("node"), why: "runs the off-the-shelf Autotask client check" },
    Requirement { package: "npm", command: Some("npm"), why: "installs that client" },
    Requirement { package: "libwebkit2gtk-4.1-dev", command: None, why: "the tray app's window (Tauri on WebKitGTK)" },
    Requirement { package: "libssl-dev", command: None, why: "Tauri's build and bundling tools" },
    Requirement { package: "libayatana-appindicator3-dev", command: None, why: "the tray icon" },
    Requirement { package: "librsvg2-dev", command: None, why: "icons in the tray menu" },
    Requirement { package: "libxdo-dev", command: None, why: "Tauri's menu keyboard shortcuts on X11" },
    Requirement { package: "xvfb", command: Some("Xvfb"), why: "a screen for the UI tests and screenshots" },
    Requirement { package: "xauth", command: Some("xauth"), why: "xvfb-run, which starts the packaged app" },
    Requirement { package: "webkit2gtk-driver", command: Some("WebKitWebDriver"), why: "WebDriver for the UI tests" },
    Requirement { package: "dunst", command: Some("dunst"), why: "a notification server for the UI tests" },
    Requirement { package: "libsecret-tools", command: Some("secret-tool"), why: "reads the keyring in the UI tests" },
    Requirement { package: "xclip", command: Some("xclip"), why: "reads the clipboard in the UI tests" },
    Requirement { package: "xdotool", command: Some("xdotool"), why: "presses the global shortcut in the UI tests" },
    Requirement { package: "libglib2.0-bin", command: Some("gdbus"), why: "clicks the tray menu in the UI tests" },
    Requirement { package: "postgresql", command: None, why: "a throwaway PostgreSQL for the store's tests" },
    Requirement { package: "haproxy", command: None, why: "the load balancer in front of two workers in a test" },
    Requirement { package: "chromium", command: Some("chromium"), why: "the browser the desk console's tests use" },
    Requirement { package: "chromium-driver", command: Some("chromedriver"), why: "WebDriver for the console's tests" },
];

/// What building, testing and packaging for Windows needs besides.
const WINDOWS_REQUIREMENTS: &[Requirement] = &[
    Requirement {
        package: "gcc-mingw-w64-x86-64",
        command: Some("x86_64-w64-mingw32-gcc"),
        why: "links the Windows build",
    },
    Requirement { package: "wine64", command: None, why: "runs the Windows build's tests" },
    Requirement { package: "nsis", command: Some("makensis"), why: "builds the Windows installer" },
    Requirement { package: "wixl", command: Some("wixl"), why: "builds the per-machine Windows installer (MSI)" },
    Requirement { package: "msitools", command: Some("msibuild"), why: "finishes and checks the MSI" },
];

type Result<T = ()> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("setup") => setup().and_then(|()| setup_windows()).and_then(|()| install_tauri_driver()),
        Some("demo") => setup().and_then(|()| demo(&args[1..])),
        Some("test") if args.get(1).is_some_and(|a| a == "--windows") => setup_windows().and_then(|()| {
            let mut tally = Tally::default();
            let outcome = windows::test(&mut tally);
            tally.print();
            outcome
        }),
        Some("test") => {
            setup().and_then(|()| setup_windows()).and_then(|()| install_tauri_driver()).and_then(|()| test())
        }
        Some("bench") => setup().and_then(|()| bench()),
        Some("fuzz") => setup().and_then(|()| fuzz::fuzz(&args[1..])),
        Some("soak") => setup().and_then(|()| soak(&args[1..])),
        Some("screenshots") => setup().and_then(|()| install_tauri_driver()).and_then(|()| screenshots()),
        Some("package") => setup()
            .and_then(|()| setup_windows())
            .and_then(|()| package())
            .and_then(|()| check_packages(&mut Tally::default()))
            .and_then(|()| windows::package()),
        _ => {
            Err("usage: cargo xtask <demo | test [--windows] | setup | bench | fuzz [SECONDS] | soak [MINUTES] | screenshots | package>"
                .to_owned())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."))
}

fn on_path(command: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(command).is_file()))
}

fn dpkg_installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
}

/// Runs a command in the workspace root, failing with its exit status.
fn run(program: &str, args: &[&str]) -> Result {
    run_command(Command::new(program).args(args), &format!("`{program} {}` failed", args.join(" ")))
}

/// Runs a prepared command in the workspace root; `failed` says what did not happen if it fails.
fn run_command(command: &mut Command, failed: &str) -> Result {
    let status = command
        .current_dir(workspace_root())
        .status()
        .map_err(|e| format!("could not start {}: {e}", command.get_program().to_string_lossy()))?;
    if status.success() { Ok(()) } else { Err(format!("{failed} ({status})")) }
}

/// Installs the system packages that are missing, printing the apt line it runs.
fn setup() -> Result {
    install_packages(REQUIREMENTS)
}

/// Installs what the Windows build needs: its packages and Rust's standard library for Windows.
fn setup_windows() -> Result {
    install_packages(WINDOWS_REQUIREMENTS).and_then(|()| windows::add_rust_target())
}

fn install_packages(requirements: &[Requirement]) -> Result {
    let missing: Vec<&Requirement> =
        requirements.iter().filter(|r| !r.command.is_some_and(on_path) && !dpkg_installed(r.package)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = missing.iter().map(|r| r.package).collect();
    for r in &missing {
        println!("xtask: missing {} ({})", r.package, r.why);
    }
    if !on_path("apt-get") {
        return Err(format!("no apt-get here; install these with your package manager: {}", names.join(" ")));
    }
    let is_root = Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let prefix: Vec<&str> = if is_root { vec![] } else { vec!["sudo"] };
    let apt = |args: &[&str]| -> Result {
        let mut line: Vec<&str> = prefix.clone();
        line.push("apt-get");
        line.extend_from_slice(args);
        println!("xtask: running: {}", line.join(" "));
        let status = Command::new(line[0])
            .args(&line[1..])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .map_err(|e| format!("could not run {}: {e}", line[0]))?;
        if status.success() { Ok(()) } else { Err(format!("`{}` failed ({status})", line.join(" "))) }
    };
    apt(&["update", "-q"])?;
    let mut install = vec!["install", "-y", "-q", "--no-install-recommends"];
    install.extend(names);
    apt(&install)
}

/// Installs `tauri-driver` (WebDriver for Tauri apps, from crates.io) when it is not on PATH.
fn install_tauri_driver() -> Result {
    install_cargo_tool("tauri-driver", "WebDriver for the tray app's UI tests")
}

/// Installs a tool from crates.io with `cargo install` when it is not on PATH.
fn install_cargo_tool(name: &str, why: &str) -> Result {
    if on_path(name) {
        return Ok(());
    }
    println!("xtask: missing {name} ({why})");
    println!("xtask: running: cargo install {name} --locked");
    run("cargo", &["install", name, "--locked"])
}

/// A stand-in started as a child process; killed when dropped.
struct Stand {
    child: Child,
    base_url: String,
}

impl Drop for Stand {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_sim(profile: &str, args: &[&str]) -> Result<Stand> {
    let binary = workspace_root().join("target").join(profile).join("bta-sim");
    let mut child = Command::new(&binary)
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not start {}: {e}", binary.display()))?;
    let mut line = String::new();
    let stdout = child.stdout.take().ok_or("the stand-in has no stdout")?;
    BufReader::new(stdout).read_line(&mut line).map_err(|e| format!("reading the stand-in's URL: {e}"))?;
    let base_url = line.trim().to_owned();
    if !base_url.starts_with("http") {
        let _ = child.kill();
        return Err(format!("the stand-in did not print its URL (got '{base_url}')"));
    }
    Ok(Stand { child, base_url })
}

const DEMO_USAGE: &str = "usage: cargo xtask demo              the tray app on built-in stand-ins\n       \
    cargo xtask demo --headless [--port N]   the stand-ins and bt-autotask-worker (Autotask on N, BeyondTrust on N+1, the worker on N+2, its console on N+3)";

/// The tray app on its built-in demo; without a screen, the headless worker's demo.
fn demo(args: &[String]) -> Result {
    match args {
        [] if has_screen() => {
            run("cargo", &["build", "--quiet", "-p", "bt-autotask"])?;
            println!("xtask: starting bt-autotask --demo (its icon is in the tray; Quit from its menu or Ctrl-C here)");
            run(&workspace_root().join("target/debug/bt-autotask").to_string_lossy(), &["--demo"])
        }
        [] => {
            println!(
                "xtask: no screen here (DISPLAY and WAYLAND_DISPLAY are unset): running the headless demo instead"
            );
            headless_demo(8470)
        }
        [flag] if flag == "--headless" => headless_demo(8470),
        [flag, port_flag, port] if flag == "--headless" && port_flag == "--port" => {
            headless_demo(port.parse().map_err(|_| format!("'{port}' is not a port number"))?)
        }
        _ => Err(DEMO_USAGE.to_owned()),
    }
}

fn has_screen() -> bool {
    ["DISPLAY", "WAYLAND_DISPLAY"].iter().any(|v| std::env::var_os(v).is_some_and(|d| !d.is_empty()))
}

fn headless_demo(port: u16) -> Result {
    run("cargo", &["build", "--quiet", "-p", "bta-sim", "-p", "bt-autotask-worker"])?;
    let autotask = start_sim("debug", &["autotask", "--port", &port.to_string()])?;
    let appliance = start_sim("debug", &["beyondtrust", "--port", &(port + 1).to_string()])?;
    let worker_port = port + 2;
    let mut worker = start_demo_worker(&autotask.base_url, &appliance.base_url, worker_port)?;
    let appliance_addr = appliance.base_url.trim_start_matches("http://").to_owned();
    let recipient = format!("{{\"url\": \"http://127.0.0.1:{worker_port}/ERSPost\"}}");
    post_json(&appliance_addr, "/_sim/recipients", &recipient)?;
    for session in DEMO_SESSIONS {
        post_json(&appliance_addr, "/_sim/sessions", session)?;
    }
    let (at, bt) = (&autotask.base_url, &appliance.base_url);
    println!(
        "\nThe demo is running: an Autotask zone and a BeyondTrust appliance (stand-ins with demo data), and\n\
         bt-autotask-worker writing finished sessions into their tickets. Three sessions just ended:\n\
         the appliance delivered their events to the worker, which wrote notes, surveys and time entries;\n\
         the third came through the portal without a ticket: the desk console lists it to attach.\n\
         \n  See them:      curl -s '{at}/_sim/records' | python3 -m json.tool | grep -A3 'Remote support session'\n  \
         The jobs:      target/debug/bt-autotask-worker jobs --config target/demo/worker.toml\n  \
         One more:      curl -s -X POST -H 'Content-Type: application/json' '{bt}/_sim/sessions' \\\n                   \
         -d '{{\"external_key\": \"7205\", \"reps\": [{{\"username\": \"sam.lee\"}}], \"chat\": [{{\"from\": \"rep\", \"text\": \"Hi!\"}}]}}'\n\
         \nAutotask stand-in    {at}   (API user bta-api@example.com, secret demo-secret, code DEMO-INTEGRATION-CODE)\n\
         BeyondTrust stand-in {bt}   (OAuth client bta-demo-client, secret bta-demo-secret)\n\
         Worker               http://127.0.0.1:{worker_port}/healthz\n\
         Desk console         http://127.0.0.1:{console}/   (admin {DEMO_ADMIN}, password {DEMO_ADMIN_PASSWORD})\n\
         \nPress Ctrl-C to stop.",
        console = worker_port + 1
    );
    let (mut autotask, mut appliance) = (autotask, appliance);
    let status = autotask.child.wait().map_err(|e| format!("waiting for the Autotask stand-in: {e}"))?;
    let _ = appliance.child.kill();
    let _ = worker.kill();
    if status.success() { Ok(()) } else { Err(format!("the Autotask stand-in stopped ({status})")) }
}

/// The demo console's admin (the demo's own stand-in data only).
const DEMO_ADMIN: &str = "demo";
const DEMO_ADMIN_PASSWORD: &str = "demo-console-password";

const DEMO_SESSIONS: [&str; 3] = [
    r#"{"external_key": "7201", "duration": 902, "reps": [{"username": "alex.morgan"}],
        "customer": {"name": "Dana Whitfield", "company": "Contoso Ltd", "issue": "Outlook / E-mail", "details": "Outlook keeps asking for my password"},
        "chat": [{"from": "rep", "text": "Hi Dana, connecting now."}, {"from": "customer", "text": "Thanks!"},
                 {"from": "rep", "text": "Removed the stale credential; please restart Outlook."}],
        "notes": ["Removed a stale Outlook credential from Credential Manager."],
        "surveys": {"customer": [{"label": "How satisfied were you?", "answer": "Very satisfied"}]}}"#,
    r#"{"external_key": "T20261123.0047", "duration": 1260, "reps": [{"username": "sam.lee"}, {"username": "jordan.kim"}],
        "customer": {"name": "Miguel Ortega", "company": "Dynamo Corporation", "issue": "VPN Access", "details": "VPN drops every 10 minutes"},
        "chat": [{"from": "rep", "text": "Let's update the VPN client."}, {"from": "jordan.kim", "text": "Firmware looks fine."}],
        "files": [{"name": "vpn-client-6.2.4.msi", "size": 48213000}]}"#,
    r#"{"external_key": "", "duration": 1500, "reps": [{"username": "alex.morgan"}],
        "customer": {"name": "Pat Lee", "company": "Dynamo Corporation", "issue": "Printer offline", "details": "The office printer shows offline"},
        "chat": [{"from": "rep", "text": "The print spooler is restarted; the printer is back."}]}"#,
];

/// Starts bt-autotask-worker on the stand-ins with a fresh demo store; its secrets are the
/// stand-ins' demo credentials, given in its environment.
fn start_demo_worker(autotask: &str, appliance: &str, port: u16) -> Result<Child> {
    let dir = workspace_root().join("target/demo");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let config = format!(
        "listen = \"127.0.0.1:{port}\"\nconsole_listen = \"127.0.0.1:{}\"\ndata_dir = \"data\"\nretry_delay_ms = 1000\n\
         report_lag_wait_ms = 500\n\n[[profile]]\n\
         name = \"Demo\"\nappliance_host = \"{}\"\nuse_non_tls_connections = true\nclient_id = \"bta-demo-client\"\n\
         client_secret_env = \"BTA_DEMO_BT_SECRET\"\nautotask_services_url = \"{autotask}/ATServicesRest\"\n\
         autotask_username = \"bta-api@example.com\"\nautotask_password_env = \"BTA_DEMO_AT_SECRET\"\n\
         autotask_integration_code_env = \"BTA_DEMO_AT_CODE\"\nupdate_time_entry = true\n\
         time_entry_default_data = {{ defaultDomain = \"example.com\", roleName = \"Sample Role\", summaryNotes = \"Remote support session\" }}\n",
        port + 1,
        appliance.trim_start_matches("http://"),
    );
    let path = dir.join("worker.toml");
    std::fs::write(&path, config).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let binary = workspace_root().join("target/debug/bt-autotask-worker");
    add_demo_admin(&binary, &path)?;
    let child = Command::new(&binary)
        .args(["run", "--config"])
        .arg(&path)
        .env("BTA_DEMO_BT_SECRET", "bta-demo-secret")
        .env("BTA_DEMO_AT_SECRET", "demo-secret")
        .env("BTA_DEMO_AT_CODE", "DEMO-INTEGRATION-CODE")
        .env("RUST_LOG", "warn")
        .spawn()
        .map_err(|e| format!("could not start {}: {e}", binary.display()))?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if std::time::Instant::now() > deadline {
            return Err(format!("the demo worker did not listen on port {port}"));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Ok(child)
}

/// The demo console's admin, its password given on standard input as an admin would.
fn add_demo_admin(binary: &Path, config: &Path) -> Result {
    use std::io::Write;
    let mut child = Command::new(binary)
        .args(["console", "add-admin", DEMO_ADMIN, "--config"])
        .arg(config)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("could not start {}: {e}", binary.display()))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(DEMO_ADMIN_PASSWORD.as_bytes()).map_err(|e| format!("could not give the password: {e}"))?;
    }
    let status = child.wait().map_err(|e| format!("console add-admin: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("console add-admin failed ({status})")) }
}

/// A JSON POST to a stand-in's control endpoint (plain HTTP on loopback; no client library needed).
fn post_json(addr: &str, path: &str, body: &str) -> Result {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).map_err(|e| format!("cannot reach {addr}: {e}"))?;
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).map_err(|e| format!("cannot send to {addr}: {e}"))?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).map_err(|e| format!("no answer from {addr}: {e}"))?;
    if answer.starts_with("HTTP/1.1 200") {
        Ok(())
    } else {
        Err(format!("{path} answered: {}", answer.lines().next().unwrap_or("")))
    }
}

/// An off-the-shelf Autotask REST client from npm, unchanged, against the stand-in.
fn compat_check(tally: &mut Tally) -> Result {
    let dir = workspace_root().join("tests/compat/autotask-npm");
    let dir_text = dir.to_string_lossy().into_owned();
    run("npm", &["ci", "--prefix", &dir_text, "--no-audit", "--no-fund", "--loglevel=error"])?;
    let sim = start_sim("debug", &["autotask", "--port", "0"])?;
    let script = dir.join("check.js");
    let args =
        [&*script.to_string_lossy(), &sim.base_url, "bta-api@example.com", "demo-secret", "DEMO-INTEGRATION-CODE"];
    run_counting(Command::new("node").args(args), tally)
}

fn test() -> Result {
    run("cargo", &["build", "--quiet", "--workspace", "--bins"])?;
    let mut tally = Tally::default();
    compat_check(&mut tally)?;
    // The Wine suite (tests/windows.rs) runs in the Windows part, after the Windows build.
    let outcome =
        run_counting(Command::new("cargo").args(["test", "--workspace", "--", "--skip", "wine_"]), &mut tally)
            .and_then(|()| package())
            .and_then(|()| check_packages(&mut tally))
            .and_then(|()| {
                // The release build's work ends with its packages; the Linux test programs' with their runs.
                remove_finished_build(&workspace_root().join("target/release"), Keep::Nothing);
                remove_finished_build(&workspace_root().join("target/debug"), Keep::Libraries);
                windows::test(&mut tally)
            });
    tally.print();
    outcome
}

/// What of a finished build `remove_finished_build` leaves.
enum Keep {
    Nothing,
    /// Everything but the test programs: a later stage's cargo builds on the libraries.
    Libraries,
    /// The programs at the top of the profile's folder, which a later stage runs.
    Programs,
}

/// Frees a build's disk once the run is done with it, when `BTA_XTASK_FREE_DISK` is set
/// (`.ci/run` sets it): some CI machines have ten gigabytes, less than the Linux, release and
/// Windows builds take together. A developer's builds are left alone, to be reused.
fn remove_finished_build(profile_dir: &Path, keep: Keep) {
    if std::env::var_os("BTA_XTASK_FREE_DISK").is_none() {
        return;
    }
    let removed = match keep {
        Keep::Nothing => std::fs::remove_dir_all(profile_dir),
        Keep::Libraries => remove_test_programs(&profile_dir.join("deps")),
        Keep::Programs => ["deps", "build", "examples"]
            .iter()
            .map(|sub| profile_dir.join(sub))
            .filter(|dir| dir.exists())
            .try_for_each(std::fs::remove_dir_all),
    };
    match removed {
        Ok(()) => println!("xtask: freed the finished build in {}", profile_dir.display()),
        // Only room is lost: the next stage says so itself if it runs out.
        Err(e) => println!("xtask: could not free {}: {e}", profile_dir.display()),
    }
}

/// Removes the executables among a build's `deps` (its test programs; libraries have an extension).
fn remove_test_programs(deps: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(deps)? {
        let path = entry?.path();
        if path.is_file() && path.extension().is_none() {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}

/// Test counts added up over every runner's summary lines.
#[derive(Debug, Default)]
struct Tally {
    passed: u64,
    failed: u64,
    ignored: u64,
}

impl Tally {
    /// One closing line for the whole run, so a reader need not add up every binary's.
    fn print(&self) {
        println!("\nall tests: {} passed, {} failed, {} skipped", self.passed, self.failed, self.ignored);
    }

    /// Reads `test result: ok. 3 passed; 0 failed; 1 ignored; …` (cargo) and
    /// `compat: 4 passed, 0 failed` (the npm check).
    fn add_line(&mut self, line: &str) {
        let summary = line
            .strip_prefix("test result: ")
            .or_else(|| line.strip_prefix("compat: "))
            .or_else(|| line.strip_prefix("package: "));
        let Some(summary) = summary else { return };
        let words: Vec<&str> = summary.split([' ', ';', ',', '.']).filter(|w| !w.is_empty()).collect();
        for pair in words.windows(2) {
            let Ok(n) = pair[0].parse::<u64>() else { continue };
            match pair[1] {
                "passed" => self.passed += n,
                "failed" => self.failed += n,
                "ignored" => self.ignored += n,
                _ => {}
            }
        }
    }
}

/// Runs a command, echoing its output and counting the test summaries in it.
///
/// The output is read only until `AFTER_END` after the command has ended: a test
/// that fails before it can stop a program it started (a worker, under Wine too) leaves that
/// program holding the pipe, and reading to its end would wait for it forever.
fn run_counting(command: &mut Command, tally: &mut Tally) -> Result {
    const AFTER_END: std::time::Duration = std::time::Duration::from_secs(5);
    let program = command.get_program().to_string_lossy().into_owned();
    let mut child = command
        .current_dir(workspace_root())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not start {program}: {e}"))?;
    let (lines, received) = std::sync::mpsc::channel();
    if let Some(stdout) = child.stdout.take() {
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(std::result::Result::ok) {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
    }
    let mut ended: Option<std::time::Instant> = None;
    loop {
        match received.recv_timeout(std::time::Duration::from_millis(200)) {
            Ok(line) => {
                println!("{line}");
                tally.add_line(&line);
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
        }
        if ended.is_none() && matches!(child.try_wait(), Ok(Some(_))) {
            ended = Some(std::time::Instant::now());
        }
        if ended.is_some_and(|at| at.elapsed() >= AFTER_END) {
            println!("xtask: a program that {program} started still holds its output; not waiting for it");
            break;
        }
    }
    let status = child.wait().map_err(|e| format!("waiting for {program}: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("`{command:?}` failed ({status})")) }
}

/// Screenshots of each view of the real app on its demo, under Xvfb, into docs/screenshots.
fn screenshots() -> Result {
    run("cargo", &["build", "--quiet", "--workspace", "--bins"])?;
    let out = workspace_root().join("docs/screenshots");
    let status = Command::new("cargo")
        .args(["test", "-p", "bta-e2e", "--test", "ui", "--", "--ignored", "--exact", "screenshots"])
        .env("BTA_SCREENSHOTS", &out)
        .current_dir(workspace_root())
        .status()
        .map_err(|e| format!("could not start cargo: {e}"))?;
    if !status.success() {
        return Err(format!("the screenshots were not taken ({status})"));
    }
    // The desk console's pages, in Chromium.
    let status = Command::new("cargo")
        .args([
            "test",
            "-p",
            "bta-e2e",
            "--test",
            "worker",
            "--",
            "--ignored",
            "--exact",
            "console::console_screenshots",
        ])
        .env("BTA_SCREENSHOTS", &out)
        .current_dir(workspace_root())
        .status()
        .map_err(|e| format!("could not start cargo: {e}"))?;
    if !status.success() {
        return Err(format!("the console's screenshots were not taken ({status})"));
    }
    println!("xtask: screenshots written to {}", out.display());
    Ok(())
}

/// The Tauri CLI, as its npm package (a prebuilt binary), kept in target/tauri-cli.
fn tauri_cli() -> Result<PathBuf> {
    let dir = workspace_root().join("target/tauri-cli");
    let cli = dir.join("node_modules/.bin/tauri");
    if !cli.is_file() {
        let dir_text = dir.to_string_lossy().into_owned();
        println!("xtask: running: npm install --prefix {dir_text} @tauri-apps/cli@2");
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {dir_text}: {e}"))?;
        run(
            "npm",
            &["install", "--prefix", &dir_text, "--no-audit", "--no-fund", "--loglevel=error", "@tauri-apps/cli@2"],
        )?;
    }
    Ok(cli)
}

/// The tray app's Debian and RPM packages, in target/release/bundle/.
fn package() -> Result {
    let cli = tauri_cli()?;
    // Packages ship a stripped binary (the release profile keeps line tables for benchmarks).
    let status = Command::new(&cli)
        .args(["build", "--bundles", "deb,rpm"])
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_STRIP", "symbols")
        .current_dir(workspace_root().join("src-tauri"))
        .status()
        .map_err(|e| format!("could not start {}: {e}", cli.display()))?;
    if !status.success() {
        return Err(format!("the packages were not built ({status})"));
    }
    println!("xtask: packages in {}", workspace_root().join("target/release/bundle").display());
    Ok(())
}

/// Checks the built packages as a user would meet them: the .deb's dependencies resolve on this
/// system, and its binary, unpacked, starts to its tray on a private X display; the .rpm exists.
/// Prints `package: N passed, N failed` for the test tally.
fn check_packages(tally: &mut Tally) -> Result {
    let bundle = workspace_root().join("target/release/bundle");
    let find = |kind: &str, ext: &str| -> Option<PathBuf> {
        std::fs::read_dir(bundle.join(kind))
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == ext))
    };
    let mut results: Vec<(&str, Result)> = Vec::new();
    let deb = find("deb", "deb").ok_or("no .deb was built")?;
    results.push(("the .rpm exists", find("rpm", "rpm").map(|_| ()).ok_or_else(|| "no .rpm was built".to_owned())));
    let simulate = Command::new("apt-get").args(["install", "--simulate", "-q"]).arg(&deb).output();
    results.push((
        "the .deb's dependencies resolve",
        match simulate {
            Ok(o) if o.status.success() => Ok(()),
            Ok(o) => Err(String::from_utf8_lossy(&o.stderr).into_owned()),
            Err(e) => Err(e.to_string()),
        },
    ));
    let unpacked = workspace_root().join("target/package-check");
    let _ = std::fs::remove_dir_all(&unpacked);
    run("dpkg-deb", &["-x", &deb.to_string_lossy(), &unpacked.to_string_lossy()])?;
    let binary = unpacked.join("usr/bin/bt-autotask");
    // Start it, wait for its tray (at most 30 s), then stop it.
    let script = format!(
        "{} --demo > {out} 2>/dev/null & app=$!; for _ in $(seq 300); do grep -q 'tray ready' {out} && break; sleep 0.1; done; kill $app; cat {out}",
        binary.display(),
        out = unpacked.join("started.txt").display()
    );
    let started = Command::new("xvfb-run").args(["-a", "dbus-run-session", "--", "sh", "-c", &script]).output();
    results.push((
        "the packaged app starts to its tray",
        match started {
            Ok(o) if String::from_utf8_lossy(&o.stdout).contains("tray ready") => Ok(()),
            Ok(o) => {
                Err(format!("it said: {}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)))
            }
            Err(e) => Err(format!("xvfb-run could not start: {e}")),
        },
    ));
    let failed: Vec<String> =
        results.iter().filter_map(|(what, r)| r.as_ref().err().map(|e| format!("{what}: {e}"))).collect();
    let line = format!("package: {} passed, {} failed", results.len() - failed.len(), failed.len());
    println!("{line}");
    tally.add_line(&line);
    if failed.is_empty() { Ok(()) } else { Err(failed.join("\n")) }
}

fn bench() -> Result {
    run("cargo", &["build", "--release", "--quiet", "-p", "bta-sim"])?;
    run("cargo", &["bench", "-p", "bta-core", "--bench", "autotask", "--bench", "reports"])?;
    run("cargo", &["bench", "-p", "bta-e2e", "--bench", "worker"])?;
    run("cargo", &["bench", "-p", "bta-e2e", "--bench", "desk"])?;
    run("cargo", &["bench", "-p", "bta-e2e", "--bench", "copy_search"])?;
    // The gateway benchmark starts the release worker binary, which cargo bench does not build.
    run("cargo", &["build", "--release", "--quiet", "-p", "bt-autotask-worker"])?;
    run("cargo", &["bench", "-p", "bta-e2e", "--bench", "gateway"])?;
    run("cargo", &["bench", "-p", "bta-e2e", "--bench", "flood"])?;
    // The tray app's benchmark drives the release app and its blank-window floor, which cargo
    // bench does not build itself.
    install_tauri_driver()?;
    let app = ["build", "--profile", "bench", "--quiet", "-p", "bt-autotask"];
    run("cargo", &[&app[..], &["--bins", "--example", "blank_window", "--features", "bench-floor"]].concat())?;
    run("cargo", &["bench", "-p", "bta-e2e", "--bench", "app"])
}

/// The soak benchmark (tests/benches/soak.rs) on the release worker binary it starts.
fn soak(args: &[String]) -> Result {
    let minutes = match args {
        [] => "30".to_owned(),
        [m] if m.parse::<f64>().is_ok_and(|m| m > 0.0) => m.clone(),
        _ => return Err("usage: cargo xtask soak [MINUTES]".to_owned()),
    };
    run("cargo", &["build", "--release", "--quiet", "-p", "bt-autotask-worker"])?;
    run("cargo", &["bench", "-p", "bta-e2e", "--bench", "soak", "--", "--minutes", &minutes])
}

#[cfg(test)]
mod tests {
    use super::{Tally, run_counting};

    #[test]
    fn tally_reads_cargo_and_compat_summaries() {
        let mut t = Tally::default();
        t.add_line("test result: ok. 12 passed; 1 failed; 2 ignored; 0 measured; 0 filtered out; finished in 1.7s");
        t.add_line("compat: 4 passed, 0 failed");
        t.add_line("running 12 tests");
        assert_eq!((t.passed, t.failed, t.ignored), (16, 1, 2));
    }

    /// A failed test leaves the worker it started running, holding the output pipe: the run
    /// still ends (it once waited for it until CI's time ran out), with every summary counted.
    #[test]
    fn a_run_ends_with_its_command_though_a_program_it_left_holds_the_output() {
        let dir = std::env::temp_dir().join(format!("xtask-left-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pid_file = dir.join("pid");
        let script = format!(
            "echo 'test result: FAILED. 1 passed; 1 failed; 0 ignored'; sleep 60 & echo $! > {}",
            pid_file.display()
        );
        let mut tally = Tally::default();
        let outcome = run_counting(std::process::Command::new("sh").args(["-c", &script]), &mut tally);
        let left = std::fs::read_to_string(&pid_file).unwrap().trim().to_owned();
        let still_running = std::process::Command::new("kill").arg(&left).status().unwrap().success();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(still_running, "the run waited for the program its command left behind");
        assert!(outcome.is_ok());
        assert_eq!((tally.passed, tally.failed), (1, 1));
    }
}
