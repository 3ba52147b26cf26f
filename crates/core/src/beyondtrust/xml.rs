//! Streaming readers for the Reporting API's XML: one pass with quick-xml straight into the
//! typed structs of `report.rs`, one record at a time, so memory stays at one session however
//! large the report. Elements match by local name, so every namespace works (Remote Support,
//! Privileged Remote Access, legacy bomgar). Entities are never expanded and DTDs never read:
//! only XML's five predefined entities and character references are resolved, anything else
//! stays as written. Unknown elements and event types are kept, never an error.

use std::io::BufRead;

use chrono::{DateTime, TimeZone, Utc};
use quick_xml::Reader;
use quick_xml::events::{BytesRef, BytesStart, Event};

use super::report::*;

/// Why a report could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReportError {
    /// The XML is broken; `position` is the byte offset where reading stopped.
    #[error("the report is not well-formed XML at byte {position}: {message}")]
    Malformed { position: u64, message: String },
    /// The appliance answered `<error>…</error>` instead of a report.
    #[error("the appliance refused the report: {0}")]
    Appliance(String),
    /// A document of another kind (`found` is its root element).
    #[error("expected a <{expected}> document, got <{found}>")]
    UnexpectedRoot { expected: &'static str, found: String },
}

/// The element names the readers care about; everything else is `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    SessionList,
    Session,
    Lseq,
    SessionType,
    StartTime,
    EndTime,
    Duration,
    ExternalKey,
    FileTransferCount,
    PublicSite,
    CustomAttributes,
    CustomAttribute,
    PrimaryCustomer,
    PrimaryRep,
    PrimaryCust,
    CustomerList,
    Customer,
    RepList,
    Representative,
    Username,
    DisplayName,
    PublicIp,
    PrivateIp,
    Hostname,
    Os,
    Info,
    SecondsInvolved,
    SessionDetails,
    Event,
    PerformedBy,
    Destination,
    Body,
    Data,
    Value,
    Category,
    Row,
    Field,
    ChatViewUrl,
    ChatDownloadUrl,
    SummaryList,
    Summary,
    SurveyList,
    Survey,
    SubmittedBy,
    QuestionList,
    Question,
    Type,
    Name,
    Label,
    ReportHeader,
    AnswerList,
    Answer,
    Error,
    Other,
}

impl Tag {
    /// Matched by length first: a long chain of string comparisons per element is measurable.
    fn of(local: &str) -> Tag {
        match (local.len(), local) {
            (2, "os") => Tag::Os,
            (3, "row") => Tag::Row,
            (4, "lseq") => Tag::Lseq,
            (4, "info") => Tag::Info,
            (4, "body") => Tag::Body,
            (4, "data") => Tag::Data,
            (4, "type") => Tag::Type,
            (4, "name") => Tag::Name,
            (5, "event") => Tag::Event,
            (5, "value") => Tag::Value,
            (5, "field") => Tag::Field,
            (5, "label") => Tag::Label,
            (5, "error") => Tag::Error,
            (6, "answer") => Tag::Answer,
            (7, "session") => Tag::Session,
            (8, "end_time") => Tag::EndTime,
            (8, "duration") => Tag::Duration,
            (8, "customer") => Tag::Customer,
            (8, "rep_list") => Tag::RepList,
            (8, "username") => Tag::Username,
            (8, "hostname") => Tag::Hostname,
            (8, "category") => Tag::Category,
            (8, "question") => Tag::Question,
            (9, "public_ip") => Tag::PublicIp,
            (10, "start_time") => Tag::StartTime,
            (10, "private_ip") => Tag::PrivateIp,
            (11, "public_site") => Tag::PublicSite,
            (11, "primary_rep") => Tag::PrimaryRep,
            (11, "destination") => Tag::Destination,
            (11, "exit_survey") => Tag::Survey,
            (11, "answer_list") => Tag::AnswerList,
            (12, "session_list") => Tag::SessionList,
            (12, "session_type") => Tag::SessionType,
            (12, "external_key") => Tag::ExternalKey,
            (12, "primary_cust") => Tag::PrimaryCust,
            (12, "display_name") => Tag::DisplayName,
            (12, "performed_by") => Tag::PerformedBy,
            (12, "submitted_by") => Tag::SubmittedBy,
            (13, "customer_list") => Tag::CustomerList,
            (13, "question_list") => Tag::QuestionList,
            (13, "report_header") => Tag::ReportHeader,
            (14, "representative") => Tag::Representative,
            (15, "session_details") => Tag::SessionDetails,
            (15, "session_summary") => Tag::Summary,
            (16, "custom_attribute") => Tag::CustomAttribute,
            (16, "primary_customer") => Tag::PrimaryCustomer,
            (16, "seconds_involved") => Tag::SecondsInvolved,
            (16, "exit_survey_list") => Tag::SurveyList,
            (17, "custom_attributes") => Tag::CustomAttributes,
            (19, "file_transfer_count") => Tag::FileTransferCount,
            (20, "session_summary_list") => Tag::SummaryList,
            (21, "session_chat_view_url") => Tag::ChatViewUrl,
            (25, "session_chat_download_url") => Tag::ChatDownloadUrl,
            _ => Tag::Other,
        }
    }
}

