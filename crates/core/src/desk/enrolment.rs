//! The app's side of enrolment: the link the desk's administrator sent (or its code and the
//! worker's address, typed), taken to the worker once for the rep's token and what the app needs;
//! then a profile that holds only that token (in the keyring) and where things are.

use std::time::Duration;

use url::Url;

use crate::desk_api::{ENROL_PATH, EnrolRequest, Enrolled};
use crate::transport_policy::secure_url;

/// What enrolling needs: the worker, the code, and the worker's certificate when it is the desk's own.
#[derive(Debug, Clone, PartialEq)]
pub struct EnrolLink {
    pub desk: Url,
    pub code: String,
    pub pin: Option<String>,
}

impl EnrolLink {
    /// The link as `rep add` printed it (`bt-autotask://enrol?desk=…&code=…`), or a code with the
    /// worker's address as the rep typed them.
    pub fn parse(text: &str, desk: Option<&str>) -> Result<EnrolLink, String> {
        let text = text.trim();
        if text.to_ascii_lowercase().starts_with("bt-autotask:") {
            return EnrolLink::from_link(text);
        }
        if text.is_empty() {
            return Err("paste the enrolment link (or its code) your desk's administrator sent".into());
        }
        let desk = desk.map(str::trim).filter(|d| !d.is_empty()).ok_or(
            "with a code alone, give the desk's worker too (https://desk-server:8180), or paste the whole link",
        )?;
        Ok(EnrolLink { desk: secure_url(desk, "the desk's worker")?, code: text.to_owned(), pin: None })
    }

    fn from_link(text: &str) -> Result<EnrolLink, String> {
        let link = Url::parse(text).map_err(|e| format!("this is not an enrolment link ({e}); paste it whole"))?;
        if link.host_str() != Some("enrol") {
            return Err(
                "this bt-autotask link is not an enrolment link; paste the one from your desk's administrator".into()
            );
        }
        let value = |key: &str| link.query_pairs().find(|(k, _)| k == key).map(|(_, v)| v.into_owned());
        let desk = value("desk").ok_or("the enrolment link names no desk's worker; ask for a new link")?;
        let code = value("code").ok_or("the enrolment link holds no code; ask for a new link")?;
        let pin = value("pin");
        if pin.as_deref().is_some_and(|p| !p.starts_with("sha256:")) {
            return Err("the enrolment link's certificate pin is not one this app knows; ask for a new link".into());
        }
        Ok(EnrolLink { desk: secure_url(&desk, "the desk's worker in the link")?, code, pin })
    }

    /// Takes the code to the worker once: the rep's token and what the app needs.
    pub async fn enrol(&self) -> Result<Enrolled, String> {
        let builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("bt-autotask/", env!("CARGO_PKG_VERSION")));
        let http = super::trust::desk_client(self.pin.as_deref(), builder)?;
        let mut url = self.desk.clone();
        url.set_path(ENROL_PATH);
        let response = http
            .post(url)
            .json(&EnrolRequest { code: self.code.clone() })
            .send()
            .await
            .map_err(|e| format!("the desk's worker at {} cannot be reached: {}", self.desk, in_words(&e)))?;
        match response.status().as_u16() {
            200 => response.json::<Enrolled>().await.map_err(|e| format!("the desk's worker answered oddly: {e}")),
            401 => {
                Err("this enrolment code does not work: it was used already, has expired, or was mistyped; ask your \
                        desk's administrator for a new link"
                    .into())
            }
            status => {
                let said: String = response.text().await.unwrap_or_default().chars().take(300).collect();
                Err(format!("the desk's worker answered {status}: {said}"))
            }
        }
    }
}

/// The configuration text with the profile an enrolment makes: the worker, the rep, where the
/// appliance and Autotask's web UI are — no credential (the token goes to the keyring, under
/// the profile's `desk_token`). An enrolled profile of the same name is replaced (enrolling
/// again); one with credentials of its own is not touched.
pub fn with_enrolled_profile(
    text: &str,
    base: &std::path::Path,
    enrolled: &Enrolled,
    link: &EnrolLink,
) -> Result<String, String> {
    use toml_edit::{DocumentMut, Item, Table, value};
    let mut doc: DocumentMut = text.parse().map_err(|e| format!("the configuration file is not valid TOML ({e})"))?;
    let tables = doc
        .entry("profile")
        .or_insert_with(|| Item::ArrayOfTables(Default::default()))
        .as_array_of_tables_mut()
        .ok_or("the configuration's 'profile' is not a list of [[profile]] tables; correct it in a text editor")?;
    let same_name = tables.iter().position(|t| t.get("name").and_then(Item::as_str) == Some(enrolled.profile.as_str()));
    if let Some(at) = same_name {
        if !tables.get(at).is_some_and(|t| t.contains_key("autotask_web_url")) {
            return Err(format!(
                "a profile named '{}' with credentials of its own is in Settings already; remove it there first",
                enrolled.profile
            ));
        }
        tables.remove(at);
    }
    let appliance =
        Url::parse(&enrolled.appliance_url).map_err(|e| format!("the worker named no usable appliance ({e})"))?;
    let host = match (appliance.host_str(), appliance.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        (None, _) => return Err("the worker named no usable appliance".into()),
    };
    let mut table = Table::new();
    table.insert("name", value(enrolled.profile.as_str()));
    table.insert("desk_worker_url", value(link.desk.as_str()));
    if let Some(pin) = &link.pin {
        table.insert("desk_certificate_pin", value(pin.as_str()));
    }
    table.insert("rep_username", value(enrolled.username.as_str()));
    table.insert("rep_email", value(enrolled.email.as_str()));
    table.insert("appliance_id", value(enrolled.appliance_id.as_str()));
    table.insert("appliance_host", value(host));
    if appliance.scheme() == "http" {
        table.insert("use_non_tls_connections", value(true));
    }
    table.insert("autotask_web_url", value(enrolled.autotask_web_url.as_str()));
    tables.push(table);
    let text = doc.to_string();
    crate::config::WorkerConfig::parse(&text, base, &crate::config::SkipSecrets).map_err(|e| e.to_string())?;
    Ok(text)
}

/// A transport error with its causes (a certificate refused says so), without the URL.
fn in_words(e: &reqwest::Error) -> String {
    let mut words = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        words = format!("{words}: {s}");
        source = s.source();
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_or_a_code_with_the_workers_address_is_understood() {
        let link = EnrolLink::parse(
            " bt-autotask://enrol?desk=https%3A%2F%2Fdesk.example.com%3A8180%2F&code=K7M2Q-4XW9D&pin=sha256%3Aabc ",
            None,
        )
        .unwrap();
        assert_eq!(link.desk.as_str(), "https://desk.example.com:8180/");
        assert_eq!((link.code.as_str(), link.pin.as_deref()), ("K7M2Q-4XW9D", Some("sha256:abc")));
        let typed = EnrolLink::parse("k7m2q 4xw9d", Some("https://desk.example.com:8180")).unwrap();
        assert_eq!((typed.code.as_str(), typed.pin), ("k7m2q 4xw9d", None));
        assert!(EnrolLink::parse("K7M2Q", None).unwrap_err().contains("desk's worker"));
        assert!(EnrolLink::parse("K7M2Q", Some("http://desk.example.com")).unwrap_err().contains("https"));
        assert!(EnrolLink::parse("bt-autotask://enrol?code=X", None).unwrap_err().contains("no desk"));
        assert!(EnrolLink::parse("bt-autotask://open?x=1", None).unwrap_err().contains("not an enrolment link"));
    }
}
