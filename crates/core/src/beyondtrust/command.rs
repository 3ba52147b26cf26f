//! Command API requests and answers: session keys, API info, health, session attributes.
//! Answers are small, so they are read into a flat list of elements and picked from by name.

use chrono::{DateTime, TimeZone, Utc};
use quick_xml::Reader;
use quick_xml::events::Event;

use super::report::CustomAttribute;
use super::xml::resolve_references;

/// Where a generated session waits (`queue_id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Queue {
    General,
    Rep(u64),
    Team(u64),
    RepUsername(String),
    Issue(String),
}

impl Queue {
    pub fn as_param(&self) -> String {
        match self {
            Queue::General => "general".to_owned(),
            Queue::Rep(id) => format!("rep:{id}"),
            Queue::Team(id) => format!("team:{id}"),
            Queue::RepUsername(name) => format!("rep_username:{name}"),
            Queue::Issue(code) => format!("issue:{code}"),
        }
    }
}

/// `generate_session_key` parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionKeyRequest {
    pub queue: Queue,
    /// Ties the session to a ticket.
    pub external_key: Option<String>,
    /// 1 (high) to 3 (low).
    pub priority: Option<u8>,
    pub skills: Vec<String>,
    /// `session.custom.<code name>` values.
    pub custom: Vec<(String, String)>,
    pub url_hostname: Option<String>,
    /// Seconds the key stays valid.
    pub ttl: Option<u32>,
}

impl SessionKeyRequest {
    pub fn new(queue: Queue) -> SessionKeyRequest {
        SessionKeyRequest {
            queue,
            external_key: None,
            priority: None,
            skills: Vec::new(),
            custom: Vec::new(),
            url_hostname: None,
            ttl: None,
        }
    }

    pub(crate) fn params(&self) -> Vec<(String, String)> {
        let mut p = vec![
            ("action".to_owned(), "generate_session_key".to_owned()),
            ("type".to_owned(), "support".to_owned()),
            ("queue_id".to_owned(), self.queue.as_param()),
        ];
        if let Some(key) = &self.external_key {
            p.push(("external_key".to_owned(), key.clone()));
        }
        if let Some(priority) = self.priority {
            p.push(("priority".to_owned(), priority.to_string()));
        }
        if !self.skills.is_empty() {
            p.push(("skills".to_owned(), self.skills.join(",")));
        }
        for (code, value) in &self.custom {
            p.push((format!("session.custom.{code}"), value.clone()));
        }
        if let Some(host) = &self.url_hostname {
            p.push(("url_hostname".to_owned(), host.clone()));
        }
        if let Some(ttl) = self.ttl {
            p.push(("ttl".to_owned(), ttl.to_string()));
        }
        p
    }
}

/// A generated session key and its ready-made invitation.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionKey {
    /// The 7-digit code the customer types.
    pub short_key: String,
    /// The URL the customer opens.
    pub key_url: String,
    pub mail_subject: Option<String>,
    pub mail_body: Option<String>,
    pub expires: Option<DateTime<Utc>>,
}

/// `get_api_info`: the API version and the account's permissions (`perm_command` = `full_access`, …).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApiInfo {
    pub api_version: Option<String>,
    pub company_name: Option<String>,
    pub timestamp: Option<String>,
    pub permissions: Vec<(String, String)>,
}

impl ApiInfo {
    pub fn permission(&self, name: &str) -> Option<&str> {
        self.permissions.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Whether the account may generate session keys (Command API full access).
    pub fn can_generate_session_keys(&self) -> bool {
        self.permission("perm_command") == Some("full_access")
    }

    /// Whether the account may read support session reports.
    pub fn can_read_support_reports(&self) -> bool {
        matches!(self.permission("perm_reporting_support").or(self.permission("perm_reporting")), Some("1"))
    }
}

/// One element of a small XML answer: its local name, depth, attributes and text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Element {
    pub name: String,
    pub depth: usize,
    pub attributes: Vec<(String, String)>,
    pub text: String,
}

