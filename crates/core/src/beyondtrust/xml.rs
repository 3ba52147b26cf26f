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
    ShellRecordings,
    ShellRecording,
    Instance,
    ViewUrl,
    DownloadUrl,
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
            (8, "instance") => Tag::Instance,
            (8, "view_url") => Tag::ViewUrl,
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
            (12, "download_url") => Tag::DownloadUrl,
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
            (23, "command_shell_recording") => Tag::ShellRecording,
            (24, "command_shell_recordings") => Tag::ShellRecordings,
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
    fn name(&self) -> Text {
        Text::new(self.local)
    }

    /// Every attribute in one pass, as (local name, value with entities resolved).
    fn each_attr(&self, mut f: impl FnMut(&str, &str)) {
        for (name, value) in RawAttributes(self.start.attributes_raw()) {
            if value.contains('&') {
                f(name, &resolve_references(value));
            } else {
                f(name, value);
            }
        }
    }

    /// An attribute's value by local name, entities resolved as in text.
    fn attr(&self, name: &str) -> Option<Text> {
        let [value] = self.attrs([name]);
        value
    }

    /// Several attributes' values by local name, read in one pass.
    fn attrs<const N: usize>(&self, names: [&str; N]) -> [Option<Text>; N] {
        let mut values = [const { None }; N];
        self.each_attr(|name, value| {
            // The first of a repeated attribute counts.
            if let Some(i) = names.iter().position(|n| *n == name)
                && values[i].is_none()
            {
                values[i] = Some(Text::new(value));
            }
        });
        values
    }

    fn timestamp(&self) -> Option<DateTime<Utc>> {
        let (_, value) = RawAttributes(self.start.attributes_raw()).find(|(name, _)| *name == "timestamp")?;
        unix_time(value)
    }
}

/// The attributes of a start tag, read straight from its text as (local name, value as
/// written). Reports carry some fifty attributes per session, and quick-xml's iterator (which
/// checks for duplicates and recovers from errors) was the reader's largest cost after the
/// tokenizer itself. Lenient like the rest of the reader: a malformed attribute ends the list
/// rather than failing the report.
struct RawAttributes<'a>(&'a str);

impl<'a> Iterator for RawAttributes<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        let attribute = self.split_first();
        if attribute.is_none() {
            self.0 = "";
        }
        attribute
    }
}

impl<'a> RawAttributes<'a> {
    fn split_first(&mut self) -> Option<(&'a str, &'a str)> {
        let (text, bytes) = (self.0, self.0.as_bytes());
        let skip_space = |mut i: usize| {
            while bytes.get(i).is_some_and(|b| is_xml_space(*b)) {
                i += 1;
            }
            i
        };
        let key_start = skip_space(0);
        let key_len = bytes[key_start..].iter().position(|b| *b == b'=' || is_xml_space(*b))?;
        let key_end = key_start + key_len;
        let equals = skip_space(key_end);
        if key_len == 0 || bytes.get(equals) != Some(&b'=') {
            return None;
        }
        let open = skip_space(equals + 1);
        let quote = *bytes.get(open).filter(|q| matches!(q, b'"' | b'\''))?;
        let value_len = bytes[open + 1..].iter().position(|b| *b == quote)?;
        let close = open + 1 + value_len;
        // Every index is at an ASCII byte, so each slice is whole characters.
        let key = text.get(key_start..key_end)?;
        let value = text.get(open + 1..close)?;
        self.0 = text.get(close + 1..)?;
        let local = match key.bytes().rposition(|b| b == b':') {
            Some(colon) => key.get(colon + 1..)?,
            None => key,
        };
        Some((local, value))
    }
}

