//! Typed reports from the Reporting API: support sessions with everything in them, session
//! listings and exit surveys. Plain structs; `xml.rs` fills them from the appliance's XML.

use std::borrow::Cow;

use chrono::{DateTime, Utc};

/// Text that is usually one of a few words the appliance repeats (event types, party kinds,
/// issue-form field names): those are shared, not allocated per use.
pub type Word = Cow<'static, str>;

/// The shared copy of a common word, or an owned copy of anything else.
pub fn word(text: &str) -> Word {
    const COMMON: &[&str] = &[
        "Chat Message",
        "Session Note Added",
        "System Information Retrieved",
        "File Transferred",
        "File Downloaded",
        "File Uploaded",
        "Screen Sharing Started",
        "Screen Sharing Stopped",
        "Conference Owner Changed",
        "Customer Left Session",
        "Customer Connected",
        "Representative Left Session",
        "Representative Joined Session",
        "Customer Exit Survey",
        "representative",
        "customer",
        "system",
        "name",
        "company",
        "company_code",
        "issue",
        "details",
    ];
    match COMMON.iter().find(|w| **w == text) {
        Some(w) => Cow::Borrowed(w),
        None => Cow::Owned(text.to_owned()),
    }
}

/// One support session (`session_list/session`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SupportSession {
    pub lsid: String,
    pub lseq: Option<u64>,
    pub session_type: Option<String>,
    pub start_time: Option<DateTime<Utc>>,
    /// Absent while the session has not finished (the report can lag the end event).
    pub end_time: Option<DateTime<Utc>>,
    /// `HH:MM:SS` as the appliance reports it.
    pub duration: Option<String>,
    pub external_key: Option<String>,
    pub file_transfer_count: Option<u64>,
    pub public_site: Option<PublicSite>,
    pub custom_attributes: Vec<CustomAttribute>,
    pub primary_customer: Option<Party>,
    pub primary_rep: Option<Party>,
    pub customers: Vec<Customer>,
    pub reps: Vec<Representative>,
    pub events: Vec<SessionEvent>,
    pub chat_view_url: Option<String>,
    pub chat_download_url: Option<String>,
    /// Recording and other URLs, by element name (`session_recording_view_url`, …).
    pub other_urls: Vec<(String, String)>,
    /// Child elements this parser does not know, by name, with their text.
    pub extra: Vec<(String, String)>,
}

impl SupportSession {
    /// The session's duration in seconds, from `duration` or else start and end.
    pub fn duration_seconds(&self) -> Option<u64> {
        if let Some(d) = &self.duration {
            let parts: Vec<u64> = d.split(':').filter_map(|p| p.trim().parse().ok()).collect();
            if let [h, m, s] = parts[..] {
                return Some(h * 3600 + m * 60 + s);
            }
        }
        let (start, end) = (self.start_time?, self.end_time?);
        u64::try_from((end - start).num_seconds()).ok()
    }

    /// The primary representative's entry in the rep list.
    pub fn primary_representative(&self) -> Option<&Representative> {
        self.reps.iter().find(|r| r.primary).or_else(|| {
            let primary = self.primary_rep.as_ref()?;
            self.reps.iter().find(|r| r.gsnumber.is_some() && r.gsnumber == primary.gsnumber)
        })
    }

