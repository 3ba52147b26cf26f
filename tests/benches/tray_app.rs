//! The tray app benchmark's body, on a private Linux desktop (`app.rs` says what it measures).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bta_e2e::desktop::{Desktop, app_binary};
use bta_e2e::{Stands, secret_env as secrets};
use serde_json::json;

fn percentile(mut values: Vec<f64>, p: f64) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[((values.len() as f64 * p).ceil() as usize).saturating_sub(1).min(values.len() - 1)]
}

fn median(values: Vec<f64>) -> f64 {
    percentile(values, 0.5)
}

fn app_command(desktop: &Desktop, args: &[&str]) -> Command {
    desktop_command(desktop, app_binary(), args)
}

fn desktop_command(desktop: &Desktop, binary: PathBuf, args: &[&str]) -> Command {
    let mut command = Command::new(binary);
    command.args(args).env("DISPLAY", &desktop.display).env("DBUS_SESSION_BUS_ADDRESS", &desktop.bus);
    command.envs(secrets()).env("RUST_LOG", "warn").stdout(Stdio::piped()).stderr(Stdio::null());
    command
}

/// Seconds from spawning a command to its first line, which must contain `ready`; the process
/// is left running.
fn start_until_ready(mut command: Command) -> (f64, std::process::Child) {
    let started = Instant::now();
    let mut child = command.spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert!(line.contains("ready"), "{:?} said: {line:?}", command.get_program());
    (started.elapsed().as_secs_f64(), child)
}

/// Idle memory in MB of a started process and its WebKit processes, once its window has loaded,
/// with each process's share; the process is then ended.
async fn idle_memory(child: std::process::Child) -> (f64, String) {
    tokio::time::sleep(Duration::from_secs(8)).await;
    let (kb, processes) = pss_kb(child.id());
    end(child);
    (kb as f64 / 1024.0, processes.join(", "))
}

fn end(mut child: std::process::Child) {
    child.kill().unwrap();
    child.wait().unwrap();
}

fn version_floor(desktop: &Desktop) -> f64 {
    let started = Instant::now();
    let out = app_command(desktop, &["--version"]).output().unwrap();
    assert!(out.status.success());
    started.elapsed().as_secs_f64()
}

/// Proportional set size in kB of a process and all its descendants (the WebKit processes).
fn pss_kb(root: u32) -> (u64, Vec<String>) {
    let mut children: std::collections::HashMap<u32, Vec<u32>> = Default::default();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        let after_name = stat.rsplit(')').next().unwrap_or("");
        let parent = after_name.split_whitespace().nth(1).and_then(|p| p.parse::<u32>().ok()).unwrap_or(0);
        children.entry(parent).or_default().push(pid);
    }
    let (mut total, mut each, mut todo) = (0, Vec::new(), vec![root]);
    while let Some(pid) = todo.pop() {
        let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
        let pss = rollup.lines().find(|l| l.starts_with("Pss:")).and_then(|l| l.split_whitespace().nth(1));
        let kb = pss.and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        each.push(format!("{} {} MB", name.trim(), kb / 1024));
        total += kb;
        todo.extend(children.get(&pid).into_iter().flatten());
    }
    (total, each)
}

/// The blank-window floor, built beside the app by `cargo xtask bench`.
fn blank_window_binary() -> PathBuf {
    let binary = app_binary().with_file_name("examples").join("blank_window");
    assert!(
        binary.is_file(),
        "{} is missing; build it first: cargo build --profile bench -p bt-autotask --example blank_window --features bench-floor",
        binary.display()
    );
    binary
}

