//! The tray app's side of the desk's worker: waits there for changes to the rep's tickets (one
//! long request at a time, no Autotask request at all), searches there, and — for an enrolled
//! profile — makes session keys and reads and acts on the rep's own Activity and sessions without
//! a ticket there. It keeps what the worker last said about writing the desk's sessions, so the
//! app knows whether its embedded worker should stand down. Every request shows the rep's token.
//! A desk of several workers gives the app each address: a request that finds its worker gone (no
//! connection within 5 s, or a balancer's 502–504) goes to the next at once, and the app stays
//! there; the desk's changes are numbered in its store, so the watch goes on there from its cursor.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use url::Url;

/// How a request is made, as far as trying it at another worker is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Get,
    Post,
}

use crate::Secret;
use crate::desk_api::{
    ACTIVITY_PATH, ATTACH_PATH, Answer, DISMISS_PATH, DeskChange, KeyAnswer, PATH, RETRY_PATH, SEARCH_PATH,
    SESSION_KEY_PATH, Threshold, TicketRow, UNLINKED_PATH,
};
use crate::store::{Activity, UnlinkedSession};

/// Longest a search at the desk's worker may take before the app searches by itself.
const SEARCH_TIMEOUT: Duration = Duration::from_secs(15);

/// Why the desk's worker gave no changes.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LinkError {
    #[error("the desk's worker at {url} cannot be reached ({why})")]
    Unreachable { url: String, why: String },
    #[error(
        "the desk's worker at {url} refused this app's rep token (unknown, replaced or revoked); enrol again with the link your desk's administrator sends"
    )]
    Refused { url: String },
    #[error("the desk's worker at {url} serves no desk watch for appliance '{appliance}': {said}")]
    NotServed { url: String, appliance: String, said: String },
    #[error("the desk's worker at {url} asks this app to wait: {said}")]
    Limited { url: String, said: String },
    #[error("the desk's worker at {url} answered {status}: {said}")]
    Unexpected { url: String, status: u16, said: String },
}

impl LinkError {
    /// What a rep reads — what happened and what still works — and, apart, the technical cause.
    pub fn in_words(&self) -> (String, Option<String>) {
        match self {
            LinkError::Unreachable { url, why } => (
                format!(
                    "Your desk's worker ({url}) cannot be reached just now, so tickets cannot be searched. Still working: \
                     a whole ticket number (like T20261124.0042) opens that ticket in Autotask, and tickets already \
                     listed still Jump and make a session key through the rep console."
                ),
                Some(why.clone()),
            ),
            LinkError::Refused { .. } => (
                "Your desk's worker no longer knows this app: its enrolment was revoked or replaced. Ask your desk \
                 lead for a new enrolment link, and open it on this computer."
                    .to_owned(),
                None,
            ),
            LinkError::Limited { said, .. } => (capitalised(said), None),
            other => (capitalised(&other.to_string()), None),
        }
    }
}

/// Who writes this profile's finished sessions, as far as the app knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Writer {
    /// The desk's worker: the app's embedded worker stands down.
    DeskWorker,
    /// The app's embedded worker, and why.
    ThisApp { why: String },
}

/// What the desk's worker answered: the changes, and its threshold reading.
#[derive(Debug, Clone, Default)]
pub struct Told {
    pub changes: Vec<DeskChange>,
    pub threshold: Option<Threshold>,
}

/// A tray app's connection to its desk's worker, for one profile.
#[derive(Debug)]
pub struct DeskLink {
    http: reqwest::Client,
    /// The desk's workers, in the order they are tried.
    workers: Vec<Url>,
    /// The one in use: the last that answered.
    current: std::sync::atomic::AtomicUsize,
    appliance: String,
    token: Secret,
    takeover_after: Duration,
    /// An enrolled profile: the worker is the only writer, and the app has nothing to fall back on.
    enrolled: bool,
    state: Mutex<LinkState>,
}

#[derive(Debug)]
struct LinkState {
    cursor: Option<String>,
    /// Whether the worker said it writes the sessions, at its last answer.
    writes_sessions: bool,
    answered: Option<Instant>,
    /// Since when requests fail (counted from the app's start when none ever succeeded).
    failing_since: Option<Instant>,
    last_error: Option<LinkError>,
    /// The rep's Autotask resource, as the worker knows them by their token.
    me: Option<i64>,
}

