//! The Settings form: every profile setting as a labelled field, grouped as in the seed's plugin
//! configuration, read from and written back into the configuration file. Saving edits the file
//! in place (comments and other profiles are kept) and only after the whole result passes the
//! same checks as loading, so a bad value is reported and nothing already saved is lost.
//! Secrets are never read or written here: a form only says whether each one is stored.

use serde::Serialize;
use serde_json::{Map, Value};
use toml_edit::{Array, DocumentMut, InlineTable, Item, Table};

use super::{ConfigErrors, SecretRef, SecretStore, SkipSecrets, WorkerConfig};

/// How a field is edited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Text,
    Bool,
    Integer,
    /// A list of words, edited as comma-separated text.
    List,
    /// A JSON object (the seed's default data settings).
    Object,
    /// Kept in the OS keyring; the form shows only whether it is stored.
    Secret,
}

/// One setting of a profile.
#[derive(Debug, Clone, Serialize)]
pub struct Field {
    pub key: &'static str,
    pub label: &'static str,
    pub group: &'static str,
    pub kind: Kind,
    pub help: &'static str,
    /// What an unset on/off setting means.
    pub default_on: bool,
}

const fn field(group: &'static str, key: &'static str, label: &'static str, kind: Kind, help: &'static str) -> Field {
    Field { key, label, group, kind, help, default_on: false }
}

/// An on/off setting that is on unless switched off.
const fn on_by_default(group: &'static str, key: &'static str, label: &'static str, help: &'static str) -> Field {
    Field { key, label, group, kind: Kind::Bool, help, default_on: true }
}

const BT: &str = "BeyondTrust Appliance B Series";
const EVENTS: &str = "Events, polling and retries";
const AT: &str = "Autotask Instance";
const TICKETS: &str = "Automatic ticket creation";
const DESKTOP: &str = "This desktop";