async fn one_round_trip_ms(stands: &Stands) -> f64 {
    let query = json!({"filter": [{"op": "eq", "field": "id", "value": 7201}]});
    let mut times = Vec::new();
    for _ in 0..20 {
        let started = Instant::now();
        let answer = stands.autotask_api(reqwest::Method::POST, "Tickets/query").json(&query).send().await.unwrap();
        assert!(answer.status().is_success());
        answer.bytes().await.unwrap();
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    median(times)
}

/// Times searches through the window's own IPC, in the page, in milliseconds.
async fn search_times(app: &bta_e2e::desktop::App, texts: &[&str]) -> Vec<f64> {
    let script = r#"
        const [texts, done] = [arguments[0], arguments[arguments.length - 1]];
        (async () => {
          const times = [];
          for (const text of texts) {
            const started = performance.now();
            await window.__TAURI__.core.invoke('search', { profile: 'Desk', text });
            times.push(performance.now() - started);
          }
          done(times);
        })().catch((e) => done(String(e)));
    "#;
    let answer = app.client.execute_async(script, vec![json!(texts)]).await.unwrap();
    let times = answer.as_array().unwrap_or_else(|| panic!("the searches failed: {answer}"));
    times.iter().map(|t| t.as_f64().unwrap()).collect()
}

#[tokio::main]
pub async fn run() {
    let stands = Stands::start().await;
    let rep = "rep_username = \"alex.morgan\"\nrep_email = \"alex.morgan@example.com\"";
    // Released after 3 s hidden here (10 minutes by default), so release and reopen can be timed.
    let text = format!("data_dir = \"data\"\nrelease_window_after_minutes = 0.05\n\n{}", stands.profile("Desk", rep));
    let config = stands.write_config(&text);
    let config = config.to_str().unwrap();
    let desktop = Desktop::start(&secrets());

    let floor = median((0..5).map(|_| version_floor(&desktop)).collect());
    let start_app = || start_until_ready(app_command(&desktop, &["--config", config, "--show"]));
    let mut starts = Vec::new();
    for _ in 0..4 {
        let (seconds, child) = start_app();
        starts.push(seconds);
        end(child);
    }
    // The last one stays up to measure idle memory, then the floor on the same desktop.
    let (seconds, child) = start_app();
    starts.push(seconds);
    let (ours, processes) = idle_memory(child).await;
    let warm_mb = ours;
    let (_, blank) = start_until_ready(desktop_command(&desktop, blank_window_binary(), &[]));
    let (floor_mb, floor_processes) = idle_memory(blank).await;
    println!(
        "idle memory: {ours:.0} MB proportional set size ({processes}); floor, a blank Tauri window with the same \
         WebKit settings: {floor_mb:.0} MB ({floor_processes}); {:.2}× — goal ≤ 150 MB: {}",
        ours / floor_mb,
        if ours <= 150.0 { "met" } else { "NOT met" }
    );
    let start = median(starts);
    println!(
        "start to tray ready: {:.0} ms median of 5 (floor, the same binary printing its version: {:.0} ms; {:.1}×) — goal < 1 s: {}",
        start * 1000.0,
        floor * 1000.0,
        start / floor,
        if start < 1.0 { "met" } else { "NOT met" }
    );

    stands.post(format!("{}/_sim/latency", stands.autotask.base_url), json!({"ms": 50})).await;
    let round_trip = one_round_trip_ms(&stands).await;
    let app = desktop.launch(&["--config", config, "--show"]).await;
    app.wait_text("#results .ticket .number", |t| t.starts_with('T')).await;
    let texts =
        ["", "T20261124.0042", "Outlook", "7206", "Teams camera", "T2026111", "printer", "VPN", "7211", "backup"];
    // A rep's first searches of the day fill the desk's lookups; then fifty more.
    search_times(&app, &texts).await;
    let many: Vec<&str> = texts.iter().cycle().take(50).copied().collect();
    let times = search_times(&app, &many).await;
    let p95 = percentile(times.clone(), 0.95);
    println!(
        "search p95: {p95:.0} ms (p50 {:.0} ms) over 50 searches through the window; one Autotask round trip {round_trip:.0} ms; \
         ratio {:.2} — goal ≤ 1.3: {}",
        percentile(times, 0.5),
        p95 / round_trip,
        if p95 / round_trip <= 1.3 { "met" } else { "NOT met" }
    );
    // By the customer: companies and contacts by name; the first searches teach the desk them.
    let names = ["dynamo", "Contoso", "miguel ortega", "fabrikam", "Dana Whitfield", "woodgrove", "tailspin", "okafor"];
    search_times(&app, &names).await;
    let many: Vec<&str> = names.iter().cycle().take(50).copied().collect();
    let times = search_times(&app, &many).await;
    let p95 = percentile(times.clone(), 0.95);
    println!(
        "search by company or contact name p95: {p95:.0} ms (p50 {:.0} ms) over 50 searches; one Autotask round trip \
         {round_trip:.0} ms; ratio {:.2} — goal ≤ 1.3: {}",
        percentile(times, 0.5),
        p95 / round_trip,
        if p95 / round_trip <= 1.3 { "met" } else { "NOT met" }
    );
    stands.post(format!("{}/_sim/latency", stands.autotask.base_url), json!({"ms": 0})).await;
    release_and_reopen(&desktop, &app, config, warm_mb).await;
    app.close().await;
}

/// Whether the window is shown with the search focused, as the page sees it.
async fn search_ready(app: &bta_e2e::desktop::App) -> bool {
    let script = "return document.visibilityState === 'visible' && document.activeElement?.id === 'search' \
                  && document.querySelectorAll('#results .ticket').length > 0";
    app.client.execute(script, vec![]).await.is_ok_and(|v| v == json!(true))
}

/// One opening by the shortcut, in milliseconds from the key press.
struct Opening {
    /// Until WebDriver saw the search focused with my open tickets (its looking included).
    seen: f64,
    /// Until the page had shown the view with the search focused, by the page's own clock.
    page: f64,
    /// Until the page learnt it was visible again (a window only hidden).
    visible: Option<f64>,
}

fn epoch_ms() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64() * 1000.0
}

