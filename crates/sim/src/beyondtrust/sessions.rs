//! Support sessions the stand-in knows: generated from a JSON scenario, or replayed verbatim
//! from a real report. Renders them as the Reporting API does, and lists the outbound events
//! an appliance sends for them.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde::Deserialize;

use super::xml::{element, escape};

/// A scenario for `POST /_sim/sessions`: everything optional but the reps.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    #[serde(default)]
    pub lsid: Option<String>,
    #[serde(default)]
    pub external_key: String,
    #[serde(default = "support")]
    pub session_type: String,
    #[serde(default = "default_site")]
    pub public_site: String,
    /// Unix time the session started; default: `duration` seconds ago — or, should those cross
    /// UTC midnight, the `duration` seconds before it (see `default_start`).
    #[serde(default)]
    pub start_time: Option<i64>,
    /// Seconds; default 600.
    #[serde(default = "ten_minutes")]
    pub duration: i64,
    pub reps: Vec<ScenarioRep>,
    #[serde(default)]
    pub customer: ScenarioCustomer,
    #[serde(default)]
    pub chat: Vec<ChatLine>,
    #[serde(default)]
    pub notes: Vec<String>,
    #[serde(default)]
    pub files: Vec<FileTransfer>,
    /// Categories of system information; default: a realistic General, Disk, Memory and Network.
    #[serde(default)]
    pub system_info: Option<Vec<InfoCategory>>,
    #[serde(default)]
    pub custom_attributes: BTreeMap<String, String>,
    #[serde(default)]
    pub surveys: Surveys,
    /// The report lacks `end_time` until this long after the session ended.
    #[serde(default)]
    pub report_lag_ms: u64,
    /// Stay live (begin and joins only) until `POST /_sim/sessions/<lsid>/end`.
    #[serde(default)]
    pub live: bool,
    /// The session was recorded: its report gives the recording's view and download links.
    #[serde(default)]
    pub recording: bool,
    /// Command-shell recordings, by instance name.
    #[serde(default)]
    pub shell_recordings: Vec<String>,
}

fn support() -> String {
    "support".into()
}
fn default_site() -> String {
    "Default".into()
}
fn ten_minutes() -> i64 {
    600
}