/// Every setting, in the seed's order.
pub const FIELDS: &[Field] = &[
    field(BT, "name", "Plugin Configuration Name", Kind::Text, "Any descriptive name"),
    field(
        BT,
        "appliance_id",
        "Appliance Id",
        Kind::Text,
        "Matches ?appliance=<id> in the outbound event URL (default: default)",
    ),
    field(BT, "disabled", "Disabled", Kind::Bool, "A disabled profile ignores its events"),
    field(
        BT,
        "appliance_host",
        "BeyondTrust Appliance B Series Host Name",
        Kind::Text,
        "The host only, e.g. support.example.com",
    ),
    field(BT, "client_id", "BeyondTrust Integration API OAuth Client ID", Kind::Text, ""),
    field(BT, "client_secret", "BeyondTrust Integration API OAuth Client Secret", Kind::Secret, ""),
    field(BT, "locale", "Locale Used for BeyondTrust API Calls", Kind::Text, "e.g. en-us"),
    field(BT, "allow_invalid_certificates", "Allow Invalid Certificates", Kind::Bool, "Not for production"),
    field(
        BT,
        "use_non_tls_connections",
        "Use Non-TLS Connections",
        Kind::Bool,
        "Only for a stand-in on this machine: OAuth needs TLS",
    ),
    field(
        BT,
        "ca_certificate_file",
        "Extra CA certificate file",
        Kind::Text,
        "A PEM file trusted in addition to the system's",
    ),
    field(
        EVENTS,
        "outbound_event_types",
        "Outbound Event Types",
        Kind::List,
        "support_session_end, customer_exit_survey_is_completed, representative_survey_is_completed, someone_joins_a_support_session",
    ),
    field(
        EVENTS,
        "polling_event_types",
        "Polling Event Types",
        Kind::List,
        "support_session_end (the desktop always polls for its own sessions)",
    ),
    field(EVENTS, "polling_interval_minutes", "Polling Interval (in minutes)", Kind::Integer, "Default 5"),
    field(EVENTS, "retry_attempt_limit", "Retry Attempt Limit", Kind::Integer, "Default 3"),
    field(
        EVENTS,
        "retry_outbound_event_types",
        "Retry Outbound Event Types",
        Kind::List,
        "Default: the outbound event types",
    ),
    field(
        EVENTS,
        "retry_polling_event_types",
        "Retry Polling Event Types",
        Kind::List,
        "Default: the polling event types",
    ),
    field(
        EVENTS,
        "source_allowlist",
        "Allowed source addresses",
        Kind::List,
        "Addresses that may post outbound events (any when empty)",
    ),
    field(
        AT,
        "autotask_services_url",
        "Autotask Services URL",
        Kind::Text,
        "https://webservices<N>.autotask.net/ATServicesRest; found from the username when empty",
    ),
    field(
        AT,
        "autotask_zone_discovery_url",
        "Autotask zone discovery URL",
        Kind::Text,
        "Leave empty for Autotask's own",
    ),
    field(AT, "autotask_username", "Autotask Username", Kind::Text, "The API user"),
    field(AT, "autotask_password", "Autotask Secret", Kind::Secret, "The API user's secret"),
    field(AT, "autotask_integration_code", "Autotask API Integration Code", Kind::Secret, "The tracking identifier"),
    field(
        AT,
        "autotask_impersonation_resource_id",
        "Impersonation resource id",
        Kind::Integer,
        "Optional: every write is made as this one resource instead of each session's rep",
    ),
    field(AT, "note_type", "Autotask Note Type", Kind::Integer, "Default 1"),
    field(
        AT,
        "publish_notes_as_public",
        "Autotask Publish Notes as Public",
        Kind::Bool,
        "on: \"All Autotask Users\", shown on the client portal too; off: \"Internal Project Team\"",
    ),
    on_by_default(
        AT,
        "write_as_rep",
        "Write notes and time as the rep",
        "on: each session's note and time entry are the primary rep's in Autotask (impersonation); where \
         Autotask refuses, the API user writes them and says for whom",
    ),
    on_by_default(
        AT,
        "recording_links_in_note",
        "Recording links in the note",
        "on: the session's screen and command-shell recording links are in its note",
    ),
    field(
        AT,
        "status_on_session_end",
        "Ticket status when a session ends",
        Kind::Text,
        "Optional: a Status label, e.g. Waiting Customer; empty leaves the status alone",
    ),
    field(
        AT,
        "status_on_session_end_from",
        "… only from these statuses",
        Kind::List,
        "Default: New, In Progress — a completed ticket is never reopened",
    ),
    field(
        AT,
        "assign_unassigned_ticket",
        "Assign an unassigned ticket to the rep",
        Kind::Bool,
        "on: a ticket without a resource is assigned to the session's rep as the session ends",
    ),
    field(AT, "update_time_entry", "Autotask Update Time Entry", Kind::Bool, ""),
    field(
        AT,
        "time_entry_roles",
        "Time entry role, tried in order",
        Kind::List,
        "ticket: the ticket's role when the rep is assigned; role_name: roleName when the rep holds it; default: \
         the rep's default service desk role",
    ),
    field(
        AT,
        "time_entry_default_data",
        "Time Entry Default Data",
        Kind::Object,
        "JSON with defaultDomain, roleName, summaryNotes",
    ),
    field(
        AT,
        "time_entry_rounding_minutes",
        "Bill time in blocks of (minutes)",
        Kind::Integer,
        "0: the seed's rounding up to 0.01 h; 15 bills every started quarter hour",
    ),
    field(AT, "time_entry_minimum_minutes", "Bill at least (minutes)", Kind::Integer, "0: no minimum"),
    field(
        AT,
        "time_entry_round_hours_worked",
        "Apply these to hours worked too",
        Kind::Bool,
        "Off: only hours to bill follow the blocks and the minimum",
    ),
    field(
        AT,
        "time_entry_spans_midnight",
        "One entry across UTC midnight",
        Kind::Bool,
        "Only where Autotask's \"Allow time entries to span over midnight\" is on; off: one entry per UTC day",
    ),
    field(
        AT,
        "work_type",
        "Work type",
        Kind::Text,
        "A work type's name (Billing Codes, useType 1), for time entries and new tickets; empty: none",
    ),
    field(
        TICKETS,
        "enable_automatic_ticket_creation",
        "Enable Automatic Ticket Creation on Session Start",
        Kind::Bool,
        "Needs someone_joins_a_support_session",
    ),
    field(
        TICKETS,
        "automatic_ticket_creation_without_external_key",
        "…when external key is not provided",
        Kind::Bool,
        "",
    ),
    field(
        TICKETS,
        "automatic_ticket_creation_session_types",
        "Automatic Ticket Creation for Session Types",
        Kind::List,
        "Default: support",
    ),
    field(TICKETS, "ticket_default_data", "Ticket Default Data", Kind::Object, "JSON defaults for created tickets"),
    field(
        DESKTOP,
        "rep_username",
        "Your BeyondTrust username",
        Kind::Text,
        "Your own queue for session keys; the sessions this app writes",
    ),
    field(DESKTOP, "rep_email", "Your Autotask e-mail", Kind::Text, "Finds \"my open tickets\""),
    on_by_default(
        DESKTOP,
        "embedded_worker",
        "Write my sessions from this app",
        "Off when the desk runs bt-autotask-worker for everyone",
    ),
    field(
        DESKTOP,
        "desk_worker_url",
        "The desk's worker",
        Kind::Text,
        "Where the desk runs bt-autotask-worker (https://server:8180): it watches your tickets, searches for you and writes your sessions",
    ),
    field(
        DESKTOP,
        "desk_token",
        "Your rep token",
        Kind::Secret,
        "Your own, from enrolling: the code in the link your desk's administrator sent (bt-autotask-worker rep add)",
    ),
    field(
        DESKTOP,
        "embedded_worker_takeover_minutes",
        "Write my sessions myself after (minutes)",
        Kind::Integer,
        "Without an answer from the desk's worker; default 30",
    ),
    field(DESKTOP, "templates_dir", "Templates folder", Kind::Text, "Handlebars templates replacing the built-in ones"),
];