/// An element as a handler sees it when it opens.
struct Opened<'a> {
    tag: Tag,
    local: &'a str,
    start: &'a BytesStart<'a>,
}

impl Opened<'_> {
    fn name(&self) -> String {
        self.local.to_owned()
    }

    /// Every attribute in one pass, as (local name, value with entities resolved).
    fn each_attr(&self, mut f: impl FnMut(&str, &str)) {
        for a in self.start.attributes().with_checks(false).flatten() {
            let name = a.key.local_name();
            if a.value.contains('&') {
                f(name.as_ref(), &resolve_references(&a.value));
            } else {
                f(name.as_ref(), &a.value);
            }
        }
    }

    /// An attribute's value by local name, entities resolved as in text.
    fn attr(&self, name: &str) -> Option<String> {
        self.start
            .attributes()
            .flatten()
            .find(|a| a.key.local_name().as_ref() == name)
            .map(|a| resolve_references(&a.value))
    }

    fn timestamp(&self) -> Option<DateTime<Utc>> {
        let attribute = self
            .start
            .attributes()
            .with_checks(false)
            .flatten()
            .find(|a| a.key.local_name().as_ref() == "timestamp")?;
        let seconds = attribute.value.trim().parse::<i64>().ok()?;
        Utc.timestamp_opt(seconds, 0).single()
    }
}

/// What a report reader does with elements; `close` returns a record when one is complete.
trait Handler {
    type Record;
    const ROOT: &'static str;
    fn open(&mut self, path: &[Tag], element: &Opened<'_>);
    fn close(&mut self, path: &[Tag], tag: Tag, text: &str) -> Option<Self::Record>;
}

/// Reads a report with a handler, yielding records as they complete.
/// Where events come from: a buffered reader (copies each event into a buffer) or bytes
/// already in memory (events borrow from them, nothing copied).
trait Source {
    fn next_event(&mut self) -> quick_xml::Result<Event<'_>>;
    fn error_position(&self) -> u64;
    fn buffer_position(&self) -> u64;
}

struct Buffered<R> {
    reader: Reader<R>,
    buf: Vec<u8>,
}

impl<R: BufRead> Source for Buffered<R> {
    fn next_event(&mut self) -> quick_xml::Result<Event<'_>> {
        self.buf.clear();
        self.reader.read_event_into(&mut self.buf)
    }
    fn error_position(&self) -> u64 {
        self.reader.error_position()
    }
    fn buffer_position(&self) -> u64 {
        self.reader.buffer_position()
    }
}

struct InMemory<'a> {
    reader: Reader<&'a [u8]>,
}

