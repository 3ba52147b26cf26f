//! The worker's configuration: a TOML file of one or more profiles — the seed's "plugin
//! configurations" — with every setting the seed lists, named after it in snake_case.
//! Loading checks everything and reports every problem at once, each with its profile, key and
//! what to do. Secrets are resolved from the secret store or the environment, never the file.

pub mod form;
mod front;
mod keyring_store;
mod reader;
mod secrets;
mod smtp;

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::Secret;
use crate::autotask::AutotaskSettings;
use crate::beyondtrust::{BeyondTrustSettings, EventType};
pub use front::{DEFAULT_REP_AUTOTASK_SEARCHES_PER_HOUR, default_monitoring_allowlist};
pub use keyring_store::KeyringStore;
use reader::Section;
pub use secrets::{KEYRING_SERVICE, MemoryStore, NoStore, SecretRef, SecretStore, SkipSecrets};
pub use smtp::{SMTP_PASSWORD, SmtpSecurity, SmtpSettings};

/// The seed's outbound and polling event types, by their snake_case keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SeedEvent {
    SupportSessionEnd,
    CustomerExitSurveyIsCompleted,
    RepresentativeSurveyIsCompleted,
    SomeoneJoinsASupportSession,
}

impl SeedEvent {
    pub const ALL: [SeedEvent; 4] = [
        SeedEvent::SupportSessionEnd,
        SeedEvent::CustomerExitSurveyIsCompleted,
        SeedEvent::RepresentativeSurveyIsCompleted,
        SeedEvent::SomeoneJoinsASupportSession,
    ];

    pub fn key(self) -> &'static str {
        match self {
            SeedEvent::SupportSessionEnd => "support_session_end",
            SeedEvent::CustomerExitSurveyIsCompleted => "customer_exit_survey_is_completed",
            SeedEvent::RepresentativeSurveyIsCompleted => "representative_survey_is_completed",
            SeedEvent::SomeoneJoinsASupportSession => "someone_joins_a_support_session",
        }
    }

    /// The appliance event this setting stands for.
    pub fn event_type(self) -> EventType {
        match self {
            SeedEvent::SupportSessionEnd => EventType::SessionEnd,
            SeedEvent::CustomerExitSurveyIsCompleted => EventType::CustomerExitSurveyCompleted,
            SeedEvent::RepresentativeSurveyIsCompleted => EventType::RepExitSurveyCompleted,
            SeedEvent::SomeoneJoinsASupportSession => EventType::MemberAdded,
        }
    }

    pub fn from_event_type(t: EventType) -> Option<SeedEvent> {
        SeedEvent::ALL.into_iter().find(|s| s.event_type() == t)
    }

    fn parse(key: &str) -> Option<SeedEvent> {
        SeedEvent::ALL.into_iter().find(|s| s.key() == key)
    }
}

/// The seed's Time Entry Default Data (`defaultDomain`, `roleName`, `summaryNotes`, …), kept whole.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TimeEntryDefaults(pub Map<String, Value>);

impl TimeEntryDefaults {
    fn text(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
    }
    /// Joined to the BeyondTrust username to find the rep's Autotask resource by e-mail.
    pub fn default_domain(&self) -> Option<&str> {
        self.text("defaultDomain")
    }
    pub fn role_name(&self) -> Option<&str> {
        self.text("roleName")
    }
    pub fn summary_notes(&self) -> Option<&str> {
        self.text("summaryNotes")
    }
    pub fn internal_notes(&self) -> Option<&str> {
        self.text("internalNotes")
    }
    pub fn offset_hours(&self) -> Option<f64> {
        self.0.get("offsetHours").and_then(Value::as_f64)
    }
}

/// Where a time entry's role comes from (`time_entry_roles`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleSource {
    /// `ticket`: the ticket's `assignedResourceRoleID`, when the rep is its assigned resource.
    Ticket,
    /// `role_name`: Time Entry Default Data's `roleName`, when the rep holds it.
    RoleName,
    /// `default`: the rep's default service desk role (ResourceServiceDeskRoles `isDefault`).
    Default,
}

impl RoleSource {
    pub const ALL: [RoleSource; 3] = [RoleSource::Ticket, RoleSource::RoleName, RoleSource::Default];

    pub fn key(self) -> &'static str {
        match self {
            RoleSource::Ticket => "ticket",
            RoleSource::RoleName => "role_name",
            RoleSource::Default => "default",
        }
    }
}