    /// The value of a custom attribute by code name.
    pub fn custom(&self, code_name: &str) -> Option<&str> {
        self.custom_attributes.iter().find(|a| a.code_name.eq_ignore_ascii_case(code_name)).map(|a| a.value.as_str())
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct PublicSite {
    pub id: Option<String>,
    pub name: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct CustomAttribute {
    pub code_name: String,
    pub display_name: Option<String>,
    pub value: String,
}

/// Someone named in the session (`primary_customer`, `primary_rep`, an event's performer).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Party {
    pub gsnumber: Option<String>,
    pub id: Option<String>,
    /// `customer`, `representative`, `system`… where the appliance says.
    pub kind: Option<Word>,
    pub name: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Customer {
    pub gsnumber: Option<String>,
    pub username: Option<String>,
    pub public_ip: Option<String>,
    pub private_ip: Option<String>,
    pub hostname: Option<String>,
    pub os: Option<String>,
    pub primary: bool,
    /// The issue form's fields (`name`, `company`, `company_code`, `issue`, `details`, custom code names).
    pub info: Vec<(Word, String)>,
}

impl Customer {
    pub fn info(&self, field: &str) -> Option<&str> {
        self.info.iter().find(|(k, _)| k.eq_ignore_ascii_case(field)).map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Representative {
    pub gsnumber: Option<String>,
    pub id: Option<String>,
    pub username: Option<String>,
    pub display_name: Option<String>,
    pub public_ip: Option<String>,
    pub private_ip: Option<String>,
    pub hostname: Option<String>,
    pub os: Option<String>,
    pub primary: bool,
    pub seconds_involved: Option<u64>,
}

/// What an event is, for rendering; the appliance's own name stays in `event_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    ChatMessage,
    SessionNote,
    SystemInformation,
    FileTransfer,
    /// Anything else (screen sharing, owner changed, …): rendered as a line in the transcript.
    Other,
}

impl EventKind {
    pub fn of(event_type: &str) -> EventKind {
        let starts = |prefix: &str| event_type.get(..prefix.len()).is_some_and(|p| p.eq_ignore_ascii_case(prefix));
        if event_type.eq_ignore_ascii_case("chat message") {
            EventKind::ChatMessage
        } else if starts("session note") {
            EventKind::SessionNote
        } else if starts("system information") {
            EventKind::SystemInformation
        } else if starts("file ") {
            EventKind::FileTransfer
        } else {
            EventKind::Other
        }
    }
}

/// One entry of `session_details`.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionEvent {
    pub event_type: Word,
    pub kind: EventKind,
    pub timestamp: Option<DateTime<Utc>>,
    pub performed_by: Option<Party>,
    pub destination: Option<Party>,
    pub body: Option<String>,
    /// `data/value name= value=` pairs (file names and sizes, …).
    pub data: Vec<(String, String)>,
    /// For system-information events: the tables in the body.
    pub system_info: Vec<SystemInfoCategory>,
    pub extra: Vec<(String, String)>,
}

impl SessionEvent {
    pub fn data(&self, name: &str) -> Option<&str> {
        self.data.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A section of retrieved system information (`General`, `Disk`, `Memory`, `Network`…).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SystemInfoCategory {
    pub name: String,
    /// Each row is its fields in order, as (field id, value).
    pub rows: Vec<Vec<(String, String)>>,
}

/// One line of `SupportSessionListing`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionSummary {
    pub lsid: String,
    pub has_recording: bool,
    pub start_time: Option<DateTime<Utc>>,
    pub end_time: Option<DateTime<Utc>>,
    /// Other child elements by name, with their text.
    pub fields: Vec<(String, String)>,
}

/// Who filled in an exit survey.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SurveyKind {
    Customer,
    Representative,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExitSurvey {
    pub lsid: String,
    pub timestamp: Option<DateTime<Utc>>,
    pub submitted_by: Option<Party>,
    pub primary_rep: Option<Party>,
    pub primary_customer: Option<Party>,
    pub questions: Vec<SurveyQuestion>,
}

impl ExitSurvey {
    /// Customer or rep survey, from `submitted_by type=`.
    pub fn kind(&self) -> Option<SurveyKind> {
        match self.submitted_by.as_ref()?.kind.as_deref()? {
            k if k.eq_ignore_ascii_case("customer") => Some(SurveyKind::Customer),
            k if k.eq_ignore_ascii_case("rep") || k.eq_ignore_ascii_case("representative") => {
                Some(SurveyKind::Representative)
            }
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct SurveyQuestion {
    pub id: Option<String>,
    pub question_type: Option<String>,
    pub name: Option<String>,
    pub label: Option<String>,
    pub report_header: Option<String>,
    pub answers: Vec<String>,
}

impl SurveyQuestion {
    /// What to show as the question: its label, else report header, else name.
    pub fn title(&self) -> &str {
        self.label.as_deref().or(self.report_header.as_deref()).or(self.name.as_deref()).unwrap_or("Question")
    }
}