/// The settings that decide where a profile's secrets are sent, or how they are protected on the
/// way there, each with the secrets it would send elsewhere when changed.
pub const SECRET_DESTINATIONS: &[(&str, &[&str])] = &[
    ("appliance_host", &["client_secret"]),
    ("allow_invalid_certificates", &["client_secret"]),
    ("ca_certificate_file", &["client_secret"]),
    ("use_non_tls_connections", &["client_secret"]),
    ("autotask_services_url", &["autotask_password", "autotask_integration_code"]),
    ("autotask_zone_discovery_url", &["autotask_password", "autotask_integration_code"]),
];

/// The settings of [`SECRET_DESTINATIONS`] that saving `values` changes for the secrets kept
/// under the profile's (new) name: each against that name's profile in `text` — every one of them
/// when no profile has that name yet (a removed profile's secrets stay in the keyring).
pub fn destinations_changed(text: &str, values: &Map<String, Value>) -> Result<Vec<&'static str>, FormError> {
    let name = values.get("name").and_then(Value::as_str).map(str::trim).unwrap_or_default();
    let before = profiles(text, &crate::config::NoStore)?.into_iter().find(|p| p.name == name);
    let field = |key: &str| FIELDS.iter().find(|f| f.key == key);
    let mut changed = Vec::new();
    for (key, _) in SECRET_DESTINATIONS {
        let Some(f) = field(key) else { continue };
        let after = values.get(*key).map(|v| checked(f, v)).transpose()?.flatten();
        let was = before.as_ref().and_then(|p| p.values.get(*key)).map(|v| checked(f, v)).transpose()?.flatten();
        let default = (f.kind == Kind::Bool).then_some(Value::Bool(f.default_on));
        if before.is_none() || after.or(default.clone()) != was.or(default) {
            changed.push(*key);
        }
    }
    Ok(changed)
}

/// One profile's values as the form shows them; secrets as "stored", "missing" or "env:VAR".
#[derive(Debug, Clone, Serialize)]
pub struct ProfileForm {
    pub name: String,
    pub values: Map<String, Value>,
}

/// Why a save was refused.
#[derive(Debug, thiserror::Error)]
pub enum FormError {
    #[error("the configuration file is not valid TOML ({0}); correct it in a text editor")]
    Unreadable(String),
    #[error("no profile is named '{0}'")]
    NoSuchProfile(String),
    #[error("{label}: {problem}")]
    BadValue { label: &'static str, problem: String },
    #[error("{0}")]
    Invalid(ConfigErrors),
    #[error("{0}")]
    Refused(String),
}

/// The profiles of a configuration text, for the form.
pub fn profiles(text: &str, secrets: &dyn SecretStore) -> Result<Vec<ProfileForm>, FormError> {
    let doc: DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| FormError::Unreadable(e.to_string()))?;
    let Some(tables) = doc.get("profile").and_then(Item::as_array_of_tables) else { return Ok(Vec::new()) };
    Ok(tables.iter().map(|table| profile_form(table, secrets)).collect())
}

