//! `bt-autotask`: the tray app. A thin Tauri shell — tray, window, commands, notifications —
//! over `bta-core`, with the worker embedded for this rep's own sessions.
//!
//! `bt-autotask [--config FILE] [--show]` runs on the rep's configuration (by default in the OS
//! config folder); `bt-autotask --demo` runs on built-in stand-ins.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod activity;
mod autostart;
mod commands;
mod demo;
mod enrolment;
mod machine_desk;
mod notices;
mod opener;
mod placement;
mod shortcut;
mod state;
mod ticket_watch;
mod tray;
mod unlinked;
mod webkit_env;
mod window;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use bta_core::config::{KeyringStore, WorkerConfig, default_data_dir};
use bta_core::store::Store;
use tauri::{Manager, RunEvent, WindowEvent};

use placement::Near;
use state::{AppState, Secrets};

/// The usage, with where this user's files are.
fn usage() -> String {
    let shown =
        |path: Option<PathBuf>| path.map_or_else(|| "unknown for this user".to_owned(), |p| p.display().to_string());
    format!(
        "usage: bt-autotask [--config FILE] [--show] [bt-autotask://enrol?…] | --demo\n\
         \x20 --config FILE  the configuration (default: {})\n\
         \x20 --show         open the window at start instead of waiting in the tray\n\
         \x20 bt-autotask://enrol?…  enrol this app at the desk's worker with the link its administrator sent\n\
         \x20 --demo         run on built-in stand-ins of Autotask and BeyondTrust, nothing of yours is touched\n\
         The store is app.sqlite3 in {} (or the configuration's data_dir); logs are in {}.\n{}",
        shown(default_config_path().ok()),
        shown(default_data_dir()),
        shown(log_dir()),
        machine_desk::read().map_or_else(
            || "This computer's installation names no desk.".to_owned(),
            |desk| format!(
                "This computer's installation names the desk {}; enrol with the code from your desk lead.",
                desk.url
            )
        ),
    )
}

#[derive(Debug, Default)]
struct Args {
    demo: bool,
    show: bool,
    config: Option<PathBuf>,
    /// An enrolment link the OS opened the app with.
    link: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args::default();
    let mut words = std::env::args().skip(1);
    while let Some(word) = words.next() {
        match word.as_str() {
            "--demo" => args.demo = true,
            "--show" => args.show = true,
            "--config" => args.config = Some(words.next().ok_or("--config needs a file")?.into()),
            "--version" => return Err(format!("bt-autotask {}", env!("CARGO_PKG_VERSION"))),
            "--help" | "-h" => return Err(usage()),
            link if enrolment::link_in([link.to_owned()]).is_some() => args.link = Some(link.to_owned()),
            other => return Err(format!("unknown argument '{other}'\n{}", usage())),
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    let started = Instant::now();
    webkit_env::lighten_webkit();
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            attach_to_console();
            println!("{message}");
            return ExitCode::SUCCESS;
        }
    };
    let _logs = start_logging(args.demo);
    match run(args, started) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Started from a menu the app has no terminal: the log file keeps why it stopped.
            tracing::error!("bt-autotask could not start: {e:#}");
            attach_to_console();
            eprintln!("bt-autotask: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// A Windows release build is a GUI program, which Windows starts without a console; to answer
/// `--help` and `--version` (or say why it stopped) in the prompt it was typed in, it attaches to
/// that prompt's console. Elsewhere, and without such a prompt, nothing changes.
#[cfg(windows)]
#[allow(unsafe_code)]
fn attach_to_console() {
    use windows_sys::Win32::System::Console::{ATTACH_PARENT_PROCESS, AttachConsole};
    // SAFETY: AttachConsole takes a process id only; when there is no console to attach to it
    // fails and changes nothing.
    unsafe { AttachConsole(ATTACH_PARENT_PROCESS) };
}

#[cfg(not(windows))]
fn attach_to_console() {}

/// Logs to stderr and, outside the demo, to daily files in the OS's local data folder (`logs/`,
/// the last 7 kept): a tray app started from a menu has no terminal to read.
fn start_logging(demo: bool) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let stderr = tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_ansi(bta_core::colour_on_stderr());
    let files = log_dir().filter(|_| !demo).and_then(|dir| {
        tracing_appender::rolling::Builder::new()
            .rotation(tracing_appender::rolling::Rotation::DAILY)
            .filename_prefix("bt-autotask")
            .filename_suffix("log")
            .max_log_files(7)
            .build(dir)
            .ok()
    });
    let (file_layer, guard) = match files {
        Some(appender) => {
            let (writer, guard) = tracing_appender::non_blocking(appender);
            (Some(tracing_subscriber::fmt::layer().with_ansi(false).with_writer(writer)), Some(guard))
        }
        None => (None, None),
    };
    tracing_subscriber::registry().with(filter).with(stderr).with(file_layer).init();
    guard
}

/// `logs` in the OS's local data folder (on Windows `%LOCALAPPDATA%\bt-autotask\data\logs`).
fn log_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "bt-autotask").map(|d| d.data_local_dir().join("logs"))
}

fn default_config_path() -> anyhow::Result<PathBuf> {
    let dirs = directories::ProjectDirs::from("", "", "bt-autotask")
        .context("no config folder is known for this user; start with --config FILE")?;
    Ok(dirs.config_dir().join("config.toml"))
}

