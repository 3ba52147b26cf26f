//! Turns a session report or an exit survey into Autotask ticket notes with Handlebars
//! templates: the built-in ones from `templates/`, or a profile's own directory. Times are shown
//! in the given zone (the rep's). A note above Autotask's 32,000-character limit is split into
//! numbered parts; each part ends with a marker line naming the session and the part, which the
//! worker looks for before writing again.

use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};
use handlebars::Handlebars;
use serde::Serialize;

use crate::beyondtrust::{EventKind, ExitSurvey, Party, SessionEvent, SupportSession, SurveyKind};

/// Autotask's limits for a ticket note.
pub const DESCRIPTION_LIMIT: usize = 32_000;
pub const TITLE_LIMIT: usize = 250;

const BUILT_IN: [(&str, &str); 3] = [
    ("session", include_str!("../../../templates/session.hbs")),
    ("customer_survey", include_str!("../../../templates/customer_survey.hbs")),
    ("rep_survey", include_str!("../../../templates/rep_survey.hbs")),
];

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("the template {file} cannot be used: {message} — fix it, or remove it to use the built-in one")]
    Template { file: PathBuf, message: String },
    #[error("the {template} template failed on session {lsid}: {message} — fix the template")]
    Render { template: &'static str, lsid: String, message: String },
}

/// A note ready to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteText {
    pub title: String,
    pub description: String,
    /// 1-based part number and the number of parts.
    pub part: u32,
    pub parts: u32,
}

/// The line each written note ends with; searched for to never write a note twice.
pub fn marker(lsid: &str, kind: &str, part: u32, parts: u32) -> String {
    format!("[BeyondTrust {kind} {} part {part} of {parts}]", marked_id(lsid))
}

/// A session id as every marker writes it. An appliance's ids are 32 characters; one longer than
/// `MARKED_ID_LIMIT` (a hostile or broken report) is shortened to its start and a hash of the
/// whole, so its marker still fits a note, a time entry and a query — and is always the same.
pub fn marked_id(lsid: &str) -> std::borrow::Cow<'_, str> {
    const MARKED_ID_LIMIT: usize = 64;
    if lsid.len() <= MARKED_ID_LIMIT {
        return lsid.into();
    }
    let start: String = lsid.chars().take(40).collect();
    // FNV-1a: stable across versions and platforms, unlike std's hasher.
    let hash = lsid.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    format!("{start}~{hash:016x}").into()
}

#[derive(Debug)]
pub struct Renderer {
    templates: Handlebars<'static>,
    /// Give the session's recording links to the templates (a desk that publishes notes to
    /// customers may not want them there).
    recording_links: bool,
}

/// One recording of a session as the report links it.
#[derive(Serialize)]
struct RecordingView {
    /// "Screen recording", "Command shell 1".
    what: String,
    view_url: String,
    download_url: String,
}

#[derive(Serialize)]
struct Line {
    time: String,
    who: String,
    text: String,
}

#[derive(Serialize)]
struct FileLine {
    time: String,
    who: String,
    name: String,
    size: Option<String>,
}

#[derive(Serialize)]
struct Field {
    name: String,
    value: String,
}

#[derive(Serialize)]
struct Cell {
    label: String,
    value: String,
}

#[derive(Serialize)]
struct Section {
    name: String,
    rows: Vec<Vec<Cell>>,
}

#[derive(Serialize)]
struct CustomerView {
    name: String,
    company: String,
    hostname: String,
    os: String,
    issue: String,
    details: String,
    /// Issue-form fields beyond the standard ones (custom fields by code name).
    fields: Vec<Field>,
}

#[derive(Serialize)]
struct SessionView {
    lsid: String,
    started: String,
    ended: String,
    duration: String,
    public_site: String,
    external_key: String,
    primary_rep: String,
    other_reps: Vec<String>,
    customer: CustomerView,
    transcript: Vec<Line>,
    notes: Vec<Line>,
    files: Vec<FileLine>,
    system_info: Vec<Section>,
    chat_url: String,
    chat_download_url: String,
    /// The screen recording and command-shell recordings, empty when the profile leaves them out.
    recordings: Vec<RecordingView>,
}

#[derive(Serialize)]
struct Question {
    label: String,
    answers: Vec<String>,
}

#[derive(Serialize)]
struct SurveyView {
    lsid: String,
    submitted: String,
    submitted_by: String,
    primary_rep: String,
    primary_customer: String,
    questions: Vec<Question>,
}