/// One plugin configuration: an appliance and an Autotask instance.
#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    pub appliance_id: String,
    pub disabled: bool,
    pub beyondtrust: BeyondTrustSettings,
    pub outbound_event_types: Vec<SeedEvent>,
    pub polling_event_types: Vec<SeedEvent>,
    pub polling_interval_minutes: Option<u32>,
    pub retry_attempt_limit: u32,
    pub retry_outbound_event_types: Vec<SeedEvent>,
    pub retry_polling_event_types: Vec<SeedEvent>,
    /// Only these addresses may post outbound events for this profile (all when empty).
    pub source_allowlist: Vec<IpAddr>,
    pub autotask: AutotaskSettings,
    pub note_type: i64,
    pub publish_notes_as_public: bool,
    pub update_time_entry: bool,
    pub time_entry_default_data: TimeEntryDefaults,
    /// Beyond the seed: each note and time entry of a session is written as its primary rep
    /// (`ImpersonationResourceId`), falling back to the API user where Autotask refuses.
    pub write_as_rep: bool,
    /// Beyond the seed: where a time entry's role comes from, tried in this order.
    pub time_entry_roles: Vec<RoleSource>,
    /// Beyond the seed: the session's recording links in its note.
    pub recording_links_in_note: bool,
    /// Beyond the seed: the ticket status (a Status picklist label) a session's end sets…
    pub status_on_session_end: Option<String>,
    /// …when the ticket's status is one of these labels (a completed ticket is never reopened).
    pub status_on_session_end_from: Vec<String>,
    /// Beyond the seed: a ticket without a resource is assigned to the session's rep as it ends.
    pub assign_unassigned_ticket: bool,
    /// Beyond the seed: blocks and a minimum for the time entry's billed hours, and whether a
    /// session across UTC midnight stays one entry.
    pub billing: crate::billing::BillingRules,
    /// Beyond the seed: the work type (a BillingCodes name of useType 1) of time entries and of
    /// tickets the worker creates.
    pub work_type: Option<String>,
    pub enable_automatic_ticket_creation: bool,
    pub automatic_ticket_creation_without_external_key: bool,
    pub automatic_ticket_creation_session_types: Vec<String>,
    pub ticket_default_data: Map<String, Value>,
    pub templates_dir: Option<PathBuf>,
    /// Whether the tray app's embedded worker handles this profile (its rep's own sessions).
    /// Off when the desk runs the headless worker for everyone.
    pub embedded_worker: bool,
    /// The tray app's rep: their BeyondTrust username (their own queue for session keys, and the
    /// primary rep whose sessions the embedded worker writes).
    pub rep_username: Option<String>,
    /// The tray app's rep: their Autotask resource's e-mail ("my open tickets").
    pub rep_email: Option<String>,
    /// How this profile takes part in a desk-wide watch (none, serving it, or following it).
    pub desk: DeskRole,
    /// How long a rep's enrolment code works (the worker that serves the desk).
    pub enrolment_hours: f64,
    /// Set for a profile the app was enrolled into: it holds no API credential, only the rep's
    /// token, and does everything that needs one through the desk's worker.
    pub enrolled: Option<Enrolled>,
}

/// What an enrolled profile knows besides the desk's worker: where its LiveLinks and tickets open.
#[derive(Debug, Clone, PartialEq)]
pub struct Enrolled {
    /// The Autotask web UI, for opening tickets.
    pub autotask_web: url::Url,
    /// The SHA-256 of the worker's certificate the enrolment link named (`sha256:…`), trusted
    /// besides what the OS trusts.
    pub certificate_pin: Option<String>,
}

/// A profile's part in the desk: the headless worker serves it to enrolled reps, the tray apps
/// follow it with their rep's token.
#[derive(Debug, Clone, Default)]
pub enum DeskRole {
    /// Each tray app watches its rep's tickets itself.
    #[default]
    Alone,
    /// The headless worker: looks once per interval for every rep's changed tickets, and serves
    /// each enrolled rep their own at `/desk/*`.
    Serves,
    /// The tray app: learns of changes from the desk's worker at `url` (showing its rep token),
    /// and lets it write the rep's sessions while it answers; takes over after `takeover_after`
    /// without an answer.
    Follows {
        url: url::Url,
        /// The desk's other workers (`desk_worker_other_urls`), tried in order when `url` stops
        /// answering.
        also: Vec<url::Url>,
        token: Secret,
        takeover_after: std::time::Duration,
    },
}

/// The whole configuration file.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Where the outbound event listener binds (the seed's default port is 8180).
    pub listen: SocketAddr,
    /// Serve the intake over HTTPS with these PEM files (plain HTTP when absent).
    pub tls: Option<crate::serve::TlsFiles>,
    /// Where the store lives; the OS data directory when absent.
    pub data_dir: Option<PathBuf>,
    /// The store on PostgreSQL (`store_url`), shared by the desk's workers; SQLite in `data_dir`
    /// when absent.
    pub postgres: Option<PostgresStore>,
    /// First wait before retrying a failed job (doubled each retry, at most an hour).
    pub retry_delay: std::time::Duration,
    /// Wait between looks at a session report that does not show the session's end yet.
    pub report_lag_wait: std::time::Duration,
    /// How often the tray app looks for changes to the rep's open tickets.
    pub ticket_watch: std::time::Duration,
    /// The keys that open the tray app's window with the search focused ("" = none).
    pub global_shortcut: String,
    /// How long the tray app's window stays hidden before its web view is closed to free its
    /// memory (`None` = never).
    pub release_window_after: Option<std::time::Duration>,
    /// Finished jobs, their events, activity and the ledger are pruned once this old.
    pub retention: chrono::Duration,
    /// How long the worker takes a company, contact or device it looked up for the desk's
    /// searches as current.
    pub lookup_keep: std::time::Duration,
    /// How far back the desk's copy of the tickets keeps completed ones (`search_copy_days`;
    /// open ones it keeps all).
    pub search_copy: chrono::Duration,
    /// Whether the desk's worker registers Autotask's ticket webhooks at its desk address
    /// (`autotask_webhooks`), for a copy current within seconds.
    pub autotask_webhooks: bool,
    /// Where reps' apps reach this worker (`https://desk.example.com:8180`), for enrolment links;
    /// derived from `listen` when it is this machine only.
    pub public_url: Option<url::Url>,
    /// The desk's other workers as its apps reach them (`other_desk_urls`), in the order an app
    /// tries them when the one it uses stops answering; enrolment links carry them.
    pub other_desk_urls: Vec<url::Url>,
    /// Where the desk console listens (`None`: no console); the seed's tool's 127.0.0.1:53231 by default.
    pub console_listen: Option<SocketAddr>,
    /// Where browsers reach the console (`console_url`; by default what `console_listen` implies
    /// when it is one address): the origin its pages' changes must come from.
    pub console_url: Option<url::Url>,
    /// How every listener treats its clients: timeouts, the connection cap, body limits.
    pub serving: crate::serve::ServeSettings,
    /// Who may read `/metrics` and `/healthz`'s details (`monitoring_allowlist`; this machine by
    /// default): every other address gets a bare "up or not".
    pub monitoring_allowlist: Vec<ipnet::IpNet>,
    /// How many searches one rep may have the desk's worker ask Autotask for, an hour.
    pub rep_autotask_searches_per_hour: u32,
    /// The desk's mail relay, for sending reps their enrolment links (`smtp_url`).
    pub smtp: Option<SmtpSettings>,
    pub profiles: Vec<Profile>,
    /// The file it was read from (none when parsed from text), for the console's Profiles page.
    pub source: Option<PathBuf>,
}