impl Source for InMemory<'_> {
    fn next_event(&mut self) -> quick_xml::Result<Event<'_>> {
        self.reader.read_event()
    }
    fn error_position(&self) -> u64 {
        self.reader.error_position()
    }
    fn buffer_position(&self) -> u64 {
        self.reader.buffer_position()
    }
}

/// Reads a report with a handler, yielding records as they complete.
struct Records<S, H> {
    source: S,
    path: Vec<Tag>,
    text: String,
    handler: H,
    finished: bool,
}

impl<S: Source, H: Handler> Records<S, H> {
    fn new(source: S, handler: H) -> Self {
        Records { source, path: Vec::new(), text: String::new(), handler, finished: false }
    }

    fn malformed(&self, message: String) -> ReportError {
        ReportError::Malformed { position: self.source.error_position(), message }
    }

    fn step(&mut self) -> Result<Option<H::Record>, ReportError> {
        loop {
            let event = match self.source.next_event() {
                Ok(e) => e,
                Err(e) => {
                    let message = e.to_string();
                    return Err(self.malformed(message));
                }
            };
            match event {
                Event::Start(start) => {
                    let local = start.local_name();
                    let tag = Tag::of(local.as_ref());
                    check_root::<H>(self.path.is_empty(), tag, local.as_ref())?;
                    self.text.clear();
                    self.handler.open(&self.path, &Opened { tag, local: local.as_ref(), start: &start });
                    self.path.push(tag);
                }
                Event::Empty(start) => {
                    let local = start.local_name();
                    let tag = Tag::of(local.as_ref());
                    check_root::<H>(self.path.is_empty(), tag, local.as_ref())?;
                    self.handler.open(&self.path, &Opened { tag, local: local.as_ref(), start: &start });
                    self.path.push(tag);
                    let record = self.close_current(false)?;
                    if record.is_some() {
                        return Ok(record);
                    }
                }
                Event::End(_) => {
                    let record = self.close_current(true)?;
                    if record.is_some() {
                        return Ok(record);
                    }
                }
                Event::Text(t) => {
                    // Indentation between elements is dropped at once; kept text is trimmed anyway.
                    let content = t.xml10_content();
                    if !self.text.is_empty() || !content.trim_ascii_start().is_empty() {
                        self.text.push_str(&content);
                    }
                }
                Event::CData(c) => self.text.push_str(&c),
                Event::GeneralRef(r) => push_reference(&mut self.text, &r),
                Event::Eof => {
                    return match self.path.last() {
                        Some(_) => Err(ReportError::Malformed {
                            position: self.source.buffer_position(),
                            message: "the document ended before its elements were closed".to_owned(),
                        }),
                        None => Ok(None),
                    };
                }
                // Declarations, comments, processing instructions and DOCTYPEs (whose entity
                // declarations are deliberately never read) carry nothing for us.
                _ => {}
            }
        }
    }

    /// Closes the innermost element, with the text gathered since it opened (none for `<x/>`).
    fn close_current(&mut self, with_text: bool) -> Result<Option<H::Record>, ReportError> {
        let Some(tag) = self.path.pop() else {
            return Err(self.malformed("an end tag without a start".to_owned()));
        };
        let text = if with_text { self.text.as_str() } else { "" };
        if tag == Tag::Error && self.path.is_empty() {
            return Err(ReportError::Appliance(text.trim().to_owned()));
        }
        let record = self.handler.close(&self.path, tag, text);
        // The buffer is reused: text between elements never costs an allocation.
        self.text.clear();
        Ok(record)
    }
}

impl<S: Source, H: Handler> Iterator for Records<S, H> {
    type Item = Result<H::Record, ReportError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        match self.step() {
            Ok(Some(record)) => Some(Ok(record)),
            Ok(None) => {
                self.finished = true;
                None
            }
            Err(e) => {
                self.finished = true;
                Some(Err(e))
            }
        }
    }
}

/// Only the report's own root (or an `<error>`) may open the document.
fn check_root<H: Handler>(at_root: bool, tag: Tag, local: &str) -> Result<(), ReportError> {
    if !at_root || local == H::ROOT || tag == Tag::Error {
        return Ok(());
    }
    Err(ReportError::UnexpectedRoot { expected: H::ROOT, found: local.to_owned() })
}