impl Element {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attributes.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// Reads a small XML answer into its elements in document order; `Err` with the byte position.
pub(crate) fn flatten(xml: &[u8]) -> Result<Vec<Element>, String> {
    let mut reader = Reader::from_reader(xml);
    let mut buf = Vec::new();
    let mut elements: Vec<Element> = Vec::new();
    let mut open: Vec<usize> = Vec::new();
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| format!("not well-formed XML at byte {}: {e}", reader.error_position()))?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let attributes = e
                    .attributes()
                    .flatten()
                    .map(|a| (a.key.local_name().as_ref().to_owned(), resolve_references(&a.value)))
                    .collect();
                elements.push(Element {
                    name: e.local_name().as_ref().to_owned(),
                    depth: open.len(),
                    attributes,
                    text: String::new(),
                });
                if matches!(event, Event::Start(_)) {
                    open.push(elements.len() - 1);
                }
            }
            Event::End(_) => {
                open.pop();
            }
            Event::Text(t) => {
                if let Some(&i) = open.last() {
                    elements[i].text.push_str(&t.xml10_content());
                }
            }
            Event::CData(c) => {
                if let Some(&i) = open.last() {
                    elements[i].text.push_str(&c);
                }
            }
            Event::GeneralRef(r) => {
                if let Some(&i) = open.last() {
                    let resolved = match r.resolve_char_ref() {
                        Ok(Some(c)) => c.to_string(),
                        _ => match &*r {
                            "amp" => "&".into(),
                            "lt" => "<".into(),
                            "gt" => ">".into(),
                            "quot" => "\"".into(),
                            "apos" => "'".into(),
                            other => format!("&{other};"),
                        },
                    };
                    elements[i].text.push_str(&resolved);
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok(elements)
}

fn text_of(elements: &[Element], name: &str) -> Option<String> {
    elements.iter().find(|e| e.name == name).map(|e| e.text.trim().to_owned()).filter(|t| !t.is_empty())
}

/// The message of an `<error>` answer, if that is what it is.
pub(crate) fn error_message(elements: &[Element]) -> Option<String> {
    let root = elements.first()?;
    (root.name == "error").then(|| root.text.trim().to_owned())
}

pub(crate) fn session_key(elements: &[Element]) -> Option<SessionKey> {
    let root = elements.iter().find(|e| e.name == "session_key")?;
    let expires =
        root.attr("expires").and_then(|t| t.trim().parse::<i64>().ok()).and_then(|t| Utc.timestamp_opt(t, 0).single());
    Some(SessionKey {
        short_key: text_of(elements, "short_key")?,
        key_url: text_of(elements, "key_url")?,
        mail_subject: text_of(elements, "mail_subject"),
        mail_body: text_of(elements, "mail_body"),
        expires,
    })
}

pub(crate) fn api_info(elements: &[Element]) -> ApiInfo {
    let mut permissions: Vec<(String, String)> = Vec::new();
    for e in elements {
        if e.name.starts_with("perm_") {
            permissions.push((e.name.clone(), e.text.trim().to_owned()));
        }
        for (k, v) in &e.attributes {
            if k.starts_with("perm_") {
                permissions.push((k.clone(), v.clone()));
            }
        }
    }
    ApiInfo {
        api_version: text_of(elements, "api_version"),
        company_name: text_of(elements, "company_name"),
        timestamp: text_of(elements, "timestamp"),
        permissions,
    }
}

/// Every leaf element as (name, text): enough to show an appliance's health.
pub(crate) fn leaves(elements: &[Element]) -> Vec<(String, String)> {
    elements
        .iter()
        .enumerate()
        .filter(|(i, e)| elements.get(i + 1).is_none_or(|next| next.depth <= e.depth))
        .map(|(_, e)| (e.name.clone(), e.text.trim().to_owned()))
        .collect()
}

pub(crate) fn custom_attributes(elements: &[Element]) -> Vec<CustomAttribute> {
    elements
        .iter()
        .filter(|e| e.name == "custom_attribute")
        .map(|e| CustomAttribute {
            code_name: e.attr("code_name").unwrap_or_default().into(),
            display_name: e.attr("display_name").map(Into::into),
            value: e.text.trim().into(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_key_answer_reads_in_any_namespace() {
        let xml = br#"<?xml version="1.0"?><session_key xmlns="http://www.bomgar.com/namespaces/API/command" expires="1795515302">
            <short_key>1234567</short_key><key_url>https://support.example.com/?ak=1234567&amp;x=1</key_url>
            <mail_subject>Support &amp; you</mail_subject><mail_body>Go to https://support.example.com</mail_body></session_key>"#;
        let key = session_key(&flatten(xml).unwrap()).unwrap();
        assert_eq!(key.short_key, "1234567");
        assert_eq!(key.key_url, "https://support.example.com/?ak=1234567&x=1");
        assert_eq!(key.mail_subject.as_deref(), Some("Support & you"));
        assert_eq!(key.expires.unwrap().timestamp(), 1795515302);
    }

    #[test]
    fn errors_permissions_and_attributes() {
        assert_eq!(error_message(&flatten(b"<error>Login failed</error>").unwrap()).as_deref(), Some("Login failed"));
        let info = api_info(
            &flatten(b"<api_information><api_version>1.26.1</api_version><permissions><perm_command>full_access</perm_command><perm_reporting_support>1</perm_reporting_support></permissions></api_information>")
                .unwrap(),
        );
        assert!(info.can_generate_session_keys() && info.can_read_support_reports());
        let attrs = custom_attributes(
            &flatten(br#"<custom_attributes><custom_attribute display_name="External Key" code_name="external_key">7201</custom_attribute></custom_attributes>"#).unwrap(),
        );
        assert_eq!(attrs[0].code_name, "external_key");
        assert_eq!(attrs[0].value, "7201");
        assert!(flatten(b"<a><b></a>").is_err());
    }

    #[test]
    fn queue_forms() {
        assert_eq!(Queue::General.as_param(), "general");
        assert_eq!(Queue::Rep(3).as_param(), "rep:3");
        assert_eq!(Queue::Team(2).as_param(), "team:2");
        assert_eq!(Queue::RepUsername("alex.morgan".into()).as_param(), "rep_username:alex.morgan");
        assert_eq!(Queue::Issue("vpn".into()).as_param(), "issue:vpn");
    }
}