/// The desk console's address unless the configuration names another: the seed's administration tool's.
pub const DEFAULT_CONSOLE_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 53231);

/// Every problem found in a configuration, one per line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the configuration has {} problem(s):\n- {}", .0.len(), .0.join("\n- "))]
pub struct ConfigErrors(pub Vec<String>);

const TOP_KEYS_HINT: &str = "top-level keys are listen, public_url, other_desk_urls, console_listen, console_url, tls_certificate_file, tls_key_file, request_read_timeout_seconds, tls_handshake_timeout_seconds, idle_timeout_seconds, max_connections, request_body_limit_kib, event_body_limit_kib, trusted_proxies, monitoring_allowlist, rep_autotask_searches_per_hour, data_dir, store_url, store_password_env, store_ca_file, token_key_file, smtp_url, smtp_from, smtp_password_env, smtp_ca_file, retry_delay_ms, report_lag_wait_ms, ticket_watch_seconds, lookup_keep_minutes, search_copy_days, autotask_webhooks, global_shortcut, release_window_after_minutes, retention_days and [[profile]]";

/// How long the tray app's hidden window is kept unless the configuration says otherwise.
pub const DEFAULT_RELEASE_WINDOW_AFTER: std::time::Duration = std::time::Duration::from_secs(10 * 60);

/// The tray app's global shortcut unless the configuration names another.
pub const DEFAULT_GLOBAL_SHORTCUT: &str = "Ctrl+Alt+Space";
/// `time_entry_roles`: a list of `ticket`, `role_name`, `default`, each at most once.
fn read_role_sources(s: &mut Section<'_>) -> Vec<RoleSource> {
    let Some(words) = s.strings("time_entry_roles") else {
        return RoleSource::ALL.to_vec();
    };
    let mut order = Vec::new();
    for word in words {
        match RoleSource::ALL.into_iter().find(|r| r.key() == word.to_ascii_lowercase()) {
            Some(r) if !order.contains(&r) => order.push(r),
            Some(_) => s.problem("time_entry_roles", format!("names '{word}' twice")),
            None => s.problem(
                "time_entry_roles",
                format!("does not know '{word}'; list some of \"ticket\", \"role_name\", \"default\""),
            ),
        }
    }
    if order.is_empty() {
        s.problem("time_entry_roles", "lists no source; the default is [\"ticket\", \"role_name\", \"default\"]");
    }
    order
}

const PROFILE_KEYS_HINT: &str = "every profile key is shown in examples/worker.toml";