fn profile_form(table: &Table, secrets: &dyn SecretStore) -> ProfileForm {
    let name = table.get("name").and_then(Item::as_str).unwrap_or_default().to_owned();
    let mut values = Map::new();
    for f in FIELDS {
        let value = if f.kind == Kind::Secret {
            let env_key = format!("{}_env", f.key);
            let state = match table.get(&env_key).and_then(Item::as_str) {
                Some(var) => format!("env:{var}"),
                None => match secrets.get(&SecretRef::store_key(&name, f.key)) {
                    Ok(Some(_)) => "stored".to_owned(),
                    _ => "missing".to_owned(),
                },
            };
            Value::String(state)
        } else {
            let unset = if f.kind == Kind::Bool { Value::Bool(f.default_on) } else { Value::Null };
            table.get(f.key).and_then(Item::as_value).map(to_json).unwrap_or(unset)
        };
        values.insert(f.key.to_owned(), value);
    }
    ProfileForm { name, values }
}

fn to_json(value: &toml_edit::Value) -> Value {
    match value {
        toml_edit::Value::String(s) => Value::String(s.value().clone()),
        toml_edit::Value::Integer(i) => Value::from(*i.value()),
        toml_edit::Value::Float(f) => Value::from(*f.value()),
        toml_edit::Value::Boolean(b) => Value::Bool(*b.value()),
        toml_edit::Value::Datetime(d) => Value::String(d.value().to_string()),
        toml_edit::Value::Array(a) => Value::Array(a.iter().map(to_json).collect()),
        toml_edit::Value::InlineTable(t) => Value::Object(t.iter().map(|(k, v)| (k.to_owned(), to_json(v))).collect()),
    }
}

fn to_toml(value: &Value) -> Option<toml_edit::Value> {
    Some(match value {
        Value::Null => return None,
        Value::Bool(b) => (*b).into(),
        Value::Number(n) => match n.as_i64() {
            Some(i) => i.into(),
            None => n.as_f64()?.into(),
        },
        Value::String(s) => s.as_str().into(),
        Value::Array(items) => {
            let mut array = Array::new();
            for item in items {
                array.push_formatted(to_toml(item)?);
            }
            array.into()
        }
        Value::Object(map) => {
            let mut table = InlineTable::new();
            for (k, v) in map {
                if let Some(v) = to_toml(v) {
                    table.insert(k, v);
                }
            }
            table.into()
        }
    })
}

/// Checks one value against its field; `None` means "not set" (the default applies).
fn checked(f: &Field, value: &Value) -> Result<Option<Value>, FormError> {
    let bad = |problem: &str| FormError::BadValue { label: f.label, problem: problem.to_owned() };
    match (f.kind, value) {
        (_, Value::Null) => Ok(None),
        (Kind::Text, Value::String(s)) => Ok((!s.trim().is_empty()).then(|| Value::String(s.trim().to_owned()))),
        (Kind::Bool, Value::Bool(_)) => Ok(Some(value.clone())),
        (Kind::Integer, Value::Number(n)) if n.is_i64() => Ok(Some(value.clone())),
        (Kind::Integer, Value::String(s)) if s.trim().is_empty() => Ok(None),
        (Kind::Integer, Value::String(s)) => {
            s.trim().parse::<i64>().map(|n| Some(n.into())).map_err(|_| bad("must be a whole number"))
        }
        (Kind::List, Value::Array(items)) if items.iter().all(Value::is_string) => {
            Ok((!items.is_empty()).then(|| value.clone()))
        }
        (Kind::List, Value::String(s)) => {
            let items: Vec<Value> =
                s.split(',').map(str::trim).filter(|w| !w.is_empty()).map(|w| Value::String(w.to_owned())).collect();
            Ok((!items.is_empty()).then_some(Value::Array(items)))
        }
        (Kind::Object, Value::Object(_)) => Ok(Some(value.clone())),
        (Kind::Object, Value::String(s)) if s.trim().is_empty() => Ok(None),
        (Kind::Object, Value::String(s)) => match serde_json::from_str::<Value>(s) {
            Ok(v @ Value::Object(_)) => Ok(Some(v)),
            _ => Err(bad("must be a JSON object, e.g. {\"roleName\": \"Sample Role\"}")),
        },
        (Kind::Text, _) => Err(bad("must be text")),
        (Kind::Bool, _) => Err(bad("must be on or off")),
        (Kind::Integer, _) => Err(bad("must be a whole number")),
        (Kind::List, _) => Err(bad("must be a comma-separated list")),
        (Kind::Object, _) => Err(bad("must be a JSON object")),
        (Kind::Secret, _) => Ok(None),
    }
}

