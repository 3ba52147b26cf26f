//! The app's side of enrolment: what a link would do, said before anything happens
//! ([`preview`] — the desk it names, how its certificate would be trusted, whether this app
//! already follows that desk or another); then, once the rep confirms, the code taken to the
//! worker once for the rep's token ([`enrol`]); then a profile that holds only that token (in the
//! keyring) and where things are, which never silently replaces another ([`with_enrolled_profile`]).

use std::time::Duration;

use serde::Serialize;
use url::Url;

pub use crate::desk_api::EnrolLink;
use crate::desk_api::{ENROL_PATH, EnrolRequest, Enrolled};

/// What the app tells its rep before enrolling with a link.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnrolPreview {
    /// The desk's worker the link names: `https://desk-server:8180`.
    pub desk: String,
    /// Its host alone, as the confirmation names it.
    pub host: String,
    /// How its certificate would be trusted, in words.
    pub certificate: String,
    /// The profiles of this app that follow a desk's worker now.
    pub following: Vec<Followed>,
    /// What the rep must know before saying yes: another desk, another certificate.
    pub warnings: Vec<String>,
}

/// A profile of this app that follows a desk's worker.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Followed {
    pub profile: String,
    pub desk: String,
    /// Whether it follows the desk the link names.
    pub same_desk: bool,
    /// Whether it was enrolled (holds only a rep token), so enrolling may replace it.
    pub enrolled: bool,
}

/// What enrolling with `link` would do, given this app's configuration (none yet: `None`).
pub fn preview(link: &EnrolLink, config: Option<&crate::config::WorkerConfig>) -> EnrolPreview {
    let desk = link.desk_origin();
    let host = link.desk.host_str().unwrap_or_default().to_owned();
    let certificate = match &link.pin {
        Some(pin) => format!(
            "The link names the desk's own certificate ({}); this app will trust that certificate for this desk, and a certificate this computer trusts.",
            short_pin(pin)
        ),
        None => "A certificate this computer already trusts (a public or company certificate authority).".to_owned(),
    };
    let mut following = Vec::new();
    let mut warnings = Vec::new();
    for profile in config.map(|c| c.profiles.as_slice()).unwrap_or_default() {
        let crate::config::DeskRole::Follows { url, .. } = &profile.desk else { continue };
        let same_desk = url.origin() == link.desk.origin();
        let pinned = profile.enrolled.as_ref().and_then(|e| e.certificate_pin.clone());
        if same_desk && pinned.is_some() && link.pin.is_some() && pinned != link.pin {
            warnings.push(format!(
                "This link names another certificate for {desk} than the one this app trusts for it ({}). Enrol only if your desk lead told you the desk's certificate changed: a link from anyone else could lead this app to a look-alike.",
                pinned.as_deref().map(short_pin).unwrap_or_default()
            ));
        }
        if !same_desk {
            warnings.push(format!(
                "This app follows another desk: {} (profile '{}'). This link is for a different desk, {desk}. Enrol only if your desk lead sent you this link.",
                url.origin().ascii_serialization(),
                profile.name
            ));
        }
        let enrolled = profile.enrolled.is_some();
        following.push(Followed {
            profile: profile.name.clone(),
            desk: url.origin().ascii_serialization(),
            same_desk,
            enrolled,
        });
    }
    EnrolPreview { desk, host, certificate, following, warnings }
}

/// A pin as a person compares it: its first characters.
fn short_pin(pin: &str) -> String {
    let digest = pin.trim_start_matches("sha256:");
    format!("SHA-256 {}…", digest.chars().take(16).collect::<String>())
}

