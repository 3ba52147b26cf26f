//! The worker as a Windows service, as the seed's Middleware Engine runs. `service install`
//! registers `bt-autotask-worker service run --config FILE` with the service control manager
//! (started at boot, restarted after a failure); `start`, `stop` and `uninstall` drive it; `run`
//! is what the manager starts: the worker, logging to daily files in its data folder, and on the
//! manager's Stop (or at shutdown) finishing the jobs in flight as it does on SIGTERM elsewhere.

use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use windows_service::service::{
    ServiceAccess, ServiceAction, ServiceActionType, ServiceControl, ServiceControlAccept, ServiceErrorControl,
    ServiceExitCode, ServiceFailureActions, ServiceFailureResetPeriod, ServiceInfo, ServiceStartType, ServiceState,
    ServiceStatus, ServiceType,
};
use windows_service::service_control_handler::{self, ServiceControlHandlerResult, ServiceStatusHandle};
use windows_service::service_manager::{ServiceManager, ServiceManagerAccess};
use windows_service::{define_windows_service, service_dispatcher};

use crate::{ConfigFile, LogFormat};

const NAME: &str = "bt-autotask-worker";
const DISPLAY_NAME: &str = "bt-autotask worker";
const DESCRIPTION: &str = "Writes every finished BeyondTrust session into its Autotask ticket (bt-autotask).";
/// How long the manager is told a stop may take: the jobs in flight finish first.
const STOP_WAIT: Duration = Duration::from_secs(60);

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Register the service on a configuration: started at boot, restarted after a failure.
    Install {
        #[command(flatten)]
        config: ConfigFile,
        /// Run as this account (`.\name` or `DOMAIN\name`) instead of LocalSystem; its password
        /// is read from standard input. Its secrets are then the ones it stores with `secret set`.
        #[arg(long)]
        account: Option<String>,
    },
    /// Stop and remove the service; the configuration, the store and the logs stay.
    Uninstall,
    /// Start the installed service and wait until it runs.
    Start,
    /// Stop the service (the jobs in flight finish first) and wait until it has stopped.
    Stop,
    /// What the service control manager starts; not for a console (use `run` there).
    #[command(hide = true)]
    Run {
        #[command(flatten)]
        config: ConfigFile,
    },
}

pub fn manage(action: Action, format: LogFormat) -> anyhow::Result<()> {
    match action {
        Action::Install { config, account } => install(&config.path, account, format),
        Action::Uninstall => uninstall(),
        Action::Start => start(),
        Action::Stop => stop(),
        Action::Run { config } => run_dispatcher(&config.path, format),
    }
}

/// Registers the service; `format` (the global `--log-format`) is what it will log in.
fn install(config: &Path, account: Option<String>, format: LogFormat) -> anyhow::Result<()> {
    let config = std::path::absolute(config).with_context(|| format!("{} is not a usable path", config.display()))?;
    // The file must load now; its secrets are the service account's to read, checked at start.
    crate::load_without_secrets(&config)?;
    let password = account.as_ref().map(|_| read_password()).transpose()?;
    let access = ServiceManagerAccess::CONNECT | ServiceManagerAccess::CREATE_SERVICE;
    let manager = ServiceManager::local_computer(None::<&str>, access).map_err(|e| scm_error("install", e))?;
    let info = ServiceInfo {
        name: NAME.into(),
        display_name: DISPLAY_NAME.into(),
        service_type: ServiceType::OWN_PROCESS,
        start_type: ServiceStartType::AutoStart,
        error_control: ServiceErrorControl::Normal,
        executable_path: std::env::current_exe().context("this program's own path is unknown")?,
        launch_arguments: vec![
            "--log-format".into(),
            format.name().into(),
            "service".into(),
            "run".into(),
            "--config".into(),
            config.clone().into(),
        ],
        dependencies: vec![],
        account_name: account.map(OsString::from),
        account_password: password.map(OsString::from),
    };
    let service = manager.create_service(&info, ServiceAccess::CHANGE_CONFIG).map_err(|e| scm_error("install", e))?;
    service.set_description(DESCRIPTION).map_err(|e| scm_error("describe", e))?;
    // Not every service manager keeps failure actions (Wine's does not); the service runs anyway.
    if let Err(e) = service.update_failure_actions(restart_after_failure()) {
        eprintln!("note: the service will not be restarted after a failure: {e}");
    }
    println!("Installed the service '{NAME}' on {}.\nStart it: bt-autotask-worker service start", config.display());
    Ok(())
}

/// Restart after 10 s, then after a minute; the count resets after a day without failures.
fn restart_after_failure() -> ServiceFailureActions {
    let restart =
        |seconds| ServiceAction { action_type: ServiceActionType::Restart, delay: Duration::from_secs(seconds) };
    ServiceFailureActions {
        reset_period: ServiceFailureResetPeriod::After(Duration::from_secs(24 * 3600)),
        reboot_msg: None,
        command: None,
        actions: Some(vec![restart(10), restart(60), restart(60)]),
    }
}