/// Writes one profile's values into the configuration text: `original` names the profile edited,
/// `None` adds a new one. Returns the new text, or every problem it would have (nothing changes).
pub fn save_profile(
    text: &str,
    base: &std::path::Path,
    original: Option<&str>,
    values: &Map<String, Value>,
) -> Result<String, FormError> {
    let mut doc: DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| FormError::Unreadable(e.to_string()))?;
    let tables = doc
        .entry("profile")
        .or_insert_with(|| Item::ArrayOfTables(Default::default()))
        .as_array_of_tables_mut()
        .ok_or_else(|| FormError::Unreadable("'profile' is not a list of [[profile]] tables".into()))?;
    let table = match original {
        Some(name) => tables
            .iter_mut()
            .find(|t| t.get("name").and_then(Item::as_str) == Some(name))
            .ok_or_else(|| FormError::NoSuchProfile(name.to_owned()))?,
        None => {
            tables.push(Table::new());
            tables.iter_mut().last().ok_or_else(|| FormError::Unreadable("the new profile was lost".into()))?
        }
    };
    for f in FIELDS.iter().filter(|f| f.kind != Kind::Secret) {
        let Some(value) = values.get(f.key) else { continue };
        // An on/off setting left at its default is not written into a file that lacks it.
        if f.kind == Kind::Bool && *value == Value::Bool(f.default_on) && !table.contains_key(f.key) {
            continue;
        }
        match checked(f, value)?.as_ref().and_then(to_toml) {
            Some(v) => match table.get_mut(f.key).and_then(Item::as_value_mut) {
                // Keep the comment that decorates the existing line.
                Some(existing) => {
                    let decor = existing.decor().clone();
                    *existing = v;
                    *existing.decor_mut() = decor;
                }
                None => {
                    table.insert(f.key, Item::Value(v));
                }
            },
            None => {
                table.remove(f.key);
            }
        }
    }
    let text = doc.to_string();
    WorkerConfig::parse(&text, base, &SkipSecrets).map_err(FormError::Invalid)?;
    Ok(text)
}

/// Sets a top-level setting of this desktop (`global_shortcut`, `release_window_after_minutes`)
/// in the configuration text, keeping the rest of the file as it is (its caller checks the
/// value; the profiles, complete or not, are left as they are).
pub fn set_desktop_setting(
    text: &str,
    key: &str,
    value: impl Into<toml_edit::Value> + Clone,
) -> Result<String, FormError> {
    let mut doc: DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| FormError::Unreadable(e.to_string()))?;
    match doc.get_mut(key).and_then(Item::as_value_mut) {
        Some(existing) => {
            let decor = existing.decor().clone();
            *existing = value.clone().into();
            *existing.decor_mut() = decor;
        }
        None => {
            // toml_edit writes a new top-level key above the [[profile]] tables, where TOML reads it
            // as top-level.
            doc.insert(key, Item::Value(value.into()));
        }
    }
    Ok(doc.to_string())
}

/// Replaces the configuration file in one step, so a crash never leaves half a configuration.
pub fn write_atomically(path: &std::path::Path, text: &str) -> Result<(), String> {
    let dir = path.parent().ok_or("the configuration has no folder")?;
    std::fs::create_dir_all(dir).map_err(|e| format!("{} cannot be created: {e}", dir.display()))?;
    let mut file =
        tempfile::NamedTempFile::new_in(dir).map_err(|e| format!("{} is not writable: {e}", dir.display()))?;
    std::io::Write::write_all(&mut file, text.as_bytes())
        .map_err(|e| format!("the settings could not be written: {e}"))?;
    file.persist(path).map_err(|e| format!("{} could not be replaced: {e}", path.display()))?;
    Ok(())
}