fn when<Tz: TimeZone>(t: Option<DateTime<Utc>>, zone: &Tz, format: &str) -> String
where
    Tz::Offset: std::fmt::Display,
{
    t.map(|t| t.with_timezone(zone).format(format).to_string()).unwrap_or_default()
}

fn human_duration(seconds: u64) -> String {
    match (seconds / 3600, (seconds % 3600) / 60, seconds % 60) {
        (0, 0, s) => format!("{s} s"),
        (0, m, s) => format!("{m} min {s} s"),
        (h, m, _) => format!("{h} h {m} min"),
    }
}

fn name_of(party: &Option<Party>) -> String {
    party.as_ref().map(|p| p.name.as_str()).filter(|n| !n.is_empty()).unwrap_or("System").to_owned()
}

/// The system-information sections the seed shows: General, plus disk, memory and network.
fn selected(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["general", "disk", "drive", "memory", "network"].iter().any(|k| n.starts_with(k))
}

impl Renderer {
    /// The built-in templates, each replaced by `<dir>/<name>.hbs` where that file exists.
    pub fn new(dir: Option<&Path>) -> Result<Renderer, RenderError> {
        let mut templates = Handlebars::new();
        // Notes are plain text: nothing is HTML-escaped.
        templates.register_escape_fn(handlebars::no_escape);
        for (name, text) in BUILT_IN {
            let own = dir.map(|d| d.join(format!("{name}.hbs"))).filter(|p| p.is_file());
            let (file, source) = match &own {
                Some(path) => (
                    path.clone(),
                    std::fs::read_to_string(path)
                        .map_err(|e| RenderError::Template { file: path.clone(), message: e.to_string() })?,
                ),
                None => (PathBuf::from(format!("templates/{name}.hbs")), text.to_owned()),
            };
            templates
                .register_template_string(name, source)
                .map_err(|e| RenderError::Template { file, message: e.to_string() })?;
        }
        Ok(Renderer { templates, recording_links: true })
    }

    /// Whether notes carry the session's recording links (on unless a profile turns them off).
    pub fn with_recording_links(self, on: bool) -> Renderer {
        Renderer { recording_links: on, ..self }
    }

    fn render(&self, template: &'static str, lsid: &str, view: &impl Serialize) -> Result<String, RenderError> {
        self.templates.render(template, view).map_err(|e| RenderError::Render {
            template,
            lsid: lsid.to_owned(),
            message: e.to_string(),
        })
    }

    /// The note(s) for a finished session, times shown in `zone`.
    pub fn session_notes<Tz: TimeZone>(&self, session: &SupportSession, zone: &Tz) -> Result<Vec<NoteText>, RenderError>
    where
        Tz::Offset: std::fmt::Display,
    {
        let mut view = session_view(session, zone);
        if !self.recording_links {
            view.recordings.clear();
        }
        let text = self.render("session", &session.lsid, &view)?;
        let customer = session.customers.iter().find(|c| c.primary).or(session.customers.first());
        let minutes = session.duration_seconds().map(|s| format!("{} min", (s + 30) / 60)).unwrap_or_default();
        let title = note_title(&[
            format!("Remote support session {}", when(session.start_time, zone, "%Y-%m-%d %H:%M")),
            customer.and_then(|c| c.info("name").or(c.username.as_deref())).unwrap_or_default().to_owned(),
            minutes,
        ]);
        Ok(split(&session.lsid, "session", &title, &text))
    }

    /// The note for an exit survey.
    pub fn survey_note<Tz: TimeZone>(&self, survey: &ExitSurvey, zone: &Tz) -> Result<NoteText, RenderError>
    where
        Tz::Offset: std::fmt::Display,
    {
        let (template, kind, title) = match survey.kind() {
            Some(SurveyKind::Representative) => ("rep_survey", "rep survey", "Representative exit survey"),
            _ => ("customer_survey", "customer survey", "Customer exit survey"),
        };
        let view = SurveyView {
            lsid: survey.lsid.to_string(),
            submitted: when(survey.timestamp, zone, "%Y-%m-%d %H:%M:%S %:z"),
            submitted_by: name_of(&survey.submitted_by),
            primary_rep: survey.primary_rep.as_ref().map(|p| p.name.to_string()).unwrap_or_default(),
            primary_customer: survey.primary_customer.as_ref().map(|p| p.name.to_string()).unwrap_or_default(),
            questions: survey
                .questions
                .iter()
                .map(|q| Question {
                    label: q.title().to_owned(),
                    answers: q.answers.iter().map(ToString::to_string).collect(),
                })
                .collect(),
        };
        let text = self.render(template, &survey.lsid, &view)?;
        let title = note_title(&[title.to_owned(), view.submitted_by, when(survey.timestamp, zone, "%Y-%m-%d %H:%M")]);
        let mut notes = split(&survey.lsid, kind, &title, &text);
        // A survey is short; should one ever be longer than a note, its first part says most.
        Ok(notes.remove(0))
    }
}