/// The store: in the configuration's data_dir, else the OS data folder.
fn open_store(config: Option<&WorkerConfig>) -> anyhow::Result<Store> {
    let dir = config
        .map_or_else(default_data_dir, WorkerConfig::store_dir)
        .context("no data folder is known for this user; set data_dir in the configuration")?;
    std::fs::create_dir_all(&dir).with_context(|| format!("{} cannot be created", dir.display()))?;
    Ok(Store::open(&dir.join("app.sqlite3"))?)
}

fn run(args: Args, started: Instant) -> anyhow::Result<()> {
    let (demo, secrets, config_path) = if args.demo {
        let (demo, secrets) =
            tauri::async_runtime::block_on(demo::start()).context("the demo stand-ins did not start")?;
        let path = demo.config_path();
        (Some(demo), secrets as Secrets, path)
    } else {
        let path = match args.config {
            Some(path) => path,
            None => default_config_path()?,
        };
        (None, Arc::new(KeyringStore) as Secrets, path)
    };
    let loaded = state::load(&config_path, secrets.as_ref());
    let store = open_store(loaded.config.as_ref())?;
    let show_at_start = (args.show || demo.is_some() || !config_path.exists()) && args.link.is_none();
    // A first start on a computer whose installation names the desk opens where the code goes.
    let first_view =
        if !config_path.exists() && machine_desk::read().is_some() && demo.is_none() { "settings" } else { "search" };
    let link = args.link;
    if demo.is_none() {
        enrolment::register_scheme();
    }
    let state = AppState::new(config_path, secrets, loaded, store, demo);
    tauri::Builder::default()
        // First, so a second launch only shows the running app's window.
        .plugin(tauri_plugin_single_instance::init(|app, argv, _cwd| match enrolment::link_in(argv) {
            Some(link) => enrolment::opened(app, link),
            None => window::show(app, "search", Near::Panel),
        }))
        .plugin(tauri_plugin_autostart::init(tauri_plugin_autostart::MacosLauncher::LaunchAgent, None))
        .plugin(shortcut::plugin())
        .manage(state)
        .manage(shortcut::Current::default())
        .manage(window::Life::default())
        .manage(notices::RecentWrites::default())
        .invoke_handler(tauri::generate_handler![
            commands::search,
            commands::session_key,
            commands::copy_key,
            commands::send_invitation,
            commands::jump,
            commands::open_ticket,
            commands::open_ticket_number,
            commands::activity,
            commands::retry_job,
            commands::unlinked,
            commands::attach_session,
            commands::dismiss_session,
            commands::check_now,
            commands::worker_status,
            commands::set_paused,
            commands::settings,
            commands::save_profile,
            commands::remove_profile,
            commands::enrol_preview,
            commands::enrol,
            commands::pending_enrolment,
            commands::leave,
            commands::store_secret,
            commands::test_connection,
            commands::set_autostart,
            commands::set_global_shortcut,
            commands::set_release_window_after,
            commands::hide_window,
            commands::window_ready,
        ])
        .on_window_event(|window, event| {
            // Closing hides: the app lives in the tray until Quit.
            if let WindowEvent::CloseRequested { api, .. } = event {
                api.prevent_close();
                window::hide(window.app_handle());
            }
        })
        .setup(move |app| {
            tray::build(app.handle())?;
            shortcut::apply(app.handle(), &shortcut::configured(app.handle()));
            println!("bt-autotask: tray ready in {} ms", started.elapsed().as_millis());
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move { begin(handle).await });
            notices::start(app.handle());
            ticket_watch::start(app.handle());
            if let Some(link) = link.clone() {
                enrolment::opened(app.handle(), link);
            } else if show_at_start {
                window::show(app.handle(), first_view, Near::Panel);
            } else {
                window::release_later(app.handle());
            }
            Ok(())
        })
        .build(tauri::generate_context!())
        .context("the window could not be created")?
        .run(|app, event| {
            // A released window was the last one; the app lives on in the tray until Quit.
            if let RunEvent::ExitRequested { code: None, api, .. } = &event {
                api.prevent_exit();
            }
            if let RunEvent::Exit = event {
                let state = app.state::<AppState>();
                tauri::async_runtime::block_on(async {
                    if let Some(worker) = state.worker.lock().await.take() {
                        let _ = worker.stop().await;
                    }
                });
            }
        });
    Ok(())
}

/// Starts the worker; in the demo, then ends two sessions and looks for them at once.
async fn begin(app: tauri::AppHandle) {
    let state = app.state::<AppState>();
    // Only now, past the single-instance guard, is this the one process working the store.
    if let Err(e) = state.store.run(|s| s.requeue_interrupted()).await {
        tracing::warn!("jobs interrupted by the last stop could not be queued again: {e}");
    }
    state.restart_worker().await;
    if let Some(demo) = &state.demo {
        match demo.end_sessions().await {
            Ok(()) => {
                if let Some(worker) = state.worker.lock().await.as_ref() {
                    worker.check_now();
                }
            }
            Err(e) => tracing::warn!("the demo sessions could not be ended: {e}"),
        }
    }
}