impl WorkerConfig {
    /// Reads and checks a configuration file, resolving secrets from `store` or the environment.
    pub fn load(path: &Path, store: &dyn SecretStore) -> Result<WorkerConfig, ConfigErrors> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigErrors(vec![format!("{}: cannot be read ({e})", path.display())]))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let mut config = WorkerConfig::parse(&text, base, store)?;
        config.source = Some(path.to_owned());
        Ok(config)
    }

    /// Checks configuration text; relative paths in it are taken from `base`.
    pub fn parse(text: &str, base: &Path, store: &dyn SecretStore) -> Result<WorkerConfig, ConfigErrors> {
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            ConfigErrors(vec![format!("the file is not valid TOML: {}", e.to_string().trim())])
        })?;
        let mut problems = Vec::new();
        let mut top = Section::new(&table, "the file", &mut problems);
        let listen = top.string("listen").unwrap_or_else(|| "0.0.0.0:8180".to_owned());
        let data_dir = top.string("data_dir").map(|d| base.join(d));
        let postgres = read_postgres_store(&mut top, base);
        let smtp = smtp::read_smtp(&mut top, base, store);
        let millis = |n: Option<i64>, default: u64| std::time::Duration::from_millis(n.map_or(default, |n| n as u64));
        let retry_delay = millis(top.integer("retry_delay_ms", 1..=86_400_000), 30_000);
        let report_lag_wait = millis(top.integer("report_lag_wait_ms", 1..=3_600_000), 5_000);
        let ticket_watch =
            std::time::Duration::from_secs(top.integer("ticket_watch_seconds", 5..=86_400).unwrap_or(180) as u64);
        let global_shortcut = top.string("global_shortcut").unwrap_or_else(|| DEFAULT_GLOBAL_SHORTCUT.to_owned());
        // Fractions of a minute are for trying the release out (the UI tests); a rep keeps minutes.
        let release_window_after = match top.number("release_window_after_minutes", 0.0..=1440.0) {
            Some(minutes) => (minutes > 0.0).then(|| std::time::Duration::from_secs_f64(minutes * 60.0)),
            None => Some(DEFAULT_RELEASE_WINDOW_AFTER),
        };
        // Fractions of a day are for trying pruning out (the soak benchmark); a desk keeps days.
        let retention_days = top.number("retention_days", 0.001..=3650.0).unwrap_or(90.0);
        let retention = chrono::Duration::milliseconds((retention_days * 86_400_000.0) as i64);
        // Fractions of a minute are for compressed days (the desk benchmark); a desk keeps hours.
        let lookup_keep_minutes = top.number("lookup_keep_minutes", 0.001..=10_080.0).unwrap_or(240.0);
        let lookup_keep = std::time::Duration::from_secs_f64(lookup_keep_minutes * 60.0);
        let search_copy_days = top.number("search_copy_days", 0.001..=3650.0).unwrap_or(30.0);
        let search_copy = chrono::Duration::milliseconds((search_copy_days * 86_400_000.0) as i64);
        let autotask_webhooks = top.bool("autotask_webhooks", false);
        let tls = match (top.string("tls_certificate_file"), top.string("tls_key_file")) {
            (Some(certificate), Some(key)) => {
                let files = crate::serve::TlsFiles { certificate: base.join(certificate), key: base.join(key) };
                if let Err(e) = files.load() {
                    top.problem("tls_certificate_file", format!("HTTPS cannot be served: {e}"));
                }
                Some(files)
            }
            (None, None) => None,
            (Some(_), None) => {
                top.problem("tls_key_file", "is needed with tls_certificate_file: the certificate's private key (PEM)");
                None
            }
            (None, Some(_)) => {
                top.problem("tls_certificate_file", "is needed with tls_key_file: the certificate chain (PEM)");
                None
            }
        };
        let public_url = top.string("public_url").and_then(|text| {
            crate::transport_policy::secure_url(&text, "public_url").map_err(|e| top.problem("public_url", e)).ok()
        });
        let other_desk_urls = secure_urls(&mut top, "other_desk_urls");
        // An empty value is meaningful here: no console.
        let console_off =
            table.get("console_listen").and_then(toml::Value::as_str).is_some_and(|t| t.trim().is_empty());
        let console_listen = if console_off {
            top.has("console_listen"); // a known key, meaning no console
            None
        } else {
            match top.string("console_listen") {
                None => Some(DEFAULT_CONSOLE_LISTEN),
                Some(text) => text
                    .trim()
                    .parse::<SocketAddr>()
                    .map_err(|_| {
                        top.problem(
                            "console_listen",
                            format!("'{text}' is not an address:port like 127.0.0.1:53231 (empty: no console)"),
                        )
                    })
                    .ok(),
            }
        };
        if let Some(address) = console_listen.filter(|a| !a.ip().is_loopback())
            && tls.is_none()
        {
            top.problem(
                "console_listen",
                format!("the console's passwords and sessions would cross the network in clear on {address}; set tls_certificate_file and tls_key_file (HTTPS), or keep it on 127.0.0.1"),
            );
        }
        let front = front::read_front(&mut top, tls.is_some(), console_listen);
        let has_profiles = top.has("profile");
        top.finish(TOP_KEYS_HINT);
        let listen = listen.parse::<SocketAddr>().unwrap_or_else(|_| {
            problems.push(format!("the file, key 'listen': '{listen}' is not an address:port like 0.0.0.0:8180"));
            SocketAddr::from(([0, 0, 0, 0], 8180))
        });
        let mut profiles = Vec::new();
        match table.get("profile") {
            Some(toml::Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    match item.as_table() {
                        Some(t) => profiles.push(read_profile(t, i, base, store, &mut problems)),
                        None => problems.push(format!("profile number {}: must be a [[profile]] table", i + 1)),
                    }
                }
            }
            _ if !has_profiles => {
                problems.push("the file has no [[profile]]; add one (see examples/worker.toml)".into())
            }
            _ => problems.push("the file, key 'profile': write each profile as a [[profile]] table".into()),
        }
        check_profiles_together(&profiles, &mut problems);
        check_desk_listener(&profiles, listen, tls.is_some(), &mut problems);
        if problems.is_empty() {
            Ok(WorkerConfig {
                listen,
                tls,
                data_dir,
                postgres,
                retry_delay,
                report_lag_wait,
                ticket_watch,
                global_shortcut,
                release_window_after,
                retention,
                lookup_keep,
                search_copy,
                autotask_webhooks,
                public_url,
                other_desk_urls,
                console_listen,
                console_url: front.console_url,
                serving: front.serving,
                monitoring_allowlist: front.monitoring_allowlist,
                rep_autotask_searches_per_hour: front.rep_autotask_searches_per_hour,
                smtp,
                profiles,
                source: None,
            })
        } else {
            Err(ConfigErrors(problems))
        }
    }

    /// Where the store lives: `data_dir`, else the OS data folder.
    pub fn store_dir(&self) -> Option<PathBuf> {
        self.data_dir.clone().or_else(default_data_dir)
    }

    pub fn profile(&self, name: &str) -> Option<&Profile> {
        self.profiles.iter().find(|p| p.name == name)
    }

    /// Where reps' apps reach this worker: `public_url`, else — when the listener is this machine
    /// only — its own address. `None` when reps on other machines reach it by a name only the
    /// administrator knows.
    pub fn desk_url(&self) -> Option<url::Url> {
        if let Some(url) = &self.public_url {
            return Some(url.clone());
        }
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let ip = self.listen.ip();
        let shown = if ip.is_unspecified() || !ip.is_loopback() { return None } else { self.listen };
        url::Url::parse(&format!("{scheme}://{shown}/")).ok()
    }

    /// Where the appliance sends a profile's outbound events: on `named` (a host the administrator
    /// gives), else `public_url`, else the listener's own address, else `reached` (the host the
    /// console was reached at) — over HTTPS when the worker serves it, an IPv6 address in brackets.
    pub fn outbound_event_url(&self, profile: &Profile, named: Option<&str>, reached: Option<&str>) -> String {
        let query = if profile.appliance_id.eq_ignore_ascii_case("default") {
            String::new()
        } else {
            format!("?appliance={}", profile.appliance_id)
        };
        if let (None, Some(public)) = (named, &self.public_url) {
            return format!("{}/ERSPost{query}", public.origin().ascii_serialization());
        }
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let listen_ip = Some(self.listen.ip()).filter(|ip| !ip.is_unspecified()).map(|ip| ip.to_string());
        let host = named.map(str::to_owned).or(listen_ip).or(reached.map(str::to_owned));
        let host = host.map_or_else(|| "<this host>".to_owned(), |h| bracketed(&h));
        format!("{scheme}://{host}:{}/ERSPost{query}", self.listen.port())
    }

    /// Whether `address` may read `/metrics` and `/healthz`'s details.
    pub fn may_monitor(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        self.monitoring_allowlist.iter().any(|n| n.contains(&address))
    }

    /// The enabled profile that receives outbound events for `appliance_id`.
    pub fn profile_for_appliance(&self, appliance_id: &str) -> Option<&Profile> {
        self.profiles.iter().find(|p| !p.disabled && p.appliance_id.eq_ignore_ascii_case(appliance_id))
    }
}