/// A session that does not say when it started ends now — unless it would then cross UTC
/// midnight, where Autotask's time rules make it two time entries: a test that means to cross
/// it says so with `start_time`, every other one would fail for a few minutes each night. Such a
/// session ends a second before midnight instead (one ending at 00:00:00 spans it too).
fn default_start(now: DateTime<Utc>, duration: i64) -> DateTime<Utc> {
    let start = now - Duration::seconds(duration);
    let midnight = now.date_naive().and_time(chrono::NaiveTime::MIN).and_utc();
    if start < midnight { midnight - Duration::seconds(duration + 1) } else { start }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioRep {
    pub username: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub id: Option<u64>,
    #[serde(default)]
    pub seconds_involved: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioCustomer {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub company: String,
    #[serde(default)]
    pub company_code: String,
    #[serde(default)]
    pub issue: String,
    #[serde(default)]
    pub details: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub os: Option<String>,
    #[serde(default)]
    pub public_ip: Option<String>,
    #[serde(default)]
    pub private_ip: Option<String>,
    /// Issue-form custom fields by code name (e.g. `customer_email`).
    #[serde(default)]
    pub custom: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatLine {
    /// `rep` (the primary rep), `customer`, or a rep's username.
    pub from: String,
    pub text: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileTransfer {
    pub name: String,
    #[serde(default)]
    pub size: u64,
    /// `to_customer` (default) or `from_customer`.
    #[serde(default)]
    pub direction: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InfoCategory {
    pub name: String,
    pub rows: Vec<Vec<(String, String)>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Surveys {
    #[serde(default)]
    pub customer: Vec<SurveyAnswer>,
    #[serde(default)]
    pub rep: Vec<SurveyAnswer>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SurveyAnswer {
    pub label: String,
    pub answer: String,
}

/// A stored session.
#[derive(Debug, Clone)]
pub struct Session {
    pub lsid: String,
    pub start: DateTime<Utc>,
    /// None while the session is live.
    pub end: Option<DateTime<Utc>>,
    /// The report shows `end_time` only from this moment (report lag).
    pub end_reported_from: Option<DateTime<Utc>>,
    pub external_key: String,
    pub custom: BTreeMap<String, String>,
    pub primary_rep: Option<String>,
    pub body: Body,
    pub surveys: Vec<StoredSurvey>,
}

#[derive(Debug, Clone)]
pub enum Body {
    /// A `<session>` element exactly as posted, with the start tag of the document it came in
    /// (which declares its namespaces).
    Verbatim {
        root: String,
        xml: String,
    },
    Generated(Box<Scenario>),
}

#[derive(Debug, Clone)]
pub struct StoredSurvey {
    pub customer: bool,
    pub submitted: DateTime<Utc>,
    pub xml: String,
}

pub fn new_lsid() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..32).map(|_| char::from_digit(rng.random_range(0..16), 16).unwrap_or('0')).collect()
}

fn ts(d: DateTime<Utc>) -> String {
    d.timestamp().to_string()
}

fn display(d: DateTime<Utc>) -> String {
    d.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
}

fn hms(seconds: i64) -> String {
    let s = seconds.max(0);
    format!("{:02}:{:02}:{:02}", s / 3600, (s % 3600) / 60, s % 60)
}

fn title_case(username: &str) -> String {
    username
        .split(['.', '_'])
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut chars = p.chars();
            chars.next().map(|c| c.to_uppercase().collect::<String>() + chars.as_str()).unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

impl Scenario {
    pub fn rep_name(&self, rep: &ScenarioRep) -> String {
        rep.display_name.clone().unwrap_or_else(|| title_case(&rep.username))
    }

    fn customer_name(&self) -> String {
        if self.customer.name.is_empty() { "Customer".into() } else { self.customer.name.clone() }
    }

    /// Builds the stored session; `now` is when it is created.
    pub fn into_session(self, now: DateTime<Utc>) -> Session {
        let lsid = self.lsid.clone().unwrap_or_else(new_lsid);
        let start = self
            .start_time
            .and_then(|t| Utc.timestamp_opt(t, 0).single())
            .unwrap_or_else(|| default_start(now, self.duration));
        let end = (!self.live).then(|| start + Duration::seconds(self.duration));
        let end_reported_from = end.map(|e| e.max(now) + Duration::milliseconds(self.report_lag_ms as i64));
        let mut session = Session {
            lsid,
            start,
            end,
            end_reported_from,
            external_key: self.external_key.clone(),
            custom: self.custom_attributes.clone(),
            primary_rep: self.reps.first().map(|r| r.username.clone()),
            body: Body::Verbatim { root: String::new(), xml: String::new() },
            surveys: Vec::new(),
        };
        if let Some(end) = end {
            session.surveys = self.render_surveys(&session.lsid, end);
        }
        session.body = Body::Generated(Box::new(self));
        session
    }

    fn render_surveys(&self, lsid: &str, end: DateTime<Utc>) -> Vec<StoredSurvey> {
        let primary = self.reps.first();
        let rep_party = primary
            .map(|r| {
                element("primary_rep", &[("gsnumber", "11"), ("id", &r.id.unwrap_or(1).to_string())], &self.rep_name(r))
            })
            .unwrap_or_default();
        let customer_party = element("primary_customer", &[("gsnumber", "12")], &self.customer_name());
        let mut out = Vec::new();
        for (customer, answers) in [(true, &self.surveys.customer), (false, &self.surveys.rep)] {
            if answers.is_empty() {
                continue;
            }
            let submitted = end;
            let (kind, who) = if customer {
                ("customer", self.customer_name())
            } else {
                ("rep", primary.map(|r| self.rep_name(r)).unwrap_or_default())
            };
            let questions: String = answers
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    format!(
                        "<question id=\"{}\" type=\"text\" name=\"q{}\" label=\"{}\" report_header=\"{}\"><answer_list>{}</answer_list></question>",
                        i + 1,
                        i + 1,
                        escape(&a.label),
                        escape(&a.label),
                        element("answer", &[], &a.answer)
                    )
                })
                .collect();
            let xml = format!(
                "<exit_survey lsid=\"{lsid}\" timestamp=\"{}\">{}{rep_party}{customer_party}<question_list>{questions}</question_list></exit_survey>",
                ts(submitted),
                element("submitted_by", &[("type", kind)], &who),
            );
            out.push(StoredSurvey { customer, submitted, xml });
        }
        out
    }
}

fn default_system_info(customer: &ScenarioCustomer) -> Vec<InfoCategory> {
    let host = customer.hostname.clone().unwrap_or_else(|| "WS-0042".into());
    let os = customer.os.clone().unwrap_or_else(|| "Windows 11 Pro (x64) Version 24H2".into());
    let row = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>();
    vec![
        InfoCategory {
            name: "General".into(),
            rows: vec![row(&[
                ("Computer Name", &host),
                ("Operating System", &os),
                ("Manufacturer", "Dell Inc."),
                ("Model", "Latitude 7440"),
                ("Uptime", "3 days, 4 hours"),
            ])],
        },
        InfoCategory {
            name: "Disk".into(),
            rows: vec![row(&[("Drive", "C:"), ("File System", "NTFS"), ("Size", "476 GB"), ("Free", "112 GB")])],
        },
        InfoCategory { name: "Memory".into(), rows: vec![row(&[("Total", "16 GB"), ("Available", "6.2 GB")])] },
        InfoCategory {
            name: "Network".into(),
            rows: vec![row(&[("Adapter", "Intel Wi-Fi 6E AX211"), ("IPv4", "10.1.4.22"), ("Gateway", "10.1.4.1")])],
        },
    ]
}

impl Session {
    /// The `<session>` element as the Reporting API shows it at `now`.
    pub fn report_xml(&self, now: DateTime<Utc>) -> String {
        match &self.body {
            Body::Verbatim { xml, .. } => xml.clone(),
            Body::Generated(scenario) => self.render(scenario, now),
        }
    }

    /// Ends a live session now: the report shows its end (after any lag) and its surveys exist.
    pub fn finish(&mut self, now: DateTime<Utc>) {
        let Body::Generated(scenario) = &self.body else {
            self.end = Some(now);
            return;
        };
        let lag = Duration::milliseconds(scenario.report_lag_ms as i64);
        self.surveys = scenario.render_surveys(&self.lsid, now);
        self.end = Some(now);
        self.end_reported_from = Some(now + lag);
    }

    /// The start tag of the document a replayed session came in.
    pub fn verbatim_root(&self) -> Option<String> {
        match &self.body {
            Body::Verbatim { root, .. } => Some(root.clone()),
            Body::Generated(_) => None,
        }
    }

    /// Whether the session's end, as the report shows it at `now`, falls in `[start, end)`.
    pub fn ended_within(&self, start: DateTime<Utc>, end: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        self.end_visible(now) && self.end.is_some_and(|e| e >= start && e < end)
    }

    /// Whether the session was recorded (the listing's `has_recording`).
    pub fn has_recording(&self) -> bool {
        matches!(&self.body, Body::Generated(s) if s.recording)
    }

    pub fn end_visible(&self, now: DateTime<Utc>) -> bool {
        self.end.is_some() && self.end_reported_from.is_none_or(|from| now >= from)
    }

    fn render(&self, s: &Scenario, now: DateTime<Utc>) -> String {
        let mut x = String::with_capacity(4096);
        x.push_str(&format!("<session lsid=\"{}\">", self.lsid));
        x.push_str(&element("lseq", &[], "1"));
        x.push_str(&element("session_type", &[], &s.session_type));
        x.push_str(&element("start_time", &[("timestamp", &ts(self.start))], &display(self.start)));
        let shown_end = self.end.filter(|_| self.end_visible(now));
        if let Some(end) = shown_end {
            x.push_str(&element("end_time", &[("timestamp", &ts(end))], &display(end)));
        }
        let elapsed = shown_end.unwrap_or(now) - self.start;
        x.push_str(&element("duration", &[], &hms(elapsed.num_seconds())));
        x.push_str(&element("public_site", &[("id", "1")], &s.public_site));
        x.push_str(&element("external_key", &[], &self.external_key));
        x.push_str("<custom_attributes>");
        for (code, value) in &self.custom {
            x.push_str(&element("custom_attribute", &[("display_name", code), ("code_name", code)], value));
        }
        x.push_str("</custom_attributes>");
        x.push_str(&element(
            "session_chat_view_url",
            &[],
            &format!("https://support.example.com/session_download?lsid={}&dl_action=chat&view=1", self.lsid),
        ));
        x.push_str(&element(
            "session_chat_download_url",
            &[],
            &format!("https://support.example.com/session_download?lsid={}&dl_action=chat", self.lsid),
        ));
        let download = |action: &str| {
            format!("https://support.example.com/session_download?lsid={}&dl_action={action}", self.lsid)
        };
        // BeyondTrust gives recording links only for a session that ended successfully.
        if s.recording && shown_end.is_some() {
            x.push_str(&element("session_recording_view_url", &[], &format!("{}&view=1", download("recording"))));
            x.push_str(&element("session_recording_download_url", &[], &download("recording")));
        }
        if !s.shell_recordings.is_empty() && shown_end.is_some() {
            x.push_str("<command_shell_recordings>");
            for (i, instance) in s.shell_recordings.iter().enumerate() {
                let shell = download(&format!("shell&instance={i}"));
                x.push_str("<command_shell_recording>");
                x.push_str(&element("instance", &[], instance));
                x.push_str(&element("view_url", &[], &format!("{shell}&view=1")));
                x.push_str(&element("download_url", &[], &shell));
                x.push_str("</command_shell_recording>");
            }
            x.push_str("</command_shell_recordings>");
        }
        x.push_str(&element("file_transfer_count", &[], &s.files.len().to_string()));
        let customer = s.customer_name();
        x.push_str(&element("primary_customer", &[("gsnumber", "12")], &customer));
        if let Some(rep) = s.reps.first() {
            x.push_str(&element(
                "primary_rep",
                &[("gsnumber", "11"), ("id", &rep.id.unwrap_or(1).to_string())],
                &s.rep_name(rep),
            ));
        }
        self.render_customer(s, &mut x);
        self.render_reps(s, &mut x, elapsed.num_seconds());
        self.render_events(s, &mut x, shown_end);
        x.push_str("</session>");
        x
    }

    fn render_customer(&self, s: &Scenario, x: &mut String) {
        let c = &s.customer;
        x.push_str("<customer_list><customer gsnumber=\"12\">");
        x.push_str(&element("username", &[], c.username.as_deref().unwrap_or("customer")));
        x.push_str(&element("public_ip", &[], c.public_ip.as_deref().unwrap_or("203.0.113.24:61606")));
        x.push_str(&element("private_ip", &[], c.private_ip.as_deref().unwrap_or("10.1.4.22")));
        x.push_str(&element("hostname", &[], c.hostname.as_deref().unwrap_or("WS-0042")));
        x.push_str(&element("os", &[], c.os.as_deref().unwrap_or("Windows 11 Pro (x64) Version 24H2")));
        x.push_str(&element("primary_cust", &[], "1"));
        x.push_str("<info>");
        for (name, value) in [
            ("name", &c.name),
            ("company", &c.company),
            ("company_code", &c.company_code),
            ("issue", &c.issue),
            ("details", &c.details),
        ] {
            x.push_str(&element(name, &[], value));
        }
        for (code, value) in &c.custom {
            x.push_str(&element(code, &[], value));
        }
        x.push_str("</info></customer></customer_list>");
    }

    fn render_reps(&self, s: &Scenario, x: &mut String, elapsed: i64) {
        x.push_str("<rep_list>");
        for (i, rep) in s.reps.iter().enumerate() {
            let gsnumber = (11 + i * 3).to_string();
            let id = rep.id.unwrap_or(1 + i as u64).to_string();
            x.push_str(&format!("<representative gsnumber=\"{gsnumber}\" id=\"{id}\">"));
            x.push_str(&element("username", &[], &rep.username));
            x.push_str(&element("display_name", &[], &s.rep_name(rep)));
            x.push_str(&element("public_ip", &[], "198.51.100.7:50412"));
            x.push_str(&element("private_ip", &[], "10.0.0.15"));
            x.push_str(&element("hostname", &[], &format!("HELPDESK-{:02}", i + 1)));
            x.push_str(&element("os", &[], "Windows 11 Enterprise"));
            x.push_str(&element("primary_rep", &[], if i == 0 { "1" } else { "0" }));
            let seconds = rep.seconds_involved.unwrap_or(if i == 0 { elapsed } else { elapsed / 3 });
            x.push_str(&element("seconds_involved", &[], &seconds.to_string()));
            x.push_str("</representative>");
        }
        x.push_str("</rep_list>");
    }

    fn render_events(&self, s: &Scenario, x: &mut String, end: Option<DateTime<Utc>>) {
        let span = s.duration.max(1);
        let items = 3 + s.chat.len() + s.notes.len() + s.files.len();
        let step = (span / items as i64).max(1);
        let mut at = self.start;
        let mut next = || {
            at += Duration::seconds(step);
            ts(at)
        };
        let rep = |name: Option<&str>| -> (String, String) {
            let r = name.and_then(|n| s.reps.iter().position(|r| r.username == n)).unwrap_or(0);
            let display = s.reps.get(r).map(|r| s.rep_name(r)).unwrap_or_default();
            ((11 + r * 3).to_string(), display)
        };
        let customer = s.customer_name();
        x.push_str("<session_details>");
        let (g, primary) = rep(None);
        x.push_str(&format!(
            "<event timestamp=\"{}\" event_type=\"Conference Owner Changed\">{}</event>",
            ts(self.start),
            element("destination", &[("gsnumber", &g), ("type", "representative")], &primary)
        ));
        for line in &s.chat {
            let performer = if line.from == "customer" {
                element("performed_by", &[("gsnumber", "12"), ("type", "customer")], &customer)
            } else {
                let (g, name) = rep(if line.from == "rep" { None } else { Some(line.from.as_str()) });
                element("performed_by", &[("gsnumber", &g), ("type", "representative")], &name)
            };
            x.push_str(&format!(
                "<event timestamp=\"{}\" event_type=\"Chat Message\">{performer}{}</event>",
                next(),
                element("body", &[], &line.text)
            ));
        }
        let by_rep = element("performed_by", &[("gsnumber", &g), ("type", "representative")], &primary);
        let categories = s.system_info.clone().unwrap_or_else(|| default_system_info(&s.customer));
        x.push_str(&format!(
            "<event timestamp=\"{}\" event_type=\"System Information Retrieved\">{by_rep}<body>",
            next()
        ));
        for category in &categories {
            x.push_str(&format!("<category name=\"{}\"><data>", escape(&category.name)));
            for row in &category.rows {
                x.push_str("<row>");
                for (id, value) in row {
                    x.push_str(&element("field", &[("id", id)], value));
                }
                x.push_str("</row>");
            }
            x.push_str("</data></category>");
        }
        x.push_str("</body></event>");
        for file in &s.files {
            let event =
                if file.direction.as_deref() == Some("from_customer") { "File Downloaded" } else { "File Transferred" };
            x.push_str(&format!(
                "<event timestamp=\"{}\" event_type=\"{event}\">{by_rep}<data>{}{}</data></event>",
                next(),
                element("value", &[("name", "Filename"), ("value", &file.name)], ""),
                element("value", &[("name", "FileSize"), ("value", &file.size.to_string())], "")
            ));
        }
        for note in &s.notes {
            x.push_str(&format!(
                "<event timestamp=\"{}\" event_type=\"Session Note Added\">{by_rep}{}</event>",
                next(),
                element("body", &[], note)
            ));
        }
        if let Some(end) = end {
            x.push_str(&format!(
                "<event timestamp=\"{}\" event_type=\"Customer Left Session\">{}</event>",
                ts(end),
                element("performed_by", &[("gsnumber", "12"), ("type", "customer")], &customer)
            ));
        }
        x.push_str("</session_details>");
    }

    /// The outbound events for this session's start (begin and joins), in order.
    pub fn start_events(&self, appliance_id: &str) -> Vec<Vec<(String, String)>> {
        let Body::Generated(s) = &self.body else { return Vec::new() };
        let mut events = vec![self.event("support_conference_begin", self.start, appliance_id)];
        let mut customer = self.event("support_conference_member_added", self.start, appliance_id);
        customer.extend(member(
            &s.customer.username.clone().unwrap_or_else(|| "customer".into()),
            "",
            &s.customer_name(),
            "customer",
        ));
        events.push(customer);
        for (i, rep) in s.reps.iter().enumerate() {
            let mut joined = self.event("support_conference_member_added", self.start, appliance_id);
            joined.extend(member(
                &rep.username,
                &rep.id.unwrap_or(1 + i as u64).to_string(),
                &s.rep_name(rep),
                "representative",
            ));
            events.push(joined);
        }
        events
    }

    /// The outbound events for the session's end (departures, end, surveys), in order.
    pub fn end_events(&self, appliance_id: &str) -> Vec<Vec<(String, String)>> {
        let (Body::Generated(s), Some(end)) = (&self.body, self.end) else { return Vec::new() };
        let mut events = Vec::new();
        let mut left = self.event("support_conference_member_departed", end, appliance_id);
        left.extend(member(
            &s.customer.username.clone().unwrap_or_else(|| "customer".into()),
            "",
            &s.customer_name(),
            "customer",
        ));
        events.push(left);
        for (i, rep) in s.reps.iter().enumerate() {
            let mut left = self.event("support_conference_member_departed", end, appliance_id);
            left.extend(member(
                &rep.username,
                &rep.id.unwrap_or(1 + i as u64).to_string(),
                &s.rep_name(rep),
                "representative",
            ));
            events.push(left);
        }
        events.push(self.event("support_conference_end", end, appliance_id));
        for survey in &self.surveys {
            let name = if survey.customer {
                "support_conference_customer_exit_survey_completed"
            } else {
                "support_conference_rep_exit_survey_completed"
            };
            events.push(self.event(name, survey.submitted, appliance_id));
        }
        events
    }

    fn event(&self, name: &str, at: DateTime<Utc>, appliance_id: &str) -> Vec<(String, String)> {
        vec![
            ("event".into(), name.into()),
            ("version".into(), "3".into()),
            ("timestamp".into(), ts(at)),
            ("lsid".into(), self.lsid.clone()),
            ("external_key".into(), self.external_key.clone()),
            ("appliance_id".into(), appliance_id.into()),
        ]
    }
}

fn member(username: &str, user_id: &str, display_name: &str, kind: &str) -> Vec<(String, String)> {
    vec![
        ("username".into(), username.into()),
        ("user_id".into(), user_id.into()),
        ("display_name".into(), display_name.into()),
        ("type".into(), kind.into()),
        ("conference_name".into(), "Support Session".into()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_without_a_start_ends_now_unless_that_crosses_utc_midnight() {
        let at = |h, m| Utc.with_ymd_and_hms(2026, 12, 8, h, m, 0).unwrap();
        assert_eq!(default_start(at(14, 0), 600), at(13, 50), "in the day: the last ten minutes");
        assert_eq!(default_start(at(0, 10), 600), at(0, 0), "from midnight exactly: still today");
        let shifted = default_start(at(0, 4), 600);
        let end = shifted + Duration::seconds(600);
        assert_eq!(end, at(0, 0) - Duration::seconds(1), "across midnight: ends just before it");
        assert_eq!(shifted.date_naive(), end.date_naive());
    }
}