impl DeskLink {
    /// `workers` are the desk's workers' listeners (`https://desk-server:8180`), the first tried
    /// first; `appliance` the profile's appliance id, as the worker's profile has it; `pin` the
    /// workers' certificate the enrolment link named (trusted besides what the OS trusts).
    pub fn new(
        workers: Vec<Url>,
        appliance: &str,
        token: Secret,
        takeover_after: Duration,
        pin: Option<&str>,
        enrolled: bool,
    ) -> Result<DeskLink, String> {
        if workers.is_empty() {
            return Err("no desk's worker is named (desk_worker_url)".to_owned());
        }
        for url in &workers {
            if url.cannot_be_a_base() {
                return Err(format!("the desk's worker '{url}' cannot be used: it is not a web address"));
            }
        }
        let http = super::trust::desk_client(pin, client_builder())?;
        Ok(DeskLink {
            http,
            workers,
            current: Default::default(),
            appliance: appliance.to_owned(),
            token,
            takeover_after,
            enrolled,
            state: Mutex::new(LinkState {
                cursor: None,
                writes_sessions: false,
                answered: None,
                failing_since: Some(Instant::now()),
                last_error: None,
                me: None,
            }),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, LinkState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The address of the worker in use, for Settings.
    pub fn worker(&self) -> String {
        self.origin(self.current.load(std::sync::atomic::Ordering::Relaxed))
    }

    fn origin(&self, worker: usize) -> String {
        self.workers.get(worker).map(|u| u.origin().ascii_serialization()).unwrap_or_default()
    }

    /// Waits up to `wait` for changes to the desk's tickets. The first request (and the first
    /// after [`DeskLink::start_afresh`]) only learns where to go on from.
    pub async fn changes(&self, wait: Duration) -> Result<Told, LinkError> {
        let result = self.ask(wait).await;
        let mut state = self.state();
        match result {
            Ok(answer) => {
                state.cursor = Some(answer.cursor);
                state.writes_sessions = answer.writes_sessions;
                state.answered = Some(Instant::now());
                state.failing_since = None;
                state.last_error = None;
                state.me = answer.me.or(state.me);
                Ok(Told { changes: answer.changes, threshold: answer.threshold })
            }
            Err(e) => {
                state.failing_since.get_or_insert_with(Instant::now);
                state.last_error = Some(e.clone());
                Err(e)
            }
        }
    }

    async fn ask(&self, wait: Duration) -> Result<Answer, LinkError> {
        let cursor = self.state().cursor.clone();
        let mut query = vec![("appliance", self.appliance.clone()), ("wait", wait.as_secs().to_string())];
        query.extend(cursor.map(|c| ("after", c)));
        self.get(PATH, &query, wait + Duration::from_secs(15)).await
    }

    /// Searches as the rep typed `text` at the desk's worker, with its lookups shared by the desk;
    /// `me` is the rep's resource id and `recent` their last tickets, for "my open tickets".
    pub async fn search(
        &self,
        text: &str,
        me: Option<i64>,
        recent: &[i64],
        everywhere: bool,
    ) -> Result<Vec<TicketRow>, LinkError> {
        let recent: Vec<String> = recent.iter().map(i64::to_string).collect();
        let mut query =
            vec![("appliance", self.appliance.clone()), ("q", text.to_owned()), ("recent", recent.join(","))];
        if everywhere {
            query.push(("all", "true".to_owned()));
        }
        query.extend(me.map(|me| ("me", me.to_string())));
        self.get(SEARCH_PATH, &query, SEARCH_TIMEOUT).await
    }

    /// The rep's Autotask resource, as the worker last said.
    pub fn me(&self) -> Option<i64> {
        self.state().me
    }

    /// A session key for `ticket_id` in the rep's own queue, made by the worker.
    pub async fn session_key(&self, ticket_id: i64) -> Result<KeyAnswer, LinkError> {
        let body = serde_json::json!({"ticket": ticket_id});
        self.send(Method::Post, SESSION_KEY_PATH, |r| r.json(&body), SEARCH_TIMEOUT).await
    }

    /// The rep's own activity at the worker, the newest first.
    pub async fn activity(&self) -> Result<Vec<Activity>, LinkError> {
        self.send(Method::Get, ACTIVITY_PATH, |r| r, SEARCH_TIMEOUT).await
    }

    /// The rep's own sessions without a ticket at the worker.
    pub async fn unlinked(&self) -> Result<Vec<UnlinkedSession>, LinkError> {
        self.send(Method::Get, UNLINKED_PATH, |r| r, SEARCH_TIMEOUT).await
    }

    /// Attaches one of the rep's sessions to a ticket (an id, a number, or `new`).
    pub async fn attach(&self, lsid: &str, ticket: &str) -> Result<(), LinkError> {
        let body = serde_json::json!({"session": lsid, "ticket": ticket});
        self.send_empty(ATTACH_PATH, &body).await
    }

    /// Dismisses one of the rep's sessions without a ticket as not billable.
    pub async fn dismiss(&self, lsid: &str) -> Result<(), LinkError> {
        self.send_empty(DISMISS_PATH, &serde_json::json!({"session": lsid})).await
    }

    /// Runs one of the rep's failed jobs again.
    pub async fn retry(&self, job: i64) -> Result<(), LinkError> {
        self.send_empty(RETRY_PATH, &serde_json::json!({"job": job})).await
    }

    /// One request to the worker, its refusals told apart.
    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
        timeout: Duration,
    ) -> Result<T, LinkError> {
        self.send(Method::Get, path, |r| r.query(query), timeout).await
    }

    async fn send_empty(&self, path: &str, body: &serde_json::Value) -> Result<(), LinkError> {
        let (response, _) = self.respond(Method::Post, path, |r| r.json(body), SEARCH_TIMEOUT).await?;
        drop(response);
        Ok(())
    }

    async fn send<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        with: impl Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
        timeout: Duration,
    ) -> Result<T, LinkError> {
        let (response, url) = self.respond(method, path, with, timeout).await?;
        response.json::<T>().await.map_err(|e| LinkError::Unreachable { url, why: in_words(e) })
    }

    /// The answer of the worker in use, or of the next that answers when it does not (a `POST`
    /// goes to the next only when its worker could not be reached at all, so it is never carried
    /// out twice); else what went wrong, in words. With the answer, the worker that gave it.
    async fn respond(
        &self,
        method: Method,
        path: &str,
        with: impl Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
        timeout: Duration,
    ) -> Result<(reqwest::Response, String), LinkError> {
        use std::sync::atomic::Ordering;
        let first = self.current.load(Ordering::Relaxed);
        let mut gone = Vec::new();
        // A connection kept from an earlier request that broke under this one (its worker died
        // behind a balancer) is tried once more, on a new connection, before the next address.
        let mut broken_once = false;
        let (response, url) = loop {
            let worker = (first + gone.len()) % self.workers.len();
            let url = self.origin(worker);
            let mut at = self.workers[worker].clone();
            at.set_path(path);
            at.set_query(None);
            let request = match method {
                Method::Get => self.http.get(at),
                Method::Post => self.http.post(at),
            };
            let sent = with(request).bearer_auth(self.token.expose()).timeout(timeout).send().await;
            let last = gone.len() + 1 == self.workers.len();
            match sent {
                Err(e) if method == Method::Get && !broken_once && !e.is_connect() && !e.is_timeout() => {
                    broken_once = true;
                    tracing::debug!(worker = %url, "a request to the desk's worker broke ({}); trying again", in_words(e));
                }
                Ok(response) if last || !matches!(response.status().as_u16(), 502..=504) => break (response, url),
                Ok(response) => gone.push((url, format!("it answered {}", response.status()))),
                Err(e) if !last && (method == Method::Get || e.is_connect()) => gone.push((url, in_words(e))),
                Err(e) => {
                    gone.push((url, in_words(e)));
                    let (url, why) = gone.iter().map(|(u, w)| (u.as_str(), w.as_str())).unzip::<_, _, Vec<_>, Vec<_>>();
                    let e = LinkError::Unreachable { url: url.join(", "), why: why.join("; ") };
                    // Settings says so, whichever request found it out.
                    let mut state = self.state();
                    state.failing_since.get_or_insert_with(Instant::now);
                    state.last_error = Some(e.clone());
                    return Err(e);
                }
            }
        };
        let worker = (first + gone.len()) % self.workers.len();
        if worker != first {
            self.current.store(worker, Ordering::Relaxed);
            tracing::warn!(from = %self.origin(first), to = %url, "the desk's worker did not answer; this app uses the next");
        }
        let status = response.status();
        if status.is_success() {
            return Ok((response, url));
        }
        let said: String = response.text().await.unwrap_or_default().chars().take(300).collect();
        Err(match status.as_u16() {
            401 | 403 => LinkError::Refused { url },
            404 => LinkError::NotServed { url, appliance: self.appliance.clone(), said },
            429 => LinkError::Limited { url, said },
            code => LinkError::Unexpected { url, status: code, said },
        })
    }

    /// Whether the worker answered the last request.
    pub fn answering(&self) -> bool {
        let state = self.state();
        state.answered.is_some() && state.failing_since.is_none()
    }

    /// Forgets the cursor: after the app watched by itself a while, the worker's changes of
    /// meanwhile were told already.
    pub fn start_afresh(&self) {
        self.state().cursor = None;
    }

    /// Who writes the profile's sessions now: the desk's worker while it answers that it does
    /// (and for `takeover_after` once it stops answering, or after the app starts, so that a
    /// worker restarting is not taken over at once); the app when the worker says it does not,
    /// refuses the app, or has not answered for longer.
    pub fn writer(&self) -> Writer {
        if self.enrolled {
            return Writer::DeskWorker;
        }
        let state = self.state();
        let why = match (&state.last_error, state.failing_since) {
            (Some(e @ (LinkError::Refused { .. } | LinkError::NotServed { .. })), _) => e.to_string(),
            (_, Some(since)) if since.elapsed() >= self.takeover_after => {
                format!("the desk's worker at {} has not answered for {} min", self.worker(), minutes(since.elapsed()))
            }
            (_, None) if !state.writes_sessions => {
                format!("the desk's worker at {} does not write this profile's sessions", self.worker())
            }
            _ => return Writer::DeskWorker,
        };
        Writer::ThisApp { why }
    }

    /// Who writes the sessions and how the tickets are watched, in a sentence for Settings.
    pub fn said(&self) -> String {
        let takeover = minutes(self.takeover_after);
        let (answered, last_error, failing) = {
            let state = self.state();
            (state.answered, state.last_error.clone(), state.failing_since.is_some())
        };
        if self.enrolled {
            return match (failing, last_error) {
                (true, Some(e)) => format!(
                    "{}. Meanwhile a session key opens the rep console's own dialog, tied to the ticket; Jump and opening \
                     a ticket by its number work; search comes back with the worker.",
                    capitalised(&e.to_string())
                ),
                _ => format!(
                    "The desk's worker at {} writes your sessions, watches your tickets, searches and makes your session \
                     keys; this app holds no API credential, only your rep token.",
                    self.worker()
                ),
            };
        }
        match (self.writer(), answered) {
            (Writer::DeskWorker, Some(_)) => format!(
                "The desk's worker at {} writes your sessions, watches your tickets and searches for you; this app's own worker stands \
                 down, and takes over should the desk's worker not answer for {takeover} min.",
                self.worker()
            ),
            (Writer::DeskWorker, None) => {
                let waiting = match last_error {
                    Some(e) => format!("{}{}", capitalised(&e.to_string()), "."),
                    None => format!("Waiting for the first answer of the desk's worker at {}.", self.worker()),
                };
                format!(
                    "{waiting} This app's own worker stands down, and takes over after {takeover} min without an answer."
                )
            }
            (Writer::ThisApp { why }, _) => format!("This app writes your sessions: {why}."),
        }
    }
}

/// The HTTP client's settings for the desk's worker.
fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        // The worker lists each rep's app version.
        .user_agent(concat!("bt-autotask/", env!("CARGO_PKG_VERSION")))
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

fn minutes(d: Duration) -> u64 {
    d.as_secs().div_ceil(60)
}

/// A transport error in words, without the URL (which carries the query).
fn in_words(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut words = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        words = format!("{words}: {s}");
        source = s.source();
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Reads one request head from `stream` (this test's requests have no body).
    async fn request(stream: &mut tokio::net::TcpStream) -> bool {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            match stream.read(&mut byte).await {
                Ok(1) => head.push(byte[0]),
                _ => return false,
            }
        }
        true
    }

    async fn answer(stream: &mut tokio::net::TcpStream) {
        let body = r#"{"cursor":"1.0","changes":[],"writes_sessions":true,"every_seconds":30}"#;
        let said = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(said.as_bytes()).await.unwrap_or_else(|e| panic!("{e}"));
    }

    /// A balancer whose worker died under a kept connection: the next request on it is read and
    /// the connection closed unanswered. The app asks again on a new connection, once.
    #[tokio::test]
    async fn a_request_on_a_kept_connection_that_breaks_is_asked_again_on_a_new_one() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("{e}"));
        let url = Url::parse(&format!("http://{}/", listener.local_addr().unwrap_or_else(|e| panic!("{e}"))))
            .unwrap_or_else(|e| panic!("{e}"));
        tokio::spawn(async move {
            let (mut kept, _) = listener.accept().await.unwrap_or_else(|e| panic!("{e}"));
            assert!(request(&mut kept).await);
            answer(&mut kept).await;
            assert!(request(&mut kept).await, "the second request came on the kept connection");
            drop(kept);
            let (mut fresh, _) = listener.accept().await.unwrap_or_else(|e| panic!("{e}"));
            while request(&mut fresh).await {
                answer(&mut fresh).await;
            }
        });
        let link = DeskLink::new(vec![url], "default", Secret::new("t"), Duration::from_secs(60), None, true)
            .unwrap_or_else(|e| panic!("{e}"));
        link.changes(Duration::ZERO).await.unwrap_or_else(|e| panic!("{e}"));
        link.changes(Duration::ZERO).await.unwrap_or_else(|e| panic!("asked again: {e}"));
    }
}