/// Appends what a reference stands for: a predefined entity or a character; any other entity
/// is kept as written (`&name;`) — never looked up, so nothing can expand or fetch.
fn push_reference(text: &mut String, reference: &BytesRef<'_>) {
    if let Ok(Some(c)) = reference.resolve_char_ref() {
        text.push(c);
        return;
    }
    let name: &str = reference;
    match predefined(name) {
        Some(c) => text.push(c),
        None => {
            text.push('&');
            text.push_str(name);
            text.push(';');
        }
    }
}

fn predefined(name: &str) -> Option<char> {
    match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => None,
    }
}

/// Resolves references inside an attribute value the same way as in text.
pub(crate) fn resolve_references(raw: &str) -> String {
    if !raw.contains('&') {
        return raw.to_owned();
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        match after.find(';') {
            Some(end) if end <= 32 => {
                let name = &after[..end];
                let resolved = predefined(name).or_else(|| char_reference(name));
                match resolved {
                    Some(c) => out.push(c),
                    None => out.push_str(&rest[at..at + end + 2]),
                }
                rest = &after[end + 1..];
            }
            _ => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn char_reference(name: &str) -> Option<char> {
    let number = name.strip_prefix('#')?;
    let code = match number.strip_prefix('x') {
        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
        None => number.parse().ok()?,
    };
    char::from_u32(code).filter(|c| *c != '\0')
}

fn nonempty(text: &str) -> Option<String> {
    let trimmed = text.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

fn flag(text: &str) -> bool {
    matches!(text.trim(), "1" | "true" | "yes")
}

fn parent(path: &[Tag]) -> Option<Tag> {
    path.last().copied()
}

fn party(element: &Opened<'_>) -> Party {
    let mut party = Party::default();
    element.each_attr(|name, value| match name {
        "gsnumber" => party.gsnumber = Some(value.to_owned()),
        "id" => party.id = Some(value.to_owned()),
        "type" => party.kind = Some(word(value)),
        _ => {}
    });
    party
}

fn unix_time(value: &str) -> Option<DateTime<Utc>> {
    Utc.timestamp_opt(value.trim().parse::<i64>().ok()?, 0).single()
}

/// Reads `SupportSession` reports.
#[derive(Default)]
struct SessionHandler {
    session: Option<SupportSession>,
    customer: Option<Customer>,
    rep: Option<Representative>,
    event: Option<SessionEvent>,
    party: Option<Party>,
    attribute: Option<CustomAttribute>,
    category: Option<SystemInfoCategory>,
    row: Option<Vec<(String, String)>>,
    field_id: Option<String>,
    site_id: Option<String>,
    start_time: Option<DateTime<Utc>>,
    /// The element name of an unknown child of a session or event.
    child_name: Option<String>,
    /// The name of the customer `info` field being read.
    info_name: Option<Word>,
}

impl Handler for SessionHandler {
    type Record = SupportSession;
    const ROOT: &'static str = "session_list";

    fn open(&mut self, path: &[Tag], e: &Opened<'_>) {
        let at = parent(path);
        match (at, e.tag) {
            (Some(Tag::SessionList), Tag::Session) => {
                self.session = Some(SupportSession { lsid: e.attr("lsid").unwrap_or_default(), ..Default::default() });
            }
            (Some(Tag::Session), Tag::StartTime | Tag::EndTime) => self.start_time = e.timestamp(),
            (Some(Tag::Session), Tag::PublicSite) => self.site_id = e.attr("id"),
            (Some(Tag::Session), Tag::PrimaryCustomer | Tag::PrimaryRep) => self.party = Some(party(e)),
            (Some(Tag::CustomAttributes), Tag::CustomAttribute) => {
                self.attribute = Some(CustomAttribute {
                    code_name: e.attr("code_name").unwrap_or_default(),
                    display_name: e.attr("display_name"),
                    value: String::new(),
                })
            }
            (Some(Tag::CustomerList), Tag::Customer) => {
                self.customer = Some(Customer { gsnumber: e.attr("gsnumber"), ..Default::default() })
            }
            (Some(Tag::RepList), Tag::Representative) => {
                self.rep = Some(Representative { gsnumber: e.attr("gsnumber"), id: e.attr("id"), ..Default::default() })
            }
            (Some(Tag::SessionDetails), Tag::Event) => {
                let (mut event_type, mut timestamp) = (Word::default(), None);
                e.each_attr(|name, value| match name {
                    "event_type" => event_type = word(value),
                    "timestamp" => timestamp = unix_time(value),
                    _ => {}
                });
                self.event = Some(SessionEvent {
                    kind: EventKind::of(&event_type),
                    event_type,
                    timestamp,
                    performed_by: None,
                    destination: None,
                    body: None,
                    data: Vec::new(),
                    system_info: Vec::new(),
                    extra: Vec::new(),
                })
            }
            (Some(Tag::Event), Tag::PerformedBy | Tag::Destination) => self.party = Some(party(e)),
            (Some(Tag::Data), Tag::Value) => {
                if let Some(event) = &mut self.event {
                    event.data.push((e.attr("name").unwrap_or_default(), e.attr("value").unwrap_or_default()));
                }
            }
            (_, Tag::Category) if self.event.is_some() => {
                let name = e.attr("name").or_else(|| e.attr("id")).or_else(|| e.attr("title")).unwrap_or_default();
                self.category = Some(SystemInfoCategory { name, rows: Vec::new() });
            }
            (_, Tag::Row) if self.category.is_some() => self.row = Some(Vec::new()),
            (_, Tag::Field) if self.row.is_some() => self.field_id = e.attr("id").or_else(|| e.attr("name")),
            (Some(Tag::Session | Tag::Event), Tag::Other) => self.child_name = Some(e.name()),
            (Some(Tag::Info), _) => self.info_name = Some(word(e.local)),
            _ => {}
        }
    }

    fn close(&mut self, path: &[Tag], tag: Tag, text: &str) -> Option<SupportSession> {
        let at = parent(path);
        if at == Some(Tag::SessionList) && tag == Tag::Session {
            return self.session.take().map(shrink);
        }
        if self.customer.is_some() {
            self.close_customer(at, tag, text);
            return None;
        }
        if self.rep.is_some() {
            self.close_rep(at, tag, text);
            return None;
        }
        if self.event.is_some() {
            self.close_event(at, tag, text);
            return None;
        }
        match (at, tag) {
            (Some(Tag::CustomAttributes), Tag::CustomAttribute) => {
                if let (Some(session), Some(mut attribute)) = (self.session.as_mut(), self.attribute.take()) {
                    attribute.value = text.trim().to_owned();
                    session.custom_attributes.push(attribute);
                }
            }
            (Some(Tag::Session), tag) => self.close_session_child(tag, text),
            _ => {}
        }
        None
    }
}

impl SessionHandler {
    fn close_customer(&mut self, at: Option<Tag>, tag: Tag, text: &str) {
        if (at, tag) == (Some(Tag::CustomerList), Tag::Customer) {
            if let (Some(s), Some(c)) = (self.session.as_mut(), self.customer.take()) {
                s.customers.push(c);
            }
            return;
        }
        let Some(customer) = self.customer.as_mut() else { return };
        match (at, tag) {
            (Some(Tag::Info), _) => {
                if let Some(name) = self.info_name.take() {
                    customer.info.push((name, text.trim().to_owned()));
                }
            }
            (Some(Tag::Customer), Tag::Username) => customer.username = nonempty(text),
            (Some(Tag::Customer), Tag::PublicIp) => customer.public_ip = nonempty(text),
            (Some(Tag::Customer), Tag::PrivateIp) => customer.private_ip = nonempty(text),
            (Some(Tag::Customer), Tag::Hostname) => customer.hostname = nonempty(text),
            (Some(Tag::Customer), Tag::Os) => customer.os = nonempty(text),
            (Some(Tag::Customer), Tag::PrimaryCust) => customer.primary = flag(text),
            _ => {}
        }
    }

    fn close_rep(&mut self, at: Option<Tag>, tag: Tag, text: &str) {
        if (at, tag) == (Some(Tag::RepList), Tag::Representative) {
            if let (Some(s), Some(r)) = (self.session.as_mut(), self.rep.take()) {
                s.reps.push(r);
            }
            return;
        }
        let Some(rep) = self.rep.as_mut() else { return };
        match (at, tag) {
            (Some(Tag::Representative), Tag::Username) => rep.username = nonempty(text),
            (Some(Tag::Representative), Tag::DisplayName) => rep.display_name = nonempty(text),
            (Some(Tag::Representative), Tag::PublicIp) => rep.public_ip = nonempty(text),
            (Some(Tag::Representative), Tag::PrivateIp) => rep.private_ip = nonempty(text),
            (Some(Tag::Representative), Tag::Hostname) => rep.hostname = nonempty(text),
            (Some(Tag::Representative), Tag::Os) => rep.os = nonempty(text),
            (Some(Tag::Representative), Tag::PrimaryRep) => rep.primary = flag(text),
            (Some(Tag::Representative), Tag::SecondsInvolved) => rep.seconds_involved = text.trim().parse().ok(),
            _ => {}
        }
    }
}

impl SessionHandler {
    fn close_session_child(&mut self, tag: Tag, text: &str) {
        let h = self;
        let Some(session) = h.session.as_mut() else { return };
        match tag {
            Tag::Lseq => session.lseq = text.trim().parse().ok(),
            Tag::SessionType => session.session_type = nonempty(text),
            Tag::StartTime => session.start_time = h.start_time.take(),
            Tag::EndTime => session.end_time = h.start_time.take(),
            Tag::Duration => session.duration = nonempty(text),
            Tag::ExternalKey => session.external_key = nonempty(text),
            Tag::FileTransferCount => session.file_transfer_count = text.trim().parse().ok(),
            Tag::PublicSite => {
                session.public_site = Some(PublicSite { id: h.site_id.take(), name: text.trim().to_owned() })
            }
            Tag::PrimaryCustomer | Tag::PrimaryRep => {
                if let Some(mut p) = h.party.take() {
                    p.name = text.trim().to_owned();
                    if tag == Tag::PrimaryCustomer {
                        session.primary_customer = Some(p);
                    } else {
                        session.primary_rep = Some(p);
                    }
                }
            }
            Tag::ChatViewUrl => session.chat_view_url = nonempty(text),
            Tag::ChatDownloadUrl => session.chat_download_url = nonempty(text),
            Tag::CustomAttributes | Tag::CustomerList | Tag::RepList | Tag::SessionDetails => {}
            _ => {
                if let Some(name) = h.child_name.take() {
                    let value = text.trim().to_owned();
                    if name.ends_with("_url") {
                        session.other_urls.push((name, value));
                    } else {
                        session.extra.push((name, value));
                    }
                }
            }
        }
    }
}

impl SessionHandler {
    fn close_event(&mut self, at: Option<Tag>, tag: Tag, text: &str) {
        let Some(event) = self.event.as_mut() else { return };
        match (at, tag) {
            (Some(Tag::SessionDetails), Tag::Event) => {
                if let (Some(s), Some(e)) = (self.session.as_mut(), self.event.take()) {
                    s.events.push(e);
                }
            }
            (Some(Tag::Event), Tag::PerformedBy | Tag::Destination) => {
                if let Some(mut p) = self.party.take() {
                    p.name = text.trim().to_owned();
                    if tag == Tag::PerformedBy {
                        event.performed_by = Some(p);
                    } else {
                        event.destination = Some(p);
                    }
                }
            }
            (Some(Tag::Event), Tag::Body) => event.body = nonempty(text),
            (_, Tag::Field) if self.row.is_some() => {
                let id = self.field_id.take().unwrap_or_default();
                if let Some(row) = &mut self.row {
                    row.push((id, text.trim().to_owned()));
                }
            }
            (_, Tag::Row) if self.category.is_some() => {
                if let (Some(row), Some(category)) = (self.row.take(), self.category.as_mut()) {
                    category.rows.push(row);
                }
            }
            (_, Tag::Category) => {
                if let Some(category) = self.category.take() {
                    event.system_info.push(category);
                }
            }
            (Some(Tag::Event), Tag::Data) => {}
            (Some(Tag::Event), _) => {
                if let Some(name) = self.child_name.take() {
                    event.extra.push((name, text.trim().to_owned()));
                }
            }
            _ => {}
        }
    }
}

/// Gives back the spare capacity of every list, so a report held whole costs what it contains.
fn shrink(mut s: SupportSession) -> SupportSession {
    for event in &mut s.events {
        for category in &mut event.system_info {
            category.rows.iter_mut().for_each(Vec::shrink_to_fit);
            category.rows.shrink_to_fit();
        }
        event.system_info.shrink_to_fit();
        event.data.shrink_to_fit();
        event.extra.shrink_to_fit();
    }
    s.customers.iter_mut().for_each(|c| c.info.shrink_to_fit());
    s.events.shrink_to_fit();
    s.customers.shrink_to_fit();
    s.reps.shrink_to_fit();
    s.custom_attributes.shrink_to_fit();
    s.other_urls.shrink_to_fit();
    s.extra.shrink_to_fit();
    s
}

/// Reads `SupportSessionListing` reports.
#[derive(Default)]
struct ListingHandler {
    summary: Option<SessionSummary>,
    time: Option<DateTime<Utc>>,
    child_name: Option<String>,
}

impl Handler for ListingHandler {
    type Record = SessionSummary;
    const ROOT: &'static str = "session_summary_list";

    fn open(&mut self, path: &[Tag], e: &Opened<'_>) {
        match (parent(path), e.tag) {
            (Some(Tag::SummaryList), Tag::Summary) => {
                self.summary = Some(SessionSummary {
                    lsid: e.attr("lsid").unwrap_or_default(),
                    has_recording: e.attr("has_recording").is_some_and(|v| flag(&v)),
                    ..Default::default()
                })
            }
            (Some(Tag::Summary), Tag::StartTime | Tag::EndTime) => self.time = e.timestamp(),
            (Some(Tag::Summary), _) => self.child_name = Some(e.name()),
            _ => {}
        }
    }

    fn close(&mut self, path: &[Tag], tag: Tag, text: &str) -> Option<SessionSummary> {
        match (parent(path), tag) {
            (Some(Tag::SummaryList), Tag::Summary) => self.summary.take(),
            (Some(Tag::Summary), Tag::StartTime) => {
                let time = self.time.take();
                if let Some(s) = self.summary.as_mut() {
                    s.start_time = time;
                }
                None
            }
            (Some(Tag::Summary), Tag::EndTime) => {
                let time = self.time.take();
                if let Some(s) = self.summary.as_mut() {
                    s.end_time = time;
                }
                None
            }
            (Some(Tag::Summary), _) => {
                if let (Some(s), Some(name)) = (self.summary.as_mut(), self.child_name.take()) {
                    s.fields.push((name, text.trim().to_owned()));
                }
                None
            }
            _ => None,
        }
    }
}

/// Reads `SupportCustExitSurvey` and `SupportRepExitSurvey` reports.
#[derive(Default)]
struct SurveyHandler {
    survey: Option<ExitSurvey>,
    party: Option<Party>,
    question: Option<SurveyQuestion>,
}

impl Handler for SurveyHandler {
    type Record = ExitSurvey;
    const ROOT: &'static str = "exit_survey_list";

    fn open(&mut self, path: &[Tag], e: &Opened<'_>) {
        match (parent(path), e.tag) {
            (Some(Tag::SurveyList), Tag::Survey) => {
                self.survey = Some(ExitSurvey {
                    lsid: e.attr("lsid").unwrap_or_default(),
                    timestamp: e.timestamp(),
                    submitted_by: None,
                    primary_rep: None,
                    primary_customer: None,
                    questions: Vec::new(),
                })
            }
            (Some(Tag::Survey), Tag::SubmittedBy | Tag::PrimaryRep | Tag::PrimaryCustomer) => {
                self.party = Some(party(e))
            }
            (Some(Tag::QuestionList), Tag::Question) => {
                self.question = Some(SurveyQuestion {
                    id: e.attr("id"),
                    question_type: e.attr("type"),
                    name: e.attr("name"),
                    label: e.attr("label"),
                    report_header: e.attr("report_header"),
                    answers: Vec::new(),
                })
            }
            _ => {}
        }
    }

    fn close(&mut self, path: &[Tag], tag: Tag, text: &str) -> Option<ExitSurvey> {
        match (parent(path), tag) {
            (Some(Tag::SurveyList), Tag::Survey) => return self.survey.take(),
            (Some(Tag::Survey), Tag::SubmittedBy | Tag::PrimaryRep | Tag::PrimaryCustomer) => {
                if let (Some(survey), Some(mut p)) = (self.survey.as_mut(), self.party.take()) {
                    p.name = text.trim().to_owned();
                    match tag {
                        Tag::SubmittedBy => survey.submitted_by = Some(p),
                        Tag::PrimaryRep => survey.primary_rep = Some(p),
                        _ => survey.primary_customer = Some(p),
                    }
                }
            }
            (Some(Tag::QuestionList), Tag::Question) => {
                if let (Some(survey), Some(q)) = (self.survey.as_mut(), self.question.take()) {
                    survey.questions.push(q);
                }
            }
            (Some(Tag::Question), field) => {
                if let Some(q) = self.question.as_mut() {
                    let value = nonempty(text);
                    match field {
                        Tag::Type => q.question_type = value.or(q.question_type.take()),
                        Tag::Name => q.name = value.or(q.name.take()),
                        Tag::Label => q.label = value.or(q.label.take()),
                        Tag::ReportHeader => q.report_header = value.or(q.report_header.take()),
                        _ => {}
                    }
                }
            }
            (Some(Tag::AnswerList), Tag::Answer) => {
                if let (Some(q), Some(answer)) = (self.question.as_mut(), nonempty(text)) {
                    q.answers.push(answer);
                }
            }
            _ => {}
        }
        None
    }
}

/// Sessions of a `SupportSession` report, one at a time.
pub fn read_sessions<R: BufRead>(input: R) -> impl Iterator<Item = Result<SupportSession, ReportError>> {
    Records::new(buffered(input), SessionHandler::default())
}

/// Sessions of a `SupportSession` report already in memory (faster: nothing is copied).
pub fn read_sessions_from_bytes(input: &[u8]) -> impl Iterator<Item = Result<SupportSession, ReportError>> + '_ {
    Records::new(in_memory(input), SessionHandler::default())
}

fn buffered<R: BufRead>(input: R) -> Buffered<R> {
    let mut reader = Reader::from_reader(input);
    reader.config_mut().check_end_names = true;
    Buffered { reader, buf: Vec::with_capacity(8 * 1024) }
}

fn in_memory(input: &[u8]) -> InMemory<'_> {
    let mut reader = Reader::from_reader(input);
    reader.config_mut().check_end_names = true;
    InMemory { reader }
}

/// Summaries of a `SupportSessionListing` report, one at a time.
pub fn read_listing<R: BufRead>(input: R) -> impl Iterator<Item = Result<SessionSummary, ReportError>> {
    Records::new(buffered(input), ListingHandler::default())
}

/// Surveys of an exit-survey report, one at a time.
pub fn read_surveys<R: BufRead>(input: R) -> impl Iterator<Item = Result<ExitSurvey, ReportError>> {
    Records::new(buffered(input), SurveyHandler::default())
}