/// Puts a secret typed in a form into `secrets` (the OS keyring); it never comes back.
pub fn store_secret(secrets: &dyn SecretStore, profile: &str, setting: &str, value: &str) -> Result<(), String> {
    if !FIELDS.iter().any(|f| f.kind == Kind::Secret && f.key == setting) {
        return Err(format!("'{setting}' is not a secret setting"));
    }
    if value.is_empty() || value.len() > 4096 {
        return Err("type the secret first (at most 4,096 characters)".into());
    }
    if profile.trim().is_empty() {
        return Err("save the profile with a name before storing its secrets".into());
    }
    secrets
        .set(&SecretRef::store_key(profile, setting), &crate::Secret::new(value))
        .map_err(|e| format!("the OS keyring refused the secret: {e}"))?;
    tracing::info!(profile, setting, "secret stored in the keyring");
    Ok(())
}

/// Removes a profile from the configuration text; its secrets stay in the keyring.
pub fn remove_profile(text: &str, base: &std::path::Path, name: &str) -> Result<String, FormError> {
    let mut doc: DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| FormError::Unreadable(e.to_string()))?;
    let tables = doc
        .get_mut("profile")
        .and_then(Item::as_array_of_tables_mut)
        .ok_or_else(|| FormError::NoSuchProfile(name.to_owned()))?;
    let before = tables.len();
    tables.retain(|t| t.get("name").and_then(Item::as_str) != Some(name));
    if tables.len() == before {
        return Err(FormError::NoSuchProfile(name.to_owned()));
    }
    if tables.is_empty() {
        doc.remove("profile");
    }
    let text = doc.to_string();
    // A file left without profiles is allowed here: Settings then offers to add one.
    if doc.contains_key("profile") {
        WorkerConfig::parse(&text, base, &SkipSecrets).map_err(FormError::Invalid)?;
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MemoryStore;

    #[test]
    fn a_desktop_setting_is_written_above_the_profiles_and_read_back() {
        let text = "# the desk\nticket_watch_seconds = 60\n\n[[profile]]\nname = \"Desk\"\n";
        let written = set_desktop_setting(text, "global_shortcut", "Ctrl+Shift+K").unwrap();
        let table: toml::Table = written.parse().unwrap();
        assert_eq!(table["global_shortcut"].as_str(), Some("Ctrl+Shift+K"), "{written}");
        assert!(written.starts_with("# the desk\n"), "{written}");
        let again = set_desktop_setting(&written, "global_shortcut", "").unwrap();
        assert_eq!(again.matches("global_shortcut").count(), 1, "{again}");
        let minutes = set_desktop_setting(&again, "release_window_after_minutes", 2.5).unwrap();
        let table: toml::Table = minutes.parse().unwrap();
        assert_eq!(table["release_window_after_minutes"].as_float(), Some(2.5), "{minutes}");
        assert!(set_desktop_setting("x = [", "global_shortcut", "a").is_err());
    }

    const TEXT: &str = r#"# my desk
[[profile]]
# the name
name = "Production"
appliance_host = "support.example.com"
client_id = "abc"
client_secret_env = "BT_SECRET"
autotask_username = "api@example.com"
autotask_services_url = "https://webservices5.autotask.net/ATServicesRest"
"#;

    #[test]
    fn the_form_shows_values_and_only_whether_secrets_are_stored() {
        let store = MemoryStore::default();
        store.set(&SecretRef::store_key("Production", "autotask_password"), &crate::Secret::new("hunter2")).unwrap();
        let forms = profiles(TEXT, &store).unwrap();
        let v = &forms[0].values;
        assert_eq!(forms[0].name, "Production");
        assert_eq!(v["appliance_host"], "support.example.com");
        assert_eq!(v["client_secret"], "env:BT_SECRET");
        assert_eq!(v["autotask_password"], "stored");
        assert_eq!(v["autotask_integration_code"], "missing");
        assert_eq!(v["locale"], Value::Null);
        assert_eq!(
            (&v["embedded_worker"], &v["disabled"]),
            (&Value::Bool(true), &Value::Bool(false)),
            "unset: defaults"
        );
        assert!(!serde_json::to_string(&forms).unwrap().contains("hunter2"));
    }

    #[test]
    fn saving_edits_in_place_and_keeps_comments() {
        let values: Map<String, Value> = serde_json::from_str(
            r#"{"appliance_host": "bt.example.net", "locale": "de-de", "update_time_entry": true,
                "polling_interval_minutes": "7", "outbound_event_types": "support_session_end, customer_exit_survey_is_completed",
                "time_entry_default_data": "{\"defaultDomain\": \"example.net\", \"roleName\": \"Tech\", \"summaryNotes\": \"S\"}",
                "rep_username": "alex.morgan", "rep_email": "", "client_secret": "never-written",
                "embedded_worker": true, "disabled": false, "allow_invalid_certificates": true}"#,
        )
        .unwrap();
        let text = save_profile(TEXT, std::path::Path::new("."), Some("Production"), &values).unwrap();
        assert!(text.starts_with("# my desk\n[[profile]]\n# the name\n"), "{text}");
        assert!(text.contains("appliance_host = \"bt.example.net\""), "{text}");
        assert!(text.contains("polling_interval_minutes = 7"), "{text}");
        assert!(!text.contains("never-written") && !text.contains("rep_email"), "{text}");
        assert!(!text.contains("embedded_worker") && !text.contains("disabled"), "defaults stay unwritten: {text}");
        assert!(text.contains("allow_invalid_certificates = true"), "{text}");
        let config = WorkerConfig::parse(&text, std::path::Path::new("."), &SkipSecrets).unwrap();
        let p = &config.profiles[0];
        assert_eq!(p.beyondtrust.host, "bt.example.net");
        assert_eq!(p.rep_username.as_deref(), Some("alex.morgan"));
        assert_eq!(p.time_entry_default_data.role_name(), Some("Tech"));
    }

    #[test]
    fn a_bad_value_is_refused_with_its_label_and_nothing_changes() {
        let bad: Map<String, Value> = serde_json::from_str(r#"{"note_type": "one"}"#).unwrap();
        let e = save_profile(TEXT, std::path::Path::new("."), Some("Production"), &bad).unwrap_err();
        assert_eq!(e.to_string(), "Autotask Note Type: must be a whole number");
        let invalid: Map<String, Value> =
            serde_json::from_str(r#"{"appliance_host": "https://x.example.com/"}"#).unwrap();
        let e = save_profile(TEXT, std::path::Path::new("."), Some("Production"), &invalid).unwrap_err();
        assert!(e.to_string().contains("appliance_host"), "{e}");
    }

    /// The form's values for a second profile, "Lab".
    fn lab_profile() -> Map<String, Value> {
        serde_json::from_str(
            r#"{"name": "Lab", "appliance_id": "lab", "appliance_host": "lab.example.com", "client_id": "x", "autotask_username": "a@example.com"}"#,
        )
        .unwrap()
    }

    #[test]
    fn a_profile_is_removed_and_the_others_kept() {
        let two = save_profile(TEXT, std::path::Path::new("."), None, &lab_profile()).unwrap();
        let one = remove_profile(&two, std::path::Path::new("."), "Production").unwrap();
        let config = WorkerConfig::parse(&one, std::path::Path::new("."), &SkipSecrets).unwrap();
        assert_eq!(config.profiles.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["Lab"]);
        let none = remove_profile(&one, std::path::Path::new("."), "Lab").unwrap();
        assert!(!none.contains("[[profile]]"), "{none}");
        assert!(matches!(remove_profile(&none, std::path::Path::new("."), "Lab"), Err(FormError::NoSuchProfile(_))));
    }

    #[test]
    fn a_new_profile_is_added_after_the_others() {
        let text = save_profile(TEXT, std::path::Path::new("."), None, &lab_profile()).unwrap();
        let config = WorkerConfig::parse(&text, std::path::Path::new("."), &SkipSecrets).unwrap();
        let names: Vec<&str> = config.profiles.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["Production", "Lab"]);
    }
}