/// A host as a URL names it: an IPv6 address in brackets, anything else as it is.
fn bracketed(host: &str) -> String {
    let bare = host.trim().trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => format!("[{v6}]"),
        _ => host.trim().to_owned(),
    }
}

/// How long the store keeps what is finished, in words: "90 days", "2.4 hours", "7 minutes".
pub fn describe_retention(retention: chrono::Duration) -> String {
    let minutes = retention.num_seconds() as f64 / 60.0;
    let (n, unit) = match minutes {
        m if m >= 1440.0 => (m / 1440.0, "days"),
        m if m >= 60.0 => (m / 60.0, "hours"),
        m => (m, "minutes"),
    };
    let n = format!("{n:.1}");
    format!("{} {unit}", n.strip_suffix(".0").unwrap_or(&n))
}

/// bt-autotask's folder in the OS data folder of the user (on Linux `~/.local/share/bt-autotask`,
/// on Windows `%APPDATA%\bt-autotask\data`).
pub fn default_data_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "bt-autotask").map(|d| d.data_dir().to_path_buf())
}

/// The headless worker's data folder when the configuration names none. On Windows it is the
/// machine's, `%ProgramData%\bt-autotask`, so the service (running as LocalSystem) and the
/// administrator's `jobs` and `retry` share one store; elsewhere the user's data folder.
pub fn machine_data_dir() -> Option<PathBuf> {
    if cfg!(windows) {
        std::env::var_os("ProgramData").map(|dir| PathBuf::from(dir).join("bt-autotask"))
    } else {
        default_data_dir()
    }
}

/// The headless worker's configuration file when none is named: `worker.toml` in
/// `%ProgramData%\bt-autotask` on Windows, `/etc/bt-autotask/worker.toml` elsewhere.
pub fn default_worker_config() -> PathBuf {
    match std::env::var_os("ProgramData") {
        Some(dir) if cfg!(windows) => PathBuf::from(dir).join("bt-autotask").join("worker.toml"),
        _ => PathBuf::from("/etc/bt-autotask/worker.toml"),
    }
}

fn check_profiles_together(profiles: &[Profile], problems: &mut Vec<String>) {
    let mut names = HashSet::new();
    let mut appliances = HashSet::new();
    for p in profiles {
        if !p.name.is_empty() && !names.insert(p.name.to_lowercase()) {
            problems.push(format!("profile '{}': the name is used twice; give each profile its own name", p.name));
        }
        // An enrolled profile takes no outbound events: two desks may both call theirs "default".
        if !p.disabled && p.enrolled.is_none() && !appliances.insert(p.appliance_id.to_lowercase()) {
            problems.push(format!(
                "profile '{}', key 'appliance_id': '{}' is used by another enabled profile; outbound events could not \
                 tell them apart — give each its own id (and use it in the appliance's ERSPost?appliance= URL)",
                p.name, p.appliance_id
            ));
        }
    }
}

/// Rep tokens never cross a network in clear: a desk served on an address other machines reach
/// needs HTTPS.
fn check_desk_listener(profiles: &[Profile], listen: SocketAddr, tls: bool, problems: &mut Vec<String>) {
    let serving = profiles.iter().find(|p| !p.disabled && matches!(p.desk, DeskRole::Serves));
    if let Some(profile) = serving
        && !listen.ip().is_loopback()
        && !tls
    {
        problems.push(format!(
            "profile '{}', key 'desk_watch': reps' tokens would cross the network in clear on {listen}; set \
             tls_certificate_file and tls_key_file (HTTPS), or listen on 127.0.0.1 behind a proxy that serves HTTPS",
            profile.name
        ));
    }
}

fn events(s: &mut Section<'_>, key: &'static str, default: &[SeedEvent]) -> Vec<SeedEvent> {
    let Some(names) = s.strings(key) else { return default.to_vec() };
    let mut out = Vec::new();
    for name in names {
        match SeedEvent::parse(&name) {
            Some(e) if !out.contains(&e) => out.push(e),
            Some(_) => {}
            None => {
                let valid: Vec<&str> = SeedEvent::ALL.iter().map(|e| e.key()).collect();
                s.problem(key, format!("'{name}' is not an event type; use any of {}", valid.join(", ")));
            }
        }
    }
    out
}