fn session_view<Tz: TimeZone>(s: &SupportSession, zone: &Tz) -> SessionView
where
    Tz::Offset: std::fmt::Display,
{
    let time = |e: &SessionEvent| when(e.timestamp, zone, "%H:%M:%S");
    let mut transcript = Vec::new();
    let mut notes = Vec::new();
    let mut files = Vec::new();
    let mut system_info = Vec::new();
    for e in &s.events {
        let who = name_of(&e.performed_by);
        match e.kind {
            EventKind::ChatMessage => {
                transcript.push(Line { time: time(e), who, text: e.body.as_deref().unwrap_or_default().to_owned() })
            }
            EventKind::SessionNote => {
                notes.push(Line { time: time(e), who, text: e.body.as_deref().unwrap_or_default().to_owned() })
            }
            EventKind::FileTransfer => {
                let name = e.data("Filename").or(e.data("FileName")).unwrap_or("(unnamed file)").to_owned();
                let size = e.data("FileSize").map(str::to_owned);
                transcript.push(Line { time: time(e), who: who.clone(), text: format!("{}: {name}", e.event_type) });
                files.push(FileLine { time: time(e), who, name, size });
            }
            EventKind::SystemInformation => {
                let chosen: Vec<_> = e.system_info.iter().filter(|c| selected(&c.name)).collect();
                let chosen = if chosen.is_empty() { e.system_info.iter().collect() } else { chosen };
                for category in chosen {
                    let rows = category
                        .rows
                        .iter()
                        .map(|row| {
                            row.iter().map(|(l, v)| Cell { label: l.to_string(), value: v.to_string() }).collect()
                        })
                        .collect();
                    system_info.push(Section { name: category.name.to_string(), rows });
                }
                transcript.push(Line { time: time(e), who, text: "System information retrieved".to_owned() });
            }
            EventKind::Other => {
                // Special actions and everything else: one line in the transcript.
                let mut text = e.event_type.to_string();
                if let Some(to) = e.destination.as_ref().filter(|d| !d.name.is_empty()) {
                    text.push_str(&format!(" → {}", to.name));
                }
                if let Some(body) = &e.body {
                    text.push_str(&format!(": {body}"));
                }
                let who = if e.performed_by.is_some() { who } else { "Session".to_owned() };
                transcript.push(Line { time: time(e), who, text });
            }
        }
    }
    let customer = s.customers.iter().find(|c| c.primary).or(s.customers.first());
    let info = |field: &str| customer.and_then(|c| c.info(field)).unwrap_or_default().to_owned();
    const STANDARD: [&str; 5] = ["name", "company", "company_code", "issue", "details"];
    let fields = customer
        .map(|c| {
            c.info
                .iter()
                .filter(|(k, v)| !v.is_empty() && !STANDARD.contains(&k.as_ref()))
                .map(|(k, v)| Field { name: k.to_string(), value: v.to_string() })
                .collect()
        })
        .unwrap_or_default();
    let primary = s.primary_representative();
    let rep_name = |r: &crate::beyondtrust::Representative| {
        r.display_name.as_deref().or(r.username.as_deref()).unwrap_or_default().to_owned()
    };
    SessionView {
        lsid: s.lsid.to_string(),
        started: when(s.start_time, zone, "%Y-%m-%d %H:%M:%S %:z"),
        ended: when(s.end_time, zone, "%Y-%m-%d %H:%M:%S %:z"),
        duration: s.duration_seconds().map(human_duration).unwrap_or_default(),
        public_site: s.public_site.as_ref().map(|p| p.name.to_string()).unwrap_or_default(),
        external_key: s.external_key.as_deref().unwrap_or_default().to_owned(),
        primary_rep: primary
            .map(rep_name)
            .or_else(|| s.primary_rep.as_ref().map(|p| p.name.to_string()))
            .unwrap_or_default(),
        other_reps: s.reps.iter().filter(|r| !r.primary).map(rep_name).collect(),
        customer: CustomerView {
            name: {
                let name = info("name");
                if name.is_empty() {
                    s.primary_customer.as_ref().map(|p| p.name.to_string()).unwrap_or_default()
                } else {
                    name
                }
            },
            company: info("company"),
            hostname: customer.and_then(|c| c.hostname.as_deref()).unwrap_or_default().to_owned(),
            os: customer.and_then(|c| c.os.as_deref()).unwrap_or_default().to_owned(),
            issue: info("issue"),
            details: info("details"),
            fields,
        },
        transcript,
        notes,
        files,
        system_info,
        chat_url: s.chat_view_url.as_deref().unwrap_or_default().to_owned(),
        chat_download_url: s.chat_download_url.as_deref().unwrap_or_default().to_owned(),
        recordings: recordings(s),
    }
}

