//! `cargo xtask`: set-up and orchestration for bt-autotask, so a fresh Debian/Ubuntu machine
//! needs one command to see the demo and one to run every test. No product logic lives here.
//!
//! - `cargo xtask demo`  — installs what is missing, then runs the demo.
//! - `cargo xtask test`  — installs what is missing, then runs every test (what CI runs).
//! - `cargo xtask setup` — only installs the missing system packages.
//! - `cargo xtask bench` — builds release binaries and runs the benchmarks.

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
    Requirement { package: "nodejs", command: Some("node"), why: "runs the off-the-shelf Autotask client check" },
    Requirement { package: "npm", command: Some("npm"), why: "installs that client" },
];

type Result<T = ()> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("setup") => setup(),
        Some("demo") => setup().and_then(|()| demo(&args[1..])),
        Some("test") => setup().and_then(|()| test()),
        Some("bench") => setup().and_then(|()| bench()),
        _ => Err("usage: cargo xtask <demo | test | setup | bench>".to_owned()),
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
    let status = Command::new(program)
        .args(args)
        .current_dir(workspace_root())
        .status()
        .map_err(|e| format!("could not start {program}: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("`{program} {}` failed ({status})", args.join(" "))) }
}

/// Installs the system packages that are missing, printing the apt line it runs.
fn setup() -> Result {
    let missing: Vec<&Requirement> =
        REQUIREMENTS.iter().filter(|r| !r.command.is_some_and(on_path) && !dpkg_installed(r.package)).collect();
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

fn demo(args: &[String]) -> Result {
    let port: u16 = match args {
        [flag, port] if flag == "--port" => port.parse().map_err(|_| format!("'{port}' is not a port number"))?,
        [] => 8470,
        _ => return Err("usage: cargo xtask demo [--port N]  (N for Autotask, N+1 for BeyondTrust)".to_owned()),
    };
    run("cargo", &["build", "--quiet", "-p", "bta-sim"])?;
    let autotask = start_sim("debug", &["autotask", "--port", &port.to_string()])?;
    let appliance = start_sim("debug", &["beyondtrust", "--port", &(port + 1).to_string()])?;
    let (at, bt) = (&autotask.base_url, &appliance.base_url);
    println!(
        "\nThe demo is running: an Autotask zone and a BeyondTrust appliance, both with demo data.\n\
         \nAutotask stand-in   {at}\n  API user bta-api@example.com, secret demo-secret, integration code DEMO-INTEGRATION-CODE\n  \
         curl '{at}/atservicesrest/v1.0/zoneInformation?user=bta-api@example.com'\n  \
         curl -H 'UserName: bta-api@example.com' -H 'Secret: demo-secret' -H 'ApiIntegrationCode: DEMO-INTEGRATION-CODE' \\\n       \
         -H 'Content-Type: application/json' -X POST '{at}/atservicesrest/v1.0/Tickets/query' \\\n       \
         -d '{{\"MaxRecords\": 5, \"filter\": [{{\"op\": \"noteq\", \"field\": \"status\", \"value\": 5}}]}}'\n\
         \nBeyondTrust stand-in {bt}\n  OAuth client bta-demo-client, secret bta-demo-secret\n  \
         TOKEN=$(curl -s -u bta-demo-client:bta-demo-secret -d grant_type=client_credentials {bt}/oauth2/token | sed 's/.*\"access_token\":\"\\([^\"]*\\)\".*/\\1/')\n  \
         curl -H \"Authorization: Bearer $TOKEN\" '{bt}/api/command?action=generate_session_key&type=support&queue_id=general&external_key=7201'\n  \
         curl -H \"Authorization: Bearer $TOKEN\" '{bt}/api/reporting?generate_report=SupportSession&start_time=0&duration=0'\n\
         \nPress Ctrl-C to stop."
    );
    let (mut autotask, mut appliance) = (autotask, appliance);
    let status = autotask.child.wait().map_err(|e| format!("waiting for the Autotask stand-in: {e}"))?;
    let _ = appliance.child.kill();
    if status.success() { Ok(()) } else { Err(format!("the Autotask stand-in stopped ({status})")) }
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
    run_counting("node", &args, tally)
}

fn test() -> Result {
    run("cargo", &["build", "--quiet", "--workspace", "--bins"])?;
    let mut tally = Tally::default();
    compat_check(&mut tally)?;
    let outcome = run_counting("cargo", &["test", "--workspace"], &mut tally);
    // One closing line for the whole run, so a reader need not add up every binary's.
    println!("\nall tests: {} passed, {} failed, {} skipped", tally.passed, tally.failed, tally.ignored);
    outcome
}

/// Test counts added up over every runner's summary lines.
#[derive(Debug, Default)]
struct Tally {
    passed: u64,
    failed: u64,
    ignored: u64,
}

impl Tally {
    /// Reads `test result: ok. 3 passed; 0 failed; 1 ignored; …` (cargo) and
    /// `compat: 4 passed, 0 failed` (the npm check).
    fn add_line(&mut self, line: &str) {
        let summary = line.strip_prefix("test result: ").or_else(|| line.strip_prefix("compat: "));
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
fn run_counting(program: &str, args: &[&str], tally: &mut Tally) -> Result {
    let mut child = Command::new(program)
        .args(args)
        .current_dir(workspace_root())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not start {program}: {e}"))?;
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines().map_while(std::result::Result::ok) {
            println!("{line}");
            tally.add_line(&line);
        }
    }
    let status = child.wait().map_err(|e| format!("waiting for {program}: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("`{program} {}` failed ({status})", args.join(" "))) }
}

fn bench() -> Result {
    run("cargo", &["build", "--release", "--quiet", "-p", "bta-sim"])?;
    run("cargo", &["bench", "-p", "bta-core", "--bench", "autotask", "--bench", "reports"])?;
    run("cargo", &["bench", "-p", "bta-e2e", "--bench", "worker"])
}

#[cfg(test)]
mod tests {
    use super::Tally;

    #[test]
    fn tally_reads_cargo_and_compat_summaries() {
        let mut t = Tally::default();
        t.add_line("test result: ok. 12 passed; 1 failed; 2 ignored; 0 measured; 0 filtered out; finished in 1.7s");
        t.add_line("compat: 4 passed, 0 failed");
        t.add_line("running 12 tests");
        assert_eq!((t.passed, t.failed, t.ignored), (16, 1, 2));
    }
}
