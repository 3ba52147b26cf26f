//! `bt-autotask-worker`: the headless worker for a server — a thin command line over bta-core.
//! `run` listens for outbound events and writes sessions into Autotask; `check` tests every
//! connection; `render` shows the notes a report would make; `jobs`, `retry` and `secret set`
//! look after the queue and the keyring; `rep` enrols, lists and revokes the desk's reps;
//! `console` adds the desk console's admins; on Windows, `service` runs it as a Windows service.

mod console;
mod reps;
mod store;
mod unlinked;
#[cfg(windows)]
mod windows_service;

use std::future::Future;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use bta_core::config::{KeyringStore, SecretRef, SecretStore, WorkerConfig};
use bta_core::store::{AsyncStore, Store};
use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "bt-autotask-worker",
    version,
    about = "Writes every finished BeyondTrust session into its Autotask ticket"
)]
struct Cli {
    /// Log lines as text for people or JSON for log collectors.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[cfg(windows)]
impl LogFormat {
    /// The option's value, as typed.
    fn name(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Listen for outbound events and process them until SIGTERM or Ctrl-C (as a Windows
    /// service: until the service is stopped).
    Run {
        #[command(flatten)]
        config: ConfigFile,
    },
    /// Test every connection and setting of every enabled profile, and print a report.
    Check {
        #[command(flatten)]
        config: ConfigFile,
    },
    /// Print the note(s) a SupportSession report would make, without any network.
    Render {
        /// A SupportSession report saved from the appliance's reporting API (XML).
        #[arg(long)]
        report: PathBuf,
        /// A directory of templates replacing the built-in ones.
        #[arg(long)]
        templates: Option<PathBuf>,
    },
    /// List the most recent jobs.
    Jobs {
        #[command(flatten)]
        config: ConfigFile,
        /// How many jobs to list, newest first.
        #[arg(long, default_value_t = 30)]
        limit: usize,
    },
    /// Queue a failed or finished job again.
    Retry {
        /// The job's number, as `jobs` lists it.
        id: i64,
        #[command(flatten)]
        config: ConfigFile,
    },
    /// List every rep's sessions of the last days that ended without a ticket (billable time
    /// not in Autotask yet).
    Unlinked {
        #[command(flatten)]
        config: ConfigFile,
        /// How many days back to look.
        #[arg(long, default_value_t = 14)]
        days: u32,
    },
    /// Attach a session that ended without a ticket to a ticket: the running worker writes its
    /// note(s) and time entry there, once.
    Attach {
        /// The session's id (lsid), or its first characters, as `unlinked` lists it.
        session: String,
        /// The ticket: its id (7216), its number (T20261124.0042), or `new` for a new ticket made
        /// from the profile's Ticket Default Data.
        ticket: String,
        #[command(flatten)]
        config: ConfigFile,
        /// Who attaches it, for the activity log (default: the logged-in user).
        #[arg(long)]
        by: Option<String>,
    },
    /// Dismiss a session that ended without a ticket as not billable: it leaves the list.
    Dismiss {
        /// The session's id (lsid), or its first characters, as `unlinked` lists it.
        session: String,
        #[command(flatten)]
        config: ConfigFile,
        /// Who dismisses it, for the activity log (default: the logged-in user).
        #[arg(long)]
        by: Option<String>,
    },
    /// Print, ready to paste, the Autotask LiveLinks and the BeyondTrust custom link and outbound
    /// event URL for a profile.
    Livelinks {
        #[command(flatten)]
        config: ConfigFile,
        /// The profile whose links to print, by its name.
        #[arg(long)]
        profile: String,
        /// This host's name as the appliance reaches it, for the outbound event URL (by default
        /// the configuration's public_url, else the listener's address).
        #[arg(long)]
        host: Option<String>,
    },
    /// Enrol the desk's reps (each app then holds only its own rep token), list them, revoke them.
    Rep {
        #[command(subcommand)]
        action: reps::RepAction,
    },
    /// Who may log in to the desk console: add and remove admins, list them.
    Console {
        #[command(subcommand)]
        action: console::ConsoleAction,
    },
    /// Retired: the desk's shared token is replaced by each rep's own (see `rep add`).
    #[command(hide = true)]
    DeskToken {
        /// The profile it was for.
        profile: String,
        /// Unused.
        #[arg(long)]
        replace: bool,
    },
    /// Look after the store: bring its tables up to date, or move it from SQLite to PostgreSQL.
    Store {
        #[command(subcommand)]
        action: store::StoreAction,
    },
    /// Store secrets in the OS keyring.
    Secret {
        #[command(subcommand)]
        action: SecretAction,
    },
    /// Run as a Windows service: install, uninstall, start or stop it.
    #[cfg(windows)]
    Service {
        #[command(subcommand)]
        action: windows_service::Action,
    },
}

/// The configuration file, by default in the machine's place for it.
#[derive(Debug, Clone, clap::Args)]
struct ConfigFile {
    /// The configuration file (TOML; see examples/worker.toml).
    #[arg(long = "config", value_name = "FILE", default_value_os_t = bta_core::config::default_worker_config())]
    path: PathBuf,
}

#[derive(Debug, Subcommand)]
enum SecretAction {
    /// Read a secret from standard input into the keyring.
    Set {
        /// The profile the secret belongs to, by its name.
        profile: String,
        /// client_secret, autotask_password or autotask_integration_code.
        setting: String,
    },
    /// Read the password of the store's PostgreSQL user from standard input into the keyring.
    StorePassword,
    /// Read the password of the mail relay's user (smtp_url) from standard input into the keyring.
    SmtpPassword,
}

const SECRET_SETTINGS: [&str; 3] = ["client_secret", "autotask_password", "autotask_integration_code"];

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if !cli.command.logs_itself() {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
        let logs = tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_ansi(bta_core::colour_on_stderr())
            .with_env_filter(filter);
        match cli.log_format {
            LogFormat::Text => logs.init(),
            LogFormat::Json => logs.json().init(),
        }
    }
    let runtime = tokio::runtime::Runtime::new().context("the async runtime could not start")?;
    match cli.command {
        Command::Run { config } => runtime.block_on(run(&config.path, shutdown_signal())),
        Command::Check { config } => runtime.block_on(check(&config.path)),
        Command::Render { report, templates } => render(&report, templates.as_deref()),
        Command::Jobs { config, limit } => jobs(&config.path, limit),
        Command::Retry { id, config } => retry(&config.path, id),
        Command::Unlinked { config, days } => unlinked::list(&config.path, days),
        Command::Attach { session, ticket, config, by } => unlinked::attach(&config.path, &session, &ticket, by),
        Command::Dismiss { session, config, by } => unlinked::dismiss(&config.path, &session, by),
        Command::Livelinks { config, profile, host } => {
            runtime.block_on(livelinks(&config.path, &profile, host.as_deref()))
        }
        Command::Rep { action } => reps::run(action, &runtime),
        Command::Console { action } => console::run(action),
        Command::DeskToken { profile, .. } => bail!(
            "the desk's shared token is retired: each rep's app now holds its own token. Enrol each rep with: bt-autotask-worker rep add <username> --profile '{profile}'"
        ),
        Command::Secret { action: SecretAction::Set { profile, setting } } => set_secret(&profile, &setting),
        Command::Secret { action: SecretAction::StorePassword } => {
            set_unowned_secret(bta_core::config::STORE_PASSWORD, "the store's password")
        }
        Command::Secret { action: SecretAction::SmtpPassword } => {
            set_unowned_secret(bta_core::config::SMTP_PASSWORD, "the mail relay's password")
        }
        Command::Store { action } => store::run(action),
        #[cfg(windows)]
        Command::Service { action } => windows_service::manage(action, cli.log_format),
    }
}

impl Command {
    /// Whether the command sets up its own logging: a Windows service has no console, so it logs
    /// to files.
    fn logs_itself(&self) -> bool {
        #[cfg(windows)]
        if let Command::Service { action: windows_service::Action::Run { .. } } = self {
            return true;
        }
        false
    }
}

fn load(path: &Path) -> anyhow::Result<WorkerConfig> {
    WorkerConfig::load(path, &KeyringStore).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// The configuration without its secrets, for commands that need none (`jobs`, `retry`,
/// `livelinks`): they work on a server without a keyring session.
fn load_without_secrets(path: &Path) -> anyhow::Result<WorkerConfig> {
    WorkerConfig::load(path, &bta_core::config::SkipSecrets).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// The worker's data folder: the configuration's data_dir, else the machine's (on Windows
/// `%ProgramData%\bt-autotask`) or the user's data folder.
fn data_dir(config: &WorkerConfig) -> anyhow::Result<PathBuf> {
    config
        .data_dir
        .clone()
        .or_else(bta_core::config::machine_data_dir)
        .context("no data directory is known for this user; set data_dir in the configuration")
}

/// The SQLite store's file, in the data folder.
fn store_path(config: &WorkerConfig) -> anyhow::Result<PathBuf> {
    store::sqlite_path(config)
}

fn open_store(config: &WorkerConfig) -> anyhow::Result<Store> {
    store::open(config)
}

/// Runs the worker until `stop` completes, then lets the jobs in flight finish.
async fn run(path: &Path, stop: impl Future<Output = ()>) -> anyhow::Result<()> {
    let service = start(path).await?;
    stop.await;
    finish(service).await
}

/// Loads the configuration, opens the store, and starts listening and working.
async fn start(path: &Path) -> anyhow::Result<bta_core::service::Service> {
    let config = load(path)?;
    raise_open_files();
    let store = open_store(&config)?;
    // Not queued again here: another worker may share the store and be running them.
    let running = store.queue_health()?.running;
    if running > 0 {
        tracing::info!(
            "{running} job(s) are marked running: each is taken again once its claim lapses (within {} s) unless a worker beside this one renews it",
            bta_core::store::JOB_LEASE.num_seconds()
        );
    }
    let store = AsyncStore::new(store);
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}; is another program using the port?", config.listen))?;
    let mode = bta_core::service::Mode::Headless { listener };
    let service = bta_core::service::Service::start(&config, store, mode)?;
    tracing::info!(listen = %config.listen, profiles = config.profiles.len(), "bt-autotask-worker is running");
    Ok(service)
}

/// Each rep's app holds a connection open at a desk's worker (its watch): a desk of 1,000 reps
/// needs more open files than the usual soft limit of 1,024, up to what the system allows.
fn raise_open_files() {
    #[cfg(unix)]
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => tracing::debug!("open files allowed: {n}"),
        Err(e) => {
            tracing::warn!("the open files limit could not be raised ({e}); a large desk may be refused connections")
        }
    }
}

/// Stops taking events and lets the jobs in flight finish.
async fn finish(service: bta_core::service::Service) -> anyhow::Result<()> {
    tracing::info!("stopping: finishing the jobs in flight");
    service.stop().await.context("the listener stopped unexpectedly")?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn check(path: &Path) -> anyhow::Result<()> {
    let config = load(path)?;
    let scheme = match &config.tls {
        Some(files) => format!("HTTPS with {}", files.certificate.display()),
        None => "plain HTTP".to_owned(),
    };
    println!(
        "Configuration {}: {} profile(s), outbound events on {} ({scheme})",
        path.display(),
        config.profiles.len(),
        config.listen
    );
    let mut failures = 0;
    match &config.postgres {
        None => println!("{}", store_line(&config)),
        Some(_) => {
            let (line, reached) = store::describe_database(&config).await;
            println!("{line}");
            failures += usize::from(!reached);
        }
    }
    for profile in &config.profiles {
        if profile.disabled {
            println!("\nProfile '{}': disabled", profile.name);
            continue;
        }
        println!("\nProfile '{}' (appliance id '{}')", profile.name, profile.appliance_id);
        failures += bta_core::check::profile(profile, &mut |line: &str| println!("  {line}")).await;
        failures += refused_reps(&config, profile);
        if let bta_core::config::DeskRole::Serves = &profile.desk {
            println!("  ✓ {}", store::describe_copy(&config, &profile.name).await);
        }
    }
    if failures > 0 {
        bail!("{failures} check(s) failed");
    }
    println!("\nAll checks passed.");
    Ok(())
}

/// The reps Autotask refused to let the API user write as this week, from the store the
/// worker keeps (never created here): said as a failure with what to change in Autotask.
fn refused_reps(config: &WorkerConfig, profile: &bta_core::config::Profile) -> usize {
    let Ok(path) = store_path(config).map_err(drop).and_then(|p| if profile.write_as_rep { Ok(p) } else { Err(()) })
    else {
        return 0;
    };
    let listed = bta_core::check::REFUSED_REPS_LISTED;
    match bta_core::store::Store::refused_reps_at(&path, &profile.name, listed, chrono::Utc::now()) {
        Ok(reps) => match bta_core::check::refused_reps_line(&reps) {
            Some(line) => {
                println!("  {line}");
                1
            }
            None => 0,
        },
        Err(e) => {
            println!("  the reps Autotask would not let the API user write as could not be read: {e}");
            0
        }
    }
}

/// The store's place and size, and how long it keeps what is finished.
/// Read from the file, never by opening the store: `check` run as another user (root, before the
/// service's user exists) must not create or migrate a store the service then cannot write.
fn store_line(config: &WorkerConfig) -> String {
    let kept = format!(
        "finished jobs, activity and the ledger are kept {}",
        bta_core::config::describe_retention(config.retention)
    );
    match store_path(config) {
        Ok(path) => match std::fs::metadata(&path) {
            Ok(file) => format!("Store {}: {:.1} MB; {kept}", path.display(), file.len() as f64 / 1_000_000.0),
            Err(_) => format!("Store {}: not created yet (the worker makes it when it starts); {kept}", path.display()),
        },
        Err(e) => format!("Store: {e}"),
    }
}

async fn livelinks(path: &Path, name: &str, host: Option<&str>) -> anyhow::Result<()> {
    let config = load_without_secrets(path)?;
    let Some(profile) = config.profile(name) else {
        let names: Vec<&str> = config.profiles.iter().map(|p| p.name.as_str()).collect();
        bail!("no profile is named '{name}'; the profiles are: {}", names.join(", "));
    };
    let appliance = profile.beyondtrust.base_url().map_err(|e| anyhow::anyhow!(e))?;
    // With a Services URL the web UI is derived; otherwise zone discovery asks Autotask.
    let zone = bta_core::autotask::AutotaskClient::zone_without_secrets(&profile.autotask).await?;
    let outbound = config.outbound_event_url(profile, host, None);
    print!("{}", bta_core::beyondtrust::livelinks::setup_instructions(&appliance, &zone.web_root, &outbound));
    Ok(())
}

fn render(report: &Path, templates: Option<&Path>) -> anyhow::Result<()> {
    let file = std::fs::File::open(report).with_context(|| format!("{} cannot be read", report.display()))?;
    let renderer = bta_core::render::Renderer::new(templates)?;
    let mut count = 0;
    for session in bta_core::beyondtrust::read_sessions(std::io::BufReader::new(file)) {
        let session = session.with_context(|| format!("{} is not a SupportSession report", report.display()))?;
        for note in renderer.session_notes(&session, &chrono::Local)? {
            count += 1;
            println!("=== Session {} — note {} of {}: {} ===", session.lsid, note.part, note.parts, note.title);
            println!("{}\n", note.description);
        }
    }
    if count == 0 {
        bail!("{} holds no sessions", report.display());
    }
    Ok(())
}

fn jobs(path: &Path, limit: usize) -> anyhow::Result<()> {
    let store = open_store(&load_without_secrets(path)?)?;
    for job in store.recent_jobs(limit)? {
        let why = job.last_error.as_deref().unwrap_or("");
        println!(
            "{:>6}  {:<8}  tries {:<2}  {}  {:<12}  {:<50}  {}  {why}",
            job.id,
            format!("{:?}", job.state).to_lowercase(),
            job.attempts,
            job.created_at.format("%Y-%m-%d %H:%M:%S"),
            job.profile,
            job.event,
            job.lsid.unwrap_or_default(),
        );
    }
    Ok(())
}

fn retry(path: &Path, id: i64) -> anyhow::Result<()> {
    let store = open_store(&load_without_secrets(path)?)?;
    if store.retry(id, chrono::Utc::now())? {
        println!("Job {id} is queued again; a running worker picks it up within 5 seconds.");
        Ok(())
    } else {
        bail!("job {id} is not a failed, ignored or finished job (see: bt-autotask-worker jobs)")
    }
}

fn set_secret(profile: &str, setting: &str) -> anyhow::Result<()> {
    if !SECRET_SETTINGS.contains(&setting) {
        bail!("'{setting}' is not a secret setting; use one of {}", SECRET_SETTINGS.join(", "));
    }
    let secret = read_secret()?;
    KeyringStore.set(&SecretRef::store_key(profile, setting), &secret).map_err(|e| anyhow::anyhow!(e))?;
    println!("Stored {setting} of profile '{profile}' in the OS keyring.");
    Ok(())
}

/// A secret of the worker's own, belonging to no profile (the store's, the mail relay's).
fn set_unowned_secret(place: SecretRef, what: &str) -> anyhow::Result<()> {
    let secret = read_secret()?;
    let SecretRef::Stored { profile, setting } = place else { bail!("{what} has no place in the keyring") };
    KeyringStore.set(&SecretRef::store_key(&profile, setting), &secret).map_err(|e| anyhow::anyhow!(e))?;
    println!("Stored {what} in the OS keyring.");
    Ok(())
}

/// A secret piped to standard input.
fn read_secret() -> anyhow::Result<bta_core::Secret> {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).context("the secret could not be read from standard input")?;
    let secret = text.trim_end_matches(['\r', '\n']);
    if secret.is_empty() {
        bail!(
            "no secret arrived on standard input; pipe it in, e.g. read -rs S && printf %s \"$S\" | bt-autotask-worker secret set ..."
        );
    }
    Ok(bta_core::Secret::new(secret))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// An operator reads `--help`: every command and every option of each says what it is.
    #[test]
    fn every_command_and_option_has_a_help_line() {
        fn walk(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in command.get_arguments().filter(|a| !matches!(a.get_id().as_str(), "help" | "version")) {
                if arg.get_help().is_none() {
                    missing.push(format!("{path} {}", arg.get_id()));
                }
            }
            for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
                if sub.get_about().is_none() {
                    missing.push(format!("{path} {}", sub.get_name()));
                }
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&super::Cli::command(), "bt-autotask-worker", &mut missing);
        assert!(missing.is_empty(), "no help line: {missing:?}");
    }
}
