//! What the desk's worker and the reps' apps say to each other over HTTP: the paths, and the
//! bodies of the requests and answers. Both sides build on this and on nothing of each other's.

use serde::{Deserialize, Serialize};

/// Where the worker's listener serves the desk-wide watch.
pub const PATH: &str = "/desk/changes";

/// Where the worker's listener serves the desk-wide search.
pub const SEARCH_PATH: &str = "/desk/search";

/// Where the worker makes a session key in the rep's own queue.
pub const SESSION_KEY_PATH: &str = "/desk/session-key";

/// Where an app enrols with its one-time code.
pub const ENROL_PATH: &str = "/desk/enrol";

/// Where the rep's own activity is listed.
pub const ACTIVITY_PATH: &str = "/desk/activity";
/// Where the rep's sessions without a ticket are listed.
pub const UNLINKED_PATH: &str = "/desk/unlinked";
pub const ATTACH_PATH: &str = "/desk/unlinked/attach";
pub const DISMISS_PATH: &str = "/desk/unlinked/dismiss";
pub const RETRY_PATH: &str = "/desk/retry";

/// Longest an app's request waits for news before the worker answers "nothing yet".
pub const LONGEST_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// One changed open ticket, as the worker tells the apps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeskChange {
    pub id: i64,
    pub number: String,
    pub title: String,
    /// The ticket's primary resource; an app tells its rep only of their own.
    pub assigned: Option<i64>,
    /// Whether it is still open (not Complete).
    #[serde(default = "still_open")]
    pub open: bool,
}

fn still_open() -> bool {
    true
}

/// The worker's answer to `GET /desk/changes`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Answer {
    /// The asking rep's Autotask resource, as the worker knows them by their token.
    #[serde(default)]
    pub me: Option<i64>,
    /// Where the next request goes on from (`after=`).
    pub cursor: String,
    /// What changed after the request's cursor (none for a request without one).
    pub changes: Vec<DeskChange>,
    /// Whether this worker writes the profile's finished sessions (then the apps' embedded
    /// workers stand down).
    pub writes_sessions: bool,
    /// How often the worker asks Autotask.
    pub every_seconds: u64,
    /// The database's hourly threshold as the worker last read it: the apps take it as their
    /// own reading instead of each asking `ThresholdInformation`.
    #[serde(default)]
    pub threshold: Option<Threshold>,
}

/// A reading of Autotask's hourly threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Threshold {
    pub used: u64,
    pub limit: u64,
}

/// A session key the worker made for a rep, as `POST /desk/session-key` answers it: the key, or —
/// when the API account may not make keys — the rep console's own dialog, tied to the ticket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyAnswer {
    pub short_key: Option<String>,
    pub key_url: Option<String>,
    /// A ready invitation to the ticket's contact (`mailto:`).
    pub invitation: Option<String>,
    pub console_link: Option<String>,
}

/// One ticket as the search list shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TicketRow {
    pub id: i64,
    pub number: String,
    pub title: String,
    pub status: String,
    pub company: String,
    pub contact: String,
    pub contact_email: Option<String>,
    /// The configuration item's device name ("Device Name" UDF, else its title).
    pub device: Option<String>,
    pub last_activity: Option<chrono::DateTime<chrono::Utc>>,
    /// One of the last tickets I made a key for or Jumped from (shown first when I search for
    /// nothing).
    pub recent: bool,
    /// Found by asking Autotask itself rather than the desk's copy of the tickets (older than the
    /// copy keeps, newer than its last look, or the rep asked for all of Autotask).
    #[serde(default)]
    pub asked_autotask: bool,
}

/// What an app sends to enrol.
#[derive(Debug, Serialize, Deserialize)]
pub struct EnrolRequest {
    pub code: String,
}

/// What the app needs to work for its rep, with the rep's token (shown this once).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Enrolled {
    pub token: String,
    pub profile: String,
    pub appliance_id: String,
    pub appliance_host: String,
    /// The appliance as the worker reaches it (`https://support.example.com/`), for LiveLinks.
    pub appliance_url: String,
    /// The Autotask web UI (`https://ww5.autotask.net/`), for opening tickets.
    pub autotask_web_url: String,
    pub username: String,
    pub email: String,
    pub resource_id: i64,
}

/// The certificate pin an enrolment link carries: `sha256:` and the SHA-256 of the worker's
/// certificate (DER), URL-safe base64. The app trusts the worker's certificate when it is this
/// one, or when the OS trusts it (a certificate from a public CA).
pub fn certificate_pin(certificate_der: &[u8]) -> String {
    use base64::Engine;
    use sha2::Digest;
    let digest = sha2::Sha256::digest(certificate_der);
    format!("sha256:{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest))
}