/// The recordings the report links: the screen recording, then each command shell's.
fn recordings(s: &SupportSession) -> Vec<RecordingView> {
    let own = |u: Option<&str>| u.unwrap_or_default().to_owned();
    let screen = RecordingView {
        what: "Screen recording".to_owned(),
        view_url: own(s.url("session_recording_view_url")),
        download_url: own(s.url("session_recording_download_url")),
    };
    let shells = s.shell_recordings.iter().enumerate().map(|(i, r)| RecordingView {
        what: match r.instance.as_deref().filter(|n| !n.trim().is_empty()) {
            Some(name) => format!("Command shell {name}"),
            None => format!("Command shell {}", i + 1),
        },
        view_url: own(r.view_url.as_deref()),
        download_url: own(r.download_url.as_deref()),
    });
    std::iter::once(screen).chain(shells).filter(|r| !r.view_url.is_empty() || !r.download_url.is_empty()).collect()
}

/// A note's title: what, who and when, short enough to read at a glance in Autotask's list of a
/// ticket's notes (far under its 250 characters) and distinct between two sessions on one ticket.
fn note_title(parts: &[String]) -> String {
    const NAME_ROOM: usize = 40;
    parts
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .map(|p| {
            if p.chars().count() > NAME_ROOM {
                format!("{}…", p.chars().take(NAME_ROOM - 1).collect::<String>())
            } else {
                p.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

/// Room kept in every note for [`written_for`]'s line.
const AUTHOR_LINE_ROOM: usize = 400;

/// The note as written by the API user on behalf of someone Autotask would not let it
/// impersonate: `line` (cut to its room) first, so whoever reads the ticket sees whose it is.
pub fn written_for(note: &NoteText, line: &str) -> NoteText {
    let mut line = line.to_owned();
    line.truncate(line.char_indices().nth(AUTHOR_LINE_ROOM - 4).map_or(line.len(), |(i, _)| i));
    NoteText { description: format!("{line}\n\n{}", note.description), ..note.clone() }
}

/// Splits text into notes within Autotask's limits, at line breaks where it can; every part
/// ends with its marker line.
fn split(lsid: &str, kind: &str, title: &str, text: &str) -> Vec<NoteText> {
    // The longest marker, for any realistic part count, fits in this much room, with room left
    // for the line a note written by the API user for a rep begins with.
    let room = DESCRIPTION_LIMIT - marker(lsid, kind, 9999, 9999).len() - 2 - AUTHOR_LINE_ROOM;
    let mut chunks: Vec<&str> = Vec::new();
    let mut rest = text.trim_end();
    while rest.len() > room {
        let mut cut = room;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let at = rest[..cut].rfind('\n').filter(|&i| i > room / 2).map_or(cut, |i| i + 1);
        chunks.push(&rest[..at]);
        rest = &rest[at..];
    }
    chunks.push(rest);
    let parts = chunks.len() as u32;
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, chunk)| {
            let part = i as u32 + 1;
            let mut title = if parts > 1 { format!("{title} (part {part} of {parts})") } else { title.to_owned() };
            title.truncate(title.char_indices().nth(TITLE_LIMIT).map_or(title.len(), |(i, _)| i));
            NoteText {
                title,
                description: format!("{}\n\n{}", chunk.trim_end(), marker(lsid, kind, part, parts)),
                part,
                parts,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