/// Where the store is on PostgreSQL, and how its password is found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresStore {
    /// `postgres://user@host:port/database[?sslmode=require]`, without a password.
    pub url: String,
    /// `store_password_env`, else the keyring (`bt-autotask-worker secret store-password`).
    pub password: SecretRef,
    /// A CA (PEM) trusted for the database's certificate besides the system's roots.
    pub ca_file: Option<PathBuf>,
    /// The key of the tokens' keyed hashes, the same file on every worker (`token_key_file`;
    /// `worker.token-key` in the data folder when absent).
    pub token_key_file: Option<PathBuf>,
}

/// The keyring's name for the store's password, which belongs to no profile.
pub const STORE_PASSWORD: SecretRef = SecretRef::Stored { profile: String::new(), setting: "store_password" };

fn read_postgres_store(top: &mut Section<'_>, base: &Path) -> Option<PostgresStore> {
    if top.has("store_password") {
        top.problem(
            "store_password",
            "secrets never go in the file; remove it and use store_password_env = \"VARIABLE\" or store it with: bt-autotask-worker secret store-password",
        );
    }
    let password = top.string("store_password_env").map_or(STORE_PASSWORD, SecretRef::Env);
    let ca_file = top.string("store_ca_file").map(|p| base.join(p));
    let token_key_file = top.string("token_key_file").map(|p| base.join(p));
    let url = top.string("store_url")?;
    if let Err(e) = crate::store::StoreUrl::parse(&url, None) {
        top.problem("store_url", e);
    }
    Some(PostgresStore { url, password, ca_file, token_key_file })
}

/// A secret setting: `<key>_env = "VAR"`, or the secret store. The secret itself is refused here.
fn secret(
    s: &mut Section<'_>,
    profile: &str,
    key: &'static str,
    env_key: &'static str,
    store: &dyn SecretStore,
) -> Secret {
    if s.has(key) {
        s.problem(
            key,
            format!("secrets never go in the file; remove it and use {env_key} = \"VARIABLE\" or store it with: bt-autotask-worker secret set '{profile}' {key}"),
        );
        return Secret::new("");
    }
    let reference = match s.string(env_key) {
        Some(var) => SecretRef::Env(var),
        None => SecretRef::Stored { profile: profile.to_owned(), setting: key },
    };
    if !store.resolves() {
        return Secret::new("");
    }
    match reference.resolve(store) {
        Ok(secret) => secret,
        Err(e) => {
            s.problem(key, e);
            Secret::new("")
        }
    }
}

