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

/// The scheme of the enrolment link, which the app is registered to open.
pub const LINK_SCHEME: &str = "bt-autotask";

/// The enrolment link a desk's administrator sends a rep: `bt-autotask://enrol?desk=<the worker's
/// address>[&desk=<another worker's>…]&code=<one-time code>[&pin=sha256:<the workers'
/// certificate>]`. A desk of several workers names each address its apps may use, in the order
/// they try them (an app that knows one `desk` reads the first). The worker makes it
/// (`rep add`, the console) and the app reads it; this is its one definition. It holds the code,
/// so it is a secret until used — and it proves nothing about who sent it: the app enrols only
/// when its rep confirms the desk it names.
#[derive(Debug, Clone, PartialEq)]
pub struct EnrolLink {
    pub desk: url::Url,
    /// The desk's other workers, in the order the app tries them when one stops answering.
    pub also: Vec<url::Url>,
    pub code: String,
    pub pin: Option<String>,
}

impl EnrolLink {
    /// The link as the worker made it, or a code with the worker's address as the rep typed them.
    pub fn parse(text: &str, desk: Option<&str>) -> Result<EnrolLink, String> {
        let text = text.trim();
        if text.to_ascii_lowercase().starts_with(&format!("{LINK_SCHEME}:")) {
            return EnrolLink::from_link(text);
        }
        if text.is_empty() {
            return Err("paste the enrolment link (or its code) your desk's administrator sent".into());
        }
        let desk = desk.map(str::trim).filter(|d| !d.is_empty()).ok_or(
            "with a code alone, give the desk's worker too (https://desk-server:8180), or paste the whole link",
        )?;
        let desk = crate::transport_policy::secure_url(desk, "the desk's worker")?;
        Ok(EnrolLink { desk, also: Vec::new(), code: text.to_owned(), pin: None })
    }

    fn from_link(text: &str) -> Result<EnrolLink, String> {
        let link = url::Url::parse(text).map_err(|e| format!("this is not an enrolment link ({e}); paste it whole"))?;
        if link.host_str() != Some("enrol") {
            return Err(
                "this bt-autotask link is not an enrolment link; paste the one from your desk's administrator".into()
            );
        }
        let value = |key: &str| link.query_pairs().find(|(k, _)| k == key).map(|(_, v)| v.into_owned());
        let mut desks = link.query_pairs().filter(|(k, _)| k == "desk").map(|(_, v)| v.into_owned());
        let desk = desks.next().ok_or("the enrolment link names no desk's worker; ask for a new link")?;
        let also = desks
            .map(|d| crate::transport_policy::secure_url(&d, "a desk's worker in the link"))
            .collect::<Result<Vec<_>, _>>()?;
        let code = value("code").ok_or("the enrolment link holds no code; ask for a new link")?;
        let pin = value("pin");
        if pin.as_deref().is_some_and(|p| !p.starts_with("sha256:")) {
            return Err("the enrolment link's certificate pin is not one this app knows; ask for a new link".into());
        }
        let desk = crate::transport_policy::secure_url(&desk, "the desk's worker in the link")?;
        Ok(EnrolLink { desk, also, code, pin })
    }

    /// The link as text, to send to the rep.
    pub fn to_link(&self) -> String {
        let mut link = url::Url::parse(&format!("{LINK_SCHEME}://enrol")).unwrap_or_else(|_| self.desk.clone());
        {
            let mut query = link.query_pairs_mut();
            query.append_pair("desk", self.desk.as_str());
            for desk in &self.also {
                query.append_pair("desk", desk.as_str());
            }
            query.append_pair("code", &self.code);
            if let Some(pin) = &self.pin {
                query.append_pair("pin", pin);
            }
        }
        link.to_string()
    }

    /// The desk's worker as a person reads it: `https://desk-server:8180`.
    pub fn desk_origin(&self) -> String {
        self.desk.origin().ascii_serialization()
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_or_a_code_with_the_workers_address_is_understood_and_made_again() {
        let link = EnrolLink::parse(
            " bt-autotask://enrol?desk=https%3A%2F%2Fdesk.example.com%3A8180%2F&code=K7M2Q-4XW9D&pin=sha256%3Aabc ",
            None,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(link.desk.as_str(), "https://desk.example.com:8180/");
        assert_eq!((link.code.as_str(), link.pin.as_deref()), ("K7M2Q-4XW9D", Some("sha256:abc")));
        assert_eq!(link.desk_origin(), "https://desk.example.com:8180");
        assert_eq!(EnrolLink::parse(&link.to_link(), None), Ok(link), "made and read alike");
        let typed =
            EnrolLink::parse("k7m2q 4xw9d", Some("https://desk.example.com:8180")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((typed.code.as_str(), typed.pin), ("k7m2q 4xw9d", None));
        let refused = |text: &str, desk: Option<&str>| EnrolLink::parse(text, desk).unwrap_err();
        assert!(refused("K7M2Q", None).contains("desk's worker"));
        assert!(refused("K7M2Q", Some("http://desk.example.com")).contains("https"));
        assert!(refused("bt-autotask://enrol?code=X", None).contains("no desk"));
        assert!(refused("bt-autotask://open?x=1", None).contains("not an enrolment link"));
        assert!(refused("bt-autotask://enrol?desk=https://d/&code=X&pin=md5:1", None).contains("pin"));
        assert!(refused("bt-autotask://enrol?desk=https://d/&desk=http://e/&code=X", None).contains("https"));
    }

    #[test]
    fn a_link_names_each_address_of_a_desk_of_several_workers_in_order() {
        let link = EnrolLink::parse(
            "bt-autotask://enrol?desk=https%3A%2F%2Fw1.example.com%2F&desk=https%3A%2F%2Fw2.example.com%3A8443%2F&code=K7M2Q",
            None,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(link.desk.as_str(), "https://w1.example.com/");
        assert_eq!(link.also.iter().map(url::Url::as_str).collect::<Vec<_>>(), ["https://w2.example.com:8443/"]);
        assert_eq!(EnrolLink::parse(&link.to_link(), None), Ok(link), "made and read alike");
    }
}
