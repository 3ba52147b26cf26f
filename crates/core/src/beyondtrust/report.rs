//! Typed reports from the Reporting API: support sessions with everything in them, session
//! listings and exit surveys. Plain structs; `xml.rs` fills them from the appliance's XML.

use chrono::{DateTime, Utc};

/// Text in a report. Most of a report's values are short (ids, names, addresses, field names):
/// up to 24 bytes are kept inline, so a session costs a few allocations instead of a hundred.
pub type Text = compact_str::CompactString;

/// Text that is usually one of a few words the appliance repeats (event types, party kinds,
/// issue-form field names).
pub type Word = Text;

/// A word as `Text`. Short words are inline anyway; the long event types the appliance repeats
/// are shared, not allocated per event.
pub fn word(text: &str) -> Word {
    const LONG: &[&str] =
        &["System Information Retrieved", "Representative Joined Session", "Representative Left Session"];
    if text.len() <= std::mem::size_of::<Text>() {
        return Text::new(text);
    }
    match LONG.iter().find(|w| **w == text) {
        Some(w) => Text::const_new(w),
        None => Text::new(text),
    }
}

/// One support session (`session_list/session`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SupportSession {
    pub lsid: Text,
    pub lseq: Option<u64>,
    pub session_type: Option<Text>,
    pub start_time: Option<DateTime<Utc>>,
    /// Absent while the session has not finished (the report can lag the end event).
    pub end_time: Option<DateTime<Utc>>,
    /// `HH:MM:SS` as the appliance reports it.
    pub duration: Option<Text>,
    pub external_key: Option<Text>,
    pub file_transfer_count: Option<u64>,
    pub public_site: Option<PublicSite>,
    pub custom_attributes: Vec<CustomAttribute>,
    pub primary_customer: Option<Party>,
    pub primary_rep: Option<Party>,
    pub customers: Vec<Customer>,
    pub reps: Vec<Representative>,
    pub events: Vec<SessionEvent>,
    pub chat_view_url: Option<Text>,
    pub chat_download_url: Option<Text>,
    /// Recording and other URLs, by element name (`session_recording_view_url`, …).
    pub other_urls: Vec<(Text, Text)>,
    /// `command_shell_recordings`: one per command shell the rep opened while recording.
    pub shell_recordings: Vec<ShellRecording>,
    /// Child elements this parser does not know, by name, with their text.
    pub extra: Vec<(Text, Text)>,
}

/// One command-shell recording of a session (`command_shell_recording`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ShellRecording {
    pub instance: Option<Text>,
    pub view_url: Option<Text>,
    pub download_url: Option<Text>,
}

impl SupportSession {
    /// A URL the report gives by its element name (`session_recording_view_url`, …).
    pub fn url(&self, element: &str) -> Option<&str> {
        self.other_urls
            .iter()
            .find(|(name, _)| name.as_str() == element)
            .map(|(_, url)| url.as_str())
            .filter(|u| !u.is_empty())
    }

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

    /// A field of the primary customer's issue form (`name`, `company`, `issue`…), when filled in.
    pub fn customer_info(&self, field: &str) -> Option<&str> {
        let customer = self.customers.iter().find(|c| c.primary).or(self.customers.first())?;
        customer.info(field).filter(|v| !v.is_empty())
    }

    /// The customer's name: from the issue form, else as the session names its primary customer.
    pub fn customer_name(&self) -> Option<&str> {
        self.customer_info("name").or_else(|| self.primary_customer.as_ref().map(|p| p.name.as_str()))
    }

    /// Who and how long, as a rep reads it: "Pat Lee (Dynamo Corporation, 25 min)".
    pub fn described(&self) -> String {
        describe_session(self.customer_name(), self.customer_info("company"), self.duration_seconds())
    }

    /// The value of a custom attribute by code name.
    pub fn custom(&self, code_name: &str) -> Option<&str> {
        self.custom_attributes.iter().find(|a| a.code_name.eq_ignore_ascii_case(code_name)).map(|a| a.value.as_str())
    }
}

/// A session as a rep reads it: "Pat Lee (Dynamo Corporation, 25 min)"; the minutes rounded.
pub fn describe_session(customer: Option<&str>, company: Option<&str>, duration_seconds: Option<u64>) -> String {
    let who = customer.filter(|c| !c.trim().is_empty()).unwrap_or("an unnamed customer");
    let mut about: Vec<String> = company.filter(|c| !c.trim().is_empty()).map(str::to_owned).into_iter().collect();
    about.extend(duration_seconds.map(|s| format!("{} min", (s + 30) / 60)));
    if about.is_empty() { who.to_owned() } else { format!("{who} ({})", about.join(", ")) }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct PublicSite {
    pub id: Option<Text>,
    pub name: Text,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct CustomAttribute {
    pub code_name: Text,
    pub display_name: Option<Text>,
    pub value: Text,
}

/// Someone named in the session (`primary_customer`, `primary_rep`, an event's performer).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Party {
    pub gsnumber: Option<Text>,
    pub id: Option<Text>,
    /// `customer`, `representative`, `system`… where the appliance says.
    pub kind: Option<Word>,
    pub name: Text,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Customer {
    pub gsnumber: Option<Text>,
    pub username: Option<Text>,
    pub public_ip: Option<Text>,
    pub private_ip: Option<Text>,
    pub hostname: Option<Text>,
    pub os: Option<Text>,
    pub primary: bool,
    /// The issue form's fields (`name`, `company`, `company_code`, `issue`, `details`, custom code names).
    pub info: Vec<(Word, Text)>,
}

impl Customer {
    pub fn info(&self, field: &str) -> Option<&str> {
        self.info.iter().find(|(k, _)| k.eq_ignore_ascii_case(field)).map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Representative {
    pub gsnumber: Option<Text>,
    pub id: Option<Text>,
    pub username: Option<Text>,
    pub display_name: Option<Text>,
    pub public_ip: Option<Text>,
    pub private_ip: Option<Text>,
    pub hostname: Option<Text>,
    pub os: Option<Text>,
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
    pub body: Option<Text>,
    /// `data/value name= value=` pairs (file names and sizes, …).
    pub data: Vec<(Text, Text)>,
    /// For system-information events: the tables in the body.
    pub system_info: Vec<SystemInfoCategory>,
    pub extra: Vec<(Text, Text)>,
}

impl SessionEvent {
    pub fn data(&self, name: &str) -> Option<&str> {
        self.data.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A section of retrieved system information (`General`, `Disk`, `Memory`, `Network`…).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SystemInfoCategory {
    pub name: Text,
    /// Each row is its fields in order, as (field id, value).
    pub rows: Vec<Vec<(Text, Text)>>,
}

/// One line of `SupportSessionListing`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionSummary {
    pub lsid: Text,
    pub has_recording: bool,
    pub start_time: Option<DateTime<Utc>>,
    pub end_time: Option<DateTime<Utc>>,
    /// Other child elements by name, with their text.
    pub fields: Vec<(Text, Text)>,
}

/// Who filled in an exit survey.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SurveyKind {
    Customer,
    Representative,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExitSurvey {
    pub lsid: Text,
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
    pub id: Option<Text>,
    pub question_type: Option<Text>,
    pub name: Option<Text>,
    pub label: Option<Text>,
    pub report_header: Option<Text>,
    pub answers: Vec<Text>,
}

impl SurveyQuestion {
    /// What to show as the question: its label, else report header, else name.
    pub fn title(&self) -> &str {
        self.label.as_deref().or(self.report_header.as_deref()).or(self.name.as_deref()).unwrap_or("Question")
    }
}