fn is_xml_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// What a report reader does with elements. `close` says whether a record is now complete and
/// `take` hands it over: only a flag travels back from each element, because records are large
/// and moving one out of every close would copy it each time.
trait Handler {
    type Record;
    const ROOT: &'static str;
    fn open(&mut self, path: &[Tag], element: &Opened<'_>);
    fn close(&mut self, path: &[Tag], tag: Tag, text: &str) -> bool;
    fn take(&mut self) -> Option<Self::Record>;
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
                    if self.close_current(false)?
                        && let Some(record) = self.handler.take()
                    {
                        return Ok(Some(record));
                    }
                }
                Event::End(_) => {
                    if self.close_current(true)?
                        && let Some(record) = self.handler.take()
                    {
                        return Ok(Some(record));
                    }
                }
                // Indentation between elements is dropped at once; kept text is trimmed anyway.
                Event::Text(t) if !self.text.is_empty() || !t.trim_ascii_start().is_empty() => {
                    self.text.push_str(&t.xml10_content());
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
    fn close_current(&mut self, with_text: bool) -> Result<bool, ReportError> {
        let Some(tag) = self.path.pop() else {
            return Err(self.malformed("an end tag without a start".to_owned()));
        };
        let text = if with_text { self.text.as_str() } else { "" };
        if tag == Tag::Error && self.path.is_empty() {
            return Err(ReportError::Appliance(text.trim().to_owned()));
        }
        let complete = self.handler.close(&self.path, tag, text);
        // The buffer is reused: text between elements never costs an allocation.
        self.text.clear();
        Ok(complete)
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

fn nonempty(text: &str) -> Option<Text> {
    let trimmed = text.trim();
    (!trimmed.is_empty()).then(|| Text::new(trimmed))
}

fn trimmed(text: &str) -> Text {
    Text::new(text.trim())
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
        "gsnumber" => party.gsnumber = Some(Text::new(value)),
        "id" => party.id = Some(Text::new(value)),
        "type" => party.kind = Some(word(value)),
        _ => {}
    });
    party
}

fn unix_time(value: &str) -> Option<DateTime<Utc>> {
    Utc.timestamp_opt(value.trim().parse::<i64>().ok()?, 0).single()
}

/// Items of a list being read. `finish` hands them over in an allocation of exactly their
/// number and keeps the space for the next list: nothing grows or shrinks per record, and a
/// report held whole costs what it contains.
struct Gather<T>(Vec<T>);

impl<T> Default for Gather<T> {
    fn default() -> Self {
        Gather(Vec::new())
    }
}

impl<T> Gather<T> {
    fn push(&mut self, item: T) {
        self.0.push(item);
    }

    fn finish(&mut self) -> Vec<T> {
        self.0.drain(..).collect()
    }