fn read_password() -> anyhow::Result<String> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .context("the account's password could not be read from standard input")?;
    let password = text.trim_end_matches(['\r', '\n']);
    anyhow::ensure!(!password.is_empty(), "no password arrived on standard input for --account; pipe it in");
    Ok(password.to_owned())
}

/// Starts the service; one that runs already (Windows starts it at boot) is no error.
fn start() -> anyhow::Result<()> {
    let service = open(ServiceAccess::START | ServiceAccess::QUERY_STATUS)?;
    match service.start(&[] as &[&OsStr]) {
        Err(e) if os_error(&e) == Some(SERVICE_ALREADY_RUNNING) => {
            println!("The service '{NAME}' is running already.");
            return Ok(());
        }
        started => started.map_err(|e| scm_error("start", e))?,
    }
    match wait_for(&service, ServiceState::Running, Duration::from_secs(60))? {
        ServiceState::Running => {
            println!("The service '{NAME}' is running.");
            Ok(())
        }
        state => anyhow::bail!(
            "the service did not start (it is {state:?}); its log is in the logs folder of its data folder \
             (by default %ProgramData%\\bt-autotask\\logs), and Windows' System event log says why it stopped"
        ),
    }
}

/// Stops the service; one that is not running is no error.
fn stop() -> anyhow::Result<()> {
    let service = open(ServiceAccess::STOP | ServiceAccess::QUERY_STATUS)?;
    if service.query_status().map_err(|e| scm_error("ask about", e))?.current_state == ServiceState::Stopped {
        println!("The service '{NAME}' is not running.");
        return Ok(());
    }
    stop_and_wait(&service)?;
    println!("The service '{NAME}' has stopped.");
    Ok(())
}

fn uninstall() -> anyhow::Result<()> {
    let service = open(ServiceAccess::STOP | ServiceAccess::QUERY_STATUS | ServiceAccess::DELETE)?;
    if service.query_status().map_err(|e| scm_error("ask about", e))?.current_state != ServiceState::Stopped {
        stop_and_wait(&service)?;
    }
    service.delete().map_err(|e| scm_error("remove", e))?;
    println!("Removed the service '{NAME}'. The configuration, the store and the logs are where they were.");
    Ok(())
}

fn stop_and_wait(service: &windows_service::service::Service) -> anyhow::Result<()> {
    service.stop().map_err(|e| scm_error("stop", e))?;
    match wait_for(service, ServiceState::Stopped, STOP_WAIT + Duration::from_secs(30))? {
        ServiceState::Stopped => Ok(()),
        state => anyhow::bail!("the service did not stop in time (it is {state:?}); try again, or look at its log"),
    }
}

fn open(access: ServiceAccess) -> anyhow::Result<windows_service::service::Service> {
    let manager = ServiceManager::local_computer(None::<&str>, ServiceManagerAccess::CONNECT)
        .map_err(|e| scm_error("reach", e))?;
    manager.open_service(NAME, access).map_err(|e| scm_error("open", e))
}