/// Opens the window by the shortcut, following a window made anew when `cold`, and says how long
/// it took by WebDriver's look and by the page's clock.
async fn open_by_shortcut(desktop: &Desktop, app: &bta_e2e::desktop::App, cold: bool) -> Opening {
    if !cold {
        let listen = "window.__btaVisible = null; document.addEventListener('visibilitychange', () => { \
                      window.__btaVisible = performance.timeOrigin + performance.now(); }, { once: true });";
        app.client.execute(listen, vec![]).await.unwrap();
    }
    let (started, pressed) = (Instant::now(), epoch_ms());
    desktop.press("ctrl+alt+space");
    if cold {
        app.follow_new_window().await;
    }
    while !search_ready(app).await {
        assert!(started.elapsed() < Duration::from_secs(20), "the window never opened on the search");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let seen = started.elapsed().as_secs_f64() * 1000.0;
    // The page marks each view it shows; a window only hidden marks once the app's navigate is in.
    let marks = "const m = performance.getEntriesByName('bta-shown').at(-1); \
                 return [m ? performance.timeOrigin + m.startTime : 0, window.__btaVisible ?? 0];";
    loop {
        let answer = app.client.execute(marks, vec![]).await.unwrap();
        let [shown, visible] = [0, 1].map(|i| answer[i].as_f64().unwrap_or(0.0));
        if shown >= pressed {
            let visible = (!cold && visible >= pressed).then_some(visible - pressed);
            return Opening { seen, page: shown - pressed, visible };
        }
        assert!(started.elapsed() < Duration::from_secs(20), "the page never marked the view shown");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Hides the window (Escape), and when `released` waits until its web process has exited.
async fn hide(app: &bta_e2e::desktop::App, pid: u32, released: bool) {
    let web = bta_e2e::desktop::web_processes(pid);
    app.keys("#search", "\u{E00C}").await;
    if released {
        let started = Instant::now();
        while web.iter().any(|&p| bta_e2e::desktop::alive(p)) {
            assert!(started.elapsed() < Duration::from_secs(30), "the window was never released");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // WebKit's memory is handed back once its process is gone; give the allocator a moment.
        tokio::time::sleep(Duration::from_secs(2)).await;
    } else {
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

/// The window released after it was hidden a while: what the app weighs then, how fast it opens
/// again warm (only hidden) and cold (made anew), and whether a long day leaves it heavier.
async fn release_and_reopen(desktop: &Desktop, app: &bta_e2e::desktop::App, config: &str, warm_mb: f64) {
    let pid = bta_e2e::desktop::app_process(config).expect("the app's process");
    // My open tickets are the last search, as when a rep opens the window for the day.
    app.type_into("#search", "").await;
    let warm_process = memory_split(pid);
    let mut warm = Vec::new();
    for _ in 0..20 {
        hide(app, pid, false).await;
        warm.push(open_by_shortcut(desktop, app, false).await);
    }
    // What this measuring costs by itself: pressing a key no one takes, and one look at the page.
    let mut harness = Vec::new();
    for _ in 0..20 {
        let started = Instant::now();
        desktop.press("shift");
        search_ready(app).await;
        harness.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let harness = median(harness);
    hide(app, pid, true).await;
    let (released, before) = released_memory(pid);
    println!("the released app's own process, by mapping: {}", pss_by_mapping(pid));
    println!(
        "the app's own process, warm (window hidden, WebKit's processes up) → released: {warm_process} → {}; \
         PSS divides a library's pages among the processes mapping it, so once WebKit's processes exit the \
         app's share of WebKit, JavaScriptCore and GTK is counted whole",
        memory_split(pid)
    );
    let mut cold = Vec::new();
    for _ in 0..10 {
        cold.push(open_by_shortcut(desktop, app, true).await);
        hide(app, pid, true).await;
    }
    let floor = version_floor(desktop) * 1000.0;
    let shows = logged_ms(&desktop.app_log(), "placing and showing it took ", 1000.0);
    // The app logs how long each new window's page took to be ready: the web view's share.
    let page = logged_ms(&desktop.app_log(), "its page was ready in ", 1.0)
        .map_or("not logged".to_owned(), |ms| format!("{ms:.0} ms median"));
    println!(
        "idle after release: the app process alone {released:.0} MB proportional set size ({before}) — goal ≤ 60 MB: \
         {}; warm, window only hidden: {warm_mb:.0} MB with WebKit",
        if released <= 60.0 { "met" } else { "NOT met" }
    );
    let p95 = |openings: &[Opening], of: fn(&Opening) -> Option<f64>| {
        percentile(openings.iter().filter_map(of).collect(), 0.95)
    };
    let (warm_p95, cold_p95) = (p95(&warm, |o| Some(o.page)), p95(&cold, |o| Some(o.page)));
    println!(
        "open by the shortcut to the search focused with my open tickets, by the page's clock: warm (window only \
         hidden) p95 {warm_p95:.0} ms over 20 — goal ≤ 50 ms: {}; cold (made anew after release) p95 \
         {cold_p95:.0} ms over 10 — goal ≤ 400 ms: {} (the same binary starts and prints its version in \
         {floor:.0} ms)",
        if warm_p95 <= 50.0 { "met" } else { "NOT met" },
        if cold_p95 <= 400.0 { "met" } else { "NOT met" }
    );
    println!(
        "  where a warm open's time goes (medians): key press to the page told it is visible {:.0} ms, of which \
         the app placing and showing the window {}; visible to the view shown {:.0} ms; as WebDriver saw it, \
         p95 {:.0} ms (pressing a key through xdotool and one look at the page cost {harness:.0} ms by themselves)",
        median(warm.iter().filter_map(|o| o.visible).collect()),
        shows.map_or("not logged".to_owned(), |ms| format!("{ms:.1} ms")),
        median(warm.iter().filter_map(|o| Some(o.page - o.visible?)).collect()),
        p95(&warm, |o| Some(o.seen)),
    );
    println!(
        "  where a cold open's time goes: the new web view until its page is ready {page}; as WebDriver saw it \
         (finding the new window included), p95 {:.0} ms",
        p95(&cold, |o| Some(o.seen)),
    );
    long_day(desktop, app, pid, released).await;
}

/// Where a process's proportional set size lies, largest first: its heap, other anonymous
/// memory, and each library's mapped pages (what a released window cannot give back).
fn pss_by_mapping(pid: u32) -> String {
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap_or_default();
    let mut by: std::collections::HashMap<String, u64> = Default::default();
    let mut current = String::new();
    for line in smaps.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if first.contains('-') && first.chars().next().is_some_and(|c| c.is_ascii_hexdigit()) {
            let path = line.split_whitespace().nth(5).unwrap_or("");
            current = match path {
                "" => "anonymous".to_owned(),
                p if p.starts_with('[') => p.to_owned(),
                p => p.rsplit('/').next().unwrap_or(p).split(".so").next().unwrap_or(p).to_owned(),
            };
        } else if let Some(kb) = line.strip_prefix("Pss:") {
            *by.entry(current.clone()).or_default() += kb.trim().trim_end_matches(" kB").parse::<u64>().unwrap_or(0);
        }
    }
    let mut parts: Vec<(String, u64)> = by.into_iter().collect();
    parts.sort_by_key(|p| std::cmp::Reverse(p.1));
    parts
        .iter()
        .take(8)
        .map(|(name, kb)| format!("{name} {:.1} MB", *kb as f64 / 1024.0))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The median of the durations a log's lines give after `before`, in milliseconds (`per_ms` of the
/// logged unit make one).
fn logged_ms(log: &str, before: &str, per_ms: f64) -> Option<f64> {
    let values: Vec<f64> = log
        .lines()
        .filter_map(|l| l.split(before).nth(1)?.split_whitespace().next()?.parse::<f64>().ok())
        .map(|v| v / per_ms)
        .collect();
    (!values.is_empty()).then(|| median(values))
}

/// A process's own weight: PSS (anonymous and file-backed) and RSS, in MB.
fn memory_split(pid: u32) -> String {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    let mb = |field: &str| {
        let line = rollup.lines().find(|l| l.starts_with(field));
        line.and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok()).unwrap_or(0.0) / 1024.0
    };
    format!(
        "PSS {:.0} MB (anonymous {:.0}, file-backed {:.0}), RSS {:.0} MB",
        mb("Pss:"),
        mb("Pss_Anon:"),
        mb("Pss_File:"),
        mb("Rss:")
    )
}

/// The app process's own proportional set size, in MB, with what else of it still runs.
fn released_memory(pid: u32) -> (f64, String) {
    let (_, each) = pss_kb(pid);
    let own = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    let kb = own.lines().find(|l| l.starts_with("Pss:")).and_then(|l| l.split_whitespace().nth(1));
    (kb.and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) / 1024.0, each.join(", "))
}

/// 500 searches, 100 session keys and 20 release and reopen cycles through the window; the app
/// released before and after.
async fn long_day(desktop: &Desktop, app: &bta_e2e::desktop::App, pid: u32, before: f64) {
    let texts = ["", "VPN", "printer", "dynamo", "T2026112", "7206", "Outlook", "contoso", "backup", "Teams"];
    for cycle in 0..20 {
        open_by_shortcut(desktop, app, true).await;
        let many: Vec<&str> = texts.iter().cycle().skip(cycle).take(25).copied().collect();
        search_times(app, &many).await;
        let script = r#"
            const done = arguments[arguments.length - 1];
            (async () => {
              const rows = await window.__TAURI__.core.invoke('search', { profile: 'Desk', text: '' });
              for (let i = 0; i < 5 && rows.length > 0; i++) {
                await window.__TAURI__.core.invoke('session_key', { profile: 'Desk', ticketId: rows[i % rows.length].id });
              }
              done(rows.length > 0 ? 5 : 0);
            })().catch((e) => done(String(e)));
        "#;
        let made = app.client.execute_async(script, vec![]).await.unwrap();
        assert_eq!(made, json!(5), "the keys were not made");
        app.type_into("#search", "").await;
        hide(app, pid, true).await;
    }
    let (after, _) = released_memory(pid);
    println!(
        "a long day (500 searches, 100 session keys, 20 release and reopen cycles): the released app {before:.1} MB \
         before, {after:.1} MB after ({:+.1} %) — goal within 10 %: {}",
        (after / before - 1.0) * 100.0,
        if (after / before - 1.0).abs() <= 0.10 { "met" } else { "NOT met" }
    );
}