fn read_profile(
    table: &toml::Table,
    index: usize,
    base: &Path,
    store: &dyn SecretStore,
    problems: &mut Vec<String>,
) -> Profile {
    let label = table.get("name").and_then(toml::Value::as_str).map(|n| format!("profile '{n}'"));
    let mut s = Section::new(table, label.unwrap_or_else(|| format!("profile number {}", index + 1)), problems);
    let name = s.required_string("name", "a name for this configuration, e.g. \"Production\"");
    let appliance_id = s.string("appliance_id").unwrap_or_else(|| "default".to_owned());
    if !appliance_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_') {
        s.problem("appliance_id", "may hold only letters, digits, '.' and '_' (as the appliance's ERSPost URL does)");
    }
    let disabled = s.bool("disabled", false);
    let enrolled = read_enrolled(&mut s);
    let beyondtrust = read_beyondtrust(&mut s, &name, base, store, enrolled.is_some());
    let outbound_default = [
        SeedEvent::SupportSessionEnd,
        SeedEvent::CustomerExitSurveyIsCompleted,
        SeedEvent::RepresentativeSurveyIsCompleted,
    ];
    let outbound_event_types = events(&mut s, "outbound_event_types", &outbound_default);
    let polling_event_types = events(&mut s, "polling_event_types", &[]);
    if polling_event_types.iter().any(|e| *e != SeedEvent::SupportSessionEnd) {
        s.problem("polling_event_types", "polling supports only support_session_end (as the seed's plugin does)");
    }
    let polling_interval_minutes = s.integer("polling_interval_minutes", 1..=1440).map(|n| n as u32);
    if !polling_event_types.is_empty() && polling_interval_minutes.is_none() && !s.has("polling_interval_minutes") {
        s.problem("polling_interval_minutes", "is needed when polling_event_types is set; give minutes, e.g. 5");
    }
    let retry_attempt_limit = s.integer("retry_attempt_limit", 0..=100).unwrap_or(3) as u32;
    let retry_outbound_event_types = events(&mut s, "retry_outbound_event_types", &outbound_event_types);
    let retry_polling_event_types = events(&mut s, "retry_polling_event_types", &polling_event_types);
    let source_allowlist = read_allowlist(&mut s);
    let autotask = read_autotask(&mut s, &name, store, enrolled.is_some());
    let note_type = s.integer("note_type", 1..=i64::from(i32::MAX)).unwrap_or(1);
    let publish_notes_as_public = s.bool("publish_notes_as_public", false);
    let update_time_entry = s.bool("update_time_entry", false);
    let time_entry_default_data = TimeEntryDefaults(s.object("time_entry_default_data").unwrap_or_default());
    if update_time_entry {
        for (key, missing) in [
            ("defaultDomain", time_entry_default_data.default_domain().is_none()),
            ("roleName", time_entry_default_data.role_name().is_none()),
            ("summaryNotes", time_entry_default_data.summary_notes().is_none()),
        ] {
            if missing {
                s.problem("time_entry_default_data", format!("needs {key} when update_time_entry is on"));
            }
        }
    }
    let write_as_rep = s.bool("write_as_rep", true);
    let time_entry_roles = read_role_sources(&mut s);
    let recording_links_in_note = s.bool("recording_links_in_note", true);
    let status_on_session_end =
        s.string("status_on_session_end").map(|l| l.trim().to_owned()).filter(|l| !l.is_empty());
    let status_on_session_end_from =
        s.strings("status_on_session_end_from").unwrap_or_else(|| vec!["New".to_owned(), "In Progress".to_owned()]);
    if status_on_session_end.is_some() && status_on_session_end_from.iter().all(|l| l.is_empty()) {
        s.problem("status_on_session_end_from", "lists no status; the default is [\"New\", \"In Progress\"]");
    }
    let assign_unassigned_ticket = s.bool("assign_unassigned_ticket", false);
    let billing = crate::billing::BillingRules {
        rounding_minutes: s.integer("time_entry_rounding_minutes", 0..=480).unwrap_or(0) as u32,
        minimum_minutes: s.integer("time_entry_minimum_minutes", 0..=1440).unwrap_or(0) as u32,
        round_hours_worked: s.bool("time_entry_round_hours_worked", false),
        spans_midnight: s.bool("time_entry_spans_midnight", false),
    };
    let work_type = s.string("work_type").map(|w| w.trim().to_owned()).filter(|w| !w.is_empty());
    let enable_automatic_ticket_creation = s.bool("enable_automatic_ticket_creation", false);
    let automatic_ticket_creation_without_external_key =
        s.bool("automatic_ticket_creation_without_external_key", false);
    if automatic_ticket_creation_without_external_key && !enable_automatic_ticket_creation {
        s.problem(
            "automatic_ticket_creation_without_external_key",
            "needs enable_automatic_ticket_creation = true as well",
        );
    }
    if enable_automatic_ticket_creation && !outbound_event_types.contains(&SeedEvent::SomeoneJoinsASupportSession) {
        s.problem("enable_automatic_ticket_creation", "needs someone_joins_a_support_session in outbound_event_types");
    }
    let automatic_ticket_creation_session_types =
        s.strings("automatic_ticket_creation_session_types").unwrap_or_else(|| vec!["support".to_owned()]);
    let ticket_default_data = s.object("ticket_default_data").unwrap_or_default();
    let embedded_worker = s.bool("embedded_worker", enrolled.is_none());
    if embedded_worker && enrolled.is_some() {
        s.problem("embedded_worker", "is off in an enrolled profile: the desk's worker writes its sessions");
    }
    let rep_username = s.string("rep_username");
    if enrolled.is_some() && rep_username.is_none() {
        s.problem("rep_username", "is needed in an enrolled profile: enrol again with the link");
    }
    let rep_email = s.string("rep_email");
    if rep_email.as_deref().is_some_and(|e| !e.contains('@')) {
        s.problem("rep_email", "is not an e-mail address; give your Autotask resource's e-mail, e.g. alex@example.com");
    }
    let desk = read_desk_role(&mut s, &name, store);
    if enrolled.is_some() && !matches!(desk, DeskRole::Follows { .. }) {
        s.problem("desk_worker_url", "is needed in an enrolled profile: the desk's worker it was enrolled at");
    }
    let enrolment_hours = s.number("enrolment_hours", 0.0001..=720.0).unwrap_or(72.0);
    let templates_dir = s.string("templates_dir").map(|d| base.join(d));
    if let Some(dir) = &templates_dir
        && !dir.is_dir()
    {
        s.problem("templates_dir", format!("{} is not a directory", dir.display()));
    }
    s.finish(PROFILE_KEYS_HINT);
    Profile {
        name,
        appliance_id,
        disabled,
        beyondtrust,
        outbound_event_types,
        polling_event_types,
        polling_interval_minutes,
        retry_attempt_limit,
        retry_outbound_event_types,
        retry_polling_event_types,
        source_allowlist,
        autotask,
        note_type,
        publish_notes_as_public,
        update_time_entry,
        time_entry_default_data,
        write_as_rep,
        time_entry_roles,
        recording_links_in_note,
        status_on_session_end,
        status_on_session_end_from,
        assign_unassigned_ticket,
        billing,
        work_type,
        enable_automatic_ticket_creation,
        automatic_ticket_creation_without_external_key,
        automatic_ticket_creation_session_types,
        ticket_default_data,
        templates_dir,
        embedded_worker,
        rep_username,
        rep_email,
        desk,
        enrolment_hours,
        enrolled,
    }
}

/// An enrolled profile's keys (written by enrolment): `autotask_web_url`, `desk_certificate_pin`.
fn read_enrolled(s: &mut Section<'_>) -> Option<Enrolled> {
    let web = s.string("autotask_web_url");
    let pin = s.string("desk_certificate_pin");
    if let Some(pin) = &pin
        && !pin.starts_with("sha256:")
    {
        s.problem(
            "desk_certificate_pin",
            format!("'{pin}' is not a certificate pin like sha256:…; enrol again with the link"),
        );
    }
    match crate::transport_policy::secure_url(&web?, "autotask_web_url") {
        Ok(autotask_web) => Some(Enrolled { autotask_web, certificate_pin: pin }),
        Err(e) => {
            s.problem("autotask_web_url", e);
            None
        }
    }
}