    /// The item being read, filled in place.
    fn last(&mut self) -> Option<&mut T> {
        self.0.last_mut()
    }
}

/// The lists of the session being read, each filled while its owner is open.
#[derive(Default)]
struct SessionLists {
    custom_attributes: Gather<CustomAttribute>,
    customers: Gather<Customer>,
    info: Gather<(Word, Text)>,
    reps: Gather<Representative>,
    events: Gather<SessionEvent>,
    data: Gather<(Text, Text)>,
    system_info: Gather<SystemInfoCategory>,
    rows: Gather<Vec<(Text, Text)>>,
    row: Gather<(Text, Text)>,
    event_extra: Gather<(Text, Text)>,
    other_urls: Gather<(Text, Text)>,
    extra: Gather<(Text, Text)>,
}

/// Reads `SupportSession` reports.
#[derive(Default)]
struct SessionHandler {
    lists: SessionLists,
    session: Option<SupportSession>,
    customer: Option<Customer>,
    rep: Option<Representative>,
    /// An event is open: it is the last of `lists.events`.
    in_event: bool,
    party: Option<Party>,
    attribute: Option<CustomAttribute>,
    category: Option<SystemInfoCategory>,
    in_row: bool,
    field_id: Option<Text>,
    site_id: Option<Text>,
    start_time: Option<DateTime<Utc>>,
    /// The element name of an unknown child of a session or event.
    child_name: Option<Text>,
    /// The command-shell recording being read.
    shell: Option<ShellRecording>,
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
                let [code_name, display_name] = e.attrs(["code_name", "display_name"]);
                self.attribute = Some(CustomAttribute {
                    code_name: code_name.unwrap_or_default(),
                    display_name,
                    value: Text::default(),
                })
            }
            (Some(Tag::CustomerList), Tag::Customer) => {
                self.customer = Some(Customer { gsnumber: e.attr("gsnumber"), ..Default::default() })
            }
            (Some(Tag::RepList), Tag::Representative) => {
                let [gsnumber, id] = e.attrs(["gsnumber", "id"]);
                self.rep = Some(Representative { gsnumber, id, ..Default::default() })
            }
            (Some(Tag::SessionDetails), Tag::Event) => {
                let (mut event_type, mut timestamp) = (Word::default(), None);
                e.each_attr(|name, value| match name {
                    "event_type" => event_type = word(value),
                    "timestamp" => timestamp = unix_time(value),
                    _ => {}
                });
                self.in_event = true;
                self.lists.events.push(SessionEvent {
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
            (Some(Tag::Data), Tag::Value) if self.in_event => {
                let [name, value] = e.attrs(["name", "value"]);
                self.lists.data.push((name.unwrap_or_default(), value.unwrap_or_default()));
            }
            (_, Tag::Category) if self.in_event => {
                let [name, id, title] = e.attrs(["name", "id", "title"]);
                let name = name.or(id).or(title).unwrap_or_default();
                self.category = Some(SystemInfoCategory { name, rows: Vec::new() });
            }
            (_, Tag::Row) if self.category.is_some() => self.in_row = true,
            (_, Tag::Field) if self.in_row => {
                let [id, name] = e.attrs(["id", "name"]);
                self.field_id = id.or(name);
            }
            (Some(Tag::ShellRecordings), Tag::ShellRecording) => self.shell = Some(ShellRecording::default()),
            (Some(Tag::Session | Tag::Event), Tag::Other) => self.child_name = Some(e.name()),
            (Some(Tag::Info), _) => self.info_name = Some(word(e.local)),
            _ => {}
        }
    }

    fn close(&mut self, path: &[Tag], tag: Tag, text: &str) -> bool {
        let at = parent(path);
        if at == Some(Tag::SessionList) && tag == Tag::Session {
            if let Some(session) = self.session.as_mut() {
                self.lists.finish_session(session);
            }
            return true;
        }
        if self.customer.is_some() {
            self.close_customer(at, tag, text);
            return false;
        }
        if self.rep.is_some() {
            self.close_rep(at, tag, text);
            return false;
        }
        if self.in_event {
            self.close_event(at, tag, text);
            return false;
        }
        match (at, tag) {
            (Some(Tag::CustomAttributes), Tag::CustomAttribute) => {
                if let (Some(_), Some(mut attribute)) = (self.session.as_ref(), self.attribute.take()) {
                    attribute.value = trimmed(text);
                    self.lists.custom_attributes.push(attribute);
                }
            }
            (Some(Tag::Session), tag) => self.close_session_child(tag, text),
            (Some(Tag::ShellRecordings), Tag::ShellRecording) => {
                if let (Some(session), Some(shell)) = (self.session.as_mut(), self.shell.take()) {
                    session.shell_recordings.push(shell);
                }
            }
            (Some(Tag::ShellRecording), tag) => {
                if let Some(shell) = self.shell.as_mut() {
                    match tag {
                        Tag::Instance => shell.instance = nonempty(text),
                        Tag::ViewUrl => shell.view_url = nonempty(text),
                        Tag::DownloadUrl => shell.download_url = nonempty(text),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
        false
    }

    fn take(&mut self) -> Option<SupportSession> {
        self.session.take()
    }
}

impl SessionHandler {
    fn close_customer(&mut self, at: Option<Tag>, tag: Tag, text: &str) {
        if (at, tag) == (Some(Tag::CustomerList), Tag::Customer) {
            if let (Some(_), Some(mut c)) = (self.session.as_ref(), self.customer.take()) {
                c.info = self.lists.info.finish();
                self.lists.customers.push(c);
            }
            return;
        }
        let Some(customer) = self.customer.as_mut() else { return };
        match (at, tag) {
            (Some(Tag::Info), _) => {
                if let Some(name) = self.info_name.take() {
                    self.lists.info.push((name, trimmed(text)));
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
            if let (Some(_), Some(r)) = (self.session.as_ref(), self.rep.take()) {
                self.lists.reps.push(r);
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
            Tag::PublicSite => session.public_site = Some(PublicSite { id: h.site_id.take(), name: trimmed(text) }),
            Tag::PrimaryCustomer | Tag::PrimaryRep => {
                if let Some(mut p) = h.party.take() {
                    p.name = trimmed(text);
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
                    let value = trimmed(text);
                    if name.ends_with("_url") {
                        h.lists.other_urls.push((name, value));
                    } else {
                        h.lists.extra.push((name, value));
                    }
                }
            }
        }
    }
}

impl SessionHandler {
    fn close_event(&mut self, at: Option<Tag>, tag: Tag, text: &str) {
        let lists = &mut self.lists;
        let Some(event) = lists.events.last() else { return };
        match (at, tag) {
            (Some(Tag::SessionDetails), Tag::Event) => {
                self.in_event = false;
                event.data = lists.data.finish();
                event.system_info = lists.system_info.finish();
                event.extra = lists.event_extra.finish();
            }
            (Some(Tag::Event), Tag::PerformedBy | Tag::Destination) => {
                if let Some(mut p) = self.party.take() {
                    p.name = trimmed(text);
                    if tag == Tag::PerformedBy {
                        event.performed_by = Some(p);
                    } else {
                        event.destination = Some(p);
                    }
                }
            }
            (Some(Tag::Event), Tag::Body) => event.body = nonempty(text),
            (_, Tag::Field) if self.in_row => {
                let id = self.field_id.take().unwrap_or_default();
                lists.row.push((id, trimmed(text)));
            }
            (_, Tag::Row) if self.in_row => {
                self.in_row = false;
                let row = lists.row.finish();
                lists.rows.push(row);
            }
            (_, Tag::Category) => {
                if let Some(mut category) = self.category.take() {
                    category.rows = lists.rows.finish();
                    lists.system_info.push(category);
                }
            }
            (Some(Tag::Event), Tag::Data) => {}
            (Some(Tag::Event), _) => {
                if let Some(name) = self.child_name.take() {
                    lists.event_extra.push((name, trimmed(text)));
                }
            }
            _ => {}
        }
    }
}

impl SessionLists {
    /// Hands the session the lists gathered while it was open.
    fn finish_session(&mut self, s: &mut SupportSession) {
        s.custom_attributes = self.custom_attributes.finish();
        s.customers = self.customers.finish();
        s.reps = self.reps.finish();
        s.events = self.events.finish();
        s.other_urls = self.other_urls.finish();
        s.extra = self.extra.finish();
    }
}

/// Reads `SupportSessionListing` reports.
#[derive(Default)]
struct ListingHandler {
    summary: Option<SessionSummary>,
    time: Option<DateTime<Utc>>,
    child_name: Option<Text>,
}

impl Handler for ListingHandler {
    type Record = SessionSummary;
    const ROOT: &'static str = "session_summary_list";

    fn open(&mut self, path: &[Tag], e: &Opened<'_>) {
        match (parent(path), e.tag) {
            (Some(Tag::SummaryList), Tag::Summary) => {
                let [lsid, has_recording] = e.attrs(["lsid", "has_recording"]);
                self.summary = Some(SessionSummary {
                    lsid: lsid.unwrap_or_default(),
                    has_recording: has_recording.is_some_and(|v| flag(&v)),
                    ..Default::default()
                })
            }
            (Some(Tag::Summary), Tag::StartTime | Tag::EndTime) => self.time = e.timestamp(),
            (Some(Tag::Summary), _) => self.child_name = Some(e.name()),
            _ => {}
        }
    }

    fn close(&mut self, path: &[Tag], tag: Tag, text: &str) -> bool {
        match (parent(path), tag) {
            (Some(Tag::SummaryList), Tag::Summary) => return true,
            (Some(Tag::Summary), Tag::StartTime) => {
                let time = self.time.take();
                if let Some(s) = self.summary.as_mut() {
                    s.start_time = time;
                }
            }
            (Some(Tag::Summary), Tag::EndTime) => {
                let time = self.time.take();
                if let Some(s) = self.summary.as_mut() {
                    s.end_time = time;
                }
            }
            (Some(Tag::Summary), _) => {
                if let (Some(s), Some(name)) = (self.summary.as_mut(), self.child_name.take()) {
                    s.fields.push((name, trimmed(text)));
                }
            }
            _ => {}
        }
        false
    }

    fn take(&mut self) -> Option<SessionSummary> {
        self.summary.take()
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
                let [id, question_type, name, label, report_header] =
                    e.attrs(["id", "type", "name", "label", "report_header"]);
                self.question =
                    Some(SurveyQuestion { id, question_type, name, label, report_header, answers: Vec::new() })
            }
            _ => {}
        }
    }

    fn close(&mut self, path: &[Tag], tag: Tag, text: &str) -> bool {
        match (parent(path), tag) {
            (Some(Tag::SurveyList), Tag::Survey) => return true,
            (Some(Tag::Survey), Tag::SubmittedBy | Tag::PrimaryRep | Tag::PrimaryCustomer) => {
                if let (Some(survey), Some(mut p)) = (self.survey.as_mut(), self.party.take()) {
                    p.name = trimmed(text);
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
        false
    }

    fn take(&mut self) -> Option<ExitSurvey> {
        self.survey.take()
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
