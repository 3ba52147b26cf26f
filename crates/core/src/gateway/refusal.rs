//! Why a desk request was not served, answered in one place: the status, what to do, counted in
//! `/metrics` and logged with the address — never with the token.

use std::net::IpAddr;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::limits::{self, Wait};

/// Why a request was not served.
#[derive(Debug)]
pub enum Refusal {
    /// No rep token, or one no enrolled rep holds (unknown, replaced or revoked): told apart to
    /// no one.
    Token,
    /// A code that is not a working one.
    Code,
    /// Too many wrong tokens or codes from the request's address.
    Slowed(Wait),
    /// The rep asked more than their share.
    Limited(Wait),
    /// The rep's searches of Autotask itself used their hourly budget (the budget an hour).
    AutotaskBudget(Wait, u32),
    /// The rep's profile serves no desk (any more).
    NotServed(String),
    Store(String),
}

impl Refusal {
    fn reason(&self) -> &'static str {
        match self {
            Refusal::Token => "token",
            Refusal::Code => "code",
            Refusal::Slowed(_) => "slowed",
            Refusal::Limited(_) => "limited",
            Refusal::AutotaskBudget(..) => "autotask_budget",
            Refusal::NotServed(_) => "not_served",
            Refusal::Store(_) => "store",
        }
    }

    /// The answer, counted, and logged — at most once a minute for each reason, with how many.
    pub fn answer(self, address: IpAddr) -> Response {
        crate::metrics::global().desk_refused(self.reason());
        if let Some(count) = crate::serve::said::due(self.reason()) {
            tracing::warn!(reason = self.reason(), %address, count, "refused desk request(s) (the count is since this was last said)");
        }
        let enrol = "enrol this app with the link your desk's administrator sends you (bt-autotask-worker rep add <your username>)";
        let (status, said, wait) = match self {
            Refusal::Token => (
                StatusCode::UNAUTHORIZED,
                format!(
                    "this worker serves enrolled reps only, and this app's rep token is missing, unknown, replaced or revoked: {enrol}"
                ),
                None,
            ),
            Refusal::Code => (
                StatusCode::UNAUTHORIZED,
                format!(
                    "this enrolment code does not work (codes work once, until they expire); ask for a new link: {enrol}"
                ),
                None,
            ),
            Refusal::Slowed(wait) => (
                StatusCode::TOO_MANY_REQUESTS,
                format!("too many wrong tokens or codes came from this address; try again in {} s", wait.seconds()),
                Some(wait),
            ),
            Refusal::Limited(wait) => (
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "this app asked more than a rep's share ({} requests at once, {} a second, {} session keys a minute); try again in {} s",
                    limits::REQUESTS_BURST,
                    limits::REQUESTS_PER_SECOND,
                    60 / limits::KEY_EVERY.as_secs(),
                    wait.seconds()
                ),
                Some(wait),
            ),
            Refusal::AutotaskBudget(wait, per_hour) => (
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "you searched Autotask itself more than a rep's share ({per_hour} an hour, so the desk keeps Autotask's hourly limit for everyone); searches the desk's copy answers still work, and Autotask can be searched again in {} s",
                    wait.seconds()
                ),
                Some(wait),
            ),
            Refusal::NotServed(profile) => (
                StatusCode::NOT_FOUND,
                format!("profile '{profile}' of this worker serves no desk any more; ask your desk's administrator"),
                None,
            ),
            Refusal::Store(e) => {
                (StatusCode::SERVICE_UNAVAILABLE, format!("the desk's worker could not read its store: {e}"), None)
            }
        };
        let mut response = (status, said).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(wait) = wait {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait.seconds()));
        }
        response
    }
}