/// Waits until the service is in `state`, or has settled in another (not pending) state, or time
/// runs out; returns the state it is in. A service still Running while it should stop has not
/// taken the control up yet, so that is waited out too.
fn wait_for(
    service: &windows_service::service::Service,
    state: ServiceState,
    timeout: Duration,
) -> anyhow::Result<ServiceState> {
    let deadline = Instant::now() + timeout;
    loop {
        let now = service.query_status().map_err(|e| scm_error("ask about", e))?.current_state;
        let pending =
            matches!(now, ServiceState::StartPending | ServiceState::StopPending | ServiceState::ContinuePending)
                || (state == ServiceState::Stopped && now == ServiceState::Running);
        if now == state || !pending || Instant::now() > deadline {
            return Ok(now);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

// Windows' error codes that the service commands answer in words of their own.
const ACCESS_DENIED: i32 = 5;
const SERVICE_ALREADY_RUNNING: i32 = 1056;
const SERVICE_DOES_NOT_EXIST: i32 = 1060;
const SERVICE_NOT_ACTIVE: i32 = 1062;
const SERVICE_EXISTS: i32 = 1073;

fn os_error(error: &windows_service::Error) -> Option<i32> {
    match error {
        windows_service::Error::Winapi(e) => e.raw_os_error(),
        _ => None,
    }
}

/// The service control manager's refusal, with what to do about the usual ones.
fn scm_error(action: &str, error: windows_service::Error) -> anyhow::Error {
    let advice = match os_error(&error) {
        Some(ACCESS_DENIED) => "run this from a command prompt opened as administrator",
        Some(SERVICE_DOES_NOT_EXIST) => "it is not installed; install it with `bt-autotask-worker service install`",
        Some(SERVICE_NOT_ACTIVE) => "it is not running",
        Some(SERVICE_EXISTS) => "it is installed already; `service uninstall` first to install it anew",
        _ => "the error says why",
    };
    let cause = match &error {
        windows_service::Error::Winapi(e) => e.to_string(),
        other => other.to_string(),
    };
    anyhow::anyhow!("could not {action} the service '{NAME}': {cause}; {advice}")
}

/// The configuration and log format the manager's `service run` was given, for `service_main`.
static SERVICE_ARGS: OnceLock<(PathBuf, LogFormat)> = OnceLock::new();

define_windows_service!(ffi_service_main, service_main);

/// Hands this process to the service control manager, which calls `service_main`.
fn run_dispatcher(config: &Path, format: LogFormat) -> anyhow::Result<()> {
    let _ = SERVICE_ARGS.set((config.to_owned(), format));
    service_dispatcher::start(NAME, ffi_service_main)
        .context("`service run` is started by the service control manager; in a console use `bt-autotask-worker run`")
}

fn service_main(_arguments: Vec<OsString>) {
    let Some((config, format)) = SERVICE_ARGS.get() else { return };
    let _logs = start_logging(config, *format);
    if let Err(e) = serve(config) {
        tracing::error!("the service stopped: {e:#}");
    }
}

/// Runs the worker under the manager: StartPending while it loads its configuration and binds
/// its port, Running until Stop or shutdown, StopPending while the jobs in flight finish, then
/// Stopped (with an error code when the worker failed).
fn serve(config: &Path) -> anyhow::Result<()> {
    let stop = Arc::new(tokio::sync::Notify::new());
    let on_stop = stop.clone();
    let handle = Arc::new(OnceLock::<ServiceStatusHandle>::new());
    let on_stop_handle = handle.clone();
    let status = service_control_handler::register(NAME, move |control| match control {
        ServiceControl::Stop | ServiceControl::Shutdown => {
            // Said before the handler returns: `service stop` asks for the state right after its
            // control, and a state still Running there reads as a stop refused.
            if let Some(status) = on_stop_handle.get()
                && let Err(e) = report(*status, ServiceState::StopPending, ServiceExitCode::Win32(0))
            {
                tracing::warn!("{e:#}");
            }
            on_stop.notify_one();
            ServiceControlHandlerResult::NoError
        }
        ServiceControl::Interrogate => ServiceControlHandlerResult::NoError,
        _ => ServiceControlHandlerResult::NotImplemented,
    })?;
    let _ = handle.set(status);
    report(status, ServiceState::StartPending, ServiceExitCode::Win32(0))?;
    let result = tokio::runtime::Runtime::new().context("the async runtime could not start").and_then(|runtime| {
        runtime.block_on(async {
            let worker = crate::start(config).await?;
            report(status, ServiceState::Running, ServiceExitCode::Win32(0))?;
            stop.notified().await;
            tracing::info!("the service control manager asked the worker to stop");
            crate::finish(worker).await
        })
    });
    let exit = if result.is_ok() { ServiceExitCode::Win32(0) } else { ServiceExitCode::ServiceSpecific(1) };
    report(status, ServiceState::Stopped, exit)?;
    result
}

fn report(status: ServiceStatusHandle, state: ServiceState, exit_code: ServiceExitCode) -> anyhow::Result<()> {
    let controls_accepted = match state {
        ServiceState::Running => ServiceControlAccept::STOP | ServiceControlAccept::SHUTDOWN,
        _ => ServiceControlAccept::empty(),
    };
    let wait_hint = match state {
        ServiceState::StartPending => Duration::from_secs(30),
        ServiceState::StopPending => STOP_WAIT,
        _ => Duration::ZERO,
    };
    status
        .set_service_status(ServiceStatus {
            service_type: ServiceType::OWN_PROCESS,
            current_state: state,
            controls_accepted,
            exit_code,
            checkpoint: 0,
            wait_hint,
            process_id: None,
        })
        .context("the service control manager did not take the service's state")
}

/// Daily log files (30 kept) in `logs` of the worker's data folder; a service has no console.
fn start_logging(config: &Path, format: LogFormat) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    let dir = crate::load_without_secrets(config)
        .and_then(|c| crate::data_dir(&c))
        .ok()
        .or_else(bta_core::config::machine_data_dir)?
        .join("logs");
    let appender = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix("worker")
        .filename_suffix("log")
        .max_log_files(30)
        .build(dir)
        .ok()?;
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let logs = tracing_subscriber::fmt().with_ansi(false).with_writer(writer).with_env_filter(filter);
    match format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
    Some(guard)
}