impl EnrolLink {
    /// Takes the code to the worker once: the rep's token and what the app needs.
    pub async fn enrol(&self) -> Result<Enrolled, String> {
        let builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("bt-autotask/", env!("CARGO_PKG_VERSION")));
        let http = super::trust::desk_client(self.pin.as_deref(), builder)?;
        // The desk's addresses in turn, while one cannot be reached at all (the code was not sent).
        // Owned, so the future stays `Send` for any lifetime (a borrowing iterator held across
        // an await point does not, as the compiler sees it).
        let desks: Vec<Url> = std::iter::once(&self.desk).chain(&self.also).cloned().collect();
        let mut desks = desks.into_iter().peekable();
        let (mut response, mut unreached) = (None, Vec::new());
        while let Some(desk) = desks.next() {
            let mut url = desk.clone();
            url.set_path(ENROL_PATH);
            match http.post(url).json(&EnrolRequest { code: self.code.clone() }).send().await {
                Ok(answered) => {
                    response = Some(answered);
                    break;
                }
                Err(e) => {
                    unreached.push(format!("the desk's worker at {desk} cannot be reached: {}", in_words(&e)));
                    if !e.is_connect() || desks.peek().is_none() {
                        return Err(unreached.join("; "));
                    }
                }
            }
        }
        let response = response.ok_or("the enrolment link names no desk's worker; ask for a new link")?;
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

/// The configuration text with the profile an enrolment makes — the worker, the rep, where the
/// appliance and Autotask's web UI are, no credential (the token goes to the keyring, under the
/// profile's `desk_token`) — and the profile's name. `replace` names the enrolled profile the rep
/// chose to replace; any other profile stays, and the new one takes a name of its own when its
/// desk's name is taken (`Desk (desk-server)`).
pub fn with_enrolled_profile(
    text: &str,
    base: &std::path::Path,
    enrolled: &Enrolled,
    link: &EnrolLink,
    replace: Option<&str>,
) -> Result<(String, String), String> {
    use toml_edit::{DocumentMut, Item, Table, value};
    let mut doc: DocumentMut = text.parse().map_err(|e| format!("the configuration file is not valid TOML ({e})"))?;
    let tables = doc
        .entry("profile")
        .or_insert_with(|| Item::ArrayOfTables(Default::default()))
        .as_array_of_tables_mut()
        .ok_or("the configuration's 'profile' is not a list of [[profile]] tables; correct it in a text editor")?;
    let named = |tables: &toml_edit::ArrayOfTables, name: &str| {
        tables.iter().position(|t| t.get("name").and_then(Item::as_str).is_some_and(|n| n.eq_ignore_ascii_case(name)))
    };
    if let Some(old) = replace {
        let at = named(tables, old).ok_or_else(|| format!("there is no profile named '{old}' to replace"))?;
        if !tables.get(at).is_some_and(|t| t.contains_key("autotask_web_url")) {
            return Err(format!(
                "profile '{old}' has credentials of its own; an enrolment does not replace it (remove it in Settings first)"
            ));
        }
        tables.remove(at);
    }
    let host = link.desk.host_str().unwrap_or("desk");
    let name = [enrolled.profile.clone(), format!("{} ({host})", enrolled.profile)]
        .into_iter()
        .chain((2..).map(|n| format!("{} ({host}) {n}", enrolled.profile)))
        .find(|candidate| named(tables, candidate).is_none())
        .unwrap_or_else(|| enrolled.profile.clone());
    let appliance =
        Url::parse(&enrolled.appliance_url).map_err(|e| format!("the worker named no usable appliance ({e})"))?;
    let appliance_host = match (appliance.host_str(), appliance.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        (None, _) => return Err("the worker named no usable appliance".into()),
    };
    let mut table = Table::new();
    table.insert("name", value(name.as_str()));
    table.insert("desk_worker_url", value(link.desk.as_str()));
    if !link.also.is_empty() {
        table.insert("desk_worker_other_urls", value(link.also.iter().map(Url::as_str).collect::<toml_edit::Array>()));
    }
    if let Some(pin) = &link.pin {
        table.insert("desk_certificate_pin", value(pin.as_str()));
    }
    table.insert("rep_username", value(enrolled.username.as_str()));
    table.insert("rep_email", value(enrolled.email.as_str()));
    table.insert("appliance_id", value(enrolled.appliance_id.as_str()));
    table.insert("appliance_host", value(appliance_host));
    if appliance.scheme() == "http" {
        table.insert("use_non_tls_connections", value(true));
    }
    table.insert("autotask_web_url", value(enrolled.autotask_web_url.as_str()));
    tables.push(table);
    let text = doc.to_string();
    crate::config::WorkerConfig::parse(&text, base, &crate::config::SkipSecrets).map_err(|e| e.to_string())?;
    Ok((text, name))
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

    fn enrolled(profile: &str) -> Enrolled {
        Enrolled {
            token: "btarep_x".into(),
            profile: profile.into(),
            appliance_id: "default".into(),
            appliance_host: "support.example.com".into(),
            appliance_url: "https://support.example.com/".into(),
            autotask_web_url: "https://ww5.autotask.net/".into(),
            username: "alex.morgan".into(),
            email: "alex.morgan@example.com".into(),
            resource_id: 7,
        }
    }

    fn link(desk: &str, pin: Option<&str>) -> EnrolLink {
        EnrolLink {
            desk: Url::parse(desk).unwrap_or_else(|e| panic!("{e}")),
            also: Vec::new(),
            code: "K".into(),
            pin: pin.map(str::to_owned),
        }
    }

    fn config(text: &str) -> crate::config::WorkerConfig {
        crate::config::WorkerConfig::parse(text, std::path::Path::new("."), &crate::config::SkipSecrets)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_link_never_replaces_a_profile_unless_the_rep_chose_it() {
        let first = link("https://desk-a.example.com:8180/", Some("sha256:AAAA"));
        let base = std::path::Path::new(".");
        let (text, name) =
            with_enrolled_profile("", base, &enrolled("Desk"), &first, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(name, "Desk");
        let other = link("https://desk-b.example.com:8180/", Some("sha256:BBBB"));
        let (both, second) =
            with_enrolled_profile(&text, base, &enrolled("Desk"), &other, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(second, "Desk (desk-b.example.com)", "a name of its own");
        assert_eq!(config(&both).profiles.len(), 2, "the first stays");
        let (replaced, name) = with_enrolled_profile(&text, base, &enrolled("Desk"), &other, Some("Desk"))
            .unwrap_or_else(|e| panic!("{e}"));
        let profiles = config(&replaced).profiles;
        assert_eq!((profiles.len(), name.as_str()), (1, "Desk"));
        assert!(replaced.contains("desk-b.example.com") && !replaced.contains("desk-a.example.com"));
        let own = "[[profile]]\nname = \"Own\"\nappliance_host = \"s.example.com\"\nclient_id = \"c\"\nautotask_username = \"u\"\n";
        let refused = with_enrolled_profile(own, base, &enrolled("Own"), &other, Some("Own")).unwrap_err();
        assert!(refused.contains("credentials of its own"), "{refused}");
    }

    #[test]
    fn a_desk_of_several_workers_is_followed_at_each_address_in_the_links_order() {
        let mut several = link("https://w1.example.com:8180/", Some("sha256:AAAA"));
        several.also = vec![Url::parse("https://w2.example.com:8180/").unwrap_or_else(|e| panic!("{e}"))];
        let (text, _) = with_enrolled_profile("", std::path::Path::new("."), &enrolled("Desk"), &several, None)
            .unwrap_or_else(|e| panic!("{e}"));
        match &config(&text).profiles[0].desk {
            crate::config::DeskRole::Follows { url, also, .. } => {
                assert_eq!(url.as_str(), "https://w1.example.com:8180/");
                assert_eq!(also.iter().map(Url::as_str).collect::<Vec<_>>(), ["https://w2.example.com:8180/"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_preview_says_the_desk_its_certificate_and_whether_the_app_follows_it_or_another() {
        let fresh = preview(&link("https://desk-a.example.com:8180/", Some("sha256:AAAAAAAAAAAAAAAAAAAA")), None);
        assert_eq!(
            (fresh.desk.as_str(), fresh.host.as_str()),
            ("https://desk-a.example.com:8180", "desk-a.example.com")
        );
        assert!(fresh.certificate.contains("SHA-256 AAAAAAAAAAAAAAAA…") && fresh.warnings.is_empty(), "{fresh:?}");
        let first = link("https://desk-a.example.com:8180/", Some("sha256:AAAA"));
        let (text, _) = with_enrolled_profile("", std::path::Path::new("."), &enrolled("Desk"), &first, None)
            .unwrap_or_else(|e| panic!("{e}"));
        let following = config(&text);
        let again = preview(&first, Some(&following));
        assert!(again.warnings.is_empty() && again.following[0].same_desk && again.following[0].enrolled, "{again:?}");
        let repinned = preview(&link("https://desk-a.example.com:8180/", Some("sha256:ZZZZ")), Some(&following));
        assert!(repinned.warnings[0].contains("another certificate"), "{repinned:?}");
        let elsewhere = preview(&link("https://evil.example.net/", Some("sha256:EEEE")), Some(&following));
        assert!(!elsewhere.following[0].same_desk, "{elsewhere:?}");
        assert!(
            elsewhere.warnings[0].contains("follows another desk: https://desk-a.example.com:8180"),
            "{elsewhere:?}"
        );
    }
}