/// A list of the desk's addresses under `key`, each HTTPS (or on loopback); each that is not is
/// a problem of the file's.
fn secure_urls(s: &mut Section<'_>, key: &'static str) -> Vec<url::Url> {
    let texts = s.strings(key).unwrap_or_default();
    texts
        .iter()
        .filter_map(|text| crate::transport_policy::secure_url(text, key).map_err(|e| s.problem(key, e)).ok())
        .collect()
}

/// Shortest rep token taken (the worker's are 50 characters).
const DESK_TOKEN_MIN_CHARS: usize = 24;

fn read_desk_role(s: &mut Section<'_>, profile: &str, store: &dyn SecretStore) -> DeskRole {
    let serves = s.bool("desk_watch", false);
    let url = s.string("desk_worker_url");
    let minutes = s.number("embedded_worker_takeover_minutes", 0.0..=10_080.0).unwrap_or(30.0);
    if serves && url.is_none() {
        // The desk's shared token is retired: reps enrol. An upgraded worker still loads a file
        // that names it, and uses it for nothing.
        let _retired = s.string("desk_token_env");
        return DeskRole::Serves;
    }
    if !serves && url.is_none() {
        if s.has("desk_token_env") {
            s.problem(
                "desk_token_env",
                "is used only with desk_watch = true (the worker) or desk_worker_url (the app)",
            );
        }
        return DeskRole::Alone;
    }
    let token = secret(s, profile, "desk_token", "desk_token_env", store);
    if store.resolves() && !token.expose().is_empty() && token.expose().chars().count() < DESK_TOKEN_MIN_CHARS {
        s.problem(
            "desk_token",
            format!("is shorter than {DESK_TOKEN_MIN_CHARS} characters; it is not a rep token: enrol with the link your desk's administrator sends"),
        );
    }
    match url {
        Some(_) if serves => {
            s.problem(
                "desk_worker_url",
                "is for the tray app; the worker that serves desk_watch does not follow another",
            );
            DeskRole::Alone
        }
        Some(text) => match crate::transport_policy::secure_url(&text, "desk_worker_url") {
            Ok(url) => {
                let also = secure_urls(s, "desk_worker_other_urls");
                let takeover_after = std::time::Duration::from_secs_f64(minutes * 60.0);
                DeskRole::Follows { url, also, token, takeover_after }
            }
            Err(e) => {
                s.problem("desk_worker_url", e);
                DeskRole::Alone
            }
        },
        None => DeskRole::Serves,
    }
}

/// The appliance's settings; an enrolled profile has only its host (for LiveLinks), no API account.
fn read_beyondtrust(
    s: &mut Section<'_>,
    profile: &str,
    base: &Path,
    store: &dyn SecretStore,
    enrolled: bool,
) -> BeyondTrustSettings {
    let host = s.required_string("appliance_host", "the B Series Appliance host name, e.g. support.example.com");
    let (client_id, client_secret) = if enrolled {
        (s.string("client_id").unwrap_or_default(), crate::Secret::new(""))
    } else {
        let id = s.required_string("client_id", "the OAuth Client ID of the API account");
        (id, secret(s, profile, "client_secret", "client_secret_env", store))
    };
    let mut settings = BeyondTrustSettings::new(host, client_id, client_secret);
    settings.locale = s.string("locale");
    settings.allow_invalid_certificates = s.bool("allow_invalid_certificates", false);
    settings.use_non_tls = s.bool("use_non_tls_connections", false);
    settings.ca_certificate_file = s.string("ca_certificate_file").map(|f| base.join(f));
    for problem in settings.problems() {
        // Secrets were reported above; everything else about the appliance settings here.
        if !problem.contains("Client Secret") {
            let key = if problem.contains("CA certificate") {
                "ca_certificate_file"
            } else if problem.contains("Non-TLS") {
                "use_non_tls_connections"
            } else if problem.contains("Client ID") {
                continue; // reported as missing
            } else {
                "appliance_host"
            };
            if !(key == "appliance_host" && settings.host.is_empty()) {
                s.problem(key, problem);
            }
        }
    }
    settings
}

/// The Autotask API user; an enrolled profile has none (the desk's worker asks Autotask for it).
fn read_autotask(s: &mut Section<'_>, profile: &str, store: &dyn SecretStore, enrolled: bool) -> AutotaskSettings {
    if enrolled {
        return AutotaskSettings::new(String::new(), crate::Secret::new(""), crate::Secret::new(""));
    }
    let username = s.required_string("autotask_username", "the Autotask API user's username");
    let password = secret(s, profile, "autotask_password", "autotask_password_env", store);
    let code = secret(s, profile, "autotask_integration_code", "autotask_integration_code_env", store);
    let mut settings = AutotaskSettings::new(username, password, code);
    settings.services_url = s.string("autotask_services_url");
    settings.impersonation_resource_id = s.integer("autotask_impersonation_resource_id", 1..=i64::MAX);
    if let Some(discovery) = s.string("autotask_zone_discovery_url") {
        settings.discovery_url = discovery;
    }
    for problem in settings.problems() {
        if problem.contains("Services URL") {
            s.problem("autotask_services_url", problem);
        } else if problem.contains("discovery") {
            s.problem("autotask_zone_discovery_url", problem);
        }
    }
    settings
}

fn read_allowlist(s: &mut Section<'_>) -> Vec<IpAddr> {
    let mut out = Vec::new();
    for entry in s.strings("source_allowlist").unwrap_or_default() {
        match entry.parse::<IpAddr>() {
            Ok(ip) => out.push(ip),
            Err(_) => s.problem("source_allowlist", format!("'{entry}' is not an IP address")),
        }
    }
    out
}

#[cfg(test)]
mod tests;
